/* The canonical printer: exact text per statement, and round trips. */
#include <sys/socket.h>
#include <netinet/in.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "parse.h"
#include "print.h"
#include "ruleset.h"

#include "gen_ruleset.h"

#include "spec_example.h"

/* Its canonical form: sections in fixed order, options in fixed order. */
static const char spec_canonical[] =
"zone wan { interface eth0; external }\n"
"zone lan { interface eth1; network 192.168.10.0/24, fd00:10::/64 }\n"
"zone dmz { interface eth2; dmz }\n"
"\n"
"set blocklist ipv4 { timeout 1h }\n"
"set admins ipv4 { 192.168.10.5, 192.168.10.6 }\n"
"\n"
"policy lan -> wan accept\n"
"policy lan -> dmz accept\n"
"policy any -> self drop\n"
"policy any -> any drop\n"
"\n"
"rule drop-blocked from wan to any src @blocklist drop\n"
"rule ssh from lan to self tcp dport 22 src @admins accept limit 10/minute\n"
"rule web from any to self tcp dport { 80, 443 } accept\n"
"rule dns from lan to self udp dport 53 accept\n"
"rule ping from any to self icmp type echo-request accept limit 5/second\n"
"rule high from lan to wan tcp dport 1024-65535 accept\n"
"rule v6 from lan to self icmpv6 accept\n"
"rule wan-log from wan to self reject log prefix \"wan-in: \"\n"
"\n"
"nat masq masquerade from lan to wan\n"
"nat dmzout snat from dmz to wan as 203.0.113.10\n"
"nat https forward from wan tcp dport 443 to 10.0.2.10:8443\n"
"nat sshd forward from wan tcp dport 2222 to 10.0.2.11:22 "
"src 198.51.100.0/24\n";

static char *
diags_text(const struct diags *d)
{
	char	*s = NULL, *m;
	size_t	 len = 0, i;
	FILE	*f = open_memstream(&s, &len);

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < d->n; i++) {
		m = diag_format(&d->v[i]);
		fprintf(f, "%s\n", m ? m : "?");
		free(m);
	}
	fclose(f);
	return s;
}

static struct ruleset *
parse_text(const char *text)
{
	struct ruleset	*rs = ruleset_new();
	struct diags	 d;

	diags_init(&d);
	ck_assert_ptr_nonnull(rs);
	if (parse_buffer(rs, "t.rules", text, strlen(text), &d) != 0)
		ck_abort_msg("parse failed:\n%s\nof:\n%s", diags_text(&d),
		    text);
	diags_free(&d);
	return rs;
}

/*
 * The text parses, prints as want, and want parses back to an equal
 * ruleset that prints the same again.
 */
static void
assert_prints(const char *text, const char *want)
{
	struct ruleset	*rs = parse_text(text), *back;
	char		*got, *again;

	ck_assert_ptr_nonnull(got = print_ruleset_str(rs));
	ck_assert_msg(strcmp(got, want) == 0, "input:\n%s\ngot:\n%s\nwant:\n%s",
	    text, got, want);
	back = parse_text(got);
	ck_assert_msg(ruleset_equal(rs, back), "not equal after a round "
	    "trip:\n%s", got);
	ck_assert_ptr_nonnull(again = print_ruleset_str(back));
	ck_assert_str_eq(again, got);
	free(again);
	free(got);
	ruleset_free(back);
	ruleset_free(rs);
}

START_TEST(print_zones)
{
	assert_prints("zone lan {\n  interface eth1, vlan*\n"
	    "  network { 192.168.10.0/24, fd00:10::/64 }\n  dmz\n  external\n}\n",
	    "zone lan { interface eth1, vlan*; network 192.168.10.0/24, "
	    "fd00:10::/64; external; dmz }\n");
	assert_prints("zone empty {}\nzone flat interface ppp0 external\n"
	    "zone d { dmz }\nzone n { networks 10.0.0.0/8 }\n",
	    "zone empty { }\nzone flat { interface ppp0; external }\n"
	    "zone d { dmz }\nzone n { network 10.0.0.0/8 }\n");
}
END_TEST

START_TEST(print_sets)
{
	assert_prints("set a ipv4\nset b ipv4 timeout 90m\n"
	    "set c ipv6 { timeout 3600s\n fd50::1 timeout 10m,\n 2001:db8::/32 }\n"
	    "set d port { 22, 1000-2000 timeout 1d12h, 80-80 }\n",
	    "set a ipv4 { }\nset b ipv4 { timeout 1h30m }\n"
	    "set c ipv6 { timeout 1h; fd50::1 timeout 10m, 2001:db8::/32 }\n"
	    "set d port { 22, 1000-2000 timeout 1d12h, 80 }\n");
}
END_TEST

START_TEST(print_policies)
{
	assert_prints("policy lan->wan accept\npolicy any -> self reject\n",
	    "policy lan -> wan accept\npolicy any -> self reject\n");
}
END_TEST

START_TEST(print_rules)
{
	assert_prints(
	    "rule a from lan to self comment \"say \\\"hi\\\" \\\\ bye\" log "
	    "prefix \"p: \" limit 10/minute burst 5 accept state { related, "
	    "new } dst @srv src { 10.0.0.0/8, 2001:db8::1 } tcp dport { 22, "
	    "80-81, 443 } sport 1024-65535\n"
	    "rule b from any to any drop\n"
	    "rule c from wan to self icmpv6 type { router-solicitation, 250 } "
	    "reject log\n"
	    "rule d from wan to self ipv6-icmp accept\n"
	    "rule e from wan to self icmp type { echo-request } drop\n"
	    "rule f from lan to wan sctp dport @ports src { 192.0.2.1 } "
	    "state established accept limit rate 3/day\n"
	    "rule g from lan to wan udp dport { 53 } accept comment \"t\ta\"\n",
	    "rule a from lan to self tcp sport 1024-65535 dport { 22, 80-81, "
	    "443 } src { 10.0.0.0/8, 2001:db8::1 } dst @srv state { new, "
	    "related } accept limit 10/minute burst 5 log prefix \"p: \" "
	    "comment \"say \\\"hi\\\" \\\\ bye\"\n"
	    "rule b from any to any drop\n"
	    "rule c from wan to self icmpv6 type { nd-router-solicit, 250 } "
	    "reject log\n"
	    "rule d from wan to self icmpv6 accept\n"
	    "rule e from wan to self icmp type echo-request drop\n"
	    "rule f from lan to wan sctp dport @ports src 192.0.2.1 "
	    "state established accept limit 3/day\n"
	    "rule g from lan to wan udp dport 53 accept comment \"t\ta\"\n");
}
END_TEST

START_TEST(print_nats)
{
	assert_prints(
	    "nat m masquerade from any to wan\n"
	    "nat s snat from dmz to wan as 203.0.113.10 src { 10.50.2.0/24 }\n"
	    "nat f forward from wan tcp dport 8080 to 10.50.2.10:80\n"
	    "nat g forward from wan udp dport 5000-5010 to fd50:2::10 "
	    "src @allow\n"
	    "nat h forward from wan sctp dport 99 to [fd50:2::10]:100 "
	    "src { 198.51.100.0/24, 2001:db8::/32 }\n"
	    "nat i forward from wan tcp dport 22 to 10.50.2.11\n"
	    "nat j snat from any to wan as 2001:db8::10\n",
	    "nat m masquerade from any to wan\n"
	    "nat s snat from dmz to wan as 203.0.113.10 src 10.50.2.0/24\n"
	    "nat f forward from wan tcp dport 8080 to 10.50.2.10:80\n"
	    "nat g forward from wan udp dport 5000-5010 to fd50:2::10 "
	    "src @allow\n"
	    "nat h forward from wan sctp dport 99 to [fd50:2::10]:100 "
	    "src { 198.51.100.0/24, 2001:db8::/32 }\n"
	    "nat i forward from wan tcp dport 22 to 10.50.2.11\n"
	    "nat j snat from any to wan as 2001:db8::10\n");
}
END_TEST

/* The per-object printers give the statement without a newline. */
START_TEST(print_objects)
{
	struct ruleset	*rs = parse_text(
	    "zone wan { interface eth0; external }\n"
	    "set b port { 22 timeout 5m, 1000-1010 }\n"
	    "policy lan -> wan accept\n"
	    "rule ssh from lan to self tcp dport 22 accept\n"
	    "nat f forward from wan tcp dport 443 to [fd50:2::10]:8443\n");
	char		*s;

	ck_assert_str_eq(s = print_zone(rs->zones[0]),
	    "zone wan { interface eth0; external }");
	free(s);
	ck_assert_str_eq(s = print_set(rs->sets[0]),
	    "set b port { 22 timeout 5m, 1000-1010 }");
	free(s);
	ck_assert_str_eq(s = print_policy(rs->policies[0]),
	    "policy lan -> wan accept");
	free(s);
	ck_assert_str_eq(s = print_rule(rs->rules[0]),
	    "rule ssh from lan to self tcp dport 22 accept");
	free(s);
	ck_assert_str_eq(s = print_nat(rs->nats[0]),
	    "nat f forward from wan tcp dport 443 to [fd50:2::10]:8443");
	free(s);
	ck_assert_str_eq(s = print_set_elem(SET_PORT, &rs->sets[0]->elems[0]),
	    "22");
	free(s);
	ck_assert_str_eq(s = print_set_elem(SET_PORT, &rs->sets[0]->elems[1]),
	    "1000-1010");
	free(s);
	ruleset_free(rs);
}
END_TEST

/* Each printed statement parses back on its own, as the CLI sends it. */
START_TEST(print_objects_parse_alone)
{
	struct ruleset	*rs = parse_text(spec_example);
	struct diags	 d;
	struct rule	*r;
	struct nat	*n;
	char		*s;
	size_t		 i;

	diags_init(&d);
	for (i = 0; i < rs->nrules; i++) {
		s = print_rule(rs->rules[i]);
		r = parse_rule(s, &d);
		ck_assert_msg(r != NULL && rule_equal(r, rs->rules[i]), "%s",
		    s);
		rule_free(r);
		free(s);
	}
	for (i = 0; i < rs->nnats; i++) {
		s = print_nat(rs->nats[i]);
		n = parse_nat(s, &d);
		ck_assert_msg(n != NULL && nat_equal(n, rs->nats[i]), "%s", s);
		nat_free(n);
		free(s);
	}
	ck_assert_uint_eq(d.n, 0);
	diags_free(&d);
	ruleset_free(rs);
}
END_TEST

START_TEST(print_spec_example)
{
	assert_prints(spec_example, spec_canonical);
}
END_TEST

START_TEST(print_empty)
{
	struct ruleset	*rs = ruleset_new();
	char		*s;

	ck_assert_str_eq(s = print_ruleset_str(rs), "");
	free(s);
	ruleset_free(rs);
}
END_TEST

static const char *
src_dir(void)
{
	const char *s = getenv("FWCTL_SRC");

	return s != NULL && *s != '\0' ? s : ".";
}

/* The example ruleset under rules/: valid, and it round-trips. */
START_TEST(print_rules_dir)
{
	struct ruleset	*rs = ruleset_new(), *back;
	struct diags	 d;
	char		*dir, *text, *again;

	ck_assert_int_ne(asprintf(&dir, "%s/rules", src_dir()), -1);
	diags_init(&d);
	ck_assert_msg(parse_dir(rs, dir, &d) == 0, "%s", diags_text(&d));
	ck_assert_msg(validate_ruleset(rs, &d) == 0, "%s", diags_text(&d));
	ck_assert_uint_ge(rs->nzones, 3);
	ck_assert_uint_ge(rs->nrules, 5);
	ck_assert_uint_ge(rs->nnats, 2);
	ck_assert_int_ge(ruleset_find_zone(rs, "dmz"), 0);
	ck_assert_ptr_nonnull(text = print_ruleset_str(rs));
	back = parse_text(text);
	ck_assert(ruleset_equal(rs, back));
	ck_assert_ptr_nonnull(again = print_ruleset_str(back));
	ck_assert_str_eq(again, text);
	free(again);
	free(text);
	free(dir);
	diags_free(&d);
	ruleset_free(back);
	ruleset_free(rs);
}
END_TEST

/* 10,000 rules: model -> text -> model equal, and the text is stable. */
START_TEST(print_generated)
{
	struct ruleset	*rs = gen_ruleset(0xf00d, 10000, 90), *m1, *m2;
	char		*t1, *t2, *t3;
	size_t		 i, lines = 0;

	ck_assert_ptr_nonnull(t1 = print_ruleset_str(rs));
	for (i = 0; t1[i] != '\0'; i++)
		lines += t1[i] == '\n';
	/* one line a statement, a blank line between the five sections */
	ck_assert_uint_eq(lines, rs->nzones + rs->nsets + rs->npolicies +
	    rs->nrules + rs->nnats + 4);
	m1 = parse_text(t1);
	ck_assert_uint_eq(m1->nrules, 10000);
	ck_assert_msg(ruleset_equal(rs, m1), "parse(print(x)) != x");
	ck_assert_ptr_nonnull(t2 = print_ruleset_str(m1));
	ck_assert_msg(strcmp(t1, t2) == 0, "print(parse(print(x))) != "
	    "print(x)");
	m2 = parse_text(t2);
	ck_assert(ruleset_equal(m1, m2));
	ck_assert_ptr_nonnull(t3 = print_ruleset_str(m2));
	ck_assert(strcmp(t2, t3) == 0);
	/* every statement printed alone matches its line in the whole */
	for (i = 0; i < 100; i++) {
		char *s = print_rule(rs->rules[i * 97]);

		ck_assert_ptr_nonnull(strstr(t1, s));
		free(s);
	}
	free(t1);
	free(t2);
	free(t3);
	ruleset_free(m2);
	ruleset_free(m1);
	ruleset_free(rs);
}
END_TEST

/* Generated rulesets of other seeds, smaller, for breadth. */
START_TEST(print_generated_seeds)
{
	struct ruleset	*rs = gen_ruleset(1000 + (uint64_t)_i, 300, 30), *m;
	char		*t1, *t2;

	ck_assert_ptr_nonnull(t1 = print_ruleset_str(rs));
	m = parse_text(t1);
	ck_assert_msg(ruleset_equal(rs, m), "seed %d", _i);
	ck_assert_ptr_nonnull(t2 = print_ruleset_str(m));
	ck_assert_str_eq(t1, t2);
	free(t1);
	free(t2);
	ruleset_free(m);
	ruleset_free(rs);
}
END_TEST

/*
 * Mutated statements: whatever the parser accepts, the printer must give
 * back in a form that parses to the same thing. Tokens of the SPEC example
 * are dropped, repeated and swapped at random.
 */
START_TEST(print_mutations)
{
	static const char *const extra[] = {
		"{", "}", ",", "22", "1-2", "@admins", "10.0.0.0/8", "fd00::1",
		"tcp", "udp", "icmp", "type", "0", "state", "new", "log",
		"prefix", "\"x\"", "comment", "limit", "1/second", "burst",
		"5", "timeout", "1h", "[fd00::1]:80", "10.0.0.1:8080", "as",
		"dmz", "external", "interface", "network", ";", "->", "\n",
	};
	struct gen	 g = { 0x1234567 };
	char		*lines[64], *tok[64], buf[2048], *line, *save, *p;
	size_t		 nlines = 0, ntok, i, k, accepted = 0;
	struct ruleset	*rs, *back;
	struct diags	 d;
	char		*text, *copy;
	int		 iter;

	ck_assert_ptr_nonnull(copy = strdup(spec_example));
	for (line = strtok_r(copy, "\n", &save); line != NULL && nlines < 64;
	    line = strtok_r(NULL, "\n", &save))
		if ((p = strchr(line, '#')) == NULL || p != line)
			lines[nlines++] = line;
	for (iter = 0; iter < 40000; iter++) {
		char tmp[1024];

		snprintf(tmp, sizeof(tmp), "%s", lines[gen_below(&g,
		    (uint32_t)nlines)]);
		if ((p = strchr(tmp, '#')) != NULL)
			*p = '\0';
		ntok = 0;
		for (p = strtok_r(tmp, " ", &save); p != NULL && ntok < 60;
		    p = strtok_r(NULL, " ", &save))
			tok[ntok++] = p;
		for (k = 0; k < 1 + gen_below(&g, 3); k++) {
			i = gen_below(&g, (uint32_t)ntok);
			switch (gen_below(&g, 4)) {
			case 0:		/* drop */
				memmove(&tok[i], &tok[i + 1],
				    (ntok - i - 1) * sizeof(*tok));
				ntok--;
				break;
			case 1:		/* swap with a neighbour */
				if (i + 1 < ntok) {
					p = tok[i];
					tok[i] = tok[i + 1];
					tok[i + 1] = p;
				}
				break;
			default:	/* insert */
				if (ntok < 60) {
					memmove(&tok[i + 1], &tok[i],
					    (ntok - i) * sizeof(*tok));
					tok[i] = (char *)(uintptr_t)extra[
					    gen_below(&g, sizeof(extra) /
					    sizeof(*extra))];
					ntok++;
				}
				break;
			}
			if (ntok == 0)
				break;
		}
		buf[0] = '\0';
		for (i = 0; i < ntok; i++) {
			strcat(buf, tok[i]);
			strcat(buf, " ");
		}
		strcat(buf, "\n");
		rs = ruleset_new();
		diags_init(&d);
		if (parse_buffer(rs, "m.rules", buf, strlen(buf), &d) == 0 &&
		    d.n == 0) {
			accepted++;
			ck_assert_ptr_nonnull(text = print_ruleset_str(rs));
			back = ruleset_new();
			ck_assert_msg(parse_buffer(back, "p.rules", text,
			    strlen(text), &d) == 0, "input: %s printed: %s",
			    buf, text);
			ck_assert_msg(ruleset_equal(rs, back), "input: %s "
			    "printed: %s", buf, text);
			ruleset_free(back);
			free(text);
		}
		diags_free(&d);
		ruleset_free(rs);
	}
	/* enough of them parse for the test to mean something */
	ck_assert_uint_gt(accepted, 1000);
	free(copy);
}
END_TEST

static Suite *
print_suite(void)
{
	Suite	*s = suite_create("print");
	TCase	*tc;

	tc = tcase_create("statements");
	tcase_add_test(tc, print_zones);
	tcase_add_test(tc, print_sets);
	tcase_add_test(tc, print_policies);
	tcase_add_test(tc, print_rules);
	tcase_add_test(tc, print_nats);
	tcase_add_test(tc, print_objects);
	tcase_add_test(tc, print_objects_parse_alone);
	tcase_add_test(tc, print_spec_example);
	tcase_add_test(tc, print_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, print_rules_dir);
	tcase_add_test(tc, print_generated);
	tcase_add_loop_test(tc, print_generated_seeds, 0, 20);
	tcase_add_test(tc, print_mutations);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(print_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
