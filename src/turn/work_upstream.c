/* work_upstream.c - the work as a call to an HTTP upstream: see
 * work_upstream.h. */
#define _GNU_SOURCE	/* strcasecmp, strncasecmp */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "parse.h"
#include "webapi.h"
#include "work_upstream.h"

#define HEAD_MAX	(64 * 1024)	/* bytes of the upstream's fields */

static struct {
	const char	*base;		/* WORK_URL, without a final '/' */
	size_t		 base_len;
	const char	*ca_file;	/* or NULL */
	double		 timeout;	/* s */
	size_t		 output_max;	/* bytes */
} up;

/* One call. */
struct call {
	struct work	*w;
	char		*head;		/* "Status: ...\r\n" and fields */
	size_t		 head_len;
	unsigned char	*body;
	size_t		 body_len, body_cap;
	int		 over;		/* more than output_max came */
	int		 status;
	char		 reason[64];	/* its reason phrase, or "" */
	char		 connection[256];	/* what its Connection names */
	char		 err[CURL_ERROR_SIZE];
};

/* RFC 9110 7.6.1: fields for one connection only, never forwarded, in
 * either direction; and what libcurl and nginx set themselves. */
static int
hop_by_hop(const char *name, size_t n, const char *named)
{
	static const char *const hop[] = { "Connection", "Keep-Alive",
	    "Proxy-Connection", "TE", "Transfer-Encoding", "Upgrade",
	    "Trailer", "Proxy-Authorization", "Proxy-Authenticate", "Host",
	    "Content-Length", "Expect", NULL };
	const char *p = named;
	size_t k;
	int i;

	for (i = 0; hop[i] != NULL; i++)
		if (strlen(hop[i]) == n && strncasecmp(name, hop[i], n) == 0)
			return 1;
	/* The fields the Connection field names, comma-separated. */
	while (*(p += strspn(p, ", \t")) != '\0') {
		k = strcspn(p, ", \t");
		if (k == n && strncasecmp(p, name, n) == 0)
			return 1;
		p += k;
	}
	return 0;
}

static const char *
env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	int i;

	for (i = 0; env != NULL && env[i] != NULL; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

/* HTTP_X_FOO_BAR as X-Foo-Bar into buf. */
static void
field_name(const char *var, size_t n, char *buf, size_t len)
{
	size_t i;
	int up_next = 1;

	for (i = 0; i < n && i + 1 < len; i++) {
		buf[i] = var[i] == '_' ? '-' : up_next ? var[i] :
		    (char)(var[i] >= 'A' && var[i] <= 'Z' ? var[i] + 32 :
		    var[i]);
		up_next = var[i] == '_';
	}
	buf[i] = '\0';
}

static struct curl_slist *
append(struct curl_slist *h, const char *line)
{
	struct curl_slist *n = cu.slist_append(h, line);

	if (n == NULL) {
		cu.slist_free_all(h);
		errno = ENOMEM;
	}
	return n;
}

/* RFC 7239: who asked, through which host and scheme. */
static struct curl_slist *
forwarded(struct curl_slist *h, char **env)
{
	const char *addr = env_get(env, "REMOTE_ADDR");
	const char *host = env_get(env, "HTTP_HOST");
	const char *proto = env_get(env, "REQUEST_SCHEME");
	char line[512];
	int n;

	n = snprintf(line, sizeof(line), "Forwarded: for=\"%s%s%s\"",
	    addr != NULL && strchr(addr, ':') ? "[" : "",
	    addr != NULL ? addr : "unknown",
	    addr != NULL && strchr(addr, ':') ? "]" : "");
	if (host != NULL && strpbrk(host, "\";\\,") == NULL)
		n += snprintf(line + n, sizeof(line) - (size_t)n,
		    ";host=\"%.200s\"", host);
	if (proto != NULL && (strcmp(proto, "http") == 0 ||
	    strcmp(proto, "https") == 0))
		snprintf(line + n, sizeof(line) - (size_t)n, ";proto=%s",
		    proto);
	return append(h, line);
}

/* The request's fields: its end-to-end HTTP_* ones, Content-Type, and
 * ours. Returns the list, or NULL with errno ENOMEM. */
static struct curl_slist *
request_fields(char **env)
{
	const char *conn = env_get(env, "HTTP_CONNECTION"), *v, *eq;
	struct curl_slist *h = NULL;
	char name[128], line[8192];
	int i;

	if ((h = append(h, "Expect:")) == NULL)	/* no 100-continue */
		return NULL;
	for (i = 0; env[i] != NULL; i++) {
		if (strncmp(env[i], "HTTP_", 5) != 0 ||
		    (eq = strchr(env[i], '=')) == NULL)
			continue;
		field_name(env[i] + 5, (size_t)(eq - env[i] - 5), name,
		    sizeof(name));
		if (hop_by_hop(name, strlen(name), conn ? conn : "") ||
		    strcasecmp(name, "X-Request-Id") == 0 ||
		    strcasecmp(name, "X-Fence-Token") == 0 ||
		    strcasecmp(name, "Forwarded") == 0)
			continue;
		snprintf(line, sizeof(line), "%s: %s", name, eq + 1);
		if ((h = append(h, line)) == NULL)
			return NULL;
	}
	if ((v = env_get(env, "CONTENT_TYPE")) != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", v);
		if ((h = append(h, line)) == NULL)
			return NULL;
	}
	snprintf(line, sizeof(line), "X-Request-Id: %s",
	    (v = env_get(env, "SERIALCGI_REQUEST_ID")) ? v : "-");
	if ((h = append(h, line)) == NULL)
		return NULL;
	if ((v = env_get(env, "SERIALCGI_FENCE_TOKEN")) != NULL) {
		snprintf(line, sizeof(line), "X-Fence-Token: %s", v);
		if ((h = append(h, line)) == NULL)
			return NULL;
	}
	return forwarded(h, env);
}

/* The URL: the base, and the request's own path after /work, as it
 * came (REQUEST_URI: not decoded), with its query. */
static int
target(char **env, char *buf, size_t len)
{
	const char *uri = env_get(env, "REQUEST_URI"), *p, *q;

	if (uri != NULL && strncmp(uri, "/work", 5) == 0 &&
	    (uri[5] == '\0' || uri[5] == '/' || uri[5] == '?'))
		return snprintf(buf, len, "%.*s%s", (int)up.base_len,
		    up.base, uri + 5) < (int)len ? 0 : -1;
	p = env_get(env, "PATH_INFO");
	q = env_get(env, "QUERY_STRING");
	return snprintf(buf, len, "%.*s%s%s%s", (int)up.base_len, up.base,
	    p ? p : "", q && *q ? "?" : "", q && *q ? q : "") < (int)len ?
	    0 : -1;
}

/* libcurl's header callback: the status line starts a response (a 1xx
 * or a final one); end-to-end fields are kept, as CGI's. */
static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t len = size * n, k, name;
	int code;

	k = len;
	while (k > 0 && (p[k - 1] == '\n' || p[k - 1] == '\r'))
		k--;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		c->head_len = 0;
		c->connection[0] = c->reason[0] = '\0';
		if (sscanf(p, "HTTP/%*s %d %63[^\r\n]", &code, c->reason) >= 1)
			c->status = code;
		return len;
	}
	name = strcspn(p, ":");
	if (k == 0 || name >= k)
		return len;
	if (name == 10 && strncasecmp(p, "Connection", 10) == 0)
		snprintf(c->connection, sizeof(c->connection), "%.*s",
		    (int)(k - 11), p + 11);
	/* What Connection names may come before it: answer() drops it. */
	if (hop_by_hop(p, name, ""))
		return len;
	if (c->head_len + k + 2 > HEAD_MAX)
		return 0;	/* too much: the transfer fails */
	memcpy(c->head + c->head_len, p, k);
	memcpy(c->head + c->head_len + k, "\r\n", 2);
	c->head_len += k + 2;
	return len;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t len = size * n, cap;
	unsigned char *q;

	if (c->body_len + len > up.output_max) {
		c->over = 1;
		return 0;	/* the transfer fails: 502 */
	}
	if (c->body_len + len > c->body_cap) {
		cap = c->body_cap == 0 ? 16384 : 2 * c->body_cap;
		while (cap < c->body_len + len)
			cap *= 2;
		if ((q = realloc(c->body, cap)) == NULL)
			return 0;
		c->body = q;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, p, len);
	c->body_len += len;
	return len;
}

/* The request's body, from the memfd its source made. */
static size_t
on_read(char *p, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	ssize_t k = read(c->w->stdin_fd, p, size * n);

	return k < 0 ? CURL_READFUNC_ABORT : (size_t)k;
}

static int
setup(CURL *e, struct call *c, const char *url, struct curl_slist *h)
{
	char **env = c->w->env;
	const char *method = env_get(env, "REQUEST_METHOD");
	const char *len = env_get(env, "CONTENT_LENGTH");
	double left = c->w->start + up.timeout - clock_now();
	long ms = left > 0.001 ? (long)(left * 1000) : 1;

	method = method != NULL ? method : "GET";
	if (cu.easy_setopt(e, CURLOPT_URL, url) ||
	    cu.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    cu.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	    cu.easy_setopt(e, CURLOPT_NOPROXY, "*") ||
	    cu.easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    cu.easy_setopt(e, CURLOPT_TIMEOUT_MS, ms) ||
	    cu.easy_setopt(e, CURLOPT_HTTPHEADER, h) ||
	    cu.easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) ||
	    cu.easy_setopt(e, CURLOPT_HEADERDATA, c) ||
	    cu.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) ||
	    cu.easy_setopt(e, CURLOPT_WRITEDATA, c) ||
	    cu.easy_setopt(e, CURLOPT_ERRORBUFFER, c->err) ||
	    (up.ca_file != NULL &&
	    cu.easy_setopt(e, CURLOPT_CAINFO, up.ca_file)))
		return -1;
	if (strcmp(method, "HEAD") == 0)
		return cu.easy_setopt(e, CURLOPT_NOBODY, 1L) ? -1 : 0;
	if (cu.easy_setopt(e, CURLOPT_CUSTOMREQUEST, method))
		return -1;
	if (c->w->stdin_fd < 0 || len == NULL)
		return 0;
	(void)lseek(c->w->stdin_fd, 0, SEEK_SET);
	return cu.easy_setopt(e, CURLOPT_POST, 1L) ||
	    cu.easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strtoll(len, NULL, 10)) ||
	    cu.easy_setopt(e, CURLOPT_READFUNCTION, on_read) ||
	    cu.easy_setopt(e, CURLOPT_READDATA, c) ? -1 : 0;
}

/* Drive the transfer, watching the lock and the requester. Returns the
 * transfer's result, or CURLE_ABORTED_BY_CALLBACK with *why set (the
 * lock lost, the requester gone). */
static CURLcode
drive(CURLM *m, struct call *c, enum work_end *why)
{
	struct work *w = c->w;
	struct curl_waitfd fds[2];
	unsigned int nfds;
	CURLMsg *msg;
	int running = 1, left;

	while (running) {
		if (cu.multi_perform(m, &running) != CURLM_OK)
			return CURLE_FAILED_INIT;
		if (!running)
			break;
		nfds = 0;
		if (w->watch_fd >= 0)
			fds[nfds++] = (struct curl_waitfd){ w->watch_fd,
			    CURL_WAIT_POLLIN, 0 };
		if (w->abort_fd >= 0)
			fds[nfds++] = (struct curl_waitfd){ w->abort_fd,
			    CURL_WAIT_POLLIN, 0 };
		if (cu.multi_poll(m, fds, nfds, 1000, NULL) != CURLM_OK)
			return CURLE_FAILED_INIT;
		if (w->watch_fd >= 0 && fds[0].revents &&
		    !w->held(w->held_arg)) {
			*why = WORK_LOST;
			return CURLE_ABORTED_BY_CALLBACK;
		}
		/* Nothing more comes from nginx but its hang-up. */
		if (w->abort_fd >= 0 && fds[nfds - 1].revents) {
			*why = WORK_ABORTED;
			return CURLE_ABORTED_BY_CALLBACK;
		}
	}
	while ((msg = cu.multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			return msg->data.result;
	return CURLE_FAILED_INIT;
}

/* Copy the kept fields but those the final Connection field named. */
static size_t
end_to_end(const struct call *c, unsigned char *out)
{
	const char *p = c->head, *end = c->head + c->head_len, *nl;
	size_t n = 0, k;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		k = (size_t)(nl + 1 - p);
		if (hop_by_hop(p, strcspn(p, ":"), c->connection))
			continue;
		memcpy(out + n, p, k);
		n += k;
	}
	return n;
}

/* The upstream's answer as a CGI response: Status, its end-to-end
 * fields, the blank line, its body, in w->answer. */
static int
answer(struct call *c)
{
	struct work *w = c->w;
	char status[96];
	size_t n = (size_t)snprintf(status, sizeof(status), "Status: %d%s%s"
	    "\r\n", c->status, c->reason[0] ? " " : "", c->reason);

	if ((w->answer = malloc(n + c->head_len + 2 + c->body_len + 1)) ==
	    NULL)
		return -1;
	memcpy(w->answer, status, n);
	n += end_to_end(c, w->answer + n);
	memcpy(w->answer + n, "\r\n", 2);
	w->head_len = n + 2;
	if (c->body_len > 0)
		memcpy(w->answer + w->head_len, c->body, c->body_len);
	w->answer_len = w->head_len + c->body_len;
	w->status = c->status;
	return 0;
}

/* What a failed transfer says, in one line. */
static void
judge(struct call *c, CURLcode rc, enum work_end why)
{
	struct work *w = c->w;
	const char *e = c->err[0] ? c->err : cu.easy_strerror(rc);

	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		w->end = why;
		snprintf(w->why, sizeof(w->why), "upstream call %s",
		    why == WORK_LOST ? "stopped: the lock was lost" :
		    "stopped: the client left");
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		w->end = WORK_TIMEOUT;
		snprintf(w->why, sizeof(w->why), "upstream: no whole answer "
		    "within WORK_TIMEOUT (%.3f s)", up.timeout);
	} else if (c->over) {
		w->end = WORK_BAD;
		snprintf(w->why, sizeof(w->why), "upstream: answer over "
		    "WORK_OUTPUT_MAX (%zu bytes)", up.output_max);
	} else {
		w->end = WORK_BAD;
		snprintf(w->why, sizeof(w->why), "upstream: %.140s", e);
		w->why[strcspn(w->why, "\r\n")] = '\0';
	}
}

static int
upstream_run(struct work *w)
{
	struct call c = { .w = w };
	enum work_end why = WORK_DONE;
	struct curl_slist *h = NULL;
	char url[8192];
	CURLM *m = NULL;
	CURL *e = NULL;
	CURLcode rc;

	if (target(w->env, url, sizeof(url)) == -1 ||
	    (c.head = malloc(HEAD_MAX)) == NULL ||
	    (h = request_fields(w->env)) == NULL ||
	    (m = cu.multi_init()) == NULL || (e = cu.easy_init()) == NULL ||
	    setup(e, &c, url, h) == -1 ||
	    cu.multi_add_handle(m, e) != CURLM_OK) {
		w->end = WORK_FAILED;
		snprintf(w->why, sizeof(w->why), "upstream call not made: "
		    "%s", errno == ENOMEM ? "out of memory" : "bad request");
		goto out;
	}
	if ((rc = drive(m, &c, &why)) != CURLE_OK)
		judge(&c, rc, why);
	else if (answer(&c) == -1) {
		w->end = WORK_FAILED;
		snprintf(w->why, sizeof(w->why), "out of memory");
	}
	if (w->end != WORK_DONE)
		log_warn("req=%s %s", w->id, w->why);
out:
	if (e != NULL) {
		if (m != NULL)
			(void)cu.multi_remove_handle(m, e);
		cu.easy_cleanup(e);
	}
	if (m != NULL)
		cu.multi_cleanup(m);
	if (h != NULL)
		cu.slist_free_all(h);
	free(c.head);
	free(c.body);
	return 0;
}

int
work_upstream_check(const char *url, char *why, size_t len)
{
	char *scheme = NULL, *host = NULL, *user = NULL, *port = NULL;
	char err[160];
	long p;
	CURLU *u;
	CURLUcode rc;
	int ok = -1;

	if (webapi_load(err, sizeof(err)) == -1 || (u = cu.url()) == NULL) {
		snprintf(why, len, "cannot load libcurl: %s", err);
		return -1;
	}
	/* libcurl takes http:///x for http://x/: an empty host is none. */
	if (strstr(url, ":///") != NULL)
		snprintf(why, len, "%s: no host", url);
	else if ((rc = cu.url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK)
		snprintf(why, len, "%s: not a URL (%s)", url,
		    cu.url_strerror(rc));
	else if (cu.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		snprintf(why, len, "%s: want http:// or https://", url);
	else if (cu.url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		snprintf(why, len, "%s: no credentials in the URL", url);
	else if (cu.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0')
		snprintf(why, len, "%s: no host", url);
	else if (cu.url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
	    parse_count(port, 1, 65535, &p) == -1)
		snprintf(why, len, "%s: port %s is not from 1 to 65535", url,
		    port);
	else
		ok = 0;
	cu.free(scheme);
	cu.free(user);
	cu.free(host);
	cu.free(port);
	cu.url_cleanup(u);
	return ok;
}

void
work_upstream_init(const char *url, const char *ca_file, double timeout,
    size_t output_max)
{
	up.base = url;
	up.base_len = strlen(url);
	while (up.base_len > 0 && url[up.base_len - 1] == '/')
		up.base_len--;
	up.ca_file = ca_file;
	up.timeout = timeout;
	up.output_max = output_max;
}

const struct work_backend work_upstream = {
	.name = "upstream",
	.run = upstream_run,
};
