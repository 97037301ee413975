/*
 * bench.c: fwctl side by side with nft -f, iptables-restore (and ufw where
 * installed) on the same rulesets, every measurement in a fresh network
 * namespace made with unshare(CLONE_NEWNET) by a worker process: when the
 * worker and its children exit, the namespace and everything programmed
 * into it go away, whatever happened.  The host's namespace is never
 * touched.
 *
 * Each tool is timed as a whole process (fork to reap, CLOCK_MONOTONIC),
 * with its user and system CPU and peak RSS from wait4().  The daemon is
 * also timed through its API (request sent to reply read), with its CPU
 * taken from /proc/PID/stat and its memory from /proc/PID/status.
 *
 * Workloads, per size N: N distinct "source address + TCP port -> accept"
 * rules in one input chain, loaded into an empty namespace; one rule added
 * and deleted in a chain of N; a named set of S addresses loaded, bulk
 * filled and changed one element at a time; and mixed rulesets of eight
 * interleaved shapes over several zones (lists, prefixes, ranges with
 * limit, log, IPv6, ICMP with limit, reject, `from <zone> to any`), loaded,
 * started with, and changed one rule of each shape at a time.
 */
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bench.h"

extern char **environ;

#define MAX_SIZES	8
#define READY_MS	15000		/* daemon start-up bound */
#define STOP_MS		5000		/* daemon stop bound before SIGKILL */

/* One measurement, sent from a worker to the parent through a pipe. */
struct rec {
	char		key[32];
	uint32_t	size;
	int		ok;		/* 0: the tool failed, note says why */
	double		ms;		/* wall time, or kB for memory keys */
	double		user;		/* CPU ms */
	double		sys;
	long		rss_kb;		/* peak RSS of the timed process */
	char		note[160];
};

/* Every record of one key and size. */
struct metric {
	char		key[32];
	uint32_t	size;
	double		*ms, *user, *sys;
	size_t		n, cap;
	size_t		fails;
	long		rss_kb;
	char		note[160];
};

struct tools {
	char	*nft;
	char	*ipt_nft;		/* iptables-nft-restore */
	char	*ipt_legacy;		/* iptables-legacy-restore */
	char	*ipt_nft_cmd;		/* iptables-nft */
	char	*ipt_legacy_cmd;	/* iptables-legacy */
	char	*ip6t_nft;		/* ip6tables-nft-restore */
	char	*ip6t_legacy;		/* ip6tables-legacy-restore */
	char	*ufw;
	char	*firewalld;
	char	*fwctld;
	char	*fwctl;
};

static struct {
	uint32_t	 sizes[MAX_SIZES];
	size_t		 nsizes;
	uint32_t	 mixed[MAX_SIZES];	/* sizes of the mixed rulesets */
	size_t		 nmixed;
	uint32_t	 set_size;
	int		 runs;
	int		 ops;
	int		 timeout;
	int		 req_timeout;	/* one API request */
	bool		 peers;
	bool		 keep;
	bool		 verbose;
	char		*workdir;
	struct tools	 t;
} cf;

static bool		 timed_out(const char *, uint32_t);
static void		 print_mixed_targets(void);

static struct metric	*metrics;
static size_t		 nmetrics;
static int		 recfd = -1;	/* worker: where records go */

/* A running fwctld inside a worker's namespace. */
struct daemon {
	pid_t	 pid;
	char	 dir[512];
	char	 sock[600];
	char	 log[600];
	CURL	*curl;
	char	 url[128];
	long	 status;
	CURLcode curlerr;
	char	*body;			/* last reply */
	size_t	 len;
	const char *failkey;		/* recorded as failed if it won't start */
	uint32_t failsize;
	double	 ready_ms;		/* start-up bound */
};

void
die(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void * __attribute__((malloc))
xcalloc(size_t n, size_t sz)
{
	void	*p = calloc(n, sz);

	if (p == NULL)
		die("out of memory");
	return p;
}

static char *
xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		die("out of memory");
	va_end(ap);
	return s;
}

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double
tv_ms(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e3 + (double)tv->tv_usec / 1e3;
}

/* An executable named name in PATH, /usr/sbin or /sbin, or NULL. */
static char *
find_tool(const char *name)
{
	const char	*path = getenv("PATH");
	char		*dirs, *d, *save = NULL, *p;

	dirs = xasprintf("%s:/usr/sbin:/sbin:/usr/bin", path ? path : "");
	for (d = strtok_r(dirs, ":", &save); d != NULL;
	    d = strtok_r(NULL, ":", &save)) {
		p = xasprintf("%s/%s", d, name);
		if (access(p, X_OK) == 0) {
			free(dirs);
			return p;
		}
		free(p);
	}
	free(dirs);
	return NULL;
}

/* ---- the work directory ------------------------------------------- */

char *
wpath(const char *fmt, ...)
{
	va_list	 ap;
	char	*name, *p;

	va_start(ap, fmt);
	if (vasprintf(&name, fmt, ap) == -1)
		die("out of memory");
	va_end(ap);
	p = xasprintf("%s/%s", cf.workdir, name);
	free(name);
	return p;
}

FILE *
wopen(const char *path)
{
	FILE	*f = fopen(path, "w");

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	return f;
}

void
wclose(FILE *f, const char *path)
{
	if (ferror(f) || fclose(f) != 0)
		die("%s: write error", path);
}

char *
slurp(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 r;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1)
		die("%s: %s", path, strerror(errno));
	buf = xcalloc(1, (size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r <= 0)
			die("%s: short read", path);
		off += (size_t)r;
	}
	close(fd);
	*lenp = off;
	return buf;
}

/* ---- records ------------------------------------------------------- */

static void
emit(const char *key, uint32_t size, int ok, double ms, double user,
    double sys, long rss_kb, const char *note)
{
	struct rec	r;

	memset(&r, 0, sizeof(r));
	snprintf(r.key, sizeof(r.key), "%s", key);
	r.size = size;
	r.ok = ok;
	r.ms = ms;
	r.user = user;
	r.sys = sys;
	r.rss_kb = rss_kb;
	if (note != NULL)
		snprintf(r.note, sizeof(r.note), "%s", note);
	/* one write per record: the pipe keeps it whole (< PIPE_BUF) */
	if (write(recfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(3);
	if (cf.verbose)
		fprintf(stderr, "  %-22s %7u %s %10.2f%s%s\n", key, size,
		    ok ? "ok  " : "FAIL", ms, note ? "  " : "",
		    note ? note : "");
}

static struct metric *
metric_get(const char *key, uint32_t size, bool create)
{
	size_t	i;

	for (i = 0; i < nmetrics; i++)
		if (metrics[i].size == size && strcmp(metrics[i].key, key) == 0)
			return &metrics[i];
	if (!create)
		return NULL;
	metrics = realloc(metrics, (nmetrics + 1) * sizeof(*metrics));
	if (metrics == NULL)
		die("out of memory");
	memset(&metrics[nmetrics], 0, sizeof(*metrics));
	snprintf(metrics[nmetrics].key, sizeof(metrics[nmetrics].key), "%s",
	    key);
	metrics[nmetrics].size = size;
	return &metrics[nmetrics++];
}

static void
metric_add(const struct rec *r)
{
	struct metric	*m = metric_get(r->key, r->size, true);

	if (!r->ok) {
		m->fails++;
		if (m->note[0] == '\0')
			snprintf(m->note, sizeof(m->note), "%s", r->note);
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 16;
		m->ms = realloc(m->ms, m->cap * sizeof(double));
		m->user = realloc(m->user, m->cap * sizeof(double));
		m->sys = realloc(m->sys, m->cap * sizeof(double));
		if (m->ms == NULL || m->user == NULL || m->sys == NULL)
			die("out of memory");
	}
	m->ms[m->n] = r->ms;
	m->user[m->n] = r->user;
	m->sys[m->n] = r->sys;
	m->n++;
	if (r->rss_kb > m->rss_kb)
		m->rss_kb = r->rss_kb;
	if (r->note[0] != '\0' && m->note[0] == '\0')
		snprintf(m->note, sizeof(m->note), "%s", r->note);
}

static int
dcmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(const double *v, size_t n)
{
	double	*c, m;

	if (n == 0)
		return -1;
	c = xcalloc(n, sizeof(*c));
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), dcmp);
	m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return m;
}

static double
vmin(const double *v, size_t n)
{
	double	m = v[0];
	size_t	i;

	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

static double
vmax(const double *v, size_t n)
{
	double	m = v[0];
	size_t	i;

	for (i = 1; i < n; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}

/* Median of key at size, or -1 when it was not measured. */
static double
med(const char *key, uint32_t size)
{
	struct metric	*m = metric_get(key, size, false);

	return m == NULL || m->n == 0 ? -1 : median(m->ms, m->n);
}

/* ---- processes ----------------------------------------------------- */

/*
 * Runs argv to completion with stdin from /dev/null and stdout to out
 * (NULL: /dev/null), stderr to err.  posix_spawn: the cost of starting a
 * tool does not depend on the bench's own size.
 */
static int
run(char *const argv[], const char *out, const char *err, double *ms,
    struct rusage *ru)
{
	posix_spawn_file_actions_t	 fa;
	pid_t				 pid;
	double				 t0;
	int				 st, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err ? err : "/dev/null",
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	t0 = now_ms();
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	while (wait4(pid, &st, 0, ru) == -1)
		if (errno != EINTR)
			return -1;
	*ms = now_ms() - t0;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* First line of a file, for notes on failure. */
static void
first_line(const char *path, char *buf, size_t len)
{
	FILE	*f = fopen(path, "r");

	buf[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(buf, (int)len, f) != NULL)
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* Last non-empty line of a file (a daemon's log). */
static void
last_line(const char *path, char *buf, size_t len)
{
	char	 line[512];
	FILE	*f = fopen(path, "r");

	buf[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (line[0] != '\n') {
			/* truncated to fit a note */
			size_t l = strcspn(line, "\n");

			if (l >= len)
				l = len - 1;
			memcpy(buf, line, l);
			buf[l] = '\0';
		}
	fclose(f);
}

/* Runs and records one timed process under key. */
static int
timed(const char *key, uint32_t size, char *const argv[], const char *out)
{
	struct rusage	 ru;
	char		 note[160], line[128], *err;
	double		 ms = 0;
	int		 rc;

	err = wpath("err.%d", (int)getpid());
	memset(&ru, 0, sizeof(ru));
	rc = run(argv, out, err, &ms, &ru);
	if (rc != 0) {
		first_line(err, line, sizeof(line));
		snprintf(note, sizeof(note), "%s: exit %d: %s", argv[0], rc,
		    line);
		emit(key, size, 0, ms, 0, 0, 0, note);
	} else
		emit(key, size, 1, ms, tv_ms(&ru.ru_utime),
		    tv_ms(&ru.ru_stime), ru.ru_maxrss, NULL);
	unlink(err);
	free(err);
	return rc;
}

/* Runs an untimed set-up step; a failure ends the worker. */
static void
setup(char *const argv[])
{
	struct rusage	 ru;
	char		 line[160], *err;
	double		 ms;
	int		 rc;

	err = wpath("err.%d", (int)getpid());
	if ((rc = run(argv, NULL, err, &ms, &ru)) != 0) {
		first_line(err, line, sizeof(line));
		fprintf(stderr, "bench: set-up %s failed (%d): %s\n", argv[0],
		    rc, line);
		unlink(err);
		_exit(2);
	}
	unlink(err);
	free(err);
}

/* ---- the daemon ---------------------------------------------------- */

static size_t
curl_sink(char *p, size_t sz, size_t n, void *arg)
{
	struct daemon	*d = arg;
	char		*b;

	b = realloc(d->body, d->len + sz * n + 1);
	if (b == NULL)
		return 0;
	memcpy(b + d->len, p, sz * n);
	d->len += sz * n;
	b[d->len] = '\0';
	d->body = b;
	return sz * n;
}

/*
 * One request; returns the HTTP status (0 when the request failed) and
 * the wall time from sending to the last byte of the reply.
 */
static long
api(struct daemon *d, const char *method, const char *path,
    const char *ctype, const char *body, size_t len, double *ms)
{
	struct curl_slist	*h = NULL;
	char			 url[512], ct[128];
	double			 t0;
	CURLcode		 rc;

	free(d->body);
	d->body = NULL;
	d->len = 0;
	d->status = 0;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(d->curl, CURLOPT_URL, url);
	curl_easy_setopt(d->curl, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		h = curl_slist_append(h, ct);
		/* no "Expect: 100-continue" round trip for big bodies */
		h = curl_slist_append(h, "Expect:");
		curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	} else {
		curl_easy_setopt(d->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(d->curl, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, h);
	t0 = now_ms();
	rc = curl_easy_perform(d->curl);
	*ms = now_ms() - t0;
	d->curlerr = rc;
	curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (rc != CURLE_OK)
		return 0;
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &d->status);
	return d->status;
}

/* utime + stime of a process in ms (all threads), from /proc. */
static void
proc_cpu(pid_t pid, double *user, double *sys)
{
	char			 path[64], buf[2048], *p;
	unsigned long long	 ut = 0, st = 0;
	long			 hz = sysconf(_SC_CLK_TCK);
	FILE			*f;

	*user = *sys = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu", &ut, &st) == 2) {
		*user = (double)ut * 1000.0 / (double)hz;
		*sys = (double)st * 1000.0 / (double)hz;
	}
	fclose(f);
}

/* A "Name:   N kB" line of /proc/PID/status, in kB (-1 if absent). */
static long
proc_status_kb(pid_t pid, const char *name)
{
	char	 path[64], line[256];
	size_t	 len = strlen(name);
	long	 v = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Starts fwctld in d's directory (made by daemon_start) and waits until it
 * answers; the time from fork to the first answer is the start's.
 */
static double
daemon_spawn(struct daemon *d)
{
	char	*state, *rules;
	double	 t0, ms;
	pid_t	 pid;
	int	 fd, st;

	state = xasprintf("%s/state", d->dir);
	rules = xasprintf("%s/rules.d", d->dir);
	t0 = now_ms();
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* dies with the worker, so the namespace cannot outlive it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600)) !=
		    -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(cf.t.fwctld, cf.t.fwctld, "--foreground", "--socket",
		    d->sock, "--state-dir", state, "--rules-dir", rules,
		    "--table", "fwctl", (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	free(state);
	free(rules);
	if (d->curl == NULL) {
		if ((d->curl = curl_easy_init()) == NULL)
			die("curl_easy_init failed");
		curl_easy_setopt(d->curl, CURLOPT_UNIX_SOCKET_PATH, d->sock);
		curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, curl_sink);
		curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, d);
		curl_easy_setopt(d->curl, CURLOPT_TIMEOUT,
		    (long)cf.req_timeout);
	}
	for (;;) {
		if (access(d->sock, F_OK) == 0 &&
		    api(d, "GET", "/v1/status", NULL, NULL, 0, &ms) == 200)
			break;
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			char note[160], line[120];

			last_line(d->log, line, sizeof(line));
			snprintf(note, sizeof(note), "fwctld %s %d at start-up "
			    "(%s)", WIFEXITED(st) ? "exited" : "died of signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			    line);
			fprintf(stderr, "bench: %s; log kept in %s\n", note,
			    d->log);
			emit(d->failkey, d->failsize, 0, 0, 0, 0, 0, note);
			_exit(0);
		}
		if (now_ms() - t0 > d->ready_ms) {
			char note[64];

			fprintf(stderr, "bench: fwctld not ready after %.0f "
			    "ms\n", d->ready_ms);
			snprintf(note, sizeof(note), "timeout: not ready after "
			    "%.0f ms", d->ready_ms);
			emit(d->failkey, d->failsize, 0, 0, 0, 0, 0, note);
			kill(d->pid, SIGKILL);
			_exit(2);
		}
		usleep(2000);
	}
	return now_ms() - t0;
}

/*
 * Starts fwctld in this namespace and waits for it: with an empty ruleset,
 * or with the rules of the file rules (copied into its rules directory).
 */
static double
daemon_start_with(struct daemon *d, const char *tag, const char *failkey,
    uint32_t failsize, const char *rules)
{
	char	*state, *dir, *dst, *buf;
	size_t	 len;
	FILE	*f;

	memset(d, 0, sizeof(*d));
	d->failkey = failkey;
	d->failsize = failsize;
	d->ready_ms = READY_MS;
	snprintf(d->dir, sizeof(d->dir), "%s/run-%s-%d", cf.workdir, tag,
	    (int)getpid());
	snprintf(d->sock, sizeof(d->sock), "%s/sock", d->dir);
	state = xasprintf("%s/state", d->dir);
	dir = xasprintf("%s/rules.d", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/fwctld.log", d->dir);
	if (mkdir(d->dir, 0700) == -1 || mkdir(state, 0700) == -1 ||
	    mkdir(dir, 0700) == -1)
		die("%s: %s", d->dir, strerror(errno));
	if (rules != NULL) {
		/* a large ruleset takes longer to start: bounded by the
		 * worker's own timeout instead */
		d->ready_ms = (cf.timeout - 10) * 1000.0;
		dst = xasprintf("%s/bench.rules", dir);
		buf = slurp(rules, &len);
		f = wopen(dst);
		fwrite(buf, 1, len, f);
		wclose(f, dst);
		free(buf);
		free(dst);
	}
	free(state);
	free(dir);
	return daemon_spawn(d);
}

static void
daemon_start(struct daemon *d, const char *tag, const char *failkey,
    uint32_t failsize)
{
	daemon_start_with(d, tag, failkey, failsize, NULL);
}

/* Stops fwctld, keeping its directory (state, rules) for a restart. */
static void
daemon_halt(struct daemon *d)
{
	double	t0 = now_ms();

	kill(d->pid, SIGTERM);
	while (waitpid(d->pid, NULL, WNOHANG) != d->pid) {
		if (now_ms() - t0 > STOP_MS) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			break;
		}
		usleep(2000);
	}
}

static void
daemon_stop(struct daemon *d)
{
	daemon_halt(d);
	curl_easy_cleanup(d->curl);
	free(d->body);
	if (!cf.keep)
		rm_tree(d->dir);
}

/* counts.<what> from GET /v1/status, or -1. */
static long
daemon_count(struct daemon *d, const char *what)
{
	json_t	*j, *c;
	double	 ms;
	long	 n = -1;

	if (api(d, "GET", "/v1/status", NULL, NULL, 0, &ms) != 200)
		return -1;
	if ((j = json_loads(d->body, 0, NULL)) == NULL)
		return -1;
	c = json_object_get(json_object_get(j, "counts"), what);
	if (json_is_integer(c))
		n = (long)json_integer_value(c);
	json_decref(j);
	return n;
}

/* A failed request as a note: status and the problem's detail. */
static void
api_note(struct daemon *d, long status, char *note, size_t len)
{
	json_t		*j = NULL;
	const char	*detail = NULL;

	if (status == 0 && d->curlerr == CURLE_OPERATION_TIMEDOUT) {
		snprintf(note, len, "timeout: no reply within %d s",
		    cf.req_timeout);
		return;
	}
	if (d->body != NULL && (j = json_loads(d->body, 0, NULL)) != NULL)
		detail = json_string_value(json_object_get(j, "detail"));
	snprintf(note, len, "HTTP %ld: %.120s", status,
	    detail ? detail : d->body ? d->body : "no reply");
	json_decref(j);
}

/* Times one API request as a record; true when it succeeded. */
static bool
timed_api(struct daemon *d, const char *key, uint32_t size,
    const char *method, const char *path, const char *ctype,
    const char *body, size_t len)
{
	double	u0, s0, u1, s1, ms;
	long	st;
	char	note[160];

	proc_cpu(d->pid, &u0, &s0);
	st = api(d, method, path, ctype, body, len, &ms);
	proc_cpu(d->pid, &u1, &s1);
	if (st < 200 || st > 299) {
		api_note(d, st, note, sizeof(note));
		emit(key, size, 0, ms, 0, 0, 0, note);
		return false;
	}
	emit(key, size, 1, ms, u1 - u0, s1 - s0, 0, NULL);
	return true;
}

static void
daemon_mem(struct daemon *d, const char *key, uint32_t size)
{
	char	k[32];

	snprintf(k, sizeof(k), "%s.rss", key);
	emit(k, size, 1, (double)proc_status_kb(d->pid, "VmRSS"), 0, 0, 0,
	    NULL);
	snprintf(k, sizeof(k), "%s.hwm", key);
	emit(k, size, 1, (double)proc_status_kb(d->pid, "VmHWM"), 0, 0, 0,
	    NULL);
}

/* ---- workers: each runs in its own new network namespace ------------ */

typedef void (*worker_fn)(uint32_t, const void *);

static void
in_namespace(worker_fn fn, uint32_t size, const void *arg)
{
	struct rec	 r;
	pid_t		 pid;
	ssize_t		 n;
	int		 p[2], st;

	if (pipe2(p, O_CLOEXEC) == -1)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		recfd = p[1];
		if (unshare(CLONE_NEWNET) == -1) {
			fprintf(stderr, "bench: unshare(CLONE_NEWNET): %s\n",
			    strerror(errno));
			_exit(2);
		}
		alarm((unsigned)cf.timeout);
		fn(size, arg);
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], &r, sizeof(r))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(r))
			break;
		metric_add(&r);
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "bench: a worker for size %u failed (%s %d)\n",
		    size, WIFEXITED(st) ? "exit" : "signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* Full load of N rules by a peer: nft -f or iptables-restore FILE. */
struct peer_load {
	const char	*key;
	const char	*tool;
	const char	*opt;		/* "-f" for nft, NULL otherwise */
	const char	*base;		/* file: <base>-<size>.<ext> */
	const char	*ext;
};

static void
w_peer_load(uint32_t n, const void *arg)
{
	const struct peer_load	*pl = arg;
	char			*file, *argv[4];
	int			 i = 0;

	file = wpath("%s-%u.%s", pl->base, n, pl->ext);
	argv[i++] = (char *)(uintptr_t)pl->tool;
	if (pl->opt)
		argv[i++] = (char *)(uintptr_t)pl->opt;
	argv[i++] = file;
	argv[i] = NULL;
	timed(pl->key, n, argv, NULL);
	free(file);
}

/* Full load of N rules through fwctld: CLI (whole process) or API. */
static void
w_fwctl_load(uint32_t n, const void *arg)
{
	bool		 cli = *(const bool *)arg;
	struct daemon	 d;
	char		*file, *body, note[96];
	size_t		 len;
	long		 got;
	double		 u0, s0, u1, s1;

	file = wpath("rules-%u.rules", n);
	daemon_start(&d, "load", cli ? "load.fwctl-cli" : "load.fwctl-api",
	    n);
	if (cli) {
		char *argv[] = { cf.t.fwctl, "--socket", d.sock, "apply", file,
		    NULL };

		proc_cpu(d.pid, &u0, &s0);
		timed("load.fwctl-cli", n, argv, NULL);
		proc_cpu(d.pid, &u1, &s1);
		emit("load.fwctl-cli.daemon", n, 1, 0, u1 - u0, s1 - s0, 0,
		    NULL);
		daemon_mem(&d, "mem.cli", n);
	} else {
		body = slurp(file, &len);
		timed_api(&d, "load.fwctl-api", n, "PUT", "/v1/ruleset",
		    "text/plain", body, len);
		free(body);
		daemon_mem(&d, "mem.api", n);
	}
	if ((got = daemon_count(&d, "rules")) != (long)n) {
		snprintf(note, sizeof(note), "the daemon holds %ld rules, not "
		    "%u", got, n);
		emit("check.fwctl-load", n, 0, 0, 0, 0, 0, note);
	}
	daemon_stop(&d);
	free(file);
}

/* One rule added and deleted, ops times, in a loaded chain of N. */
enum incr_tool { INCR_NFT, INCR_IPT_NFT, INCR_IPT_LEGACY };

static void
extra_rule(int k, char *a, size_t len, unsigned *port)
{
	snprintf(a, len, "10.250.%d.%d", (k >> 8) & 255, 1 + (k & 127));
	*port = 4000 + (unsigned)k;
}

/* The handle nft -e -a printed ("... # handle N"), or -1. */
static long
nft_handle(const char *path)
{
	char	 buf[512], *p;
	long	 h = -1;
	FILE	*f = fopen(path, "r");

	if (f == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if ((p = strstr(buf, "# handle ")) != NULL)
			h = strtol(p + 9, NULL, 10);
	fclose(f);
	return h;
}

static void
w_incr_peer(uint32_t n, const void *arg)
{
	enum incr_tool	 tool = *(const enum incr_tool *)arg;
	char		*file, *out, a[32], p[16], h[24];
	const char	*key_add, *key_del;
	unsigned	 port;
	long		 handle;
	int		 k;

	out = wpath("out.%d", (int)getpid());
	if (tool == INCR_NFT) {
		file = wpath("rules-%u.nft", n);
		char *argv[] = { cf.t.nft, "-f", file, NULL };
		setup(argv);
		key_add = "add.nft";
		key_del = "del.nft";
	} else {
		file = wpath("rules-%u.ipt", n);
		char *argv[] = { tool == INCR_IPT_NFT ? cf.t.ipt_nft :
		    cf.t.ipt_legacy, file, NULL };
		setup(argv);
		key_add = tool == INCR_IPT_NFT ? "add.ipt-nft" :
		    "add.ipt-legacy";
		key_del = tool == INCR_IPT_NFT ? "del.ipt-nft" :
		    "del.ipt-legacy";
	}
	for (k = 0; k < cf.ops; k++) {
		extra_rule(k, a, sizeof(a), &port);
		snprintf(p, sizeof(p), "%u", port);
		if (tool == INCR_NFT) {
			char *add[] = { cf.t.nft, "-e", "-a", "add", "rule",
			    "inet", "bench", "input", "ip", "saddr", a, "tcp",
			    "dport", p, "accept", NULL };
			if (timed(key_add, n, add, out) != 0)
				continue;
			if ((handle = nft_handle(out)) < 0) {
				emit(key_del, n, 0, 0, 0, 0, 0,
				    "no handle echoed by nft -e -a");
				continue;
			}
			snprintf(h, sizeof(h), "%ld", handle);
			char *del[] = { cf.t.nft, "delete", "rule", "inet",
			    "bench", "input", "handle", h, NULL };
			timed(key_del, n, del, NULL);
		} else {
			char *cmd = tool == INCR_IPT_NFT ? cf.t.ipt_nft_cmd :
			    cf.t.ipt_legacy_cmd;
			char *add[] = { cmd, "-w", "-A", "INPUT", "-s", a, "-p",
			    "tcp", "--dport", p, "-j", "ACCEPT", NULL };
			char *del[] = { cmd, "-w", "-D", "INPUT", "-s", a, "-p",
			    "tcp", "--dport", p, "-j", "ACCEPT", NULL };
			if (timed(key_add, n, add, NULL) == 0)
				timed(key_del, n, del, NULL);
		}
	}
	unlink(out);
	free(out);
	free(file);
}

static void
w_incr_fwctl(uint32_t n, const void *arg)
{
	struct daemon	 d;
	char		*file, *body, a[32], name[32], text[160], path[64];
	unsigned	 port;
	size_t		 len;
	double		 ms;
	long		 st;
	int		 k;

	file = wpath("rules-%u.rules", n);
	daemon_start(&d, "incr", "add.fwctl-cli", n);
	body = slurp(file, &len);
	if ((st = api(&d, "PUT", "/v1/ruleset", "text/plain", body, len,
	    &ms)) != 200) {
		char note[160];

		api_note(&d, st, note, sizeof(note));
		emit("add.fwctl-cli", n, 0, 0, 0, 0, 0, note);
		goto out;
	}
	daemon_mem(&d, "mem.incr", n);
	for (k = 0; k < cf.ops; k++) {
		extra_rule(k, a, sizeof(a), &port);
		char pstr[16];
		snprintf(pstr, sizeof(pstr), "%u", port);
		snprintf(name, sizeof(name), "x%d", k);
		char *add[] = { cf.t.fwctl, "--socket", d.sock, "add-rule",
		    name, "from", "any", "to", "self", "tcp", "dport", pstr,
		    "src", a, "accept", NULL };
		char *del[] = { cf.t.fwctl, "--socket", d.sock, "delete-rule",
		    name, NULL };
		/* the same binary asked for nothing: what starting the
		 * process (and its shared libraries) costs on its own */
		char *ver[] = { cf.t.fwctl, "--version", NULL };
		if (timed("add.fwctl-cli", n, add, NULL) == 0)
			timed("del.fwctl-cli", n, del, NULL);
		timed("start.fwctl-cli", n, ver, NULL);

		snprintf(name, sizeof(name), "y%d", k);
		snprintf(text, sizeof(text), "%s from any to self tcp dport %u "
		    "src %s accept", name, port, a);
		snprintf(path, sizeof(path), "/v1/rules/%s", name);
		if (timed_api(&d, "add.fwctl-api", n, "POST", "/v1/rules",
		    "text/plain", text, strlen(text)))
			timed_api(&d, "del.fwctl-api", n, "DELETE", path,
			    NULL, NULL, 0);
	}
	if (daemon_count(&d, "rules") != (long)n)
		emit("check.fwctl-incr", n, 0, 0, 0, 0, 0,
		    "rule count changed after add/delete pairs");
out:
	free(body);
	daemon_stop(&d);
	free(file);
}

/*
 * ufw with N rules: its configuration is copied and bind-mounted over
 * /etc/ufw in a private mount namespace, so the host's ufw is not
 * touched either (and its sysctl file is emptied: ufw would set it).
 */
static void
w_ufw(uint32_t n, const void *arg)
{
	char		*dir, *etc, *p, *buf, a[32], port[16];
	unsigned	 pn;
	size_t		 len;
	int		 fd, k;

	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		emit("load.ufw", n, 0, 0, 0, 0, 0, "no private mount namespace");
		return;
	}
	dir = wpath("ufw-%d", (int)getpid());
	etc = xasprintf("%s/etc", dir);
	if (mkdir(dir, 0700) == -1)
		die("%s: %s", dir, strerror(errno));
	char *cp[] = { "/bin/cp", "-a", "/etc/ufw", etc, NULL };
	setup(cp);
	p = xasprintf("%s/sysctl.conf", etc);
	if ((fd = open(p, O_WRONLY | O_TRUNC)) != -1)
		close(fd);
	free(p);
	p = wpath("ufw-%u.rules", n);
	buf = slurp(p, &len);
	free(p);
	p = xasprintf("%s/user.rules", etc);
	if ((fd = open(p, O_WRONLY | O_TRUNC)) == -1 ||
	    write(fd, buf, len) != (ssize_t)len || close(fd) == -1)
		die("%s: %s", p, strerror(errno));
	free(p);
	free(buf);
	if (mount(etc, "/etc/ufw", NULL, MS_BIND, NULL) == -1) {
		emit("load.ufw", n, 0, 0, 0, 0, 0, "cannot bind /etc/ufw");
		goto out;
	}
	char *enable[] = { cf.t.ufw, "--force", "enable", NULL };
	if (timed("load.ufw", n, enable, NULL) != 0)
		goto out;
	for (k = 0; k < cf.ops; k++) {
		extra_rule(k, a, sizeof(a), &pn);
		snprintf(port, sizeof(port), "%u", pn);
		char *add[] = { cf.t.ufw, "allow", "from", a, "to", "any",
		    "port", port, "proto", "tcp", NULL };
		char *del[] = { cf.t.ufw, "delete", "allow", "from", a, "to",
		    "any", "port", port, "proto", "tcp", NULL };
		if (timed("add.ufw", n, add, NULL) == 0)
			timed("del.ufw", n, del, NULL);
	}
 out:
	umount2("/etc/ufw", MNT_DETACH);
	if (!cf.keep)
		rm_tree(dir);
	free(etc);
	free(dir);
}

/* Sets: S elements loaded, bulk-added, and changed one at a time. */
static void
one_elem(int k, char *a, size_t len)
{
	snprintf(a, len, "192.168.%d.%d", (k >> 8) & 255, 1 + (k & 127));
}

static void
w_set_nft(uint32_t s, const void *arg)
{
	char	*file, a[32], elem[48];
	int	 k;

	file = wpath("set-%u.nft", s);
	char *argv[] = { cf.t.nft, "-f", file, NULL };
	if (timed("set.load.nft", s, argv, NULL) != 0)
		goto out;
	for (k = 0; k < cf.ops; k++) {
		one_elem(k, a, sizeof(a));
		snprintf(elem, sizeof(elem), "{ %s }", a);
		char *add[] = { cf.t.nft, "add", "element", "inet", "bench",
		    "big", elem, NULL };
		char *del[] = { cf.t.nft, "delete", "element", "inet", "bench",
		    "big", elem, NULL };
		if (timed("set.add1.nft", s, add, NULL) == 0)
			timed("set.del1.nft", s, del, NULL);
	}
out:
	free(file);
}

static void
w_set_fwctl(uint32_t s, const void *arg)
{
	bool		 bulk = *(const bool *)arg;
	struct daemon	 d;
	char		*file, *body, a[32], one[64];
	size_t		 len;
	double		 ms;
	long		 st;
	int		 k;

	daemon_start(&d, "set", bulk ? "set.bulk.fwctl-api" :
	    "set.load.fwctl-api", s);
	if (bulk) {
		/* an empty set, then every element in one request */
		file = wpath("set-empty.rules");
		body = slurp(file, &len);
		st = api(&d, "PUT", "/v1/ruleset", "text/plain", body, len,
		    &ms);
		free(body);
		free(file);
		if (st != 200) {
			char note[160];

			api_note(&d, st, note, sizeof(note));
			emit("set.bulk.fwctl-api", s, 0, 0, 0, 0, 0, note);
			goto out;
		}
		file = wpath("elems-%u.json", s);
		body = slurp(file, &len);
		timed_api(&d, "set.bulk.fwctl-api", s, "POST",
		    "/v1/sets/big/elements", "application/json", body, len);
		free(body);
		free(file);
		daemon_mem(&d, "mem.set", s);
		goto out;
	}
	file = wpath("set-%u.rules", s);
	body = slurp(file, &len);
	if (!timed_api(&d, "set.load.fwctl-api", s, "PUT", "/v1/ruleset",
	    "text/plain", body, len))
		goto out1;
	for (k = 0; k < cf.ops; k++) {
		one_elem(k, a, sizeof(a));
		snprintf(one, sizeof(one), "{\"elements\":[\"%s\"]}", a);
		if (timed_api(&d, "set.add1.fwctl-api", s, "POST",
		    "/v1/sets/big/elements", "application/json", one,
		    strlen(one)))
			timed_api(&d, "set.del1.fwctl-api", s, "DELETE",
			    "/v1/sets/big/elements", "application/json", one,
			    strlen(one));
		one_elem(1000 + k, a, sizeof(a));
		char *add[] = { cf.t.fwctl, "--socket", d.sock, "add-element",
		    "big", a, NULL };
		char *del[] = { cf.t.fwctl, "--socket", d.sock,
		    "delete-element", "big", a, NULL };
		if (timed("set.add1.fwctl-cli", s, add, NULL) == 0)
			timed("set.del1.fwctl-cli", s, del, NULL);
	}
	if (daemon_count(&d, "elements") != (long)s)
		emit("check.fwctl-set", s, 0, 0, 0, 0, 0,
		    "element count changed after add/delete pairs");
out1:
	free(body);
	free(file);
out:
	daemon_stop(&d);
}

/* ---- the report ---------------------------------------------------- */

struct label {
	const char	*key;
	const char	*label;
	const char	*vs;		/* peer key for the ratio column */
};

static const struct label load_rows[] = {
	{ "load.nft", "nft -f", NULL },
	{ "load.nft-pairs", "nft -f (the pairs as one set)", NULL },
	{ "load.ipt-nft", "iptables-nft-restore", NULL },
	{ "load.ipt-legacy", "iptables-legacy-restore", NULL },
	{ "load.ufw", "ufw --force enable (N user rules)", NULL },
	{ "load.fwctl-api", "fwctl PUT /v1/ruleset (API)", "load.nft" },
	{ "load.fwctl-cli", "fwctl apply FILE (whole CLI)", "load.nft" },
	{ NULL, NULL, NULL }
};

static const struct label incr_rows[] = {
	{ "add.nft", "nft -e -a add rule", NULL },
	{ "del.nft", "nft delete rule handle H", NULL },
	{ "add.ipt-nft", "iptables-nft -A", NULL },
	{ "del.ipt-nft", "iptables-nft -D", NULL },
	{ "add.ipt-legacy", "iptables-legacy -A", NULL },
	{ "del.ipt-legacy", "iptables-legacy -D", NULL },
	{ "add.ufw", "ufw allow", NULL },
	{ "del.ufw", "ufw delete allow", NULL },
	{ "add.fwctl-cli", "fwctl add-rule (whole CLI)", "add.nft" },
	{ "del.fwctl-cli", "fwctl delete-rule (whole CLI)", "del.nft" },
	{ "start.fwctl-cli", "fwctl --version (start only)", NULL },
	{ "add.fwctl-api", "fwctl POST /v1/rules (API)", "add.nft" },
	{ "del.fwctl-api", "fwctl DELETE /v1/rules/N (API)", "del.nft" },
	{ NULL, NULL, NULL }
};

static const struct label set_rows[] = {
	{ "set.load.nft", "nft -f (set of S)", NULL },
	{ "set.add1.nft", "nft add element (one)", NULL },
	{ "set.del1.nft", "nft delete element (one)", NULL },
	{ "set.load.fwctl-api", "fwctl PUT /v1/ruleset (set of S)",
	    "set.load.nft" },
	{ "set.bulk.fwctl-api", "fwctl POST elements (S at once)",
	    "set.load.nft" },
	{ "set.add1.fwctl-api", "fwctl POST one element (API)",
	    "set.add1.nft" },
	{ "set.del1.fwctl-api", "fwctl DELETE one element (API)",
	    "set.del1.nft" },
	{ "set.add1.fwctl-cli", "fwctl add-element (whole CLI)",
	    "set.add1.nft" },
	{ "set.del1.fwctl-cli", "fwctl delete-element (whole CLI)",
	    "set.del1.nft" },
	{ NULL, NULL, NULL }
};

static void
print_table(const char *title, const struct label *rows, uint32_t size)
{
	const struct label	*l;
	struct metric		*m;
	double			 md, vs;
	char			 ratio[16], rss[32];

	printf("\n%s\n", title);
	printf("  %-34s %9s %9s %9s %8s %8s %9s %8s\n", "", "median ms",
	    "min", "max", "user ms", "sys ms", "peak RSS", "fwctl/");
	printf("  %-34s %9s %9s %9s %8s %8s %9s %8s\n", "tool", "", "", "", "",
	    "", "", "nft");
	for (l = rows; l->key != NULL; l++) {
		m = metric_get(l->key, size, false);
		if (m == NULL)
			continue;
		if (m->n == 0) {
			printf("  %-34s FAILED (%zu): %s\n", l->label, m->fails,
			    m->note);
			continue;
		}
		md = median(m->ms, m->n);
		ratio[0] = '\0';
		if (l->vs != NULL && (vs = med(l->vs, size)) > 0)
			snprintf(ratio, sizeof(ratio), "%.2fx", md / vs);
		rss[0] = '\0';
		if (m->rss_kb > 0)
			snprintf(rss, sizeof(rss), "%ld MB",
			    (m->rss_kb + 512) / 1024);
		printf("  %-34s %9.1f %9.1f %9.1f %8.1f %8.1f %9s %8s%s\n",
		    l->label, md, vmin(m->ms, m->n), vmax(m->ms, m->n),
		    median(m->user, m->n), median(m->sys, m->n), rss, ratio,
		    m->fails ? "  (some runs failed)" : "");
	}
}

static void
print_daemon(uint32_t size)
{
	struct metric	*m;
	double		 rss, hwm;

	if ((m = metric_get("load.fwctl-api", size, false)) != NULL &&
	    m->n > 0)
		printf("  fwctld CPU during the PUT (median): user %.0f ms, "
		    "sys %.0f ms (10 ms ticks)\n", median(m->user, m->n),
		    median(m->sys, m->n));
	rss = med("mem.api.rss", size);
	hwm = med("mem.api.hwm", size);
	if (rss > 0)
		printf("  fwctld memory with %u rules loaded: VmRSS %.1f MB, "
		    "VmHWM %.1f MB\n", size, rss / 1024, hwm / 1024);
}

static int	npass, nmiss, nna;

static void
verdict(const char *what, bool have, bool pass, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
verdict(const char *what, bool have, bool pass, const char *fmt, ...)
{
	va_list	ap;

	printf("  %-5s %s: ", !have ? "n/a" : pass ? "PASS" : "MISS", what);
	if (have) {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	} else
		printf("not measured (size not in this run, or it failed)");
	putchar('\n');
	if (!have)
		nna++;
	else if (pass)
		npass++;
	else
		nmiss++;
}

/*
 * What a whole-CLI figure at 50,000 rules is made of, as words after it:
 * the CLI's start alone (fwctl --version) and, when api names one, the
 * same change through the API (no CLI); "" when neither was measured.
 */
static const char *
cli_parts(const char *api, char *buf, size_t len)
{
	double st = med("start.fwctl-cli", 50000);
	double a = api != NULL ? med(api, 50000) : -1;

	if (st > 0 && a > 0)
		snprintf(buf, len, " (the CLI's start alone %.2f ms; through "
		    "the API %.2f ms)", st, a);
	else if (st > 0)
		snprintf(buf, len, " (the CLI's start alone %.2f ms)", st);
	else
		buf[0] = '\0';
	return buf;
}

static void
print_targets(void)
{
	double	f, p, a1, a50;
	char	part[96];
	int	i;
	static const uint32_t full_sizes[] = { 10000, 50000 };

	printf("\nTargets\n");
	for (i = 0; i < 2; i++) {
		char what[96];

		snprintf(what, sizeof(what), "full apply of %u rules through "
		    "the daemon <= 0.6x nft -f", full_sizes[i]);
		f = med("load.fwctl-api", full_sizes[i]);
		p = med("load.nft", full_sizes[i]);
		verdict(what, f > 0 && p > 0, f > 0 && p > 0 && f <= 0.6 * p,
		    "API %.1f ms / nft -f %.1f ms = %.2fx (whole CLI: %.2fx)",
		    f, p, p > 0 ? f / p : 0,
		    p > 0 ? med("load.fwctl-cli", full_sizes[i]) / p : 0);
	}
	for (i = 0; i < 2; i++) {
		const char *key = i == 0 ? "add.fwctl-cli" : "del.fwctl-cli";
		char what[96];

		snprintf(what, sizeof(what), "fwctl %s in 50000 rules <= 5 ms",
		    i == 0 ? "add-rule" : "delete-rule");
		a50 = med(key, 50000);
		verdict(what, a50 > 0, a50 > 0 && a50 <= 5.0, "%.2f ms%s", a50,
		    cli_parts(i == 0 ? "add.fwctl-api" : "del.fwctl-api",
		    part, sizeof(part)));
		snprintf(what, sizeof(what), "fwctl %s flat: 50000 <= 1.5x "
		    "1000", i == 0 ? "add-rule" : "delete-rule");
		a1 = med(key, 1000);
		verdict(what, a1 > 0 && a50 > 0, a1 > 0 && a50 > 0 &&
		    a50 <= 1.5 * a1, "%.2f ms at 50000, %.2f ms at 1000 = %.2fx",
		    a50, a1, a1 > 0 ? a50 / a1 : 0);
	}
	f = med("set.add1.fwctl-api", cf.set_size);
	verdict("one element added to a set of S through the API <= 3 ms",
	    f > 0, f > 0 && f <= 3.0, "%.2f ms (S = %u)", f, cf.set_size);
	f = med("set.bulk.fwctl-api", cf.set_size);
	{
		struct metric *m = metric_get("set.bulk.fwctl-api",
		    cf.set_size, false);

		if (f < 0 && m != NULL && m->fails > 0)
			verdict("bulk add of S elements in one request <= "
			    "500 ms", true, false, "failed: %s", m->note);
		else
			verdict("bulk add of S elements in one request <= "
			    "500 ms", f > 0, f > 0 && f <= 500, "%.1f ms "
			    "(S = %u)", f, cf.set_size);
	}
	f = med("mem.api.rss", 50000);
	verdict("fwctld VmRSS with 50000 rules loaded <= 60 MB", f > 0,
	    f > 0 && f <= 60 * 1024, "%.1f MB (VmHWM %.1f MB)", f / 1024,
	    med("mem.api.hwm", 50000) / 1024);
	print_mixed_targets();
	printf("  (the 10-changes-in-50000 target is asserted by "
	    "tests/lab_bench_plan.c)\n");
	printf("\n%d PASS, %d MISS, %d not measured\n", npass, nmiss, nna);
}

static int
print_checks(void)
{
	size_t	i;
	int	bad = 0;

	for (i = 0; i < nmetrics; i++)
		if (strncmp(metrics[i].key, "check.", 6) == 0 && ++bad)
			printf("CHECK FAILED %s at %u: %s\n", metrics[i].key,
			    metrics[i].size, metrics[i].note);
	return bad;
}

/* ---- mixed rulesets: the workloads -------------------------------- */

/* Splits text at spaces into argv[from...]; returns the next free slot. */
static int
split_words(char *text, char **argv, int from, int max)
{
	char	*w, *save = NULL;

	for (w = strtok_r(text, " ", &save); w != NULL && from < max - 1;
	    w = strtok_r(NULL, " ", &save))
		argv[from++] = w;
	argv[from] = NULL;
	return from;
}

/* A peer loads the mixed ruleset: nft -f, or iptables and ip6tables. */
static void
w_mix_peer(uint32_t n, const void *arg)
{
	int	 which = *(const int *)arg;
	char	*f4, *f6, *cmd;

	if (which == 0) {
		f4 = wpath("mixed-%u.nft", n);
		char *argv[] = { cf.t.nft, "-f", f4, NULL };
		timed("mix.load.nft", n, argv, NULL);
		free(f4);
		return;
	}
	f4 = wpath("mixed-%u.ipt", n);
	f6 = wpath("mixed-%u.ip6t", n);
	cmd = xasprintf("%s %s && %s %s", which == 1 ? cf.t.ipt_nft :
	    cf.t.ipt_legacy, f4, which == 1 ? cf.t.ip6t_nft :
	    cf.t.ip6t_legacy, f6);
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	timed(which == 1 ? "mix.load.ipt-nft" : "mix.load.ipt-legacy", n,
	    argv, NULL);
	free(cmd);
	free(f4);
	free(f6);
}

/* fwctld loads the mixed ruleset: PUT (API), or fwctl apply (CLI). */
static void
w_mix_fwctl(uint32_t n, const void *arg)
{
	bool		 cli = *(const bool *)arg;
	struct daemon	 d;
	char		*file, *body, note[96];
	size_t		 len;
	long		 got;

	file = wpath("mixed-%u.rules", n);
	daemon_start(&d, "mixload", cli ? "mix.load.fwctl-cli" :
	    "mix.load.fwctl-api", n);
	if (cli) {
		char *argv[] = { cf.t.fwctl, "--socket", d.sock, "apply", file,
		    NULL };
		timed("mix.load.fwctl-cli", n, argv, NULL);
	} else {
		body = slurp(file, &len);
		timed_api(&d, "mix.load.fwctl-api", n, "PUT", "/v1/ruleset",
		    "text/plain", body, len);
		free(body);
		daemon_mem(&d, "mix.mem", n);
	}
	if ((got = daemon_count(&d, "rules")) != (long)n) {
		snprintf(note, sizeof(note), "the daemon holds %ld rules, not "
		    "%u", got, n);
		emit("check.fwctl-mix-load", n, 0, 0, 0, 0, 0, note);
	}
	daemon_stop(&d);
	free(file);
}

/*
 * fwctld starts with the mixed ruleset in its rules directory: into an
 * empty namespace (a boot), then again over the table it left (a
 * restart: the table is adopted, drift looked for, counters kept).
 */
static void
w_mix_start(uint32_t n, const void *arg)
{
	struct daemon	 d;
	char		*file;
	double		 ms;

	(void)arg;
	file = wpath("mixed-%u.rules", n);
	ms = daemon_start_with(&d, "mixstart", "mix.start.boot", n, file);
	emit("mix.start.boot", n, 1, ms, 0, 0, 0, NULL);
	daemon_halt(&d);
	d.failkey = "mix.start.restart";
	ms = daemon_spawn(&d);
	emit("mix.start.restart", n, 1, ms, 0, 0, 0, NULL);
	if (daemon_count(&d, "rules") != (long)n)
		emit("check.fwctl-mix-start", n, 0, 0, 0, 0, 0,
		    "the daemon does not hold the rules after a restart");
	daemon_stop(&d);
	free(file);
}

/* fwctl CLI words: argv[0..3] the command, then NAME and the rule's words
 * from text (overwritten), then extra (may be NULL): NULL-terminated. */
static void
cli_words(struct daemon *d, char *cmd, char *name, char *text, char *extra,
    char **argv)
{
	int	w;

	argv[0] = cf.t.fwctl;
	argv[1] = "--socket";
	argv[2] = d->sock;
	argv[3] = cmd;
	argv[4] = name;
	if (text == NULL) {
		argv[5] = NULL;
		return;
	}
	split_words(text, argv, 5, 60);
	for (w = 5; argv[w] != NULL; w++)
		;
	if (extra != NULL) {
		argv[w++] = "--position";
		argv[w++] = extra;
		argv[w] = NULL;
	}
}

/*
 * The single changes an administrator makes beside appending a new key,
 * for shape k of n mixed rules (op: which one this round): a rule of the
 * shape replaced in place by one with a new key (and back); a rule of a
 * new key inserted at the top (and deleted); a rule repeating the key of a
 * rule of the shape already there, appended (and deleted). Each timed as
 * the whole CLI.
 */
static void
mix_incr_more(struct daemon *d, uint32_t n, int k, int op, char *text,
    size_t len, char **argv)
{
	char		 name[32], key[32], old[256];
	uint32_t	 j = n / MIX_SHAPES / 2 + (uint32_t)op;

	if (n / MIX_SHAPES < 2 * (uint32_t)cf.ops + 2)
		return;
	/* replace rule m(8j+k) in place: a new key, then its own again */
	snprintf(name, sizeof(name), "m%u", j * MIX_SHAPES + (uint32_t)k);
	snprintf(key, sizeof(key), "mix.rep.%d", k);
	mix_fwctl(k, j, old, sizeof(old));
	mix_fwctl(k, MIX_EXTRA_J + 100 + (uint32_t)op, text, len);
	cli_words(d, "replace-rule", name, text, NULL, argv);
	if (timed(key, n, argv, NULL) == 0) {
		cli_words(d, "replace-rule", name, old, NULL, argv);
		setup(argv);
	}
	/* a new key inserted first */
	snprintf(name, sizeof(name), "t%d-%d", k, op);
	snprintf(key, sizeof(key), "mix.top.%d", k);
	mix_fwctl(k, MIX_EXTRA_J + 200 + (uint32_t)op, text, len);
	cli_words(d, "add-rule", name, text, "1", argv);
	if (timed(key, n, argv, NULL) == 0) {
		cli_words(d, "delete-rule", name, NULL, NULL, argv);
		setup(argv);
	}
	/* a key already there, under another name, appended */
	snprintf(name, sizeof(name), "d%d-%d", k, op);
	snprintf(key, sizeof(key), "mix.dup.%d", k);
	mix_fwctl(k, j, text, len);
	cli_words(d, "add-rule", name, text, NULL, argv);
	if (timed(key, n, argv, NULL) == 0) {
		snprintf(key, sizeof(key), "mix.dupdel.%d", k);
		cli_words(d, "delete-rule", name, NULL, NULL, argv);
		timed(key, n, argv, NULL);
	}
}

/* One rule of every shape added and deleted, ops times: fwctl CLI. */
static void
w_mix_incr_fwctl(uint32_t n, const void *arg)
{
	struct daemon	 d;
	char		*file, *body, text[256], name[32], ka[32], kd[32];
	char		*argv[64];
	size_t		 len;
	double		 ms;
	long		 st;
	int		 k, op, w;

	(void)arg;
	file = wpath("mixed-%u.rules", n);
	daemon_start(&d, "mixincr", "mix.add.0", n);
	body = slurp(file, &len);
	if ((st = api(&d, "PUT", "/v1/ruleset", "text/plain", body, len,
	    &ms)) != 200) {
		char note[160];

		api_note(&d, st, note, sizeof(note));
		emit("mix.add.0", n, 0, 0, 0, 0, 0, note);
		goto out;
	}
	for (op = 0; op < cf.ops; op++)
		for (k = 0; k < MIX_SHAPES; k++) {
			snprintf(name, sizeof(name), "x%d-%d", k, op);
			snprintf(ka, sizeof(ka), "mix.add.%d", k);
			snprintf(kd, sizeof(kd), "mix.del.%d", k);
			mix_fwctl(k, MIX_EXTRA_J + (uint32_t)op, text,
			    sizeof(text));
			argv[0] = cf.t.fwctl;
			argv[1] = "--socket";
			argv[2] = d.sock;
			argv[3] = "add-rule";
			argv[4] = name;
			split_words(text, argv, 5, 64);
			if (timed(ka, n, argv, NULL) != 0)
				continue;
			w = 0;
			argv[w++] = cf.t.fwctl;
			argv[w++] = "--socket";
			argv[w++] = d.sock;
			argv[w++] = "delete-rule";
			argv[w++] = name;
			argv[w] = NULL;
			timed(kd, n, argv, NULL);
			mix_incr_more(&d, n, k, op, text, sizeof(text), argv);
		}
	if (daemon_count(&d, "rules") != (long)n)
		emit("check.fwctl-mix-incr", n, 0, 0, 0, 0, 0,
		    "rule count changed after add/delete pairs");
out:
	free(body);
	daemon_stop(&d);
	free(file);
}

/* The same with nft: add rule (echoing the handle), delete by handle. */
static void
w_mix_incr_nft(uint32_t n, const void *arg)
{
	char		*file, *out, text[256], ka[32], kd[32], h[24];
	char		*argv[64];
	const char	*chain;
	long		 handle;
	int		 k, op;

	(void)arg;
	file = wpath("mixed-%u.nft", n);
	out = wpath("out.%d", (int)getpid());
	{
		char *load[] = { cf.t.nft, "-f", file, NULL };
		setup(load);
	}
	for (op = 0; op < cf.ops; op++)
		for (k = 0; k < MIX_SHAPES; k++) {
			snprintf(ka, sizeof(ka), "mix.add.nft.%d", k);
			snprintf(kd, sizeof(kd), "mix.del.nft.%d", k);
			chain = mix_nft(k, MIX_EXTRA_J + (uint32_t)op, text,
			    sizeof(text));
			argv[0] = cf.t.nft;
			argv[1] = "-e";
			argv[2] = "-a";
			argv[3] = "add";
			argv[4] = "rule";
			argv[5] = "inet";
			argv[6] = "bench";
			argv[7] = (char *)(uintptr_t)chain;
			split_words(text, argv, 8, 64);
			if (timed(ka, n, argv, out) != 0)
				continue;
			if ((handle = nft_handle(out)) < 0) {
				emit(kd, n, 0, 0, 0, 0, 0,
				    "no handle echoed by nft -e -a");
				continue;
			}
			snprintf(h, sizeof(h), "%ld", handle);
			char *del[] = { cf.t.nft, "delete", "rule", "inet",
			    "bench", (char *)(uintptr_t)chain, "handle", h,
			    NULL };
			timed(kd, n, del, NULL);
		}
	unlink(out);
	free(out);
	free(file);
}

/* ---- the report: mixed rulesets ------------------------------------ */

static const struct label mix_load_rows[] = {
	{ "mix.load.nft", "nft -f", NULL },
	{ "mix.load.ipt-nft", "ip(6)tables-nft-restore", NULL },
	{ "mix.load.ipt-legacy", "ip(6)tables-legacy-restore", NULL },
	{ "mix.load.fwctl-api", "fwctl PUT /v1/ruleset (API)",
	    "mix.load.nft" },
	{ "mix.load.fwctl-cli", "fwctl apply FILE (whole CLI)",
	    "mix.load.nft" },
	{ "mix.start.boot", "fwctld start, empty namespace", NULL },
	{ "mix.start.restart", "fwctld restart over its table", NULL },
	{ NULL, NULL, NULL }
};

/* The median of every sample of prefix.0 .. prefix.7 together. */
static double
mix_med_all(const char *prefix, uint32_t size)
{
	struct metric	*m;
	double		*v = NULL, r;
	size_t		 n = 0;
	char		 key[32];
	int		 k;

	for (k = 0; k < MIX_SHAPES; k++) {
		snprintf(key, sizeof(key), "%s.%d", prefix, k);
		if ((m = metric_get(key, size, false)) == NULL || m->n == 0)
			continue;
		if ((v = realloc(v, (n + m->n) * sizeof(*v))) == NULL)
			die("out of memory");
		memcpy(v + n, m->ms, m->n * sizeof(*v));
		n += m->n;
	}
	r = n ? median(v, n) : -1;
	free(v);
	return r;
}

/* The shape with the largest median under prefix, and that median. */
static double
mix_worst(const char *prefix, uint32_t size, int *worst)
{
	char	key[32];
	double	w = -1, x;
	int	k;

	*worst = -1;
	for (k = 0; k < MIX_SHAPES; k++) {
		snprintf(key, sizeof(key), "%s.%d", prefix, k);
		if ((x = med(key, size)) > w) {
			w = x;
			*worst = k;
		}
	}
	return w;
}

static void
print_mixed(uint32_t n)
{
	static const char *const more[][2] = {
		{ "mix.rep", "  replace-rule (a new key)" },
		{ "mix.top", "  add-rule --position 1" },
		{ "mix.dup", "  add-rule of a key already there" },
		{ "mix.dupdel", "    its delete-rule" },
	};
	static char	 lab[8 * MIX_SHAPES][64], key[8 * MIX_SHAPES][32];
	struct label	 rows[8 * MIX_SHAPES + 1];
	size_t		 m;
	char		 title[160];
	double		 rss, hwm;
	int		 k, i = 0, w;

	snprintf(title, sizeof(title), "== %u mixed rules (%d shapes): full "
	    "load into an empty namespace, start (%d runs) ==", n, MIX_SHAPES,
	    cf.runs);
	print_table(title, mix_load_rows, n);
	rss = med("mix.mem.rss", n);
	hwm = med("mix.mem.hwm", n);
	if (rss > 0)
		printf("  fwctld memory with %u mixed rules loaded: VmRSS %.1f "
		    "MB, VmHWM %.1f MB\n", n, rss / 1024, hwm / 1024);
	for (k = 0; k < MIX_SHAPES; k++) {
		snprintf(key[i], sizeof(key[i]), "mix.add.%d", k);
		snprintf(lab[i], sizeof(lab[i]), "add %.30s", mix_shape[k]);
		rows[i] = (struct label){ key[i], lab[i], key[i + 2] };
		i++;
		snprintf(key[i], sizeof(key[i]), "mix.del.%d", k);
		snprintf(lab[i], sizeof(lab[i]), "  delete");
		rows[i] = (struct label){ key[i], lab[i], key[i + 2] };
		i++;
		snprintf(key[i], sizeof(key[i]), "mix.add.nft.%d", k);
		snprintf(lab[i], sizeof(lab[i]), "  nft -e -a add rule");
		rows[i] = (struct label){ key[i], lab[i], NULL };
		i++;
		snprintf(key[i], sizeof(key[i]), "mix.del.nft.%d", k);
		snprintf(lab[i], sizeof(lab[i]), "  nft delete rule handle H");
		rows[i] = (struct label){ key[i], lab[i], NULL };
		i++;
		for (m = 0; m < sizeof(more) / sizeof(more[0]); m++) {
			snprintf(key[i], sizeof(key[i]), "%s.%d", more[m][0],
			    k);
			snprintf(lab[i], sizeof(lab[i]), "%s", more[m][1]);
			rows[i] = (struct label){ key[i], lab[i], NULL };
			i++;
		}
	}
	rows[i] = (struct label){ NULL, NULL, NULL };
	snprintf(title, sizeof(title), "== %u mixed rules: one rule of each "
	    "shape added, then deleted; fwctl add-rule / delete-rule, whole "
	    "CLI (%d runs x %d) ==", n, cf.runs, cf.ops);
	print_table(title, rows, n);
	if (mix_med_all("mix.add", n) > 0) {
		printf("  every shape together: add-rule median %.1f ms, "
		    "delete-rule median %.1f ms\n", mix_med_all("mix.add", n),
		    mix_med_all("mix.del", n));
		printf("  worst shape: add %.1f ms (", mix_worst("mix.add", n,
		    &w));
		printf("%s), ", w >= 0 ? mix_shape[w] : "?");
		printf("delete %.1f ms (", mix_worst("mix.del", n, &w));
		printf("%s)\n", w >= 0 ? mix_shape[w] : "?");
	}
	for (m = 0; m < sizeof(more) / sizeof(more[0]); m++)
		if (mix_med_all(more[m][0], n) > 0) {
			printf("  %s: median %.1f ms, worst %.1f ms (",
			    more[m][1] + 2, mix_med_all(more[m][0], n),
			    mix_worst(more[m][0], n, &w));
			printf("%s)\n", w >= 0 ? mix_shape[w] : "?");
		}
	fflush(stdout);
}

static void
print_mixed_targets(void)
{
	double	f, p, a1, a50, worst_ratio;
	char	part[96];
	int	i, k, w;
	static const uint32_t full_sizes[] = { 10000, 50000 };

	for (i = 0; i < 2; i++) {
		char what[96];

		snprintf(what, sizeof(what), "full apply of %u mixed rules "
		    "through the daemon <= 0.5x nft -f", full_sizes[i]);
		f = med("mix.load.fwctl-api", full_sizes[i]);
		p = med("mix.load.nft", full_sizes[i]);
		verdict(what, f > 0 && p > 0, f > 0 && p > 0 && f <= 0.5 * p,
		    "API %.1f ms / nft -f %.1f ms = %.2fx (whole CLI: %.2fx)",
		    f, p, p > 0 ? f / p : 0,
		    p > 0 ? med("mix.load.fwctl-cli", full_sizes[i]) / p : 0);
	}
	f = med("mix.start.boot", 50000);
	p = med("mix.start.restart", 50000);
	verdict("fwctld start with 50000 mixed rules <= 2 s (boot and "
	    "restart)", f > 0 && p > 0, f > 0 && p > 0 && f <= 2000 &&
	    p <= 2000, "boot %.0f ms, restart %.0f ms", f, p);
	for (i = 0; i < 2; i++) {
		const char *pre = i == 0 ? "mix.add" : "mix.del";
		const char *cmd = i == 0 ? "add-rule" : "delete-rule";
		char what[96], key[32];

		snprintf(what, sizeof(what), "fwctl %s of every shape in 50000 "
		    "mixed rules <= 5 ms", cmd);
		a50 = mix_worst(pre, 50000, &w);
		verdict(what, a50 > 0, a50 > 0 && a50 <= 5.0, "worst %.2f ms "
		    "(%s)%s", a50, w >= 0 ? mix_shape[w] : "?", cli_parts(NULL,
		    part, sizeof(part)));
		worst_ratio = -1;
		w = -1;
		for (k = 0; k < MIX_SHAPES; k++) {
			snprintf(key, sizeof(key), "%s.%d", pre, k);
			a1 = med(key, 1000);
			a50 = med(key, 50000);
			if (a1 > 0 && a50 > 0 && a50 / a1 > worst_ratio) {
				worst_ratio = a50 / a1;
				w = k;
			}
		}
		snprintf(what, sizeof(what), "fwctl %s flat for every shape: "
		    "50000 <= 1.5x 1000", cmd);
		verdict(what, worst_ratio > 0, worst_ratio > 0 &&
		    worst_ratio <= 1.5, "worst %.2fx (%s)", worst_ratio,
		    w >= 0 ? mix_shape[w] : "?");
	}
	f = med("mix.mem.rss", 50000);
	verdict("fwctld VmRSS with 50000 mixed rules loaded <= 60 MB", f > 0,
	    f > 0 && f <= 60 * 1024, "%.1f MB (VmHWM %.1f MB)", f / 1024,
	    med("mix.mem.hwm", 50000) / 1024);
}

static void
run_mixed(uint32_t n)
{
	static const int	 which[3] = { 0, 1, 2 };
	static const bool	 t = true, f = false;
	int			 r;

	fprintf(stderr, "bench: %u mixed rules: generating\n", n);
	gen_mixed(n);
	fprintf(stderr, "bench: %u mixed rules: full loads and starts, %d "
	    "runs\n", n, cf.runs);
	for (r = 0; r < cf.runs; r++) {
		if (cf.peers) {
			in_namespace(w_mix_peer, n, &which[0]);
			if (cf.t.ipt_nft && cf.t.ip6t_nft)
				in_namespace(w_mix_peer, n, &which[1]);
			if (cf.t.ipt_legacy && cf.t.ip6t_legacy)
				in_namespace(w_mix_peer, n, &which[2]);
		}
		if (!timed_out("mix.load.fwctl-api", n))
			in_namespace(w_mix_fwctl, n, &f);
		if (!timed_out("mix.load.fwctl-cli", n))
			in_namespace(w_mix_fwctl, n, &t);
		if (!timed_out("mix.start.boot", n) &&
		    !timed_out("mix.start.restart", n))
			in_namespace(w_mix_start, n, NULL);
	}
	fprintf(stderr, "bench: %u mixed rules: one rule of each shape added "
	    "and deleted, %d runs x %d\n", n, cf.runs, cf.ops);
	for (r = 0; r < cf.runs; r++) {
		if (cf.peers)
			in_namespace(w_mix_incr_nft, n, NULL);
		if (!timed_out("mix.add.0", n))
			in_namespace(w_mix_incr_fwctl, n, NULL);
	}
	if (!cf.keep)
		unlink_mixed(n);
	print_mixed(n);
}

/* ---- main ---------------------------------------------------------- */

/* Other work on the machine skews every figure: say how much there was. */
static void
print_load(const char *when)
{
	char	 buf[128] = "";
	FILE	*f = fopen("/proc/loadavg", "r");

	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	printf("load average %s: %s\n", when, buf);
}

static __attribute__((noreturn)) void
usage(int st)
{
	fprintf(st ? stderr : stdout,
	    "usage: bench [--sizes N,N,...] [--mixed-sizes N,N,...] "
	    "[--set-size S]\n"
	    "             [--runs R] [--ops K]\n"
	    "             [--fwctld PATH] [--fwctl PATH] [--no-peers] "
	    "[--workdir DIR]\n"
	    "             [--keep] [--timeout SECONDS] "
	    "[--request-timeout SECONDS] [--verbose]\n"
	    "defaults: --sizes 1000,10000,50000,100000 --mixed-sizes "
	    "1000,10000,50000,100000\n"
	    "          --set-size 100000 --runs 5 --ops 3 (a size list of "
	    "0: none)\n");
	exit(st);
}

static uint32_t
parse_u32(const char *s, const char *what)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > 10000000)
		die("%s: not a count: %s", what, s);
	return (uint32_t)v;
}

/* A list of sizes; "0" alone: none. */
static size_t
parse_sizes(char *s, uint32_t *out, const char *what)
{
	char	*t, *save = NULL;
	size_t	 n = 0;

	if (strcmp(s, "0") == 0)
		return 0;
	for (t = strtok_r(s, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		if (n == MAX_SIZES)
			die("%s: at most %d sizes", what, MAX_SIZES);
		if ((out[n++] = parse_u32(t, what)) == 0 ||
		    out[n - 1] > (1u << 24))
			die("%s: 1 to %u", what, 1u << 24);
	}
	if (n == 0)
		die("%s: give at least one size (0: none)", what);
	return n;
}

static char *
abs_tool(const char *p)
{
	char	*r = realpath(p, NULL);

	if (r == NULL || access(r, X_OK) != 0)
		die("%s: not an executable (run `make` first)", p);
	return r;
}

/*
 * The binaries under test, copied into the work directory: others may
 * rebuild the tree while a long run goes on, and every figure of one run
 * must come from one build.
 */
static char *
snapshot_tool(const char *src, const char *name)
{
	char	*dst = wpath("%s", name), *buf;
	size_t	 len;
	int	 fd;

	buf = slurp(src, &len);
	if ((fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0755)) == -1 || write(fd, buf, len) != (ssize_t)len ||
	    close(fd) == -1)
		die("%s: %s", dst, strerror(errno));
	free(buf);
	return dst;
}

/* True when key at size already ran out of time: not worth repeating. */
static bool
timed_out(const char *key, uint32_t size)
{
	struct metric	*m = metric_get(key, size, false);

	return m != NULL && m->n == 0 && strncmp(m->note, "timeout", 7) == 0;
}

static void	print_size(uint32_t);
static void	print_set(void);

static void
run_all(void)
{
	static const struct peer_load peers[] = {
		{ "load.nft", NULL, "-f", "rules", "nft" },
		{ "load.nft-pairs", NULL, "-f", "pairs", "nft" },
		{ "load.ipt-nft", NULL, NULL, "rules", "ipt" },
		{ "load.ipt-legacy", NULL, NULL, "rules", "ipt" },
	};
	struct peer_load	 pl[4];
	static const bool	 t = true, f = false;
	enum incr_tool		 it;
	size_t			 s, i;
	int			 r;

	memcpy(pl, peers, sizeof(pl));
	pl[0].tool = pl[1].tool = cf.t.nft;
	pl[2].tool = cf.t.ipt_nft;
	pl[3].tool = cf.t.ipt_legacy;
	for (s = 0; s < cf.nsizes; s++) {
		uint32_t n = cf.sizes[s];

		fprintf(stderr, "bench: %u rules: generating\n", n);
		gen_rules(n);
		if (cf.peers && cf.t.ufw != NULL)
			gen_ufw(n);
		fprintf(stderr, "bench: %u rules: full loads, %d runs\n", n,
		    cf.runs);
		/* interleaved, so that drift on the machine hits every tool */
		for (r = 0; r < cf.runs; r++) {
			for (i = 0; cf.peers && i < 4; i++)
				if (pl[i].tool != NULL)
					in_namespace(w_peer_load, n, &pl[i]);
			in_namespace(w_fwctl_load, n, &f);
			in_namespace(w_fwctl_load, n, &t);
		}
		fprintf(stderr, "bench: %u rules: one rule added and deleted, "
		    "%d runs x %d\n", n, cf.runs, cf.ops);
		for (r = 0; r < cf.runs; r++) {
			if (cf.peers) {
				it = INCR_NFT;
				in_namespace(w_incr_peer, n, &it);
				if (cf.t.ipt_nft && cf.t.ipt_nft_cmd) {
					it = INCR_IPT_NFT;
					in_namespace(w_incr_peer, n, &it);
				}
				if (cf.t.ipt_legacy && cf.t.ipt_legacy_cmd) {
					it = INCR_IPT_LEGACY;
					in_namespace(w_incr_peer, n, &it);
				}
			}
			in_namespace(w_incr_fwctl, n, NULL);
		}
		if (cf.peers && cf.t.ufw != NULL) {
			fprintf(stderr, "bench: %u rules: ufw, %d runs x %d\n",
			    n, cf.runs, cf.ops);
			for (r = 0; r < cf.runs; r++)
				in_namespace(w_ufw, n, NULL);
		}
		if (!cf.keep) {
			char *p;

			p = wpath("rules-%u.rules", n); unlink(p); free(p);
			p = wpath("rules-%u.nft", n); unlink(p); free(p);
			p = wpath("pairs-%u.nft", n); unlink(p); free(p);
			p = wpath("rules-%u.ipt", n); unlink(p); free(p);
			p = wpath("ufw-%u.rules", n); unlink(p); free(p);
		}
		print_size(n);
	}
	for (s = 0; s < cf.nmixed; s++)
		run_mixed(cf.mixed[s]);
	if (cf.set_size > 0) {
		fprintf(stderr, "bench: set of %u elements, %d runs\n",
		    cf.set_size, cf.runs);
		gen_set(cf.set_size);
		for (r = 0; r < cf.runs; r++) {
			if (cf.peers)
				in_namespace(w_set_nft, cf.set_size, NULL);
			in_namespace(w_set_fwctl, cf.set_size, &f);
			if (!timed_out("set.bulk.fwctl-api", cf.set_size))
				in_namespace(w_set_fwctl, cf.set_size, &t);
		}
		print_set();
	}
}

/* One size's tables, printed as soon as its runs are done. */
static void
print_size(uint32_t n)
{
	char	title[160];

	snprintf(title, sizeof(title), "== %u rules: full load into an "
	    "empty namespace (%d runs) ==", n, cf.runs);
	print_table(title, load_rows, n);
	print_daemon(n);
	snprintf(title, sizeof(title), "== %u rules: one rule added, then "
	    "deleted (%d runs x %d) ==", n, cf.runs, cf.ops);
	print_table(title, incr_rows, n);
	fflush(stdout);
}

static void
print_set(void)
{
	char	title[160];

	snprintf(title, sizeof(title), "== set of S = %u IPv4 elements "
	    "(%d runs; one-element changes x %d) ==", cf.set_size, cf.runs,
	    cf.ops);
	print_table(title, set_rows, cf.set_size);
	if (med("mem.set.rss", cf.set_size) > 0)
		printf("  fwctld VmRSS after the bulk add: %.1f MB\n",
		    med("mem.set.rss", cf.set_size) / 1024);
	fflush(stdout);
}

static int
print_report(void)
{
	int	bad;

	bad = print_checks();
	print_targets();
	return bad;
}

int
main(int argc, char **argv)
{
	static const char	*def_sizes = "1000,10000,50000,100000";
	char			*sizes, *fwctld = NULL, *fwctl = NULL, *mixed;
	char			*fwctld_src, *fwctl_src;
	char			 tmpl[] = "/var/tmp/fwctl-bench.XXXXXX";
	int			 i, bad;

	sizes = strdup(def_sizes);
	mixed = strdup(def_sizes);
	cf.set_size = 100000;
	cf.runs = 5;
	cf.ops = 3;
	cf.timeout = 900;
	cf.req_timeout = 120;
	cf.peers = true;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

#define OPTV(name)	(strcmp(a, name) == 0 && (v != NULL || \
			    (die("%s needs a value", name), 0)) && ++i)
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			usage(0);
		else if (OPTV("--sizes")) {
			free(sizes);
			sizes = strdup(v);
		} else if (OPTV("--mixed-sizes")) {
			free(mixed);
			mixed = strdup(v);
		} else if (OPTV("--set-size"))
			cf.set_size = parse_u32(v, a);
		else if (OPTV("--runs"))
			cf.runs = (int)parse_u32(v, a);
		else if (OPTV("--ops"))
			cf.ops = (int)parse_u32(v, a);
		else if (OPTV("--timeout"))
			cf.timeout = (int)parse_u32(v, a);
		else if (OPTV("--request-timeout"))
			cf.req_timeout = (int)parse_u32(v, a);
		else if (OPTV("--fwctld"))
			fwctld = strdup(v);
		else if (OPTV("--fwctl"))
			fwctl = strdup(v);
		else if (OPTV("--workdir"))
			cf.workdir = strdup(v);
		else if (strcmp(a, "--no-peers") == 0)
			cf.peers = false;
		else if (strcmp(a, "--keep") == 0)
			cf.keep = true;
		else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0)
			cf.verbose = true;
		else {
			fprintf(stderr, "bench: unknown argument %s\n", a);
			usage(1);
		}
#undef OPTV
	}
	if (cf.runs < 1 || cf.runs > 100 || cf.ops < 1 || cf.ops > 100 ||
	    cf.timeout < 10 || cf.req_timeout < 1 ||
	    cf.req_timeout >= cf.timeout)
		die("--runs and --ops: 1 to 100; --timeout: at least 10; "
		    "--request-timeout: under --timeout");
	cf.nsizes = parse_sizes(sizes, cf.sizes, "--sizes");
	free(sizes);
	cf.nmixed = parse_sizes(mixed, cf.mixed, "--mixed-sizes");
	free(mixed);
	if (geteuid() != 0)
		die("run as root: every measurement makes a network namespace");

	fwctld_src = abs_tool(fwctld ? fwctld : "daemon/fwctld");
	fwctl_src = abs_tool(fwctl ? fwctl : "cli/fwctl");
	cf.t.nft = find_tool("nft");
	cf.t.ipt_nft = find_tool("iptables-nft-restore");
	cf.t.ipt_legacy = find_tool("iptables-legacy-restore");
	cf.t.ipt_nft_cmd = find_tool("iptables-nft");
	cf.t.ipt_legacy_cmd = find_tool("iptables-legacy");
	cf.t.ip6t_nft = find_tool("ip6tables-nft-restore");
	cf.t.ip6t_legacy = find_tool("ip6tables-legacy-restore");
	cf.t.ufw = find_tool("ufw");
	cf.t.firewalld = find_tool("firewalld");
	if (cf.t.nft == NULL)
		die("nft not found: the reference peer is required");
	if (cf.t.ipt_nft == NULL && cf.t.ipt_legacy == NULL)
		fprintf(stderr, "bench: no iptables-restore: apt-get install "
		    "iptables to compare with it\n");
	if (cf.workdir == NULL) {
		if (mkdtemp(tmpl) == NULL)
			die("mkdtemp %s: %s", tmpl, strerror(errno));
		cf.workdir = strdup(tmpl);
	} else if (mkdir(cf.workdir, 0700) == -1 && errno != EEXIST)
		die("%s: %s", cf.workdir, strerror(errno));
	cf.t.fwctld = snapshot_tool(fwctld_src, "fwctld");
	cf.t.fwctl = snapshot_tool(fwctl_src, "fwctl");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		die("curl_global_init failed");
	signal(SIGPIPE, SIG_IGN);

	printf("fwctl benchmark: %ld CPUs, sizes", sysconf(_SC_NPROCESSORS_ONLN));
	for (i = 0; i < (int)cf.nsizes; i++)
		printf("%s%u", i ? "," : " ", cf.sizes[i]);
	printf(", mixed");
	for (i = 0; i < (int)cf.nmixed; i++)
		printf("%s%u", i ? "," : " ", cf.mixed[i]);
	printf(", set %u, %d runs, %d ops, state on %s\n", cf.set_size,
	    cf.runs, cf.ops, cf.workdir);
	printf("fwctld %s (copied to the work directory)\n", fwctld_src);
	print_load("at start");
	printf("peers: nft %s; iptables-nft-restore %s; "
	    "iptables-legacy-restore %s\n", cf.t.nft,
	    cf.t.ipt_nft ? cf.t.ipt_nft : "not installed",
	    cf.t.ipt_legacy ? cf.t.ipt_legacy : "not installed");
	printf("ufw: %s; firewalld: %s\n",
	    cf.t.ufw ? cf.t.ufw : "not installed, skipped",
	    cf.t.firewalld ? "installed but not driven: it needs the "
	    "system D-Bus, which a throwaway namespace does not give it" :
	    "not installed, skipped (it needs the system D-Bus)");
	fflush(stdout);

	run_all();
	bad = print_report();
	print_load("at the end");
	if (!cf.keep)
		rm_tree(cf.workdir);
	else
		printf("\ninputs and daemon state kept in %s\n", cf.workdir);
	/* a MISS is a figure, not an error; a wrong result is */
	return bad ? 1 : 0;
}
