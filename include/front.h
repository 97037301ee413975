/*
 * front.c: the HTTP front, fwctld's unprivileged half (privsep.h).  It runs
 * libmicrohttpd (and GnuTLS) on the listening sockets fwctld opened, as
 * its own user, with no capabilities, in an empty root directory and
 * under a seccomp filter.  It reads requests, keeps the body limits,
 * budgets and deadlines, and hands each request to fwctld over the
 * channel (chan.h): the head first (fwctld answers go on, or a refusal),
 * then the body; fwctld's reply goes back to the client as it came.  It
 * decides nothing about the ruleset and holds no secret but the TLS key.
 */
#ifndef FWCTL_FRONT_H
#define FWCTL_FRONT_H

/* The fds fwctld hands the front (privsep.c puts them there). */
#define FRONT_FD_CHAN	3
#define FRONT_FD_UNIX	4
#define FRONT_FD_TCP	5	/* or closed: no TCP listener */
#define FRONT_FD_TRACE	6	/* or closed: no $FWCTLD_API_TRACE */

/* Request heads and bodies the front keeps to, and fwctld again. */
#define FRONT_URL_MAX		8192	/* path and query: else 414 */
#define FRONT_HEADERS_MAX	16384	/* all header lines: else 431 */
#define FRONT_QUERY_MAX		16	/* query arguments */
#define FRONT_HEADER_SECS	10	/* the head must be in by then */
#define FRONT_BODY_SECS		120	/* and the body, after its head */
#define FRONT_ROOT_SLOTS	4	/* connections on the socket for root
					 * alone: others may not fill them */

/* `fwctld --front`: runs the front on the fds above until fwctld goes.
 * Never returns. */
void	 front_main(void) __attribute__((noreturn));

#endif
