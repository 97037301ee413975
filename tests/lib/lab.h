/*
 * The fwctl test lab (SPEC §7): four network namespaces made for one test
 * run and removed after it.
 *
 *          wan host                lan host               dmz host
 *   eth0 10.50.0.2/24       eth0 10.50.1.10/24      eth0 10.50.2.10/24
 *        fd50::2/64              fd50:1::10/64           fd50:2::10/64
 *        (no default route)      (default via router)    (default via router)
 *            |                        |                       |
 *   wan0 10.50.0.1/24       lan0 10.50.1.1/24       dmz0 10.50.2.1/24
 *        fd50::1/64              fd50:1::1/64            fd50:2::1/64
 *   `------------------------- router -------------------------'
 *                  (IPv4 and IPv6 forwarding on, no firewall)
 *
 * The wan host has no route back to 10.50.1.0/24 or 10.50.2.0/24, so
 * traffic from lan or dmz reaches it only when the router masquerades.
 * Roles are "router", "wan", "lan" and "dmz"; each names a namespace
 * called "<prefix>-<role>", the prefix unique per lab ("fwl<pid>" then
 * ".<n>" for further labs of the same process).  IPv6 duplicate address
 * detection is off, so every address works as soon as lab_up returns.
 * Nothing is created in the host namespace but the namespace names, and
 * /run/fwctl-lab/<prefix> records the owner so `tools/lab sweep` can
 * remove what a crashed run left behind.
 *
 * Every call is bounded in time.  Functions returning int give -1 on
 * failure with the reason on stderr, unless said otherwise.  Commands run
 * through `sh -c` inside the namespace (`ip netns exec`), as root.
 *
 * Use with Check: bring the lab up in an unchecked fixture (it runs in
 * the parent, so lab_down runs even when a test crashes); tests run in
 * forked children and share it.  Processes a test starts with lab_spawn
 * outlive that test's child and are killed by lab_down (or lab_stop):
 * give each test its own port.  Include it as "lib/lab.h" from tests/.
 */

#ifndef FWCTL_LAB_H
#define FWCTL_LAB_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

struct lab;

/* Longest a lab_exec/lab_output command may run before it is killed
 * (scaled by lab_ms). */
#define LAB_CMD_TIMEOUT_MS	60000

/*
 * How long to wait for something that must happen, on this machine: ms
 * times FWCTL_TEST_TIMEOUT_SCALE (a number >= 1, default 1), so that a
 * loaded machine gets more time without slowing an idle one.  Every wait
 * of this library for a condition (sockets, ports, setup, commands) goes
 * through it; tests use it for their own bounds on what must succeed.
 * A wait for something that must NOT happen (a dropped connection) needs
 * no scaling: load cannot make it flake.  tests/run passes the same scale
 * to Check's per-test timeouts as CK_TIMEOUT_MULTIPLIER.
 */
int		 lab_ms(int ms);

/* Builds the topology; NULL with the reason on stderr. */
struct lab	*lab_up(void);
/* Same, with a chosen prefix ("[A-Za-z0-9_.]+", at most 32 chars). */
struct lab	*lab_up_prefix(const char *prefix);
/*
 * Kills every process in the lab's namespaces (lab_spawn'ed or not),
 * deletes the namespaces and the record, frees the lab.  NULL is a no-op;
 * namespaces already gone are fine, so a forked test calling it leaves
 * the parent's own lab_down harmless.
 */
void		 lab_down(struct lab *);

/*
 * Removes the labs whose owner died without lab_down (killed, crashed):
 * their processes, namespaces and records.  lab_up calls it; call it from
 * an unchecked teardown after a test that made its own lab in the forked
 * child, so a failed assertion leaks nothing.
 */
void		 lab_sweep(void);

/* The lab's prefix, e.g. "fwl1234". */
const char	*lab_prefix(struct lab *);
/* The namespace name of a role ("router", "wan", "lan", "dmz"); NULL if
 * the role is unknown. */
const char	*lab_ns(struct lab *, const char *role);

/* Moves the calling thread into a role's namespace (setns), e.g. to talk
 * netlink from a forked test; lab_down never kills the caller. */
int		 lab_enter(struct lab *, const char *role);

/* Runs a shell command in a role's namespace; its exit status, 128+sig
 * if killed, -1 if it could not run or ran over LAB_CMD_TIMEOUT_MS.
 * stdout and stderr are the caller's. */
int		 lab_exec(struct lab *, const char *role, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/* Same, but returns the command's stdout (malloc'd, NUL-terminated, even
 * when the command fails) or NULL if it could not run or timed out. If
 * status is not NULL, it receives lab_exec's return value. */
char		*lab_output(struct lab *, const char *role, const char *fmt,
		    ...)
		    __attribute__((format(printf, 3, 4)));
char		*lab_output_status(struct lab *, int *status, const char *role,
		    const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/* Starts a shell command in the background in a role's namespace, in its
 * own process group; lab_down (or lab_stop) kills the group.  Its pid,
 * or -1. */
pid_t		 lab_spawn(struct lab *, const char *role, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/* Kills (SIGTERM, then SIGKILL after 1 s) and reaps a group spawned by
 * this same process; 0, or -1 if pid is not one. */
int		 lab_stop(struct lab *, pid_t pid);
/* Milliseconds of CLOCK_MONOTONIC, for bounded waits. */
long long	 lab_now(void);
/* Whether the UNIX socket at path takes a connection (a daemon serves). */
bool		 lab_socket_answers(const char *path);
/* Waits until it does: 0, or -1 after lab_ms(timeout_ms). */
int		 lab_wait_socket(const char *path, int timeout_ms);
/* Waits until something listens on proto ("tcp" or "udp") port in the
 * role's namespace: 0, or -1 after lab_ms(timeout_ms). */
int		 lab_wait_port(struct lab *, const char *role,
		    const char *proto, int port, int timeout_ms);

/*
 * Traffic, through the probe tool ($FWCTL_TOOLS/probe, else
 * build/obj/tools/probe).  lab_serve starts `probe serve` in a role
 * (listening on [::]:port, both families) and returns once it listens;
 * its pid, or -1.  The server answers each connection or datagram with
 * "PEER-ADDR PEER-PORT LOCAL-ADDR LOCAL-PORT".
 *
 * lab_connect sends from a role to addr:port and returns 0 when the
 * server answered (its line, without newline, in reply if not NULL),
 * -1 when refused, timed out or unreachable.  lab_tcp_connect and
 * lab_udp_probe are shorthands that give only the source address the
 * server saw (seen_src may be NULL).  lab_ping sends one ICMP or ICMPv6
 * echo: 0 on a reply, -1 otherwise.
 */
pid_t		 lab_serve(struct lab *, const char *role, const char *proto,
		    int port);
int		 lab_connect(struct lab *, const char *from, const char *proto,
		    const char *addr, int port, int timeout_ms, char *reply,
		    size_t len);
int		 lab_tcp_connect(struct lab *, const char *from,
		    const char *addr, int port, int timeout_ms, char *seen_src,
		    size_t len);
int		 lab_udp_probe(struct lab *, const char *from, const char *addr,
		    int port, int timeout_ms, char *seen_src, size_t len);
int		 lab_ping(struct lab *, const char *from, const char *addr,
		    int timeout_ms);

/*
 * A copy of the program at path that any user may run, for tests that run
 * a build product as another user (nobody): the checkout itself may lie
 * under a directory only root can enter (/root is 0700).  The copy lives
 * in a directory of its own under /tmp (mode 0711, the program 0755);
 * its path (malloc'd), or NULL.  lab_copy_remove deletes both and frees
 * it; NULL is a no-op.  Make it in an unchecked fixture so that it goes
 * even when a test fails.
 */
char		*lab_copy_program(const char *path);
void		 lab_copy_remove(char *copy);

/* Path of a tool built from tests/tools/ (static buffer). */
const char	*lab_tool(const char *name);

#endif
