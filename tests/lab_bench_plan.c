/*
 * The benchmark's correctness target, asserted against a real kernel in
 * the lab (needs root): replacing a ruleset of 50,000 rules with one that
 * differs in 10 rules sends only those 10 changes, and every other rule
 * keeps its kernel handle and its counters.  tests/lab_kernel.c covers a
 * single rule added to 10,000; this is the whole-ruleset replace of
 * `PUT /v1/ruleset` at the benchmark's size.
 *
 * Traffic from the lab's lan host gives a spread of rules (first, last,
 * middle, next to the changed ones) distinct non-zero counters first, so
 * that "untouched" is not trivially true of zeros.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lab.h"
#include "nft.h"
#include "parse.h"
#include "plan.h"
#include "ruleset.h"

#define N		50000
#define PORT0		10000		/* rule ri matches tcp dport PORT0 + i */
#define R_LAN		"10.50.1.1"

static struct lab *lab;

/* Rules that change: removed, changed (new port), and rules added. */
static const int removed[] = { 0, 24999, 49999 };
static const int changed[] = { 1, 100, 30000, 49998 };
static const char *const added[] = { "n-first", "n-mid", "n-last" };

/* Rules hit by traffic, each (k % 3) + 1 times. */
static const int hit[] = { 2, 3, 99, 101, 12345, 25000, 29999, 30001,
    40000, 49997 };

static void
lab_setup(void)
{
	if ((lab = lab_up()) == NULL) {
		fprintf(stderr, "lab_bench_plan: lab_up failed\n");
		exit(1);
	}
}

static void
lab_teardown(void)
{
	lab_down(lab);
	lab = NULL;
	lab_sweep();
}

static bool
in(const int *v, size_t n, int i)
{
	size_t	k;

	for (k = 0; k < n; k++)
		if (v[k] == i)
			return true;
	return false;
}

#define IN(a, i)	in(a, sizeof(a) / sizeof(*(a)), i)

/* The 50,000-rule ruleset; next: with the 10 differences. */
static struct ruleset *
make(bool next)
{
	struct ruleset	*rs = ruleset_new();
	struct diags	 d;
	char		*text, *p;
	int		 i;

	ck_assert_ptr_nonnull(rs);
	text = malloc((size_t)N * 128 + 4096);
	ck_assert_ptr_nonnull(text);
	p = text + sprintf(text, "zone lan { interface lan0 }\n");
	if (next)
		p += sprintf(p, "rule %s from lan to self tcp dport 9001 "
		    "accept\n", added[0]);
	for (i = 0; i < N; i++) {
		if (next && IN(removed, i))
			continue;
		if (next && i == N / 2)
			p += sprintf(p, "rule %s from lan to self tcp dport "
			    "9002 accept\n", added[1]);
		/* the list of source ports keeps each rule a kernel rule
		 * of its own (rules alike but for one port or range would
		 * be merged into a group, see docs/design-compile.md):
		 * this test is about the rule-by-rule path */
		p += sprintf(p, "rule r%d from lan to self tcp sport "
		    "{ 1-32767, 32768-65535 } dport %d accept\n", i, next && IN(changed, i) ? 60000 + i % 5000 :
		    PORT0 + i);
	}
	if (next)
		p += sprintf(p, "rule %s from lan to self tcp dport 9003 "
		    "accept\n", added[2]);
	diags_init(&d);
	if (parse_buffer(rs, "bench.rules", text, (size_t)(p - text), &d) !=
	    0) {
		diags_print(&d, stderr);
		ck_abort_msg("generated ruleset does not parse");
	}
	diags_free(&d);
	free(text);
	return rs;
}

/* Kernel handle of every rule ri, from `nft -a list table` (the
 * independent reader; the rules sit in lan-self's sub-chains); 0 where
 * absent. */
static uint64_t *
handles(void)
{
	uint64_t	*h = calloc(N, sizeof(*h));
	char		*out, *line, *save = NULL, *c, *k;
	int		 i, seen = 0;

	ck_assert_ptr_nonnull(h);
	out = lab_output(lab, "router", "nft -a list table inet fwctl");
	ck_assert_ptr_nonnull(out);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((c = strstr(line, "comment \"r")) == NULL ||
		    (k = strstr(line, "# handle ")) == NULL)
			continue;
		i = atoi(c + 10);
		ck_assert_int_ge(i, 0);
		ck_assert_int_lt(i, N);
		h[i] = strtoull(k + 9, NULL, 10);
		seen++;
	}
	free(out);
	ck_assert_int_ge(seen, N - 3);
	return h;
}

/* Packets and bytes of every rule ri, through nft_counters. */
static void
counters(struct nft *nf, uint64_t *pk, uint64_t *by)
{
	struct nft_counters	c;
	struct diags		d;
	size_t			k;
	char			*end;
	long			i;

	diags_init(&d);
	ck_assert_int_eq(nft_counters(nf, &c, &d), 0);
	diags_free(&d);
	memset(pk, 0, N * sizeof(*pk));
	memset(by, 0, N * sizeof(*by));
	for (k = 0; k < c.n; k++) {
		if (c.v[k].name[0] != 'r')
			continue;
		i = strtol(c.v[k].name + 1, &end, 10);
		if (*end != '\0' || i < 0 || i >= N)
			continue;
		pk[i] = c.v[k].packets;
		by[i] = c.v[k].bytes;
	}
	nft_counters_free(&c);
}

START_TEST(replace_50k_sends_10)
{
	struct ruleset		*cur, *next;
	struct nft		*nf;
	struct diags		 d;
	struct plan		 plan;
	const struct nft_stats	*st;
	uint64_t		*h1, *h2, *pk1, *by1, *pk2, *by2;
	size_t			 k, nadd = 0, nrm = 0, nch = 0, sent;
	int			 i, j;

	ck_assert_int_eq(lab_enter(lab, "router"), 0);
	diags_init(&d);
	nf = nft_open(NULL, &d);
	ck_assert_msg(nf != NULL, "nft_open failed");

	cur = make(false);
	if (nft_apply(nf, NULL, cur, NULL, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("loading 50000 rules failed");
	}

	/* distinct non-zero counters on a spread of rules */
	for (k = 0; k < sizeof(hit) / sizeof(*hit); k++)
		for (j = 0; j <= (int)(k % 3); j++)
			/* refused (no listener) once the rule accepted it */
			lab_tcp_connect(lab, "lan", R_LAN, PORT0 + hit[k], 700,
			    NULL, 0);
	pk1 = calloc(N, sizeof(*pk1));
	by1 = calloc(N, sizeof(*by1));
	pk2 = calloc(N, sizeof(*pk2));
	by2 = calloc(N, sizeof(*by2));
	ck_assert(pk1 && by1 && pk2 && by2);
	counters(nf, pk1, by1);
	for (k = 0; k < sizeof(hit) / sizeof(*hit); k++)
		ck_assert_msg(pk1[hit[k]] >= k % 3 + 1,
		    "rule r%d saw %llu packets, expected %zu", hit[k],
		    (unsigned long long)pk1[hit[k]], k % 3 + 1);
	h1 = handles();

	/* the plan: exactly the 10 rules, nothing else */
	next = make(true);
	plan_init(&plan);
	ck_assert_int_eq(plan_diff(cur, next, &plan), 0);
	for (k = 0; k < plan.n; k++) {
		const struct plan_item *it = &plan.v[k];

		ck_assert_msg(it->kind == PLAN_RULE, "plan item %zu: %s %s %s",
		    k, plan_op_name(it->op), plan_kind_name(it->kind),
		    it->name);
		if (it->op == PLAN_ADD)
			nadd++;
		else if (it->op == PLAN_REMOVE)
			nrm++;
		else
			nch++;
	}
	ck_assert_uint_eq(plan.n, 10);
	ck_assert_uint_eq(nadd, 3);
	ck_assert_uint_eq(nrm, 3);
	ck_assert_uint_eq(nch, 4);

	if (nft_apply(nf, cur, next, &plan, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("replacing the ruleset failed");
	}
	plan_free(&plan);

	/* what went to the kernel: those rules, one message each way */
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	/* only the rules that changed were compiled: 3 added, 4 changed */
	ck_assert_uint_eq(st->compiled_rules, 3 + 4);
	ck_assert_uint_eq(st->elems_added, 0);
	ck_assert_uint_eq(st->elems_deleted, 0);
	/* a changed rule is replaced in place, or deleted and re-added */
	ck_assert_uint_eq(st->rules_added + st->rules_replaced, 3 + 4);
	ck_assert_uint_eq(st->rules_deleted + st->rules_replaced, 3 + 4);
	sent = st->rules_added + st->rules_deleted + st->rules_replaced;
	ck_assert_uint_le(sent, 14);
	ck_assert_uint_eq(st->msgs, sent + 2);	/* + batch begin and end */
	ck_assert_uint_lt(st->bytes, sent * 512 + 256);

	/* every other rule: same handle, same counters */
	h2 = handles();
	counters(nf, pk2, by2);
	for (i = 0; i < N; i++) {
		if (IN(removed, i)) {
			ck_assert_msg(h2[i] == 0, "r%d is still there", i);
			continue;
		}
		if (IN(changed, i)) {
			ck_assert_msg(h2[i] != 0, "r%d is gone", i);
			continue;
		}
		ck_assert_msg(h1[i] != 0 && h2[i] == h1[i],
		    "r%d: handle %llu became %llu", i,
		    (unsigned long long)h1[i], (unsigned long long)h2[i]);
		ck_assert_msg(pk2[i] == pk1[i] && by2[i] == by1[i],
		    "r%d: counters %llu/%llu became %llu/%llu", i,
		    (unsigned long long)pk1[i], (unsigned long long)by1[i],
		    (unsigned long long)pk2[i], (unsigned long long)by2[i]);
	}
	/* and the new rules are where the file put them */
	for (k = 0; k < 3; k++) {
		char *out = lab_output(lab, "router", "nft list table inet "
		    "fwctl | grep -c 'comment \"%s\"'", added[k]);

		ck_assert_ptr_nonnull(out);
		ck_assert_msg(atoi(out) == 1, "%s listed %s times", added[k],
		    out);
		free(out);
	}

	free(h1);
	free(h2);
	free(pk1);
	free(by1);
	free(pk2);
	free(by2);
	diags_free(&d);
	ruleset_free(cur);
	ruleset_free(next);
	nft_close(nf);
}
END_TEST

/*
 * Mixed rulesets (the benchmark's eight shapes, interleaved): one rule of
 * any shape added or deleted, the way `fwctl add-rule` sends it, compiles
 * that rule alone, whatever the ruleset's size: no whole diff in user
 * space, no rebuild. Traffic shows the rule working and gone, and the
 * kernel's table matches the ruleset at the end (the drift check reads
 * it back).
 */
#define MIXED_N		20000
#define MIX_EXTRA	16000		/* j of the rules added one at a time */

static int
mix_rule(char *b, size_t n, int k, unsigned j)
{
	unsigned	h1 = (j >> 8) & 255, h2 = j & 255;

	switch (k) {
	case 0:
		return snprintf(b, n, "from wan to dmz tcp dport { 80, 443 } "
		    "dst 172.16.%u.%u accept", h1, h2);
	case 1:
		return snprintf(b, n, "from wan to any src 10.%u.%u.0/24 drop",
		    64 + (j >> 8), h2);
	case 2:
		return snprintf(b, n, "from lan to wan dst 100.%u.%u.0/24 tcp "
		    "dport %u accept", 64 + (j >> 8), h2, 1024 + j % 60000);
	case 3:
		return snprintf(b, n, "from any to self tcp dport %u-%u src "
		    "172.19.%u.%u accept limit 10/second",
		    2000 + (j % 6000) * 10, 2009 + (j % 6000) * 10, h1, h2);
	case 4:
		return snprintf(b, n, "from any to self tcp dport %u src "
		    "172.20.%u.%u accept log", 1024 + j % 60000, h1, h2);
	case 5:
		return snprintf(b, n, "from lan to dmz src fd00:%x::/64 tcp "
		    "dport 22 accept", j + 1);
	case 6:
		return snprintf(b, n, "from wan to self icmp type echo-request "
		    "src 172.22.%u.%u accept limit 5/second", h1, h2);
	default:
		return snprintf(b, n, "from dmz to wan udp dport %u dst "
		    "172.23.%u.%u reject", 1024 + j % 60000, h1, h2);
	}
}

/* The mixed ruleset, with extra rule x (NULL: none) at its end. */
static struct ruleset *
make_mixed(const char *x)
{
	struct ruleset	*rs = ruleset_new();
	struct diags	 d;
	char		*text, *p;
	int		 i;

	ck_assert_ptr_nonnull(rs);
	text = malloc((size_t)MIXED_N * 110 + 4096);
	ck_assert_ptr_nonnull(text);
	p = text + sprintf(text, "zone wan { interface wan0; external }\n"
	    "zone lan { interface lan0 }\nzone dmz { interface dmz0 }\n"
	    "policy lan -> wan accept\n");
	for (i = 0; i < MIXED_N; i++) {
		p += sprintf(p, "rule m%d ", i);
		p += mix_rule(p, 200, i % 8, (unsigned)i / 8);
		*p++ = '\n';
	}
	if (x != NULL)
		p += sprintf(p, "%s\n", x);
	diags_init(&d);
	if (parse_buffer(rs, "mixed.rules", text, (size_t)(p - text), &d) !=
	    0) {
		diags_print(&d, stderr);
		ck_abort_msg("generated ruleset does not parse");
	}
	diags_free(&d);
	free(text);
	return rs;
}

/* Applies next on cur as a one-rule plan; returns what it took. */
static const struct nft_stats *
mixed_step(struct nft *nf, struct ruleset **cur, struct ruleset *next,
    enum plan_op op, const char *name)
{
	struct diags	d;
	struct plan	pl;

	plan_init(&pl);
	ck_assert_int_eq(plan_add(&pl, op, PLAN_RULE, name), 0);
	diags_init(&d);
	if (nft_apply(nf, *cur, next, &pl, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("%s %s failed", plan_op_name(op), name);
	}
	diags_free(&d);
	plan_free(&pl);
	ruleset_free(*cur);
	*cur = next;
	return nft_last_stats(nf);
}

START_TEST(mixed_single_changes)
{
	struct ruleset		*cur;
	struct nft		*nf;
	struct nft_drift	 dr;
	struct diags		 d;
	const struct nft_stats	*st;
	char			 x[300], name[16];
	int			 k, n;

	ck_assert_int_eq(lab_enter(lab, "router"), 0);
	diags_init(&d);
	nf = nft_open(NULL, &d);
	ck_assert_msg(nf != NULL, "nft_open failed");
	cur = make_mixed(NULL);
	if (nft_apply(nf, NULL, cur, NULL, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("loading the mixed rules failed");
	}
	for (k = 0; k < 8; k++) {
		snprintf(name, sizeof(name), "x%d", k);
		n = snprintf(x, sizeof(x), "rule %s ", name);
		mix_rule(x + n, sizeof(x) - (size_t)n, k, MIX_EXTRA);
		st = mixed_step(nf, &cur, make_mixed(x), PLAN_ADD, name);
		ck_assert_msg(!st->full_rebuild && st->compiled_rules == 1,
		    "adding %s: compiled %zu rules, rebuilt %d", x,
		    st->compiled_rules, st->full_rebuild);
		/* one kernel rule per chain it lands in (wan -> any: wan-dmz,
		 * which has rules of its own, and the body that wan-lan,
		 * wan-wan and wan-any share; any -> self: wan-self and the
		 * body of the others), or one element of a group */
		ck_assert_msg(st->rules_added + st->elems_added >= 1 &&
		    st->rules_added + st->elems_added <= 2,
		    "adding %s: %zu rules, %zu elements", x,
		    st->rules_added, st->elems_added);
		st = mixed_step(nf, &cur, make_mixed(NULL), PLAN_REMOVE, name);
		ck_assert_msg(!st->full_rebuild && st->compiled_rules <= 1,
		    "deleting %s: compiled %zu rules", x, st->compiled_rules);
		ck_assert_msg(st->rules_deleted + st->elems_deleted >= 1,
		    "deleting %s: nothing deleted", x);
	}

	/* traffic: a rule added at the end of 20,000 opens a port, and
	 * deleting it closes it again (any -> self drops by default) */
	ck_assert(lab_serve(lab, "router", "tcp", 3901) > 0);
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", R_LAN, 3901, 700, NULL,
	    0), -1);
	mixed_step(nf, &cur, make_mixed("rule open from lan to self tcp "
	    "dport 3901 accept"), PLAN_ADD, "open");
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", R_LAN, 3901, 2000, NULL,
	    0), 0);
	mixed_step(nf, &cur, make_mixed(NULL), PLAN_REMOVE, "open");
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", R_LAN, 3901, 700, NULL,
	    0), -1);

	/* the kernel holds exactly the ruleset */
	ck_assert_int_eq(nft_drift_find(nf, cur, &dr, &d), 0);
	ck_assert_msg(dr.n == 0 && !dr.table_missing, "%zu lines of drift, "
	    "first: %s", dr.n, dr.n ? dr.v[0] : "");
	nft_drift_free(&dr);
	diags_free(&d);
	ruleset_free(cur);
	nft_close(nf);
}
END_TEST

static Suite *
bench_plan_suite(void)
{
	Suite	*s = suite_create("bench_plan");
	TCase	*tc = tcase_create("replace");

	tcase_add_unchecked_fixture(tc, lab_setup, lab_teardown);
	/* 50,000 rules through the kernel twice, listed twice */
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, replace_50k_sends_10);
	tcase_add_test(tc, mixed_single_changes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	if (geteuid() != 0) {
		fprintf(stderr, "lab_bench_plan: needs root\n");
		return 77;
	}
	sr = srunner_create(bench_plan_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
