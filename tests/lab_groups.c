/*
 * Groups of rules against a real kernel, in the lab (needs root; the lab
 * and helpers of lab_kernel, lib/kernel_lab.c): runs of rules of one shape
 * as one kernel rule and a set, whose elements are the rules; the single
 * changes that join, leave, start, split or edit a run, each checked by
 * real traffic in rule order, by counters that follow their rules, and by
 * a restart that takes the table as a fresh compile has it. Case
 * "differential": random single changes, each compared with a fresh
 * compile (CK_RUN_CASE=differential FWCTL_LAB_SEED=N for another
 * sequence).
 */
#include <sys/socket.h>

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compile.h"
#include "lib/kernel_lab.h"
#include "nft.h"
#include "parse.h"
#include "plan.h"
#include "ruleset.h"

/* Adds rule `text` (one statement with its name) before rule `before`
 * (NULL: at the end) through a one-item plan. */
static void
add_rule_before(const char *name, const char *text, const char *before)
{
	struct ruleset *next = ruleset_dup(cur);
	struct rule *ru;
	struct diags d;
	ssize_t k = before != NULL ? ruleset_find_rule(next, before) :
	    (ssize_t)next->nrules;

	ck_assert_int_ge(k, 0);
	diags_init(&d);
	ru = parse_rule(text, &d);
	ck_assert_msg(ru != NULL, "%s does not parse", text);
	diags_free(&d);
	ck_assert_int_eq(ruleset_insert_rule(next, (size_t)k, ru), 0);
	apply_plan(next, PLAN_ADD, name);
}

static void
remove_rule(const char *name)
{
	struct ruleset *next = ruleset_dup(cur);
	ssize_t k = ruleset_find_rule(next, name);

	ck_assert_int_ge(k, 0);
	rule_free(ruleset_remove_rule(next, (size_t)k));
	apply_plan(next, PLAN_REMOVE, name);
}

/*
 * Groups: N rules that differ only in their port and source address are
 * one kernel rule and a set with a counter per element. Traffic follows
 * the rules in order, across the group's edges; a rule joining the group
 * is one element (no NEWRULE), a rule leaving it one element gone; the
 * counters come back per rule name.
 */
START_TEST(groups_of_rules)
{
	enum { N = 10000 };
	const struct nft_stats *st;
	struct ruleset *next;
	struct rule *ru;
	struct diags d;
	char *text, *p, *out;
	ssize_t k;
	int i;

	start();
	serve("router", "tcp", 25000);	/* d0 drops it before g5000 */
	serve("router", "tcp", 20001);
	serve("router", "tcp", 20002);
	serve("router", "tcp", 20003);
	serve("router", "tcp", 19999);	/* no rule: the policy drops */
	serve("router", "tcp", 31000);	/* added later */
	text = malloc((size_t)N * 100 + 1024);
	ck_assert_ptr_nonnull(text);
	p = text + sprintf(text, ZONES);
	for (i = 0; i < 5; i++)
		p += sprintf(p, "rule d%d from lan to self tcp dport %d "
		    "src " H_LAN " drop\n", i, 25000 + i);
	for (i = 0; i < N; i++)
		p += sprintf(p, "rule g%d from lan to self tcp dport %d "
		    "src " H_LAN " accept\n", i, 20000 + i);
	p += sprintf(p, "rule tail from lan to self tcp dport 20002 "
	    "drop limit 10/second\n");
	apply_text(text);
	free(text);
	st = nft_last_stats(nf);
	ck_assert(st->full_rebuild);
	/* two groups (d*, g*), the tail rule, fwctl's own: few rules */
	ck_assert_uint_lt(st->rules_added, 100);
	ck_assert_uint_eq(st->elems_added >= N + 5, 1);

	must_tcp("lan", R_LAN, 20001);
	must_tcp("lan", R_LAN, 20001);
	must_tcp("lan", R_LAN, 20003);
	mustnt_tcp("lan", R_LAN, 25000);	/* first match: d0 */
	mustnt_tcp("lan", R_LAN, 19999);
	mustnt_tcp("lan", R_LAN, 31000);
	ck_assert_uint_ge(rule_packets("g1"), 2);
	ck_assert_uint_ge(rule_packets("g3"), 1);
	ck_assert_uint_ge(rule_packets("d0"), 1);
	ck_assert_uint_eq(rule_packets("g2"), 0);
	ck_assert_uint_eq(rule_packets("g5000"), 0);

	/* nft itself shows the set, its counters and the rule names */
	out = lab_output(lab, "router", "nft -j list table inet fwctl");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "\"__g/lan-self/g0\"") != NULL, "no set");
	ck_assert_msg(strstr(out, "\"counter\"") != NULL, "no counter");
	ck_assert_msg(strstr(out, "\"g1234\"") != NULL, "no element name");
	free(out);
	out = lab_output(lab, "router", "nft list set inet fwctl "
	    "__g/lan-self/d0");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "counter packets 1 ") != NULL &&
	    strstr(out, "comment \"d0\"") != NULL &&
	    strstr(out, "ipv4_addr . inet_service") != NULL,
	    "the set as nft shows it: %s", out);
	free(out);

	/* a rule joining the group at its end: one element */
	next = ruleset_dup(cur);
	diags_init(&d);
	ru = parse_rule("gnew from lan to self tcp dport 31000 src " H_LAN
	    " accept", &d);
	ck_assert_ptr_nonnull(ru);
	k = ruleset_find_rule(next, "tail");
	ck_assert_int_ge(k, 0);
	ck_assert_int_eq(ruleset_insert_rule(next, (size_t)k, ru), 0);
	apply_plan(next, PLAN_ADD, "gnew");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->compiled_rules, 1);	/* no whole compile */
	ck_assert_uint_eq(st->msgs, 3);		/* begin, NEWSETELEM, end */
	ck_assert_uint_eq(st->elems_added, 1);
	ck_assert_uint_eq(st->elems_deleted, 0);
	ck_assert_uint_eq(st->rules_added, 0);
	ck_assert_uint_eq(st->rules_deleted, 0);
	must_tcp("lan", R_LAN, 31000);
	/* the others kept their counters */
	ck_assert_uint_ge(rule_packets("g1"), 2);
	ck_assert_uint_ge(rule_packets("gnew"), 1);

	/* a rule leaving it: one element gone */
	next = ruleset_dup(cur);
	k = ruleset_find_rule(next, "g3");
	ck_assert_int_ge(k, 0);
	rule_free(ruleset_remove_rule(next, (size_t)k));
	apply_plan(next, PLAN_REMOVE, "g3");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->msgs, 3);
	ck_assert_uint_eq(st->elems_deleted, 1);
	ck_assert_uint_eq(st->elems_added, 0);
	ck_assert_uint_eq(st->rules_added, 0);
	ck_assert_uint_eq(st->rules_deleted, 0);
	mustnt_tcp("lan", R_LAN, 20003);
	must_tcp("lan", R_LAN, 20001);
	ck_assert_uint_ge(rule_packets("g1"), 3);
	ck_assert_uint_eq(rule_packets("g3"), 0);	/* gone */

	/* a rule of another verdict in the middle splits the group: the
	 * traffic still follows the rules in order */
	next = ruleset_dup(cur);
	ru = parse_rule("mid from lan to self tcp dport 20001 src " H_LAN
	    " drop", &d);
	ck_assert_ptr_nonnull(ru);
	k = ruleset_find_rule(next, "g1");
	ck_assert_int_ge(k, 0);
	ck_assert_int_eq(ruleset_insert_rule(next, (size_t)k, ru), 0);
	apply_plan(next, PLAN_ADD, "mid");
	/* the rules of the group made again kept their counts */
	ck_assert_uint_ge(rule_packets("g1"), 3);
	ck_assert_uint_ge(rule_packets("gnew"), 1);
	mustnt_tcp("lan", R_LAN, 20001);
	must_tcp("lan", R_LAN, 31000);
	ck_assert_uint_ge(rule_packets("mid"), 1);
	diags_free(&d);
}
END_TEST

/* The group set holds an element for rule (its comment), as nft reads it. */
static void
group_holds(const char *set, const char *rule)
{
	/* the whole table: nft does not read a body's name (its '+') as
	 * the name of one set */
	char *out = lab_output(lab, "router", "nft list table inet fwctl"),
	    want[96], *at, *end;

	ck_assert_ptr_nonnull(out);
	snprintf(want, sizeof(want), "set %s {", set);
	if ((at = strstr(out, want)) == NULL) {
		snprintf(want, sizeof(want), "set \"%s\" {", set);
		at = strstr(out, want);
	}
	ck_assert_msg(at != NULL, "no set %s: %s", set, out);
	if ((end = strstr(at, "\n\t}")) != NULL)
		*end = '\0';
	snprintf(want, sizeof(want), "comment \"%s\"", rule);
	ck_assert_msg(strstr(at, want) != NULL, "no element %s in %s: %s",
	    rule, set, at);
	free(out);
}

/* Whether rule is an element of one of fwctl's group sets (which one the
 * name of the set's first rule says). */
static bool
in_a_group(const char *rule)
{
	char *out = lab_output(lab, "router", "nft list table inet fwctl"),
	    want[96], *at, *c, *lastset = NULL, *lastchain = NULL;
	bool in;

	ck_assert_ptr_nonnull(out);
	snprintf(want, sizeof(want), "comment \"%s\"", rule);
	if ((at = strstr(out, want)) == NULL) {
		free(out);
		return false;
	}
	for (c = out; c < at; c++) {
		if (strncmp(c, "\n\tset ", 6) == 0)
			lastset = c;
		else if (strncmp(c, "\n\tchain ", 8) == 0)
			lastchain = c;
	}
	in = lastset != NULL && (lastchain == NULL || lastset > lastchain) &&
	    strncmp(lastset + 6, GROUP_SET_PREFIX, strlen(GROUP_SET_PREFIX)) ==
	    0;
	free(out);
	return in;
}

/* Rule name becomes text (one statement without the word "rule") through
 * a one-item plan, as the engine sends PUT /v1/rules/NAME. */
static void
change_rule(const char *name, const char *text)
{
	struct ruleset *next = ruleset_dup(cur);
	struct rule *ru;
	struct diags d;
	ssize_t k = ruleset_find_rule(next, name);

	ck_assert_int_ge(k, 0);
	diags_init(&d);
	ru = parse_rule(text, &d);
	ck_assert_msg(ru != NULL, "%s does not parse", text);
	diags_free(&d);
	ruleset_replace_rule(next, (size_t)k, ru);
	apply_plan(next, PLAN_CHANGE, name);
}

/*
 * Counters belong to rules, not to kernel objects: a rule that did not
 * change keeps its count when fwctl makes its kernel object again (rules
 * forming a group, a group made again under a new first rule, a group
 * breaking up, a rule moved, a comment changed, a restart); a rule whose
 * matches change starts from zero.
 */
#define A(i, port) "rule a" #i " from lan to self tcp dport " #port \
	" src " H_LAN " accept\n"
#define M(port, extra) "rule m from lan to self tcp dport " #port \
	extra " accept\n"
#define F(i, port) "rule f" #i " from lan to self tcp dport " #port \
	" limit 100/second accept\n"

START_TEST(counters_follow_rules)
{
	uint64_t a0, a1, a2, a3, m, f1, f2;
	struct ruleset *next;
	struct rule *ru;
	struct diags d;
	ssize_t k;
	char *out;
	int i;

	start();
	for (i = 3501; i <= 3504; i++)
		serve("router", "tcp", i);
	for (i = 3510; i <= 3513; i++)
		serve("router", "tcp", i);
	/* three rules of one shape: fewer than a group needs */
	apply_text(ZONES A(0, 3501) A(1, 3502) A(2, 3503) M(3510, ""));
	must_tcp("lan", R_LAN, 3501);
	must_tcp("lan", R_LAN, 3501);
	must_tcp("lan", R_LAN, 3502);
	must_tcp("lan", R_LAN, 3503);
	must_tcp("lan", R_LAN, 3510);
	a0 = rule_packets("a0");
	a1 = rule_packets("a1");
	a2 = rule_packets("a2");
	m = rule_packets("m");
	ck_assert_uint_ge(a0, 2);
	ck_assert_uint_ge(a1, 1);
	ck_assert_uint_ge(m, 1);

	/* a fourth makes them a group: a set whose elements carry on */
	apply_text(ZONES A(0, 3501) A(1, 3502) A(2, 3503) A(3, 3504)
	    M(3510, ""));
	ck_assert(!nft_last_stats(nf)->full_rebuild);
	group_holds("__g/lan-self/a0", "a1");
	ck_assert_uint_eq(rule_packets("a0"), a0);
	ck_assert_uint_eq(rule_packets("a1"), a1);
	ck_assert_uint_eq(rule_packets("a2"), a2);
	ck_assert_uint_eq(rule_packets("m"), m);
	must_tcp("lan", R_LAN, 3504);
	a3 = rule_packets("a3");
	ck_assert_uint_ge(a3, 1);

	/* the first rule goes: the group is made again as __g/.../a1 */
	apply_text(ZONES A(1, 3502) A(2, 3503) A(3, 3504) A(4, 3505)
	    M(3510, ""));
	group_holds("__g/lan-self/a1", "a3");
	ck_assert_uint_eq(rule_packets("a1"), a1);
	ck_assert_uint_eq(rule_packets("a3"), a3);
	ck_assert_uint_eq(rule_packets("a4"), 0);

	/* m moves to the front, then only its comment changes */
	apply_text(ZONES M(3510, "") A(1, 3502) A(2, 3503) A(3, 3504)
	    A(4, 3505));
	ck_assert_uint_eq(rule_packets("m"), m);
	ck_assert_uint_eq(rule_packets("a2"), a2);
	apply_text(ZONES M(3510, " comment \"web front\"") A(1, 3502)
	    A(2, 3503) A(3, 3504) A(4, 3505));
	ck_assert_uint_eq(rule_packets("m"), m);
	must_tcp("lan", R_LAN, 3510);
	ck_assert_uint_gt(rule_packets("m"), m);

	/* the group breaks up: its rules are rules again, with their
	 * counts; m now matches something else and starts from zero */
	apply_text(ZONES M(3511, "") A(1, 3502) A(3, 3504));
	ck_assert_uint_eq(rule_packets("a1"), a1);
	ck_assert_uint_eq(rule_packets("a3"), a3);
	ck_assert_uint_eq(rule_packets("m"), 0);
	out = lab_output(lab, "router", "nft list table inet fwctl");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "__g/") == NULL, "a group is left: %s",
	    out);
	free(out);
	must_tcp("lan", R_LAN, 3502);
	must_tcp("lan", R_LAN, 3511);
	mustnt_tcp("lan", R_LAN, 3510);
	a1 = rule_packets("a1");
	ck_assert_uint_ge(a1, 2);

	/* the same through the single-rule path (rules with a limit are
	 * never grouped), one compiled rule each: f1 gets a comment, f2
	 * moves before it, then f2's port changes */
	apply_text(ZONES M(3511, "") A(1, 3502) A(3, 3504) F(1, 3512)
	    F(2, 3513));
	ck_assert_uint_eq(rule_packets("a1"), a1);
	must_tcp("lan", R_LAN, 3512);
	must_tcp("lan", R_LAN, 3513);
	f1 = rule_packets("f1");
	f2 = rule_packets("f2");
	ck_assert_uint_ge(f1, 1);
	ck_assert_uint_ge(f2, 1);
	change_rule("f1", "f1 from lan to self tcp dport 3512 limit "
	    "100/second comment \"db\" accept");
	ck_assert_uint_eq(nft_last_stats(nf)->compiled_rules, 1);
	ck_assert_uint_eq(rule_packets("f1"), f1);
	next = ruleset_dup(cur);
	k = ruleset_find_rule(next, "f2");
	ck_assert_int_ge(k, 0);
	ru = ruleset_remove_rule(next, (size_t)k);
	ck_assert_int_eq(ruleset_insert_rule(next, (size_t)k - 1, ru), 0);
	apply_plan(next, PLAN_CHANGE, "f2");
	ck_assert_uint_eq(nft_last_stats(nf)->compiled_rules, 1);
	ck_assert_uint_eq(rule_packets("f2"), f2);
	assert_order("a3", "f2", "f1: db");
	change_rule("f2", "f2 from lan to self tcp dport 3514 limit "
	    "100/second accept");
	ck_assert_uint_eq(nft_last_stats(nf)->compiled_rules, 1);
	ck_assert_uint_eq(rule_packets("f2"), 0);

	/* a group again; a restart adopts the table with every count */
	apply_text(ZONES A(0, 3501) A(1, 3502) A(2, 3503) A(3, 3504));
	ck_assert_uint_eq(rule_packets("a1"), a1);
	ck_assert_uint_eq(rule_packets("a3"), a3);
	nft_close(nf);
	diags_init(&d);
	nf = nft_open(NULL, &d);
	ck_assert_ptr_nonnull(nf);
	ck_assert_int_eq(nft_apply(nf, NULL, cur, NULL, &d), 0);
	diags_free(&d);
	ck_assert(nft_last_stats(nf)->full_rebuild);
	ck_assert_uint_eq(rule_packets("a1"), a1);
	ck_assert_uint_eq(rule_packets("a3"), a3);
	must_tcp("lan", R_LAN, 3501);
	must_tcp("lan", R_LAN, 3503);
	finish();
}
END_TEST

#undef A
#undef M
#undef F

/*
 * A run split by a rule of another shape that meets it, and joined again
 * when that rule goes (the whole diff: the run's later rules move to a
 * set, or to kernel rules, of their own): every rule keeps its count and
 * traffic follows first match. `from any to self` rules stand in a body
 * the zones' chains share; a lan rule among them gives lan-self copies of
 * its own. The counts the kernel held are read from the sets and
 * sub-chains that hold the rules moved.
 */
#define S(i) "rule s" #i " from any to self tcp dport 370" #i \
	" src " H_LAN " accept\n"
#define T(i) "rule t" #i " from lan to self tcp dport 371" #i \
	" src " H_LAN " accept\n"

START_TEST(counters_follow_a_split_run)
{
	static const char *const sn[] = { "s0", "s1", "s2", "s3", "s4", "s5",
	    "s6", "s7" }, *const tn[] = { "t0", "t1", "t2", "t3", "t4", "t5",
	    "t6", "t7" };
	uint64_t c[8];
	int i, k;

	start();
	for (i = 0; i < 8; i++) {
		serve("router", "tcp", 3700 + i);
		serve("router", "tcp", 3710 + i);
	}
	apply_text(ZONES S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7));
	for (i = 0; i < 8; i++)
		ck_assert_msg(in_a_group(sn[i]), "%s: not in a group", sn[i]);
	/* counts of their own: i + 1 connections for s1, s5, s6, s7 */
	for (i = 1; i < 8; i++)
		for (k = 0; k <= i && (i == 1 || i >= 5); k++)
			must_tcp("lan", R_LAN, 3700 + i);
	for (i = 0; i < 8; i++)
		c[i] = rule_packets(sn[i]);
	ck_assert_uint_ge(c[5], 6);
	ck_assert_uint_ge(c[7], 8);

	/* a drop of s5's port before s4, from the lan only: lan-self's
	 * run ends at s3 (a group of four), s4..s7 a group of their own
	 * after the drop; the other zones keep the body, one run */
	add_rule_before("x", "x from lan to self tcp dport 3705 src " H_LAN
	    " drop", "s4");
	mustnt_tcp("lan", R_LAN, 3705);
	group_holds("__g/lan-self/s0", "s3");
	group_holds("__g/lan-self/s4", "s7");
	for (i = 0; i < 8; i++)
		ck_assert_uint_eq(rule_packets(sn[i]), c[i]);
	restart_takes_table();
	/* the drop goes: one run again */
	remove_rule("x");
	for (i = 0; i < 8; i++)
		ck_assert_uint_eq(rule_packets(sn[i]), c[i]);
	must_tcp("lan", R_LAN, 3705);
	ck_assert_uint_eq(rule_packets("s5"), c[5] + 1);
	restart_takes_table();

	/* lan rules: a drop before t6 leaves t6 and t7 too few for a
	 * group, rules of their own (their counts from the elements), and
	 * elements again when it goes (their counts from the rules) */
	apply_text(ZONES T(0) T(1) T(2) T(3) T(4) T(5) T(6) T(7));
	for (i = 0; i < 8; i++)
		ck_assert_msg(in_a_group(tn[i]), "%s: not in a group", tn[i]);
	for (i = 5; i < 8; i++)
		for (k = 0; k <= i; k++)
			must_tcp("lan", R_LAN, 3710 + i);
	for (i = 0; i < 8; i++)
		c[i] = rule_packets(tn[i]);
	ck_assert_uint_ge(c[6], 7);
	add_rule_before("y", "y from lan to self tcp dport 3716 src " H_LAN
	    " drop", "t6");
	group_holds("__g/lan-self/t0", "t5");
	ck_assert(!in_a_group("t6") && !in_a_group("t7"));
	for (i = 0; i < 8; i++)
		ck_assert_uint_eq(rule_packets(tn[i]), c[i]);
	mustnt_tcp("lan", R_LAN, 3716);
	must_tcp("lan", R_LAN, 3717);
	ck_assert_uint_eq(rule_packets("t6"), c[6]);
	ck_assert_uint_eq(rule_packets("t7"), ++c[7]);
	restart_takes_table();
	remove_rule("y");
	group_holds("__g/lan-self/t0", "t6");
	group_holds("__g/lan-self/t0", "t7");
	for (i = 0; i < 8; i++)
		ck_assert_uint_eq(rule_packets(tn[i]), c[i]);
	must_tcp("lan", R_LAN, 3716);
	ck_assert_uint_eq(rule_packets("t6"), c[6] + 1);
	restart_takes_table();
	finish();
}
END_TEST


/*
 * Copies that go with nothing in their place give their counts to
 * another copy of their rule: a zone's chain that has `any` rules of its
 * own while a rule of that zone is there, and shares their body again
 * once it goes; a zone that goes with its chains. A rule's count never
 * goes down while the rule stays.
 */
#define ZONES_NO_DMZ \
	"zone wan { interface wan0 }\n" \
	"zone lan { interface lan0 }\n"
#define U(i) "rule u" #i " from any to self tcp dport 374" #i " accept\n"
#define V(i) "rule v" #i " from any to self tcp dport 373" #i \
	" src " H_LAN " accept\n"

START_TEST(counters_when_copies_go)
{
	static const char *const vn[] = { "v0", "v1", "v2", "v3", "v4", "v5",
	    "v6", "v7" };
	char text[2048];
	uint64_t c5, c6;
	int i;

	start();
	for (i = 0; i < 8; i++) {
		serve("router", "tcp", 3730 + i);
		serve("router", "tcp", 3740 + i);
	}
	/* one body for every zone's chain: the lan's traffic counted there */
	apply_text(ZONES V(0) V(1) V(2) V(3) V(4) V(5) V(6) V(7));
	for (i = 0; i < 8; i++)
		ck_assert_msg(in_a_group(vn[i]), "%s: not in a group", vn[i]);
	must_tcp("lan", R_LAN, 3735);
	c5 = rule_packets("v5");
	ck_assert_uint_ge(c5, 1);

	/* a lan rule: lan-self has the `any` rules of its own, and counts
	 * the lan's traffic in them */
	add_rule_before("x", "x from lan to self tcp dport 3739 drop", NULL);
	ck_assert_uint_eq(rule_packets("v5"), c5);
	must_tcp("lan", R_LAN, 3735);
	must_tcp("lan", R_LAN, 3735);
	ck_assert_uint_eq(rule_packets("v5"), c5 + 2);
	/* it goes: lan-self shares the body again, whose copy of v5 is made
	 * again with the count of the copy gone */
	remove_rule("x");
	ck_assert_uint_eq(rule_packets("v5"), c5 + 2);
	must_tcp("lan", R_LAN, 3735);
	ck_assert_uint_eq(rule_packets("v5"), c5 + 3);
	restart_takes_table();

	/* a dmz rule, traffic from the dmz in dmz-self's own copies, then
	 * the zone goes with its rule: the counts stay with the rules */
	snprintf(text, sizeof(text), "%s%s", ZONES U(0) U(1) U(2) U(3) U(4)
	    U(5) U(6) U(7), "rule y from dmz to self tcp dport 3738 drop\n");
	apply_text(text);
	ck_assert(in_a_group("u6"));
	must_tcp("dmz", "10.50.2.1", 3746);
	must_tcp("lan", R_LAN, 3745);
	c5 = rule_packets("u5");
	c6 = rule_packets("u6");
	ck_assert_uint_ge(c6, 1);
	apply_text(ZONES_NO_DMZ U(0) U(1) U(2) U(3) U(4) U(5) U(6) U(7));
	ck_assert_uint_eq(rule_packets("u6"), c6);
	ck_assert_uint_eq(rule_packets("u5"), c5);
	must_tcp("lan", R_LAN, 3746);
	ck_assert_uint_eq(rule_packets("u6"), c6 + 1);
	restart_takes_table();
	finish();
}
END_TEST

#undef ZONES_NO_DMZ
#undef U
#undef V
#undef S
#undef T

/* Without zones, `any` is one side: a rule from any joins a group with
 * one element too (the shape of `fwctl add-rule` in the benchmark). */
START_TEST(groups_without_zones)
{
	const struct nft_stats *st;
	struct ruleset *next;
	struct rule *ru;
	struct diags d;
	char text[4096], *p = text;
	int i;

	start();
	serve("router", "tcp", 21001);
	serve("router", "tcp", 21100);
	for (i = 0; i < 10; i++)
		p += sprintf(p, "rule g%d from any to self tcp dport %d "
		    "src " H_LAN " accept\n", i, 21000 + i);
	apply_text(text);
	must_tcp("lan", R_LAN, 21001);
	mustnt_tcp("lan", R_LAN, 21100);

	next = ruleset_dup(cur);
	diags_init(&d);
	ru = parse_rule("gnew from any to self tcp dport 21100 src " H_LAN
	    " accept", &d);
	ck_assert_ptr_nonnull(ru);
	ck_assert_int_eq(ruleset_add_rule(next, ru), 0);
	apply_plan(next, PLAN_ADD, "gnew");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->msgs, 3);
	ck_assert_uint_eq(st->elems_added, 1);
	ck_assert_uint_eq(st->rules_added, 0);
	ck_assert_uint_eq(st->compiled_rules, 1);
	must_tcp("lan", R_LAN, 21100);
	ck_assert_uint_ge(rule_packets("gnew"), 1);
	ck_assert_uint_ge(rule_packets("g1"), 1);

	next = ruleset_dup(cur);
	rule_free(ruleset_remove_rule(next,
	    (size_t)ruleset_find_rule(next, "gnew")));
	apply_plan(next, PLAN_REMOVE, "gnew");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->msgs, 3);
	ck_assert_uint_eq(st->elems_deleted, 1);
	mustnt_tcp("lan", R_LAN, 21100);
	diags_free(&d);
}
END_TEST

/*
 * Rules of two shapes interleaved (TCP and UDP ports from the lan) are a
 * group each, which steps over the other's rules: no packet matches
 * both. A TCP rule of another verdict ends the TCP group there, and
 * traffic shows first match: a port it drops stays dropped though a TCP
 * rule after it accepts it. Single changes keep the layout a fresh
 * compile makes (no drift): a rule appended joins its group over the
 * other shape's rules (one element), a UDP rule leaves its group; a TCP
 * rule inserted in the middle of the TCP group ends it (the whole diff,
 * then first match again); a restart takes the table.
 */
START_TEST(groups_span_other_rules)
{
	const struct nft_stats *st;
	char text[4096], *p = text;
	int i;

	start();
	for (i = 0; i < 8; i++)
		serve("router", "tcp", 4600 + i);
	serve("router", "udp", 4705);
	p += sprintf(p, ZONES);
	for (i = 0; i < 8; i++) {
		p += sprintf(p, "rule a%d from lan to self tcp dport %d "
		    "accept\n", i, 4600 + i);
		p += sprintf(p, "rule u%d from lan to self udp dport %d "
		    "accept\n", i, 4700 + i);
		if (i == 3)
			p += sprintf(p, "rule m from lan to self tcp dport "
			    "4604-4605 drop\n");
	}
	apply_text(text);
	ck_assert(in_a_group("a1") && in_a_group("a3"));
	ck_assert(in_a_group("a4") && in_a_group("a7"));
	ck_assert(in_a_group("u0") && in_a_group("u7"));
	ck_assert(!in_a_group("m"));
	group_holds(GROUP_SET_PREFIX "lan-self/u0", "u5");
	group_holds(GROUP_SET_PREFIX "lan-self/a4", "a7");
	must_tcp("lan", R_LAN, 4601);
	mustnt_tcp("lan", R_LAN, 4604);		/* m, before a4 */
	must_tcp("lan", R_LAN, 4606);
	ck_assert_int_eq(lab_udp_probe(lab, "lan", R_LAN, 4705, OK_MS, NULL,
	    0), 0);
	ck_assert_uint_ge(rule_packets("a1"), 1);
	ck_assert_uint_ge(rule_packets("m"), 1);
	ck_assert_uint_ge(rule_packets("u5"), 1);
	assert_no_drift(cur);

	/* appended: one element of a4's group, over u7 */
	add_rule_before("a8", "a8 from lan to self tcp dport 4608 "
	    "accept", NULL);
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->rules_added, 0);
	ck_assert_uint_eq(st->elems_added, 1);
	group_holds(GROUP_SET_PREFIX "lan-self/a4", "a8");
	/* a UDP rule leaves its group: one element */
	remove_rule("u3");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->rules_deleted, 0);
	ck_assert_uint_eq(st->elems_deleted, 1);
	assert_no_drift(cur);

	/* a TCP rule inside a0..a3 that they meet ends their run there
	 * (a0, a1 and a2, a3: too short, rules of their own now), and it
	 * drops what it matches before a2 */
	add_rule_before("y", "y from lan to self tcp dport 4602 drop",
	    "a2");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->compiled_rules, cur->nrules);	/* the whole
								 * diff */
	ck_assert(!in_a_group("y") && !in_a_group("a1"));
	mustnt_tcp("lan", R_LAN, 4602);
	must_tcp("lan", R_LAN, 4603);
	must_tcp("lan", R_LAN, 4601);
	assert_no_drift(cur);
	/* a UDP rule in the middle joins the UDP group (one element); an
	 * ICMP rule there is a rule of its own that both groups step over */
	add_rule_before("v", "v from lan to self udp dport 4799 accept",
	    "a6");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->rules_added, 0);
	ck_assert_uint_eq(st->elems_added, 1);
	group_holds(GROUP_SET_PREFIX "lan-self/u0", "v");
	add_rule_before("i", "i from lan to self icmp type echo-request "
	    "accept", "a6");
	/* compiled alone (no whole diff); a6..a8 stay one group over it */
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert_uint_eq(st->compiled_rules, 1);
	ck_assert(in_a_group("a6") && in_a_group("a7") && in_a_group("a8"));
	assert_no_drift(cur);
	must_tcp("lan", R_LAN, 4607);

	restart_takes_table();
	finish();
}
END_TEST

/*
 * A run ends before a rule of its shape it cannot take (the same key as
 * a member); when that member goes, the run takes the rule, as a fresh
 * compile has it: the kernel holds what the ruleset compiles to (no
 * drift, which a restart would report as a change by hand), before and
 * after the run.
 */
START_TEST(groups_take_their_neighbour)
{
	char text[2048], *p = text;
	int i;

	start();
	serve("router", "tcp", 4402);
	p += sprintf(p, ZONES "rule p from lan to self tcp dport 4412 "
	    "accept\n");
	for (i = 0; i < 5; i++)
		p += sprintf(p, "rule g%d from lan to self tcp dport %d "
		    "accept\n", i, 4410 + i);
	p += sprintf(p, "rule c from lan to self tcp dport 4401 accept\n"
	    "rule h from lan to self tcp dport 4401 accept\n"
	    "rule d from lan to self tcp dport 4402 accept\n"
	    "rule u from lan to self udp dport 9 accept\n");
	apply_text(text);
	/* p's run ends at g2 (4412 twice): g0's takes g0..g4, c, then
	 * ends at h (4401 twice) */
	ck_assert(!in_a_group("p"));
	ck_assert(in_a_group("g0") && in_a_group("c"));
	ck_assert(!in_a_group("h"));

	/* c goes: the run takes h and d */
	remove_rule("c");
	ck_assert(in_a_group("h") && in_a_group("d"));
	assert_no_drift(cur);
	must_tcp("lan", R_LAN, 4402);
	ck_assert_uint_ge(rule_packets("d"), 1);

	/* g2 goes: p's run takes g0..g4 */
	remove_rule("g2");
	ck_assert(in_a_group("p"));
	assert_no_drift(cur);

	/* a restart finds no drift */
	restart_takes_table();
	finish();
}
END_TEST

/* ZONES; rules g0..g5 `from lan to self tcp dport gport + i accept` (a
 * hash group); with nport, rules n0..n4 to tcp port nport from the lan
 * host's network (n0) and four others (a group of intervals). */
static void
apply_gn(int gport, int nport)
{
	char text[2048], *p = text;
	int i;

	p += sprintf(p, ZONES);
	for (i = 0; i < 6; i++)
		p += sprintf(p, "rule g%d from lan to self tcp dport %d "
		    "accept\n", i, gport + i);
	if (nport != 0) {
		p += sprintf(p, "rule n0 from lan to self src 10.50.1.0/24 "
		    "tcp dport %d accept\n", nport);
		for (i = 1; i < 5; i++)
			p += sprintf(p, "rule n%d from lan to self src "
			    "10.50.%d.0/24 tcp dport %d accept\n", i, 100 + i,
			    nport);
	}
	apply_text(text);
}

/*
 * A rule added just before the first rule of a group goes before the
 * group's kernel rule: first match holds (its drop comes first) and the
 * kernel holds the rules in the ruleset's order (a restart takes the
 * table as it is). It once went after the group, and the group accepted
 * what the rule drops.
 */
START_TEST(rule_before_a_group)
{
	const struct nft_stats *st;

	start();
	serve("router", "tcp", 4930);
	serve("router", "tcp", 4911);
	apply_gn(4910, 4930);
	ck_assert(in_a_group("n0") && in_a_group("g0"));
	must_tcp("lan", R_LAN, 4930);

	add_rule_before("x", "x from lan to self tcp dport 4930 drop", "n0");
	st = applied_in_place(1);
	ck_assert_uint_eq(st->rules_added, 1);
	mustnt_tcp("lan", R_LAN, 4930);
	ck_assert_uint_ge(rule_packets("x"), 1);
	must_tcp("lan", R_LAN, 4911);		/* g1, before x */
	assert_no_drift(cur);
	restart_takes_table();
	mustnt_tcp("lan", R_LAN, 4930);
	finish();
}
END_TEST

/*
 * A rule added after a run whose key clashes with a member's (the same
 * port, a network inside a member's) ends the run there and stands alone
 * after it, as a fresh compile has it: one kernel rule, no whole diff (at
 * 50,000 mixed rules that was 0.4 s), and its delete is one kernel rule
 * too. The first match stays the member's; when the member goes, the run
 * takes the rule.
 */
START_TEST(groups_clash_stand_alone)
{
	const struct nft_stats *st;

	start();
	serve("router", "tcp", 4812);
	serve("router", "tcp", 4830);
	apply_gn(4810, 4830);
	ck_assert(in_a_group("g0") && in_a_group("g5"));
	ck_assert(in_a_group("n0") && in_a_group("n4"));

	/* 4812 twice: d right after the run, a kernel rule of its own */
	add_rule_before("d", "d from lan to self tcp dport 4812 accept",
	    "n0");
	st = applied_in_place(1);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert_uint_eq(st->elems_added, 0);
	ck_assert(!in_a_group("d") && in_a_group("g5"));
	assert_no_drift(cur);
	must_tcp("lan", R_LAN, 4812);
	ck_assert_uint_ge(rule_packets("g2"), 1);	/* first match */
	ck_assert_uint_eq(rule_packets("d"), 0);

	/* a network inside n0's: the same, in the interval group */
	add_rule_before("o", "o from lan to self src 10.50.1.0/28 tcp dport "
	    "4830 accept", NULL);
	st = applied_in_place(1);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert_uint_eq(st->elems_added, 0);
	ck_assert(!in_a_group("o") && in_a_group("n4"));
	assert_no_drift(cur);
	must_tcp("lan", R_LAN, 4830);
	ck_assert_uint_ge(rule_packets("n0"), 1);
	ck_assert_uint_eq(rule_packets("o"), 0);

	/* o goes: one kernel rule, the group stays */
	remove_rule("o");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->rules_deleted, 1);
	ck_assert_uint_eq(st->elems_deleted, 0);
	ck_assert(in_a_group("n0") && in_a_group("n4"));
	assert_no_drift(cur);

	/* g2 goes: nothing clashes, the run takes d (the whole diff, as a
	 * member of a run with a rule of its shape next to it) */
	remove_rule("g2");
	ck_assert(in_a_group("d") && in_a_group("g5"));
	assert_no_drift(cur);
	must_tcp("lan", R_LAN, 4812);
	ck_assert_uint_ge(rule_packets("d"), 1);

	restart_takes_table();
	finish();
}
END_TEST

/*
 * A rule of a group changed in place (PUT /v1/rules/NAME): it leaves its
 * place as a delete would and takes the new one as an add would, in one
 * transaction and without the whole diff: one element out, one in, when
 * it stays in its group; an element out and a kernel rule when it gets
 * another shape. Traffic follows; no drift; a restart takes the table.
 */
START_TEST(change_in_a_group)
{
	const struct nft_stats *st;

	start();
	serve("router", "tcp", 4953);
	serve("router", "tcp", 4999);
	serve("router", "udp", 4998);
	apply_gn(4950, 0);
	ck_assert(in_a_group("g3"));
	must_tcp("lan", R_LAN, 4953);

	change_rule("g3", "g3 from lan to self tcp dport 4999 accept");
	st = applied_in_place(1);
	ck_assert_uint_eq(st->elems_deleted, 1);
	ck_assert_uint_eq(st->elems_added, 1);
	ck_assert_uint_eq(st->rules_added, 0);
	group_holds(GROUP_SET_PREFIX "lan-self/g0", "g3");
	must_tcp("lan", R_LAN, 4999);
	mustnt_tcp("lan", R_LAN, 4953);
	ck_assert_uint_ge(rule_packets("g3"), 1);
	assert_no_drift(cur);

	/* another shape: out of the group, a kernel rule of its own */
	change_rule("g4", "g4 from lan to self udp dport 4998 accept");
	st = applied_in_place(1);
	ck_assert_uint_eq(st->elems_deleted, 1);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert(!in_a_group("g4") && in_a_group("g5"));
	ck_assert_int_eq(lab_udp_probe(lab, "lan", R_LAN, 4998, OK_MS, NULL,
	    0), 0);
	assert_no_drift(cur);
	restart_takes_table();
	finish();
}
END_TEST

/*
 * A rule added first in a run (`fwctl add-rule ... --position 1` before a
 * group of its shape) starts the run: the run's first set is made again
 * under its name with its element and the old set's, their counts
 * carried, and its kernel rule takes the old one's place, in one
 * transaction and without the whole diff (at 50,000 mixed rules that was
 * 0.7 s), for a hash set and a concatenation of intervals; deleted, the
 * sets take their old names back the same way. Traffic, no drift, a
 * restart takes the table.
 */
START_TEST(rule_first_in_a_run)
{
	const struct nft_stats *st;
	uint64_t g1, n0;

	start();
	serve("router", "tcp", 4971);
	serve("router", "tcp", 4979);
	serve("router", "tcp", 4985);
	apply_gn(4970, 4985);
	must_tcp("lan", R_LAN, 4971);
	must_tcp("lan", R_LAN, 4985);
	ck_assert_uint_ge(g1 = rule_packets("g1"), 1);
	ck_assert_uint_ge(n0 = rule_packets("n0"), 1);

	add_rule_before("f", "f from lan to self tcp dport 4979 accept",
	    "g0");
	st = applied_in_place(1);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert_uint_eq(st->elems_added, 7);
	group_holds(GROUP_SET_PREFIX "lan-self/f", "g5");
	ck_assert_uint_eq(rule_packets("g1"), g1);	/* carried */
	must_tcp("lan", R_LAN, 4979);
	ck_assert_uint_ge(rule_packets("f"), 1);
	assert_no_drift(cur);

	/* intervals: before n0, whose network holds the lan host */
	add_rule_before("o", "o from lan to self src 10.50.7.0/24 tcp dport "
	    "4985 accept", "n0");
	st = applied_in_place(1);
	ck_assert_uint_eq(st->elems_added, 6);
	group_holds(GROUP_SET_PREFIX "lan-self/o", "n4");
	ck_assert_uint_eq(rule_packets("n0"), n0);
	must_tcp("lan", R_LAN, 4985);
	ck_assert_uint_gt(rule_packets("n0"), n0);
	assert_no_drift(cur);
	restart_takes_table();
	must_tcp("lan", R_LAN, 4971);

	/* the first rules go again: the sets take their old names back,
	 * counts carried */
	g1 = rule_packets("g1");
	remove_rule("f");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert_uint_eq(st->elems_added, 6);
	group_holds(GROUP_SET_PREFIX "lan-self/g0", "g5");
	ck_assert_uint_eq(rule_packets("g1"), g1);
	mustnt_tcp("lan", R_LAN, 4979);
	assert_no_drift(cur);
	n0 = rule_packets("n0");
	remove_rule("o");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->elems_added, 5);
	group_holds(GROUP_SET_PREFIX "lan-self/n0", "n4");
	ck_assert_uint_eq(rule_packets("n0"), n0);
	must_tcp("lan", R_LAN, 4985);
	assert_no_drift(cur);
	restart_takes_table();
	finish();
}
END_TEST

/* Whether the kernel's table has a set of this name. */
static bool
kernel_has_set(const char *name)
{
	char *out = lab_output(lab, "router", "nft list sets table inet fwctl");
	bool has;

	ck_assert_ptr_nonnull(out);
	has = strstr(out, name) != NULL;
	free(out);
	return has;
}

/*
 * A rule with a limit per source has meter sets of its own (one per
 * family): added or deleted alone it takes the single-rule path, its
 * meters made before its kernel rules and deleted after them in the same
 * transaction, and the table stays what a fresh compile lays out. The
 * limit holds per source as with a whole apply.
 */
START_TEST(per_source_limit_single_changes)
{
	const struct nft_stats *st;
	char text[4096], *p = text;
	int i, k;

	start();
	serve("router", "tcp", 3911);
	p += sprintf(p, ZONES);
	for (i = 0; i < 6; i++)		/* a group before it */
		p += sprintf(p, "rule g%d from lan to self tcp dport %d src "
		    "10.9.0.%d accept\n", i, 4100 + i, i + 1);
	/* rules of every (from, to) the limits have: the pair chains share
	 * as they did (another sharing is the whole diff's) */
	p += sprintf(p, "rule w from wan to dmz tcp dport 80 accept\n"
	    "rule a from any to self tcp dport 4200 accept\n"
	    "rule s from wan to self tcp dport 4201 accept\n");
	apply_text(text);

	add_rule_before("lim", "lim from any to self tcp dport 3911 accept "
	    "limit 1/hour burst 3 per source", NULL);
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_lt(st->compiled_rules, cur->nrules / 2);
	ck_assert_uint_ge(st->rules_added, 1);
	ck_assert(kernel_has_set("__m/lim#4"));
	ck_assert(kernel_has_set("__m/lim#6"));
	for (k = 0; k < 3; k++)
		must_tcp("lan", R_LAN, 3911);
	mustnt_tcp("lan", R_LAN, 3911);
	for (k = 0; k < 3; k++)		/* another source, its own bucket */
		must_tcp("dmz", "10.50.2.1", 3911);
	mustnt_tcp("dmz", "10.50.2.1", 3911);
	restart_takes_table();

	remove_rule("lim");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_lt(st->compiled_rules, cur->nrules / 2);
	ck_assert(!kernel_has_set("__m/"));
	mustnt_tcp("lan", R_LAN, 3911);		/* lan -> self: the default */
	restart_takes_table();

	/* between rules of other chains, and then before the group */
	add_rule_before("lim2", "lim2 from lan to self tcp dport 3911 accept "
	    "limit 1/hour burst 2 per source", "w");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_lt(st->compiled_rules, cur->nrules / 2);
	ck_assert(kernel_has_set("__m/lim2#4"));
	for (k = 0; k < 2; k++)
		must_tcp("lan", R_LAN, 3911);
	mustnt_tcp("lan", R_LAN, 3911);
	restart_takes_table();
	add_rule_before("lim3", "lim3 from wan to self tcp dport 3912 accept "
	    "limit 5/minute per source", "g0");
	ck_assert(!nft_last_stats(nf)->full_rebuild);
	ck_assert(kernel_has_set("__m/lim3#4"));
	restart_takes_table();
	remove_rule("lim2");
	ck_assert(!kernel_has_set("__m/lim2#"));
	ck_assert(kernel_has_set("__m/lim3#4"));
	restart_takes_table();
	finish();
}
END_TEST

/* xorshift32: the differential test's steps, the same on every run */
static uint32_t
lab_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* One rule of ten shapes whose keys come from small ranges, so that
 * runs form, end at rules that meet them, and keys clash (the same port,
 * a /25 inside a /24); `to any` and `from any` rules land in several pair
 * chains. */
static void
diff_rule(uint32_t *x, char *buf, size_t len, const char *name)
{
	uint32_t k = lab_rand(x) % 8, v = lab_rand(x) % 8;

	switch (lab_rand(x) % 10) {
	case 0:
		snprintf(buf, len, "%s from lan to self tcp dport %u accept",
		    name, 5000 + v);
		break;
	case 1:
		snprintf(buf, len, "%s from lan to self src 10.50.%u.0/24 tcp "
		    "dport 5100 accept", name, k);
		break;
	case 2:
		snprintf(buf, len, "%s from lan to self src 10.50.%u.0/25 tcp "
		    "dport 5100 accept", name, k);
		break;
	case 3:
		snprintf(buf, len, "%s from lan to self udp dport %u accept",
		    name, 5200 + v);
		break;
	case 4:
		snprintf(buf, len, "%s from lan to self tcp dport %u drop",
		    name, 5000 + v);
		break;
	case 5:
		snprintf(buf, len, "%s from lan to self icmp type echo-request "
		    "src 10.50.%u.1 accept", name, k);
		break;
	case 6:
		snprintf(buf, len, "%s from lan to self tcp dport %u-%u accept",
		    name, 5300 + 4 * v, 5302 + 4 * v);
		break;
	case 7:
		snprintf(buf, len, "%s from lan to any src 10.50.%u.0/24 drop",
		    name, 20 + k);
		break;
	case 8:
		/* every pair chain to the host: several groups a rule */
		snprintf(buf, len, "%s from any to self tcp dport %u accept "
		    "log", name, 5400 + v);
		break;
	default:
		/* in no group, with meter sets of its own */
		snprintf(buf, len, "%s from lan to self tcp dport %u accept "
		    "limit 1/hour burst 3 per source", name, 5500 + v);
		break;
	}
}

/*
 * The single-change paths against the whole compile: a fixed sequence of
 * random adds (anywhere in the ruleset), deletes and changes in place over
 * rules of ten shapes. After each change the kernel must hold what a
 * fresh compile of the ruleset lays out, in order: a daemon starting over the table takes
 * it as it is (its check compares every chain rule by rule, in order, and
 * the groups' elements). Enough adds and deletes must take a single-change
 * path, so that the test compares those and not the whole diff with
 * itself.
 */
START_TEST(fast_paths_match_compile)
{
	enum { START = 40, STEPS = 90 };
	const struct nft_stats *st;
	char text[16384], *p = text, name[16], line[160];
	const char *seed = getenv("FWCTL_LAB_SEED");
	uint32_t x = 0x9e3779b9u, op;
	size_t fast = 0, nch = 0, nr;
	ssize_t k;
	int i, serial = 0;

	/* another sequence to explore with: FWCTL_LAB_SEED=N */
	if (seed != NULL && strtoul(seed, NULL, 10) != 0)
		x = (uint32_t)strtoul(seed, NULL, 10);
	start();
	p += sprintf(p, ZONES);
	for (i = 0; i < START; i++) {
		snprintf(name, sizeof(name), "r%d", serial++);
		diff_rule(&x, line, sizeof(line), name);
		p += sprintf(p, "rule %s\n", line);
	}
	apply_text(text);
	restart_takes_table();
	for (i = 0; i < STEPS; i++) {
		nr = cur->nrules;
		op = lab_rand(&x) % 10;
		if (nr > 8 && op < 3) {
			k = (ssize_t)(lab_rand(&x) % nr);
			snprintf(name, sizeof(name), "%s", cur->rules[k]->name);
			remove_rule(name);
		} else if (nr > 8 && op < 5) {
			/* in place, under its name: another shape or key */
			k = (ssize_t)(lab_rand(&x) % nr);
			snprintf(name, sizeof(name), "%s", cur->rules[k]->name);
			diff_rule(&x, line, sizeof(line), name);
			change_rule(name, line);
		} else {
			snprintf(name, sizeof(name), "r%d", serial++);
			diff_rule(&x, line, sizeof(line), name);
			k = (ssize_t)(lab_rand(&x) % (nr + 1));
			add_rule_before(name, line, (size_t)k < nr ?
			    cur->rules[k]->name : NULL);
		}
		st = nft_last_stats(nf);
		if (nr > 8 && op >= 3 && op < 5)
			nch++;
		else if (!st->full_rebuild && st->compiled_rules <
		    cur->nrules / 2)
			fast++;
		/* the kernel as a fresh compile has it, in order */
		restart_takes_table();
	}
	/* keys from small ranges clash often, and a clash before a run's
	 * end is the whole diff: a quarter at least took a single path */
	ck_assert_msg(fast >= (STEPS - nch) / 4, "%zu of %zu adds and "
	    "deletes took a single-change path", fast, STEPS - nch);
	finish();
}
END_TEST

/*
 * Rules with the same limit are a group whose elements each hold a limit
 * of their own (the set's template, before the element's counter); ICMP
 * types are a field of the key. A source that spent its element's burst
 * is limited while another element lets its source through; a rule
 * joining is one element; no drift, a restart takes the table; rules
 * whose limits change all make the set again.
 */
START_TEST(groups_with_limits_and_icmp)
{
	static const char *psrc[] = { "10.50.1.21", "10.50.1.22", H_LAN,
	    "10.50.1.24" };
	static const char *tsrc[] = { "10.50.1.31", H_LAN, "10.50.2.32",
	    "10.50.2.10" };
	const struct nft_stats *st;
	struct nft_drift dr;
	char text[4096], *p = text, *out, *at, *end;
	int i;

	start();
	serve("router", "tcp", 4301);
	p += sprintf(p, ZONES);
	for (i = 0; i < 4; i++)
		p += sprintf(p, "rule p%d from any to self icmp type "
		    "echo-request src %s accept limit 1/minute burst 2\n", i,
		    psrc[i]);
	for (i = 0; i < 4; i++)
		p += sprintf(p, "rule t%d from any to self tcp dport 4301 src "
		    "%s accept limit 1/hour burst 2\n", i, tsrc[i]);
	apply_text(text);
	ck_assert(in_a_group("p0") && in_a_group("p3"));
	ck_assert(in_a_group("t0") && in_a_group("t3"));

	/* the lan host's element: its burst, then nothing */
	pings_limited("limit 1/minute burst 2 in a group");
	ck_assert_uint_ge(rule_packets("p2"), 1);
	ck_assert_uint_eq(rule_packets("p0"), 0);
	/* no element for the dmz host's address: the policy drops */
	ck_assert_int_eq(lab_ping(lab, "dmz", "10.50.2.1", NO_MS), -1);

	/* TCP: each new connection is one packet through the limit */
	must_tcp("lan", R_LAN, 4301);
	must_tcp("lan", R_LAN, 4301);
	mustnt_tcp("lan", R_LAN, 4301);
	/* the dmz host's element has a burst of its own */
	must_tcp("dmz", "10.50.2.1", 4301);
	must_tcp("dmz", "10.50.2.1", 4301);
	mustnt_tcp("dmz", "10.50.2.1", 4301);
	ck_assert_uint_ge(rule_packets("t1"), 2);
	ck_assert_uint_le(rule_packets("t1"), 3);
	ck_assert_uint_ge(rule_packets("t3"), 2);

	/* as nft shows the set: its template, each element's limit */
	out = lab_output(lab, "router", "nft list table inet fwctl");
	ck_assert_ptr_nonnull(out);
	at = strstr(out, "set __g/any-self+/t0 {");
	if (at == NULL)
		at = strstr(out, "set \"__g/any-self+/t0\" {");
	ck_assert_msg(at != NULL, "no set of t0: %s", out);
	if ((end = strstr(at, "\n\t}")) != NULL)
		*end = '\0';
	ck_assert_msg(strstr(at, "limit rate 1/hour burst 2 packets counter") !=
	    NULL && strstr(at, "comment \"t3\"") != NULL, "%s", at);
	free(out);
	assert_no_drift(cur);

	/* one more at the end of the run: one element, its limit full */
	add_rule_before("t4", "t4 from any to self tcp dport 4301 src "
	    "10.50.9.9 accept limit 1/hour burst 2", NULL);
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->elems_added, 1);
	ck_assert_uint_eq(st->rules_added, 0);
	ck_assert(in_a_group("t4"));
	mustnt_tcp("lan", R_LAN, 4301);		/* t1's state stays */
	assert_no_drift(cur);

	/* a restart finds no drift and takes the table as it is */
	restart_takes_table();

	/* every limit changed: the set is made again, with the new one */
	p = text + sprintf(text, ZONES);
	for (i = 0; i < 4; i++)
		p += sprintf(p, "rule t%d from any to self tcp dport 4301 src "
		    "%s accept limit 30/minute burst 4\n", i, tsrc[i]);
	apply_text(text);
	out = lab_output(lab, "router", "nft list table inet fwctl");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "limit rate 30/minute burst 4 packets "
	    "counter") != NULL && strstr(out, "1/hour") == NULL, "%s", out);
	free(out);
	must_tcp("lan", R_LAN, 4301);
	assert_no_drift(cur);

	/* made again by hand with another limit while fwctld is stopped:
	 * a start names the set and both limits, and repairs it */
	stop_owner();
	/* (nft's JSON: its command line takes no '+' or '/' in a name) */
	ck_assert_int_eq(lab_exec(lab, "router", "echo '{\"nftables\": ["
	    "{\"flush\": {\"chain\": {\"family\": \"inet\", \"table\": "
	    "\"fwctl\", \"name\": \"any-self+\"}}}, {\"delete\": {\"set\": "
	    "{\"family\": \"inet\", \"table\": \"fwctl\", \"name\": "
	    "\"__g/any-self+/t0\"}}}, {\"add\": {\"set\": {\"family\": "
	    "\"inet\", \"table\": \"fwctl\", \"name\": \"__g/any-self+/t0\", "
	    "\"type\": [\"ipv4_addr\", \"inet_service\"], \"stmt\": "
	    "[{\"limit\": {\"rate\": 99, \"per\": \"second\"}}, "
	    "{\"counter\": null}]}}}]}' | nft -j -f -"), 0);
	start_owner();
	drift(cur, &dr);
	ck_assert(drift_has(&dr, "set __g/any-self+/t0: each element gets "
	    "\"limit rate 99/1s burst 5 packets\" and a counter in the "
	    "kernel, \"limit rate 30/60s burst 4 packets\" and a counter in "
	    "the ruleset", NULL));
	nft_drift_free(&dr);
	apply_fresh(cur);
	assert_no_drift(cur);
	must_tcp("lan", R_LAN, 4301);
	finish();
}
END_TEST

/*
 * Runs of rules with networks or port ranges are groups too: a set of
 * intervals (nfproto, or l4proto, then the fields) with one box, counter
 * and name per rule. Traffic follows first match through them; single
 * adds and deletes are one element; a box that overlaps another is no
 * element (the run ends before it: a rule of its own); a rule `from lan
 * to any` joins the group of the body that lan-wan and lan-any share and
 * is a kernel rule where lan-dmz has a rule of its own after its group;
 * no drift; a restart takes the table as it is.
 */
START_TEST(groups_of_networks_and_ranges)
{
	enum { N = 1000 };
	const struct nft_stats *st;
	char *text, *p, *out;
	int i;

	start();
	serve("router", "tcp", 40001);
	serve("router", "tcp", 40015);
	serve("router", "tcp", 40055);
	serve("router", "tcp", 40003);
	serve("router", "tcp", 36000);
	serve("router", "tcp", 39999);
	serve("router", "tcp", 51005);
	serve("dmz", "tcp", 38080);
	serve("router", "tcp", 53001);
	serve("router", "tcp", 52005);
	text = malloc((size_t)N * 100 + 4096);
	ck_assert_ptr_nonnull(text);
	p = text + sprintf(text, ZONES "policy lan -> dmz accept\n"
	    "rule keep from lan to dmz tcp dport 9 accept\n");
	/* d0 holds the lan host's network: first match drops 36000 */
	p += sprintf(p, "rule d0 from lan to self src 10.50.1.0/24 tcp dport "
	    "36000 drop\n");
	for (i = 1; i < 5; i++)
		p += sprintf(p, "rule d%d from lan to self src 10.50.%d.0/24 "
		    "tcp dport 36000 drop\n", i, 100 + i);
	for (i = 0; i < N; i++)
		p += sprintf(p, "rule g%d from lan to self tcp dport %d-%d "
		    "accept\n", i, 40000 + 10 * i, 40009 + 10 * i);
	p += sprintf(p, "rule tail from lan to self tcp dport 40002 drop "
	    "limit 10/second\n");
	for (i = 0; i < 5; i++)
		p += sprintf(p, "rule b%d from lan to any src 10.60.%d.0/24 "
		    "drop\n", i, i);
	p += sprintf(p, "rule keep2 from lan to dmz tcp dport 10 accept\n");
	/* IPv6 networks: nfproto leads, then the 16-byte address */
	for (i = 0; i < 5; i++)
		p += sprintf(p, "rule s%d from lan to self src fd50:%x::/64 "
		    "tcp dport 53001 accept\n", i, i + 1);
	apply_text(text);
	free(text);
	st = nft_last_stats(nf);
	ck_assert_uint_lt(st->rules_added, 100);
	ck_assert_uint_ge(st->elems_added, N + 5);

	must_tcp("lan", R_LAN, 40001);
	must_tcp("lan", R_LAN, 40015);
	must_tcp("lan", R_LAN, 40055);
	mustnt_tcp("lan", R_LAN, 36000);	/* d0 first */
	mustnt_tcp("lan", R_LAN, 39999);	/* no rule: the policy */
	mustnt_tcp("lan", R_LAN, 51005);
	ck_assert_uint_ge(rule_packets("g0"), 1);
	ck_assert_uint_ge(rule_packets("g1"), 1);
	ck_assert_uint_ge(rule_packets("d0"), 1);
	ck_assert_uint_eq(rule_packets("g2"), 0);
	must_tcp("lan", R_LAN6, 53001);		/* s0: fd50:1::/64 */
	mustnt_tcp("lan", R_LAN, 53001);	/* an IPv4 packet */
	ck_assert_uint_ge(rule_packets("s0"), 1);
	ck_assert_uint_eq(rule_packets("s1"), 0);
	ck_assert(in_a_group("s4"));

	out = lab_output(lab, "router", "nft list set inet fwctl "
	    "__g/lan-self/g0");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "flags interval") != NULL &&
	    strstr(out, "40010-40019") != NULL &&
	    strstr(out, "comment \"g1\"") != NULL &&
	    strstr(out, "counter packets 1 ") != NULL,
	    "the set as nft shows it: %s", out);
	free(out);
	group_holds("__g/lan-self/d0", "d4");

	/* one more range at the end of the run: one element */
	add_rule_before("gnew", "gnew from lan to self tcp dport 51000-51009 "
	    "accept", "tail");
	st = applied_in_place(1);
	ck_assert_uint_eq(st->elems_added, 1);
	ck_assert_uint_eq(st->rules_added, 0);
	must_tcp("lan", R_LAN, 51005);
	ck_assert_uint_ge(rule_packets("gnew"), 1);
	ck_assert_uint_ge(rule_packets("g1"), 1);	/* kept */

	/* one leaving it */
	remove_rule("g5");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->elems_deleted, 1);
	ck_assert_uint_eq(st->rules_deleted, 0);
	ck_assert_uint_eq(st->rules_added, 0);
	mustnt_tcp("lan", R_LAN, 40055);

	/* a range inside g0's: no element (it could never match there, and
	 * the kernel refuses it): the run ends before it, and it is a rule
	 * of its own after the group, which keeps its elements */
	add_rule_before("gin", "gin from lan to self tcp dport 40003-40004 "
	    "accept", "tail");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert_uint_eq(st->elems_added, 0);
	ck_assert_uint_eq(st->elems_deleted, 0);
	must_tcp("lan", R_LAN, 40003);
	ck_assert_uint_ge(rule_packets("g0"), 2);	/* g0 first */
	ck_assert_uint_eq(rule_packets("gin"), 0);
	ck_assert(in_a_group("g999"));
	ck_assert(in_a_group("gnew"));
	ck_assert(!in_a_group("gin"));
	assert_no_drift(cur);

	/* `from lan to any`: in lan-dmz, where keep2 (a rule of its own)
	 * follows the b group, the new rule is a kernel rule; in the body
	 * that lan-wan, lan-lan and lan-any share it is one element of the
	 * b group; traffic from its network to the dmz is dropped */
	add_rule_before("bnew", "bnew from lan to any src 10.50.1.0/24 drop",
	    NULL);
	st = applied_in_place(1);
	ck_assert_uint_eq(st->elems_added, 1);
	ck_assert_uint_eq(st->rules_added, 1);
	mustnt_tcp("lan", H_DMZ, 38080);
	group_holds("__g/lan-any+/b0", "bnew");
	assert_no_drift(cur);
	remove_rule("bnew");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->elems_deleted, 1);
	ck_assert_uint_eq(st->rules_deleted, 1);
	must_tcp("lan", H_DMZ, 38080);
	assert_no_drift(cur);

	/* x284's name starts a set of its own (GROUP_SPAN_CHUNK): at the
	 * end of the run, a set of one element and its kernel rule after
	 * the run's last, in one transaction, no whole diff; deleted, both
	 * go (gin, a rule of the run's shape next to it, goes first) */
	remove_rule("gin");
	add_rule_before("x284", "x284 from lan to self tcp dport 52000-52009 "
	    "accept", "tail");
	st = applied_in_place(1);
	ck_assert_uint_eq(st->rules_added, 1);
	ck_assert_uint_eq(st->elems_added, 1);
	ck_assert_uint_eq(st->rules_deleted, 0);
	group_holds("__g/lan-self/x284", "x284");
	must_tcp("lan", R_LAN, 52005);
	ck_assert_uint_ge(rule_packets("x284"), 1);
	assert_no_drift(cur);
	/* a rule joining that small set and leaving it: one element each
	 * way (the run, not the set, must stay a group) */
	add_rule_before("x1", "x1 from lan to self tcp dport 52010-52019 "
	    "accept", "tail");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->compiled_rules, 1);
	ck_assert_uint_eq(st->elems_added, 1);
	ck_assert_uint_eq(st->rules_added, 0);
	group_holds("__g/lan-self/x284", "x1");
	remove_rule("x1");
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->compiled_rules, 1);
	ck_assert_uint_eq(st->elems_deleted, 1);
	ck_assert_uint_eq(st->rules_deleted, 0);
	assert_no_drift(cur);
	remove_rule("x284");
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->rules_deleted, 1);
	ck_assert_uint_eq(st->rules_added, 0);
	mustnt_tcp("lan", R_LAN, 52005);
	out = lab_output(lab, "router", "nft list sets table inet fwctl");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, "x284") == NULL, "%s", out);
	free(out);
	assert_no_drift(cur);

	/* a restart (the drift check, then the first apply, as fwctld
	 * starts) finds no drift and takes the table as it is */
	restart_takes_table();
	st = nft_last_stats(nf);
	ck_assert_uint_eq(st->elems_added, 0);
	must_tcp("lan", R_LAN, 40015);
	finish();
}
END_TEST

static Suite *
groups_suite(void)
{
	Suite *s = suite_create("groups");
	TCase *tc = tcase_create("groups");

	tcase_add_unchecked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, groups_of_rules);
	tcase_add_test(tc, groups_without_zones);
	tcase_add_test(tc, groups_of_networks_and_ranges);
	tcase_add_test(tc, groups_span_other_rules);
	tcase_add_test(tc, groups_with_limits_and_icmp);
	tcase_add_test(tc, groups_take_their_neighbour);
	tcase_add_test(tc, groups_clash_stand_alone);
	tcase_add_test(tc, rule_before_a_group);
	tcase_add_test(tc, change_in_a_group);
	tcase_add_test(tc, rule_first_in_a_run);
	tcase_add_test(tc, counters_follow_rules);
	tcase_add_test(tc, counters_follow_a_split_run);
	tcase_add_test(tc, counters_when_copies_go);
	tcase_add_test(tc, per_source_limit_single_changes);
	suite_add_tcase(s, tc);
	/* its own case, to run alone with other seeds: CK_RUN_CASE=differential
	 * FWCTL_LAB_SEED=N */
	tc = tcase_create("differential");
	tcase_add_unchecked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, fast_paths_match_compile);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* a skipped test must not read as a pass: with grouping turned off
	 * in compile.c, say so and run nothing */
	if (!compile_grouping()) {
		printf("grouping is off (compile.c): groups not tested\n");
		return 0;
	}
	return kernel_lab_run("lab_groups", groups_suite);
}
