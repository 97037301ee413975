/*
 * nft/fast.c: The fast paths: set elements alone, one rule joining or
 * leaving a group (one element), a few rules compiled and placed by handle;
 * and splitting a segment that grew.
 */
#include "nft_int.h"

struct fitem {
	const struct rule *ru;
	size_t		 mi;		/* index in next */
	size_t		 first;		/* its kernel rules in the compile */
	size_t		 last;
	bool		 carry;		/* moved, or only its comment changed:
					 * its counts go along */
	bool		 front;		/* no rule of next: the kernel rules
					 * of runs' first sets made again as
					 * a rule leaves them (fjoin_front) */
};

/* A copy of a rule that is an element of a group set, not a kernel rule:
 * joining it (add) or leaving it; or a set of its own in a run of
 * intervals, made with its kernel rule (add: both compiled into the
 * fast path's plan) or deleted with it. */
/* FJ_EDGE: a rule the run of set si could not take (compile_group_last)
 * stands alone after it now (add) or no longer (!add): its run_edge */
/* FJ_OLDSET: a set and its kernel rule (grule) that a new set of the
 * run's first rule takes the place of (FJ_NEWSET with front): deleted after
 * the new rule is placed before it */
enum { FJ_ELEM, FJ_NEWSET, FJ_DROPSET, FJ_EDGE, FJ_OLDSET };

struct fjoin {
	struct celem	 el;
	size_t		 si;		/* the group set, in n->cur.sets
					 * (FJ_NEWSET: the run's set before) */
	int		 kind;
	bool		 add;
	struct kent	*grule;		/* FJ_DROPSET, FJ_OLDSET: its kernel
					 * rule */
	size_t		 tsi;		/* FJ_NEWSET: the set, in the plan */
	bool		 front;		/* FJ_NEWSET: the run's first set,
					 * made again under a new first rule */
	size_t		 nmi;		/* front, its first rule leaving: the
					 * new first rule's place in next */
};

struct fadd {
	const struct crule *r;
	struct kchain	*c;
	struct kseg	*seg;		/* NULL: a new sub-chain, fsegs[nseg] */
	size_t		 nseg;
	struct kent	*before;	/* the rule that follows it, or NULL */
	uint64_t	 handle;
};

struct fseg {
	struct kchain	*c;
	uint32_t	 id;
	uint64_t	 jump;
	bool		 sent;
	struct kseg	*seg;
};

/* Whether plan is only set elements of sets we hold: then the change
 * needs neither a compile nor a diff. */
bool
plan_elements_only(const struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan)
{
	const struct cset *cs;
	ssize_t si;
	size_t i;

	if (!n->have || prev == NULL || plan == NULL || plan->n == 0)
		return false;
	for (i = 0; i < plan->n; i++) {
		if (plan->v[i].kind != PLAN_ELEMENT ||
		    (plan->v[i].op != PLAN_ADD && plan->v[i].op != PLAN_REMOVE))
			return false;
		if ((si = ruleset_find_set(plan->v[i].op == PLAN_ADD ? next :
		    prev, plan->v[i].name)) == -1 ||
		    (cs = cplan_set(&n->cur, plan->v[i].name)) == NULL)
			return false;
		/* a network into a hash set: the set becomes an interval
		 * set, which the whole diff does */
		if (plan->v[i].op == PLAN_ADD &&
		    !(cs->flags & NFT_SET_INTERVAL) &&
		    !compile_elem_single(next->sets[si], &plan->v[i].key))
			return false;
	}
	return true;
}

/* An element's key in a set's index: start or end, and the key bytes
 * (the last key too for an element of a concatenation of intervals). buf
 * has EIDX_KEY_MAX bytes. */
#define EIDX_KEY_MAX	(1 + 2 * 32)

static size_t
eidx_key(const struct celem *e, char *buf)
{
	buf[0] = e->end ? 'E' : e->ranged ? 'R' : 'S';
	memcpy(buf + 1, e->key, e->key_len);
	if (!e->ranged)
		return 1 + e->key_len;
	memcpy(buf + 1 + e->key_len, e->key_end, e->key_len);
	return 1 + 2 * e->key_len;
}

/* The index of the elements of n->cur.sets[i] (key -> position + 1),
 * made on first use; elements removed since are holes (key_len 0) until
 * the next whole diff packs the set. */
static struct strmap *
cur_eidx(struct nft *n, size_t i)
{
	struct cset *cs = &n->cur.sets[i];
	char k[EIDX_KEY_MAX];
	size_t j, len;

	if (n->eidx == NULL &&
	    (n->eidx = calloc(n->cur.nsets + 1, sizeof(*n->eidx))) == NULL)
		return NULL;
	if (n->eidx[i] != NULL)
		return n->eidx[i];
	if ((n->eidx[i] = strmap_new(cs->nelems)) == NULL)
		return NULL;
	for (j = 0; j < cs->nelems; j++) {
		if (cs->elems[j].key_len == 0)
			continue;
		len = eidx_key(&cs->elems[j], k);
		if (strmap_put(n->eidx[i], k, len, (void *)(j + 1)) == -1) {
			strmap_free(n->eidx[i]);
			n->eidx[i] = NULL;
			return NULL;
		}
	}
	return n->eidx[i];
}

void
cur_eidx_free(struct nft *n)
{
	size_t i;

	if (n->eidx != NULL)
		for (i = 0; i < n->cur.nsets; i++)
			strmap_free(n->eidx[i]);
	free(n->eidx);
	n->eidx = NULL;
}

/* Packs the holes out of our sets, before a whole diff walks them. */
void
cur_pack(struct nft *n)
{
	struct cset *cs;
	size_t i, j, m;

	cur_eidx_free(n);
	for (i = 0; i < n->cur.nsets; i++) {
		cs = &n->cur.sets[i];
		for (j = 0, m = 0; j < cs->nelems; j++)
			if (cs->elems[j].key_len != 0)
				cs->elems[m++] = cs->elems[j];
		cs->nelems = m;
		/* a bulk delete leaves most of a large array empty: give
		 * it back (a million elements are some 100 MB) */
		if (cs->elems_cap > 1024 && m < cs->elems_cap / 4) {
			struct celem *e;
			size_t cap = m > 16 ? m : 16;

			if ((e = reallocarray(cs->elems, cap,
			    sizeof(*e))) != NULL) {
				cs->elems = e;
				cs->elems_cap = cap;
			}
		}
	}
}

/* Keeps our picture of set i in step after an element change. */
static int
cur_elems_update(struct nft *n, size_t si, const struct cset *tmp, bool add)
{
	struct cset *cs = &n->cur.sets[si];
	struct strmap *ix;
	struct celem *e;
	char k[EIDX_KEY_MAX];
	size_t i, at, len;

	if ((ix = cur_eidx(n, si)) == NULL)
		return -1;
	for (i = 0; i < tmp->nelems; i++) {
		len = eidx_key(&tmp->elems[i], k);
		at = (size_t)strmap_get(ix, k, len);
		if (!add) {
			if (at != 0) {
				free(cs->elems[at - 1].chain);
				free(cs->elems[at - 1].comment);
				memset(&cs->elems[at - 1], 0, sizeof(*e));
				strmap_del(ix, k, len);
			}
			continue;
		}
		if (at != 0)
			continue;
		if (cs->nelems == cs->elems_cap) {
			size_t ncap = cs->elems_cap ? cs->elems_cap * 2 : 8;

			if ((e = reallocarray(cs->elems, ncap,
			    sizeof(*e))) == NULL)
				return -1;
			cs->elems = e;
			cs->elems_cap = ncap;
		}
		cs->elems[cs->nelems] = tmp->elems[i];
		cs->elems[cs->nelems].chain = NULL;
		if (strmap_put(ix, k, len, (void *)(cs->nelems + 1)) == -1)
			return -1;
		cs->nelems++;
	}
	return 0;
}

static ssize_t
cur_set_index(struct nft *n, const char *name)
{
	size_t i;

	for (i = 0; i < n->cur.nsets; i++)
		if (strcmp(n->cur.sets[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/*
 * The plan's elements alone. Items in a row for one set and one way
 * (a bulk add) go together, 128 elements a message.
 */
int
apply_elems(struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan, struct diags *d)
{
	struct batch b = { 0 };
	struct reply rp = { 0 };
	struct cset *tmp = NULL, *cs;
	const struct set *set = NULL;
	const struct celem **v = NULL;
	uint32_t genid;
	size_t i, j, nruns = 0, *run_si = NULL;
	ssize_t si = -1;
	bool *run_add = NULL;
	const struct srcloc **run_loc = NULL;
	int tries, sent, rc = -1;
	bool add;

	if ((tmp = calloc(plan->n, sizeof(*tmp))) == NULL ||
	    (run_si = calloc(plan->n, sizeof(*run_si))) == NULL ||
	    (run_add = calloc(plan->n, sizeof(*run_add))) == NULL ||
	    (run_loc = calloc(plan->n, sizeof(*run_loc))) == NULL)
		goto nomem;
	for (i = 0; i < plan->n; i++) {
		const struct plan_item *it = &plan->v[i];
		const struct ruleset *rs;

		add = it->op == PLAN_ADD;
		rs = add ? next : prev;
		if (nruns == 0 || run_add[nruns - 1] != add ||
		    strcmp(n->cur.sets[run_si[nruns - 1]].name,
		    it->name) != 0) {
			set = rs->sets[ruleset_find_set(rs, it->name)];
			si = cur_set_index(n, it->name);
			cs = &n->cur.sets[si];
			tmp[nruns].key_type = cs->key_type;
			tmp[nruns].key_len = cs->key_len;
			tmp[nruns].flags = cs->flags;
			run_si[nruns] = (size_t)si;
			run_add[nruns] = add;
			run_loc[nruns] = &set->loc;
			nruns++;
		}
		if (compile_set_elem(set, &it->key, &tmp[nruns - 1]) == -1)
			goto nomem;
	}
	for (tries = 0; tries < BATCH_TRIES; tries++) {
		if (get_genid(n, &genid) == -1) {
			diags_add(d, NULL, "reading the kernel's ruleset: %s",
			    strerror(errno));
			goto out;
		}
		batch_free(&b);
		memset(&rp, 0, sizeof(rp));
		memset(&n->stats, 0, sizeof(n->stats));
		if (batch_begin(n, &b, genid) == -1)
			goto nomem;
		for (i = 0; i < nruns; i++) {
			add = run_add[i];
			cs = &n->cur.sets[run_si[i]];
			free(v);
			if ((v = calloc(tmp[i].nelems + 1, sizeof(*v))) == NULL)
				goto nomem;
			for (j = 0; j < tmp[i].nelems; j++)
				v[j] = &tmp[i].elems[j];
			tmp[i].name = cs->name;	/* borrowed for messages */
			if (tmp[i].nelems > 0 && emit_elems(n, &b, &tmp[i],
			    false, 0, v, tmp[i].nelems, !add,
			    run_loc[i], NULL) == -1)
				goto nomem;
			tmp[i].name = NULL;
			if (add)
				n->stats.elems_added += tmp[i].nelems;
			else
				n->stats.elems_deleted += tmp[i].nelems;
		}
		if (batch_end(n, &b) == -1)
			goto nomem;
		if ((sent = batch_commit(n, &b, &rp)) == 0)
			break;
		if (sent == 1)
			continue;
		reply_diag(n, &b, &rp, d);
		goto out;
	}
	if (tries == BATCH_TRIES) {
		batch_gave_up(d);
		goto out;
	}
	for (i = 0; i < nruns; i++)
		if (cur_elems_update(n, run_si[i], &tmp[i], run_add[i]) == -1) {
			state_clear(n);	/* the next apply rebuilds */
			break;
		}
	/* holes from bulk deletes are packed out once they are half a
	 * set: the picture (and its index, made again on next use) stays
	 * the size of what the kernel holds */
	for (i = 0; i < nruns && n->eidx != NULL; i++) {
		cs = &n->cur.sets[run_si[i]];
		if (!run_add[i] && n->eidx[run_si[i]] != NULL &&
		    strmap_count(n->eidx[run_si[i]]) < cs->nelems / 2) {
			cur_pack(n);
			break;
		}
	}
	if (get_genid(n, &n->genid) == -1)
		n->genid = 0;
	rc = 0;
	goto out;
 nomem:
	diags_add(d, NULL, "nft: %s", strerror(ENOMEM));
 out:
	free(run_si);
	free(run_add);
	free(run_loc);
	if (tmp != NULL)
		for (i = 0; i < plan->n; i++) {
			tmp[i].name = NULL;
			free(tmp[i].elems);
		}
	free(tmp);
	free(v);
	batch_free(&b);
	return rc;
}

/*
 * A set the kernel holds as an interval set stays one when its last
 * network goes: made a hash set again, it would have to be made anew with
 * every rule that uses it (and their counters).
 */
int
keep_interval(struct nft *n, const struct ruleset *next, struct cplan *p)
{
	const struct cset *old;
	const struct set *set;
	struct cset *cs;
	ssize_t si;
	size_t i, j;

	for (i = 0; i < p->nsets; i++) {
		cs = &p->sets[i];
		if ((cs->flags & NFT_SET_INTERVAL) ||
		    (old = cplan_set(&n->cur, cs->name)) == NULL ||
		    !(old->flags & NFT_SET_INTERVAL) ||
		    (si = ruleset_find_set(next, cs->name)) == -1)
			continue;
		set = next->sets[si];
		cs->flags |= NFT_SET_INTERVAL;
		cs->nelems = 0;
		for (j = 0; j < set->nelems; j++)
			if (compile_set_elem(set, &set->elems[j], cs) == -1)
				return -1;
	}
	return 0;
}

/*
 * Moves the second half of segment k of chain c into a new sub-chain
 * right after it, in one transaction: the moved rules are compiled again
 * from the model (their hash must not change) and start with the counters
 * the kernel had for them a moment before. Returns 0 / -1; on -1 nothing
 * changed, or our picture was dropped.
 */
static int
split_seg(struct nft *n, const struct ruleset *next,
    const struct strmap *byname, const struct cpairs *ps, struct kchain *c,
    size_t k)
{
	struct kseg *sg = c->segs[k], *ns = NULL;
	struct cplan tmp;
	struct dump dp = { 0 };
	struct batch b = { 0 };
	struct reply rp = { 0 };
	struct diags d;
	struct strmap *ctr = NULL;
	struct kent *e;
	const struct rule *ru;
	size_t m = sg->n / 2, cnt = sg->n - m, i, j, first, *ci = NULL;
	uint64_t *nh = NULL, jump = 0;
	struct seed *seeds = NULL;
	char name[600], oname[600];
	uint32_t id, genid;
	int tries, rc = -1;

	memset(&tmp, 0, sizeof(tmp));
	diags_init(&d);
	if ((ci = calloc(cnt, sizeof(*ci))) == NULL ||
	    (nh = calloc(cnt, sizeof(*nh))) == NULL ||
	    (seeds = calloc(cnt, sizeof(*seeds))) == NULL)
		goto out;
	for (i = 0; i < cnt; i++) {
		e = sg->v[m + i];
		if ((ru = strmap_get(byname, e->key,
		    key_name_len(e->key))) == NULL)
			goto out;
		first = tmp.nrules;
		if (compile_rule_chains(next, ru, ps, &tmp, &d) == -1)
			goto out;
		for (j = first; j < tmp.nrules; j++)
			if (strcmp(tmp.rules[j].chain, c->def.name) == 0 &&
			    strcmp(tmp.rules[j].key, e->key) == 0)
				break;
		if (j == tmp.nrules ||
		    cplan_rule_hash(&tmp.rules[j]) != e->hash)
			goto out;	/* the model is not what the kernel has */
		ci[i] = j;
	}
	/* the counters, as late as possible */
	seg_chain(c, sg, oname, sizeof(oname));
	dp.counters = true;
	if (dump_one(n, oname, NULL, &dp) == -1 || dp.err ||
	    (ctr = strmap_new(dp.n)) == NULL)
		goto out;
	for (j = 0; j < dp.n; j++)
		if (strmap_put(ctr, &dp.v[j].handle, sizeof(dp.v[j].handle),
		    &dp.v[j]) == -1)
			goto out;
	for (i = 0; i < cnt; i++) {
		const struct dumped *x = strmap_get(ctr, &sg->v[m + i]->handle,
		    sizeof(uint64_t));

		if (x != NULL) {
			seeds[i].packets = x->packets;
			seeds[i].bytes = x->bytes;
			seeds[i].set = true;
		}
	}
	id = c->next_id++;
	snprintf(name, sizeof(name), "%s/%u", c->def.name, id);
	for (tries = 0; tries < BATCH_TRIES; tries++) {
		if (get_genid(n, &genid) == -1)
			goto out;
		batch_free(&b);
		memset(&rp, 0, sizeof(rp));
		rp.echo = true;
		if (batch_begin(n, &b, genid) == -1 ||
		    emit_subchain(n, &b, name, false) == -1 ||
		    emit_jump(n, &b, c->def.name, name, after_seg(c, k), true,
		    &jump) == -1)
			goto out;
		for (i = 0; i < cnt; i++)
			if (emit_rule(n, &b, &tmp.rules[ci[i]], name, 0, true,
			    &seeds[i], &nh[i]) == -1)
				goto out;
		for (i = 0; i < cnt; i++)
			if (emit_delrule(n, &b, oname, sg->v[m + i]->key,
			    sg->v[m + i]->handle) == -1)
				goto out;
		if (batch_end(n, &b) == -1)
			goto out;
		if (batch_send(n, &b, &rp) == 0)
			break;
		if (rp.error != ERESTART && rp.error != EINTR)
			goto out;
	}
	if (tries == BATCH_TRIES)
		goto out;
	n->stats.msgs += b.nobjs;
	n->stats.bytes += b.len;
	/* committed: the picture follows */
	if ((ns = calloc(1, sizeof(*ns))) == NULL ||
	    ptr_push(&c->segs, &c->nsegs, &c->segs_cap, ns) == -1) {
		free(ns);
		goto lost;
	}
	memmove(&c->segs[k + 2], &c->segs[k + 1],
	    (c->nsegs - k - 2) * sizeof(*c->segs));
	c->segs[k + 1] = ns;
	ns->id = id;
	ns->jump = jump;
	for (i = 0; i < cnt; i++) {
		e = sg->v[m + i];
		if (ptr_push(&ns->v, &ns->n, &ns->cap, e) == -1)
			goto lost;
		e->seg = ns;
		e->handle = nh[i];
		if (nh[i] == 0)
			goto lost;
	}
	sg->n = m;
	if (jump == 0)
		goto lost;
	rc = 0;
	goto out;
 lost:
	state_clear(n);
 out:
	strmap_free(ctr);
	dump_free(&dp);
	batch_free(&b);
	cplan_free(&tmp);
	diags_free(&d);
	free(ci);
	free(nh);
	free(seeds);
	return rc;
}

/* Which pair chains share their rules in next (the kernel's layout while
 * n->have): kept in n, made on first use. NULL when out of memory. */
const struct cpairs *
nft_pairs(struct nft *n, const struct ruleset *next)
{
	if (n->pairs == NULL)
		n->pairs = compile_pairs_new(next);
	return n->pairs;
}

/* Splits every segment that grew past SEG_SPLIT through inserts. */
void
split_big(struct nft *n, const struct ruleset *next)
{
	struct strmap *byname = NULL;
	const struct cpairs *ps = NULL;
	struct kchain *c;
	size_t i, k;

	for (i = 0; i < n->st.n && n->have; i++) {
		c = n->st.v[i];
		for (k = 0; k < c->nsegs && n->have; k++) {
			if (c->segs[k]->n <= SEG_SPLIT)
				continue;
			if (byname == NULL) {
				size_t r;

				if ((byname = strmap_new(next->nrules)) == NULL ||
				    (ps = nft_pairs(n, next)) == NULL)
					goto out;
				for (r = 0; r < next->nrules; r++)
					if (strmap_puts(byname,
					    next->rules[r]->name,
					    next->rules[r]) == -1)
						goto out;
			}
			/* a failure leaves a big segment: still right */
			(void)split_seg(n, next, byname, ps, c, k);
		}
	}
 out:
	strmap_free(byname);
}

static int
fitem_cmp(const void *a, const void *b)
{
	const struct fitem *x = a, *y = b;

	return x->mi < y->mi ? -1 : x->mi > y->mi;
}

/* The name of the group set of chain whose first rule is rule (buf has
 * size bytes). */
static const char *
group_set_name(char *buf, size_t size, const char *chain, const char *rule)
{
	snprintf(buf, size, GROUP_SET_PREFIX "%s/%s", chain, rule);
	return buf;
}

/* The group set (of the picture) whose kernel rule in chain has key, or
 * NULL when key is not a group's. */
static const struct cset *
group_set_of(const struct nft *n, const char *chain, const char *key)
{
	char name[600];
	size_t l = strlen(GROUP_RULE_PREFIX);

	if (strncmp(key, GROUP_RULE_PREFIX, l) != 0)
		return NULL;
	return cplan_set(&n->cur, group_set_name(name, sizeof(name), chain,
	    key + l));
}

/* The first kernel rule of chain c under key (names index: a rule's
 * name for its own copies, GROUP_RULE_PREFIX and a rule's name for the
 * group whose set starts at it), or NULL. */
static struct kent *
kent_in(const struct nft *n, const char *key, const struct kchain *c)
{
	struct kent *e;

	for (e = strmap_gets(n->st.names, key); e != NULL; e = e->next_copy)
		if (e->chain == c)
			return e;
	return NULL;
}

/* The first kernel copy in chain c of the first rule after next->rules[mi]
 * that has one there and stays: a new rule goes just before it. A rule of
 * a group has no copy of its own; a group's kernel rule (its key
 * GROUP_RULE_PREFIX and the name of its set's first rule) stands where its
 * run starts, so the sets after the first of a long run (named by rules
 * that may come after mi) stand before it. */
static struct kent *
neighbour(struct nft *n, const struct ruleset *next, size_t mi,
    const struct kchain *c, const struct strmap *planned)
{
	const struct cset *cs;
	const char *name;
	struct kent *e;
	char gkey[FWCTL_NAME_MAX + 8];
	size_t k;

	for (k = mi + 1; k < next->nrules; k++) {
		name = next->rules[k]->name;
		if (strmap_gets(planned, name) != NULL)
			continue;
		if ((e = kent_in(n, name, c)) != NULL)
			return e;
		snprintf(gkey, sizeof(gkey), GROUP_RULE_PREFIX "%s", name);
		if ((e = kent_in(n, gkey, c)) != NULL &&
		    ((cs = group_set_of(n, c->def.name, e->key)) == NULL ||
		    cs->run_first))
			return e;
	}
	return NULL;
}

/* The user rule of chain c just before e (NULL: the chain's last), or
 * NULL. */
static struct kent *
kent_prev(const struct kchain *c, const struct kent *e)
{
	const struct kseg *g;
	size_t si, j;
	bool found = e == NULL;

	for (si = c->nsegs; si-- > 0; ) {
		g = c->segs[si];
		for (j = g->n; j-- > 0; ) {
			if (found)
				return g->v[j];
			if (g->v[j] == e)
				found = true;
		}
	}
	return NULL;
}

/* Whether group set cs is the only set of its run. */
static bool
run_alone(const struct nft *n, const struct cset *cs)
{
	size_t i;

	for (i = 0; cs->run != 0 && i < n->cur.nsets; i++)
		if (&n->cur.sets[i] != cs && n->cur.sets[i].run == cs->run)
			return false;
	return true;
}

/* Where the kernel rule r (in tmp, chain c) of a run's first set made
 * again as a rule leaves it goes: before the old one's (FJ_OLDSET), or,
 * for the run's only set, where its new first rule has it go. */
static struct kent *
front_old(struct nft *n, const struct ruleset *next,
    const struct strmap *planned, const struct fjoin *joins, size_t njoins,
    const struct cplan *tmp, const struct kchain *c, const struct crule *r)
{
	char name[600];
	size_t i, j;

	group_set_name(name, sizeof(name), c->def.name, r->name);
	for (j = 0; j < njoins; j++) {
		if (joins[j].kind != FJ_NEWSET || !joins[j].front ||
		    strcmp(tmp->sets[joins[j].tsi].name, name) != 0)
			continue;
		/* the run's only set may stand after rules that stood
		 * between the two first rules */
		if (run_alone(n, &n->cur.sets[joins[j].si]))
			return neighbour(n, next, joins[j].nmi, c, planned);
		for (i = 0; i < njoins; i++)
			if (joins[i].kind == FJ_OLDSET &&
			    joins[i].si == joins[j].si)
				return joins[i].grule;
	}
	return NULL;
}

/* Whether the kernel rule of the run's first set made again (joins[j]),
 * placed before `before`, stands where the whole compile has it: in the
 * old one's place, or anywhere its run has no other set. */
static bool
front_in_place(const struct nft *n, const struct fjoin *joins,
    size_t njoins, size_t j, const struct kent *before)
{
	size_t i;

	for (i = 0; i < njoins; i++)
		if (joins[i].kind == FJ_OLDSET && joins[i].si == joins[j].si &&
		    joins[i].grule == before)
			return true;
	return run_alone(n, &n->cur.sets[joins[j].si]);
}

/*
 * Whether the kernel rule of a new set of a long run of intervals (the
 * fast path's plan rule r, in chain c) goes right after the kernel rule
 * of the run's last set when it goes before `before`: the whole compile
 * puts a run's sets one after the other where the run starts, and a run
 * that steps over other rules may have rules of their own between its
 * sets and the new rule's place.
 */
static bool
chunk_in_place(struct nft *n, const struct kchain *c, const struct kent
    *before, const struct crule *r, const struct cplan *tmp,
    const struct fjoin *joins, size_t njoins)
{
	const struct kent *p;
	const struct cset *ps;
	char name[600];
	size_t j;
	uint32_t run = 0;

	group_set_name(name, sizeof(name), c->def.name, r->name);
	for (j = 0; j < njoins; j++) {
		if (joins[j].kind != FJ_NEWSET ||
		    strcmp(tmp->sets[joins[j].tsi].name, name) != 0)
			continue;
		/* a run's first set made again (fjoin_front): its rule goes
		 * right before the old one's when the run has later sets,
		 * which stand right after it */
		if (joins[j].front)
			return front_in_place(n, joins, njoins, j, before);
		run = n->cur.sets[joins[j].si].run;
	}
	return run != 0 && (p = kent_prev(c, before)) != NULL &&
	    (ps = group_set_of(n, c->def.name, p->key)) != NULL &&
	    ps->run == run;
}

/*
 * The index of a planned rule in rs: the position the engine put in the
 * plan when it names the same rule (no walk of a large ruleset), else a
 * lookup by name.
 */
static ssize_t
plan_rule_index(const struct ruleset *rs, const struct plan_item *it)
{
	if (it->pos > 0 && it->pos <= rs->nrules &&
	    strcmp(rs->rules[it->pos - 1]->name, it->name) == 0)
		return (ssize_t)it->pos - 1;
	return ruleset_find_rule(rs, it->name);
}

/* The fields (a bit each) where element e of a concatenation of
 * intervals spans more than one key. */
static unsigned
elem_fields(const struct cset *cs, const struct celem *e)
{
	unsigned m = 0;
	size_t f, o = 0;

	for (f = 0; f < cs->nfields && o < e->key_len; f++) {
		if (memcmp(e->key + o, e->key_end + o, cs->field_len[f]) != 0)
			m |= 1u << f;
		o += (cs->field_len[f] + 3u) / 4 * 4;
	}
	return m;
}

/* Whether boxes a and b of a concatenation of intervals meet in every
 * field. */
static bool
elem_overlap(const struct cset *cs, const struct celem *a,
    const struct celem *b)
{
	size_t f, o = 0, l;

	for (f = 0; f < cs->nfields && o < a->key_len; f++) {
		l = cs->field_len[f];
		if (memcmp(a->key + o, b->key_end + o, l) > 0 ||
		    memcmp(b->key + o, a->key_end + o, l) > 0)
			return false;
		o += (l + 3) / 4 * 4;
	}
	return true;
}

/*
 * Whether e may join group set cs (of pair chain `chain`) as the whole
 * compile would have it: no element of its run it overlaps (the kernel
 * refuses those in one set, and a rule after a broader one would never
 * match), and intervals in the run's one interval field at most. The
 * run's sets (a long run is cut into several) share its id: only those
 * are walked, not the chain's other groups, whose boxes the whole compile
 * does not compare with the run's.
 */
static bool
spans_fit(const struct nft *n, const char *chain, const struct cset *cs,
    const struct celem *e)
{
	const struct cset *o;
	char prefix[600];
	unsigned m = elem_fields(cs, e);
	size_t i, j;

	snprintf(prefix, sizeof(prefix), GROUP_SET_PREFIX "%s/", chain);
	for (i = 0; i < n->cur.nsets; i++) {
		o = &n->cur.sets[i];
		if (o != cs && (cs->run == 0 || o->run != cs->run ||
		    !(o->flags & NFT_SET_CONCAT) ||
		    o->key_type != cs->key_type || o->key_len != cs->key_len ||
		    strncmp(o->name, prefix, strlen(prefix)) != 0))
			continue;
		for (j = 0; j < o->nelems; j++) {
			if (o->elems[j].key_len == 0)
				continue;	/* a hole */
			if (elem_overlap(cs, e, &o->elems[j]))
				return false;
			m |= elem_fields(cs, &o->elems[j]);
		}
	}
	return (m & (m - 1)) == 0;
}

/*
 * The group set of pair chain `chain` that holds element pel under its
 * rule's name, of the kind spans says (NFT_SET_CONCAT or a hash set): its
 * index in n->cur.sets, with its element index in *ixp; -1 when none
 * does, -2 out of memory.
 */
static ssize_t
group_of(struct nft *n, const char *chain, const struct celem *pel,
    bool spans, struct strmap **ixp)
{
	struct cset *cs;
	struct strmap *ix;
	char prefix[600], k[EIDX_KEY_MAX];
	size_t si, at, len;

	snprintf(prefix, sizeof(prefix), GROUP_SET_PREFIX "%s/", chain);
	for (si = 0; si < n->cur.nsets; si++) {
		cs = &n->cur.sets[si];
		if (!cs->counters || cs->key_len != pel->key_len ||
		    ((cs->flags & NFT_SET_CONCAT) != 0) != spans ||
		    strncmp(cs->name, prefix, strlen(prefix)) != 0)
			continue;
		if ((ix = cur_eidx(n, si)) == NULL)
			return -2;
		len = eidx_key(pel, k);
		at = (size_t)strmap_get(ix, k, len);
		if (at != 0 && cs->elems[at - 1].comment != NULL &&
		    strcmp(cs->elems[at - 1].comment, pel->comment) == 0) {
			*ixp = ix;
			return (ssize_t)si;
		}
	}
	return -1;
}

/* tmp: what element messages of group set cs need of it (no name, no
 * elements of its own). */
static void
elems_of(const struct cset *cs, struct cset *tmp)
{
	memset(tmp, 0, sizeof(*tmp));
	tmp->key_type = cs->key_type;
	tmp->key_len = cs->key_len;
	tmp->flags = cs->flags;
	tmp->nfields = cs->nfields;
	memcpy(tmp->field_len, cs->field_len, sizeof(tmp->field_len));
	tmp->counters = true;
	tmp->limit_rate = cs->limit_rate;
	tmp->limit_unit = cs->limit_unit;
	tmp->limit_burst = cs->limit_burst;
}

/* The element message of one join, into batch b. */
static int
emit_join(struct nft *n, struct batch *b, const struct fjoin *j)
{
	const struct cset *cs = &n->cur.sets[j->si];
	const struct celem *v[1] = { &j->el };
	struct cset tmp;

	elems_of(cs, &tmp);
	tmp.name = cs->name;		/* borrowed for messages */
	return emit_elems(n, b, &tmp, false, 0, v, 1, !j->add, NULL, NULL);
}

static void
fjoins_free(struct fjoin *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].el.comment);
	free(v);
}

/* Live elements of set cs, counted up to most. */
static size_t
cs_live(const struct cset *cs, size_t most)
{
	size_t j, live = 0;

	for (j = 0; j < cs->nelems && live < most; j++)
		if (cs->elems[j].key_len != 0)
			live++;
	return live;
}

/* Live elements of the run whose set cs is (a long run of intervals is
 * several sets, one short), counted up to most. */
static size_t
run_live(const struct nft *n, const struct cset *cs, size_t most)
{
	size_t i, live;

	if (cs->run == 0)
		return cs_live(cs, most);
	for (i = 0, live = 0; i < n->cur.nsets && live < most; i++)
		if (n->cur.sets[i].run == cs->run)
			live += cs_live(&n->cur.sets[i], most - live);
	return live;
}

/* A new entry at the end of *v (*nv of them), zeroed, with kind and set
 * si; NULL out of memory. */
static struct fjoin *
fjoin_new(struct fjoin **v, size_t *nv, int kind, size_t si)
{
	struct fjoin *t;

	if ((t = reallocarray(*v, *nv + 1, sizeof(*t))) == NULL)
		return NULL;
	*v = t;
	t = &t[(*nv)++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->si = si;
	return t;
}

/*
 * Rule ru as a set of its own in the run of intervals of chain where pr's
 * set (n->cur.sets[gi]) stands: made (add: its kernel rule and set into
 * tmp, placed after the run's last) or deleted with its kernel rule, as
 * the whole compile has it. 0 with *t filled; 1 when the whole diff must
 * do it; -1 out of memory.
 */
static int
fchunk(struct nft *n, const struct rule *ru, const char *chain, size_t gi,
    const struct celem *el, bool add, struct cplan *tmp, struct fjoin *t)
{
	const struct cset *cs = &n->cur.sets[gi], *os;
	struct kchain *c;
	char name[600], key[FWCTL_NAME_MAX + 8];
	ssize_t osi;

	osi = cur_set_index(n, group_set_name(name, sizeof(name), chain,
	    ru->name));
	memset(t, 0, sizeof(*t));
	t->add = add;
	if (add) {
		/* no overlap with the run's boxes, intervals in one field */
		if (tmp == NULL || osi != -1 || !spans_fit(n, chain, cs, el))
			return 1;
		t->kind = FJ_NEWSET;
		t->si = gi;
		t->tsi = tmp->nsets;
		return compile_group_chunk(tmp, ru, chain) == -1 ? -1 : 0;
	}
	/* its set holds it alone; what stays of the run is a group (the
	 * set before it is one); no rule of the run's shape next to it */
	if (osi == -1)
		return 1;
	os = &n->cur.sets[osi];
	if (os->run_edge || cs_live(os, 2) != 1 ||
	    run_live(n, cs, compile_group_min() + 1) <= compile_group_min())
		return 1;
	snprintf(key, sizeof(key), GROUP_RULE_PREFIX "%s", ru->name);
	if ((c = kstate_chain(&n->st, chain)) == NULL ||
	    (t->grule = kchain_find(&n->st, c, key, true)) == NULL)
		return 1;
	t->kind = FJ_DROPSET;
	t->si = (size_t)osi;
	return 0;
}

/* Whether the run of group set cs holds an element of rule `name`. */
static bool
holds_rule(const struct nft *n, const struct cset *cs, const char *name)
{
	const struct cset *o;
	size_t i, j;

	for (i = 0; i < n->cur.nsets; i++) {
		o = &n->cur.sets[i];
		if (o != cs && (cs->run == 0 || o->run != cs->run))
			continue;
		for (j = 0; j < o->nelems; j++)
			if (o->elems[j].comment != NULL &&
			    strcmp(o->elems[j].comment, name) == 0)
				return true;
	}
	return false;
}

/*
 * The element change of rule ru joining (add) or leaving the group of pr,
 * the rule before it in chain, appended to *v: 0; 1 when the picture has
 * no such group, or the change would not leave it a group as the whole
 * compile makes it (a key twice, an overlap, too few rules left); -1 out
 * of memory. chunk: ru may be a set of its own in a run of intervals
 * (compile_group_at), its kernel rule compiled into tmp (add).
 *
 * last (compile_group_last): no rule of ru's shape after it. Then a rule
 * whose key clashes with the group's (a key twice, an overlap, intervals
 * in another field) ends the run as the whole compile has it and stands
 * alone after it: 2 (add: the caller compiles its kernel rule, the run's
 * sets are marked FJ_EDGE), or 0 and no element (remove: its kernel rule
 * goes by name, nothing else moves).
 */
static int
fjoin_add(struct nft *n, const struct rule *ru, const struct rule *pr,
    const char *chain, bool add, bool chunk, bool last, struct cplan *tmp,
    struct fjoin **v, size_t *nv)
{
	struct celem el, pel;
	struct strmap *ix = NULL;
	struct fjoin *t, one;
	struct cset *cs;
	struct kchain *c;
	char k[EIDX_KEY_MAX];
	size_t at, j, len;
	ssize_t gi = -1;
	int spans, rc, own = 0;
	bool mine;

	for (spans = 0; spans < 2; spans++) {
		if ((rc = compile_group_pair(ru, pr, spans, chunk, &el,
		    &pel)) == -1)
			return -1;
		if (rc == 1)
			continue;
		own = rc == 2;
		gi = group_of(n, chain, &pel, spans, &ix);
		free(pel.comment);
		if (gi != -1)
			break;
		free(el.comment);
	}
	if (gi == -2) {
		free(el.comment);
		return -1;
	}
	if (gi == -1)
		return 1;
	cs = &n->cur.sets[gi];
	/* a set made again in this plan (fjoin_front): the whole diff */
	for (j = 0; j < *nv; j++)
		if ((*v)[j].si == (size_t)gi && (*v)[j].kind == FJ_OLDSET) {
			free(el.comment);
			return 1;
		}
	if (own) {
		rc = fchunk(n, ru, chain, (size_t)gi, &el, add, tmp, &one);
		free(el.comment);
		if (rc != 0 || (t = fjoin_new(v, nv, one.kind, one.si)) == NULL)
			return rc != 0 ? rc : -1;
		*t = one;
		return 0;
	}
	len = eidx_key(&el, k);
	at = (size_t)strmap_get(ix, k, len);
	/* ru's own element is the one of its key */
	mine = at != 0 && cs->elems[at - 1].comment != NULL &&
	    strcmp(cs->elems[at - 1].comment, ru->name) == 0;
	if (add)
		rc = at != 0 || (spans && !spans_fit(n, chain, cs, &el));
	/* the rule's own old element (a change in place): the whole diff */
	if (add && rc != 0 && holds_rule(n, cs, ru->name))
		rc = 2;
	if (add && rc == 1 && last) {
		/* a rule of its own after the run: the run has a rule of
		 * its shape next to it */
		free(el.comment);
		if ((t = fjoin_new(v, nv, FJ_EDGE, (size_t)gi)) == NULL)
			return -1;
		t->add = true;
		return 2;
	}
	/* a rule of its class before the run, which a clash cut short: a
	 * rule joining before the run's end may let it grow */
	if (add && rc == 0 && cs->run_edge_front && !last) {
		free(el.comment);
		return 1;
	}
	if (!add && last && !mine && (c = kstate_chain(&n->st, chain)) !=
	    NULL && kent_in(n, ru->name, c) != NULL) {
		/* a rule of its own, nothing of its class after it: the
		 * run's edge after it goes with it */
		free(el.comment);
		return fjoin_new(v, nv, FJ_EDGE, (size_t)gi) == NULL ? -1 : 0;
	}
	if (!add) {
		/* a rule of the run's shape next to it that it could not
		 * take may join it now: the whole compile lays it out */
		rc = !mine || cs->run_edge;
		/* what stays must still be a group, other leaves counted */
		for (j = 0; j < *nv; j++)
			if ((*v)[j].si == (size_t)gi && !(*v)[j].add)
				rc = 1;
		if (run_live(n, cs, compile_group_min() + 1) <=
		    compile_group_min())
			rc = 1;
	}
	if (rc != 0 || (t = fjoin_new(v, nv, FJ_ELEM, (size_t)gi)) == NULL) {
		free(el.comment);
		return rc != 0 ? 1 : -1;
	}
	t->el = el;
	t->add = add;
	return 0;
}

/* The index of rule nx, after rs->rules[mi], or -1; *between: a rule
 * between them has a kernel rule in chain (its own, or a group's whose
 * set starts at it). */
static ssize_t
rule_after(const struct nft *n, const struct ruleset *rs, size_t mi,
    const struct rule *nx, const struct kchain *c, bool *between)
{
	char gkey[FWCTL_NAME_MAX + 8];
	size_t k;

	*between = false;
	for (k = mi + 1; k < rs->nrules && rs->rules[k] != nx; k++) {
		snprintf(gkey, sizeof(gkey), GROUP_RULE_PREFIX "%s",
		    rs->rules[k]->name);
		if (kent_in(n, rs->rules[k]->name, c) != NULL ||
		    kent_in(n, gkey, c) != NULL)
			*between = true;
	}
	return k < rs->nrules ? (ssize_t)k : -1;
}

/*
 * Rule rs->rules[mi] (ru) added first in a run or leaving it from there
 * (CG_FRONT: nx is the rule after it in the run): the whole compile names
 * the run's first set after its first rule, so that set is made again
 * under the name of the run's new first rule (ru added, nx when ru goes),
 * with the elements of the old set (ru's added, or left out), their
 * counters carried (front_seeds), and its kernel rule goes right before
 * the old one, which goes after it with the old set (FJ_NEWSET front,
 * FJ_OLDSET), in one transaction. 0; 1 when the whole diff must (a clash
 * with the run, a rule of the class next to the run, too few rules left,
 * no such set); -1 out of memory.
 */
static int
fjoin_front(struct nft *n, const struct ruleset *rs, size_t mi,
    const struct rule *nx, const char *chain, bool add, struct cplan *tmp,
    struct fjoin **v, size_t *nv)
{
	const struct rule *ru = rs->rules[mi];
	const struct rule *first = add ? ru : nx, *was = add ? nx : ru;
	struct celem el, nel, *e;
	struct strmap *ix = NULL;
	struct fjoin *t;
	const struct cset *cs;
	struct cset *ns;
	struct kchain *c;
	struct kent *grule;
	char name[600], k[EIDX_KEY_MAX], key[FWCTL_NAME_MAX + 8];
	ssize_t gi = -1;
	size_t len, at, j;
	ssize_t nk = -1;
	bool between = false;
	int spans, rc;

	if (tmp == NULL)
		return 1;
	for (spans = 0; spans < 2; spans++) {
		if ((rc = compile_group_pair(ru, nx, spans, false, &el,
		    &nel)) == -1)
			return -1;
		if (rc != 0)
			continue;
		gi = group_of(n, chain, &nel, spans, &ix);
		free(nel.comment);
		if (gi != -1)
			break;
		free(el.comment);
	}
	if (gi == -2)
		free(el.comment);
	if (gi < 0)
		return gi == -2 ? -1 : 1;
	cs = &n->cur.sets[gi];
	len = eidx_key(&el, k);
	at = (size_t)strmap_get(ix, k, len);
	snprintf(key, sizeof(key), GROUP_RULE_PREFIX "%s", was->name);
	rc = 1;
	/* the set changes otherwise in this plan too (a change in place of
	 * its first rule): the whole diff */
	for (j = 0; j < *nv; j++)
		if ((*v)[j].si == (size_t)gi && (*v)[j].kind != FJ_EDGE)
			goto out;
	/* the old first rule starts the run's first set */
	if (!cs->run_first || cs->run_edge_front ||
	    strcmp(cs->name, group_set_name(name, sizeof(name), chain,
	    was->name)) != 0 ||
	    (c = kstate_chain(&n->st, chain)) == NULL ||
	    (grule = kchain_find(&n->st, c, key, true)) == NULL)
		goto out;
	if (add) {
		/* no clash with the run */
		if (at != 0 || (spans && !spans_fit(n, chain, cs, &el)))
			goto out;
	} else {
		/* ru's element is there; the run stays a group, takes no
		 * neighbour, and no kernel rule stands between ru and nx
		 * (the new first set's rule takes the old one's place) */
		if (at == 0 || cs->elems[at - 1].comment == NULL ||
		    strcmp(cs->elems[at - 1].comment, ru->name) != 0 ||
		    cs->run_edge || run_live(n, cs, compile_group_min() + 1) <=
		    compile_group_min() ||
		    (nk = rule_after(n, rs, mi, nx, c, &between)) == -1 ||
		    (between && !run_alone(n, cs)))
			goto out;
	}
	rc = -1;
	if (compile_group_front(tmp, first, spans, chain) == -1)
		goto out;
	ns = &tmp->sets[tmp->nsets - 1];
	for (j = 0; j < cs->nelems; j++) {
		if (cs->elems[j].key_len == 0 || (cs->elems[j].comment !=
		    NULL && (strcmp(cs->elems[j].comment, ru->name) == 0 ||
		    strcmp(cs->elems[j].comment, first->name) == 0)))
			continue;	/* a hole, ru's (going), first's (in) */
		if ((e = cset_add_elem(ns)) == NULL)
			goto out;
		*e = cs->elems[j];
		e->chain = NULL;
		if (cs->elems[j].comment != NULL &&
		    (e->comment = strdup(cs->elems[j].comment)) == NULL)
			goto out;
	}
	if ((t = fjoin_new(v, nv, FJ_NEWSET, (size_t)gi)) == NULL)
		goto out;
	t->front = true;
	t->tsi = tmp->nsets - 1;
	/* a rule leaving: where nx, one place up in next, has it go */
	t->nmi = nk > 0 ? (size_t)nk - 1 : 0;
	if ((t = fjoin_new(v, nv, FJ_OLDSET, (size_t)gi)) == NULL)
		goto out;
	t->grule = grule;
	rc = 0;
 out:
	free(el.comment);
	return rc;
}

/* The places of rule rs->rules[mi]: its kernel copies into tmp (added;
 * tmp may be NULL), its group elements onto *v; t: the classes of rs. A
 * rule leaving compiles nothing but the kernel rules of runs' first sets
 * made again (fjoin_front), into tmp when given. 1 when the whole diff
 * must lay it out. */
static int
place_rule(struct nft *n, const struct ruleset *rs, size_t mi,
    const struct cpairs *ps, const struct gtabs *t, struct cplan *tmp,
    bool add, bool chunks, struct fjoin **v, size_t *nv, struct diags *d)
{
	struct cjoin *cj;
	size_t ncj, i;
	bool unsure;
	int rc = 0;

	if (compile_rule_placed(rs, mi, ps, t, add ? tmp : NULL, &cj, &ncj,
	    &unsure, d) == -1)
		return -1;
	for (i = 0; i < ncj && rc == 0 && !unsure; i++) {
		if (cj[i].front) {
			rc = chunks ? fjoin_front(n, rs, mi, cj[i].pr,
			    cj[i].chain, add, tmp, v, nv) : 1;
			continue;
		}
		rc = fjoin_add(n, rs->rules[mi], cj[i].pr, cj[i].chain, add,
		    chunks && cj[i].chunk, cj[i].last, add ? tmp : NULL, v,
		    nv);
		/* a rule of its own after a run it clashes with */
		if (rc == 2 && (tmp == NULL || compile_rule_alone(tmp, rs,
		    mi, cj[i].chain, d) == -1))
			rc = tmp == NULL ? 1 : -2;
		else if (rc == 2)
			rc = 0;
	}
	compile_joins_free(cj, ncj);
	if (rc == -1)
		diags_add(d, NULL, "nft: %s", strerror(ENOMEM));
	if (rc == -2)
		rc = -1;	/* the compile's diags */
	return unsure ? 1 : rc;
}

/*
 * The classes of groups of next (compile_groups_*), from the picture's
 * (those of prev) and the rules plan removes and adds: 0 with *t (NULL
 * when grouping is off); 1 when the picture has none, or when a class's
 * blocks move so that some rule starts or stops ending its runs (the
 * whole diff lays those out); -1 out of memory.
 */
static int
next_groups(struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan, struct gtabs **t)
{
	const struct cpairs *ps;
	const struct plan_item *it;
	ssize_t mi;
	size_t i;

	*t = NULL;
	if (!compile_grouping())
		return 0;
	if (n->cur.groups == NULL)
		return 1;
	if ((ps = nft_pairs(n, next)) == NULL ||
	    (*t = compile_groups_dup(n->cur.groups)) == NULL)
		return -1;
	for (i = 0; i < plan->n; i++) {
		it = &plan->v[i];
		if (it->op == PLAN_REMOVE || it->op == PLAN_CHANGE) {
			if ((mi = plan_rule_index(prev, it)) == -1 ||
			    compile_groups_note(t, prev, prev->rules[mi], ps,
			    -1) == -1)
				goto whole;
		}
		if (it->op == PLAN_ADD || it->op == PLAN_CHANGE) {
			if ((mi = plan_rule_index(next, it)) == -1 ||
			    compile_groups_note(t, next, next->rules[mi], ps,
			    1) == -1)
				goto whole;
		}
	}
	if (compile_groups_kept(next, n->cur.groups, *t))
		return 0;
 whole:
	compile_groups_free(*t);
	*t = NULL;
	return 1;
}

/* Set *from (a set of the fast path's plan: a group set in the run of set
 * run, or a meter with run NULL) into the picture, which takes what it
 * holds. */
static int
cur_add_set(struct nft *n, struct cset *from, const struct cset *run)
{
	struct strmap **ne;
	struct cset *cs;
	/* run may move with the array; NULL: a set of no run (a meter) */
	uint32_t id = run != NULL ? run->run : 0;
	bool edge = run != NULL && run->run_edge;
	bool front = run != NULL && run->run_edge_front;

	if (n->eidx != NULL) {
		if ((ne = reallocarray(n->eidx, n->cur.nsets + 2,
		    sizeof(*ne))) == NULL)
			return -1;
		n->eidx = ne;
		n->eidx[n->cur.nsets] = n->eidx[n->cur.nsets + 1] = NULL;
	}
	if ((cs = cplan_add_set(&n->cur)) == NULL)
		return -1;
	*cs = *from;
	cs->run = id;
	cs->run_edge = edge;
	cs->run_edge_front = front;
	memset(from, 0, sizeof(*from));
	return 0;
}

/* The sets of set si's run have a rule of their shape after them (one
 * they could not take: a member leaving may let the run take it), or no
 * longer (back false): their run_edge is then the one before the run. */
static void
cur_run_edge(struct nft *n, size_t si, bool back)
{
	struct cset *cs;
	uint32_t run = n->cur.sets[si].run;
	size_t i;

	for (i = 0; i < n->cur.nsets; i++) {
		cs = &n->cur.sets[i];
		if (i == si || (run != 0 && cs->run == run))
			cs->run_edge = back || cs->run_edge_front;
	}
}

/* Set si out of the picture (the sets after it move up). */
static void
cur_drop_set(struct nft *n, size_t si)
{
	size_t after = n->cur.nsets - si - 1;

	if (n->eidx != NULL) {
		strmap_free(n->eidx[si]);
		memmove(&n->eidx[si], &n->eidx[si + 1], after *
		    sizeof(*n->eidx));
		n->eidx[n->cur.nsets - 1] = NULL;
	}
	cplan_set_clear(&n->cur.sets[si]);
	memmove(&n->cur.sets[si], &n->cur.sets[si + 1], after *
	    sizeof(*n->cur.sets));
	n->cur.nsets--;
	memset(&n->cur.sets[n->cur.nsets], 0, sizeof(*n->cur.sets));
}

static int
fjoin_si_cmp(const void *a, const void *b)
{
	const struct fjoin *x = a, *y = b;

	bool xd = x->kind == FJ_DROPSET || x->kind == FJ_OLDSET;
	bool yd = y->kind == FJ_DROPSET || y->kind == FJ_OLDSET;

	/* sets to drop last, the later ones first */
	if (xd != yd)
		return xd ? 1 : -1;
	if (xd)
		return x->si > y->si ? -1 : x->si < y->si;
	return 0;
}

/* The counters of the old sets of the runs' first sets made again
 * (FJ_NEWSET front), as seeds for the new ones: 0 (*seeds NULL when none),
 * -1 out of memory. */
static int
front_seeds(struct nft *n, const struct fjoin *joins, size_t njoins,
    struct strmap **seeds, struct seed **v)
{
	struct cset *old;
	size_t j, k = 0;
	int rc;

	*seeds = NULL;
	*v = NULL;
	for (j = 0; j < njoins; j++)
		k += joins[j].front;
	if (k == 0)
		return 0;
	/* shallow copies: old_counters reads their names and elements */
	if ((old = calloc(k, sizeof(*old))) == NULL)
		return -1;
	for (j = 0, k = 0; j < njoins; j++)
		if (joins[j].front)
			old[k++] = n->cur.sets[joins[j].si];
	rc = group_seeds(n, old, k, seeds, v);
	free(old);
	return rc;
}


/* How a fast path's batch went (fast_send). */
enum { FS_DONE, FS_AGAIN, FS_END };

/*
 * The end of a fast path's batch of rules, sent: FS_DONE committed,
 * FS_AGAIN when someone committed in between (the caller builds it
 * again), else FS_END with *rc the caller's answer: 0 when the batch
 * holds nothing (nothing is sent), 1 when the kernel's table is not our
 * picture (cleared: the whole diff rebuilds it), -1 refused or out of
 * memory (d says why).
 */
static int
fast_send(struct nft *n, struct batch *b, struct reply *rp, struct diags *d,
    int *rc)
{
	int sent;

	*rc = -1;
	if (b->nobjs == 1) {
		n->stats.msgs = 0;	/* nothing to send */
		*rc = 0;
		return FS_END;
	}
	if (batch_end(n, b) == -1) {
		diags_add(d, NULL, "nft: %s", strerror(ENOMEM));
		return FS_END;
	}
	if ((sent = batch_commit(n, b, rp)) == 0)
		return FS_DONE;
	if (sent == 1)
		return FS_AGAIN;
	if (nft_table_present(n) != 1 || nft_drifted(n)) {
		state_clear(n);
		*rc = 1;
		return FS_END;
	}
	reply_diag(n, b, rp, d);
	return FS_END;
}

/* The meter sets of a per-source limit (METER_SET_PREFIX "<rule>#4", #6)
 * come and go with the rule's kernel rules, in the same transaction: the
 * names of those in the picture of a rule leaving, onto *v. */
static int
meters_of(struct nft *n, const char *rule, char ***v, size_t *nv)
{
	char name[FWCTL_NAME_MAX + 16], **t;
	int fam;

	for (fam = 0; fam < 2; fam++) {
		if (compile_meter_name(name, sizeof(name), rule,
		    fam == 0 ? AF_INET : AF_INET6) == -1 ||
		    cur_set_index(n, name) == -1)
			continue;
		if ((t = reallocarray(*v, *nv + 1, sizeof(*t))) == NULL)
			return -1;
		*v = t;
		if ((t[*nv] = strdup(name)) == NULL)
			return -1;
		(*nv)++;
	}
	return 0;
}

static bool
is_meter(const struct cset *cs)
{
	return strncmp(cs->name, METER_SET_PREFIX,
	    strlen(METER_SET_PREFIX)) == 0;
}

/*
 * A plan made of rules alone (the engine's one-item plans, or a replace
 * that differs in a few rules): only those rules are compiled, their old
 * copies deleted by handle and the new ones put before the next rule that
 * stays, found through the names index. Nothing here grows with the
 * ruleset but the walk to that neighbour. Returns 1 when the plan is not
 * one this path takes (the caller diffs the whole table), else 0 / -1.
 */
int
apply_rules(struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan, struct diags *d)
{
	struct strmap *planned = NULL, *byname = NULL;
	const struct cpairs *ps;
	struct fitem *items = NULL;
	struct fadd *adds = NULL, *a;
	struct fseg *fsegs = NULL;
	struct fjoin *joins = NULL;
	struct seed *seeds = NULL;
	struct kent **dels = NULL, *e;
	char **mgone = NULL;
	size_t nmgone = 0;
	struct cplan tmp;
	struct batch b = { 0 };
	struct reply rp = { 0 };
	struct kseg *last;
	struct gtabs *tnext = NULL;
	struct strmap *fseeds = NULL;
	struct seed *fseedv = NULL;
	char name[600];
	const char *chain;
	uint64_t before;
	uint32_t genid;
	size_t i, j, k, nitems = 0, ndels = 0, dels_cap = 0, nfsegs = 0;
	size_t njoins = 0;
	ssize_t mi = -1;
	int tries, prc, sent, rc = -1;
	static char mark;

	memset(&tmp, 0, sizeof(tmp));
	if (!n->have || prev == NULL || plan == NULL || plan->n == 0 ||
	    plan->n > FAST_MAX)
		return 1;
	for (i = 0; i < plan->n; i++)
		if (plan->v[i].kind != PLAN_RULE)
			return 1;
	if ((prc = next_groups(n, prev, next, plan, &tnext)) != 0) {
		if (prc == -1)
			diags_add(d, NULL, "nft: %s", strerror(ENOMEM));
		return prc;
	}
	if ((planned = strmap_new(plan->n)) == NULL ||
	    (items = calloc(2 * plan->n, sizeof(*items))) == NULL)
		goto nomem;
	/* many rules (a replace that differs in a few hundred): find them
	 * through an index rather than one walk of the ruleset each */
	if (plan->n > 16) {
		if ((byname = strmap_new(next->nrules)) == NULL)
			goto nomem;
		for (i = 0; i < next->nrules; i++)
			if (strmap_puts(byname, next->rules[i]->name,
			    (void *)(i + 1)) == -1)
				goto nomem;
	}
	for (i = 0; i < plan->n; i++) {
		const struct plan_item *it = &plan->v[i];

		if (strmap_puts(planned, it->name, &mark) == -1)
			goto nomem;
		/* a rule whose (from, to) appears or goes changes which
		 * pair chains share their rules: the whole diff lays them
		 * out again */
		if ((it->op == PLAN_REMOVE || it->op == PLAN_CHANGE) &&
		    ((mi = plan_rule_index(prev, it)) == -1 ||
		    !compile_share_kept(prev, next, prev->rules[mi]))) {
			rc = 1;
			goto out;
		}
		/* a rule leaving a group is one element less; one standing
		 * first in a run or between two runs, the whole diff. A rule
		 * changed in place leaves its old place so, and takes its new
		 * one as a rule added there (below) */
		if (it->op == PLAN_REMOVE || it->op == PLAN_CHANGE) {
			if ((ps = nft_pairs(n, next)) == NULL)
				goto nomem;
			j = njoins;
			k = tmp.nrules;
			if ((prc = place_rule(n, prev, (size_t)mi, ps,
			    n->cur.groups, &tmp, false, plan->n == 1, &joins,
			    &njoins, d)) != 0) {
				rc = prc;
				goto out;
			}
			/* the kernel rules of first sets made again */
			if (tmp.nrules != k) {
				items[nitems].front = true;
				items[nitems].first = k;
				items[nitems++].last = tmp.nrules;
			}
			/* a set of its own goes with its kernel rule */
			for (; j < njoins; j++)
				if (joins[j].kind == FJ_DROPSET &&
				    ptr_push(&dels, &ndels, &dels_cap,
				    joins[j].grule) == -1)
					goto nomem;
		}
		if (it->op == PLAN_REMOVE || it->op == PLAN_CHANGE)
			for (e = strmap_gets(n->st.names, it->name); e != NULL;
			    e = e->next_copy)
				if (ptr_push(&dels, &ndels, &dels_cap,
				    e) == -1)
					goto nomem;
		/* a per-source limit's meter goes with it; changed in place,
		 * the same name would go and come back: the whole diff */
		if (it->op == PLAN_CHANGE && (prev->rules[mi]->limit.per_source ||
		    ((k = (size_t)plan_rule_index(next, it)) != (size_t)-1 &&
		    next->rules[k]->limit.per_source))) {
			rc = 1;
			goto out;
		}
		if (it->op == PLAN_REMOVE &&
		    meters_of(n, it->name, &mgone, &nmgone) == -1)
			goto nomem;
		if (it->op == PLAN_ADD || it->op == PLAN_CHANGE) {
			if (byname != NULL)
				mi = (ssize_t)(size_t)strmap_gets(byname,
				    it->name) - 1;
			else
				mi = plan_rule_index(next, it);
			if (mi == -1 || !compile_share_kept(prev, next,
			    next->rules[mi])) {
				rc = 1;	/* not what next says, or another
					 * sharing of pair chains */
				goto out;
			}
			items[nitems].ru = next->rules[mi];
			items[nitems].mi = (size_t)mi;
			if (it->op == PLAN_CHANGE &&
			    (mi = plan_rule_index(prev, it)) != -1)
				items[nitems].carry = rule_same_match(
				    prev->rules[mi], items[nitems].ru);
			nitems++;
		}
	}
	/* in the order of the ruleset, so that rules that go before one
	 * neighbour go there in order */
	qsort(items, nitems, sizeof(*items), fitem_cmp);
	/* the layout is prev's: compile_share_kept held for every item */
	if ((ps = nft_pairs(n, next)) == NULL)
		goto nomem;
	for (i = 0; i < nitems; i++) {
		if (items[i].front)
			continue;
		items[i].first = tmp.nrules;
		j = njoins;
		if ((prc = place_rule(n, next, items[i].mi, ps, tnext, &tmp,
		    true, plan->n == 1, &joins, &njoins, d)) != 0) {
			rc = prc;	/* 1: the whole diff places it */
			goto out;
		}
		if (njoins != j && items[i].carry) {
			rc = 1;		/* a change in place: its counts */
			goto out;
		}
		items[i].last = tmp.nrules;
	}
	for (i = 0, k = 0; i < nitems; i++)
		k += !items[i].front;
	n->stats.compiled_rules = k;
	/* runs' first sets made again keep their elements' counts */
	if (front_seeds(n, joins, njoins, &fseeds, &fseedv) == -1)
		goto nomem;
	if ((adds = calloc(tmp.nrules + 1, sizeof(*adds))) == NULL ||
	    (fsegs = calloc(tmp.nrules + 1, sizeof(*fsegs))) == NULL)
		goto nomem;
	/* where each copy goes */
	for (i = 0; i < nitems; i++)
		for (j = items[i].first; j < items[i].last; j++) {
			a = &adds[j];
			a->r = &tmp.rules[j];
			a->c = kstate_chain(&n->st, a->r->chain);
			if (a->c == NULL || !a->c->def.pair ||
			    a->r->name == NULL || a->c->nsegs == 0) {
				rc = 1;	/* a chain we do not hold */
				goto out;
			}
			a->before = items[i].front ? front_old(n, next,
			    planned, joins, njoins, &tmp, a->c, a->r) :
			    neighbour(n, next, items[i].mi, a->c, planned);
			if (strncmp(a->r->key, GROUP_RULE_PREFIX,
			    strlen(GROUP_RULE_PREFIX)) == 0 &&
			    !chunk_in_place(n, a->c, a->before, a->r, &tmp,
			    joins, njoins)) {
				rc = 1;	/* rules between its run and it */
				goto out;
			}
			if (a->before != NULL) {
				a->seg = a->before->seg;
				continue;
			}
			/* at the end: the last sub-chain, a new one when it
			 * is full */
			for (k = nfsegs; k > 0; k--)
				if (fsegs[k - 1].c == a->c)
					break;
			if (k > 0) {
				a->nseg = k - 1;
				continue;
			}
			last = a->c->segs[a->c->nsegs - 1];
			if (last->n + last->aux < SEG_MAX) {
				a->seg = last;
				last->aux++;
				continue;
			}
			fsegs[nfsegs].c = a->c;
			fsegs[nfsegs].id = a->c->next_id++;
			a->nseg = nfsegs++;
		}
	/* a rule moved or given another comment keeps its counts: each new
	 * copy starts where the old copy of its chain and key stood */
	for (i = 0; i < nitems; i++) {
		if (!items[i].carry)
			continue;
		if (seeds == NULL &&
		    (seeds = calloc(tmp.nrules + 1, sizeof(*seeds))) == NULL)
			goto nomem;
		for (j = items[i].first; j < items[i].last; j++)
			for (k = 0; k < ndels; k++)
				if (dels[k]->chain == adds[j].c &&
				    strcmp(dels[k]->key, adds[j].r->key) == 0) {
					rule_seed(n, dels[k], &seeds[j]);
					break;
				}
	}

	for (tries = 0; tries < BATCH_TRIES; tries++) {
		if (get_genid(n, &genid) == -1) {
			diags_add(d, NULL, "reading the kernel's ruleset: %s",
			    strerror(errno));
			goto out;
		}
		batch_free(&b);
		memset(&rp, 0, sizeof(rp));
		rp.echo = true;
		memset(&n->stats, 0, sizeof(n->stats));
		n->stats.compiled_rules = nitems;
		for (k = 0; k < nfsegs; k++)
			fsegs[k].sent = false;
		if (batch_begin(n, &b, genid) == -1)
			goto nomem;
		for (i = 0; i < ndels; i++)
			if (emit_delrule(n, &b, seg_chain(dels[i]->chain,
			    dels[i]->seg, name, sizeof(name)), dels[i]->key,
			    dels[i]->handle) == -1)
				goto nomem;
		/* meters: after the rules that use them, before new ones */
		for (i = 0; i < nmgone; i++)
			if (emit_delset(n, &b, &n->cur.sets[cur_set_index(n,
			    mgone[i])]) == -1)
				goto nomem;
		for (j = 0; j < tmp.nsets; j++) {
			if (!is_meter(&tmp.sets[j]))
				continue;
			snprintf(name, sizeof(name), "set %s",
			    tmp.sets[j].name);
			if (emit_set(n, &b, &tmp.sets[j], false, ++n->set_id,
			    name, tmp.sets[j].loc, NULL) == -1)
				goto nomem;
		}
		/* a set of its own: made before its rule, deleted after */
		for (j = 0; j < njoins; j++) {
			struct cset *ns;

			if (joins[j].kind == FJ_DROPSET &&
			    emit_delset(n, &b, &n->cur.sets[joins[j].si]) == -1)
				goto nomem;
			if (joins[j].kind != FJ_NEWSET)
				continue;
			ns = &tmp.sets[joins[j].tsi];
			snprintf(name, sizeof(name), "set %s", ns->name);
			if (emit_set(n, &b, ns, false, ++n->set_id, name,
			    ns->loc, joins[j].front ? fseeds : NULL) == -1)
				goto nomem;
			n->stats.elems_added += ns->nelems;
		}
		for (j = 0; j < tmp.nrules; j++) {
			a = &adds[j];
			if (a->seg == NULL) {
				struct fseg *fs = &fsegs[a->nseg];

				snprintf(name, sizeof(name), "%s/%u",
				    fs->c->def.name, fs->id);
				if (!fs->sent && (emit_subchain(n, &b, name,
				    false) == -1 || emit_jump(n, &b,
				    fs->c->def.name, name, next_handle(
				    fs->c->own, fs->c->nown, 0), true,
				    &fs->jump) == -1))
					goto nomem;
				fs->sent = true;
				chain = name;
				before = 0;
			} else {
				chain = seg_chain(a->c, a->seg, name,
				    sizeof(name));
				if (a->before != NULL)
					before = a->before->handle;
				else if (a->seg->id == 0)
					before = after_seg(a->c, 0);
				else
					before = 0;
			}
			if (emit_rule(n, &b, a->r, chain, before, true,
			    seeds != NULL ? &seeds[j] : NULL, &a->handle) == -1)
				goto nomem;
		}
		for (j = 0; j < njoins; j++) {
			if (joins[j].kind != FJ_ELEM)
				continue;
			if (emit_join(n, &b, &joins[j]) == -1)
				goto nomem;
			if (joins[j].add)
				n->stats.elems_added++;
			else
				n->stats.elems_deleted++;
		}
		/* a run's first set made again: the old one and its rule go
		 * once the new rule stands before it */
		for (j = 0; j < njoins; j++)
			if (joins[j].kind == FJ_OLDSET && (emit_delrule(n, &b,
			    seg_chain(joins[j].grule->chain,
			    joins[j].grule->seg, name, sizeof(name)),
			    joins[j].grule->key, joins[j].grule->handle) == -1 ||
			    emit_delset(n, &b, &n->cur.sets[joins[j].si]) == -1))
				goto nomem;
		if ((sent = fast_send(n, &b, &rp, d, &rc)) == FS_AGAIN)
			continue;
		if (sent != FS_DONE)
			goto out;
		break;
	}
	if (tries == BATCH_TRIES) {
		batch_gave_up(d);
		goto out;
	}

	/* committed: the picture follows */
	for (i = 0; i < ndels; i++)
		kent_drop(&n->st, dels[i]);
	ndels = 0;
	for (j = 0; j < njoins; j++) {
		struct cset one = { 0 };

		if (joins[j].kind == FJ_NEWSET) {
			if (cur_add_set(n, &tmp.sets[joins[j].tsi],
			    &n->cur.sets[joins[j].si]) == -1)
				goto lost;
			continue;
		}
		if (joins[j].kind == FJ_EDGE)
			cur_run_edge(n, joins[j].si, joins[j].add);
		if (joins[j].kind != FJ_ELEM)
			continue;
		one.elems = &joins[j].el;
		one.nelems = 1;
		if (cur_elems_update(n, joins[j].si, &one, joins[j].add) == -1)
			goto lost;
		if (joins[j].add)
			joins[j].el.comment = NULL;	/* the picture's */
	}
	for (j = 0; j < tmp.nsets; j++)
		if (tmp.sets[j].name != NULL && is_meter(&tmp.sets[j]) &&
		    cur_add_set(n, &tmp.sets[j], NULL) == -1)
			goto lost;
	/* sets gone last: the sets after them move up */
	if (njoins > 1)
		qsort(joins, njoins, sizeof(*joins), fjoin_si_cmp);
	for (j = 0; j < njoins; j++)
		if (joins[j].kind == FJ_DROPSET || joins[j].kind == FJ_OLDSET)
			cur_drop_set(n, joins[j].si);
	for (i = 0; i < nmgone; i++) {
		ssize_t si = cur_set_index(n, mgone[i]);

		if (si == -1)
			goto lost;
		cur_drop_set(n, (size_t)si);
	}
	for (k = 0; k < nfsegs; k++) {
		if ((fsegs[k].seg = kchain_add_seg(fsegs[k].c,
		    fsegs[k].id)) == NULL)
			goto lost;
		fsegs[k].seg->jump = fsegs[k].jump;
		if (fsegs[k].jump == 0)
			goto lost;
	}
	for (j = 0; j < tmp.nrules; j++) {
		a = &adds[j];
		if (a->handle == 0 || (e = kent_new(a->r->key)) == NULL)
			goto lost;
		e->hash = cplan_rule_hash(a->r);
		e->handle = a->handle;
		if (kent_link(&n->st, a->c, a->seg != NULL ? a->seg :
		    fsegs[a->nseg].seg, e, a->before) == -1) {
			if (e->chain == NULL)
				free(e);
			goto lost;
		}
	}
	/* the old kernel rules of sets made again: after the new ones
	 * that stand before them are linked */
	for (j = 0; j < njoins; j++)
		if (joins[j].kind == FJ_OLDSET)
			kent_drop(&n->st, joins[j].grule);
	compile_groups_free(n->cur.groups);
	n->cur.groups = tnext;
	tnext = NULL;
	split_big(n, next);
	if (get_genid(n, &n->genid) == -1)
		n->genid = 0;
	rc = 0;
	goto out;
 lost:
	/* the kernel has the change but our picture of it is incomplete:
	 * the next change rebuilds the table */
	state_clear(n);
	get_genid(n, &n->genid);
	rc = 0;
	goto out;
 nomem:
	diags_add(d, NULL, "nft: %s", strerror(ENOMEM));
 out:
	if (adds != NULL)
		for (j = 0; j < tmp.nrules; j++)
			if (adds[j].seg != NULL && n->have)
				adds[j].seg->aux = 0;
	free(adds);
	free(fsegs);
	fjoins_free(joins, njoins);
	free(seeds);
	strmap_free(fseeds);
	free(fseedv);
	free(dels);
	for (i = 0; i < nmgone; i++)
		free(mgone[i]);
	free(mgone);
	free(items);
	strmap_free(planned);
	strmap_free(byname);
	cplan_free(&tmp);
	compile_groups_free(tnext);
	batch_free(&b);
	return rc;
}

/*
 * One rule joining or leaving a group next to the rule before it (the
 * engine's one-item plans: `fwctl add-rule` at the end of a run, a delete
 * inside one): one element of the group's set, found through the picture,
 * and no compile. Returns 1 when the plan is not such a change (the other
 * paths take it), else 0 / -1.
 */
int
apply_group(struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan, struct diags *d)
{
	const struct plan_item *it;
	const struct ruleset *rs;
	struct celem el, pel;
	struct cset tmp, *cs = NULL;
	struct strmap *ix = NULL;
	struct batch b = { 0 };
	struct reply rp = { 0 };
	const struct celem *v[1];
	const struct rule *pr;
	struct gtabs *tnext = NULL;
	char *chain = NULL, k[EIDX_KEY_MAX];
	size_t si = 0, at = 0, len;
	uint32_t genid;
	ssize_t mi, gi = -1;
	int tries, sent, spans, prc, rc = 1;
	bool add, chunk;

	memset(&el, 0, sizeof(el));
	memset(&pel, 0, sizeof(pel));
	memset(&tmp, 0, sizeof(tmp));
	if (compile_group_min() == 0 || !n->have || prev == NULL ||
	    plan == NULL || plan->n != 1)
		return 1;
	it = &plan->v[0];
	if (it->kind != PLAN_RULE ||
	    (it->op != PLAN_ADD && it->op != PLAN_REMOVE))
		return 1;
	add = it->op == PLAN_ADD;
	rs = add ? next : prev;
	if ((mi = plan_rule_index(rs, it)) == -1)
		return 1;
	/* the group of the rule before, by its key and name: a hash set,
	 * or a concatenation of intervals */
	for (spans = 0; spans < 2; spans++) {
		free(chain);
		free(el.comment);
		free(pel.comment);
		chain = el.comment = pel.comment = NULL;
		if ((rc = compile_group_step(rs, (size_t)mi, spans, &chain,
		    &el, &pel)) == -1)
			goto out;
		if (rc == 1)
			continue;
		if ((gi = group_of(n, chain, &pel, spans, &ix)) == -2)
			goto nomem;
		if (gi >= 0)
			break;
	}
	rc = 1;
	if (spans == 2)
		goto out;
	si = (size_t)gi;
	cs = &n->cur.sets[si];
	len = eidx_key(&el, k);
	at = (size_t)strmap_get(ix, k, len);
	if (add && at != 0)
		goto out;	/* a key twice: the group is no more */
	if (add && spans && !spans_fit(n, chain, cs, &el))
		goto out;	/* an overlap, or intervals in another field */
	if (add && cs->run_edge_front)
		goto out;	/* a rule before the run may join it */
	if (!add) {
		if (at == 0 || cs->elems[at - 1].comment == NULL ||
		    strcmp(cs->elems[at - 1].comment, el.comment) != 0)
			goto out;
		/* the run may take the rule of its shape next to it */
		if (cs->run_edge)
			goto out;
		/* what stays must still be a group */
		if (run_live(n, cs, compile_group_min() + 1) <=
		    compile_group_min())
			goto out;
	}
	/* right after rules[mi - 1] as the whole compile has it (a run
	 * steps over rules of other classes), and no other class's run
	 * changes */
	if ((prc = next_groups(n, prev, next, plan, &tnext)) != 0) {
		if (prc == -1)
			goto nomem;
		goto out;
	}
	if (compile_group_at(rs, (size_t)mi, rs->rules[mi]->from,
	    rs->rules[mi]->to, add ? tnext : n->cur.groups, &pr,
	    &chunk) != CG_JOIN || pr != rs->rules[mi - 1] || chunk)
		goto out;
	rc = -1;
	elems_of(cs, &tmp);
	tmp.elems = &el;
	tmp.nelems = 1;
	v[0] = &el;
	for (tries = 0; tries < BATCH_TRIES; tries++) {
		if (get_genid(n, &genid) == -1) {
			diags_add(d, NULL, "reading the kernel's ruleset: %s",
			    strerror(errno));
			goto out;
		}
		batch_free(&b);
		memset(&rp, 0, sizeof(rp));
		memset(&n->stats, 0, sizeof(n->stats));
		tmp.name = cs->name;	/* borrowed for messages */
		if (batch_begin(n, &b, genid) == -1 ||
		    emit_elems(n, &b, &tmp, false, 0, v, 1, !add, NULL,
		    NULL) == -1 ||
		    batch_end(n, &b) == -1)
			goto nomem;
		tmp.name = NULL;
		n->stats.compiled_rules = 1;
		if (add)
			n->stats.elems_added = 1;
		else
			n->stats.elems_deleted = 1;
		if ((sent = batch_commit(n, &b, &rp)) == 0)
			break;
		if (sent == 1)
			continue;
		reply_diag(n, &b, &rp, d);
		goto out;
	}
	if (tries == BATCH_TRIES) {
		batch_gave_up(d);
		goto out;
	}
	if (cur_elems_update(n, si, &tmp, add) == -1)
		state_clear(n);		/* the next apply rebuilds */
	else {
		if (add)
			el.comment = NULL;	/* the picture's now */
		compile_groups_free(n->cur.groups);
		n->cur.groups = tnext;
		tnext = NULL;
	}
	if (get_genid(n, &n->genid) == -1)
		n->genid = 0;
	rc = 0;
	goto out;
 nomem:
	diags_add(d, NULL, "nft: %s", strerror(ENOMEM));
	rc = -1;
 out:
	tmp.name = NULL;
	batch_free(&b);
	compile_groups_free(tnext);
	free(chain);
	free(el.comment);
	free(pel.comment);
	return rc;
}

/* The frame of rs (its zones, policies and NAT entries: rs without its
 * rules and sets) compiled into p: 0, or -1 when it does not compile
 * alone (a NAT entry naming a set). */
static int
frame_compile(const struct nft *n, const struct ruleset *rs, struct cplan *p)
{
	struct ruleset bare = *rs;
	struct diags dd;
	int rc;

	bare.rules = NULL;
	bare.nrules = 0;
	bare.sets = NULL;
	bare.nsets = 0;
	diags_init(&dd);
	rc = compile_ruleset(&bare, n->table, p, &dd);
	diags_free(&dd);
	return rc == -1 ? -1 : 0;
}

/* One chain of the frame that changes: its old entries [p, q) of own go,
 * the plan's rules at[from, to) come in their place. */
struct fchg {
	struct kchain	*c;
	size_t		 p, q;
	size_t		 from, to;
};

/*
 * Policies, NAT entries and zones changed in place alone (fwctl
 * set-policy, add-nat, replace-zone, ...): what they make is the frame of
 * the table, which the rules do not touch: the
 * base chains, fwd/, prerouting, postrouting, the NAT entries' nat-open
 * chain, and the end of each pair chain (its policy's log, the NAT
 * entries' jump, its policy). The frame is compiled from the ruleset
 * without its rules and sets (a few dozen chains, no rule compiled) and
 * compared chain by chain with the picture's: what lies between the
 * entries alike at a chain's start and at its end is deleted and made
 * anew there, in one transaction (those alike keep their counters; a
 * policy or entry made anew starts again, as with the whole diff; their
 * lists are lists.c's, as for any rule). A chain of the frame that comes
 * (nat-open with the first forward) is made with its rules before the
 * jumps to it; one that goes (with the last) is deleted after them: a
 * chain that was the frame's of prev (compiled alike) and is not next's.
 * Lists of interface names that no entry uses any more (a zone's old
 * interfaces) are deleted after them. 1 when the plan is not that, a
 * pair chain or base chain would come or go, or a zone's change leaves a
 * list of addresses unused (lists_frame_leaves): the whole diff.
 */
int
apply_policies(struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan, struct diags *d)
{
	struct cplan tmp, ptmp;
	struct batch b = { 0 };
	struct reply rp = { 0 };
	struct kchain *c, **gone = NULL;
	struct kent *e, **nv;
	struct fchg *chg = NULL, *f;
	size_t *at = NULL, *made = NULL, nchg = 0, nmade = 0, ngone = 0;
	size_t gone_cap = 0, i, j, t, m, np, ns, nown;
	uint64_t *handles = NULL, *mhandles = NULL, before;
	uint32_t genid;
	int k, tries, sent, rc = 1;

	memset(&tmp, 0, sizeof(tmp));
	memset(&ptmp, 0, sizeof(ptmp));
	if (!n->have || prev == NULL || plan == NULL || plan->n == 0)
		return 1;
	/* a zone changed in place changes the frame alone: the pair chains
	 * are named after zones, and rules compile without their contents */
	for (i = 0; i < plan->n; i++)
		if (plan->v[i].kind != PLAN_POLICY &&
		    plan->v[i].kind != PLAN_NAT &&
		    (plan->v[i].kind != PLAN_ZONE ||
		    plan->v[i].op != PLAN_CHANGE))
			return 1;
	/* the frames after and before (a NAT entry with a set does not
	 * compile alone: the whole diff) */
	if (frame_compile(n, next, &tmp) == -1 ||
	    frame_compile(n, prev, &ptmp) == -1)
		goto out;
	/* a zone whose networks' list goes: the whole diff deletes it (a
	 * rule may share a list of addresses, so this path leaves those) */
	for (i = 0; i < plan->n && plan->v[i].kind != PLAN_ZONE; i++)
		;
	if (i < plan->n) {
		if ((k = lists_frame_leaves(&ptmp, &tmp)) == -1)
			goto nomem;
		if (k == 1)
			goto out;
	}
	if ((made = calloc(tmp.nchains + 1, sizeof(*made))) == NULL)
		goto nomem;
	/* the same chains, but for the frame's own that come or go: the
	 * picture's bodies (shared rules) aside */
	for (i = 0; i < n->st.n; i++) {
		c = n->st.v[i];
		if (c->def.pair || cplan_chain(&tmp, c->def.name) != NULL)
			continue;
		if (c->def.base || c->nsegs > 0)
			goto out;
		/* prev's frame had it: it goes (else a body, say) */
		if (cplan_chain(&ptmp, c->def.name) == NULL)
			goto out;
		if (ptr_push(&gone, &ngone, &gone_cap, c) == -1)
			goto nomem;
	}
	for (i = 0; i < tmp.nchains; i++)
		if (kstate_chain(&n->st, tmp.chains[i].name) == NULL) {
			if (tmp.chains[i].pair || tmp.chains[i].base)
				goto out;
			made[nmade++] = i;
		}
	rc = -1;
	if ((chg = calloc(tmp.nchains + 1, sizeof(*chg))) == NULL ||
	    (at = calloc(tmp.nrules + 1, sizeof(*at))) == NULL ||
	    (handles = calloc(tmp.nrules + 1, sizeof(*handles))) == NULL ||
	    (mhandles = calloc(tmp.nrules + 1, sizeof(*mhandles))) == NULL)
		goto nomem;
	for (i = 0, t = 0; i < tmp.nchains; i++) {
		bool pair = tmp.chains[i].pair;
		size_t lo, no, nn;

		if ((c = kstate_chain(&n->st, tmp.chains[i].name)) == NULL)
			continue;	/* made, below */
		f = &chg[nchg];
		f->c = c;
		f->from = t;
		/* the frame's rules of the chain, in its order (the plan's) */
		for (j = 0; j < tmp.nrules; j++)
			if (strcmp(tmp.rules[j].chain, c->def.name) == 0 &&
			    (!pair || compile_pair_end_key(tmp.rules[j].key)))
				at[t++] = j;
		f->to = t;
		/* the picture's: a pair chain's own rules with those keys,
		 * last; any other chain's own rules, all of them */
		for (lo = 0; pair && lo < c->nown &&
		    !compile_pair_end_key(c->own[lo]->key); lo++)
			;
		for (j = lo; pair && j < c->nown; j++)
			if (!compile_pair_end_key(c->own[j]->key)) {
				rc = 1;		/* not laid out so */
				goto out;
			}
		no = c->nown - lo;
		nn = f->to - f->from;
		/* alike at the start, then at the end */
		for (np = 0; np < no && np < nn &&
		    c->own[lo + np]->hash == cplan_rule_hash(&tmp.rules[at[
		    f->from + np]]) && strcmp(c->own[lo + np]->key,
		    tmp.rules[at[f->from + np]].key) == 0; np++)
			;
		for (ns = 0; ns < no - np && ns < nn - np &&
		    c->own[c->nown - 1 - ns]->hash == cplan_rule_hash(
		    &tmp.rules[at[f->to - 1 - ns]]) &&
		    strcmp(c->own[c->nown - 1 - ns]->key,
		    tmp.rules[at[f->to - 1 - ns]].key) == 0; ns++)
			;
		if (np + ns == no && np + ns == nn) {
			t = f->from;
			continue;		/* as it was */
		}
		f->p = lo + np;
		f->q = c->nown - ns;
		f->from += np;
		f->to -= ns;
		nchg++;
	}
	for (tries = 0; tries < BATCH_TRIES; tries++) {
		if (get_genid(n, &genid) == -1) {
			diags_add(d, NULL, "reading the kernel's ruleset: %s",
			    strerror(errno));
			goto out;
		}
		batch_free(&b);
		memset(&rp, 0, sizeof(rp));
		rp.echo = true;
		memset(&n->stats, 0, sizeof(n->stats));
		if (batch_begin(n, &b, genid) == -1)
			goto nomem;
		/* chains that come, with their rules, before the jumps */
		for (i = 0; i < nmade; i++) {
			const struct cchain *mc = &tmp.chains[made[i]];

			if (emit_chain(n, &b, mc, false) == -1)
				goto nomem;
			for (j = 0; j < tmp.nrules; j++)
				if (strcmp(tmp.rules[j].chain, mc->name) == 0 &&
				    emit_rule(n, &b, &tmp.rules[j], mc->name,
				    0, true, NULL, &mhandles[j]) == -1)
					goto nomem;
		}
		for (i = 0; i < nchg; i++) {
			f = &chg[i];
			c = f->c;
			for (j = f->p; j < f->q; j++)
				if (emit_delrule(n, &b, c->def.name,
				    c->own[j]->key, c->own[j]->handle) == -1)
					goto nomem;
			/* before the first entry alike at the end */
			before = f->q < c->nown ? c->own[f->q]->handle : 0;
			for (j = f->from; j < f->to; j++)
				if (emit_rule(n, &b, &tmp.rules[at[j]],
				    c->def.name, before, true, NULL,
				    &handles[j]) == -1)
					goto nomem;
		}
		/* chains that go, after the jumps to them */
		for (i = 0; i < ngone; i++) {
			c = gone[i];
			for (j = 0; j < c->nown; j++)
				if (emit_delrule(n, &b, c->def.name,
				    c->own[j]->key, c->own[j]->handle) == -1)
					goto nomem;
			if (emit_chain(n, &b, &c->def, true) == -1)
				goto nomem;
		}
		/* lists of interfaces no entry uses now (a zone's old ones) */
		if (lists_gc_frame(n, &b, &tmp) == -1)
			goto nomem;
		if ((sent = fast_send(n, &b, &rp, d, &rc)) == FS_AGAIN)
			continue;
		if (sent != FS_DONE)
			goto out;
		break;
	}
	if (tries == BATCH_TRIES) {
		batch_gave_up(d);
		goto out;
	}
	/* committed: the picture follows, each chain's own rules with the
	 * new ones in the place of those gone */
	for (i = 0; i < nchg; i++) {
		f = &chg[i];
		c = f->c;
		m = f->to - f->from;
		nown = c->nown - (f->q - f->p) + m;
		if ((nv = calloc(nown + 1, sizeof(*nv))) == NULL) {
			state_clear(n);	/* the next change rebuilds */
			goto done;
		}
		memcpy(nv, c->own, f->p * sizeof(*nv));
		for (j = 0; j < m; j++) {
			if (handles[f->from + j] == 0 || (e = kent_new(
			    tmp.rules[at[f->from + j]].key)) == NULL) {
				while (j-- > 0)
					free(nv[f->p + j]);
				free(nv);
				state_clear(n);
				goto done;
			}
			e->hash = cplan_rule_hash(&tmp.rules[at[f->from + j]]);
			e->handle = handles[f->from + j];
			e->chain = c;
			nv[f->p + j] = e;
		}
		memcpy(nv + f->p + m, c->own + f->q, (c->nown - f->q) *
		    sizeof(*nv));
		for (j = f->p; j < f->q; j++)
			free(c->own[j]);
		free(c->own);
		c->own = nv;
		c->nown = nown;
		c->own_cap = nown + 1;
	}
	for (i = 0; i < ngone; i++)
		kstate_drop_chain(&n->st, gone[i]);
	for (i = 0; i < nmade; i++) {
		const struct cchain *mc = &tmp.chains[made[i]];

		if ((c = kstate_add_chain(&n->st, mc)) == NULL) {
			state_clear(n);
			goto done;
		}
		for (j = 0; j < tmp.nrules; j++)
			if (strcmp(tmp.rules[j].chain, mc->name) == 0 &&
			    (mhandles[j] == 0 || kchain_add_ent(&n->st, c,
			    NULL, tmp.rules[j].key, cplan_rule_hash(
			    &tmp.rules[j]), mhandles[j]) == NULL)) {
				state_clear(n);
				goto done;
			}
	}
 done:
	if (get_genid(n, &n->genid) == -1)
		n->genid = 0;
	rc = 0;
	goto out;
 nomem:
	diags_add(d, NULL, "nft: %s", strerror(ENOMEM));
	rc = -1;
 out:
	free(chg);
	free(at);
	free(made);
	free(gone);
	free(handles);
	free(mhandles);
	cplan_free(&tmp);
	cplan_free(&ptmp);
	batch_free(&b);
	return rc;
}
