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
/* How far compile_rule_grouped looks for a neighbour of the same sides. */
#define GROUP_SCAN	200000
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

/* Rules that differ only in their key: same sides, protocol, verdict,
 * state, log, limit, the same fields present, and intervals (if any) in
 * one field. */
static bool
group_same(const struct rule *a, const struct rule *b)
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
	    a->nicmp_types == b->nicmp_types &&
	    one_bit(group_spans(a) | group_spans(b));
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
    bool spans, bool edge, uint32_t run, const char *chain)
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
	if (asprintf(&key, "~g/%s", ru->name) == -1) {
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
	cs->run_edge = edge;
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

/* The run v[0..n) as one group, or (intervals) one per chunk, in order. */
static int
group_chunks(struct cplan *p, const struct rule *const *v, size_t n,
    bool spans, bool edge, const char *chain)
{
	size_t start = 0, k;
	uint32_t run = (uint32_t)p->nsets + 1;	/* its first set's place */

	for (k = 1; spans && k < n; k++)
		if (chunk_start(v[k])) {
			if (compile_group(p, v + start, k - start, true, edge,
			    run, chain) == -1)
				return -1;
			start = k;
		}
	return compile_group(p, v + start, n - start, spans, edge, run,
	    chain);
}

static const struct rule *chain_near(const struct ruleset *, size_t *, int,
    const char *, const char *, bool *);

/*
 * Whether the run from rules[first] to rules[last] of chain from -> to
 * has a rule of its shape next to it there, which it could not take (a
 * key twice, an overlap, intervals in another field): a member leaving
 * may let the run take it, and the groups are laid out anew.
 */
static bool
run_edge(const struct ruleset *rs, size_t first, size_t last,
    const char *from, const char *to)
{
	const struct rule *o;
	bool unsure = false;
	size_t k = first;

	if ((o = chain_near(rs, &k, -1, from, to, &unsure)) != NULL &&
	    group_same(rs->rules[first], o))
		return true;
	k = last;
	if ((o = chain_near(rs, &k, 1, from, to, &unsure)) != NULL &&
	    group_same(rs->rules[first], o))
		return true;
	return unsure;
}

int
compile_group_chunk(struct cplan *p, const struct rule *ru, const char *chain)
{
	return compile_group(p, &ru, 1, true, false, 0, chain);
}

/*
 * When rules[i] (in pair chain from -> to) starts a run of at least
 * GROUP_MIN rules of one shape there, the run as one group in chain:
 * returns 0 with *next the index after the run. 1 when it is not a group
 * (the caller compiles rules[i] alone), -1 out of memory.
 */
int
compile_group_run(struct cplan *p, const struct ruleset *rs, size_t i,
    const char *from, const char *to, const char *chain, size_t *next)
{
	const struct rule *ru = rs->rules[i], **gv = NULL;
	struct celem *el = NULL;
	size_t *gi = NULL, j, n = 1, gcap = 0, nc, k, tries;
	unsigned sp = group_spans(ru);
	ssize_t cut;
	int rc = -1;

	if (GROUP_MIN == 0 || group_family(ru) == -1)
		return 1;
	for (j = i; j < rs->nrules; j++) {
		const struct rule *o = rs->rules[j];

		if (j > i && (!zone_word_covers(o->from, from) ||
		    !zone_word_covers(o->to, to)))
			continue;
		/* intervals in one field only, over the whole run */
		if (j > i && (!group_same(ru, o) ||
		    !one_bit(sp | group_spans(o))))
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
			    run_edge(rs, gi[0], gi[n - 1], from, to),
			    chain)) == 0)
				*next = gi[n - 1] + 1;
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
 * chain from -> to (the rules covering it, as compile_pair takes them),
 * or NULL; *k becomes its index. *unsure when the walk is too long.
 */
static const struct rule *
chain_near(const struct ruleset *rs, size_t *k, int dir, const char *from,
    const char *to, bool *unsure)
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
		if (zone_word_covers(o->from, from) && zone_word_covers(o->to, to))
			return o;
	}
}

/* How many rules of chain from -> to next to rules[i] on side dir have
 * the shape of like, in a row (counted up to GROUP_MIN). */
static size_t
run_len(const struct ruleset *rs, size_t i, int dir, const char *from,
    const char *to, const struct rule *like, bool *unsure)
{
	const struct rule *o;
	size_t n = 0, k = i;

	while (n < GROUP_MIN && (o = chain_near(rs, &k, dir, from, to,
	    unsure)) != NULL && group_same(like, o))
		n++;
	return n;
}

/*
 * Whether rules[i] is, was or would be in a group of chain from -> to:
 * with its neighbours of the same shape a run of GROUP_MIN, or between
 * two rules of a run that long. Runs too short to be a group do not
 * count: the rule is one of its own either way.
 */
static bool
grouped_in(const struct ruleset *rs, size_t i, const char *from,
    const char *to, bool *unsure)
{
	const struct rule *ru = rs->rules[i], *pb, *nb;
	size_t k, before = 0, after = 0, n = 1;

	if (!zone_word_covers(ru->from, from) || !zone_word_covers(ru->to, to))
		return false;
	k = i;
	pb = chain_near(rs, &k, -1, from, to, unsure);
	k = i;
	nb = chain_near(rs, &k, 1, from, to, unsure);
	if (pb != NULL)
		before = run_len(rs, i, -1, from, to, pb, unsure);
	if (nb != NULL)
		after = run_len(rs, i, 1, from, to, nb, unsure);
	if (pb != NULL && nb != NULL && group_same(pb, nb) &&
	    before + after >= GROUP_MIN)
		return true;
	if (pb != NULL && group_same(ru, pb))
		n += before;
	if (nb != NULL && group_same(ru, nb))
		n += after;
	return n >= GROUP_MIN;
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
    const char *to, const struct rule **pr, bool *chunk)
{
	const struct rule *ru = rs->rules[i], *nb;
	size_t k = i;
	bool unsure = false;

	*pr = NULL;
	*chunk = false;
	if (ru->limit.per_source)
		return CG_UNSURE;	/* a meter set of its own */
	if (GROUP_MIN == 0)
		return CG_ALONE;
	if (!grouped_in(rs, i, from, to, &unsure))
		return unsure ? CG_UNSURE : CG_ALONE;
	/* in a group: the one of the rule before it, when that rule has
	 * its shape (the run goes on through it); first in a run, or
	 * between two runs, it changes the groups' layout */
	*pr = chain_near(rs, &k, -1, from, to, &unsure);
	if (*pr == NULL || unsure || !group_same(ru, *pr))
		return CG_UNSURE;
	/* a rule starting a set of its own in a run of intervals: the only
	 * element of that set when the rule after it is not of its shape or
	 * starts a set too (a run of hosts and ports has no such sets: nft/
	 * finds which kind the group is); else it would take the rules after
	 * it from the set before */
	if (chunk_start(ru)) {
		k = i;
		nb = chain_near(rs, &k, 1, from, to, &unsure);
		if (unsure)
			return CG_UNSURE;
		*chunk = nb == NULL || !group_same(ru, nb) || chunk_start(nb);
		if (!*chunk && (group_spans(ru) | group_spans(*pr)) != 0)
			return CG_UNSURE;
	}
	return CG_JOIN;
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

bool
compile_rule_grouped(const struct ruleset *rs, size_t i)
{
	const struct rule *ru = rs->rules[i];
	const char **v;
	size_t n, a, b;
	bool unsure = false, in = false;

	/* a meter set comes and goes with the rule: the whole diff */
	if (ru->limit.per_source)
		return true;
	if (GROUP_MIN == 0)
		return false;
	/* unsure when out of memory: the caller takes the whole way */
	if ((v = calloc(rs->nzones + 2, sizeof(*v))) == NULL)
		return true;
	n = compile_sides(rs, v);
	v[n] = ZONE_SELF;
	/* every pair chain rules[i] lands in, each on its own: rules of
	 * other sides in between count only where they share the chain */
	for (a = 0; a <= n && !in && !unsure; a++)
		for (b = 0; b <= n && !in && !unsure; b++)
			if (a < n || b < n)
				in = grouped_in(rs, i, v[a], v[b], &unsure);
	free(v);
	return in || unsure;
}
