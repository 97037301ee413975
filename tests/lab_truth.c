/*
 * One truth across the rules directory, the CLI and the API, judged with
 * real traffic in the lab: no lockout on a first start or an empty
 * ruleset, reload and save and what they do to live changes, a block that
 * covers the host and cuts open connections, set elements kept as data,
 * the history and a revert to a past generation, and hand edits made
 * while fwctld was stopped.
 *
 * Each test starts its own fwctld in the router namespace of a lab it
 * shares with the others (an unchecked fixture makes and removes it).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/fwd.h"
#include "lib/lab.h"

static struct lab *lab;

/* The lab's gateway: a service on the router (22), a forward to the DMZ
 * (443 -> 10.50.2.10:8443), and a block list that covers both. */
static const char base_rules[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
    "zone dmz { interface dmz0; dmz }\n"
    "policy lan -> wan accept\n"
    "policy lan -> dmz accept\n"
    "set blocklist ipv4 { timeout 1h }\n"
    "set spare ipv4 { 192.0.2.1 }\n"
    "rule drop-blocked from wan to all src @blocklist drop\n"
    "rule ssh from any to self tcp dport 22 accept\n"
    "rule shell from any to self tcp dport 2222 accept\n"
    "rule web from wan to self tcp dport 80 accept\n"
    "nat https forward from wan tcp dport 443 to 10.50.2.10:8443\n";

#define HAS(s, sub) ck_assert_msg(strstr((s), (sub)) != NULL,		\
	"missing '%s' in:\n%.2000s", (sub), (s))
#define HASNT(s, sub) ck_assert_msg(strstr((s), (sub)) == NULL,	\
	"unexpected '%s' in:\n%.2000s", (sub), (s))

#define CLI_OK(f, r, ...) do {						\
	int st_ = fwd_cli((f), (r), __VA_ARGS__, (char *)NULL);		\
	ck_assert_msg(st_ == 0, "fwctl exit %d\nstdout: %s\nstderr: %s",\
	    st_, (r)->out, (r)->err);					\
} while (0)

static void
truth_setup(void)
{
	if ((lab = lab_up()) == NULL) {
		fprintf(stderr, "lab_truth: lab_up failed\n");
		exit(1);
	}
}

static void
truth_teardown(void)
{
	lab_down(lab);
	lab = NULL;
}

/* A daemon of this test over the base ruleset (or rules, if given). */
static void
start(struct fwd *f, const char *rules)
{
	/* each test starts as a fresh host */
	ck_assert_int_eq(fwd_init_fresh(f, lab, "router"), 0);
	if (rules != NULL)
		ck_assert_int_eq(fwd_write(f, "rules/10-base.rules", rules), 0);
	ck_assert_int_eq(fwd_start(f, 15000, "%s", ""), 0);
}

/* A connection that must get through: the wait scales on a busy machine
 * (FWCTL_TEST_TIMEOUT_SCALE). */
static bool
tcp_ok(const char *from, const char *addr, int port)
{
	return lab_tcp_connect(lab, from, addr, port, lab_ms(1500), NULL,
	    0) == 0;
}

/* One that must not: refused or dropped within the time given. A busy
 * machine can only make it look more refused, never less. */
static bool
tcp_refused(const char *from, const char *addr, int port)
{
	return lab_tcp_connect(lab, from, addr, port, 1500, NULL, 0) != 0;
}

static json_t *
status_json(struct fwd *f)
{
	struct fwd_res	 r;
	json_t		*j;

	CLI_OK(f, &r, "--json", "status");
	j = json_loads(r.out, 0, NULL);
	ck_assert_msg(j != NULL, "status: not JSON: %s", r.out);
	fwd_res_free(&r);
	return j;
}

static json_int_t
generation(struct fwd *f)
{
	json_t		*j = status_json(f);
	json_int_t	 g = json_integer_value(json_object_get(j,
			    "generation"));

	json_decref(j);
	return g;
}

/* SIGHUP, then waits (bounded) for the generation to move from g;
 * returns the new one (g when nothing changed in 3 s). */
static json_int_t
sighup(struct fwd *f, json_int_t g)
{
	char		*log;
	long long	 end = lab_now() + 10000;
	size_t		 before;

	log = fwd_log(f);
	before = strlen(log);
	free(log);
	ck_assert_int_eq(kill(f->pid, SIGHUP), 0);
	/* the reload is over once the log says so or the generation moved */
	while (lab_now() < end) {
		if (generation(f) != g)
			break;
		log = fwd_log(f);
		if (strlen(log) > before && strstr(log + before,
		    "reloading") != NULL && lab_now() > end - 7000) {
			free(log);
			break;
		}
		free(log);
		usleep(50000);
	}
	return generation(f);
}

static char *
nft_set(const char *name)
{
	char	*s = lab_output(lab, "router", "nft list set inet fwctl %s",
		    name);

	ck_assert_ptr_nonnull(s);
	return s;
}

/*
 * A first start from the installed default rules: no zone, no table, SSH
 * to the host still connects, and status and the log say nothing is
 * filtered. A ruleset with no zones through the API is refused without
 * allow_unfiltered, and changes nothing.
 */
START_TEST(fresh_install_never_locks_out)
{
	struct fwd	 f;
	struct fwd_res	 r;
	const char	*src = getenv("FWCTL_SRC");
	char		 path[2 * PATH_MAX], *text, *log, *nft;
	FILE		*fp;
	size_t		 len = 0;
	json_t		*j;
	pid_t		 sshd;
	int		 st;

	snprintf(path, sizeof(path), "%s/contrib/rules.d/00-default.rules",
	    src ? src : ".");
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	text = NULL;
	ck_assert_int_gt(getdelim(&text, &len, '\0', fp), 0);
	fclose(fp);
	start(&f, text);
	free(text);
	ck_assert_int_gt(sshd = lab_serve(lab, "router", "tcp", 22), 0);

	ck_assert(tcp_ok("wan", "10.50.0.1", 22));
	ck_assert(tcp_ok("lan", "10.50.1.1", 22));
	nft = lab_output_status(lab, &st, "router",
	    "nft list table inet fwctl 2>&1");
	ck_assert_int_ne(st, 0);
	free(nft);
	CLI_OK(&f, &r, "status");
	HAS(r.out, "filters:  NOTHING");
	fwd_res_free(&r);
	log = fwd_log(&f);
	HAS(log, "NOTHING IS FILTERED");
	free(log);

	/* the base ruleset: filtered from now on */
	ck_assert_int_eq(fwd_write(&f, "rules/10-base.rules", base_rules), 0);
	CLI_OK(&f, &r, "reload");
	fwd_res_free(&r);
	ck_assert(tcp_refused("wan", "10.50.0.1", 8022));
	j = status_json(&f);
	ck_assert(json_is_true(json_object_get(json_object_get(j,
	    "filtering"), "active")));
	json_decref(j);

	/* no zones through the API: refused, nothing changes */
	ck_assert_int_eq(fwd_curl(&f, &r, "PUT", "/v1/ruleset", NULL,
	    "{\"zones\":[]}"), 409);
	HAS(r.out, "allow_unfiltered");
	fwd_res_free(&r);
	/* nor does deleting the last zone */
	ck_assert_int_eq(fwd_curl(&f, &r, "PUT", "/v1/ruleset", "text/plain",
	    "zone lan { interface lan0 }\n"
	    "rule ssh from any to self tcp dport 22 accept\n"), 200);
	fwd_res_free(&r);
	ck_assert_int_eq(fwd_curl(&f, &r, "DELETE", "/v1/zones/lan", NULL,
	    NULL), 409);
	HAS(r.out, "allow_unfiltered");
	fwd_res_free(&r);
	ck_assert(tcp_refused("wan", "10.50.0.1", 8022));
	nft = lab_output_status(lab, &st, "router",
	    "nft list table inet fwctl >/dev/null 2>&1");
	ck_assert_int_eq(st, 0);
	free(nft);
	/* and with it: the table goes, the host is open, status says so */
	ck_assert_int_eq(fwd_curl(&f, &r, "PUT",
	    "/v1/ruleset?allow_unfiltered=1", NULL, "{\"zones\":[]}"), 200);
	fwd_res_free(&r);
	nft = lab_output_status(lab, &st, "router",
	    "nft list table inet fwctl >/dev/null 2>&1");
	ck_assert_int_ne(st, 0);
	free(nft);
	ck_assert(tcp_ok("wan", "10.50.0.1", 22));
	CLI_OK(&f, &r, "status");
	HAS(r.out, "filters:  NOTHING");
	fwd_res_free(&r);
	/* the checker warns too, before anything is deployed */
	snprintf(path, sizeof(path), "%s -n --rules-dir %s/rules 2>&1",
	    f.fwctld, f.dir);
	ck_assert_int_eq(fwd_write(&f, NULL, NULL), 0);
	ck_assert_int_eq(fwd_write(&f, "rules/00-default.rules", "# none\n"),
	    0);
	text = lab_output_status(lab, &st, "router", "%s", path);
	ck_assert_int_eq(st, 0);
	HAS(text, "no zone");
	free(text);
	lab_stop(lab, sshd);
	fwd_cleanup(&f);
}
END_TEST

/*
 * Live changes, then a reload: the rules directory wins and the log names
 * every object it discards; fwctl diff shows them before and nothing
 * after. A save writes the live ruleset into the directory: a SIGHUP
 * after it changes nothing, and the files it replaced are kept.
 */
START_TEST(reload_and_save)
{
	struct fwd	 f;
	struct fwd_res	 r;
	json_t		*j;
	json_int_t	 g;
	char		*log, *ls;
	pid_t		 imap;
	size_t		 mark;

	start(&f, base_rules);
	ck_assert_int_gt(imap = lab_serve(lab, "router", "tcp", 143), 0);
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));
	CLI_OK(&f, &r, "add-rule", "imap", "from", "wan", "to", "self", "tcp",
	    "dport", "143", "accept");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "delete-rule", "web");
	fwd_res_free(&r);
	ck_assert(tcp_ok("wan", "10.50.0.1", 143));

	CLI_OK(&f, &r, "diff");
	HAS(r.out, "+ rule imap");
	HAS(r.out, "- rule web");
	fwd_res_free(&r);
	j = status_json(&f);
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "live_changes")), 2);
	json_decref(j);
	CLI_OK(&f, &r, "reload", "--dry-run");
	HAS(r.out, "- rule imap");
	HAS(r.out, "+ rule web");
	fwd_res_free(&r);

	/* SIGHUP: what systemctl reload does */
	log = fwd_log(&f);
	mark = strlen(log);
	free(log);
	g = generation(&f);
	ck_assert_int_eq(sighup(&f, g), g + 1);
	log = fwd_log(&f);
	HAS(log + mark, "reload: removes rule imap");
	HAS(log + mark, "reload: adds rule web");
	free(log);
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));
	CLI_OK(&f, &r, "diff");
	HAS(r.out, "is what the rules directory says");
	fwd_res_free(&r);

	/* kept this time: saved into the directory */
	CLI_OK(&f, &r, "add-rule", "imap", "from", "wan", "to", "self", "tcp",
	    "dport", "143", "accept");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "save");
	HAS(r.out, "Saved generation");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "diff");
	HAS(r.out, "is what the rules directory says");
	fwd_res_free(&r);
	j = status_json(&f);
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "live_changes")), 0);
	json_decref(j);
	g = generation(&f);
	ck_assert_int_eq(sighup(&f, g), g);
	ck_assert(tcp_ok("wan", "10.50.0.1", 143));
	/* a second save has nothing to write */
	CLI_OK(&f, &r, "save");
	HAS(r.out, "Nothing to save");
	fwd_res_free(&r);
	ls = lab_output(lab, "router", "ls -A %s/rules %s/rules/.backup/*",
	    f.dir, f.dir);
	ck_assert_ptr_nonnull(ls);
	HAS(ls, "fwctl.rules");
	HAS(ls, "10-base.rules");	/* in the backup */
	free(ls);
	lab_stop(lab, imap);
	fwd_cleanup(&f);
}
END_TEST

/* The lab's wan host opens a TCP connection to addr:port, sends a line
 * and reads it back; then waits for a byte on go and does it again.
 * Exits 0 when the second echo came back, 1 when it did not. */
static pid_t
open_conn(const char *addr, int port, int go)
{
	struct sockaddr_in	 sin;
	struct pollfd		 p;
	char			 buf[16];
	pid_t			 pid;
	int			 s;

	if ((pid = fork()) != 0)
		return pid;
	if (lab_enter(lab, "wan") == -1 ||
	    (s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		_exit(2);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    write(s, "a\n", 2) != 2)
		_exit(3);
	p.fd = s;
	p.events = POLLIN;
	if (poll(&p, 1, 5000) != 1 || read(s, buf, sizeof(buf)) <= 0)
		_exit(4);
	/* connected: tell the parent, wait for its go */
	if (read(go, buf, 1) != 1 || write(s, "b\n", 2) != 2)
		_exit(5);
	_exit(poll(&p, 1, 2000) == 1 && read(s, buf, sizeof(buf)) > 0 ? 0 : 1);
}

static int
conn_result(pid_t pid, int go)
{
	int	 st;

	ck_assert_int_eq(write(go, "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * fwctl block: the blocked address reaches neither the host nor the
 * forwarded service (`to all`), and --kill-connections ends what it has
 * open; without it an open connection goes on (rules see new ones only).
 */
START_TEST(block_blocks)
{
	struct fwd	 f;
	struct fwd_res	 r;
	pid_t		 echo, web, sshd, c;
	int		 go[2];

	start(&f, base_rules);
	ck_assert_int_gt(web = lab_serve(lab, "dmz", "tcp", 8443), 0);
	ck_assert_int_gt(sshd = lab_serve(lab, "router", "tcp", 22), 0);
	/* an echo server: a connection that stays open */
	echo = lab_spawn(lab, "router", "exec socat -T 30 "
	    "TCP4-LISTEN:2222,reuseaddr,fork PIPE");
	ck_assert_int_gt(echo, 0);
	ck_assert_int_eq(lab_wait_port(lab, "router", "tcp", 2222, 5000), 0);
	ck_assert(tcp_ok("wan", "10.50.0.1", 443));
	ck_assert(tcp_ok("wan", "10.50.0.1", 22));

	/* open before the block: a plain block leaves it be */
	ck_assert_int_eq(pipe(go), 0);
	c = open_conn("10.50.0.1", 2222, go[0]);
	usleep(300000);
	CLI_OK(&f, &r, "block", "10.50.0.2");
	fwd_res_free(&r);
	ck_assert_int_eq(conn_result(c, go[1]), 0);
	/* but nothing new gets in: not to the host, not forwarded */
	ck_assert(tcp_refused("wan", "10.50.0.1", 22));
	ck_assert(tcp_refused("wan", "10.50.0.1", 443));
	ck_assert(tcp_ok("lan", "10.50.1.1", 22));
	CLI_OK(&f, &r, "unblock", "10.50.0.2");
	fwd_res_free(&r);

	/* open, then blocked with --kill-connections: cut */
	c = open_conn("10.50.0.1", 2222, go[0]);
	usleep(300000);
	CLI_OK(&f, &r, "block", "10.50.0.2", "--kill-connections");
	HAS(r.out, "open connection");
	HASNT(r.out, "0 open connections ended");
	fwd_res_free(&r);
	ck_assert_int_eq(conn_result(c, go[1]), 1);
	ck_assert(tcp_refused("wan", "10.50.0.1", 22));
	close(go[0]);
	close(go[1]);
	lab_stop(lab, echo);
	lab_stop(lab, web);
	lab_stop(lab, sshd);
	fwd_cleanup(&f);
}
END_TEST

/*
 * Set elements are data: a set whose timeout changes keeps them (and they
 * still block); export leaves them out unless asked; they may change
 * while a confirmation is pending, and a revert keeps them.
 */
START_TEST(elements_are_data)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		 path[PATH_MAX], *s, *changed;
	pid_t		 web;

	start(&f, base_rules);
	ck_assert_int_gt(web = lab_serve(lab, "router", "tcp", 80), 0);
	ck_assert(tcp_ok("wan", "10.50.0.1", 80));
	CLI_OK(&f, &r, "block", "10.50.0.2");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "add-element", "spare", "192.0.2.2");
	fwd_res_free(&r);
	ck_assert(tcp_refused("wan", "10.50.0.1", 80));

	/* the set's timeout changes in the files; a reload keeps the block */
	ck_assert_ptr_nonnull(changed = strdup(base_rules));
	memcpy(strstr(changed, "timeout 1h"), "timeout 2h", 10);
	ck_assert_int_eq(fwd_write(&f, "rules/10-base.rules", changed), 0);
	CLI_OK(&f, &r, "reload", "--dry-run");
	HAS(r.out, "~ set blocklist");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "reload");
	fwd_res_free(&r);
	s = nft_set("blocklist");
	HAS(s, "10.50.0.2");
	HAS(s, "timeout 2h");
	free(s);
	s = nft_set("spare");
	HAS(s, "192.0.2.2");
	free(s);
	ck_assert(tcp_refused("wan", "10.50.0.1", 80));

	/* export: the declared ruleset; --with-elements: the data too */
	CLI_OK(&f, &r, "export");
	HASNT(r.out, "10.50.0.2");
	HASNT(r.out, "192.0.2.2");
	HAS(r.out, "192.0.2.1");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "export", "--with-elements");
	HAS(r.out, "10.50.0.2");
	fwd_res_free(&r);

	/* a change awaits confirmation: blocking still works, and the
	 * revert keeps what was blocked meanwhile */
	snprintf(path, sizeof(path), "%s/rules/10-base.rules", f.dir);
	CLI_OK(&f, &r, "apply", path, "--confirm", "60");
	fwd_res_free(&r);
	memcpy(strstr(changed, "timeout 2h"), "timeout 1h", 10);
	s = changed;
	ck_assert_int_eq(fwd_write(&f, "next.rules", s), 0);
	snprintf(path, sizeof(path), "%s/next.rules", f.dir);
	CLI_OK(&f, &r, "apply", path, "--confirm", "60");
	HAS(r.out, "reverted in");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "block", "192.0.2.77");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "revert");
	HAS(r.out, "reverted");
	fwd_res_free(&r);
	s = nft_set("blocklist");
	HAS(s, "192.0.2.77");
	HAS(s, "10.50.0.2");
	HAS(s, "timeout 2h");
	free(s);
	ck_assert(tcp_refused("wan", "10.50.0.1", 80));
	free(changed);
	lab_stop(lab, web);
	fwd_cleanup(&f);
}
END_TEST

/*
 * The history says who changed what; revert --to G gives back G's
 * traffic behaviour, as a new change recorded like any other.
 */
START_TEST(history_and_revert)
{
	struct fwd	 f;
	struct fwd_res	 r;
	json_int_t	 g1, g2;
	char		 gen[24];
	pid_t		 imap, web;

	start(&f, base_rules);
	ck_assert_int_gt(imap = lab_serve(lab, "router", "tcp", 143), 0);
	ck_assert_int_gt(web = lab_serve(lab, "router", "tcp", 80), 0);
	g1 = generation(&f);
	CLI_OK(&f, &r, "add-rule", "imap", "from", "wan", "to", "self", "tcp",
	    "dport", "143", "accept");
	fwd_res_free(&r);
	g2 = generation(&f);
	CLI_OK(&f, &r, "delete-rule", "web");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "delete-rule", "imap");
	fwd_res_free(&r);
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));
	ck_assert(tcp_refused("wan", "10.50.0.1", 80));

	CLI_OK(&f, &r, "history");
	HAS(r.out, "add rule");
	HAS(r.out, "+rule imap");
	HAS(r.out, "-rule web");
	HAS(r.out, "uid 0 pid");
	fwd_res_free(&r);
	snprintf(gen, sizeof(gen), "%lld", (long long)g2);
	CLI_OK(&f, &r, "show", "--generation", gen);
	HAS(r.out, "rule imap from wan to self");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "revert", "--to", gen, "--dry-run");
	HAS(r.out, "+ rule imap");
	HAS(r.out, "+ rule web");
	fwd_res_free(&r);
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));
	CLI_OK(&f, &r, "revert", "--to", gen);
	fwd_res_free(&r);
	ck_assert(tcp_ok("wan", "10.50.0.1", 143));
	ck_assert(tcp_ok("wan", "10.50.0.1", 80));
	CLI_OK(&f, &r, "history", "-n", "1");
	snprintf(gen, sizeof(gen), "revert to %lld", (long long)g2);
	HAS(r.out, gen);
	fwd_res_free(&r);
	/* and to the start: 143 closed again */
	snprintf(gen, sizeof(gen), "%lld", (long long)g1);
	CLI_OK(&f, &r, "revert", "--to", gen);
	fwd_res_free(&r);
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));
	ck_assert(tcp_ok("wan", "10.50.0.1", 80));
	/* a generation the history never had */
	ck_assert_int_eq(fwd_cli(&f, &r, "revert", "--to", "999",
	    (char *)NULL), 6);
	fwd_res_free(&r);
	/* the history survives a restart */
	ck_assert_int_eq(fwd_stop(&f, false), 0);
	ck_assert_int_eq(fwd_start(&f, 15000, "%s", ""), 0);
	snprintf(gen, sizeof(gen), "%lld", (long long)g2);
	CLI_OK(&f, &r, "show", "--generation", gen);
	HAS(r.out, "rule imap from wan to self");
	fwd_res_free(&r);
	lab_stop(lab, imap);
	lab_stop(lab, web);
	fwd_cleanup(&f);
}
END_TEST

/*
 * A damaged state.json (and the newest history snapshot, which is the
 * same file) at start: fwctld falls back to the snapshot before, as a new
 * generation with a fresh snapshot, so that what is acknowledged after it
 * survives every later restart; generations only grow.
 */
START_TEST(damaged_state_loses_nothing_after)
{
	struct fwd	 f;
	struct fwd_res	 r;
	json_int_t	 g0, g1, g2, g3;
	char		*log, *path;
	pid_t		 imap;
	int		 i;

	start(&f, base_rules);
	ck_assert_int_gt(imap = lab_serve(lab, "router", "tcp", 143), 0);
	CLI_OK(&f, &r, "add-rule", "pop", "from", "wan", "to", "self", "tcp",
	    "dport", "110", "accept");
	fwd_res_free(&r);
	ck_assert_int_eq(fwd_write(&f, "whole.rules", base_rules), 0);
	ck_assert_int_ne(asprintf(&path, "%s/whole.rules", f.dir), -1);
	CLI_OK(&f, &r, "apply", path);		/* a snapshot */
	fwd_res_free(&r);
	free(path);
	g0 = generation(&f);
	ck_assert_int_eq(fwd_stop(&f, false), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "truncate -s 100 "
	    "%s/state/state.json", f.dir), 0);
	f.from_state = true;
	ck_assert_int_eq(fwd_start(&f, 15000, "%s", ""), 0);
	log = fwd_log(&f);
	HAS(log, "damaged state passed over");
	free(log);
	ck_assert_int_gt(g1 = generation(&f), g0);
	CLI_OK(&f, &r, "add-rule", "imap", "from", "wan", "to", "self", "tcp",
	    "dport", "143", "accept");
	fwd_res_free(&r);
	ck_assert_int_gt(g2 = generation(&f), g1);
	ck_assert(tcp_ok("wan", "10.50.0.1", 143));
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(fwd_stop(&f, i == 1), 0);
		ck_assert_int_eq(fwd_start(&f, 15000, "%s", ""), 0);
		ck_assert_int_ge(g3 = generation(&f), g2);
		CLI_OK(&f, &r, "list", "rules");
		HAS(r.out, "imap");
		fwd_res_free(&r);
		ck_assert(tcp_ok("wan", "10.50.0.1", 143));
		g2 = g3;
	}
	lab_stop(lab, imap);
	fwd_cleanup(&f);
}
END_TEST

/* By hand, as another tool would: an accept for port 143 inserted where
 * rule web is, and rule web deleted. */
static void
hand_edit(void)
{
	char	*out;
	int	 st;

	out = lab_output_status(lab, &st, "router", "set -e; "
	    "nft -a list table inet fwctl | awk '/^[[:space:]]*chain /{c=$2} "
	    "/comment \"web\"/{print c, $NF; exit}' > /tmp/.web.$$; "
	    "read chain handle < /tmp/.web.$$; rm -f /tmp/.web.$$; "
	    "nft insert rule inet fwctl $chain tcp dport 143 accept; "
	    "nft delete rule inet fwctl $chain handle $handle");
	ck_assert_msg(st == 0, "hand edit failed: %s", out ? out : "");
	free(out);
}

/*
 * nft cannot change fwctld's table while it runs; what someone changes
 * while it is stopped is found at start, named in the log, status and
 * history, and repaired (the default) or kept until the next change.
 */
START_TEST(drift_found_at_start)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		*log, *out;
	json_t		*j, *d;
	pid_t		 imap, web;
	int		 st;

	start(&f, base_rules);
	ck_assert_int_gt(imap = lab_serve(lab, "router", "tcp", 143), 0);
	ck_assert_int_gt(web = lab_serve(lab, "router", "tcp", 80), 0);
	ck_assert(tcp_ok("wan", "10.50.0.1", 80));
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));
	/* owned while it runs: another writer is refused */
	out = lab_output_status(lab, &st, "router", "nft insert rule inet "
	    "fwctl input tcp dport 143 accept 2>&1");
	ck_assert_int_ne(st, 0);
	HAS(out, "Operation not permitted");
	free(out);
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));

	/* stopped: the table stays, and anyone may change it */
	ck_assert_int_eq(fwd_stop(&f, false), 0);
	hand_edit();
	ck_assert(tcp_ok("wan", "10.50.0.1", 143));
	ck_assert(tcp_refused("wan", "10.50.0.1", 80));
	f.from_state = true;
	ck_assert_int_eq(fwd_start(&f, 15000, "%s", ""), 0);
	log = fwd_log(&f);
	HAS(log, "drift: rule web");
	HAS(log, "has a rule fwctl did not make");
	HAS(log, "repaired");
	free(log);
	j = status_json(&f);
	d = json_object_get(j, "drift_at_start");
	ck_assert(json_is_object(d));
	ck_assert_str_eq(json_string_value(json_object_get(d, "policy")),
	    "repaired");
	ck_assert_uint_eq(json_array_size(json_object_get(d, "objects")), 2);
	json_decref(j);
	CLI_OK(&f, &r, "history", "-n", "3");
	HAS(r.out, "drift found, repaired");
	fwd_res_free(&r);
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));
	ck_assert(tcp_ok("wan", "10.50.0.1", 80));

	/* the other policy: kept as found, until the next change */
	ck_assert_int_eq(fwd_stop(&f, false), 0);
	hand_edit();
	ck_assert_int_eq(fwd_start(&f, 15000, "%s", "--on-drift keep"), 0);
	CLI_OK(&f, &r, "status");
	HAS(r.out, "KEPT as found");
	HAS(r.out, "rule web");
	fwd_res_free(&r);
	ck_assert(tcp_ok("wan", "10.50.0.1", 143));
	ck_assert(tcp_refused("wan", "10.50.0.1", 80));
	CLI_OK(&f, &r, "add-rule", "pop", "from", "wan", "to", "self", "tcp",
	    "dport", "110", "accept");
	fwd_res_free(&r);
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));
	ck_assert(tcp_ok("wan", "10.50.0.1", 80));
	lab_stop(lab, imap);
	lab_stop(lab, web);
	fwd_cleanup(&f);
}
END_TEST

/*
 * What fwctld opens as root cannot be turned against it: a state
 * directory others may write is refused at start, rules files of another
 * user's or writable by others are not read, and links planted in the
 * state directory are not followed.
 */
START_TEST(files_cannot_be_turned)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		 victim[] = "/tmp/fwctl-victim.XXXXXX", *log, *s;
	json_int_t	 g;
	pid_t		 fake;
	int		 fd;

	start(&f, base_rules);
	/* links in the state directory: neither created nor written */
	ck_assert_int_ne(fd = mkstemp(victim), -1);
	ck_assert_int_eq(write(fd, "keep\n", 5), 5);
	close(fd);
	ck_assert_int_eq(lab_exec(lab, "router", "rm -f %s/state/flushed && "
	    "ln -s %s.new %s/state/flushed", f.dir, victim, f.dir), 0);
	ck_assert_int_ne(fwd_curl(&f, &r, "DELETE", "/v1/ruleset", NULL,
	    NULL), 200);
	fwd_res_free(&r);
	ck_assert_int_eq(lab_exec(lab, "router", "test ! -e %s.new", victim),
	    0);
	ck_assert_int_eq(fwd_stop(&f, false), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "rm -f %s/state/flushed "
	    "%s/state/journal && ln -s %s %s/state/journal", f.dir, f.dir,
	    victim, f.dir), 0);
	f.from_state = true;
	ck_assert_int_eq(fwd_start(&f, 15000, "%s", ""), 0);
	fwd_cli(&f, &r, "add-rule", "x", "from", "wan", "to", "self", "tcp",
	    "dport", "9", "accept", (char *)NULL);
	fwd_res_free(&r);
	s = lab_output(lab, "router", "cat %s", victim);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "keep\n");
	free(s);
	ck_assert_int_eq(fwd_stop(&f, false), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "rm -f %s/state/journal %s",
	    f.dir, victim), 0);

	/* a state directory others may write: fwctld does not start */
	ck_assert_int_eq(lab_exec(lab, "router", "chmod 0777 %s/state",
	    f.dir), 0);
	ck_assert_int_eq(fwd_start(&f, 3000, "%s", ""), -1);
	ck_assert_int_eq(fwd_stop(&f, false), 0);
	log = fwd_log(&f);
	HAS(log, "is writable by others");
	HAS(log, "not starting");
	free(log);
	ck_assert_int_eq(lab_exec(lab, "router", "chmod 0700 %s/state",
	    f.dir), 0);
	f.from_state = false;
	ck_assert_int_eq(fwd_start(&f, 15000, "%s", ""), 0);

	/* rules files of another user's, or that others may write */
	g = generation(&f);
	ck_assert_int_eq(fwd_write(&f, "rules/50-evil.rules",
	    "rule evil from wan to self accept\n"), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "chown 65534 "
	    "%s/rules/50-evil.rules", f.dir), 0);
	ck_assert_int_eq(fwd_cli(&f, &r, "reload", (char *)NULL), 1);
	HAS(r.err, "50-evil.rules: not read: owned by uid 65534");
	fwd_res_free(&r);
	ck_assert_int_eq(lab_exec(lab, "router", "chown 0 "
	    "%s/rules/50-evil.rules && chmod 0666 %s/rules/50-evil.rules",
	    f.dir, f.dir), 0);
	ck_assert_int_eq(fwd_cli(&f, &r, "reload", (char *)NULL), 1);
	HAS(r.err, "writable by others");
	fwd_res_free(&r);
	ck_assert_int_eq(generation(&f), g);
	CLI_OK(&f, &r, "list", "rules");
	HASNT(r.out, "evil");
	fwd_res_free(&r);
	/* a rules directory others may write: nothing in it is read */
	ck_assert_int_eq(lab_exec(lab, "router", "rm %s/rules/50-evil.rules "
	    "&& chmod 0777 %s/rules", f.dir, f.dir), 0);
	ck_assert_int_eq(fwd_cli(&f, &r, "reload", (char *)NULL), 1);
	HAS(r.err, "rules directory");
	HAS(r.err, "writable by others");
	fwd_res_free(&r);
	ck_assert_int_eq(lab_exec(lab, "router", "chmod 0755 %s/rules",
	    f.dir), 0);

	/* a socket of another user's in fwctld's place: the CLI sends it
	 * nothing and says who answered */
	ck_assert_int_eq(lab_exec(lab, "router", "mkdir -m 1777 %s/pub",
	    f.dir), 0);
	fake = lab_spawn(lab, "router", "exec su -s /bin/sh nobody -c 'exec "
	    "timeout 60 socat -u UNIX-LISTEN:%s/pub/fake,fork "
	    "OPEN:%s/pub/got,creat,append'", f.dir, f.dir);
	ck_assert_int_gt(fake, 0);
	ck_assert_int_ne(asprintf(&s, "%s/pub/fake", f.dir), -1);
	ck_assert_int_eq(lab_wait_socket(s, 10000), 0);
	snprintf(f.sock, sizeof(f.sock), "%s", s);
	free(s);
	ck_assert_int_eq(fwd_cli(&f, &r, "add-rule", "x", "from", "wan", "to",
	    "self", "tcp", "dport", "9", "accept", (char *)NULL), 4);
	HAS(r.err, "answered by uid 65534");
	fwd_res_free(&r);
	s = lab_output(lab, "router", "cat %s/pub/got 2>/dev/null", f.dir);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	free(s);
	lab_stop(lab, fake);
	fwd_cleanup(&f);
}
END_TEST

/*
 * A full disk at start, with a journal to fold: fwctld starts and serves
 * reads, says why changes fail, refuses them without touching the kernel
 * for good, and takes them again once there is room. The state directory
 * is a small tmpfs in a mount namespace of fwctld's own, which goes with
 * it whatever happens to the test.
 */
START_TEST(full_disk_at_start)
{
	struct fwd	 f;
	struct fwd_res	 r;
	json_t		*j;
	pid_t		 imap;

	start(&f, base_rules);
	ck_assert_int_gt(imap = lab_serve(lab, "router", "tcp", 143), 0);
	CLI_OK(&f, &r, "add-rule", "pop", "from", "wan", "to", "self", "tcp",
	    "dport", "110", "accept");
	fwd_res_free(&r);
	ck_assert_int_eq(fwd_stop(&f, false), 0);
	f.pid = lab_spawn(lab, "router", "cd %s && cp -a state state.bak && "
	    "exec unshare -m --propagation private sh -c 'mount -t tmpfs -o "
	    "size=256k,mode=0700 tmpfs state && cp -a state.bak/. state/ && "
	    "{ dd if=/dev/zero of=state/fill bs=4k 2>/dev/null; true; } && "
	    "exec %s --foreground --socket %s --state-dir %s/state "
	    ">>fwctld.log 2>&1'", f.dir, f.fwctld, f.sock, f.dir);
	ck_assert_int_gt(f.pid, 0);
	ck_assert_int_eq(fwd_wait(&f, 15000), 0);
	/* it serves, filtering as before, and says why changes fail */
	j = status_json(&f);
	ck_assert(json_is_string(json_object_get(j, "state_error")));
	json_decref(j);
	CLI_OK(&f, &r, "status");
	HAS(r.out, "READ-ONLY");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "list", "rules");
	HAS(r.out, "pop");
	fwd_res_free(&r);
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));
	ck_assert_int_eq(fwd_cli(&f, &r, "add-rule", "imap", "from", "wan",
	    "to", "self", "tcp", "dport", "143", "accept", (char *)NULL), 1);
	HAS(r.err, "cannot be written");
	fwd_res_free(&r);
	ck_assert(tcp_refused("wan", "10.50.0.1", 143));
	/* room again: the change is taken, and kept */
	ck_assert_int_eq(lab_exec(lab, "router", "nsenter -m -t %d rm -f "
	    "%s/state/fill", (int)f.pid, f.dir), 0);
	CLI_OK(&f, &r, "add-rule", "imap", "from", "wan", "to", "self", "tcp",
	    "dport", "143", "accept");
	fwd_res_free(&r);
	ck_assert(tcp_ok("wan", "10.50.0.1", 143));
	j = status_json(&f);
	ck_assert(json_is_null(json_object_get(j, "state_error")));
	json_decref(j);
	lab_stop(lab, imap);
	fwd_cleanup(&f);
}
END_TEST

static Suite *
truth_suite(void)
{
	Suite	*s = suite_create("truth");
	TCase	*tc = tcase_create("truth");

	tcase_add_unchecked_fixture(tc, truth_setup, truth_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fresh_install_never_locks_out);
	tcase_add_test(tc, reload_and_save);
	tcase_add_test(tc, block_blocks);
	tcase_add_test(tc, elements_are_data);
	tcase_add_test(tc, history_and_revert);
	tcase_add_test(tc, damaged_state_loses_nothing_after);
	tcase_add_test(tc, drift_found_at_start);
	tcase_add_test(tc, files_cannot_be_turned);
	tcase_add_test(tc, full_disk_at_start);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(truth_suite());
	int	 nfailed;

	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
