/*
 * What the suites of the kernel layer (lab_kernel, lab_groups) share: the
 * lab and its table inet other, the kernel layer of one test (a forked
 * child in the router's namespace), rulesets applied to it, traffic that
 * must pass or not, counters, drift and restarts.
 */
#ifndef FWCTL_TESTS_KERNEL_LAB_H
#define FWCTL_TESTS_KERNEL_LAB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>

#include "lab.h"
#include "nft.h"
#include "plan.h"
#include "ruleset.h"

#define ZONES \
	"zone wan { interface wan0 }\n" \
	"zone lan { interface lan0 }\n" \
	"zone dmz { interface dmz0 }\n"

#define R_LAN	"10.50.1.1"
#define R_LAN6	"fd50:1::1"
#define R_WAN	"10.50.0.1"
#define R_WAN6	"fd50::1"
#define H_WAN	"10.50.0.2"
#define H_DMZ	"10.50.2.10"
#define H_DMZ6	"fd50:2::10"
#define H_LAN	"10.50.1.10"

#define OK_MS	lab_ms(2000)	/* a connection that must work */
/* a list of source ports (every port): rules that can never be merged
 * into a group (a list is not one key; a range is), for the tests of one
 * kernel rule per user rule (sub-chains, single rules) */
#define NOGROUP	"{ 1-32767, 32768-65535 }"
#define NO_MS	700		/* one that must not */

extern struct lab	*lab;
extern char		*other_before;	/* `nft list table inet other` at start */
/* per test (forked child) */
extern struct nft	*nf;
extern struct ruleset	*cur;

/* Check's unchecked fixture: the lab up, with table inet other in the
 * router that every apply must leave as it is; and down. */
void	lab_setup(void);
void	lab_teardown(void);
/* Enters the router (this child only), removes what an earlier test left
 * and opens the kernel layer. */
void	start(void);
/* text parsed into a ruleset, or the test fails. */
struct ruleset *rs_text(const char *text);
/* Table inet other is as lab_setup made it. */
void	assert_other(void);
/* Applies rs on top of cur (takes rs). */
void	apply(struct ruleset *rs);
/* Applies rs on top of cur the way the engine sends a single change: a
 * one-item plan (takes rs). */
void	apply_plan(struct ruleset *rs, enum plan_op op, const char *name);
/* The ruleset of text on top of cur with the plan of what differs, as
 * the engine sends a change. */
void	apply_diffed(const char *text);
/* apply(rs_text(text)). */
void	apply_text(const char *text);
/* A TCP connection from lab host `from` to addr:port within ms: 0 when
 * it connects. must_tcp and mustnt_tcp fail the test otherwise. */
int	tcp(const char *from, const char *addr, int port, int ms);
void	must_tcp(const char *from, const char *addr, int port);
void	mustnt_tcp(const char *from, const char *addr, int port);
/* A server on port in lab host role (until the lab goes down): ports
 * are not shared between tests. */
pid_t	serve(const char *role, const char *proto, int port);
/* Closes the kernel layer of this test. */
void	finish(void);
/* Eight pings from the lan host to the router through a limit of 1/minute
 * burst 2: the burst passes (one more if a minute turns), then nothing. */
void	pings_limited(const char *what);
/* Line order of three comments in `nft list table`: a before b before c. */
void	assert_order(const char *a, const char *b, const char *c);
/* Packets counted for a rule (all its copies), through nft_counters. */
uint64_t rule_packets(const char *name);
/* nft_drift_find on nf against rs, or the test fails. */
void	drift(const struct ruleset *rs, struct nft_drift *dr);
void	drift_print(const struct nft_drift *dr);
/* The line of dr that starts with head and holds part (may be NULL). */
bool	drift_has(const struct nft_drift *dr, const char *head,
	    const char *part);
/* The drift check against rs finds nothing, or the test fails. */
void	assert_no_drift(const struct ruleset *rs);
/* Closes our handle as a stopped daemon would: the table stays,
 * orphaned, and anyone may change it. */
void	stop_owner(void);
/* A fresh handle (a daemon starting), not yet owner. */
void	start_owner(void);
/* Start-like apply: no picture of the kernel. */
void	apply_fresh(const struct ruleset *rs);
/* fwctld stops and starts again over its table: the drift check finds
 * nothing. */
void	restart_no_drift(void);
/* restart_no_drift, then the first apply takes the table as it is (no
 * rebuild, no rule added): the layout is a fresh compile's, in order. */
void	restart_takes_table(void);
/* The last apply's figures, asserted to be a change in place (the table
 * not made again) that compiled `compiled` rules (0: no rule compiled). */
#define applied_in_place(compiled) applied_in_place_at(__LINE__, (compiled))
const struct nft_stats *applied_in_place_at(int line, size_t compiled);
/* Runs the suite suite() makes (prog: the suite's program, for messages):
 * 77 when not root (the lab needs it), 0 when every test passed, else 1. */
int	kernel_lab_run(const char *prog, Suite *(*suite)(void));

#endif
