/*
 * nft/diff.c: The whole diff: the new ruleset compiled and compared with
 * the picture, only the difference sent (build), handles learnt after the
 * commit; nft_apply chooses between this and the fast paths.
 */
#include "nft_int.h"

char *
pair_key(const char *chain, const char *key)
{
	char *s;

	return asprintf(&s, "%s\n%s", chain, key) == -1 ? NULL : s;
}

/* Longest text elem_key writes: a mark, a key, '-', a key end. */
#define ELEM_KEY_MAX	(1 + 2 * 32 + 1 + 2 * 32)

static size_t
elem_key(const struct celem *e, char *buf)
{
	size_t o = 0, kl = e->key_len < sizeof(e->key) ? e->key_len :
	    sizeof(e->key);

	buf[o++] = e->end ? 'E' : 'S';
	o += hex_text(buf + o, e->key, kl);
	if (e->ranged) {
		buf[o++] = '-';
		o += hex_text(buf + o, e->key_end, kl);
	}
	return o;
}

/* Elements are compared as units: an interval's start with its end, so
 * that changing 10.0.0.0/24 into 10.0.0.0/23 replaces the interval rather
 * than one of its ends. */
static size_t
unit_len(const struct cset *s, size_t j)
{
	return j + 1 < s->nelems && !s->elems[j].end &&
	    s->elems[j + 1].end ? 2 : 1;
}

/* Longest text unit_key writes before the comment */
#define UNIT_KEY_MAX	(2 * ELEM_KEY_MAX + 2)

static void
unit_key(const struct cset *s, size_t j, char *buf, size_t len)
{
	size_t o, cl;

	o = elem_key(&s->elems[j], buf);
	if (unit_len(s, j) == 2)
		o += elem_key(&s->elems[j + 1], buf + o);
	/* the picture's element to make again differs from the plan's */
	if (s->elems[j].remake)
		buf[o++] = '!';
	buf[o] = '\0';
	/* a group's element is its rule's: a renamed rule is another one */
	if (s->elems[j].comment != NULL && o + 2 < len) {
		buf[o++] = '/';
		cl = strlen(s->elems[j].comment);
		if (cl > len - o - 1)
			cl = len - o - 1;
		memcpy(buf + o, s->elems[j].comment, cl);
		buf[o + cl] = '\0';
	}
}

/* Longest increasing subsequence of v[0..n) (values >= 0); keep[i] = 1 for
 * its members. O(n log n). */
static int
lis(const ssize_t *v, size_t n, char *keep)
{
	size_t *tail, *prev, len = 0, i, lo, hi, mid;
	ssize_t k;

	if (n == 0)
		return 0;
	tail = calloc(n, sizeof(*tail));
	prev = calloc(n, sizeof(*prev));
	if (tail == NULL || prev == NULL) {
		free(tail);
		free(prev);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (v[i] < 0)
			continue;
		lo = 0;
		hi = len;
		while (lo < hi) {
			mid = (lo + hi) / 2;
			if (v[tail[mid]] < v[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		prev[i] = lo > 0 ? tail[lo - 1] : SIZE_MAX;
		tail[lo] = i;
		if (lo == len)
			len++;
	}
	if (len > 0)
		for (k = (ssize_t)tail[len - 1]; k >= 0 &&
		    (size_t)k != SIZE_MAX; k = prev[k] == SIZE_MAX ? -1 :
		    (ssize_t)prev[k])
			keep[k] = 1;
	free(tail);
	free(prev);
	return 0;
}

static bool
chain_same(const struct cchain *a, const struct cchain *b)
{
	if (a->base != b->base)
		return false;
	if (!a->base)
		return true;
	return a->hook == b->hook && a->prio == b->prio &&
	    a->policy == b->policy && strcmp(a->type, b->type) == 0;
}

bool
set_same(const struct cset *a, const struct cset *b)
{
	return a->flags == b->flags && a->key_type == b->key_type &&
	    a->key_len == b->key_len && a->data_type == b->data_type &&
	    a->timeout_ms == b->timeout_ms && a->counters == b->counters &&
	    a->limit_rate == b->limit_rate && a->limit_unit == b->limit_unit &&
	    a->limit_burst == b->limit_burst &&
	    a->size == b->size && a->nfields == b->nfields &&
	    memcmp(a->field_len, b->field_len, a->nfields) == 0;
}

/* Does rule r look up one of the named sets in 'gone'? */
static bool
rule_uses(const struct crule *r, const struct strmap *gone)
{
	size_t i;

	for (i = 0; i < r->nexprs; i++)
		if ((r->exprs[i].type == CX_LOOKUP ||
		    r->exprs[i].type == CX_DYNSET) && r->exprs[i].set != NULL &&
		    strmap_gets(gone, r->exprs[i].set) != NULL)
			return true;
	return false;
}

static void
work_free(struct work *w)
{
	free(w->hash);
	free(w->seeds);
	strmap_free(w->eseeds);
	free(w->eseedv);
	kstate_free(&w->st);
	cplan_free(&w->next);
	memset(w, 0, sizeof(*w));
}

/* Handle of the first entry at or after v[i] that the kernel has, or 0. */
uint64_t
next_handle(struct kent *const *v, size_t n, size_t i)
{
	for (; i < n; i++)
		if (v[i]->handle != 0)
			return v[i]->handle;
	return 0;
}

/* Handle of the jump of the first kept sub-chain after segs[k], else of
 * the first own rule the kernel has, else 0 (the end of the chain). */
uint64_t
after_seg(const struct kchain *c, size_t k)
{
	for (k++; k < c->nsegs; k++)
		if (!c->segs[k]->fresh)
			return c->segs[k]->jump;
	return next_handle(c->own, c->nown, 0);
}

/* NEWRULE for the new entries of segment sg (those without a handle),
 * each before the next entry that stays. */
static int
emit_seg(struct nft *n, struct work *w, struct batch *b, struct kchain *c,
    size_t k)
{
	struct kseg *sg = c->segs[k];
	char name[600];
	const char *chain = seg_chain(c, sg, name, sizeof(name));
	uint64_t *before, next;
	size_t i;
	int rc = -1;

	if (sg->n == 0)
		return 0;
	if ((before = calloc(sg->n, sizeof(*before))) == NULL)
		return -1;
	/* segment 0 ends where the jumps (or fwctl's rules) begin; the
	 * others at the end of their chain. Found walking backwards, before
	 * emitting gives the new rules handles. */
	next = k == 0 ? after_seg(c, 0) : 0;
	for (i = sg->n; i > 0; i--) {
		before[i - 1] = next;
		if (sg->v[i - 1]->handle != 0)
			next = sg->v[i - 1]->handle;
	}
	for (i = 0; i < sg->n; i++) {
		struct kent *e = sg->v[i];

		if (e->handle != 0)
			continue;
		if (emit_rule(n, b, &w->next.rules[e->aux], chain, before[i],
		    w->echo, w->seeds ? &w->seeds[e->aux] : NULL,
		    &e->handle) == -1)
			goto out;
	}
	rc = 0;
 out:
	free(before);
	return rc;
}

/* Whether x and y are one element as unit_key tells them apart: key,
 * interval end, key's end, comment. */
static bool
elem_same(const struct celem *x, const struct celem *y)
{
	size_t kl = x->key_len < sizeof(x->key) ? x->key_len : sizeof(x->key);

	return x->key_len == y->key_len && x->end == y->end &&
	    x->ranged == y->ranged && x->remake == y->remake &&
	    memcmp(x->key, y->key, kl) == 0 &&
	    (!x->ranged || memcmp(x->key_end, y->key_end, kl) == 0) &&
	    (x->comment == NULL ? y->comment == NULL : y->comment != NULL &&
	    strcmp(x->comment, y->comment) == 0);
}

/*
 * The elements of a that b lacks, compared by whole units (an interval's
 * start and end travel together), into *evp (replaced). Their count, or
 * -1 on ENOMEM.
 */
ssize_t
elems_lacking(const struct cset *a, const struct cset *b,
    const struct celem ***evp)
{
	static char mark;
	struct strmap *keys;
	const struct celem **ev;
	char eb[UNIT_KEY_MAX + 2 + 256];	/* 256: the kernel's userdata */
	size_t j, m = 0;

	/* the same elements in the same order (a set the change left as
	 * the compile made it): nothing lacks, no index to make */
	if (a->nelems == b->nelems) {
		for (j = 0; j < a->nelems && elem_same(&a->elems[j],
		    &b->elems[j]); j++)
			;
		if (j == a->nelems) {
			free(*evp);
			return (*evp = calloc(1, sizeof(**evp))) == NULL ?
			    -1 : 0;
		}
	}
	if ((keys = strmap_new(b->nelems)) == NULL)
		return -1;
	for (j = 0; j < b->nelems; j += unit_len(b, j)) {
		unit_key(b, j, eb, sizeof(eb));
		if (strmap_puts(keys, eb, &mark) == -1)
			goto fail;
	}
	free(*evp);
	if ((ev = *evp = calloc(a->nelems + 1, sizeof(*ev))) == NULL)
		goto fail;
	for (j = 0; j < a->nelems; j += unit_len(a, j)) {
		unit_key(a, j, eb, sizeof(eb));
		if (strmap_gets(keys, eb) != NULL)
			continue;
		ev[m++] = &a->elems[j];
		if (unit_len(a, j) == 2)
			ev[m++] = &a->elems[j + 1];
	}
	strmap_free(keys);
	return (ssize_t)m;
fail:
	strmap_free(keys);
	return -1;
}

/*
 * What one whole diff works with: the plans and pictures before and after,
 * and the scratch of its steps (build_*), each indexed as noted.
 */
struct bctx {
	struct nft	*n;
	struct work	*w;
	struct batch	*b;
	bool		 full;		/* the table is made again */
	struct cplan	*cur;		/* named sets the kernel has */
	struct cplan	*nx;		/* the plan to reach */
	struct kstate	*ost;		/* the picture before */
	struct kstate	*st;		/* the picture after (w->st) */
	struct strmap	*gone;		/* names of sets made again or gone */
	struct strmap	*chainidx;	/* chain name -> index in nx + 1 */
	struct kchain	**oldc;		/* by nx chain: the kept old chain */
	struct kent	**match;	/* by nx rule: its kept kernel rule */
	struct kent	**cand;		/* by rule of one chain: scratch */
	ssize_t		*sub;		/* by rule of one chain: scratch */
	ssize_t		*nextseg;	/* by rule of one chain: scratch */
	char		*keep;		/* by rule of one chain: scratch */
	size_t		*chainof;	/* by nx rule: its chain */
	size_t		*start;		/* by nx chain: its first in order */
	size_t		*order;		/* nx rules, bucketed by chain */
	size_t		 nadd;		/* kernel rules to add */
	const struct celem **ev;	/* elements, scratch */
	char		 name[600];	/* a sub-chain's name, scratch */
};

static void
bctx_free(struct bctx *x)
{
	free(x->oldc);
	free(x->match);
	free(x->cand);
	free(x->sub);
	free(x->nextseg);
	free(x->keep);
	free(x->chainof);
	free(x->start);
	free(x->order);
	free(x->ev);
	strmap_free(x->chainidx);
	strmap_free(x->gone);
}

static int
bctx_init(struct bctx *x, struct nft *n, struct work *w, struct batch *b,
    bool full)
{
	size_t nr = w->next.nrules + 1, nc = w->next.nchains;

	memset(x, 0, sizeof(*x));
	x->n = n;
	x->w = w;
	x->b = b;
	x->full = full;
	x->cur = &n->cur;
	x->nx = &w->next;
	x->ost = &n->st;
	x->st = &w->st;
	if (kstate_init(x->st, x->nx->nrules) == -1 ||
	    (x->gone = strmap_new(8)) == NULL ||
	    (x->oldc = calloc(nc + 1, sizeof(*x->oldc))) == NULL ||
	    (x->match = calloc(nr, sizeof(*x->match))) == NULL ||
	    (x->cand = calloc(nr, sizeof(*x->cand))) == NULL ||
	    (x->sub = calloc(nr, sizeof(*x->sub))) == NULL ||
	    (x->nextseg = calloc(nr, sizeof(*x->nextseg))) == NULL ||
	    (x->keep = calloc(nr, 1)) == NULL ||
	    (x->order = calloc(nr, sizeof(*x->order))) == NULL ||
	    (x->chainof = calloc(nr, sizeof(*x->chainof))) == NULL ||
	    (x->start = calloc(nc + 2, sizeof(*x->start))) == NULL ||
	    (x->chainidx = strmap_new(nc)) == NULL)
		return -1;
	return 0;
}

/* Named sets that are new, redefined or gone, into x->gone. */
static int
build_gone(struct bctx *x)
{
	struct cplan *cur = x->cur, *nx = x->nx;
	static char mark;
	size_t i;

	for (i = 0; i < nx->nsets; i++) {
		const struct cset *s = cplan_set(cur, nx->sets[i].name);

		if (s == NULL || !set_same(s, &nx->sets[i]))
			if (strmap_puts(x->gone, nx->sets[i].name, &mark) ==
			    -1)
				return -1;
	}
	for (i = 0; i < cur->nsets; i++)
		if (cplan_set(nx, cur->sets[i].name) == NULL &&
		    strmap_puts(x->gone, cur->sets[i].name, &mark) == -1)
			return -1;
	return 0;
}

/* The new rules bucketed by chain (a counting sort keeps their order);
 * a pair chain with user rules after fwctl's own has no sub-chains. */
static int
build_order(struct bctx *x)
{
	struct cplan *nx = x->nx;
	size_t *start = x->start, i, j, ci;

	for (i = 0; i < nx->nchains; i++)
		if (strmap_puts(x->chainidx, nx->chains[i].name,
		    (void *)(i + 1)) == -1)
			return -1;
	for (i = 0; i < nx->nrules; i++) {
		ci = (size_t)strmap_gets(x->chainidx, nx->rules[i].chain);
		if (ci == 0) {
			errno = EINVAL;	/* a rule in a chain not in the plan */
			return -1;
		}
		x->chainof[i] = ci - 1;
		start[ci]++;
	}
	for (i = 0; i < nx->nchains; i++)
		start[i + 1] += start[i];
	for (i = 0; i < nx->nrules; i++)
		x->order[start[x->chainof[i]]++] = i;
	for (i = nx->nchains; i > 0; i--)
		start[i] = start[i - 1];
	start[0] = 0;
	/* sub-chains hold the user rules at the head of a pair chain */
	for (ci = 0; ci < nx->nchains; ci++) {
		bool own = false;

		for (j = start[ci]; j < start[ci + 1]; j++) {
			if (nx->rules[x->order[j]].name == NULL)
				own = true;
			else if (own)
				nx->chains[ci].pair = false;
		}
	}
	return 0;
}

/* Numbers the old picture's rules in chain order (aux), none kept yet. */
static void
build_number_old(struct bctx *x)
{
	struct kchain *oc;
	size_t i, j, k, p;

	for (i = 0; i < x->ost->n; i++) {
		oc = x->ost->v[i];
		oc->reused = false;
		p = 0;
		for (k = 0; k < oc->nsegs; k++) {
			oc->segs[k]->aux = k;
			for (j = 0; j < oc->segs[k]->n; j++) {
				oc->segs[k]->v[j]->keep = false;
				oc->segs[k]->v[j]->aux = p++;
			}
		}
		for (j = 0; j < oc->nown; j++) {
			oc->own[j]->keep = false;
			oc->own[j]->aux = p++;
		}
	}
}

/*
 * Chains kept; in them, rules with the same key and content, not using a
 * set made again; of those the longest run in the old order stays
 * (x->match).
 */
static int
build_keep(struct bctx *x)
{
	struct cplan *nx = x->nx;
	struct kchain *oc;
	struct kent *e;
	size_t ci, j;
	bool user;

	build_number_old(x);
	for (ci = 0; ci < nx->nchains && !x->full; ci++) {
		const struct cchain *c = &nx->chains[ci];
		size_t lo = x->start[ci], cnt = x->start[ci + 1] - lo;

		oc = kstate_chain(x->ost, c->name);
		if (oc == NULL || !chain_same(&oc->def, c) ||
		    oc->def.pair != c->pair)
			continue;
		x->oldc[ci] = oc;
		oc->reused = true;
		for (j = 0; j < cnt; j++) {
			size_t ri = x->order[lo + j];
			const struct crule *r = &nx->rules[ri];

			x->sub[j] = -1;
			user = c->pair && r->name != NULL;
			e = kchain_find(x->ost, oc, r->key, user);
			if (e == NULL || e->remake ||
			    e->hash != x->w->hash[ri] ||
			    (e->seg != NULL) != user || rule_uses(r, x->gone))
				continue;
			x->cand[j] = e;
			x->sub[j] = (ssize_t)e->aux;
		}
		memset(x->keep, 0, cnt);
		if (lis(x->sub, cnt, x->keep) == -1)
			return -1;
		for (j = 0; j < cnt; j++)
			if (x->keep[j]) {
				x->match[x->order[lo + j]] = x->cand[j];
				x->cand[j]->keep = true;
			}
		memset(x->cand, 0, cnt * sizeof(*x->cand));
	}
	return 0;
}

/* The segment a new chain's (or kept chain's) rule i goes into; NULL for
 * fwctl's own rules. */
static struct kseg *
build_seg_of(struct bctx *x, struct kchain *nc, const struct cchain *c,
    size_t i, size_t j)
{
	const struct crule *r = &x->nx->rules[i];
	struct kseg *sg;

	if (!c->pair || r->name == NULL)
		return NULL;
	if (x->match[i] != NULL)
		return nc->segs[x->match[i]->seg->aux];
	if (x->nextseg[j] >= 0)
		return nc->segs[x->nextseg[j]];
	sg = nc->segs[nc->nsegs - 1];
	if (sg->n >= SEG_MAX) {
		if ((sg = kchain_add_seg(nc, nc->next_id++)) == NULL)
			return NULL;
		sg->fresh = true;
	}
	return sg;
}

/*
 * The picture after the change, chain ci: kept rules stay in their
 * segment, a new rule goes into the segment of the next rule that stays,
 * or at the end, where a full segment opens a new sub-chain.
 */
static int
build_picture_chain(struct bctx *x, size_t ci)
{
	const struct cchain *c = &x->nx->chains[ci];
	size_t lo = x->start[ci], cnt = x->start[ci + 1] - lo, i, j, k;
	struct kchain *oc = x->oldc[ci], *nc;
	struct kent *e;
	struct kseg *sg;
	ssize_t ns = -1;

	if ((nc = kstate_add_chain(x->st, c)) == NULL)
		return -1;
	if (oc != NULL) {
		nc->next_id = oc->next_id;
		for (k = 0; k < oc->nsegs; k++) {
			if ((sg = kchain_add_seg(nc, oc->segs[k]->id)) == NULL)
				return -1;
			sg->jump = oc->segs[k]->jump;
		}
	} else if (c->pair && kchain_add_seg(nc, 0) == NULL)
		return -1;
	for (j = cnt; j > 0; j--) {
		i = x->order[lo + j - 1];
		x->nextseg[j - 1] = ns;
		if (x->match[i] != NULL && x->match[i]->seg != NULL)
			ns = (ssize_t)x->match[i]->seg->aux;
	}
	for (j = 0; j < cnt; j++) {
		i = x->order[lo + j];
		sg = build_seg_of(x, nc, c, i, j);
		if (sg == NULL && c->pair && x->nx->rules[i].name != NULL)
			return -1;
		if ((e = kchain_add_ent(x->st, nc, sg, x->nx->rules[i].key,
		    x->w->hash[i], x->match[i] != NULL ?
		    x->match[i]->handle : 0)) == NULL)
			return -1;
		e->aux = i;
		if (e->handle == 0)
			x->nadd++;
	}
	for (k = 1; k < nc->nsegs; k++)
		if (nc->segs[k]->fresh || oc == NULL) {
			nc->segs[k]->fresh = true;
			x->nadd++;
		}
	return 0;
}

/* 1. Rules that go; the jumps of chains that go. */
static int
build_del_rules(struct bctx *x)
{
	struct kchain *oc;
	struct kseg *sg;
	size_t i, j, k;

	for (i = 0; i < x->ost->n; i++) {
		oc = x->ost->v[i];
		for (k = 0; k < oc->nsegs; k++) {
			sg = oc->segs[k];
			for (j = 0; j < sg->n; j++)
				if (!sg->v[j]->keep && emit_delrule(x->n, x->b,
				    seg_chain(oc, sg, x->name, sizeof(x->name)),
				    sg->v[j]->key, sg->v[j]->handle) == -1)
					return -1;
		}
		for (j = 0; j < oc->nown; j++)
			if (!oc->own[j]->keep && emit_delrule(x->n, x->b,
			    oc->def.name, oc->own[j]->key,
			    oc->own[j]->handle) == -1)
				return -1;
		if (oc->reused)
			continue;
		for (k = 1; k < oc->nsegs; k++)
			if (emit_delrule(x->n, x->b, oc->def.name, "~jump",
			    oc->segs[k]->jump) == -1)
				return -1;
	}
	return 0;
}

/* 2. Elements that go, sets that go, chains that go. */
static int
build_del_rest(struct bctx *x)
{
	struct cplan *cur = x->cur, *nx = x->nx;
	struct kchain *oc;
	ssize_t nel;
	size_t i, k;

	for (i = 0; i < nx->nsets; i++) {
		const struct cset *ns = &nx->sets[i];
		const struct cset *os = cplan_set(cur, ns->name);

		if (os == NULL || strmap_gets(x->gone, ns->name) != NULL)
			continue;
		if ((nel = elems_lacking(os, ns, &x->ev)) == -1)
			return -1;
		x->n->stats.elems_deleted += (size_t)nel;
		if (nel > 0 && emit_elems(x->n, x->b, ns, false, 0, x->ev,
		    (size_t)nel, true, NULL, NULL) == -1)
			return -1;
	}
	for (i = 0; i < cur->nsets; i++)
		if (strmap_gets(x->gone, cur->sets[i].name) != NULL &&
		    emit_delset(x->n, x->b, &cur->sets[i]) == -1)
			return -1;
	for (i = 0; i < x->ost->n; i++) {
		oc = x->ost->v[i];
		if (oc->reused)
			continue;
		for (k = 1; k < oc->nsegs; k++)
			if (emit_subchain(x->n, x->b, seg_chain(oc,
			    oc->segs[k], x->name, sizeof(x->name)), true) == -1)
				return -1;
		if (emit_chain(x->n, x->b, &oc->def, true) == -1)
			return -1;
	}
	return 0;
}

/* 3. Chains that come, sets that come, elements that come. */
static int
build_add_sets(struct bctx *x)
{
	struct cplan *nx = x->nx;
	struct kchain *nc;
	ssize_t nel;
	size_t i, k;

	for (i = 0; i < nx->nchains; i++) {
		nc = x->st->v[i];
		if (x->oldc[i] == NULL && emit_chain(x->n, x->b,
		    &nx->chains[i], false) == -1)
			return -1;
		for (k = 1; k < nc->nsegs; k++)
			if (nc->segs[k]->fresh && emit_subchain(x->n, x->b,
			    seg_chain(nc, nc->segs[k], x->name,
			    sizeof(x->name)), false) == -1)
				return -1;
	}
	for (i = 0; i < nx->nsets; i++) {
		const struct cset *ns = &nx->sets[i];
		const struct cset *os = cplan_set(x->cur, ns->name);
		char what[FWCTL_NAME_MAX + 8];

		if (strmap_gets(x->gone, ns->name) != NULL) {
			snprintf(what, sizeof(what), "set %s", ns->name);
			x->n->stats.elems_added += ns->nelems;
			if (emit_set(x->n, x->b, ns, false, ++x->n->set_id,
			    what, ns->loc, x->w->eseeds) == -1)
				return -1;
			continue;
		}
		if ((nel = elems_lacking(ns, os, &x->ev)) == -1)
			return -1;
		x->n->stats.elems_added += (size_t)nel;
		if (nel > 0 && emit_elems(x->n, x->b, ns, false, 0, x->ev,
		    (size_t)nel, false, ns->loc, x->w->eseeds) == -1)
			return -1;
	}
	return 0;
}

/* fwctl's own rules of chain nc that come: few, each before the next one
 * that stays (known before any of them is given a handle). */
static int
build_add_own(struct bctx *x, struct kchain *nc)
{
	struct work *w = x->w;
	struct kent *e;
	size_t j, m;

	for (j = 0; j < nc->nown; j++)
		nc->own[j]->keep = nc->own[j]->handle != 0;
	for (j = 0; j < nc->nown; j++) {
		uint64_t bh = 0;

		e = nc->own[j];
		if (e->keep)
			continue;
		for (m = j + 1; m < nc->nown && bh == 0; m++)
			if (nc->own[m]->keep)
				bh = nc->own[m]->handle;
		if (emit_rule(x->n, x->b, &x->nx->rules[e->aux], NULL, bh,
		    w->echo, w->seeds ? &w->seeds[e->aux] : NULL,
		    &e->handle) == -1)
			return -1;
	}
	return 0;
}

/* 4. Rules that come: per chain segment 0, the jumps, fwctl's own rules,
 * then the sub-chains. Handles: known in a new table, else echoed, else
 * dumped. */
static int
build_add_rules(struct bctx *x)
{
	struct work *w = x->w;
	struct kchain *nc;
	size_t ci, k;

	x->b->predict = x->full;
	w->echo = !x->full && x->nadd <= ECHO_MAX;
	for (ci = 0; ci < x->nx->nchains; ci++) {
		nc = x->st->v[ci];
		if (nc->nsegs > 0 && emit_seg(x->n, w, x->b, nc, 0) == -1)
			return -1;
		for (k = 1; k < nc->nsegs; k++)
			if (nc->segs[k]->fresh && emit_jump(x->n, x->b,
			    nc->def.name, seg_chain(nc, nc->segs[k], x->name,
			    sizeof(x->name)), after_seg(nc, k), w->echo,
			    &nc->segs[k]->jump) == -1)
				return -1;
		if (build_add_own(x, nc) == -1)
			return -1;
		for (k = 1; k < nc->nsegs; k++)
			if (emit_seg(x->n, w, x->b, nc, k) == -1)
				return -1;
	}
	return 0;
}

/*
 * The whole diff: the batch that takes the kernel from the picture (n->st,
 * n->cur) to the plan w->next, and the picture after it (w->st). full:
 * the table is deleted (when table_exists) and made again.
 */
static int
build(struct nft *n, struct work *w, struct batch *b, bool full,
    bool table_exists)
{
	struct bctx x;
	size_t ci;
	int rc = -1;

	if (bctx_init(&x, n, w, b, full) == -1)
		goto out;
	if (full) {
		/* the table is made again, and its lists with it */
		lists_reset(n);
		if (table_exists && emit_table(n, b, true) == -1)
			goto out;
		if (emit_table(n, b, false) == -1)
			goto out;
	}
	if (build_gone(&x) == -1 || build_order(&x) == -1 ||
	    build_keep(&x) == -1)
		goto out;
	for (ci = 0; ci < x.nx->nchains; ci++)
		if (build_picture_chain(&x, ci) == -1)
			goto out;
	if (!full && (build_del_rules(&x) == -1 || build_del_rest(&x) == -1))
		goto out;
	if (build_add_sets(&x) == -1 || build_add_rules(&x) == -1)
		goto out;
	if (!full && lists_gc(n, b, x.nx) == -1)
		goto out;
	rc = b->err ? -1 : 0;
 out:
	bctx_free(&x);
	return rc;
}

/* The counter of rule e of the picture, into *s; left unset when it cannot
 * be read (the new rule then counts from zero). */
void
rule_seed(struct nft *n, const struct kent *e, struct seed *s)
{
	struct dump dp = { 0 };
	char name[600];

	dp.counters = true;
	if (get_rule(n, seg_chain(e->chain, e->seg, name, sizeof(name)),
	    e->handle, &dp) == 1) {
		s->packets = dp.v[0].packets;
		s->bytes = dp.v[0].bytes;
		s->set = true;
	}
	dump_free(&dp);
}

/* After a commit into a new table: are the handles we predicted the ones
 * the kernel gave? The first and the last rule of the batch say so (the
 * kernel counts up without gaps in between). */
static bool
predicted_right(struct nft *n, struct work *w)
{
	struct kent *lo = NULL, *hi = NULL, *e;
	struct kchain *c;
	char name[600];
	size_t i, j, k;

	for (i = 0; i < w->st.n; i++) {
		c = w->st.v[i];
		for (k = 0; k <= c->nsegs; k++) {
			size_t cnt = k < c->nsegs ? c->segs[k]->n : c->nown;

			for (j = 0; j < cnt; j++) {
				e = k < c->nsegs ? c->segs[k]->v[j] : c->own[j];
				if (lo == NULL || e->handle < lo->handle)
					lo = e;
				if (hi == NULL || e->handle > hi->handle)
					hi = e;
			}
		}
	}
	if (lo == NULL)
		return true;
	return rule_is(n, seg_chain(lo->chain, lo->seg, name, sizeof(name)),
	    lo->handle, w->next.rules[lo->aux].comment) == 1 &&
	    rule_is(n, seg_chain(hi->chain, hi->seg, name, sizeof(name)),
	    hi->handle, w->next.rules[hi->aux].comment) == 1;
}

/* After a commit without echoes: every handle, by position in each
 * kernel chain (a dump, read without parsing expressions). */
static int
learn_handles(struct nft *n, struct work *w)
{
	struct dump dp = { 0 };
	struct strmap *idx = NULL;
	struct slots {
		uint64_t	**v;
		size_t		 n;
		size_t		 cap;
		size_t		 at;
	} *sl = NULL, *x;
	struct kchain *c;
	struct kseg *sg;
	size_t i, j, k, nsl = 0, total = 0;
	char name[600];
	int rc = -1;

	if (dump_rules(n, &dp) == -1)
		return -1;
	for (i = 0; i < w->st.n; i++)
		total += w->st.v[i]->nsegs + 1;
	if ((idx = strmap_new(total)) == NULL ||
	    (sl = calloc(total + 1, sizeof(*sl))) == NULL)
		goto out;
	for (i = 0; i < w->st.n; i++) {
		c = w->st.v[i];
		x = &sl[nsl++];
		if (strmap_puts(idx, c->def.name, x) == -1)
			goto out;
		/* the chain itself: segment 0, jumps, own rules */
		if (c->nsegs > 0)
			for (j = 0; j < c->segs[0]->n; j++)
				if (ptr_push(&x->v, &x->n, &x->cap,
				    &c->segs[0]->v[j]->handle) == -1)
					goto out;
		for (k = 1; k < c->nsegs; k++)
			if (ptr_push(&x->v, &x->n, &x->cap,
			    &c->segs[k]->jump) == -1)
				goto out;
		for (j = 0; j < c->nown; j++)
			if (ptr_push(&x->v, &x->n, &x->cap,
			    &c->own[j]->handle) == -1)
				goto out;
		for (k = 1; k < c->nsegs; k++) {
			sg = c->segs[k];
			x = &sl[nsl++];
			if (strmap_puts(idx, seg_chain(c, sg, name,
			    sizeof(name)), x) == -1)
				goto out;
			for (j = 0; j < sg->n; j++)
				if (ptr_push(&x->v, &x->n, &x->cap,
				    &sg->v[j]->handle) == -1)
					goto out;
		}
	}
	for (i = 0; i < dp.n; i++) {
		if ((x = strmap_gets(idx, dp.v[i].chain)) == NULL ||
		    x->at >= x->n)
			goto out;	/* not what we committed */
		*x->v[x->at++] = dp.v[i].handle;
	}
	for (i = 0; i < nsl; i++)
		if (sl[i].at != sl[i].n)
			goto out;
	rc = 0;
 out:
	if (sl != NULL)
		for (i = 0; i < nsl; i++)
			free(sl[i].v);
	free(sl);
	strmap_free(idx);
	dump_free(&dp);
	return rc;
}

/* Clears kent.remake and celem.remake in the picture (lost_copies). */
static void
remake_clear(struct nft *n)
{
	struct kchain *c;
	size_t i, j, k;

	for (i = 0; i < n->st.n; i++) {
		c = n->st.v[i];
		for (k = 0; k < c->nsegs; k++)
			for (j = 0; j < c->segs[k]->n; j++)
				c->segs[k]->v[j]->remake = false;
	}
	for (i = 0; i < n->cur.nsets; i++)
		for (j = 0; j < n->cur.sets[i].nelems; j++)
			n->cur.sets[i].elems[j].remake = false;
}

int
nft_apply(struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan, struct diags *d)
{
	struct work w = { 0 };
	struct batch b = { 0 };
	struct reply rp = { 0 };
	uint32_t genid;
	size_t i, k, j;
	int present, tries, cr, sent, rc = -1;
	bool full, rebuilt = false, carried = false, seeded = false;

	memset(&n->stats, 0, sizeof(n->stats));
	/* without a picture of the kernel (first apply, or the caller does
	 * not know), rebuild in one transaction */
	if (prev == NULL)
		state_clear(n);
	/* a table found at start as next says: taken as it is */
	if (prev == NULL && n->adopt != NULL && adopt_take(n, next) == 0)
		return 0;
	/* elements alone (fwctl block ...): no compile, no diff */
	if (plan_elements_only(n, prev, next, plan))
		return apply_elems(n, prev, next, plan, d);
	/* one rule joining or leaving a group: one element */
	if ((rc = apply_group(n, prev, next, plan, d)) != 1)
		return rc;
	/* rules alone: those rules, nothing else */
	if ((rc = apply_rules(n, prev, next, plan, d)) != 1)
		return rc;
	/* policies and NAT entries alone: the frame (no rule compiled) */
	if ((rc = apply_policies(n, prev, next, plan, d)) != 1)
		return rc;
	rc = -1;
	memset(&n->stats, 0, sizeof(n->stats));
	/* the whole diff may share pair chains otherwise */
	compile_pairs_free(n->pairs);
	n->pairs = NULL;
	cur_pack(n);
	if (compile_ruleset(next, n->table, &w.next, d) == -1)
		return -1;
	if (keep_interval(n, next, &w.next) == -1 ||
	    (w.hash = calloc(w.next.nrules + 1, sizeof(*w.hash))) == NULL)
		goto nomem;
	for (i = 0; i < w.next.nrules; i++)
		w.hash[i] = cplan_rule_hash(&w.next.rules[i]);

	for (tries = 0; tries < BATCH_TRIES; tries++) {
		full = !n->have;
		present = full ? nft_table_present(n) : 1;
		if (present == -1 || get_genid(n, &genid) == -1) {
			diags_add(d, NULL, "reading the kernel's ruleset: %s",
			    strerror(errno));
			goto out;
		}
		batch_free(&b);
		memset(&rp, 0, sizeof(rp));
		kstate_free(&w.st);
		memset(&n->stats, 0, sizeof(n->stats));
		n->stats.full_rebuild = full;
		n->stats.compiled_rules = next->nrules + next->nnats;
		if (full && present == 1 && !seeded) {
			/* also after a carry that a rebuild made moot */
			seed_counters(n, &w);
			seed_elem_counters(n, &w);
			seeded = true;
		}
		if (batch_begin(n, &b, genid) == -1 ||
		    build(n, &w, &b, full, present == 1) == -1)
			goto nomem;
		/* rules that did not change but whose kernel objects are
		 * made again keep their counts: build once more with them */
		if (!full && !carried) {
			carried = true;
			if ((cr = carry_counters(n, &w, prev, next)) == -1)
				goto nomem;
			if (cr == 1) {
				batch_free(&b);
				kstate_free(&w.st);
				memset(&n->stats, 0, sizeof(n->stats));
				n->stats.compiled_rules = next->nrules +
				    next->nnats;
				if (batch_begin(n, &b, genid) == -1 ||
				    build(n, &w, &b, full, present == 1) == -1)
					goto nomem;
			}
		}
		if (!full && b.nobjs == 1) {
			/* nothing differs: no transaction at all */
			n->stats.msgs = 0;
			rc = 0;
			goto out;
		}
		if (batch_end(n, &b) == -1)
			goto nomem;
		rp.echo = w.echo;
		if ((sent = batch_commit(n, &b, &rp)) == 0)
			break;
		if (sent == 1)
			continue;
		if (full && !n->flags_known && rp.error_seq >= b.seq0 &&
		    rp.error_seq - b.seq0 < b.nobjs &&
		    b.objs[rp.error_seq - b.seq0].kind == BK_TABLE &&
		    (rp.error == EOPNOTSUPP || rp.error == EINVAL)) {
			/* a kernel without PERSIST: a table that does not
			 * go away with the socket, and is not owned */
			n->table_flags = 0;
			n->flags_known = true;
			continue;
		}
		if (!full && !rebuilt && (nft_table_present(n) != 1 ||
		    nft_drifted(n))) {
			/* our picture is wrong (the table went away or was
			 * changed behind us, possible where it cannot be
			 * owned): build it again, once */
			state_clear(n);
			rebuilt = true;
			continue;
		}
		reply_diag(n, &b, &rp, d);
		goto out;
	}
	if (tries == BATCH_TRIES) {
		batch_gave_up(d);
		goto out;
	}
	n->flags_known = true;
	batch_free(&b);		/* its memory, before the dump */
	/* committed: learn the handles of the new rules */
	if (!w.echo && (!full || !predicted_right(n, &w)) &&
	    learn_handles(n, &w) == -1)
		goto lost;
	for (i = 0; i < w.st.n; i++) {
		struct kchain *c = w.st.v[i];

		for (j = 0; j < c->nown; j++)
			if (c->own[j]->handle == 0)
				goto lost;
		for (k = 0; k < c->nsegs; k++) {
			if (k > 0 && c->segs[k]->jump == 0)
				goto lost;
			c->segs[k]->fresh = false;
			for (j = 0; j < c->segs[k]->n; j++)
				if (c->segs[k]->v[j]->handle == 0)
					goto lost;
		}
	}
	for (i = 0; i < w.next.nsets; i++)
		w.next.sets[i].loc = NULL;	/* the model may go away */
	state_clear(n);		/* the element indexes too */
	n->st = w.st;
	memset(&w.st, 0, sizeof(w.st));
	n->cur.sets = w.next.sets;
	n->cur.nsets = w.next.nsets;
	n->cur.sets_cap = w.next.sets_cap;
	n->cur.groups = w.next.groups;
	w.next.groups = NULL;
	w.next.sets = NULL;
	w.next.nsets = 0;
	w.next.sets_cap = 0;
	n->have = true;
	/* for the single changes to come (NULL: made on first use) */
	(void)nft_pairs(n, next);
	split_big(n, next);
	if (get_genid(n, &n->genid) == -1)
		n->genid = 0;
	rc = 0;
	goto out;
 lost:
	/* the kernel has the change; we lost track of handles, so the next
	 * change rebuilds the table */
	state_clear(n);
	get_genid(n, &n->genid);
	rc = 0;
	goto out;
 nomem:
	diags_add(d, NULL, "nft: %s", strerror(errno ? errno : ENOMEM));
 out:
	/* the marks of objects to make again, where the picture before
	 * stays (the change failed) */
	if (w.remade)
		remake_clear(n);
	kept_free(n);		/* stale after any change */
	adopt_free(n);
	batch_free(&b);
	work_free(&w);
	/* a big compile leaves the heap large; give it back */
	malloc_trim(0);
	return rc;
}
