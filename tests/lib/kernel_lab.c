/*
 * The helpers of the kernel layer's lab suites (kernel_lab.h).
 */
#include <errno.h>
#include <sys/socket.h>

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compile.h"
#include "nft.h"
#include "parse.h"
#include "plan.h"
#include "ruleset.h"
#include "kernel_lab.h"

struct lab *lab;
char *other_before;
struct nft *nf;
struct ruleset *cur;

void
lab_setup(void)
{
	if ((lab = lab_up()) == NULL) {
		fprintf(stderr, "%s: lab_up failed\n",
		    program_invocation_short_name);
		exit(1);
	}
	if (lab_exec(lab, "router", "nft add table inet other && "
	    "nft add chain inet other c '{ type filter hook input "
	    "priority 10; policy accept; }' && "
	    "nft add rule inet other c tcp dport 9 counter accept && "
	    "nft add set inet other s '{ type ipv4_addr; }' && "
	    "nft add element inet other s '{ 192.0.2.1 }'") != 0) {
		fprintf(stderr, "%s: cannot make table inet other\n",
		    program_invocation_short_name);
		exit(1);
	}
	other_before = lab_output(lab, "router",
	    "nft list table inet other");
}

void
lab_teardown(void)
{
	lab_down(lab);
	lab = NULL;
	lab_sweep();
	free(other_before);
	other_before = NULL;
}

/* Enters the router (this child only), removes what an earlier test left
 * and opens the kernel layer. */
void
start(void)
{
	struct diags d;

	ck_assert_int_eq(lab_enter(lab, "router"), 0);
	lab_exec(lab, "router", "nft delete table inet fwctl 2>/dev/null; "
	    "true");
	diags_init(&d);
	nf = nft_open(NULL, &d);
	ck_assert_msg(nf != NULL, "nft_open failed");
	diags_free(&d);
	cur = NULL;
}

struct ruleset *
rs_text(const char *text)
{
	struct ruleset *rs = ruleset_new();
	struct diags d;

	diags_init(&d);
	if (parse_buffer(rs, "lab.rules", text, strlen(text), &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("test ruleset does not parse");
	}
	diags_free(&d);
	return rs;
}

void
assert_other(void)
{
	char *now = lab_output(lab, "router", "nft list table inet other");

	ck_assert_ptr_nonnull(now);
	ck_assert_ptr_nonnull(other_before);
	ck_assert_msg(strcmp(now, other_before) == 0,
	    "table inet other changed:\n%s\nwas:\n%s", now, other_before);
	free(now);
}

/* rs on top of cur with plan pl (NULL: the whole diff); rs becomes cur. */
static void
apply_with(struct ruleset *rs, const struct plan *pl)
{
	struct diags d;

	diags_init(&d);
	if (nft_apply(nf, cur, rs, pl, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("nft_apply failed");
	}
	diags_free(&d);
	ruleset_free(cur);
	cur = rs;
}

/* Applies rs on top of cur (takes rs). */
void
apply(struct ruleset *rs)
{
	apply_with(rs, NULL);
	assert_other();
}

/* Applies rs on top of cur the way the engine sends a single change: a
 * one-item plan (takes rs). */
void
apply_plan(struct ruleset *rs, enum plan_op op, const char *name)
{
	struct plan pl;

	plan_init(&pl);
	ck_assert_int_eq(plan_add(&pl, op, PLAN_RULE, name), 0);
	apply_with(rs, &pl);
	plan_free(&pl);
}

/* Applies the ruleset of text on top of cur with the plan of what
 * differs (plan_diff), as the engine sends a change. */
void
apply_diffed(const char *text)
{
	struct ruleset *next = rs_text(text);
	struct plan pl;

	plan_init(&pl);
	ck_assert_int_eq(plan_diff(cur, next, &pl), 0);
	apply_with(next, &pl);
	plan_free(&pl);
}

void
apply_text(const char *text)
{
	apply(rs_text(text));
}

int
tcp(const char *from, const char *addr, int port, int ms)
{
	return lab_tcp_connect(lab, from, addr, port, ms, NULL, 0);
}

void
must_tcp(const char *from, const char *addr, int port)
{
	ck_assert_msg(tcp(from, addr, port, OK_MS) == 0,
	    "%s -> %s tcp %d should connect", from, addr, port);
}

void
mustnt_tcp(const char *from, const char *addr, int port)
{
	ck_assert_msg(tcp(from, addr, port, NO_MS) == -1,
	    "%s -> %s tcp %d should not connect", from, addr, port);
}

pid_t
serve(const char *role, const char *proto, int port)
{
	pid_t pid = lab_serve(lab, role, proto, port);

	ck_assert_msg(pid > 0, "cannot serve %s %d in %s", proto, port, role);
	return pid;
}

void
finish(void)
{
	nft_close(nf);
	nf = NULL;
	ruleset_free(cur);
	cur = NULL;
}

/* Eight pings from the lan host to the router through a limit of 1/minute
 * burst 2: the burst passes (one more if a minute turns), then nothing. */
void
pings_limited(const char *what)
{
	int i, ok = 0, fail = 0;

	for (i = 0; i < 8; i++) {
		if (lab_ping(lab, "lan", R_LAN, 400) == 0)
			ok++;
		else
			fail++;
	}
	ck_assert_msg(ok >= 1 && ok <= 3 && fail >= 5,
	    "%s: %d replies, %d lost", what, ok, fail);
}

/* Line order of three comments in `nft list table`: a before b before c. */
void
assert_order(const char *a, const char *b, const char *c)
{
	char *out = lab_output(lab, "router", "nft list table inet fwctl "
	    "| grep -n -e 'comment \"%s\"' -e 'comment \"%s\"' "
	    "-e 'comment \"%s\"' | cut -d: -f1 | tr '\\n' ' '", a, b, c);
	int la = 0, lb = 0, lc = 0;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(sscanf(out, "%d %d %d", &la, &lb, &lc), 3);
	free(out);
	/* grep prints in file order: check which is which */
	out = lab_output(lab, "router", "nft list table inet fwctl "
	    "| grep -e 'comment \"%s\"' -e 'comment \"%s\"' "
	    "-e 'comment \"%s\"' | grep -o 'comment \"[^\"]*\"' "
	    "| tr '\\n' ' '", a, b, c);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(strstr(out, a) < strstr(out, b) &&
	    strstr(out, b) < strstr(out, c), "order: %s", out);
	free(out);
}

/* Packets counted for a rule (all its copies), through nft_counters. */
uint64_t
rule_packets(const char *name)
{
	struct nft_counters c;
	struct diags d;
	uint64_t pk = 0;
	size_t i;

	diags_init(&d);
	ck_assert_int_eq(nft_counters(nf, &c, &d), 0);
	for (i = 0; i < c.n; i++)
		if (strcmp(c.v[i].name, name) == 0)
			pk = c.v[i].packets;
	nft_counters_free(&c);
	diags_free(&d);
	return pk;
}

/* nft_drift_find on nf against rs, or the test fails. */
void
drift(const struct ruleset *rs, struct nft_drift *dr)
{
	struct diags d;

	diags_init(&d);
	if (nft_drift_find(nf, rs, dr, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("nft_drift_find failed");
	}
	diags_free(&d);
}

void
drift_print(const struct nft_drift *dr)
{
	size_t i;

	for (i = 0; i < dr->n; i++)
		fprintf(stderr, "  drift: %s\n", dr->v[i]);
}

/* The line of dr that starts with head and holds part (may be NULL). */
bool
drift_has(const struct nft_drift *dr, const char *head, const char *part)
{
	size_t i;

	for (i = 0; i < dr->n; i++)
		if (strncmp(dr->v[i], head, strlen(head)) == 0 &&
		    (part == NULL || strstr(dr->v[i], part) != NULL))
			return true;
	drift_print(dr);
	return false;
}

void
assert_no_drift(const struct ruleset *rs)
{
	struct nft_drift dr;

	drift(rs, &dr);
	if (dr.n != 0)
		drift_print(&dr);
	ck_assert_msg(dr.n == 0 && !dr.table_missing, "%zu lines of drift",
	    dr.n);
	nft_drift_free(&dr);
}

/* Closes our handle as a stopped daemon would: the table stays,
 * orphaned, and anyone may change it. */
void
stop_owner(void)
{
	nft_close(nf);
	nf = NULL;
}

/* A fresh handle (a daemon starting), not yet owner. */
void
start_owner(void)
{
	struct diags d;

	diags_init(&d);
	nf = nft_open(NULL, &d);
	ck_assert_msg(nf != NULL, "nft_open failed");
	diags_free(&d);
}

/* Start-like apply: no picture of the kernel. */
void
apply_fresh(const struct ruleset *rs)
{
	struct diags d;

	diags_init(&d);
	if (nft_apply(nf, NULL, rs, NULL, &d) != 0) {
		diags_print(&d, stderr);
		ck_abort_msg("nft_apply failed");
	}
	diags_free(&d);
	assert_other();
}

/* fwctld stops and starts again over its table: the drift check finds
 * nothing. */
void
restart_no_drift(void)
{
	struct nft_drift dr;

	stop_owner();
	start_owner();
	drift(cur, &dr);
	drift_print(&dr);
	ck_assert_uint_eq(dr.n, 0);
	nft_drift_free(&dr);
}

/* fwctld stops and starts again over its table (restart_no_drift), and
 * the first apply takes the table as it is: what the changes before left
 * is what a fresh compile lays out, in order. */
void
restart_takes_table(void)
{
	const struct nft_stats *st;

	restart_no_drift();
	apply_fresh(cur);
	st = nft_last_stats(nf);
	ck_assert(!st->full_rebuild);
	ck_assert_uint_eq(st->rules_added, 0);
}

const struct nft_stats *
applied_in_place_at(int line, size_t compiled)
{
	const struct nft_stats *st = nft_last_stats(nf);

	ck_assert_msg(!st->full_rebuild, "line %d: the table was made again",
	    line);
	ck_assert_msg(st->compiled_rules == compiled, "line %d: %zu rules "
	    "compiled, expected %zu", line, st->compiled_rules, compiled);
	return st;
}

int
kernel_lab_run(const char *prog, Suite *(*suite)(void))
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root\n", prog);
		return 77;
	}
	sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
