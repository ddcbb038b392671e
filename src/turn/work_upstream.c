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
	const char	*url;		/* WORK_URL: where to connect */
	const char	*path;		/* its path, without a final '/' */
	size_t		 path_len;
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
	/* For a client that sent no Accept, libcurl would send its own
	 * (any type): the upstream sees none. */
	if (env_get(env, "HTTP_ACCEPT") == NULL &&
	    (h = append(h, "Accept:")) == NULL)
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

/* The length of a '/' at p, plain or percent-encoded, or of a '\\'
 * (a separator to some servers), or 0. */
static size_t
separator(const char *p, const char *end)
{
	if (*p == '/' || *p == '\\')
		return 1;
	if (end - p >= 3 && (strncasecmp(p, "%2f", 3) == 0 ||
	    strncasecmp(p, "%5c", 3) == 0))
		return 3;
	return 0;
}

/* Has the path p..end a "." or ".." segment, plain or percent-encoded?
 * nginx matched /work/ on the path it normalized; the upstream would
 * resolve the raw one against the base, so /work/a/../../x would
 * reach /x, outside the base. */
static int
dot_segment(const char *p, const char *end)
{
	int dots = 0, other = 0;
	size_t k;

	for (;; p += k) {
		k = p < end ? separator(p, end) : 0;
		if (p == end || k > 0) {
			if (!other && (dots == 1 || dots == 2))
				return 1;
			if (p == end)
				return 0;
			dots = other = 0;
		} else if (*p == '.' || (end - p >= 3 &&
		    strncasecmp(p, "%2e", 3) == 0)) {
			dots++;
			k = *p == '.' ? 1 : 3;
		} else {
			other = 1;
			k = 1;
		}
	}
}

/* The request target: the base's path, then the request's own after
 * /work as it came (REQUEST_URI: not decoded, not normalized) with its
 * query. It is sent as it is (CURLOPT_REQUEST_TARGET): from a URL,
 * libcurl would percent-encode bytes over 0x7f and remove dot segments.
 * Returns it (malloc'ed), or NULL: with *why set, a path that may not
 * be forwarded; else with errno ENOMEM. */
static char *
target(char **env, const char **why)
{
	const char *uri = env_get(env, "REQUEST_URI"), *p, *q, *s;
	size_t n;
	char *t;

	p = env_get(env, "PATH_INFO");
	q = env_get(env, "QUERY_STRING");
	if (uri != NULL && strncmp(uri, "/work", 5) == 0 &&
	    (uri[5] == '\0' || uri[5] == '/' || uri[5] == '?'))
		p = uri + 5, q = NULL;
	p = p != NULL ? p : "";
	n = up.path_len + strlen(p) + (q ? strlen(q) : 0) + 3;
	if ((t = malloc(n)) == NULL)
		return NULL;
	snprintf(t, n, "%.*s%s%s%s%s", (int)up.path_len, up.path,
	    *p == '/' || up.path_len > 0 ? "" : "/", p,
	    q && *q ? "?" : "", q && *q ? q : "");
	for (s = t; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f) {
			*why = "a control character or a space in the path";
			break;
		}
	if (*s == '\0' && dot_segment(t + up.path_len, t + up.path_len +
	    strcspn(t + up.path_len, "?")))
		*why = "a . or .. segment in the path";
	else if (*s == '\0')
		return t;
	free(t);
	return NULL;
}

/* A request that is not forwarded: 400, a CGI response as the
 * upstream's would be, and no call. */
static int
refuse(struct work *w, const char *why)
{
	static const char head[] = "Status: 400 Bad Request\r\n"
	    "Content-Type: application/json\r\n\r\n";
	size_t n = sizeof(head) - 1 + strlen(why) + 32;

	if ((w->answer = malloc(n)) == NULL)
		return -1;
	w->answer_len = (size_t)snprintf((char *)w->answer, n,
	    "%s{\"error\":\"not forwarded: %s\"}\n", head, why);
	w->head_len = sizeof(head) - 1;
	w->status = 400;
	log_warn("req=%s 400 not forwarded: %s", w->id, why);
	return 0;
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
setup(CURL *e, struct call *c, const char *target, struct curl_slist *h)
{
	char **env = c->w->env;
	const char *method = env_get(env, "REQUEST_METHOD");
	const char *len = env_get(env, "CONTENT_LENGTH");
	double left = c->w->start + up.timeout - clock_now();
	long ms = left > 0.001 ? (long)(left * 1000) : 1;

	method = method != NULL ? method : "GET";
	if (cu.easy_setopt(e, CURLOPT_URL, up.url) ||
	    cu.easy_setopt(e, CURLOPT_REQUEST_TARGET, target) ||
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

/* Was the call never made: no connection, or no TLS session to trust?
 * That is a failed work, not a bad answer, in the log and /metrics. */
static int
unreachable(CURLcode rc)
{
	return rc == CURLE_COULDNT_RESOLVE_HOST ||
	    rc == CURLE_COULDNT_CONNECT || rc == CURLE_SSL_CONNECT_ERROR ||
	    rc == CURLE_PEER_FAILED_VERIFICATION;
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
		w->end = unreachable(rc) ? WORK_FAILED : WORK_BAD;
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
	const char *no = NULL;
	CURLM *m = NULL;
	CURL *e = NULL;
	CURLcode rc;
	char *t;

	if ((t = target(w->env, &no)) == NULL && no != NULL &&
	    refuse(w, no) == 0)
		return 0;
	if (t == NULL || (c.head = malloc(HEAD_MAX)) == NULL ||
	    (h = request_fields(w->env)) == NULL ||
	    (m = cu.multi_init()) == NULL || (e = cu.easy_init()) == NULL ||
	    setup(e, &c, t, h) == -1 ||
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
	free(t);
	free(c.head);
	free(c.body);
	return 0;
}

/* Does url's authority hold credentials (user@, user:password@)? */
static int
userinfo(const char *url)
{
	const char *a = strstr(url, "://");

	a = a != NULL ? a + 3 : url;
	return memchr(a, '@', strcspn(a, "/?#")) != NULL;
}

int
work_upstream_check(const char *url, char *why, size_t len)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	char err[160];
	long p;
	CURLU *u;
	CURLUcode rc;
	int ok = -1;

	if (webapi_load(err, sizeof(err)) == -1 || (u = cu.url()) == NULL) {
		snprintf(why, len, "cannot load libcurl: %s", err);
		return -1;
	}
	/* libcurl takes http:///x for http://x/: an empty host is none.
	 * A password is never shown, not even in a refusal: the log
	 * keeps it. The request's own query is appended to the base. */
	if (strstr(url, ":///") != NULL)
		snprintf(why, len, "%s: no host", url);
	else if (userinfo(url))
		snprintf(why, len, "no credentials in the URL (not shown)");
	else if (strpbrk(url, "?#") != NULL)
		snprintf(why, len, "%s: no query or fragment in the base",
		    url);
	else if ((rc = cu.url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK)
		snprintf(why, len, "%s: not a URL (%s)", url,
		    cu.url_strerror(rc));
	else if (cu.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		snprintf(why, len, "%s: want http:// or https://", url);
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
	cu.free(host);
	cu.free(port);
	cu.url_cleanup(u);
	return ok;
}

void
work_upstream_init(const char *url, const char *ca_file, double timeout,
    size_t output_max)
{
	const char *p = strstr(url, "://");

	/* The path starts at the authority's end (checked: no userinfo,
	 * no query, no fragment). */
	p = p != NULL ? p + 3 : url;
	up.url = url;
	up.path = p + strcspn(p, "/");
	up.path_len = strlen(up.path);
	while (up.path_len > 0 && up.path[up.path_len - 1] == '/')
		up.path_len--;
	up.ca_file = ca_file;
	up.timeout = timeout;
	up.output_max = output_max;
}

const struct work_backend work_upstream = {
	.name = "upstream",
	.run = upstream_run,
};
