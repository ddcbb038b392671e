/*
 * fire.c - serialcgi-client's transfers: libcurl's multi
 * interface on epoll.
 *
 * curl_multi_perform(3) walks every transfer and polls every socket on
 * each wake-up: O(N) work per event, which at N = 1000 costs about 2 ms
 * of CPU per answer and delays the arrival stamps. The socket interface
 * (curl_multi_socket_action(3)) instead tells us which sockets to watch;
 * epoll keeps that list, so an event costs work for its own transfer
 * only, whatever N is.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/epoll.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "fire.h"
#include "clock.h"

#define BODY_MAX	1024	/* an answer is {"elapsed": x}: far less */
#define HEADER_MAX	512	/* one Server-Timing header line */
#define WAIT_MAX_MS	1000
#define EVENTS		256

struct transfer {
	CURL *easy;
	struct curl_slist *hdrs;
	struct answer *a;
	size_t len;
	char body[BODY_MAX];
	char errbuf[CURL_ERROR_SIZE];
};

/* What one call of fire_run() shares with libcurl's callbacks. */
struct run {
	CURLM *m;
	struct answer **list;
	long n;
	int round;
	const struct fire_opts *o;
	fire_done_fn done;
	void *arg;
	double t0;		/* when the first send was due */
	long next;		/* requests started */
	long active;		/* started, not yet complete */
	long complete;
	int ep;			/* epoll descriptor */
	double timer_at;	/* libcurl's timeout, mono s; < 0: none */
};

int
fire_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		errno = EIO;
		return -1;
	}
	return 0;
}

void
fire_cleanup(void)
{
	curl_global_cleanup();
}

/* A finite number >= 0 at s; *end says where it stopped. */
static int
number_at(const char *s, double *out, const char **end)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (e == s || errno != 0 || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	*end = e;
	return 0;
}

int
fire_server_timing(const char *value, const char *metric, double *ms)
{
	size_t mlen = strlen(metric), n;
	const char *p = value, *end;

	/* metric *( OWS ";" OWS param ) *( "," metric ... ) */
	while (*p != '\0') {
		p += strspn(p, " \t,");
		n = strcspn(p, " \t;,");
		if (n == mlen && strncasecmp(p, metric, mlen) == 0) {
			for (p += n; *p != '\0' && *p != ','; p++) {
				if (strncasecmp(p, "dur=", 4) == 0 &&
				    (p[-1] == ';' || p[-1] == ' ' ||
				    p[-1] == '\t'))
					return number_at(p + 4, ms, &end);
			}
			return -1;
		}
		p += strcspn(p, ",");
	}
	return -1;
}

/* Keep the first BODY_MAX - 1 bytes: a longer body is no answer of
 * ours, and its "elapsed" will not parse. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t n = size * nmemb, room = BODY_MAX - 1 - t->len;
	size_t take = n < room ? n : room;

	memcpy(t->body + t->len, data, take);
	t->len += take;
	t->body[t->len] = '\0';
	return n;
}

/* Server-Timing: wait;dur=<ms>, work;dur=<ms>. Header lines come
 * without a NUL (CURLOPT_HEADERFUNCTION(3)), so copy one first. */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	static const char name[] = "Server-Timing:";
	struct transfer *t = arg;
	size_t n = size * nmemb;
	char line[HEADER_MAX];
	double ms;

	if (n < sizeof(name) - 1 || n >= sizeof(line) ||
	    strncasecmp(data, name, sizeof(name) - 1) != 0)
		return n;
	memcpy(line, data + sizeof(name) - 1, n - (sizeof(name) - 1));
	line[n - (sizeof(name) - 1)] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (fire_server_timing(line, "wait", &ms) == 0)
		t->a->wait_ms = ms;
	if (fire_server_timing(line, "work", &ms) == 0)
		t->a->work_ms = ms;
	return n;
}

/* Connected, the request about to be written
 * (CURLOPT_PREREQFUNCTION(3)): the latest moment the client knows
 * that the server had not seen it yet. */
static int
on_prereq(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct transfer *t = arg;

	(void)ip;
	(void)local_ip;
	(void)port;
	(void)local_port;
	t->a->sent = clock_now();
	return CURL_PREREQFUNC_OK;
}

static void
transfer_free(struct transfer *t)
{
	if (t == NULL)
		return;
	if (t->easy != NULL)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->hdrs);
	free(t);
}

/* Each request on a connection of its own, as N browsers would. */
static int
transfer_options(struct transfer *t, const struct fire_opts *o)
{
	CURL *e = t->easy;

	return curl_easy_setopt(e, CURLOPT_URL, o->url) ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs) ||
	    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1) ||
	    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) ||
	    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    (long)(o->timeout_s * 1e3)) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, t) ||
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) ||
	    curl_easy_setopt(e, CURLOPT_HEADERDATA, t) ||
	    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq) ||
	    curl_easy_setopt(e, CURLOPT_PREREQDATA, t) ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, t) ? -1 : 0;
}

/* A fresh outcome for a, and the transfer that will fill it in. */
static struct transfer *
transfer_new(struct answer *a, int round, const struct fire_opts *o)
{
	struct transfer *t;
	char hdr[FIRE_ID_MAX + 16];

	if (round == 0)
		snprintf(a->id, sizeof(a->id), "%s%ld", o->prefix, a->i);
	else
		snprintf(a->id, sizeof(a->id), "%s%ld.r%d", o->prefix, a->i,
		    round);
	a->round = round;
	a->start = a->sent = a->arrival = NAN;
	a->elapsed = a->wait_ms = a->work_ms = NAN;
	a->status = 0;
	a->error[0] = '\0';
	a->retry_after = -1;
	snprintf(hdr, sizeof(hdr), "X-Request-Id: %s", a->id);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->a = a;
	if ((t->hdrs = curl_slist_append(NULL, hdr)) == NULL ||
	    (t->easy = curl_easy_init()) == NULL ||
	    transfer_options(t, o) == -1) {
		transfer_free(t);
		errno = EIO;
		return NULL;
	}
	return t;
}

static int
start_one(struct run *r, struct answer *a)
{
	struct transfer *t;

	if ((t = transfer_new(a, r->round, r->o)) == NULL)
		return -1;
	a->t = t;
	a->start = clock_now();
	if (curl_multi_add_handle(r->m, t->easy) != CURLM_OK) {
		a->t = NULL;
		transfer_free(t);
		errno = EIO;
		return -1;
	}
	return 0;
}

static double
due(const struct run *r, long k)
{
	return r->t0 + (double)k * r->o->spacing_ms / 1e3;
}

/* Start every request that is due and has room. */
static int
start_due(struct run *r)
{
	while (r->next < r->n && r->active < r->o->parallel &&
	    clock_now() >= due(r, r->next)) {
		if (start_one(r, r->list[r->next]) == -1)
			return -1;
		r->next++;
		r->active++;
	}
	return 0;
}

/* "elapsed" of a JSON object body, if it is a finite number >= 0. */
static double
elapsed_of(const struct transfer *t)
{
	cJSON *root = cJSON_ParseWithLength(t->body, t->len);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "elapsed");
	double v = NAN;

	if (cJSON_IsNumber(e) && isfinite(e->valuedouble) &&
	    e->valuedouble >= 0)
		v = e->valuedouble;
	cJSON_Delete(root);
	return v;
}

/* The transfer is over: fill in its answer, hand it on, free it. */
static void
finish(struct run *r, CURLMsg *msg)
{
	double arrival = clock_now();
	struct transfer *t;
	struct answer *a;
	curl_off_t after = -1;
	char *priv = NULL;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
	t = (struct transfer *)priv;
	a = t->a;
	a->arrival = arrival;
	if (msg->data.result != CURLE_OK) {
		snprintf(a->error, sizeof(a->error), "%s",
		    t->errbuf[0] != '\0' ? t->errbuf :
		    curl_easy_strerror(msg->data.result));
	} else {
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &a->status);
		if (curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &after) ==
		    CURLE_OK && after > 0)
			a->retry_after = (long)after;
		a->elapsed = elapsed_of(t);
	}
	curl_multi_remove_handle(r->m, t->easy);
	a->t = NULL;
	transfer_free(t);
	r->active--;
	r->complete++;
	r->done(a, r->arg);
}

/* Every transfer libcurl has completed since the last call. */
static void
collect(struct run *r)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(r->m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			finish(r, msg);
}

/* libcurl says which sockets to watch for what; epoll keeps the list
 * (CURLMOPT_SOCKETFUNCTION(3)). */
static int
on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct run *r = arg;
	struct epoll_event ev = { .data.fd = s };

	(void)easy;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		/* libcurl may have closed it already: nothing to undo. */
		(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) |
	    ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, s, &ev) == 0 ||
	    (errno == ENOENT && epoll_ctl(r->ep, EPOLL_CTL_ADD, s, &ev) == 0))
		return 0;
	return -1;
}

/* libcurl asks to be called back after ms (-1: never); the loop does
 * it, as libcurl may not be re-entered from here
 * (CURLMOPT_TIMERFUNCTION(3)). */
static int
on_timer(CURLM *m, long ms, void *arg)
{
	struct run *r = arg;

	(void)m;
	r->timer_at = ms < 0 ? -1.0 : clock_now() + (double)ms / 1e3;
	return 0;
}

/* How long epoll may sleep: until the next send is due (if it has
 * room) or libcurl's timeout, whichever is first, capped. */
static int
wait_ms(const struct run *r)
{
	int ms = WAIT_MAX_MS, t;

	if (r->next < r->n && r->active < r->o->parallel) {
		t = clock_ms_until(due(r, r->next));
		if (t < ms)
			ms = t;
	}
	if (r->timer_at >= 0) {
		t = clock_ms_until(r->timer_at);
		if (t < ms)
			ms = t;
	}
	return ms;
}

/* Hand libcurl the events epoll saw, and its timeout once it is due. */
static int
dispatch(struct run *r, const struct epoll_event *evs, int n)
{
	int i, flags, running;

	for (i = 0; i < n; i++) {
		flags = ((evs[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
		    ((evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
		    ((evs[i].events & (EPOLLERR | EPOLLHUP)) ?
		    CURL_CSELECT_ERR : 0);
		if (curl_multi_socket_action(r->m, evs[i].data.fd, flags,
		    &running) != CURLM_OK)
			return -1;
	}
	if (r->timer_at >= 0 && clock_now() >= r->timer_at) {
		r->timer_at = -1.0;
		if (curl_multi_socket_action(r->m, CURL_SOCKET_TIMEOUT, 0,
		    &running) != CURLM_OK)
			return -1;
	}
	return 0;
}

static int
loop(struct run *r)
{
	struct epoll_event evs[EVENTS];
	int n;

	while (r->complete < r->n) {
		if (start_due(r) == -1)
			return -1;
		n = epoll_wait(r->ep, evs, EVENTS, wait_ms(r));
		if (n == -1 && errno != EINTR)
			return -1;
		if (dispatch(r, evs, n < 0 ? 0 : n) == -1) {
			errno = EIO;
			return -1;
		}
		collect(r);
	}
	return 0;
}

/* No cap on connections, and room to keep all of them at once
 * (CURLMOPT_MAX_TOTAL_CONNECTIONS(3), CURLMOPT_MAXCONNECTS(3)). */
static int
multi_options(struct run *r)
{
	return curl_multi_setopt(r->m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L) ||
	    curl_multi_setopt(r->m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L) ||
	    curl_multi_setopt(r->m, CURLMOPT_MAXCONNECTS, r->o->parallel) ||
	    curl_multi_setopt(r->m, CURLMOPT_SOCKETFUNCTION, on_socket) ||
	    curl_multi_setopt(r->m, CURLMOPT_SOCKETDATA, r) ||
	    curl_multi_setopt(r->m, CURLMOPT_TIMERFUNCTION, on_timer) ||
	    curl_multi_setopt(r->m, CURLMOPT_TIMERDATA, r) ? -1 : 0;
}

int
fire_run(struct answer **list, long n, int round, const struct fire_opts *o,
    fire_done_fn done, void *arg)
{
	struct run r = { .list = list, .n = n, .round = round, .o = o,
	    .done = done, .arg = arg, .ep = -1, .timer_at = -1.0 };
	int rc = -1, saved;
	long k;

	if ((r.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	if ((r.m = curl_multi_init()) == NULL || multi_options(&r) == -1) {
		errno = EIO;
		goto out;
	}
	r.t0 = clock_now();
	rc = loop(&r);
out:
	saved = errno;
	for (k = 0; k < n; k++) {
		if (list[k]->t == NULL)
			continue;
		curl_multi_remove_handle(r.m, list[k]->t->easy);
		transfer_free(list[k]->t);
		list[k]->t = NULL;
	}
	if (r.m != NULL)
		curl_multi_cleanup(r.m);
	close(r.ep);
	errno = saved;
	return rc;
}
