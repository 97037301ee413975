/*
 * gen.c: the benchmark's inputs, written into the work directory: N rules
 * of one shape for fwctl, nft (one rule each, and the pairs as one set)
 * and iptables; the same for ufw; a set of S addresses; and the mixed
 * rulesets of eight interleaved shapes with their nft and iptables
 * equivalents, and one rule of a shape at a time for the single changes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"


/* Rule i's source address and port: distinct for i < 2^24. */
static void
rule_addr(uint32_t i, char *buf, size_t len)
{
	snprintf(buf, len, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255,
	    i & 255);
}

static unsigned
rule_port(uint32_t i)
{
	return 1024 + i % 64000;
}

/* Element i of the big set. */
static void
elem_addr(uint32_t i, char *buf, size_t len)
{
	snprintf(buf, len, "172.%u.%u.%u", 16 + ((i >> 16) & 15),
	    (i >> 8) & 255, i & 255);
}

void
gen_rules(uint32_t n)
{
	char		 a[32], *p;
	FILE		*f;
	uint32_t	 i;

	/* fwctl's rule language */
	p = wpath("rules-%u.rules", n);
	f = wopen(p);
	for (i = 0; i < n; i++) {
		rule_addr(i, a, sizeof(a));
		fprintf(f, "rule r%u from any to self tcp dport %u src %s "
		    "accept\n", i, rule_port(i), a);
	}
	wclose(f, p);
	free(p);

	/* nft -f, one rule per pair */
	p = wpath("rules-%u.nft", n);
	f = wopen(p);
	fprintf(f, "table inet bench {\n\tchain input {\n\t\ttype filter "
	    "hook input priority 0; policy accept;\n");
	for (i = 0; i < n; i++) {
		rule_addr(i, a, sizeof(a));
		fprintf(f, "\t\tip saddr %s tcp dport %u accept\n", a,
		    rule_port(i));
	}
	fprintf(f, "\t}\n}\n");
	wclose(f, p);
	free(p);

	/* nft -f, the same pairs as one set (for reference) */
	p = wpath("pairs-%u.nft", n);
	f = wopen(p);
	fprintf(f, "table inet bench {\n\tset pairs {\n\t\ttype ipv4_addr . "
	    "inet_service\n\t\telements = {\n");
	for (i = 0; i < n; i++) {
		rule_addr(i, a, sizeof(a));
		fprintf(f, "\t\t\t%s . %u,\n", a, rule_port(i));
	}
	fprintf(f, "\t\t}\n\t}\n\tchain input {\n\t\ttype filter hook input "
	    "priority 0; policy accept;\n\t\tip saddr . tcp dport @pairs "
	    "accept\n\t}\n}\n");
	wclose(f, p);
	free(p);

	/* iptables-restore */
	p = wpath("rules-%u.ipt", n);
	f = wopen(p);
	fprintf(f, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
	    ":OUTPUT ACCEPT [0:0]\n");
	for (i = 0; i < n; i++) {
		rule_addr(i, a, sizeof(a));
		fprintf(f, "-A INPUT -s %s/32 -p tcp -m tcp --dport %u "
		    "-j ACCEPT\n", a, rule_port(i));
	}
	fprintf(f, "COMMIT\n");
	wclose(f, p);
	free(p);
}

/* ufw's user.rules with the N rules, in the form `ufw allow` writes. */
void
gen_ufw(uint32_t n)
{
	char		 a[32], *p, *tmpl, *mark;
	size_t		 len;
	FILE		*f;
	uint32_t	 i;
	static const char rules_mark[] = "### RULES ###\n";

	tmpl = slurp("/etc/ufw/user.rules", &len);
	if ((mark = strstr(tmpl, rules_mark)) == NULL)
		die("/etc/ufw/user.rules: no \"%s\" line", "### RULES ###");
	mark += strlen(rules_mark);
	p = wpath("ufw-%u.rules", n);
	f = wopen(p);
	fwrite(tmpl, 1, (size_t)(mark - tmpl), f);
	for (i = 0; i < n; i++) {
		rule_addr(i, a, sizeof(a));
		fprintf(f, "\n### tuple ### allow tcp %u 0.0.0.0/0 any %s in\n"
		    "-A ufw-user-input -p tcp --dport %u -s %s -j ACCEPT\n",
		    rule_port(i), a, rule_port(i), a);
	}
	fputs(mark, f);
	wclose(f, p);
	free(p);
	free(tmpl);
}

void
gen_set(uint32_t n)
{
	char		 a[32], *p;
	FILE		*f;
	uint32_t	 i;

	p = wpath("set-%u.rules", n);
	f = wopen(p);
	fprintf(f, "set big ipv4 {\n");
	for (i = 0; i < n; i++) {
		elem_addr(i, a, sizeof(a));
		fprintf(f, "\t%s%s\n", a, i + 1 < n ? "," : "");
	}
	fprintf(f, "}\nrule big from any to self src @big drop\n");
	wclose(f, p);
	free(p);

	p = wpath("set-empty.rules");
	f = wopen(p);
	fprintf(f, "set big ipv4\nrule big from any to self src @big drop\n");
	wclose(f, p);
	free(p);

	p = wpath("elems-%u.json", n);
	f = wopen(p);
	fprintf(f, "{\"elements\":[");
	for (i = 0; i < n; i++) {
		elem_addr(i, a, sizeof(a));
		fprintf(f, "%s\"%s\"", i ? "," : "", a);
	}
	fprintf(f, "]}\n");
	wclose(f, p);
	free(p);

	p = wpath("set-%u.nft", n);
	f = wopen(p);
	fprintf(f, "table inet bench {\n\tset big {\n\t\ttype ipv4_addr\n"
	    "\t\telements = {\n");
	for (i = 0; i < n; i++) {
		elem_addr(i, a, sizeof(a));
		fprintf(f, "\t\t\t%s,\n", a);
	}
	fprintf(f, "\t\t}\n\t}\n\tchain input {\n\t\ttype filter hook input "
	    "priority 0; policy accept;\n\t\tip saddr @big drop\n\t}\n}\n");
	wclose(f, p);
	free(p);
}

/* ---- mixed rulesets (bench.h: shapes and serials) ------------------ */

/* What each shape is, for the report. */
const char *const mix_shape[MIX_SHAPES] = {
	"wan->dmz dport {80,443} dst H",
	"wan->any src P/24 drop",
	"lan->wan dst P/24 dport P",
	"any->self dport A-B src H lim",
	"any->self dport P src H log",
	"lan->dmz src v6 P/64 dport 22",
	"wan->self icmp src H limit",
	"dmz->wan udp dport P reject",
};

static void
mix_host(int k, uint32_t j, char *b, size_t n)
{
	snprintf(b, n, "172.%d.%u.%u", 16 + k, (j >> 8) & 255, j & 255);
}

static unsigned
mix_port(uint32_t j)
{
	return 1024 + j % 60000;
}

/* The rule in fwctl's language, without "rule NAME". */
void
mix_fwctl(int k, uint32_t j, char *b, size_t n)
{
	char	h[32];

	mix_host(k, j, h, sizeof(h));
	switch (k) {
	case 0:
		snprintf(b, n, "from wan to dmz tcp dport { 80, 443 } dst %s "
		    "accept", h);
		break;
	case 1:
		snprintf(b, n, "from wan to any src 10.%u.%u.0/24 drop",
		    64 + (j >> 8), j & 255);
		break;
	case 2:
		snprintf(b, n, "from lan to wan dst 100.%u.%u.0/24 tcp dport "
		    "%u accept", 64 + (j >> 8), j & 255, mix_port(j));
		break;
	case 3:
		snprintf(b, n, "from any to self tcp dport %u-%u src %s accept "
		    "limit 10/second", 2000 + (j % 6000) * 10,
		    2009 + (j % 6000) * 10, h);
		break;
	case 4:
		snprintf(b, n, "from any to self tcp dport %u src %s accept "
		    "log", mix_port(j), h);
		break;
	case 5:
		snprintf(b, n, "from lan to dmz src fd00:%x::/64 tcp dport 22 "
		    "accept", j + 1);
		break;
	case 6:
		snprintf(b, n, "from wan to self icmp type echo-request src %s "
		    "accept limit 5/second", h);
		break;
	default:
		snprintf(b, n, "from dmz to wan udp dport %u dst %s reject",
		    mix_port(j), h);
		break;
	}
}

/* The same rule for nft: its chain and its words. */
const char *
mix_nft(int k, uint32_t j, char *b, size_t n)
{
	char	h[32];

	mix_host(k, j, h, sizeof(h));
	switch (k) {
	case 0:
		snprintf(b, n, "iifname \"wan0\" oifname \"dmz0\" tcp dport "
		    "{ 80, 443 } ip daddr %s accept", h);
		return "forward";
	case 1:
		snprintf(b, n, "iifname \"wan0\" ip saddr 10.%u.%u.0/24 drop",
		    64 + (j >> 8), j & 255);
		return "forward";
	case 2:
		snprintf(b, n, "iifname \"lan0\" oifname \"wan0\" ip daddr "
		    "100.%u.%u.0/24 tcp dport %u accept", 64 + (j >> 8),
		    j & 255, mix_port(j));
		return "forward";
	case 3:
		snprintf(b, n, "ip saddr %s tcp dport %u-%u limit rate "
		    "10/second accept", h, 2000 + (j % 6000) * 10,
		    2009 + (j % 6000) * 10);
		return "input";
	case 4:
		snprintf(b, n, "ip saddr %s tcp dport %u log accept", h,
		    mix_port(j));
		return "input";
	case 5:
		snprintf(b, n, "iifname \"lan0\" oifname \"dmz0\" ip6 saddr "
		    "fd00:%x::/64 tcp dport 22 accept", j + 1);
		return "forward";
	case 6:
		snprintf(b, n, "iifname \"wan0\" ip saddr %s icmp type "
		    "echo-request limit rate 5/second accept", h);
		return "input";
	default:
		snprintf(b, n, "iifname \"dmz0\" oifname \"wan0\" ip daddr %s "
		    "udp dport %u reject", h, mix_port(j));
		return "forward";
	}
}

/* The same rule for iptables-restore (IPv6: ip6tables-restore). */
static void
mix_ipt(FILE *f4, FILE *f6, int k, uint32_t j)
{
	char	h[32];

	mix_host(k, j, h, sizeof(h));
	switch (k) {
	case 0:
		fprintf(f4, "-A FORWARD -i wan0 -o dmz0 -d %s/32 -p tcp -m "
		    "multiport --dports 80,443 -j ACCEPT\n", h);
		break;
	case 1:
		fprintf(f4, "-A FORWARD -i wan0 -s 10.%u.%u.0/24 -j DROP\n",
		    64 + (j >> 8), j & 255);
		break;
	case 2:
		fprintf(f4, "-A FORWARD -i lan0 -o wan0 -d 100.%u.%u.0/24 -p "
		    "tcp -m tcp --dport %u -j ACCEPT\n", 64 + (j >> 8),
		    j & 255, mix_port(j));
		break;
	case 3:
		fprintf(f4, "-A INPUT -s %s/32 -p tcp -m tcp --dport %u:%u -m "
		    "limit --limit 10/second -j ACCEPT\n", h,
		    2000 + (j % 6000) * 10, 2009 + (j % 6000) * 10);
		break;
	case 4:
		/* iptables logs with a rule of its own */
		fprintf(f4, "-A INPUT -s %s/32 -p tcp -m tcp --dport %u -j "
		    "LOG\n-A INPUT -s %s/32 -p tcp -m tcp --dport %u -j "
		    "ACCEPT\n", h, mix_port(j), h, mix_port(j));
		break;
	case 5:
		fprintf(f6, "-A FORWARD -i lan0 -o dmz0 -s fd00:%x::/64 -p tcp "
		    "-m tcp --dport 22 -j ACCEPT\n", j + 1);
		break;
	case 6:
		fprintf(f4, "-A INPUT -i wan0 -s %s/32 -p icmp -m icmp "
		    "--icmp-type 8 -m limit --limit 5/second -j ACCEPT\n", h);
		break;
	default:
		fprintf(f4, "-A FORWARD -i dmz0 -o wan0 -d %s/32 -p udp -m udp "
		    "--dport %u -j REJECT\n", h, mix_port(j));
		break;
	}
}

void
gen_mixed(uint32_t n)
{
	char		 b[256], *p, *p4, *p6;
	const char	*chain;
	FILE		*f, *f4, *f6;
	uint32_t	 i;
	int		 c;

	p = wpath("mixed-%u.rules", n);
	f = wopen(p);
	fprintf(f, "zone wan { interface wan0; external }\n"
	    "zone lan { interface lan0 }\nzone dmz { interface dmz0 }\n"
	    "policy lan -> wan accept\n");
	for (i = 0; i < n; i++) {
		mix_fwctl((int)(i % MIX_SHAPES), i / MIX_SHAPES, b, sizeof(b));
		fprintf(f, "rule m%u %s\n", i, b);
	}
	wclose(f, p);
	free(p);

	/* nft: one chain per hook, in rule order */
	p = wpath("mixed-%u.nft", n);
	f = wopen(p);
	fprintf(f, "table inet bench {\n");
	for (c = 0; c < 2; c++) {
		fprintf(f, "\tchain %s {\n\t\ttype filter hook %s priority 0; "
		    "policy accept;\n", c ? "forward" : "input",
		    c ? "forward" : "input");
		for (i = 0; i < n; i++) {
			chain = mix_nft((int)(i % MIX_SHAPES), i / MIX_SHAPES,
			    b, sizeof(b));
			if ((chain[0] == 'f') == (c == 1))
				fprintf(f, "\t\t%s\n", b);
		}
		fprintf(f, "\t}\n");
	}
	fprintf(f, "}\n");
	wclose(f, p);
	free(p);

	p4 = wpath("mixed-%u.ipt", n);
	p6 = wpath("mixed-%u.ip6t", n);
	f4 = wopen(p4);
	f6 = wopen(p6);
	fprintf(f4, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
	    ":OUTPUT ACCEPT [0:0]\n");
	fprintf(f6, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
	    ":OUTPUT ACCEPT [0:0]\n");
	for (i = 0; i < n; i++)
		mix_ipt(f4, f6, (int)(i % MIX_SHAPES), i / MIX_SHAPES);
	fprintf(f4, "COMMIT\n");
	fprintf(f6, "COMMIT\n");
	wclose(f4, p4);
	wclose(f6, p6);
	free(p4);
	free(p6);
}

void
unlink_mixed(uint32_t n)
{
	static const char *const ext[] = { "rules", "nft", "ipt", "ip6t" };
	char	*p;
	size_t	 i;

	for (i = 0; i < 4; i++) {
		p = wpath("mixed-%u.%s", n, ext[i]);
		unlink(p);
		free(p);
	}
}
