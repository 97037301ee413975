/*
 * The REST API's routes and handlers, in fwctld.  The HTTP front (front.c)
 * hands each request over (api_serve.c); here it is matched against
 * api_routes[], checked again as any input (peer credentials or token and
 * scope, query, content type, UTF-8, JSON depth, names) and turned into a
 * struct change for the engine, or answered from a snapshot.  Bad input
 * gets a 4xx problem+json reply naming what is wrong and where; it never
 * reaches the kernel.
 */
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>


#include "api_int.h"
#include "history.h"
#include "codec.h"
#include "explain.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "print.h"
#include "token.h"



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
static const char *api_query(struct api_req *, const char *);

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

void
api_early(struct api_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A refusal decided before the handler runs. */
void
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

void
api_problem(struct api_req *r, unsigned status, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

void
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
bool
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

bool
api_dry_run(struct api_req *r)
{
	return api_bool_arg(r, "dry_run", &r->dry_run);
}

/* ---- the reply, to the front ---- */

/* The reply's frame: status, route, content type, the headers fwctld
 * decides, the body. */
size_t
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

void
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
void
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
