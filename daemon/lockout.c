/*
 * Would this ruleset lock the administrator out?  A careful, not an exact
 * answer: it errs towards "some get in" (no warning) wherever a match
 * depends on what it cannot know (addresses, set contents, rates).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "compile.h"
#include "lockout.h"

enum reach {
	REACH_NO,	/* this rule does not apply to the packet */
	REACH_SOME,	/* it applies to some such packets */
	REACH_ALL,	/* it applies to every such packet */
};

static enum reach
lockout_ports(const struct portmatch *m, uint16_t port)
{
	size_t	 i;

	if (m->set != NULL)
		return REACH_SOME;
	if (m->nranges == 0)
		return REACH_ALL;
	for (i = 0; i < m->nranges; i++)
		if (m->ranges[i].lo <= port && port <= m->ranges[i].hi)
			return REACH_ALL;
	return REACH_NO;
}

/* How rule r applies to a new TCP connection to port 22 of this host. */
static enum reach
lockout_rule(const struct rule *r)
{
	enum reach	 k = REACH_ALL;

	if (r->proto != PROTO_NONE && r->proto != IPPROTO_TCP)
		return REACH_NO;
	if (r->state != 0 && !(r->state & CTSTATE_NEW))
		return REACH_NO;
	if ((k = lockout_ports(&r->dport, LOCKOUT_PORT)) == REACH_NO)
		return REACH_NO;
	if (r->sport.nranges > 0 || r->sport.set != NULL ||
	    r->src.naddrs > 0 || r->src.set != NULL || r->dst.naddrs > 0 ||
	    r->dst.set != NULL || r->limit.rate != 0)
		k = REACH_SOME;
	return k;
}

/* Whether some connection to SSH from side z gets in; if not, why. */
static bool
lockout_side(const struct ruleset *rs, const char *z, const char **why)
{
	const struct rule *r;
	enum reach	 k;
	size_t		 i;

	for (i = 0; i < rs->nrules; i++) {
		r = rs->rules[i];
		if (!zone_word_covers(r->from, z) ||
		    !zone_word_covers(r->to, ZONE_SELF) ||
		    (k = lockout_rule(r)) == REACH_NO)
			continue;
		if (r->verdict == VERDICT_ACCEPT)
			return true;
		if (k == REACH_ALL) {
			*why = r->name;
			return false;
		}
	}
	return compile_policy_verdict(rs, z, ZONE_SELF, why) ==
	    VERDICT_ACCEPT;
}

int
lockout_warnings(const struct ruleset *rs, const char *where,
    struct diags *d)
{
	const char	*why = NULL, *first = NULL;
	struct srcloc	 at = { (char *)(uintptr_t)where, 0, 0 };
	size_t		 i;

	if (rs->nzones == 0) {
		if (d != NULL)
			diags_add(d, where ? &at : NULL, "warning: the ruleset "
			    "declares no zone: fwctld programs no table and "
			    "filters nothing");
		return 1;
	}
	for (i = 0; i < rs->nzones; i++) {
		if (lockout_side(rs, rs->zones[i]->name, &why))
			return 0;
		if (i == 0)
			first = why;
	}
	if (lockout_side(rs, ZONE_ANY, &why))
		return 0;	/* interfaces in no zone */
	if (d == NULL)
		return 1;
	if (first == NULL || strcmp(first, "default") == 0)
		first = "the built-in drop";
	else if (strcmp(first, "preset") == 0)
		first = "the dmz preset";
	diags_add(d, where ? &at : NULL, "warning: no zone can open an SSH connection (tcp "
	    "port %d) to this host (from %s: %s%s); make sure there is another "
	    "way in before you apply it, or use fwctl apply --confirm",
	    LOCKOUT_PORT, rs->zones[0]->name, strncmp(first, "policy ", 7) &&
	    strncmp(first, "the ", 4) ? "rule " : "", first);
	return 1;
}
