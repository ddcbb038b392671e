# serialcgi - one work() at a time behind nginx, across every responder.
#
#   make            build ./serialcgi and ./serialcgi-client
#   make run        install what is missing, build, serve until Ctrl-C
#   make cluster    the same with PostgreSQL and two hosts sharing it
#   make test       the same set-up, then the whole bats suite
#   make bench      the same set-up, then the figures of tests/bench
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        a Debian package in run/deb (debian/, dpkg-buildpackage)
#   make install-nginx  the include pair into an existing nginx:
#                   SOCKET=/run/serialcgi.sock NGINX_DIR=/etc/nginx DESTDIR=
#   make install-systemd   the units, where pkg-config's systemd says
#
# Settings pass through to the stack: PORT PROCESSES WORK_SECONDS QUEUE
# RUN_DIR SERVICE_USER WORK_LOG IO_TIMEOUT SLOW_WAIT WORK_COMMAND
# WORK_TIMEOUT WORK_OUTPUT_MAX WORK_ON_ABORT, e.g.
#   make run PORT=18080 PROCESSES=4 WORK_SECONDS=0.2
#   make run WORK_COMMAND=$PWD/doc/examples/counter   (doc/work.md)

# src/ by concern, each folder using only those before it:
#   common  clock, numbers, log, text, dlopen, settings, the event loop
#   turn    the turn: tickets (board), the lock and its backends, work
#   jobs    stored jobs: runner, janitor, store, callbacks
#   serve   the responder: main, FastCGI connections, routes, status
#   client  serialcgi-client (common only)
PROG	= serialcgi
COMMON	= src/common/clock.c src/common/parse.c src/common/log.c \
	  src/common/textbuf.c src/common/dl.c src/common/settings.c \
	  src/common/loop.c src/common/pq.c src/common/webapi.c \
	  src/common/procfs.c src/common/incarnation.c src/common/privfile.c \
	  src/common/utf8.c
TURN	= src/turn/runner.c src/turn/turn.c src/turn/board.c \
	  src/turn/board_shm.c src/turn/board_stats.c src/turn/lock.c \
	  src/turn/lock_flock.c src/turn/lock_pg.c src/turn/work.c \
	  src/turn/work_sleep.c src/turn/work_cgi.c src/turn/cgi.c \
	  src/turn/proctree.c src/turn/work_upstream.c src/turn/work_env.c \
	  src/turn/worklog.c
JOBS	= src/jobs/jobs.c src/jobs/jobrun.c src/jobs/janitor.c \
	  src/jobs/job_json.c src/jobs/store.c src/jobs/db.c \
	  src/jobs/db_sqlite.c src/jobs/db_pg.c src/jobs/deliver.c \
	  src/jobs/secret.c src/jobs/allow.c src/jobs/store_conn.c \
	  src/jobs/store_id.c src/jobs/job_body.c src/jobs/store_work.c \
	  src/jobs/store_row.c src/jobs/job.c
SERVE	= src/serve/main.c src/serve/fcgi.c src/serve/conn.c \
	  src/serve/record.c src/serve/http.c src/serve/reply.c \
	  src/serve/jobs_http.c src/serve/status.c src/serve/status_html.c \
	  src/serve/metrics.c src/serve/procstat.c src/serve/notify.c \
	  src/serve/signals.c src/serve/cgi_env.c src/serve/work_http.c \
	  src/serve/work_async.c src/serve/job_reply.c src/serve/jobs_submit.c
SRCS	= $(COMMON) $(TURN) $(JOBS) $(SERVE)
OBJS	= $(SRCS:.c=.o)
PKGS	= libcjson
# serialcgi-client: checks any deployment against the acceptance rule.
CLIENT	= serialcgi-client
CLIENT_SRCS = src/client/main.c src/client/fire.c src/client/rule.c \
	  src/client/report.c src/common/clock.c src/common/parse.c
CLIENT_OBJS = $(CLIENT_SRCS:.c=.o)
# Each folder sees its own headers and those of the folders below it,
# never above: the compiler keeps the layers apart.
src/common/%.o: INCLUDES = -Isrc/common
src/turn/%.o: INCLUDES = -Isrc/common -Isrc/turn
src/jobs/%.o: INCLUDES = -Isrc/common -Isrc/turn -Isrc/jobs
src/serve/%.o: INCLUDES = -Isrc/common -Isrc/turn -Isrc/jobs -Isrc/serve
src/client/%.o: INCLUDES = -Isrc/common -Isrc/client

PREFIX	?= /usr/local
DESTDIR	?=
# The responder is a daemon: sbin, as slowcgi's and fcgiwrap's. BINDIR
# is for the programs users run.
BINDIR	= $(PREFIX)/bin
SBINDIR	= $(PREFIX)/sbin
MANDIR	= $(PREFIX)/share/man
SHAREDIR = $(PREFIX)/share/$(PROG)
# Every page in man/, by its section (a client's serialcgi-client.1 too).
MAN1	= $(wildcard man/*.1)
MAN8	= $(wildcard man/*.8)

CC	?= cc
# CFLAGS and LDFLAGS are the user's (make CFLAGS=-O0); what the build
# needs is added apart, so no command line can drop it.
CFLAGS	?= -g -O2
# As Debian builds it (dpkg-buildflags): a warning the .deb would stop
# on stops here first.
CPPFLAGS ?= -D_FORTIFY_SOURCE=2
# libpq, libcurl, libcrypto, sqlite3, libsystemd: their headers only;
# each is dlopen()ed when a setting needs it (src/dl.h says why).
NEEDED_CFLAGS = -std=c11 -Wall -Wextra -Werror -pthread $(INCLUDES) \
	$(shell pkg-config --cflags $(PKGS) libpq libcurl libcrypto sqlite3 \
	libsystemd 2>/dev/null)
NEEDED_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -ldl
CLIENT_LIBS = $(shell pkg-config --libs $(PKGS) libcurl 2>/dev/null)

# make SANITIZE=address (or undefined, thread) builds with that
# sanitizer; a finding aborts rather than goes on (-fno-sanitize-recover).
ifneq ($(SANITIZE),)
NEEDED_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
NEEDED_LIBS += -fsanitize=$(SANITIZE)
CLIENT_LIBS += -fsanitize=$(SANITIZE)
endif

# Settings pass through to the stack only when set: their defaults are
# the responder's table's (serialcgi --settings), written once there.
# THREADS is gone; passed on only so that the stack can say so.
$(foreach v,PORT PROCESSES WORK_SECONDS QUEUE RUN_DIR SERVICE_USER WORK_LOG \
	IO_TIMEOUT SLOW_WAIT THREADS LOCK_URL LOCK_KEY ENGINE_PORT JOB_QUEUE \
	JOB_RETENTION CALLBACK_ALLOW WORK_COMMAND WORK_TIMEOUT WORK_OUTPUT_MAX \
	WORK_ON_ABORT WORK_URL WORK_CA_FILE,\
	$(if $(value $(v)),$(eval export $(v))))

.PHONY: all deps run cluster test bench deb install install-nginx uninstall \
	clean

all: $(PROG) $(CLIENT)

$(PROG): $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(NEEDED_LIBS) $(LDLIBS)

$(CLIENT): $(CLIENT_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLIENT_OBJS) $(CLIENT_LIBS) \
		$(LDLIBS)

.c.o:
	$(CC) $(NEEDED_CFLAGS) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

# For tests only: the responder with its test hooks (SERIALCGI_TEST_
# variables, e.g. a pause between the lock's grant and the board's mark),
# which the normal build compiles out. Built from the sources in one go.
serialcgi-hooks: $(SRCS) $(wildcard src/*/*.h) Makefile
	$(CC) $(NEEDED_CFLAGS) -Isrc/common -Isrc/turn -Isrc/jobs -Isrc/serve \
		-DSERIALCGI_TEST_HOOKS $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) -o $@ \
		$(SRCS) $(NEEDED_LIBS) $(LDLIBS)

$(OBJS) $(CLIENT_OBJS): $(wildcard src/*/*.h) Makefile

# The status page stays a plain HTML file; od(1), in coreutils, turns it
# into bytes of a C array, so no escaping and no file to find at run time.
src/serve/status_html.c: src/serve/status.html
	{ echo '/* made from src/serve/status.html by the Makefile */'; \
	  echo '#include "status.h"'; \
	  echo 'const char status_html[] = {'; \
	  od -An -v -tx1 src/serve/status.html | \
	    sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0 };'; \
	  echo 'const size_t status_html_len = sizeof(status_html) - 1;'; \
	} >$@.tmp && mv $@.tmp $@

deps:
	@spawn/deps $(DEPS)

run: DEPS = run
cluster: DEPS = cluster
test: DEPS = test
bench: DEPS = bench
deb: DEPS = deb

run: deps
	@$(MAKE) --no-print-directory all
	@spawn/stack run

cluster: deps
	@$(MAKE) --no-print-directory all
	@spawn/cluster run

test: deps
	@$(MAKE) --no-print-directory all
	@tests/run

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench

# A Debian package of what `make install` puts in /usr, built in a copy
# of the tree under DEB_DIR (run/deb); prints the .deb's path.
deb: deps
	@spawn/deb

# The daemon, the man pages, the nginx and systemd templates, the scripts,
# and beside them a link to the daemon: the scripts run $top/serialcgi.
install: $(PROG) $(CLIENT)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(SHAREDIR)/nginx \
		$(DESTDIR)$(SHAREDIR)/spawn $(DESTDIR)$(SHAREDIR)/systemd/user \
		$(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(PROG) $(DESTDIR)$(SBINDIR)/$(PROG)
	install -m 0755 $(CLIENT) $(DESTDIR)$(BINDIR)/$(CLIENT)
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	$(if $(MAN1),install -d $(DESTDIR)$(MANDIR)/man1)
	$(if $(MAN1),install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	install -m 0644 systemd/serialcgi.service.in systemd/serialcgi.socket \
		systemd/serialcgi.default $(DESTDIR)$(SHAREDIR)/systemd/
	install -m 0644 systemd/user/serialcgi.service.in \
		systemd/user/serialcgi.socket $(DESTDIR)$(SHAREDIR)/systemd/user/
	ln -sf $(SBINDIR)/$(PROG) $(DESTDIR)$(SHAREDIR)/$(PROG)
	install -m 0644 nginx/nginx.conf.in nginx/serialcgi-http.conf.in \
		nginx/serialcgi-server.conf.in $(DESTDIR)$(SHAREDIR)/nginx/
	install -m 0755 spawn/stack spawn/deps spawn/engine spawn/cluster \
		spawn/install-nginx spawn/responders $(DESTDIR)$(SHAREDIR)/spawn/
	install -m 0644 spawn/lib.sh $(DESTDIR)$(SHAREDIR)/spawn/

# The include pair for an nginx that already runs, for responders on
# SOCKET (the systemd socket by default), with the stack's QUEUE and
# WORK_SECONDS. It never edits a site: it prints the include line.
NGINX_DIR ?= /etc/nginx
SOCKET	?= /run/serialcgi.sock
install-nginx: $(PROG)
	@SOCKET="$(SOCKET)" NGINX_DIR="$(NGINX_DIR)" DESTDIR="$(DESTDIR)" \
		spawn/install-nginx

# systemd units (systemd/): the system's and a user manager's, where
# systemd.pc says, the paths to the binaries written in.
SYSTEMDUNITDIR	?= $(shell pkg-config systemd \
	--variable=systemdsystemunitdir 2>/dev/null)
SYSTEMDUSERUNITDIR ?= $(shell pkg-config systemd \
	--variable=systemduserunitdir 2>/dev/null)
MULTIWATCH	?= /usr/bin/multiwatch
UNIT_SED	= sed -e 's|@SBINDIR@|$(SBINDIR)|g' \
	-e 's|@MULTIWATCH@|$(MULTIWATCH)|g'

.PHONY: install-systemd install-systemd-user uninstall-systemd

install-systemd: install-systemd-user
	@test -n "$(SYSTEMDUNITDIR)" || { echo "no systemd.pc:" \
		"pass SYSTEMDUNITDIR=" >&2; exit 1; }
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SHAREDIR)/systemd
	$(UNIT_SED) systemd/serialcgi.service.in \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/serialcgi.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/serialcgi.service
	install -m 0644 systemd/serialcgi.socket $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 0644 systemd/serialcgi.default $(DESTDIR)$(SHAREDIR)/systemd/

install-systemd-user:
	@test -n "$(SYSTEMDUSERUNITDIR)" || { echo "no systemd.pc:" \
		"pass SYSTEMDUSERUNITDIR=" >&2; exit 1; }
	install -d $(DESTDIR)$(SYSTEMDUSERUNITDIR)
	$(UNIT_SED) systemd/user/serialcgi.service.in \
		>$(DESTDIR)$(SYSTEMDUSERUNITDIR)/serialcgi.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUSERUNITDIR)/serialcgi.service
	install -m 0644 systemd/user/serialcgi.socket \
		$(DESTDIR)$(SYSTEMDUSERUNITDIR)/

uninstall-systemd:
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/serialcgi.service \
		$(DESTDIR)$(SYSTEMDUNITDIR)/serialcgi.socket \
		$(DESTDIR)$(SYSTEMDUSERUNITDIR)/serialcgi.service \
		$(DESTDIR)$(SYSTEMDUSERUNITDIR)/serialcgi.socket

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/$(PROG) $(DESTDIR)$(BINDIR)/$(CLIENT)
	rm -f $(MAN8:man/%=$(DESTDIR)$(MANDIR)/man8/%) \
		$(MAN1:man/%=$(DESTDIR)$(MANDIR)/man1/%)
	rm -rf $(DESTDIR)$(SHAREDIR)

clean:
	rm -f $(PROG) $(OBJS) $(CLIENT) $(CLIENT_OBJS) src/serve/status_html.c \
		serialcgi-hooks
