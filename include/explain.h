/*
 * explain.c: what the ruleset does with one packet, computed on the model
 * the way compile.c lays the table out: which sides (zones) it falls
 * between, which NAT applies, which rule or policy decides, and the path
 * through the kernel's chains. The answer to "why is this blocked?".
 */
#ifndef FWCTL_EXPLAIN_H
#define FWCTL_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ruleset.h"

/*
 * A packet, as `fwctl explain` takes it:
 *   [from ZONE | in IFACE] PROTO SRC[:PORT] [->] DST[:PORT]
 *       [to ZONE | out IFACE] [type ICMP-TYPE] [state STATE]
 * ("from self" for the host's own output; an IPv6 address with a port is
 * written [fd00::1]:22; the arrow may be left out, since a shell reads >
 * as a redirection).
 */
struct packet {
	char		 from[FWCTL_NAME_MAX + 1];	/* "" = by iif */
	char		 iif[FWCTL_IFNAME_MAX + 1];
	char		 to[FWCTL_NAME_MAX + 1];	/* "" = by oif */
	char		 oif[FWCTL_IFNAME_MAX + 1];
	int		 proto;
	struct addr	 src;
	struct addr	 dst;
	uint16_t	 sport;
	uint16_t	 dport;
	int		 icmp_type;	/* -1: not given */
	unsigned	 state;		/* one CTSTATE_* bit; NEW by default */
};

/* An address of this host, on an interface, with its network's prefix:
 * what tells local destinations and connected networks apart. */
struct host_addr {
	char		 ifname[FWCTL_IFNAME_MAX + 1];
	struct addr	 addr;		/* the host address (full prefix) */
	int		 netprefix;
};

struct explain {
	const char	*hook;		/* "input", "forward" or "output" */
	char		 from[FWCTL_NAME_MAX + 1];	/* zone, "self", "any" */
	char		 to[FWCTL_NAME_MAX + 1];
	char		*chain;		/* the pair chain (owned) */
	const struct nat *dnat;		/* the forward that rewrote dst */
	bool		 dnat_hairpin;	/* ... for a host inside */
	struct addr	 dst;		/* the destination the filter sees */
	uint16_t	 dport;
	bool		 fastpath;	/* decided before any rule (state) */
	const struct rule *rule;	/* the rule that decided, or NULL */
	const struct nat *opened;	/* the forward that let it through */
	enum verdict	 verdict;
	char		 decided[2 * FWCTL_NAME_MAX + 32];
					/* "rule ssh", "forward web",
					 * "policy lan -> wan", "default",
					 * "preset", "established" */
	char		*comment;	/* the deciding kernel rule's comment,
					 * as a trace shows it (owned) */
	const struct nat *snat;		/* masquerade or snat on the way out */
	bool		 snat_hairpin;	/* the hairpin masquerade of dnat */
	bool		 policy_log;	/* the policy logs it */
	const char	*path[8];	/* the chains it goes through, in
					 * order (chain's text for the pair) */
	size_t		 npath;
};

/* Parses a packet description; 0, or -1 with diags (columns in text). */
int	 explain_parse(const char *text, struct packet *, struct diags *);
/*
 * What rs does with p, given the host's addresses (local destinations,
 * connected networks for the outgoing interface). 0, or -1 with diags
 * when the packet's sides cannot be told (give from/in or to/out).
 * explain_free frees what e holds.
 */
int	 explain_packet(const struct ruleset *, const struct host_addr *,
	    size_t nhost, const struct packet *, struct explain *,
	    struct diags *);
void	 explain_free(struct explain *);
/* This host's addresses (getifaddrs); -1 with errno. Caller frees *v. */
int	 explain_host_addrs(struct host_addr **v, size_t *n);

#endif
