/*
 * api.c: the REST API (docs/api.md), fwctld's half.  The HTTP front
 * (front.h), an unprivileged child, serves the listeners and hands each
 * request over the channel (chan.h); here it is checked again (who asks,
 * route, scope, query, content type, body), turned into a struct change
 * for the engine or answered from a snapshot, and the reply goes back.
 */
#ifndef FWCTL_API_H
#define FWCTL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "diag.h"
#include "engine.h"

struct api;
struct api_req;

#define API_CORS_MAX	16

struct api_config {
	const char	*socket_path;
	const char	*group;		/* may use the API besides root */
	unsigned	 threads;	/* 0 = default */
	unsigned	 conn_limit;	/* 0 = default */
	unsigned	 timeout;	/* seconds; 0 = default */
	/* Optional TCP listener with TLS and bearer tokens; all four or none.
	 * The tokens file holds "NAME [SCOPE] TOKEN" lines, TOKEN a crypt(3)
	 * hash (or, warned about, the token itself); SCOPE read, elements or
	 * write (the default). */
	const char	*listen;	/* "ADDR:PORT", "[ADDR6]:PORT" */
	const char	*tls_cert;	/* PEM files */
	const char	*tls_key;
	const char	*tokens;
	/* Origins whose pages may call the API from a browser (CORS):
	 * "https://host[:port]", exactly; none by default. */
	const char	*cors[API_CORS_MAX];
	size_t		 ncors;
	/* The dashboard's files (ui.h), served at /ui/ on the TCP listener:
	 * NULL for the installed ones (none there: no dashboard), "" for no
	 * dashboard. */
	const char	*ui_dir;
	/* The HTTP front's user (privsep.h): NULL for the default. */
	const char	*front_user;
	int		 log_level;	/* the front's, syslog's levels */
};

/* Route flags. */
#define API_BODY	0x01	/* needs a body */
#define API_TEXT	0x02	/* the body may be rule-language text */
#define API_BIG		0x04	/* a whole ruleset: the large body limit */
#define API_MUTATE	0x08	/* changes the ruleset (If-Match, dry_run) */
#define API_ELEMS	0x10	/* set elements: a token of scope elements may */

struct api_route {
	const char	*method;
	const char	*path;		/* "/v1/rules/{name}" */
	unsigned	 flags;
	const char	*args;		/* allowed query arguments, ","-separated */
	void		(*handler)(struct api_req *);
};

/* The routes table; check_openapi compares it with docs/openapi.yaml. */
extern const struct api_route	api_routes[];
extern const size_t		api_nroutes;

#define API_BODY_MAX		(1u << 20)	/* single objects */
#define API_BODY_MAX_BIG	(64u << 20)	/* PUT /v1/ruleset */
#define API_JSON_DEPTH_MAX	32
/* The request bodies the HTTP front buffers at once on one listener (each
 * has its own, so that one listener's crowd does not starve another's):
 * without it, a full house of connections (64) uploading API_BODY_MAX_BIG
 * each would be gigabytes.  Room for a few whole rulesets side by side;
 * must hold one (+1 for the NUL).  On the socket, the last whole
 * ruleset's worth is root's alone. */
#define API_BODY_BUDGET		(256u << 20)

/*
 * The accounting of that budget, shared by the server's threads.  A
 * request takes what it is about to buffer and gives it back when it ends,
 * however it ends; a take that does not fit takes nothing.
 */
struct api_budget {
	size_t		 max;
	size_t		 used;		/* atomic */
};

void		 api_budget_init(struct api_budget *, size_t);
bool		 api_budget_take(struct api_budget *, size_t);
void		 api_budget_give(struct api_budget *, size_t);
size_t		 api_budget_used(struct api_budget *);

/* Everything that can fail on configuration, before the kernel is
 * touched: binds the socket (refused while another daemon answers on it),
 * reads the TLS files and tokens. NULL with diags on error. */
struct api	*api_new(const struct api_config *, struct diags *);
/* Forks the starter of the HTTP front (privsep.h): after the daemon's
 * own last fork, before it drops its privileges. 0, or -1 with diags. */
int		 api_prepare(struct api *, struct diags *);
/* Starts serving requests against the engine. 0, or -1 with diags. */
int		 api_serve(struct api *, struct engine *, struct diags *);
/* The starter's end of its channel: POLLHUP there when it is gone
 * (fwctld cannot start fronts without it). */
int		 api_starter_fd(struct api *);
/* The HTTP front's pid, -1 while it is being started again. */
pid_t		 api_front_pid(struct api *);
/* Stops serving (in-flight requests finish), removes the socket, frees. */
void		 api_stop(struct api *);

/* Exposed for unit tests. */
/* Nesting depth of arrays and objects in JSON text, strings skipped. */
size_t		 api_json_depth(const char *, size_t);
bool		 api_utf8_valid(const char *, size_t);

#endif
