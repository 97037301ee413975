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

#include "engine.h"
#include "log.h"
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
};

#define ENGINE_REVERT_RETRY	10	/* s, after a revert that failed */

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
	free(e);
}

const char *
engine_table(const struct engine *e)
{
	return e->table;
}


void
engine_change(struct engine *e, struct change *c, struct change_result *res)
{
	struct ruleset	*old, *next = NULL, *keep = NULL;
	struct rsref	*nref = NULL, *oref;
	struct diags	 rd;
	struct plan	 back;
	struct edit_effect eff;
	uint64_t	 gen, now = edit_now_ms(), undone = 0;
	bool		 kernel_changed = false, compact = false;
	bool		 pending_written = false;
	enum change_op	 logop = c->op;
	char		 summary[512];
	size_t		 i;
	int		 rv;

	memset(res, 0, sizeof(*res));
	memset(&eff, 0, sizeof(eff));
	plan_init(&res->plan);
	diags_init(&res->diags);
	res->status = ENGINE_OK;

	pthread_mutex_lock(&e->change_mtx);
	/* only a change swaps cur, and we hold change_mtx */
	old = e->cur->rs;
	gen = e->cur->gen;
	res->generation = gen;
	if (!edit_change_complete(c)) {
		edit_fail(res, ENGINE_INVALID, NULL, "%s",
		    "incomplete change");
		goto done;
	}
	if (c->has_expected && c->expected != gen) {
		res->status = ENGINE_STALE;
		diags_add(&res->diags, NULL,
		    "the ruleset is at generation %" PRIu64 ", not %" PRIu64,
		    gen, c->expected);
		goto done;
	}
	if (e->pending_stale && !c->dry_run) {
		if (state_pending_clear(e->state_dir, &res->diags) == -1) {
			edit_fail(res, ENGINE_FAILED, NULL, "%s", "a stale "
			    "pending.json cannot be removed; no change is taken "
			    "until it can, lest a restart revert it");
			goto done;
		}
		e->pending_stale = false;
	}
	if (c->op == CHANGE_CONFIRM || c->op == CHANGE_REVERT) {
		if (e->pending_gen == 0) {
			edit_fail(res, ENGINE_CONFLICT, NULL, "%s",
			    "no change awaits confirmation");
			goto done;
		}
		if (c->op == CHANGE_CONFIRM) {
			/* once confirmed, a start must not revert it */
			if (state_pending_clear(e->state_dir,
			    &res->diags) == -1) {
				res->status = ENGINE_FAILED;
				goto done;
			}
			log_info("%s: generation %" PRIu64 " confirmed",
			    c->who ? c->who : "?", e->pending_gen);
			engine_pending_drop(e);
			res->applied = true;
			goto done;
		}
		/* the ruleset before it, as a new generation, the one path */
		if ((c->ruleset = ruleset_dup(e->pending_prev)) == NULL) {
			edit_fail(res, ENGINE_FAILED, NULL, "%s",
			    "out of memory");
			goto done;
		}
		undone = e->pending_gen;
		c->op = CHANGE_REPLACE;
		c->confirm_secs = 0;
	} else if (e->pending_gen != 0 && !c->dry_run) {
		edit_fail(res, ENGINE_CONFLICT, NULL, "generation %" PRIu64
		    " awaits confirmation: confirm it (POST /v1/confirm, fwctl "
		    "confirm) or revert it (POST /v1/revert, fwctl revert); "
		    "unconfirmed, it is reverted in %u s", e->pending_gen,
		    engine_pending_secs(e));
		goto done;
	}

	/* build the new ruleset beside the old one, sharing what stays */
	eff.diff = eff.check_all = true;
	if (c->op == CHANGE_REPLACE) {
		next = c->ruleset;
		c->ruleset = NULL;
		for (i = 0; i < next->nsets; i++) {
			set_sort(next->sets[i]);
			edit_stamp_set(old, next->sets[i], now);
		}
		/* a revert restores the elements the ruleset before had
		 * (none changed since: changes were refused), not those of
		 * the ruleset it undoes */
		if (undone == 0 && edit_carry_elems(old, next, now) == -1) {
			edit_fail(res, ENGINE_FAILED, NULL, "%s",
			    "out of memory");
			goto done;
		}
	} else if (c->op == CHANGE_FLUSH)
		next = ruleset_new();
	else {
		if (e->ridx == NULL)
			e->ridx = edit_index_build(old);
		/* the rules without a reference each: settled below */
		next = ruleset_borrow(old);
	}
	if (next == NULL) {
		edit_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
		goto done;
	}
	if (c->op != CHANGE_REPLACE && c->op != CHANGE_FLUSH &&
	    edit_apply(next, c, res, e->ridx, now, &eff) == -1)
		goto done;
	edit_prune_expired(next, now);

	if (edit_check(next, c, &eff, res) == -1)
		goto done;

	if (eff.diff) {
		plan_free(&res->plan);
		plan_init(&res->plan);
		if (plan_diff(old, next,
		    &res->plan) == -1) {
			edit_fail(res, ENGINE_FAILED, NULL, "%s",
			    "out of memory");
			goto done;
		}
	}
	if (c->dry_run) {
		res->applied = false;
		goto done;
	}
	if (res->plan.n == 0 && c->op != CHANGE_FLUSH && !e->kernel_unknown) {
		/* nothing to do: no transaction, no new generation (and
		 * nothing to confirm; a revert finds the ruleset as it was) */
		res->applied = true;
		if (undone != 0 && state_pending_clear(e->state_dir,
		    &res->diags) == -1)
			res->status = ENGINE_FAILED;
		else if (undone != 0) {
			engine_pending_drop(e);
			res->reverted = undone;
		}
		goto done;
	}
	/* what can fail is allocated before the kernel and the disk change:
	 * once the state is written, nothing may fail */
	if ((nref = rsref_new(NULL, gen + 1)) == NULL) {
		edit_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
		goto done;
	}
	/* to be confirmed: what to go back to is on disk before the kernel
	 * changes, so that a crash at any point still reverts it */
	if (c->op == CHANGE_REPLACE && c->confirm_secs > 0 && e->flushed) {
		/* going back would program an empty table, which drops all
		 * that is new: a lockout, where there was an open host */
		edit_fail(res, ENGINE_CONFLICT, NULL, "%s", "the table is "
		    "flushed: there is no ruleset to go back to; apply "
		    "without confirm");
		goto done;
	}
	if (c->op == CHANGE_REPLACE && c->confirm_secs > 0) {
		if ((keep = ruleset_dup(old)) == NULL) {
			edit_fail(res, ENGINE_FAILED, NULL, "%s",
			    "out of memory");
			goto done;
		}
		if (state_pending_save(e->state_dir, gen + 1, keep,
		    &res->diags) == -1) {
			res->status = ENGINE_FAILED;
			goto done;
		}
		pending_written = true;
	}

	if (c->op == CHANGE_FLUSH)
		rv = nft_flush(e->nft, &res->diags);
	else
		rv = nft_apply(e->nft, e->kernel_unknown ? NULL : old, next,
		    &res->plan, &res->diags);
	if (rv == -1) {
		res->status = ENGINE_REFUSED;
		if (res->diags.n == 0)
			diags_add(&res->diags, NULL, "%s",
			    "the kernel refused the change");
		goto done;
	}
	kernel_changed = true;
	/*
	 * A flush is marked before its empty state is saved, so that a start
	 * after either write leaves the table out as the kernel has it; the
	 * first change after it removes the mark before its own record.
	 */
	if (c->op == CHANGE_FLUSH || e->flushed) {
		if (state_set_flushed(e->state_dir, c->op == CHANGE_FLUSH,
		    &res->diags) == -1) {
			res->status = ENGINE_FAILED;
			goto done;
		}
	}
	/* a whole new ruleset is a snapshot; one change, a journal record */
	if (c->op == CHANGE_REPLACE || c->op == CHANGE_FLUSH)
		rv = state_save(e->state_dir, gen + 1, next, &res->diags);
	else
		rv = state_append(e->state_dir, gen + 1, c, &eff, res,
		    &compact, &res->diags);
	if (rv == -1) {
		res->status = ENGINE_FAILED;
		/* the mark follows the kernel, which goes back */
		if (c->op == CHANGE_FLUSH || e->flushed) {
			diags_init(&rd);
			if (state_set_flushed(e->state_dir, e->flushed,
			    &rd) == -1)
				log_warnx("%s: cannot restore the flush mark",
				    e->state_dir);
			diags_free(&rd);
		}
		goto done;
	}
	/* last, once the transient memory of the change is free, so that the
	 * rules kept lie together (and no one sees next yet); the kernel
	 * layer keeps names, not these pointers */
	if (c->op == CHANGE_REPLACE)
		(void)ruleset_pack_rules(next);	/* an optimisation only */
	nref->rs = next;
	/* the index follows before the old ruleset (and what the change
	 * took out of it) may go */
	if (c->op == CHANGE_REPLACE || c->op == CHANGE_FLUSH ||
	    (e->ridx != NULL && edit_index_update(e->ridx, &eff) == -1)) {
		nameidx_free(e->ridx);
		e->ridx = NULL;
	}
	kernel_changed = false;
	e->kernel_unknown = e->flushed = c->op == CHANGE_FLUSH;
	pthread_mutex_lock(&e->cur_mtx);
	oref = e->cur;
	if (next->rules_borrowed) {
		if (oref->refs == 1) {
			/* old goes now, and nobody reads it: its references
			 * on the rules pass to next, and the one on a rule
			 * the change took out goes with eff.removed */
			old->nrules = 0;
			next->rules_borrowed = false;
		} else {
			/* a reader holds old, which keeps its own */
			ruleset_settle_rules(next, eff.added);
			eff.removed = NULL;
		}
	}
	next = NULL;
	e->cur = nref;
	rsref_put_locked(oref);
	pthread_mutex_unlock(&e->cur_mtx);
	oref = nref;
	nref = NULL;
	res->generation = gen + 1;
	res->applied = true;
	if (keep != NULL) {
		e->pending_gen = gen + 1;
		e->pending_prev = keep;
		keep = NULL;
		pending_written = false;
		engine_timer_arm(e, c->confirm_secs);
		res->pending = true;
		log_notice("%s: generation %" PRIu64 " is reverted in %u s "
		    "unless confirmed", c->who ? c->who : "?", gen + 1,
		    c->confirm_secs);
	}
	if (undone != 0) {
		/* the state says gen + 1 now: the file may go */
		diags_init(&rd);
		if (state_pending_clear(e->state_dir, &rd) == -1)
			log_warnx("%s: cannot remove pending.json; the next "
			    "start ignores it", e->state_dir);
		diags_free(&rd);
		engine_pending_drop(e);
		res->reverted = undone;
		log_notice("%s: generation %" PRIu64 " reverted: the ruleset "
		    "before it is back as generation %" PRIu64,
		    c->who ? c->who : "?", undone, gen + 1);
	}
	if (compact) {
		/* the change is on disk already: a failure here costs a longer
		 * journal, not the change */
		diags_init(&rd);
		if (state_save(e->state_dir, gen + 1, oref->rs, &rd) == -1)
			log_warnx("%s: cannot write a snapshot; the journal "
			    "keeps growing", e->state_dir);
		diags_free(&rd);
	}
done:
	if (kernel_changed) {
		/* the disk refused: put the kernel back as the model is */
		diags_init(&rd);
		plan_init(&back);
		if (e->flushed) {
			/* the table was not there before this change */
			if (nft_flush(e->nft, &rd) == -1) {
				log_warnx("cannot remove table inet %s again "
				    "after a failed save", e->table);
				e->kernel_unknown = true;
			}
		} else if (c->op == CHANGE_FLUSH ||
		    plan_diff(next, old, &back) == -1 ||
		    nft_apply(e->nft, next, old, &back, &rd) == -1) {
			if (nft_apply(e->nft, NULL, old, NULL, &rd) == -1) {
				log_warnx("cannot restore table inet %s after "
				    "a failed save", e->table);
				e->kernel_unknown = true;
			}
		}
		plan_free(&back);
		diags_free(&rd);
	}
	edit_plan_summary(&res->plan, summary, sizeof(summary));
	if (res->status == ENGINE_OK || res->status == ENGINE_CREATED) {
		if (c->dry_run)
			log_debug("%s: %s %s (dry run): %s", c->who ? c->who :
			    "?", edit_op_name(logop), c->name ? c->name : "",
			    summary);
		else if (res->generation != gen)
			log_info("%s: %s: %s (generation %" PRIu64 ")",
			    c->who ? c->who : "?", edit_op_name(logop),
			    summary, res->generation);
	} else
		log_notice("%s: %s refused (%s)%s%s", c->who ? c->who : "?",
		    edit_op_name(logop), engine_status_name(res->status),
		    res->diags.n && res->diags.v[0].msg ? ": " : "",
		    res->diags.n && res->diags.v[0].msg ?
		    res->diags.v[0].msg : "");
	if (pending_written) {
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
	ruleset_free(keep);
	free(nref);		/* never published: rs is still next */
	if (next != NULL && next->rules_borrowed) {
		/* old keeps its rules; next owns only the one it added */
		rule_free(eff.added);
		eff.removed = NULL;
	}
	ruleset_free(next);
	rule_free(eff.removed);
	edit_change_free(c);
	/* a whole ruleset's worth of parsing, planning and encoding was
	 * freed: the caller gives the pages back (engine_trim) once its
	 * reply is freed too, rather than keep the peak resident */
	if (c->op == CHANGE_REPLACE || c->op == CHANGE_FLUSH)
		atomic_store(&e->trim_due, true);
}

void
engine_trim(struct engine *e)
{
	if (atomic_exchange(&e->trim_due, false))
		malloc_trim(0);
}

void
engine_result_free(struct change_result *res)
{
	plan_free(&res->plan);
	diags_free(&res->diags);
}

int
engine_start(struct engine *e, struct ruleset *rs, uint64_t gen, bool save,
    struct diags *d)
{
	struct rsref	*r;
	uint64_t	 now = edit_now_ms();
	size_t		 i;
	bool		 flushed;

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
	 * removed on purpose and a restart does not put it back (an empty
	 * ruleset is a table that drops every new connection to the host);
	 * the next change programs the whole table.
	 */
	flushed = !save && rs->nzones == 0 && rs->npolicies == 0 &&
	    rs->nrules == 0 && rs->nnats == 0 && rs->nsets == 0 &&
	    state_flushed(e->state_dir);
	pthread_mutex_lock(&e->change_mtx);
	if (flushed)
		log_info("table inet %s was flushed: it stays removed until "
		    "the next change", e->table);
	else if (nft_apply(e->nft, NULL, rs, NULL, d) == -1)
		goto fail_locked;
	/* the journal of this run starts from a snapshot of its own */
	if (save && state_set_flushed(e->state_dir, false, d) == -1)
		goto fail_locked;
	if ((save || state_needs_snapshot(e->state_dir)) &&
	    state_save(e->state_dir, gen, rs, d) == -1)
		goto fail_locked;
	pthread_mutex_lock(&e->cur_mtx);
	rsref_put_locked(e->cur);
	e->cur = r;
	pthread_mutex_unlock(&e->cur_mtx);
	nameidx_free(e->ridx);
	e->ridx = edit_index_build(rs);
	e->kernel_unknown = e->flushed = flushed;
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
	pthread_mutex_unlock(&e->change_mtx);
	info->generation = engine_generation(e);
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

	(void)read(e->tfd, &n, sizeof(n));
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
