/*
 * Live events (events.h): a ring of formatted SSE blocks and the cursors
 * of their readers, under one lock.  Ids go on from the start time in
 * microseconds, so that an id from an earlier run of fwctld is older than
 * anything kept and its reader is told of the gap.
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"

struct events_slot {
	uint64_t	 id;
	char		*text;		/* "id: N\nevent: T\ndata: D\n\n" */
	size_t		 len;
};

struct events_reader {
	struct events	*ev;
	uint64_t	 cursor;	/* last id read whole */
	size_t		 off;		/* bytes of the next one sent */
	bool		 hello;		/* the retry: line is sent */
	bool		 waiting;	/* asleep until wake */
	bool		 ping;		/* a comment is due */
	void		(*sleep)(void *);
	void		(*wake)(void *);
	void		*arg;
};

struct events {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;		/* the ticker's, for close */
	pthread_t	 ticker;
	bool		 have_ticker;
	bool		 closed;
	struct events_slot ring[EVENTS_RING];
	uint64_t	 first;		/* the first id of this run */
	uint64_t	 next;		/* the id the next event gets */
	struct events_reader *readers[EVENTS_READERS_MAX];
	size_t		 nreaders;
	unsigned	 tick_ms;
	void		(*tick)(void *);
	void		*tick_arg;
};

static void
events_wake_all(struct events *ev, bool ping)
{
	size_t	 i;

	for (i = 0; i < ev->nreaders; i++) {
		if (ping)
			ev->readers[i]->ping = true;
		if (ev->readers[i]->waiting) {
			ev->readers[i]->waiting = false;
			ev->readers[i]->wake(ev->readers[i]->arg);
		}
	}
}

static void *
events_ticker(void *arg)
{
	struct events	*ev = arg;
	struct timespec	 ts;
	unsigned	 since_ping = 0;
	bool		 busy;

	pthread_mutex_lock(&ev->mtx);
	while (!ev->closed) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ev->tick_ms / 1000;
		ts.tv_nsec += (long)(ev->tick_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&ev->cond, &ev->mtx, &ts) != ETIMEDOUT)
			continue;
		busy = ev->nreaders > 0;
		since_ping += ev->tick_ms;
		if (since_ping >= EVENTS_PING_SECS * 1000) {
			since_ping = 0;
			events_wake_all(ev, true);
		}
		if (!busy || ev->tick == NULL)
			continue;
		/* the tick may publish: not under our lock */
		pthread_mutex_unlock(&ev->mtx);
		ev->tick(ev->tick_arg);
		pthread_mutex_lock(&ev->mtx);
	}
	pthread_mutex_unlock(&ev->mtx);
	return NULL;
}

struct events *
events_new(unsigned tick_ms, void (*tick)(void *), void *arg)
{
	struct events	*ev;
	struct timespec	 ts;

	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		return NULL;
	pthread_mutex_init(&ev->mtx, NULL);
	pthread_cond_init(&ev->cond, NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	ev->first = ev->next = (uint64_t)ts.tv_sec * 1000000 +
	    (uint64_t)ts.tv_nsec / 1000 + 1;
	ev->tick_ms = tick_ms ? tick_ms : 1000;
	ev->tick = tick;
	ev->tick_arg = arg;
	return ev;
}

int
events_start(struct events *ev)
{
	if (ev->have_ticker)
		return 0;
	if (pthread_create(&ev->ticker, NULL, events_ticker, ev) != 0)
		return -1;
	ev->have_ticker = true;
	return 0;
}

void
events_close(struct events *ev)
{
	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->mtx);
	ev->closed = true;
	events_wake_all(ev, false);
	pthread_cond_broadcast(&ev->cond);
	pthread_mutex_unlock(&ev->mtx);
	if (ev->have_ticker)
		pthread_join(ev->ticker, NULL);
	ev->have_ticker = false;
}

void
events_free(struct events *ev)
{
	size_t	 i;

	if (ev == NULL)
		return;
	events_close(ev);
	for (i = 0; i < EVENTS_RING; i++)
		free(ev->ring[i].text);
	pthread_cond_destroy(&ev->cond);
	pthread_mutex_destroy(&ev->mtx);
	free(ev);
}

static void	events_store(struct events *, uint64_t, char *, size_t);

uint64_t
events_publish(struct events *ev, const char *type, const char *data)
{
	char		*text;
	int		 len;
	uint64_t	 id;

	pthread_mutex_lock(&ev->mtx);
	id = ev->next;
	len = asprintf(&text, "id: %" PRIu64 "\nevent: %s\ndata: %.*s\n\n",
	    id, type, EVENTS_DATA_MAX, data);
	if (ev->closed || len < 0) {
		pthread_mutex_unlock(&ev->mtx);
		if (len >= 0)
			free(text);
		return 0;
	}
	events_store(ev, id, text, (size_t)len);
	pthread_mutex_unlock(&ev->mtx);
	return id;
}

/* The slot for id, the event text its own; the caller holds the lock. */
static void
events_store(struct events *ev, uint64_t id, char *text, size_t len)
{
	struct events_slot *s = &ev->ring[id % EVENTS_RING];

	free(s->text);
	s->id = id;
	s->text = text;
	s->len = len;
	ev->next = id + 1;
	events_wake_all(ev, false);
}

void
events_each(struct events *ev, void (*fn)(void *, uint64_t, const char *,
    size_t), void *arg)
{
	uint64_t	 id, oldest;
	struct events_slot *s;

	pthread_mutex_lock(&ev->mtx);
	oldest = ev->next - ev->first > EVENTS_RING ? ev->next - EVENTS_RING :
	    ev->first;
	for (id = oldest; id < ev->next; id++) {
		s = &ev->ring[id % EVENTS_RING];
		if (s->id == id && s->text != NULL)
			fn(arg, id, s->text, s->len);
	}
	pthread_mutex_unlock(&ev->mtx);
}

int
events_mirror(struct events *ev, uint64_t id, const char *text, size_t len)
{
	char	*t;

	pthread_mutex_lock(&ev->mtx);
	if (ev->closed || (ev->next != ev->first && id < ev->next)) {
		/* already had, or the end */
		pthread_mutex_unlock(&ev->mtx);
		return 0;
	}
	if ((t = strndup(text, len)) == NULL) {
		pthread_mutex_unlock(&ev->mtx);
		return -1;
	}
	/* the first event a mirror gets starts its ids; a jump forward
	 * (events it never got) starts them again: a gap to its readers */
	if (ev->next == ev->first || id != ev->next)
		ev->first = id;
	events_store(ev, id, t, strlen(t));
	pthread_mutex_unlock(&ev->mtx);
	return 0;
}

struct events_reader *
events_reader_new(struct events *ev, uint64_t last_id, void (*sleep)(void *),
    void (*wake)(void *), void *arg)
{
	struct events_reader *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->ev = ev;
	r->sleep = sleep;
	r->wake = wake;
	r->arg = arg;
	pthread_mutex_lock(&ev->mtx);
	if (ev->closed || ev->nreaders == EVENTS_READERS_MAX) {
		/* a sleeping reader whose client went is only found out when
		 * it writes: have them all write now, so that the caller's
		 * retry finds room */
		events_wake_all(ev, true);
		pthread_mutex_unlock(&ev->mtx);
		free(r);
		return NULL;
	}
	/* an id not given, or not ours (from the future): what comes */
	r->cursor = last_id == 0 || last_id >= ev->next ? ev->next - 1 :
	    last_id;
	ev->readers[ev->nreaders++] = r;
	pthread_mutex_unlock(&ev->mtx);
	return r;
}

void
events_reader_free(struct events_reader *r)
{
	struct events	*ev;
	size_t		 i;

	if (r == NULL)
		return;
	ev = r->ev;
	pthread_mutex_lock(&ev->mtx);
	for (i = 0; i < ev->nreaders; i++)
		if (ev->readers[i] == r) {
			ev->readers[i] = ev->readers[--ev->nreaders];
			break;
		}
	pthread_mutex_unlock(&ev->mtx);
	free(r);
}

/* Appends s if it fits. */
static bool
events_put(char *buf, size_t max, size_t *out, const char *s, size_t len)
{
	if (len > max - *out)
		return false;
	memcpy(buf + *out, s, len);
	*out += len;
	return true;
}

/*
 * The events after the cursor, as much as fits: an event larger than
 * what is left of buf goes in parts (r->off), so that any buffer size
 * makes progress.  An event cut short because the ring moved on under a
 * very slow reader is ended with a blank line, to keep the stream's
 * framing; its reader then gets a gap.
 */
static void
events_copy(struct events_reader *r, uint64_t oldest, char *buf, size_t max,
    size_t *out)
{
	struct events		*ev = r->ev;
	struct events_slot	*s;
	size_t			 n;

	if (r->off > 0 && (r->cursor + 1 < oldest ||
	    ev->ring[(r->cursor + 1) % EVENTS_RING].id != r->cursor + 1)) {
		if (!events_put(buf, max, out, "\n\n", 2))
			return;
		r->off = 0;
	}
	while (r->cursor + 1 >= oldest && r->cursor + 1 < ev->next &&
	    *out < max) {
		s = &ev->ring[(r->cursor + 1) % EVENTS_RING];
		n = s->len - r->off;
		if (n > max - *out)
			n = max - *out;
		memcpy(buf + *out, s->text + r->off, n);
		*out += n;
		r->off += n;
		if (r->off < s->len)
			break;
		r->off = 0;
		r->cursor++;
	}
}

ssize_t
events_read(struct events_reader *r, char *buf, size_t max)
{
	struct events	*ev = r->ev;
	uint64_t	 oldest;
	size_t		 out = 0;
	char		 gap[128];
	int		 n;

	pthread_mutex_lock(&ev->mtx);
	if (ev->closed) {
		pthread_mutex_unlock(&ev->mtx);
		return -1;
	}
	if (!r->hello) {
		/* first, or never: not in the middle of an event */
		r->hello = true;
		(void)events_put(buf, max, &out, "retry: 2000\n\n", 13);
	}
	oldest = ev->next - ev->first > EVENTS_RING ? ev->next - EVENTS_RING :
	    ev->first;
	if (r->cursor + 1 < oldest && r->off == 0) {
		/* what it missed is gone: it must read the state again */
		n = snprintf(gap, sizeof(gap), "event: gap\ndata: "
		    "{\"after\":%" PRIu64 ",\"next\":%" PRIu64 "}\n\n",
		    r->cursor, oldest);
		if (events_put(buf, max, &out, gap, (size_t)n))
			r->cursor = oldest - 1;
	}
	events_copy(r, oldest, buf, max, &out);
	if (out == 0 && r->off == 0 && r->ping &&
	    events_put(buf, max, &out, ": ping\n\n", 8))
		r->ping = false;
	/* asleep only with nothing to send: what did not fit in a tiny
	 * buffer is asked for again */
	if (out == 0 && r->cursor + 1 >= ev->next && r->off == 0) {
		r->waiting = true;
		r->sleep(r->arg);
	}
	pthread_mutex_unlock(&ev->mtx);
	return (ssize_t)out;
}
