#!/usr/bin/env bats
# The cluster lock: two whole stacks ("hosts" A and B, each nginx plus
# responders with their own flock and scoreboard) share one real
# PostgreSQL, started by each test in its own directory. One work() at
# a time across both, fencing tokens in grant order, and fail closed.

load helper

setup() { cluster_setup; }
teardown() { cluster_teardown; }

# at URL ID: client ID against URL, in the background.
at() { URL=$1 client "$2"; }

# until_200: GET $URL/test every 0.5 s until it answers 200 (5 s).
until_200() {
	local i
	for ((i = 0; i < 10; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/test")
		[[ $code == 200 ]] && return 0
		sleep 0.5
	done
	echo "no 200 from $URL/test in 5 s (last: $code)" >&2
	return 1
}

# holder_then_next WORK_A WORK_B: hosts A and B, one process each; A's
# client "holder" works, B's client "next" waits in the engine.
holder_then_next() {
	host_up A PROCESSES=1 WORK_SECONDS="$1" WORK_LOG="$LOG"
	host_up B PROCESSES=1 WORK_SECONDS="$2" WORK_LOG="$LOG"
	at "$URL_A" holder
	wait_for "$LOG" '^start .* holder '
	at "$URL_B" next
	# B's head waits in the engine: a lock row not granted.
	until_rows '\|f'
}

@test "two hosts, 2 processes each, interleaved: no overlap, all 200, tokens rise" {
	host_up A PROCESSES=2 WORK_SECONDS=0.2 WORK_LOG="$LOG"
	host_up B PROCESSES=2 WORK_SECONDS=0.2 WORK_LOG="$LOG"
	for i in 1 2 3 4 5 6; do
		at "$URL_A" "a$i"
		sleep 0.02
		at "$URL_B" "b$i"
		sleep 0.02
	done
	wait
	for f in "$CLIENTS"/*.out; do
		run awk '{ print $1 }' "$f"
		assert_output 200
	done
	run wc -l <"$LOG"
	assert_output 24
	no_overlap
	# Both hosts worked, and tokens strictly rise in start order.
	run awk '{ print $3 }' "$BATS_TEST_TMPDIR/works"
	(($(sort -u <<<"$output" | wc -l) >= 2))
	run awk 'NR > 1 && $4 <= last { print "token " $4 " after " last }
		{ last = $4 }' "$BATS_TEST_TMPDIR/works"
	assert_output ""
	# The answer carries its token, in a header and in Server-Timing.
	run grep -i '^X-Fence-Token: [1-9]' "$CLIENTS/a1.h"
	assert_success
	tok=$(awk -F': ' 'tolower($1) == "x-fence-token" { print $2 + 0 }' \
		"$CLIENTS/a1.h")
	run grep -i "^Server-Timing: .*fence;desc=\"$tok\"" "$CLIENTS/a1.h"
	assert_success
	grep -q " a1 .* $tok\$" "$LOG"
}

@test "/status and /metrics: the backend, the engine, the token, the counts" {
	host_up A PROCESSES=1 WORK_SECONDS=0.1
	URL=$URL_A
	run curl -s "$URL/status"
	assert_output --partial '"lock":{"backend":"postgresql","engine":"reachable","fence_token":0,"lock_lost":0,"engine_errors":0}'
	curl -s -o /dev/null "$URL/test"
	run curl -s "$URL/status"
	assert_output --regexp '"fence_token":[1-9]'
	run curl -s "$URL/metrics"
	assert_output --partial 'serialcgi_lock_backend_info{backend="postgresql"} 1'
	assert_output --partial 'serialcgi_engine_up 1'
	assert_output --regexp 'serialcgi_fence_token [1-9]'
	assert_output --partial 'serialcgi_lock_lost_total 0'
	# flock alone keeps the answers it always had: nothing of an engine.
	stack_up "$BATS_TEST_TMPDIR/solo" PROCESSES=1
	HOSTS="$HOSTS $RUN"
	run curl -s "$URL/status"
	refute_output --partial '"lock"'
	run curl -s "$URL/metrics"
	refute_output --partial 'engine'
}

@test "a head whose client hangs up in the engine's queue leaves it, never works" {
	host_up A PROCESSES=1 WORK_SECONDS=1.5 WORK_LOG="$LOG"
	host_up B PROCESSES=1 WORK_SECONDS=1.5 WORK_LOG="$LOG"
	at "$URL_A" holder
	wait_for "$LOG" '^start .* holder '
	# B's head queues in the engine behind A, then its client leaves.
	run curl -s -m 0.5 -H 'X-Request-Id: leaver' "$URL_B/test"
	assert_failure 28
	# B's head leaves the engine's queue once it sees its client gone.
	until_rows '^[0-9]+\|t$' 5
	run advisory_rows
	assert_output --regexp '^[0-9]+\|t$'	# A's grant, and nothing else
	wait
	run status_of holder
	assert_output 200
	run grep -c leaver "$LOG"
	assert_output 0
	wait_for "$RUN_B/responders.log" 'req=leaver skipped: client gone'
	# No lock was leaked: B works at once now.
	URL=$URL_B
	run curl -s -m 3 -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 200
	run advisory_rows
	assert_output ""
}

@test "kill -9 of the holder's responder: the other host goes next, no overlap" {
	holder_then_next 2 0.2
	pid=$(holder_line "$LOG" | awk '{ print $3 }')
	killed=$(kill_at KILL "$pid")
	wait
	run status_of next
	assert_output 200
	run status_of holder
	assert_output 502
	start=$(awk '$1 == "start" && $4 == "next" { print $2 }' "$LOG")
	# It started only once the holder was dead (same monotonic clock).
	awk -v s="$start" -v k="$killed" 'BEGIN { exit !(s > k) }'
}

@test "pg_terminate_backend of the holder: 503 lock lost, counted, next token larger" {
	holder_then_next 2 0.2
	run sql "select pg_terminate_backend(pid) from pg_locks
		where locktype = 'advisory' and granted"
	assert_output t
	wait
	run status_of holder
	assert_output 503
	run jq -r .error "$CLIENTS/holder.json"
	assert_output "lock lost"
	grep -qi '^Retry-After: [1-9]' "$CLIENTS/holder.h"
	! grep -qi '^X-Fence-Token' "$CLIENTS/holder.h"
	run status_of next
	assert_output 200
	lost=$(awk '$1 == "start" && $4 == "holder" { print $6 }' "$LOG")
	next=$(awk '$1 == "start" && $4 == "next" { print $6 }' "$LOG")
	((next > lost))
	run grep 'req=holder lock lost after' "$RUN_A/responders.log"
	assert_output --partial "(fence $lost)"
	run curl -s "$URL_A/metrics"
	assert_output --partial 'serialcgi_lock_lost_total 1'
	run curl -s "$URL_A/status"
	assert_output --partial '"lock_lost":1'
}

@test "engine down at start: 503 + Retry-After at once, no work, status says so" {
	engine_down
	host_up A PROCESSES=2 WORK_SECONDS=0.2 WORK_LOG="$LOG"
	URL=$URL_A
	run curl -s -D "$BATS_TEST_TMPDIR/h" -w ' %{http_code} %{time_total}' \
		"$URL/test"
	assert_output --regexp '^\{"error":"lock engine unreachable"\}
 503 0\.[0-9]+$'
	grep -qi '^Retry-After: 1' "$BATS_TEST_TMPDIR/h"
	run curl -s "$URL/status"
	assert_output --partial '"engine":"unreachable"'
	[[ ! -s $LOG ]]
	# Back with the engine: the next request after the backoff works.
	"$TOP/spawn/engine" up >/dev/null
	until_200
	run curl -s "$URL/status"
	assert_output --partial '"engine":"reachable"'
}

@test "engine restart with a holder and waiters: lock lost, then back" {
	host_up A PROCESSES=2 WORK_SECONDS=1 WORK_LOG="$LOG"
	host_up B PROCESSES=2 WORK_SECONDS=1 WORK_LOG="$LOG"
	at "$URL_A" holder
	wait_for "$LOG" '^start .* holder '
	at "$URL_B" w1
	at "$URL_A" w2
	# w1 waits in the engine (a row not granted), w2 on A's board.
	until_rows '\|f'
	URL=$URL_A until_full '.holder.id == "holder" and .waiters == 1' 5
	as_user "$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | tail -n 1)")/pg_ctl" \
		-D "$ENGINE_DIR/data" -m fast -w -s restart \
		-l "$ENGINE_DIR/postgresql.log"
	wait
	run status_of holder
	assert_output 503
	run jq -r .error "$CLIENTS/holder.json"
	assert_output "lock lost"
	# Never a 200 from a work the engine did not cover.
	for id in w1 w2; do
		run status_of "$id"
		assert_output --regexp '^(200|503)$'
	done
	no_overlap
	URL=$URL_B
	until_200
}

@test "responders starting together on a fresh engine: every one starts (the fencing sequence's CREATE races)" {
	# Each responder makes the schema and the sequence if missing, at
	# its first connect. IF NOT EXISTS does not stop two sessions from
	# creating the same name at once: the loser gets a unique violation,
	# and must try again rather than refuse to start.
	for round in 1 2 3; do
		sql "drop schema if exists serialcgi cascade"
		host_up "r$round" PROCESSES=8 WORK_SECONDS=0.05
		URL=$(eval echo "\$URL_r$round")
		run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
		assert_output 200
		run grep -c 'duplicate key' "$(eval echo "\$RUN_r$round")/responders.log"
		assert_output 0
		hosts_down
		HOSTS=
	done
}
