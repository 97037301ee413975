/*
 * The kernel: one long-lived netlink socket, one batch per change.
 *
 * nft.c keeps a small picture of what the kernel holds: per chain the
 * rules in order as (key, hash of the compiled rule, handle), the user
 * rules of pair chains spread over bounded sub-chains, and the named sets.
 * A plan of a few rules compiles those rules alone and puts them next to a
 * neighbour by handle; any other change compiles the new ruleset and sends
 * only the difference: rules are matched by (chain, key) and hash, the
 * longest run that kept its order stays in place (and keeps its counters),
 * the rest is deleted or inserted next to a neighbour by handle. Named
 * sets whose definition did not change keep their elements; only the
 * elements that differ are added or removed. A rule whose matches did not
 * change keeps its count when its kernel object is made again (moved,
 * grouped, ungrouped): the new object starts with the old one's counter
 * values. Without that picture (first
 * apply after start) the table is deleted and built again inside the same
 * transaction, so it is never open. docs/design-compile.md has the layout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <endian.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "compile.h"
#include "nameidx.h"
#include "nft.h"
#include "ruleset.h"
#include "strmap.h"

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST	0x4
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK		11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK		10
#endif
/* kernel 6.3: delete without ENOENT (an element may have timed out) */
#define NFT_MSG_DESTROYSETELEM_	30

#define ECHO_MAX	512	/* more added rules: learn handles by dump */
#define SEG_MAX		512	/* user rules per sub-chain, as built */
#define SEG_SPLIT	(2 * SEG_MAX)	/* a segment grown past this is split */
#define FAST_MAX	512	/* plan items the single-rule path takes */
#define ELEMS_PER_MSG	128	/* keeps the nested attribute under 64 KiB */
#define MSG_ROOM	(96 * 1024)
#define BYTEORDER_HOST	1	/* nftables' BYTEORDER_HOST_ENDIAN */

enum bkind {
	BK_OTHER = 0,
	BK_TABLE,
	BK_CHAIN,
	BK_SET,
	BK_ELEM,
	BK_RULE,
	BK_BEGIN,
	BK_END,
};

/* Counter values a rule starts with: what the table we adopt had for it. */
struct seed {
	uint64_t	 packets;
	uint64_t	 bytes;
	bool		 set;
};

/* What one message of a batch is about, so an error can name it. */
struct bobj {
	enum bkind	 kind;
	char		*what;
	const struct srcloc *loc;
	uint64_t	*hslot;		/* NEWRULE: where its handle goes */
	const struct crule *rule;	/* NEWRULE: names it when refused */
};

struct batch {
	char		*buf;
	size_t		 len;
	size_t		 cap;
	uint32_t	 seq0;		/* seq of the first message */
	struct bobj	*objs;		/* by seq - seq0 */
	size_t		 nobjs;
	size_t		 objs_cap;
	uint32_t	 end_seq;
	int		 err;
	/* In a table made by this batch the kernel hands out handles from
	 * 1 up, one per chain, set and rule in message order: a rule's
	 * handle is known without asking (checked after the commit). */
	bool		 predict;
	uint64_t	 hgen;		/* handles handed out so far */
};

/*
 * What nft.c remembers of the kernel's table: per chain the rules in order,
 * each as a key, a hash of its content and its handle; no expressions and
 * no text. The user rules of a pair chain are spread over segments of at
 * most a few hundred rules: segment 0 in the chain itself, the others in
 * sub-chains "<chain>/<id>" reached by jumps, so that a commit that
 * touches one rule makes the kernel rebuild one small chain, not all of
 * them (docs/design-compile.md).
 */
struct kseg;
struct kchain;

struct kent {
	uint64_t	 hash;		/* cplan_rule_hash */
	uint64_t	 handle;
	struct kchain	*chain;
	struct kseg	*seg;		/* user rules of pair chains; NULL for
					 * the chain's own rules */
	struct kent	*next_copy;	/* the model rule's next kernel copy */
	size_t		 aux;		/* scratch for diffs */
	bool		 keep;		/* scratch for diffs */
	char		 key[];		/* identity in its chain (crule key) */
};

struct kseg {
	uint32_t	 id;		/* 0: the chain itself */
	uint64_t	 jump;		/* handle of the jump to it (id != 0) */
	struct kent	**v;
	size_t		 n;
	size_t		 cap;
	size_t		 aux;		/* scratch */
	bool		 fresh;		/* scratch: made by this batch */
};

struct kchain {
	struct cchain	 def;
	struct kseg	**segs;		/* pair chains: segs[0] always */
	size_t		 nsegs;
	size_t		 segs_cap;
	struct kent	**own;		/* fwctl's own rules, after the jumps */
	size_t		 nown;
	size_t		 own_cap;
	uint32_t	 next_id;	/* of the next sub-chain */
	bool		 reused;	/* scratch: kept by a diff */
};

struct kstate {
	struct kchain	**v;
	size_t		 n;
	size_t		 cap;
	struct strmap	*idx;		/* chain name -> kchain */
	struct strmap	*names;		/* user rule name -> its first copy */
};

/*
 * A list (ports, addresses, ICMP types) that rules look up, as a named set
 * of the table shared by every rule with the same list: "__l/<hash of its
 * content>" (docs/design-compile.md, "Lists").
 */
#define LIST_SET_PREFIX	"__l/"

struct lset {
	char		*content;	/* canonical: type and elements */
	bool		 live;		/* in the kernel since a commit */
	bool		 fresh;		/* made by the batch being built */
	bool		 dead;		/* deleted by the batch being built */
	bool		 used;		/* scratch: a rule of the plan uses it */
	char		 name[24];
};

/* Replies to a batch. */
struct reply {
	struct batch	*b;
	bool		 echo;		/* learn handles from echoes */
	int		 error;		/* first error (positive errno) */
	uint32_t	 error_seq;
	char		 extack[256];
	bool		 end_acked;
};

struct nft {
	struct mnl_socket *nl;
	uint32_t	 portid;
	uint32_t	 seq;
	char		*table;
	uint32_t	 table_flags;	/* what NEWTABLE asks for */
	bool		 flags_known;	/* PERSIST support detected */
	bool		 have;		/* cur and st are what the kernel holds */
	struct cplan	 cur;		/* named sets only */
	struct strmap	**eidx;		/* by cur set: its elements' index */
	struct kstate	 st;		/* chains and rules */
	uint32_t	 genid;		/* after our last commit */
	uint32_t	 set_id;
	struct strmap	*lsets;		/* shared lists: name -> struct lset */
	struct lset	**lsv;		/* the same, to walk */
	size_t		 nlsv;
	size_t		 lsv_cap;
	size_t		 sndbuf;
	struct nft_stats stats;
};

static void	lists_reset(struct nft *);
static void	lists_abort(struct nft *);
static void	lists_commit(struct nft *);

static void
batch_free(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->nobjs; i++)
		free(b->objs[i].what);
	free(b->objs);
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* Room for one more message; returns its start. */
static char *
batch_room(struct batch *b)
{
	char *nb;
	size_t ncap;

	if (b->err)
		return NULL;
	if (b->cap - b->len < MSG_ROOM) {
		ncap = b->cap ? b->cap * 2 : 4 * MSG_ROOM;
		while (ncap - b->len < MSG_ROOM)
			ncap *= 2;
		if ((nb = realloc(b->buf, ncap)) == NULL) {
			b->err = ENOMEM;
			return NULL;
		}
		memset(nb + b->cap, 0, ncap - b->cap);
		b->buf = nb;
		b->cap = ncap;
	}
	return b->buf + b->len;
}

static struct bobj *
batch_obj(struct batch *b, uint32_t seq, enum bkind kind, const char *what,
    const struct srcloc *loc)
{
	struct bobj *o;
	size_t i = seq - b->seq0, ncap;

	if (i >= b->objs_cap) {
		ncap = b->objs_cap ? b->objs_cap * 2 : 64;
		while (ncap <= i)
			ncap *= 2;
		if ((o = reallocarray(b->objs, ncap, sizeof(*o))) == NULL) {
			b->err = ENOMEM;
			return NULL;
		}
		memset(o + b->objs_cap, 0, (ncap - b->objs_cap) * sizeof(*o));
		b->objs = o;
		b->objs_cap = ncap;
	}
	o = &b->objs[i];
	o->kind = kind;
	o->loc = loc;
	o->hslot = NULL;
	o->rule = NULL;
	if (what != NULL && (o->what = strdup(what)) == NULL)
		b->err = ENOMEM;
	if (i >= b->nobjs)
		b->nobjs = i + 1;
	return o;
}

static struct nlmsghdr *
batch_msg(struct nft *n, struct batch *b, uint16_t type, uint16_t flags,
    enum bkind kind, const char *what, const struct srcloc *loc)
{
	struct nlmsghdr *nlh;
	char *p;
	uint32_t seq = n->seq++;

	if ((p = batch_room(b)) == NULL)
		return NULL;
	nlh = nftnl_nlmsg_build_hdr(p, type, NFPROTO_INET, flags, seq);
	if (batch_obj(b, seq, kind, what, loc) == NULL)
		return NULL;
	if (type == NFT_MSG_NEWTABLE)
		b->hgen = 0;
	else if (type == NFT_MSG_NEWCHAIN || type == NFT_MSG_NEWSET ||
	    type == NFT_MSG_NEWRULE)
		b->hgen++;
	return nlh;
}

static void
batch_done(struct batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* --- small requests --------------------------------------------------- */

/* Reads what is left of an interrupted dump, up to its end. */
static void
drain(struct nft *n, char *buf, size_t size)
{
	const struct nlmsghdr *nlh;
	ssize_t len;
	int i, done = 0;

	for (i = 0; i < 100000 && !done; i++) {
		len = recv(mnl_socket_get_fd(n->nl), buf, size, MSG_DONTWAIT);
		if (len <= 0)
			return;
		for (nlh = (const struct nlmsghdr *)buf;
		    mnl_nlmsg_ok(nlh, (int)len);
		    nlh = mnl_nlmsg_next(nlh, (int *)&len))
			if (nlh->nlmsg_type == NLMSG_DONE ||
			    nlh->nlmsg_type == NLMSG_ERROR)
				done = 1;
	}
}

/* One request, its replies through cb. -1 with errno on error (EINTR: a
 * dump was interrupted by a commit; the caller starts it again). */
static int
talk(struct nft *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	size_t size = 1 << 18;
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t len;
	char *buf;
	int ret, saved;

	if ((buf = malloc(size)) == NULL)
		return -1;
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0) {
		free(buf);
		return -1;
	}
	for (;;) {
		len = mnl_socket_recvfrom(n->nl, buf, size);
		if (len < 0) {
			ret = -1;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)len, seq, n->portid, cb, data);
		if (ret == -1 && errno == EINTR) {
			drain(n, buf, size);
			errno = EINTR;
			break;
		}
		if (ret <= 0)
			break;
	}
	saved = errno;
	free(buf);
	errno = saved;
	return ret;
}

static int
gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g;

	if ((g = nftnl_gen_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0)
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

static int
get_genid(struct nft *n, uint32_t *genid)
{
	char buf[256];
	struct nlmsghdr *nlh;

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK,
	    n->seq++);
	return talk(n, nlh, gen_cb, genid);
}

int
nft_table_present(struct nft *n)
{
	char buf[512];
	struct nlmsghdr *nlh;
	struct nftnl_table *t;

	if ((t = nftnl_table_alloc()) == NULL)
		return -1;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, n->table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET,
	    NLM_F_ACK, n->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	if (talk(n, nlh, NULL, NULL) == -1)
		return errno == ENOENT ? 0 : -1;
	return 1;
}

/* --- open / close ----------------------------------------------------- */

static void
set_bufs(struct nft *n, int opt, size_t size)
{
	int v = size > INT32_MAX ? INT32_MAX : (int)size;

	/* FORCE needs CAP_NET_ADMIN, which the daemon has; without it keep
	 * what the system allows */
	if (setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, opt, &v,
	    sizeof(v)) == -1)
		setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET,
		    opt == SO_SNDBUFFORCE ? SO_SNDBUF : SO_RCVBUF, &v,
		    sizeof(v));
}

struct nft *
nft_open(const char *table, struct diags *d)
{
	struct nft *n;
	int on = 1;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		goto nomem;
	if ((n->table = strdup(table != NULL ? table :
	    COMPILE_DEFAULT_TABLE)) == NULL)
		goto nomem;
	/* CLOEXEC: a child process holding the socket would keep owning
	 * the table after we are gone */
	if ((n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC)) ==
	    NULL) {
		diags_add(d, NULL, "netlink socket: %s", strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		diags_add(d, NULL, "netlink bind: %s", strerror(errno));
		goto fail;
	}
	n->portid = mnl_socket_get_portid(n->nl);
	mnl_socket_setsockopt(n->nl, NETLINK_EXT_ACK, &on, sizeof(on));
	mnl_socket_setsockopt(n->nl, NETLINK_CAP_ACK, &on, sizeof(on));
	n->sndbuf = 4 << 20;
	set_bufs(n, SO_SNDBUFFORCE, n->sndbuf);
	set_bufs(n, SO_RCVBUFFORCE, 16 << 20);
	n->seq = (uint32_t)time(NULL);
	n->table_flags = NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST;
	return n;
 nomem:
	diags_add(d, NULL, "nft: %s", strerror(ENOMEM));
 fail:
	nft_close(n);
	return NULL;
}

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

static void
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

static int
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

static struct kchain *
kstate_chain(const struct kstate *st, const char *name)
{
	if (st->idx == NULL)
		return NULL;
	return strmap_gets(st->idx, name);
}

/* A new chain, empty; pair chains get segment 0. */
static struct kchain *
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

static int
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

static struct kseg *
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
static const char *
seg_chain(const struct kchain *c, const struct kseg *sg, char *buf,
    size_t len)
{
	if (sg == NULL || sg->id == 0)
		return c->def.name;
	snprintf(buf, len, "%s/%u", c->def.name, sg->id);
	return buf;
}

/* The model rule name of a user rule's key ("web#4" -> "web"). */
static size_t
key_name_len(const char *key)
{
	const char *h = strchr(key, '#');

	return h != NULL ? (size_t)(h - key) : strlen(key);
}

/* Puts e into chain c: into segment sg before entry 'before' (NULL: at
 * the end), or among the chain's own rules when sg is NULL. */
static int
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

static struct kent *
kent_new(const char *key)
{
	struct kent *e;
	size_t len = strlen(key);

	if ((e = calloc(1, sizeof(*e) + len + 1)) == NULL)
		return NULL;
	memcpy(e->key, key, len + 1);
	return e;
}

static struct kent *
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
static void
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
static struct kent *
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

static void	cur_eidx_free(struct nft *);

static void
state_clear(struct nft *n)
{
	cur_eidx_free(n);
	kstate_free(&n->st);
	cplan_free(&n->cur);
	n->have = false;
}

void
nft_close(struct nft *n)
{
	if (n == NULL)
		return;
	if (n->nl != NULL)
		mnl_socket_close(n->nl);
	state_clear(n);
	lists_reset(n);
	strmap_free(n->lsets);
	free(n->lsv);
	free(n->table);
	free(n);
}

const struct nft_stats *
nft_last_stats(const struct nft *n)
{
	return &n->stats;
}

/* --- objects into messages -------------------------------------------- */

static int	emit_chain(struct nft *, struct batch *, const struct cchain *,
		    bool);
static int	emit_delset(struct nft *, struct batch *, const struct cset *);

static struct nftnl_set *
set_obj(struct nft *n, const struct cset *cs, bool anon, uint32_t id)
{
	struct nftnl_set *s;
	struct nftnl_udata_buf *ud;

	if ((s = nftnl_set_alloc()) == NULL)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, n->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, anon ? "__set%d" : cs->name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, cs->flags |
	    (anon ? NFT_SET_ANONYMOUS | NFT_SET_CONSTANT : 0));
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, cs->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, cs->key_len);
	if (cs->flags & NFT_SET_MAP)
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, cs->data_type);
	if (cs->timeout_ms != 0)
		nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, cs->timeout_ms);
	if (cs->counters) {
		struct nftnl_expr *x;

		/* every element gets a counter of its own */
		if ((x = nftnl_expr_alloc("counter")) == NULL) {
			nftnl_set_free(s);
			return NULL;
		}
		nftnl_set_add_expr(s, x);
	}
	if (cs->key_host_order) {
		if ((ud = nftnl_udata_buf_alloc(64)) == NULL) {
			nftnl_set_free(s);
			return NULL;
		}
		nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER,
		    BYTEORDER_HOST);
		nftnl_set_set_data(s, NFTNL_SET_USERDATA,
		    nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	return s;
}

/* The chain a group set serves, from its name "__g/<chain>/<first rule>"
 * (rule names hold no '/'): its length, 0 for any other set. */
static size_t
group_chain(const char *set, const char **chain)
{
	const char *end;
	size_t plen = strlen(GROUP_SET_PREFIX);

	if (strncmp(set, GROUP_SET_PREFIX, plen) != 0 ||
	    (end = strrchr(set, '/')) == NULL || end < set + plen)
		return 0;
	*chain = set + plen;
	return (size_t)(end - *chain);
}

/* seed: the counter values a group set's element starts with, or NULL */
static struct nftnl_set_elem *
elem_obj(const struct celem *ce, const struct seed *seed)
{
	struct nftnl_set_elem *e;
	struct nftnl_expr *x;

	if ((e = nftnl_set_elem_alloc()) == NULL)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, ce->key, ce->key_len);
	if (seed != NULL && seed->set) {
		/* the set's own counter, given with its starting values */
		if ((x = nftnl_expr_alloc("counter")) == NULL) {
			nftnl_set_elem_free(e);
			return NULL;
		}
		nftnl_expr_set_u64(x, NFTNL_EXPR_CTR_PACKETS, seed->packets);
		nftnl_expr_set_u64(x, NFTNL_EXPR_CTR_BYTES, seed->bytes);
		nftnl_set_elem_add_expr(e, x);
	}
	if (ce->end)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS,
		    NFT_SET_ELEM_INTERVAL_END);
	if (ce->chain != NULL) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT,
		    (uint32_t)ce->verdict);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, ce->chain);
	}
	if (ce->timeout_ms != 0)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT,
		    ce->timeout_ms);
	if (ce->comment != NULL) {
		struct nftnl_udata_buf *ud;

		if ((ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)) ==
		    NULL) {
			nftnl_set_elem_free(e);
			return NULL;
		}
		nftnl_udata_put_strz(ud, NFTNL_UDATA_SET_ELEM_COMMENT,
		    ce->comment);
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA,
		    nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	return e;
}

/*
 * NEWSETELEM/DESTROYSETELEM for elements v[0..n) of set cs, split so that
 * no message overflows a nested attribute. seeds (or NULL): the counter
 * values of group set elements, by pair_key(chain, rule name).
 */
static int
emit_elems(struct nft *n, struct batch *b, const struct cset *cs, bool anon,
    uint32_t id, const struct celem *const *v, size_t cnt, bool del,
    const struct srcloc *loc, const struct strmap *seeds)
{
	struct nftnl_set *s = NULL;
	struct nftnl_set_elem *e;
	struct nlmsghdr *nlh;
	char what[FWCTL_NAME_MAX + 512], eb[96], k[1024];
	const struct seed *seed;
	const char *chain = NULL;
	struct celem key;
	size_t i, j, clen = 0;

	if (seeds != NULL && cs->counters && !del)
		clen = group_chain(cs->name, &chain);
	for (i = 0; i < cnt; i += ELEMS_PER_MSG) {
		if ((s = set_obj(n, cs, anon, id)) == NULL)
			return -1;
		for (j = i; j < cnt && j < i + ELEMS_PER_MSG; j++) {
			seed = NULL;
			if (clen > 0 && v[j]->comment != NULL) {
				snprintf(k, sizeof(k), "%.*s\n%s", (int)clen,
				    chain, v[j]->comment);
				seed = strmap_gets(seeds, k);
			}
			if ((e = elem_obj(v[j], seed)) == NULL)
				goto fail;
			nftnl_set_elem_add(s, e);
		}
		if (anon) {
			snprintf(what, sizeof(what), "elements of an "
			    "anonymous set");
		} else {
			/* name the elements (interval starts) by key */
			size_t o, shown = 0;

			o = (size_t)snprintf(what, sizeof(what), "element");
			for (j = i; j < cnt && j < i + ELEMS_PER_MSG &&
			    o < sizeof(what); j++) {
				if (v[j]->end)
					continue;
				if (shown++ == 3) {
					o += (size_t)snprintf(what + o,
					    sizeof(what) - o, ", ...");
					break;
				}
				key = *v[j];
				key.timeout_ms = 0;
				o += (size_t)snprintf(what + o,
				    sizeof(what) - o, "%s %s", shown > 1 ?
				    "," : "", cplan_elem_format(cs, &key, eb,
				    sizeof(eb)));
			}
			if (o < sizeof(what))
				snprintf(what + o, sizeof(what) - o,
				    " of set %s", cs->name);
		}
		nlh = batch_msg(n, b, del ? NFT_MSG_DESTROYSETELEM_ :
		    NFT_MSG_NEWSETELEM, NLM_F_CREATE, BK_ELEM, what, loc);
		if (nlh == NULL)
			goto fail;
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_done(b, nlh);
		nftnl_set_free(s);
		s = NULL;
	}
	return 0;
 fail:
	nftnl_set_free(s);
	return -1;
}

static int
emit_set(struct nft *n, struct batch *b, const struct cset *cs, bool anon,
    uint32_t id, const char *what, const struct srcloc *loc,
    const struct strmap *seeds)
{
	const struct celem **v;
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	size_t i;
	int rc;

	if ((s = set_obj(n, cs, anon, id)) == NULL)
		return -1;
	nlh = batch_msg(n, b, NFT_MSG_NEWSET, NLM_F_CREATE, BK_SET, what, loc);
	if (nlh == NULL) {
		nftnl_set_free(s);
		return -1;
	}
	nftnl_set_nlmsg_build_payload(nlh, s);
	batch_done(b, nlh);
	nftnl_set_free(s);
	if (cs->nelems == 0)
		return 0;
	if ((v = calloc(cs->nelems, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < cs->nelems; i++)
		v[i] = &cs->elems[i];
	rc = emit_elems(n, b, cs, anon, id, v, cs->nelems, false, loc, seeds);
	free(v);
	return rc;
}

/* --- lists shared between rules ---------------------------------------- */

/*
 * A rule's list (ports, addresses, ICMP types) becomes a named set that
 * every rule with the same list shares, instead of an anonymous set per
 * rule: the kernel binds each new anonymous set by walking the whole
 * transaction and names it by scanning every set of the table, so a
 * table of thousands of lists cost time in the square of their number.
 * Verdict maps (zone dispatch, a few) stay anonymous: their elements
 * name chains.
 */
static bool
list_shared(const struct cset *as)
{
	return (as->flags & NFT_SET_MAP) == 0;
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
static void
lists_reset(struct nft *n)
{
	while (n->nlsv > 0)
		list_remove_at(n, n->nlsv - 1);
}

/* A batch starts: what an unsent batch made or deleted did not happen. */
static void
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
static void
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
static const char *
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
	tmp = *as;
	tmp.name = ls->name;
	tmp.flags = (as->flags & ~(uint32_t)NFT_SET_ANONYMOUS) |
	    NFT_SET_CONSTANT;
	if (emit_set(n, b, &tmp, false, ++n->set_id, what, loc, NULL) == -1)
		return NULL;
	return ls->name;
}

/*
 * After a whole diff: the shared lists no rule of plan p uses any more are
 * deleted (after the rules that used them, earlier in the batch). The
 * single-rule paths leave them, to the next whole diff or rebuild.
 */
static int
lists_gc(struct nft *n, struct batch *b, const struct cplan *p)
{
	struct lset *ls;
	struct cset tmp;
	char name[24], *c;
	size_t i, j;

	if (n->nlsv == 0)
		return 0;
	for (i = 0; i < n->nlsv; i++)
		n->lsv[i]->used = false;
	for (i = 0; i < p->nrules; i++)
		for (j = 0; j < p->rules[i].nanon; j++) {
			if (!list_shared(&p->rules[i].anon[j]))
				continue;
			if ((c = list_content(&p->rules[i].anon[j], name)) ==
			    NULL)
				return -1;
			free(c);
			if ((ls = strmap_gets(n->lsets, name)) != NULL)
				ls->used = true;
		}
	memset(&tmp, 0, sizeof(tmp));
	for (i = 0; i < n->nlsv; i++) {
		ls = n->lsv[i];
		if (!ls->live || ls->used)
			continue;
		tmp.name = ls->name;
		if (emit_delset(n, b, &tmp) == -1)
			return -1;
		ls->dead = true;
	}
	return 0;
}

static char *
rule_what(const struct crule *r)
{
	char *s;

	if (r->name != NULL) {
		if (asprintf(&s, "rule %s (chain %s)", r->name, r->chain) == -1)
			return NULL;
	} else if (asprintf(&s, "chain %s rule %s", r->chain, r->key) == -1)
		return NULL;
	return s;
}

/*
 * NEWRULE (with its anonymous sets) into chain (NULL: r->chain).
 * before == 0: append to the chain; else insert before the rule with that
 * handle. With echo, the rule's handle comes back into *hslot.
 */
static void
put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
	mnl_attr_put_u32(nlh, type, htonl(v));
}

static void
put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t v)
{
	mnl_attr_put_u64(nlh, type, htobe64(v));
}

/* nft_data: a value in NFTA_DATA_VALUE inside attribute type. */
static void
put_data(struct nlmsghdr *nlh, uint16_t type, const void *v, uint32_t len)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);

	mnl_attr_put(nlh, NFTA_DATA_VALUE, len, v);
	mnl_attr_nest_end(nlh, nest);
}

/*
 * One expression, written straight into the message: the attributes
 * libnftnl would write, without building an object per expression (the
 * whole table's worth of them shows in a profile).
 */
static void
put_expr(struct nlmsghdr *nlh, const struct crule *r, const struct cexpr *e,
    const char *const *lnames,
    const uint32_t *ids, const struct seed *seed)
{
	static const char *const names[] = {
		[CX_META] = "meta", [CX_PAYLOAD] = "payload", [CX_CT] = "ct",
		[CX_BITWISE] = "bitwise", [CX_CMP] = "cmp",
		[CX_RANGE] = "range", [CX_LOOKUP] = "lookup",
		[CX_COUNTER] = "counter", [CX_LIMIT] = "limit",
		[CX_LOG] = "log", [CX_REJECT] = "reject",
		[CX_VERDICT] = "immediate", [CX_IMMEDIATE] = "immediate",
		[CX_NAT] = "nat", [CX_MASQ] = "masq", [CX_FIB] = "fib",
	};
	struct nlattr *elem, *data, *n1, *n2;
	const struct cset *as;

	elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, names[e->type]);
	data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	switch (e->type) {
	case CX_META:
		put_u32(nlh, NFTA_META_KEY, e->key);
		put_u32(nlh, NFTA_META_DREG, e->dreg);
		break;
	case CX_PAYLOAD:
		put_u32(nlh, NFTA_PAYLOAD_DREG, e->dreg);
		put_u32(nlh, NFTA_PAYLOAD_BASE, e->key);
		put_u32(nlh, NFTA_PAYLOAD_OFFSET, e->offset);
		put_u32(nlh, NFTA_PAYLOAD_LEN, e->len);
		break;
	case CX_CT:
		put_u32(nlh, NFTA_CT_KEY, e->key);
		put_u32(nlh, NFTA_CT_DREG, e->dreg);
		break;
	case CX_BITWISE:
		put_u32(nlh, NFTA_BITWISE_SREG, e->sreg);
		put_u32(nlh, NFTA_BITWISE_DREG, e->dreg);
		put_u32(nlh, NFTA_BITWISE_LEN, e->len);
		put_data(nlh, NFTA_BITWISE_MASK, e->data, e->len);
		put_data(nlh, NFTA_BITWISE_XOR, e->data2, e->len);
		break;
	case CX_CMP:
		put_u32(nlh, NFTA_CMP_SREG, e->sreg);
		put_u32(nlh, NFTA_CMP_OP, e->op);
		put_data(nlh, NFTA_CMP_DATA, e->data, e->len);
		break;
	case CX_RANGE:
		put_u32(nlh, NFTA_RANGE_SREG, e->sreg);
		put_u32(nlh, NFTA_RANGE_OP, e->op);
		put_data(nlh, NFTA_RANGE_FROM_DATA, e->data, e->len);
		put_data(nlh, NFTA_RANGE_TO_DATA, e->data2, e->len);
		break;
	case CX_LOOKUP:
		put_u32(nlh, NFTA_LOOKUP_SREG, e->sreg);
		if (e->set != NULL) {
			mnl_attr_put_strz(nlh, NFTA_LOOKUP_SET, e->set);
		} else {
			as = &r->anon[e->set_anon - 1];
			if (as->flags & NFT_SET_MAP)
				put_u32(nlh, NFTA_LOOKUP_DREG, e->dreg);
			if (lnames != NULL && lnames[e->set_anon - 1] != NULL) {
				/* a shared list, by name */
				mnl_attr_put_strz(nlh, NFTA_LOOKUP_SET,
				    lnames[e->set_anon - 1]);
			} else {
				mnl_attr_put_strz(nlh, NFTA_LOOKUP_SET,
				    "__set%d");
				put_u32(nlh, NFTA_LOOKUP_SET_ID,
				    ids[e->set_anon - 1]);
			}
		}
		if (e->invert)
			put_u32(nlh, NFTA_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
		break;
	case CX_COUNTER:
		if (seed != NULL && seed->set) {
			put_u64(nlh, NFTA_COUNTER_BYTES, seed->bytes);
			put_u64(nlh, NFTA_COUNTER_PACKETS, seed->packets);
		}
		break;
	case CX_LIMIT:
		put_u64(nlh, NFTA_LIMIT_RATE, e->rate);
		put_u64(nlh, NFTA_LIMIT_UNIT, e->unit);
		put_u32(nlh, NFTA_LIMIT_BURST, e->burst);
		put_u32(nlh, NFTA_LIMIT_TYPE, NFT_LIMIT_PKTS);
		put_u32(nlh, NFTA_LIMIT_FLAGS, 0);
		break;
	case CX_LOG:
		if (e->prefix != NULL)
			mnl_attr_put_strz(nlh, NFTA_LOG_PREFIX, e->prefix);
		break;
	case CX_REJECT:
		put_u32(nlh, NFTA_REJECT_TYPE, e->reject_type);
		mnl_attr_put_u8(nlh, NFTA_REJECT_ICMP_CODE,
		    (uint8_t)e->reject_code);
		break;
	case CX_VERDICT:
		put_u32(nlh, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
		n1 = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
		n2 = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
		put_u32(nlh, NFTA_VERDICT_CODE, (uint32_t)e->verdict);
		if (e->chain != NULL)
			mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, e->chain);
		mnl_attr_nest_end(nlh, n2);
		mnl_attr_nest_end(nlh, n1);
		break;
	case CX_IMMEDIATE:
		put_u32(nlh, NFTA_IMMEDIATE_DREG, e->dreg);
		put_data(nlh, NFTA_IMMEDIATE_DATA, e->data, e->len);
		break;
	case CX_NAT:
		put_u32(nlh, NFTA_NAT_TYPE, e->nat_type);
		put_u32(nlh, NFTA_NAT_FAMILY, e->nat_family);
		if (e->reg_addr) {
			put_u32(nlh, NFTA_NAT_REG_ADDR_MIN, e->reg_addr);
			put_u32(nlh, NFTA_NAT_REG_ADDR_MAX, e->reg_addr);
		}
		if (e->reg_proto) {
			put_u32(nlh, NFTA_NAT_REG_PROTO_MIN, e->reg_proto);
			put_u32(nlh, NFTA_NAT_REG_PROTO_MAX, e->reg_proto);
		}
		if (e->nat_flags)
			put_u32(nlh, NFTA_NAT_FLAGS, e->nat_flags);
		break;
	case CX_MASQ:
		break;
	case CX_FIB:
		put_u32(nlh, NFTA_FIB_FLAGS, e->key);
		put_u32(nlh, NFTA_FIB_RESULT, e->op);
		put_u32(nlh, NFTA_FIB_DREG, e->dreg);
		break;
	}
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, elem);
}

/*
 * NEWRULE (with its anonymous sets) into chain (NULL: r->chain).
 * before == 0: append to the chain; else insert before the rule with that
 * handle. With echo, the rule's handle comes back into *hslot. The message
 * is written directly (see put_expr); an error names the rule.
 */
static int
emit_rule(struct nft *n, struct batch *b, const struct crule *r,
    const char *chain, uint64_t before, bool echo, const struct seed *seed,
    uint64_t *hslot)
{
	struct nlmsghdr *nlh;
	struct nlattr *list;
	struct bobj *o;
	uint32_t *ids = NULL, idbuf[4];
	const char **lnames = NULL, *lnbuf[4], *nm;
	uint16_t flags;
	uint8_t ud[NFT_USERDATA_MAXLEN];
	size_t i, len;
	char *what = NULL;
	int rc = -1;

	if (r->nanon > 0) {
		if ((what = rule_what(r)) == NULL)
			return -1;
		ids = r->nanon <= 4 ? idbuf : calloc(r->nanon, sizeof(*ids));
		lnames = r->nanon <= 4 ? lnbuf : calloc(r->nanon,
		    sizeof(*lnames));
		if (ids == NULL || lnames == NULL)
			goto out;
		for (i = 0; i < r->nanon; i++) {
			lnames[i] = NULL;
			ids[i] = 0;
			if (list_shared(&r->anon[i])) {
				if ((nm = list_get(n, b, &r->anon[i], what,
				    r->loc)) == NULL)
					goto out;
				if (*nm != '\0') {
					lnames[i] = nm;
					continue;
				}
			}
			ids[i] = ++n->set_id;
			if (emit_set(n, b, &r->anon[i], true, ids[i], what,
			    r->loc, NULL) == -1)
				goto out;
		}
	}
	flags = NLM_F_CREATE | (before == 0 ? NLM_F_APPEND : 0) |
	    (echo ? NLM_F_ECHO : 0);
	if ((nlh = batch_msg(n, b, NFT_MSG_NEWRULE, flags, BK_RULE, NULL,
	    r->loc)) == NULL)
		goto out;
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, n->table);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain != NULL ? chain :
	    r->chain);
	if (before != 0)
		put_u64(nlh, NFTA_RULE_POSITION, before);
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	for (i = 0; i < r->nexprs; i++)
		put_expr(nlh, r, &r->exprs[i], lnames, ids, seed);
	mnl_attr_nest_end(nlh, list);
	if (r->comment != NULL) {
		/* userdata: one comment TLV (type, length, text and NUL) */
		len = strlen(r->comment) + 1;
		if (len > sizeof(ud) - 2 || len > UINT8_MAX)
			len = sizeof(ud) - 2 < UINT8_MAX ? sizeof(ud) - 2 :
			    UINT8_MAX;
		ud[0] = NFTNL_UDATA_RULE_COMMENT;
		ud[1] = (uint8_t)len;
		memcpy(ud + 2, r->comment, len);
		ud[1 + len] = '\0';
		mnl_attr_put(nlh, NFTA_RULE_USERDATA, len + 2, ud);
	}
	batch_done(b, nlh);
	o = &b->objs[nlh->nlmsg_seq - b->seq0];
	o->rule = r;
	o->hslot = hslot;
	if (b->predict && hslot != NULL)
		*hslot = b->hgen;
	n->stats.rules_added++;
	rc = 0;
 out:
	if (ids != idbuf)
		free(ids);
	if (lnames != lnbuf)
		free(lnames);
	free(what);
	return rc;
}

/* The jump from a pair chain to one of its sub-chains. */
static int
emit_jump(struct nft *n, struct batch *b, const char *chain,
    const char *target, uint64_t before, bool echo, uint64_t *hslot)
{
	struct crule r;
	struct cexpr e;
	char cb[600], tb[600];
	int rc;

	memset(&r, 0, sizeof(r));
	memset(&e, 0, sizeof(e));
	snprintf(cb, sizeof(cb), "%s", chain);
	snprintf(tb, sizeof(tb), "%s", target);
	e.type = CX_VERDICT;
	e.verdict = NFT_JUMP;
	e.chain = tb;
	r.chain = cb;
	r.key = tb;
	r.exprs = &e;
	r.nexprs = 1;
	rc = emit_rule(n, b, &r, chain, before, echo, NULL, hslot);
	n->stats.rules_added--;		/* layout, not a rule of the user's */
	if (rc == 0) {
		/* r is ours for the moment only */
		struct bobj *o = &b->objs[b->nobjs - 1];

		o->rule = NULL;
		if (asprintf(&o->what, "chain %s rule jump %s", chain,
		    target) == -1)
			o->what = NULL;
	}
	return rc;
}

static int
emit_delrule(struct nft *n, struct batch *b, const char *chain,
    const char *key, uint64_t handle)
{
	struct nftnl_rule *nr;
	struct nlmsghdr *nlh;
	char what[600];
	size_t len = key_name_len(key);

	if (key[0] != '~' && len <= FWCTL_NAME_MAX)
		snprintf(what, sizeof(what), "rule %.*s (chain %s)", (int)len,
		    key, chain);
	else
		snprintf(what, sizeof(what), "chain %s rule %s", chain, key);
	if ((nr = nftnl_rule_alloc()) == NULL)
		return -1;
	nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, n->table);
	nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_u64(nr, NFTNL_RULE_HANDLE, handle);
	nlh = batch_msg(n, b, NFT_MSG_DELRULE, 0, BK_RULE, what, NULL);
	if (nlh == NULL) {
		nftnl_rule_free(nr);
		return -1;
	}
	nftnl_rule_nlmsg_build_payload(nlh, nr);
	batch_done(b, nlh);
	nftnl_rule_free(nr);
	n->stats.rules_deleted++;
	return 0;
}

/* A chain by name alone (sub-chains). */
static int
emit_subchain(struct nft *n, struct batch *b, const char *name, bool del)
{
	struct cchain c;
	char buf[600];

	memset(&c, 0, sizeof(c));
	snprintf(buf, sizeof(buf), "%s", name);
	c.name = buf;
	return emit_chain(n, b, &c, del);
}

static int
emit_chain(struct nft *n, struct batch *b, const struct cchain *c, bool del)
{
	struct nftnl_chain *ch;
	struct nlmsghdr *nlh;
	char what[300];

	if ((ch = nftnl_chain_alloc()) == NULL)
		return -1;
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, n->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c->name);
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	if (c->base && !del) {
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, c->hook);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, c->prio);
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, c->type);
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, (uint32_t)c->policy);
	}
	snprintf(what, sizeof(what), "chain %s", c->name);
	nlh = batch_msg(n, b, del ? NFT_MSG_DELCHAIN : NFT_MSG_NEWCHAIN,
	    del ? 0 : NLM_F_CREATE, BK_CHAIN, what, NULL);
	if (!del)
		n->stats.chains_added++;
	if (nlh == NULL) {
		nftnl_chain_free(ch);
		return -1;
	}
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	batch_done(b, nlh);
	nftnl_chain_free(ch);
	return 0;
}

static int
emit_delset(struct nft *n, struct batch *b, const struct cset *cs)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	char what[FWCTL_NAME_MAX + 16];

	if ((s = nftnl_set_alloc()) == NULL)
		return -1;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, n->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, cs->name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	snprintf(what, sizeof(what), "set %s", cs->name);
	nlh = batch_msg(n, b, NFT_MSG_DELSET, 0, BK_SET, what, NULL);
	if (nlh == NULL) {
		nftnl_set_free(s);
		return -1;
	}
	nftnl_set_nlmsg_build_payload(nlh, s);
	batch_done(b, nlh);
	nftnl_set_free(s);
	return 0;
}

static int
emit_table(struct nft *n, struct batch *b, bool del)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	char what[300];

	if ((t = nftnl_table_alloc()) == NULL)
		return -1;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, n->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (!del)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, n->table_flags);
	snprintf(what, sizeof(what), "table inet %s", n->table);
	nlh = batch_msg(n, b, del ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE,
	    del ? 0 : NLM_F_CREATE, BK_TABLE, what, NULL);
	if (nlh == NULL) {
		nftnl_table_free(t);
		return -1;
	}
	nftnl_table_nlmsg_build_payload(nlh, t);
	batch_done(b, nlh);
	nftnl_table_free(t);
	return 0;
}

static int
batch_begin(struct nft *n, struct batch *b, uint32_t genid)
{
	struct nlmsghdr *nlh;
	char *p;

	b->seq0 = n->seq;
	lists_abort(n);
	if ((p = batch_room(b)) == NULL)
		return -1;
	nlh = nftnl_batch_begin(p, n->seq++);
	/* refused with ERESTART when someone committed since we read it */
	mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	batch_obj(b, nlh->nlmsg_seq, BK_BEGIN, "batch", NULL);
	batch_done(b, nlh);
	return b->err ? -1 : 0;
}

static int
batch_end(struct nft *n, struct batch *b)
{
	struct nlmsghdr *nlh;
	char *p;

	if ((p = batch_room(b)) == NULL)
		return -1;
	nlh = nftnl_batch_end(p, n->seq++);
	/* from kernel 6.10 this ACK comes only after a successful commit */
	nlh->nlmsg_flags |= NLM_F_ACK;
	b->end_seq = nlh->nlmsg_seq;
	batch_obj(b, nlh->nlmsg_seq, BK_END, "batch", NULL);
	batch_done(b, nlh);
	return b->err ? -1 : 0;
}

/* --- replies ---------------------------------------------------------- */

static int
reply_err(const struct nlmsghdr *nlh, void *data)
{
	struct reply *rp = data;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	size_t off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
		return MNL_CB_ERROR;
	if (err->error == 0) {
		if (err->msg.nlmsg_seq == rp->b->end_seq)
			rp->end_acked = true;
		return MNL_CB_OK;
	}
	if (rp->error != 0)
		return MNL_CB_OK;	/* the first one says why */
	rp->error = -err->error;
	rp->error_seq = err->msg.nlmsg_seq;
	/* extended ACK: the request is capped (CAP_ACK), TLVs follow */
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return MNL_CB_OK;
	off = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG)
			snprintf(rp->extack, sizeof(rp->extack), "%s",
			    mnl_attr_get_str(a));
	}
	return MNL_CB_OK;
}

static int
reply_data(const struct nlmsghdr *nlh, void *data)
{
	struct reply *rp = data;
	const struct nlattr *a;
	size_t i;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE || !rp->echo)
		return MNL_CB_OK;
	i = nlh->nlmsg_seq - rp->b->seq0;
	if (nlh->nlmsg_seq < rp->b->seq0 || i >= rp->b->nobjs ||
	    rp->b->objs[i].hslot == NULL)
		return MNL_CB_OK;
	/* the handle alone: no need to parse the expressions */
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_RULE_HANDLE &&
		    mnl_attr_validate(a, MNL_TYPE_U64) == 0)
			*rp->b->objs[i].hslot = be64toh(mnl_attr_get_u64(a));
	return MNL_CB_OK;
}

/* Sends the batch and reads every reply; the kernel has processed the
 * whole batch when sendmsg returns. 0 committed, -1 (rp->error set). */
static int
batch_send(struct nft *n, struct batch *b, struct reply *rp)
{
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = reply_err,
	};
	char *buf;
	size_t bufsz = 1 << 20;
	ssize_t len;
	int fd = mnl_socket_get_fd(n->nl), ret;

	rp->b = b;
	if (b->len + 4096 > n->sndbuf) {
		n->sndbuf = b->len * 2;
		set_bufs(n, SO_SNDBUFFORCE, n->sndbuf);
	}
	if (mnl_socket_sendto(n->nl, b->buf, b->len) < 0) {
		rp->error = errno;
		return -1;
	}
	if ((buf = malloc(bufsz)) == NULL) {
		rp->error = ENOMEM;
		return -1;
	}
	for (;;) {
		len = recv(fd, buf, bufsz, MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (rp->error == 0)
				rp->error = errno;
			break;
		}
		ret = mnl_cb_run2(buf, (size_t)len, 0, n->portid, reply_data,
		    rp, ctl, NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR && rp->error == 0)
			rp->error = errno ? errno : EPROTO;
	}
	free(buf);
	if (rp->error != 0)
		return -1;
	lists_commit(n);
	return 0;
}

static void
reply_diag(struct nft *n, struct batch *b, struct reply *rp, struct diags *d)
{
	struct bobj *o = NULL;
	size_t i = rp->error_seq - b->seq0;
	char extra[300] = "";

	if (rp->error_seq >= b->seq0 && i < b->nobjs)
		o = &b->objs[i];
	/* rules are named only when refused */
	if (o != NULL && o->what == NULL && o->rule != NULL)
		o->what = rule_what(o->rule);
	if (rp->extack[0] != '\0')
		snprintf(extra, sizeof(extra), " (%s)", rp->extack);
	if (o != NULL && o->kind == BK_TABLE && rp->error == EPERM)
		diags_add(d, NULL, "table inet %s belongs to another process "
		    "(is another fwctld running?): %s", n->table,
		    strerror(rp->error));
	else if (o != NULL && o->what != NULL && o->kind != BK_BEGIN &&
	    o->kind != BK_END)
		diags_add(d, o->loc, "kernel refused %s: %s%s", o->what,
		    strerror(rp->error), extra);
	else
		diags_add(d, NULL, "kernel refused the change to table "
		    "inet %s: %s%s", n->table, strerror(rp->error), extra);
}

/* --- dumps ------------------------------------------------------------ */

struct dumped {
	char		*chain;
	char		*comment;
	uint64_t	 handle;
	uint64_t	 packets;
	uint64_t	 bytes;
	void		*exprs;		/* NFTA_RULE_EXPRESSIONS' payload */
	uint32_t	 exprs_len;
};

struct dump {
	struct dumped	*v;
	size_t		 n;
	size_t		 cap;
	int		 err;
	bool		 counters;	/* read counters too */
	bool		 exprs;		/* keep the expressions (drift) */
};

static int
comment_cb(const struct nftnl_udata *attr, void *data)
{
	const char **out = data;
	const char *s = nftnl_udata_get(attr);
	uint8_t len = nftnl_udata_len(attr);

	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && len > 0 &&
	    s[len - 1] == '\0')
		*out = s;
	return 0;
}

static int
attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type <= NFTA_RULE_MAX)	/* the largest of the tables used */
		tb[type] = a;
	return MNL_CB_OK;
}

/* Packets and bytes of a rule's counter, read straight from the
 * attributes (libnftnl would build every expression). */
static void
dump_counter(const struct nlattr *exprs, struct dumped *e)
{
	const struct nlattr *el, *tb[NFTA_RULE_MAX + 1], *cb[NFTA_RULE_MAX + 1];

	mnl_attr_for_each_nested(el, exprs) {
		memset(tb, 0, sizeof(tb));
		if (mnl_attr_parse_nested(el, attr_cb, tb) < 0 ||
		    tb[NFTA_EXPR_NAME] == NULL || tb[NFTA_EXPR_DATA] == NULL ||
		    strcmp(mnl_attr_get_str(tb[NFTA_EXPR_NAME]),
		    "counter") != 0)
			continue;
		memset(cb, 0, sizeof(cb));
		if (mnl_attr_parse_nested(tb[NFTA_EXPR_DATA], attr_cb, cb) < 0)
			continue;
		if (cb[NFTA_COUNTER_PACKETS] != NULL &&
		    mnl_attr_validate(cb[NFTA_COUNTER_PACKETS],
		    MNL_TYPE_U64) == 0)
			e->packets = be64toh(mnl_attr_get_u64(
			    cb[NFTA_COUNTER_PACKETS]));
		if (cb[NFTA_COUNTER_BYTES] != NULL &&
		    mnl_attr_validate(cb[NFTA_COUNTER_BYTES],
		    MNL_TYPE_U64) == 0)
			e->bytes = be64toh(mnl_attr_get_u64(
			    cb[NFTA_COUNTER_BYTES]));
		return;
	}
}

static int
dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *dp = data;
	const struct nlattr *tb[NFTA_RULE_MAX + 1];
	struct dumped *e;
	const char *comment = NULL;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE)
		return MNL_CB_OK;
	memset(tb, 0, sizeof(tb));
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0 ||
	    tb[NFTA_RULE_CHAIN] == NULL || tb[NFTA_RULE_HANDLE] == NULL ||
	    mnl_attr_validate(tb[NFTA_RULE_HANDLE], MNL_TYPE_U64) < 0 ||
	    mnl_attr_validate(tb[NFTA_RULE_CHAIN], MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;
	if (dp->n == dp->cap) {
		size_t ncap = dp->cap ? dp->cap * 2 : 256;
		struct dumped *nv = reallocarray(dp->v, ncap, sizeof(*nv));

		if (nv == NULL) {
			dp->err = ENOMEM;
			return MNL_CB_OK;
		}
		dp->v = nv;
		dp->cap = ncap;
	}
	e = &dp->v[dp->n];
	memset(e, 0, sizeof(*e));
	e->handle = be64toh(mnl_attr_get_u64(tb[NFTA_RULE_HANDLE]));
	if ((e->chain = strdup(mnl_attr_get_str(tb[NFTA_RULE_CHAIN]))) ==
	    NULL) {
		dp->err = ENOMEM;
		return MNL_CB_OK;
	}
	if (tb[NFTA_RULE_USERDATA] != NULL)
		nftnl_udata_parse(mnl_attr_get_payload(tb[NFTA_RULE_USERDATA]),
		    mnl_attr_get_payload_len(tb[NFTA_RULE_USERDATA]),
		    comment_cb, &comment);
	if (comment != NULL && (e->comment = strdup(comment)) == NULL) {
		free(e->chain);
		dp->err = ENOMEM;
		return MNL_CB_OK;
	}
	if (dp->counters && tb[NFTA_RULE_EXPRESSIONS] != NULL)
		dump_counter(tb[NFTA_RULE_EXPRESSIONS], e);
	if (dp->exprs && tb[NFTA_RULE_EXPRESSIONS] != NULL) {
		e->exprs_len = mnl_attr_get_payload_len(
		    tb[NFTA_RULE_EXPRESSIONS]);
		if ((e->exprs = malloc(e->exprs_len + 1)) == NULL) {
			free(e->chain);
			free(e->comment);
			dp->err = ENOMEM;
			return MNL_CB_OK;
		}
		memcpy(e->exprs, mnl_attr_get_payload(
		    tb[NFTA_RULE_EXPRESSIONS]), e->exprs_len);
	}
	dp->n++;
	return MNL_CB_OK;
}

static void
dump_free(struct dump *dp)
{
	size_t i;

	for (i = 0; i < dp->n; i++) {
		free(dp->v[i].chain);
		free(dp->v[i].comment);
		free(dp->v[i].exprs);
	}
	free(dp->v);
	memset(dp, 0, sizeof(*dp));
}

struct names {
	char		**v;
	size_t		 n;
	size_t		 cap;
	int		 err;
};

static int
chain_name_cb(const struct nlmsghdr *nlh, void *data)
{
	struct names *nm = data;
	const struct nlattr *tb[NFTA_RULE_MAX + 1];
	char *s;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWCHAIN)
		return MNL_CB_OK;
	memset(tb, 0, sizeof(tb));
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0 ||
	    tb[NFTA_CHAIN_NAME] == NULL ||
	    mnl_attr_validate(tb[NFTA_CHAIN_NAME], MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;
	if ((s = strdup(mnl_attr_get_str(tb[NFTA_CHAIN_NAME]))) == NULL ||
	    ptr_push(&nm->v, &nm->n, &nm->cap, s) == -1) {
		free(s);
		nm->err = ENOMEM;
	}
	return MNL_CB_OK;
}

static void
names_free(struct names *nm)
{
	size_t i;

	for (i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
	memset(nm, 0, sizeof(*nm));
}

/* One dump request: the table's chains (chain == NULL, into nm) or one
 * chain's rules (into dp). */
static int
dump_one(struct nft *n, const char *chain, struct names *nm,
    struct dump *dp)
{
	char buf[1024];
	struct nlmsghdr *nlh;
	struct nftnl_rule *r;
	struct nftnl_chain *c;

	if (chain == NULL) {
		if ((c = nftnl_chain_alloc()) == NULL)
			return -1;
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, n->table);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN,
		    NFPROTO_INET, NLM_F_DUMP, n->seq++);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nftnl_chain_free(c);
		return talk(n, nlh, chain_name_cb, nm);
	}
	if ((r = nftnl_rule_alloc()) == NULL)
		return -1;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, n->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET,
	    NLM_F_DUMP, n->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return talk(n, nlh, dump_cb, dp);
}

/*
 * Every rule of our table, chain by chain. One dump of the whole table
 * costs the kernel time quadratic in its size (each part of the dump
 * walks the table from the start), one dump per chain does not. Started
 * again when a commit happens meanwhile (EINTR, or a new generation).
 */
static int
dump_rules(struct nft *n, struct dump *dp)
{
	struct names nm = { 0 };
	uint32_t g0, g1;
	size_t i;
	int tries, rc = -1;
	bool counters = dp->counters, exprs = dp->exprs;

	for (tries = 0; tries < 10; tries++) {
		dump_free(dp);
		names_free(&nm);
		dp->counters = counters;
		dp->exprs = exprs;
		if (get_genid(n, &g0) == -1)
			break;
		if ((rc = dump_one(n, NULL, &nm, NULL)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (nm.err) {
			errno = nm.err;
			rc = -1;
			break;
		}
		for (i = 0; i < nm.n && rc != -1; i++)
			rc = dump_one(n, nm.v[i], NULL, dp);
		if (rc == -1 && errno != EINTR)
			break;
		if (rc != -1 && get_genid(n, &g1) != -1 && g1 == g0)
			break;
		rc = -1;
		errno = EINTR;
	}
	names_free(&nm);
	if (rc == -1 || dp->err) {
		if (dp->err)
			errno = dp->err;
		dump_free(dp);
		return -1;
	}
	return 0;
}

/* --- diff -------------------------------------------------------------- */

static char *
pair_key(const char *chain, const char *key)
{
	char *s;

	return asprintf(&s, "%s\n%s", chain, key) == -1 ? NULL : s;
}

static void
elem_key(const struct celem *e, char *buf, size_t len)
{
	size_t i, o = 0;

	o += (size_t)snprintf(buf, len, "%c", e->end ? 'E' : 'S');
	for (i = 0; i < e->key_len && o + 3 < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%02x", e->key[i]);
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

static void
unit_key(const struct cset *s, size_t j, char *buf, size_t len)
{
	size_t o;

	elem_key(&s->elems[j], buf, len);
	if (unit_len(s, j) == 2) {
		o = strlen(buf);
		elem_key(&s->elems[j + 1], buf + o, len - o);
	}
	/* a group's element is its rule's: a renamed rule is another one */
	if (s->elems[j].comment != NULL) {
		o = strlen(buf);
		snprintf(buf + o, len - o, "/%s", s->elems[j].comment);
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

static bool
set_same(const struct cset *a, const struct cset *b)
{
	return a->flags == b->flags && a->key_type == b->key_type &&
	    a->key_len == b->key_len && a->data_type == b->data_type &&
	    a->timeout_ms == b->timeout_ms && a->counters == b->counters;
}

/* Does rule r look up one of the named sets in 'gone'? */
static bool
rule_uses(const struct crule *r, const struct strmap *gone)
{
	size_t i;

	for (i = 0; i < r->nexprs; i++)
		if (r->exprs[i].type == CX_LOOKUP && r->exprs[i].set != NULL &&
		    strmap_gets(gone, r->exprs[i].set) != NULL)
			return true;
	return false;
}

struct work {
	struct cplan	 next;
	uint64_t	*hash;		/* by next rule index */
	struct seed	*seeds;		/* by next rule index, or NULL */
	struct strmap	*eseeds;	/* group set elements: pair_key(chain,
					 * rule name) -> struct seed, or NULL */
	struct seed	*eseedv;	/* what eseeds points into */
	struct kstate	 st;		/* the picture after the commit */
	bool		 echo;
};

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
static uint64_t
next_handle(struct kent *const *v, size_t n, size_t i)
{
	for (; i < n; i++)
		if (v[i]->handle != 0)
			return v[i]->handle;
	return 0;
}

/* Handle of the jump of the first kept sub-chain after segs[k], else of
 * the first own rule the kernel has, else 0 (the end of the chain). */
static uint64_t
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

/*
 * The elements of a that b lacks, compared by whole units (an interval's
 * start and end travel together), into *evp (replaced). Their count, or
 * -1 on ENOMEM.
 */
static ssize_t
elems_lacking(const struct cset *a, const struct cset *b,
    const struct celem ***evp)
{
	static char mark;
	struct strmap *keys;
	const struct celem **ev;
	char eb[160];
	size_t j, m = 0;

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
 * Builds the batch that turns what the kernel holds (n->st and n->cur,
 * nothing when full) into w->next, and the picture after it in w->st.
 */
static int
build(struct nft *n, struct work *w, struct batch *b, bool full,
    bool table_exists)
{
	struct cplan *cur = &n->cur, *nx = &w->next;
	struct kstate *ost = &n->st, *st = &w->st;
	struct strmap *gone = NULL, *chainidx = NULL;
	struct kchain **oldc = NULL, *oc, *nc;
	struct kent **match = NULL, **cand = NULL, *e;
	struct kseg *sg;
	ssize_t *sub = NULL, *nextseg = NULL;
	char *keep = NULL, name[600];
	size_t *chainof = NULL, *start = NULL, *order = NULL;
	size_t i, j, k, m, p, ci, nadd = 0;
	const struct celem **ev = NULL;
	ssize_t nel;
	int rc = -1;
	bool user;
	static char mark;

	if (kstate_init(st, nx->nrules) == -1 ||
	    (gone = strmap_new(8)) == NULL ||
	    (oldc = calloc(nx->nchains + 1, sizeof(*oldc))) == NULL ||
	    (match = calloc(nx->nrules + 1, sizeof(*match))) == NULL ||
	    (cand = calloc(nx->nrules + 1, sizeof(*cand))) == NULL ||
	    (sub = calloc(nx->nrules + 1, sizeof(*sub))) == NULL ||
	    (nextseg = calloc(nx->nrules + 1, sizeof(*nextseg))) == NULL ||
	    (keep = calloc(nx->nrules + 1, 1)) == NULL ||
	    (order = calloc(nx->nrules + 1, sizeof(*order))) == NULL ||
	    (chainof = calloc(nx->nrules + 1, sizeof(*chainof))) == NULL ||
	    (start = calloc(nx->nchains + 2, sizeof(*start))) == NULL ||
	    (chainidx = strmap_new(nx->nchains)) == NULL)
		goto out;

	if (full) {
		/* the table is made again, and its lists with it */
		lists_reset(n);
		if (table_exists && emit_table(n, b, true) == -1)
			goto out;
		if (emit_table(n, b, false) == -1)
			goto out;
	}

	/* named sets that are new or redefined */
	for (i = 0; i < nx->nsets; i++) {
		const struct cset *s = cplan_set(cur, nx->sets[i].name);

		if (s == NULL || !set_same(s, &nx->sets[i]))
			if (strmap_puts(gone, nx->sets[i].name, &mark) == -1)
				goto out;
	}
	for (i = 0; i < cur->nsets; i++)
		if (cplan_set(nx, cur->sets[i].name) == NULL &&
		    strmap_puts(gone, cur->sets[i].name, &mark) == -1)
			goto out;

	/* rules bucketed by chain; a counting sort keeps their order */
	for (i = 0; i < nx->nchains; i++)
		if (strmap_puts(chainidx, nx->chains[i].name,
		    (void *)(i + 1)) == -1)
			goto out;
	for (i = 0; i < nx->nrules; i++) {
		ci = (size_t)strmap_gets(chainidx, nx->rules[i].chain);
		if (ci == 0) {
			errno = EINVAL;	/* a rule in a chain not in the plan */
			goto out;
		}
		chainof[i] = ci - 1;
		start[ci]++;
	}
	for (i = 0; i < nx->nchains; i++)
		start[i + 1] += start[i];
	for (i = 0; i < nx->nrules; i++)
		order[start[chainof[i]]++] = i;
	for (i = nx->nchains; i > 0; i--)
		start[i] = start[i - 1];
	start[0] = 0;
	/* sub-chains hold the user rules at the head of a pair chain */
	for (ci = 0; ci < nx->nchains; ci++) {
		bool own = false;

		for (j = start[ci]; j < start[ci + 1]; j++) {
			if (nx->rules[order[j]].name == NULL)
				own = true;
			else if (own)
				nx->chains[ci].pair = false;
		}
	}

	/* chains kept; in them, rules with the same key and content, not
	 * using a set made again; of those the longest run in the old
	 * order stays */
	for (i = 0; i < ost->n; i++) {
		oc = ost->v[i];
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
	for (ci = 0; ci < nx->nchains && !full; ci++) {
		const struct cchain *c = &nx->chains[ci];
		size_t lo = start[ci], cnt = start[ci + 1] - lo;

		oc = kstate_chain(ost, c->name);
		if (oc == NULL || !chain_same(&oc->def, c) ||
		    oc->def.pair != c->pair)
			continue;
		oldc[ci] = oc;
		oc->reused = true;
		for (j = 0; j < cnt; j++) {
			const struct crule *r = &nx->rules[order[lo + j]];

			sub[j] = -1;
			e = kchain_find(ost, oc, r->key,
			    c->pair && r->name != NULL);
			user = c->pair && r->name != NULL;
			if (e == NULL || e->hash != w->hash[order[lo + j]] ||
			    (e->seg != NULL) != user || rule_uses(r, gone))
				continue;
			cand[j] = e;
			sub[j] = (ssize_t)e->aux;
		}
		memset(keep, 0, cnt);
		if (lis(sub, cnt, keep) == -1)
			goto out;
		for (j = 0; j < cnt; j++)
			if (keep[j]) {
				match[order[lo + j]] = cand[j];
				cand[j]->keep = true;
			}
		memset(cand, 0, cnt * sizeof(*cand));
	}

	/* the picture after the change: kept rules stay in their segment,
	 * a new rule goes into the segment of the next rule that stays,
	 * or at the end, where a full segment opens a new sub-chain */
	for (ci = 0; ci < nx->nchains; ci++) {
		const struct cchain *c = &nx->chains[ci];
		size_t lo = start[ci], cnt = start[ci + 1] - lo;
		ssize_t ns = -1;

		oc = oldc[ci];
		if ((nc = kstate_add_chain(st, c)) == NULL)
			goto out;
		if (oc != NULL) {
			nc->next_id = oc->next_id;
			for (k = 0; k < oc->nsegs; k++) {
				if ((sg = kchain_add_seg(nc,
				    oc->segs[k]->id)) == NULL)
					goto out;
				sg->jump = oc->segs[k]->jump;
			}
		} else if (c->pair && kchain_add_seg(nc, 0) == NULL)
			goto out;
		for (j = cnt; j > 0; j--) {
			i = order[lo + j - 1];
			nextseg[j - 1] = ns;
			if (match[i] != NULL && match[i]->seg != NULL)
				ns = (ssize_t)match[i]->seg->aux;
		}
		for (j = 0; j < cnt; j++) {
			const struct crule *r;

			i = order[lo + j];
			r = &nx->rules[i];
			sg = NULL;
			if (c->pair && r->name != NULL) {
				if (match[i] != NULL)
					sg = nc->segs[match[i]->seg->aux];
				else if (nextseg[j] >= 0)
					sg = nc->segs[nextseg[j]];
				else {
					sg = nc->segs[nc->nsegs - 1];
					if (sg->n >= SEG_MAX) {
						if ((sg = kchain_add_seg(nc,
						    nc->next_id++)) == NULL)
							goto out;
						sg->fresh = true;
					}
				}
			}
			if ((e = kchain_add_ent(st, nc, sg, r->key,
			    w->hash[i], match[i] != NULL ?
			    match[i]->handle : 0)) == NULL)
				goto out;
			e->aux = i;
			if (e->handle == 0)
				nadd++;
		}
		for (k = 1; k < nc->nsegs; k++)
			if (nc->segs[k]->fresh || oc == NULL) {
				nc->segs[k]->fresh = true;
				nadd++;
			}
	}

	if (!full) {
		/* 1. rules that go; the jumps and chains of chains that go */
		for (i = 0; i < ost->n; i++) {
			oc = ost->v[i];
			for (k = 0; k < oc->nsegs; k++) {
				sg = oc->segs[k];
				for (j = 0; j < sg->n; j++)
					if (!sg->v[j]->keep &&
					    emit_delrule(n, b, seg_chain(oc, sg,
					    name, sizeof(name)), sg->v[j]->key,
					    sg->v[j]->handle) == -1)
						goto out;
			}
			for (j = 0; j < oc->nown; j++)
				if (!oc->own[j]->keep &&
				    emit_delrule(n, b, oc->def.name,
				    oc->own[j]->key, oc->own[j]->handle) == -1)
					goto out;
			if (oc->reused)
				continue;
			for (k = 1; k < oc->nsegs; k++)
				if (emit_delrule(n, b, oc->def.name, "~jump",
				    oc->segs[k]->jump) == -1)
					goto out;
		}
		/* 2. elements that go, sets that go, chains that go */
		for (i = 0; i < nx->nsets; i++) {
			const struct cset *ns = &nx->sets[i];
			const struct cset *os = cplan_set(cur, ns->name);

			if (os == NULL || strmap_gets(gone, ns->name) != NULL)
				continue;
			if ((nel = elems_lacking(os, ns, &ev)) == -1)
				goto out;
			m = (size_t)nel;
			n->stats.elems_deleted += m;
			if (m > 0 && emit_elems(n, b, ns, false, 0, ev, m,
			    true, NULL, NULL) == -1)
				goto out;
		}
		for (i = 0; i < cur->nsets; i++)
			if (strmap_gets(gone, cur->sets[i].name) != NULL &&
			    emit_delset(n, b, &cur->sets[i]) == -1)
				goto out;
		for (i = 0; i < ost->n; i++) {
			oc = ost->v[i];
			if (oc->reused)
				continue;
			for (k = 1; k < oc->nsegs; k++)
				if (emit_subchain(n, b, seg_chain(oc,
				    oc->segs[k], name, sizeof(name)),
				    true) == -1)
					goto out;
			if (emit_chain(n, b, &oc->def, true) == -1)
				goto out;
		}
	}
	/* 3. chains that come, sets that come, elements that come */
	for (ci = 0; ci < nx->nchains; ci++) {
		nc = st->v[ci];
		if (oldc[ci] == NULL && emit_chain(n, b, &nx->chains[ci],
		    false) == -1)
			goto out;
		for (k = 1; k < nc->nsegs; k++)
			if (nc->segs[k]->fresh && emit_subchain(n, b,
			    seg_chain(nc, nc->segs[k], name, sizeof(name)),
			    false) == -1)
				goto out;
	}
	for (i = 0; i < nx->nsets; i++) {
		const struct cset *ns = &nx->sets[i];
		const struct cset *os = cplan_set(cur, ns->name);
		char what[FWCTL_NAME_MAX + 8];

		if (strmap_gets(gone, ns->name) != NULL) {
			snprintf(what, sizeof(what), "set %s", ns->name);
			n->stats.elems_added += ns->nelems;
			if (emit_set(n, b, ns, false, ++n->set_id, what,
			    ns->loc, w->eseeds) == -1)
				goto out;
			continue;
		}
		if ((nel = elems_lacking(ns, os, &ev)) == -1)
			goto out;
		m = (size_t)nel;
		n->stats.elems_added += m;
		if (m > 0 && emit_elems(n, b, ns, false, 0, ev, m, false,
		    ns->loc, w->eseeds) == -1)
			goto out;
	}
	/* 4. rules that come: per chain segment 0, the jumps, fwctl's own
	 * rules, then the sub-chains */
	/* handles: known in a new table, else echoed, else dumped */
	b->predict = full;
	w->echo = !full && nadd <= ECHO_MAX;
	for (ci = 0; ci < nx->nchains; ci++) {
		nc = st->v[ci];
		if (nc->nsegs > 0 && emit_seg(n, w, b, nc, 0) == -1)
			goto out;
		for (k = 1; k < nc->nsegs; k++)
			if (nc->segs[k]->fresh && emit_jump(n, b, nc->def.name,
			    seg_chain(nc, nc->segs[k], name, sizeof(name)),
			    after_seg(nc, k), w->echo, &nc->segs[k]->jump) == -1)
				goto out;
		/* fwctl's own rules: few, before the next one that stays
		 * (known before any of them is given a handle) */
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
			if (emit_rule(n, b, &nx->rules[e->aux], NULL, bh,
			    w->echo, w->seeds ? &w->seeds[e->aux] : NULL,
			    &e->handle) == -1)
				goto out;
		}
		for (k = 1; k < nc->nsegs; k++)
			if (emit_seg(n, w, b, nc, k) == -1)
				goto out;
	}
	if (!full && lists_gc(n, b, nx) == -1)
		goto out;
	rc = b->err ? -1 : 0;
 out:
	free(oldc);
	free(match);
	free(cand);
	free(sub);
	free(nextseg);
	free(keep);
	free(chainof);
	free(start);
	free(order);
	free(ev);
	strmap_free(chainidx);
	strmap_free(gone);
	return rc;
}

/* The rule with this handle in chain, into dp (counters too when
 * dp->counters): 1 when the kernel has it, 0 when not, -1 on error. */
static int
get_rule(struct nft *n, const char *chain, uint64_t handle, struct dump *dp)
{
	char buf[1024];
	struct nlmsghdr *nlh;
	struct nftnl_rule *r;

	if ((r = nftnl_rule_alloc()) == NULL)
		return -1;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, n->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET,
	    NLM_F_ACK, n->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	if (talk(n, nlh, dump_cb, dp) == -1)
		return errno == ENOENT ? 0 : -1;
	return dp->n == 1 && dp->v[0].handle == handle;
}

/* Whether the rule with this handle is in chain and has this comment:
 * 1 yes, 0 no, -1 error. */
static int
rule_is(struct nft *n, const char *chain, uint64_t handle,
    const char *comment)
{
	struct dump dp = { 0 };
	int rc;

	if ((rc = get_rule(n, chain, handle, &dp)) != 1) {
		dump_free(&dp);
		return rc;
	}
	rc = dp.n == 1 && dp.v[0].handle == handle &&
	    strcmp(dp.v[0].chain, chain) == 0 &&
	    (comment == NULL ? dp.v[0].comment == NULL :
	    dp.v[0].comment != NULL && strcmp(dp.v[0].comment, comment) == 0);
	dump_free(&dp);
	return rc;
}

/* The counter of rule e of the picture, into *s; left unset when it cannot
 * be read (the new rule then counts from zero). */
static void
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

/* "lan-self/3" -> "lan-self": no zone name starts with a digit, so a last
 * component of digits alone is always a sub-chain's number. */
static void
seg_strip(char *chain)
{
	char *p = strrchr(chain, '/');

	if (p == NULL || p[1] == '\0' || p[strspn(p + 1, "0123456789") + 1] !=
	    '\0')
		return;
	*p = '\0';
}

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

static int
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
	char buf[1024];
	struct nlmsghdr *nlh;
	struct nftnl_set *s;

	if ((s = nftnl_set_alloc()) == NULL)
		return -1;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, n->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, cs->name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET,
	    NLM_F_DUMP, n->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return talk(n, nlh, group_elems_cb, g);
}

/*
 * Adopting a table (first apply after a restart): it is built again, but
 * every rule starts with the counters the old table had for the rule of
 * the same chain and comment (the n-th copy for the n-th copy), so a
 * restart does not reset what users see.
 */
static void
seed_counters(struct nft *n, struct work *w)
{
	struct dump dp = { 0 };
	struct strmap *idx = NULL;
	size_t i, at, *nextcopy = NULL;
	char *k = NULL;

	dp.counters = true;
	if (dump_rules(n, &dp) == -1)
		return;
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
 * The counters the kernel holds now, into old (idx: pair_key -> position
 * + 1): with rules, every user rule of the picture, by its chain and key
 * (found by handle); and the elements of the group sets among
 * sets[0..nsets), by their chain and rule name. A group rule's element
 * and the rule of the same name outside a group share a key. What cannot
 * be read is left out; -1 on ENOMEM only.
 */
static int
old_counters(struct nft *n, bool rules, const struct cset *sets,
    size_t nsets, struct nft_counters *old, struct strmap *idx)
{
	struct dump dp = { 0 };
	struct strmap *byhandle = NULL;
	struct kchain *c;
	struct kent *e;
	size_t i, j, k;
	char *pk;
	int rc = -1, added;

	dp.counters = true;
	if (rules && dump_rules(n, &dp) == 0) {
		if ((byhandle = strmap_new(dp.n)) == NULL)
			goto out;
		for (i = 0; i < n->st.n; i++) {
			c = n->st.v[i];
			for (k = 0; k < c->nsegs; k++)
				for (j = 0; j < c->segs[k]->n; j++) {
					e = c->segs[k]->v[j];
					if (strmap_put(byhandle, &e->handle,
					    sizeof(e->handle), e) == -1)
						goto out;
				}
		}
		for (i = 0; i < dp.n; i++) {
			if ((e = strmap_get(byhandle, &dp.v[i].handle,
			    sizeof(dp.v[i].handle))) == NULL)
				continue;
			if ((pk = pair_key(e->chain->def.name, e->key)) == NULL)
				goto out;
			added = ctr_add(old, idx, pk, dp.v[i].packets,
			    dp.v[i].bytes);
			free(pk);
			if (added == -1)
				goto out;
		}
	}
	for (i = 0; i < nsets; i++) {
		struct gctr g = { .out = old, .idx = idx };

		if (!sets[i].counters ||
		    (g.clen = group_chain(sets[i].name, &g.chain)) == 0)
			continue;
		if (group_counters(n, &sets[i], &g) == -1 && g.err == 0)
			continue;	/* gone, or unreadable: not carried */
		if (g.err)
			goto out;
	}
	rc = 0;
 out:
	strmap_free(byhandle);
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

/* After a restart: the elements of the group sets the new plan names
 * start with what the kernel's sets of those names counted. */
static void
seed_elem_counters(struct nft *n, struct work *w)
{
	struct nft_counters old = { 0 };
	struct strmap *idx;

	if ((idx = strmap_new(64)) == NULL)
		return;
	if (old_counters(n, false, w->next.sets, w->next.nsets, &old,
	    idx) == 0 && old.n > 0)
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

/*
 * Counters follow a rule whose kernel object is made again although the
 * rule did not change (but for its comment): a group split, joined or
 * renamed, a rule that moved. After a first build, the new objects (user
 * rules without a handle, group elements the kernel lacks) of such rules
 * look up the counters of the old objects, read now, by chain and key; a
 * rule leaving a group takes its element's count, one joining it its
 * rule's. 1 when something was seeded (the caller builds again), 0 when
 * nothing is to carry, -1 on ENOMEM. Packets counted between the read
 * and the commit are lost to the count.
 */
static int
carry_counters(struct nft *n, struct work *w, const struct ruleset *prev,
    const struct ruleset *next)
{
	const struct cplan *nx = &w->next;
	const struct cset none = { 0 };
	struct nameidx *pidx = NULL, *nidx = NULL;
	struct strmap *want = NULL, *idx = NULL;
	struct nft_counters old = { 0 };
	const struct celem **ev = NULL;
	const struct crule *r;
	const char *chain;
	size_t *rules = NULL, nr = 0, i, j, k, at, clen;
	ssize_t m;
	char key[1024], *pk;
	int rc = -1, kept;
	static char mark;

	if (prev == NULL)
		return 0;
	if ((want = strmap_new(16)) == NULL ||
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
			if (kept && strmap_puts(want, key, &mark) == -1)
				goto out;
		}
	}
	rc = 0;
	if (nr == 0 && strmap_count(want) == 0)
		goto out;
	rc = -1;
	if ((idx = strmap_new(64)) == NULL ||
	    old_counters(n, true, n->cur.sets, n->cur.nsets, &old, idx) == -1)
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
	free(rules);
	free(ev);
	nameidx_free(pidx);
	nameidx_free(nidx);
	strmap_free(want);
	strmap_free(idx);
	nft_counters_free(&old);
	return rc;
}

/* Whether plan is only set elements of sets we hold: then the change
 * needs neither a compile nor a diff. */
static bool
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

/* An element's key in a set's index: start or end, and the key bytes. */
static size_t
eidx_key(const struct celem *e, char *buf)
{
	buf[0] = e->end ? 'E' : 'S';
	memcpy(buf + 1, e->key, e->key_len);
	return 1 + e->key_len;
}

/* The index of the elements of n->cur.sets[i] (key -> position + 1),
 * made on first use; elements removed since are holes (key_len 0) until
 * the next whole diff packs the set. */
static struct strmap *
cur_eidx(struct nft *n, size_t i)
{
	struct cset *cs = &n->cur.sets[i];
	char k[40];
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

static void
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
static void
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
	}
}

/* Keeps our picture of set i in step after an element change. */
static int
cur_elems_update(struct nft *n, size_t si, const struct cset *tmp, bool add)
{
	struct cset *cs = &n->cur.sets[si];
	struct strmap *ix;
	struct celem *e;
	char k[40];
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
static int
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
	int tries, rc = -1;
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
	for (tries = 0; tries < 3; tries++) {
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
		n->stats.msgs = b.nobjs;
		n->stats.bytes = b.len;
		if (batch_send(n, &b, &rp) == 0)
			break;
		if (rp.error == ERESTART)
			continue;
		reply_diag(n, &b, &rp, d);
		goto out;
	}
	if (tries == 3) {
		diags_add(d, NULL, "the ruleset kept changing under fwctl; "
		    "nothing was applied");
		goto out;
	}
	for (i = 0; i < nruns; i++)
		if (cur_elems_update(n, run_si[i], &tmp[i], run_add[i]) == -1) {
			state_clear(n);	/* the next apply rebuilds */
			break;
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
static int
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

/* --- splitting a segment that grew ------------------------------------- */

/*
 * Moves the second half of segment k of chain c into a new sub-chain
 * right after it, in one transaction: the moved rules are compiled again
 * from the model (their hash must not change) and start with the counters
 * the kernel had for them a moment before. Returns 0 / -1; on -1 nothing
 * changed, or our picture was dropped.
 */
static int
split_seg(struct nft *n, const struct ruleset *next,
    const struct strmap *byname, struct kchain *c, size_t k)
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
		if (compile_rule_chains(next, ru, &tmp, &d) == -1)
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
	for (tries = 0; tries < 3; tries++) {
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
	if (tries == 3)
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

/* Splits every segment that grew past SEG_SPLIT through inserts. */
static void
split_big(struct nft *n, const struct ruleset *next)
{
	struct strmap *byname = NULL;
	struct kchain *c;
	size_t i, k;

	for (i = 0; i < n->st.n && n->have; i++) {
		c = n->st.v[i];
		for (k = 0; k < c->nsegs && n->have; k++) {
			if (c->segs[k]->n <= SEG_SPLIT)
				continue;
			if (byname == NULL) {
				size_t r;

				if ((byname = strmap_new(next->nrules)) == NULL)
					return;
				for (r = 0; r < next->nrules; r++)
					if (strmap_puts(byname,
					    next->rules[r]->name,
					    next->rules[r]) == -1) {
						strmap_free(byname);
						return;
					}
			}
			/* a failure leaves a big segment: still right */
			(void)split_seg(n, next, byname, c, k);
		}
	}
	strmap_free(byname);
}

/* --- one rule at a time ------------------------------------------------ */

struct fitem {
	const struct rule *ru;
	size_t		 mi;		/* index in next */
	size_t		 first;		/* its kernel rules in the compile */
	size_t		 last;
	bool		 carry;		/* moved, or only its comment changed:
					 * its counts go along */
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

static int
fitem_cmp(const void *a, const void *b)
{
	const struct fitem *x = a, *y = b;

	return x->mi < y->mi ? -1 : x->mi > y->mi;
}

/* The first kernel copy in chain c of the first rule after next->rules[mi]
 * that has one there and stays: a new rule goes just before it. *unsure
 * is set when the walk passed a rule that may be part of a group (whose
 * kernel rule has no copy under the rule's name). */
static struct kent *
neighbour(struct nft *n, const struct ruleset *next, size_t mi,
    const struct kchain *c, const struct strmap *planned, bool *unsure)
{
	struct kent *e;
	size_t k;

	for (k = mi + 1; k < next->nrules; k++) {
		if (strmap_gets(planned, next->rules[k]->name) != NULL)
			continue;
		for (e = strmap_gets(n->st.names, next->rules[k]->name);
		    e != NULL; e = e->next_copy)
			if (e->chain == c)
				return e;
		if (compile_rule_grouped(next, k)) {
			*unsure = true;
			return NULL;
		}
	}
	return NULL;
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

/*
 * A plan made of rules alone (the engine's one-item plans, or a replace
 * that differs in a few rules): only those rules are compiled, their old
 * copies deleted by handle and the new ones put before the next rule that
 * stays, found through the names index. Nothing here grows with the
 * ruleset but the walk to that neighbour. Returns 1 when the plan is not
 * one this path takes (the caller diffs the whole table), else 0 / -1.
 */
static int
apply_rules(struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan, struct diags *d)
{
	struct strmap *planned = NULL, *byname = NULL;
	struct fitem *items = NULL;
	struct fadd *adds = NULL, *a;
	struct fseg *fsegs = NULL;
	struct seed *seeds = NULL;
	struct kent **dels = NULL, *e;
	struct cplan tmp;
	struct batch b = { 0 };
	struct reply rp = { 0 };
	struct kseg *last;
	char name[600];
	const char *chain;
	uint64_t before;
	uint32_t genid;
	size_t i, j, k, nitems = 0, ndels = 0, dels_cap = 0, nfsegs = 0;
	ssize_t mi;
	int tries, rc = -1;
	bool unsure = false;
	static char mark;

	memset(&tmp, 0, sizeof(tmp));
	if (!n->have || prev == NULL || plan == NULL || plan->n == 0 ||
	    plan->n > FAST_MAX)
		return 1;
	for (i = 0; i < plan->n; i++)
		if (plan->v[i].kind != PLAN_RULE)
			return 1;
	if ((planned = strmap_new(plan->n)) == NULL ||
	    (items = calloc(plan->n, sizeof(*items))) == NULL)
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
		/* a rule in or next to a group changes the group's set or
		 * splits it: the whole diff does that */
		if ((it->op == PLAN_REMOVE || it->op == PLAN_CHANGE) &&
		    compile_grouping() &&
		    ((mi = plan_rule_index(prev, it)) == -1 ||
		    compile_rule_grouped(prev, (size_t)mi))) {
			rc = 1;
			goto out;
		}
		if (it->op == PLAN_REMOVE || it->op == PLAN_CHANGE)
			for (e = strmap_gets(n->st.names, it->name); e != NULL;
			    e = e->next_copy)
				if (ptr_push(&dels, &ndels, &dels_cap,
				    e) == -1)
					goto nomem;
		if (it->op == PLAN_ADD || it->op == PLAN_CHANGE) {
			if (byname != NULL)
				mi = (ssize_t)(size_t)strmap_gets(byname,
				    it->name) - 1;
			else
				mi = plan_rule_index(next, it);
			if (mi == -1 || compile_rule_grouped(next,
			    (size_t)mi)) {
				rc = 1;	/* not what next says, or a group */
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
	for (i = 0; i < nitems; i++) {
		items[i].first = tmp.nrules;
		if (compile_rule_chains(next, items[i].ru, &tmp, d) == -1) {
			if (d->n == 0)
				diags_add(d, NULL, "compile: %s",
				    strerror(ENOMEM));
			goto out;
		}
		items[i].last = tmp.nrules;
	}
	n->stats.compiled_rules = nitems;
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
			a->before = neighbour(n, next, items[i].mi, a->c,
			    planned, &unsure);
			if (unsure) {
				rc = 1;	/* next to a group: diff it */
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

	for (tries = 0; tries < 3; tries++) {
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
		if (b.nobjs == 1) {
			n->stats.msgs = 0;	/* nothing to send */
			rc = 0;
			goto out;
		}
		if (batch_end(n, &b) == -1)
			goto nomem;
		n->stats.msgs = b.nobjs;
		n->stats.bytes = b.len;
		if (batch_send(n, &b, &rp) == 0)
			break;
		if (rp.error == ERESTART || rp.error == EINTR)
			continue;
		if (nft_table_present(n) != 1 || nft_drifted(n)) {
			/* our picture is wrong: the caller rebuilds */
			state_clear(n);
			rc = 1;
			goto out;
		}
		reply_diag(n, &b, &rp, d);
		goto out;
	}
	if (tries == 3) {
		diags_add(d, NULL, "the ruleset kept changing under fwctl; "
		    "nothing was applied");
		goto out;
	}

	/* committed: the picture follows */
	for (i = 0; i < ndels; i++)
		kent_drop(&n->st, dels[i]);
	ndels = 0;
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
	free(seeds);
	free(dels);
	free(items);
	strmap_free(planned);
	strmap_free(byname);
	cplan_free(&tmp);
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
static int
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
	char *chain = NULL, prefix[600], k[40];
	size_t si, at = 0, len, j, live;
	uint32_t genid;
	ssize_t mi;
	int tries, rc = 1;
	bool add;

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
	if ((rc = compile_group_step(rs, (size_t)mi, &chain, &el,
	    &pel)) != 0)
		goto out;
	rc = 1;
	/* the group of the rule before, by its key and name */
	snprintf(prefix, sizeof(prefix), GROUP_SET_PREFIX "%s/", chain);
	for (si = 0; si < n->cur.nsets; si++) {
		cs = &n->cur.sets[si];
		if (!cs->counters || cs->key_len != el.key_len ||
		    strncmp(cs->name, prefix, strlen(prefix)) != 0)
			continue;
		if ((ix = cur_eidx(n, si)) == NULL)
			goto nomem;
		len = eidx_key(&pel, k);
		at = (size_t)strmap_get(ix, k, len);
		if (at != 0 && cs->elems[at - 1].comment != NULL &&
		    strcmp(cs->elems[at - 1].comment, pel.comment) == 0)
			break;
	}
	if (si == n->cur.nsets)
		goto out;
	len = eidx_key(&el, k);
	at = (size_t)strmap_get(ix, k, len);
	if (add && at != 0)
		goto out;	/* a key twice: the group is no more */
	if (!add) {
		if (at == 0 || cs->elems[at - 1].comment == NULL ||
		    strcmp(cs->elems[at - 1].comment, el.comment) != 0)
			goto out;
		/* what stays must still be a group */
		for (j = 0, live = 0; j < cs->nelems &&
		    live <= compile_group_min(); j++)
			if (cs->elems[j].key_len != 0)
				live++;
		if (live <= compile_group_min())
			goto out;
	}
	rc = -1;
	tmp.key_type = cs->key_type;
	tmp.key_len = cs->key_len;
	tmp.flags = cs->flags;
	tmp.counters = true;
	tmp.elems = &el;
	tmp.nelems = 1;
	v[0] = &el;
	for (tries = 0; tries < 3; tries++) {
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
		n->stats.msgs = b.nobjs;
		n->stats.bytes = b.len;
		if (batch_send(n, &b, &rp) == 0)
			break;
		if (rp.error == ERESTART)
			continue;
		reply_diag(n, &b, &rp, d);
		goto out;
	}
	if (tries == 3) {
		diags_add(d, NULL, "the ruleset kept changing under fwctl; "
		    "nothing was applied");
		goto out;
	}
	if (cur_elems_update(n, si, &tmp, add) == -1)
		state_clear(n);		/* the next apply rebuilds */
	else if (add)
		el.comment = NULL;	/* the picture's now */
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
	free(chain);
	free(el.comment);
	free(pel.comment);
	return rc;
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
	int present, tries, cr, rc = -1;
	bool full, rebuilt = false, carried = false, seeded = false;

	memset(&n->stats, 0, sizeof(n->stats));
	/* without a picture of the kernel (first apply, or the caller does
	 * not know), rebuild in one transaction */
	if (prev == NULL)
		state_clear(n);
	/* elements alone (fwctl block ...): no compile, no diff */
	if (plan_elements_only(n, prev, next, plan))
		return apply_elems(n, prev, next, plan, d);
	/* one rule joining or leaving a group: one element */
	if ((rc = apply_group(n, prev, next, plan, d)) != 1)
		return rc;
	/* rules alone: those rules, nothing else */
	if ((rc = apply_rules(n, prev, next, plan, d)) != 1)
		return rc;
	rc = -1;
	memset(&n->stats, 0, sizeof(n->stats));
	cur_pack(n);
	if (compile_ruleset(next, n->table, &w.next, d) == -1)
		return -1;
	if (keep_interval(n, next, &w.next) == -1 ||
	    (w.hash = calloc(w.next.nrules + 1, sizeof(*w.hash))) == NULL)
		goto nomem;
	for (i = 0; i < w.next.nrules; i++)
		w.hash[i] = cplan_rule_hash(&w.next.rules[i]);

	for (tries = 0; tries < 3; tries++) {
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
		n->stats.msgs = b.nobjs;
		n->stats.bytes = b.len;
		rp.echo = w.echo;
		if (batch_send(n, &b, &rp) == 0)
			break;
		if (rp.error == ERESTART || rp.error == EINTR) {
			/* someone committed between GETGEN and us */
			continue;
		}
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
	if (tries == 3) {
		diags_add(d, NULL, "the ruleset kept changing under fwctl; "
		    "nothing was applied");
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
	w.next.sets = NULL;
	w.next.nsets = 0;
	w.next.sets_cap = 0;
	n->have = true;
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
	batch_free(&b);
	work_free(&w);
	/* a big compile leaves the heap large; give it back */
	malloc_trim(0);
	return rc;
}

/* --- counters, drift, flush ------------------------------------------- */

/* "name" or "name: comment"; fwctl's own rules have a space before any
 * colon ("policy lan -> wan") and no name. */
static size_t
comment_name(const char *c)
{
	size_t i;

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
	char name[FWCTL_NAME_MAX + 1];

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
		    len > FWCTL_NAME_MAX)
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

bool
nft_drifted(struct nft *n)
{
	struct dump dp = { 0 };
	struct strmap *h;
	struct kchain *c;
	uint32_t genid;
	size_t i, j, k, total = 0;
	bool drift = false;
	char key[32];

	if (!n->have)
		return false;
	if (get_genid(n, &genid) == -1 || genid == n->genid)
		return false;
	/* something was committed; was it our table? same rules by handle
	 * means no (counters do not change the generation) */
	if (nft_table_present(n) != 1)
		return true;
	if (dump_rules(n, &dp) == -1)
		return false;
	if ((h = strmap_new(dp.n)) == NULL) {
		dump_free(&dp);
		return false;
	}
	for (i = 0; i < dp.n; i++) {
		snprintf(key, sizeof(key), "%" PRIu64, dp.v[i].handle);
		strmap_puts(h, key, (void *)1);
	}
#define HAVE(hd) do {							\
	snprintf(key, sizeof(key), "%" PRIu64, (hd));			\
	total++;							\
	if (strmap_gets(h, key) == NULL)				\
		drift = true;						\
} while (0)
	for (i = 0; i < n->st.n && !drift; i++) {
		c = n->st.v[i];
		for (j = 0; j < c->nown; j++)
			HAVE(c->own[j]->handle);
		for (k = 0; k < c->nsegs; k++) {
			if (k > 0)
				HAVE(c->segs[k]->jump);
			for (j = 0; j < c->segs[k]->n; j++)
				HAVE(c->segs[k]->v[j]->handle);
		}
	}
#undef HAVE
	if (total != dp.n)
		drift = true;
	strmap_free(h);
	dump_free(&dp);
	if (!drift)
		n->genid = genid;
	return drift;
}

int
nft_flush(struct nft *n, struct diags *d)
{
	struct batch b = { 0 };
	struct reply rp = { 0 };
	uint32_t genid;
	int present, rc = -1;

	memset(&n->stats, 0, sizeof(n->stats));
	if ((present = nft_table_present(n)) == -1 ||
	    get_genid(n, &genid) == -1) {
		diags_add(d, NULL, "reading the kernel's ruleset: %s",
		    strerror(errno));
		return -1;
	}
	if (present == 0) {
		state_clear(n);
		lists_reset(n);
		return 0;
	}
	if (batch_begin(n, &b, genid) == -1 || emit_table(n, &b, true) == -1 ||
	    batch_end(n, &b) == -1) {
		diags_add(d, NULL, "nft: %s", strerror(ENOMEM));
		goto out;
	}
	if (batch_send(n, &b, &rp) == -1) {
		reply_diag(n, &b, &rp, d);
		goto out;
	}
	state_clear(n);
	lists_reset(n);
	get_genid(n, &n->genid);
	rc = 0;
 out:
	batch_free(&b);
	return rc;
}

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
	char		*text;		/* as a user reads it */
	const char	*comment;	/* the element's (not owned) */
	bool		 may_go;	/* it has a timeout: may expire */
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
};

static void
drift_say(struct dctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

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
	if (nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE))
		ds->s.data_type = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
	if (nftnl_set_is_set(s, NFTNL_SET_TIMEOUT))
		ds->s.timeout_ms = nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT);
	ds->anon = (ds->s.flags & NFT_SET_ANONYMOUS) != 0;
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

struct delems {
	struct dset	*ds;
	int		 err;
};

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
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	struct dset *ds;
	size_t at = (size_t)strmap_gets(x->setidx, name);
	char buf[1024];

	if (at == 0)
		return NULL;
	ds = &x->sets[at - 1];
	if (ds->read)
		return ds;
	if ((s = nftnl_set_alloc()) == NULL) {
		x->err = ENOMEM;
		return NULL;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, x->n->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET,
	    NLM_F_DUMP, x->n->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
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
	char buf[1024];
	struct nlmsghdr *nlh;
	struct nftnl_chain *c;
	struct nftnl_set *s;
	size_t i;

	if ((c = nftnl_chain_alloc()) == NULL)
		return -1;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, x->n->table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_INET,
	    NLM_F_DUMP, x->n->seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	if (talk(x->n, nlh, dchain_cb, x) == -1)
		return -1;
	if ((s = nftnl_set_alloc()) == NULL)
		return -1;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, x->n->table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_INET,
	    NLM_F_DUMP, x->n->seq++);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (talk(x->n, nlh, dset_cb, x) == -1)
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

/* --- drift: set elements as units ---------------------------------------- */

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
key_hex(const uint8_t *k, size_t len, char *buf)
{
	size_t i;

	for (i = 0; i < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", k[i]);
	buf[2 * len] = '\0';
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
		    sub[i] == CTYPE_ICMP || sub[i] == CTYPE_ICMPV6 ? 1 : 16;
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

	for (i = 0; i < u->n; i++) {
		free(u->v[i].key);
		free(u->v[i].text);
	}
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/*
 * A set's elements as units that do not depend on how the set stores
 * them: [low, high] per key or interval (a hash set's key k is [k, k], an
 * interval set's start and end are [start, end - 1]), each with its
 * verdict and comment.
 */
static int
set_units(const struct cset *s, struct units *u)
{
	const struct celem **v;
	struct celem lo, hi;
	char kb[2 * 32 + 1], hb[2 * 32 + 1], t1[200], t2[200];
	size_t i, len = s->key_len < 32 ? s->key_len : 32;
	bool range, interval = (s->flags & NFT_SET_INTERVAL) != 0;
	int rc;

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
		if (interval && !lo.end) {
			range = true;
			if (i + 1 < s->nelems && v[i + 1]->end) {
				memcpy(hi.key, v[i + 1]->key, sizeof(hi.key));
				key_dec(hi.key, len);
				i++;
			} else
				memset(hi.key, 0xff, len);
		}
		key_hex(lo.key, len, kb);
		key_hex(hi.key, len, hb);
		lo.end = hi.end = false;
		key_text(s, &lo, t1, sizeof(t1));
		t2[0] = '\0';
		if (range && memcmp(lo.key, hi.key, len) != 0) {
			t2[0] = '-';
			key_text(s, &hi, t2 + 1, sizeof(t2) - 1);
		}
		rc = asprintf(&u->v[u->n].key, "%s%s-%s|%d|%s|%s",
		    v[i]->end && !range ? "E" : "", kb, hb, lo.chain != NULL ||
		    (s->flags & NFT_SET_MAP) ? lo.verdict : 0,
		    lo.chain != NULL ? lo.chain : "",
		    lo.comment != NULL ? lo.comment : "");
		if (rc == -1 || asprintf(&u->v[u->n].text, "%s%s", t1, t2) ==
		    -1) {
			if (rc != -1)
				free(u->v[u->n].key);
			free(v);
			units_free(u);
			return -1;
		}
		u->v[u->n].comment = lo.comment;
		u->v[u->n].may_go = lo.timeout_ms != 0 || v[i]->timeout_ms != 0 ||
		    s->timeout_ms != 0;
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

/* --- drift: rules ---------------------------------------------------------- */

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

/* Whether attribute t of expression x names a register. */
static bool
xreg(const char *x, uint16_t t)
{
	static const struct {
		const char	*x;
		uint16_t	 t[4];
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
	size_t i, j;

	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (strcmp(regs[i].x, x) == 0)
			for (j = 0; j < 4; j++)
				if (regs[i].t[j] == t && t != 0)
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
	uint16_t t;

	if ((na = xparse(mine, ta)) == NULL ||
	    (nb = xparse(theirs, tb)) == NULL || strcmp(na, nb) != 0)
		return false;
	if (strcmp(na, "counter") == 0)
		return true;
	if (strcmp(na, "nat") == 0 && nat_flags(ta) != nat_flags(tb))
		return false;
	for (t = 1; t < XATTR_MAX; t++) {
		if (strcmp(na, "nat") == 0 && t == NFTA_NAT_FLAGS)
			continue;
		if (ta[t] == NULL) {
			if (tb[t] == NULL || attr_zero(tb[t]))
				continue;
			if (strcmp(na, "log") == 0 && t == NFTA_LOG_LEVEL &&
			    mnl_attr_get_payload_len(tb[t]) == 4 &&
			    ntohl(mnl_attr_get_u32(tb[t])) == 4)
				continue;
			return false;
		}
		if (strcmp(na, "lookup") == 0 && t == NFTA_LOOKUP_SET_ID)
			continue;
		if (tb[t] == NULL) {
			/* the kernel leaves out what does not apply (the
			 * code of a TCP reset) */
			if (attr_zero(ta[t]))
				continue;
			return false;
		}
		if (strcmp(na, "lookup") == 0 && t == NFTA_LOOKUP_SET &&
		    ce->set == NULL && ce->set_anon > 0 &&
		    (size_t)ce->set_anon <= r->nanon) {
			if (!anon_same(x, tb[t], &r->anon[ce->set_anon - 1]))
				return false;
			continue;
		}
		if (xreg(na, t)) {
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

/* --- drift: the comparison ------------------------------------------------ */

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
layout_jump(const struct dumped *k, const char *chain)
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
	return strncmp(target, chain, len) == 0 && target[len] == '/';
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
drift_rules(struct dctx *x, const struct cplan *p, struct dump *dp)
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
		if (layout_jump(&dp->v[i], logical[i])) {
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
		if (at != 0)
			used[at - 1] = 1;
		else
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
	char *la = NULL, *lb = NULL;
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
		if (!la[i] || ua.v[i].may_go)
			continue;
		if (clen > 0 && ua.v[i].comment != NULL)
			drift_say(x, "rule %s (chain %.*s) is missing",
			    ua.v[i].comment, (int)clen, chain);
		else
			drift_say(x, "set %s lacks element %s", cs->name,
			    ua.v[i].text);
	}
	for (i = 0; i < ub.n; i++) {
		if (!lb[i])
			continue;
		if (clen > 0)
			drift_say(x, "chain %.*s has a rule fwctl did not make "
			    "(element %s%s%s of set %s)", (int)clen, chain,
			    ub.v[i].text, ub.v[i].comment != NULL ?
			    ", comment " : "", ub.v[i].comment != NULL ?
			    ub.v[i].comment : "", cs->name);
		else
			drift_say(x, "set %s has an element fwctl did not "
			    "add: %s", cs->name, ub.v[i].text);
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
		    ((ds->s.flags ^ cs->flags) & ~(uint32_t)NFT_SET_INTERVAL))
			drift_say(x, "set %s differs from the ruleset (its type, "
			    "flags or timeout)", cs->name);
		drift_elems(x, cs, ds);
	}
	for (i = 0; i < x->nsets; i++)
		if (!x->sets[i].anon && cplan_set(p, x->sets[i].s.name) == NULL &&
		    strncmp(x->sets[i].s.name, LIST_SET_PREFIX,
		    strlen(LIST_SET_PREFIX)) != 0)
			drift_say(x, "set %s is not fwctl's", x->sets[i].s.name);
}

int
nft_drift_find(struct nft *n, const struct ruleset *next,
    struct nft_drift *out, struct diags *d)
{
	struct dctx x = { 0 };
	struct cplan p = { 0 };
	struct dump dp = { 0 };
	int present, rc = -1;

	memset(out, 0, sizeof(*out));
	x.n = n;
	x.out = out;
	if ((present = nft_table_present(n)) == -1) {
		diags_add(d, NULL, "reading table inet %s: %s", n->table,
		    strerror(errno));
		return -1;
	}
	/* compiled as nft_apply would */
	if (compile_ruleset(next, n->table, &p, d) == -1)
		return -1;
	if (keep_interval(n, next, &p) == -1 ||
	    (out->v = calloc(DRIFT_MAX + 2, sizeof(*out->v))) == NULL ||
	    (x.said = strmap_new(64)) == NULL ||
	    (x.xbuf = malloc(MSG_ROOM)) == NULL)
		goto nomem;
	if (present == 0) {
		out->table_missing = true;
		drift_say(&x, "table inet %s is missing", n->table);
	} else {
		dp.exprs = true;
		if (drift_read(&x) == -1 || dump_rules(n, &dp) == -1) {
			diags_add(d, NULL, "reading table inet %s: %s",
			    n->table, strerror(errno));
			goto fail;
		}
		drift_chains(&x, &p);
		if (drift_rules(&x, &p, &dp) == 0)
			drift_sets(&x, &p);
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
	dump_free(&dp);
	dctx_free(&x);
	cplan_free(&p);
	return rc;
}
