/*
 * Many gateways: contrib/ansible's role (site.yml) driven by Debian's
 * ansible-playbook from the lab's lan host against two fwctld, one on the
 * router (10.50.1.1:8443) and one on the dmz host (10.50.2.10:8443), each
 * over TLS with its own certificate and token.  The steps build on each
 * other and run in order: a first run changes both, --check --diff shows
 * the plans and changes nothing, a second run changes nothing, and a
 * ruleset that cuts the controller off the router is reverted by the
 * router itself, as traffic from the lan host shows.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lab.h"

#define PROBE_PORT	2222
/* long enough to see the lockout before the revert on a loaded machine */
#define CONFIRM_S	15

static struct lab *lab;
static char	 dir[64];
static char	 fwctld[4096];
static char	 src[4096];

static const struct gw {
	const char	*name;
	const char	*role;
	const char	*addr;
	const char	*zones;		/* zones and the API's own rules */
} gws[] = {
	{ "gw1", "router", "10.50.1.1",
	  "zone wan { interface wan0; external }\n"
	  "zone lan { interface lan0; network 10.50.1.0/24 }\n"
	  "zone dmz { interface dmz0 }\n"
	  "policy lan -> self drop\n"
	  "policy lan -> dmz accept\n"
	  "rule api from lan to self tcp dport 8443 accept\n"
	  "rule probe from lan to self tcp dport 2222 accept\n" },
	{ "gw2", "dmz", "10.50.2.10",
	  "zone net { interface eth0 }\n"
	  "policy net -> self drop\n"
	  "rule api from net to self tcp dport 8443 accept\n" },
};
#define NGW	(sizeof(gws) / sizeof(gws[0]))

static void
write_file(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s", path);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* The declared ruleset of gateway i for the controller: zones + extra. */
static void
want(size_t i, const char *extra)
{
	char	 path[256], text[2048];

	snprintf(path, sizeof(path), "%s/%s/want/10-gw.rules", dir,
	    gws[i].name);
	snprintf(text, sizeof(text), "%s%s", gws[i].zones, extra);
	write_file(path, text);
}

static void
start_gateway(size_t i)
{
	const struct gw	*g = &gws[i];
	char		 sock[256];

	ck_assert_int_eq(lab_exec(lab, g->role, "cd %s && mkdir -p %s/rules.d "
	    "%s/want && cd %s && printf '%%s' '%s' > rules.d/a.rules && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	    "-nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=%s "
	    "-addext subjectAltName=IP:%s >/dev/null 2>&1 && chmod 600 key.pem "
	    "&& printf 'ansible token-%s-0123456789\\n' > tokens && "
	    "chmod 600 tokens", dir, g->name, g->name, g->name, g->zones,
	    g->addr, g->addr, g->name), 0);
	snprintf(sock, sizeof(sock), "%s/%s/sock", dir, g->name);
	ck_assert_int_gt(lab_spawn(lab, g->role, "cd %s/%s && exec %s "
	    "--foreground --socket %s --state-dir state --rules-dir rules.d "
	    "--listen %s:8443 --tls-cert cert.pem --tls-key key.pem "
	    "--tokens tokens 2>log", dir, g->name, fwctld, sock, g->addr), 0);
	ck_assert_int_eq(lab_wait_socket(sock, 20000), 0);
	ck_assert_int_eq(lab_wait_port(lab, g->role, "tcp", 8443, 20000), 0);
}

static void
setup(void)
{
	const char	*env = getenv("FWCTLD");
	char		 path[256], inv[2048];
	size_t		 i;

	if (env != NULL)
		snprintf(fwctld, sizeof(fwctld), "%s", env);
	else
		ck_assert_ptr_nonnull(realpath("daemon/fwctld", fwctld));
	env = getenv("FWCTL_SRC");
	ck_assert_ptr_nonnull(realpath(env != NULL ? env : ".", src));
	snprintf(dir, sizeof(dir), "/tmp/fwctl-ansible-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	lab = lab_up();
	ck_assert_ptr_nonnull(lab);
	for (i = 0; i < NGW; i++)
		start_gateway(i);
	ck_assert_int_gt(lab_serve(lab, "router", "tcp", PROBE_PORT), 0);
	snprintf(inv, sizeof(inv), "gateways:\n  hosts:\n");
	for (i = 0; i < NGW; i++)
		snprintf(inv + strlen(inv), sizeof(inv) - strlen(inv),
		    "    %s:\n      fwctl_url: https://%s:8443\n"
		    "      fwctl_token: token-%s-0123456789\n"
		    "      fwctl_ca: %s/%s/cert.pem\n"
		    "      fwctl_rules_dir: %s/%s/want\n"
		    "      fwctl_timeout: 3\n", gws[i].name, gws[i].addr,
		    gws[i].name, dir, gws[i].name, dir, gws[i].name);
	snprintf(path, sizeof(path), "%s/inventory.yml", dir);
	write_file(path, inv);
}

static void
teardown(void)
{
	char	 cmd[128];

	lab_down(lab);
	lab = NULL;
	if (dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)!system(cmd);
	}
	dir[0] = '\0';
}

/* ansible-playbook site.yml from the lan host; its output and status. */
static char *
playbook(const char *args, int *status)
{
	char	*out;

	out = lab_output_status(lab, status, "lan", "cd %s && HOME=%s "
	    "ANSIBLE_LOCAL_TEMP=%s/.ansible/tmp ANSIBLE_NOCOLOR=1 "
	    "ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 "
	    "ansible-playbook -i inventory.yml %s/contrib/ansible/site.yml %s "
	    "2>&1", dir, dir, dir, src, args);
	ck_assert_ptr_nonnull(out);
	return out;
}

/* A count of the PLAY RECAP line of host ("changed", "failed"...). */
static int
recap(const char *out, const char *host, const char *what)
{
	const char	*p = strstr(out, "PLAY RECAP");
	char		 key[64];
	int		 n;

	ck_assert_msg(p != NULL, "no recap in:\n%s", out);
	while ((p = strstr(p, host)) != NULL) {
		p += strlen(host);
		if (strncmp(p, " ", 1) != 0)
			continue;
		snprintf(key, sizeof(key), "%s=", what);
		p = strstr(p, key);
		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(sscanf(p + strlen(key), "%d", &n), 1);
		return n;
	}
	ck_abort_msg("%s not in the recap:\n%s", host, out);
	return -1;
}

/* GET path on gateway i's UNIX socket: the JSON reply. */
static json_t *
get(size_t i, const char *path)
{
	char	*out;
	json_t	*j;

	out = lab_output(lab, gws[i].role, "curl -s --max-time 5 "
	    "--unix-socket %s/%s/sock http://l%s", dir, gws[i].name, path);
	ck_assert_ptr_nonnull(out);
	j = json_loads(out, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	free(out);
	return j;
}

static long long
generation(size_t i)
{
	json_t		*j = get(i, "/v1/status");
	long long	 g = json_integer_value(json_object_get(j, "generation"));

	json_decref(j);
	return g;
}

/* Whether gateway i's running ruleset has the rule called name. */
static int
has_rule(size_t i, const char *name)
{
	json_t	*j = get(i, "/v1/rules"), *r;
	size_t	 k;
	int	 found = 0;

	json_array_foreach(json_object_get(j, "rules"), k, r)
		if (strcmp(json_string_value(json_object_get(r, "name")),
		    name) == 0)
			found = 1;
	json_decref(j);
	return found;
}

static const char web[] = "rule web from lan to self tcp dport 80 accept\n";
static const char web2[] = "rule web from net to self tcp dport 80 accept\n";

START_TEST(test_first_run_changes_both)
{
	char	*out;
	int	 st;
	size_t	 i;

	want(0, web);
	want(1, web2);
	for (i = 0; i < NGW; i++)
		ck_assert_int_eq(has_rule(i, "web"), 0);
	out = playbook("", &st);
	ck_assert_msg(st == 0, "%s", out);
	for (i = 0; i < NGW; i++) {
		ck_assert_int_eq(recap(out, gws[i].name, "changed"), 1);
		ck_assert_int_eq(has_rule(i, "web"), 1);
		/* confirmed: nothing waits to be reverted */
		json_t *s = get(i, "/v1/status");
		ck_assert_msg(json_is_null(json_object_get(s, "pending")),
		    "%s still pending", gws[i].name);
		json_decref(s);
	}
	free(out);
}
END_TEST

START_TEST(test_check_diff_shows_plan_changes_nothing)
{
	long long	 before[NGW];
	char		*out;
	int		 st;
	size_t		 i;

	want(0, "rule web from lan to self tcp dport 80 accept\n"
	    "rule dns from lan to self udp dport 53 accept\n");
	want(1, "rule web from net to self tcp dport 80 accept\n"
	    "rule dns from net to self udp dport 53 accept\n");
	for (i = 0; i < NGW; i++)
		before[i] = generation(i);
	out = playbook("--check --diff", &st);
	ck_assert_msg(st == 0, "%s", out);
	for (i = 0; i < NGW; i++) {
		char	 line[128];

		snprintf(line, sizeof(line), "fwctl plan for https://%s:8443:\n"
		    "+ rule dns", gws[i].addr);
		ck_assert_msg(strstr(out, line) != NULL, "no \"%s\" in:\n%s",
		    line, out);
		ck_assert_int_eq(recap(out, gws[i].name, "changed"), 1);
		ck_assert_int_eq(generation(i), before[i]);
		ck_assert_int_eq(has_rule(i, "dns"), 0);
	}
	free(out);
	/* back to what the first run applied, for the next step */
	want(0, web);
	want(1, web2);
}
END_TEST

START_TEST(test_second_run_reports_no_change)
{
	long long	 before[NGW];
	char		*out;
	int		 st;
	size_t		 i;

	want(0, web);
	want(1, web2);
	for (i = 0; i < NGW; i++)
		before[i] = generation(i);
	out = playbook("", &st);
	ck_assert_msg(st == 0, "%s", out);
	for (i = 0; i < NGW; i++) {
		ck_assert_int_eq(recap(out, gws[i].name, "changed"), 0);
		ck_assert_int_eq(generation(i), before[i]);
	}
	free(out);
}
END_TEST

/* Waits until the lan host's connection to the router's probe port
 * succeeds (want 0) or fails (want -1); 0, or -1 after timeout_ms. */
static int
wait_probe(int want_rc, int timeout_ms)
{
	long long	 end = lab_now() + timeout_ms;

	do {
		if (lab_tcp_connect(lab, "lan", "10.50.1.1", PROBE_PORT, 500,
		    NULL, 0) == want_rc)
			return 0;
	} while (lab_now() < end);
	return -1;
}

/*
 * A rolling apply: gw1's new ruleset keeps lan (the controller) out, so
 * its confirmation cannot arrive; gw1 reverts by itself and the roll stops
 * before gw2, whose own change stays unapplied.
 */
START_TEST(test_unreachable_confirmation_reverts)
{
	char		 args[64], path[256];
	char		*out;
	long long	 g1, g2;
	int		 st;

	ck_assert_int_eq(wait_probe(0, 5000), 0);
	g1 = generation(0);
	g2 = generation(1);
	/* the API and the probe port both; the reply to the PUT still comes
	 * back on its established connection, the confirmation cannot */
	snprintf(path, sizeof(path), "%s/gw1/want/10-gw.rules", dir);
	write_file(path,
	    "zone wan { interface wan0; external }\n"
	    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
	    "zone dmz { interface dmz0 }\n"
	    "policy lan -> self drop\n"
	    "policy lan -> dmz accept\n"
	    "rule ssh from lan to self tcp dport 22 accept\n");
	want(1, "rule web from net to self tcp dport 80 accept\n"
	    "rule dns from net to self udp dport 53 accept\n");
	snprintf(args, sizeof(args), "-e fwctl_confirm=%d", CONFIRM_S);
	out = playbook(args, &st);
	ck_assert_msg(st != 0, "the run should fail:\n%s", out);
	ck_assert_msg(strstr(out, "applied but not confirmed") != NULL, "%s",
	    out);
	ck_assert_int_eq(recap(out, "gw1", "failed"), 1);
	/* the roll stopped at gw1 */
	ck_assert_msg(strstr(out, "Declared ruleset on gw2") == NULL, "%s", out);
	free(out);
	ck_assert_int_eq(generation(1), g2);
	ck_assert_int_eq(has_rule(1, "dns"), 0);
	/* meanwhile lan is locked out of the router ... */
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "10.50.1.1", PROBE_PORT,
	    500, NULL, 0), -1);
	ck_assert_int_eq(has_rule(0, "ssh"), 1);
	/* ... until the router reverts by itself: lan reaches it again */
	ck_assert_int_eq(wait_probe(0, (CONFIRM_S + 20) * 1000), 0);
	ck_assert_int_eq(has_rule(0, "web"), 1);
	ck_assert_int_eq(has_rule(0, "ssh"), 0);
	/* one generation applied it, one reverted it */
	ck_assert_int_eq(generation(0), g1 + 2);
	json_t *s = get(0, "/v1/status");
	ck_assert(json_is_null(json_object_get(s, "pending")));
	json_decref(s);
}
END_TEST

static Suite *
ansible_suite(void)
{
	Suite	*s = suite_create("lab_ansible");
	TCase	*tc = tcase_create("fleet");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_first_run_changes_both);
	tcase_add_test(tc, test_check_diff_shows_plan_changes_nothing);
	tcase_add_test(tc, test_second_run_reports_no_change);
	tcase_add_test(tc, test_unreachable_confirmation_reverts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(ansible_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
