/*
 * The model back into canonical rule-language text (SPEC §2), like bgpd's
 * printconf: `fwctld -nv` prints it, the API serves it as text/plain, and
 * the tests use it as an oracle (print(parse(x)) parses back equal).
 *
 * Canonical means one spelling per model: fixed statement order, fixed
 * option order, a bare value for a one-element list and `{ a, b }` for
 * more, durations in the largest exact units.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "print.h"

#define PRINT_ADDR_MAX	64
#define PRINT_DUR_MAX	64

/* A model that was never validated may lack a name or hold an unknown
 * word; print a marker the parser refuses rather than crash. */
static const char *
nn(const char *s)
{
	return s != NULL ? s : "?";
}

static void
put_addr(FILE *f, const struct addr *a)
{
	char	buf[PRINT_ADDR_MAX];

	fputs(addr_format(a, buf, sizeof(buf)) != NULL ? buf : "?", f);
}

static void
put_port(FILE *f, const struct portrange *pr)
{
	if (pr->lo == pr->hi)
		fprintf(f, "%u", (unsigned)pr->lo);
	else
		fprintf(f, "%u-%u", (unsigned)pr->lo, (unsigned)pr->hi);
}

static void
put_duration(FILE *f, uint64_t ms)
{
	char	buf[PRINT_DUR_MAX];

	fputs(duration_format(ms, buf, sizeof(buf)) != NULL ? buf : "?", f);
}

/*
 * A quoted string. The lexer knows two escapes, \" and \\, and takes every
 * other byte but a control character as it is; neither the parser nor the
 * decoder lets a control character (tab aside) into the model.
 */
static void
put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Opens a list of n items: "{ " when there is more than one. */
static void
list_open(FILE *f, size_t n)
{
	if (n > 1)
		fputs("{ ", f);
}

static void
list_sep(FILE *f, size_t i)
{
	if (i > 0)
		fputs(", ", f);
}

static void
list_close(FILE *f, size_t n)
{
	if (n > 1)
		fputs(" }", f);
}

static void
put_portmatch(FILE *f, const char *kw, const struct portmatch *pm)
{
	char	name[FWCTL_SERVICE_MAX + 1];
	size_t	i;

	if (pm->set == NULL && pm->nranges == 0)
		return;
	fprintf(f, " %s ", kw);
	if (pm->set != NULL) {
		fprintf(f, "@%s", pm->set);
		return;
	}
	list_open(f, pm->nranges);
	for (i = 0; i < pm->nranges; i++) {
		list_sep(f, i);
		if (portmatch_name(pm, i, name, sizeof(name)) != NULL)
			fputs(name, f);
		else
			put_port(f, &pm->ranges[i]);
	}
	list_close(f, pm->nranges);
}

static void
put_addrmatch(FILE *f, const char *kw, const struct addrmatch *am)
{
	size_t	i;

	if (am->set == NULL && am->naddrs == 0)
		return;
	fprintf(f, " %s ", kw);
	if (am->set != NULL) {
		fprintf(f, "@%s", am->set);
		return;
	}
	list_open(f, am->naddrs);
	for (i = 0; i < am->naddrs; i++) {
		list_sep(f, i);
		put_addr(f, &am->addrs[i]);
	}
	list_close(f, am->naddrs);
}

/* Calls fn(f) into a malloc'd string. */
static char *
to_string(void (*fn)(FILE *, const void *), const void *arg)
{
	FILE	*f;
	char	*s = NULL;
	size_t	 len = 0;

	if ((f = open_memstream(&s, &len)) == NULL)
		return NULL;
	fn(f, arg);
	if (ferror(f)) {
		fclose(f);
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static void
fprint_zone(FILE *f, const void *arg)
{
	const struct zone	*z = arg;
	size_t			 i;
	const char		*sep = " ";

	fprintf(f, "zone %s {", nn(z->name));
	if (z->nifaces > 0) {
		fputs(" interface ", f);
		for (i = 0; i < z->nifaces; i++) {
			list_sep(f, i);
			fputs(z->ifaces[i], f);
		}
		sep = "; ";
	}
	if (z->nnetworks > 0) {
		fprintf(f, "%snetwork ", sep);
		for (i = 0; i < z->nnetworks; i++) {
			list_sep(f, i);
			put_addr(f, &z->networks[i]);
		}
		sep = "; ";
	}
	if (z->flags & ZONE_EXTERNAL) {
		fprintf(f, "%sexternal", sep);
		sep = "; ";
	}
	if (z->flags & ZONE_DMZ)
		fprintf(f, "%sdmz", sep);
	fputs(" }", f);
}

static void
fprint_policy(FILE *f, const void *arg)
{
	const struct policy	*p = arg;

	fprintf(f, "policy %s -> %s %s", nn(p->from), nn(p->to),
	    nn(verdict_name(p->verdict)));
	if (p->log)
		fputs(" log", f);
	if (p->log_prefix != NULL) {
		fputs(" prefix ", f);
		put_quoted(f, p->log_prefix);
	}
}

/* The SPEC's order of the ct states. */
static const unsigned ctstate_order[] = {
	CTSTATE_NEW, CTSTATE_ESTABLISHED, CTSTATE_RELATED, CTSTATE_INVALID,
};

static void
fprint_rule(FILE *f, const void *arg)
{
	const struct rule	*r = arg;
	const char		*s;
	size_t			 i, n;

	fprintf(f, "rule %s from %s to %s", nn(r->name), nn(r->from),
	    nn(r->to));
	if (r->family != 0)
		fputs(r->family == AF_INET ? " ip4" : " ip6", f);
	if (r->proto != PROTO_NONE) {
		fprintf(f, " %s", nn(proto_name(r->proto)));
		put_portmatch(f, "sport", &r->sport);
		put_portmatch(f, "dport", &r->dport);
		if (r->nicmp_types > 0) {
			fputs(" type ", f);
			list_open(f, r->nicmp_types);
			for (i = 0; i < r->nicmp_types; i++) {
				list_sep(f, i);
				if ((s = icmp_type_name(r->proto,
				    r->icmp_types[i])) != NULL)
					fputs(s, f);
				else
					fprintf(f, "%u",
					    (unsigned)r->icmp_types[i]);
			}
			list_close(f, r->nicmp_types);
		}
	}
	put_addrmatch(f, "src", &r->src);
	put_addrmatch(f, "dst", &r->dst);
	if (r->state != 0) {
		for (i = n = 0; i < sizeof(ctstate_order) /
		    sizeof(*ctstate_order); i++)
			if (r->state & ctstate_order[i])
				n++;
		fputs(" state ", f);
		list_open(f, n);
		for (i = n = 0; i < sizeof(ctstate_order) /
		    sizeof(*ctstate_order); i++)
			if (r->state & ctstate_order[i]) {
				list_sep(f, n++);
				fputs(ctstate_name(ctstate_order[i]), f);
			}
		list_close(f, n);
	}
	fprintf(f, " %s", nn(verdict_name(r->verdict)));
	if (r->limit.rate > 0) {
		fprintf(f, " limit %" PRIu64 "/%s", r->limit.rate,
		    nn(limit_unit_name(r->limit.unit)));
		if (r->limit.burst > 0)
			fprintf(f, " burst %" PRIu32, r->limit.burst);
		if (r->limit.per_source)
			fputs(" per source", f);
	}
	if (r->log) {
		fputs(" log", f);
		if (r->log_prefix != NULL) {
			fputs(" prefix ", f);
			put_quoted(f, r->log_prefix);
		}
	}
	if (r->comment != NULL) {
		fputs(" comment ", f);
		put_quoted(f, r->comment);
	}
}

static void
fprint_nat(FILE *f, const void *arg)
{
	const struct nat	*n = arg;

	fprintf(f, "nat %s %s from %s", nn(n->name), nn(nat_kind_name(n->kind)),
	    nn(n->from));
	switch (n->kind) {
	case NAT_MASQUERADE:
		fprintf(f, " to %s", nn(n->to));
		break;
	case NAT_SNAT:
		fprintf(f, " to %s as ", nn(n->to));
		put_addr(f, &n->snat_addr);
		break;
	case NAT_FORWARD:
		fprintf(f, " %s dport ", nn(proto_name(n->proto)));
		put_port(f, &n->dport);
		fputs(" to ", f);
		if (n->target_port != 0 && n->target.family == AF_INET6) {
			fputc('[', f);
			put_addr(f, &n->target);
			fputc(']', f);
		} else
			put_addr(f, &n->target);
		if (n->target_port != 0)
			fprintf(f, ":%u", (unsigned)n->target_port);
		break;
	}
	put_addrmatch(f, "src", &n->src);
}

static void
put_elem_key(FILE *f, enum set_type type, const struct set_elem *e)
{
	if (type == SET_PORT)
		put_port(f, &e->key.port);
	else
		put_addr(f, &e->key.addr);
}

static void
fprint_set(FILE *f, const void *arg)
{
	const struct set	*s = arg;
	size_t			 i;
	const char		*sep = " ";

	fprintf(f, "set %s %s {", nn(s->name), nn(set_type_name(s->type)));
	if (s->timeout_ms != 0) {
		fputs(" timeout ", f);
		put_duration(f, s->timeout_ms);
		sep = "; ";
	}
	for (i = 0; i < s->nelems; i++) {
		fputs(i == 0 ? sep : ", ", f);
		put_elem_key(f, s->type, &s->elems[i]);
		if (s->elems[i].timeout_ms != 0) {
			fputs(" timeout ", f);
			put_duration(f, s->elems[i].timeout_ms);
		}
	}
	fputs(" }", f);
}

struct elem_arg {
	enum set_type		 type;
	const struct set_elem	*e;
};

static void
fprint_set_elem(FILE *f, const void *arg)
{
	const struct elem_arg	*a = arg;

	put_elem_key(f, a->type, a->e);
}

char *
print_zone(const struct zone *z)
{
	return to_string(fprint_zone, z);
}

char *
print_policy(const struct policy *p)
{
	return to_string(fprint_policy, p);
}

char *
print_rule(const struct rule *r)
{
	return to_string(fprint_rule, r);
}

char *
print_nat(const struct nat *n)
{
	return to_string(fprint_nat, n);
}

char *
print_set(const struct set *s)
{
	return to_string(fprint_set, s);
}

/* The key alone ("192.0.2.7", "1000-2000"), as parse_set_elem() reads it;
 * a per-element timeout belongs to the set statement. */
char *
print_set_elem(enum set_type type, const struct set_elem *e)
{
	struct elem_arg	a = { type, e };

	return to_string(fprint_set_elem, &a);
}

static void
print_section(FILE *f, void *const *v, size_t n,
    void (*fn)(FILE *, const void *), bool *first)
{
	size_t	i;

	if (n == 0)
		return;
	/* a blank line between sections, as a person would write it */
	if (!*first)
		fputc('\n', f);
	*first = false;
	for (i = 0; i < n; i++) {
		fn(f, v[i]);
		fputc('\n', f);
	}
}

int
print_ruleset(FILE *f, const struct ruleset *rs)
{
	bool	first = true;

	print_section(f, (void *const *)rs->zones, rs->nzones, fprint_zone,
	    &first);
	print_section(f, (void *const *)rs->sets, rs->nsets, fprint_set,
	    &first);
	print_section(f, (void *const *)rs->policies, rs->npolicies,
	    fprint_policy, &first);
	print_section(f, (void *const *)rs->rules, rs->nrules, fprint_rule,
	    &first);
	print_section(f, (void *const *)rs->nats, rs->nnats, fprint_nat,
	    &first);
	if (ferror(f)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static void
fprint_ruleset(FILE *f, const void *arg)
{
	print_ruleset(f, arg);
}

char *
print_ruleset_str(const struct ruleset *rs)
{
	return to_string(fprint_ruleset, rs);
}
