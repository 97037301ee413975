/*
 * Starting the front and dropping the parent's privileges (privsep.h).
 *
 * The front is a fresh exec of fwctld, not a fork of it: it starts with
 * no copy of the parent's memory (the ruleset, the tokens' hashes, the
 * state) and no thread's leftover lock.  Being uid 0 when it execs, it
 * gets the capabilities of the parent's bounding set, which the parent
 * cut to those the front needs to shut itself in: chroot and the change
 * of ids.  It drops them all before it serves (front.c).
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cap-ng.h>

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

pid_t
privsep_spawn(int unix_fd, int tcp_fd, int trace_fd, int *chan)
{
	static const int dst[] = { FRONT_FD_CHAN, FRONT_FD_UNIX, FRONT_FD_TCP,
			    FRONT_FD_TRACE };
	char		*argv[] = { (char *)"fwctld", (char *)"--front", NULL };
	/* time zone rules are not read in its empty root: UTC, as HTTP's
	 * dates are */
	char		*envp[] = { (char *)"TZ=UTC0", NULL };
	int		 sv[2], src[4];
	sigset_t	 none;
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* only calls safe after a fork of a threaded process */
		src[0] = sv[1];
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
	close(sv[1]);
	*chan = sv[0];
	return pid;
}

int
privsep_drop(struct diags *d)
{
	if (geteuid() != 0)
		return -1;
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
	    CAP_NET_ADMIN) != 0 ||
	    capng_updatev(CAPNG_ADD, CAPNG_BOUNDING_SET, CAP_NET_ADMIN,
	    CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_SYS_CHROOT, -1) != 0 ||
	    capng_apply(CAPNG_SELECT_BOTH) != 0) {
		diags_add(d, NULL, "cannot drop capabilities");
		return -1;
	}
	return 0;
}
