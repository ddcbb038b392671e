#!/usr/bin/env bats
# The cluster lock under a silent partition and a frozen host. Host B
# lives in a network namespace of its own, joined to the engine by a
# veth pair; a partition is an nftables drop inside it. The promise: the
# old holder stops (its client-side bound, about 3 s) before the engine
# frees its lock (the server-side bound, about 10 s), so the next holder
# never overlaps it. A frozen host costs waiting time, not an overlap.

load helper

NET=10.200.$((RANDOM % 250)).

setup() {
	shared_log
	CLIENTS=$BATS_TEST_TMPDIR/clients
	NS=
}

teardown() {
	hosts_down
	engine_down
	[[ -z $NS ]] || ip netns del "$NS" 2>/dev/null || true
	[[ -z $NS ]] || ip link del "v$NS" 2>/dev/null || true
}

# netns_up: namespace NS with lo and ${NET}2/30 on a veth to ${NET}1/30
# here; skips where namespaces cannot be made.
netns_up() {
	(($(id -u) == 0)) || skip "network namespaces need root"
	command -v nft >/dev/null || skip "no nft (package nftables)"
	NS=scb$$
	ip netns add "$NS" 2>/dev/null || { NS=; skip "ip netns add failed: no network namespaces here"; }
	ip link add "v$NS" type veth peer name eth0 netns "$NS"
	ip addr add "${NET}1/30" dev "v$NS"
	ip link set "v$NS" up
	ip -n "$NS" addr add "${NET}2/30" dev eth0
	ip -n "$NS" link set eth0 up
	ip -n "$NS" link set lo up
}

# in_b CMD...: CMD inside host B's namespace.
in_b() { ip netns exec "$NS" "$@"; }

# partition: host B drops everything to and from the engine's side.
partition() {
	in_b nft -f - <<-EOF
	table inet part {
		chain in { type filter hook input priority 0; ip saddr ${NET}1 drop; }
		chain out { type filter hook output priority 0; ip daddr ${NET}1 drop; }
	}
	EOF
}

@test "silent partition of the holder: it stops before the engine frees its lock" {
	netns_up
	ENGINE_ADDR="127.0.0.1,${NET}1" ENGINE_ALLOW="${NET}0/30" \
		engine_up "$BATS_TEST_TMPDIR/engine"
	host_up A PROCESSES=1 WORK_SECONDS=0.2 WORK_LOG="$LOG"
	# Host B reaches the engine over the veth, from its namespace.
	b_url=${LOCK_URL/127.0.0.1/${NET}1}
	stack_place "$BATS_TEST_TMPDIR/B"
	in_b env RUN_DIR="$RUN" PORT="$PORT" LOCK_URL="$b_url" PROCESSES=1 \
		WORK_SECONDS=30 WORK_LOG="$LOG" "$STACK" up
	HOSTS="$HOSTS $RUN"
	in_b curl -s -D "$BATS_TEST_TMPDIR/b.h" -o "$BATS_TEST_TMPDIR/b.json" \
		-w '%{http_code}' -H 'X-Request-Id: old' "$URL/test" \
		>"$BATS_TEST_TMPDIR/b.code" &
	wait_for "$LOG" '^start .* old '
	at_A() { URL=$URL_A client new; }
	at_A
	# A's head waits in the engine behind B's holder: a row not
	# granted.
	until_rows '\|f'
	partition
	wait
	run cat "$BATS_TEST_TMPDIR/b.code"
	assert_output 503
	run jq -r .error "$BATS_TEST_TMPDIR/b.json"
	assert_output "lock lost"
	run status_of new
	assert_output 200
	old_end=$(awk '$1 == "end" && $4 == "old" { print $2 }' "$LOG")
	new_start=$(awk '$1 == "start" && $4 == "new" { print $2 }' "$LOG")
	old_start=$(awk '$1 == "start" && $4 == "old" { print $2 }' "$LOG")
	# The old holder stopped first, with a margin (both stamps come
	# from the one CLOCK_MONOTONIC that namespaces share).
	awk -v e="$old_end" -v s="$new_start" 'BEGIN { exit !(s > e + 1) }'
	# It stopped within its client-side bound, not at the end of work.
	awk -v e="$old_end" -v s="$old_start" 'BEGIN { exit !(e - s < 8) }'
	old_tok=$(awk '$1 == "start" && $4 == "old" { print $6 }' "$LOG")
	new_tok=$(awk '$1 == "start" && $4 == "new" { print $6 }' "$LOG")
	((new_tok > old_tok))
}

@test "a whole host frozen (SIGSTOP) while holding: the others wait, no overlap" {
	engine_up "$BATS_TEST_TMPDIR/engine"
	host_up A PROCESSES=2 WORK_SECONDS=1 WORK_LOG="$LOG"
	host_up B PROCESSES=2 WORK_SECONDS=0.2 WORK_LOG="$LOG"
	URL=$URL_A client frozen
	# Its process stopped at once, so that the work still holds when
	# the whole host is (next's client may take a while to come).
	start_frozen "$LOG" frozen
	URL=$URL_B client next
	# B's head waits in the engine: a row not granted.
	until_rows '\|f'
	mapfile -t pids < <(pgrep -s "$(cat "$RUN_A/responders.pid")"
		pgrep -s "$(cat "$RUN_A/nginx.master")")
	kill -STOP "${pids[@]}"
	sleep 2
	kill -CONT "${pids[@]}"
	wait
	run status_of frozen
	assert_output 200
	run status_of next
	assert_output 200
	works "$LOG" >"$BATS_TEST_TMPDIR/works"
	run awk 'NR > 1 && $1 < end { print "overlap at " $1 } { end = $2 }' \
		"$BATS_TEST_TMPDIR/works"
	assert_output ""
	# The frozen work is reported as long as it really held the lock.
	run jq -e '.elapsed >= 2' "$CLIENTS/frozen.json"
	assert_success
}
