#!/usr/bin/env bats
# Faults on the real stack: a killed lock holder or waiter, clients that
# hang up, overload, and a graceful stop. Nothing may overlap, and every
# client still gets an honest answer.

load helper

setup() {
	LOG=$BATS_TEST_TMPDIR/run/private/work.log
	CLIENTS=$BATS_TEST_TMPDIR/clients
}

teardown() {
	stack_down
}

@test "kill -9 of the lock holder: next waiter within 50 ms, 502, respawn" {
	# A process that parks a request moves to the back of the queue
	# of loops waiting on the listener (EPOLLEXCLUSIVE), so the next
	# request goes to the other one: the holder is alone in its process,
	# the waiter alone in the other.
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 QUEUE=2 WORK_SECONDS=1 \
		WORK_LOG="$LOG"
	before=$(responder_pids)
	client first
	# The holder's pid comes from the server, not from a guess. It is
	# frozen until the kill, so that it still holds then, however long
	# the waiter takes to come (a frozen process takes no connection:
	# the waiter goes to the other one).
	start_frozen "$LOG" first
	holder=$HOLDER
	client second
	until_full '.queue | map(.id) == ["second"]' 5
	waiter=$(queued_pid second)
	[[ -n $waiter && $waiter != "$holder" ]] ||
		fail "second waits in pid ${waiter:-none}, the holder's is $holder"
	killed_at=$(kill_at KILL "$holder")
	wait
	assert_equal "$(status_of first)" 502
	assert_equal "$(status_of second)" 200
	# nginx's own 502, in JSON as every other answer, with the id.
	grep -qi '^content-type: application/json' "$CLIENTS/first.h"
	grep -qi '^x-request-id: first' "$CLIENTS/first.h"
	jq -e '.error == "bad gateway: no answer from the responder: it closed the connection (its work may have run), or could not be reached"' \
		"$CLIENTS/first.json"
	next=$(awk '$1 == "start" && $4 == "second" { print $2 }' "$LOG")
	run awk -v n="$next" -v k="$killed_at" 'BEGIN {
		d = n - k; printf "handoff after death: %.1f ms\n", d * 1e3
		exit !(d >= 0 && d < 0.050) }'
	assert_success
	no_overlap
	# multiwatch forks a new responder in place of the dead one.
	for ((i = 0; i < 50; i++)); do
		now=$(responder_pids)
		[[ $(wc -l <<<"$now") == 2 && $now != "$before" ]] && break
		sleep 0.1
	done
	assert_equal "$(wc -l <<<"$now")" 2
	run grep -qw "$holder" <<<"$now"
	assert_failure
	fire 2
	run awk '$2 != 200' "$FIRED"
	assert_output ""
}

@test "a responder that never answers: nginx's 504 at fastcgi_read_timeout, in JSON" {
	# QUEUE 1 of a 0.1 s work, rounded up to 1 s, and the 10 s margin.
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 QUEUE=1 WORK_SECONDS=0.1
	grep -qx '    fastcgi_read_timeout 11s;' "$RUN/serialcgi-server.conf"
	p=$(responder_pids)
	kill -STOP "$p"
	FROZEN=$p
	until_ok 5 "pid $p stopped" stopped "$p"
	client late
	wait
	thaw
	assert_equal "$(status_of late)" 504
	grep -qi '^content-type: application/json' "$CLIENTS/late.h"
	grep -qi '^x-request-id: late' "$CLIENTS/late.h"
	jq -e '.error == "gateway timeout: no answer from the responder within 11 s"' \
		"$CLIENTS/late.json"
}

@test "kill -9 of a waiter: the queue goes on undisturbed" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=3 QUEUE=3 WORK_SECONDS=1 \
		WORK_LOG="$LOG"
	client a
	# The holder stays a's while b and c come in (a frozen process
	# takes no connection): b and c wait in the other processes, each
	# parked before the next is sent. Which of the two takes c is the
	# kernel's choice (EPOLLEXCLUSIVE), so c may wait beside b.
	start_frozen "$LOG" a
	holder=$HOLDER
	client b
	until_full '.queue | map(.id) == ["b"]' 5
	client c
	until_full '.queue | map(.id) == ["b", "c"]' 5
	pb=$(queued_pid b) pc=$(queued_pid c)
	[[ $pb != "$holder" && $pc != "$holder" ]] ||
		fail "b waits in $pb, c in $pc, the holder is $holder"
	kill -KILL "$pb"
	thaw
	wait
	# b's ticket died with its process; c's, behind it, is served
	# unless it died too. A request after them is served as well.
	want_c=200
	[[ $pc != "$pb" ]] || want_c=502
	assert_equal "$(status_of a) $(status_of b) $(status_of c)" \
		"200 502 $want_c"
	client d
	wait
	assert_equal "$(status_of d)" 200
	no_overlap
	run grep -c '^start' "$LOG"
	assert_output $((want_c == 200 ? 3 : 2))
}

@test "a client that hangs up while waiting gives up its turn (real 3 s)" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=3 \
		WORK_LOG="$LOG"
	t0=$(mono)
	for id in c1 c2 c3 c4 c5; do
		client "$id"
		sleep 0.05
	done
	# All five in: one works, four wait; the last two in the queue
	# hang up.
	until_full '.holder != null and .waiters == 4' 5
	holder=$(holder_line "$LOG" | awk '{ print $4 }')
	[[ -n $holder ]]
	dropped=$(full | jq -r '.queue[-2:][].id')
	[[ $(wc -w <<<"$dropped") == 2 ]]
	for id in $dropped; do
		kill -KILL "$(cat "$CLIENTS/$id.pid")"
	done
	wait
	t1=$(mono)
	# 3 works of 3 s, not 5: the last answer comes by about 9 s.
	run awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f s\n", b - a
		exit !(b - a < 9.8) }'
	assert_success
	for id in $(printf '%s\n' c1 c2 c3 c4 c5 | grep -vxF "$dropped"); do
		assert_equal "$(status_of "$id")" 200
	done
	run grep -c '^start' "$LOG"
	assert_output 3
	for id in $dropped; do
		run grep -E "req=$id skipped: client gone" "$RUN/responders.log"
		assert_success
	done
	no_overlap
}

@test "a client that hangs up during work: the work ends, the loss is logged" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=1 \
		WORK_LOG="$LOG"
	pids=$(responder_pids)
	client gone
	wait_for "$LOG" '^start .* gone '
	kill -KILL "$(cat "$CLIENTS/gone.pid")"
	wait_for "$LOG" '^end .* gone ' 3
	wait_for "$RUN/responders.log" 'req=gone worked, but the answer was lost' 3
	assert_equal "$(responder_pids)" "$pids"
	run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 200
}

@test "overload: past QUEUE, 503 with Retry-After at once" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 QUEUE=5 \
		WORK_SECONDS=0.5 WORK_LOG="$LOG"
	fire 12
	run awk '{ n[$2]++ } END { print n[200] + 0, n[503] + 0 }' "$FIRED"
	assert_output "5 7"
	run awk '$2 == 503 && $1 >= 0.1 { print "slow 503: " $1 }' "$FIRED"
	assert_output ""
	# What one rejected client sees, with QUEUE admitted: w1 works
	# (its process frozen, so it still does when w5 comes), four wait.
	client w1
	start_frozen "$LOG" w1
	for id in w2 w3 w4 w5; do client "$id"; done
	until_full '.holder.id == "w1" and .waiters == 4' 5
	run curl -s -D "$BATS_TEST_TMPDIR/h" -w ' %{http_code}' "$URL/test"
	assert_output --partial ' 503'
	assert_output --partial '"error":"busy: 5 requests already admitted"'
	run grep -i '^retry-after: 1' "$BATS_TEST_TMPDIR/h"
	assert_success
	thaw
	wait
}

@test "SIGTERM drains: the work in progress gets 200, waiters a prompt 503" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=2 \
		WORK_LOG="$LOG"
	client h
	wait_for "$LOG" '^start .* h '
	for id in w1 w2 w3; do client "$id"; done
	until_full '.holder.id == "h" and .waiters == 3' 5
	supervisor=$(cat "$RUN/responders.pid")
	children=$(responder_pids)
	master=$(cat "$RUN/nginx.master")
	t0=$(mono) w0=$EPOCHREALTIME
	RUN_DIR=$RUN "$STACK" down &
	# The responders are gone within 1 s plus the work in progress
	# (what is left of h's 2 s at the stop: the work log's start is
	# on the same monotonic clock).
	while running "$supervisor"; do sleep 0.02; done
	t1=$(mono)
	wait
	h0=$(awk '$1 == "start" && $4 == "h" { print $2 }' "$LOG")
	run awk -v a="$t0" -v b="$t1" -v h="$h0" 'BEGIN {
		left = h + 2 - a; if (left < 0) left = 0
		printf "gone %.2f s after the stop, %.2f s of work left\n", b - a, left
		exit !(b - a < left + 1.0) }'
	assert_success
	assert_equal "$(status_of h)" 200
	for id in w1 w2 w3; do
		assert_equal "$(status_of "$id")" 503
		run grep -i '^retry-after: ' "$CLIENTS/$id.h"
		assert_success
		# Prompt: long before the holder's work would have let it
		# in, within 0.7 s of the stop (curl wrote ID.out as it got
		# the answer).
		run awk -v s="$w0" -v e="$(stat -c %.6Y "$CLIENTS/$id.out")" \
			'BEGIN { printf "%.3f s after the stop\n", e - s
			exit !(e - s < 0.7) }'
		assert_success
	done
	for p in $supervisor $children $master; do
		run running "$p"
		assert_failure
	done
	[[ ! -e $RUN/private/serialcgi.sock ]]
	# A stop and a start serve again.
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.1
	run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 200
}

@test "after a crash of the whole stack, a start serves again" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.1
	# Only the supervisor and the nginx master: their children are
	# orphaned, as after a real crash, and nginx workers hold the port.
	supervisor=$(cat "$RUN/responders.pid") master=$(cat "$RUN/nginx.master")
	kill -KILL "$supervisor" "$master"
	pkill -KILL -P "$supervisor" || true
	until_ok 5 "supervisor and master gone" \
		eval '! running "$supervisor" && ! running "$master"'
	[[ -S $RUN/private/serialcgi.sock ]]	# stale: nothing answers it
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.1
	run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 200
}

@test "a lock file unlinked under a running stack: the responder restarts" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 QUEUE=2 WORK_SECONDS=0.5 \
		WORK_LOG="$LOG"
	before=$(responder_pids)
	client a
	wait_for "$LOG" '^start .* a ' 5
	rm "$RUN/private/serialcgi.lock"
	client b
	wait
	assert_equal "$(status_of a)" 200
	# b never works on a lock nobody else can see.
	assert_equal "$(status_of b)" 503
	run grep -c '^start' "$LOG"
	assert_output 1
	wait_for "$RUN/responders.log" 'lock file .* was unlinked or replaced' 3
	for ((i = 0; i < 50; i++)); do
		now=$(responder_pids)
		[[ -n $now && $now != "$before" ]] && break
		sleep 0.1
	done
	[[ $now != "$before" ]]
	[[ -f $RUN/private/serialcgi.lock ]]
	run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 200
}
