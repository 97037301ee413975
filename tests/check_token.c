/*
 * token.c: the tokens file and the check of a presented token. Lines
 * with scopes and crypt(3) hashes, the older NAME TOKEN form, every bad
 * line reported at its line, a token matched by its hash only, never by
 * a prefix, a longer string or another entry's hash.
 */
#include <check.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

#define RO	"ro-token-0123456789abcdef"
#define RW	"rw-token-0123456789abcdef"

/* A crypt(3) hash of tok with a fresh salt of method prefix ("$6$"). */
static char *
hash(const char *prefix, const char *tok)
{
	struct crypt_data	 cd;
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*h;

	memset(&cd, 0, sizeof(cd));
	ck_assert_ptr_nonnull(crypt_gensalt_rn(prefix, 0, NULL, 0, salt,
	    sizeof(salt)));
	h = crypt_r(tok, salt, &cd);
	ck_assert_ptr_nonnull(h);
	ck_assert(h[0] == '$');
	return strdup(h);
}

START_TEST(scopes_and_hashes)
{
	struct tokens		*t;
	struct diags		 d;
	enum token_scope	 sc = TOKEN_WRITE;
	char			*h6 = hash("$6$", RO), *hy = hash("$y$", RW);
	char			 text[1024];
	size_t			 clear;

	snprintf(text, sizeof(text), "# name scope hash\n\n"
	    "  ro read %s\n"
	    "admin write %s\n"
	    "f2b elements %s\n"
	    "legacy legacy-token-0123456789\n", h6, hy, h6);
	diags_init(&d);
	t = token_parse(text, "tokens", &clear, &d);
	ck_assert_msg(t != NULL, "%s", d.n ? d.v[0].msg : "");
	ck_assert_uint_eq(token_count(t), 4);
	ck_assert_uint_eq(clear, 1);
	/* the first entry whose hash it is */
	ck_assert_str_eq(token_check(t, RO, &sc), "ro");
	ck_assert_int_eq(sc, TOKEN_READ);
	ck_assert_str_eq(token_check(t, RW, &sc), "admin");
	ck_assert_int_eq(sc, TOKEN_WRITE);
	ck_assert_str_eq(token_check(t, "legacy-token-0123456789", &sc),
	    "legacy");
	ck_assert_int_eq(sc, TOKEN_WRITE);
	/* near misses, the hash itself, nothing */
	ck_assert_ptr_null(token_check(t, RO "x", &sc));
	ck_assert_ptr_null(token_check(t, "ro-token-0123456789abcde", &sc));
	ck_assert_ptr_null(token_check(t, h6, &sc));
	ck_assert_ptr_null(token_check(t, "legacy-token-012345678", &sc));
	ck_assert_ptr_null(token_check(t, "", &sc));
	ck_assert_str_eq(token_scope_name(TOKEN_ELEMENTS), "elements");
	token_free(t);
	diags_free(&d);
	free(h6);
	free(hy);
}
END_TEST

START_TEST(bad_lines_at_their_line)
{
	struct diags	 d;
	size_t		 clear;
	static const char text[] =
	    "# tokens\n"
	    "ok read $6$abcdefgh$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	    "\n"
	    "short tiny\n"				/* 4 */
	    "who admin $6$x$y\n"			/* 5: a scope? */
	    "bad$name write-token-0123456789\n"		/* 6 */
	    "three words here and more\n"		/* 7 */
	    "x write $zz$notahash\n";			/* 8 */

	diags_init(&d);
	ck_assert_ptr_null(token_parse(text, "tokens", &clear, &d));
	ck_assert_uint_eq(d.n, 5);
	ck_assert_int_eq(d.v[0].line, 4);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "16 to 256"));
	ck_assert_int_eq(d.v[1].line, 5);
	ck_assert_ptr_nonnull(strstr(d.v[1].msg, "read, elements or write"));
	ck_assert_int_eq(d.v[2].line, 6);
	ck_assert_int_eq(d.v[3].line, 7);
	ck_assert_int_eq(d.v[4].line, 8);
	ck_assert_ptr_nonnull(strstr(d.v[4].msg, "crypt(3)"));
	diags_free(&d);
	/* a file of comments only holds no token */
	diags_init(&d);
	ck_assert_ptr_null(token_parse("# none\n", "tokens", &clear, &d));
	ck_assert_uint_eq(d.n, 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "no tokens"));
	diags_free(&d);
}
END_TEST

static Suite *
token_suite(void)
{
	Suite	*s = suite_create("token");
	TCase	*tc = tcase_create("token");

	tcase_add_test(tc, scopes_and_hashes);
	tcase_add_test(tc, bad_lines_at_their_line);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(token_suite());
	int	 nfailed;

	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
