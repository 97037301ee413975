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

#include "diag.h"
#include "nameidx.h"
#include "nft.h"
#include "plan.h"
#include "ruleset.h"

struct engine;

enum engine_status {
	ENGINE_OK = 0,
	ENGINE_CREATED,		/* OK, and a new object was made */
	ENGINE_INVALID,		/* bad input (400) */
	ENGINE_CONFLICT,	/* name clash, missing zone or set (409) */
	ENGINE_NOTFOUND,	/* no such object (404) */
	ENGINE_STALE,		/* expected generation differs (412) */
	ENGINE_REFUSED,		/* the kernel refused the change (422) */
	ENGINE_FAILED,		/* our own failure: disk, memory (500) */
};

enum change_op {
	CHANGE_REPLACE = 1,	/* ruleset */
	CHANGE_RULE_ADD,	/* rule at position / before / after */
	CHANGE_RULE_PUT,	/* rule replaces name in place, or appends */
	CHANGE_RULE_DELETE,	/* name, or position */
	CHANGE_ZONE_PUT,	/* zone */
	CHANGE_ZONE_DELETE,	/* name */
	CHANGE_POLICY_PUT,	/* policy: adds or replaces its zone pair */
	CHANGE_POLICY_DELETE,	/* from, to */
	CHANGE_NAT_ADD,		/* nat (409 when the name exists) */
	CHANGE_NAT_DELETE,	/* name */
	CHANGE_SET_PUT,		/* set */
	CHANGE_SET_DELETE,	/* name */
	CHANGE_ELEMS_ADD,	/* name, elems */
	CHANGE_ELEMS_DELETE,	/* name, elems */
	CHANGE_FLUSH,		/* empty ruleset, table removed */
	CHANGE_CONFIRM,		/* keep the replace that awaits it */
	CHANGE_REVERT,		/* undo it now: the ruleset before it */
};

struct change {
	enum change_op	 op;
	/* The object given; the engine takes ownership (also on error). */
	struct ruleset	*ruleset;
	struct rule	*rule;
	struct zone	*zone;
	struct policy	*policy;
	struct nat	*nat;
	struct set	*set;
	struct set_elem	*elems;		/* borrowed */
	size_t		 nelems;
	const char	*name;		/* object named in the request */
	const char	*from;		/* CHANGE_POLICY_DELETE */
	const char	*to;
	size_t		 position;	/* 1-based; 0 = not given */
	const char	*before;	/* CHANGE_RULE_ADD placement */
	const char	*after;
	bool		 has_expected;	/* If-Match given */
	uint64_t	 expected;
	bool		 dry_run;
	/* CHANGE_REPLACE: revert unless confirmed within that many seconds
	 * (0: no confirmation) */
	unsigned	 confirm_secs;
	const char	*who;		/* for the log: "uid 0 pid 12", "SIGHUP" */
};

struct change_result {
	enum engine_status	 status;
	uint64_t		 generation;	/* after the change */
	struct plan		 plan;
	struct diags		 diags;
	bool			 applied;
	size_t			 count;		/* elements added / removed */
	size_t			 position;	/* rule's 1-based position */
	/* CHANGE_REPLACE with confirm_secs: it awaits confirmation (not when
	 * nothing changed); CHANGE_REVERT: the generation undone */
	bool			 pending;
	uint64_t		 reverted;
	struct diags		 warnings;	/* a dry run's lint (lint.h) */
};

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
/* Frees the objects of a change that will not reach engine_change (which
 * would otherwise own them), and clears their pointers. */
void		 engine_change_free(struct change *);
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
 * What engine_edit did, beyond the plan: for the rule index, the journal
 * and the checks of the one object that changed.
 */
struct edit_effect {
	bool		 diff;		/* no plan of its own: plan_diff */
	bool		 check_all;	/* validate the whole ruleset */
	struct rule	*added;		/* rule put into next */
	struct rule	*removed;	/* rule taken out of next, with next's
					 * reference (the old ruleset's when
					 * next borrows its rules): the
					 * caller frees it */
	const void	*obj;		/* the object put into next */
};

/*
 * The model side of a change, shared with the journal's replay: applies c
 * (not CHANGE_REPLACE nor CHANGE_FLUSH) to next, a ruleset_share() (or
 * ruleset_borrow()) of the current ruleset whose rule index ridx (or NULL)
 * is, and plans it in res->plan when it can. New set elements get their expiry from now. 0, or
 * -1 with res filled.
 */
int		 engine_edit(struct ruleset *next, struct change *c,
		    struct change_result *res, const struct nameidx *ridx,
		    uint64_t now, struct edit_effect *);
/* c has what its op needs. */
bool		 engine_change_complete(const struct change *);
/* Brings the rule index of the old ruleset to the next one. */
int		 engine_index_update(struct nameidx *,
		    const struct edit_effect *);
struct nameidx	*engine_index_build(const struct ruleset *);

/* Drops elements whose expiry (expires_ms) has passed; returns how many. */
size_t		 engine_prune_expired(struct ruleset *, uint64_t now_ms);
uint64_t	 engine_now_ms(void);

#endif
