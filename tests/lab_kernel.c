/*
 * The kernel layer against a real kernel, in the lab (needs root): each
 * test runs in a forked child that enters the lab's router namespace and
 * programs it through compile.c/nft.c; real TCP, UDP and ICMP between the
 * lab's hosts must pass or fail as the rules say, and `nft -j list table`
 * is the independent reader. A table `inet other` made before the tests
 * must come through every apply unchanged. Groups of rules have a suite of
 * their own (lab_groups.c); the helpers both use are in lib/kernel_lab.c.
 */
#include <sys/socket.h>

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compile.h"
#include "lib/kernel_lab.h"
#include "nft.h"
#include "parse.h"
#include "plan.h"
#include "ruleset.h"

/* `nft -j list table inet fwctl` in the router. */
static json_t *
nft_json(void)
{
	json_error_t err;
	json_t *j;
	char *out;

	out = lab_output(lab, "router", "nft -j list table inet fwctl");
	ck_assert_ptr_nonnull(out);
	j = json_loads(out, 0, &err);
	ck_assert_msg(j != NULL, "nft -j: %s", err.text);
	free(out);
	return j;
}

/* The i-th rule object (in listing order) with this comment and chain
 * (NULL: any chain; a pair chain's sub-chains "<chain>/<n>" count as the
 * chain), or NULL. */
static json_t *
json_rule(json_t *root, const char *chain, const char *comment, int nth)
{
	json_t *arr = json_object_get(root, "nftables"), *o, *r;
	const char *c, *ch;
	size_t i;

	json_array_foreach(arr, i, o) {
		if ((r = json_object_get(o, "rule")) == NULL)
			continue;
		c = json_string_value(json_object_get(r, "comment"));
		ch = json_string_value(json_object_get(r, "chain"));
		if (c == NULL || strcmp(c, comment) != 0)
			continue;
		if (chain != NULL && (ch == NULL ||
		    strncmp(ch, chain, strlen(chain)) != 0 ||
		    (ch[strlen(chain)] != '\0' && ch[strlen(chain)] != '/')))
			continue;
		if (nth-- == 0)
			return r;
	}
	return NULL;
}

static bool
json_has_chain(json_t *root, const char *name)
{
	json_t *arr = json_object_get(root, "nftables"), *o, *c;
	size_t i;

	json_array_foreach(arr, i, o)
		if ((c = json_object_get(o, "chain")) != NULL &&
		    strcmp(json_string_value(json_object_get(c, "name")),
		    name) == 0)
			return true;
	return false;
}

/* The rule's expression object of that kind ("counter", "log"), or NULL. */
static json_t *
json_expr(json_t *rule, const char *kind)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(rule, "expr"), i, e)
		if (json_object_get(e, kind) != NULL)
			return json_object_get(e, kind);
	return NULL;
}

static json_int_t
json_packets(json_t *rule)
{
	json_t *c = json_expr(rule, "counter");

	ck_assert_ptr_nonnull(c);
	return json_integer_value(json_object_get(c, "packets"));
}

/* The shared list a rule refers to ("@__l/..." in its lookup), or NULL. */
static const char *
json_list_ref(json_t *rule)
{
	json_t *e, *m;
	const char *v;
	size_t i;

	json_array_foreach(json_object_get(rule, "expr"), i, e)
		if ((m = json_object_get(e, "match")) != NULL &&
		    (v = json_string_value(json_object_get(m, "right"))) !=
		    NULL && strncmp(v, "@__l/", 5) == 0)
			return v + 1;
	return NULL;
}

/* How many shared lists of that type the table has. */
static int
json_lists(json_t *root, const char *type)
{
	json_t *arr = json_object_get(root, "nftables"), *o, *st;
	const char *name, *t;
	size_t i;
	int n = 0;

	json_array_foreach(arr, i, o) {
		if ((st = json_object_get(o, "set")) == NULL)
			continue;
		name = json_string_value(json_object_get(st, "name"));
		t = json_string_value(json_object_get(st, "type"));
		if (name != NULL && strncmp(name, "__l/", 4) == 0 &&
		    t != NULL && strcmp(t, type) == 0)
			n++;
	}
	return n;
}

/* How many shared lists no rule of the table refers to. */
static int
json_lists_unused(json_t *root)
{
	json_t *arr = json_object_get(root, "nftables"), *o, *st, *ro, *r;
	json_t *e, *m;
	const char *name, *v;
	size_t i, k, x;
	int n = 0;
	bool used;

	json_array_foreach(arr, i, o) {
		if ((st = json_object_get(o, "set")) == NULL ||
		    (name = json_string_value(json_object_get(st,
		    "name"))) == NULL || strncmp(name, "__l/", 4) != 0)
			continue;
		used = false;
		json_array_foreach(arr, k, ro) {
			if ((r = json_object_get(ro, "rule")) == NULL)
				continue;
			json_array_foreach(json_object_get(r, "expr"), x, e)
				if ((m = json_object_get(e, "match")) != NULL &&
				    (v = json_string_value(json_object_get(m,
				    "right"))) != NULL && v[0] == '@' &&
				    strcmp(v + 1, name) == 0)
					used = true;
		}
		n += !used;
	}
	return n;
}

/* The list named after `after` in text (nft list output) holds elems. */
static void
assert_list_holds(const char *text, const char *after, const char *elems)
{
	const char *p = strstr(text, after);
	char name[64], *out;
	size_t len;

	ck_assert_msg(p != NULL, "no \"%s\" in %s", after, text);
	p += strlen(after);
	len = strcspn(p, " \n");
	ck_assert(len > 0 && len < sizeof(name));
	memcpy(name, p, len);
	name[len] = '\0';
	out = lab_output(lab, "router", "nft list set inet fwctl %s", name);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, elems) != NULL, "set %s: %s", name, out);
	free(out);
}

/* --- tests ------------------------------------------------------------ */

START_TEST(minimal_end_to_end)
{
	json_t *j, *r;
	struct nft_counters c;
	struct diags d;
	size_t i;
	bool found = false;

	start();
	serve("router", "tcp", 2201);
	apply_text(ZONES "rule ssh from lan to self tcp dport 2201 accept\n");
	must_tcp("lan", R_LAN, 2201);
	must_tcp("lan", R_LAN6, 2201);
	mustnt_tcp("wan", R_WAN, 2201);		/* wan -> self: default drop */
	mustnt_tcp("dmz", "10.50.2.1", 2201);

	j = nft_json();
	ck_assert(json_has_chain(j, "input"));
	ck_assert(json_has_chain(j, "lan-self"));
	ck_assert(json_has_chain(j, "lan-dmz"));
	ck_assert(json_has_chain(j, "fwd/any"));
	ck_assert(json_has_chain(j, "prerouting"));
	r = json_rule(j, "lan-self", "ssh", 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_ge(json_packets(r), 2);
	ck_assert_ptr_null(json_rule(j, "wan-self", "ssh", 0));
	json_decref(j);

	diags_init(&d);
	ck_assert_int_eq(nft_counters(nf, &c, &d), 0);
	for (i = 0; i < c.n; i++)
		if (strcmp(c.v[i].name, "ssh") == 0) {
			found = true;
			ck_assert_uint_ge(c.v[i].packets, 2);
			ck_assert_uint_gt(c.v[i].bytes, 0);
		} else
			ck_assert_msg(strchr(c.v[i].name, ' ') == NULL,
			    "counter %s", c.v[i].name);
	ck_assert(found);
	nft_counters_free(&c);
	diags_free(&d);
	ck_assert_int_eq(nft_table_present(nf), 1);
	ck_assert(!nft_drifted(nf));
	finish();
}
END_TEST

/*
 * Policies and NAT entries changed alone make again only what they make:
 * the rules each pair chain ends in (the log before the verdict, the NAT
 * entries' jump between them), the NAT chains' entries. No rule
 * compiled; traffic follows each change, and the table is what a fresh
 * compile lays out.
 */
#define POLS ZONES "nat web forward from wan tcp dport 8080 to " H_DMZ \
	":80\n" \
	"rule ssh from lan to self tcp dport 3951 accept\n" \
	"rule w from wan to dmz tcp dport 3952 accept\n"

START_TEST(policies_alone)
{
	const struct nft_stats *st;

	start();
	serve("router", "tcp", 3951);
	serve("dmz", "tcp", 3953);
	serve("lan", "tcp", 3954);
	apply_text(POLS "policy lan -> any accept\n"
	    "policy dmz -> lan accept\n");
	must_tcp("lan", H_DMZ, 3953);
	must_tcp("dmz", H_LAN, 3954);

	/* a policy of its own for lan -> dmz, with a log */
	apply_diffed(POLS "policy lan -> any accept\n"
	    "policy dmz -> lan accept\n"
	    "policy lan -> dmz drop log\n");
	st = applied_in_place(0);
	ck_assert_uint_ge(st->rules_added, 2);		/* its log, its drop */
	ck_assert_uint_le(st->rules_added, 4);
	mustnt_tcp("lan", H_DMZ, 3953);
	must_tcp("dmz", H_LAN, 3954);
	{
		json_t *j = nft_json();

		ck_assert_ptr_nonnull(json_rule(j, "lan-dmz",
		    "policy lan -> dmz log", 0));
		ck_assert_int_ge(json_packets(json_rule(j, "lan-dmz",
		    "policy lan -> dmz", 0)), 1);
		json_decref(j);
	}
	restart_takes_table();

	/* dmz -> lan goes, lan -> any drops: lan -> dmz falls to it */
	apply_diffed(POLS "policy lan -> any drop\n");
	st = applied_in_place(0);
	mustnt_tcp("dmz", H_LAN, 3954);
	mustnt_tcp("lan", H_DMZ, 3953);
	must_tcp("lan", R_LAN, 3951);			/* its rule */
	restart_takes_table();

	/* no policy at all: the defaults */
	apply_diffed(POLS);
	applied_in_place(0);
	mustnt_tcp("lan", H_DMZ, 3953);
	must_tcp("router", H_LAN, 3954);		/* self -> any */
	restart_takes_table();

	/* the same verdicts under another policy's name: its comment */
	apply_diffed(POLS "policy any -> any drop\n");
	applied_in_place(0);
	restart_takes_table();
	/* and accepted again */
	apply_diffed(POLS "policy any -> any drop\n"
	    "policy dmz -> lan accept\n");
	must_tcp("dmz", H_LAN, 3954);
	restart_takes_table();

	/* NAT entries alone: a second forward, a masquerade, then neither;
	 * the first forward's counters stay (it is made again by none) */
	mustnt_tcp("wan", R_WAN, 8081);
	apply_diffed(POLS "policy any -> any drop\n"
	    "policy dmz -> lan accept\n"
	    "nat web2 forward from wan tcp dport 8081 to " H_DMZ ":3953\n"
	    "nat masq masquerade from lan to wan\n");
	st = applied_in_place(0);
	ck_assert_uint_eq(st->rules_deleted, 0);
	must_tcp("wan", R_WAN, 8081);
	restart_takes_table();
	apply_diffed(POLS "policy any -> any drop\n"
	    "policy dmz -> lan accept\n");
	st = applied_in_place(0);
	ck_assert_uint_eq(st->rules_added, 0);
	mustnt_tcp("wan", R_WAN, 8081);
	must_tcp("dmz", H_LAN, 3954);
	restart_takes_table();
	finish();
}
END_TEST

/*
 * The first forward makes the nat-open chain (and a jump to it at the end
 * of each forwarding pair chain), the last one removes it: through the
 * frame's path (no rule compiled, no whole diff), with traffic after each
 * change, the chain gone from the table, and a restart that finds the
 * table as the ruleset says.
 */
#define FRAME ZONES "policy any -> any drop\n" \
	"rule ssh from lan to self tcp dport 3971 accept\n" \
	"nat masq masquerade from lan to wan\n"

START_TEST(frame_chains_come_and_go)
{
	const struct nft_stats *st;
	json_t *j;

	start();
	serve("router", "tcp", 3971);
	serve("dmz", "tcp", 3973);
	apply_text(FRAME);
	j = nft_json();
	ck_assert(!json_has_chain(j, "nat-open"));
	json_decref(j);
	mustnt_tcp("wan", R_WAN, 8091);

	/* the first forward */
	apply_diffed(FRAME "nat web forward from wan tcp dport 8091 "
	    "to " H_DMZ ":3973\n");
	st = applied_in_place(0);
	ck_assert_uint_eq(st->chains_added, 1);
	ck_assert_uint_eq(st->rules_deleted, 0);
	must_tcp("wan", R_WAN, 8091);
	mustnt_tcp("wan", R_WAN, 8092);	/* no forward there */
	mustnt_tcp("wan", H_DMZ, 3973);		/* not forwarded: dropped */
	must_tcp("lan", R_LAN, 3971);
	j = nft_json();
	ck_assert(json_has_chain(j, "nat-open"));
	ck_assert_int_ge(json_packets(json_rule(j, "nat-open",
	    "forward web", 0)), 1);
	json_decref(j);
	restart_takes_table();

	/* a second one: the chain stays */
	apply_diffed(FRAME "nat web forward from wan tcp dport 8091 "
	    "to " H_DMZ ":3973\n"
	    "nat web2 forward from wan tcp dport 8093 to " H_DMZ ":3973\n");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->chains_added, 0);
	must_tcp("wan", R_WAN, 8093);

	/* both gone at once: the chain goes, and the jumps to it */
	apply_diffed(FRAME);
	st = applied_in_place(0);
	ck_assert_uint_eq(st->rules_added, 0);
	mustnt_tcp("wan", R_WAN, 8091);
	mustnt_tcp("wan", R_WAN, 8093);
	must_tcp("lan", R_LAN, 3971);
	j = nft_json();
	ck_assert(!json_has_chain(j, "nat-open"));
	ck_assert_ptr_null(json_rule(j, NULL, "web", 0));
	json_decref(j);
	restart_takes_table();

	/* and again, over a picture that lost the chain */
	apply_diffed(FRAME "nat web forward from wan tcp dport 8091 to "
	    H_DMZ ":3973\n");
	ck_assert(!nft_last_stats(nf)->full_rebuild);
	ck_assert_uint_eq(nft_last_stats(nf)->chains_added, 1);
	must_tcp("wan", R_WAN, 8091);
	restart_takes_table();
	finish();
}
END_TEST

/*
 * Zones changed in place take the frame's path: the pair chains are named
 * after zones and rules compile without the zones' contents, so only the
 * dispatch, the narrowing, the NAT entries' interface lists and the pair
 * chains' endings change. A list of interfaces no entry uses any more
 * (lan's before it gained one) goes with the change, as the whole diff
 * would delete it.
 */
#define ZIP_REST "nat web forward from wan tcp dport 8080 to " H_DMZ ":80\n" \
	"nat masq masquerade from lan to wan\n" \
	"rule ssh from lan to self tcp dport 3981 accept\n" \
	"policy any -> any drop\n" \
	"policy dmz -> lan accept\n"
#define ZIP_WAN "zone wan { interface wan0 }\n"

START_TEST(zones_in_place)
{
	json_t *j;

	start();
	serve("router", "tcp", 3981);
	serve("dmz", "tcp", 3983);
	serve("lan", "tcp", 3984);
	apply_text(ZONES ZIP_REST);
	must_tcp("dmz", H_LAN, 3984);
	j = nft_json();
	ck_assert_int_ge(json_lists(j, "ifname"), 1);
	json_decref(j);

	/* dmz by a wildcard name: out of fwd/all's map, the two-step path */
	apply_diffed(ZIP_WAN "zone lan { interface lan0 }\n"
	    "zone dmz { interface dmz* }\n" ZIP_REST);
	applied_in_place(0);
	must_tcp("dmz", H_LAN, 3984);
	mustnt_tcp("lan", H_DMZ, 3983);
	must_tcp("lan", R_LAN, 3981);
	j = nft_json();
	ck_assert_int_eq(json_lists_unused(j), 0);
	json_decref(j);
	restart_takes_table();

	/* lan gains an interface: the masquerade's list of lan's
	 * interfaces is made anew, and the old one goes */
	apply_diffed(ZIP_WAN "zone lan { interface lan0, lan9 }\n"
	    "zone dmz { interface dmz* }\n" ZIP_REST);
	applied_in_place(0);
	j = nft_json();
	ck_assert_int_eq(json_lists_unused(j), 0);
	json_decref(j);
	must_tcp("lan", R_LAN, 3981);
	must_tcp("dmz", H_LAN, 3984);
	restart_takes_table();

	/* dmz by its network too: the dmz host, outside it, is in no zone */
	apply_diffed(ZIP_WAN "zone lan { interface lan0, lan9 }\n"
	    "zone dmz { interface dmz*; network 10.50.3.0/24 }\n" ZIP_REST);
	applied_in_place(0);
	mustnt_tcp("dmz", H_LAN, 3984);
	must_tcp("lan", R_LAN, 3981);
	restart_takes_table();

	/* its network replaced by the one that holds the host: the list of
	 * the old one goes too (a list of addresses, which a rule might
	 * share: the whole diff deletes it) */
	apply_diffed(ZIP_WAN "zone lan { interface lan0, lan9 }\n"
	    "zone dmz { interface dmz*; network 10.50.2.0/24 }\n" ZIP_REST);
	ck_assert(!nft_last_stats(nf)->full_rebuild);
	must_tcp("dmz", H_LAN, 3984);
	j = nft_json();
	ck_assert_int_eq(json_lists_unused(j), 0);
	json_decref(j);
	restart_takes_table();
	finish();
}
END_TEST

START_TEST(policies_and_defaults)
{
	start();
	serve("router", "tcp", 2301);
	serve("dmz", "tcp", 2302);
	serve("lan", "tcp", 2303);
	serve("wan", "tcp", 2304);
	/* no policy: input dropped, forwarding dropped, output accepted */
	apply_text(ZONES);
	mustnt_tcp("lan", R_LAN, 2301);
	mustnt_tcp("lan", H_DMZ, 2302);
	mustnt_tcp("lan", H_DMZ6, 2302);
	must_tcp("router", H_WAN, 2304);
	must_tcp("router", "fd50::2", 2304);
	must_tcp("router", H_LAN, 2303);

	/* a specific policy beats `lan -> any`, `any -> dmz` and any -> any */
	apply_text(ZONES "policy lan -> dmz accept\n"
	    "policy any -> dmz drop\n"
	    "policy lan -> any drop\n"
	    "policy any -> any drop\n"
	    "policy any -> self accept\n"
	    "policy self -> any drop\n");
	must_tcp("lan", H_DMZ, 2302);
	must_tcp("lan", H_DMZ6, 2302);
	mustnt_tcp("dmz", H_LAN, 2303);
	must_tcp("lan", R_LAN, 2301);		/* any -> self accept */
	must_tcp("wan", R_WAN6, 2301);
	mustnt_tcp("router", H_WAN, 2304);	/* self -> any drop */

	/* `from -> any` beats `any -> to` */
	apply_text(ZONES "policy dmz -> any accept\n"
	    "policy any -> lan drop\n");
	must_tcp("dmz", H_LAN, 2303);
	mustnt_tcp("lan", H_DMZ, 2302);
	must_tcp("router", H_WAN, 2304);	/* back to the default */
	finish();
}
END_TEST

START_TEST(unzoned_interfaces)
{
	start();
	serve("router", "tcp", 2401);
	serve("router", "tcp", 2402);
	/* wan0 in no zone: `any` rules and policies still apply to it */
	apply_text("zone lan { interface lan0 }\n"
	    "rule a from any to self tcp dport 2401 accept\n"
	    "rule l from lan to self tcp dport 2402 accept\n");
	must_tcp("wan", R_WAN, 2401);
	mustnt_tcp("wan", R_WAN, 2402);
	must_tcp("lan", R_LAN, 2402);
	apply_text("zone lan { interface lan0 }\n"
	    "policy any -> self accept\n");
	must_tcp("wan", R_WAN, 2402);
	finish();
}
END_TEST

START_TEST(ports)
{
	static const int open_ports[] = { 2501, 2510, 2515, 2519, 2520, 2526,
	    2530 };
	static const int shut[] = { 2502, 2509, 2521, 2531 };
	size_t i;

	start();
	for (i = 0; i < sizeof(open_ports) / sizeof(open_ports[0]); i++)
		serve("router", "tcp", open_ports[i]);
	for (i = 0; i < sizeof(shut) / sizeof(shut[0]); i++)
		serve("router", "tcp", shut[i]);
	serve("router", "udp", 2540);
	serve("router", "udp", 2541);
	apply_text(ZONES "set pp port { 2530 }\n"
	    "rule one from lan to self tcp dport 2501 accept\n"
	    "rule range from lan to self tcp dport 2510-2519 accept\n"
	    "rule list from lan to self tcp dport { 2520, 2525-2526 } accept\n"
	    "rule named from lan to self tcp dport @pp accept\n"
	    "rule u from lan to self udp dport 2540 accept\n");
	for (i = 0; i < sizeof(open_ports) / sizeof(open_ports[0]); i++) {
		must_tcp("lan", R_LAN, open_ports[i]);
		must_tcp("lan", R_LAN6, open_ports[i]);
	}
	for (i = 0; i < sizeof(shut) / sizeof(shut[0]); i++)
		mustnt_tcp("lan", R_LAN, shut[i]);
	ck_assert_int_eq(lab_udp_probe(lab, "lan", R_LAN, 2540, OK_MS, NULL,
	    0), 0);
	ck_assert_int_eq(lab_udp_probe(lab, "lan", R_LAN6, 2540, OK_MS, NULL,
	    0), 0);
	ck_assert_int_eq(lab_udp_probe(lab, "lan", R_LAN, 2541, NO_MS, NULL,
	    0), -1);
	/* a tcp rule does not open udp */
	ck_assert_int_eq(lab_udp_probe(lab, "lan", R_LAN, 2541, NO_MS, NULL,
	    0), -1);
	finish();
}
END_TEST

START_TEST(addresses)
{
	int p;

	start();
	for (p = 2601; p <= 2609; p++)
		serve("router", "tcp", p);
	apply_text(ZONES
	    "set adm ipv4 { 10.50.1.10 }\n"
	    "set adm6 ipv6 { fd50:1::/64 }\n"
	    "set none ipv4 { 192.0.2.1 }\n"
	    "rule host from lan to self tcp dport 2601 src 10.50.1.10 accept\n"
	    "rule net from lan to self tcp dport 2602 src 10.50.0.0/16 accept\n"
	    "rule odd from lan to self tcp dport 2603 src 10.50.1.8/29 accept\n"
	    "rule lst from lan to self tcp dport 2604 "
	    "src { 10.50.9.9, fd50:1::10 } accept\n"
	    "rule st from lan to self tcp dport 2605 src @adm accept\n"
	    "rule st6 from lan to self tcp dport 2605 src @adm6 accept\n"
	    "rule nst from lan to self tcp dport 2606 src @none accept\n"
	    "rule dst from any to self tcp dport 2607 dst 10.50.1.1 accept\n"
	    "rule dst6 from any to self tcp dport 2608 dst fd50::/64 accept\n"
	    "rule other from lan to self tcp dport 2609 src 10.50.2.0/24 "
	    "accept\n");
	must_tcp("lan", R_LAN, 2601);
	mustnt_tcp("lan", R_LAN6, 2601);	/* IPv4 rule, IPv6 packet */
	must_tcp("lan", R_LAN, 2602);
	mustnt_tcp("lan", R_LAN6, 2602);
	must_tcp("lan", R_LAN, 2603);		/* .10 is in .8/29 */
	must_tcp("lan", R_LAN6, 2604);		/* list: the v6 member */
	mustnt_tcp("lan", R_LAN, 2604);		/* 10.50.1.10 not listed */
	must_tcp("lan", R_LAN, 2605);
	must_tcp("lan", R_LAN6, 2605);
	mustnt_tcp("lan", R_LAN, 2606);
	must_tcp("lan", R_LAN, 2607);
	mustnt_tcp("wan", R_WAN, 2607);		/* dst is the lan address */
	must_tcp("wan", R_WAN6, 2608);
	mustnt_tcp("wan", R_WAN, 2608);
	mustnt_tcp("lan", R_LAN, 2609);
	finish();
}
END_TEST

START_TEST(icmp_and_state)
{
	start();
	serve("router", "tcp", 2701);
	serve("router", "tcp", 2702);
	apply_text(ZONES
	    "rule ping from lan to self icmp type echo-request accept\n"
	    "rule new from lan to self tcp dport 2701 state new accept\n"
	    "rule est from lan to self tcp dport 2702 state established "
	    "accept\n");
	ck_assert_int_eq(lab_ping(lab, "lan", R_LAN, OK_MS), 0);
	ck_assert_int_eq(lab_ping(lab, "lan", R_LAN6, NO_MS), -1);
	ck_assert_int_eq(lab_ping(lab, "wan", R_WAN, NO_MS), -1);
	must_tcp("lan", R_LAN, 2701);
	mustnt_tcp("lan", R_LAN, 2702);		/* a SYN is never established */
	apply_text(ZONES
	    "rule ping from lan to self icmp type echo-request accept\n"
	    "rule ping6 from any to self icmpv6 type echo-request accept\n");
	ck_assert_int_eq(lab_ping(lab, "lan", R_LAN6, OK_MS), 0);
	ck_assert_int_eq(lab_ping(lab, "wan", R_WAN6, OK_MS), 0);
	ck_assert_int_eq(lab_ping(lab, "wan", R_WAN, NO_MS), -1);
	finish();
}
END_TEST

START_TEST(limit)
{
	start();
	apply_text(ZONES "rule pl from lan to self icmp type echo-request "
	    "accept limit 1/minute burst 2\n");
	pings_limited("limit 1/minute burst 2");
	finish();
}
END_TEST

START_TEST(log_and_reject)
{
	json_t *j, *r, *lg;
	long long t0, dt;

	start();
	serve("router", "tcp", 2801);
	serve("router", "tcp", 2802);
	serve("router", "udp", 2803);
	apply_text(ZONES
	    "rule rj from wan to self tcp dport 2801 reject\n"
	    "rule lg from wan to self tcp dport 2802 log prefix \"fw-in: \" "
	    "drop\n"
	    "rule ru from wan to self udp dport 2803 reject\n");
	t0 = lab_now();
	ck_assert_int_eq(tcp("wan", R_WAN, 2801, 3000), -1);
	dt = lab_now() - t0;
	ck_assert_msg(dt < 1500, "reject took %lld ms", dt);
	t0 = lab_now();
	ck_assert_int_eq(tcp("wan", R_WAN6, 2801, 3000), -1);
	ck_assert_msg(lab_now() - t0 < 1500, "reject (v6) was slow");
	t0 = lab_now();
	ck_assert_int_eq(tcp("wan", R_WAN, 2802, 1500), -1);
	dt = lab_now() - t0;
	ck_assert_msg(dt >= 1400, "drop answered after %lld ms", dt);
	t0 = lab_now();
	ck_assert_int_eq(lab_udp_probe(lab, "wan", R_WAN, 2803, 3000, NULL, 0),
	    -1);
	ck_assert_msg(lab_now() - t0 < 1500, "udp reject was slow");

	j = nft_json();
	r = json_rule(j, "wan-self", "lg", 0);
	ck_assert_ptr_nonnull(r);
	lg = json_expr(r, "log");
	ck_assert_ptr_nonnull(lg);
	ck_assert_str_eq(json_string_value(json_object_get(lg, "prefix")),
	    "fw-in: ");
	ck_assert_int_ge(json_packets(r), 1);
	r = json_rule(j, "wan-self", "rj", 0);
	ck_assert_ptr_nonnull(json_expr(r, "reject"));
	ck_assert_int_ge(json_packets(r), 2);
	json_decref(j);
	finish();
}
END_TEST

START_TEST(kernel_refusal_keeps_old)
{
	struct ruleset *bad;
	struct diags d;
	char *s;
	size_t i;
	bool named = false;

	start();
	serve("router", "tcp", 2901);
	serve("router", "tcp", 2902);
	apply_text(ZONES "set s ipv4 { 10.0.0.0/8 }\n"
	    "rule a from lan to self tcp dport 2901 accept\n"
	    "rule x from lan to self src @s drop\n");
	must_tcp("lan", R_LAN, 2901);

	/* the kernel refuses overlapping intervals */
	bad = rs_text(ZONES "set s ipv4 { 10.0.0.0/8, 10.1.0.0/16 }\n"
	    "rule a from lan to self tcp dport 2901 accept\n"
	    "rule b from lan to self tcp dport 2902 accept\n"
	    "rule x from lan to self src @s drop\n");
	diags_init(&d);
	ck_assert_int_eq(nft_apply(nf, cur, bad, NULL, &d), -1);
	ck_assert_uint_ge(d.n, 1);
	for (i = 0; i < d.n; i++) {
		s = diag_format(&d.v[i]);
		if (strstr(s, "lab.rules:4:") == s && strstr(s, "set s"))
			named = true;
		free(s);
	}
	ck_assert_msg(named, "the refusal names set s at lab.rules:4");
	diags_free(&d);
	ruleset_free(bad);
	must_tcp("lan", R_LAN, 2901);
	mustnt_tcp("lan", R_LAN, 2902);
	assert_other();

	/* a rule the kernel refuses: it looks up a set that does not exist */
	bad = rs_text(ZONES "set s ipv4 { 10.0.0.0/8 }\n"
	    "rule a from lan to self tcp dport 2901 accept\n"
	    "rule x from lan to self src @s drop\n"
	    "rule b from lan to self tcp dport 2902 src @nosuch accept\n");
	diags_init(&d);
	ck_assert_int_eq(nft_apply(nf, cur, bad, NULL, &d), -1);
	named = false;
	for (i = 0; i < d.n; i++) {
		s = diag_format(&d.v[i]);
		if (strstr(s, "lab.rules:7:") == s && strstr(s, "rule b"))
			named = true;
		free(s);
	}
	ck_assert_msg(named, "the refusal names rule b at lab.rules:7");
	diags_free(&d);
	ruleset_free(bad);
	must_tcp("lan", R_LAN, 2901);
	mustnt_tcp("lan", R_LAN, 2902);

	/* and the next change still goes through, incrementally */
	apply_text(ZONES "set s ipv4 { 10.0.0.0/8 }\n"
	    "rule a from lan to self tcp dport 2901 accept\n"
	    "rule b from lan to self tcp dport 2902 accept\n"
	    "rule x from lan to self src @s drop\n");
	ck_assert(!nft_last_stats(nf)->full_rebuild);
	ck_assert_uint_eq(nft_last_stats(nf)->rules_added, 1);
	must_tcp("lan", R_LAN, 2902);
	finish();
}
END_TEST

/* handle of every rule by comment, from nft -j */
static json_t *
handles_by_comment(void)
{
	json_t *j = nft_json(), *out = json_object(), *o, *r;
	const char *c;
	char key[300];
	size_t i;

	json_array_foreach(json_object_get(j, "nftables"), i, o) {
		if ((r = json_object_get(o, "rule")) == NULL)
			continue;
		c = json_string_value(json_object_get(r, "comment"));
		snprintf(key, sizeof(key), "%s/%s",
		    json_string_value(json_object_get(r, "chain")),
		    c ? c : "?");
		json_object_set(out, key, json_object_get(r, "handle"));
	}
	json_decref(j);
	return out;
}

START_TEST(big_ruleset_incremental)
{
	enum { N = 10000 };
	char *text, *p, *out;
	struct ruleset *next;
	struct rule *ru;
	struct set_elem el;
	struct diags d;
	const struct nft_stats *st;
	struct plan pl;
	json_t *h1, *h2, *j, *v;
	json_int_t pk1, pk2;
	const char *k;
	ssize_t si;
	int i;

	start();
	serve("router", "tcp", 15000);
	text = malloc((size_t)N * 128 + 1024);
	ck_assert_ptr_nonnull(text);
	p = text + sprintf(text, ZONES "set bl ipv4 { timeout 1h }\n"
	    "rule blk from lan to self src @bl drop\n");
	for (i = 0; i < N; i++)
		p += sprintf(p, "rule r%d from lan to self tcp "
		    "sport " NOGROUP " dport %d "
		    "accept\n", i, 10000 + i);
	apply_text(text);
	free(text);
	st = nft_last_stats(nf);
	ck_assert(st->full_rebuild);
	ck_assert_uint_ge(st->rules_added, N);

	/* traffic first: r5000 counts */
	must_tcp("lan", R_LAN, 15000);
	must_tcp("lan", R_LAN, 15000);

	/* an element added at run time to the timeout set */
	next = ruleset_dup(cur);
	si = ruleset_find_set(next, "bl");
	ck_assert_int_ge(si, 0);
	memset(&el, 0, sizeof(el));
	el.key.addr.family = AF_INET;
	el.key.addr.prefix = 32;
	el.key.addr.bytes[0] = 10;
	el.key.addr.bytes[1] = 50;
	el.key.addr.bytes[2] = 9;
	el.key.addr.bytes[3] = 9;
	el.timeout_ms = 600000;
	ck_assert_int_eq(set_add_elem(next->sets[si], &el), 0);
	/* as the engine sends it: a one-item plan */
	plan_init(&pl);
	ck_assert_int_eq(plan_add_elem(&pl, PLAN_ADD, next->sets[si], &el), 0);
	diags_init(&d);
	ck_assert_int_eq(nft_apply(nf, cur, next, &pl, &d), 0);
	diags_free(&d);
	plan_free(&pl);
	ruleset_free(cur);
	cur = next;
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->rules_added, 0);
	ck_assert_uint_eq(st->rules_deleted, 0);
	ck_assert_uint_eq(st->elems_added, 1);	/* hosts only: a hash set */
	ck_assert_uint_eq(st->msgs, 3);
	out = lab_output(lab, "router", "nft list set inet fwctl bl");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "10.50.9.9 timeout 10m expires") != NULL,
	    "element: %s", out);
	free(out);
	/* the same change without a plan (diffed): the element is there */
	apply(ruleset_dup(cur));
	ck_assert_uint_eq(nft_last_stats(nf)->msgs, 0);

	h1 = handles_by_comment();
	j = nft_json();
	pk1 = json_packets(json_rule(j, "lan-self", "r5000", 0));
	json_decref(j);
	ck_assert_int_ge(pk1, 2);

	/* one rule in the middle: one NEWRULE, nothing else */
	next = ruleset_dup(cur);
	diags_init(&d);
	ru = parse_rule("mid from lan to self tcp dport 9999 accept", &d);
	ck_assert_ptr_nonnull(ru);
	diags_free(&d);
	ck_assert_int_eq(ruleset_insert_rule(next, 5001, ru), 0);
	apply(next);
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert_uint_eq(st->rules_deleted, 0);
	ck_assert_uint_eq(st->msgs, 3);		/* begin, NEWRULE, end */
	ck_assert_uint_lt(st->bytes, 1024);

	h2 = handles_by_comment();
	ck_assert_uint_eq(json_object_size(h2), json_object_size(h1) + 1);
	json_object_foreach(h1, k, v)
		ck_assert_msg(json_equal(v, json_object_get(h2, k)),
		    "rule %s changed handle", k);
	{
		int seen = 0;

		/* in lan-self or one of its sub-chains */
		json_object_foreach(h2, k, v)
			if (strncmp(k, "lan-self", 8) == 0 &&
			    strlen(k) > 4 && strcmp(k + strlen(k) - 4,
			    "/mid") == 0)
				seen++;
		ck_assert_int_eq(seen, 1);
	}
	json_decref(h1);
	json_decref(h2);

	/* the new rule sits where it belongs: after r4999, before r5000
	 * (in one of lan-self's sub-chains) */
	out = lab_output(lab, "router", "nft list table inet fwctl "
	    "| grep -n -e '\"r4999\"' -e '\"mid\"' -e '\"r5000\"' "
	    "| cut -d: -f2- | tr -s ' \\t' ' '");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "r4999") < strstr(out, "mid") &&
	    strstr(out, "mid") < strstr(out, "r5000"), "order: %s", out);
	free(out);

	j = nft_json();
	pk2 = json_packets(json_rule(j, "lan-self", "r5000", 0));
	json_decref(j);
	ck_assert_int_eq(pk2, pk1);

	out = lab_output(lab, "router", "nft list set inet fwctl bl");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "10.50.9.9") != NULL, "element gone: %s",
	    out);
	free(out);

	/* and deleting it sends one DELRULE */
	next = ruleset_dup(cur);
	si = ruleset_find_rule(next, "mid");
	ck_assert_int_ge(si, 0);
	rule_free(ruleset_remove_rule(next, (size_t)si));
	apply(next);
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->rules_deleted, 1);
	ck_assert_uint_eq(st->rules_added, 0);
	ck_assert_uint_eq(st->msgs, 3);
	must_tcp("lan", R_LAN, 15000);
	finish();
}
END_TEST

/* Rules of every chain whose name is prefix or prefix/<n>: the number of
 * such chains, the largest rule count of one of them. */
static void
chain_sizes(json_t *j, const char *prefix, int *nchains, int *largest)
{
	json_t *o, *r, *counts = json_object();
	const char *ch, *k;
	size_t i, len = strlen(prefix);
	json_t *v;

	json_array_foreach(json_object_get(j, "nftables"), i, o) {
		if ((r = json_object_get(o, "rule")) == NULL)
			continue;
		ch = json_string_value(json_object_get(r, "chain"));
		if (ch == NULL || strncmp(ch, prefix, len) != 0 ||
		    (ch[len] != '\0' && ch[len] != '/'))
			continue;
		v = json_object_get(counts, ch);
		json_object_set_new(counts, ch, json_integer(v ?
		    json_integer_value(v) + 1 : 1));
	}
	*nchains = 0;
	*largest = 0;
	json_object_foreach(counts, k, v) {
		(*nchains)++;
		if (json_integer_value(v) > *largest)
			*largest = (int)json_integer_value(v);
	}
	json_decref(counts);
}

START_TEST(single_rules_and_subchains)
{
	enum { N = 10000, MORE = 300, SEG = 512 };
	const struct nft_stats *st;
	struct ruleset *next;
	struct rule *ru;
	struct diags d;
	struct plan pl;
	char *text, *p, line[128];
	int i, nch, big, nch0, added_chains = 0;
	uint64_t pk0;
	ssize_t k;
	json_t *j;

	start();
	serve("router", "tcp", 16000);
	serve("router", "tcp", 16002);
	serve("router", "tcp", 29999);
	serve("router", "tcp", 31000 + 2 * MORE - 1);
	text = malloc((size_t)N * 128 + 1024);
	ck_assert_ptr_nonnull(text);
	p = text + sprintf(text, ZONES);
	for (i = 0; i < N; i++)
		p += sprintf(p, "rule r%d from lan to self tcp "
		    "sport " NOGROUP " dport %d "
		    "accept\n", i, 20000 + i);
	apply_text(text);
	free(text);
	st = nft_last_stats(nf);
	ck_assert(st->full_rebuild);
	ck_assert_uint_eq(st->compiled_rules, N);

	/* the user rules of lan-self are spread over sub-chains of at most
	 * SEG rules (plus, in lan-self itself, the jumps and the policy) */
	j = nft_json();
	chain_sizes(j, "lan-self", &nch0, &big);
	json_decref(j);
	ck_assert_int_ge(nch0, N / SEG);
	ck_assert_int_le(big, SEG + nch0 + 1);
	/* first match across them: the last rule accepts, the policy at the
	 * end of lan-self still drops */
	must_tcp("lan", R_LAN, 29999);
	mustnt_tcp("lan", R_LAN, 16000);

	/* one rule in the middle: that rule compiled, one NEWRULE */
	next = ruleset_dup(cur);
	diags_init(&d);
	ru = parse_rule("mid from lan to self tcp sport " NOGROUP
	    " dport 16000 accept", &d);
	ck_assert_ptr_nonnull(ru);
	ck_assert_int_eq(ruleset_insert_rule(next, 7000, ru), 0);
	apply_plan(next, PLAN_ADD, "mid");
	st = applied_in_place(1);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert_uint_eq(st->rules_deleted, 0);
	ck_assert_uint_eq(st->chains_added, 0);
	ck_assert_uint_eq(st->msgs, 3);		/* begin, NEWRULE, end */
	must_tcp("lan", R_LAN, 16000);
	assert_order("r6999", "mid", "r7000");

	/* the first rule from any to self: wan-self, dmz-self and any-self
	 * now share a body (pair chains that share their rules), so the
	 * whole diff lays it out */
	next = ruleset_dup(cur);
	ru = parse_rule("anyr from any to self tcp sport " NOGROUP
	    " dport 16001 accept", &d);
	ck_assert_ptr_nonnull(ru);
	ck_assert_int_eq(ruleset_add_rule(next, ru), 0);
	apply_plan(next, PLAN_ADD, "anyr");
	st = nft_last_stats(nf);
	ck_assert_uint_gt(st->compiled_rules, 1);
	ck_assert_uint_eq(st->chains_added, 1);
	/* the next one: one kernel rule in lan-self (which has rules of
	 * its own) and one in the body, placed alone */
	next = ruleset_dup(cur);
	ru = parse_rule("anyr2 from any to self tcp sport " NOGROUP
	    " dport 16003 accept", &d);
	ck_assert_ptr_nonnull(ru);
	ck_assert_int_eq(ruleset_add_rule(next, ru), 0);
	apply_plan(next, PLAN_ADD, "anyr2");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->compiled_rules, 1);
	ck_assert_uint_eq(st->rules_added, 2);
	ck_assert_uint_eq(st->msgs, 2 + 2);

	/* a change in place: the old copy goes, the new one takes its place */
	next = ruleset_dup(cur);
	k = ruleset_find_rule(next, "mid");
	ck_assert_int_ge(k, 0);
	ru = parse_rule("mid from lan to self tcp sport " NOGROUP
	    " dport 16002 accept", &d);
	ck_assert_ptr_nonnull(ru);
	rule_free(ruleset_remove_rule(next, (size_t)k));
	ck_assert_int_eq(ruleset_insert_rule(next, (size_t)k, ru), 0);
	apply_plan(next, PLAN_CHANGE, "mid");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->compiled_rules, 1);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert_uint_eq(st->rules_deleted, 1);
	must_tcp("lan", R_LAN, 16002);
	mustnt_tcp("lan", R_LAN, 16000);
	assert_order("r6999", "mid", "r7000");

	/* deleted: one DELRULE, nothing compiled */
	next = ruleset_dup(cur);
	k = ruleset_find_rule(next, "mid");
	rule_free(ruleset_remove_rule(next, (size_t)k));
	apply_plan(next, PLAN_REMOVE, "mid");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->compiled_rules, 0);
	ck_assert_uint_eq(st->rules_deleted, 1);
	ck_assert_uint_eq(st->rules_added, 0);
	ck_assert_uint_eq(st->msgs, 3);
	mustnt_tcp("lan", R_LAN, 16002);

	/* growth at the end fills the last sub-chain, then opens new ones:
	 * no chain ever holds more than SEG user rules */
	for (k = 0; k < 2; k++) {
		next = ruleset_dup(cur);
		plan_init(&pl);
		for (i = 0; i < MORE; i++) {
			int port = 31000 + (int)k * MORE + i;

			snprintf(line, sizeof(line), "g%d from lan to self "
			    "tcp sport " NOGROUP " dport %d accept", port, port);
			ru = parse_rule(line, &d);
			ck_assert_ptr_nonnull(ru);
			ck_assert_int_eq(ruleset_add_rule(next, ru), 0);
			snprintf(line, sizeof(line), "g%d", port);
			ck_assert_int_eq(plan_add(&pl, PLAN_ADD, PLAN_RULE,
			    line), 0);
		}
		ck_assert_int_eq(nft_apply(nf, cur, next, &pl, &d), 0);
		plan_free(&pl);
		ruleset_free(cur);
		cur = next;
		st = nft_last_stats(nf);
		ck_assert(!st->full_rebuild);
		ck_assert_uint_eq(st->compiled_rules, MORE);
		ck_assert_uint_eq(st->rules_added, MORE);
		added_chains += (int)st->chains_added;
	}
	ck_assert_int_ge(added_chains, 1);
	j = nft_json();
	chain_sizes(j, "lan-self", &nch, &big);
	json_decref(j);
	ck_assert_int_eq(nch, nch0 + added_chains);
	ck_assert_int_le(big, SEG + nch + 1);
	must_tcp("lan", R_LAN, 31000 + 2 * MORE - 1);
	assert_order("r9999", "g31000", "g31599");

	/* inserts in the middle of one segment: past 2 * SEG rules it is
	 * split in two, and the rules that move keep their counters */
	tcp("lan", R_LAN, 27100, NO_MS);	/* r7100: counted, refused */
	tcp("lan", R_LAN, 27100, NO_MS);
	pk0 = rule_packets("r7100");
	ck_assert_uint_ge(pk0, 2);
	added_chains = 0;
	for (k = 0; k < 2; k++) {
		ssize_t at = ruleset_find_rule(cur, "r7000");

		ck_assert_int_ge(at, 0);
		next = ruleset_dup(cur);
		plan_init(&pl);
		for (i = 0; i < MORE; i++) {
			int port = 40000 + (int)k * MORE + i;

			snprintf(line, sizeof(line), "x%d from lan to self "
			    "tcp sport " NOGROUP " dport %d accept", port, port);
			ru = parse_rule(line, &d);
			ck_assert_ptr_nonnull(ru);
			ck_assert_int_eq(ruleset_insert_rule(next, (size_t)at +
			    (size_t)i, ru), 0);
			snprintf(line, sizeof(line), "x%d", port);
			ck_assert_int_eq(plan_add(&pl, PLAN_ADD, PLAN_RULE,
			    line), 0);
		}
		ck_assert_int_eq(nft_apply(nf, cur, next, &pl, &d), 0);
		plan_free(&pl);
		ruleset_free(cur);
		cur = next;
		st = nft_last_stats(nf);
		ck_assert_uint_eq(st->compiled_rules, MORE);
		added_chains += (int)st->chains_added;
	}
	ck_assert_int_eq(added_chains, 1);
	j = nft_json();
	chain_sizes(j, "lan-self", &nch, &big);
	json_decref(j);
	ck_assert_int_le(big, 2 * SEG);
	ck_assert_uint_eq(rule_packets("r7100"), pk0);
	assert_order("r6999", "x40000", "x40599");
	assert_order("x40599", "r7000", "r7100");
	must_tcp("lan", R_LAN, 29999);

	/* our picture agrees with the kernel: no drift, and a whole diff
	 * finds nothing to send */
	ck_assert(!nft_drifted(nf));
	apply(ruleset_dup(cur));
	ck_assert_uint_eq(nft_last_stats(nf)->msgs, 0);

	/* a restart adopts the table: rules in sub-chains keep their
	 * counters too */
	nft_close(nf);
	nf = nft_open(NULL, &d);
	ck_assert_ptr_nonnull(nf);
	ck_assert_int_eq(nft_apply(nf, NULL, cur, NULL, &d), 0);
	ck_assert(nft_last_stats(nf)->full_rebuild);
	ck_assert_uint_eq(rule_packets("r7100"), pk0);
	must_tcp("lan", R_LAN, 29999);
	diags_free(&d);
	finish();
}
END_TEST

START_TEST(persist_and_adopt)
{
	json_t *j;
	json_int_t pk;
	struct ruleset *rs;
	struct nft *nf2;
	struct diags d;
	char *out;
	int rc;

	start();
	serve("router", "tcp", 3001);
	apply_text(ZONES "rule a from lan to self tcp dport 3001 accept\n");
	/* owned: nobody else may change it while we hold the socket */
	rc = lab_exec(lab, "router", "nft add rule inet fwctl lan-self "
	    "tcp dport 3002 accept 2>/dev/null");
	ck_assert_int_ne(rc, 0);
	/* nor another fwctl: refused, and said so */
	diags_init(&d);
	nf2 = nft_open(NULL, &d);
	ck_assert_ptr_nonnull(nf2);
	rs = rs_text(ZONES);
	ck_assert_int_eq(nft_apply(nf2, NULL, rs, NULL, &d), -1);
	ck_assert_uint_ge(d.n, 1);
	ck_assert_msg(strstr(d.v[0].msg, "another process") != NULL, "%s",
	    d.v[0].msg);
	ruleset_free(rs);
	nft_close(nf2);
	diags_free(&d);
	must_tcp("lan", R_LAN, 3001);
	nft_close(nf);
	nf = NULL;
	/* the table outlives its owner, and keeps filtering */
	out = lab_output(lab, "router", "nft list table inet fwctl");
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(strstr(out, "comment \"a\""));
	free(out);
	must_tcp("lan", R_LAN, 3001);
	mustnt_tcp("wan", R_WAN, 3001);
	/* a new owner adopts it */
	diags_init(&d);
	nf = nft_open(NULL, &d);
	ck_assert_ptr_nonnull(nf);
	ruleset_free(cur);
	cur = NULL;
	j = nft_json();
	pk = json_packets(json_rule(j, "lan-self", "a", 0));
	json_decref(j);
	ck_assert_int_ge(pk, 2);
	apply_text(ZONES "rule a from lan to self tcp dport 3001 accept\n");
	ck_assert(nft_last_stats(nf)->full_rebuild);
	/* rebuilt, but the counters carried over */
	j = nft_json();
	ck_assert_int_eq(json_packets(json_rule(j, "lan-self", "a", 0)), pk);
	json_decref(j);
	must_tcp("lan", R_LAN, 3001);
	rc = lab_exec(lab, "router", "nft add rule inet fwctl lan-self "
	    "tcp dport 3002 accept 2>/dev/null");
	ck_assert_int_ne(rc, 0);
	out = lab_output(lab, "router", "nft list tables | grep -c fwctl");
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "1\n");
	free(out);
	diags_free(&d);
	finish();
}
END_TEST

START_TEST(drift_and_flush)
{
	struct diags d;

	start();
	apply_text(ZONES "rule a from lan to self tcp dport 3101 accept\n"
	    "rule b from any to self tcp dport 3102 accept\n");
	/* a rule with `any` has a copy in lan-self, which has a rule of its
	 * own, and one in the body wan-self, dmz-self and any-self share
	 * (each jumps to it): removing it deletes both copies, the three
	 * jumps and the body, nothing else */
	apply_text(ZONES "rule a from lan to self tcp dport 3101 accept\n");
	ck_assert_uint_eq(nft_last_stats(nf)->rules_deleted, 5);
	ck_assert_uint_eq(nft_last_stats(nf)->rules_added, 0);
	ck_assert_uint_eq(nft_last_stats(nf)->msgs, 8);
	ck_assert(!nft_drifted(nf));
	/* another table's change is not drift of ours */
	ck_assert_int_eq(lab_exec(lab, "router", "nft add table inet third"),
	    0);
	ck_assert(!nft_drifted(nf));
	lab_exec(lab, "router", "nft delete table inet third");
	diags_init(&d);
	ck_assert_int_eq(nft_flush(nf, &d), 0);
	diags_free(&d);
	ck_assert_int_eq(nft_table_present(nf), 0);
	assert_other();
	finish();
}
END_TEST

/* --- drift: what `nft` changed while nobody owned the table ----------- */

/* The chain ("lan-self/1") and handle of the first rule with this
 * comment in chain or its sub-chains. */
static json_int_t
rule_where(const char *chain, const char *comment, char *where, size_t len)
{
	json_t *j = nft_json(), *r;
	json_int_t h;

	r = json_rule(j, chain, comment, 0);
	ck_assert_msg(r != NULL, "no rule \"%s\" in %s", comment, chain);
	h = json_integer_value(json_object_get(r, "handle"));
	snprintf(where, len, "%s",
	    json_string_value(json_object_get(r, "chain")));
	json_decref(j);
	ck_assert_int_gt(h, 0);
	return h;
}

/* The kernel handle of the first rule with this comment in chain. */
static json_int_t
rule_handle(const char *chain, const char *comment)
{
	char where[128];

	return rule_where(chain, comment, where, sizeof(where));
}

/* The priority of one of our base chains, from nft -j. */
static json_int_t
chain_prio(const char *name)
{
	json_t *j = nft_json(), *o, *c;
	json_int_t prio = 0;
	size_t i;
	bool found = false;

	json_array_foreach(json_object_get(j, "nftables"), i, o)
		if ((c = json_object_get(o, "chain")) != NULL &&
		    strcmp(json_string_value(json_object_get(c, "name")),
		    name) == 0 && json_object_get(c, "prio") != NULL) {
			prio = json_integer_value(json_object_get(c, "prio"));
			found = true;
		}
	json_decref(j);
	ck_assert_msg(found, "no base chain %s", name);
	return prio;
}

/*
 * While a handle owns the table, `nft` is refused (EPERM); once it is
 * closed, a rule inserted, a named rule deleted, a rule edited and a
 * set's element removed and another added by hand are each reported by
 * name; a start-like apply from a fresh handle repairs all of it (traffic
 * shows it) and nothing is reported afterwards.
 */
START_TEST(drift_by_hand_found_and_repaired)
{
	static const char text[] = ZONES
	    "set adm ipv4 { 10.50.1.10 }\n"
	    "rule web from wan to self tcp dport 3872 accept\n"
	    "rule adm from lan to self tcp dport 3873 src @adm accept\n"
	    "rule edit from lan to self tcp dport 3874 accept\n";
	struct nft_drift dr;
	json_int_t h_web, h_edit;
	char *out, want[128];
	int rc;

	start();
	serve("router", "tcp", 3871);
	serve("router", "tcp", 3872);
	serve("router", "tcp", 3873);
	serve("router", "tcp", 3874);
	apply_text(text);
	assert_no_drift(cur);
	mustnt_tcp("wan", R_WAN, 3871);
	must_tcp("wan", R_WAN, 3872);
	must_tcp("lan", R_LAN, 3873);
	must_tcp("lan", R_LAN, 3874);

	/* owned: the kernel refuses another writer, and nothing changes */
	out = lab_output_status(lab, &rc, "router", "nft insert rule inet "
	    "fwctl wan-self ip saddr %s accept 2>&1", H_WAN);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(rc != 0 && strstr(out, "Operation not permitted"),
	    "nft while owned: rc %d: %s", rc, out);
	free(out);
	ck_assert_int_ne(lab_exec(lab, "router", "nft add element inet fwctl "
	    "adm '{ 10.50.1.99 }' 2>/dev/null"), 0);
	assert_no_drift(cur);
	mustnt_tcp("wan", R_WAN, 3871);

	/* stopped: the table stays and `nft` may edit it */
	h_web = rule_handle("wan-self", "web");
	h_edit = rule_handle("lan-self", "edit");
	stop_owner();
	ck_assert_int_eq(lab_exec(lab, "router", "nft insert rule inet fwctl "
	    "wan-self ip saddr %s accept", H_WAN), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "nft delete rule inet fwctl "
	    "wan-self handle %lld", (long long)h_web), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "nft replace rule inet fwctl "
	    "lan-self handle %lld tcp dport 3874 drop comment edit",
	    (long long)h_edit), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "nft delete element inet "
	    "fwctl adm '{ 10.50.1.10 }' && nft add element inet fwctl adm "
	    "'{ 10.50.1.99 }'"), 0);
	must_tcp("wan", R_WAN, 3871);		/* the hand-made accept */
	mustnt_tcp("lan", R_LAN, 3873);
	mustnt_tcp("lan", R_LAN, 3874);

	/* a daemon starting reads it back, before it writes anything */
	start_owner();
	drift(cur, &dr);
	ck_assert(!dr.table_missing);
	ck_assert(drift_has(&dr, "chain wan-self has a rule fwctl did not "
	    "make (handle ", "ip saddr " H_WAN " accept)"));
	ck_assert(drift_has(&dr, "rule web (chain wan-self) is missing",
	    NULL));
	ck_assert(drift_has(&dr, "rule edit (chain lan-self) differs from the "
	    "ruleset", NULL));
	snprintf(want, sizeof(want), "(handle %lld: comment \"edit\")",
	    (long long)h_edit);
	ck_assert(drift_has(&dr, "chain lan-self has a rule fwctl did not "
	    "make", want));
	ck_assert(drift_has(&dr, "set adm lacks element 10.50.1.10", NULL));
	ck_assert(drift_has(&dr, "set adm has an element fwctl did not add: "
	    "10.50.1.99", NULL));
	if (dr.n != 6)
		drift_print(&dr);
	ck_assert_uint_eq(dr.n, 6);
	nft_drift_free(&dr);
	/* reading changed nothing */
	must_tcp("wan", R_WAN, 3871);

	/* the start repairs it */
	apply_fresh(cur);
	ck_assert(nft_last_stats(nf)->full_rebuild);
	assert_no_drift(cur);
	mustnt_tcp("wan", R_WAN, 3871);
	must_tcp("wan", R_WAN, 3872);
	must_tcp("lan", R_LAN, 3873);
	must_tcp("lan", R_LAN, 3874);
	mustnt_tcp("lan", R_LAN, 3871);
	/* and owns the table again */
	ck_assert_int_ne(lab_exec(lab, "router", "nft add rule inet fwctl "
	    "wan-self accept 2>/dev/null"), 0);
	finish();
}
END_TEST

/* The ruleset of the project's rules/ directory (every feature a user
 * meets first: sets with and without timeouts, lists, limits, logs,
 * NAT). */
static struct ruleset *
rs_examples(void)
{
	struct ruleset *rs = ruleset_new();
	const char *src = getenv("FWCTL_SRC");
	char dir[4096];
	struct diags d;

	snprintf(dir, sizeof(dir), "%s/rules", src != NULL ? src : ".");
	diags_init(&d);
	if (parse_dir(rs, dir, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("%s does not parse", dir);
	}
	diags_free(&d);
	return rs;
}

/*
 * No false drift: the example rules, a table adopted by a fresh handle,
 * run-time elements with timeouts (one that expires on its own is not
 * drift; one added by hand is), and fwctl's own rules, chains and NAT
 * entries by their names when they go.
 */
START_TEST(drift_names_fwctl_objects)
{
	struct ruleset *rs;
	struct nft_drift dr;
	json_int_t h;

	start();
	/* wildcards, network zones, rejects, logs, ranges, lists, IPv6 */
	apply_text("zone lan { interface lan* }\n"
	    "zone dmz { interface dmz0; network 10.50.2.0/24 }\n"
	    "zone vpn { network 10.50.0.0/24, fd50::/64 }\n"
	    "policy self -> vpn drop\n"
	    "policy lan -> any accept\n"
	    "rule v from vpn to self tcp dport 3301-3309 accept\n"
	    "rule rj from vpn to self tcp dport { 2801, 2805 } reject\n"
	    "rule lg from any to dmz tcp dport 80 dst fd50:2::10 log "
	    "prefix \"fw: \" drop\n"
	    "rule ic from lan to self icmp type echo-request accept "
	    "limit 5/second burst 10\n");
	assert_no_drift(cur);
	stop_owner();
	start_owner();
	assert_no_drift(cur);
	apply_fresh(cur);
	rs = rs_examples();
	apply(rs);
	assert_no_drift(cur);
	stop_owner();
	start_owner();
	assert_no_drift(cur);

	/* by hand: an element with a timeout, a policy's rule, a NAT
	 * entry's rule, a chain's policy, a chain and a set of one's own */
	stop_owner();
	ck_assert_int_eq(lab_exec(lab, "router", "nft add element inet fwctl "
	    "blocklist '{ 192.0.2.7 timeout 1h }'"), 0);
	h = rule_handle("lan-wan", "policy lan -> wan");
	ck_assert_int_eq(lab_exec(lab, "router", "nft delete rule inet fwctl "
	    "lan-wan handle %lld", (long long)h), 0);
	h = rule_handle("prerouting", "web");
	ck_assert_int_eq(lab_exec(lab, "router", "nft delete rule inet fwctl "
	    "prerouting handle %lld", (long long)h), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "nft add chain inet fwctl "
	    "mine && nft add set inet fwctl mine '{ type ipv4_addr; }'"), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "nft add chain inet fwctl "
	    "forward '{ type filter hook forward priority %lld; policy drop; "
	    "}'", (long long)chain_prio("forward")), 0);
	start_owner();
	drift(cur, &dr);
	ck_assert(drift_has(&dr, "set blocklist has an element fwctl did not "
	    "add: 192.0.2.7", NULL));
	ck_assert(drift_has(&dr, "policy lan -> wan (chain lan-wan) is "
	    "missing", NULL));
	ck_assert(drift_has(&dr, "nat entry web (chain prerouting) is "
	    "missing", NULL));
	ck_assert(drift_has(&dr, "chain mine is not fwctl's", NULL));
	ck_assert(drift_has(&dr, "set mine is not fwctl's", NULL));
	ck_assert(drift_has(&dr, "chain forward differs from the ruleset "
	    "(policy drop where the ruleset says accept)", NULL));
	if (dr.n != 6)
		drift_print(&dr);
	ck_assert_uint_eq(dr.n, 6);
	nft_drift_free(&dr);
	apply_fresh(cur);
	assert_no_drift(cur);

	/* a run-time element with a timeout that expires while stopped is
	 * not drift */
	{
		struct ruleset *next = ruleset_dup(cur);
		ssize_t si = ruleset_find_set(next, "blocklist");
		struct set_elem el;
		struct diags d;
		struct plan pl;

		ck_assert_int_ge(si, 0);
		memset(&el, 0, sizeof(el));
		el.key.addr.family = AF_INET;
		el.key.addr.prefix = 32;
		el.key.addr.bytes[0] = 192;
		el.key.addr.bytes[1] = 0;
		el.key.addr.bytes[2] = 2;
		el.key.addr.bytes[3] = 8;
		el.timeout_ms = 1000;
		ck_assert_int_eq(set_add_elem(next->sets[si], &el), 0);
		plan_init(&pl);
		ck_assert_int_eq(plan_add_elem(&pl, PLAN_ADD, next->sets[si],
		    &el), 0);
		diags_init(&d);
		ck_assert_int_eq(nft_apply(nf, cur, next, &pl, &d), 0);
		diags_free(&d);
		plan_free(&pl);
		ruleset_free(cur);
		cur = next;
	}
	ck_assert_int_eq(lab_exec(lab, "router", "nft list set inet fwctl "
	    "blocklist | grep -q 192.0.2.8"), 0);
	stop_owner();
	/* bounded wait for the kernel to expire it (1 s timeout) */
	ck_assert_int_eq(lab_exec(lab, "router", "for i in $(seq 50); do "
	    "nft list set inet fwctl blocklist | grep -q 192.0.2.8 || "
	    "exit 0; sleep 0.1; done; exit 1"), 0);
	start_owner();
	assert_no_drift(cur);

	/* no table at all */
	{
		struct diags d;

		apply_fresh(cur);
		diags_init(&d);
		ck_assert_int_eq(nft_flush(nf, &d), 0);
		diags_free(&d);
	}
	drift(cur, &dr);
	ck_assert(dr.table_missing);
	ck_assert(drift_has(&dr, "table inet fwctl is missing", NULL));
	nft_drift_free(&dr);
	finish();
}
END_TEST

/*
 * The layout is not drift: user rules spread over sub-chains (and the
 * jumps to them), rules merged into a group. Changes inside them are:
 * a rule deleted from a sub-chain, a group's element deleted (the rule
 * it stands for) and one added by hand; the start repairs them.
 */
START_TEST(drift_in_subchains_and_groups)
{
	enum { N = 1200 };
	struct nft_drift dr;
	char *text, *p, where[128];
	json_int_t h;
	int i;

	start();
	serve("router", "tcp", 4105);
	serve("router", "tcp", 4120);
	serve("router", "tcp", 39100);
	text = malloc((size_t)N * 128 + 2048);
	ck_assert_ptr_nonnull(text);
	p = text + sprintf(text, ZONES);
	for (i = 0; i < N; i++)
		p += sprintf(p, "rule s%d from lan to self tcp sport " NOGROUP
		    " dport %d accept\n", i, 38000 + i);
	for (i = 0; i < 10; i++)
		p += sprintf(p, "rule g%d from wan to self tcp dport %d "
		    "src " H_WAN " accept\n", i, 4100 + i);
	apply_text(text);
	free(text);
	must_tcp("lan", R_LAN, 39100);
	must_tcp("wan", R_WAN, 4105);
	mustnt_tcp("wan", R_WAN, 4120);
	assert_no_drift(cur);
	stop_owner();
	start_owner();
	assert_no_drift(cur);

	stop_owner();
	h = rule_where("lan-self", "s1100", where, sizeof(where));
	ck_assert_msg(strncmp(where, "lan-self/", 9) == 0, "s1100 in %s",
	    where);
	ck_assert_int_eq(lab_exec(lab, "router", "nft delete rule inet fwctl "
	    "%s handle %lld", where, (long long)h), 0);
	mustnt_tcp("lan", R_LAN, 39100);
	if (compile_grouping()) {
		/* nft's words cannot name a set with a '/': its JSON can */
		ck_assert_int_eq(lab_exec(lab, "router", "echo '{\"nftables\":"
		    "[{\"delete\":{\"element\":{\"family\":\"inet\",\"table\":"
		    "\"fwctl\",\"name\":\"__g/wan-self/g0\",\"elem\":"
		    "[{\"concat\":[\"" H_WAN "\",4105]}]}}},"
		    "{\"add\":{\"element\":{\"family\":\"inet\",\"table\":"
		    "\"fwctl\",\"name\":\"__g/wan-self/g0\",\"elem\":"
		    "[{\"concat\":[\"" H_WAN "\",4120]}]}}}]}' | nft -j -f -"),
		    0);
		mustnt_tcp("wan", R_WAN, 4105);
		must_tcp("wan", R_WAN, 4120);
	}
	start_owner();
	drift(cur, &dr);
	ck_assert(drift_has(&dr, "rule s1100 (chain lan-self) is missing",
	    NULL));
	if (compile_grouping()) {
		ck_assert(drift_has(&dr, "rule g5 (chain wan-self) is missing",
		    NULL));
		ck_assert(drift_has(&dr, "chain wan-self has a rule fwctl did "
		    "not make (element " H_WAN " . 4120 of set "
		    "__g/wan-self/g0)", NULL));
		ck_assert_uint_eq(dr.n, 3);
	} else
		ck_assert_uint_eq(dr.n, 1);
	nft_drift_free(&dr);
	apply_fresh(cur);
	assert_no_drift(cur);
	must_tcp("lan", R_LAN, 39100);
	must_tcp("wan", R_WAN, 4105);
	mustnt_tcp("wan", R_WAN, 4120);
	finish();
}
END_TEST

/*
 * How a set stores its elements is not drift: a set that became an
 * interval set stays one (nft.c keeps it), while a fresh compile makes a
 * hash set of the same hosts. An interval removed by hand is named.
 */
START_TEST(drift_ignores_set_storage)
{
	static const char text[] = ZONES "set h ipv4 { 10.50.1.10 }\n"
	    "rule y from lan to self tcp dport 3881 src @h accept\n";
	struct ruleset *next;
	struct set_elem el;
	struct nft_drift dr;
	struct diags d;
	struct plan pl;
	ssize_t si;

	start();
	serve("router", "tcp", 3881);
	apply_text(text);
	next = ruleset_dup(cur);
	si = ruleset_find_set(next, "h");
	ck_assert_int_ge(si, 0);
	memset(&el, 0, sizeof(el));
	el.key.addr.family = AF_INET;
	el.key.addr.prefix = 24;
	el.key.addr.bytes[0] = 10;
	el.key.addr.bytes[1] = 50;
	el.key.addr.bytes[2] = 9;
	ck_assert_int_eq(set_add_elem(next->sets[si], &el), 0);
	plan_init(&pl);
	ck_assert_int_eq(plan_add_elem(&pl, PLAN_ADD, next->sets[si], &el),
	    0);
	diags_init(&d);
	ck_assert_int_eq(nft_apply(nf, cur, next, &pl, &d), 0);
	diags_free(&d);
	plan_free(&pl);
	ruleset_free(cur);
	cur = next;
	assert_no_drift(cur);
	/* the network goes; the set stays an interval set */
	apply_text(text);
	ck_assert_int_eq(lab_exec(lab, "router", "nft list set inet fwctl h "
	    "| grep -q 'flags interval'"), 0);
	assert_no_drift(cur);
	stop_owner();
	start_owner();
	assert_no_drift(cur);

	/* an interval taken out by hand */
	apply_fresh(cur);
	apply_text(ZONES "set h ipv4 { 10.50.1.10, 10.50.9.0/24 }\n"
	    "rule y from lan to self tcp dport 3881 src @h accept\n");
	must_tcp("lan", R_LAN, 3881);
	stop_owner();
	ck_assert_int_eq(lab_exec(lab, "router", "nft delete element inet "
	    "fwctl h '{ 10.50.9.0/24, 10.50.1.10 }'"), 0);
	mustnt_tcp("lan", R_LAN, 3881);
	start_owner();
	drift(cur, &dr);
	ck_assert(drift_has(&dr, "set h lacks element "
	    "10.50.9.0-10.50.9.255", NULL));
	ck_assert(drift_has(&dr, "set h lacks element 10.50.1.10", NULL));
	ck_assert_uint_eq(dr.n, 2);
	nft_drift_free(&dr);
	apply_fresh(cur);
	assert_no_drift(cur);
	must_tcp("lan", R_LAN, 3881);
	finish();
}
END_TEST

START_TEST(zone_change_incremental)
{
	const struct nft_stats *st;
	json_t *j;
	json_int_t pk;

	start();
	serve("router", "tcp", 3201);
	serve("dmz", "tcp", 3202);
	apply_text("zone lan { interface lan0 }\n"
	    "rule a from lan to self tcp dport 3201 accept\n");
	must_tcp("lan", R_LAN, 3201);
	mustnt_tcp("lan", H_DMZ, 3202);
	/* a new zone: pair chains and dispatch rules change; rule a stays
	 * with its counter */
	apply_text("zone lan { interface lan0 }\n"
	    "zone dmz { interface dmz0 }\n"
	    "policy lan -> dmz accept\n"
	    "rule a from lan to self tcp dport 3201 accept\n");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	j = nft_json();
	pk = json_packets(json_rule(j, "lan-self", "a", 0));
	json_decref(j);
	ck_assert_int_ge(pk, 1);
	must_tcp("lan", H_DMZ, 3202);
	must_tcp("lan", R_LAN, 3201);
	finish();
}
END_TEST

START_TEST(wildcards_and_network_zones)
{
	start();
	serve("router", "tcp", 3301);
	serve("router", "tcp", 3302);
	serve("lan", "tcp", 3303);
	serve("wan", "tcp", 3304);
	serve("dmz", "tcp", 3305);
	serve("dmz", "tcp", 3306);
	/* wan0 is in no zone: the wan host is recognised by its network */
	apply_text("zone lan { interface lan* }\n"
	    "zone dmz { interface dmz0 }\n"
	    "zone vpn { network 10.50.0.0/24, fd50::/64 }\n"
	    "policy self -> vpn drop\n"
	    "rule v from vpn to self tcp dport 3301 accept\n"
	    "rule l from lan to self tcp dport 3302 accept\n"
	    "rule ld from lan to dmz tcp dport 3305 accept\n");
	/* lan0 -> dmz0 is not in fwd/all's map of exact names (it holds
	 * dmz0 . dmz0): forward goes on to fwd/lan, whose lan-dmz drops
	 * what no rule accepts, rather than to its own policy, accept */
	must_tcp("lan", H_DMZ, 3305);
	mustnt_tcp("lan", H_DMZ, 3306);
	{
		json_t *j = nft_json();

		ck_assert(json_has_chain(j, "fwd/all"));
		json_decref(j);
	}
	must_tcp("wan", R_WAN, 3301);
	must_tcp("wan", R_WAN6, 3301);
	mustnt_tcp("wan", R_WAN, 3302);
	must_tcp("lan", R_LAN, 3302);		/* lan0 matches lan* */
	mustnt_tcp("lan", R_LAN, 3301);
	mustnt_tcp("dmz", "10.50.2.1", 3302);
	mustnt_tcp("router", H_WAN, 3304);	/* self -> vpn drop */
	mustnt_tcp("router", "fd50::2", 3304);
	must_tcp("router", H_LAN, 3303);	/* self -> lan: default */
	finish();
}
END_TEST

/*
 * A zone with interfaces and networks holds only its interfaces' traffic
 * from its networks (fwctl.rules(5)): the lan host outside lan's networks
 * is in no zone, so lan's rules and policies no longer let it through and
 * rules `from any` do. A family without networks listed is not narrowed.
 */
#define NARROW(nets, rules) \
	"zone dmz { interface dmz0 }\n" \
	"zone lan { interface lan0; network " nets " }\n" \
	"policy lan -> dmz accept\n" rules

START_TEST(zone_networks_narrow)
{
	char *out;

	start();
	serve("router", "tcp", 3601);
	serve("dmz", "tcp", 3602);
	apply_text(NARROW("10.50.1.0/24",
	    "rule l from lan to self tcp dport 3601 accept\n"));
	must_tcp("lan", R_LAN, 3601);
	must_tcp("lan", H_DMZ, 3602);
	must_tcp("lan", R_LAN6, 3601);

	/* a /28 that does not hold 10.50.1.10: that host is unzoned */
	apply_text(NARROW("10.50.1.128/28",
	    "rule l from lan to self tcp dport 3601 accept\n"));
	mustnt_tcp("lan", R_LAN, 3601);
	mustnt_tcp("lan", H_DMZ, 3602);		/* any -> dmz: dropped */
	must_tcp("lan", R_LAN6, 3601);		/* IPv6 not narrowed */
	out = lab_output(lab, "router", "nft list chain inet fwctl input");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "iifname \"lan0\" ip saddr != @__l/") !=
	    NULL && strstr(out, " goto any-self") != NULL, "input: %s", out);
	assert_list_holds(out, "ip saddr != @", "{ 0.0.0.0, 10.50.1.128/28 }");
	free(out);
	/* what is in no zone is what `any` rules are for */
	apply_text(NARROW("10.50.1.128/28",
	    "rule a from any to self tcp dport 3601 accept\n"));
	must_tcp("lan", R_LAN, 3601);

	/* IPv6 narrowed as well (link-local stays on the link) */
	apply_text(NARROW("10.50.1.0/24, fd50:9::/64",
	    "rule l from lan to self tcp dport 3601 accept\n"));
	must_tcp("lan", R_LAN, 3601);
	mustnt_tcp("lan", R_LAN6, 3601);
	apply_text(NARROW("10.50.1.0/24, fd50:1::/64",
	    "rule l from lan to self tcp dport 3601 accept\n"));
	must_tcp("lan", R_LAN6, 3601);
	finish();
}
END_TEST

#undef NARROW

START_TEST(set_elements_change)
{
	static const char rule[] =
	    "rule x from lan to self tcp dport 3401 src @s accept\n";
	char text[512];

	start();
	serve("router", "tcp", 3401);
	snprintf(text, sizeof(text), ZONES "set s ipv4 { 10.50.1.0/28 }\n%s",
	    rule);
	apply_text(text);
	must_tcp("lan", R_LAN, 3401);
	/* elements change, the rule and the set stay */
	snprintf(text, sizeof(text), ZONES "set s ipv4 { 10.50.1.16/28 }\n%s",
	    rule);
	apply_text(text);
	ck_assert_uint_eq(nft_last_stats(nf)->rules_added, 0);
	ck_assert_uint_eq(nft_last_stats(nf)->rules_deleted, 0);
	mustnt_tcp("lan", R_LAN, 3401);
	/* an interval that starts where an old one started */
	snprintf(text, sizeof(text), ZONES "set s ipv4 { 10.50.1.0/27 }\n%s",
	    rule);
	apply_text(text);
	ck_assert_uint_eq(nft_last_stats(nf)->elems_added, 2);
	ck_assert_uint_eq(nft_last_stats(nf)->elems_deleted, 2);
	must_tcp("lan", R_LAN, 3401);
	/* a set of hosts is a hash set; the first network added as an
	 * element makes it an interval set (the set and its rule again) */
	apply_text(ZONES "set h ipv4 { 10.50.1.10 }\n"
	    "rule y from lan to self tcp dport 3401 src @h accept\n");
	must_tcp("lan", R_LAN, 3401);
	{
		struct ruleset *next = ruleset_dup(cur);
		struct set_elem el;
		struct diags d;
		struct plan pl;
		ssize_t si = ruleset_find_set(next, "h");
		char *out;

		memset(&el, 0, sizeof(el));
		el.key.addr.family = AF_INET;
		el.key.addr.prefix = 24;
		el.key.addr.bytes[0] = 10;
		el.key.addr.bytes[1] = 50;
		el.key.addr.bytes[2] = 9;
		ck_assert_int_eq(set_add_elem(next->sets[si], &el), 0);
		plan_init(&pl);
		ck_assert_int_eq(plan_add_elem(&pl, PLAN_ADD, next->sets[si],
		    &el), 0);
		diags_init(&d);
		ck_assert_int_eq(nft_apply(nf, cur, next, &pl, &d), 0);
		diags_free(&d);
		plan_free(&pl);
		ruleset_free(cur);
		cur = next;
		ck_assert_uint_eq(nft_last_stats(nf)->rules_added, 1);
		out = lab_output(lab, "router", "nft list set inet fwctl h");
		ck_assert_ptr_nonnull(out);
		ck_assert_msg(strstr(out, "flags interval") != NULL &&
		    strstr(out, "10.50.9.0/24") != NULL, "set: %s", out);
		free(out);
	}
	must_tcp("lan", R_LAN, 3401);
	/* and stays one when the network goes: nothing but the element */
	apply_text(ZONES "set h ipv4 { 10.50.1.10 }\n"
	    "rule y from lan to self tcp dport 3401 src @h accept\n");
	ck_assert_uint_eq(nft_last_stats(nf)->rules_added, 0);
	ck_assert_uint_eq(nft_last_stats(nf)->elems_deleted, 2);
	must_tcp("lan", R_LAN, 3401);

	/* a redefined set (ipv4 -> timeout) takes its rule along */
	snprintf(text, sizeof(text), ZONES "set s ipv4 { timeout 1h; "
	    "10.50.1.0/27 }\n%s", rule);
	apply_text(text);
	ck_assert_uint_eq(nft_last_stats(nf)->rules_added, 1);
	ck_assert_uint_eq(nft_last_stats(nf)->rules_deleted, 1);
	must_tcp("lan", R_LAN, 3401);
	finish();
}
END_TEST

/*
 * One rule with a list of both families (fwctl.rules(5)): validated as
 * written, it lets the IPv4 and the IPv6 connection to the listed hosts
 * through, as two kernel rules, and nothing else: not another port, not
 * another address of the same host.
 */
START_TEST(mixed_families)
{
	struct ruleset *rs;
	struct diags d;
	json_t *j;

	start();
	ck_assert_int_eq(lab_exec(lab, "dmz", "ip addr add 10.50.2.11/24 dev "
	    "eth0 && ip addr add fd50:2::11/64 dev eth0 nodad"), 0);
	serve("dmz", "tcp", 3651);
	serve("dmz", "tcp", 3652);
	rs = rs_text(ZONES "rule dual from lan to dmz tcp dport 3651 "
	    "dst { " H_DMZ ", " H_DMZ6 " } accept\n");
	diags_init(&d);
	ck_assert_int_eq(validate_ruleset(rs, &d), 0);
	diags_free(&d);
	apply(rs);
	must_tcp("lan", H_DMZ, 3651);
	must_tcp("lan", H_DMZ6, 3651);
	mustnt_tcp("lan", H_DMZ, 3652);
	mustnt_tcp("lan", H_DMZ6, 3652);
	mustnt_tcp("lan", "10.50.2.11", 3651);
	mustnt_tcp("lan", "fd50:2::11", 3651);
	j = nft_json();
	ck_assert_ptr_nonnull(json_rule(j, "lan-dmz", "dual", 0));
	ck_assert_ptr_nonnull(json_rule(j, "lan-dmz", "dual", 1));
	ck_assert_ptr_null(json_rule(j, "lan-dmz", "dual", 2));
	json_decref(j);
	lab_exec(lab, "dmz", "ip addr del 10.50.2.11/24 dev eth0; "
	    "ip addr del fd50:2::11/64 dev eth0");
	finish();
}
END_TEST

/* A service name of /etc/services opens its port: dport ssh is 22. */
START_TEST(service_names)
{
	start();
	serve("router", "tcp", 22);
	serve("router", "tcp", 23);
	apply_text(ZONES "rule ssh from lan to self tcp dport ssh accept\n");
	ck_assert_uint_eq(cur->rules[0]->dport.ranges[0].lo, 22);
	must_tcp("lan", R_LAN, 22);
	must_tcp("lan", R_LAN6, 22);
	mustnt_tcp("lan", R_LAN, 23);
	mustnt_tcp("wan", R_WAN, 22);
	finish();
}
END_TEST

/*
 * A limit per source: each source address has a bucket of its own in the
 * rule's meter, so one source spending its burst does not starve another.
 * Only the first packet of a connection meets the rule (established
 * traffic passes before it): the burst is a number of connections. A rate
 * of one an hour refills nothing while the test runs.
 */
START_TEST(limit_per_source)
{
	json_t *j, *arr, *o, *set;
	char *out;
	size_t i;
	int k;
	bool seen4 = false;

	start();
	serve("router", "tcp", 3901);
	apply_text(ZONES "rule lim from any to self tcp dport 3901 accept "
	    "limit 1/hour burst 3 per source\n");
	for (k = 0; k < 3; k++)
		must_tcp("lan", R_LAN, 3901);
	mustnt_tcp("lan", R_LAN, 3901);
	/* the lan host spent its burst; the dmz host has its own */
	for (k = 0; k < 3; k++)
		must_tcp("dmz", "10.50.2.1", 3901);
	mustnt_tcp("dmz", "10.50.2.1", 3901);
	mustnt_tcp("lan", R_LAN, 3901);
	/* an IPv6 source is another source, in the IPv6 meter */
	for (k = 0; k < 3; k++)
		must_tcp("lan", R_LAN6, 3901);
	mustnt_tcp("lan", R_LAN6, 3901);

	/* the independent reader: a bounded dynamic set with both hosts */
	j = nft_json();
	arr = json_object_get(j, "nftables");
	json_array_foreach(arr, i, o) {
		if ((set = json_object_get(o, "set")) == NULL ||
		    strcmp(json_string_value(json_object_get(set, "name")),
		    "__m/lim#4") != 0)
			continue;
		seen4 = true;
		ck_assert_int_eq(json_integer_value(json_object_get(set,
		    "size")), LIMIT_METER_SIZE);
		ck_assert_int_eq(json_integer_value(json_object_get(set,
		    "timeout")), 3 * 3600);
		out = json_dumps(json_object_get(set, "elem"), 0);
		ck_assert_ptr_nonnull(out);
		ck_assert_msg(strstr(out, "\"" H_LAN "\"") != NULL &&
		    strstr(out, "\"10.50.2.10\"") != NULL, "%s", out);
		free(out);
	}
	ck_assert_msg(seen4, "no meter set __m/lim#4");
	json_decref(j);
	/* a restart over it: the buckets the packets made are no drift,
	 * and the table (buckets and all) is taken as it is */
	restart_takes_table();
	mustnt_tcp("lan", R_LAN, 3901);		/* its bucket stayed spent */
	/* the meter goes with its rule */
	apply_text(ZONES);
	out = lab_output(lab, "router", "nft list sets table inet fwctl");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "__m/") == NULL, "%s", out);
	free(out);
	finish();
}
END_TEST

/*
 * A policy that logs: what falls to it is logged (the log rule counts it)
 * through a rate limit, then meets the verdict; and a rule for one IP
 * version without an address.
 */
START_TEST(policy_log_and_family)
{
	json_t *j, *r, *lg;

	start();
	serve("router", "tcp", 3961);
	serve("router", "tcp", 3962);
	apply_text(ZONES "policy any -> self drop log\n"
	    "rule v6 from lan to self ip6 tcp dport 3961 accept\n");
	must_tcp("lan", R_LAN6, 3961);
	mustnt_tcp("lan", R_LAN, 3961);		/* ip6 only */
	mustnt_tcp("wan", R_WAN, 3962);		/* to the policy */
	mustnt_tcp("wan", R_WAN6, 3962);

	j = nft_json();
	r = json_rule(j, "wan-self", "policy any -> self log", 0);
	ck_assert_ptr_nonnull(r);
	lg = json_expr(r, "log");
	ck_assert_ptr_nonnull(lg);
	ck_assert_str_eq(json_string_value(json_object_get(lg, "prefix")),
	    "wan->self drop: ");
	ck_assert_ptr_nonnull(json_expr(r, "limit"));
	ck_assert_int_ge(json_packets(r), 2);
	/* the verdict still comes after it */
	r = json_rule(j, "wan-self", "policy any -> self", 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_ge(json_packets(r), 2);
	/* one kernel rule for the ip6 rule, none for IPv4 */
	ck_assert_ptr_nonnull(json_rule(j, "lan-self", "v6", 0));
	ck_assert_ptr_null(json_rule(j, "lan-self", "v6", 1));
	json_decref(j);
	finish();
}
END_TEST

/*
 * Lists are named sets shared by every rule with the same list
 * (docs/design-compile.md, "Lists"): two rules with one list share one
 * set, traffic goes by the lists, a whole apply removes a list no rule
 * uses, single-rule changes make their list, and none of it is drift.
 */
START_TEST(lists_shared)
{
	json_t *j, *ra, *rb, *rc;
	const char *la, *lb, *lc;
	int p;

	start();
	for (p = 3701; p <= 3706; p++)
		serve("router", "tcp", p);
	apply_text("zone lan { interface lan0 }\n"
	    "rule a from lan to self tcp dport { 3701, 3702 } accept\n"
	    "rule b from lan to self tcp dport { 3701, 3702 } src "
	    "10.50.1.0/24 accept\n"
	    "rule c from lan to self tcp dport { 3703, 3704 } accept\n");
	must_tcp("lan", R_LAN, 3701);
	must_tcp("lan", R_LAN, 3702);
	must_tcp("lan", R_LAN, 3704);
	mustnt_tcp("lan", R_LAN, 3705);
	j = nft_json();
	ck_assert_ptr_nonnull(ra = json_rule(j, "lan-self", "a", 0));
	ck_assert_ptr_nonnull(rb = json_rule(j, "lan-self", "b", 0));
	ck_assert_ptr_nonnull(rc = json_rule(j, "lan-self", "c", 0));
	ck_assert_ptr_nonnull(la = json_list_ref(ra));
	ck_assert_ptr_nonnull(lb = json_list_ref(rb));
	ck_assert_ptr_nonnull(lc = json_list_ref(rc));
	ck_assert_str_eq(la, lb);		/* one set for one list */
	ck_assert_str_ne(la, lc);
	ck_assert_int_eq(json_lists(j, "inet_service"), 2);
	json_decref(j);
	assert_no_drift(cur);

	/* c goes in a whole apply: its list goes with it */
	apply_text("zone lan { interface lan0 }\n"
	    "rule a from lan to self tcp dport { 3701, 3702 } accept\n"
	    "rule b from lan to self tcp dport { 3701, 3702 } src "
	    "10.50.1.0/24 accept\n");
	mustnt_tcp("lan", R_LAN, 3704);
	must_tcp("lan", R_LAN, 3701);
	j = nft_json();
	ck_assert_int_eq(json_lists(j, "inet_service"), 1);
	json_decref(j);

	/* one rule with a new list, the way add-rule sends it */
	apply_plan(rs_text("zone lan { interface lan0 }\n"
	    "rule a from lan to self tcp dport { 3701, 3702 } accept\n"
	    "rule b from lan to self tcp dport { 3701, 3702 } src "
	    "10.50.1.0/24 accept\n"
	    "rule d from lan to self tcp dport { 3705, 3706 } accept\n"),
	    PLAN_ADD, "d");
	must_tcp("lan", R_LAN, 3705);
	must_tcp("lan", R_LAN, 3706);
	mustnt_tcp("lan", R_LAN, 3704);
	j = nft_json();
	ck_assert_int_eq(json_lists(j, "inet_service"), 2);
	json_decref(j);
	assert_no_drift(cur);
	/* and deleted again: closed, and still no drift */
	apply_plan(rs_text("zone lan { interface lan0 }\n"
	    "rule a from lan to self tcp dport { 3701, 3702 } accept\n"
	    "rule b from lan to self tcp dport { 3701, 3702 } src "
	    "10.50.1.0/24 accept\n"), PLAN_REMOVE, "d");
	mustnt_tcp("lan", R_LAN, 3705);
	must_tcp("lan", R_LAN, 3702);
	assert_no_drift(cur);
	finish();
}
END_TEST

/* Packets of rule name in lan-self, as `nft -j` shows them. */
static json_int_t
lan_self_packets(const char *name)
{
	json_t *j = nft_json(), *r;
	json_int_t pk;

	r = json_rule(j, "lan-self", name, 0);
	ck_assert_msg(r != NULL, "no rule %s in lan-self", name);
	pk = json_packets(r);
	json_decref(j);
	return pk;
}

/*
 * A start reads the table once: the drift check's read gives the adoption
 * its counters (no second dump), but only while the table is as read: a
 * rule deleted by hand in between is not given back its old count.
 */
START_TEST(start_reads_once)
{
	struct nft_drift dr;
	json_int_t pa, pb;
	char *out, *h;
	int i;

	start();
	serve("router", "tcp", 3011);
	serve("router", "tcp", 3012);
	apply_text(ZONES "rule a from lan to self tcp dport 3011 accept\n"
	    "rule b from lan to self tcp dport 3012 accept\n");
	for (i = 0; i < 2; i++) {
		must_tcp("lan", R_LAN, 3011);
		must_tcp("lan", R_LAN, 3012);
	}
	pa = lan_self_packets("a");
	pb = lan_self_packets("b");
	ck_assert_int_ge(pa, 2);
	ck_assert_int_ge(pb, 2);

	/* a restart: no drift, so the table is taken as it is (one
	 * NEWTABLE claims it), counts and all */
	stop_owner();
	start_owner();
	drift(cur, &dr);
	ck_assert_uint_eq(dr.n, 0);
	nft_drift_free(&dr);
	apply_fresh(cur);
	ck_assert(!nft_last_stats(nf)->full_rebuild);
	ck_assert_uint_eq(nft_last_stats(nf)->msgs, 3);
	ck_assert_uint_eq(nft_last_stats(nf)->rules_added, 0);
	ck_assert_int_eq(lan_self_packets("a"), pa);
	ck_assert_int_eq(lan_self_packets("b"), pb);
	/* owned again: nobody else may change it */
	ck_assert_int_ne(lab_exec(lab, "router", "nft add rule inet fwctl "
	    "lan-self tcp dport 3013 accept 2>/dev/null"), 0);

	/* again, with b deleted by hand after the drift check read it */
	stop_owner();
	start_owner();
	drift(cur, &dr);
	ck_assert_uint_eq(dr.n, 0);
	nft_drift_free(&dr);
	out = lab_output(lab, "router", "nft -a list chain inet fwctl "
	    "lan-self | grep 'comment \"b\"'");
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(h = strstr(out, "# handle "));
	ck_assert_int_eq(lab_exec(lab, "router", "nft delete rule inet fwctl "
	    "lan-self handle %d", atoi(h + 9)), 0);
	free(out);
	apply_fresh(cur);
	ck_assert_int_eq(lan_self_packets("a"), pa);
	ck_assert_int_eq(lan_self_packets("b"), 0);	/* a new rule */
	must_tcp("lan", R_LAN, 3012);
	finish();
}
END_TEST

/* How many shared lists ("__l/" sets) our table has. */
static int
lists_in_kernel(void)
{
	char *out = lab_output(lab, "router", "nft list sets table inet "
	    "fwctl | grep -c 'set __l/'");
	int k;

	ck_assert_ptr_nonnull(out);
	k = atoi(out);
	free(out);
	return k;
}

/*
 * A table found at start as the ruleset says is taken as it is, with its
 * sub-chains, groups and shared lists, and changes after that go the
 * usual single-rule ways; a table whose rules are all there but in
 * another order (no drift: order is not compared) is built again, so
 * first match is the ruleset's.
 */
START_TEST(start_takes_table_as_it_is)
{
	enum { N = 1200 };
	struct nft_drift dr;
	struct ruleset *next, *swapped;
	struct rule *ru;
	struct diags d;
	char *text, *p;
	int i, nlists;

	start();
	serve("router", "tcp", 3021);
	serve("router", "tcp", 3022);
	serve("router", "tcp", 3023);
	serve("router", "tcp", 21199);
	text = malloc((size_t)N * 128 + 2048);
	ck_assert_ptr_nonnull(text);
	/* NAT entries too: their rules come last in the plan */
	p = text + sprintf(text, ZONES "nat masq masquerade from lan to wan\n"
	    "nat web forward from wan tcp dport 8080 to " H_DMZ ":80\n"
	    "rule x from lan to self tcp dport "
	    "3021 src " H_LAN " drop\n"
	    "rule y from lan to self tcp dport 3021 accept\n"
	    "rule l from lan to self tcp dport { 3022, 3023 } accept\n"
	    "rule l2 from lan to self tcp dport { 3024, 3025 } accept\n");
	for (i = 0; i < 6; i++)		/* a group */
		p += sprintf(p, "rule g%d from wan to self tcp dport %d src "
		    "10.9.0.%d accept\n", i, 4000 + i, i + 1);
	for (i = 0; i < N; i++)		/* sub-chains */
		p += sprintf(p, "rule r%d from lan to self tcp sport " NOGROUP
		    " dport %d accept\n", i, 20000 + i);
	apply_text(text);
	free(text);
	mustnt_tcp("lan", R_LAN, 3021);
	must_tcp("lan", R_LAN, 3022);
	/* l2 deleted alone: its list stays in the kernel, unused, until
	 * the next whole diff */
	nlists = lists_in_kernel();
	ck_assert_int_ge(nlists, 2);
	next = ruleset_dup(cur);
	rule_free(ruleset_remove_rule(next,
	    (size_t)ruleset_find_rule(next, "l2")));
	apply_plan(next, PLAN_REMOVE, "l2");
	ck_assert_int_eq(lists_in_kernel(), nlists);

	stop_owner();
	start_owner();
	drift(cur, &dr);
	ck_assert_uint_eq(dr.n, 0);
	nft_drift_free(&dr);
	apply_fresh(cur);
	ck_assert(!nft_last_stats(nf)->full_rebuild);
	ck_assert_uint_eq(nft_last_stats(nf)->msgs, 3);
	mustnt_tcp("lan", R_LAN, 3021);
	must_tcp("lan", R_LAN, 3023);
	must_tcp("lan", R_LAN, 21199);	/* in a sub-chain */

	/* the picture taken is right: single changes land where they
	 * belong, and the table still shows no drift */
	next = ruleset_dup(cur);
	diags_init(&d);
	ru = parse_rule("mid from lan to self tcp sport " NOGROUP
	    " dport 3022 drop", &d);
	ck_assert_ptr_nonnull(ru);
	ck_assert_int_eq(ruleset_insert_rule(next, 2, ru), 0);
	apply_plan(next, PLAN_ADD, "mid");
	ck_assert(!nft_last_stats(nf)->full_rebuild);
	ck_assert_uint_eq(nft_last_stats(nf)->rules_added, 1);
	mustnt_tcp("lan", R_LAN, 3022);
	must_tcp("lan", R_LAN, 3023);
	next = ruleset_dup(cur);
	rule_free(ruleset_remove_rule(next,
	    (size_t)ruleset_find_rule(next, "r1199")));
	apply_plan(next, PLAN_REMOVE, "r1199");
	ck_assert_uint_eq(nft_last_stats(nf)->rules_deleted, 1);
	mustnt_tcp("lan", R_LAN, 21199);
	next = ruleset_dup(cur);
	rule_free(ruleset_remove_rule(next,
	    (size_t)ruleset_find_rule(next, "g5")));
	apply_plan(next, PLAN_REMOVE, "g5");
	drift(cur, &dr);
	drift_print(&dr);
	ck_assert_uint_eq(dr.n, 0);
	nft_drift_free(&dr);
	diags_free(&d);
	/* a whole diff deletes the list left over */
	ck_assert_int_eq(lists_in_kernel(), nlists);
	apply(ruleset_dup(cur));
	ck_assert_int_eq(lists_in_kernel(), nlists - 1);
	must_tcp("lan", R_LAN, 3023);

	/* the same rules with y before x, as another start left them:
	 * every rule is there, so no drift, but y matches first */
	stop_owner();
	start_owner();
	swapped = ruleset_dup(cur);
	ru = ruleset_remove_rule(swapped, (size_t)ruleset_find_rule(swapped,
	    "x"));
	ck_assert_int_eq(ruleset_insert_rule(swapped, 1, ru), 0);
	apply_fresh(swapped);
	ruleset_free(swapped);
	must_tcp("lan", R_LAN, 3021);
	restart_no_drift();
	apply_fresh(cur);
	ck_assert(nft_last_stats(nf)->full_rebuild);
	mustnt_tcp("lan", R_LAN, 3021);

	/* a start that applies another ruleset than the one checked: the
	 * picture is not used */
	stop_owner();
	start_owner();
	drift(cur, &dr);
	ck_assert_uint_eq(dr.n, 0);
	nft_drift_free(&dr);
	next = ruleset_dup(cur);
	diags_init(&d);
	ru = parse_rule("late from lan to self tcp dport 3021 drop", &d);
	ck_assert_ptr_nonnull(ru);
	ck_assert_int_eq(ruleset_add_rule(next, ru), 0);
	diags_free(&d);
	apply_fresh(next);
	ck_assert(nft_last_stats(nf)->full_rebuild);
	ruleset_free(cur);
	cur = next;
	drift(cur, &dr);
	ck_assert_uint_eq(dr.n, 0);
	nft_drift_free(&dr);
	mustnt_tcp("lan", R_LAN, 3021);
	finish();
}
END_TEST

/* How many kernel rules of the table carry this comment. */
static int
copies(const char *comment)
{
	char *out = lab_output(lab, "router", "nft list table inet fwctl | "
	    "grep -c 'comment \"%s\"' || true", comment);
	int n;

	ck_assert_ptr_nonnull(out);
	n = atoi(out);
	free(out);
	return n;
}

/* Whether pair chain `chain` jumps to the body `to` it shares. */
static bool
jumps_to(const char *chain, const char *to)
{
	char *out = lab_output(lab, "router", "nft list chain inet fwctl %s",
	    chain);
	char want[128];
	bool yes;

	ck_assert_ptr_nonnull(out);
	snprintf(want, sizeof(want), "jump %s\n", to);
	yes = strstr(out, want) != NULL;
	free(out);
	return yes;
}

/* Adds (at index at, or at the end when at < 0) or removes one rule the
 * way the engine does, and checks the picture against the kernel. */
static void
one_change(const char *name, const char *text, ssize_t at)
{
	struct ruleset *next = ruleset_dup(cur);
	struct rule *ru;
	struct diags d;

	diags_init(&d);
	if (text == NULL) {
		rule_free(ruleset_remove_rule(next,
		    (size_t)ruleset_find_rule(next, name)));
		apply_plan(next, PLAN_REMOVE, name);
	} else {
		ru = parse_rule(text, &d);
		ck_assert_ptr_nonnull(ru);
		if (at < 0)
			ck_assert_int_eq(ruleset_add_rule(next, ru), 0);
		else
			ck_assert_int_eq(ruleset_insert_rule(next, (size_t)at,
			    ru), 0);
		apply_plan(next, PLAN_ADD, name);
	}
	diags_free(&d);
	assert_no_drift(cur);
}

/*
 * Pair chains covered by the same rules share them: lan-self, dmz-self
 * and any-self hold only `from any to self` rules and jump to one body,
 * while wan-self, whose own rules interleave with them, holds its copy of
 * every rule in ruleset order. Rules with overlapping ports decide by
 * first match, from lan (through the body) and from wan (its own chain),
 * before and after single adds and deletes (placed alone, in the body
 * once), and when a change makes or breaks the sharing (the whole diff).
 */
START_TEST(any_rules_shared_first_match)
{
	static const int svc[] = { 16100, 16101, 16102, 16103 };
	const struct nft_stats *st;
	size_t i;

	start();
	for (i = 0; i < sizeof(svc) / sizeof(*svc); i++)
		serve("router", "tcp", svc[i]);
	apply_text(ZONES
	    "rule a1 from any to self tcp dport 16100 accept\n"
	    "rule p1 from wan to self tcp dport 16100-16101 drop\n"
	    "rule a2 from any to self tcp dport 16101 accept\n"
	    "rule a3 from any to self tcp dport 16102 drop\n"
	    "rule p2 from wan to self tcp dport 16102 accept\n"
	    "rule a4 from any to self tcp dport 16100-16103 accept\n"
	    "rule p3 from wan to self tcp dport 16103 drop\n");
	/* one body for lan-self, dmz-self and any-self (named after the
	 * last of them), wan-self on its own */
	ck_assert(jumps_to("lan-self", "any-self+"));
	ck_assert(jumps_to("dmz-self", "any-self+"));
	ck_assert(!jumps_to("wan-self", "any-self+"));
	ck_assert_int_eq(copies("a1"), 2);
	ck_assert_int_eq(copies("p1"), 1);
	must_tcp("lan", R_LAN, 16100);		/* a1 */
	must_tcp("wan", R_WAN, 16100);		/* a1 before p1 */
	must_tcp("lan", R_LAN, 16101);		/* a2 */
	mustnt_tcp("wan", R_WAN, 16101);	/* p1 before a2 */
	mustnt_tcp("lan", R_LAN, 16102);	/* a3 before a4 */
	mustnt_tcp("wan", R_WAN, 16102);	/* a3 before p2 */
	must_tcp("lan", R_LAN, 16103);		/* a4 */
	must_tcp("wan", R_WAN, 16103);		/* a4 before p3 */
	assert_no_drift(cur);

	/* a rule from any first: placed alone, once in the body and once
	 * in wan-self */
	one_change("a0", "a0 from any to self tcp dport 16100 drop", 0);
	st = applied_in_place(1);
	ck_assert_uint_eq(st->rules_added, 2);
	mustnt_tcp("lan", R_LAN, 16100);
	mustnt_tcp("wan", R_WAN, 16100);
	must_tcp("lan", R_LAN, 16101);
	/* one of wan's own in the middle: wan-self alone */
	one_change("p0", "p0 from wan to self tcp dport 16103 drop", 6);
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->compiled_rules, 1);
	ck_assert_uint_eq(st->rules_added, 1);
	mustnt_tcp("wan", R_WAN, 16103);	/* p0 before a4 */
	must_tcp("lan", R_LAN, 16103);
	/* deletes: one DELRULE per copy */
	one_change("a0", NULL, 0);
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->compiled_rules, 0);
	ck_assert_uint_eq(st->rules_deleted, 2);
	must_tcp("lan", R_LAN, 16100);
	must_tcp("wan", R_WAN, 16100);
	one_change("p0", NULL, 0);
	ck_assert_uint_eq(nft_last_stats(nf)->rules_deleted, 1);
	must_tcp("wan", R_WAN, 16103);

	/* lan's first rule of its own breaks the sharing for lan-self: the
	 * whole diff gives it its own copies, and first match holds there */
	one_change("q1", "q1 from lan to self tcp dport 16101-16102 drop", 1);
	st = nft_last_stats(nf);
	ck_assert_uint_gt(st->compiled_rules, 1);
	ck_assert(!jumps_to("lan-self", "any-self+"));
	ck_assert(jumps_to("dmz-self", "any-self+"));
	ck_assert_int_eq(copies("a1"), 3);
	must_tcp("lan", R_LAN, 16100);		/* a1 before q1 */
	mustnt_tcp("lan", R_LAN, 16101);	/* q1 before a2 */
	must_tcp("wan", R_WAN, 16100);
	must_tcp("lan", R_LAN, 16103);
	/* and its last one going makes it share again */
	one_change("q1", NULL, 0);
	ck_assert(jumps_to("lan-self", "any-self+"));
	ck_assert_int_eq(copies("a1"), 2);
	must_tcp("lan", R_LAN, 16101);
	mustnt_tcp("lan", R_LAN, 16102);
	mustnt_tcp("wan", R_WAN, 16101);

	/* a whole diff of the same ruleset finds nothing to do, and a
	 * restart takes the table as it is */
	apply(ruleset_dup(cur));
	ck_assert_uint_eq(nft_last_stats(nf)->msgs, 0);
	stop_owner();
	start_owner();
	assert_no_drift(cur);
	apply_fresh(cur);
	ck_assert(!nft_last_stats(nf)->full_rebuild);
	must_tcp("lan", R_LAN, 16101);
	mustnt_tcp("wan", R_WAN, 16101);
	one_change("a5", "a5 from any to self tcp dport 16101 drop", 2);
	ck_assert_uint_eq(nft_last_stats(nf)->rules_added, 2);
	mustnt_tcp("lan", R_LAN, 16101);
	finish();
}
END_TEST

static Suite *
kernel_suite(void)
{
	Suite *s = suite_create("kernel");
	TCase *tc = tcase_create("kernel");

	tcase_add_unchecked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, minimal_end_to_end);
	tcase_add_test(tc, policies_and_defaults);
	tcase_add_test(tc, policies_alone);
	tcase_add_test(tc, frame_chains_come_and_go);
	tcase_add_test(tc, zones_in_place);
	tcase_add_test(tc, unzoned_interfaces);
	tcase_add_test(tc, ports);
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, icmp_and_state);
	tcase_add_test(tc, limit);
	tcase_add_test(tc, log_and_reject);
	tcase_add_test(tc, kernel_refusal_keeps_old);
	tcase_add_test(tc, big_ruleset_incremental);
	tcase_add_test(tc, single_rules_and_subchains);
	tcase_add_test(tc, persist_and_adopt);
	tcase_add_test(tc, drift_and_flush);
	tcase_add_test(tc, drift_by_hand_found_and_repaired);
	tcase_add_test(tc, drift_names_fwctl_objects);
	tcase_add_test(tc, drift_in_subchains_and_groups);
	tcase_add_test(tc, drift_ignores_set_storage);
	tcase_add_test(tc, zone_change_incremental);
	tcase_add_test(tc, wildcards_and_network_zones);
	tcase_add_test(tc, zone_networks_narrow);
	tcase_add_test(tc, set_elements_change);
	tcase_add_test(tc, mixed_families);
	tcase_add_test(tc, service_names);
	tcase_add_test(tc, limit_per_source);
	tcase_add_test(tc, policy_log_and_family);
	tcase_add_test(tc, lists_shared);
	tcase_add_test(tc, start_reads_once);
	tcase_add_test(tc, start_takes_table_as_it_is);
	tcase_add_test(tc, any_rules_shared_first_match);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return kernel_lab_run("lab_kernel", kernel_suite);
}
