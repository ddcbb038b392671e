#!/usr/bin/env bats
# GET /status and /metrics: local only, shared by all processes, and
# true after a kill -9.

load helper

teardown() {
	stack_down
}

status() { curl -s "$URL/status"; }

@test "/status and /metrics answer 127.0.0.1, and 403 to others" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.1
	run curl -s -w ' %{http_code} %{content_type}' "$URL/status"
	assert_output --regexp '^\{"holder":null,"waiters":0,"served":0,"skipped":0,"rejected":0,"processes":2\} 200 application/json$'
	run curl -s -o /dev/null -w '%{http_code} %{content_type}' "$URL/metrics"
	assert_output '200 text/plain; version=0.0.4; charset=utf-8'
	for p in status metrics; do
		run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$URL/$p"
		assert_output 403
	done
	run curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/status"
	assert_output 405
}

# metric NAME: its value in /metrics now.
metric() { curl -s "$URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

@test "/metrics while 20 requests wait: exact counts, valid text format" {
	local log=$BATS_TEST_TMPDIR/run/private/work.log
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.5 \
		WORK_LOG="$log"
	# One works, its process frozen so that it still does when the
	# twentieth waiter is in (a frozen process takes no connection:
	# the others go to the other one); then the counts are read.
	client m1
	start_frozen "$log" m1
	run grep -c '^end ' "$log"
	assert_output 0
	for i in $(seq 2 21); do client "m$i"; done
	until_ok 10 "serialcgi_waiters 20" eval '[[ $(metric serialcgi_waiters) == 20 ]]'
	curl -s "$URL/metrics" >"$BATS_TEST_TMPDIR/metrics"
	parse_metrics <"$BATS_TEST_TMPDIR/metrics" >"$BATS_TEST_TMPDIR/parsed"
	run grep -E '^serialcgi_(waiters|holder|processes|served_total) ' "$BATS_TEST_TMPDIR/parsed"
	assert_output "serialcgi_waiters 20.0
serialcgi_holder 1.0
serialcgi_processes 2.0
serialcgi_served_total 0.0"
	# Every family has HELP and TYPE; the histogram is whole. The
	# eight of before, then the disk and the job store's two.
	run grep -c '^# TYPE serialcgi_' "$BATS_TEST_TMPDIR/metrics"
	assert_output 11
	run grep -E '^serialcgi_wait_seconds_(count|bucket\{le="\+Inf"\}) ' "$BATS_TEST_TMPDIR/metrics"
	assert_output --partial 'serialcgi_wait_seconds_count 1'
	thaw
	wait
	run bash -c "curl -s '$URL/metrics' | grep -E '^serialcgi_(served_total|waiters|wait_seconds_count) '"
	assert_output "serialcgi_waiters 0
serialcgi_served_total 21
serialcgi_wait_seconds_count 21"
}

@test "kill -9 of a waiter and of the holder: /status is true within 1 s" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=3 QUEUE=5 WORK_SECONDS=2 \
		WORK_LOG="$BATS_TEST_TMPDIR/run/private/work.log"
	client k1
	wait_for "$RUN/private/work.log" '^start .* k1 ' 5
	for id in k2 k3 k4; do client "$id"; sleep 0.05; done
	until_full '.holder.id == "k1" and .waiters == 3' 5
	run status
	assert_output --partial '"waiters":3,'
	holder=$(holder_line "$RUN/private/work.log" | awk '{ print $3 }')
	waiter=$(responder_pids | grep -vx "$holder" | head -1)
	# The truth: only requests in the third process are left, as
	# /status?full placed them before the kill.
	left=$(full | jq --argjson h "$holder" --argjson w "$waiter" \
		'[.queue[] | select(.pid != $h and .pid != $w)] | length')
	kill -KILL "$waiter" "$holder"
	t0=$(mono)
	until status | jq -e --argjson n "$left" \
		'.waiters + (if .holder then 1 else 0 end) == $n' >/dev/null; do
		awk -v a="$t0" -v b="$(mono)" 'BEGIN { exit !(b - a < 1.0) }' ||
			fail "/status: $(status), $left requests left"
		sleep 0.05
	done
	run status
	refute_output --partial "\"pid\":$holder"
	wait
	run bash -c "curl -s '$URL/status' | jq -c '{holder, waiters}'"
	assert_output '{"holder":null,"waiters":0}'
}

@test "skipped and rejected are counted" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 QUEUE=2 \
		WORK_SECONDS=1 WORK_LOG="$BATS_TEST_TMPDIR/run/private/work.log"
	client r1
	# r1 works until thaw (its process frozen): two admitted meanwhile.
	start_frozen "$RUN/private/work.log" r1
	client r2
	until_full '.holder.id == "r1" and .waiters == 1' 5
	for i in 1 2 3; do
		run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
		assert_output 503
	done
	kill -KILL "$(cat "$CLIENTS/r2.pid")"
	# The hang-up is seen, and counted, within a bound.
	until_full '.skipped == 1' 5
	run bash -c "curl -s '$URL/status' | jq -c '{skipped, rejected, waiters}'"
	assert_output '{"skipped":1,"rejected":3,"waiters":0}'
	thaw
	wait
}
