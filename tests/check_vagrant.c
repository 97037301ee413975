/*
 * vagrant/ and tools/demo, statically: the shell scripts parse (bash -n)
 * and pass shellcheck; the rule files use only the interface names that
 * vagrant/provision-router.sh knows how to adapt; and, when vagrant is
 * installed, `vagrant validate` accepts the Vagrantfile (it needs no
 * provider and no box).  Without vagrant that last check is not run, and
 * the suite says so instead of counting it as passed.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <ctype.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char	 src[PATH_MAX];

/* Reads a whole file, NUL-terminated; NULL if it cannot. */
static char *
slurp(const char *path)
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
	return buf;
}

/* Runs a shell command; its exit status, and its output in *outp. */
static int
run(char **outp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
run(char **outp, const char *fmt, ...)
{
	char cmd[4096], out[] = "/tmp/check_vagrant.XXXXXX";
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
	*outp = slurp(out);
	unlink(out);
	ck_assert_ptr_nonnull(*outp);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Also called while building the suite, outside any test: no ck_assert. */
static int
on_path(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* The shell scripts this suite checks: tools/demo and the provisioners. */
static void
scripts(glob_t *g)
{
	char pat[PATH_MAX + 32];

	snprintf(pat, sizeof(pat), "%s/vagrant/provision-*.sh", src);
	ck_assert_int_eq(glob(pat, 0, NULL, g), 0);
	snprintf(pat, sizeof(pat), "%s/tools/demo", src);
	ck_assert_int_eq(glob(pat, GLOB_APPEND, NULL, g), 0);
	/* provision-router.sh, provision-host.sh and tools/demo. */
	ck_assert_uint_ge(g->gl_pathc, 3);
}

START_TEST(scripts_parse)
{
	glob_t g;
	size_t i;
	char *out;
	int st;

	scripts(&g);
	for (i = 0; i < g.gl_pathc; i++) {
		st = run(&out, "bash -n '%s'", g.gl_pathv[i]);
		ck_assert_msg(st == 0, "bash -n %s:\n%s", g.gl_pathv[i], out);
		free(out);
	}
	globfree(&g);
}
END_TEST

START_TEST(scripts_pass_shellcheck)
{
	glob_t g;
	size_t i;
	char *out;
	int st;

	ck_assert_msg(on_path("shellcheck"),
	    "shellcheck is not installed (tools/deps installs it)");
	scripts(&g);
	for (i = 0; i < g.gl_pathc; i++) {
		st = run(&out, "shellcheck '%s'", g.gl_pathv[i]);
		ck_assert_msg(st == 0, "shellcheck %s:\n%s", g.gl_pathv[i],
		    out);
		free(out);
	}
	globfree(&g);
}
END_TEST

/*
 * provision-router.sh turns "wan0", "lan0" and "dmz0" (the namespace
 * lab's names) into the VM's interface names; any other interface named
 * in rules/ would reach the VM unchanged and match nothing there.
 */
START_TEST(rules_use_lab_interfaces)
{
	static const char *known[] = { "wan0", "lan0", "dmz0" };
	char pat[PATH_MAX + 32], word[64], *text, *p, *q;
	glob_t g;
	size_t i, k, n, seen = 0;

	snprintf(pat, sizeof(pat), "%s/rules/*.rules", src);
	ck_assert_msg(glob(pat, 0, NULL, &g) == 0, "no %s", pat);
	for (i = 0; i < g.gl_pathc; i++) {
		ck_assert_ptr_nonnull(text = slurp(g.gl_pathv[i]));
		/* Drop comments, so that words in them are not taken. */
		for (p = text; (p = strchr(p, '#')) != NULL; )
			while (*p && *p != '\n')
				*p++ = ' ';
		for (p = text; (p = strstr(p, "interface")) != NULL; ) {
			p += strlen("interface");
			if (isalnum((unsigned char)*p) || *p == '_')
				continue;	/* "interfaces", a name */
			/* One name, or a braced list of names. */
			for (q = p; *q && *q != ';' && *q != '}' &&
			    *q != '\n'; ) {
				while (*q == ' ' || *q == '\t' || *q == '{' ||
				    *q == ',')
					q++;
				for (n = 0; n < sizeof(word) - 1 &&
				    (isalnum((unsigned char)q[n]) ||
				    strchr("_.-*", q[n]) != NULL); n++)
					word[n] = q[n];
				word[n] = '\0';
				if (n == 0)
					break;
				q += n;
				for (k = 0; k < 3; k++)
					if (strcmp(word, known[k]) == 0)
						break;
				ck_assert_msg(k < 3, "%s names interface "
				    "'%s': vagrant/provision-router.sh only "
				    "adapts wan0, lan0 and dmz0",
				    g.gl_pathv[i], word);
				seen++;
			}
		}
		free(text);
	}
	globfree(&g);
	ck_assert_msg(seen >= 3, "rules/ names %zu interfaces; the example "
	    "ruleset has wan0, lan0 and dmz0", seen);
}
END_TEST

/* A private VAGRANT_HOME (no boxes, no plugins of the user's) and dotfile
 * path, so that nothing is written into vagrant/ or ~/.vagrant.d. */
static char	 vhome[] = "/tmp/check_vagrant_home.XXXXXX";

#define VAGRANT_ENV \
	"unset VAGRANT_DEFAULT_PROVIDER; VAGRANT_HOME=%s " \
	"VAGRANT_DOTFILE_PATH=%s/dot VAGRANT_CHECKPOINT_DISABLE=1"

/*
 * Everything but the provider settings: machines, networks, synced
 * folders, provisioners.  Needs no provider at all.
 */
START_TEST(vagrant_validate_core)
{
	char *out;
	int st;

	st = run(&out, "cd '%s/vagrant' && " VAGRANT_ENV
	    " vagrant validate --ignore-provider", src, vhome, vhome);
	ck_assert_msg(st == 0, "vagrant validate --ignore-provider exited "
	    "%d:\n%s", st, out);
	ck_assert_msg(strstr(out, "validated successfully") != NULL,
	    "vagrant validate did not say it validated:\n%s", out);
	free(out);
}
END_TEST

/* The same with the default provider's settings (libvirt's, when Debian's
 * vagrant-libvirt is installed); no box and no running libvirtd needed. */
START_TEST(vagrant_validate)
{
	char *out;
	int st;

	st = run(&out, "cd '%s/vagrant' && " VAGRANT_ENV " vagrant validate",
	    src, vhome, vhome);
	ck_assert_msg(st == 0, "vagrant validate exited %d:\n%s", st, out);
	ck_assert_msg(strstr(out, "validated successfully") != NULL,
	    "vagrant validate did not say it validated:\n%s", out);
	free(out);
}
END_TEST

/* Whether vagrant finds a usable provider here (it says so if not). */
static int
vagrant_has_provider(void)
{
	char cmd[2 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "cd '%s/vagrant' && " VAGRANT_ENV
	    " vagrant validate 2>&1 | grep -q 'No usable default provider'",
	    src, vhome, vhome);
	return system(cmd) != 0;
}

static Suite *
vagrant_suite(void)
{
	Suite *s = suite_create("vagrant");
	const char *env = getenv("FWCTL_SRC");
	TCase *tc;

	snprintf(src, sizeof(src), "%s", env ? env : ".");
	tc = tcase_create("scripts");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, scripts_parse);
	tcase_add_test(tc, scripts_pass_shellcheck);
	tcase_add_test(tc, rules_use_lab_interfaces);
	suite_add_tcase(s, tc);
	if (!on_path("vagrant")) {
		printf("vagrant not installed: vagrant validate not run\n");
		return s;
	}
	if (mkdtemp(vhome) == NULL) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
	tc = tcase_create("vagrant");
	/* Vagrant loads its plugins first: a few seconds. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, vagrant_validate_core);
	if (vagrant_has_provider())
		tcase_add_test(tc, vagrant_validate);
	else
		printf("vagrant has no usable provider (install "
		    "vagrant-libvirt): the provider settings are not "
		    "validated\n");
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(vagrant_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (vhome[sizeof(vhome) - 7] != 'X') {	/* made by mkdtemp */
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", vhome);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", vhome);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
