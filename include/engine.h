/*
 * engine.c: the one path for every change (DESIGN "One path for every
 * change").  Boot, SIGHUP, and every REST mutation hand the engine a
 * struct change; the engine builds the new ruleset beside the current one,
 * validates it, plans it, has the kernel apply it, saves it, and only then
 * makes it current and bumps the generation.  Any failure leaves the old
 * ruleset standing in memory, in the kernel and on disk.
 *
 * Knows nothing of HTTP or JSON: results are an engine_status that api.c
 * maps to a status code.
 */
#ifndef FWCTL_ENGINE_H
#define FWCTL_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "edit.h"
#include "nft.h"

struct engine;

/* A read-only view of the current ruleset that stays valid (and never
 * changes) until released, whatever changes happen meanwhile. */
struct snapshot {
	const struct ruleset	*rs;
	uint64_t		 generation;
	void			*ref;
};

struct engine_status_info {
	uint64_t	 generation;
	int		 table_present;
	bool		 drift;
	uint64_t	 pending;	/* generation awaiting confirmation, 0 */
	unsigned	 pending_secs;	/* until it is reverted */
};

/* Opens the kernel handle; the table is not touched yet. */
struct engine	*engine_new(const char *table, const char *state_dir,
		    struct diags *);
/*
 * Start-up: makes rs (taken) current with generation gen, applying it to
 * the kernel with no assumption about what is there. save: write the state
 * file (when rs did not come from it). 0, or -1 with diags (nothing kept).
 */
int		 engine_start(struct engine *, struct ruleset *rs, uint64_t gen,
		    bool save, struct diags *);
/* Closes the kernel handle; the table stays unless flush. */
void		 engine_free(struct engine *, bool flush);

/* The one path. Frees the objects in c; fills res (engine_result_free). */
void		 engine_change(struct engine *, struct change *c,
		    struct change_result *res);
void		 engine_result_free(struct change_result *);
/*
 * A replace made with confirm_secs is reverted when it is not confirmed
 * in time: the daemon's main loop polls this descriptor and calls
 * engine_timer when it is readable. Meanwhile every other change but a
 * dry run is refused (409), so that the revert loses no acknowledged
 * change.
 */
int		 engine_timer_fd(struct engine *);
void		 engine_timer(struct engine *);
/* Gives freed memory back to the system when a whole-ruleset change ran
 * since the last call: for the API once a request's reply is freed. */
void		 engine_trim(struct engine *);

void		 engine_snapshot(struct engine *, struct snapshot *);
void		 engine_release(struct engine *, struct snapshot *);
uint64_t	 engine_generation(struct engine *);
void		 engine_info(struct engine *, struct engine_status_info *);
int		 engine_counters(struct engine *, struct nft_counters *,
		    struct diags *);
const char	*engine_table(const struct engine *);
const char	*engine_status_name(enum engine_status);

#endif
