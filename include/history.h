/*
 * history.c: who changed what, generation by generation.
 *
 * DIR/history/audit.jsonl holds one JSON line per accepted change:
 * {"generation": N, "time": "2026-12-07T01:20:00.123Z", "who": "uid 0 pid
 * 12", "op": "add rule", "objects": ["+rule imap", ...], "more": 0}.
 * The rulesets themselves are state.c's snapshots and journals, which
 * rebuild any generation the history still holds. Retention is bounded by
 * a count of generations and an age, whichever keeps fewer.
 */
#ifndef FWCTL_HISTORY_H
#define FWCTL_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "plan.h"

#define HISTORY_KEEP		1000	/* generations */
#define HISTORY_DAYS		90
#define HISTORY_OBJECTS		20	/* named per entry, then "more" */

struct history_limits {
	unsigned	 keep;		/* generations; 0 = no bound */
	unsigned	 days;		/* 0 = no bound */
};

/* Appends the entry of generation gen: the objects of the plan (or
 * NULL), then the n notes (objects named in words, such as what drifted).
 * 0, or -1 with errno (the change stands; the caller logs it). */
int	 history_add(const char *dir, uint64_t gen, uint64_t time_ms,
	    const char *who, const char *op, const struct plan *,
	    char *const *notes, size_t n);
/*
 * Entries newest first, those below generation before (0: from the
 * newest), at most limit: a JSON array (NULL on ENOMEM).
 */
json_t	*history_list(const char *dir, uint64_t before, size_t limit);
/* Applies the limits to the entries and to state.c's snapshots; the
 * oldest generation kept. newest: the current generation. */
uint64_t history_prune(const char *dir, uint64_t newest,
	    const struct history_limits *);

#endif
