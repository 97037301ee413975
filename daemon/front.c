/*
 * The HTTP front (front.h).  One MHD daemon per listener, each with its
 * own connection limit and body budget, so that one listener's crowd
 * cannot starve another's; on the socket a few connections and one whole
 * body's worth of budget are root's alone.  A request is suspended while
 * fwctld looks at it and resumed by the channel's reader thread when the
 * answer comes.  A watcher thread cuts connections whose head or body
 * takes too long (MHD's own timeout is only an idle one: a byte every few
 * seconds would hold a connection for ever).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cap-ng.h>
#include <jansson.h>
#include <microhttpd.h>
#include <seccomp.h>

#include "api.h"
#include "chan.h"
#include "diag.h"
#include "events.h"
#include "front.h"
#include "log.h"
#include "ui.h"

#define FRONT_THREADS		4
#define FRONT_CONN_LIMIT	64
#define FRONT_TIMEOUT		30
#define FRONT_POOL		(256u << 10)	/* MHD's memory per connection */
#define FRONT_DISCARD_MAX	(8u << 20)	/* read and dropped for a 413 */
#define FRONT_TRACE_MAX		(1u << 20)
#define FRONT_TRIM_AT		(1u << 20)	/* give memory back after */
/* TCP connections one address may hold: a quarter of the listener's */
#define FRONT_PER_ADDR(limit)	((limit) / 4 > 0 ? (limit) / 4 : 1)

enum front_phase {
	PH_HEAD,		/* waiting for a request's head */
	PH_BODY,		/* its head is in: waiting for its body */
	PH_BUSY,		/* with fwctld, or answering: no deadline */
};

/* One connection (MHD's socket context). */
struct front_conn {
	struct front_listener	*l;
	int			 fd;
	bool			 root;		/* socket: uid 0 */
	bool			 cut;
	enum front_phase	 phase;
	uint64_t		 since;		/* ms, monotonic */
	struct front_conn	*next;
	struct front_conn	**prevp;
};

struct front_listener {
	struct front		*f;
	bool			 tcp;
	int			 fd;
	struct MHD_Daemon	*mhd;
	struct api_budget	 budget;
	struct api_budget	 others;	/* socket: all but root's share */
	unsigned		 nothers;	/* socket: connections not root's */
	unsigned		 limit;
	struct front_conn	*conns;
};

/* fwctld's answer. */
struct front_reply {
	unsigned	 status;
	char		*ctype;
	bool		 has_etag;
	uint64_t	 etag;
	char		*allow;
	bool		 retry_after;
	bool		 www_auth;
	bool		 drain;		/* a refusal sent once the body is in */
	bool		 stream;	/* GET /v1/events: 200, then the events */
	uint64_t	 stream_last;
	char		*body;
	size_t		 len;
};

enum front_state {
	RS_HEAD,		/* head sent, waiting */
	RS_BODY,		/* reading the body for fwctld */
	RS_DRAIN,		/* reading the body to drop it */
	RS_WAIT,		/* body sent, waiting */
	RS_DONE,		/* answered */
};

struct front_req {
	struct front		*f;
	struct front_listener	*l;
	struct front_conn	*fc;
	struct MHD_Connection	*conn;
	uint64_t		 id;
	enum front_state	 state;
	bool			 suspended;
	bool			 answered;	/* an answer waits in go/reply */
	bool			 with_parent;	/* fwctld holds its head */
	bool			 go;
	uint64_t		 generation;	/* fwctld's, with go */
	char			 method[16];
	char			 url[256];
	char			*route;
	const char		*origin;
	struct front_reply	*reply;
	char			*body;
	size_t			 len, cap, limit, seen;
	size_t			 charged, charged_others;
	bool			 too_large;
	bool			 over_budget;
	bool			 big;		/* trim memory after */
	struct front_req	*next;
	struct front_req	**prevp;
};

struct front {
	int			 chan;
	pthread_mutex_t		 send_mtx;
	pthread_mutex_t		 mtx;		/* requests and connections */
	struct front_listener	 l[2];
	size_t			 nl;
	struct front_req	*reqs;
	uint64_t		 next_id;
	struct events		*events;
	struct ui		*ui;
	char			*cors[API_CORS_MAX];
	size_t			 ncors;
	int			 trace_fd;
	unsigned		 threads;
	unsigned		 timeout;
	unsigned		 conn_limit;
	char			*cert;
	char			*key;
};

static struct front	 front;

static uint64_t
front_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
front_send(uint32_t type, uint64_t id, const struct chan_buf *b, int fd)
{
	int	 rv;

	pthread_mutex_lock(&front.send_mtx);
	rv = chan_send(front.chan, type, id, b, fd);
	pthread_mutex_unlock(&front.send_mtx);
	return rv;
}

/* Our log lines go to fwctld's log. */
static void
front_log_sink(int level, const char *msg)
{
	struct chan_buf	 b;

	chan_buf_init(&b);
	chan_put_u32(&b, (uint32_t)level);
	chan_put_str(&b, msg);
	(void)front_send(CHAN_LOG, 0, &b, -1);
	chan_buf_free(&b);
}

static void
front_reply_free(struct front_reply *rp)
{
	if (rp == NULL)
		return;
	free(rp->ctype);
	free(rp->allow);
	free(rp->body);
	free(rp);
}

/* ---- replies ---- */

static const char *
front_title(unsigned status)
{
	switch (status) {
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Error";
}

/* A refusal of the front's own, in the API's problem+json. */
static struct front_reply *
front_problem(unsigned status, bool retry_after, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct front_reply *
front_problem(unsigned status, bool retry_after, const char *fmt, ...)
{
	struct front_reply	*rp;
	json_t			*j;
	char			*msg = NULL, *t;
	va_list			 ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if ((rp = calloc(1, sizeof(*rp))) == NULL) {
		free(msg);
		return NULL;
	}
	rp->status = status;
	rp->retry_after = retry_after;
	rp->ctype = strdup("application/problem+json");
	j = json_pack("{s:s, s:s, s:i, s:s, s:[{s:s}]}", "type",
	    "about:blank", "title", front_title(status), "status",
	    (int)status, "detail", msg ? msg : front_title(status), "errors",
	    "message", msg ? msg : front_title(status));
	free(msg);
	t = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (t != NULL && asprintf(&rp->body, "%s\n", t) != -1)
		rp->len = strlen(rp->body);
	else
		rp->body = NULL;
	free(t);
	return rp;
}

static void
front_trace(struct front_req *r, unsigned status, const char *ctype,
    const char *body, size_t len)
{
	json_t	*j;
	char	*line;
	size_t	 n;

	if (front.trace_fd == -1)
		return;
	j = json_pack("{s:s, s:s, s:o, s:i, s:s?, s:o}", "method", r->method,
	    "url", r->url, "route", r->route ? json_string(r->route) :
	    json_null(), "status", (int)status, "ctype", ctype, "body",
	    body == NULL ? json_null() : len > FRONT_TRACE_MAX ?
	    json_false() : json_stringn(body, len));
	if (j == NULL)
		return;
	if ((line = json_dumps(j, JSON_COMPACT)) != NULL) {
		n = strlen(line);
		line[n] = '\n';
		(void)!write(front.trace_fd, line, n + 1);
		line[n] = '\0';
	}
	free(line);
	json_decref(j);
}

static void
front_cors_origin(struct front_req *r)
{
	const char	*o;
	size_t		 i;

	if (front.ncors == 0 || (o = MHD_lookup_connection_value(r->conn,
	    MHD_HEADER_KIND, "Origin")) == NULL)
		return;
	for (i = 0; i < front.ncors; i++)
		if (strcmp(o, front.cors[i]) == 0)
			r->origin = front.cors[i];
}

/* Only a listed origin is named, and no credentials are ever allowed:
 * the browser sends the token itself, in Authorization. */
static void
front_cors_headers(struct front_req *r, struct MHD_Response *resp)
{
	if (front.ncors == 0)
		return;
	MHD_add_response_header(resp, "Vary", "Origin");
	if (r->origin == NULL)
		return;
	MHD_add_response_header(resp, "Access-Control-Allow-Origin",
	    r->origin);
	MHD_add_response_header(resp, "Access-Control-Expose-Headers",
	    "ETag, Location, Retry-After, WWW-Authenticate");
}

static void
front_busy(struct front_req *r)
{
	if (r->fc != NULL)
		r->fc->phase = PH_BUSY;
}

/* ---- event streams ---- */

struct front_stream {
	struct MHD_Connection	*conn;
	struct events_reader	*rd;
};

static void
front_stream_sleep(void *arg)
{
	struct front_stream	*st = arg;

	MHD_suspend_connection(st->conn);
}

static void
front_stream_wake(void *arg)
{
	struct front_stream	*st = arg;

	MHD_resume_connection(st->conn);
}

/* Whether the client closed its end: MHD does not see it while the
 * connection sleeps, and a write may still succeed once after it. */
static bool
front_stream_gone(struct front_stream *st)
{
	const union MHD_ConnectionInfo *ci;
	struct pollfd	 p;

	ci = MHD_get_connection_info(st->conn,
	    MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return false;
	p.fd = ci->connect_fd;
	p.events = POLLRDHUP;
	p.revents = 0;
	return poll(&p, 1, 0) == 1 &&
	    (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static ssize_t
front_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct front_stream	*st = cls;
	ssize_t			 n;

	(void)pos;
	if (front_stream_gone(st) || (n = events_read(st->rd, buf, max)) < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return n;
}

static void
front_stream_free(void *cls)
{
	struct front_stream	*st = cls;

	events_reader_free(st->rd);
	free(st);
}

static enum MHD_Result
front_queue(struct front_req *r, struct front_reply *rp);

static enum MHD_Result
front_queue_stream(struct front_req *r, struct front_reply *rp)
{
	struct front_stream	*st;
	struct MHD_Response	*resp;
	struct front_reply	*busy;
	enum MHD_Result		 ret;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return MHD_NO;
	st->conn = r->conn;
	if ((st->rd = events_reader_new(front.events, rp->stream_last,
	    front_stream_sleep, front_stream_wake, st)) == NULL) {
		free(st);
		busy = front_problem(503, true, "%d event readers at once "
		    "already; retry later", EVENTS_READERS_MAX);
		if (busy == NULL)
			return MHD_NO;
		return front_queue(r, busy);
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
	    front_stream_read, st, front_stream_free);
	if (resp == NULL) {
		front_stream_free(st);
		return MHD_NO;
	}
	front_trace(r, 200, "text/event-stream", NULL, 0);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	front_cors_headers(r, resp);
	ret = MHD_queue_response(r->conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Sends rp (ours now) to the client. */
static enum MHD_Result
front_queue(struct front_req *r, struct front_reply *rp)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	char			 etag[32];
	const char		*ctype;

	r->state = RS_DONE;
	front_busy(r);
	if (rp == NULL)
		return MHD_NO;
	if (rp->stream && rp->status == 200) {
		ret = front_queue_stream(r, rp);
		front_reply_free(rp);
		return ret;
	}
	if (rp->len >= FRONT_TRIM_AT)
		r->big = true;
	/* our own refusals after fwctld let the head through carry its
	 * generation, as its replies do; before, who asks is not known */
	if (!rp->has_etag && r->go) {
		rp->has_etag = true;
		rp->etag = r->generation;
	}
	ctype = rp->ctype ? rp->ctype : "application/json";
	front_trace(r, rp->status, ctype, rp->body, rp->len);
	resp = MHD_create_response_from_buffer(rp->len, rp->body,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		front_reply_free(rp);
		return MHD_NO;
	}
	rp->body = NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (rp->has_etag) {
		snprintf(etag, sizeof(etag), "\"%" PRIu64 "\"", rp->etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	}
	if (rp->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    rp->allow);
	if (rp->retry_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
		    "1");
	if (rp->www_auth)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"fwctl\"");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	front_cors_headers(r, resp);
	ret = MHD_queue_response(r->conn, rp->status, resp);
	MHD_destroy_response(resp);
	front_reply_free(rp);
	return ret;
}

/*
 * The dashboard's files at /ui/ (TCP only, and no token: they hold no
 * data; the page asks for one).  The page may load nothing from anywhere
 * else, nor be framed.
 */
static enum MHD_Result
front_send_ui(struct front_req *r, const char *method, const char *url)
{
	const struct ui_file	*f = NULL;
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	unsigned		 status = 200;
	const char		*text = NULL;

	r->state = RS_DONE;
	front_busy(r);
	if (strcmp(url, "/ui") == 0) {
		status = 301;
		text = "see /ui/\n";
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = 405;
		text = "the dashboard's files are read with GET\n";
	} else if ((f = ui_find(front.ui, url + 4)) == NULL) {
		status = 404;
		text = "no such file\n";
	}
	resp = f ? MHD_create_response_from_buffer(f->len, f->data,
	    MHD_RESPMEM_PERSISTENT) : MHD_create_response_from_buffer(
	    strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    f ? f->ctype : "text/plain; charset=utf-8");
	if (status == 301)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "/ui/");
	if (status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    "GET, HEAD");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-cache");
	MHD_add_response_header(resp, "Content-Security-Policy",
	    "default-src 'none'; script-src 'self'; style-src 'self'; "
	    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
	    "form-action 'none'; frame-ancestors 'none'");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * A CORS preflight (OPTIONS with Access-Control-Request-Method) is
 * answered before any token: a browser sends none with it.  204 with the
 * methods and headers the API takes for a listed origin; 403 with no
 * CORS header for any other, which the browser takes as a refusal.
 */
static enum MHD_Result
front_preflight(struct front_req *r)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	r->state = RS_DONE;
	front_busy(r);
	resp = MHD_create_response_from_buffer(0, NULL,
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	front_cors_headers(r, resp);
	if (r->origin != NULL) {
		MHD_add_response_header(resp, "Access-Control-Allow-Methods",
		    "GET, POST, PUT, DELETE");
		MHD_add_response_header(resp, "Access-Control-Allow-Headers",
		    "Authorization, Content-Type, If-Match, Last-Event-ID");
		MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
	}
	front_trace(r, r->origin ? 204 : 403, NULL, NULL, 0);
	ret = MHD_queue_response(r->conn, r->origin ? 204 : 403, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- the head, to fwctld ---- */

struct front_args {
	struct chan_buf	*b;
	unsigned	 n;
	size_t		 bytes;
};

static enum MHD_Result
front_arg_count(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct front_args	*a = cls;

	(void)kind;
	a->n++;
	a->bytes += strlen(key) + (value ? strlen(value) + 1 : 0) + 1;
	if (a->b != NULL) {
		chan_put_str(a->b, key);
		chan_put_str(a->b, value);
	}
	return MHD_YES;
}

static const char *
front_header(struct front_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Method, URL, query, the headers fwctld reads, and the connection
 * itself on the socket (fwctld asks the kernel who is on it). */
static int
front_send_head(struct front_req *r, const char *method, const char *url)
{
	const union MHD_ConnectionInfo *ci;
	struct front_args	 a;
	struct chan_buf		 b;
	int			 fd = -1, rv;

	chan_buf_init(&b);
	chan_put_u32(&b, r->l->tcp);
	chan_put_str(&b, method);
	chan_put_str(&b, url);
	memset(&a, 0, sizeof(a));
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
	    front_arg_count, &a);
	chan_put_u32(&b, a.n > FRONT_QUERY_MAX ? FRONT_QUERY_MAX + 1 : a.n);
	if (a.n <= FRONT_QUERY_MAX) {
		a.b = &b;
		a.n = 0;
		MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
		    front_arg_count, &a);
	}
	chan_put_str(&b, front_header(r, MHD_HTTP_HEADER_AUTHORIZATION));
	chan_put_str(&b, front_header(r, MHD_HTTP_HEADER_IF_MATCH));
	chan_put_str(&b, front_header(r, MHD_HTTP_HEADER_ACCEPT));
	chan_put_str(&b, front_header(r, "Last-Event-ID"));
	chan_put_str(&b, front_header(r, MHD_HTTP_HEADER_CONTENT_TYPE));
	if (!r->l->tcp && (ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_CONNECTION_FD)) != NULL)
		fd = ci->connect_fd;
	pthread_mutex_lock(&front.mtx);
	r->with_parent = true;
	r->state = RS_HEAD;
	/* fwctld's time is not the client's: no deadline until it answers */
	if (r->fc != NULL)
		r->fc->phase = PH_BUSY;
	pthread_mutex_unlock(&front.mtx);
	rv = front_send(CHAN_HEAD, r->id, &b, fd);
	chan_buf_free(&b);
	return rv;
}

/* How big the head is, query and header lines. */
static size_t
front_head_size(struct front_req *r, const char *url, size_t *urllen)
{
	struct front_args	 a;

	memset(&a, 0, sizeof(a));
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
	    front_arg_count, &a);
	*urllen = strlen(url) + a.bytes;
	memset(&a, 0, sizeof(a));
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, front_arg_count,
	    &a);
	return a.bytes + a.n * 3;
}

/* Suspends r until fwctld answers (the reader resumes it); false when
 * the answer is already there. */
static bool
front_wait(struct front_req *r)
{
	bool	 wait;

	pthread_mutex_lock(&front.mtx);
	wait = !r->answered;
	if (wait) {
		MHD_suspend_connection(r->conn);
		r->suspended = true;
	}
	pthread_mutex_unlock(&front.mtx);
	return wait;
}

/* ---- the body budget ---- */

static bool
front_charge(struct front_req *r, size_t cap)
{
	struct front_listener	*l = r->l;
	bool			 other = !l->tcp && (r->fc == NULL ||
				    !r->fc->root);
	size_t			 n;

	if (cap <= r->charged)
		return true;
	n = cap - r->charged;
	/* on the socket, the last of the budget is root's */
	if (other) {
		if (!api_budget_take(&l->others, n))
			return false;
		r->charged_others += n;
	}
	if (!api_budget_take(&l->budget, n)) {
		if (other) {
			api_budget_give(&l->others, n);
			r->charged_others -= n;
		}
		return false;
	}
	r->charged = cap;
	return true;
}

static void
front_uncharge(struct front_req *r)
{
	api_budget_give(&r->l->budget, r->charged);
	api_budget_give(&r->l->others, r->charged_others);
	r->charged = r->charged_others = 0;
}

/*
 * fwctld let the head through: the body's limit is known.  A
 * Content-Length over it is refused at once when the client waits for the
 * go-ahead (Expect: 100-continue) or is far over; otherwise the body is
 * read and dropped and the 413 follows, so that a client still sending
 * reads a reply instead of a broken pipe.  A body of known size is
 * reserved whole before it is sent: the client hears 503 instead of
 * uploading it for nothing.
 */
static struct front_reply *
front_go(struct front_req *r)
{
	const char		*cl, *ex;
	unsigned long long	 n = 0;
	char			*end;

	r->state = RS_BODY;
	if ((cl = front_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH)) != NULL) {
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno != 0 || *end != '\0')
			n = 0;
	}
	if (n > r->limit) {
		ex = front_header(r, MHD_HTTP_HEADER_EXPECT);
		if ((ex != NULL && strcasecmp(ex, "100-continue") == 0) ||
		    n > (unsigned long long)r->limit + FRONT_DISCARD_MAX)
			return front_problem(413, false, "the body is larger "
			    "than %zu bytes", r->limit);
		r->too_large = true;
		return NULL;
	}
	if (n > 0 && !front_charge(r, (size_t)n + 1)) {
		r->over_budget = true;
		return front_problem(503, true, "too many request bodies are "
		    "being received at once (%u MiB on this listener); retry "
		    "later", API_BODY_BUDGET >> 20);
	}
	return NULL;
}

/* A piece of the body. */
static enum MHD_Result
front_take(struct front_req *r, const char *data, size_t n)
{
	size_t	 cap;
	char	*nb;

	r->seen += n;
	if (r->seen > r->limit)
		r->too_large = true;
	if (r->seen > r->limit + FRONT_DISCARD_MAX)
		return MHD_NO;
	if (r->state == RS_DRAIN || r->too_large || r->over_budget)
		return MHD_YES;
	if (r->len + n + 1 > r->cap) {
		cap = r->cap ? r->cap : 4096;
		while (cap < r->len + n + 1)
			cap *= 2;
		/* what was reserved is allocated at once */
		if (cap < r->charged)
			cap = r->charged;
		if (cap > r->limit + 1)
			cap = r->limit + 1;
		if (!front_charge(r, cap)) {
			/* chunked, and no room: the rest is read and
			 * dropped, the client gets its 503 */
			r->over_budget = true;
			free(r->body);
			r->body = NULL;
			r->len = r->cap = 0;
			front_uncharge(r);
			return MHD_YES;
		}
		if ((nb = realloc(r->body, cap)) == NULL)
			return MHD_NO;
		r->body = nb;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	return MHD_YES;
}

/* The whole body is in: to fwctld, or the refusal. */
static enum MHD_Result
front_body_done(struct front_req *r)
{
	struct front_reply	*rp;
	struct chan_buf		 b;
	int			 rv;

	if (r->state == RS_DRAIN) {
		rp = r->reply;
		r->reply = NULL;
		return front_queue(r, rp);
	}
	if (r->too_large)
		return front_queue(r, front_problem(413, false, "the body is "
		    "larger than %zu bytes", r->limit));
	if (r->over_budget)
		return front_queue(r, front_problem(503, true, "too many "
		    "request bodies are being received at once (%u MiB on "
		    "this listener); retry later", API_BODY_BUDGET >> 20));
	if (r->len >= FRONT_TRIM_AT)
		r->big = true;
	chan_buf_init(&b);
	chan_put_bytes(&b, r->body ? r->body : "", r->len);
	/* the frame holds it now */
	free(r->body);
	r->body = NULL;
	r->len = r->cap = 0;
	front_uncharge(r);
	pthread_mutex_lock(&front.mtx);
	r->state = RS_WAIT;
	r->answered = false;
	pthread_mutex_unlock(&front.mtx);
	front_busy(r);
	rv = front_send(CHAN_BODY, r->id, &b, -1);
	chan_buf_free(&b);
	if (rv == -1)
		return MHD_NO;
	if (front_wait(r))
		return MHD_YES;
	rp = r->reply;
	r->reply = NULL;
	return front_queue(r, rp);
}

/* fwctld answered the head: go on with the body, or its refusal. */
static enum MHD_Result
front_headed(struct front_req *r, bool *queued)
{
	struct front_reply	*rp;

	*queued = false;
	/* the body's time starts now */
	pthread_mutex_lock(&front.mtx);
	if (r->fc != NULL) {
		r->fc->phase = PH_BODY;
		r->fc->since = front_now();
	}
	pthread_mutex_unlock(&front.mtx);
	if (r->go) {
		if ((rp = front_go(r)) == NULL)
			return MHD_YES;
		*queued = true;
		return front_queue(r, rp);
	}
	rp = r->reply;
	r->reply = NULL;
	if (rp != NULL && rp->drain) {
		/* a refusal heard after the body, which is read and dropped
		 * (a client still sending would otherwise find the
		 * connection closed) */
		r->reply = rp;
		r->state = RS_DRAIN;
		r->limit = FRONT_DISCARD_MAX;
		return MHD_YES;
	}
	*queued = true;
	return front_queue(r, rp);
}

static struct front_req *
front_req_new(struct front_listener *l, struct MHD_Connection *conn,
    const char *method, const char *url)
{
	const union MHD_ConnectionInfo *ci;
	struct front_req	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->f = &front;
	r->l = l;
	r->conn = conn;
	r->limit = API_BODY_MAX;
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->url, sizeof(r->url), "%s", url);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL)
		r->fc = ci->socket_context;
	pthread_mutex_lock(&front.mtx);
	r->id = ++front.next_id;
	if ((r->next = front.reqs) != NULL)
		r->next->prevp = &r->next;
	r->prevp = &front.reqs;
	front.reqs = r;
	if (r->fc != NULL) {
		r->fc->phase = PH_BODY;
		r->fc->since = front_now();
	}
	pthread_mutex_unlock(&front.mtx);
	return r;
}

/* The first call: what the front answers itself, or the head to
 * fwctld; *waiting when r sleeps until fwctld answers. */
static enum MHD_Result
front_first(struct front_req *r, const char *method, const char *url,
    bool *waiting)
{
	size_t	 urllen, hsize;

	*waiting = false;
	front_cors_origin(r);
	if (r->l->tcp && front.ui != NULL && strncmp(url, "/ui", 3) == 0 &&
	    (url[3] == '\0' || url[3] == '/'))
		return front_send_ui(r, method, url);
	if (strcmp(method, "OPTIONS") == 0 && front_header(r,
	    "Access-Control-Request-Method") != NULL)
		return front_preflight(r);
	hsize = front_head_size(r, url, &urllen);
	if (urllen > FRONT_URL_MAX)
		return front_queue(r, front_problem(414, false, "the URL is "
		    "longer than %u bytes", FRONT_URL_MAX));
	if (hsize > FRONT_HEADERS_MAX)
		return front_queue(r, front_problem(431, false, "the request's "
		    "header lines are longer than %u bytes in all",
		    FRONT_HEADERS_MAX));
	if (front_send_head(r, method, url) == -1)
		return MHD_NO;
	*waiting = front_wait(r);
	return MHD_YES;
}

/*
 * MHD calls once with the head, once per piece of the body, and once
 * after it; a call on a connection resumed is a repeat of the one that
 * suspended it.
 */
static enum MHD_Result
front_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct front_listener	*l = cls;
	struct front_req	*r = *con_cls;
	struct front_reply	*rp;
	size_t			 n = *upload_data_size;
	enum MHD_Result		 ret;
	bool			 waiting, queued;

	(void)version;
	if (r == NULL) {
		if ((r = front_req_new(l, conn, method, url)) == NULL)
			return MHD_NO;
		*con_cls = r;
		ret = front_first(r, method, url, &waiting);
		if (r->state != RS_HEAD || ret == MHD_NO || waiting)
			return ret;
		/* answered already: on with it below */
	}
	switch (r->state) {
	case RS_HEAD:
		/* still the head's call: the body (if any) comes next */
		ret = front_headed(r, &queued);
		return ret;
	case RS_WAIT:
		rp = r->reply;
		r->reply = NULL;
		return front_queue(r, rp);
	case RS_DONE:
		*upload_data_size = 0;
		return MHD_YES;
	case RS_BODY:
	case RS_DRAIN:
		break;
	}
	if (n > 0) {
		*upload_data_size = 0;
		return front_take(r, upload_data, n);
	}
	return front_body_done(r);
}

static void
front_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct front_req	*r = *con_cls;
	bool			 tell, big;

	(void)cls;
	(void)conn;
	(void)toe;
	if (r == NULL)
		return;
	pthread_mutex_lock(&front.mtx);
	if ((*r->prevp = r->next) != NULL)
		r->next->prevp = r->prevp;
	tell = r->with_parent && r->state != RS_DONE;
	if (r->fc != NULL) {
		r->fc->phase = PH_HEAD;
		r->fc->since = front_now();
	}
	pthread_mutex_unlock(&front.mtx);
	if (tell)
		(void)front_send(CHAN_GONE, r->id, NULL, -1);
	front_uncharge(r);
	front_reply_free(r->reply);
	free(r->route);
	free(r->body);
	big = r->big || r->cap >= FRONT_TRIM_AT;
	free(r);
	*con_cls = NULL;
	/* a big body or reply: its memory goes back to the system */
	if (big)
		malloc_trim(0);
}

/* ---- connections: limits per listener, root's slots, deadlines ---- */

static bool
front_peer_root(int fd)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    cred.uid == 0;
}

static void
front_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct front_listener	*l = cls;
	struct front_conn	*fc = *socket_ctx;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		if ((fc = calloc(1, sizeof(*fc))) == NULL)
			return;
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		fc->l = l;
		fc->fd = ci ? ci->connect_fd : -1;
		fc->root = !l->tcp && fc->fd != -1 && front_peer_root(fc->fd);
		fc->phase = PH_HEAD;
		fc->since = front_now();
		pthread_mutex_lock(&front.mtx);
		if ((fc->next = l->conns) != NULL)
			fc->next->prevp = &fc->next;
		fc->prevp = &l->conns;
		l->conns = fc;
		if (!l->tcp && !fc->root && ++l->nothers > l->limit &&
		    fc->fd != -1) {
			/* the last slots are root's: MHD closes this one
			 * when it finds it shut */
			(void)shutdown(fc->fd, SHUT_RDWR);
			fc->cut = true;
		}
		pthread_mutex_unlock(&front.mtx);
		*socket_ctx = fc;
		return;
	}
	if (fc == NULL)
		return;
	pthread_mutex_lock(&front.mtx);
	if ((*fc->prevp = fc->next) != NULL)
		fc->next->prevp = fc->prevp;
	if (!l->tcp && !fc->root)
		l->nothers--;
	pthread_mutex_unlock(&front.mtx);
	free(fc);
	*socket_ctx = NULL;
}

/* Every connection whose head or body is late is shut: MHD then closes
 * it.  Under the lock, so that its fd cannot be closed and reused under
 * us (MHD tells us of the close before it closes). */
static void *
front_watcher(void *arg)
{
	struct front_conn	*fc;
	struct timespec		 ts = { 0, 250 * 1000000 };
	uint64_t		 now, max;
	size_t			 i;

	(void)arg;
	for (;;) {
		nanosleep(&ts, NULL);
		now = front_now();
		pthread_mutex_lock(&front.mtx);
		for (i = 0; i < front.nl; i++) {
			for (fc = front.l[i].conns; fc != NULL;
			    fc = fc->next) {
				if (fc->cut || fc->fd == -1 ||
				    fc->phase == PH_BUSY)
					continue;
				max = (fc->phase == PH_HEAD ?
				    FRONT_HEADER_SECS : FRONT_BODY_SECS) *
				    1000u;
				if (now - fc->since <= max)
					continue;
				(void)shutdown(fc->fd, SHUT_RDWR);
				fc->cut = true;
			}
		}
		pthread_mutex_unlock(&front.mtx);
	}
	return NULL;
}

/* ---- fwctld's answers ---- */

static struct front_req *
front_find(uint64_t id)
{
	struct front_req	*r;

	for (r = front.reqs; r != NULL; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static bool
front_read_reply(struct chan_msg *m, struct front_reply *rp, char **route)
{
	uint32_t	 status, etag, ra, wa, drain, stream;
	const char	*ctype, *allow, *rt, *body;
	size_t		 len;

	if (!chan_get_u32(m, &status) || !chan_get_str(m, &rt, 256) ||
	    !chan_get_str(m, &ctype, 256) || !chan_get_u32(m, &etag) ||
	    !chan_get_u64(m, &rp->etag) || !chan_get_str(m, &allow, 256) ||
	    !chan_get_u32(m, &ra) || !chan_get_u32(m, &wa) ||
	    !chan_get_u32(m, &drain) || !chan_get_u32(m, &stream) ||
	    !chan_get_u64(m, &rp->stream_last) ||
	    !chan_get_bytes(m, &body, &len, CHAN_REPLY_MAX) ||
	    !chan_done(m) || status < 100 || status > 599)
		return false;
	rp->status = status;
	rp->has_etag = etag != 0;
	rp->retry_after = ra != 0;
	rp->www_auth = wa != 0;
	rp->drain = drain != 0;
	rp->stream = stream != 0;
	if ((ctype && (rp->ctype = strdup(ctype)) == NULL) ||
	    (allow && (rp->allow = strdup(allow)) == NULL) ||
	    (rt && (*route = strdup(rt)) == NULL))
		return false;
	if (body != NULL && len > 0) {
		if ((rp->body = malloc(len)) == NULL)
			return false;
		memcpy(rp->body, body, len);
		rp->len = len;
	}
	return true;
}

/* GO or REPLY for request m->id: kept on it, and it is woken. */
static void
front_answer(struct chan_msg *m)
{
	struct front_reply	*rp = NULL;
	struct front_req	*r;
	uint64_t		 limit = 0, gen = 0;
	char			*route = NULL;
	const char		*rt;

	if (m->type == CHAN_GO) {
		if (!chan_get_u64(m, &limit) || !chan_get_str(m, &rt, 256) ||
		    !chan_get_u64(m, &gen) || !chan_done(m) || (rt && (route = strdup(rt)) == NULL))
			return;
	} else if ((rp = calloc(1, sizeof(*rp))) == NULL ||
	    !front_read_reply(m, rp, &route)) {
		front_reply_free(rp);
		free(route);
		log_warnx("a reply from fwctld that does not read");
		return;
	}
	pthread_mutex_lock(&front.mtx);
	r = front_find(m->id);
	if (r == NULL || r->answered || (r->state != RS_HEAD &&
	    r->state != RS_WAIT)) {
		/* its client went */
		pthread_mutex_unlock(&front.mtx);
		front_reply_free(rp);
		free(route);
		return;
	}
	if (route != NULL) {
		free(r->route);
		r->route = route;
	}
	if (m->type == CHAN_GO) {
		r->go = true;
		r->generation = gen;
		r->limit = limit > API_BODY_MAX_BIG ? API_BODY_MAX_BIG :
		    (size_t)limit;
	} else {
		r->reply = rp;
		r->with_parent = false;
	}
	r->answered = true;
	if (r->suspended) {
		r->suspended = false;
		/* the next wait is for another answer */
		r->answered = false;
		MHD_resume_connection(r->conn);
	}
	pthread_mutex_unlock(&front.mtx);
}

static void
front_event(struct chan_msg *m)
{
	const char	*text;
	size_t		 len;

	if (!chan_get_bytes(m, &text, &len, EVENTS_DATA_MAX + 256) ||
	    !chan_done(m) || text == NULL)
		return;
	(void)events_mirror(front.events, m->id, text, len);
}

/* Reads fwctld's frames until it goes; then the front goes too. */
static void *
front_reader(void *arg)
{
	struct chan_msg	 m;
	int		 rv;

	(void)arg;
	for (;;) {
		if ((rv = chan_recv(front.chan, &m, CHAN_REPLY_MAX)) <= 0)
			break;
		switch (m.type) {
		case CHAN_GO:
		case CHAN_REPLY:
			front_answer(&m);
			break;
		case CHAN_EVENT:
			front_event(&m);
			break;
		default:
			break;
		}
		chan_msg_free(&m);
	}
	/* fwctld went, or stops us: nothing to finish on our own */
	_exit(0);
}

/* The events' ticker, while someone listens: fwctld looks for drift. */
static void
front_tick(void *arg)
{
	(void)arg;
	(void)front_send(CHAN_TICK, 0, NULL, -1);
}

/* ---- start ---- */

struct front_config {
	bool		 tcp;
	uid_t		 uid;
	gid_t		 gid;
	const char	*root;		/* the empty directory to live in */
	const char	*ui_dir;
	int		 log_level;
};

static void
front_read_config(struct front_config *c, struct chan_msg *m)
{
	uint32_t	 tcp, uid, gid, threads, timeout, limit, ncors, i, lvl;
	const char	*cert, *key, *o;

	if (chan_recv(front.chan, m, CHAN_PAYLOAD_MAX) != 1 || m->type != CHAN_CONFIG ||
	    !chan_get_u32(m, &tcp) || !chan_get_u32(m, &uid) ||
	    !chan_get_u32(m, &gid) || !chan_get_str(m, &c->root, 4096) ||
	    !chan_get_u32(m, &threads) || !chan_get_u32(m, &timeout) ||
	    !chan_get_u32(m, &limit) || !chan_get_u32(m, &lvl) ||
	    !chan_get_str(m, &cert, 1u << 20) ||
	    !chan_get_str(m, &key, 1u << 20) ||
	    !chan_get_str(m, &c->ui_dir, 4096) ||
	    !chan_get_u32(m, &ncors) || ncors > API_CORS_MAX)
		fatalx("front: no configuration from fwctld");
	for (i = 0; i < ncors; i++) {
		if (!chan_get_str(m, &o, 1024) || o == NULL ||
		    (front.cors[i] = strdup(o)) == NULL)
			fatalx("front: bad configuration from fwctld");
	}
	if (!chan_done(m) || c->root == NULL)
		fatalx("front: bad configuration from fwctld");
	front.ncors = ncors;
	c->tcp = tcp != 0;
	c->uid = (uid_t)uid;
	c->gid = (gid_t)gid;
	c->log_level = (int)lvl;
	front.threads = threads ? threads : FRONT_THREADS;
	front.timeout = timeout ? timeout : FRONT_TIMEOUT;
	front.conn_limit = limit ? limit : FRONT_CONN_LIMIT;
	if ((cert && (front.cert = strdup(cert)) == NULL) ||
	    (key && (front.key = strdup(key)) == NULL))
		fatalx("front: out of memory");
}

/* Into the empty directory, as its own user, with no capability left
 * and none to gain: before any thread exists, so that all have it. */
static void
front_drop(const struct front_config *c)
{
	if (chroot(c->root) == -1 || chdir("/") == -1)
		fatal("front: chroot %s", c->root);
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_change_id((int)c->uid, (int)c->gid, CAPNG_DROP_SUPP_GRP |
	    CAPNG_CLEAR_BOUNDING) != 0)
		fatalx("front: cannot become uid %u", (unsigned)c->uid);
	if (getuid() == 0 || geteuid() == 0)
		fatalx("front: still root");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("front: prctl");
}

static void
front_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	 buf[512];
	size_t	 len;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	log_debug("http: %s", buf);
}

static void
front_listen(struct front_listener *l, bool tcp, int fd)
{
	unsigned	 flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			    MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;

	l->f = &front;
	l->tcp = tcp;
	l->fd = fd;
	l->limit = front.conn_limit;
	api_budget_init(&l->budget, API_BODY_BUDGET);
	/* others may fill the socket's budget but for one whole ruleset */
	api_budget_init(&l->others, API_BODY_BUDGET - API_BODY_MAX_BIG - 1);
	if (tcp)
		flags |= MHD_USE_TLS;
	l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, front_access, l,
	    MHD_OPTION_EXTERNAL_LOGGER, front_mhd_log, l,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_THREAD_POOL_SIZE, front.threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, front.timeout,
	    MHD_OPTION_CONNECTION_LIMIT, front.conn_limit +
	    (tcp ? 0 : FRONT_ROOT_SLOTS),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)FRONT_POOL,
	    MHD_OPTION_NOTIFY_COMPLETED, front_completed, l,
	    MHD_OPTION_NOTIFY_CONNECTION, front_connection, l,
	    /* on TCP one address may not take every connection */
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, tcp ? FRONT_PER_ADDR(
	    front.conn_limit) : 0u,
	    tcp ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, front.cert,
	    MHD_OPTION_HTTPS_MEM_KEY, front.key,
	    MHD_OPTION_END);
	if (l->mhd == NULL)
		fatalx("front: cannot start the HTTP server on the %s "
		    "listener", tcp ? "TCP" : "socket");
}

/*
 * What the front may ask of the kernel once it serves: its sockets,
 * memory, threads' waits, time, randomness.  The calls an intruder would
 * want first (exec, new sockets, ids, namespaces, tracing) kill the
 * process; anything else not listed fails with EPERM (opening a file
 * too: there is none in its empty root), so that a library's rare call
 * that is not here costs an error, not a restart loop.
 */
static const int front_allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(lseek), SCMP_SYS(fcntl), SCMP_SYS(ioctl),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(brk),
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigaction), SCMP_SYS(sigaltstack),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(tgkill), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(restart_syscall), SCMP_SYS(getrandom),
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg),
	SCMP_SYS(shutdown), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2), SCMP_SYS(poll),
	SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(pipe2), SCMP_SYS(eventfd2),
};

static const int front_fatal[] = {
	SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect),
	SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
	SCMP_SYS(setuid), SCMP_SYS(setgid), SCMP_SYS(setreuid),
	SCMP_SYS(setregid), SCMP_SYS(setresuid), SCMP_SYS(setresgid),
	SCMP_SYS(setgroups), SCMP_SYS(capset), SCMP_SYS(unshare),
	SCMP_SYS(setns), SCMP_SYS(mount), SCMP_SYS(chroot),
	SCMP_SYS(pivot_root), SCMP_SYS(bpf), SCMP_SYS(perf_event_open),
	SCMP_SYS(init_module), SCMP_SYS(finit_module), SCMP_SYS(kexec_load),
	SCMP_SYS(keyctl), SCMP_SYS(add_key), SCMP_SYS(request_key),
	SCMP_SYS(fork), SCMP_SYS(vfork), SCMP_SYS(kill),
};

static void
front_seccomp(void)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;

	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		fatalx("front: seccomp_init");
	for (i = 0; i < sizeof(front_allowed) / sizeof(front_allowed[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, front_allowed[i],
		    0) != 0)
			fatalx("front: seccomp rule %zu", i);
	for (i = 0; i < sizeof(front_fatal) / sizeof(front_fatal[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS,
		    front_fatal[i], 0) != 0)
			fatalx("front: seccomp rule %zu", i);
	/* threads only, never a new process */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
	    0) != 0)
		fatalx("front: seccomp clone rule");
	/* every thread, those MHD started too */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0 ||
	    seccomp_load(ctx) != 0)
		fatalx("front: cannot load the seccomp filter");
	seccomp_release(ctx);
}

void
front_main(void)
{
	struct front_config	 c;
	struct chan_msg		 m;
	struct diags		 d;
	pthread_t		 reader, watcher;
	sigset_t		 all;

	memset(&front, 0, sizeof(front));
	memset(&c, 0, sizeof(c));
	(void)prctl(PR_SET_NAME, "fwctld-front");
	pthread_mutex_init(&front.send_mtx, NULL);
	pthread_mutex_init(&front.mtx, NULL);
	front.chan = FRONT_FD_CHAN;
	front.trace_fd = fcntl(FRONT_FD_TRACE, F_GETFD) == -1 ? -1 :
	    FRONT_FD_TRACE;
	sigemptyset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* fwctld stops it by closing the channel: a signal to the process
	 * group (a terminal's ^C, a kill of the group) is fwctld's to take */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	log_init("fwctld", true, LOG_INFO);
	log_set_sink(front_log_sink);
	front_read_config(&c, &m);
	log_setlevel(c.log_level);
	diags_init(&d);
	if (c.tcp && c.ui_dir != NULL && *c.ui_dir != '\0' &&
	    (front.ui = ui_load(c.ui_dir, &d)) == NULL)
		fatalx("front: cannot load the dashboard from %s", c.ui_dir);
	diags_free(&d);
	/* jansson seeds its hashes from /dev/urandom: while there is one */
	json_object_seed(0);
	if ((front.events = events_new(2000, front_tick, NULL)) == NULL)
		fatalx("front: out of memory");
	front_drop(&c);
	front_listen(&front.l[front.nl++], false, FRONT_FD_UNIX);
	if (c.tcp)
		front_listen(&front.l[front.nl++], true, FRONT_FD_TCP);
	if (pthread_create(&reader, NULL, front_reader, NULL) != 0 ||
	    pthread_create(&watcher, NULL, front_watcher, NULL) != 0 ||
	    events_start(front.events) == -1)
		fatalx("front: cannot start threads");
	front_seccomp();
	chan_msg_free(&m);
	/* the key's copy in MHD is what serves now */
	if (front.key != NULL)
		explicit_bzero(front.key, strlen(front.key));
	pthread_join(reader, NULL);
	_exit(0);
}
