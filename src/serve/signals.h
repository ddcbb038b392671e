/*
 * signals.h - signals, read from a signalfd(2) in the event loop:
 *   SIGTERM, SIGINT, SIGHUP, SIGQUIT  a stop: the responder takes no
 *       more, answers every parked request 503 with Retry-After, lets
 *       the work in progress finish and be answered, then ends the loop;
 *   SIGUSR1  reopen the work log (WORK_LOG), after logrotate(8) moved
 *       it, as nginx and php-fpm do;
 *   SIGPIPE  ignored: a write to a log whose reader left fails with
 *       EPIPE, and the responder goes on.
 */
#ifndef SERIALCGI_SIGNALS_H
#define SERIALCGI_SIGNALS_H

#include "settings.h"

/*
 * signals_init: block those signals (before any thread starts, so that
 * every thread inherits the mask and none is interrupted by them) and
 * watch them through a signalfd in the loop. cfg's work log is the one
 * SIGUSR1 reopens. Returns 0, or -1 with errno set (sigprocmask(2),
 * signalfd(2), epoll_ctl(2)).
 */
int signals_init(struct config *cfg);

#endif
