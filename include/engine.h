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
#include <sys/types.h>

#include "edit.h"
#include "history.h"
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
	/* objects of the live ruleset the rules directory does not say
	 * (engine_diff); -1: cannot tell */
	ssize_t		 live_changes;
	uint64_t	 history_oldest; /* oldest generation to show, 0 */
	/* what was changed by hand while fwctld was stopped, found at
	 * start (lines valid as long as the engine), and whether it was
	 * kept as found (--on-drift keep) rather than repaired */
	bool		 drift_start;
	bool		 drift_kept;
	const char *const *drift_v;
	size_t		 drift_n;
	/* why changes are refused: the state directory could not be
	 * written at start ("" when it could) */
	char		 state_error[256];
};

/* Opens the kernel handle; the table is not touched yet. */
struct engine	*engine_new(const char *table, const char *state_dir,
		    struct diags *);
/*
 * Start-up: makes rs (taken) current with generation gen, applying it to
 * the kernel with no assumption about what is there (a ruleset without
 * zones removes the table: nothing is filtered). save: write the state
 * file (when rs did not come from it) and record gen in the history as
 * what ("loaded /etc/fwctl/rules.d"). 0, or -1 with diags (nothing kept).
 */
int		 engine_start(struct engine *, struct ruleset *rs, uint64_t gen,
		    bool save, const char *what, struct diags *);
/* The rules directory, the declared ruleset (engine_rules_*); NULL: none.
 * 0, or -1 on ENOMEM. */
int		 engine_set_rules_dir(struct engine *, const char *dir);
/* What a start does with a table changed by hand while fwctld was
 * stopped: repair it (the default) or keep it as found until the next
 * change, reporting it either way. Before engine_start. */
void		 engine_set_drift_policy(struct engine *, bool keep);
/* How much history is kept (history.h); before the first change. */
void		 engine_set_history(struct engine *,
		    const struct history_limits *);
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

/*
 * The rules directory (engine_set_rules_dir) against the live ruleset.
 *
 * engine_reload: the directory replaces the live ruleset through the one
 * path (c says who, dry_run, confirm_secs, allow_unfiltered; the engine
 * fills c->ruleset); a directory that does not load is ENGINE_INVALID.
 * engine_diff: what the live ruleset has that the directory does not say
 * (plan from the files to the live ruleset, run-time elements left out),
 * at generation *gen; -1 with diags when the directory does not load.
 * engine_save: writes the live ruleset (with its run-time elements if
 * asked) into the directory (rulesdir_save); 1 when they already agree
 * and nothing was written, 0 when saved (*backup: where the files it
 * replaced went, or NULL), -1 with diags.
 */
void		 engine_reload(struct engine *, struct change *c,
		    struct change_result *res);
int		 engine_diff(struct engine *, struct plan *, uint64_t *gen,
		    struct diags *);
int		 engine_save(struct engine *, bool with_elements, uint64_t *gen,
		    char **backup, struct diags *);
/* The ruleset as it was at generation gen (state_ruleset_at): 1 with *rs
 * set (the caller's), 0 when the history does not reach it, -1. */
int		 engine_ruleset_at(struct engine *, uint64_t gen,
		    struct ruleset **rs, struct diags *);
const char	*engine_state_dir(const struct engine *);
/* Ends the tracked connections from the n addresses (elements of an
 * address set) so that a block cuts what they have open: how many, or -1
 * with diags (conntrack.h). */
ssize_t		 engine_end_connections(struct engine *,
		    const struct set_elem *v, size_t n, struct diags *);
/* The oldest generation the history can still show (0: none yet). */
uint64_t	 engine_history_oldest(struct engine *);

/*
 * What one change did, told to the observer (engine_set_observer) once
 * per engine_change, dry runs and refusals included, in the order the
 * changes ran.  The strings live until the observer returns.
 */
struct engine_event {
	enum change_op		 op;
	enum engine_status	 status;
	bool			 dry_run;
	bool			 applied;	/* a new generation */
	uint64_t		 generation;	/* after the change */
	const char		*who;
	const char		*what;		/* "add rule", "reload" */
	const char		*summary;	/* "+rule ssh" */
	uint64_t		 usecs;		/* how long it took */
	bool			 pending;	/* awaits confirmation */
	unsigned		 confirm_secs;
	uint64_t		 reverted;	/* generation undone, 0 */
};
typedef void	(*engine_observer)(void *arg, const struct engine_event *);
/* Called under the engine's change lock: must be quick and must not
 * call back into the engine. Set before the first change. */
void		 engine_set_observer(struct engine *, engine_observer,
		    void *arg);

#endif
