/*
 * privsep.c: fwctld in three processes.  The parent keeps what programs
 * the kernel and writes the state: uid 0 with CAP_NET_ADMIN alone.  The
 * HTTP front (front.h) is fwctld started again (`fwctld --front`): it
 * becomes its own user with no capability, in an empty directory, under
 * seccomp, and talks to the parent over a socketpair (chan.h).  Between
 * them the starter, forked before the parent lets go of its privileges,
 * holds only what the front needs to shut itself in (the change of ids
 * and chroot) and does one thing: start a front when the parent asks,
 * and hand the parent its end of the channel.
 */
#ifndef FWCTL_PRIVSEP_H
#define FWCTL_PRIVSEP_H

#include <stdbool.h>
#include <sys/types.h>

#include "diag.h"

#define PRIVSEP_USER	"_fwctld"	/* the front's; else nobody */

struct privsep_starter {
	pid_t	 pid;
	int	 ctl;			/* ours; -1 when there is none */
};

/* The front's user: name, else PRIVSEP_USER, else nobody (warned of).
 * 0, or -1 with diags. */
int	 privsep_user(const char *name, uid_t *, gid_t *, struct diags *);
/* Forks the starter, which keeps the listening fds (tcp and trace may be
 * -1).  Before privsep_drop, and after the last fork of the daemon
 * itself (it dies with its parent).  0, or -1 with diags. */
int	 privsep_starter(struct privsep_starter *, int unix_fd, int tcp_fd,
	    int trace_fd, struct diags *);
/* A new front: its pid, with *chan our end of its channel; -1 (errno). */
pid_t	 privsep_spawn(struct privsep_starter *, int *chan);
/* The starter goes (its fronts go when their channels close). */
void	 privsep_starter_stop(struct privsep_starter *);
/* The parent lets go of every capability but CAP_NET_ADMIN, for good.
 * 0, or -1 with diags. */
int	 privsep_drop(struct diags *);

#endif
