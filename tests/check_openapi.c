/*
 * docs/openapi.yaml and the routes table of api.c describe the same API:
 * every route is documented, and nothing documented is missing.  The YAML
 * is read line by line: "  /path:" at indent 2 under "paths:", methods at
 * indent 4; below a method, its query parameters ("{name: X, in: query")
 * and the replies the routes' flags call for.
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
	char	 query[128];	/* ",a,b," */
	bool	 if_match;	/* the IfMatch parameter */
	bool	 busy;		/* '503': the Busy reply */
	bool	 too_large;	/* '413' */
	bool	 stale;		/* '412' */
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
	struct op	*cur = NULL;
	const char	*q;

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
			cur = NULL;
			continue;
		}
		if (cur != NULL && strncmp(line, "      ", 6) == 0) {
			if ((q = strstr(line, "{name: ")) != NULL &&
			    strstr(line, "in: query") != NULL) {
				q += 7;
				i = strcspn(q, ",");
				ck_assert_uint_lt(strlen(cur->query) + i + 2,
				    sizeof(cur->query));
				strncat(cur->query, q, i);
				strcat(cur->query, ",");
			}
			if (strstr(line, "parameters/IfMatch") != NULL)
				cur->if_match = true;
			if (strstr(line, "'503': {$ref: "
			    "'#/components/responses/Busy'}") != NULL)
				cur->busy = true;
			if (strstr(line, "'413':") != NULL)
				cur->too_large = true;
			if (strstr(line, "'412':") != NULL)
				cur->stale = true;
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
			if (i == sizeof(methods) / sizeof(methods[0])) {
				cur = NULL;	/* "parameters:" and the like */
				continue;
			}
			ck_assert_uint_lt(nyops, MAXOPS);
			cur = &yops[nyops];
			memset(cur, 0, sizeof(*cur));
			strcpy(cur->query, ",");
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

static const struct op *
yop_find(const struct api_route *rt)
{
	size_t	 j;

	for (j = 0; j < nyops; j++)
		if (strcmp(yops[j].method, rt->method) == 0 &&
		    strcmp(yops[j].path, rt->path) == 0)
			return &yops[j];
	return NULL;
}

/*
 * The query arguments a route accepts (dry_run among them) are the ones
 * documented, no more, no fewer; a route that changes things documents
 * If-Match and 412; one that takes a body, 413 and the 503 of the body
 * budget.
 */
START_TEST(test_route_details)
{
	const struct api_route	*rt;
	const struct op		*op;
	char			 want[128], *a, *save;
	const char		*c;
	size_t			 i, nargs, ndoc;

	load_yaml();
	for (i = 0; i < api_nroutes; i++) {
		rt = &api_routes[i];
		ck_assert_ptr_nonnull(op = yop_find(rt));
		snprintf(want, sizeof(want), "%s", rt->args);
		nargs = 0;
		for (a = strtok_r(want, ",", &save); a != NULL;
		    a = strtok_r(NULL, ",", &save)) {
			char	 key[64];

			snprintf(key, sizeof(key), ",%s,", a);
			ck_assert_msg(strstr(op->query, key) != NULL,
			    "%s %s: query argument %s not documented",
			    rt->method, rt->path, a);
			nargs++;
		}
		ndoc = 0;
		for (c = op->query; *c; c++)
			ndoc += *c == ',';
		ck_assert_msg(ndoc - 1 == nargs, "%s %s: documents %s, "
		    "serves \"%s\"", rt->method, rt->path, op->query,
		    rt->args);
		if (rt->flags & API_MUTATE)
			ck_assert_msg(op->if_match && op->stale,
			    "%s %s: If-Match or 412 not documented",
			    rt->method, rt->path);
		if (rt->flags & API_BODY)
			ck_assert_msg(op->too_large && op->busy,
			    "%s %s: 413 or 503 (Busy) not documented",
			    rt->method, rt->path);
	}
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
	tcase_add_test(tc, test_route_details);
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
