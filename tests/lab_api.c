/*
 * The REST API of the real fwctld, running in the lab's router namespace,
 * through a real HTTP client (the curl binary on the UNIX socket).  Each
 * endpoint is judged by its JSON and by the kernel (`nft -j list table` in
 * the router namespace) or by traffic; hostile requests get the right 4xx
 * as problem+json and change nothing; acknowledged changes survive kill -9;
 * parallel clients never see half a change; strangers get 403.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "lib/lab.h"

#define TABLE		"fwctl"
#define NOBODY		65534
#define OTHER_GID	12345

static struct lab *lab;
static char	 dir[64];
static char	 sock[100];
static char	 state_dir[128];
static char	 rules_dir[128];
static char	 outdir[128];
static char	 logfile[128];
static char	 pidfile[128];
static char	 fwctld[PATH_MAX];
static const char *group_opt = "";
static unsigned	 reqno;

static const char base_rules[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
    "zone dmz { interface dmz0; dmz }\n"
    "set blocklist ipv4 { timeout 1h }\n"
    "policy lan -> wan accept\n"
    "rule ssh from lan to self tcp dport 22 accept\n"
    "nat masq masquerade from lan to wan\n";

struct resp {
	int	 status;		/* HTTP status, or -1 */
	char	*body;
	char	*hdrs;
	json_t	*json;
};

static void
resp_free(struct resp *r)
{
	free(r->body);
	free(r->hdrs);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}


static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "r")) == NULL)
		return strdup("");
	for (;;) {
		if (len + 4097 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		if ((n = fread(buf + len, 1, cap - len - 1, f)) == 0)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}

static void
spit(const char *path, const char *text, size_t len)
{
	FILE	*f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	chmod(path, 0644);
}

static void
spits(const char *path, const char *text)
{
	spit(path, text, strlen(text));
}

/*
 * One request with the curl binary.  ctype NULL sends none (curl's default
 * is removed); hdr may add one header ("If-Match: \"3\"").  As uid/gid when
 * uid is not 0 (supplementary group sgid when not 0).
 */
static void
http_as(struct resp *r, uid_t uid, gid_t gid, gid_t sgid, const char *method,
    const char *path, const char *ctype, const char *body, size_t len,
    const char *hdr, const char *hdr2)
{
	char		 req[192], bodyf[192], hdrf[192], url[1024];
	char		 cth[128], code[16], at[200], maxt[16];
	const char	*argv[40];
	int		 argc = 0, p[2], st;
	pid_t		 pid;
	ssize_t		 n;
	size_t		 off = 0;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	reqno++;
	snprintf(req, sizeof(req), "%s/req.%d.%u", outdir, getpid(), reqno);
	snprintf(bodyf, sizeof(bodyf), "%s/body.%d.%u", outdir, getpid(),
	    reqno);
	snprintf(hdrf, sizeof(hdrf), "%s/hdr.%d.%u", outdir, getpid(), reqno);
	snprintf(url, sizeof(url), "http://localhost%s", path);
	if (body != NULL)
		spit(req, body, len);
	argv[argc++] = "curl";
	argv[argc++] = "-sS";
	argv[argc++] = "--path-as-is";
	snprintf(maxt, sizeof(maxt), "%d", lab_ms(30000) / 1000);
	argv[argc++] = "--max-time";
	argv[argc++] = maxt;
	argv[argc++] = "--unix-socket";
	argv[argc++] = sock;
	argv[argc++] = "-X";
	argv[argc++] = method;
	argv[argc++] = "-o";
	argv[argc++] = bodyf;
	argv[argc++] = "-D";
	argv[argc++] = hdrf;
	argv[argc++] = "-w";
	argv[argc++] = "%{http_code}";
	argv[argc++] = "-H";
	argv[argc++] = "Expect:";
	snprintf(cth, sizeof(cth), "Content-Type: %s", ctype ? ctype : "");
	if (ctype == NULL)
		snprintf(cth, sizeof(cth), "Content-Type:");
	argv[argc++] = "-H";
	argv[argc++] = cth;
	if (body != NULL) {
		snprintf(at, sizeof(at), "@%s", req);
		argv[argc++] = "--data-binary";
		argv[argc++] = at;
	}
	if (hdr != NULL) {
		argv[argc++] = "-H";
		argv[argc++] = hdr;
	}
	if (hdr2 != NULL) {
		argv[argc++] = "-H";
		argv[argc++] = hdr2;
	}
	argv[argc++] = url;
	argv[argc] = NULL;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		if (uid != 0) {
			gid_t	 g[1] = { sgid };

			if (setgroups(sgid ? 1 : 0, g) == -1 ||
			    setgid(gid) == -1 || setuid(uid) == -1)
				_exit(126);
		}
		execvp("curl", (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(p[1]);
	while (off < sizeof(code) - 1 &&
	    (n = read(p[0], code + off, sizeof(code) - 1 - off)) > 0)
		off += (size_t)n;
	code[off] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = atoi(code);
	if (r->status == 0)
		r->status = -1;
	r->body = slurp(bodyf, NULL);
	r->hdrs = slurp(hdrf, NULL);
	if (r->body[0] != '\0')
		r->json = json_loads(r->body, 0, NULL);
	unlink(req);
	unlink(bodyf);
	unlink(hdrf);
}

static void
http(struct resp *r, const char *method, const char *path, const char *ctype,
    const char *body, const char *hdr)
{
	http_as(r, 0, 0, 0, method, path, ctype, body, body ? strlen(body) : 0,
	    hdr, NULL);
}

/* A header's value (static buffer), or NULL. */
static const char *
header(const struct resp *r, const char *name)
{
	static char	 val[256];
	const char	*p = r->hdrs;
	size_t		 nl = strlen(name), n;

	while (p != NULL && *p) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ')
				p++;
			n = strcspn(p, "\r\n");
			if (n >= sizeof(val))
				n = sizeof(val) - 1;
			memcpy(val, p, n);
			val[n] = '\0';
			return val;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static long long
etag_of(const struct resp *r)
{
	const char	*e = header(r, "ETag");

	ck_assert_msg(e != NULL, "no ETag in reply: %s", r->hdrs);
	ck_assert_msg(e[0] == '"', "ETag not quoted: %s", e);
	return atoll(e + 1);
}

static long long
generation(void)
{
	struct resp	 r;
	long long	 g;

	http(&r, "GET", "/v1/status", NULL, NULL, NULL);
	ck_assert_msg(r.status == 200, "GET /v1/status: %d %s", r.status,
	    r.body);
	ck_assert_ptr_nonnull(r.json);
	g = json_integer_value(json_object_get(r.json, "generation"));
	ck_assert_int_eq(g, etag_of(&r));
	resp_free(&r);
	return g;
}

/* The table as nft reads it back in the router namespace. */
static char *
nft_table(int *status)
{
	return lab_output_status(lab, status, "router",
	    "nft -j list table inet %s 2>/dev/null", TABLE);
}

static bool
kernel_has(const char *what)
{
	int	 st;
	char	*out = nft_table(&st);
	bool	 has;

	ck_assert_ptr_nonnull(out);
	has = st == 0 && strstr(out, what) != NULL;
	free(out);
	return has;
}


static pid_t
daemon_pid(void)
{
	char	*s = slurp(pidfile, NULL);
	pid_t	 pid = (pid_t)atoi(s);

	free(s);
	return pid;
}

/* Starts fwctld in the router namespace and waits until it serves. */
static int
daemon_start(bool with_rules_dir)
{
	long long	 end = lab_now() + lab_ms(20000);
	pid_t		 pid;

	unlink(pidfile);
	pid = lab_spawn(lab, "router", "echo $$ > %s; exec %s --foreground "
	    "--socket %s --state-dir %s %s%s --table %s --log-level debug %s "
	    "2>>%s", pidfile, fwctld, sock, state_dir,
	    with_rules_dir ? "--rules-dir " : "",
	    with_rules_dir ? rules_dir : "", TABLE, group_opt, logfile);
	if (pid == -1)
		return -1;
	while (lab_now() < end) {
		if (lab_socket_answers(sock) && daemon_pid() > 0)
			return 0;
		if (kill(pid, 0) == -1 && errno == ESRCH)
			break;
		usleep(20000);
	}
	{
		char *log = slurp(logfile, NULL);

		fprintf(stderr, "fwctld did not start; its log:\n%s", log);
		free(log);
	}
	return -1;
}

static void
lab_setup_common(const char *group)
{
	const char	*env = getenv("FWCTLD");
	char		 path[256];

	group_opt = group;
	if (env != NULL)
		snprintf(fwctld, sizeof(fwctld), "%s", env);
	else
		ck_assert_ptr_nonnull(realpath("daemon/fwctld", fwctld));
	snprintf(dir, sizeof(dir), "/tmp/fwctl-api-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755);
	ck_assert_int_lt(snprintf(sock, sizeof(sock), "%s/run/fwctld.sock",
	    dir), (int)sizeof(sock));
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(rules_dir, sizeof(rules_dir), "%s/rules.d", dir);
	snprintf(outdir, sizeof(outdir), "%s/out", dir);
	snprintf(logfile, sizeof(logfile), "%s/fwctld.log", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/fwctld.pid", dir);
	ck_assert_int_eq(mkdir(rules_dir, 0755), 0);
	ck_assert_int_eq(mkdir(outdir, 0777), 0);
	chmod(outdir, 01777);
	snprintf(path, sizeof(path), "%s/10-base.rules", rules_dir);
	spit(path, base_rules, strlen(base_rules));
	lab = lab_up();
	ck_assert_msg(lab != NULL, "lab_up failed");
	ck_assert_msg(daemon_start(true) == 0, "fwctld did not start");
}

static void
lab_setup(void)
{
	lab_setup_common("");
}

static void
lab_setup_group(void)
{
	lab_setup_common("--group nogroup");
}

static void
lab_teardown(void)
{
	char	 cmd[128];

	lab_down(lab);
	lab = NULL;
	if (dir[0] != '\0') {
		if (getenv("KEEP") == NULL) {
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
			(void)!system(cmd);
		} else
			fprintf(stderr, "kept %s\n", dir);
	}
	dir[0] = '\0';
}

static void
assert_problem(const struct resp *r, int status)
{
	const char	*ct = header(r, "Content-Type");
	json_t		*j = r->json;

	ck_assert_msg(r->status == status, "expected %d, got %d: %s", status,
	    r->status, r->body);
	ck_assert_msg(ct && strcmp(ct, "application/problem+json") == 0,
	    "content type %s", ct ? ct : "(none)");
	ck_assert_msg(j != NULL, "problem is not JSON: %s", r->body);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")),
	    status);
	ck_assert(json_is_string(json_object_get(j, "title")));
	ck_assert(json_is_string(json_object_get(j, "detail")));
	ck_assert(json_is_string(json_object_get(j, "type")));
	/* who may not use the API learns nothing of the ruleset; nor does
	 * one refused before anyone looked at who asks */
	if (status == 401 || status == 403 || status == 414 || status == 431)
		ck_assert_ptr_null(header(r, "ETag"));
	else
		ck_assert_ptr_nonnull(header(r, "ETag"));
}

/* POST path (/v1/rules, with a query) of rule text: 201 asserted; the new
 * generation. */
static long long
post_rule(const char *path, const char *text)
{
	struct resp	 r;
	long long	 g;

	http(&r, "POST", path, "text/plain", text, NULL);
	ck_assert_msg(r.status == 201, "POST %s %s: %d %s", path, text,
	    r.status, r.body);
	g = etag_of(&r);
	resp_free(&r);
	return g;
}

/* Whether the lan host connects to the router's port within ms. */
static bool
lan_connects(int port, int ms)
{
	return lab_tcp_connect(lab, "lan", "10.50.1.1", port, ms, NULL,
	    0) == 0;
}

/* ---- endpoints ---- */

START_TEST(test_status)
{
	struct resp	 r;
	json_t		*c;

	http(&r, "GET", "/v1/status", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
	ck_assert_ptr_nonnull(r.json);
	ck_assert(json_is_string(json_object_get(r.json, "version")));
	ck_assert_int_ge(json_integer_value(json_object_get(r.json,
	    "generation")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "table")),
	    TABLE);
	ck_assert(json_is_true(json_object_get(r.json, "table_present")));
	ck_assert(json_is_boolean(json_object_get(r.json, "drift")));
	c = json_object_get(r.json, "counts");
	ck_assert_int_ge(json_integer_value(json_object_get(c, "zones")), 3);
	ck_assert_int_ge(json_integer_value(json_object_get(c, "rules")), 1);
	ck_assert(json_is_integer(json_object_get(c, "elements")));
	resp_free(&r);
	/* the kernel agrees that the table is there */
	ck_assert(kernel_has("\"table\""));
}
END_TEST

START_TEST(test_ruleset_get)
{
	struct resp	 r;

	http(&r, "GET", "/v1/ruleset", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(r.json);
	ck_assert_int_ge(json_array_size(json_object_get(r.json, "zones")), 3);
	ck_assert(json_is_array(json_object_get(r.json, "rules")));
	resp_free(&r);
	http(&r, "GET", "/v1/ruleset", NULL, NULL, "Accept: text/plain");
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(header(&r, "Content-Type"),
	    "text/plain"));
	ck_assert_ptr_nonnull(strstr(r.body, "zone lan"));
	ck_assert_ptr_nonnull(strstr(r.body, "rule ssh"));
	resp_free(&r);
}
END_TEST

START_TEST(test_rule_lifecycle_traffic)
{
	struct resp	 r;
	long long	 g0, g;
	pid_t		 srv;

	srv = lab_serve(lab, "router", "tcp", 8081);
	ck_assert_int_gt(srv, 0);
	/* -> self is dropped by default */
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "10.50.1.1", 8081, 1500,
	    NULL, 0), -1);
	g0 = generation();
	http(&r, "POST", "/v1/rules", "application/json",
	    "{\"name\": \"api_web\", \"from\": \"lan\", \"to\": \"self\", "
	    "\"proto\": \"tcp\", \"dport\": [8081], \"verdict\": \"accept\"}",
	    NULL);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")),
	    "api_web");
	g = etag_of(&r);
	ck_assert_int_eq(g, g0 + 1);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json,
	    "position")), 2);
	resp_free(&r);
	ck_assert(kernel_has("api_web"));
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "10.50.1.1", 8081, 3000,
	    NULL, 0), 0);
	/* and from the wan side it stays closed */
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 8081, 1500,
	    NULL, 0), -1);

	http(&r, "GET", "/v1/rules/api_web", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "proto")),
	    "tcp");
	ck_assert_int_eq(etag_of(&r), g);
	resp_free(&r);

	/* PUT replaces in place: now from wan too (from any) */
	http(&r, "PUT", "/v1/rules/api_web", "text/plain",
	    "api_web from any to self tcp dport 8081 accept", NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "from")),
	    "any");
	ck_assert_int_eq(json_integer_value(json_object_get(r.json,
	    "position")), 2);
	resp_free(&r);
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 8081, 3000,
	    NULL, 0), 0);

	http(&r, "GET", "/v1/rules", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_ge(json_array_size(json_object_get(r.json, "rules")), 2);
	ck_assert(json_is_object(json_object_get(json_array_get(
	    json_object_get(r.json, "rules"), 1), "counters")));
	resp_free(&r);

	http(&r, "DELETE", "/v1/rules/api_web", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json,
	    "generation")), etag_of(&r));
	resp_free(&r);
	ck_assert(!kernel_has("api_web"));
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "10.50.1.1", 8081, 1500,
	    NULL, 0), -1);
	http(&r, "GET", "/v1/rules/api_web", NULL, NULL, NULL);
	assert_problem(&r, 404);
	resp_free(&r);
	lab_stop(lab, srv);
}
END_TEST

START_TEST(test_rule_placement)
{
	struct resp	 r;
	json_t		*rules;

	http(&r, "POST", "/v1/rules?position=1", "text/plain",
	    "p_first from lan to self udp dport 5001 accept", NULL);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json,
	    "position")), 1);
	resp_free(&r);
	http(&r, "POST", "/v1/rules", "application/json",
	    "{\"name\": \"p_before\", \"from\": \"lan\", \"to\": \"self\", "
	    "\"proto\": \"udp\", \"dport\": [5002], \"verdict\": \"drop\", "
	    "\"before\": \"ssh\"}", NULL);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	resp_free(&r);
	http(&r, "POST", "/v1/rules?after=p_first", "text/plain",
	    "rule p_after from lan to self udp dport 5003 drop", NULL);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	resp_free(&r);
	http(&r, "GET", "/v1/rules", NULL, NULL, NULL);
	rules = json_object_get(r.json, "rules");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    rules, 0), "name")), "p_first");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    rules, 1), "name")), "p_after");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    rules, 2), "name")), "p_before");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    rules, 3), "name")), "ssh");
	resp_free(&r);
	ck_assert(kernel_has("p_after"));
	/* delete by position: the first is p_first */
	http(&r, "DELETE", "/v1/rules/1", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	ck_assert(!kernel_has("p_first"));
	http(&r, "DELETE", "/v1/rules/p_after", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	http(&r, "DELETE", "/v1/rules/p_before", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	ck_assert(!kernel_has("p_before"));
}
END_TEST

START_TEST(test_zones)
{
	struct resp	 r;
	long long	 g;

	http(&r, "PUT", "/v1/zones/guest", "text/plain",
	    "guest interface guest0", NULL);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")),
	    "guest");
	resp_free(&r);
	ck_assert(kernel_has("guest0"));
	http(&r, "PUT", "/v1/zones/guest", "application/json",
	    "{\"interfaces\": [\"guest1\"]}", NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert(kernel_has("guest1"));
	ck_assert(!kernel_has("guest0"));
	/* the zone there already: nothing changes, not the generation */
	g = generation();
	http(&r, "PUT", "/v1/zones/guest", "application/json",
	    "{\"interfaces\": [\"guest1\"]}", NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert_int_eq(generation(), g);
	http(&r, "GET", "/v1/zones", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_ge(json_array_size(json_object_get(r.json, "zones")), 4);
	resp_free(&r);
	http(&r, "GET", "/v1/zones/guest", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(
	    r.json, "interfaces"), 0)), "guest1");
	resp_free(&r);
	http(&r, "DELETE", "/v1/zones/guest", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	ck_assert(!kernel_has("guest1"));
	http(&r, "GET", "/v1/zones/guest", NULL, NULL, NULL);
	assert_problem(&r, 404);
	resp_free(&r);
}
END_TEST

START_TEST(test_policies)
{
	struct resp	 r;
	size_t		 n;

	http(&r, "GET", "/v1/policies", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	n = json_array_size(json_object_get(r.json, "policies"));
	resp_free(&r);
	/* dmz -> wan accept: dmz host reaches the wan host */
	ck_assert_int_eq(lab_tcp_connect(lab, "dmz", "10.50.0.2", 8082, 1500,
	    NULL, 0), -1);
	http(&r, "POST", "/v1/policies", "text/plain", "dmz -> wan accept",
	    NULL);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	ck_assert_str_eq(json_string_value(json_object_get(r.json,
	    "verdict")), "accept");
	resp_free(&r);
	http(&r, "POST", "/v1/policies", "application/json",
	    "{\"from\": \"dmz\", \"to\": \"wan\", \"verdict\": \"drop\"}",
	    NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ck_assert_str_eq(json_string_value(json_object_get(r.json,
	    "verdict")), "drop");
	resp_free(&r);
	http(&r, "GET", "/v1/policies", NULL, NULL, NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(r.json, "policies")),
	    n + 1);
	resp_free(&r);
	http(&r, "DELETE", "/v1/policies?from=dmz&to=wan", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	http(&r, "DELETE", "/v1/policies?from=dmz&to=wan", NULL, NULL, NULL);
	assert_problem(&r, 404);
	resp_free(&r);
}
END_TEST

/*
 * A policy changes what crosses at once, and only when it says something
 * new: lan reaches the dmz host by the DMZ preset; a policy that drops
 * stops it, the same policy again is no new generation, and without it
 * the preset decides again.
 */
START_TEST(test_policy_traffic)
{
	struct resp	 r;
	long long	 g;
	pid_t		 srv;

	srv = lab_serve(lab, "dmz", "tcp", 8085);
	ck_assert_int_gt(srv, 0);
	ck_assert_int_ge(lab_tcp_connect(lab, "lan", "10.50.2.10", 8085, 3000,
	    NULL, 0), 0);
	http(&r, "POST", "/v1/policies", "text/plain", "lan -> dmz drop",
	    NULL);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert_int_eq(lab_tcp_connect(lab, "lan", "10.50.2.10", 8085, 1500,
	    NULL, 0), -1);
	g = generation();
	http(&r, "POST", "/v1/policies", "text/plain", "lan -> dmz drop",
	    NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert_int_eq(generation(), g);
	http(&r, "DELETE", "/v1/policies?from=lan&to=dmz", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	ck_assert_int_eq(generation(), g + 1);
	ck_assert_int_ge(lab_tcp_connect(lab, "lan", "10.50.2.10", 8085, 3000,
	    NULL, 0), 0);
	lab_stop(lab, srv);
}
END_TEST

START_TEST(test_nat)
{
	struct resp	 r;
	char		 seen[128];
	pid_t		 srv;

	http(&r, "GET", "/v1/nat", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_ge(json_array_size(json_object_get(r.json, "nat")), 1);
	resp_free(&r);
	http(&r, "GET", "/v1/nat/masq", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "kind")),
	    "masquerade");
	resp_free(&r);

	/* a port forward, judged by traffic: wan -> router:8443 -> dmz */
	srv = lab_serve(lab, "dmz", "tcp", 8443);
	ck_assert_int_gt(srv, 0);
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 9443, 1500,
	    NULL, 0), -1);
	http(&r, "POST", "/v1/nat", "text/plain",
	    "fwd_https forward from wan tcp dport 9443 to 10.50.2.10:8443",
	    NULL);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")),
	    "fwd_https");
	resp_free(&r);
	ck_assert(kernel_has("10.50.2.10"));
	ck_assert(kernel_has("9443"));
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 9443, 3000,
	    seen, sizeof(seen)), 0);
	http(&r, "POST", "/v1/nat", "text/plain",
	    "fwd_https forward from wan tcp dport 9444 to 10.50.2.10:8443",
	    NULL);
	assert_problem(&r, 409);
	resp_free(&r);
	http(&r, "DELETE", "/v1/nat/fwd_https", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	ck_assert(!kernel_has("9443"));
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 9443, 1500,
	    NULL, 0), -1);
	lab_stop(lab, srv);
}
END_TEST

START_TEST(test_sets_elements)
{
	struct resp	 r;

	http(&r, "PUT", "/v1/sets/friends", "text/plain",
	    "friends ipv4 { 192.0.2.1 }", NULL);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert(kernel_has("friends"));
	ck_assert(kernel_has("192.0.2.1"));
	http(&r, "POST", "/v1/sets/friends/elements", "application/json",
	    "{\"elements\": [\"192.0.2.7\", \"198.51.100.0/24\"]}", NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "added")),
	    2);
	resp_free(&r);
	ck_assert(kernel_has("192.0.2.7"));
	http(&r, "GET", "/v1/sets/friends", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(json_array_size(json_object_get(r.json, "elements")),
	    3);
	resp_free(&r);
	http(&r, "DELETE", "/v1/sets/friends/elements", "text/plain",
	    "192.0.2.7", NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json,
	    "removed")), 1);
	resp_free(&r);
	ck_assert(!kernel_has("192.0.2.7"));

	http(&r, "GET", "/v1/sets", NULL, NULL, NULL);
	ck_assert_int_ge(json_array_size(json_object_get(r.json, "sets")), 2);
	resp_free(&r);
	http(&r, "DELETE", "/v1/sets/friends", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	ck_assert(!kernel_has("friends"));
}
END_TEST

START_TEST(test_set_element_timeout)
{
	struct resp	 r;
	json_t		*el;
	long long	 end;

	/* an element with a timeout, in a set with a default timeout */
	http(&r, "POST", "/v1/sets/blocklist/elements", "application/json",
	    "{\"elements\": [{\"key\": \"203.0.113.7\", \"timeout\": \"10m\"},"
	    " \"203.0.113.8\"]}", NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert(kernel_has("203.0.113.7"));
	http(&r, "GET", "/v1/sets/blocklist", NULL, NULL, NULL);
	el = json_object_get(r.json, "elements");
	ck_assert_uint_eq(json_array_size(el), 2);
	/* the model remembers when each expires */
	ck_assert_ptr_nonnull(strstr(r.body, "expires"));
	resp_free(&r);

	/* a short timeout: gone from the kernel and from the model */
	http(&r, "POST", "/v1/sets/blocklist/elements", "application/json",
	    "{\"elements\": [{\"key\": \"203.0.113.9\", \"timeout\": \"1s\"}]}",
	    NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert(kernel_has("203.0.113.9"));
	/* the kernel drops it after 1 s; a loaded machine may take longer */
	end = lab_now() + lab_ms(5000);
	while (kernel_has("203.0.113.9") && lab_now() < end)
		usleep(100000);
	ck_assert(!kernel_has("203.0.113.9"));
	http(&r, "GET", "/v1/sets/blocklist", NULL, NULL, NULL);
	ck_assert_ptr_null(strstr(r.body, "203.0.113.9"));
	ck_assert_uint_eq(json_array_size(json_object_get(r.json, "elements")),
	    2);
	resp_free(&r);
}
END_TEST

START_TEST(test_counters)
{
	struct resp	 r;
	json_t		*c, *v;
	size_t		 i;
	bool		 found = false;

	http(&r, "GET", "/v1/counters", NULL, NULL, NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	c = json_object_get(r.json, "counters");
	ck_assert(json_is_array(c));
	json_array_foreach(c, i, v) {
		ck_assert(json_is_integer(json_object_get(v, "packets")));
		ck_assert(json_is_integer(json_object_get(v, "bytes")));
		if (strcmp(json_string_value(json_object_get(v, "name")),
		    "ssh") == 0) {
			found = true;
			ck_assert_str_eq(json_string_value(json_object_get(v,
			    "kind")), "rule");
		}
	}
	ck_assert(found);
	resp_free(&r);
}
END_TEST

/* Packets counted for a rule, through GET /v1/counters; -1 if absent. */
static long long
rule_packets(const char *name)
{
	struct resp	 r;
	json_t		*v;
	size_t		 i;
	long long	 n = -1;

	http(&r, "GET", "/v1/counters", NULL, NULL, NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	json_array_foreach(json_object_get(r.json, "counters"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "kind")),
		    "rule") == 0 && strcmp(json_string_value(
		    json_object_get(v, "name")), name) == 0)
			n = json_integer_value(json_object_get(v, "packets"));
	resp_free(&r);
	return n;
}

/*
 * Counters belong to the rule: a comment changed or a move through the
 * API keeps them (the kernel rule is made again); a change of what the
 * rule matches starts them from zero.
 */
START_TEST(test_counters_follow_rules)
{
	struct resp	 r;
	long long	 n;
	pid_t		 srv;

	srv = lab_serve(lab, "router", "tcp", 8093);
	ck_assert_int_gt(srv, 0);
	post_rule("/v1/rules", "cnt from lan to self tcp dport 8093 accept");
	ck_assert(lan_connects(8093, 3000));
	ck_assert(lan_connects(8093, 3000));
	n = rule_packets("cnt");
	ck_assert_int_ge(n, 2);

	http(&r, "PUT", "/v1/rules/cnt", "text/plain",
	    "cnt from lan to self tcp dport 8093 comment \"imap proxy\" accept",
	    NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert_int_eq(rule_packets("cnt"), n);
	ck_assert(kernel_has("imap proxy"));

	/* to the front, in a whole ruleset */
	{
		char *t, *text = NULL;

		http(&r, "GET", "/v1/ruleset", NULL, NULL,
		    "Accept: text/plain");
		ck_assert_int_eq(r.status, 200);
		t = strstr(r.body, "rule cnt ");
		ck_assert_ptr_nonnull(t);
		*strchr(t, '\n') = '\0';
		ck_assert_int_ne(asprintf(&text, "%s\n%.*s%s", t,
		    (int)(t - r.body), r.body, t + strlen(t) + 1), -1);
		resp_free(&r);
		http(&r, "PUT", "/v1/ruleset", "text/plain", text, NULL);
		free(text);
		ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
		resp_free(&r);
	}
	ck_assert_int_eq(rule_packets("cnt"), n);

	http(&r, "PUT", "/v1/rules/cnt", "text/plain",
	    "cnt from lan to self tcp dport 8094 accept", NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert_int_eq(rule_packets("cnt"), 0);
	lab_stop(lab, srv);
}
END_TEST

START_TEST(test_ruleset_put_dry_run_flush)
{
	struct resp	 r;
	char		*text;
	long long	 g0;
	char		 im[64];

	http(&r, "GET", "/v1/ruleset", NULL, NULL, "Accept: text/plain");
	ck_assert_int_eq(r.status, 200);
	text = r.body;
	r.body = NULL;
	resp_free(&r);
	g0 = generation();

	/* a dry run plans and changes nothing */
	http(&r, "PUT", "/v1/ruleset?dry_run=1", "text/plain",
	    "zone lan { interface lan0 }\n"
	    "rule only from lan to self tcp dport 7 accept\n", NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ck_assert(json_is_false(json_object_get(r.json, "applied")));
	ck_assert_int_ge(json_array_size(json_object_get(r.json, "plan")), 3);
	resp_free(&r);
	ck_assert_int_eq(generation(), g0);
	ck_assert(!kernel_has("\"only\""));

	/* replace, with the right If-Match */
	snprintf(im, sizeof(im), "If-Match: \"%lld\"", g0);
	http(&r, "PUT", "/v1/ruleset", "application/json",
	    "{\"zones\": [{\"name\": \"lan\", \"interfaces\": [\"lan0\"]}],"
	    " \"rules\": [{\"name\": \"only\", \"from\": \"lan\", \"to\":"
	    " \"self\", \"proto\": \"tcp\", \"dport\": [7], \"verdict\":"
	    " \"accept\"}]}", im);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ck_assert(json_is_true(json_object_get(r.json, "applied")));
	ck_assert_int_eq(etag_of(&r), g0 + 1);
	resp_free(&r);
	ck_assert(kernel_has("only"));
	ck_assert(!kernel_has("wan0"));

	/* flush removes the table */
	http(&r, "DELETE", "/v1/ruleset", NULL, NULL, NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);
	{
		int	 st;
		char	*out = nft_table(&st);

		ck_assert_int_ne(st, 0);
		free(out);
	}
	http(&r, "GET", "/v1/status", NULL, NULL, NULL);
	ck_assert(json_is_false(json_object_get(r.json, "table_present")));
	resp_free(&r);

	/* and the old text comes back whole */
	http(&r, "PUT", "/v1/ruleset", "text/plain", text, NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert(kernel_has("wan0"));
	ck_assert(kernel_has("ssh"));
	http(&r, "GET", "/v1/ruleset", NULL, NULL, "Accept: text/plain");
	ck_assert_str_eq(r.body, text);
	resp_free(&r);
	free(text);
}
END_TEST

/* ---- hostile requests ---- */

enum body_kind {
	B_TEXT = 0,
	B_HUGE,		/* 2 MiB with Content-Length */
	B_HUGE_CHUNKED,	/* 2 MiB chunked */
	B_DEEP,		/* 100 levels of nesting */
};

struct hostile {
	const char	*method;
	const char	*path;
	const char	*ctype;
	const char	*body;
	enum body_kind	 kind;
	const char	*hdr;
	int		 status;
	bool		 located;	/* line/column expected */
	const char	*field;		/* field expected (prefix) */
};

static const struct hostile hostile[] = {
	{ "POST", "/v1/rules", "application/json", "{\"name\": \"x\",", 0,
	    NULL, 400, true, NULL },
	{ "POST", "/v1/rules", "application/json",
	    "{\"name\": 5, \"from\": \"lan\", \"to\": \"self\", \"verdict\": "
	    "\"accept\"}", 0, NULL, 400, false, "name" },
	{ "POST", "/v1/rules", "application/json",
	    "{\"name\": \"u1\", \"from\": \"lan\", \"to\": \"self\", "
	    "\"verdict\": \"accept\", \"bogus\": 1}", 0, NULL, 400, false,
	    "bogus" },
	{ "POST", "/v1/rules", "application/json",
	    "{\"name\": \"u2\", \"from\": \"lan\", \"to\": \"self\", "
	    "\"proto\": \"tcp\", \"dport\": [70000], \"verdict\": \"accept\"}",
	    0, NULL, 400, false, "dport" },
	{ "POST", "/v1/rules", "application/json", NULL, B_HUGE, NULL, 413,
	    false, NULL },
	{ "POST", "/v1/rules", "application/json", NULL, B_HUGE_CHUNKED,
	    "Transfer-Encoding: chunked", 413, false, NULL },
	{ "POST", "/v1/rules", "application/json", NULL, B_DEEP, NULL, 400,
	    false, NULL },
	{ "POST", "/v1/rules", "application/json",
	    "{\"name\": \"bad\xff\xfe\", \"from\": \"lan\", \"to\": \"self\", "
	    "\"verdict\": \"accept\"}", 0, NULL, 400, false, NULL },
	{ "POST", "/v1/rules", "text/plain",
	    "bad from lan to self \xc0\xaf accept", 0, NULL, 400, false, NULL },
	{ "POST", "/v1/rules", "application/json",
	    "{\"name\": \"nul\\u0000x\", \"from\": \"lan\", \"to\": \"self\", "
	    "\"verdict\": \"accept\"}", 0, NULL, 400, false, NULL },
	{ "GET", "/v1/rules/..%2F..%2Fetc%2Fpasswd", NULL, NULL, 0, NULL, 404,
	    false, NULL },
	{ "DELETE", "/v1/zones/..%2F..%2Fetc", NULL, NULL, 0, NULL, 404,
	    false, NULL },
	{ "GET", "/v1/zones/..", NULL, NULL, 0, NULL, 400, false, "name" },
	{ "GET", "/v1/zones/bad%20name", NULL, NULL, 0, NULL, 400, false,
	    "name" },
	{ "GET", "/v1/rules/%ff%fe", NULL, NULL, 0, NULL, 400, false, "name" },
	{ "POST", "/v1/rules", "text/plain",
	    "u3 from nowhere to self tcp dport 22 accept", 0, NULL, 409, false,
	    NULL },
	{ "POST", "/v1/rules", "text/plain",
	    "ssh from lan to self tcp dport 23 accept", 0, NULL, 409, false,
	    NULL },
	{ "POST", "/v1/rules", "text/plain",
	    "u4 from lan to self src @nope accept", 0, NULL, 409, false, NULL },
	{ "POST", "/v1/nat", "text/plain", "masq masquerade from lan to wan",
	    0, NULL, 409, false, NULL },
	{ "POST", "/v1/policies", "text/plain", "lan -> nowhere accept", 0,
	    NULL, 409, false, NULL },
	{ "DELETE", "/v1/zones/lan", NULL, NULL, 0, NULL, 409, false, NULL },
	{ "PUT", "/v1/ruleset", "application/json",
	    "{\"rules\": [{\"name\": \"r\", \"from\": \"any\", \"to\": "
	    "\"self\", \"src\": \"@missing\", \"verdict\": \"drop\"}]}", 0,
	    NULL, 409, false, NULL },
	{ "PUT", "/v1/rules/ssh", "text/plain",
	    "ssh from lan to self tcp dport 2222 accept", 0,
	    "If-Match: \"999999\"", 412, false, NULL },
	{ "DELETE", "/v1/rules/ssh", NULL, NULL, 0, "If-Match: \"0\"", 412,
	    false, NULL },
	/* not a generation at all: bad input, not stale */
	{ "DELETE", "/v1/rules/ssh", NULL, NULL, 0, "If-Match: garbage", 400,
	    false, "If-Match" },
	{ "DELETE", "/v1/rules/ssh", NULL, NULL, 0, "If-Match: \"abc\"", 400,
	    false, "If-Match" },
	{ "POST", "/v1/rules", "application/xml", "<rule/>", 0, NULL, 415,
	    false, NULL },
	{ "POST", "/v1/rules", NULL, "{}", 0, NULL, 415, false, NULL },
	{ "POST", "/v1/rules", "application/x-www-form-urlencoded", "a=b", 0,
	    NULL, 415, false, NULL },
	{ "POST", "/v1/rules", "text/plain; charset=latin1", "x", 0, NULL, 415,
	    false, NULL },
	{ "GET", "/v1/nothing", NULL, NULL, 0, NULL, 404, false, NULL },
	{ "GET", "/v2/status", NULL, NULL, 0, NULL, 404, false, NULL },
	{ "GET", "/", NULL, NULL, 0, NULL, 404, false, NULL },
	{ "PATCH", "/v1/rules", "application/json", "{}", 0, NULL, 405, false,
	    NULL },
	{ "POST", "/v1/status", "application/json", "{}", 0, NULL, 405, false,
	    NULL },
	{ "DELETE", "/v1/counters", NULL, NULL, 0, NULL, 405, false, NULL },
	{ "POST", "/v1/rules", "application/json", "", 0, NULL, 400, false,
	    NULL },
	{ "POST", "/v1/rules", "text/plain",
	    "u5 from lan to self tcp dport banana accept", 0, NULL, 400, true,
	    NULL },
	{ "PUT", "/v1/ruleset", "text/plain",
	    "zone lan { interface lan0 }\n# fine\nrule r from lan to self "
	    "tcp dport 22 acept\n", 0, NULL, 400, true, NULL },
	{ "DELETE", "/v1/rules/nosuch", NULL, NULL, 0, NULL, 404, false,
	    NULL },
	{ "DELETE", "/v1/rules/999", NULL, NULL, 0, NULL, 404, false, NULL },
	{ "DELETE", "/v1/nat/nosuch", NULL, NULL, 0, NULL, 404, false, NULL },
	{ "DELETE", "/v1/sets/nosuch", NULL, NULL, 0, NULL, 404, false, NULL },
	{ "POST", "/v1/rules?position=0", "text/plain",
	    "u6 from lan to self accept", 0, NULL, 400, false, "position" },
	{ "POST", "/v1/rules?position=abc", "text/plain",
	    "u7 from lan to self accept", 0, NULL, 400, false, "position" },
	{ "POST", "/v1/rules?position=999", "text/plain",
	    "u8 from lan to self accept", 0, NULL, 400, false, "position" },
	{ "POST", "/v1/rules?before=nosuch", "text/plain",
	    "u9 from lan to self accept", 0, NULL, 404, false, "before" },
	{ "POST", "/v1/rules?bogus=1", "text/plain",
	    "u10 from lan to self accept", 0, NULL, 400, false, NULL },
	{ "PUT", "/v1/ruleset?dry_run=maybe", "text/plain", "", 0, NULL, 400,
	    false, NULL },
	{ "DELETE", "/v1/policies", NULL, NULL, 0, NULL, 400, false, "from" },
	{ "POST", "/v1/sets/blocklist/elements", "application/json",
	    "{\"elements\": [\"300.1.1.1\"]}", 0, NULL, 400, false,
	    "elements[0]" },
	{ "POST", "/v1/sets/blocklist/elements", "application/json",
	    "{\"elements\": [\"fd00::1\"]}", 0, NULL, 400, false, NULL },
	{ "POST", "/v1/sets/blocklist/elements", "application/json",
	    "{\"elements\": []}", 0, NULL, 400, false, "elements" },
	{ "POST", "/v1/sets/nosuch/elements", "application/json",
	    "{\"elements\": [\"192.0.2.1\"]}", 0, NULL, 404, false, NULL },
	{ "DELETE", "/v1/sets/blocklist/elements", "application/json",
	    "{\"elements\": [\"192.0.2.99\"]}", 0, NULL, 404, false, NULL },
	{ "PUT", "/v1/zones/lan", "application/json",
	    "{\"name\": \"other\", \"interfaces\": [\"lan0\"]}", 0, NULL, 400,
	    false, "name" },
	{ "POST", "/v1/rules", "application/json", "[1, 2, 3]", 0, NULL, 400,
	    false, NULL },
	{ "PUT", "/v1/ruleset", "application/json", "{\"rules\": {}}", 0,
	    NULL, 400, false, "rules" },
	{ "PUT", "/v1/ruleset", "application/json",
	    "{\"zones\": [], \"zones\": []}", 0, NULL, 400, true, NULL },
	{ "PUT", "/v1/sets/x", "application/json",
	    "{\"name\": \"x\", \"type\": \"ipv5\"}", 0, NULL, 400, false,
	    "type" },
	{ "POST", "/v1/rules", "application/json",
	    "{\"name\": \"u11\", \"from\": \"lan\", \"to\": \"self\", "
	    "\"verdict\": \"accept\", \"position\": \"first\"}", 0, NULL, 400,
	    false, "position" },
};

static char *
hostile_body(enum body_kind k, size_t *len)
{
	size_t	 i, n;
	char	*b;

	switch (k) {
	case B_HUGE:
	case B_HUGE_CHUNKED:
		n = 2u << 20;
		b = malloc(n + 1);
		ck_assert_ptr_nonnull(b);
		memset(b, ' ', n);
		b[0] = '{';
		b[n - 1] = '}';
		b[n] = '\0';
		*len = n;
		return b;
	case B_DEEP:
		n = 100;
		b = malloc(2 * n + 32);
		ck_assert_ptr_nonnull(b);
		strcpy(b, "{\"name\":");
		for (i = 0; i < n; i++)
			strcat(b, "[");
		for (i = 0; i < n; i++)
			strcat(b, "]");
		strcat(b, "}");
		*len = strlen(b);
		return b;
	case B_TEXT:
		break;
	}
	return NULL;
}

START_TEST(test_hostile)
{
	const struct hostile *h = &hostile[_i];
	struct resp	 r;
	long long	 g0;
	char		*big = NULL;
	size_t		 len = 0;
	json_t		*f;

	g0 = generation();
	if (h->kind != B_TEXT)
		big = hostile_body(h->kind, &len);
	http_as(&r, 0, 0, 0, h->method, h->path, h->ctype,
	    big ? big : h->body, big ? len : (h->body ? strlen(h->body) : 0),
	    h->hdr, NULL);
	free(big);
	assert_problem(&r, h->status);
	if (h->located) {
		ck_assert_msg(json_integer_value(json_object_get(r.json,
		    "line")) >= 1, "no line: %s", r.body);
		ck_assert_msg(json_integer_value(json_object_get(r.json,
		    "column")) >= 1, "no column: %s", r.body);
	}
	if (h->field != NULL) {
		f = json_object_get(r.json, "field");
		ck_assert_msg(json_is_string(f) && strncmp(json_string_value(f),
		    h->field, strlen(h->field)) == 0 ? 1 :
		    strstr(r.body, h->field) != NULL,
		    "field %s not named: %s", h->field, r.body);
	}
	if (h->status == 405)
		ck_assert_ptr_nonnull(header(&r, "Allow"));
	resp_free(&r);
	/* nothing changed, and the daemon still serves */
	ck_assert_int_eq(generation(), g0);
}
END_TEST


/* Connects to the daemon's socket; the fd. */
static int
raw_connect(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	return fd;
}

/* Reads a reply's head (up to the blank line) into buf, bounded. */
static void
raw_reply(int fd, char *buf, size_t size)
{
	long long	 end = lab_now() + lab_ms(10000);
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	size_t		 off = 0;
	ssize_t		 n;

	buf[0] = '\0';
	while (off < size - 1 && strstr(buf, "\r\n\r\n") == NULL &&
	    lab_now() < end) {
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((n = read(fd, buf + off, size - 1 - off)) <= 0)
			break;
		off += (size_t)n;
		buf[off] = '\0';
	}
}

/*
 * A body over the limit, announced by Content-Length: a client that sends
 * it at once can send all of it and then reads its 413 (the connection is
 * not closed under it mid-upload, which would lose the reply); one that
 * waits for the go-ahead (Expect: 100-continue) gets 413 instead and
 * sends nothing.
 */
START_TEST(test_too_large_read_then_refused)
{
	size_t		 total = 2u << 20, sent = 0;
	long long	 end = lab_now() + lab_ms(20000), g0 = generation();
	struct pollfd	 pfd;
	char		 head[256], chunk[65536], reply[4096];
	ssize_t		 n;
	int		 fd, len;

	fd = raw_connect();
	len = snprintf(head, sizeof(head), "POST /v1/rules HTTP/1.1\r\n"
	    "Host: localhost\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", total);
	ck_assert_int_eq(send(fd, head, (size_t)len, MSG_NOSIGNAL), len);
	memset(chunk, ' ', sizeof(chunk));
	while (sent < total && lab_now() < end) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = send(fd, chunk, total - sent < sizeof(chunk) ?
		    total - sent : sizeof(chunk), MSG_NOSIGNAL);
		ck_assert_msg(n > 0, "after %zu of %zu bytes: %s", sent, total,
		    n == 0 ? "nothing sent" : strerror(errno));
		sent += (size_t)n;
	}
	ck_assert_msg(sent == total, "sent %zu of %zu bytes", sent, total);
	raw_reply(fd, reply, sizeof(reply));
	close(fd);
	ck_assert_msg(strncmp(reply, "HTTP/1.1 413", 12) == 0, "reply: %s",
	    reply);

	fd = raw_connect();
	len = snprintf(head, sizeof(head), "POST /v1/rules HTTP/1.1\r\n"
	    "Host: localhost\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nExpect: 100-continue\r\n\r\n", total);
	ck_assert_int_eq(send(fd, head, (size_t)len, MSG_NOSIGNAL), len);
	raw_reply(fd, reply, sizeof(reply));
	close(fd);
	ck_assert_msg(strncmp(reply, "HTTP/1.1 413", 12) == 0, "reply: %s",
	    reply);
	ck_assert_int_eq(generation(), g0);
}
END_TEST


/* The daemon's peak resident memory in kB (VmHWM), or -1. */
static long
daemon_hwm_kb(void)
{
	char	 path[64], *st, *p;
	long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon_pid());
	st = slurp(path, NULL);
	if ((p = strstr(st, "VmHWM:")) != NULL)
		kb = strtol(p + 6, NULL, 10);
	free(st);
	return kb;
}

/* A big body of bad input and the reply's size; 1 MiB each. */
static void
error_flood(const char *method, const char *path, const char *ctype,
    const char *unit, int want)
{
	struct resp	 r;
	size_t		 n = 1u << 20, ul = strlen(unit), len = 0;
	char		*b = malloc(n + 64);
	bool		 json = strcmp(ctype, "application/json") == 0;

	ck_assert_ptr_nonnull(b);
	if (json)
		len = (size_t)sprintf(b, "{\"elements\":[");
	while (len + ul + 8 < n) {
		memcpy(b + len, unit, ul);
		len += ul;
	}
	if (json) {
		b[len - 1] = ']';	/* the unit ends in a comma */
		b[len++] = '}';
	}
	http_as(&r, 0, 0, 0, method, path, ctype, b, len, NULL, NULL);
	free(b);
	assert_problem(&r, want);
	ck_assert_msg(strlen(r.body) < 32768, "%s %s: a reply of %zu bytes",
	    method, path, strlen(r.body));
	ck_assert_uint_le(json_array_size(json_object_get(r.json, "errors")),
	    100);
	ck_assert_ptr_nonnull(strstr(r.body, "too many errors"));
	resp_free(&r);
}

/*
 * Errors do not grow with the body: a MiB of bad elements or rules gets a
 * reply of a few KB, the daemon's memory stays put, nothing changes.
 */
START_TEST(test_error_caps)
{
	long		 hwm0, hwm1;
	long long	 g0 = generation();

	hwm0 = daemon_hwm_kb();
	ck_assert_int_gt(hwm0, 0);
	error_flood("POST", "/v1/sets/blocklist/elements", "application/json",
	    "true,", 400);
	error_flood("DELETE", "/v1/sets/blocklist/elements", "text/plain",
	    "x ", 400);
	error_flood("PUT", "/v1/ruleset", "text/plain",
	    "rule r from nz to self accept\n", 409);
	hwm1 = daemon_hwm_kb();
	/* was 20 MB -> 420 MB for the first flood alone */
	ck_assert_msg(hwm1 - hwm0 < 100 * 1024, "peak RSS %ld kB -> %ld kB",
	    hwm0, hwm1);
	ck_assert_int_eq(generation(), g0);
}
END_TEST

/* Text elements split on any white space: tabs and CRs too, none lost. */
START_TEST(test_elements_text_separators)
{
	struct resp	 r;
	json_t		*plan;
	size_t		 i, n = 0;
	json_t		*it;

	http(&r, "POST", "/v1/sets/blocklist/elements?dry_run=1", "text/plain",
	    "10.9.9.9\t10.9.9.8\t10.9.9.7\r\n10.9.9.6\v10.9.9.5", NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	plan = json_object_get(r.json, "plan");
	json_array_foreach(plan, i, it)
		if (strcmp(json_string_value(json_object_get(it, "kind")),
		    "element") == 0)
			n++;
	ck_assert_msg(n == 5, "%zu elements planned: %s", n, r.body);
	resp_free(&r);
}
END_TEST

START_TEST(test_hostile_line_numbers)
{
	struct resp	 r;
	json_t		*e;

	http(&r, "PUT", "/v1/ruleset", "text/plain",
	    "zone lan { interface lan0 }\n"
	    "\n"
	    "rule r from lan to self tcp dport 22 acept\n"
	    "rule s from lan to self tcp dport x accept\n", NULL);
	assert_problem(&r, 400);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "line")),
	    3);
	e = json_object_get(r.json, "errors");
	ck_assert_uint_ge(json_array_size(e), 2);	/* every error */
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(e,
	    1), "line")), 4);
	resp_free(&r);
}
END_TEST

/* ---- durability ---- */

static void
kill9_daemon(void)
{
	pid_t		 pid = daemon_pid();
	long long	 end = lab_now() + lab_ms(10000);

	ck_assert_int_gt(pid, 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	/* the threads of a killed process go one by one: wait for the
	 * last one to let go of the socket */
	while (lab_socket_answers(sock) && lab_now() < end)
		usleep(20000);
	ck_assert(!lab_socket_answers(sock));
}

START_TEST(test_kill9_keeps_table_and_state)
{
	struct resp	 r;
	long long	 g;

	g = post_rule("/v1/rules",
	    "durable1 from lan to self tcp dport 7001 accept");
	kill9_daemon();
	/* the host stays protected while the daemon is down */
	ck_assert(kernel_has("durable1"));
	ck_assert(kernel_has("ssh"));
	/* it comes back with exactly what was acknowledged */
	ck_assert_int_eq(daemon_start(false), 0);
	http(&r, "GET", "/v1/rules/durable1", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(etag_of(&r), g);
	resp_free(&r);
	ck_assert_int_eq(generation(), g);
	ck_assert(kernel_has("durable1"));
}
END_TEST

START_TEST(test_typo_keeps_last_good)
{
	struct resp	 r;
	char		 path[256], *log;
	long long	 g;
	int		 st;

	g = post_rule("/v1/rules",
	    "durable2 from lan to self tcp dport 7002 accept");
	snprintf(path, sizeof(path), "%s/20-typo.rules", rules_dir);
	spits(path, "rule ok from lan to self tcp dport 1 accept\n"
	    "rule bad from lan to slef tcp dport 2 acept\n");
	kill9_daemon();
	ck_assert_int_eq(daemon_start(true), 0);
	/* the last good ruleset, not the broken files */
	http(&r, "GET", "/v1/rules/durable2", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	ck_assert_int_eq(generation(), g);
	ck_assert(kernel_has("durable2"));
	ck_assert(!kernel_has("\"ok\""));
	log = slurp(logfile, NULL);
	ck_assert_msg(strstr(log, "20-typo.rules:2:") != NULL,
	    "the error does not name file and line:\n%s", log);
	free(log);

	/* SIGHUP with the typo: refused, still serving the same */
	ck_assert_int_eq(kill(daemon_pid(), SIGHUP), 0);
	{
		long long end = lab_now() + lab_ms(10000);
		bool	  refused = false;

		while (!refused && lab_now() < end) {
			log = slurp(logfile, NULL);
			refused = strstr(log, "reload refused") != NULL;
			free(log);
			if (!refused)
				usleep(50000);
		}
		ck_assert_msg(refused, "no \"reload refused\" in the log");
	}
	ck_assert_int_eq(generation(), g);
	/* fixed: SIGHUP loads the directory */
	spits(path, "rule ok from lan to self tcp dport 1 accept\n");
	ck_assert_int_eq(kill(daemon_pid(), SIGHUP), 0);
	{
		long long end = lab_now() + lab_ms(10000);

		while (generation() == g && lab_now() < end)
			usleep(50000);
	}
	ck_assert_int_eq(generation(), g + 1);
	ck_assert(kernel_has("\"ok\""));
	/* the reload replaced API-made changes with the files */
	ck_assert(!kernel_has("durable2"));
	unlink(path);

	/* no state and broken files: refuses to start, opens nothing */
	st = lab_exec(lab, "router", "printf 'rule x from lan to self acept\\n'"
	    " > %s/bad.rules; %s --foreground --socket %s/other.sock "
	    "--state-dir %s/empty --rules-dir %s --table fwctl_t2 "
	    "2>%s/t2.log", dir, fwctld, dir, dir, dir, dir);
	ck_assert_int_ne(st, 0);
	snprintf(path, sizeof(path), "%s/t2.log", dir);
	log = slurp(path, NULL);
	ck_assert_msg(strstr(log, "bad.rules:1:") != NULL, "%s", log);
	free(log);
	st = lab_exec(lab, "router", "nft list table inet fwctl_t2 "
	    ">/dev/null 2>&1");
	ck_assert_int_ne(st, 0);

	/* a second daemon on a live socket refuses before touching anything */
	st = lab_exec(lab, "router", "%s --foreground --socket %s "
	    "--state-dir %s/empty2 --rules-dir %s --table fwctl_t3 "
	    "2>%s/t3.log", fwctld, sock, dir, rules_dir, dir);
	ck_assert_int_ne(st, 0);
	ck_assert(lab_socket_answers(sock));
	st = lab_exec(lab, "router", "nft list table inet fwctl_t3 "
	    ">/dev/null 2>&1");
	ck_assert_int_ne(st, 0);

	/* SIGTERM: stops serving, removes the socket, leaves the table */
	ck_assert_int_eq(kill(daemon_pid(), SIGTERM), 0);
	{
		long long end = lab_now() + lab_ms(10000);

		while (access(sock, F_OK) == 0 && lab_now() < end)
			usleep(20000);
	}
	ck_assert_int_ne(access(sock, F_OK), 0);
	ck_assert(kernel_has("\"ok\""));
	log = slurp(logfile, NULL);
	ck_assert_msg(strstr(log, "exiting on signal 15") != NULL, "%s", log);
	free(log);
}
END_TEST

/* ---- concurrency ---- */

#define WRITERS		8
#define PER_WRITER	6
#define PAIR_WRITERS	2
#define PAIRS		4
#define READERS		2

struct shared {
	int	 acks[WRITERS + PAIR_WRITERS];
	int	 acked[WRITERS][PER_WRITER];
	int	 pair_acked[PAIR_WRITERS][PAIRS];
	int	 reads;
	int	 torn;
	int	 errors;
	int	 done;
};

static void
writer(struct shared *sh, int w)
{
	struct resp	 r;
	char		 text[128];
	int		 i;

	for (i = 0; i < PER_WRITER; i++) {
		snprintf(text, sizeof(text), "c%d_%d from lan to self tcp "
		    "dport %d accept", w, i, 20000 + w * 100 + i);
		http(&r, "POST", "/v1/rules", "text/plain", text, NULL);
		if (r.status == 201) {
			sh->acked[w][i] = 1;
			__sync_fetch_and_add(&sh->acks[w], 1);
		} else
			__sync_fetch_and_add(&sh->errors, 1);
		resp_free(&r);
	}
}

/* Read, add a pair of rules, write back with If-Match; retry on 412. */
static void
pair_writer(struct shared *sh, int w)
{
	struct resp	 r, p;
	json_t		*rules, *rule;
	char		 im[64], name[32], *doc;
	int		 i, k, tries;

	for (i = 0; i < PAIRS; i++) {
		for (tries = 0; tries < 100; tries++) {
			http(&r, "GET", "/v1/ruleset", NULL, NULL, NULL);
			if (r.status != 200) {
				resp_free(&r);
				continue;
			}
			snprintf(im, sizeof(im), "If-Match: \"%lld\"",
			    etag_of(&r));
			rules = json_object_get(r.json, "rules");
			for (k = 0; k < 2; k++) {
				snprintf(name, sizeof(name), "p%c%d_%d",
				    k ? 'b' : 'a', w, i);
				rule = json_pack("{s:s, s:s, s:s, s:s, s:[i],"
				    " s:s}", "name", name, "from", "lan", "to",
				    "self", "proto", "udp", "dport",
				    30000 + w * 100 + i * 2 + k, "verdict",
				    "accept");
				json_array_append_new(rules, rule);
			}
			doc = json_dumps(r.json, 0);
			resp_free(&r);
			http(&p, "PUT", "/v1/ruleset", "application/json", doc,
			    im);
			free(doc);
			if (p.status == 200) {
				sh->pair_acked[w][i] = 1;
				__sync_fetch_and_add(&sh->acks[WRITERS + w], 1);
				resp_free(&p);
				break;
			}
			if (p.status != 412)
				__sync_fetch_and_add(&sh->errors, 1);
			resp_free(&p);
		}
	}
}

/* Every pa<w>_<i> comes with its pb<w>_<i>: no half-applied change. */
static void
reader(struct shared *sh)
{
	struct resp	 r;
	json_t		*rules, *v;
	size_t		 i;
	const char	*n;
	int		 a, b, rounds = 0;

	while (!sh->done && rounds++ < 2000) {
		http(&r, "GET", "/v1/ruleset", NULL, NULL, NULL);
		if (r.status != 200) {
			__sync_fetch_and_add(&sh->errors, 1);
			resp_free(&r);
			continue;
		}
		a = b = 0;
		rules = json_object_get(r.json, "rules");
		json_array_foreach(rules, i, v) {
			n = json_string_value(json_object_get(v, "name"));
			if (n != NULL && strncmp(n, "pa", 2) == 0)
				a++;
			if (n != NULL && strncmp(n, "pb", 2) == 0)
				b++;
		}
		if (a != b)
			__sync_fetch_and_add(&sh->torn, 1);
		__sync_fetch_and_add(&sh->reads, 1);
		resp_free(&r);
	}
}

START_TEST(test_concurrency)
{
	struct shared	*sh;
	pid_t		 pids[WRITERS + PAIR_WRITERS + READERS];
	long long	 g0, g1;
	int		 i, j, n = 0, st, total = 0;
	struct resp	 r;
	char		 path[64];

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(sh, MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	g0 = generation();
	for (i = 0; i < READERS; i++)
		if ((pids[n++] = fork()) == 0) {
			reader(sh);
			_exit(0);
		}
	for (i = 0; i < WRITERS; i++)
		if ((pids[n++] = fork()) == 0) {
			writer(sh, i);
			_exit(0);
		}
	for (i = 0; i < PAIR_WRITERS; i++)
		if ((pids[n++] = fork()) == 0) {
			pair_writer(sh, i);
			_exit(0);
		}
	for (i = READERS; i < n; i++)
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
	sh->done = 1;
	for (i = 0; i < READERS; i++)
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);

	for (i = 0; i < WRITERS + PAIR_WRITERS; i++)
		total += sh->acks[i];
	g1 = generation();
	ck_assert_int_eq(sh->errors, 0);
	ck_assert_int_eq(sh->torn, 0);
	ck_assert_int_gt(sh->reads, 0);
	ck_assert_int_gt(total, 0);
	ck_assert_int_eq(g1 - g0, total);
	/* every acknowledged rule is there, in the model and the kernel */
	for (i = 0; i < WRITERS; i++)
		for (j = 0; j < PER_WRITER; j++) {
			if (!sh->acked[i][j])
				continue;
			snprintf(path, sizeof(path), "/v1/rules/c%d_%d", i, j);
			http(&r, "GET", path, NULL, NULL, NULL);
			ck_assert_msg(r.status == 200, "%s: %d", path,
			    r.status);
			resp_free(&r);
		}
	for (i = 0; i < PAIR_WRITERS; i++)
		for (j = 0; j < PAIRS; j++) {
			if (!sh->pair_acked[i][j])
				continue;
			snprintf(path, sizeof(path), "/v1/rules/pb%d_%d", i,
			    j);
			http(&r, "GET", path, NULL, NULL, NULL);
			ck_assert_msg(r.status == 200, "%s: %d", path,
			    r.status);
			resp_free(&r);
		}
	/* PUT ruleset replaced concurrently: only acked rules count, and
	 * the kernel holds what the model says */
	http(&r, "GET", "/v1/rules", NULL, NULL, NULL);
	{
		json_t	*v;
		size_t	 k;

		json_array_foreach(json_object_get(r.json, "rules"), k, v)
			ck_assert_msg(kernel_has(json_string_value(
			    json_object_get(v, "name"))), "%s not in kernel",
			    json_string_value(json_object_get(v, "name")));
	}
	resp_free(&r);
	munmap(sh, sizeof(*sh));
}
END_TEST

/* ---- the budget for buffered bodies ---- */

/*
 * Opens a connection and announces a whole-ruleset upload of the largest
 * size, waiting for the go-ahead (Expect: 100-continue) before sending any
 * of it.  Returns the fd; *reply gets what the daemon said first (NUL-
 * terminated, up to size bytes; until it closes when it refused).
 */
static int
big_upload_start(char *reply, size_t size)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pfd;
	char			 req[512];
	long long		 end = lab_now() + lab_ms(10000);
	size_t			 off = 0;
	ssize_t			 n;
	int			 fd, len;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	len = snprintf(req, sizeof(req), "PUT /v1/ruleset HTTP/1.1\r\n"
	    "Host: localhost\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %u\r\nExpect: 100-continue\r\n\r\n",
	    API_BODY_MAX_BIG);
	ck_assert_int_eq(write(fd, req, (size_t)len), len);
	reply[0] = '\0';
	/* "100 Continue" comes alone; a refusal comes whole, then EOF */
	while (off < size - 1 && lab_now() < end) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((n = read(fd, reply + off, size - 1 - off)) <= 0)
			break;
		off += (size_t)n;
		reply[off] = '\0';
		if (strncmp(reply, "HTTP/1.1 100", 12) == 0 &&
		    strstr(reply, "\r\n\r\n") != NULL)
			break;
	}
	return fd;
}

/*
 * Uploads announced at the largest size reserve the budget before a byte
 * is sent: while it is full the next one gets 503 with Retry-After, small
 * requests still pass, and a client that goes away gives its share back.
 */
START_TEST(test_body_budget)
{
	int		 holders = (int)(API_BODY_BUDGET /
			    ((size_t)API_BODY_MAX_BIG + 1));
	int		 fds[8], i, fd;
	char		 reply[4096];
	const char	*body;
	json_t		*j;
	struct resp	 r;
	long long	 g0 = generation(), end;
	bool		 ok = false;

	ck_assert_int_ge(holders, 1);
	ck_assert_int_le(holders, 8);
	for (i = 0; i < holders; i++) {
		fds[i] = big_upload_start(reply, sizeof(reply));
		ck_assert_msg(strncmp(reply, "HTTP/1.1 100", 12) == 0,
		    "upload %d not let through: %s", i, reply);
	}
	/* full: refused at once, with a problem and a hint when to retry */
	fd = big_upload_start(reply, sizeof(reply));
	close(fd);
	ck_assert_msg(strncmp(reply, "HTTP/1.1 503", 12) == 0,
	    "not refused: %s", reply);
	ck_assert_ptr_nonnull(strcasestr(reply, "\r\nRetry-After: 1\r\n"));
	ck_assert_ptr_nonnull(strcasestr(reply,
	    "\r\nContent-Type: application/problem+json\r\n"));
	ck_assert_ptr_nonnull(body = strstr(reply, "\r\n\r\n"));
	j = json_loads(body + 4, JSON_DISABLE_EOF_CHECK, NULL);
	ck_assert_msg(j != NULL, "no JSON: %s", body + 4);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")),
	    503);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j,
	    "detail")), "retry later"));
	json_decref(j);

	/* what is left still serves ordinary requests */
	http(&r, "PUT", "/v1/ruleset?dry_run=1", "text/plain",
	    "zone lan { interface lan0 }\n", NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);

	/* the holders hang up mid-request: their shares come back */
	for (i = 0; i < holders; i++)
		close(fds[i]);
	end = lab_now() + lab_ms(5000);
	while (!ok && lab_now() < end) {
		fd = big_upload_start(reply, sizeof(reply));
		close(fd);
		ok = strncmp(reply, "HTTP/1.1 100", 12) == 0;
		if (!ok)
			usleep(50000);
	}
	ck_assert_msg(ok, "the budget was not given back: %s", reply);
	ck_assert_int_eq(generation(), g0);
}
END_TEST

/* A request written by hand on the socket; the whole reply (until the
 * server closes, or lab_ms(10 s)) in reply. */
static void
raw_request(const char *req, size_t len, char *reply, size_t size)
{
	struct pollfd	 pfd;
	long long	 end = lab_now() + lab_ms(10000);
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd = raw_connect();

	ck_assert_int_eq(write(fd, req, len), (ssize_t)len);
	reply[0] = '\0';
	while (off < size - 1 && lab_now() < end) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((n = read(fd, reply + off, size - 1 - off)) <= 0)
			break;
		off += (size_t)n;
		reply[off] = '\0';
	}
	close(fd);
}

/* A raw reply as problem+json of status, with no ETag. */
static void
assert_raw_problem(const char *reply, int status)
{
	char		 line[32];
	const char	*body;
	json_t		*j;

	snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
	ck_assert_msg(strncmp(reply, line, strlen(line)) == 0, "%.300s",
	    reply);
	ck_assert_ptr_nonnull(strcasestr(reply,
	    "\r\nContent-Type: application/problem+json\r\n"));
	ck_assert_ptr_null(strcasestr(reply, "\r\nETag:"));
	ck_assert_ptr_nonnull(body = strstr(reply, "\r\n\r\n"));
	j = json_loads(body + 4, JSON_DISABLE_EOF_CHECK, NULL);
	ck_assert_msg(j != NULL, "no JSON: %s", body + 4);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")),
	    status);
	ck_assert(json_is_string(json_object_get(j, "detail")));
	json_decref(j);
}

/*
 * A URL longer than 8 KiB is 414, header lines over 16 KiB in all are
 * 431: problem+json like every other refusal, and nothing changes.
 */
START_TEST(test_head_limits)
{
	char		*req, reply[8192];
	long long	 g0 = generation();
	size_t		 i, off;

	req = malloc(64 * 1024);
	ck_assert_ptr_nonnull(req);
	off = (size_t)sprintf(req, "GET /v1/rules/");
	for (i = 0; i < 9000; i++)
		req[off++] = 'a';
	off += (size_t)sprintf(req + off, " HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_request(req, off, reply, sizeof(reply));
	assert_raw_problem(reply, 414);

	/* the same length in the query */
	off = (size_t)sprintf(req, "GET /v1/status?");
	for (i = 0; i < 9000; i++)
		req[off++] = 'q';
	off += (size_t)sprintf(req + off, " HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_request(req, off, reply, sizeof(reply));
	assert_raw_problem(reply, 414);

	off = (size_t)sprintf(req, "GET /v1/status HTTP/1.1\r\nHost: x\r\n");
	for (i = 0; i < 20; i++) {
		off += (size_t)sprintf(req + off, "X-Filler-%zu: ", i);
		memset(req + off, 'f', 1000);
		off += 1000;
		off += (size_t)sprintf(req + off, "\r\n");
	}
	off += (size_t)sprintf(req + off, "\r\n");
	raw_request(req, off, reply, sizeof(reply));
	assert_raw_problem(reply, 431);
	free(req);
	ck_assert_int_eq(generation(), g0);
}
END_TEST

/*
 * The over-limit body answered 413, never a broken pipe: 20 times in a
 * row each way (Content-Length, chunked), with two processes burning the
 * CPUs beside (each stops by itself after 120 s at most).
 */
START_TEST(test_413_under_load)
{
	pid_t		 burn[2];
	struct resp	 r;
	char		*big;
	size_t		 len;
	int		 i, k;

	for (k = 0; k < 2; k++) {
		if ((burn[k] = fork()) == 0) {
			long long end = lab_now() + 120000;
			volatile unsigned long x = 0;

			while (lab_now() < end)
				for (i = 0; i < 1000000; i++)
					x += (unsigned long)i;
			_exit(0);
		}
		ck_assert_int_gt(burn[k], 0);
	}
	big = hostile_body(B_HUGE, &len);
	for (i = 0; i < 20; i++) {
		for (k = 0; k < 2; k++) {
			http_as(&r, 0, 0, 0, "POST", "/v1/rules",
			    "application/json", big, len, k ?
			    "Transfer-Encoding: chunked" : NULL, NULL);
			ck_assert_msg(r.status == 413, "run %d (%s): %d %s",
			    i, k ? "chunked" : "Content-Length", r.status,
			    r.body ? r.body : "");
			assert_problem(&r, 413);
			resp_free(&r);
		}
	}
	free(big);
	for (k = 0; k < 2; k++) {
		kill(burn[k], SIGKILL);
		waitpid(burn[k], NULL, 0);
	}
}
END_TEST

/* ---- permissions ---- */

START_TEST(test_permissions)
{
	struct resp	 r;
	long long	 g0;

	/* let anyone reach the socket: the daemon must still say no */
	ck_assert_int_eq(chmod(sock, 0666), 0);
	ck_assert_int_eq(chmod(outdir, 01777), 0);
	g0 = generation();
	http_as(&r, NOBODY, OTHER_GID, 0, "GET", "/v1/status", NULL, NULL, 0,
	    NULL, NULL);
	assert_problem(&r, 403);
	resp_free(&r);
	http_as(&r, NOBODY, OTHER_GID, 0, "POST", "/v1/rules", "text/plain",
	    "evil from any to self accept", 28, NULL, NULL);
	assert_problem(&r, 403);
	resp_free(&r);
	http_as(&r, NOBODY, OTHER_GID, 0, "DELETE", "/v1/ruleset", NULL, NULL,
	    0, NULL, NULL);
	assert_problem(&r, 403);
	resp_free(&r);
	ck_assert_int_eq(generation(), g0);
	ck_assert(kernel_has("ssh"));

	/* a member of the API group (supplementary) may */
	http_as(&r, NOBODY, OTHER_GID, NOBODY, "GET", "/v1/status", NULL,
	    NULL, 0, NULL, NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	resp_free(&r);
	/* and as primary group */
	http_as(&r, NOBODY, NOBODY, 0, "POST", "/v1/rules", "text/plain",
	    "member from lan to self tcp dport 9 accept", 42, NULL, NULL);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	resp_free(&r);
	ck_assert_int_eq(generation(), g0 + 1);
}
END_TEST

/* GET /v1/ruleset in the rule language. */
static char *
ruleset_text(void)
{
	struct resp	 r;
	char		*t;

	http(&r, "GET", "/v1/ruleset", NULL, NULL, "Accept: text/plain");
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	t = r.body;
	r.body = NULL;
	resp_free(&r);
	return t;
}

static json_t *
status_pending(void)
{
	struct resp	 r;
	json_t		*p;

	http(&r, "GET", "/v1/status", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	p = json_incref(json_object_get(r.json, "pending"));
	ck_assert_ptr_nonnull(p);
	resp_free(&r);
	return p;
}

/*
 * PUT /v1/ruleset?confirm=N: a ruleset that cuts the way in comes back
 * out by itself when nobody confirms it in time, when asked (revert), and
 * at the next start; confirmed, it stays. Meanwhile nothing else changes
 * the ruleset, so the revert loses no acknowledged change.
 */
START_TEST(test_confirm_or_revert)
{
	struct resp	 r;
	char		*before, *now, *log;
	long long	 g0, g, end;
	json_t		*p;
	pid_t		 srv;
	/* long enough for the checks made before it runs out */
	int		 win = lab_ms(5000) / 1000;
	char		 url[64];

	srv = lab_serve(lab, "router", "tcp", 8091);
	ck_assert_int_gt(srv, 0);
	post_rule("/v1/rules", "cf_open from lan to self tcp dport 8091 "
	    "accept");
	post_rule("/v1/rules?position=1", "cf_block from lan to self src "
	    "@blocklist drop");
	ck_assert(lan_connects(8091, 3000));
	before = ruleset_text();
	g0 = generation();

	/* not confirmed: the way in closes, then opens again by itself */
	snprintf(url, sizeof(url), "/v1/ruleset?confirm=%d", win);
	http(&r, "PUT", url, "text/plain", base_rules, NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	p = json_object_get(r.json, "confirm");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "generation")),
	    g0 + 1);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "seconds")),
	    win);
	resp_free(&r);
	p = status_pending();
	ck_assert_int_eq(json_integer_value(json_object_get(p, "generation")),
	    g0 + 1);
	ck_assert_int_ge(json_integer_value(json_object_get(p,
	    "seconds_left")), 1);
	ck_assert_int_le(json_integer_value(json_object_get(p,
	    "seconds_left")), win);
	json_decref(p);
	ck_assert(!lan_connects(8091, 1000));
	/* no other change meanwhile; a dry run changes nothing: allowed */
	http(&r, "POST", "/v1/rules", "text/plain",
	    "cf_other from lan to self tcp dport 8092 accept", NULL);
	assert_problem(&r, 409);
	ck_assert_msg(strstr(json_string_value(json_object_get(r.json,
	    "detail")), "awaits confirmation") != NULL, "%s", r.body);
	resp_free(&r);
	http(&r, "PUT", "/v1/ruleset?dry_run=1", "text/plain", before, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	end = lab_now() + lab_ms(15000);
	while ((g = generation()) == g0 + 1 && lab_now() < end)
		usleep(100000);
	ck_assert_int_eq(g, g0 + 2);
	p = status_pending();
	ck_assert(json_is_null(p));
	json_decref(p);
	now = ruleset_text();
	ck_assert_str_eq(now, before);
	free(now);
	ck_assert(lan_connects(8091, 3000));
	log = slurp(logfile, NULL);
	ck_assert_msg(strstr(log, "reverted") != NULL, "log:\n%s", log);
	free(log);

	/* confirmed: it stays; a second confirm finds nothing */
	http(&r, "PUT", "/v1/ruleset?confirm=60", "text/plain", base_rules,
	    NULL);
	ck_assert_int_eq(r.status, 200);
	g = etag_of(&r);
	resp_free(&r);
	http(&r, "POST", "/v1/confirm", NULL, NULL, "If-Match: \"1\"");
	assert_problem(&r, 412);
	resp_free(&r);
	http(&r, "POST", "/v1/confirm", NULL, NULL, NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ck_assert(json_is_true(json_object_get(r.json, "confirmed")));
	ck_assert_int_eq(etag_of(&r), g);
	resp_free(&r);
	p = status_pending();
	ck_assert(json_is_null(p));
	json_decref(p);
	http(&r, "POST", "/v1/confirm", NULL, NULL, NULL);
	assert_problem(&r, 409);
	resp_free(&r);
	http(&r, "POST", "/v1/revert", NULL, NULL, NULL);
	assert_problem(&r, 409);
	resp_free(&r);
	ck_assert_int_eq(generation(), g);
	ck_assert(!lan_connects(8091, 1000));

	/* reverted on request, at once: here the unconfirmed ruleset put
	 * the lan host in the block list, which the revert takes out */
	http(&r, "PUT", "/v1/ruleset", "text/plain", before, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	ck_assert(lan_connects(8091, 3000));
	{
		const char *at = strstr(before, "set blocklist ipv4 { timeout "
		    "1h }");
		char *blocked;

		ck_assert_msg(at != NULL, "%s", before);
		ck_assert_int_ne(asprintf(&blocked, "%.*sset blocklist ipv4 { "
		    "timeout 1h; 10.50.1.10 }%s", (int)(at - before), before,
		    at + strlen("set blocklist ipv4 { timeout 1h }")), -1);
		http(&r, "PUT", "/v1/ruleset?confirm=60", "text/plain",
		    blocked, NULL);
		free(blocked);
	}
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	g = etag_of(&r);
	resp_free(&r);
	ck_assert(!lan_connects(8091, 1000));
	http(&r, "POST", "/v1/revert", NULL, NULL, NULL);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json,
	    "reverted")), g);
	ck_assert_int_eq(etag_of(&r), g + 1);
	resp_free(&r);
	now = ruleset_text();
	ck_assert_str_eq(now, before);
	free(now);
	ck_assert(lan_connects(8091, 3000));

	/* and by a restart: the daemon died before anyone confirmed */
	http(&r, "PUT", "/v1/ruleset?confirm=60", "text/plain", base_rules,
	    NULL);
	ck_assert_int_eq(r.status, 200);
	g = etag_of(&r);
	resp_free(&r);
	kill9_daemon();
	ck_assert_int_eq(daemon_start(false), 0);
	ck_assert_int_eq(generation(), g + 1);
	now = ruleset_text();
	ck_assert_str_eq(now, before);
	free(now);
	p = status_pending();
	ck_assert(json_is_null(p));
	json_decref(p);
	ck_assert(lan_connects(8091, 3000));
	log = slurp(logfile, NULL);
	ck_assert_msg(strstr(log, "was never confirmed") != NULL, "log:\n%s",
	    log);
	free(log);

	/* what is not a number of seconds changes nothing */
	g = generation();
	http(&r, "PUT", "/v1/ruleset?confirm=0", "text/plain", base_rules,
	    NULL);
	assert_problem(&r, 400);
	resp_free(&r);
	http(&r, "PUT", "/v1/ruleset?confirm=3601", "text/plain", base_rules,
	    NULL);
	assert_problem(&r, 400);
	resp_free(&r);
	http(&r, "PUT", "/v1/ruleset?confirm=1x", "text/plain", base_rules,
	    NULL);
	assert_problem(&r, 400);
	resp_free(&r);
	http(&r, "PUT", "/v1/ruleset?confirm=5&dry_run=1", "text/plain",
	    base_rules, NULL);
	assert_problem(&r, 400);
	resp_free(&r);
	ck_assert_int_eq(generation(), g);

	/* after a flush there is nothing to go back to but an open host */
	http(&r, "DELETE", "/v1/ruleset", NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	http(&r, "PUT", "/v1/ruleset?confirm=60", "text/plain", before, NULL);
	assert_problem(&r, 409);
	ck_assert_msg(strstr(r.body, "flushed") != NULL, "%s", r.body);
	resp_free(&r);
	http(&r, "PUT", "/v1/ruleset", "text/plain", before, NULL);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	free(before);
	lab_stop(lab, srv);
}
END_TEST

static Suite *
api_suite(void)
{
	Suite	*s = suite_create("lab_api");
	TCase	*tc;

	tc = tcase_create("endpoints");
	tcase_add_unchecked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_ruleset_get);
	tcase_add_test(tc, test_rule_lifecycle_traffic);
	tcase_add_test(tc, test_rule_placement);
	tcase_add_test(tc, test_zones);
	tcase_add_test(tc, test_policies);
	tcase_add_test(tc, test_policy_traffic);
	tcase_add_test(tc, test_nat);
	tcase_add_test(tc, test_sets_elements);
	tcase_add_test(tc, test_set_element_timeout);
	tcase_add_test(tc, test_counters);
	tcase_add_test(tc, test_counters_follow_rules);
	tcase_add_test(tc, test_ruleset_put_dry_run_flush);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_unchecked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_hostile, 0,
	    (int)(sizeof(hostile) / sizeof(hostile[0])));
	tcase_add_test(tc, test_hostile_line_numbers);
	tcase_add_test(tc, test_too_large_read_then_refused);
	tcase_add_test(tc, test_error_caps);
	tcase_add_test(tc, test_elements_text_separators);
	tcase_add_test(tc, test_body_budget);
	tcase_add_test(tc, test_head_limits);
	tcase_add_test(tc, test_413_under_load);
	suite_add_tcase(s, tc);

	tc = tcase_create("durability");
	tcase_add_unchecked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_kill9_keeps_table_and_state);
	tcase_add_test(tc, test_typo_keeps_last_good);
	suite_add_tcase(s, tc);

	tc = tcase_create("confirm");
	tcase_add_unchecked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_confirm_or_revert);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_add_unchecked_fixture(tc, lab_setup, lab_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_concurrency);
	suite_add_tcase(s, tc);

	tc = tcase_create("permissions");
	tcase_add_unchecked_fixture(tc, lab_setup_group, lab_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_permissions);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(api_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
