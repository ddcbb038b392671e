#!/usr/bin/env bats
# The man page (man/serialcgi.8), make install's layout, and the Debian
# package: the page passes mandoc's and groff's checks and documents
# every option and variable of --help; `make deb` builds the package
# once for this file, in run/deb, without a file in the tree or beside
# it; the .deb holds each file where Debian wants it, passes lintian,
# and its own install-nginx renders the include pair.

load helper
bats_require_minimum_version 1.5.0

PAGE=$TOP/man/serialcgi.8

# help_names: the long options and the environment variables that
# serialcgi --help prints, one a line, "--name" or "NAME".
help_names() {
	"$SERIALCGI" --help | grep -oE -- '--[a-z][a-z-]+|environment: [A-Z_]+' |
		sed 's/^environment: //' | sort -u
}

# rendered FILE: the page as text, as mandoc renders it for a terminal
# wide enough that no line breaks at the hyphen of an option.
rendered() {
	mandoc -T ascii -O width=1000 "$1" | col -b
}

# git_state: what git sees in the tree, ignored files included, but for
# run/ (the results of make deb go there, on purpose).
git_state() {
	git -C "$TOP" status --porcelain --ignored --untracked-files=all |
		grep -v -e ' run/' || true
}

setup_file() {
	local d=$BATS_FILE_TMPDIR
	# One package build for the whole file: make deb, as a user runs it.
	if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
		git_state >"$d/git.before"
	fi
	# What dpkg-buildpackage would leave beside the tree it builds.
	compgen -G "$TOP/../serialcgi*_*" >"$d/parent.before" || true
	make -s -C "$TOP" deb >"$d/deb.out" 2>"$d/deb.err"
	echo $? >"$d/deb.rc"
	compgen -G "$TOP/../serialcgi*_*" >"$d/parent.after" || true
	if [[ -f $d/git.before ]]; then
		git_state >"$d/git.after"
	fi
	DEB=$(tail -n 1 "$d/deb.out")
	X=$d/x
	if [[ -f $DEB ]]; then
		dpkg-deb -x "$DEB" "$X"
		dpkg-deb -e "$DEB" "$X/DEBIAN"
	fi
	export DEB X
}

@test "mandoc -T lint -W warning: both pages exit 0 and say nothing" {
	run mandoc -T lint -W warning "$PAGE" "$TOP/man/serialcgi-client.1"
	assert_success
	assert_output ""
}

@test "man --warnings: groff renders the page with nothing on stderr" {
	run --separate-stderr man --warnings -l "$PAGE"
	assert_success
	[[ -z $stderr ]] || { echo "$stderr"; false; }
	assert_output --partial "FastCGI responder that runs one work at a time"
}

@test "the page documents every option and variable of --help" {
	local name missing=()
	rendered "$PAGE" >"$BATS_TEST_TMPDIR/page.txt"
	help_names >"$BATS_TEST_TMPDIR/help.txt"
	# At least the settings of today: a broken parse must not pass.
	(($(wc -l <"$BATS_TEST_TMPDIR/help.txt") >= 30))
	while read -r name; do
		grep -qwF -- "$name" "$BATS_TEST_TMPDIR/page.txt" ||
			missing+=("$name")
	done <"$BATS_TEST_TMPDIR/help.txt"
	[[ ${#missing[@]} -eq 0 ]] || {
		echo "not in man/serialcgi.8: ${missing[*]}"
		false
	}
}

@test "the page's options are those of --help, no more" {
	local opt stale=()
	help_names >"$BATS_TEST_TMPDIR/help.txt"
	sed -n '/^OPTIONS/,/^ENVIRONMENT/p' <(rendered "$PAGE") |
		grep -oE -- '--[a-z][a-z-]+' | sort -u >"$BATS_TEST_TMPDIR/opts"
	while read -r opt; do
		grep -qxF -- "$opt" "$BATS_TEST_TMPDIR/help.txt" || stale+=("$opt")
	done <"$BATS_TEST_TMPDIR/opts"
	[[ ${#stale[@]} -eq 0 ]] || {
		echo "in the page, not in --help: ${stale[*]}"
		false
	}
}

@test "make install: the daemon in sbin, the page in man8, templates in share" {
	local d=$BATS_TEST_TMPDIR/d
	run make -s -C "$TOP" install install-systemd DESTDIR="$d" PREFIX=/usr \
		SYSTEMDUNITDIR=/lib/systemd/system \
		SYSTEMDUSERUNITDIR=/usr/lib/systemd/user
	assert_success
	[[ -x $d/usr/sbin/serialcgi && ! -e $d/usr/bin/serialcgi ]]
	cmp "$PAGE" "$d/usr/share/man/man8/serialcgi.8"
	for f in serialcgi.service.in serialcgi.socket serialcgi.default \
		user/serialcgi.service.in user/serialcgi.socket; do
		cmp "$TOP/systemd/$f" "$d/usr/share/serialcgi/systemd/$f"
	done
	for f in serialcgi-http.conf.in serialcgi-server.conf.in; do
		cmp "$TOP/nginx/$f" "$d/usr/share/serialcgi/nginx/$f"
	done
	# The scripts beside it run $top/serialcgi: the installed daemon.
	[[ $(readlink "$d/usr/share/serialcgi/serialcgi") = /usr/sbin/serialcgi ]]
	run grep -h '^Exec' "$d/lib/systemd/system/serialcgi.service" \
		"$d/usr/lib/systemd/user/serialcgi.service"
	assert_line 'ExecStartPre=/usr/sbin/serialcgi --check'
	assert_line 'ExecStart=/usr/bin/multiwatch -f ${PROCESSES} -s TERM -- /usr/sbin/serialcgi'
	run make -s -C "$TOP" uninstall DESTDIR="$d" PREFIX=/usr
	assert_success
	[[ ! -e $d/usr/sbin/serialcgi && ! -e $d/usr/share/man/man8/serialcgi.8 ]]
	[[ ! -e $d/usr/share/serialcgi ]]
}

@test "make deb: one .deb in run/deb, its path printed, nothing else left" {
	local d=$BATS_FILE_TMPDIR arch v
	[[ $(cat "$d/deb.rc") -eq 0 ]] || {
		cat "$d/deb.err" "$d/deb.out"
		false
	}
	arch=$(dpkg-architecture -qDEB_HOST_ARCH)
	v=$("$SERIALCGI" --version | cut -d' ' -f2)
	[[ $DEB = "$TOP/run/deb/serialcgi_${v}_$arch.deb" ]]
	# The package's version is the responder's.
	run dpkg-deb -f "$DEB" Version
	assert_output "$v"
	# dpkg-buildpackage writes beside its tree: that was a copy.
	diff "$d/parent.before" "$d/parent.after"
	if [[ -f $d/git.before ]]; then
		diff "$d/git.before" "$d/git.after"
	fi
	[[ ! -e $TOP/run/deb/build ]]
}

@test "the .deb: every file where Debian wants it" {
	run dpkg-deb -c "$DEB"
	assert_success
	for f in ./usr/sbin/serialcgi ./usr/share/man/man8/serialcgi.8.gz \
		./lib/systemd/system/serialcgi.service \
		./lib/systemd/system/serialcgi.socket \
		./usr/lib/systemd/user/serialcgi.service \
		./usr/lib/systemd/user/serialcgi.socket \
		./usr/lib/sysusers.d/serialcgi.conf \
		./etc/default/serialcgi \
		./usr/share/serialcgi/nginx/serialcgi-http.conf.in \
		./usr/share/serialcgi/nginx/serialcgi-server.conf.in \
		./usr/share/serialcgi/nginx/nginx.conf.in \
		./usr/share/serialcgi/spawn/install-nginx \
		./usr/share/serialcgi/systemd/serialcgi.service.in \
		./usr/share/doc/serialcgi/copyright \
		./usr/share/doc/serialcgi/README.Debian; do
		assert_line --regexp " $f( -> .*)?$"
	done
	refute_line --regexp ' \./usr/bin/serialcgi$'
	refute_output --partial ./usr/local
	# The units run the packaged daemon; the settings are a conffile.
	grep -qxF 'ExecStart=/usr/bin/multiwatch -f ${PROCESSES} -s TERM -- /usr/sbin/serialcgi' \
		"$X/lib/systemd/system/serialcgi.service"
	grep -qxF /etc/default/serialcgi "$X/DEBIAN/conffiles"
	cmp "$TOP/systemd/serialcgi.default" "$X/etc/default/serialcgi"
}

@test "the .deb: user created, socket and service enabled, user units not" {
	local p=$X/DEBIAN/postinst
	grep -qE '^ *systemd-sysusers .* serialcgi\.conf$' "$p"
	grep -qE "^u serialcgi " "$X/usr/lib/sysusers.d/serialcgi.conf"
	grep -qF "deb-systemd-helper enable 'serialcgi.socket'" "$p"
	grep -qF "deb-systemd-helper enable 'serialcgi.service'" "$p"
	# Started at install; at an upgrade the service is restarted, the
	# socket never (its listener and backlog stay).
	grep -qF "invoke \$_dh_action 'serialcgi.service' >" "$p"
	grep -qF "deb-systemd-invoke start 'serialcgi.socket'" "$p"
	run grep -F "restart 'serialcgi.socket'" "$p"
	assert_failure
	# --no-enable: a user unit is enabled again only if it was enabled
	# (postinst-systemd-user-dont-enable), never enabled for everyone.
	grep -qF "deb-systemd-helper --user debian-installed 'serialcgi.socket'" "$p"
	grep -qF "deb-systemd-helper --user debian-installed 'serialcgi.service'" "$p"
	grep -qF "deb-systemd-invoke stop 'serialcgi.service'" "$X/DEBIAN/prerm"
	grep -qF "deb-systemd-invoke stop 'serialcgi.socket'" "$X/DEBIAN/prerm"
}

@test "lintian: no errors, no warnings" {
	run lintian --fail-on error,warning "${DEB%.deb}.changes"
	echo "$output"
	assert_success
	refute_line --regexp '^[EW]: '
}

@test "the .deb's page renders without a warning, its install-nginx works" {
	local t=$BATS_TEST_TMPDIR
	run --separate-stderr man --warnings -l \
		"$X/usr/share/man/man8/serialcgi.8.gz"
	assert_success
	[[ -z $stderr ]] || { echo "$stderr"; false; }
	# The packaged installer, as an operator runs it, into a staging
	# root: the pair rendered for the systemd socket, checked by nginx.
	run env -u SERIALCGI DESTDIR="$t/ng" QUEUE=200 WORK_SECONDS=3 \
		"$X/usr/share/serialcgi/spawn/install-nginx"
	assert_success
	assert_output --partial "include /etc/nginx/snippets/serialcgi.conf;"
	grep -qF 'fastcgi_pass unix:/run/serialcgi.sock;' \
		"$t/ng/etc/nginx/snippets/serialcgi.conf"
	grep -qF 'limit_conn_zone' "$t/ng/etc/nginx/conf.d/serialcgi.conf"
}
