/*
 * state.c: the last accepted ruleset on disk.
 *
 * DIR/state.json = {"generation": N, "ruleset": <JSON form>}, replaced
 * atomically (write a temporary file, fsync, rename, fsync the directory).
 * The last STATE_HISTORY generations are kept as DIR/history/<N>.json for
 * rollback and as a fallback when state.json is damaged.
 */
#ifndef FWCTL_STATE_H
#define FWCTL_STATE_H

#include <stdint.h>

#include "diag.h"
#include "ruleset.h"

#define STATE_HISTORY	5

/* 0, or -1 with a reason in diags (nothing replaced). */
int	state_save(const char *dir, uint64_t gen, const struct ruleset *,
	    struct diags *);
/*
 * Loads state.json, or, when it is missing or damaged, the newest history
 * entry that decodes and validates. Returns 1 with *rs and *gen set, or 0
 * when nothing usable exists (damaged files are reported in diags; *gen is
 * then the highest generation seen, so that numbering goes on).
 */
int	state_load(const char *dir, uint64_t *gen, struct ruleset **,
	    struct diags *);
/* Decodes one state document (strict, then validated). */
struct ruleset *state_decode(const char *text, size_t len, const char *file,
	    uint64_t *gen, struct diags *);

#endif
