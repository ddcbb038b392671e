#!/usr/bin/env bats
# Fair order across processes, and where the time goes.

load helper

teardown() {
	stack_down
}

# inversions LOG: pairs served in another order than they arrived. The
# work log has the arrival (field 5) and the start (field 2) of each.
inversions() {
	awk '$1 == "start" { print $5, $2 }' "$1" | sort -n |
		awk '{ s[NR] = $2 } END {
			for (i = 1; i <= NR; i++)
				for (j = i + 1; j <= NR; j++)
					if (s[j] < s[i]) n++
			print n + 0 }'
}

@test "service order is arrival order: 50 requests 5 ms apart, 10 runs" {
	log=$BATS_TEST_TMPDIR/run/private/work.log
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=4 WORK_SECONDS=0.01 \
		WORK_LOG="$log"
	for run in $(seq 10); do
		: >"$log"
		for i in $(seq 50); do
			client "r$run-$i"
			sleep 0.005
		done
		wait
		run grep -c '^start' "$log"
		assert_output 50
		run inversions "$log"
		assert_output 0
	done
	procs=$(awk '$1 == "start" { print $3 }' "$log" | sort -u | wc -l)
	((procs >= 2)) || fail "all works ran in one process"
}

@test "every answer carries Server-Timing wait and work, the body stays {elapsed}" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.2
	# A work ends on time to the microsecond when its thread gets the
	# CPU at its end: beside stress-ng --cpu 2, 8 works in 80 lasted
	# past 201 ms at the responders' usual priority, none under
	# SCHED_FIFO (longest 200.001 ms).
	# shellcheck disable=SC2046
	ahead_of_load $(responder_pids)
	for id in a b; do client "$id"; done
	wait
	for id in a b; do
		st=$(tr -d '\r' <"$CLIENTS/$id.h" | awk -F': ' 'tolower($1) == "server-timing" { print $2 }')
		[[ $st =~ ^wait\;dur=([0-9.]+),\ work\;dur=([0-9.]+)$ ]] ||
			fail "Server-Timing: '$st'"
		wait_ms=${BASH_REMATCH[1]} work_ms=${BASH_REMATCH[2]}
		run jq -e 'keys == ["elapsed"]' "$CLIENTS/$id.json"
		assert_success
		e=$(elapsed "$CLIENTS/$id.json")
		# wait + work is the elapsed time, in ms, to the microsecond.
		awk -v w="$wait_ms" -v k="$work_ms" -v e="$e" 'BEGIN {
			d = (w + k) / 1000 - e; exit !(d < 0.00001 && d > -0.00001) }' ||
			fail "wait $wait_ms + work $work_ms ms is not elapsed $e s"
		awk -v k="$work_ms" 'BEGIN { exit !(k >= 200 && k < 201) }'
	done
}

@test "the slow log names requests that waited past SLOW_WAIT" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 QUEUE=3 WORK_SECONDS=0.25 \
		SLOW_WAIT=0.4
	# In this order, 20 ms apart, whatever the machine's load.
	run in_order 0.02 s1 s2 s3
	assert_output "s1 200
s2 200
s3 200"
	run grep -E 'req=s3 slow: waited 0\.[45][0-9]* s, 2 ahead at arrival' "$RUN/responders.log"
	assert_success
	run grep -E 'req=s[12] slow' "$RUN/responders.log"
	assert_failure
}
