# serialcgi - one work() at a time behind nginx, across every responder.
#
#   make            build ./serialcgi
#   make run        install what is missing, build, serve until Ctrl-C
#   make test       the same set-up, then the whole bats suite
#   make bench      the same set-up, then the figures of tests/bench
#   make install    PREFIX=/usr/local DESTDIR=
#
# Settings pass through to the stack: PORT PROCESSES THREADS WORK_SECONDS
# QUEUE RUN_DIR SERVICE_USER WORK_LOG IO_TIMEOUT SLOW_WAIT, e.g.
#   make run PORT=18080 PROCESSES=4 WORK_SECONDS=0.2

PROG	= serialcgi
SRCS	= src/main.c src/http.c src/lock.c src/work.c src/watch.c src/log.c \
	  src/record.c src/board.c src/metrics.c src/parse.c
OBJS	= $(SRCS:.c=.o)
PKGS	= fcgi libcjson

PREFIX	?= /usr/local
DESTDIR	?=
BINDIR	= $(PREFIX)/bin
SHAREDIR = $(PREFIX)/share/$(PROG)

CC	?= cc
OPT	?= -O2
CFLAGS	?= -g
CFLAGS	+= -std=c11 -Wall -Wextra -Werror -pthread $(OPT)
CFLAGS	+= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS	+= $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread

# make SANITIZE=address (or undefined, thread) builds with that sanitizer.
ifneq ($(SANITIZE),)
CFLAGS	+= -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS	+= -fsanitize=$(SANITIZE)
OPT	= -O1
endif

PORT		?= 8080
PROCESSES	?= 4
THREADS		?= 64
WORK_SECONDS	?= 3
export PORT PROCESSES THREADS WORK_SECONDS
# The optional ones only when set: an empty value would be refused.
$(foreach v,QUEUE RUN_DIR SERVICE_USER WORK_LOG IO_TIMEOUT SLOW_WAIT,\
	$(if $(value $(v)),$(eval export $(v))))

.PHONY: all deps run test bench install uninstall clean

all: $(PROG)

$(PROG): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(OBJS): src/serialcgi.h src/http.h src/lock.h src/work.h src/watch.h \
	src/log.h src/record.h src/board.h src/metrics.h src/parse.h Makefile

deps:
	@spawn/deps $(DEPS)

run: DEPS = run
test: DEPS = test
bench: DEPS = bench

run: deps
	@$(MAKE) --no-print-directory all
	@spawn/stack run

test: deps
	@$(MAKE) --no-print-directory all
	@tests/run

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench

install: $(PROG)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)/nginx \
		$(DESTDIR)$(SHAREDIR)/spawn
	install -m 0755 $(PROG) $(DESTDIR)$(BINDIR)/$(PROG)
	install -m 0644 nginx/nginx.conf.in $(DESTDIR)$(SHAREDIR)/nginx/
	install -m 0755 spawn/stack spawn/deps $(DESTDIR)$(SHAREDIR)/spawn/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/$(PROG)
	rm -rf $(DESTDIR)$(SHAREDIR)

clean:
	rm -f $(PROG) $(OBJS)
