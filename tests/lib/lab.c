/*
 * The test lab: namespaces, commands inside them, and probe traffic.
 * See lab.h for the topology and the contract.
 *
 * Everything is done by running `ip` (iproute2) and the probe tool, with
 * argument vectors built before fork, and every wait has a deadline.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lab.h"

#define LAB_RUNDIR	"/run/fwctl-lab"
#define LAB_NETNSDIR	"/run/netns"
#define LAB_NROLES	4
#define LAB_MAXSPAWN	64
#define LAB_MAXARGS	32
#define LAB_PREFIXMAX	32
#define LAB_SETUP_MS	10000

static const char *const lab_roles[LAB_NROLES] = {
	"router", "wan", "lan", "dmz"
};

struct lab {
	char	 prefix[LAB_PREFIXMAX + 1];
	char	 ns[LAB_NROLES][LAB_PREFIXMAX + 16];
	char	 record[sizeof(LAB_RUNDIR) + LAB_PREFIXMAX + 1];
	int	 made[LAB_NROLES];	/* namespaces this lab created */
	pid_t	 spawned[LAB_MAXSPAWN];	/* process group leaders */
	int	 nspawned;
};

static int	 lab_seq;	/* labs made by this process, for the prefix */
static int	 lab_wait_links(struct lab *);
static int	 lab_runf(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 lab_vexec(struct lab *, const char *, char **, const char *,
		    va_list) __attribute__((format(printf, 4, 0)));
static pid_t	 lab_vspawn(struct lab *, const char *, int *, const char *,
		    va_list) __attribute__((format(printf, 4, 0)));

long long
lab_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
lab_ms(int ms)
{
	static double	 scale;
	const char	*env;
	char		*end;
	double		 v;

	if (scale == 0) {
		scale = 1;
		if ((env = getenv("FWCTL_TEST_TIMEOUT_SCALE")) != NULL &&
		    *env != '\0') {
			v = strtod(env, &end);
			if (*end == '\0' && v >= 1 && v <= 100)
				scale = v;
			else
				fprintf(stderr, "lab: FWCTL_TEST_TIMEOUT_SCALE="
				    "\"%s\": expected a number from 1 to 100; "
				    "using 1\n", env);
		}
	}
	return (int)(ms * scale);
}

static void
lab_sleep(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
}

bool
lab_socket_answers(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, rv;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >=
	    (int)sizeof(sun.sun_path))
		return false;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rv == 0;
}

int
lab_wait_socket(const char *path, int timeout_ms)
{
	long long deadline = lab_now() + lab_ms(timeout_ms);

	while (!lab_socket_answers(path)) {
		if (lab_now() >= deadline)
			return -1;
		lab_sleep(20);
	}
	return 0;
}

/* iproute2's `ip`, wherever this distribution keeps it. */
static const char *
lab_ip(void)
{
	static const char *const paths[] = {
		"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"
	};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return "ip";
}

const char *
lab_tool(const char *name)
{
	static char path[PATH_MAX];
	const char *dir, *src;

	if ((dir = getenv("FWCTL_TOOLS")) != NULL && *dir != '\0') {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		return path;
	}
	if ((src = getenv("FWCTL_SRC")) != NULL && *src != '\0') {
		snprintf(path, sizeof(path), "%s/build/obj/tools/%s", src,
		    name);
		if (access(path, X_OK) == 0)
			return path;
	}
	snprintf(path, sizeof(path), "build/obj/tools/%s", name);
	return path;
}

/*
 * Waits for pid until the deadline; its wait status, or -1 after killing
 * its group (it overran) or if it cannot be waited for.
 */
static int
lab_reap(pid_t pid, long long deadline)
{
	int status, nap = 1;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r == -1 && errno != EINTR)
			return -1;
		if (lab_now() >= deadline) {
			killpg(pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			return -1;
		}
		lab_sleep(nap);
		if (nap < 20)
			nap *= 2;
	}
}

static int
lab_status(int status)
{
	if (status == -1)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/*
 * Starts argv in its own process group, stdin from /dev/null.  With out,
 * stdout goes to a pipe whose read end is stored there; with quiet,
 * stderr goes to /dev/null.  The child's pid, or -1.
 */
static pid_t
lab_start(char *const argv[], int *out, int quiet)
{
	sigset_t all, old;
	int p[2] = { -1, -1 }, null, sig;
	pid_t pid;

	if (out != NULL && pipe2(p, O_CLOEXEC) == -1) {
		fprintf(stderr, "lab: pipe: %s\n", strerror(errno));
		return -1;
	}
	/*
	 * Until exec the child runs the caller's signal handlers, and
	 * Check's SIGTERM handler kills the whole test's process group:
	 * block signals across fork and reset them in the child first.
	 */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		fprintf(stderr, "lab: fork: %s\n", strerror(errno));
		if (out != NULL) {
			close(p[0]);
			close(p[1]);
		}
		return -1;
	}
	if (pid == 0) {
		for (sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		setpgid(0, 0);
		if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
			dup2(null, STDIN_FILENO);
			if (quiet)
				dup2(null, STDERR_FILENO);
		}
		if (out != NULL)
			dup2(p[1], STDOUT_FILENO);
		execv(argv[0], argv);
		execvp(argv[0], argv);
		_exit(127);
	}
	/* Both sides set the group, so killpg works whoever runs first. */
	setpgid(pid, pid);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (out != NULL) {
		close(p[1]);
		*out = p[0];
	}
	return pid;
}

/*
 * Runs argv to completion within timeout_ms; its lab_status.  With out,
 * collects stdout (malloc'd) until the command exits: a background
 * process that keeps the pipe open does not hold us up.
 */
static int
lab_run(char *const argv[], char **out, int quiet, int timeout_ms)
{
	long long deadline = lab_now() + timeout_ms;
	struct pollfd pfd;
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t r;
	int fd = -1, status, exited = 0;
	pid_t pid;

	if ((pid = lab_start(argv, out != NULL ? &fd : NULL, quiet)) == -1)
		return -1;
	if (out == NULL)
		return lab_status(lab_reap(pid, deadline));
	status = -1;
	while (fd != -1) {
		if (len + 512 > cap) {
			cap = cap ? cap * 2 : 1024;
			if ((nbuf = realloc(buf, cap)) == NULL)
				break;
			buf = nbuf;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, exited ? 0 : 20) > 0) {
			r = read(fd, buf + len, cap - len - 1);
			if (r > 0) {
				len += r;
				continue;
			}
			if (r == -1 && errno == EINTR)
				continue;
			break;		/* EOF or error */
		}
		if (exited)
			break;		/* exited and the pipe is drained */
		if (waitpid(pid, &status, WNOHANG) == pid)
			exited = 1;
		else if (lab_now() >= deadline)
			break;
	}
	if (fd != -1)
		close(fd);
	if (!exited)
		status = lab_reap(pid, deadline);
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return -1;
	buf[len] = '\0';
	*out = buf;
	return lab_status(status);
}

/* Splits a formatted command on blanks (our own arguments have none). */
static int
lab_runf(int quiet, const char *fmt, ...)
{
	char *argv[LAB_MAXARGS], *line, *p, *save;
	va_list ap;
	int argc = 0, rc;

	va_start(ap, fmt);
	rc = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (rc == -1)
		return -1;
	for (p = strtok_r(line, " ", &save); p && argc < LAB_MAXARGS - 1;
	    p = strtok_r(NULL, " ", &save))
		argv[argc++] = p;
	argv[argc] = NULL;
	if (argc > 0 && strcmp(argv[0], "ip") == 0)
		argv[0] = (char *)(uintptr_t)lab_ip();
	rc = lab_run(argv, NULL, quiet, lab_ms(LAB_SETUP_MS));
	if (rc != 0 && !quiet) {
		fprintf(stderr, "lab: failed (status %d):", rc);
		for (argc = 0; argv[argc]; argc++)
			fprintf(stderr, " %s", argv[argc]);
		fputc('\n', stderr);
	}
	free(line);
	return rc == 0 ? 0 : -1;
}

static int
lab_role(const char *role)
{
	int i;

	for (i = 0; role != NULL && i < LAB_NROLES; i++)
		if (strcmp(role, lab_roles[i]) == 0)
			return i;
	return -1;
}

const char *
lab_ns(struct lab *lab, const char *role)
{
	int i;

	if (lab == NULL || (i = lab_role(role)) == -1)
		return NULL;
	return lab->ns[i];
}

const char *
lab_prefix(struct lab *lab)
{
	return lab ? lab->prefix : NULL;
}

static int
lab_ns_exists(const char *ns)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), LAB_NETNSDIR "/%s", ns);
	return access(path, F_OK) == 0;
}

/* Start time of a process (clock ticks since boot), 0 if it is gone. */
static unsigned long long
lab_proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces: count fields after its ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	if (p[1] == ' ' && p[2] == 'Z')
		return 0;		/* a zombie owns nothing */
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field == 22)
		start = strtoull(p, NULL, 10);
	return start;
}

/*
 * Kills every process inside a namespace but ourselves: a test may have
 * started a daemon there with lab_exec("... &").  Bounded: TERM, then
 * KILL, at most about two seconds.
 */
static void
lab_ns_kill(const char *ns)
{
	char *argv[] = { (char *)(uintptr_t)lab_ip(), "netns", "pids",
	    (char *)(uintptr_t)ns, NULL };
	char *out, *p, *end;
	int round, any;
	long pid;

	for (round = 0; round < 20; round++) {
		out = NULL;
		if (lab_run(argv, &out, 1, 2000) != 0 || out == NULL) {
			free(out);
			return;
		}
		any = 0;
		for (p = out; *p; p = end) {
			pid = strtol(p, &end, 10);
			if (end == p) {
				end = p + 1;
				continue;
			}
			if (pid <= 1 || pid == getpid())
				continue;
			kill((pid_t)pid, round < 10 ? SIGTERM : SIGKILL);
			any = 1;
		}
		free(out);
		if (!any)
			return;
		lab_sleep(round == 0 ? 10 : 100);
	}
}

static void
lab_ns_del(const char *ns)
{
	if (!lab_ns_exists(ns))
		return;
	lab_ns_kill(ns);
	lab_runf(1, "ip netns del %s", ns);
}

/* Removes a lab by prefix: its processes, namespaces and record. */
static void
lab_remove(const char *prefix)
{
	char name[LAB_PREFIXMAX + 16], path[PATH_MAX];
	int i;

	for (i = LAB_NROLES - 1; i >= 0; i--) {
		snprintf(name, sizeof(name), "%s-%s", prefix, lab_roles[i]);
		lab_ns_del(name);
	}
	snprintf(path, sizeof(path), LAB_RUNDIR "/%s", prefix);
	unlink(path);
}

static int
lab_record_exists(const char *prefix)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), LAB_RUNDIR "/%s", prefix);
	return access(path, F_OK) == 0;
}

static int
lab_valid_prefix(const char *p)
{
	size_t n;

	for (n = 0; p[n]; n++)
		if (!isalnum((unsigned char)p[n]) && p[n] != '_' &&
		    p[n] != '.')
			return 0;
	return n > 0 && n <= LAB_PREFIXMAX;
}

/*
 * Is the owner recorded for prefix still running?  A record holds
 * "PID STARTTIME"; PID 0 marks a lab made by hand (`tools/lab up`), which
 * only `tools/lab down` removes.  Without a record, an "fwl<pid>" prefix
 * names its owner.
 */
static int
lab_owner_alive(const char *prefix)
{
	char path[PATH_MAX], buf[64];
	unsigned long long start;
	long pid;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), LAB_RUNDIR "/%s", prefix);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return 1;	/* being written: leave it alone */
		buf[n] = '\0';
		if (sscanf(buf, "%ld %llu", &pid, &start) != 2)
			return 1;
		if (pid == 0)
			return 1;
		return lab_proc_start((pid_t)pid) == start;
	}
	if (strncmp(prefix, "fwl", 3) != 0 ||
	    !isdigit((unsigned char)prefix[3]))
		return 1;
	pid = strtol(prefix + 3, NULL, 10);
	return pid > 0 && lab_proc_start((pid_t)pid) != 0;
}

void
lab_sweep(void)
{
	char prefix[LAB_PREFIXMAX + 1], *dash;
	struct dirent *de;
	DIR *d;
	size_t len;

	if ((d = opendir(LAB_NETNSDIR)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "fwl", 3) != 0 ||
		    (dash = strrchr(de->d_name, '-')) == NULL ||
		    lab_role(dash + 1) == -1)
			continue;
		len = dash - de->d_name;
		if (len > LAB_PREFIXMAX)
			continue;
		memcpy(prefix, de->d_name, len);
		prefix[len] = '\0';
		if (!lab_owner_alive(prefix))
			lab_remove(prefix);
	}
	closedir(d);
	/* Records whose namespaces are already gone. */
	if ((d = opendir(LAB_RUNDIR)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && lab_valid_prefix(de->d_name) &&
		    !lab_owner_alive(de->d_name))
			lab_remove(de->d_name);
	closedir(d);
}

static int
lab_write_record(struct lab *lab)
{
	char buf[64];
	int fd, n;

	if (mkdir(LAB_RUNDIR, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "lab: mkdir %s: %s\n", LAB_RUNDIR,
		    strerror(errno));
		return -1;
	}
	if ((fd = open(lab->record, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) == -1) {
		fprintf(stderr, "lab: %s: %s\n", lab->record, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%d %llu\n", (int)getpid(),
	    lab_proc_start(getpid()));
	if (write(fd, buf, n) != n) {
		fprintf(stderr, "lab: %s: %s\n", lab->record, strerror(errno));
		close(fd);
		unlink(lab->record);
		return -1;
	}
	close(fd);
	return 0;
}

/* Runs one line of shell in a namespace during setup. */
static int
lab_setup_sh(struct lab *lab, int role, const char *script)
{
	char *argv[] = { (char *)(uintptr_t)lab_ip(), "netns", "exec",
	    lab->ns[role], "sh", "-c", (char *)(uintptr_t)script, NULL };

	if (lab_run(argv, NULL, 0, lab_ms(LAB_SETUP_MS)) != 0) {
		fprintf(stderr, "lab: failed in %s: %s\n", lab->ns[role],
		    script);
		return -1;
	}
	return 0;
}

static int
lab_build(struct lab *lab)
{
	static const char *const hostaddr[] = { NULL, "2", "10", "10" };
	const char *r = lab->ns[0];
	int i;

	for (i = 0; i < LAB_NROLES; i++) {
		if (lab_runf(0, "ip netns add %s", lab->ns[i]) == -1)
			return -1;
		lab->made[i] = 1;
	}
	/*
	 * DAD off before the interfaces exist, so they inherit it and an
	 * IPv6 address is usable at once; forwarding only in the router.
	 */
	for (i = 0; i < LAB_NROLES; i++) {
		if (lab_setup_sh(lab, i,
		    "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && "
		    "echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad && "
		    "echo 0 > /proc/sys/net/ipv6/conf/default/accept_ra") == -1)
			return -1;
		if (lab_runf(0, "ip -n %s link set lo up", lab->ns[i]) == -1)
			return -1;
	}
	if (lab_setup_sh(lab, 0,
	    "echo 1 > /proc/sys/net/ipv4/ip_forward && "
	    "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding") == -1)
		return -1;
	/*
	 * Role i >= 1 is on 10.50.(i-1).0/24 and fd50:(i-1)::/64.  The
	 * router ends get ifindex 10, 11, 12: a veth whose peer has its own
	 * ifindex (both 2, in different namespaces) gets its carrier seen
	 * up to a second late, and sends nothing until then.
	 */
	for (i = 1; i < LAB_NROLES; i++) {
		if (lab_runf(0, "ip -n %s link add %s0 index %d type veth "
		    "peer name eth0 netns %s", r, lab_roles[i], 9 + i,
		    lab->ns[i]) == -1 ||
		    lab_runf(0, "ip -n %s addr add 10.50.%d.1/24 dev %s0", r,
		    i - 1, lab_roles[i]) == -1 ||
		    lab_runf(0, "ip -n %s addr add fd50:%d::1/64 dev %s0 nodad",
		    r, i - 1, lab_roles[i]) == -1 ||
		    lab_runf(0, "ip -n %s link set %s0 up", r,
		    lab_roles[i]) == -1 ||
		    lab_runf(0, "ip -n %s addr add 10.50.%d.%s/24 dev eth0",
		    lab->ns[i], i - 1, hostaddr[i]) == -1 ||
		    lab_runf(0, "ip -n %s addr add fd50:%d::%s/64 dev eth0 "
		    "nodad", lab->ns[i], i - 1, hostaddr[i]) == -1 ||
		    lab_runf(0, "ip -n %s link set eth0 up", lab->ns[i]) == -1)
			return -1;
		/* The wan host gets no route back: only NAT reaches it. */
		if (i == 1)
			continue;
		if (lab_runf(0, "ip -n %s route add default via 10.50.%d.1",
		    lab->ns[i], i - 1) == -1 ||
		    lab_runf(0, "ip -n %s -6 route add default via fd50:%d::1",
		    lab->ns[i], i - 1) == -1)
			return -1;
	}
	return lab_wait_links(lab);
}

/*
 * A veth sends nothing until the kernel has seen its carrier come up
 * (the qdisc stays a no-op till then), which may take a moment: wait
 * until every veth of the lab says "state UP".
 */
static int
lab_wait_links(struct lab *lab)
{
	long long deadline = lab_now() + lab_ms(LAB_SETUP_MS);
	char *argv[] = { (char *)(uintptr_t)lab_ip(), "-o", "-n", NULL,
	    "link", "show", "type", "veth", NULL };
	char *out, *line, *save;
	int i, down;

	for (i = 0; i < LAB_NROLES; i++) {
		argv[3] = lab->ns[i];
		for (;;) {
			out = NULL;
			if (lab_run(argv, &out, 0, lab_ms(LAB_SETUP_MS)) != 0) {
				free(out);
				return -1;
			}
			down = 0;
			for (line = strtok_r(out, "\n", &save); line;
			    line = strtok_r(NULL, "\n", &save))
				if (strstr(line, " state UP ") == NULL)
					down = 1;
			free(out);
			if (!down)
				break;
			if (lab_now() >= deadline) {
				fprintf(stderr, "lab: links in %s still down "
				    "after %d ms\n", lab->ns[i],
				    lab_ms(LAB_SETUP_MS));
				return -1;
			}
			lab_sleep(10);
		}
	}
	return 0;
}

struct lab *
lab_up_prefix(const char *prefix)
{
	struct lab *lab;
	int i;

	if (prefix == NULL || !lab_valid_prefix(prefix)) {
		fprintf(stderr, "lab: prefix '%s': expected 1 to %d of "
		    "[A-Za-z0-9_.]\n", prefix ? prefix : "(null)",
		    LAB_PREFIXMAX);
		return NULL;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "lab: network namespaces need root\n");
		return NULL;
	}
	lab_sweep();
	if ((lab = calloc(1, sizeof(*lab))) == NULL) {
		fprintf(stderr, "lab: out of memory\n");
		return NULL;
	}
	snprintf(lab->prefix, sizeof(lab->prefix), "%s", prefix);
	for (i = 0; i < LAB_NROLES; i++)
		snprintf(lab->ns[i], sizeof(lab->ns[i]), "%s-%s", prefix,
		    lab_roles[i]);
	snprintf(lab->record, sizeof(lab->record), LAB_RUNDIR "/%s", prefix);
	/* A dead owner's leftovers of the same name go first. */
	if (!lab_owner_alive(prefix))
		lab_remove(prefix);
	for (i = 0; i < LAB_NROLES; i++)
		if (lab_ns_exists(lab->ns[i])) {
			fprintf(stderr, "lab: namespace %s exists and belongs "
			    "to a live lab\n", lab->ns[i]);
			free(lab);
			return NULL;
		}
	if (lab_write_record(lab) == -1) {
		free(lab);
		return NULL;
	}
	if (lab_build(lab) == -1) {
		fprintf(stderr, "lab: %s: setup failed, removing it\n",
		    prefix);
		lab_down(lab);
		return NULL;
	}
	return lab;
}

struct lab *
lab_up(void)
{
	char prefix[LAB_PREFIXMAX + 1];
	int tries;

	/* Further labs of this process are .1, .2...; skip live ones. */
	for (tries = 0; tries < 100; tries++) {
		if (lab_seq == 0)
			snprintf(prefix, sizeof(prefix), "fwl%d",
			    (int)getpid());
		else
			snprintf(prefix, sizeof(prefix), "fwl%d.%d",
			    (int)getpid(), lab_seq);
		lab_seq++;
		if (!lab_record_exists(prefix) || !lab_owner_alive(prefix))
			break;
	}
	return lab_up_prefix(prefix);
}

void
lab_down(struct lab *lab)
{
	int i;

	if (lab == NULL)
		return;
	/* Our own groups first, so their shells do not outlive them. */
	for (i = 0; i < lab->nspawned; i++)
		if (lab->spawned[i] > 0)
			killpg(lab->spawned[i], SIGTERM);
	for (i = LAB_NROLES - 1; i >= 0; i--)
		if (lab->made[i])
			lab_ns_del(lab->ns[i]);
	for (i = 0; i < lab->nspawned; i++)
		if (lab->spawned[i] > 0)
			lab_reap(lab->spawned[i], lab_now() + 1000);
	unlink(lab->record);
	free(lab);
}

int
lab_enter(struct lab *lab, const char *role)
{
	char path[PATH_MAX];
	const char *ns;
	int fd;

	if ((ns = lab_ns(lab, role)) == NULL) {
		fprintf(stderr, "lab: unknown role '%s' (expected router, "
		    "wan, lan or dmz)\n", role ? role : "(null)");
		return -1;
	}
	snprintf(path, sizeof(path), LAB_NETNSDIR "/%s", ns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "lab: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (setns(fd, CLONE_NEWNET) == -1) {
		fprintf(stderr, "lab: setns %s: %s\n", ns, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The argument vector of `ip netns exec NS sh -c CMD`. */
static int
lab_shell(struct lab *lab, const char *role, char *argv[8], const char *cmd)
{
	const char *ns;

	if ((ns = lab_ns(lab, role)) == NULL) {
		fprintf(stderr, "lab: unknown role '%s' (expected router, "
		    "wan, lan or dmz)\n", role ? role : "(null)");
		return -1;
	}
	argv[0] = (char *)(uintptr_t)lab_ip();
	argv[1] = "netns";
	argv[2] = "exec";
	argv[3] = (char *)(uintptr_t)ns;
	argv[4] = "sh";
	argv[5] = "-c";
	argv[6] = (char *)(uintptr_t)cmd;
	argv[7] = NULL;
	return 0;
}

static int
lab_vexec(struct lab *lab, const char *role, char **out, const char *fmt,
    va_list ap)
{
	char *argv[8], *cmd;
	int rc;

	if (vasprintf(&cmd, fmt, ap) == -1)
		return -1;
	if (lab_shell(lab, role, argv, cmd) == -1) {
		free(cmd);
		return -1;
	}
	rc = lab_run(argv, out, 0, lab_ms(LAB_CMD_TIMEOUT_MS));
	free(cmd);
	return rc;
}

int
lab_exec(struct lab *lab, const char *role, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = lab_vexec(lab, role, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

char *
lab_output_status(struct lab *lab, int *status, const char *role,
    const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int rc;

	va_start(ap, fmt);
	rc = lab_vexec(lab, role, &out, fmt, ap);
	va_end(ap);
	if (status != NULL)
		*status = rc;
	return out;
}

char *
lab_output(struct lab *lab, const char *role, const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;

	va_start(ap, fmt);
	lab_vexec(lab, role, &out, fmt, ap);
	va_end(ap);
	return out;
}

static pid_t
lab_vspawn(struct lab *lab, const char *role, int *out, const char *fmt,
    va_list ap)
{
	char *argv[8], *cmd;
	pid_t pid;

	if (lab == NULL || lab->nspawned >= LAB_MAXSPAWN) {
		fprintf(stderr, "lab: too many spawned processes (%d)\n",
		    LAB_MAXSPAWN);
		return -1;
	}
	if (vasprintf(&cmd, fmt, ap) == -1)
		return -1;
	if (lab_shell(lab, role, argv, cmd) == -1) {
		free(cmd);
		return -1;
	}
	pid = lab_start(argv, out, 0);
	free(cmd);
	if (pid != -1)
		lab->spawned[lab->nspawned++] = pid;
	return pid;
}

pid_t
lab_spawn(struct lab *lab, const char *role, const char *fmt, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	pid = lab_vspawn(lab, role, NULL, fmt, ap);
	va_end(ap);
	return pid;
}

/* lab_spawn with its stdout on a pipe, for lab_serve. */
static pid_t __attribute__((format(printf, 4, 5)))
lab_spawn_out(struct lab *lab, const char *role, int *out, const char *fmt,
    ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	pid = lab_vspawn(lab, role, out, fmt, ap);
	va_end(ap);
	return pid;
}

int
lab_stop(struct lab *lab, pid_t pid)
{
	int i, status;

	for (i = 0; lab != NULL && i < lab->nspawned; i++)
		if (lab->spawned[i] == pid)
			break;
	if (lab == NULL || pid <= 0 || i == lab->nspawned) {
		fprintf(stderr, "lab: %d was not spawned by this lab\n",
		    (int)pid);
		return -1;
	}
	lab->spawned[i] = lab->spawned[--lab->nspawned];
	killpg(pid, SIGTERM);
	status = lab_reap(pid, lab_now() + 1000);
	/* Whatever of its group survived the TERM. */
	killpg(pid, SIGKILL);
	return status == -1 ? -1 : 0;
}

static int
lab_proto(const char *proto)
{
	if (proto != NULL && strcmp(proto, "tcp") == 0)
		return 't';
	if (proto != NULL && strcmp(proto, "udp") == 0)
		return 'u';
	fprintf(stderr, "lab: protocol '%s': expected tcp or udp\n",
	    proto ? proto : "(null)");
	return -1;
}

int
lab_wait_port(struct lab *lab, const char *role, const char *proto, int port,
    int timeout_ms)
{
	long long deadline = lab_now() + lab_ms(timeout_ms);
	char *out;
	int p, found;

	if ((p = lab_proto(proto)) == -1)
		return -1;
	for (;;) {
		out = lab_output(lab, role, "ss -Hln%c 'sport = :%d'", p, port);
		found = out != NULL && strchr(out, ':') != NULL;
		free(out);
		if (found)
			return 0;
		if (lab_now() >= deadline)
			break;
		lab_sleep(20);
	}
	fprintf(stderr, "lab: nothing listens on %s port %d in %s after "
	    "%d ms\n", proto, port, role, lab_ms(timeout_ms));
	return -1;
}

/* The probe tool's path, or NULL with a hint on how to get it. */
static const char *
lab_probe(void)
{
	const char *path = lab_tool("probe");

	if (access(path, X_OK) == 0)
		return path;
	fprintf(stderr, "lab: %s: %s (make builds it from tests/tools/probe.c;"
	    " FWCTL_TOOLS names its folder)\n", path, strerror(errno));
	return NULL;
}

pid_t
lab_serve(struct lab *lab, const char *role, const char *proto, int port)
{
	/* it returns as soon as the server listens: room for a busy host */
	long long deadline = lab_now() + lab_ms(10000);
	struct pollfd pfd;
	char line[128];
	size_t len = 0;
	ssize_t r;
	pid_t pid;
	int fd, ok = 0;

	if (lab_proto(proto) == -1 || lab_probe() == NULL)
		return -1;
	pid = lab_spawn_out(lab, role, &fd, "exec %s serve %s %d",
	    lab_tool("probe"), proto, port);
	if (pid == -1)
		return -1;
	/* The server says "listening" once bound; EOF means it failed. */
	while (len < sizeof(line) - 1 && lab_now() < deadline) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - lab_now())) <= 0)
			continue;
		if ((r = read(fd, line + len, sizeof(line) - 1 - len)) <= 0)
			break;
		len += r;
		line[len] = '\0';
		if (strchr(line, '\n') != NULL) {
			ok = strncmp(line, "listening", 9) == 0;
			break;
		}
	}
	close(fd);
	if (!ok) {
		fprintf(stderr, "lab: probe serve %s %d in %s did not start\n",
		    proto, port, role);
		lab_stop(lab, pid);
		return -1;
	}
	return pid;
}

/* Addresses go into a shell command: allow only what addresses hold. */
static int
lab_valid_addr(const char *addr)
{
	size_t n;

	for (n = 0; addr != NULL && addr[n]; n++)
		if (!isxdigit((unsigned char)addr[n]) && addr[n] != ':' &&
		    addr[n] != '.')
			return 0;
	return n > 0 && n < 64;
}

int
lab_connect(struct lab *lab, const char *from, const char *proto,
    const char *addr, int port, int timeout_ms, char *reply, size_t len)
{
	char *out;
	size_t n;
	int status;

	if (reply != NULL && len > 0)
		*reply = '\0';
	if (lab_proto(proto) == -1 || lab_probe() == NULL)
		return -1;
	if (!lab_valid_addr(addr)) {
		fprintf(stderr, "lab: '%s': expected a numeric address\n",
		    addr ? addr : "(null)");
		return -1;
	}
	out = lab_output_status(lab, &status, from,
	    "exec %s connect %s %s %d --timeout %d", lab_tool("probe"),
	    proto, addr, port, timeout_ms);
	if (out == NULL)
		return -1;
	if (status == 0 && reply != NULL && len > 0) {
		n = strcspn(out, "\n");
		if (n >= len)
			n = len - 1;
		memcpy(reply, out, n);
		reply[n] = '\0';
	}
	free(out);
	return status == 0 ? 0 : -1;
}

static int
lab_connect_src(struct lab *lab, const char *from, const char *proto,
    const char *addr, int port, int timeout_ms, char *seen_src, size_t len)
{
	char reply[160];
	size_t n;

	if (seen_src != NULL && len > 0)
		*seen_src = '\0';
	if (lab_connect(lab, from, proto, addr, port, timeout_ms, reply,
	    sizeof(reply)) == -1)
		return -1;
	if (seen_src != NULL && len > 0) {
		n = strcspn(reply, " ");
		if (n >= len)
			n = len - 1;
		memcpy(seen_src, reply, n);
		seen_src[n] = '\0';
	}
	return 0;
}

int
lab_tcp_connect(struct lab *lab, const char *from, const char *addr,
    int port, int timeout_ms, char *seen_src, size_t len)
{
	return lab_connect_src(lab, from, "tcp", addr, port, timeout_ms,
	    seen_src, len);
}

int
lab_udp_probe(struct lab *lab, const char *from, const char *addr, int port,
    int timeout_ms, char *seen_src, size_t len)
{
	return lab_connect_src(lab, from, "udp", addr, port, timeout_ms,
	    seen_src, len);
}

int
lab_ping(struct lab *lab, const char *from, const char *addr, int timeout_ms)
{
	if (!lab_valid_addr(addr)) {
		fprintf(stderr, "lab: '%s': expected a numeric address\n",
		    addr ? addr : "(null)");
		return -1;
	}
	if (lab_probe() == NULL)
		return -1;
	return lab_exec(lab, from, "exec %s ping %s --timeout %d >/dev/null",
	    lab_tool("probe"), addr, timeout_ms) == 0 ? 0 : -1;
}

/* Copies the file at from to a new file to, mode 0755: 0, or -1. */
static int
lab_copy_file(const char *from, const char *to)
{
	char	 buf[65536];
	ssize_t	 n = 0;
	int	 in, out, rc = -1;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "lab: %s: %s\n", from, strerror(errno));
		return -1;
	}
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0755)) == -1) {
		fprintf(stderr, "lab: %s: %s\n", to, strerror(errno));
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	/* the umask may have narrowed the mode given to open */
	if (n == 0 && fchmod(out, 0755) == 0)
		rc = 0;
	else
		fprintf(stderr, "lab: copying %s to %s: %s\n", from, to,
		    strerror(errno));
	if (close(out) == -1)
		rc = -1;
	close(in);
	return rc;
}

char *
lab_copy_program(const char *path)
{
	char		 dir[] = "/tmp/fwctl-prog.XXXXXX", *copy;
	const char	*base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "lab: mkdtemp %s: %s\n", dir, strerror(errno));
		return NULL;
	}
	/* others may go through to the program, not list or add to it */
	if (chmod(dir, 0711) == -1 ||
	    asprintf(&copy, "%s/%s", dir, base) == -1) {
		rmdir(dir);
		return NULL;
	}
	if (lab_copy_file(path, copy) == -1) {
		lab_copy_remove(copy);
		return NULL;
	}
	return copy;
}

void
lab_copy_remove(char *copy)
{
	char	*slash;

	if (copy == NULL)
		return;
	unlink(copy);
	if ((slash = strrchr(copy, '/')) != NULL) {
		*slash = '\0';
		rmdir(copy);
	}
	free(copy);
}
