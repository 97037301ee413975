/*
 * What dashboards use, in the lab: Prometheus metrics (promtool accepts
 * them, a rule's counter follows real traffic), scoped tokens on the TLS
 * listener (a read-only token is refused every write route of api.c's
 * table, an elements token may block but not add rules, and neither
 * changes anything) and CORS for the listed origins only.
 *
 * Each test starts its own fwctld in the router namespace of a lab the
 * tests share (an unchecked fixture makes and removes it).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "events.h"
#include "lib/fwd.h"
#include "lib/lab.h"

static struct lab *lab;

#define EVENTS_MAX	EVENTS_READERS_MAX

static const char base_rules[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
    "policy lan -> wan accept\n"
    "set blocklist ipv4 { timeout 1h }\n"
    "rule drop-blocked from wan to self src @blocklist drop\n"
    "rule ssh from any to self tcp dport 22 accept\n"
    "rule svc from wan to self tcp dport 2201 accept\n"
    "rule api from lan to self tcp dport 8443 accept\n"
    "nat out masquerade from lan to wan\n";

#define HAS(s, sub) ck_assert_msg(strstr((s), (sub)) != NULL,		\
	"missing '%s' in:\n%.3000s", (sub), (s))
#define HASNT(s, sub) ck_assert_msg(strstr((s), (sub)) == NULL,	\
	"unexpected '%s' in:\n%.3000s", (sub), (s))

static void
dash_setup(void)
{
	if ((lab = lab_up()) == NULL) {
		fprintf(stderr, "lab_dash: lab_up failed\n");
		exit(1);
	}
}

static void
dash_teardown(void)
{
	lab_down(lab);
	lab = NULL;
}

/* A fresh router (no fwctld, no table) and the directory of a daemon
 * over base_rules, not started yet. */
static void
prepare(struct fwd *f)
{
	char	 cmd[256];

	ck_assert_int_eq(fwd_init(f, lab, "router"), 0);
	snprintf(cmd, sizeof(cmd), "for p in $(ip netns pids %s); do "
	    "[ \"$(cat /proc/$p/comm 2>/dev/null)\" = fwctld ] && "
	    "kill -9 $p; done; true", lab_ns(lab, "router"));
	ck_assert_int_eq(system(cmd), 0);
	lab_exec(lab, "router", "nft delete table inet fwctl 2>/dev/null; "
	    "true");
	ck_assert_int_eq(fwd_write(f, "rules/10-base.rules", base_rules), 0);
}

static void
start(struct fwd *f, const char *flags)
{
	prepare(f);
	ck_assert_int_eq(fwd_start(f, 15000, "%s", flags), 0);
}

/* GET /metrics over the socket: the text (the caller's). */
static char *
metrics(struct fwd *f)
{
	struct fwd_res	 r;
	char		*t;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(fwd_curl(f, &r, "GET", "/metrics", NULL, NULL), 200);
	t = r.out;
	r.out = NULL;
	fwd_res_free(&r);
	return t;
}

/* The value of the sample that starts with prefix ("name{labels}"). */
static long long
sample(const char *text, const char *prefix)
{
	const char	*p = text;
	size_t		 len = strlen(prefix);

	while ((p = strstr(p, prefix)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == ' ')
			return atoll(p + len + 1);
		p += len;
	}
	ck_abort_msg("no sample %s in:\n%.3000s", prefix, text);
	return -1;
}

START_TEST(metrics_follow_traffic)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		*m, path[128];
	long long	 before, after;
	pid_t		 srv;
	FILE		*out;
	int		 st;

	start(&f, "");
	srv = lab_serve(lab, "router", "tcp", 2201);
	ck_assert_int_gt(srv, 0);
	m = metrics(&f);
	/* promtool, Prometheus' own checker, reads what a scrape gets */
	snprintf(path, sizeof(path), "%s/metrics.txt", f.dir);
	ck_assert_ptr_nonnull(out = fopen(path, "w"));
	fputs(m, out);
	fclose(out);
	memset(&r, 0, sizeof(r));
	st = lab_exec(lab, "router", "promtool check metrics < %s", path);
	ck_assert_msg(st == 0, "promtool check metrics: exit %d on:\n%.3000s",
	    st, m);
	HAS(m, "fwctl_build_info{version=\"" FWCTL_VERSION "\"");
	HAS(m, "fwctl_set_elements{set=\"blocklist\",type=\"ipv4\"} 0");
	HAS(m, "# TYPE fwctl_apply_duration_seconds histogram");
	ck_assert_int_eq(sample(m, "fwctl_generation"), 1);
	ck_assert_int_eq(sample(m, "fwctl_drift"), 0);
	before = sample(m, "fwctl_rule_packets_total{rule=\"svc\",from=\"wan\","
	    "to=\"self\",verdict=\"accept\"}");
	free(m);
	/* a connection from the wan host is the rule's, and its packets
	 * count in the next scrape */
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 2201, 3000,
	    NULL, 0), 0);
	ck_assert_int_eq(lab_ping(lab, "lan", "10.50.0.2", 2000), 0);
	m = metrics(&f);
	after = sample(m, "fwctl_rule_packets_total{rule=\"svc\",from=\"wan\","
	    "to=\"self\",verdict=\"accept\"}");
	ck_assert_msg(after > before, "svc packets %lld -> %lld", before,
	    after);
	ck_assert_int_gt(sample(m, "fwctl_policy_packets_total{from=\"lan\","
	    "to=\"wan\",verdict=\"accept\"}"), 0);
	ck_assert_int_gt(sample(m, "fwctl_nat_packets_total{nat=\"out\","
	    "kind=\"masquerade\",from=\"lan\",to=\"wan\"}"), 0);
	free(m);
	/* a change and a refusal count by operation and result, the change
	 * in the latency histogram */
	ck_assert_int_eq(fwd_cli(&f, &r, "add-rule", "web", "from", "wan",
	    "to", "self", "tcp", "dport", "80", "accept", (char *)NULL), 0);
	fwd_res_free(&r);
	ck_assert_int_ne(fwd_cli(&f, &r, "add-rule", "web", "from", "wan",
	    "to", "self", "tcp", "dport", "80", "accept", (char *)NULL), 0);
	fwd_res_free(&r);
	m = metrics(&f);
	ck_assert_int_eq(sample(m, "fwctl_changes_total{op=\"add_rule\","
	    "result=\"ok\"}"), 1);
	ck_assert_int_eq(sample(m, "fwctl_changes_total{op=\"add_rule\","
	    "result=\"conflict\"}"), 1);
	ck_assert_int_eq(sample(m, "fwctl_apply_duration_seconds_count"), 1);
	ck_assert_int_eq(sample(m, "fwctl_generation"), 2);
	ck_assert_int_eq(sample(m, "fwctl_objects{kind=\"rules\"}"), 5);
	free(m);
	lab_stop(lab, srv);
	fwd_cleanup(&f);
}
END_TEST

#define TOK_RO	"ro-token-0123456789abcdef"
#define TOK_F2B	"f2b-token-0123456789abcdef"
#define TOK_RW	"rw-token-0123456789abcdef"
#define LISTEN	"10.50.1.1:8443"
#define URL	"https://10.50.1.1:8443"

/* A daemon with the TLS listener and a token of each scope, stored as
 * crypt(3) SHA-512 hashes (openssl passwd -6), and the flags given. */
static void
start_tls(struct fwd *f, const char *extra)
{
	int	 st;

	prepare(f);
	st = lab_exec(lab, "router", "cd %s && openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem "
	    "-out cert.pem -days 1 -subj /CN=10.50.1.1 "
	    "-addext subjectAltName=IP:10.50.1.1 >/dev/null 2>&1 && "
	    "chmod 600 key.pem && { echo '# name scope hash'; "
	    "printf 'ro read %%s\n' $(printf %%s " TOK_RO " | openssl passwd "
	    "-6 -stdin); printf 'f2b elements %%s\n' $(printf %%s " TOK_F2B
	    " | openssl passwd -6 -stdin); printf 'admin write %%s\n' "
	    "$(printf %%s " TOK_RW " | openssl passwd -6 -stdin); } > tokens "
	    "&& chmod 600 tokens", f->dir);
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(fwd_start(f, 15000, "--listen " LISTEN " --tls-cert "
	    "%s/cert.pem --tls-key %s/key.pem --tokens %s/tokens %s", f->dir,
	    f->dir, f->dir, extra), 0);
	/* the socket takes connections before the ruleset is applied, the
	 * TCP listener only after */
	ck_assert_int_eq(lab_wait_port(lab, "router", "tcp", 8443, 15000), 0);
}

/* A request over TLS from the router with curl -i: the status, the
 * headers and body in *out (the caller's). hdrs: more curl options. */
static int
tls(struct fwd *f, const char *token, const char *method, const char *path,
    const char *hdrs, const char *body, char **out)
{
	char	 auth[128] = "";
	int	 st, code = -1;

	if (token != NULL)
		snprintf(auth, sizeof(auth), "-H 'Authorization: Bearer %s'",
		    token);
	*out = lab_output_status(lab, &st, "router", "curl -s -i --max-time 10 "
	    "--cacert %s/cert.pem -X %s %s %s %s%s%s '" URL "%s'", f->dir,
	    method, auth, hdrs ? hdrs : "", body ? "-H 'Content-Type: "
	    "application/json' --data-binary '" : "", body ? body : "",
	    body ? "'" : "", path);
	ck_assert_ptr_nonnull(*out);
	if (st == 0)
		(void)sscanf(*out, "HTTP/%*s %d", &code);
	return code;
}

/* The whole state a refused request must leave as it was: the ruleset
 * with its run-time elements, at its generation. */
static char *
state(struct fwd *f)
{
	struct fwd_res	 r;
	char		*t;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(fwd_curl(f, &r, "GET", "/v1/ruleset?with_elements=1",
	    NULL, NULL), 200);
	t = r.out;
	r.out = NULL;
	fwd_res_free(&r);
	return t;
}

/* An example of route rt's path: {name} is an object of base_rules. */
static void
route_path(const struct api_route *rt, char *buf, size_t len)
{
	const char	*p = strstr(rt->path, "{name}");
	const char	*name = strstr(rt->path, "/rules/") ? "ssh" :
			    strstr(rt->path, "/zones/") ? "lan" :
			    strstr(rt->path, "/nat/") ? "out" : "blocklist";

	if (p == NULL)
		snprintf(buf, len, "%s", rt->path);
	else
		snprintf(buf, len, "%.*s%s%s", (int)(p - rt->path), rt->path,
		    name, p + 6);
}

/* Every route of api.c's table the scope may not use gets 403, with
 * nothing about the ruleset (no ETag, no generation). Returns how many
 * routes were tried. */
static int
refused_routes(struct fwd *f, const char *token, bool elements_ok)
{
	char		 path[256], *out;
	size_t		 i;
	int		 n = 0, code;

	for (i = 0; i < api_nroutes; i++) {
		const struct api_route *rt = &api_routes[i];

		if (strcmp(rt->method, "GET") == 0 ||
		    (elements_ok && (rt->flags & API_ELEMS)))
			continue;
		route_path(rt, path, sizeof(path));
		code = tls(f, token, rt->method, path, NULL,
		    (rt->flags & API_BODY) ? "{\"elements\":[\"192.0.2.77\"]}" :
		    NULL, &out);
		ck_assert_msg(code == 403, "%s %s: %d, expected 403:\n%s",
		    rt->method, path, code, out);
		ck_assert_msg(strcasestr(out, "\nETag:") == NULL,
		    "%s %s: an ETag in a 403:\n%s", rt->method, path, out);
		HASNT(out, "generation");
		HAS(out, "application/problem+json");
		free(out);
		n++;
	}
	return n;
}

START_TEST(token_scopes)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		*before, *after, *out;
	json_t		*j;
	pid_t		 srv;
	int		 n;

	start_tls(&f, "");
	srv = lab_serve(lab, "router", "tcp", 2201);
	ck_assert_int_gt(srv, 0);
	before = state(&f);
	/* read: every read, no write */
	ck_assert_int_eq(tls(&f, TOK_RO, "GET", "/v1/status", NULL, NULL,
	    &out), 200);
	free(out);
	ck_assert_int_eq(tls(&f, TOK_RO, "GET", "/metrics", NULL, NULL, &out),
	    200);
	HAS(out, "fwctl_generation 1");
	free(out);
	n = refused_routes(&f, TOK_RO, false);
	ck_assert_int_ge(n, 15);
	/* a wrong token: 401 without the generation either */
	ck_assert_int_eq(tls(&f, "ro-token-0123456789abcdeX", "GET",
	    "/v1/status", NULL, NULL, &out), 401);
	ck_assert_msg(strcasestr(out, "\nETag:") == NULL, "%s", out);
	free(out);
	after = state(&f);
	ck_assert_str_eq(after, before);
	free(after);
	/* elements: everything but set elements refused ... */
	ck_assert_int_eq(refused_routes(&f, TOK_F2B, true), n - 2);
	ck_assert_int_eq(tls(&f, TOK_F2B, "POST", "/v1/rules", NULL,
	    "{\"name\":\"x\",\"from\":\"wan\",\"to\":\"self\","
	    "\"verdict\":\"accept\"}", &out), 403);
	free(out);
	after = state(&f);
	ck_assert_str_eq(after, before);
	free(after);
	/* ... and a block that cuts the wan host off */
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 2201, 3000,
	    NULL, 0), 0);
	ck_assert_int_eq(tls(&f, TOK_F2B, "POST", "/v1/sets/blocklist/elements",
	    NULL, "{\"elements\":[\"10.50.0.2\"]}", &out), 200);
	free(out);
	ck_assert_int_ne(lab_tcp_connect(lab, "wan", "10.50.0.1", 2201, 1500,
	    NULL, 0), 0);
	/* the token's name in the history */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(fwd_curl(&f, &r, "GET", "/v1/history?limit=1", NULL,
	    NULL), 200);
	ck_assert_ptr_nonnull(j = json_loads(r.out, 0, NULL));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "entries"), 0), "who")), "token f2b");
	json_decref(j);
	fwd_res_free(&r);
	/* write may add rules */
	ck_assert_int_eq(tls(&f, TOK_RW, "POST", "/v1/rules", NULL,
	    "{\"name\":\"x\",\"from\":\"wan\",\"to\":\"self\","
	    "\"verdict\":\"accept\",\"proto\":\"tcp\",\"dport\":[99]}",
	    &out), 201);
	free(out);
	free(before);
	lab_stop(lab, srv);
	fwd_cleanup(&f);
}
END_TEST

#define GOOD	"https://dash.example:8080"
#define EVIL	"https://evil.example"

START_TEST(cors_listed_origins_only)
{
	struct fwd	 f;
	char		*before, *after, *out;

	start_tls(&f, "--cors-origin " GOOD " --cors-origin "
	    "https://other.example");
	before = state(&f);
	/* a preflight needs no token, and names the origin back */
	ck_assert_int_eq(tls(&f, NULL, "OPTIONS", "/v1/rules",
	    "-H 'Origin: " GOOD "' -H 'Access-Control-Request-Method: POST' "
	    "-H 'Access-Control-Request-Headers: authorization,content-type'",
	    NULL, &out), 204);
	HAS(out, "Access-Control-Allow-Origin: " GOOD "\r\n");
	HAS(out, "Access-Control-Allow-Methods: ");
	HAS(out, "Authorization");
	HASNT(out, "Access-Control-Allow-Credentials");
	free(out);
	/* a real request from the listed origin */
	ck_assert_int_eq(tls(&f, TOK_RO, "GET", "/v1/status",
	    "-H 'Origin: " GOOD "'", NULL, &out), 200);
	HAS(out, "Access-Control-Allow-Origin: " GOOD "\r\n");
	HAS(out, "Access-Control-Expose-Headers: ETag");
	free(out);
	/* any other origin: not one CORS header, in a preflight (refused)
	 * or a reply; nor an origin that only starts like a listed one */
	ck_assert_int_eq(tls(&f, NULL, "OPTIONS", "/v1/rules",
	    "-H 'Origin: " EVIL "' -H 'Access-Control-Request-Method: POST'",
	    NULL, &out), 403);
	HASNT(out, "Access-Control-");
	free(out);
	ck_assert_int_eq(tls(&f, NULL, "OPTIONS", "/v1/rules/ssh",
	    "-H 'Origin: " GOOD ".evil.example' "
	    "-H 'Access-Control-Request-Method: DELETE'", NULL, &out), 403);
	HASNT(out, "Access-Control-");
	free(out);
	ck_assert_int_eq(tls(&f, TOK_RO, "GET", "/v1/status",
	    "-H 'Origin: " EVIL "'", NULL, &out), 200);
	HASNT(out, "Access-Control-");
	free(out);
	/* without a token, a preflight-less request is still 401 */
	ck_assert_int_eq(tls(&f, NULL, "DELETE", "/v1/rules/ssh",
	    "-H 'Origin: " GOOD "'", NULL, &out), 401);
	free(out);
	after = state(&f);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	fwd_cleanup(&f);
}
END_TEST

/* The file's text (the caller's; "" when missing). */
static char *
slurp(const char *path)
{
	FILE	*fp = fopen(path, "r");
	char	*buf;
	size_t	 n = 0;

	ck_assert_ptr_nonnull(buf = calloc(1, 1 << 16));
	if (fp != NULL) {
		n = fread(buf, 1, (1 << 16) - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
	return buf;
}

/* Waits up to ms for sub in the file: the time it took, or -1. */
static long long
wait_for(const char *path, const char *sub, int ms)
{
	long long	 t0 = lab_now();
	char		*t;
	bool		 found;

	for (;;) {
		t = slurp(path);
		found = strstr(t, sub) != NULL;
		free(t);
		if (found)
			return lab_now() - t0;
		if (lab_now() - t0 > ms)
			return -1;
		usleep(20000);
	}
}

/* An event stream read with curl -N into DIR/name, in the background. */
static pid_t
listen_events(struct fwd *f, const char *name, const char *last_id)
{
	char	 path[128];
	pid_t	 pid;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	/* 503 when readers are at their bound: curl tries again */
	pid = lab_spawn(lab, "router", "exec curl -sN --max-time 60 "
	    "--retry 10 --retry-delay 1 "
	    "--unix-socket %s %s%s%s http://fwctld/v1/events > %s", f->sock,
	    last_id ? "-H 'Last-Event-ID: " : "", last_id ? last_id : "",
	    last_id ? "'" : "", path);
	ck_assert_int_gt(pid, 0);
	ck_assert_msg(wait_for(path, "retry: ", 10000) >= 0,
	    "no event stream in %s", path);
	return pid;
}

/* The id of the last event in text that holds sub. */
static unsigned long long
event_id(const char *text, const char *sub)
{
	const char	*p = strstr(text, sub), *id = NULL, *q;

	ck_assert_msg(p != NULL, "no '%s' in:\n%s", sub, text);
	for (q = text; (q = strstr(q, "id: ")) != NULL && q < p; q += 4)
		id = q;
	ck_assert_ptr_nonnull(id);
	return strtoull(id + 4, NULL, 10);
}

START_TEST(events_live_and_resumed)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		 path[128], last[32], *t;
	unsigned long long id, id2, id3;
	long long	 took;
	pid_t		 ev, more[EVENTS_MAX];
	int		 i, code;

	start(&f, "");
	snprintf(path, sizeof(path), "%s/ev1", f.dir);
	ev = listen_events(&f, "ev1", NULL);
	/* a change made with the CLI is on the stream within a second of
	 * the CLI's answer */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(fwd_cli(&f, &r, "add-rule", "web", "from", "wan",
	    "to", "self", "tcp", "dport", "80", "accept", (char *)NULL), 0);
	fwd_res_free(&r);
	took = wait_for(path, "\"summary\":\"+rule web\"", 1000);
	ck_assert_msg(took >= 0, "no change event within 1 s:\n%s",
	    t = slurp(path));
	t = slurp(path);
	HAS(t, "event: change\ndata: {\"generation\":2,");
	HAS(t, "\"who\":\"uid 0 pid ");
	id = event_id(t, "+rule web");
	free(t);
	/* the reader goes; two changes happen while it is away */
	ck_assert_int_eq(lab_stop(lab, ev), 0);
	ck_assert_int_eq(fwd_cli(&f, &r, "add-rule", "mail", "from", "wan",
	    "to", "self", "tcp", "dport", "25", "accept", (char *)NULL), 0);
	fwd_res_free(&r);
	ck_assert_int_eq(fwd_cli(&f, &r, "delete-rule", "web", (char *)NULL),
	    0);
	fwd_res_free(&r);
	/* back with Last-Event-ID: both, in order, nothing twice, no gap */
	snprintf(last, sizeof(last), "%llu", id);
	snprintf(path, sizeof(path), "%s/ev2", f.dir);
	ev = listen_events(&f, "ev2", last);
	ck_assert_int_ge(wait_for(path, "-rule web", 5000), 0);
	t = slurp(path);
	HASNT(t, "+rule web");
	HASNT(t, "event: gap");
	id2 = event_id(t, "+rule mail");
	id3 = event_id(t, "-rule web");
	ck_assert_uint_eq(id2, id + 1);
	ck_assert_uint_eq(id3, id + 2);
	free(t);
	/* readers are bounded: one more than the bound waits its turn */
	for (i = 0; i < EVENTS_MAX - 1; i++) {
		snprintf(last, sizeof(last), "more%d", i);
		more[i] = listen_events(&f, last, NULL);
	}
	memset(&r, 0, sizeof(r));
	code = fwd_curl(&f, &r, "GET", "/v1/events", NULL, NULL);
	ck_assert_msg(code == 503, "reader %d: %d %s", EVENTS_MAX + 1, code,
	    r.out);
	fwd_res_free(&r);
	/* and one that goes makes room */
	ck_assert_int_eq(lab_stop(lab, more[0]), 0);
	more[0] = listen_events(&f, "again", NULL);
	for (i = 0; i < EVENTS_MAX - 1; i++)
		lab_stop(lab, more[i]);
	lab_stop(lab, ev);
	fwd_cleanup(&f);
}
END_TEST

/* A ruleset change that awaits confirmation, as `fwctl apply --confirm`
 * makes it: base_rules and one more rule; the HTTP status. */
static int
put_confirm(struct fwd *f, const char *rule)
{
	struct fwd_res	 r;
	char		 body[2048];
	int		 code;

	snprintf(body, sizeof(body), "%s%s\n", base_rules, rule);
	memset(&r, 0, sizeof(r));
	code = fwd_curl(f, &r, "PUT", "/v1/ruleset?confirm=60", "text/plain",
	    body);
	fwd_res_free(&r);
	return code;
}

START_TEST(pending_confirmed_reverted)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		 path[128], *m, *t;
	long long	 now = (long long)time(NULL), deadline;
	pid_t		 ev;

	start(&f, "");
	snprintf(path, sizeof(path), "%s/ev", f.dir);
	ev = listen_events(&f, "ev", NULL);
	/* pending: in the metrics with its deadline, and on the stream */
	ck_assert_int_eq(put_confirm(&f, "rule extra from wan to self tcp "
	    "dport 81 accept"), 200);
	m = metrics(&f);
	ck_assert_int_eq(sample(m, "fwctl_pending_generation"), 2);
	ck_assert_int_gt(sample(m, "fwctl_pending_seconds_left"), 0);
	ck_assert_int_le(sample(m, "fwctl_pending_seconds_left"), 60);
	deadline = sample(m, "fwctl_pending_deadline_timestamp_seconds");
	ck_assert_int_gt(deadline, now);
	ck_assert_int_le(deadline, now + 120);
	free(m);
	ck_assert_int_ge(wait_for(path, "event: pending\ndata: "
	    "{\"generation\":2,\"seconds\":60,", 5000), 0);
	/* confirmed */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(fwd_curl(&f, &r, "POST", "/v1/confirm", NULL, NULL),
	    200);
	fwd_res_free(&r);
	ck_assert_int_ge(wait_for(path, "event: confirmed\n", 5000), 0);
	m = metrics(&f);
	ck_assert_int_eq(sample(m, "fwctl_pending_generation"), 0);
	ck_assert_int_eq(sample(m, "fwctl_pending_deadline_timestamp_seconds"),
	    0);
	ck_assert_int_eq(sample(m, "fwctl_changes_total{op=\"confirm\","
	    "result=\"ok\"}"), 1);
	free(m);
	/* and one reverted: the generation before it back as a new one */
	ck_assert_int_eq(put_confirm(&f, "rule other from wan to self tcp "
	    "dport 82 accept"), 200);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(fwd_curl(&f, &r, "POST", "/v1/revert", NULL, NULL),
	    200);
	fwd_res_free(&r);
	ck_assert_int_ge(wait_for(path, "event: reverted\ndata: "
	    "{\"generation\":4,\"reverted\":3,", 5000), 0);
	t = slurp(path);
	HAS(t, "\"op\":\"replace ruleset\"");
	free(t);
	lab_stop(lab, ev);
	fwd_cleanup(&f);
}
END_TEST

/* fwctl in the lan host, against the router's fwctld over TLS: its
 * exit status, its output in *out (the caller's). */
static int
remote(struct fwd *f, const char *env, const char *args, char **out)
{
	int	 st;

	*out = lab_output_status(lab, &st, "lan", "cd %s && env -u "
	    "FWCTL_TOKEN -u FWCTL_URL %s %s --no-color %s 2>&1", f->dir,
	    env, f->fwctl, args);
	ck_assert_ptr_nonnull(*out);
	return st;
}

START_TEST(cli_over_tls)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		*out, *before;
	json_t		*j;
	int		 st;

	start_tls(&f, "");
	ck_assert_int_eq(lab_exec(lab, "router", "cd %s && umask 077 && "
	    "printf '%%s\\n' " TOK_RW " > rw.tok && printf '%%s\\n' "
	    TOK_RO " > ro.tok", f.dir), 0);
#define REMOTE "--url " URL " --cacert cert.pem "
	/* the same commands, the same replies, from another host */
	st = remote(&f, "", REMOTE "--token-file rw.tok add-rule imap from "
	    "wan to self tcp dport 143 accept", &out);
	ck_assert_msg(st == 0, "exit %d: %s", st, out);
	HAS(out, "rule imap added at position 5 (generation 2)");
	free(out);
	ck_assert_int_eq(remote(&f, "", REMOTE "--token-file rw.tok list "
	    "rules", &out), 0);
	HAS(out, "imap");
	free(out);
	/* the environment instead of options, and the same exit statuses:
	 * 5 for a name that exists, 6 for one that does not */
	ck_assert_int_eq(remote(&f, "FWCTL_URL=" URL " FWCTL_CACERT=cert.pem "
	    "FWCTL_TOKEN=" TOK_RW, "add-rule imap from wan to self tcp dport "
	    "143 accept", &out), 5);
	free(out);
	ck_assert_int_eq(remote(&f, "FWCTL_URL=" URL " FWCTL_CACERT=cert.pem "
	    "FWCTL_TOKEN=" TOK_RW, "delete-rule nosuch", &out), 6);
	free(out);
	before = state(&f);
	/* 4: a read-only token may not change, a wrong one may not read */
	ck_assert_int_eq(remote(&f, "", REMOTE "--token-file ro.tok status",
	    &out), 0);
	free(out);
	ck_assert_int_eq(remote(&f, "", REMOTE "--token-file ro.tok "
	    "delete-rule imap", &out), 4);
	HAS(out, "scope read");
	free(out);
	ck_assert_int_eq(remote(&f, "FWCTL_TOKEN=not-the-token-0123456789",
	    REMOTE "status", &out), 4);
	free(out);
	/* 3: nobody there; and a certificate not checked is no connection */
	ck_assert_int_eq(remote(&f, "", "--url https://10.50.1.10:8444 "
	    "--cacert cert.pem --token-file rw.tok status", &out), 3);
	free(out);
	ck_assert_int_eq(remote(&f, "", "--url " URL " --token-file rw.tok "
	    "status", &out), 3);
	HAS(out, "TLS");
	free(out);
	/* 2: a token must not travel in clear */
	ck_assert_int_eq(remote(&f, "", "--url http://10.50.1.1:8443 "
	    "--token-file rw.tok status", &out), 2);
	free(out);
	out = state(&f);
	ck_assert_str_eq(out, before);
	free(out);
	free(before);
	/* the change is the token's in the history */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(fwd_curl(&f, &r, "GET", "/v1/history?limit=1", NULL,
	    NULL), 200);
	ck_assert_ptr_nonnull(j = json_loads(r.out, 0, NULL));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "entries"), 0), "who")), "token admin");
	json_decref(j);
	fwd_res_free(&r);
	fwd_cleanup(&f);
#undef REMOTE
}
END_TEST

/* Where the browser test leaves its screenshots (kept after the run). */
static void
artefacts(char *buf, size_t len)
{
	const char	*a = getenv("FWCTL_ARTEFACTS");
	const char	*src = getenv("FWCTL_SRC");

	if (a != NULL && *a)
		snprintf(buf, len, "%s/lab_dash", a);
	else
		snprintf(buf, len, "%s/build/artefacts/lab_dash",
		    src ? src : ".");
}

START_TEST(dashboard_in_browser)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		 art[512], out[600], flags[600], *t;
	const char	*src = getenv("FWCTL_SRC") ? getenv("FWCTL_SRC") : ".";
	pid_t		 srv, drv;
	json_t		*j;
	long long	 seen;
	const char	*p;
	int		 i;

	artefacts(art, sizeof(art));
	ck_assert_int_eq(lab_exec(lab, "router", "mkdir -p %s && rm -f %s/*",
	    art, art), 0);
	/* npm in the host's namespace: the lab has no way out */
	snprintf(flags, sizeof(flags), "%s/tests/ui/run --install", src);
	ck_assert_int_eq(system(flags), 0);
	snprintf(flags, sizeof(flags), "--ui-dir %s/contrib/ui", src);
	start_tls(&f, flags);
	srv = lab_serve(lab, "router", "tcp", 2201);
	ck_assert_int_gt(srv, 0);
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 2201, 3000,
	    NULL, 0), 0);
	/* the browser runs on the lan host, as an admin's would */
	snprintf(out, sizeof(out), "%s/drive.out", art);
	drv = lab_spawn(lab, "lan", "exec %s/tests/ui/run " URL " " TOK_RW
	    " %s newrule 10.50.0.2 > %s 2> %s/drive.err", src, art, out, art);
	ck_assert_int_gt(drv, 0);
	ck_assert_msg(wait_for(out, "READY", 90000) >= 0, "the page did not "
	    "show the ruleset:\n%s", t = slurp(out));
	t = slurp(out);
	HAS(t, "ZONES wan lan self\n");
	HAS(t, "RULES drop-blocked ssh svc api\n");
	free(t);
	/* traffic to rule svc: its rate on the page rises */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 2201,
		    3000, NULL, 0), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "touch %s/traffic", art), 0);
	ck_assert_msg(wait_for(out, "MOVING ", 60000) >= 0, "svc's rate did "
	    "not move on the page:\n%s", t = slurp(out));
	/* a rule added with the CLI appears on its own within a second */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(fwd_cli(&f, &r, "add-rule", "newrule", "from", "wan",
	    "to", "self", "tcp", "dport", "8080", "accept", (char *)NULL), 0);
	fwd_res_free(&r);
	ck_assert_int_eq(lab_exec(lab, "router", "touch %s/added", art), 0);
	ck_assert_msg(wait_for(out, "SHOT 4-blocked.png", 90000) >= 0,
	    "the page did not block:\n%s", t = slurp(out));
	t = slurp(out);
	ck_assert_msg((p = strstr(t, "SEEN ")) != NULL && p[-1] == '\n',
	    "the rule did not appear within 1 s:\n%s", t);
	seen = atoll(p + 5);
	ck_assert_int_le(seen, 1000);
	HAS(t, "BLOCKED\n");
	HASNT(t, "PAGE ERRORS");
	free(t);
	lab_stop(lab, drv);
	/* the block made on the page is in the set and stops the wan host */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(fwd_curl(&f, &r, "GET", "/v1/sets/blocklist", NULL,
	    NULL), 200);
	ck_assert_ptr_nonnull(j = json_loads(r.out, 0, NULL));
	HAS(r.out, "\"10.50.0.2\"");
	json_decref(j);
	fwd_res_free(&r);
	ck_assert_int_ne(lab_tcp_connect(lab, "wan", "10.50.0.1", 2201, 1500,
	    NULL, 0), 0);
	/* the screenshots are kept */
	ck_assert_int_eq(lab_exec(lab, "router", "test -s %s/1-ruleset.png && "
	    "test -s %s/2-traffic.png && test -s %s/3-rule-added.png && "
	    "test -s %s/4-blocked.png", art, art, art, art), 0);
	lab_stop(lab, srv);
	fwd_cleanup(&f);
}
END_TEST

static Suite *
dash_suite(void)
{
	Suite	*s = suite_create("dash");
	TCase	*tc = tcase_create("dash");

	tcase_add_unchecked_fixture(tc, dash_setup, dash_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, metrics_follow_traffic);
	tcase_add_test(tc, token_scopes);
	tcase_add_test(tc, cors_listed_origins_only);
	tcase_add_test(tc, events_live_and_resumed);
	tcase_add_test(tc, pending_confirmed_reverted);
	tcase_add_test(tc, cli_over_tls);
	tcase_add_test(tc, dashboard_in_browser);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(dash_suite());
	int	 nfailed;

	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
