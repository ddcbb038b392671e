#!/usr/bin/env bats
# Hostile or malformed input, through nginx and straight to the
# responder's socket. Each gets a clear answer (or a closed connection),
# and no responder crashes, hangs a thread for ever or blocks the lock.

load helper

setup_file() {
	stack_up "$BATS_FILE_TMPDIR" PROCESSES=2 WORK_SECONDS=0.2 \
		IO_TIMEOUT=1
	responder_pids >"$BATS_FILE_TMPDIR/pids"
}

teardown_file() {
	stack_down
}

# Every test ends here: same processes, and a normal request is served
# at once (no thread hangs, nobody holds the lock).
teardown() {
	run responder_pids
	assert_output "$(cat "$BATS_FILE_TMPDIR/pids")"
	run curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' "$URL/test"
	assert_success
	read -r code secs <<<"$output"
	assert_equal "$code" 200
	awk -v t="$secs" 'BEGIN { exit !(t < 1.0) }'
}

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

@test "odd methods get 405 (or nginx's 400 for a non-token method)" {
	for m in FOO PATCH OPTIONS TRACE CONNECT PROPFIND; do
		assert_equal "$(code -X "$m" "$URL/test")" 405
	done
	assert_equal "$(code -X get "$URL/test")" 400
}

@test "long paths: 404 from nginx, 414 past its buffers" {
	long=$(head -c 5000 /dev/zero | tr '\0' a)
	assert_equal "$(code "$URL/test$long")" 404
	long=$(head -c 9000 /dev/zero | tr '\0' a)
	assert_equal "$(code "$URL/test/$long")" 414
}

@test "query strings and bodies on GET are ignored: 200" {
	run curl -s "$URL/test?x=1&y=%00&z=$(head -c 2000 /dev/zero | tr '\0' q)"
	assert_output --regexp '^\{"elapsed":0\.2[0-9]*\}$'
	run bash -c "head -c 100000 /dev/urandom |
		curl -s -X GET --data-binary @- '$URL/test'"
	assert_output --regexp '^\{"elapsed":0\.2[0-9]*\}$'
	head -c 2000000 /dev/zero >"$BATS_TEST_TMPDIR/big"
	assert_equal "$(code -X GET --data-binary "@$BATS_TEST_TMPDIR/big" "$URL/test")" 413
}

@test "a 64 KB header gets nginx's 400" {
	assert_equal "$(code -H "X-Big: $(head -c 65536 /dev/zero | tr '\0' b)" "$URL/test")" 400
}

@test "/test/../test is /test; /test%00 is refused by nginx" {
	run curl -s --path-as-is "$URL/test/../test"
	assert_output --regexp '^\{"elapsed":0\.2[0-9]*\}$'
	assert_equal "$(code "$URL/test%00")" 400
	assert_equal "$(code "$URL/%74est")" 200
}

@test "raw: a well-formed request straight to the socket is served" {
	run raw "$RUN/private/serialcgi.sock" "$TOP/tests/corpus/valid-get.bin"
	assert_output --regexp '^[0-9]+ Status: 200 OK$'
}

@test "raw: a request that arrives in two pieces is waited for and served" {
	run perl -MIO::Socket::UNIX -MIO::Select -e '
		my ($path, $file) = @ARGV;
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
		    Peer => $path) or die "connect: $!\n";
		open(my $f, "<:raw", $file) or die "$file: $!\n";
		local $/; my $bytes = <$f>;
		$s->syswrite(substr($bytes, 0, 20));
		select(undef, undef, undef, 0.3);
		$s->syswrite(substr($bytes, 20));
		my $got = "";
		while (IO::Select->new($s)->can_read(3)) {
			last unless $s->sysread(my $buf, 65536);
			$got .= $buf;
		}
		print $got =~ /(Status: [^\r\n]*)/ ? $1 : "-", "\n";' \
		"$RUN/private/serialcgi.sock" "$TOP/tests/corpus/valid-get.bin"
	assert_output "Status: 200 OK"
}

@test "raw: malformed records are refused, logged, and harm nothing" {
	for f in random begin-only truncated-params huge-param-length \
		params-length-overflow multiplexed role-authorizer get-values \
		libfcgi-length-overflow libfcgi-mgmt-leak \
		libfcgi-get-values-overflow; do
		run raw "$RUN/private/serialcgi.sock" "$TOP/tests/corpus/$f.bin" 1.5
		assert_success
		# Closed without an answer: nothing for a bad request.
		assert_output "0 -"
	done
	run grep -c 'bad FastCGI request' "$RUN/responders.log"
	((output >= 11))
}

@test "raw: connections that send nothing, or stop mid-record, time out" {
	# Four connections, held open: two silent, two stopped mid-record.
	sock=$RUN/private/serialcgi.sock
	for i in 1 2; do
		raw "$sock" /dev/null 3 >/dev/null &
		raw "$sock" "$TOP/tests/corpus/truncated-params.bin" 3 >/dev/null &
	done
	# All four taken by the responders (accepted: ss(8) shows them
	# on the socket's own path) before the request.
	until_ok 5 "four connections accepted on $sock" \
		eval '(($(ss -xH state established src "$sock" | wc -l) >= 4))'
	# IO_TIMEOUT=1 frees the threads; the request waits at most that.
	run curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' "$URL/test"
	read -r c t <<<"$output"
	assert_equal "$c" 200
	awk -v t="$t" 'BEGIN { exit !(t < 1.0 + 0.2 + 0.5) }'
	wait
	run grep -c 'request incomplete in time' "$RUN/responders.log"
	((output >= 4))
}
