/*
 * A generated ruleset for round-trip tests (check_print, check_codec):
 * deterministic, varied in every field the rule language and JSON carry,
 * with unique names and references to zones and sets that exist.
 * Built as a model directly so that codec tests do not lean on the parser.
 */
#ifndef FWCTL_TESTS_GEN_RULESET_H
#define FWCTL_TESTS_GEN_RULESET_H

#include <sys/socket.h>
#include <netinet/in.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset.h"

#define GEN_NZONES	8

struct gen {
	uint64_t	state;
};

static inline uint32_t
gen_next(struct gen *g)
{
	/* xorshift64*: reproducible without libc's rand() state */
	g->state ^= g->state >> 12;
	g->state ^= g->state << 25;
	g->state ^= g->state >> 27;
	return (uint32_t)((g->state * 2685821657736338717ULL) >> 32);
}

static inline uint32_t
gen_below(struct gen *g, uint32_t n)
{
	return gen_next(g) % n;
}

static inline char *
gen_strdup(const char *s)
{
	char *c = strdup(s);

	ck_assert_ptr_nonnull(c);
	return c;
}

static inline struct addr
gen_addr_text(const char *s)
{
	struct addr	 a;
	const char	*why = NULL;

	ck_assert_msg(addr_parse(s, &a, &why) == 0, "%s: %s", s,
	    why ? why : "?");
	return a;
}

/* An IPv4 or IPv6 host or network, host bits clear. */
static inline struct addr
gen_addr(struct gen *g, int family)
{
	char	buf[80];

	if (family == 0)
		family = gen_below(g, 2) ? AF_INET : AF_INET6;
	if (family == AF_INET) {
		switch (gen_below(g, 3)) {
		case 0:
			snprintf(buf, sizeof(buf), "10.%u.%u.%u",
			    gen_below(g, 256), gen_below(g, 256),
			    gen_below(g, 256));
			break;
		case 1:
			snprintf(buf, sizeof(buf), "192.0.%u.0/24",
			    gen_below(g, 256));
			break;
		default:
			snprintf(buf, sizeof(buf), "172.%u.0.0/16",
			    16 + gen_below(g, 16));
			break;
		}
	} else {
		switch (gen_below(g, 3)) {
		case 0:
			snprintf(buf, sizeof(buf), "2001:db8::%x",
			    1 + gen_below(g, 0xffff));
			break;
		case 1:
			snprintf(buf, sizeof(buf), "fd50:%x::/64",
			    gen_below(g, 0xffff));
			break;
		default:
			snprintf(buf, sizeof(buf), "2001:db8:%x:1::7",
			    gen_below(g, 0xffff));
			break;
		}
	}
	return gen_addr_text(buf);
}

static inline void
gen_portmatch(struct gen *g, struct portmatch *pm, const char *portset)
{
	size_t	i, n;

	if (portset != NULL && gen_below(g, 8) == 0) {
		pm->set = gen_strdup(portset);
		return;
	}
	n = gen_below(g, 4) == 0 ? 2 + gen_below(g, 4) : 1;
	pm->ranges = calloc(n, sizeof(*pm->ranges));
	ck_assert_ptr_nonnull(pm->ranges);
	for (i = 0; i < n; i++) {
		uint16_t lo = (uint16_t)gen_below(g, 65536);

		pm->ranges[i].lo = lo;
		pm->ranges[i].hi = lo;
		if (gen_below(g, 3) == 0)
			pm->ranges[i].hi = (uint16_t)(lo +
			    gen_below(g, 65536 - lo));
	}
	pm->nranges = n;
}

static inline void
gen_addrmatch(struct gen *g, struct addrmatch *am, const char *set4)
{
	size_t	i, n;

	if (set4 != NULL && gen_below(g, 6) == 0) {
		am->set = gen_strdup(set4);
		return;
	}
	n = gen_below(g, 3) == 0 ? 2 + gen_below(g, 3) : 1;
	am->addrs = calloc(n, sizeof(*am->addrs));
	ck_assert_ptr_nonnull(am->addrs);
	for (i = 0; i < n; i++)
		am->addrs[i] = gen_addr(g, 0);
	am->naddrs = n;
}

/* Text with the characters a printer must escape. */
static inline char *
gen_text(struct gen *g, const char *what, size_t i)
{
	static const char *const tails[] = {
		"", " with \"quotes\"", " back\\slash", " caf\xc3\xa9",
		" #not-a-comment", " {braces}; semi",
	};
	char	buf[128];

	snprintf(buf, sizeof(buf), "%s %zu%s", what, i,
	    tails[gen_below(g, sizeof(tails) / sizeof(*tails))]);
	return gen_strdup(buf);
}

static inline const char *
gen_zone_name(struct gen *g, size_t nzones, bool words)
{
	static const char *const zones[GEN_NZONES] = {
		"wan", "lan", "dmz", "guest", "iot", "mgmt.net", "vpn_1",
		"srv-a",
	};

	if (words && gen_below(g, 5) == 0)
		return gen_below(g, 2) ? ZONE_ANY : ZONE_SELF;
	return zones[gen_below(g, (uint32_t)nzones)];
}

static inline struct rule *
gen_rule(struct gen *g, size_t i)
{
	static const int protos[] = {
		PROTO_NONE, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP,
		IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP,
	};
	static const uint8_t icmp4[] = { 0, 3, 8, 11, 200 };
	static const uint8_t icmp6[] = { 1, 2, 128, 129, 135, 250 };
	struct rule	*r = rule_new();
	char		 name[64];
	size_t		 k, n;

	ck_assert_ptr_nonnull(r);
	snprintf(name, sizeof(name), "%s%zu", (i % 3) == 0 ? "r-" :
	    (i % 3) == 1 ? "rule_" : "R.", i);
	r->name = gen_strdup(name);
	r->from = gen_strdup(gen_zone_name(g, GEN_NZONES, true));
	r->to = gen_strdup(gen_zone_name(g, GEN_NZONES, true));
	r->proto = protos[gen_below(g, sizeof(protos) / sizeof(*protos))];
	if (r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP ||
	    r->proto == IPPROTO_SCTP) {
		if (gen_below(g, 4) == 0)
			gen_portmatch(g, &r->sport, NULL);
		if (gen_below(g, 6) != 0)
			gen_portmatch(g, &r->dport, "ports");
	} else if (r->proto == IPPROTO_ICMP || r->proto == IPPROTO_ICMPV6) {
		const uint8_t	*t = r->proto == IPPROTO_ICMP ? icmp4 : icmp6;
		size_t		 nt = r->proto == IPPROTO_ICMP ?
				    sizeof(icmp4) : sizeof(icmp6);

		n = gen_below(g, 3);
		if (n > 0) {
			r->icmp_types = calloc(n, 1);
			ck_assert_ptr_nonnull(r->icmp_types);
			for (k = 0; k < n; k++)
				r->icmp_types[k] = t[(k + i) % nt];
			r->nicmp_types = n;
		}
	}
	if (gen_below(g, 2) == 0)
		gen_addrmatch(g, &r->src, "blocklist");
	if (gen_below(g, 3) == 0)
		gen_addrmatch(g, &r->dst, "servers6");
	if (gen_below(g, 5) == 0)
		r->state = 1 + gen_below(g, 15);
	r->verdict = (enum verdict)(VERDICT_ACCEPT + gen_below(g, 3));
	if (gen_below(g, 4) == 0) {
		r->limit.rate = 1 + gen_below(g, 100000);
		r->limit.unit = (enum limit_unit)(LIMIT_SECOND +
		    gen_below(g, 4));
		if (gen_below(g, 2))
			r->limit.burst = 1 + gen_below(g, 1000);
	}
	if (gen_below(g, 5) == 0) {
		r->log = true;
		if (gen_below(g, 2))
			r->log_prefix = gen_text(g, "in", i);
	}
	if (gen_below(g, 4) == 0)
		r->comment = gen_text(g, "comment", i);
	return r;
}

static inline struct zone *
gen_zone(struct gen *g, size_t i)
{
	static const char *const names[GEN_NZONES] = {
		"wan", "lan", "dmz", "guest", "iot", "mgmt.net", "vpn_1",
		"srv-a",
	};
	struct zone	*z = zone_new();
	char		 buf[32];
	size_t		 k, n;

	ck_assert_ptr_nonnull(z);
	z->name = gen_strdup(names[i]);
	n = 1 + gen_below(g, 3);
	z->ifaces = calloc(n, sizeof(*z->ifaces));
	ck_assert_ptr_nonnull(z->ifaces);
	for (k = 0; k < n; k++) {
		if (k == 2)
			snprintf(buf, sizeof(buf), "vlan%zu*", i);
		else
			snprintf(buf, sizeof(buf), "eth%zu.%zu", i, k);
		z->ifaces[k] = gen_strdup(buf);
	}
	z->nifaces = n;
	if (i > 0) {
		n = gen_below(g, 3);
		if (n > 0) {
			z->networks = calloc(n, sizeof(*z->networks));
			ck_assert_ptr_nonnull(z->networks);
			for (k = 0; k < n; k++) {
				if (k == 0)
					snprintf(buf, sizeof(buf),
					    "10.%zu.0.0/16", i);
				else
					snprintf(buf, sizeof(buf),
					    "fd50:%zx::/64", i);
				z->networks[k] = gen_addr_text(buf);
			}
			z->nnetworks = n;
		}
	}
	if (i == 0)
		z->flags |= ZONE_EXTERNAL;
	if (i == 2)
		z->flags |= ZONE_DMZ;
	return z;
}

static inline struct set *
gen_set(struct gen *g, const char *name, enum set_type type,
    uint64_t timeout_ms, size_t nelems)
{
	struct set	*s = set_new();
	struct set_elem	 e;
	size_t		 k;

	ck_assert_ptr_nonnull(s);
	s->name = gen_strdup(name);
	s->type = type;
	s->timeout_ms = timeout_ms;
	for (k = 0; k < nelems; k++) {
		memset(&e, 0, sizeof(e));
		if (type == SET_PORT) {
			e.key.port.lo = (uint16_t)(1000 + k * 10);
			e.key.port.hi = (uint16_t)(e.key.port.lo + (k % 2) * 5);
		} else {
			char buf[64];

			if (type == SET_IPV4)
				snprintf(buf, sizeof(buf), "198.51.%zu.%zu",
				    k / 250, 1 + k % 250);
			else
				snprintf(buf, sizeof(buf), "2001:db8:%zx::/48",
				    k);
			e.key.addr = gen_addr_text(buf);
		}
		if (gen_below(g, 3) == 0)
			e.timeout_ms = (1 + gen_below(g, 90)) * 60000ULL;
		ck_assert_int_eq(set_add_elem(s, &e), 0);
	}
	return s;
}

static inline struct nat *
gen_nat(struct gen *g, size_t i)
{
	struct nat	*n = nat_new();
	char		 name[32];

	ck_assert_ptr_nonnull(n);
	snprintf(name, sizeof(name), "nat%zu", i);
	n->name = gen_strdup(name);
	n->kind = (enum nat_kind)(NAT_MASQUERADE + i % 3);
	switch (n->kind) {
	case NAT_MASQUERADE:
		n->from = gen_strdup(gen_below(g, 4) ? "lan" : ZONE_ANY);
		n->to = gen_strdup("wan");
		break;
	case NAT_SNAT:
		n->from = gen_strdup("dmz");
		n->to = gen_strdup("wan");
		n->snat_addr = gen_addr_text(i % 2 ? "203.0.113.10" :
		    "2001:db8::10");
		break;
	case NAT_FORWARD:
		n->from = gen_strdup("wan");
		n->proto = gen_below(g, 2) ? IPPROTO_TCP : IPPROTO_UDP;
		n->dport.lo = (uint16_t)(1024 + i);
		n->dport.hi = n->dport.lo + (uint16_t)(gen_below(g, 2) * 10);
		n->target = gen_addr_text(i % 4 == 2 ? "fd50:2::10" :
		    "10.50.2.10");
		if (gen_below(g, 2))
			n->target_port = (uint16_t)(1 + gen_below(g, 65535));
		break;
	}
	if (gen_below(g, 3) == 0)
		gen_addrmatch(g, &n->src, NULL);
	return n;
}

/* Zones, three sets, policies, nrules rules and nnats NAT entries. */
static inline struct ruleset *
gen_ruleset(uint64_t seed, size_t nrules, size_t nnats)
{
	struct ruleset	*rs = ruleset_new();
	struct policy	*p;
	struct gen	 g = { seed | 1 };
	size_t		 i;

	ck_assert_ptr_nonnull(rs);
	for (i = 0; i < GEN_NZONES; i++)
		ck_assert_int_eq(ruleset_add_zone(rs, gen_zone(&g, i)), 0);
	ck_assert_int_eq(ruleset_add_set(rs, gen_set(&g, "blocklist",
	    SET_IPV4, 3600000, 300)), 0);
	ck_assert_int_eq(ruleset_add_set(rs, gen_set(&g, "servers6",
	    SET_IPV6, 0, 20)), 0);
	ck_assert_int_eq(ruleset_add_set(rs, gen_set(&g, "ports",
	    SET_PORT, 90 * 60000, 12)), 0);
	ck_assert_int_eq(ruleset_add_set(rs, gen_set(&g, "empty",
	    SET_IPV4, 0, 0)), 0);
	for (i = 0; i < GEN_NZONES; i++) {
		p = policy_new();
		ck_assert_ptr_nonnull(p);
		p->from = gen_strdup(i == 0 ? ZONE_ANY : gen_zone_name(&g,
		    GEN_NZONES, false));
		p->to = gen_strdup(i % 2 ? ZONE_SELF : "wan");
		p->verdict = (enum verdict)(VERDICT_ACCEPT + i % 3);
		if (ruleset_find_policy(rs, p->from, p->to) >= 0) {
			policy_free(p);
			continue;
		}
		ck_assert_int_eq(ruleset_add_policy(rs, p), 0);
	}
	for (i = 0; i < nrules; i++)
		ck_assert_int_eq(ruleset_add_rule(rs, gen_rule(&g, i)), 0);
	for (i = 0; i < nnats; i++)
		ck_assert_int_eq(ruleset_add_nat(rs, gen_nat(&g, i)), 0);
	return rs;
}

#endif
