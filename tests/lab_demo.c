/*
 * `make demo` (tools/demo): it runs to the end, each connection gets the
 * verdict the example ruleset predicts, and it leaves nothing behind: no
 * namespace with its prefix, no process it started, no change to the
 * host namespace's nf_tables (read with `nft list tables`, never written).
 * KEEP=1 leaves a working lab that `tools/demo down` removes.
 *
 * The predictions below are written from rules/ and SPEC §2, apart from
 * the demo's own table, so a demo that printed whatever it saw would
 * still be caught.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/lab.h"

/* Longest the demo may take; the issue asks for "well under a minute". */
#define DEMO_MAX_SECS	60
/* the same, on this machine (FWCTL_TEST_TIMEOUT_SCALE) */
#define DEMO_SECS	(lab_ms(DEMO_MAX_SECS * 1000) / 1000)

/* Like ck_assert_msg, and prints the whole transcript first: Check cuts
 * long messages, and the transcript is what tells what went wrong. */
#define ck_assert_text(text, cond, ...) do {				\
	if (!(cond)) {							\
		fprintf(stderr, "---- transcript\n%s----\n", (text));	\
		ck_abort_msg(__VA_ARGS__);				\
	}								\
} while (0)

struct expect {
	const char	*label;		/* "FROM -> TO ADDR:PORT/PROTO" */
	const char	*verdict;	/* ALLOWED or REFUSED */
	const char	*seen;		/* for ALLOWED: the source the server saw */
};

/*
 * In transcript order; a label comes again after a change (add-rule,
 * block, unblock), and is then matched with its next line.
 * From rules/: zones wan (external), lan, dmz (DMZ preset); policies
 * lan -> wan, lan -> dmz, dmz -> wan accept, any -> self drop; nat lan-out
 * masquerade, dmz-out snat as 10.50.0.1, web forward wan tcp 8080 to
 * 10.50.2.10:80; rules ssh-admin (lan -> self tcp 22 from @admins, which
 * holds 10.50.1.10), dns (lan -> self udp 53), web-dmz6 (wan -> dmz tcp
 * 80,443 to fd50:2::10), wan-in (wan -> self drop).  The demo gives the
 * wan host routes to lan and dmz, so refusals are the firewall's.
 */
static const struct expect expects[] = {
	{ "lan -> wan 10.50.0.2:80/tcp", "ALLOWED", "seen from 10.50.0.1" },
	{ "lan -> wan [fd50::2]:80/tcp", "ALLOWED", "seen from fd50::1" },
	{ "lan -> dmz 10.50.2.10:80/tcp", "ALLOWED", "seen from 10.50.1.10" },
	{ "dmz -> wan 10.50.0.2:80/tcp", "ALLOWED", "seen from 10.50.0.1" },
	{ "wan -> router 10.50.0.1:8080/tcp", "ALLOWED",
	    "reached 10.50.2.10:80, seen from 10.50.0.2" },
	{ "wan -> dmz [fd50:2::10]:80/tcp", "ALLOWED", "seen from fd50::2" },
	{ "wan -> dmz 10.50.2.10:80/tcp", "REFUSED", NULL },
	{ "wan -> lan 10.50.1.10:22/tcp", "REFUSED", NULL },
	{ "dmz -> lan 10.50.1.10:22/tcp", "REFUSED", NULL },
	{ "dmz -> router 10.50.2.1:22/tcp", "REFUSED", NULL },
	{ "wan -> router 10.50.0.1:22/tcp", "REFUSED", NULL },
	{ "lan -> router 10.50.1.1:22/tcp", "ALLOWED", "seen from 10.50.1.10" },
	{ "lan -> router 10.50.1.1:53/udp", "ALLOWED", "seen from 10.50.1.10" },
	/* After `fwctl add-rule web-dmz from wan to dmz tcp dport 80 ...`. */
	{ "wan -> dmz 10.50.2.10:80/tcp", "ALLOWED", "seen from 10.50.0.2" },
	{ "wan -> dmz 10.50.2.10:22/tcp", "REFUSED", NULL },
	/* After `fwctl block 10.50.0.2`: drop-blocked comes first. */
	{ "wan -> router 10.50.0.1:8080/tcp", "REFUSED", NULL },
	/* After `fwctl unblock 10.50.0.2`. */
	{ "wan -> router 10.50.0.1:8080/tcp", "ALLOWED",
	    "reached 10.50.2.10:80, seen from 10.50.0.2" },
};

static char	 prefix[32];
static char	 demo[PATH_MAX];
static char	 copy[64];	/* a changed copy of tools/ and rules/ */

static void
demo_paths(void)
{
	const char *src = getenv("FWCTL_SRC");

	snprintf(prefix, sizeof(prefix), "fwdemo%ld", (long)getpid());
	snprintf(demo, sizeof(demo), "%s/tools/demo", src ? src : ".");
	snprintf(copy, sizeof(copy), "/tmp/%s.src", prefix);
}

/* Reads a whole file (NUL-terminated, length in *lenp); NULL if it cannot. */
static char *
slurp(const char *path, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
		if ((r = read(fd, buf + len, cap - len)) <= 0)
			break;
		len += r;
	}
	close(fd);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}

/* Output of a shell command (stdout and stderr), and its exit status. */
static char *
run(int *status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static char *
run(int *status, const char *fmt, ...)
{
	char cmd[2048], out[] = "/tmp/lab_demo.XXXXXX", *text;
	va_list ap;
	size_t n;
	int fd, st;

	ck_assert_int_ge(fd = mkstemp(out), 0);
	close(fd);
	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_uint_lt(n, sizeof(cmd) - 64);
	snprintf(cmd + n, sizeof(cmd) - n, " </dev/null >%s 2>&1", out);
	st = system(cmd);
	text = slurp(out, NULL);
	unlink(out);
	ck_assert_ptr_nonnull(text);
	if (status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return text;
}

/* Runs the demo with our prefix; its transcript, exit status and time. */
static char *
run_demo(const char *keep, int *status, double *secs)
{
	struct timespec t0, t1;
	char *text;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* timeout(1) sends TERM first: the demo's trap still cleans up. */
	text = run(status, "FWCTL_DEMO_PREFIX=%s KEEP=%s timeout -k 10 %d %s",
	    prefix, keep, 2 * DEMO_SECS, demo);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	return text;
}

/* Namespaces whose name starts with "<prefix>-", as a count. */
static int
count_namespaces(void)
{
	char pat[64], *out;
	int n = 0, st;
	char *p;

	out = run(&st, "ip netns list");
	ck_assert_msg(st == 0, "ip netns list: %s", out);
	snprintf(pat, sizeof(pat), "%s-", prefix);
	for (p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 :
	    NULL)
		if (strncmp(p, pat, strlen(pat)) == 0)
			n++;
	free(out);
	return n;
}

/*
 * Processes the demo started: every one of them inherits
 * FWCTL_DEMO_PREFIX=<our prefix> in its environment, whatever it is
 * (fwctld, a server, a shell), so that finds them all.
 */
static int
count_demo_processes(char *first, size_t firstlen)
{
	char path[300], want[64], *env, *cmd, *p;
	struct dirent *de;
	size_t len, i;
	DIR *d;
	int n = 0, found;

	snprintf(want, sizeof(want), "FWCTL_DEMO_PREFIX=%s", prefix);
	ck_assert_ptr_nonnull(d = opendir("/proc"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/environ", de->d_name);
		if ((env = slurp(path, &len)) == NULL)
			continue;	/* gone meanwhile */
		/* NUL-separated entries; slurp's own NUL ends the last. */
		found = 0;
		for (p = env; p < env + len; p += strlen(p) + 1)
			if (strcmp(p, want) == 0)
				found = 1;
		free(env);
		if (!found)
			continue;
		if (n++ == 0 && first) {
			snprintf(path, sizeof(path), "/proc/%s/cmdline",
			    de->d_name);
			if ((cmd = slurp(path, &len)) != NULL) {
				for (i = 0; i + 1 < len; i++)
					if (cmd[i] == '\0')
						cmd[i] = ' ';
				snprintf(first, firstlen, "%s: %s", de->d_name,
				    cmd);
				free(cmd);
			}
		}
	}
	closedir(d);
	return n;
}

/* The verdict word the transcript gives after label (at a line start),
 * from the idx-th such line (0-based); NULL if there is none. */
static char *
verdict_of(const char *text, const char *label, int idx, char **rest)
{
	const char *p = text, *v, *e;
	size_t len = strlen(label);

	for (; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, label, len) != 0 || p[len] != ' ')
			continue;
		if (idx-- > 0)
			continue;
		for (v = p + len; *v == ' '; v++)
			;
		for (e = v; *e && *e != ' ' && *e != '\n'; e++)
			;
		if (rest) {
			const char *nl = strchr(e, '\n');

			*rest = strndup(e, nl ? (size_t)(nl - e) : strlen(e));
		}
		return strndup(v, e - v);
	}
	return NULL;
}

static void
check_transcript(const char *text)
{
	size_t i, j;
	int idx;

	ck_assert_text(text, strstr(text, "$ fwctl status") != NULL,
	    "no `fwctl status` in the transcript");
	ck_assert_text(text, strstr(text, "$ fwctl list") != NULL,
	    "no `fwctl list` in the transcript");
	ck_assert_text(text, strstr(text, "$ fwctl add-rule") != NULL,
	    "no `fwctl add-rule` in the transcript");
	ck_assert_text(text, strstr(text, "$ fwctl block 10.50.0.2") != NULL,
	    "no `fwctl block` in the transcript");
	ck_assert_text(text, strstr(text, "WRONG") == NULL,
	    "the demo saw a verdict the rules do not predict");
	for (i = 0; i < sizeof(expects) / sizeof(expects[0]); i++) {
		char *v, *rest = NULL;

		/* The how-manyth line with this label this one is. */
		for (idx = 0, j = 0; j < i; j++)
			if (strcmp(expects[j].label, expects[i].label) == 0)
				idx++;
		v = verdict_of(text, expects[i].label, idx, &rest);
		ck_assert_text(text, v != NULL, "no line for '%s' (#%d)",
		    expects[i].label, idx + 1);
		ck_assert_text(text, strcmp(v, expects[i].verdict) == 0,
		    "'%s': %s, the rules say %s", expects[i].label, v,
		    expects[i].verdict);
		if (expects[i].seen)
			ck_assert_msg(strstr(rest, expects[i].seen) != NULL,
			    "'%s': expected '%s', got '%s'", expects[i].label,
			    expects[i].seen, rest);
		free(v);
		free(rest);
	}
}

static void
check_nothing_left(const char *tables_before)
{
	char what[512] = "", *tables_after;
	char path[PATH_MAX];
	struct stat sb;
	int st;

	ck_assert_msg(count_namespaces() == 0,
	    "namespaces %s-* are left behind", prefix);
	ck_assert_msg(count_demo_processes(what, sizeof(what)) == 0,
	    "processes of the demo are left behind (first: %s)", what);
	snprintf(path, sizeof(path), "/run/fwctl-demo/%s", prefix);
	ck_assert_msg(stat(path, &sb) == -1 && errno == ENOENT,
	    "%s is left behind", path);
	tables_after = run(&st, "nft list tables");
	ck_assert_int_eq(st, 0);
	ck_assert_msg(strcmp(tables_before, tables_after) == 0,
	    "the host namespace's tables changed:\nbefore:\n%s\nafter:\n%s",
	    tables_before, tables_after);
	if (strstr(tables_before, "table inet fwctl") == NULL)
		ck_assert_msg(strstr(tables_after, "table inet fwctl") == NULL,
		    "the demo made table inet fwctl in the host namespace");
	free(tables_after);
}

/* Each test starts from nothing, even after a failed one (a KEEP=1 run
 * that fails keeps its lab, for a user to look at). */
static void
demo_setup(void)
{
	char *out;

	out = run(NULL, "FWCTL_DEMO_PREFIX=%s %s down", prefix, demo);
	free(out);
}

/* Removes what a failed or crashed test left (runs in the parent). */
static void
demo_teardown(void)
{
	char *out;

	out = run(NULL, "{ FWCTL_DEMO_PREFIX=%s %s down; rm -rf %s; }",
	    prefix, demo, copy);
	free(out);
}

START_TEST(demo_runs_and_cleans_up)
{
	char *tables_before, *text;
	double secs;
	int st;

	ck_assert_msg(getuid() == 0, "the demo needs root (namespaces)");
	tables_before = run(&st, "nft list tables");
	ck_assert_msg(st == 0, "nft list tables: %s", tables_before);
	ck_assert_int_eq(count_namespaces(), 0);

	text = run_demo("", &st, &secs);
	ck_assert_text(text, st == 0, "tools/demo exited %d", st);
	ck_assert_msg(secs < DEMO_SECS, "tools/demo took %.1f s", secs);
	check_transcript(text);
	ck_assert_text(text, strstr(text, "cleaned up") != NULL,
	    "the demo did not say it cleaned up");
	check_nothing_left(tables_before);
	free(text);
	free(tables_before);
}
END_TEST

START_TEST(demo_keep_leaves_a_working_lab)
{
	char *tables_before, *text, *out, what[256];
	double secs;
	int st;

	ck_assert_msg(getuid() == 0, "the demo needs root (namespaces)");
	tables_before = run(&st, "nft list tables");
	ck_assert_int_eq(st, 0);

	text = run_demo("1", &st, &secs);
	ck_assert_text(text, st == 0, "tools/demo KEEP=1 exited %d", st);
	check_transcript(text);
	ck_assert_text(text, strstr(text, "tools/demo down") != NULL,
	    "KEEP=1 does not say how to remove the lab");
	ck_assert_text(text, strstr(text, "FWCTL_SOCKET=") != NULL,
	    "KEEP=1 does not say how to reach the daemon");
	ck_assert_int_eq(count_namespaces(), 4);
	ck_assert_int_gt(count_demo_processes(what, sizeof(what)), 0);

	/* The lab still works: the daemon answers, the table is there. */
	out = run(&st, "%s --socket /run/fwctl-demo/%s/fwctld.sock status",
	    getenv("FWCTL") ? getenv("FWCTL") : "cli/fwctl", prefix);
	ck_assert_msg(st == 0, "fwctl status on the kept lab: %s", out);
	free(out);
	out = run(&st, "ip netns exec %s-router nft list table inet fwctl",
	    prefix);
	ck_assert_msg(st == 0, "no table inet fwctl in the kept router: %s",
	    out);
	free(out);

	out = run(&st, "FWCTL_DEMO_PREFIX=%s %s down", prefix, demo);
	ck_assert_msg(st == 0, "tools/demo down exited %d: %s", st, out);
	free(out);
	check_nothing_left(tables_before);
	free(text);
	free(tables_before);
}
END_TEST

/* Interrupted in the middle, it still removes everything. */
START_TEST(demo_interrupted_cleans_up)
{
	char *tables_before, *text;
	int st;

	ck_assert_msg(getuid() == 0, "the demo needs root (namespaces)");
	tables_before = run(&st, "nft list tables");
	ck_assert_int_eq(st, 0);
	/* TERM once the daemon is up and connections are being made. */
	text = run(&st, "{ FWCTL_DEMO_PREFIX=%s %s & pid=$!; i=0; "
	    "while [ $i -lt 300 ] && ! [ -e /run/fwctl-demo/%s/servers ]; do "
	    "sleep 0.1; i=$((i+1)); done; kill -TERM $pid; wait $pid; }",
	    prefix, demo, prefix);
	ck_assert_text(text, strstr(text, "cleaned up") != NULL,
	    "interrupted, the demo did not say it cleaned up");
	ck_assert_text(text, st == 143, "tools/demo on SIGTERM exited %d", st);
	check_nothing_left(tables_before);
	free(text);
	free(tables_before);
}
END_TEST

/*
 * The demo judges for itself: with the masquerade taken out of a copy of
 * rules/, it must say WRONG on that line, exit non-zero, and still clean
 * up.
 */
START_TEST(demo_detects_a_wrong_verdict)
{
	char *tables_before, *text, *v, *rest = NULL, *out;
	const char *src = getenv("FWCTL_SRC") ? getenv("FWCTL_SRC") : ".";
	int st;

	ck_assert_msg(getuid() == 0, "the demo needs root (namespaces)");
	tables_before = run(&st, "nft list tables");
	ck_assert_int_eq(st, 0);
	out = run(&st, "rm -rf %s && mkdir %s && "
	    "cp -r '%s/tools' '%s/rules' %s/ && "
	    "grep -q '^nat lan-out masquerade' %s/rules/40-nat.rules && "
	    "sed -i '/^nat lan-out masquerade/d' %s/rules/40-nat.rules",
	    copy, copy, src, src, copy, copy, copy);
	ck_assert_msg(st == 0, "preparing the copy: %s", out);
	free(out);

	text = run(&st, "FWCTL_DEMO_PREFIX=%s FWCTL_SRC=%s timeout -k 10 %d "
	    "%s/tools/demo", prefix, copy, 2 * DEMO_SECS, copy);
	ck_assert_text(text, st == 1, "tools/demo exited %d, not 1", st);
	v = verdict_of(text, "lan -> wan 10.50.0.2:80/tcp", 0, &rest);
	ck_assert_text(text, v != NULL, "no line for lan -> wan "
	    "10.50.0.2:80/tcp");
	ck_assert_msg(strstr(rest, "WRONG") != NULL,
	    "without masquerade, lan -> wan is not called wrong: %s %s", v,
	    rest);
	ck_assert_text(text, strstr(text, "FAILED") != NULL,
	    "no FAILED summary");
	check_nothing_left(tables_before);
	free(v);
	free(rest);
	free(text);
	free(tables_before);
	out = run(NULL, "rm -rf %s", copy);
	free(out);
}
END_TEST

static Suite *
demo_suite(void)
{
	Suite *s = suite_create("demo");
	TCase *tc = tcase_create("demo");

	demo_paths();
	tcase_add_unchecked_fixture(tc, NULL, demo_teardown);
	tcase_add_checked_fixture(tc, demo_setup, NULL);
	tcase_set_timeout(tc, 3 * DEMO_MAX_SECS);
	tcase_add_test(tc, demo_runs_and_cleans_up);
	tcase_add_test(tc, demo_keep_leaves_a_working_lab);
	tcase_add_test(tc, demo_interrupted_cleans_up);
	tcase_add_test(tc, demo_detects_a_wrong_verdict);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(demo_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
