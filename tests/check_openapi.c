/*
 * docs/openapi.yaml and the routes table of api.c describe the same API:
 * every route is documented, and nothing documented is missing.  The YAML
 * is read line by line: "  /path:" at indent 2 under "paths:", methods at
 * indent 4.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "api.h"

#define MAXOPS	256

struct op {
	char	 method[16];
	char	 path[128];
};

static struct op	yops[MAXOPS];
static size_t		nyops;

static void
load_yaml(void)
{
	const char	*src = getenv("FWCTL_SRC");
	char		 file[4096], line[1024], path[128] = "";
	FILE		*f;
	bool		 inpaths = false;
	size_t		 len, i;

	snprintf(file, sizeof(file), "%s/docs/openapi.yaml", src ? src : ".");
	f = fopen(file, "r");
	ck_assert_msg(f != NULL, "cannot open %s", file);
	nyops = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (line[0] != ' ' && line[0] != '#' && line[0] != '\0') {
			inpaths = strcmp(line, "paths:") == 0;
			continue;
		}
		if (!inpaths)
			continue;
		if (strncmp(line, "  /", 3) == 0 && line[len - 1] == ':') {
			ck_assert_uint_lt(len - 3, sizeof(path));
			memcpy(path, line + 2, len - 3);
			path[len - 3] = '\0';
			continue;
		}
		if (strncmp(line, "    ", 4) == 0 && islower((unsigned char)
		    line[4]) && line[len - 1] == ':' && path[0] != '\0') {
			static const char *const methods[] = { "get", "put",
			    "post", "delete", "patch", "head", "options" };

			line[len - 1] = '\0';
			for (i = 0; i < sizeof(methods) / sizeof(methods[0]);
			    i++)
				if (strcmp(line + 4, methods[i]) == 0)
					break;
			if (i == sizeof(methods) / sizeof(methods[0]))
				continue;	/* "parameters:" and the like */
			ck_assert_uint_lt(nyops, MAXOPS);
			for (i = 0; line[4 + i]; i++)
				yops[nyops].method[i] =
				    (char)toupper((unsigned char)line[4 + i]);
			yops[nyops].method[i] = '\0';
			snprintf(yops[nyops].path, sizeof(yops[nyops].path),
			    "%s", path);
			nyops++;
		}
	}
	fclose(f);
}

START_TEST(test_routes_documented)
{
	size_t	 i, j;
	bool	 found;

	load_yaml();
	ck_assert_uint_gt(nyops, 0);
	for (i = 0; i < api_nroutes; i++) {
		found = false;
		for (j = 0; j < nyops; j++)
			if (strcmp(yops[j].method, api_routes[i].method) == 0 &&
			    strcmp(yops[j].path, api_routes[i].path) == 0)
				found = true;
		ck_assert_msg(found, "%s %s is served but not in openapi.yaml",
		    api_routes[i].method, api_routes[i].path);
	}
}
END_TEST

START_TEST(test_documented_served)
{
	size_t	 i, j;
	bool	 found;

	load_yaml();
	for (j = 0; j < nyops; j++) {
		found = false;
		for (i = 0; i < api_nroutes; i++)
			if (strcmp(yops[j].method, api_routes[i].method) == 0 &&
			    strcmp(yops[j].path, api_routes[i].path) == 0)
				found = true;
		ck_assert_msg(found, "%s %s is in openapi.yaml but not served",
		    yops[j].method, yops[j].path);
	}
	ck_assert_uint_eq(nyops, api_nroutes);
}
END_TEST

START_TEST(test_json_depth)
{
	static const char deep[] = "[[[[{\"a\":[1]}]]]]";
	static const char str[] = "{\"a\":\"[[[[[[\\\"[[[\"}";

	ck_assert_uint_eq(api_json_depth(deep, strlen(deep)), 6);
	ck_assert_uint_eq(api_json_depth(str, strlen(str)), 1);
	ck_assert_uint_eq(api_json_depth("", 0), 0);
}
END_TEST

START_TEST(test_utf8)
{
	ck_assert(api_utf8_valid("plain ascii", 11));
	ck_assert(api_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5",
	    14));
	ck_assert(!api_utf8_valid("\xc3", 1));		/* truncated */
	ck_assert(!api_utf8_valid("\xc0\xaf", 2));	/* overlong '/' */
	ck_assert(!api_utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
	ck_assert(!api_utf8_valid("\xff", 1));
	ck_assert(!api_utf8_valid("a\0b", 3));		/* NUL */
	ck_assert(!api_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}
END_TEST

static Suite *
openapi_suite(void)
{
	Suite	*s = suite_create("openapi");
	TCase	*tc = tcase_create("routes");

	tcase_add_test(tc, test_routes_documented);
	tcase_add_test(tc, test_documented_served);
	tcase_add_test(tc, test_json_depth);
	tcase_add_test(tc, test_utf8);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(openapi_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
