/*
 * NAT for the compiler: the prerouting (dstnat) and postrouting (srcnat)
 * chains, the filter rules that let port forwards through, and the DMZ
 * preset. See docs/design-compile.md for the rest of the table.
 *
 * - masquerade/snat: postrouting, oifname of the `to` zone, iifname (or
 *   source networks) of the `from` zone; snat only for its address's IP
 *   version. Keys: the entry's name (#4/#6 when split by version).
 * - forward: prerouting DNAT from the `from` zone to any address of the
 *   host (fib daddr type local: the public address may be dynamic), and
 *   "name#hairpin" the same from internal and DMZ zones when the address
 *   is not on their own side. The filter side is one rule per forward in chain
 *   nat-open (ct status dnat, to the target and its port), jumped to
 *   from every forwarding pair chain just before its policy.
 *   Postrouting "~name/hairpin/zone" masquerades DNATed flows that leave
 *   by the zone they came from, so replies come back through the host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include "compile.h"

#define REG1		NFT_REG_1	/* matches; NAT address */
#define REG2		NFT_REG_2	/* NAT port: never overlaps REG1, even
					 * with a 16-byte IPv6 address */
#define OPEN_CHAIN	"nat-open"

/* Zones a forward's DNAT applies to: its own, and every internal and DMZ
 * zone (hairpin: they may use the public address too). */
struct srcs {
	const struct zone	**v;
	size_t			  n;
};

/* --- expressions -------------------------------------------------------- */

static int
ex_meta_u8(struct crule *r, uint32_t key, uint8_t v)
{
	if (crule_meta(r, key, REG1) == -1)
		return -1;
	return crule_cmp(r, NFT_CMP_EQ, &v, 1);
}

/* ct status & bits != 0 */
static int
ex_ctstatus(struct crule *r, uint32_t bits)
{
	struct cexpr *e;
	uint32_t zero = 0;

	if ((e = crule_add(r, CX_CT)) == NULL)
		return -1;
	e->key = NFT_CT_STATUS;
	e->dreg = REG1;
	if ((e = crule_add(r, CX_BITWISE)) == NULL)
		return -1;
	e->sreg = e->dreg = REG1;
	e->len = 4;
	memcpy(e->data, &bits, 4);	/* ct values are host order */
	return crule_cmp(r, NFT_CMP_NEQ, &zero, 4);
}

/* fib daddr type local: addressed to the host itself. The router's
 * public address may be dynamic, so forwards do not name it. */
static int
ex_fib_local(struct crule *r)
{
	struct cexpr *e;
	uint32_t local = RTN_LOCAL;

	if ((e = crule_add(r, CX_FIB)) == NULL)
		return -1;
	e->key = NFTA_FIB_F_DADDR;
	e->op = NFT_FIB_RESULT_ADDRTYPE;
	e->dreg = REG1;
	return crule_cmp(r, NFT_CMP_EQ, &local, 4);
}

static int
ex_simple(struct crule *r, enum cx_type type)
{
	return crule_add(r, type) == NULL ? -1 : 0;
}

static int
ex_imm(struct crule *r, uint32_t dreg, const void *data, uint32_t len)
{
	struct cexpr *e;

	if ((e = crule_add(r, CX_IMMEDIATE)) == NULL)
		return -1;
	e->dreg = dreg;
	e->len = len;
	memcpy(e->data, data, len);
	return 0;
}

static int
ex_addr(struct crule *r, const struct ruleset *rs, const struct addr *a,
    bool dst)
{
	struct addrmatch m = { 0 };

	m.addrs = (struct addr *)(uintptr_t)a;
	m.naddrs = 1;
	return crule_match_addrs(r, rs, &m, dst, a->family);
}

static int
ex_dports(struct crule *r, int proto, uint16_t lo, uint16_t hi)
{
	struct portrange pr = { lo, hi };
	struct portmatch m = { 0 };

	m.ranges = &pr;
	m.nranges = 1;
	if (ex_meta_u8(r, NFT_META_L4PROTO, (uint8_t)proto) == -1)
		return -1;
	return crule_match_ports(r, proto, &m, true);
}

/* --- interface names ---------------------------------------------------- */

struct ifspan {
	uint8_t	 lo[16];
	uint8_t	 hi[16];	/* inclusive */
};

static void
ifspan_of(const char *name, struct ifspan *s, size_t *plen)
{
	size_t n = strlen(name);
	bool wild = n > 0 && name[n - 1] == '*';

	if (wild)
		n--;
	if (n > 15)
		n = 15;
	memset(s, 0, sizeof(*s));
	memcpy(s->lo, name, n);
	memcpy(s->hi, s->lo, 16);
	if (wild)
		memset(s->hi + n, 0xff, 16 - n);
	/* a single name compares in full (NUL included); "eth*" compares
	 * only the prefix */
	*plen = wild ? n : 16;
}

static int
ifspan_cmp(const void *a, const void *b)
{
	return memcmp(((const struct ifspan *)a)->lo,
	    ((const struct ifspan *)b)->lo, 16);
}

static bool
bytes_inc(uint8_t *b, size_t len)	/* false on overflow */
{
	while (len-- > 0)
		if (++b[len] != 0)
			return true;
	return false;
}

static struct celem *
anon_elem(struct cset *s)
{
	struct celem *e;

	if (s->nelems == s->elems_cap) {
		size_t cap = s->elems_cap ? s->elems_cap * 2 : 8;

		if ((e = reallocarray(s->elems, cap, sizeof(*e))) == NULL)
			return NULL;
		s->elems = e;
		s->elems_cap = cap;
	}
	e = &s->elems[s->nelems++];
	memset(e, 0, sizeof(*e));
	e->key_len = s->key_len;
	return e;
}

/*
 * meta iifname/oifname in the interfaces of zones: one cmp for one name,
 * else an anonymous interval set (wildcards make ranges; overlapping ones
 * are merged, as the kernel refuses overlaps).
 */
static int
ex_ifaces(struct crule *r, uint32_t meta, const struct zone *const *zv,
    size_t nz)
{
	struct ifspan *v = NULL;
	struct cset *s, *ns;
	struct celem *e;
	struct cexpr *x;
	size_t i, j, n = 0, m, plen = 16;
	int rc;

	for (i = 0; i < nz; i++)
		n += zv[i]->nifaces;
	if (n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return -1;
	for (i = 0, n = 0; i < nz; i++)
		for (j = 0; j < zv[i]->nifaces; j++)
			ifspan_of(zv[i]->ifaces[j], &v[n++], &plen);
	if (crule_meta(r, meta, REG1) == -1)
		goto fail;
	if (n == 1) {
		rc = crule_cmp(r, NFT_CMP_EQ, v[0].lo, (uint32_t)plen);
		free(v);
		return rc;
	}
	qsort(v, n, sizeof(*v), ifspan_cmp);
	for (i = 1, m = 1; i < n; i++) {
		uint8_t next[16];

		memcpy(next, v[m - 1].hi, 16);
		if (!bytes_inc(next, 16) || memcmp(v[i].lo, next, 16) <= 0) {
			if (memcmp(v[i].hi, v[m - 1].hi, 16) > 0)
				memcpy(v[m - 1].hi, v[i].hi, 16);
			continue;
		}
		v[m++] = v[i];
	}
	if ((ns = reallocarray(r->anon, r->nanon + 1, sizeof(*ns))) == NULL)
		goto fail;
	r->anon = ns;
	s = &r->anon[r->nanon++];
	memset(s, 0, sizeof(*s));
	s->flags = NFT_SET_INTERVAL;
	s->key_type = CTYPE_IFNAME;
	s->key_len = 16;
	s->key_host_order = true;
	for (i = 0; i < m; i++) {
		if ((e = anon_elem(s)) == NULL)
			goto fail;
		memcpy(e->key, v[i].lo, 16);
		if (!bytes_inc(v[i].hi, 16))
			continue;	/* runs to the end of the key space */
		if ((e = anon_elem(s)) == NULL)
			goto fail;
		memcpy(e->key, v[i].hi, 16);
		e->end = true;
	}
	free(v);
	if ((x = crule_add(r, CX_LOOKUP)) == NULL)
		return -1;
	x->sreg = REG1;
	x->set_anon = (int)r->nanon;
	return 0;
 fail:
	free(v);
	return -1;
}

/* --- model helpers ------------------------------------------------------ */

static const struct zone *
zone_get(const struct ruleset *rs, const char *name)
{
	ssize_t i;

	if (name == NULL || (i = ruleset_find_zone(rs, name)) == -1)
		return NULL;
	return rs->zones[i];
}

/* A zone whose hosts may use the public address of a forward: the
 * internal ones and the DMZ (hairpin), not the external side. */
static bool
zone_hairpin(const struct zone *z)
{
	return !(z->flags & ZONE_EXTERNAL);
}

static int
fambit(int family)
{
	return family == AF_INET ? 1 : 2;
}

/* IP versions (bit 1 IPv4, bit 2 IPv6) an address match can match. */
static int
match_families(const struct ruleset *rs, const struct addrmatch *m)
{
	ssize_t si;
	size_t i;
	int f = 0;

	if (m->set != NULL) {
		if ((si = ruleset_find_set(rs, m->set)) == -1)
			return 3;
		return rs->sets[si]->type == SET_IPV4 ? 1 :
		    rs->sets[si]->type == SET_IPV6 ? 2 : 3;
	}
	if (m->naddrs == 0)
		return 3;
	for (i = 0; i < m->naddrs; i++)
		f |= fambit(m->addrs[i].family);
	return f;
}

static bool
has_match(const struct addrmatch *m)
{
	return m->set != NULL || m->naddrs > 0;
}

/* saddr in the networks of a zone known by address, for one family */
static int
ex_zone_nets(struct crule *r, const struct ruleset *rs, const struct zone *z,
    int family)
{
	struct addrmatch m = { 0 };

	m.addrs = z->networks;
	m.naddrs = z->nnetworks;
	return crule_match_addrs(r, rs, &m, false, family);
}

static int
zone_families(const struct zone *z)
{
	size_t i;
	int f = 0;

	for (i = 0; i < z->nnetworks; i++)
		f |= fambit(z->networks[i].family);
	return f;
}

static char *
nat_key(const struct nat *n, const char *suffix)
{
	char *s;

	if (asprintf(&s, "%s%s", n->name, suffix) == -1)
		return NULL;
	return s;
}

static struct crule *
nat_rule(struct cplan *p, const char *chain, const char *key,
    const char *name, const char *comment, const struct nat *n)
{
	struct crule *r;

	if ((r = cplan_add_rule(p, chain, key, name)) == NULL)
		return NULL;
	r->loc = &n->loc;
	if ((r->comment = strdup(comment)) == NULL)
		return NULL;
	return r;
}

/* --- masquerade and snat ------------------------------------------------ */

static int
srcnat_one(struct cplan *p, const struct ruleset *rs, const struct nat *n,
    const char *key, int family)
{
	const struct zone *from = zone_get(rs, n->from);
	const struct zone *to = zone_get(rs, n->to);
	struct crule *r;
	struct cexpr *e;
	size_t alen;

	if ((r = nat_rule(p, "postrouting", key, n->name, n->name, n)) ==
	    NULL)
		return -1;
	if (family != 0 && crule_nfproto(r, family) == -1)
		return -1;
	/* `from any`: no source match; a zone with interfaces and
	 * networks holds only its networks' traffic (what the filter
	 * classifies alike), per family it lists */
	if (from != NULL && from->nifaces > 0 &&
	    ex_ifaces(r, NFT_META_IIFNAME, &from, 1) == -1)
		return -1;
	if (from != NULL && from->nifaces > 0 &&
	    (zone_families(from) & fambit(family)) &&
	    ex_zone_nets(r, rs, from, family) == -1)
		return -1;
	if (from != NULL && from->nifaces == 0 &&
	    ex_zone_nets(r, rs, from, family) == -1)
		return -1;
	if (has_match(&n->src) &&
	    crule_match_addrs(r, rs, &n->src, false, family) == -1)
		return -1;
	if (ex_ifaces(r, NFT_META_OIFNAME, &to, 1) == -1 ||
	    ex_simple(r, CX_COUNTER) == -1)
		return -1;
	if (n->kind == NAT_MASQUERADE)
		return ex_simple(r, CX_MASQ);
	alen = n->snat_addr.family == AF_INET ? 4 : 16;
	if (ex_imm(r, REG1, n->snat_addr.bytes, (uint32_t)alen) == -1 ||
	    (e = crule_add(r, CX_NAT)) == NULL)
		return -1;
	e->nat_type = NFT_NAT_SNAT;
	e->nat_family = n->snat_addr.family == AF_INET ? NFPROTO_IPV4 :
	    NFPROTO_IPV6;
	e->reg_addr = REG1;
	return 0;
}

static int
compile_srcnat(struct cplan *p, const struct ruleset *rs, const struct nat *n,
    struct diags *d)
{
	const struct zone *from = zone_get(rs, n->from);
	const struct zone *to = zone_get(rs, n->to);
	char *key;
	int fam = 3, rc;
	bool specific = false;

	if (to == NULL || to->nifaces == 0) {
		diags_add(d, &n->loc, "nat %s: %s to zone %s, which has no "
		    "interface", n->name, nat_kind_name(n->kind),
		    n->to ? n->to : "(none)");
		return -1;
	}
	if (n->kind == NAT_SNAT) {
		/* an IPv4 `as` applies to IPv4 traffic only */
		fam &= fambit(n->snat_addr.family);
		specific = true;
	}
	if (has_match(&n->src)) {
		fam &= match_families(rs, &n->src);
		specific = true;
	}
	if (from != NULL && from->nifaces == 0) {
		fam &= zone_families(from);
		specific = true;
	} else if (from != NULL && zone_families(from) != 0)
		specific = true;	/* narrowed per family */
	if (!specific)
		return srcnat_one(p, rs, n, n->name, 0);
	if (fam == 0) {
		diags_add(d, &n->loc, "nat %s: its addresses have no IP "
		    "version in common, it can never match", n->name);
		return -1;
	}
	if (fam != 3)
		return srcnat_one(p, rs, n, n->name,
		    fam == 1 ? AF_INET : AF_INET6);
	if ((key = nat_key(n, "#4")) == NULL)
		return -1;
	rc = srcnat_one(p, rs, n, key, AF_INET);
	free(key);
	if (rc == -1 || (key = nat_key(n, "#6")) == NULL)
		return -1;
	rc = srcnat_one(p, rs, n, key, AF_INET6);
	free(key);
	return rc;
}

/* --- port forwards ------------------------------------------------------ */

/* The zones whose traffic a forward takes: its own and, for hairpin, the
 * internal ones and the DMZ. */
static int
forward_srcs(const struct ruleset *rs, const struct nat *n, struct srcs *s)
{
	const struct zone *from = zone_get(rs, n->from);
	size_t i;

	s->n = 0;
	if ((s->v = calloc(rs->nzones + 1, sizeof(*s->v))) == NULL)
		return -1;
	if (from != NULL)
		s->v[s->n++] = from;
	for (i = 0; i < rs->nzones; i++)
		if (rs->zones[i] != from && zone_hairpin(rs->zones[i]))
			s->v[s->n++] = rs->zones[i];
	return 0;
}

/* Internal ports a forward sends to: [*lo, *hi]. */
static void
forward_target_ports(const struct nat *n, uint16_t *lo, uint16_t *hi)
{
	*lo = n->target_port != 0 ? n->target_port : n->dport.lo;
	*hi = (uint16_t)(*lo + (n->dport.hi - n->dport.lo));
}

/* fib daddr . iif type local: addressed to the host on the interface the
 * packet came in by */
static int
ex_fib_iif_local(struct crule *r, uint32_t op)
{
	struct cexpr *e;
	uint32_t local = RTN_LOCAL;

	if ((e = crule_add(r, CX_FIB)) == NULL)
		return -1;
	e->key = NFTA_FIB_F_DADDR | NFTA_FIB_F_IIF;
	e->op = NFT_FIB_RESULT_ADDRTYPE;
	e->dreg = REG1;
	return crule_cmp(r, op, &local, 4);
}

/*
 * The DNAT itself, for the forward's own zone or the hairpin zones,
 * those known by interface (byif) or by address. Hairpin rules (zones other than the forward's own) take
 * only packets to an address of the host that is not on their own side:
 * a lan host reaching the public address is forwarded, one talking to
 * the router's lan address on that port still reaches the router.
 */
static int
dnat_one(struct cplan *p, const struct ruleset *rs, const struct nat *n,
    const struct srcs *s, bool byif, bool hairpin)
{
	int family = n->target.family;
	uint32_t alen = family == AF_INET ? 4 : 16;
	uint16_t tlo, thi, port;
	struct crule *r;
	struct cexpr *e;
	const struct zone **zv;
	size_t i, nz = 0;
	char *key;
	int rc = -1;

	if ((zv = calloc(s->n + 1, sizeof(*zv))) == NULL)
		return -1;
	/* s->v[0] is the forward's own zone, the others are hairpin */
	for (i = hairpin ? 1 : 0; i < (hairpin ? s->n : 1); i++)
		if ((s->v[i]->nifaces > 0) == byif &&
		    (byif || (zone_families(s->v[i]) & fambit(family))))
			zv[nz++] = s->v[i];
	if (nz == 0) {
		free(zv);
		return 0;
	}
	if ((key = nat_key(n, hairpin ? (byif ? "#hairpin" :
	    "#hairpin-net") : (byif ? "" : "#net"))) == NULL)
		goto out;
	r = nat_rule(p, "prerouting", key, n->name, n->name, n);
	free(key);
	if (r == NULL || crule_nfproto(r, family) == -1)
		goto out;
	if (byif) {
		if (ex_ifaces(r, NFT_META_IIFNAME, zv, nz) == -1)
			goto out;
	} else {
		struct addrmatch m = { 0 };
		size_t j, k = 0;

		for (i = 0; i < nz; i++)
			m.naddrs += zv[i]->nnetworks;
		if ((m.addrs = calloc(m.naddrs, sizeof(*m.addrs))) == NULL)
			goto out;
		for (i = 0; i < nz; i++)
			for (j = 0; j < zv[i]->nnetworks; j++)
				m.addrs[k++] = zv[i]->networks[j];
		rc = crule_match_addrs(r, rs, &m, false, family);
		free(m.addrs);
		if (rc == -1)
			goto out;
		rc = -1;
	}
	if (ex_fib_local(r) == -1 ||
	    (hairpin && ex_fib_iif_local(r, NFT_CMP_NEQ) == -1) ||
	    ex_dports(r, n->proto, n->dport.lo, n->dport.hi) == -1)
		goto out;
	if (has_match(&n->src) &&
	    crule_match_addrs(r, rs, &n->src, false, family) == -1)
		goto out;
	if (ex_simple(r, CX_COUNTER) == -1 ||
	    ex_imm(r, REG1, n->target.bytes, alen) == -1)
		goto out;
	forward_target_ports(n, &tlo, &thi);
	if (tlo != n->dport.lo) {
		port = htons(tlo);
		if (ex_imm(r, REG2, &port, 2) == -1)
			goto out;
	}
	if ((e = crule_add(r, CX_NAT)) == NULL)
		goto out;
	e->nat_type = NFT_NAT_DNAT;
	e->nat_family = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	e->reg_addr = REG1;
	if (tlo != n->dport.lo) {
		e->reg_proto = REG2;
		e->nat_flags = NF_NAT_RANGE_PROTO_SPECIFIED;
	}
	rc = 0;
 out:
	free(zv);
	return rc;
}

/* Matches of the flow after DNAT: to the target and its port(s), from
 * the allowed sources. */
static int
ex_forwarded(struct crule *r, const struct ruleset *rs, const struct nat *n)
{
	uint16_t tlo, thi;

	forward_target_ports(n, &tlo, &thi);
	if (ex_ctstatus(r, IPS_DST_NAT) == -1 ||
	    crule_nfproto(r, n->target.family) == -1 ||
	    ex_addr(r, rs, &n->target, true) == -1 ||
	    ex_dports(r, n->proto, tlo, thi) == -1)
		return -1;
	if (has_match(&n->src) &&
	    crule_match_addrs(r, rs, &n->src, false, n->target.family) == -1)
		return -1;
	return 0;
}

/*
 * The filter side of a forward, in the nat-open chain that every
 * forwarding pair chain jumps to just before its policy: rules of the
 * pair come first (a blocklist still blocks), the policy last (a DMZ
 * closed to the outside still lets its forwards in).
 */
static int
forward_open(struct cplan *p, const struct ruleset *rs, const struct nat *n,
    const struct srcs *s)
{
	const struct zone **zv;
	struct crule *r;
	char *key, *comment;
	size_t i, nz = 0;
	int rc = -1;

	if (asprintf(&key, "~%s", n->name) == -1)
		return -1;
	if (asprintf(&comment, "forward %s", n->name) == -1) {
		free(key);
		return -1;
	}
	r = nat_rule(p, OPEN_CHAIN, key, NULL, comment, n);
	free(key);
	free(comment);
	if (r == NULL || ex_forwarded(r, rs, n) == -1)
		return -1;
	/* from the zones the DNAT listens on, when all are known by
	 * interface (a zone known by address has no interface to name) */
	if ((zv = calloc(s->n + 1, sizeof(*zv))) == NULL)
		return -1;
	for (i = 0; i < s->n; i++)
		if (s->v[i]->nifaces > 0)
			zv[nz++] = s->v[i];
	if (nz == s->n && ex_ifaces(r, NFT_META_IIFNAME, zv, nz) == -1)
		goto out;
	if (ex_simple(r, CX_COUNTER) == -1 || crule_verdict(r, NF_ACCEPT, NULL) == -1)
		goto out;
	rc = 0;
 out:
	free(zv);
	return rc;
}

/*
 * Hairpin: a host reaching a forward through the public address from the
 * target's own zone would get replies straight from the target, which it
 * does not expect; masquerading such flows (in and out through the same
 * zone) sends the replies back through the router.
 */
static int
forward_hairpin(struct cplan *p, const struct ruleset *rs,
    const struct nat *n, const struct srcs *s)
{
	struct crule *r;
	char *key, *comment;
	size_t i;
	int rc;

	for (i = 0; i < s->n; i++) {
		const struct zone *z = s->v[i];

		if (z->nifaces == 0 || !zone_hairpin(z))
			continue;
		if (asprintf(&key, "~%s/hairpin/%s", n->name, z->name) == -1)
			return -1;
		if (asprintf(&comment, "hairpin %s %s", n->name,
		    z->name) == -1) {
			free(key);
			return -1;
		}
		r = nat_rule(p, "postrouting", key, NULL, comment, n);
		free(key);
		free(comment);
		if (r == NULL)
			return -1;
		rc = ex_forwarded(r, rs, n);
		if (rc == -1 ||
		    ex_ifaces(r, NFT_META_IIFNAME, &z, 1) == -1 ||
		    ex_ifaces(r, NFT_META_OIFNAME, &z, 1) == -1 ||
		    ex_simple(r, CX_COUNTER) == -1 ||
		    ex_simple(r, CX_MASQ) == -1)
			return -1;
	}
	return 0;
}

static int
compile_forward(struct cplan *p, const struct ruleset *rs,
    const struct nat *n, struct diags *d)
{
	struct srcs s = { 0 };
	uint16_t tlo, thi;
	int rc = -1;

	forward_target_ports(n, &tlo, &thi);
	if (tlo != n->dport.lo && n->dport.hi != n->dport.lo) {
		/* the kernel maps a port range onto a range from its first
		 * free port, not one to one (no base port in nft_nat) */
		diags_add(d, &n->loc, "nat %s: a port range can only be "
		    "forwarded to the same ports; drop the target port, or "
		    "give it as %u", n->name, n->dport.lo);
		return -1;
	}
	if (zone_get(rs, n->from) == NULL) {
		diags_add(d, &n->loc, "nat %s: forward from %s; expected a "
		    "zone", n->name, n->from ? n->from : "(none)");
		return -1;
	}
	if (forward_srcs(rs, n, &s) == -1)
		return -1;
	if (dnat_one(p, rs, n, &s, true, false) == -1 ||
	    dnat_one(p, rs, n, &s, false, false) == -1 ||
	    dnat_one(p, rs, n, &s, true, true) == -1 ||
	    dnat_one(p, rs, n, &s, false, true) == -1 ||
	    forward_open(p, rs, n, &s) == -1)
		goto out;
	rc = 0;
 out:
	free(s.v);
	return rc;
}

/* --- placement ---------------------------------------------------------- */

/* Moves the last rule of the plan to index at. */
static void
rule_move_last(struct cplan *p, size_t at)
{
	struct crule tmp;

	if (at + 1 >= p->nrules)
		return;
	tmp = p->rules[p->nrules - 1];
	memmove(&p->rules[at + 1], &p->rules[at],
	    (p->nrules - 1 - at) * sizeof(tmp));
	p->rules[at] = tmp;
}

static ssize_t
rule_index(const struct cplan *p, const char *chain, const char *key)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].chain, chain) == 0 &&
		    strcmp(p->rules[i].key, key) == 0)
			return (ssize_t)i;
	return -1;
}

/* `jump nat-open` before the policy of every forwarding pair chain. */
static int
open_jumps(struct cplan *p, const struct ruleset *rs)
{
	struct crule *r;
	struct cexpr *e;
	const char *a, *b;
	char *chain;
	ssize_t at;
	size_t i, j;

	for (i = 0; i <= rs->nzones; i++) {
		a = i < rs->nzones ? rs->zones[i]->name : ZONE_ANY;
		for (j = 0; j <= rs->nzones; j++) {
			b = j < rs->nzones ? rs->zones[j]->name : ZONE_ANY;
			if ((chain = compile_pair_chain(rs, a, b)) == NULL)
				return -1;
			at = rule_index(p, chain, KEY_POLICY);
			if (at == -1) {
				free(chain);
				continue;
			}
			r = cplan_add_rule(p, chain, KEY_NAT_OPEN, NULL);
			free(chain);
			if (r == NULL || (e = crule_add(r, CX_VERDICT)) == NULL)
				return -1;
			e->verdict = NFT_JUMP;
			if ((e->chain = strdup(OPEN_CHAIN)) == NULL)
				return -1;
			rule_move_last(p, (size_t)at);
		}
	}
	return 0;
}

int
compile_nat(const struct ruleset *rs, struct cplan *p, struct diags *d)
{
	const struct nat *n;
	struct srcs s = { 0 };
	size_t i, nfwd = 0;

	for (i = 0; i < rs->nnats; i++)
		if (rs->nats[i]->kind == NAT_FORWARD)
			nfwd++;
	if (nfwd > 0 && (cplan_add_chain(p, OPEN_CHAIN) == NULL ||
	    open_jumps(p, rs) == -1))
		return -1;

	/* prerouting: DNAT in model order */
	for (i = 0; i < rs->nnats; i++) {
		n = rs->nats[i];
		if (n->kind == NAT_FORWARD &&
		    compile_forward(p, rs, n, d) == -1)
			return -1;
	}
	/* postrouting: hairpin first (its flows go back out the zone they
	 * came from, which no masquerade/snat entry is about), then
	 * masquerade and snat in model order */
	for (i = 0; i < rs->nnats; i++) {
		n = rs->nats[i];
		if (n->kind != NAT_FORWARD)
			continue;
		if (forward_srcs(rs, n, &s) == -1)
			return -1;
		if (forward_hairpin(p, rs, n, &s) == -1) {
			free(s.v);
			return -1;
		}
		free(s.v);
		s.v = NULL;
	}
	for (i = 0; i < rs->nnats; i++) {
		n = rs->nats[i];
		if (n->kind != NAT_FORWARD &&
		    compile_srcnat(p, rs, n, d) == -1)
			return -1;
	}
	return 0;
}

/* --- the DMZ preset ----------------------------------------------------- */

/*
 * Used when no policy decides a pair. A DMZ may reach the external zones
 * only; internal zones may reach the DMZ; external zones reach it only
 * through forwards (nat-open) and rules naming it, so the preset drops.
 * Between two zones the preset does not mention, it has no say.
 */
enum verdict
compile_preset_verdict(const struct ruleset *rs, const char *from,
    const char *to)
{
	const struct zone *zf = zone_get(rs, from), *zt = zone_get(rs, to);

	if (zf != NULL && (zf->flags & ZONE_DMZ)) {
		if (zt == zf)
			return VERDICT_NONE;
		if (zt != NULL && (zt->flags & ZONE_EXTERNAL))
			return VERDICT_ACCEPT;
		return VERDICT_DROP;	/* self, internal, other DMZ, any */
	}
	if (zt != NULL && (zt->flags & ZONE_DMZ) && zf != NULL)
		return (zf->flags & ZONE_EXTERNAL) ? VERDICT_DROP :
		    VERDICT_ACCEPT;
	return VERDICT_NONE;
}
