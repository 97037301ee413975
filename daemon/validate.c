/*
 * The checks a ruleset must pass before it is compiled, whatever view it
 * came from (rule files, JSON, one CLI statement merged into the running
 * set). The parser already refuses what it can see in one token; this file
 * sees the whole model: names, references between objects, address
 * families, and the kernel's limits. Every problem is reported, naming the
 * object, at the clause at fault when the parser recorded where it starts
 * (srcpos_loc), else at the object's statement.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "ruleset.h"
#include "strmap.h"

struct vctx {
	const struct ruleset	*rs;
	struct diags		*d;
	int			 n;
};

/*
 * Errors past VALIDATE_ERRORS_MAX are counted but not recorded, and the
 * checks stop at the next object (vfull): a ruleset of a million bad
 * rules gets fifty messages and one note, not a million messages.
 */
#define VALIDATE_ERRORS_MAX	50

static void __attribute__((format(printf, 3, 4)))
verr(struct vctx *v, const struct srcloc *l, const char *fmt, ...)
{
	va_list ap;

	v->n++;
	if (v->n > VALIDATE_ERRORS_MAX + 1)
		return;
	if (v->n == VALIDATE_ERRORS_MAX + 1) {
		diags_add(v->d, l, "too many errors (%d); the rest was not "
		    "checked", VALIDATE_ERRORS_MAX);
		return;
	}
	va_start(ap, fmt);
	diags_addv(v->d, l, fmt, ap);
	va_end(ap);
}

static bool
vfull(const struct vctx *v)
{
	return v->n > VALIDATE_ERRORS_MAX;
}

/* " (first at file:line:col)" for duplicate messages, or "" */
static const char *
first_at(const struct srcloc *l, char *buf, size_t len)
{
	if (l->file && l->line)
		snprintf(buf, len, " (first at %s:%d:%d)", l->file, l->line,
		    l->col);
	else if (l->line)
		snprintf(buf, len, " (first at %d:%d)", l->line, l->col);
	else
		snprintf(buf, len, "%s", "");
	return buf;
}

/*
 * Where a clause starts: pos relative to the statement at stmt, in buf; the
 * statement itself when the position is unknown (objects from JSON or
 * built in code). Messages about one clause point at its first word, the
 * keyword ("src" in "src @foo", "to" in "to 10.0.2.10:80"), whatever the
 * value after it: one rule for single values and for lists alike.
 */
const struct srcloc *
srcpos_loc(const struct srcloc *stmt, const struct srcpos *pos,
    struct srcloc *buf)
{
	if (pos->col == 0 || stmt->line == 0)
		return stmt;
	buf->file = stmt->file;
	buf->line = stmt->line + pos->dline;
	buf->col = pos->col;
	return buf;
}

static bool
srcloc_after(const struct srcloc *a, const struct srcloc *b)
{
	return a->line > b->line || (a->line == b->line && a->col > b->col);
}

static const struct srcloc *
rule_at(const struct rule *r, enum rule_clause c, struct srcloc *buf)
{
	return srcpos_loc(&r->loc, &r->pos[c], buf);
}

static const struct srcloc *
nat_at(const struct nat *n, enum nat_clause c, struct srcloc *buf)
{
	return srcpos_loc(&n->loc, &n->pos[c], buf);
}

static const struct srcloc *
zone_at(const struct zone *z, enum zone_clause c, struct srcloc *buf)
{
	return srcpos_loc(&z->loc, &z->pos[c], buf);
}

static const struct srcloc *
policy_at(const struct policy *p, enum policy_clause c, struct srcloc *buf)
{
	return srcpos_loc(&p->loc, &p->pos[c], buf);
}

static const char *
nz(const char *s)
{
	return s ? s : "(none)";
}

/* `kind "name"` into buf, as messages name an object: done for every rule
 * of every whole check, so without printf. */
static void
obj_words(char *buf, size_t len, const char *kind, const char *name)
{
	size_t k = strlen(kind), n;

	name = nz(name);
	n = strlen(name);
	if (k + n + 4 > len)
		n = len - k - 4;	/* cut, as snprintf would */
	memcpy(buf, kind, k);
	buf[k] = ' ';
	buf[k + 1] = '"';
	memcpy(buf + k + 2, name, n);
	buf[k + 2 + n] = '"';
	buf[k + 3 + n] = '\0';
}

static const char *
family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

static bool
is_reserved_zone(const char *s)
{
	return strcmp(s, ZONE_ANY) == 0 || strcmp(s, ZONE_SELF) == 0 ||
	    strcmp(s, ZONE_ALL) == 0;
}

static const struct zone *
find_zone(const struct ruleset *rs, const char *name)
{
	ssize_t i;

	if (name == NULL || (i = ruleset_find_zone(rs, name)) < 0)
		return NULL;
	return rs->zones[i];
}

static const struct set *
find_set(const struct ruleset *rs, const char *name)
{
	ssize_t i;

	if (name == NULL || (i = ruleset_find_set(rs, name)) < 0)
		return NULL;
	return rs->sets[i];
}

/* An address is well formed: a known family, a prefix in range, no host
 * bits. why names the problem. */
static bool
addr_valid(const struct addr *a, const char **why)
{
	int i, max;

	if (a->family == AF_INET)
		max = 32;
	else if (a->family == AF_INET6)
		max = 128;
	else {
		*why = "is not an IPv4 or IPv6 address";
		return false;
	}
	if (a->prefix < 0 || a->prefix > max) {
		*why = a->family == AF_INET ? "has a prefix length outside "
		    "0-32" : "has a prefix length outside 0-128";
		return false;
	}
	for (i = a->prefix; i < max; i++)
		if (a->bytes[i / 8] & (0x80 >> (i % 8))) {
			*why = "has host bits set under its prefix";
			return false;
		}
	return true;
}

/* "object \"name\"" prefixes every message about one object */
static void
check_name(struct vctx *v, const char *kind, const char *name,
    const struct srcloc *l)
{
	if (name == NULL)
		verr(v, l, "%s without a name", kind);
	else if (!name_valid(name))
		verr(v, l, "%s \"%s\": invalid name; expected a letter or '_' "
		    "then letters, digits, '_', '.' or '-', at most %d "
		    "characters", kind, name, FWCTL_NAME_MAX);
}

/* Duplicate names among n objects reached through name(): one pass with a
 * hash index, since rulesets hold tens of thousands of rules. */
static void
check_dups(struct vctx *v, const char *kind, size_t n,
    const char *(*name)(const struct ruleset *, size_t),
    const struct srcloc *(*loc)(const struct ruleset *, size_t))
{
	struct strmap *seen;
	char buf[512];
	size_t i;
	void *first;

	if ((seen = strmap_new(n)) == NULL) {
		verr(v, NULL, "out of memory checking %s names", kind);
		return;
	}
	for (i = 0; i < n; i++) {
		if (name(v->rs, i) == NULL)
			continue;
		/* values are index + 1 so that index 0 is not NULL */
		if ((first = strmap_gets(seen, name(v->rs, i))) != NULL) {
			verr(v, loc(v->rs, i), "%s \"%s\" is defined twice%s",
			    kind, name(v->rs, i), first_at(loc(v->rs,
			    (size_t)first - 1), buf, sizeof(buf)));
			continue;
		}
		if (strmap_puts(seen, name(v->rs, i), (void *)(i + 1)) == -1) {
			verr(v, NULL, "out of memory checking %s names", kind);
			break;
		}
	}
	strmap_free(seen);
}

static const char *zone_name_at(const struct ruleset *rs, size_t i)
{ return rs->zones[i]->name; }
static const struct srcloc *zone_loc_at(const struct ruleset *rs, size_t i)
{ return &rs->zones[i]->loc; }
static const char *rule_name_at(const struct ruleset *rs, size_t i)
{ return rs->rules[i]->name; }
static const struct srcloc *rule_loc_at(const struct ruleset *rs, size_t i)
{ return &rs->rules[i]->loc; }
static const char *nat_name_at(const struct ruleset *rs, size_t i)
{ return rs->nats[i]->name; }
static const struct srcloc *nat_loc_at(const struct ruleset *rs, size_t i)
{ return &rs->nats[i]->loc; }
static const char *set_name_at(const struct ruleset *rs, size_t i)
{ return rs->sets[i]->name; }
static const struct srcloc *set_loc_at(const struct ruleset *rs, size_t i)
{ return &rs->sets[i]->loc; }

/* zones */

static void
check_zone(struct vctx *v, const struct zone *z)
{
	const char *name = nz(z->name), *why;
	const struct srcloc *at, *ext;
	struct srcloc b, b2;
	char buf[64];
	size_t i;

	check_name(v, "zone", z->name, &z->loc);
	if (z->name && is_reserved_zone(z->name))
		verr(v, &z->loc, "zone \"%s\": the name is reserved (any, self "
		    "and all stand for every zone, this host, and both)", name);
	if (z->nifaces == 0 && z->nnetworks == 0)
		verr(v, &z->loc, "zone \"%s\" has no interface and no network; "
		    "expected at least one", name);
	for (i = 0; i < z->nifaces; i++) {
		if (z->ifaces[i] == NULL)
			verr(v, &z->loc, "zone \"%s\": empty interface name",
			    name);
		else if (strlen(z->ifaces[i]) > FWCTL_IFNAME_MAX)
			verr(v, &z->loc, "zone \"%s\": interface name \"%s\" is "
			    "%zu characters long; at most %d allowed", name,
			    z->ifaces[i], strlen(z->ifaces[i]),
			    FWCTL_IFNAME_MAX);
		else if (!ifname_valid(z->ifaces[i]))
			verr(v, &z->loc, "zone \"%s\": invalid interface name "
			    "\"%s\"; expected letters, digits, '_', '.', '@' "
			    "or '-', optionally ending in '*'", name,
			    z->ifaces[i]);
	}
	for (i = 0; i < z->nnetworks; i++)
		if (!addr_valid(&z->networks[i], &why))
			verr(v, &z->loc, "zone \"%s\": network %s %s", name,
			    addr_format(&z->networks[i], buf, sizeof(buf)),
			    why);
	/* at the second of the two words, as for address families */
	if ((z->flags & ZONE_DMZ) && (z->flags & ZONE_EXTERNAL)) {
		at = zone_at(z, ZC_DMZ, &b);
		ext = zone_at(z, ZC_EXTERNAL, &b2);
		verr(v, srcloc_after(ext, at) ? ext : at, "zone \"%s\" cannot "
		    "be both dmz and external", name);
	}
	if ((z->flags & ZONE_DMZ) && z->nifaces == 0)
		verr(v, zone_at(z, ZC_DMZ, &b), "zone \"%s\": a dmz zone needs "
		    "an interface", name);
	if (z->flags & ~(unsigned)(ZONE_DMZ | ZONE_EXTERNAL))
		verr(v, &z->loc, "zone \"%s\": unknown flags 0x%x", name,
		    z->flags);
}

/* from/to of a rule or policy; what is "rule \"ssh\"" and the like */
static void
check_zoneref(struct vctx *v, const char *what, const char *pos,
    const char *zone, const struct srcloc *l)
{
	if (zone == NULL)
		verr(v, l, "%s: no %s zone", what, pos);
	else if (!is_reserved_zone(zone) && find_zone(v->rs, zone) == NULL)
		verr(v, l, "%s: unknown zone \"%s\" in %s; expected a defined "
		    "zone, any, self or all", what, zone, pos);
}

static void
check_policies(struct vctx *v)
{
	const struct policy *p, *q;
	char what[200], buf[512];
	struct srcloc b;
	size_t i, j;

	for (i = 0; i < v->rs->npolicies; i++) {
		p = v->rs->policies[i];
		snprintf(what, sizeof(what), "policy %s -> %s", nz(p->from),
		    nz(p->to));
		/* at the zone word itself: a policy has no keywords */
		check_zoneref(v, what, "from", p->from,
		    policy_at(p, PC_FROM, &b));
		check_zoneref(v, what, "to", p->to, policy_at(p, PC_TO, &b));
		if ((p->from && strcmp(p->from, ZONE_ALL) == 0) ||
		    (p->to && strcmp(p->to, ZONE_ALL) == 0))
			verr(v, policy_at(p, p->from && strcmp(p->from,
			    ZONE_ALL) == 0 ? PC_FROM : PC_TO, &b), "%s: all is "
			    "for rules; a policy is between a zone, any or "
			    "self and another", what);
		if (p->from && p->to && strcmp(p->from, ZONE_SELF) == 0 &&
		    strcmp(p->to, ZONE_SELF) == 0)
			verr(v, policy_at(p, PC_TO, &b), "%s: self -> self is "
			    "not a zone pair; the host's own loopback traffic "
			    "is always allowed", what);
		if (verdict_name(p->verdict) == NULL)
			verr(v, policy_at(p, PC_VERDICT, &b), "%s: no verdict; "
			    "expected accept, drop or reject", what);
		if (p->log_prefix && !p->log)
			verr(v, policy_at(p, PC_PREFIX, &b), "%s: log prefix "
			    "without log", what);
		if (p->log_prefix && strlen(p->log_prefix) >
		    FWCTL_LOG_PREFIX_MAX)
			verr(v, policy_at(p, PC_PREFIX, &b), "%s: log prefix is "
			    "%zu bytes long; at most %d allowed", what,
			    strlen(p->log_prefix), FWCTL_LOG_PREFIX_MAX);
		if (p->from == NULL || p->to == NULL)
			continue;
		for (j = 0; j < i; j++) {
			q = v->rs->policies[j];
			if (q->from && q->to && strcmp(p->from, q->from) == 0 &&
			    strcmp(p->to, q->to) == 0)
				break;
		}
		if (j < i)
			verr(v, &p->loc, "%s is given twice%s", what,
			    first_at(&v->rs->policies[j]->loc, buf,
			    sizeof(buf)));
	}
}

/* sets */

struct elem_ref {
	const struct set_elem	*e;
	enum set_type		 type;
	uint8_t			 lo[16];	/* first address of the interval */
	uint8_t			 hi[16];	/* last */
};

static int
elem_ref_cmp(const void *a, const void *b)
{
	const struct elem_ref *x = a, *y = b;
	int c;

	if ((c = memcmp(x->lo, y->lo, sizeof(x->lo))) != 0)
		return c;
	/* the wider interval first, so that later ones fall inside it */
	return -memcmp(x->hi, y->hi, sizeof(x->hi));
}

static void
elem_interval(struct elem_ref *r)
{
	const struct set_elem *e = r->e;
	int i, max;

	memset(r->lo, 0, sizeof(r->lo));
	memset(r->hi, 0, sizeof(r->hi));
	if (r->type == SET_PORT) {
		r->lo[0] = (uint8_t)(e->key.port.lo >> 8);
		r->lo[1] = (uint8_t)e->key.port.lo;
		r->hi[0] = (uint8_t)(e->key.port.hi >> 8);
		r->hi[1] = (uint8_t)e->key.port.hi;
		return;
	}
	max = e->key.addr.family == AF_INET ? 32 : 128;
	memcpy(r->lo, e->key.addr.bytes, (size_t)max / 8);
	memcpy(r->hi, e->key.addr.bytes, (size_t)max / 8);
	for (i = e->key.addr.prefix; i < max; i++)
		r->hi[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

static char *
elem_format(enum set_type t, const struct set_elem *e, char *buf, size_t len)
{
	if (t != SET_PORT)
		return addr_format(&e->key.addr, buf, len);
	if (e->key.port.lo == e->key.port.hi)
		snprintf(buf, len, "%u", e->key.port.lo);
	else
		snprintf(buf, len, "%u-%u", e->key.port.lo, e->key.port.hi);
	return buf;
}

/* Two intervals in key order: the same one, or an overlap. */
static bool
elem_ref_same(const struct elem_ref *a, const struct elem_ref *b)
{
	return memcmp(a->lo, b->lo, sizeof(a->lo)) == 0 &&
	    memcmp(a->hi, b->hi, sizeof(a->hi)) == 0;
}

/*
 * One step of the walk over a set's elements in key order: r follows last;
 * prev is the widest interval seen so far. Returns whether r was reported
 * (listed twice, or overlapping).
 */
static bool
overlap_step(struct vctx *v, const struct set *s, struct elem_ref *prev,
    const struct elem_ref *last, const struct elem_ref *r)
{
	char a[64], b[64];

	if (elem_ref_same(r, last)) {
		verr(v, &s->loc, "set \"%s\": element %s is listed twice",
		    nz(s->name), elem_format(s->type, r->e, a, sizeof(a)));
		return true;
	}
	if (memcmp(r->lo, prev->hi, sizeof(prev->hi)) > 0) {
		*prev = *r;
		return false;
	}
	verr(v, &s->loc, "set \"%s\": element %s overlaps %s", nz(s->name),
	    elem_format(s->type, r->e, a, sizeof(a)),
	    elem_format(s->type, prev->e, b, sizeof(b)));
	/* keep the widest interval as the one to compare against */
	if (memcmp(r->hi, prev->hi, sizeof(prev->hi)) > 0)
		*prev = *r;
	return true;
}

static void
elem_ref_set(struct elem_ref *r, enum set_type t, const struct set_elem *e)
{
	r->e = e;
	r->type = t;
	elem_interval(r);
}

/*
 * Duplicate and overlapping elements: the kernel refuses intervals that
 * overlap, so they are errors here, where we can still name them. Sorting
 * keeps this fast for large block lists.
 */
static void
check_set_overlaps(struct vctx *v, const struct set *s,
    const struct elem_ref *good, size_t n)
{
	struct elem_ref *refs, prev;
	size_t i;

	if (n < 2)
		return;
	if ((refs = calloc(n, sizeof(*refs))) == NULL) {
		verr(v, &s->loc, "set \"%s\": out of memory", nz(s->name));
		return;
	}
	memcpy(refs, good, n * sizeof(*refs));
	qsort(refs, n, sizeof(*refs), elem_ref_cmp);
	prev = refs[0];
	for (i = 1; i < n; i++)
		(void)overlap_step(v, s, &prev, &refs[i - 1], &refs[i]);
	free(refs);
}

/* An element of set s on its own; false (reported) when it is bad. */
bool
limit_fits(const struct limit *l)
{
	uint64_t	 unit, per;
	uint32_t	 burst;

	switch (l->unit) {
	case LIMIT_SECOND:
		unit = 1;
		break;
	case LIMIT_MINUTE:
		unit = 60;
		break;
	case LIMIT_HOUR:
		unit = 3600;
		break;
	case LIMIT_DAY:
		unit = 86400;
		break;
	default:
		return false;
	}
	if (l->rate == 0)
		return false;
	burst = l->burst ? l->burst : FWCTL_LIMIT_BURST_DEFAULT;
	per = unit * 1000000000ULL / l->rate;
	return per <= UINT64_MAX / burst;
}

static void
check_timeout(struct vctx *v, const struct set *s, uint64_t ms,
    const char *what)
{
	char buf[64];

	if (ms > FWCTL_TIMEOUT_MAX_MS)
		verr(v, &s->loc, "set \"%s\": %s %s is too long; at most "
		    FWCTL_TIMEOUT_MAX_TEXT " (100 years)", nz(s->name), what,
		    duration_format(ms, buf, sizeof(buf)) ? buf : "?");
}

static bool
check_elem(struct vctx *v, const struct set *s, const struct set_elem *e)
{
	const char *why;
	char buf[64];
	int want = s->type == SET_IPV4 ? AF_INET : AF_INET6;

	if (e->timeout_ms > FWCTL_TIMEOUT_MAX_MS) {
		check_timeout(v, s, e->timeout_ms, "element timeout");
		return false;
	}

	if (s->type == SET_PORT) {
		if (e->key.port.lo > e->key.port.hi) {
			verr(v, &s->loc, "set \"%s\": port range %u-%u is "
			    "reversed; expected low-high", nz(s->name),
			    e->key.port.lo, e->key.port.hi);
			return false;
		}
	} else if (!addr_valid(&e->key.addr, &why)) {
		verr(v, &s->loc, "set \"%s\": element %s %s", nz(s->name),
		    addr_format(&e->key.addr, buf, sizeof(buf)), why);
		return false;
	} else if (e->key.addr.family != want) {
		verr(v, &s->loc, "set \"%s\": element %s is %s; expected an "
		    "%s address in a set of type %s", nz(s->name),
		    addr_format(&e->key.addr, buf, sizeof(buf)),
		    family_name(e->key.addr.family), family_name(want),
		    set_type_name(s->type));
		return false;
	}
	return true;
}

static void
check_set(struct vctx *v, const struct set *s)
{
	struct elem_ref *good;
	size_t i, ngood = 0;

	check_name(v, "set", s->name, &s->loc);
	if (set_type_name(s->type) == NULL) {
		verr(v, &s->loc, "set \"%s\": unknown type; expected ipv4, ipv6 "
		    "or port", nz(s->name));
		return;
	}
	check_timeout(v, s, s->timeout_ms, "timeout");
	if (s->nelems == 0)
		return;
	if ((good = calloc(s->nelems, sizeof(*good))) == NULL) {
		verr(v, &s->loc, "set \"%s\": out of memory", nz(s->name));
		return;
	}
	for (i = 0; i < s->nelems; i++)
		if (check_elem(v, s, &s->elems[i]))
			elem_ref_set(&good[ngood++], s->type, &s->elems[i]);
	check_set_overlaps(v, s, good, ngood);
	free(good);
}

/*
 * New elements against a valid set in key order: the walk of
 * check_set_overlaps over the merged order, skipping the runs of existing
 * elements that cannot be reported (they do not overlap one another), so
 * that one element costs a binary search.
 */
static void
check_set_merge(struct vctx *v, const struct set *s, const struct elem_ref *a,
    size_t n)
{
	struct elem_ref prev, last, cur;
	size_t i = 0, j = 0, k;
	bool started = false, clean = true, old;

	memset(&prev, 0, sizeof(prev));
	memset(&last, 0, sizeof(last));
	while (i < s->nelems || j < n) {
		if (j == n && clean && started)
			break;
		if (j < n && clean && i < s->nelems) {
			k = set_lower_bound(s, a[j].e);
			if (k > i + 1)
				i = k - 1;
		}
		old = j == n || (i < s->nelems &&
		    set_elem_cmp(s->type, &s->elems[i], a[j].e) < 0);
		if (old)
			elem_ref_set(&cur, s->type, &s->elems[i++]);
		else
			cur = a[j++];
		if (!started) {
			prev = last = cur;
			started = true;
			clean = old;
			continue;
		}
		/* not reported: cur is the widest so far */
		clean = !overlap_step(v, s, &prev, &last, &cur) && old;
		last = cur;
	}
}

int
validate_set_elems(const struct set *s, const struct set_elem *add,
    size_t n, struct diags *d)
{
	struct vctx v;
	struct elem_ref *good;
	size_t i, ngood = 0;

	v.rs = NULL;
	v.d = d;
	v.n = 0;
	if (n == 0)
		return 0;
	if ((good = calloc(n, sizeof(*good))) == NULL) {
		verr(&v, &s->loc, "set \"%s\": out of memory", nz(s->name));
		return v.n;
	}
	for (i = 0; i < n; i++)
		if (check_elem(&v, s, &add[i]))
			elem_ref_set(&good[ngood++], s->type, &add[i]);
	check_set_merge(&v, s, good, ngood);
	free(good);
	return v.n;
}

/* address families of matches */

/* One thing in a rule or NAT entry that fixes the address family. */
struct famwit {
	int		 family;
	struct srcloc	 at;	/* its clause; file borrowed */
	/* what to call it, put in words only when two disagree (most
	 * statements agree): pre, then the address (", ..." after it when
	 * more) or the set, borrowed from the ruleset */
	const char	*pre;
	const struct addr *addr;
	const char	*set;
	bool		 more;
};

/* Appends a witness of family at l: pre alone, or followed by addr or by
 * set. */
static void
famwit_add(struct famwit *w, size_t *nw, int family, const struct srcloc *l,
    const char *pre, const struct addr *addr, const char *set, bool more)
{
	w[*nw].family = family;
	w[*nw].at = *l;
	w[*nw].pre = pre;
	w[*nw].addr = addr;
	w[*nw].set = set;
	w[*nw].more = more;
	(*nw)++;
}

/* The witness in words: "src 10.0.0.1, ...", "dst @hosts (ipv4 set)". */
static const char *
famwit_what(const struct famwit *w, char *buf, size_t len)
{
	char a[64];

	if (w->set != NULL)
		snprintf(buf, len, "%s @%s (%s set)", w->pre, w->set,
		    set_type_name(w->family == AF_INET ? SET_IPV4 : SET_IPV6));
	else if (w->addr != NULL)
		snprintf(buf, len, "%s %s%s", w->pre, addr_format(w->addr, a,
		    sizeof(a)), w->more ? ", ..." : "");
	else
		snprintf(buf, len, "%s", w->pre);
	return buf;
}

/*
 * An address match: addresses well formed, a set that exists and holds
 * addresses. Adds the match's family to w when it has only one: a list of
 * both families fixes none (the rule becomes one kernel rule per family,
 * each with its family's part of the list).
 */
static void
check_addrmatch(struct vctx *v, const char *obj, const char *pos,
    const struct addrmatch *m, const struct srcloc *l, struct famwit *w,
    size_t *nw)
{
	const struct set *s;
	const char *why;
	char a[64];
	size_t i;
	bool both = false;

	if (m->set) {
		if (m->naddrs)
			verr(v, l, "%s: %s has both a set and addresses", obj,
			    pos);
		if ((s = find_set(v->rs, m->set)) == NULL) {
			verr(v, l, "%s: unknown set @%s in %s", obj, m->set,
			    pos);
			return;
		}
		if (s->type == SET_PORT) {
			verr(v, l, "%s: %s @%s is a port set; expected an ipv4 "
			    "or ipv6 set", obj, pos, m->set);
			return;
		}
		famwit_add(w, nw, s->type == SET_IPV4 ? AF_INET : AF_INET6, l,
		    pos, NULL, m->set, false);
		return;
	}
	for (i = 0; i < m->naddrs; i++) {
		if (!addr_valid(&m->addrs[i], &why)) {
			verr(v, l, "%s: %s address %s %s", obj, pos,
			    addr_format(&m->addrs[i], a, sizeof(a)), why);
			return;
		}
		if (m->addrs[i].family != m->addrs[0].family)
			both = true;
	}
	if (m->naddrs == 0 || both)
		return;
	famwit_add(w, nw, m->addrs[0].family, l, pos, &m->addrs[0], NULL,
	    m->naddrs > 1);
}

/*
 * Every witness must agree with the first. A conflict is reported at the
 * one of the two that comes later in the text: the clause that went wrong
 * given what the statement had said before it.
 */
static void
check_families(struct vctx *v, const char *obj, const struct famwit *w,
    size_t nw)
{
	char a[128], b[128];
	size_t i;

	for (i = 1; i < nw; i++)
		if (w[i].family != w[0].family) {
			verr(v, srcloc_after(&w[0].at, &w[i].at) ? &w[0].at :
			    &w[i].at, "%s: %s is %s but %s is %s; one "
			    "statement matches one address family", obj,
			    famwit_what(&w[0], a, sizeof(a)),
			    family_name(w[0].family),
			    famwit_what(&w[i], b, sizeof(b)),
			    family_name(w[i].family));
			return;
		}
}

static bool
proto_has_ports(int proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    proto == IPPROTO_SCTP;
}

static void
check_portmatch(struct vctx *v, const char *obj, const char *pos,
    const struct portmatch *m, const struct srcloc *l)
{
	const struct set *s;
	size_t i;

	if (m->set) {
		if (m->nranges)
			verr(v, l, "%s: %s has both a set and ports", obj, pos);
		if ((s = find_set(v->rs, m->set)) == NULL)
			verr(v, l, "%s: unknown set @%s in %s", obj, m->set,
			    pos);
		else if (s->type != SET_PORT)
			verr(v, l, "%s: %s @%s is an %s set; expected a port "
			    "set", obj, pos, m->set, set_type_name(s->type));
	}
	for (i = 0; i < m->nranges; i++)
		if (m->ranges[i].lo > m->ranges[i].hi)
			verr(v, l, "%s: %s range %u-%u is reversed; expected "
			    "low-high", obj, pos, m->ranges[i].lo,
			    m->ranges[i].hi);
}

/* rules */

static void
check_limit(struct vctx *v, const char *obj, const struct limit *lim,
    const struct srcloc *l)
{
	if (lim->rate == 0 && (lim->unit || lim->burst))
		verr(v, l, "%s: limit rate 0; expected at least 1", obj);
	/* the state file keeps the rate as a JSON integer (signed 64 bit) */
	if (lim->rate > INT64_MAX)
		verr(v, l, "%s: limit rate %ju is too large; at most %jd",
		    obj, (uintmax_t)lim->rate, (intmax_t)INT64_MAX);
	if (lim->rate && limit_unit_name(lim->unit) == NULL)
		verr(v, l, "%s: limit without a unit; expected second, minute, "
		    "hour or day", obj);
	else if (lim->rate && lim->rate <= INT64_MAX && !limit_fits(lim))
		verr(v, l, "%s: limit %ju/%s burst %u is beyond the kernel's "
		    "range: (one %s in ns / rate) * burst must fit 64 bits; "
		    "use a higher rate or a smaller burst", obj,
		    (uintmax_t)lim->rate, limit_unit_name(lim->unit),
		    lim->burst ? lim->burst : FWCTL_LIMIT_BURST_DEFAULT,
		    limit_unit_name(lim->unit));
}

static void
check_rule(struct vctx *v, const struct rule *r)
{
	struct famwit w[5];
	struct srcloc b;
	char obj[96];
	size_t nw = 0;
	const struct srcloc *l = &r->loc;
	bool ports = r->sport.nranges || r->sport.set || r->dport.nranges ||
	    r->dport.set;

	obj_words(obj, sizeof(obj), "rule", r->name);
	check_name(v, "rule", r->name, l);
	check_zoneref(v, obj, "from", r->from, rule_at(r, RC_FROM, &b));
	check_zoneref(v, obj, "to", r->to, rule_at(r, RC_TO, &b));
	if (r->from && r->to && strcmp(r->from, ZONE_SELF) == 0 &&
	    strcmp(r->to, ZONE_SELF) == 0)
		verr(v, rule_at(r, RC_TO, &b), "%s: from self to self is not a "
		    "zone pair", obj);
	if (verdict_name(r->verdict) == NULL)
		verr(v, rule_at(r, RC_VERDICT, &b), "%s: no verdict; expected "
		    "accept, drop or reject", obj);
	if (r->proto != PROTO_NONE && proto_name(r->proto) == NULL)
		verr(v, rule_at(r, RC_PROTO, &b), "%s: unknown protocol %d",
		    obj, r->proto);
	if (ports && !proto_has_ports(r->proto))
		verr(v, rule_at(r, r->sport.nranges || r->sport.set ?
		    RC_SPORT : RC_DPORT, &b), "%s: sport/dport need tcp, udp "
		    "or sctp", obj);
	check_portmatch(v, obj, "sport", &r->sport, rule_at(r, RC_SPORT, &b));
	check_portmatch(v, obj, "dport", &r->dport, rule_at(r, RC_DPORT, &b));
	if (r->nicmp_types && r->proto != IPPROTO_ICMP &&
	    r->proto != IPPROTO_ICMPV6)
		verr(v, rule_at(r, RC_TYPE, &b), "%s: an icmp type needs icmp "
		    "or icmpv6", obj);
	if (r->state & ~(unsigned)(CTSTATE_NEW | CTSTATE_ESTABLISHED |
	    CTSTATE_RELATED | CTSTATE_INVALID))
		verr(v, rule_at(r, RC_STATE, &b), "%s: unknown connection "
		    "state bits 0x%x", obj, r->state);
	check_limit(v, obj, &r->limit, rule_at(r, RC_LIMIT, &b));
	if (r->log_prefix && !r->log)
		verr(v, rule_at(r, RC_PREFIX, &b), "%s: log prefix without "
		    "log", obj);
	if (r->log_prefix && strlen(r->log_prefix) > FWCTL_LOG_PREFIX_MAX)
		verr(v, rule_at(r, RC_PREFIX, &b), "%s: log prefix is %zu "
		    "bytes long; at most %d allowed", obj,
		    strlen(r->log_prefix), FWCTL_LOG_PREFIX_MAX);
	if (r->comment && strlen(r->comment) > FWCTL_COMMENT_MAX)
		verr(v, rule_at(r, RC_COMMENT, &b), "%s: comment is %zu bytes "
		    "long; at most %d allowed", obj, strlen(r->comment),
		    FWCTL_COMMENT_MAX);
	if (r->family != 0 && r->family != AF_INET && r->family != AF_INET6)
		verr(v, rule_at(r, RC_FAMILY, &b), "%s: unknown IP version %d; "
		    "expected ip4 or ip6", obj, r->family);
	else if (r->family != 0)
		famwit_add(w, &nw, r->family, rule_at(r, RC_FAMILY, &b),
		    r->family == AF_INET ? "ip4" : "ip6", NULL, NULL, false);
	if (r->proto == IPPROTO_ICMP)
		famwit_add(w, &nw, AF_INET, rule_at(r, RC_PROTO, &b), "icmp",
		    NULL, NULL, false);
	else if (r->proto == IPPROTO_ICMPV6)
		famwit_add(w, &nw, AF_INET6, rule_at(r, RC_PROTO, &b),
		    "icmpv6", NULL, NULL, false);
	check_addrmatch(v, obj, "src", &r->src, rule_at(r, RC_SRC, &b), w,
	    &nw);
	check_addrmatch(v, obj, "dst", &r->dst, rule_at(r, RC_DST, &b), w,
	    &nw);
	check_families(v, obj, w, nw);
}

/* NAT */

static bool
ranges_overlap(const struct portrange *a, const struct portrange *b)
{
	return a->lo <= b->hi && b->lo <= a->hi;
}

/*
 * A forward target must be reachable: when zones declare networks of the
 * target's family and every internal zone is pinned to its networks, the
 * target has to sit inside one of them. An internal zone known only by its
 * interfaces may hold any address, so it lets any target through.
 */
static bool
target_placed(const struct ruleset *rs, const struct addr *t)
{
	const struct zone *z;
	bool declared = false, open = false;
	size_t i, j;

	for (i = 0; i < rs->nzones; i++) {
		z = rs->zones[i];
		for (j = 0; j < z->nnetworks; j++) {
			if (z->networks[j].family != t->family)
				continue;
			declared = true;
			if (addr_in_network(t, &z->networks[j]))
				return true;
		}
		if (!(z->flags & ZONE_EXTERNAL) && z->nifaces &&
		    z->nnetworks == 0)
			open = true;
	}
	return !declared || open;
}

static void
check_nat(struct vctx *v, const struct nat *n, size_t idx)
{
	const struct zone *to;
	const struct nat *o;
	const char *why, *kind = nat_kind_name(n->kind);
	struct famwit w[3];
	struct srcloc b;
	char obj[96], a[64], buf[512];
	const struct srcloc *l = &n->loc, *at;
	size_t nw = 0, j;

	obj_words(obj, sizeof(obj), "nat", n->name);
	check_name(v, "nat", n->name, l);
	if (kind == NULL) {
		verr(v, l, "%s: unknown kind; expected masquerade, snat or "
		    "forward", obj);
		return;
	}
	at = nat_at(n, NC_FROM, &b);
	if (n->from == NULL)
		verr(v, at, "%s: no from zone", obj);
	else if (strcmp(n->from, ZONE_SELF) == 0)
		verr(v, at, "%s: from self; expected a zone%s", obj,
		    n->kind == NAT_FORWARD ? "" : " or any");
	else if (strcmp(n->from, ZONE_ANY) == 0) {
		if (n->kind == NAT_FORWARD)
			verr(v, at, "%s: forward from any; expected the zone "
			    "the forwarded traffic arrives from", obj);
	} else if (find_zone(v->rs, n->from) == NULL)
		verr(v, at, "%s: unknown zone \"%s\" in from", obj, n->from);

	if (n->kind != NAT_FORWARD) {
		at = nat_at(n, NC_TO, &b);
		if (n->to == NULL)
			verr(v, at, "%s: %s needs a to zone", obj, kind);
		else if (is_reserved_zone(n->to))
			verr(v, at, "%s: %s to %s; expected a zone with an "
			    "interface", obj, kind, n->to);
		else if ((to = find_zone(v->rs, n->to)) == NULL)
			verr(v, at, "%s: unknown zone \"%s\" in to", obj,
			    n->to);
		else if (to->nifaces == 0)
			verr(v, at, "%s: %s to zone \"%s\", which has no "
			    "interface; expected a zone with an interface",
			    obj, kind, n->to);
	}
	if (n->kind == NAT_SNAT) {
		at = nat_at(n, NC_AS, &b);
		if (!addr_valid(&n->snat_addr, &why))
			verr(v, at, "%s: snat address %s", obj, why);
		else if (!addr_is_host(&n->snat_addr))
			verr(v, at, "%s: snat as %s is a network; expected a "
			    "host address", obj, addr_format(&n->snat_addr, a,
			    sizeof(a)));
		else
			famwit_add(w, &nw, n->snat_addr.family, at, "as",
			    &n->snat_addr, NULL, false);
	}
	if (n->kind == NAT_FORWARD) {
		if (!proto_has_ports(n->proto))
			verr(v, nat_at(n, NC_PROTO, &b), "%s: forward needs "
			    "tcp, udp or sctp", obj);
		if (n->dport.lo > n->dport.hi)
			verr(v, nat_at(n, NC_DPORT, &b), "%s: dport range "
			    "%u-%u is reversed; expected low-high", obj,
			    n->dport.lo, n->dport.hi);
		/* no connection is made to port 0: such an entry would
		 * forward nothing and open nothing */
		else if (n->dport.lo == 0)
			verr(v, nat_at(n, NC_DPORT, &b), "%s: dport %s is not "
			    "a port connections are made to; expected ports "
			    "1-65535", obj, n->dport.hi == 0 ? "0" :
			    "range from 0");
		/* a good dport range that the target port cannot follow:
		 * the target is what to change */
		else if (n->target_port && (uint32_t)n->target_port +
		    (n->dport.hi - n->dport.lo) > 65535)
			verr(v, nat_at(n, NC_TARGET, &b), "%s: target ports "
			    "%u-%u run past 65535", obj, n->target_port,
			    (unsigned)n->target_port +
			    (n->dport.hi - n->dport.lo));
		/* the kernel's NAT expression maps a range onto a range of
		 * choices, not port by port, so only the same ports are
		 * forwarded faithfully */
		else if (n->target_port && n->dport.lo != n->dport.hi &&
		    n->target_port != n->dport.lo)
			verr(v, nat_at(n, NC_TARGET, &b), "%s: a port range "
			    "can only be forwarded to the same ports; expected "
			    "\"to ADDR\" or \"to ADDR:%u\"", obj, n->dport.lo);
		at = nat_at(n, NC_TARGET, &b);
		if (!addr_valid(&n->target, &why))
			verr(v, at, "%s: forward target %s", obj, why);
		else if (!addr_is_host(&n->target))
			verr(v, at, "%s: forward target %s is a network; "
			    "expected a single host address", obj,
			    addr_format(&n->target, a, sizeof(a)));
		else {
			if (!target_placed(v->rs, &n->target))
				verr(v, at, "%s: forward target %s is in no "
				    "zone's network; expected an address "
				    "inside a zone", obj,
				    addr_format(&n->target, a, sizeof(a)));
			famwit_add(w, &nw, n->target.family, at, "target",
			    &n->target, NULL, false);
		}
		for (j = 0; j < idx; j++) {
			o = v->rs->nats[j];
			if (o->kind != NAT_FORWARD || o->proto != n->proto ||
			    !o->from || !n->from || strcmp(o->from, n->from) ||
			    o->target.family != n->target.family ||
			    !ranges_overlap(&o->dport, &n->dport))
				continue;
			if (n->dport.hi != n->dport.lo)
				snprintf(a, sizeof(a), "ports %u-%u",
				    n->dport.lo, n->dport.hi);
			else
				snprintf(a, sizeof(a), "port %u", n->dport.lo);
			verr(v, nat_at(n, NC_DPORT, &b), "%s: %s %s from zone "
			    "\"%s\" is already forwarded by nat \"%s\"%s", obj,
			    nz(proto_name(n->proto)), a, n->from,
			    nz(o->name), first_at(&o->loc, buf, sizeof(buf)));
			break;
		}
	}
	check_addrmatch(v, obj, "src", &n->src, nat_at(n, NC_SRC, &b), w, &nw);
	check_families(v, obj, w, nw);
}

/*
 * A rule and a NAT entry may not share a name: the kernel's counters and
 * the API's name them alike, so one would show the other's packets.
 * other is the object of the other kind already holding the name.
 */
static void
name_taken(struct vctx *v, const char *kind, const char *name,
    const struct srcloc *l, const char *okind, const struct srcloc *ol)
{
	char at[512] = "";

	if (ol->file && ol->line)
		snprintf(at, sizeof(at), " (at %s:%d:%d)", ol->file, ol->line,
		    ol->col);
	else if (ol->line)
		snprintf(at, sizeof(at), " (at %d:%d)", ol->line, ol->col);
	verr(v, l, "%s \"%s\": the name is taken by %s \"%s\"%s; a rule and "
	    "a NAT entry need different names (their counters are reported "
	    "by name)", kind, name, okind, name, at);
}

/* Every NAT entry against the rules: one pass with a hash index. */
static void
check_shared_names(struct vctx *v)
{
	const struct ruleset *rs = v->rs;
	struct strmap *rules;
	void *at;
	size_t i;

	if (rs->nnats == 0)
		return;
	if ((rules = strmap_new(rs->nrules)) == NULL) {
		verr(v, NULL, "out of memory checking rule and nat names");
		return;
	}
	for (i = 0; i < rs->nrules; i++)
		if (rs->rules[i]->name != NULL &&
		    strmap_puts(rules, rs->rules[i]->name, (void *)(i + 1)) ==
		    -1) {
			verr(v, NULL, "out of memory checking rule and nat "
			    "names");
			strmap_free(rules);
			return;
		}
	for (i = 0; i < rs->nnats && !vfull(v); i++)
		if (rs->nats[i]->name != NULL && (at = strmap_gets(rules,
		    rs->nats[i]->name)) != NULL)
			name_taken(v, "nat", rs->nats[i]->name,
			    &rs->nats[i]->loc, "rule",
			    &rs->rules[(size_t)at - 1]->loc);
	strmap_free(rules);
}

int
validate_rule(const struct ruleset *rs, const struct rule *r, struct diags *d)
{
	struct vctx v;
	ssize_t k;

	v.rs = rs;
	v.d = d;
	v.n = 0;
	check_rule(&v, r);
	if (r->name != NULL && (k = ruleset_find_nat(rs, r->name)) >= 0)
		name_taken(&v, "rule", r->name, &r->loc, "nat",
		    &rs->nats[k]->loc);
	return v.n;
}

int
validate_nat(const struct ruleset *rs, const struct nat *n, size_t idx,
    struct diags *d)
{
	struct vctx v;
	ssize_t k;

	v.rs = rs;
	v.d = d;
	v.n = 0;
	check_nat(&v, n, idx);
	if (n->name != NULL && (k = ruleset_find_rule(rs, n->name)) >= 0)
		name_taken(&v, "nat", n->name, &n->loc, "rule",
		    &rs->rules[k]->loc);
	return v.n;
}

int
validate_policies(const struct ruleset *rs, struct diags *d)
{
	struct vctx v;

	v.rs = rs;
	v.d = d;
	v.n = 0;
	check_policies(&v);
	return v.n;
}

int
validate_ruleset(const struct ruleset *rs, struct diags *d)
{
	struct vctx v;
	size_t i;

	v.rs = rs;
	v.d = d;
	v.n = 0;
	for (i = 0; i < rs->nzones && !vfull(&v); i++)
		check_zone(&v, rs->zones[i]);
	if (!vfull(&v))
		check_dups(&v, "zone", rs->nzones, zone_name_at, zone_loc_at);
	for (i = 0; i < rs->nsets && !vfull(&v); i++)
		check_set(&v, rs->sets[i]);
	if (!vfull(&v))
		check_dups(&v, "set", rs->nsets, set_name_at, set_loc_at);
	if (!vfull(&v))
		check_policies(&v);
	for (i = 0; i < rs->nrules && !vfull(&v); i++)
		check_rule(&v, rs->rules[i]);
	if (!vfull(&v))
		check_dups(&v, "rule", rs->nrules, rule_name_at, rule_loc_at);
	for (i = 0; i < rs->nnats && !vfull(&v); i++)
		check_nat(&v, rs->nats[i], i);
	if (!vfull(&v))
		check_dups(&v, "nat", rs->nnats, nat_name_at, nat_loc_at);
	if (!vfull(&v))
		check_shared_names(&v);
	return v.n;
}
