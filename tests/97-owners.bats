#!/usr/bin/env bats
# Owners that no reuse can fake (issue 16): a board file replaced under
# live responders, two stacks of one host name and lock path on one
# store, a respawn with the dead one's pid, the fencing sequence, a
# holder killed between its grant and its mark, an orphan at the head
# while the store is down.

load helper

setup() {
	LOG=$BATS_TEST_TMPDIR/run/private/work.log
	CLIENTS=$BATS_TEST_TMPDIR/clients
}

teardown() {
	pidns_down
	ns_hosts_down
	stack_down
	cluster_teardown
}

# ns_host_up NAME AS [VAR=value ...]: as host_up NAME, but the stack
# runs in a mount namespace of its own (unshare(1)) in which its run
# directory, $BATS_TEST_TMPDIR/NAME/run, is bind-mounted over AS (the
# run directory of another stack): the two have one lock path, one
# board path, one node file path, and each its own files.
ns_host_up() {
	local name=$1 as=$2 dir=$BATS_TEST_TMPDIR/$1
	shift 2
	stack_place "$dir"
	mkdir -p "$RUN"
	unshare --mount --propagation private -- sh -c \
		'mount --bind "$1" "$2" && shift 2 && exec env "$@"' sh \
		"$RUN" "$as" RUN_DIR="$as" PORT="$PORT" LOCK_URL="$LOCK_URL" \
		"$@" "$STACK" up >"$dir/stack.out" 2>&1 || {
		cat "$dir/stack.out" >&2
		return 1
	}
	printf -v "URL_$name" %s "$URL"
	printf -v "RUN_$name" %s "$RUN"
	NS_HOSTS="${NS_HOSTS:-} $RUN:$as"
}

# ns_pid RUN: a live process of the stack in RUN (as seen from here),
# to enter its mount namespace by.
ns_pid() {
	local f
	for f in "$1/responders.pid" "$1/nginx.master"; do
		alive "$f" && { cat "$f"; return 0; }
	done
	return 1
}

# ns_hosts_down: stop the ns_host_up stacks inside their namespaces.
ns_hosts_down() {
	local h pid
	for h in ${NS_HOSTS:-}; do
		if pid=$(ns_pid "${h%%:*}"); then
			nsenter -m -t "$pid" env RUN_DIR="${h#*:}" "$STACK" down ||
				RUN_DIR=${h%%:*} "$STACK" down || true
		fi
	done
	NS_HOSTS=
}

# pidns_up [VAR=value ...]: a stack in $BATS_TEST_TMPDIR/run, started
# inside a private pid namespace (unshare --pid --mount-proc) whose
# first process then only sleeps; sets PIDNS, that process's pid here.
# pidns CMD...: CMD inside that namespace (its pids, its /proc).
pidns_up() {
	stack_place "$BATS_TEST_TMPDIR"
	unshare --pid --fork --kill-child --mount-proc -- bash -c \
		'if env "$@" >"$0/stack.out" 2>&1; then echo up; else
		 echo failed; fi >"$0/stack.done"; exec sleep infinity' \
		"$BATS_TEST_TMPDIR" RUN_DIR="$RUN" PORT="$PORT" "$@" "$STACK" up \
		</dev/null >/dev/null 2>&1 3>&- &
	PIDNS_OUTER=$!
	wait_for "$BATS_TEST_TMPDIR/stack.done" . 30
	PIDNS=$(pgrep -P "$PIDNS_OUTER")
	grep -qx up "$BATS_TEST_TMPDIR/stack.done" || {
		cat "$BATS_TEST_TMPDIR/stack.out" >&2
		return 1
	}
}
pidns() { nsenter -t "$PIDNS" -p -m -- "$@"; }
pidns_down() {
	[[ -n ${PIDNS:-} ]] || return 0
	pidns env RUN_DIR="$RUN" "$STACK" down || true
	kill -KILL "$PIDNS" 2>/dev/null || true
	wait "$PIDNS_OUTER" 2>/dev/null || true
	PIDNS='' RUN=''
}

# wait_clients: until every background client is done (20 s at most:
# then the ones left are killed, and it fails).
wait_clients() {
	local secs=20 f pid i left
	for ((i = 0; i < secs * 20; i++)); do
		left=0
		for f in "$CLIENTS"/*.pid; do
			[[ -e $f ]] && kill -0 "$(cat "$f")" 2>/dev/null && left=1
		done
		((left)) || break
		sleep 0.05
	done
	for f in "$CLIENTS"/*.pid; do
		[[ -e $f ]] || continue
		pid=$(cat "$f")
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid"
			echo "client $(basename "$f" .pid) unanswered after ${secs}s" >&2
			left=1
		fi
		wait "$pid" 2>/dev/null
	done
	return $((left))
}

# turn_to_start ID: how long after its turn (its arrival, or the end
# of the work before it) the work of ID began, per $LOG; fails past 1 s.
turn_to_start() {
	works "$LOG" >"$BATS_TEST_TMPDIR/works"
	awk -v id="$1" '$1 == "start" && $4 == id { s = $2; a = $5 }
		END { print s, a }' "$LOG" | {
		read -r s a
		awk -v s="$s" -v a="$a" '$1 < s && $2 > a { a = $2 }
			END { printf "%s began %.3f s after its turn\n", id, s - a
			      exit !(s != "" && s - a < 1) }' id="$1" \
			"$BATS_TEST_TMPDIR/works"
	}
}

# order: the ids in the order their works started, one a line.
order() {
	awk '$1 == "start" { print $2, $4 }' "$LOG" | sort -n |
		awk '{ print $2 }'
}

# jobs_in_order ID...: the works of IDs (and no other job) started in
# this order, each once.
jobs_in_order() {
	local want got
	want=$(printf '%s\n' "$@")
	got=$(order | grep -xF -f <(printf '%s\n' "$@"))
	assert_equal "$got" "$want"
}

# freeze_non_holder RUN: freeze (SIGSTOP) a responder of the stack in
# RUN (at URL) that does not hold the lock, one that owns queued jobs
# if any does: frozen before the look, it cannot take the lock after
# it, and a kill -9 then kills a non-holder. Sets victim.
freeze_non_holder() {
	local run=$1 i p h pids
	pids=$({
		grep -E 'job=[0-9a-f]+ queued' "$run/responders.log" |
			sed -E 's/^serialcgi\[([0-9]+)\].*/\1/'
		RUN=$run responder_pids
	} | awk '!seen[$0]++')
	for ((i = 0; i < 50; i++)); do
		for p in $pids; do
			kill -STOP "$p" 2>/dev/null || continue
			h=$(curl -s -m 2 "$URL/status?json&full" |
				jq -r '.holder.pid // "none"')
			if [[ -n $h && $h != "$p" ]] && holder_line "$LOG" |
				awk -v p="$p" '$3 == p { f = 1 } END { exit f }'; then
				victim=$p
				return 0
			fi
			kill -CONT "$p"
		done
		sleep 0.1
	done
	echo "no responder of $run but the holder to freeze" >&2
	return 1
}

# honest ID...: every job succeeded, none called failed while its owner
# lived, none adopted more than once (bounced), none started twice.
honest() {
	local id n
	for id in "$@"; do
		run jq -r .status <<<"$(job "$id")"
		assert_output succeeded
		assert_equal "$(starts "$id")" 1
		n=$(grep -c "job=$id adopted" "$RUN/responders.log" || true)
		((n <= 1)) || fail "job $id adopted $n times"
	done
	run grep -E 'failed: interrupted|no longer has it as ours' \
		"$RUN/responders.log"
	assert_output ""
}

@test "board file deleted under 4 responders, a non-holder killed: no job failed, none bounced, each once, in order" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=4 WORK_SECONDS=0.3 WORK_LOG="$LOG"
	old=$(responder_pids)
	ids=()
	for i in $(seq 1 16); do
		ids+=("$(submit)")
		((i % 4 == 0)) && client "t$i"
	done
	wait_for "$LOG" "^start .* ${ids[0]} " 3
	freeze_non_holder "$RUN"
	rm "$RUN/private/serialcgi.board"
	kill -KILL "$victim"
	until_status "${ids[15]}" succeeded 20 >/dev/null
	echo "# killed $victim; $(grep -c 'job=.* adopted' "$RUN/responders.log")" \
		"jobs adopted; $(grep 'replaced.*stopping' "$RUN/responders.log" |
		cut -d: -f1 | sort -u | wc -l) responders stopped for the new board" >&3
	honest "${ids[@]}"
	jobs_in_order "${ids[@]}"
	no_overlap
	# A /test was served, or answered when its responder went: 502 in
	# the one killed, 503 with Retry-After in one that stopped.
	wait_clients
	for f in "$CLIENTS"/t*.out; do
		c=$(basename "$f" .out)
		run status_of "$c"
		assert_output --regexp '^(200|502|503)$'
		[[ $output != 503 ]] || grep -qi '^Retry-After: 1' "$CLIENTS/$c.h"
	done
	# Every responder of the old board stopped; 4 serve the new one.
	for ((i = 0; i < 100; i++)); do
		now=$(responder_pids)
		[[ $(comm -12 <(echo "$old") <(echo "$now")) == "" &&
			$(wc -l <<<"$now") == 4 ]] && break
		sleep 0.05
	done
	assert_equal "$(comm -12 <(echo "$old") <(echo "$now"))" ""
	assert_equal "$(wc -l <<<"$now")" 4
	grep -q 'was unlinked or replaced' "$RUN/responders.log"
	run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 200
}

@test "two stacks, one host name, one lock path (mount namespaces), one store: no job failed, none bounced, each once, in order" {
	(($(id -u) == 0)) || skip "mount namespaces need root"
	cluster_setup
	host_up A PROCESSES=2 WORK_SECONDS=0.3 WORK_LOG="$LOG"
	ns_host_up B "$RUN_A" PROCESSES=2 WORK_SECONDS=0.3 WORK_LOG="$LOG"
	# One path, two files: each stack has its own lock, board and node.
	run nsenter -m -t "$(ns_pid "$RUN_B")" stat -c %i \
		"$RUN_A/private/serialcgi.lock"
	assert_output "$(stat -c %i "$RUN_B/private/serialcgi.lock")"
	refute_output "$(stat -c %i "$RUN_A/private/serialcgi.lock")"
	# A's jobs go to its two responders in turn (the other one frozen
	# for the submit), so that either has queued jobs.
	mapfile -t pa < <(RUN=$RUN_A responder_pids)
	a=() b=()
	for i in $(seq 1 8); do
		kill -STOP "${pa[i % 2]}"
		a+=("$(URL=$URL_A submit)")
		kill -CONT "${pa[i % 2]}"
		b+=("$(URL=$URL_B submit)")
		((i % 4 == 0)) && URL=$URL_A client "ta$i" && URL=$URL_B client "tb$i"
	done
	# A non-holder of A with queued jobs killed: A adopts them, B never.
	wait_for "$LOG" "^start .* ${a[0]} " 5
	URL=$URL_A freeze_non_holder "$RUN_A"
	kill -KILL "$victim"
	URL=$URL_A until_status "${a[7]}" succeeded 20 >/dev/null
	URL=$URL_B until_status "${b[7]}" succeeded 20 >/dev/null
	echo "# killed $victim on A; $(grep -c 'job=.* adopted' \
		"$RUN_A/responders.log") jobs adopted there" >&3
	URL=$URL_A RUN=$RUN_A honest "${a[@]}"
	URL=$URL_B RUN=$RUN_B honest "${b[@]}"
	jobs_in_order "${a[@]}"
	jobs_in_order "${b[@]}"
	no_overlap
	run grep -c adopted "$RUN_B/responders.log"
	assert_output 0
	wait_clients
	for f in "$CLIENTS"/t*.out; do
		run status_of "$(basename "$f" .out)"
		assert_output --regexp '^(200|502)$'
	done
	# Both nodes are named by the one host name, with their own ids.
	node_a=$(cat "$RUN_A/private/serialcgi.lock.node")
	node_b=$(cat "$RUN_B/private/serialcgi.lock.node")
	[[ $node_a =~ ^[0-9a-f]{32}$ && $node_b =~ ^[0-9a-f]{32}$ ]]
	[[ $node_a != "$node_b" ]]
	run sql "select distinct node from serialcgi_jobs order by 1"
	assert_output "$(printf '%s\n' "$(hostname)/$node_a" "$(hostname)/$node_b" | sort)"
}

@test "a respawn with the dead responder's pid (private pid namespace): its waiters are gone, no stall" {
	(($(id -u) == 0)) || skip "pid namespaces and ns_last_pid need root"
	pidns_up PROCESSES=2 WORK_SECONDS=2 WORK_LOG="$LOG"
	full() { curl -s "$URL/status?json&full"; }
	client h1
	wait_for "$LOG" '^start .* h1 ' 5
	holder=$(awk '$1 == "start" && $4 == "h1" { print $3 }' "$LOG")
	# Waiters until some wait in the other responder, the victim.
	for i in $(seq 1 12); do
		client "w$i"
		sleep 0.05
		victim=$(full | jq -r --argjson h "$holder" \
			'[.queue[] | select(.pid != $h) | .pid] | first // empty')
		[[ -n $victim ]] && break
	done
	[[ -n $victim ]]
	parked=$(full | jq -r --argjson v "$victim" \
		'[.queue[] | select(.pid == $v) | .id] | join(" ")')
	# The next fork in the namespace (multiwatch's respawn) gets the
	# victim's pid: ns_last_pid written, then the kill, forking nothing.
	pidns sh -c 'echo $(($1 - 1)) >/proc/sys/kernel/ns_last_pid &&
		kill -KILL "$1"' sh "$victim"
	# Its first ready line is there already: wait for the second.
	readies() {
		(($(grep -c "^serialcgi\\[$victim\\]: ready" \
			"$RUN/responders.log") == 2))
	}
	until_ok 5 "a second ready line of pid $victim" readies
	run grep -c "^serialcgi\\[$victim\\]: ready" "$RUN/responders.log"
	assert_output 2
	# A new request is served within 1 s of its turn: the work before
	# it ended less than 1 s before it began.
	run curl -s -m 20 -o /dev/null -w '%{http_code}' -H 'X-Request-Id: new' \
		"$URL/test"
	assert_output 200
	wait_clients
	for id in $parked; do
		run status_of "$id"
		assert_output 502
		assert_equal "$(grep -c " $id " "$LOG")" 0
	done
	# Its turn: its arrival, or the end of the work before it.
	run turn_to_start new
	echo "# $output" >&3
	assert_success
	no_overlap
}

@test "a fencing sequence with CACHE 20: refused at start, exit 2; the responder's own: tokens rise in grant order across two hosts" {
	cluster_setup
	sql "CREATE SCHEMA serialcgi; CREATE SEQUENCE serialcgi.fence CACHE 20"
	msg='LOCK_URL: fencing sequence serialcgi.fence has CACHE 20: tokens would not rise in grant order (ALTER SEQUENCE serialcgi.fence CACHE 1)'
	run host_up A PROCESSES=1 WORK_SECONDS=0.1
	assert_failure
	assert_output --partial "serialcgi: $msg"
	# The responder alone, as the stack starts it: exit status 2.
	RUN_A=$BATS_TEST_TMPDIR/A/run
	# shellcheck disable=SC2046
	run spawn-fcgi -n -s "$RUN_A/private/probe.sock" $(drop_args) -- \
		"$RUN_A/serialcgi" --lock-url "$LOCK_URL" \
		--lock-file "$RUN_A/private/serialcgi.lock" \
		--board-file "$RUN_A/private/serialcgi.board" \
		--jobs-db "$RUN_A/private/jobs.db"
	assert_equal "$status" 2
	assert_output "serialcgi: $msg"
	# Made by the responder: CACHE 1, tokens in grant order.
	sql "DROP SCHEMA serialcgi CASCADE"
	host_up A PROCESSES=2 WORK_SECONDS=0.1 WORK_LOG="$LOG"
	host_up B PROCESSES=2 WORK_SECONDS=0.1 WORK_LOG="$LOG"
	run sql "select cache_size from pg_sequences where schemaname = 'serialcgi' and sequencename = 'fence'"
	assert_output 1
	for i in $(seq 1 8); do
		URL=$URL_A client "a$i"
		URL=$URL_B client "b$i"
		sleep 0.02
	done
	wait_clients
	for i in $(seq 1 8); do
		for c in "a$i" "b$i"; do
			run status_of "$c"
			assert_output 200
			# The answer's token is its work's.
			tok=$(awk -F': ' 'tolower($1) == "x-fence-token" { print $2 + 0 }' \
				"$CLIENTS/$c.h")
			[[ $tok -gt 0 ]]
			grep -q "^start .* $c .* $tok\$" "$LOG"
		done
	done
	no_overlap
	# Both hosts worked; tokens strictly rise in start (grant) order.
	run awk '{ print $3 }' "$BATS_TEST_TMPDIR/works"
	(($(sort -u <<<"$output" | wc -l) >= 2))
	run awk 'NR > 1 && $4 <= last { print "token " $4 " after " last }
		{ last = $4 }' "$BATS_TEST_TMPDIR/works"
	assert_output ""
	run wc -l <"$BATS_TEST_TMPDIR/works"
	assert_output 16
}

@test "a role that may create nothing, given the schema, the sequence and the tables made beforehand: tokens rise, jobs run" {
	cluster_setup
	# Made once by a role that may (here the engine's owner): the fence
	# sequence, the store's tables and a job.
	host_up A PROCESSES=1 WORK_SECONDS=0.1 WORK_LOG="$LOG"
	URL=$URL_A
	first=$(submit)
	until_status "$first" succeeded >/dev/null
	hosts_down
	HOSTS=
	schema=$(sql "select schemaname from pg_tables
		where tablename = 'serialcgi_jobs'")
	[[ -n $schema ]]
	# PostgreSQL 15's defaults leave a new role no CREATE in the
	# database nor in public; it gets its rows, and the search_path.
	sql "CREATE ROLE limited LOGIN PASSWORD 'limited-pw';
	     ALTER ROLE limited SET search_path = $schema;
	     GRANT USAGE ON SCHEMA serialcgi, $schema TO limited;
	     GRANT USAGE, UPDATE ON SEQUENCE serialcgi.fence TO limited;
	     GRANT SELECT, INSERT, UPDATE, DELETE
		ON ALL TABLES IN SCHEMA $schema TO limited;
	     GRANT USAGE ON ALL SEQUENCES IN SCHEMA $schema TO limited"
	run sql "select has_database_privilege('limited', current_database(),
		'CREATE'), has_schema_privilege('limited', 'public', 'CREATE'),
		has_schema_privilege('limited', '$schema', 'CREATE')"
	assert_output "f|f|f"
	as_user sh -c 'printf "*:*:*:limited:limited-pw\n" >>"$1"' sh \
		"$ENGINE_DIR/pgpass"
	LOCK_URL=${LOCK_URL/\/\/serialcgi@/\/\/limited@}
	[[ $LOCK_URL == postgresql://limited@* ]]
	host_up B PROCESSES=2 WORK_SECONDS=0.1 WORK_LOG="$LOG"
	URL=$URL_B
	for i in 1 2 3; do
		client "t$i"
		sleep 0.02
	done
	wait_clients
	last=0
	for c in t1 t2 t3; do
		assert_equal "$(status_of "$c")" 200
		tok=$(awk -F': ' 'tolower($1) == "x-fence-token" { print $2 + 0 }' \
			"$CLIENTS/$c.h")
		((tok > last)) || fail "$c: token $tok after $last"
		last=$tok
	done
	second=$(submit)
	until_status "$second" succeeded >/dev/null
	job "$first" | jq -e '.status == "succeeded"'
	run grep -c 'permission denied' "$RUN_B/responders.log"
	assert_output 0
	no_overlap
}

@test "kill -9 of the holder between its flock grant and its board mark: the next ticket starts within 50 ms" {
	make -C "$TOP" -s serialcgi-hooks >/dev/null
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.3 \
		WORK_LOG="$LOG" SERIALCGI="$TOP/serialcgi-hooks" \
		SERIALCGI_TEST_GRANT_DELAY=1
	queue() { curl -s "$URL/status?json&full" | jq -c '[.queue[] | [.id, .pid]]'; }
	# until_queued ID: until ID waits on the board; sets its pid.
	until_queued() {
		local i q
		for ((i = 0; i < 100; i++)); do
			q=$(queue)
			pid=$(jq -r --arg id "$1" '.[] | select(.[0] == $id) | .[1]' <<<"$q")
			[[ -n $pid ]] && return 0
			sleep 0.02
		done
		echo "$1 never queued: $q" >&2
		return 1
	}
	# h0 works in one responder, frozen meanwhile, so that a queues in
	# the other and waits for the lock there.
	client h0
	wait_for "$LOG" '^start .* h0 ' 5
	first=$(awk '$1 == "start" && $4 == "h0" { print $3 }' "$LOG")
	kill -STOP "$first"
	client a
	until_queued a
	holder=$pid
	[[ $holder != "$first" ]]
	kill -CONT "$first"
	# a is granted the lock, and pauses before its board mark: frozen
	# there too, so that b queues in the first responder, right behind.
	hook="^serialcgi\\[$holder\\]: test hook: ticket ([0-9]+) granted the lock"
	wait_for "$RUN/responders.log" "$hook" 5
	kill -STOP "$holder"
	ticket=$(sed -nE "s/$hook.*/\\1/p" "$RUN/responders.log" | head -1)
	client b
	until_queued b
	assert_equal "$pid" "$first"
	t_kill=$(kill_at KILL "$holder")
	wait_for "$LOG" '^start .* b ' 5
	t_b=$(awk '$1 == "start" && $4 == "b" { print $2 }' "$LOG")
	run awk -v k="$t_kill" -v s="$t_b" 'BEGIN {
		printf "b began %.1f ms after the kill\n", (s - k) * 1e3
		exit !(s > k && s - k < 0.050) }'
	echo "# $output" >&3
	assert_success
	# b was the ticket right after a's.
	grep -qE "^serialcgi\\[$first\\]: test hook: ticket $((ticket + 1)) granted" \
		"$RUN/responders.log"
	wait_clients
	run status_of b
	assert_output 200
	run status_of a
	assert_output 502
	assert_equal "$(grep -c ' a ' "$LOG")" 0
	no_overlap
}

@test "the PostgreSQL store stopped, orphans at the head: /test behind them answered within 1 s; the jobs run once, in order, when the store returns" {
	cluster_setup
	host_up A PROCESSES=2 WORK_SECONDS=3 WORK_LOG="$LOG"
	URL=$URL_A RUN=$RUN_A
	# h0 works in one responder; the job queues in the other (the
	# first frozen meanwhile), right behind it.
	client h0
	wait_for "$LOG" '^start .* h0 ' 5
	first=$(awk '$1 == "start" && $4 == "h0" { print $3 }' "$LOG")
	kill -STOP "$first"
	j=$(submit)
	k=$(submit)
	kill -CONT "$first"
	owner=$(sed -nE "s/^serialcgi\[([0-9]+)\]: .* job=($j|$k) queued.*/\1/p" \
		"$RUN/responders.log" | sort -u)
	[[ -n $owner && $owner != "$first" && $owner != *$'\n'* ]]
	# Its owner frozen, the store stopped, then the owner killed: an
	# orphan at the head that no janitor can judge.
	kill -STOP "$owner"
	"$TOP/spawn/engine" down
	kill -KILL "$owner"
	t0=$(mono)
	run curl -s -m 10 -D "$BATS_TEST_TMPDIR/t.h" -o /dev/null \
		-w '%{http_code} %{time_total}' "$URL/test"
	t1=$(mono)
	echo "# /test behind the orphan: $output ($(awk -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%.3f", b - a }') s after the kill)" >&3
	read -r code secs <<<"$output"
	[[ $code == 200 || $code == 503 ]]
	[[ $code == 200 ]] || grep -qi '^Retry-After: [1-9]' "$BATS_TEST_TMPDIR/t.h"
	run awk -v s="$secs" 'BEGIN { exit !(s < 1) }'
	assert_success
	grep -qE 'ticket [0-9]+ passed over' "$RUN/responders.log"
	# The store back: the job is judged, and runs once.
	"$TOP/spawn/engine" up >/dev/null
	until_status "$k" succeeded 15 >/dev/null
	run jq -r .status <<<"$(job "$j")"
	assert_output succeeded
	assert_equal "$(starts "$j") $(starts "$k")" "1 1"
	run order
	assert_output "$(printf '%s\n' h0 "$j" "$k")"
	grep -q "job=$j adopted" "$RUN/responders.log"
	grep -q "job=$k adopted" "$RUN/responders.log"
	run grep -E "job=($j|$k) (failed|.*no longer has it)" "$RUN/responders.log"
	assert_output ""
	wait_clients
	run status_of h0
	assert_output --regexp '^(200|503)$'
}
