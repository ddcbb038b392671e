/*
 * stop.h - a stop: SIGTERM, SIGINT, SIGHUP or SIGQUIT, read from a
 * signalfd(2) in the event loop. The responder takes no more, answers
 * every parked request 503 with Retry-After, lets the work in progress
 * finish and be answered, then ends the loop.
 */
#ifndef SERIALCGI_STOP_H
#define SERIALCGI_STOP_H

/*
 * stop_init: block the stop signals (before any thread starts, so that
 * every thread inherits the mask and none is interrupted by them) and
 * watch them through a signalfd in the loop. Returns 0, or -1 with
 * errno set (sigprocmask(2), signalfd(2), epoll_ctl(2)).
 */
int stop_init(void);

#endif
