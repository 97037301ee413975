/*
 * Warnings about a valid ruleset: what the kernel takes but the user
 * probably did not mean. A rule shadowed by an earlier one, a rule asking
 * for a connection state that never reaches the rules, a forward to an
 * address no internal zone can hold. Computed on the model; never an
 * error unless the caller makes it one (`fwctld -n --warnings-fatal`).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"
#include "ruleset.h"
#include "strmap.h"

/* Warnings kept; past that they are counted, and one note says so. */
#define LINT_MAX		100
/* Rule pairs compared for shadowing; past that the rest is not checked
 * (a budget for rulesets of many rules alike in one bucket). */
#define LINT_COMPARE_MAX	(20 * 1000 * 1000)

struct lctx {
	const struct ruleset	*rs;
	struct diags		*d;
	int			 n;
};

static void __attribute__((format(printf, 3, 4)))
lwarn(struct lctx *c, const struct srcloc *l, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (c->n++ >= LINT_MAX)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	diags_add(c->d, l, "warning: %s", msg ? msg : "out of memory");
	free(msg);
}

/* " (at file:line:col)", or "" for an object without a place. */
static const char *
at(const struct srcloc *l, char *buf, size_t len)
{
	if (l->file && l->line)
		snprintf(buf, len, " (at %s:%d:%d)", l->file, l->line, l->col);
	else if (l->line)
		snprintf(buf, len, " (at %d:%d)", l->line, l->col);
	else
		snprintf(buf, len, "%s", "");
	return buf;
}

/* --- rules that never match ------------------------------------------- */

/*
 * Established and related packets are accepted, and invalid ones
 * dropped, before any rule: a rule asking for those states alone never
 * sees a packet.
 */
static bool
state_never(const struct rule *r)
{
	return r->state != 0 && !(r->state & CTSTATE_NEW);
}

static void
lint_state(struct lctx *c, const struct rule *r)
{
	struct srcloc b;

	if (state_never(r))
		lwarn(c, srcpos_loc(&r->loc, &r->pos[RC_STATE], &b), "rule "
		    "\"%s\" never matches: established and related "
		    "connections are accepted, and invalid packets dropped, "
		    "before any rule; expected state new, or no state",
		    r->name);
}

/*
 * A block list kept out of every zone but not of the host: `to any`
 * leaves out `self`, so the addresses still reach the router itself
 * (its SSH, its web interface). `to all` is what is meant.
 */
static void
lint_block_any(struct lctx *c, const struct rule *r)
{
	struct srcloc b;

	if (r->to == NULL || strcmp(r->to, ZONE_ANY) != 0 ||
	    r->src.set == NULL || (r->verdict != VERDICT_DROP &&
	    r->verdict != VERDICT_REJECT))
		return;
	lwarn(c, srcpos_loc(&r->loc, &r->pos[RC_TO], &b), "rule \"%s\" keeps "
	    "@%s out of every zone but not out of this host: to any leaves "
	    "out self; expected to all", r->name, r->src.set);
}

/* --- shadowed rules ---------------------------------------------------- */

/* IP versions a rule can match: bit 1 IPv4, bit 2 IPv6. */
static int
addr_fams(const struct ruleset *rs, const struct addrmatch *m)
{
	ssize_t k;
	size_t i;
	int f = 0;

	if (m->set != NULL)
		return (k = ruleset_find_set(rs, m->set)) == -1 ? 3 :
		    rs->sets[k]->type == SET_IPV4 ? 1 :
		    rs->sets[k]->type == SET_IPV6 ? 2 : 3;
	for (i = 0; i < m->naddrs; i++)
		f |= m->addrs[i].family == AF_INET ? 1 : 2;
	return m->naddrs == 0 ? 3 : f;
}

static int
rule_fams(const struct ruleset *rs, const struct rule *r)
{
	int f = 3;

	if (r->family != 0)
		f &= r->family == AF_INET ? 1 : 2;
	if (r->proto == IPPROTO_ICMP)
		f &= 1;
	else if (r->proto == IPPROTO_ICMPV6)
		f &= 2;
	return f & addr_fams(rs, &r->src) & addr_fams(rs, &r->dst);
}

/* Every port b matches, a matches too. */
static bool
ports_cover(const struct portmatch *a, const struct portmatch *b)
{
	size_t i, j;

	if (a->set == NULL && a->nranges == 0)
		return true;
	if (a->set != NULL)
		return b->set != NULL && strcmp(a->set, b->set) == 0;
	if (b->set != NULL || b->nranges == 0)
		return false;
	for (i = 0; i < b->nranges; i++) {
		for (j = 0; j < a->nranges; j++)
			if (a->ranges[j].lo <= b->ranges[i].lo &&
			    b->ranges[i].hi <= a->ranges[j].hi)
				break;
		if (j == a->nranges)
			return false;
	}
	return true;
}

static bool
addrs_cover(const struct addrmatch *a, const struct addrmatch *b)
{
	size_t i, j;

	if (a->set == NULL && a->naddrs == 0)
		return true;
	if (a->set != NULL)
		return b->set != NULL && strcmp(a->set, b->set) == 0;
	if (b->set != NULL || b->naddrs == 0)
		return false;
	for (i = 0; i < b->naddrs; i++) {
		for (j = 0; j < a->naddrs; j++)
			if (addr_in_network(&b->addrs[i], &a->addrs[j]))
				break;
		if (j == a->naddrs)
			return false;
	}
	return true;
}

static bool
types_cover(const struct rule *a, const struct rule *b)
{
	size_t i;

	if (a->nicmp_types == 0)
		return true;
	if (b->nicmp_types == 0)
		return false;
	for (i = 0; i < b->nicmp_types; i++)
		if (memchr(a->icmp_types, b->icmp_types[i],
		    a->nicmp_types) == NULL)
			return false;
	return true;
}

/* Every packet b matches, a (earlier, final) matches first. */
static bool
rule_covers(const struct ruleset *rs, const struct rule *a,
    const struct rule *b)
{
	return zone_word_covers(a->from, b->from) && zone_word_covers(a->to, b->to) &&
	    (a->proto == PROTO_NONE || a->proto == b->proto) &&
	    (rule_fams(rs, b) & ~rule_fams(rs, a)) == 0 &&
	    ports_cover(&a->sport, &b->sport) &&
	    ports_cover(&a->dport, &b->dport) && types_cover(a, b) &&
	    addrs_cover(&a->src, &b->src) && addrs_cover(&a->dst, &b->dst) &&
	    (a->state == 0 || (b->state != 0 && (b->state & ~a->state) == 0));
}

/* A rule that takes every packet it matches: a verdict and no limit. */
static bool
rule_final(const struct rule *r)
{
	return r->verdict != VERDICT_NONE && r->limit.rate == 0 &&
	    !state_never(r);
}

/*
 * Rules go into buckets by pair, destination port and source and
 * destination address (each one port or host, or "*" for none, a range,
 * a network, a list or a set): a rule can only be covered by one in a
 * bucket it looks into, so a ruleset of many rules that differ in a port
 * or a host is not compared pair by pair.
 */
struct bucket {
	size_t	*v;		/* rule indexes, in order */
	size_t	 n;
	size_t	 cap;
};

struct shadow {
	struct strmap	*idx;		/* key -> bucket index + 1 */
	struct bucket	*b;
	size_t		 nb;
	size_t		 bcap;
	size_t		 compared;
};

#define KEY_MAX		(2 * FWCTL_NAME_MAX + 2 * 64 + 16)

/* The values of a rule's key, "*" where it has no single one. */
struct rkey {
	char	 port[8];
	char	 src[64];
	char	 dst[64];
};

static void
key_port(const struct portmatch *m, char *buf, size_t len)
{
	if (m->set == NULL && m->nranges == 1 &&
	    m->ranges[0].lo == m->ranges[0].hi)
		snprintf(buf, len, "%u", m->ranges[0].lo);
	else
		snprintf(buf, len, "*");
}

/* One host: a network covers more than its own bucket's rules. */
static void
key_addr(const struct addrmatch *m, char *buf, size_t len)
{
	if (m->set != NULL || m->naddrs != 1 || !addr_is_host(&m->addrs[0]) ||
	    addr_format(&m->addrs[0], buf, len) == NULL)
		snprintf(buf, len, "*");
}

static void
rkey_of(const struct rule *r, struct rkey *k)
{
	key_port(&r->dport, k->port, sizeof(k->port));
	key_addr(&r->src, k->src, sizeof(k->src));
	key_addr(&r->dst, k->dst, sizeof(k->dst));
}

static void
bucket_key(char *buf, size_t len, const char *from, const char *to,
    const char *port, const char *src, const char *dst)
{
	snprintf(buf, len, "%s\x1f%s\x1f%s\x1f%s\x1f%s", from, to, port,
	    src, dst);
}

static int
shadow_put(struct shadow *s, const struct rule *r, size_t i)
{
	char key[KEY_MAX];
	struct bucket *b, *nb;
	struct rkey rk;
	size_t k;

	rkey_of(r, &rk);
	bucket_key(key, sizeof(key), r->from, r->to, rk.port, rk.src,
	    rk.dst);
	if ((k = (size_t)strmap_gets(s->idx, key)) == 0) {
		if (s->nb == s->bcap) {
			size_t cap = s->bcap ? 2 * s->bcap : 64;

			if ((nb = reallocarray(s->b, cap, sizeof(*nb))) == NULL)
				return -1;
			s->b = nb;
			s->bcap = cap;
		}
		memset(&s->b[s->nb], 0, sizeof(s->b[0]));
		if (strmap_puts(s->idx, key, (void *)(s->nb + 1)) == -1)
			return -1;
		k = ++s->nb;
	}
	b = &s->b[k - 1];
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 4, *v;

		if ((v = reallocarray(b->v, cap, sizeof(*v))) == NULL)
			return -1;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = i;
	return 0;
}

/* The first earlier rule of one bucket that covers rule b, or best. */
static size_t
shadow_find(struct shadow *s, const struct ruleset *rs, const char *key,
    const struct rule *b, size_t best)
{
	const struct bucket *bk;
	size_t k, i;

	if ((k = (size_t)strmap_gets(s->idx, key)) == 0)
		return best;
	bk = &s->b[k - 1];
	for (i = 0; i < bk->n && bk->v[i] < best; i++) {
		if (s->compared++ >= LINT_COMPARE_MAX)
			return best;
		if (rule_covers(rs, rs->rules[bk->v[i]], b))
			return bk->v[i];
	}
	return best;
}

/*
 * Looks into every bucket that could hold a rule covering r: its pair or
 * `any` in its place, each of its values or "*" (a rule with one value
 * covers only a rule with that same value).
 */
static size_t
shadow_of(struct shadow *s, const struct ruleset *rs, const struct rule *r)
{
	const char *zf[2] = { r->from, ZONE_ANY }, *zt[2] = { r->to,
	    ZONE_ANY };
	char key[KEY_MAX];
	struct rkey rk;
	const char *v[3][2];
	size_t best = SIZE_MAX, m, d;
	unsigned w;

	rkey_of(r, &rk);
	v[0][0] = rk.port;
	v[1][0] = rk.src;
	v[2][0] = rk.dst;
	for (d = 0; d < 3; d++)
		v[d][1] = "*";
	for (m = 0; m < 32; m++) {
		/* bit 0: any for from, bit 1: any for to, bits 2-4: "*" */
		if (((m & 1) && !zone_word_covers(ZONE_ANY, r->from)) ||
		    ((m & 2) && !zone_word_covers(ZONE_ANY, r->to)))
			continue;
		for (d = 0, w = 0; d < 3; d++)
			if ((m >> (2 + d) & 1) && strcmp(v[d][0], "*") == 0)
				w = 1;	/* the same bucket as without the bit */
		if (w)
			continue;
		bucket_key(key, sizeof(key), zf[m & 1], zt[m >> 1 & 1],
		    v[0][m >> 2 & 1], v[1][m >> 3 & 1], v[2][m >> 4 & 1]);
		best = shadow_find(s, rs, key, r, best);
	}
	return best;
}

/* Each rule in order: a state that never comes, an earlier rule that
 * takes all its packets. */
static void
lint_rules(struct lctx *c)
{
	const struct ruleset *rs = c->rs;
	const struct rule *r, *a;
	struct shadow s = { 0 };
	char buf[512];
	size_t i, k;

	if ((s.idx = strmap_new(rs->nrules)) == NULL)
		return;
	for (i = 0; i < rs->nrules; i++) {
		r = rs->rules[i];
		if (r->name == NULL || r->from == NULL || r->to == NULL)
			continue;
		lint_state(c, r);
		lint_block_any(c, r);
		if (!state_never(r) && (k = shadow_of(&s, rs, r)) != SIZE_MAX) {
			a = rs->rules[k];
			lwarn(c, &r->loc, "rule \"%s\" never matches: rule "
			    "\"%s\"%s comes first and matches every packet it "
			    "would (%s)", r->name, a->name, at(&a->loc, buf,
			    sizeof(buf)), verdict_name(a->verdict));
		}
		if (s.compared >= LINT_COMPARE_MAX) {
			lwarn(c, &r->loc, "rules from rule \"%s\" on were not "
			    "checked for shadowing: too many rules alike",
			    r->name);
			break;
		}
		if (rule_final(r) && shadow_put(&s, r, i) == -1)
			break;
	}
	for (i = 0; i < s.nb; i++)
		free(s.b[i].v);
	free(s.b);
	strmap_free(s.idx);
}

/* --- forwards ------------------------------------------------------------ */

/* Could zone z hold address t: its networks hold t, or it has interfaces
 * and lists no network of t's family. */
static bool
zone_may_hold(const struct zone *z, const struct addr *t, bool *inside)
{
	size_t j;
	bool listed = false;

	*inside = false;
	for (j = 0; j < z->nnetworks; j++) {
		if (z->networks[j].family != t->family)
			continue;
		listed = true;
		if (addr_in_network(t, &z->networks[j]))
			*inside = true;
	}
	return *inside || (!listed && z->nifaces > 0);
}

/*
 * A forward to an address no internal or DMZ zone can hold: into an
 * external zone's network (connections sent back out), or where only
 * external zones have interfaces. (An address outside every declared
 * network with every internal zone pinned to its networks is an error
 * of validate.c's.)
 */
static void
lint_forward(struct lctx *c, const struct nat *n)
{
	const struct zone *z, *ext = NULL;
	struct srcloc b;
	const struct srcloc *l;
	char a[64];
	size_t i;
	bool inside, held = false;

	if (n->kind != NAT_FORWARD)
		return;
	for (i = 0; i < c->rs->nzones; i++) {
		z = c->rs->zones[i];
		if (!zone_may_hold(z, &n->target, &inside))
			continue;
		if (!(z->flags & ZONE_EXTERNAL))
			held = true;
		else if (inside && ext == NULL)
			ext = z;
	}
	l = srcpos_loc(&n->loc, &n->pos[NC_TARGET], &b);
	addr_format(&n->target, a, sizeof(a));
	if (ext != NULL)
		lwarn(c, l, "nat \"%s\": forward target %s is in the network "
		    "of external zone \"%s\": connections are sent back out; "
		    "expected an address of an internal or DMZ zone", n->name,
		    a, ext->name);
	else if (!held)
		lwarn(c, l, "nat \"%s\": no zone reaches forward target %s: "
		    "only external zones could hold it; expected an address "
		    "of an internal or DMZ zone", n->name, a);
}

int
lint_ruleset(const struct ruleset *rs, struct diags *d)
{
	struct lctx c = { rs, d, 0 };
	size_t i;

	lint_rules(&c);
	for (i = 0; i < rs->nnats; i++)
		lint_forward(&c, rs->nats[i]);
	if (c.n > LINT_MAX)
		diags_add(d, NULL, "warning: %d more warnings not shown",
		    c.n - LINT_MAX);
	return c.n;
}
