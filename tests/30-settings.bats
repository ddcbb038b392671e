#!/usr/bin/env bats
# Bad settings and a bad environment are refused up front, with exit
# status 2 and a message that names the setting or the path.

load helper

# A directory the service user owns, holding a copy of the responder.
setup() {
	DIR=$BATS_TEST_TMPDIR/r
	mkdir -p "$DIR"
	install -m 0755 "$SERIALCGI" "$DIR/serialcgi"
	reachable "$DIR/x" "$BATS_RUN_TMPDIR"
	(($(id -u) == 0)) && chown "$SERVICE_USER:" "$DIR"
	return 0
}

# A test that failed half-way leaves no stack behind.
teardown() {
	stack_down >/dev/null 2>&1 || true
}

# responder ARGS...: the responder under spawn-fcgi -n, as in production
# (fd 0 is the listener), but stopped after 3 s if it does not refuse.
responder() {
	# shellcheck disable=SC2046
	timeout 3 spawn-fcgi -n -s "$DIR/s.sock" $(drop_args) -- \
		"$DIR/serialcgi" "$@"
}

@test "the responder refuses THREADS and --threads, saying why" {
	THREADS=64 run "$SERIALCGI" --check
	assert_failure 2
	assert_output --partial 'THREADS: "64" is not a setting any more: since 0.2 a waiting request holds no thread'
	run "$SERIALCGI" --check --threads 64
	assert_failure 2
	assert_output --partial '--threads: "64" is not a setting any more'
}

@test "a bad WORK_SECONDS is refused with status 2, naming the setting" {
	for v in -1 abc nan 0 inf 3601 '' ' 3' 1e999; do
		WORK_SECONDS=$v run "$SERIALCGI" --check
		assert_failure 2
		assert_output --partial "WORK_SECONDS: \"$v\" is not a number of seconds in (0, 3600]"
		run "$SERIALCGI" --check --work-seconds "$v"
		assert_failure 2
		assert_output --partial "--work-seconds: \"$v\""
	done
	WORK_SECONDS=0.25 run "$SERIALCGI" --check
	assert_success
}

@test "the stack refuses bad settings before starting anything" {
	for v in -1 abc nan 0; do
		RUN_DIR=$BATS_TEST_TMPDIR/run WORK_SECONDS=$v run "$STACK" up
		assert_failure 2
		assert_output --partial "WORK_SECONDS: \"$v\""
	done
	RUN_DIR=$BATS_TEST_TMPDIR/run PORT=99999 run "$STACK" up
	assert_failure 2
	assert_output --partial 'PORT: "99999" is not a whole number from 1 to 65535'
	# THREADS is gone: a waiting request holds no thread.
	RUN_DIR=$BATS_TEST_TMPDIR/run THREADS=08x run "$STACK" up
	assert_failure 2
	assert_output --partial 'THREADS: "08x" is not a setting any more'
	RUN_DIR=$BATS_TEST_TMPDIR/run PROCESSES=2 QUEUE=8001 run "$STACK" up
	assert_failure 2
	assert_output --partial 'QUEUE: "8001" is not a whole number from 1 to 8000'
	[[ ! -e $BATS_TEST_TMPDIR/run/nginx.pid ]]
}

@test "make run refuses WORK_SECONDS=abc with the responder's message" {
	run make -s -C "$TOP" run WORK_SECONDS=abc RUN_DIR="$BATS_TEST_TMPDIR/run"
	assert_failure
	assert_output --partial 'WORK_SECONDS: "abc" is not a number of seconds'
}

@test "as root, a checkout the service user cannot reach runs under /run/serialcgi, and says so" {
	(($(id -u) == 0)) || skip "needs root: a plain user's stack runs as that user"
	local closed=$BATS_TEST_TMPDIR/closed p dir port
	# A clone in a 0700 home, as Debian makes them.
	mkdir -m 0700 "$closed"
	p=$closed/p
	mkdir "$p"
	cp -R "$TOP/spawn" "$TOP/nginx" "$p/"
	cp "$SERIALCGI" "$p/serialcgi"
	port=$(free_port)
	stack() { env -u RUN_DIR -u SERIALCGI PORT="$port" PROCESSES=1 \
		WORK_SECONDS=0.1 "$p/spawn/stack" "$@"; }
	run stack up
	assert_success
	assert_line --index 0 --regexp "^stack: run directory /run/serialcgi/p-[0-9a-f]{10} \($SERVICE_USER cannot reach $p: a directory on the way is closed to others; RUN_DIR= picks another\)$"
	dir=$(sed -nE '1s|^stack: run directory ([^ ]+) .*|\1|p' <<<"$output")
	RUN=$dir	# for teardown's stack_down
	[[ -s $dir/responders.log && -S $dir/private/serialcgi.sock ]]
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/test"
	assert_output 200
	# Root's, the service group's to search; nothing of the home
	# opened up.
	run stat -c '%a %U %G' /run/serialcgi "$dir" "$closed"
	assert_output "711 root root
710 root $(id -gn "$SERVICE_USER")
700 root root"
	# The same place at every start, found again by down.
	run stack down
	assert_success
	[[ ! -e $dir/responders.pid ]]
	run stack up
	assert_success
	assert_line --index 0 --partial "stack: run directory $dir "
	run stack down
	assert_success
	RUN=
	rm -rf "$dir"
	# A RUN_DIR given that the service user cannot reach is refused.
	run env RUN_DIR="$p/run" PORT="$port" "$p/spawn/stack" up
	assert_failure 2
	assert_output --partial "RUN_DIR: $p is not searchable by $SERVICE_USER"
}

@test "a PORT another server listens on is refused before anything starts" {
	local port pid
	port=$(free_port)
	perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
		    LocalPort => $ARGV[0], Listen => 5, ReuseAddr => 1)
		    or die "listen: $!\n";
		sleep 30;' "$port" &
	pid=$!
	until_ok 5 "a listener on $port" listening "$port"
	stack_place "$BATS_TEST_TMPDIR"
	PORT=$port RUN_DIR=$RUN WORK_SECONDS=0.1 run "$STACK" up
	kill "$pid"
	assert_failure 1
	assert_output --partial "PORT: 127.0.0.1:$port is taken: another server listens there"
	refute_output --partial "http://127.0.0.1"
	[[ ! -e $RUN/responders.pid && ! -e $RUN/nginx.master ]]
}

@test "lock 0600, socket 0660, in a 0700 dir that only the service user owns" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=0.1
	run stat -c '%a %U %n' "$RUN/private/serialcgi.lock" \
		"$RUN/private/serialcgi.sock" "$RUN/private" "$RUN" \
		"$RUN/nginx.conf" "$RUN/responders.log"
	stack_down
	if (($(id -u) == 0)); then
		# What root writes and runs stays root's: the service user
		# owns only private/, and cannot plant links for root.
		assert_output "600 $SERVICE_USER $RUN/private/serialcgi.lock
660 $SERVICE_USER $RUN/private/serialcgi.sock
700 $SERVICE_USER $RUN/private
710 root $RUN
644 root $RUN/nginx.conf
644 root $RUN/responders.log"
	else
		me=$(id -un)
		assert_output "600 $me $RUN/private/serialcgi.lock
660 $me $RUN/private/serialcgi.sock
700 $me $RUN/private
700 $me $RUN
644 $me $RUN/nginx.conf
644 $me $RUN/responders.log"
	fi
}

@test "a lock path that is a symlink is refused at start-up" {
	touch "$DIR/target"
	ln -s "$DIR/target" "$DIR/lock"
	run responder --lock-file "$DIR/lock"
	assert_failure 2
	assert_output --partial "lock file $DIR/lock: is a symlink"
}

@test "a group- or world-readable lock file is refused" {
	install -m 0644 /dev/null "$DIR/lock"
	(($(id -u) == 0)) && chown "$SERVICE_USER:" "$DIR/lock"
	run responder --lock-file "$DIR/lock"
	assert_failure 2
	assert_output --partial "lock file $DIR/lock: is group- or world-accessible (mode 0644)"
}

@test "a lock file owned by another user is refused" {
	(($(id -u) == 0)) || skip "needs root to make a file of another user"
	install -m 0600 /dev/null "$DIR/lock"
	run responder --lock-file "$DIR/lock"
	assert_failure 2
	assert_output --partial "lock file $DIR/lock: is owned by another user (uid 0)"
}

@test "the responder refuses to run as root" {
	(($(id -u) == 0)) || skip "not root"
	run "$SERIALCGI"
	assert_failure 2
	assert_output --partial "refusing to run as root"
}

@test "without spawn-fcgi, fd 0 is no listener and the responder says so" {
	(($(id -u) == 0)) && skip "root is refused first; covered above"
	run "$SERIALCGI" </dev/null
	assert_failure 2
	assert_output --partial "fd 0 is not a listening socket"
}
