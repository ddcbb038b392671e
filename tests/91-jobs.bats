#!/usr/bin/env bats
# Asynchronous jobs on the real stack: submit (202), poll, cancel, list;
# jobs and GET /test share one FIFO order; and what happens to a job
# when its responder dies, or the whole stack stops or crashes.

load helper

setup() {
	LOG=$BATS_TEST_TMPDIR/run/private/work.log
	CLIENTS=$BATS_TEST_TMPDIR/clients
	JOBS=$BATS_TEST_TMPDIR/run/private/jobs.db
}

teardown() {
	stack_down
}

# answer CURL ARGS...: body and status on one line.
answer() { curl -s -w ' %{http_code}' "$@" | tr -d '\n'; }

# once_in_order ID...: each job worked once, in this order, no overlap.
once_in_order() {
	local id
	assert_equal "$(order)" "$(printf '%s ' "$@")"
	for id in "$@"; do
		assert_equal "$(starts "$id")" 1
	done
	no_overlap
}

# one_running_three_queued: start a stack (work 1 s) and submit four
# jobs: ids[0] running, ids[1..3] queued.
one_running_three_queued() {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=1 WORK_LOG="$LOG"
	ids=("$(submit)")
	until_status "${ids[0]}" running 3 >/dev/null
	for i in 1 2 3; do ids+=("$(submit)"); done
}

# restart: the stack again, in the same run directory and port.
restart() {
	RUN_DIR=$RUN PORT=$PORT PROCESSES=2 WORK_SECONDS=1 WORK_LOG="$LOG" \
		"$STACK" up >/dev/null
}

# order: the ids in the order their works started.
order() { works_ids | tr '\n' ' '; }
works_ids() {
	awk '$1 == "start" { print $2, $4 }' "$LOG" | sort -n |
		awk '{ print $2 }'
}

@test "submit: 202, Location, Retry-After; poll to succeeded; times in order" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.5 WORK_LOG="$LOG"
	id=$(submit)
	[[ $id =~ ^[0-9a-f]{32}$ ]]
	run head -1 "$BATS_TEST_TMPDIR/submit.h"
	assert_output --partial '202 Accepted'
	grep -qi "^Location: /jobs/$id"$'\r'"\$" "$BATS_TEST_TMPDIR/submit.h"
	grep -qi '^Retry-After: 1'$'\r'"\$" "$BATS_TEST_TMPDIR/submit.h"
	run jq -r .status "$BATS_TEST_TMPDIR/submit.json"
	assert_output queued
	# Running: progress between 0 and 1, and Retry-After on the monitor;
	# the work's process frozen meanwhile, so that it still runs when
	# the monitor is asked again (the other process answers).
	body=$(until_status "$id" running 5)
	jq -e '.progress >= 0 and .progress < 1' <<<"$body"
	freeze "$(started_pid "$LOG" "$id")"
	run job "$id"
	assert_output --partial '"status":"running"'
	run curl -s -D - -o /dev/null "$URL/jobs/$id"
	assert_output --partial 'Retry-After: 1'
	thaw
	body=$(until_status "$id" succeeded 5)
	jq -e '.created_at <= .started_at and .started_at <= .finished_at' \
		<<<"$body"
	jq -e '.result.elapsed >= 0.5 and .result.work >= 0.5 and
		(.result.elapsed - .result.wait - .result.work | fabs) < 0.001' \
		<<<"$body"
	# Final: no Retry-After; HEAD answers the same head without a body.
	run curl -s -D - -o /dev/null "$URL/jobs/$id"
	refute_output --partial 'Retry-After'
	run curl -s -I -w '%{size_download}' "$URL/jobs/$id"
	assert_output --partial '200 OK'
	assert_equal "$(starts "$id")" 1
}

@test "/test, job, /test, job, 5 ms apart: one FIFO order, no overlap" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=4 WORK_SECONDS=0.3 WORK_LOG="$LOG"
	# One process sends all four on connections opened beforehand, so
	# the send order is the arrival order, 5 ms apart.
	perl -MIO::Socket::INET -MTime::HiRes=sleep -e '
		my ($port, @reqs) = @ARGV;
		my @s = map { IO::Socket::INET->new("127.0.0.1:$port")
		    or die "connect: $!\n" } @reqs;
		for my $i (0 .. $#reqs) {
			my ($m, $p, $id) = split / /, $reqs[$i];
			$s[$i]->syswrite("$m $p HTTP/1.1\r\nHost: x\r\n" .
			    "X-Request-Id: $id\r\nContent-Length: 0\r\n" .
			    "Connection: close\r\n\r\n");
			sleep 0.005;
		}
		for my $i (0 .. $#reqs) {
			local $/; my $a = readline($s[$i]);
			my ($code) = $a =~ m{^HTTP/1.1 (\d+)};
			my ($job) = $a =~ m{"id":"([0-9a-f]{32})"};
			print "$code ", $job // "-", "\n";
		}' "$PORT" "GET /test t1" "POST /jobs j1" "GET /test t2" \
		"POST /jobs j2" >"$BATS_TEST_TMPDIR/answers"
	run awk '{ print $1 }' "$BATS_TEST_TMPDIR/answers"
	assert_output "200
202
200
202"
	j1=$(awk 'NR == 2 { print $2 }' "$BATS_TEST_TMPDIR/answers")
	j2=$(awk 'NR == 4 { print $2 }' "$BATS_TEST_TMPDIR/answers")
	until_status "$j2" succeeded 5 >/dev/null
	assert_equal "$(order)" "t1 $j1 t2 $j2 "
	no_overlap
}

@test "bad requests: 404, 405 with Allow, 400, 413, 415, 403 for the list" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=0.1
	code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
	assert_equal "$(code "$URL/jobs/0123456789abcdef0123456789abcdef")" 404
	assert_equal "$(code "$URL/jobs/nope")" 404
	assert_equal "$(code -X POST "$URL/jobs/0123456789abcdef0123456789abcdef/cancel")" 404
	run curl -s -D - -o /dev/null -X DELETE "$URL/jobs"
	assert_output --partial '405'
	assert_output --partial 'Allow: GET, HEAD, POST'
	run curl -s -D - -o /dev/null -X PUT "$URL/jobs/0123456789abcdef0123456789abcdef"
	assert_output --partial 'Allow: GET, HEAD'
	run curl -s -D - -o /dev/null "$URL/jobs/0123456789abcdef0123456789abcdef/cancel"
	assert_output --partial 'Allow: POST'
	json=(-H 'Content-Type: application/json')
	run answer -X POST "${json[@]}" -d '[1,' "$URL/jobs"
	assert_output '{"error":"body: not a JSON object"} 400'
	run answer -X POST "${json[@]}" -d '{"x":1}' "$URL/jobs"
	assert_output '{"error":"body: unknown member \"x\""} 400'
	run answer -X POST "${json[@]}" \
		-d '{"callback_url":"not a url"}' "$URL/jobs"
	assert_output --partial '400'
	big=$(head -c 5000 /dev/zero | tr '\0' ' ')
	run answer -X POST "${json[@]}" -d "{$big}" "$URL/jobs"
	assert_output '{"error":"request body too large: at most 4096 bytes"} 413'
	run answer -X POST -H 'Content-Type: text/plain' \
		-d '{}' "$URL/jobs"
	assert_output '{"error":"Content-Type: want application/json"} 415'
	run answer -X POST -H 'Idempotency-Key: a b' "$URL/jobs"
	assert_output --partial ' 400'
	# The list is this host's; bad queries are named.
	assert_equal "$(code --interface 127.0.0.2 "$URL/jobs")" 403
	assert_equal "$(code "$URL/jobs?limit=0")" 400
	assert_equal "$(code "$URL/jobs?status=done")" 400
	assert_equal "$(code "$URL/jobs?status=queued&limit=5")" 200
	# Nothing of this was stored.
	run curl -s "$URL/jobs"
	assert_output '{"jobs":[],"next":null}'
}

@test "Idempotency-Key: the same body replays one job; another body is 422" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.2 WORK_LOG="$LOG"
	json=(-H 'Content-Type: application/json' -H 'Idempotency-Key: "order-17"')
	a=$(submit "${json[@]}" -d '{}')
	b=$(submit "${json[@]}" -d '{}')
	assert_equal "$a" "$b"
	grep -qi '^Idempotent-Replayed: true' "$BATS_TEST_TMPDIR/submit.h"
	run answer -X POST "${json[@]}" \
		-d '{"callback_url":"http://example.com/hook"}' "$URL/jobs"
	assert_output '{"error":"Idempotency-Key: already used with another body"} 422'
	until_status "$a" succeeded 5 >/dev/null
	# After it ran: still the same job, and still one work.
	c=$(submit "${json[@]}" -d '{}')
	assert_equal "$c" "$a"
	run jq -r .status "$BATS_TEST_TMPDIR/submit.json"
	assert_output succeeded
	run wc -l <"$LOG"
	assert_output 2
}

@test "cancel: a queued job never works and the next starts at once; running is 409" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=1 WORK_LOG="$LOG"
	a=$(submit)
	until_status "$a" running 3 >/dev/null
	b=$(submit)
	c=$(submit)
	run answer -X POST "$URL/jobs/$a/cancel"
	assert_output '{"error":"job is running: only a queued job can be canceled"} 409'
	run answer -X POST "$URL/jobs/$b/cancel"
	assert_output --regexp '"status":"canceled".* 200$'
	# A retried cancel says the same.
	run curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/jobs/$b/cancel"
	assert_output 200
	until_status "$c" succeeded 5 >/dev/null
	assert_equal "$(starts "$b")" 0
	# c began the moment a ended: b left no gap.
	end_a=$(awk -v id="$a" '$1 == "end" && $4 == id { print $2 }' "$LOG")
	start_c=$(awk -v id="$c" '$1 == "start" && $4 == id { print $2 }' "$LOG")
	run awk -v a="$end_a" -v c="$start_c" 'BEGIN {
		printf "gap %.3f ms\n", (c - a) * 1e3; exit !(c - a < 0.050) }'
	assert_success
	run job "$b"
	assert_output --partial '"status":"canceled"'
	run curl -s "$URL/status"
	assert_output --partial '"skipped":1,'
}

@test "kill -9 of the responder running a job: failed, interrupted, in 2 s; the next runs" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=2 WORK_LOG="$LOG"
	a=$(submit)
	until_status "$a" running 3 >/dev/null
	b=$(submit)
	pid=$(holder_line "$LOG" | awk '{ print $3 }')
	kill -KILL "$pid"
	t0=$(mono)
	body=$(until_status "$a" failed 2)
	t1=$(mono)
	run jq -r '.error.code' <<<"$body"
	assert_output interrupted
	run awk -v a="$t0" -v b="$t1" 'BEGIN {
		printf "failed after %.2f s\n", b - a; exit !(b - a < 2) }'
	assert_success
	until_status "$b" succeeded 5 >/dev/null
	assert_equal "$(starts "$a") $(starts "$b")" "1 1"
	no_overlap
	grep -q "job=$a failed: interrupted" "$RUN/responders.log"
}

@test "kill -9 of a responder that owns only queued jobs: each runs once, in order" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=3 WORK_SECONDS=1 WORK_LOG="$LOG"
	ids=()
	for i in 1 2 3 4 5 6; do
		ids+=("$(submit)")
		sleep 0.02
	done
	wait_for "$LOG" "^start .* ${ids[0]} " 3
	holder=$(holder_line "$LOG" | awk '{ print $3 }')
	# A responder other than the holder that owns some queued jobs.
	victim=$(grep -E 'job=[0-9a-f]+ queued' "$RUN/responders.log" |
		sed -E 's/^serialcgi\[([0-9]+)\].*/\1/' | sort -u |
		grep -vx "$holder" | head -1)
	[[ -n $victim ]]
	kill -KILL "$victim"
	until_status "${ids[5]}" succeeded 10 >/dev/null
	once_in_order "${ids[@]}"
	grep -q "adopted in its place" "$RUN/responders.log"
}

@test "stop mid-job, start again: it succeeds, the queued run in order, none twice" {
	one_running_three_queued
	stack_down
	run job_in_db "${ids[0]}"
	assert_output succeeded
	run job_in_db "${ids[3]}"
	assert_output queued
	restart
	until_status "${ids[3]}" succeeded 10 >/dev/null
	once_in_order "${ids[@]}"
}

@test "kill -9 of the whole stack mid-job: interrupted, the queued run once, the store intact" {
	one_running_three_queued
	groups=$(cat "$RUN/responders.pid" "$RUN/nginx.master")
	for g in $groups; do
		kill -KILL -- "-$g"
	done
	# Dead, all of them: nothing writes the store any more.
	gone() {
		local g
		for g in $groups; do
			pgrep -g "$g" -r D,R,S,T >/dev/null && return 1
		done
		return 0
	}
	until_ok 5 "process groups $groups gone" gone
	run sqlite "$JOBS" 'PRAGMA integrity_check'
	assert_output ok
	restart
	body=$(until_status "${ids[0]}" failed 3)
	run jq -r .error.code <<<"$body"
	assert_output interrupted
	until_status "${ids[3]}" succeeded 10 >/dev/null
	once_in_order "${ids[@]}"
	run sqlite "$JOBS" 'PRAGMA integrity_check'
	assert_output ok
}

@test "a full job queue: 503 with Retry-After; past retention: 404" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=1 JOB_QUEUE=2 \
		JOB_RETENTION=1 WORK_LOG="$LOG"
	a=$(submit)
	until_status "$a" running 3 >/dev/null
	submit >/dev/null
	submit >/dev/null
	run curl -s -D - -X POST "$URL/jobs"
	assert_output --partial '503 Service Unavailable'
	assert_output --partial 'Retry-After: 1'
	assert_output --partial '{"error":"busy: 2 jobs already queued"}'
	until_status "$a" succeeded 3 >/dev/null
	# Past JOB_RETENTION (1 s) the janitor forgets it, within a bound.
	until_ok 5 "job $a forgotten" eval \
		'[[ $(answer "$URL/jobs/$a") == *" 404" ]]'
	run answer "$URL/jobs/$a"
	assert_output '{"error":"no such job"} 404'
}
