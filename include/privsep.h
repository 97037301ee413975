/*
 * privsep.c: fwctld in two processes.  The parent keeps what programs the
 * kernel and writes the state: uid 0 with CAP_NET_ADMIN alone.  The HTTP
 * front (front.h) is fwctld started again (`fwctld --front`) as a child:
 * it becomes its own user with no capability, in an empty directory,
 * under seccomp, and talks to the parent over a socketpair (chan.h).
 */
#ifndef FWCTL_PRIVSEP_H
#define FWCTL_PRIVSEP_H

#include <stdbool.h>
#include <sys/types.h>

#include "diag.h"

#define PRIVSEP_USER	"_fwctld"	/* the front's; else nobody */

/* The front's user: name, else PRIVSEP_USER, else nobody (warned of).
 * 0, or -1 with diags. */
int	 privsep_user(const char *name, uid_t *, gid_t *, struct diags *);
/* Starts `fwctld --front` on the listening fds (tcp and trace may be
 * -1): its pid, with *chan the parent's end of the channel; -1 (errno). */
pid_t	 privsep_spawn(int unix_fd, int tcp_fd, int trace_fd, int *chan);
/* The parent lets go of every capability but CAP_NET_ADMIN; the front
 * it starts again keeps only what it needs to drop to its user. 0, or
 * -1 (when not root: nothing to drop). */
int	 privsep_drop(struct diags *);

#endif
