/*
 * janitor.h - what the kernel tells of dead responders, applied to the
 * job store, in a round of the event loop every JANITOR_TICK seconds:
 * jobs of dead responders (interrupted, adopted), retention, callbacks
 * due. A round does nothing while no job is about (no job request for
 * a while, nothing queued, running or to deliver on this node, no
 * orphan on the board) and then lets the store go.
 */
#ifndef SERIALCGI_JANITOR_H
#define SERIALCGI_JANITOR_H

#define JANITOR_TICK	0.25	/* s between rounds */

/* janitor_start: the rounds, as a timer of the event loop (loop.h),
 * the first at once. Call after jobs_init() and loop_init(). Does
 * nothing without a job store. */
void janitor_start(void);

/* janitor_rescan: have the next round look at every job of this node
 * (a job could not be parked). Loop thread only. */
void janitor_rescan(void);

/* janitor_stop: the responder stops: no round any more, so nothing is
 * adopted or delivered from now on (deliver_stop drops what flies). */
void janitor_stop(void);

#endif
