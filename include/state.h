/*
 * state.c: the last accepted ruleset on disk.
 *
 * DIR/state.json = {"generation": N, "ruleset": <JSON form>}, a snapshot
 * replaced atomically (write a temporary file, fsync, rename, fsync the
 * directory). DIR/journal holds, one JSON line each, the changes accepted
 * since: {"generation": N+1, "op": "rule-add", "position": 3, "rule":
 * {...}}, each appended and fdatasync'd before its reply, so that one
 * change costs one short write rather than the whole ruleset. When the
 * journal outgrows the snapshot a new snapshot replaces both. Loading
 * replays the journal onto the snapshot through edit_apply().
 * Every snapshot is also DIR/history/<N>.json, and the journal that
 * followed it, once a newer snapshot holds it, DIR/history/<N+1>.journal:
 * together they rebuild any generation kept (state_ruleset_at), for
 * `fwctl show --generation` and `fwctl revert --to`, and the snapshots are
 * the fall back when state.json is damaged. history.c bounds them.
 */
#ifndef FWCTL_STATE_H
#define FWCTL_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "edit.h"
#include "ruleset.h"


/* A snapshot; empties the journal. 0, or -1 with a reason in diags
 * (nothing replaced). */
int	state_save(const char *dir, uint64_t gen, const struct ruleset *,
	    struct diags *);
/*
 * Appends change c, done as generation gen with effect eff and result res
 * (edit_apply), to the journal, durably. 0, or -1 with a reason in diags
 * (the journal is as it was). *compact is set when it is time for a
 * snapshot.
 */
int	state_append(const char *dir, uint64_t gen, const struct change *c,
	    const struct edit_effect *eff, const struct change_result *res,
	    bool *compact, struct diags *);
/* Records may be appended only after a snapshot: there is none yet, or
 * the journal holds records of an earlier run (folded in by state_save). */
bool	state_needs_snapshot(const char *dir);
/*
 * Loads state.json, or, when it is missing or damaged, the newest history
 * snapshot that decodes and validates, then replays the journal records
 * that follow it (archived, then current). A torn last record (a crash
 * while appending) is dropped and logged; a damaged record is reported and
 * ends the replay. Returns 1 with *rs and *gen set; 2 when it fell back to
 * the history: *gen is then a new generation, after every one seen, and
 * the caller writes a fresh snapshot; or 0 when nothing usable exists
 * (damaged files are reported in diags; *gen is then the highest
 * generation seen, so that numbering goes on).
 */
int	state_load(const char *dir, uint64_t *gen, struct ruleset **,
	    struct diags *);
/*
 * DIR/flushed: the table was removed on purpose (fwctl flush) and stays
 * removed until the next change; start-up does not put it back. Set or
 * cleared durably: 0, or -1 with a reason in diags.
 */
int	state_set_flushed(const char *dir, bool flushed, struct diags *);
bool	state_flushed(const char *dir);
/*
 * DIR/pending.json: a replace that awaits confirmation. It holds, as a
 * state document, the generation that awaits it and the ruleset to go
 * back to; a start that finds it with that generation still current
 * starts from that ruleset instead. Written and removed durably: 0, or
 * -1 with a reason in diags. state_pending_load: 1 with *gen and *prev
 * set, 0 when there is none, -1 when it is there but does not load.
 */
int	state_pending_save(const char *dir, uint64_t gen,
	    const struct ruleset *prev, struct diags *);
int	state_pending_load(const char *dir, uint64_t *gen,
	    struct ruleset **prev, struct diags *);
int	state_pending_clear(const char *dir, struct diags *);
/*
 * The ruleset as it was at generation gen: the newest snapshot at or
 * before it, with the journal records that follow up to gen. 1 with *rs
 * set; 0 when the history does not reach back that far; -1 when it does
 * but does not rebuild (reasons in d).
 */
int	state_ruleset_at(const char *dir, uint64_t gen, struct ruleset **rs,
	    struct diags *);
/*
 * Forgets what only generations before keep_from need: the snapshots
 * older than the newest one at or before keep_from, and their journals.
 * Returns the oldest generation that can still be rebuilt (0: none).
 */
uint64_t state_history_prune(const char *dir, uint64_t keep_from);
/* Decodes one state document (strict, then validated). */
struct ruleset *state_decode(const char *text, size_t len, const char *file,
	    uint64_t *gen, struct diags *);

#endif
