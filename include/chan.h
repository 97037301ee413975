/*
 * chan.c: the messages between fwctld and its HTTP front (privsep.h) over
 * a stream socketpair.  A frame is a fixed header (type, request id,
 * payload length) and a payload of fields: numbers in host order and
 * strings as a length and that many bytes.  A reader checks every length
 * against what is left before it takes anything, so a frame from a
 * process gone bad is refused whole, never read past.
 */
#ifndef FWCTL_CHAN_H
#define FWCTL_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum chan_type {
	/* front -> parent */
	CHAN_HEAD = 1,		/* a request's line and headers (+ the fd) */
	CHAN_BODY,		/* its body, all of it: run it */
	CHAN_GONE,		/* it ended before its body (client left) */
	CHAN_TICK,		/* event readers are waiting: look for drift */
	CHAN_LOG,		/* a line for the daemon's log */
	/* parent -> front */
	CHAN_CONFIG,		/* once, first: what the front serves */
	CHAN_GO,		/* the head is fine: read the body */
	CHAN_REPLY,		/* the answer to a request */
	CHAN_EVENT,		/* an event for GET /v1/events */
	/* starter -> parent */
	CHAN_FRONT,		/* a front started: its pid (the id) and the
				 * parent's end of its channel */
	CHAN_TYPE_MAX,
};

/* What fwctld takes from the front: the largest body (a whole ruleset)
 * and its head fit. */
#define CHAN_PAYLOAD_MAX	((64u << 20) + (256u << 10))
/* What the front takes from fwctld: replies may be larger (a ruleset with
 * all its elements). */
#define CHAN_REPLY_MAX		(1024u << 20)

/* A frame being built. */
struct chan_buf {
	char		*p;
	size_t		 len;
	size_t		 cap;
	bool		 oom;
};

/* A frame received, read field by field; bad is set by the first read
 * that does not fit (and every later one then fails too). */
struct chan_msg {
	uint32_t	 type;
	uint64_t	 id;
	char		*p;
	size_t		 len;
	size_t		 off;
	int		 fd;		/* passed along, or -1 */
	bool		 bad;
};

void		 chan_buf_init(struct chan_buf *);
void		 chan_buf_free(struct chan_buf *);
void		 chan_put_u32(struct chan_buf *, uint32_t);
void		 chan_put_u64(struct chan_buf *, uint64_t);
/* NULL is sent as absent, told apart from "". */
void		 chan_put_str(struct chan_buf *, const char *);
void		 chan_put_bytes(struct chan_buf *, const void *, size_t);

/* The whole frame, with fd (or -1) passed along. 0, or -1 (errno). The
 * caller serialises senders. */
int		 chan_send(int sock, uint32_t type, uint64_t id,
		    const struct chan_buf *, int fd);
/* The next frame, of at most max bytes of payload: 1, 0 at the end of
 * the stream, -1 on error or a frame that breaks the format (EPROTO). */
int		 chan_recv(int sock, struct chan_msg *, size_t max);
void		 chan_msg_free(struct chan_msg *);

bool		 chan_get_u32(struct chan_msg *, uint32_t *);
bool		 chan_get_u64(struct chan_msg *, uint64_t *);
/* A string: NUL-terminated in place, no NUL inside, at most max bytes;
 * *s NULL when it was sent absent. */
bool		 chan_get_str(struct chan_msg *, const char **s, size_t max);
/* Bytes: pointer into the frame and length. */
bool		 chan_get_bytes(struct chan_msg *, const char **p,
		    size_t *len, size_t max);
/* Everything read, nothing left over. */
bool		 chan_done(struct chan_msg *);

#endif
