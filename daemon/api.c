/*
 * The REST API.  libmicrohttpd serves a UNIX socket we bind ourselves; each
 * request is matched against api_routes[], checked (peer credentials, body
 * size, content type, UTF-8, JSON depth, names) and turned into a struct
 * change for the engine, or answered from a snapshot.  Bad input gets a 4xx
 * problem+json reply naming what is wrong and where; it never reaches the
 * kernel.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <netinet/in.h>

#include "api.h"
#include "chan.h"
#include "front.h"
#include "privsep.h"
#include "events.h"
#include "history.h"
#include "trust.h"
#include "codec.h"
#include "explain.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "print.h"
#include "token.h"
#include "ui.h"

#ifndef FWCTL_UI_DIR
#define FWCTL_UI_DIR	"/usr/local/share/fwctl/ui"
#endif

#define API_THREADS		4
#define API_CONN_LIMIT		64
#define API_TIMEOUT		30
#define API_MAX_ARGS		2
#define API_MAX_SEGS		8

#define API_FILE_MAX		(1u << 20)
#define API_TRIM_BODY		(1u << 20)	/* memory back after a body */
#define API_PLAN_ELEMS		100	/* elements listed per set in a plan */
#define API_PLAN_SETS		32
#define API_PENDING_MAX		1024	/* heads held for their bodies */
#define API_SEND_SECS		10	/* a front that reads nothing for so
					 * long is stuck */
#define API_ERRORS_MAX		50	/* per decoded element list */
#define API_REPLY_ERRORS_MAX	100	/* errors[] of a problem reply */
#define API_CONFIRM_MAX		3600	/* s: PUT /v1/ruleset?confirm= */

struct api;

/* A request fwctld holds between its head and its body. */
struct api_pending {
	struct api_req		*r;
	struct api_pending	*next;
};

struct api {
	struct engine		*engine;
	int			 fd;		/* the socket's */
	int			 tcp_fd;	/* TCP's, or -1 */
	char			*socket_path;
	bool			 have_gid;
	gid_t			 gid;
	unsigned		 threads;
	unsigned		 timeout;
	unsigned		 conn_limit;
	char			*listen;	/* TCP: "ADDR:PORT", or NULL */
	struct sockaddr_storage	 tcp_addr;
	struct tokens		*tokens;
	char			*cert;
	char			*key;
	struct metrics		*metrics;
	struct events		*events;
	int			 drift;		/* last told; -1 not yet */
	int			 trace_fd;	/* $FWCTLD_API_TRACE, or -1 */
	char			*ui_dir;	/* the dashboard's, or NULL */
	char			*cors[API_CORS_MAX];
	size_t			 ncors;
	uid_t			 front_uid;
	gid_t			 front_gid;
	char			*front_root;	/* the front's empty root */
	int			 log_level;
	/* the front */
	pthread_t		 back;
	bool			 have_back;
	pthread_mutex_t		 send_mtx;	/* chan and sends on it */
	pthread_mutex_t		 ev_mtx;	/* events in order to it */
	int			 chan;		/* -1 while it is down */
	pid_t			 front_pid;
	struct privsep_starter	 starter;
	bool			 stopping;	/* atomic */
	struct api_pending	*pending;
	size_t			 npending;
};

enum api_ctype {
	CT_NONE = 0,
	CT_JSON,
	CT_TEXT,
	CT_OTHER,
};

struct api_req {
	struct api		*api;
	uint64_t		 id;		/* the front's */
	bool			 tcp;		/* came in over TCP/TLS */
	int			 fd;		/* the socket's connection, or -1 */
	struct chan_msg		 head;		/* what the strings below are in */
	struct chan_msg		 bodymsg;	/* what body is in */
	const struct api_route	*route;
	char			 method[16];
	char			*args[API_MAX_ARGS];	/* {name} segments */
	const char		*qkey[FRONT_QUERY_MAX];
	const char		*qval[FRONT_QUERY_MAX];
	unsigned		 nq;
	bool			 too_many_args;
	const char		*h_auth;
	const char		*h_if_match;
	const char		*h_accept;
	const char		*h_last_event;
	const char		*h_ctype;
	unsigned		 early;		/* status decided up front */
	char			*early_detail;
	char			*allow;		/* for 405 */
	char			*body;		/* NUL-terminated */
	size_t			 len;
	size_t			 limit;
	bool			 retry_after;	/* 503: "Retry-After: 1" */
	enum api_ctype		 ctype;
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;
	char			 who[64];
	enum token_scope	 scope;		/* TCP: the token's */
	bool			 stream;	/* GET /v1/events */
	uint64_t		 stream_last;
	char			 url[256];	/* as asked */
	bool			 has_expected;
	uint64_t		 expected;
	bool			 dry_run;
	/* the reply */
	unsigned		 status;
	json_t			*json;		/* reply body (JSON) */
	char			*text;		/* reply body (text/plain) */
	size_t			 text_len;	/* 0: strlen(text) */
	const char		*text_type;	/* NULL: text/plain UTF-8 */
	bool			 problem;
	bool			 has_etag;
	uint64_t		 etag;
};

static void	api_status(struct api_req *);
static void	api_ruleset_get(struct api_req *);
static void	api_ruleset_put(struct api_req *);
static void	api_ruleset_delete(struct api_req *);
static void	api_rules_list(struct api_req *);
static void	api_rules_post(struct api_req *);
static void	api_rule_get(struct api_req *);
static void	api_rule_put(struct api_req *);
static void	api_rule_delete(struct api_req *);
static void	api_zones_list(struct api_req *);
static void	api_zone_get(struct api_req *);
static void	api_zone_put(struct api_req *);
static void	api_zone_delete(struct api_req *);
static void	api_policies_list(struct api_req *);
static void	api_policies_post(struct api_req *);
static void	api_policies_delete(struct api_req *);
static void	api_nats_list(struct api_req *);
static void	api_nats_post(struct api_req *);
static void	api_nat_get(struct api_req *);
static void	api_nat_delete(struct api_req *);
static void	api_sets_list(struct api_req *);
static void	api_set_get(struct api_req *);
static void	api_set_put(struct api_req *);
static void	api_set_delete(struct api_req *);
static void	api_elems_post(struct api_req *);
static void	api_elems_delete(struct api_req *);
static void	api_counters(struct api_req *);
static void	api_confirm(struct api_req *);
static void	api_revert(struct api_req *);
static void	api_diff(struct api_req *);
static void	api_save(struct api_req *);
static void	api_reload(struct api_req *);
static void	api_history(struct api_req *);
static void	api_explain(struct api_req *);
static void	api_metrics(struct api_req *);
static void	api_events(struct api_req *);
static void	api_tick(void *);
static const char *api_query(struct api_req *, const char *);
static void	api_front_send(struct api *, uint32_t, uint64_t,
		    const struct chan_buf *);

#define MUT	API_MUTATE
#define BODY	(API_BODY | API_MUTATE)
#define TBODY	(API_BODY | API_TEXT | API_MUTATE)

const struct api_route api_routes[] = {
	{ "GET", "/v1/status", 0, "", api_status },
	{ "GET", "/v1/ruleset", 0, "generation,with_elements",
	    api_ruleset_get },
	{ "PUT", "/v1/ruleset", TBODY | API_BIG,
	    "dry_run,confirm,allow_unfiltered",
	    api_ruleset_put },
	{ "POST", "/v1/confirm", MUT, "", api_confirm },
	{ "POST", "/v1/revert", MUT, "dry_run,to,allow_unfiltered",
	    api_revert },
	{ "GET", "/v1/diff", 0, "", api_diff },
	{ "POST", "/v1/save", MUT, "with_elements", api_save },
	{ "POST", "/v1/reload", MUT, "dry_run,confirm,allow_unfiltered",
	    api_reload },
	{ "GET", "/v1/history", 0, "limit,before", api_history },
	{ "DELETE", "/v1/ruleset", MUT, "dry_run", api_ruleset_delete },
	{ "GET", "/v1/rules", 0, "", api_rules_list },
	{ "POST", "/v1/rules", TBODY, "dry_run,position,before,after",
	    api_rules_post },
	{ "GET", "/v1/rules/{name}", 0, "", api_rule_get },
	{ "PUT", "/v1/rules/{name}", TBODY, "dry_run", api_rule_put },
	{ "DELETE", "/v1/rules/{name}", MUT, "dry_run", api_rule_delete },
	{ "GET", "/v1/zones", 0, "", api_zones_list },
	{ "GET", "/v1/zones/{name}", 0, "", api_zone_get },
	{ "PUT", "/v1/zones/{name}", TBODY, "dry_run", api_zone_put },
	{ "DELETE", "/v1/zones/{name}", MUT, "dry_run,allow_unfiltered",
	    api_zone_delete },
	{ "GET", "/v1/policies", 0, "", api_policies_list },
	{ "POST", "/v1/policies", TBODY, "dry_run", api_policies_post },
	{ "DELETE", "/v1/policies", MUT, "dry_run,from,to",
	    api_policies_delete },
	{ "GET", "/v1/nat", 0, "", api_nats_list },
	{ "POST", "/v1/nat", TBODY, "dry_run", api_nats_post },
	{ "GET", "/v1/nat/{name}", 0, "", api_nat_get },
	{ "DELETE", "/v1/nat/{name}", MUT, "dry_run", api_nat_delete },
	{ "GET", "/v1/sets", 0, "", api_sets_list },
	{ "GET", "/v1/sets/{name}", 0, "", api_set_get },
	{ "PUT", "/v1/sets/{name}", TBODY, "dry_run", api_set_put },
	{ "DELETE", "/v1/sets/{name}", MUT, "dry_run", api_set_delete },
	{ "POST", "/v1/sets/{name}/elements", TBODY | API_BIG | API_ELEMS,
	    "dry_run,kill_connections",
	    api_elems_post },
	{ "DELETE", "/v1/sets/{name}/elements", TBODY | API_BIG | API_ELEMS,
	    "dry_run",
	    api_elems_delete },
	{ "GET", "/v1/counters", 0, "", api_counters },
	{ "GET", "/v1/explain", 0, "packet", api_explain },
	{ "GET", "/metrics", 0, "", api_metrics },
	{ "GET", "/v1/events", 0, "", api_events },
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

#undef MUT
#undef BODY
#undef TBODY

/* ---- checks on raw input ---- */

size_t
api_json_depth(const char *s, size_t len)
{
	size_t	 i, depth = 0, max = 0;
	bool	 instr = false;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = false;
			continue;
		}
		switch (s[i]) {
		case '"':
			instr = true;
			break;
		case '[':
		case '{':
			if (++depth > max)
				max = depth;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		}
	}
	return max;
}

bool
api_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t		 i = 0, n, k;
	uint32_t	 cp;

	while (i < len) {
		if (s[i] == 0)
			return false;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return false;
		for (k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* ---- the body budget ---- */

void
api_budget_init(struct api_budget *b, size_t max)
{
	b->max = max;
	__atomic_store_n(&b->used, 0, __ATOMIC_RELEASE);
}

bool
api_budget_take(struct api_budget *b, size_t n)
{
	size_t	 cur;

	cur = __atomic_load_n(&b->used, __ATOMIC_ACQUIRE);
	do {
		if (cur > b->max || n > b->max - cur)
			return false;
	} while (!__atomic_compare_exchange_n(&b->used, &cur, cur + n, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return true;
}

void
api_budget_give(struct api_budget *b, size_t n)
{
	size_t	 cur;

	cur = __atomic_load_n(&b->used, __ATOMIC_ACQUIRE);
	/* never below zero, even if a caller gave back more than it took */
	while (!__atomic_compare_exchange_n(&b->used, &cur,
	    cur > n ? cur - n : 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

size_t
api_budget_used(struct api_budget *b)
{
	return __atomic_load_n(&b->used, __ATOMIC_ACQUIRE);
}

/* ---- replies ---- */

static void
api_early(struct api_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A refusal decided before the handler runs. */
static void
api_early(struct api_req *r, unsigned status, const char *fmt, ...)
{
	va_list	 ap;

	r->early = status;
	free(r->early_detail);
	va_start(ap, fmt);
	if (vasprintf(&r->early_detail, fmt, ap) == -1)
		r->early_detail = NULL;
	va_end(ap);
}

static const char *
api_title(unsigned status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Error";
}

/* A JSON string of text that may hold bytes a client sent: invalid UTF-8
 * becomes '?', so that the reply can always be encoded. */
static json_t *
api_jstr(const char *s)
{
	json_t	*j;
	char	*c;
	size_t	 i, len;

	if ((j = json_string(s)) != NULL)
		return j;
	if ((c = strdup(s)) == NULL)
		return NULL;
	len = strlen(c);
	for (i = 0; i < len; i++)
		if ((unsigned char)c[i] >= 0x80)
			c[i] = '?';
	j = json_string(c);
	free(c);
	return j;
}

static void
api_reset_reply(struct api_req *r)
{
	json_decref(r->json);
	r->json = NULL;
	free(r->text);
	r->text = NULL;
}

/* A problem+json reply from diagnostics (every one of them listed). */
static void
api_problem_diags(struct api_req *r, unsigned status, const char *detail,
    const struct diags *d)
{
	json_t		*p, *errs, *e;
	const struct diag *g;
	char		*first = NULL;
	bool		 have_loc = false, have_field = false;
	size_t		 i;

	api_reset_reply(r);
	r->status = status;
	r->problem = true;
	if ((p = json_object()) == NULL)
		return;
	json_object_set_new(p, "type", json_string("about:blank"));
	json_object_set_new(p, "title", json_string(api_title(status)));
	json_object_set_new(p, "status", json_integer(status));
	errs = json_array();
	/* the detail counts them all; the list stays a size a client (and
	 * we) can afford whatever the input was */
	for (i = 0; d != NULL && i < d->n && i < API_REPLY_ERRORS_MAX &&
	    errs != NULL; i++) {
		g = &d->v[i];
		if ((e = json_object()) == NULL)
			break;
		if (g->file)
			json_object_set_new(e, "file", api_jstr(g->file));
		if (g->line > 0) {
			json_object_set_new(e, "line", json_integer(g->line));
			if (g->col > 0)
				json_object_set_new(e, "column",
				    json_integer(g->col));
		}
		if (g->field)
			json_object_set_new(e, "field", api_jstr(g->field));
		json_object_set_new(e, "message",
		    api_jstr(g->msg ? g->msg : "out of memory"));
		json_array_append_new(errs, e);
		if (!have_loc && g->line > 0) {
			have_loc = true;
			json_object_set_new(p, "line", json_integer(g->line));
			if (g->col > 0)
				json_object_set_new(p, "column",
				    json_integer(g->col));
			if (g->file)
				json_object_set_new(p, "file",
				    api_jstr(g->file));
		}
		if (!have_field && g->field) {
			have_field = true;
			json_object_set_new(p, "field", api_jstr(g->field));
		}
	}
	if (detail == NULL && d != NULL && d->n > 0) {
		first = diag_format(&d->v[0]);
		if (first != NULL && d->n > 1) {
			char *t = NULL;

			if (asprintf(&t, "%s (and %zu more)", first,
			    d->n - 1) != -1) {
				free(first);
				first = t;
			}
		}
		detail = first;
	}
	json_object_set_new(p, "detail",
	    api_jstr(detail ? detail : api_title(status)));
	if (errs != NULL)
		json_object_set_new(p, "errors", errs);
	free(first);
	r->json = p;
}

static void
api_problem(struct api_req *r, unsigned status, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
api_problem(struct api_req *r, unsigned status, const char *field,
    const char *fmt, ...)
{
	struct diags	 d;
	char		*msg = NULL;
	va_list		 ap;

	diags_init(&d);
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	diags_add_field(&d, field, "%s", msg ? msg : "error");
	api_problem_diags(r, status, msg, &d);
	free(msg);
	diags_free(&d);
}

static void
api_reply(struct api_req *r, unsigned status, json_t *j)
{
	api_reset_reply(r);
	r->status = status;
	r->problem = false;
	r->json = j;
	if (j == NULL)
		api_problem(r, 500, NULL, "out of memory");
}

static unsigned
api_engine_http(enum engine_status s)
{
	switch (s) {
	case ENGINE_OK:		return 200;
	case ENGINE_CREATED:	return 201;
	case ENGINE_INVALID:	return 400;
	case ENGINE_CONFLICT:	return 409;
	case ENGINE_NOTFOUND:	return 404;
	case ENGINE_STALE:	return 412;
	case ENGINE_REFUSED:	return 422;
	case ENGINE_FAILED:	break;
	}
	return 500;
}

static json_t *
api_plan_json(const struct plan *p)
{
	struct {
		enum plan_op	 op;
		const char	*set;
		size_t		 n;
	} seen[API_PLAN_SETS];
	size_t	 i, k, nseen = 0;
	json_t	*a, *o;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < p->n; i++) {
		/* a million elements are not read one by one, and their list
		 * would cost more than the change: the first API_PLAN_ELEMS
		 * of each set and op, then how many more */
		if (p->v[i].elem != NULL && p->v[i].name != NULL) {
			for (k = 0; k < nseen; k++)
				if (seen[k].op == p->v[i].op &&
				    strcmp(seen[k].set, p->v[i].name) == 0)
					break;
			if (k == nseen && nseen < API_PLAN_SETS) {
				seen[k].op = p->v[i].op;
				seen[k].set = p->v[i].name;
				seen[k].n = 0;
				nseen++;
			}
			if (k < nseen && ++seen[k].n > API_PLAN_ELEMS)
				continue;
		}
		o = json_pack("{s:s, s:s, s:s}",
		    "op", plan_op_name(p->v[i].op),
		    "kind", plan_kind_name(p->v[i].kind),
		    "name", p->v[i].name ? p->v[i].name : "");
		if (o != NULL && p->v[i].elem != NULL)
			json_object_set_new(o, "element",
			    json_string(p->v[i].elem));
		if (o == NULL || json_array_append_new(a, o) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	for (k = 0; k < nseen; k++) {
		if (seen[k].n <= API_PLAN_ELEMS)
			continue;
		o = json_pack("{s:s, s:s, s:s, s:I}", "op",
		    plan_op_name(seen[k].op), "kind", "element", "name",
		    seen[k].set, "more", (json_int_t)(seen[k].n -
		    API_PLAN_ELEMS));
		if (o == NULL || json_array_append_new(a, o) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/*
 * Runs a change through the engine.  Returns true when it was accepted
 * (r->etag set); otherwise the problem reply is already in r.  A dry run
 * that passed also returns true, with nothing applied.
 */
static bool	api_bool_arg(struct api_req *, const char *, bool *);

static bool
api_run(struct api_req *r, struct change *c, struct change_result *res)
{
	if (!api_bool_arg(r, "allow_unfiltered", &c->allow_unfiltered)) {
		/* as the engine would have: a reply, and nothing owned */
		memset(res, 0, sizeof(*res));
		edit_change_free(c);
		return false;
	}
	c->who = r->who;
	c->has_expected = r->has_expected;
	c->expected = r->expected;
	c->dry_run = r->dry_run;
	engine_change(r->api->engine, c, res);
	r->has_etag = true;
	r->etag = res->generation;
	if (res->status == ENGINE_OK || res->status == ENGINE_CREATED)
		return true;
	api_problem_diags(r, api_engine_http(res->status), NULL,
	    &res->diags);
	return false;
}

/* A dry run's lint: where, and what ("warning: " dropped). */
static json_t *
api_warnings_json(const struct diags *d)
{
	json_t		*a, *e;
	const char	*m;
	size_t		 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < d->n && i < API_REPLY_ERRORS_MAX; i++) {
		m = d->v[i].msg ? d->v[i].msg : "";
		if (strncmp(m, "warning: ", 9) == 0)
			m += 9;
		if ((e = json_pack("{s:s}", "message", m)) == NULL)
			break;
		if (d->v[i].file)
			json_object_set_new(e, "file", api_jstr(d->v[i].file));
		if (d->v[i].line > 0)
			json_object_set_new(e, "line",
			    json_integer(d->v[i].line));
		if (d->v[i].col > 0)
			json_object_set_new(e, "column",
			    json_integer(d->v[i].col));
		json_array_append_new(a, e);
	}
	return a;
}

/* The reply to a dry run of any change, and to PUT /v1/ruleset. */
static void
api_reply_plan(struct api_req *r, const struct change_result *res)
{
	json_t	*j = json_pack("{s:I, s:o, s:b}",
	    "generation", (json_int_t)res->generation,
	    "plan", api_plan_json(&res->plan),
	    "applied", res->applied);

	if (j != NULL && res->warnings.n > 0)
		json_object_set_new(j, "warnings",
		    api_warnings_json(&res->warnings));
	api_reply(r, 200, j);
}

static void
api_reply_gen(struct api_req *r, const struct change_result *res)
{
	if (r->dry_run)
		api_reply_plan(r, res);
	else
		api_reply(r, 200, json_pack("{s:I}", "generation",
		    (json_int_t)res->generation));
}

/* ---- request bodies ---- */

/* The body as JSON (object expected), or NULL with the reply set. */
static json_t *
api_body_json(struct api_req *r)
{
	json_t		*j;
	json_error_t	 err;
	struct diags	 d;
	struct srcloc	 l = { NULL, 0, 0 };

	if (api_json_depth(r->body, r->len) > API_JSON_DEPTH_MAX) {
		api_problem(r, 400, NULL, "JSON nested deeper than %d levels",
		    API_JSON_DEPTH_MAX);
		return NULL;
	}
	if ((j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &err))
	    == NULL) {
		diags_init(&d);
		l.line = err.line;
		l.col = err.column;
		diags_add(&d, &l, "bad JSON: %s", err.text);
		api_problem_diags(r, 400, NULL, &d);
		diags_free(&d);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		api_problem(r, 400, NULL, "expected a JSON object");
		return NULL;
	}
	return j;
}

/* The body as a NUL-terminated text, or NULL with the reply set. */
static const char *
api_body_text(struct api_req *r)
{
	if (!api_utf8_valid(r->body, r->len)) {
		api_problem(r, 400, NULL,
		    "the body is not valid UTF-8 text (or holds NUL bytes)");
		return NULL;
	}
	return r->body;		/* always NUL-terminated, see api_access */
}

static void
api_bad_diags(struct api_req *r, struct diags *d, const char *what)
{
	if (d->n == 0)
		api_problem(r, 400, NULL, "%s does not decode", what);
	else
		api_problem_diags(r, 400, NULL, d);
}

/* A name from the path: the same rules as names in the rule language. */
static bool
api_name_ok(struct api_req *r, const char *name, bool digits_ok)
{
	const char	*p;

	if (digits_ok && *name >= '0' && *name <= '9') {
		for (p = name; *p >= '0' && *p <= '9'; p++)
			;
		if (*p == '\0' && p - name < 10)
			return true;
	}
	if (name_valid(name))
		return true;
	api_problem(r, 400, "name", "invalid name \"%.64s\": expected "
	    "letters, digits, '_', '.', '-', starting with a letter or '_', "
	    "at most %d bytes", name, FWCTL_NAME_MAX);
	return false;
}

/* ---- reads ---- */

static size_t
api_count_elems(const struct ruleset *rs)
{
	size_t	 i, n = 0;

	for (i = 0; i < rs->nsets; i++)
		n += rs->sets[i]->nelems;
	return n;
}

/* ?name=N (1..max); *given false when absent. */
static bool
api_uint_arg(struct api_req *r, const char *name, uint64_t max,
    uint64_t *out, bool *given)
{
	const char		*v;
	char			*end;
	unsigned long long	 n;

	*given = false;
	v = api_query(r, name);
	if (v == NULL)
		return true;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n < 1 ||
	    n > max) {
		api_problem(r, 400, name, "%s: expected a number from 1 to %"
		    PRIu64 ", got \"%.32s\"", name, max, v);
		return false;
	}
	*out = n;
	*given = true;
	return true;
}

/* What was changed by hand while fwctld was stopped, found at start. */
static json_t *
api_drift_json(const struct engine_status_info *info)
{
	json_t	*a;
	size_t	 i;

	if (!info->drift_start || (a = json_array()) == NULL)
		return json_null();
	for (i = 0; i < info->drift_n; i++)
		json_array_append_new(a, json_string(info->drift_v[i]));
	return json_pack("{s:s, s:o}", "policy", info->drift_kept ? "kept" :
	    "repaired", "objects", a);
}

/* What the host's firewall does: zones filtered, or nothing at all. */
static json_t *
api_filtering(const struct ruleset *rs, bool table)
{
	json_t	*z;
	size_t	 i;

	if ((z = json_array()) == NULL)
		return NULL;
	for (i = 0; i < rs->nzones; i++)
		json_array_append_new(z, json_string(rs->zones[i]->name));
	return json_pack("{s:b, s:o, s:s}", "active", rs->nzones > 0 && table,
	    "zones", z, "detail", rs->nzones == 0 ? "no zone is declared: "
	    "fwctld programs no table and filters nothing" : !table ?
	    "the table is not in the kernel" : "every zone, and this host, "
	    "as the ruleset says");
}

static void
api_status(struct api_req *r)
{
	struct snapshot			 s;
	struct engine_status_info	 info;
	json_t				*j;

	engine_info(r->api->engine, &info);
	engine_snapshot(r->api->engine, &s);
	j = json_pack("{s:s, s:I, s:s, s:b, s:b, s:o, s:{s:I, s:I, s:I, s:I, "
	    "s:I, s:I}}",
	    "version", FWCTL_VERSION,
	    "generation", (json_int_t)s.generation,
	    "table", engine_table(r->api->engine),
	    "table_present", info.table_present == 1,
	    "drift", info.drift,
	    "pending", info.pending == 0 ? json_null() :
	    json_pack("{s:I, s:I}", "generation", (json_int_t)info.pending,
	    "seconds_left", (json_int_t)info.pending_secs),
	    "counts",
	    "zones", (json_int_t)s.rs->nzones,
	    "policies", (json_int_t)s.rs->npolicies,
	    "rules", (json_int_t)s.rs->nrules,
	    "nat", (json_int_t)s.rs->nnats,
	    "sets", (json_int_t)s.rs->nsets,
	    "elements", (json_int_t)api_count_elems(s.rs));
	if (j != NULL) {
		json_object_set_new(j, "filtering", api_filtering(s.rs,
		    info.table_present == 1));
		json_object_set_new(j, "live_changes", info.live_changes < 0 ?
		    json_null() : json_integer((json_int_t)info.live_changes));
		json_object_set_new(j, "history_oldest",
		    info.history_oldest == 0 ? json_null() :
		    json_integer((json_int_t)info.history_oldest));
		json_object_set_new(j, "drift_at_start", api_drift_json(&info));
		json_object_set_new(j, "state_error", info.state_error[0] ?
		    json_string(info.state_error) : json_null());
	}
	r->has_etag = true;
	r->etag = s.generation;
	engine_release(r->api->engine, &s);
	api_reply(r, 200, j);
}

static bool
api_wants_text(struct api_req *r)
{
	const char	*a;

	a = r->h_accept;
	return a != NULL && strstr(a, "text/plain") != NULL &&
	    strstr(a, "application/json") == NULL;
}

/*
 * The ruleset: the current one, or the one of ?generation=G from the
 * history. Run-time set elements are data, not the declared ruleset:
 * left out unless ?with_elements=1, so that an export applied elsewhere
 * (or again) declares what the files declare.
 */
static void
api_ruleset_get(struct api_req *r)
{
	struct snapshot	 s;
	struct ruleset	*rs = NULL;
	struct diags	 d;
	uint64_t	 gen;
	bool		 at = false, with = false;
	int		 rv;

	if (!api_uint_arg(r, "generation", INT64_MAX, &gen, &at) ||
	    !api_bool_arg(r, "with_elements", &with))
		return;
	engine_snapshot(r->api->engine, &s);
	r->has_etag = true;
	r->etag = s.generation;
	if (at && gen != s.generation) {
		diags_init(&d);
		rv = engine_ruleset_at(r->api->engine, gen, &rs, &d);
		if (rv != 1) {
			if (rv == 0 || gen > s.generation)
				api_problem(r, 404, "generation", "generation %"
				    PRIu64 " is not in the history", gen);
			else
				api_problem_diags(r, 500, NULL, &d);
			diags_free(&d);
			goto out;
		}
		diags_free(&d);
	} else if ((rs = ruleset_share(s.rs)) == NULL) {
		api_problem(r, 500, NULL, "out of memory");
		goto out;
	}
	if (!with)
		edit_strip_runtime(rs);
	if (api_wants_text(r)) {
		api_reset_reply(r);
		if ((r->text = print_ruleset_str(rs)) == NULL)
			api_problem(r, 500, NULL, "out of memory");
		else
			r->status = 200;
	} else
		api_reply(r, 200, codec_encode_ruleset(rs));
out:
	ruleset_free(rs);
	engine_release(r->api->engine, &s);
}

/* A list of one kind of object, each through its encoder. */
#define API_LIST(fn, key, arr, n, enc)					\
static void								\
fn(struct api_req *r)							\
{									\
	struct snapshot	 s;						\
	json_t		*a;						\
	size_t		 i;						\
									\
	engine_snapshot(r->api->engine, &s);				\
	r->has_etag = true;						\
	r->etag = s.generation;						\
	if ((a = json_array()) != NULL)					\
		for (i = 0; i < s.rs->n; i++)				\
			json_array_append_new(a, enc(s.rs->arr[i]));	\
	engine_release(r->api->engine, &s);				\
	api_reply(r, 200, a ? json_pack("{s:o}", key, a) : NULL);	\
}

API_LIST(api_zones_list, "zones", zones, nzones, codec_encode_zone)
API_LIST(api_policies_list, "policies", policies, npolicies,
    codec_encode_policy)
API_LIST(api_nats_list, "nat", nats, nnats, codec_encode_nat)
API_LIST(api_sets_list, "sets", sets, nsets, codec_encode_set)

static int
api_counter_cmp(const void *a, const void *b)
{
	const struct nft_counter *x = a, *y = b;

	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static const struct nft_counter *
api_counter_find(const struct nft_counters *c, const char *name)
{
	struct nft_counter	 key;

	if (c->n == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.name = (char *)(uintptr_t)name;	/* bsearch key, not written */
	return bsearch(&key, c->v, c->n, sizeof(c->v[0]), api_counter_cmp);
}

static json_t *
api_rule_json(const struct rule *rule, size_t pos,
    const struct nft_counters *c)
{
	const struct nft_counter *k;
	json_t		*j;

	if ((j = codec_encode_rule(rule)) == NULL)
		return NULL;
	json_object_set_new(j, "position", json_integer((json_int_t)pos));
	if (c != NULL) {
		k = api_counter_find(c, rule->name);
		json_object_set_new(j, "counters", json_pack("{s:I, s:I}",
		    "packets", (json_int_t)(k ? k->packets : 0),
		    "bytes", (json_int_t)(k ? k->bytes : 0)));
	}
	return j;
}

static void
api_rules_list(struct api_req *r)
{
	struct snapshot		 s;
	struct nft_counters	 c;
	struct diags		 d;
	json_t			*a;
	size_t			 i;
	bool			 have;

	diags_init(&d);
	have = engine_counters(r->api->engine, &c, &d) == 0;
	diags_free(&d);
	if (have)
		qsort(c.v, c.n, sizeof(c.v[0]), api_counter_cmp);
	engine_snapshot(r->api->engine, &s);
	r->has_etag = true;
	r->etag = s.generation;
	if ((a = json_array()) != NULL)
		for (i = 0; i < s.rs->nrules; i++)
			json_array_append_new(a, api_rule_json(s.rs->rules[i],
			    i + 1, have ? &c : NULL));
	engine_release(r->api->engine, &s);
	if (have)
		nft_counters_free(&c);
	api_reply(r, 200, a ? json_pack("{s:o}", "rules", a) : NULL);
}

static void
api_counters(struct api_req *r)
{
	struct snapshot		 s;
	struct nft_counters	 c;
	struct diags		 d;
	json_t			*a, *o;
	size_t			 i;

	diags_init(&d);
	if (engine_counters(r->api->engine, &c, &d) == -1) {
		api_problem_diags(r, 503, "cannot read counters", &d);
		diags_free(&d);
		return;
	}
	diags_free(&d);
	engine_snapshot(r->api->engine, &s);
	r->has_etag = true;
	r->etag = s.generation;
	if ((a = json_array()) != NULL)
		for (i = 0; i < c.n; i++) {
			/* policies are in /metrics; here rules and NAT */
			if (c.v[i].name == NULL ||
			    strchr(c.v[i].name, ' ') != NULL)
				continue;
			o = json_pack("{s:s, s:s, s:I, s:I}",
			    "kind", ruleset_find_nat(s.rs, c.v[i].name) >= 0 &&
			    ruleset_find_rule(s.rs, c.v[i].name) < 0 ?
			    "nat" : "rule",
			    "name", c.v[i].name,
			    "packets", (json_int_t)c.v[i].packets,
			    "bytes", (json_int_t)c.v[i].bytes);
			json_array_append_new(a, o);
		}
	engine_release(r->api->engine, &s);
	nft_counters_free(&c);
	api_reply(r, 200, a ? json_pack("{s:o}", "counters", a) : NULL);
}

/* What the ruleset does with ?packet=..., in the rule language's words
 * (explain.h); the host's addresses tell local destinations apart. */
static void
api_explain(struct api_req *r)
{
	const char		*text;
	struct host_addr	*h = NULL;
	struct snapshot		 s;
	struct explain		 e;
	struct packet		 p;
	struct diags		 d;
	size_t			 nh;

	text = api_query(r, "packet");
	if (text == NULL) {
		api_problem(r, 400, "packet", "missing; expected a packet such "
		    "as \"from wan tcp 203.0.113.5:40000 -> 10.50.0.1:22\"");
		return;
	}
	diags_init(&d);
	if (explain_parse(text, &p, &d) == -1) {
		api_problem_diags(r, 400, NULL, &d);
		diags_free(&d);
		return;
	}
	if (explain_host_addrs(&h, &nh) == -1) {
		api_problem(r, 503, NULL, "cannot read this host's addresses: "
		    "%s", strerror(errno));
		diags_free(&d);
		return;
	}
	engine_snapshot(r->api->engine, &s);
	r->has_etag = true;
	r->etag = s.generation;
	if (explain_packet(s.rs, h, nh, &p, &e, &d) == -1)
		api_problem_diags(r, 400, NULL, &d);
	else {
		api_reply(r, 200, codec_encode_explain(&e));
		explain_free(&e);
	}
	engine_release(r->api->engine, &s);
	free(h);
	diags_free(&d);
}

/* Prometheus' text format (metrics.h). */
static void
api_metrics(struct api_req *r)
{
	size_t	 len;
	char	*t;

	if ((t = metrics_render(r->api->metrics, r->api->engine, &len)) ==
	    NULL) {
		api_problem(r, 500, NULL, "out of memory");
		return;
	}
	api_reset_reply(r);
	r->text = t;
	r->text_len = len;
	r->text_type = "text/plain; version=0.0.4; charset=utf-8";
	r->status = 200;
}

/* Server-Sent Events (events.h), served by the front from its copy of
 * the events: from the event after Last-Event-ID, or what comes from
 * now on. */
static void
api_events(struct api_req *r)
{
	const char	*h;
	uint64_t	 last = 0;
	char		*end;

	h = r->h_last_event;
	if (h != NULL && *h != '\0') {
		errno = 0;
		last = strtoull(h, &end, 10);
		if (*h < '0' || *h > '9' || *end != '\0' || errno != 0) {
			api_problem(r, 400, "Last-Event-ID", "Last-Event-ID "
			    "is not an event id of ours: %.40s", h);
			return;
		}
	}
	r->stream = true;
	r->stream_last = last;
	r->status = 200;
}

/* Rule by name or 1-based position. */
static void
api_rule_get(struct api_req *r)
{
	struct snapshot	 s;
	ssize_t		 k;
	const char	*name = r->args[0];

	if (!api_name_ok(r, name, true))
		return;
	engine_snapshot(r->api->engine, &s);
	r->has_etag = true;
	r->etag = s.generation;
	if (*name >= '0' && *name <= '9') {
		k = strtol(name, NULL, 10) - 1;
		if (k < 0 || (size_t)k >= s.rs->nrules)
			k = -1;
	} else
		k = ruleset_find_rule(s.rs, name);
	if (k < 0)
		api_problem(r, 404, "name", "no rule %s%s",
		    *name >= '0' && *name <= '9' ? "at position " : "named ",
		    name);
	else
		api_reply(r, 200, api_rule_json(s.rs->rules[k], (size_t)k + 1,
		    NULL));
	engine_release(r->api->engine, &s);
}

#define API_GET(fn, what, find, arr, enc)				\
static void								\
fn(struct api_req *r)							\
{									\
	struct snapshot	 s;						\
	ssize_t		 k;						\
									\
	if (!api_name_ok(r, r->args[0], false))				\
		return;							\
	engine_snapshot(r->api->engine, &s);				\
	r->has_etag = true;						\
	r->etag = s.generation;						\
	if ((k = find(s.rs, r->args[0])) < 0)				\
		api_problem(r, 404, "name", "no " what " named %s",	\
		    r->args[0]);					\
	else								\
		api_reply(r, 200, enc(s.rs->arr[k]));			\
	engine_release(r->api->engine, &s);				\
}

API_GET(api_zone_get, "zone", ruleset_find_zone, zones, codec_encode_zone)
API_GET(api_nat_get, "nat entry", ruleset_find_nat, nats, codec_encode_nat)
API_GET(api_set_get, "set", ruleset_find_set, sets, codec_encode_set)

/* ---- changes ---- */

/* ?confirm=SECONDS: revert unless POST /v1/confirm comes in time. */
static bool
api_confirm_secs(struct api_req *r, unsigned *secs)
{
	const char	*v;
	char		*end;
	unsigned long	 n;

	*secs = 0;
	v = api_query(r, "confirm");
	if (v == NULL)
		return true;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n < 1 ||
	    n > API_CONFIRM_MAX) {
		api_problem(r, 400, "confirm", "confirm: expected seconds, 1 "
		    "to %d", API_CONFIRM_MAX);
		return false;
	}
	if (r->dry_run) {
		api_problem(r, 400, "confirm", "confirm: a dry run changes "
		    "nothing to confirm");
		return false;
	}
	*secs = (unsigned)n;
	return true;
}

static void
api_ruleset_put(struct api_req *r)
{
	struct change		 c;
	struct change_result	 res;
	struct diags		 d;
	json_t			*j;
	const char		*text;
	unsigned		 secs;

	if (!api_confirm_secs(r, &secs))
		return;
	memset(&c, 0, sizeof(c));
	diags_init(&d);
	c.op = CHANGE_REPLACE;
	c.confirm_secs = secs;
	if (r->ctype == CT_TEXT) {
		if ((text = api_body_text(r)) == NULL)
			return;
		if ((c.ruleset = ruleset_new()) == NULL) {
			api_problem(r, 500, NULL, "out of memory");
			return;
		}
		if (parse_buffer(c.ruleset, NULL, text, r->len, &d) > 0) {
			ruleset_free(c.ruleset);
			api_bad_diags(r, &d, "the ruleset");
			diags_free(&d);
			return;
		}
	} else {
		if ((j = api_body_json(r)) == NULL)
			return;
		c.ruleset = codec_decode_ruleset(j, &d);
		json_decref(j);
		if (c.ruleset == NULL) {
			api_bad_diags(r, &d, "the ruleset");
			diags_free(&d);
			return;
		}
	}
	diags_free(&d);
	if (api_run(r, &c, &res)) {
		api_reply_plan(r, &res);
		if (res.pending && r->json != NULL)
			json_object_set_new(r->json, "confirm", json_pack(
			    "{s:I, s:I}", "generation",
			    (json_int_t)res.generation, "seconds",
			    (json_int_t)secs));
	}
	engine_result_free(&res);
}

/* POST /v1/confirm and /v1/revert: what awaits confirmation stays, or
 * goes now. */
static void
api_pending(struct api_req *r, enum change_op op)
{
	struct change		 c;
	struct change_result	 res;

	memset(&c, 0, sizeof(c));
	c.op = op;
	if (api_run(r, &c, &res)) {
		if (op == CHANGE_CONFIRM)
			api_reply(r, 200, json_pack("{s:I, s:b}", "generation",
			    (json_int_t)res.generation, "confirmed", true));
		else
			api_reply(r, 200, json_pack("{s:I, s:I, s:o}",
			    "generation", (json_int_t)res.generation,
			    "reverted", (json_int_t)res.reverted, "plan",
			    api_plan_json(&res.plan)));
	}
	engine_result_free(&res);
}

static void
api_confirm(struct api_req *r)
{
	api_pending(r, CHANGE_CONFIRM);
}

/* POST /v1/revert: what awaits confirmation goes now; with ?to=G, the
 * ruleset of generation G comes back as a new change, recorded like any
 * other (run-time set elements stay: they are data). */
static void
api_revert(struct api_req *r)
{
	struct change		 c;
	struct change_result	 res;
	struct diags		 d;
	char			 what[48];
	uint64_t		 gen;
	bool			 to;
	int			 rv;

	if (!api_uint_arg(r, "to", INT64_MAX, &gen, &to))
		return;
	if (!to) {
		api_pending(r, CHANGE_REVERT);
		return;
	}
	memset(&c, 0, sizeof(c));
	diags_init(&d);
	if ((rv = engine_ruleset_at(r->api->engine, gen, &c.ruleset,
	    &d)) != 1) {
		r->has_etag = true;
		r->etag = engine_generation(r->api->engine);
		if (rv == 0 || gen > r->etag)
			api_problem(r, 404, "to", "generation %" PRIu64 " is not "
			    "in the history", gen);
		else
			api_problem_diags(r, 500, NULL, &d);
		diags_free(&d);
		return;
	}
	diags_free(&d);
	snprintf(what, sizeof(what), "revert to %" PRIu64, gen);
	c.op = CHANGE_REPLACE;
	c.what = what;
	c.past = true;
	if (api_run(r, &c, &res))
		api_reply_plan(r, &res);
	engine_result_free(&res);
}

/* GET /v1/diff: the live ruleset against the rules directory. */
static void
api_diff(struct api_req *r)
{
	struct plan	 p;
	struct diags	 d;
	uint64_t	 gen;

	diags_init(&d);
	if (engine_diff(r->api->engine, &p, &gen, &d) == -1) {
		r->has_etag = true;
		r->etag = engine_generation(r->api->engine);
		api_problem_diags(r, 409, "the rules directory does not load; "
		    "fwctl diff compares with it", &d);
	} else {
		r->has_etag = true;
		r->etag = gen;
		api_reply(r, 200, json_pack("{s:I, s:o, s:I}", "generation",
		    (json_int_t)gen, "plan", api_plan_json(&p),
		    "live_changes", (json_int_t)p.n));
	}
	plan_free(&p);
	diags_free(&d);
}

/* POST /v1/save: the live ruleset into the rules directory. */
static void
api_save(struct api_req *r)
{
	struct diags	 d;
	uint64_t	 gen;
	char		*backup = NULL;
	bool		 with = false;
	int		 rv;

	if (!api_bool_arg(r, "with_elements", &with))
		return;
	if (r->dry_run) {
		api_problem(r, 400, "dry_run", "a save has no dry run: "
		    "fwctl diff shows what it would write");
		return;
	}
	if (r->has_expected && r->expected !=
	    engine_generation(r->api->engine)) {
		r->has_etag = true;
		r->etag = engine_generation(r->api->engine);
		api_problem(r, 412, NULL, "the ruleset is at generation %"
		    PRIu64 ", not %" PRIu64, r->etag, r->expected);
		return;
	}
	diags_init(&d);
	rv = engine_save(r->api->engine, with, &gen, &backup, &d);
	r->has_etag = true;
	r->etag = gen;
	if (rv == -1)
		api_problem_diags(r, 500, NULL, &d);
	else
		api_reply(r, 200, json_pack("{s:I, s:b, s:o}", "generation",
		    (json_int_t)gen, "saved", rv == 0, "backup", backup ?
		    json_string(backup) : json_null()));
	free(backup);
	diags_free(&d);
}

/* POST /v1/reload: the rules directory replaces the live ruleset. */
static void
api_reload(struct api_req *r)
{
	struct change		 c;
	struct change_result	 res;
	unsigned		 secs;

	if (!api_confirm_secs(r, &secs))
		return;
	memset(&c, 0, sizeof(c));
	c.confirm_secs = secs;
	if (!api_bool_arg(r, "allow_unfiltered", &c.allow_unfiltered))
		return;
	c.who = r->who;
	c.has_expected = r->has_expected;
	c.expected = r->expected;
	c.dry_run = r->dry_run;
	engine_reload(r->api->engine, &c, &res);
	r->has_etag = true;
	r->etag = res.generation;
	if (res.status == ENGINE_OK || res.status == ENGINE_CREATED) {
		api_reply_plan(r, &res);
		if (res.pending && r->json != NULL)
			json_object_set_new(r->json, "confirm", json_pack(
			    "{s:I, s:I}", "generation",
			    (json_int_t)res.generation, "seconds",
			    (json_int_t)secs));
	} else
		api_problem_diags(r, api_engine_http(res.status), NULL,
		    &res.diags);
	engine_result_free(&res);
}

/* GET /v1/history?limit=N&before=G: newest first. */
static void
api_history(struct api_req *r)
{
	uint64_t	 limit = 50, before = 0, oldest;
	bool		 given;
	json_t		*a;

	if (!api_uint_arg(r, "limit", 1000, &limit, &given) ||
	    !api_uint_arg(r, "before", INT64_MAX, &before, &given))
		return;
	oldest = engine_history_oldest(r->api->engine);
	r->has_etag = true;
	r->etag = engine_generation(r->api->engine);
	if ((a = history_list(engine_state_dir(r->api->engine), before,
	    (size_t)limit)) == NULL) {
		api_problem(r, 500, NULL, "out of memory");
		return;
	}
	api_reply(r, 200, json_pack("{s:I, s:o, s:o}", "generation",
	    (json_int_t)r->etag, "entries", a, "oldest", oldest ?
	    json_integer((json_int_t)oldest) : json_null()));
}

static void
api_ruleset_delete(struct api_req *r)
{
	struct change		 c;
	struct change_result	 res;

	memset(&c, 0, sizeof(c));
	c.op = CHANGE_FLUSH;
	if (api_run(r, &c, &res))
		api_reply_plan(r, &res);
	engine_result_free(&res);
}

/*
 * Decodes an object from a JSON or text body.  JSON objects may miss their
 * "name" when the path gives it (PUT /v1/rules/{name}); a name in the body
 * must match the path.
 */
static void *
api_decode(struct api_req *r, json_t *j, enum plan_kind kind,
    const char *what)
{
	struct diags	 d;
	const char	*t = NULL;
	void		*obj = NULL;

	diags_init(&d);
	if (j == NULL && (t = api_body_text(r)) == NULL)
		return NULL;
	switch (kind) {
	case PLAN_RULE:
		obj = j ? codec_decode_rule(j, "", &d) : parse_rule(t, &d);
		break;
	case PLAN_ZONE:
		obj = j ? codec_decode_zone(j, "", &d) : parse_zone(t, &d);
		break;
	case PLAN_POLICY:
		obj = j ? codec_decode_policy(j, "", &d) : parse_policy(t, &d);
		break;
	case PLAN_NAT:
		obj = j ? codec_decode_nat(j, "", &d) : parse_nat(t, &d);
		break;
	case PLAN_SET:
		obj = j ? codec_decode_set(j, "", &d) : parse_set(t, &d);
		break;
	case PLAN_ELEMENT:
		break;
	}
	if (obj == NULL)
		api_bad_diags(r, &d, what);
	diags_free(&d);
	return obj;
}

/* The JSON body, or NULL for a text body; *bad when the reply is set. */
static json_t *
api_json_or_text(struct api_req *r, bool *bad)
{
	json_t	*j = NULL;

	*bad = false;
	if (r->ctype == CT_JSON && (j = api_body_json(r)) == NULL)
		*bad = true;
	return j;
}

/* Path name vs. object name; fills a missing JSON "name" from the path. */
static bool
api_name_match(struct api_req *r, json_t *j, const char *field)
{
	json_t	*n;

	if (j == NULL)
		return true;
	n = json_object_get(j, field);
	if (n == NULL)
		return json_object_set_new(j, field,
		    json_string(r->args[0])) == 0;
	return true;
}

static bool
api_name_same(struct api_req *r, const char *objname)
{
	if (objname != NULL && strcmp(objname, r->args[0]) == 0)
		return true;
	api_problem(r, 400, "name", "the name in the body (%s) differs from "
	    "the name in the path (%s)", objname ? objname : "none",
	    r->args[0]);
	return false;
}

static bool
api_take_pos(struct api_req *r, json_t *j, struct change *c)
{
	const char	*q[3];
	static const char *const keys[3] = { "position", "before", "after" };
	json_t		*v;
	int		 i;
	char		*end;
	unsigned long	 pos;

	for (i = 0; i < 3; i++) {
		q[i] = api_query(r, keys[i]);
		v = j ? json_object_get(j, keys[i]) : NULL;
		if (v != NULL && q[i] != NULL) {
			api_problem(r, 400, keys[i], "%s given both in the "
			    "query and in the body", keys[i]);
			return false;
		}
		if (v == NULL)
			continue;
		if (i == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > INT32_MAX) {
				api_problem(r, 400, keys[i],
				    "expected an integer >= 1");
				return false;
			}
			c->position = (size_t)json_integer_value(v);
		} else {
			if (!json_is_string(v) ||
			    !name_valid(json_string_value(v))) {
				api_problem(r, 400, keys[i],
				    "expected a rule name");
				return false;
			}
			/* j outlives the change: the pointer stays valid */
			if (i == 1)
				c->before = json_string_value(v);
			else
				c->after = json_string_value(v);
		}
	}
	if (q[0] != NULL) {
		errno = 0;
		pos = strtoul(q[0], &end, 10);
		if (*q[0] < '0' || *q[0] > '9' || *end != '\0' || errno ||
		    pos == 0 || pos > INT32_MAX) {
			api_problem(r, 400, "position",
			    "expected an integer >= 1");
			return false;
		}
		c->position = pos;
	}
	for (i = 1; i < 3; i++) {
		if (q[i] == NULL)
			continue;
		if (!name_valid(q[i])) {
			api_problem(r, 400, keys[i], "expected a rule name");
			return false;
		}
		if (i == 1)
			c->before = q[i];
		else
			c->after = q[i];
	}
	return true;
}

static void
api_rules_post(struct api_req *r)
{
	struct change		 c;
	struct change_result	 res;
	json_t			*j, *dec = NULL;
	bool			 bad;
	size_t			 pos;

	memset(&c, 0, sizeof(c));
	memset(&res, 0, sizeof(res));
	j = api_json_or_text(r, &bad);
	if (bad || !api_take_pos(r, j, &c))
		goto done;
	if (j != NULL) {
		/* the placement fields are the request's, not the rule's */
		if ((dec = json_deep_copy(j)) == NULL)
			goto done;
		json_object_del(dec, "position");
		json_object_del(dec, "before");
		json_object_del(dec, "after");
	}
	c.op = CHANGE_RULE_ADD;
	if ((c.rule = api_decode(r, dec, PLAN_RULE, "the rule")) == NULL)
		goto done;
	if (api_run(r, &c, &res)) {
		if (r->dry_run)
			api_reply_plan(r, &res);
		else {
			struct snapshot s;
			ssize_t k;

			pos = res.position;
			engine_snapshot(r->api->engine, &s);
			k = (pos >= 1 && pos <= s.rs->nrules) ?
			    (ssize_t)pos - 1 : -1;
			api_reply(r, 201, k >= 0 ?
			    api_rule_json(s.rs->rules[k], pos, NULL) :
			    json_pack("{s:I}", "generation",
			    (json_int_t)res.generation));
			engine_release(r->api->engine, &s);
		}
	}
	engine_result_free(&res);
done:
	json_decref(dec);
	json_decref(j);
}

/*
 * After a put: the object as it now is (201 when it was created), read
 * back from the ruleset of the change's own generation.
 */
static void
api_reply_object(struct api_req *r, const struct change_result *res,
    ssize_t (*find)(const struct ruleset *, const char *), int kind)
{
	struct snapshot	 s;
	ssize_t		 k;
	json_t		*j = NULL;

	if (r->dry_run) {
		api_reply_plan(r, res);
		return;
	}
	engine_snapshot(r->api->engine, &s);
	/* a rule's position is known: no scan of 50,000 names */
	if (kind == PLAN_RULE && res->position >= 1 &&
	    res->position <= s.rs->nrules &&
	    strcmp(s.rs->rules[res->position - 1]->name, r->args[0]) == 0)
		k = (ssize_t)res->position - 1;
	else
		k = find(s.rs, r->args[0]);
	if (k >= 0) {
		switch (kind) {
		case PLAN_RULE:
			j = api_rule_json(s.rs->rules[k], (size_t)k + 1, NULL);
			break;
		case PLAN_ZONE:
			j = codec_encode_zone(s.rs->zones[k]);
			break;
		case PLAN_SET:
			j = codec_encode_set(s.rs->sets[k]);
			break;
		case PLAN_NAT:
			j = codec_encode_nat(s.rs->nats[k]);
			break;
		}
	} else
		j = json_pack("{s:I}", "generation",
		    (json_int_t)res->generation);
	engine_release(r->api->engine, &s);
	api_reply(r, res->status == ENGINE_CREATED ? 201 : 200, j);
}

/* What the PUT of a named object (/v1/{rules,zones,sets}/{name}) varies
 * in; the rest is api_object_put. */
struct api_put {
	enum plan_kind	 kind;
	enum change_op	 op;
	const char	*what;
	ssize_t		(*find)(const struct ruleset *, const char *);
};

static const struct api_put api_put_rule = {
	PLAN_RULE, CHANGE_RULE_PUT, "the rule", ruleset_find_rule
};
static const struct api_put api_put_zone = {
	PLAN_ZONE, CHANGE_ZONE_PUT, "the zone", ruleset_find_zone
};
static const struct api_put api_put_set = {
	PLAN_SET, CHANGE_SET_PUT, "the set", ruleset_find_set
};

/* Puts a decoded object in its slot of the change; returns its name. */
static const char *
api_change_object(struct change *c, enum plan_kind kind, void *obj)
{
	switch (kind) {
	case PLAN_RULE:
		c->rule = obj;
		return c->rule->name;
	case PLAN_ZONE:
		c->zone = obj;
		return c->zone->name;
	case PLAN_SET:
		c->set = obj;
		return c->set->name;
	case PLAN_NAT:
		c->nat = obj;
		return c->nat->name;
	case PLAN_POLICY:
		c->policy = obj;
		return NULL;
	case PLAN_ELEMENT:
		break;
	}
	return NULL;
}

static void
api_object_put(struct api_req *r, const struct api_put *p)
{
	struct change		 c;
	struct change_result	 res;
	json_t			*j;
	void			*obj;
	bool			 bad;

	memset(&c, 0, sizeof(c));
	if (!api_name_ok(r, r->args[0], false))
		return;
	j = api_json_or_text(r, &bad);
	if (bad || !api_name_match(r, j, "name"))
		goto done;
	c.op = p->op;
	if ((obj = api_decode(r, j, p->kind, p->what)) == NULL)
		goto done;
	if (!api_name_same(r, api_change_object(&c, p->kind, obj))) {
		edit_change_free(&c);
		goto done;
	}
	if (api_run(r, &c, &res))
		api_reply_object(r, &res, p->find, p->kind);
	engine_result_free(&res);
done:
	json_decref(j);
}

static void
api_rule_put(struct api_req *r)
{
	api_object_put(r, &api_put_rule);
}

static void
api_zone_put(struct api_req *r)
{
	api_object_put(r, &api_put_zone);
}

static void
api_set_put(struct api_req *r)
{
	api_object_put(r, &api_put_set);
}

static void
api_nats_post(struct api_req *r)
{
	struct change		 c;
	struct change_result	 res;
	json_t			*j;
	bool			 bad;

	memset(&c, 0, sizeof(c));
	j = api_json_or_text(r, &bad);
	if (bad)
		return;
	c.op = CHANGE_NAT_ADD;
	if ((c.nat = api_decode(r, j, PLAN_NAT, "the nat entry")) == NULL)
		goto done;
	r->args[0] = strdup(c.nat->name);
	if (r->args[0] == NULL) {
		edit_change_free(&c);
		api_problem(r, 500, NULL, "out of memory");
		goto done;
	}
	if (api_run(r, &c, &res))
		api_reply_object(r, &res, ruleset_find_nat, PLAN_NAT);
	engine_result_free(&res);
done:
	json_decref(j);
}

static void
api_policies_post(struct api_req *r)
{
	struct change		 c;
	struct change_result	 res;
	struct snapshot		 s;
	json_t			*j, *o = NULL;
	bool			 bad;
	ssize_t			 k;
	char			*from = NULL, *to = NULL;

	memset(&c, 0, sizeof(c));
	j = api_json_or_text(r, &bad);
	if (bad)
		return;
	c.op = CHANGE_POLICY_PUT;
	if ((c.policy = api_decode(r, j, PLAN_POLICY, "the policy")) == NULL)
		goto done;
	if ((from = strdup(c.policy->from)) == NULL ||
	    (to = strdup(c.policy->to)) == NULL) {
		edit_change_free(&c);
		api_problem(r, 500, NULL, "out of memory");
		goto done;
	}
	if (api_run(r, &c, &res)) {
		if (r->dry_run)
			api_reply_plan(r, &res);
		else {
			engine_snapshot(r->api->engine, &s);
			if ((k = ruleset_find_policy(s.rs, from, to)) >= 0)
				o = codec_encode_policy(s.rs->policies[k]);
			else
				o = json_pack("{s:I}", "generation",
				    (json_int_t)res.generation);
			engine_release(r->api->engine, &s);
			api_reply(r, res.status == ENGINE_CREATED ? 201 : 200,
			    o);
		}
	}
	engine_result_free(&res);
done:
	free(from);
	free(to);
	json_decref(j);
}

static bool
api_zone_word_ok(const char *z)
{
	return z != NULL && (strcmp(z, ZONE_ANY) == 0 ||
	    strcmp(z, ZONE_SELF) == 0 || name_valid(z));
}

static void
api_policies_delete(struct api_req *r)
{
	struct change		 c;
	struct change_result	 res;

	memset(&c, 0, sizeof(c));
	c.op = CHANGE_POLICY_DELETE;
	c.from = api_query(r, "from");
	c.to = api_query(r, "to");
	if (!api_zone_word_ok(c.from) || !api_zone_word_ok(c.to)) {
		api_problem(r, 400, !api_zone_word_ok(c.from) ? "from" : "to",
		    "give the policy as ?from=ZONE&to=ZONE");
		return;
	}
	if (api_run(r, &c, &res))
		api_reply_gen(r, &res);
	engine_result_free(&res);
}

static void
api_delete_named(struct api_req *r, enum change_op op, bool digits_ok)
{
	struct change		 c;
	struct change_result	 res;
	size_t			 i;

	if (!api_name_ok(r, r->args[0], digits_ok))
		return;
	memset(&c, 0, sizeof(c));
	c.op = op;
	c.name = r->args[0];
	if (!api_run(r, &c, &res))
		goto done;
	api_reply_gen(r, &res);
	/* a rule deleted by position: say which one went */
	if (op == CHANGE_RULE_DELETE && !r->dry_run && !r->problem &&
	    r->json != NULL)
		for (i = 0; i < res.plan.n; i++)
			if (res.plan.v[i].op == PLAN_REMOVE &&
			    res.plan.v[i].kind == PLAN_RULE) {
				json_object_set_new(r->json, "name",
				    api_jstr(res.plan.v[i].name));
				json_object_set_new(r->json, "position",
				    json_integer((json_int_t)res.position));
				break;
			}
done:
	engine_result_free(&res);
}

static void
api_rule_delete(struct api_req *r)
{
	api_delete_named(r, CHANGE_RULE_DELETE, true);
}

static void
api_zone_delete(struct api_req *r)
{
	api_delete_named(r, CHANGE_ZONE_DELETE, false);
}

static void
api_nat_delete(struct api_req *r)
{
	api_delete_named(r, CHANGE_NAT_DELETE, false);
}

static void
api_set_delete(struct api_req *r)
{
	api_delete_named(r, CHANGE_SET_DELETE, false);
}

/* What separates elements in a text body: commas and white space. */
#define API_ELEM_SEP	", \t\r\n\v\f"

/*
 * A body of a million bad elements must not become a million errors (and
 * a reply to match): past API_ERRORS_MAX, one note where the check
 * stopped, and the rest is not looked at.
 */
static bool
api_too_many(struct diags *d, const char *field)
{
	if (d->n < API_ERRORS_MAX)
		return false;
	diags_add_field(d, field, "too many errors (%d); the rest was not "
	    "checked", API_ERRORS_MAX);
	return true;
}

/*
 * Elements: {"elements": [...]} in JSON, or text with elements separated
 * by commas or white space.  Decoded for the type the set has now; the
 * engine checks again under its lock.
 */
static int
api_elems_decode(struct api_req *r, enum set_type type,
    struct set_elem **out, size_t *nout)
{
	struct diags	 d;
	json_t		*j = NULL, *a, *v;
	const char	*key, *text;
	struct set_elem	*el = NULL;
	size_t		 i, n = 0, cap;
	char		 path[32], *copy = NULL, *tok, *save;

	diags_init(&d);
	if (r->ctype == CT_JSON) {
		if ((j = api_body_json(r)) == NULL)
			return -1;
		json_object_foreach(j, key, v)
			if (strcmp(key, "elements") != 0) {
				api_problem(r, 400, key, "unknown field \"%s\"",
				    key);
				goto fail;
			}
		a = json_object_get(j, "elements");
		if (!json_is_array(a)) {
			api_problem(r, 400, "elements",
			    "elements: expected an array");
			goto fail;
		}
		cap = json_array_size(a);
		if ((el = calloc(cap ? cap : 1, sizeof(*el))) == NULL)
			goto nomem;
		json_array_foreach(a, i, v) {
			snprintf(path, sizeof(path), "elements[%zu]", i);
			if (api_too_many(&d, path))
				break;
			if (codec_decode_set_elem(type, v, path, &el[n],
			    &d) == 0)
				n++;
		}
	} else {
		if ((text = api_body_text(r)) == NULL)
			return -1;
		if ((copy = strdup(text)) == NULL)
			goto nomem;
		/* at most one token more than separators: every token has
		 * a slot, none is skipped */
		cap = 1;
		for (tok = copy; *tok; tok++)
			if (strchr(API_ELEM_SEP, *tok) != NULL)
				cap++;
		if ((el = calloc(cap, sizeof(*el))) == NULL)
			goto nomem;
		for (tok = strtok_r(copy, API_ELEM_SEP, &save); tok != NULL;
		    tok = strtok_r(NULL, API_ELEM_SEP, &save)) {
			if (api_too_many(&d, NULL))
				break;
			if (parse_set_elem(type, tok, &el[n], &d) == 0)
				n++;
		}
	}
	if (d.n > 0) {
		api_problem_diags(r, 400, NULL, &d);
		goto fail;
	}
	if (n == 0) {
		api_problem(r, 400, "elements", "no elements given");
		goto fail;
	}
	*out = el;
	*nout = n;
	free(copy);
	json_decref(j);
	diags_free(&d);
	return 0;
nomem:
	api_problem(r, 500, NULL, "out of memory");
fail:
	free(el);
	free(copy);
	json_decref(j);
	diags_free(&d);
	return -1;
}

static void
api_elems(struct api_req *r, enum change_op op)
{
	struct change		 c;
	struct change_result	 res;
	struct snapshot		 s;
	enum set_type		 type = SET_IPV4;
	struct diags		 d;
	ssize_t			 k, ended;
	uint64_t		 gen;
	bool			 kill = false;

	if (!api_name_ok(r, r->args[0], false))
		return;
	engine_snapshot(r->api->engine, &s);
	gen = s.generation;
	if ((k = ruleset_find_set(s.rs, r->args[0])) >= 0)
		type = s.rs->sets[k]->type;
	engine_release(r->api->engine, &s);
	if (k < 0) {
		r->has_etag = true;
		r->etag = gen;
		api_problem(r, 404, "name", "no set named %s", r->args[0]);
		return;
	}
	if (!api_bool_arg(r, "kill_connections", &kill))
		return;
	if (kill && type == SET_PORT) {
		api_problem(r, 400, "kill_connections", "kill_connections: set "
		    "%s holds ports, not addresses", r->args[0]);
		return;
	}
	memset(&c, 0, sizeof(c));
	if (api_elems_decode(r, type, &c.elems, &c.nelems) == -1)
		return;
	c.op = op;
	c.name = r->args[0];
	if (api_run(r, &c, &res)) {
		if (r->dry_run)
			api_reply_plan(r, &res);
		else
			api_reply(r, 200, json_pack("{s:I, s:I}",
			    "generation", (json_int_t)res.generation,
			    op == CHANGE_ELEMS_ADD ? "added" : "removed",
			    (json_int_t)res.count));
		/* once the block is in place, so that what they send next
		 * meets it (all given, also those already in the set) */
		if (kill && !r->dry_run && r->json != NULL) {
			diags_init(&d);
			ended = engine_end_connections(r->api->engine, c.elems,
			    c.nelems, &d);
			json_object_set_new(r->json, "connections_ended",
			    json_integer(ended < 0 ? 0 : (json_int_t)ended));
			if (ended < 0 && d.n > 0)
				json_object_set_new(r->json,
				    "connections_error", json_string(
				    d.v[0].msg ? d.v[0].msg : "?"));
			diags_free(&d);
		}
	}
	engine_result_free(&res);
	free(c.elems);
}

static void
api_elems_post(struct api_req *r)
{
	api_elems(r, CHANGE_ELEMS_ADD);
}

static void
api_elems_delete(struct api_req *r)
{
	api_elems(r, CHANGE_ELEMS_DELETE);
}

/* ---- the HTTP side ---- */

/* Matches url against pattern, capturing {name} segments. */
static bool
api_match(const char *pattern, const char *url, char **args)
{
	const char	*p = pattern, *u = url, *pe, *ue;
	int		 na = 0;

	while (*p == '/' && *u == '/') {
		p++;
		u++;
		pe = strchrnul(p, '/');
		ue = strchrnul(u, '/');
		if (*p == '{') {
			if (ue == u || na >= API_MAX_ARGS)
				goto nomatch;
			free(args[na]);
			if ((args[na++] = strndup(u, (size_t)(ue - u))) == NULL)
				goto nomatch;
		} else if (pe - p != ue - u || strncmp(p, u, (size_t)(pe - p)))
			goto nomatch;
		p = pe;
		u = ue;
	}
	if (*p == '\0' && *u == '\0')
		return true;
nomatch:
	while (na > 0) {
		free(args[--na]);
		args[na] = NULL;
	}
	return false;
}

static void
api_route_find(struct api_req *r, const char *method, const char *url)
{
	size_t	 i, off = 0;
	char	 allow[128];
	bool	 path_known = false;

	allow[0] = '\0';
	for (i = 0; i < api_nroutes; i++) {
		if (!api_match(api_routes[i].path, url, r->args))
			continue;
		path_known = true;
		if (strcmp(api_routes[i].method, method) == 0) {
			r->route = &api_routes[i];
			return;
		}
		off += (size_t)snprintf(allow + off, sizeof(allow) - off,
		    "%s%s", off ? ", " : "", api_routes[i].method);
		if (off >= sizeof(allow))
			off = sizeof(allow) - 1;
	}
	if (path_known) {
		r->allow = strdup(allow);
		api_early(r, 405, "%.15s is not allowed here; allowed: %s",
		    method, allow);
	} else
		api_early(r, 404, "no such resource");
}

/* Root, or a member of the API group (primary or supplementary). */
static bool
api_peer_allowed(struct api_req *r, int fd)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	gid_t		 small[64], *groups = small, *big = NULL;
	socklen_t	 glen = sizeof(small);
	size_t		 i;
	bool		 ok = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return false;
	r->uid = cred.uid;
	r->gid = cred.gid;
	r->pid = cred.pid;
	snprintf(r->who, sizeof(r->who), "uid %u pid %d", (unsigned)cred.uid,
	    (int)cred.pid);
	if (cred.uid == 0)
		return true;
	if (!r->api->have_gid)
		return false;
	if (cred.gid == r->api->gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == -1) {
		/* more groups than fit: the kernel said how many */
		if (errno != ERANGE || glen == 0 ||
		    (big = malloc(glen)) == NULL)
			return false;
		groups = big;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &glen) == -1) {
			free(big);
			return false;
		}
	}
	for (i = 0; i < glen / sizeof(gid_t) && !ok; i++)
		ok = groups[i] == r->api->gid;
	free(big);
	return ok;
}

/* TCP: "Authorization: Bearer TOKEN", one of the tokens file's; sets
 * who and the scope. */
static bool
api_bearer_allowed(struct api_req *r)
{
	const char	*h, *t, *name;

	snprintf(r->who, sizeof(r->who), "tcp peer");
	h = r->h_auth;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	for (t = h + 7; *t == ' '; t++)
		;
	if ((name = token_check(r->api->tokens, t, &r->scope)) == NULL)
		return false;
	snprintf(r->who, sizeof(r->who), "token %s", name);
	return true;
}

/* What the route needs of a token. */
static enum token_scope
api_route_scope(const struct api_route *rt)
{
	if (!(rt->flags & API_MUTATE) && strcmp(rt->method, "GET") == 0)
		return TOKEN_READ;
	return (rt->flags & API_ELEMS) ? TOKEN_ELEMENTS : TOKEN_WRITE;
}

static enum api_ctype
api_ctype(const char *ct)
{
	const char	*semi, *cs;
	size_t		 len;

	if (ct == NULL)
		return CT_NONE;
	while (*ct == ' ')
		ct++;
	semi = strchrnul(ct, ';');
	len = (size_t)(semi - ct);
	while (len > 0 && ct[len - 1] == ' ')
		len--;
	if (*semi == ';') {
		/* only UTF-8 is accepted as a charset */
		cs = strcasestr(semi, "charset=");
		if (cs != NULL && strncasecmp(cs + 8, "utf-8", 5) != 0 &&
		    strncasecmp(cs + 8, "\"utf-8\"", 7) != 0)
			return CT_OTHER;
	}
	if (len == 16 && strncasecmp(ct, "application/json", len) == 0)
		return CT_JSON;
	if (len == 10 && strncasecmp(ct, "text/plain", len) == 0)
		return CT_TEXT;
	return CT_OTHER;
}

struct api_argcheck {
	const char	*allowed;
	const char	*bad;
};

static void
api_arg_check(struct api_argcheck *ac, const char *key)
{
	const char	*p = ac->allowed, *e;
	size_t		 len = strlen(key);

	while (*p) {
		e = strchrnul(p, ',');
		if ((size_t)(e - p) == len && strncmp(p, key, len) == 0)
			return;
		p = *e ? e + 1 : e;
	}
	ac->bad = key;
}

/* A query argument's value; NULL when absent or given without one. */
static const char *
api_query(struct api_req *r, const char *name)
{
	unsigned	 i;

	for (i = 0; i < r->nq; i++)
		if (strcmp(r->qkey[i], name) == 0)
			return r->qval[i];
	return NULL;
}

/* If-Match: "7", W/"7", 7 or *. */
static bool
api_if_match(struct api_req *r)
{
	const char	*v, *p;
	char		*end;
	uint64_t	 g;

	v = r->h_if_match;
	if (v == NULL)
		return true;
	p = v;
	while (*p == ' ')
		p++;
	if (strcmp(p, "*") == 0)
		return true;
	if (strncmp(p, "W/", 2) == 0)
		p += 2;
	if (*p == '"')
		p++;
	errno = 0;
	g = strtoull(p, &end, 10);
	if (*p < '0' || *p > '9' || errno != 0 ||
	    (*end != '\0' && strcmp(end, "\"") != 0)) {
		/* not an entity tag of ours at all: bad input, not a
		 * stale one (412 is for a generation that moved on) */
		api_problem(r, 400, "If-Match", "If-Match does not name a "
		    "generation (expected \"N\" or *): %.40s", v);
		r->has_etag = true;
		r->etag = engine_generation(r->api->engine);
		return false;
	}
	r->has_expected = true;
	r->expected = g;
	return true;
}

/* ?name, ?name=1|true|yes or ?name=0|false|no; absent leaves *out. */
static bool
api_bool_arg(struct api_req *r, const char *name, bool *out)
{
	const char	*v;

	v = api_query(r, name);
	if (v == NULL)
		return true;
	if (*v == '\0' || strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "no") == 0)
		*out = false;
	else {
		api_problem(r, 400, name, "%s: expected 1 or 0", name);
		return false;
	}
	return true;
}

static bool
api_dry_run(struct api_req *r)
{
	return api_bool_arg(r, "dry_run", &r->dry_run);
}

/* ---- the reply, to the front ---- */

/* The reply's frame: status, route, content type, the headers fwctld
 * decides, the body. */
static size_t
api_send(struct api_req *r, bool drain)
{
	struct chan_buf	 b;
	char		*buf = NULL;
	size_t		 len = 0;
	const char	*ctype = NULL;
	bool		 etag;

	if (r->stream) {
		ctype = "text/event-stream";
	} else if (r->text != NULL) {
		buf = r->text;
		r->text = NULL;
		len = r->text_len ? r->text_len : strlen(buf);
		ctype = r->text_type ? r->text_type :
		    "text/plain; charset=utf-8";
	} else {
		if (r->json == NULL)
			api_problem(r, 500, NULL, "no reply");
		if (r->json != NULL &&
		    (buf = json_dumps(r->json, JSON_COMPACT)) != NULL) {
			len = strlen(buf);
			/* one reply per line for curl users */
			char *nb = realloc(buf, len + 2);
			if (nb != NULL) {
				buf = nb;
				buf[len++] = '\n';
				buf[len] = '\0';
			}
		}
		ctype = r->problem ? "application/problem+json" :
		    "application/json";
		if (buf == NULL)
			r->status = 500;
	}
	/* who may not read the ruleset learns nothing of it, not even its
	 * generation */
	etag = r->status != 401 && r->status != 403;
	if (etag && !r->has_etag) {
		r->has_etag = true;
		r->etag = engine_generation(r->api->engine);
	}
	/* the reply is text now: its tree (a whole plan after a full apply)
	 * goes back before the client hears */
	json_decref(r->json);
	r->json = NULL;
	chan_buf_init(&b);
	chan_put_u32(&b, r->status);
	chan_put_str(&b, r->route ? r->route->path : NULL);
	chan_put_str(&b, ctype);
	chan_put_u32(&b, etag);
	chan_put_u64(&b, r->etag);
	chan_put_str(&b, r->status == 405 ? r->allow : NULL);
	chan_put_u32(&b, r->status == 503 && r->retry_after);
	chan_put_u32(&b, r->status == 401);
	chan_put_u32(&b, drain);
	chan_put_u32(&b, r->stream);
	chan_put_u64(&b, r->stream_last);
	chan_put_bytes(&b, buf ? buf : "", len);
	free(buf);
	if (b.oom && r->status != 500) {
		/* too large for a frame, or no memory: a reply that fits */
		chan_buf_free(&b);
		r->stream = false;
		api_problem(r, 500, NULL, "the reply is too large to send");
		return api_send(r, drain) + len;
	}
	api_front_send(r->api, CHAN_REPLY, r->id, &b);
	chan_buf_free(&b);
	return len;
}

static void
api_send_early(struct api_req *r, bool drain)
{
	api_problem(r, r->early, NULL, "%s",
	    r->early_detail ? r->early_detail : api_title(r->early));
	api_send(r, drain);
}

/*
 * What can be decided from the request line and headers (access, route,
 * query, content type); a refusal is kept in r->early.  The front has
 * kept the sizes; what it sent is read again here as any input.
 */
static void
api_first(struct api_req *r)
{
	struct api_argcheck	 ac;
	unsigned		 i;

	if (r->tcp) {
		if (!api_bearer_allowed(r)) {
			api_early(r, 401, "a valid bearer token is needed "
			    "(Authorization: Bearer TOKEN)");
			return;
		}
	} else if (r->fd == -1 || !api_peer_allowed(r, r->fd)) {
		api_early(r, 403, "%s may not use the fwctl API "
		    "(root or members of the API group only)",
		    r->who[0] ? r->who : "this peer");
		return;
	}
	api_route_find(r, r->method, r->url);
	if (r->early)
		return;
	if (r->tcp && r->scope < api_route_scope(r->route)) {
		api_early(r, 403, "%s (scope %s) may not %s %s", r->who,
		    token_scope_name(r->scope), r->route->method,
		    r->route->path);
		return;
	}
	r->limit = (r->route->flags & API_BIG) ? API_BODY_MAX_BIG :
	    API_BODY_MAX;
	if (r->too_many_args) {
		api_early(r, 400, "more than %d query arguments",
		    FRONT_QUERY_MAX);
		return;
	}
	ac.allowed = r->route->args;
	ac.bad = NULL;
	for (i = 0; i < r->nq && ac.bad == NULL; i++)
		api_arg_check(&ac, r->qkey[i]);
	if (ac.bad != NULL) {
		api_early(r, 400, "unknown query argument \"%.40s\"",
		    ac.bad);
		return;
	}
	if (r->route->flags & API_BODY) {
		r->ctype = api_ctype(r->h_ctype);
		if (r->ctype == CT_OTHER || r->ctype == CT_NONE ||
		    (r->ctype == CT_TEXT && !(r->route->flags & API_TEXT))) {
			api_early(r, 415, "unsupported content type "
			    "\"%.60s\": expected application/json%s",
			    r->h_ctype ? r->h_ctype : "(none)",
			    (r->route->flags & API_TEXT) ?
			    " or text/plain" : "");
			return;
		}
	}
}

/* ---- requests from the front ---- */

static void
api_req_free(struct api_req *r)
{
	int	 i;

	if (r == NULL)
		return;
	for (i = 0; i < API_MAX_ARGS; i++)
		free(r->args[i]);
	free(r->early_detail);
	free(r->allow);
	json_decref(r->json);
	free(r->text);
	if (r->fd != -1)
		close(r->fd);
	chan_msg_free(&r->head);
	chan_msg_free(&r->bodymsg);
	free(r);
}

/* The head's fields, read with every length checked; false: a frame
 * that does not read (the front is not well). */
static bool
api_read_head(struct api_req *r)
{
	struct chan_msg	*m = &r->head;
	uint32_t	 tcp, nq, i;
	const char	*method, *url;

	if (!chan_get_u32(m, &tcp) || !chan_get_str(m, &method, 64) ||
	    !chan_get_str(m, &url, FRONT_URL_MAX) || method == NULL ||
	    url == NULL || !chan_get_u32(m, &nq) ||
	    nq > FRONT_QUERY_MAX + 1)
		return false;
	r->tcp = tcp != 0;
	r->too_many_args = nq > FRONT_QUERY_MAX;
	for (i = 0; i < nq && !r->too_many_args; i++) {
		if (!chan_get_str(m, &r->qkey[i], FRONT_URL_MAX) ||
		    !chan_get_str(m, &r->qval[i], FRONT_URL_MAX) ||
		    r->qkey[i] == NULL)
			return false;
		r->nq++;
	}
	if (!chan_get_str(m, &r->h_auth, FRONT_HEADERS_MAX) ||
	    !chan_get_str(m, &r->h_if_match, FRONT_HEADERS_MAX) ||
	    !chan_get_str(m, &r->h_accept, FRONT_HEADERS_MAX) ||
	    !chan_get_str(m, &r->h_last_event, FRONT_HEADERS_MAX) ||
	    !chan_get_str(m, &r->h_ctype, FRONT_HEADERS_MAX) ||
	    !chan_done(m))
		return false;
	/* only the socket's connections come with one */
	if (r->tcp && r->fd != -1) {
		close(r->fd);
		r->fd = -1;
	}
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->url, sizeof(r->url), "%s", url);
	return true;
}

static struct api_req **
api_pending_find(struct api *api, uint64_t id)
{
	struct api_pending	*p;

	for (p = api->pending; p != NULL; p = p->next)
		if (p->r->id == id)
			return &p->r;
	return NULL;
}

static void
api_pending_drop(struct api *api, uint64_t id)
{
	struct api_pending	**pp, *p;

	for (pp = &api->pending; (p = *pp) != NULL; pp = &p->next)
		if (p->r->id == id) {
			*pp = p->next;
			api_req_free(p->r);
			free(p);
			api->npending--;
			return;
		}
}

/* A head: refused now, refused once its body is in, or kept until its
 * body comes. */
static bool
api_head(struct api *api, struct chan_msg *m)
{
	struct api_pending	*p;
	struct api_req		*r;
	struct chan_buf		 b;

	if (api_pending_find(api, m->id) != NULL ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return false;
	r->api = api;
	r->id = m->id;
	r->head = *m;
	r->fd = m->fd;
	m->p = NULL;
	m->fd = -1;
	r->bodymsg.fd = -1;
	r->limit = API_BODY_MAX;
	if (!api_read_head(r)) {
		api_req_free(r);
		return false;
	}
	if (api->npending >= API_PENDING_MAX)
		api_early(r, 503, "too many requests at once; retry later");
	else
		api_first(r);
	if (r->fd != -1) {
		close(r->fd);
		r->fd = -1;
	}
	if (r->early) {
		r->retry_after = r->early == 503;
		/* refusals of who asks are heard at once; the others once
		 * the body is in, so that a client still sending one reads
		 * its reply */
		api_send_early(r, r->early != 401 && r->early != 403 &&
		    r->early != 503);
		api_req_free(r);
		return true;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		api_req_free(r);
		return false;
	}
	p->r = r;
	p->next = api->pending;
	api->pending = p;
	api->npending++;
	chan_buf_init(&b);
	chan_put_u64(&b, r->limit);
	chan_put_str(&b, r->route->path);
	chan_put_u64(&b, engine_generation(api->engine));
	api_front_send(api, CHAN_GO, r->id, &b);
	chan_buf_free(&b);
	return true;
}

/* The body of a head let through: the request runs. */
static bool
api_body(struct api *api, struct chan_msg *m)
{
	struct api_req	**rp, *r;
	const char	*body;
	size_t		 len, sent;

	if ((rp = api_pending_find(api, m->id)) == NULL)
		return true;	/* its client went */
	r = *rp;
	if (!chan_get_bytes(m, &body, &len, r->limit) || !chan_done(m) ||
	    body == NULL) {
		/* over the limit the front was told: it is not well */
		return false;
	}
	r->bodymsg = *m;
	m->p = NULL;
	m->fd = -1;
	r->body = (char *)(uintptr_t)body;
	r->len = len;
	if ((r->route->flags & API_BODY) && r->len == 0)
		api_problem(r, 400, NULL, "the request needs a body");
	else if (!(r->route->flags & API_MUTATE) || (api_if_match(r) &&
	    api_dry_run(r)))
		r->route->handler(r);
	sent = api_send(r, false);
	api_pending_drop(api, r->id);
	/* with the request's body gone too; after a body or a reply this
	 * big, its parsing, checking or encoding freed a lot even when
	 * nothing changed */
	if (len >= API_TRIM_BODY || sent >= API_TRIM_BODY)
		malloc_trim(0);
	else
		engine_trim(api->engine);
	return true;
}

/* A line the front logs, as the daemon's: printable only. */
static bool
api_front_log(struct chan_msg *m)
{
	uint32_t	 level;
	const char	*msg;
	char		 line[512];
	size_t		 i;

	if (!chan_get_u32(m, &level) || !chan_get_str(m, &msg, 4096) ||
	    !chan_done(m) || msg == NULL)
		return false;
	snprintf(line, sizeof(line), "%s", msg);
	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (level <= LOG_WARNING)
		log_warnx("front: %s", line);
	else if (level == LOG_DEBUG)
		log_debug("front: %s", line);
	else
		log_info("front: %s", line);
	return true;
}

/* ---- the front's life ---- */

/* A frame to the front, if it is up; a front that does not read within
 * API_SEND_SECS is stuck, and is stopped (and started again). */
static void
api_front_send(struct api *api, uint32_t type, uint64_t id,
    const struct chan_buf *b)
{
	pthread_mutex_lock(&api->send_mtx);
	if (api->chan != -1 && chan_send(api->chan, type, id, b, -1) == -1) {
		log_warn("the HTTP front (pid %d) does not take a message",
		    (int)api->front_pid);
		/* the back thread finds the end and starts another */
		(void)shutdown(api->chan, SHUT_RDWR);
	}
	pthread_mutex_unlock(&api->send_mtx);
}

struct api_fwd {
	struct api	*api;
	uint64_t	 id;		/* that one, or 0: all */
};

static void
api_forward_one(void *arg, uint64_t id, const char *text, size_t len)
{
	struct api_fwd	*f = arg;
	struct chan_buf	 b;

	if (f->id != 0 && id != f->id)
		return;
	chan_buf_init(&b);
	chan_put_bytes(&b, text, len);
	api_front_send(f->api, CHAN_EVENT, id, &b);
	chan_buf_free(&b);
}

/* What the front needs to serve: sent first, once. */
static int
api_front_config(struct api *api, int chan)
{
	struct chan_buf	 b;
	size_t		 i;
	int		 rv;

	chan_buf_init(&b);
	chan_put_u32(&b, api->tcp_fd != -1);
	chan_put_u32(&b, (uint32_t)api->front_uid);
	chan_put_u32(&b, (uint32_t)api->front_gid);
	chan_put_str(&b, api->front_root);
	chan_put_u32(&b, api->threads);
	chan_put_u32(&b, api->timeout);
	chan_put_u32(&b, api->conn_limit);
	chan_put_u32(&b, (uint32_t)api->log_level);
	chan_put_str(&b, api->cert);
	chan_put_str(&b, api->key);
	chan_put_str(&b, api->ui_dir);
	chan_put_u32(&b, (uint32_t)api->ncors);
	for (i = 0; i < api->ncors; i++)
		chan_put_str(&b, api->cors[i]);
	rv = chan_send(chan, CHAN_CONFIG, 0, &b, -1);
	if (b.p != NULL)
		explicit_bzero(b.p, b.len);
	chan_buf_free(&b);
	return rv;
}

static int
api_front_start(struct api *api)
{
	struct api_fwd	 f = { api, 0 };
	struct timeval	 tv = { API_SEND_SECS, 0 };
	pid_t		 pid;
	int		 chan;

	if ((pid = privsep_spawn(&api->starter, &chan)) == -1)
		return -1;
	(void)setsockopt(chan, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (api_front_config(api, chan) == -1) {
		/* it goes when it finds its channel closed */
		close(chan);
		return -1;
	}
	/* the events kept, before any new one: in order */
	pthread_mutex_lock(&api->ev_mtx);
	pthread_mutex_lock(&api->send_mtx);
	if (__atomic_load_n(&api->stopping, __ATOMIC_ACQUIRE)) {
		/* api_stop has looked for a channel to shut already */
		pthread_mutex_unlock(&api->send_mtx);
		pthread_mutex_unlock(&api->ev_mtx);
		close(chan);
		errno = ECANCELED;
		return -1;
	}
	api->chan = chan;
	api->front_pid = pid;
	pthread_mutex_unlock(&api->send_mtx);
	events_each(api->events, api_forward_one, &f);
	pthread_mutex_unlock(&api->ev_mtx);
	return 0;
}

/* The front ended (or broke the format): it goes, with every request it
 * held.  Closing its channel is what ends it: it leaves when it reads
 * the end (the starter, its parent, tells the log how it ended). */
static void
api_front_end(struct api *api)
{
	struct api_pending	*p;
	pid_t			 pid = api->front_pid;

	pthread_mutex_lock(&api->send_mtx);
	if (api->chan != -1)
		close(api->chan);
	api->chan = -1;
	pthread_mutex_unlock(&api->send_mtx);
	while ((p = api->pending) != NULL) {
		api->pending = p->next;
		api_req_free(p->r);
		free(p);
	}
	api->npending = 0;
	if (!__atomic_load_n(&api->stopping, __ATOMIC_ACQUIRE))
		log_warnx("the HTTP front (pid %d) is gone: starting another; "
		    "the ruleset is untouched", (int)pid);
}

static bool
api_front_frame(struct api *api, struct chan_msg *m)
{
	switch (m->type) {
	case CHAN_HEAD:
		return api_head(api, m);
	case CHAN_BODY:
		return api_body(api, m);
	case CHAN_GONE:
		api_pending_drop(api, m->id);
		return true;
	case CHAN_TICK:
		api_tick(api);
		return true;
	case CHAN_LOG:
		return api_front_log(m);
	}
	return false;
}

/*
 * The back thread: runs what the front hands over, one request at a time
 * (the engine takes changes one at a time anyway), and starts the front
 * again when it ends.  A front that sends what does not read is ended.
 */
static void *
api_back(void *arg)
{
	struct api	*api = arg;
	struct chan_msg	 m;
	struct timespec	 pause = { 1, 0 };
	time_t		 started;
	int		 rv;

	for (;;) {
		started = time(NULL);
		while ((rv = chan_recv(api->chan, &m, CHAN_PAYLOAD_MAX)) == 1) {
			if (!api_front_frame(api, &m)) {
				log_warnx("the HTTP front sent a message that "
				    "does not read (type %u): ending it",
				    (unsigned)m.type);
				chan_msg_free(&m);
				break;
			}
			chan_msg_free(&m);
		}
		api_front_end(api);
		if (__atomic_load_n(&api->stopping, __ATOMIC_ACQUIRE))
			break;
		metrics_front_restart(api->metrics);
		/* one that dies at once is not started in a tight loop */
		if (time(NULL) - started < 2)
			nanosleep(&pause, NULL);
		while (api_front_start(api) == -1) {
			if (__atomic_load_n(&api->stopping, __ATOMIC_ACQUIRE))
				return NULL;
			log_warn("cannot start the HTTP front");
			nanosleep(&pause, NULL);
		}
	}
	return NULL;
}

/* A socket file nobody answers on is stale; a live one is another daemon. */
static int
api_socket_stale(const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd, rv;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rv == 0) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(path);
}

static int
api_mkdirs(const char *path)
{
	char	 buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

static int
api_listen(struct api *api, const char *path, const char *group,
    struct diags *d)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	mode_t			 mask;
	int			 fd, rv;
	const char		*what;
	char			 dir[PATH_MAX];

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		diags_add(d, NULL, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	what = "create the socket directory";
	if (api_mkdirs(path) == -1)
		goto fail;
	/* another user's directory could swap the socket for theirs */
	if (snprintf(dir, sizeof(dir), "%s", path) < (int)sizeof(dir) &&
	    trust_dir(dirname(dir), "socket directory", d) == -1)
		return -1;
	what = "remove the stale socket";
	if (api_socket_stale(path) == -1)
		goto fail;
	if ((gr = getgrnam(group)) != NULL) {
		api->have_gid = true;
		api->gid = gr->gr_gid;
	} else
		log_info("group %s does not exist: only root may use the API",
		    group);
	what = "create the socket";
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		goto fail;
	what = "bind the socket";
	/* created 0660 already: no window in which others may connect */
	mask = umask(0117);
	rv = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(mask);
	if (rv == -1)
		goto failfd;
	what = "set the socket's mode";
	if (chmod(path, 0660) == -1 ||
	    (api->have_gid && chown(path, 0, api->gid) == -1))
		goto failunlink;
	what = "listen";
	if (listen(fd, 128) == -1)
		goto failunlink;
	api->fd = fd;
	return 0;
failunlink:
	(void)unlink(path);
failfd:
	close(fd);
fail:
	diags_add(d, NULL, "%s: cannot %s: %s", path, what, strerror(errno));
	return -1;
}

/* A whole small file (certificate, key, tokens), NUL-terminated. */
static char *
api_read_file(const char *path, bool secret, struct diags *d)
{
	struct stat	 st;
	char		*buf = NULL;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		diags_add(d, NULL, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > API_FILE_MAX) {
		diags_add(d, NULL, "%s: not a regular file of sane size", path);
		goto fail;
	}
	if (secret && (st.st_mode & 0007)) {
		diags_add(d, NULL, "%s: readable by others; chmod o-rwx", path);
		goto fail;
	}
	/* a secret someone else could rewrite is not ours to trust */
	if (secret && st.st_uid != 0 && st.st_uid != geteuid()) {
		diags_add(d, NULL, "%s: owned by uid %u; expected root",
		    path, (unsigned)st.st_uid);
		goto fail;
	}
	if (secret && (st.st_mode & 0020)) {
		diags_add(d, NULL, "%s: writable by its group; chmod g-w",
		    path);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (off < (size_t)st.st_size) {
		if ((n = read(fd, buf + off, (size_t)st.st_size - off)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			diags_add(d, NULL, "%s: short read", path);
			goto fail;
		}
		off += (size_t)n;
	}
	buf[off] = '\0';
	close(fd);
	return buf;
fail:
	if (buf != NULL)
		explicit_bzero(buf, (size_t)st.st_size);
	free(buf);
	if (fd != -1)
		close(fd);
	return NULL;
}

/* The tokens file: a secret, so only root may have written it. */
static int
api_load_tokens(struct api *api, const char *path, struct diags *d)
{
	char	*text;
	size_t	 clear;

	if ((text = api_read_file(path, true, d)) == NULL)
		return -1;
	api->tokens = token_parse(text, path, &clear, d);
	explicit_bzero(text, strlen(text));
	free(text);
	if (api->tokens == NULL)
		return -1;
	if (clear > 0)
		log_warnx("%s: %zu token%s kept in clear; store crypt(3) hashes "
		    "instead (fwctld(8))", path, clear, clear == 1 ? "" : "s");
	return 0;
}

static int
api_parse_listen(const char *s, struct sockaddr_storage *ss, struct diags *d)
{
	struct addrinfo	 hints, *res = NULL;
	char		 host[64];
	const char	*port, *h = s;
	size_t		 hl;

	if (*s == '[') {
		h = s + 1;
		port = strstr(h, "]:");
		hl = port ? (size_t)(port - h) : 0;
		port = port ? port + 2 : NULL;
	} else {
		port = strrchr(s, ':');
		hl = port ? (size_t)(port - s) : 0;
		port = port ? port + 1 : NULL;
	}
	if (port == NULL || hl == 0 || hl >= sizeof(host) || *port == '\0') {
		diags_add(d, NULL, "--listen %s: expected ADDR:PORT or "
		    "[ADDR6]:PORT", s);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
		diags_add(d, NULL, "--listen %s: not a numeric address and "
		    "port", s);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/* TCP with TLS and bearer tokens: opt-in (SPEC §4). */
static int
api_config_tcp(struct api *api, const struct api_config *cfg,
    struct diags *d)
{

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL ||
	    cfg->tokens == NULL) {
		diags_add(d, NULL, "--listen needs --tls-cert, --tls-key and "
		    "--tokens");
		return -1;
	}
	if (api_parse_listen(cfg->listen, &api->tcp_addr, d) == -1 ||
	    (api->cert = api_read_file(cfg->tls_cert, false, d)) == NULL ||
	    (api->key = api_read_file(cfg->tls_key, true, d)) == NULL ||
	    api_load_tokens(api, cfg->tokens, d) == -1)
		return -1;
	if ((api->listen = strdup(cfg->listen)) == NULL)
		return -1;
	return 0;
}

/* The TCP listener: bound here, before the kernel is touched, so that
 * an address in use stops the start; the front serves it. */
static int
api_tcp_socket(struct api *api, struct diags *d)
{
	struct sockaddr_storage	*ss = &api->tcp_addr;
	socklen_t		 len;
	int			 fd, one = 1;

	len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	/* bound now, to fail before the kernel is touched; listening only
	 * once the ruleset is in place (api_serve) */
	if (bind(fd, (struct sockaddr *)ss, len) == -1)
		goto fail;
	api->tcp_fd = fd;
	return 0;
fail:
	diags_add(d, NULL, "--listen %s: %s", api->listen, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static void
api_free(struct api *api)
{
	size_t	 i;

	token_free(api->tokens);
	if (api->key != NULL)
		explicit_bzero(api->key, strlen(api->key));
	free(api->key);
	free(api->cert);
	free(api->listen);
	free(api->socket_path);
	free(api->ui_dir);
	free(api->front_root);
	metrics_free(api->metrics);
	events_free(api->events);
	if (api->trace_fd != -1)
		close(api->trace_fd);
	if (api->tcp_fd != -1)
		close(api->tcp_fd);
	for (i = 0; i < api->ncors; i++)
		free(api->cors[i]);
	pthread_mutex_destroy(&api->send_mtx);
	pthread_mutex_destroy(&api->ev_mtx);
	free(api);
}

/* "scheme://host[:port]", as a browser sends it in Origin: no path, no
 * wildcard. */
static bool
api_origin_valid(const char *o)
{
	const char	*h;

	if (strncmp(o, "https://", 8) == 0)
		h = o + 8;
	else if (strncmp(o, "http://", 7) == 0)
		h = o + 7;
	else
		return false;
	return *h != '\0' && strlen(o) < 256 &&
	    strspn(h, "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") ==
	    strlen(h);
}

static int
api_config_cors(struct api *api, const struct api_config *cfg,
    struct diags *d)
{
	size_t	 i;

	for (i = 0; i < cfg->ncors && i < API_CORS_MAX; i++) {
		if (!api_origin_valid(cfg->cors[i])) {
			diags_add(d, NULL, "--cors-origin %s: expected "
			    "https://HOST[:PORT] (lower case, no path, no "
			    "wildcard)", cfg->cors[i]);
			return -1;
		}
		if ((api->cors[i] = strdup(cfg->cors[i])) == NULL)
			return -1;
		api->ncors++;
	}
	return 0;
}

/* The dashboard: the files of --ui-dir, or those installed if there.
 * Read here to stop a start with a broken one; the front reads them
 * again for itself. */
static int
api_config_ui(struct api *api, const struct api_config *cfg,
    struct diags *d)
{
	struct diags	 quiet;
	struct ui	*ui;
	const char	*dir = cfg->ui_dir ? cfg->ui_dir : FWCTL_UI_DIR;

	if (cfg->ui_dir != NULL && *cfg->ui_dir == '\0')
		return 0;
	if (cfg->ui_dir != NULL) {
		if ((ui = ui_load(dir, d)) == NULL)
			return -1;
	} else {
		diags_init(&quiet);
		if ((ui = ui_load(dir, &quiet)) == NULL)
			log_info("no dashboard: %s", quiet.n && quiet.v[0].msg ?
			    quiet.v[0].msg : FWCTL_UI_DIR);
		diags_free(&quiet);
	}
	if (ui == NULL)
		return 0;
	ui_free(ui);
	return (api->ui_dir = strdup(dir)) == NULL ? -1 : 0;
}

struct api *
api_new(const struct api_config *cfg, struct diags *d)
{
	struct api	*api;
	const char	*env;
	char		 dir[PATH_MAX];

	if ((api = calloc(1, sizeof(*api))) == NULL)
		return NULL;
	api->fd = -1;
	api->tcp_fd = -1;
	api->chan = -1;
	api->starter.pid = -1;
	api->starter.ctl = -1;
	api->trace_fd = -1;
	pthread_mutex_init(&api->send_mtx, NULL);
	pthread_mutex_init(&api->ev_mtx, NULL);
	if ((env = getenv("FWCTLD_API_TRACE")) != NULL && *env != '\0' &&
	    (api->trace_fd = open(env, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0600)) == -1)
		log_warnx("FWCTLD_API_TRACE %s: %s", env, strerror(errno));
	api->threads = cfg->threads ? cfg->threads : API_THREADS;
	api->timeout = cfg->timeout ? cfg->timeout : API_TIMEOUT;
	api->conn_limit = cfg->conn_limit ? cfg->conn_limit : API_CONN_LIMIT;
	api->log_level = cfg->log_level;
	api->drift = -1;
	snprintf(dir, sizeof(dir), "%s", cfg->socket_path);
	if ((api->socket_path = strdup(cfg->socket_path)) == NULL ||
	    (api->front_root = strdup(dirname(dir))) == NULL ||
	    (api->metrics = metrics_new()) == NULL ||
	    (api->events = events_new(2000, NULL, NULL)) == NULL)
		goto fail;
	if (privsep_user(cfg->front_user, &api->front_uid, &api->front_gid,
	    d) == -1)
		goto fail;
	if (cfg->listen != NULL && api_config_tcp(api, cfg, d) == -1)
		goto fail;
	if (api_config_cors(api, cfg, d) == -1 ||
	    (cfg->listen != NULL && api_config_ui(api, cfg, d) == -1))
		goto fail;
	if (api_listen(api, cfg->socket_path, cfg->group ? cfg->group :
	    "fwctl", d) == -1)
		goto fail;
	if (cfg->listen != NULL && api_tcp_socket(api, d) == -1)
		goto fail;
	return api;
fail:
	if (api->fd != -1) {
		close(api->fd);
		(void)unlink(api->socket_path);
	}
	api_free(api);
	return NULL;
}

/* An event for GET /v1/events: kept here (a front started again gets
 * the last of them) and sent to the front, in order. */
static void
api_publish(struct api *api, const char *type, json_t *j)
{
	struct api_fwd	 f = { api, 0 };
	char		*t;

	if (j == NULL)
		return;
	if ((t = json_dumps(j, JSON_COMPACT)) != NULL) {
		pthread_mutex_lock(&api->ev_mtx);
		if ((f.id = events_publish(api->events, type, t)) != 0)
			events_each(api->events, api_forward_one, &f);
		pthread_mutex_unlock(&api->ev_mtx);
	}
	free(t);
	json_decref(j);
}

static void
api_observe(void *arg, const struct engine_event *ev)
{
	struct api	*api = arg;

	metrics_observe(api->metrics, ev);
	if (ev->dry_run || !ev->applied)
		return;
	if (ev->op == CHANGE_CONFIRM) {
		api_publish(api, "confirmed", json_pack("{s:I, s:s}",
		    "generation", (json_int_t)ev->generation, "who", ev->who));
		return;
	}
	if (ev->reverted != 0) {
		api_publish(api, "reverted", json_pack("{s:I, s:I, s:s, s:s}",
		    "generation", (json_int_t)ev->generation, "reverted",
		    (json_int_t)ev->reverted, "who", ev->who, "summary",
		    ev->summary));
		return;
	}
	api_publish(api, "change", json_pack("{s:I, s:s, s:s, s:s}",
	    "generation", (json_int_t)ev->generation, "who", ev->who, "op",
	    ev->what, "summary", ev->summary));
	if (ev->pending)
		api_publish(api, "pending", json_pack("{s:I, s:I, s:s}",
		    "generation", (json_int_t)ev->generation, "seconds",
		    (json_int_t)ev->confirm_secs, "who", ev->who));
}

/* The events' ticker, while someone listens: drift is found by looking. */
static void
api_tick(void *arg)
{
	struct api			*api = arg;
	struct engine_status_info	 info;

	if (api->engine == NULL)
		return;
	engine_info(api->engine, &info);
	if ((int)info.drift == api->drift)
		return;
	api->drift = info.drift;
	api_publish(api, "drift", json_pack("{s:b, s:I}", "drift", info.drift,
	    "generation", (json_int_t)info.generation));
}

int
api_serve(struct api *api, struct engine *engine, struct diags *d)
{
	struct engine_status_info info;

	api->engine = engine;
	engine_set_observer(engine, api_observe, api);
	engine_info(engine, &info);
	api->drift = info.drift;
	api_publish(api, "start", json_pack("{s:s, s:I, s:b}", "version",
	    FWCTL_VERSION, "generation", (json_int_t)info.generation,
	    "drift", info.drift));
	if (api->tcp_fd != -1 && listen(api->tcp_fd, 128) == -1) {
		diags_add(d, NULL, "--listen %s: %s", api->listen,
		    strerror(errno));
		return -1;
	}
	if (api_front_start(api) == -1) {
		diags_add(d, NULL, "cannot start the HTTP front: %s",
		    strerror(errno));
		return -1;
	}
	if (pthread_create(&api->back, NULL, api_back, api) != 0) {
		diags_add(d, NULL, "cannot start the API's thread");
		return -1;
	}
	api->have_back = true;
	log_info("listening on %s (HTTP front pid %d, uid %u)",
	    api->socket_path, (int)api->front_pid, (unsigned)api->front_uid);
	if (api->listen != NULL)
		log_info("listening on %s (TLS, %zu token%s)", api->listen,
		    token_count(api->tokens), token_count(api->tokens) == 1 ?
		    "" : "s");
	return 0;
}

int
api_prepare(struct api *api, struct diags *d)
{
	return privsep_starter(&api->starter, api->fd, api->tcp_fd,
	    api->trace_fd, d);
}

int
api_starter_fd(struct api *api)
{
	return api->starter.ctl;
}

pid_t
api_front_pid(struct api *api)
{
	pid_t	 pid;

	pthread_mutex_lock(&api->send_mtx);
	pid = api->chan != -1 ? api->front_pid : -1;
	pthread_mutex_unlock(&api->send_mtx);
	return pid;
}

void
api_stop(struct api *api)
{
	if (api == NULL)
		return;
	__atomic_store_n(&api->stopping, true, __ATOMIC_RELEASE);
	/* the front reads the end and goes; the back thread then ends it */
	pthread_mutex_lock(&api->send_mtx);
	if (api->chan != -1)
		(void)shutdown(api->chan, SHUT_RDWR);
	pthread_mutex_unlock(&api->send_mtx);
	if (api->have_back)
		pthread_join(api->back, NULL);
	else if (api->chan != -1)
		api_front_end(api);
	privsep_starter_stop(&api->starter);
	if (api->engine != NULL)
		engine_set_observer(api->engine, NULL, NULL);
	if (api->fd != -1) {
		close(api->fd);
		(void)unlink(api->socket_path);
	}
	api_free(api);
}
