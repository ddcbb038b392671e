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

# A port nobody listens on, chosen at random to keep parallel runs apart.
free_port() {
	local port i
	for ((i = 0; i < 50; i++)); do
		port=$((20000 + RANDOM % 40000))
		if [[ -z $(ss -Hltn "sport = :$port") ]]; then
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
