/*
 * edit.c: model editing, the part of a change that touches neither the
 * kernel nor the disk.  engine.c drives a change through it; state.c
 * replays the journal through it.  Knows nothing of HTTP, JSON or
 * netlink.
 */
#ifndef FWCTL_EDIT_H
#define FWCTL_EDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "nameidx.h"
#include "plan.h"
#include "ruleset.h"

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
	const char	*who;		/* for the log and the history: "uid 0
					 * pid 12", "token ci", "SIGHUP" */
	/* A change that leaves no zone (nothing filtered, no table) is
	 * refused unless the request says it means it. */
	bool		 allow_unfiltered;
	/* CHANGE_REPLACE: what it is, for the log and the history ("reload",
	 * "revert to 12"); NULL: "replace ruleset". */
	const char	*what;
	/* CHANGE_REPLACE of a past ruleset (revert): its run-time elements
	 * give way to the current ones, which are data, not history. */
	bool		 past;
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

/*
 * What edit_apply did, beyond the plan: for the rule index, the journal
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
int		 edit_apply(struct ruleset *next, struct change *c,
		    struct change_result *res, const struct nameidx *ridx,
		    uint64_t now, struct edit_effect *);
/* c has what its op needs. */
bool		 edit_change_complete(const struct change *);
/* Brings the rule index of the old ruleset to the next one. */
int		 edit_index_update(struct nameidx *,
		    const struct edit_effect *);
struct nameidx	*edit_index_build(const struct ruleset *);

/* Drops elements whose expiry (expires_ms) has passed; returns how many. */
size_t		 edit_prune_expired(struct ruleset *, uint64_t now_ms);
uint64_t	 edit_now_ms(void);

/* Frees the objects of a change that will not reach engine_change (which
 * would otherwise own them), and clears their pointers. */
void		 edit_change_free(struct change *);
/* Fills res with status st and a message (about field, or NULL). */
void		 edit_fail(struct change_result *res, enum engine_status st,
		    const char *field, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/* Whether some element of rs has expired by now. */
bool		 edit_has_expired(const struct ruleset *rs, uint64_t now_ms);
/* Gives the elements of s (new, not shared) with a timeout their expiry;
 * those already in old's set of the same name keep theirs. */
void		 edit_stamp_set(const struct ruleset *old, struct set *s,
		    uint64_t now_ms);
/* A whole-ruleset replace keeps old's run-time elements: see edit.c. */
int		 edit_carry_elems(const struct ruleset *old,
		    struct ruleset *next, uint64_t now_ms);
/* Takes the run-time elements out of rs (a ruleset_share of one that may
 * be read elsewhere), leaving what the ruleset declares; how many. */
size_t		 edit_strip_runtime(struct ruleset *rs);
/* Validates next after c (as much of it as c may have touched): 0, or -1
 * with res filled (400, or 409 for name clashes and missing references). */
int		 edit_check(const struct ruleset *next, const struct change *c,
		    const struct edit_effect *eff, struct change_result *res);
/* "+rule ssh ~zone lan" for the log and the history, a few items. */
void		 edit_plan_summary(const struct plan *p, char *buf, size_t len);
const char	*edit_op_name(enum change_op);

#endif
