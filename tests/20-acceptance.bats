#!/usr/bin/env bats
# The seed task's acceptance rule and exclusion across processes.

load helper

teardown() {
	stack_down
}

# check_staircase WORK LOG [SKIP]: answers sorted by arrival; every
# elapsed exceeds the one before by at least WORK minus the spread of
# the send times. That spread is the larger of what curl saw
# (time_pretransfer) and what the server saw (arrivals in the work log,
# but for the requests whose ids match the regex SKIP, not fired):
# nginx passes the requests on one after another, some microseconds
# apart. The spread is left in SPREAD.
check_staircase() {
	local work=$1 log=$2 skip=${3:-^\$} prev=0 e code file t i=0
	SPREAD=$( { awk '{ print $3, 0 }' "$FIRED"
		awk -v skip="$skip" '$1 == "start" && $4 !~ skip { print $5, 1 }' "$log"; } |
		awk '{ k = $2; if (!(k in lo) || $1 < lo[k]) lo[k] = $1
			if (!(k in hi) || $1 > hi[k]) hi[k] = $1 }
		END { a = hi[0] - lo[0]; b = hi[1] - lo[1]
			print (a > b ? a : b) }')
	while read -r t code _ file; do
		[[ $code == 200 ]] || fail "answer $i: status $code"
		e=$(elapsed "$file")
		if ((i > 0)); then
			awk -v e="$e" -v p="$prev" -v w="$work" -v s="$SPREAD" \
				'BEGIN { exit !(e - p >= w - s) }' ||
				fail "answer $i: elapsed $e is not $work s after $prev (spread $SPREAD)"
		fi
		prev=$e
		i=$((i + 1))
	done <"$FIRED"
}

@test "acceptance: 4 requests at once, real 3 s, elapsed 3 s apart" {
	log=$BATS_TEST_TMPDIR/run/private/work.log
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=4 WORK_SECONDS=3 \
		WORK_LOG="$log"
	fire 4
	run wc -l <"$FIRED"
	assert_output 4
	check_staircase 3 "$log"
	# The last waited for three works and did its own, less the spread
	# by which it arrived after the first.
	last=$(elapsed "$(awk 'END { print $4 }' "$FIRED")")
	awk -v e="$last" -v s="$SPREAD" 'BEGIN { exit !(e >= 12 - s && e < 12.5) }' ||
		fail "the last elapsed is $last, not 4 works (spread $SPREAD)"
}

@test "exclusion across 4 processes: 40 at once, no overlap, k-th at k x work" {
	log=$BATS_TEST_TMPDIR/run/private/work.log
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=4 WORK_SECONDS=0.2 \
		WORK_LOG="$log"
	# A burst may all land in one process (the first loop awake takes
	# them, and on a loaded machine the others wake late): first, one
	# request in each process, each sent once the one before it works.
	# A process going from idle to busy moves to the back of the
	# listener's queue, so the next goes to another.
	for i in 1 2 3 4; do
		client "open$i"
		wait_for "$log" "^start .* open$i " 5
	done
	run bash -c "awk '\$1 == \"start\" && \$4 ~ /^open/ { print \$3 }' '$log' |
		sort -u | wc -l"
	assert_output 4
	fire 40
	run awk '$2 != 200' "$FIRED"
	assert_output ""
	run wc -l <"$FIRED"
	assert_output 40
	# Client side: the k-th answer cannot come before k works are done.
	run awk '{ k++; if ($1 < k * 0.2) print "answer " k " at " $1 " s" }' "$FIRED"
	assert_output ""
	check_staircase 0.2 "$log" '^open'
	wait
	# Server side: 40 works and the four first in the shared work log,
	# none overlapping.
	works "$log" >"$BATS_TEST_TMPDIR/works"
	run wc -l <"$BATS_TEST_TMPDIR/works"
	assert_output 44
	run awk 'NR > 1 && $1 < end { print "overlap at " $1 } { end = $2 }' \
		"$BATS_TEST_TMPDIR/works"
	assert_output ""
	# ... and they came from more than one process.
	procs=$(awk '{ print $3 }' "$BATS_TEST_TMPDIR/works" | sort -u | wc -l)
	((procs >= 2)) || fail "all works ran in one process"
}
