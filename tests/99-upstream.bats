#!/usr/bin/env bats
# An HTTP upstream as the work (WORK_URL, issue 19): real nginx, real
# responders, and a real upstream, tests/upstream.py, that answers 500
# "overlap" whenever two requests are inside it at once and logs each
# one (JSON lines, CLOCK_MONOTONIC times, comparable with the work log).
# It never sees two callers, across processes and hosts; it gets every
# request byte for byte with the hop-by-hop fields gone; and every way a
# call can fail has its status and its one line.

load helper
load work

setup() {
	LOG=$BATS_TEST_TMPDIR/run/private/work.log
	CLIENTS=$BATS_TEST_TMPDIR/clients
	UPIDS=
}

teardown() {
	stack_down
	hosts_down
	engine_down
	upstreams_down
}

# upstream_up NAME [ARGS...]: tests/upstream.py on a free port, its log
# in $BATS_TEST_TMPDIR/NAME.jsonl; sets UPORT and UPLOG. Its output goes
# to a file, and fd 3 is closed, or bats would wait for it.
upstream_up() {
	local name=$1 pf
	shift
	pf=$BATS_TEST_TMPDIR/$name.port
	UPLOG=$BATS_TEST_TMPDIR/$name.jsonl
	rm -f "$pf"
	python3 "$TOP/tests/upstream.py" --log "$UPLOG" --port-file "$pf" \
		"$@" >"$BATS_TEST_TMPDIR/$name.err" 2>&1 3>&- &
	UPIDS="$UPIDS $!"
	until_ok 10 "upstream $name listening" test -s "$pf" || {
		cat "$BATS_TEST_TMPDIR/$name.err" >&2
		return 1
	}
	UPORT=$(cat "$pf")
}

upstreams_down() {
	local p
	for p in $UPIDS; do kill "$p" 2>/dev/null || true; done
	for p in $UPIDS; do wait "$p" 2>/dev/null || true; done
	UPIDS=
}

# work_up [VAR=value...]: a stack forwarding /work to the upstream's
# /base/, its work log LOG.
work_up() {
	stack_up "$BATS_TEST_TMPDIR" WORK_LOG="$LOG" \
		WORK_URL="http://127.0.0.1:$UPORT/base/" "$@"
}

# calls: the upstream's requests (its log less other events), one JSON
# object a line, in the order they ended.
calls() { jq -c 'select(.method != null)' "$UPLOG"; }

# call_of ID: the request whose X-Request-Id is ID.
call_of() {
	calls | jq -c --arg id "$1" \
		'select(any(.headers[]; .[0] == "X-Request-Id" and .[1] == $id))'
}

# field ID JQ: JQ of the request whose X-Request-Id is ID.
field() { call_of "$1" | jq -r "$2"; }

# has_call ID: the upstream has logged the request whose X-Request-Id
# is ID.
has_call() { [[ -n $(call_of "$1") ]]; }

# up_overlaps: the calls that began before an earlier one had ended, by
# the upstream's own times.
up_overlaps() {
	calls | jq -r '"\(.start) \(.end)"' | sort -g |
		awk 'NR > 1 && $1 < end { print "overlap at " $1 }
		$2 > end { end = $2 }'
}

# up_no_overlap: the upstream saw no two requests inside it at once: by
# its own verdict, and by its times.
up_no_overlap() {
	run jq -s '[.[] | select(.method != null and .overlap)] | length' \
		"$UPLOG"
	assert_output 0
	run up_overlaps
	assert_output ""
}

# tokens_out_of_order: the calls whose X-Fence-Token is missing or not
# above the one before, in the order the upstream took them.
tokens_out_of_order() {
	calls | jq -r '"\(.start) \(.token)"' | sort -g |
		awk '$2 !~ /^[1-9][0-9]*$/ || (NR > 1 && $2 + 0 <= last) {
			print "token " $2 " after " last } { last = $2 + 0 }'
}

# pids_that_worked: how many processes took turns, by the work log.
pids_that_worked() { works "$LOG" | awk '{ print $3 }' | sort -u | wc -l; }

# ncalls: how many requests the upstream logged.
ncalls() { calls | wc -l; }

# wait_clients: until every background client has its answer (a bare
# wait would wait for the upstream too).
wait_clients() {
	local f
	for f in "$CLIENTS"/*.pid; do wait "$(cat "$f")" || true; done
}

# queued ID: request ID waits in a responder's queue now.
queued() { [[ -n $(queued_pid "$1") ]]; }

# plan N DIR URL...: N requests, as curl config files DIR/k.cfg, one per
# URL (the requests dealt round), varied in method, path, query and
# body (random bytes, NULs and all, some sent chunked); DIR/expect has
# what the upstream must see of each: "i method target-in-hex sha256".
plan() {
	python3 - "$@" <<'EOF'
import hashlib, os, random, sys
n, d, urls = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
os.makedirs(d, exist_ok=True)
rnd = random.Random(19)
methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "POST"]
cfg = [open("%s/%d.cfg" % (d, k), "w") for k in range(len(urls))]
with open(d + "/expect", "w") as exp:
    for i in range(n):
        m = methods[i % len(methods)]
        path = "/r/%d/a%%20b/caf%%C3%%A9/~!$&'()*+,;=:@x/" % i
        query = "i=%d&q=%%2F+x&e=&u=%%E2%%9C%%93&s=a/b?c" % i
        f = cfg[i % len(urls)]
        if i >= len(urls):
            f.write("next\n")
        f.write('url = "%s/work%s?%s"\n' % (urls[i % len(urls)], path,
                                              query))
        f.write('request = "%s"\nheader = "X-Request-Id: r%d"\n' % (m, i))
        body = b""
        if m in ("POST", "PUT", "PATCH"):
            body = rnd.randbytes(rnd.choice([0, 1, 100, 5000, 70000]))
            open("%s/%d.body" % (d, i), "wb").write(body)
            f.write('data-binary = "@%s/%d.body"\n' % (d, i))
            f.write('header = "Content-Type: application/octet-stream"\n')
            if i % 10 == 1:
                f.write('header = "Transfer-Encoding: chunked"\n')
        f.write('output = "%s/%d.out"\n' % (d, i))
        f.write('write-out = "%%{http_code} %d\\n"\n' % i)
        target = "/base%s?%s" % (path, query)
        exp.write("%d %s %s %s\n" % (i, m, target.encode().hex(),
                                      hashlib.sha256(body).hexdigest()))
EOF
}

# send DIR: every DIR/k.cfg at once (one curl each, all its requests in
# parallel); the answers' "status i" lines in DIR/answers.
send() {
	local f pids=()
	for f in "$1"/*.cfg; do
		curl -s --parallel --parallel-immediate --parallel-max 300 \
			-K "$f" >"$f.answers" 2>>"$1/curl.err" &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$1"/*.cfg.answers >"$1/answers"
}

# seen: what the upstream saw of the planned requests, as plan's
# expect has it.
seen() {
	calls | jq -r 'select(.path | startswith("/base/r/")) |
		"\(.path | split("/")[3]) \(.method) \(.target_hex)" +
		" \(.body_sha256)"'
}

# all_as_planned DIR N: N answers, all 200, each the upstream's own for
# that request; the upstream saw each request byte for byte, once.
all_as_planned() {
	local dir=$1 n=$2
	run awk '$1 != 200' "$dir/answers"
	assert_output ""
	run wc -l <"$dir/answers"
	assert_output "$n"
	sort -n "$dir/expect" >"$dir/expect.sorted"
	seen | sort -n >"$dir/seen"
	run diff "$dir/expect.sorted" "$dir/seen"
	assert_success
	# Each answer is the upstream's for that request (its JSON body).
	cat "$dir"/*.out | jq -r '"\(.path | split("/")[3]) \(.method)"' |
		sort -n >"$dir/answered"
	awk '{ print $1, $2 }' "$dir/expect.sorted" >"$dir/expect.answers"
	run diff "$dir/expect.answers" "$dir/answered"
	assert_success
}

@test "500 requests over 4 processes: the upstream sees no overlap, and each request byte for byte" {
	upstream_up up
	work_up PROCESSES=4
	plan 500 "$BATS_TEST_TMPDIR/p" "$URL"
	send "$BATS_TEST_TMPDIR/p"
	all_as_planned "$BATS_TEST_TMPDIR/p" 500
	up_no_overlap
	no_overlap
	# All four processes took turns.
	run pids_that_worked
	assert_output 4
}

@test "two hosts sharing PostgreSQL, 500 requests: no overlap, tokens strictly rise in the upstream's own order" {
	cluster_setup
	upstream_up up
	host_up A PROCESSES=2 WORK_LOG="$LOG" \
		WORK_URL="http://127.0.0.1:$UPORT/base/"
	host_up B PROCESSES=2 WORK_LOG="$LOG" \
		WORK_URL="http://127.0.0.1:$UPORT/base/"
	plan 500 "$BATS_TEST_TMPDIR/p" "$URL_A" "$URL_B"
	send "$BATS_TEST_TMPDIR/p"
	all_as_planned "$BATS_TEST_TMPDIR/p" 500
	up_no_overlap
	no_overlap
	# Every call carried a token, and they rise in the order the
	# upstream took the calls in (its own clock, not ours).
	run tokens_out_of_order
	assert_output ""
	# Both hosts worked (two processes each).
	run pids_that_worked
	((output >= 3))
}

@test "hop-by-hop fields never reach the upstream, Forwarded does; nor do theirs come back" {
	upstream_up up
	work_up PROCESSES=1
	head -c 70000 /dev/urandom >"$BATS_TEST_TMPDIR/body"
	get /work/hop/hop1 -X POST --data-binary @"$BATS_TEST_TMPDIR/body" \
		-H 'Connection: keep-alive, X-Named-Hop' -H 'X-Named-Hop: 1' \
		-H 'Keep-Alive: timeout=5' -H 'TE: trailers' \
		-H 'Transfer-Encoding: chunked' -H 'Upgrade: websocket' \
		-H 'Proxy-Connection: keep-alive' -H 'X-End-To-End: kept' \
		-H 'Forwarded: for=192.0.2.1' -H 'X-Fence-Token: 999' \
		-H 'Content-Type: application/octet-stream'
	[[ $CODE == 200 ]]
	names=$(field hop1 '[.headers[][0] | ascii_downcase] | join(" ")')
	for h in connection x-named-hop keep-alive te transfer-encoding \
		upgrade proxy-connection x-fence-token; do
		[[ " $names " != *" $h "* ]] || {
			echo "$h reached the upstream: $names" >&2
			return 1
		}
	done
	run field hop1 '.headers[] | select(.[0] == "X-End-To-End") | .[1]'
	assert_output kept
	# One Forwarded, ours: who asked, through which host and scheme.
	run field hop1 '.headers[] | select(.[0] == "Forwarded") | .[1]'
	assert_output 'for="127.0.0.1";host="127.0.0.1";proto=http'
	run field hop1 '.headers[] | select(.[0] == "Content-Length") | .[1]'
	assert_output 70000
	run field hop1 .body_sha256
	assert_output "$(sha256sum <"$BATS_TEST_TMPDIR/body" | cut -d' ' -f1)"
	run field hop1 .token
	assert_output null
	# Back: its end-to-end fields, none of its hop-by-hop ones, and
	# our Server-Timing.
	[[ $(header X-Upstream-Seq) == $(field hop1 .seq) ]]
	[[ -z $(header X-Upstream-Hop) && -z $(header Keep-Alive) ]]
	[[ $(header Server-Timing) == wait\;dur=*,\ work\;dur=* ]]
	[[ $(header X-Request-Id) == hop1 ]]
}

@test "the target goes out as it came; no dot segment climbs out of the base" {
	upstream_up up
	work_up PROCESSES=1
	# Raw bytes over 0x7f, %2F, an empty query: byte for byte.
	exec 4<>"/dev/tcp/127.0.0.1/$PORT"
	printf 'GET /work/caf\xc3\xa9/a%%2Fb/raw1?q=\xc3\xa9&x=%%2F HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: raw1\r\nConnection: close\r\n\r\n' >&4
	run head -n 1 <&4
	exec 4<&-
	assert_output --partial ' 200 '
	run field raw1 .target_hex
	assert_output "$(printf '/base/caf\xc3\xa9/a%%2Fb/raw1?q=\xc3\xa9&x=%%2F' | od -An -tx1 -v | tr -d ' \n')"
	# It sent no Accept, and the upstream got none (libcurl adds one).
	run field raw1 '[.headers[][0]] | index("Accept")'
	assert_output null
	get '/work/q/empty1?'
	run field empty1 .query
	assert_output ""
	get /work/q/none1
	run field none1 .query
	assert_output null
	# nginx matched /work/ on its normalized path: the raw one could
	# climb above the base at the upstream. Refused, never called.
	n=$(ncalls)
	for p in /work/a/../../work/dot1 /work/x/%2e%2E/%2e%2e/work/dot2 \
		/work/a/b%2F..%2F..%2Fwork/dot3 /work/./dot4; do
		get "$p" --path-as-is
		[[ $CODE == 400 ]]
		run jq -r .error "$B"
		assert_output 'not forwarded: a . or .. segment in the path'
	done
	run ncalls
	assert_output "$n"
	# Dots that are not a whole segment are only characters.
	get /work/a..b/.c/..%2ex/dots1
	[[ $CODE == 200 ]]
	run field dots1 .path
	assert_output /base/a..b/.c/..%2ex/dots1
}

@test "a 302 is relayed to the client, never followed" {
	upstream_up up
	work_up PROCESSES=1
	get /work/@redirect/moved1
	[[ $CODE == 302 ]]
	[[ $(header Location) == "http://127.0.0.1:$UPORT/followed" ]]
	[[ $(cat "$B") == moved ]]
	run calls
	assert_output --partial '"path":"/base/@redirect/moved1"'
	run ncalls
	assert_output 1
}

@test "upstream down: 502 in under 100 ms, saying so, counted" {
	dead=$(free_port)
	stack_up "$BATS_TEST_TMPDIR" WORK_LOG="$LOG" PROCESSES=2 \
		WORK_URL="http://127.0.0.1:$dead/base/"
	for i in 1 2 3 4 5; do
		get "/work/down$i"
		[[ $CODE == 502 ]]
		run jq -r .error "$B"
		assert_output --regexp "^upstream: Failed to connect to 127.0.0.1 port $dead.*Couldn't connect to server\$"
		echo "$TIME" >>"$BATS_TEST_TMPDIR/times"
	done
	# Each call failed at once (the work log's own times), and the
	# client had its answer in under 100 ms (the median of five: the
	# machine is shared).
	run works "$LOG"
	assert_success
	[[ -n $output ]]
	while read -r s e _; do holds "$e - $s < 0.1"; done <<<"$output"
	median=$(sort -g "$BATS_TEST_TMPDIR/times" | sed -n 3p)
	holds "$median < 0.1"
	grep -q "req=down1 .*upstream: Failed to connect" "$RUN/responders.log"
	run curl -s "$URL/metrics"
	assert_output --regexp 'serialcgi_work_ends_total\{end="failed"\} 5'
}

@test "an upstream that never answers: 504 at WORK_TIMEOUT, and the next request reaches it right after" {
	upstream_up up
	work_up PROCESSES=2 WORK_TIMEOUT=2
	client hang1 /work/@hang/hang1
	wait_for "$LOG" '^start .* hang1 '
	client next1 /work/next1
	until_ok 5 "next1 queued" queued next1
	wait_clients
	run status_of hang1
	assert_output 504
	run jq -r .error "$CLIENTS/hang1.json"
	assert_output 'upstream: no whole answer within WORK_TIMEOUT (2.000 s)'
	took=$(awk '{ print $2 }' "$CLIENTS/hang1.out")
	holds "$took >= 2.0 && $took < 3.0"
	# The upstream saw the call end (its connection closed) at
	# WORK_TIMEOUT, and the next one come in right after.
	[[ $(field hang1 .aborted) == true ]]
	hs=$(field hang1 .start) he=$(field hang1 .end)
	ns=$(field next1 .start)
	holds "$he - $hs >= 1.9 && $he - $hs < 2.5"
	echo "gap from the timeout to the next call: $(awk -v a="$he" -v b="$ns" 'BEGIN { print (b - a) * 1e3 }') ms" >&3
	holds "$ns - $he < 0.25"
	run status_of next1
	assert_output 200
	up_no_overlap
	run curl -s "$URL/metrics"
	assert_output --partial 'serialcgi_work_ends_total{end="timeout"} 1'
}

@test "a reset in the middle of the answer's body: 502, and the next call goes on" {
	upstream_up up
	work_up PROCESSES=1
	get /work/@reset/reset1
	[[ $CODE == 502 ]]
	run jq -r .error "$B"
	assert_output --regexp '^upstream: .*(reset|closed)'
	[[ $(field reset1 .mode) == reset ]]
	get /work/after1
	[[ $CODE == 200 ]]
	run curl -s "$URL/metrics"
	assert_output --partial 'serialcgi_work_ends_total{end="bad_answer"} 1'
}

@test "an answer over WORK_OUTPUT_MAX: 502 saying so; one at the bound passes whole" {
	upstream_up up
	work_up PROCESSES=1 WORK_OUTPUT_MAX=100000
	get /work/@bytes=100000/fits1
	[[ $CODE == 200 ]]
	[[ $(wc -c <"$B") == 100000 ]]
	get /work/@bytes=100001/over1
	[[ $CODE == 502 ]]
	run jq -r .error "$B"
	assert_output 'upstream: answer over WORK_OUTPUT_MAX (100000 bytes)'
}

@test "https with a private CA: passes with WORK_CA_FILE, 502 naming the verification failure without" {
	tls=$BATS_TEST_TMPDIR/tls
	mkdir -p "$tls"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
		-subj '/CN=serialcgi test CA' -keyout "$tls/ca.key" \
		-out "$tls/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' \
		-keyout "$tls/up.key" -out "$tls/up.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$tls/ext"
	openssl x509 -req -in "$tls/up.csr" -CA "$tls/ca.pem" \
		-CAkey "$tls/ca.key" -CAcreateserial -days 2 \
		-extfile "$tls/ext" -out "$tls/up.pem" 2>/dev/null
	# The service user reads the CA file, never the keys.
	chmod 0755 "$tls"
	chmod 0644 "$tls/ca.pem"
	reachable "$tls/x" "$BATS_RUN_TMPDIR"
	upstream_up tls --cert "$tls/up.pem" --key "$tls/up.key"
	stack_up "$BATS_TEST_TMPDIR/with" PROCESSES=1 \
		WORK_URL="https://127.0.0.1:$UPORT/base/" WORK_CA_FILE="$tls/ca.pem"
	get /work/tls1
	[[ $CODE == 200 ]]
	[[ $(field tls1 .tls) == true ]]
	stack_down
	stack_up "$BATS_TEST_TMPDIR/without" PROCESSES=1 \
		WORK_URL="https://127.0.0.1:$UPORT/base/"
	get /work/tls2
	[[ $CODE == 502 ]]
	run jq -r .error "$B"
	assert_output 'upstream: SSL certificate problem: unable to get local issuer certificate'
	# The upstream saw the handshake refused, and no request.
	run jq -r 'select(.event == "tls_error") | .error' "$UPLOG"
	assert_output --partial 'unknown ca'
	[[ -z $(call_of tls2) ]]
}

@test "WORK_URL is checked at start: exit 2 naming it" {
	for u in ftp://127.0.0.1/x http:///x http://127.0.0.1:0/ \
		http://127.0.0.1:65536/ 'http://127.0.0.1/api?key=1' \
		'http://127.0.0.1/#top' not-a-url; do
		WORK_URL=$u run "$SERIALCGI" --check
		assert_failure 2
		assert_output --partial "WORK_URL: $u"
	done
	# Credentials are refused, and never shown.
	WORK_URL=http://user:s3cret@127.0.0.1/ run "$SERIALCGI" --check
	assert_failure 2
	assert_output --partial 'WORK_URL: no credentials in the URL'
	refute_output --partial s3cret
	WORK_URL=http://127.0.0.1/ WORK_COMMAND=/bin/true \
		run "$SERIALCGI" --check
	assert_failure 2
	assert_output --partial 'WORK_COMMAND and WORK_URL'
	WORK_URL=http://127.0.0.1/ WORK_CA_FILE=$BATS_TEST_TMPDIR/none.pem \
		run "$SERIALCGI" --check
	assert_failure 2
	assert_output --partial "WORK_CA_FILE: $BATS_TEST_TMPDIR/none.pem"
	# The stack refuses it before starting anything.
	stack_place "$BATS_TEST_TMPDIR"
	RUN_DIR=$RUN PORT=$PORT WORK_URL=http://127.0.0.1:0/ run "$STACK" up
	assert_failure 2
	assert_output --partial 'WORK_URL: http://127.0.0.1:0/: port 0'
	[[ ! -e $RUN/nginx.master ]]
	WORK_URL=http://127.0.0.1:8080/base/ run "$SERIALCGI" --check
	assert_success
}

@test "WORK_ON_ABORT=stop: a client that leaves stops the call at the upstream; finish lets it end" {
	upstream_up up
	work_up PROCESSES=1 WORK_ON_ABORT=stop
	run curl -s -m 0.5 -H 'X-Request-Id: leave1' "$URL/work/@delay=5000/leave1"
	assert_failure 28
	until_ok 5 "the upstream's end of leave1" has_call leave1
	[[ $(field leave1 .aborted) == true ]]
	[[ $(field leave1 .status) == null ]]
	s=$(field leave1 .start) e=$(field leave1 .end)
	holds "$e - $s < 2"
	wait_for "$RUN/responders.log" 'req=leave1 upstream call stopped: the client left'
	get /work/stay1
	[[ $CODE == 200 ]]
	run curl -s "$URL/metrics"
	assert_output --partial 'serialcgi_work_ends_total{end="aborted"} 1'
	stack_down
	# finish (the default): the call runs to its end, its answer dropped.
	stack_up "$BATS_TEST_TMPDIR/finish" WORK_LOG="$LOG" PROCESSES=1 \
		WORK_URL="http://127.0.0.1:$UPORT/base/"
	run curl -s -m 0.3 -H 'X-Request-Id: leave2' "$URL/work/@delay=1000/leave2"
	assert_failure 28
	until_ok 5 "the upstream's end of leave2" has_call leave2
	[[ $(field leave2 .aborted) == false ]]
	[[ $(field leave2 .status) == 200 ]]
	s=$(field leave2 .start) e=$(field leave2 .end)
	holds "$e - $s >= 1"
}

@test "the lock lost in the middle of a call: the transfer is aborted, 503 lock lost" {
	cluster_setup
	upstream_up up
	host_up A PROCESSES=1 WORK_LOG="$LOG" WORK_TIMEOUT=30 \
		WORK_URL="http://127.0.0.1:$UPORT/base/"
	URL=$URL_A
	client held1 /work/@hang/held1
	wait_for "$LOG" '^start .* held1 '
	until_rows '\|t'
	run sql "select pg_terminate_backend(pid) from pg_locks
		where locktype = 'advisory' and granted"
	assert_output t
	wait_clients
	run status_of held1
	assert_output 503
	run jq -r .error "$CLIENTS/held1.json"
	assert_output 'lock lost'
	# The upstream saw its connection closed, long before WORK_TIMEOUT.
	until_ok 5 "the upstream's end of held1" has_call held1
	[[ $(field held1 .aborted) == true ]]
	s=$(field held1 .start) e=$(field held1 .end)
	holds "$e - $s < 5"
}

# its_head FILE: the fields of an answer's head that the upstream made,
# sorted, less those nginx and the responder add to any answer and the
# upstream's number of the call.
its_head() {
	tr -d '\r' <"$1" | awk -F': ' 'NR == 1 { print; next }
		NF > 1 && tolower($1) !~ /^(date|server|connection|keep-alive|transfer-encoding|content-length|x-request-id|server-timing|x-upstream-seq)$/' |
		sort
}

# same_call A B: the upstream saw requests A and B (by X-Request-Id,
# the last part of their paths) alike: method, path but that part,
# query, body, and every header but X-Request-Id, in the same order.
same_call() {
	local q='[.method, (.path | sub("/[^/]*$"; "")), .query,
		.body_sha256, [.headers[] | select(.[0] != "X-Request-Id")]]'
	assert_equal "$(field "$1" "$q | tojson")" "$(field "$2" "$q | tojson")"
}

@test "jobs: Prefer: respond-async, poll, result bytes equal to a sync call's" {
	upstream_up up
	work_up PROCESSES=2
	head -c 70000 /dev/urandom >"$BATS_TEST_TMPDIR/body"
	ask=(-X POST --data-binary "@$BATS_TEST_TMPDIR/body"
		-H 'Content-Type: application/octet-stream' -H 'X-Mine: 1')
	# The same request, sync and async (the upstream's JSON answer
	# names its path, query and body's digest).
	get '/work/same/sync1?q=%2F1' "${ask[@]}"
	[[ $CODE == 200 ]]
	sync_h=$H sync_b=$B
	get '/work/same/async1?q=%2F1' "${ask[@]}" -H 'Prefer: respond-async'
	[[ $CODE == 202 ]]
	id=$(jq -r .id "$B")
	[[ $(header Location) == "/jobs/$id" ]]
	[[ $(header Preference-Applied) == respond-async ]]
	body=$(until_status "$id" succeeded)
	run jq -r '"\(.kind) \(.answer.status) \(.answer.content_type) \(.answer.partial)"' <<<"$body"
	assert_output 'work 200 application/json false'
	H=$BATS_TEST_TMPDIR/result.h B=$BATS_TEST_TMPDIR/result.body
	run curl -s -D "$H" -o "$B" -w '%{http_code}' "$URL/jobs/$id/result"
	assert_output 200
	# Byte for byte, but for the upstream's number of the call (in
	# its body and its X-Upstream-Seq) and the request's own path.
	run diff <(its_head "$H") <(its_head "$sync_h")
	assert_success
	assert_equal "$(header X-Upstream-Seq)" "$(field async1 .seq)"
	norm='del(.seq) | .path |= sub("/[a-z0-9]+$"; "")'
	assert_equal "$(jq -cS "$norm" "$B")" "$(jq -cS "$norm" "$sync_b")"
	run jq -r .body_sha256 "$B"
	assert_output "$(sha256sum <"$BATS_TEST_TMPDIR/body" | cut -d' ' -f1)"
	# Its size counts the head kept with the body.
	(($(jq -r .answer.size <<<"$body") > $(wc -c <"$B")))
	# The upstream saw the job's call as the sync one: no Prefer
	# (applied here), the request's own X-Request-Id.
	same_call sync1 async1
	[[ $(field async1 '.headers[] | select(.[0] == "X-Request-Id") | .[1]') == async1 ]]
	# A body the upstream makes alike each time: the same bytes.
	get /work/@bytes=300000/sync2
	sync_h=$H sync_b=$B
	get /work/@bytes=300000/async2 -H 'Prefer: respond-async'
	id=$(jq -r .id "$B")
	until_status "$id" succeeded >/dev/null
	H=$BATS_TEST_TMPDIR/result2.h B=$BATS_TEST_TMPDIR/result2.body
	run curl -s -D "$H" -o "$B" -w '%{http_code}' "$URL/jobs/$id/result"
	assert_output 200
	cmp "$B" "$sync_b"
	run diff <(its_head "$H") <(its_head "$sync_h")
	assert_success
	up_no_overlap
	no_overlap
}

@test "jobs: POST /jobs/{id}/cancel of a running upstream call aborts it" {
	upstream_up up
	work_up PROCESSES=2 WORK_TIMEOUT=30
	get /work/@hang/hang1 -H 'Prefer: respond-async'
	[[ $CODE == 202 ]]
	id=$(jq -r .id "$B")
	wait_for "$LOG" "^start .* $id "
	client next1 /work/next1
	until_ok 5 "next1 queued" queued next1
	until_status "$id" running >/dev/null
	run curl -s -w ' %{http_code}' -X POST "$URL/jobs/$id/cancel"
	assert_output --regexp '"cancel_requested":true.* 202$'
	body=$(until_status "$id" canceled 10)
	run jq -r '"\(.exit_status) \(.answer)"' <<<"$body"
	assert_output 'null null'
	# The upstream saw its connection closed, long before
	# WORK_TIMEOUT, and the next call only after.
	until_ok 5 "the upstream's end of hang1" has_call hang1
	[[ $(field hang1 .aborted) == true ]]
	s=$(field hang1 .start) e=$(field hang1 .end)
	holds "$e - $s < 15"
	wait_clients
	run status_of next1
	assert_output 200
	holds "$(field next1 .start) >= $e"
	up_no_overlap
	no_overlap
	grep -q "job=$id canceled" "$RUN/responders.log"
	run curl -s "$URL/jobs/$id/result"
	assert_output '{"error":"no result: the job is canceled"}'
}
