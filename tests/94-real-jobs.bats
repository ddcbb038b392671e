#!/usr/bin/env bats
# Jobs of real work (issue 18): /work with Prefer: respond-async kept as
# a job, run later in the one FIFO order, its answer kept byte for byte
# (GET /jobs/{id}/result); progress from the program's fd 3; a cancel
# that stops a running program, from any responder or host; a bound on
# what such jobs keep; and a job store whose schema is versioned: one
# made by 0.5.0 (tests/fixtures/store-v1.sql) is upgraded once, a newer
# one refused. Real nginx, real responders, real programs.

load helper
load work

setup() {
	LOG=$BATS_TEST_TMPDIR/run/private/work.log
	CLIENTS=$BATS_TEST_TMPDIR/clients
	work_dirs
	real_program
}

teardown() {
	stack_down
	hosts_down
	engine_down
}

# The program of these tests, by the first part of PATH_INFO (the last
# part is the request's X-Request-Id, as get() sends it). gate NAME
# waits (30 s at most) until the test makes STATE/NAME: a program under
# way stays so until the test says, however loaded the machine.
real_program() {
	program real <<-'EOF'
	#!/bin/sh
	state=${0%/*}/../state
	gate() {
		i=0
		while [ ! -e "$state/$1" ] && [ $i -lt 600 ]; do
			sleep 0.05
			i=$((i + 1))
		done
	}
	what=${PATH_INFO#/}
	case ${what%%/*} in
	echo)	printf 'Status: 201 Created\nContent-Type: application/octet-stream\nX-Echo: %s %s\n\n' \
			"$REQUEST_METHOD" "$QUERY_STRING"
		exec cat ;;
	env)	printf 'Content-Type: text/plain\n\n'
		tr '\0' '\n' </proc/$$/environ ;;
	slow)	sleep 0.2
		printf 'Content-Type: text/plain\n\n%s\n' "$SERIALCGI_REQUEST_ID" ;;
	progress)
		echo "0.25 a quarter, said $SERIALCGI_PROGRESS_FD" >&3
		gate half
		echo 0.75 >&3
		gate done
		printf 'Content-Type: text/plain\n\ndone\n' ;;
	silent)
		gate done
		printf 'Content-Type: text/plain\n\nno progress said\n' ;;
	stubborn)
		# Its own pid, a grandchild in a session of its own that
		# ignores SIGTERM (SIGKILL ends it), and a child; and a
		# part of its answer before it waits.
		echo $$ >>"$state/pids"
		setsid sh -c 'trap "" TERM; exec sleep 1000.1' \
			</dev/null >/dev/null 2>&1 &
		echo $! >>"$state/pids"
		sleep 1000.2 &
		echo $! >>"$state/pids"
		printf 'Content-Type: text/plain\n\nso far\n'
		echo "0.1 begun" >&3
		wait ;;
	check)	printf 'Content-Type: text/plain\n\n'
		for p in $(cat "$state/pids"); do
			[ ! -d /proc/$p ] || echo "alive: $p"
		done
		echo checked ;;
	*)	printf 'Content-Type: text/plain\n\n%s\n' "$PATH_INFO" ;;
	esac
	EOF
}

# work_up [VAR=value...]: a stack running BIN/real, its work log LOG;
# restart starts it again with the same settings, run directory, port.
work_up() {
	UP_ARGS=(WORK_LOG="$LOG" WORK_COMMAND="$BIN/real" "$@")
	stack_up "$BATS_TEST_TMPDIR" "${UP_ARGS[@]}"
}
restart() {
	env RUN_DIR="$RUN" PORT="$PORT" "${UP_ARGS[@]}" "$STACK" up \
		>"$BATS_TEST_TMPDIR/restart.out" 2>&1 || {
		cat "$BATS_TEST_TMPDIR/restart.out" >&2
		return 1
	}
}

# async PATH [CURL ARGS...]: get with Prefer: respond-async; sets JOB,
# the new job's id (empty if none).
async() {
	get "$@" -H 'Prefer: respond-async'
	JOB=$(jq -r '.id // empty' "$B" 2>/dev/null || true)
}

# answer CURL ARGS...: body and status on one line.
answer() { curl -s -w ' %{http_code}' "$@" | tr -d '\n'; }

# job_is ID JQ: job ID, as the monitor shows it now, satisfies JQ.
job_is() { job "$1" | jq -e "$2" >/dev/null; }

# until_job ID JQ [SECONDS]: until job ID satisfies JQ (default within
# 10 s), or fail showing it.
until_job() {
	until_ok "${3:-10}" "job $1 with $2" job_is "$1" "$2" || {
		echo "job $1: $(job "$1")" >&2
		return 1
	}
}

# result ID: GET /jobs/ID/result; sets CODE, H and B.
result() {
	H=$BATS_TEST_TMPDIR/result.h B=$BATS_TEST_TMPDIR/result.body
	CODE=$(curl -s -m 30 -D "$H" -o "$B" -w '%{http_code}' \
		"$URL/jobs/$1/result")
}

# its_head FILE: the fields of a head that its program made, sorted,
# without those nginx and the responder add to any answer.
its_head() {
	tr -d '\r' <"$1" | awk -F': ' 'NR == 1 { print; next }
		NF > 1 && tolower($1) !~ /^(date|server|connection|keep-alive|transfer-encoding|content-length|x-request-id|server-timing)$/' |
		sort
}

# pids_listed N: the program has written N pids.
pids_listed() { (($(wc -l <"$STATE/pids" 2>/dev/null || echo 0) >= $1)); }

# order: the ids of the work log in the order their works started.
order() {
	awk '$1 == "start" { print $2, $4 }' "$LOG" | sort -n |
		awk '{ printf "%s ", $2 }'
}

# ---- submit, result ---------------------------------------------------

@test "async /work: 202 with Location and Preference-Applied; the program sees the request and its job; Idempotency-Key replays, 422 otherwise" {
	work_up PROCESSES=2 WORK_SECONDS=0.1
	get '/work/env/sub1?a=1&b=%20' -X POST --data-binary 'the body' \
		-H 'Content-Type: text/x-test' -H 'X-Custom: yes' \
		-H 'Prefer: return=minimal, respond-async'
	JOB=$(jq -r .id "$B")
	assert_equal "$CODE" 202
	[[ $JOB =~ ^[0-9a-f]{32}$ ]]
	assert_equal "$(header Location)" "/jobs/$JOB"
	assert_equal "$(header Preference-Applied)" respond-async
	assert_equal "$(header Retry-After)" 1
	run jq -r '"\(.status) \(.kind)"' "$B"
	assert_output 'queued work'
	id=$JOB
	body=$(until_status "$id" succeeded)
	run jq -r '"\(.exit_status) \(.answer.status) \(.answer.content_type) \(.answer.partial) \(.answer.url)"' <<<"$body"
	assert_output "0 200 text/plain false /jobs/$id/result"
	jq -e '.result.elapsed >= .result.work and .progress == null' <<<"$body"
	# The program ran with the request's environment, its body on
	# stdin, and the job's own variables.
	result "$id"
	assert_equal "$CODE" 200
	assert_equal "$(header Content-Type)" text/plain
	grep -qx 'REQUEST_METHOD=POST' "$B"
	grep -qx 'PATH_INFO=/env/sub1' "$B"
	grep -qx 'QUERY_STRING=a=1&b=%20' "$B"
	grep -qx 'CONTENT_LENGTH=8' "$B"
	grep -qx 'CONTENT_TYPE=text/x-test' "$B"
	grep -qx 'HTTP_X_CUSTOM=yes' "$B"
	grep -qx "SERIALCGI_JOB_ID=$id" "$B"
	grep -qx 'SERIALCGI_PROGRESS_FD=3' "$B"
	grep -qx 'SERIALCGI_REQUEST_ID=sub1' "$B"
	# The preference applied here is not asked of the program again;
	# the others are.
	grep -qx 'HTTP_PREFER=return=minimal' "$B"
	assert_equal "$(jq -r .answer.size <<<"$body")" \
		"$(($(wc -c <"$B") + $(printf 'Content-Type: text/plain\n\n' | wc -c)))"
	# Idempotency-Key: the same request replays the job, before and
	# after it ran; another body, URI or type is 422.
	key=(-H 'Idempotency-Key: "real-17"')
	async /work/echo/key -X POST --data-binary one "${key[@]}"
	assert_equal "$CODE" 202
	k=$JOB
	async /work/echo/key -X POST --data-binary one "${key[@]}"
	assert_equal "$CODE" 202
	assert_equal "$JOB" "$k"
	assert_equal "$(header Idempotent-Replayed)" true
	assert_equal "$(header Preference-Applied)" respond-async
	for other in "/work/echo/key -X POST --data-binary two" \
		"/work/echo/x/key -X POST --data-binary one" \
		"/work/echo/key -X PUT --data-binary one" \
		"/work/echo/key -X POST --data-binary one -H Content-Type:text/x-other"; do
		# shellcheck disable=SC2086
		async $other "${key[@]}"
		assert_equal "$CODE" 422
		run jq -r .error "$B"
		assert_output 'Idempotency-Key: already used with another body'
	done
	until_status "$k" succeeded >/dev/null
	async /work/echo/key -X POST --data-binary one "${key[@]}"
	assert_equal "$CODE $JOB" "202 $k"
	run jq -r .status "$B"
	assert_output succeeded
	assert_equal "$(starts "$k")" 1
	# A callback URL that is none: 400, nothing queued.
	async /work/echo/cb1 -H 'Serialcgi-Callback-Url: not a url'
	assert_equal "$CODE" 400
	assert_equal "$(grep -c '^start' "$LOG")" 2
	# Unknown ids: 404 for the job and its result.
	result 0123456789abcdef0123456789abcdef
	assert_equal "$CODE" 404
	run jq -r .error "$B"
	assert_output 'no such job'
}

@test "a 1 MiB binary body async, the stack stopped and started mid-queue: the result's bytes are a sync call's answer" {
	work_up PROCESSES=2 WORK_SECONDS=1 WORK_OUTPUT_MAX=2097152
	in=$BATS_TEST_TMPDIR/in
	head -c 1048576 /dev/urandom >"$in"
	# The queue held: a job of the sleep whose process is frozen, and
	# another behind it, then the body.
	hold=$(submit)
	running_frozen "$hold"
	until_status "$hold" running 5 >/dev/null
	behind=$(submit)
	async '/work/echo/big?q=1' -X PUT --data-binary "@$in" \
		-H 'Content-Type: application/x-test'
	assert_equal "$CODE" 202
	big=$JOB
	run jq -r .status "$B"
	assert_output queued
	# Its result before it is final: 409, Retry-After.
	result "$big"
	assert_equal "$CODE" 409
	assert_equal "$(header Retry-After)" 1
	run jq -r .error "$B"
	assert_output 'job is queued: its result comes when it is final'
	stack_down
	run job_in_db "$big"
	assert_output queued
	restart
	body=$(until_status "$big" succeeded 20)
	assert_equal "$(starts "$big")" 1
	assert_equal "$(starts "$behind")" 1
	# The same request, synchronous.
	get '/work/echo/sync?q=1' -X PUT --data-binary "@$in" \
		-H 'Content-Type: application/x-test'
	assert_equal "$CODE" 201
	sync_h=$H sync_b=$B
	result "$big"
	assert_equal "$CODE" 201
	cmp "$B" "$sync_b"
	cmp "$B" "$in"
	run diff <(its_head "$H") <(its_head "$sync_h")
	assert_success
	assert_equal "$(header X-Echo)" 'PUT q=1'
	head_len=$(printf 'Status: 201 Created\nContent-Type: application/octet-stream\nX-Echo: PUT q=1\n\n' | wc -c)
	run jq -r '"\(.answer.status) \(.answer.content_type) \(.answer.size) \(.answer.partial)"' <<<"$body"
	assert_output "201 application/octet-stream $((1048576 + head_len)) false"
	# One byte more than 1 MiB: 413, and no job.
	head -c 1 /dev/zero >>"$in"
	async /work/echo/over -X PUT --data-binary "@$in"
	assert_equal "$CODE" 413
	assert_equal "$JOB" ""
	no_overlap
}

@test "/work sync, /work async, /test and POST /jobs interleaved 5 ms apart: one FIFO order, no overlap" {
	work_up PROCESSES=4 WORK_SECONDS=0.2
	# One process sends them all, on connections opened beforehand:
	# the send order is the arrival order, 5 ms apart.
	perl -MIO::Socket::INET -MTime::HiRes=sleep -e '
		my ($port, @reqs) = @ARGV;
		my @s = map { IO::Socket::INET->new("127.0.0.1:$port")
		    or die "connect: $!\n" } @reqs;
		for my $i (0 .. $#reqs) {
			my ($m, $p, $id, $async) = split / /, $reqs[$i];
			$s[$i]->syswrite("$m $p HTTP/1.1\r\nHost: x\r\n" .
			    "X-Request-Id: $id\r\nContent-Length: 0\r\n" .
			    ($async ? "Prefer: respond-async\r\n" : "") .
			    "Connection: close\r\n\r\n");
			sleep 0.005;
		}
		for my $i (0 .. $#reqs) {
			local $/; my $a = readline($s[$i]);
			my ($code) = $a =~ m{^HTTP/1.1 (\d+)};
			my ($job) = $a =~ m{"id":"([0-9a-f]{32})"};
			print "$code ", $job // (split / /, $reqs[$i])[2], "\n";
		}' "$PORT" "GET /work/slow w1" "POST /work/slow a1 async" \
		"GET /test t1" "POST /jobs j1" "GET /work/slow w2" \
		"POST /work/slow a2 async" "GET /test t2" "POST /jobs j2" \
		>"$BATS_TEST_TMPDIR/answers"
	run awk '{ print $1 }' "$BATS_TEST_TMPDIR/answers"
	assert_output "$(printf '%s\n' 200 202 200 202 200 202 200 202)"
	want=$(awk '{ printf "%s ", $2 }' "$BATS_TEST_TMPDIR/answers")
	for id in $(awk '$1 == 202 { print $2 }' "$BATS_TEST_TMPDIR/answers"); do
		until_status "$id" succeeded 10 >/dev/null
	done
	assert_equal "$(order)" "$want"
	no_overlap
	# The async ones answered what a sync one does: their own request
	# id, the submitting one.
	a1=$(awk 'NR == 2 { print $2 }' "$BATS_TEST_TMPDIR/answers")
	result "$a1"
	assert_equal "$CODE $(cat "$B")" "200 a1"
}

# ---- cancel, progress ---------------------------------------------------

@test "cancel of a running job: its program and a setsid grandchild gone, canceled with its partial answer; the next turn starts once both are reaped" {
	work_up PROCESSES=2 WORK_SECONDS=0.1
	async /work/stubborn/st1
	assert_equal "$CODE" 202
	id=$JOB
	until_ok 10 "the program's three pids" pids_listed 3
	until_job "$id" '.status == "running" and .progress == 0.1'
	# Behind it, a program that looks for what the job left.
	client next /work/check
	until_full '.queue | map(.id) == ["next"]'
	asked=$(mono)
	run answer -X POST "$URL/jobs/$id/cancel"
	assert_output --regexp ' 202$'
	run jq -e '.status == "running" and .cancel_requested == true' \
		<<<"${output% *}"
	assert_success
	body=$(until_status "$id" canceled 15)
	run jq -r '"\(.exit_status) \(.exit_signal) \(.answer.partial) \(.answer.status) \(.answer.size)"' <<<"$body"
	assert_output "null 15 true null $(printf 'Content-Type: text/plain\n\nso far\n' | wc -c)"
	# The grandchild ignored SIGTERM: SIGKILL came 2 s later, and only
	# then did the next turn start, when nothing of the job was left.
	wait "$(cat "$CLIENTS/next.pid")"
	assert_equal "$(status_of next)" 200
	assert_equal "$(cat "$CLIENTS/next.json")" checked
	none_alive
	holds "$(start_of next) >= $(end_of "$id")"
	holds "$(end_of "$id") - $asked >= 1.9"
	# What it had written, as it wrote it.
	result "$id"
	assert_equal "$CODE" 200
	assert_equal "$(header Content-Type)" application/octet-stream
	assert_equal "$(header Serialcgi-Result)" partial
	assert_equal "$(cat "$B")" "$(printf 'Content-Type: text/plain\n\nso far')"
	grep -q "job=$id canceled" "$RUN/responders.log"
	# A retried cancel says the same; a finished job's is 409.
	run answer -X POST "$URL/jobs/$id/cancel"
	assert_output --regexp '"status":"canceled".* 200$'
	get /work/plain/p1 -H 'Prefer: respond-async'
	p=$(jq -r .id "$B")
	until_status "$p" succeeded >/dev/null
	run answer -X POST "$URL/jobs/$p/cancel"
	assert_output '{"error":"job is succeeded: only a queued or running job can be canceled"} 409'
}

@test "progress lines seen while running, the last one kept; a program without them shows null; /result is 409 until final" {
	work_up PROCESSES=2 WORK_SECONDS=0.1
	async /work/progress/p1
	id=$JOB
	until_job "$id" '.status == "running" and .progress == 0.25 and
		.progress_note == "a quarter, said 3"'
	result "$id"
	assert_equal "$CODE" 409
	assert_equal "$(header Retry-After)" 1
	run jq -r .error "$B"
	assert_output 'job is running: its result comes when it is final'
	touch "$STATE/half"
	until_job "$id" '.status == "running" and .progress == 0.75 and
		(has("progress_note") | not)'
	touch "$STATE/done"
	body=$(until_status "$id" succeeded)
	jq -e 'has("progress") | not' <<<"$body"
	result "$id"
	assert_equal "$CODE $(cat "$B")" "200 done"
	rm "$STATE/done"
	async /work/silent/s1
	id=$JOB
	# null, never a guess from the clock, also once it has run past
	# WORK_SECONDS (0.1 s; started_at to the second: 1.2 s is 0.2 s at
	# least).
	until_job "$id" '.status == "running" and .progress == null and
		has("progress")'
	until_job "$id" '.status == "running" and now - (.started_at |
		sub("\\.[0-9]+Z$"; "Z") | fromdate) > 1.2'
	job_is "$id" '.progress == null and has("progress")'
	touch "$STATE/done"
	until_status "$id" succeeded >/dev/null
}

@test "two hosts sharing PostgreSQL: progress seen on both, null on both without lines" {
	cluster_setup
	# One process on A: its second job of real work is watched as its
	# first was.
	host_up A PROCESSES=1 WORK_SECONDS=0.1 WORK_COMMAND="$BIN/real" \
		WORK_LOG="$LOG"
	host_up B PROCESSES=2 WORK_SECONDS=0.1 WORK_COMMAND="$BIN/real" \
		WORK_LOG="$LOG"
	URL=$URL_A async /work/silent/s1
	s=$JOB
	for u in "$URL_A" "$URL_B"; do
		URL=$u until_job "$s" '.status == "running" and .progress == null'
	done
	touch "$STATE/done"
	URL=$URL_B until_status "$s" succeeded >/dev/null
	rm "$STATE/done"
	URL=$URL_A async /work/progress/p1
	p=$JOB
	for u in "$URL_A" "$URL_B"; do
		URL=$u until_job "$p" '.status == "running" and
			.progress == 0.25 and .progress_note == "a quarter, said 3"'
	done
	touch "$STATE/half"
	for u in "$URL_B" "$URL_A"; do
		URL=$u until_job "$p" '.status == "running" and .progress == 0.75'
	done
	touch "$STATE/done"
	URL=$URL_B until_status "$p" succeeded >/dev/null
	URL=$URL_B result "$p"
	assert_equal "$CODE $(cat "$B")" "200 done"
	no_overlap
}

@test "two hosts sharing PostgreSQL: cancel on host B of a job running on host A stops its program there" {
	cluster_setup
	host_up A PROCESSES=1 WORK_SECONDS=0.5 WORK_COMMAND="$BIN/real" \
		WORK_LOG="$LOG"
	host_up B PROCESSES=2 WORK_SECONDS=0.1 WORK_COMMAND="$BIN/real" \
		WORK_LOG="$LOG"
	# A job of real work before it on A's one process, and a turn of
	# the sleep (0.5 s) after it: the watch that sees a cancel through
	# the store, stopped with that job, is armed again for the next.
	URL=$URL_A async /work/plain/first
	URL=$URL_A until_status "$JOB" succeeded >/dev/null
	run curl -s "$URL_A/test"
	assert_output --partial '"elapsed":'
	URL=$URL_A async /work/stubborn/st1
	id=$JOB
	until_ok 10 "the program's three pids" pids_listed 3
	URL=$URL_B until_job "$id" '.status == "running" and .progress == 0.1'
	# The job is A's: its start is in A's log alone.
	grep -q "job=$id queued" "$RUN_A/responders.log"
	URL=$URL_B run answer -X POST "$URL_B/jobs/$id/cancel"
	assert_output --regexp ' 202$'
	run jq -e '.cancel_requested == true' <<<"${output% *}"
	assert_success
	body=$(URL=$URL_A until_status "$id" canceled 15)
	run jq -r '"\(.exit_signal) \(.answer.partial)"' <<<"$body"
	assert_output '15 true'
	none_alive
	grep -q "job=$id cancel: its work is stopped" "$RUN_A/responders.log"
	URL=$URL_B result "$id"
	assert_equal "$CODE" 200
	assert_equal "$(header Serialcgi-Result)" partial
	# The next work, on B, after the job's end.
	URL=$URL_B get /work/check/after1
	assert_equal "$CODE $(cat "$B")" "200 checked"
	holds "$(start_of after1) >= $(end_of "$id")"
	no_overlap
}

# ---- what jobs of real work keep ----------------------------------------

@test "JOB_RESULTS_MAX: past it, a submission is 503 naming the cause; retention frees the space; 404 after retention" {
	work_up PROCESSES=2 WORK_SECONDS=0.1 JOB_RESULTS_MAX=800 \
		JOB_RETENTION=6
	head -c 400 /dev/urandom >"$BATS_TEST_TMPDIR/400"
	async /work/echo/r1 -X POST --data-binary "@$BATS_TEST_TMPDIR/400"
	assert_equal "$CODE" 202
	first=$JOB
	# Its body is kept while it waits; its answer once it ran (the
	# body is let go then).
	body=$(until_status "$first" succeeded)
	kept=$(jq -r .answer.size <<<"$body")
	((kept + 400 > 800))
	async /work/echo/r2 -X POST --data-binary "@$BATS_TEST_TMPDIR/400"
	assert_equal "$CODE" 503
	assert_equal "$JOB" ""
	run jq -r .error "$B"
	assert_output "job results full: jobs of real work keep $kept bytes, JOB_RESULTS_MAX is 800; retention frees them"
	[[ -n $(header Retry-After) ]]
	grep -qF "req=r2 503 job results full: jobs of real work keep $kept bytes" \
		"$RUN/responders.log"
	# What keeps nothing goes on: a sync call, a job of the sleep; and
	# an async call whose body fits (none).
	get /work/echo/r3 -X POST --data-binary "@$BATS_TEST_TMPDIR/400"
	assert_equal "$CODE" 201
	[[ -n $(submit) ]]
	async /work/echo/r5
	assert_equal "$CODE" 202
	until_status "$JOB" succeeded >/dev/null
	# Past JOB_RETENTION the job is gone (404, and so is its result),
	# and the janitor's sweep frees what it kept.
	until_ok 20 "job $first forgotten" eval \
		'[[ $(answer "$URL/jobs/$first") == *" 404" ]]'
	result "$first"
	assert_equal "$CODE" 404
	until_ok 30 "its row, and bytes, gone from the store" eval \
		'[[ -z $(job_in_db "$first") ]]'
	async /work/echo/r4 -X POST --data-binary "@$BATS_TEST_TMPDIR/400"
	assert_equal "$CODE" 202
	until_status "$JOB" succeeded >/dev/null
}

# ---- the versioned store ------------------------------------------------

# node_of RUN: the node name a stack of RUN gives its jobs.
node_of() { echo "$(hostname)/$(cat "$1/private/serialcgi.lock.node")"; }

# FIXTURE_IDS: the six jobs of tests/fixtures/store-v1.sql, in its
# order: three succeeded (the first with Idempotency-Key fixture-a),
# one canceled, one running, one queued.
FIXTURE_IDS=(34617da8f1abb62458649f720a4f14d8 74be27843eda1094bd6d6264ddd4059a
	2815aabe2aa55c24071b97610a7962c4 5083c4bed608fc457bd55ba8bd91221a
	d01a57571bae8e42a4b32a3844d06997 1fda6a1d210cf31be6d8c4388882377c)

# SHIFT: seconds that move the fixture's times to a minute ago (its
# last is 1796301617.97): retention keeps them.
shift_now() { SHIFT=$(($(date +%s) - 60 - 1796301618)); }

# fixture_sql NODE: the fixture with NODE for its node.
fixture_sql() { sed "s|@NODE@|$1|g" "$TOP/tests/fixtures/store-v1.sql"; }

# MOVE: the statement that moves every wall-clock time by SHIFT.
move_sql() {
	local c s=
	for c in created_at started_at finished_at cb_next_at; do
		s="$s${s:+, }$c = $c + $SHIFT"
	done
	echo "UPDATE serialcgi_jobs SET $s;"
}

# v1_store RUN: RUN's stack, stopped, gets the fixture as its job store
# (its times moved, its node the stack's), and starts afresh with it.
v1_store() {
	local db=$1/private/jobs.db node
	node=$(node_of "$1")
	stack_down
	rm -f "$db" "$db-wal" "$db-shm"
	{ fixture_sql "$node"; move_sql; } | as_user sqlite3 "$db"
	chmod 0600 "$db"
	run sqlite "$db" 'PRAGMA user_version'
	assert_output 1
	RUN_DIR=$1 "$STACK" forget-store >/dev/null
}

# expected DB: the fixture's jobs as 0.5.0 showed them (GET /jobs/{id}),
# from the store DB, one JSON a line, keys sorted.
expected() {
	python3 - "$1" <<-'EOF'
	import json, sqlite3, sys, time
	def when(w):
	    if w is None:
	        return None
	    s = int(w)
	    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + \
	        ".%03dZ" % (int((w - s) * 1000) % 1000)
	db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
	for r in db.execute("SELECT id, status, created_at, started_at, "
	        "finished_at, elapsed, wait, work, error_code, "
	        "error_message FROM serialcgi_jobs ORDER BY seq"):
	    j = {"id": r[0], "status": r[1], "created_at": when(r[2]),
	         "started_at": when(r[3]), "finished_at": when(r[4])}
	    if r[1] == "succeeded":
	        j["result"] = {"elapsed": r[5], "wait": r[6], "work": r[7]}
	    if r[1] == "failed":
	        j["error"] = {"code": r[8], "message": r[9]}
	    print(json.dumps(j, sort_keys=True, separators=(",", ":")))
	EOF
}

# as_before N: fixture job N answers now as expected's line N (less its
# new "kind", a job of the sleep).
as_before() {
	local id=${FIXTURE_IDS[$1]} want got
	want=$(sed -n "$(($1 + 1))p" "$BATS_TEST_TMPDIR/expected")
	got=$(job "$id" | jq -cS 'select(.kind == "sleep") | del(.kind)')
	assert_equal "$got" "$(jq -cS . <<<"$want")"
}

# upgraded_lines RUN...: the "schema upgraded" lines of their logs.
upgraded_lines() {
	local r
	for r in "$@"; do
		grep -h 'schema upgraded' "$r/responders.log" || true
	done
}

# all_open: requests enough, 8 at a time, that every responder has
# looked at the store (each process opens it at its first job request).
all_open() {
	local i
	for ((i = 0; i < 5; i++)); do
		curl -s -o /dev/null --parallel --parallel-immediate \
			"$URL/jobs/${FIXTURE_IDS[0]}" "$URL/jobs/${FIXTURE_IDS[1]}" \
			"$URL/jobs/${FIXTURE_IDS[2]}" "$URL/jobs/${FIXTURE_IDS[3]}" \
			"$URL/jobs/${FIXTURE_IDS[0]}" "$URL/jobs/${FIXTURE_IDS[1]}" \
			"$URL/jobs/${FIXTURE_IDS[2]}" "$URL/jobs/${FIXTURE_IDS[3]}" \
			>/dev/null 2>&1
	done
}

@test "a store of 0.5.0 (schema 1): upgraded at start, once, by one of 4 responders; every job answers as before" {
	work_up PROCESSES=4 WORK_SECONDS=0.2
	[[ -n $(submit) ]]	# the stack's node is made
	shift_now
	v1_store "$RUN"
	expected "$RUN/private/jobs.db" >"$BATS_TEST_TMPDIR/expected"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/expected")" 6
	from=$(wc -l <"$RUN/responders.log")
	restart
	all_open
	# The finished ones, as before; the running one's responder is
	# long dead: interrupted; the queued one is adopted and runs once.
	for i in 0 1 2 3; do as_before "$i"; done
	body=$(until_status "${FIXTURE_IDS[4]}" failed)
	run jq -r .error.code <<<"$body"
	assert_output interrupted
	until_status "${FIXTURE_IDS[5]}" succeeded >/dev/null
	assert_equal "$(starts "${FIXTURE_IDS[5]}")" 1
	all_open
	# Once, by one process, after the start: the line names the file.
	run upgraded_lines "$RUN"
	assert_equal "${#lines[@]}" 1
	assert_output --regexp "^serialcgi\[[0-9]+\]: job store $RUN/private/jobs.db: schema upgraded from version 1 to 2, every job kept\$"
	(($(sed -n "$((from + 1)),\$p" "$RUN/responders.log" |
		grep -c 'schema upgraded') == 1))
	run grep -iE 'duplicate column|job store unavailable' "$RUN/responders.log"
	assert_output ""
	run sqlite "$RUN/private/jobs.db" "PRAGMA user_version; SELECT value FROM serialcgi_meta WHERE name = 'schema_version'"
	assert_output "$(printf '2\n2')"
	# Its Idempotency-Key replays its job; its result is the sleep's.
	run curl -s -D - -X POST -H 'Idempotency-Key: fixture-a' "$URL/jobs"
	assert_output --partial '202 Accepted'
	assert_output --partial 'Idempotent-Replayed: true'
	assert_output --partial "\"id\":\"${FIXTURE_IDS[0]}\""
	run curl -s "$URL/jobs/${FIXTURE_IDS[0]}/result"
	assert_output '{"elapsed":2.025611}'
	# And new jobs go on beside the old ones.
	id=$(submit)
	until_status "$id" succeeded >/dev/null
	no_overlap
}

@test "a store of a newer schema (user_version 3): refused, naming both versions; /test goes on" {
	work_up PROCESSES=2 WORK_SECONDS=0.1
	id=$(submit)
	until_status "$id" succeeded >/dev/null
	stack_down
	sqlite "$RUN/private/jobs.db" 'PRAGMA user_version = 3'
	restart
	want='{"error":"job store refused: its schema is version 3, newer than this serialcgi'"'"'s (version 2)"}'
	run answer -X POST "$URL/jobs"
	assert_output "$want 503"
	run answer "$URL/jobs/$id"
	assert_output "$want 503"
	async /work/echo/a1
	assert_equal "$CODE $(cat "$B")" "503 $want"
	grep -qE "job store $RUN/private/jobs.db: its schema is version 3, newer than this serialcgi's \(version 2\)" \
		"$RUN/responders.log"
	# Nothing was changed in it, and what needs no store goes on.
	run sqlite "$RUN/private/jobs.db" 'PRAGMA user_version'
	assert_output 3
	run answer "$URL/test"
	assert_output --regexp '"elapsed":.* 200$'
	get /work/plain/p1
	assert_equal "$CODE" 200
}

@test "two hosts sharing PostgreSQL start at once on a store of 0.5.0: migrated once, every job kept; a newer one is refused" {
	cluster_setup
	shift_now
	# The fixture in PostgreSQL's words; its jobs another node's. In
	# the schema where 0.5.0 made its tables: the first of the role's
	# search_path ("$user", public) once its lock had made the schema
	# of its fencing sequence, serialcgi (the role's name here).
	node=elsewhere/00000000000000000000000000000000
	{ echo 'CREATE SCHEMA serialcgi; SET search_path = serialcgi;'
	  fixture_sql "$node" | sed -e '/^PRAGMA/d' -e '/sqlite_sequence/d' \
		-e 's/^BEGIN TRANSACTION;/BEGIN;/' \
		-e 's/seq INTEGER PRIMARY KEY AUTOINCREMENT/seq BIGSERIAL PRIMARY KEY/'
	  echo "SELECT setval('serialcgi_jobs_seq_seq', 6);"
	  move_sql; } >"$BATS_TEST_TMPDIR/v1.sql"
	"${PSQL[@]}" <"$BATS_TEST_TMPDIR/v1.sql" >/dev/null
	run sql "SELECT count(*) FROM serialcgi_jobs"
	assert_output 6
	# The same, in SQLite, for what 0.5.0 showed of them.
	{ fixture_sql "$node"; move_sql; } | sqlite3 "$BATS_TEST_TMPDIR/v1.db"
	expected "$BATS_TEST_TMPDIR/v1.db" >"$BATS_TEST_TMPDIR/expected"
	# Both hosts at once.
	for h in A B; do
		stack_place "$BATS_TEST_TMPDIR/$h"
		printf -v "URL_$h" %s "$URL"
		printf -v "RUN_$h" %s "$RUN"
		printf -v "PORT_$h" %s "$PORT"
		HOSTS="${HOSTS:-} $RUN"
	done
	for h in A B; do
		r=RUN_$h p=PORT_$h
		env RUN_DIR="${!r}" PORT="${!p}" LOCK_URL="$LOCK_URL" \
			PROCESSES=2 WORK_SECONDS=0.1 WORK_LOG="$LOG" "$STACK" up \
			>"$BATS_TEST_TMPDIR/$h.out" 2>&1 &
	done
	wait
	for h in A B; do
		u=URL_$h
		URL=${!u}
		all_open
		for i in 0 1 2 3; do as_before "$i"; done
		run job "${FIXTURE_IDS[4]}"
		assert_output --partial '"status":"running"'
		run job "${FIXTURE_IDS[5]}"
		assert_output --partial '"status":"queued"'
	done
	run upgraded_lines "$RUN_A" "$RUN_B"
	assert_equal "${#lines[@]}" 1
	assert_output --regexp '^serialcgi\[[0-9]+\]: job store in the engine: schema upgraded from version 1 to 2, every job kept$'
	run grep -iE 'already exists|job store unavailable' \
		"$RUN_A/responders.log" "$RUN_B/responders.log"
	assert_output ""
	run sql "SELECT value FROM serialcgi_meta WHERE name = 'schema_version'"
	assert_output 2
	run sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'serialcgi_jobs' AND column_name = 'cancel_asked'"
	assert_output 1
	# New jobs on both, numbered after the old ones.
	URL=$URL_A
	id=$(submit)
	URL=$URL_B until_status "$id" succeeded >/dev/null
	run sql "SELECT seq FROM serialcgi_jobs WHERE id = '$id'"
	assert_output 7
	# A version newer than this serialcgi's: A, started again, refuses.
	RUN_DIR=$RUN_A "$STACK" down
	sql "UPDATE serialcgi_meta SET value = '3' WHERE name = 'schema_version'"
	env RUN_DIR="$RUN_A" PORT="$PORT_A" LOCK_URL="$LOCK_URL" PROCESSES=2 \
		WORK_SECONDS=0.1 WORK_LOG="$LOG" "$STACK" up >/dev/null
	run answer -X POST "$URL_A/jobs"
	assert_output '{"error":"job store refused: its schema is version 3, newer than this serialcgi'"'"'s (version 2)"} 503'
	grep -q "job store in the engine: its schema is version 3, newer than this serialcgi's (version 2)" \
		"$RUN_A/responders.log"
}
