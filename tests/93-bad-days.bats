#!/usr/bin/env bats
# Bad days on the real stack (issue 15): a full disk, a burst of job
# submissions, a job store emptied, replaced or deleted, hostile job
# bodies, and a kill -9 of multiwatch. Nothing crashes, no 502 comes
# from our stack for /jobs, every refusal is a JSON 503 with
# Retry-After that names its cause, and no job is lost in silence.

load helper

setup() {
	LOG=$BATS_TEST_TMPDIR/run/private/work.log
	JOBS=$BATS_TEST_TMPDIR/run/private/jobs.db
	BODY_FILE=$BATS_TEST_TMPDIR/post.json
	MNT=
}

teardown() {
	stack_down
	[[ -z $MNT ]] || umount "$MNT"
}

# ---- helpers of this file -------------------------------------------------

# answer CURL ARGS...: body and status on one line.
answer() { curl -s -w ' %{http_code}' "$@" | tr -d '\n'; }

# post BODY: POST /jobs with BODY (printf(1) escapes) as JSON; the
# answer's body goes to $BODY_FILE; prints the status.
post() {
	# shellcheck disable=SC2059
	printf "$1" | curl -s -o "$BODY_FILE" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary @- \
		"$URL/jobs"
}

# strict_json FILE: FILE is one JSON text in UTF-8 (Python decodes
# strictly, and its json module refuses what RFC 8259 does).
strict_json() {
	python3 -c 'import json, sys
json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))' "$1"
}

# tiny_private KIB: a tmpfs of that size on the run directory's private
# part, where the socket, the scoreboard, the job store and the logs
# of nginx go; root only. Sets MNT for teardown.
tiny_private() {
	(($(id -u) == 0)) || skip "mounting a tmpfs needs root"
	stack_place "$BATS_TEST_TMPDIR"
	mkdir -p "$RUN/private"
	mount -t tmpfs -o "size=${1}k,mode=0700" tmpfs "$RUN/private"
	MNT=$RUN/private
}

# post_many N: N POST /jobs at once, from ceil(N/250) curl processes
# (curl runs at most 300 transfers in parallel). One line per answer
# in $FIRED: "<status> <Retry-After or -> <body file>".
post_many() {
	local n=$1 dir k i per=250 args pids=()
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/burst.XXXXXX")
	for ((k = 0; k * per < n; k++)); do
		args=()
		for ((i = k * per; i < n && i < (k + 1) * per; i++)); do
			args+=(-o "$dir/$i.json" -X POST "$URL/jobs")
		done
		curl -s --parallel --parallel-immediate --parallel-max "$per" \
			-w '%{http_code} %header{retry-after} %{filename_effective}\n' \
			"${args[@]}" >"$dir/part.$k" 2>>"$dir/curl.err" &
		pids+=($!)
	done
	wait "${pids[@]}"
	FIRED=$dir/answers
	# An answer without Retry-After has an empty field: mark it.
	cat "$dir"/part.* | awk 'NF == 2 { $3 = $2; $2 = "-" } { print }' \
		>"$FIRED"
}

# burst_honest N: every one of N answers is a 202, or a 503 with
# Retry-After and a JSON error; none is a 502 or no answer at all.
burst_honest() {
	assert_equal "$(wc -l <"$FIRED")" "$1"
	run awk '!($1 == 202 || ($1 == 503 && $2 != "-"))' "$FIRED"
	assert_output ""
	# Each 503's body is JSON with such an error: one jq for them all
	# (thousands of jq runs take minutes), its complaints counted out.
	run bash -c "awk '\$1 == 503 { print \$3 }' '$FIRED' |
		xargs -r jq -r '.error' 2>&1 | grep -cE '^(busy|unavailable): '"
	assert_output "$(awk '$1 == 503' "$FIRED" | wc -l)"
}

# burst_counts LABEL: the answers of the last burst, by kind, to the
# TAP output.
burst_counts() {
	local n202 busy other
	n202=$(awk '$1 == 202' "$FIRED" | wc -l)
	other=$(awk '$1 == 503 { print $3 }' "$FIRED" |
		xargs -r jq -r '.error' | grep -c -v '^busy' || true)
	busy=$(($(awk '$1 == 503' "$FIRED" | wc -l) - other))
	echo "# $1: $n202 x 202, $busy x 503 busy, $other x 503 unavailable" >&3
}

# stack_kill: the whole stack, at once (kill -9 of both process
# groups), where a graceful stop would wait for a long work.
stack_kill() {
	local f
	for f in "$RUN/responders.pid" "$RUN/nginx.master"; do
		[[ -s $f ]] && kill -KILL -- "-$(cat "$f")" 2>/dev/null
	done
	return 0
}

# until_all_succeeded ID...: within 30 s.
until_all_succeeded() {
	local id
	for id in "$@"; do
		until_status "$id" succeeded 30 >/dev/null
	done
}

# three_queued: a stack, three jobs submitted (one running, two queued:
# sets ids), then stopped: the queued stay queued in the store.
three_queued() {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=1
	ids=("$(submit)" "$(submit)" "$(submit)")
	[[ -n ${ids[2]} ]]
	stack_down
	run sqlite "$JOBS" "SELECT count(*) FROM serialcgi_jobs WHERE status = 'queued'"
	assert_output 2
}

# restart_refused CAUSE: start again; the store is refused naming CAUSE
# (an extended regular expression), at start and to every job request,
# while /test serves.
restart_refused() {
	local out
	out=$(env RUN_DIR="$RUN" PORT="$PORT" PROCESSES=2 WORK_SECONDS=0.2 \
		"$STACK" up 2>&1)
	[[ $out == *"serialcgi: http://"* ]]
	run grep -cE "job store $JOBS: ($1), but the store of record is" \
		"$RUN/responders.log"
	((output >= 1))
	grep -q "jobs are refused until an operator starts afresh: remove $RUN/private/serialcgi.jobs-id" \
		"$RUN/responders.log"
	run curl -s -D - -X POST "$URL/jobs"
	assert_output --partial '503 Service Unavailable'
	assert_output --partial 'Retry-After: 1'
	assert_output --regexp "\\{\"error\":\"job store lost: ($1); jobs are refused until the operator starts afresh\"\\}"
	# An old job is not "no such job": its store is what is missing.
	run answer "$URL/jobs/${ids[1]}"
	assert_output --regexp "^\\{\"error\":\"job store lost: ($1); jobs are refused until the operator starts afresh\"\\} 503$"
	run answer "$URL/test"
	assert_output --regexp '^\{"elapsed":0\.2[0-9]*\} 200$'
	run bash -c "curl -s '$URL/status?full' | jq -r .jobs.state"
	assert_output refused
}

# afresh: the documented way to start afresh; then jobs are taken
# again, and the old ones are gone for good (404), running or not.
afresh() {
	run env RUN_DIR="$RUN" "$STACK" forget-store
	assert_success
	assert_output --partial "forgot job store "
	[[ ! -e $RUN/private/serialcgi.jobs-id ]]
	id=$(submit)
	[[ -n $id ]]
	run answer "$URL/jobs/${ids[1]}"
	assert_output '{"error":"no such job"} 404'
	until_status "$id" succeeded 5 >/dev/null
	# The new store is the store of record now.
	now=$(cat "$RUN/private/serialcgi.jobs-id")
	[[ $now =~ ^[0-9a-f]{32}$ ]]
	run sqlite "$JOBS" "SELECT value FROM serialcgi_meta WHERE name = 'store_id'"
	assert_output "$now"
}

# ---- a full disk ------------------------------------------------------------

@test "a start that cannot allocate the scoreboard exits with a message" {
	tiny_private 512
	run stack_up "$BATS_TEST_TMPDIR" PROCESSES=2
	assert_failure
	assert_output --partial "board file $RUN/private/serialcgi.board: no room to allocate it on its file system"
	assert_output --partial "No space left on device"
	[[ -z $(pgrep -f "$RUN/serialcgi") ]]
}

@test "a full disk: jobs until full, 503 with the cause, /test serves, no restart, every 202 runs" {
	tiny_private 2048
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.2 WORK_LOG="$LOG"
	before=$(responder_pids)
	# The scoreboard's blocks are all there: its mapping cannot fault.
	run stat -c '%b %B %s' "$RUN/private/serialcgi.board"
	read -r blocks bsize size <<<"$output"
	((blocks * bsize >= size))
	# Leave the store about 200 KiB, a few commits of its log.
	avail=$(df -k --output=avail "$MNT" | tail -1)
	dd if=/dev/zero of="$MNT/filler" bs=1k count=$((avail - 200)) \
		status=none 2>/dev/null || true
	ok=()
	for ((i = 0; i < 500; i++)); do
		code=$(curl -s -D "$BATS_TEST_TMPDIR/full.h" \
			-o "$BATS_TEST_TMPDIR/full.json" -w '%{http_code}' \
			-X POST "$URL/jobs")
		[[ $code == 202 ]] || break
		ok+=("$(jq -r .id "$BATS_TEST_TMPDIR/full.json")")
	done
	echo "# ${#ok[@]} jobs stored before the store was full" >&3
	assert_equal "$code" 503
	((${#ok[@]} >= 1))
	grep -qi '^Retry-After: 1'$'\r' "$BATS_TEST_TMPDIR/full.h"
	run cat "$BATS_TEST_TMPDIR/full.json"
	assert_output '{"error":"job store full: database or disk is full"}'
	# Full, it goes on answering: more refusals, never a 502; /test.
	for i in 1 2 3; do
		run answer -X POST "$URL/jobs"
		assert_output '{"error":"job store full: database or disk is full"} 503'
	done
	run answer "$URL/test"
	assert_output --regexp '^\{"elapsed":[0-9.]+\} 200$'
	run answer "$URL/jobs/${ok[0]}"
	assert_output --regexp '"id":"'"${ok[0]}"'".* 200$'
	run bash -c "curl -s '$URL/status?full' | jq -r .jobs.state"
	assert_output full
	curl -s "$URL/metrics" >"$BATS_TEST_TMPDIR/metrics"
	grep -qx 'serialcgi_job_store_state{state="full"} 1' "$BATS_TEST_TMPDIR/metrics"
	grep -qE '^serialcgi_disk_free_bytes [0-9]' "$BATS_TEST_TMPDIR/metrics"
	# Space comes back: every 202'd job runs, and jobs are taken again.
	rm -f "$MNT/filler"
	until_all_succeeded "${ok[@]}"
	id=$(submit)
	until_status "$id" succeeded 10 >/dev/null
	run answer "$URL/test"
	assert_output --regexp '^\{"elapsed":[0-9.]+\} 200$'
	# No responder died on the way.
	assert_equal "$(responder_pids)" "$before"
	run grep -c 'died' "$RUN/responders.log"
	assert_output 0
	run grep -c ' 502 ' "$RUN/private/access.log"
	assert_output 0
}

# ---- bursts -------------------------------------------------------------------

@test "2,000 POST /jobs at once (JOB_QUEUE=2000), then 5,000 (JOB_QUEUE=1000): no 502, 202 or 503 with Retry-After" {
	stack_up "$BATS_TEST_TMPDIR/a" PROCESSES=4 WORK_SECONDS=60 JOB_QUEUE=2000
	post_many 2000
	burst_honest 2000
	burst_counts "2000 at once, JOB_QUEUE=2000"
	n=$(awk '$1 == 202' "$FIRED" | wc -l)
	# Every 202 is a job the store has.
	run sqlite "$RUN/private/jobs.db" "select count(*) from serialcgi_jobs"
	assert_output "$n"
	run grep -c ' 502 ' "$RUN/private/access.log"
	assert_output 0
	stack_kill
	stack_up "$BATS_TEST_TMPDIR/b" PROCESSES=4 WORK_SECONDS=60 JOB_QUEUE=1000
	post_many 5000
	burst_honest 5000
	burst_counts "5000 at once, JOB_QUEUE=1000"
	n=$(awk '$1 == 202' "$FIRED" | wc -l)
	# At most the queue and the one at work.
	((n >= 1000 && n <= 1001))
	run grep -c ' 502 ' "$RUN/private/access.log"
	assert_output 0
	stack_kill
}

@test "no responder to take a job request: a JSON 503 with Retry-After, never nginx's HTML 502" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.2
	id=$(submit)
	[[ -n $id ]]
	# The responders go; nginx stays, and the socket's file too.
	mw=$(cat "$RUN/responders.pid")
	kill -TERM "$mw"
	until_ok 10 "the responders gone" eval "! running $mw"
	[[ -z $(pgrep -f "$RUN/serialcgi") ]]
	for path in /jobs "/jobs/$id"; do
		method=GET
		[[ $path == /jobs ]] && method=POST
		run curl -s -D - -X "$method" "$URL$path"
		assert_output --partial 'HTTP/1.1 503 '
		assert_output --partial 'Retry-After: 1'
		assert_output --partial 'Content-Type: application/json'
		assert_output --partial '{"error":"unavailable: no responder could take the request now; retry, with the same Idempotency-Key for a submission"}'
	done
}

# ---- a store that vanished ----------------------------------------------------

@test "the store truncated to 0 bytes: refused at start and to jobs, /test serves; forget-store starts afresh" {
	three_queued
	truncate -s 0 "$JOBS"
	# Empty, or, with the write-ahead log the responders left behind
	# (they exit without a checkpoint), a store with no jobs table.
	restart_refused "its file is empty|it holds no jobs table"
	afresh
}

@test "the store replaced by a fresh empty database: refused; forget-store starts afresh" {
	three_queued
	rm -f "$JOBS" "$JOBS-wal" "$JOBS-shm"
	(umask 077 && sqlite3 "$JOBS" 'PRAGMA journal_mode = WAL; CREATE TABLE t (x)' >/dev/null)
	(($(id -u) == 0)) && chown "$SERVICE_USER:" "$JOBS"
	restart_refused "it holds no jobs table"
	afresh
}

@test "the store replaced by another serialcgi store: refused" {
	three_queued
	sqlite "$JOBS" "UPDATE serialcgi_meta SET value = '0123456789abcdef0123456789abcdef'"
	restart_refused "it is another store"
}

@test "the store replaced by another program's database: refused" {
	three_queued
	rm -f "$JOBS" "$JOBS-wal" "$JOBS-shm"
	(umask 077 && sqlite3 "$JOBS" 'PRAGMA application_id = 1234; CREATE TABLE serialcgi_jobs (x)')
	(($(id -u) == 0)) && chown "$SERVICE_USER:" "$JOBS"
	restart_refused "it is not a serialcgi job store"
}

@test "the store deleted: refused, and not made anew; forget-store starts afresh" {
	three_queued
	rm -f "$JOBS" "$JOBS-wal" "$JOBS-shm"
	restart_refused "its file is gone"
	[[ ! -e $JOBS ]]
	afresh
}

@test "the store deleted while the responders run: the next submission is refused, not lost" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=0.1
	id=$(submit)
	until_status "$id" succeeded 5 >/dev/null
	rm -f "$JOBS"
	# The first use after it notices (a submission, or the janitor's
	# round before it), and closes the store; the next says what is
	# at the path now.
	run answer -X POST "$URL/jobs"
	assert_output --regexp '^\{"error":"job store lost: its file (was moved or deleted while in use|is gone; jobs are refused until the operator starts afresh)"\} 503$'
	run answer -X POST "$URL/jobs"
	assert_output '{"error":"job store lost: its file is gone; jobs are refused until the operator starts afresh"} 503'
	run answer "$URL/test"
	assert_output --regexp '^\{"elapsed":0\.1[0-9]*\} 200$'
	[[ ! -e $JOBS ]]
}

@test "a new store, and one from before identities, become the store of record" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=0.1
	[[ ! -e $RUN/private/serialcgi.jobs-id ]]
	id=$(submit)
	until_status "$id" succeeded 5 >/dev/null
	run sqlite "$JOBS" "SELECT value FROM serialcgi_meta WHERE name = 'store_id'"
	assert_equal "$output" "$(cat "$RUN/private/serialcgi.jobs-id")"
	run sqlite "$JOBS" 'PRAGMA application_id'
	assert_output 1396919874
	# A store of an older build: no meta table, no identity file.
	stack_down
	sqlite "$JOBS" 'DROP TABLE serialcgi_meta; PRAGMA application_id = 0'
	rm "$RUN/private/serialcgi.jobs-id"
	env RUN_DIR="$RUN" PORT="$PORT" PROCESSES=1 WORK_SECONDS=0.1 \
		"$STACK" up >/dev/null
	run answer "$URL/jobs/$id"
	assert_output --regexp '"status":"succeeded".* 200$'
	[[ -s $RUN/private/serialcgi.jobs-id ]]
}

# ---- hostile bodies -----------------------------------------------------------

@test "hostile job bodies: each 400 with a valid JSON message; the job list stays valid JSON" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=0.1
	bodies=(
		'{}{}'
		'{} x'
		'{"callback_url":"http://example.com/"}[]'
		'{"callback_url":"http://\xffa.example/"}'
		'{"callback_url":"http://\xd0\xb5xample.com/"}'
		'{"callback_url":"http://\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.0.0.1/"}'
		'{"callback_url":"http://a\xe3\x80\x82example/"}'
		'{"callback_url":"http://%%D0%%B5xample.com/"}'
		'{"callback_url":"http://example.com:0/"}'
		'{"callback_url":"http://example.com:65536/"}'
		'{"callback_url":"http:///x"}'
		'{"callback_url":"http:/example.com/"}'
		'{"callback_url":"http://example.com/\\u0000x"}'
		'{"callback_url":"http://example.com/\x01"}'
		'{"callback_url":"http://example.com/\\u007f"}'
		'{"callback_url":"http://exa mple.com/"}'
		'{"callback_url":"ftp://example.com/"}'
		'{"callback_url":"http://...."}'
		'{"callback_url":"http://example.com/","callback_url":"http://example.com/"}'
		'{"x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9":1}'
		'{"\xc3":1}'
		'\x00{}'
		'"x"'
	)
	for b in "${bodies[@]}"; do
		code=$(post "$b")
		[[ $code == 400 ]] || { echo "body $b: $code $(cat "$BODY_FILE")"; false; }
		strict_json "$BODY_FILE"
		jq -e '.error | type == "string"' "$BODY_FILE" >/dev/null
	done
	# What passes: an ASCII name, an IDN in its xn-- form, a literal
	# the allowlist then judges (refused: loopback), a port.
	assert_equal "$(post '{"callback_url":"https://xn--e1afmkfd.example:8443/a?b=1"}')" 202
	assert_equal "$(post '{"callback_url":"http://127.0.0.1/"}')" 400
	run jq -r .error "$BODY_FILE"
	assert_output 'callback_url: address not allowed: 127.0.0.1'
	# Whatever an older build stored: raw bytes that are not UTF-8.
	sqlite "$JOBS" "INSERT INTO serialcgi_jobs (id, status, node, gen,
		ticket, owner_slot, owner_pid, arrived_mono, created_at,
		finished_at, error_code, error_message, cb_url, cb_state)
		VALUES ('0123456789abcdef0123456789abcdef', 'failed', 'elsewhere',
		'1', 1, 0, 1, 1, strftime('%s', 'now'), strftime('%s', 'now'),
		'x', CAST(X'637574c3' AS TEXT),
		CAST(X'687474703a2f2fff612e6578616d706c652f' AS TEXT), 'failed')"
	curl -s "$URL/jobs" >"$BATS_TEST_TMPDIR/list.json"
	strict_json "$BATS_TEST_TMPDIR/list.json"
	run jq -r '.jobs | length' "$BATS_TEST_TMPDIR/list.json"
	assert_output 2
	curl -s "$URL/jobs/0123456789abcdef0123456789abcdef" >"$BATS_TEST_TMPDIR/one.json"
	strict_json "$BATS_TEST_TMPDIR/one.json"
	run jq -r '.callback.url' "$BATS_TEST_TMPDIR/one.json"
	assert_output 'http://?a.example/'
}

# ---- kill -9 of multiwatch ------------------------------------------------------

@test "kill -9 of multiwatch under spawn/stack run: the stack stops itself, and the work in progress with it" {
	stack_place "$BATS_TEST_TMPDIR"
	env RUN_DIR="$RUN" PORT="$PORT" PROCESSES=2 WORK_SECONDS=3 \
		WORK_LOG="$LOG" setsid "$STACK" run >"$BATS_TEST_TMPDIR/run.out" 2>&1 &
	runner=$!
	wait_for "$BATS_TEST_TMPDIR/run.out" 'Ctrl-C stops it' 20
	CLIENTS=$BATS_TEST_TMPDIR/clients
	client w
	wait_for "$LOG" '^start .* w '
	kill -KILL "$(cat "$RUN/responders.pid")"
	# Within a few seconds, whole: the stack is gone.
	until_ok 10 "spawn/stack run gone" eval "! running $runner"
	wait "$runner" || rc=$?
	assert_equal "${rc:-0}" 1
	grep -q 'stack: a part of the stack died; stopping' "$BATS_TEST_TMPDIR/run.out"
	# The work in progress was killed: begun, never ended, and its
	# client got nginx's 502.
	wait
	assert_equal "$(status_of w)" 502
	run grep -c '^end .* w ' "$LOG"
	assert_output 0
	[[ -z $(pgrep -f "$RUN/serialcgi") ]]
	run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 000
}
