/*
 * Logging always lands: fwctld in the lab's router namespace, started as
 * systemd starts a service (stderr connected to the journal, announced in
 * $JOURNAL_STREAM) or as a classic daemon, on a host without syslog.  A
 * journald of the test's own (tests/lib/journald-run, in a private mount
 * namespace) receives what fwctld sends; journalctl reads it back.
 */
#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lab.h"

static struct lab *lab;
static char	 dir[64];
static char	 fwctld[4096];
static char	 runner[4096];

static const char base_rules[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
    "rule ssh from lan to self tcp dport 22 accept\n";

/*
 * Shell that waits for the socket, makes one change through the API and
 * stops the fwctld of this namespace (by its pid there, no other).
 */
static const char change_and_stop[] =
    "i=0; while ! curl -s --unix-socket %1$s/sock http://l/v1/status "
    ">/dev/null; do i=$((i+1)); [ $i -lt 200 ] || exit 9; sleep 0.1; done; "
    "curl -s -f --unix-socket %1$s/sock -X POST -H 'Content-Type: text/plain' "
    "--data-binary 'web from lan to self tcp dport 80 accept' "
    "http://l/v1/rules >/dev/null || exit 8; "
    "for p in $(ip netns pids \"$(ip netns identify)\"); do "
    "[ \"$(cat /proc/$p/comm 2>/dev/null)\" = fwctld ] && kill $p; done; wait; "
    /* gone, not only told: the next test's fwctld takes over the table */
    "i=0; while (for p in $(ip netns pids \"$(ip netns identify)\"); do "
    "[ \"$(cat /proc/$p/comm 2>/dev/null)\" = fwctld ] && "
    "! grep -q '^State:.*zombie' /proc/$p/status && exit 0; done; "
    "exit 1); do i=$((i+1)); [ $i -lt 200 ] || exit 7; sleep 0.1; done";

static void
setup(void)
{
	const char	*env = getenv("FWCTLD");
	const char	*src = getenv("FWCTL_SRC");

	if (env != NULL)
		snprintf(fwctld, sizeof(fwctld), "%s", env);
	else
		ck_assert_ptr_nonnull(realpath("daemon/fwctld", fwctld));
	snprintf(runner, sizeof(runner), "%s/tests/lib/journald-run",
	    src != NULL ? src : ".");
	ck_assert_int_eq(access(runner, X_OK), 0);
	snprintf(dir, sizeof(dir), "/tmp/fwctl-log-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	lab = lab_up();
	ck_assert_ptr_nonnull(lab);
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

/* A fresh state and rules directory under dir/NAME; its path. */
static const char *
fresh(const char *name)
{
	static char	 d[128];

	snprintf(d, sizeof(d), "%s/%s", dir, name);
	ck_assert_int_eq(lab_exec(lab, "router", "mkdir -p %s/rules.d && "
	    "printf '%%s' '%s' > %s/rules.d/a.rules", d, base_rules, d), 0);
	return d;
}

/* cmd as one word of sh, in single quotes */
static char *
quote(const char *cmd)
{
	char	*q, *p;

	ck_assert_ptr_nonnull(q = malloc(strlen(cmd) * 4 + 3));
	p = q;
	*p++ = '\'';
	for (; *cmd != '\0'; cmd++) {
		if (*cmd == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else
			*p++ = *cmd;
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

/* Runs CMD under journald-run in the router; the journal's JSON lines. */
static char *
journal_of(const char *cmd, bool journald)
{
	char	*out, *q = quote(cmd);
	int	 st;

	out = lab_output_status(lab, &st, "router", "%s %s %s", runner,
	    journald ? "" : "--no-journald", q);
	free(q);
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(st == 0, "journald-run exited %d:\n%s", st, out);
	return out;
}

/*
 * The journal entry of fwctld whose MESSAGE contains what, sent the way
 * transport says ("journal": natively, with its priority), or NULL.
 */
static json_t *
entry(const char *journal, const char *what, const char *transport)
{
	const char	*line = journal, *nl;
	json_t		*j;
	const char	*ident, *msg, *tr;

	for (; *line != '\0'; line = nl + 1) {
		nl = strchrnul(line, '\n');
		j = json_loadb(line, (size_t)(nl - line), 0, NULL);
		if (j != NULL) {
			ident = json_string_value(json_object_get(j,
			    "SYSLOG_IDENTIFIER"));
			msg = json_string_value(json_object_get(j, "MESSAGE"));
			tr = json_string_value(json_object_get(j,
			    "_TRANSPORT"));
			if (ident != NULL && strcmp(ident, "fwctld") == 0 &&
			    msg != NULL && strstr(msg, what) != NULL &&
			    tr != NULL && strcmp(tr, transport) == 0)
				return j;
			json_decref(j);
		}
		if (*nl == '\0')
			break;
	}
	return NULL;
}

static void
assert_entry(const char *journal, const char *what, const char *priority)
{
	json_t		*j;
	const char	*p;

	j = entry(journal, what, "journal");
	/* Check's messages are short: the journal's end is enough */
	ck_assert_msg(j != NULL, "no journal entry of fwctld with \"%s\" "
	    "sent natively; the journal ends:\n%s", what,
	    journal + (strlen(journal) > 3000 ? strlen(journal) - 3000 : 0));
	p = json_string_value(json_object_get(j, "PRIORITY"));
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p, priority);
	json_decref(j);
}

/* As systemd runs the unit: --foreground, stderr is the journal stream. */
START_TEST(test_service_logs_to_journal)
{
	const char	*d = fresh("svc");
	char		 cmd[16384], tail[1024];
	char		*out;

	snprintf(tail, sizeof(tail), change_and_stop, d);
	snprintf(cmd, sizeof(cmd), "systemd-cat -t fwctld sh -c 'export "
	    "JOURNAL_STREAM=$(stat -L -c %%d:%%i /proc/self/fd/2); exec %s "
	    "--foreground --socket %s/sock --state-dir %s/state --rules-dir "
	    "%s/rules.d' & %s", fwctld, d, d, d, tail);
	out = journal_of(cmd, true);
	assert_entry(out, "loaded rules from", "6");
	assert_entry(out, "listening on", "6");
	assert_entry(out, "(generation 2)", "6");
	assert_entry(out, "exiting on signal", "6");
	free(out);
}
END_TEST

/* A classic daemon on a host whose only log is the journal. */
START_TEST(test_daemon_without_syslog_logs_to_journal)
{
	const char	*d = fresh("bg");
	char		 cmd[16384], tail[1024];
	char		*out;

	snprintf(tail, sizeof(tail), change_and_stop, d);
	snprintf(cmd, sizeof(cmd), "%s --socket %s/sock --state-dir %s/state "
	    "--rules-dir %s/rules.d 2>%s/stderr && %s", fwctld, d, d, d, d,
	    tail);
	out = journal_of(cmd, true);
	assert_entry(out, "listening on", "6");
	assert_entry(out, "(generation 2)", "6");
	free(out);
}
END_TEST

/* Neither syslog nor journal: the stderr it was started with, as
 * fwctld(8) says. */
START_TEST(test_daemon_without_any_log_keeps_stderr)
{
	const char	*d = fresh("none");
	char		 cmd[16384], tail[1024];
	char		*out, *err;

	snprintf(tail, sizeof(tail), change_and_stop, d);
	snprintf(cmd, sizeof(cmd), "%s --socket %s/sock --state-dir %s/state "
	    "--rules-dir %s/rules.d 2>%s/stderr && %s", fwctld, d, d, d, d,
	    tail);
	out = journal_of(cmd, false);
	free(out);
	err = lab_output(lab, "router", "cat %s/stderr", d);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "fwctld: listening on") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "(generation 2)") != NULL, "%s", err);
	free(err);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s = suite_create("lab_log");
	TCase	*tc = tcase_create("log");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_service_logs_to_journal);
	tcase_add_test(tc, test_daemon_without_syslog_logs_to_journal);
	tcase_add_test(tc, test_daemon_without_any_log_keeps_stderr);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(log_suite());
	int	 nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
