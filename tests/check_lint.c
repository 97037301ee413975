/*
 * lint.c on rulesets made in code: the golden .warn files show the
 * words; here, that the buckets find what a pair-by-pair search would,
 * in rulesets of tens of thousands of rules, and what is not a shadow.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "lint.h"
#include "parse.h"
#include "ruleset.h"

static struct ruleset *
load(const char *text)
{
	struct ruleset *rs = ruleset_new();
	struct diags d;

	diags_init(&d);
	ck_assert_int_eq(parse_buffer(rs, "l.rules", text, strlen(text), &d),
	    0);
	ck_assert_int_eq(validate_ruleset(rs, &d), 0);
	diags_free(&d);
	return rs;
}

/* The warnings' messages, one a line, without their place. */
static char *
lint_text(const struct ruleset *rs, int *n)
{
	struct diags d;
	char *s = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&s, &len);

	ck_assert_ptr_nonnull(f);
	diags_init(&d);
	*n = lint_ruleset(rs, &d);
	for (i = 0; i < d.n; i++)
		fprintf(f, "%d: %s\n", d.v[i].line, d.v[i].msg);
	fclose(f);
	diags_free(&d);
	return s;
}

static const char zones[] =
    "zone lan { interface lan0 }\n"
    "zone wan { interface wan0; external }\n";

/* Many rules alike but for one port or host: none shadows another; a
 * broad rule early shadows one at the end, found through its buckets. */
START_TEST(large_ruleset)
{
	char *text, *s;
	FILE *f;
	size_t len = 0;
	struct ruleset *rs;
	int i, n;

	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	fputs(zones, f);
	fputs("rule broad from lan to wan tcp src 10.9.0.0/16 drop\n", f);
	for (i = 0; i < 20000; i++)
		fprintf(f, "rule p%d from lan to wan tcp dport %d accept\n", i,
		    1 + i % 60000);
	for (i = 0; i < 20000; i++)
		fprintf(f, "rule h%d from lan to self tcp dport 22 src "
		    "10.%d.%d.%d accept\n", i, i >> 16 & 255, i >> 8 & 255,
		    i & 255);
	fputs("rule late from lan to wan tcp dport 80 src 10.9.1.1 accept\n",
	    f);
	fputs("rule again from lan to self tcp dport 22 src 10.0.0.7 drop\n",
	    f);
	fclose(f);
	rs = load(text);
	s = lint_text(rs, &n);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(s, "40004: warning: rule \"late\" never matches: rule "
	    "\"broad\" (at l.rules:3:1) comes first and matches every packet "
	    "it would (drop)\n"
	    "40005: warning: rule \"again\" never matches: rule \"h7\" (at "
	    "l.rules:20011:1) comes first and matches every packet it would "
	    "(accept)\n");
	free(s);
	free(text);
	ruleset_free(rs);
}
END_TEST

/* What covers and what does not. */
START_TEST(cover_cases)
{
	static const struct {
		const char	*rules;
		bool		 shadowed;	/* the last rule */
	} c[] = {
		{ "rule a from any to self drop\n"
		  "rule b from lan to self tcp dport 22 accept\n", true },
		{ "rule a from any to any drop\n"
		  "rule b from lan to self tcp dport 22 accept\n", false },
		{ "rule a from lan to self tcp dport 20-30 accept\n"
		  "rule b from lan to self tcp dport { 22, 25-26 } drop\n", true },
		{ "rule a from lan to self tcp dport 20-30 accept\n"
		  "rule b from lan to self tcp dport { 22, 25-36 } drop\n",
		  false },
		{ "rule a from lan to self udp accept\n"
		  "rule b from lan to self tcp accept\n", false },
		{ "rule a from lan to self accept limit 1/second\n"
		  "rule b from lan to self accept\n", false },
		{ "rule a from lan to self ip4 accept\n"
		  "rule b from lan to self src 10.0.0.1 accept\n", true },
		{ "rule a from lan to self ip4 accept\n"
		  "rule b from lan to self src { 10.0.0.1, fd00::1 } accept\n",
		  false },
		{ "rule a from lan to self state new drop\n"
		  "rule b from lan to self accept\n", false },
		{ "rule a from lan to self state established drop\n"
		  "rule b from lan to self state new accept\n", false },
		{ "set s ipv4\nrule a from lan to self src @s drop\n"
		  "rule b from lan to self src @s tcp accept\n", true },
		{ "set s ipv4\nrule a from lan to self src @s drop\n"
		  "rule b from lan to self src 10.0.0.1 accept\n", false },
		{ "rule a from lan to self icmp type echo-request accept\n"
		  "rule b from lan to self icmp accept\n", false },
	};
	struct ruleset *rs;
	char text[1024], *s;
	size_t i;
	int n;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", zones, c[i].rules);
		rs = load(text);
		s = lint_text(rs, &n);
		ck_assert_msg((strstr(s, "rule \"b\" never matches: rule "
		    "\"a\"") != NULL) == c[i].shadowed, "case %zu: %s", i, s);
		free(s);
		ruleset_free(rs);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("lint");
	TCase *tc = tcase_create("lint");
	SRunner *sr;
	int nf;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, large_ruleset);
	tcase_add_test(tc, cover_cases);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
