/*
 * What the ruleset does with one packet, on the model, following the
 * layout of docs/design-compile.md: sides by interface (narrowed by a
 * zone's networks) or by network zone, DNAT of port forwards (and their
 * hairpin), the pair chain's rules in order, the forwards' filter rule,
 * the policy, then masquerade and snat. The lab test holds it against the
 * kernel's own trace.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "explain.h"
#include "ruleset.h"

#define UNZONED		ZONE_ANY	/* the side of a packet in no zone */

/* --- the packet description ------------------------------------------- */

struct words {
	char	*buf;
	char	*w[32];
	int	 col[32];
	size_t	 n;
};

static int
words_split(const char *text, struct words *ws)
{
	char *p;

	ws->n = 0;
	if ((ws->buf = strdup(text)) == NULL)
		return -1;
	for (p = ws->buf; *p != '\0' && ws->n < 32;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			*p++ = '\0';
		if (*p == '\0')
			break;
		ws->col[ws->n] = (int)(p - ws->buf) + 1;
		ws->w[ws->n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
	}
	return 0;
}

static int __attribute__((format(printf, 4, 5)))
perr(struct diags *d, const struct words *ws, size_t i, const char *fmt,
    ...)
{
	struct srcloc l = { NULL, 1, i < ws->n ? ws->col[i] : (ws->n ?
	    ws->col[ws->n - 1] + (int)strlen(ws->w[ws->n - 1]) : 1) };
	va_list ap;
	char *m = NULL;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) == -1)
		m = NULL;
	va_end(ap);
	diags_add(d, &l, "%s", m ? m : "out of memory");
	free(m);
	return -1;
}

/* ADDR[:PORT] or [V6]:PORT or a bare IPv6 address. */
static int
endpoint(const char *w, struct addr *a, uint16_t *port, bool *has_port)
{
	char buf[128], *c, *host = buf, *ps = NULL, *end;
	const char *why;
	unsigned long v;

	if (strlen(w) >= sizeof(buf))
		return -1;
	strcpy(buf, w);
	if (buf[0] == '[') {
		if ((c = strchr(buf, ']')) == NULL)
			return -1;
		*c++ = '\0';
		host = buf + 1;
		if (*c == ':')
			ps = c + 1;
		else if (*c != '\0')
			return -1;
	} else if ((c = strchr(buf, ':')) != NULL && !strchr(c + 1, ':')) {
		*c = '\0';
		ps = c + 1;
	}
	if (addr_parse(host, a, &why) == -1 || !addr_is_host(a))
		return -1;
	*has_port = ps != NULL;
	if (ps != NULL) {
		errno = 0;
		v = strtoul(ps, &end, 10);
		if (!isdigit((unsigned char)*ps) || *end != '\0' || errno ||
		    v > 65535)
			return -1;
		*port = (uint16_t)v;
	}
	return 0;
}

static int
copy_word(char *dst, size_t len, const char *w)
{
	if (strlen(w) >= len)
		return -1;
	strcpy(dst, w);
	return 0;
}

/* The words after the destination: to/out, type, state. */
static int
parse_tail(struct words *ws, size_t i, struct packet *p, struct diags *d)
{
	uint8_t t;

	for (; i < ws->n; i += 2) {
		if (i + 1 >= ws->n)
			return perr(d, ws, i + 1, "expected a value after %s",
			    ws->w[i]);
		if (strcmp(ws->w[i], "to") == 0 && p->oif[0] == '\0') {
			if (copy_word(p->to, sizeof(p->to), ws->w[i + 1]) == -1)
				return perr(d, ws, i + 1, "zone name too long");
		} else if (strcmp(ws->w[i], "out") == 0 && p->to[0] == '\0') {
			if (copy_word(p->oif, sizeof(p->oif), ws->w[i + 1]) ==
			    -1)
				return perr(d, ws, i + 1, "interface name too "
				    "long");
		} else if (strcmp(ws->w[i], "type") == 0 &&
		    (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6)) {
			if (icmp_type_parse(p->proto, ws->w[i + 1], &t) == -1)
				return perr(d, ws, i + 1, "unknown %s type %s",
				    proto_name(p->proto), ws->w[i + 1]);
			p->icmp_type = t;
		} else if (strcmp(ws->w[i], "state") == 0) {
			if ((p->state = ctstate_parse(ws->w[i + 1])) == 0)
				return perr(d, ws, i + 1, "expected new, "
				    "established, related or invalid, got %s",
				    ws->w[i + 1]);
		} else
			return perr(d, ws, i, "expected to ZONE, out IFACE, "
			    "type TYPE or state STATE, got %s", ws->w[i]);
	}
	return 0;
}

int
explain_parse(const char *text, struct packet *p, struct diags *d)
{
	struct words ws;
	size_t i = 0;
	bool sp = false, dp = false;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	p->icmp_type = -1;
	p->state = CTSTATE_NEW;
	if (words_split(text, &ws) == -1)
		return perr(d, &ws, 0, "out of memory");
	if (i + 1 < ws.n && (strcmp(ws.w[i], "from") == 0 ||
	    strcmp(ws.w[i], "in") == 0)) {
		if (copy_word(ws.w[i][0] == 'f' ? p->from : p->iif,
		    ws.w[i][0] == 'f' ? sizeof(p->from) : sizeof(p->iif),
		    ws.w[i + 1]) == -1) {
			perr(d, &ws, i + 1, "name too long");
			goto out;
		}
		i += 2;
	}
	if (i >= ws.n || proto_parse(ws.w[i], &p->proto) == -1) {
		perr(d, &ws, i, "expected from ZONE, in IFACE or a protocol "
		    "(tcp, udp, sctp, icmp, icmpv6)%s%s", i < ws.n ? ", got " :
		    "", i < ws.n ? ws.w[i] : "");
		goto out;
	}
	i++;
	if (i >= ws.n || endpoint(ws.w[i], &p->src, &p->sport, &sp) == -1) {
		perr(d, &ws, i, "expected the source: ADDR, ADDR:PORT or "
		    "[IPV6]:PORT");
		goto out;
	}
	/* the arrow may be left out: a shell reads > as a redirection */
	if (++i < ws.n && strcmp(ws.w[i], "->") == 0)
		i++;
	if (i >= ws.n || endpoint(ws.w[i], &p->dst, &p->dport, &dp) == -1) {
		perr(d, &ws, i, "expected the destination: ADDR, ADDR:PORT "
		    "or [IPV6]:PORT");
		goto out;
	}
	if (p->src.family != p->dst.family) {
		perr(d, &ws, i, "source and destination are of two IP "
		    "versions");
		goto out;
	}
	if ((p->proto == IPPROTO_ICMP && p->src.family != AF_INET) ||
	    (p->proto == IPPROTO_ICMPV6 && p->src.family != AF_INET6)) {
		perr(d, &ws, i, "%s is for IPv%d addresses",
		    proto_name(p->proto), p->proto == IPPROTO_ICMP ? 4 : 6);
		goto out;
	}
	if ((p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP ||
	    p->proto == IPPROTO_SCTP) && !dp) {
		perr(d, &ws, i, "expected a destination port for %s",
		    proto_name(p->proto));
		goto out;
	}
	rc = parse_tail(&ws, i + 1, p, d);
 out:
	free(ws.buf);
	return rc;
}

/* --- sides ------------------------------------------------------------ */

static bool
iface_match(const char *pattern, const char *name)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, name, n - 1) == 0;
	return strcmp(pattern, name) == 0;
}

static bool
zone_has_iface(const struct zone *z, const char *ifname)
{
	size_t i;

	for (i = 0; i < z->nifaces; i++)
		if (iface_match(z->ifaces[i], ifname))
			return true;
	return false;
}

/* The interface zone of ifname: an exact name first, then a wildcard. */
static const struct zone *
iface_zone(const struct ruleset *rs, const char *ifname)
{
	const struct zone *wild = NULL;
	size_t i, j;

	for (i = 0; i < rs->nzones; i++)
		for (j = 0; j < rs->zones[i]->nifaces; j++) {
			if (strcmp(rs->zones[i]->ifaces[j], ifname) == 0)
				return rs->zones[i];
			if (wild == NULL && iface_match(rs->zones[i]->ifaces[j],
			    ifname))
				wild = rs->zones[i];
		}
	return wild;
}

/* A network-only zone holding a: for interfaces of no zone. */
static const struct zone *
net_zone(const struct ruleset *rs, const struct addr *a)
{
	size_t i, j;

	for (i = 0; i < rs->nzones; i++) {
		if (rs->zones[i]->nifaces != 0)
			continue;
		for (j = 0; j < rs->zones[i]->nnetworks; j++)
			if (addr_in_network(a, &rs->zones[i]->networks[j]))
				return rs->zones[i];
	}
	return NULL;
}

/* Is src among z's networks of its family (or z lists none, or src is on
 * the link by definition)? */
static bool
zone_holds_src(const struct zone *z, const struct addr *src)
{
	static const uint8_t ll[16] = { 0xfe, 0x80 };
	size_t j;
	bool listed = false;

	if ((src->family == AF_INET && memcmp(src->bytes, "\0\0\0\0", 4) ==
	    0) || (src->family == AF_INET6 && src->bytes[0] == ll[0] &&
	    (src->bytes[1] & 0xc0) == ll[1]))
		return true;
	for (j = 0; j < z->nnetworks; j++) {
		if (z->networks[j].family != src->family)
			continue;
		listed = true;
		if (addr_in_network(src, &z->networks[j]))
			return true;
	}
	return !listed;
}

static const struct zone *
zone_named(const struct ruleset *rs, const char *name)
{
	ssize_t i = ruleset_find_zone(rs, name);

	return i == -1 ? NULL : rs->zones[i];
}

static const struct host_addr *
host_find(const struct host_addr *h, size_t n, const struct addr *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (h[i].addr.family == a->family &&
		    memcmp(h[i].addr.bytes, a->bytes, a->family == AF_INET ?
		    4 : 16) == 0)
			return &h[i];
	return NULL;
}

/* The interface whose connected network holds a (the longest prefix). */
static const char *
connected_iface(const struct host_addr *h, size_t n, const struct addr *a)
{
	struct addr net;
	const char *best = NULL;
	int len = -1;
	size_t i;

	for (i = 0; i < n; i++) {
		if (h[i].addr.family != a->family || h[i].netprefix <= len)
			continue;
		net = h[i].addr;
		net.prefix = h[i].netprefix;
		if (addr_in_network(a, &net)) {
			best = h[i].ifname;
			len = h[i].netprefix;
		}
	}
	return best;
}

/* The incoming side of p: a zone, "self" or "any"; NULL with an error. */
static int
side_in(const struct ruleset *rs, const struct host_addr *h, size_t nh,
    const struct packet *p, char *out, size_t len, struct diags *d)
{
	const struct zone *z;

	if (p->from[0] != '\0') {
		if (strcmp(p->from, ZONE_SELF) != 0 &&
		    strcmp(p->from, UNZONED) != 0 &&
		    zone_named(rs, p->from) == NULL) {
			diags_add(d, NULL, "unknown zone \"%s\" in from; "
			    "expected a zone, self or any", p->from);
			return -1;
		}
		snprintf(out, len, "%s", p->from);
		return 0;
	}
	if (p->iif[0] == '\0') {
		if (host_find(h, nh, &p->src) != NULL)
			snprintf(out, len, "%s", ZONE_SELF);
		else if ((z = net_zone(rs, &p->src)) != NULL)
			snprintf(out, len, "%s", z->name);
		else {
			diags_add(d, NULL, "cannot tell where %s comes from; "
			    "give from ZONE or in IFACE", "the packet");
			return -1;
		}
		return 0;
	}
	if ((z = iface_zone(rs, p->iif)) != NULL)
		snprintf(out, len, "%s", zone_holds_src(z, &p->src) ? z->name :
		    UNZONED);
	else if ((z = net_zone(rs, &p->src)) != NULL)
		snprintf(out, len, "%s", z->name);
	else
		snprintf(out, len, "%s", UNZONED);
	return 0;
}

/* The outgoing side for destination a: destinations are not narrowed. */
static int
side_out(const struct ruleset *rs, const struct host_addr *h, size_t nh,
    const struct packet *p, const struct addr *a, char *out, size_t len,
    struct diags *d)
{
	const struct zone *z;
	const char *oif = p->oif[0] != '\0' ? p->oif : NULL;

	if (p->to[0] != '\0') {
		if (strcmp(p->to, UNZONED) != 0 && zone_named(rs, p->to) ==
		    NULL) {
			diags_add(d, NULL, "unknown zone \"%s\" in to; "
			    "expected a zone or any", p->to);
			return -1;
		}
		snprintf(out, len, "%s", p->to);
		return 0;
	}
	if (oif == NULL && (oif = connected_iface(h, nh, a)) == NULL &&
	    (z = net_zone(rs, a)) == NULL) {
		diags_add(d, NULL, "cannot tell where the packet goes: no "
		    "network of this host holds its destination; give to "
		    "ZONE or out IFACE");
		return -1;
	}
	if (oif != NULL && (z = iface_zone(rs, oif)) == NULL)
		z = net_zone(rs, a);
	snprintf(out, len, "%s", z != NULL ? z->name : UNZONED);
	return 0;
}

/* --- matches ----------------------------------------------------------- */

static bool
set_holds_addr(const struct set *s, const struct addr *a)
{
	size_t i;

	for (i = 0; i < s->nelems; i++)
		if (addr_in_network(a, &s->elems[i].key.addr))
			return true;
	return false;
}

static bool
set_holds_port(const struct set *s, uint16_t port)
{
	size_t i;

	for (i = 0; i < s->nelems; i++)
		if (s->elems[i].key.port.lo <= port &&
		    port <= s->elems[i].key.port.hi)
			return true;
	return false;
}

static const struct set *
set_named(const struct ruleset *rs, const char *name)
{
	ssize_t i = ruleset_find_set(rs, name);

	return i == -1 ? NULL : rs->sets[i];
}

static bool
addr_matches(const struct ruleset *rs, const struct addrmatch *m,
    const struct addr *a)
{
	const struct set *s;
	size_t i;

	if (m->set != NULL)
		return (s = set_named(rs, m->set)) != NULL &&
		    set_holds_addr(s, a);
	if (m->naddrs == 0)
		return true;
	for (i = 0; i < m->naddrs; i++)
		if (addr_in_network(a, &m->addrs[i]))
			return true;
	return false;
}

static bool
port_matches(const struct ruleset *rs, const struct portmatch *m,
    uint16_t port)
{
	const struct set *s;
	size_t i;

	if (m->set != NULL)
		return (s = set_named(rs, m->set)) != NULL &&
		    set_holds_port(s, port);
	if (m->nranges == 0)
		return true;
	for (i = 0; i < m->nranges; i++)
		if (m->ranges[i].lo <= port && port <= m->ranges[i].hi)
			return true;
	return false;
}

/* Whether rule r matches the packet as the filter sees it (dst, dport
 * after DNAT). A limit is taken as not reached. */
static bool
rule_matches(const struct ruleset *rs, const struct rule *r,
    const struct packet *p, const struct addr *dst, uint16_t dport)
{
	if (r->family != 0 && r->family != p->src.family)
		return false;
	if (r->proto != PROTO_NONE && r->proto != p->proto)
		return false;
	if (!port_matches(rs, &r->sport, p->sport) ||
	    !port_matches(rs, &r->dport, dport))
		return false;
	if (r->nicmp_types > 0 && (p->icmp_type < 0 ||
	    memchr(r->icmp_types, p->icmp_type, r->nicmp_types) == NULL))
		return false;
	if (!addr_matches(rs, &r->src, &p->src) ||
	    !addr_matches(rs, &r->dst, dst))
		return false;
	return r->state == 0 || (r->state & p->state) != 0;
}

static bool
covers(const char *word, const char *side)
{
	return strcmp(word, side) == 0 || (strcmp(word, ZONE_ANY) == 0 &&
	    strcmp(side, ZONE_SELF) != 0);
}

/* --- NAT ---------------------------------------------------------------- */

static bool
forward_hairpin_zone(const struct zone *z)
{
	return !(z->flags & ZONE_EXTERNAL);
}

/*
 * The forward that DNATs p, in prerouting order: each entry for its own
 * zone (by interface, or a network zone by source), then for the hosts
 * of internal and DMZ zones reaching an address of the host that is not
 * on their own side (hairpin). Only to addresses of the host.
 */
static const struct nat *
dnat_of(const struct ruleset *rs, const struct host_addr *h, size_t nh,
    const struct packet *p, const char *from, bool *hairpin)
{
	const struct host_addr *local = host_find(h, nh, &p->dst);
	const struct zone *fz, *iz;
	const struct nat *n;
	size_t i;
	bool own_side;

	if (local == NULL || strcmp(from, ZONE_SELF) == 0)
		return NULL;
	iz = p->iif[0] != '\0' ? iface_zone(rs, p->iif) : zone_named(rs,
	    from);
	own_side = p->iif[0] != '\0' ? strcmp(local->ifname, p->iif) == 0 :
	    iz != NULL && zone_has_iface(iz, local->ifname);
	for (i = 0; i < rs->nnats; i++) {
		n = rs->nats[i];
		if (n->kind != NAT_FORWARD || n->proto != p->proto ||
		    n->target.family != p->dst.family ||
		    p->dport < n->dport.lo || p->dport > n->dport.hi ||
		    !addr_matches(rs, &n->src, &p->src) ||
		    (fz = zone_named(rs, n->from)) == NULL)
			continue;
		if (iz == fz || (iz == NULL && fz->nifaces == 0 &&
		    strcmp(from, fz->name) == 0)) {
			*hairpin = false;
			return n;
		}
		if (iz != NULL && iz->nifaces > 0 && forward_hairpin_zone(iz) &&
		    !own_side) {
			*hairpin = true;
			return n;
		}
	}
	return NULL;
}

/* The masquerade or snat entry on the way out, in postrouting order:
 * the hairpin masquerade of a DNATed flow first. */
static const struct nat *
snat_of(const struct ruleset *rs, const struct packet *p,
    const struct explain *e, bool *hairpin)
{
	const struct zone *tz, *fz;
	const struct nat *n;
	size_t i;

	*hairpin = false;
	if (e->dnat != NULL && strcmp(e->from, e->to) == 0 &&
	    (fz = zone_named(rs, e->from)) != NULL && fz->nifaces > 0 &&
	    forward_hairpin_zone(fz)) {
		*hairpin = true;
		return e->dnat;
	}
	for (i = 0; i < rs->nnats; i++) {
		n = rs->nats[i];
		if (n->kind == NAT_FORWARD || n->to == NULL ||
		    strcmp(n->to, e->to) != 0 ||
		    (tz = zone_named(rs, n->to)) == NULL || tz->nifaces == 0)
			continue;
		if (strcmp(n->from, ZONE_ANY) != 0 &&
		    strcmp(n->from, e->from) != 0)
			continue;
		if (n->kind == NAT_SNAT && n->snat_addr.family !=
		    p->src.family)
			continue;
		if (addr_matches(rs, &n->src, &p->src))
			return n;
	}
	return NULL;
}

/* --- the filter ------------------------------------------------------- */

static int
set_comment(struct explain *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
set_comment(struct explain *e, const char *fmt, ...)
{
	va_list ap;
	int rc;

	free(e->comment);
	va_start(ap, fmt);
	rc = vasprintf(&e->comment, fmt, ap);
	va_end(ap);
	if (rc == -1)
		e->comment = NULL;
	return rc == -1 ? -1 : 0;
}

/* The forward's filter rule lets a DNATed flow to its target through. */
static bool
forward_opens(const struct ruleset *rs, const struct explain *e,
    const struct packet *p)
{
	return e->dnat != NULL && strcmp(e->hook, "forward") == 0 &&
	    addr_matches(rs, &e->dnat->src, &p->src);
}

static int
decide(const struct ruleset *rs, const struct packet *p, struct explain *e)
{
	const struct policy *po;
	const char *why;
	size_t i;

	if (p->state & (CTSTATE_ESTABLISHED | CTSTATE_RELATED)) {
		e->fastpath = true;
		e->verdict = VERDICT_ACCEPT;
		snprintf(e->decided, sizeof(e->decided), "%s", "established");
		return 0;
	}
	if (p->state & CTSTATE_INVALID) {
		e->fastpath = true;
		e->verdict = VERDICT_DROP;
		snprintf(e->decided, sizeof(e->decided), "%s", "invalid");
		return 0;
	}
	for (i = 0; i < rs->nrules; i++) {
		const struct rule *r = rs->rules[i];

		if (!covers(r->from, e->from) || !covers(r->to, e->to) ||
		    !rule_matches(rs, r, p, &e->dst, e->dport))
			continue;
		e->rule = r;
		e->verdict = r->verdict;
		snprintf(e->decided, sizeof(e->decided), "rule %s", r->name);
		return r->comment != NULL && *r->comment != '\0' ?
		    set_comment(e, "%s: %s", r->name, r->comment) :
		    set_comment(e, "%s", r->name);
	}
	if (forward_opens(rs, e, p)) {
		e->opened = e->dnat;
		e->verdict = VERDICT_ACCEPT;
		snprintf(e->decided, sizeof(e->decided), "forward %s",
		    e->dnat->name);
		return set_comment(e, "forward %s", e->dnat->name);
	}
	e->verdict = compile_policy_verdict(rs, e->from, e->to, &why);
	snprintf(e->decided, sizeof(e->decided), "%s", why);
	po = compile_policy_of(rs, e->from, e->to);
	e->policy_log = po != NULL && po->log;
	/* the comment of compile.c's policy rule */
	return set_comment(e, "%s%s", why, strncmp(why, "policy ", 7) ?
	    " policy" : "");
}

/* The chains of the table the packet goes through (docs/design-compile.md):
 * the NAT hook first, the filter hook, the pair chain (through fwd/<from>
 * for forwarding), nat-open for a forward's flow, the way out. */
static void
explain_path(struct explain *e)
{
	bool out = strcmp(e->hook, "output") == 0;

	e->npath = 0;
	if (!out)
		e->path[e->npath++] = "prerouting";
	e->path[e->npath++] = e->hook;
	if (e->fastpath)
		return;
	e->path[e->npath++] = e->chain;
	if (e->opened != NULL)
		e->path[e->npath++] = "nat-open";
	if (e->verdict == VERDICT_ACCEPT && strcmp(e->hook, "input") != 0)
		e->path[e->npath++] = "postrouting";
}

int
explain_packet(const struct ruleset *rs, const struct host_addr *h,
    size_t nh, const struct packet *p, struct explain *e, struct diags *d)
{
	bool local;

	memset(e, 0, sizeof(*e));
	if (side_in(rs, h, nh, p, e->from, sizeof(e->from), d) == -1)
		return -1;
	e->dst = p->dst;
	e->dport = p->dport;
	if ((e->dnat = dnat_of(rs, h, nh, p, e->from, &e->dnat_hairpin)) !=
	    NULL) {
		e->dst = e->dnat->target;
		if (e->dnat->target_port != 0)
			e->dport = (uint16_t)(e->dnat->target_port +
			    (p->dport - e->dnat->dport.lo));
	}
	local = host_find(h, nh, &e->dst) != NULL;
	if (strcmp(e->from, ZONE_SELF) == 0) {
		e->hook = "output";
		if (side_out(rs, h, nh, p, &e->dst, e->to, sizeof(e->to),
		    d) == -1)
			return -1;
	} else if (local) {
		e->hook = "input";
		snprintf(e->to, sizeof(e->to), "%s", ZONE_SELF);
	} else {
		e->hook = "forward";
		if (side_out(rs, h, nh, p, &e->dst, e->to, sizeof(e->to),
		    d) == -1)
			return -1;
	}
	if (strcmp(e->from, ZONE_SELF) == 0 && strcmp(e->to, ZONE_SELF) == 0) {
		diags_add(d, NULL, "the host talking to itself: always "
		    "allowed, no rule sees it");
		return -1;
	}
	if ((e->chain = compile_pair_chain(rs, e->from, e->to)) == NULL ||
	    decide(rs, p, e) == -1) {
		diags_add(d, NULL, "out of memory");
		explain_free(e);
		return -1;
	}
	if (e->verdict == VERDICT_ACCEPT && strcmp(e->hook, "input") != 0)
		e->snat = snat_of(rs, p, e, &e->snat_hairpin);
	explain_path(e);
	return 0;
}

void
explain_free(struct explain *e)
{
	free(e->chain);
	free(e->comment);
	e->chain = NULL;
	e->comment = NULL;
}

/* --- this host -------------------------------------------------------- */

static int
prefix_of(const struct sockaddr *m)
{
	const uint8_t *b;
	int n = 0, i, len;

	if (m == NULL)
		return -1;
	if (m->sa_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)m)->sin_addr;
		len = 4;
	} else if (m->sa_family == AF_INET6) {
		b = ((const struct sockaddr_in6 *)(const void *)m)->
		    sin6_addr.s6_addr;
		len = 16;
	} else
		return -1;
	for (i = 0; i < len * 8 && (b[i / 8] & (0x80 >> (i % 8))); i++)
		n++;
	return n;
}

int
explain_host_addrs(struct host_addr **v, size_t *n)
{
	struct ifaddrs *ifa, *i;
	struct host_addr *h;
	size_t cap = 0;

	*v = NULL;
	*n = 0;
	if (getifaddrs(&ifa) == -1)
		return -1;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6) ||
		    strlen(i->ifa_name) > FWCTL_IFNAME_MAX)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			if ((h = reallocarray(*v, cap, sizeof(*h))) == NULL) {
				freeifaddrs(ifa);
				free(*v);
				*v = NULL;
				return -1;
			}
			*v = h;
		}
		h = &(*v)[*n];
		memset(h, 0, sizeof(*h));
		strcpy(h->ifname, i->ifa_name);
		h->addr.family = i->ifa_addr->sa_family;
		if (h->addr.family == AF_INET) {
			memcpy(h->addr.bytes, &((struct sockaddr_in *)(void *)
			    i->ifa_addr)->sin_addr, 4);
			h->addr.prefix = 32;
		} else {
			memcpy(h->addr.bytes, &((struct sockaddr_in6 *)(void *)
			    i->ifa_addr)->sin6_addr, 16);
			h->addr.prefix = 128;
		}
		h->netprefix = prefix_of(i->ifa_netmask);
		(*n)++;
	}
	freeifaddrs(ifa);
	return 0;
}
