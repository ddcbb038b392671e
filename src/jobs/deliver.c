/* deliver.c - callbacks in the Standard Webhooks form: see deliver.h. */
#define _GNU_SOURCE	/* SOCK_CLOEXEC, strcasecmp */

#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "allow.h"
#include "clock.h"
#include "deliver.h"
#include "job_json.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "parse.h"
#include "secret.h"
#include "utf8.h"
#include "webapi.h"

#define BACKOFF_FIRST	1.0	/* s before the first retry */
#define BACKOFF_MAX	3600.0	/* s between retries, at most */

/* One attempt in flight. */
struct attempt {
	CURL		*e;
	struct curl_slist *hdrs;
	char		*body;
	struct job	 job;
	int		 refused;	/* the allowlist said no */
	char		 addr[64];	/* the address it refused */
	char		 err[CURL_ERROR_SIZE];
	struct attempt	*next;
};

static struct {
	struct allow	 allow;
	struct loop_fd	 ev;		/* an epoll set of libcurl's
					 * sockets, in the loop's as one */
	struct loop_timer timer;	/* libcurl's */
	CURLM		*multi;
	struct attempt	*flying;
	int		 nflying;
} dv = { .ev = { .fd = -1 } };

/* ---- libcurl's sockets in our epoll set ------------------------------- */

static int
on_socket(CURL *e, curl_socket_t s, int what, void *u, void *sp)
{
	struct epoll_event ev = { 0 };

	(void)e, (void)u, (void)sp;
	if (what == CURL_POLL_REMOVE) {
		(void)epoll_ctl(dv.ev.fd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) |
	    (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	ev.data.fd = s;
	if (epoll_ctl(dv.ev.fd, EPOLL_CTL_MOD, s, &ev) == -1 &&
	    errno == ENOENT)
		(void)epoll_ctl(dv.ev.fd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static void finished(void);

/* libcurl's timer is due. */
static void
on_deadline(struct loop_timer *t, double now)
{
	int running;

	(void)t, (void)now;
	if (dv.multi == NULL)
		return;
	(void)cu.multi_socket_action(dv.multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	finished();
}

static int
on_timer(CURLM *m, long ms, void *u)
{
	(void)m, (void)u;
	loop_timer_set(&dv.timer, ms < 0 ? 0 : clock_now() + (double)ms / 1e3,
	    on_deadline, NULL);
	return 0;
}

/* The allowlist, before the socket exists: a refused address sees no
 * connection at all (CURLOPT_OPENSOCKETFUNCTION). */
static curl_socket_t
on_open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct attempt *at = arg;
	const void *ip = NULL;

	if (purpose == CURLSOCKTYPE_IPCXN && allow_addr(&dv.allow, &a->addr))
		return socket(a->family, a->socktype | SOCK_CLOEXEC,
		    a->protocol);
	if (a->family == AF_INET)
		ip = &((struct sockaddr_in *)(void *)&a->addr)->sin_addr;
	else if (a->family == AF_INET6)
		ip = &((struct sockaddr_in6 *)(void *)&a->addr)->sin6_addr;
	if (ip == NULL || inet_ntop(a->family, ip, at->addr,
	    sizeof(at->addr)) == NULL)
		snprintf(at->addr, sizeof(at->addr), "family %d", a->family);
	at->refused = 1;
	return CURL_SOCKET_BAD;
}

/* Again on the connected address, just before the request is sent
 * (CURLOPT_PREREQFUNCTION, libcurl 7.80): nothing slips through. */
static int
on_prereq(void *arg, char *ip, char *local, int port, int lport)
{
	struct attempt *at = arg;

	(void)local, (void)port, (void)lport;
	if (allow_text(&dv.allow, ip) == 1)
		return CURL_PREREQFUNC_OK;
	snprintf(at->addr, sizeof(at->addr), "%s", ip);
	at->refused = 1;
	return CURL_PREREQFUNC_ABORT;
}

static size_t
discard(char *p, size_t size, size_t n, void *u)
{
	(void)p, (void)u;
	return size * n;
}

/* The epoll set of libcurl's sockets turned readable: let libcurl
 * work on the sockets that are ready. */
static void
on_ready(struct loop_fd *e, uint32_t events)
{
	struct epoll_event ev[16];
	int n, i, flags, running;

	(void)e, (void)events;
	if ((n = epoll_wait(dv.ev.fd, ev, 16, 0)) <= 0 || dv.multi == NULL)
		return;
	for (i = 0; i < n; i++) {
		flags = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
		    (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
		    (ev[i].events & (EPOLLERR | EPOLLHUP) ?
		    CURL_CSELECT_ERR : 0);
		(void)cu.multi_socket_action(dv.multi, ev[i].data.fd, flags,
		    &running);
	}
	finished();
}

/* libcurl's multi handle and the epoll set of its sockets, in the
 * loop's, made at the first callback: an idle responder has neither.
 * Returns 0 or -1. */
static int
start_multi(void)
{
	int fd;

	if (dv.multi != NULL)
		return 0;
	if ((fd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	if (loop_fd_add(&dv.ev, fd, EPOLLIN, on_ready, NULL) == -1 ||
	    (dv.multi = cu.multi_init()) == NULL) {
		loop_fd_del(&dv.ev);
		close(fd);
		dv.ev.fd = -1;
		return -1;
	}
	(void)cu.multi_setopt(dv.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	(void)cu.multi_setopt(dv.multi, CURLMOPT_TIMERFUNCTION, on_timer);
	return 0;
}

/* ---- one attempt ------------------------------------------------------ */

/* The event, as Standard Webhooks shapes it: {"type": "job.<status>",
 * "timestamp": RFC 3339, "data": the job, without its own delivery
 * state, which is no news to the receiver}. */
static char *
payload(const struct job *j)
{
	cJSON *o = cJSON_CreateObject(), *data = job_json(j);
	char type[32], now[40], *text = NULL;

	snprintf(type, sizeof(type), "job.%s", job_status_name(j->status));
	job_json_time(clock_wall(), now, sizeof(now));
	cJSON_DeleteItemFromObject(data, "callback");
	if (o != NULL && data != NULL &&
	    cJSON_AddStringToObject(o, "type", type) &&
	    cJSON_AddStringToObject(o, "timestamp", now) &&
	    cJSON_AddItemToObject(o, "data", data)) {
		data = NULL;
		/* Valid UTF-8 whatever an older build stored (utf8.h). */
		if ((text = cJSON_PrintUnformatted(o)) != NULL)
			(void)utf8_scrub(text, strlen(text));
	}
	cJSON_Delete(data);
	cJSON_Delete(o);
	return text;
}

static int
headers(struct attempt *at)
{
	char line[256], sig[128];
	long ts = (long)clock_wall();
	const char *lines[] = { "Content-Type: application/json",
	    "User-Agent: serialcgi/" SERIALCGI_VERSION, "Expect:", NULL };
	struct curl_slist *h = NULL, *n;
	int i;

	if (secret_sign(at->job.id, ts, at->body, sig, sizeof(sig)) == -1)
		return -1;
	for (i = 0; lines[i] != NULL; i++)
		if ((n = cu.slist_append(h, lines[i])) != NULL)
			h = n;
	snprintf(line, sizeof(line), "webhook-id: %s", at->job.id);
	h = (n = cu.slist_append(h, line)) ? n : h;
	snprintf(line, sizeof(line), "webhook-timestamp: %ld", ts);
	h = (n = cu.slist_append(h, line)) ? n : h;
	snprintf(line, sizeof(line), "webhook-signature: v1,%s", sig);
	h = (n = cu.slist_append(h, line)) ? n : h;
	at->hdrs = h;
	return h != NULL ? 0 : -1;
}

static int
setup(struct attempt *at)
{
	CURL *e = at->e;

	return cu.easy_setopt(e, CURLOPT_URL, at->job.cb_url) ||
	    cu.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    cu.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	    cu.easy_setopt(e, CURLOPT_NOPROXY, "*") ||
	    cu.easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    cu.easy_setopt(e, CURLOPT_TIMEOUT, (long)DELIVER_TIMEOUT) ||
	    cu.easy_setopt(e, CURLOPT_POSTFIELDS, at->body) ||
	    cu.easy_setopt(e, CURLOPT_HTTPHEADER, at->hdrs) ||
	    cu.easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open) ||
	    cu.easy_setopt(e, CURLOPT_OPENSOCKETDATA, at) ||
	    cu.easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq) ||
	    cu.easy_setopt(e, CURLOPT_PREREQDATA, at) ||
	    cu.easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) ||
	    cu.easy_setopt(e, CURLOPT_ERRORBUFFER, at->err) ||
	    cu.easy_setopt(e, CURLOPT_PRIVATE, at) ? -1 : 0;
}

static void
drop(struct attempt *at)
{
	struct attempt **p;

	for (p = &dv.flying; *p != NULL; p = &(*p)->next)
		if (*p == at) {
			*p = at->next;
			dv.nflying--;
			break;
		}
	if (at->e != NULL) {
		(void)cu.multi_remove_handle(dv.multi, at->e);
		cu.easy_cleanup(at->e);
	}
	cu.slist_free_all(at->hdrs);
	cJSON_free(at->body);
	free(at);
}

static void again(struct job *, CURL *, const char *);

/* An attempt that could not even start (libcurl missing, no memory):
 * counted and stored like one that failed, so it is tried again later
 * and gives up in the end, rather than every round. */
static void
no_start(const struct job *j, const char *why)
{
	struct job rec = *j;

	rec.cb_attempts++;
	rec.cb_last_status = 0;
	again(&rec, NULL, why);
	log_warn("job=%s callback attempt %d not sent: %s", j->id,
	    rec.cb_attempts, why);
	if (store_cb_result(&rec) == -1)
		log_err("job=%s callback: job store: %s", j->id,
		    store_error());
}

int
deliver_start(const struct job *j)
{
	struct attempt *at;
	char why[160];

	snprintf(why, sizeof(why), "the secret does not decode");
	if (webapi_load(why, sizeof(why)) == -1 ||
	    secret_load(why, sizeof(why)) == -1 || start_multi() == -1) {
		no_start(j, why);
		errno = ENOSYS;
		return -1;
	}
	if ((at = calloc(1, sizeof(*at))) == NULL)
		return -1;
	at->job = *j;
	at->next = dv.flying;
	dv.flying = at;
	dv.nflying++;
	if ((at->body = payload(j)) == NULL || headers(at) == -1 ||
	    (at->e = cu.easy_init()) == NULL || setup(at) == -1 ||
	    cu.multi_add_handle(dv.multi, at->e) != CURLM_OK) {
		drop(at);
		no_start(j, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* ---- the outcome ------------------------------------------------------ */

static double
jitter(double base)
{
	uint32_t r = 0;

	/* 4 bytes never fail (getrandom(2)); if they did, r = 0 is no
	 * jitter. _FORTIFY_SOURCE wants the result looked at. */
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = 0;
	/* "Equal jitter": half the backoff, plus up to half again. */
	return base / 2 + base / 2 * ((double)r / 4294967295.0);
}

/* Seconds the receiver asked us to wait (RFC 9110 10.2.3), delay form
 * only; 0 if none. */
static double
retry_after(CURL *e)
{
	struct curl_header *h = NULL;
	double s;

	if (e == NULL || cu.easy_header(e, "Retry-After", 0, CURLH_HEADER,
	    -1, &h) != CURLHE_OK || h == NULL ||
	    parse_seconds_upto(h->value, BACKOFF_MAX, &s) == -1)
		return 0;
	return s;
}

/* Another try later, or the end; why is cut to fit the store. */
static void
again(struct job *j, CURL *e, const char *why)
{
	double wait = BACKOFF_FIRST, asked = retry_after(e);
	int i;

	snprintf(j->cb_last_error, sizeof(j->cb_last_error), "%.*s",
	    (int)sizeof(j->cb_last_error) - 1, why);
	if (j->cb_attempts >= DELIVER_ATTEMPTS) {
		snprintf(j->cb_state, sizeof(j->cb_state), "failed");
		return;
	}
	for (i = 1; i < j->cb_attempts && wait < BACKOFF_MAX; i++)
		wait *= 2;
	wait = jitter(wait > BACKOFF_MAX ? BACKOFF_MAX : wait);
	if (asked > wait)
		wait = asked;
	snprintf(j->cb_state, sizeof(j->cb_state), "pending");
	j->cb_next_at = clock_wall() + wait;
}

/* The host of a URL, without brackets, into buf; "" if none. */
static void
host_of(const char *url, char *buf, size_t len)
{
	CURLU *u = cu.url();
	char *host = NULL;

	buf[0] = '\0';
	if (u != NULL && cu.url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    cu.url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		snprintf(buf, len, "%.*s", (int)strcspn(host + (*host == '['),
		    "]"), host + (*host == '['));
	cu.free(host);
	cu.url_cleanup(u);
}

/* A 3xx is never followed; say so, and say too if it pointed at an
 * address the allowlist refuses. */
static void
redirected(struct attempt *at, char *why, size_t len)
{
	char *to = NULL, host[64];

	(void)cu.easy_getinfo(at->e, CURLINFO_REDIRECT_URL, &to);
	host_of(to != NULL ? to : "", host, sizeof(host));
	if (host[0] && allow_text(&dv.allow, host) == 0)
		snprintf(why, len, "address not allowed: %s (a redirect, "
		    "never followed)", host);
	else
		snprintf(why, len, "a redirect, never followed");
}

static void
judge(struct attempt *at, CURLcode rc)
{
	struct job *j = &at->job;
	char why[CURL_ERROR_SIZE];
	long code = 0;

	j->cb_attempts++;
	j->cb_last_status = 0;
	j->cb_last_error[0] = '\0';
	j->cb_next_at = 0;
	/* Refused only if nothing else got through: libcurl goes on to a
	 * name's other addresses (Happy Eyeballs, RFC 8305). */
	if (at->refused && rc != CURLE_OK) {
		snprintf(j->cb_state, sizeof(j->cb_state), "failed");
		snprintf(j->cb_last_error, sizeof(j->cb_last_error),
		    "address not allowed: %s", at->addr);
		return;
	}
	if (rc != CURLE_OK) {
		snprintf(why, sizeof(why), "%s", at->err[0] ? at->err :
		    cu.easy_strerror(rc));
		again(j, at->e, why);
		return;
	}
	(void)cu.easy_getinfo(at->e, CURLINFO_RESPONSE_CODE, &code);
	j->cb_last_status = (int)code;
	if (code >= 200 && code < 300)
		snprintf(j->cb_state, sizeof(j->cb_state), "delivered");
	else if (code == 410 || (code >= 300 && code < 400)) {
		snprintf(j->cb_state, sizeof(j->cb_state), "failed");
		if (code == 410)
			snprintf(j->cb_last_error, sizeof(j->cb_last_error),
			    "410 Gone: the receiver wants no more");
		else
			redirected(at, j->cb_last_error,
			    sizeof(j->cb_last_error));
	} else {
		snprintf(why, sizeof(why), "HTTP %ld", code);
		again(j, at->e, why);
	}
}

/* Attempts libcurl has finished: judge, store, let go. */
static void
finished(void)
{
	struct attempt *at;
	CURLMsg *m;
	int left;

	while ((m = cu.multi_info_read(dv.multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		(void)cu.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &at);
		judge(at, m->data.result);
		if (store_cb_result(&at->job) == -1)
			log_err("job=%s callback: job store: %s", at->job.id,
			    store_error());
		log_msg("job=%s callback attempt %d: %s%s%s", at->job.id,
		    at->job.cb_attempts, at->job.cb_state,
		    at->job.cb_last_error[0] ? ": " : "",
		    at->job.cb_last_error);
		jobs_kick();
		drop(at);
	}
}

int
deliver_busy(void)
{
	return dv.nflying;
}

int
deliver_has(const char *id)
{
	struct attempt *at;

	for (at = dv.flying; at != NULL; at = at->next)
		if (strcmp(at->job.id, id) == 0)
			return 1;
	return 0;
}

void
deliver_stop(void)
{
	while (dv.flying != NULL)
		drop(dv.flying);
	loop_timer_set(&dv.timer, 0, NULL, NULL);
}

/* ---- set-up and the submit-time check --------------------------------- */

/*
 * What libcurl's parser forgives and a callback may not be. A URL is
 * ASCII (RFC 3986 2: a byte outside it, or a space, is percent-encoded),
 * so any control character, space or raw non-ASCII byte is refused.
 * Returns 0, or -1 with why.
 */
static int
url_bytes_ok(const char *url, char *why, size_t len)
{
	const char *p;

	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			snprintf(why, len, "callback_url: a control character, "
			    "space or non-ASCII byte at byte %ld (percent-"
			    "encode it: RFC 3986)", (long)(p - url));
			return -1;
		}
	return 0;
}

/* And after the scheme come exactly two slashes and an authority (RFC
 * 3986 3), where libcurl takes "http:/x" and "http:///x" for
 * "http://x". Returns 0, or -1 with why. */
static int
slashes_ok(const char *url, char *why, size_t len)
{
	const char *colon = strchr(url, ':');

	if (colon == NULL || strncmp(colon, "://", 3) != 0 ||
	    colon[3] == '/' || colon[3] == '\\') {
		snprintf(why, len, "callback_url: want scheme://host "
		    "(RFC 3986 3)");
		return -1;
	}
	return 0;
}

/*
 * The host as libcurl parsed it: an IP literal (IPv6 in brackets, or
 * IPv4 as libcurl normalizes it) or a plain ASCII name: letters,
 * digits, '-' and '_' in labels of 1 to 63 (RFC 1035 2.3.4), dots
 * between them, at most one at the end; at most 253 in all. No other
 * script's letters, digits or dots, which look like ASCII ones
 * (UTS #39): IDNs come as their xn-- form. Returns 1 or 0.
 */
static int
host_ok(const char *host)
{
	size_t n = strlen(host), label = 0, i;

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
		return 1;
	if (n == 0 || n > 254 || (n == 254 && host[n - 1] != '.'))
		return 0;
	for (i = 0; i < n; i++) {
		if (host[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((host[i] >= 'a' && host[i] <= 'z') ||
		    (host[i] >= 'A' && host[i] <= 'Z') ||
		    (host[i] >= '0' && host[i] <= '9') || host[i] == '-' ||
		    host[i] == '_') || ++label > 63)
			return 0;
	}
	return 1;
}

/* The port, if the URL names one: 1 to 65535 (libcurl takes 0).
 * Returns 0, or -1. */
static int
port_ok(CURLU *u)
{
	char *port = NULL;
	long p;
	int rc;

	if (cu.url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		return 0;	/* none: the scheme's */
	rc = parse_count(port, 1, 65535, &p);
	cu.free(port);
	return rc;
}

int
deliver_check_url(const char *url, char *why, size_t len)
{
	char *scheme = NULL, *host = NULL, *user = NULL, err[160];
	char literal[64];
	CURLU *u;
	CURLUcode rc;
	int ok = -1;

	if (!secret_on()) {
		snprintf(why, len, "callback_url: callbacks are off here (no "
		    "CALLBACK_SECRET_FILE)");
		errno = EINVAL;
		return -1;
	}
	if (webapi_load(err, sizeof(err)) == -1 ||
	    secret_load(err, sizeof(err)) == -1 || (u = cu.url()) == NULL) {
		snprintf(why, len, "callback_url: cannot be taken now: %s",
		    err);
		errno = EAGAIN;		/* ours, not the request's */
		return -1;
	}
	if (url_bytes_ok(url, why, len) == -1)
		;
	else if ((rc = cu.url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK)
		snprintf(why, len, "callback_url: not a URL (%s)",
		    cu.url_strerror(rc));
	else if (cu.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		snprintf(why, len, "callback_url: want http or https");
	else if (slashes_ok(url, why, len) == -1)
		;
	else if (cu.url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		snprintf(why, len, "callback_url: no credentials in the URL");
	else if (cu.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		snprintf(why, len, "callback_url: no host");
	else if (!host_ok(host))
		snprintf(why, len, "callback_url: the host is neither an "
		    "ASCII name nor an IP literal");
	else if (port_ok(u) == -1)
		snprintf(why, len, "callback_url: the port is not 1 to 65535");
	else if (host_of(url, literal, sizeof(literal)),
	    allow_text(&dv.allow, literal) == 0)
		snprintf(why, len, "callback_url: address not allowed: %s",
		    literal);
	else
		ok = 0;
	cu.free(scheme);
	cu.free(user);
	cu.free(host);
	cu.url_cleanup(u);
	errno = EINVAL;
	return ok;
}

int
deliver_init(const struct config *cfg, char *why, size_t len)
{
	char reason[200];

	if (allow_parse(cfg->callback_allow, &dv.allow, reason,
	    sizeof(reason)) == -1) {
		snprintf(why, len, "CALLBACK_ALLOW: %s", reason);
		return -1;
	}
	if (secret_init(cfg->callback_secret, reason, sizeof(reason)) ==
	    -1) {
		snprintf(why, len, "callback secret %s: %s",
		    cfg->callback_secret, reason);
		return -1;
	}
	return 0;
}
