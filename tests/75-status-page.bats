#!/usr/bin/env bats
# The live status page (/status?html) in a real browser, /status?full
# (the queue in order, the wait histogram, the host) and the process_*
# series of /metrics, per responder.

load helper

teardown() {
	stack_down
}

# full and until_full (helper.bash) ask for ?json&full, which is
# ?full; the page asks for ?full alone, so the access log tells the two
# apart.

# chromium_dom URL: the page's DOM once its first poll is shown, from
# Debian's headless Chromium, as root too (no sandbox; a fresh profile
# and HOME in the test's directory). Its console goes to
# $BATS_TEST_TMPDIR/chromium.err.
chromium_dom() {
	local dir
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/chromium.XXXXXX")
	HOME=$dir XDG_CONFIG_HOME=$dir XDG_CACHE_HOME=$dir \
		timeout 60 /usr/bin/chromium --headless --no-sandbox \
		--disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$dir/profile" \
		--enable-logging=stderr --virtual-time-budget=500 \
		--dump-dom "$1" 2>>"$BATS_TEST_TMPDIR/chromium.err"
}

# dom_facts: what a person reads on the page, from the DOM on stdin:
# "name text" for the summary's cells, then "queue N pid id waited" for
# each row of the queue, in the page's order.
dom_facts() {
	/usr/bin/python3 -c '
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input",
        "link", "meta", "source", "track", "wbr"}
IDS = ("state", "holder", "holder-pid", "working", "waiters", "served",
       "skipped", "rejected", "processes", "more", "hist-note")

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.facts, self.row, self.in_queue = [], {}, None, 0
    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        a = dict(attrs)
        self.stack.append(a.get("id"))
        if a.get("id") == "queue":
            self.in_queue = len(self.stack)
        if self.in_queue and tag == "tr":
            self.row = []
        if self.in_queue and tag == "td":
            self.row.append("")
    def handle_endtag(self, tag):
        if self.in_queue and tag == "tr" and self.row:
            print("queue", " ".join(self.row))
            self.row = None
        if tag not in VOID and self.stack.pop() == "queue":
            self.in_queue = 0
    def handle_data(self, data):
        for i in self.stack:
            if i in IDS:
                self.facts[i] = self.facts.get(i, "") + data
        if self.row is not None and self.row and self.stack[-1] is None:
            self.row[-1] += data.strip()

p = Page()
p.feed(sys.stdin.read())
for k in IDS:
    print(k, " ".join(p.facts.get(k, "").split()))
'
}

@test "/status?html: one page, no external assets, no-store; bad queries 400" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=0.1
	curl -s -D "$BATS_TEST_TMPDIR/h" -o "$BATS_TEST_TMPDIR/page" \
		"$URL/status?html"
	run grep -iE '^(HTTP/|content-type|cache-control|content-security)' "$BATS_TEST_TMPDIR/h"
	assert_line --index 0 --regexp '^HTTP/1.1 200 '
	assert_line --regexp '^Content-Type: text/html; charset=utf-8'
	assert_line --regexp '^Cache-Control: no-store'
	assert_line --regexp "^Content-Security-Policy: default-src 'none'; connect-src 'self';"
	# One file: inline style and script, nothing fetched from elsewhere.
	run grep -ciE '(src|href)[[:space:]]*=[[:space:]]*["'\'']?[[:space:]]*(https?:)?//' "$BATS_TEST_TMPDIR/page"
	assert_output 0
	run grep -cE 'https?:' "$BATS_TEST_TMPDIR/page"
	assert_output 0
	run grep -c '<script>' "$BATS_TEST_TMPDIR/page"
	assert_output 1
	run grep -c 'fetch("?full"' "$BATS_TEST_TMPDIR/page"
	assert_output 1
	run curl -s -o /dev/null -w '%{http_code} %{content_type}' "$URL/status?html&full"
	assert_output '200 text/html; charset=utf-8'
	# HEAD: the headers alone.
	run curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "$URL/status?html"
	assert_output '200 0'
	# ?json is the plain answer, byte for byte; anything else is 400.
	[[ $(curl -s "$URL/status?json") == "$(curl -s "$URL/status")" ]]
	for q in 'html&json' 'xml' 'full=1' '%66ull'; do
		run curl -s -w '%{http_code}' "$URL/status?$q"
		assert_output '{"error":"unknown query: /status takes ?json, ?full or ?html"}
400'
	done
	run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$URL/status?html"
	assert_output 403
}

@test "/status?full: holder and waiters in order with pid, id and seconds; histogram; host" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=2 \
		WORK_LOG="$BATS_TEST_TMPDIR/run/private/work.log"
	client q1
	# q1's process frozen: it holds while the others come, and the
	# answer is read (the other process parks them and answers).
	start_frozen "$RUN/private/work.log" q1
	holder=$HOLDER
	in_order 0.1 q2 q3 q4 q5 >"$BATS_TEST_TMPDIR/in_order" &
	until_full '.holder.id == "q1" and .waiters == 4'
	full >"$BATS_TEST_TMPDIR/full"
	run jq -c '.holder | {pid, id}' "$BATS_TEST_TMPDIR/full"
	assert_output "{\"pid\":$holder,\"id\":\"q1\"}"
	run jq -r '[.queue[].id] | join(" ")' "$BATS_TEST_TMPDIR/full"
	assert_output 'q2 q3 q4 q5'
	# Every waiter's pid is a live responder; the earlier waited longer,
	# by about the 0.1 s between the clients.
	pids=$(responder_pids | paste -sd, -)
	run jq -e --argjson p "[$pids]" '[.queue[].pid] | all(. as $x |
		$p | index($x))' "$BATS_TEST_TMPDIR/full"
	assert_success
	run jq -e '.queue | [range(1; length) as $i |
		.[$i - 1].waited_seconds - .[$i].waited_seconds] |
		all(. > 0.05 and . < 1)' "$BATS_TEST_TMPDIR/full"
	assert_success
	run jq -e '.holder.working_seconds > 0 and .holder.working_seconds
		< 2 and .holder.waited_seconds < 0.5' "$BATS_TEST_TMPDIR/full"
	assert_success
	# The plain answer's keys come first, with the same counts.
	run jq -c 'keys_unsorted' "$BATS_TEST_TMPDIR/full"
	assert_output '["holder","waiters","served","skipped","rejected","processes","queue","estimate","wait_seconds","host","jobs"]'
	# The queue's estimates count on the median of the last works:
	# the holder's is one, so each waiter's eta is one work more.
	run jq -e '.estimate.typical_work_seconds > 0 and
		(.queue | [range(1; length) as $i | .[$i].eta_seconds -
		.[$i - 1].eta_seconds] | all(. > 0))' "$BATS_TEST_TMPDIR/full"
	assert_success
	# The histogram as /metrics has it: 13 buckets, cumulative, +Inf.
	run jq -e '.wait_seconds | (.buckets | length == 13) and
		.buckets[-1].le == "+Inf" and .buckets[-1].count == .count and
		.count == 1 and ([.buckets[].count] | . == sort)' "$BATS_TEST_TMPDIR/full"
	assert_success
	# The host: the kernel's load average, the run directory's disk.
	read -r _ _ l15 _ </proc/loadavg
	run jq -e --argjson l "$l15" '.host.load_average | length == 3 and
		all(. >= 0) and (.[2] - $l | fabs) < 0.1' "$BATS_TEST_TMPDIR/full"
	assert_success
	avail=$(df -B1 --output=avail "$RUN/private" | tail -1)
	run jq -e --arg d "$RUN/private" --argjson a "$avail" '.host.disk |
		.path == $d and .free_bytes <= .total_bytes and
		((.free_bytes - $a) | fabs) < $a / 100' "$BATS_TEST_TMPDIR/full"
	assert_success
	thaw
	wait
	run bash -c "curl -s '$URL/status?full' | jq -c '{holder, waiters, queue, served, n: .wait_seconds.count}'"
	assert_output '{"holder":null,"waiters":0,"queue":[],"served":5,"n":5}'
}

@test "/status?full: a queued job shows as a job, by the id of the request that made it, never its job id" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=1 \
		WORK_LOG="$BATS_TEST_TMPDIR/run/private/work.log"
	client h1
	# h1 holds until the queue is read: its process frozen.
	start_frozen "$RUN/private/work.log" h1
	id=$(submit -H 'X-Request-Id: made-job')
	[[ $id =~ ^[0-9a-f]{32}$ ]]
	until_full '.holder.id == "h1" and .waiters == 1'
	full >"$BATS_TEST_TMPDIR/full"
	run jq -c '[.holder.id, (.queue[] | {id, job, orphan})]' "$BATS_TEST_TMPDIR/full"
	assert_output '["h1",{"id":"made-job","job":true,"orphan":null}]'
	# A job's id is its only secret: /status?full never shows it.
	run grep -c "$id" "$BATS_TEST_TMPDIR/full"
	assert_output 0
	thaw
	wait
}

# fds PID: how many descriptors the process has open now (proc(5)).
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# quiet_figures ANSWERER: /metrics as ANSWERER gives it, every other
# responder frozen meanwhile, and what ps(1) and proc(5) say of each
# frozen one, "pid times etimes rss vsz fds now" a line. A frozen
# process takes no connection, so ANSWERER answers; and it opens,
# closes and touches nothing, so that the figures read of it by
# ANSWERER and by ps are those of one moment. (A process's own view of
# itself is of no moment: it holds the connection it answers, and the
# kernel counts the pages its threads touch lately apart, up to 256 KiB
# a thread.) Into $BATS_TEST_TMPDIR/{metrics,parsed,proc}.ANSWERER.
quiet_figures() {
	local a=$1 d=$BATS_TEST_TMPDIR pid others=() times etimes rss vsz
	for pid in $(responder_pids); do
		[[ $pid == "$a" ]] || others+=("$pid")
	done
	freeze "${others[@]}"
	curl -s "$URL/metrics" >"$d/metrics.$a"
	: >"$d/proc.$a"
	for pid in "${others[@]}"; do
		read -r times etimes rss vsz < <(ps -o times=,etimes=,rss=,vsz= -p "$pid")
		echo "$pid $times $etimes $rss $vsz $(fds "$pid") $(date +%s)" >>"$d/proc.$a"
	done
	thaw
	parse_metrics <"$d/metrics.$a" >"$d/parsed.$a"
}

# metrics_pids: the pids of /metrics' process_open_fds series, sorted.
metrics_pids() {
	curl -s "$URL/metrics" | grep -oE '^process_open_fds\{pid="[0-9]+"\}' |
		grep -oE '[0-9]+' | sort | paste -sd' ' -
}

@test "/metrics: process_* series for each responder, by pid, through the official parser" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=3 WORK_SECONDS=0.1
	curl -s "$URL/test" >/dev/null
	mapfile -t pids < <(responder_pids)
	# Each responder's figures as another one read them: the last
	# answers with the others frozen, then the first.
	quiet_figures "${pids[2]}"
	quiet_figures "${pids[0]}"
	m=$BATS_TEST_TMPDIR/metrics.${pids[2]}
	parsed=$BATS_TEST_TMPDIR/parsed.${pids[2]}
	# Ours are as they were: eleven families, none of them process_*.
	run grep -c '^# TYPE serialcgi_' "$m"
	assert_output 11
	for f in process_cpu_seconds_total process_resident_memory_bytes \
		process_virtual_memory_bytes process_open_fds \
		process_start_time_seconds; do
		run grep -c "^# TYPE $f " "$m"
		assert_output 1
		run bash -c "grep -oE '^$f\\{pid=[0-9]+\\}' '$parsed' |
			grep -oE '[0-9]+' | sort | paste -sd' ' -"
		assert_output "$(responder_pids | paste -sd' ' -)"
	done
	# Each figure against what ps(1) and proc(5) said of the process.
	{ grep -vw "^${pids[2]}" "$BATS_TEST_TMPDIR/proc.${pids[2]}" |
		sed "s|\$| ${pids[2]}|"
	  grep -w "^${pids[2]}" "$BATS_TEST_TMPDIR/proc.${pids[0]}" |
		sed "s|\$| ${pids[0]}|"; } >"$BATS_TEST_TMPDIR/checks"
	run wc -l <"$BATS_TEST_TMPDIR/checks"
	assert_output 3
	while read -r pid times etimes rss vsz fds now a; do
		v() { awk -v k="$1{pid=$pid}" '$1 == k { print $2 }' "$BATS_TEST_TMPDIR/parsed.$a"; }
		awk -v cpu="$(v process_cpu_seconds_total)" -v t="$times" \
		    -v res="$(v process_resident_memory_bytes)" -v rss="$rss" \
		    -v virt="$(v process_virtual_memory_bytes)" -v vsz="$vsz" \
		    -v fd="$(v process_open_fds)" -v n="$fds" \
		    -v st="$(v process_start_time_seconds)" -v now="$now" \
		    -v up="$etimes" 'BEGIN {
			d = cpu - t; if (d < 0) d = -d
			r = res - rss * 1024; if (r < 0) r = -r
			s = now - up - st; if (s < 0) s = -s
			v = virt - vsz * 1024; if (v < 0) v = -v
			f = fd - n; if (f < 0) f = -f
			# Apart from moments: the one that answered
			# /metrics held that connection then.
			ok = d <= 1 && res > 0 &&
			    (r <= 256 * 1024 || r <= res / 10) &&
			    v <= 1024 * 1024 && f <= 1 && s <= 2
			if (!ok) print "cpu " cpu "/" t " rss " res "/" rss \
			    " vsz " virt "/" vsz " fds " fd "/" n \
			    " start " st "/" now - up
			exit !ok }' || fail "pid $pid: figures differ from ps and proc"
	done <"$BATS_TEST_TMPDIR/checks"
	# A responder killed is gone from the series; its respawn is in,
	# once it has started.
	victim=$(responder_pids | head -1)
	kill -KILL "$victim"
	until_ok 10 "the respawned responder in /metrics" eval \
		'[[ $(responder_pids | wc -l) -eq 3 ]] &&
		! responder_pids | grep -qx "$victim" &&
		[[ $(metrics_pids) == "$(responder_pids | paste -sd" " -)" ]]'
	run metrics_pids
	assert_output "$(responder_pids | paste -sd' ' -)"
	refute_output --regexp "(^| )$victim( |$)"
}

@test "the page in Chromium: holder and 4 waiters in order, then the counts fall" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_SECONDS=2 \
		WORK_LOG="$BATS_TEST_TMPDIR/run/private/work.log"
	local log=$BATS_TEST_TMPDIR/run/private/work.log
	client p1
	# Chromium takes a second or more to start, more than is left of
	# a work on a loaded machine: the holder's process is frozen while
	# the page is read, so that the state it shows stays the one
	# asserted (a frozen process takes no connection: the other one
	# answers the page, and parks the waiters).
	start_frozen "$log" p1
	holder=$HOLDER
	run grep -c '^end ' "$log"
	assert_output 0
	in_order 0.05 p2 p3 p4 p5 >"$BATS_TEST_TMPDIR/in_order" &
	until_full '.holder.id == "p1" and .waiters == 4'
	t0=$(mono)
	chromium_dom "$URL/status?html" | dom_facts >"$BATS_TEST_TMPDIR/dom1"
	t1=$(mono)
	run grep -vE '^(state|working|hist-note|queue) ' "$BATS_TEST_TMPDIR/dom1"
	assert_output "holder p1
holder-pid pid $holder
waiters 4
served 0
skipped 0
rejected 0
processes 2
more " || fail "Chromium took $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
	run grep -oE '^queue [0-9]+ [0-9]+ p[0-9]' "$BATS_TEST_TMPDIR/dom1"
	assert_output --regexp '^queue 1 [0-9]+ p2
queue 2 [0-9]+ p3
queue 3 [0-9]+ p4
queue 4 [0-9]+ p5$'
	run grep -E '^(state|working) ' "$BATS_TEST_TMPDIR/dom1"
	assert_line --regexp '^state updated '
	assert_line --regexp '^working [0-9.]+ s$'
	# The next work: one fewer waiting, one served; its process
	# frozen in turn while the page is read.
	thaw
	start_frozen "$log" p2
	run grep -c '^end .* p2 ' "$log"
	assert_output 0
	until_full '.holder.id == "p2" and .waiters == 3 and .served == 1'
	chromium_dom "$URL/status?html" | dom_facts >"$BATS_TEST_TMPDIR/dom2"
	run grep -E '^(holder|waiters|served) ' "$BATS_TEST_TMPDIR/dom2"
	assert_output "holder p2
waiters 3
served 1"
	run grep -oE '^queue [0-9]+ [0-9]+ p[0-9]' "$BATS_TEST_TMPDIR/dom2"
	assert_output --regexp '^queue 1 [0-9]+ p3
queue 2 [0-9]+ p4
queue 3 [0-9]+ p5$'
	# All done: nobody holds or waits, five served, five waits drawn.
	thaw
	wait
	chromium_dom "$URL/status?html" | dom_facts >"$BATS_TEST_TMPDIR/dom3"
	run grep -E '^(holder|waiters|served|more|hist-note|queue) ' "$BATS_TEST_TMPDIR/dom3"
	assert_output --regexp '^holder none
waiters 0
served 5
more nobody waits
hist-note 5 waits, mean [0-9.]+ s$'
	# Each page asked for ?full (its Content-Security-Policy let it),
	# and its script raised no error.
	run grep -c '"GET /status?full HTTP/1.1" 200' "$RUN/private/access.log"
	assert_output 3
	run grep -E 'CONSOLE.*Uncaught' "$BATS_TEST_TMPDIR/chromium.err"
	assert_output ''
}
