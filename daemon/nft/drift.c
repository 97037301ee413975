/*
 * nft/drift.c: Drift: the kernel's table read back (no write) and compared
 * with what the ruleset compiles to, object by object, in words a user
 * knows.
 */
#include "nft_int.h"

/* --- drift: the kernel's table against the ruleset ---------------------- */

#define DRIFT_MAX	200	/* lines reported; then "and N more" */
#define XATTR_MAX	32	/* above every NFTA_<expr>_MAX used */

/* A set as the kernel holds it, in plan terms. */
struct dset {
	struct cset	 s;
	bool		 anon;
	bool		 read;		/* elements dumped */
};

/* A chain as the kernel holds it. */
struct dchain {
	char		*name;
	char		*type;
	bool		 base;
	uint32_t	 hook;
	int32_t		 prio;
	uint32_t	 policy;
	bool		 ours;		/* a chain (or sub-chain) of the plan */
};

/* One comparable unit of a set: a key, or an interval, with its verdict
 * and comment. */
struct unit {
	char		*key;		/* canonical, for comparison */
	const char	*comment;	/* the element's (not owned) */
	bool		 may_go;	/* it has a timeout: may expire */
	bool		 range;		/* lo .. hi; else lo alone */
	uint8_t		 lo[32];	/* for unit_text, when reported */
	uint8_t		 hi[32];
};

struct units {
	struct unit	*v;
	size_t		 n;
};

struct dctx {
	struct nft		*n;
	struct nft_drift	*out;
	struct strmap		*said;		/* lines already reported */
	size_t			 more;		/* lines beyond DRIFT_MAX */
	int			 err;
	struct dchain		*chains;
	size_t			 nchains;
	size_t			 chains_cap;
	struct dset		*sets;
	size_t			 nsets;
	size_t			 sets_cap;
	struct strmap		*setidx;	/* name -> index + 1 */
	char			*xbuf;		/* scratch message (MSG_ROOM) */
	bool			 lossy;		/* an element with a timeout
						 * lacking: no drift, but not
						 * the table as compiled */
};

/* The kernel's rules against the plan's, for an adoption (adopt.c). */
struct drule {
	size_t		*at_of;		/* by plan rule: its kernel rule */
	const char	**jump_to;	/* by kernel rule: a layout jump's
					 * sub-chain */
};

static void
drift_say(struct dctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct delems {
	struct dset	*ds;
	int		 err;
};

/* --- drift: set elements as units ---------------------------------------- */

/* --- drift: rules ---------------------------------------------------------- */

/* --- drift: the comparison ------------------------------------------------ */

static void
drift_say(struct dctx *x, const char *fmt, ...)
{
	static char mark;
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1) {
		va_end(ap);
		x->err = ENOMEM;
		return;
	}
	va_end(ap);
	/* one object in several chains or families is said once */
	if (strmap_gets(x->said, s) != NULL) {
		free(s);
		return;
	}
	if (strmap_puts(x->said, s, &mark) == -1) {
		free(s);
		x->err = ENOMEM;
		return;
	}
	/* out->v has room for DRIFT_MAX lines and "and N more" */
	if (x->out->n >= DRIFT_MAX) {
		free(s);
		x->more++;
	} else
		x->out->v[x->out->n++] = s;
}

void
nft_drift_free(struct nft_drift *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static void
dset_free(struct dset *ds)
{
	size_t i;

	for (i = 0; i < ds->s.nelems; i++) {
		free(ds->s.elems[i].chain);
		free(ds->s.elems[i].comment);
	}
	free(ds->s.elems);
	free(ds->s.name);
}

static void
dctx_free(struct dctx *x)
{
	size_t i;

	for (i = 0; i < x->nchains; i++) {
		free(x->chains[i].name);
		free(x->chains[i].type);
	}
	free(x->chains);
	for (i = 0; i < x->nsets; i++)
		dset_free(&x->sets[i]);
	free(x->sets);
	strmap_free(x->setidx);
	strmap_free(x->said);
	free(x->xbuf);
}

static int
dchain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dctx *x = data;
	struct nftnl_chain *c;
	struct dchain *dc, *nv;
	const char *type;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWCHAIN)
		return MNL_CB_OK;
	if ((c = nftnl_chain_alloc()) == NULL) {
		x->err = ENOMEM;
		return MNL_CB_OK;
	}
	/* the kernel dumps the chains of every table */
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0 ||
	    !nftnl_chain_is_set(c, NFTNL_CHAIN_NAME) ||
	    !nftnl_chain_is_set(c, NFTNL_CHAIN_TABLE) ||
	    strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE),
	    x->n->table) != 0)
		goto out;
	if (x->nchains == x->chains_cap) {
		size_t ncap = x->chains_cap ? x->chains_cap * 2 : 32;

		if ((nv = reallocarray(x->chains, ncap, sizeof(*nv))) ==
		    NULL) {
			x->err = ENOMEM;
			goto out;
		}
		x->chains = nv;
		x->chains_cap = ncap;
	}
	dc = &x->chains[x->nchains];
	memset(dc, 0, sizeof(*dc));
	if ((dc->name = strdup(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME))) ==
	    NULL) {
		x->err = ENOMEM;
		goto out;
	}
	x->nchains++;
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		dc->base = true;
		dc->hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		dc->prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		dc->policy = nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY);
		type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
		if (type != NULL && (dc->type = strdup(type)) == NULL)
			x->err = ENOMEM;
	}
 out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

/* What each element of set cs gets, in nft's words, into buf. */
static const char *
elem_exprs_text(const struct cset *cs, char *buf, size_t len)
{
	if (cs->limit_rate == UINT64_MAX)
		snprintf(buf, len, "a statement fwctl does not make");
	else if (cs->limit_rate != 0)
		snprintf(buf, len, "\"limit rate %" PRIu64 "/%" PRIu64 "s "
		    "burst %u packets\"%s", cs->limit_rate, cs->limit_unit,
		    cs->limit_burst, cs->counters ? " and a counter" : "");
	else
		snprintf(buf, len, "%s", cs->counters ? "a counter" :
		    "nothing");
	return buf;
}

/* What a set's elements each get: a counter, a limit. */
static int
dset_expr_cb(struct nftnl_expr *x, void *data)
{
	struct dset *ds = data;
	const char *name = nftnl_expr_get_str(x, NFTNL_EXPR_NAME);

	if (strcmp(name, "counter") == 0) {
		ds->s.counters = true;
	} else if (strcmp(name, "limit") == 0) {
		ds->s.limit_rate = nftnl_expr_get_u64(x, NFTNL_EXPR_LIMIT_RATE);
		ds->s.limit_unit = nftnl_expr_get_u64(x, NFTNL_EXPR_LIMIT_UNIT);
		ds->s.limit_burst = nftnl_expr_get_u32(x,
		    NFTNL_EXPR_LIMIT_BURST);
		/* a byte rate or an inverted limit is no fwctl limit */
		if (nftnl_expr_get_u32(x, NFTNL_EXPR_LIMIT_TYPE) !=
		    NFT_LIMIT_PKTS ||
		    nftnl_expr_get_u32(x, NFTNL_EXPR_LIMIT_FLAGS) != 0)
			ds->s.limit_rate = UINT64_MAX;
	} else
		ds->s.limit_rate = UINT64_MAX;	/* none of ours */
	return 0;
}

static int
dset_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dctx *x = data;
	struct nftnl_set *s;
	struct dset *ds, *nv;
	const char *name;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSET)
		return MNL_CB_OK;
	if ((s = nftnl_set_alloc()) == NULL) {
		x->err = ENOMEM;
		return MNL_CB_OK;
	}
	if (nftnl_set_nlmsg_parse(nlh, s) < 0 ||
	    (name = nftnl_set_get_str(s, NFTNL_SET_NAME)) == NULL ||
	    !nftnl_set_is_set(s, NFTNL_SET_TABLE) ||
	    strcmp(nftnl_set_get_str(s, NFTNL_SET_TABLE), x->n->table) != 0)
		goto out;
	if (x->nsets == x->sets_cap) {
		size_t ncap = x->sets_cap ? x->sets_cap * 2 : 32;

		if ((nv = reallocarray(x->sets, ncap, sizeof(*nv))) == NULL) {
			x->err = ENOMEM;
			goto out;
		}
		x->sets = nv;
		x->sets_cap = ncap;
	}
	ds = &x->sets[x->nsets];
	memset(ds, 0, sizeof(*ds));
	if ((ds->s.name = strdup(name)) == NULL) {
		x->err = ENOMEM;
		goto out;
	}
	x->nsets++;
	ds->s.flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
	ds->s.key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
	ds->s.key_len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
	if (nftnl_set_is_set(s, NFTNL_SET_DESC_CONCAT)) {
		const uint8_t *fl;
		uint32_t flen = 0;

		fl = nftnl_set_get_data(s, NFTNL_SET_DESC_CONCAT, &flen);
		if (fl != NULL && flen <= sizeof(ds->s.field_len)) {
			memcpy(ds->s.field_len, fl, flen);
			ds->s.nfields = (uint8_t)flen;
		}
	}
	if (nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE))
		ds->s.data_type = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
	if (nftnl_set_is_set(s, NFTNL_SET_TIMEOUT))
		ds->s.timeout_ms = nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT);
	ds->anon = (ds->s.flags & NFT_SET_ANONYMOUS) != 0;
	nftnl_set_expr_foreach(s, dset_expr_cb, ds);
 out:
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int
delem_add(struct dset *ds, struct nftnl_set_elem *e)
{
	struct celem *ce, *nv;
	const void *p;
	const char *comment = NULL, *chain;
	uint32_t len;

	if (ds->s.nelems == ds->s.elems_cap) {
		size_t ncap = ds->s.elems_cap ? ds->s.elems_cap * 2 : 16;

		if ((nv = reallocarray(ds->s.elems, ncap, sizeof(*nv))) ==
		    NULL)
			return -1;
		ds->s.elems = nv;
		ds->s.elems_cap = ncap;
	}
	ce = &ds->s.elems[ds->s.nelems];
	memset(ce, 0, sizeof(*ce));
	if ((p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len)) != NULL) {
		ce->key_len = len < sizeof(ce->key) ? len : sizeof(ce->key);
		memcpy(ce->key, p, ce->key_len);
	}
	if ((p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &len)) !=
	    NULL) {
		ce->ranged = true;
		memcpy(ce->key_end, p, len < sizeof(ce->key_end) ? len :
		    sizeof(ce->key_end));
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
		ce->end = (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) &
		    NFT_SET_ELEM_INTERVAL_END) != 0;
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT))
		ce->verdict = (int)nftnl_set_elem_get_u32(e,
		    NFTNL_SET_ELEM_VERDICT);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT))
		ce->timeout_ms = nftnl_set_elem_get_u64(e,
		    NFTNL_SET_ELEM_TIMEOUT);
	ds->s.nelems++;
	if ((chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN)) !=
	    NULL && (ce->chain = strdup(chain)) == NULL)
		return -1;
	if ((p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len)) !=
	    NULL)
		nftnl_udata_parse(p, len, elem_comment_cb, &comment);
	if (comment != NULL && (ce->comment = strdup(comment)) == NULL)
		return -1;
	return 0;
}

static int
delem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct delems *de = data;
	struct nftnl_set *s;
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	if ((s = nftnl_set_alloc()) == NULL) {
		de->err = ENOMEM;
		return MNL_CB_OK;
	}
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0 ||
	    (it = nftnl_set_elems_iter_create(s)) == NULL) {
		nftnl_set_free(s);
		return MNL_CB_OK;
	}
	for (e = nftnl_set_elems_iter_next(it); e != NULL;
	    e = nftnl_set_elems_iter_next(it))
		if (delem_add(de->ds, e) == -1)
			de->err = ENOMEM;
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

/* The kernel set of that name with its elements, or NULL. */
static struct dset *
dset_get(struct dctx *x, const char *name)
{
	struct delems de = { 0 };
	struct nlmsghdr *nlh;
	struct dset *ds;
	size_t at = (size_t)strmap_gets(x->setidx, name);
	char buf[QUERY_BUF];

	if (at == 0)
		return NULL;
	ds = &x->sets[at - 1];
	if (ds->read)
		return ds;
	if ((nlh = query_elems(x->n, buf, name)) == NULL) {
		x->err = ENOMEM;
		return NULL;
	}
	de.ds = ds;
	if (talk(x->n, nlh, delem_cb, &de) == -1 && errno != ENOENT)
		x->err = errno ? errno : EIO;
	if (de.err)
		x->err = de.err;
	ds->read = true;
	return ds;
}

/* Reads chains and sets (not yet their elements) of the table. */
static int
drift_read(struct dctx *x)
{
	char buf[QUERY_BUF];
	struct nlmsghdr *nlh;
	size_t i;

	if ((nlh = query_chains(x->n, buf)) == NULL ||
	    talk(x->n, nlh, dchain_cb, x) == -1)
		return -1;
	if ((nlh = query_sets(x->n, buf)) == NULL ||
	    talk(x->n, nlh, dset_cb, x) == -1)
		return -1;
	if (x->err) {
		errno = x->err;
		return -1;
	}
	if ((x->setidx = strmap_new(x->nsets)) == NULL)
		return -1;
	for (i = 0; i < x->nsets; i++)
		if (strmap_puts(x->setidx, x->sets[i].s.name,
		    (void *)(i + 1)) == -1)
			return -1;
	return 0;
}

static int
celem_cmp(const void *a, const void *b)
{
	const struct celem *x = *(const struct celem *const *)a;
	const struct celem *y = *(const struct celem *const *)b;
	int c = memcmp(x->key, y->key, sizeof(x->key));

	if (c != 0)
		return c;
	/* an interval's end before the next one's start at the same key */
	return (int)y->end - (int)x->end;
}

static void
key_dec(uint8_t *k, size_t len)
{
	while (len-- > 0)
		if (k[len]-- != 0)
			break;
}

/* A key as nft writes it; a concatenation field by field ("10.50.0.2 .
 * 22"), each field padded to 4 bytes as the kernel keeps them. */
static void
key_text(const struct cset *s, const struct celem *e, char *buf, size_t len)
{
	uint32_t sub[6], kt = s->key_type;
	struct cset one;
	struct celem f;
	size_t nsub = 0, i, at = 0, flen, o = 0;
	char fb[100];

	if (kt < (1u << 6) || s->key_len > sizeof(e->key)) {
		cplan_elem_format(s, e, buf, len);
		return;
	}
	for (; kt != 0 && nsub < 6; kt >>= 6)
		sub[nsub++] = kt & 0x3f;
	buf[0] = '\0';
	memset(&one, 0, sizeof(one));
	for (i = nsub; i-- > 0;) {
		one.key_type = sub[i];
		flen = sub[i] == CTYPE_IPV4 ? 4 : sub[i] == CTYPE_PORT ? 2 :
		    sub[i] == CTYPE_ICMP || sub[i] == CTYPE_ICMPV6 ||
		    sub[i] == CTYPE_NFPROTO || sub[i] == CTYPE_INETPROTO ?
		    1 : 16;
		if (at + flen > s->key_len || o >= len)
			break;
		memset(&f, 0, sizeof(f));
		memcpy(f.key, e->key + at, flen);
		f.key_len = (uint32_t)flen;
		one.key_len = (uint32_t)flen;
		cplan_elem_format(&one, &f, fb, sizeof(fb));
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
		    o ? " . " : "", fb);
		at += (flen + 3) / 4 * 4;
	}
}

static void
units_free(struct units *u)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		free(u->v[i].key);
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* Unit u of set s as a user reads it ("10.0.0.0-10.0.0.255"), into buf:
 * made only for the units a drift names. */
static const char *
unit_text(const struct cset *s, const struct unit *u, char *buf, size_t len)
{
	struct celem e;
	size_t o, kl = s->key_len < 32 ? s->key_len : 32;

	memset(&e, 0, sizeof(e));
	e.key_len = (uint16_t)kl;
	memcpy(e.key, u->lo, kl);
	key_text(s, &e, buf, len);
	o = strlen(buf);
	if (u->range && memcmp(u->lo, u->hi, kl) != 0 && o + 2 < len) {
		buf[o++] = '-';
		memcpy(e.key, u->hi, kl);
		key_text(s, &e, buf + o, len - o);
	}
	return buf;
}

/*
 * A set's elements as units that do not depend on how the set stores
 * them: [low, high] per key or interval (a hash set's key k is [k, k], an
 * interval set's start and end are [start, end - 1]), each with its
 * verdict and comment. The key is built by hand: a restart compares every
 * element of the table (50,000 at 50,000 mixed rules).
 */
static int
set_units(const struct cset *s, struct units *u)
{
	const struct celem **v;
	struct celem lo, hi;
	char kb[1 + 2 * (2 * 32 + 1) + 24 + 600 + 256 + 4], *p;
	size_t i, len = s->key_len < 32 ? s->key_len : 32, cl;
	bool range, interval = (s->flags & NFT_SET_INTERVAL) != 0;
	int verdict;

	memset(u, 0, sizeof(*u));
	if (s->nelems == 0)
		return 0;
	if ((v = calloc(s->nelems, sizeof(*v))) == NULL ||
	    (u->v = calloc(s->nelems, sizeof(*u->v))) == NULL) {
		free(v);
		return -1;
	}
	for (i = 0; i < s->nelems; i++)
		v[i] = &s->elems[i];
	qsort(v, s->nelems, sizeof(*v), celem_cmp);
	for (i = 0; i < s->nelems; i++) {
		lo = *v[i];
		lo.timeout_ms = 0;
		hi = lo;
		hi.chain = NULL;
		range = false;
		if (lo.ranged) {
			range = true;
			memcpy(hi.key, lo.key_end, sizeof(hi.key));
		} else if (interval && !lo.end) {
			range = true;
			if (i + 1 < s->nelems && v[i + 1]->end) {
				memcpy(hi.key, v[i + 1]->key, sizeof(hi.key));
				key_dec(hi.key, len);
				i++;
			} else
				memset(hi.key, 0xff, len);
		}
		/* "[E]lo-hi|verdict|chain|comment" */
		p = kb;
		if (v[i]->end && !range)
			*p++ = 'E';
		p += hex_text(p, lo.key, len);
		*p++ = '-';
		p += hex_text(p, hi.key, len);
		verdict = lo.chain != NULL || (s->flags & NFT_SET_MAP) ?
		    lo.verdict : 0;
		p += snprintf(p, 24, "|%d|", verdict);
		if (lo.chain != NULL) {
			cl = strnlen(lo.chain, 600 - 1);
			memcpy(p, lo.chain, cl);
			p += cl;
		}
		*p++ = '|';
		cl = lo.comment != NULL ? strnlen(lo.comment, 256 - 1) : 0;
		memcpy(p, lo.comment != NULL ? lo.comment : "", cl);
		p[cl] = '\0';
		if ((u->v[u->n].key = strdup(kb)) == NULL) {
			free(v);
			units_free(u);
			return -1;
		}
		u->v[u->n].comment = lo.comment;
		u->v[u->n].may_go = lo.timeout_ms != 0 || v[i]->timeout_ms != 0 ||
		    s->timeout_ms != 0;
		u->v[u->n].range = range;
		memcpy(u->v[u->n].lo, lo.key, len);
		memcpy(u->v[u->n].hi, hi.key, len);
		u->n++;
	}
	free(v);
	return 0;
}

/* Units of a that b lacks (by key, counting duplicates), as flags. */
static int
units_lacking(const struct units *a, const struct units *b, char *lack)
{
	struct strmap *m;
	size_t i, c;

	if ((m = strmap_new(b->n + 1)) == NULL)
		return -1;
	for (i = 0; i < b->n; i++) {
		c = (size_t)strmap_gets(m, b->v[i].key);
		if (strmap_puts(m, b->v[i].key, (void *)(c + 1)) == -1) {
			strmap_free(m);
			return -1;
		}
	}
	for (i = 0; i < a->n; i++) {
		c = (size_t)strmap_gets(m, a->v[i].key);
		lack[i] = c == 0;
		if (c > 0 && strmap_puts(m, a->v[i].key, (void *)(c - 1)) ==
		    -1) {
			strmap_free(m);
			return -1;
		}
	}
	strmap_free(m);
	return 0;
}

/* Same elements (keys, intervals, verdicts, comments). */
static int
sets_same_elems(const struct cset *a, const struct cset *b)
{
	struct units ua, ub;
	char *lack = NULL;
	size_t i;
	int same = -1;

	if (set_units(a, &ua) == -1)
		return -1;
	if (set_units(b, &ub) == -1) {
		units_free(&ua);
		return -1;
	}
	if (ua.n != ub.n) {
		same = 0;
		goto out;
	}
	if ((lack = calloc(ua.n + 1, 1)) == NULL ||
	    units_lacking(&ua, &ub, lack) == -1)
		goto out;
	same = 1;
	for (i = 0; i < ua.n; i++)
		if (lack[i])
			same = 0;
 out:
	free(lack);
	units_free(&ua);
	units_free(&ub);
	return same;
}

static int
xattr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type < XATTR_MAX)
		tb[type] = a;
	return MNL_CB_OK;
}

/* Name and attributes of one expression (an NFTA_LIST_ELEM). */
static const char *
xparse(const struct nlattr *el, const struct nlattr **tb)
{
	const struct nlattr *top[XATTR_MAX];

	memset(top, 0, sizeof(top));
	memset(tb, 0, XATTR_MAX * sizeof(*tb));
	if (mnl_attr_parse_nested(el, xattr_cb, top) < 0 ||
	    top[NFTA_EXPR_NAME] == NULL ||
	    mnl_attr_validate(top[NFTA_EXPR_NAME], MNL_TYPE_NUL_STRING) < 0)
		return NULL;
	if (top[NFTA_EXPR_DATA] != NULL &&
	    mnl_attr_parse_nested(top[NFTA_EXPR_DATA], xattr_cb, tb) < 0)
		return NULL;
	return mnl_attr_get_str(top[NFTA_EXPR_NAME]);
}

/* The attributes of expression x that name a register (zero-ended), or
 * NULL: looked up once per expression, not per attribute. */
static const uint16_t *
xregs(const char *x)
{
	static const struct {
		const char	*x;
		uint16_t	 t[5];
	} regs[] = {
		{ "meta", { NFTA_META_DREG, NFTA_META_SREG } },
		{ "payload", { NFTA_PAYLOAD_DREG, NFTA_PAYLOAD_SREG } },
		{ "ct", { NFTA_CT_DREG, NFTA_CT_SREG } },
		{ "bitwise", { NFTA_BITWISE_SREG, NFTA_BITWISE_DREG } },
		{ "cmp", { NFTA_CMP_SREG } },
		{ "range", { NFTA_RANGE_SREG } },
		{ "lookup", { NFTA_LOOKUP_SREG, NFTA_LOOKUP_DREG } },
		{ "immediate", { NFTA_IMMEDIATE_DREG } },
		{ "nat", { NFTA_NAT_REG_ADDR_MIN, NFTA_NAT_REG_ADDR_MAX,
		    NFTA_NAT_REG_PROTO_MIN, NFTA_NAT_REG_PROTO_MAX } },
		{ "fib", { NFTA_FIB_DREG } },
	};
	size_t i;

	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (strcmp(regs[i].x, x) == 0)
			return regs[i].t;
	return NULL;
}

/* Whether attribute t is one of the registers rt names. */
static bool
xreg(const uint16_t *rt, uint16_t t)
{
	for (; rt != NULL && *rt != 0; rt++)
		if (*rt == t)
			return true;
	return false;
}

/* A register as the kernel keeps it: NFT_REG_1 and NFT_REG32_00 are one
 * (the kernel lists both the first way). */
static uint32_t
reg_norm(const struct nlattr *a)
{
	uint32_t r;

	if (mnl_attr_get_payload_len(a) != 4)
		return UINT32_MAX;
	r = ntohl(mnl_attr_get_u32(a));
	return r >= NFT_REG32_00 ? r - NFT_REG32_00 + 4 : r * 4;
}

static bool
attr_zero(const struct nlattr *a)
{
	const uint8_t *p = mnl_attr_get_payload(a);
	size_t i, len = mnl_attr_get_payload_len(a);

	for (i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Attribute a as we write it against b as the kernel lists it: the same
 * values, nest by nest (we mark every nest NLA_F_NESTED, the kernel not
 * all of them; padding is not compared). */
static bool
attr_same(const struct nlattr *a, const struct nlattr *b, int depth)
{
	const struct nlattr *ca, *cb;
	uint16_t la = mnl_attr_get_payload_len(a);

	if (la != mnl_attr_get_payload_len(b))
		return false;
	if (!(a->nla_type & NLA_F_NESTED) || depth > 4)
		return memcmp(mnl_attr_get_payload(a), mnl_attr_get_payload(b),
		    la) == 0;
	cb = mnl_attr_get_payload(b);
	mnl_attr_for_each_nested(ca, a) {
		if (!mnl_attr_ok(cb, (int)((const char *)b + b->nla_len -
		    (const char *)cb)) ||
		    mnl_attr_get_type(ca) != mnl_attr_get_type(cb) ||
		    !attr_same(ca, cb, depth + 1))
			return false;
		cb = mnl_attr_next(cb);
	}
	return !mnl_attr_ok(cb, (int)((const char *)b + b->nla_len -
	    (const char *)cb));
}

/* A nat expression's flags with those the kernel adds for the registers
 * given. */
static uint32_t
nat_flags(const struct nlattr *const *tb)
{
	uint32_t f = 0;

	if (tb[NFTA_NAT_FLAGS] != NULL &&
	    mnl_attr_get_payload_len(tb[NFTA_NAT_FLAGS]) == 4)
		f = ntohl(mnl_attr_get_u32(tb[NFTA_NAT_FLAGS]));
	if (tb[NFTA_NAT_REG_ADDR_MIN] != NULL)
		f |= NF_NAT_RANGE_MAP_IPS;
	if (tb[NFTA_NAT_REG_PROTO_MIN] != NULL)
		f |= NF_NAT_RANGE_PROTO_SPECIFIED;
	return f;
}

/* Does the kernel's anonymous set (named in a) hold what as holds? */
static bool
anon_same(struct dctx *x, const struct nlattr *a, const struct cset *as)
{
	struct dset *ds;

	if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0 ||
	    (ds = dset_get(x, mnl_attr_get_str(a))) == NULL ||
	    (!ds->anon && strncmp(ds->s.name, LIST_SET_PREFIX,
	    strlen(LIST_SET_PREFIX)) != 0))
		return false;
	return sets_same_elems(&ds->s, as) == 1;
}

/*
 * One expression we would send (mine, written by put_expr) against the
 * kernel's: every attribute we send must come back equal (registers as
 * the kernel keeps them, an anonymous set by its elements), or be zero
 * where the kernel leaves it out; counters' values do not count; what
 * the kernel adds must be its default (zero, or the log level warning).
 */
static bool
expr_same(struct dctx *x, const struct crule *r, const struct cexpr *ce,
    const struct nlattr *mine, const struct nlattr *theirs)
{
	const struct nlattr *ta[XATTR_MAX], *tb[XATTR_MAX];
	const char *na, *nb;
	const uint16_t *rt;
	uint16_t t;
	bool nat, lookup, islog;

	if ((na = xparse(mine, ta)) == NULL ||
	    (nb = xparse(theirs, tb)) == NULL || strcmp(na, nb) != 0)
		return false;
	if (strcmp(na, "counter") == 0)
		return true;
	/* the name once, not per attribute (a restart compares every
	 * expression of the table) */
	nat = strcmp(na, "nat") == 0;
	lookup = strcmp(na, "lookup") == 0;
	islog = strcmp(na, "log") == 0;
	rt = xregs(na);
	if (nat && nat_flags(ta) != nat_flags(tb))
		return false;
	for (t = 1; t < XATTR_MAX; t++) {
		if (ta[t] == NULL && tb[t] == NULL)
			continue;
		if (nat && t == NFTA_NAT_FLAGS)
			continue;
		if (ta[t] == NULL) {
			if (attr_zero(tb[t]))
				continue;
			if (islog && t == NFTA_LOG_LEVEL &&
			    mnl_attr_get_payload_len(tb[t]) == 4 &&
			    ntohl(mnl_attr_get_u32(tb[t])) == 4)
				continue;
			return false;
		}
		if (lookup && t == NFTA_LOOKUP_SET_ID)
			continue;
		if (tb[t] == NULL) {
			/* the kernel leaves out what does not apply (the
			 * code of a TCP reset) */
			if (attr_zero(ta[t]))
				continue;
			return false;
		}
		if (lookup && t == NFTA_LOOKUP_SET && ce->set == NULL &&
		    ce->set_anon > 0 && (size_t)ce->set_anon <= r->nanon) {
			if (!anon_same(x, tb[t], &r->anon[ce->set_anon - 1]))
				return false;
			continue;
		}
		if (xreg(rt, t)) {
			if (reg_norm(ta[t]) != reg_norm(tb[t]))
				return false;
			continue;
		}
		if (!attr_same(ta[t], tb[t], 0))
			return false;
	}
	return true;
}

/* The kernel rule k holds exactly what r compiles to. */
static bool
rule_same(struct dctx *x, const struct crule *r, const struct dumped *k)
{
	struct nlmsghdr *nlh;
	struct nlattr *list;
	const struct nlattr *a, *b;
	uint32_t *ids;
	size_t i = 0;
	bool same = true;

	if (k->exprs == NULL)
		return r->nexprs == 0;
	if ((ids = calloc(r->nanon + 1, sizeof(*ids))) == NULL) {
		x->err = ENOMEM;
		return false;
	}
	nlh = mnl_nlmsg_put_header(x->xbuf);
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	for (i = 0; i < r->nexprs; i++)
		put_expr(nlh, r, &r->exprs[i], NULL, ids, NULL);
	mnl_attr_nest_end(nlh, list);
	free(ids);
	b = k->exprs;
	i = 0;
	mnl_attr_for_each_nested(a, list) {
		if (!mnl_attr_ok(b, (int)((const char *)k->exprs +
		    k->exprs_len - (const char *)b)) ||
		    !expr_same(x, r, &r->exprs[i], a, b)) {
			same = false;
			break;
		}
		b = mnl_attr_next(b);
		i++;
	}
	/* nothing more in the kernel's */
	if (same && mnl_attr_ok(b, (int)((const char *)k->exprs +
	    k->exprs_len - (const char *)b)))
		same = false;
	return same;
}

/* What a payload or meta expression loads, in nft's words; NULL for
 * what nft does not show (the family check before an address). */
static const char *
xload(const char *x, const struct nlattr *const *tb)
{
	uint32_t base, off, key;

	if (strcmp(x, "payload") == 0 && tb[NFTA_PAYLOAD_BASE] != NULL &&
	    tb[NFTA_PAYLOAD_OFFSET] != NULL) {
		base = ntohl(mnl_attr_get_u32(tb[NFTA_PAYLOAD_BASE]));
		off = ntohl(mnl_attr_get_u32(tb[NFTA_PAYLOAD_OFFSET]));
		if (base == NFT_PAYLOAD_NETWORK_HEADER)
			return off == 12 ? "ip saddr" : off == 16 ? "ip daddr" :
			    off == 8 ? "ip6 saddr" : off == 24 ? "ip6 daddr" :
			    "network header";
		if (base == NFT_PAYLOAD_TRANSPORT_HEADER)
			return off == 0 ? "th sport" : off == 2 ? "th dport" :
			    "transport header";
		return "payload";
	}
	if (strcmp(x, "meta") == 0 && tb[NFTA_META_KEY] != NULL) {
		key = ntohl(mnl_attr_get_u32(tb[NFTA_META_KEY]));
		return key == NFT_META_NFPROTO ? NULL :
		    key == NFT_META_L4PROTO ? "meta l4proto" :
		    key == NFT_META_IIFNAME ? "iifname" :
		    key == NFT_META_OIFNAME ? "oifname" : "meta";
	}
	return strcmp(x, "ct") == 0 ? "ct" : NULL;
}

/* A cmp's value as its load reads (address, port, name), into v. */
static bool
xvalue(const char *load, const struct nlattr *data, char *v, size_t len)
{
	const struct nlattr *dv[XATTR_MAX];
	const uint8_t *p;
	size_t dl;

	memset(dv, 0, sizeof(dv));
	if (data == NULL || mnl_attr_parse_nested(data, xattr_cb, dv) < 0 ||
	    dv[NFTA_DATA_VALUE] == NULL)
		return false;
	p = mnl_attr_get_payload(dv[NFTA_DATA_VALUE]);
	dl = mnl_attr_get_payload_len(dv[NFTA_DATA_VALUE]);
	if (dl == 4 && strncmp(load, "ip ", 3) == 0)
		inet_ntop(AF_INET, p, v, (socklen_t)len);
	else if (dl == 16 && strncmp(load, "ip6", 3) == 0)
		inet_ntop(AF_INET6, p, v, (socklen_t)len);
	else if (dl == 2)
		snprintf(v, len, "%u", p[0] << 8 | p[1]);
	else if (dl == 1)
		snprintf(v, len, "%u", p[0]);
	else if (strstr(load, "ifname") != NULL)
		snprintf(v, len, "\"%.*s\"", (int)strnlen((const char *)p,
		    dl < 16 ? dl : 16), (const char *)p);
	else {
		v[0] = '\0';
		for (; dl > 0 && strlen(v) + 3 < len; dl--, p++)
			snprintf(v + strlen(v), len - strlen(v), "%02x", *p);
	}
	return true;
}

/* An immediate's verdict ("accept", "jump lan-self"), into v. */
static bool
xverdict(const struct nlattr *data, char *v, size_t len)
{
	const struct nlattr *dv[XATTR_MAX], *vv[XATTR_MAX];
	uint32_t code;

	memset(dv, 0, sizeof(dv));
	memset(vv, 0, sizeof(vv));
	if (data == NULL || mnl_attr_parse_nested(data, xattr_cb, dv) < 0 ||
	    dv[NFTA_DATA_VERDICT] == NULL ||
	    mnl_attr_parse_nested(dv[NFTA_DATA_VERDICT], xattr_cb, vv) < 0 ||
	    vv[NFTA_VERDICT_CODE] == NULL)
		return false;
	code = ntohl(mnl_attr_get_u32(vv[NFTA_VERDICT_CODE]));
	snprintf(v, len, "%s%s%s", code == NF_ACCEPT ? "accept" :
	    code == NF_DROP ? "drop" : code == (uint32_t)NFT_JUMP ? "jump" :
	    code == (uint32_t)NFT_GOTO ? "goto" :
	    code == (uint32_t)NFT_RETURN ? "return" : "verdict",
	    vv[NFTA_VERDICT_CHAIN] != NULL ? " " : "",
	    vv[NFTA_VERDICT_CHAIN] != NULL ?
	    mnl_attr_get_str(vv[NFTA_VERDICT_CHAIN]) : "");
	return true;
}

/* A short text of a rule nobody in fwctl made: its comment, or its
 * matches and verdict in nft's words where they are common ones. */
static void
rule_text(const struct dumped *k, char *buf, size_t len)
{
	const struct nlattr *tb[XATTR_MAX];
	struct nlattr *attr;
	const char *x, *load = NULL;
	char v[INET6_ADDRSTRLEN + 40];
	size_t o = 0;

	buf[0] = '\0';
	if (k->comment != NULL) {
		snprintf(buf, len, "comment \"%s\"", k->comment);
		return;
	}
	if (k->exprs == NULL || len < 40)
		return;
	mnl_attr_for_each_payload(k->exprs, k->exprs_len) {
		if ((x = xparse(attr, tb)) == NULL || o + 32 >= len) {
			snprintf(buf + o, len - o, "%s...", o ? " " : "");
			return;
		}
		v[0] = '\0';
		if (strcmp(x, "payload") == 0 || strcmp(x, "meta") == 0 ||
		    strcmp(x, "ct") == 0) {
			load = xload(x, tb);
			continue;
		}
		if (strcmp(x, "cmp") == 0) {
			if (load != NULL && xvalue(load, tb[NFTA_CMP_DATA], v,
			    sizeof(v)))
				o += (size_t)snprintf(buf + o, len - o,
				    "%s%s %s", o ? " " : "", load, v);
			o = o < len ? o : len - 1;
			load = NULL;
			continue;
		}
		if (strcmp(x, "lookup") == 0 && tb[NFTA_LOOKUP_SET] != NULL)
			snprintf(v, sizeof(v), "%s @%s", load != NULL ? load :
			    "lookup", mnl_attr_get_str(tb[NFTA_LOOKUP_SET]));
		else if (strcmp(x, "immediate") == 0)
			xverdict(tb[NFTA_IMMEDIATE_DATA], v, sizeof(v));
		else if (strcmp(x, "counter") != 0 &&
		    strcmp(x, "bitwise") != 0)
			snprintf(v, sizeof(v), "%s", x);
		load = NULL;
		if (v[0] != '\0')
			o += (size_t)snprintf(buf + o, len - o, "%s%s",
			    o ? " " : "", v);
		o = o < len ? o : len - 1;	/* cut: "..." next */
	}
}

/* The plan chain a kernel chain belongs to: itself, or the pair chain of
 * a sub-chain "<chain>/<n>"; NULL for a chain that is not fwctl's. */
static const char *
chain_logical(const struct cplan *p, const char *kname, char *buf,
    size_t len)
{
	const struct cchain *c;

	if ((c = cplan_chain(p, kname)) != NULL)
		return c->name;
	snprintf(buf, len, "%s", kname);
	seg_strip(buf);
	if (strcmp(buf, kname) != 0 && (c = cplan_chain(p, buf)) != NULL &&
	    c->pair)
		return c->name;
	return NULL;
}

/* How a user knows a compiled rule. */
static void
rule_label(const struct cplan *p, const struct crule *r, char *buf,
    size_t len)
{
	const struct cchain *c = cplan_chain(p, r->chain);

	if (r->name != NULL)
		snprintf(buf, len, "%s %s", c != NULL && c->type != NULL &&
		    strcmp(c->type, "nat") == 0 ? "nat entry" : "rule",
		    r->name);
	else if (r->comment != NULL)
		snprintf(buf, len, "%s", r->comment);
	else
		snprintf(buf, len, "fwctl's rule %s", r->key);
}

static void
drift_chains(struct dctx *x, const struct cplan *p)
{
	const struct cchain *c;
	struct dchain *k;
	char buf[600], why[200];
	size_t i, j, o;

	for (i = 0; i < x->nchains; i++) {
		k = &x->chains[i];
		k->ours = chain_logical(p, k->name, buf, sizeof(buf)) != NULL;
		if (!k->ours)
			drift_say(x, "chain %s is not fwctl's", k->name);
	}
	for (i = 0; i < p->nchains; i++) {
		c = &p->chains[i];
		for (j = 0; j < x->nchains; j++)
			if (strcmp(x->chains[j].name, c->name) == 0)
				break;
		if (j == x->nchains) {
			drift_say(x, "chain %s is missing", c->name);
			continue;
		}
		k = &x->chains[j];
		o = 0;
		why[0] = '\0';
		if (k->base != c->base)
			o += (size_t)snprintf(why + o, sizeof(why) - o,
			    "%s", c->base ? ", not a base chain" :
			    ", a base chain");
		else if (c->base) {
			if (k->hook != c->hook || k->prio != c->prio ||
			    (k->type == NULL) != (c->type == NULL) ||
			    (k->type != NULL && strcmp(k->type, c->type) != 0))
				o += (size_t)snprintf(why + o, sizeof(why) - o,
				    ", its hook, priority or type");
			if (k->policy != (uint32_t)c->policy && o < sizeof(why))
				o += (size_t)snprintf(why + o, sizeof(why) - o,
				    ", policy %s where the ruleset says %s",
				    k->policy == NF_ACCEPT ? "accept" : "drop",
				    c->policy == NF_ACCEPT ? "accept" : "drop");
		}
		if (o > 0)
			drift_say(x, "chain %s differs from the ruleset (%s)",
			    c->name, why + 2);
	}
}

/* The jump from a pair chain to one of its sub-chains: layout. */
static bool
layout_jump(const struct dumped *k, const char *chain, const char **to)
{
	const struct nlattr *tb[XATTR_MAX], *dv[XATTR_MAX], *vv[XATTR_MAX];
	const struct nlattr *el = k->exprs;
	const char *x, *target;
	size_t len = strlen(chain);

	if (k->comment != NULL || k->exprs == NULL ||
	    !mnl_attr_ok(el, (int)k->exprs_len) ||
	    mnl_attr_ok(mnl_attr_next(el), (int)k->exprs_len -
	    (int)MNL_ALIGN(mnl_attr_get_len(el))))
		return false;
	if ((x = xparse(el, tb)) == NULL || strcmp(x, "immediate") != 0 ||
	    tb[NFTA_IMMEDIATE_DATA] == NULL)
		return false;
	memset(dv, 0, sizeof(dv));
	memset(vv, 0, sizeof(vv));
	if (mnl_attr_parse_nested(tb[NFTA_IMMEDIATE_DATA], xattr_cb, dv) < 0 ||
	    dv[NFTA_DATA_VERDICT] == NULL ||
	    mnl_attr_parse_nested(dv[NFTA_DATA_VERDICT], xattr_cb, vv) < 0 ||
	    vv[NFTA_VERDICT_CODE] == NULL || vv[NFTA_VERDICT_CHAIN] == NULL ||
	    ntohl(mnl_attr_get_u32(vv[NFTA_VERDICT_CODE])) !=
	    (uint32_t)NFT_JUMP)
		return false;
	target = mnl_attr_get_str(vv[NFTA_VERDICT_CHAIN]);
	if (strncmp(target, chain, len) != 0 || target[len] != '/')
		return false;
	*to = target;
	return true;
}

static char *
rule_bucket(const char *chain, const char *comment)
{
	char *s;

	if (asprintf(&s, "%s\n%c%s", chain, comment != NULL ? 'c' : '-',
	    comment != NULL ? comment : "") == -1)
		return NULL;
	return s;
}

/*
 * Rules: every rule of the plan must be in its chain (or a sub-chain of
 * it) with its comment and content; each kernel rule stands for one plan
 * rule at most. Order is not compared: `nft` cannot move a rule without
 * making a new one, which is found.
 */
static int
drift_rules(struct dctx *x, const struct cplan *p, struct dump *dp,
    struct drule *out)
{
	struct strmap *bucket = NULL;
	size_t *nextk = NULL, i, at;
	char *used = NULL, *lost = NULL, *key = NULL;
	const char **logical = NULL;
	char buf[600], label[600], text[160];
	const struct crule *r;
	int rc = -1;

	if ((bucket = strmap_new(dp->n + 1)) == NULL ||
	    (nextk = calloc(dp->n + 1, sizeof(*nextk))) == NULL ||
	    (used = calloc(dp->n + 1, 1)) == NULL ||
	    (lost = calloc(p->nrules + 1, 1)) == NULL ||
	    (logical = calloc(dp->n + 1, sizeof(*logical))) == NULL)
		goto out;
	/* kernel rules by (plan chain, comment), in kernel order: a list
	 * threaded through nextk, built backwards */
	for (i = dp->n; i-- > 0;) {
		logical[i] = chain_logical(p, dp->v[i].chain, buf,
		    sizeof(buf));
		if (logical[i] == NULL) {
			used[i] = 1;	/* in a chain reported as not ours */
			continue;
		}
		if (layout_jump(&dp->v[i], logical[i], &out->jump_to[i])) {
			used[i] = 1;
			continue;
		}
		if ((key = rule_bucket(logical[i], dp->v[i].comment)) == NULL)
			goto out;
		nextk[i] = (size_t)strmap_gets(bucket, key);
		if (strmap_puts(bucket, key, (void *)(i + 1)) == -1)
			goto out;
		free(key);
		key = NULL;
	}
	for (i = 0; i < p->nrules && !x->err; i++) {
		r = &p->rules[i];
		if ((key = rule_bucket(r->chain, r->comment)) == NULL)
			goto out;
		for (at = (size_t)strmap_gets(bucket, key); at != 0;
		    at = nextk[at - 1])
			if (!used[at - 1] && rule_same(x, r, &dp->v[at - 1]))
				break;
		if (at != 0) {
			used[at - 1] = 1;
			out->at_of[i] = at - 1;
		} else
			lost[i] = 1;
		free(key);
		key = NULL;
	}
	for (i = 0; i < p->nrules && !x->err; i++) {
		if (!lost[i])
			continue;
		r = &p->rules[i];
		rule_label(p, r, label, sizeof(label));
		if ((key = rule_bucket(r->chain, r->comment)) == NULL)
			goto out;
		for (at = (size_t)strmap_gets(bucket, key); at != 0;
		    at = nextk[at - 1])
			if (!used[at - 1])
				break;
		free(key);
		key = NULL;
		if (at != 0)
			drift_say(x, "%s (chain %s) differs from the ruleset",
			    label, r->chain);
		else
			drift_say(x, "%s (chain %s) is missing", label,
			    r->chain);
	}
	for (i = 0; i < dp->n; i++) {
		if (used[i])
			continue;
		rule_text(&dp->v[i], text, sizeof(text));
		drift_say(x, "chain %s has a rule fwctl did not make "
		    "(handle %" PRIu64 "%s%s)", dp->v[i].chain,
		    dp->v[i].handle, text[0] ? ": " : "", text);
	}
	rc = 0;
 out:
	if (rc == -1)
		x->err = ENOMEM;
	free(key);
	strmap_free(bucket);
	free(nextk);
	free(used);
	free(lost);
	free(logical);
	return rc;
}

/* Elements of one named set (a group's elements are rules). */
static void
drift_elems(struct dctx *x, const struct cset *cs, const struct dset *ds)
{
	struct units ua = { 0 }, ub = { 0 };
	char *la = NULL, *lb = NULL, text[400];
	const char *chain = NULL;
	size_t i, clen = group_chain(cs->name, &chain);

	if (set_units(cs, &ua) == -1 || set_units(&ds->s, &ub) == -1 ||
	    (la = calloc(ua.n + 1, 1)) == NULL ||
	    (lb = calloc(ub.n + 1, 1)) == NULL ||
	    units_lacking(&ua, &ub, la) == -1 ||
	    units_lacking(&ub, &ua, lb) == -1) {
		x->err = ENOMEM;
		goto out;
	}
	for (i = 0; i < ua.n; i++) {
		/* an element with a timeout may have expired on its own */
		if (la[i] && ua.v[i].may_go)
			x->lossy = true;
		if (!la[i] || ua.v[i].may_go)
			continue;
		if (clen > 0 && ua.v[i].comment != NULL)
			drift_say(x, "rule %s (chain %.*s) is missing",
			    ua.v[i].comment, (int)clen, chain);
		else
			drift_say(x, "set %s lacks element %s", cs->name,
			    unit_text(cs, &ua.v[i], text, sizeof(text)));
	}
	for (i = 0; i < ub.n; i++) {
		if (!lb[i])
			continue;
		if (clen > 0)
			drift_say(x, "chain %.*s has a rule fwctl did not make "
			    "(element %s%s%s of set %s)", (int)clen, chain,
			    unit_text(&ds->s, &ub.v[i], text, sizeof(text)),
			    ub.v[i].comment != NULL ?
			    ", comment " : "", ub.v[i].comment != NULL ?
			    ub.v[i].comment : "", cs->name);
		else
			drift_say(x, "set %s has an element fwctl did not "
			    "add: %s", cs->name, unit_text(&ds->s, &ub.v[i],
			    text, sizeof(text)));
	}
 out:
	free(la);
	free(lb);
	units_free(&ua);
	units_free(&ub);
}

static void
drift_sets(struct dctx *x, const struct cplan *p)
{
	const struct cset *cs;
	struct dset *ds;
	const char *chain;
	size_t i, j, clen;

	for (i = 0; i < p->nsets && !x->err; i++) {
		cs = &p->sets[i];
		clen = group_chain(cs->name, &chain);
		if ((ds = dset_get(x, cs->name)) == NULL) {
			if (x->err)
				return;
			if (clen == 0) {
				drift_say(x, "set %s is missing", cs->name);
				continue;
			}
			for (j = 0; j < cs->nelems; j++)
				if (cs->elems[j].comment != NULL)
					drift_say(x, "rule %s (chain %.*s) is "
					    "missing", cs->elems[j].comment,
					    (int)clen, chain);
			continue;
		}
		if (ds->anon || ds->s.key_type != cs->key_type ||
		    ds->s.key_len != cs->key_len ||
		    ds->s.data_type != cs->data_type ||
		    ds->s.timeout_ms != cs->timeout_ms ||
		    ds->s.nfields != cs->nfields ||
		    ((ds->s.flags ^ cs->flags) & ~(uint32_t)NFT_SET_INTERVAL))
			drift_say(x, "set %s differs from the ruleset (its type, "
			    "flags or timeout)", cs->name);
		else if (ds->s.counters != cs->counters ||
		    ds->s.limit_rate != cs->limit_rate ||
		    ds->s.limit_unit != cs->limit_unit ||
		    ds->s.limit_burst != cs->limit_burst) {
			char want[96], have[96];

			drift_say(x, "set %s: each element gets %s in the "
			    "kernel, %s in the ruleset", cs->name,
			    elem_exprs_text(&ds->s, have, sizeof(have)),
			    elem_exprs_text(cs, want, sizeof(want)));
		}
		/* a meter's elements are the packets' (a per-source limit's
		 * buckets, each with a timeout): no ruleset says them */
		if (!(cs->flags & NFT_SET_EVAL))
			drift_elems(x, cs, ds);
	}
	for (i = 0; i < x->nsets; i++)
		if (!x->sets[i].anon && cplan_set(p, x->sets[i].s.name) == NULL &&
		    strncmp(x->sets[i].s.name, LIST_SET_PREFIX,
		    strlen(LIST_SET_PREFIX)) != 0)
			drift_say(x, "set %s is not fwctl's", x->sets[i].s.name);
}

/* No drift: the picture of the table as read, for the adoption that
 * follows (adopt.c). */
static void
drift_adopt(struct dctx *x, struct cplan *p, const struct ruleset *next,
    const struct dump *dp, const struct drule *dr)
{
	struct adopt_in in = { 0 };
	size_t i, plen = strlen(LIST_SET_PREFIX);

	if ((in.klists = calloc(x->nsets + 1, sizeof(*in.klists))) == NULL)
		return;		/* no adoption: the table is built again */
	for (i = 0; i < x->nsets; i++)
		if (!x->sets[i].anon &&
		    strncmp(x->sets[i].s.name, LIST_SET_PREFIX, plen) == 0)
			in.klists[in.nklists++] = x->sets[i].s.name;
	in.p = p;
	in.next = next;
	in.dp = dp;
	in.at_of = dr->at_of;
	in.jump_to = dr->jump_to;
	in.nkchains = x->nchains;
	adopt_prepare(x->n, &in);
	free(in.klists);
}

/* Keeps the rules read (their counters, not their expressions) for the
 * adoption that usually follows: its seeds need not read them again. */
static void
drift_keep(struct nft *n, struct dump *dp)
{
	size_t i;

	kept_free(n);
	if (dp->n == 0 || (n->kept = malloc(sizeof(*n->kept))) == NULL ||
	    get_genid(n, &n->kept_gen) == -1) {
		free(n->kept);
		n->kept = NULL;
		dump_free(dp);
		return;
	}
	for (i = 0; i < dp->n; i++) {
		free(dp->v[i].exprs);
		dp->v[i].exprs = NULL;
	}
	*n->kept = *dp;
	memset(dp, 0, sizeof(*dp));
}

int
nft_drift_find(struct nft *n, const struct ruleset *next,
    struct nft_drift *out, struct diags *d)
{
	struct dctx x = { 0 };
	struct cplan p = { 0 };
	struct dump dp = { 0 };
	struct drule dr = { 0 };
	uint32_t gen = 0;
	size_t i;
	int present, rc = -1;

	memset(out, 0, sizeof(*out));
	x.n = n;
	x.out = out;
	adopt_free(n);
	if ((present = nft_table_present(n)) == -1 ||
	    (present == 1 && get_genid(n, &gen) == -1)) {
		diags_add(d, NULL, "reading table inet %s: %s", n->table,
		    strerror(errno));
		return -1;
	}
	/* compiled as nft_apply would; not at all for a missing table (a
	 * boot: the apply that follows compiles it) */
	if (present == 1 && compile_ruleset(next, n->table, &p, d) == -1)
		return -1;
	if ((present == 1 && keep_interval(n, next, &p) == -1) ||
	    (out->v = calloc(DRIFT_MAX + 2, sizeof(*out->v))) == NULL ||
	    (x.said = strmap_new(64)) == NULL ||
	    (x.xbuf = malloc(MSG_ROOM)) == NULL)
		goto nomem;
	if (present == 0) {
		out->table_missing = true;
		drift_say(&x, "table inet %s is missing", n->table);
	} else {
		dp.exprs = true;
		dp.counters = true;	/* kept for the adoption's seeds */
		if (drift_read(&x) == -1 || dump_rules(n, &dp) == -1) {
			diags_add(d, NULL, "reading table inet %s: %s",
			    n->table, strerror(errno));
			goto fail;
		}
		if ((dr.at_of = malloc((p.nrules + 1) *
		    sizeof(*dr.at_of))) == NULL ||
		    (dr.jump_to = calloc(dp.n + 1, sizeof(*dr.jump_to))) ==
		    NULL)
			goto nomem;
		for (i = 0; i < p.nrules; i++)
			dr.at_of[i] = dp.n;
		drift_chains(&x, &p);
		if (drift_rules(&x, &p, &dp, &dr) == 0)
			drift_sets(&x, &p);
		if (!x.err && !x.lossy && out->n == 0 && x.more == 0)
			drift_adopt(&x, &p, next, &dp, &dr);
	}
	if (x.err) {
		errno = x.err;
		goto nomem;
	}
	if (x.more > 0 && asprintf(&out->v[out->n], "and %zu more",
	    x.more) != -1)
		out->n++;
	rc = 0;
	goto out;
 nomem:
	diags_add(d, NULL, "nft: %s", strerror(errno ? errno : ENOMEM));
 fail:
	nft_drift_free(out);
 out:
	drift_keep(n, &dp);
	/* the picture holds for the generation read before and after */
	if (n->adopt != NULL && (rc == -1 || n->kept == NULL ||
	    n->kept_gen != gen))
		adopt_free(n);
	else if (n->adopt != NULL)
		n->adopt->gen = gen;
	free(dr.at_of);
	free(dr.jump_to);
	dctx_free(&x);
	cplan_free(&p);
	return rc;
}
