/*
 * nft/counters.c: Counters: read per rule name (nft_counters), and carried
 * over to kernel objects made again for rules whose matches did not change,
 * or seeded from the table a restart adopts.
 */
#include "nft_int.h"

/* The counters of a group's elements, by the rule name in each element's
 * comment (with chain: by pair_key(chain, name)), added to out (idx: name
 * -> position + 1). */
struct gctr {
	struct nft_counters	*out;
	struct strmap		*idx;
	int			 err;
	const char		*chain;		/* or NULL */
	size_t			 clen;
};

/* "lan-self/3" -> "lan-self": no zone name starts with a digit, so a last
 * component of digits alone is always a sub-chain's number. */
void
seg_strip(char *chain)
{
	char *p = strrchr(chain, '/');

	if (p == NULL || p[1] == '\0' || p[strspn(p + 1, "0123456789") + 1] !=
	    '\0')
		return;
	*p = '\0';
}

int
elem_comment_cb(const struct nftnl_udata *attr, void *data)
{
	const char **out = data;
	const char *s = nftnl_udata_get(attr);
	uint8_t len = nftnl_udata_len(attr);

	if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT &&
	    len > 0 && s[len - 1] == '\0')
		*out = s;
	return 0;
}

static int
ctr_add(struct nft_counters *out, struct strmap *idx, const char *name,
    uint64_t packets, uint64_t bytes)
{
	struct nft_counter *c, *nv;
	size_t at = (size_t)strmap_gets(idx, name);

	if (at == 0) {
		/* out->v has room for one more than out->n */
		if ((nv = reallocarray(out->v, out->n + 2,
		    sizeof(*nv))) == NULL)
			return -1;
		out->v = nv;
		c = &out->v[out->n];
		memset(c, 0, sizeof(*c));
		if ((c->name = strdup(name)) == NULL ||
		    strmap_puts(idx, name, (void *)(out->n + 1)) == -1)
			return -1;
		out->n++;
	} else
		c = &out->v[at - 1];
	c->packets += packets;
	c->bytes += bytes;
	return 0;
}

static int
elem_ctr_cb(struct nftnl_expr *x, void *data)
{
	uint64_t *pb = data;

	if (strcmp(nftnl_expr_get_str(x, NFTNL_EXPR_NAME), "counter") == 0) {
		pb[0] += nftnl_expr_get_u64(x, NFTNL_EXPR_CTR_PACKETS);
		pb[1] += nftnl_expr_get_u64(x, NFTNL_EXPR_CTR_BYTES);
	}
	return 0;
}

static int
group_elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gctr *g = data;
	struct nftnl_set *s;
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	const char *comment;
	const void *ud;
	uint32_t len;
	uint64_t pb[2];
	char key[1024];

	if ((s = nftnl_set_alloc()) == NULL) {
		g->err = ENOMEM;
		return MNL_CB_OK;
	}
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0 ||
	    (it = nftnl_set_elems_iter_create(s)) == NULL) {
		nftnl_set_free(s);
		return MNL_CB_OK;
	}
	for (e = nftnl_set_elems_iter_next(it); e != NULL;
	    e = nftnl_set_elems_iter_next(it)) {
		comment = NULL;
		if ((ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA,
		    &len)) != NULL)
			nftnl_udata_parse(ud, len, elem_comment_cb, &comment);
		if (comment == NULL || strlen(comment) > FWCTL_NAME_MAX)
			continue;
		pb[0] = pb[1] = 0;
		nftnl_set_elem_expr_foreach(e, elem_ctr_cb, pb);
		if (g->chain != NULL)
			snprintf(key, sizeof(key), "%.*s\n%s", (int)g->clen,
			    g->chain, comment);
		if (ctr_add(g->out, g->idx, g->chain != NULL ? key : comment,
		    pb[0], pb[1]) == -1)
			g->err = ENOMEM;
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int
group_counters(struct nft *n, const struct cset *cs, struct gctr *g)
{
	char buf[QUERY_BUF];
	struct nlmsghdr *nlh;

	if ((nlh = query_elems(n, buf, cs->name)) == NULL)
		return -1;
	return talk(n, nlh, group_elems_cb, g);
}

/*
 * Adopting a table (first apply after a restart): it is built again, but
 * every rule starts with the counters the old table had for the rule of
 * the same chain and comment (the n-th copy for the n-th copy), so a
 * restart does not reset what users see.
 */
void
seed_counters(struct nft *n, struct work *w)
{
	struct dump dp = { 0 };
	struct strmap *idx = NULL;
	size_t i, at, *nextcopy = NULL;
	char *k = NULL;
	uint32_t g;

	if (n->kept != NULL && get_genid(n, &g) == 0 && g == n->kept_gen) {
		/* what the drift check just read: the table is the same */
		dp = *n->kept;
		memset(n->kept, 0, sizeof(*n->kept));
	} else {
		dp.counters = true;
		if (dump_rules(n, &dp) == -1)
			return;
	}
	kept_free(n);
	if ((idx = strmap_new(dp.n)) == NULL ||
	    (nextcopy = calloc(dp.n + 1, sizeof(*nextcopy))) == NULL ||
	    (w->seeds == NULL && (w->seeds = calloc(w->next.nrules + 1,
	    sizeof(*w->seeds))) == NULL))
		goto out;
	/* backwards: idx ends at the first copy, nextcopy links the rest */
	for (i = dp.n; i > 0; i--) {
		if (dp.v[i - 1].comment == NULL)
			continue;
		/* a rule of a sub-chain "<chain>/<n>" is one of <chain>'s */
		seg_strip(dp.v[i - 1].chain);
		if ((k = pair_key(dp.v[i - 1].chain, dp.v[i - 1].comment)) ==
		    NULL)
			goto out;
		nextcopy[i - 1] = (size_t)strmap_gets(idx, k);
		if (strmap_puts(idx, k, (void *)i) == -1)
			goto out;
		free(k);
		k = NULL;
	}
	for (i = 0; i < w->next.nrules; i++) {
		const struct crule *r = &w->next.rules[i];

		if (r->comment == NULL)
			continue;
		if ((k = pair_key(r->chain, r->comment)) == NULL)
			goto out;
		if ((at = (size_t)strmap_gets(idx, k)) != 0) {
			w->seeds[i].packets = dp.v[at - 1].packets;
			w->seeds[i].bytes = dp.v[at - 1].bytes;
			w->seeds[i].set = true;
			if (nextcopy[at - 1] != 0)
				strmap_puts(idx, k, (void *)nextcopy[at - 1]);
			else
				strmap_del(idx, k, strlen(k));
		}
		free(k);
		k = NULL;
	}
 out:
	free(k);
	free(nextcopy);
	strmap_free(idx);
	dump_free(&dp);
}

/*
 * The kernel rules v[0..nv) of the picture as the kernel counts them now:
 * the (sub-)chains that hold them dumped, each once, into dp; at[i] the
 * position of v[i] in dp + 1, 0 when it is not there (what cannot be
 * read is left out). -1 on ENOMEM.
 */
static int
kents_read(struct nft *n, struct kent *const *v, size_t nv,
    struct dump *dp, size_t *at)
{
	struct strmap *byhandle = NULL, *segs = NULL;
	char **chains = NULL, sb[600], *dup;
	const char *sc;
	size_t i, nchains = 0, cap = 0, k;
	int rc = -1;
	static char mark;

	memset(at, 0, nv * sizeof(*at));
	dp->counters = true;
	if ((byhandle = strmap_new(nv + 1)) == NULL ||
	    (segs = strmap_new(16)) == NULL)
		goto out;
	for (i = 0; i < nv; i++) {
		if (strmap_put(byhandle, &v[i]->handle, sizeof(v[i]->handle),
		    (void *)(i + 1)) == -1)
			goto out;
		sc = seg_chain(v[i]->chain, v[i]->seg, sb, sizeof(sb));
		if (strmap_gets(segs, sc) != NULL)
			continue;
		if ((dup = strdup(sc)) == NULL ||
		    ptr_push(&chains, &nchains, &cap, dup) == -1) {
			free(dup);
			goto out;
		}
		if (strmap_puts(segs, dup, &mark) == -1)
			goto out;
	}
	if (nchains > 0 && dump_rules_in(n, chains, nchains, dp) == 0)
		for (k = 0; k < dp->n; k++)
			if ((i = (size_t)strmap_get(byhandle, &dp->v[k].handle,
			    sizeof(dp->v[k].handle))) != 0)
				at[i - 1] = k + 1;
	rc = 0;
 out:
	for (i = 0; i < nchains; i++)
		free(chains[i]);
	free(chains);
	strmap_free(byhandle);
	strmap_free(segs);
	return rc;
}

/* The counters of group set cs's elements, by their chain and rule name,
 * into old (idx: pair_key -> position + 1). A set that is gone or cannot
 * be read is left out; -1 on ENOMEM only. */
static int
set_counters(struct nft *n, const struct cset *cs, struct nft_counters *old,
    struct strmap *idx)
{
	struct gctr g = { .out = old, .idx = idx };

	if (!cs->counters || (g.clen = group_chain(cs->name, &g.chain)) == 0)
		return 0;
	if (group_counters(n, cs, &g) == -1 && g.err == 0)
		return 0;	/* gone, or unreadable: not carried */
	return g.err ? -1 : 0;
}

/*
 * The counters the kernel holds now for the elements of the group sets
 * among sets[0..nsets), by their chain and rule name, into old (idx:
 * pair_key -> position + 1). A group rule's element and the rule of the
 * same name outside a group share a key. -1 on ENOMEM only.
 */
static int
old_counters(struct nft *n, const struct cset *sets, size_t nsets,
    struct nft_counters *old, struct strmap *idx)
{
	size_t i;

	for (i = 0; i < nsets; i++)
		if (set_counters(n, &sets[i], old, idx) == -1)
			return -1;
	return 0;
}

/*
 * The counters the kernel holds now for the pair keys in want ("chain\n
 * key", listed in pv[0..npv)), into old (idx: pair key -> position + 1):
 * the kernel rules of those chains and keys, read from the (sub-)chains
 * that hold them alone, and the elements of the group sets of those
 * chains that hold an element of such a name. What a split, join or
 * rename moves, not the whole table: reading every rule and every group
 * set was a third of a whole diff's time at 50,000 mixed rules. What
 * cannot be read is left out; -1 on ENOMEM only.
 */
static int
wanted_counters(struct nft *n, const struct strmap *want, char *const *pv,
    size_t npv, struct nft_counters *old, struct strmap *idx)
{
	struct dump dp = { 0 };
	struct strmap *wchains = NULL;
	struct kent **kv = NULL, *e;
	struct kchain *c;
	char cb[600], key[1024];
	const char *key_of;
	size_t i, j, clen, nk = 0, *at = NULL;
	char *pk;
	int rc = -1, added;
	static char mark;

	if ((wchains = strmap_new(16)) == NULL ||
	    (kv = calloc(npv + 1, sizeof(*kv))) == NULL ||
	    (at = calloc(npv + 1, sizeof(*at))) == NULL)
		goto out;
	for (i = 0; i < npv; i++) {
		clen = (size_t)(strchr(pv[i], '\n') - pv[i]);
		key_of = pv[i] + clen + 1;
		if (strmap_put(wchains, pv[i], clen, &mark) == -1)
			goto out;
		if (clen >= sizeof(cb))
			continue;
		memcpy(cb, pv[i], clen);
		cb[clen] = '\0';
		if ((c = kstate_chain(&n->st, cb)) != NULL &&
		    (e = kchain_find(&n->st, c, key_of, true)) != NULL &&
		    e->handle != 0)
			kv[nk++] = e;
	}
	if (kents_read(n, kv, nk, &dp, at) == -1)
		goto out;
	for (i = 0; i < nk; i++) {
		if (at[i] == 0)
			continue;
		if ((pk = pair_key(kv[i]->chain->def.name, kv[i]->key)) ==
		    NULL)
			goto out;
		added = ctr_add(old, idx, pk, dp.v[at[i] - 1].packets,
		    dp.v[at[i] - 1].bytes);
		free(pk);
		if (added == -1)
			goto out;
	}
	/* the group sets of those chains that hold one of the names */
	for (i = 0; i < n->cur.nsets; i++) {
		const struct cset *cs = &n->cur.sets[i];
		const char *chain;

		if (!cs->counters ||
		    (clen = group_chain(cs->name, &chain)) == 0 ||
		    clen + 2 + FWCTL_NAME_MAX > sizeof(key) ||
		    strmap_get(wchains, chain, clen) == NULL)
			continue;
		memcpy(key, chain, clen);
		key[clen] = '\n';
		for (j = 0; j < cs->nelems; j++) {
			const char *cm = cs->elems[j].comment;

			if (cs->elems[j].key_len == 0 || cm == NULL ||
			    strlen(cm) > FWCTL_NAME_MAX)
				continue;
			strcpy(key + clen + 1, cm);
			if (strmap_gets(want, key) != NULL)
				break;
		}
		if (j < cs->nelems && set_counters(n, cs, old, idx) == -1)
			goto out;
	}
	rc = 0;
 out:
	free(kv);
	free(at);
	strmap_free(wchains);
	dump_free(&dp);
	return rc;
}

/* w->eseeds: the counters of old (idx) whose pair keys are in want (NULL:
 * all of them). -1 on ENOMEM. */
static int
elem_seeds(struct work *w, const struct nft_counters *old,
    const struct strmap *want)
{
	size_t i, m = 0;

	strmap_free(w->eseeds);
	free(w->eseedv);
	w->eseeds = NULL;
	if ((w->eseedv = calloc(old->n + 1, sizeof(*w->eseedv))) == NULL ||
	    (w->eseeds = strmap_new(old->n)) == NULL)
		return -1;
	for (i = 0; i < old->n; i++) {
		if (want != NULL && strmap_gets(want, old->v[i].name) == NULL)
			continue;
		w->eseedv[m].packets = old->v[i].packets;
		w->eseedv[m].bytes = old->v[i].bytes;
		w->eseedv[m].set = true;
		if (strmap_puts(w->eseeds, old->v[i].name, &w->eseedv[m++]) ==
		    -1)
			return -1;
	}
	return 0;
}

int
group_seeds(struct nft *n, const struct cset *sets, size_t nsets,
    struct strmap **seeds, struct seed **v)
{
	struct nft_counters old = { 0 };
	struct work w;
	struct strmap *idx;
	int rc = -1;

	memset(&w, 0, sizeof(w));
	*seeds = NULL;
	*v = NULL;
	if ((idx = strmap_new(64)) == NULL)
		return -1;
	if (old_counters(n, sets, nsets, &old, idx) == -1)
		goto out;
	if (old.n > 0 && elem_seeds(&w, &old, NULL) == -1) {
		strmap_free(w.eseeds);
		free(w.eseedv);
		goto out;
	}
	*seeds = w.eseeds;
	*v = w.eseedv;
	rc = 0;
 out:
	strmap_free(idx);
	nft_counters_free(&old);
	return rc;
}

/* After a restart: the elements of the group sets the new plan names
 * start with what the kernel's sets of those names counted. */
void
seed_elem_counters(struct nft *n, struct work *w)
{
	struct nft_counters old = { 0 };
	struct strmap *idx;

	if ((idx = strmap_new(64)) == NULL)
		return;
	if (old_counters(n, w->next.sets, w->next.nsets, &old, idx) == 0 &&
	    old.n > 0)
		elem_seeds(w, &old, NULL);
	strmap_free(idx);
	nft_counters_free(&old);
}

/* 1 when rule name is in both rulesets with the same matches, 0 when not,
 * -1 on ENOMEM. The name indexes are made at the first call. */
static int
rule_kept(struct nameidx **pidx, struct nameidx **nidx,
    const struct ruleset *prev, const struct ruleset *next, const char *name)
{
	const struct rule *a, *b;
	size_t i;

	if (*pidx == NULL) {
		if ((*pidx = nameidx_new(prev->nrules)) == NULL ||
		    (*nidx = nameidx_new(next->nrules)) == NULL)
			return -1;
		for (i = 0; i < prev->nrules; i++)
			if (nameidx_put(*pidx, prev->rules[i]) == -1)
				return -1;
		for (i = 0; i < next->nrules; i++)
			if (nameidx_put(*nidx, next->rules[i]) == -1)
				return -1;
	}
	a = nameidx_get(*pidx, name);
	b = nameidx_get(*nidx, name);
	return a != NULL && b != NULL && rule_same_match(a, b);
}

/* Sets the counter of name in out (idx: name -> position + 1). -1 on
 * ENOMEM. */
static int
ctr_set(struct nft_counters *out, struct strmap *idx, const char *name,
    uint64_t packets, uint64_t bytes)
{
	size_t at;

	if (ctr_add(out, idx, name, 0, 0) == -1)
		return -1;
	at = (size_t)strmap_gets(idx, name);
	out->v[at - 1].packets = packets;
	out->v[at - 1].bytes = bytes;
	return 0;
}

/* Whether pair chain c holds user rules (its own, or a group's). */
static bool
chain_has_user(const struct kchain *c)
{
	size_t k;

	for (k = 0; k < c->nsegs; k++)
		if (c->segs[k]->n > 0)
			return true;
	return false;
}

/* The pair chains of the picture before (n->st) left with no user rule of
 * their own by the build into w: a zone gone, or a chain that shares the
 * body of the `any` rules again, its own rules gone. Into *v. -1 on
 * ENOMEM. */
static int
chains_emptied(struct nft *n, const struct work *w, struct kchain ***v,
    size_t *nv)
{
	struct kchain *oc, *nc;
	size_t i, cap = 0;

	*v = NULL;
	*nv = 0;
	for (i = 0; i < n->st.n; i++) {
		oc = n->st.v[i];
		if (!oc->def.pair || !chain_has_user(oc))
			continue;
		nc = kstate_chain(&w->st, oc->def.name);
		if (nc != NULL && chain_has_user(nc))
			continue;
		if (ptr_push(v, nv, &cap, oc) == -1)
			return -1;
	}
	return 0;
}

/*
 * The counts of the copies in the chains emptied (ev[0..nev)) of rules
 * that stay, by rule name, into lost (lidx): their kernel rules (read
 * from those chains alone) and their group elements (from those chains'
 * group sets). -1 on ENOMEM.
 */
static int
lost_read(struct nft *n, struct kchain *const *ev, size_t nev,
    struct nft_counters *lost, struct strmap *lidx)
{
	struct dump dp = { 0 };
	struct nft_counters g = { 0 };
	struct strmap *gidx = NULL;
	struct kent **kv = NULL, *e;
	char nb[FWCTL_NAME_MAX + 1];
	const char *chain, *nl;
	size_t i, j, k, len, clen, nk = 0, cap = 0, *at = NULL;
	int rc = -1;

	if ((gidx = strmap_new(64)) == NULL)
		goto out;
	/* their kernel rules, but the groups' (their elements count) */
	for (i = 0; i < nev; i++)
		for (k = 0; k < ev[i]->nsegs; k++)
			for (j = 0; j < ev[i]->segs[k]->n; j++) {
				e = ev[i]->segs[k]->v[j];
				if (strncmp(e->key, GROUP_RULE_PREFIX,
				    strlen(GROUP_RULE_PREFIX)) != 0 &&
				    ptr_push(&kv, &nk, &cap, e) == -1)
					goto out;
			}
	if ((at = calloc(nk + 1, sizeof(*at))) == NULL ||
	    kents_read(n, kv, nk, &dp, at) == -1)
		goto out;
	for (i = 0; i < nk; i++) {
		if (at[i] == 0 || (len = key_name_len(kv[i]->key)) >=
		    sizeof(nb))
			continue;
		memcpy(nb, kv[i]->key, len);
		nb[len] = '\0';
		if (ctr_add(lost, lidx, nb, dp.v[at[i] - 1].packets,
		    dp.v[at[i] - 1].bytes) == -1)
			goto out;
	}
	for (i = 0; i < n->cur.nsets; i++) {
		const struct cset *cs = &n->cur.sets[i];

		if (!cs->counters || (clen = group_chain(cs->name, &chain)) ==
		    0)
			continue;
		for (j = 0; j < nev; j++)
			if (strlen(ev[j]->def.name) == clen &&
			    strncmp(ev[j]->def.name, chain, clen) == 0)
				break;
		if (j < nev && set_counters(n, cs, &g, gidx) == -1)
			goto out;
	}
	for (i = 0; i < g.n; i++)
		if ((nl = strchr(g.v[i].name, '\n')) != NULL &&
		    ctr_add(lost, lidx, nl + 1, g.v[i].packets,
		    g.v[i].bytes) == -1)
			goto out;
	rc = 0;
 out:
	free(kv);
	free(at);
	strmap_free(gidx);
	nft_counters_free(&g);
	dump_free(&dp);
	return rc;
}

/* A kept copy that takes a lost count: made again (remake) with its own
 * count and the lost one. */
struct lost_to {
	char		*pk;		/* its pair key: the seed's */
	uint64_t	 packets;	/* the lost count */
	uint64_t	 bytes;
	struct kent	*oe;		/* a kernel rule (picture before) */
	struct celem	*oel;		/* or an element of set si */
	size_t		 si;
};

/* The kept copies' own counts (kernel rules read from their sub-chains,
 * elements from their sets, each read once) plus the lost ones, as seeds
 * in old (idx); each marked to be made again. -1 on ENOMEM. */
static int
lost_to_kept(struct nft *n, struct lost_to *v, size_t nv,
    struct nft_counters *old, struct strmap *idx)
{
	struct dump dp = { 0 };
	struct nft_counters cur = { 0 };
	struct strmap *cidx = NULL, *sets = NULL;
	struct kent **kv = NULL;
	size_t i, nk = 0, *at = NULL, *of = NULL, a;
	uint64_t p, b;
	int rc = -1;
	static char mark;

	if ((cidx = strmap_new(nv + 1)) == NULL ||
	    (sets = strmap_new(16)) == NULL ||
	    (kv = calloc(nv + 1, sizeof(*kv))) == NULL ||
	    (of = calloc(nv + 1, sizeof(*of))) == NULL ||
	    (at = calloc(nv + 1, sizeof(*at))) == NULL)
		goto out;
	for (i = 0; i < nv; i++) {
		const struct cset *cs;

		if (v[i].oel == NULL) {
			of[nk] = i;
			kv[nk++] = v[i].oe;
			continue;
		}
		cs = &n->cur.sets[v[i].si];
		if (strmap_gets(sets, cs->name) != NULL)
			continue;
		if (strmap_puts(sets, cs->name, &mark) == -1 ||
		    set_counters(n, cs, &cur, cidx) == -1)
			goto out;
	}
	if (kents_read(n, kv, nk, &dp, at) == -1)
		goto out;
	for (i = 0; i < nk; i++)
		if (at[i] != 0 && ctr_add(&cur, cidx, v[of[i]].pk,
		    dp.v[at[i] - 1].packets, dp.v[at[i] - 1].bytes) == -1)
			goto out;
	for (i = 0; i < nv; i++) {
		a = (size_t)strmap_gets(cidx, v[i].pk);
		p = a != 0 ? cur.v[a - 1].packets : 0;
		b = a != 0 ? cur.v[a - 1].bytes : 0;
		if (ctr_set(old, idx, v[i].pk, p + v[i].packets,
		    b + v[i].bytes) == -1)
			goto out;
		if (v[i].oel != NULL)
			v[i].oel->remake = true;
		else
			v[i].oe->remake = true;
	}
	rc = 0;
 out:
	free(kv);
	free(of);
	free(at);
	strmap_free(cidx);
	strmap_free(sets);
	nft_counters_free(&cur);
	dump_free(&dp);
	return rc;
}

/*
 * Copies that go with nothing to take their counts over: those of the
 * pair chains emptied (ev[0..nev), chains_emptied). Each rule that stays
 * has its lost count added to another of its copies: a new one starts
 * with it (old, idx: seeds by pair key; new kernel rules are in rules[],
 * new elements go into want), a kept one is made again with its count and
 * the lost one (lost_to_kept, w->remade), so that no rule's count goes
 * down as chains share rules again or zones go. The copies are found
 * through indexes made once: a change that empties a big chain costs in
 * proportion to it. 0, -1 on ENOMEM.
 */
static int
lost_copies(struct nft *n, struct work *w, const struct ruleset *prev,
    const struct ruleset *next, struct nameidx **pidx,
    struct nameidx **nidx, struct kchain *const *ev, size_t nev,
    struct nft_counters *old, struct strmap *idx, struct strmap *want,
    size_t *rules, size_t *nr)
{
	struct nft_counters lost = { 0 };
	struct strmap *lidx = NULL, *eloc = NULL, *celem = NULL;
	const struct cplan *nx = &w->next;
	struct lost_to *kv = NULL, *t;
	struct kchain *oc;
	struct kent *e, *oe;
	const char *chain;
	const struct cset *ns, *os;
	const struct celem *nel;
	struct celem *oel;
	size_t i, j, k, clen, nk = 0, kcap = 0;
	char key[1024], skey[1024], *pk = NULL;
	int kept, rc = -1;
	static char mark;

	if ((lidx = strmap_new(64)) == NULL ||
	    lost_read(n, ev, nev, &lost, lidx) == -1)
		goto out;
	if (lost.n == 0) {
		rc = 0;
		goto out;
	}
	/* the new plan's group elements of the rules with lost counts
	 * (name -> set index << 32 | element index, + 1), and the picture's
	 * ("set\nname" -> element) */
	if ((eloc = strmap_new(lost.n)) == NULL ||
	    (celem = strmap_new(lost.n)) == NULL)
		goto out;
	for (i = 0; i < nx->nsets; i++)
		for (j = 0; nx->sets[i].counters && j < nx->sets[i].nelems;
		    j++) {
			const char *cm = nx->sets[i].elems[j].comment;

			uint64_t loc = ((uint64_t)i << 32 | j) + 1;

			if (cm != NULL && strmap_gets(lidx, cm) != NULL &&
			    strmap_gets(eloc, cm) == NULL &&
			    strmap_puts(eloc, cm, (void *)(uintptr_t)loc) == -1)
				goto out;
		}
	for (i = 0; i < n->cur.nsets; i++)
		for (j = 0; n->cur.sets[i].counters &&
		    j < n->cur.sets[i].nelems; j++) {
			struct celem *ce = &n->cur.sets[i].elems[j];

			if (ce->key_len == 0 || ce->comment == NULL ||
			    strmap_gets(lidx, ce->comment) == NULL)
				continue;
			snprintf(key, sizeof(key), "%s\n%s",
			    n->cur.sets[i].name, ce->comment);
			if (strmap_puts(celem, key, ce) == -1)
				goto out;
		}
	for (i = 0; i < lost.n; i++) {
		const char *name = lost.v[i].name;
		uint64_t lp = lost.v[i].packets, lb = lost.v[i].bytes, at;

		if ((lp == 0 && lb == 0) ||
		    (kept = rule_kept(pidx, nidx, prev, next, name)) == 0)
			continue;
		if (kept == -1)
			goto out;
		if (nk == kcap) {
			kcap = kcap ? 2 * kcap : 16;
			if ((t = reallocarray(kv, kcap, sizeof(*kv))) == NULL)
				goto out;
			kv = t;
		}
		memset(&kv[nk], 0, sizeof(kv[nk]));
		kv[nk].packets = lp;
		kv[nk].bytes = lb;
		/* a kernel rule of it after the change, else an element */
		if ((e = strmap_gets(w->st.names, name)) != NULL) {
			if ((pk = pair_key(e->chain->def.name, e->key)) ==
			    NULL)
				goto out;
			if (e->handle == 0) {
				/* new: in rules[] (it stays) */
				if (ctr_add(old, idx, pk, lp, lb) == -1)
					goto out;
			} else if ((oc = kstate_chain(&n->st,
			    e->chain->def.name)) != NULL && (oe =
			    kchain_find(&n->st, oc, e->key, true)) != NULL) {
				kv[nk].pk = pk;
				pk = NULL;
				kv[nk++].oe = oe;
				rules[(*nr)++] = e->aux;
			}
			free(pk);
			pk = NULL;
			continue;
		}
		if ((at = (uint64_t)strmap_gets(eloc, name)) == 0)
			continue;	/* no copy left */
		at--;
		ns = &nx->sets[at >> 32];
		nel = &ns->elems[at & 0xffffffff];
		clen = group_chain(ns->name, &chain);
		/* its seed's key (chain, name); the picture's element of the
		 * same set (set, name) */
		snprintf(key, sizeof(key), "%.*s\n%s", (int)clen, chain, name);
		snprintf(skey, sizeof(skey), "%s\n%s", ns->name, name);
		if (strmap_puts(want, key, &mark) == -1)
			goto out;
		os = cplan_set(&n->cur, ns->name);
		oel = os != NULL && set_same(os, ns) ? strmap_gets(celem, skey) :
		    NULL;
		if (oel == NULL || oel->key_len != nel->key_len ||
		    memcmp(oel->key, nel->key, nel->key_len) != 0) {
			/* new */
			if (ctr_add(old, idx, key, lp, lb) == -1)
				goto out;
			continue;
		}
		if ((kv[nk].pk = strdup(key)) == NULL)
			goto out;
		kv[nk].oel = oel;
		kv[nk].si = (size_t)(os - n->cur.sets);
		nk++;
	}
	if (nk > 0) {
		if (lost_to_kept(n, kv, nk, old, idx) == -1)
			goto out;
		w->remade = true;
	}
	rc = 0;
 out:
	for (k = 0; k < nk; k++)
		free(kv[k].pk);
	free(kv);
	free(pk);
	strmap_free(lidx);
	strmap_free(eloc);
	strmap_free(celem);
	nft_counters_free(&lost);
	return rc;
}

/* Adds pair key pk to all and to pv (a copy) unless there already: 0, or
 * -1 on ENOMEM. */
static int
wanted_push(struct strmap *all, char ***pv, size_t *npv, size_t *cap,
    const char *pk)
{
	static char mark;
	char *dup;

	if (strmap_gets(all, pk) != NULL)
		return 0;
	if ((dup = strdup(pk)) == NULL ||
	    ptr_push(pv, npv, cap, dup) == -1) {
		free(dup);
		return -1;
	}
	return strmap_puts(all, dup, &mark);
}

/*
 * Counters follow a rule whose kernel object is made again although the
 * rule did not change (but for its comment): a group split, joined or
 * renamed, a rule that moved. After a first build, the new objects (user
 * rules without a handle, group elements the kernel lacks) of such rules
 * look up the counters of the old objects, read now, by chain and key; a
 * rule leaving a group takes its element's count, one joining it its
 * rule's; the copies of pair chains left with no rule of their own give
 * their counts to another copy of their rule (lost_copies). 1 when
 * something was seeded (the caller builds again), 0 when nothing is to
 * carry, -1 on ENOMEM. Packets counted between the read
 * and the commit are lost to the count.
 */
int
carry_counters(struct nft *n, struct work *w, const struct ruleset *prev,
    const struct ruleset *next)
{
	const struct cplan *nx = &w->next;
	const struct cset none = { 0 };
	struct nameidx *pidx = NULL, *nidx = NULL;
	struct strmap *want = NULL, *all = NULL, *idx = NULL;
	struct nft_counters old = { 0 };
	const struct celem **ev = NULL;
	const struct crule *r;
	const char *chain;
	struct kchain **emptied = NULL;
	char **pv = NULL;
	size_t *rules = NULL, nr = 0, i, j, k, at, clen, npv = 0, pv_cap = 0;
	size_t nempty = 0;
	ssize_t m;
	char key[1024], *pk;
	int rc = -1, kept;
	static char mark;

	if (prev == NULL)
		return 0;
	if ((want = strmap_new(16)) == NULL ||
	    (all = strmap_new(16)) == NULL ||
	    (rules = calloc(nx->nrules + 1, sizeof(*rules))) == NULL)
		goto out;
	/* user rules the kernel will get anew */
	for (i = 0; i < w->st.n; i++) {
		struct kchain *c = w->st.v[i];

		for (k = 0; k < c->nsegs; k++)
			for (j = 0; j < c->segs[k]->n; j++) {
				struct kent *e = c->segs[k]->v[j];

				r = &nx->rules[e->aux];
				if (e->handle != 0 || r->name == NULL)
					continue;
				if ((kept = rule_kept(&pidx, &nidx, prev, next,
				    r->name)) == -1)
					goto out;
				if (kept)
					rules[nr++] = e->aux;
			}
	}
	/* group elements the kernel will get anew */
	for (i = 0; i < nx->nsets; i++) {
		const struct cset *ns = &nx->sets[i], *os;

		if (!ns->counters || (clen = group_chain(ns->name, &chain)) == 0)
			continue;
		os = cplan_set(&n->cur, ns->name);
		if ((m = elems_lacking(ns, os != NULL && set_same(os, ns) ? os :
		    &none, &ev)) == -1)
			goto out;
		for (j = 0; j < (size_t)m; j++) {
			if (ev[j]->comment == NULL)
				continue;
			if ((kept = rule_kept(&pidx, &nidx, prev, next,
			    ev[j]->comment)) == -1)
				goto out;
			snprintf(key, sizeof(key), "%.*s\n%s", (int)clen, chain,
			    ev[j]->comment);
			if (kept && (strmap_puts(want, key, &mark) == -1 ||
			    wanted_push(all, &pv, &npv, &pv_cap, key) == -1))
				goto out;
		}
	}
	if (chains_emptied(n, w, &emptied, &nempty) == -1)
		goto out;
	rc = 0;
	if (nr == 0 && strmap_count(want) == 0 && nempty == 0)
		goto out;
	rc = -1;
	for (i = 0; i < nr; i++) {
		r = &nx->rules[rules[i]];
		if ((pk = pair_key(r->chain, r->key)) == NULL)
			goto out;
		k = (size_t)wanted_push(all, &pv, &npv, &pv_cap, pk);
		free(pk);
		if (k == (size_t)-1)
			goto out;
	}
	if ((idx = strmap_new(64)) == NULL ||
	    wanted_counters(n, all, pv, npv, &old, idx) == -1)
		goto out;
	/* the counts of copies that go with nothing in their place */
	if (nempty > 0 && lost_copies(n, w, prev, next, &pidx, &nidx,
	    emptied, nempty, &old, idx, want, rules, &nr) == -1)
		goto out;
	if (nr > 0 && w->seeds == NULL &&
	    (w->seeds = calloc(nx->nrules + 1, sizeof(*w->seeds))) == NULL)
		goto out;
	for (i = 0; i < nr; i++) {
		r = &nx->rules[rules[i]];
		if ((pk = pair_key(r->chain, r->key)) == NULL)
			goto out;
		at = (size_t)strmap_gets(idx, pk);
		free(pk);
		if (at == 0)
			continue;
		w->seeds[rules[i]].packets = old.v[at - 1].packets;
		w->seeds[rules[i]].bytes = old.v[at - 1].bytes;
		w->seeds[rules[i]].set = true;
	}
	if (strmap_count(want) > 0 && elem_seeds(w, &old, want) == -1)
		goto out;
	rc = 1;
 out:
	for (i = 0; i < npv; i++)
		free(pv[i]);
	free(pv);
	free(emptied);
	free(rules);
	free(ev);
	nameidx_free(pidx);
	nameidx_free(nidx);
	strmap_free(want);
	strmap_free(all);
	strmap_free(idx);
	nft_counters_free(&old);
	return rc;
}

/* "name" or "name: comment"; fwctl's own rules have a space before any
 * colon ("policy lan -> wan") and no name. */
static size_t
comment_name(const char *c)
{
	size_t i;

	/* a declared policy's verdict counts under "policy FROM -> TO"
	 * (nft_counter), whatever zone pair chain it sits in */
	if (strncmp(c, "policy ", 7) == 0 && strstr(c, " -> ") != NULL)
		return strlen(c);
	for (i = 0; c[i] != '\0' && c[i] != ':'; i++)
		if (c[i] == ' ')
			return 0;
	return i;
}

int
nft_counters(struct nft *n, struct nft_counters *out, struct diags *d)
{
	struct dump dp = { 0 };
	struct strmap *idx;
	struct nft_counter *c;
	size_t i, len, at;
	char name[2 * FWCTL_NAME_MAX + 16];

	memset(out, 0, sizeof(*out));
	dp.counters = true;
	if (dump_rules(n, &dp) == -1) {
		diags_add(d, NULL, "reading counters of table inet %s: %s",
		    n->table, strerror(errno));
		return -1;
	}
	if ((idx = strmap_new(dp.n)) == NULL ||
	    (out->v = calloc(dp.n + 1, sizeof(*out->v))) == NULL)
		goto nomem;
	for (i = 0; i < dp.n; i++) {
		if (dp.v[i].comment == NULL ||
		    (len = comment_name(dp.v[i].comment)) == 0 ||
		    len >= sizeof(name))
			continue;
		memcpy(name, dp.v[i].comment, len);
		name[len] = '\0';
		/* a rule with `any` or both families has several copies */
		at = (size_t)strmap_gets(idx, name);
		if (at == 0) {
			c = &out->v[out->n];
			if ((c->name = strdup(name)) == NULL ||
			    strmap_puts(idx, name, (void *)(out->n + 1)) == -1)
				goto nomem;
			out->n++;
		} else
			c = &out->v[at - 1];
		c->packets += dp.v[i].packets;
		c->bytes += dp.v[i].bytes;
	}
	/* rules merged into groups count in their set's elements */
	for (i = 0; i < n->cur.nsets; i++) {
		struct gctr g = { .out = out, .idx = idx };

		if (!n->cur.sets[i].counters)
			continue;
		if (group_counters(n, &n->cur.sets[i], &g) == -1 &&
		    errno != ENOENT) {
			strmap_free(idx);
			dump_free(&dp);
			nft_counters_free(out);
			diags_add(d, NULL, "reading counters of set %s: %s",
			    n->cur.sets[i].name, strerror(errno));
			return -1;
		}
		if (g.err)
			goto nomem;
	}
	strmap_free(idx);
	dump_free(&dp);
	return 0;
 nomem:
	strmap_free(idx);
	dump_free(&dp);
	nft_counters_free(out);
	diags_add(d, NULL, "nft: %s", strerror(ENOMEM));
	return -1;
}

void
nft_counters_free(struct nft_counters *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
	memset(c, 0, sizeof(*c));
}
