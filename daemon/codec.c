/*
 * The model as JSON (docs/api.md "JSON form of the model"): the form of
 * the REST API and of the state file.
 *
 * Decoders check syntax and types only (names, addresses, ranges, which
 * fields go with which kind); references between objects are
 * validate_ruleset()'s job. They never stop at the first problem: every
 * error lands in diags, named by its JSON path.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "explain.h"

#define CODEC_PATH_MAX	256
#define CODEC_ADDR_MAX	64	/* "ffff:...:ffff/128" with room */
#define CODEC_DUR_MAX	64
/* Errors one decoder reports before it stops reading its lists: a body of
 * garbage must not make the reply (and the daemon) grow with its size. */
#define CODEC_ERRORS_MAX 50

/* ---- encoding ---- */

/* jansson refuses strings that are not UTF-8; the model's strings come
 * from text files too, so replace what jansson would refuse rather than
 * fail the whole encoding. */
static json_t *
enc_str(const char *s)
{
	json_t	*j;
	char	*copy, *p;

	if (s == NULL)
		return NULL;
	if ((j = json_string(s)) != NULL)
		return j;
	if ((copy = strdup(s)) == NULL)
		return NULL;
	for (p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *
enc_setref(const char *name)
{
	char	*s;
	json_t	*j;

	if (asprintf(&s, "@%s", name) == -1)
		return NULL;
	j = enc_str(s);
	free(s);
	return j;
}

static json_t *
enc_addr(const struct addr *a)
{
	char	buf[CODEC_ADDR_MAX];

	if (addr_format(a, buf, sizeof(buf)) == NULL)
		return NULL;
	return json_string(buf);
}

static json_t *
enc_port(const struct portrange *pr)
{
	char	buf[32];

	if (pr->lo == pr->hi)
		return json_integer(pr->lo);
	snprintf(buf, sizeof(buf), "%u-%u", (unsigned)pr->lo,
	    (unsigned)pr->hi);
	return json_string(buf);
}

static json_t *
enc_duration(uint64_t ms)
{
	char	buf[CODEC_DUR_MAX];

	if (duration_format(ms, buf, sizeof(buf)) == NULL)
		return NULL;
	return json_string(buf);
}

typedef json_t *(*enc_item_fn)(const void *);

static json_t *
enc_port_item(const void *v)
{
	return enc_port(v);
}

static json_t *
enc_addr_item(const void *v)
{
	return enc_addr(v);
}

/* A match: "@set", or the list of its n items of size bytes. */
static json_t *
enc_match(const char *set, const void *items, size_t n, size_t size,
    enc_item_fn enc)
{
	json_t	*a;
	size_t	 i;

	if (set != NULL)
		return enc_setref(set);
	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (json_array_append_new(a,
		    enc((const char *)items + i * size)) == -1) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* A port written as a service name keeps both: {"service", "port"}, so
 * that a state file reads back without /etc/services. */
static json_t *
enc_named_port(const char *name, const struct portrange *pr)
{
	return json_pack("{s:s, s:i}", "service", name, "port", (int)pr->lo);
}

static json_t *
enc_portmatch(const struct portmatch *pm)
{
	char	 name[FWCTL_SERVICE_MAX + 1];
	json_t	*a;
	size_t	 i;

	if (pm->names == NULL)
		return enc_match(pm->set, pm->ranges, pm->nranges,
		    sizeof(*pm->ranges), enc_port_item);
	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < pm->nranges; i++)
		if (json_array_append_new(a,
		    portmatch_name(pm, i, name, sizeof(name)) != NULL ?
		    enc_named_port(name, &pm->ranges[i]) :
		    enc_port(&pm->ranges[i])) == -1) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
enc_addrmatch(const struct addrmatch *am)
{
	return enc_match(am->set, am->addrs, am->naddrs, sizeof(*am->addrs),
	    enc_addr_item);
}

static bool
portmatch_given(const struct portmatch *pm)
{
	return pm->set != NULL || pm->nranges > 0;
}

static bool
addrmatch_given(const struct addrmatch *am)
{
	return am->set != NULL || am->naddrs > 0;
}

/* Adds key: v unless s is NULL (an optional string not given). */
static int
put_str(json_t *o, const char *key, const char *s)
{
	if (s == NULL)
		return 0;
	return json_object_set_new(o, key, enc_str(s));
}

json_t *
codec_encode_zone(const struct zone *z)
{
	json_t	*o, *a;
	size_t	 i;

	if ((o = json_object()) == NULL)
		return NULL;
	if (put_str(o, "name", z->name) == -1)
		goto fail;
	if (z->nifaces > 0) {
		if ((a = json_array()) == NULL ||
		    json_object_set_new(o, "interfaces", a) == -1)
			goto fail;
		for (i = 0; i < z->nifaces; i++)
			if (json_array_append_new(a,
			    enc_str(z->ifaces[i])) == -1)
				goto fail;
	}
	if (z->nnetworks > 0) {
		if ((a = json_array()) == NULL ||
		    json_object_set_new(o, "networks", a) == -1)
			goto fail;
		for (i = 0; i < z->nnetworks; i++)
			if (json_array_append_new(a,
			    enc_addr(&z->networks[i])) == -1)
				goto fail;
	}
	if ((z->flags & ZONE_EXTERNAL) &&
	    json_object_set_new(o, "external", json_true()) == -1)
		goto fail;
	if ((z->flags & ZONE_DMZ) &&
	    json_object_set_new(o, "dmz", json_true()) == -1)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *
codec_encode_policy(const struct policy *p)
{
	json_t	*o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (put_str(o, "from", p->from) == -1 ||
	    put_str(o, "to", p->to) == -1 ||
	    (p->verdict != VERDICT_NONE &&
	    put_str(o, "verdict", verdict_name(p->verdict)) == -1) ||
	    (p->log && json_object_set_new(o, "log", json_true()) == -1) ||
	    put_str(o, "log_prefix", p->log_prefix) == -1)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* The ct states in the order the SPEC lists them. */
static const unsigned ctstate_order[] = {
	CTSTATE_NEW, CTSTATE_ESTABLISHED, CTSTATE_RELATED, CTSTATE_INVALID,
};

json_t *
codec_encode_rule(const struct rule *r)
{
	json_t		*o, *a, *l;
	const char	*s;
	size_t		 i;

	if ((o = json_object()) == NULL)
		return NULL;
	if (put_str(o, "name", r->name) == -1 ||
	    put_str(o, "from", r->from) == -1 ||
	    put_str(o, "to", r->to) == -1)
		goto fail;
	if (r->family != 0 && put_str(o, "family", r->family == AF_INET ?
	    "ip4" : "ip6") == -1)
		goto fail;
	if (r->proto != PROTO_NONE && (s = proto_name(r->proto)) != NULL &&
	    put_str(o, "proto", s) == -1)
		goto fail;
	if (portmatch_given(&r->sport) &&
	    json_object_set_new(o, "sport", enc_portmatch(&r->sport)) == -1)
		goto fail;
	if (portmatch_given(&r->dport) &&
	    json_object_set_new(o, "dport", enc_portmatch(&r->dport)) == -1)
		goto fail;
	if (r->nicmp_types > 0) {
		if ((a = json_array()) == NULL ||
		    json_object_set_new(o, "icmp_types", a) == -1)
			goto fail;
		for (i = 0; i < r->nicmp_types; i++) {
			s = icmp_type_name(r->proto, r->icmp_types[i]);
			if (json_array_append_new(a, s != NULL ?
			    json_string(s) :
			    json_integer(r->icmp_types[i])) == -1)
				goto fail;
		}
	}
	if (addrmatch_given(&r->src) &&
	    json_object_set_new(o, "src", enc_addrmatch(&r->src)) == -1)
		goto fail;
	if (addrmatch_given(&r->dst) &&
	    json_object_set_new(o, "dst", enc_addrmatch(&r->dst)) == -1)
		goto fail;
	if (r->state != 0) {
		if ((a = json_array()) == NULL ||
		    json_object_set_new(o, "state", a) == -1)
			goto fail;
		for (i = 0; i < sizeof(ctstate_order) / sizeof(*ctstate_order);
		    i++)
			if ((r->state & ctstate_order[i]) &&
			    json_array_append_new(a,
			    json_string(ctstate_name(ctstate_order[i]))) == -1)
				goto fail;
	}
	if (r->log && json_object_set_new(o, "log", json_true()) == -1)
		goto fail;
	if (put_str(o, "log_prefix", r->log_prefix) == -1)
		goto fail;
	if (r->verdict != VERDICT_NONE &&
	    put_str(o, "verdict", verdict_name(r->verdict)) == -1)
		goto fail;
	if (r->limit.rate > 0) {
		if ((l = json_object()) == NULL ||
		    json_object_set_new(o, "limit", l) == -1)
			goto fail;
		if (json_object_set_new(l, "rate",
		    json_integer((json_int_t)r->limit.rate)) == -1 ||
		    put_str(l, "per", limit_unit_name(r->limit.unit)) == -1)
			goto fail;
		if (r->limit.burst > 0 && json_object_set_new(l, "burst",
		    json_integer(r->limit.burst)) == -1)
			goto fail;
		if (r->limit.per_source && json_object_set_new(l,
		    "per_source", json_true()) == -1)
			goto fail;
	}
	if (put_str(o, "comment", r->comment) == -1)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* "10.0.2.10:80" or "[fd00::1]:80" */
static json_t *
enc_endpoint(const struct addr *a, uint16_t port)
{
	char	buf[80];

	if (addr_format(a, buf, sizeof(buf)) == NULL)
		return NULL;
	return a->family == AF_INET6 ? json_sprintf("[%s]:%u", buf, port) :
	    json_sprintf("%s:%u", buf, port);
}

json_t *
codec_encode_explain(const struct explain *e)
{
	json_t	*o, *path;
	size_t	 i;

	if ((o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
	    "from", e->from, "to", e->to, "hook", e->hook,
	    "chain", e->chain ? e->chain : "",
	    "verdict", verdict_name(e->verdict) ? verdict_name(e->verdict) :
	    "", "decided", e->decided, "comment", e->comment ? e->comment :
	    "", "policy_log", e->policy_log)) == NULL)
		return NULL;
	if (e->rule != NULL)
		json_object_set_new(o, "rule", json_string(e->rule->name));
	if (e->dnat != NULL)
		json_object_set_new(o, "dnat", json_pack("{s:s, s:o, s:b}",
		    "nat", e->dnat->name, "to", enc_endpoint(&e->dst, e->dport),
		    "hairpin", e->dnat_hairpin));
	if (e->snat != NULL)
		json_object_set_new(o, "snat", json_pack("{s:s, s:s, s:b}",
		    "nat", e->snat->name, "kind", e->snat_hairpin ?
		    "masquerade" : nat_kind_name(e->snat->kind), "hairpin",
		    e->snat_hairpin));
	if ((path = json_array()) != NULL) {
		for (i = 0; i < e->npath; i++)
			json_array_append_new(path, json_string(e->path[i]));
		json_object_set_new(o, "path", path);
	}
	return o;
}

json_t *
codec_encode_nat(const struct nat *n)
{
	json_t		*o;
	const char	*s;

	if ((o = json_object()) == NULL)
		return NULL;
	if (put_str(o, "name", n->name) == -1 ||
	    ((s = nat_kind_name(n->kind)) != NULL &&
	    put_str(o, "kind", s) == -1) ||
	    put_str(o, "from", n->from) == -1)
		goto fail;
	switch (n->kind) {
	case NAT_MASQUERADE:
		if (put_str(o, "to", n->to) == -1)
			goto fail;
		break;
	case NAT_SNAT:
		if (put_str(o, "to", n->to) == -1 ||
		    json_object_set_new(o, "as", enc_addr(&n->snat_addr)) == -1)
			goto fail;
		break;
	case NAT_FORWARD:
		if (((s = proto_name(n->proto)) != NULL &&
		    put_str(o, "proto", s) == -1) ||
		    json_object_set_new(o, "dport",
		    enc_port(&n->dport)) == -1 ||
		    json_object_set_new(o, "target",
		    enc_addr(&n->target)) == -1)
			goto fail;
		if (n->target_port != 0 && json_object_set_new(o,
		    "target_port", json_integer(n->target_port)) == -1)
			goto fail;
		break;
	}
	if (addrmatch_given(&n->src) &&
	    json_object_set_new(o, "src", enc_addrmatch(&n->src)) == -1)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *
codec_encode_set_elem(enum set_type type, const struct set_elem *e)
{
	json_t	*key, *o;

	if (type == SET_PORT)
		key = enc_port(&e->key.port);
	else
		key = enc_addr(&e->key.addr);
	if (key == NULL)
		return NULL;
	if (e->timeout_ms == 0 && e->expires_ms == 0 && !e->runtime)
		return key;
	if ((o = json_object()) == NULL) {
		json_decref(key);
		return NULL;
	}
	if (json_object_set_new(o, "key", key) == -1)
		goto fail;
	if (e->timeout_ms != 0 && json_object_set_new(o, "timeout",
	    enc_duration(e->timeout_ms)) == -1)
		goto fail;
	/* json_int_t is signed; an expiry past 2^63 ms is not a real one */
	if (e->expires_ms != 0 && e->expires_ms <= INT64_MAX &&
	    json_object_set_new(o, "expires",
	    json_integer((json_int_t)e->expires_ms)) == -1)
		goto fail;
	if (e->runtime && json_object_set_new(o, "runtime", json_true()) == -1)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *
codec_encode_set(const struct set *s)
{
	json_t		*o, *a;
	const char	*t;
	size_t		 i;

	if ((o = json_object()) == NULL)
		return NULL;
	if (put_str(o, "name", s->name) == -1 ||
	    ((t = set_type_name(s->type)) != NULL &&
	    put_str(o, "type", t) == -1))
		goto fail;
	if (s->timeout_ms != 0 && json_object_set_new(o, "timeout",
	    enc_duration(s->timeout_ms)) == -1)
		goto fail;
	if ((a = json_array()) == NULL ||
	    json_object_set_new(o, "elements", a) == -1)
		goto fail;
	for (i = 0; i < s->nelems; i++)
		if (json_array_append_new(a,
		    codec_encode_set_elem(s->type, &s->elems[i])) == -1)
			goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* Adds key: [enc(v[0]), ...]; jumps to fail on ENOMEM. */
#define ENC_LIST(o, key, v, n, enc) do {				\
	json_t	*a_;							\
	size_t	 i_;							\
									\
	if ((a_ = json_array()) == NULL ||				\
	    json_object_set_new((o), (key), a_) == -1)			\
		goto fail;						\
	for (i_ = 0; i_ < (n); i_++)					\
		if (json_array_append_new(a_, enc((v)[i_])) == -1)	\
			goto fail;					\
} while (0)

json_t *
codec_encode_ruleset(const struct ruleset *rs)
{
	json_t	*o;

	if ((o = json_object()) == NULL)
		return NULL;
	ENC_LIST(o, "zones", rs->zones, rs->nzones, codec_encode_zone);
	ENC_LIST(o, "sets", rs->sets, rs->nsets, codec_encode_set);
	ENC_LIST(o, "policies", rs->policies, rs->npolicies,
	    codec_encode_policy);
	ENC_LIST(o, "rules", rs->rules, rs->nrules, codec_encode_rule);
	ENC_LIST(o, "nat", rs->nats, rs->nnats, codec_encode_nat);
	return o;
fail:
	json_decref(o);
	return NULL;
}

#undef ENC_LIST

/* ---- decoding ---- */

static void derr(struct diags *, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
derr(struct diags *d, const char *path, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diags_add_field(d, path != NULL && *path != '\0' ? path : NULL,
	    "%s", msg);
}

/* True (with a note, so the decode fails) once a list has been given
 * enough errors since before. */
static bool
too_many(struct diags *d, size_t before, const char *path)
{
	if (d->n - before < CODEC_ERRORS_MAX)
		return false;
	derr(d, path, "too many errors (%zu); the rest of the list is not "
	    "checked", d->n - before);
	return true;
}

static const char *
kind_of(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a fractional number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "an unknown value";
}

/*
 * Copies s into buf for a message: at most 40 bytes, control characters
 * and quotes replaced, so that hostile input cannot forge message lines.
 */
static const char *
quote_for_msg(const char *s, size_t slen, char *buf, size_t len)
{
	size_t	i, o;

	for (i = o = 0; i < slen && o + 4 < len && i < 40; i++) {
		unsigned char c = s[i];

		buf[o++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ?
		    '?' : (char)c;
	}
	if (i < slen && o + 4 < len) {
		buf[o++] = '.';
		buf[o++] = '.';
		buf[o++] = '.';
	}
	buf[o] = '\0';
	return buf;
}

/* The value as it appears in "got ..." of a message. */
static const char *
got(const json_t *j, char *buf, size_t len)
{
	char	q[64];

	switch (json_typeof(j)) {
	case JSON_STRING:
		snprintf(buf, len, "\"%s\"", quote_for_msg(json_string_value(j),
		    json_string_length(j), q, sizeof(q)));
		return buf;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(j));
		return buf;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(j));
		return buf;
	default:
		return kind_of(j);
	}
}

static const char *
path_key(char *buf, size_t len, const char *path, const char *key)
{
	char	q[64];

	quote_for_msg(key, strlen(key), q, sizeof(q));
	if (path == NULL || *path == '\0')
		snprintf(buf, len, "%s", q);
	else if (snprintf(buf, len, "%s.%s", path, q) >= (int)len)
		buf[len - 1] = '\0';
	return buf;
}

static const char *
path_index(char *buf, size_t len, const char *path, size_t i)
{
	/* a path cut short still names the spot well enough */
	if (snprintf(buf, len, "%s[%zu]", path != NULL ? path : "", i) >=
	    (int)len)
		buf[len - 1] = '\0';
	return buf;
}

/* jansson's object iterator takes a non-const object but does not change
 * it; the decoders promise not to. */
static json_t *
unconst(const json_t *j)
{
	return (json_t *)(uintptr_t)j;
}

/*
 * The object's type and its field names: every unknown field is an error
 * that lists the known ones. Returns 0 when j is an object (whatever its
 * fields), -1 when it is not one.
 */
static int
check_object(const json_t *j, const char *path, const char *what,
    const char *const *known, struct diags *d)
{
	char		 p[CODEC_PATH_MAX], list[256];
	const char	*key;
	void		*it;
	size_t		 i, o;

	if (!json_is_object(j)) {
		derr(d, path, "expected %s (an object), got %s", what,
		    kind_of(j));
		return -1;
	}
	for (it = json_object_iter(unconst(j)); it != NULL;
	    it = json_object_iter_next(unconst(j), it)) {
		key = json_object_iter_key(it);
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (known[i] != NULL)
			continue;
		for (i = 0, o = 0; known[i] != NULL && o < sizeof(list); i++)
			o += snprintf(list + o, sizeof(list) - o, "%s%s",
			    i > 0 ? ", " : "", known[i]);
		derr(d, path_key(p, sizeof(p), path, key),
		    "unknown field in %s; expected one of: %s", what, list);
	}
	return 0;
}

static void
missing(struct diags *d, const char *path, const char *key, const char *what)
{
	char	p[CODEC_PATH_MAX];

	derr(d, path_key(p, sizeof(p), path, key), "missing; %s needs it",
	    what);
}

/* A string value without NUL bytes; NULL with an error otherwise. */
static const char *
dec_string(const json_t *j, const char *path, const char *what,
    struct diags *d)
{
	const char	*s;

	if (!json_is_string(j)) {
		derr(d, path, "expected %s (a string), got %s", what,
		    kind_of(j));
		return NULL;
	}
	s = json_string_value(j);
	if (strlen(s) != json_string_length(j)) {
		derr(d, path, "expected %s, got a string with a NUL byte",
		    what);
		return NULL;
	}
	return s;
}

static char *
dup_or_err(const char *s, const char *path, struct diags *d)
{
	char	*c;

	if ((c = strdup(s)) == NULL)
		derr(d, path, "out of memory");
	return c;
}

/* An object name (rule, zone, set, nat) or a zone word in from/to. */
static char *
dec_name(const json_t *j, const char *path, struct diags *d)
{
	const char	*s;
	char		 q[64];

	if ((s = dec_string(j, path, "a name", d)) == NULL)
		return NULL;
	if (!name_valid(s)) {
		derr(d, path, "expected a name of letters, digits, '_', '.' "
		    "and '-' starting with a letter or '_', at most %d "
		    "bytes, got \"%s\"", FWCTL_NAME_MAX,
		    quote_for_msg(s, strlen(s), q, sizeof(q)));
		return NULL;
	}
	return dup_or_err(s, path, d);
}

/* Free text (comment, log prefix): no control characters but tab, as in
 * the rule language's strings, at most max bytes. */
static char *
dec_text(const json_t *j, const char *path, size_t max, struct diags *d)
{
	const char	*s, *p;

	if ((s = dec_string(j, path, "a text", d)) == NULL)
		return NULL;
	if (strlen(s) > max) {
		derr(d, path, "expected at most %zu bytes, got %zu", max,
		    strlen(s));
		return NULL;
	}
	for (p = s; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
			derr(d, path, "control characters are not allowed "
			    "(byte 0x%02x at offset %zu)", (unsigned char)*p,
			    (size_t)(p - s));
			return NULL;
		}
	return dup_or_err(s, path, d);
}

static int
dec_bool(const json_t *j, const char *path, bool *out, struct diags *d)
{
	if (!json_is_boolean(j)) {
		derr(d, path, "expected true or false, got %s", kind_of(j));
		return -1;
	}
	*out = json_is_true(j);
	return 0;
}

/* An integer in [min, max]. */
static int
dec_uint(const json_t *j, const char *path, const char *what, uint64_t min,
    uint64_t max, uint64_t *out, struct diags *d)
{
	char		 g[96];
	json_int_t	 v;

	if (!json_is_integer(j)) {
		derr(d, path, "expected %s %" PRIu64 "-%" PRIu64 ", got %s",
		    what, min, max, got(j, g, sizeof(g)));
		return -1;
	}
	v = json_integer_value(j);
	if (v < 0 || (uint64_t)v < min || (uint64_t)v > max) {
		derr(d, path, "expected %s %" PRIu64 "-%" PRIu64 ", got %"
		    JSON_INTEGER_FORMAT, what, min, max, v);
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

static int
dec_addr(const json_t *j, const char *path, struct addr *a, struct diags *d)
{
	const char	*s, *why = NULL;
	char		 q[64];

	if ((s = dec_string(j, path, "an address", d)) == NULL)
		return -1;
	if (addr_parse(s, a, &why) == -1) {
		derr(d, path, "expected an IPv4 or IPv6 address or network, "
		    "got \"%s\" (%s)", quote_for_msg(s, strlen(s), q,
		    sizeof(q)), why != NULL ? why : "malformed");
		return -1;
	}
	return 0;
}

static int
dec_host(const json_t *j, const char *path, struct addr *a, struct diags *d)
{
	char	buf[CODEC_ADDR_MAX];

	if (dec_addr(j, path, a, d) == -1)
		return -1;
	if (!addr_is_host(a)) {
		derr(d, path, "expected a host address, got the network %s",
		    addr_format(a, buf, sizeof(buf)));
		return -1;
	}
	return 0;
}

/* "22" or "1000-2000" from a string; -1 when malformed or out of range. */
static int
port_text(const char *s, struct portrange *pr)
{
	unsigned long	 v[2];
	int		 n;
	char		*end;

	for (n = 0; n < 2; n++) {
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		v[n] = strtoul(s, &end, 10);
		if (errno != 0 || v[n] > 65535 || end - s > 5)
			return -1;
		s = end;
		if (*s == '\0')
			break;
		if (*s != '-' || n == 1)
			return -1;
		s++;
	}
	if (n == 0)
		v[1] = v[0];
	if (v[0] > v[1])
		return -1;
	pr->lo = (uint16_t)v[0];
	pr->hi = (uint16_t)v[1];
	return 0;
}

/* A port: an integer, or a string "N" or "lo-hi". */
static int
dec_port(const json_t *j, const char *path, struct portrange *pr,
    struct diags *d)
{
	char		g[96];
	json_int_t	v;

	if (json_is_integer(j)) {
		v = json_integer_value(j);
		if (v < 0 || v > 65535) {
			derr(d, path, "expected a port 0-65535, got %"
			    JSON_INTEGER_FORMAT, v);
			return -1;
		}
		pr->lo = pr->hi = (uint16_t)v;
		return 0;
	}
	if (json_is_string(j) && strlen(json_string_value(j)) ==
	    json_string_length(j) && port_text(json_string_value(j), pr) == 0)
		return 0;
	derr(d, path, "expected a port 0-65535 or a range \"lo-hi\" with "
	    "lo <= hi, got %s", got(j, g, sizeof(g)));
	return -1;
}

/* "@name", a reference to a named set: the name, or NULL with an error. */
static char *
dec_setref(const char *s, const char *path, struct diags *d)
{
	char	q[64];

	if (*s != '@' || !name_valid(s + 1)) {
		derr(d, path, "expected \"@\" and a set name, got \"%s\"",
		    quote_for_msg(s, strlen(s), q, sizeof(q)));
		return NULL;
	}
	return dup_or_err(s + 1, path, d);
}

typedef int (*dec_item_fn)(const json_t *, const char *, void *,
    struct diags *);

static int
dec_addr_item(const json_t *j, const char *path, void *v, struct diags *d)
{
	return dec_addr(j, path, v, d);
}

/*
 * A match: "@set", a list of items, or one of them (a port also as an
 * integer).  The items (size bytes each) go to *items, their count to *n;
 * what names one ("port", "address") and whats the kinds for messages.
 */
static int
dec_match(const json_t *j, const char *path, char **set, void **items,
    size_t *n, size_t size, dec_item_fn dec, bool integers,
    const char *what, const char *whats, struct diags *d)
{
	char	 p[CODEC_PATH_MAX];
	size_t	 i, len, before = d->n;

	if (json_is_string(j) && json_string_value(j)[0] == '@') {
		*set = dec_setref(json_string_value(j), path, d);
		return *set != NULL ? 0 : -1;
	}
	if (!json_is_array(j) && !json_is_string(j) &&
	    !(integers && json_is_integer(j))) {
		derr(d, path, "expected a list of %s, %s %s, or \"@set\", "
		    "got %s", whats, what[0] == 'a' ? "an" : "a", what,
		    kind_of(j));
		return -1;
	}
	len = json_is_array(j) ? json_array_size(j) : 1;
	if (len == 0) {
		derr(d, path, "expected at least one %s; leave the field out "
		    "to match any %s", what, what);
		return -1;
	}
	if ((*items = calloc(len, size)) == NULL) {
		derr(d, path, "out of memory");
		return -1;
	}
	if (!json_is_array(j)) {
		if (dec(j, path, *items, d) == -1)
			return -1;
		*n = 1;
		return 0;
	}
	for (i = 0; i < len && !too_many(d, before, path); i++)
		dec(json_array_get(j, i), path_index(p, sizeof(p), path, i),
		    (char *)*items + i * size, d);
	*n = i;
	return d->n > before ? -1 : 0;
}

/* A port of a rule: a port item, or a service name looked up later. */
struct portitem {
	struct portrange r;
	char		 name[FWCTL_SERVICE_MAX + 1];	/* "" for a number */
	bool		 lookup;			/* r still to find */
};

static const char *const named_port_fields[] = { "service", "port", NULL };

static int
dec_service(const json_t *j, const char *path, struct portitem *it,
    struct diags *d)
{
	char	q[64];

	if (!service_name_valid(json_string_value(j))) {
		derr(d, path, "expected a service name (a letter, then "
		    "letters, digits, '-', '_', '.' or '+', at most %d), got "
		    "\"%s\"", FWCTL_SERVICE_MAX, quote_for_msg(
		    json_string_value(j), json_string_length(j), q,
		    sizeof(q)));
		return -1;
	}
	snprintf(it->name, sizeof(it->name), "%s", json_string_value(j));
	return 0;
}

/* 22, "22", "1000-2000", "ssh" or {"service": "ssh", "port": 22}. */
static int
dec_rule_port(const json_t *j, const char *path, void *v, struct diags *d)
{
	struct portitem	*it = v;
	char		 p[CODEC_PATH_MAX];
	const json_t	*s, *n;

	if (json_is_string(j) && isalpha((unsigned char)
	    json_string_value(j)[0])) {
		it->lookup = true;
		return dec_service(j, path, it, d);
	}
	if (!json_is_object(j))
		return dec_port(j, path, &it->r, d);
	if (check_object(j, path, "a service", named_port_fields, d) == -1)
		return -1;
	s = json_object_get(j, "service");
	n = json_object_get(j, "port");
	if (s == NULL || !json_is_string(s)) {
		derr(d, path_key(p, sizeof(p), path, "service"), "expected a "
		    "service name (a string)");
		return -1;
	}
	if (dec_service(s, path_key(p, sizeof(p), path, "service"), it,
	    d) == -1)
		return -1;
	if (n == NULL) {
		it->lookup = true;
		return 0;
	}
	if (!json_is_integer(n))
		derr(d, path_key(p, sizeof(p), path, "port"), "expected a port "
		    "0-65535 (an integer)");
	return json_is_integer(n) ? dec_port(n, path_key(p, sizeof(p), path,
	    "port"), &it->r, d) : -1;
}

static int
dec_portmatch(const json_t *j, const char *path, int proto,
    struct portmatch *pm, struct diags *d)
{
	struct portitem	*v = NULL;
	void		*items = NULL;
	char		 p[CODEC_PATH_MAX];
	size_t		 i, n = 0;
	int		 rv;

	rv = dec_match(j, path, &pm->set, &items, &n, sizeof(*v),
	    dec_rule_port, true, "port", "ports, ranges and service names", d);
	v = items;
	for (i = 0; i < n; i++) {
		if (!v[i].lookup)
			continue;
		if (service_parse(v[i].name, proto, &v[i].r.lo) == -1) {
			derr(d, json_is_array(j) ? path_index(p, sizeof(p),
			    path, i) : path, "unknown service \"%s\": not in "
			    "/etc/services; expected a port number or a "
			    "service name", v[i].name);
			rv = -1;
		}
		v[i].r.hi = v[i].r.lo;
	}
	for (i = 0; rv == 0 && i < n; i++)
		if (portmatch_add(pm, &v[i].r, v[i].name[0] ? v[i].name :
		    NULL) == -1) {
			derr(d, path, "out of memory");
			rv = -1;
		}
	free(items);
	return rv;
}

static int
dec_addrmatch(const json_t *j, const char *path, struct addrmatch *am,
    struct diags *d)
{
	void	*v = NULL;
	int	 rv;

	rv = dec_match(j, path, &am->set, &v, &am->naddrs,
	    sizeof(*am->addrs), dec_addr_item, false, "address",
	    "addresses", d);
	am->addrs = v;
	return rv;
}

static int
dec_duration(const json_t *j, const char *path, uint64_t *ms,
    struct diags *d)
{
	const char	*s;
	char		 q[64];

	if ((s = dec_string(j, path, "a duration", d)) == NULL)
		return -1;
	if (duration_parse(s, ms) == -1) {
		derr(d, path, "expected a duration such as \"30s\", \"10m\", "
		    "\"1h30m\" (each unit once, the largest first), got "
		    "\"%s\"", quote_for_msg(s, strlen(s), q, sizeof(q)));
		return -1;
	}
	if (*ms == 0) {
		/* no timeout is said by leaving the field out */
		derr(d, path, "expected a duration greater than zero, got "
		    "\"%s\"", quote_for_msg(s, strlen(s), q, sizeof(q)));
		return -1;
	}
	return 0;
}

static int
dec_verdict(const json_t *j, const char *path, enum verdict *v,
    struct diags *d)
{
	const char	*s;
	char		 q[64];

	if ((s = dec_string(j, path, "a verdict", d)) == NULL)
		return -1;
	if (verdict_parse(s, v) == -1 || *v == VERDICT_NONE) {
		derr(d, path, "expected accept, drop or reject, got \"%s\"",
		    quote_for_msg(s, strlen(s), q, sizeof(q)));
		return -1;
	}
	return 0;
}

static int
dec_proto(const json_t *j, const char *path, bool ports_only, int *proto,
    struct diags *d)
{
	const char	*s;
	char		 q[64];
	const char	*want = ports_only ? "tcp, udp or sctp" :
			    "tcp, udp, sctp, icmp or icmpv6";

	if ((s = dec_string(j, path, "a protocol", d)) == NULL)
		return -1;
	if (proto_parse(s, proto) == -1 || *proto == PROTO_NONE ||
	    (ports_only && *proto != IPPROTO_TCP && *proto != IPPROTO_UDP &&
	    *proto != IPPROTO_SCTP)) {
		derr(d, path, "expected %s, got \"%s\"", want,
		    quote_for_msg(s, strlen(s), q, sizeof(q)));
		return -1;
	}
	return 0;
}

static bool
proto_has_ports(int proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    proto == IPPROTO_SCTP;
}

static bool
proto_is_icmp(int proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

/* Optional field: NULL when absent (null is not a way to say absent). */
static const json_t *
field(const json_t *o, const char *key, const char *path, char *p,
    size_t plen)
{
	path_key(p, plen, path, key);
	return json_object_get(o, key);
}

/* A field that must be there and hold a name; NULL after an error. */
static char *
req_name(const json_t *o, const char *key, const char *path, const char *what,
    struct diags *d)
{
	const json_t	*v;
	char		 p[CODEC_PATH_MAX];

	if ((v = field(o, key, path, p, sizeof(p))) == NULL) {
		missing(d, path, key, what);
		return NULL;
	}
	return dec_name(v, p, d);
}

static const char *const zone_fields[] = {
	"name", "interfaces", "networks", "external", "dmz", NULL,
};

struct zone *
codec_decode_zone(const json_t *j, const char *path, struct diags *d)
{
	struct zone	*z;
	const json_t	*v, *e;
	char		 p[CODEC_PATH_MAX], pi[CODEC_PATH_MAX], q[64];
	const char	*s;
	size_t		 i, n, before = d->n;
	bool		 b;

	if (check_object(j, path, "a zone", zone_fields, d) == -1)
		return NULL;
	if ((z = zone_new()) == NULL) {
		derr(d, path, "out of memory");
		return NULL;
	}
	z->name = req_name(j, "name", path, "a zone", d);

	if ((v = field(j, "interfaces", path, p, sizeof(p))) != NULL) {
		if (!json_is_array(v))
			derr(d, p, "expected a list of interface names, got %s",
			    kind_of(v));
		else if ((n = json_array_size(v)) > 0) {
			if ((z->ifaces = calloc(n, sizeof(*z->ifaces))) == NULL)
				goto oom;
			for (i = 0; i < n && !too_many(d, before, p); i++) {
				e = json_array_get(v, i);
				path_index(pi, sizeof(pi), p, i);
				if ((s = dec_string(e, pi, "an interface name",
				    d)) == NULL)
					continue;
				if (!ifname_valid(s)) {
					derr(d, pi, "expected an interface "
					    "name of at most %d bytes (or "
					    "\"prefix*\"), got \"%s\"",
					    FWCTL_IFNAME_MAX, quote_for_msg(s,
					    strlen(s), q, sizeof(q)));
					continue;
				}
				if ((z->ifaces[z->nifaces] =
				    dup_or_err(s, pi, d)) != NULL)
					z->nifaces++;
			}
		}
	}
	if ((v = field(j, "networks", path, p, sizeof(p))) != NULL) {
		if (!json_is_array(v))
			derr(d, p, "expected a list of networks, got %s",
			    kind_of(v));
		else if ((n = json_array_size(v)) > 0) {
			if ((z->networks = calloc(n,
			    sizeof(*z->networks))) == NULL)
				goto oom;
			for (i = 0; i < n && !too_many(d, before, p); i++)
				if (dec_addr(json_array_get(v, i),
				    path_index(pi, sizeof(pi), p, i),
				    &z->networks[z->nnetworks], d) == 0)
					z->nnetworks++;
		}
	}
	if ((v = field(j, "external", path, p, sizeof(p))) != NULL &&
	    dec_bool(v, p, &b, d) == 0 && b)
		z->flags |= ZONE_EXTERNAL;
	if ((v = field(j, "dmz", path, p, sizeof(p))) != NULL &&
	    dec_bool(v, p, &b, d) == 0 && b)
		z->flags |= ZONE_DMZ;
	if (d->n > before)
		goto fail;
	return z;
oom:
	derr(d, path, "out of memory");
fail:
	zone_free(z);
	return NULL;
}

static const char *const policy_fields[] = {
	"from", "to", "verdict", "log", "log_prefix", NULL,
};

struct policy *
codec_decode_policy(const json_t *j, const char *path, struct diags *d)
{
	struct policy	*pol;
	const json_t	*v;
	char		 p[CODEC_PATH_MAX];
	size_t		 before = d->n;

	if (check_object(j, path, "a policy", policy_fields, d) == -1)
		return NULL;
	if ((pol = policy_new()) == NULL) {
		derr(d, path, "out of memory");
		return NULL;
	}
	pol->from = req_name(j, "from", path, "a policy", d);
	pol->to = req_name(j, "to", path, "a policy", d);
	if ((v = field(j, "verdict", path, p, sizeof(p))) == NULL)
		missing(d, path, "verdict", "a policy");
	else
		dec_verdict(v, p, &pol->verdict, d);
	if ((v = field(j, "log", path, p, sizeof(p))) != NULL)
		dec_bool(v, p, &pol->log, d);
	if ((v = field(j, "log_prefix", path, p, sizeof(p))) != NULL) {
		if (!pol->log)
			derr(d, p, "a log prefix needs \"log\": true");
		else
			pol->log_prefix = dec_text(v, p, FWCTL_LOG_PREFIX_MAX,
			    d);
	}
	if (d->n > before) {
		policy_free(pol);
		return NULL;
	}
	return pol;
}

static const char *const limit_fields[] = {
	"rate", "per", "burst", "per_source", NULL,
};

static int
dec_limit(const json_t *j, const char *path, struct limit *l,
    struct diags *d)
{
	const json_t	*v;
	const char	*s;
	char		 p[CODEC_PATH_MAX], q[64];
	uint64_t	 u;
	size_t		 before = d->n;

	if (check_object(j, path, "a limit", limit_fields, d) == -1)
		return -1;
	if ((v = field(j, "rate", path, p, sizeof(p))) == NULL)
		missing(d, path, "rate", "a limit");
	else if (dec_uint(v, p, "a rate", 1, INT64_MAX, &u, d) == 0)
		l->rate = u;
	if ((v = field(j, "per", path, p, sizeof(p))) == NULL)
		missing(d, path, "per", "a limit");
	else if ((s = dec_string(v, p, "a time unit", d)) != NULL &&
	    limit_unit_parse(s, &l->unit) == -1)
		derr(d, p, "expected second, minute, hour or day, got \"%s\"",
		    quote_for_msg(s, strlen(s), q, sizeof(q)));
	if ((v = field(j, "burst", path, p, sizeof(p))) != NULL &&
	    dec_uint(v, p, "a burst", 1, UINT32_MAX, &u, d) == 0)
		l->burst = (uint32_t)u;
	if ((v = field(j, "per_source", path, p, sizeof(p))) != NULL)
		dec_bool(v, p, &l->per_source, d);
	return d->n > before ? -1 : 0;
}

static int
dec_icmp_types(const json_t *j, const char *path, struct rule *r,
    struct diags *d)
{
	const json_t	*e;
	const char	*s;
	char		 pi[CODEC_PATH_MAX], q[64];
	size_t		 i, n, before = d->n;
	uint64_t	 u;

	if (!json_is_array(j)) {
		derr(d, path, "expected a list of ICMP types, got %s",
		    kind_of(j));
		return -1;
	}
	if ((n = json_array_size(j)) == 0) {
		derr(d, path, "expected at least one ICMP type; leave the "
		    "field out to match any type");
		return -1;
	}
	if ((r->icmp_types = calloc(n, sizeof(*r->icmp_types))) == NULL) {
		derr(d, path, "out of memory");
		return -1;
	}
	for (i = 0; i < n && !too_many(d, before, path); i++) {
		e = json_array_get(j, i);
		path_index(pi, sizeof(pi), path, i);
		if (json_is_integer(e)) {
			if (dec_uint(e, pi, "an ICMP type", 0, 255, &u, d) == 0)
				r->icmp_types[r->nicmp_types++] = (uint8_t)u;
			continue;
		}
		if ((s = dec_string(e, pi, "an ICMP type", d)) == NULL)
			continue;
		if (icmp_type_parse(r->proto, s,
		    &r->icmp_types[r->nicmp_types]) == -1) {
			derr(d, pi, "expected an %s type name such as "
			    "\"echo-request\" or a number 0-255, got \"%s\"",
			    r->proto == IPPROTO_ICMPV6 ? "ICMPv6" : "ICMP",
			    quote_for_msg(s, strlen(s), q, sizeof(q)));
			continue;
		}
		r->nicmp_types++;
	}
	return d->n > before ? -1 : 0;
}

static int
dec_state(const json_t *j, const char *path, unsigned *state,
    struct diags *d)
{
	const char	*s;
	char		 pi[CODEC_PATH_MAX], q[64];
	size_t		 i, n, before = d->n;
	unsigned	 bit;

	if (!json_is_array(j)) {
		derr(d, path, "expected a list of connection states, got %s",
		    kind_of(j));
		return -1;
	}
	if ((n = json_array_size(j)) == 0) {
		derr(d, path, "expected at least one connection state; leave "
		    "the field out to match any state");
		return -1;
	}
	for (i = 0; i < n && !too_many(d, before, path); i++) {
		path_index(pi, sizeof(pi), path, i);
		if ((s = dec_string(json_array_get(j, i), pi,
		    "a connection state", d)) == NULL)
			continue;
		if ((bit = ctstate_parse(s)) == 0) {
			derr(d, pi, "expected new, established, related or "
			    "invalid, got \"%s\"", quote_for_msg(s, strlen(s),
			    q, sizeof(q)));
			continue;
		}
		*state |= bit;
	}
	return d->n > before ? -1 : 0;
}

/* "ip4" or "ip6": a rule for one IP version. */
static void
dec_family(const json_t *j, const char *path, int *family, struct diags *d)
{
	const char	*s;
	char		 q[64];

	if ((s = dec_string(j, path, "an IP version", d)) == NULL)
		return;
	if (strcmp(s, "ip4") == 0 || strcmp(s, "ip6") == 0)
		*family = s[2] == '4' ? AF_INET : AF_INET6;
	else
		derr(d, path, "expected ip4 or ip6, got \"%s\"",
		    quote_for_msg(s, strlen(s), q, sizeof(q)));
}

static const char *const rule_fields[] = {
	"name", "from", "to", "family", "proto", "sport", "dport", "icmp_types",
	"src", "dst", "state", "log", "log_prefix", "verdict", "limit",
	"comment", NULL,
};

struct rule *
codec_decode_rule(const json_t *j, const char *path, struct diags *d)
{
	struct rule	*r;
	const json_t	*v;
	char		 p[CODEC_PATH_MAX];
	size_t		 before = d->n;
	bool		 proto_ok = true, b;

	if (check_object(j, path, "a rule", rule_fields, d) == -1)
		return NULL;
	if ((r = rule_new()) == NULL) {
		derr(d, path, "out of memory");
		return NULL;
	}
	r->name = req_name(j, "name", path, "a rule", d);
	r->from = req_name(j, "from", path, "a rule", d);
	r->to = req_name(j, "to", path, "a rule", d);
	if ((v = field(j, "family", path, p, sizeof(p))) != NULL)
		dec_family(v, p, &r->family, d);
	if ((v = field(j, "proto", path, p, sizeof(p))) != NULL &&
	    dec_proto(v, p, false, &r->proto, d) == -1)
		proto_ok = false;

	if ((v = field(j, "sport", path, p, sizeof(p))) != NULL) {
		if (proto_ok && !proto_has_ports(r->proto))
			derr(d, p, "ports need \"proto\" tcp, udp or sctp");
		else
			dec_portmatch(v, p, r->proto, &r->sport, d);
	}
	if ((v = field(j, "dport", path, p, sizeof(p))) != NULL) {
		if (proto_ok && !proto_has_ports(r->proto))
			derr(d, p, "ports need \"proto\" tcp, udp or sctp");
		else
			dec_portmatch(v, p, r->proto, &r->dport, d);
	}
	if ((v = field(j, "icmp_types", path, p, sizeof(p))) != NULL) {
		if (proto_ok && !proto_is_icmp(r->proto))
			derr(d, p, "ICMP types need \"proto\" icmp or icmpv6");
		else if (proto_ok)
			dec_icmp_types(v, p, r, d);
	}
	if ((v = field(j, "src", path, p, sizeof(p))) != NULL)
		dec_addrmatch(v, p, &r->src, d);
	if ((v = field(j, "dst", path, p, sizeof(p))) != NULL)
		dec_addrmatch(v, p, &r->dst, d);
	if ((v = field(j, "state", path, p, sizeof(p))) != NULL)
		dec_state(v, p, &r->state, d);
	if ((v = field(j, "log", path, p, sizeof(p))) != NULL &&
	    dec_bool(v, p, &b, d) == 0)
		r->log = b;
	if ((v = field(j, "log_prefix", path, p, sizeof(p))) != NULL) {
		/* a prefix means logging; only an explicit "log": false
		 * contradicts it */
		if (json_is_false(json_object_get(j, "log")))
			derr(d, p, "a log prefix needs \"log\": true");
		else if ((r->log_prefix = dec_text(v, p,
		    FWCTL_LOG_PREFIX_MAX, d)) != NULL)
			r->log = true;
	}
	if ((v = field(j, "verdict", path, p, sizeof(p))) == NULL)
		missing(d, path, "verdict", "a rule");
	else
		dec_verdict(v, p, &r->verdict, d);
	if ((v = field(j, "limit", path, p, sizeof(p))) != NULL)
		dec_limit(v, p, &r->limit, d);
	if ((v = field(j, "comment", path, p, sizeof(p))) != NULL)
		r->comment = dec_text(v, p, FWCTL_COMMENT_MAX, d);
	if (d->n > before) {
		rule_free(r);
		return NULL;
	}
	return r;
}

static const char *const nat_fields[] = {
	"name", "kind", "from", "to", "as", "proto", "dport", "target",
	"target_port", "src", NULL,
};

struct nat *
codec_decode_nat(const json_t *j, const char *path, struct diags *d)
{
	struct nat	*n;
	const json_t	*v;
	const char	*s;
	char		 p[CODEC_PATH_MAX], q[64];
	size_t		 i, before = d->n;
	uint64_t	 u;
	/* which of the kind-dependent fields each kind takes */
	static const struct {
		const char	*key;
		unsigned	 kinds;	/* bit per enum nat_kind */
	} deps[] = {
		{ "to",		1u << NAT_MASQUERADE | 1u << NAT_SNAT },
		{ "as",		1u << NAT_SNAT },
		{ "proto",	1u << NAT_FORWARD },
		{ "dport",	1u << NAT_FORWARD },
		{ "target",	1u << NAT_FORWARD },
		{ "target_port", 1u << NAT_FORWARD },
	};

	if (check_object(j, path, "a NAT entry", nat_fields, d) == -1)
		return NULL;
	if ((n = nat_new()) == NULL) {
		derr(d, path, "out of memory");
		return NULL;
	}
	if ((v = field(j, "name", path, p, sizeof(p))) == NULL)
		missing(d, path, "name", "a NAT entry");
	else
		n->name = dec_name(v, p, d);
	if ((v = field(j, "kind", path, p, sizeof(p))) == NULL)
		missing(d, path, "kind", "a NAT entry");
	else if ((s = dec_string(v, p, "a NAT kind", d)) != NULL) {
		if (strcmp(s, "masquerade") == 0)
			n->kind = NAT_MASQUERADE;
		else if (strcmp(s, "snat") == 0)
			n->kind = NAT_SNAT;
		else if (strcmp(s, "forward") == 0)
			n->kind = NAT_FORWARD;
		else
			derr(d, p, "expected masquerade, snat or forward, "
			    "got \"%s\"", quote_for_msg(s, strlen(s), q,
			    sizeof(q)));
	}
	if ((v = field(j, "from", path, p, sizeof(p))) == NULL)
		missing(d, path, "from", "a NAT entry");
	else
		n->from = dec_name(v, p, d);
	if ((v = field(j, "src", path, p, sizeof(p))) != NULL)
		dec_addrmatch(v, p, &n->src, d);
	if (n->kind == 0)	/* the kind-dependent fields cannot be judged */
		goto done;

	for (i = 0; i < sizeof(deps) / sizeof(*deps); i++) {
		bool	want = (deps[i].kinds & (1u << n->kind)) != 0;

		v = field(j, deps[i].key, path, p, sizeof(p));
		if (v != NULL && !want)
			derr(d, p, "not used by a %s entry",
			    nat_kind_name(n->kind));
		else if (v == NULL && want &&
		    strcmp(deps[i].key, "target_port") != 0)
			missing(d, path, deps[i].key, n->kind == NAT_FORWARD ?
			    "a forward entry" : n->kind == NAT_SNAT ?
			    "an snat entry" : "a masquerade entry");
		if (v == NULL || !want)
			continue;
		if (strcmp(deps[i].key, "to") == 0)
			n->to = dec_name(v, p, d);
		else if (strcmp(deps[i].key, "as") == 0)
			dec_host(v, p, &n->snat_addr, d);
		else if (strcmp(deps[i].key, "proto") == 0)
			dec_proto(v, p, true, &n->proto, d);
		else if (strcmp(deps[i].key, "dport") == 0)
			dec_port(v, p, &n->dport, d);
		else if (strcmp(deps[i].key, "target") == 0)
			dec_host(v, p, &n->target, d);
		else if (dec_uint(v, p, "a port", 1, 65535, &u, d) == 0)
			n->target_port = (uint16_t)u;
	}
done:
	if (d->n > before) {
		nat_free(n);
		return NULL;
	}
	return n;
}

static const char *const elem_fields[] = {
	"key", "timeout", "expires", "runtime", NULL,
};

static int
dec_elem_key(enum set_type type, const json_t *j, const char *path,
    struct set_elem *e, struct diags *d)
{
	char	buf[CODEC_ADDR_MAX];

	if (type == SET_PORT)
		return dec_port(j, path, &e->key.port, d);
	if (dec_addr(j, path, &e->key.addr, d) == -1)
		return -1;
	if ((type == SET_IPV4) != (e->key.addr.family == AF_INET)) {
		derr(d, path, "expected an %s address for a set of type %s, "
		    "got %s", type == SET_IPV4 ? "IPv4" : "IPv6",
		    set_type_name(type), addr_format(&e->key.addr, buf,
		    sizeof(buf)));
		return -1;
	}
	return 0;
}

int
codec_decode_set_elem(enum set_type type, const json_t *j, const char *path,
    struct set_elem *e, struct diags *d)
{
	const json_t	*v;
	char		 p[CODEC_PATH_MAX];
	size_t		 before = d->n;
	uint64_t	 u;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(j))
		return dec_elem_key(type, j, path, e, d);
	if (check_object(j, path, "a set element", elem_fields, d) == -1)
		return -1;
	if ((v = field(j, "key", path, p, sizeof(p))) == NULL)
		missing(d, path, "key", "a set element");
	else
		dec_elem_key(type, v, p, e, d);
	if ((v = field(j, "timeout", path, p, sizeof(p))) != NULL)
		dec_duration(v, p, &e->timeout_ms, d);
	if ((v = field(j, "expires", path, p, sizeof(p))) != NULL &&
	    dec_uint(v, p, "a time in ms since the epoch", 0, INT64_MAX, &u,
	    d) == 0)
		e->expires_ms = u;
	if ((v = field(j, "runtime", path, p, sizeof(p))) != NULL)
		dec_bool(v, p, &e->runtime, d);
	return d->n > before ? -1 : 0;
}

static const char *const set_fields[] = {
	"name", "type", "timeout", "elements", NULL,
};

struct set *
codec_decode_set(const json_t *j, const char *path, struct diags *d)
{
	struct set	*s;
	struct set_elem	 e;
	const json_t	*v;
	const char	*t;
	char		 p[CODEC_PATH_MAX], pi[CODEC_PATH_MAX], q[64];
	size_t		 i, before = d->n;

	if (check_object(j, path, "a set", set_fields, d) == -1)
		return NULL;
	if ((s = set_new()) == NULL) {
		derr(d, path, "out of memory");
		return NULL;
	}
	s->name = req_name(j, "name", path, "a set", d);
	if ((v = field(j, "type", path, p, sizeof(p))) == NULL)
		missing(d, path, "type", "a set");
	else if ((t = dec_string(v, p, "a set type", d)) != NULL &&
	    set_type_parse(t, &s->type) == -1)
		derr(d, p, "expected ipv4, ipv6 or port, got \"%s\"",
		    quote_for_msg(t, strlen(t), q, sizeof(q)));
	if ((v = field(j, "timeout", path, p, sizeof(p))) != NULL)
		dec_duration(v, p, &s->timeout_ms, d);
	if ((v = field(j, "elements", path, p, sizeof(p))) != NULL) {
		if (!json_is_array(v))
			derr(d, p, "expected a list of elements, got %s",
			    kind_of(v));
		else if (s->type != 0) {
			for (i = 0; i < json_array_size(v) &&
			    !too_many(d, before, p); i++) {
				if (codec_decode_set_elem(s->type,
				    json_array_get(v, i), path_index(pi,
				    sizeof(pi), p, i), &e, d) == -1)
					continue;
				if (set_add_elem(s, &e) == -1) {
					derr(d, pi, "out of memory");
					break;
				}
			}
		}
	}
	if (d->n > before) {
		set_free(s);
		return NULL;
	}
	return s;
}

static const char *const ruleset_fields[] = {
	"zones", "sets", "policies", "rules", "nat", NULL,
};

struct ruleset *
codec_decode_ruleset(const json_t *j, struct diags *d)
{
	struct ruleset	*rs;
	const json_t	*a, *e;
	char		 pi[CODEC_PATH_MAX];
	size_t		 i, k, before = d->n;
	void		*obj;
	int		 rc;

	if (check_object(j, NULL, "a ruleset", ruleset_fields, d) == -1)
		return NULL;
	if ((rs = ruleset_new()) == NULL) {
		derr(d, NULL, "out of memory");
		return NULL;
	}
	for (k = 0; ruleset_fields[k] != NULL; k++) {
		const char *key = ruleset_fields[k];

		if ((a = json_object_get(j, key)) == NULL)
			continue;
		if (!json_is_array(a)) {
			derr(d, key, "expected a list, got %s", kind_of(a));
			continue;
		}
		for (i = 0; i < json_array_size(a) &&
		    !too_many(d, before, key); i++) {
			e = json_array_get(a, i);
			path_index(pi, sizeof(pi), key, i);
			rc = 0;
			switch (k) {
			case 0:
				if ((obj = codec_decode_zone(e, pi, d)) != NULL)
					rc = ruleset_add_zone(rs, obj);
				break;
			case 1:
				if ((obj = codec_decode_set(e, pi, d)) != NULL)
					rc = ruleset_add_set(rs, obj);
				break;
			case 2:
				if ((obj = codec_decode_policy(e, pi,
				    d)) != NULL)
					rc = ruleset_add_policy(rs, obj);
				break;
			case 3:
				if ((obj = codec_decode_rule(e, pi, d)) != NULL)
					rc = ruleset_add_rule(rs, obj);
				break;
			default:
				if ((obj = codec_decode_nat(e, pi, d)) != NULL)
					rc = ruleset_add_nat(rs, obj);
				break;
			}
			if (rc == -1) {
				/* the add did not take ownership */
				switch (k) {
				case 0: zone_free(obj); break;
				case 1: set_free(obj); break;
				case 2: policy_free(obj); break;
				case 3: rule_free(obj); break;
				default: nat_free(obj); break;
				}
				derr(d, pi, "out of memory");
			}
		}
		if (d->n - before > CODEC_ERRORS_MAX)
			break;		/* the note is there already */
	}
	if (d->n > before) {
		ruleset_free(rs);
		return NULL;
	}
	return rs;
}
