/*
 * The engine owns the current ruleset and is the only caller of nft_apply()
 * and state_save().  Changes are serialised by change_mtx, which is held for
 * the whole change (kernel transaction and fsync included); readers only
 * take cur_mtx long enough to take a reference on the current ruleset, which
 * is never modified once current: a change always builds a new one.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "conntrack.h"
#include "engine.h"
#include "history.h"
#include "lint.h"
#include "lockout.h"
#include "log.h"
#include "rulesdir.h"
#include "state.h"

/* A current ruleset and the readers holding it. */
struct rsref {
	struct ruleset	*rs;
	uint64_t	 gen;
	unsigned	 refs;
};

struct engine {
	pthread_mutex_t	 change_mtx;	/* changes and every kernel call */
	pthread_mutex_t	 cur_mtx;	/* cur, held briefly */
	struct rsref	*cur;
	struct nft	*nft;
	char		*table;
	char		*state_dir;
	/* The kernel's table is not known to match cur (flushed): the next
	 * apply reconciles the whole table (prev = NULL). */
	bool		 kernel_unknown;
	/* The table was removed on purpose and DIR/flushed says so: a
	 * change that fails puts the kernel back without a table. */
	bool		 flushed;
	/* Rule names of cur, so that one change does not scan them all;
	 * NULL when it could not be kept up to date (rebuilt on demand). */
	struct nameidx	*ridx;
	/* A whole ruleset's worth of memory was freed since the last
	 * malloc_trim (engine_trim). */
	atomic_bool	 trim_due;
	/* A replace that awaits confirmation: its generation (0: none), the
	 * ruleset it replaced (a copy of our own, also in DIR/pending.json),
	 * and when it goes back (CLOCK_MONOTONIC ms; tfd fires then). */
	uint64_t	 pending_gen;
	struct ruleset	*pending_prev;
	uint64_t	 pending_due;
	int		 tfd;
	/* DIR/pending.json outlived a change that did not happen and could
	 * not be removed: until it is, no change is taken, lest a restart
	 * take it for the next change's and revert that. */
	bool		 pending_stale;
	/* The declared ruleset (NULL: none), and what `status` last found
	 * between it and the live one, keyed by both. */
	char		*rules_dir;
	char		 diff_key[96];
	size_t		 diff_count;
	int		 diff_state;	/* 1 known, 0 not yet, -1 no load */
	struct history_limits hist;
	uint64_t	 hist_oldest;	/* oldest generation to show */
	/* What changed by hand while fwctld was stopped, as found at start
	 * (nft_drift_find), and whether it was repaired (the policy). */
	bool		 drift_keep;
	char		**drift_v;
	size_t		 drift_n;
	bool		 drift_kept;
	/* Why the state directory could not be written at start (NULL: it
	 * could): changes are refused until a snapshot succeeds. */
	char		*state_error;
	engine_observer	 obs;		/* metrics and events, or NULL */
	void		*obs_arg;
};

/* A plan this long (a bulk of elements, dry run or not) left enough
 * freed memory behind to give it back at once (engine_trim); a single
 * change does not pay for the trim. */
#define ENGINE_TRIM_PLAN	1000

#define ENGINE_REVERT_RETRY	10	/* s, after a revert that failed */
#define ENGINE_LOG_ITEMS	200	/* objects a replace names in the log */

static ssize_t	engine_live_changes(struct engine *, uint64_t gen);

static const char *const engine_status_names[] = {
	[ENGINE_OK] = "ok",
	[ENGINE_CREATED] = "created",
	[ENGINE_INVALID] = "invalid",
	[ENGINE_CONFLICT] = "conflict",
	[ENGINE_NOTFOUND] = "not found",
	[ENGINE_STALE] = "stale generation",
	[ENGINE_REFUSED] = "refused by the kernel",
	[ENGINE_FAILED] = "failed",
};

const char *
engine_status_name(enum engine_status s)
{
	if ((size_t)s >= sizeof(engine_status_names) /
	    sizeof(engine_status_names[0]) || engine_status_names[s] == NULL)
		return "?";
	return engine_status_names[s];
}

static uint64_t
engine_clock_ms(clockid_t clock)
{
	struct timespec	 ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
engine_clock_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static struct rsref *
rsref_new(struct ruleset *rs, uint64_t gen)
{
	struct rsref	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->rs = rs;
	r->gen = gen;
	r->refs = 1;
	return r;
}

/* Called with cur_mtx held. */
static void
rsref_put_locked(struct rsref *r)
{
	if (r != NULL && --r->refs == 0) {
		ruleset_free(r->rs);
		free(r);
	}
}

struct engine *
engine_new(const char *table, const char *state_dir, struct diags *d)
{
	struct engine	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->tfd = -1;
	e->hist.keep = HISTORY_KEEP;
	e->hist.days = HISTORY_DAYS;
	pthread_mutex_init(&e->change_mtx, NULL);
	pthread_mutex_init(&e->cur_mtx, NULL);
	if ((e->table = strdup(table)) == NULL ||
	    (e->state_dir = strdup(state_dir)) == NULL)
		goto fail;
	if ((e->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) == -1) {
		diags_add(d, NULL, "timerfd: %s", strerror(errno));
		goto fail;
	}
	if ((e->nft = nft_open(table, d)) == NULL)
		goto fail;
	return e;
fail:
	if (e->tfd >= 0)
		close(e->tfd);
	free(e->table);
	free(e->state_dir);
	free(e);
	return NULL;
}

/* Fires the timer in secs seconds; 0 disarms it. */
static void
engine_timer_arm(struct engine *e, unsigned secs)
{
	struct itimerspec	 its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = secs;
	if (timerfd_settime(e->tfd, 0, &its, NULL) == -1)
		log_warn("timerfd_settime");
	e->pending_due = secs ? engine_clock_ms(CLOCK_MONOTONIC) +
	    (uint64_t)secs * 1000 : 0;
}

/* Seconds until the pending replace goes back (at least 1 while it is
 * pending). Called with change_mtx held. */
static unsigned
engine_pending_secs(const struct engine *e)
{
	uint64_t	 now = engine_clock_ms(CLOCK_MONOTONIC);

	if (e->pending_gen == 0)
		return 0;
	return e->pending_due > now ?
	    (unsigned)((e->pending_due - now + 999) / 1000) : 1;
}

/* Nothing awaits confirmation any more. Called with change_mtx held. */
static void
engine_pending_drop(struct engine *e)
{
	e->pending_gen = 0;
	ruleset_free(e->pending_prev);
	e->pending_prev = NULL;
	engine_timer_arm(e, 0);
}

void
engine_free(struct engine *e, bool flush)
{
	struct diags	 d;
	size_t		 i;

	if (e == NULL)
		return;
	pthread_mutex_lock(&e->change_mtx);
	if (flush) {
		diags_init(&d);
		if (nft_flush(e->nft, &d) == -1)
			log_warnx("flush of table inet %s failed", e->table);
		else
			log_info("table inet %s removed", e->table);
		diags_free(&d);
	}
	nft_close(e->nft);
	pthread_mutex_unlock(&e->change_mtx);
	pthread_mutex_lock(&e->cur_mtx);
	rsref_put_locked(e->cur);
	e->cur = NULL;
	pthread_mutex_unlock(&e->cur_mtx);
	nameidx_free(e->ridx);
	/* DIR/pending.json stays: the next start reverts what was not
	 * confirmed */
	ruleset_free(e->pending_prev);
	close(e->tfd);
	pthread_mutex_destroy(&e->change_mtx);
	pthread_mutex_destroy(&e->cur_mtx);
	free(e->table);
	free(e->state_dir);
	free(e->rules_dir);
	free(e->state_error);
	for (i = 0; i < e->drift_n; i++)
		free(e->drift_v[i]);
	free(e->drift_v);
	free(e);
}

/* The state directory cannot be written: say so once, and keep why for
 * status and for the changes refused meanwhile. Called with change_mtx. */
static void
engine_state_broken(struct engine *e, uint64_t gen, const struct diags *d)
{
	const char	*why = d->n && d->v[0].msg ? d->v[0].msg : "?";

	log_warnx("%s: cannot write the state (%s): serving generation %"
	    PRIu64 " as the kernel has it; changes are refused until it can "
	    "be written", e->state_dir, why, gen);
	free(e->state_error);
	e->state_error = strdup(why);
}

/* Whether changes may be kept: a snapshot of the current ruleset, when
 * the start could not write one, is tried again first. 0, or -1 with res
 * filled. Called with change_mtx held. */
static int
engine_state_writable(struct engine *e, struct change_result *res)
{
	struct diags	 d;

	if (e->state_error == NULL)
		return 0;
	diags_init(&d);
	if (state_save(e->state_dir, e->cur->gen, e->cur->rs, &d) == 0) {
		log_info("%s: the state can be written again", e->state_dir);
		free(e->state_error);
		e->state_error = NULL;
		diags_free(&d);
		return 0;
	}
	edit_fail(res, ENGINE_FAILED, NULL, "the state directory cannot be "
	    "written (%s): no change can be kept until it can",
	    d.n && d.v[0].msg ? d.v[0].msg : "?");
	diags_free(&d);
	return -1;
}

void
engine_set_drift_policy(struct engine *e, bool keep)
{
	e->drift_keep = keep;
}

/*
 * What someone changed in our table while we were stopped: named in the
 * log and the history, kept for status. A missing table is not drift (a
 * reboot, a first start): it is simply programmed. 1 when the table is
 * to be left as found (the keep policy and something drifted), else 0.
 * Called with change_mtx held.
 */
static int
engine_drift_at_start(struct engine *e, const struct ruleset *rs,
    uint64_t gen)
{
	struct nft_drift dr;
	struct diags	 dd;
	size_t		 i;

	diags_init(&dd);
	if (nft_drift_find(e->nft, rs, &dr, &dd) == -1) {
		log_warnx("cannot read table inet %s back to look for changes "
		    "made by hand: %s", e->table, dd.n && dd.v[0].msg ?
		    dd.v[0].msg : "?");
		diags_free(&dd);
		return 0;
	}
	diags_free(&dd);
	if (dr.n == 0 || dr.table_missing) {
		nft_drift_free(&dr);
		return 0;
	}
	for (i = 0; i < dr.n; i++)
		log_warnx("drift: %s", dr.v[i]);
	log_warnx("table inet %s was changed by hand while fwctld was "
	    "stopped (%zu difference%s above): %s", e->table, dr.n,
	    dr.n == 1 ? "" : "s", e->drift_keep ? "KEPT as found, as "
	    "--on-drift keep says; the next change rebuilds the table" :
	    "repaired: the table is what the ruleset says");
	if (history_add(e->state_dir, gen, edit_now_ms(), "fwctld",
	    e->drift_keep ? "start: drift found, kept" :
	    "start: drift found, repaired", NULL, dr.v, dr.n) == -1)
		log_warn("%s: cannot record the drift in the history",
		    e->state_dir);
	e->drift_v = dr.v;
	e->drift_n = dr.n;
	e->drift_kept = e->drift_keep;
	return e->drift_keep ? 1 : 0;
}

int
engine_set_rules_dir(struct engine *e, const char *dir)
{
	free(e->rules_dir);
	e->rules_dir = NULL;
	return dir == NULL || (e->rules_dir = strdup(dir)) != NULL ? 0 : -1;
}

void
engine_set_history(struct engine *e, const struct history_limits *lim)
{
	e->hist = *lim;
}

/*
 * The history entry of an accepted change (generation res->generation).
 * A snapshot was written with it when it replaced the ruleset: the time
 * to apply the retention limits. Called with change_mtx held.
 */
static void
engine_history(struct engine *e, const struct change *c,
    const struct change_result *res, enum change_op logop, bool snapshot)
{
	const char	*what = c->what ? c->what : edit_op_name(logop);

	if (history_add(e->state_dir, res->generation, edit_now_ms(), c->who,
	    what, &res->plan, NULL, 0) == -1)
		log_warn("%s: cannot record generation %" PRIu64 " in the "
		    "history", e->state_dir, res->generation);
	if (snapshot || e->hist_oldest == 0)
		e->hist_oldest = history_prune(e->state_dir, res->generation,
		    &e->hist);
}

const char *
engine_table(const struct engine *e)
{
	return e->table;
}


/* One change on its way through the engine: engine_change's steps share
 * it. Everything it holds is released by txn_free. */
struct txn {
	struct engine		*e;
	struct change		*c;
	struct change_result	*res;
	struct ruleset		*old;		/* current; not ours */
	struct ruleset		*next;		/* being built */
	struct rsref		*nref;		/* to publish next with */
	struct ruleset		*keep;		/* to go back to unconfirmed */
	struct edit_effect	 eff;
	uint64_t		 gen;		/* current generation */
	uint64_t		 now;
	uint64_t		 undone;	/* generation a revert undoes */
	enum change_op		 logop;
	bool			 kernel_changed;
	bool			 compact;
	bool			 pending_written;
};

/* A change that leaves no zone filters nothing: the table goes. */
static bool
engine_unfiltered(const struct ruleset *rs)
{
	return rs->nzones == 0;
}

/* Whether c may go ahead: complete, at the expected generation, and not
 * behind a replace that awaits confirmation (elements may: they are
 * data, and a revert keeps them). Confirm is done here. 0 to go on. */
static int
txn_admit(struct txn *t)
{
	struct engine		*e = t->e;
	struct change		*c = t->c;
	struct change_result	*res = t->res;

	if (!edit_change_complete(c)) {
		edit_fail(res, ENGINE_INVALID, NULL, "%s", "incomplete change");
		return -1;
	}
	if (c->has_expected && c->expected != t->gen) {
		res->status = ENGINE_STALE;
		diags_add(&res->diags, NULL, "the ruleset is at generation %"
		    PRIu64 ", not %" PRIu64, t->gen, c->expected);
		return -1;
	}
	if (e->pending_stale && !c->dry_run) {
		if (state_pending_clear(e->state_dir, &res->diags) == -1) {
			edit_fail(res, ENGINE_FAILED, NULL, "%s", "a stale "
			    "pending.json cannot be removed; no change is taken "
			    "until it can, lest a restart revert it");
			return -1;
		}
		e->pending_stale = false;
	}
	if (c->op == CHANGE_CONFIRM || c->op == CHANGE_REVERT) {
		if (e->pending_gen == 0) {
			edit_fail(res, ENGINE_CONFLICT, NULL, "%s",
			    "no change awaits confirmation");
			return -1;
		}
		if (c->op == CHANGE_CONFIRM) {
			/* once confirmed, a start must not revert it */
			if (state_pending_clear(e->state_dir,
			    &res->diags) == -1) {
				res->status = ENGINE_FAILED;
				return -1;
			}
			log_info("%s: generation %" PRIu64 " confirmed",
			    c->who ? c->who : "?", e->pending_gen);
			engine_pending_drop(e);
			res->applied = true;
			return -1;
		}
		/* the ruleset before it, as a new generation, the one path */
		if ((c->ruleset = ruleset_dup(e->pending_prev)) == NULL) {
			edit_fail(res, ENGINE_FAILED, NULL, "%s",
			    "out of memory");
			return -1;
		}
		t->undone = e->pending_gen;
		c->op = CHANGE_REPLACE;
		c->confirm_secs = 0;
		c->allow_unfiltered = true;	/* it was so before */
	} else if (e->pending_gen != 0 && !c->dry_run &&
	    c->op != CHANGE_ELEMS_ADD && c->op != CHANGE_ELEMS_DELETE) {
		edit_fail(res, ENGINE_CONFLICT, NULL, "generation %" PRIu64
		    " awaits confirmation: confirm it (POST /v1/confirm, fwctl "
		    "confirm) or revert it (POST /v1/revert, fwctl revert); "
		    "unconfirmed, it is reverted in %u s", e->pending_gen,
		    engine_pending_secs(e));
		return -1;
	}
	return 0;
}

/* The new ruleset beside the old one, sharing what stays. */
static int
txn_build(struct txn *t)
{
	struct engine	*e = t->e;
	struct change	*c = t->c;
	size_t		 i;

	t->eff.diff = t->eff.check_all = true;
	if (c->op == CHANGE_REPLACE) {
		t->next = c->ruleset;
		c->ruleset = NULL;
		/* elements are data: the run-time ones of the current ruleset
		 * stay; a past ruleset's (a revert's) give way to them, new
		 * ones sent as such are kept beside them */
		if (c->past || t->undone != 0)
			edit_strip_runtime(t->next);
		for (i = 0; i < t->next->nsets; i++) {
			set_sort(t->next->sets[i]);
			edit_stamp_set(t->old, t->next->sets[i], t->now);
		}
		if (edit_carry_elems(t->old, t->next, t->now) == -1)
			goto nomem;
	} else if (c->op == CHANGE_FLUSH) {
		if ((t->next = ruleset_new()) == NULL)
			goto nomem;
	} else {
		if (e->ridx == NULL)
			e->ridx = edit_index_build(t->old);
		/* the rules without a reference each: settled at publish */
		if ((t->next = ruleset_borrow(t->old)) == NULL)
			goto nomem;
		if (edit_apply(t->next, c, t->res, e->ridx, t->now,
		    &t->eff) == -1)
			return -1;
	}
	edit_prune_expired(t->next, t->now);
	return 0;
nomem:
	edit_fail(t->res, ENGINE_FAILED, NULL, "%s", "out of memory");
	return -1;
}

/* Valid, not an accidental end of all filtering, and planned. */
static int
txn_check(struct txn *t)
{
	struct change	*c = t->c;

	if (edit_check(t->next, c, &t->eff, t->res) == -1)
		return -1;
	if (c->op != CHANGE_FLUSH && !c->allow_unfiltered &&
	    engine_unfiltered(t->next) && !engine_unfiltered(t->old)) {
		edit_fail(t->res, ENGINE_CONFLICT, NULL, "%s", "this change "
		    "leaves no zone: fwctld would remove its table and filter "
		    "nothing; to mean it, ask with allow_unfiltered=1 (fwctl "
		    "--allow-unfiltered)");
		return -1;
	}
	if (t->eff.diff) {
		plan_free(&t->res->plan);
		plan_init(&t->res->plan);
		if (plan_diff(t->old, t->next, &t->res->plan) == -1) {
			edit_fail(t->res, ENGINE_FAILED, NULL, "%s",
			    "out of memory");
			return -1;
		}
	}
	return 0;
}

/* A dry run: what the ruleset would be may still not be meant. */
static void
txn_lint(struct txn *t)
{
	t->res->applied = false;
	lint_ruleset(t->next, &t->res->warnings);
	/* a change that would cut the administrator off, where it did not
	 * already */
	if (!engine_unfiltered(t->next) && lockout_warnings(t->old, NULL,
	    NULL) == 0)
		lockout_warnings(t->next, NULL, &t->res->warnings);
}

/* Nothing changes (no transaction, no new generation, nothing to
 * confirm; a revert finds the ruleset as it was): 1, and done. */
static int
txn_noop(struct txn *t)
{
	struct engine		*e = t->e;
	struct change_result	*res = t->res;

	/* a kernel not known to match must be made to, unless neither side
	 * has a table */
	if (res->plan.n != 0 || t->c->op == CHANGE_FLUSH ||
	    (e->kernel_unknown && !(engine_unfiltered(t->old) &&
	    engine_unfiltered(t->next))))
		return 0;
	res->applied = true;
	if (t->undone != 0 && state_pending_clear(e->state_dir,
	    &res->diags) == -1)
		res->status = ENGINE_FAILED;
	else if (t->undone != 0) {
		engine_pending_drop(e);
		res->reverted = t->undone;
	}
	return 1;
}

/* What can fail is allocated before the kernel and the disk change: once
 * the state is written, nothing may fail. A replace to be confirmed puts
 * what to go back to on disk first, so that a crash at any point still
 * reverts it. */
static int
txn_prepare(struct txn *t)
{
	struct engine	*e = t->e;
	struct change	*c = t->c;

	if (engine_state_writable(e, t->res) == -1)
		return -1;
	if ((t->nref = rsref_new(NULL, t->gen + 1)) == NULL) {
		edit_fail(t->res, ENGINE_FAILED, NULL, "%s", "out of memory");
		return -1;
	}
	if (c->op != CHANGE_REPLACE || c->confirm_secs == 0)
		return 0;
	if (e->flushed) {
		/* going back would program an empty table, which drops all
		 * that is new: a lockout, where there was an open host */
		edit_fail(t->res, ENGINE_CONFLICT, NULL, "%s", "the table is "
		    "flushed: there is no ruleset to go back to; apply "
		    "without confirm");
		return -1;
	}
	if ((t->keep = ruleset_dup(t->old)) == NULL) {
		edit_fail(t->res, ENGINE_FAILED, NULL, "%s", "out of memory");
		return -1;
	}
	if (state_pending_save(e->state_dir, t->gen + 1, t->keep,
	    &t->res->diags) == -1) {
		t->res->status = ENGINE_FAILED;
		return -1;
	}
	t->pending_written = true;
	return 0;
}

/* The kernel agrees with next, or nothing changed there. A ruleset
 * without zones has no table. */
static int
txn_kernel(struct txn *t)
{
	struct engine	*e = t->e;
	int		 rv;

	if (t->c->op == CHANGE_FLUSH || engine_unfiltered(t->next))
		rv = e->kernel_unknown && !e->flushed &&
		    nft_table_present(e->nft) == 0 ? 0 :
		    nft_flush(e->nft, &t->res->diags);
	else
		rv = nft_apply(e->nft, e->kernel_unknown ? NULL : t->old,
		    t->next, &t->res->plan, &t->res->diags);
	if (rv == -1) {
		t->res->status = ENGINE_REFUSED;
		if (t->res->diags.n == 0)
			diags_add(&t->res->diags, NULL, "%s",
			    "the kernel refused the change");
		return -1;
	}
	t->kernel_changed = true;
	return 0;
}

/*
 * On disk before the reply: a whole new ruleset is a snapshot, one change
 * a journal record. A flush is marked before its empty state is saved, so
 * that a start after either write leaves the table out as the kernel has
 * it; the first change after it removes the mark before its own record.
 */
static int
txn_persist(struct txn *t)
{
	struct engine	*e = t->e;
	struct change	*c = t->c;
	struct diags	 rd;
	int		 rv;

	if (c->op == CHANGE_FLUSH || e->flushed) {
		if (state_set_flushed(e->state_dir, c->op == CHANGE_FLUSH,
		    &t->res->diags) == -1) {
			t->res->status = ENGINE_FAILED;
			return -1;
		}
	}
	if (c->op == CHANGE_REPLACE || c->op == CHANGE_FLUSH)
		rv = state_save(e->state_dir, t->gen + 1, t->next,
		    &t->res->diags);
	else
		rv = state_append(e->state_dir, t->gen + 1, c, &t->eff,
		    t->res, &t->compact, &t->res->diags);
	if (rv == 0)
		return 0;
	t->res->status = ENGINE_FAILED;
	/* the mark follows the kernel, which goes back */
	if (c->op == CHANGE_FLUSH || e->flushed) {
		diags_init(&rd);
		if (state_set_flushed(e->state_dir, e->flushed, &rd) == -1)
			log_warnx("%s: cannot restore the flush mark",
			    e->state_dir);
		diags_free(&rd);
	}
	return -1;
}

/* next becomes current: readers see it from now on. */
static void
txn_publish(struct txn *t)
{
	struct engine	*e = t->e;
	struct change	*c = t->c;
	struct ruleset	*next = t->next;
	struct rsref	*oref;
	struct diags	 rd;

	/* last, once the transient memory of the change is free, so that the
	 * rules kept lie together (and no one sees next yet); the kernel
	 * layer keeps names, not these pointers */
	if (c->op == CHANGE_REPLACE)
		(void)ruleset_pack_rules(next);	/* an optimisation only */
	t->nref->rs = next;
	/* the index follows before the old ruleset (and what the change
	 * took out of it) may go */
	if (c->op == CHANGE_REPLACE || c->op == CHANGE_FLUSH ||
	    (e->ridx != NULL && edit_index_update(e->ridx, &t->eff) == -1)) {
		nameidx_free(e->ridx);
		e->ridx = NULL;
	}
	t->kernel_changed = false;
	e->flushed = c->op == CHANGE_FLUSH;
	e->kernel_unknown = e->flushed || engine_unfiltered(next);
	pthread_mutex_lock(&e->cur_mtx);
	oref = e->cur;
	if (next->rules_borrowed) {
		if (oref->refs == 1) {
			/* old goes now, and nobody reads it: its references
			 * on the rules pass to next, and the one on a rule
			 * the change took out goes with eff.removed */
			t->old->nrules = 0;
			next->rules_borrowed = false;
		} else {
			/* a reader holds old, which keeps its own */
			ruleset_settle_rules(next, t->eff.added);
			t->eff.removed = NULL;
		}
	}
	t->next = NULL;
	t->old = NULL;
	e->cur = t->nref;
	rsref_put_locked(oref);
	pthread_mutex_unlock(&e->cur_mtx);
	oref = t->nref;
	t->nref = NULL;
	t->res->generation = t->gen + 1;
	t->res->applied = true;
	if (t->keep != NULL) {
		e->pending_gen = t->gen + 1;
		e->pending_prev = t->keep;
		t->keep = NULL;
		t->pending_written = false;
		engine_timer_arm(e, c->confirm_secs);
		t->res->pending = true;
		log_notice("%s: generation %" PRIu64 " is reverted in %u s "
		    "unless confirmed", c->who ? c->who : "?", t->gen + 1,
		    c->confirm_secs);
	}
	if (t->undone != 0) {
		/* the state says gen + 1 now: the file may go */
		diags_init(&rd);
		if (state_pending_clear(e->state_dir, &rd) == -1)
			log_warnx("%s: cannot remove pending.json; the next "
			    "start ignores it", e->state_dir);
		diags_free(&rd);
		engine_pending_drop(e);
		t->res->reverted = t->undone;
		log_notice("%s: generation %" PRIu64 " reverted: the ruleset "
		    "before it is back as generation %" PRIu64,
		    c->who ? c->who : "?", t->undone, t->gen + 1);
	}
	if (t->compact) {
		/* the change is on disk already: a failure here costs a longer
		 * journal, not the change */
		diags_init(&rd);
		if (state_save(e->state_dir, t->gen + 1, oref->rs, &rd) == -1) {
			log_warnx("%s: cannot write a snapshot; the journal "
			    "keeps growing", e->state_dir);
			t->compact = false;
		}
		diags_free(&rd);
	}
	engine_history(e, c, t->res, t->logop, t->compact ||
	    c->op == CHANGE_REPLACE || c->op == CHANGE_FLUSH);
}

/* The disk refused after the kernel took the change: the kernel goes
 * back to what the model (the old ruleset) says. */
static void
txn_undo_kernel(struct txn *t)
{
	struct engine	*e = t->e;
	struct diags	 rd;
	struct plan	 back;

	diags_init(&rd);
	plan_init(&back);
	if (e->flushed || (e->kernel_unknown && engine_unfiltered(t->old))) {
		/* the table was not there before this change */
		if (nft_flush(e->nft, &rd) == -1) {
			log_warnx("cannot remove table inet %s again after a "
			    "failed save", e->table);
			e->kernel_unknown = true;
		}
	} else if (t->c->op == CHANGE_FLUSH || engine_unfiltered(t->next) ||
	    e->kernel_unknown || plan_diff(t->next, t->old, &back) == -1 ||
	    nft_apply(e->nft, t->next, t->old, &back, &rd) == -1) {
		if (nft_apply(e->nft, NULL, t->old, NULL, &rd) == -1) {
			log_warnx("cannot restore table inet %s after a failed "
			    "save", e->table);
			e->kernel_unknown = true;
		}
	}
	plan_free(&back);
	diags_free(&rd);
}

/* One line for the change; a replace (a reload, a revert) also names
 * every object it adds, removes or changes, so that nothing a reload
 * throws away goes unsaid. */
static void
txn_log(const struct txn *t)
{
	const struct change	*c = t->c;
	const struct change_result *res = t->res;
	const struct plan_item	*it;
	const char		*who = c->who ? c->who : "?";
	const char		*what = c->what ? c->what :
				    edit_op_name(t->logop);
	char			 summary[512];
	size_t			 i;

	edit_plan_summary(&res->plan, summary, sizeof(summary));
	if (res->status != ENGINE_OK && res->status != ENGINE_CREATED) {
		log_notice("%s: %s refused (%s)%s%s", who, what,
		    engine_status_name(res->status),
		    res->diags.n && res->diags.v[0].msg ? ": " : "",
		    res->diags.n && res->diags.v[0].msg ?
		    res->diags.v[0].msg : "");
		return;
	}
	if (c->dry_run) {
		log_debug("%s: %s %s (dry run): %s", who, what,
		    c->name ? c->name : "", summary);
		return;
	}
	if (res->generation == t->gen)
		return;
	log_info("%s: %s: %s (generation %" PRIu64 ")", who, what, summary,
	    res->generation);
	if (t->logop != CHANGE_REPLACE && t->logop != CHANGE_REVERT)
		return;
	for (i = 0; i < res->plan.n && i < ENGINE_LOG_ITEMS; i++) {
		it = &res->plan.v[i];
		if (it->kind == PLAN_ELEMENT)
			continue;
		log_info("%s: %s %s %s", what, it->op == PLAN_ADD ? "adds" :
		    it->op == PLAN_REMOVE ? "removes" : "changes",
		    plan_kind_name(it->kind), it->name);
	}
	if (res->plan.n > ENGINE_LOG_ITEMS)
		log_info("%s: and %zu more", what,
		    res->plan.n - ENGINE_LOG_ITEMS);
}

static void
txn_free(struct txn *t)
{
	ruleset_free(t->keep);
	free(t->nref);		/* never published: rs is still next */
	if (t->next != NULL && t->next->rules_borrowed) {
		/* old keeps its rules; next owns only the one it added */
		rule_free(t->eff.added);
		t->eff.removed = NULL;
	}
	ruleset_free(t->next);
	rule_free(t->eff.removed);
}

void
engine_set_observer(struct engine *e, engine_observer fn, void *arg)
{
	e->obs = fn;
	e->obs_arg = arg;
}

/* Tells the observer what the change did (still under change_mtx, so
 * that it hears the changes in their order). */
static void
txn_observe(const struct txn *t, uint64_t start)
{
	const struct change	*c = t->c;
	struct engine_event	 ev;
	char			 summary[512];

	if (t->e->obs == NULL)
		return;
	edit_plan_summary(&t->res->plan, summary, sizeof(summary));
	memset(&ev, 0, sizeof(ev));
	ev.op = t->logop;
	ev.status = t->res->status;
	ev.dry_run = c->dry_run;
	ev.applied = t->res->applied;
	ev.generation = t->res->generation;
	ev.who = c->who ? c->who : "?";
	ev.what = c->what ? c->what : edit_op_name(t->logop);
	ev.summary = summary;
	ev.usecs = engine_clock_us() - start;
	ev.pending = t->res->pending;
	ev.confirm_secs = c->confirm_secs;
	ev.reverted = t->res->reverted;
	t->e->obs(t->e->obs_arg, &ev);
}

void
engine_change(struct engine *e, struct change *c, struct change_result *res)
{
	struct txn	 t;
	struct diags	 rd;
	uint64_t	 start = engine_clock_us();

	memset(res, 0, sizeof(*res));
	plan_init(&res->plan);
	diags_init(&res->diags);
	res->status = ENGINE_OK;
	memset(&t, 0, sizeof(t));
	t.e = e;
	t.c = c;
	t.res = res;
	t.now = edit_now_ms();
	t.logop = c->op;

	pthread_mutex_lock(&e->change_mtx);
	/* only a change swaps cur, and we hold change_mtx */
	t.old = e->cur->rs;
	t.gen = res->generation = e->cur->gen;
	if (txn_admit(&t) == 0 && txn_build(&t) == 0 && txn_check(&t) == 0) {
		if (c->dry_run)
			txn_lint(&t);
		else if (!txn_noop(&t) && txn_prepare(&t) == 0 &&
		    txn_kernel(&t) == 0 && txn_persist(&t) == 0)
			txn_publish(&t);
	}
	if (t.kernel_changed)
		txn_undo_kernel(&t);
	txn_log(&t);
	txn_observe(&t, start);
	if (t.pending_written) {
		/* the change did not happen: nothing to revert */
		diags_init(&rd);
		if (state_pending_clear(e->state_dir, &rd) == -1) {
			log_warnx("%s: cannot remove pending.json; no change "
			    "is taken until it can be", e->state_dir);
			e->pending_stale = true;
		}
		diags_free(&rd);
	}
	pthread_mutex_unlock(&e->change_mtx);
	txn_free(&t);
	edit_change_free(c);
	/* a whole ruleset's worth (or a bulk of elements' worth) of
	 * parsing, planning and encoding was freed: the caller gives the pages back (engine_trim) once its
	 * reply is freed too, rather than keep the peak resident */
	if (c->op == CHANGE_REPLACE || c->op == CHANGE_FLUSH ||
	    res->plan.n >= ENGINE_TRIM_PLAN)
		atomic_store(&e->trim_due, true);
}

void
engine_trim(struct engine *e)
{
	if (atomic_exchange(&e->trim_due, false)) {
		set_spare_drop();
		malloc_trim(0);
	}
}

void
engine_result_free(struct change_result *res)
{
	plan_free(&res->plan);
	diags_free(&res->diags);
	diags_free(&res->warnings);
}

int
engine_start(struct engine *e, struct ruleset *rs, uint64_t gen, bool save,
    const char *what, struct diags *d)
{
	struct rsref	*r;
	uint64_t	 now = edit_now_ms();
	size_t		 i;
	bool		 flushed, unfiltered;
	int		 kept = 0;
	struct diags	 sd;
	struct change	 c;
	struct change_result res;

	for (i = 0; i < rs->nsets; i++) {
		set_sort(rs->sets[i]);
		edit_stamp_set(NULL, rs->sets[i], now);
	}
	edit_prune_expired(rs, now);
	if (validate_ruleset(rs, d) > 0 || ruleset_pack_rules(rs) == -1)
		goto fail;
	/* before the kernel or the disk change, as in engine_change */
	if ((r = rsref_new(rs, gen)) == NULL) {
		diags_add(d, NULL, "%s", "out of memory");
		goto fail;
	}
	/*
	 * The saved state is the empty ruleset of a flush: the table was
	 * removed on purpose and a restart does not put it back; the next
	 * change programs the whole table. A ruleset without zones has no
	 * table at all: it filters nothing, and says so.
	 */
	flushed = !save && rs->nzones == 0 && rs->npolicies == 0 &&
	    rs->nrules == 0 && rs->nnats == 0 && rs->nsets == 0 &&
	    state_flushed(e->state_dir);
	unfiltered = engine_unfiltered(rs);
	pthread_mutex_lock(&e->change_mtx);
	if (flushed)
		log_info("table inet %s was flushed: it stays removed until "
		    "the next change", e->table);
	else if (unfiltered) {
		if (nft_flush(e->nft, d) == -1)
			goto fail_locked;
		log_warnx("the ruleset declares no zone: fwctld programs no "
		    "table and NOTHING IS FILTERED; write zones and rules into "
		    "the rules directory, then `fwctl reload`");
	} else if ((kept = engine_drift_at_start(e, rs, gen)) == 1)
		;	/* left as found: kernel_unknown below */
	else if (nft_apply(e->nft, NULL, rs, NULL, d) == -1)
		goto fail_locked;
	/*
	 * The journal of this run starts from a snapshot of its own. A disk
	 * that cannot take it (full, read-only) does not stop the start,
	 * which would only loop under Restart=on-failure: fwctld serves what
	 * the kernel has, says why, and refuses changes until the state can
	 * be written (engine_state_writable).
	 */
	diags_init(&sd);
	if ((save && state_set_flushed(e->state_dir, false, &sd) == -1) ||
	    ((save || state_needs_snapshot(e->state_dir)) &&
	    state_save(e->state_dir, gen, rs, &sd) == -1))
		engine_state_broken(e, gen, &sd);
	diags_free(&sd);
	pthread_mutex_lock(&e->cur_mtx);
	rsref_put_locked(e->cur);
	e->cur = r;
	pthread_mutex_unlock(&e->cur_mtx);
	nameidx_free(e->ridx);
	e->ridx = edit_index_build(rs);
	e->flushed = flushed;
	e->kernel_unknown = flushed || unfiltered || kept == 1;
	if (save) {
		/* a new generation: in the history like any change */
		memset(&c, 0, sizeof(c));
		memset(&res, 0, sizeof(res));
		c.who = "fwctld";
		c.what = what ? what : "start";
		res.generation = gen;
		plan_init(&res.plan);
		engine_history(e, &c, &res, CHANGE_REPLACE, true);
	} else
		e->hist_oldest = history_prune(e->state_dir, gen, &e->hist);
	pthread_mutex_unlock(&e->change_mtx);
	/* reading, checking and sending a whole ruleset is behind us */
	malloc_trim(0);
	return 0;
fail_locked:
	pthread_mutex_unlock(&e->change_mtx);
	free(r);
fail:
	ruleset_free(rs);
	return -1;
}

/*
 * Elements that timed out are gone from the kernel; before a reader sees
 * the ruleset they go from the model too.  Same generation: the kernel did
 * this, not a user.
 */
static void
engine_expire(struct engine *e)
{
	struct ruleset	*rs;
	struct rsref	*r, *old;
	uint64_t	 now = edit_now_ms();

	pthread_mutex_lock(&e->change_mtx);
	if (!edit_has_expired(e->cur->rs, now) ||
	    (rs = ruleset_share(e->cur->rs)) == NULL)
		goto done;
	edit_prune_expired(rs, now);
	if ((r = rsref_new(rs, e->cur->gen)) == NULL) {
		ruleset_free(rs);
		goto done;
	}
	pthread_mutex_lock(&e->cur_mtx);
	old = e->cur;
	e->cur = r;
	rsref_put_locked(old);
	pthread_mutex_unlock(&e->cur_mtx);
done:
	pthread_mutex_unlock(&e->change_mtx);
}

void
engine_snapshot(struct engine *e, struct snapshot *snap)
{
	struct rsref	*r;
	bool		 expired;

	pthread_mutex_lock(&e->cur_mtx);
	expired = edit_has_expired(e->cur->rs, edit_now_ms());
	pthread_mutex_unlock(&e->cur_mtx);
	if (expired)
		engine_expire(e);
	pthread_mutex_lock(&e->cur_mtx);
	r = e->cur;
	r->refs++;
	pthread_mutex_unlock(&e->cur_mtx);
	snap->rs = r->rs;
	snap->generation = r->gen;
	snap->ref = r;
}

void
engine_release(struct engine *e, struct snapshot *snap)
{
	if (snap->ref == NULL)
		return;
	pthread_mutex_lock(&e->cur_mtx);
	rsref_put_locked(snap->ref);
	pthread_mutex_unlock(&e->cur_mtx);
	memset(snap, 0, sizeof(*snap));
}

uint64_t
engine_generation(struct engine *e)
{
	uint64_t	 g;

	pthread_mutex_lock(&e->cur_mtx);
	g = e->cur->gen;
	pthread_mutex_unlock(&e->cur_mtx);
	return g;
}

void
engine_info(struct engine *e, struct engine_status_info *info)
{
	pthread_mutex_lock(&e->change_mtx);
	info->table_present = nft_table_present(e->nft);
	info->drift = nft_drifted(e->nft);
	info->pending = e->pending_gen;
	info->pending_secs = engine_pending_secs(e);
	info->history_oldest = e->hist_oldest;
	info->drift_start = e->drift_n > 0;
	info->drift_kept = e->drift_kept;
	info->drift_v = (const char *const *)e->drift_v;
	info->drift_n = e->drift_n;
	snprintf(info->state_error, sizeof(info->state_error), "%s",
	    e->state_error ? e->state_error : "");
	pthread_mutex_unlock(&e->change_mtx);
	info->generation = engine_generation(e);
	info->live_changes = engine_live_changes(e, info->generation);
}

int
engine_timer_fd(struct engine *e)
{
	return e->tfd;
}

/* The timer fired: the replace that awaits confirmation goes back, unless
 * it was confirmed or reverted meanwhile. A revert that fails (the disk,
 * the kernel) is tried again a little later; until then the ruleset that
 * was not confirmed stays, as it would after any refused change. */
void
engine_timer(struct engine *e)
{
	struct change		 c;
	struct change_result	 res;
	uint64_t		 n, gen;
	size_t			 i;
	bool			 due;

	if (read(e->tfd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("timerfd");
	pthread_mutex_lock(&e->change_mtx);
	gen = e->pending_gen;
	due = gen != 0 &&
	    engine_clock_ms(CLOCK_MONOTONIC) + 50 >= e->pending_due;
	pthread_mutex_unlock(&e->change_mtx);
	if (!due)
		return;
	memset(&c, 0, sizeof(c));
	c.op = CHANGE_REVERT;
	c.has_expected = true;		/* that one, not a later one */
	c.expected = gen;
	c.who = "confirmation timeout";
	engine_change(e, &c, &res);
	pthread_mutex_lock(&e->change_mtx);
	/* still pending: the revert failed (not confirmed meanwhile) */
	if (e->pending_gen == gen) {
		for (i = 0; i < res.diags.n; i++)
			log_warnx("revert of generation %" PRIu64 ": %s", gen,
			    res.diags.v[i].msg ? res.diags.v[i].msg : "?");
		log_warnx("generation %" PRIu64 " could not be reverted; "
		    "trying again in %d s", gen, ENGINE_REVERT_RETRY);
		engine_timer_arm(e, ENGINE_REVERT_RETRY);
	}
	pthread_mutex_unlock(&e->change_mtx);
	engine_result_free(&res);
	engine_trim(e);
}

int
engine_counters(struct engine *e, struct nft_counters *c, struct diags *d)
{
	int	 rv;

	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&e->change_mtx);
	rv = nft_counters(e->nft, c, d);
	pthread_mutex_unlock(&e->change_mtx);
	return rv;
}

/* The live ruleset without its run-time elements (data, not declared):
 * a share of the current one, or NULL on ENOMEM. */
static struct ruleset *
engine_declared(struct engine *e, uint64_t *gen)
{
	struct snapshot	 s;
	struct ruleset	*rs;

	engine_snapshot(e, &s);
	*gen = s.generation;
	if ((rs = ruleset_share(s.rs)) != NULL)
		edit_strip_runtime(rs);
	engine_release(e, &s);
	return rs;
}

static int
engine_rules_load(struct engine *e, struct ruleset **rs, struct diags *d)
{
	if (e->rules_dir == NULL) {
		diags_add(d, NULL, "%s", "fwctld runs without a rules "
		    "directory");
		return -1;
	}
	return rulesdir_load(e->rules_dir, rs, d);
}

void
engine_reload(struct engine *e, struct change *c, struct change_result *res)
{
	struct diags	 d;

	diags_init(&d);
	if (engine_rules_load(e, &c->ruleset, &d) == -1) {
		memset(res, 0, sizeof(*res));
		plan_init(&res->plan);
		res->diags = d;
		res->status = ENGINE_INVALID;
		res->generation = engine_generation(e);
		edit_change_free(c);
		return;
	}
	diags_free(&d);
	c->op = CHANGE_REPLACE;
	if (c->what == NULL)
		c->what = "reload";
	engine_change(e, c, res);
}

int
engine_diff(struct engine *e, struct plan *p, uint64_t *gen, struct diags *d)
{
	struct ruleset	*files, *live;
	int		 rv = -1;

	plan_init(p);
	if (engine_rules_load(e, &files, d) == -1)
		return -1;
	if ((live = engine_declared(e, gen)) == NULL)
		diags_add(d, NULL, "%s", "out of memory");
	else if (plan_diff(files, live, p) == -1)
		diags_add(d, NULL, "%s", "out of memory");
	else
		rv = 0;
	ruleset_free(files);
	ruleset_free(live);
	return rv;
}

/* Objects of the live ruleset that the rules directory does not say:
 * -1 when it cannot tell (no directory, or it does not load). Cached
 * while neither side changes. */
static ssize_t
engine_live_changes(struct engine *e, uint64_t gen)
{
	struct plan	 p;
	struct diags	 d;
	char		 key[96], fp[64];
	uint64_t	 g;
	ssize_t		 n = -1;
	bool		 cached;

	if (e->rules_dir == NULL ||
	    rulesdir_fingerprint(e->rules_dir, fp, sizeof(fp)) == -1)
		return -1;
	snprintf(key, sizeof(key), "%" PRIu64 "/%s", gen, fp);
	pthread_mutex_lock(&e->change_mtx);
	cached = e->diff_state != 0 && strcmp(key, e->diff_key) == 0;
	if (cached)
		n = e->diff_state == 1 ? (ssize_t)e->diff_count : -1;
	pthread_mutex_unlock(&e->change_mtx);
	if (cached)
		return n;
	diags_init(&d);
	if (engine_diff(e, &p, &g, &d) == 0 && g == gen)
		n = (ssize_t)p.n;
	plan_free(&p);
	diags_free(&d);
	pthread_mutex_lock(&e->change_mtx);
	snprintf(e->diff_key, sizeof(e->diff_key), "%s", key);
	e->diff_state = n >= 0 ? 1 : -1;
	e->diff_count = n >= 0 ? (size_t)n : 0;
	pthread_mutex_unlock(&e->change_mtx);
	return n;
}

int
engine_save(struct engine *e, bool with_elements, uint64_t *gen,
    char **backup, struct diags *d)
{
	struct snapshot	 s;
	struct ruleset	*live, *files = NULL;
	struct diags	 ld;
	int		 rv = -1;

	*backup = NULL;
	if (e->rules_dir == NULL) {
		diags_add(d, NULL, "%s", "fwctld runs without a rules "
		    "directory");
		return -1;
	}
	engine_snapshot(e, &s);
	*gen = s.generation;
	/* one save at a time, and none during a change */
	pthread_mutex_lock(&e->change_mtx);
	if ((live = ruleset_share(s.rs)) == NULL) {
		diags_add(d, NULL, "%s", "out of memory");
		goto out;
	}
	if (!with_elements)
		edit_strip_runtime(live);
	diags_init(&ld);
	/* nothing differs: the files stay as the administrator wrote them */
	if (rulesdir_load(e->rules_dir, &files, &ld) == 0 &&
	    ruleset_equal(files, live)) {
		rv = 1;
		diags_free(&ld);
		goto out;
	}
	diags_free(&ld);
	if (rulesdir_save(e->rules_dir, live, s.generation, backup, d) == 0) {
		rv = 0;
		log_info("saved generation %" PRIu64 " into %s/%s%s%s",
		    s.generation, e->rules_dir, RULESDIR_SAVED, *backup ?
		    "; the files it replaced are in " : "", *backup ? *backup :
		    "");
	}
out:
	ruleset_free(files);
	ruleset_free(live);
	engine_release(e, &s);
	e->diff_state = 0;
	pthread_mutex_unlock(&e->change_mtx);
	return rv;
}

int
engine_ruleset_at(struct engine *e, uint64_t gen, struct ruleset **rs,
    struct diags *d)
{
	struct snapshot	 s;
	int		 rv;

	engine_snapshot(e, &s);
	if (gen == s.generation) {
		*rs = ruleset_dup(s.rs);
		engine_release(e, &s);
		if (*rs == NULL)
			diags_add(d, NULL, "%s", "out of memory");
		return *rs != NULL ? 1 : -1;
	}
	engine_release(e, &s);
	pthread_mutex_lock(&e->change_mtx);
	rv = state_ruleset_at(e->state_dir, gen, rs, d);
	pthread_mutex_unlock(&e->change_mtx);
	return rv;
}

ssize_t
engine_end_connections(struct engine *e, const struct set_elem *v, size_t n,
    struct diags *d)
{
	struct addr	*a;
	ssize_t		 k;
	size_t		 i;

	if ((a = reallocarray(NULL, n + 1, sizeof(*a))) == NULL) {
		diags_add(d, NULL, "%s", "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		a[i] = v[i].key.addr;
	k = conntrack_kill_src(a, n, d);
	free(a);
	if (k > 0)
		log_info("ended %zd tracked connection%s from the %zu "
		    "address%s just added", k, k == 1 ? "" : "s", n, n == 1 ?
		    "" : "es");
	return k;
}

uint64_t
engine_history_oldest(struct engine *e)
{
	uint64_t	 g;

	pthread_mutex_lock(&e->change_mtx);
	g = e->hist_oldest;
	pthread_mutex_unlock(&e->change_mtx);
	return g;
}

const char *
engine_state_dir(const struct engine *e)
{
	return e->state_dir;
}
