/*
 * NAT and the DMZ preset, end to end: rule text parsed, validated,
 * compiled and applied (incrementally, as fwctld does) by nft.c in the
 * lab's router namespace, judged by real connections and by what the far
 * end saw (the probe server answers with the peer address and its own
 * address and port).
 *
 * The wan host has no route back to lan or dmz, so a lan host reaching it
 * at all proves masquerade; the setup gives it a route to the dmz network
 * only, so that "wan -> dmz is refused" is the firewall's doing, not the
 * routing's (the positive controls below show the route works).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/fwd.h"
#include "lib/lab.h"
#include "nft.h"
#include "parse.h"
#include "ruleset.h"

#define WAIT_MS		1500	/* a connection that should fail */
#define OK_MS		lab_ms(5000)	/* one that should succeed */

static struct lab *lab;

static const char base_rules[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0 }\n"
    "zone dmz { interface dmz0; dmz }\n"
    "\n"
    "policy lan -> wan accept\n"
    "\n"
    "nat masq masquerade from lan to wan\n"
    "nat dmzout snat from dmz to wan as 10.50.0.100\n"
    "nat web forward from wan tcp dport 8080 to 10.50.2.10:80\n"
    "nat web6 forward from wan tcp dport 8080 to [fd50:2::10]:80\n"
    "nat games forward from wan udp dport 7000-7005 to 10.50.2.10\n"
    "nat ssh forward from wan tcp dport 2222 to 10.50.2.10:22 "
    "src 198.51.100.0/24\n"
    "nat lanweb forward from wan tcp dport 9090 to 10.50.1.10:80\n";


static struct nft *nf;
static struct ruleset *cur;	/* what the kernel holds */
static char *cur_text;

/* Makes the kernel hold text, changing what it held (incrementally, as
 * fwctld does). */
static void
set_rules(const char *text)
{
	struct ruleset *rs = ruleset_new();
	struct diags d;

	ck_assert_ptr_nonnull(rs);
	diags_init(&d);
	if (parse_buffer(rs, "lab.rules", text, strlen(text), &d) != 0 ||
	    validate_ruleset(rs, &d) != 0 ||
	    nft_apply(nf, cur, rs, NULL, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("cannot apply:\n%s", text);
	}
	diags_free(&d);
	ruleset_free(cur);
	cur = rs;
	free(cur_text);
	cur_text = strdup(text);
	ck_assert_ptr_nonnull(cur_text);
}

/* The current rules without the lines starting with drop (may be NULL),
 * with line add (may be NULL) at the end. */
static void
edit(const char *drop, const char *add)
{
	char *out, *o;
	const char *l, *nl;

	out = calloc(1, strlen(cur_text) + (add ? strlen(add) : 0) + 2);
	ck_assert_ptr_nonnull(out);
	o = out;
	for (l = cur_text; *l != '\0'; l = nl) {
		nl = strchr(l, '\n');
		nl = nl ? nl + 1 : l + strlen(l);
		if (drop != NULL && strncmp(l, drop, strlen(drop)) == 0)
			continue;
		memcpy(o, l, (size_t)(nl - l));
		o += nl - l;
	}
	if (add != NULL)
		o += sprintf(o, "%s\n", add);
	set_rules(out);
	free(out);
}

/* Every test: into the router namespace (this forked child only), from
 * an empty table to the base ruleset. */
static void
reset(void)
{
	struct diags d;

	ck_assert_int_eq(lab_enter(lab, "router"), 0);
	lab_exec(lab, "router", "nft delete table inet fwctl 2>/dev/null; "
	    "true");
	diags_init(&d);
	nf = nft_open(NULL, &d);
	if (nf == NULL)
		diags_print(&d, stderr);
	ck_assert_msg(nf != NULL, "nft_open failed");
	diags_free(&d);
	cur = NULL;
	set_rules(base_rules);
}

/* The reply of the server at addr:port reached from role, or NULL when
 * the connection failed. Static buffer. */
static const char *
reach(const char *from, const char *proto, const char *addr, int port,
    int timeout)
{
	static char reply[256];

	if (lab_connect(lab, from, proto, addr, port, timeout, reply,
	    sizeof(reply)) != 0)
		return NULL;
	return reply;
}

/* The server's reply starts with the peer address it saw, then its port,
 * then the server's own address and port. */
static void
assert_seen(const char *reply, const char *peer, const char *local,
    int lport)
{
	char p[64], l[64];
	int pport, port;

	ck_assert_msg(reply != NULL, "no connection (expected peer %s at "
	    "%s:%d)", peer, local, lport);
	ck_assert_msg(sscanf(reply, "%63s %d %63s %d", p, &pport, l,
	    &port) == 4, "server reply \"%s\"", reply);
	ck_assert_str_eq(p, peer);
	if (local != NULL) {
		ck_assert_str_eq(l, local);
		ck_assert_int_eq(port, lport);
	}
}

#define REFUSED(from, proto, addr, port) \
	ck_assert_msg(reach(from, proto, addr, port, WAIT_MS) == NULL, \
	    "%s reached %s %s:%d, expected it refused", from, proto, addr, \
	    port)

/* `nft list chain` in the router, as an independent reader. */
static char *
nft_chain(const char *chain)
{
	char *s = lab_output(lab, "router", "nft list chain inet fwctl %s",
	    chain);

	ck_assert_ptr_nonnull(s);
	return s;
}

static void
lab_nat_setup(void)
{
	static const struct { const char *role, *proto; int port; } srv[] = {
		{ "wan", "tcp", 80 }, { "wan", "udp", 53 },
		{ "dmz", "tcp", 80 }, { "dmz", "tcp", 22 },
		{ "dmz", "udp", 7003 }, { "dmz", "udp", 7006 },
		{ "lan", "tcp", 80 }, { "router", "tcp", 5000 },
	};
	size_t i;

	if ((lab = lab_up()) == NULL) {
		fprintf(stderr, "lab_nat: lab_up failed\n");
		exit(1);
	}
	/* the SNAT address is one of the router's (someone must answer ARP
	 * for it); the wan host may route to the dmz, not to the lan */
	if (lab_exec(lab, "router", "ip addr add 10.50.0.100/24 dev wan0") ||
	    lab_exec(lab, "wan", "ip route add 10.50.2.0/24 via 10.50.0.1")) {
		fprintf(stderr, "lab_nat: cannot set up addresses\n");
		goto fail;
	}
	for (i = 0; i < sizeof(srv) / sizeof(srv[0]); i++)
		if (lab_serve(lab, srv[i].role, srv[i].proto,
		    srv[i].port) == -1) {
			fprintf(stderr, "lab_nat: cannot serve %s %d in %s\n",
			    srv[i].proto, srv[i].port, srv[i].role);
			goto fail;
		}
	return;
 fail:
	lab_down(lab);
	lab = NULL;
	exit(1);
}

static void
lab_nat_teardown(void)
{
	lab_down(lab);
	lab = NULL;
	lab_sweep();
}
START_TEST(masquerade_lan_to_wan)
{
	reset();
	/* the wan host cannot route to 10.50.1.0/24: it saw the router */
	assert_seen(reach("lan", "tcp", "10.50.0.2", 80, OK_MS), "10.50.0.1",
	    "10.50.0.2", 80);
	assert_seen(reach("lan", "udp", "10.50.0.2", 53, OK_MS), "10.50.0.1",
	    "10.50.0.2", 53);
	/* one masquerade line covers IPv6 too */
	assert_seen(reach("lan", "tcp", "fd50::2", 80, OK_MS), "fd50::1",
	    "fd50::2", 80);

	/* without the masquerade entry the replies find no way back */
	edit("nat masq ", NULL);
	REFUSED("lan", "tcp", "10.50.0.2", 80);
}
END_TEST

START_TEST(snat_dmz_to_wan)
{
	char *s;

	reset();
	/* DMZ -> WAN passes (preset), with the SNAT address */
	assert_seen(reach("dmz", "tcp", "10.50.0.2", 80, OK_MS),
	    "10.50.0.100", "10.50.0.2", 80);
	s = nft_chain("postrouting");
	ck_assert_msg(strstr(s, "snat ip to 10.50.0.100") != NULL, "%s", s);
	ck_assert_msg(strstr(s, "meta nfproto ipv4 iifname \"dmz0\" "
	    "oifname \"wan0\"") != NULL, "%s", s);
	free(s);
	/* an IPv4 `as` leaves IPv6 alone: no way back from the wan host */
	REFUSED("dmz", "tcp", "fd50::2", 80);

	/* snat replaced by masquerade: the wan host sees the router's own
	 * address instead */
	edit("nat dmzout ", "nat dmzmasq masquerade from dmz to wan");
	assert_seen(reach("dmz", "tcp", "10.50.0.2", 80, OK_MS), "10.50.0.1",
	    "10.50.0.2", 80);
}
END_TEST

START_TEST(forward_ipv4_ipv6)
{
	char *s;

	reset();
	/* the router's wan address, port 8080, lands on dmz port 80; the
	 * dmz host sees the real client */
	assert_seen(reach("wan", "tcp", "10.50.0.1", 8080, OK_MS),
	    "10.50.0.2", "10.50.2.10", 80);
	assert_seen(reach("wan", "tcp", "fd50::1", 8080, OK_MS), "fd50::2",
	    "fd50:2::10", 80);
	/* another port of the router is not forwarded (wan -> self drops) */
	REFUSED("wan", "tcp", "10.50.0.1", 8081);

	s = nft_chain("prerouting");
	ck_assert_msg(strstr(s, "dnat ip to 10.50.2.10:80") != NULL, "%s", s);
	ck_assert_msg(strstr(s, "dnat ip6 to [fd50:2::10]:80") != NULL, "%s",
	    s);
	ck_assert_msg(strstr(s, "fib daddr type local") != NULL, "%s", s);
	free(s);
}
END_TEST

START_TEST(forward_port_range)
{
	reset();
	/* 7000-7005 keep their port: 7003 lands on dmz 7003 */
	assert_seen(reach("wan", "udp", "10.50.0.1", 7003, OK_MS),
	    "10.50.0.2", "10.50.2.10", 7003);
	/* 7006 is outside the range (a server listens there in the dmz) */
	REFUSED("wan", "udp", "10.50.0.1", 7006);
	/* a shorter range that still holds 7003, then one that does not */
	edit("nat games ", "nat games forward from wan udp dport 7003-7010 to "
	    "10.50.2.10");
	assert_seen(reach("wan", "udp", "10.50.0.1", 7006, OK_MS),
	    "10.50.0.2", "10.50.2.10", 7006);
	edit("nat games ", "nat games forward from wan udp dport 7004-7010 to "
	    "10.50.2.10");
	REFUSED("wan", "udp", "10.50.0.1", 7003);
}
END_TEST

START_TEST(forward_source_restriction)
{
	reset();
	/* only 198.51.100.0/24 may use 2222: the wan host (10.50.0.2) not */
	REFUSED("wan", "tcp", "10.50.0.1", 2222);
	/* nor through the open filter directly */
	REFUSED("wan", "tcp", "10.50.2.10", 22);
	edit("nat ssh ", "nat ssh forward from wan tcp dport 2222 to "
	    "10.50.2.10:22 "
	    "src { 10.50.0.2, 198.51.100.0/24 }");
	assert_seen(reach("wan", "tcp", "10.50.0.1", 2222, OK_MS),
	    "10.50.0.2", "10.50.2.10", 22);
	/* the forward opens the forwarded flow, not the target's port */
	REFUSED("wan", "tcp", "10.50.2.10", 22);
}
END_TEST

START_TEST(hairpin_from_lan)
{
	reset();
	/* a lan host uses the public address and reaches the dmz server;
	 * the target is on another zone, so it sees the client itself */
	assert_seen(reach("lan", "tcp", "10.50.0.1", 8080, OK_MS),
	    "10.50.1.10", "10.50.2.10", 80);
	assert_seen(reach("lan", "tcp", "fd50::1", 8080, OK_MS),
	    "fd50:1::10", "fd50:2::10", 80);
	/* a forward whose target is in the lan itself: the flow goes back
	 * out through lan0 and is masqueraded so replies come through the
	 * router (here the client is the target: it sees the router) */
	assert_seen(reach("lan", "tcp", "10.50.0.1", 9090, OK_MS),
	    "10.50.1.1", "10.50.1.10", 80);
	/* the router's own lan address on a forwarded port is the router:
	 * the hairpin takes only the other addresses of the host */
	edit(NULL, "nat r5000 forward from wan tcp dport 5000 to "
	    "10.50.2.10:80");
	edit(NULL, "rule adm from lan to self tcp dport 5000 accept");
	assert_seen(reach("lan", "tcp", "10.50.1.1", 5000, OK_MS),
	    "10.50.1.10", "10.50.1.1", 5000);
	assert_seen(reach("lan", "tcp", "10.50.0.1", 5000, OK_MS),
	    "10.50.1.10", "10.50.2.10", 80);
	/* the same for IPv6: masqueraded to the router's lan address */
	edit(NULL, "nat lanweb6 forward from wan tcp dport 9090 to "
	    "[fd50:1::10]:80");
	assert_seen(reach("lan", "tcp", "fd50::1", 9090, OK_MS),
	    "fd50:1::1", "fd50:1::10", 80);
	/* from the wan the same forward shows the real client */
	assert_seen(reach("wan", "tcp", "10.50.0.1", 9090, OK_MS),
	    "10.50.0.2", "10.50.1.10", 80);
}
END_TEST

/*
 * Hairpin from the DMZ: a DMZ host reaching a forwarded service through
 * the public address gets it, masqueraded when the target is in the DMZ
 * too (replies come back through the router), and the DMZ preset still
 * keeps it from the router itself and from the lan directly.
 */
START_TEST(hairpin_from_dmz)
{
	reset();
	assert_seen(reach("dmz", "tcp", "10.50.0.1", 8080, OK_MS),
	    "10.50.2.1", "10.50.2.10", 80);
	assert_seen(reach("dmz", "tcp", "fd50::1", 8080, OK_MS),
	    "fd50:2::1", "fd50:2::10", 80);
	/* a forward into the lan: what the internet may reach, the DMZ may
	 * reach the same way */
	assert_seen(reach("dmz", "tcp", "10.50.0.1", 9090, OK_MS),
	    "10.50.2.10", "10.50.1.10", 80);
	REFUSED("dmz", "tcp", "10.50.1.10", 80);
	REFUSED("dmz", "tcp", "10.50.0.1", 5000);	/* the router itself */
	REFUSED("dmz", "tcp", "10.50.2.1", 8080);	/* its own side: no hairpin */
}
END_TEST

START_TEST(dmz_preset)
{
	reset();
	/* DMZ -> LAN and DMZ -> router are refused */
	REFUSED("dmz", "tcp", "10.50.1.10", 80);
	REFUSED("dmz", "tcp", "fd50:1::10", 80);
	REFUSED("dmz", "tcp", "10.50.2.1", 5000);
	/* LAN -> DMZ passes (no policy names the pair: the preset) */
	assert_seen(reach("lan", "tcp", "10.50.2.10", 80, OK_MS),
	    "10.50.1.10", "10.50.2.10", 80);
	assert_seen(reach("lan", "tcp", "fd50:2::10", 80, OK_MS),
	    "fd50:1::10", "fd50:2::10", 80);
	/* DMZ -> WAN passes */
	assert_seen(reach("dmz", "tcp", "10.50.0.2", 80, OK_MS),
	    "10.50.0.100", "10.50.0.2", 80);
	/* WAN -> DMZ without a forward is refused, although routed */
	REFUSED("wan", "tcp", "10.50.2.10", 80);

	/* explicit rules and policies override the preset */
	edit(NULL, "rule wan-web from wan to dmz tcp dport 80 accept");
	assert_seen(reach("wan", "tcp", "10.50.2.10", 80, OK_MS),
	    "10.50.0.2", "10.50.2.10", 80);
	edit(NULL, "rule dmz-svc from dmz to self tcp dport 5000 accept");
	assert_seen(reach("dmz", "tcp", "10.50.2.1", 5000, OK_MS),
	    "10.50.2.10", "10.50.2.1", 5000);
	edit(NULL, "policy dmz -> lan accept");
	assert_seen(reach("dmz", "tcp", "10.50.1.10", 80, OK_MS),
	    "10.50.2.10", "10.50.1.10", 80);
	edit(NULL, "policy lan -> dmz drop");
	REFUSED("lan", "tcp", "10.50.2.10", 80);
}
END_TEST

START_TEST(forward_removed_closes)
{
	char *s;

	reset();
	assert_seen(reach("wan", "tcp", "10.50.0.1", 8080, OK_MS),
	    "10.50.0.2", "10.50.2.10", 80);
	edit("nat web ", NULL);
	REFUSED("wan", "tcp", "10.50.0.1", 8080);
	/* the IPv6 forward of the same port is a separate entry */
	assert_seen(reach("wan", "tcp", "fd50::1", 8080, OK_MS), "fd50::2",
	    "fd50:2::10", 80);
	s = nft_chain("prerouting");
	ck_assert_msg(strstr(s, "comment \"web\"") == NULL, "%s", s);
	free(s);
	s = nft_chain("nat-open");
	ck_assert_msg(strstr(s, "forward web\"") == NULL, "%s", s);
	free(s);
	/* back with one line: DNAT and filter together */
	edit(NULL, "nat web forward from wan tcp dport 8080 to 10.50.2.10:80");
	assert_seen(reach("wan", "tcp", "10.50.0.1", 8080, OK_MS),
	    "10.50.0.2", "10.50.2.10", 80);
	/* a blocklist rule naming the pair still wins over the forward */
	edit(NULL, "rule no-wan from wan to dmz src 10.50.0.2 drop");
	REFUSED("wan", "tcp", "10.50.0.1", 8080);
}
END_TEST

/* fwctl's output and exit status for a command against sock. */
static char *
cli(const char *fwctl, const char *sock, int *status, const char *args)
{
	char *out = lab_output_status(lab, status, "router", "%s --socket %s "
	    "%s 2>&1", fwctl, sock, args);

	ck_assert_ptr_nonnull(out);
	return out;
}

/*
 * Issue 16's small items through the daemon and CLI, on the entries
 * daemon_add_delete_forward leaves: masq, dmzout, web6, games, ssh,
 * lanweb, web8 (numbered 1-7 as `fwctl list nat` shows them).
 */
static void
cli_small_items(const char *fwctl, const char *sock, const char *dir)
{
	char *out, path[PATH_MAX + 32], args[2 * PATH_MAX];
	FILE *f;
	int st;

	/* a NAT entry by its number in the list */
	out = cli(fwctl, sock, &st, "list nat");
	ck_assert_msg(st == 0 && strstr(out, "web8") != NULL, "%s", out);
	free(out);
	out = cli(fwctl, sock, &st, "delete-nat 8");
	ck_assert_msg(st == 6 && strstr(out, "no NAT entry number 8 (there "
	    "are 7)") != NULL, "%d %s", st, out);
	free(out);
	out = cli(fwctl, sock, &st, "delete-nat 0");
	ck_assert_msg(st == 2, "%d %s", st, out);
	free(out);
	out = cli(fwctl, sock, &st, "delete-nat 7");
	ck_assert_msg(st == 0 && strstr(out, "web8") != NULL, "%d %s", st,
	    out);
	free(out);
	REFUSED("wan", "tcp", "10.50.0.1", 8088);
	out = cli(fwctl, sock, &st, "list nat");
	ck_assert_msg(st == 0 && strstr(out, "web8") == NULL &&
	    strstr(out, "lanweb") != NULL, "%s", out);
	free(out);

	/* port 0 forwards nothing: refused */
	out = cli(fwctl, sock, &st, "add-nat zero forward from wan tcp dport "
	    "0 to 10.50.2.10:80");
	ck_assert_msg(st == 1 && strstr(out, "dport 0 is not a port") != NULL,
	    "%d %s", st, out);
	free(out);

	/* a rule may not take a NAT entry's name (counters would mix) */
	out = cli(fwctl, sock, &st, "add-rule masq from lan to wan tcp dport "
	    "25 drop");
	ck_assert_msg(st == 5 && strstr(out, "the name is taken by nat "
	    "\"masq\"") != NULL, "%d %s", st, out);
	free(out);

	/* list sets: the time an element has left */
	out = cli(fwctl, sock, &st, "add-set bl ipv4 timeout 1h");
	ck_assert_msg(st == 0, "%d %s", st, out);
	free(out);
	out = cli(fwctl, sock, &st, "block 192.0.2.7 --set bl");
	ck_assert_msg(st == 0, "%d %s", st, out);
	free(out);
	out = cli(fwctl, sock, &st, "list sets");
	ck_assert_msg(st == 0 && (strstr(out, "192.0.2.7 (59m5") != NULL ||
	    strstr(out, "192.0.2.7 (1h left)") != NULL), "%s", out);
	free(out);

	/* a per-source limit added and deleted alone: its meter comes and
	 * goes with it */
	out = cli(fwctl, sock, &st, "add-rule lim from wan to self tcp dport "
	    "3999 accept limit 1/hour burst 2 per source");
	ck_assert_msg(st == 0, "%d %s", st, out);
	free(out);
	out = lab_output(lab, "router", "nft list sets table inet fwctl");
	ck_assert_msg(out != NULL && strstr(out, "__m/lim#4") != NULL &&
	    strstr(out, "__m/lim#6") != NULL, "%s", out);
	free(out);
	out = cli(fwctl, sock, &st, "list rules");
	ck_assert_msg(st == 0 && strstr(out, "limit 1/hour burst 2 per "
	    "source") != NULL, "%s", out);
	free(out);
	out = cli(fwctl, sock, &st, "delete-rule lim");
	ck_assert_msg(st == 0, "%d %s", st, out);
	free(out);
	out = lab_output(lab, "router", "nft list sets table inet fwctl");
	ck_assert_msg(out != NULL && strstr(out, "__m/") == NULL, "%s", out);
	free(out);

	/* a dry run says what the lint finds, at the file's line */
	snprintf(path, sizeof(path), "%s/lint.rules", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "%srule wan-in from wan to self drop\n"
	    "rule ssh-in from wan to self tcp dport 22 accept\n", base_rules);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(args, sizeof(args), "apply --dry-run %s", path);
	out = cli(fwctl, sock, &st, args);
	ck_assert_msg(st == 0 && strstr(out, "lint.rules:15:1: warning: rule "
	    "\"ssh-in\" never matches: rule \"wan-in\" (at 14:1) comes "
	    "first") != NULL, "%d %s", st, out);
	free(out);
	snprintf(args, sizeof(args), "--json apply --dry-run %s", path);
	out = cli(fwctl, sock, &st, args);
	ck_assert_msg(st == 0 && strstr(out, "\"warnings\"") != NULL &&
	    strstr(out, "\"line\": 15") != NULL, "%d %s", st, out);
	free(out);
	out = cli(fwctl, sock, &st, "list rules");	/* nothing applied */
	ck_assert_msg(st == 0 && strstr(out, "ssh-in") == NULL, "%s", out);
	free(out);

	/* a bad position said once */
	out = cli(fwctl, sock, &st, "add-rule p from lan to wan accept "
	    "--position 0");
	ck_assert_msg(st == 1 && strstr(out, "position: expected an integer "
	    ">= 1") != NULL && strstr(out, "position: position") == NULL,
	    "%d %s", st, out);
	free(out);
}

/* fwctld over the base ruleset and more, in the router (tests/lib/fwd). */
static void
nat_daemon(struct fwd *fw, const char *more)
{
	char *text;

	ck_assert_int_eq(fwd_init(fw, lab, "router"), 0);
	ck_assert_int_ne(asprintf(&text, "%s%s", base_rules, more), -1);
	ck_assert_int_eq(fwd_write(fw, "rules/10-base.rules", text), 0);
	free(text);
	ck_assert_msg(fwd_start(fw, 10000, "%s", "") == 0,
	    "fwctld did not start");
}

/* The same through the real daemon and CLI: one `fwctl add-nat` line
 * opens a forward, `fwctl delete-nat` closes it. */
START_TEST(daemon_add_delete_forward)
{
	struct fwd fw;
	const char *fwctl, *sock;

	nat_daemon(&fw, "");
	fwctl = fw.fwctl;
	sock = fw.sock;

	assert_seen(reach("wan", "tcp", "10.50.0.1", 8080, OK_MS),
	    "10.50.0.2", "10.50.2.10", 80);
	ck_assert_int_eq(lab_exec(lab, "router", "%s --socket %s delete-nat "
	    "web >/dev/null", fwctl, sock), 0);
	REFUSED("wan", "tcp", "10.50.0.1", 8080);
	ck_assert_int_eq(lab_exec(lab, "router", "%s --socket %s add-nat web8 "
	    "forward from wan tcp dport 8088 to 10.50.2.10:80 >/dev/null",
	    fwctl, sock), 0);
	assert_seen(reach("wan", "tcp", "10.50.0.1", 8088, OK_MS),
	    "10.50.0.2", "10.50.2.10", 80);
	assert_seen(reach("lan", "tcp", "10.50.0.1", 8088, OK_MS),
	    "10.50.1.10", "10.50.2.10", 80);
	cli_small_items(fwctl, sock, fw.dir);
	fwd_cleanup(&fw);
}
END_TEST

/*
 * fwctl explain against the kernel's own trace: the daemon programs a
 * ruleset with rules, policies (one that logs), the DMZ preset and
 * forwards; a table of our own sets nftrace on the lab's packets, and
 * `nft monitor trace` (the independent reader) says which rule of table
 * fwctl decided each and which DNAT rule took it. `fwctl explain` must
 * name the same rule (by the comment the kernel shows), the same verdict
 * and the same forward, for every packet of the table.
 */
static const char explain_rules[] =
    "policy any -> self drop log\n"
    "set admins4 ipv4 { 10.50.1.10 }\n"
    "rule ssh-in from lan to self tcp dport ssh src @admins4 accept\n"
    "rule www from any to self tcp dport { 80, 443 } accept comment \"w\"\n"
    "rule no-smtp from lan to wan tcp dport 25 reject\n"
    "rule ping from any to self icmp type echo-request accept\n"
    "rule v6ping from lan to self icmpv6 type echo-request accept\n"
    "rule dmz-ntp from dmz to wan udp dport 123 drop\n"
    "rule wan-dmz from wan to dmz tcp dport 7100 accept\n"
    "rule lan-net from lan to any ip6 tcp dport 7200 drop\n";

struct tcase_pkt {
	const char	*role;		/* the sender */
	const char	*proto;		/* tcp, udp, icmp */
	const char	*dst;
	int		 port;		/* tcp/udp */
	const char	*explain;	/* fwctl explain's words */
};

static const struct tcase_pkt tpk[] = {
	{ "lan", "tcp", "10.50.1.1", 22, "in lan0 tcp 10.50.1.10:40000 -> 10.50.1.1:22" },
	{ "lan", "tcp", "10.50.1.1", 7001, "in lan0 tcp 10.50.1.10:40000 -> 10.50.1.1:7001" },
	{ "lan", "tcp", "10.50.1.1", 443, "in lan0 tcp 10.50.1.10:40000 -> 10.50.1.1:443" },
	{ "lan", "tcp", "fd50:1::1", 22, "in lan0 tcp [fd50:1::10]:40000 -> [fd50:1::1]:22" },
	{ "lan", "tcp", "fd50:1::1", 80, "in lan0 tcp [fd50:1::10]:40000 -> [fd50:1::1]:80" },
	{ "lan", "icmp", "10.50.1.1", 0, "in lan0 icmp 10.50.1.10 -> 10.50.1.1 type echo-request" },
	{ "lan", "icmp", "fd50:1::1", 0, "in lan0 icmpv6 fd50:1::10 -> fd50:1::1 type echo-request" },
	{ "wan", "tcp", "10.50.0.1", 80, "in wan0 tcp 10.50.0.2:40000 -> 10.50.0.1:80" },
	{ "wan", "tcp", "10.50.0.1", 7002, "in wan0 tcp 10.50.0.2:40000 -> 10.50.0.1:7002" },
	{ "wan", "tcp", "10.50.0.1", 22, "in wan0 tcp 10.50.0.2:40000 -> 10.50.0.1:22" },
	{ "wan", "tcp", "fd50::1", 443, "in wan0 tcp [fd50::2]:40000 -> [fd50::1]:443" },
	{ "wan", "tcp", "fd50::1", 7003, "in wan0 tcp [fd50::2]:40000 -> [fd50::1]:7003" },
	{ "wan", "icmp", "10.50.0.1", 0, "in wan0 icmp 10.50.0.2 -> 10.50.0.1 type echo-request" },
	{ "dmz", "tcp", "10.50.2.1", 80, "in dmz0 tcp 10.50.2.10:40000 -> 10.50.2.1:80" },
	{ "dmz", "tcp", "10.50.2.1", 5000, "in dmz0 tcp 10.50.2.10:40000 -> 10.50.2.1:5000" },
	{ "lan", "tcp", "10.50.0.2", 80, "in lan0 tcp 10.50.1.10:40000 -> 10.50.0.2:80" },
	{ "lan", "tcp", "10.50.0.2", 25, "in lan0 tcp 10.50.1.10:40000 -> 10.50.0.2:25" },
	{ "lan", "udp", "10.50.0.2", 53, "in lan0 udp 10.50.1.10:40000 -> 10.50.0.2:53" },
	{ "lan", "tcp", "fd50::2", 7200, "in lan0 tcp [fd50:1::10]:40000 -> [fd50::2]:7200" },
	{ "lan", "tcp", "10.50.0.2", 7200, "in lan0 tcp 10.50.1.10:40000 -> 10.50.0.2:7200" },
	{ "lan", "tcp", "10.50.2.10", 80, "in lan0 tcp 10.50.1.10:40000 -> 10.50.2.10:80" },
	{ "lan", "tcp", "fd50:2::10", 22, "in lan0 tcp [fd50:1::10]:40000 -> [fd50:2::10]:22" },
	{ "dmz", "tcp", "10.50.1.10", 80, "in dmz0 tcp 10.50.2.10:40000 -> 10.50.1.10:80" },
	{ "dmz", "tcp", "10.50.0.2", 80, "in dmz0 tcp 10.50.2.10:40000 -> 10.50.0.2:80" },
	{ "dmz", "udp", "10.50.0.2", 123, "in dmz0 udp 10.50.2.10:40000 -> 10.50.0.2:123" },
	{ "wan", "tcp", "10.50.2.10", 80, "in wan0 tcp 10.50.0.2:40000 -> 10.50.2.10:80" },
	{ "wan", "tcp", "10.50.2.10", 7100, "in wan0 tcp 10.50.0.2:40000 -> 10.50.2.10:7100" },
	{ "wan", "tcp", "10.50.1.10", 80, "in wan0 tcp 10.50.0.2:40000 -> 10.50.1.10:80" },
	{ "wan", "tcp", "10.50.0.1", 8080, "in wan0 tcp 10.50.0.2:40000 -> 10.50.0.1:8080" },
	{ "wan", "tcp", "fd50::1", 8080, "in wan0 tcp [fd50::2]:40000 -> [fd50::1]:8080" },
	{ "wan", "tcp", "10.50.0.1", 9090, "in wan0 tcp 10.50.0.2:40000 -> 10.50.0.1:9090" },
	{ "wan", "tcp", "10.50.0.1", 2222, "in wan0 tcp 10.50.0.2:40000 -> 10.50.0.1:2222" },
	{ "wan", "udp", "10.50.0.1", 7004, "in wan0 udp 10.50.0.2:40000 -> 10.50.0.1:7004" },
	{ "lan", "tcp", "10.50.0.1", 8080, "in lan0 tcp 10.50.1.10:40000 -> 10.50.0.1:8080" },
	{ "dmz", "tcp", "10.50.0.1", 8080, "in dmz0 tcp 10.50.2.10:40000 -> 10.50.0.1:8080" },
	{ "dmz", "tcp", "10.50.0.1", 9090, "in dmz0 tcp 10.50.2.10:40000 -> 10.50.0.1:9090" },
	{ "lan", "tcp", "10.50.0.1", 9090, "in lan0 tcp 10.50.1.10:40000 -> 10.50.0.1:9090" },
};
#define NTPK	(sizeof(tpk) / sizeof(tpk[0]))

/* The sender's address toward dst, and the packet line's words. */
static void
tpk_match(const struct tcase_pkt *t, char *buf, size_t len)
{
	const char *src = strchr(t->explain, ' ') + 1;
	char s[64];
	size_t n;

	src = strchr(src, ' ') + 1;		/* after "in IFACE" */
	src = strchr(src, ' ') + 1;		/* after the protocol */
	n = strcspn(src, " ");
	snprintf(s, sizeof(s), "%.*s", (int)n, src);
	if (s[0] == '[')
		*strchr(s, ']') = '\0';
	else if (strchr(s, ':') != NULL && strchr(s, '.') != NULL)
		*strchr(s, ':') = '\0';
	if (strcmp(t->proto, "icmp") == 0)
		snprintf(buf, len, "saddr %s %s daddr %s |%s type echo-request ",
		    s[0] == '[' ? s + 1 : s, strchr(t->dst, ':') ? "ip6" : "ip",
		    t->dst, strchr(t->dst, ':') ? "icmpv6" : "icmp");
	else
		snprintf(buf, len, "saddr %s %s daddr %s |%s dport %d ", s[0] ==
		    '[' ? s + 1 : s, strchr(t->dst, ':') ? "ip6" : "ip",
		    t->dst, t->proto, t->port);
}

/* What the trace says of the first packet matching t: the comment of the
 * filter rule that decided and its verdict, and the DNAT rule's comment
 * ("" if none). false when the trace has not got there yet. */
static bool
trace_of(const char *trace, const struct tcase_pkt *t, char *comment,
    size_t clen, char *verdict, size_t vlen, char *dnat, size_t dlen)
{
	char key[256], id[32], prefix[64], *k2, *line, *end, *c;
	const char *p, *l;
	bool found = false;

	tpk_match(t, key, sizeof(key));
	k2 = strchr(key, '|');
	if (k2 != NULL)
		*k2++ = '\0';
	for (l = trace; l != NULL && *l; l = (p = strchr(l, '\n')) ? p + 1 :
	    NULL) {
		end = strchr(l, '\n');
		if (strncmp(l, "trace id ", 9) != 0 || strstr(l,
		    " packet: ") == NULL)
			continue;
		line = strndup(l, end ? (size_t)(end - l) : strlen(l));
		if (strstr(line, key) != NULL && (k2 == NULL ||
		    strstr(line, k2) != NULL)) {
			sscanf(line + 9, "%31s", id);
			found = true;
		}
		free(line);
		if (found)
			break;
	}
	if (!found)
		return false;
	snprintf(prefix, sizeof(prefix), "trace id %s inet fwctl ", id);
	comment[0] = verdict[0] = dnat[0] = '\0';
	for (l = trace; l != NULL && *l; l = (p = strchr(l, '\n')) ? p + 1 :
	    NULL) {
		end = strchr(l, '\n');
		line = strndup(l, end ? (size_t)(end - l) : strlen(l));
		if (strncmp(line, prefix, strlen(prefix)) == 0 &&
		    (strstr(line, "(verdict accept)") != NULL ||
		    strstr(line, "(verdict drop)") != NULL) &&
		    (c = strstr(line, "comment \"")) != NULL) {
			c += 9;
			*strchr(c, '"') = '\0';
			if (strncmp(line + strlen(prefix), "prerouting ", 11) ==
			    0)
				snprintf(dnat, dlen, "%s", c);
			else if (strncmp(line + strlen(prefix), "postrouting ",
			    12) != 0) {
				snprintf(comment, clen, "%s", c);
				snprintf(verdict, vlen, "%s", strstr(line + (c -
				    line) + strlen(c) + 1, "(verdict accept)") ?
				    "accept" : "drop");
			}
		}
		free(line);
	}
	return comment[0] != '\0';
}

static void
send_tpk(const struct tcase_pkt *t)
{
	if (strcmp(t->proto, "icmp") == 0)
		(void)lab_ping(lab, t->role, t->dst, 300);
	else
		(void)lab_connect(lab, t->role, t->proto, t->dst, t->port, 300,
		    NULL, 0);
}

START_TEST(explain_matches_trace)
{
	struct fwd fw;
	char path[PATH_MAX + 32], comment[256];
	char verdict[16], dnat[80], *trace = NULL, *out, *args;
	const char *fwctl, *sock, *dir;
	pid_t mon;
	json_t *j;
	size_t i, done;
	long long t0;
	int st;

	lab_exec(lab, "router", "nft delete table inet fwctl 2>/dev/null; "
	    "true");
	nat_daemon(&fw, explain_rules);
	fwctl = fw.fwctl;
	sock = fw.sock;
	dir = fw.dir;
	/* the wan host may reach the lan for this test only */
	ck_assert_int_eq(lab_exec(lab, "wan", "ip route add 10.50.1.0/24 via "
	    "10.50.0.1"), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "nft -f - <<'EOF'\n"
	    "table inet trace {\n"
	    " chain pre { type filter hook prerouting priority -350;\n"
	    "  meta l4proto { tcp, udp, icmp, ipv6-icmp } meta nftrace set 1\n"
	    " }\n"
	    "}\nEOF"), 0);
	mon = lab_spawn(lab, "router", "exec nft monitor trace >%s/trace 2>&1",
	    dir);
	ck_assert_int_ne(mon, -1);
	snprintf(path, sizeof(path), "%s/trace", dir);
	/* the monitor listens once a packet of ours shows up */
	for (t0 = lab_now(); lab_now() - t0 < 10000;) {
		send_tpk(&tpk[0]);
		free(trace);
		trace = lab_output(lab, "router", "cat %s", path);
		if (trace != NULL && strstr(trace, "inet fwctl") != NULL)
			break;
	}
	ck_assert_msg(trace != NULL && strstr(trace, "inet fwctl") != NULL,
	    "nft monitor trace shows nothing");
	for (i = 1; i < NTPK; i++)
		send_tpk(&tpk[i]);
	/* until every packet's decision is in the trace (bounded) */
	for (t0 = lab_now(), done = 0; done < NTPK &&
	    lab_now() - t0 < 15000;) {
		free(trace);
		trace = lab_output(lab, "router", "cat %s", path);
		ck_assert_ptr_nonnull(trace);
		for (done = 0; done < NTPK; done++)
			if (!trace_of(trace, &tpk[done], comment,
			    sizeof(comment), verdict, sizeof(verdict), dnat,
			    sizeof(dnat)))
				break;
		if (done < NTPK)
			usleep(200 * 1000);
	}
	for (i = 0; i < NTPK; i++) {
		ck_assert_msg(trace_of(trace, &tpk[i], comment, sizeof(comment),
		    verdict, sizeof(verdict), dnat, sizeof(dnat)),
		    "packet %zu (%s) not in the trace", i, tpk[i].explain);
		ck_assert_int_ne(asprintf(&args, "%s --socket %s --json explain "
		    "'%s'", fwctl, sock, tpk[i].explain), -1);
		out = lab_output_status(lab, &st, "router", "%s 2>&1", args);
		free(args);
		ck_assert_msg(out != NULL && st == 0, "explain %s: %s",
		    tpk[i].explain, out ? out : "?");
		ck_assert_ptr_nonnull(j = json_loads(out, 0, NULL));
		ck_assert_msg(strcmp(json_string_value(json_object_get(j,
		    "comment")), comment) == 0, "packet %zu (%s): explain says "
		    "\"%s\", the kernel \"%s\"", i, tpk[i].explain,
		    json_string_value(json_object_get(j, "comment")), comment);
		ck_assert_msg(strcmp(strcmp(json_string_value(json_object_get(j,
		    "verdict")), "accept") == 0 ? "accept" : "drop",
		    verdict) == 0, "packet %zu (%s): explain %s, kernel %s", i,
		    tpk[i].explain, json_string_value(json_object_get(j,
		    "verdict")), verdict);
		ck_assert_msg(strcmp(json_string_value(json_object_get(
		    json_object_get(j, "dnat"), "nat")) ?: "", dnat) == 0,
		    "packet %zu (%s): dnat %s, kernel %s", i, tpk[i].explain,
		    json_string_value(json_object_get(json_object_get(j,
		    "dnat"), "nat")) ?: "none", dnat[0] ? dnat : "none");
		json_decref(j);
		free(out);
	}
	free(trace);
	lab_stop(lab, mon);
	lab_exec(lab, "router", "nft delete table inet trace");
	lab_exec(lab, "wan", "ip route del 10.50.1.0/24 via 10.50.0.1");
	fwd_cleanup(&fw);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("lab_nat");
	TCase *tc = tcase_create("nat");
	SRunner *sr;
	int nfail;

	tcase_add_unchecked_fixture(tc, lab_nat_setup, lab_nat_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, masquerade_lan_to_wan);
	tcase_add_test(tc, snat_dmz_to_wan);
	tcase_add_test(tc, forward_ipv4_ipv6);
	tcase_add_test(tc, forward_port_range);
	tcase_add_test(tc, forward_source_restriction);
	tcase_add_test(tc, hairpin_from_lan);
	tcase_add_test(tc, hairpin_from_dmz);
	tcase_add_test(tc, dmz_preset);
	tcase_add_test(tc, forward_removed_closes);
	tcase_add_test(tc, daemon_add_delete_forward);
	tcase_add_test(tc, explain_matches_trace);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
