/*
 * nft/lists.c: Lists shared between rules: named sets "__l/<content hash>"
 * made when the kernel lacks them and deleted by a whole diff when no rule
 * uses them (docs/design-compile.md, "Lists").
 */
#include "nft_int.h"

/*
 * A rule's list (ports, addresses, ICMP types) becomes a named set that
 * every rule with the same list shares, instead of an anonymous set per
 * rule: the kernel binds each new anonymous set by walking the whole
 * transaction and names it by scanning every set of the table, so a
 * table of thousands of lists cost time in the square of their number.
 * Verdict maps (zone dispatch, a few) stay anonymous: their elements
 * name chains.
 */
bool
list_shared(const struct cset *as)
{
	return (as->flags & NFT_SET_MAP) == 0;
}

/* Whether only the frame's rules (NAT entries: the zones' dispatch uses
 * maps) may use a list like as: one of interface names, which no rule of
 * the language matches. The frame's path deletes those it no longer
 * uses. */
static bool
list_frame_only(const struct cset *as)
{
	return as->key_type == CTYPE_IFNAME;
}

/* The canonical content of a list (NULL: out of memory), and its name:
 * LIST_SET_PREFIX and a 64-bit hash of the content. */
static char *
list_content(const struct cset *as, char name[24])
{
	static const char hex[] = "0123456789abcdef";
	const struct celem *e;
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */
	size_t len, o, i, j;
	char *c;

	len = 80 + as->nelems * (2 * sizeof(e->key) + 1);
	if ((c = malloc(len)) == NULL)
		return NULL;
	o = (size_t)snprintf(c, len, "%x/%u/%u/%u/%d:", as->flags &
	    ~(uint32_t)(NFT_SET_ANONYMOUS | NFT_SET_CONSTANT), as->key_type,
	    as->key_len, as->data_type, as->key_host_order);
	for (i = 0; i < as->nelems; i++) {
		e = &as->elems[i];
		for (j = 0; j < e->key_len && j < sizeof(e->key); j++) {
			c[o++] = hex[e->key[j] >> 4];
			c[o++] = hex[e->key[j] & 15];
		}
		c[o++] = e->end ? '-' : ',';
	}
	c[o] = '\0';
	for (i = 0; i < o; i++) {
		h ^= (uint8_t)c[i];
		h *= 1099511628211ULL;
	}
	snprintf(name, 24, LIST_SET_PREFIX "%016" PRIx64, h);
	return c;
}

/* The name of list as alone, into name: 0, or -1 out of memory. */
static int
list_name(const struct cset *as, char name[24])
{
	char *c;

	if ((c = list_content(as, name)) == NULL)
		return -1;
	free(c);
	return 0;
}

static void
list_remove_at(struct nft *n, size_t i)
{
	struct lset *ls = n->lsv[i];

	strmap_del(n->lsets, ls->name, strlen(ls->name));
	free(ls->content);
	free(ls);
	n->lsv[i] = n->lsv[--n->nlsv];
}

/* Every list forgotten: the table goes, or is made again. */
void
lists_reset(struct nft *n)
{
	while (n->nlsv > 0)
		list_remove_at(n, n->nlsv - 1);
}

/* A batch starts: what an unsent batch made or deleted did not happen. */
void
lists_abort(struct nft *n)
{
	size_t i = 0;

	while (i < n->nlsv) {
		n->lsv[i]->dead = false;
		if (n->lsv[i]->fresh) {
			list_remove_at(n, i);
			continue;
		}
		i++;
	}
}

/* The batch was committed. */
void
lists_commit(struct nft *n)
{
	size_t i = 0;

	while (i < n->nlsv) {
		if (n->lsv[i]->dead) {
			list_remove_at(n, i);
			continue;
		}
		if (n->lsv[i]->fresh) {
			n->lsv[i]->live = true;
			n->lsv[i]->fresh = false;
		}
		i++;
	}
}

static struct lset *
list_add(struct nft *n, const char *name, char *content)
{
	struct lset *ls, **v;
	size_t ncap;

	if (n->lsets == NULL && (n->lsets = strmap_new(64)) == NULL)
		return NULL;
	if (n->nlsv == n->lsv_cap) {
		ncap = n->lsv_cap ? 2 * n->lsv_cap : 64;
		if ((v = reallocarray(n->lsv, ncap, sizeof(*v))) == NULL)
			return NULL;
		n->lsv = v;
		n->lsv_cap = ncap;
	}
	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return NULL;
	snprintf(ls->name, sizeof(ls->name), "%s", name);
	if (strmap_puts(n->lsets, ls->name, ls) == -1) {
		free(ls);
		return NULL;
	}
	ls->content = content;
	n->lsv[n->nlsv++] = ls;
	return ls;
}

/*
 * The name of the shared set holding list as, made in this batch when the
 * kernel lacks it; "" when it cannot be shared (another list with the same
 * hash, or one this batch deletes): the caller makes it anonymous. NULL
 * on error.
 */
const char *
list_get(struct nft *n, struct batch *b, const struct cset *as,
    const char *what, const struct srcloc *loc)
{
	struct lset *ls;
	struct cset tmp;
	char name[24], *c;

	if ((c = list_content(as, name)) == NULL)
		return NULL;
	if (n->lsets != NULL && (ls = strmap_gets(n->lsets, name)) != NULL) {
		bool same = strcmp(ls->content, c) == 0 && !ls->dead;

		free(c);
		return same ? ls->name : "";
	}
	if ((ls = list_add(n, name, c)) == NULL) {
		free(c);
		return NULL;
	}
	ls->fresh = true;
	ls->frame = list_frame_only(as);
	tmp = *as;
	tmp.name = ls->name;
	tmp.flags = (as->flags & ~(uint32_t)NFT_SET_ANONYMOUS) |
	    NFT_SET_CONSTANT;
	if (emit_set(n, b, &tmp, false, ++n->set_id, what, loc, NULL) == -1)
		return NULL;
	return ls->name;
}

/* The shared lists that no rule of plan p uses (of the frame's alone
 * when frame), deleted in batch b. */
static int
lists_gc_of(struct nft *n, struct batch *b, const struct cplan *p, bool frame)
{
	struct lset *ls;
	struct cset tmp;
	char name[24];
	size_t i, j;

	if (n->nlsv == 0)
		return 0;
	for (i = 0; i < n->nlsv; i++)
		n->lsv[i]->used = false;
	for (i = 0; i < p->nrules; i++)
		for (j = 0; j < p->rules[i].nanon; j++) {
			if (!list_shared(&p->rules[i].anon[j]))
				continue;
			if (list_name(&p->rules[i].anon[j], name) == -1)
				return -1;
			if ((ls = strmap_gets(n->lsets, name)) != NULL)
				ls->used = true;
		}
	memset(&tmp, 0, sizeof(tmp));
	for (i = 0; i < n->nlsv; i++) {
		ls = n->lsv[i];
		if (!ls->live || ls->used || (frame && !ls->frame))
			continue;
		tmp.name = ls->name;
		if (emit_delset(n, b, &tmp) == -1)
			return -1;
		ls->dead = true;
	}
	return 0;
}

/*
 * After a whole diff: the shared lists no rule of plan p uses any more are
 * deleted (after the rules that used them, earlier in the batch). The
 * single-rule paths leave them, to the next whole diff or rebuild.
 */
int
lists_gc(struct nft *n, struct batch *b, const struct cplan *p)
{
	return lists_gc_of(n, b, p, false);
}

/*
 * After the frame's path (p: the frame's plan, without rules): the lists of
 * interface names it no longer uses are deleted, as the whole diff would:
 * only the frame's rules use them, so no rule outside p does.
 */
int
lists_gc_frame(struct nft *n, struct batch *b, const struct cplan *p)
{
	return lists_gc_of(n, b, p, true);
}

/*
 * Whether a list that the frame of plan before uses and that of after
 * does not is one of addresses or ports (a zone's networks), which a
 * rule may share: the frame's path would leave it, where the whole diff
 * deletes it when no rule uses it. 1 yes, 0 no, -1 out of memory.
 */
int
lists_frame_leaves(const struct cplan *before, const struct cplan *after)
{
	struct strmap *now;
	char name[24];
	size_t i, j;
	int rc = -1;
	static char mark;

	if ((now = strmap_new(16)) == NULL)
		return -1;
	for (i = 0; i < after->nrules; i++)
		for (j = 0; j < after->rules[i].nanon; j++) {
			if (!list_shared(&after->rules[i].anon[j]))
				continue;
			if (list_name(&after->rules[i].anon[j], name) == -1 ||
			    strmap_puts(now, name, &mark) == -1)
				goto out;
		}
	rc = 0;
	for (i = 0; i < before->nrules && rc == 0; i++)
		for (j = 0; j < before->rules[i].nanon && rc == 0; j++) {
			const struct cset *as = &before->rules[i].anon[j];

			if (!list_shared(as) || list_frame_only(as))
				continue;
			if (list_name(as, name) == -1) {
				rc = -1;
				break;
			}
			rc = strmap_gets(now, name) == NULL;
		}
 out:
	strmap_free(now);
	return rc;
}

/*
 * A table taken over as it stands (adopt.c): the lists of plan p are
 * among those the kernel holds, by name (klists, knames). Those no rule
 * uses (a single-rule path left them) are known by name alone, with a
 * content no list has: the next whole diff deletes them, and a rule
 * with such a list gets an anonymous set meanwhile. 1 when a list of p
 * is lacking or two lists have one hash, -1 when out of memory.
 */
int
lists_adopt(struct nft *n, const struct cplan *p, const struct strmap *klists,
    char *const *knames, size_t nknames)
{
	struct lset *ls;
	char name[24], *c;
	size_t i, j;

	lists_reset(n);
	for (i = 0; i < p->nrules; i++)
		for (j = 0; j < p->rules[i].nanon; j++) {
			if (!list_shared(&p->rules[i].anon[j]))
				continue;
			if ((c = list_content(&p->rules[i].anon[j], name)) ==
			    NULL)
				return -1;
			if (n->lsets != NULL &&
			    (ls = strmap_gets(n->lsets, name)) != NULL) {
				bool same = strcmp(ls->content, c) == 0;

				free(c);
				if (!same)
					return 1;
				continue;
			}
			if (strmap_gets(klists, name) == NULL) {
				free(c);
				return 1;
			}
			if ((ls = list_add(n, name, c)) == NULL) {
				free(c);
				return -1;
			}
			ls->live = true;
			ls->frame = list_frame_only(&p->rules[i].anon[j]);
		}
	for (i = 0; i < nknames; i++) {
		if (n->lsets != NULL &&
		    strmap_gets(n->lsets, knames[i]) != NULL)
			continue;
		if ((c = strdup("")) == NULL)
			return -1;
		if ((ls = list_add(n, knames[i], c)) == NULL) {
			free(c);
			return -1;
		}
		ls->live = true;
	}
	return 0;
}
