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

bool
compile_grouping(void)
{
	return GROUP_MIN > 0;
}

static bool
addr_host(const struct addrmatch *m)
{
	if (m->set != NULL || m->naddrs > 1)
		return false;
	return m->naddrs == 0 || m->addrs[0].prefix ==
	    (m->addrs[0].family == AF_INET ? 32 : 128);
}

static bool
port_one(const struct portmatch *m)
{
	if (m->set != NULL || m->nranges > 1)
		return false;
	return m->nranges == 0 || m->ranges[0].lo == m->ranges[0].hi;
}

static uint32_t
addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* The family of a rule that may be in a group (0 for both), or -1 when
 * it may not: a limit is state of its own, lists, sets, networks and
 * ranges are not one key, ICMP types are not supported. */
static int
group_family(const struct rule *ru)
{
	int f = 0;
	uint32_t len = 0, nf = 0;

	if (ru->limit.rate != 0 || ru->nicmp_types != 0 ||
	    ru->proto == IPPROTO_ICMP || ru->proto == IPPROTO_ICMPV6 ||
	    !addr_host(&ru->src) || !addr_host(&ru->dst) ||
	    !port_one(&ru->sport) || !port_one(&ru->dport))
		return -1;
	if (ru->src.naddrs == 1) {
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
	len += 4 * (uint32_t)(ru->sport.nranges + ru->dport.nranges);
	nf += (uint32_t)(ru->sport.nranges + ru->dport.nranges);
	if (nf == 0 || len > sizeof(((struct celem *)0)->key))
		return -1;
	return f;
}

static bool
str_same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Rules that differ only in their key: same sides, protocol, verdict,
 * state, log, and the same fields present. */
static bool
group_same(const struct rule *a, const struct rule *b)
{
	int fa;

	if ((fa = group_family(a)) == -1 || group_family(b) != fa)
		return false;
	return strcmp(a->from, b->from) == 0 && strcmp(a->to, b->to) == 0 &&
	    a->proto == b->proto && a->verdict == b->verdict &&
	    a->state == b->state && a->log == b->log &&
	    str_same(a->log_prefix, b->log_prefix) &&
	    a->src.naddrs == b->src.naddrs && a->dst.naddrs == b->dst.naddrs &&
	    a->sport.nranges == b->sport.nranges &&
	    a->dport.nranges == b->dport.nranges;
}

/* The key of a rule in its group's set: the fields in load order (source,
 * destination, source port, destination port), each padded to 4 bytes
 * when there are several. */
static uint32_t
group_key(const struct rule *ru, uint8_t *k, bool concat)
{
	uint32_t o = 0, l;
	const struct portmatch *pm[2] = { &ru->sport, &ru->dport };
	int i;

	if (ru->src.naddrs == 1) {
		l = addr_len(ru->src.addrs[0].family);
		memcpy(k + o, ru->src.addrs[0].bytes, l);
		o += l;
	}
	if (ru->dst.naddrs == 1) {
		l = addr_len(ru->dst.addrs[0].family);
		memcpy(k + o, ru->dst.addrs[0].bytes, l);
		o += l;
	}
	for (i = 0; i < 2; i++) {
		if (pm[i]->nranges == 0)
			continue;
		k[o] = (uint8_t)(pm[i]->ranges[0].lo >> 8);
		k[o + 1] = (uint8_t)pm[i]->ranges[0].lo;
		o += 2;
		if (concat) {
			k[o] = k[o + 1] = 0;
			o += 2;
		}
	}
	return o;
}

static int
group_key_cmp(const void *a, const void *b)
{
	const struct celem *x = a, *y = b;

	return memcmp(x->key, y->key, sizeof(x->key));
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
 * and verdict. Returns 0, 1 when the rules cannot be one set (two share a
 * key: the later one could never match, and its counter would be lost),
 * or -1.
 */
static int
compile_group(struct cplan *p, const struct rule *const *v, size_t n,
    const char *chain)
{
	const struct rule *ru = v[0];
	int fam = group_family(ru);
	struct crule *r;
	struct cset *cs;
	struct celem *el;
	struct cexpr *e;
	char *setname = NULL, *key = NULL, *comment = NULL;
	uint32_t reg = NFT_REG32_00, ktype = 0, klen;
	size_t i, nf;
	bool concat;
	int rc = -1;

	nf = ru->src.naddrs + ru->dst.naddrs + ru->sport.nranges +
	    ru->dport.nranges;
	concat = nf > 1;
	if ((el = calloc(n, sizeof(*el))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		el[i].key_len = group_key(v[i], el[i].key, concat);
	qsort(el, n, sizeof(*el), group_key_cmp);
	for (i = 1; i < n; i++)
		if (memcmp(el[i - 1].key, el[i].key, sizeof(el->key)) == 0) {
			free(el);
			return 1;
		}
	free(el);

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
	if (ru->src.naddrs == 1) {
		if (group_load(r, NFT_PAYLOAD_NETWORK_HEADER,
		    fam == AF_INET ? 12 : 8, addr_len(fam), &reg) == -1)
			goto out;
		ktype = fam == AF_INET ? CTYPE_IPV4 : CTYPE_IPV6;
	}
	if (ru->dst.naddrs == 1) {
		if (group_load(r, NFT_PAYLOAD_NETWORK_HEADER,
		    fam == AF_INET ? 16 : 24, addr_len(fam), &reg) == -1)
			goto out;
		ktype = ktype << 6 | (fam == AF_INET ? CTYPE_IPV4 :
		    CTYPE_IPV6);
	}
	if (ru->sport.nranges == 1) {
		if (group_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2,
		    &reg) == -1)
			goto out;
		ktype = ktype << 6 | CTYPE_PORT;
	}
	if (ru->dport.nranges == 1) {
		if (group_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2,
		    &reg) == -1)
			goto out;
		ktype = ktype << 6 | CTYPE_PORT;
	}
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
	cs->key_type = ktype;
	cs->counters = true;
	cs->loc = &ru->loc;
	for (i = 0; i < n; i++) {
		if ((el = cset_add_elem(cs)) == NULL)
			goto out;
		klen = group_key(v[i], el->key, concat);
		el->key_len = klen;
		cs->key_len = klen;
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
	const struct rule *ru = rs->rules[i], **gv = NULL, **t;
	size_t j, n = 1, gcap = 0, nc;
	int rc = 1;

	if (GROUP_MIN == 0 || group_family(ru) == -1)
		return 1;
	for (j = i + 1; j < rs->nrules; j++) {
		const struct rule *o = rs->rules[j];

		if (!zone_word_covers(o->from, from) ||
		    !zone_word_covers(o->to, to))
			continue;
		if (!group_same(ru, o))
			break;
		if (n >= gcap) {
			nc = gcap ? gcap * 2 : 64;
			if ((t = reallocarray(gv, nc, sizeof(*gv))) == NULL) {
				rc = -1;
				goto out;
			}
			gv = t;
			gcap = nc;
		}
		gv[n++] = o;
	}
	if (n >= GROUP_MIN) {
		gv[0] = ru;
		if ((rc = compile_group(p, gv, n, chain)) == 0)
			*next = j;
	}
 out:
	free(gv);
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
compile_group_step(const struct ruleset *rs, size_t i, char **chain,
    struct celem *el, struct celem *pel)
{
	const struct rule *ru = rs->rules[i], *pr;
	bool concat;

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
	if (!group_same(ru, pr))	/* same sides too */
		return 1;
	concat = ru->src.naddrs + ru->dst.naddrs + ru->sport.nranges +
	    ru->dport.nranges > 1;
	el->key_len = group_key(ru, el->key, concat);
	pel->key_len = group_key(pr, pel->key, concat);
	if ((el->comment = strdup(ru->name)) == NULL ||
	    (pel->comment = strdup(pr->name)) == NULL ||
	    (*chain = compile_pair_chain(rs, ru->from, ru->to)) == NULL) {
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
