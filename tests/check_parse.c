/*
 * The rule language: every statement and option of SPEC §2 into the model,
 * field by field; every error at its file:line:col with what was expected.
 */
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "parse.h"
#include "ruleset.h"

#include "spec_example.h"

static char abuf[8][64];
static int abuf_i;

/* an address as text, for assertions */
static const char *
A(const struct addr *a)
{
	char *b = abuf[abuf_i++ % 8];

	return addr_format(a, b, sizeof(abuf[0]));
}

static void
dump(const struct diags *d)
{
	diags_print(d, stderr);
}

/* Parses text as file "t.rules"; fails the test on any error. */
static struct ruleset *
parse_ok(const char *text)
{
	struct ruleset *rs = ruleset_new();
	struct diags d;
	int n;

	ck_assert_ptr_nonnull(rs);
	diags_init(&d);
	n = parse_buffer(rs, "t.rules", text, strlen(text), &d);
	if (n)
		dump(&d);
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(d.n, 0);
	diags_free(&d);
	return rs;
}

static struct ruleset *
parse_valid(const char *text)
{
	struct ruleset *rs = parse_ok(text);
	struct diags d;
	int n;

	diags_init(&d);
	n = validate_ruleset(rs, &d);
	if (n)
		dump(&d);
	ck_assert_int_eq(n, 0);
	diags_free(&d);
	return rs;
}

static void
assert_loc(const struct srcloc *l, const char *file, int line, int col)
{
	if (file)
		ck_assert_str_eq(l->file, file);
	else
		ck_assert_ptr_null(l->file);
	ck_assert_int_eq(l->line, line);
	ck_assert_int_eq(l->col, col);
}

START_TEST(test_spec_example)
{
	struct ruleset *rs = parse_valid(spec_example);
	struct zone *z;
	struct policy *p;
	struct set *s;
	struct rule *r;
	struct nat *n;

	ck_assert_uint_eq(rs->nzones, 3);
	ck_assert_uint_eq(rs->npolicies, 4);
	ck_assert_uint_eq(rs->nsets, 2);
	ck_assert_uint_eq(rs->nrules, 8);
	ck_assert_uint_eq(rs->nnats, 4);

	z = rs->zones[0];
	ck_assert_str_eq(z->name, "wan");
	ck_assert_uint_eq(z->nifaces, 1);
	ck_assert_str_eq(z->ifaces[0], "eth0");
	ck_assert_uint_eq(z->nnetworks, 0);
	ck_assert_uint_eq(z->flags, ZONE_EXTERNAL);
	assert_loc(&z->loc, "t.rules", 1, 1);
	z = rs->zones[1];
	ck_assert_str_eq(z->name, "lan");
	ck_assert_uint_eq(z->nifaces, 1);
	ck_assert_str_eq(z->ifaces[0], "eth1");
	ck_assert_uint_eq(z->nnetworks, 2);
	ck_assert_int_eq(z->networks[0].family, AF_INET);
	ck_assert_int_eq(z->networks[0].prefix, 24);
	ck_assert_str_eq(A(&z->networks[0]), "192.168.10.0/24");
	ck_assert_int_eq(z->networks[1].family, AF_INET6);
	ck_assert_int_eq(z->networks[1].prefix, 64);
	ck_assert_str_eq(A(&z->networks[1]), "fd00:10::/64");
	ck_assert_uint_eq(z->flags, 0);
	assert_loc(&z->loc, "t.rules", 2, 1);
	z = rs->zones[2];
	ck_assert_str_eq(z->name, "dmz");
	ck_assert_str_eq(z->ifaces[0], "eth2");
	ck_assert_uint_eq(z->flags, ZONE_DMZ);
	assert_loc(&z->loc, "t.rules", 3, 1);

	p = rs->policies[0];
	ck_assert_str_eq(p->from, "lan");
	ck_assert_str_eq(p->to, "wan");
	ck_assert_int_eq(p->verdict, VERDICT_ACCEPT);
	assert_loc(&p->loc, "t.rules", 5, 1);
	p = rs->policies[1];
	ck_assert_str_eq(p->from, "lan");
	ck_assert_str_eq(p->to, "dmz");
	ck_assert_int_eq(p->verdict, VERDICT_ACCEPT);
	p = rs->policies[2];
	ck_assert_str_eq(p->from, "any");
	ck_assert_str_eq(p->to, "self");
	ck_assert_int_eq(p->verdict, VERDICT_DROP);
	p = rs->policies[3];
	ck_assert_str_eq(p->from, "any");
	ck_assert_str_eq(p->to, "any");
	ck_assert_int_eq(p->verdict, VERDICT_DROP);
	assert_loc(&p->loc, "t.rules", 8, 1);

	s = rs->sets[0];
	ck_assert_str_eq(s->name, "blocklist");
	ck_assert_int_eq(s->type, SET_IPV4);
	ck_assert_uint_eq(s->timeout_ms, 3600000);
	ck_assert_uint_eq(s->nelems, 0);
	assert_loc(&s->loc, "t.rules", 10, 1);
	s = rs->sets[1];
	ck_assert_str_eq(s->name, "admins");
	ck_assert_int_eq(s->type, SET_IPV4);
	ck_assert_uint_eq(s->timeout_ms, 0);
	ck_assert_uint_eq(s->nelems, 2);
	ck_assert_str_eq(A(&s->elems[0].key.addr), "192.168.10.5");
	ck_assert_int_eq(s->elems[0].key.addr.prefix, 32);
	ck_assert_uint_eq(s->elems[0].timeout_ms, 0);
	ck_assert_str_eq(A(&s->elems[1].key.addr), "192.168.10.6");

	r = rs->rules[0];
	ck_assert_str_eq(r->name, "drop-blocked");
	ck_assert_str_eq(r->from, "wan");
	ck_assert_str_eq(r->to, "any");
	ck_assert_int_eq(r->proto, PROTO_NONE);
	ck_assert_str_eq(r->src.set, "blocklist");
	ck_assert_uint_eq(r->src.naddrs, 0);
	ck_assert_ptr_null(r->dst.set);
	ck_assert_int_eq(r->verdict, VERDICT_DROP);
	ck_assert_uint_eq(r->limit.rate, 0);
	ck_assert(!r->log);
	assert_loc(&r->loc, "t.rules", 13, 1);

	r = rs->rules[1];
	ck_assert_str_eq(r->name, "ssh");
	ck_assert_str_eq(r->from, "lan");
	ck_assert_str_eq(r->to, "self");
	ck_assert_int_eq(r->proto, IPPROTO_TCP);
	ck_assert_uint_eq(r->dport.nranges, 1);
	ck_assert_uint_eq(r->dport.ranges[0].lo, 22);
	ck_assert_uint_eq(r->dport.ranges[0].hi, 22);
	ck_assert_uint_eq(r->sport.nranges, 0);
	ck_assert_str_eq(r->src.set, "admins");
	ck_assert_int_eq(r->verdict, VERDICT_ACCEPT);
	ck_assert_uint_eq(r->limit.rate, 10);
	ck_assert_int_eq(r->limit.unit, LIMIT_MINUTE);
	ck_assert_uint_eq(r->limit.burst, 0);

	r = rs->rules[2];
	ck_assert_str_eq(r->name, "web");
	ck_assert_str_eq(r->from, "any");
	ck_assert_uint_eq(r->dport.nranges, 2);
	ck_assert_uint_eq(r->dport.ranges[0].lo, 80);
	ck_assert_uint_eq(r->dport.ranges[1].lo, 443);
	ck_assert_uint_eq(r->dport.ranges[1].hi, 443);

	r = rs->rules[3];
	ck_assert_str_eq(r->name, "dns");
	ck_assert_int_eq(r->proto, IPPROTO_UDP);
	ck_assert_uint_eq(r->dport.ranges[0].lo, 53);

	r = rs->rules[4];
	ck_assert_str_eq(r->name, "ping");
	ck_assert_int_eq(r->proto, IPPROTO_ICMP);
	ck_assert_uint_eq(r->nicmp_types, 1);
	ck_assert_uint_eq(r->icmp_types[0], 8);
	ck_assert_uint_eq(r->limit.rate, 5);
	ck_assert_int_eq(r->limit.unit, LIMIT_SECOND);

	r = rs->rules[5];
	ck_assert_str_eq(r->name, "high");
	ck_assert_str_eq(r->to, "wan");
	ck_assert_uint_eq(r->dport.ranges[0].lo, 1024);
	ck_assert_uint_eq(r->dport.ranges[0].hi, 65535);

	r = rs->rules[6];
	ck_assert_str_eq(r->name, "v6");
	ck_assert_int_eq(r->proto, IPPROTO_ICMPV6);
	ck_assert_uint_eq(r->nicmp_types, 0);

	r = rs->rules[7];
	ck_assert_str_eq(r->name, "wan-log");
	ck_assert(r->log);
	ck_assert_str_eq(r->log_prefix, "wan-in: ");
	ck_assert_int_eq(r->verdict, VERDICT_REJECT);
	ck_assert_ptr_null(r->comment);
	assert_loc(&r->loc, "t.rules", 20, 1);

	n = rs->nats[0];
	ck_assert_str_eq(n->name, "masq");
	ck_assert_int_eq(n->kind, NAT_MASQUERADE);
	ck_assert_str_eq(n->from, "lan");
	ck_assert_str_eq(n->to, "wan");
	ck_assert_uint_eq(n->src.naddrs, 0);
	assert_loc(&n->loc, "t.rules", 22, 1);
	n = rs->nats[1];
	ck_assert_str_eq(n->name, "dmzout");
	ck_assert_int_eq(n->kind, NAT_SNAT);
	ck_assert_str_eq(n->from, "dmz");
	ck_assert_str_eq(n->to, "wan");
	ck_assert_str_eq(A(&n->snat_addr), "203.0.113.10");
	n = rs->nats[2];
	ck_assert_str_eq(n->name, "https");
	ck_assert_int_eq(n->kind, NAT_FORWARD);
	ck_assert_str_eq(n->from, "wan");
	ck_assert_ptr_null(n->to);
	ck_assert_int_eq(n->proto, IPPROTO_TCP);
	ck_assert_uint_eq(n->dport.lo, 443);
	ck_assert_uint_eq(n->dport.hi, 443);
	ck_assert_str_eq(A(&n->target), "10.0.2.10");
	ck_assert_uint_eq(n->target_port, 8443);
	n = rs->nats[3];
	ck_assert_str_eq(n->name, "sshd");
	ck_assert_uint_eq(n->dport.lo, 2222);
	ck_assert_str_eq(A(&n->target), "10.0.2.11");
	ck_assert_uint_eq(n->target_port, 22);
	ck_assert_uint_eq(n->src.naddrs, 1);
	ck_assert_str_eq(A(&n->src.addrs[0]), "198.51.100.0/24");
	assert_loc(&n->loc, "t.rules", 25, 1);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_zones)
{
	struct ruleset *rs = parse_ok(
	    "zone a { interface { eth0, eth1 }; network 10.1.0.0/16 }\n"
	    "zone b {\n"
	    "  interface veth*, wg0   # wildcard and a list\n"
	    "  network 10.2.0.0/16,\n"
	    "          2001:db8::/32\n"
	    "  network { 10.3.0.0/16 }\n"
	    "}\n"
	    "zone c interface eth5 dmz\n"
	    "zone d { external; interface \"ppp0\" }\n"
	    "  zone e { network 192.0.2.1 ; ; }\n");
	struct zone *z;

	ck_assert_uint_eq(rs->nzones, 5);
	z = rs->zones[0];
	ck_assert_uint_eq(z->nifaces, 2);
	ck_assert_str_eq(z->ifaces[0], "eth0");
	ck_assert_str_eq(z->ifaces[1], "eth1");
	ck_assert_str_eq(A(&z->networks[0]), "10.1.0.0/16");
	z = rs->zones[1];
	ck_assert_str_eq(z->name, "b");
	ck_assert_uint_eq(z->nifaces, 2);
	ck_assert_str_eq(z->ifaces[0], "veth*");
	ck_assert_str_eq(z->ifaces[1], "wg0");
	ck_assert_uint_eq(z->nnetworks, 3);
	ck_assert_str_eq(A(&z->networks[1]), "2001:db8::/32");
	ck_assert_str_eq(A(&z->networks[2]), "10.3.0.0/16");
	assert_loc(&z->loc, "t.rules", 2, 1);
	z = rs->zones[2];
	ck_assert_str_eq(z->name, "c");
	ck_assert_str_eq(z->ifaces[0], "eth5");
	ck_assert_uint_eq(z->flags, ZONE_DMZ);
	assert_loc(&z->loc, "t.rules", 8, 1);
	z = rs->zones[3];
	ck_assert_uint_eq(z->flags, ZONE_EXTERNAL);
	ck_assert_str_eq(z->ifaces[0], "ppp0");
	z = rs->zones[4];
	ck_assert_int_eq(z->networks[0].prefix, 32);
	assert_loc(&z->loc, "t.rules", 10, 3);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_zone_flat)
{
	struct diags d;
	struct zone *z;

	diags_init(&d);
	z = parse_zone("dmz interface eth2 dmz", &d);
	ck_assert_ptr_nonnull(z);
	ck_assert_str_eq(z->name, "dmz");
	ck_assert_uint_eq(z->nifaces, 1);
	ck_assert_str_eq(z->ifaces[0], "eth2");
	ck_assert_uint_eq(z->flags, ZONE_DMZ);
	ck_assert_ptr_null(z->loc.file);
	ck_assert_int_eq(z->loc.line, 1);
	ck_assert_int_eq(z->loc.col, 1);
	zone_free(z);

	z = parse_zone("zone lan interface eth1, eth3 network 10.0.0.0/8, "
	    "fd00::/8", &d);
	ck_assert_ptr_nonnull(z);
	ck_assert_str_eq(z->name, "lan");
	ck_assert_uint_eq(z->nifaces, 2);
	ck_assert_str_eq(z->ifaces[1], "eth3");
	ck_assert_uint_eq(z->nnetworks, 2);
	ck_assert_str_eq(A(&z->networks[1]), "fd00::/8");
	zone_free(z);

	/* "zone" then a block: the keyword, not a zone named "zone" */
	z = parse_zone("zone wan { interface eth0; external }\n", &d);
	ck_assert_ptr_nonnull(z);
	ck_assert_str_eq(z->name, "wan");
	ck_assert_uint_eq(z->flags, ZONE_EXTERNAL);
	zone_free(z);

	/* a zone named "zone" */
	z = parse_zone("zone interface eth0", &d);
	ck_assert_ptr_nonnull(z);
	ck_assert_str_eq(z->name, "zone");
	zone_free(z);
	ck_assert_uint_eq(d.n, 0);

	z = parse_zone("dmz interface eth2 dmz extra", &d);
	ck_assert_ptr_null(z);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.v[0].line, 1);
	ck_assert_int_eq(d.v[0].col, 24);
	ck_assert_ptr_null(d.v[0].file);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "\"extra\""));
	diags_free(&d);

	/* two statements are not one */
	z = parse_zone("a interface eth0\nb interface eth1", &d);
	ck_assert_ptr_null(z);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.v[0].line, 2);
	ck_assert_int_eq(d.v[0].col, 1);
	diags_free(&d);
}
END_TEST

START_TEST(test_policies)
{
	struct ruleset *rs = parse_ok("policy lan->wan reject\n"
	    "policy self -> any accept\n");
	struct policy *p;
	struct diags d;

	ck_assert_str_eq(rs->policies[0]->from, "lan");
	ck_assert_str_eq(rs->policies[0]->to, "wan");
	ck_assert_int_eq(rs->policies[0]->verdict, VERDICT_REJECT);
	ck_assert_str_eq(rs->policies[1]->from, "self");
	ck_assert_str_eq(rs->policies[1]->to, "any");
	ruleset_free(rs);

	diags_init(&d);
	p = parse_policy("lan -> wan accept", &d);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->from, "lan");
	ck_assert_int_eq(p->verdict, VERDICT_ACCEPT);
	policy_free(p);
	p = parse_policy("policy any -> self drop", &d);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->from, "any");
	ck_assert_str_eq(p->to, "self");
	policy_free(p);
	/* a zone called "policy" */
	p = parse_policy("policy -> wan drop", &d);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->from, "policy");
	policy_free(p);
	ck_assert_uint_eq(d.n, 0);
	p = parse_policy("lan -> wan", &d);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.v[0].col, 11);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "expected a verdict"));
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "end of input"));
	diags_free(&d);
}
END_TEST

START_TEST(test_sets)
{
	struct ruleset *rs = parse_ok(
	    "set blocklist ipv4\n"
	    "set a4 ipv4 { timeout 1h30m; 192.0.2.1 timeout 10m, 10.0.0.0/8 }\n"
	    "set a6 ipv6 {\n"
	    "  2001:db8::1,\n"
	    "  2001:db8:1::/48 timeout 2d,\n"
	    "}\n"
	    "set ports port { 22, 1000-2000; 8080 }\n"
	    "set quick ipv4 timeout 500ms\n");
	struct set *s;

	ck_assert_uint_eq(rs->nsets, 5);
	s = rs->sets[0];
	ck_assert_str_eq(s->name, "blocklist");
	ck_assert_int_eq(s->type, SET_IPV4);
	ck_assert_uint_eq(s->nelems, 0);
	ck_assert_uint_eq(s->timeout_ms, 0);
	s = rs->sets[1];
	ck_assert_uint_eq(s->timeout_ms, 5400000);
	ck_assert_uint_eq(s->nelems, 2);
	ck_assert_str_eq(A(&s->elems[0].key.addr), "192.0.2.1");
	ck_assert_uint_eq(s->elems[0].timeout_ms, 600000);
	ck_assert_str_eq(A(&s->elems[1].key.addr), "10.0.0.0/8");
	ck_assert_uint_eq(s->elems[1].timeout_ms, 0);
	s = rs->sets[2];
	ck_assert_int_eq(s->type, SET_IPV6);
	ck_assert_uint_eq(s->nelems, 2);
	ck_assert_str_eq(A(&s->elems[0].key.addr), "2001:db8::1");
	ck_assert_str_eq(A(&s->elems[1].key.addr), "2001:db8:1::/48");
	ck_assert_uint_eq(s->elems[1].timeout_ms, 2 * 86400000ULL);
	s = rs->sets[3];
	ck_assert_int_eq(s->type, SET_PORT);
	ck_assert_uint_eq(s->nelems, 3);
	ck_assert_uint_eq(s->elems[0].key.port.lo, 22);
	ck_assert_uint_eq(s->elems[0].key.port.hi, 22);
	ck_assert_uint_eq(s->elems[1].key.port.lo, 1000);
	ck_assert_uint_eq(s->elems[1].key.port.hi, 2000);
	ck_assert_uint_eq(s->elems[2].key.port.lo, 8080);
	s = rs->sets[4];
	ck_assert_uint_eq(s->timeout_ms, 500);
	ck_assert_uint_eq(s->nelems, 0);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_set_single)
{
	struct set_elem e;
	struct diags d;
	struct set *s;

	diags_init(&d);
	s = parse_set("blocklist ipv4 { timeout 1h }", &d);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->name, "blocklist");
	ck_assert_uint_eq(s->timeout_ms, 3600000);
	set_free(s);
	s = parse_set("set admins ipv6 { fd00::5 }", &d);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->name, "admins");
	ck_assert_uint_eq(s->nelems, 1);
	set_free(s);
	ck_assert_uint_eq(d.n, 0);

	ck_assert_int_eq(parse_set_elem(SET_IPV4, "192.0.2.7", &e, &d), 0);
	ck_assert_str_eq(A(&e.key.addr), "192.0.2.7");
	ck_assert_uint_eq(e.timeout_ms, 0);
	ck_assert_int_eq(parse_set_elem(SET_IPV4, "10.0.0.0/8 timeout 1h",
	    &e, &d), 0);
	ck_assert_str_eq(A(&e.key.addr), "10.0.0.0/8");
	ck_assert_uint_eq(e.timeout_ms, 3600000);
	ck_assert_int_eq(parse_set_elem(SET_PORT, "1000-2000", &e, &d), 0);
	ck_assert_uint_eq(e.key.port.lo, 1000);
	ck_assert_uint_eq(e.key.port.hi, 2000);
	ck_assert_int_eq(parse_set_elem(SET_PORT, "22", &e, &d), 0);
	ck_assert_uint_eq(e.key.port.lo, 22);
	ck_assert_uint_eq(e.key.port.hi, 22);
	ck_assert_uint_eq(d.n, 0);

	ck_assert_int_eq(parse_set_elem(SET_IPV4, "fd00::1", &e, &d), -1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.v[0].col, 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "type ipv4"));
	ck_assert_int_eq(parse_set_elem(SET_PORT, "22 23", &e, &d), -1);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_int_eq(d.v[1].col, 4);
	ck_assert_int_eq(parse_set_elem(SET_IPV6, "", &e, &d), -1);
	ck_assert_uint_eq(d.n, 3);
	diags_free(&d);
}
END_TEST

START_TEST(test_rule_options)
{
	struct ruleset *rs = parse_ok(
	    "rule r1 from lan to wan tcp sport 1024-65535 dport { 80, 443, "
	    "8000-8100 } accept\n"
	    "rule r2 from any to self udp dport @dnsports src { 10.0.0.0/8, "
	    "192.168.1.1 } dst 10.0.0.1 drop\n"
	    "rule r3 from lan to self src 2001:db8::/32 dst { fd00::1, "
	    "fd00::2 } state { new, related } reject\n"
	    "rule r4 from lan to self icmp type { echo-request, 0, 255, "
	    "time-exceeded } accept\n"
	    "rule r5 from lan to self icmpv6 type { neighbour-solicitation, "
	    "neighbor-advertisement, packet-too-big, router-advertisement } "
	    "accept\n"
	    "rule r6 from lan to self limit rate 100/hour burst 20 log prefix "
	    "\"a \\\"quoted\\\" \\\\ prefix\" comment \"why: because\" accept\n"
	    "rule r7 from lan to self state established accept limit 1/day\n"
	    "rule r8 from lan to self comment \"c\" log drop\n"
	    "rule r9 from lan to self sctp dport {\n"
	    "    9899,\n"
	    "    9900 } accept\n"
	    "\n"
	    "rule r10 from lan to self tcp sport @hi dst @v6hosts accept\n");
	struct rule *r;

	ck_assert_uint_eq(rs->nrules, 10);
	r = rs->rules[0];
	ck_assert_int_eq(r->proto, IPPROTO_TCP);
	ck_assert_uint_eq(r->sport.nranges, 1);
	ck_assert_uint_eq(r->sport.ranges[0].lo, 1024);
	ck_assert_uint_eq(r->sport.ranges[0].hi, 65535);
	ck_assert_uint_eq(r->dport.nranges, 3);
	ck_assert_uint_eq(r->dport.ranges[2].lo, 8000);
	ck_assert_uint_eq(r->dport.ranges[2].hi, 8100);

	r = rs->rules[1];
	ck_assert_int_eq(r->proto, IPPROTO_UDP);
	ck_assert_str_eq(r->dport.set, "dnsports");
	ck_assert_uint_eq(r->dport.nranges, 0);
	ck_assert_uint_eq(r->src.naddrs, 2);
	ck_assert_str_eq(A(&r->src.addrs[0]), "10.0.0.0/8");
	ck_assert_str_eq(A(&r->src.addrs[1]), "192.168.1.1");
	ck_assert_uint_eq(r->dst.naddrs, 1);
	ck_assert_int_eq(r->verdict, VERDICT_DROP);

	r = rs->rules[2];
	ck_assert_int_eq(r->proto, PROTO_NONE);
	ck_assert_str_eq(A(&r->src.addrs[0]), "2001:db8::/32");
	ck_assert_uint_eq(r->dst.naddrs, 2);
	ck_assert_str_eq(A(&r->dst.addrs[1]), "fd00::2");
	ck_assert_uint_eq(r->state, CTSTATE_NEW | CTSTATE_RELATED);
	ck_assert_int_eq(r->verdict, VERDICT_REJECT);

	r = rs->rules[3];
	ck_assert_int_eq(r->proto, IPPROTO_ICMP);
	ck_assert_uint_eq(r->nicmp_types, 4);
	ck_assert_uint_eq(r->icmp_types[0], 8);
	ck_assert_uint_eq(r->icmp_types[1], 0);
	ck_assert_uint_eq(r->icmp_types[2], 255);
	ck_assert_uint_eq(r->icmp_types[3], 11);

	r = rs->rules[4];
	ck_assert_int_eq(r->proto, IPPROTO_ICMPV6);
	ck_assert_uint_eq(r->nicmp_types, 4);
	ck_assert_uint_eq(r->icmp_types[0], 135);
	ck_assert_uint_eq(r->icmp_types[1], 136);
	ck_assert_uint_eq(r->icmp_types[2], 2);
	ck_assert_uint_eq(r->icmp_types[3], 134);

	r = rs->rules[5];
	ck_assert_uint_eq(r->limit.rate, 100);
	ck_assert_int_eq(r->limit.unit, LIMIT_HOUR);
	ck_assert_uint_eq(r->limit.burst, 20);
	ck_assert(r->log);
	ck_assert_str_eq(r->log_prefix, "a \"quoted\" \\ prefix");
	ck_assert_str_eq(r->comment, "why: because");
	ck_assert_int_eq(r->verdict, VERDICT_ACCEPT);

	r = rs->rules[6];
	ck_assert_uint_eq(r->state, CTSTATE_ESTABLISHED);
	ck_assert_uint_eq(r->limit.rate, 1);
	ck_assert_int_eq(r->limit.unit, LIMIT_DAY);

	r = rs->rules[7];
	ck_assert(r->log);
	ck_assert_ptr_null(r->log_prefix);
	ck_assert_str_eq(r->comment, "c");
	ck_assert_int_eq(r->verdict, VERDICT_DROP);

	r = rs->rules[8];
	ck_assert_int_eq(r->proto, IPPROTO_SCTP);
	ck_assert_uint_eq(r->dport.nranges, 2);
	ck_assert_uint_eq(r->dport.ranges[1].lo, 9900);
	ck_assert_int_eq(r->verdict, VERDICT_ACCEPT);
	assert_loc(&r->loc, "t.rules", 9, 1);

	r = rs->rules[9];
	ck_assert_str_eq(r->sport.set, "hi");
	ck_assert_str_eq(r->dst.set, "v6hosts");
	assert_loc(&r->loc, "t.rules", 13, 1);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_rule_single)
{
	struct diags d;
	struct rule *r;

	diags_init(&d);
	r = parse_rule("ssh from lan to self tcp dport 22 accept", &d);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "ssh");
	ck_assert_int_eq(r->dport.ranges[0].lo, 22);
	ck_assert_ptr_null(r->loc.file);
	ck_assert_int_eq(r->loc.line, 1);
	ck_assert_int_eq(r->loc.col, 1);
	rule_free(r);
	r = parse_rule("rule ssh from lan to self accept\n\n", &d);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "ssh");
	rule_free(r);
	/* a rule named "rule" */
	r = parse_rule("rule from lan to self accept", &d);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "rule");
	rule_free(r);
	r = parse_rule("  # leading comment\n  web from any to self accept", &d);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->loc.line, 2);
	ck_assert_int_eq(r->loc.col, 3);
	rule_free(r);
	ck_assert_uint_eq(d.n, 0);

	/* columns count from 1 in the text given */
	r = parse_rule("ssh from lan to self tcp dport 70000 accept", &d);
	ck_assert_ptr_null(r);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_ptr_null(d.v[0].file);
	ck_assert_int_eq(d.v[0].line, 1);
	ck_assert_int_eq(d.v[0].col, 32);
	ck_assert_str_eq(d.v[0].msg,
	    "expected a port number (0-65535), got \"70000\"");
	diags_free(&d);
	r = parse_rule("rule ssh from lan to self tcp dport 1000-70000 accept",
	    &d);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(d.v[0].col, 42);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "got \"70000\""));
	diags_free(&d);
	r = parse_rule("", &d);
	ck_assert_ptr_null(r);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "expected a rule name"));
	diags_free(&d);
	r = parse_rule(NULL, &d);
	ck_assert_ptr_null(r);
	diags_free(&d);
}
END_TEST

START_TEST(test_nat)
{
	struct ruleset *rs = parse_ok(
	    "nat m masquerade from any to wan src { 10.0.0.0/8, 10.1.0.0/16 }\n"
	    "nat s snat from lan to wan as 2001:db8::1 src @v6src\n"
	    "nat f1 forward from wan udp dport 5000-5010 to fd00:2::10\n"
	    "nat f2 forward from wan tcp dport 443 to [fd00::10]:8443\n"
	    "nat f3 forward from wan sctp dport 80 to 10.0.2.10\n"
	    "nat f4 forward from wan tcp dport 8080 to [fd00::11]\n");
	struct diags d;
	struct nat *n;

	n = rs->nats[0];
	ck_assert_int_eq(n->kind, NAT_MASQUERADE);
	ck_assert_str_eq(n->from, "any");
	ck_assert_uint_eq(n->src.naddrs, 2);
	ck_assert_str_eq(A(&n->src.addrs[1]), "10.1.0.0/16");
	n = rs->nats[1];
	ck_assert_int_eq(n->kind, NAT_SNAT);
	ck_assert_int_eq(n->snat_addr.family, AF_INET6);
	ck_assert_str_eq(A(&n->snat_addr), "2001:db8::1");
	ck_assert_str_eq(n->src.set, "v6src");
	n = rs->nats[2];
	ck_assert_int_eq(n->proto, IPPROTO_UDP);
	ck_assert_uint_eq(n->dport.lo, 5000);
	ck_assert_uint_eq(n->dport.hi, 5010);
	ck_assert_str_eq(A(&n->target), "fd00:2::10");
	ck_assert_uint_eq(n->target_port, 0);
	n = rs->nats[3];
	ck_assert_str_eq(A(&n->target), "fd00::10");
	ck_assert_uint_eq(n->target_port, 8443);
	n = rs->nats[4];
	ck_assert_int_eq(n->proto, IPPROTO_SCTP);
	ck_assert_str_eq(A(&n->target), "10.0.2.10");
	ck_assert_uint_eq(n->target_port, 0);
	n = rs->nats[5];
	ck_assert_str_eq(A(&n->target), "fd00::11");
	ck_assert_uint_eq(n->target_port, 0);
	ruleset_free(rs);

	diags_init(&d);
	n = parse_nat("https forward from wan tcp dport 443 to 10.0.2.10:8443",
	    &d);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->name, "https");
	ck_assert_uint_eq(n->target_port, 8443);
	nat_free(n);
	n = parse_nat("nat masq masquerade from lan to wan", &d);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->name, "masq");
	nat_free(n);
	n = parse_nat("nat masquerade from lan to wan", &d);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->name, "nat");
	nat_free(n);
	ck_assert_uint_eq(d.n, 0);
	n = parse_nat("x forward from wan tcp dport 443 to 10.0.2.10:99999", &d);
	ck_assert_ptr_null(n);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.v[0].col, 47);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "target port"));
	diags_free(&d);
}
END_TEST

START_TEST(test_durations)
{
	static const struct {
		const char	*in;
		uint64_t	 ms;
		const char	*out;
	} ok[] = {
		{ "30s", 30000, "30s" },
		{ "10m", 600000, "10m" },
		{ "1h", 3600000, "1h" },
		{ "2d", 172800000, "2d" },
		{ "500ms", 500, "500ms" },
		{ "1h30m", 5400000, "1h30m" },
		{ "90m", 5400000, "1h30m" },
		{ "1d1h1m1s1ms", 90061001, "1d1h1m1s1ms" },
		{ "0s", 0, "0s" },
	};
	static const char *bad[] = { "", "s", "10", "10x", "1h30", "-1s",
	    "1.5h", "99999999999999999999s", "1 h", "1h1h", "30m1h",
	    "1s500ms500ms" };
	char buf[64];
	uint64_t ms;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(duration_parse(ok[i].in, &ms) == 0, "%s",
		    ok[i].in);
		ck_assert_uint_eq(ms, ok[i].ms);
		ck_assert_str_eq(duration_format(ms, buf, sizeof(buf)),
		    ok[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(duration_parse(bad[i], &ms) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(test_addr)
{
	struct addr a, n;
	const char *why;
	char buf[64];

	ck_assert_int_eq(addr_parse("192.0.2.1", &a, &why), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_int_eq(a.prefix, 32);
	ck_assert(addr_is_host(&a));
	ck_assert_int_eq(addr_parse("192.0.2.0/24", &n, &why), 0);
	ck_assert(!addr_is_host(&n));
	ck_assert(addr_in_network(&a, &n));
	ck_assert_int_eq(addr_parse("192.0.3.0/24", &n, &why), 0);
	ck_assert(!addr_in_network(&a, &n));
	ck_assert_int_eq(addr_parse("0.0.0.0/0", &n, &why), 0);
	ck_assert(addr_in_network(&a, &n));
	ck_assert_int_eq(addr_parse("2001:DB8:0:0::1", &a, &why), 0);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_str_eq(addr_format(&a, buf, sizeof(buf)), "2001:db8::1");
	ck_assert_int_eq(addr_parse("2001:db8::/33", &n, &why), 0);
	ck_assert(addr_in_network(&a, &n));
	ck_assert_int_eq(addr_parse("10.0.0.1/8", &a, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "host bits"));
	ck_assert_int_eq(addr_parse("10.0.0.0/33", &a, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "0-32"));
	ck_assert_int_eq(addr_parse("fd00::/129", &a, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "0-128"));
	ck_assert_int_eq(addr_parse("10.0.0.0/", &a, &why), -1);
	ck_assert_int_eq(addr_parse("10.0.0.0/+8", &a, &why), -1);
	ck_assert_int_eq(addr_parse("10.0.0", &a, &why), -1);
	ck_assert_int_eq(addr_parse("eth0", &a, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "not an IPv4 or IPv6"));
	ck_assert_int_eq(addr_parse("", &a, NULL), -1);
	ck_assert_int_eq(addr_parse("fe80::1%eth0", &a, NULL), -1);

	ck_assert(name_valid("lan"));
	ck_assert(name_valid("_x.y-z9"));
	ck_assert(!name_valid("9lan"));
	ck_assert(!name_valid("-x"));
	ck_assert(!name_valid(""));
	ck_assert(!name_valid("a b"));
	ck_assert(name_valid("a23456789012345678901234567890123456789012345"
	    "678901234567890123"));
	ck_assert(!name_valid("a23456789012345678901234567890123456789012345"
	    "6789012345678901234"));
	ck_assert(ifname_valid("eth0"));
	ck_assert(ifname_valid("eth*"));
	ck_assert(ifname_valid("br-lan.10"));
	ck_assert(ifname_valid("abcdefghijklmno"));
	ck_assert(!ifname_valid("abcdefghijklmnop"));
	ck_assert(!ifname_valid("*"));
	ck_assert(!ifname_valid("et*h"));
	ck_assert(!ifname_valid("eth/0"));
	ck_assert(!ifname_valid(""));

	ck_assert_str_eq(icmp_type_name(IPPROTO_ICMP, 8), "echo-request");
	ck_assert_str_eq(icmp_type_name(IPPROTO_ICMPV6, 135),
	    "nd-neighbor-solicit");
	ck_assert_ptr_null(icmp_type_name(IPPROTO_ICMP, 200));
	ck_assert_str_eq(proto_name(IPPROTO_ICMPV6), "icmpv6");
	ck_assert_str_eq(verdict_name(VERDICT_REJECT), "reject");
	ck_assert_str_eq(nat_kind_name(NAT_FORWARD), "forward");
	ck_assert_str_eq(set_type_name(SET_PORT), "port");
	ck_assert_str_eq(limit_unit_name(LIMIT_DAY), "day");
	ck_assert_str_eq(ctstate_name(CTSTATE_RELATED), "related");
	ck_assert_uint_eq(ctstate_parse("invalid"), CTSTATE_INVALID);
	ck_assert_uint_eq(ctstate_parse("bogus"), 0);
}
END_TEST

/*
 * Invalid input. Every case is parsed after three lines of zones (so the
 * validator has something to refer to); line is counted from the case's
 * own first line. A case must give exactly one error.
 */
static const char preamble[] =
    "zone wan { interface eth0; external }\n"
    "zone lan { interface eth1; network 192.168.10.0/24, fd00:10::/64 }\n"
    "zone dmz { interface eth2; dmz }\n";
#define PREAMBLE_LINES	3

static const struct bad {
	const char	*text;
	int		 line;
	int		 col;
	const char	*msg;
} bad[] = {
	/* syntax */
	{ "bogus x", 1, 1, "expected a statement (zone, policy, rule, nat or "
	    "set), got \"bogus\"" },
	{ "lan -> wan accept", 1, 1, "expected a statement" },
	{ "rule a from lan to self tcp dport 22", 1, 37,
	    "rule \"a\" has no verdict; expected accept, drop or reject" },
	{ "rule a from lan to self accept drop", 1, 32,
	    "exactly one verdict" },
	{ "rule a from lan to self tcp dport 70000 accept", 1, 35,
	    "expected a port number (0-65535), got \"70000\"" },
	{ "rule a from lan to self tcp dport 90-80 accept", 1, 35,
	    "port range \"90-80\" is reversed" },
	{ "rule a from lan to self tcp dport 80- accept", 1, 38,
	    "expected a port number" },
	{ "rule a from lan to self src 10.0.0.1/33 accept", 1, 29,
	    "prefix length must be 0-32" },
	{ "rule a from lan to self src 10.0.0.1/8 accept", 1, 29,
	    "did you mean 10.0.0.0/8?" },
	{ "rule a from lan to self src 300.1.1.1 accept", 1, 29,
	    "not an IPv4 or IPv6 address" },
	{ "rule a from lan to self src \"10.0.0.1\" accept", 1, 29,
	    "expected an address or network, got string" },
	{ "rule a from lan to self src @ accept", 1, 30,
	    "expected a set name after '@'" },
	{ "rule a from lan to self log prefix \"abc accept", 1, 36,
	    "unterminated string" },
	{ "rule a from lan to self log prefix \"a\\q\" accept", 1, 38,
	    "unknown escape" },
	{ "rule a from lan to self \x01 accept", 1, 25,
	    "unexpected byte 0x01" },
	{ "rule a from lan to self icmp type foo accept", 1, 35,
	    "expected an icmp type name" },
	{ "rule a from lan to self icmpv6 type 256 accept", 1, 37,
	    "or a number 0-255, got \"256\"" },
	{ "rule a from lan to self limit 0/second accept", 1, 31,
	    "limit rate must be at least 1" },
	{ "rule a from lan to self limit 10/week accept", 1, 34,
	    "expected a rate unit (second, minute, hour or day), got \"week\"" },
	{ "rule a from lan to self limit ten accept", 1, 31,
	    "expected a rate such as 10/second" },
	{ "rule a from lan to self limit 10/second burst 0 accept", 1, 47,
	    "expected a burst" },
	{ "rule a from lan to self dport 22 accept", 1, 25,
	    "dport needs tcp, udp or sctp before it" },
	{ "rule a from lan to self tcp type echo-request accept", 1, 29,
	    "type needs icmp or icmpv6" },
	{ "rule a from lan to self tcp udp accept", 1, 29,
	    "one protocol" },
	{ "rule a from lan to self state bogus accept", 1, 31,
	    "expected a connection state" },
	{ "rule a from lan to self comment accept", 1, 33,
	    "expected a quoted comment" },
	{ "rule a lan to self accept", 1, 8,
	    "expected \"from\" after the rule name, got \"lan\"" },
	{ "rule 9a from lan to self accept", 1, 6, "invalid rule name" },
	{ "rule a from lan to self tcp dport { 80, 443 accept", 1, 45,
	    "expected ',' or '}' in the list, got \"accept\"" },
	{ "rule a from lan to self tcp dport { } accept", 1, 37,
	    "empty list" },
	{ "rule a from lan to self log log accept", 1, 29,
	    "given twice" },
	{ "rule a from lan to self accept frobnicate", 1, 32,
	    "expected a match" },
	{ "rule a from lan to self log prefix \"0123456789012345678901234567"
	    "890123456789012345678901234567890123456789012345678901234567890123"
	    "456789012345678901234567890123456789\" accept", 1, 36,
	    "log prefix is 130 bytes long; at most 127 allowed" },
	{ "policy lan -> wan maybe", 1, 19,
	    "expected a verdict (accept, drop or reject), got \"maybe\"" },
	{ "policy lan wan accept", 1, 12, "expected \"->\"" },
	{ "zone lan2 { interface eth9; bogus }", 1, 29,
	    "expected a zone option" },
	{ "zone x { interface eth9", 2, 1,
	    "expected } to close the zone block opened at 4:8" },
	{ "zone x { network 10.0.0.0/33; interface eth9 }", 1, 18,
	    "prefix length" },
	{ "zone x { interface abcdefghijklmnop }", 1, 20,
	    "expected an interface name" },
	{ "zone x {\n interface eth9\n external; external\n}", 3, 12,
	    "external given twice" },
	{ "set s ipv4 { 10.0.0.1, fd00::1 }", 1, 24,
	    "expected an IPv4 address or network in a set of type ipv4" },
	{ "set s ipv5", 1, 7, "expected a set type (ipv4, ipv6 or port)" },
	{ "set s ipv4 { timeout 5x }", 1, 22, "expected a duration" },
	{ "set s ipv4 { timeout 1h; timeout 2h }", 1, 26, "given twice" },
	{ "set s port { 22 timeout 0s }", 1, 25, "greater than zero" },
	{ "nat n forward from wan tcp dport 80 to 10.0.0.0/24", 1, 40,
	    "single host address" },
	{ "nat n forward from wan tcp dport 80 to [fd00::1]:0", 1, 50,
	    "expected a target port (1-65535)" },
	{ "nat n forward from wan tcp dport 80 to @hosts", 1, 40,
	    "expected a host address" },
	{ "nat n forward from wan icmp dport 80 to 10.0.2.10", 1, 24,
	    "forwarded protocol" },
	{ "nat n snat from dmz to wan as 10.0.0.0/8", 1, 31,
	    "single host address" },
	{ "nat n teleport from lan to wan", 1, 7, "nat kind" },
	{ "nat n forward from wan tcp dport 80 to 10.0.2.10 src 1.2.3.4 "
	    "src 1.2.3.5", 1, 62, "src given twice" },
	/* validation: at the keyword of the clause at fault, or the statement */
	{ "rule a from lnn to self accept", 1, 8,
	    "rule \"a\": unknown zone \"lnn\" in from" },
	{ "rule a from lan to self accept\nrule a from lan to wan accept", 2,
	    1, "rule \"a\" is defined twice (first at t.rules:4:1)" },
	{ "rule a from lan to self src @nope accept", 1, 25,
	    "rule \"a\": unknown set @nope in src" },
	{ "rule a from lan to self src 10.0.0.1 dst fd00::1 accept", 1, 38,
	    "rule \"a\": src 10.0.0.1 is IPv4 but dst fd00::1 is IPv6" },
	{ "rule a from lan to self tcp dport { 22, nosuch } accept", 1, 41,
	    "unknown service \"nosuch\": not in /etc/services" },
	{ "rule a from lan to self tcp dport a:b accept", 1, 35,
	    "expected a port number (0-65535), a range lo-hi or a service "
	    "name, got \"a:b\"" },
	{ "rule a from lan to self src { 10.0.0.1, 10.0.0.0/8 } dst "
	    "{ fd00::1, fd00::2 } accept", 1, 54, "src 10.0.0.1, ... is IPv4 "
	    "but dst fd00::1, ... is IPv6" },
	{ "rule a from lan to self icmp dst fd00::1 accept", 1, 30,
	    "icmp is IPv4 but dst fd00::1 is IPv6" },
	{ "set blk ipv4\nrule a from lan to self tcp dport @blk accept", 2, 29,
	    "rule \"a\": dport @blk is an ipv4 set; expected a port set" },
	{ "set p port\nrule a from lan to self src @p accept", 2, 25,
	    "rule \"a\": src @p is a port set" },
	{ "set v6 ipv6\nrule a from lan to self src @v6 dst 10.0.0.1 accept",
	    2, 33, "src @v6 (ipv6 set) is IPv6 but dst 10.0.0.1 is IPv4" },
	{ "rule a from self to self accept", 1, 18, "self to self" },
	{ "policy self -> self accept", 1, 16, "self -> self" },
	{ "policy lan -> wan accept\npolicy lan -> wan drop", 2, 1,
	    "policy lan -> wan is given twice" },
	{ "policy lan -> mars drop", 1, 15, "unknown zone \"mars\"" },
	{ "zone x { interface eth9; dmz; external }", 1, 31,
	    "zone \"x\" cannot be both dmz and external" },
	{ "zone x { dmz; network 10.9.0.0/16 }", 1, 10,
	    "zone \"x\": a dmz zone needs an interface" },
	{ "zone x", 1, 1, "zone \"x\" has no interface and no network" },
	{ "zone lan { interface eth9 }", 1, 1,
	    "zone \"lan\" is defined twice" },
	{ "zone any { interface eth9 }", 1, 1, "reserved" },
	{ "set s port { 22, 22 }", 1, 1, "set \"s\": element 22 is listed "
	    "twice" },
	{ "set s ipv4 { 10.0.0.0/8, 10.1.2.3 }", 1, 1,
	    "set \"s\": element 10.1.2.3 overlaps 10.0.0.0/8" },
	{ "set s ipv4\nset s ipv6", 2, 1, "set \"s\" is defined twice" },
	/* what the kernel would refuse, at the token */
	{ "set s ipv4 { timeout 36501d }", 1, 22, "timeout \"36501d\" is too "
	    "long; at most 36500d (100 years)" },
	{ "set s ipv4 { 10.0.0.1 timeout 99999999999h }", 1, 31,
	    "is too long; at most 36500d" },
	{ "rule a from lan to self accept limit 1/day burst 1000000", 1, 50,
	    "limit 1/day burst 1000000 is beyond the kernel's range" },
	{ "rule a from lan to self accept limit 1/hour burst 4294967295", 1,
	    51, "limit 1/hour burst 4294967295 is beyond the kernel's range" },
	{ "nat n masquerade from lan to nowhere", 1, 27,
	    "nat \"n\": unknown zone \"nowhere\" in to" },
	{ "zone x { network 10.9.0.0/16 }\nnat n masquerade from lan to x",
	    2, 27, "no interface" },
	{ "nat n snat from lan to wan as 203.0.113.1 src fd00::/64", 1, 43,
	    "nat \"n\": as 203.0.113.1 is IPv4 but src fd00::/64 is IPv6" },
	{ "nat a forward from wan tcp dport 80 to 10.0.2.10\n"
	    "nat b forward from wan tcp dport 70-90 to 10.0.2.11", 2, 28,
	    "nat \"b\": tcp ports 70-90 from zone \"wan\" is already forwarded "
	    "by nat \"a\"" },
	{ "nat n forward from wan tcp dport 1000-2000 to 10.0.2.10:65000", 1,
	    44, "nat \"n\": target ports 65000-66000 run past 65535" },
	{ "nat n forward from wan tcp dport 7000-7005 to 10.0.2.10:8000", 1,
	    44, "nat \"n\": a port range can only be forwarded to the same "
	    "ports" },
	{ "nat n forward from any tcp dport 80 to 10.0.2.10", 1, 15,
	    "forward from any" },
	{ "nat n masquerade from lan to wan\nnat n masquerade from dmz to wan",
	    2, 1, "nat \"n\" is defined twice" },
};

START_TEST(test_invalid)
{
	const struct bad *b = &bad[_i];
	struct ruleset *rs = ruleset_new();
	struct diags d;
	char *text;
	int n;

	diags_init(&d);
	ck_assert_int_ne(asprintf(&text, "%s%s\n", preamble, b->text), -1);
	n = parse_buffer(rs, "t.rules", text, strlen(text), &d);
	if (n == 0)
		n = validate_ruleset(rs, &d);
	if (d.n != 1 || d.v[0].line != b->line + PREAMBLE_LINES ||
	    d.v[0].col != b->col || strstr(d.v[0].msg, b->msg) == NULL) {
		fprintf(stderr, "case %d: %s\n", _i, b->text);
		dump(&d);
	}
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.v[0].file, "t.rules");
	ck_assert_int_eq(d.v[0].line, b->line + PREAMBLE_LINES);
	ck_assert_int_eq(d.v[0].col, b->col);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, b->msg));
	free(text);
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

/* Every error of a file is reported, each on its own line. */
START_TEST(test_all_errors)
{
	static const char text[] =
	    "zone lan { interface eth1; network 10.0.0.1/8 }\n"	/* 1 */
	    "rule a from lan to self tcp dport 70000 accept\n"	/* 2 */
	    "rule ok1 from lan to self accept\n"
	    "rule b from lan to self accept drop\n"		/* 4 */
	    "zone y {\n"
	    "  interface eth0\n"
	    "  network 10.0.0.0/33\n"				/* 7 */
	    "  network 10.1.0.0/16\n"
	    "}\n"
	    "zone z {\n"					/* 10: no } */
	    "  interface eth0\n"
	    "rule c from lan to self log prefix \"x accept\n"	/* 12 */
	    "rule ok2 from lan to self accept\n"
	    "bogus\n"						/* 14 */
	    "set s ipv4 { 10.0.0.1,\n"
	    "  fd00::1 }\n"					/* 16 */
	    "policy lan -> wan\n";				/* 17 */
	static const struct {
		int		 line;
		int		 col;
		const char	*msg;
	} want[] = {
		{ 1, 36, "host bits" },
		{ 2, 35, "70000" },
		{ 4, 32, "one verdict" },
		{ 7, 11, "prefix length" },
		{ 12, 1, "expected } to close the zone block opened at 10:8" },
		{ 12, 36, "unterminated string" },
		{ 14, 1, "expected a statement" },
		{ 16, 3, "type ipv4" },
		{ 17, 18, "expected a verdict" },
	};
	struct ruleset *rs = ruleset_new();
	struct diags d;
	size_t i;
	int n;

	diags_init(&d);
	n = parse_buffer(rs, "multi.rules", text, strlen(text), &d);
	if ((size_t)n != sizeof(want) / sizeof(want[0]))
		dump(&d);
	ck_assert_int_eq(n, sizeof(want) / sizeof(want[0]));
	ck_assert_uint_eq(d.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < d.n; i++) {
		ck_assert_str_eq(d.v[i].file, "multi.rules");
		ck_assert_int_eq(d.v[i].line, want[i].line);
		ck_assert_int_eq(d.v[i].col, want[i].col);
		ck_assert_ptr_nonnull(strstr(d.v[i].msg, want[i].msg));
	}
	/* the good statements between the bad ones were parsed */
	ck_assert_int_ge(ruleset_find_rule(rs, "ok1"), 0);
	ck_assert_int_ge(ruleset_find_rule(rs, "ok2"), 0);
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

static void
write_file(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *fp;

	ck_assert_int_ne(asprintf(&path, "%s/%s", dir, name), -1);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	free(path);
}

/* made and removed in the parent (unchecked fixture), so that a crashing
 * test leaves nothing behind */
static char tmpdir[64];

static void
rm_tmpdir(void)
{
	char *cmd;

	if (tmpdir[0] == '\0')
		return;
	if (asprintf(&cmd, "rm -rf '%s'", tmpdir) != -1) {
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
		free(cmd);
	}
	tmpdir[0] = '\0';
}

static void
mk_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_parse.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		tmpdir[0] = '\0';
	}
}

static char *
subdir(const char *name)
{
	char *dir;

	ck_assert_str_ne(tmpdir, "");
	ck_assert_int_ne(asprintf(&dir, "%s/%s", tmpdir, name), -1);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	return dir;
}

START_TEST(test_dir)
{
	struct ruleset *rs;
	struct diags d;
	char *dir, *sub, *path;
	int n;

	dir = subdir("rules.d");
	write_file(dir, "20-rules.rules",
	    "rule second from lan to self accept\n"
	    "rule third from lan to self drop\n");
	write_file(dir, "10-zones.rules",
	    "zone lan { interface eth1 }\nrule first from lan to self "
	    "accept\n");
	write_file(dir, "30-last.rules", "rule fourth from lan to wan drop\n");
	write_file(dir, ".hidden.rules", "this is not parsed\n");
	write_file(dir, "notes.txt", "neither is this\n");
	write_file(dir, "99.rules.bak", "nor this\n");
	ck_assert_int_ne(asprintf(&sub, "%s/40-dir.rules", dir), -1);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	free(sub);

	rs = ruleset_new();
	diags_init(&d);
	n = parse_dir(rs, dir, &d);
	if (n)
		dump(&d);
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(rs->nzones, 1);
	ck_assert_uint_eq(rs->nrules, 4);
	ck_assert_str_eq(rs->rules[0]->name, "first");
	ck_assert_str_eq(rs->rules[1]->name, "second");
	ck_assert_str_eq(rs->rules[2]->name, "third");
	ck_assert_str_eq(rs->rules[3]->name, "fourth");
	ck_assert_int_ne(asprintf(&path, "%s/20-rules.rules", dir), -1);
	ck_assert_str_eq(rs->rules[2]->loc.file, path);
	ck_assert_int_eq(rs->rules[2]->loc.line, 2);
	free(path);
	ruleset_free(rs);

	/* errors name the file they are in, and every file is read */
	write_file(dir, "15-bad.rules", "\nrule x from lan to self\n");
	write_file(dir, "25-bad.rules", "zone q { interface }\n");
	rs = ruleset_new();
	n = parse_dir(rs, dir, &d);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_int_ne(asprintf(&path, "%s/15-bad.rules", dir), -1);
	ck_assert_str_eq(d.v[0].file, path);
	ck_assert_int_eq(d.v[0].line, 2);
	ck_assert_int_eq(d.v[0].col, 24);
	free(path);
	ck_assert_ptr_nonnull(strstr(d.v[1].file, "25-bad.rules"));
	ck_assert_int_eq(d.v[1].col, 20);
	ck_assert_uint_eq(rs->nrules, 4);
	diags_free(&d);
	ruleset_free(rs);
	free(dir);

	/* an empty directory is an empty ruleset */
	dir = subdir("empty.d");
	rs = ruleset_new();
	ck_assert_int_eq(parse_dir(rs, dir, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(rs->nrules + rs->nzones + rs->nsets, 0);
	ruleset_free(rs);
	free(dir);
}
END_TEST

START_TEST(test_dir_missing)
{
	struct ruleset *rs = ruleset_new();
	struct diags d;
	char *s;

	diags_init(&d);
	ck_assert_int_eq(parse_dir(rs, "/nonexistent/fwctl.d", &d), 1);
	ck_assert_uint_eq(d.n, 1);
	s = diag_format(&d.v[0]);
	ck_assert_ptr_nonnull(strstr(s, "/nonexistent/fwctl.d"));
	ck_assert_ptr_nonnull(strstr(s, strerror(ENOENT)));
	free(s);
	ck_assert_int_eq(parse_file(rs, "/nonexistent/x.rules", &d), 1);
	ck_assert_ptr_nonnull(strstr(d.v[1].msg, "/nonexistent/x.rules"));
	ck_assert_int_eq(parse_file(rs, "/", &d), 1);
	ck_assert_uint_eq(d.n, 3);
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

/*
 * Every prefix of the example, copied into a buffer of exactly that size
 * (ASan catches a read past it), and bytes flipped at random: never a
 * crash, and an error count that matches the diagnostics.
 */
START_TEST(test_robust)
{
	size_t len = strlen(spec_example), i, k;
	struct ruleset *rs;
	struct diags d;
	char *buf;
	int n;

	for (i = 0; i <= len; i++) {
		buf = malloc(i ? i : 1);
		ck_assert_ptr_nonnull(buf);
		memcpy(buf, spec_example, i);
		rs = ruleset_new();
		diags_init(&d);
		n = parse_buffer(rs, "cut.rules", buf, i, &d);
		ck_assert_int_eq(n, (int)d.n);
		diags_free(&d);
		ruleset_free(rs);
		free(buf);
	}
	srandom(42);
	for (k = 0; k < 2000; k++) {
		buf = malloc(len);
		ck_assert_ptr_nonnull(buf);
		memcpy(buf, spec_example, len);
		for (i = 0; i < 4; i++)
			buf[random() % len] = (char)(random() % 256);
		rs = ruleset_new();
		diags_init(&d);
		n = parse_buffer(rs, "fuzz.rules", buf, len, &d);
		ck_assert_int_eq(n, (int)d.n);
		if (n == 0)
			validate_ruleset(rs, &d);
		diags_free(&d);
		ruleset_free(rs);
		free(buf);
	}
}
END_TEST

/*
 * Strings are UTF-8 text: they go to the state file as JSON, which holds
 * nothing else.  A comment with a stray Latin-1 byte used to be accepted
 * and then saved with '?' in its place, so the ruleset changed across a
 * restart.
 */
START_TEST(test_string_utf8)
{
	static const struct {
		const char	*comment;
		int		 col;	/* of the bad byte; 0 = accepted */
	} cases[] = {
		{ "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x94\xa5", 0 },
		{ "caf\xe9", 4 },			/* Latin-1 */
		{ "ab\xc0\xaf", 3 },			/* overlong '/' */
		{ "\xed\xa0\x80", 1 },		/* a surrogate */
		{ "x\xf4\x90\x80\x80", 2 },		/* past U+10FFFF */
		{ "\xe6\x97", 1 },			/* cut short */
		{ "\x80", 1 },				/* a lone continuation */
	};
	struct ruleset *rs;
	struct diags d;
	char text[128];
	size_t i;
	int n, base;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		base = snprintf(text, sizeof(text), "rule r from any to self "
		    "accept comment \"");
		snprintf(text + base, sizeof(text) - (size_t)base, "%s\"\n",
		    cases[i].comment);
		rs = ruleset_new();
		diags_init(&d);
		n = parse_buffer(rs, "u.rules", text, strlen(text), &d);
		if (cases[i].col == 0) {
			ck_assert_int_eq(n, 0);
			ck_assert_str_eq(rs->rules[0]->comment,
			    cases[i].comment);
		} else {
			ck_assert_msg(n == 1, "case %zu: %d errors", i, n);
			ck_assert_int_eq(d.v[0].line, 1);
			ck_assert_int_eq(d.v[0].col, base + cases[i].col);
			ck_assert_ptr_nonnull(strstr(d.v[0].msg,
			    "invalid UTF-8"));
			ck_assert_uint_eq(rs->nrules, 0);
		}
		diags_free(&d);
		ruleset_free(rs);
	}
}
END_TEST

/*
 * A buffer of garbage gets its first errors and a note, not one error per
 * line: the API turns every error into a reply, so a 64 MiB body of bad
 * lines must not become gigabytes of diagnostics.
 */
START_TEST(test_error_cap)
{
	size_t nlines = 100000, i;
	struct ruleset *rs;
	struct diags d;
	char *buf;
	int n;

	buf = malloc(nlines * 2);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < nlines; i++) {
		buf[2 * i] = 'x';
		buf[2 * i + 1] = '\n';
	}
	rs = ruleset_new();
	diags_init(&d);
	n = parse_buffer(rs, "junk.rules", buf, nlines * 2, &d);
	ck_assert_int_eq(n, (int)d.n);
	ck_assert_uint_le(d.n, 60);
	ck_assert_uint_ge(d.n, 10);
	/* the first errors are the real ones, at their places */
	ck_assert_int_eq(d.v[0].line, 1);
	ck_assert_int_eq(d.v[1].line, 2);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "expected a statement"));
	ck_assert_msg(strstr(d.v[d.n - 1].msg, "too many errors") != NULL,
	    "%s", d.v[d.n - 1].msg);
	ck_assert_str_eq(d.v[d.n - 1].file, "junk.rules");
	diags_free(&d);
	ruleset_free(rs);

	/* a few errors are all reported, with no note */
	free(buf);
	buf = strdup("x\ny\nzone a { interface eth0 }\n");
	ck_assert_ptr_nonnull(buf);
	rs = ruleset_new();
	diags_init(&d);
	ck_assert_int_eq(parse_buffer(rs, "few.rules", buf, strlen(buf), &d),
	    2);
	ck_assert_ptr_null(strstr(d.v[1].msg, "too many"));
	ck_assert_uint_eq(rs->nzones, 1);
	diags_free(&d);
	ruleset_free(rs);
	free(buf);
}
END_TEST

static Suite *
parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_spec_example);
	tcase_add_test(tc, test_zones);
	tcase_add_test(tc, test_zone_flat);
	tcase_add_test(tc, test_policies);
	tcase_add_test(tc, test_sets);
	tcase_add_test(tc, test_set_single);
	tcase_add_test(tc, test_rule_options);
	tcase_add_test(tc, test_rule_single);
	tcase_add_test(tc, test_nat);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_addr);
	tcase_add_loop_test(tc, test_invalid, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_all_errors);
	tcase_add_test(tc, test_robust);
	tcase_add_test(tc, test_error_cap);
	tcase_add_test(tc, test_string_utf8);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("dir");
	tcase_add_unchecked_fixture(tc, mk_tmpdir, rm_tmpdir);
	tcase_add_test(tc, test_dir);
	tcase_add_test(tc, test_dir_missing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
