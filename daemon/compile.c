/*
 * The ruleset model into fwctl's picture of one nf_tables table (struct
 * cplan). See docs/design-compile.md for the layout; nft.c turns the
 * picture into netlink messages and diffs two pictures.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_nat.h>

#include "compile.h"
#include "strmap.h"

#define REG1	NFT_REG_1
#define REG2	NFT_REG_2
#define UNZONED	ZONE_ANY	/* the side of a packet in no zone */

/* An interval of keys, inclusive, as big-endian bytes. */
struct span {
	uint8_t	 lo[16];
	uint8_t	 hi[16];
};

static int	grow(void *vp, size_t *cap, size_t n, size_t size);

static int
grow(void *vp, size_t *cap, size_t n, size_t size)
{
	void **p = vp;
	size_t ncap;
	void *np;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	if ((np = reallocarray(*p, ncap, size)) == NULL)
		return -1;
	memset((char *)np + *cap * size, 0, (ncap - *cap) * size);
	*p = np;
	*cap = ncap;
	return 0;
}

/* --- plan construction ------------------------------------------------ */

static void
cset_clear(struct cset *s)
{
	size_t i;

	free(s->name);
	for (i = 0; i < s->nelems; i++) {
		free(s->elems[i].chain);
		free(s->elems[i].comment);
	}
	free(s->elems);
	memset(s, 0, sizeof(*s));
}

static void
crule_clear(struct crule *r)
{
	size_t i;

	free(r->chain);
	free(r->key);
	free(r->name);
	free(r->comment);
	for (i = 0; i < r->nexprs; i++) {
		free(r->exprs[i].set);
		free(r->exprs[i].chain);
		free(r->exprs[i].prefix);
	}
	free(r->exprs);
	for (i = 0; i < r->nanon; i++)
		cset_clear(&r->anon[i]);
	free(r->anon);
	memset(r, 0, sizeof(*r));
}

void
cplan_set_clear(struct cset *s)
{
	cset_clear(s);
}

void
cplan_free(struct cplan *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->table);
	for (i = 0; i < p->nchains; i++) {
		free(p->chains[i].name);
		free(p->chains[i].type);
	}
	free(p->chains);
	for (i = 0; i < p->nsets; i++)
		cset_clear(&p->sets[i]);
	free(p->sets);
	for (i = 0; i < p->nrules; i++)
		crule_clear(&p->rules[i]);
	free(p->rules);
	compile_groups_free(p->groups);
	memset(p, 0, sizeof(*p));
}

struct cchain *
cplan_add_chain(struct cplan *p, const char *name)
{
	struct cchain *c;

	if (grow(&p->chains, &p->chains_cap, p->nchains, sizeof(*c)) == -1)
		return NULL;
	c = &p->chains[p->nchains];
	memset(c, 0, sizeof(*c));
	if ((c->name = strdup(name)) == NULL)
		return NULL;
	c->policy = NF_ACCEPT;
	p->nchains++;
	return c;
}

static struct cchain *
cplan_add_base(struct cplan *p, const char *name, const char *type,
    uint32_t hook, int32_t prio)
{
	struct cchain *c;

	if ((c = cplan_add_chain(p, name)) == NULL)
		return NULL;
	c->base = true;
	c->hook = hook;
	c->prio = prio;
	if ((c->type = strdup(type)) == NULL)
		return NULL;
	return c;
}

struct crule *
cplan_add_rule(struct cplan *p, const char *chain, const char *key,
    const char *name)
{
	struct crule *r;
	struct cexpr *e;

	/* the rule before is complete: its expressions take what they
	 * need, not the doubled room (a plan of 100,000 kernel rules) */
	r = p->nrules > 0 ? &p->rules[p->nrules - 1] : NULL;
	if (r != NULL && r->nexprs > 0 && r->nexprs < r->exprs_cap &&
	    (e = reallocarray(r->exprs, r->nexprs, sizeof(*e))) != NULL) {
		r->exprs = e;
		r->exprs_cap = r->nexprs;
	}
	if (grow(&p->rules, &p->rules_cap, p->nrules, sizeof(*r)) == -1)
		return NULL;
	r = &p->rules[p->nrules];
	memset(r, 0, sizeof(*r));
	p->nrules++;
	if ((r->chain = strdup(chain)) == NULL ||
	    (r->key = strdup(key)) == NULL ||
	    (name != NULL && (r->name = strdup(name)) == NULL))
		return NULL;
	return r;
}

struct cexpr *
crule_add(struct crule *r, enum cx_type type)
{
	struct cexpr *e;

	if (grow(&r->exprs, &r->exprs_cap, r->nexprs, sizeof(*e)) == -1)
		return NULL;
	e = &r->exprs[r->nexprs++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	return e;
}

static struct cset *
crule_add_anon(struct crule *r)
{
	struct cset *s;

	if ((s = reallocarray(r->anon, r->nanon + 1, sizeof(*s))) == NULL)
		return NULL;
	r->anon = s;
	s = &r->anon[r->nanon++];
	memset(s, 0, sizeof(*s));
	return s;
}

struct celem *
cset_add_elem(struct cset *s)
{
	struct celem *e;

	if (grow(&s->elems, &s->elems_cap, s->nelems, sizeof(*e)) == -1)
		return NULL;
	e = &s->elems[s->nelems++];
	memset(e, 0, sizeof(*e));
	e->key_len = s->key_len;
	return e;
}

struct cset *
cplan_add_set(struct cplan *p)
{
	struct cset *cs;

	if (grow(&p->sets, &p->sets_cap, p->nsets, sizeof(*cs)) == -1)
		return NULL;
	cs = &p->sets[p->nsets++];
	memset(cs, 0, sizeof(*cs));
	return cs;
}

const struct cchain *
cplan_chain(const struct cplan *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nchains; i++)
		if (strcmp(p->chains[i].name, name) == 0)
			return &p->chains[i];
	return NULL;
}

const struct cset *
cplan_set(const struct cplan *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nsets; i++)
		if (strcmp(p->sets[i].name, name) == 0)
			return &p->sets[i];
	return NULL;
}

const struct crule *
cplan_rule(const struct cplan *p, const char *chain, const char *key)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].chain, chain) == 0 &&
		    strcmp(p->rules[i].key, key) == 0)
			return &p->rules[i];
	return NULL;
}

size_t
cplan_chain_nrules(const struct cplan *p, const char *chain)
{
	size_t i, n = 0;

	for (i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].chain, chain) == 0)
			n++;
	return n;
}

/* --- expressions -------------------------------------------------------- */

int
crule_meta(struct crule *r, uint32_t key, uint32_t dreg)
{
	struct cexpr *e;

	if ((e = crule_add(r, CX_META)) == NULL)
		return -1;
	e->key = key;
	e->dreg = dreg;
	return 0;
}

int
crule_payload(struct crule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct cexpr *e;

	if ((e = crule_add(r, CX_PAYLOAD)) == NULL)
		return -1;
	e->key = base;
	e->offset = off;
	e->len = len;
	e->dreg = REG1;
	return 0;
}

int
crule_cmp(struct crule *r, uint32_t op, const void *data, uint32_t len)
{
	struct cexpr *e;

	if ((e = crule_add(r, CX_CMP)) == NULL)
		return -1;
	e->sreg = REG1;
	e->op = op;
	e->len = len;
	memcpy(e->data, data, len);
	return 0;
}

static int
x_cmp_u8(struct crule *r, uint8_t v)
{
	return crule_cmp(r, NFT_CMP_EQ, &v, 1);
}

int
crule_verdict(struct crule *r, int verdict, const char *chain)
{
	struct cexpr *e;

	if ((e = crule_add(r, CX_VERDICT)) == NULL)
		return -1;
	e->verdict = verdict;
	if (chain != NULL && (e->chain = strdup(chain)) == NULL)
		return -1;
	return 0;
}

static int
x_counter(struct crule *r)
{
	return crule_add(r, CX_COUNTER) == NULL ? -1 : 0;
}

int
crule_nfproto(struct crule *r, int family)
{
	if (crule_meta(r, NFT_META_NFPROTO, REG1) == -1)
		return -1;
	return x_cmp_u8(r, family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6);
}

int
crule_l4proto(struct crule *r, int proto)
{
	if (crule_meta(r, NFT_META_L4PROTO, REG1) == -1)
		return -1;
	return x_cmp_u8(r, (uint8_t)proto);
}

/* ct state & mask != 0 (or == 0 when none) */
int
crule_ctstate(struct crule *r, uint32_t mask)
{
	struct cexpr *e;
	uint32_t zero = 0;

	if ((e = crule_add(r, CX_CT)) == NULL)
		return -1;
	e->key = NFT_CT_STATE;
	e->dreg = REG1;
	if ((e = crule_add(r, CX_BITWISE)) == NULL)
		return -1;
	e->sreg = e->dreg = REG1;
	e->len = 4;
	memcpy(e->data, &mask, 4);	/* ct values are host order */
	return crule_cmp(r, NFT_CMP_NEQ, &zero, 4);
}

static int
x_lookup_anon(struct crule *r, uint32_t dreg)
{
	struct cexpr *e;

	if ((e = crule_add(r, CX_LOOKUP)) == NULL)
		return -1;
	e->sreg = REG1;
	e->dreg = dreg;
	e->set_anon = (int)r->nanon;	/* the set last added */
	return 0;
}

static int
x_lookup_named(struct crule *r, const char *set)
{
	struct cexpr *e;

	if ((e = crule_add(r, CX_LOOKUP)) == NULL)
		return -1;
	e->sreg = REG1;
	if ((e->set = strdup(set)) == NULL)
		return -1;
	return 0;
}

/* --- intervals ---------------------------------------------------------- */

static int
bytes_inc(uint8_t *b, size_t len)	/* returns 1 on overflow */
{
	while (len-- > 0)
		if (++b[len] != 0)
			return 0;
	return 1;
}

static bool
bytes_max(const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != 0xff)
			return false;
	return true;
}

static size_t span_len;		/* qsort has no context argument */

static int
span_cmp(const void *a, const void *b)
{
	return memcmp(((const struct span *)a)->lo,
	    ((const struct span *)b)->lo, span_len);
}

/* Sorts and merges overlapping or adjacent spans, then appends them to s
 * as interval start/end elements. */
static int
cset_add_spans(struct cset *s, struct span *v, size_t n)
{
	size_t len = s->key_len, i, m = 0;
	struct celem *e;
	uint8_t next[16];

	span_len = len;
	qsort(v, n, sizeof(*v), span_cmp);
	for (i = 0; i < n; i++) {
		if (m > 0) {
			memcpy(next, v[m - 1].hi, len);
			if (bytes_max(next, len) || (bytes_inc(next, len), 0) ||
			    memcmp(v[i].lo, next, len) <= 0) {
				if (memcmp(v[i].hi, v[m - 1].hi, len) > 0)
					memcpy(v[m - 1].hi, v[i].hi, len);
				continue;
			}
		}
		v[m++] = v[i];
	}
	for (i = 0; i < m; i++) {
		if ((e = cset_add_elem(s)) == NULL)
			return -1;
		memcpy(e->key, v[i].lo, len);
		if (bytes_max(v[i].hi, len))
			continue;
		if ((e = cset_add_elem(s)) == NULL)
			return -1;
		memcpy(e->key, v[i].hi, len);
		bytes_inc(e->key, len);
		e->end = true;
	}
	return 0;
}

static void
addr_span(const struct addr *a, struct span *sp)
{
	size_t len = a->family == AF_INET ? 4 : 16;
	int i, bits;

	memset(sp, 0, sizeof(*sp));
	memcpy(sp->lo, a->bytes, len);
	memcpy(sp->hi, a->bytes, len);
	for (i = 0; i < (int)len; i++) {
		bits = a->prefix - i * 8;
		if (bits >= 8)
			continue;
		sp->hi[i] |= bits <= 0 ? 0xff : (uint8_t)(0xff >> bits);
	}
}

static void
port_span(const struct portrange *pr, struct span *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->lo[0] = pr->lo >> 8;
	sp->lo[1] = pr->lo & 0xff;
	sp->hi[0] = pr->hi >> 8;
	sp->hi[1] = pr->hi & 0xff;
}

/* --- matches ------------------------------------------------------------ */

static int
family_bits(int family)
{
	return family == AF_INET ? 1 : 2;
}

static int
set_family_bits(const struct ruleset *rs, const char *name)
{
	ssize_t i;

	if (name == NULL || (i = ruleset_find_set(rs, name)) == -1)
		return 3;
	switch (rs->sets[i]->type) {
	case SET_IPV4:
		return 1;
	case SET_IPV6:
		return 2;
	default:
		return 3;
	}
}

/* Families an address match can match: bit 1 IPv4, bit 2 IPv6. */
static int
addrmatch_families(const struct ruleset *rs, const struct addrmatch *m)
{
	size_t i;
	int f = 0;

	if (m->set != NULL)
		return set_family_bits(rs, m->set);
	if (m->naddrs == 0)
		return 3;
	for (i = 0; i < m->naddrs; i++)
		f |= family_bits(m->addrs[i].family);
	return f;
}

static int
x_addr_prefix(struct crule *r, const struct addr *a, uint32_t off)
{
	uint32_t nbytes = (uint32_t)(a->prefix + 7) / 8;
	struct cexpr *e;
	uint8_t mask[16];
	int i;

	if (a->prefix == 0)
		return 0;	/* the nfproto check is the whole match */
	if (crule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, nbytes) == -1)
		return -1;
	if (a->prefix % 8 != 0) {
		memset(mask, 0, sizeof(mask));
		for (i = 0; i < (int)nbytes; i++) {
			int bits = a->prefix - i * 8;
			mask[i] = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		}
		if ((e = crule_add(r, CX_BITWISE)) == NULL)
			return -1;
		e->sreg = e->dreg = REG1;
		e->len = nbytes;
		memcpy(e->data, mask, nbytes);
	}
	return crule_cmp(r, NFT_CMP_EQ, a->bytes, nbytes);
}

/* Appends the match of m for one family (the rule already checks
 * nfproto when the match is family-specific). */
int
crule_match_addrs(struct crule *r, const struct ruleset *rs,
    const struct addrmatch *m, bool dst, int family)
{
	uint32_t off, alen = family == AF_INET ? 4 : 16;
	struct span *v = NULL;
	struct cset *s;
	size_t i, n = 0, one = 0;

	off = family == AF_INET ? (dst ? 16 : 12) : (dst ? 24 : 8);
	if (m->set != NULL) {
		if (crule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen) == -1)
			return -1;
		return x_lookup_named(r, m->set);
	}
	for (i = 0; i < m->naddrs; i++)
		if (m->addrs[i].family == family) {
			n++;
			one = i;
		}
	if (n == 0)
		return 0;
	if (n == 1)
		return x_addr_prefix(r, &m->addrs[one], off);
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return -1;
	for (i = 0, n = 0; i < m->naddrs; i++)
		if (m->addrs[i].family == family)
			addr_span(&m->addrs[i], &v[n++]);
	if ((s = crule_add_anon(r)) == NULL)
		goto fail;
	s->key_type = family == AF_INET ? CTYPE_IPV4 : CTYPE_IPV6;
	s->key_len = alen;
	s->flags = NFT_SET_INTERVAL;
	if (cset_add_spans(s, v, n) == -1)
		goto fail;
	free(v);
	if (crule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen) == -1)
		return -1;
	return x_lookup_anon(r, 0);
 fail:
	free(v);
	return -1;
}

int
crule_match_ports(struct crule *r, int proto, const struct portmatch *m,
    bool dst)
{
	struct span *v;
	struct cexpr *e;
	struct cset *s;
	size_t i;
	uint16_t lo, hi;

	if (m->set == NULL && m->nranges == 0)
		return 0;
	if (crule_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, dst ? 2 : 0, 2) == -1)
		return -1;
	if (m->set != NULL)
		return x_lookup_named(r, m->set);
	if (m->nranges == 1) {
		lo = htons(m->ranges[0].lo);
		hi = htons(m->ranges[0].hi);
		if (m->ranges[0].lo == m->ranges[0].hi)
			return crule_cmp(r, NFT_CMP_EQ, &lo, 2);
		if ((e = crule_add(r, CX_RANGE)) == NULL)
			return -1;
		e->sreg = REG1;
		e->op = NFT_RANGE_EQ;
		e->len = 2;
		memcpy(e->data, &lo, 2);
		memcpy(e->data2, &hi, 2);
		return 0;
	}
	if ((v = calloc(m->nranges, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < m->nranges; i++)
		port_span(&m->ranges[i], &v[i]);
	if ((s = crule_add_anon(r)) == NULL) {
		free(v);
		return -1;
	}
	s->key_type = CTYPE_PORT;
	s->key_len = 2;
	s->flags = NFT_SET_INTERVAL;
	if (cset_add_spans(s, v, m->nranges) == -1) {
		free(v);
		return -1;
	}
	free(v);
	(void)proto;
	return x_lookup_anon(r, 0);
}

static int
match_icmp(struct crule *r, const struct rule *ru)
{
	struct cset *s;
	struct celem *e;
	size_t i, j;

	if (ru->nicmp_types == 0)
		return 0;
	if (crule_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1) == -1)
		return -1;
	if (ru->nicmp_types == 1)
		return x_cmp_u8(r, ru->icmp_types[0]);
	if ((s = crule_add_anon(r)) == NULL)
		return -1;
	s->key_type = ru->proto == IPPROTO_ICMP ? CTYPE_ICMP : CTYPE_ICMPV6;
	s->key_len = 1;
	for (i = 0; i < ru->nicmp_types; i++) {
		for (j = 0; j < i; j++)	/* the kernel refuses duplicates */
			if (ru->icmp_types[j] == ru->icmp_types[i])
				break;
		if (j < i)
			continue;
		if ((e = cset_add_elem(s)) == NULL)
			return -1;
		e->key[0] = ru->icmp_types[i];
	}
	return x_lookup_anon(r, 0);
}

static uint64_t
limit_unit_seconds(enum limit_unit u)
{
	switch (u) {
	case LIMIT_MINUTE:
		return 60;
	case LIMIT_HOUR:
		return 3600;
	case LIMIT_DAY:
		return 86400;
	default:
		return 1;
	}
}

/* Terminal part of a rule: counter, log, verdict. */
int
crule_tail(struct crule *r, const struct rule *ru, int family)
{
	struct cexpr *e;

	if (x_counter(r) == -1)
		return -1;
	if (ru->log) {
		if ((e = crule_add(r, CX_LOG)) == NULL)
			return -1;
		if (ru->log_prefix != NULL &&
		    (e->prefix = strdup(ru->log_prefix)) == NULL)
			return -1;
	}
	switch (ru->verdict) {
	case VERDICT_ACCEPT:
		return crule_verdict(r, NF_ACCEPT, NULL);
	case VERDICT_REJECT:
		if ((e = crule_add(r, CX_REJECT)) == NULL)
			return -1;
		if (ru->proto == IPPROTO_TCP) {
			e->reject_type = NFT_REJECT_TCP_RST;
		} else {
			e->reject_type = NFT_REJECT_ICMPX_UNREACH;
			e->reject_code = NFT_REJECT_ICMPX_PORT_UNREACH;
		}
		(void)family;
		return 0;
	default:
		return crule_verdict(r, NF_DROP, NULL);
	}
}

static char *
rule_comment(const struct rule *ru)
{
	char *s;
	size_t n;

	if (ru->comment == NULL || *ru->comment == '\0')
		return strdup(ru->name);
	/* the kernel keeps 256 bytes of userdata: cut the user's comment,
	 * never the name, at a UTF-8 character boundary */
	if (asprintf(&s, "%s: %s", ru->name, ru->comment) == -1)
		return NULL;
	n = strlen(s);
	if (n > 250) {
		n = 250;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		s[n] = '\0';
	}
	return s;
}

int
compile_meter_name(char *buf, size_t len, const char *rule, int family)
{
	int n = snprintf(buf, len, METER_SET_PREFIX "%s#%d", rule,
	    family == AF_INET ? 4 : 6);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * The meter of a per-source limit: a set of source addresses of one
 * family, filled by the packet path, each element with a limit of its
 * own. One per rule and family, shared by the rule's copies in every
 * chain, so that a source has one bucket per rule. Bounded: when it is
 * full, a new source finds no element and the rule does not match it.
 */
static const char *
meter_set(struct cplan *p, const struct rule *ru, int family,
    uint64_t timeout_ms)
{
	struct cset *cs;
	char buf[FWCTL_NAME_MAX + 16], *name;

	if (compile_meter_name(buf, sizeof(buf), ru->name, family) == -1 ||
	    (name = strdup(buf)) == NULL)
		return NULL;
	if ((cs = (struct cset *)(uintptr_t)cplan_set(p, name)) != NULL) {
		free(name);
		return cs->name;
	}
	if ((cs = cplan_add_set(p)) == NULL) {
		free(name);
		return NULL;
	}
	cs->name = name;
	cs->flags = NFT_SET_TIMEOUT | NFT_SET_EVAL;
	cs->key_type = family == AF_INET ? CTYPE_IPV4 : CTYPE_IPV6;
	cs->key_len = family == AF_INET ? 4 : 16;
	cs->timeout_ms = timeout_ms;
	cs->size = LIMIT_METER_SIZE;
	cs->loc = &ru->loc;
	return cs->name;
}

void
compile_limit(const struct limit *l, uint64_t *rate, uint64_t *unit,
    uint32_t *burst)
{
	*rate = l->rate;
	*unit = limit_unit_seconds(l->unit);
	*burst = l->burst != 0 ? l->burst : FWCTL_LIMIT_BURST_DEFAULT;
}

/*
 * A limit: one bucket for the rule, or with per source one per source
 * address in the rule's meter (family is then 4 or 6). A source's element
 * lives while its packets come and until its bucket would be full again,
 * so that letting it expire gives no source more than its rate.
 */
static int
x_limit(struct cplan *p, struct crule *r, const struct rule *ru, int family)
{
	const struct limit *l = &ru->limit;
	struct cexpr *e;
	uint64_t rate, unit, unit_ms, timeout;
	uint32_t burst;
	const char *set = NULL;

	compile_limit(l, &rate, &unit, &burst);
	unit_ms = unit * 1000;
	if (l->per_source) {
		timeout = (burst + rate - 1) / rate;
		timeout = unit_ms * (timeout > 1 ? timeout : 1);
		if (timeout > FWCTL_TIMEOUT_MAX_MS)
			timeout = FWCTL_TIMEOUT_MAX_MS;
		if (crule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, family == AF_INET ?
		    12 : 8, family == AF_INET ? 4 : 16) == -1 ||
		    (set = meter_set(p, ru, family, timeout)) == NULL)
			return -1;
	}
	if ((e = crule_add(r, l->per_source ? CX_DYNSET : CX_LIMIT)) == NULL)
		return -1;
	e->rate = rate;
	e->unit = unit;
	e->burst = burst;
	if (set != NULL) {
		e->sreg = REG1;
		e->timeout_ms = cplan_set(p, set)->timeout_ms;
		if ((e->set = strdup(set)) == NULL)
			return -1;
	}
	return 0;
}

/* One kernel rule for ru in chain, restricted to family (0 = both). */
static int
compile_rule_one(struct cplan *p, const struct ruleset *rs,
    const struct rule *ru, const char *chain, const char *key, int family)
{
	struct crule *r;

	if ((r = cplan_add_rule(p, chain, key, ru->name)) == NULL)
		return -1;
	r->loc = &ru->loc;
	if ((r->comment = rule_comment(ru)) == NULL)
		return -1;
	if (family != 0 && crule_nfproto(r, family) == -1)
		return -1;
	if (ru->proto != PROTO_NONE && crule_l4proto(r, ru->proto) == -1)
		return -1;
	if (crule_match_ports(r, ru->proto, &ru->sport, false) == -1 ||
	    crule_match_ports(r, ru->proto, &ru->dport, true) == -1 ||
	    match_icmp(r, ru) == -1)
		return -1;
	if (family != 0 &&
	    (crule_match_addrs(r, rs, &ru->src, false, family) == -1 ||
	    crule_match_addrs(r, rs, &ru->dst, true, family) == -1))
		return -1;
	if (ru->state != 0 && crule_ctstate(r, ru->state) == -1)
		return -1;
	if (ru->limit.rate != 0 && x_limit(p, r, ru, family) == -1)
		return -1;
	return crule_tail(r, ru, family);
}

/* The kernel rules of one model rule in one chain: one, or one per family
 * when the rule's addresses name both. */
static int
compile_rule(struct cplan *p, const struct ruleset *rs, const struct rule *ru,
    const char *chain, struct diags *d)
{
	int fam = 3;
	char key[FWCTL_NAME_MAX + 4];
	bool specific = false;

	if (ru->limit.per_source)
		specific = true;	/* a meter per family */
	if (ru->family != 0) {
		fam &= family_bits(ru->family);
		specific = true;
	}
	if (ru->proto == IPPROTO_ICMP) {
		fam &= 1;
		specific = true;
	} else if (ru->proto == IPPROTO_ICMPV6) {
		fam &= 2;
		specific = true;
	}
	if (ru->src.set != NULL || ru->src.naddrs > 0) {
		fam &= addrmatch_families(rs, &ru->src);
		specific = true;
	}
	if (ru->dst.set != NULL || ru->dst.naddrs > 0) {
		fam &= addrmatch_families(rs, &ru->dst);
		specific = true;
	}
	if (!specific)
		return compile_rule_one(p, rs, ru, chain, ru->name, 0);
	if (fam == 0) {
		diags_add(d, &ru->loc, "rule %s: its addresses and protocol "
		    "have no IP version in common, it can never match",
		    ru->name);
		return -1;
	}
	if (fam != 3)
		return compile_rule_one(p, rs, ru, chain, ru->name,
		    fam == 1 ? AF_INET : AF_INET6);
	snprintf(key, sizeof(key), "%s#4", ru->name);
	if (compile_rule_one(p, rs, ru, chain, key, AF_INET) == -1)
		return -1;
	snprintf(key, sizeof(key), "%s#6", ru->name);
	return compile_rule_one(p, rs, ru, chain, key, AF_INET6);
}

/* --- policies ----------------------------------------------------------- */

static const struct policy *
policy_find(const struct ruleset *rs, const char *from, const char *to)
{
	ssize_t i = ruleset_find_policy(rs, from, to);

	return i == -1 ? NULL : rs->policies[i];
}

const struct policy *
compile_policy_of(const struct ruleset *rs, const char *from, const char *to)
{
	const struct policy *po = NULL;
	bool from_zone = strcmp(from, UNZONED) != 0;
	bool to_zone = strcmp(to, UNZONED) != 0;
	bool from_self = strcmp(from, ZONE_SELF) == 0;
	bool to_self = strcmp(to, ZONE_SELF) == 0;

	/* `any` stands for every zone and for no zone, never for self */
	if (from_zone && to_zone)
		po = policy_find(rs, from, to);
	if (po == NULL && from_zone && !to_self)
		po = policy_find(rs, from, ZONE_ANY);
	if (po == NULL && to_zone && !from_self)
		po = policy_find(rs, ZONE_ANY, to);
	if (po == NULL && !from_self && !to_self)
		po = policy_find(rs, ZONE_ANY, ZONE_ANY);
	return po;
}

enum verdict
compile_policy_verdict(const struct ruleset *rs, const char *from,
    const char *to, const char **why)
{
	static char buf[2 * FWCTL_NAME_MAX + 32];
	const struct policy *po = compile_policy_of(rs, from, to);
	bool from_self = strcmp(from, ZONE_SELF) == 0;
	enum verdict v;

	if (po != NULL) {
		if (why != NULL) {
			snprintf(buf, sizeof(buf), "policy %s -> %s",
			    po->from, po->to);
			*why = buf;
		}
		return po->verdict;
	}
	if ((v = compile_preset_verdict(rs, from, to)) != VERDICT_NONE) {
		if (why != NULL)
			*why = "preset";
		return v;
	}
	if (why != NULL)
		*why = "default";
	return from_self ? VERDICT_ACCEPT : VERDICT_DROP;
}

/*
 * A policy with log: a rule before the verdict's that logs what falls to
 * the policy, at most POLICY_LOG_RATE a second per pair (a flood must not
 * flood the log), and lets it go on to the verdict. The prefix is the
 * user's, else it names the pair and the verdict.
 */
static int
compile_policy_log(struct cplan *p, const struct policy *po,
    const char *chain, const char *from, const char *to, enum verdict v)
{
	struct crule *r;
	struct cexpr *e;

	if ((r = cplan_add_rule(p, chain, KEY_POLICY_LOG, NULL)) == NULL)
		return -1;
	/* a space before any colon: never mistaken for a rule's name */
	if (asprintf(&r->comment, "policy %s -> %s log", po->from,
	    po->to) == -1) {
		r->comment = NULL;
		return -1;
	}
	if (x_counter(r) == -1 || (e = crule_add(r, CX_LIMIT)) == NULL)
		return -1;
	e->rate = POLICY_LOG_RATE;
	e->unit = 1;
	e->burst = POLICY_LOG_BURST;
	if ((e = crule_add(r, CX_LOG)) == NULL)
		return -1;
	if (po->log_prefix != NULL)
		e->prefix = strdup(po->log_prefix);
	else if (asprintf(&e->prefix, "%.40s->%.40s %s: ", from, to,
	    verdict_name(v)) == -1)
		e->prefix = NULL;
	return e->prefix == NULL ? -1 : 0;
}

bool
compile_pair_end_key(const char *key)
{
	return strcmp(key, KEY_POLICY) == 0 ||
	    strcmp(key, KEY_POLICY_LOG) == 0 || strcmp(key, KEY_NAT_OPEN) == 0;
}

static int
compile_policy_rule(struct cplan *p, const struct ruleset *rs,
    const char *chain, const char *from, const char *to)
{
	const char *why;
	enum verdict v = compile_policy_verdict(rs, from, to, &why);
	const struct policy *po = compile_policy_of(rs, from, to);
	struct crule *r;
	struct cexpr *e;

	if (po != NULL && po->log &&
	    compile_policy_log(p, po, chain, from, to, v) == -1)
		return -1;
	if ((r = cplan_add_rule(p, chain, KEY_POLICY, NULL)) == NULL)
		return -1;
	/* a space before any colon: never mistaken for a rule's name */
	if (asprintf(&r->comment, "%s%s", why, strncmp(why, "policy ", 7) ?
	    " policy" : "") == -1) {
		r->comment = NULL;
		return -1;
	}
	if (x_counter(r) == -1)
		return -1;
	switch (v) {
	case VERDICT_ACCEPT:
		return crule_verdict(r, NF_ACCEPT, NULL);
	case VERDICT_REJECT:
		if ((e = crule_add(r, CX_REJECT)) == NULL)
			return -1;
		e->reject_type = NFT_REJECT_ICMPX_UNREACH;
		e->reject_code = NFT_REJECT_ICMPX_PORT_UNREACH;
		return 0;
	default:
		return crule_verdict(r, NF_DROP, NULL);
	}
}

/* --- zones and chains --------------------------------------------------- */

static bool
zone_has_ifaces(const struct zone *z)
{
	return z->nifaces > 0;
}

static bool
zone_by_net(const struct zone *z)
{
	return z->nifaces == 0 && z->nnetworks > 0;
}

static void
pair_naive(char *buf, size_t len, const char *a, const char *b, char sep)
{
	snprintf(buf, len, "%s%c%s", a, sep, b);
}

/* Every side a packet can come from (to == false) or go to. */
size_t
compile_sides(const struct ruleset *rs, const char **v)
{
	size_t i, n = 0;

	for (i = 0; i < rs->nzones; i++)
		v[n++] = rs->zones[i]->name;
	v[n++] = UNZONED;
	return n;
}

char *
compile_pair_chain(const struct ruleset *rs, const char *from, const char *to)
{
	char mine[2 * FWCTL_NAME_MAX + 4], other[sizeof(mine)];
	const char **v;
	const char *f, *t;
	size_t n, i, j, collide = 0;
	char *s;

	pair_naive(mine, sizeof(mine), from, to, '-');
	if ((v = calloc(rs->nzones + 2, sizeof(*v))) == NULL)
		return NULL;
	n = compile_sides(rs, v);
	v[n++] = ZONE_SELF;
	/* zone names may hold '-': when two pairs would share a name, both
	 * use '/', which no zone name has */
	for (i = 0; i < n && !collide; i++)
		for (j = 0; j < n; j++) {
			f = v[i];
			t = v[j];
			if (strcmp(f, ZONE_SELF) == 0 &&
			    strcmp(t, ZONE_SELF) == 0)
				continue;
			if (strcmp(f, from) == 0 && strcmp(t, to) == 0)
				continue;
			pair_naive(other, sizeof(other), f, t, '-');
			if (strcmp(other, mine) == 0) {
				collide = 1;
				break;
			}
		}
	free(v);
	if (collide)
		pair_naive(mine, sizeof(mine), from, to, '/');
	if ((s = strdup(mine)) == NULL)
		return NULL;
	return s;
}

/* --- pair chains that share their rules --------------------------------- */

/*
 * A pair chain holds the ruleset's rules that cover it, in ruleset order:
 * two chains covered by the same rules hold the same sequence. Which
 * rules cover a chain depends only on their (from, to) words, so chains
 * that every (from, to) of the ruleset covers alike hold the same rules
 * (`from any to self` rules alone in lan-self, dmz-self and any-self).
 * Two or more such chains with rules share one body chain, named after
 * the last of them with SHARE_SUFFIX ("any-self+": the chain of the
 * unzoned side, which rules of a zone of its own never take out of the
 * class, so the name stays when a zone gets rules of its own): it holds
 * the rules once, and each of them jumps to it (key "~share") before its
 * own policy. First match holds: the body is the chain's very sequence,
 * and a body where nothing matched returns to the policy. SHARE_BODIES 0
 * turns it off.
 */
#define SHARE_BODIES	1
#define SHARE_SUFFIX	"+"

struct cpairs {
	char		**from;		/* every pair chain, in compile_filter's */
	char		**to;		/* order (copies: the layout may outlive
					 * the ruleset, see nft/fast.c) */
	size_t		 *cls;		/* the last chain with the same rules:
					 * the class, and its body's name */
	bool		 *shared;	/* its class has two chains or more, and
					 * rules */
	size_t		  n;
};

static void
pairs_free(struct cpairs *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++) {
		free(ps->from[i]);
		free(ps->to[i]);
	}
	free(ps->from);
	free(ps->to);
	free(ps->cls);
	free(ps->shared);
	memset(ps, 0, sizeof(*ps));
}

/* The distinct (from, to) words of rs's rules: w[2k], w[2k + 1] (w has
 * room for one pair per rule; calloc'd, so untouched pages cost
 * nothing). */
static size_t
pairs_words(const struct ruleset *rs, const char **w)
{
	size_t i, k, nw = 0, last = 0;

	for (i = 0; i < rs->nrules; i++) {
		const struct rule *ru = rs->rules[i];

		if (nw > 0 && strcmp(w[2 * last], ru->from) == 0 &&
		    strcmp(w[2 * last + 1], ru->to) == 0)
			continue;
		for (k = 0; k < nw; k++)
			if (strcmp(w[2 * k], ru->from) == 0 &&
			    strcmp(w[2 * k + 1], ru->to) == 0)
				break;
		if (k == nw) {
			w[2 * nw] = ru->from;
			w[2 * nw + 1] = ru->to;
			nw++;
		}
		last = k;
	}
	return nw;
}

/* Whether the rules of (from, to) words w cover chains a and b alike. */
static bool
pairs_alike(const struct cpairs *ps, const char **w, size_t nw, size_t a,
    size_t b, bool *any)
{
	size_t k;
	bool ca, cb;

	*any = false;
	for (k = 0; k < nw; k++) {
		ca = zone_word_covers(w[2 * k], ps->from[a]) &&
		    zone_word_covers(w[2 * k + 1], ps->to[a]);
		cb = zone_word_covers(w[2 * k], ps->from[b]) &&
		    zone_word_covers(w[2 * k + 1], ps->to[b]);
		if (ca != cb)
			return false;
		*any = *any || ca;
	}
	return true;
}

static int
pairs_add(struct cpairs *ps, const char *from, const char *to)
{
	if ((ps->from[ps->n] = strdup(from)) == NULL ||
	    (ps->to[ps->n] = strdup(to)) == NULL) {
		free(ps->from[ps->n]);
		return -1;
	}
	ps->n++;
	return 0;
}

static int
pairs_init(const struct ruleset *rs, struct cpairs *ps)
{
	const char **v = NULL, **w = NULL;
	size_t n, i, j, a, b, nw, cap;
	bool any;

	memset(ps, 0, sizeof(*ps));
	if ((v = calloc(rs->nzones + 1, sizeof(*v))) == NULL)
		return -1;
	n = compile_sides(rs, v);
	cap = n * n + 2 * n;
	if ((ps->from = calloc(cap, sizeof(*ps->from))) == NULL ||
	    (ps->to = calloc(cap, sizeof(*ps->to))) == NULL ||
	    (ps->cls = calloc(cap, sizeof(*ps->cls))) == NULL ||
	    (ps->shared = calloc(cap, sizeof(*ps->shared))) == NULL ||
	    (w = calloc(2 * (rs->nrules + 1), sizeof(*w))) == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		if (pairs_add(ps, v[i], ZONE_SELF) == -1)
			goto fail;
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (pairs_add(ps, v[i], v[j]) == -1)
				goto fail;
	for (j = 0; j < n; j++)
		if (pairs_add(ps, ZONE_SELF, v[j]) == -1)
			goto fail;
	nw = SHARE_BODIES ? pairs_words(rs, w) : 0;
	/* from the last chain back: each class named by its last member */
	for (a = ps->n; a-- > 0;) {
		ps->cls[a] = a;
		if (!SHARE_BODIES)
			continue;
		for (b = ps->n; --b > a;)
			if (ps->cls[b] == b &&
			    pairs_alike(ps, w, nw, a, b, &any)) {
				if (any)
					ps->cls[a] = b;
				break;
			}
		if (ps->cls[a] != a)
			ps->shared[a] = ps->shared[ps->cls[a]] = true;
	}
	free(v);
	free(w);
	return 0;
 fail:
	free(v);
	free(w);
	pairs_free(ps);
	return -1;
}

/* The chain that holds the user rules of pair chain k (caller frees). */
static char *
pairs_body(const struct ruleset *rs, const struct cpairs *ps, size_t k)
{
	char *name, *s;
	size_t c = ps->cls[k];

	if ((name = compile_pair_chain(rs, ps->from[c], ps->to[c])) == NULL ||
	    !ps->shared[k])
		return name;
	if (asprintf(&s, "%s%s", name, SHARE_SUFFIX) == -1)
		s = NULL;
	free(name);
	return s;
}

/* Another rule than ru, with ru's (from, to). */
static bool
share_same_words(const struct rule *o, const struct rule *ru)
{
	return strcmp(o->from, ru->from) == 0 && strcmp(o->to, ru->to) == 0 &&
	    strcmp(o->name, ru->name) != 0;
}

bool
compile_share_kept(const struct ruleset *prev, const struct ruleset *next,
    const struct rule *ru)
{
	size_t i;
	bool in_prev = false, in_next = false;

	if (!SHARE_BODIES)
		return true;
	for (i = 0; i < prev->nrules && !in_prev; i++)
		in_prev = share_same_words(prev->rules[i], ru);
	for (i = 0; i < next->nrules && !in_next; i++)
		in_next = share_same_words(next->rules[i], ru);
	return in_prev && in_next;
}

/* The user rules of pair chain from -> to, in order, into chain name:
 * runs of same-shape rules as groups (compile_group.c), the rest one by
 * one. */
/*
 * The rules of each pair chain, found once for the whole compile: a rule's
 * chains depend only on its (from, to) words, of which a ruleset has a
 * handful, so each distinct pair of words is matched against the pair
 * chains once, not each rule against every chain (50,000 rules, sixteen
 * chains: 800,000 comparisons, a quarter of the compile). The scratch
 * arrays of the group runs (by rule index) are shared by the chains too,
 * and cleared where a chain used them.
 */
struct pair_walk {
	size_t		*start;		/* by pair: its rules' stretch of idx */
	size_t		*idx;		/* rule indices, in ruleset order */
	struct gclass	**cls;		/* by rule index, NULL between chains */
	bool		*used;		/* by rule index, false between chains */
};

static void
pair_walk_free(struct pair_walk *w)
{
	free(w->start);
	free(w->idx);
	free(w->cls);
	free(w->used);
	memset(w, 0, sizeof(*w));
}

static int
pair_walk_init(struct pair_walk *w, const struct ruleset *rs,
    const struct cpairs *ps)
{
	struct strmap *words = NULL;
	size_t *wof = NULL, *wk = NULL, nw = 0, i, k, j, total = 0;
	char key[2 * FWCTL_NAME_MAX + 4];
	int rc = -1, len;

	memset(w, 0, sizeof(*w));
	/* each rule's pair of words, numbered as first seen (the value is
	 * the number + 1); wk: for word pair q, the pairs it covers at
	 * wk[q * (ps->n + 1) ...], ended by SIZE_MAX */
	if ((words = strmap_new(16)) == NULL ||
	    (wof = calloc(rs->nrules + 1, sizeof(*wof))) == NULL ||
	    (w->start = calloc(ps->n + 2, sizeof(*w->start))) == NULL ||
	    (w->cls = calloc(rs->nrules + 1, sizeof(*w->cls))) == NULL ||
	    (w->used = calloc(rs->nrules + 1, sizeof(*w->used))) == NULL)
		goto out;
	for (i = 0; i < rs->nrules; i++) {
		const struct rule *ru = rs->rules[i];
		size_t q;

		len = snprintf(key, sizeof(key), "%s %s", ru->from, ru->to);
		if (len < 0 || (size_t)len >= sizeof(key))
			goto out;
		if ((q = (size_t)strmap_get(words, key, (size_t)len)) == 0) {
			size_t *t;

			if ((t = reallocarray(wk, (nw + 1) * (ps->n + 1),
			    sizeof(*wk))) == NULL)
				goto out;
			wk = t;
			for (k = 0, j = nw * (ps->n + 1); k < ps->n; k++)
				if (zone_word_covers(ru->from, ps->from[k]) &&
				    zone_word_covers(ru->to, ps->to[k]))
					wk[j++] = k;
			wk[j] = SIZE_MAX;
			q = ++nw;
			if (strmap_put(words, key, (size_t)len,
			    (void *)q) == -1)
				goto out;
		}
		wof[i] = q - 1;
		for (j = wof[i] * (ps->n + 1); wk[j] != SIZE_MAX; j++) {
			w->start[wk[j] + 1]++;
			total++;
		}
	}
	for (k = 0; k < ps->n; k++)
		w->start[k + 1] += w->start[k];
	if ((w->idx = calloc(total + 1, sizeof(*w->idx))) == NULL)
		goto out;
	for (i = 0; i < rs->nrules; i++)
		for (j = wof[i] * (ps->n + 1); wk[j] != SIZE_MAX; j++)
			w->idx[w->start[wk[j]]++] = i;
	for (k = ps->n; k > 0; k--)
		w->start[k] = w->start[k - 1];
	w->start[0] = 0;
	rc = 0;
 out:
	strmap_free(words);
	free(wof);
	free(wk);
	if (rc == -1)
		pair_walk_free(w);
	return rc;
}

/* The rules of pair k (from, to) into chain name: groups where runs form,
 * each other rule compiled alone. */
static int
compile_pair_rules(struct cplan *p, const struct ruleset *rs,
    struct pair_walk *w, size_t k, const char *from, const char *to,
    const char *name, struct diags *d)
{
	struct gtab *tab;
	bool err;
	size_t i, j;
	const size_t *in = w->idx + w->start[k];
	size_t nin = w->start[k + 1] - w->start[k];
	int grc, rc = -1;

	/* the classes of the chain's rules first: where their keys lie
	 * says which rules their runs step over */
	if ((tab = compile_groups_chain(&p->groups, from, to)) == NULL)
		goto nomem;
	compile_groups_fill(tab, false);
	for (j = 0; j < nin; j++) {
		i = in[j];
		w->cls[i] = compile_groups_class(tab, rs->rules[i], i, 1, &err);
		if (err)
			goto nomem;
	}
	compile_groups_fill(tab, true);
	for (j = 0; j < nin; j++) {
		const struct rule *ru = rs->rules[i = in[j]];

		if (w->used[i])
			continue;
		if ((grc = compile_group_run(p, rs, in + j, nin - j, from, to,
		    name, w->cls, w->used)) == -1)
			goto nomem;
		if (grc == 0)
			continue;	/* a group, at its first rule */
		if (compile_rule(p, rs, ru, name, d) == -1)
			goto out;
	}
	rc = 0;
	goto out;
 nomem:
	diags_add(d, NULL, "compile: %s", strerror(ENOMEM));
 out:
	for (j = 0; j < nin; j++) {
		w->cls[in[j]] = NULL;
		w->used[in[j]] = false;
	}
	return rc;
}

static struct cchain *
pair_add_chain(struct cplan *p, const char *name, struct diags *d)
{
	struct cchain *c;

	if (cplan_chain(p, name) != NULL) {
		diags_add(d, NULL, "zone names give two chains the name %s; "
		    "rename a zone", name);
		return NULL;
	}
	if ((c = cplan_add_chain(p, name)) != NULL)
		c->pair = true;
	return c;
}

/* Fills pair chain k: every rule for the pair, in order, then the
 * resolved policy; or, when its rules are shared, a jump to the body
 * (made with the first chain of the class) and the policy. */
static int
compile_pair(struct cplan *p, const struct ruleset *rs,
    const struct cpairs *ps, struct pair_walk *w, size_t k, struct diags *d)
{
	const char *from = ps->from[k], *to = ps->to[k];
	struct crule *r;
	char *name, *body = NULL;
	int rc = -1;

	if ((name = compile_pair_chain(rs, from, to)) == NULL)
		return -1;
	if (pair_add_chain(p, name, d) == NULL)
		goto out;
	if (!ps->shared[k]) {
		if (compile_pair_rules(p, rs, w, k, from, to, name, d) == -1 ||
		    compile_policy_rule(p, rs, name, from, to) == -1)
			goto out;
		rc = 0;
		goto out;
	}
	/* the plan keeps each chain's rules together: the body after */
	if ((body = pairs_body(rs, ps, k)) == NULL ||
	    (r = cplan_add_rule(p, name, "~share", NULL)) == NULL ||
	    crule_verdict(r, NFT_JUMP, body) == -1 ||
	    compile_policy_rule(p, rs, name, from, to) == -1)
		goto out;
	if (ps->cls[k] == k && (pair_add_chain(p, body, d) == NULL ||
	    compile_pair_rules(p, rs, w, k, from, to, body, d) == -1))
		goto out;
	rc = 0;
 out:
	free(body);
	free(name);
	return rc;
}

/* Interface name as a 16-byte key; a "prefix*" gives the interval of every
 * name with that prefix. */
static void
ifname_key(const char *ifname, uint8_t *lo, uint8_t *hi, bool *wild)
{
	size_t n = strlen(ifname);

	memset(lo, 0, 16);
	*wild = n > 0 && ifname[n - 1] == '*';
	if (*wild)
		n--;
	if (n > 15)
		n = 15;
	memcpy(lo, ifname, n);
	memcpy(hi, lo, 16);
	if (*wild)
		memset(hi + n, 0xff, 16 - n);
}

static int
map_verdict(struct celem *e, const char *chain)
{
	e->verdict = NFT_GOTO;
	return (e->chain = strdup(chain)) == NULL ? -1 : 0;
}

/* A verdict map element per interface of each zone with interfaces,
 * going to chain_of(zone). */
static int
ifmap_add(struct cset *s, const struct zone *z, const char *chain)
{
	uint8_t lo[16], hi[16];
	struct celem *e;
	size_t i;
	bool wild;

	for (i = 0; i < z->nifaces; i++) {
		ifname_key(z->ifaces[i], lo, hi, &wild);
		if ((e = cset_add_elem(s)) == NULL)
			return -1;
		memcpy(e->key, lo, 16);
		if (map_verdict(e, chain) == -1)
			return -1;
		if (!(s->flags & NFT_SET_INTERVAL))
			continue;
		if (bytes_max(hi, 16))
			continue;
		if ((e = cset_add_elem(s)) == NULL)
			return -1;
		memcpy(e->key, hi, 16);
		bytes_inc(e->key, 16);
		e->end = true;
	}
	return 0;
}

static bool
any_wild(const struct ruleset *rs)
{
	size_t i, j, n;

	for (i = 0; i < rs->nzones; i++)
		for (j = 0; j < rs->zones[i]->nifaces; j++) {
			n = strlen(rs->zones[i]->ifaces[j]);
			if (n > 0 && rs->zones[i]->ifaces[j][n - 1] == '*')
				return true;
		}
	return false;
}

typedef char *(*chain_of_fn)(const struct ruleset *, const char *zone,
    const char *arg);

static char *
chain_to(const struct ruleset *rs, const char *zone, const char *arg)
{
	return compile_pair_chain(rs, arg, zone);	/* arg -> zone */
}

static char *
chain_from(const struct ruleset *rs, const char *zone, const char *arg)
{
	return compile_pair_chain(rs, zone, arg);	/* zone -> arg */
}

static char *
chain_fwd(const struct ruleset *rs, const char *zone, const char *arg)
{
	char *s;

	return asprintf(&s, "fwd/%s", zone) == -1 ? NULL : s;
}

/*
 * meta iifname/oifname vmap { zone interfaces : goto chain_of(zone) }.
 * Interface names compared in full; "eth*" makes the map an interval map.
 */
static int
rule_ifmap(struct cplan *p, const struct ruleset *rs, const char *chain,
    const char *key, uint32_t meta, chain_of_fn fn, const char *arg)
{
	struct crule *r;
	struct cset *s;
	size_t i;
	char *target;

	for (i = 0; i < rs->nzones; i++)
		if (zone_has_ifaces(rs->zones[i]))
			break;
	if (i == rs->nzones)
		return 0;
	if ((r = cplan_add_rule(p, chain, key, NULL)) == NULL)
		return -1;
	if ((s = crule_add_anon(r)) == NULL)
		return -1;
	s->flags = NFT_SET_MAP | (any_wild(rs) ? NFT_SET_INTERVAL : 0);
	s->key_type = CTYPE_IFNAME;
	s->key_len = 16;
	s->key_host_order = true;
	s->data_type = CTYPE_VERDICT;
	for (i = 0; i < rs->nzones; i++) {
		if (!zone_has_ifaces(rs->zones[i]))
			continue;
		if ((target = fn(rs, rs->zones[i]->name, arg)) == NULL)
			return -1;
		if (ifmap_add(s, rs->zones[i], target) == -1) {
			free(target);
			return -1;
		}
		free(target);
	}
	if (crule_meta(r, meta, REG1) == -1)
		return -1;
	return x_lookup_anon(r, NFT_REG_VERDICT);
}

/* ip saddr/daddr vmap { networks of zones without interfaces : goto }.
 * Overlapping networks of two zones are an error (which one wins?). */
static int
rule_netmap(struct cplan *p, const struct ruleset *rs, const char *chain,
    const char *key, int family, bool dst, chain_of_fn fn, const char *arg,
    struct diags *d)
{
	uint32_t alen = family == AF_INET ? 4 : 16;
	struct crule *r = NULL;
	struct cset *s = NULL;
	struct celem *e;
	struct span sp;
	size_t i, j, k;
	char *target;

	for (i = 0; i < rs->nzones; i++) {
		const struct zone *z = rs->zones[i];

		if (!zone_by_net(z))
			continue;
		for (j = 0; j < z->nnetworks; j++) {
			if (z->networks[j].family != family)
				continue;
			if (r == NULL) {
				if ((r = cplan_add_rule(p, chain, key,
				    NULL)) == NULL ||
				    (s = crule_add_anon(r)) == NULL)
					return -1;
				s->flags = NFT_SET_MAP | NFT_SET_INTERVAL;
				s->key_type = family == AF_INET ? CTYPE_IPV4 :
				    CTYPE_IPV6;
				s->key_len = alen;
				s->data_type = CTYPE_VERDICT;
			}
			addr_span(&z->networks[j], &sp);
			for (k = 0; k + 1 < s->nelems; k += 2)
				if (memcmp(sp.lo, s->elems[k + 1].key,
				    alen) < 0 &&
				    memcmp(s->elems[k].key, sp.hi, alen) <= 0) {
					diags_add(d, &z->loc, "zone %s: network "
					    "overlaps another zone's",
					    z->name);
					return -1;
				}
			if ((target = fn(rs, z->name, arg)) == NULL)
				return -1;
			if ((e = cset_add_elem(s)) == NULL ||
			    map_verdict(e, target) == -1) {
				free(target);
				return -1;
			}
			free(target);
			memcpy(e->key, sp.lo, alen);
			/* always a pair (start, end) so the overlap check
			 * above can walk pairs; a network reaching the top
			 * of the address space ends at its last address */
			if ((e = cset_add_elem(s)) == NULL)
				return -1;
			memcpy(e->key, sp.hi, alen);
			if (!bytes_max(sp.hi, alen))
				bytes_inc(e->key, alen);
			e->end = true;
		}
	}
	if (r == NULL)
		return 0;
	if (crule_nfproto(r, family) == -1 ||
	    crule_payload(r, NFT_PAYLOAD_NETWORK_HEADER,
	    family == AF_INET ? (dst ? 16 : 12) : (dst ? 24 : 8), alen) == -1)
		return -1;
	return x_lookup_anon(r, NFT_REG_VERDICT);
}

static int
rule_netmaps(struct cplan *p, const struct ruleset *rs, const char *chain,
    bool dst, chain_of_fn fn, const char *arg, struct diags *d)
{
	if (rule_netmap(p, rs, chain, "~zones-net4", AF_INET, dst, fn, arg,
	    d) == -1)
		return -1;
	return rule_netmap(p, rs, chain, "~zones-net6", AF_INET6, dst, fn, arg,
	    d);
}

/*
 * A zone with interfaces and networks holds only the traffic of its
 * interfaces from its networks, for each family it lists networks of:
 * traffic of those interfaces from other sources is in no zone and goes
 * where unzoned traffic goes (target), before the interface maps see it.
 * Link-local IPv6 sources and the unspecified IPv4 source of DHCP are on
 * the link by definition, so they stay in the zone.
 */
static int
rules_narrow(struct cplan *p, const struct ruleset *rs, const char *chain,
    const char *target)
{
	static const struct addr onlink[] = {
		{ .family = AF_INET, .prefix = 32 },		/* 0.0.0.0 */
		{ .family = AF_INET6, .prefix = 10,		/* fe80::/10 */
		    .bytes = { 0xfe, 0x80 } },
	};
	const struct zone *z;
	struct addrmatch m;
	struct crule *r;
	uint8_t lo[16], hi[16];
	size_t i, j, k, len;
	char key[64];
	bool wild;
	int f, fam, rc = -1;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < rs->nzones; i++) {
		z = rs->zones[i];
		if (z->nifaces == 0 || z->nnetworks == 0)
			continue;
		free(m.addrs);
		if ((m.addrs = calloc(z->nnetworks + 1,
		    sizeof(*m.addrs))) == NULL)
			goto out;
		for (f = 0; f < 2; f++) {
			fam = f == 0 ? AF_INET : AF_INET6;
			m.naddrs = 0;
			for (j = 0; j < z->nnetworks; j++)
				if (z->networks[j].family == fam)
					m.addrs[m.naddrs++] = z->networks[j];
			if (m.naddrs == 0)
				continue;
			m.addrs[m.naddrs++] = onlink[f];
			for (k = 0; k < z->nifaces; k++) {
				snprintf(key, sizeof(key), "~narrow/%zu/%zu/%d",
				    i, k, f == 0 ? 4 : 6);
				ifname_key(z->ifaces[k], lo, hi, &wild);
				len = wild ? strlen(z->ifaces[k]) - 1 : 16;
				if (len > 16)
					len = 16;
				if ((r = cplan_add_rule(p, chain, key,
				    NULL)) == NULL ||
				    crule_nfproto(r, fam) == -1)
					goto out;
				/* "*" alone is every interface: no compare */
				if (len > 0 && (crule_meta(r, NFT_META_IIFNAME,
				    REG1) == -1 || crule_cmp(r, NFT_CMP_EQ, lo,
				    (uint32_t)len) == -1))
					goto out;
				if (crule_match_addrs(r, rs, &m, false,
				    fam) == -1)
					goto out;
				/* not from the zone's networks */
				r->exprs[r->nexprs - 1].invert = true;
				if (crule_verdict(r, NFT_GOTO, target) == -1)
					goto out;
			}
		}
	}
	rc = 0;
 out:
	free(m.addrs);
	return rc;
}

static int
rule_goto(struct cplan *p, const char *chain, const char *target)
{
	struct crule *r;

	if ((r = cplan_add_rule(p, chain, "~unzoned", NULL)) == NULL)
		return -1;
	return crule_verdict(r, NFT_GOTO, target);
}

/* Loopback, the conntrack fast path, and for the host's own traffic the
 * ICMPv6 messages IPv6 cannot work without. */
static int
rules_fastpath(struct cplan *p, const char *chain, uint32_t ifmeta)
{
	static const uint8_t nd[] = { 133, 134, 135, 136 };
	struct crule *r;
	struct cset *s;
	struct celem *e;
	uint8_t lo[16] = "lo";
	size_t i;

	if (ifmeta != 0) {
		if ((r = cplan_add_rule(p, chain, "~loopback", NULL)) == NULL ||
		    crule_meta(r, ifmeta, REG1) == -1 ||
		    crule_cmp(r, NFT_CMP_EQ, lo, 16) == -1 ||
		    crule_verdict(r, NF_ACCEPT, NULL) == -1)
			return -1;
	}
	if ((r = cplan_add_rule(p, chain, "~established", NULL)) == NULL ||
	    crule_ctstate(r, CTSTATE_ESTABLISHED | CTSTATE_RELATED) == -1 ||
	    crule_verdict(r, NF_ACCEPT, NULL) == -1)
		return -1;
	if ((r = cplan_add_rule(p, chain, "~invalid", NULL)) == NULL ||
	    crule_ctstate(r, CTSTATE_INVALID) == -1 ||
	    x_counter(r) == -1 ||
	    crule_verdict(r, NF_DROP, NULL) == -1)
		return -1;
	if (ifmeta == 0)
		return 0;
	if ((r = cplan_add_rule(p, chain, "~ipv6-nd", NULL)) == NULL ||
	    crule_nfproto(r, AF_INET6) == -1 ||
	    crule_l4proto(r, IPPROTO_ICMPV6) == -1 ||
	    crule_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1) == -1 ||
	    (s = crule_add_anon(r)) == NULL)
		return -1;
	s->key_type = CTYPE_ICMPV6;
	s->key_len = 1;
	for (i = 0; i < sizeof(nd); i++) {
		if ((e = cset_add_elem(s)) == NULL)
			return -1;
		e->key[0] = nd[i];
	}
	if (x_lookup_anon(r, 0) == -1 || crule_verdict(r, NF_ACCEPT, NULL) == -1)
		return -1;
	return 0;
}

/*
 * iifname . oifname vmap: one lookup for the common case of two zones
 * known by interface (exact names; wildcards go the two-step way), in a
 * chain of its own that forward jumps to (FWD_PAIRS; no zone is named
 * "all"): every pair chain ends in a verdict, so a packet the map sends
 * there never comes back, and one it does not find returns to forward.
 *
 * Not in forward itself: the kernel validates the whole table for every
 * rule added (the jumps and the maps' verdicts, chain by chain), and skips
 * a chain it has validated at a depth at least the one it reaches it at
 * again, not one it reached nearer the base chain first. The pair chains
 * are also reached through fwd/<zone>, one jump deeper; reached first
 * from forward's own map, every one of them was validated twice, once
 * from each path: 3.3 ms of every rule added at 50,000 mixed rules, where
 * once is 1.7 ms. Through FWD_PAIRS both paths reach them at the same
 * depth, the one taken first.
 */
#define FWD_PAIRS	"fwd/" ZONE_ALL

/* Whether FWD_PAIRS has a map: a zone with an interface of an exact name
 * (which makes a pair with itself at least). */
static bool
fwd_pairs_any(const struct ruleset *rs)
{
	uint8_t lo[16], hi[16];
	size_t i, k;
	bool wild;

	for (i = 0; i < rs->nzones; i++)
		for (k = 0; k < rs->zones[i]->nifaces; k++) {
			ifname_key(rs->zones[i]->ifaces[k], lo, hi, &wild);
			if (!wild)
				return true;
		}
	return false;
}

/* forward's jump to FWD_PAIRS, where rule_fwd_concat puts the map. */
static int
rule_fwd_jump(struct cplan *p, const struct ruleset *rs)
{
	struct crule *r;

	if (!fwd_pairs_any(rs))
		return 0;
	if ((r = cplan_add_rule(p, "forward", "~zones-pair", NULL)) == NULL)
		return -1;
	return crule_verdict(r, NFT_JUMP, FWD_PAIRS);
}

/* FWD_PAIRS and its map, after the base chains' rules: a plan holds its
 * chains' rules in the order of its chains (adopt.c reads them so). */
static int
rule_fwd_concat(struct cplan *p, const struct ruleset *rs)
{
	const struct zone *a, *b;
	struct crule *r = NULL;
	struct cset *s = NULL;
	struct celem *e;
	size_t i, j, k, l;
	char *target;
	uint8_t lo[16], hi[16];
	bool wa, wb;

	for (i = 0; i < rs->nzones; i++) {
		a = rs->zones[i];
		for (j = 0; j < rs->nzones; j++) {
			b = rs->zones[j];
			for (k = 0; k < a->nifaces; k++) {
				for (l = 0; l < b->nifaces; l++) {
					ifname_key(a->ifaces[k], lo, hi, &wa);
					ifname_key(b->ifaces[l], lo, hi, &wb);
					if (wa || wb)
						continue;
					if (r == NULL) {
						if (cplan_add_chain(p,
						    FWD_PAIRS) == NULL ||
						    (r = cplan_add_rule(p,
						    FWD_PAIRS, "~zones-pair",
						    NULL)) == NULL ||
						    (s = crule_add_anon(r)) ==
						    NULL)
							return -1;
						s->flags = NFT_SET_MAP;
						s->key_type = CTYPE_IFNAME << 6 |
						    CTYPE_IFNAME;
						s->key_len = 32;
						s->key_host_order = true;
						s->data_type = CTYPE_VERDICT;
					}
					if ((e = cset_add_elem(s)) == NULL)
						return -1;
					ifname_key(a->ifaces[k], e->key, hi,
					    &wa);
					ifname_key(b->ifaces[l], e->key + 16,
					    hi, &wb);
					if ((target = compile_pair_chain(rs,
					    a->name, b->name)) == NULL)
						return -1;
					if (map_verdict(e, target) == -1) {
						free(target);
						return -1;
					}
					free(target);
				}
			}
		}
	}
	if (r == NULL)
		return 0;
	if (crule_meta(r, NFT_META_IIFNAME, REG1) == -1 ||
	    crule_meta(r, NFT_META_OIFNAME, REG2) == -1)
		return -1;
	return x_lookup_anon(r, NFT_REG_VERDICT);
}

static int
compile_filter(struct cplan *p, const struct ruleset *rs, struct diags *d)
{
	struct cpairs ps = { 0 };
	struct pair_walk pw = { 0 };
	const char **v;
	size_t n, i;
	char *name = NULL;
	int rc = -1;

	if ((v = calloc(rs->nzones + 1, sizeof(*v))) == NULL)
		return -1;
	n = compile_sides(rs, v);

	/* input: sources outside their zone's networks, iifname, then
	 * source networks, then "any" */
	if ((name = compile_pair_chain(rs, UNZONED, ZONE_SELF)) == NULL ||
	    rules_fastpath(p, "input", NFT_META_IIFNAME) == -1 ||
	    rules_narrow(p, rs, "input", name) == -1 ||
	    rule_ifmap(p, rs, "input", "~zones-if", NFT_META_IIFNAME,
	    chain_from, ZONE_SELF) == -1 ||
	    rule_netmaps(p, rs, "input", false, chain_from, ZONE_SELF,
	    d) == -1 ||
	    rule_goto(p, "input", name) == -1)
		goto out;
	free(name);
	name = NULL;

	/* forward: pairs of interface zones in one lookup; else the input
	 * side picks fwd/<zone>, which looks at the output side */
	if (rules_fastpath(p, "forward", 0) == -1 ||
	    rules_narrow(p, rs, "forward", "fwd/" UNZONED) == -1 ||
	    rule_fwd_jump(p, rs) == -1 ||
	    rule_ifmap(p, rs, "forward", "~zones-if", NFT_META_IIFNAME,
	    chain_fwd, NULL) == -1 ||
	    rule_netmaps(p, rs, "forward", false, chain_fwd, NULL, d) == -1 ||
	    rule_goto(p, "forward", "fwd/" UNZONED) == -1)
		goto out;

	/* output: oifname, then destination networks, then "any" */
	if (rules_fastpath(p, "output", NFT_META_OIFNAME) == -1 ||
	    rule_ifmap(p, rs, "output", "~zones-if", NFT_META_OIFNAME,
	    chain_to, ZONE_SELF) == -1 ||
	    rule_netmaps(p, rs, "output", true, chain_to, ZONE_SELF, d) == -1)
		goto out;
	if ((name = compile_pair_chain(rs, ZONE_SELF, UNZONED)) == NULL ||
	    rule_goto(p, "output", name) == -1)
		goto out;
	free(name);
	name = NULL;

	if (rule_fwd_concat(p, rs) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if (asprintf(&name, "fwd/%s", v[i]) == -1) {
			name = NULL;
			goto out;
		}
		if (cplan_chain(p, name) != NULL) {
			diags_add(d, NULL, "chain name %s is used twice; "
			    "rename a zone", name);
			goto out;
		}
		if (cplan_add_chain(p, name) == NULL ||
		    rule_ifmap(p, rs, name, "~zones-if", NFT_META_OIFNAME,
		    chain_to, v[i]) == -1 ||
		    rule_netmaps(p, rs, name, true, chain_to, v[i], d) == -1)
			goto out;
		free(name);
		if ((name = compile_pair_chain(rs, v[i], UNZONED)) == NULL)
			goto out;
		if (rule_goto(p, p->chains[p->nchains - 1].name, name) == -1)
			goto out;
		free(name);
		name = NULL;
	}

	if (pairs_init(rs, &ps) == -1 || pair_walk_init(&pw, rs, &ps) == -1)
		goto out;
	for (i = 0; i < ps.n; i++)
		if (compile_pair(p, rs, &ps, &pw, i, d) == -1)
			goto out;
	rc = 0;
 out:
	pair_walk_free(&pw);
	pairs_free(&ps);
	free(name);
	free(v);
	return rc;
}

/* --- named sets --------------------------------------------------------- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool
compile_elem_single(const struct set *set, const struct set_elem *el)
{
	if (set->type == SET_PORT)
		return el->key.port.lo == el->key.port.hi;
	return addr_is_host(&el->key.addr);
}

int
compile_set_elem(const struct set *set, const struct set_elem *el,
    struct cset *cs)
{
	struct span sp;
	struct celem *e;
	uint64_t timeout = el->timeout_ms, now;

	if (el->expires_ms != 0) {
		/* restored from a state file: what is left of it */
		now = now_ms();
		if (el->expires_ms <= now)
			return 0;
		timeout = el->expires_ms - now;
	}
	if (set->type == SET_PORT)
		port_span(&el->key.port, &sp);
	else
		addr_span(&el->key.addr, &sp);
	if ((e = cset_add_elem(cs)) == NULL)
		return -1;
	memcpy(e->key, sp.lo, cs->key_len);
	e->timeout_ms = timeout;
	/* a set of single keys (a hash set) has no interval ends */
	if (!(cs->flags & NFT_SET_INTERVAL) || bytes_max(sp.hi, cs->key_len))
		return 0;
	if ((e = cset_add_elem(cs)) == NULL)
		return -1;
	memcpy(e->key, sp.hi, cs->key_len);
	bytes_inc(e->key, cs->key_len);
	e->end = true;		/* the kernel takes no timeout on an end */
	return 0;
}

static int
compile_sets(struct cplan *p, const struct ruleset *rs)
{
	const struct set *set;
	struct cset *cs;
	size_t i, j;

	for (i = 0; i < rs->nsets; i++) {
		set = rs->sets[i];
		if ((cs = cplan_add_set(p)) == NULL)
			return -1;
		if ((cs->name = strdup(set->name)) == NULL)
			return -1;
		/* timeout always, so an element with its own timeout can be
		 * added at any time; interval only for CIDRs and port
		 * ranges: the kernel's interval sets (rbtree) take time in
		 * proportion to their size for every element added, its hash
		 * sets do not (nft.c keeps a set interval once it was) */
		cs->flags = NFT_SET_TIMEOUT;
		for (j = 0; j < set->nelems; j++)
			if (!compile_elem_single(set, &set->elems[j]))
				cs->flags |= NFT_SET_INTERVAL;
		switch (set->type) {
		case SET_IPV4:
			cs->key_type = CTYPE_IPV4;
			cs->key_len = 4;
			break;
		case SET_IPV6:
			cs->key_type = CTYPE_IPV6;
			cs->key_len = 16;
			break;
		default:
			cs->key_type = CTYPE_PORT;
			cs->key_len = 2;
			break;
		}
		cs->timeout_ms = set->timeout_ms;
		cs->loc = &set->loc;
		for (j = 0; j < set->nelems; j++)
			if (compile_set_elem(set, &set->elems[j], cs) == -1)
				return -1;
	}
	return 0;
}

/* --- the table ---------------------------------------------------------- */

int
compile_ruleset(const struct ruleset *rs, const char *table,
    struct cplan *p, struct diags *d)
{
	memset(p, 0, sizeof(*p));
	if ((p->table = strdup(table != NULL ? table :
	    COMPILE_DEFAULT_TABLE)) == NULL)
		goto nomem;
	if (cplan_add_base(p, "input", "filter", NF_INET_LOCAL_IN, 0) == NULL ||
	    cplan_add_base(p, "forward", "filter", NF_INET_FORWARD,
	    0) == NULL ||
	    cplan_add_base(p, "output", "filter", NF_INET_LOCAL_OUT,
	    0) == NULL ||
	    cplan_add_base(p, "prerouting", "nat", NF_INET_PRE_ROUTING,
	    -100) == NULL ||
	    cplan_add_base(p, "postrouting", "nat", NF_INET_POST_ROUTING,
	    100) == NULL)
		goto nomem;
	if (compile_sets(p, rs) == -1)
		goto nomem;
	if (compile_filter(p, rs, d) == -1)
		goto fail;
	if (compile_nat(rs, p, d) == -1)
		goto fail;
	return 0;
 nomem:
	diags_add(d, NULL, "compile: %s", strerror(ENOMEM));
 fail:
	if (d->n == 0)
		diags_add(d, NULL, "compile: %s", strerror(errno ? errno :
		    ENOMEM));
	cplan_free(p);
	return -1;
}

/* --- one rule ----------------------------------------------------------- */

struct cpairs *
compile_pairs_new(const struct ruleset *rs)
{
	struct cpairs *ps;

	if ((ps = malloc(sizeof(*ps))) == NULL)
		return NULL;
	if (pairs_init(rs, ps) == -1) {
		free(ps);
		return NULL;
	}
	return ps;
}

void
compile_pairs_free(struct cpairs *ps)
{
	if (ps == NULL)
		return;
	pairs_free(ps);
	free(ps);
}

int
compile_rule_chains(const struct ruleset *rs, const struct rule *ru,
    const struct cpairs *given, struct cplan *p, struct diags *d)
{
	struct cpairs own = { 0 };
	const struct cpairs *ps = given;
	char *name = NULL;
	size_t k;
	int rc = -1;

	if (ps == NULL) {
		if (pairs_init(rs, &own) == -1)
			return -1;
		ps = &own;
	}
	/* the pair chains in compile_filter's order; a shared body once */
	for (k = 0; k < ps->n; k++) {
		if (!zone_word_covers(ru->from, ps->from[k]) ||
		    !zone_word_covers(ru->to, ps->to[k]) || ps->cls[k] != k)
			continue;
		if ((name = pairs_body(rs, ps, k)) == NULL ||
		    compile_rule(p, rs, ru, name, d) == -1)
			goto out;
		free(name);
		name = NULL;
	}
	rc = 0;
 out:
	free(name);
	pairs_free(&own);
	return rc;
}

int
compile_rule_alone(struct cplan *p, const struct ruleset *rs, size_t i,
    const char *chain, struct diags *d)
{
	return compile_rule(p, rs, rs->rules[i], chain, d);
}

int
compile_rule_placed(const struct ruleset *rs, size_t i,
    const struct cpairs *ps, const struct gtabs *gt, struct cplan *p,
    struct cjoin **joins,
    size_t *njoins, bool *unsure, struct diags *d)
{
	const struct rule *ru = rs->rules[i], *pr;
	enum cgroup_at at;
	struct cjoin *t;
	char *name = NULL;
	size_t k;
	bool chunk;

	*joins = NULL;
	*njoins = 0;
	*unsure = false;
	for (k = 0; k < ps->n && !*unsure; k++) {
		if (!zone_word_covers(ru->from, ps->from[k]) ||
		    !zone_word_covers(ru->to, ps->to[k]) || ps->cls[k] != k)
			continue;
		if ((name = pairs_body(rs, ps, k)) == NULL)
			goto nomem;
		switch ((at = compile_group_at(rs, i, ps->from[k], ps->to[k],
		    gt, &pr, &chunk))) {
		case CG_ALONE:
			if (p != NULL && compile_rule(p, rs, ru, name, d) == -1)
				goto fail;
			free(name);
			break;
		case CG_JOIN:
		case CG_FRONT:
			if ((t = reallocarray(*joins, *njoins + 1,
			    sizeof(*t))) == NULL)
				goto nomem;
			*joins = t;
			t[*njoins].chain = name;
			t[*njoins].front = at == CG_FRONT;
			t[*njoins].chunk = chunk;
			t[*njoins].last = compile_group_last(rs, i,
			    ps->from[k], ps->to[k], gt);
			t[(*njoins)++].pr = pr;
			break;
		default:
			*unsure = true;
			free(name);
			break;
		}
		name = NULL;
	}
	return 0;
 nomem:
	diags_add(d, NULL, "compile: %s", strerror(ENOMEM));
 fail:
	free(name);
	compile_joins_free(*joins, *njoins);
	*joins = NULL;
	*njoins = 0;
	return -1;
}

int
compile_groups_note(struct gtabs **t, const struct ruleset *rs,
    const struct rule *ru, const struct cpairs *ps, int sign)
{
	struct gtab *tab;
	size_t k;
	bool err;

	for (k = 0; k < ps->n; k++) {
		if (!zone_word_covers(ru->from, ps->from[k]) ||
		    !zone_word_covers(ru->to, ps->to[k]) || ps->cls[k] != k)
			continue;
		if ((tab = compile_groups_chain(t, ps->from[k],
		    ps->to[k])) == NULL)
			return -1;
		(void)compile_groups_class(tab, ru, 0, sign, &err);
		if (err)
			return -1;
	}
	return 0;
}

void
compile_joins_free(struct cjoin *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].chain);
	free(v);
}
