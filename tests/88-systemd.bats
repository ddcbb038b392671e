#!/usr/bin/env bats
# The systemd units and the shared-hosting mode. systemd is not PID 1
# here, and the host's services are never touched: the units are
# installed into a DESTDIR and checked with systemd-analyze, and the
# service's own ExecStart= runs the way systemd would run it, under
# systemd-socket-activate (the listener on fd 0, stdout and stderr to a
# log as to the journal, NOTIFY_SOCKET on a datagram socket of ours),
# with nginx in front as the web server's user.

load helper
bats_require_minimum_version 1.5.0

# The exposure systemd-analyze security may give serialcgi.service at
# most (0 best, 10 worst); README "existing nginx + systemd" says so too.
EXPOSURE_MAX=2.0

# unit_lines KEY FILE: the values of KEY= in FILE, one a line.
unit_lines() { sed -n "s/^$1=//p" "$2"; }

# unit_env FILE ENVFILE: the environment of FILE's service as systemd
# gives it, into the array ENVS (NAME=value each): Environment= lines,
# then ENVFILE's, which override them; %S (the state directory's root)
# becomes $STATE.
unit_env() {
	local -A val=()
	local e names=()
	while IFS= read -r e; do
		[[ -n ${val[${e%%=*}]+set} ]] || names+=("${e%%=*}")
		val[${e%%=*}]=${e#*=}
	done < <(unit_lines Environment "$1" | sed "s|%S|$STATE|g"
		grep -E '^[A-Z_]+=' "$2" || true)
	ENVS=()
	for e in "${names[@]}"; do ENVS+=("$e=${val[$e]}"); done
}

# unit_cmd KEY FILE: the command line of KEY (ExecStart, ExecStartPre)
# with ${NAME} replaced from $ENVS; into the array CMD.
unit_cmd() {
	local line e
	line=$(unit_lines "$1" "$2")
	for e in "${ENVS[@]}"; do
		line=${line//"\${${e%%=*}}"/${e#*=}}
	done
	read -r -a CMD <<<"$line"
}

# The system-call names, one a line, in systemd's sets and names given
# (as SystemCallFilter= takes them), nested sets expanded.
syscalls() {
	local s x
	for s in "$@"; do
		if [[ $s == @* ]]; then
			systemd-analyze syscall-filter "$s" |
				awk 'NR > 1 && $1 !~ /^#/ && NF { print $1 }' |
				while read -r x; do syscalls "$x"; done
		else
			echo "$s"
		fi
	done
}

# notify_listen DIR: a datagram socket DIR/notify.sock that stores each
# message as one line (newlines as " | ") in DIR/notify.log; as systemd
# does, it trusts nobody to write there but the service's user.
notify_listen() {
	mkdir -p "$1"
	: >"$1/notify.log"
	perl -MIO::Socket::UNIX -e '
		my ($path, $out) = @ARGV;
		umask 0;
		my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM(),
		    Local => $path) or die "$path: $!\n";
		open(my $o, ">>", $out) or die "$out: $!\n";
		$o->autoflush(1);
		while (defined $s->recv(my $m, 4096)) {
			$m =~ s/\n/ | /g;
			print $o "$m\n";
		}' "$1/notify.sock" "$1/notify.log" &
	echo $! >"$1/notify.pid"
	wait_for_socket "$1/notify.sock"
}

wait_for_socket() {
	local i
	for ((i = 0; i < 250; i++)); do
		[[ -S $1 ]] && return 0
		sleep 0.02
	done
	echo "no socket $1" >&2
	return 1
}

# front DIR SOCKET: the web server: nginx on a free port, as www-data
# when we are root (as Debian's runs its workers), passing /test and
# /status to SOCKET; sets URL and FRONT (its pid file).
front() {
	local dir=$1 sock=$2 as=() i
	PORT=$(free_port)
	URL=http://127.0.0.1:$PORT
	mkdir -p "$dir/tmp"
	cat >"$dir/nginx.conf" <<-EOF
	worker_processes 1;
	daemon off;
	pid $dir/nginx.pid;
	error_log $dir/error.log notice;
	events { worker_connections 64; }
	http {
	    access_log $dir/access.log;
	    client_body_temp_path $dir/tmp/body;
	    fastcgi_temp_path $dir/tmp/fastcgi;
	    proxy_temp_path $dir/tmp/proxy;
	    scgi_temp_path $dir/tmp/scgi;
	    uwsgi_temp_path $dir/tmp/uwsgi;
	    server {
	        listen 127.0.0.1:$PORT;
	        location ~ ^/(test|status)\$ {
	            fastcgi_pass unix:$sock;
	            include /etc/nginx/fastcgi_params;
	            fastcgi_param REQUEST_ID \$request_id;
	            fastcgi_read_timeout 60s;
	        }
	    }
	}
	EOF
	if (($(id -u) == 0)); then
		chown -R www-data: "$dir"
		SERVICE_USER=www-data reachable "$dir/x" "$BATS_RUN_TMPDIR"
		as=(setpriv --reuid=www-data --regid=www-data --clear-groups)
	fi
	setsid "${as[@]}" /usr/sbin/nginx -p "$dir/" -c "$dir/nginx.conf" \
		-e "$dir/error.log" </dev/null >/dev/null 2>&1 &
	FRONT=$dir/front.pid
	echo $! >"$FRONT"
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "$URL/" && return 0
		sleep 0.05
	done
	cat "$dir/error.log" >&2
	return 1
}

# stop_pidfile FILE [SIG]: signal the pid in FILE and wait for it (10 s),
# then SIGKILL its process group (we started each with setsid).
stop_pidfile() {
	local pid i
	[[ -s $1 ]] || return 0
	read -r pid <"$1"
	kill "-${2:-TERM}" "$pid" 2>/dev/null || true
	for ((i = 0; i < 500; i++)); do
		running "$pid" || break
		sleep 0.02
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	rm -f "$1"
}

# wait_more FILE REGEX N [SECONDS]: until more than N lines match.
wait_more() {
	local i
	for ((i = 0; i < ${4:-10} * 50; i++)); do
		(($(grep -cE "$2" "$1") > $3)) && return 0
		sleep 0.02
	done
	echo "no more than $3 lines matching '$2' in $1" >&2
	return 1
}

# The pids of the service's processes: multiwatch and its children.
service_pids() {
	local mw
	read -r mw <"$SVC/service.pid"
	echo "$mw"
	pgrep -P "$mw" || true
}

# The file's service: the units installed into a DESTDIR, then their
# ExecStartPre= and ExecStart= run as systemd would.
setup_file() {
	local d=$BATS_FILE_TMPDIR
	DEST=$d/dest
	UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd)
	USERUNITDIR=$(pkg-config --variable=systemduserunitdir systemd)
	make -s -C "$TOP" install install-systemd DESTDIR="$DEST" \
		PREFIX=/usr/local >"$d/install.out" 2>&1 ||
		{ cat "$d/install.out" >&2; return 1; }
	# The paths written into the units, turned to the installed binary.
	mkdir -p "$d/units/system" "$d/units/user"
	sed "s|/usr/local/sbin/serialcgi|$DEST/usr/local/sbin/serialcgi|g" \
		"$DEST$UNITDIR/serialcgi.service" >"$d/units/system/serialcgi.service"
	cp "$DEST$UNITDIR/serialcgi.socket" "$d/units/system/"
	sed "s|/usr/local/sbin/serialcgi|$DEST/usr/local/sbin/serialcgi|g" \
		"$DEST$USERUNITDIR/serialcgi.service" >"$d/units/user/serialcgi.service"
	cp "$DEST$USERUNITDIR/serialcgi.socket" "$d/units/user/"
	export DEST UNITDIR USERUNITDIR
	service_up "$d/svc"
}

teardown_file() {
	service_down
}

# Whatever a test started and did not stop (it failed half-way): each
# pid file under its folder, the group first (setsid made it a leader),
# so that nothing holds bats' output open.
teardown() {
	local f pid
	while read -r f; do
		read -r pid <"$f" 2>/dev/null || continue
		[[ $pid =~ ^[0-9]+$ ]] || continue
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	done < <(find "$BATS_TEST_TMPDIR" -maxdepth 4 \( -name '*.pid' -o \
		-name pid \) 2>/dev/null)
	return 0
}

# service_up DIR: the service in DIR, with DIR/default as its
# /etc/default/serialcgi; sets SVC, SOCK, STATE, URL.
service_up() {
	local unit=$BATS_FILE_TMPDIR/units/system/serialcgi.service drop=()
	SVC=$1
	SOCK=$SVC/serialcgi.sock
	STATE=$SVC/state
	# StateDirectory=serialcgi: %S/serialcgi, 0700, the service's own.
	mkdir -p "$STATE/serialcgi"
	chmod 0700 "$STATE/serialcgi"
	printf 'PROCESSES=2\nWORK_SECONDS=1\nWORK_LOG=%s\n' \
		"$STATE/serialcgi/work.log" >"$SVC/default"
	if (($(id -u) == 0)); then
		chown -R "$SERVICE_USER:" "$STATE"
		reachable "$STATE/serialcgi/x" "$BATS_RUN_TMPDIR"
		drop=(setpriv "--reuid=$SERVICE_USER" "--regid=$SERVICE_USER"
			--clear-groups)
	fi
	notify_listen "$SVC/notify"
	reachable "$SVC/notify/notify.sock" "$BATS_RUN_TMPDIR"
	unit_env "$unit" "$SVC/default"
	local sa=() e
	for e in "${ENVS[@]}"; do sa+=(-E "$e"); done
	# ExecStartPre=: the responder checks its settings first.
	unit_cmd ExecStartPre "$unit"
	(cd "$STATE/serialcgi" && env -i "${ENVS[@]}" "${drop[@]}" \
		"${CMD[@]}") || return 1
	unit_cmd ExecStart "$unit"
	# serialcgi.socket: root's, group www-data, 0660; systemd binds it,
	# here systemd-socket-activate, which runs the command at the first
	# connection, the listener on stdin and stdout. StandardOutput= and
	# StandardError=journal: both to the log instead.
	(cd "$STATE/serialcgi" &&
		exec setsid systemd-socket-activate -l "$SOCK" --inetd \
		"${sa[@]}" -E "NOTIFY_SOCKET=$SVC/notify/notify.sock" \
		"${drop[@]}" /bin/sh -c 'exec "$@" >&2' sh "${CMD[@]}" \
		2>>"$SVC/journal.log") &
	echo $! >"$SVC/service.pid"
	wait_for_socket "$SOCK"
	chmod 0660 "$SOCK"
	if (($(id -u) == 0)); then
		chgrp www-data "$SOCK"
		SERVICE_USER=www-data reachable "$SOCK" "$BATS_RUN_TMPDIR"
	fi
	front "$SVC/nginx" "$SOCK"
	export SVC SOCK STATE URL FRONT
}

service_down() {
	[[ -n ${SVC:-} ]] || return 0
	stop_pidfile "$FRONT" QUIT
	stop_pidfile "$SVC/service.pid" TERM
	stop_pidfile "$SVC/notify/notify.pid" TERM
}

@test "make install-systemd: units where systemd.pc says, paths written in" {
	run ls "$DEST$UNITDIR" "$DEST$USERUNITDIR"
	assert_output --partial "serialcgi.service"
	[[ -f $DEST$UNITDIR/serialcgi.socket && -f $DEST$USERUNITDIR/serialcgi.socket ]]
	[[ -f $DEST/usr/local/share/serialcgi/systemd/serialcgi.default ]]
	run grep -h '^ExecStart' "$DEST$UNITDIR/serialcgi.service" \
		"$DEST$USERUNITDIR/serialcgi.service"
	assert_line 'ExecStart=/usr/bin/multiwatch -f ${PROCESSES} -s TERM -- /usr/local/sbin/serialcgi'
	assert_line 'ExecStartPre=/usr/local/sbin/serialcgi --check'
	run grep -rl '@[A-Z]*@' "$DEST$UNITDIR" "$DEST$USERUNITDIR"
	assert_output ""
}

# --man=no: whether Documentation='s man pages are installed is the
# machine's business (minimal images drop them), not the units'.
@test "systemd-analyze verify: the units pass with nothing on stderr" {
	local u=$BATS_FILE_TMPDIR/units
	run --separate-stderr systemd-analyze verify --man=no \
		"$u/system/serialcgi.socket" "$u/system/serialcgi.service"
	assert_success
	assert_equal "$stderr" ""
	# A user manager's units: verify needs a runtime directory.
	mkdir -p -m 0700 "$BATS_TEST_TMPDIR/xdg"
	XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/xdg run --separate-stderr \
		systemd-analyze verify --man=no --user \
		"$u/user/serialcgi.socket" "$u/user/serialcgi.service"
	assert_success
	assert_equal "$stderr" ""
}

@test "systemd-analyze verify exits 0 on an unknown key: only stderr tells" {
	local u=$BATS_TEST_TMPDIR/bad
	mkdir -p "$u"
	cp "$BATS_FILE_TMPDIR/units/system/"* "$u/"
	sed -i 's/^UMask=/UMsk=/' "$u/serialcgi.service"
	run --separate-stderr systemd-analyze verify --man=no \
		"$u/serialcgi.socket" "$u/serialcgi.service"
	assert_success
	[[ $stderr == *"Unknown key 'UMsk' in section [Service]"* ]]
}

@test "systemd-analyze security: serialcgi.service exposure at most $EXPOSURE_MAX" {
	run systemd-analyze security --offline=true --no-pager \
		"$BATS_FILE_TMPDIR/units/system/serialcgi.service"
	level=$(sed -n 's/.*Overall exposure level for serialcgi.service: \([0-9.]*\).*/\1/p' <<<"$output")
	[[ -n $level ]]
	echo "exposure $level" >&3
	awk -v l="$level" -v m="$EXPOSURE_MAX" 'BEGIN { exit !(l <= m) }'
}

@test "socket activation: READY=1 with a STATUS= line once a responder serves" {
	run curl -s -o /dev/null -w '%{http_code}' "$URL/status"
	assert_output 200
	wait_for "$SVC/notify/notify.log" '^READY=1 \| STATUS=holder none, waiters 0, served 0'
	# READY=1 came with the first responder; the second follows.
	readies() { (($(grep -c ': ready:' "$SVC/journal.log") == 2)); }
	until_ok 10 "both responders ready" readies
}

@test "GET /test through nginx and the activated socket: 200 with elapsed" {
	run curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "$URL/test"
	assert_output 200
	run jq -e '.elapsed >= 1.0 and .elapsed < 1.5' "$BATS_TEST_TMPDIR/body"
	assert_success
	# The state went where StateDirectory= keeps it, private.
	for f in serialcgi.lock serialcgi.board; do
		[[ $(stat -c %a "$STATE/serialcgi/$f") == 600 ]]
	done
	# STATUS= follows the scoreboard within a second or two.
	wait_for "$SVC/notify/notify.log" '^STATUS=holder none, waiters 0, served [1-9]' 5
}

@test "STATUS= shows the holder and the waiters while they wait" {
	client a
	client b
	client c
	wait_for "$SVC/notify/notify.log" '^STATUS=holder pid [0-9]+, waiters [12],' 5
	wait
	[[ $(status_of a) == 200 && $(status_of b) == 200 && $(status_of c) == 200 ]]
}

@test "kill -9 of a responder: multiwatch respawns it and the service goes on" {
	local victim before
	victim=$(service_pids | sed -n 2p)
	[[ -n $victim ]]
	before=$(grep -c '^READY=1' "$SVC/notify/notify.log")
	kill -KILL "$victim"
	wait_for "$SVC/journal.log" 'Child\[[0-9]+\] died, respawn|Spawning child\[[0-9]+\] failed, next try'
	# The new responder says READY=1 in its turn.
	wait_more "$SVC/notify/notify.log" '^READY=1' "$before" 5
	run curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "$URL/test"
	assert_output 200
	run jq -e '.elapsed >= 1.0' "$BATS_TEST_TMPDIR/body"
	assert_success
	run service_pids
	[[ ${#lines[@]} -eq 3 ]]
	refute_line "$victim"
	# One responder stopped alone is no stop of the service.
	run grep -c '^STOPPING=1' "$SVC/notify/notify.log"
	assert_output 0
}

@test "stop (SIGTERM to the main process, KillMode=mixed): STOPPING=1, the work answered, nothing left" {
	local mw pids works
	read -r mw <"$SVC/service.pid"
	pids=$(service_pids)
	works=$(grep -c '^start ' "$STATE/serialcgi/work.log")
	client w
	wait_more "$STATE/serialcgi/work.log" '^start ' "$works" 5
	kill -TERM "$mw"
	wait_for "$SVC/notify/notify.log" '^STOPPING=1' 5
	wait
	[[ $(status_of w) == 200 ]]
	for ((i = 0; i < 250; i++)); do
		running "$mw" || break
		sleep 0.02
	done
	for p in $pids; do ! running "$p"; done
	run grep -E 'stopping \(signal [0-9]+\)' "$SVC/journal.log"
	assert_success
}

@test "a bad setting in /etc/default/serialcgi: ExecStartPre= exits 2 naming it" {
	local unit=$BATS_FILE_TMPDIR/units/system/serialcgi.service
	echo 'WORK_SECONDS=abc' >"$BATS_TEST_TMPDIR/default"
	STATE=$BATS_TEST_TMPDIR/state
	unit_env "$unit" "$BATS_TEST_TMPDIR/default"
	unit_cmd ExecStartPre "$unit"
	run env -i "${ENVS[@]}" "${CMD[@]}"
	assert_failure 2
	assert_output --partial 'WORK_SECONDS: "abc"'
}

@test "SystemCallFilter= allows every system call the responders make" {
	command -v strace >/dev/null || skip "strace is not installed (spawn/deps test)"
	local unit=$BATS_FILE_TMPDIR/units/system/serialcgi.service
	local d=$BATS_TEST_TMPDIR allow deny spawn=(spawn-fcgi) line
	(($(id -u) == 0)) && spawn+=(-u "$SERVICE_USER" -g "$SERVICE_USER"
		-U www-data -G www-data)
	mkdir -p "$d/t"
	# The responder, where its user can reach it.
	install -m 0755 "$SERIALCGI" "$d/t/serialcgi"
	(($(id -u) == 0)) && chown "$SERVICE_USER:" "$d/t" &&
		reachable "$d/t/x" "$BATS_RUN_TMPDIR"
	notify_listen "$d/n"
	# Everything a service does: start, notify (libsystemd loaded),
	# serve, answer /status, stop.
	NOTIFY_SOCKET=$d/n/notify.sock setsid "${spawn[@]}" -n -s "$d/t/s.sock" \
		-M 0660 -- /usr/bin/strace -f -qq -o "$d/t/trace" -- \
		/usr/bin/multiwatch -f 1 -s TERM -- "$d/t/serialcgi" \
		--work-seconds 0.2 --lock-file "$d/t/lock" \
		--board-file "$d/t/board" --jobs-db "$d/t/jobs.db" \
		>"$d/t/log" 2>&1 &
	echo $! >"$d/t/pid"
	wait_for "$d/n/notify.log" '^READY=1' 10
	RUN_SOCK=$d/t/s.sock
	front "$d/nginx" "$RUN_SOCK"
	run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 200
	run curl -s -o /dev/null -w '%{http_code}' "$URL/status"
	assert_output 200
	# A STATUS= line: notify's code ran too.
	wait_for "$d/n/notify.log" '^STATUS=' 5
	# spawn-fcgi exec'd strace; multiwatch is its child.
	pgrep -P "$(cat "$d/t/pid")" >"$d/t/mw.pid"
	stop_pidfile "$d/t/mw.pid" TERM
	stop_pidfile "$d/t/pid" TERM
	stop_pidfile "$FRONT" QUIT
	stop_pidfile "$d/n/notify.pid" TERM
	wait_for "$d/n/notify.log" '^STOPPING=1' 1
	# The sets, as the unit names them.
	line=$(unit_lines SystemCallFilter "$unit" | grep -v '^~')
	read -r -a allow <<<"$line"
	line=$(unit_lines SystemCallFilter "$unit" | sed -n 's/^~//p')
	read -r -a deny <<<"$line"
	syscalls "${allow[@]}" | sort -u >"$d/allowed"
	syscalls "${deny[@]}" | sort -u >"$d/denied"
	comm -23 "$d/allowed" "$d/denied" >"$d/permitted"
	# The first execve is strace's own, before any filter.
	sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$d/t/trace" | sort -u >"$d/used"
	[[ $(wc -l <"$d/used") -gt 20 ]]
	run comm -23 "$d/used" "$d/permitted"
	assert_output ""
}

@test "shared hosting: spawn/responders as a plain user, behind the host's nginx" {
	local dir=$BATS_TEST_TMPDIR/site as=() env=() r
	# The site's user runs its own copy, as it would its own checkout.
	checkout_copy "$BATS_TEST_TMPDIR/copy"
	r=$COPY/spawn/responders
	mkdir -p "$dir"
	if (($(id -u) == 0)); then
		chown "$SERVICE_USER:" "$dir"
		reachable "$dir/x" "$BATS_RUN_TMPDIR"
		# The site's user is in the web server's group (as the host
		# arranges it); the socket gets that group through RUN_DIR.
		as=(setpriv "--reuid=$SERVICE_USER" "--regid=$SERVICE_USER"
			"--groups=$SERVICE_USER,www-data")
		env=(SOCKET_GROUP=www-data)
	fi
	run "${as[@]}" env RUN_DIR="$dir/run" PROCESSES=2 WORK_SECONDS=1 \
		SERIALCGI="$COPY/serialcgi" "${env[@]}" "$r" up
	assert_success
	assert_output --partial "2 responders on unix:$dir/run/serialcgi.sock"
	assert_output --partial "5 tasks"
	run stat -c '%a' "$dir/run/private" "$dir/run/serialcgi.sock"
	assert_line --index 0 700
	assert_line --index 1 660
	if (($(id -u) == 0)); then
		run stat -c '%U %G %a' "$dir/run" "$dir/run/serialcgi.sock"
		assert_line --index 0 "$SERVICE_USER www-data 2710"
		assert_line --index 1 "$SERVICE_USER www-data 660"
	fi
	front "$dir/nginx" "$dir/run/serialcgi.sock"
	run curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "$URL/test"
	assert_output 200
	run jq -e '.elapsed >= 1.0 and .elapsed < 1.5' "$BATS_TEST_TMPDIR/body"
	assert_success
	# cron's keep-alive line: status exits 0 while running, 1 after.
	run "${as[@]}" env RUN_DIR="$dir/run" "$r" status
	assert_success
	pids=$(pgrep -P "$(cat "$dir/run/private/responders.pid")")
	run "${as[@]}" env RUN_DIR="$dir/run" "$r" down
	assert_success
	stop_pidfile "$FRONT" QUIT
	run "${as[@]}" env RUN_DIR="$dir/run" "$r" status
	assert_failure 1
	for p in $pids; do ! running "$p"; done
	[[ ! -e $dir/run/serialcgi.sock ]]
}

@test "shared hosting: a process limit too small is refused before anything starts" {
	local dir=$BATS_TEST_TMPDIR/site
	checkout_copy "$BATS_TEST_TMPDIR/copy"
	mkdir -p "$dir"
	(($(id -u) == 0)) && chown "$SERVICE_USER:" "$dir" &&
		reachable "$dir/x" "$BATS_RUN_TMPDIR"
	# 64 responders need 129 tasks: more than any ulimit -u of 100.
	run as_user bash -c "ulimit -u 100 && RUN_DIR='$dir/run' PROCESSES=64 \
		SERIALCGI='$COPY/serialcgi' exec '$COPY/spawn/responders' up"
	assert_failure 2
	assert_output --partial "PROCESSES=64 needs 129 tasks (2 per responder, 1 for multiwatch)"
	assert_output --partial "RLIMIT_NPROC (ulimit -u) is 100"
	[[ ! -e $dir/run ]]
}

@test "shared hosting: spawn/responders refuses root" {
	(($(id -u) == 0)) || skip "needs root"
	run "$TOP/spawn/responders" up
	assert_failure 2
	assert_output --partial "refusing to run as root"
}
