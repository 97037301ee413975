/*
 * api_int.h: what the two halves of the REST API share inside fwctld:
 * api.c (routes, checks, replies, handlers) and api_serve.c (listeners,
 * the HTTP front's life, the requests it hands over).
 */
#ifndef FWCTL_API_INT_H
#define FWCTL_API_INT_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"
#include "chan.h"
#include "front.h"
#include "privsep.h"
#include "token.h"

#define API_THREADS		4
#define API_CONN_LIMIT		64
#define API_TIMEOUT		30
#define API_MAX_ARGS		2
#define API_MAX_SEGS		8

#define API_FILE_MAX		(1u << 20)
#define API_TRIM_BODY		(1u << 20)	/* memory back after a body */
#define API_PLAN_ELEMS		100	/* elements listed per set in a plan */
#define API_PLAN_SETS		32
#define API_PENDING_MAX		1024	/* heads held for their bodies */
#define API_SEND_SECS		10	/* a front that reads nothing for so
					 * long is stuck */
#define API_ERRORS_MAX		50	/* per decoded element list */
#define API_REPLY_ERRORS_MAX	100	/* errors[] of a problem reply */
#define API_CONFIRM_MAX		3600	/* s: PUT /v1/ruleset?confirm= */

struct api;

/* A request fwctld holds between its head and its body. */
struct api_pending {
	struct api_req		*r;
	struct api_pending	*next;
};

struct api {
	struct engine		*engine;
	int			 fd;		/* the socket's */
	int			 tcp_fd;	/* TCP's, or -1 */
	char			*socket_path;
	bool			 have_gid;
	gid_t			 gid;
	unsigned		 threads;
	unsigned		 timeout;
	unsigned		 conn_limit;
	char			*listen;	/* TCP: "ADDR:PORT", or NULL */
	struct sockaddr_storage	 tcp_addr;
	struct tokens		*tokens;
	char			*cert;
	char			*key;
	struct metrics		*metrics;
	struct events		*events;
	int			 drift;		/* last told; -1 not yet */
	int			 trace_fd;	/* $FWCTLD_API_TRACE, or -1 */
	char			*ui_dir;	/* the dashboard's, or NULL */
	char			*cors[API_CORS_MAX];
	size_t			 ncors;
	uid_t			 front_uid;
	gid_t			 front_gid;
	char			*front_root;	/* the front's empty root */
	int			 log_level;
	/* the front */
	pthread_t		 back;
	bool			 have_back;
	pthread_mutex_t		 send_mtx;	/* chan and sends on it */
	pthread_mutex_t		 ev_mtx;	/* events in order to it */
	int			 chan;		/* -1 while it is down */
	pid_t			 front_pid;
	struct privsep_starter	 starter;
	bool			 stopping;	/* atomic */
	struct api_pending	*pending;
	size_t			 npending;
};

enum api_ctype {
	CT_NONE = 0,
	CT_JSON,
	CT_TEXT,
	CT_OTHER,
};

struct api_req {
	struct api		*api;
	uint64_t		 id;		/* the front's */
	bool			 tcp;		/* came in over TCP/TLS */
	int			 fd;		/* the socket's connection, or -1 */
	struct chan_msg		 head;		/* what the strings below are in */
	struct chan_msg		 bodymsg;	/* what body is in */
	const struct api_route	*route;
	char			 method[16];
	char			*args[API_MAX_ARGS];	/* {name} segments */
	const char		*qkey[FRONT_QUERY_MAX];
	const char		*qval[FRONT_QUERY_MAX];
	unsigned		 nq;
	bool			 too_many_args;
	const char		*h_auth;
	const char		*h_if_match;
	const char		*h_accept;
	const char		*h_last_event;
	const char		*h_ctype;
	unsigned		 early;		/* status decided up front */
	char			*early_detail;
	char			*allow;		/* for 405 */
	char			*body;		/* NUL-terminated */
	size_t			 len;
	size_t			 limit;
	bool			 retry_after;	/* 503: "Retry-After: 1" */
	enum api_ctype		 ctype;
	uid_t			 uid;
	gid_t			 gid;
	pid_t			 pid;
	char			 who[64];
	enum token_scope	 scope;		/* TCP: the token's */
	bool			 stream;	/* GET /v1/events */
	uint64_t		 stream_last;
	char			 url[256];	/* as asked */
	bool			 has_expected;
	uint64_t		 expected;
	bool			 dry_run;
	/* the reply */
	unsigned		 status;
	json_t			*json;		/* reply body (JSON) */
	char			*text;		/* reply body (text/plain) */
	size_t			 text_len;	/* 0: strlen(text) */
	const char		*text_type;	/* NULL: text/plain UTF-8 */
	bool			 problem;
	bool			 has_etag;
	uint64_t		 etag;
};

/* api.c */
void	 api_first(struct api_req *);
size_t	 api_send(struct api_req *, bool drain);
void	 api_send_early(struct api_req *, bool drain);
void	 api_early(struct api_req *, unsigned status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
bool	 api_if_match(struct api_req *);
bool	 api_dry_run(struct api_req *);
void	 api_problem(struct api_req *, unsigned status, const char *field,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* api_serve.c */
void	 api_front_send(struct api *, uint32_t type, uint64_t id,
	    const struct chan_buf *);

#endif
