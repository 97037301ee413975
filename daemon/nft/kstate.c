/*
 * nft/kstate.c: The picture of the kernel's table: chains, their segments
 * (sub-chains) and rules as (key, hash, handle), and the index from rule
 * name to kernel copies.
 */
#include "nft_int.h"

static void
kseg_free(struct kseg *sg)
{
	size_t i;

	if (sg == NULL)
		return;
	for (i = 0; i < sg->n; i++) {
		free(sg->v[i]);
	}
	free(sg->v);
	free(sg);
}

static void
kchain_free(struct kchain *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nsegs; i++)
		kseg_free(c->segs[i]);
	free(c->segs);
	for (i = 0; i < c->nown; i++) {
		free(c->own[i]);
	}
	free(c->own);
	free(c->def.name);
	free(c->def.type);
	free(c);
}

void
kstate_free(struct kstate *st)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		kchain_free(st->v[i]);
	free(st->v);
	strmap_free(st->idx);
	strmap_free(st->names);
	memset(st, 0, sizeof(*st));
}

int
kstate_init(struct kstate *st, size_t nrules)
{
	memset(st, 0, sizeof(*st));
	if ((st->idx = strmap_new(64)) == NULL ||
	    (st->names = strmap_new(nrules)) == NULL) {
		kstate_free(st);
		return -1;
	}
	return 0;
}

struct kchain *
kstate_chain(const struct kstate *st, const char *name)
{
	if (st->idx == NULL)
		return NULL;
	return strmap_gets(st->idx, name);
}

/* A new chain, empty; pair chains get segment 0. */
struct kchain *
kstate_add_chain(struct kstate *st, const struct cchain *def)
{
	struct kchain *c, **nv;
	size_t ncap;

	if (st->n == st->cap) {
		ncap = st->cap ? st->cap * 2 : 16;
		if ((nv = reallocarray(st->v, ncap, sizeof(*nv))) == NULL)
			return NULL;
		st->v = nv;
		st->cap = ncap;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->def = *def;
	c->def.name = strdup(def->name);
	c->def.type = def->type != NULL ? strdup(def->type) : NULL;
	c->next_id = 1;
	if (c->def.name == NULL || (def->type != NULL && c->def.type == NULL) ||
	    strmap_puts(st->idx, def->name, c) == -1) {
		kchain_free(c);
		return NULL;
	}
	st->v[st->n++] = c;
	return c;
}

/* Takes chain c, which holds no user rule, out of the picture and frees
 * it. */
void
kstate_drop_chain(struct kstate *st, struct kchain *c)
{
	size_t i;

	for (i = 0; i < st->n && st->v[i] != c; i++)
		;
	if (i == st->n)
		return;
	memmove(&st->v[i], &st->v[i + 1], (st->n - i - 1) * sizeof(*st->v));
	st->n--;
	strmap_del(st->idx, c->def.name, strlen(c->def.name));
	kchain_free(c);
}

int
ptr_push(void *vp, size_t *n, size_t *cap, void *p)
{
	void ***v = vp, **nv;
	size_t ncap;

	if (*n == *cap) {
		ncap = *cap ? *cap * 2 : 8;
		if ((nv = reallocarray(*v, ncap, sizeof(*nv))) == NULL)
			return -1;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = p;
	return 0;
}

struct kseg *
kchain_add_seg(struct kchain *c, uint32_t id)
{
	struct kseg *sg;

	if ((sg = calloc(1, sizeof(*sg))) == NULL)
		return NULL;
	sg->id = id;
	if (ptr_push(&c->segs, &c->nsegs, &c->segs_cap, sg) == -1) {
		free(sg);
		return NULL;
	}
	return sg;
}

/* The kernel chain a segment lives in. */
const char *
seg_chain(const struct kchain *c, const struct kseg *sg, char *buf,
    size_t len)
{
	if (sg == NULL || sg->id == 0)
		return c->def.name;
	snprintf(buf, len, "%s/%u", c->def.name, sg->id);
	return buf;
}

/* The model rule name of a user rule's key ("web#4" -> "web"). */
size_t
key_name_len(const char *key)
{
	const char *h = strchr(key, '#');

	return h != NULL ? (size_t)(h - key) : strlen(key);
}

/* Puts e into chain c: into segment sg before entry 'before' (NULL: at
 * the end), or among the chain's own rules when sg is NULL. */
int
kent_link(struct kstate *st, struct kchain *c, struct kseg *sg,
    struct kent *e, struct kent *before)
{
	struct kent *h;
	size_t i, nl;
	int rc;

	rc = sg != NULL ? ptr_push(&sg->v, &sg->n, &sg->cap, e) :
	    ptr_push(&c->own, &c->nown, &c->own_cap, e);
	if (rc == -1)
		return -1;
	e->chain = c;
	e->seg = sg;
	if (sg != NULL && before != NULL) {
		for (i = 0; i + 1 < sg->n && sg->v[i] != before; i++)
			;
		if (i + 1 < sg->n) {
			memmove(&sg->v[i + 1], &sg->v[i],
			    (sg->n - 1 - i) * sizeof(*sg->v));
			sg->v[i] = e;
		}
	}
	if (sg == NULL)
		return 0;
	/* the copies of one rule, in the order they were made */
	nl = key_name_len(e->key);
	if ((h = strmap_get(st->names, e->key, nl)) == NULL)
		return strmap_put(st->names, e->key, nl, e);
	while (h->next_copy != NULL)
		h = h->next_copy;
	h->next_copy = e;
	return 0;
}

struct kent *
kent_new(const char *key)
{
	struct kent *e;
	size_t len = strlen(key);

	if ((e = calloc(1, sizeof(*e) + len + 1)) == NULL)
		return NULL;
	memcpy(e->key, key, len + 1);
	return e;
}

struct kent *
kchain_add_ent(struct kstate *st, struct kchain *c, struct kseg *sg,
    const char *key, uint64_t hash, uint64_t handle)
{
	struct kent *e;

	if ((e = kent_new(key)) == NULL)
		return NULL;
	e->hash = hash;
	e->handle = handle;
	if (kent_link(st, c, sg, e, NULL) == -1) {
		if (e->chain == NULL)
			free(e);
		return NULL;
	}
	return e;
}

/* Takes a user rule's entry out of the picture and frees it. */
void
kent_drop(struct kstate *st, struct kent *e)
{
	struct kseg *sg = e->seg;
	struct kent *h, *p;
	size_t i, nl = key_name_len(e->key);

	for (i = 0; i < sg->n && sg->v[i] != e; i++)
		;
	if (i < sg->n) {
		memmove(&sg->v[i], &sg->v[i + 1],
		    (sg->n - i - 1) * sizeof(*sg->v));
		sg->n--;
	}
	h = strmap_get(st->names, e->key, nl);
	if (h == e) {
		if (e->next_copy != NULL)
			strmap_put(st->names, e->key, nl, e->next_copy);
		else
			strmap_del(st->names, e->key, nl);
	} else
		for (p = h; p != NULL; p = p->next_copy)
			if (p->next_copy == e) {
				p->next_copy = e->next_copy;
				break;
			}
	free(e);
}

/* The entry of chain c with this key: user rules through the names
 * index, fwctl's own (a few per chain) by a walk. */
struct kent *
kchain_find(const struct kstate *st, const struct kchain *c,
    const char *key, bool user)
{
	struct kent *e;
	size_t i;

	if (user) {
		for (e = strmap_get(st->names, key, key_name_len(key));
		    e != NULL; e = e->next_copy)
			if (e->chain == c && strcmp(e->key, key) == 0)
				return e;
		return NULL;
	}
	for (i = 0; i < c->nown; i++)
		if (strcmp(c->own[i]->key, key) == 0)
			return c->own[i];
	return NULL;
}

void
state_clear(struct nft *n)
{
	cur_eidx_free(n);
	kstate_free(&n->st);
	cplan_free(&n->cur);
	compile_pairs_free(n->pairs);
	n->pairs = NULL;
	n->have = false;
}
