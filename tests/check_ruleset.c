/* The model: copy, equality, ordering, merge; and plans (diffs). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "ruleset.h"
#include "strmap.h"

static struct rule *
mkrule(const char *name, const char *from, const char *to, uint16_t port)
{
	struct rule *r = rule_new();

	ck_assert_ptr_nonnull(r);
	r->name = strdup(name);
	r->from = strdup(from);
	r->to = strdup(to);
	r->proto = IPPROTO_TCP;
	r->dport.ranges = calloc(1, sizeof(struct portrange));
	r->dport.ranges[0].lo = r->dport.ranges[0].hi = port;
	r->dport.nranges = 1;
	r->verdict = VERDICT_ACCEPT;
	return r;
}

static struct zone *
mkzone(const char *name, const char *ifname)
{
	struct zone *z = zone_new();

	z->name = strdup(name);
	z->ifaces = calloc(1, sizeof(char *));
	z->ifaces[0] = strdup(ifname);
	z->nifaces = 1;
	return z;
}

static struct set_elem
v4elem(const char *s, int prefix)
{
	struct set_elem e;

	memset(&e, 0, sizeof(e));
	e.key.addr.family = AF_INET;
	e.key.addr.prefix = prefix;
	ck_assert_int_eq(inet_pton(AF_INET, s, e.key.addr.bytes), 1);
	return e;
}

/* zones lan/wan, a set, a policy and n rules r0..r(n-1) */
static struct ruleset *
mkruleset(size_t n)
{
	struct ruleset *rs = ruleset_new();
	struct policy *p = policy_new();
	struct set *s = set_new();
	struct set_elem e;
	char name[32];
	size_t i;

	ck_assert_int_eq(ruleset_add_zone(rs, mkzone("lan", "lan0")), 0);
	ck_assert_int_eq(ruleset_add_zone(rs, mkzone("wan", "wan0")), 0);
	p->from = strdup("lan");
	p->to = strdup("wan");
	p->verdict = VERDICT_ACCEPT;
	ck_assert_int_eq(ruleset_add_policy(rs, p), 0);
	s->name = strdup("blocklist");
	s->type = SET_IPV4;
	s->timeout_ms = 3600000;
	e = v4elem("192.0.2.1", 32);
	ck_assert_int_eq(set_add_elem(s, &e), 0);
	ck_assert_int_eq(ruleset_add_set(rs, s), 0);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "r%zu", i);
		ck_assert_int_eq(ruleset_add_rule(rs,
		    mkrule(name, "lan", "self", (uint16_t)(1000 + i))), 0);
	}
	return rs;
}

static size_t
count_items(const struct plan *p, enum plan_op op, enum plan_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < p->n; i++)
		if (p->v[i].op == op && p->v[i].kind == kind)
			n++;
	return n;
}

static bool
has_item(const struct plan *p, enum plan_op op, enum plan_kind kind,
    const char *name)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->v[i].op == op && p->v[i].kind == kind &&
		    strcmp(p->v[i].name, name) == 0)
			return true;
	return false;
}

START_TEST(dup_is_equal_and_deep)
{
	struct ruleset *a = mkruleset(50), *b;

	b = ruleset_dup(a);
	ck_assert_ptr_nonnull(b);
	ck_assert(ruleset_equal(a, b));
	ck_assert_ptr_ne(a->rules[3], b->rules[3]);
	ck_assert_ptr_ne(a->rules[3]->dport.ranges, b->rules[3]->dport.ranges);
	b->rules[3]->dport.ranges[0].lo = 1;
	ck_assert(!ruleset_equal(a, b));
	ck_assert_int_eq(a->rules[3]->dport.ranges[0].lo, 1003);
	ruleset_free(a);
	ruleset_free(b);
	ruleset_free(NULL);
}
END_TEST

/* Service names ride beside the ranges, one field each; packing, copying
 * and equality keep them; the same ports written otherwise are the same
 * match but not the same rule. */
START_TEST(port_names)
{
	struct portrange r[] = { { 22, 22 }, { 80, 80 }, { 1000, 2000 },
	    { 443, 443 } };
	const char *names[] = { NULL, "http", NULL, "https" };
	struct rule *a = mkrule("a", "lan", "self", 8), *b, *c;
	char buf[FWCTL_SERVICE_MAX + 1];
	size_t i;

	portmatch_clear(&a->dport);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(portmatch_add(&a->dport, &r[i], names[i]), 0);
	ck_assert_str_eq(a->dport.names, ",http,,https");
	for (i = 0; i < 4; i++) {
		ck_assert_uint_eq(a->dport.ranges[i].lo, r[i].lo);
		if (names[i] == NULL)
			ck_assert_ptr_null(portmatch_name(&a->dport, i, buf,
			    sizeof(buf)));
		else
			ck_assert_str_eq(portmatch_name(&a->dport, i, buf,
			    sizeof(buf)), names[i]);
	}
	ck_assert_ptr_null(portmatch_name(&a->dport, 4, buf, sizeof(buf)));
	ck_assert_ptr_nonnull(b = rule_pack(a));
	ck_assert(rule_equal(a, b));
	ck_assert_str_eq(portmatch_name(&b->dport, 3, buf, sizeof(buf)),
	    "https");
	ck_assert_ptr_nonnull(c = rule_dup(b));
	ck_assert(rule_equal(c, a));
	free(c->dport.names);
	c->dport.names = NULL;		/* { 22, 80, 1000-2000, 443 } */
	ck_assert(!rule_equal(c, a));
	ck_assert(rule_same_match(c, a));
	rule_free(a);
	rule_free(b);
	rule_free(c);

	/* names only from the first range on, and only the first */
	a = mkrule("a", "lan", "self", 8);
	portmatch_clear(&a->dport);
	ck_assert_int_eq(portmatch_add(&a->dport, &r[0], NULL), 0);
	ck_assert_ptr_null(a->dport.names);
	ck_assert_int_eq(portmatch_add(&a->dport, &r[1], "http"), 0);
	ck_assert_str_eq(a->dport.names, ",http");
	portmatch_clear(&a->dport);
	ck_assert_int_eq(portmatch_add(&a->dport, &r[1], "http"), 0);
	ck_assert_int_eq(portmatch_add(&a->dport, &r[0], NULL), 0);
	ck_assert_str_eq(a->dport.names, "http,");
	ck_assert_ptr_null(portmatch_name(&a->dport, 1, buf, sizeof(buf)));
	rule_free(a);
}
END_TEST

/* A borrowed copy holds no reference on the rules: the lender's pass to
 * it (nrules = 0, then freed), or it takes its own (settle); freed unsettled
 * it leaves them all alone.  Under ASan a wrong count shows as a leak or a
 * use after free. */
START_TEST(borrow_hands_over)
{
	struct ruleset *a = mkruleset(50), *b, *c;
	struct rule *r, *gone;

	/* handed over: a goes, b keeps its rules, the removed one is freed */
	ck_assert_ptr_nonnull(b = ruleset_borrow(a));
	ck_assert(b->rules_borrowed);
	ck_assert(ruleset_equal(a, b));
	r = mkrule("extra", "lan", "self", 7);
	ck_assert_int_eq(ruleset_insert_rule(b, 0, r), 0);
	gone = ruleset_remove_rule(b, 5);
	ck_assert_str_eq(gone->name, "r4");
	a->nrules = 0;
	b->rules_borrowed = false;
	ruleset_free(a);
	rule_free(gone);
	ck_assert_str_eq(b->rules[0]->name, "extra");
	ck_assert_str_eq(b->rules[5]->name, "r5");
	ck_assert_uint_eq(b->nrules, 50);

	/* settled: both own their rules, either may go first */
	ck_assert_ptr_nonnull(c = ruleset_borrow(b));
	r = mkrule("more", "lan", "self", 8);
	ck_assert_int_eq(ruleset_add_rule(c, r), 0);
	ruleset_settle_rules(c, r);
	ck_assert(!c->rules_borrowed);
	ruleset_free(b);
	ck_assert_str_eq(c->rules[1]->name, "r0");
	ck_assert_str_eq(c->rules[50]->name, "more");

	/* never used: freed unsettled, the lender's rules stay whole */
	ck_assert_ptr_nonnull(b = ruleset_borrow(c));
	ruleset_free(b);
	ck_assert_str_eq(c->rules[49]->name, "r49");
	ruleset_free(c);
}
END_TEST

/* A shared copy costs the pointer arrays: every object is the original's,
 * and outlives whichever ruleset is freed first. */
START_TEST(share_is_shallow)
{
	struct ruleset *a = mkruleset(50), *b;
	struct rule *r;
	struct set *s;
	struct set_elem e = v4elem("198.51.100.0", 24);

	b = ruleset_share(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_eq(a->rules[3], b->rules[3]);
	ck_assert(ruleset_equal(a, b));
	/* a change replaces the object in the copy only */
	r = mkrule("r3", "lan", "self", 9);
	ruleset_replace_rule(b, 3, r);
	ck_assert_ptr_eq(b->rules[3], r);
	ck_assert_int_eq(a->rules[3]->dport.ranges[0].lo, 1003);
	ck_assert(!ruleset_equal(a, b));
	ck_assert_int_eq(ruleset_rule_index(b, r), 3);
	ck_assert_int_eq(ruleset_rule_index(a, r), -1);
	/* a shared set is copied before it changes; an owned one is not */
	s = ruleset_own_set(b, 0, 1);
	ck_assert_ptr_ne(s, a->sets[0]);
	ck_assert_int_eq(set_merge_elems(s, &e, 1), 0);
	ck_assert_uint_eq(a->sets[0]->nelems + 1, s->nelems);
	ck_assert_ptr_eq(ruleset_own_set(b, 0, 0), s);
	/* elements of a shared set change in a new set, in one pass */
	{
		struct ruleset *c = ruleset_share(b);
		struct set_elem e2 = v4elem("203.0.113.0", 24);
		unsigned char drop[8] = { 1 };
		size_t n = s->nelems;

		ck_assert_int_eq(ruleset_update_set(c, 0, &e2, 1, drop), 0);
		ck_assert_ptr_ne(c->sets[0], s);
		ck_assert_uint_eq(s->nelems, n);
		ck_assert_uint_eq(c->sets[0]->nelems, n);
		ck_assert_int_eq(set_find_elem(c->sets[0], &e2), (ssize_t)n - 1);
		ck_assert_int_eq(set_find_elem(c->sets[0], &s->elems[0]), -1);
		ruleset_free(c);
	}
	/* either may go first */
	ruleset_free(a);
	ck_assert_str_eq(b->rules[4]->name, "r4");
	ck_assert_int_eq(b->rules[3]->dport.ranges[0].lo, 9);
	ruleset_free(b);
}
END_TEST

/* Elements stay in key order; lookups, merges and removal keep it. */
START_TEST(set_order)
{
	struct set *s = set_new(), *t;
	struct set_elem add[3];
	unsigned char drop[8] = { 0 };

	s->type = SET_IPV4;
	set_add_elem(s, &(struct set_elem){ .key.addr = v4elem("10.0.0.9",
	    32).key.addr });
	set_add_elem(s, &(struct set_elem){ .key.addr = v4elem("10.0.0.0",
	    8).key.addr });
	ck_assert(s->unsorted);
	t = set_dup(s);
	set_sort(s);
	ck_assert(!s->unsorted);
	ck_assert(set_equal(s, t));		/* order given is not content */
	ck_assert_int_eq(s->elems[0].key.addr.prefix, 8);
	add[0] = v4elem("9.0.0.1", 32);
	add[1] = v4elem("10.0.0.5", 32);
	add[2] = v4elem("11.0.0.0", 8);
	ck_assert_int_eq(set_merge_elems(s, add, 3), 0);
	ck_assert_uint_eq(s->nelems, 5);
	ck_assert_int_eq(set_find_elem(s, &add[0]), 0);
	ck_assert_int_eq(set_find_elem(s, &add[1]), 2);
	ck_assert_int_eq(set_find_elem(s, &add[2]), 4);
	ck_assert_int_eq(set_lower_bound(s, &add[1]), 2);
	drop[0] = drop[2] = 1;
	set_remove_marked(s, drop);
	ck_assert_uint_eq(s->nelems, 3);
	ck_assert_int_eq(set_find_elem(s, &add[0]), -1);
	ck_assert_int_eq(set_find_elem(s, &add[2]), 2);
	ck_assert(!set_equal(s, t));
	set_free(s);
	set_free(t);
}
END_TEST

/* One host of 10.0.0.0/8 per k, in key order. */
static struct set_elem
host_elem(uint32_t k)
{
	struct set_elem e = { 0 };
	uint32_t a = htonl(0x0a000000u + k);

	e.key.addr.family = AF_INET;
	e.key.addr.prefix = 32;
	memcpy(e.key.addr.bytes, &a, 4);
	return e;
}

/*
 * A shared set of thousands of elements changes into a copy made in
 * stretches (set_merge_copy): random rounds of elements added and
 * dropped give what one element at a time gives (set_merge_elems and
 * set_remove_marked on a copy), with the expiry hint still the earliest
 * expiry; a big array freed is the next copy's.
 */
START_TEST(set_merge_copy_stretches)
{
	enum { N = 20000, ROUNDS = 60 };
	struct set *cur = set_new(), *ref, *next;
	struct set_elem add[8], *old;
	unsigned char *drop;
	uint64_t least;
	uint32_t seed = 7, k;
	size_t i, j, nadd, ndrop;
	int round;

	cur->type = SET_IPV4;
	for (k = 0; k < N; k++) {
		struct set_elem e = host_elem(2 * k);

		if (k % 97 == 0) {
			e.timeout_ms = 1000;
			e.expires_ms = 5000000 + k;
		}
		if (set_add_elem(cur, &e) != 0)
			ck_abort_msg("element %u not added", k);
	}
	ck_assert(!cur->unsorted);
	for (round = 0; round < ROUNDS; round++) {
		/* up to 8 new odd keys, sorted, and up to 8 to drop; the
		 * earliest expiring element goes in some rounds */
		seed = seed * 1103515245u + 12345u;
		nadd = (seed >> 8) % 9;
		for (j = 0; j < nadd; j++) {
			seed = seed * 1103515245u + 12345u;
			k = 2 * (uint32_t)((seed >> 4) % (N + 10)) + 1;
			add[j] = host_elem(k);
			if (j % 3 == 1)
				add[j].expires_ms = 4000000 + k;
		}
		set_elems_sort(cur->type, add, nadd);
		for (i = j = 0; j < nadd; j++)	/* once each, not in cur */
			if ((i == 0 || set_elem_cmp(cur->type, &add[i - 1],
			    &add[j]) != 0) && set_find_elem(cur, &add[j]) < 0)
				add[i++] = add[j];
		nadd = i;
		ck_assert_ptr_nonnull(drop = calloc(cur->nelems + 1, 1));
		seed = seed * 1103515245u + 12345u;
		ndrop = (seed >> 8) % 9;
		for (j = 0; j < ndrop; j++) {
			seed = seed * 1103515245u + 12345u;
			drop[(seed >> 4) % cur->nelems] = 1;
		}
		if (round % 5 == 0)
			for (i = 0; i < cur->nelems; i++)
				if (cur->elems[i].expires_ms == cur->expiry_hint)
					drop[i] = 1;
		ref = set_dup(cur);
		set_remove_marked(ref, drop);
		ck_assert_int_eq(set_merge_elems(ref, add, nadd), 0);
		ck_assert_ptr_nonnull(next = set_merge_copy(cur, add, nadd,
		    drop));
		ck_assert_uint_eq(next->nelems, ref->nelems);
		ck_assert_uint_ge(next->elems_cap, next->nelems);
		/* compared in plain C, asserted once: each ck_assert is a
		 * write to the runner's pipe, 40,000 a round */
		for (i = 0; i < ref->nelems; i++)
			if (set_elem_cmp(ref->type, &next->elems[i],
			    &ref->elems[i]) != 0 || next->elems[i].expires_ms !=
			    ref->elems[i].expires_ms)
				break;
		ck_assert_msg(i == ref->nelems, "round %d: element %zu of "
		    "%zu differs from the reference", round, i, ref->nelems);
		least = 0;
		for (i = 0; i < next->nelems; i++)
			if (next->elems[i].expires_ms != 0 && (least == 0 ||
			    next->elems[i].expires_ms < least))
				least = next->elems[i].expires_ms;
		/* exact, as it starts: a prune pass is due when it is */
		ck_assert_uint_eq(next->expiry_hint, least);
		free(drop);
		set_free(ref);
		/* the old array is kept, and the next copy takes it */
		if (round == ROUNDS - 1)
			set_spare_drop();
		old = cur->elems;
		set_free(cur);
		cur = next;
		if (round == ROUNDS - 1) {
			ck_assert_ptr_nonnull(next = set_merge_copy(cur, NULL, 0,
			    NULL));
			ck_assert_ptr_eq(next->elems, old);
			set_free(next);
		}
	}
	set_free(cur);
	set_spare_drop();
}
END_TEST

START_TEST(insert_remove_find)
{
	struct ruleset *rs = mkruleset(3);
	struct rule *r;

	ck_assert_int_eq(ruleset_insert_rule(rs, 0, mkrule("first", "lan",
	    "self", 1)), 0);
	ck_assert_int_eq(ruleset_insert_rule(rs, 2, mkrule("mid", "lan",
	    "self", 2)), 0);
	ck_assert_int_eq(rs->nrules, 5);
	ck_assert_str_eq(rs->rules[0]->name, "first");
	ck_assert_str_eq(rs->rules[1]->name, "r0");
	ck_assert_str_eq(rs->rules[2]->name, "mid");
	ck_assert_str_eq(rs->rules[4]->name, "r2");
	ck_assert_int_eq(ruleset_find_rule(rs, "mid"), 2);
	ck_assert_int_eq(ruleset_find_rule(rs, "nope"), -1);
	ck_assert_int_eq(ruleset_insert_rule(rs, 9, NULL), -1);
	r = ruleset_remove_rule(rs, 2);
	ck_assert_str_eq(r->name, "mid");
	rule_free(r);
	ck_assert_int_eq(ruleset_find_rule(rs, "r2"), 3);
	ck_assert_ptr_null(ruleset_remove_rule(rs, 17));
	ck_assert_int_eq(ruleset_find_zone(rs, "wan"), 1);
	ck_assert_int_eq(ruleset_find_set(rs, "blocklist"), 0);
	ck_assert_int_eq(ruleset_find_policy(rs, "lan", "wan"), 0);
	ck_assert_int_eq(ruleset_find_policy(rs, "wan", "lan"), -1);
	ruleset_free(rs);
}
END_TEST

START_TEST(merge_moves_everything)
{
	struct ruleset *a = ruleset_new(), *b = mkruleset(10);

	ck_assert_int_eq(ruleset_add_rule(a, mkrule("x", "any", "self", 7)),
	    0);
	ck_assert_int_eq(ruleset_merge(a, b), 0);
	ck_assert_int_eq(a->nrules, 11);
	ck_assert_str_eq(a->rules[0]->name, "x");
	ck_assert_str_eq(a->rules[10]->name, "r9");
	ck_assert_int_eq(a->nzones, 2);
	ck_assert_int_eq(b->nrules, 0);
	ck_assert_int_eq(b->nzones, 0);
	ruleset_free(a);
	ruleset_free(b);
}
END_TEST

START_TEST(set_elements)
{
	struct set *s = set_new();
	struct set_elem e1 = v4elem("10.0.0.0", 8), e2 = v4elem("10.0.0.1", 32);

	s->type = SET_IPV4;
	ck_assert_int_eq(set_add_elem(s, &e1), 0);
	ck_assert_int_eq(set_add_elem(s, &e2), 0);
	ck_assert_int_eq(set_find_elem(s, &e2), 1);
	set_remove_elem(s, 0);
	ck_assert_int_eq(s->nelems, 1);
	ck_assert_int_eq(set_find_elem(s, &e1), -1);
	ck_assert_int_eq(set_find_elem(s, &e2), 0);
	set_free(s);
}
END_TEST

START_TEST(plan_identical_is_empty)
{
	struct ruleset *a = mkruleset(100), *b = ruleset_dup(a);
	struct plan p;

	plan_init(&p);
	ck_assert_int_eq(plan_diff(a, b, &p), 0);
	ck_assert_uint_eq(p.n, 0);
	plan_free(&p);
	ruleset_free(a);
	ruleset_free(b);
}
END_TEST

START_TEST(plan_add_remove_change)
{
	struct ruleset *a = mkruleset(20), *b = ruleset_dup(a);
	struct plan p;

	rule_free(ruleset_remove_rule(b, 5));			/* r5 gone */
	ruleset_insert_rule(b, 0, mkrule("new", "lan", "self", 9));
	b->rules[10]->verdict = VERDICT_DROP;			/* r10 changed */
	zone_free(ruleset_remove_zone(b, 1));
	b->policies[0]->verdict = VERDICT_DROP;
	plan_init(&p);
	ck_assert_int_eq(plan_diff(a, b, &p), 0);
	ck_assert(has_item(&p, PLAN_REMOVE, PLAN_RULE, "r5"));
	ck_assert(has_item(&p, PLAN_ADD, PLAN_RULE, "new"));
	ck_assert(has_item(&p, PLAN_CHANGE, PLAN_RULE, "r10"));
	ck_assert(has_item(&p, PLAN_REMOVE, PLAN_ZONE, "wan"));
	ck_assert(has_item(&p, PLAN_CHANGE, PLAN_POLICY, "lan -> wan"));
	/* nothing else: the other 17 rules are untouched */
	ck_assert_uint_eq(p.n, 5);
	plan_free(&p);
	ruleset_free(a);
	ruleset_free(b);
}
END_TEST

START_TEST(plan_move_is_one_change)
{
	struct ruleset *a = mkruleset(1000), *b = ruleset_dup(a);
	struct rule *r;
	struct plan p;

	/* move r500 to the front: only r500 changes position */
	r = ruleset_remove_rule(b, 500);
	ck_assert_int_eq(ruleset_insert_rule(b, 0, r), 0);
	plan_init(&p);
	ck_assert_int_eq(plan_diff(a, b, &p), 0);
	ck_assert_uint_eq(p.n, 1);
	ck_assert(has_item(&p, PLAN_CHANGE, PLAN_RULE, "r500"));
	plan_free(&p);
	ruleset_free(a);
	ruleset_free(b);
}
END_TEST

START_TEST(plan_set_elements)
{
	struct ruleset *a = mkruleset(1), *b = ruleset_dup(a), *c;
	struct set_elem e = v4elem("198.51.100.0", 24);
	struct plan p;

	ck_assert_int_eq(set_add_elem(b->sets[0], &e), 0);
	set_remove_elem(b->sets[0], 0);
	plan_init(&p);
	ck_assert_int_eq(plan_diff(a, b, &p), 0);
	ck_assert_uint_eq(p.n, 2);
	ck_assert_uint_eq(count_items(&p, PLAN_ADD, PLAN_ELEMENT), 1);
	ck_assert_uint_eq(count_items(&p, PLAN_REMOVE, PLAN_ELEMENT), 1);
	ck_assert_str_eq(p.v[0].name, "blocklist");
	plan_free(&p);

	/* a new default timeout redefines the set: one set change */
	c = ruleset_dup(a);
	c->sets[0]->timeout_ms = 60000;
	plan_init(&p);
	ck_assert_int_eq(plan_diff(a, c, &p), 0);
	ck_assert_uint_eq(p.n, 1);
	ck_assert(has_item(&p, PLAN_CHANGE, PLAN_SET, "blocklist"));
	plan_free(&p);
	ruleset_free(a);
	ruleset_free(b);
	ruleset_free(c);
}
END_TEST

START_TEST(plan_large_ruleset_ten_changes)
{
	struct ruleset *a = mkruleset(50000), *b = ruleset_dup(a);
	struct plan p;
	size_t i;

	for (i = 0; i < 10; i++)
		b->rules[i * 4000]->dport.ranges[0].lo = 1;
	plan_init(&p);
	ck_assert_int_eq(plan_diff(a, b, &p), 0);
	ck_assert_uint_eq(p.n, 10);
	ck_assert_uint_eq(count_items(&p, PLAN_CHANGE, PLAN_RULE), 10);
	plan_free(&p);
	ruleset_free(a);
	ruleset_free(b);
}
END_TEST

START_TEST(strmap_basic)
{
	struct strmap *m = strmap_new(0);
	char key[32];
	size_t i;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		ck_assert_int_eq(strmap_puts(m, key, (void *)(i + 1)), 0);
	}
	ck_assert_uint_eq(strmap_count(m), 20000);
	for (i = 0; i < 20000; i += 2) {
		snprintf(key, sizeof(key), "k%zu", i);
		ck_assert_ptr_eq(strmap_del(m, key, strlen(key)),
		    (void *)(i + 1));
	}
	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		ck_assert_ptr_eq(strmap_gets(m, key),
		    i % 2 ? (void *)(i + 1) : NULL);
	}
	ck_assert_int_eq(strmap_puts(m, "k1", (void *)7), 0);
	ck_assert_ptr_eq(strmap_gets(m, "k1"), (void *)7);
	ck_assert_uint_eq(strmap_count(m), 10000);
	strmap_free(m);
}
END_TEST

static Suite *
ruleset_suite(void)
{
	Suite *s = suite_create("ruleset");
	TCase *tc = tcase_create("model");

	tcase_add_test(tc, dup_is_equal_and_deep);
	tcase_add_test(tc, port_names);
	tcase_add_test(tc, share_is_shallow);
	tcase_add_test(tc, borrow_hands_over);
	tcase_add_test(tc, set_order);
	tcase_add_test(tc, set_merge_copy_stretches);
	tcase_add_test(tc, insert_remove_find);
	tcase_add_test(tc, merge_moves_everything);
	tcase_add_test(tc, set_elements);
	tcase_add_test(tc, strmap_basic);
	suite_add_tcase(s, tc);
	tc = tcase_create("plan");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, plan_identical_is_empty);
	tcase_add_test(tc, plan_add_remove_change);
	tcase_add_test(tc, plan_move_is_one_change);
	tcase_add_test(tc, plan_set_elements);
	tcase_add_test(tc, plan_large_ruleset_ten_changes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ruleset_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
