/*
 * The validator: every problem of a ruleset, each at its object and naming
 * it. Models come from the parser where the language can say the mistake,
 * and are built by hand where only JSON or a bug could (host bits, reversed
 * ranges, a missing verdict).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "diag.h"
#include "parse.h"
#include "ruleset.h"

static const char zones[] =
    "zone wan { interface eth0; external }\n"
    "zone lan { interface eth1; network 192.168.10.0/24, fd00:10::/64 }\n"
    "zone dmz { interface eth2; dmz }\n";

static struct ruleset *
parse_ok(const char *text)
{
	struct ruleset *rs = ruleset_new();
	struct diags d;
	int n;

	diags_init(&d);
	n = parse_buffer(rs, "v.rules", text, strlen(text), &d);
	if (n)
		diags_print(&d, stderr);
	ck_assert_int_eq(n, 0);
	diags_free(&d);
	return rs;
}

/*
 * Validates rs and checks that the errors are exactly want (substrings, in
 * order). NULL-terminated.
 */
static void
expect(const struct ruleset *rs, const char *const *want)
{
	struct diags d;
	size_t i, nwant = 0;
	int n;

	while (want[nwant])
		nwant++;
	diags_init(&d);
	n = validate_ruleset(rs, &d);
	if ((size_t)n != nwant || d.n != nwant)
		diags_print(&d, stderr);
	ck_assert_int_eq(n, (int)nwant);
	ck_assert_uint_eq(d.n, nwant);
	for (i = 0; i < nwant; i++) {
		if (strstr(d.v[i].msg, want[i]) == NULL)
			fprintf(stderr, "got: %s\nwant: %s\n", d.v[i].msg,
			    want[i]);
		ck_assert_ptr_nonnull(strstr(d.v[i].msg, want[i]));
	}
	diags_free(&d);
}

static struct ruleset *
with_zones(const char *more)
{
	struct ruleset *rs;
	char *text;

	ck_assert_int_ne(asprintf(&text, "%s%s", zones, more), -1);
	rs = parse_ok(text);
	free(text);
	return rs;
}

static struct rule *
rule(const char *text)
{
	struct diags d;
	struct rule *r;

	diags_init(&d);
	r = parse_rule(text, &d);
	if (r == NULL)
		diags_print(&d, stderr);
	ck_assert_ptr_nonnull(r);
	diags_free(&d);
	return r;
}

static struct nat *
nat(const char *text)
{
	struct diags d;
	struct nat *n;

	diags_init(&d);
	n = parse_nat(text, &d);
	if (n == NULL)
		diags_print(&d, stderr);
	ck_assert_ptr_nonnull(n);
	diags_free(&d);
	return n;
}

START_TEST(test_valid)
{
	struct ruleset *rs = with_zones(
	    "set admins ipv4 { 192.168.10.5, 192.168.10.6 }\n"
	    "set hosts6 ipv6 { fd00:10::1:5, fd00:10::/112 }\n"
	    "set ports port { 22, 80-90, 443 }\n"
	    "policy lan -> wan accept\n"
	    "rule a from lan to self tcp dport @ports src @admins accept\n"
	    "rule b from lan to self icmpv6 src @hosts6 accept\n"
	    "rule c from lan to wan udp sport 53 dst { 10.0.0.0/8, 192.0.2.1 } "
	    "accept\n"
	    "rule d from any to self icmp type echo-request accept\n"
	    "nat m masquerade from lan to wan src 192.168.10.0/24\n"
	    "nat f forward from wan tcp dport 8000-8010 to 192.168.10.7:8000\n"
	    "nat g forward from wan tcp dport 8000 to fd00:10::7\n"
	    "nat h forward from wan udp dport 8000 to 10.0.2.9\n");
	const char *none[] = { NULL };

	expect(rs, none);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_all_reported)
{
	struct ruleset *rs = with_zones(
	    "zone lan { interface eth5 }\n"
	    "rule a from nowhere to self accept\n"
	    "rule b from lan to self src @missing accept\n"
	    "policy lan -> wan drop\n"
	    "policy lan -> wan accept\n"
	    "nat n masquerade from lan to elsewhere\n");
	const char *want[] = {
		"zone \"lan\" is defined twice (first at v.rules:2:1)",
		"policy lan -> wan is given twice (first at v.rules:7:1)",
		"rule \"a\": unknown zone \"nowhere\" in from",
		"rule \"b\": unknown set @missing in src",
		"nat \"n\": unknown zone \"elsewhere\" in to",
		NULL
	};
	struct diags d;

	expect(rs, want);
	/* and each at its own object's line */
	diags_init(&d);
	validate_ruleset(rs, &d);
	ck_assert_int_eq(d.v[0].line, 4);
	ck_assert_int_eq(d.v[1].line, 8);
	ck_assert_int_eq(d.v[2].line, 5);
	ck_assert_int_eq(d.v[3].line, 6);
	ck_assert_int_eq(d.v[4].line, 9);
	ck_assert_str_eq(d.v[4].file, "v.rules");
	/* "nat n masquerade from lan to elsewhere": at its "to" */
	ck_assert_int_eq(d.v[4].col, 27);
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_zones_by_hand)
{
	struct ruleset *rs = ruleset_new();
	struct diags d;
	struct zone *z;
	/* per zone, in model order */
	const char *want[] = {
		"zone \"a\": interface name \"abcdefghijklmnopq\" is 17 characters "
		    "long; at most 15",
		"zone \"a\": invalid interface name \"eth 0\"",
		"zone \"a\": network 10.0.0.1/8 has host bits set",
		"zone \"9z\": invalid name",
		"zone \"b\": network 10.0.0.0/40 has a prefix length outside 0-32",
		NULL
	};

	diags_init(&d);
	z = parse_zone("a interface eth0, eth1 network 10.0.0.0/8", &d);
	ck_assert_ptr_nonnull(z);
	z->networks[0].bytes[3] = 1;		/* 10.0.0.1/8 */
	free(z->ifaces[0]);
	z->ifaces[0] = strdup("abcdefghijklmnopq");
	free(z->ifaces[1]);
	z->ifaces[1] = strdup("eth 0");
	ruleset_add_zone(rs, z);
	z = parse_zone("x interface eth3", &d);
	ck_assert_ptr_nonnull(z);
	free(z->name);
	z->name = strdup("9z");
	ruleset_add_zone(rs, z);
	z = parse_zone("b network 10.0.0.0/8", &d);
	ck_assert_ptr_nonnull(z);
	z->networks[0].prefix = 40;
	ruleset_add_zone(rs, z);
	ck_assert_uint_eq(d.n, 0);
	diags_free(&d);
	expect(rs, want);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_rules_by_hand)
{
	struct ruleset *rs = with_zones("");
	struct rule *r;
	const char *want[] = {
		"rule \"rev\": dport range 90-80 is reversed",
		"rule \"icmpt\": an icmp type needs icmp or icmpv6",
		"rule \"noproto\": sport/dport need tcp, udp or sctp",
		"rule \"rate0\": limit rate 0",
		"rule \"longlog\": log prefix is 128 bytes long; at most 127",
		"rule \"longcomment\": comment is 201 bytes long; at most 200",
		"rule \"nolog\": log prefix without log",
		"rule \"noverdict\": no verdict",
		"rule \"hostbits\": dst address 10.0.0.1/8 has host bits set",
		"rule \"b@d\": invalid name",
		NULL
	};

	r = rule("rev from lan to self tcp dport 80 accept");
	r->dport.ranges[0].lo = 90;
	ruleset_add_rule(rs, r);
	r = rule("icmpt from lan to self icmp type echo-request accept");
	r->proto = IPPROTO_TCP;
	ruleset_add_rule(rs, r);
	r = rule("noproto from lan to self tcp sport 22 accept");
	r->proto = PROTO_NONE;
	ruleset_add_rule(rs, r);
	r = rule("rate0 from lan to self accept limit 10/second");
	r->limit.rate = 0;
	ruleset_add_rule(rs, r);
	r = rule("longlog from lan to self log accept");
	r->log_prefix = calloc(1, 129);
	memset(r->log_prefix, 'x', 128);
	ruleset_add_rule(rs, r);
	r = rule("longcomment from lan to self accept");
	r->comment = calloc(1, 202);
	memset(r->comment, 'c', 201);
	ruleset_add_rule(rs, r);
	r = rule("nolog from lan to self accept");
	r->log_prefix = strdup("x: ");
	ruleset_add_rule(rs, r);
	r = rule("noverdict from lan to self accept");
	r->verdict = VERDICT_NONE;
	ruleset_add_rule(rs, r);
	r = rule("hostbits from lan to self dst 10.0.0.0/8 accept");
	r->dst.addrs[0].bytes[3] = 1;
	ruleset_add_rule(rs, r);
	r = rule("x from lan to self accept");
	free(r->name);
	r->name = strdup("b@d");
	ruleset_add_rule(rs, r);
	expect(rs, want);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_nat_by_hand)
{
	struct ruleset *rs = with_zones("");
	struct nat *n;
	const char *want[] = {
		"nat \"net\": forward target 10.0.2.0/24 is a network; expected "
		    "a single host address",
		"nat \"snatnet\": snat as 203.0.113.0/24 is a network",
		"nat \"icmpfwd\": forward needs tcp, udp or sctp",
		"nat \"rev\": dport range 90-80 is reversed",
		"nat \"tomasq\": masquerade to any; expected a zone with an "
		    "interface",
		"nat \"fromself\": from self",
		"nat \"srcmix\": target 10.0.2.10 is IPv4 but src fd00::/8 is IPv6",
		"nat \"zero\": dport 0 is not a port connections are made to; "
		    "expected ports 1-65535",
		"nat \"zerorange\": dport range from 0 is not a port",
		NULL
	};

	n = nat("net forward from wan tcp dport 80 to 10.0.2.10");
	n->target.prefix = 24;
	n->target.bytes[3] = 0;
	ruleset_add_nat(rs, n);
	n = nat("snatnet snat from lan to wan as 203.0.113.0");
	n->snat_addr.prefix = 24;
	ruleset_add_nat(rs, n);
	n = nat("icmpfwd forward from wan tcp dport 81 to 10.0.2.10");
	n->proto = IPPROTO_ICMP;
	ruleset_add_nat(rs, n);
	n = nat("rev forward from wan tcp dport 80 to 10.0.2.10");
	n->dport.lo = 90;
	ruleset_add_nat(rs, n);
	n = nat("tomasq masquerade from lan to any");
	ruleset_add_nat(rs, n);
	n = nat("fromself masquerade from self to wan");
	ruleset_add_nat(rs, n);
	n = nat("srcmix forward from wan tcp dport 82 to 10.0.2.10 src fd00::/8");
	ruleset_add_nat(rs, n);
	n = nat("zero forward from wan tcp dport 0 to 10.0.2.10:80");
	ruleset_add_nat(rs, n);
	n = nat("zerorange forward from wan udp dport 0-10 to 10.0.2.10");
	ruleset_add_nat(rs, n);
	expect(rs, want);
	ruleset_free(rs);
}
END_TEST

/* A forward target must sit in a zone when every internal zone is pinned
 * to its networks; an interface-only internal zone may hold anything. */
START_TEST(test_forward_target_zone)
{
	const char *none[] = { NULL };
	const char *outside[] = {
		"nat \"f\": forward target 10.9.9.9 is in no zone's network",
		NULL
	};
	struct ruleset *rs;

	rs = parse_ok("zone wan { interface eth0; external }\n"
	    "zone lan { interface eth1; network 192.168.10.0/24 }\n"
	    "nat f forward from wan tcp dport 80 to 10.9.9.9\n"
	    "nat g forward from wan tcp dport 81 to 192.168.10.9:8080\n"
	    "nat h forward from wan tcp dport 82 to fd00::9\n");
	expect(rs, outside);
	ruleset_free(rs);

	rs = parse_ok("zone wan { interface eth0; external }\n"
	    "zone lan { interface eth1; network 192.168.10.0/24 }\n"
	    "zone dmz { interface eth2; dmz }\n"
	    "nat f forward from wan tcp dport 80 to 10.9.9.9\n");
	expect(rs, none);
	ruleset_free(rs);

	/* no zone declares networks: nothing to check against */
	rs = parse_ok("zone wan { interface eth0; external }\n"
	    "zone lan { interface eth1 }\n"
	    "nat f forward from wan tcp dport 80 to 10.9.9.9\n");
	expect(rs, none);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_forward_overlap)
{
	const char *want[] = {
		"nat \"b\": tcp ports 8005-8020 from zone \"wan\" is already "
		    "forwarded by nat \"a\" (first at v.rules:4:1)",
		"nat \"d\": udp port 53 from zone \"wan\" is already forwarded by "
		    "nat \"c\"",
		NULL
	};
	struct ruleset *rs = with_zones(
	    "nat a forward from wan tcp dport 8000-8010 to 10.0.2.10\n"
	    "nat b forward from wan tcp dport 8005-8020 to 10.0.2.11\n"
	    "nat c forward from wan udp dport 53 to 10.0.2.12\n"
	    "nat d forward from wan udp dport 53 to 10.0.2.13\n"
	    /* another protocol, zone, or family does not clash */
	    "nat e forward from wan sctp dport 53 to 10.0.2.13\n"
	    "nat f forward from lan tcp dport 8000 to 10.0.2.13\n"
	    "nat g forward from wan udp dport 53 to fd00:10::13\n");

	expect(rs, want);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_families)
{
	const char *want[] = {
		"rule \"a\": src @v4 (ipv4 set) is IPv4 but dst fd00::1 is IPv6",
		"rule \"b\": icmpv6 is IPv6 but src 10.0.0.1 is IPv4",
		"rule \"c\": icmp is IPv4 but src @v6 (ipv6 set) is IPv6",
		"rule \"d\": icmp is IPv4 but dst fd00::1, ... is IPv6",
		"rule \"e\": sport @v4 is an ipv4 set; expected a port set",
		"rule \"f\": dst @p is a port set",
		"nat \"s\": as 2001:db8::1 is IPv6 but src @v4 (ipv4 set) is IPv4",
		"nat \"t\": target 10.0.2.10 is IPv4 but src 2001:db8::/32 is "
		    "IPv6",
		NULL
	};
	struct ruleset *rs = with_zones(
	    "set v4 ipv4\nset v6 ipv6\nset p port\n"
	    "rule a from lan to self src @v4 dst fd00::1 accept\n"
	    "rule b from lan to self icmpv6 src 10.0.0.1 accept\n"
	    "rule c from lan to self icmp src @v6 accept\n"
	    "rule d from lan to self icmp dst { fd00::1, fd00::2 } accept\n"
	    "rule dd from lan to self src { 10.0.0.1, fd00::1 } dst 10.0.0.2 "
	    "accept\n"
	    "rule de from lan to self icmpv6 dst { 10.0.0.1, fd00::1 } "
	    "accept\n"
	    "rule e from lan to self tcp sport @v4 accept\n"
	    "rule f from lan to self dst @p accept\n"
	    "nat s snat from lan to wan as 2001:db8::1 src @v4\n"
	    "nat t forward from wan tcp dport 80 to 10.0.2.10 src "
	    "2001:db8::/32\n");

	expect(rs, want);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_sets)
{
	struct ruleset *rs = with_zones(
	    "set p port { 22, 20-25, 80, 80, 1000-2000, 1500 }\n"
	    "set a ipv6 { fd00::/64, fd00::1, fd01::1 }\n");
	struct set_elem e;
	const char *want[] = {
		"set \"p\": element 22 overlaps 20-25",
		"set \"p\": element 80 is listed twice",
		"set \"p\": element 1500 overlaps 1000-2000",
		"set \"a\": element fd00::1 overlaps fd00::/64",
		"set \"w\": element 10.0.0.1 is IPv4; expected an IPv6 address in "
		    "a set of type ipv6",
		"set \"w\": port range 9-3 is reversed",
		NULL
	};
	struct set *s;

	s = set_new();
	s->name = strdup("w");
	s->type = SET_IPV6;
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(addr_parse("10.0.0.1", &e.key.addr, NULL), 0);
	set_add_elem(s, &e);
	ruleset_add_set(rs, s);
	s = set_new();
	s->name = strdup("w");
	s->type = SET_PORT;
	memset(&e, 0, sizeof(e));
	e.key.port.lo = 9;
	e.key.port.hi = 3;
	set_add_elem(s, &e);
	ruleset_add_set(rs, s);
	{
		const char *all[] = { want[0], want[1], want[2], want[3],
		    want[4], want[5], "set \"w\" is defined twice", NULL };

		expect(rs, all);
	}
	ruleset_free(rs);
}
END_TEST


/*
 * Values the kernel refuses are refused here first, each at its object:
 * timeouts past 100 years (the kernel's bound is 2^64 ns) and limits whose
 * (unit ns / rate) * burst overflows 64 bits (burst 5 when none is given).
 */
START_TEST(test_kernel_bounds)
{
	struct ruleset *rs = with_zones(
	    "set okt ipv4 { timeout 36500d; 10.0.0.1 timeout 36500d }\n"
	    "rule ok1 from lan to self accept limit 1/day burst 100000\n"
	    "rule ok2 from lan to self accept limit 99999999999/second\n"
	    "rule ok3 from lan to self accept limit 1/day\n");
	struct set_elem e;
	struct set *s;
	struct rule *r;
	const char *none[] = { NULL };
	const char *want[] = {
		"set \"okt\": timeout 36500d1ms is too long; at most 36500d",
		"set \"el\": element timeout 4166666666d15h is too long; at "
		    "most 36500d",
		"rule \"day\": limit 1/day burst 1000000 is beyond the kernel's "
		    "range",
		"rule \"hour\": limit 1/hour burst 4294967295 is beyond",
		NULL
	};
	struct diags d;

	expect(rs, none);
	rs->sets[0]->timeout_ms = FWCTL_TIMEOUT_MAX_MS + 1;
	s = set_new();
	s->name = strdup("el");
	s->type = SET_IPV4;
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(addr_parse("10.0.0.2", &e.key.addr, NULL), 0);
	e.timeout_ms = 99999999999ULL * 3600000;
	set_add_elem(s, &e);
	ruleset_add_set(rs, s);
	r = rule("day from lan to self accept limit 1/day");
	r->limit.burst = 1000000;
	ruleset_add_rule(rs, r);
	r = rule("hour from lan to self accept limit 1/hour");
	r->limit.burst = 4294967295u;
	ruleset_add_rule(rs, r);
	expect(rs, want);
	diags_init(&d);
	validate_ruleset(rs, &d);
	ck_assert_int_eq(d.v[0].line, 4);
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

/* A million bad objects give fifty errors and one note, not a million. */
START_TEST(test_error_cap)
{
	struct ruleset *rs;
	struct diags d;
	char *text, *p;
	size_t i, n = 30000;
	int nerr;

	text = malloc(n * 48 + 1);
	ck_assert_ptr_nonnull(text);
	for (p = text, i = 0; i < n; i++)
		p += sprintf(p, "rule r%zu from nz to self accept\n", i);
	rs = parse_ok(text);
	free(text);
	ck_assert_uint_eq(rs->nrules, n);
	diags_init(&d);
	nerr = validate_ruleset(rs, &d);
	ck_assert_int_gt(nerr, 50);
	ck_assert_uint_eq(d.n, 51);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "unknown zone \"nz\""));
	ck_assert_ptr_nonnull(strstr(d.v[50].msg, "too many errors (50); "
	    "the rest was not checked"));
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

/* a large block list validates fast (sorted, not pairwise) */
START_TEST(test_large_set)
{
	struct ruleset *rs = ruleset_new();
	struct set_elem e;
	struct set *s;
	const char *none[] = { NULL };
	const char *dup[] = { "set \"big\": element 10.0.195.80 is listed twice",
	    NULL };
	uint32_t i;

	s = set_new();
	s->name = strdup("big");
	s->type = SET_IPV4;
	memset(&e, 0, sizeof(e));
	e.key.addr.family = AF_INET;
	e.key.addr.prefix = 32;
	for (i = 0; i < 200000; i++) {
		uint32_t a = 0x0a000000 + i * 7 % 200000;	/* 10.x.y.z */

		e.key.addr.bytes[0] = (uint8_t)(a >> 24);
		e.key.addr.bytes[1] = (uint8_t)(a >> 16);
		e.key.addr.bytes[2] = (uint8_t)(a >> 8);
		e.key.addr.bytes[3] = (uint8_t)a;
		ck_assert_int_eq(set_add_elem(s, &e), 0);
	}
	ruleset_add_set(rs, s);
	expect(rs, none);
	e.key.addr.bytes[1] = 0;
	e.key.addr.bytes[2] = 195;
	e.key.addr.bytes[3] = 80;
	set_add_elem(s, &e);
	expect(rs, dup);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_spec_example_valid)
{
	/* the same text as check_parse's test; kept short here */
	struct ruleset *rs = with_zones(
	    "policy lan -> wan accept\npolicy any -> self drop\n"
	    "set blocklist ipv4 { timeout 1h }\n"
	    "rule drop-blocked from wan to any src @blocklist drop\n"
	    "nat dmzout snat from dmz to wan as 203.0.113.10\n"
	    "nat https forward from wan tcp dport 443 to 10.0.2.10:8443\n");
	const char *none[] = { NULL };

	expect(rs, none);
	ruleset_free(rs);
}
END_TEST

/* The messages of d, one per line, for comparing two runs. */
static char *
diags_text(const struct diags *d)
{
	char *buf = NULL, *line;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < d->n; i++) {
		line = diag_format(&d->v[i]);
		fprintf(f, "%s\n", line ? line : "?");
		free(line);
	}
	fclose(f);
	return buf;
}

static struct set_elem
rnd_elem(unsigned *seed)
{
	struct set_elem e;

	memset(&e, 0, sizeof(e));
	if (rand_r(seed) % 10 == 0) {
		/* the wrong family now and then */
		e.key.addr.family = AF_INET6;
		e.key.addr.prefix = 128;
		e.key.addr.bytes[0] = 0xfd;
		e.key.addr.bytes[15] = (uint8_t)rand_r(seed);
		return e;
	}
	e.key.addr.family = AF_INET;
	e.key.addr.bytes[0] = 10;
	e.key.addr.bytes[1] = (uint8_t)(rand_r(seed) % 4);
	e.key.addr.bytes[2] = (uint8_t)(rand_r(seed) % 8);
	switch (rand_r(seed) % 4) {
	case 0:
		e.key.addr.prefix = 24;
		break;
	case 1:
		e.key.addr.prefix = 16;
		e.key.addr.bytes[2] = 0;
		break;
	default:
		e.key.addr.prefix = 32;
		e.key.addr.bytes[3] = (uint8_t)(rand_r(seed) % 8);
		break;
	}
	return e;
}

/*
 * Elements added to a valid set are reported by validate_set_elems exactly
 * as validate_ruleset reports the merged set, with far less work.
 */
START_TEST(test_set_elems_as_whole)
{
	unsigned seed = 7;
	struct diags d1, d2, vd;
	struct set_elem e, add[12];
	struct ruleset *rs;
	struct set *s, *m;
	char *t1, *t2;
	size_t n, i, k;
	int round, bad = 0;

	for (round = 0; round < 300; round++) {
		/* a valid set: elements that do not overlap */
		s = set_new();
		s->name = strdup("s");
		s->type = SET_IPV4;
		for (i = 0; i < 40; i++) {
			e = rnd_elem(&seed);
			if (set_find_elem(s, &e) >= 0)
				continue;
			m = set_dup(s);
			set_add_elem(m, &e);
			set_sort(m);
			rs = ruleset_new();
			ruleset_add_set(rs, m);
			diags_init(&vd);
			if (validate_ruleset(rs, &vd) == 0) {
				set_add_elem(s, &e);
				set_sort(s);
			}
			diags_free(&vd);
			ruleset_free(rs);
		}
		/* new ones: in key order, once each, none in s */
		n = 0;
		for (i = 0; i < 1 + (size_t)round % 12; i++) {
			e = rnd_elem(&seed);
			if (set_find_elem(s, &e) >= 0)
				continue;
			for (k = 0; k < n; k++)
				if (set_elem_cmp(s->type, &add[k], &e) == 0)
					break;
			if (k == n)
				add[n++] = e;
		}
		for (i = 1; i < n; i++)
			for (k = i; k > 0 &&
			    set_elem_cmp(s->type, &add[k - 1], &add[k]) > 0;
			    k--) {
				e = add[k];
				add[k] = add[k - 1];
				add[k - 1] = e;
			}
		diags_init(&d1);
		diags_init(&d2);
		validate_set_elems(s, add, n, &d1);
		m = set_dup(s);
		ck_assert_int_eq(set_merge_elems(m, add, n), 0);
		rs = ruleset_new();
		ruleset_add_set(rs, m);
		validate_ruleset(rs, &d2);
		t1 = diags_text(&d1);
		t2 = diags_text(&d2);
		ck_assert_str_eq(t1, t2);
		if (d1.n > 0)
			bad++;
		free(t1);
		free(t2);
		diags_free(&d1);
		diags_free(&d2);
		ruleset_free(rs);
		set_free(s);
	}
	/* the comparison saw errors, not only clean merges */
	ck_assert_int_gt(bad, 50);
}
END_TEST

/* One rule joining a ruleset: the same messages as the whole ruleset. */
START_TEST(test_rule_as_whole)
{
	static const char *const rules[] = {
		"rule a from lan to self tcp dport 22 accept",
		"rule b from nowhere to self accept",
		"rule c from lan to self tcp dport @admins accept",
		"rule d from lan to self src @nope accept",
		"rule e from lan to wan icmpv6 src 10.0.0.1 accept",
		"rule f from lan to self src @admins dst fd00::1 accept",
		"rule g from self to self accept",
		NULL
	};
	struct ruleset *rs;
	struct diags d, d1, d2;
	struct rule *r;
	char *t1, *t2;
	size_t i;

	for (i = 0; rules[i] != NULL; i++) {
		rs = with_zones("set admins ipv4 { 10.0.0.1 }\n"
		    "rule x from any to self accept\n");
		diags_init(&d);
		diags_init(&d1);
		diags_init(&d2);
		r = parse_rule(rules[i], &d);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(ruleset_insert_rule(rs, 0, r), 0);
		validate_rule(rs, r, &d1);
		validate_ruleset(rs, &d2);
		t1 = diags_text(&d1);
		t2 = diags_text(&d2);
		ck_assert_str_eq(t1, t2);
		free(t1);
		free(t2);
		diags_free(&d);
		diags_free(&d1);
		diags_free(&d2);
		ruleset_free(rs);
	}
}
END_TEST

/* A rule and a NAT entry may not share a name (their counters would mix):
 * refused in a whole ruleset, at the NAT entry, and for one object added
 * either way, with the other's place. */
START_TEST(test_rule_nat_names)
{
	const char *want[] = {
		"nat \"web\": the name is taken by rule \"web\" (at "
		    "v.rules:4:1); a rule and a NAT entry need different names",
		NULL
	};
	struct ruleset *rs = with_zones(
	    "rule web from wan to dmz tcp dport 80 accept\n"
	    "nat masq masquerade from lan to wan\n"
	    "nat web forward from wan tcp dport 80 to 10.0.2.10\n");
	struct diags d;
	struct rule *r;
	struct nat *n;
	char *t;

	expect(rs, want);
	ruleset_free(rs);

	rs = with_zones("rule web from wan to dmz tcp dport 80 accept\n"
	    "nat masq masquerade from lan to wan\n");
	diags_init(&d);
	r = rule("masq from lan to wan accept");
	ck_assert_int_eq(ruleset_add_rule(rs, r), 0);
	ck_assert_int_eq(validate_rule(rs, r, &d), 1);
	t = diag_format(&d.v[0]);
	ck_assert_str_eq(t, "1:1: rule \"masq\": the name is taken by nat "
	    "\"masq\" "
	    "(at v.rules:5:1); a rule and a NAT entry need different "
	    "names (their counters are reported by name)");
	free(t);
	diags_free(&d);
	diags_init(&d);
	n = nat("web masquerade from dmz to wan");
	ck_assert_int_eq(ruleset_add_nat(rs, n), 0);
	ck_assert_int_eq(validate_nat(rs, n, rs->nnats - 1, &d), 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "taken by rule \"web\""));
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

/*
 * Where a message about a clause must point: the line and column (1-based)
 * in text of the first clause that follows the first stmt (substrings).
 */
static void
text_at(const char *text, const char *stmt, const char *clause, int *line,
    int *col)
{
	const char *s, *c, *q, *bol = text;

	s = strstr(text, stmt);
	ck_assert_msg(s != NULL, "no \"%s\" in the text", stmt);
	c = strstr(s + strlen(stmt), clause);
	ck_assert_msg(c != NULL, "no \"%s\" after \"%s\"", clause, stmt);
	*line = 1;
	for (q = text; q < c; q++)
		if (*q == '\n') {
			(*line)++;
			bol = q + 1;
		}
	*col = (int)(c - bol) + 1;
}

/* One expected error: its statement and clause in the text, its words. */
struct at {
	const char	*stmt;
	const char	*clause;
	const char	*msg;
};

/* The errors of d are exactly want, in order, each at its clause. */
static void
expect_at(const struct diags *d, const char *file, const char *text,
    const struct at *want, size_t nwant)
{
	size_t i;
	int line, col;

	if (d->n != nwant)
		diags_print(d, stderr);
	ck_assert_uint_eq(d->n, nwant);
	for (i = 0; i < nwant; i++) {
		text_at(text, want[i].stmt, want[i].clause, &line, &col);
		if (d->v[i].line != line || d->v[i].col != col ||
		    strstr(d->v[i].msg, want[i].msg) == NULL)
			fprintf(stderr, "got %d:%d: %s\nwant %d:%d (\"%s\" of "
			    "\"%s\"): %s\n", d->v[i].line, d->v[i].col,
			    d->v[i].msg, line, col, want[i].clause,
			    want[i].stmt, want[i].msg);
		ck_assert_ptr_nonnull(strstr(d->v[i].msg, want[i].msg));
		if (file)
			ck_assert_str_eq(d->v[i].file, file);
		ck_assert_int_eq(d->v[i].line, line);
		ck_assert_int_eq(d->v[i].col, col);
	}
}

static struct rule *
rule_named(const struct ruleset *rs, const char *name)
{
	ssize_t i = ruleset_find_rule(rs, name);

	ck_assert_int_ge(i, 0);
	return rs->rules[i];
}

static struct nat *
nat_named(const struct ruleset *rs, const char *name)
{
	ssize_t i = ruleset_find_nat(rs, name);

	ck_assert_int_ge(i, 0);
	return rs->nats[i];
}

/*
 * Errors about one clause point at the clause's keyword (the protocol or
 * verdict word itself), on its own line when a list or block before it
 * spans lines; a clash (address families, dmz and external) at the later
 * of the two clauses in the text. Rules the
 * language cannot express are made by changing parsed ones: the positions
 * stay.
 */
START_TEST(test_clause_positions)
{
	static const char text[] =
	    "zone wan { interface eth0; external }\n"
	    "zone lan { interface eth1; network 192.168.10.0/24 }\n"
	    "zone both { interface eth5; external; dmz }\n"
	    "zone ed { interface eth6\n"
	    "    dmz; external }\n"
	    "zone nd { network 10.9.0.0/16; dmz }\n"
	    "set v4 ipv4\n"
	    "set p port\n"
	    "rule from-bad from nowhere to self accept\n"
	    "rule to-bad from lan to mars accept\n"
	    "rule selfself from self to self accept\n"
	    "rule badproto from lan to self tcp accept\n"
	    "rule noproto from lan to self tcp sport 22 accept\n"
	    "rule dport-set from lan to self tcp dport @v4 accept\n"
	    "rule rev from lan to self tcp dport 80 accept\n"
	    "rule icmpt from lan to self icmp type echo-request accept\n"
	    "rule src-set from lan to self src @nope accept\n"
	    "rule dst-type from lan to self dst @p accept\n"
	    "rule hostbits from lan to self dst 10.0.0.0/8 accept\n"
	    "rule fam from lan to self icmp dst fd00::1 accept\n"
	    "rule fam-later from lan to self dst fd00::1 icmp accept\n"
	    "rule st from lan to self state new accept\n"
	    "rule lim from lan to self accept limit "
	    "10000000000000000000/second\n"
	    "rule nolog from lan to self log prefix \"x: \" accept\n"
	    "rule longc from lan to self accept comment \"c\"\n"
	    "rule nov from lan to self drop\n"
	    "rule ml from lan to self tcp dport { 22,\n"
	    "    80 } src @nope accept\n"
	    "rule ml-fam from lan to self src { 10.0.0.1,\n"
	    "    10.0.0.2 } dst fd00::1 accept\n"
	    "rule ml-first from lan to self dst fd00::1 src { 10.0.0.1,\n"
	    "    10.0.0.2 } accept\n"
	    "nat nfrom masquerade from mars to wan\n"
	    "nat nto masquerade from lan to mars\n"
	    "nat nas snat from lan to wan as 2001:db8::1 src @v4\n"
	    "nat nsnat snat from lan to wan as 203.0.113.1\n"
	    "nat nproto forward from wan tcp dport 81 to 192.168.10.7\n"
	    "nat nrev forward from wan tcp dport 82 to 192.168.10.7\n"
	    "nat ntgt forward from wan tcp dport 1000-2000 to "
	    "192.168.10.7:65000\n"
	    "nat ndup forward from wan tcp dport 1500 to 192.168.10.8\n"
	    "nat nsrc masquerade from lan to wan src @nope\n";
	static const struct at want[] = {
		{ "zone both", "dmz", "cannot be both dmz and external" },
		{ "zone ed", "external", "cannot be both dmz and external" },
		{ "zone nd", "dmz", "a dmz zone needs an interface" },
		{ "rule from-bad", "from nowhere", "unknown zone \"nowhere\" in "
		    "from" },
		{ "rule to-bad", "to mars", "unknown zone \"mars\" in to" },
		{ "rule selfself", "to self", "from self to self" },
		{ "rule badproto", "tcp", "unknown protocol 99" },
		{ "rule noproto", "sport", "sport/dport need tcp, udp or sctp" },
		{ "rule dport-set", "dport", "dport @v4 is an ipv4 set" },
		{ "rule rev", "dport", "dport range 90-80 is reversed" },
		{ "rule icmpt", "type", "an icmp type needs icmp or icmpv6" },
		{ "rule src-set", "src", "unknown set @nope in src" },
		{ "rule dst-type", "dst", "dst @p is a port set" },
		{ "rule hostbits", "dst", "dst address 10.0.0.1/8 has host "
		    "bits" },
		{ "rule fam ", "dst", "icmp is IPv4 but dst fd00::1 is IPv6" },
		{ "rule fam-later", "icmp", "icmp is IPv4 but dst fd00::1" },
		{ "rule st", "state", "unknown connection state bits 0x18" },
		{ "rule lim", "limit", "limit rate 10000000000000000000 is too "
		    "large" },
		{ "rule nolog", "prefix", "log prefix without log" },
		{ "rule longc", "comment", "comment is 201 bytes long" },
		{ "rule nov", "drop", "no verdict" },
		{ "rule ml ", "src", "unknown set @nope in src" },
		{ "rule ml-fam", "dst", "src 10.0.0.1, ... is IPv4 but dst "
		    "fd00::1 is IPv6" },
		{ "rule ml-first", "src", "src 10.0.0.1, ... is IPv4 but dst "
		    "fd00::1 is IPv6" },
		{ "nat nfrom", "from mars", "unknown zone \"mars\" in from" },
		{ "nat nto", "to mars", "unknown zone \"mars\" in to" },
		{ "nat nas", "src", "as 2001:db8::1 is IPv6 but src @v4" },
		{ "nat nsnat", "as 203", "snat as 203.0.113.0/24 is a network" },
		{ "nat nproto", "tcp", "forward needs tcp, udp or sctp" },
		{ "nat nrev", "dport", "dport range 90-82 is reversed" },
		{ "nat ntgt", "to 192", "target ports 65000-66000 run past" },
		{ "nat ndup", "dport", "tcp port 1500 from zone \"wan\" is "
		    "already forwarded by nat \"ntgt\"" },
		{ "nat nsrc", "src", "unknown set @nope in src" },
	};
	struct ruleset *rs = parse_ok(text);
	struct nat *n;
	struct rule *r;
	struct diags d;

	rule_named(rs, "badproto")->proto = 99;
	rule_named(rs, "noproto")->proto = PROTO_NONE;
	rule_named(rs, "rev")->dport.ranges[0].lo = 90;
	rule_named(rs, "icmpt")->proto = IPPROTO_TCP;
	rule_named(rs, "hostbits")->dst.addrs[0].bytes[3] = 1;
	rule_named(rs, "st")->state |= 0x10;
	rule_named(rs, "nolog")->log = false;
	r = rule_named(rs, "longc");
	free(r->comment);
	r->comment = calloc(1, 202);
	memset(r->comment, 'c', 201);
	rule_named(rs, "nov")->verdict = VERDICT_NONE;
	n = nat_named(rs, "nsnat");
	n->snat_addr.prefix = 24;
	n->snat_addr.bytes[3] = 0;
	nat_named(rs, "nproto")->proto = IPPROTO_ICMP;
	nat_named(rs, "nrev")->dport.lo = 90;

	diags_init(&d);
	validate_ruleset(rs, &d);
	expect_at(&d, "v.rules", text, want, sizeof(want) / sizeof(want[0]));
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

/*
 * Positions travel with a rule or NAT entry: the copies a ruleset keeps
 * (rule_dup, rule_pack, nat_dup) are reported alike, and a statement given
 * alone, as the CLI sends it, points into its own text.
 */
START_TEST(test_clause_positions_copied)
{
	static const char text[] =
	    "ssh from lan to self tcp dport 22 src @nope accept";
	static const char ntext[] = "nsrc masquerade from lan to wan src @nope";
	struct ruleset *rs = with_zones("");
	struct rule *r, *dup, *packed, *other;
	struct nat *n, *ndup;
	struct diags d, d2;
	char *t1, *t2;
	int line, col;

	r = rule(text);
	diags_init(&d);
	ck_assert_int_eq(validate_rule(rs, r, &d), 1);
	text_at(text, "ssh", "src", &line, &col);
	ck_assert_ptr_null(d.v[0].file);
	ck_assert_int_eq(d.v[0].line, line);
	ck_assert_int_eq(d.v[0].col, col);
	t1 = diags_text(&d);
	diags_free(&d);

	ck_assert_ptr_nonnull(dup = rule_dup(r));
	ck_assert_ptr_nonnull(packed = rule_pack(r));
	diags_init(&d);
	validate_rule(rs, dup, &d);
	validate_rule(rs, packed, &d);
	diags_init(&d2);
	validate_rule(rs, r, &d2);
	validate_rule(rs, r, &d2);
	t2 = diags_text(&d2);
	free(t1);
	t1 = diags_text(&d);
	ck_assert_str_eq(t1, t2);
	free(t1);
	free(t2);
	diags_free(&d);
	diags_free(&d2);

	/* positions are not part of the model */
	other = rule("ssh   from lan to self tcp dport 22 src @nope accept");
	ck_assert(rule_equal(r, other));
	ck_assert(rule_same_match(r, other));

	n = nat(ntext);
	ck_assert_ptr_nonnull(ndup = nat_dup(n));
	diags_init(&d);
	ck_assert_int_eq(validate_nat(rs, ndup, 0, &d), 1);
	text_at(ntext, "nsrc", "src", &line, &col);
	ck_assert_int_eq(d.v[0].line, line);
	ck_assert_int_eq(d.v[0].col, col);
	diags_free(&d);

	rule_free(r);
	rule_free(dup);
	rule_free(packed);
	rule_free(other);
	nat_free(n);
	nat_free(ndup);
	ruleset_free(rs);
}
END_TEST

/*
 * Objects without positions (from JSON, or built in code) are reported at
 * their statement, as before positions existed: JSON has none (0:0), code
 * may give one.
 */
START_TEST(test_clause_positions_fallback)
{
	struct ruleset *rs = with_zones("");
	struct rule *r, *j;
	struct nat *n;
	struct diags d;
	json_t *js;

	r = rule("rule x from lan to self src @nope accept");
	ck_assert_ptr_nonnull(js = codec_encode_rule(r));
	diags_init(&d);
	j = codec_decode_rule(js, "", &d);
	json_decref(js);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_int_eq(validate_rule(rs, j, &d), 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "unknown set @nope in src"));
	ck_assert_ptr_null(d.v[0].file);
	ck_assert_int_eq(d.v[0].line, 0);
	ck_assert_int_eq(d.v[0].col, 0);
	diags_free(&d);
	rule_free(j);

	/* built in code: a location for the statement, none for clauses */
	memset(r->pos, 0, sizeof(r->pos));
	srcloc_set(&r->loc, "built", 7, 3);
	diags_init(&d);
	ck_assert_int_eq(validate_rule(rs, r, &d), 1);
	ck_assert_str_eq(d.v[0].file, "built");
	ck_assert_int_eq(d.v[0].line, 7);
	ck_assert_int_eq(d.v[0].col, 3);
	diags_free(&d);
	rule_free(r);

	n = nat("n forward from wan tcp dport 80 to 10.0.2.10 src fd00::/8");
	memset(n->pos, 0, sizeof(n->pos));
	diags_init(&d);
	ck_assert_int_eq(validate_nat(rs, n, 0, &d), 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "is IPv4 but src fd00::/8"));
	ck_assert_int_eq(d.v[0].line, 1);
	ck_assert_int_eq(d.v[0].col, 1);
	diags_free(&d);
	nat_free(n);
	ruleset_free(rs);
}
END_TEST

/*
 * A clause too far from its statement for a struct srcpos (65,535 lines
 * or columns) is reported at the statement: right, if less precise, where
 * a clamped position would be wrong.
 */
START_TEST(test_clause_positions_far)
{
	static const char head[] = "zone lan { interface eth1 }\n";
	struct ruleset *rs;
	struct diags d;
	char *text, *p;
	size_t gap = 70000;

	text = malloc(sizeof(head) + 2 * gap + 200);
	ck_assert_ptr_nonnull(text);
	p = text + sprintf(text, "%srule tall from lan to self tcp dport { 22,",
	    head);
	memset(p, '\n', gap);
	p += gap;
	p += sprintf(p, "80 } src @nope accept\nrule wide from lan to self");
	memset(p, ' ', gap);
	p += gap;
	sprintf(p, "src @nope accept\n");
	rs = parse_ok(text);
	free(text);
	diags_init(&d);
	ck_assert_int_eq(validate_ruleset(rs, &d), 2);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "rule \"tall\": unknown set"));
	ck_assert_int_eq(d.v[0].line, 2);
	ck_assert_int_eq(d.v[0].col, 1);
	ck_assert_ptr_nonnull(strstr(d.v[1].msg, "rule \"wide\": unknown set"));
	ck_assert_int_eq(d.v[1].line, 3 + (int)gap);
	ck_assert_int_eq(d.v[1].col, 1);
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

static Suite *
validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("validate");

	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_all_reported);
	tcase_add_test(tc, test_zones_by_hand);
	tcase_add_test(tc, test_rules_by_hand);
	tcase_add_test(tc, test_nat_by_hand);
	tcase_add_test(tc, test_forward_target_zone);
	tcase_add_test(tc, test_forward_overlap);
	tcase_add_test(tc, test_families);
	tcase_add_test(tc, test_sets);
	tcase_add_test(tc, test_kernel_bounds);
	tcase_add_test(tc, test_error_cap);
	tcase_add_test(tc, test_large_set);
	tcase_add_test(tc, test_spec_example_valid);
	tcase_add_test(tc, test_set_elems_as_whole);
	tcase_add_test(tc, test_rule_as_whole);
	tcase_add_test(tc, test_clause_positions);
	tcase_add_test(tc, test_clause_positions_copied);
	tcase_add_test(tc, test_clause_positions_fallback);
	tcase_add_test(tc, test_clause_positions_far);
	tcase_add_test(tc, test_rule_nat_names);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(validate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
