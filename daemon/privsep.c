/*
 * Starting the front and dropping the parent's privileges (privsep.h).
 *
 * The front is a fresh exec of fwctld, not a fork of the parent: it
 * starts with no copy of the parent's memory (the ruleset, the tokens'
 * hashes, the state) and no thread's leftover lock.  It is started by the
 * starter, whose few capabilities pass to it over exec even under
 * no_new_privs (systemd's hardening sets it): those it needs to shut
 * itself in, and drops before it serves (front.c).  The parent could not
 * start it so, holding CAP_NET_ADMIN alone.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cap-ng.h>

#include "chan.h"
#include "front.h"
#include "log.h"
#include "privsep.h"

int
privsep_user(const char *name, uid_t *uid, gid_t *gid, struct diags *d)
{
	struct passwd	*pw;

	if (name != NULL) {
		if ((pw = getpwnam(name)) == NULL) {
			diags_add(d, NULL, "--user %s: no such user", name);
			return -1;
		}
	} else if ((pw = getpwnam(PRIVSEP_USER)) == NULL) {
		if ((pw = getpwnam("nobody")) == NULL) {
			diags_add(d, NULL, "neither user %s nor nobody exists "
			    "for the HTTP front", PRIVSEP_USER);
			return -1;
		}
		log_warnx("user %s does not exist: the HTTP front runs as "
		    "nobody (shared with other daemons); create %s",
		    PRIVSEP_USER, PRIVSEP_USER);
	}
	if (pw->pw_uid == 0) {
		diags_add(d, NULL, "the HTTP front may not run as root (%s)",
		    pw->pw_name);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* from onto to, which may be one of the fds still to be moved: each
 * source is first lifted above them all. */
static int
privsep_fds(int *src, const int *dst, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (src[i] != -1 &&
		    (src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 64)) == -1)
			return -1;
	for (i = 0; i < n; i++)
		if (src[i] != -1 && dup2(src[i], dst[i]) == -1)
			return -1;
	return 0;
}

/* The front, from the starter: a child that execs `fwctld --front` with
 * the fds in their places.  Its pid, or -1. */
static pid_t
privsep_exec_front(int unix_fd, int tcp_fd, int trace_fd, int chan)
{
	static const int dst[] = { FRONT_FD_CHAN, FRONT_FD_UNIX, FRONT_FD_TCP,
			    FRONT_FD_TRACE };
	char		*argv[] = { (char *)"fwctld", (char *)"--front", NULL };
	/* time zone rules are not read in its empty root: UTC, as HTTP's
	 * dates are */
	char		*envp[] = { (char *)"TZ=UTC0", NULL };
	int		 src[4];
	sigset_t	 none;
	pid_t		 pid;

	if ((pid = fork()) != 0)
		return pid;
	src[0] = chan;
	src[1] = unix_fd;
	src[2] = tcp_fd;
	src[3] = trace_fd;
	sigemptyset(&none);
	if (privsep_fds(src, dst, 4) == -1 ||
	    sigprocmask(SIG_SETMASK, &none, NULL) == -1 ||
	    close_range(FRONT_FD_TRACE + 1, ~0U, 0) == -1)
		_exit(127);
	if (tcp_fd == -1)
		(void)close(FRONT_FD_TCP);
	if (trace_fd == -1)
		(void)close(FRONT_FD_TRACE);
	execve("/proc/self/exe", argv, envp);
	_exit(127);
}

/* Fronts that ended, said in the log with how. */
static void
privsep_reap(void)
{
	pid_t	 pid;
	int	 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (WIFSIGNALED(st))
			log_warnx("the HTTP front (pid %d) was ended by signal "
			    "%d", (int)pid, WTERMSIG(st));
		else if (WEXITSTATUS(st) != 0)
			log_warnx("the HTTP front (pid %d) exited with status "
			    "%d", (int)pid, WEXITSTATUS(st));
	}
}

static void __attribute__((noreturn))
privsep_starter_main(int ctl, pid_t parent, int unix_fd, int tcp_fd,
    int trace_fd)
{
	struct pollfd	 p = { ctl, POLLIN, 0 };
	int		 sv[2];
	pid_t		 pid;
	char		 c;
	ssize_t		 n;

	/* it goes with fwctld, whichever way fwctld goes */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(0);
	(void)prctl(PR_SET_NAME, "fwctld-start");
	/* only what a front needs to become nobody in an empty root */
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
	    CAPNG_BOUNDING_SET, CAP_SETUID, CAP_SETGID, CAP_SETPCAP,
	    CAP_SYS_CHROOT, -1) != 0 || capng_apply(CAPNG_SELECT_BOTH) != 0) {
		log_warnx("the starter cannot drop its capabilities");
		_exit(1);
	}
	for (;;) {
		privsep_reap();
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if ((n = read(ctl, &c, 1)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);	/* fwctld stops */
		pid = -1;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    sv) == 0) {
			pid = privsep_exec_front(unix_fd, tcp_fd, trace_fd,
			    sv[1]);
			close(sv[1]);
		} else
			sv[0] = -1;
		/* its pid, and its channel's end riding along */
		(void)chan_send(ctl, CHAN_FRONT, pid == -1 ? 0 : (uint64_t)pid,
		    NULL, pid == -1 ? -1 : sv[0]);
		if (sv[0] != -1)
			close(sv[0]);
	}
}

/* Every fd but stdio and those four (netlink's above all) closed. */
static void
privsep_close_but(int a, int b, int c, int d)
{
	int	 keep[4] = { a, b, c, d }, lo = 3, i, j, t;

	for (i = 0; i < 4; i++)
		for (j = i + 1; j < 4; j++)
			if (keep[j] < keep[i]) {
				t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	for (i = 0; i < 4; i++) {
		if (keep[i] < lo)
			continue;
		if (keep[i] > lo)
			(void)close_range((unsigned)lo,
			    (unsigned)keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	(void)close_range((unsigned)lo, ~0U, 0);
}

int
privsep_starter(struct privsep_starter *st, int unix_fd, int tcp_fd,
    int trace_fd, struct diags *d)
{
	pid_t	 parent = getpid();
	int	 sv[2];

	st->pid = -1;
	st->ctl = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    (st->pid = fork()) == -1) {
		diags_add(d, NULL, "cannot start the starter: %s",
		    strerror(errno));
		return -1;
	}
	if (st->pid == 0) {
		close(sv[0]);
		privsep_close_but(sv[1], unix_fd, tcp_fd, trace_fd);
		privsep_starter_main(sv[1], parent, unix_fd, tcp_fd,
		    trace_fd);
	}
	close(sv[1]);
	st->ctl = sv[0];
	return 0;
}

pid_t
privsep_spawn(struct privsep_starter *st, int *chan)
{
	struct pollfd	 p = { st->ctl, POLLIN, 0 };
	struct chan_msg	 m;
	pid_t		 pid;

	*chan = -1;
	if (st->ctl == -1 || write(st->ctl, "s", 1) != 1)
		return -1;
	/* the starter forks and answers at once; not for ever */
	if (poll(&p, 1, 10000) != 1) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (chan_recv(st->ctl, &m, 0) != 1)
		return -1;
	pid = (pid_t)m.id;
	if (m.type != CHAN_FRONT || pid <= 0 || m.fd == -1) {
		chan_msg_free(&m);
		errno = EAGAIN;
		return -1;
	}
	*chan = m.fd;
	m.fd = -1;
	chan_msg_free(&m);
	return pid;
}

void
privsep_starter_stop(struct privsep_starter *st)
{
	if (st->ctl != -1)
		close(st->ctl);
	st->ctl = -1;
	if (st->pid > 0)
		(void)waitpid(st->pid, NULL, 0);
	st->pid = -1;
}

int
privsep_drop(struct diags *d)
{
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
	    CAPNG_BOUNDING_SET, CAP_NET_ADMIN) != 0 ||
	    capng_apply(CAPNG_SELECT_BOTH) != 0) {
		diags_add(d, NULL, "cannot drop capabilities (fwctld runs as "
		    "root with CAP_SETPCAP and CAP_NET_ADMIN)");
		return -1;
	}
	return 0;
}
