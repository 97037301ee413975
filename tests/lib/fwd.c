/*
 * fwctld and fwctl for lab tests.  Everything is bounded in time: the
 * CLI by FWD_RUN_MS, the daemon's start by the caller's timeout, its stop
 * by lab_stop's SIGTERM-then-SIGKILL.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fwd.h"

#define FWD_RUN_MS	30000

static int
fwd_bin(const char *env, const char *def, char *out)
{
	const char	*v = getenv(env);

	if (realpath(v && *v ? v : def, out) != NULL)
		return 0;
	fprintf(stderr, "fwd: no %s (set %s)\n", def, env);
	return -1;
}

int
fwd_init(struct fwd *f, struct lab *lab, const char *role)
{
	char	 path[PATH_MAX + 16];

	memset(f, 0, sizeof(*f));
	f->lab = lab;
	f->role = role;
	f->pid = -1;
	if (fwd_bin("FWCTLD", "daemon/fwctld", f->fwctld) == -1 ||
	    fwd_bin("FWCTL", "cli/fwctl", f->fwctl) == -1)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/fwctl-fwd.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		perror("fwd: mkdtemp");
		return -1;
	}
	(void)chmod(f->dir, 0755);
	snprintf(path, sizeof(path), "%s/rules", f->dir);
	if (mkdir(path, 0755) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/state", f->dir);
	if (mkdir(path, 0700) == -1)
		return -1;
	snprintf(f->sock, sizeof(f->sock), "%s/fwctld.sock", f->dir);
	return 0;
}

int
fwd_init_fresh(struct fwd *f, struct lab *lab, const char *role)
{
	char	 cmd[256];

	if (fwd_init(f, lab, role) == -1)
		return -1;
	/* by name: fwctld, and its starter and front, which go with it */
	snprintf(cmd, sizeof(cmd), "for p in $(ip netns pids %s); do "
	    "case \"$(cat /proc/$p/comm 2>/dev/null)\" in fwctld*) "
	    "kill -9 $p;; esac; done; true", lab_ns(lab, role));
	if (system(cmd) != 0)
		return -1;
	return lab_exec(lab, role, "nft delete table inet fwctl 2>/dev/null; "
	    "true") == 0 ? 0 : -1;
}

int
fwd_start(struct fwd *f, int timeout_ms, const char *flags, ...)
{
	char		 extra[1024];
	va_list		 ap;

	va_start(ap, flags);
	vsnprintf(extra, sizeof(extra), flags, ap);
	va_end(ap);
	(void)unlink(f->sock);
	f->pid = lab_spawn(f->lab, f->role, "exec %s --foreground --socket %s "
	    "--state-dir %s/state %s%s%s %s >>%s/fwctld.log 2>&1", f->fwctld,
	    f->sock, f->dir, f->from_state ? "" : "--rules-dir ",
	    f->from_state ? "" : f->dir, f->from_state ? "" : "/rules", extra,
	    f->dir);
	if (f->pid == -1)
		return -1;
	return fwd_wait(f, timeout_ms);
}

int
fwd_wait(struct fwd *f, int timeout_ms)
{
	struct fwd_res	 r;
	long long	 end;
	char		*log;
	int		 code;

	/* the socket takes connections before the start is over: wait for
	 * an answer to a request */
	end = lab_now() + lab_ms(timeout_ms);
	while (lab_wait_socket(f->sock, timeout_ms) == 0 &&
	    lab_now() < end) {
		code = fwd_curl(f, &r, "GET", "/v1/status", NULL, NULL);
		fwd_res_free(&r);
		if (code == 200)
			return 0;
		usleep(50000);
	}
	log = fwd_log(f);
	fprintf(stderr, "fwd: fwctld does not answer on %s; its log:\n%s\n",
	    f->sock, log ? log : "");
	free(log);
	return -1;
}

int
fwd_stop(struct fwd *f, bool kill9)
{
	int	 st;

	if (f->pid == -1)
		return 0;
	if (kill9) {
		(void)kill(f->pid, SIGKILL);
		(void)waitpid(f->pid, &st, 0);
	} else if (lab_stop(f->lab, f->pid) == -1)
		return -1;
	f->pid = -1;
	return 0;
}

void
fwd_cleanup(struct fwd *f)
{
	char	 cmd[PATH_MAX + 16];

	if (f->lab != NULL)
		(void)fwd_stop(f, false);
	if (f->dir[0] != '\0' && getenv("KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) == -1)
			perror("fwd: system");
	}
	f->dir[0] = '\0';
}

int
fwd_write(struct fwd *f, const char *rel, const char *text)
{
	char		 path[PATH_MAX + 64];
	DIR		*d;
	struct dirent	*de;
	FILE		*fp;
	size_t		 n;
	int		 bad;

	if (rel == NULL) {
		snprintf(path, sizeof(path), "%s/rules", f->dir);
		if ((d = opendir(path)) == NULL)
			return -1;
		while ((de = readdir(d)) != NULL)
			if ((n = strlen(de->d_name)) > 6 &&
			    strcmp(de->d_name + n - 6, ".rules") == 0)
				(void)unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	if ((fp = fopen(path, "w")) == NULL) {
		fprintf(stderr, "fwd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	bad = fputs(text, fp) == EOF;
	bad |= fclose(fp) == EOF;
	return bad ? -1 : 0;
}

static char *
fwd_slurp(const char *path)
{
	FILE	*fp;
	char	*s = NULL;
	size_t	 len = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return strdup("");
	if (getdelim(&s, &len, '\0', fp) == -1) {
		free(s);
		s = strdup("");
	}
	fclose(fp);
	return s;
}

char *
fwd_log(struct fwd *f)
{
	char	 path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/fwctld.log", f->dir);
	return fwd_slurp(path);
}

static void
fwd_add(char **b, size_t *len, const char *data, size_t n)
{
	char	*p = realloc(*b, *len + n + 1);

	if (p == NULL)
		abort();
	memcpy(p + *len, data, n);
	*len += n;
	p[*len] = '\0';
	*b = p;
}

/* Runs argv (argv[0] the program), bounded; output into r. */
static int
fwd_run(struct fwd_res *r, char *const *argv)
{
	int		 po[2], pe[2], st, open_fds = 2, j;
	size_t		 lo = 0, le = 0;
	long long	 end = lab_now() + lab_ms(FWD_RUN_MS), left;
	char		 buf[4096];
	ssize_t		 k;
	pid_t		 pid;

	memset(r, 0, sizeof(*r));
	fwd_add(&r->out, &lo, "", 0);
	fwd_add(&r->err, &le, "", 0);
	if (pipe(po) == -1 || pipe(pe) == -1)
		return r->status = -1;
	if ((pid = fork()) == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while (open_fds > 0 && pid > 0) {
		struct pollfd pfd[2] = { { po[0], POLLIN, 0 },
		    { pe[0], POLLIN, 0 } };

		if ((left = end - lab_now()) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, 2, (int)left) <= 0)
			continue;
		for (j = 0; j < 2; j++) {
			if (pfd[j].fd < 0 || !(pfd[j].revents &
			    (POLLIN | POLLHUP | POLLERR)))
				continue;
			if ((k = read(pfd[j].fd, buf, sizeof(buf))) <= 0) {
				close(pfd[j].fd);
				*(j ? &pe[0] : &po[0]) = -1;
				open_fds--;
				continue;
			}
			if (j)
				fwd_add(&r->err, &le, buf, (size_t)k);
			else
				fwd_add(&r->out, &lo, buf, (size_t)k);
		}
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	if (pid <= 0 || waitpid(pid, &st, 0) != pid)
		return r->status = -1;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) :
	    WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
	return r->status;
}

int
fwd_cli(struct fwd *f, struct fwd_res *r, ...)
{
	char	*argv[64];
	va_list	 ap;
	int	 n = 0;

	argv[n++] = f->fwctl;
	argv[n++] = "--socket";
	argv[n++] = f->sock;
	argv[n++] = "--no-color";
	va_start(ap, r);
	while (n < 63 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	return fwd_run(r, argv);
}

int
fwd_curl(struct fwd *f, struct fwd_res *r, const char *method,
    const char *path, const char *ctype, const char *body)
{
	char	 url[1024], hdr[128], *argv[20], *nl;
	int	 n = 0, code;

	snprintf(url, sizeof(url), "http://fwctld%s", path);
	snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype ? ctype :
	    "application/json");
	argv[n++] = "/usr/bin/curl";
	argv[n++] = "-sS";
	argv[n++] = "--max-time";
	argv[n++] = "20";
	argv[n++] = "--unix-socket";
	argv[n++] = f->sock;
	argv[n++] = "-X";
	argv[n++] = (char *)(uintptr_t)method;
	argv[n++] = "-w";
	argv[n++] = "\n%{http_code}";
	if (body != NULL) {
		argv[n++] = "-H";
		argv[n++] = hdr;
		argv[n++] = "--data-binary";
		argv[n++] = (char *)(uintptr_t)body;
	}
	argv[n++] = url;
	argv[n] = NULL;
	if (fwd_run(r, argv) != 0 || (nl = strrchr(r->out, '\n')) == NULL)
		return -1;
	code = atoi(nl + 1);
	*nl = '\0';
	return code;
}

void
fwd_res_free(struct fwd_res *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}
