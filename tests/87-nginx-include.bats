#!/usr/bin/env bats
# The nginx include pair in an nginx people already run: a copy of
# Debian's own /etc/nginx, with its paths moved into the test directory.
# make install-nginx puts the pair in place, the sites include the
# snippet, and requests through that nginx reach responders started by
# spawn/stack.

load helper

setup() {
	D=$BATS_TEST_TMPDIR/debian
	NGX=$D/etc
	LOG=$BATS_TEST_TMPDIR/run/private/work.log
	CLIENTS=$BATS_TEST_TMPDIR/clients
}

teardown() {
	debian_down
	stack_down
}

# debian_copy: /etc/nginx copied to $NGX, with everything it writes
# (pid, logs, temporary files) in $D, its includes in the copy, no
# "user" line (it runs unprivileged) and the default site on
# 127.0.0.1:$P0 alone; a log of $serialcgi_local per request in
# $D/log/local.log. Sets P0.
debian_copy() {
	local t
	P0=$(free_port)
	mkdir -p "$D/log" "$D/tmp"
	# -L: sites-enabled/default is a link into sites-available.
	cp -RL /etc/nginx "$NGX"
	grep -rlZ -e /etc/nginx -e /var/log/nginx -e /run/nginx.pid "$NGX" |
		xargs -0 -r sed -i -e "s|/etc/nginx|$NGX|g" \
		-e "s|/var/log/nginx|$D/log|g" -e "s|/run/nginx.pid|$D/nginx.pid|g"
	# load_module paths are relative to the prefix, which -p moves.
	find "$NGX/modules-enabled" -name '*.conf' -exec sed -i \
		's|load_module modules/|load_module /usr/share/nginx/modules/|' {} +
	sed -i '/^user /d' "$NGX/nginx.conf"
	# Debian's temporary paths are compiled in: /var/lib/nginx.
	{
		for t in client_body fastcgi proxy scgi uwsgi; do
			echo "${t}_temp_path $D/tmp/$t;"
		done
		echo "log_format local '\$remote_addr \$serialcgi_local" \
			"\$request_uri';"
		echo "access_log $D/log/local.log local;"
	} >"$D/test.conf"
	sed -i "/^http {/a\\	include $D/test.conf;" "$NGX/nginx.conf"
	grep -qF "include $D/test.conf;" "$NGX/nginx.conf"
	sed -i -e "s|^\tlisten 80 |\tlisten 127.0.0.1:$P0 |" \
		-e '/^\tlisten \[::\]:80 /d' "$NGX/sites-enabled/default"
	grep -q "listen 127.0.0.1:$P0 default_server;" \
		"$NGX/sites-enabled/default"
	reachable "$NGX/x" "$BATS_RUN_TMPDIR"
}

# debian_sites: the include line in the default site, and a second site
# with two server blocks (127.0.0.1:$P1 and :$P2, as a site's :80 and
# :443 would be) that both include it. Sets P1 and P2.
debian_sites() {
	local line="include $NGX/snippets/serialcgi.conf;"
	P1=$(free_port)
	P2=$(free_port)
	sed -i "s|^\tserver_name _;|&\n\t$line|" "$NGX/sites-enabled/default"
	grep -qF "$line" "$NGX/sites-enabled/default"
	cat >"$NGX/sites-enabled/two" <<-EOF
	server {
	    listen 127.0.0.1:$P1;
	    server_name one.example;
	    $line
	}
	server {
	    listen 127.0.0.1:$P2;
	    server_name two.example;
	    $line
	}
	EOF
}

# nginx_as: set NGINX_AS, what runs the copy's nginx: the service user
# when root (the copy made its own), as nginx_user in spawn/stack runs
# the stack's.
nginx_as() {
	NGINX_AS=()
	(($(id -u) == 0)) || return 0
	chown -R "$SERVICE_USER:" "$D"
	NGINX_AS=(setpriv --reuid="$SERVICE_USER"
		--regid="$(id -g "$SERVICE_USER")" --init-groups)
}

# debian_up: nginx -t on the copy, then that nginx in the foreground of
# a session of its own; its pid in $D/nginx.master.
debian_up() {
	local i
	nginx_as
	"${NGINX_AS[@]}" /usr/sbin/nginx -t -q -e "$D/log/error.log" -p "$NGX/" \
		-c "$NGX/nginx.conf"
	setsid "${NGINX_AS[@]}" /usr/sbin/nginx -e "$D/log/error.log" -p "$NGX/" \
		-c "$NGX/nginx.conf" -g 'daemon off;' </dev/null >/dev/null 2>&1 &
	echo $! >"$D/nginx.master"
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$P0/" && return 0
		alive "$D/nginx.master" || break
		sleep 0.1
	done
	tail -n 5 "$D/log/error.log" >&2
	return 1
}

# debian_down: QUIT (nginx's graceful stop), then whatever is left of
# its process group.
debian_down() {
	local pid i
	[[ -s $D/nginx.master ]] || return 0
	read -r pid <"$D/nginx.master"
	kill -QUIT "$pid" 2>/dev/null || true
	for ((i = 0; i < 250; i++)); do
		running "$pid" || break
		sleep 0.02
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	rm -f "$D/nginx.master"
}

# install_pair [VAR=value ...]: the stack's responders up (their socket
# in $RUN/private), the copy made, the pair installed into it by make
# install-nginx for that socket, and the sites including it.
install_pair() {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=2 WORK_LOG="$LOG" "$@"
	debian_copy
	run env "$@" make -s -C "$TOP" install-nginx NGINX_DIR="$NGX" \
		SOCKET="$RUN/private/serialcgi.sock"
	assert_success
	assert_output --partial "include $NGX/snippets/serialcgi.conf;"
	debian_sites
}

@test "the stack's own nginx includes the very pair spawn/stack renders" {
	stack_up "$BATS_TEST_TMPDIR" PROCESSES=1 WORK_SECONDS=0.1 QUEUE=7
	mkdir "$BATS_TEST_TMPDIR/pair"
	run env SOCKET="$RUN/private/serialcgi.sock" WORK_SECONDS=0.1 QUEUE=7 \
		"$STACK" includes "$BATS_TEST_TMPDIR/pair"
	assert_success
	assert_output $((2 * 7 + 7 / 4 + 256))
	for f in serialcgi-http.conf serialcgi-server.conf; do
		cmp "$BATS_TEST_TMPDIR/pair/$f" "$RUN/$f"
		grep -qxF "    include $RUN/$f;" "$RUN/nginx.conf" ||
			grep -qxF "        include $RUN/$f;" "$RUN/nginx.conf"
	done
	run grep -h '^ *limit_conn_zone' "$RUN/serialcgi-http.conf"
	assert_output "limit_conn_zone serialcgi zone=serialcgi:64k;
limit_conn_zone serialcgi zone=serialcgi_jobs:64k;"
	# QUEUE for the work (/test, /work); for submissions, JOB_QUEUE
	# or what the connections hold beside their margin (7 here).
	run bash -c "grep -h '^ *limit_conn ' '$RUN/serialcgi-server.conf' |
		sort -u"
	assert_output "    limit_conn serialcgi 7;
    limit_conn serialcgi_jobs $(((2 * 7 + 7 / 4) / 2));"
	# /test, /work and /work/ share the one limit: QUEUE in each.
	run grep -c '^    limit_conn serialcgi 7;$' "$RUN/serialcgi-server.conf"
	assert_output 3
	run grep -c -E '^location (= /test|= /work|\^~ /work/) \{$' \
		"$RUN/serialcgi-server.conf"
	assert_output 3
}

@test "Debian's nginx with the pair: nginx -t, then 4 at once 0.5 s apart" {
	install_pair WORK_SECONDS=0.5
	debian_up
	URL=http://127.0.0.1:$P0
	fire 4
	run awk '$2 != 200' "$FIRED"
	assert_output ""
	# Sorted by answer: each elapsed at least one work after the last,
	# less the spread of the arrivals in the work log.
	spread=$(awk '$1 == "start" { if (!n++ || $5 < lo) lo = $5
		if ($5 > hi) hi = $5 } END { print hi - lo }' "$LOG")
	prev=
	while read -r _ _ _ file; do
		e=$(elapsed "$file")
		[[ -z $prev ]] || awk -v e="$e" -v p="$prev" -v s="$spread" \
			'BEGIN { exit !(e - p >= 0.5 - s) }' ||
			fail "elapsed $e is not 0.5 s after $prev (spread $spread)"
		prev=$e
	done <"$FIRED"
	# The last answered ended at least 4 works after the first arrival,
	# and arrived at most the spread after it.
	awk -v e="$prev" -v s="$spread" 'BEGIN { exit !(e >= 2 - s && e < 2.5) }' ||
		fail "the last elapsed is $prev, not 4 works (spread $spread)"
	# The snippet's other locations, through the Debian site.
	run curl -s -D "$BATS_TEST_TMPDIR/h" -o "$BATS_TEST_TMPDIR/b" \
		-w '%{http_code} %{content_type}' -H 'X-Request-Id: deb1' "$URL/test"
	assert_output '200 application/json'
	jq -e '.elapsed >= 0.5 and .elapsed < 0.7' "$BATS_TEST_TMPDIR/b"
	grep -qi '^x-request-id: deb1' "$BATS_TEST_TMPDIR/h"
	grep -qF 'req=deb1 200' "$RUN/responders.log"
	run curl -s "$URL/status"
	assert_output --regexp '^\{"holder":null,.*"served":5,'
	for p in status metrics; do
		run curl -s -o /dev/null -w '%{http_code}' \
			--interface 127.0.0.2 "$URL/$p"
		assert_output 403
	done
	# The site's own pages are the site's.
	run curl -s -o /dev/null -w '%{http_code} %{content_type}' "$URL/other"
	assert_output '404 text/html'
}

@test "one limit for every server block: QUEUE=2, two on :P1, :P2 gets 503" {
	install_pair WORK_SECONDS=2 QUEUE=2
	debian_up
	URL=http://127.0.0.1:$P1
	client first
	wait_for "$LOG" '^start .* first '
	client second
	# The second is admitted once the responders count it waiting.
	URL=http://127.0.0.1:$P0 until_full '.holder != null and .waiters >= 1' 5
	URL=http://127.0.0.1:$P2
	run curl -s -D "$BATS_TEST_TMPDIR/h" -w '%{http_code} %{time_total}' \
		"$URL/test"
	assert_output --regexp '^\{"error":"busy: 2 requests already admitted"\}
503 0\.'
	grep -qi '^retry-after: 2' "$BATS_TEST_TMPDIR/h"
	grep -qi '^x-request-id: ' "$BATS_TEST_TMPDIR/h"
	# Not a bare wait: the copy's nginx is a child of this shell too.
	wait "$(cat "$CLIENTS/first.pid")" "$(cat "$CLIENTS/second.pid")"
	assert_equal "$(status_of first) $(status_of second)" "200 200"
	# Once they are done, :P2 is admitted like any other.
	run curl -s -o /dev/null -w '%{http_code}' "$URL/test"
	assert_output 200
}

@test "/jobs and /jobs/ reach the responder, bodies over 4 KiB get a JSON 413" {
	install_pair WORK_SECONDS=0.1
	debian_up
	URL=http://127.0.0.1:$P0
	head -c 4096 /dev/zero | tr '\0' x >"$BATS_TEST_TMPDIR/4k"
	head -c 4097 /dev/zero | tr '\0' x >"$BATS_TEST_TMPDIR/4k1"
	# Whatever the responder answers (404 until it has jobs), it is
	# its JSON, neither nginx's nor the Debian site's; the body is
	# passed on, not refused.
	for req in "POST /jobs 4k" "GET /jobs -" "DELETE /jobs -" \
		"GET /jobs/0123abcd -" "POST /jobs/0123abcd/cancel -"; do
		read -r m p body <<<"$req"
		args=(-X "$m")
		[[ $body == - ]] || args+=(--data-binary "@$BATS_TEST_TMPDIR/$body")
		run curl -s -o "$BATS_TEST_TMPDIR/b" -D "$BATS_TEST_TMPDIR/h" \
			-w '%{http_code} %{content_type}' -H 'X-Request-Id: j1' \
			"${args[@]}" "$URL$p"
		assert_output --regexp '^[2-4][0-9][0-9] application/json'
		refute_output --regexp '^(403|413) '
		jq -e . "$BATS_TEST_TMPDIR/b" >/dev/null
		grep -qi '^x-request-id: j1' "$BATS_TEST_TMPDIR/h"
	done
	# Over 4 KiB, with a length or chunked: refused by nginx, in JSON.
	for te in length chunked; do
		args=()
		[[ $te == chunked ]] && args=(-H 'Transfer-Encoding: chunked')
		for p in /jobs /jobs/0123abcd/cancel; do
			run curl -s -D "$BATS_TEST_TMPDIR/h" \
				-w ' %{http_code} %{content_type}' \
				"${args[@]}" -H 'X-Request-Id: big' \
				--data-binary "@$BATS_TEST_TMPDIR/4k1" "$URL$p"
			assert_output '{"error":"request body too large: at most 4096 bytes"}
 413 application/json'
			grep -qi '^x-request-id: big' "$BATS_TEST_TMPDIR/h"
		done
	done
	run grep -F 'req=big' "$RUN/responders.log"
	assert_failure
	# Not under the /test limit (submissions have their own), and
	# local by address, not by allow.
	run awk '/location = \/jobs|location \^~ \/jobs\//,/^}/' \
		"$NGX/snippets/serialcgi.conf"
	refute_output --partial 'limit_conn serialcgi '
	refute_output --partial allow
	run bash -c "awk '/location = \\/jobs|location \\^~ \\/jobs\\//,/^}/' \
		'$NGX/snippets/serialcgi.conf' |
		grep -c 'fastcgi_param SERIALCGI_LOCAL \\\$serialcgi_local;'"
	assert_output 2
	curl -s -o /dev/null "$URL/jobs"
	curl -s -o /dev/null --interface 127.0.0.2 "$URL/jobs?from=2"
	run grep -F /jobs "$D/log/local.log"
	assert_output --partial '127.0.0.1 1 /jobs'
	assert_output --partial '127.0.0.2 0 /jobs?from=2'
}

@test "make install-nginx DESTDIR=: the files, the line, a warning at 768" {
	debian_copy
	cp -a "$NGX" "$D/before"
	dest=$BATS_TEST_TMPDIR/dest
	run make -s -C "$TOP" install-nginx DESTDIR="$dest" NGINX_DIR="$NGX" \
		QUEUE=1024 WORK_SECONDS=3
	assert_success
	assert_output --partial "installed $dest$NGX/conf.d/serialcgi.conf"
	assert_output --partial "installed $dest$NGX/snippets/serialcgi.conf"
	assert_output --partial "    include $NGX/snippets/serialcgi.conf;"
	assert_output --partial "worker_connections is 768 in $NGX/nginx.conf;"
	assert_output --partial "QUEUE=1024 needs at least 2560"
	run grep -h 'unix:' "$dest$NGX/snippets/serialcgi.conf"
	assert_output --partial 'fastcgi_pass unix:/run/serialcgi.sock;'
	grep -qF 'limit_conn_zone serialcgi ' "$dest$NGX/conf.d/serialcgi.conf"
	# Nothing else changed: no site, not the live copy.
	diff -r "$D/before" "$NGX"
	# A small queue fits in 768.
	run make -s -C "$TOP" install-nginx DESTDIR="$dest" NGINX_DIR="$NGX" \
		QUEUE=100
	assert_success
	refute_output --partial worker_connections
}

@test "make install-nginx into a live nginx: nginx -t, and undone if it fails" {
	debian_copy
	run make -s -C "$TOP" install-nginx NGINX_DIR="$NGX" QUEUE=16
	assert_success
	assert_output --partial 'test is successful'
	[[ -f $NGX/conf.d/serialcgi.conf && -f $NGX/snippets/serialcgi.conf ]]
	cp "$NGX/conf.d/serialcgi.conf" "$D/first"
	# A zone of that name already: nginx -t fails, the last good
	# files come back, so the next reload still loads.
	echo 'limit_conn_zone $binary_remote_addr zone=serialcgi:1m;' \
		>"$NGX/conf.d/other.conf"
	run make -s -C "$TOP" install-nginx NGINX_DIR="$NGX" QUEUE=17
	assert_failure
	assert_output --partial 'shared memory zone "serialcgi" conflicts'
	cmp "$D/first" "$NGX/conf.d/serialcgi.conf"
	grep -qF 'limit_conn serialcgi 16;' "$NGX/snippets/serialcgi.conf"
	rm "$NGX/conf.d/other.conf" "$NGX/conf.d/serialcgi.conf"
	echo 'limit_conn_zone $binary_remote_addr zone=serialcgi:1m;' \
		>"$NGX/conf.d/other.conf"
	rm "$NGX/snippets/serialcgi.conf"
	run make -s -C "$TOP" install-nginx NGINX_DIR="$NGX"
	assert_failure
	assert_output --partial 'shared memory zone "serialcgi" conflicts'
	[[ ! -e $NGX/conf.d/serialcgi.conf && ! -e $NGX/snippets/serialcgi.conf ]]
}

@test "make install puts the pair's templates with the stack's" {
	run make -s -C "$TOP" install DESTDIR="$BATS_TEST_TMPDIR/d" PREFIX=/usr
	assert_success
	for f in nginx.conf.in serialcgi-http.conf.in serialcgi-server.conf.in; do
		cmp "$TOP/nginx/$f" "$BATS_TEST_TMPDIR/d/usr/share/serialcgi/nginx/$f"
	done
	[[ -x $BATS_TEST_TMPDIR/d/usr/share/serialcgi/spawn/install-nginx ]]
}
