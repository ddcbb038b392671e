#!/usr/bin/env bats
# The event-driven responder: a waiting request costs no thread, so the
# default stack fits a shared host's process limit; a start that cannot
# succeed says why; a slow sender delays nobody.

load helper

setup() {
	LOG=$BATS_TEST_TMPDIR/run/private/work.log
}

teardown() {
	stack_down
}

# RLIMIT_NPROC counts every task of a user, the test runner's too: the
# stack must run as a user of its own, which only root can arrange.
need_own_user() {
	(($(id -u) == 0)) ||
		skip "needs root to run the stack as a user with no other processes"
	local i
	# The last test's stack may still be on its way out.
	for ((i = 0; i < 50; i++)); do
		pgrep -u "$SERVICE_USER" -r D,R,S,T >/dev/null || return 0
		sleep 0.1
	done
	skip "$SERVICE_USER runs other processes: its limit is not ours"
}

# interfered: processes of SERVICE_USER that are not this test's came
# since need_own_user looked (another suite's stack on this machine):
# then the limit was not ours, and the test says so by skipping.
interfered() {
	pgrep -u "$SERVICE_USER" -r D,R,S,T -a | grep -qvF "$BATS_TEST_TMPDIR" &&
		skip "$SERVICE_USER started other processes meanwhile: its limit was not ours"
	return 0
}

# limited_up LIMIT [VAR=value...]: spawn/stack up as the unprivileged
# user under `ulimit -u LIMIT`, in $BATS_TEST_TMPDIR/run, from a copy of
# the checkout that user can reach.
limited_up() {
	local limit=$1
	shift
	stack_place "$BATS_TEST_TMPDIR"
	checkout_copy "$BATS_TEST_TMPDIR/copy"
	# Its own run directory: the stack runs as that user, not as root.
	mkdir -p "$RUN"
	(($(id -u) == 0)) && chown "$SERVICE_USER:" "$RUN"
	run as_user env RUN_DIR="$RUN" PORT="$PORT" \
		SERIALCGI="$COPY/serialcgi" "$@" bash -c \
		"ulimit -u $limit && exec '$COPY/spawn/stack' up"
}

@test "shared hosting: ulimit -u 64, the default stack serves 1000 at once" {
	need_own_user
	limited_up 64 WORK_SECONDS=0.01 WORK_LOG="$LOG"
	((status == 0)) || interfered
	assert_success
	assert_output --partial "(4 processes, work 0.01s, queue 1024)"
	fire_many 1000
	run awk '$2 != 200' "$FIRED"
	assert_output ""
	run wc -l <"$FIRED"
	assert_output 1000
	works "$LOG" >"$BATS_TEST_TMPDIR/works"
	run wc -l <"$BATS_TEST_TMPDIR/works"
	assert_output 1000
	run awk 'NR > 1 && $1 < end { print "overlap at " $1 } { end = $2 }' \
		"$BATS_TEST_TMPDIR/works"
	assert_output ""
}

@test "a start that cannot succeed fails fast, with the responder's error" {
	need_own_user
	# 3 tasks: the stack's shell, multiwatch, a responder's first
	# thread; its turn runner cannot start.
	t0=$(mono)
	limited_up 3 WORK_SECONDS=0.01
	t1=$(mono)
	interfered
	assert_failure
	assert_output --partial "responders did not start"
	assert_output --partial "serialcgi: pthread_create (turn runner): Resource temporarily unavailable"
	refute_output --partial "http://127.0.0.1"
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 10) }' ||
		fail "took $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
	# Nothing left: the stack stopped what it started before it
	# exited, and what it killed is gone within a second or two.
	until_ok 5 "no process of $SERVICE_USER left" \
		eval '[[ -z $(pgrep -u "$SERVICE_USER" -r D,R,S,T) ]]' ||
		pgrep -u "$SERVICE_USER" -r D,R,S,T -a | grep -qF "$BATS_TEST_TMPDIR" ||
		interfered
	run pgrep -u "$SERVICE_USER" -r D,R,S,T -a
	assert_output ""
	[[ ! -e $RUN/responders.pid && ! -e $RUN/nginx.master ]]
}

@test "a slow sender (a request trickled byte by byte) delays nobody" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=0.05 \
		WORK_LOG="$LOG"
	# 96 bytes, one every 20 ms: about 2 s to arrive, on the one
	# responder process there is.
	perl -MIO::Socket::UNIX -MIO::Select -e '
		my ($path, $file, $mark) = @ARGV;
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
		    Peer => $path) or die "connect: $!\n";
		open(my $f, "<:raw", $file) or die "$file: $!\n";
		local $/; my $bytes = <$f>;
		for my $i (0 .. length($bytes) - 1) {
			$s->syswrite(substr($bytes, $i, 1));
			# Begun: the first bytes are in the socket.
			if ($i == 4) { open(my $m, ">", $mark); close($m); }
			select(undef, undef, undef, 0.02);
		}
		my $got = "";
		while (IO::Select->new($s)->can_read(3)) {
			last unless $s->sysread(my $buf, 65536);
			$got .= $buf;
		}
		print $got =~ /(Status: [^\r\n]*)/ ? $1 : "-", "\n";' \
		"$RUN/private/serialcgi.sock" "$TOP/tests/corpus/valid-get.bin" \
		"$BATS_TEST_TMPDIR/slow.begun" >"$BATS_TEST_TMPDIR/slow.out" &
	slow=$!
	# The five come while the slow one trickles in.
	until_ok 5 "the slow sender's first bytes" test -e "$BATS_TEST_TMPDIR/slow.begun"
	fire 5
	run awk '$2 != 200' "$FIRED"
	assert_output ""
	wait "$slow"
	run cat "$BATS_TEST_TMPDIR/slow.out"
	assert_output "Status: 200 OK"
	# The five were stamped, worked and done before the slow one was
	# even whole (field 5 of a start line is the arrival).
	slow_arrival=$(awk '$1 == "start" && $4 == "abc" { print $5 }' "$LOG")
	[[ -n $slow_arrival ]]
	run awk -v s="$slow_arrival" '$4 != "abc" && $2 >= s' "$LOG"
	assert_output ""
	run grep -c '^start' "$LOG"
	assert_output 6
}
