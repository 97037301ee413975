/*
 * Groups of rules for the compiler: a run of same-shape rules in a pair
 * chain becomes one kernel rule that looks its key up in a set of its own,
 * with a counter and the rule's name per element (docs/design-compile.md,
 * "Groups of rules"). Also what the single-rule paths of nft/ ask: whether
 * a rule is or would be in a group, and the element a rule joining the
 * group of the rule before it adds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "compile.h"

/*
 * The switch: runs of at least GROUP_MIN same-shape rules become one rule
 * and a set with a counter per element; 0 turns grouping off.
 */
#define GROUP_MIN	4
/* How far a walk of a pair chain (chain_near) looks for a neighbour. */
#define GROUP_SCAN	200000
/* run_edge: a rule of the run's shape before it, after it */
#define EDGE_FRONT	1u
#define EDGE_BACK	2u
/*
 * A concatenation of intervals costs the kernel time in proportion to its
 * size for every element added in a transaction (it copies its lookup
 * tables), so a load of n elements into one set takes time in n^2 (6,250
 * boxes: 0.4 s, 12,500: 1.5 s), and removing one element walks the set
 * (a delete in a set of 512 IPv6 boxes: 6.5 ms, of 128: 1.9 ms). So a run
 * is cut into sets of GROUP_SPAN_CHUNK rules on average: a rule whose name
 * hashes to a multiple of it starts a set of its own. Chosen by the name
 * alone, so adding or removing another rule moves no cut (a rule joining
 * the set before it stays one element; only a rule that starts a set
 * changes the layout). Each set is one kernel rule more, and a packet
 * that matches none looks in each of them.
 */
#define GROUP_SPAN_CHUNK	128

bool
compile_grouping(void)
{
	return GROUP_MIN > 0;
}

/* One address (host or network) or none, one port (or range) or none:
 * a field of a group's key, or no field. */
static bool
addr_one(const struct addrmatch *m)
{
	return m->set == NULL && m->naddrs <= 1;
}

static bool
port_single(const struct portmatch *m)
{
	return m->set == NULL && m->nranges <= 1;
}

static uint32_t
addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* The key's fields, in load order. */
enum { GF_SRC, GF_DST, GF_SPORT, GF_DPORT, GF_ICMP, GF_N };

/* The family ICMP (or ICMPv6) is of, else 0. */
static int
icmp_family(const struct rule *ru)
{
	return ru->proto == IPPROTO_ICMP ? AF_INET :
	    ru->proto == IPPROTO_ICMPV6 ? AF_INET6 : 0;
}

/* The fields where ru has an interval (a network, a port range): a bit
 * per GF_. A group's key may have one such field. */
static unsigned
group_spans(const struct rule *ru)
{
	unsigned m = 0;

	if (ru->src.naddrs == 1 && ru->src.addrs[0].prefix !=
	    (int)addr_len(ru->src.addrs[0].family) * 8)
		m |= 1u << GF_SRC;
	if (ru->dst.naddrs == 1 && ru->dst.addrs[0].prefix !=
	    (int)addr_len(ru->dst.addrs[0].family) * 8)
		m |= 1u << GF_DST;
	if (ru->sport.nranges == 1 &&
	    ru->sport.ranges[0].lo != ru->sport.ranges[0].hi)
		m |= 1u << GF_SPORT;
	if (ru->dport.nranges == 1 &&
	    ru->dport.ranges[0].lo != ru->dport.ranges[0].hi)
		m |= 1u << GF_DPORT;
	return m;
}

/* Whether rule ru starts a set of its own in a run of intervals. */
static bool
chunk_start(const struct rule *ru)
{
	uint32_t h = 2166136261u;
	const unsigned char *c;

	for (c = (const unsigned char *)ru->name; *c != '\0'; c++)
		h = (h ^ *c) * 16777619u;
	/* FNV-1a's low bits follow the last bytes: mix them all in */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h % GROUP_SPAN_CHUNK == 0;
}

static bool
one_bit(unsigned m)
{
	return (m & (m - 1)) == 0;
}

/* The family of a rule that may be in a group (0 for both), or -1 when
 * it may not: a per-source limit has a meter set of its own, lists and
 * sets are not one key (nor are several ICMP types). A limit is an
 * element's own (the set's template), so rules with one go together when
 * their limits are the same. */
static int
group_family(const struct rule *ru)
{
	int f = icmp_family(ru);
	uint32_t len = 0, nf = 0;

	if (ru->limit.per_source || ru->nicmp_types > 1 ||
	    !addr_one(&ru->src) || !addr_one(&ru->dst) ||
	    !port_single(&ru->sport) || !port_single(&ru->dport) ||
	    !one_bit(group_spans(ru)))
		return -1;
	if (ru->src.naddrs == 1) {
		if (f != 0 && f != ru->src.addrs[0].family)
			return -1;
		f = ru->src.addrs[0].family;
		len += addr_len(f);
		nf++;
	}
	if (ru->dst.naddrs == 1) {
		if (f != 0 && f != ru->dst.addrs[0].family)
			return -1;
		f = ru->dst.addrs[0].family;
		len += addr_len(f);
		nf++;
	}
	len += 4 * (uint32_t)(ru->sport.nranges + ru->dport.nranges +
	    ru->nicmp_types);
	nf += (uint32_t)(ru->sport.nranges + ru->dport.nranges +
	    ru->nicmp_types);
	/* room for the lead field of a concatenation with intervals */
	if (nf == 0 || len + 4 > sizeof(((struct celem *)0)->key) ||
	    (f == 0 && ru->proto == PROTO_NONE))
		return -1;
	return f;
}

static bool
str_same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The same limit, as the kernel takes it (or none). */
static bool
limit_same(const struct rule *a, const struct rule *b)
{
	uint64_t ra, ua, rb, ub;
	uint32_t ba, bb;

	if ((a->limit.rate == 0) != (b->limit.rate == 0))
		return false;
	if (a->limit.rate == 0)
		return true;
	compile_limit(&a->limit, &ra, &ua, &ba);
	compile_limit(&b->limit, &rb, &ub, &bb);
	return ra == rb && ua == ub && ba == bb;
}

/* Rules of one class: that differ only in their key (same sides,
 * protocol, verdict, state, log, limit, the same fields present). */
static bool
group_class_same(const struct rule *a, const struct rule *b)
{
	int fa;

	if ((fa = group_family(a)) == -1 || group_family(b) != fa)
		return false;
	return strcmp(a->from, b->from) == 0 && strcmp(a->to, b->to) == 0 &&
	    a->proto == b->proto && a->verdict == b->verdict &&
	    a->state == b->state && a->log == b->log &&
	    str_same(a->log_prefix, b->log_prefix) && limit_same(a, b) &&
	    a->src.naddrs == b->src.naddrs && a->dst.naddrs == b->dst.naddrs &&
	    a->sport.nranges == b->sport.nranges &&
	    a->dport.nranges == b->dport.nranges &&
	    a->nicmp_types == b->nicmp_types;
}

/* Rules of one class whose intervals (if any) are in one field: two
 * elements of one group set. */
static bool
group_same(const struct rule *a, const struct rule *b)
{
	return group_class_same(a, b) &&
	    one_bit(group_spans(a) | group_spans(b));
}

/* ---- classes: where a run may step over other rules ----------------- */

/*
 * A run of one class steps over a rule of another shape that cannot meet
 * any rule of the class: then no packet matches both, and the order
 * between them does not matter. Where a class's keys lie is kept as
 * blocks (a /16 of IPv4, a /32 of IPv6, 1024 ports, an ICMP type) with a
 * count of its rules in each: a rule whose family, protocol or values in
 * one of the class's fields miss them all is disjoint from every rule of
 * the class; any other rule ends the class's runs where it stands. Blocks
 * of the whole class rather than of each run, so that where runs end
 * depends on no run's start: a single change is seen from the rules next
 * to it (compile_group_at), and only a change that adds or empties a
 * block (compile_groups_kept) asks more.
 */
#define BLK_WHOLE	64	/* a key over more blocks: the whole field */

struct gblk {
	uint32_t	 b;
	uint32_t	 n;
};

struct gfield {
	struct gblk	*v;		/* by block */
	size_t		 n;
	size_t		 cap;
	uint32_t	 whole;		/* rules over more than BLK_WHOLE */
	bool		 raw;		/* the whole compile's: v in the order
					 * rules came, a block more than once
					 * (field_seal sorts it) */
};

struct gclass {
	char		*key;		/* class_key */
	int		 family;	/* group_family */
	int		 proto;
	unsigned	 fields;	/* GF_ bits */
	size_t		 count;		/* its rules in the chain */
	size_t		 last;		/* the whole compile: the index of the
					 * last of them */
	struct gfield	 f[GF_N];
};

/* The blocks of every rule of a chain, per field and IP version: where a
 * class's blocks move, whether any other rule has values there. */
enum { GI_SRC4, GI_SRC6, GI_DST4, GI_DST6, GI_SPORT, GI_DPORT, GI_ICMP,
	GI_N };

struct gtab {
	char		*from;		/* the pair chain compile_pair_rules
					 * fills */
	char		*to;
	struct gclass	**v;
	size_t		 n;
	size_t		 cap;
	struct gfield	 idx[GI_N];
	bool		 raw;		/* being filled by the whole compile */
};

struct gtabs {
	struct gtab	*v;
	size_t		 n;
	size_t		 cap;
};

/* Longest class key: two zone words, a log prefix, eleven numbers. */
#define CLASS_KEY_MAX	(2 * (FWCTL_NAME_MAX + 1) + FWCTL_LOG_PREFIX_MAX + \
			 2 + 11 * 21)

static char *
ck_str(char *p, const char *s)
{
	size_t l = strlen(s);

	memcpy(p, s, l);
	p[l] = '\n';
	return p + l + 1;
}

static char *
ck_num(char *p, unsigned long long v)
{
	char d[24];
	size_t l = 0;

	do
		d[l++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (l > 0)
		*p++ = d[--l];
	*p++ = ' ';
	return p;
}

/* What group_class_same compares, as a string, into k (CLASS_KEY_MAX + 1
 * bytes): false for a rule in no class. Built by hand: the walks of a
 * compile ask it for every rule they pass. */
static bool
class_key(const struct rule *ru, char *k)
{
	uint64_t r = 0, u = 0;
	uint32_t b = 0;
	int f;
	char *p = k;

	if ((f = group_family(ru)) == -1 ||
	    strlen(ru->from) > FWCTL_NAME_MAX ||
	    strlen(ru->to) > FWCTL_NAME_MAX || (ru->log_prefix != NULL &&
	    strlen(ru->log_prefix) > FWCTL_LOG_PREFIX_MAX))
		return false;
	if (ru->limit.rate != 0)
		compile_limit(&ru->limit, &r, &u, &b);
	p = ck_str(p, ru->from);
	p = ck_str(p, ru->to);
	p = ck_num(p, (unsigned)f);
	p = ck_num(p, (unsigned)ru->proto);
	p = ck_num(p, (unsigned)ru->verdict);
	p = ck_num(p, ru->state);
	p = ck_num(p, (unsigned)ru->log);
	*p++ = ru->log_prefix != NULL ? 'p' : '-';
	p = ck_str(p, ru->log_prefix != NULL ? ru->log_prefix : "");
	p = ck_num(p, r);
	p = ck_num(p, u);
	p = ck_num(p, b);
	p = ck_num(p, ru->src.naddrs);
	p = ck_num(p, ru->dst.naddrs);
	p = ck_num(p, ru->sport.nranges);
	p = ck_num(p, ru->dport.nranges);
	p = ck_num(p, ru->nicmp_types);
	*p = '\0';
	return true;
}

/* The family a rule's packets are of, or 0 for both. */
static int
rule_family(const struct rule *o)
{
	const struct addrmatch *am[2] = { &o->src, &o->dst };
	int f = o->family != 0 ? o->family : icmp_family(o);
	size_t i, j;

	if (f != 0)
		return f;
	for (i = 0; i < 2; i++)
		for (j = 0; j < am[i]->naddrs; j++) {
			if (f == 0)
				f = am[i]->addrs[j].family;
			else if (f != am[i]->addrs[j].family)
				return 0;
		}
	return f;
}

/* The first 32 bits of the first (end false) or last address of a. */
static uint32_t
addr_top(const struct addr *a, bool end)
{
	uint32_t v, mask;

	v = (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	    (uint32_t)a->bytes[2] << 8 | a->bytes[3];
	mask = a->prefix >= 32 ? 0xffffffffu : a->prefix <= 0 ? 0 :
	    0xffffffffu << (32 - a->prefix);
	return end ? (v & mask) | ~mask : v & mask;
}

enum { BR_NONE, BR_ALL, BR_SOME };

/* The blocks field f (GF_) of rule o takes for packets of family fam:
 * BR_SOME with [*lo, *hi]; BR_ALL for any value (no such match, a named
 * set, another protocol's ports); BR_NONE when o matches no packet of
 * family fam there. */
static int
rule_blocks(const struct rule *o, int f, int fam, uint32_t *lo,
    uint32_t *hi)
{
	const struct addrmatch *am;
	const struct portmatch *pm;
	uint32_t l, h;
	size_t j;
	bool some = false;

	*lo = UINT32_MAX;
	*hi = 0;
	switch (f) {
	case GF_SRC:
	case GF_DST:
		am = f == GF_SRC ? &o->src : &o->dst;
		if (am->set != NULL || am->naddrs == 0)
			return BR_ALL;
		for (j = 0; j < am->naddrs; j++) {
			if (am->addrs[j].family != fam)
				continue;
			l = addr_top(&am->addrs[j], false);
			h = addr_top(&am->addrs[j], true);
			if (fam == AF_INET) {
				l >>= 16;
				h >>= 16;
			}
			*lo = l < *lo ? l : *lo;
			*hi = h > *hi ? h : *hi;
			some = true;
		}
		return some ? BR_SOME : BR_NONE;
	case GF_SPORT:
	case GF_DPORT:
		pm = f == GF_SPORT ? &o->sport : &o->dport;
		if (o->proto == PROTO_NONE || pm->set != NULL ||
		    pm->nranges == 0)
			return BR_ALL;
		for (j = 0; j < pm->nranges; j++) {
			l = pm->ranges[j].lo >> 10;
			h = pm->ranges[j].hi >> 10;
			*lo = l < *lo ? l : *lo;
			*hi = h > *hi ? h : *hi;
		}
		return BR_SOME;
	default:
		if (o->nicmp_types == 0)
			return BR_ALL;
		for (j = 0; j < o->nicmp_types; j++) {
			l = o->icmp_types[j];
			*lo = l < *lo ? l : *lo;
			*hi = l > *hi ? l : *hi;
		}
		return BR_SOME;
	}
}

/* The first block of fd at or after b. */
static size_t
field_at(const struct gfield *fd, uint32_t b)
{
	size_t lo = 0, hi = fd->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (fd->v[mid].b < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool
field_meets(const struct gfield *fd, uint32_t lo, uint32_t hi)
{
	size_t k;

	if (fd->whole > 0)
		return true;
	k = field_at(fd, lo);
	return k < fd->n && fd->v[k].b <= hi;
}

/* Blocks lo..hi one rule more (sign 1) or less (-1). 0, or -1 out of
 * memory or for a block that is not there. */
static int
field_note(struct gfield *fd, uint32_t lo, uint32_t hi, int sign)
{
	struct gblk *t;
	uint64_t b;
	size_t k, nc;

	if ((uint64_t)hi - lo + 1 > BLK_WHOLE) {
		if (sign < 0 && fd->whole == 0)
			return -1;
		fd->whole += (uint32_t)sign;
		return 0;
	}
	if (fd->raw && sign < 0)
		return -1;
	for (b = lo; b <= hi; b++) {
		/* a whole compile's: appended, sorted once (a blocklist's
		 * blocks come in any order) */
		k = fd->raw ? fd->n : field_at(fd, (uint32_t)b);
		if (!fd->raw && k < fd->n && fd->v[k].b == b) {
			if (sign > 0)
				fd->v[k].n++;
			else if (--fd->v[k].n == 0) {
				memmove(&fd->v[k], &fd->v[k + 1],
				    (fd->n - k - 1) * sizeof(*fd->v));
				fd->n--;
			}
			continue;
		}
		if (sign < 0)
			return -1;
		if (fd->n == fd->cap) {
			nc = fd->cap ? fd->cap * 2 : 8;
			if ((t = reallocarray(fd->v, nc, sizeof(*t))) == NULL)
				return -1;
			fd->v = t;
			fd->cap = nc;
		}
		memmove(&fd->v[k + 1], &fd->v[k], (fd->n - k) * sizeof(*fd->v));
		fd->v[k].b = (uint32_t)b;
		fd->v[k].n = 1;
		fd->n++;
	}
	return 0;
}

static int
gblk_cmp(const void *a, const void *b)
{
	const struct gblk *x = a, *y = b;

	return x->b < y->b ? -1 : x->b > y->b;
}

/* The blocks of a whole compile (raw) sorted, each once with its count. */
static void
field_seal(struct gfield *fd)
{
	size_t i, n = 0;

	if (!fd->raw)
		return;
	fd->raw = false;
	if (fd->n == 0)
		return;
	qsort(fd->v, fd->n, sizeof(*fd->v), gblk_cmp);
	for (i = 1; i < fd->n; i++) {
		if (fd->v[i].b == fd->v[n].b)
			fd->v[n].n += fd->v[i].n;
		else
			fd->v[++n] = fd->v[i];
	}
	fd->n = n + 1;
}

/* Whether rule o may meet a rule of class c (a packet matching both). */
static bool
gclass_meets(const struct gclass *c, const struct rule *o)
{
	uint32_t lo, hi;
	int f, fam = rule_family(o);

	if (c->family != 0 && fam != 0 && c->family != fam)
		return false;
	if (c->proto != PROTO_NONE && o->proto != PROTO_NONE &&
	    c->proto != o->proto)
		return false;
	for (f = 0; f < GF_N; f++) {
		if (!(c->fields & 1u << f))
			continue;
		switch (rule_blocks(o, f, c->family, &lo, &hi)) {
		case BR_NONE:
			return false;
		case BR_ALL:
			continue;
		}
		if (!field_meets(&c->f[f], lo, hi))
			return false;
	}
	return true;
}

/* Whether rule o is of class c. */
static bool
class_is(const struct gclass *c, const struct rule *o)
{
	char k[CLASS_KEY_MAX + 1];

	if (group_family(o) != c->family || o->proto != c->proto)
		return false;
	return class_key(o, k) && strcmp(k, c->key) == 0;
}

static void
gclass_free(struct gclass *c)
{
	int f;

	if (c == NULL)
		return;
	free(c->key);
	for (f = 0; f < GF_N; f++)
		free(c->f[f].v);
	free(c);
}

static struct gclass *
gclass_dup(const struct gclass *c)
{
	struct gclass *d;
	int f;

	if ((d = malloc(sizeof(*d))) == NULL)
		return NULL;
	*d = *c;
	for (f = 0; f < GF_N; f++) {
		d->f[f].v = NULL;
		d->f[f].n = d->f[f].cap = 0;
	}
	if ((d->key = strdup(c->key)) == NULL)
		goto fail;
	for (f = 0; f < GF_N; f++) {
		if (c->f[f].n == 0)
			continue;
		if ((d->f[f].v = reallocarray(NULL, c->f[f].n,
		    sizeof(*d->f[f].v))) == NULL)
			goto fail;
		memcpy(d->f[f].v, c->f[f].v, c->f[f].n * sizeof(*d->f[f].v));
		d->f[f].n = d->f[f].cap = c->f[f].n;
	}
	return d;
 fail:
	gclass_free(d);
	return NULL;
}

/* Whether a and b (either may be NULL: no rules) hold the same blocks. */
static bool
gclass_same_blocks(const struct gclass *a, const struct gclass *b)
{
	int f;
	size_t k;

	if (a == NULL || b == NULL)
		return (a == NULL || a->count == 0) &&
		    (b == NULL || b->count == 0);
	for (f = 0; f < GF_N; f++) {
		if ((a->f[f].whole > 0) != (b->f[f].whole > 0) ||
		    a->f[f].n != b->f[f].n)
			return false;
		for (k = 0; k < a->f[f].n; k++)
			if (a->f[f].v[k].b != b->f[f].v[k].b)
				return false;
	}
	return true;
}

static void
gtab_clear(struct gtab *t)
{
	size_t i;

	free(t->from);
	free(t->to);
	for (i = 0; i < t->n; i++)
		gclass_free(t->v[i]);
	free(t->v);
	for (i = 0; i < GI_N; i++)
		free(t->idx[i].v);
}

void
compile_groups_free(struct gtabs *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		gtab_clear(&t->v[i]);
	free(t->v);
	free(t);
}

struct gtabs *
compile_groups_dup(const struct gtabs *t)
{
	struct gtabs *d;
	struct gtab *g;
	size_t i, j;

	if (t == NULL || (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (t->n > 0 && (d->v = calloc(t->n, sizeof(*d->v))) == NULL)
		goto fail;
	d->cap = t->n;
	for (i = 0; i < t->n; i++) {
		g = &d->v[d->n++];
		if ((g->from = strdup(t->v[i].from)) == NULL ||
		    (g->to = strdup(t->v[i].to)) == NULL)
			goto fail;
		if (t->v[i].n > 0 && (g->v = calloc(t->v[i].n,
		    sizeof(*g->v))) == NULL)
			goto fail;
		g->cap = t->v[i].n;
		for (j = 0; j < t->v[i].n; j++) {
			if ((g->v[j] = gclass_dup(t->v[i].v[j])) == NULL)
				goto fail;
			g->n++;
		}
		for (j = 0; j < GI_N; j++) {
			g->idx[j].whole = t->v[i].idx[j].whole;
			if (t->v[i].idx[j].n == 0)
				continue;
			if ((g->idx[j].v = reallocarray(NULL,
			    t->v[i].idx[j].n, sizeof(*g->idx[j].v))) == NULL)
				goto fail;
			memcpy(g->idx[j].v, t->v[i].idx[j].v,
			    t->v[i].idx[j].n * sizeof(*g->idx[j].v));
			g->idx[j].n = g->idx[j].cap = t->v[i].idx[j].n;
		}
	}
	return d;
 fail:
	compile_groups_free(d);
	return NULL;
}

static struct gtab *
gtabs_find(const struct gtabs *t, const char *from, const char *to)
{
	size_t i;

	for (i = 0; t != NULL && i < t->n; i++)
		if (strcmp(t->v[i].from, from) == 0 &&
		    strcmp(t->v[i].to, to) == 0)
			return &t->v[i];
	return NULL;
}

struct gtab *
compile_groups_chain(struct gtabs **tp, const char *from, const char *to)
{
	struct gtabs *t = *tp;
	struct gtab *g, *nv;
	size_t nc;

	if ((g = gtabs_find(t, from, to)) != NULL)
		return g;
	if (t == NULL && (t = *tp = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (t->n == t->cap) {
		nc = t->cap ? t->cap * 2 : 8;
		if ((nv = reallocarray(t->v, nc, sizeof(*nv))) == NULL)
			return NULL;
		t->v = nv;
		t->cap = nc;
	}
	g = &t->v[t->n];
	memset(g, 0, sizeof(*g));
	if ((g->from = strdup(from)) == NULL ||
	    (g->to = strdup(to)) == NULL) {
		gtab_clear(g);
		return NULL;
	}
	t->n++;
	return g;
}

void
compile_groups_fill(struct gtab *tab, bool done)
{
	size_t i;
	int f;

	tab->raw = !done;
	for (f = 0; f < GI_N; f++) {
		if (done)
			field_seal(&tab->idx[f]);	/* raw no more */
		else
			tab->idx[f].raw = true;
	}
	for (i = 0; done && i < tab->n; i++)
		for (f = 0; f < GF_N; f++)
			field_seal(&tab->v[i]->f[f]);
}

/* The class of rule ru in tab, or NULL. */
static struct gclass *
gtab_class(const struct gtab *tab, const struct rule *ru)
{
	size_t i;

	for (i = 0; tab != NULL && i < tab->n; i++)
		if (class_is(tab->v[i], ru))
			return tab->v[i];
	return NULL;
}

/* The index field of class field f (GF_) for IP version fam. */
static int
gi_of(int f, int fam)
{
	switch (f) {
	case GF_SRC:
		return fam == AF_INET ? GI_SRC4 : GI_SRC6;
	case GF_DST:
		return fam == AF_INET ? GI_DST4 : GI_DST6;
	case GF_SPORT:
		return GI_SPORT;
	case GF_DPORT:
		return GI_DPORT;
	default:
		return GI_ICMP;
	}
}

/* Rule o's values into (sign 1) or out of (-1) the index of tab. */
static int
gtab_index(struct gtab *tab, const struct rule *o, int sign)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	uint32_t lo, hi;
	int f, k;

	for (f = 0; f < GF_N; f++)
		for (k = 0; k < (f <= GF_DST ? 2 : 1); k++)
			if (rule_blocks(o, f, fams[k], &lo, &hi) == BR_SOME &&
			    field_note(&tab->idx[gi_of(f, fams[k])], lo, hi,
			    sign) == -1)
				return -1;
	return 0;
}

/* Rules of fd in block b. */
static uint32_t
field_count(const struct gfield *fd, uint32_t b)
{
	size_t k = field_at(fd, b);

	return k < fd->n && fd->v[k].b == b ? fd->v[k].n : 0;
}

struct gclass *
compile_groups_class(struct gtab *tab, const struct rule *ru, size_t at,
    int sign, bool *err)
{
	struct gclass *c = NULL, **nv;
	char key[CLASS_KEY_MAX + 1];
	uint32_t lo, hi;
	size_t i, nc;
	int f;

	*err = false;
	if (gtab_index(tab, ru, sign) == -1) {
		*err = true;
		return NULL;
	}
	if (!class_key(ru, key))
		return NULL;
	for (i = 0; i < tab->n && c == NULL; i++)
		if (strcmp(tab->v[i]->key, key) == 0)
			c = tab->v[i];
	if (c == NULL) {
		if (sign < 0)
			goto fail;
		if (tab->n == tab->cap) {
			nc = tab->cap ? tab->cap * 2 : 8;
			if ((nv = reallocarray(tab->v, nc,
			    sizeof(*nv))) == NULL)
				goto fail;
			tab->v = nv;
			tab->cap = nc;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL)
			goto fail;
		if ((c->key = strdup(key)) == NULL) {
			free(c);
			goto fail;
		}
		c->family = group_family(ru);
		c->proto = ru->proto;
		for (f = 0; f < GF_N; f++)
			c->f[f].raw = tab->raw;
		c->fields = (ru->src.naddrs == 1 ? 1u << GF_SRC : 0) |
		    (ru->dst.naddrs == 1 ? 1u << GF_DST : 0) |
		    (ru->sport.nranges == 1 ? 1u << GF_SPORT : 0) |
		    (ru->dport.nranges == 1 ? 1u << GF_DPORT : 0) |
		    (ru->nicmp_types == 1 ? 1u << GF_ICMP : 0);
		tab->v[tab->n++] = c;
	}
	if (sign < 0 && c->count == 0)
		goto fail;
	for (f = 0; f < GF_N; f++)
		if ((c->fields & 1u << f) && (rule_blocks(ru, f, c->family,
		    &lo, &hi) != BR_SOME ||
		    field_note(&c->f[f], lo, hi, sign) == -1))
			goto fail;
	c->count = sign > 0 ? c->count + 1 : c->count - 1;
	if (sign > 0 && at > c->last)
		c->last = at;
	return c;
 fail:
	*err = true;
	return NULL;
}

/* A walk of a pair chain that sees only the rules of one class and the
 * rules that end its runs (like: a rule of the class, or NULL). */
struct gfilt {
	const struct rule	*like;
	const struct gclass	*c;
};

static bool
filt_sees(const struct gfilt *f, const struct rule *o)
{
	if (f == NULL || f->c == NULL)
		return true;
	if (f->like != NULL ? group_class_same(f->like, o) : class_is(f->c, o))
		return true;
	return gclass_meets(f->c, o);
}

/* The blocks of field f held by one of a and b but not the other, into
 * *d (sorted; caller frees); *whole when one of them holds the whole
 * field. -1 out of memory. */
static int
blocks_moved(const struct gclass *a, const struct gclass *b, int f,
    struct gfield *d, bool *whole)
{
	const struct gfield *x = &a->f[f], *y = &b->f[f];
	size_t i = 0, j = 0;
	uint32_t v;

	memset(d, 0, sizeof(*d));
	*whole = (x->whole > 0) != (y->whole > 0);
	while (i < x->n || j < y->n) {
		if (j == y->n || (i < x->n && x->v[i].b < y->v[j].b))
			v = x->v[i++].b;
		else if (i == x->n || y->v[j].b < x->v[i].b)
			v = y->v[j++].b;
		else {
			i++;
			j++;
			continue;
		}
		if (field_note(d, v, v, 1) == -1)
			return -1;
	}
	return 0;
}

/* Whether the blocks of class c moved (moved: per field) so that rule o
 * may meet it before and not after, or the other way. */
static bool
may_move(const struct gclass *c, const struct gfield *moved,
    const bool *whole, const struct rule *o)
{
	uint32_t lo, hi;
	int f;

	for (f = 0; f < GF_N; f++) {
		if (!(c->fields & 1u << f) || (moved[f].n == 0 && !whole[f]))
			continue;
		if (rule_blocks(o, f, c->family, &lo, &hi) == BR_SOME &&
		    (whole[f] || field_meets(&moved[f], lo, hi)))
			return true;
	}
	return false;
}

/*
 * Whether no rule of the chain but those of the class has values in the
 * blocks of class ca (after; cb before) that came or went: then no rule
 * starts or stops ending its runs (the index of tables ta and tb counts
 * every rule's blocks). -1 out of memory.
 */
static int
moved_alone(const struct gtab *ta, const struct gtab *tb,
    const struct gclass *ca, const struct gclass *cb)
{
	struct gfield moved;
	bool whole;
	size_t k;
	int f, gi, rc = 1;

	for (f = 0; f < GF_N && rc == 1; f++) {
		if (!(ca->fields & 1u << f))
			continue;
		if (blocks_moved(ca, cb, f, &moved, &whole) == -1)
			return -1;
		gi = gi_of(f, ca->family);
		if (moved.n > 0 && (whole || ta->idx[gi].whole > 0 ||
		    tb->idx[gi].whole > 0))
			rc = 0;
		for (k = 0; k < moved.n && rc == 1; k++)
			if (field_count(&ta->idx[gi], moved.v[k].b) >
			    field_count(&ca->f[f], moved.v[k].b) ||
			    field_count(&tb->idx[gi], moved.v[k].b) >
			    field_count(&cb->f[f], moved.v[k].b))
				rc = 0;
		if (whole)
			rc = 0;
		free(moved.v);
	}
	return rc;
}

/* A class whose blocks moved, in one chain. */
struct gmove {
	const struct gtab	*ta;
	const struct gclass	*ca;	/* after */
	const struct gclass	*cb;	/* before */
	size_t			 first;	/* the first gmove of its key */
};

bool
compile_groups_kept(const struct ruleset *rs, const struct gtabs *before,
    const struct gtabs *after)
{
	const struct gtab *ta, *tb;
	const struct gclass *ca, *cb;
	const struct rule *o;
	struct gmove *mv = NULL, *t;
	struct gfield moved[GF_N];
	bool whole[GF_N], kept = false, may;
	size_t i, j, k, n = 0, cap = 0;
	int f;

	memset(moved, 0, sizeof(moved));
	if (before == NULL || after == NULL)
		return false;
	for (i = 0; i < after->n; i++) {
		ta = &after->v[i];
		tb = gtabs_find(before, ta->from, ta->to);
		for (j = 0; j < ta->n; j++) {
			ca = ta->v[j];
			cb = NULL;
			for (k = 0; tb != NULL && k < tb->n && cb == NULL; k++)
				if (strcmp(tb->v[k]->key, ca->key) == 0)
					cb = tb->v[k];
			/* too few rules for a run either way, or the same
			 * blocks: the same rules end its runs */
			if ((ca->count < GROUP_MIN &&
			    (cb == NULL || cb->count < GROUP_MIN)) ||
			    gclass_same_blocks(ca, cb))
				continue;
			if (cb == NULL || tb == NULL)
				goto out;
			switch (moved_alone(ta, tb, ca, cb)) {
			case -1:
				goto out;
			case 1:
				continue;	/* no other rule there */
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				if ((t = reallocarray(mv, cap,
				    sizeof(*mv))) == NULL)
					goto out;
				mv = t;
			}
			mv[n].ta = ta;
			mv[n].ca = ca;
			mv[n].cb = cb;
			for (k = 0; k < n && strcmp(mv[k].ca->key, ca->key); k++)
				;
			mv[n++].first = k;
		}
		/* a class gone from a chain: its rules were the change's */
		for (j = 0; tb != NULL && j < tb->n; j++) {
			for (k = 0; k < ta->n; k++)
				if (strcmp(ta->v[k]->key, tb->v[j]->key) == 0)
					break;
			if (k == ta->n && tb->v[j]->count >= GROUP_MIN)
				goto out;
		}
	}
	/* only a rule with values in a block that came or went can start
	 * or stop ending a class's runs; a class in several chains (its
	 * rules land in each) moved alike in each */
	for (i = 0; i < n; i++) {
		if (mv[i].first != i)
			continue;
		for (f = 0; f < GF_N; f++)
			if (blocks_moved(mv[i].ca, mv[i].cb, f, &moved[f],
			    &whole[f]) == -1)
				goto out;
		for (k = 0; k < rs->nrules; k++) {
			o = rs->rules[k];
			may = false;
			for (j = i; j < n; j++) {
				if (mv[j].first != i)
					continue;
				if (!may && !(may = may_move(mv[i].ca, moved,
				    whole, o)))
					break;
				ta = mv[j].ta;
				if (!zone_word_covers(o->from, ta->from) ||
				    !zone_word_covers(o->to, ta->to) ||
				    gclass_meets(mv[j].ca, o) ==
				    gclass_meets(mv[j].cb, o))
					continue;
				/* unless of the class */
				if (!class_is(mv[j].ca, o))
					goto out;
			}
		}
		for (f = 0; f < GF_N; f++) {
			free(moved[f].v);
			memset(&moved[f], 0, sizeof(moved[f]));
		}
	}
	kept = true;
 out:
	for (f = 0; f < GF_N; f++)
		free(moved[f].v);
	free(mv);
	return kept;
}

/*
 * The element of rule ru in its group's set. A group whose rules have no
 * interval (spans false) is a hash set keyed by the fields in load order
 * (source, destination, source port, destination port), each padded to 4
 * bytes when there are several (a single port is a plain 2-byte key). A
 * group with a network or port range in one field is the kernel's
 * concatenation of intervals, which wants two fields at least: the key
 * starts with the rule's nfproto (its l4proto when the rules name no
 * address), then the fields, each padded to 4 bytes; the element is the
 * box key .. key_end, one per rule, so each rule keeps its counter and
 * name.
 */
static void
group_elem(const struct rule *ru, bool spans, struct celem *el)
{
	const struct addrmatch *am[2] = { &ru->src, &ru->dst };
	const struct portmatch *pm[2] = { &ru->sport, &ru->dport };
	uint32_t o = 0, l, nf;
	int i, j, bits, fam = 0;
	bool pad;

	nf = (uint32_t)(ru->src.naddrs + ru->dst.naddrs +
	    ru->sport.nranges + ru->dport.nranges + ru->nicmp_types);
	pad = spans || nf > 1;
	memset(el->key, 0, sizeof(el->key));
	memset(el->key_end, 0, sizeof(el->key_end));
	fam = icmp_family(ru);
	for (i = 0; i < 2; i++)
		if (am[i]->naddrs == 1)
			fam = am[i]->addrs[0].family;
	if (spans) {
		el->key[0] = fam == AF_INET ? NFPROTO_IPV4 : fam == AF_INET6 ?
		    NFPROTO_IPV6 : (uint8_t)ru->proto;
		el->key_end[0] = el->key[0];
		o = 4;
	}
	for (i = 0; i < 2; i++) {
		if (am[i]->naddrs != 1)
			continue;
		l = addr_len(am[i]->addrs[0].family);
		for (j = 0; j < (int)l; j++) {
			bits = am[i]->addrs[0].prefix - j * 8;
			el->key[o + j] = am[i]->addrs[0].bytes[j] & (bits >= 8 ?
			    0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits)));
			el->key_end[o + j] = el->key[o + j] | (bits >= 8 ? 0 :
			    bits <= 0 ? 0xff : (uint8_t)(0xff >> bits));
		}
		o += l;
	}
	for (i = 0; i < 2; i++) {
		if (pm[i]->nranges == 0)
			continue;
		el->key[o] = (uint8_t)(pm[i]->ranges[0].lo >> 8);
		el->key[o + 1] = (uint8_t)pm[i]->ranges[0].lo;
		el->key_end[o] = (uint8_t)(pm[i]->ranges[0].hi >> 8);
		el->key_end[o + 1] = (uint8_t)pm[i]->ranges[0].hi;
		o += pad ? 4 : 2;
	}
	if (ru->nicmp_types == 1) {
		el->key[o] = el->key_end[o] = ru->icmp_types[0];
		o += pad ? 4 : 1;
	}
	el->key_len = o;
	el->ranged = spans;
	if (!spans)
		memset(el->key_end, 0, sizeof(el->key_end));
}

/* The set of a group: its key's type and, for a concatenation of
 * intervals, its fields' lengths. */
static void
group_set_type(const struct rule *ru, bool spans, struct cset *cs)
{
	const struct addrmatch *am[2] = { &ru->src, &ru->dst };
	const struct portmatch *pm[2] = { &ru->sport, &ru->dport };
	uint32_t t = 0;
	int i, fam;

	cs->nfields = 0;
	fam = group_family(ru);
	if (spans) {
		t = fam != 0 ? CTYPE_NFPROTO : CTYPE_INETPROTO;
		cs->field_len[cs->nfields++] = 1;
	}
	for (i = 0; i < 2; i++)
		if (am[i]->naddrs == 1) {
			fam = am[i]->addrs[0].family;
			t = t << 6 | (fam == AF_INET ? CTYPE_IPV4 : CTYPE_IPV6);
			cs->field_len[cs->nfields++] = (uint8_t)addr_len(fam);
		}
	for (i = 0; i < 2; i++)
		if (pm[i]->nranges == 1) {
			t = t << 6 | CTYPE_PORT;
			cs->field_len[cs->nfields++] = 2;
		}
	if (ru->nicmp_types == 1) {
		t = t << 6 | (fam == AF_INET6 ? CTYPE_ICMPV6 : CTYPE_ICMP);
		cs->field_len[cs->nfields++] = 1;
	}
	cs->key_type = t;
	if (spans)
		cs->flags = NFT_SET_INTERVAL | NFT_SET_CONCAT;
	else
		cs->nfields = 0;
}

/* Where field f (GF_) of rule ru's element starts in the key, and its
 * length; (0, 0) when ru has no such field. */
static void
group_field_at(const struct rule *ru, bool spans, int f, uint32_t *at,
    uint32_t *len)
{
	const struct addrmatch *am[2] = { &ru->src, &ru->dst };
	const struct portmatch *pm[2] = { &ru->sport, &ru->dport };
	uint32_t o = spans ? 4 : 0, l;
	int i;

	*at = *len = 0;
	for (i = 0; i < 2; i++) {
		if (am[i]->naddrs != 1)
			continue;
		l = addr_len(am[i]->addrs[0].family);
		if (f == GF_SRC + i) {
			*at = o;
			*len = l;
		}
		o += l;
	}
	for (i = 0; i < 2; i++) {
		if (pm[i]->nranges == 0)
			continue;
		if (f == GF_SPORT + i) {
			*at = o;
			*len = 2;
		}
		o += 4;
	}
	if (ru->nicmp_types == 1 && f == GF_ICMP) {
		*at = o;
		*len = 1;
	}
}

/* An element as the overlap check sorts it: the exact fields, then the
 * interval field's bounds; at: its rule's place in the run. */
struct gbox {
	uint8_t		 rest[32];
	uint8_t		 lo[16];
	uint8_t		 hi[16];
	size_t		 at;
};

static int
gbox_cmp(const void *a, const void *b)
{
	const struct gbox *x = a, *y = b;
	int c;

	if ((c = memcmp(x->rest, y->rest, sizeof(x->rest))) != 0)
		return c;
	return memcmp(x->lo, y->lo, sizeof(x->lo));
}

/* The interval field (GF_) of a run whose rules have intervals in sp,
 * or -1. */
static int
spans_field(unsigned sp)
{
	int f = -1;

	while (sp >> (f + 1) != 0)
		f++;
	return f;
}

/*
 * Where the run of the n rules v (elements el) must end so that no two
 * of its elements share a key (hash) or overlap (boxes: the interval in
 * field f, the other fields exact): the later rule of such a pair could
 * never match there, and the kernel refuses such elements. The place of
 * the earliest later rule of the pairs found (>= 1); 0 when none clash;
 * -1 out of memory. Run again on what is left: a cut may leave pairs
 * the sorted walk did not meet.
 */
static ssize_t
group_clash(const struct rule *const *v, const struct celem *el, size_t n,
    bool spans, int f)
{
	struct gbox *bx;
	uint8_t maxhi[16];
	uint32_t at = 0, len = 0;
	size_t i, holder = 0, later, cut = 0;

	if (spans)
		group_field_at(v[0], spans, f, &at, &len);
	if ((bx = calloc(n, sizeof(*bx))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		memcpy(bx[i].rest, el[i].key, sizeof(bx[i].rest));
		memset(bx[i].rest + at, 0, len);
		memcpy(bx[i].lo, el[i].key + at, len);
		memcpy(bx[i].hi, (spans ? el[i].key_end : el[i].key) + at,
		    len);
		bx[i].at = i;
	}
	qsort(bx, n, sizeof(*bx), gbox_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && memcmp(bx[i].rest, bx[i - 1].rest,
		    sizeof(bx->rest)) == 0 && memcmp(bx[i].lo, maxhi,
		    len) <= 0) {
			/* meets the box reaching furthest before it */
			later = bx[i].at > holder ? bx[i].at : holder;
			if (cut == 0 || later < cut)
				cut = later;
			if (memcmp(bx[i].hi, maxhi, len) <= 0)
				continue;
		}
		memcpy(maxhi, bx[i].hi, len);
		holder = bx[i].at;
	}
	free(bx);
	return (ssize_t)cut;
}

/* Loads one field of a group key into register *reg. */
static int
group_load(struct crule *r, uint32_t base, uint32_t off, uint32_t len,
    uint32_t *reg)
{
	if (crule_payload(r, base, off, len) == -1)
		return -1;
	r->exprs[r->nexprs - 1].dreg = *reg;
	*reg += (len + 3) / 4;
	return 0;
}

/*
 * One kernel rule for the rules v[0..n) of chain (a group): nfproto,
 * l4proto and ct state as the rules have them, the key loaded into
 * consecutive registers, a lookup in the group's set, then counter, log
 * and verdict (no two of the rules clash: compile_group_run). spans: a
 * concatenation of intervals, else a hash set. Returns 0 or -1.
 */
static int
compile_group(struct cplan *p, const struct rule *const *v, size_t n,
    bool spans, unsigned edge, uint32_t run, bool first, const char *chain)
{
	const struct rule *ru = v[0];
	int fam = group_family(ru);
	struct crule *r;
	struct cset *cs;
	struct celem *el;
	struct cexpr *e;
	char *setname = NULL, *key = NULL, *comment = NULL;
	uint32_t reg = NFT_REG32_00;
	size_t i;
	int rc = -1;

	if (asprintf(&setname, GROUP_SET_PREFIX "%s/%s", chain,
	    ru->name) == -1) {
		setname = NULL;
		goto out;
	}
	if (asprintf(&key, GROUP_RULE_PREFIX "%s", ru->name) == -1) {
		key = NULL;
		goto out;
	}
	/* a space before any colon: not a rule's name (comment_name) */
	if (asprintf(&comment, "group of rules, set %s", setname) == -1) {
		comment = NULL;
		goto out;
	}
	if ((r = cplan_add_rule(p, chain, key, ru->name)) == NULL)
		goto out;
	r->loc = &ru->loc;
	r->comment = comment;
	comment = NULL;
	if (fam != 0 && crule_nfproto(r, fam) == -1)
		goto out;
	if (ru->proto != PROTO_NONE && crule_l4proto(r, ru->proto) == -1)
		goto out;
	/* before the key: it loads into the registers the key uses */
	if (ru->state != 0 && crule_ctstate(r, ru->state) == -1)
		goto out;
	if (spans) {
		/* the lead field: nfproto, or l4proto without addresses */
		if (crule_meta(r, fam != 0 ? NFT_META_NFPROTO :
		    NFT_META_L4PROTO, reg++) == -1)
			goto out;
	}
	if (ru->src.naddrs == 1 && group_load(r, NFT_PAYLOAD_NETWORK_HEADER,
	    fam == AF_INET ? 12 : 8, addr_len(fam), &reg) == -1)
		goto out;
	if (ru->dst.naddrs == 1 && group_load(r, NFT_PAYLOAD_NETWORK_HEADER,
	    fam == AF_INET ? 16 : 24, addr_len(fam), &reg) == -1)
		goto out;
	if (ru->sport.nranges == 1 && group_load(r,
	    NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, &reg) == -1)
		goto out;
	if (ru->dport.nranges == 1 && group_load(r,
	    NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, &reg) == -1)
		goto out;
	if (ru->nicmp_types == 1 && group_load(r,
	    NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, &reg) == -1)
		goto out;
	if ((e = crule_add(r, CX_LOOKUP)) == NULL)
		goto out;
	e->sreg = NFT_REG32_00;
	if ((e->set = strdup(setname)) == NULL)
		goto out;
	if (crule_tail(r, ru, fam) == -1)
		goto out;

	if ((cs = cplan_add_set(p)) == NULL)
		goto out;
	cs->name = setname;
	setname = NULL;
	group_set_type(ru, spans, cs);
	cs->counters = true;
	cs->run = run;
	cs->run_edge = edge != 0;
	cs->run_edge_front = (edge & EDGE_FRONT) != 0;
	cs->run_first = first;
	if (ru->limit.rate != 0) {
		/* each element a limit of its own, then its counter: the
		 * counter counts what the limit lets through, as a rule's */
		compile_limit(&ru->limit, &cs->limit_rate, &cs->limit_unit,
		    &cs->limit_burst);
		cs->flags |= NFT_SET_EXPR;
	}
	cs->loc = &ru->loc;
	for (i = 0; i < n; i++) {
		if ((el = cset_add_elem(cs)) == NULL)
			goto out;
		group_elem(v[i], spans, el);
		cs->key_len = el->key_len;
		if ((el->comment = strdup(v[i]->name)) == NULL)
			goto out;
	}
	rc = 0;
 out:
	free(setname);
	free(key);
	free(comment);
	return rc;
}

/* The run v[0..n) as one group, or (intervals) one per chunk, in order;
 * edge: run_edge's. */
static int
group_chunks(struct cplan *p, const struct rule *const *v, size_t n,
    bool spans, unsigned edge, const char *chain)
{
	size_t start = 0, k;
	uint32_t run = (uint32_t)p->nsets + 1;	/* its first set's place */

	for (k = 1; spans && k < n; k++)
		if (chunk_start(v[k])) {
			if (compile_group(p, v + start, k - start, true, edge,
			    run, start == 0, chain) == -1)
				return -1;
			start = k;
		}
	return compile_group(p, v + start, n - start, spans, edge, run,
	    start == 0, chain);
}

static const struct rule *chain_near(const struct ruleset *, size_t *, int,
    const char *, const char *, const struct gfilt *, bool *);

/*
 * Whether the run from rules[first] to rules[last] of chain from -> to
 * has a rule of its shape next to it there, which it could not take (a
 * key twice, an overlap, intervals in another field): a member leaving
 * may let the run take it, and the groups are laid out anew. EDGE_FRONT
 * (before the run) and EDGE_BACK (after it): a rule standing alone after
 * the run may go without the whole diff, and the run keeps its front.
 * A rule of the class (intervals in another field included: which field
 * the run's intervals are in may change) counts. With a rule before it,
 * a rule joining the run before its end may let that rule's run reach
 * GROUP_MIN before the clash that cut it: the whole diff.
 */
static unsigned
run_edge(const struct ruleset *rs, size_t first, size_t last,
    const char *from, const char *to, const struct gfilt *f)
{
	const struct rule *o;
	bool unsure = false;
	size_t k = first;
	unsigned edge = 0;

	if ((o = chain_near(rs, &k, -1, from, to, f, &unsure)) != NULL &&
	    group_class_same(rs->rules[first], o))
		edge |= EDGE_FRONT;
	k = last;
	if ((o = chain_near(rs, &k, 1, from, to, f, &unsure)) != NULL &&
	    group_class_same(rs->rules[first], o))
		edge |= EDGE_BACK;
	return unsure ? EDGE_FRONT | EDGE_BACK : edge;
}

int
compile_group_front(struct cplan *p, const struct rule *ru, bool spans,
    const char *chain)
{
	return compile_group(p, &ru, 1, spans, 0, 0, true, chain);
}

int
compile_group_chunk(struct cplan *p, const struct rule *ru, const char *chain)
{
	return compile_group(p, &ru, 1, true, 0, 0, false, chain);
}

/*
 * When rules[in[0]] (in pair chain from -> to, whose rules from it on are
 * rules[in[0..nin)]) starts a run of at least
 * GROUP_MIN rules of its class there, the run as one group in chain: its
 * rules marked in used, 0. The run steps over the rules its class cannot
 * meet (cls[i], the class's blocks) and ends at any other, at a rule of
 * its class with intervals in another field, or where two of its keys
 * clash. 1 when it is not a group (the caller compiles rules[i] alone),
 * -1 out of memory.
 */
int
compile_group_run(struct cplan *p, const struct ruleset *rs,
    const size_t *in, size_t nin, const char *from, const char *to,
    const char *chain, struct gclass *const *cls, bool *used)
{
	size_t i = in[0], x;
	const struct rule *ru = rs->rules[i], **gv = NULL;
	const struct gclass *c = cls != NULL ? cls[i] : NULL;
	struct gfilt f = { ru, c };
	struct celem *el = NULL;
	size_t *gi = NULL, j, n = 1, gcap = 0, nc, k, tries;
	unsigned sp = group_spans(ru);
	ssize_t cut;
	int rc = -1;

	if (GROUP_MIN == 0 || group_family(ru) == -1 ||
	    (c != NULL && c->count < GROUP_MIN))
		return 1;
	for (x = 0; x < nin; x++) {
		const struct rule *o = rs->rules[j = in[x]];

		/* past the last rule of the class: nothing more to take */
		if (c != NULL && j > c->last)
			break;
		if (j > i && !group_class_same(ru, o)) {
			/* a rule no rule of the class can meet: stepped
			 * over (without classes, no rule is) */
			if (c != NULL && !gclass_meets(c, o))
				continue;
			break;
		}
		/* intervals in one field only, over the whole run; a rule
		 * of the class in a group already cannot be (a class's runs
		 * split its rules), the guard keeps it in one */
		if (j > i && (used[j] || !one_bit(sp | group_spans(o))))
			break;
		sp |= group_spans(o);
		if (j == i)
			n = 0;
		if (n >= gcap) {
			const struct rule **tv;
			size_t *ti;

			nc = gcap ? gcap * 2 : 64;
			if ((tv = reallocarray(gv, nc, sizeof(*gv))) == NULL)
				goto out;
			gv = tv;
			if ((ti = reallocarray(gi, nc, sizeof(*gi))) == NULL)
				goto out;
			gi = ti;
			gcap = nc;
		}
		gv[n] = o;
		gi[n++] = j;
	}
	rc = 1;
	if (n < GROUP_MIN)
		goto out;
	if ((el = calloc(n, sizeof(*el))) == NULL) {
		rc = -1;
		goto out;
	}
	/* the run ends before a rule that clashes with one before it */
	for (tries = 0; tries < 8 && n >= GROUP_MIN; tries++) {
		for (k = 0, sp = 0; k < n; k++)
			sp |= group_spans(gv[k]);
		for (k = 0; k < n; k++)
			group_elem(gv[k], sp != 0, &el[k]);
		if ((cut = group_clash(gv, el, n, sp != 0,
		    spans_field(sp))) == -1) {
			rc = -1;
			goto out;
		}
		if (cut == 0) {
			if ((rc = group_chunks(p, gv, n, sp != 0,
			    run_edge(rs, gi[0], gi[n - 1], from, to, &f),
			    chain)) == 0)
				for (k = 0; k < n; k++)
					used[gi[k]] = true;
			goto out;
		}
		n = (size_t)cut;
	}
 out:
	free(el);
	free(gv);
	free(gi);
	return rc;
}

/*
 * The nearest rule before (dir -1) or after (dir 1) rules[*k] in the pair
 * chain from -> to (the rules covering it, as compile_pair takes them)
 * that walk f sees, or NULL; *k becomes its index. *unsure when the walk
 * is too long.
 */
static const struct rule *
chain_near(const struct ruleset *rs, size_t *k, int dir, const char *from,
    const char *to, const struct gfilt *f, bool *unsure)
{
	const struct rule *o;
	size_t steps = 0;

	for (;;) {
		if (dir < 0) {
			if (*k == 0)
				return NULL;
			(*k)--;
		} else if (++*k >= rs->nrules)
			return NULL;
		if (++steps > GROUP_SCAN) {
			*unsure = true;
			return NULL;
		}
		o = rs->rules[*k];
		if (zone_word_covers(o->from, from) &&
		    zone_word_covers(o->to, to) && filt_sees(f, o))
			return o;
	}
}

/* How many rules of chain from -> to next to rules[i] on side dir (as
 * walk f sees them) have the shape of like, in a row (counted up to
 * GROUP_MIN). */
static size_t
run_len(const struct ruleset *rs, size_t i, int dir, const char *from,
    const char *to, const struct rule *like, const struct gfilt *f,
    bool *unsure)
{
	const struct rule *o;
	size_t n = 0, k = i;

	while (n < GROUP_MIN && (o = chain_near(rs, &k, dir, from, to, f,
	    unsure)) != NULL && group_same(like, o))
		n++;
	return n;
}

/*
 * Whether rules[i] is, was or would be in a group of chain from -> to
 * (walk f: its class): with its neighbours of the same shape a run of
 * GROUP_MIN, or between two rules of a run that long. Runs too short to
 * be a group do not count: the rule is one of its own either way.
 */
static bool
grouped_in(const struct ruleset *rs, size_t i, const char *from,
    const char *to, const struct gfilt *f, bool *unsure)
{
	const struct rule *ru = rs->rules[i], *pb, *nb;
	size_t k, before = 0, after = 0, n = 1;

	if (!zone_word_covers(ru->from, from) || !zone_word_covers(ru->to, to))
		return false;
	k = i;
	pb = chain_near(rs, &k, -1, from, to, f, unsure);
	k = i;
	nb = chain_near(rs, &k, 1, from, to, f, unsure);
	if (pb != NULL)
		before = run_len(rs, i, -1, from, to, pb, f, unsure);
	if (nb != NULL)
		after = run_len(rs, i, 1, from, to, nb, f, unsure);
	if (pb != NULL && nb != NULL && group_same(pb, nb) &&
	    before + after >= GROUP_MIN)
		return true;
	if (pb != NULL && group_same(ru, pb))
		n += before;
	if (nb != NULL && group_same(ru, nb))
		n += after;
	return n >= GROUP_MIN;
}

/*
 * Whether rules[i] stands in a run of another class of table tab that it
 * ends there (or, once gone, no longer ends): a rule that class's rules
 * may meet, between two rules of a run of GROUP_MIN. *unsure when a walk
 * was too long.
 */
static bool
in_others(const struct ruleset *rs, size_t i, const char *from,
    const char *to, const struct gtab *tab, bool *unsure)
{
	const struct rule *ru = rs->rules[i], *pb, *nb;
	struct gfilt f;
	size_t j, k;

	for (j = 0; tab != NULL && j < tab->n && !*unsure; j++) {
		f.like = NULL;
		f.c = tab->v[j];
		if (f.c->count < GROUP_MIN || !gclass_meets(f.c, ru) ||
		    class_is(f.c, ru))
			continue;
		k = i;
		pb = chain_near(rs, &k, -1, from, to, &f, unsure);
		k = i;
		nb = chain_near(rs, &k, 1, from, to, &f, unsure);
		if (pb == NULL || nb == NULL || !group_same(pb, nb) ||
		    !class_is(f.c, pb))
			continue;
		if (run_len(rs, i, -1, from, to, pb, &f, unsure) +
		    run_len(rs, i, 1, from, to, nb, &f, unsure) >= GROUP_MIN)
			return true;
	}
	return false;
}

size_t
compile_group_min(void)
{
	return GROUP_MIN;
}

int
compile_group_pair(const struct rule *ru, const struct rule *pr, bool spans,
    bool chunk, struct celem *el, struct celem *pel)
{
	bool own = spans && chunk_start(ru);

	memset(el, 0, sizeof(*el));
	memset(pel, 0, sizeof(*pel));
	if (!group_same(ru, pr) ||
	    (!spans && (group_spans(ru) | group_spans(pr)) != 0) ||
	    (own && !chunk))
		return 1;
	group_elem(ru, spans, el);
	group_elem(pr, spans, pel);
	if ((el->comment = strdup(ru->name)) == NULL ||
	    (pel->comment = strdup(pr->name)) == NULL) {
		free(el->comment);
		el->comment = NULL;
		return -1;
	}
	return own ? 2 : 0;
}

enum cgroup_at
compile_group_at(const struct ruleset *rs, size_t i, const char *from,
    const char *to, const struct gtabs *t, const struct rule **pr,
    bool *chunk)
{
	const struct rule *ru = rs->rules[i], *nb;
	const struct gtab *tab;
	struct gfilt f = { ru, NULL };
	size_t k = i;
	bool unsure = false;

	*pr = NULL;
	*chunk = false;
	/* a per-source limit (a meter set of its own, made and deleted with
	 * the rule's kernel rules: nft/fast.c) is in no group: alone, unless
	 * it ends another class's run (below) */
	if (GROUP_MIN == 0)
		return CG_ALONE;
	/* the classes are the whole compile's: without them, the layout is
	 * not known */
	if (t == NULL)
		return CG_UNSURE;
	tab = gtabs_find(t, from, to);
	/* in the way of another class's run: it ends it there (or, gone,
	 * lets it grow) */
	if (in_others(rs, i, from, to, tab, &unsure) || unsure)
		return CG_UNSURE;
	if (group_family(ru) == -1)
		return CG_ALONE;
	if ((f.c = gtab_class(tab, ru)) == NULL)
		return CG_UNSURE;	/* not the classes of rs */
	if (!grouped_in(rs, i, from, to, &f, &unsure))
		return unsure ? CG_UNSURE : CG_ALONE;
	/* in a group: the one of the rule before it, when that rule has
	 * its shape (the run goes on through it); first in a run, or
	 * between two runs, it changes the groups' layout */
	*pr = chain_near(rs, &k, -1, from, to, &f, &unsure);
	if (unsure)
		return CG_UNSURE;
	if (*pr == NULL || !group_class_same(ru, *pr)) {
		/* first in its run: the rule after it starts the run's
		 * first set, which takes the new rule's name (not when
		 * that rule starts a set of its own anyway) */
		k = i;
		nb = chain_near(rs, &k, 1, from, to, &f, &unsure);
		*pr = nb;
		if (unsure || nb == NULL || !group_same(ru, nb) ||
		    chunk_start(nb))
			return CG_UNSURE;
		return CG_FRONT;
	}
	if (!group_same(ru, *pr))
		return CG_UNSURE;
	/* a rule starting a set of its own in a run of intervals: the only
	 * element of that set when the rule after it is not of its shape or
	 * starts a set too (a run of hosts and ports has no such sets: nft/
	 * finds which kind the group is); else it would take the rules after
	 * it from the set before */
	if (chunk_start(ru)) {
		k = i;
		nb = chain_near(rs, &k, 1, from, to, &f, &unsure);
		if (unsure)
			return CG_UNSURE;
		*chunk = nb == NULL || !group_same(ru, nb) || chunk_start(nb);
		if (!*chunk && (group_spans(ru) | group_spans(*pr)) != 0)
			return CG_UNSURE;
	}
	return CG_JOIN;
}

bool
compile_group_last(const struct ruleset *rs, size_t i, const char *from,
    const char *to, const struct gtabs *t)
{
	const struct rule *ru = rs->rules[i], *nb;
	struct gfilt f = { ru, NULL };
	size_t k = i;
	bool unsure = false;

	if ((f.c = gtab_class(gtabs_find(t, from, to), ru)) == NULL)
		return false;
	nb = chain_near(rs, &k, 1, from, to, &f, &unsure);
	return !unsure && (nb == NULL || !group_class_same(ru, nb));
}

int
compile_group_step(const struct ruleset *rs, size_t i, bool spans,
    char **chain, struct celem *el, struct celem *pel)
{
	const struct rule *ru = rs->rules[i], *pr;
	int rc;

	*chain = NULL;
	memset(el, 0, sizeof(*el));
	memset(pel, 0, sizeof(*pel));
	if (GROUP_MIN == 0 || i == 0)
		return 1;
	pr = rs->rules[i - 1];
	/* one pair chain: `any` is several when there are zones (without
	 * zones it is the one side, UNZONED) */
	if ((rs->nzones > 0 && (strcmp(ru->from, ZONE_ANY) == 0 ||
	    strcmp(ru->to, ZONE_ANY) == 0)) || strcmp(ru->from, ZONE_ALL) == 0 ||
	    strcmp(ru->to, ZONE_ALL) == 0)
		return 1;
	if ((rc = compile_group_pair(ru, pr, spans, false, el, pel)) != 0)
		return rc;		/* same sides too */
	if ((*chain = compile_pair_chain(rs, ru->from, ru->to)) == NULL) {
		free(el->comment);
		free(pel->comment);
		el->comment = pel->comment = NULL;
		return -1;
	}
	return 0;
}
