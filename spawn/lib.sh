# spawn/lib.sh - shell functions shared by spawn/stack, tests/helper.bash
# and tests/bench. Sourced, never run; bash only.

# die MESSAGE...: print "<who>: MESSAGE" to stderr and exit with
# ${code:-1}. who is ${LIB_WHO:-stack}.
die() { echo "${LIB_WHO:-stack}: $*" >&2; exit "${code:-1}"; }

# bad MESSAGE...: a bad setting: exit status 2.
bad() { code=2 die "$@"; }

# int_in NAME VALUE MIN MAX: VALUE is digits only (no octal, sign or
# blanks) within [MIN, MAX], or exit 2 naming the setting.
int_in() {
	local name=$1 val=$2 min=$3 max=$4
	[[ $val =~ ^[0-9]{1,9}$ ]] && ((10#$val >= min && 10#$val <= max)) ||
		bad "$name: \"$val\" is not a whole number from $min to $max"
}

# The next three fork nothing: under a tight RLIMIT_NPROC (shared
# hosting) a fork can fail, and bash then retries it for seconds.

# running PID: exists and is not a zombie (whoever reaps orphans here
# may take its time). The state follows the ")" of the command name
# in /proc/PID/stat (proc(5)).
running() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	st=${st%% *}
	[[ -n $st && $st != Z && $st != X ]]
}

# started PID: set START to the process's start time (clock ticks after
# boot: field 22 of /proc/PID/stat, proc(5)). Returns 1 if there is no
# such process.
started() {
	local st f
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	read -r -a f <<<"${st##*) }"
	START=${f[19]:-}
	[[ -n $START ]]
}

# record_pid PIDFILE PID: PID into PIDFILE, and its start time into
# PIDFILE.start, so that the same pid, reused by another process after
# a reboot or a long while, is never taken for ours.
record_pid() {
	echo "$2" >"$1"
	if started "$2"; then
		echo "$START" >"$1.start"
	else
		rm -f "$1.start"
	fi
}

# alive PIDFILE: the pid in PIDFILE is running, and is the process
# record_pid recorded (where it recorded a start time).
alive() {
	local pid start
	[[ -s $1 ]] && read -r pid <"$1" && running "$pid" || return 1
	[[ -s $1.start ]] || return 0
	read -r start <"$1.start" && started "$pid" && [[ $START == "$start" ]]
}

# reap_group PIDFILE: leftovers of a process group we started whose
# leader died (nginx workers outlive a killed master; responders their
# multiwatch): setsid made the leader's pid the group id.
reap_group() {
	local pidfile=$1 pgid
	[[ -s $pidfile ]] || return 0
	read -r pgid <"$pidfile"
	running "$pgid" && return 0
	# Zombies count for pgrep -g, but need no killing.
	if pgrep -g "$pgid" -r D,R,S,T >/dev/null; then
		echo "${LIB_WHO:-stack}: killing leftovers of process group $pgid" >&2
		kill -KILL -- "-$pgid" 2>/dev/null || true
	fi
	return 0
}

# nap SECONDS: sleep without sleep(1): a read that times out on a FIFO
# nobody writes. nap_open DIR makes the FIFO once, beforehand.
nap_open() {
	local fifo=$1/.nap.$$
	rm -f "$fifo"
	mkfifo -m 0600 "$fifo" && exec {NAP_FD}<>"$fifo" && rm -f "$fifo"
}
nap() {
	if [[ -n ${NAP_FD:-} ]]; then
		read -rt "$1" -u "$NAP_FD" _ || true
	else
		sleep "$1"
	fi
}

# listening PORT: a TCP socket listens on PORT, on any address, by
# proc(5)'s /proc/net/tcp and tcp6 (this network namespace's). Forks
# nothing.
listening() {
	local hex f local st _
	printf -v hex '%04X' "$1"
	for f in /proc/net/tcp /proc/net/tcp6; do
		[[ -r $f ]] || continue
		while read -r _ local _ st _; do
			[[ $st == 0A && ${local##*:} == "$hex" ]] && return 0
		done <"$f"
	done
	return 1
}

# free_port: a TCP port nobody uses, at random in 20000-31999: below the
# ephemeral range (32768-60999) that clients take their ports from.
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

# as_service CMD...: run CMD as SERVICE_USER (root only).
as_service() {
	setpriv --reuid="$SERVICE_USER" --regid="$(id -g "$SERVICE_USER")" \
		--init-groups "$@"
}

# RUN_ROOT: where, as root, a checkout's stack goes when SERVICE_USER
# cannot reach the checkout itself (a clone in /root or another 0700
# home): RUN_ROOT/<checkout's name>-<hash of its path>, one per checkout,
# the same at every start. Under /run (a tmpfs: emptied at boot).
RUN_ROOT=/run/serialcgi

# default_run_dir TOP: set RUN_DIR to the run directory of the checkout
# TOP when none was given: TOP/run, unless we are root and SERVICE_USER
# cannot search its way to TOP; then a directory of its own under
# RUN_ROOT, and RUN_DIR_WHY says why. Nothing of TOP is opened up.
default_run_dir() {
	local top=$1 name hash
	RUN_DIR=$top/run
	RUN_DIR_WHY=
	(($(id -u) == 0)) || return 0
	# No such user yet: the stack's own check says so.
	id -u "$SERVICE_USER" >/dev/null 2>&1 || return 0
	as_service test -x "$top" 2>/dev/null && return 0
	name=${top##*/}
	name=${name//[^A-Za-z0-9_.+-]/_}
	name=${name:0:24}
	hash=$(printf '%s' "$top" | sha256sum)
	RUN_DIR=$RUN_ROOT/${name:-checkout}-${hash:0:10}
	RUN_DIR_WHY="$SERVICE_USER cannot reach $top: a directory on the way is closed to others"
}

# run_root: RUN_ROOT, root's, searchable (0711), not listable; refuse
# one that anybody else could have planted or may write.
run_root() {
	[[ -L $RUN_ROOT ]] && die "$RUN_ROOT is a symlink; remove it"
	if [[ ! -d $RUN_ROOT ]]; then
		mkdir -m 0711 "$RUN_ROOT" || die "cannot make $RUN_ROOT"
	fi
	[[ -O $RUN_ROOT ]] || die "$RUN_ROOT is not root's; remove it"
	[[ $(stat -c %a "$RUN_ROOT") == 711 ]] || chmod 0711 "$RUN_ROOT"
}

# relocated_run_dir: when default_run_dir put RUN_DIR under RUN_ROOT,
# make it as the stack keeps its RUN_DIR: root's, in SERVICE_USER's
# group, 0710; and say where, once, on stdout.
relocated_run_dir() {
	[[ -n ${RUN_DIR_WHY:-} ]] || return 0
	run_root
	[[ -L $RUN_DIR ]] && die "$RUN_DIR is a symlink; remove it"
	mkdir -p "$RUN_DIR"
	chown "root:$(id -gn "$SERVICE_USER")" "$RUN_DIR"
	chmod 0710 "$RUN_DIR"
	echo "${LIB_WHO:-stack}: run directory $RUN_DIR ($RUN_DIR_WHY; RUN_DIR= picks another)"
}

# reachable DIR [UNDER...]: as root, let SERVICE_USER search (not read)
# every directory above DIR, opening up only those under one of UNDER
# (default: all); fail naming the first it may not open.
reachable() {
	local d u ok
	(($(id -u) == 0)) || return 0
	d=$(dirname "$1")
	shift
	while [[ $d != / ]]; do
		if ! as_service test -x "$d"; then
			ok=$(($# == 0))
			for u in "$@"; do [[ $d == "$u"* ]] && ok=1; done
			((ok)) || { echo "$d: $SERVICE_USER cannot search it" >&2
				return 1; }
			chmod o+x "$d"
		fi
		d=$(dirname "$d")
	done
}

# mono: CLOCK_MONOTONIC now, in seconds: the clock of the work log.
mono() {
	perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC \
		-e 'printf "%.6f\n", clock_gettime(CLOCK_MONOTONIC)'
}

# tasks PID...: processes plus threads of PIDs and all their children,
# as RLIMIT_NPROC counts them.
tasks() {
	local p n=0
	for p in "$@"; do
		n=$((n + $(ls "/proc/$p/task" 2>/dev/null | wc -l)))
		# shellcheck disable=SC2046
		n=$((n + $(tasks $(pgrep -P "$p"))))
	done
	echo "$n"
}

# Work log lines are "start|end <mono s> <pid> <request id> <arrival>
# <fencing token>". Print "<start> <end> <pid> <token>" per work,
# ordered by start.
works() {
	awk '$1 == "start" { s[$4] = $2; p[$4] = $3 }
	     $1 == "end"   { print s[$4], $2, p[$4], $6 }' "$1" | sort -n
}

# log_count FILE FROM REGEX: set $count to how many lines of FILE, from
# line FROM on, match REGEX, and $last to the last of them; a process
# ("serialcgi[pid]") counts once, so a responder that said ready and was
# then respawned is not two. Forks nothing. (spawn/stack's count_from
# is the same on its own log.)
log_count() {
	local lines l
	local -A seen=()
	count=0
	mapfile -t -s "$2" lines <"$1"
	for l in "${lines[@]}"; do
		[[ $l =~ $3 ]] || continue
		last=$l
		[[ -n ${seen[${l%%:*}]:-} ]] && continue
		seen[${l%%:*}]=1
		count=$((count + 1))
	done
	return 0
}

# user_tasks: set $tasks to the tasks (threads) of every process whose
# real uid is ours, as RLIMIT_NPROC counts them (setrlimit(2)); only
# those this /proc shows (hidepid hides nobody's own). Forks nothing.
user_tasks() {
	local f k v t n
	tasks=0
	for f in /proc/[0-9]*/status; do
		v='' t=0
		while read -r k n _; do
			case $k in
			Uid:) v=$n ;;
			Threads:) t=$n; break ;;
			esac
		done 2>/dev/null <"$f" || continue
		[[ $v == "$UID" ]] && tasks=$((tasks + t))
	done
	return 0
}

# settings_defaults SERIALCGI [SKIP...]: every setting that is unset or
# empty gets its default from the responder's table (serialcgi
# --settings), the one place each is written; those named in SKIP are
# left as they are. Sets shell variables; exports nothing.
settings_defaults() {
	local bin=$1 line var opt def rest s
	shift
	while IFS= read -r line; do
		# Empty fields survive as \037: a tab is blank to IFS.
		IFS=$'\037' read -r var opt def rest <<<"${line//$'\t'/$'\037'}"
		for s in "$@"; do [[ $var == "$s" ]] && continue 2; done
		[[ -n ${!var:-} || -z $def ]] || printf -v "$var" '%s' "$def"
	done < <("$bin" --settings)
}

# work_bound: the longest one work may last, whole seconds rounded up:
# WORK_SECONDS for the sleep, or with WORK_COMMAND or WORK_URL their
# WORK_TIMEOUT and 2 s more (a program's from SIGTERM to SIGKILL, an
# upstream's margin), whichever is longer. 5 when the settings are
# unknown (no responder built).
work_bound() {
	awk -v s="${WORK_SECONDS:-}" -v c="${WORK_COMMAND:-}${WORK_URL:-}" \
		-v t="${WORK_TIMEOUT:-}" 'BEGIN {
		w = s == "" ? 5 : s + 0
		if (c != "" && t + 2 > w) w = t + 2
		printf "%d", (w == int(w)) ? w : int(w) + 1 }'
}
