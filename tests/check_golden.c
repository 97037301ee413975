/*
 * Golden files through `fwctld -nv` (check_main), like bgpd's regress
 * tests: tests/golden/NAME.rules gives exactly NAME.out on stdout (valid
 * input), or exactly NAME.err on stderr (invalid input, file:line:col per
 * line). Each case runs in a directory of its own holding only its file,
 * named "./NAME.rules" in messages, so the expectations do not depend on
 * where the tree lives.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkmode.h"
#include "diag.h"
#include "parse.h"
#include "print.h"
#include "ruleset.h"

#define GOLDEN_MAX	128

static char	*golden_dir;
static char	*cases[GOLDEN_MAX];	/* NAME of each NAME.rules */
static size_t	 ncases;

static const char *
src_dir(void)
{
	const char *s = getenv("FWCTL_SRC");

	return s != NULL && *s != '\0' ? s : ".";
}

/* The whole file, or NULL when it does not exist. */
static char *
slurp(const char *path)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, n;
	char	 chunk[4096];
	FILE	*m;

	if ((f = fopen(path, "r")) == NULL) {
		ck_assert_msg(errno == ENOENT, "%s: %s", path, strerror(errno));
		return NULL;
	}
	ck_assert_ptr_nonnull(m = open_memstream(&buf, &len));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	ck_assert(!ferror(f));
	fclose(f);
	fclose(m);
	return buf;
}

struct run {
	int	 status;
	char	*out;
	char	*err;
};

/* check_main on a directory holding only NAME.rules, run from inside it. */
static void
run_case_fatal(const char *name, bool verbose, bool fatal, struct run *r)
{
	char	 tmpl[] = "/tmp/fwctl-golden.XXXXXX", *src, *link, cwd[PATH_MAX];
	size_t	 olen = 0, elen = 0;
	FILE	*out, *err;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_int_ne(asprintf(&src, "%s/%s.rules", golden_dir, name), -1);
	ck_assert_int_ne(asprintf(&link, "%s/%s.rules", tmpl, name), -1);
	ck_assert_int_eq(symlink(src, link), 0);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tmpl), 0);

	ck_assert_ptr_nonnull(out = open_memstream(&r->out, &olen));
	ck_assert_ptr_nonnull(err = open_memstream(&r->err, &elen));
	r->status = check_main(".", verbose, fatal, out, err);
	fclose(out);
	fclose(err);

	ck_assert_int_eq(chdir(cwd), 0);
	unlink(link);
	rmdir(tmpl);
	free(link);
	free(src);
}

static void
run_case(const char *name, bool verbose, struct run *r)
{
	run_case_fatal(name, verbose, false, r);
}

START_TEST(golden_case)
{
	const char	*name = cases[_i];
	char		*path, *want_out, *want_err, *want_warn;
	struct run	 r;

	ck_assert_int_ne(asprintf(&path, "%s/%s.out", golden_dir, name), -1);
	want_out = slurp(path);
	free(path);
	ck_assert_int_ne(asprintf(&path, "%s/%s.err", golden_dir, name), -1);
	want_err = slurp(path);
	free(path);
	ck_assert_int_ne(asprintf(&path, "%s/%s.warn", golden_dir, name), -1);
	want_warn = slurp(path);
	free(path);
	ck_assert_msg((want_out == NULL) != (want_err == NULL),
	    "%s: expected exactly one of %s.out and %s.err", name, name, name);

	run_case(name, true, &r);
	if (want_out != NULL) {
		ck_assert_msg(r.status == 0, "%s: status %d, errors:\n%s", name,
		    r.status, r.err);
		ck_assert_msg(strcmp(r.err, want_warn ? want_warn : "") == 0,
		    "%s: warnings differ\n--- got:\n%s--- want:\n%s", name,
		    r.err, want_warn ? want_warn : "");
		ck_assert_msg(strcmp(r.out, want_out) == 0,
		    "%s: output differs\n--- got:\n%s--- want:\n%s", name,
		    r.out, want_out);
		free(r.out);
		free(r.err);
		/* --warnings-fatal: the same words, and a failure when
		 * there are warnings */
		run_case_fatal(name, false, true, &r);
		ck_assert_int_eq(r.status, want_warn != NULL ? 3 : 0);
		ck_assert_str_eq(r.err, want_warn ? want_warn : "");
	} else {
		ck_assert_msg(want_warn == NULL, "%s: a .warn beside a .err",
		    name);
		ck_assert_msg(r.status == 1, "%s: status %d, want 1", name,
		    r.status);
		ck_assert_msg(strcmp(r.out, "") == 0, "%s: printed although "
		    "invalid:\n%s", name, r.out);
		ck_assert_msg(strcmp(r.err, want_err) == 0,
		    "%s: errors differ\n--- got:\n%s--- want:\n%s", name,
		    r.err, want_err);
	}
	free(r.out);
	free(r.err);
	free(want_out);
	free(want_err);
	free(want_warn);
}
END_TEST

/* A canonical text is a fixed point: NAME.out through -nv is NAME.out. */
START_TEST(golden_out_is_canonical)
{
	const char	*name = cases[_i];
	char		*path, *text, *again;
	struct ruleset	*rs;
	struct diags	 d;

	ck_assert_int_ne(asprintf(&path, "%s/%s.out", golden_dir, name), -1);
	if ((text = slurp(path)) == NULL) {
		free(path);
		return;		/* an invalid case: nothing to reprint */
	}
	diags_init(&d);
	ck_assert_ptr_nonnull(rs = ruleset_new());
	ck_assert_int_eq(parse_buffer(rs, path, text, strlen(text), &d), 0);
	ck_assert_int_eq(validate_ruleset(rs, &d), 0);
	ck_assert_ptr_nonnull(again = print_ruleset_str(rs));
	ck_assert_str_eq(again, text);
	free(again);
	free(text);
	free(path);
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

/* Without -v a valid ruleset prints nothing but its warnings (the
 * SPEC's example keeps its block list out of the zones only); an invalid
 * one the same errors. */
START_TEST(golden_quiet)
{
	struct run r;
	char	*path, *warn;

	run_case("spec-example", false, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "");
	ck_assert_int_ne(asprintf(&path, "%s/spec-example.warn", golden_dir),
	    -1);
	warn = slurp(path);
	free(path);
	ck_assert_str_eq(r.err, warn ? warn : "");
	free(warn);
	free(r.out);
	free(r.err);
	run_case("bad-port", false, &r);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_ptr_nonnull(strstr(r.err, "./bad-port.rules:2:35: "));
	free(r.out);
	free(r.err);
}
END_TEST

/* The daemon itself: warnings are not errors, unless asked for. */
START_TEST(warnings_fatal_binary)
{
	const char	*bin = getenv("FWCTLD");
	char		 tmpl[] = "/tmp/fwctl-golden.XXXXXX", *cmd;
	int		 st;

	ck_assert_msg(bin != NULL && *bin != '\0', "FWCTLD is not set");
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_int_ne(asprintf(&cmd, "ln -s %s/lint-never.rules %s/ && "
	    "%s -n --rules-dir %s 2>/dev/null", golden_dir, tmpl, bin, tmpl),
	    -1);
	st = system(cmd);
	free(cmd);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_int_ne(asprintf(&cmd, "%s -n --warnings-fatal --rules-dir "
	    "%s 2>/dev/null", bin, tmpl), -1);
	st = system(cmd);
	free(cmd);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %d", st);
	ck_assert_int_ne(asprintf(&cmd, "rm -rf %s", tmpl), -1);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}
END_TEST

START_TEST(check_unreadable)
{
	char	*out = NULL, *err = NULL;
	size_t	 olen = 0, elen = 0;
	FILE	*fo = open_memstream(&out, &olen), *fe;

	fe = open_memstream(&err, &elen);
	ck_assert_int_eq(check_main("/nonexistent/fwctl-rules", true, false,
	    fo, fe), 2);
	fclose(fo);
	fclose(fe);
	ck_assert_str_eq(out, "");
	ck_assert_msg(strstr(err, "/nonexistent/fwctl-rules") != NULL &&
	    strstr(err, "No such file or directory") != NULL, "%s", err);
	free(out);
	free(err);
}
END_TEST

/* The example ruleset shipped in rules/ passes the check and prints. */
START_TEST(check_example_rules)
{
	char	*dir, *out = NULL, *err = NULL;
	size_t	 olen = 0, elen = 0;
	FILE	*fo = open_memstream(&out, &olen), *fe;

	fe = open_memstream(&err, &elen);
	ck_assert_int_ne(asprintf(&dir, "%s/rules", src_dir()), -1);
	ck_assert_int_eq(check_main(dir, true, false, fo, fe), 0);
	fclose(fo);
	fclose(fe);
	ck_assert_msg(strcmp(err, "") == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(out, "zone wan { interface wan0; "
	    "external }\n"));
	ck_assert_ptr_nonnull(strstr(out, "zone dmz { interface dmz0; network "
	    "10.50.2.0/24, fd50:2::/64; dmz }\n"));
	ck_assert_ptr_nonnull(strstr(out, "nat web forward from wan tcp dport "
	    "8080 to 10.50.2.10:80\n"));
	free(dir);
	free(out);
	free(err);
}
END_TEST

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Finds the cases before the suite is built: one loop test per file. */
static void
find_cases(void)
{
	DIR		*dp;
	struct dirent	*de;
	size_t		 len;

	char		*rel;

	if (asprintf(&rel, "%s/tests/golden", src_dir()) == -1)
		abort();
	/* absolute: the cases link to their files from elsewhere */
	if ((golden_dir = realpath(rel, NULL)) == NULL ||
	    (dp = opendir(golden_dir)) == NULL) {
		fprintf(stderr, "%s: %s (set FWCTL_SRC to the source tree)\n",
		    rel, strerror(errno));
		exit(EXIT_FAILURE);
	}
	free(rel);
	while ((de = readdir(dp)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 6 || strcmp(de->d_name + len - 6, ".rules") != 0)
			continue;
		if (ncases == GOLDEN_MAX) {
			fprintf(stderr, "more than %d golden cases\n",
			    GOLDEN_MAX);
			exit(EXIT_FAILURE);
		}
		if ((cases[ncases++] = strndup(de->d_name, len - 6)) == NULL)
			abort();
	}
	closedir(dp);
	qsort(cases, ncases, sizeof(*cases), name_cmp);
}

int
main(void)
{
	Suite	*s;
	TCase	*tc;
	SRunner	*sr;
	int	 failed;
	size_t	 i, nout = 0, nerr = 0;
	char	*path;

	find_cases();
	/* the suite must hold enough of both kinds to mean something */
	for (i = 0; i < ncases; i++) {
		if (asprintf(&path, "%s/%s.out", golden_dir, cases[i]) == -1)
			abort();
		if (access(path, F_OK) == 0)
			nout++;
		else
			nerr++;
		free(path);
	}
	printf("golden: %zu valid and %zu invalid cases in %s\n", nout, nerr,
	    golden_dir);
	if (nout < 8 || nerr < 5) {
		fprintf(stderr, "too few golden cases\n");
		return EXIT_FAILURE;
	}

	s = suite_create("golden");
	tc = tcase_create("files");
	tcase_add_loop_test(tc, golden_case, 0, (int)ncases);
	tcase_add_loop_test(tc, golden_out_is_canonical, 0, (int)ncases);
	tcase_add_test(tc, golden_quiet);
	tcase_add_test(tc, check_unreadable);
	tcase_add_test(tc, warnings_fatal_binary);
	tcase_add_test(tc, check_example_rules);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (i = 0; i < ncases; i++)
		free(cases[i]);
	free(golden_dir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
