/*
 * The engine owns the current ruleset and is the only caller of nft_apply()
 * and state_save().  Changes are serialised by change_mtx, which is held for
 * the whole change (kernel transaction and fsync included); readers only
 * take cur_mtx long enough to take a reference on the current ruleset, which
 * is never modified once current: a change always builds a new one.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "log.h"
#include "print.h"
#include "state.h"

/* A current ruleset and the readers holding it. */
struct rsref {
	struct ruleset	*rs;
	uint64_t	 gen;
	unsigned	 refs;
};

struct engine {
	pthread_mutex_t	 change_mtx;	/* changes and every kernel call */
	pthread_mutex_t	 cur_mtx;	/* cur, held briefly */
	struct rsref	*cur;
	struct nft	*nft;
	char		*table;
	char		*state_dir;
	/* The kernel's table is not known to match cur (flushed): the next
	 * apply reconciles the whole table (prev = NULL). */
	bool		 kernel_unknown;
};

static const char *const engine_status_names[] = {
	[ENGINE_OK] = "ok",
	[ENGINE_CREATED] = "created",
	[ENGINE_INVALID] = "invalid",
	[ENGINE_CONFLICT] = "conflict",
	[ENGINE_NOTFOUND] = "not found",
	[ENGINE_STALE] = "stale generation",
	[ENGINE_REFUSED] = "refused by the kernel",
	[ENGINE_FAILED] = "failed",
};

const char *
engine_status_name(enum engine_status s)
{
	if ((size_t)s >= sizeof(engine_status_names) /
	    sizeof(engine_status_names[0]) || engine_status_names[s] == NULL)
		return "?";
	return engine_status_names[s];
}

uint64_t
engine_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct rsref *
rsref_new(struct ruleset *rs, uint64_t gen)
{
	struct rsref	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->rs = rs;
	r->gen = gen;
	r->refs = 1;
	return r;
}

/* Called with cur_mtx held. */
static void
rsref_put_locked(struct rsref *r)
{
	if (r != NULL && --r->refs == 0) {
		ruleset_free(r->rs);
		free(r);
	}
}

struct engine *
engine_new(const char *table, const char *state_dir, struct diags *d)
{
	struct engine	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	pthread_mutex_init(&e->change_mtx, NULL);
	pthread_mutex_init(&e->cur_mtx, NULL);
	if ((e->table = strdup(table)) == NULL ||
	    (e->state_dir = strdup(state_dir)) == NULL)
		goto fail;
	if ((e->nft = nft_open(table, d)) == NULL)
		goto fail;
	return e;
fail:
	free(e->table);
	free(e->state_dir);
	free(e);
	return NULL;
}

void
engine_free(struct engine *e, bool flush)
{
	struct diags	 d;

	if (e == NULL)
		return;
	pthread_mutex_lock(&e->change_mtx);
	if (flush) {
		diags_init(&d);
		if (nft_flush(e->nft, &d) == -1)
			log_warnx("flush of table inet %s failed", e->table);
		else
			log_info("table inet %s removed", e->table);
		diags_free(&d);
	}
	nft_close(e->nft);
	pthread_mutex_unlock(&e->change_mtx);
	pthread_mutex_lock(&e->cur_mtx);
	rsref_put_locked(e->cur);
	e->cur = NULL;
	pthread_mutex_unlock(&e->cur_mtx);
	pthread_mutex_destroy(&e->change_mtx);
	pthread_mutex_destroy(&e->cur_mtx);
	free(e->table);
	free(e->state_dir);
	free(e);
}

const char *
engine_table(const struct engine *e)
{
	return e->table;
}

size_t
engine_prune_expired(struct ruleset *rs, uint64_t now)
{
	struct set	*s;
	size_t		 i, j, n = 0;

	for (i = 0; i < rs->nsets; i++) {
		s = rs->sets[i];
		for (j = s->nelems; j > 0; j--)
			if (s->elems[j - 1].expires_ms != 0 &&
			    s->elems[j - 1].expires_ms <= now) {
				set_remove_elem(s, j - 1);
				n++;
			}
	}
	return n;
}

static bool
engine_has_expired(const struct ruleset *rs, uint64_t now)
{
	const struct set *s;
	size_t		 i, j;

	for (i = 0; i < rs->nsets; i++) {
		s = rs->sets[i];
		for (j = 0; j < s->nelems; j++)
			if (s->elems[j].expires_ms != 0 &&
			    s->elems[j].expires_ms <= now)
				return true;
	}
	return false;
}

/*
 * Elements with a timeout get a wall-clock expiry, so that the model (and
 * the state file) forget them when the kernel does.  Elements that were
 * already there keep theirs: the kernel keeps them untouched.
 */
static void
engine_stamp_expiry(const struct ruleset *old, struct ruleset *next,
    uint64_t now)
{
	struct set	*s;
	const struct set *os;
	struct set_elem	*el;
	ssize_t		 oi, k;
	uint64_t	 t;
	size_t		 i, j;

	for (i = 0; i < next->nsets; i++) {
		s = next->sets[i];
		os = NULL;
		if (old != NULL && (oi = ruleset_find_set(old, s->name)) >= 0 &&
		    old->sets[oi]->type == s->type)
			os = old->sets[oi];
		for (j = 0; j < s->nelems; j++) {
			el = &s->elems[j];
			t = el->timeout_ms ? el->timeout_ms : s->timeout_ms;
			if (t == 0 || el->expires_ms != 0)
				continue;
			if (os != NULL && (k = set_find_elem(os, el)) >= 0 &&
			    os->elems[k].expires_ms != 0)
				el->expires_ms = os->elems[k].expires_ms;
			else
				el->expires_ms = now + t;
		}
	}
}

static bool
engine_zone_known(const struct ruleset *rs, const char *z)
{
	if (z == NULL || strcmp(z, ZONE_ANY) == 0 || strcmp(z, ZONE_SELF) == 0)
		return true;
	return ruleset_find_zone(rs, z) >= 0;
}

static int
engine_check_zone(const struct ruleset *rs, struct diags *d,
    const struct srcloc *l, const char *what, const char *name,
    const char *z)
{
	if (engine_zone_known(rs, z))
		return 0;
	diags_add(d, l, "%s %s: unknown zone \"%s\"", what, name, z);
	return 1;
}

static int
engine_check_set(const struct ruleset *rs, struct diags *d,
    const struct srcloc *l, const char *what, const char *name,
    const char *set)
{
	if (set == NULL || ruleset_find_set(rs, set) >= 0)
		return 0;
	diags_add(d, l, "%s %s: unknown set \"@%s\"", what, name, set);
	return 1;
}

/*
 * Name clashes and references to missing zones and sets: the problems
 * that make a change conflict with the ruleset (409) rather than be
 * malformed (400).  Counted, and described in d.
 */
static int
engine_conflicts(const struct ruleset *rs, struct diags *d)
{
	const struct rule *r;
	const struct nat *n;
	const struct policy *p;
	size_t		 i;
	ssize_t		 k;
	int		 c = 0;
	char		 pname[2 * FWCTL_NAME_MAX + 8];

	for (i = 0; i < rs->nzones; i++)
		if ((k = ruleset_find_zone(rs, rs->zones[i]->name)) >= 0 &&
		    (size_t)k != i) {
			diags_add(d, &rs->zones[i]->loc,
			    "zone %s is defined twice", rs->zones[i]->name);
			c++;
		}
	for (i = 0; i < rs->nsets; i++)
		if ((k = ruleset_find_set(rs, rs->sets[i]->name)) >= 0 &&
		    (size_t)k != i) {
			diags_add(d, &rs->sets[i]->loc,
			    "set %s is defined twice", rs->sets[i]->name);
			c++;
		}
	for (i = 0; i < rs->npolicies; i++) {
		p = rs->policies[i];
		snprintf(pname, sizeof(pname), "%s -> %s", p->from, p->to);
		c += engine_check_zone(rs, d, &p->loc, "policy", pname,
		    p->from);
		c += engine_check_zone(rs, d, &p->loc, "policy", pname, p->to);
		if ((k = ruleset_find_policy(rs, p->from, p->to)) >= 0 &&
		    (size_t)k != i) {
			diags_add(d, &p->loc, "policy %s is defined twice",
			    pname);
			c++;
		}
	}
	for (i = 0; i < rs->nrules; i++) {
		r = rs->rules[i];
		if ((k = ruleset_find_rule(rs, r->name)) >= 0 &&
		    (size_t)k != i) {
			diags_add(d, &r->loc, "rule %s is defined twice",
			    r->name);
			c++;
		}
		c += engine_check_zone(rs, d, &r->loc, "rule", r->name,
		    r->from);
		c += engine_check_zone(rs, d, &r->loc, "rule", r->name, r->to);
		c += engine_check_set(rs, d, &r->loc, "rule", r->name,
		    r->src.set);
		c += engine_check_set(rs, d, &r->loc, "rule", r->name,
		    r->dst.set);
		c += engine_check_set(rs, d, &r->loc, "rule", r->name,
		    r->sport.set);
		c += engine_check_set(rs, d, &r->loc, "rule", r->name,
		    r->dport.set);
	}
	for (i = 0; i < rs->nnats; i++) {
		n = rs->nats[i];
		if ((k = ruleset_find_nat(rs, n->name)) >= 0 &&
		    (size_t)k != i) {
			diags_add(d, &n->loc, "nat %s is defined twice",
			    n->name);
			c++;
		}
		c += engine_check_zone(rs, d, &n->loc, "nat", n->name,
		    n->from);
		c += engine_check_zone(rs, d, &n->loc, "nat", n->name, n->to);
		c += engine_check_set(rs, d, &n->loc, "nat", n->name,
		    n->src.set);
	}
	return c;
}

/* A diag without a location, for messages about the request itself. */
static void
engine_fail(struct change_result *res, enum engine_status st,
    const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
engine_fail(struct change_result *res, enum engine_status st,
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

static void
engine_change_free(struct change *c)
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
engine_pos_parse(const char *s, size_t *pos)
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

/* Where a new rule goes: index 0..nrules, or -1 with res filled. */
static ssize_t
engine_rule_slot(const struct ruleset *rs, const struct change *c,
    struct change_result *res)
{
	ssize_t	 k;
	int	 given = (c->position != 0) + (c->before != NULL) +
		    (c->after != NULL);

	if (given > 1) {
		engine_fail(res, ENGINE_INVALID, "position", "%s",
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
		k = ruleset_find_rule(rs, c->before ? c->before : c->after);
		if (k < 0) {
			engine_fail(res, ENGINE_NOTFOUND,
			    c->before ? "before" : "after", "no rule named %s",
			    c->before ? c->before : c->after);
			return -1;
		}
		return c->before ? k : k + 1;
	}
	return (ssize_t)rs->nrules;
}

/*
 * Applies c to next (a copy of the current ruleset) and fills the plan
 * when the change is small enough to plan directly; *diff is set when the
 * plan must come from plan_diff.  Returns 0, or -1 with res filled.
 */
static int
engine_edit(struct ruleset *next, struct change *c, struct change_result *res,
    bool *diff)
{
	struct plan	*p = &res->plan;
	struct set	*s;
	ssize_t		 k, slot;
	size_t		 i, pos;
	char		 pname[2 * FWCTL_NAME_MAX + 8];

	*diff = false;
	switch (c->op) {
	case CHANGE_RULE_ADD:
		if (ruleset_find_rule(next, c->rule->name) >= 0) {
			engine_fail(res, ENGINE_CONFLICT, "name",
			    "a rule named %s exists", c->rule->name);
			return -1;
		}
		if ((slot = engine_rule_slot(next, c, res)) < 0)
			return -1;
		if (plan_add(p, PLAN_ADD, PLAN_RULE, c->rule->name) == -1 ||
		    ruleset_insert_rule(next, (size_t)slot, c->rule) == -1)
			goto nomem;
		c->rule = NULL;
		res->position = (size_t)slot + 1;
		res->status = ENGINE_CREATED;
		return 0;
	case CHANGE_RULE_PUT:
		if ((k = ruleset_find_rule(next, c->rule->name)) >= 0) {
			if (rule_equal(next->rules[k], c->rule)) {
				res->position = (size_t)k + 1;
				return 0;
			}
			if (plan_add(p, PLAN_CHANGE, PLAN_RULE,
			    c->rule->name) == -1)
				goto nomem;
			rule_free(ruleset_remove_rule(next, (size_t)k));
			if (ruleset_insert_rule(next, (size_t)k, c->rule) == -1)
				goto nomem;
			res->position = (size_t)k + 1;
		} else {
			if (plan_add(p, PLAN_ADD, PLAN_RULE,
			    c->rule->name) == -1 ||
			    ruleset_add_rule(next, c->rule) == -1)
				goto nomem;
			res->position = next->nrules;
			res->status = ENGINE_CREATED;
		}
		c->rule = NULL;
		return 0;
	case CHANGE_RULE_DELETE:
		if (engine_pos_parse(c->name, &pos)) {
			if (pos > next->nrules) {
				engine_fail(res, ENGINE_NOTFOUND, "position",
				    "no rule at position %s", c->name);
				return -1;
			}
			k = (ssize_t)pos - 1;
		} else if ((k = ruleset_find_rule(next, c->name)) < 0) {
			engine_fail(res, ENGINE_NOTFOUND, "name",
			    "no rule named %s", c->name);
			return -1;
		}
		if (plan_add(p, PLAN_REMOVE, PLAN_RULE,
		    next->rules[k]->name) == -1)
			goto nomem;
		rule_free(ruleset_remove_rule(next, (size_t)k));
		return 0;
	case CHANGE_ZONE_PUT:
		*diff = true;
		if ((k = ruleset_find_zone(next, c->zone->name)) >= 0) {
			zone_free(ruleset_remove_zone(next, (size_t)k));
			/* keep the zone's place: the order is visible */
			if (ruleset_add_zone(next, c->zone) == -1)
				goto nomem;
			for (i = next->nzones - 1; i > (size_t)k; i--) {
				struct zone *t = next->zones[i];
				next->zones[i] = next->zones[i - 1];
				next->zones[i - 1] = t;
			}
		} else {
			if (ruleset_add_zone(next, c->zone) == -1)
				goto nomem;
			res->status = ENGINE_CREATED;
		}
		c->zone = NULL;
		return 0;
	case CHANGE_ZONE_DELETE:
		*diff = true;
		if ((k = ruleset_find_zone(next, c->name)) < 0) {
			engine_fail(res, ENGINE_NOTFOUND, "name",
			    "no zone named %s", c->name);
			return -1;
		}
		zone_free(ruleset_remove_zone(next, (size_t)k));
		return 0;
	case CHANGE_POLICY_PUT:
		*diff = true;
		k = ruleset_find_policy(next, c->policy->from, c->policy->to);
		if (k >= 0) {
			next->policies[k]->verdict = c->policy->verdict;
		} else {
			if (ruleset_add_policy(next, c->policy) == -1)
				goto nomem;
			c->policy = NULL;
			res->status = ENGINE_CREATED;
		}
		return 0;
	case CHANGE_POLICY_DELETE:
		*diff = true;
		if ((k = ruleset_find_policy(next, c->from, c->to)) < 0) {
			snprintf(pname, sizeof(pname), "%s -> %s", c->from,
			    c->to);
			engine_fail(res, ENGINE_NOTFOUND, NULL,
			    "no policy %s", pname);
			return -1;
		}
		policy_free(ruleset_remove_policy(next, (size_t)k));
		return 0;
	case CHANGE_NAT_ADD:
		if (ruleset_find_nat(next, c->nat->name) >= 0) {
			engine_fail(res, ENGINE_CONFLICT, "name",
			    "a nat entry named %s exists", c->nat->name);
			return -1;
		}
		if (plan_add(p, PLAN_ADD, PLAN_NAT, c->nat->name) == -1 ||
		    ruleset_add_nat(next, c->nat) == -1)
			goto nomem;
		c->nat = NULL;
		res->status = ENGINE_CREATED;
		return 0;
	case CHANGE_NAT_DELETE:
		if ((k = ruleset_find_nat(next, c->name)) < 0) {
			engine_fail(res, ENGINE_NOTFOUND, "name",
			    "no nat entry named %s", c->name);
			return -1;
		}
		if (plan_add(p, PLAN_REMOVE, PLAN_NAT, c->name) == -1)
			goto nomem;
		nat_free(ruleset_remove_nat(next, (size_t)k));
		return 0;
	case CHANGE_SET_PUT:
		*diff = true;
		if ((k = ruleset_find_set(next, c->set->name)) >= 0) {
			set_free(ruleset_remove_set(next, (size_t)k));
			if (ruleset_add_set(next, c->set) == -1)
				goto nomem;
			for (i = next->nsets - 1; i > (size_t)k; i--) {
				struct set *t = next->sets[i];
				next->sets[i] = next->sets[i - 1];
				next->sets[i - 1] = t;
			}
		} else {
			if (ruleset_add_set(next, c->set) == -1)
				goto nomem;
			res->status = ENGINE_CREATED;
		}
		c->set = NULL;
		return 0;
	case CHANGE_SET_DELETE:
		*diff = true;
		if ((k = ruleset_find_set(next, c->name)) < 0) {
			engine_fail(res, ENGINE_NOTFOUND, "name",
			    "no set named %s", c->name);
			return -1;
		}
		set_free(ruleset_remove_set(next, (size_t)k));
		return 0;
	case CHANGE_ELEMS_ADD:
	case CHANGE_ELEMS_DELETE:
		if ((k = ruleset_find_set(next, c->name)) < 0) {
			engine_fail(res, ENGINE_NOTFOUND, "name",
			    "no set named %s", c->name);
			return -1;
		}
		s = next->sets[k];
		for (i = 0; i < c->nelems; i++) {
			ssize_t e = set_find_elem(s, &c->elems[i]);

			if (c->op == CHANGE_ELEMS_ADD) {
				if (e >= 0)
					continue;
				if (set_add_elem(s, &c->elems[i]) == -1 ||
				    plan_add_elem(p, PLAN_ADD, s,
				    &c->elems[i]) == -1)
					goto nomem;
			} else {
				if (e < 0) {
					char *t = print_set_elem(s->type,
					    &c->elems[i]);

					res->status = ENGINE_NOTFOUND;
					diags_add_field(&res->diags, "elements",
					    "%s is not in set %s",
					    t ? t : "element", s->name);
					free(t);
					continue;
				}
				if (plan_add_elem(p, PLAN_REMOVE, s,
				    &s->elems[e]) == -1)
					goto nomem;
				set_remove_elem(s, (size_t)e);
			}
			res->count++;
		}
		return res->status == ENGINE_NOTFOUND ? -1 : 0;
	case CHANGE_REPLACE:
	case CHANGE_FLUSH:
		break;
	}
	engine_fail(res, ENGINE_INVALID, NULL, "%s", "unknown change");
	return -1;
nomem:
	engine_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
	return -1;
}

/* "+rule ssh ~zone lan -set old" for the log, at most a few items. */
static void
engine_plan_summary(const struct plan *p, char *buf, size_t len)
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

static const char *
engine_op_name(enum change_op op)
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
	}
	return "change";
}

static bool
engine_change_valid(const struct change *c)
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
		return true;
	}
	return false;
}

void
engine_change(struct engine *e, struct change *c, struct change_result *res)
{
	struct ruleset	*old, *next = NULL;
	struct rsref	*nref, *oref;
	struct diags	 vd, rd;
	struct plan	 back;
	uint64_t	 gen, now = engine_now_ms();
	bool		 diff = true, kernel_changed = false;
	char		 summary[512];
	int		 rv;

	memset(res, 0, sizeof(*res));
	plan_init(&res->plan);
	diags_init(&res->diags);
	diags_init(&vd);
	res->status = ENGINE_OK;

	pthread_mutex_lock(&e->change_mtx);
	/* only a change swaps cur, and we hold change_mtx */
	old = e->cur->rs;
	gen = e->cur->gen;
	res->generation = gen;
	if (!engine_change_valid(c)) {
		engine_fail(res, ENGINE_INVALID, NULL, "%s",
		    "incomplete change");
		goto done;
	}
	if (c->has_expected && c->expected != gen) {
		res->status = ENGINE_STALE;
		diags_add(&res->diags, NULL,
		    "the ruleset is at generation %" PRIu64 ", not %" PRIu64,
		    gen, c->expected);
		goto done;
	}

	/* build the new ruleset beside the old one */
	if (c->op == CHANGE_REPLACE) {
		next = c->ruleset;
		c->ruleset = NULL;
	} else if (c->op == CHANGE_FLUSH)
		next = ruleset_new();
	else
		next = ruleset_dup(old);
	if (next == NULL) {
		engine_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
		goto done;
	}
	if (c->op != CHANGE_REPLACE && c->op != CHANGE_FLUSH &&
	    engine_edit(next, c, res, &diff) == -1)
		goto done;
	engine_prune_expired(next, now);
	engine_stamp_expiry(old, next, now);

	if (validate_ruleset(next, &vd) > 0) {
		res->status = engine_conflicts(next, &res->diags) > 0 ?
		    ENGINE_CONFLICT : ENGINE_INVALID;
		/* validate's words are the user's; ours only decide 409 */
		diags_free(&res->diags);
		res->diags = vd;
		diags_init(&vd);
		goto done;
	}
	if (diff) {
		plan_free(&res->plan);
		plan_init(&res->plan);
		if (plan_diff(old, next,
		    &res->plan) == -1) {
			engine_fail(res, ENGINE_FAILED, NULL, "%s",
			    "out of memory");
			goto done;
		}
	}
	if (c->dry_run) {
		res->applied = false;
		goto done;
	}
	if (res->plan.n == 0 && c->op != CHANGE_FLUSH && !e->kernel_unknown) {
		/* nothing to do: no transaction, no new generation */
		res->applied = true;
		goto done;
	}

	if (c->op == CHANGE_FLUSH)
		rv = nft_flush(e->nft, &res->diags);
	else
		rv = nft_apply(e->nft, e->kernel_unknown ? NULL : old, next,
		    &res->plan, &res->diags);
	if (rv == -1) {
		res->status = ENGINE_REFUSED;
		if (res->diags.n == 0)
			diags_add(&res->diags, NULL, "%s",
			    "the kernel refused the change");
		goto done;
	}
	kernel_changed = true;
	if (state_save(e->state_dir, gen + 1, next, &res->diags) == -1) {
		res->status = ENGINE_FAILED;
		goto done;
	}
	if ((nref = rsref_new(next, gen + 1)) == NULL) {
		/* on disk already: the next start has it, keep serving it */
		engine_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
		goto done;
	}
	next = NULL;
	kernel_changed = false;
	e->kernel_unknown = c->op == CHANGE_FLUSH;
	pthread_mutex_lock(&e->cur_mtx);
	oref = e->cur;
	e->cur = nref;
	rsref_put_locked(oref);
	pthread_mutex_unlock(&e->cur_mtx);
	res->generation = gen + 1;
	res->applied = true;
done:
	if (kernel_changed) {
		/* the disk refused: put the kernel back as the model is */
		diags_init(&rd);
		plan_init(&back);
		if (c->op == CHANGE_FLUSH ||
		    plan_diff(next, old, &back) == -1 ||
		    nft_apply(e->nft, next, old, &back, &rd) == -1) {
			if (nft_apply(e->nft, NULL, old, NULL, &rd) == -1) {
				log_warnx("cannot restore table inet %s after "
				    "a failed save", e->table);
				e->kernel_unknown = true;
			}
		}
		plan_free(&back);
		diags_free(&rd);
	}
	engine_plan_summary(&res->plan, summary, sizeof(summary));
	if (res->status == ENGINE_OK || res->status == ENGINE_CREATED) {
		if (c->dry_run)
			log_debug("%s: %s %s (dry run): %s", c->who ? c->who :
			    "?", engine_op_name(c->op), c->name ? c->name : "",
			    summary);
		else if (res->generation != gen)
			log_info("%s: %s: %s (generation %" PRIu64 ")",
			    c->who ? c->who : "?", engine_op_name(c->op),
			    summary, res->generation);
	} else
		log_notice("%s: %s refused (%s)%s%s", c->who ? c->who : "?",
		    engine_op_name(c->op), engine_status_name(res->status),
		    res->diags.n && res->diags.v[0].msg ? ": " : "",
		    res->diags.n && res->diags.v[0].msg ?
		    res->diags.v[0].msg : "");
	pthread_mutex_unlock(&e->change_mtx);
	ruleset_free(next);
	diags_free(&vd);
	engine_change_free(c);
}

void
engine_result_free(struct change_result *res)
{
	plan_free(&res->plan);
	diags_free(&res->diags);
}

int
engine_start(struct engine *e, struct ruleset *rs, uint64_t gen, bool save,
    struct diags *d)
{
	struct rsref	*r;
	uint64_t	 now = engine_now_ms();

	engine_prune_expired(rs, now);
	engine_stamp_expiry(NULL, rs, now);
	if (validate_ruleset(rs, d) > 0)
		goto fail;
	pthread_mutex_lock(&e->change_mtx);
	if (nft_apply(e->nft, NULL, rs, NULL, d) == -1) {
		pthread_mutex_unlock(&e->change_mtx);
		goto fail;
	}
	if (save && state_save(e->state_dir, gen, rs, d) == -1) {
		pthread_mutex_unlock(&e->change_mtx);
		goto fail;
	}
	if ((r = rsref_new(rs, gen)) == NULL) {
		pthread_mutex_unlock(&e->change_mtx);
		goto fail;
	}
	pthread_mutex_lock(&e->cur_mtx);
	rsref_put_locked(e->cur);
	e->cur = r;
	pthread_mutex_unlock(&e->cur_mtx);
	e->kernel_unknown = false;
	pthread_mutex_unlock(&e->change_mtx);
	return 0;
fail:
	ruleset_free(rs);
	return -1;
}

/*
 * Elements that timed out are gone from the kernel; before a reader sees
 * the ruleset they go from the model too.  Same generation: the kernel did
 * this, not a user.
 */
static void
engine_expire(struct engine *e)
{
	struct ruleset	*rs;
	struct rsref	*r, *old;
	uint64_t	 now = engine_now_ms();

	pthread_mutex_lock(&e->change_mtx);
	if (!engine_has_expired(e->cur->rs, now) ||
	    (rs = ruleset_dup(e->cur->rs)) == NULL)
		goto done;
	engine_prune_expired(rs, now);
	if ((r = rsref_new(rs, e->cur->gen)) == NULL) {
		ruleset_free(rs);
		goto done;
	}
	pthread_mutex_lock(&e->cur_mtx);
	old = e->cur;
	e->cur = r;
	rsref_put_locked(old);
	pthread_mutex_unlock(&e->cur_mtx);
done:
	pthread_mutex_unlock(&e->change_mtx);
}

void
engine_snapshot(struct engine *e, struct snapshot *snap)
{
	struct rsref	*r;
	bool		 expired;

	pthread_mutex_lock(&e->cur_mtx);
	expired = engine_has_expired(e->cur->rs, engine_now_ms());
	pthread_mutex_unlock(&e->cur_mtx);
	if (expired)
		engine_expire(e);
	pthread_mutex_lock(&e->cur_mtx);
	r = e->cur;
	r->refs++;
	pthread_mutex_unlock(&e->cur_mtx);
	snap->rs = r->rs;
	snap->generation = r->gen;
	snap->ref = r;
}

void
engine_release(struct engine *e, struct snapshot *snap)
{
	if (snap->ref == NULL)
		return;
	pthread_mutex_lock(&e->cur_mtx);
	rsref_put_locked(snap->ref);
	pthread_mutex_unlock(&e->cur_mtx);
	memset(snap, 0, sizeof(*snap));
}

uint64_t
engine_generation(struct engine *e)
{
	uint64_t	 g;

	pthread_mutex_lock(&e->cur_mtx);
	g = e->cur->gen;
	pthread_mutex_unlock(&e->cur_mtx);
	return g;
}

void
engine_info(struct engine *e, struct engine_status_info *info)
{
	pthread_mutex_lock(&e->change_mtx);
	info->table_present = nft_table_present(e->nft);
	info->drift = nft_drifted(e->nft);
	pthread_mutex_unlock(&e->change_mtx);
	info->generation = engine_generation(e);
}

int
engine_counters(struct engine *e, struct nft_counters *c, struct diags *d)
{
	int	 rv;

	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&e->change_mtx);
	rv = nft_counters(e->nft, c, d);
	pthread_mutex_unlock(&e->change_mtx);
	return rv;
}
