/*
 * nft/adopt.c: a table found at start exactly as the ruleset says is taken
 * over as it stands: the picture is built from the drift check's read, and
 * the commit only claims the table (NEWTABLE with fwctl's flags), instead
 * of deleting it and making it again (docs/design-compile.md, "Applying
 * changes").
 */
#include "nft_int.h"

/* The kernel's rules of one chain: a run of the dump. */
struct krun {
	size_t		 at;		/* first dump index */
	size_t		 n;
	bool		 used;
};

/* What the picture is built from. */
struct actx {
	const struct adopt_in *in;
	struct adopt	*a;
	struct strmap	*runs;		/* kernel chain name -> struct krun */
	struct krun	*runv;
	size_t		 nruns;
	size_t		*rule_of;	/* by dump index: place + 1, or 0 */
	/* The plan's rules by chain, in the order of its chains and in
	 * their order within each: place q is plan rule ord[q] (the NAT
	 * entries' rules, compiled last, go in chains made first). */
	size_t		*ord;
	uint64_t	*hash;		/* by plan rule: cplan_rule_hash */
	size_t		 chains_used;
	size_t		 rules_used;
};

static void
adopt_names_free(struct adopt *a)
{
	size_t i;

	strmap_free(a->klists);
	for (i = 0; i < a->nknames; i++)
		free(a->knames[i]);
	free(a->knames);
}

void
adopt_free(struct nft *n)
{
	struct adopt *a = n->adopt;

	if (a == NULL)
		return;
	kstate_free(&a->st);
	cplan_free(&a->plan);
	ruleset_free(a->rs);
	adopt_names_free(a);
	free(a);
	n->adopt = NULL;
}

static void
actx_free(struct actx *x)
{
	strmap_free(x->runs);
	free(x->runv);
	free(x->rule_of);
	free(x->ord);
	free(x->hash);
}

/* x->ord, and the places' ends by chain into *start (nchains + 1); -1
 * out of memory or a rule of a chain the plan does not have. */
static int
actx_order(struct actx *x, size_t **start)
{
	const struct cplan *p = x->in->p;
	struct strmap *idx;
	size_t *of = NULL, *st = NULL, i, ci;
	int rc = -1;

	if ((idx = strmap_new(p->nchains + 1)) == NULL ||
	    (of = calloc(p->nrules + 1, sizeof(*of))) == NULL ||
	    (st = calloc(p->nchains + 2, sizeof(*st))) == NULL ||
	    (x->ord = calloc(p->nrules + 1, sizeof(*x->ord))) == NULL)
		goto out;
	for (ci = 0; ci < p->nchains; ci++)
		if (strmap_puts(idx, p->chains[ci].name, (void *)(ci + 1)) ==
		    -1)
			goto out;
	for (i = 0; i < p->nrules; i++) {
		if ((ci = (size_t)strmap_gets(idx, p->rules[i].chain)) == 0)
			goto out;
		of[i] = ci - 1;
		st[ci]++;
	}
	for (ci = 0; ci < p->nchains; ci++)
		st[ci + 1] += st[ci];
	for (i = 0; i < p->nrules; i++)
		x->ord[st[of[i]]++] = i;
	for (ci = p->nchains; ci > 0; ci--)
		st[ci] = st[ci - 1];
	st[0] = 0;
	*start = st;
	st = NULL;
	rc = 0;
 out:
	strmap_free(idx);
	free(of);
	free(st);
	return rc;
}

/* The dump as runs by chain (the kernel dumps a chain's rules together,
 * in order); -1 when out of memory or a chain's rules are not together. */
static int
actx_runs(struct actx *x)
{
	const struct dump *dp = x->in->dp;
	const struct cplan *p = x->in->p;
	struct krun *r;
	size_t i;

	if ((x->runs = strmap_new(p->nchains + 16)) == NULL ||
	    (x->runv = calloc(dp->n + 1, sizeof(*x->runv))) == NULL ||
	    (x->rule_of = calloc(dp->n + 1, sizeof(*x->rule_of))) == NULL ||
	    (x->hash = calloc(p->nrules + 1, sizeof(*x->hash))) == NULL)
		return -1;
	for (i = 0; i < p->nrules; i++)
		x->hash[i] = cplan_rule_hash(&p->rules[i]);
	for (i = 0; i < dp->n; i++) {
		if (i > 0 && strcmp(dp->v[i].chain, dp->v[i - 1].chain) == 0) {
			x->runv[x->nruns - 1].n++;
			continue;
		}
		if (strmap_gets(x->runs, dp->v[i].chain) != NULL)
			return -1;	/* not together: not the layout */
		r = &x->runv[x->nruns++];
		r->at = i;
		r->n = 1;
		if (strmap_puts(x->runs, dp->v[i].chain, r) == -1)
			return -1;
	}
	for (i = 0; i < p->nrules; i++)
		if (x->in->at_of[x->ord[i]] < dp->n)
			x->rule_of[x->in->at_of[x->ord[i]]] = i + 1;
	return 0;
}

/* The kernel rules of a chain (an empty run when it has none); NULL when
 * a chain is taken twice. */
static struct krun *
actx_run(struct actx *x, const char *chain, struct krun *none)
{
	struct krun *r = strmap_gets(x->runs, chain);

	x->chains_used++;
	if (r == NULL) {
		memset(none, 0, sizeof(*none));
		return none;
	}
	if (r->used)
		return NULL;
	r->used = true;
	x->rules_used += r->n;
	return r;
}

/* Kernel rule k is the plan's rule at place q: an entry of the picture. */
static int
actx_ent(struct actx *x, struct kchain *c, struct kseg *sg, size_t k,
    size_t q)
{
	const struct crule *r = &x->in->p->rules[x->ord[q]];

	return kchain_add_ent(&x->a->st, c, sg, r->key, x->hash[x->ord[q]],
	    x->in->dp->v[k].handle) != NULL ? 0 : -1;
}

/* The sub-chain id of "<chain>/<id>", 0 when it is not one. */
static uint32_t
sub_id(const char *chain, const char *target)
{
	size_t len = strlen(chain);
	unsigned long v;
	char *end;

	if (strncmp(target, chain, len) != 0 || target[len] != '/' ||
	    target[len + 1] < '1' || target[len + 1] > '9')
		return 0;
	errno = 0;
	v = strtoul(target + len + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

/*
 * A pair chain: in the kernel chain, its user rules (segment 0), the
 * jumps to its sub-chains, fwctl's own rules; then each sub-chain, in jump
 * order. Read in that order, the user rules are those of the plan, in
 * order, and so are the own ones. 1 when the kernel's chain is not that.
 */
static int
adopt_pair(struct actx *x, struct kchain *nc, size_t lo, size_t nuser,
    size_t hi)
{
	const struct dump *dp = x->in->dp;
	struct krun none, *r;
	struct kseg *sg;
	size_t q = lo, k, j, phase = 0;
	uint32_t id;
	char name[600];

	if ((r = actx_run(x, nc->def.name, &none)) == NULL ||
	    kchain_add_seg(nc, 0) == NULL)
		return r == NULL ? 1 : -1;
	for (k = r->at; k < r->at + r->n; k++) {
		const char *to = x->in->jump_to[k];

		if (phase == 0 && q < lo + nuser && x->rule_of[k] == q + 1) {
			if (actx_ent(x, nc, nc->segs[0], k, q++) == -1)
				return -1;
		} else if (phase <= 1 && to != NULL &&
		    (id = sub_id(nc->def.name, to)) != 0) {
			phase = 1;
			if ((sg = kchain_add_seg(nc, id)) == NULL)
				return -1;
			sg->jump = dp->v[k].handle;
			if (id >= nc->next_id)
				nc->next_id = id + 1;
		} else
			break;
	}
	/* the sub-chains' rules come before the own ones in the plan */
	for (j = 1; j < nc->nsegs; j++) {
		struct krun *s;

		sg = nc->segs[j];
		if ((s = actx_run(x, seg_chain(nc, sg, name, sizeof(name)),
		    &none)) == NULL)
			return 1;
		for (size_t m = s->at; m < s->at + s->n; m++) {
			if (q >= lo + nuser || x->rule_of[m] != q + 1)
				return 1;
			if (actx_ent(x, nc, sg, m, q++) == -1)
				return -1;
		}
	}
	if (q != lo + nuser)
		return 1;
	for (; k < r->at + r->n; k++) {
		if (q >= hi || x->rule_of[k] != q + 1)
			return 1;
		if (actx_ent(x, nc, NULL, k, q++) == -1)
			return -1;
	}
	return q == hi ? 0 : 1;
}

/* Any other chain: its rules, in plan order, all fwctl's own in the
 * picture's terms. */
static int
adopt_plain(struct actx *x, struct kchain *nc, size_t lo, size_t hi)
{
	struct krun none, *r;
	size_t q = lo, k;

	if ((r = actx_run(x, nc->def.name, &none)) == NULL)
		return 1;
	for (k = r->at; k < r->at + r->n; k++) {
		if (q >= hi || x->rule_of[k] != q + 1)
			return 1;
		if (actx_ent(x, nc, NULL, k, q++) == -1)
			return -1;
	}
	return q == hi ? 0 : 1;
}

/* Chain ci of the plan, its rules at places [lo, hi): 0, 1 (not the
 * layout), -1. */
static int
adopt_chain(struct actx *x, size_t ci, size_t lo, size_t hi)
{
	const struct cplan *p = x->in->p;
	struct cchain def = p->chains[ci];
	struct kchain *nc;
	size_t q, nuser = 0;
	bool own = false;

	/* as the whole diff lays it out (build_order): user rules after
	 * fwctl's own keep a pair chain without sub-chains */
	for (q = lo; q < hi; q++) {
		if (p->rules[x->ord[q]].name == NULL)
			own = true;
		else if (own)
			def.pair = false;
		else
			nuser++;
	}
	if ((nc = kstate_add_chain(&x->a->st, &def)) == NULL)
		return -1;
	return def.pair ? adopt_pair(x, nc, lo, nuser, hi) :
	    adopt_plain(x, nc, lo, hi);
}

/*
 * After a drift check that found nothing: the picture of the table as
 * read, kept in n->adopt for the nft_apply that follows. Nothing is kept
 * when the kernel's layout is not one fwctl makes (that apply then builds
 * the table again, as always).
 */
void
adopt_prepare(struct nft *n, const struct adopt_in *in)
{
	struct actx x = { 0 };
	const struct cplan *p = in->p;
	size_t ci, i, *start = NULL;
	int rc = -1;

	adopt_free(n);
	x.in = in;
	if ((x.a = calloc(1, sizeof(*x.a))) == NULL ||
	    kstate_init(&x.a->st, p->nrules) == -1 ||
	    actx_order(&x, &start) == -1 || actx_runs(&x) == -1)
		goto out;
	for (ci = 0; ci < p->nchains; ci++)
		if ((rc = adopt_chain(&x, ci, start[ci], start[ci + 1])) != 0)
			goto out;
	rc = 1;
	/* every rule and every chain of the kernel taken, no other */
	if (x.rules_used != in->dp->n || x.chains_used != in->nkchains)
		goto out;
	if ((x.a->klists = strmap_new(in->nklists + 1)) == NULL ||
	    (x.a->knames = calloc(in->nklists + 1,
	    sizeof(*x.a->knames))) == NULL)
		goto out;
	for (i = 0; i < in->nklists; i++)
		if (strmap_puts(x.a->klists, in->klists[i], &x) == -1 ||
		    (x.a->knames[x.a->nknames++] = strdup(in->klists[i])) ==
		    NULL)
			goto out;
	if ((x.a->rs = ruleset_share(in->next)) == NULL)
		goto out;
	x.a->plan = *in->p;
	memset(in->p, 0, sizeof(*in->p));
	n->adopt = x.a;
	x.a = NULL;
	rc = 0;
 out:
	free(start);
	if (x.a != NULL) {
		kstate_free(&x.a->st);
		ruleset_free(x.a->rs);
		adopt_names_free(x.a);
		free(x.a);
	}
	actx_free(&x);
}

/*
 * The first apply after start, with a picture from adopt_prepare: when
 * next is the ruleset checked (its plan is the one the check compiled:
 * nothing is compiled again) and nothing committed since, the table is
 * claimed (one NEWTABLE) and the picture becomes ours. 0 when taken, 1
 * when not (the caller builds the table again), never an error: the
 * rebuild is always there to fall back on.
 */
int
adopt_take(struct nft *n, const struct ruleset *next)
{
	struct adopt *a = n->adopt;
	struct batch b = { 0 };
	struct reply rp = { 0 };
	uint32_t genid;
	int rc = 1;

	if (a == NULL || n->have || !ruleset_equal(a->rs, next) ||
	    get_genid(n, &genid) == -1 || genid != a->gen)
		goto out;
	if ((rc = lists_adopt(n, &a->plan, a->klists, a->knames,
	    a->nknames)) != 0) {
		rc = 1;
		lists_reset(n);
		goto out;
	}
	rc = 1;
	if (batch_begin(n, &b, genid) == -1 || emit_table(n, &b, false) == -1 ||
	    batch_end(n, &b) == -1 || batch_send(n, &b, &rp) == -1) {
		lists_reset(n);
		goto out;
	}
	n->flags_known = true;
	state_clear(n);
	n->st = a->st;
	memset(&a->st, 0, sizeof(a->st));
	n->cur.sets = a->plan.sets;
	n->cur.nsets = a->plan.nsets;
	n->cur.sets_cap = a->plan.sets_cap;
	n->cur.groups = a->plan.groups;
	a->plan.groups = NULL;
	for (size_t i = 0; i < n->cur.nsets; i++)
		n->cur.sets[i].loc = NULL;	/* the model may go away */
	a->plan.sets = NULL;
	a->plan.nsets = 0;
	a->plan.sets_cap = 0;
	n->have = true;
	/* for the single changes to come (NULL: made on first use) */
	(void)nft_pairs(n, next);
	kept_free(n);		/* its counters were for a rebuild */
	memset(&n->stats, 0, sizeof(n->stats));
	n->stats.msgs = b.nobjs;
	n->stats.bytes = b.len;
	if (get_genid(n, &n->genid) == -1)
		n->genid = 0;
	rc = 0;
 out:
	batch_free(&b);
	adopt_free(n);
	return rc;
}
