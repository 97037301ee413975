/*
 * explain.c on the lab's topology (the router's addresses given in code):
 * sides, port forwards and their hairpin, rules, the forwards' filter
 * rule, policies and the DMZ preset, masquerade; and packet descriptions
 * that do not parse. lab_nat holds the same answers against the kernel's
 * trace.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "explain.h"
#include "parse.h"
#include "ruleset.h"

static const char rules[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
    "zone dmz { interface dmz0; dmz }\n"
    "policy lan -> wan accept\n"
    "policy any -> self drop log\n"
    "set admins ipv4 { 10.50.1.10 }\n"
    "rule ssh from lan to self tcp dport ssh src @admins accept\n"
    "rule web from any to self tcp dport { 80, 443 } accept comment \"w\"\n"
    "rule no-smtp from lan to wan tcp dport 25 reject\n"
    "nat masq masquerade from lan to wan\n"
    "nat web forward from wan tcp dport 8080 to 10.50.2.10:80\n"
    "nat lanweb forward from wan tcp dport 9090 to 10.50.1.10:80\n";

static struct host_addr hosts[4];

static void
host(size_t i, const char *ifname, const char *a, int prefix)
{
	const char *why;

	snprintf(hosts[i].ifname, sizeof(hosts[i].ifname), "%s", ifname);
	ck_assert_int_eq(addr_parse(a, &hosts[i].addr, &why), 0);
	hosts[i].netprefix = prefix;
}

/* "verdict by decided [dnat NAT] [snat NAT] | path" for a packet. */
static char *
ex(const struct ruleset *rs, const char *text)
{
	struct packet p;
	struct explain e;
	struct diags d;
	char *s, *path = NULL, *t;
	size_t i;

	diags_init(&d);
	if (explain_parse(text, &p, &d) == -1 ||
	    explain_packet(rs, hosts, 4, &p, &e, &d) == -1) {
		ck_assert_ptr_nonnull(s = diag_format(&d.v[0]));
		diags_free(&d);
		return s;
	}
	for (i = 0; i < e.npath; i++) {
		ck_assert_int_ne(asprintf(&t, "%s%s%s", path ? path : "",
		    path ? " " : "", e.path[i]), -1);
		free(path);
		path = t;
	}
	ck_assert_int_ne(asprintf(&s, "%s by %s [%s]%s%s%s%s | %s",
	    verdict_name(e.verdict), e.decided, e.comment,
	    e.dnat ? " dnat " : "", e.dnat ? e.dnat->name : "",
	    e.snat ? " snat " : "", e.snat ? e.snat->name : "", path), -1);
	free(path);
	explain_free(&e);
	diags_free(&d);
	return s;
}

#define EX(text, want) do {						\
	char *s_ = ex(rs, text);					\
	ck_assert_str_eq(s_, want);					\
	free(s_);							\
} while (0)

START_TEST(lab_topology)
{
	struct ruleset *rs = ruleset_new();
	struct diags d;

	host(0, "wan0", "10.50.0.1", 24);
	host(1, "lan0", "10.50.1.1", 24);
	host(2, "dmz0", "10.50.2.1", 24);
	host(3, "wan0", "fd50::1", 64);
	diags_init(&d);
	ck_assert_int_eq(parse_buffer(rs, "t.rules", rules, strlen(rules),
	    &d), 0);
	diags_free(&d);

	EX("in lan0 tcp 10.50.1.10:40000 -> 10.50.1.1:22",
	    "accept by rule ssh [ssh] | prerouting input lan-self");
	EX("in lan0 tcp 10.50.1.11:40000 -> 10.50.1.1:22",
	    "drop by policy any -> self [policy any -> self] | "
	    "prerouting input lan-self");
	/* outside lan's networks: in no zone */
	EX("in lan0 tcp 10.50.9.9:40000 -> 10.50.1.1:443",
	    "accept by rule web [web: w] | prerouting input any-self");
	EX("from wan tcp 203.0.113.5:40000 -> 10.50.0.1:8080",
	    "accept by forward web [forward web] dnat web | "
	    "prerouting forward wan-dmz nat-open postrouting");
	/* hairpin from the lan and from the dmz itself */
	EX("in lan0 tcp 10.50.1.10:40000 -> 10.50.0.1:8080",
	    "accept by forward web [forward web] dnat web | "
	    "prerouting forward lan-dmz nat-open postrouting");
	EX("in dmz0 tcp 10.50.2.10:40000 -> 10.50.0.1:8080",
	    "accept by forward web [forward web] dnat web snat web | "
	    "prerouting forward dmz-dmz nat-open postrouting");
	/* the router's own side is the router */
	EX("in dmz0 tcp 10.50.2.10:40000 -> 10.50.2.1:8080",
	    "drop by policy any -> self [policy any -> self] | "
	    "prerouting input dmz-self");
	EX("in lan0 tcp 10.50.1.10:40000 -> 198.51.100.7:443 out wan0",
	    "accept by policy lan -> wan [policy lan -> wan] snat masq | "
	    "prerouting forward lan-wan postrouting");
	EX("in lan0 tcp 10.50.1.10:40000 198.51.100.7:25 to wan",
	    "reject by rule no-smtp [no-smtp] | prerouting forward lan-wan");
	EX("in dmz0 tcp 10.50.2.10:40000 -> 10.50.1.10:80",
	    "drop by preset [preset policy] | prerouting forward dmz-lan");
	EX("in wan0 tcp 10.50.0.2:40000 -> 10.50.1.10:80",
	    "drop by default [default policy] | prerouting forward wan-lan");
	EX("in lan0 tcp 10.50.1.10:40000 -> 10.50.2.10:80 state established",
	    "accept by established [(null)] | prerouting forward");
	EX("from self udp 10.50.0.1:5353 -> 10.50.0.2:53",
	    "accept by default [default policy] | output self-wan "
	    "postrouting");
	ruleset_free(rs);
}
END_TEST

START_TEST(bad_packets)
{
	struct ruleset *rs = ruleset_new();

	host(0, "wan0", "10.50.0.1", 24);
	host(1, "lan0", "10.50.1.1", 24);
	host(2, "dmz0", "10.50.2.1", 24);
	host(3, "wan0", "fd50::1", 64);
	EX("tcp 10.0.0.1 -> 10.0.0.2", "1:17: expected a destination port "
	    "for tcp");
	EX("from lan gre 10.0.0.1 -> 10.0.0.2", "1:10: expected from ZONE, in "
	    "IFACE or a protocol (tcp, udp, sctp, icmp, icmpv6), got gre");
	EX("from lan tcp 10.0.0.1:1 -> fd00::1:2", "1:28: source and "
	    "destination are of two IP versions");
	EX("from lan icmp 10.0.0.1 -> 10.0.0.2 type nope", "1:41: unknown "
	    "icmp type nope");
	EX("from mars tcp 10.0.0.1:1 -> 10.50.1.1:22", "unknown zone \"mars\" "
	    "in from; expected a zone, self or any");
	EX("from any tcp 10.0.0.1:1 -> 192.0.2.1:22", "cannot tell where the "
	    "packet goes: no network of this host holds its destination; "
	    "give to ZONE or out IFACE");
	ruleset_free(rs);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("explain");
	TCase *tc = tcase_create("explain");
	SRunner *sr;
	int nf;

	tcase_add_test(tc, lab_topology);
	tcase_add_test(tc, bad_packets);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
