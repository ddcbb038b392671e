# tests/work.bash - what the tests of a real work share (98-work,
# 94-real-jobs, 99-upstream): the programs' directories, one request
# with its head and body kept, and the work log read by request id.
# Loaded after helper.bash.

# work_dirs: BIN, the programs (root's, 0555), and STATE, what they
# write (the service user's). A program finds STATE at
# ${0%/*}/../state, as it is given nothing of the test's environment.
work_dirs() {
	BIN=$BATS_TEST_TMPDIR/bin
	STATE=$BATS_TEST_TMPDIR/state
	mkdir -p "$BIN" "$STATE"
	chmod 0755 "$BIN" "$STATE"
	reachable "$BIN/x" "$BATS_RUN_TMPDIR"
	if (($(id -u) == 0)); then chown "$SERVICE_USER:" "$STATE"; fi
}

# program NAME: the program on stdin becomes BIN/NAME, mode 0555:
# neither the service user nor others may write it (WORK_COMMAND's
# rule).
program() {
	cat >"$BIN/$1"
	chmod 0555 "$BIN/$1"
}

# get PATH [CURL ARGS...]: one request, its X-Request-Id the last part
# of PATH without its query (ID); sets CODE, its status, TIME, curl's
# time for it (s), and H and B, the files of its head and body.
get() {
	local path=$1 id out
	shift
	id=${path%%\?*}
	id=${id##*/}
	H=$BATS_TEST_TMPDIR/$id.h B=$BATS_TEST_TMPDIR/$id.body
	out=$(curl -s -m 30 -H "X-Request-Id: $id" -D "$H" -o "$B" \
		-w '%{http_code} %{time_total}' "$@" "$URL$path")
	CODE=${out% *} TIME=${out#* }
}

# header NAME: its value in $H, without the CR.
header() {
	awk -v n="$(tr 'A-Z' 'a-z' <<<"$1")" -F': ' \
		'tolower($1) == n { sub(/\r$/, "", $2); print $2 }' "$H"
}

# start_of ID, end_of ID: the work log's (LOG) times of ID's work.
start_of() { awk -v id="$1" '$1 == "start" && $4 == id { print $2 }' "$LOG"; }
end_of() { awk -v id="$1" '$1 == "end" && $4 == id { print $2 }' "$LOG"; }

# holds EXPR: an awk condition on numbers is true.
holds() { awk "BEGIN { exit !($1) }"; }

# none_alive: no pid listed in STATE/pids is a process any more (a
# zombie counts as one: everything must have been reaped).
none_alive() {
	local p
	for p in $(cat "$STATE/pids"); do
		[[ ! -d /proc/$p ]] || { echo "pid $p is left" >&2; return 1; }
	done
}
