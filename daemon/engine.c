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
#include "lint.h"
#include "log.h"
#include "print.h"
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

/* Wall time: element expiry times are kept across restarts. */
uint64_t
engine_now_ms(void)
{
	return engine_clock_ms(CLOCK_REALTIME);
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

/*
 * Sets whose expiry_hint has passed are copied (when shared) and cleaned
 * in one pass, which also makes their hint exact again; the others are not
 * looked into.
 */
size_t
engine_prune_expired(struct ruleset *rs, uint64_t now)
{
	struct set	*s;
	unsigned char	*drop;
	size_t		 i, j, n = 0, k;

	for (i = 0; i < rs->nsets; i++) {
		s = rs->sets[i];
		if (s->expiry_hint == 0 || s->expiry_hint > now)
			continue;
		if ((drop = calloc(s->nelems + 1, 1)) == NULL)
			continue;
		for (j = k = 0; j < s->nelems; j++)
			if (s->elems[j].expires_ms != 0 &&
			    s->elems[j].expires_ms <= now) {
				drop[j] = 1;
				k++;
			}
		if ((s = ruleset_own_set(rs, i, 0)) != NULL) {
			set_remove_marked(s, drop);
			n += k;
		}
		free(drop);
	}
	return n;
}

static bool
engine_has_expired(const struct ruleset *rs, uint64_t now)
{
	size_t		 i;

	for (i = 0; i < rs->nsets; i++)
		if (rs->sets[i]->expiry_hint != 0 &&
		    rs->sets[i]->expiry_hint <= now)
			return true;
	return false;
}

/*
 * Elements with a timeout get a wall-clock expiry, so that the model (and
 * the state file) forget them when the kernel does.  Elements that were
 * already there (in os, the set of the same name before) keep theirs: the
 * kernel keeps them untouched.
 */
static void
engine_stamp_elem(const struct set *s, const struct set *os,
    struct set_elem *el, uint64_t now)
{
	uint64_t	 t;
	ssize_t		 k;

	t = el->timeout_ms ? el->timeout_ms : s->timeout_ms;
	if (t == 0 || el->expires_ms != 0)
		return;
	if (os != NULL && (k = set_find_elem(os, el)) >= 0 &&
	    os->elems[k].expires_ms != 0)
		el->expires_ms = os->elems[k].expires_ms;
	else
		el->expires_ms = now + t;
}

/* s is new (not shared); old is the ruleset before, or NULL. */
static void
engine_stamp_set(const struct ruleset *old, struct set *s, uint64_t now)
{
	const struct set *os = NULL;
	ssize_t		 oi;
	size_t		 j;

	if (s->timeout_ms == 0) {
		for (j = 0; j < s->nelems; j++)
			if (s->elems[j].timeout_ms != 0)
				break;
		if (j == s->nelems)
			return;
	}
	if (old != NULL && (oi = ruleset_find_set(old, s->name)) >= 0 &&
	    old->sets[oi]->type == s->type)
		os = old->sets[oi];
	s->expiry_hint = 0;
	for (j = 0; j < s->nelems; j++) {
		engine_stamp_elem(s, os, &s->elems[j], now);
		if (s->elems[j].expires_ms != 0 && (s->expiry_hint == 0 ||
		    s->elems[j].expires_ms < s->expiry_hint))
			s->expiry_hint = s->elems[j].expires_ms;
	}
}

/* Keys a and b of a set of type t share an address or a port. */
static bool
engine_elems_overlap(enum set_type t, const struct set_elem *a,
    const struct set_elem *b)
{
	if (t == SET_PORT)
		return a->key.port.lo <= b->key.port.hi &&
		    b->key.port.lo <= a->key.port.hi;
	if (a->key.addr.prefix <= b->key.addr.prefix)
		return addr_in_network(&b->key.addr, &a->key.addr);
	return addr_in_network(&a->key.addr, &b->key.addr);
}

/*
 * A whole-ruleset replace keeps what was added to dynamic sets at run
 * time (DESIGN: replacing the ruleset leaves the elements of dynamic sets
 * in place): a set of next that has a timeout, and that old has with the
 * same type and timeout, gets old's unexpired elements, with their
 * expiry, beside the ones its text lists. A listed element wins over an
 * old one with the same key or an overlapping one (the lists of next are
 * free of overlaps, so only the neighbours where an old key would go can
 * overlap it). Sets without a timeout take exactly what is listed.
 * next's sets are sorted. 0, or -1 on ENOMEM.
 */
static int
engine_carry_elems(const struct ruleset *old, struct ruleset *next,
    uint64_t now)
{
	const struct set *os;
	struct set	*s;
	struct set_elem	*add = NULL;
	size_t		 i, j, n, pos;
	ssize_t		 oi;

	for (i = 0; i < next->nsets; i++) {
		s = next->sets[i];
		if (s->timeout_ms == 0 ||
		    (oi = ruleset_find_set(old, s->name)) < 0)
			continue;
		os = old->sets[oi];
		if (os->type != s->type || os->timeout_ms != s->timeout_ms ||
		    os->nelems == 0)
			continue;
		if ((add = reallocarray(NULL, os->nelems, sizeof(*add))) ==
		    NULL)
			return -1;
		for (j = n = 0; j < os->nelems; j++) {
			if (os->elems[j].expires_ms != 0 &&
			    os->elems[j].expires_ms <= now)
				continue;
			pos = set_lower_bound(s, &os->elems[j]);
			if ((pos < s->nelems && engine_elems_overlap(s->type,
			    &s->elems[pos], &os->elems[j])) || (pos > 0 &&
			    engine_elems_overlap(s->type, &s->elems[pos - 1],
			    &os->elems[j])))
				continue;
			add[n++] = os->elems[j];
		}
		if (os->unsorted)
			set_elems_sort(s->type, add, n);
		if (n > 0 && ruleset_update_set(next, i, add, n, NULL) == -1) {
			free(add);
			return -1;
		}
		free(add);
		add = NULL;
		s = next->sets[i];
		for (j = 0; j < s->nelems; j++)
			if (s->elems[j].expires_ms != 0 && (s->expiry_hint ==
			    0 || s->elems[j].expires_ms < s->expiry_hint))
				s->expiry_hint = s->elems[j].expires_ms;
	}
	return 0;
}

static bool
engine_zone_known(const struct ruleset *rs, const char *z)
{
	if (z == NULL || strcmp(z, ZONE_ANY) == 0 || strcmp(z, ZONE_SELF) == 0)
		return true;
	return ruleset_find_zone(rs, z) >= 0;
}

static int
engine_check_zone(const struct ruleset *rs, struct diags *d,
    const struct srcloc *l, const char *what, const char *name,
    const char *z)
{
	if (engine_zone_known(rs, z))
		return 0;
	diags_add(d, l, "%s %s: unknown zone \"%s\"", what, name, z);
	return 1;
}

static int
engine_check_set(const struct ruleset *rs, struct diags *d,
    const struct srcloc *l, const char *what, const char *name,
    const char *set)
{
	if (set == NULL || ruleset_find_set(rs, set) >= 0)
		return 0;
	diags_add(d, l, "%s %s: unknown set \"@%s\"", what, name, set);
	return 1;
}

static int
engine_rule_conflicts(const struct ruleset *rs, const struct rule *r,
    struct diags *d)
{
	int	 c = 0;

	c += engine_check_zone(rs, d, &r->loc, "rule", r->name, r->from);
	c += engine_check_zone(rs, d, &r->loc, "rule", r->name, r->to);
	c += engine_check_set(rs, d, &r->loc, "rule", r->name, r->src.set);
	c += engine_check_set(rs, d, &r->loc, "rule", r->name, r->dst.set);
	c += engine_check_set(rs, d, &r->loc, "rule", r->name, r->sport.set);
	c += engine_check_set(rs, d, &r->loc, "rule", r->name, r->dport.set);
	if (r->name != NULL && ruleset_find_nat(rs, r->name) >= 0)
		c++;	/* a NAT entry's name (validate.c says so) */
	return c;
}

static int
engine_nat_conflicts(const struct ruleset *rs, const struct nat *n,
    struct diags *d)
{
	int	 c = 0;

	c += engine_check_zone(rs, d, &n->loc, "nat", n->name, n->from);
	c += engine_check_zone(rs, d, &n->loc, "nat", n->name, n->to);
	c += engine_check_set(rs, d, &n->loc, "nat", n->name, n->src.set);
	if (n->name != NULL && ruleset_find_rule(rs, n->name) >= 0)
		c++;	/* a rule's name (validate.c says so) */
	return c;
}

/* Names seen twice among n objects (names first in their structs). */
static int
engine_dups(void *const *v, size_t n, const char *what, struct diags *d)
{
	struct nameidx	*idx;
	size_t		 i;
	int		 c = 0;

	if ((idx = nameidx_new(n)) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (*(char *const *)v[i] == NULL)
			continue;
		if (nameidx_get(idx, *(char *const *)v[i]) != NULL) {
			diags_add(d, NULL, "%s %s is defined twice", what,
			    *(char *const *)v[i]);
			c++;
		} else if (nameidx_put(idx, v[i]) == -1)
			break;
	}
	nameidx_free(idx);
	return c;
}

/*
 * Name clashes and references to missing zones and sets: the problems
 * that make a change conflict with the ruleset (409) rather than be
 * malformed (400).  Counted, and described in d.
 */
static int
engine_conflicts(const struct ruleset *rs, struct diags *d)
{
	const struct policy *p;
	size_t		 i;
	ssize_t		 k;
	int		 c = 0;
	char		 pname[2 * FWCTL_NAME_MAX + 8];

	c += engine_dups((void *const *)rs->zones, rs->nzones, "zone", d);
	c += engine_dups((void *const *)rs->sets, rs->nsets, "set", d);
	c += engine_dups((void *const *)rs->rules, rs->nrules, "rule", d);
	c += engine_dups((void *const *)rs->nats, rs->nnats, "nat", d);
	for (i = 0; i < rs->npolicies; i++) {
		p = rs->policies[i];
		snprintf(pname, sizeof(pname), "%s -> %s", p->from, p->to);
		c += engine_check_zone(rs, d, &p->loc, "policy", pname,
		    p->from);
		c += engine_check_zone(rs, d, &p->loc, "policy", pname, p->to);
		if ((k = ruleset_find_policy(rs, p->from, p->to)) >= 0 &&
		    (size_t)k != i) {
			diags_add(d, &p->loc, "policy %s is defined twice",
			    pname);
			c++;
		}
	}
	for (i = 0; i < rs->nrules; i++)
		c += engine_rule_conflicts(rs, rs->rules[i], d);
	for (i = 0; i < rs->nnats; i++)
		c += engine_nat_conflicts(rs, rs->nats[i], d);
	return c;
}

/* A diag without a location, for messages about the request itself. */
static void
engine_fail(struct change_result *res, enum engine_status st,
    const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
engine_fail(struct change_result *res, enum engine_status st,
    const char *field, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg = NULL;

	res->status = st;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if (field != NULL)
		diags_add_field(&res->diags, field, "%s", msg ? msg : "?");
	else
		diags_add(&res->diags, NULL, "%s", msg ? msg : "?");
	free(msg);
}

void
engine_change_free(struct change *c)
{
	ruleset_free(c->ruleset);
	rule_free(c->rule);
	zone_free(c->zone);
	policy_free(c->policy);
	nat_free(c->nat);
	set_free(c->set);
	c->ruleset = NULL;
	c->rule = NULL;
	c->zone = NULL;
	c->policy = NULL;
	c->nat = NULL;
	c->set = NULL;
}

static bool
engine_pos_parse(const char *s, size_t *pos)
{
	char		*end;
	unsigned long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return false;
	*pos = v;
	return true;
}

/* The rule named name in rs (shared from the ruleset ridx indexes). */
static ssize_t
engine_find_rule(const struct ruleset *rs, const struct nameidx *ridx,
    const char *name)
{
	const struct rule *r;

	if (ridx == NULL)
		return ruleset_find_rule(rs, name);
	if ((r = nameidx_get(ridx, name)) == NULL)
		return -1;
	return ruleset_rule_index(rs, r);
}

/* Where a new rule goes: index 0..nrules, or -1 with res filled. */
static ssize_t
engine_rule_slot(const struct ruleset *rs, const struct nameidx *ridx,
    const struct change *c, struct change_result *res)
{
	ssize_t	 k;
	int	 given = (c->position != 0) + (c->before != NULL) +
		    (c->after != NULL);

	if (given > 1) {
		engine_fail(res, ENGINE_INVALID, "position", "%s",
		    "give at most one of position, before and after");
		return -1;
	}
	if (c->position != 0) {
		if (c->position > rs->nrules + 1) {
			res->status = ENGINE_INVALID;
			diags_add_field(&res->diags, "position",
			    "position %zu is out of range (1..%zu)",
			    c->position, rs->nrules + 1);
			return -1;
		}
		return (ssize_t)c->position - 1;
	}
	if (c->before != NULL || c->after != NULL) {
		k = engine_find_rule(rs, ridx, c->before ? c->before :
		    c->after);
		if (k < 0) {
			engine_fail(res, ENGINE_NOTFOUND,
			    c->before ? "before" : "after", "no rule named %s",
			    c->before ? c->before : c->after);
			return -1;
		}
		return c->before ? k : k + 1;
	}
	return (ssize_t)rs->nrules;
}

/*
 * Elements to add to set s (ordered): the ones given, in key order, once
 * each, without those already there, stamped with their expiry. Checked
 * as validate_ruleset would check the merged set; 0, or -1 with res
 * filled (*out freed).
 */
static int
engine_new_elems(const struct set *s, const struct set *os,
    const struct set_elem *in, size_t n, uint64_t now,
    struct set_elem **out, size_t *nout, struct change_result *res)
{
	struct set_elem	*v;
	size_t		 i, m = 0;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	if ((v = reallocarray(NULL, n, sizeof(*v))) == NULL) {
		engine_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
		return -1;
	}
	memcpy(v, in, n * sizeof(*v));
	set_elems_sort(s->type, v, n);
	for (i = 0; i < n; i++) {
		/* the first of equal keys wins, as one by one */
		if (m > 0 && set_elem_cmp(s->type, &v[m - 1], &v[i]) == 0)
			continue;
		if (set_find_elem(s, &v[i]) >= 0)
			continue;
		v[m] = v[i];
		engine_stamp_elem(s, os, &v[m], now);
		m++;
	}
	if (validate_set_elems(s, v, m, &res->diags) > 0) {
		res->status = ENGINE_INVALID;
		free(v);
		return -1;
	}
	*out = v;
	*nout = m;
	return 0;
}

static int
engine_edit_elems(struct ruleset *next, struct change *c,
    struct change_result *res, uint64_t now, struct edit_effect *eff)
{
	struct plan	*p = &res->plan;
	struct set	*s;
	struct set_elem	*add = NULL;
	unsigned char	*drop = NULL;
	ssize_t		 k, e;
	size_t		 i, nadd;
	char		*t;

	if ((k = ruleset_find_set(next, c->name)) < 0) {
		engine_fail(res, ENGINE_NOTFOUND, "name", "no set named %s",
		    c->name);
		return -1;
	}
	s = next->sets[k];
	if (s->unsorted && (s = ruleset_own_set(next, (size_t)k, 0)) != NULL)
		set_sort(s);
	if (s == NULL)
		goto nomem;
	eff->obj = s;
	if (c->op == CHANGE_ELEMS_ADD) {
		/* the same set before: elements there keep their expiry */
		if (engine_new_elems(s, NULL, c->elems, c->nelems, now, &add,
		    &nadd, res) == -1)
			return -1;
		for (i = 0; i < nadd; i++)
			if (plan_add_elem(p, PLAN_ADD, s, &add[i]) == -1)
				goto nomem;
		if (nadd > 0 && ruleset_update_set(next, (size_t)k, add, nadd,
		    NULL) == -1)
			goto nomem;
		res->count = nadd;
		free(add);
		return 0;
	}
	if ((drop = calloc(s->nelems + 1, 1)) == NULL)
		goto nomem;
	for (i = 0; i < c->nelems; i++) {
		if ((e = set_find_elem(s, &c->elems[i])) < 0 || drop[e]) {
			t = print_set_elem(s->type, &c->elems[i]);
			res->status = ENGINE_NOTFOUND;
			diags_add_field(&res->diags, "elements",
			    "%s is not in set %s", t ? t : "element", s->name);
			free(t);
			continue;
		}
		if (plan_add_elem(p, PLAN_REMOVE, s, &s->elems[e]) == -1)
			goto nomem;
		drop[e] = 1;
		res->count++;
	}
	if (res->status == ENGINE_NOTFOUND) {
		free(drop);
		return -1;
	}
	if (res->count > 0 && ruleset_update_set(next, (size_t)k, NULL, 0,
	    drop) == -1)
		goto nomem;
	free(drop);
	return 0;
nomem:
	free(add);
	free(drop);
	engine_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
	return -1;
}

int
engine_edit(struct ruleset *next, struct change *c, struct change_result *res,
    const struct nameidx *ridx, uint64_t now, struct edit_effect *eff)
{
	struct plan	*p = &res->plan;
	ssize_t		 k, slot;
	size_t		 pos;
	char		 pname[2 * FWCTL_NAME_MAX + 8];

	memset(eff, 0, sizeof(*eff));
	if ((c->op == CHANGE_RULE_ADD || c->op == CHANGE_RULE_PUT) &&
	    !c->rule->packed) {
		/* the form a ruleset keeps its rules in */
		struct rule *r = rule_pack(c->rule);

		if (r == NULL)
			goto nomem;
		rule_free(c->rule);
		c->rule = r;
	}
	switch (c->op) {
	case CHANGE_RULE_ADD:
		if ((ridx ? nameidx_get(ridx, c->rule->name) != NULL :
		    ruleset_find_rule(next, c->rule->name) >= 0)) {
			engine_fail(res, ENGINE_CONFLICT, "name",
			    "a rule named %s exists", c->rule->name);
			return -1;
		}
		if ((slot = engine_rule_slot(next, ridx, c, res)) < 0)
			return -1;
		if (plan_add(p, PLAN_ADD, PLAN_RULE, c->rule->name) == -1 ||
		    ruleset_insert_rule(next, (size_t)slot, c->rule) == -1)
			goto nomem;
		eff->added = c->rule;
		c->rule = NULL;
		res->position = (size_t)slot + 1;
		p->v[p->n - 1].pos = res->position;
		res->status = ENGINE_CREATED;
		break;
	case CHANGE_RULE_PUT:
		if ((k = engine_find_rule(next, ridx, c->rule->name)) >= 0) {
			if (rule_equal(next->rules[k], c->rule)) {
				res->position = (size_t)k + 1;
				return 0;
			}
			if (plan_add(p, PLAN_CHANGE, PLAN_RULE,
			    c->rule->name) == -1)
				goto nomem;
			/* eff keeps next's reference until the index
			 * has let go of the name */
			eff->removed = next->rules[k];
			next->rules[k] = c->rule;
			res->position = (size_t)k + 1;
		} else {
			if (plan_add(p, PLAN_ADD, PLAN_RULE,
			    c->rule->name) == -1 ||
			    ruleset_add_rule(next, c->rule) == -1)
				goto nomem;
			res->position = next->nrules;
			res->status = ENGINE_CREATED;
		}
		eff->added = c->rule;
		c->rule = NULL;
		p->v[p->n - 1].pos = res->position;
		break;
	case CHANGE_RULE_DELETE:
		if (engine_pos_parse(c->name, &pos)) {
			if (pos > next->nrules) {
				engine_fail(res, ENGINE_NOTFOUND, "position",
				    "no rule at position %s", c->name);
				return -1;
			}
			k = (ssize_t)pos - 1;
		} else if ((k = engine_find_rule(next, ridx, c->name)) < 0) {
			engine_fail(res, ENGINE_NOTFOUND, "name",
			    "no rule named %s", c->name);
			return -1;
		}
		if (plan_add(p, PLAN_REMOVE, PLAN_RULE,
		    next->rules[k]->name) == -1)
			goto nomem;
		res->position = (size_t)k + 1;	/* where it was */
		p->v[p->n - 1].pos = res->position;
		eff->removed = ruleset_remove_rule(next, (size_t)k);
		break;
	case CHANGE_ZONE_PUT:
		eff->diff = eff->check_all = true;
		/* in place: the order is visible */
		if ((k = ruleset_find_zone(next, c->zone->name)) >= 0)
			ruleset_replace_zone(next, (size_t)k, c->zone);
		else {
			if (ruleset_add_zone(next, c->zone) == -1)
				goto nomem;
			res->status = ENGINE_CREATED;
		}
		eff->obj = c->zone;
		c->zone = NULL;
		break;
	case CHANGE_ZONE_DELETE:
		eff->diff = eff->check_all = true;
		if ((k = ruleset_find_zone(next, c->name)) < 0) {
			engine_fail(res, ENGINE_NOTFOUND, "name",
			    "no zone named %s", c->name);
			return -1;
		}
		zone_free(ruleset_remove_zone(next, (size_t)k));
		break;
	case CHANGE_POLICY_PUT:
		eff->diff = eff->check_all = true;
		k = ruleset_find_policy(next, c->policy->from, c->policy->to);
		if (k >= 0)
			ruleset_replace_policy(next, (size_t)k, c->policy);
		else {
			if (ruleset_add_policy(next, c->policy) == -1)
				goto nomem;
			res->status = ENGINE_CREATED;
		}
		eff->obj = c->policy;
		c->policy = NULL;
		break;
	case CHANGE_POLICY_DELETE:
		eff->diff = eff->check_all = true;
		if ((k = ruleset_find_policy(next, c->from, c->to)) < 0) {
			snprintf(pname, sizeof(pname), "%s -> %s", c->from,
			    c->to);
			engine_fail(res, ENGINE_NOTFOUND, NULL,
			    "no policy %s", pname);
			return -1;
		}
		policy_free(ruleset_remove_policy(next, (size_t)k));
		break;
	case CHANGE_NAT_ADD:
		if (ruleset_find_nat(next, c->nat->name) >= 0) {
			engine_fail(res, ENGINE_CONFLICT, "name",
			    "a nat entry named %s exists", c->nat->name);
			return -1;
		}
		if (plan_add(p, PLAN_ADD, PLAN_NAT, c->nat->name) == -1 ||
		    ruleset_add_nat(next, c->nat) == -1)
			goto nomem;
		eff->obj = c->nat;
		c->nat = NULL;
		res->status = ENGINE_CREATED;
		break;
	case CHANGE_NAT_DELETE:
		if ((k = ruleset_find_nat(next, c->name)) < 0) {
			engine_fail(res, ENGINE_NOTFOUND, "name",
			    "no nat entry named %s", c->name);
			return -1;
		}
		if (plan_add(p, PLAN_REMOVE, PLAN_NAT, c->name) == -1)
			goto nomem;
		nat_free(ruleset_remove_nat(next, (size_t)k));
		break;
	case CHANGE_SET_PUT:
		eff->diff = eff->check_all = true;
		set_sort(c->set);
		/* elements that stay keep their expiry */
		engine_stamp_set(next, c->set, now);
		if ((k = ruleset_find_set(next, c->set->name)) >= 0)
			ruleset_replace_set(next, (size_t)k, c->set);
		else {
			if (ruleset_add_set(next, c->set) == -1)
				goto nomem;
			res->status = ENGINE_CREATED;
		}
		eff->obj = c->set;
		c->set = NULL;
		break;
	case CHANGE_SET_DELETE:
		eff->diff = eff->check_all = true;
		if ((k = ruleset_find_set(next, c->name)) < 0) {
			engine_fail(res, ENGINE_NOTFOUND, "name",
			    "no set named %s", c->name);
			return -1;
		}
		set_free(ruleset_remove_set(next, (size_t)k));
		break;
	case CHANGE_ELEMS_ADD:
	case CHANGE_ELEMS_DELETE:
		return engine_edit_elems(next, c, res, now, eff);
	case CHANGE_REPLACE:
	case CHANGE_FLUSH:
	default:
		engine_fail(res, ENGINE_INVALID, NULL, "%s", "unknown change");
		return -1;
	}
	return 0;
nomem:
	engine_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
	return -1;
}

int
engine_index_update(struct nameidx *ridx, const struct edit_effect *eff)
{
	if (eff->removed != NULL)
		nameidx_del(ridx, eff->removed->name);
	if (eff->added != NULL)
		return nameidx_put(ridx, eff->added);
	return 0;
}

struct nameidx *
engine_index_build(const struct ruleset *rs)
{
	struct nameidx	*idx;
	size_t		 i;

	if ((idx = nameidx_new(rs->nrules)) == NULL)
		return NULL;
	for (i = 0; i < rs->nrules; i++)
		if (nameidx_put(idx, rs->rules[i]) == -1) {
			nameidx_free(idx);
			return NULL;
		}
	return idx;
}

/* "+rule ssh ~zone lan -set old" for the log, at most a few items. */
static void
engine_plan_summary(const struct plan *p, char *buf, size_t len)
{
	size_t	 i, off = 0;
	int	 n;
	const char *op;

	buf[0] = '\0';
	if (p->n == 0) {
		snprintf(buf, len, "no change");
		return;
	}
	for (i = 0; i < p->n && i < 8; i++) {
		op = p->v[i].op == PLAN_ADD ? "+" :
		    p->v[i].op == PLAN_REMOVE ? "-" : "~";
		n = snprintf(buf + off, len - off, "%s%s%s %s%s%s", i ? " " : "",
		    op, plan_kind_name(p->v[i].kind), p->v[i].name,
		    p->v[i].elem ? " " : "", p->v[i].elem ? p->v[i].elem : "");
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
	if (p->n > i)
		snprintf(buf + off, len - off, " and %zu more", p->n - i);
}

static const char *
engine_op_name(enum change_op op)
{
	switch (op) {
	case CHANGE_REPLACE:		return "replace ruleset";
	case CHANGE_RULE_ADD:		return "add rule";
	case CHANGE_RULE_PUT:		return "put rule";
	case CHANGE_RULE_DELETE:	return "delete rule";
	case CHANGE_ZONE_PUT:		return "put zone";
	case CHANGE_ZONE_DELETE:	return "delete zone";
	case CHANGE_POLICY_PUT:		return "put policy";
	case CHANGE_POLICY_DELETE:	return "delete policy";
	case CHANGE_NAT_ADD:		return "add nat";
	case CHANGE_NAT_DELETE:		return "delete nat";
	case CHANGE_SET_PUT:		return "put set";
	case CHANGE_SET_DELETE:		return "delete set";
	case CHANGE_ELEMS_ADD:		return "add elements";
	case CHANGE_ELEMS_DELETE:	return "delete elements";
	case CHANGE_FLUSH:		return "flush";
	case CHANGE_CONFIRM:		return "confirm";
	case CHANGE_REVERT:		return "revert";
	}
	return "change";
}

bool
engine_change_complete(const struct change *c)
{
	switch (c->op) {
	case CHANGE_REPLACE:
		return c->ruleset != NULL;
	case CHANGE_RULE_ADD:
	case CHANGE_RULE_PUT:
		return c->rule != NULL && c->rule->name != NULL;
	case CHANGE_ZONE_PUT:
		return c->zone != NULL && c->zone->name != NULL;
	case CHANGE_POLICY_PUT:
		return c->policy != NULL && c->policy->from != NULL &&
		    c->policy->to != NULL;
	case CHANGE_POLICY_DELETE:
		return c->from != NULL && c->to != NULL;
	case CHANGE_NAT_ADD:
		return c->nat != NULL && c->nat->name != NULL;
	case CHANGE_SET_PUT:
		return c->set != NULL && c->set->name != NULL;
	case CHANGE_ELEMS_ADD:
	case CHANGE_ELEMS_DELETE:
		return c->name != NULL && (c->elems != NULL || c->nelems == 0);
	case CHANGE_RULE_DELETE:
	case CHANGE_ZONE_DELETE:
	case CHANGE_NAT_DELETE:
	case CHANGE_SET_DELETE:
		return c->name != NULL;
	case CHANGE_FLUSH:
	case CHANGE_CONFIRM:
	case CHANGE_REVERT:
		return true;
	}
	return false;
}

/*
 * Validation: the whole ruleset when the change may touch what others
 * refer to, else only the object that joined it (deleting a rule, a NAT
 * entry or elements cannot make the rest invalid; new elements were
 * checked as they were merged). 0, or -1 with res filled.
 */
static int
engine_check(const struct ruleset *next, const struct change *c,
    const struct edit_effect *eff, struct change_result *res)
{
	struct diags	 vd, cd;
	int		 nerr = 0, nconf = 0;

	diags_init(&vd);
	diags_init(&cd);
	if (eff->check_all || c->op == CHANGE_REPLACE) {
		if ((nerr = validate_ruleset(next, &vd)) > 0)
			nconf = engine_conflicts(next, &cd);
	} else if (eff->added != NULL) {
		if ((nerr = validate_rule(next, eff->added, &vd)) > 0)
			nconf = engine_rule_conflicts(next, eff->added, &cd);
	} else if (c->op == CHANGE_NAT_ADD && eff->obj != NULL) {
		if ((nerr = validate_nat(next, eff->obj, next->nnats - 1,
		    &vd)) > 0)
			nconf = engine_nat_conflicts(next, eff->obj, &cd);
	}
	diags_free(&cd);
	if (nerr == 0)
		return 0;
	res->status = nconf > 0 ? ENGINE_CONFLICT : ENGINE_INVALID;
	/* validate's words are the user's; ours only decide 409 */
	diags_free(&res->diags);
	res->diags = vd;
	return -1;
}

void
engine_change(struct engine *e, struct change *c, struct change_result *res)
{
	struct ruleset	*old, *next = NULL, *keep = NULL;
	struct rsref	*nref = NULL, *oref;
	struct diags	 rd;
	struct plan	 back;
	struct edit_effect eff;
	uint64_t	 gen, now = engine_now_ms(), undone = 0;
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
	if (!engine_change_complete(c)) {
		engine_fail(res, ENGINE_INVALID, NULL, "%s",
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
			engine_fail(res, ENGINE_FAILED, NULL, "%s", "a stale "
			    "pending.json cannot be removed; no change is taken "
			    "until it can, lest a restart revert it");
			goto done;
		}
		e->pending_stale = false;
	}
	if (c->op == CHANGE_CONFIRM || c->op == CHANGE_REVERT) {
		if (e->pending_gen == 0) {
			engine_fail(res, ENGINE_CONFLICT, NULL, "%s",
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
			engine_fail(res, ENGINE_FAILED, NULL, "%s",
			    "out of memory");
			goto done;
		}
		undone = e->pending_gen;
		c->op = CHANGE_REPLACE;
		c->confirm_secs = 0;
	} else if (e->pending_gen != 0 && !c->dry_run) {
		engine_fail(res, ENGINE_CONFLICT, NULL, "generation %" PRIu64
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
			engine_stamp_set(old, next->sets[i], now);
		}
		/* a revert restores the elements the ruleset before had
		 * (none changed since: changes were refused), not those of
		 * the ruleset it undoes */
		if (undone == 0 && engine_carry_elems(old, next, now) == -1) {
			engine_fail(res, ENGINE_FAILED, NULL, "%s",
			    "out of memory");
			goto done;
		}
	} else if (c->op == CHANGE_FLUSH)
		next = ruleset_new();
	else {
		if (e->ridx == NULL)
			e->ridx = engine_index_build(old);
		/* the rules without a reference each: settled below */
		next = ruleset_borrow(old);
	}
	if (next == NULL) {
		engine_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
		goto done;
	}
	if (c->op != CHANGE_REPLACE && c->op != CHANGE_FLUSH &&
	    engine_edit(next, c, res, e->ridx, now, &eff) == -1)
		goto done;
	engine_prune_expired(next, now);

	if (engine_check(next, c, &eff, res) == -1)
		goto done;

	if (eff.diff) {
		plan_free(&res->plan);
		plan_init(&res->plan);
		if (plan_diff(old, next,
		    &res->plan) == -1) {
			engine_fail(res, ENGINE_FAILED, NULL, "%s",
			    "out of memory");
			goto done;
		}
	}
	if (c->dry_run) {
		res->applied = false;
		lint_ruleset(next, &res->warnings);
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
		engine_fail(res, ENGINE_FAILED, NULL, "%s", "out of memory");
		goto done;
	}
	/* to be confirmed: what to go back to is on disk before the kernel
	 * changes, so that a crash at any point still reverts it */
	if (c->op == CHANGE_REPLACE && c->confirm_secs > 0 && e->flushed) {
		/* going back would program an empty table, which drops all
		 * that is new: a lockout, where there was an open host */
		engine_fail(res, ENGINE_CONFLICT, NULL, "%s", "the table is "
		    "flushed: there is no ruleset to go back to; apply "
		    "without confirm");
		goto done;
	}
	if (c->op == CHANGE_REPLACE && c->confirm_secs > 0) {
		if ((keep = ruleset_dup(old)) == NULL) {
			engine_fail(res, ENGINE_FAILED, NULL, "%s",
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
	    (e->ridx != NULL && engine_index_update(e->ridx, &eff) == -1)) {
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
	engine_plan_summary(&res->plan, summary, sizeof(summary));
	if (res->status == ENGINE_OK || res->status == ENGINE_CREATED) {
		if (c->dry_run)
			log_debug("%s: %s %s (dry run): %s", c->who ? c->who :
			    "?", engine_op_name(logop), c->name ? c->name : "",
			    summary);
		else if (res->generation != gen)
			log_info("%s: %s: %s (generation %" PRIu64 ")",
			    c->who ? c->who : "?", engine_op_name(logop),
			    summary, res->generation);
	} else
		log_notice("%s: %s refused (%s)%s%s", c->who ? c->who : "?",
		    engine_op_name(logop), engine_status_name(res->status),
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
	engine_change_free(c);
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
	diags_free(&res->warnings);
}

int
engine_start(struct engine *e, struct ruleset *rs, uint64_t gen, bool save,
    struct diags *d)
{
	struct rsref	*r;
	uint64_t	 now = engine_now_ms();
	size_t		 i;
	bool		 flushed;

	for (i = 0; i < rs->nsets; i++) {
		set_sort(rs->sets[i]);
		engine_stamp_set(NULL, rs->sets[i], now);
	}
	engine_prune_expired(rs, now);
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
	e->ridx = engine_index_build(rs);
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
	uint64_t	 now = engine_now_ms();

	pthread_mutex_lock(&e->change_mtx);
	if (!engine_has_expired(e->cur->rs, now) ||
	    (rs = ruleset_share(e->cur->rs)) == NULL)
		goto done;
	engine_prune_expired(rs, now);
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
	expired = engine_has_expired(e->cur->rs, engine_now_ms());
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
