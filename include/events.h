/*
 * events.c: live events for GET /v1/events (Server-Sent Events).  Events
 * go into one ring of the last EVENTS_RING; each reader holds only a
 * cursor into it, so a slow reader costs no memory: when it falls behind
 * the ring it is told ("gap") and goes on from the oldest kept event.
 * Knows nothing of HTTP: a reader that finds nothing new is put to sleep
 * through its own callback, under the lock that publishing wakes it with,
 * so that no event is missed between the two.
 */
#ifndef FWCTL_EVENTS_H
#define FWCTL_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_RING		256	/* events kept for readers that resume */
#define EVENTS_READERS_MAX	16	/* readers at once */
#define EVENTS_DATA_MAX		1024	/* bytes of one event's JSON */
#define EVENTS_PING_SECS	15	/* a comment line to idle readers */

struct events;
struct events_reader;

/* fn(arg), run by the ticker thread every tick_ms while readers exist
 * (the API looks for drift there). */
struct events	*events_new(unsigned tick_ms, void (*tick)(void *), void *arg);
/* Starts the ticker thread: after the process has forked for good (a
 * thread does not survive daemon(3), and joining its leftover id would
 * wait on another). 0, or -1. */
int		 events_start(struct events *);
/* Wakes every reader for the last time (their streams end), stops the
 * ticker, frees; every reader must be gone (events_reader_free) before
 * the memory goes, so call events_close first and free after. */
void		 events_close(struct events *);
void		 events_free(struct events *);
/* type "change", data a JSON object's text. The event's id, or 0. */
uint64_t	 events_publish(struct events *, const char *type,
		    const char *data);

/* fn(arg, id, text, len) for each event kept, oldest first (the SSE
 * text of it), under the lock: fn may not call back in. */
void		 events_each(struct events *, void (*fn)(void *, uint64_t,
		    const char *, size_t), void *arg);
/* Keeps an event another events (fwctld's) published, by its id and
 * text: the HTTP front's copy of the daemon's.  Ids already had are
 * ignored. 0, or -1. */
int		 events_mirror(struct events *, uint64_t id, const char *text,
		    size_t len);

/*
 * A reader of the events after last_id (0: only those to come). sleep
 * is called, under the lock, when it has nothing to read; wake when it
 * has again.  NULL when EVENTS_READERS_MAX are reading or events_close
 * ran.
 */
struct events_reader *events_reader_new(struct events *, uint64_t last_id,
		    void (*sleep)(void *), void (*wake)(void *), void *arg);
void		 events_reader_free(struct events_reader *);
/*
 * The SSE text of what the reader has not read (whole events, up to max
 * bytes), its cursor moved on: the length; 0 when there is nothing (and
 * the reader was put to sleep); -1 when the events are closed.
 */
ssize_t		 events_read(struct events_reader *, char *buf, size_t max);

#endif
