/* The JSON form of the model (docs/api.md): encoders, strict decoders. */
#include <sys/socket.h>
#include <netinet/in.h>

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "diag.h"
#include "parse.h"
#include "print.h"
#include "ruleset.h"

#include "gen_ruleset.h"

/* The example of docs/api.md, verbatim. */
static const char api_example[] =
"{\n"
"  \"zones\": [\n"
"    {\"name\": \"wan\", \"interfaces\": [\"eth0\"], \"external\": true},\n"
"    {\"name\": \"lan\", \"interfaces\": [\"eth1\"],\n"
"     \"networks\": [\"192.168.10.0/24\", \"fd00:10::/64\"]},\n"
"    {\"name\": \"dmz\", \"interfaces\": [\"eth2\"], \"dmz\": true}\n"
"  ],\n"
"  \"sets\": [\n"
"    {\"name\": \"blocklist\", \"type\": \"ipv4\", \"timeout\": \"1h\", \"elements\": []},\n"
"    {\"name\": \"admins\", \"type\": \"ipv4\",\n"
"     \"elements\": [\"192.168.10.5\", {\"key\": \"192.168.10.6\", \"timeout\": \"10m\"}]}\n"
"  ],\n"
"  \"policies\": [{\"from\": \"lan\", \"to\": \"wan\", \"verdict\": \"accept\"}],\n"
"  \"rules\": [\n"
"    {\"name\": \"ssh\", \"from\": \"lan\", \"to\": \"self\", \"proto\": \"tcp\",\n"
"     \"dport\": [22], \"src\": \"@admins\", \"verdict\": \"accept\",\n"
"     \"limit\": {\"rate\": 10, \"per\": \"minute\"}},\n"
"    {\"name\": \"high\", \"from\": \"lan\", \"to\": \"wan\", \"proto\": \"tcp\",\n"
"     \"dport\": [\"1024-65535\"], \"verdict\": \"accept\"},\n"
"    {\"name\": \"ping\", \"from\": \"any\", \"to\": \"self\", \"proto\": \"icmp\",\n"
"     \"icmp_types\": [\"echo-request\"], \"verdict\": \"accept\",\n"
"     \"limit\": {\"rate\": 5, \"per\": \"second\", \"burst\": 10}},\n"
"    {\"name\": \"wan-log\", \"from\": \"wan\", \"to\": \"self\", \"log\": true,\n"
"     \"log_prefix\": \"wan-in: \", \"verdict\": \"reject\", \"comment\": \"...\"},\n"
"    {\"name\": \"est\", \"from\": \"any\", \"to\": \"self\", \"state\": [\"new\"],\n"
"     \"dst\": [\"10.0.0.0/8\", \"2001:db8::1\"], \"verdict\": \"drop\"}\n"
"  ],\n"
"  \"nat\": [\n"
"    {\"name\": \"masq\", \"kind\": \"masquerade\", \"from\": \"lan\", \"to\": \"wan\"},\n"
"    {\"name\": \"dmzout\", \"kind\": \"snat\", \"from\": \"dmz\", \"to\": \"wan\",\n"
"     \"as\": \"203.0.113.10\"},\n"
"    {\"name\": \"sshd\", \"kind\": \"forward\", \"from\": \"wan\", \"proto\": \"tcp\",\n"
"     \"dport\": 2222, \"target\": \"10.0.2.11\", \"target_port\": 22,\n"
"     \"src\": [\"198.51.100.0/24\"]},\n"
"    {\"name\": \"range\", \"kind\": \"forward\", \"from\": \"wan\", \"proto\": \"udp\",\n"
"     \"dport\": \"5000-5010\", \"target\": \"fd00:2::10\"}\n"
"  ]\n"
"}\n";

#include "spec_example.h"

static json_t *
J(const char *text)
{
	json_error_t	 err;
	json_t		*j = json_loads(text, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);

	ck_assert_msg(j != NULL, "bad test JSON at %d:%d: %s\n%s", err.line,
	    err.column, err.text, text);
	return j;
}

static char *
dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);

	ck_assert_ptr_nonnull(s);
	return s;
}

/* Asserts json_equal with both sides in the message when they differ. */
static void
assert_json(json_t *got, const char *want_text)
{
	json_t	*want = J(want_text);
	char	*g, *w;

	ck_assert_ptr_nonnull(got);
	if (!json_equal(got, want)) {
		g = dump(got);
		w = dump(want);
		ck_abort_msg("JSON differs\n got: %s\nwant: %s", g, w);
	}
	json_decref(want);
	json_decref(got);
}

static struct ruleset *
parse_text(const char *text)
{
	struct ruleset	*rs = ruleset_new();
	struct diags	 d;
	char		*msg;

	diags_init(&d);
	ck_assert_ptr_nonnull(rs);
	if (parse_buffer(rs, "t.rules", text, strlen(text), &d) != 0) {
		msg = d.n > 0 ? diag_format(&d.v[0]) : NULL;
		ck_abort_msg("parse failed: %s", msg ? msg : "?");
	}
	diags_free(&d);
	return rs;
}

/* All messages of d, one per line, for assertions and failure output. */
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
decode_ok(const json_t *j)
{
	struct diags	 d;
	struct ruleset	*rs;
	char		*t;

	diags_init(&d);
	rs = codec_decode_ruleset(j, &d);
	if (rs == NULL || d.n != 0) {
		t = diags_text(&d);
		ck_abort_msg("decode failed:\n%s", t);
	}
	diags_free(&d);
	return rs;
}

/* ---- encoding, kind by kind ---- */

START_TEST(encode_zone)
{
	struct diags d;
	struct zone *z;

	diags_init(&d);
	z = parse_zone("lan { interface eth1, vlan*; "
	    "network 192.168.10.0/24, fd00:10::/64 }", &d);
	ck_assert_ptr_nonnull(z);
	assert_json(codec_encode_zone(z), "{\"name\": \"lan\", "
	    "\"interfaces\": [\"eth1\", \"vlan*\"], "
	    "\"networks\": [\"192.168.10.0/24\", \"fd00:10::/64\"]}");
	z->flags = ZONE_EXTERNAL | ZONE_DMZ;
	assert_json(codec_encode_zone(z), "{\"name\": \"lan\", "
	    "\"interfaces\": [\"eth1\", \"vlan*\"], "
	    "\"networks\": [\"192.168.10.0/24\", \"fd00:10::/64\"], "
	    "\"external\": true, \"dmz\": true}");
	zone_free(z);
	diags_free(&d);
}
END_TEST

START_TEST(encode_policy)
{
	struct policy *p = policy_new();

	p->from = strdup("any");
	p->to = strdup("self");
	p->verdict = VERDICT_REJECT;
	assert_json(codec_encode_policy(p),
	    "{\"from\": \"any\", \"to\": \"self\", \"verdict\": \"reject\"}");
	policy_free(p);
}
END_TEST

START_TEST(encode_rule)
{
	struct ruleset	*rs = parse_text(
	    "rule a from lan to self tcp sport 1024-65535 dport { 22, 80-81 } "
	    "src { 10.0.0.0/8, 2001:db8::1 } dst @srv state { new, related } "
	    "accept limit 10/minute burst 20 log prefix \"in \\\"x\\\" \" "
	    "comment \"c\\\\d\"\n"
	    "rule b from any to any drop\n"
	    "rule c from wan to self icmpv6 type { echo-request, 250 } reject\n"
	    "rule d from wan to self udp dport @ports src 192.0.2.1 accept "
	    "log\n"
	    "rule e from wan to self tcp dport 22 accept limit 3/minute per "
	    "source\n");
	struct rule	*r;
	struct diags	 d;
	json_t		*j;

	ck_assert_uint_eq(rs->nrules, 5);
	j = codec_encode_rule(rs->rules[4]);
	diags_init(&d);
	r = codec_decode_rule(j, NULL, &d);
	ck_assert_uint_eq(d.n, 0);
	diags_free(&d);
	ck_assert_ptr_nonnull(r);
	ck_assert(r->limit.per_source);
	ck_assert(rule_equal(r, rs->rules[4]));
	rule_free(r);
	assert_json(j, "{\"name\": \"e\", \"from\": \"wan\", \"to\": "
	    "\"self\", \"proto\": \"tcp\", \"dport\": [22], \"verdict\": "
	    "\"accept\", \"limit\": {\"rate\": 3, \"per\": \"minute\", "
	    "\"per_source\": true}}");
	assert_json(codec_encode_rule(rs->rules[0]), "{\"name\": \"a\", "
	    "\"from\": \"lan\", \"to\": \"self\", \"proto\": \"tcp\", "
	    "\"sport\": [\"1024-65535\"], \"dport\": [22, \"80-81\"], "
	    "\"src\": [\"10.0.0.0/8\", \"2001:db8::1\"], \"dst\": \"@srv\", "
	    "\"state\": [\"new\", \"related\"], \"verdict\": \"accept\", "
	    "\"limit\": {\"rate\": 10, \"per\": \"minute\", \"burst\": 20}, "
	    "\"log\": true, \"log_prefix\": \"in \\\"x\\\" \", "
	    "\"comment\": \"c\\\\d\"}");
	assert_json(codec_encode_rule(rs->rules[1]), "{\"name\": \"b\", "
	    "\"from\": \"any\", \"to\": \"any\", \"verdict\": \"drop\"}");
	assert_json(codec_encode_rule(rs->rules[2]), "{\"name\": \"c\", "
	    "\"from\": \"wan\", \"to\": \"self\", \"proto\": \"icmpv6\", "
	    "\"icmp_types\": [\"echo-request\", 250], \"verdict\": \"reject\"}");
	assert_json(codec_encode_rule(rs->rules[3]), "{\"name\": \"d\", "
	    "\"from\": \"wan\", \"to\": \"self\", \"proto\": \"udp\", "
	    "\"dport\": \"@ports\", \"src\": [\"192.0.2.1\"], "
	    "\"verdict\": \"accept\", \"log\": true}");
	ruleset_free(rs);
}
END_TEST

START_TEST(encode_nat)
{
	struct ruleset	*rs = parse_text(
	    "nat m masquerade from any to wan\n"
	    "nat s snat from dmz to wan as 203.0.113.10 src 10.50.2.0/24\n"
	    "nat f forward from wan tcp dport 8080 to 10.50.2.10:80\n"
	    "nat g forward from wan udp dport 5000-5010 to fd50:2::10\n"
	    "nat h forward from wan sctp dport 99 to [fd50:2::10]:100 "
	    "src @allow\n");

	ck_assert_uint_eq(rs->nnats, 5);
	assert_json(codec_encode_nat(rs->nats[0]), "{\"name\": \"m\", "
	    "\"kind\": \"masquerade\", \"from\": \"any\", \"to\": \"wan\"}");
	assert_json(codec_encode_nat(rs->nats[1]), "{\"name\": \"s\", "
	    "\"kind\": \"snat\", \"from\": \"dmz\", \"to\": \"wan\", "
	    "\"as\": \"203.0.113.10\", \"src\": [\"10.50.2.0/24\"]}");
	assert_json(codec_encode_nat(rs->nats[2]), "{\"name\": \"f\", "
	    "\"kind\": \"forward\", \"from\": \"wan\", \"proto\": \"tcp\", "
	    "\"dport\": 8080, \"target\": \"10.50.2.10\", "
	    "\"target_port\": 80}");
	assert_json(codec_encode_nat(rs->nats[3]), "{\"name\": \"g\", "
	    "\"kind\": \"forward\", \"from\": \"wan\", \"proto\": \"udp\", "
	    "\"dport\": \"5000-5010\", \"target\": \"fd50:2::10\"}");
	assert_json(codec_encode_nat(rs->nats[4]), "{\"name\": \"h\", "
	    "\"kind\": \"forward\", \"from\": \"wan\", \"proto\": \"sctp\", "
	    "\"dport\": 99, \"target\": \"fd50:2::10\", \"target_port\": 100, "
	    "\"src\": \"@allow\"}");
	ruleset_free(rs);
}
END_TEST

START_TEST(encode_set)
{
	struct ruleset	*rs = parse_text(
	    "set b ipv4 { timeout 1h30m }\n"
	    "set a ipv6 { 2001:db8::/32, fd50::1 timeout 10m }\n"
	    "set p port { 22, 1000-2000 }\n");
	struct set_elem	 e;

	ck_assert_uint_eq(rs->nsets, 3);
	assert_json(codec_encode_set(rs->sets[0]), "{\"name\": \"b\", "
	    "\"type\": \"ipv4\", \"timeout\": \"1h30m\", \"elements\": []}");
	assert_json(codec_encode_set(rs->sets[1]), "{\"name\": \"a\", "
	    "\"type\": \"ipv6\", \"elements\": [\"2001:db8::/32\", "
	    "{\"key\": \"fd50::1\", \"timeout\": \"10m\"}]}");
	assert_json(codec_encode_set(rs->sets[2]), "{\"name\": \"p\", "
	    "\"type\": \"port\", \"elements\": [22, \"1000-2000\"]}");

	/* the state file carries the wall-clock expiry */
	e = rs->sets[1]->elems[1];
	e.expires_ms = 1700000000123ULL;
	assert_json(codec_encode_set_elem(SET_IPV6, &e), "{\"key\": "
	    "\"fd50::1\", \"timeout\": \"10m\", \"expires\": 1700000000123}");
	e.timeout_ms = 0;
	assert_json(codec_encode_set_elem(SET_IPV6, &e), "{\"key\": "
	    "\"fd50::1\", \"expires\": 1700000000123}");
	ruleset_free(rs);
}
END_TEST

START_TEST(encode_empty_ruleset)
{
	struct ruleset *rs = ruleset_new();

	assert_json(codec_encode_ruleset(rs), "{\"zones\": [], \"sets\": [], "
	    "\"policies\": [], \"rules\": [], \"nat\": []}");
	ruleset_free(rs);
}
END_TEST

/* ---- round trips ---- */

/* The api.md example decodes, and encodes back to the same document. */
START_TEST(api_example_roundtrip)
{
	json_t		*doc = J(api_example);
	struct ruleset	*rs = decode_ok(doc);

	ck_assert_uint_eq(rs->nzones, 3);
	ck_assert_uint_eq(rs->nsets, 2);
	ck_assert_uint_eq(rs->nrules, 5);
	ck_assert_uint_eq(rs->nnats, 4);
	ck_assert_str_eq(rs->rules[0]->src.set, "admins");
	ck_assert_uint_eq(rs->rules[0]->limit.rate, 10);
	ck_assert_int_eq(rs->rules[0]->limit.unit, LIMIT_MINUTE);
	ck_assert_uint_eq(rs->rules[1]->dport.ranges[0].lo, 1024);
	ck_assert_uint_eq(rs->rules[1]->dport.ranges[0].hi, 65535);
	ck_assert_uint_eq(rs->rules[2]->icmp_types[0], 8);
	ck_assert_uint_eq(rs->rules[2]->limit.burst, 10);
	ck_assert(rs->rules[3]->log);
	ck_assert_str_eq(rs->rules[3]->log_prefix, "wan-in: ");
	ck_assert_uint_eq(rs->rules[4]->state, CTSTATE_NEW);
	ck_assert_uint_eq(rs->sets[0]->timeout_ms, 3600000);
	ck_assert_uint_eq(rs->sets[1]->elems[1].timeout_ms, 600000);
	ck_assert_int_eq(rs->nats[2]->target_port, 22);
	ck_assert_int_eq(rs->nats[3]->dport.hi, 5010);
	ck_assert_int_eq(rs->nats[3]->target.family, AF_INET6);

	assert_json(codec_encode_ruleset(rs), api_example);
	ruleset_free(rs);
	json_decref(doc);
}
END_TEST

/* JSON -> model -> text -> model: the text view holds all of it. */
START_TEST(api_example_as_text)
{
	json_t		*doc = J(api_example);
	struct ruleset	*rs = decode_ok(doc), *back;
	char		*text;

	ck_assert_ptr_nonnull(text = print_ruleset_str(rs));
	ck_assert_ptr_nonnull(strstr(text, "rule wan-log from wan to self "
	    "reject log prefix \"wan-in: \" comment \"...\"\n"));
	ck_assert_ptr_nonnull(strstr(text, "nat range forward from wan udp "
	    "dport 5000-5010 to fd00:2::10\n"));
	ck_assert_ptr_nonnull(strstr(text, "set admins ipv4 { 192.168.10.5, "
	    "192.168.10.6 timeout 10m }\n"));
	back = parse_text(text);
	ck_assert(ruleset_equal(rs, back));
	free(text);
	ruleset_free(back);
	ruleset_free(rs);
	json_decref(doc);
}
END_TEST

/* model -> JSON -> model, and JSON -> model -> text -> model */
static void
roundtrip(const struct ruleset *rs)
{
	json_t		*j, *j2;
	struct ruleset	*back, *again;
	char		*text, *s;

	ck_assert_ptr_nonnull(j = codec_encode_ruleset(rs));
	/* through the serialised form too, as the state file does */
	ck_assert_ptr_nonnull(s = json_dumps(j, JSON_COMPACT));
	j2 = J(s);
	free(s);
	back = decode_ok(j2);
	ck_assert_msg(ruleset_equal(rs, back), "decode(encode(x)) != x");
	json_decref(j2);

	ck_assert_ptr_nonnull(text = print_ruleset_str(back));
	again = parse_text(text);
	ck_assert_msg(ruleset_equal(rs, again),
	    "parse(print(decode(encode(x)))) != x");
	ruleset_free(again);
	ruleset_free(back);
	free(text);
	json_decref(j);
}

START_TEST(spec_example_roundtrip)
{
	struct ruleset *rs = parse_text(spec_example);

	ck_assert_uint_eq(rs->nrules, 8);
	roundtrip(rs);
	ruleset_free(rs);
}
END_TEST

START_TEST(generated_roundtrip)
{
	struct ruleset *rs = gen_ruleset(0x5eed, 10000, 60);

	ck_assert_uint_eq(rs->nrules, 10000);
	roundtrip(rs);
	ruleset_free(rs);
}
END_TEST

START_TEST(expires_roundtrip)
{
	json_t		*j = J("{\"sets\": [{\"name\": \"b\", \"type\": "
	    "\"ipv4\", \"timeout\": \"1h\", \"elements\": [{\"key\": "
	    "\"192.0.2.7\", \"expires\": 1700000000000}, {\"key\": "
	    "\"192.0.2.8\", \"timeout\": \"5m\", \"expires\": 1}]}]}");
	struct ruleset	*rs = decode_ok(j);
	json_t		*out;

	ck_assert_uint_eq(rs->sets[0]->nelems, 2);
	ck_assert_uint_eq(rs->sets[0]->elems[0].expires_ms, 1700000000000ULL);
	ck_assert_uint_eq(rs->sets[0]->elems[0].timeout_ms, 0);
	ck_assert_uint_eq(rs->sets[0]->elems[1].expires_ms, 1);
	ck_assert_uint_eq(rs->sets[0]->elems[1].timeout_ms, 300000);
	out = codec_encode_ruleset(rs);
	ck_assert(json_equal(json_object_get(out, "sets"),
	    json_object_get(j, "sets")));
	json_decref(out);
	json_decref(j);
	ruleset_free(rs);
}
END_TEST

/* Shorthands the decoder takes: one port or address without a list. */
START_TEST(decode_shorthand)
{
	json_t		*j = J("{\"name\": \"r\", \"from\": \"lan\", "
	    "\"to\": \"self\", \"proto\": \"udp\", \"dport\": \"53\", "
	    "\"sport\": 1000, \"src\": \"10.0.0.0/8\", \"dst\": null, "
	    "\"verdict\": \"accept\"}");
	struct diags	 d;
	struct rule	*r;
	char		*t;

	/* null is not a way to say "absent": strict */
	diags_init(&d);
	ck_assert_ptr_null(codec_decode_rule(j, "rules[0]", &d));
	t = diags_text(&d);
	ck_assert_str_eq(t, "rules[0].dst: expected a list of addresses, an "
	    "address, or \"@set\", got null\n");
	free(t);
	json_object_del(j, "dst");
	diags_free(&d);
	diags_init(&d);
	r = codec_decode_rule(j, NULL, &d);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(r->dport.nranges, 1);
	ck_assert_uint_eq(r->dport.ranges[0].lo, 53);
	ck_assert_uint_eq(r->sport.ranges[0].hi, 1000);
	ck_assert_uint_eq(r->src.naddrs, 1);
	ck_assert_int_eq(r->src.addrs[0].prefix, 8);
	rule_free(r);
	diags_free(&d);
	json_decref(j);
}
END_TEST

/* Service names: written as the user wrote them, with the port beside,
 * so that a state file reads back without /etc/services; a name alone is
 * looked up for the rule's protocol. */
START_TEST(service_names)
{
	struct ruleset	*rs = parse_text(
	    "rule a from lan to self tcp dport { ssh, 8080, https } sport "
	    "domain accept\n");
	json_t		*j;
	struct diags	 d;
	struct rule	*r;
	char		*t, buf[FWCTL_SERVICE_MAX + 1];

	j = codec_encode_rule(rs->rules[0]);
	diags_init(&d);
	r = codec_decode_rule(j, NULL, &d);
	ck_assert_uint_eq(d.n, 0);
	diags_free(&d);
	assert_json(j, "{\"name\": \"a\", \"from\": \"lan\", \"to\": "
	    "\"self\", \"proto\": \"tcp\", \"sport\": [{\"service\": "
	    "\"domain\", \"port\": 53}], \"dport\": [{\"service\": \"ssh\", "
	    "\"port\": 22}, 8080, {\"service\": \"https\", \"port\": 443}], "
	    "\"verdict\": \"accept\"}");
	ck_assert_ptr_nonnull(r);
	ck_assert(rule_equal(r, rs->rules[0]));
	rule_free(r);
	ruleset_free(rs);

	/* the port beside a name is taken as given: no lookup */
	j = J("{\"name\": \"r\", \"from\": \"lan\", \"to\": \"self\", "
	    "\"proto\": \"udp\", \"dport\": [\"domain\", {\"service\": "
	    "\"mine\", \"port\": 4000}, \"ntp\"], \"verdict\": \"accept\"}");
	diags_init(&d);
	r = codec_decode_rule(j, NULL, &d);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(r->dport.nranges, 3);
	ck_assert_uint_eq(r->dport.ranges[0].lo, 53);
	ck_assert_uint_eq(r->dport.ranges[1].lo, 4000);
	ck_assert_uint_eq(r->dport.ranges[2].hi, 123);
	ck_assert_str_eq(portmatch_name(&r->dport, 1, buf, sizeof(buf)),
	    "mine");
	rule_free(r);
	diags_free(&d);
	json_decref(j);

	j = J("{\"name\": \"r\", \"from\": \"lan\", \"to\": \"self\", "
	    "\"proto\": \"tcp\", \"dport\": [\"nosuchservice\", "
	    "{\"service\": \"x y\", \"port\": 1}, {\"service\": \"z\", "
	    "\"port\": 70000}, {\"service\": \"z\", \"why\": 1}], "
	    "\"verdict\": \"accept\"}");
	diags_init(&d);
	ck_assert_ptr_null(codec_decode_rule(j, "rules[0]", &d));
	t = diags_text(&d);
	ck_assert_str_eq(t, "rules[0].dport[1].service: expected a service "
	    "name (a letter, then letters, digits, '-', '_', '.' or '+', at "
	    "most 32), got \"x y\"\n"
	    "rules[0].dport[2].port: expected a port 0-65535, got 70000\n"
	    "rules[0].dport[3].why: unknown field in a service; expected one "
	    "of: service, port\n"
	    "rules[0].dport[0]: unknown service \"nosuchservice\": not in "
	    "/etc/services; expected a port number or a service name\n"
	    "rules[0].dport[3]: unknown service \"z\": not in /etc/services; "
	    "expected a port number or a service name\n");
	free(t);
	diags_free(&d);
	json_array_remove(json_object_get(j, "dport"), 3);
	json_array_remove(json_object_get(j, "dport"), 2);
	json_array_remove(json_object_get(j, "dport"), 1);
	diags_init(&d);
	ck_assert_ptr_null(codec_decode_rule(j, "rules[0]", &d));
	t = diags_text(&d);
	ck_assert_str_eq(t, "rules[0].dport[0]: unknown service "
	    "\"nosuchservice\": not in /etc/services; expected a port number "
	    "or a service name\n");
	free(t);
	diags_free(&d);
	json_decref(j);
}
END_TEST

/* Policy logging and a rule's IP version: JSON and back, and what is
 * refused. */
START_TEST(policy_log_and_family)
{
	struct ruleset	*rs = parse_text(
	    "policy any -> self drop log prefix \"in: \"\n"
	    "policy lan -> wan accept log\n"
	    "rule a from lan to wan ip6 tcp dport 22 accept\n");
	struct diags	 d;
	struct policy	*po;
	struct rule	*r;
	json_t		*j;
	char		*t;

	assert_json(codec_encode_policy(rs->policies[0]), "{\"from\": "
	    "\"any\", \"to\": \"self\", \"verdict\": \"drop\", \"log\": "
	    "true, \"log_prefix\": \"in: \"}");
	assert_json(codec_encode_policy(rs->policies[1]), "{\"from\": "
	    "\"lan\", \"to\": \"wan\", \"verdict\": \"accept\", \"log\": "
	    "true}");
	j = codec_encode_rule(rs->rules[0]);
	ck_assert_str_eq(json_string_value(json_object_get(j, "family")),
	    "ip6");
	diags_init(&d);
	ck_assert_ptr_nonnull(r = codec_decode_rule(j, NULL, &d));
	ck_assert(rule_equal(r, rs->rules[0]));
	rule_free(r);
	json_decref(j);
	j = codec_encode_policy(rs->policies[0]);
	ck_assert_ptr_nonnull(po = codec_decode_policy(j, NULL, &d));
	ck_assert(policy_equal(po, rs->policies[0]));
	ck_assert_uint_eq(d.n, 0);
	policy_free(po);
	json_decref(j);
	ruleset_free(rs);

	j = J("{\"from\": \"any\", \"to\": \"self\", \"verdict\": \"drop\", "
	    "\"log_prefix\": \"x\"}");
	ck_assert_ptr_null(codec_decode_policy(j, "policies[0]", &d));
	json_decref(j);
	j = J("{\"name\": \"r\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"family\": \"ipv6\", \"verdict\": \"accept\"}");
	ck_assert_ptr_null(codec_decode_rule(j, "rules[0]", &d));
	json_decref(j);
	t = diags_text(&d);
	ck_assert_str_eq(t, "policies[0].log_prefix: a log prefix needs "
	    "\"log\": true\n"
	    "rules[0].family: expected ip4 or ip6, got \"ipv6\"\n");
	free(t);
	diags_free(&d);
}
END_TEST

/* ---- strictness ---- */

static const struct {
	const char	*json;
	const char	*want;		/* a substring of one message */
} bad_docs[] = {
	{ "[]", "expected a ruleset (an object), got an array" },
	{ "null", "expected a ruleset (an object), got null" },
	{ "{\"zone\": []}", "zone: unknown field in a ruleset" },
	{ "{\"rules\": {}}", "rules: expected a list, got an object" },
	{ "{\"rules\": [1]}", "rules[0]: expected a rule (an object), "
	    "got an integer" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\"}, {\"name\": \"b\", \"from\": \"lan\", "
	    "\"to\": \"wan\", \"verdict\": \"accept\"}, {\"name\": \"c\", "
	    "\"from\": \"lan\", \"to\": \"wan\", \"verdict\": \"accept\"}, "
	    "{\"name\": \"d\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"proto\": \"tcp\", \"dport\": [22, 70000], "
	    "\"verdict\": \"accept\"}]}",
	    "rules[3].dport[1]: expected a port 0-65535, got 70000" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\", \"colour\": \"red\"}]}",
	    "rules[0].colour: unknown field in a rule; expected one of: name, "
	    "from, to" },
	{ "{\"rules\": [{\"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\"}]}", "rules[0].name: missing" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\"}]}",
	    "rules[0].verdict: missing" },
	{ "{\"rules\": [{\"name\": \"9bad\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\"}]}",
	    "rules[0].name: expected a name of letters" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"allow\"}]}",
	    "rules[0].verdict: expected accept, drop or reject, got \"allow\"" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": 7, "
	    "\"verdict\": \"accept\"}]}",
	    "rules[0].to: expected a name (a string), got an integer" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"dport\": [22], \"verdict\": \"accept\"}]}",
	    "rules[0].dport: ports need \"proto\" tcp, udp or sctp" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"proto\": \"tcp\", \"dport\": [\"2000-1000\"], "
	    "\"verdict\": \"accept\"}]}",
	    "rules[0].dport[0]: expected a port 0-65535 or a range \"lo-hi\" "
	    "with lo <= hi, got \"2000-1000\"" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"proto\": \"tcp\", \"dport\": [22.5], \"verdict\": \"accept\"}]}",
	    "rules[0].dport[0]: expected a port 0-65535 or a range \"lo-hi\" "
	    "with lo <= hi, got 22.5" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"proto\": \"tcp\", \"dport\": [], \"verdict\": \"accept\"}]}",
	    "rules[0].dport: expected at least one port" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"proto\": \"gre\", \"verdict\": \"accept\"}]}",
	    "rules[0].proto: expected tcp, udp, sctp, icmp or icmpv6, "
	    "got \"gre\"" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"src\": [\"10.0.0.1/8\"], \"verdict\": \"accept\"}]}",
	    "rules[0].src[0]: expected an IPv4 or IPv6 address or network, "
	    "got \"10.0.0.1/8\" (host bits are set under the prefix)" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"dst\": [\"300.1.2.3\"], \"verdict\": \"accept\"}]}",
	    "rules[0].dst[0]: expected an IPv4 or IPv6 address or network, "
	    "got \"300.1.2.3\"" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"src\": \"@\", \"verdict\": \"accept\"}]}",
	    "rules[0].src: expected \"@\" and a set name, got \"@\"" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"state\": [\"new\", \"old\"], \"verdict\": \"accept\"}]}",
	    "rules[0].state[1]: expected new, established, related or "
	    "invalid, got \"old\"" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"proto\": \"icmp\", \"icmp_types\": [\"echo\"], "
	    "\"verdict\": \"accept\"}]}",
	    "rules[0].icmp_types[0]: expected an ICMP type name" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"proto\": \"icmp\", \"icmp_types\": [256], "
	    "\"verdict\": \"accept\"}]}",
	    "rules[0].icmp_types[0]: expected an ICMP type 0-255, got 256" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\", \"limit\": {\"rate\": 0, "
	    "\"per\": \"minute\"}}]}",
	    "rules[0].limit.rate: expected a rate 1-9223372036854775807, "
	    "got 0" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\", \"limit\": {\"rate\": 5, "
	    "\"per\": \"week\"}}]}",
	    "rules[0].limit.per: expected second, minute, hour or day, "
	    "got \"week\"" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\", \"limit\": {\"rate\": 5}}]}",
	    "rules[0].limit.per: missing" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\", \"log\": \"yes\"}]}",
	    "rules[0].log: expected true or false, got a string" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\", \"log\": false, \"log_prefix\": \"x\"}]}",
	    "rules[0].log_prefix: a log prefix needs \"log\": true" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\", \"comment\": \"a\\nb\"}]}",
	    "rules[0].comment: control characters are not allowed" },
	{ "{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": \"accept\", \"comment\": \"x\\u0000y\"}]}",
	    "rules[0].comment: expected a text, got a string with a NUL byte" },
	{ "{\"zones\": [{\"name\": \"lan\", \"interfaces\": "
	    "[\"a-very-long-interface-name\"]}]}",
	    "zones[0].interfaces[0]: expected an interface name of at most 15 "
	    "bytes" },
	{ "{\"zones\": [{\"name\": \"lan\", \"interfaces\": \"eth0\"}]}",
	    "zones[0].interfaces: expected a list of interface names, "
	    "got a string" },
	{ "{\"zones\": [{\"name\": \"lan\", \"networks\": [\"10.0.0.0/33\"]}]}",
	    "zones[0].networks[0]: expected an IPv4 or IPv6 address or "
	    "network, got \"10.0.0.0/33\"" },
	{ "{\"zones\": [{\"name\": \"lan\", \"dmz\": 1}]}",
	    "zones[0].dmz: expected true or false, got an integer" },
	{ "{\"policies\": [{\"from\": \"lan\", \"to\": \"wan\"}]}",
	    "policies[0].verdict: missing" },
	{ "{\"sets\": [{\"name\": \"s\", \"type\": \"mac\"}]}",
	    "sets[0].type: expected ipv4, ipv6 or port, got \"mac\"" },
	{ "{\"sets\": [{\"name\": \"s\", \"type\": \"ipv4\", \"elements\": "
	    "[\"10.0.0.1\", \"2001:db8::1\"]}]}",
	    "sets[0].elements[1]: expected an IPv4 address for a set of type "
	    "ipv4, got 2001:db8::1" },
	{ "{\"sets\": [{\"name\": \"s\", \"type\": \"ipv4\", \"timeout\": "
	    "3600}]}",
	    "sets[0].timeout: expected a duration (a string), got an integer" },
	{ "{\"sets\": [{\"name\": \"s\", \"type\": \"ipv4\", \"timeout\": "
	    "\"1 hour\"}]}",
	    "sets[0].timeout: expected a duration such as" },
	{ "{\"sets\": [{\"name\": \"s\", \"type\": \"port\", \"elements\": "
	    "[{\"key\": 22, \"ttl\": \"1h\"}]}]}",
	    "sets[0].elements[0].ttl: unknown field in a set element" },
	{ "{\"sets\": [{\"name\": \"s\", \"type\": \"port\", \"elements\": "
	    "[{\"key\": 22, \"expires\": -5}]}]}",
	    "sets[0].elements[0].expires: expected a time in ms since the "
	    "epoch 0-9223372036854775807, got -5" },
	{ "{\"nat\": [{\"name\": \"n\", \"kind\": \"masquerade\", "
	    "\"from\": \"lan\"}]}",
	    "nat[0].to: missing; a masquerade entry needs it" },
	{ "{\"nat\": [{\"name\": \"n\", \"kind\": \"masquerade\", "
	    "\"from\": \"lan\", \"to\": \"wan\", \"target\": \"10.0.0.1\"}]}",
	    "nat[0].target: not used by a masquerade entry" },
	{ "{\"nat\": [{\"name\": \"n\", \"kind\": \"dnat\", \"from\": \"lan\"}]}",
	    "nat[0].kind: expected masquerade, snat or forward, got \"dnat\"" },
	{ "{\"nat\": [{\"name\": \"n\", \"kind\": \"snat\", \"from\": \"dmz\", "
	    "\"to\": \"wan\", \"as\": \"203.0.113.0/24\"}]}",
	    "nat[0].as: expected a host address, got the network "
	    "203.0.113.0/24" },
	{ "{\"nat\": [{\"name\": \"n\", \"kind\": \"forward\", \"from\": "
	    "\"wan\", \"proto\": \"icmp\", \"dport\": 80, "
	    "\"target\": \"10.0.0.1\"}]}",
	    "nat[0].proto: expected tcp, udp or sctp, got \"icmp\"" },
	{ "{\"nat\": [{\"name\": \"n\", \"kind\": \"forward\", \"from\": "
	    "\"wan\", \"proto\": \"tcp\", \"dport\": [80], "
	    "\"target\": \"10.0.0.1\", \"target_port\": 0}]}",
	    "nat[0].dport: expected a port 0-65535 or a range" },
	{ "{\"nat\": [{\"name\": \"n\", \"kind\": \"forward\", \"from\": "
	    "\"wan\", \"proto\": \"tcp\", \"dport\": 80, "
	    "\"target\": \"10.0.0.1\", \"target_port\": 0}]}",
	    "nat[0].target_port: expected a port 1-65535, got 0" },
	{ "{\"nat\": [{\"name\": \"n\", \"kind\": \"forward\", \"from\": "
	    "\"wan\", \"proto\": \"tcp\", \"dport\": 80}]}",
	    "nat[0].target: missing; a forward entry needs it" },
};

START_TEST(decode_rejects)
{
	json_t		*j = J(bad_docs[_i].json);
	struct diags	 d;
	struct ruleset	*rs;
	char		*t;

	diags_init(&d);
	rs = codec_decode_ruleset(j, &d);
	t = diags_text(&d);
	ck_assert_msg(rs == NULL, "accepted: %s", bad_docs[_i].json);
	ck_assert_msg(strstr(t, bad_docs[_i].want) != NULL,
	    "doc %d: want \"%s\" in:\n%s", _i, bad_docs[_i].want, t);
	free(t);
	diags_free(&d);
	json_decref(j);
}
END_TEST

/* Several errors in one document are all reported. */
START_TEST(decode_reports_all)
{
	json_t		*j = J("{\"zones\": [{\"name\": \"\"}], "
	    "\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": \"wan\", "
	    "\"proto\": \"tcp\", \"dport\": [-1, 65536, \"x\"], "
	    "\"verdict\": \"accept\"}], "
	    "\"nat\": [{\"name\": \"n\", \"kind\": \"snat\", "
	    "\"from\": \"dmz\"}]}");
	struct diags	 d;
	char		*t;

	diags_init(&d);
	ck_assert_ptr_null(codec_decode_ruleset(j, &d));
	t = diags_text(&d);
	ck_assert_msg(strstr(t, "zones[0].name:") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "rules[0].dport[0]: expected a port 0-65535, "
	    "got -1") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "rules[0].dport[1]:") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "rules[0].dport[2]: unknown service \"x\"") !=
	    NULL, "%s", t);
	ck_assert_msg(strstr(t, "nat[0].to: missing") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "nat[0].as: missing") != NULL, "%s", t);
	ck_assert_uint_eq(d.n, 6);
	free(t);
	diags_free(&d);
	json_decref(j);
}
END_TEST

/*
 * A list of a million bad items gets its first errors and a note that the
 * rest was not checked, and the decode still fails: a large body of
 * garbage must not become a reply (and a daemon) of gigabytes.
 */
START_TEST(decode_error_cap)
{
	static const char *const wrap[][2] = {
		{ "{\"sets\": [{\"name\": \"s\", \"type\": \"ipv4\", "
		  "\"elements\": [", "]}]}" },
		{ "{\"rules\": [{\"name\": \"r\", \"from\": \"a\", "
		  "\"to\": \"b\", \"verdict\": \"drop\", \"src\": [", "]}]}" },
		{ "{\"rules\": [", "]}" },
	};
	size_t		 nitems = 200000, i, k, len;
	struct diags	 d;
	json_t		*j;
	char		*buf, *p;

	for (k = 0; k < sizeof(wrap) / sizeof(wrap[0]); k++) {
		len = strlen(wrap[k][0]) + nitems * 5 + strlen(wrap[k][1]) + 1;
		buf = malloc(len);
		ck_assert_ptr_nonnull(buf);
		p = stpcpy(buf, wrap[k][0]);
		for (i = 0; i < nitems; i++)
			p = stpcpy(p, i ? ",true" : "true");
		strcpy(p, wrap[k][1]);
		j = J(buf);
		free(buf);
		diags_init(&d);
		ck_assert_ptr_null(codec_decode_ruleset(j, &d));
		ck_assert_msg(d.n >= 10 && d.n <= 60, "%zu errors", d.n);
		ck_assert_ptr_nonnull(d.v[0].field);
		ck_assert_msg(strstr(d.v[0].field, "[0]") != NULL, "%s",
		    d.v[0].field);
		ck_assert_msg(strstr(d.v[d.n - 1].msg, "too many errors") !=
		    NULL, "%s", d.v[d.n - 1].msg);
		diags_free(&d);
		json_decref(j);
	}

	/* only the decoder's own errors count: what the caller's diags
	 * held before does not cut a good list */
	j = J("{\"name\": \"s\", \"type\": \"port\", \"elements\": [1, 2]}");
	diags_init(&d);
	for (i = 0; i < 100; i++)
		diags_add_field(&d, "x", "earlier");
	{
		struct set *s = codec_decode_set(j, "", &d);

		ck_assert_ptr_nonnull(s);
		ck_assert_uint_eq(s->nelems, 2);
		set_free(s);
	}
	ck_assert_uint_eq(d.n, 100);
	diags_free(&d);
	json_decref(j);
}
END_TEST

/* A path prefix given by the caller leads every message. */
START_TEST(decode_path_prefix)
{
	json_t		*j = J("{\"from\": \"lan\", \"to\": \"wan\", "
	    "\"verdict\": 1}");
	struct diags	 d;
	char		*t;

	diags_init(&d);
	ck_assert_ptr_null(codec_decode_policy(j, "policies[7]", &d));
	t = diags_text(&d);
	ck_assert_str_eq(t, "policies[7].verdict: expected a verdict (a "
	    "string), got an integer\n");
	free(t);
	diags_free(&d);
	diags_init(&d);
	ck_assert_ptr_null(codec_decode_policy(j, NULL, &d));
	t = diags_text(&d);
	ck_assert_str_eq(t, "verdict: expected a verdict (a string), got an "
	    "integer\n");
	free(t);
	diags_free(&d);
	json_decref(j);
}
END_TEST

/* shape with @K and @V replaced by key and value */
static void
fill(char *buf, size_t len, const char *shape, const char *key,
    const char *value)
{
	const char	*k = strstr(shape, "@K"), *v = strstr(shape, "@V");
	int		 n;

	ck_assert(k != NULL && v != NULL && k < v);
	n = snprintf(buf, len, "%.*s%s%.*s%s%s", (int)(k - shape), shape, key,
	    (int)(v - k - 2), k + 2, value, v + 2);
	ck_assert_int_lt(n, (int)len);
}

/*
 * Any JSON value in any field position: an error or a success, never a
 * crash, and never a success that leaves the model half-filled.
 */
START_TEST(decode_any_value)
{
	static const char *const values[] = {
		"null", "true", "false", "0", "-1", "65535", "65536",
		"9223372036854775807", "-9223372036854775808", "1e308", "0.5",
		"\"\"", "\"@\"", "\"@x\"", "\"x\"", "\"1-2\"", "\"10.0.0.0/8\"",
		"\"accept\"", "\"tcp\"", "[]", "[[]]", "[null]", "[{}]",
		"{}", "{\"key\": {}}", "[[[[[[[[1]]]]]]]]", "[1, \"a\", null]",
		"\"\\u00e9\\u00e9\"",
	};
	static const char *const shapes[] = {
		/* @K is replaced by a key, @V by a value */
		"{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": "
		"\"wan\", \"proto\": \"tcp\", \"verdict\": \"accept\", "
		"\"@K\": @V}]}",
		"{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": "
		"\"wan\", \"proto\": \"icmp\", \"verdict\": \"accept\", "
		"\"@K\": @V}]}",
		"{\"nat\": [{\"name\": \"n\", \"kind\": \"forward\", \"from\": "
		"\"wan\", \"@K\": @V}]}",
		"{\"zones\": [{\"name\": \"z\", \"@K\": @V}]}",
		"{\"sets\": [{\"name\": \"s\", \"type\": \"port\", \"@K\": @V}]}",
		"{\"sets\": [{\"name\": \"s\", \"type\": \"ipv6\", "
		"\"elements\": [{\"key\": \"::1\", \"@K\": @V}]}]}",
		"{\"@K\": @V}",
		"{\"rules\": [{\"name\": \"a\", \"from\": \"lan\", \"to\": "
		"\"wan\", \"verdict\": \"accept\", \"limit\": {\"per\": "
		"\"second\", \"@K\": @V}}]}",
	};
	static const char *const keys[] = {
		"name", "from", "to", "proto", "sport", "dport", "icmp_types",
		"src", "dst", "state", "log", "log_prefix", "verdict", "limit",
		"comment", "interfaces", "networks", "external", "dmz", "kind",
		"as", "target", "target_port", "type", "timeout", "elements",
		"key", "expires", "rules", "zones", "sets", "nat", "policies",
		"rate", "burst", "per",
	};
	size_t		 s, k, v, n = 0;
	char		 doc[1024];
	json_t		*j, *enc;
	struct diags	 d;
	struct ruleset	*rs, *back;

	for (s = 0; s < sizeof(shapes) / sizeof(*shapes); s++)
	for (k = 0; k < sizeof(keys) / sizeof(*keys); k++)
	for (v = 0; v < sizeof(values) / sizeof(*values); v++) {
		fill(doc, sizeof(doc), shapes[s], keys[k], values[v]);
		if ((j = json_loads(doc, JSON_DECODE_ANY, NULL)) == NULL)
			continue;	/* e.g. a number too big for jansson */
		diags_init(&d);
		rs = codec_decode_ruleset(j, &d);
		ck_assert_msg((rs == NULL) == (d.n > 0), "%s", doc);
		if (rs != NULL) {
			/* what was accepted must survive the round trip */
			enc = codec_encode_ruleset(rs);
			ck_assert_ptr_nonnull(enc);
			diags_free(&d);
			diags_init(&d);
			back = codec_decode_ruleset(enc, &d);
			ck_assert_msg(back != NULL && ruleset_equal(rs, back),
			    "%s", doc);
			ruleset_free(back);
			json_decref(enc);
			ruleset_free(rs);
		}
		diags_free(&d);
		json_decref(j);
		n++;
	}
	ck_assert_uint_gt(n, 8000);
}
END_TEST

/* jansson itself refuses integers that do not fit; a real is ours to
 * refuse. */
START_TEST(decode_huge_numbers)
{
	json_t		*j = J("{\"rules\": [{\"name\": \"a\", \"from\": "
	    "\"lan\", \"to\": \"wan\", \"verdict\": \"accept\", \"limit\": "
	    "{\"rate\": 1e40, \"per\": \"second\", \"burst\": "
	    "9223372036854775807}}]}");
	struct diags	 d;
	char		*t;

	diags_init(&d);
	ck_assert_ptr_null(codec_decode_ruleset(j, &d));
	t = diags_text(&d);
	ck_assert_msg(strstr(t, "rules[0].limit.rate: expected a rate "
	    "1-9223372036854775807, got 1e+40") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "rules[0].limit.burst: expected a burst "
	    "1-4294967295, got 9223372036854775807") != NULL, "%s", t);
	free(t);
	diags_free(&d);
	json_decref(j);
}
END_TEST

static Suite *
codec_suite(void)
{
	Suite	*s = suite_create("codec");
	TCase	*tc;

	tc = tcase_create("encode");
	tcase_add_test(tc, encode_zone);
	tcase_add_test(tc, encode_policy);
	tcase_add_test(tc, encode_rule);
	tcase_add_test(tc, encode_nat);
	tcase_add_test(tc, encode_set);
	tcase_add_test(tc, encode_empty_ruleset);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, api_example_roundtrip);
	tcase_add_test(tc, api_example_as_text);
	tcase_add_test(tc, spec_example_roundtrip);
	tcase_add_test(tc, generated_roundtrip);
	tcase_add_test(tc, expires_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, decode_shorthand);
	tcase_add_test(tc, service_names);
	tcase_add_test(tc, policy_log_and_family);
	tcase_add_loop_test(tc, decode_rejects, 0,
	    sizeof(bad_docs) / sizeof(*bad_docs));
	tcase_add_test(tc, decode_reports_all);
	tcase_add_test(tc, decode_error_cap);
	tcase_add_test(tc, decode_path_prefix);
	tcase_add_test(tc, decode_any_value);
	tcase_add_test(tc, decode_huge_numbers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(codec_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
