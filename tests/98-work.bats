#!/usr/bin/env bats
# A real program as the work (WORK_COMMAND, issue 17): real nginx, real
# responders, real programs, each written here next to its test. One
# work at a time across /work, /test and jobs, across processes and
# hosts; the program sees CGI/1.1 (RFC 3875) and its answer is passed on;
# nothing it starts outlives its turn; bad settings are refused.

load helper
load work

setup() {
	LOG=$BATS_TEST_TMPDIR/run/private/work.log
	CLIENTS=$BATS_TEST_TMPDIR/clients
	work_dirs
}

teardown() {
	stack_down
	hosts_down
	engine_down
}

# work_up [VAR=value...]: a stack whose work log is LOG.
work_up() { stack_up "$BATS_TEST_TMPDIR" WORK_LOG="$LOG" "$@"; }

# ends N: until the work log has N end lines (30 s at most).
ends() {
	until_ok 30 "$1 works ended" \
		eval '(($(grep -c "^end " "$LOG") >= $1))'
}

# ---- one at a time ------------------------------------------------------

# fire_mix N: N requests at once, by turns GET /work/I, GET /test,
# GET /work/I, GET /test, POST /jobs. One line per answer in $FIRED:
# "<status> <body file>", the file named KIND.I (work, test, job).
fire_mix() {
	local n=$1 dir i
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/mix.XXXXXX")
	for ((i = 0; i < n; i++)); do
		((i == 0)) || echo next
		echo silent
		echo 'write-out = "%{http_code} %{filename_effective}\n"'
		case $((i % 5)) in
		0 | 2) echo "url = \"$URL/work/$i\""
			echo "output = \"$dir/work.$i\"" ;;
		1 | 3) echo "url = \"$URL/test\""
			echo "output = \"$dir/test.$i\"" ;;
		4) echo "url = \"$URL/jobs\""
			echo 'request = "POST"'
			echo "output = \"$dir/job.$i\"" ;;
		esac
	done >"$dir/curl.cfg"
	FIRED=$dir/answers
	curl --parallel --parallel-immediate --parallel-max "$n" \
		-K "$dir/curl.cfg" >"$FIRED" 2>"$dir/curl.err"
}

@test "one at a time: 200 requests mixing /work, /test and POST /jobs over 4 processes" {
	program exclusive <<-'EOF'
	#!/bin/sh
	# Fails loudly when another copy runs: the marker is made with
	# O_EXCL (noclobber), and only the copy that made it removes it.
	marker=${0%/*}/../state/marker
	if ! (set -C; true >"$marker") 2>/dev/null; then
		echo "COLLISION: another copy runs" >&2
		exit 1
	fi
	sleep 0.01
	rm "$marker"
	printf 'Content-Type: text/plain\n\n'
	head -c 65536 /dev/zero | tr '\0' x
	printf '\nend %s\n' "$SERIALCGI_REQUEST_ID"
	EOF
	work_up PROCESSES=4 WORK_SECONDS=0.01 WORK_COMMAND="$BIN/exclusive"
	fire_mix 200
	run wc -l <"$FIRED"
	assert_output 200
	# Every answer whole: each program's 64 KiB and its last line,
	# each /test its elapsed, each job its 202 and id.
	while read -r code f; do
		case ${f##*/} in
		work.*)
			assert_equal "$code" 200
			assert_equal "$(stat -c %s "$f")" 65574
			assert_equal "$(head -c 65536 "$f" | tr -d x | wc -c)" 0
			[[ $(tail -n 1 "$f") =~ ^end\ [0-9a-f]{32}$ ]] ;;
		test.*)
			assert_equal "$code" 200
			holds "$(elapsed "$f") >= 0.0097" ;;
		job.*)
			assert_equal "$code" 202
			[[ $(jq -r .id "$f") =~ ^[0-9a-f]{32}$ ]] ;;
		esac
	done <"$FIRED"
	run awk '{ sub(/.*\//, "", $2); sub(/\..*/, "", $2); print $2 }' "$FIRED"
	assert_equal "$(sort <<<"$output" | uniq -c | awk '{ print $2 $1 }' |
		tr '\n' ' ')" "job40 test80 work80 "
	# The jobs run after their 202s: all 200 works, then each job
	# succeeded.
	ends 200
	for f in "$(dirname "$FIRED")"/job.*; do
		assert_equal "$(job "$(jq -r .id "$f")" | jq -r .status)" succeeded
	done
	# The marker never collided, and is gone; no work overlapped
	# another, sleep or program (the work log covers them all); the
	# works came from more than one process.
	run grep -c COLLISION "$RUN/responders.log"
	assert_output 0
	[[ ! -e $STATE/marker ]]
	no_overlap
	run wc -l <"$BATS_TEST_TMPDIR/works"
	assert_output 200
	(($(awk '{ print $3 }' "$BATS_TEST_TMPDIR/works" | sort -u | wc -l) > 1))
	# Each program's work is in the log under its request id.
	for f in "$(dirname "$FIRED")"/work.*; do
		id=$(tail -n 1 "$f" | cut -d ' ' -f 2)
		[[ -n $(start_of "$id") && -n $(end_of "$id") ]]
	done
}

# ---- the read-modify-write file -----------------------------------------

@test "the read-modify-write ledger: 100 concurrent POSTs leave lines 1..100; without serialcgi, lines are lost" {
	cp "$TOP/doc/examples/counter" "$BIN/counter"
	chmod 0555 "$BIN/counter"
	program ledger <<-EOF
	#!/bin/sh
	COUNTER_FILE=$STATE/ledger exec $BIN/counter
	EOF
	work_up PROCESSES=4 WORK_COMMAND="$BIN/ledger"
	dir=$BATS_TEST_TMPDIR/posts
	mkdir -p "$dir"
	for ((i = 1; i <= 100; i++)); do
		((i == 1)) || echo next
		echo silent
		echo "url = \"$URL/work\""
		echo "data = \"entry $i\""
		echo "output = \"$dir/$i\""
		echo 'write-out = "%{http_code}\n"'
	done >"$dir/curl.cfg"
	curl --parallel --parallel-immediate --parallel-max 100 \
		-K "$dir/curl.cfg" >"$dir/codes" 2>/dev/null
	run sort -u "$dir/codes"
	assert_output 200
	# Lines 1..100, each entry once, and each client got its number.
	run cut -d ' ' -f 1 "$STATE/ledger"
	assert_output "$(seq 1 100)"
	run bash -c "cut -d ' ' -f 3 '$STATE/ledger' | sort -n"
	assert_output "$(seq 1 100)"
	run bash -c "cat '$dir'/[0-9]* | sort -n"
	assert_output "$(seq 1 100)"
	# The same script, run by two processes at once without serialcgi:
	# lines are lost (or numbered twice). A round of 2 x 100 runs
	# loses dozens here; up to 5 rounds, so that a quiet machine that
	# happens to interleave none cannot make this flaky.
	for ((round = 1; round <= 5; round++)); do
		rm -f "$STATE/direct"
		for k in 1 2; do
			for ((i = 0; i < 100; i++)); do
				COUNTER_FILE=$STATE/direct "$BIN/counter" \
					</dev/null >/dev/null
			done &
		done
		wait
		[[ $(cut -d ' ' -f 1 "$STATE/direct") == "$(seq 1 200)" ]] ||
			break
	done
	run cut -d ' ' -f 1 "$STATE/direct"
	refute_output "$(seq 1 200)"
	echo "# without serialcgi: $(wc -l <"$STATE/direct") lines of 200" >&3
}

# ---- RFC 3875 -----------------------------------------------------------

# The program of the RFC 3875 tests: what a program sees and says, by
# PATH_INFO.
rfc_program() {
	program rfc <<-'EOF'
	#!/bin/sh
	case $PATH_INFO in
	/echo)	printf 'Content-Type: application/octet-stream\n\n'
		exec cat ;;
	/missing)
		printf 'Status: 404 Not Found\nContent-Type: text/plain\n\n'
		echo 'no such thing' ;;
	/local)	printf 'Location: /elsewhere?a=1\n\n' ;;
	/absolute)
		printf 'Location: https://example.com/x?a=1\n\n' ;;
	/see-other)
		printf 'Status: 303 See Other\nLocation: /done\n\n' ;;
	/nothing) ;;
	/no-blank-line)
		printf 'Content-Type: text/plain\n' ;;
	/text)	echo 'just text, no header' ;;
	/endless)
		printf 'Content-Type: text/plain\n\n'
		exec yes ;;
	/stderr)
		printf 'first line\nsecond\tline\n' >&2
		printf 'Content-Type: text/plain\n\nok\n'
		printf 'no newline at the end' >&2 ;;
	/process)
		# Its working directory, and where its descriptors lead
		# (from another process: the shell opens none meanwhile).
		printf 'Content-Type: text/plain\n\n'
		echo "cwd $(readlink /proc/$$/cwd)"
		find /proc/$$/fd -mindepth 1 -printf 'fd %f %l\n' ;;
	*)	# The environment as exec(2) gave it, before the shell's own.
		printf 'Content-Type: text/plain\n\n'
		tr '\0' '\n' </proc/$$/environ ;;
	esac
	EOF
}

# env_of NAME: its value in the environment the program answered ($B);
# fails if it is not there.
env_of() { grep -m 1 "^$1=" "$B" | cut -d = -f 2-; }

@test "RFC 3875: each meta-variable, from an allow-list, never HTTP_PROXY" {
	rfc_program
	# Something of the responder's own environment that must not
	# reach the program.
	work_up PROCESSES=2 WORK_COMMAND="$BIN/rfc" CANARY=leaked
	get '/work/env/a%20b/c?x=1&y=%20' -X POST --data-binary hello \
		-H 'Content-Type: text/x-test' -H 'X-Custom: yes' \
		-H 'Proxy: http://evil.example:3128'
	assert_equal "$CODE" 200
	id=c
	assert_equal "$(env_of GATEWAY_INTERFACE)" CGI/1.1
	assert_equal "$(env_of REQUEST_METHOD)" POST
	assert_equal "$(env_of SCRIPT_NAME)" /work
	assert_equal "$(env_of PATH_INFO)" '/env/a b/c'
	assert_equal "$(env_of QUERY_STRING)" 'x=1&y=%20'
	assert_equal "$(env_of CONTENT_LENGTH)" 5
	assert_equal "$(env_of CONTENT_TYPE)" text/x-test
	assert_equal "$(env_of REMOTE_ADDR)" 127.0.0.1
	assert_equal "$(env_of SERVER_NAME)" serialcgi
	assert_equal "$(env_of SERVER_PORT)" "$PORT"
	assert_equal "$(env_of SERVER_PROTOCOL)" HTTP/1.1
	assert_equal "$(env_of SERVER_SOFTWARE)" \
		"serialcgi/$("$SERIALCGI" --version | awk '{ print $2 }')"
	assert_equal "$(env_of HTTP_X_CUSTOM)" yes
	# Debian's fastcgi_params sets it to nginx's $host, without the
	# port (a workaround there for a forged Host).
	assert_equal "$(env_of HTTP_HOST)" 127.0.0.1
	assert_equal "$(env_of PATH)" /usr/local/bin:/usr/bin:/bin
	assert_equal "$(env_of SERIALCGI_REQUEST_ID)" "$id"
	assert_equal "$(header X-Request-Id)" "$id"
	[[ $(env_of SERIALCGI_WAIT_SECONDS) =~ ^[0-9]+\.[0-9]{6}$ ]]
	assert_equal "$(env_of SERIALCGI_LOCK_FD)" 4
	# httpoxy: the Proxy header never becomes HTTP_PROXY. RFC 3875
	# 4.1.18: headers that are meta-variables already are not repeated.
	run grep -E '^(HTTP_PROXY|HTTP_CONTENT_LENGTH|HTTP_CONTENT_TYPE|SERIALCGI_FENCE_TOKEN)=' "$B"
	assert_output ""
	# Nothing else: the allow-list, and no variable of the responder's.
	run grep -vE '^(GATEWAY_INTERFACE|REQUEST_METHOD|SCRIPT_NAME|PATH_INFO|QUERY_STRING|CONTENT_LENGTH|CONTENT_TYPE|REMOTE_ADDR|REMOTE_PORT|REMOTE_USER|AUTH_TYPE|SERVER_[A-Z]+|HTTPS|REQUEST_URI|REQUEST_SCHEME|HTTP_[A-Z0-9_]+|PATH|SERIALCGI_REQUEST_ID|SERIALCGI_WAIT_SECONDS|SERIALCGI_LOCK_FD)=' "$B"
	assert_output ""
	# The body is the program's stdin, not its answer here.
	run grep -c hello "$B"
	assert_output 0
	# The answer carries the program's header and ours.
	assert_equal "$(header Content-Type)" text/plain
	[[ $(header Server-Timing) =~ ^wait\;dur=[0-9.]+,\ work\;dur=[0-9.]+$ ]]
	# A GET of /work itself: no body, so no CONTENT_*; no PATH_INFO;
	# QUERY_STRING set, empty; a lowercase proxy header changes nothing.
	get /work -H 'proxy: x'
	assert_equal "$CODE" 200
	assert_equal "$(env_of REQUEST_METHOD)" GET
	assert_equal "$(env_of QUERY_STRING)" ""
	run grep -E '^(CONTENT_LENGTH|CONTENT_TYPE|PATH_INFO|HTTP_PROXY)=' "$B"
	assert_output ""
	grep -q '^QUERY_STRING=$' "$B"
}

@test "RFC 3875 7.2: the program runs in its own directory, with stdin, stdout, stderr, the lock on fd 4 and nothing else of the responder's" {
	rfc_program
	# The stack and so the responders get a descriptor left open by
	# whoever started them; the program must not.
	work_up PROCESSES=1 WORK_COMMAND="$BIN/rfc" 9<"$BATS_TEST_DIRNAME/helper.bash"
	get /work/process
	assert_equal "$CODE" 200
	run cat "$B"
	assert_line --index 0 "cwd $BIN"
	# Past stderr, the lock's description on 4 (SERIALCGI_LOCK_FD),
	# and the shell's own, on its script.
	run awk '$1 == "fd" && $2 == 4 { print $3 }' "$B"
	assert_output "$RUN/private/serialcgi.lock"
	run awk '$1 == "fd" && $2 > 2 && $2 != 4 { print $3 }' "$B"
	assert_output "$BIN/rfc"
}

@test "RFC 3875: the body byte for byte, 1 MiB of binary, in and out" {
	rfc_program
	work_up PROCESSES=2 WORK_COMMAND="$BIN/rfc" WORK_OUTPUT_MAX=2097152
	head -c 1048576 /dev/urandom >"$BATS_TEST_TMPDIR/in"
	want=$(sha256sum <"$BATS_TEST_TMPDIR/in")
	get /work/echo --data-binary "@$BATS_TEST_TMPDIR/in" \
		-H 'Content-Type: application/octet-stream'
	assert_equal "$CODE" 200
	assert_equal "$(sha256sum <"$B")" "$want"
	# The same body sent chunked: the program still gets all of it,
	# and CONTENT_LENGTH says how much.
	get /work/echo --data-binary "@$BATS_TEST_TMPDIR/in" \
		-H 'Transfer-Encoding: chunked'
	assert_equal "$CODE" 200
	assert_equal "$(sha256sum <"$B")" "$want"
	# One byte more than 1 MiB: nginx refuses it, no program runs.
	head -c 1 /dev/zero >>"$BATS_TEST_TMPDIR/in"
	get /work/echo --data-binary "@$BATS_TEST_TMPDIR/in"
	assert_equal "$CODE" 413
	run grep -c 'program exited' "$RUN/responders.log"
	assert_output 2
}

@test "RFC 3875: Status: 404, local and absolute Location, Status with Location" {
	rfc_program
	work_up PROCESSES=2 WORK_COMMAND="$BIN/rfc"
	get /work/missing
	assert_equal "$CODE" 404
	assert_equal "$(cat "$B")" 'no such thing'
	assert_equal "$(header Content-Type)" text/plain
	[[ -n $(header Server-Timing) ]]
	# A Location alone is a redirect (RFC 3875 6.2.3, 6.3.2): 302.
	get /work/local
	assert_equal "$CODE" 302
	assert_equal "$(header Location)" '/elsewhere?a=1'
	get /work/absolute
	assert_equal "$CODE" 302
	assert_equal "$(header Location)" 'https://example.com/x?a=1'
	get /work/see-other
	assert_equal "$CODE" 303
	assert_equal "$(header Location)" /done
}

# bad_gateway PATH REASON: the program at PATH gives a 502 whose body is
# one line, {"error": REASON}, and the log says it with the request id.
bad_gateway() {
	local id=${1##*/}
	get "$1"
	assert_equal "$CODE" 502
	assert_equal "$(wc -l <"$B")" 1
	assert_equal "$(jq -r .error "$B")" "$2"
	grep -qF "req=$id 502: $2" "$RUN/responders.log"
}

@test "RFC 3875: no header block, or an answer over WORK_OUTPUT_MAX: 502, one line why" {
	rfc_program
	work_up PROCESSES=2 WORK_COMMAND="$BIN/rfc" WORK_OUTPUT_MAX=100000 \
		WORK_TIMEOUT=20
	bad_gateway /work/nothing \
		'no header block (no blank line after the header fields)'
	bad_gateway /work/no-blank-line \
		'no header block (no blank line after the header fields)'
	bad_gateway /work/text 'bad header line: just text, no header'
	# A program that never stops writing is stopped at the bound, long
	# before WORK_TIMEOUT, and nothing of it is left.
	t0=$(mono)
	bad_gateway /work/endless 'answer over WORK_OUTPUT_MAX (100000 bytes)'
	holds "$(mono) - $t0 < 10"
	grep -q 'req=endless program killed by signal' "$RUN/responders.log"
	run pgrep -u "$SERVICE_USER" -x yes
	assert_failure
}

@test "RFC 3875: the program's stderr goes to the log, line by line, with the request id" {
	rfc_program
	work_up PROCESSES=2 WORK_COMMAND="$BIN/rfc"
	get /work/stderr
	assert_equal "$CODE" 200
	assert_equal "$(cat "$B")" ok
	wait_for "$RUN/responders.log" 'req=stderr program exited 0'
	run grep -F 'req=stderr stderr: ' "$RUN/responders.log"
	assert_line --index 0 --partial 'req=stderr stderr: first line'
	assert_line --index 1 --partial 'req=stderr stderr: second line'
	assert_line --index 2 --partial 'req=stderr stderr: no newline at the end'
	assert_equal "${#lines[@]}" 3
}

@test "without WORK_COMMAND, /work is 404 and /test keeps its contract" {
	work_up PROCESSES=1 WORK_SECONDS=0.05
	get /work
	assert_equal "$CODE" 404
	get /work/x -X POST --data-binary y
	assert_equal "$CODE" 404
	get /test
	assert_equal "$CODE" 200
	holds "$(elapsed "$B") >= 0.05"
}

# ---- when a work is over ------------------------------------------------

# The program of the timeout tests: one that ignores SIGTERM (its sleep
# inherits that), one that leaves processes in sessions of their own and
# answers at once, and one that looks for what those left. Every pid
# they start goes to STATE/pids.
stubborn_program() {
	program stubborn <<-'EOF'
	#!/bin/sh
	state=${0%/*}/../state
	case $PATH_INFO in
	/ignore-term)
		trap '' TERM
		echo $$ >>"$state/pids"
		sleep 1000.1 &
		echo $! >>"$state/pids"
		wait ;;
	/setsid)
		setsid sleep 1000.2 </dev/null >/dev/null 2>&1 &
		echo $! >>"$state/pids"
		# And one whose parent exits: the responder adopts it.
		(setsid sleep 1000.3 </dev/null >/dev/null 2>&1 &
		 echo $! >>"$state/pids")
		printf 'Content-Type: text/plain\n\nleft two behind\n' ;;
	*)	printf 'Content-Type: text/plain\n\n'
		for p in $(cat "$state/pids"); do
			[ ! -d /proc/$p ] || echo "alive: $p"
		done
		echo checked ;;
	esac
	EOF
}

# timed_out PATH LEAST: the program at PATH, and behind it a program
# that looks for what it left: a 504 after LEAST seconds of work or
# more, nothing of it left once the next work starts, nor now.
timed_out() {
	local path=$1 least=$2 id=${1##*/} s e n
	client "$id" "$path"
	wait_for "$LOG" "^start .* $id "
	until_ok 5 "the program's pids" test -s "$STATE/pids"
	client next /work/check
	wait
	assert_equal "$(status_of "$id")" 504
	assert_equal "$(jq -r .error "$CLIENTS/$id.json")" \
		'no end within WORK_TIMEOUT (1.000 s)'
	s=$(start_of "$id") e=$(end_of "$id") n=$(start_of next)
	holds "$e - $s >= $least" || fail "work of $((e - s)) s, not $least"
	holds "$n >= $e" || fail "next started at $n, before $e"
	assert_equal "$(status_of next)" 200
	assert_equal "$(cat "$CLIENTS/next.json")" checked
	none_alive
	grep -q "req=$id 504: no end within WORK_TIMEOUT" "$RUN/responders.log"
}

@test "a program that ignores SIGTERM: 504 at the timeout, SIGKILL 2 s later, none of it left before the next work" {
	stubborn_program
	work_up PROCESSES=2 WORK_TIMEOUT=1 WORK_COMMAND="$BIN/stubborn"
	timed_out /work/ignore-term 3
	grep -q 'req=ignore-term program killed by signal 9' "$RUN/responders.log"
}

@test "a program that leaves setsid sleep 1000 behind: 504 at the timeout, none of it left before the next work" {
	stubborn_program
	work_up PROCESSES=2 WORK_TIMEOUT=1 WORK_COMMAND="$BIN/stubborn"
	timed_out /work/setsid 1
	# Both sleeps ended on SIGTERM: no SIGKILL was needed, 2 s less.
	holds "$(end_of setsid) - $(start_of setsid) < 3"
}

# ---- WORK_ON_ABORT ------------------------------------------------------

slow_program() {
	program slow <<-'EOF'
	#!/bin/sh
	state=${0%/*}/../state
	echo "start $$" >>"$state/slow"
	sleep 2
	echo "end $$" >>"$state/slow"
	printf 'Content-Type: text/plain\n\ndone\n'
	EOF
}

# leave_mid_work: client "leaver" asks for the slow program and hangs
# up once it runs; "next" queues behind it. Sets LEFT, the mono time
# the leaver hung up.
leave_mid_work() {
	client next0 /test		# 0.05 s: the runners are warm
	wait
	curl -s -m 5 -H 'X-Request-Id: leaver' "$URL/work" >/dev/null &
	leaver=$!
	until_ok 5 "the program started" grep -q '^start' "$STATE/slow"
	client next /work/check
	until_full '.queue | map(.id) == ["next"]' 5
	kill "$leaver"
	LEFT=$(mono)
	wait
}

@test "WORK_ON_ABORT=finish: a client that leaves mid-work; its program runs to its end, the answer dropped, logged" {
	slow_program
	work_up PROCESSES=2 WORK_SECONDS=0.05 WORK_ON_ABORT=finish \
		WORK_COMMAND="$BIN/slow"
	leave_mid_work
	assert_equal "$(status_of next)" 200
	run cut -d ' ' -f 1 "$STATE/slow"
	assert_equal "$(echo "$output" | tr '\n' ' ')" "start end start end "
	holds "$(end_of leaver) - $(start_of leaver) >= 2"
	holds "$(start_of next) >= $(end_of leaver)"
	grep -q 'req=leaver program exited 0' "$RUN/responders.log"
	grep -q 'req=leaver 200, answer dropped: client gone' "$RUN/responders.log"
}

@test "kill -9 of the responder mid-work: nginx's 502 in JSON says the work may have run and a submission may be stored" {
	slow_program
	work_up PROCESSES=1 WORK_COMMAND="$BIN/slow"
	client dies /work/x
	until_ok 5 "the program started" grep -q '^start' "$STATE/slow"
	pid=$(awk '$1 == "start" && $4 == "dies" { print $3 }' "$LOG")
	[[ -n $pid ]]
	kill -KILL "$pid"
	wait
	assert_equal "$(status_of dies)" 502
	grep -qi '^content-type: application/json' "$CLIENTS/dies.h"
	grep -qi '^x-request-id: dies' "$CLIENTS/dies.h"
	jq -e '.error == "bad gateway: no answer from the responder: it closed the connection (its work may have run, a submission may be stored: retry one with the same Idempotency-Key), or could not be reached"' \
		"$CLIENTS/dies.json"
}

@test "kill -9 of the responder mid-work: the next work starts only once every process of its program has ended" {
	slow_program
	work_up PROCESSES=2 QUEUE=2 WORK_COMMAND="$BIN/slow"
	client a /work/a
	# The holder frozen takes no connection: b waits in the other one.
	start_frozen "$LOG" a
	holder=$HOLDER
	client b /work/b
	until_full '.queue | map(.id) == ["b"]' 5
	[[ $(queued_pid b) != "$holder" ]]
	kill -KILL "$holder"
	FROZEN=
	wait
	assert_equal "$(status_of a) $(status_of b)" "502 200"
	# a's program outlived its responder, and b's began after its end.
	run cut -d ' ' -f 1 "$STATE/slow"
	assert_equal "$(echo "$output" | tr '\n' ' ')" "start end start end "
	grep -q 'req=b 200' "$RUN/responders.log"
}

@test "WORK_ON_ABORT=stop: a client that leaves mid-work; its program is stopped at once" {
	slow_program
	work_up PROCESSES=2 WORK_SECONDS=0.05 WORK_ON_ABORT=stop \
		WORK_COMMAND="$BIN/slow"
	leave_mid_work
	assert_equal "$(status_of next)" 200
	# leaver's program never ended its work; next's (the same program)
	# did.
	run cut -d ' ' -f 1 "$STATE/slow"
	assert_equal "$(echo "$output" | tr '\n' ' ')" "start start end "
	# Stopped soon after the client left, not 2 s after it started.
	holds "$(end_of leaver) - $LEFT < 1"
	holds "$(start_of next) >= $(end_of leaver)"
	grep -q 'req=leaver program killed by signal 15' "$RUN/responders.log"
	grep -q 'req=leaver program stopped: client gone' "$RUN/responders.log"
}

# ---- across hosts -------------------------------------------------------

@test "two hosts sharing PostgreSQL: the program's SERIALCGI_FENCE_TOKEN rises strictly across hosts" {
	cluster_setup
	program fence <<-'EOF'
	#!/bin/sh
	echo "$SERIALCGI_FENCE_TOKEN $SERVER_PORT $SERIALCGI_REQUEST_ID" \
		>>"${0%/*}/../state/tokens"
	sleep 0.05
	printf 'Content-Type: text/plain\n\n%s\n' "$SERIALCGI_FENCE_TOKEN"
	EOF
	host_up A PROCESSES=2 WORK_COMMAND="$BIN/fence" WORK_LOG="$LOG"
	host_up B PROCESSES=2 WORK_COMMAND="$BIN/fence" WORK_LOG="$LOG"
	for i in 1 2 3 4 5 6; do
		URL=$URL_A client "a$i" /work
		sleep 0.02
		URL=$URL_B client "b$i" /work
		sleep 0.02
	done
	wait
	for i in 1 2 3 4 5 6; do
		for h in a b; do
			assert_equal "$(status_of "$h$i")" 200
			# The answer's token is the one the program saw.
			H=$CLIENTS/$h$i.h
			assert_equal "$(header X-Fence-Token)" \
				"$(cat "$CLIENTS/$h$i.json")"
			assert_equal "$(awk -v id="$h$i" '$3 == id { print $1 }' \
				"$STATE/tokens")" "$(cat "$CLIENTS/$h$i.json")"
		done
	done
	# In the order the programs ran, the tokens rise strictly, and
	# both hosts ran them.
	run wc -l <"$STATE/tokens"
	assert_output 12
	run awk 'NR > 1 && $1 <= last { print "token " $1 " after " last }
		$1 !~ /^[1-9][0-9]*$/ { print "no token: " $0 }
		{ last = $1 }' "$STATE/tokens"
	assert_output ""
	run bash -c "awk '{ print \$2 }' '$STATE/tokens' | sort -u | wc -l"
	assert_output 2
	no_overlap
}

@test "two hosts: pg_terminate_backend of the holder mid-work stops its program, 503 lock lost" {
	cluster_setup
	program long <<-'EOF'
	#!/bin/sh
	state=${0%/*}/../state
	echo $$ >>"$state/pids"
	sleep 30 &
	echo $! >>"$state/pids"
	wait
	echo "end $$" >>"$state/long"
	printf 'Content-Type: text/plain\n\ndone\n'
	EOF
	host_up A PROCESSES=1 WORK_COMMAND="$BIN/long" WORK_LOG="$LOG"
	host_up B PROCESSES=1 WORK_SECONDS=0.1 WORK_LOG="$LOG"
	URL=$URL_A client holder /work
	until_ok 5 "the program's pids" \
		eval '(($(wc -l <"$STATE/pids" 2>/dev/null || echo 0) == 2))'
	URL=$URL_B client next /test
	until_rows '\|f'	# B waits in the engine
	run sql "select pg_terminate_backend(pid) from pg_locks
		where locktype = 'advisory' and granted"
	assert_output t
	killed=$(mono)
	# The program and its sleep are gone soon, not in 30 s.
	until_ok 5 "the holder's program stopped" none_alive
	stopped=$(mono)
	holds "$stopped - $killed < 2"
	wait
	assert_equal "$(status_of holder)" 503
	assert_equal "$(jq -r .error "$CLIENTS/holder.json")" "lock lost"
	assert_equal "$(status_of next)" 200
	[[ ! -e $STATE/long ]]
	grep -q 'req=holder program killed by signal 9' "$RUN_A/responders.log"
	grep -q 'req=holder lock lost' "$RUN_A/responders.log"
}

# ---- bad settings -------------------------------------------------------

# refused VALUE REASON: WORK_COMMAND=VALUE is refused with exit 2 and
# "WORK_COMMAND: VALUE: REASON", by serialcgi --check and by the stack,
# which starts nothing.
refused() {
	run env WORK_COMMAND="$1" "$SERIALCGI" --check
	assert_equal "$status" 2
	assert_output "serialcgi: WORK_COMMAND: $1: $2"
	stack_place "$BATS_TEST_TMPDIR"
	run env RUN_DIR="$RUN" PORT="$PORT" WORK_COMMAND="$1" "$STACK" up
	assert_equal "$status" 2
	assert_output --partial "WORK_COMMAND: $1: $2"
	[[ ! -e $RUN/responders.pid ]]
	run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 000
}

@test "bad WORK_COMMAND: relative, missing, a directory, not executable, writable by others: exit 2, the reason" {
	printf '#!/bin/sh\n' >"$BIN/prog"
	chmod 0555 "$BIN/prog"
	refused bin/prog 'not an absolute path'
	refused "$BIN/missing" 'No such file or directory'
	refused "$BIN" 'not a regular file'
	chmod 0444 "$BIN/prog"
	refused "$BIN/prog" 'not executable by this user'
	chmod 0757 "$BIN/prog"
	refused "$BIN/prog" 'writable by others'
}

@test "bad WORK_COMMAND for the service user: one it may write, or may not run: exit 2, the reason" {
	(($(id -u) == 0)) || skip "needs root, to run the stack as $SERVICE_USER"
	printf '#!/bin/sh\n' >"$BIN/prog"
	chmod 0755 "$BIN/prog"
	chown "$SERVICE_USER" "$BIN/prog"
	stack_place "$BATS_TEST_TMPDIR"
	run env RUN_DIR="$RUN" PORT="$PORT" WORK_COMMAND="$BIN/prog" "$STACK" up
	assert_equal "$status" 2
	assert_output --partial "WORK_COMMAND: $BIN/prog: writable by the service's user"
	chown root "$BIN/prog"
	chmod 0700 "$BIN/prog"
	run env RUN_DIR="$RUN" PORT="$PORT" WORK_COMMAND="$BIN/prog" "$STACK" up
	assert_equal "$status" 2
	assert_output --partial "WORK_COMMAND: $BIN/prog: not executable by this user"
	run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 000
}
