/*
 * state.c: the state file round-trips, is replaced atomically, keeps a
 * bounded history, and a damaged file is reported and passed over; the
 * journal replays to what the changes did, survives a torn tail and a
 * crash between snapshot and emptying, and is folded into snapshots.
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

/* The snapshot is written line by line, its strings escaped by hand:
 * quotes, backslashes and UTF-8 in comments come back as they were. */
START_TEST(test_roundtrip_escapes)
{
	static const char text[] =
	    "rule q from any to self tcp dport 22 comment "
	    "\"say \\\"hi\\\" \\\\ caf\xc3\xa9 \\\\\\\"\" accept\n";
	struct ruleset	*rs = ruleset_new(), *back = NULL;
	struct diags	 d;
	uint64_t	 gen = 0;

	diags_init(&d);
	ck_assert_int_eq(parse_buffer(rs, "q.rules", text, strlen(text), &d),
	    0);
	ck_assert_str_eq(rs->rules[0]->comment, "say \"hi\" \\ caf\xc3\xa9 \\\"");
	ck_assert_int_eq(state_save(tmpdir, 3, rs, &d), 0);
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 1);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(gen, 3);
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
	ck_assert_uint_eq(count_history(), 9);
	/* what only generations before 5 need goes; 5 is the oldest kept */
	ck_assert_uint_eq(state_history_prune(tmpdir, 5), 5);
	ck_assert_uint_eq(count_history(), 5);
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

/* state.json damaged in place (not replaced): its history snapshot is a
 * copy, and rebuilds exactly that generation, as a new one. */
START_TEST(test_history_is_a_copy)
{
	struct ruleset	*rs = sample(), *back = NULL;
	struct diags	 d;
	char		 path[PATH_MAX];
	uint64_t	 gen = 0;

	diags_init(&d);
	ck_assert_int_eq(state_save(tmpdir, 7, rs, &d), 0);
	snprintf(path, sizeof(path), "%s/state.json", tmpdir);
	ck_assert_int_eq(truncate(path, 100), 0);
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 2);
	ck_assert_uint_eq(gen, 8);
	ck_assert(ruleset_equal(back, rs));
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
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 2);
	ck_assert_uint_gt(d.n, 0);	/* the damage is reported */
	ck_assert_ptr_nonnull(strstr(d.v[0].file, "state.json"));
	/* generation 4's ruleset, as a new generation */
	ck_assert_uint_eq(gen, 5);
	ck_assert(ruleset_equal(back, rs2));
	ruleset_free(back);
	diags_free(&d);

	/* the newest snapshot damaged too: the one before, still never an
	 * old number */
	snprintf(path, sizeof(path), "%s/history/4.json", tmpdir);
	ck_assert_int_eq(unlink(path), 0);
	write_file(path, "garbage");
	diags_init(&d);
	back = NULL;
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 2);
	ck_assert_uint_eq(gen, 5);
	ck_assert(ruleset_equal(back, rs));
	ruleset_free(back);
	diags_free(&d);

	/* every file damaged: nothing loads, numbering goes on */
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

/* ---- the journal ---- */

/*
 * What the engine does for one change, without the kernel: edit a shared
 * copy, append the record as generation gen, make it current. The object
 * texts are rule language; elems are element texts for set name.
 */
static void
jchange(struct ruleset **cur, uint64_t gen, enum change_op op,
    const char *text, const char *name, size_t position,
    const char *const *elems)
{
	struct change		 c;
	struct change_result	 res;
	struct edit_effect	 eff;
	struct set_elem		 ev[8];
	struct ruleset		*next;
	struct diags		 d;
	ssize_t			 k;
	bool			 compact;

	diags_init(&d);
	memset(&c, 0, sizeof(c));
	memset(&res, 0, sizeof(res));
	plan_init(&res.plan);
	diags_init(&res.diags);
	c.op = op;
	c.name = name;
	c.position = position;
	switch (op) {
	case CHANGE_RULE_ADD:
	case CHANGE_RULE_PUT:
		ck_assert_ptr_nonnull(c.rule = parse_rule(text, &d));
		break;
	case CHANGE_ZONE_PUT:
		ck_assert_ptr_nonnull(c.zone = parse_zone(text, &d));
		break;
	case CHANGE_POLICY_PUT:
		ck_assert_ptr_nonnull(c.policy = parse_policy(text, &d));
		break;
	case CHANGE_NAT_ADD:
		ck_assert_ptr_nonnull(c.nat = parse_nat(text, &d));
		break;
	case CHANGE_SET_PUT:
		ck_assert_ptr_nonnull(c.set = parse_set(text, &d));
		break;
	case CHANGE_POLICY_DELETE:
		c.from = name;
		c.to = text;
		break;
	case CHANGE_ELEMS_ADD:
	case CHANGE_ELEMS_DELETE:
		k = ruleset_find_set(*cur, name);
		ck_assert_int_ge(k, 0);
		for (; elems[c.nelems] != NULL; c.nelems++)
			ck_assert_int_eq(parse_set_elem((*cur)->sets[k]->type,
			    elems[c.nelems], &ev[c.nelems], &d), 0);
		c.elems = ev;
		break;
	default:
		break;
	}
	ck_assert_ptr_nonnull(next = ruleset_share(*cur));
	ck_assert_int_eq(edit_apply(next, &c, &res, NULL, edit_now_ms(),
	    &eff), 0);
	ck_assert_int_eq(validate_ruleset(next, &d), 0);
	ck_assert_int_eq(state_append(tmpdir, gen, &c, &eff, &res, &compact,
	    &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ruleset_free(*cur);
	*cur = next;
	rule_free(eff.removed);
	rule_free(c.rule);
	zone_free(c.zone);
	policy_free(c.policy);
	nat_free(c.nat);
	set_free(c.set);
	plan_free(&res.plan);
	diags_free(&res.diags);
	diags_free(&d);
}

static const char *const jadd[] = { "10.9.0.0/16", "192.0.2.1", NULL };
static const char *const jdel[] = { "192.168.10.5", NULL };

/* Every kind of record, generations 2..15 after a snapshot at 1. */
static struct ruleset *
jhistory(void)
{
	struct ruleset	*rs = sample();
	struct diags	 d;

	diags_init(&d);
	ck_assert_int_eq(state_save(tmpdir, 1, rs, &d), 0);
	jchange(&rs, 2, CHANGE_RULE_ADD, "rule dns from lan to self udp dport "
	    "53 accept", NULL, 1, NULL);
	jchange(&rs, 3, CHANGE_RULE_PUT, "rule web from any to self tcp dport "
	    "443 accept", NULL, 0, NULL);
	jchange(&rs, 4, CHANGE_RULE_PUT, "rule ntp from lan to self udp dport "
	    "123 accept", NULL, 0, NULL);
	jchange(&rs, 5, CHANGE_ZONE_PUT, "zone dmz { interface eth2 }", NULL,
	    0, NULL);
	jchange(&rs, 6, CHANGE_POLICY_PUT, "policy lan -> dmz drop", NULL, 0,
	    NULL);
	jchange(&rs, 7, CHANGE_NAT_ADD, "nat webfwd forward from wan tcp dport "
	    "8080 to 192.168.10.7:80", NULL, 0, NULL);
	jchange(&rs, 8, CHANGE_SET_PUT, "set ports port { 22, 80-90 }", NULL, 0,
	    NULL);
	jchange(&rs, 9, CHANGE_ELEMS_ADD, NULL, "blocklist", 0, jadd);
	jchange(&rs, 10, CHANGE_ELEMS_DELETE, NULL, "admins", 0, jdel);
	jchange(&rs, 11, CHANGE_RULE_DELETE, NULL, "ssh", 0, NULL);
	jchange(&rs, 12, CHANGE_RULE_DELETE, NULL, "1", 0, NULL);
	jchange(&rs, 13, CHANGE_NAT_DELETE, NULL, "webfwd", 0, NULL);
	jchange(&rs, 14, CHANGE_POLICY_DELETE, "dmz", "lan", 0, NULL);
	jchange(&rs, 15, CHANGE_SET_DELETE, NULL, "ports", 0, NULL);
	diags_free(&d);
	return rs;
}

static void
jload(uint64_t want_gen, const struct ruleset *want, size_t want_diags)
{
	struct ruleset	*back = NULL;
	struct diags	 d;
	uint64_t	 gen = 0;

	diags_init(&d);
	ck_assert_int_eq(state_load(tmpdir, &gen, &back, &d), 1);
	if (d.n != want_diags)
		diags_print(&d, stderr);
	ck_assert_uint_eq(d.n, want_diags);
	ck_assert_uint_eq(gen, want_gen);
	ck_assert(ruleset_equal(back, want));
	ruleset_free(back);
	diags_free(&d);
}

static off_t
jsize(void)
{
	char		 path[PATH_MAX];
	struct stat	 st;

	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	if (stat(path, &st) == -1)
		return -1;
	return st.st_size;
}

/* Any generation the history holds comes back as it was: snapshots, the
 * journal a later snapshot archived, and the current journal. */
START_TEST(test_history_rebuilds)
{
	struct ruleset	*rs = sample(), *at[6] = { NULL }, *back;
	struct diags	 d;
	uint64_t	 g;

	diags_init(&d);
	ck_assert_int_eq(state_save(tmpdir, 1, rs, &d), 0);
	ck_assert_ptr_nonnull(at[1] = ruleset_dup(rs));
	jchange(&rs, 2, CHANGE_RULE_ADD, "rule dns from lan to self udp dport "
	    "53 accept", NULL, 1, NULL);
	ck_assert_ptr_nonnull(at[2] = ruleset_dup(rs));
	jchange(&rs, 3, CHANGE_ELEMS_ADD, NULL, "blocklist", 0, jadd);
	ck_assert_ptr_nonnull(at[3] = ruleset_dup(rs));
	jchange(&rs, 4, CHANGE_RULE_DELETE, NULL, "ssh", 0, NULL);
	/* a compaction: the journal of 2..4 moves into the history */
	ck_assert_int_eq(state_save(tmpdir, 4, rs, &d), 0);
	ck_assert_ptr_nonnull(at[4] = ruleset_dup(rs));
	jchange(&rs, 5, CHANGE_RULE_DELETE, NULL, "1", 0, NULL);
	ck_assert_ptr_nonnull(at[5] = ruleset_dup(rs));
	for (g = 1; g <= 5; g++) {
		back = NULL;
		ck_assert_int_eq(state_ruleset_at(tmpdir, g, &back, &d), 1);
		if (d.n > 0)
			diags_print(&d, stderr);
		ck_assert_uint_eq(d.n, 0);
		ck_assert_msg(ruleset_equal(back, at[g]), "generation %llu",
		    (unsigned long long)g);
		ruleset_free(back);
	}
	/* not there yet: the records end before it */
	ck_assert_int_eq(state_ruleset_at(tmpdir, 6, &back, &d), -1);
	ck_assert_uint_gt(d.n, 0);
	diags_free(&d);
	diags_init(&d);
	/* forgotten: what only generations before 4 needed */
	ck_assert_uint_eq(state_history_prune(tmpdir, 4), 4);
	ck_assert_int_eq(state_ruleset_at(tmpdir, 3, &back, &d), 0);
	ck_assert_int_eq(state_ruleset_at(tmpdir, 5, &back, &d), 1);
	ck_assert(ruleset_equal(back, at[5]));
	ruleset_free(back);
	for (g = 1; g <= 5; g++)
		ruleset_free(at[g]);
	ruleset_free(rs);
	diags_free(&d);
}
END_TEST

START_TEST(test_journal_replay)
{
	struct ruleset	*rs = jhistory();
	ssize_t		 k;

	/* the changes happened as asked */
	ck_assert_int_eq(ruleset_find_rule(rs, "dns"), -1);	/* deleted at 1 */
	ck_assert_int_ge(ruleset_find_rule(rs, "ntp"), 0);
	ck_assert_int_ge(ruleset_find_zone(rs, "dmz"), 0);
	ck_assert_int_eq(ruleset_find_policy(rs, "lan", "dmz"), -1);
	ck_assert_int_ge(k = ruleset_find_set(rs, "blocklist"), 0);
	ck_assert_uint_eq(rs->sets[k]->nelems, 2);
	ck_assert_uint_gt(rs->sets[k]->elems[0].expires_ms, 0);
	ck_assert(state_needs_snapshot(tmpdir));
	/* snapshot + journal = the changes applied directly */
	jload(15, rs, 0);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_journal_torn_tail)
{
	struct ruleset	*rs = jhistory();
	char		 path[PATH_MAX];
	FILE		*f;

	/* a crash in the middle of appending generation 16 */
	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fputs("{\"generation\":16,\"op\":\"rule-delete\",\"na", f);
	ck_assert_int_eq(fclose(f), 0);
	/* ignored with a log line, not reported as damage */
	jload(15, rs, 0);
	ruleset_free(rs);
}
END_TEST

START_TEST(test_journal_damaged)
{
	struct ruleset	*rs = sample(), *at3;
	struct diags	 d;
	char		 path[PATH_MAX], *buf;
	FILE		*f;
	long		 len;

	diags_init(&d);
	ck_assert_int_eq(state_save(tmpdir, 1, rs, &d), 0);
	jchange(&rs, 2, CHANGE_RULE_PUT, "rule a from lan to self accept",
	    NULL, 0, NULL);
	jchange(&rs, 3, CHANGE_RULE_PUT, "rule b from lan to self accept",
	    NULL, 0, NULL);
	at3 = ruleset_share(rs);
	jchange(&rs, 4, CHANGE_RULE_PUT, "rule c from lan to self accept",
	    NULL, 0, NULL);
	jchange(&rs, 5, CHANGE_RULE_PUT, "rule d from lan to self accept",
	    NULL, 0, NULL);
	/* damage record 3 (generation 4) in place, not at the end */
	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(path, "r+"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	ck_assert_ptr_nonnull(buf = calloc(1, (size_t)len + 1));
	rewind(f);
	ck_assert_int_eq(fread(buf, 1, (size_t)len, f), len);
	buf[strchr(strchr(strchr(buf, '\n') + 1, '\n') + 1, '\n') - buf - 5] =
	    '#';
	rewind(f);
	ck_assert_int_eq(fwrite(buf, 1, (size_t)len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	free(buf);
	/* reported; what came before it stands */
	jload(5, at3, 2);
	ruleset_free(at3);
	ruleset_free(rs);
	diags_free(&d);
}
END_TEST

START_TEST(test_journal_snapshot_crash)
{
	struct ruleset	*rs = jhistory();
	struct diags	 d;
	char		 path[PATH_MAX], cmd[2 * PATH_MAX + 16];

	diags_init(&d);
	/* a crash after the snapshot's rename, before the journal emptied:
	 * the journal still holds what the snapshot holds */
	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.old'", path, path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(state_save(tmpdir, 15, rs, &d), 0);
	ck_assert_int_eq(jsize(), 0);
	ck_assert(!state_needs_snapshot(tmpdir));
	snprintf(cmd, sizeof(cmd), "mv '%s.old' '%s'", path, path);
	ck_assert_int_eq(system(cmd), 0);
	jload(15, rs, 0);
	/* and the next record after those replays onto the snapshot */
	jchange(&rs, 16, CHANGE_RULE_PUT, "rule late from lan to self accept",
	    NULL, 0, NULL);
	jload(16, rs, 0);
	ruleset_free(rs);
	diags_free(&d);
}
END_TEST

START_TEST(test_journal_compaction)
{
	struct ruleset	*rs = sample();
	struct change	 c;
	struct change_result res;
	struct edit_effect eff;
	struct ruleset	*next;
	struct diags	 d;
	char		 text[128];
	uint64_t	 gen = 1;
	bool		 compact = false;

	diags_init(&d);
	ck_assert_int_eq(state_save(tmpdir, gen, rs, &d), 0);
	/* until the journal outgrows its bound (at most a few thousand) */
	while (!compact && gen < 20000) {
		gen++;
		memset(&c, 0, sizeof(c));
		memset(&res, 0, sizeof(res));
		c.op = CHANGE_RULE_PUT;
		snprintf(text, sizeof(text), "rule r%ju from lan to self tcp "
		    "dport %ju accept", (uintmax_t)gen, (uintmax_t)gen % 60000);
		ck_assert_ptr_nonnull(c.rule = parse_rule(text, &d));
		ck_assert_ptr_nonnull(next = ruleset_share(rs));
		ck_assert_int_eq(edit_apply(next, &c, &res, NULL, 0, &eff), 0);
		ck_assert_int_eq(state_append(tmpdir, gen, &c, &eff, &res,
		    &compact, &d), 0);
		ruleset_free(rs);
		rs = next;
		rule_free(eff.removed);
		plan_free(&res.plan);
		diags_free(&res.diags);
	}
	ck_assert(compact);
	ck_assert_uint_lt(gen, 20000);
	/* what the engine does then */
	ck_assert_int_eq(state_save(tmpdir, gen, rs, &d), 0);
	ck_assert_int_eq(jsize(), 0);
	jload(gen, rs, 0);
	ck_assert_uint_eq(d.n, 0);
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
	tcase_add_test(tc, test_roundtrip_escapes);
	tcase_add_test(tc, test_empty_dir);
	tcase_add_test(tc, test_history_bounded);
	tcase_add_test(tc, test_corrupt_falls_back);
	tcase_add_test(tc, test_history_is_a_copy);
	tcase_add_test(tc, test_strict_decode);
	tcase_add_test(tc, test_save_fails_cleanly);
	tcase_add_test(tc, test_expiry_kept);
	tcase_add_test(tc, test_journal_replay);
	tcase_add_test(tc, test_history_rebuilds);
	tcase_add_test(tc, test_journal_torn_tail);
	tcase_add_test(tc, test_journal_damaged);
	tcase_add_test(tc, test_journal_snapshot_crash);
	tcase_add_test(tc, test_journal_compaction);
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
