/*
 * One fwctld under test, in a role of the lab, with the real fwctl beside
 * it: the steps every lab suite that starts the daemon repeats (a private
 * directory with rules/ and state/, start, wait until it serves, stop,
 * its log) and a bounded runner for the CLI. Include it as "lib/fwd.h".
 *
 * Binaries: $FWCTLD and $FWCTL, else daemon/fwctld and cli/fwctl.
 * Functions returning int give -1 on failure with the reason on stderr.
 */
#ifndef FWCTL_FWD_H
#define FWCTL_FWD_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "lab.h"

struct fwd {
	struct lab	*lab;
	const char	*role;		/* where fwctld runs: "router" */
	char		 dir[64];	/* rules/, state/, fwctld.log */
	char		 sock[PATH_MAX];
	char		 fwctld[PATH_MAX];
	char		 fwctl[PATH_MAX];
	pid_t		 pid;		/* -1 when not running */
	/* fwd_start passes --rules-dir (which makes fwctld start from the
	 * rules directory rather than its state) unless this is set */
	bool		 from_state;
};

/* What a command printed and how it ended. */
struct fwd_res {
	int	 status;	/* exit status, 128+sig, -1 */
	char	*out;
	char	*err;
};

/* A private directory (mode 0755, so that the socket's own mode decides
 * who may connect) with rules/ and state/; nothing is started. */
int	 fwd_init(struct fwd *, struct lab *, const char *role);
/* fwd_init, on a fresh host: what a test before left in the role (its
 * fwctld, its table) is gone first. */
int	 fwd_init_fresh(struct fwd *, struct lab *, const char *role);
/* Starts fwctld --foreground with --socket, --state-dir and --rules-dir
 * of the directory, and the flags given (printf format, may be ""),
 * then waits until it serves (up to timeout_ms; its log on stderr if it
 * does not). Its output goes to DIR/fwctld.log, appended. */
int	 fwd_start(struct fwd *, int timeout_ms, const char *flags, ...)
	    __attribute__((format(printf, 3, 4)));
/* Waits until the fwctld of f->pid answers a request: 0, or -1 with its
 * log on stderr. For a daemon started by hand (lab_spawn). */
int	 fwd_wait(struct fwd *, int timeout_ms);
/* SIGTERM (SIGKILL with kill9), then waits for it: the table stays. */
int	 fwd_stop(struct fwd *, bool kill9);
/* Stops it if running and removes the directory (kept with KEEP set). */
void	 fwd_cleanup(struct fwd *);
/* Writes DIR/rel (e.g. "rules/10-base.rules"); rel may be NULL to remove
 * every *.rules of rules/. */
int	 fwd_write(struct fwd *, const char *rel, const char *text);
/* DIR/fwctld.log as a string (malloc'd; "" when missing). */
char	*fwd_log(struct fwd *);
/* Runs `fwctl --socket SOCK --no-color ARGS...` (NULL-terminated),
 * bounded in time; its output in r (fwd_res_free). Returns the status. */
int	 fwd_cli(struct fwd *, struct fwd_res *r, ...)
	    __attribute__((sentinel));
/* A request with curl (the binary) over the socket: the HTTP status, or
 * -1; the body in r->out. body may be NULL; ctype defaults to JSON. */
int	 fwd_curl(struct fwd *, struct fwd_res *r, const char *method,
	    const char *path, const char *ctype, const char *body);
void	 fwd_res_free(struct fwd_res *);

#endif
