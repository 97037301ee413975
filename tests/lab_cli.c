/*
 * fwctl, the real binary, against the real fwctld running in the lab's
 * router namespace: every command's output, the ruleset it leaves (read
 * back through the API and with `nft -j` in the namespace), the JSON, the
 * exit statuses of the errors, and export/apply round trips.
 */
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
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/fwd.h"
#include "lib/lab.h"

#define RUN_TIMEOUT_MS	lab_ms(30000)

static struct lab *lab;
static char	 dir[64];		/* the test's temp dir */
static char	 sock[PATH_MAX];
static char	 fwctl[PATH_MAX];
static char	*fwctl_copy;		/* one that nobody may run */
static pid_t	 daemon_pid = -1;

static const char base_rules[] =
    "# the lab's base ruleset\n"
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
    "zone dmz { interface dmz0; dmz }\n"
    "\n"
    "policy lan -> wan accept\n"
    "policy lan -> dmz accept\n"
    "\n"
    "set blocklist ipv4 { timeout 1h }\n"
    "set admins ipv4 { 10.50.1.10, 10.50.1.11 }\n"
    "\n"
    "rule drop-blocked from wan to any src @blocklist drop\n"
    "rule ssh from lan to self tcp dport 22 src @admins accept\n"
    "rule web from any to self tcp dport { 80, 443 } accept\n"
    "rule dns from lan to self udp dport 53 accept\n"
    "\n"
    "nat masq masquerade from lan to wan\n"
    "nat https forward from wan tcp dport 443 to 10.50.2.10:8443\n";

struct res {
	int	 status;	/* exit status, 128+sig, or -1 */
	char	*out;
	char	*err;
};

static void
res_free(struct res *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}


static void
buf_add(char **b, size_t *len, const char *data, size_t n)
{
	char	*p = realloc(*b, *len + n + 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p + *len, data, n);
	*len += n;
	p[*len] = '\0';
	*b = p;
}

/* What run_argv gives fwctl as its standard input (NULL: /dev/null). */
static const char *stdin_file;

/* Runs fwctl with argv (NULL-terminated, without the program), as uid
 * (0 = as we are), with stdin from stdin_file or /dev/null; bounded in
 * time. */
static int
run_argv(struct res *r, uid_t uid, char *const *args)
{
	int	 po[2], pe[2], st, i, n;
	size_t	 lo = 0, le = 0;
	long long end = lab_now() + RUN_TIMEOUT_MS;
	char	*argv[64], buf[4096];
	pid_t	 pid;

	memset(r, 0, sizeof(*r));
	/* another user may not reach the checkout (under /root, 0700) */
	if (uid != 0)
		ck_assert_msg(fwctl_copy != NULL, "no copy of fwctl to run");
	argv[0] = uid != 0 ? fwctl_copy : fwctl;
	for (n = 0; args[n] != NULL && n < 62; n++)
		argv[n + 1] = args[n];
	argv[n + 1] = NULL;
	ck_assert_int_eq(pipe(po), 0);
	ck_assert_int_eq(pipe(pe), 0);
	if ((pid = fork()) == 0) {
		int	 null = open(stdin_file ? stdin_file : "/dev/null",
		    O_RDONLY);

		dup2(null, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		if (uid != 0 && (setgroups(0, NULL) == -1 ||
		    setgid(65534) == -1 || setuid(uid) == -1))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	ck_assert_int_ne(pid, -1);
	close(po[1]);
	close(pe[1]);
	buf_add(&r->out, &lo, "", 0);
	buf_add(&r->err, &le, "", 0);
	for (i = 0; i < 2;) {
		struct pollfd pfd[2] = { { po[0], POLLIN, 0 },
		    { pe[0], POLLIN, 0 } };
		long long left = end - lab_now();
		ssize_t	 k;
		int	 j;

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, 2, (int)left) <= 0)
			continue;
		for (j = 0; j < 2; j++) {
			if (pfd[j].fd < 0 || !(pfd[j].revents &
			    (POLLIN | POLLHUP | POLLERR)))
				continue;
			k = read(pfd[j].fd, buf, sizeof(buf));
			if (k <= 0) {
				close(j ? pe[0] : po[0]);
				if (j)
					pe[0] = -1;
				else
					po[0] = -1;
				i++;
				continue;
			}
			if (j)
				buf_add(&r->err, &le, buf, (size_t)k);
			else
				buf_add(&r->out, &lo, buf, (size_t)k);
		}
		if (po[0] < 0 && pe[0] < 0)
			break;
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) :
	    WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
	return r->status;
}

/* fwctl --socket SOCK --no-color ARGS...; NULL ends the list. */
static int __attribute__((sentinel))
fw(struct res *r, ...)
{
	char	*args[64];
	va_list	 ap;
	int	 n = 0;

	args[n++] = "--socket";
	args[n++] = sock;
	args[n++] = "--no-color";
	va_start(ap, r);
	while (n < 63 && (args[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	return run_argv(r, 0, args);
}

/* Asserts success, showing what fwctl said otherwise. */
#define FW_OK(r, ...) do {						\
	int st_ = fw(r, __VA_ARGS__, (char *)NULL);			\
	ck_assert_msg(st_ == 0, "fwctl exit %d\nstdout: %s\nstderr: %s",\
	    st_, (r)->out, (r)->err);					\
} while (0)

#define FW_FAILS(r, want, ...) do {					\
	int st_ = fw(r, __VA_ARGS__, (char *)NULL);			\
	ck_assert_msg(st_ == (want), "fwctl exit %d, want %d\n"		\
	    "stdout: %s\nstderr: %s", st_, want, (r)->out, (r)->err);	\
} while (0)

/* Check's messages are bounded: show the start of a long haystack. */
#define HAS(s, sub) ck_assert_msg(strstr((s), (sub)) != NULL,		\
	"missing '%s' in:\n%.1500s", (sub), (s))
#define HASNT(s, sub) ck_assert_msg(strstr((s), (sub)) == NULL,	\
	"unexpected '%s' in:\n%.1500s", (sub), (s))

/* s with runs of blanks made one: table rows without their padding. */
static char *
squeeze(const char *s)
{
	char	*d = strdup(s), *p = d;

	ck_assert_ptr_nonnull(d);
	for (; *s; s++)
		if (*s != ' ' || p == d || p[-1] != ' ')
			*p++ = *s;
	*p = '\0';
	return d;
}

#define HAS_SQ(s, sub) do {						\
	char *sq_ = squeeze(s);						\
	HAS(sq_, sub);							\
	free(sq_);							\
} while (0)

static json_t *
parse_json(const char *s)
{
	json_error_t	 e;
	json_t		*j = json_loads(s, 0, &e);

	ck_assert_msg(j != NULL, "not JSON (%s at %d:%d):\n%s", e.text,
	    e.line, e.column, s);
	return j;
}

/* `fwctl --json ARGS` parsed. */
static json_t * __attribute__((sentinel))
fw_json(const char *a, ...)
{
	char	*args[16];
	struct res r;
	va_list	 ap;
	json_t	*j;
	int	 n = 0;

	args[n++] = "--socket";
	args[n++] = sock;
	args[n++] = "--json";
	args[n++] = (char *)(uintptr_t)a;
	va_start(ap, a);
	while (n < 15 && (args[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	run_argv(&r, 0, args);
	ck_assert_msg(r.status == 0, "fwctl --json %s: exit %d: %s", a,
	    r.status, r.err);
	j = parse_json(r.out);
	res_free(&r);
	return j;
}

static json_int_t
generation(void)
{
	json_t		*j = fw_json("status", (char *)NULL);
	json_int_t	 g;

	ck_assert(json_is_integer(json_object_get(j, "generation")));
	g = json_integer_value(json_object_get(j, "generation"));
	json_decref(j);
	return g;
}

/* The named object of a `fwctl --json list KIND` array, or NULL. */
static json_t *
find_named(json_t *list, const char *key, const char *name)
{
	json_t	*a = json_object_get(list, key), *o;
	size_t	 i;

	ck_assert_msg(json_is_array(a), "no array '%s'", key);
	json_array_foreach(a, i, o)
		if (json_is_string(json_object_get(o, "name")) &&
		    strcmp(json_string_value(json_object_get(o, "name")),
		    name) == 0)
			return o;
	return NULL;
}

static char *
nft_table(void)
{
	int	 st;
	char	*s = lab_output_status(lab, &st, "router",
	    "nft -j list table inet fwctl 2>/dev/null");

	ck_assert_ptr_nonnull(s);
	if (st != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static void
write_file(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static int
count_lines(const char *s)
{
	int	 n = 0;

	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* Every test starts from the base ruleset. */
static void
reset(void)
{
	char		 path[PATH_MAX];
	struct res	 r;

	snprintf(path, sizeof(path), "%s/base.rules", dir);
	write_file(path, base_rules);
	/* a replace keeps the elements of dynamic sets: start from none */
	FW_OK(&r, "flush", "--yes");
	res_free(&r);
	FW_OK(&r, "apply", path);
	res_free(&r);
}

/* The daemon under test, started and stopped by tests/lib/fwd. */
static struct fwd daemon_fw;

static void
lab_cli_setup(void)
{
	char	 path[PATH_MAX];

	if ((lab = lab_up()) == NULL) {
		fprintf(stderr, "lab_cli: lab_up failed\n");
		exit(1);
	}
	if (fwd_init(&daemon_fw, lab, "router") == -1) {
		fprintf(stderr, "lab_cli: no fwctld or fwctl binary (FWCTLD, "
		    "FWCTL), or no directory for them\n");
		exit(1);
	}
	snprintf(dir, sizeof(dir), "%s", daemon_fw.dir);
	snprintf(sock, sizeof(sock), "%s", daemon_fw.sock);
	snprintf(fwctl, sizeof(fwctl), "%s", daemon_fw.fwctl);
	snprintf(path, sizeof(path), "%s/rules/10-base.rules", dir);
	write_file(path, base_rules);
	fwctl_copy = lab_copy_program(fwctl);
	if (fwd_start(&daemon_fw, 10000, "%s", "") == -1) {
		fprintf(stderr, "lab_cli: cannot start fwctld\n");
		exit(1);
	}
	daemon_pid = daemon_fw.pid;
}

static void
lab_cli_teardown(void)
{
	lab_copy_remove(fwctl_copy);
	fwctl_copy = NULL;
	fwd_cleanup(&daemon_fw);
	lab_down(lab);
	lab = NULL;
}

START_TEST(help_and_usage)
{
	struct res	 r;
	char		*args[4] = { NULL };

	args[0] = "--help";
	ck_assert_int_eq(run_argv(&r, 0, args), 0);
	HAS(r.out, "add-rule");
	HAS(r.out, "delete-policy");
	HAS(r.out, "apply");
	HAS(r.out, "exit status");
	HAS(r.out, "6  not found");
	res_free(&r);
	args[0] = "--version";
	ck_assert_int_eq(run_argv(&r, 0, args), 0);
	HAS(r.out, "fwctl ");
	res_free(&r);
	FW_OK(&r, "add-rule", "--help");
	HAS(r.out, "usage: fwctl add-rule NAME");
	HAS(r.out, "--before");
	res_free(&r);
	/* usage errors: 2, one line naming the problem */
	FW_FAILS(&r, 2, "frobnicate");
	HAS(r.err, "unknown command 'frobnicate'");
	res_free(&r);
	args[0] = "--frob";
	args[1] = "status";
	ck_assert_int_eq(run_argv(&r, 0, args), 2);
	HAS(r.err, "unknown option --frob");
	res_free(&r);
	FW_FAILS(&r, 2, "list", "--frob");
	HAS(r.err, "unknown option --frob");
	res_free(&r);
	FW_FAILS(&r, 2, "add-rule");
	HAS(r.err, "missing name");
	res_free(&r);
	FW_FAILS(&r, 2, "add-rule", "x");
	res_free(&r);
	FW_FAILS(&r, 2, "add-rule", "x", "from", "lan", "--position");
	HAS(r.err, "needs a value");
	res_free(&r);
	FW_FAILS(&r, 2, "list", "bogus");
	res_free(&r);
	FW_FAILS(&r, 2, "flush");
	HAS(r.err, "--yes");
	res_free(&r);
	FW_FAILS(&r, 2, "apply");
	res_free(&r);
	FW_FAILS(&r, 2, "apply", "/nonexistent/x.rules");
	HAS(r.err, "/nonexistent/x.rules");
	res_free(&r);
	/* an empty file would open the firewall: refused */
	FW_FAILS(&r, 2, "apply", "/dev/null");
	HAS(r.err, "no statements");
	res_free(&r);
	FW_FAILS(&r, 2, "apply", "-");
	res_free(&r);
	args[0] = NULL;
	ck_assert_int_eq(run_argv(&r, 0, args), 2);
	res_free(&r);
}
END_TEST

START_TEST(status_text_and_json)
{
	struct res	 r;
	json_t		*j, *c;

	reset();
	FW_OK(&r, "status");
	HAS(r.out, "fwctld ");
	HAS(r.out, "generation");
	HAS(r.out, "present in the kernel");
	HAS(r.out, "3 zones, 2 policies, 4 rules, 2 nat entries, 2 sets "
	    "(2 elements)");
	HASNT(r.out, "\033[");
	res_free(&r);
	j = fw_json("status", (char *)NULL);
	ck_assert(json_is_string(json_object_get(j, "version")));
	ck_assert(json_is_integer(json_object_get(j, "generation")));
	ck_assert(json_is_true(json_object_get(j, "table_present")));
	c = json_object_get(j, "counts");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "zones")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(c, "rules")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(c, "nat")), 2);
	json_decref(j);
	/* the socket from the environment */
	{
		char	*args[] = { "status", NULL };

		setenv("FWCTL_SOCKET", sock, 1);
		ck_assert_int_eq(run_argv(&r, 0, args), 0);
		HAS(r.out, "generation");
		res_free(&r);
		unsetenv("FWCTL_SOCKET");
	}
}
END_TEST

START_TEST(list_tables)
{
	struct res	 r;
	json_t		*j, *o;
	const char	*keys[] = { "zones", "policies", "rules", "nat",
	    "sets" };
	size_t		 i;
	char		*l;

	reset();
	FW_OK(&r, "list", "rules");
	/* header, then numbered rows in order, with counters */
	HAS(r.out, "NAME");
	HAS(r.out, "PACKETS");
	HAS(r.out, "BYTES");
	l = strstr(r.out, "\n1  drop-blocked");
	ck_assert_msg(l != NULL, "%s", r.out);
	HAS(r.out, "\n2  ssh ");
	HAS(r.out, "\n3  web ");
	HAS(r.out, "\n4  dns ");
	HAS(r.out, "tcp dport { 80, 443 }");
	HAS(r.out, "src @admins");
	HAS(r.out, "0 B");
	/* aligned: every row has the NAME column where the header has it */
	{
		const char *h = strstr(r.out, "NAME") - 0;
		size_t	 col = (size_t)(h - r.out);
		char	*line = r.out;

		while ((line = strchr(line, '\n')) != NULL && line[1]) {
			line++;
			ck_assert_msg(line[col - 1] == ' ' && line[col] != ' ',
			    "misaligned: %s", r.out);
		}
	}
	res_free(&r);
	FW_OK(&r, "list");
	HAS(r.out, "Zones\n");
	HAS(r.out, "Policies\n");
	HAS(r.out, "Rules\n");
	HAS(r.out, "NAT\n");
	HAS(r.out, "Sets\n");
	HAS(r.out, "lan0");
	HAS(r.out, "10.50.1.0/24");
	HAS(r.out, "external");
	HAS_SQ(r.out, "lan -> wan accept");
	HAS(r.out, "to 10.50.2.10:8443");
	HAS(r.out, "{ 10.50.1.10, 10.50.1.11 }");
	res_free(&r);
	FW_OK(&r, "list", "zones");
	HASNT(r.out, "Rules");
	res_free(&r);
	/* --json: everything, valid and complete */
	j = fw_json("list", (char *)NULL);
	for (i = 0; i < 5; i++)
		ck_assert_msg(json_is_array(json_object_get(j, keys[i])),
		    "no %s", keys[i]);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "rules")), 4);
	o = find_named(j, "rules", "ssh");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(json_object_get(o, "src")),
	    "@admins");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "position")),
	    2);
	ck_assert(json_is_object(json_object_get(o, "counters")));
	o = find_named(j, "nat", "https");
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "target_port")),
	    8443);
	json_decref(j);
	j = fw_json("list", "sets", (char *)NULL);
	o = find_named(j, "sets", "admins");
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(json_array_size(json_object_get(o, "elements")), 2);
	json_decref(j);
	j = fw_json("counters", (char *)NULL);
	ck_assert(json_is_array(json_object_get(j, "counters")));
	json_decref(j);
	FW_OK(&r, "counters");
	HAS(r.out, "KIND");
	HAS(r.out, "ssh");
	res_free(&r);
}
END_TEST

START_TEST(rules_add_place_replace_delete)
{
	struct res	 r;
	json_t		*j, *o;
	json_int_t	 g;
	char		*nft;

	reset();
	g = generation();
	FW_OK(&r, "add-rule", "imap", "from", "lan", "to", "self", "tcp",
	    "dport", "993", "accept");
	HAS(r.out, "rule imap added");
	res_free(&r);
	ck_assert_int_eq(generation(), g + 1);
	j = fw_json("list", "rules", (char *)NULL);
	o = find_named(j, "rules", "imap");
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "position")),
	    5);
	ck_assert_int_eq(json_integer_value(json_array_get(
	    json_object_get(o, "dport"), 0)), 993);
	json_decref(j);
	nft = nft_table();
	ck_assert_ptr_nonnull(nft);
	HAS(nft, "993");
	free(nft);

	/* placement; quoted strings and lists survive the shell */
	FW_OK(&r, "add-rule", "first", "from", "wan", "to", "self", "log",
	    "prefix", "in: \"x\" ", "drop", "--position", "1");
	res_free(&r);
	FW_OK(&r, "add-rule", "--before", "web", "pre-web", "from", "any",
	    "to", "self", "tcp", "dport", "{ 8080, 8443 }", "accept");
	res_free(&r);
	FW_OK(&r, "add-rule", "post-ssh", "from", "lan", "to", "self", "udp",
	    "dport", "123", "accept", "--after=ssh");
	res_free(&r);
	j = fw_json("list", "rules", (char *)NULL);
	o = find_named(j, "rules", "first");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "position")),
	    1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "log_prefix")),
	    "in: \"x\" ");
	o = find_named(j, "rules", "ssh");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "position")),
	    3);
	o = find_named(j, "rules", "post-ssh");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "position")),
	    4);
	o = find_named(j, "rules", "pre-web");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "position")),
	    5);
	ck_assert_uint_eq(json_array_size(json_object_get(o, "dport")), 2);
	json_decref(j);

	/* replace in place: the position stays */
	FW_OK(&r, "replace-rule", "ssh", "from", "lan", "to", "self", "tcp",
	    "dport", "2222", "accept");
	HAS(r.out, "rule ssh replaced");
	res_free(&r);
	j = fw_json("list", "rules", (char *)NULL);
	o = find_named(j, "rules", "ssh");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "position")),
	    3);
	ck_assert_int_eq(json_integer_value(json_array_get(
	    json_object_get(o, "dport"), 0)), 2222);
	ck_assert_ptr_null(json_object_get(o, "src"));
	json_decref(j);

	/* --json of a change: the API's reply, valid */
	j = fw_json("add-rule", "smtp", "from", "lan", "to", "self", "tcp",
	    "dport", "25", "drop", (char *)NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")),
	    "smtp");
	ck_assert_str_eq(json_string_value(json_object_get(j, "verdict")),
	    "drop");
	json_decref(j);
	j = fw_json("delete-rule", "smtp", (char *)NULL);
	ck_assert(json_is_integer(json_object_get(j, "generation")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")),
	    "smtp");
	ck_assert(json_is_integer(json_object_get(j, "position")));
	json_decref(j);
	j = fw_json("export", (char *)NULL);
	ck_assert(json_is_array(json_object_get(j, "zones")));
	ck_assert_ptr_nonnull(find_named(j, "rules", "ssh"));
	ck_assert_ptr_null(find_named(j, "rules", "smtp"));
	json_decref(j);

	/* delete by name and by number */
	FW_OK(&r, "delete-rule", "imap");
	HAS(r.out, "rule imap (position ");
	HAS(r.out, ") deleted");
	res_free(&r);
	/* by number: the daemon says which rule went */
	FW_OK(&r, "delete-rule", "1");
	HAS(r.out, "rule first (position 1) deleted");
	res_free(&r);
	j = fw_json("list", "rules", (char *)NULL);
	ck_assert_ptr_null(find_named(j, "rules", "imap"));
	ck_assert_ptr_null(find_named(j, "rules", "first"));
	o = find_named(j, "rules", "drop-blocked");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "position")),
	    1);
	json_decref(j);
	nft = nft_table();
	ck_assert_ptr_nonnull(nft);
	HASNT(nft, "993");
	free(nft);
}
END_TEST

/*
 * --if-match: a change made against a generation that is no longer the
 * ruleset's is refused (exit 5) and changes nothing; against the current
 * one it goes through. Showing commands ignore it.
 */
START_TEST(if_match_guards_changes)
{
	struct res	 r;
	json_t		*j;
	json_int_t	 g;
	char		 cur[32], old[32];

	reset();
	g = generation();
	snprintf(cur, sizeof(cur), "%lld", (long long)g);
	snprintf(old, sizeof(old), "%lld", (long long)g - 1);

	/* someone changed the ruleset since the script read it */
	FW_FAILS(&r, 5, "--if-match", old, "add-rule", "imap", "from", "lan",
	    "to", "self", "tcp", "dport", "993", "accept");
	HAS(r.err, "generation");
	res_free(&r);
	FW_FAILS(&r, 5, "delete-rule", "web", "--if-match", old);
	res_free(&r);
	FW_FAILS(&r, 5, "--if-match", old, "add-zone", "vpn", "interface",
	    "wg0");
	res_free(&r);
	ck_assert_int_eq(generation(), g);
	j = fw_json("list", "rules", (char *)NULL);
	ck_assert_ptr_null(find_named(j, "rules", "imap"));
	ck_assert_ptr_nonnull(find_named(j, "rules", "web"));
	json_decref(j);

	/* reading is not changing: a stale generation does not matter */
	FW_OK(&r, "--if-match", old, "list", "rules");
	HAS(r.out, "web");
	res_free(&r);

	/* the current generation: the change goes through, and the next
	 * one needs the generation it printed */
	FW_OK(&r, "--if-match", cur, "add-rule", "imap", "from", "lan", "to",
	    "self", "tcp", "dport", "993", "accept");
	HAS(r.out, "rule imap added");
	res_free(&r);
	ck_assert_int_eq(generation(), g + 1);
	FW_FAILS(&r, 5, "--if-match", cur, "delete-rule", "imap");
	res_free(&r);
	snprintf(cur, sizeof(cur), "--if-match=%lld", (long long)g + 1);
	FW_OK(&r, cur, "delete-rule", "imap");
	HAS(r.out, "rule imap (position 5) deleted");
	res_free(&r);
	ck_assert_int_eq(generation(), g + 2);

	/* what is not a generation is a usage error, before any request */
	FW_FAILS(&r, 2, "--if-match=", "delete-rule", "web");
	res_free(&r);
	FW_FAILS(&r, 2, "--if-match", "12a", "delete-rule", "web");
	HAS(r.err, "--if-match takes a generation");
	res_free(&r);
	FW_FAILS(&r, 2, "delete-rule", "web", "--if-match");
	res_free(&r);
	ck_assert_int_eq(generation(), g + 2);
}
END_TEST

START_TEST(rule_errors)
{
	struct res	 r;
	json_int_t	 g;
	char		*caret, *line;

	reset();
	g = generation();
	/* bad rule text: the daemon's message, its column under our words */
	FW_FAILS(&r, 1, "add-rule", "bad", "from", "lan", "to", "self", "tcp",
	    "dprt", "22", "accept");
	HAS(r.err, "fwctl: add-rule: 1:26: ");
	HAS(r.err, "fwctl add-rule bad from lan to self tcp dprt 22 accept\n");
	/* the caret sits under "dprt" */
	line = strstr(r.err, "fwctl add-rule bad");
	caret = strchr(line, '\n') + 1;
	while (line > r.err && line[-1] != '\n')
		line--;
	ck_assert_msg(strchr(caret, '^') - caret == strstr(line, "dprt") -
	    line, "caret misplaced:\n%s", r.err);
	res_free(&r);
	/* duplicate: 5; missing: 6 */
	FW_FAILS(&r, 5, "add-rule", "ssh", "from", "lan", "to", "self", "tcp",
	    "dport", "22", "accept");
	HAS(r.err, "ssh");
	res_free(&r);
	FW_FAILS(&r, 6, "delete-rule", "no-such-rule");
	res_free(&r);
	FW_FAILS(&r, 6, "delete-rule", "99");
	res_free(&r);
	/* a reference to a missing zone is a conflict (409) */
	FW_FAILS(&r, 5, "add-rule", "x", "from", "nowhere", "to", "self",
	    "accept");
	HAS(r.err, "nowhere");
	res_free(&r);
	FW_FAILS(&r, 6, "add-rule", "x", "from", "lan", "to", "self",
	    "accept", "--before", "no-such-rule");
	res_free(&r);
	/* nothing changed */
	ck_assert_int_eq(generation(), g);
	/* --json: the problem document on stdout, valid */
	{
		json_t	*j;

		ck_assert_int_eq(fw(&r, "--json", "delete-nat", "nope",
		    (char *)NULL), 6);
		j = parse_json(r.out);
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		    "status")), 404);
		json_decref(j);
		res_free(&r);
	}
}
END_TEST

START_TEST(zones_policies_nat)
{
	struct res	 r;
	json_t		*j, *o;
	char		*nft;

	reset();
	FW_OK(&r, "add-zone", "guest", "interface", "gst0");
	HAS(r.out, "zone guest added");
	res_free(&r);
	FW_FAILS(&r, 5, "add-zone", "guest", "interface", "gst1");
	HAS(r.err, "already exists");
	res_free(&r);
	FW_OK(&r, "replace-zone", "guest", "interface", "gst1", "external");
	HAS(r.out, "zone guest replaced");
	res_free(&r);
	nft = nft_table();
	ck_assert_ptr_nonnull(nft);
	HAS(nft, "gst1");
	HASNT(nft, "gst0");
	free(nft);
	j = fw_json("list", "zones", (char *)NULL);
	o = find_named(j, "zones", "guest");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o,
	    "interfaces"), 0)), "gst1");
	ck_assert(json_is_true(json_object_get(o, "external")));
	json_decref(j);

	/* three spellings of a policy */
	FW_OK(&r, "add-policy", "guest", "wan", "accept");
	HAS(r.out, "policy guest -> wan accept");
	res_free(&r);
	FW_OK(&r, "add-policy", "guest -> lan", "drop");
	res_free(&r);
	FW_OK(&r, "set-policy", "guest", "->", "dmz", "reject");
	res_free(&r);
	FW_FAILS(&r, 2, "add-policy", "guest", "wan");
	res_free(&r);
	FW_OK(&r, "list", "policies");
	HAS_SQ(r.out, "guest -> wan accept");
	HAS_SQ(r.out, "guest -> lan drop");
	HAS_SQ(r.out, "guest -> dmz reject");
	res_free(&r);
	FW_OK(&r, "delete-policy", "guest", "wan");
	res_free(&r);
	FW_OK(&r, "delete-policy", "guest->lan");
	res_free(&r);
	FW_FAILS(&r, 6, "delete-policy", "guest", "wan");
	res_free(&r);
	j = fw_json("list", "policies", (char *)NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "policies")), 3);
	json_decref(j);

	/* a zone in use cannot go; once free it can */
	FW_FAILS(&r, 5, "delete-zone", "guest");
	res_free(&r);
	FW_OK(&r, "delete-policy", "guest", "dmz");
	res_free(&r);
	FW_OK(&r, "delete-zone", "guest");
	HAS(r.out, "zone guest deleted");
	res_free(&r);
	FW_FAILS(&r, 6, "delete-zone", "guest");
	res_free(&r);

	FW_OK(&r, "add-nat", "dmzout", "snat", "from", "dmz", "to", "wan",
	    "as", "10.50.0.1");
	HAS(r.out, "nat dmzout added");
	res_free(&r);
	FW_OK(&r, "add-nat", "sshd", "forward", "from", "wan", "tcp", "dport",
	    "2222", "to", "10.50.2.10:22");
	res_free(&r);
	FW_FAILS(&r, 5, "add-nat", "sshd", "forward", "from", "wan", "tcp",
	    "dport", "2223", "to", "10.50.2.10:22");
	res_free(&r);
	nft = nft_table();
	ck_assert_ptr_nonnull(nft);
	HAS(nft, "\"dnat\"");
	HAS(nft, "2222");
	HAS(nft, "\"snat\"");
	free(nft);
	FW_OK(&r, "list", "nat");
	HAS(r.out, "as 10.50.0.1");
	HAS(r.out, "tcp dport 2222 to 10.50.2.10:22");
	res_free(&r);
	FW_OK(&r, "delete-nat", "sshd");
	res_free(&r);
	nft = nft_table();
	ck_assert_ptr_nonnull(nft);
	HASNT(nft, "2222");
	free(nft);
	j = fw_json("list", "nat", (char *)NULL);
	ck_assert_ptr_null(find_named(j, "nat", "sshd"));
	ck_assert_ptr_nonnull(find_named(j, "nat", "dmzout"));
	json_decref(j);
}
END_TEST

static size_t
set_size(const char *name)
{
	json_t	*j = fw_json("list", "sets", (char *)NULL), *o;
	size_t	 n;

	o = find_named(j, "sets", name);
	ck_assert_ptr_nonnull(o);
	n = json_array_size(json_object_get(o, "elements"));
	json_decref(j);
	return n;
}

START_TEST(sets_and_elements)
{
	struct res	 r;
	char		*nft;

	reset();
	FW_OK(&r, "add-element", "admins", "10.50.1.12");
	HAS(r.out, "admins: 1 element added");
	res_free(&r);
	ck_assert_uint_eq(set_size("admins"), 3);
	nft = lab_output(lab, "router", "nft -j list ruleset");
	ck_assert_ptr_nonnull(nft);
	HAS(nft, "10.50.1.12");
	free(nft);
	/* block/unblock on a named set */
	FW_OK(&r, "block", "10.50.1.13", "10.50.1.14", "--set", "admins");
	HAS(r.out, "admins: 2 elements added");
	res_free(&r);
	ck_assert_uint_eq(set_size("admins"), 5);
	FW_OK(&r, "unblock", "10.50.1.13", "--set", "admins");
	res_free(&r);
	ck_assert_uint_eq(set_size("admins"), 4);
	FW_FAILS(&r, 1, "block", "not-an-address", "--set", "admins");
	HAS(r.err, "not-an-address");
	res_free(&r);
	FW_FAILS(&r, 6, "block", "10.1.1.1", "--set", "no-such-set");
	res_free(&r);
	FW_FAILS(&r, 2, "block");
	res_free(&r);

	FW_OK(&r, "add-set", "ports", "port", "22", "80", "1000-2000");
	HAS(r.out, "set ports added");
	res_free(&r);
	ck_assert_uint_eq(set_size("ports"), 3);
	FW_FAILS(&r, 5, "add-set", "ports", "port");
	res_free(&r);
	FW_OK(&r, "add-element", "ports", "443");
	res_free(&r);
	ck_assert_uint_eq(set_size("ports"), 4);
	FW_OK(&r, "delete-element", "ports", "22", "80");
	HAS(r.out, "ports: 2 elements removed");
	res_free(&r);
	ck_assert_uint_eq(set_size("ports"), 2);
	FW_OK(&r, "list", "sets");
	HAS_SQ(r.out, "ports port - 2 {");
	HAS(r.out, "1000-2000");
	HAS(r.out, "443");
	HAS_SQ(r.out, "blocklist ipv4 1h 0");
	res_free(&r);
	/* a set in use cannot go */
	FW_FAILS(&r, 5, "delete-set", "admins");
	res_free(&r);
	FW_OK(&r, "delete-set", "ports");
	HAS(r.out, "set ports deleted");
	res_free(&r);
	FW_FAILS(&r, 6, "delete-set", "ports");
	res_free(&r);
}
END_TEST

/* Sets with timeouts: the blocklist and per-element lifetimes. */
START_TEST(block_with_timeouts)
{
	struct res	 r;
	char		*nft;
	json_t		*j, *o;

	reset();
	FW_OK(&r, "block", "10.50.0.2");
	HAS(r.out, "blocklist: 1 element added");
	res_free(&r);
	ck_assert_uint_eq(set_size("blocklist"), 1);
	nft = lab_output(lab, "router", "nft -j list ruleset");
	ck_assert_ptr_nonnull(nft);
	HAS(nft, "10.50.0.2");
	free(nft);
	FW_OK(&r, "block", "192.0.2.1", "192.0.2.2", "--timeout", "10m");
	HAS(r.out, "timeout 10m");
	res_free(&r);
	ck_assert_uint_eq(set_size("blocklist"), 3);
	j = fw_json("list", "sets", (char *)NULL);
	o = find_named(j, "sets", "blocklist");
	{
		char	*els = json_dumps(json_object_get(o, "elements"), 0);

		ck_assert_ptr_nonnull(els);
		HAS(els, "\"timeout\"");
		free(els);
	}
	json_decref(j);
	FW_OK(&r, "unblock", "10.50.0.2");
	res_free(&r);
	ck_assert_uint_eq(set_size("blocklist"), 2);
	FW_OK(&r, "add-set", "v6", "ipv6", "timeout", "1h");
	res_free(&r);
	FW_OK(&r, "add-element", "v6", "fd50::2", "--timeout", "5m");
	res_free(&r);
	ck_assert_uint_eq(set_size("v6"), 1);
}
END_TEST


/*
 * A replace from the files (SIGHUP, fwctl apply) keeps what was added at
 * run time to a set, with a timeout or not: elements are data, and a
 * blocked address stays blocked.
 */
START_TEST(reload_keeps_blocked)
{
	struct res	 r;
	char		 path[PATH_MAX], rdir[PATH_MAX], *nft;
	json_int_t	 g;
	long long	 end;
	pid_t		 srv;

	reset();
	/* the forward to the DMZ passes drop-blocked (wan -> dmz) */
	srv = lab_serve(lab, "dmz", "tcp", 8443);
	ck_assert_int_gt(srv, 0);
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 443, 3000,
	    NULL, 0), 0);
	FW_OK(&r, "block", "10.50.0.2", "--timeout", "1h");
	res_free(&r);
	FW_OK(&r, "add-element", "admins", "10.50.1.12");
	res_free(&r);
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 443, 1500,
	    NULL, 0), -1);

	/* SIGHUP, with one more rule so that the reload shows */
	snprintf(path, sizeof(path), "%s/rules/20-hup.rules", dir);
	write_file(path, "rule hup-marker from lan to self tcp dport 7 "
	    "accept\n");
	g = generation();
	ck_assert_int_eq(kill(daemon_pid, SIGHUP), 0);
	for (end = lab_now() + lab_ms(10000);
	    generation() == g && lab_now() < end;)
		usleep(50000);
	ck_assert_int_eq(generation(), g + 1);
	ck_assert_uint_eq(set_size("blocklist"), 1);
	nft = lab_output(lab, "router", "nft list set inet fwctl blocklist");
	ck_assert_ptr_nonnull(nft);
	HAS(nft, "10.50.0.2");
	free(nft);
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 443, 1500,
	    NULL, 0), -1);
	/* admins has no timeout: the files' two elements, and the one
	 * added at run time */
	ck_assert_uint_eq(set_size("admins"), 3);

	/* PUT /v1/ruleset from the files: the dry run plans what apply does */
	FW_OK(&r, "block", "192.0.2.77");
	res_free(&r);
	snprintf(rdir, sizeof(rdir), "%s/rules", dir);
	FW_OK(&r, "apply", rdir, "--dry-run");
	HASNT(r.out, "10.50.0.2");
	HASNT(r.out, "192.0.2.77");
	res_free(&r);
	unlink(path);
	FW_OK(&r, "apply", rdir);
	HAS(r.out, "- rule hup-marker");
	HASNT(r.out, "10.50.0.2");
	res_free(&r);
	ck_assert_uint_eq(set_size("blocklist"), 2);
	nft = lab_output(lab, "router", "nft list set inet fwctl blocklist");
	ck_assert_ptr_nonnull(nft);
	HAS(nft, "10.50.0.2");
	HAS(nft, "192.0.2.77");
	free(nft);
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 443, 1500,
	    NULL, 0), -1);

	/* the explicit way out: unblock */
	FW_OK(&r, "unblock", "10.50.0.2", "192.0.2.77");
	res_free(&r);
	ck_assert_uint_eq(set_size("blocklist"), 0);
	ck_assert_int_eq(lab_tcp_connect(lab, "wan", "10.50.0.1", 443, 3000,
	    NULL, 0), 0);
	lab_stop(lab, srv);
}
END_TEST

START_TEST(export_apply_roundtrip)
{
	struct res	 r;
	char		 path[PATH_MAX];
	char		*first;
	json_int_t	 g;

	reset();
	/* some state that a file did not write */
	FW_OK(&r, "add-rule", "ntp", "from", "lan", "to", "self", "udp",
	    "dport", "123", "accept", "limit", "10/second", "comment",
	    "time \"sync\"");
	res_free(&r);
	FW_OK(&r, "export");
	first = r.out;
	r.out = NULL;
	res_free(&r);
	HAS(first, "rule ntp from lan to self udp dport 123");
	HAS(first, "zone wan");
	HAS(first, "nat https forward from wan tcp dport 443");
	snprintf(path, sizeof(path), "%s/export.rules", dir);
	write_file(path, first);
	g = generation();
	FW_OK(&r, "apply", path);
	HAS(r.out, "No changes");
	res_free(&r);
	/* an empty plan changes nothing, not even the generation */
	ck_assert_int_le(generation(), g + 1);
	FW_OK(&r, "export");
	ck_assert_str_eq(r.out, first);
	res_free(&r);
	/* flush, then apply the export: the same ruleset again */
	FW_FAILS(&r, 2, "flush");
	res_free(&r);
	FW_OK(&r, "flush", "--yes");
	res_free(&r);
	ck_assert_ptr_null(nft_table());
	{
		json_t	*j = fw_json("status", (char *)NULL);

		ck_assert(json_is_false(json_object_get(j, "table_present")));
		json_decref(j);
	}
	FW_OK(&r, "apply", path);
	HAS(r.out, "+ rule ntp");
	HAS(r.out, "+ zone wan");
	HAS(r.out, "Applied: ");
	res_free(&r);
	FW_OK(&r, "export");
	ck_assert_str_eq(r.out, first);
	res_free(&r);
	free(first);
	first = nft_table();
	ck_assert_ptr_nonnull(first);
	free(first);
}
END_TEST

START_TEST(apply_dry_run_and_dirs)
{
	struct res	 r;
	char		 d[PATH_MAX], p[PATH_MAX + 32], *before, *s;
	json_int_t	 g;

	reset();
	snprintf(d, sizeof(d), "%s/site", dir);
	mkdir(d, 0755);
	/* the base ruleset, less rule dns, web changed, imap new; split in
	 * two files read in name order */
	snprintf(p, sizeof(p), "%s/10-zones.rules", d);
	write_file(p,
	    "zone wan { interface wan0; external }\n"
	    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
	    "zone dmz { interface dmz0; dmz }\n"
	    "policy lan -> wan accept\n"
	    "policy lan -> dmz accept\n"
	    "set blocklist ipv4 { timeout 1h }\n"
	    "set admins ipv4 { 10.50.1.10, 10.50.1.11 }\n");
	snprintf(p, sizeof(p), "%s/20-rules.rules", d);
	write_file(p,
	    "rule drop-blocked from wan to any src @blocklist drop\n"
	    "rule ssh from lan to self tcp dport 22 src @admins accept\n"
	    "rule web from any to self tcp dport { 80, 443, 8443 } accept\n"
	    "rule imap from lan to self tcp dport 993 accept\n"
	    "nat masq masquerade from lan to wan\n"
	    "nat https forward from wan tcp dport 443 to 10.50.2.10:8443\n");
	/* not read: wrong suffix */
	snprintf(p, sizeof(p), "%s/30-notes.txt", d);
	write_file(p, "this is not a rules file\n");

	g = generation();
	FW_OK(&r, "export");
	before = r.out;
	r.out = NULL;
	res_free(&r);
	FW_OK(&r, "apply", d, "--dry-run");
	/* exactly these lines, in the daemon's order */
	ck_assert_int_eq(count_lines(r.out), 5);
	HAS(r.out, "~ rule web\n");
	HAS(r.out, "+ rule imap\n");
	HAS(r.out, "- rule dns\n");
	HAS(r.out, "\n\nPlan: 1 to add, 1 to change, 1 to remove.\n");
	res_free(&r);
	ck_assert_int_eq(generation(), g);
	FW_OK(&r, "export");
	ck_assert_str_eq(r.out, before);
	res_free(&r);
	/* --json dry run: the API's plan */
	{
		json_t	*j = fw_json("apply", d, "--dry-run", (char *)NULL);

		ck_assert_uint_eq(json_array_size(json_object_get(j, "plan")),
		    3);
		ck_assert(json_is_false(json_object_get(j, "applied")));
		json_decref(j);
	}
	FW_OK(&r, "apply", d);
	HAS(r.out, "+ rule imap");
	HAS(r.out, "- rule dns");
	HAS(r.out, "~ rule web");
	HAS(r.out, "Applied: 1 added, 1 changed, 1 removed.");
	res_free(&r);
	ck_assert_int_eq(generation(), g + 1);
	FW_OK(&r, "export");
	HAS(r.out, "rule imap");
	HASNT(r.out, "rule dns");
	HAS(r.out, "8443");
	res_free(&r);

	/* an error in the second file: named by file:line:col, with the
	 * line shown, and nothing applied */
	snprintf(p, sizeof(p), "%s/20-rules.rules", d);
	write_file(p,
	    "rule drop-blocked from wan to any src @blocklist drop\n"
	    "rule ssh from lan to self tcp dport 22 src @admins acept\n");
	g = generation();
	FW_FAILS(&r, 1, "apply", d);
	s = strstr(r.err, "/site/20-rules.rules:2:52:");
	ck_assert_msg(s != NULL, "no file:line:col in:\n%s", r.err);
	HAS(r.err, "rule ssh from lan to self tcp dport 22 src @admins "
	    "acept\n");
	HAS(r.err, "^");
	res_free(&r);
	ck_assert_int_eq(generation(), g);

	/* `apply -` reads standard input; its errors are named <stdin> */
	snprintf(p, sizeof(p), "%s/stdin.rules", dir);
	write_file(p, base_rules);
	stdin_file = p;
	FW_OK(&r, "apply", "-");
	HAS(r.out, "+ rule dns");
	HAS(r.out, "- rule imap");
	res_free(&r);
	ck_assert_int_eq(generation(), g + 1);
	write_file(p, "zone lan { interface lan0 }\n"
	    "rule x from lan to self tcp dport 22 acept\n");
	FW_FAILS(&r, 1, "apply", "-");
	HAS(r.err, "<stdin>:2:");
	HAS(r.err, "rule x from lan to self tcp dport 22 acept\n");
	res_free(&r);
	stdin_file = NULL;
	ck_assert_int_eq(generation(), g + 1);
	FW_OK(&r, "export");
	ck_assert_str_eq(r.out, before);
	res_free(&r);
	free(before);
}
END_TEST

/* apply --confirm, confirm, revert: the CLI's side of the API's
 * confirmation (lab_api tests the timeout, traffic and restarts). */
START_TEST(apply_confirm)
{
	struct res	 r;
	char		 p[PATH_MAX + 32], *before;
	json_int_t	 g;

	reset();
	FW_OK(&r, "export");
	before = r.out;
	r.out = NULL;
	res_free(&r);
	snprintf(p, sizeof(p), "%s/confirm.rules", dir);
	write_file(p, "zone lan { interface lan0 }\n"
	    "rule only from lan to self tcp dport 2222 accept\n");
	g = generation();

	FW_OK(&r, "apply", p, "--confirm", "30");
	HAS(r.out, "+ rule only");
	HAS(r.out, "reverted in 30 s unless confirmed");
	res_free(&r);
	ck_assert_int_eq(generation(), g + 1);
	FW_OK(&r, "status");
	HAS(r.out, "confirm:  generation");
	res_free(&r);
	/* nothing else meanwhile */
	FW_FAILS(&r, 5, "add-rule", "x", "from", "lan", "to", "self", "tcp",
	    "dport", "1", "accept");
	HAS(r.err, "awaits confirmation");
	res_free(&r);
	FW_OK(&r, "confirm");
	HAS(r.out, "confirmed");
	res_free(&r);
	FW_FAILS(&r, 5, "confirm");
	HAS(r.err, "no change awaits confirmation");
	res_free(&r);
	FW_OK(&r, "status");
	HASNT(r.out, "confirm:");
	res_free(&r);
	ck_assert_int_eq(generation(), g + 1);

	/* reverted at once: the ruleset before it, as a new generation */
	reset();
	g = generation();
	FW_OK(&r, "apply", p, "--confirm=60");
	res_free(&r);
	FW_OK(&r, "revert");
	HAS(r.out, "reverted");
	res_free(&r);
	ck_assert_int_eq(generation(), g + 2);
	FW_OK(&r, "export");
	ck_assert_str_eq(r.out, before);
	res_free(&r);

	/* usage errors change nothing */
	FW_FAILS(&r, 2, "apply", p, "--confirm", "0");
	res_free(&r);
	FW_FAILS(&r, 2, "apply", p, "--confirm", "1h");
	res_free(&r);
	FW_FAILS(&r, 2, "apply", p, "--confirm", "5", "--dry-run");
	res_free(&r);
	FW_FAILS(&r, 2, "confirm", "now");
	res_free(&r);
	ck_assert_int_eq(generation(), g + 2);
	free(before);
}
END_TEST

/* fwctl on a pseudo-terminal (script(1)); its output, or NULL when
 * script is not there. */
static char *
run_tty(const char *env, const char *args)
{
	char	 cmd[PATH_MAX * 2 + 256], buf[4096], *out = NULL;
	size_t	 len = 0, n;
	FILE	*f;

	if (access("/usr/bin/script", X_OK) != 0)
		return NULL;
	snprintf(cmd, sizeof(cmd), "env %s timeout %d /usr/bin/script -qec "
	    "'%s --socket %s %s' /dev/null </dev/null", env,
	    lab_ms(30000) / 1000, fwctl, sock, args);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	buf_add(&out, &len, "", 0);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		buf_add(&out, &len, buf, n);
	ck_assert_int_eq(pclose(f), 0);
	return out;
}

START_TEST(colour_only_on_a_terminal)
{
	struct res	 r;
	char		*out;

	reset();
	/* a pipe: never */
	FW_OK(&r, "list");
	HASNT(r.out, "\033[");
	res_free(&r);
	{
		char	*args[] = { "--socket", sock, "list", "rules", NULL };

		unsetenv("NO_COLOR");
		ck_assert_int_eq(run_argv(&r, 0, args), 0);
		HASNT(r.out, "\033[");
		res_free(&r);
	}
	if ((out = run_tty("-u NO_COLOR", "list rules")) == NULL)
		return;		/* no script(1): nothing more to see */
	/* a terminal: bold headers, green accept, red drop */
	HAS(out, "\033[1mNAME\033[0m");
	HAS(out, "\033[32maccept\033[0m");
	HAS(out, "\033[31mdrop\033[0m");
	free(out);
	out = run_tty("NO_COLOR=1", "list rules");
	HAS(out, "drop-blocked");
	HASNT(out, "\033[");
	free(out);
	out = run_tty("-u NO_COLOR", "--no-color list rules");
	HAS(out, "drop-blocked");
	HASNT(out, "\033[");
	free(out);
}
END_TEST

/* A socket file nobody listens on: connection refused. */
static void
dead_socket(const char *path)
{
	struct sockaddr_un sun;
	int	 fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	unlink(path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
}

START_TEST(transport_errors)
{
	struct res	 r;
	char		 p[PATH_MAX + 16];
	char		*args[] = { "--socket", p, "status", NULL };
	struct passwd	*nobody = getpwnam("nobody");

	snprintf(p, sizeof(p), "%s/missing.sock", dir);
	ck_assert_int_eq(run_argv(&r, 0, args), 3);
	HAS(r.err, "not running");
	HAS(r.err, p);
	res_free(&r);
	snprintf(p, sizeof(p), "%s/dead.sock", dir);
	dead_socket(p);
	ck_assert_int_eq(run_argv(&r, 0, args), 3);
	HAS(r.err, "connection refused");
	res_free(&r);
	/* the real daemon, as nobody: permission denied */
	ck_assert_ptr_nonnull(nobody);
	args[1] = sock;
	ck_assert_int_eq(run_argv(&r, nobody->pw_uid, args), 4);
	HAS(r.err, "ermission");
	res_free(&r);
	{
		char	*a2[] = { "--socket", sock, "add-rule", "x", "from",
		    "lan", "to", "self", "accept", NULL };

		ck_assert_int_eq(run_argv(&r, nobody->pw_uid, a2), 4);
		res_free(&r);
	}
}
END_TEST

/*
 * fwctld --rules-dir DIR with a DIR that cannot be applied (the kernel or
 * validation refuses it) comes up with the last good state rather than
 * not at all: at boot, a daemon that exits leaves the host without a
 * firewall.  A second daemon with its own table, socket and state.
 */
static pid_t
fallback_daemon(const char *fwctld, const char *d, const char *log)
{
	/* timeout(1): it dies even if this test does not get to stop it */
	return lab_spawn(lab, "router", "exec timeout 60 %s --foreground "
	    "--table fbk --socket %s/s.sock --state-dir %s/state "
	    "--rules-dir %s/rules >>%s/%s 2>&1", fwctld, d, d, d, d, log);
}

/* fwctl status on the fallback daemon until it answers (its exit code),
 * the daemon exits (-1), or 10 s pass (-2). */
static int
fallback_status(pid_t pid, const char *d, struct res *r)
{
	char		 so[PATH_MAX];
	char		*args[] = { "--socket", so, "--json", "status", NULL };
	long long	 end = lab_now() + lab_ms(10000);

	snprintf(so, sizeof(so), "%s/s.sock", d);
	while (lab_now() < end) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		if (run_argv(r, 0, args) == 0)
			return 0;
		res_free(r);
		usleep(50000);
	}
	return -2;
}

START_TEST(start_falls_back_to_state)
{
	const char	*fd = getenv("FWCTLD");
	char		 fwctld[PATH_MAX], d[PATH_MAX], path[PATH_MAX + 32];
	char		*log, *t;
	struct res	 r;
	json_t		*j;
	pid_t		 pid;
	int		 rc;

	ck_assert_ptr_nonnull(realpath(fd && *fd ? fd : "daemon/fwctld",
	    fwctld));
	snprintf(d, sizeof(d), "%s/fallback", dir);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	snprintf(path, sizeof(path), "%s/rules", d);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/state", d);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/rules/a.rules", d);
	write_file(path, "zone lan { interface lan0 }\n"
	    "rule good from lan to self tcp dport 22 accept\n");

	/* a first run leaves state generation 1 */
	ck_assert_int_ne(pid = fallback_daemon(fwctld, d, "log1"), -1);
	rc = fallback_status(pid, d, &r);
	ck_assert_msg(rc == 0, "first fwctld: %d", rc);
	j = parse_json(r.out);
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "generation")), 1);
	json_decref(j);
	res_free(&r);
	ck_assert_int_eq(lab_stop(lab, pid), 0);

	/* as at boot: no table; rules the kernel cannot take (a timeout past
	 * what it can count) */
	ck_assert_int_eq(lab_exec(lab, "router", "nft delete table inet fbk"),
	    0);
	write_file(path, "zone lan { interface lan0 }\n"
	    "rule bad from lan to self tcp dport 23 accept\n"
	    "set s ipv4 { timeout 4166666666d15h }\n");
	ck_assert_int_ne(pid = fallback_daemon(fwctld, d, "log2"), -1);
	rc = fallback_status(pid, d, &r);
	snprintf(path, sizeof(path), "cat %s/log2", d);
	log = lab_output(lab, "router", "%s", path);
	ck_assert_msg(rc == 0, "fwctld did not come up (%d):\n%s", rc, log);
	j = parse_json(r.out);
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "generation")), 1);
	ck_assert(json_is_true(json_object_get(j, "table_present")));
	json_decref(j);
	res_free(&r);
	HAS(log, "last good ruleset, generation 1");
	free(log);
	/* the kernel has the good ruleset, not the refused one */
	t = lab_output(lab, "router", "nft list table inet fbk");
	ck_assert_ptr_nonnull(t);
	HAS(t, "good");
	HASNT(t, "\"bad\"");
	free(t);
	ck_assert_int_eq(lab_stop(lab, pid), 0);
	lab_exec(lab, "router", "nft delete table inet fbk");
}
END_TEST


/* A daemon of its own (table fm) in dir d; rules: also --rules-dir. */
static pid_t
flush_daemon(const char *fwctld, const char *d, bool rules, const char *log)
{
	return lab_spawn(lab, "router", "exec timeout 60 %s --foreground "
	    "--table fm --socket %s/s.sock --state-dir %s/state %s%s%s "
	    ">>%s/%s 2>&1", fwctld, d, d, rules ? "--rules-dir " : "",
	    rules ? d : "", rules ? "/rules" : "", d, log);
}

static json_t *
flush_status(pid_t pid, const char *d)
{
	struct res	 r;
	json_t		*j;
	int		 rc = fallback_status(pid, d, &r);

	ck_assert_msg(rc == 0, "fwctld (table fm) did not answer: %d", rc);
	j = parse_json(r.out);
	res_free(&r);
	return j;
}

/*
 * After fwctl flush --yes a restart does not put a drop-everything table
 * back: the flush is recorded and the table stays removed until the next
 * change.
 */
START_TEST(flush_survives_restart)
{
	const char	*fd = getenv("FWCTLD");
	char		 fwctld[PATH_MAX], d[PATH_MAX], path[PATH_MAX + 32];
	char		 so[PATH_MAX + 16], *log;
	char		*flush[] = { "--socket", so, "flush", "--yes", NULL };
	char		*zone[] = { "--socket", so, "add-zone", "lan", "interface",
	    "lan0", NULL };
	struct res	 r;
	json_t		*j;
	pid_t		 pid;

	ck_assert_ptr_nonnull(realpath(fd && *fd ? fd : "daemon/fwctld",
	    fwctld));
	snprintf(d, sizeof(d), "%s/flushrun", dir);
	snprintf(so, sizeof(so), "%s/s.sock", d);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	snprintf(path, sizeof(path), "%s/rules", d);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/state", d);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/rules/a.rules", d);
	write_file(path, "zone lan { interface lan0 }\n"
	    "rule fm-ssh from lan to self tcp dport 22 accept\n");

	ck_assert_int_ne(pid = flush_daemon(fwctld, d, true, "log1"), -1);
	j = flush_status(pid, d);
	ck_assert(json_is_true(json_object_get(j, "table_present")));
	json_decref(j);
	ck_assert_int_eq(run_argv(&r, 0, flush), 0);
	res_free(&r);
	ck_assert_int_ne(lab_exec(lab, "router", "nft list table inet fm "
	    ">/dev/null 2>&1"), 0);
	ck_assert_int_eq(lab_stop(lab, pid), 0);

	/* restart from the state: no table */
	ck_assert_int_ne(pid = flush_daemon(fwctld, d, false, "log2"), -1);
	j = flush_status(pid, d);
	ck_assert(json_is_false(json_object_get(j, "table_present")));
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "generation")), 2);
	json_decref(j);
	ck_assert_int_ne(lab_exec(lab, "router", "nft list table inet fm "
	    ">/dev/null 2>&1"), 0);
	snprintf(path, sizeof(path), "cat %s/log2", d);
	log = lab_output(lab, "router", "%s", path);
	ck_assert_ptr_nonnull(log);
	HAS(log, "stays removed until the next change");
	free(log);

	/* the next change programs the table, and a restart keeps it */
	ck_assert_int_eq(run_argv(&r, 0, zone), 0);
	res_free(&r);
	ck_assert_int_eq(lab_exec(lab, "router", "nft list table inet fm "
	    ">/dev/null 2>&1"), 0);
	ck_assert_int_eq(lab_stop(lab, pid), 0);
	ck_assert_int_eq(lab_exec(lab, "router", "nft delete table inet fm"),
	    0);
	ck_assert_int_ne(pid = flush_daemon(fwctld, d, false, "log3"), -1);
	j = flush_status(pid, d);
	ck_assert(json_is_true(json_object_get(j, "table_present")));
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "generation")), 3);
	json_decref(j);
	ck_assert_int_eq(lab_stop(lab, pid), 0);
	lab_exec(lab, "router", "nft delete table inet fm");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("lab_cli");
	TCase	*tc = tcase_create("cli");
	SRunner	*sr;
	int	 nf;

	tcase_add_unchecked_fixture(tc, lab_cli_setup, lab_cli_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, help_and_usage);
	tcase_add_test(tc, status_text_and_json);
	tcase_add_test(tc, list_tables);
	tcase_add_test(tc, rules_add_place_replace_delete);
	tcase_add_test(tc, if_match_guards_changes);
	tcase_add_test(tc, rule_errors);
	tcase_add_test(tc, zones_policies_nat);
	tcase_add_test(tc, sets_and_elements);
	tcase_add_test(tc, block_with_timeouts);
	tcase_add_test(tc, reload_keeps_blocked);
	tcase_add_test(tc, export_apply_roundtrip);
	tcase_add_test(tc, apply_dry_run_and_dirs);
	tcase_add_test(tc, apply_confirm);
	tcase_add_test(tc, transport_errors);
	tcase_add_test(tc, colour_only_on_a_terminal);
	tcase_add_test(tc, start_falls_back_to_state);
	tcase_add_test(tc, flush_survives_restart);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
