/*
 * compile_nat.c: the NAT part of the compiled plan (prerouting,
 * postrouting, the nat-open chain and the jumps to it) and the DMZ
 * preset, compared as expression text.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "parse.h"
#include "ruleset.h"

static const char zones[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0 }\n"
    "zone dmz { interface dmz0; dmz }\n";

/* ct status dnat */
#define DNATED	"ct status; and 20000000; cmp ne 00000000; "
#define V4	"meta nfproto; cmp eq 02; "
#define V6	"meta nfproto; cmp eq 0a; "
#define TCP	"meta l4proto; cmp eq 06; "
#define UDP	"meta l4proto; cmp eq 11; "
#define IIF(hex) "meta iifname; cmp eq " hex "; "
#define OIF(hex) "meta oifname; cmp eq " hex "; "
#define LAN0	"6c616e30000000000000000000000000"
#define WAN0	"77616e30000000000000000000000000"
#define DMZ0	"646d7a30000000000000000000000000"
/* the zones a forward takes: its own (wan) and, hairpin, lan and dmz */
#define WAN_LAN	"meta iifname; lookup {\"dmz0\", end \"dmz0\", \"lan0\", " \
		"end \"lan0\", \"wan0\", end \"wan0\"}; "
#define LAN_DMZ	"meta iifname; lookup {\"dmz0\", end \"dmz0\", \"lan0\", " \
		"end \"lan0\"}; "
#define LOCAL	"fib daddr result 3; cmp eq 02000000; "
#define NOT_IIF_LOCAL "fib daddr iif result 3; cmp ne 02000000; "

static struct ruleset *
load(const char *text)
{
	struct ruleset *rs = ruleset_new();
	struct diags d;

	diags_init(&d);
	ck_assert_ptr_nonnull(rs);
	if (parse_buffer(rs, "t.rules", text, strlen(text), &d) != 0 ||
	    validate_ruleset(rs, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("ruleset is not valid: %s", text);
	}
	diags_free(&d);
	return rs;
}

/* Compiles zones + text into p. */
static void
compile_ok(const char *text, struct cplan *p)
{
	char buf[4096];
	struct ruleset *rs;
	struct diags d;

	snprintf(buf, sizeof(buf), "%s%s", zones, text);
	rs = load(buf);
	diags_init(&d);
	if (compile_ruleset(rs, NULL, p, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("does not compile: %s", text);
	}
	diags_free(&d);
	ruleset_free(rs);
}

static const char *
rtext(const struct cplan *p, const char *chain, const char *key)
{
	static char buf[4096];
	const struct crule *r = cplan_rule(p, chain, key);
	char *s;

	if (r == NULL)
		return "(none)";
	s = cplan_rule_format(r);
	ck_assert_ptr_nonnull(s);
	snprintf(buf, sizeof(buf), "%s", s);
	free(s);
	return buf;
}

/* Index of (chain, key) among the rules of chain, or -1. */
static int
rpos(const struct cplan *p, const char *chain, const char *key)
{
	size_t i;
	int n = 0;

	for (i = 0; i < p->nrules; i++) {
		if (strcmp(p->rules[i].chain, chain) != 0)
			continue;
		if (strcmp(p->rules[i].key, key) == 0)
			return n;
		n++;
	}
	return -1;
}

START_TEST(masquerade)
{
	struct cplan p;

	compile_ok("nat masq masquerade from lan to wan\n"
	    "nat all masquerade from any to wan\n", &p);
	ck_assert_str_eq(rtext(&p, "postrouting", "masq"),
	    IIF(LAN0) OIF(WAN0) "counter; masquerade");
	/* from any: no source match; both families in one rule */
	ck_assert_str_eq(rtext(&p, "postrouting", "all"),
	    OIF(WAN0) "counter; masquerade");
	ck_assert_str_eq(cplan_rule(&p, "postrouting", "masq")->name, "masq");
	ck_assert_str_eq(cplan_rule(&p, "postrouting", "masq")->comment,
	    "masq");
	/* no forward: no nat-open chain, no jumps */
	ck_assert_ptr_null(cplan_chain(&p, "nat-open"));
	ck_assert_int_eq(rpos(&p, "wan-dmz", "~nat-open"), -1);
	cplan_free(&p);
}
END_TEST

START_TEST(snat_family)
{
	struct cplan p;

	compile_ok("nat s4 snat from dmz to wan as 192.0.2.10\n"
	    "nat s6 snat from lan to wan as 2001:db8::10\n", &p);
	/* an IPv4 `as` applies to IPv4 only; the address in r1, 4 bytes */
	ck_assert_str_eq(rtext(&p, "postrouting", "s4"),
	    V4 IIF(DMZ0) OIF(WAN0) "counter; imm r1 c000020a; "
	    "snat ip addr r1");
	ck_assert_str_eq(rtext(&p, "postrouting", "s6"),
	    V6 IIF(LAN0) OIF(WAN0) "counter; "
	    "imm r1 20010db8000000000000000000000010; snat ip6 addr r1");
	cplan_free(&p);
}
END_TEST

START_TEST(srcnat_network_zone_and_src)
{
	struct cplan p;

	compile_ok("zone office { network 10.9.0.0/16, fd09::/64 }\n"
	    "nat m masquerade from office to wan\n"
	    "nat n masquerade from lan to wan src 10.1.0.0/16\n", &p);
	/* a zone known by address: one rule per family, by source */
	ck_assert_str_eq(rtext(&p, "postrouting", "m#4"),
	    V4 "payload nh 12 2; cmp eq 0a09; " OIF(WAN0)
	    "counter; masquerade");
	ck_assert_str_eq(rtext(&p, "postrouting", "m#6"),
	    V6 "payload nh 8 8; cmp eq fd09000000000000; " OIF(WAN0)
	    "counter; masquerade");
	ck_assert_str_eq(rtext(&p, "postrouting", "n"),
	    V4 IIF(LAN0) "payload nh 12 2; cmp eq 0a01; " OIF(WAN0)
	    "counter; masquerade");
	cplan_free(&p);

	/* interfaces and networks: only those sources, per family listed */
	compile_ok("zone lan2 { interface lan2; network 10.2.0.0/16 }\n"
	    "nat m masquerade from lan2 to wan\n", &p);
	ck_assert_str_eq(rtext(&p, "postrouting", "m#4"),
	    V4 IIF("6c616e32000000000000000000000000")
	    "payload nh 12 2; cmp eq 0a02; " OIF(WAN0) "counter; masquerade");
	ck_assert_str_eq(rtext(&p, "postrouting", "m#6"),
	    V6 IIF("6c616e32000000000000000000000000") OIF(WAN0)
	    "counter; masquerade");
	cplan_free(&p);
}
END_TEST

START_TEST(forward_single_port)
{
	struct cplan p;

	compile_ok("nat web forward from wan tcp dport 443 to "
	    "10.50.2.10:8443\n", &p);
	/* DNAT from wan to the host's own addresses; address in r1, port
	 * in r2 (no overlap) */
	ck_assert_str_eq(rtext(&p, "prerouting", "web"),
	    V4 IIF(WAN0) LOCAL TCP "payload th 2 2; cmp eq 01bb; counter; "
	    "imm r1 0a32020a; imm r2 20fb; dnat ip addr r1 proto r2 flags 2");
	/* hairpin: from the internal lan and the dmz, to an address of the
	 * host that is not their own side's */
	ck_assert_str_eq(rtext(&p, "prerouting", "web#hairpin"),
	    V4 LAN_DMZ LOCAL NOT_IIF_LOCAL TCP "payload th 2 2; "
	    "cmp eq 01bb; counter; imm r1 0a32020a; imm r2 20fb; "
	    "dnat ip addr r1 proto r2 flags 2");
	ck_assert_str_eq(cplan_rule(&p, "prerouting", "web#hairpin")->name,
	    "web");
	/* the filter opens flows DNATed to the target's port */
	ck_assert_str_eq(rtext(&p, "nat-open", "~web"),
	    DNATED V4 "payload nh 16 4; cmp eq 0a32020a; " TCP
	    "payload th 2 2; cmp eq 20fb; " WAN_LAN "counter; accept");
	ck_assert_str_eq(cplan_rule(&p, "nat-open", "~web")->comment,
	    "forward web");
	/* hairpin masquerade for flows in and out through the lan */
	ck_assert_str_eq(rtext(&p, "postrouting", "~web/hairpin/lan"),
	    DNATED V4 "payload nh 16 4; cmp eq 0a32020a; " TCP
	    "payload th 2 2; cmp eq 20fb; " IIF(LAN0) OIF(LAN0)
	    "counter; masquerade");
	/* and through the dmz (a dmz host reaching its neighbour by the
	 * public address); not for the external zone */
	ck_assert_str_eq(rtext(&p, "postrouting", "~web/hairpin/dmz"),
	    DNATED V4 "payload nh 16 4; cmp eq 0a32020a; " TCP
	    "payload th 2 2; cmp eq 20fb; " IIF(DMZ0) OIF(DMZ0)
	    "counter; masquerade");
	ck_assert_str_eq(rtext(&p, "postrouting", "~web/hairpin/wan"),
	    "(none)");
	cplan_free(&p);
}
END_TEST

START_TEST(forward_ipv6_range_src)
{
	struct cplan p;

	compile_ok("set peers ipv6 { 2001:db8::/32 }\n"
	    "nat r forward from wan udp dport 7000-7005 to [fd50:2::10] "
	    "src @peers\n"
	    "nat s forward from wan tcp dport 22 to fd50:2::11\n", &p);
	/* a range keeps its ports: no port register */
	ck_assert_str_eq(rtext(&p, "prerouting", "r"),
	    V6 IIF(WAN0) LOCAL UDP "payload th 2 2; range 1b58-1b5d; "
	    "payload nh 8 16; lookup @peers; counter; "
	    "imm r1 fd500002000000000000000000000010; dnat ip6 addr r1");
	ck_assert_str_eq(rtext(&p, "nat-open", "~r"),
	    DNATED V6 "payload nh 24 16; cmp eq "
	    "fd500002000000000000000000000010; " UDP
	    "payload th 2 2; range 1b58-1b5d; payload nh 8 16; "
	    "lookup @peers; " WAN_LAN "counter; accept");
	/* a target port equal to the external one needs no mapping */
	ck_assert_ptr_null(strstr(rtext(&p, "prerouting", "s"), "r2"));
	cplan_free(&p);
}
END_TEST

START_TEST(forward_shifted_range_refused)
{
	struct ruleset *rs;
	struct cplan p;
	struct diags d;
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s%s", zones, "nat g forward from wan "
	    "udp dport 7000-7005 to 10.50.2.10:8000\n");
	/* validation refuses it first; the compiler refuses it too, for
	 * models that did not come through validation */
	rs = ruleset_new();
	diags_init(&d);
	ck_assert_int_eq(parse_buffer(rs, "t.rules", buf, strlen(buf), &d), 0);
	ck_assert_int_eq(validate_ruleset(rs, &d), 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "a port range can only be "
	    "forwarded to the same ports"));
	diags_free(&d);
	diags_init(&d);
	ck_assert_int_eq(compile_ruleset(rs, NULL, &p, &d), -1);
	ck_assert_int_ge((int)d.n, 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "nat g: a port range"));
	ck_assert_ptr_nonnull(d.v[0].file);
	ck_assert_int_eq(d.v[0].line, 4);
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

START_TEST(open_jump_placement)
{
	struct cplan p;
	const char *pairs[] = { "wan-dmz", "wan-lan", "lan-dmz", "dmz-wan",
	    "any-any", "wan-any" };
	size_t i;
	int pol;

	compile_ok("rule blk from wan to dmz src 192.0.2.0/24 drop\n"
	    "nat web forward from wan tcp dport 80 to 10.50.2.10\n", &p);
	ck_assert_ptr_nonnull(cplan_chain(&p, "nat-open"));
	ck_assert(!cplan_chain(&p, "nat-open")->base);
	/* every forwarding pair jumps to nat-open right before its policy */
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		pol = rpos(&p, pairs[i], "~policy");
		ck_assert_int_ge(pol, 1);
		ck_assert_int_eq(rpos(&p, pairs[i], "~nat-open"), pol - 1);
		ck_assert_str_eq(rtext(&p, pairs[i], "~nat-open"),
		    "jump nat-open");
	}
	/* after the pair's own rules: a blocklist still wins */
	ck_assert_int_eq(rpos(&p, "wan-dmz", "blk"), 0);
	ck_assert_int_eq(rpos(&p, "wan-dmz", "~nat-open"), 1);
	/* not in the host's chains */
	ck_assert_int_eq(rpos(&p, "wan-self", "~nat-open"), -1);
	ck_assert_int_eq(rpos(&p, "self-wan", "~nat-open"), -1);
	cplan_free(&p);
}
END_TEST

START_TEST(order_in_chains)
{
	struct cplan p;

	compile_ok("nat masq masquerade from lan to wan\n"
	    "nat b forward from wan tcp dport 81 to 10.50.2.10\n"
	    "nat a forward from wan tcp dport 80 to 10.50.2.10\n", &p);
	/* DNAT in model order; hairpin before masquerade/snat */
	ck_assert_int_eq(rpos(&p, "prerouting", "b"), 0);
	ck_assert_int_eq(rpos(&p, "prerouting", "b#hairpin"), 1);
	ck_assert_int_eq(rpos(&p, "prerouting", "a"), 2);
	ck_assert_int_eq(rpos(&p, "prerouting", "a#hairpin"), 3);
	ck_assert_int_eq(rpos(&p, "postrouting", "~b/hairpin/lan"), 0);
	ck_assert_int_eq(rpos(&p, "postrouting", "~b/hairpin/dmz"), 1);
	ck_assert_int_eq(rpos(&p, "postrouting", "~a/hairpin/lan"), 2);
	ck_assert_int_eq(rpos(&p, "postrouting", "~a/hairpin/dmz"), 3);
	ck_assert_int_eq(rpos(&p, "postrouting", "masq"), 4);
	cplan_free(&p);
}
END_TEST

START_TEST(wildcard_interfaces)
{
	struct cplan p;
	char text[2048];
	struct ruleset *rs;
	struct diags d;

	snprintf(text, sizeof(text), "zone up { interface ppp*; external }\n"
	    "zone in { interface eth1, eth2 }\n"
	    "nat m masquerade from in to up\n"
	    "nat f forward from up tcp dport 80 to 10.0.0.5\n");
	rs = load(text);
	diags_init(&d);
	ck_assert_int_eq(compile_ruleset(rs, NULL, &p, &d), 0);
	/* "ppp*" is a prefix compare (no NUL); two names, a set */
	ck_assert_str_eq(rtext(&p, "postrouting", "m"),
	    "meta iifname; lookup {\"eth1\", end \"eth1\", \"eth2\", "
	    "end \"eth2\"}; meta oifname; cmp eq 707070; counter; masquerade");
	ck_assert_ptr_nonnull(strstr(rtext(&p, "prerouting", "f"),
	    "meta iifname; cmp eq 707070; "));
	ck_assert_ptr_nonnull(strstr(rtext(&p, "nat-open", "~f"),
	    "meta iifname; lookup {\"eth1\", end \"eth1\", \"eth2\", "
	    "end \"eth2\", \"ppp\", end \"ppq\"}; "));
	diags_free(&d);
	cplan_free(&p);
	ruleset_free(rs);
}
END_TEST

START_TEST(dmz_preset)
{
	struct ruleset *rs;
	char buf[1024];

	snprintf(buf, sizeof(buf), "%szone lan2 { interface lan1 }\n"
	    "zone dmz2 { interface dmz1; dmz }\n", zones);
	rs = load(buf);
	/* out of the DMZ: only to external zones */
	ck_assert_int_eq(compile_preset_verdict(rs, "dmz", "wan"),
	    VERDICT_ACCEPT);
	ck_assert_int_eq(compile_preset_verdict(rs, "dmz", "lan"),
	    VERDICT_DROP);
	ck_assert_int_eq(compile_preset_verdict(rs, "dmz", "self"),
	    VERDICT_DROP);
	ck_assert_int_eq(compile_preset_verdict(rs, "dmz", "dmz2"),
	    VERDICT_DROP);
	ck_assert_int_eq(compile_preset_verdict(rs, "dmz", "any"),
	    VERDICT_DROP);
	ck_assert_int_eq(compile_preset_verdict(rs, "dmz", "dmz"),
	    VERDICT_NONE);
	/* into the DMZ: from internal zones, not from external ones */
	ck_assert_int_eq(compile_preset_verdict(rs, "lan", "dmz"),
	    VERDICT_ACCEPT);
	ck_assert_int_eq(compile_preset_verdict(rs, "lan2", "dmz"),
	    VERDICT_ACCEPT);
	ck_assert_int_eq(compile_preset_verdict(rs, "wan", "dmz"),
	    VERDICT_DROP);
	ck_assert_int_eq(compile_preset_verdict(rs, "self", "dmz"),
	    VERDICT_NONE);
	ck_assert_int_eq(compile_preset_verdict(rs, "any", "dmz"),
	    VERDICT_NONE);
	/* pairs without a DMZ: no say */
	ck_assert_int_eq(compile_preset_verdict(rs, "lan", "wan"),
	    VERDICT_NONE);
	ck_assert_int_eq(compile_preset_verdict(rs, "wan", "lan"),
	    VERDICT_NONE);
	ck_assert_int_eq(compile_preset_verdict(rs, "lan", "self"),
	    VERDICT_NONE);
	ruleset_free(rs);
}
END_TEST

START_TEST(dmz_preset_in_plan)
{
	struct cplan p;

	compile_ok("policy dmz -> lan accept\n", &p);
	/* the preset decides where no policy does; policies win */
	ck_assert_str_eq(rtext(&p, "dmz-self", "~policy"), "counter; drop");
	ck_assert_ptr_nonnull(strstr(cplan_rule(&p, "dmz-self",
	    "~policy")->comment, "preset"));
	ck_assert_str_eq(rtext(&p, "dmz-wan", "~policy"), "counter; accept");
	ck_assert_str_eq(rtext(&p, "lan-dmz", "~policy"), "counter; accept");
	ck_assert_str_eq(rtext(&p, "wan-dmz", "~policy"), "counter; drop");
	ck_assert_str_eq(rtext(&p, "dmz-lan", "~policy"), "counter; accept");
	ck_assert_ptr_nonnull(strstr(cplan_rule(&p, "dmz-lan",
	    "~policy")->comment, "policy dmz -> lan"));
	cplan_free(&p);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("compile_nat");
	TCase *tc = tcase_create("nat");
	SRunner *sr;
	int nfail;

	tcase_add_test(tc, masquerade);
	tcase_add_test(tc, snat_family);
	tcase_add_test(tc, srcnat_network_zone_and_src);
	tcase_add_test(tc, forward_single_port);
	tcase_add_test(tc, forward_ipv6_range_src);
	tcase_add_test(tc, forward_shifted_range_refused);
	tcase_add_test(tc, open_jump_placement);
	tcase_add_test(tc, order_in_chains);
	tcase_add_test(tc, wildcard_interfaces);
	tcase_add_test(tc, dmz_preset);
	tcase_add_test(tc, dmz_preset_in_plan);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
