/*
 * state.c: the state file round-trips, is replaced atomically, keeps a
 * bounded history, and a damaged file is reported and passed over.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "parse.h"
#include "state.h"

static const char rules_text[] =
    "zone wan { interface eth0; external }\n"
    "zone lan { interface eth1; network 192.168.10.0/24 }\n"
    "set blocklist ipv4 { timeout 1h }\n"
    "set admins ipv4 { 192.168.10.5, 192.168.10.6 }\n"
    "policy lan -> wan accept\n"
    "rule ssh from lan to self tcp dport 22 src @admins accept\n"
    "rule web from any to self tcp dport { 80, 443 } accept\n"
    "nat masq masquerade from lan to wan\n";

static char	tmpdir[64];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fwctl-state-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char	 cmd[PATH_MAX + 16];

	if (tmpdir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static struct ruleset *
sample(void)
{
	struct ruleset	*rs = ruleset_new();
	struct diags	 d;

	diags_init(&d);
	ck_assert_ptr_nonnull(rs);
	ck_assert_int_eq(parse_buffer(rs, "t.rules", rules_text,
	    strlen(rules_text), &d), 0);
	ck_assert_int_eq(validate_ruleset(rs, &d), 0);
	diags_free(&d);
	return rs;
}

static void
write_file(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static size_t
count_history(void)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	size_t		 n = 0;

	snprintf(path, sizeof(path), "%s/history", tmpdir);
	ck_assert_ptr_nonnull(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

START_TEST(test_roundtrip)
{
	struct ruleset	*rs = sample(), *back = NULL;
	struct diags	 d;
	uint64_t	 gen = 0;

	diags_init(&d);
	ck_assert_int_eq(state_save(tmpdir, 7, rs, &d), 0);
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 1);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(gen, 7);
	ck_assert(ruleset_equal(rs, back));
	ruleset_free(rs);
	ruleset_free(back);
	diags_free(&d);
}
END_TEST

START_TEST(test_empty_dir)
{
	struct ruleset	*rs = NULL;
	struct diags	 d;
	uint64_t	 gen = 99;

	diags_init(&d);
	ck_assert_int_eq(state_load(tmpdir, &gen, &rs, &d), 0);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(gen, 0);
	ck_assert_uint_eq(d.n, 0);
	diags_free(&d);
}
END_TEST

START_TEST(test_history_bounded)
{
	struct ruleset	*rs = sample(), *back = NULL;
	struct diags	 d;
	char		 path[PATH_MAX];
	uint64_t	 g, gen = 0;

	diags_init(&d);
	for (g = 1; g <= 9; g++)
		ck_assert_int_eq(state_save(tmpdir, g, rs, &d), 0);
	ck_assert_uint_eq(count_history(), STATE_HISTORY);
	/* the newest are kept, the oldest gone */
	snprintf(path, sizeof(path), "%s/history/9.json", tmpdir);
	ck_assert_int_eq(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/history/5.json", tmpdir);
	ck_assert_int_eq(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/history/4.json", tmpdir);
	ck_assert_int_ne(access(path, F_OK), 0);
	/* no temporary file left behind */
	snprintf(path, sizeof(path), "%s/.state.json.tmp", tmpdir);
	ck_assert_int_ne(access(path, F_OK), 0);
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 1);
	ck_assert_uint_eq(gen, 9);
	ruleset_free(back);
	ruleset_free(rs);
	diags_free(&d);
}
END_TEST

START_TEST(test_corrupt_falls_back)
{
	struct ruleset	*rs = sample(), *rs2, *back = NULL;
	struct diags	 d;
	char		 path[PATH_MAX];
	uint64_t	 gen = 0;

	diags_init(&d);
	ck_assert_int_eq(state_save(tmpdir, 3, rs, &d), 0);
	rs2 = ruleset_dup(rs);
	rule_free(ruleset_remove_rule(rs2, 0));
	ck_assert_int_eq(state_save(tmpdir, 4, rs2, &d), 0);
	/* a torn write of state.json; history/4.json is a separate name */
	snprintf(path, sizeof(path), "%s/state.json", tmpdir);
	ck_assert_int_eq(unlink(path), 0);
	write_file(path, "{\"generation\": 4, \"ruleset\": {\"zones\": [");
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 1);
	ck_assert_uint_gt(d.n, 0);	/* the damage is reported */
	ck_assert_ptr_nonnull(strstr(d.v[0].file, "state.json"));
	ck_assert_uint_eq(gen, 4);
	ck_assert(ruleset_equal(back, rs2));
	ruleset_free(back);
	diags_free(&d);

	/* every file damaged: nothing loads, numbering goes on */
	snprintf(path, sizeof(path), "%s/history/4.json", tmpdir);
	ck_assert_int_eq(unlink(path), 0);
	write_file(path, "garbage");
	snprintf(path, sizeof(path), "%s/history/3.json", tmpdir);
	ck_assert_int_eq(unlink(path), 0);
	write_file(path, "{}");
	diags_init(&d);
	back = NULL;
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 0);
	ck_assert_ptr_null(back);
	ck_assert_uint_eq(gen, 4);
	ck_assert_uint_ge(d.n, 3);
	ruleset_free(rs);
	ruleset_free(rs2);
	diags_free(&d);
}
END_TEST

START_TEST(test_strict_decode)
{
	static const char *const bad[] = {
		"{\"generation\": 1, \"ruleset\": {}, \"extra\": 1}",
		"{\"generation\": -1, \"ruleset\": {}}",
		"{\"generation\": \"1\", \"ruleset\": {}}",
		"{\"generation\": 1}",
		"{\"generation\": 1, \"ruleset\": {\"rules\": [{\"name\": \"x\","
		    " \"from\": \"nowhere\", \"to\": \"self\","
		    " \"verdict\": \"accept\"}]}}",
		"{\"generation\": 1, \"ruleset\": {\"bogus\": []}}",
		"[1, 2]",
		"{\"generation\": 1, \"generation\": 2, \"ruleset\": {}}",
	};
	struct ruleset	*rs;
	struct diags	 d;
	uint64_t	 gen;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		diags_init(&d);
		gen = 0;
		rs = state_decode(bad[i], strlen(bad[i]), "s.json", &gen, &d);
		ck_assert_msg(rs == NULL, "accepted: %s", bad[i]);
		ck_assert_msg(d.n > 0, "no reason given for: %s", bad[i]);
		diags_free(&d);
	}
	diags_init(&d);
	rs = state_decode("{\"generation\": 12, \"ruleset\": {}}", 33,
	    "s.json", &gen, &d);
	ck_assert_ptr_nonnull(rs);
	ck_assert_uint_eq(gen, 12);
	ruleset_free(rs);
	diags_free(&d);
}
END_TEST

START_TEST(test_save_fails_cleanly)
{
	struct ruleset	*rs = sample(), *back = NULL;
	struct diags	 d;
	char		 path[PATH_MAX];
	uint64_t	 gen;

	diags_init(&d);
	/* a state "directory" that is a file cannot be written */
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	write_file(path, "x");
	snprintf(path, sizeof(path), "%s/file/sub", tmpdir);
	ck_assert_int_eq(state_save(path, 1, rs, &d), -1);
	ck_assert_uint_gt(d.n, 0);
	diags_free(&d);
	/* and a failed save leaves the previous state whole */
	diags_init(&d);
	ck_assert_int_eq(state_save(tmpdir, 5, rs, &d), 0);
	snprintf(path, sizeof(path), "%s/.state.json.tmp", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);	/* blocks the temp file */
	ck_assert_int_eq(state_save(tmpdir, 6, rs, &d), -1);
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 1);
	ck_assert_uint_eq(gen, 5);
	ck_assert(ruleset_equal(rs, back));
	ruleset_free(back);
	ruleset_free(rs);
	diags_free(&d);
}
END_TEST

START_TEST(test_expiry_kept)
{
	struct ruleset	*rs = sample(), *back = NULL;
	struct set_elem	 el;
	struct diags	 d;
	ssize_t		 k;
	uint64_t	 gen;
	const char	*why;

	diags_init(&d);
	k = ruleset_find_set(rs, "blocklist");
	ck_assert_int_ge(k, 0);
	memset(&el, 0, sizeof(el));
	ck_assert_int_eq(addr_parse("203.0.113.7", &el.key.addr, &why), 0);
	el.timeout_ms = 600000;
	el.expires_ms = 4102444800000ULL;	/* 2100-01-01 */
	ck_assert_int_eq(set_add_elem(rs->sets[k], &el), 0);
	ck_assert_int_eq(state_save(tmpdir, 2, rs, &d), 0);
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 1);
	k = ruleset_find_set(back, "blocklist");
	ck_assert_uint_eq(back->sets[k]->nelems, 1);
	ck_assert_uint_eq(back->sets[k]->elems[0].timeout_ms, 600000);
	ck_assert_uint_eq(back->sets[k]->elems[0].expires_ms,
	    4102444800000ULL);
	ruleset_free(back);
	ruleset_free(rs);
	diags_free(&d);
}
END_TEST

static Suite *
state_suite(void)
{
	Suite	*s = suite_create("state");
	TCase	*tc = tcase_create("state");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_empty_dir);
	tcase_add_test(tc, test_history_bounded);
	tcase_add_test(tc, test_corrupt_falls_back);
	tcase_add_test(tc, test_strict_decode);
	tcase_add_test(tc, test_save_fails_cleanly);
	tcase_add_test(tc, test_expiry_kept);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(state_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
