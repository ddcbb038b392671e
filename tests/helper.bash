# tests/helper.bash - bring up a real stack (nginx + spawn-fcgi +
# multiwatch + serialcgi) on a free loopback port, and tear it down by
# the pids it recorded. Loaded by every test file.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
# shellcheck source=spawn/lib.sh
. "$TOP/spawn/lib.sh"
LIB_WHO=test
STACK=$TOP/spawn/stack
SERIALCGI=$TOP/serialcgi
export SERIALCGI
SERVICE_USER=${SERVICE_USER:-serialcgi}

# stack_place DIR: where a stack in DIR/run goes; sets RUN, PORT, URL.
stack_place() {
	RUN=$1/run
	PORT=$(free_port)
	URL=http://127.0.0.1:$PORT
	mkdir -p "$1"
	# bats makes its folders 0700: as root, let the service user
	# search the ones above its run directory.
	reachable "$RUN" "$BATS_RUN_TMPDIR"
	export RUN URL PORT
}

# stack_up DIR [VAR=value ...]: start a stack in DIR/run; sets URL, RUN.
stack_up() {
	local dir=$1
	shift
	stack_place "$dir"
	env RUN_DIR="$RUN" PORT="$PORT" "$@" "$STACK" up >"$dir/stack.out" 2>&1 || {
		cat "$dir/stack.out" >&2
		return 1
	}
}

stack_down() {
	thaw
	[[ -n ${RUN:-} ]] || return 0
	RUN_DIR=$RUN "$STACK" down
}

# checkout_copy DIR: what another user runs of the checkout (spawn/,
# nginx/, the responder) copied into DIR, root's and readable by
# SERVICE_USER's group alone, with DIR's parents in bats' folders made
# searchable: a test never relies on the checkout's own path being open
# to others (a clone in a 0700 home is not). Sets COPY.
checkout_copy() {
	COPY=$1
	mkdir -p "$COPY"
	cp -R "$TOP/spawn" "$TOP/nginx" "$COPY/"
	cp "$SERIALCGI" "$COPY/serialcgi"
	if (($(id -u) == 0)); then
		chown -R "root:$(id -gn "$SERVICE_USER")" "$COPY"
		chmod -R u=rwX,g=rX,o= "$COPY"
		reachable "$COPY/x" "$BATS_RUN_TMPDIR"
	fi
}

# until_ok SECONDS WHAT CMD...: run CMD every 20 ms until it succeeds;
# after SECONDS (a whole number), say that WHAT never came, and fail.
until_ok() {
	local secs=$1 what=$2 end
	shift 2
	end=$((${EPOCHREALTIME/./} + secs * 1000000))
	until "$@" >/dev/null 2>&1; do
		if ((${EPOCHREALTIME/./} > end)); then
			echo "not within ${secs}s: $what" >&2
			return 1
		fi
		sleep 0.02
	done
}

# full: GET /status?json&full (the same as ?full, which the status page
# asks for: the access log tells the two apart).
full() { curl -s -m 5 "$URL/status?json&full"; }

# full_is JQ: /status?full satisfies JQ now.
full_is() { full | jq -e "$1" >/dev/null; }

# until_full JQ [SECONDS]: until /status?full satisfies JQ (default
# within 10 s), or fail showing the last answer.
until_full() {
	until_ok "${2:-10}" "/status?full with $1" full_is "$1" || {
		echo "/status?full: $(full)" >&2
		return 1
	}
}

# queued_pid ID: the pid of the process where request ID waits, by
# /status?full; empty when it does not wait.
queued_pid() { full | jq -r --arg id "$1" '.queue[] | select(.id == $id) | .pid'; }

# stopped PID: the process is stopped (state T, proc(5)).
stopped() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[[ ${st%% *} == [Tt] ]]
}

# freeze PID...: SIGSTOP each, and wait until it is stopped. A frozen
# responder keeps its place on the board (its locks stay held) and takes
# no connection: a state the test asserts stays as it is until thaw.
FROZEN=
freeze() {
	local p
	kill -STOP "$@"
	FROZEN="$FROZEN $*"
	for p in "$@"; do
		until_ok 5 "pid $p stopped" stopped "$p" || return 1
	done
}

# thaw: SIGCONT whatever freeze stopped.
thaw() {
	local p
	for p in $FROZEN; do kill -CONT "$p" 2>/dev/null || true; done
	FROZEN=
	return 0
}

# ahead_of_load PID...: as root, every thread of each process under
# SCHED_FIFO (chrt(1); threads made later inherit it), so that what a
# test times in them is what they do, not how long a CPU load beside
# them kept them waiting. A plain user cannot; nothing then.
ahead_of_load() {
	local p
	(($(id -u) == 0)) || return 0
	for p in "$@"; do chrt -a -f -p 10 "$p" >/dev/null; done
}

# holder_pid LOG: the pid whose work is under way now, by the work log.
holder_pid() { holder_line "$1" | awk '{ print $3 }'; }

# started_pid LOG ID: the pid that started request ID's work.
started_pid() { awk -v id="$2" '$1 == "start" && $4 == id { print $3 }' "$1"; }

# The service user's uid/gid options for spawn-fcgi, when we are root.
drop_args() {
	(($(id -u) == 0)) && echo "-u $SERVICE_USER -g $SERVICE_USER"
	return 0
}

# fire N [path]: N requests at once with curl --parallel. Writes one line
# per answer to $FIRED, sorted by arrival:
#   <time_total s> <http status> <time_pretransfer s> <body file>
fire() {
	local n=$1 path=${2:-/test} dir i args=()
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/fire.XXXXXX")
	for ((i = 1; i <= n; i++)); do
		args+=(-o "$dir/$i.json" "$URL$path")
	done
	FIRED=$dir/answers
	curl -s --parallel --parallel-immediate --parallel-max "$n" \
		-w '%{time_total} %{http_code} %{time_pretransfer} %{filename_effective}\n' \
		"${args[@]}" 2>"$dir/curl.err" | sort -n >"$FIRED"
	export FIRED
}

# elapsed FILE: the "elapsed" number of one JSON answer.
elapsed() { jq -e -r '.elapsed' "$1"; }

# kill_at SIG PID: send SIG to PID and print the monotonic time just
# before it was sent.
kill_at() {
	perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e '
		my $t = clock_gettime(CLOCK_MONOTONIC);
		kill($ARGV[0], $ARGV[1]) or die "kill $ARGV[1]: $!\n";
		printf "%.6f\n", $t;' "$1" "$2"
}

# wait_for FILE REGEX [SECONDS]: until a line of FILE matches.
wait_for() {
	local file=$1 re=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 50; i++)); do
		grep -qE "$re" "$file" 2>/dev/null && return 0
		sleep 0.02
	done
	echo "no line matching '$re' in $file after ${secs}s" >&2
	return 1
}

# client ID [path]: one curl in the background, with X-Request-Id: ID.
# Its status and time go to $CLIENTS/ID.out, headers to ID.h, body to
# ID.json; its pid to $CLIENTS/ID.pid.
client() {
	local id=$1 path=${2:-/test}
	CLIENTS=${CLIENTS:-$BATS_TEST_TMPDIR/clients}
	mkdir -p "$CLIENTS"
	curl -s -H "X-Request-Id: $id" -D "$CLIENTS/$id.h" \
		-o "$CLIENTS/$id.json" -w '%{http_code} %{time_total}\n' \
		"$URL$path" >"$CLIENTS/$id.out" 2>/dev/null &
	echo $! >"$CLIENTS/$id.pid"
}

# status_of ID: the HTTP status a background client got (wait first).
status_of() { awk '{ print $1 }' "$CLIENTS/$1.out"; }

# The responder processes: multiwatch's children.
responder_pids() { pgrep -P "$(cat "$RUN/responders.pid")" | sort; }

# The pid holding the lock now: a start line without its end.
holder_line() {
	awk '$1 == "start" { s[$4] = $0 } $1 == "end" { delete s[$4] }
	     END { for (k in s) print s[k] }' "$1"
}

# raw SOCKET FILE [HOLD]: write FILE's bytes straight to the responder's
# unix socket, bypassing nginx; keep the connection open for HOLD
# seconds (default 2) while reading the answer. Prints the answer's
# byte count and its first line.
raw() {
	perl -MIO::Socket::UNIX -MIO::Select -e '
		my ($path, $file, $hold) = @ARGV;
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
		    Peer => $path) or die "connect $path: $!\n";
		open(my $f, "<:raw", $file) or die "$file: $!\n";
		local $/; my $bytes = <$f>;
		$s->syswrite($bytes) if length $bytes;
		my ($got, $sel, $end) = ("", IO::Select->new($s), time + $hold);
		while ((my $left = $end - time) > 0) {
			last unless $sel->can_read($left);
			my $n = $s->sysread(my $buf, 65536);
			last unless $n;
			$got .= $buf;
		}
		my ($line) = $got =~ /(Status: [^\r\n]*)/;
		printf "%d %s\n", length $got, $line // "-";' "$1" "$2" "${3:-2}"
}

# fire_many N [path]: N requests at once from ceil(N/250) curl processes
# (curl runs at most 300 transfers in parallel); one line per answer in
# $FIRED as fire() writes them.
fire_many() {
	local n=$1 path=${2:-/test} dir k i per=250 args pids=()
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/fire.XXXXXX")
	for ((k = 0; k * per < n; k++)); do
		args=()
		for ((i = k * per; i < n && i < (k + 1) * per; i++)); do
			args+=(-o "$dir/$i.json" "$URL$path")
		done
		curl -s --parallel --parallel-immediate --parallel-max "$per" \
			-w '%{time_total} %{http_code} %{time_pretransfer} %{filename_effective}\n' \
			"${args[@]}" >"$dir/part.$k" 2>>"$dir/curl.err" &
		pids+=($!)
	done
	wait "${pids[@]}"
	FIRED=$dir/answers
	sort -n "$dir"/part.* >"$FIRED"
	export FIRED
}

# as_user CMD...: CMD as an unprivileged user: SERVICE_USER when we are
# root (from /: it may not enter the checkout, and psql says so), else
# ourselves.
as_user() {
	if (($(id -u) == 0)); then
		(cd / && as_service "$@")
	else
		"$@"
	fi
}

# engine_up DIR: a private PostgreSQL in DIR (spawn/engine) on a free
# port; sets ENGINE_DIR, ENGINE_PORT, LOCK_URL and PSQL (an array: psql
# as its superuser, through the same passfile).
engine_up() {
	ENGINE_DIR=$1
	ENGINE_PORT=$(free_port)
	mkdir -p "$(dirname "$ENGINE_DIR")"
	reachable "$ENGINE_DIR" "$BATS_RUN_TMPDIR"
	export ENGINE_DIR ENGINE_PORT
	LOCK_URL=$("$TOP/spawn/engine" up) || return 1
	PSQL=(as_user psql -X -A -t -q -v ON_ERROR_STOP=1 "$LOCK_URL")
}

engine_down() {
	[[ -n ${ENGINE_DIR:-} ]] || return 0
	"$TOP/spawn/engine" down
}

# sql QUERY: run QUERY on the private engine; prints its rows.
sql() { "${PSQL[@]}" -c "$1"; }

# host_up NAME [VAR=value ...]: a whole stack ("host") in
# $BATS_TEST_TMPDIR/NAME sharing the engine; sets URL_<NAME> and
# RUN_<NAME>, and adds NAME to HOSTS for hosts_down.
host_up() {
	local name=$1
	shift
	stack_up "$BATS_TEST_TMPDIR/$name" LOCK_URL="$LOCK_URL" "$@" || return 1
	printf -v "URL_$name" %s "$URL"
	printf -v "RUN_$name" %s "$RUN"
	HOSTS="${HOSTS:-} $RUN"
}

hosts_down() {
	local r
	for r in ${HOSTS:-}; do
		RUN_DIR=$r "$STACK" down || true
	done
}

# shared_log: a work log path every host's service user may write; sets
# LOG.
shared_log() {
	mkdir -p "$BATS_TEST_TMPDIR/log"
	(($(id -u) == 0)) && chown "$SERVICE_USER:" "$BATS_TEST_TMPDIR/log"
	LOG=$BATS_TEST_TMPDIR/log/work.log
}

# cluster_setup, cluster_teardown: a test's own engine, the work log
# every host writes (LOG), and the clients' folder; then all down.
cluster_setup() {
	engine_up "$BATS_TEST_TMPDIR/engine"
	shared_log
	CLIENTS=$BATS_TEST_TMPDIR/clients
}
cluster_teardown() {
	hosts_down
	engine_down
}

# no_overlap: the works of the work log $LOG, one after the other.
no_overlap() {
	works "$LOG" >"$BATS_TEST_TMPDIR/works"
	run awk 'NR > 1 && $1 < end { print "overlap at " $1 } { end = $2 }' \
		"$BATS_TEST_TMPDIR/works"
	assert_output ""
}

# advisory_rows: the engine's advisory lock rows, "pid granted" each.
advisory_rows() {
	sql "select pid, granted from pg_locks where locktype = 'advisory'"
}

# until_rows REGEX [SECONDS]: until advisory_rows, as one text,
# matches REGEX (default within 10 s).
until_rows() {
	local rows_re=$1
	until_ok "${2:-10}" "advisory lock rows matching '$1'" \
		eval '[[ $(advisory_rows) =~ $rows_re ]]' || {
		echo "rows: $(advisory_rows | paste -sd' ' -)" >&2
		return 1
	}
}

# ---- jobs ---------------------------------------------------------------

# submit [CURL ARGS...]: POST /jobs; prints the new job's id. The answer's
# head goes to $BATS_TEST_TMPDIR/submit.h, its body to submit.json.
submit() {
	curl -s -D "$BATS_TEST_TMPDIR/submit.h" \
		-o "$BATS_TEST_TMPDIR/submit.json" -X POST "$@" "$URL/jobs"
	jq -r '.id // empty' "$BATS_TEST_TMPDIR/submit.json"
}

# job ID: the monitor's body for job ID.
job() { curl -s "$URL/jobs/$1"; }

# until_status ID STATUS [SECONDS]: poll every 50 ms until job ID has
# STATUS (default within 10 s); prints the job.
until_status() {
	local id=$1 want=$2 secs=${3:-10} i body
	for ((i = 0; i < secs * 20; i++)); do
		body=$(job "$id")
		if [[ $(jq -r .status <<<"$body") == "$want" ]]; then
			echo "$body"
			return 0
		fi
		sleep 0.05
	done
	echo "job $id not $want after ${secs}s: $body" >&2
	return 1
}

# starts ID: how many works of ID began, per the work log $LOG.
starts() { grep -c "^start .* $1 " "$LOG" || true; }

# sqlite DB SQL: run SQL on a job store as the service user.
sqlite() { as_user sqlite3 "$1" "$2"; }

# job_in_db ID: job ID's status as the SQLite store of $RUN has it.
job_in_db() {
	sqlite "$RUN/private/jobs.db" \
		"select status from serialcgi_jobs where id = '$1'"
}

# The metrics through the official client library's parser, which
# fails on anything that is not the text format. Prints "name value".
parse_metrics() {
	/usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print(s.name + ("{" + labels + "}" if labels else ""), s.value)
'
}
