/* Plans: what a change does to the ruleset, object by object. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "print.h"
#include "strmap.h"

void
plan_init(struct plan *p)
{
	memset(p, 0, sizeof(*p));
}

void
plan_free(struct plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].elem);
	}
	free(p->v);
	plan_init(p);
}

static struct plan_item *
plan_grow(struct plan *p)
{
	struct plan_item *v;
	size_t cap;

	if (p->n == p->cap) {
		cap = p->cap ? p->cap * 2 : 16;
		if ((v = reallocarray(p->v, cap, sizeof(*v))) == NULL)
			return NULL;
		p->v = v;
		p->cap = cap;
	}
	memset(&p->v[p->n], 0, sizeof(p->v[0]));
	return &p->v[p->n];
}

int
plan_add(struct plan *p, enum plan_op op, enum plan_kind kind,
    const char *name)
{
	struct plan_item *it;

	if ((it = plan_grow(p)) == NULL)
		return -1;
	it->op = op;
	it->kind = kind;
	if ((it->name = strdup(name)) == NULL)
		return -1;
	p->n++;
	return 0;
}

int
plan_add_elem(struct plan *p, enum plan_op op, const struct set *s,
    const struct set_elem *e)
{
	struct plan_item *it;

	if ((it = plan_grow(p)) == NULL)
		return -1;
	it->op = op;
	it->kind = PLAN_ELEMENT;
	it->key = *e;
	if ((it->name = strdup(s->name)) == NULL)
		return -1;
	if ((it->elem = print_set_elem(s->type, e)) == NULL) {
		free(it->name);
		return -1;
	}
	p->n++;
	return 0;
}

const char *
plan_op_name(enum plan_op op)
{
	switch (op) {
	case PLAN_ADD:
		return "add";
	case PLAN_REMOVE:
		return "remove";
	case PLAN_CHANGE:
		return "change";
	}
	return "?";
}

const char *
plan_kind_name(enum plan_kind k)
{
	switch (k) {
	case PLAN_ZONE:
		return "zone";
	case PLAN_POLICY:
		return "policy";
	case PLAN_RULE:
		return "rule";
	case PLAN_NAT:
		return "nat";
	case PLAN_SET:
		return "set";
	case PLAN_ELEMENT:
		return "element";
	}
	return "?";
}

/*
 * Objects present in both rulesets whose relative order changed: every
 * common object outside one longest increasing subsequence of old
 * positions (taken in new order) has moved. O(n log n).
 */
static int
mark_moved(const ssize_t *oldpos, size_t n, unsigned char *moved)
{
	size_t *tails = NULL, *prev = NULL;
	size_t len = 0, i, lo, hi, mid, k;
	int rc = -1;

	memset(moved, 0, n);
	if (n == 0)
		return 0;
	if ((tails = calloc(n, sizeof(*tails))) == NULL ||
	    (prev = calloc(n, sizeof(*prev))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if (oldpos[i] < 0)
			continue;
		lo = 0;
		hi = len;
		while (lo < hi) {
			mid = (lo + hi) / 2;
			if (oldpos[tails[mid]] < oldpos[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		prev[i] = lo > 0 ? tails[lo - 1] : (size_t)-1;
		tails[lo] = i;
		if (lo == len)
			len++;
	}
	for (i = 0; i < n; i++)
		moved[i] = oldpos[i] >= 0;
	for (k = len ? tails[len - 1] : (size_t)-1; k != (size_t)-1;
	    k = prev[k])
		moved[k] = 0;
	rc = 0;
out:
	free(tails);
	free(prev);
	return rc;
}

/*
 * Diff of one ordered, named array. Generic over the element type through
 * accessors so that zones, rules and NAT entries share one algorithm. An
 * object both rulesets share (ruleset_share) is unchanged without a look
 * inside.
 */
struct named_ops {
	enum plan_kind	 kind;
	const char	*(*name)(const void *);
	bool		 (*equal)(const void *, const void *);
	bool		 ordered;
};

static const char *zone_name_of(const void *o) { return ((const struct zone *)o)->name; }
static const char *rule_name_of(const void *o) { return ((const struct rule *)o)->name; }
static const char *nat_name_of(const void *o) { return ((const struct nat *)o)->name; }
static bool zone_eq(const void *a, const void *b) { return zone_equal(a, b); }
static bool rule_eq(const void *a, const void *b) { return rule_equal(a, b); }
static bool nat_eq(const void *a, const void *b) { return nat_equal(a, b); }

static int
diff_named(void *const *oldv, size_t oldn, void *const *newv, size_t newn,
    const struct named_ops *ops, struct plan *p)
{
	struct strmap *oldidx = NULL, *newidx = NULL;
	unsigned char *moved = NULL;
	ssize_t *oldpos = NULL;
	size_t i;
	void *v;
	int rc = -1;

	if ((oldidx = strmap_new(oldn)) == NULL ||
	    (newidx = strmap_new(newn)) == NULL)
		goto out;
	/* index values are position + 1 so that position 0 is not NULL */
	for (i = 0; i < oldn; i++)
		if (strmap_puts(oldidx, ops->name(oldv[i]),
		    (void *)(i + 1)) == -1)
			goto out;
	for (i = 0; i < newn; i++)
		if (strmap_puts(newidx, ops->name(newv[i]),
		    (void *)(i + 1)) == -1)
			goto out;
	if ((oldpos = calloc(newn ? newn : 1, sizeof(*oldpos))) == NULL ||
	    (moved = calloc(newn ? newn : 1, 1)) == NULL)
		goto out;
	for (i = 0; i < newn; i++) {
		v = strmap_gets(oldidx, ops->name(newv[i]));
		oldpos[i] = v ? (ssize_t)((size_t)v - 1) : -1;
	}
	if (ops->ordered && mark_moved(oldpos, newn, moved) == -1)
		goto out;

	for (i = 0; i < oldn; i++)
		if (strmap_gets(newidx, ops->name(oldv[i])) == NULL &&
		    plan_add(p, PLAN_REMOVE, ops->kind,
		    ops->name(oldv[i])) == -1)
			goto out;
	for (i = 0; i < newn; i++) {
		if (oldpos[i] < 0) {
			if (plan_add(p, PLAN_ADD, ops->kind,
			    ops->name(newv[i])) == -1)
				goto out;
		} else if (moved[i] || (oldv[oldpos[i]] != newv[i] &&
		    !ops->equal(oldv[oldpos[i]], newv[i]))) {
			if (plan_add(p, PLAN_CHANGE, ops->kind,
			    ops->name(newv[i])) == -1)
				goto out;
		}
	}
	rc = 0;
out:
	strmap_free(oldidx);
	strmap_free(newidx);
	free(oldpos);
	free(moved);
	return rc;
}

static char *
policy_key(const struct policy *pol)
{
	char *s;

	if (asprintf(&s, "%s -> %s", pol->from, pol->to) == -1)
		return NULL;
	return s;
}

static int
diff_policies(const struct ruleset *old, const struct ruleset *new,
    struct plan *p)
{
	const struct policy *o;
	size_t i;
	ssize_t j;
	char *key;
	int rc;

	for (i = 0; i < old->npolicies; i++) {
		o = old->policies[i];
		j = ruleset_find_policy(new, o->from, o->to);
		if (j >= 0 && policy_equal(o, new->policies[j]))
			continue;
		if ((key = policy_key(o)) == NULL)
			return -1;
		rc = plan_add(p, j < 0 ? PLAN_REMOVE : PLAN_CHANGE,
		    PLAN_POLICY, key);
		free(key);
		if (rc == -1)
			return -1;
	}
	for (i = 0; i < new->npolicies; i++) {
		o = new->policies[i];
		if (ruleset_find_policy(old, o->from, o->to) >= 0)
			continue;
		if ((key = policy_key(o)) == NULL)
			return -1;
		rc = plan_add(p, PLAN_ADD, PLAN_POLICY, key);
		free(key);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* The bytes that identify an element within its set. */
static size_t
elem_key(enum set_type t, const struct set_elem *e, unsigned char *buf)
{
	if (t == SET_PORT) {
		memcpy(buf, &e->key.port, sizeof(e->key.port));
		return sizeof(e->key.port);
	}
	buf[0] = (unsigned char)e->key.addr.prefix;
	memcpy(buf + 1, e->key.addr.bytes, 16);
	return 17;
}

static int
diff_elems(const struct set *old, const struct set *new, struct plan *p)
{
	struct strmap *oldidx = NULL, *newidx = NULL;
	unsigned char key[32];
	size_t i, len;
	int rc = -1;

	if ((oldidx = strmap_new(old->nelems)) == NULL ||
	    (newidx = strmap_new(new->nelems)) == NULL)
		goto out;
	for (i = 0; i < old->nelems; i++) {
		len = elem_key(old->type, &old->elems[i], key);
		if (strmap_put(oldidx, key, len, &old->elems[i]) == -1)
			goto out;
	}
	for (i = 0; i < new->nelems; i++) {
		len = elem_key(new->type, &new->elems[i], key);
		if (strmap_put(newidx, key, len, &new->elems[i]) == -1)
			goto out;
	}
	for (i = 0; i < old->nelems; i++) {
		len = elem_key(old->type, &old->elems[i], key);
		if (strmap_get(newidx, key, len) == NULL &&
		    plan_add_elem(p, PLAN_REMOVE, old, &old->elems[i]) == -1)
			goto out;
	}
	for (i = 0; i < new->nelems; i++) {
		len = elem_key(new->type, &new->elems[i], key);
		if (strmap_get(oldidx, key, len) == NULL &&
		    plan_add_elem(p, PLAN_ADD, new, &new->elems[i]) == -1)
			goto out;
	}
	rc = 0;
out:
	strmap_free(oldidx);
	strmap_free(newidx);
	return rc;
}

/*
 * Sets: a changed definition (type or default timeout) is a PLAN_SET
 * change, which rebuilds the set; otherwise the element differences are
 * listed one by one, so run-time elements of an unchanged set survive.
 */
static int
diff_sets(const struct ruleset *old, const struct ruleset *new,
    struct plan *p)
{
	const struct set *o, *n;
	size_t i;
	ssize_t j;

	for (i = 0; i < old->nsets; i++) {
		o = old->sets[i];
		if (ruleset_find_set(new, o->name) < 0 &&
		    plan_add(p, PLAN_REMOVE, PLAN_SET, o->name) == -1)
			return -1;
	}
	for (i = 0; i < new->nsets; i++) {
		n = new->sets[i];
		if ((j = ruleset_find_set(old, n->name)) < 0) {
			if (plan_add(p, PLAN_ADD, PLAN_SET, n->name) == -1)
				return -1;
			continue;
		}
		o = old->sets[j];
		if (o == n)
			continue;
		if (o->type != n->type || o->timeout_ms != n->timeout_ms) {
			if (plan_add(p, PLAN_CHANGE, PLAN_SET, n->name) == -1)
				return -1;
			continue;
		}
		if (diff_elems(o, n, p) == -1)
			return -1;
	}
	return 0;
}

int
plan_diff(const struct ruleset *old, const struct ruleset *new,
    struct plan *p)
{
	static const struct named_ops zones = {
		PLAN_ZONE, zone_name_of, zone_eq, false };
	static const struct named_ops rules = {
		PLAN_RULE, rule_name_of, rule_eq, true };
	static const struct named_ops nats = {
		PLAN_NAT, nat_name_of, nat_eq, true };

	if (diff_named((void *const *)old->zones, old->nzones,
	    (void *const *)new->zones, new->nzones, &zones, p) == -1 ||
	    diff_sets(old, new, p) == -1 ||
	    diff_policies(old, new, p) == -1 ||
	    diff_named((void *const *)old->rules, old->nrules,
	    (void *const *)new->rules, new->nrules, &rules, p) == -1 ||
	    diff_named((void *const *)old->nats, old->nnats,
	    (void *const *)new->nats, new->nnats, &nats, p) == -1) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
