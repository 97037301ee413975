/*
 * fwctld in three processes, and what the crowd at its doors cannot do: the
 * parent holds CAP_NET_ADMIN alone, the HTTP front no privilege at all
 * (its own uid, no capability, seccomp, an empty root); a front killed
 * comes back with nothing lost and traffic untouched; slow clients
 * without a token, token holders trickling bodies and group members
 * filling the socket do not keep root waiting; a request whose head
 * never ends is cut; memory goes back after very large bodies.
 *
 * Each test starts its own fwctld in the router namespace of a lab it
 * shares with the others (an unchecked fixture makes and removes it).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/fwd.h"
#include "lib/lab.h"

#define TOKEN		"crowd-token-0123456789abcdef"
#define TLS_ADDR	"10.50.1.1"
#define TLS_PORT	8443

static struct lab *lab;

static const char base_rules[] =
    "zone wan { interface wan0; external }\n"
    "zone lan { interface lan0; network 10.50.1.0/24 }\n"
    "set blocklist ipv4 { }\n"
    "rule drop-blocked from wan to all src @blocklist drop\n"
    "rule ssh from any to self tcp dport 22 accept\n"
    "rule api from lan to self tcp dport 8443 accept\n";

#define HAS(s, sub) ck_assert_msg(strstr((s), (sub)) != NULL,		\
	"missing '%s' in:\n%.2000s", (sub), (s))

#define CLI_OK(f, r, ...) do {						\
	int st_ = fwd_cli((f), (r), __VA_ARGS__, (char *)NULL);		\
	ck_assert_msg(st_ == 0, "fwctl exit %d\nstdout: %s\nstderr: %s",\
	    st_, (r)->out, (r)->err);					\
} while (0)

static void
privsep_setup(void)
{
	if ((lab = lab_up()) == NULL) {
		fprintf(stderr, "lab_privsep: lab_up failed\n");
		exit(1);
	}
}

static void
privsep_teardown(void)
{
	lab_down(lab);
	lab = NULL;
}

static void
start(struct fwd *f, const char *flags)
{
	ck_assert_int_eq(fwd_init_fresh(f, lab, "router"), 0);
	ck_assert_int_eq(fwd_write(f, "rules/10-base.rules", base_rules), 0);
	ck_assert_int_eq(fwd_start(f, 15000, "%s", flags), 0);
}

/* The value of "Key:" in /proc/PID/status (static buffer), or NULL. */
static const char *
proc_status(pid_t pid, const char *key)
{
	static char	 val[256];
	char		 path[64], line[512];
	size_t		 klen = strlen(key);
	FILE		*fp;
	const char	*v = NULL;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		snprintf(val, sizeof(val), "%s", line + klen + 1);
		val[strcspn(val, "\n")] = '\0';
		v = val + strspn(val, " \t");
		break;
	}
	fclose(fp);
	return v;
}

/* Whether pid runs `fwctld --front`. */
static bool
is_front(pid_t pid)
{
	char	 path[64], cmd[256];
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return false;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return false;
	cmd[n] = '\0';
	/* "fwctld\0--front\0" */
	return strlen(cmd) + 1 < (size_t)n &&
	    strcmp(cmd + strlen(cmd) + 1, "--front") == 0;
}

/* The children of pid (of any of its threads), into v; how many. */
static size_t
children(pid_t parent, pid_t *v, size_t max)
{
	char		 path[384], buf[4096], *p, *end;
	struct dirent	*de;
	DIR		*dir;
	FILE		*fp;
	size_t		 n, k = 0;
	long		 pid;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)parent);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children",
		    (int)parent, de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		for (p = buf; k < max; p = end) {
			pid = strtol(p, &end, 10);
			if (end == p)
				break;
			v[k++] = (pid_t)pid;
		}
	}
	closedir(dir);
	return k;
}

/* fwctld's front, or -1: the child of its starter, a child of fwctld. */
static pid_t
front_of(pid_t parent)
{
	pid_t	 c[16], g[16];
	size_t	 nc, ng, i, j;

	nc = children(parent, c, 16);
	for (i = 0; i < nc; i++) {
		if (is_front(c[i]))
			return c[i];
		ng = children(c[i], g, 16);
		for (j = 0; j < ng; j++)
			if (is_front(g[j]))
				return g[j];
	}
	return -1;
}

/* Waits for a front other than old (-1: any): its pid, or -1. */
static pid_t
wait_front(pid_t parent, pid_t old)
{
	long long	 end = lab_now() + lab_ms(10000);
	pid_t		 pid;

	while (lab_now() < end) {
		pid = front_of(parent);
		/* serving once its filter is on */
		if (pid != -1 && pid != old && proc_status(pid, "Seccomp") &&
		    strcmp(proc_status(pid, "Seccomp"), "2") == 0)
			return pid;
		usleep(20000);
	}
	return -1;
}

static void
assert_parent(pid_t pid)
{
	const char	*v;

	ck_assert_ptr_nonnull(v = proc_status(pid, "Uid"));
	ck_assert_str_eq(v, "0\t0\t0\t0");
	/* CAP_NET_ADMIN (12) and nothing else, in effect and allowed */
	ck_assert_str_eq(proc_status(pid, "CapEff"), "0000000000001000");
	ck_assert_str_eq(proc_status(pid, "CapPrm"), "0000000000001000");
	ck_assert_str_eq(proc_status(pid, "CapAmb"), "0000000000000000");
}

static void
assert_front(pid_t pid)
{
	const char	*v;
	char		 path[64], root[256];
	ssize_t		 n;
	unsigned	 r, e, s, fs;

	ck_assert_ptr_nonnull(v = proc_status(pid, "Uid"));
	ck_assert_int_eq(sscanf(v, "%u %u %u %u", &r, &e, &s, &fs), 4);
	ck_assert_msg(r != 0 && e != 0 && s != 0 && fs != 0, "uids %s", v);
	ck_assert_ptr_nonnull(v = proc_status(pid, "Gid"));
	ck_assert_int_eq(sscanf(v, "%u %u %u %u", &r, &e, &s, &fs), 4);
	ck_assert_msg(r != 0 && e != 0 && s != 0 && fs != 0, "gids %s", v);
	ck_assert_ptr_nonnull(v = proc_status(pid, "Groups"));
	ck_assert_str_eq(v, "");
	ck_assert_str_eq(proc_status(pid, "CapEff"), "0000000000000000");
	ck_assert_str_eq(proc_status(pid, "CapPrm"), "0000000000000000");
	ck_assert_str_eq(proc_status(pid, "CapBnd"), "0000000000000000");
	ck_assert_str_eq(proc_status(pid, "NoNewPrivs"), "1");
	ck_assert_str_eq(proc_status(pid, "Seccomp"), "2");
	/* shut in a directory of its own, not the host's root */
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	n = readlink(path, root, sizeof(root) - 1);
	ck_assert_int_gt(n, 0);
	root[n] = '\0';
	ck_assert_str_ne(root, "/");
}

/* Whether link ("socket:[INODE]", an fd's) is a netlink socket of pid's
 * namespace (/proc/PID/net/netlink lists their inodes last). */
static bool
is_netlink(pid_t pid, const char *link)
{
	char		 path[64], line[256], *sp;
	unsigned long	 ino;
	FILE		*fp;
	bool		 found = false;

	if (sscanf(link, "socket:[%lu]", &ino) != 1)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/net/netlink", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		/* the last column, before the trailing blanks */
		sp = line + strlen(line);
		while (sp > line && (sp[-1] == ' ' || sp[-1] == '\n'))
			*--sp = '\0';
		if ((sp = strrchr(line, ' ')) != NULL &&
		    strtoul(sp + 1, NULL, 10) == ino)
			found = true;
	}
	fclose(fp);
	return found;
}

static bool
holds_netlink(pid_t pid)
{
	char	 path[64], link[128];
	ssize_t	 n;
	int	 fd;

	for (fd = 0; fd < 64; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (is_netlink(pid, link))
			return true;
	}
	return false;
}

/* The front's parent, the starter: uid 0 with what a front needs to shut
 * itself in (SETGID 6, SETUID 7, SETPCAP 8, SYS_CHROOT 18) and nothing
 * else: not CAP_NET_ADMIN, no netlink socket. */
static void
assert_starter(pid_t front, pid_t parent)
{
	const char	*v;
	char		 path[64], link[128];
	pid_t		 st;
	int		 fd;
	ssize_t		 n;

	ck_assert_ptr_nonnull(v = proc_status(front, "PPid"));
	st = (pid_t)atoi(v);
	ck_assert_ptr_nonnull(v = proc_status(st, "PPid"));
	ck_assert_int_eq(atoi(v), parent);
	ck_assert_str_eq(proc_status(st, "CapEff"), "00000000000401c0");
	ck_assert_str_eq(proc_status(st, "CapPrm"), "00000000000401c0");
	ck_assert_str_eq(proc_status(st, "CapBnd"), "00000000000401c0");
	for (fd = 0; fd < 64; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)st, fd);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		ck_assert_msg(!is_netlink(st, link), "the starter holds a "
		    "netlink socket: fd %d", fd);
	}
	/* and fwctld does, as the check above would see it */
	ck_assert(holds_netlink(parent));
}

static char *
nft_table(void)
{
	/* stateless: the counters move with whatever traffic the lab has;
	 * and who owns the table (its flags, the owner's name) ends with
	 * fwctld, after which nft prints base chains without their policy:
	 * the sets, chains and rules are compared */
	char	*s = lab_output(lab, "router", "nft -s list table inet fwctl "
		    "| sed -e 's/ # progname .*//' -e '/^[[:space:]]*flags/d' "
		    "-e 's/;[[:space:]]*policy.*$/;/' -e 's/[[:space:]]*$//' "
		    "-e '/^$/d'");

	ck_assert_ptr_nonnull(s);
	return s;
}

/*
 * The split, as /proc sees it; the front killed: it comes back, the table
 * is as it was, traffic too, every change acknowledged before is there
 * and the next one is acknowledged and kept.
 */
START_TEST(three_processes)
{
	struct fwd	 f;
	struct fwd_res	 r;
	pid_t		 front, again, sshd;
	char		*before, *after, bin[PATH_MAX];
	int		 i;

	/* as the unit starts it (contrib/fwctld.service): no_new_privs, and
	 * the bounding set of CapabilityBoundingSet= */
	ck_assert_int_eq(fwd_init_fresh(&f, lab, "router"), 0);
	ck_assert_int_eq(fwd_write(&f, "rules/10-base.rules", base_rules), 0);
	snprintf(bin, sizeof(bin), "%s", f.fwctld);
	ck_assert_int_lt(snprintf(f.fwctld, sizeof(f.fwctld), "setpriv "
	    "--no-new-privs --bounding-set -all,+net_admin,+chown,+setuid,"
	    "+setgid,+setpcap,+sys_chroot %s", bin), (int)sizeof(f.fwctld));
	ck_assert_int_eq(fwd_start(&f, 15000, "%s", ""), 0);
	ck_assert_str_eq(proc_status(f.pid, "NoNewPrivs"), "1");
	ck_assert_int_gt(front = wait_front(f.pid, -1), 0);
	assert_parent(f.pid);
	assert_front(front);
	assert_starter(front, f.pid);

	ck_assert_int_gt(sshd = lab_serve(lab, "router", "tcp", 22), 0);
	CLI_OK(&f, &r, "block", "10.50.0.2");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "add-rule", "web", "from", "wan", "to", "self", "tcp",
	    "dport", "80", "accept");
	fwd_res_free(&r);
	ck_assert(lab_tcp_connect(lab, "lan", "10.50.1.1", 22, lab_ms(1500),
	    NULL, 0) == 0);
	ck_assert(lab_tcp_connect(lab, "wan", "10.50.0.1", 22, 1500, NULL,
	    0) != 0);
	before = nft_table();

	/* three times over: each comes back and serves */
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(kill(front, SIGKILL), 0);
		ck_assert_int_gt(again = wait_front(f.pid, front), 0);
		ck_assert_int_ne(again, front);
		front = again;
		assert_front(front);
		assert_parent(f.pid);
		assert_starter(front, f.pid);
		ck_assert_int_eq(lab_wait_socket(f.sock, 5000), 0);
	}
	after = nft_table();
	ck_assert_msg(strcmp(before, after) == 0, "the table changed:\n%.800s"
	    "\n---\n%.800s", before, after);
	/* and it is counted where a dashboard sees it */
	ck_assert_int_eq(fwd_curl(&f, &r, "GET", "/metrics", NULL, NULL), 200);
	HAS(r.out, "\nfwctl_http_front_restarts_total 3\n");
	fwd_res_free(&r);
	free(before);
	free(after);
	ck_assert(lab_tcp_connect(lab, "lan", "10.50.1.1", 22, lab_ms(1500),
	    NULL, 0) == 0);
	ck_assert(lab_tcp_connect(lab, "wan", "10.50.0.1", 22, 1500, NULL,
	    0) != 0);
	CLI_OK(&f, &r, "export");
	HAS(r.out, "rule web from wan to self tcp dport 80 accept");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "add-rule", "mail", "from", "wan", "to", "self", "tcp",
	    "dport", "25", "accept");
	fwd_res_free(&r);

	/* and all of it survives fwctld itself going */
	ck_assert_int_eq(fwd_stop(&f, true), 0);
	snprintf(f.fwctld, sizeof(f.fwctld), "%s", bin);
	f.from_state = true;
	ck_assert_int_eq(fwd_start(&f, 15000, "%s", ""), 0);
	CLI_OK(&f, &r, "export");
	HAS(r.out, "rule web from wan to self tcp dport 80 accept");
	HAS(r.out, "rule mail from wan to self tcp dport 25 accept");
	fwd_res_free(&r);
	CLI_OK(&f, &r, "export", "--with-elements");
	HAS(r.out, "10.50.0.2");
	fwd_res_free(&r);
	ck_assert(lab_tcp_connect(lab, "wan", "10.50.0.1", 22, 1500, NULL,
	    0) != 0);
	lab_stop(lab, sshd);
	fwd_cleanup(&f);
}
END_TEST

/*
 * Without its starter fwctld could start no front again: it exits (status
 * 1, for Restart=on-failure), says why, and leaves the table in the
 * kernel; started again, it serves.
 */
START_TEST(starter_gone)
{
	struct fwd	 f;
	struct fwd_res	 r;
	const char	*v;
	pid_t		 front, starter;
	long long	 end;
	char		*before, *after, *log;
	int		 st = -1;

	start(&f, "");
	ck_assert_int_gt(front = wait_front(f.pid, -1), 0);
	ck_assert_ptr_nonnull(v = proc_status(front, "PPid"));
	starter = (pid_t)atoi(v);
	ck_assert_int_ne(starter, f.pid);
	before = nft_table();
	ck_assert_int_eq(kill(starter, SIGKILL), 0);
	end = lab_now() + lab_ms(5000);
	while (lab_now() < end && waitpid(f.pid, &st, WNOHANG) == 0)
		usleep(20000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "fwctld: "
	    "status %#x", st);
	f.pid = -1;
	log = fwd_log(&f);
	HAS(log, "the starter of HTTP fronts is gone");
	free(log);
	after = nft_table();
	ck_assert_msg(strcmp(before, after) == 0, "the table changed:\n%.800s"
	    "\n---\n%.800s", before, after);
	free(before);
	free(after);
	f.from_state = true;
	ck_assert_int_eq(fwd_start(&f, 15000, "%s", ""), 0);
	ck_assert_int_eq(fwd_curl(&f, &r, "GET", "/v1/status", NULL, NULL),
	    200);
	fwd_res_free(&r);
	fwd_cleanup(&f);
}
END_TEST

/* The file at path (malloc'd; "" when missing). */
static char *
slurp(const char *path)
{
	FILE	*fp = fopen(path, "r");
	char	*buf = calloc(1, 1 << 16);
	size_t	 n;

	ck_assert_ptr_nonnull(buf);
	if (fp != NULL) {
		n = fread(buf, 1, (1 << 16) - 1, fp);
		buf[n] = '\0';
		fclose(fp);
	}
	return buf;
}

/* Waits until the file at path holds sub: true, or false after ms. */
static bool
file_has(const char *path, const char *sub, int ms)
{
	long long	 end = lab_now() + lab_ms(ms);
	char		*t;
	bool		 found;

	do {
		t = slurp(path);
		found = strstr(t, sub) != NULL;
		free(t);
		if (found)
			return true;
		usleep(20000);
	} while (lab_now() < end);
	return false;
}

/*
 * Events outlive a front: fwctld keeps them and gives the last of them to
 * the next front, so a dashboard that reconnects with Last-Event-ID after
 * a front died gets what it missed, with the same ids, no gap.
 */
START_TEST(events_across_fronts)
{
	struct fwd	 f;
	struct fwd_res	 r;
	char		 path[PATH_MAX + 8], *t, *p;
	unsigned long long id;
	pid_t		 front, ev;

	start(&f, "");
	ck_assert_int_gt(front = wait_front(f.pid, -1), 0);
	snprintf(path, sizeof(path), "%s/ev1", f.dir);
	ev = lab_spawn(lab, "router", "exec curl -sN --max-time 30 "
	    "--unix-socket %s http://x/v1/events > %s", f.sock, path);
	ck_assert_int_gt(ev, 0);
	ck_assert(file_has(path, "retry: ", 10000));
	CLI_OK(&f, &r, "add-rule", "web", "from", "wan", "to", "self", "tcp",
	    "dport", "80", "accept");
	fwd_res_free(&r);
	ck_assert(file_has(path, "+rule web", 5000));
	t = slurp(path);
	p = strstr(t, "+rule web");
	while (p > t && strncmp(p, "id: ", 4) != 0)
		p--;
	id = strtoull(p + 4, NULL, 10);
	ck_assert_uint_gt(id, 0);
	free(t);
	/* the reader goes, a change is made, then the front goes: the next
	 * front knows the change only from what fwctld kept */
	lab_stop(lab, ev);
	CLI_OK(&f, &r, "add-rule", "mail", "from", "wan", "to", "self", "tcp",
	    "dport", "25", "accept");
	fwd_res_free(&r);
	ck_assert_int_eq(kill(front, SIGKILL), 0);
	ck_assert_int_gt(wait_front(f.pid, front), 0);
	snprintf(path, sizeof(path), "%s/ev2", f.dir);
	ev = lab_spawn(lab, "router", "exec curl -sN --max-time 30 -H "
	    "'Last-Event-ID: %llu' --unix-socket %s http://x/v1/events > %s",
	    id, f.sock, path);
	ck_assert_int_gt(ev, 0);
	ck_assert(file_has(path, "+rule mail", 5000));
	t = slurp(path);
	ck_assert_msg(strstr(t, "event: gap") == NULL, "%s", t);
	ck_assert_msg(strstr(t, "+rule web") == NULL, "%s", t);
	snprintf(path, sizeof(path), "id: %llu\nevent: change", id + 1);
	ck_assert_msg(strstr(t, path) != NULL, "no event %llu:\n%s", id + 1,
	    t);
	free(t);
	lab_stop(lab, ev);
	fwd_cleanup(&f);
}
END_TEST

/* ---- crowds ---- */

static int
unix_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
tcp_connect_in(const char *addr, int port)
{
	struct sockaddr_in	 sin;
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A crowd in a child process, for at most secs seconds (then it goes):
 * n connections (to the socket as uid, or to TCP from the router's
 * namespace), each sending a byte of a request head every second, or,
 * with upload, a head announcing a whole ruleset and then its body a
 * byte a second.  Writes one byte to ready once every connection is made.
 */
static pid_t
crowd(struct fwd *f, bool tcp, uid_t uid, gid_t gid, int n, bool upload,
    int secs, int ready)
{
	static const char head[] = "GET /v1/status HTTP/1.1\r\nHost: x\r\n";
	char		 req[256];
	int		*fds, i, t, len;
	pid_t		 pid;

	if ((pid = fork()) != 0)
		return pid;
	alarm((unsigned)secs + 5);
	if (tcp && lab_enter(lab, "router") == -1)
		_exit(1);
	if (!tcp && uid != 0 && (setgroups(0, NULL) == -1 ||
	    setresgid(gid, gid, gid) == -1 || setresuid(uid, uid, uid) == -1))
		_exit(1);
	if ((fds = calloc((size_t)n, sizeof(int))) == NULL)
		_exit(1);
	len = snprintf(req, sizeof(req), "PUT /v1/ruleset HTTP/1.1\r\n"
	    "Host: x\r\nContent-Type: text/plain\r\nContent-Length: 67108864"
	    "\r\n\r\n");
	for (i = 0; i < n; i++) {
		fds[i] = tcp ? tcp_connect_in(TLS_ADDR, TLS_PORT) :
		    unix_connect(f->sock);
		if (fds[i] != -1 && upload)
			(void)!write(fds[i], req, (size_t)len);
	}
	(void)!write(ready, "x", 1);
	for (t = 0; t < secs; t++) {
		for (i = 0; i < n; i++)
			if (fds[i] != -1 && write(fds[i], upload ? "z" :
			    head + (t % (sizeof(head) - 1)), 1) != 1) {
				close(fds[i]);
				fds[i] = -1;
			}
		sleep(1);
	}
	_exit(0);
}

static void
crowd_wait_ready(int fd, int ncrowds)
{
	struct pollfd	 p = { fd, POLLIN, 0 };
	long long	 end = lab_now() + lab_ms(20000);
	char		 c;

	while (ncrowds > 0 && lab_now() < end) {
		if (poll(&p, 1, 200) == 1 && read(fd, &c, 1) == 1)
			ncrowds--;
	}
	ck_assert_int_eq(ncrowds, 0);
}

/* Root's request on the socket, timed: its status, and *ms. */
static int
root_request(struct fwd *f, const char *method, const char *path,
    const char *body, long long *ms)
{
	struct fwd_res	 r;
	long long	 t0 = lab_now();
	int		 st;

	st = fwd_curl(f, &r, method, path, body ? "text/plain" : NULL, body);
	*ms = lab_now() - t0;
	fwd_res_free(&r);
	return st;
}

/*
 * 100 slow clients without a token on TCP, 4 token holders trickling
 * bodies over TLS, and a member of the API group holding every ordinary
 * connection of the socket and uploads filling its share of the body
 * budget: root's requests on the socket are each answered within a
 * second, and root may still send a whole ruleset; a token holder from
 * another address is served over TLS (one address may hold a quarter of
 * the TCP connections).
 */
START_TEST(crowds_do_not_starve_root)
{
	struct fwd	 f;
	struct passwd	*nobody = getpwnam("nobody");
	struct group	*ng = getgrnam("nogroup");
	pid_t		 c[4], trick[4];
	int		 ready[2], i, st, fd, n;
	long long	 ms;
	char		 reply[512];

	ck_assert_ptr_nonnull(nobody);
	ck_assert_ptr_nonnull(ng);
	ck_assert_int_eq(fwd_init_fresh(&f, lab, "router"), 0);
	ck_assert_int_eq(fwd_write(&f, "rules/10-base.rules", base_rules), 0);
	st = lab_exec(lab, "router", "cd %s && openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem "
	    "-out cert.pem -days 1 -subj /CN=" TLS_ADDR " -addext "
	    "subjectAltName=IP:" TLS_ADDR " >/dev/null 2>&1 && chmod 600 "
	    "key.pem && printf 'admin %s\\n' > tokens && chmod 600 tokens && "
	    "head -c 3000000 /dev/zero | tr '\\0' ' ' > big.json", f.dir,
	    TOKEN);
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(fwd_start(&f, 15000, "--group nogroup --listen "
	    TLS_ADDR ":%d --tls-cert %s/cert.pem --tls-key %s/key.pem "
	    "--tokens %s/tokens", TLS_PORT, f.dir, f.dir, f.dir), 0);
	ck_assert_int_eq(lab_wait_port(lab, "router", "tcp", TLS_PORT, 10000),
	    0);

	ck_assert_int_eq(pipe(ready), 0);
	/* TCP: 100 that never finish a TLS handshake */
	c[0] = crowd(&f, true, 0, 0, 100, false, 25, ready[1]);
	/* the socket: a group member in every ordinary slot (64) and
	 * beyond */
	c[1] = crowd(&f, false, nobody->pw_uid, ng->gr_gid, 70, false, 25,
	    ready[1]);
	/* and, as that member, uploads taking all it may of the budget */
	c[2] = crowd(&f, false, nobody->pw_uid, ng->gr_gid, 3, true, 25,
	    ready[1]);
	c[3] = -1;
	/* token holders trickling bodies over TLS */
	for (i = 0; i < 4; i++) {
		trick[i] = lab_spawn(lab, "router", "exec curl -s --max-time "
		    "40 --cacert %s/cert.pem --limit-rate 1K -H "
		    "'Authorization: Bearer " TOKEN "' -H 'Content-Type: "
		    "application/json' --data-binary @%s/big.json "
		    "https://" TLS_ADDR ":%d/v1/sets/blocklist/elements "
		    ">/dev/null", f.dir, f.dir, TLS_PORT);
		ck_assert_int_gt(trick[i], 0);
	}
	crowd_wait_ready(ready[0], 3);
	/* a moment for the trickles to be under way */
	usleep(1500000);

	/* a token holder from another address still gets in over TLS */
	{
		long long	 t0 = lab_now();
		char		*out;

		out = lab_output(lab, "lan", "curl -s -o /dev/null -w "
		    "'%%{http_code}' --max-time %d --cacert %s/cert.pem -H "
		    "'Authorization: Bearer " TOKEN "' https://" TLS_ADDR
		    ":%d/v1/status", lab_ms(5000) / 1000, f.dir, TLS_PORT);
		ck_assert_ptr_nonnull(out);
		ck_assert_msg(strcmp(out, "200") == 0, "token holder: %s",
		    out);
		ck_assert_msg(lab_now() - t0 <= lab_ms(2000), "token holder "
		    "waited %lld ms", lab_now() - t0);
		free(out);
	}
	for (i = 0; i < 10; i++) {
		st = root_request(&f, "GET", "/v1/status", NULL, &ms);
		ck_assert_int_eq(st, 200);
		ck_assert_msg(ms <= lab_ms(1000), "root waited %lld ms", ms);
	}
	st = root_request(&f, "POST", "/v1/rules?dry_run=1",
	    "probe from lan to self tcp dport 8080 accept", &ms);
	ck_assert_msg(st == 200, "dry run: %d", st);
	ck_assert_msg(ms <= lab_ms(1000), "root waited %lld ms", ms);

	/* root's share of the body budget is still there */
	ck_assert_int_ge(fd = unix_connect(f.sock), 0);
	n = snprintf(reply, sizeof(reply), "PUT /v1/ruleset HTTP/1.1\r\n"
	    "Host: x\r\nContent-Type: text/plain\r\nContent-Length: "
	    "67108864\r\nExpect: 100-continue\r\n\r\n");
	ck_assert_int_eq(write(fd, reply, (size_t)n), n);
	memset(reply, 0, sizeof(reply));
	{
		struct pollfd	 p = { fd, POLLIN, 0 };

		ck_assert_int_eq(poll(&p, 1, lab_ms(2000)), 1);
		ck_assert_int_gt(read(fd, reply, sizeof(reply) - 1), 0);
	}
	ck_assert_msg(strncmp(reply, "HTTP/1.1 100", 12) == 0, "%s", reply);
	close(fd);

	for (i = 0; i < 3; i++) {
		kill(c[i], SIGKILL);
		waitpid(c[i], NULL, 0);
	}
	for (i = 0; i < 4; i++)
		lab_stop(lab, trick[i]);
	close(ready[0]);
	close(ready[1]);
	fwd_cleanup(&f);
}
END_TEST

/*
 * A head sent a byte at a time (each well within the idle timeout) is cut
 * once it has taken longer than a head may (front.h); a complete request
 * on the next connection is served.
 */
START_TEST(slow_head_is_cut)
{
	struct fwd	 f;
	static const char head[] = "GET /v1/status HTTP/1.1\r\nHost: x\r\n"
	    "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct fwd_res	 r;
	long long	 t0, end;
	size_t		 i = 0;
	int		 fd;
	bool		 cut = false;
	char		 buf[256];

	start(&f, "");
	ck_assert_int_ge(fd = unix_connect(f.sock), 0);
	t0 = lab_now();
	/* 10 s for the head (FRONT_HEADER_SECS), a little more to see it */
	end = t0 + lab_ms(16000);
	while (!cut && lab_now() < end) {
		if (i < sizeof(head) - 1 && write(fd, head + i++, 1) != 1)
			cut = true;
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 250) == 1 && read(fd, buf, sizeof(buf)) <= 0)
			cut = true;
	}
	ck_assert_msg(cut, "a head taking %lld ms was not cut",
	    lab_now() - t0);
	/* not before its time: 10 s (less a tick of the watcher) */
	ck_assert_msg(lab_now() - t0 >= 9500, "cut after %lld ms",
	    lab_now() - t0);
	close(fd);
	ck_assert_int_eq(fwd_curl(&f, &r, "GET", "/v1/status", NULL, NULL),
	    200);
	fwd_res_free(&r);
	fwd_cleanup(&f);
}
END_TEST

/* ---- memory ---- */

static long
vmrss_kb(pid_t pid)
{
	const char	*v = proc_status(pid, "VmRSS");

	return v ? strtol(v, NULL, 10) : -1;
}

/* A body of n IPv4 addresses for POST .../elements, in a file. */
static void
write_elements(const char *path, int n)
{
	FILE	*fp = fopen(path, "w");
	int	 i;

	ck_assert_ptr_nonnull(fp);
	fputs("{\"elements\":[", fp);
	for (i = 0; i < n; i++)
		fprintf(fp, "%s\"10.%d.%d.%d\"", i ? "," : "", 100 + i / 65536,
		    (i / 256) % 256, i % 256);
	fputs("]}", fp);
	ck_assert_int_eq(fclose(fp), 0);
}

/*
 * Million-element bodies, repeated: dry runs, an add, a delete, an add
 * again, a dry run over what is there.  After each, the memory of fwctld
 * goes back under a bound that grows only with the elements it holds
 * (MEM_BASE_KB plus MEM_ELEM_B a element), and the front's under
 * MEM_FRONT_KB whatever it carried.  "Goes back": within a bounded wait,
 * as the last of a request is freed after its reply is out.
 */
#define MEM_ELEMS	1000000
#define MEM_BASE_KB	(96 * 1024)
#define MEM_ELEM_B	320
#define MEM_FRONT_KB	(32 * 1024)

static void
mem_settles(struct fwd *f, const char *what, long elems)
{
	long long	 end = lab_now() + lab_ms(3000);
	long		 bound = MEM_BASE_KB + elems * MEM_ELEM_B / 1024;
	long		 rss, frss;
	pid_t		 front;

	do {
		rss = vmrss_kb(f->pid);
		front = front_of(f->pid);
		frss = front > 0 ? vmrss_kb(front) : -1;
		if (rss > 0 && rss <= bound && frss > 0 &&
		    frss <= MEM_FRONT_KB)
			break;
		usleep(50000);
	} while (lab_now() < end);
	fprintf(stderr, "memory_goes_back: after %s: fwctld %ld kB (bound "
	    "%ld), front %ld kB (bound %d)\n", what, rss, bound, frss,
	    MEM_FRONT_KB);
	ck_assert_msg(rss > 0 && rss <= bound, "fwctld at %ld kB after %s, "
	    "over %ld kB", rss, what, bound);
	ck_assert_msg(frss > 0 && frss <= MEM_FRONT_KB, "the front at %ld "
	    "kB after %s", frss, what);
}

START_TEST(memory_goes_back)
{
	static const struct {
		const char	*method;
		const char	*query;
		long		 held;		/* elements after it */
	} steps[] = {
		{ "POST", "?dry_run=1", 0 },
		{ "POST", "?dry_run=1", 0 },
		{ "POST", "?dry_run=1", 0 },
		{ "POST", "", MEM_ELEMS },
		{ "DELETE", "", 0 },
		{ "POST", "", MEM_ELEMS },
		{ "POST", "?dry_run=1", MEM_ELEMS },
	};
	struct fwd	 f;
	struct fwd_res	 r;
	char		 path[PATH_MAX], what[64], *out;
	size_t		 i;
	int		 st;

	start(&f, "");
	snprintf(path, sizeof(path), "%s/elements.json", f.dir);
	write_elements(path, MEM_ELEMS);
	mem_settles(&f, "the start", 0);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		/* curl itself: the body is 17 MB */
		out = lab_output_status(lab, &st, "router", "curl -s -o "
		    "/dev/null -w '%%{http_code}' --max-time %d -X %s "
		    "--unix-socket %s -H 'Content-Type: application/json' "
		    "--data-binary @%s "
		    "'http://localhost/v1/sets/blocklist/elements%s'",
		    lab_ms(120000) / 1000, steps[i].method, f.sock, path,
		    steps[i].query);
		ck_assert_ptr_nonnull(out);
		ck_assert_msg(strcmp(out, "200") == 0, "step %zu: %s", i, out);
		free(out);
		snprintf(what, sizeof(what), "step %zu (%s%s)", i,
		    steps[i].method, steps[i].query);
		mem_settles(&f, what, steps[i].held);
	}
	CLI_OK(&f, &r, "--json", "status");
	HAS(r.out, "\"elements\": 1000000");
	fwd_res_free(&r);
	fwd_cleanup(&f);
}
END_TEST

static Suite *
privsep_suite(void)
{
	Suite	*s = suite_create("privsep");
	TCase	*tc = tcase_create("privsep");

	tcase_add_unchecked_fixture(tc, privsep_setup, privsep_teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, three_processes);
	tcase_add_test(tc, starter_gone);
	tcase_add_test(tc, events_across_fronts);
	tcase_add_test(tc, crowds_do_not_starve_root);
	tcase_add_test(tc, slow_head_is_cut);
	tcase_add_test(tc, memory_goes_back);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(privsep_suite());
	int	 nfailed;

	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
