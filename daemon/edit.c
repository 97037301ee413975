/*
 * Model editing: turns "the ruleset as it is" plus "a change" into "the
 * ruleset as it will be", without the kernel or the disk.  The engine
 * (one change at a time) and the journal's replay (state.c) both use it,
 * so that a change replayed at start is the change that was acknowledged.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edit.h"
#include "print.h"

/* Wall time: element expiry times are kept across restarts. */
uint64_t
edit_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
/*
 * Sets whose expiry_hint has passed are copied (when shared) and cleaned
 * in one pass, which also makes their hint exact again; the others are not
 * looked into.
 */
size_t
edit_prune_expired(struct ruleset *rs, uint64_t now)
{
	struct set	*s;
	unsigned char	*drop;
	size_t		 i, j, n = 0, k;

	for (i = 0; i < rs->nsets; i++) {
		s = rs->sets[i];
		if (s->expiry_hint == 0 || s->expiry_hint > now)
			continue;
		if ((drop = calloc(s->nelems + 1, 1)) == NULL)
			continue;
		for (j = k = 0; j < s->nelems; j++)
			if (s->elems[j].expires_ms != 0 &&
			    s->elems[j].expires_ms <= now) {
				drop[j] = 1;
				k++;
			}
		if ((s = ruleset_own_set(rs, i, 0)) != NULL) {
			set_remove_marked(s, drop);
			n += k;
		}
		free(drop);
	}
	return n;
}

bool
edit_has_expired(const struct ruleset *rs, uint64_t now)
{
	size_t		 i;

	for (i = 0; i < rs->nsets; i++)
		if (rs->sets[i]->expiry_hint != 0 &&
		    rs->sets[i]->expiry_hint <= now)
			return true;
	return false;
}

/*
 * Elements with a timeout get a wall-clock expiry, so that the model (and
 * the state file) forget them when the kernel does.  Elements that were
 * already there (in os, the set of the same name before) keep theirs: the
 * kernel keeps them untouched.
 */
static void
edit_stamp_elem(const struct set *s, const struct set *os,
    struct set_elem *el, uint64_t now)
{
	uint64_t	 t;
	ssize_t		 k;

	t = el->timeout_ms ? el->timeout_ms : s->timeout_ms;
	if (t == 0 || el->expires_ms != 0)
		return;
	if (os != NULL && (k = set_find_elem(os, el)) >= 0 &&
	    os->elems[k].expires_ms != 0)
		el->expires_ms = os->elems[k].expires_ms;
	else
		el->expires_ms = now + t;
}

/* s is new (not shared); old is the ruleset before, or NULL. */
void
edit_stamp_set(const struct ruleset *old, struct set *s, uint64_t now)
{
	const struct set *os = NULL;
	ssize_t		 oi;
	size_t		 j;

	if (s->timeout_ms == 0) {
		for (j = 0; j < s->nelems; j++)
			if (s->elems[j].timeout_ms != 0)
				break;
		if (j == s->nelems)
			return;
	}
	if (old != NULL && (oi = ruleset_find_set(old, s->name)) >= 0 &&
	    old->sets[oi]->type == s->type)
		os = old->sets[oi];
	s->expiry_hint = 0;
	for (j = 0; j < s->nelems; j++) {
		edit_stamp_elem(s, os, &s->elems[j], now);
		if (s->elems[j].expires_ms != 0 && (s->expiry_hint == 0 ||
		    s->elems[j].expires_ms < s->expiry_hint))
			s->expiry_hint = s->elems[j].expires_ms;
	}
}

/* Keys a and b of a set of type t share an address or a port. */
static bool
edit_elems_overlap(enum set_type t, const struct set_elem *a,
    const struct set_elem *b)
{
	if (t == SET_PORT)
		return a->key.port.lo <= b->key.port.hi &&
		    b->key.port.lo <= a->key.port.hi;
	if (a->key.addr.prefix <= b->key.addr.prefix)
		return addr_in_network(&b->key.addr, &a->key.addr);
	return addr_in_network(&a->key.addr, &b->key.addr);
}

/*
 * Elements are data (fwctl.rules(5), "Sets"): a whole-ruleset replace
 * (PUT /v1/ruleset, a reload, a revert) keeps what was added to sets at
 * run time. A set of next that old has with the same type gets old's
 * unexpired run-time elements, with their expiry, beside the ones its text
 * lists, whatever else changed in its definition (its timeout: they keep
 * the time they had left). A listed element wins over a run-time one with
 * the same key or an overlapping one (the lists of next are free of
 * overlaps, so only the neighbours where an old key would go can overlap
 * it). A set whose type changed takes exactly what is listed. next's sets
 * are sorted. 0, or -1 on ENOMEM.
 */
static int
edit_carry_set(const struct set *os, struct ruleset *next, size_t i,
    uint64_t now)
{
	struct set	*s = next->sets[i];
	struct set_elem	*add;
	size_t		 j, n, pos;

	if (os->type != s->type || os->nelems == 0)
		return 0;
	if ((add = reallocarray(NULL, os->nelems, sizeof(*add))) == NULL)
		return -1;
	for (j = n = 0; j < os->nelems; j++) {
		if (!os->elems[j].runtime || (os->elems[j].expires_ms != 0 &&
		    os->elems[j].expires_ms <= now))
			continue;
		pos = set_lower_bound(s, &os->elems[j]);
		if ((pos < s->nelems && edit_elems_overlap(s->type,
		    &s->elems[pos], &os->elems[j])) || (pos > 0 &&
		    edit_elems_overlap(s->type, &s->elems[pos - 1],
		    &os->elems[j])))
			continue;
		add[n++] = os->elems[j];
	}
	if (os->unsorted)
		set_elems_sort(s->type, add, n);
	if (n > 0 && ruleset_update_set(next, i, add, n, NULL) == -1) {
		free(add);
		return -1;
	}
	free(add);
	s = next->sets[i];
	for (j = 0; j < s->nelems; j++)
		if (s->elems[j].expires_ms != 0 && (s->expiry_hint == 0 ||
		    s->elems[j].expires_ms < s->expiry_hint))
			s->expiry_hint = s->elems[j].expires_ms;
	return 0;
}

int
edit_carry_elems(const struct ruleset *old, struct ruleset *next,
    uint64_t now)
{
	size_t		 i;
	ssize_t		 oi;

	for (i = 0; i < next->nsets; i++)
		if ((oi = ruleset_find_set(old, next->sets[i]->name)) >= 0 &&
		    edit_carry_set(old->sets[oi], next, i, now) == -1)
			return -1;
	return 0;
}

size_t
edit_strip_runtime(struct ruleset *rs)
{
	const struct set *s;
	struct set	*own;
	unsigned char	*drop;
	size_t		 i, j, k, n = 0;

	for (i = 0; i < rs->nsets; i++) {
		s = rs->sets[i];
		for (j = k = 0; j < s->nelems; j++)
			k += s->elems[j].runtime;
		if (k == 0)
			continue;
		if ((drop = calloc(s->nelems + 1, 1)) == NULL)
			return n;
		for (j = 0; j < s->nelems; j++)
			drop[j] = s->elems[j].runtime;
		if ((own = ruleset_own_set(rs, i, 0)) != NULL) {
			set_remove_marked(own, drop);
			n += k;
		}
		free(drop);
	}
	return n;
}

static bool
edit_zone_known(const struct ruleset *rs, const char *z)
{
	if (z == NULL || strcmp(z, ZONE_ANY) == 0 ||
	    strcmp(z, ZONE_SELF) == 0 || strcmp(z, ZONE_ALL) == 0)
		return true;
	return ruleset_find_zone(rs, z) >= 0;
}

static int
edit_check_zone(const struct ruleset *rs, struct diags *d,
    const struct srcloc *l, const char *what, const char *name,
    const char *z)
{
	if (edit_zone_known(rs, z))
		return 0;
	diags_add(d, l, "%s %s: unknown zone \"%s\"", what, name, z);
	return 1;
}

static int
edit_check_set(const struct ruleset *rs, struct diags *d,
    const struct srcloc *l, const char *what, const char *name,
    const char *set)
{
	if (set == NULL || ruleset_find_set(rs, set) >= 0)
		return 0;
	diags_add(d, l, "%s %s: unknown set \"@%s\"", what, name, set);
	return 1;
}

static int
edit_rule_conflicts(const struct ruleset *rs, const struct rule *r,
    struct diags *d)
{
	int	 c = 0;

	c += edit_check_zone(rs, d, &r->loc, "rule", r->name, r->from);
	c += edit_check_zone(rs, d, &r->loc, "rule", r->name, r->to);
	c += edit_check_set(rs, d, &r->loc, "rule", r->name, r->src.set);
	c += edit_check_set(rs, d, &r->loc, "rule", r->name, r->dst.set);
	c += edit_check_set(rs, d, &r->loc, "rule", r->name, r->sport.set);
	c += edit_check_set(rs, d, &r->loc, "rule", r->name, r->dport.set);
	if (r->name != NULL && ruleset_find_nat(rs, r->name) >= 0)
		c++;	/* a NAT entry's name (validate.c says so) */
	return c;
}

static int
edit_nat_conflicts(const struct ruleset *rs, const struct nat *n,
    struct diags *d)
{
	int	 c = 0;

	c += edit_check_zone(rs, d, &n->loc, "nat", n->name, n->from);
	c += edit_check_zone(rs, d, &n->loc, "nat", n->name, n->to);
	c += edit_check_set(rs, d, &n->loc, "nat", n->name, n->src.set);
	if (n->name != NULL && ruleset_find_rule(rs, n->name) >= 0)
		c++;	/* a rule's name (validate.c says so) */
	return c;
}

/* Names seen twice among n objects (names first in their structs). */
static int
edit_dups(void *const *v, size_t n, const char *what, struct diags *d)
{
	struct nameidx	*idx;
	size_t		 i;
	int		 c = 0;

	if ((idx = nameidx_new(n)) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (*(char *const *)v[i] == NULL)
			continue;
		if (nameidx_get(idx, *(char *const *)v[i]) != NULL) {
			diags_add(d, NULL, "%s %s is defined twice", what,
			    *(char *const *)v[i]);
			c++;
		} else if (nameidx_put(idx, v[i]) == -1)
			break;
	}
	nameidx_free(idx);
	return c;
}

/*
 * Name clashes and references to missing zones and sets: the problems
 * that make a change conflict with the ruleset (409) rather than be
 * malformed (400).  Counted, and described in d.
 */
static int
edit_conflicts(const struct ruleset *rs, struct diags *d)
{
	const struct policy *p;
	size_t		 i;
	ssize_t		 k;
	int		 c = 0;
	char		 pname[2 * FWCTL_NAME_MAX + 8];

	c += edit_dups((void *const *)rs->zones, rs->nzones, "zone", d);
	c += edit_dups((void *const *)rs->sets, rs->nsets, "set", d);
	c += edit_dups((void *const *)rs->rules, rs->nrules, "rule", d);
	c += edit_dups((void *const *)rs->nats, rs->nnats, "nat", d);
	for (i = 0; i < rs->npolicies; i++) {
		p = rs->policies[i];
		snprintf(pname, sizeof(pname), "%s -> %s", p->from, p->to);
		c += edit_check_zone(rs, d, &p->loc, "policy", pname,
		    p->from);
		c += edit_check_zone(rs, d, &p->loc, "policy", pname, p->to);
		if ((k = ruleset_find_policy(rs, p->from, p->to)) >= 0 &&
		    (size_t)k != i) {
			diags_add(d, &p->loc, "policy %s is defined twice",
			    pname);
			c++;
		}
	}
	for (i = 0; i < rs->nrules; i++)
		c += edit_rule_conflicts(rs, rs->rules[i], d);
	for (i = 0; i < rs->nnats; i++)
		c += edit_nat_conflicts(rs, rs->nats[i], d);
	return c;
}

/* A diag without a location, for messages about the request itself. */
void
edit_fail(struct change_result *res, enum engine_status st,
    const char *field, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg = NULL;

	res->status = st;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if (field != NULL)
		diags_add_field(&res->diags, field, "%s", msg ? msg : "?");
	else
		diags_add(&res->diags, NULL, "%s", msg ? msg : "?");
	free(msg);
}

void
edit_change_free(struct change *c)
{
	ruleset_free(c->ruleset);
	rule_free(c->rule);
	zone_free(c->zone);
	policy_free(c->policy);
	nat_free(c->nat);
	set_free(c->set);
	c->ruleset = NULL;
	c->rule = NULL;
	c->zone = NULL;
	c->policy = NULL;
	c->nat = NULL;
	c->set = NULL;
}

static bool
edit_pos_parse(const char *s, size_t *pos)
{
	char		*end;
	unsigned long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return false;
	*pos = v;
	return true;
}

/* The rule named name in rs (shared from the ruleset ridx indexes). */
static ssize_t
edit_find_rule(const struct ruleset *rs, const struct nameidx *ridx,
    const char *name)
{
	const struct rule *r;

	if (ridx == NULL)
		return ruleset_find_rule(rs, name);
	if ((r = nameidx_get(ridx, name)) == NULL)
		return -1;
	return ruleset_rule_index(rs, r);
}

/* Where a new rule goes: index 0..nrules, or -1 with res filled. */
static ssize_t
edit_rule_slot(const struct ruleset *rs, const struct nameidx *ridx,
    const struct change *c, struct change_result *res)
{
	ssize_t	 k;
	int	 given = (c->position != 0) + (c->before != NULL) +
		    (c->after != NULL);

	if (given > 1) {
		edit_fail(res, ENGINE_INVALID, "position", "%s",
		    "give at most one of position, before and after");
		return -1;
	}
	if (c->position != 0) {
		if (c->position > rs->nrules + 1) {
			res->status = ENGINE_INVALID;
			diags_add_field(&res->diags, "position",
			    "position %zu is out of range (1..%zu)",
			    c->position, rs->nrules + 1);
			return -1;
		}
		return (ssize_t)c->position - 1;
	}
	if (c->before != NULL || c->after != NULL) {
		k = edit_find_rule(rs, ridx, c->before ? c->before :
		    c->after);
		if (k < 0) {
			edit_fail(res, ENGINE_NOTFOUND,
			    c->before ? "before" : "after", "no rule named %s",
			    c->before ? c->before : c->after);
			return -1;
		}
		return c->before ? k : k + 1;
	}
	return (ssize_t)rs->nrules;
}

/*
 * Elements to add to set s (ordered): the ones given, in key order, once
 * each, without those already there, stamped with their expiry. Checked
 * as validate_ruleset would check the merged set; 0, or -1 with res
 * filled (*out freed).
 */
static int
edit_new_elems(const struct set *s, const struct set *os,
    const struct set_elem *in, size_t n, uint64_t now,
    struct set_elem **out, size_t *nout, struct change_result *res)
{
	struct set_elem	*v;
	size_t		 i, m = 0;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	if ((v = reallocarray(NULL, n, sizeof(*v))) == NULL) {
		edit_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
		return -1;
	}
	memcpy(v, in, n * sizeof(*v));
	set_elems_sort(s->type, v, n);
	for (i = 0; i < n; i++) {
		/* the first of equal keys wins, as one by one */
		if (m > 0 && set_elem_cmp(s->type, &v[m - 1], &v[i]) == 0)
			continue;
		if (set_find_elem(s, &v[i]) >= 0)
			continue;
		v[m] = v[i];
		edit_stamp_elem(s, os, &v[m], now);
		m++;
	}
	if (validate_set_elems(s, v, m, &res->diags) > 0) {
		res->status = ENGINE_INVALID;
		free(v);
		return -1;
	}
	*out = v;
	*nout = m;
	return 0;
}

static int
edit_elems(struct ruleset *next, struct change *c,
    struct change_result *res, uint64_t now, struct edit_effect *eff)
{
	struct plan	*p = &res->plan;
	struct set	*s;
	struct set_elem	*add = NULL;
	unsigned char	*drop = NULL;
	ssize_t		 k, e;
	size_t		 i, nadd;
	char		*t;

	if ((k = ruleset_find_set(next, c->name)) < 0) {
		edit_fail(res, ENGINE_NOTFOUND, "name", "no set named %s",
		    c->name);
		return -1;
	}
	s = next->sets[k];
	if (s->unsorted && (s = ruleset_own_set(next, (size_t)k, 0)) != NULL)
		set_sort(s);
	if (s == NULL)
		goto nomem;
	eff->obj = s;
	if (c->op == CHANGE_ELEMS_ADD) {
		/* the same set before: elements there keep their expiry */
		if (edit_new_elems(s, NULL, c->elems, c->nelems, now, &add,
		    &nadd, res) == -1)
			return -1;
		for (i = 0; i < nadd; i++) {
			add[i].runtime = true;
			if (plan_add_elem(p, PLAN_ADD, s, &add[i]) == -1)
				goto nomem;
		}
		if (nadd > 0 && ruleset_update_set(next, (size_t)k, add, nadd,
		    NULL) == -1)
			goto nomem;
		res->count = nadd;
		free(add);
		return 0;
	}
	if ((drop = calloc(s->nelems + 1, 1)) == NULL)
		goto nomem;
	for (i = 0; i < c->nelems; i++) {
		if ((e = set_find_elem(s, &c->elems[i])) < 0 || drop[e]) {
			t = print_set_elem(s->type, &c->elems[i]);
			res->status = ENGINE_NOTFOUND;
			diags_add_field(&res->diags, "elements",
			    "%s is not in set %s", t ? t : "element", s->name);
			free(t);
			continue;
		}
		if (plan_add_elem(p, PLAN_REMOVE, s, &s->elems[e]) == -1)
			goto nomem;
		drop[e] = 1;
		res->count++;
	}
	if (res->status == ENGINE_NOTFOUND) {
		free(drop);
		return -1;
	}
	if (res->count > 0 && ruleset_update_set(next, (size_t)k, NULL, 0,
	    drop) == -1)
		goto nomem;
	free(drop);
	return 0;
nomem:
	free(add);
	free(drop);
	edit_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
	return -1;
}

int
edit_apply(struct ruleset *next, struct change *c, struct change_result *res,
    const struct nameidx *ridx, uint64_t now, struct edit_effect *eff)
{
	struct plan	*p = &res->plan;
	struct set	*os;
	ssize_t		 k, slot;
	size_t		 pos;
	int		 rv;
	char		 pname[2 * FWCTL_NAME_MAX + 8];

	memset(eff, 0, sizeof(*eff));
	if ((c->op == CHANGE_RULE_ADD || c->op == CHANGE_RULE_PUT) &&
	    !c->rule->packed) {
		/* the form a ruleset keeps its rules in */
		struct rule *r = rule_pack(c->rule);

		if (r == NULL)
			goto nomem;
		rule_free(c->rule);
		c->rule = r;
	}
	switch (c->op) {
	case CHANGE_RULE_ADD:
		if ((ridx ? nameidx_get(ridx, c->rule->name) != NULL :
		    ruleset_find_rule(next, c->rule->name) >= 0)) {
			edit_fail(res, ENGINE_CONFLICT, "name",
			    "a rule named %s exists", c->rule->name);
			return -1;
		}
		if ((slot = edit_rule_slot(next, ridx, c, res)) < 0)
			return -1;
		if (plan_add(p, PLAN_ADD, PLAN_RULE, c->rule->name) == -1 ||
		    ruleset_insert_rule(next, (size_t)slot, c->rule) == -1)
			goto nomem;
		eff->added = c->rule;
		c->rule = NULL;
		res->position = (size_t)slot + 1;
		p->v[p->n - 1].pos = res->position;
		res->status = ENGINE_CREATED;
		break;
	case CHANGE_RULE_PUT:
		if ((k = edit_find_rule(next, ridx, c->rule->name)) >= 0) {
			if (rule_equal(next->rules[k], c->rule)) {
				res->position = (size_t)k + 1;
				return 0;
			}
			if (plan_add(p, PLAN_CHANGE, PLAN_RULE,
			    c->rule->name) == -1)
				goto nomem;
			/* eff keeps next's reference until the index
			 * has let go of the name */
			eff->removed = next->rules[k];
			next->rules[k] = c->rule;
			res->position = (size_t)k + 1;
		} else {
			if (plan_add(p, PLAN_ADD, PLAN_RULE,
			    c->rule->name) == -1 ||
			    ruleset_add_rule(next, c->rule) == -1)
				goto nomem;
			res->position = next->nrules;
			res->status = ENGINE_CREATED;
		}
		eff->added = c->rule;
		c->rule = NULL;
		p->v[p->n - 1].pos = res->position;
		break;
	case CHANGE_RULE_DELETE:
		if (edit_pos_parse(c->name, &pos)) {
			if (pos > next->nrules) {
				edit_fail(res, ENGINE_NOTFOUND, "position",
				    "no rule at position %s", c->name);
				return -1;
			}
			k = (ssize_t)pos - 1;
		} else if ((k = edit_find_rule(next, ridx, c->name)) < 0) {
			edit_fail(res, ENGINE_NOTFOUND, "name",
			    "no rule named %s", c->name);
			return -1;
		}
		if (plan_add(p, PLAN_REMOVE, PLAN_RULE,
		    next->rules[k]->name) == -1)
			goto nomem;
		res->position = (size_t)k + 1;	/* where it was */
		p->v[p->n - 1].pos = res->position;
		eff->removed = ruleset_remove_rule(next, (size_t)k);
		break;
	case CHANGE_ZONE_PUT:
		/* rules refer to zones: the whole ruleset is checked */
		eff->check_all = true;
		/* in place (the order is visible): one plan item, none when it
		 * is the zone there already; a new zone, the diff */
		if ((k = ruleset_find_zone(next, c->zone->name)) >= 0) {
			if (!zone_equal(next->zones[k], c->zone) &&
			    plan_add(p, PLAN_CHANGE, PLAN_ZONE,
			    c->zone->name) == -1)
				goto nomem;
			ruleset_replace_zone(next, (size_t)k, c->zone);
		} else {
			eff->diff = true;
			if (ruleset_add_zone(next, c->zone) == -1)
				goto nomem;
			res->status = ENGINE_CREATED;
		}
		eff->obj = c->zone;
		c->zone = NULL;
		break;
	case CHANGE_ZONE_DELETE:
		eff->diff = eff->check_all = true;
		if ((k = ruleset_find_zone(next, c->name)) < 0) {
			edit_fail(res, ENGINE_NOTFOUND, "name",
			    "no zone named %s", c->name);
			return -1;
		}
		zone_free(ruleset_remove_zone(next, (size_t)k));
		break;
	case CHANGE_POLICY_PUT:
		/* one plan item (none when it is the policy there already),
		 * the policies checked (edit_check): a policy is no object
		 * others refer to */
		k = ruleset_find_policy(next, c->policy->from, c->policy->to);
		snprintf(pname, sizeof(pname), "%s -> %s", c->policy->from,
		    c->policy->to);
		if (!(k >= 0 && policy_equal(next->policies[k], c->policy)) &&
		    plan_add(p, k >= 0 ? PLAN_CHANGE : PLAN_ADD, PLAN_POLICY,
		    pname) == -1)
			goto nomem;
		if (k >= 0)
			ruleset_replace_policy(next, (size_t)k, c->policy);
		else {
			if (ruleset_add_policy(next, c->policy) == -1)
				goto nomem;
			res->status = ENGINE_CREATED;
		}
		eff->obj = c->policy;
		c->policy = NULL;
		break;
	case CHANGE_POLICY_DELETE:
		snprintf(pname, sizeof(pname), "%s -> %s", c->from, c->to);
		if ((k = ruleset_find_policy(next, c->from, c->to)) < 0) {
			edit_fail(res, ENGINE_NOTFOUND, NULL,
			    "no policy %s", pname);
			return -1;
		}
		if (plan_add(p, PLAN_REMOVE, PLAN_POLICY, pname) == -1)
			goto nomem;
		policy_free(ruleset_remove_policy(next, (size_t)k));
		break;
	case CHANGE_NAT_ADD:
		if (ruleset_find_nat(next, c->nat->name) >= 0) {
			edit_fail(res, ENGINE_CONFLICT, "name",
			    "a nat entry named %s exists", c->nat->name);
			return -1;
		}
		if (plan_add(p, PLAN_ADD, PLAN_NAT, c->nat->name) == -1 ||
		    ruleset_add_nat(next, c->nat) == -1)
			goto nomem;
		eff->obj = c->nat;
		c->nat = NULL;
		res->status = ENGINE_CREATED;
		break;
	case CHANGE_NAT_DELETE:
		if ((k = ruleset_find_nat(next, c->name)) < 0) {
			edit_fail(res, ENGINE_NOTFOUND, "name",
			    "no nat entry named %s", c->name);
			return -1;
		}
		if (plan_add(p, PLAN_REMOVE, PLAN_NAT, c->name) == -1)
			goto nomem;
		nat_free(ruleset_remove_nat(next, (size_t)k));
		break;
	case CHANGE_SET_PUT:
		eff->diff = eff->check_all = true;
		set_sort(c->set);
		/* elements that stay keep their expiry */
		edit_stamp_set(next, c->set, now);
		if ((k = ruleset_find_set(next, c->set->name)) >= 0) {
			/* its run-time elements stay where they fit */
			os = next->sets[k];
			os->refs++;
			ruleset_replace_set(next, (size_t)k, c->set);
			rv = edit_carry_set(os, next, (size_t)k, now);
			set_free(os);
			if (rv == -1) {
				c->set = NULL;
				goto nomem;
			}
		} else {
			if (ruleset_add_set(next, c->set) == -1)
				goto nomem;
			res->status = ENGINE_CREATED;
			k = (ssize_t)next->nsets - 1;
		}
		eff->obj = next->sets[k];
		c->set = NULL;
		break;
	case CHANGE_SET_DELETE:
		eff->diff = eff->check_all = true;
		if ((k = ruleset_find_set(next, c->name)) < 0) {
			edit_fail(res, ENGINE_NOTFOUND, "name",
			    "no set named %s", c->name);
			return -1;
		}
		set_free(ruleset_remove_set(next, (size_t)k));
		break;
	case CHANGE_ELEMS_ADD:
	case CHANGE_ELEMS_DELETE:
		return edit_elems(next, c, res, now, eff);
	case CHANGE_REPLACE:
	case CHANGE_FLUSH:
	default:
		edit_fail(res, ENGINE_INVALID, NULL, "%s", "unknown change");
		return -1;
	}
	return 0;
nomem:
	edit_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
	return -1;
}

int
edit_index_update(struct nameidx *ridx, const struct edit_effect *eff)
{
	if (eff->removed != NULL)
		nameidx_del(ridx, eff->removed->name);
	if (eff->added != NULL)
		return nameidx_put(ridx, eff->added);
	return 0;
}

struct nameidx *
edit_index_build(const struct ruleset *rs)
{
	struct nameidx	*idx;
	size_t		 i;

	if ((idx = nameidx_new(rs->nrules)) == NULL)
		return NULL;
	for (i = 0; i < rs->nrules; i++)
		if (nameidx_put(idx, rs->rules[i]) == -1) {
			nameidx_free(idx);
			return NULL;
		}
	return idx;
}

/* "+rule ssh ~zone lan -set old" for the log, at most a few items. */
void
edit_plan_summary(const struct plan *p, char *buf, size_t len)
{
	size_t	 i, off = 0;
	int	 n;
	const char *op;

	buf[0] = '\0';
	if (p->n == 0) {
		snprintf(buf, len, "no change");
		return;
	}
	for (i = 0; i < p->n && i < 8; i++) {
		op = p->v[i].op == PLAN_ADD ? "+" :
		    p->v[i].op == PLAN_REMOVE ? "-" : "~";
		n = snprintf(buf + off, len - off, "%s%s%s %s%s%s", i ? " " : "",
		    op, plan_kind_name(p->v[i].kind), p->v[i].name,
		    p->v[i].elem ? " " : "", p->v[i].elem ? p->v[i].elem : "");
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
	if (p->n > i)
		snprintf(buf + off, len - off, " and %zu more", p->n - i);
}

const char *
edit_op_name(enum change_op op)
{
	switch (op) {
	case CHANGE_REPLACE:		return "replace ruleset";
	case CHANGE_RULE_ADD:		return "add rule";
	case CHANGE_RULE_PUT:		return "put rule";
	case CHANGE_RULE_DELETE:	return "delete rule";
	case CHANGE_ZONE_PUT:		return "put zone";
	case CHANGE_ZONE_DELETE:	return "delete zone";
	case CHANGE_POLICY_PUT:		return "put policy";
	case CHANGE_POLICY_DELETE:	return "delete policy";
	case CHANGE_NAT_ADD:		return "add nat";
	case CHANGE_NAT_DELETE:		return "delete nat";
	case CHANGE_SET_PUT:		return "put set";
	case CHANGE_SET_DELETE:		return "delete set";
	case CHANGE_ELEMS_ADD:		return "add elements";
	case CHANGE_ELEMS_DELETE:	return "delete elements";
	case CHANGE_FLUSH:		return "flush";
	case CHANGE_CONFIRM:		return "confirm";
	case CHANGE_REVERT:		return "revert";
	}
	return "change";
}

bool
edit_change_complete(const struct change *c)
{
	switch (c->op) {
	case CHANGE_REPLACE:
		return c->ruleset != NULL;
	case CHANGE_RULE_ADD:
	case CHANGE_RULE_PUT:
		return c->rule != NULL && c->rule->name != NULL;
	case CHANGE_ZONE_PUT:
		return c->zone != NULL && c->zone->name != NULL;
	case CHANGE_POLICY_PUT:
		return c->policy != NULL && c->policy->from != NULL &&
		    c->policy->to != NULL;
	case CHANGE_POLICY_DELETE:
		return c->from != NULL && c->to != NULL;
	case CHANGE_NAT_ADD:
		return c->nat != NULL && c->nat->name != NULL;
	case CHANGE_SET_PUT:
		return c->set != NULL && c->set->name != NULL;
	case CHANGE_ELEMS_ADD:
	case CHANGE_ELEMS_DELETE:
		return c->name != NULL && (c->elems != NULL || c->nelems == 0);
	case CHANGE_RULE_DELETE:
	case CHANGE_ZONE_DELETE:
	case CHANGE_NAT_DELETE:
	case CHANGE_SET_DELETE:
		return c->name != NULL;
	case CHANGE_FLUSH:
	case CHANGE_CONFIRM:
	case CHANGE_REVERT:
		return true;
	}
	return false;
}

/*
 * Validation: the whole ruleset when the change may touch what others
 * refer to, else only the object that joined it (deleting a rule, a NAT
 * entry, a policy or elements cannot make the rest invalid; new elements
 * were checked as they were merged; a policy, the policies). 0, or -1
 * with res filled.
 */
int
edit_check(const struct ruleset *next, const struct change *c,
    const struct edit_effect *eff, struct change_result *res)
{
	struct diags	 vd, cd;
	int		 nerr = 0, nconf = 0;

	diags_init(&vd);
	diags_init(&cd);
	if (eff->check_all || c->op == CHANGE_REPLACE) {
		if ((nerr = validate_ruleset(next, &vd)) > 0)
			nconf = edit_conflicts(next, &cd);
	} else if (eff->added != NULL) {
		if ((nerr = validate_rule(next, eff->added, &vd)) > 0)
			nconf = edit_rule_conflicts(next, eff->added, &cd);
	} else if (c->op == CHANGE_NAT_ADD && eff->obj != NULL) {
		if ((nerr = validate_nat(next, eff->obj, next->nnats - 1,
		    &vd)) > 0)
			nconf = edit_nat_conflicts(next, eff->obj, &cd);
	} else if (c->op == CHANGE_POLICY_PUT) {
		if ((nerr = validate_policies(next, &vd)) > 0)
			nconf = edit_conflicts(next, &cd);
	}
	diags_free(&cd);
	if (nerr == 0)
		return 0;
	res->status = nconf > 0 ? ENGINE_CONFLICT : ENGINE_INVALID;
	/* validate's words are the user's; ours only decide 409 */
	diags_free(&res->diags);
	res->diags = vd;
	return -1;
}
