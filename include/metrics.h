/*
 * metrics.c: what fwctld exposes to Prometheus at GET /metrics, in the
 * text exposition format (version 0.0.4).  Knows nothing of HTTP: api.c
 * serves the text.  Counters of changes and the apply latency come from
 * the engine's observer (engine_set_observer); the rest is read at scrape
 * time from one snapshot, the kernel's counters and engine_info.
 */
#ifndef FWCTL_METRICS_H
#define FWCTL_METRICS_H

#include <stddef.h>

#include "engine.h"

struct metrics;

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *);
/* An engine_observer's work: counts the change and its time. */
void		 metrics_observe(struct metrics *, const struct engine_event *);
/* The HTTP front ended and another is started (privsep.h). */
void		 metrics_front_restart(struct metrics *);
/* The whole exposition (malloc'd, *len bytes), or NULL on ENOMEM. */
char		*metrics_render(struct metrics *, struct engine *, size_t *len);

#endif
