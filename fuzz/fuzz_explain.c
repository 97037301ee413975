/*
 * libFuzzer harness for the packet descriptions of GET /v1/explain and
 * `fwctl explain`: explain_parse on arbitrary text, and what parses
 * explained against a small ruleset with forwards, hairpin and network
 * zones. See fuzz/README.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "explain.h"
#include "parse.h"
#include "ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char rules[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan*; network 10.1.0.0/16, fd00:1::/64 }\n"
    "zone dmz { interface dmz0; dmz }\n"
    "zone vpn { network 10.8.0.0/16 }\n"
    "policy lan -> wan accept log\n"
    "set adm ipv4 { 10.1.0.5 }\n"
    "rule a from any to self tcp dport { 22, 80-90 } src @adm accept\n"
    "rule b from lan to any ip6 udp dport 53 drop\n"
    "rule c from any to any icmp type echo-request accept\n"
    "nat m masquerade from lan to wan\n"
    "nat f forward from wan tcp dport 8080 to 10.2.0.10:80\n"
    "nat g forward from wan udp dport 7000-7005 to [fd00:2::10]\n";

static struct ruleset *rs;
static struct host_addr hosts[3];

static void
setup(void)
{
	struct diags d;
	const char *why;

	diags_init(&d);
	if ((rs = ruleset_new()) == NULL ||
	    parse_buffer(rs, "f.rules", rules, strlen(rules), &d) != 0)
		abort();
	diags_free(&d);
	strcpy(hosts[0].ifname, "wan0");
	addr_parse("203.0.113.1", &hosts[0].addr, &why);
	hosts[0].netprefix = 24;
	strcpy(hosts[1].ifname, "lan0");
	addr_parse("10.1.0.1", &hosts[1].addr, &why);
	hosts[1].netprefix = 16;
	strcpy(hosts[2].ifname, "dmz0");
	addr_parse("fd00:2::1", &hosts[2].addr, &why);
	hosts[2].netprefix = 64;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct packet p;
	struct explain e;
	struct diags d;
	char *s;

	if (rs == NULL)
		setup();
	if ((s = malloc(len + 1)) == NULL)
		return 0;
	memcpy(s, data, len);
	s[len] = '\0';
	diags_init(&d);
	if (explain_parse(s, &p, &d) == 0 &&
	    explain_packet(rs, hosts, 3, &p, &e, &d) == 0)
		explain_free(&e);
	diags_free(&d);
	free(s);
	return 0;
}
