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
	# One process sends the three on connections opened beforehand,
	# 20 ms apart: the send order is the arrival order, however long
	# a curl takes to start on a loaded machine.
	perl -MIO::Socket::INET -MTime::HiRes=sleep -e '
		my ($port, @ids) = @ARGV;
		my @s = map { IO::Socket::INET->new("127.0.0.1:$port")
		    or die "connect: $!\n" } @ids;
		for my $i (0 .. $#ids) {
			$s[$i]->syswrite("GET /test HTTP/1.1\r\nHost: x\r\n" .
			    "X-Request-Id: $ids[$i]\r\nConnection: close\r\n\r\n");
			sleep 0.02;
		}
		for my $i (0 .. $#ids) {
			local $/; my $a = readline($s[$i]);
			my ($code) = $a =~ m{^HTTP/1.1 (\d+)};
			print "$ids[$i] $code\n";
		}' "$PORT" s1 s2 s3 >"$BATS_TEST_TMPDIR/answers"
	run cat "$BATS_TEST_TMPDIR/answers"
	assert_output "s1 200
s2 200
s3 200"
	run grep -E 'req=s3 slow: waited 0\.[45][0-9]* s, 2 ahead at arrival' "$RUN/responders.log"
	assert_success
	run grep -E 'req=s[12] slow' "$RUN/responders.log"
	assert_failure
}
