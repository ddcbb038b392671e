# tests/helper.bash - bring up a real stack (nginx + spawn-fcgi +
# multiwatch + serialcgi) on a free loopback port, and tear it down by
# the pids it recorded. Loaded by every test file.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
STACK=$TOP/spawn/stack
SERIALCGI=$TOP/serialcgi
export SERIALCGI
SERVICE_USER=${SERVICE_USER:-serialcgi}

# A port no TCP socket uses, chosen at random to keep parallel runs
# apart, and below the ephemeral range (32768-60999) that clients'
# own connections take their local ports from.
free_port() {
	local port i
	for ((i = 0; i < 50; i++)); do
		port=$((20000 + RANDOM % 12000))
		if [[ -z $(ss -Htan "sport = :$port") ]]; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# bats makes its temporary folders 0700; as root, let the unprivileged
# service user search (not read) the ones above its run directory.
reachable() {
	local d
	(($(id -u) == 0)) || return 0
	d=$(dirname "$1")
	while [[ $d == "$BATS_RUN_TMPDIR"* ]]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
}

# stack_up DIR [VAR=value ...]: start a stack in DIR/run; sets URL, RUN.
stack_up() {
	local dir=$1
	shift
	RUN=$dir/run
	PORT=$(free_port)
	URL=http://127.0.0.1:$PORT
	mkdir -p "$dir"
	reachable "$RUN"
	env RUN_DIR="$RUN" PORT="$PORT" "$@" "$STACK" up >"$dir/stack.out" 2>&1 || {
		cat "$dir/stack.out" >&2
		return 1
	}
	export RUN URL PORT
}

stack_down() {
	[[ -n ${RUN:-} ]] || return 0
	RUN_DIR=$RUN "$STACK" down
}

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

# Work log lines are "start|end <mono s> <pid> <request id>". Print
# "<start> <end> <pid>" per work, ordered by start.
works() {
	awk '$1 == "start" { s[$4] = $2; p[$4] = $3 }
	     $1 == "end"   { print s[$4], $2, p[$4] }' "$1" | sort -n
}

# CLOCK_MONOTONIC now, in seconds: the clock of the work log.
mono() {
	perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC \
		-e 'printf "%.6f\n", clock_gettime(CLOCK_MONOTONIC)'
}

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

# running PID: exists and is no zombie (orphans may be reaped late).
running() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z && $st != X ]]
}

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
