/*
 * What dashboards use, in the lab: Prometheus metrics (promtool accepts
 * them, a rule's counter follows real traffic), scoped tokens on the TLS
 * listener (a read-only token is refused every write route of api.c's
 * table, an elements token may block but not add rules, and neither
 * changes anything) and CORS for the listed origins only.
 *
 * Each test starts its own fwctld in the router namespace of a lab the
 * tests share (an unchecked fixture makes and removes it).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "lib/fwd.h"
#include "lib/lab.h"

static struct lab *lab;

static const char base_rules[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
    "policy lan -> wan accept\n"
    "set blocklist ipv4 { timeout 1h }\n"
    "rule drop-blocked from wan to self src @blocklist drop\n"
    "rule ssh from any to self tcp dport 22 accept\n"
    "rule svc from wan to self tcp dport 2201 accept\n"
    "nat out masquerade from lan to wan\n";

#define HAS(s, sub) ck_assert_msg(strstr((s), (sub)) != NULL,		\
	"missing '%s' in:\n%.3000s", (sub), (s))
#define HASNT(s, sub) ck_assert_msg(strstr((s), (sub)) == NULL,	\
	"unexpected '%s' in:\n%.3000s", (sub), (s))

static void
dash_setup(void)
{
	if ((lab = lab_up()) == NULL) {
		fprintf(stderr, "lab_dash: lab_up failed\n");
		exit(1);
	}
}

static void
dash_teardown(void)
{
	lab_down(lab);
	lab = NULL;
}

/* A fresh router (no fwctld, no table) and a daemon over base_rules
 * started with the flags given. */
static void
start(struct fwd *f, const char *flags)
{
	char	 cmd[256];

	ck_assert_int_eq(fwd_init(f, lab, "router"), 0);
	snprintf(cmd, sizeof(cmd), "for p in $(ip netns pids %s); do "
	    "[ \"$(cat /proc/$p/comm 2>/dev/null)\" = fwctld ] && "
	    "kill -9 $p; done; true", lab_ns(lab, "router"));
	ck_assert_int_eq(system(cmd), 0);
	lab_exec(lab, "router", "nft delete table inet fwctl 2>/dev/null; "
	    "true");
	ck_assert_int_eq(fwd_write(f, "rules/10-base.rules", base_rules), 0);
	ck_assert_int_eq(fwd_start(f, 15000, "%s", flags), 0);
}

/* GET /metrics over the socket: the text (the caller's). */
static char *
metrics(struct fwd *f)
{
	struct fwd_res	 r;
	char		*t;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(fwd_curl(f, &r, "GET", "/metrics", NULL, NULL), 200);
	t = r.out;
	r.out = NULL;
	fwd_res_free(&r);
	return t;
}

/* The value of the sample that starts with prefix ("name{labels}"). */
static long long
sample(const char *text, const char *prefix)
{
	const char	*p = text;
	size_t		 len = strlen(prefix);

	while ((p = strstr(p, prefix)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == ' ')
			return atoll(p + len + 1);
		p += len;
	}
	ck_abort_msg("no sample %s in:\n%.3000s", prefix, text);
	return -1;
}

START_TEST(metrics_follow_traffic)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		*m, path[128];
	long long	 before, after;
	pid_t		 srv;
	FILE		*out;
	int		 st;

	start(&f, "");
	srv = lab_serve(lab, "router", "tcp", 2201);
	ck_assert_int_gt(srv, 0);
	m = metrics(&f);
	/* promtool, Prometheus' own checker, reads what a scrape gets */
	snprintf(path, sizeof(path), "%s/metrics.txt", f.dir);
	ck_assert_ptr_nonnull(out = fopen(path, "w"));
	fputs(m, out);
	fclose(out);
	memset(&r, 0, sizeof(r));
	st = lab_exec(lab, "router", "promtool check metrics < %s", path);
	ck_assert_msg(st == 0, "promtool check metrics: exit %d on:\n%.3000s",
	    st, m);
	HAS(m, "fwctl_build_info{version=\"" FWCTL_VERSION "\"");
	HAS(m, "fwctl_set_elements{set=\"blocklist\",type=\"ipv4\"} 0");
	HAS(m, "# TYPE fwctl_apply_duration_seconds histogram");
	ck_assert_int_eq(sample(m, "fwctl_generation"), 1);
	ck_assert_int_eq(sample(m, "fwctl_drift"), 0);
	before = sample(m, "fwctl_rule_packets_total{rule=\"svc\",from=\"wan\","
	    "to=\"self\",verdict=\"accept\"}");
	free(m);
	/* a connection from the wan host is the rule's, and its packets
	 * count in the next scrape */
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 2201, 3000,
	    NULL, 0), 0);
	ck_assert_int_eq(lab_ping(lab, "lan", "10.50.0.2", 2000), 0);
	m = metrics(&f);
	after = sample(m, "fwctl_rule_packets_total{rule=\"svc\",from=\"wan\","
	    "to=\"self\",verdict=\"accept\"}");
	ck_assert_msg(after > before, "svc packets %lld -> %lld", before,
	    after);
	ck_assert_int_gt(sample(m, "fwctl_policy_packets_total{from=\"lan\","
	    "to=\"wan\",verdict=\"accept\"}"), 0);
	ck_assert_int_gt(sample(m, "fwctl_nat_packets_total{nat=\"out\","
	    "kind=\"masquerade\",from=\"lan\",to=\"wan\"}"), 0);
	free(m);
	/* a change and a refusal count by operation and result, the change
	 * in the latency histogram */
	ck_assert_int_eq(fwd_cli(&f, &r, "add-rule", "web", "from", "wan",
	    "to", "self", "tcp", "dport", "80", "accept", (char *)NULL), 0);
	fwd_res_free(&r);
	ck_assert_int_ne(fwd_cli(&f, &r, "add-rule", "web", "from", "wan",
	    "to", "self", "tcp", "dport", "80", "accept", (char *)NULL), 0);
	fwd_res_free(&r);
	m = metrics(&f);
	ck_assert_int_eq(sample(m, "fwctl_changes_total{op=\"add_rule\","
	    "result=\"ok\"}"), 1);
	ck_assert_int_eq(sample(m, "fwctl_changes_total{op=\"add_rule\","
	    "result=\"conflict\"}"), 1);
	ck_assert_int_eq(sample(m, "fwctl_apply_duration_seconds_count"), 1);
	ck_assert_int_eq(sample(m, "fwctl_generation"), 2);
	ck_assert_int_eq(sample(m, "fwctl_objects{kind=\"rules\"}"), 4);
	free(m);
	lab_stop(lab, srv);
	fwd_cleanup(&f);
}
END_TEST

static Suite *
dash_suite(void)
{
	Suite	*s = suite_create("dash");
	TCase	*tc = tcase_create("dash");

	tcase_add_unchecked_fixture(tc, dash_setup, dash_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, metrics_follow_traffic);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(dash_suite());
	int	 nfailed;

	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
