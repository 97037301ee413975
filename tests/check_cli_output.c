/* The CLI's formatting and text helpers against canned API JSON.  The CLI
 * links libcurl, tests do not: its curl-free files are compiled in here. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../cli/output.c"
#include "../cli/text.c"

struct options opt;

static char	*mbuf;
static size_t	 mlen;

static FILE *
mem_open(void)
{
	FILE	*f;

	free(mbuf);
	mbuf = NULL;
	f = open_memstream(&mbuf, &mlen);
	ck_assert_ptr_nonnull(f);
	return f;
}

static const char *
mem_close(FILE *f)
{
	fclose(f);
	return mbuf;
}

static json_t *
js(const char *s)
{
	json_error_t	 e;
	json_t		*j = json_loads(s, 0, &e);

	ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
	return j;
}

START_TEST(sizes)
{
	char	 b[32];

	ck_assert_str_eq(output_bytes(0, b, sizeof(b)), "0 B");
	ck_assert_str_eq(output_bytes(1023, b, sizeof(b)), "1023 B");
	ck_assert_str_eq(output_bytes(1536, b, sizeof(b)), "1.5 KiB");
	ck_assert_str_eq(output_bytes(10 << 20, b, sizeof(b)), "10 MiB");
	ck_assert_str_eq(output_bytes(3ull << 40, b, sizeof(b)), "3.0 TiB");
	ck_assert_str_eq(output_count(99999, b, sizeof(b)), "99999");
	ck_assert_str_eq(output_count(123456, b, sizeof(b)), "123K");
	ck_assert_str_eq(output_count(4200000, b, sizeof(b)), "4.2M");
}
END_TEST

/* A set element that expires shows the time it has left, not the
 * timeout it was given (`fwctl list sets`). */
START_TEST(set_elem_left)
{
	static const struct {
		const char	*json;
		const char	*want;
	} c[] = {
		{ "{\"key\": \"192.0.2.7\", \"timeout\": \"1h\", "
		    "\"expires\": 1003600000}", "192.0.2.7 (1h left)" },
		{ "{\"key\": \"192.0.2.7\", \"expires\": 1003598500}",
		    "192.0.2.7 (59m58s left)" },
		{ "{\"key\": \"192.0.2.7\", \"expires\": 1093600000}",
		    "192.0.2.7 (1d2h left)" },
		{ "{\"key\": \"192.0.2.7\", \"expires\": 1000000999}",
		    "192.0.2.7 (expiring)" },
		{ "{\"key\": \"192.0.2.7\", \"expires\": 999000000}",
		    "192.0.2.7 (expiring)" },
		{ "{\"key\": \"22\", \"timeout\": \"10m\"}",
		    "22 (timeout 10m)" },
		{ "\"10.0.0.0/8\"", "10.0.0.0/8" },
	};
	size_t i;
	json_t *j;
	char *s;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		j = json_loads(c[i].json, JSON_DECODE_ANY, NULL);
		ck_assert_ptr_nonnull(j);
		s = output_set_elem(j, 1000000000LL);
		ck_assert_str_eq(s, c[i].want);
		free(s);
		json_decref(j);
	}
}
END_TEST

START_TEST(rule_match)
{
	json_t	*r;
	char	*s;

	r = js("{\"name\": \"ssh\", \"from\": \"lan\", \"to\": \"self\", "
	    "\"proto\": \"tcp\", \"dport\": [22], \"src\": \"@admins\", "
	    "\"verdict\": \"accept\", \"limit\": {\"rate\": 10, \"per\": "
	    "\"minute\"}}");
	s = output_rule_match(r);
	ck_assert_str_eq(s, "tcp dport 22 src @admins limit 10/minute");
	free(s);
	json_decref(r);

	r = js("{\"proto\": \"tcp\", \"dport\": [80, 443, \"1000-2000\"], "
	    "\"dst\": [\"10.0.0.0/8\", \"2001:db8::1\"], \"state\": [\"new\"],"
	    " \"log\": true, \"log_prefix\": \"web: \", \"comment\": \"hi\"}");
	s = output_rule_match(r);
	ck_assert_str_eq(s, "tcp dport { 80, 443, 1000-2000 } dst "
	    "{ 10.0.0.0/8, 2001:db8::1 } state new log prefix \"web: \" "
	    "comment \"hi\"");
	free(s);
	json_decref(r);

	r = js("{\"proto\": \"icmp\", \"icmp_types\": [\"echo-request\"], "
	    "\"limit\": {\"rate\": 5, \"per\": \"second\", \"burst\": 10}}");
	s = output_rule_match(r);
	ck_assert_str_eq(s, "icmp type echo-request limit 5/second burst 10");
	free(s);
	json_decref(r);

	r = js("{\"proto\": \"icmp\", \"limit\": {\"rate\": 5, "
	    "\"per\": \"minute\", \"per_source\": true}}");
	s = output_rule_match(r);
	ck_assert_str_eq(s, "icmp limit 5/minute per source");
	free(s);
	json_decref(r);

	/* ports written as service names read as written */
	r = js("{\"proto\": \"tcp\", \"dport\": [{\"service\": \"http\", "
	    "\"port\": 80}, 8080, {\"service\": \"https\", \"port\": 443}]}");
	s = output_rule_match(r);
	ck_assert_str_eq(s, "tcp dport { http, 8080, https }");
	free(s);
	json_decref(r);

	r = js("{\"name\": \"all\", \"verdict\": \"drop\"}");
	s = output_rule_match(r);
	ck_assert_str_eq(s, "");
	free(s);
	json_decref(r);
}
END_TEST

START_TEST(nat_detail)
{
	json_t	*n;
	char	*s;

	n = js("{\"name\": \"sshd\", \"kind\": \"forward\", \"from\": \"wan\", "
	    "\"proto\": \"tcp\", \"dport\": 2222, \"target\": \"10.0.2.11\", "
	    "\"target_port\": 22, \"src\": [\"198.51.100.0/24\"]}");
	s = output_nat_detail(n);
	ck_assert_str_eq(s, "tcp dport 2222 src 198.51.100.0/24 to "
	    "10.0.2.11:22");
	free(s);
	json_decref(n);

	n = js("{\"kind\": \"forward\", \"proto\": \"udp\", \"dport\": "
	    "\"5000-5010\", \"target\": \"fd00:2::10\", \"target_port\": 53}");
	s = output_nat_detail(n);
	ck_assert_str_eq(s, "udp dport 5000-5010 to [fd00:2::10]:53");
	free(s);
	json_decref(n);

	n = js("{\"kind\": \"snat\", \"as\": \"203.0.113.10\"}");
	s = output_nat_detail(n);
	ck_assert_str_eq(s, "as 203.0.113.10");
	free(s);
	json_decref(n);
}
END_TEST

START_TEST(table_aligned)
{
	static const char *const head[] = { "#", "NAME", "VERDICT", "BYTES" };
	const char	*r1[] = { "1", "ssh", "accept", "0 B" };
	const char	*r2[] = { "10", "drop-blocked", "drop", "1.5 KiB" };
	struct table	 t;
	FILE		*f = mem_open();

	table_init(&t, head, 4);
	t.rightalign = 1u << 0 | 1u << 3;
	t.ccol = 2;
	table_row(&t, r1);
	table_row_color(&t, C_GREEN);
	table_row(&t, r2);
	table_print(&t, f);
	table_free(&t);
	/* no colour: opt.color is false */
	ck_assert_str_eq(mem_close(f),
	    " #  NAME          VERDICT    BYTES\n"
	    " 1  ssh           accept       0 B\n"
	    "10  drop-blocked  drop     1.5 KiB\n");
}
END_TEST

START_TEST(table_color)
{
	static const char *const head[] = { "A", "B" };
	const char	*r1[] = { "x", "accept" };
	struct table	 t;
	FILE		*f = mem_open();

	opt.color = true;
	table_init(&t, head, 2);
	t.ccol = 1;
	table_row(&t, r1);
	table_row_color(&t, C_GREEN);
	table_print(&t, f);
	table_free(&t);
	opt.color = false;
	ck_assert_str_eq(mem_close(f),
	    "\033[1mA\033[0m  \033[1mB\033[0m\n"
	    "x  \033[32maccept\033[0m\n");
}
END_TEST

START_TEST(lists)
{
	json_t	*j = js("[[], [\"eth0\"], [\"a\", \"b\"], 22, \"@set\", "
	    "[{\"key\": \"10.0.0.1\", \"timeout\": \"1h\"}, \"10.0.0.2\"]]");
	char	*s;

	ck_assert_ptr_null(output_list(NULL));
	s = output_list(json_array_get(j, 0));
	ck_assert_str_eq(s, "{ }");
	free(s);
	s = output_list(json_array_get(j, 1));
	ck_assert_str_eq(s, "eth0");
	free(s);
	s = output_list(json_array_get(j, 2));
	ck_assert_str_eq(s, "{ a, b }");
	free(s);
	s = output_list(json_array_get(j, 3));
	ck_assert_str_eq(s, "22");
	free(s);
	s = output_list(json_array_get(j, 4));
	ck_assert_str_eq(s, "@set");
	free(s);
	s = output_list(json_array_get(j, 5));
	ck_assert_str_eq(s, "{ 10.0.0.1 (timeout 1h), 10.0.0.2 }");
	free(s);
	json_decref(j);
}
END_TEST

START_TEST(plan_lines)
{
	json_t	*p = js("[{\"op\": \"add\", \"kind\": \"rule\", \"name\": \"ssh\"},"
	    "{\"op\": \"add\", \"kind\": \"zone\", \"name\": \"dmz\"},"
	    "{\"op\": \"change\", \"kind\": \"rule\", \"name\": \"web\"},"
	    "{\"op\": \"remove\", \"kind\": \"policy\", \"name\": "
	    "\"lan -> wan\"},"
	    "{\"op\": \"add\", \"kind\": \"element\", \"name\": \"admins\", "
	    "\"element\": \"10.0.0.5\"}]");
	FILE	*f = mem_open();

	ck_assert_uint_eq(output_plan(p, false, f), 5);
	ck_assert_str_eq(mem_close(f),
	    "+ rule ssh\n"
	    "+ zone dmz\n"
	    "~ rule web\n"
	    "- policy lan -> wan\n"
	    "+ element admins 10.0.0.5\n"
	    "\n"
	    "Plan: 3 to add, 1 to change, 1 to remove.\n");
	f = mem_open();
	output_plan(p, true, f);
	ck_assert_ptr_nonnull(strstr(mem_close(f),
	    "\nApplied: 3 added, 1 changed, 1 removed.\n"));
	json_decref(p);

	p = json_array();
	f = mem_open();
	ck_assert_uint_eq(output_plan(p, false, f), 0);
	ck_assert_str_eq(mem_close(f), "No changes. The ruleset is up to "
	    "date.\n");
	json_decref(p);
}
END_TEST

static void
loc_cb(void *arg, FILE *f, const char *cmd, json_t *e)
{
	fprintf(f, "%s ", cmd);
	(*(int *)arg)++;
	fprintf(f, "at %d:%d\n",
	    (int)json_integer_value(json_object_get(e, "line")),
	    (int)json_integer_value(json_object_get(e, "column")));
}

START_TEST(problem)
{
	json_t	*p = js("{\"type\": \"about:blank\", \"title\": \"Bad "
	    "Request\", \"status\": 400, \"detail\": \"2 errors in the rule "
	    "text\", \"errors\": [{\"line\": 1, \"column\": 22, \"message\": "
	    "\"expected a verdict\"}, {\"field\": \"rules[3].dport[0]\", "
	    "\"message\": \"out of range\"}]}");
	FILE	*f = mem_open();
	int	 calls = 0;

	output_problem("add-rule", p, 400, loc_cb, &calls, f);
	ck_assert_int_eq(calls, 1);
	ck_assert_str_eq(mem_close(f),
	    "add-rule at 1:22\n"
	    "fwctl: add-rule: rules[3].dport[0]: out of range\n");
	/* without a way to place them: the detail, then each error */
	f = mem_open();
	output_problem("add-rule", p, 400, NULL, NULL, f);
	ck_assert_str_eq(mem_close(f),
	    "fwctl: add-rule: 2 errors in the rule text\n"
	    "  expected a verdict\n"
	    "  rules[3].dport[0]: out of range\n");
	json_decref(p);
	/* one error: the detail line alone */
	p = js("{\"status\": 409, \"detail\": \"rule ssh exists\", "
	    "\"errors\": [{\"field\": \"name\", \"message\": \"rule ssh "
	    "exists\"}]}");
	f = mem_open();
	output_problem("add-rule", p, 409, loc_cb, &calls, f);
	ck_assert_str_eq(mem_close(f), "fwctl: add-rule: rule ssh exists\n");
	json_decref(p);

	/* nothing but a status */
	p = js("{}");
	f = mem_open();
	output_problem("status", p, 500, NULL, NULL, f);
	ck_assert_str_eq(mem_close(f),
	    "fwctl: status: request refused (HTTP 500)\n");
	json_decref(p);
}
END_TEST

START_TEST(caret)
{
	FILE	*f = mem_open();

	output_caret(f, "fwctl add-rule ", "ssh from lan to self tcp dprt 22",
	    26);
	ck_assert_str_eq(mem_close(f),
	    "  fwctl add-rule ssh from lan to self tcp dprt 22\n"
	    "  " "               " "                         " "^\n");
}
END_TEST

START_TEST(join)
{
	char	*w1[] = { "wan-log", "from", "wan", "to", "self", "log",
	    "prefix", "wan in: ", "reject" };
	char	*w2[] = { "x", "comment", "say \"hi\" \\o/" };
	char	*w3[] = { "web", "tcp", "dport", "{ 80, 443 }", "accept" };
	struct text t;

	ck_assert_int_eq(text_join(&t, w1, 9), 0);
	ck_assert_str_eq(t.s, "wan-log from wan to self log prefix "
	    "\"wan in: \" reject");
	ck_assert_uint_eq(t.len, strlen(t.s));
	text_free(&t);
	ck_assert_int_eq(text_join(&t, w2, 3), 0);
	ck_assert_str_eq(t.s, "x comment \"say \\\"hi\\\" \\\\o/\"");
	text_free(&t);
	ck_assert_int_eq(text_join(&t, w3, 5), 0);
	ck_assert_str_eq(t.s, "web tcp dport { 80, 443 } accept");
	text_free(&t);
	ck_assert_int_eq(text_join(&t, w3, 0), 0);
	ck_assert_str_eq(t.s, "");
	text_free(&t);
}
END_TEST

START_TEST(srcmap)
{
	struct srcmap	 m;
	const struct srcmap_file *f;
	int		 line;
	char		*s;

	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(srcmap_add(&m, "d/10-zones.rules",
	    "zone a { interface x }\nzone b { interface y }\n", 46), 0);
	/* no newline at the end: one is added */
	ck_assert_int_eq(srcmap_add(&m, "d/20-rules.rules",
	    "# rules\nrule r from a to b accept", 33), 0);
	ck_assert_int_eq(srcmap_add(&m, "d/30-empty.rules", "", 0), 0);
	ck_assert_int_eq(srcmap_add(&m, "d/40-nat.rules", "\nnat n\n", 7), 0);
	ck_assert_str_eq(m.body, "zone a { interface x }\nzone b { interface "
	    "y }\n# rules\nrule r from a to b accept\n\nnat n\n");
	f = srcmap_find(&m, 2, &line);
	ck_assert_str_eq(f->path, "d/10-zones.rules");
	ck_assert_int_eq(line, 2);
	f = srcmap_find(&m, 4, &line);
	ck_assert_str_eq(f->path, "d/20-rules.rules");
	ck_assert_int_eq(line, 2);
	s = srcmap_line(&m, f, line);
	ck_assert_str_eq(s, "rule r from a to b accept");
	free(s);
	f = srcmap_find(&m, 6, &line);
	ck_assert_str_eq(f->path, "d/40-nat.rules");
	ck_assert_int_eq(line, 2);
	s = srcmap_line(&m, f, line);
	ck_assert_str_eq(s, "nat n");
	free(s);
	ck_assert_ptr_null(srcmap_find(&m, 7, &line));
	ck_assert_ptr_null(srcmap_find(&m, 0, &line));
	srcmap_free(&m);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cli_output");
	TCase	*tc = tcase_create("output");
	SRunner	*sr;
	int	 nf;

	tcase_add_test(tc, sizes);
	tcase_add_test(tc, rule_match);
	tcase_add_test(tc, set_elem_left);
	tcase_add_test(tc, nat_detail);
	tcase_add_test(tc, table_aligned);
	tcase_add_test(tc, table_color);
	tcase_add_test(tc, lists);
	tcase_add_test(tc, plan_lines);
	tcase_add_test(tc, problem);
	tcase_add_test(tc, caret);
	tcase_add_test(tc, join);
	tcase_add_test(tc, srcmap);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	free(mbuf);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
