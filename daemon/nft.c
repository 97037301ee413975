/*
 * The kernel: one long-lived netlink socket, one batch per change.
 *
 * nft.c keeps the compiled picture of what the kernel holds (the last
 * committed struct cplan) with the kernel handle of every rule. A change
 * compiles the new ruleset and sends only the difference: rules are matched
 * by (chain, key) and content, the longest run that kept its order stays in
 * place (and keeps its counters), the rest is deleted or inserted next to a
 * neighbour by handle. Named sets whose definition did not change keep
 * their elements; only the elements that differ are added or removed.
 * Without that picture (first apply after start) the table is deleted and
 * built again inside the same transaction, so it is never open.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
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
#include "nft.h"
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
	ssize_t		 rule;		/* NEWRULE: index in the new plan */
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
};

/* Replies to a batch. */
struct reply {
	struct batch	*b;
	uint64_t	*handles;	/* learnt from echoes, by rule index */
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
	bool		 have;		/* cur is what the kernel holds */
	struct cplan	 cur;
	uint64_t	*handles;	/* by cur rule index */
	char		**texts;	/* by cur rule index */
	uint32_t	 genid;		/* after our last commit */
	uint32_t	 set_id;
	size_t		 sndbuf;
	struct nft_stats stats;
};

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
	o->rule = -1;
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
state_clear(struct nft *n)
{
	size_t i;

	if (n->texts != NULL)
		for (i = 0; i < n->cur.nrules; i++)
			free(n->texts[i]);
	free(n->texts);
	free(n->handles);
	n->texts = NULL;
	n->handles = NULL;
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
	free(n->table);
	free(n);
}

const struct nft_stats *
nft_last_stats(const struct nft *n)
{
	return &n->stats;
}

/* --- objects into messages -------------------------------------------- */

static struct nftnl_expr *
expr_build(const struct crule *r, const struct cexpr *e, const uint32_t *ids,
    const struct seed *seed)
{
	struct nftnl_expr *x = NULL;
	const struct cset *as = NULL;

	switch (e->type) {
	case CX_META:
		x = nftnl_expr_alloc("meta");
		nftnl_expr_set_u32(x, NFTNL_EXPR_META_KEY, e->key);
		nftnl_expr_set_u32(x, NFTNL_EXPR_META_DREG, e->dreg);
		break;
	case CX_PAYLOAD:
		x = nftnl_expr_alloc("payload");
		nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_BASE, e->key);
		nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_OFFSET, e->offset);
		nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_LEN, e->len);
		nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_DREG, e->dreg);
		break;
	case CX_CT:
		x = nftnl_expr_alloc("ct");
		nftnl_expr_set_u32(x, NFTNL_EXPR_CT_KEY, e->key);
		nftnl_expr_set_u32(x, NFTNL_EXPR_CT_DREG, e->dreg);
		break;
	case CX_BITWISE:
		x = nftnl_expr_alloc("bitwise");
		nftnl_expr_set_u32(x, NFTNL_EXPR_BITWISE_SREG, e->sreg);
		nftnl_expr_set_u32(x, NFTNL_EXPR_BITWISE_DREG, e->dreg);
		nftnl_expr_set_u32(x, NFTNL_EXPR_BITWISE_LEN, e->len);
		nftnl_expr_set(x, NFTNL_EXPR_BITWISE_MASK, e->data, e->len);
		nftnl_expr_set(x, NFTNL_EXPR_BITWISE_XOR, e->data2, e->len);
		break;
	case CX_CMP:
		x = nftnl_expr_alloc("cmp");
		nftnl_expr_set_u32(x, NFTNL_EXPR_CMP_SREG, e->sreg);
		nftnl_expr_set_u32(x, NFTNL_EXPR_CMP_OP, e->op);
		nftnl_expr_set(x, NFTNL_EXPR_CMP_DATA, e->data, e->len);
		break;
	case CX_RANGE:
		x = nftnl_expr_alloc("range");
		nftnl_expr_set_u32(x, NFTNL_EXPR_RANGE_SREG, e->sreg);
		nftnl_expr_set_u32(x, NFTNL_EXPR_RANGE_OP, e->op);
		nftnl_expr_set(x, NFTNL_EXPR_RANGE_FROM_DATA, e->data, e->len);
		nftnl_expr_set(x, NFTNL_EXPR_RANGE_TO_DATA, e->data2, e->len);
		break;
	case CX_LOOKUP:
		x = nftnl_expr_alloc("lookup");
		nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_SREG, e->sreg);
		if (e->set != NULL) {
			nftnl_expr_set_str(x, NFTNL_EXPR_LOOKUP_SET, e->set);
		} else {
			as = &r->anon[e->set_anon - 1];
			nftnl_expr_set_str(x, NFTNL_EXPR_LOOKUP_SET, "__set%d");
			nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_SET_ID,
			    ids[e->set_anon - 1]);
		}
		if (e->set == NULL && (as->flags & NFT_SET_MAP))
			nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_DREG, e->dreg);
		if (e->invert)
			nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_FLAGS,
			    NFT_LOOKUP_F_INV);
		break;
	case CX_COUNTER:
		x = nftnl_expr_alloc("counter");
		if (x != NULL && seed != NULL && seed->set) {
			nftnl_expr_set_u64(x, NFTNL_EXPR_CTR_PACKETS,
			    seed->packets);
			nftnl_expr_set_u64(x, NFTNL_EXPR_CTR_BYTES,
			    seed->bytes);
		}
		break;
	case CX_LIMIT:
		x = nftnl_expr_alloc("limit");
		nftnl_expr_set_u64(x, NFTNL_EXPR_LIMIT_RATE, e->rate);
		nftnl_expr_set_u64(x, NFTNL_EXPR_LIMIT_UNIT, e->unit);
		nftnl_expr_set_u32(x, NFTNL_EXPR_LIMIT_BURST, e->burst);
		nftnl_expr_set_u32(x, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_expr_set_u32(x, NFTNL_EXPR_LIMIT_FLAGS, 0);
		break;
	case CX_LOG:
		x = nftnl_expr_alloc("log");
		if (e->prefix != NULL)
			nftnl_expr_set_str(x, NFTNL_EXPR_LOG_PREFIX, e->prefix);
		break;
	case CX_REJECT:
		x = nftnl_expr_alloc("reject");
		nftnl_expr_set_u32(x, NFTNL_EXPR_REJECT_TYPE, e->reject_type);
		nftnl_expr_set_u8(x, NFTNL_EXPR_REJECT_CODE,
		    (uint8_t)e->reject_code);
		break;
	case CX_VERDICT:
		x = nftnl_expr_alloc("immediate");
		nftnl_expr_set_u32(x, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(x, NFTNL_EXPR_IMM_VERDICT,
		    (uint32_t)e->verdict);
		if (e->chain != NULL)
			nftnl_expr_set_str(x, NFTNL_EXPR_IMM_CHAIN, e->chain);
		break;
	case CX_IMMEDIATE:
		x = nftnl_expr_alloc("immediate");
		nftnl_expr_set_u32(x, NFTNL_EXPR_IMM_DREG, e->dreg);
		nftnl_expr_set(x, NFTNL_EXPR_IMM_DATA, e->data, e->len);
		break;
	case CX_NAT:
		x = nftnl_expr_alloc("nat");
		nftnl_expr_set_u32(x, NFTNL_EXPR_NAT_TYPE, e->nat_type);
		nftnl_expr_set_u32(x, NFTNL_EXPR_NAT_FAMILY, e->nat_family);
		if (e->reg_addr) {
			nftnl_expr_set_u32(x, NFTNL_EXPR_NAT_REG_ADDR_MIN,
			    e->reg_addr);
			nftnl_expr_set_u32(x, NFTNL_EXPR_NAT_REG_ADDR_MAX,
			    e->reg_addr);
		}
		if (e->reg_proto) {
			nftnl_expr_set_u32(x, NFTNL_EXPR_NAT_REG_PROTO_MIN,
			    e->reg_proto);
			nftnl_expr_set_u32(x, NFTNL_EXPR_NAT_REG_PROTO_MAX,
			    e->reg_proto);
		}
		if (e->nat_flags)
			nftnl_expr_set_u32(x, NFTNL_EXPR_NAT_FLAGS,
			    e->nat_flags);
		break;
	case CX_MASQ:
		x = nftnl_expr_alloc("masq");
		break;
	case CX_FIB:
		x = nftnl_expr_alloc("fib");
		nftnl_expr_set_u32(x, NFTNL_EXPR_FIB_FLAGS, e->key);
		nftnl_expr_set_u32(x, NFTNL_EXPR_FIB_RESULT, e->op);
		nftnl_expr_set_u32(x, NFTNL_EXPR_FIB_DREG, e->dreg);
		break;
	}
	return x;
}

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

static struct nftnl_set_elem *
elem_obj(const struct celem *ce)
{
	struct nftnl_set_elem *e;

	if ((e = nftnl_set_elem_alloc()) == NULL)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, ce->key, ce->key_len);
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
	return e;
}

/* NEWSETELEM/DESTROYSETELEM for elements v[0..n) of set cs, split so that
 * no message overflows a nested attribute. */
static int
emit_elems(struct nft *n, struct batch *b, const struct cset *cs, bool anon,
    uint32_t id, const struct celem *const *v, size_t cnt, bool del,
    const struct srcloc *loc)
{
	struct nftnl_set *s = NULL;
	struct nftnl_set_elem *e;
	struct nlmsghdr *nlh;
	char what[FWCTL_NAME_MAX + 512], eb[96];
	struct celem key;
	size_t i, j;

	for (i = 0; i < cnt; i += ELEMS_PER_MSG) {
		if ((s = set_obj(n, cs, anon, id)) == NULL)
			return -1;
		for (j = i; j < cnt && j < i + ELEMS_PER_MSG; j++) {
			if ((e = elem_obj(v[j])) == NULL)
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
    uint32_t id, const char *what, const struct srcloc *loc)
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
	rc = emit_elems(n, b, cs, anon, id, v, cs->nelems, false, loc);
	free(v);
	return rc;
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
 * NEWRULE (with its anonymous sets). before == 0: append to the chain;
 * else insert before the rule with that handle.
 */
static int
emit_rule(struct nft *n, struct batch *b, const struct crule *r, ssize_t idx,
    uint64_t before, bool echo, const struct seed *seed)
{
	struct nftnl_rule *nr = NULL;
	struct nftnl_expr *x;
	struct nftnl_udata_buf *ud;
	struct nlmsghdr *nlh;
	struct bobj *o;
	uint32_t *ids = NULL;
	uint16_t flags;
	size_t i;
	char *what;
	int rc = -1;

	if ((what = rule_what(r)) == NULL)
		return -1;
	if (r->nanon > 0 && (ids = calloc(r->nanon, sizeof(*ids))) == NULL)
		goto out;
	for (i = 0; i < r->nanon; i++) {
		ids[i] = ++n->set_id;
		if (emit_set(n, b, &r->anon[i], true, ids[i], what,
		    r->loc) == -1)
			goto out;
	}
	if ((nr = nftnl_rule_alloc()) == NULL)
		goto out;
	nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, n->table);
	nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, r->chain);
	nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, NFPROTO_INET);
	if (before != 0)
		nftnl_rule_set_u64(nr, NFTNL_RULE_POSITION, before);
	if (r->comment != NULL) {
		if ((ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)) == NULL)
			goto out;
		nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, r->comment);
		nftnl_rule_set_data(nr, NFTNL_RULE_USERDATA,
		    nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	for (i = 0; i < r->nexprs; i++) {
		if ((x = expr_build(r, &r->exprs[i], ids, seed)) == NULL)
			goto out;
		nftnl_rule_add_expr(nr, x);
	}
	flags = NLM_F_CREATE | (before == 0 ? NLM_F_APPEND : 0) |
	    (echo ? NLM_F_ECHO : 0);
	if ((nlh = batch_msg(n, b, NFT_MSG_NEWRULE, flags, BK_RULE, what,
	    r->loc)) == NULL)
		goto out;
	nftnl_rule_nlmsg_build_payload(nlh, nr);
	batch_done(b, nlh);
	o = &b->objs[nlh->nlmsg_seq - b->seq0];
	o->rule = idx;
	n->stats.rules_added++;
	rc = 0;
 out:
	nftnl_rule_free(nr);
	free(ids);
	free(what);
	return rc;
}

static int
emit_delrule(struct nft *n, struct batch *b, const struct crule *r,
    uint64_t handle)
{
	struct nftnl_rule *nr;
	struct nlmsghdr *nlh;
	char *what;

	if ((what = rule_what(r)) == NULL)
		return -1;
	if ((nr = nftnl_rule_alloc()) == NULL) {
		free(what);
		return -1;
	}
	nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, n->table);
	nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, r->chain);
	nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_u64(nr, NFTNL_RULE_HANDLE, handle);
	nlh = batch_msg(n, b, NFT_MSG_DELRULE, 0, BK_RULE, what, NULL);
	free(what);
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
	struct nftnl_rule *r;
	size_t i;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE ||
	    rp->handles == NULL)
		return MNL_CB_OK;
	i = nlh->nlmsg_seq - rp->b->seq0;
	if (nlh->nlmsg_seq < rp->b->seq0 || i >= rp->b->nobjs ||
	    rp->b->objs[i].rule < 0)
		return MNL_CB_OK;
	if ((r = nftnl_rule_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
	    nftnl_rule_is_set(r, NFTNL_RULE_HANDLE))
		rp->handles[rp->b->objs[i].rule] =
		    nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	nftnl_rule_free(r);
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
	return rp->error == 0 ? 0 : -1;
}

static void
reply_diag(struct nft *n, struct batch *b, struct reply *rp, struct diags *d)
{
	const struct bobj *o = NULL;
	size_t i = rp->error_seq - b->seq0;
	char extra[300] = "";

	if (rp->error_seq >= b->seq0 && i < b->nobjs)
		o = &b->objs[i];
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
};

struct dump {
	struct dumped	*v;
	size_t		 n;
	size_t		 cap;
	int		 err;
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
dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *dp = data;
	struct nftnl_rule *r;
	struct nftnl_expr_iter *it;
	struct nftnl_expr *x;
	struct dumped *e;
	const char *comment = NULL, *name;
	const void *ud;
	uint32_t udlen;

	if ((r = nftnl_rule_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0)
		goto out;
	if (dp->n == dp->cap) {
		size_t ncap = dp->cap ? dp->cap * 2 : 256;
		struct dumped *nv = reallocarray(dp->v, ncap, sizeof(*nv));

		if (nv == NULL) {
			dp->err = ENOMEM;
			goto out;
		}
		dp->v = nv;
		dp->cap = ncap;
	}
	e = &dp->v[dp->n];
	memset(e, 0, sizeof(*e));
	e->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	e->chain = strdup(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	if ((ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &udlen)) != NULL)
		nftnl_udata_parse(ud, udlen, comment_cb, &comment);
	if (comment != NULL)
		e->comment = strdup(comment);
	if ((it = nftnl_expr_iter_create(r)) != NULL) {
		while ((x = nftnl_expr_iter_next(it)) != NULL) {
			name = nftnl_expr_get_str(x, NFTNL_EXPR_NAME);
			if (name != NULL && strcmp(name, "counter") == 0) {
				e->packets = nftnl_expr_get_u64(x,
				    NFTNL_EXPR_CTR_PACKETS);
				e->bytes = nftnl_expr_get_u64(x,
				    NFTNL_EXPR_CTR_BYTES);
			}
		}
		nftnl_expr_iter_destroy(it);
	}
	dp->n++;
 out:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static void
dump_free(struct dump *dp)
{
	size_t i;

	for (i = 0; i < dp->n; i++) {
		free(dp->v[i].chain);
		free(dp->v[i].comment);
	}
	free(dp->v);
	memset(dp, 0, sizeof(*dp));
}

/* Every rule of our table, in chain order. Restarted when the ruleset
 * changes under the dump (EINTR). */
static int
dump_rules(struct nft *n, struct dump *dp)
{
	char buf[512];
	struct nlmsghdr *nlh;
	struct nftnl_rule *r;
	int tries, rc = -1;

	for (tries = 0; tries < 10; tries++) {
		dump_free(dp);
		if ((r = nftnl_rule_alloc()) == NULL)
			return -1;
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, n->table);
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET,
		    NLM_F_DUMP, n->seq++);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
		rc = talk(n, nlh, dump_cb, dp);
		if (rc == -1 && errno == EINTR) {
			/* drain what is left of the interrupted dump */
			continue;
		}
		break;
	}
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
	    a->timeout_ms == b->timeout_ms;
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
	char		**texts;	/* by next rule index */
	uint64_t	*handles;	/* by next rule index */
	char		*kept;		/* by next rule index */
	struct seed	*seeds;		/* by next rule index, or NULL */
	bool		 echo;
};

static void
work_free(struct work *w)
{
	size_t i;

	if (w->texts != NULL)
		for (i = 0; i < w->next.nrules; i++)
			free(w->texts[i]);
	free(w->texts);
	free(w->handles);
	free(w->kept);
	free(w->seeds);
	cplan_free(&w->next);
	memset(w, 0, sizeof(*w));
}

/*
 * Builds the batch that turns n->cur (empty when !n->have) into w->next.
 */
static int
build(struct nft *n, struct work *w, struct batch *b, bool full,
    bool table_exists)
{
	struct cplan *cur = &n->cur, *nx = &w->next;
	struct strmap *curidx = NULL, *gone = NULL, *chains_new = NULL;
	struct strmap *elems = NULL, *chainidx = NULL;
	char *curkept = NULL, *k = NULL, *keep = NULL, eb[160];
	ssize_t *sub = NULL;
	size_t *chainof = NULL, *start = NULL;
	uint64_t *nextkept = NULL, *before = NULL;
	ssize_t *seqv = NULL;
	size_t *order = NULL, i, j, m, nadd = 0;
	const struct celem **ev = NULL;
	int rc = -1;
	static char mark;

	if ((curidx = strmap_new(cur->nrules)) == NULL ||
	    (gone = strmap_new(8)) == NULL ||
	    (chains_new = strmap_new(8)) == NULL ||
	    (w->kept = calloc(nx->nrules + 1, 1)) == NULL ||
	    (w->handles = calloc(nx->nrules + 1, sizeof(uint64_t))) == NULL ||
	    (curkept = calloc(cur->nrules + 1, 1)) == NULL ||
	    (seqv = calloc(nx->nrules + 1, sizeof(*seqv))) == NULL ||
	    (order = calloc(nx->nrules + 1, sizeof(*order))) == NULL)
		goto out;

	if (full) {
		if (table_exists && emit_table(n, b, true) == -1)
			goto out;
		if (emit_table(n, b, false) == -1)
			goto out;
	}

	/* chains that are new or changed: nothing in them is kept */
	for (i = 0; i < nx->nchains; i++) {
		const struct cchain *c = cplan_chain(cur, nx->chains[i].name);

		if (c == NULL || !chain_same(c, &nx->chains[i]))
			if (strmap_puts(chains_new, nx->chains[i].name,
			    &mark) == -1)
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

	/* rules: same (chain, key) and text, in chains kept, not using a
	 * set made again; of those, the longest run in the old order */
	for (i = 0; i < cur->nrules; i++) {
		if ((k = pair_key(cur->rules[i].chain, cur->rules[i].key)) ==
		    NULL || strmap_puts(curidx, k, (void *)(i + 1)) == -1)
			goto out;
		free(k);
		k = NULL;
	}
	for (i = 0; i < nx->nrules; i++) {
		const struct crule *r = &nx->rules[i];
		size_t ci;

		seqv[i] = -1;
		if (strmap_gets(chains_new, r->chain) != NULL ||
		    rule_uses(r, gone))
			continue;
		if ((k = pair_key(r->chain, r->key)) == NULL)
			goto out;
		ci = (size_t)strmap_gets(curidx, k);
		free(k);
		k = NULL;
		if (ci == 0 || strcmp(n->texts[ci - 1], w->texts[i]) != 0)
			continue;
		seqv[i] = (ssize_t)(ci - 1);
	}
	/* rules bucketed by chain (a counting sort keeps their order), then
	 * the longest run in the old order per chain */
	if ((chainof = calloc(nx->nrules + 1, sizeof(*chainof))) == NULL ||
	    (start = calloc(nx->nchains + 2, sizeof(*start))) == NULL ||
	    (nextkept = calloc(nx->nchains + 1, sizeof(*nextkept))) == NULL ||
	    (chainidx = strmap_new(nx->nchains)) == NULL)
		goto out;
	for (i = 0; i < nx->nchains; i++)
		if (strmap_puts(chainidx, nx->chains[i].name,
		    (void *)(i + 1)) == -1)
			goto out;
	for (i = 0; i < nx->nrules; i++) {
		size_t ci = (size_t)strmap_gets(chainidx, nx->rules[i].chain);

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
	if ((sub = calloc(nx->nrules + 1, sizeof(*sub))) == NULL ||
	    (keep = calloc(nx->nrules + 1, 1)) == NULL)
		goto out;
	for (i = 0; i < nx->nchains; i++) {
		size_t lo = start[i], cnt = start[i + 1] - lo;

		for (j = 0; j < cnt; j++)
			sub[j] = seqv[order[lo + j]];
		memset(keep, 0, cnt);
		if (lis(sub, cnt, keep) == -1)
			goto out;
		for (j = 0; j < cnt; j++)
			if (keep[j]) {
				m = order[lo + j];
				w->kept[m] = 1;
				w->handles[m] = n->handles[seqv[m]];
				curkept[seqv[m]] = 1;
			}
	}

	if (!full) {
		/* 1. rules that go */
		for (i = 0; i < cur->nrules; i++)
			if (!curkept[i] &&
			    emit_delrule(n, b, &cur->rules[i],
			    n->handles[i]) == -1)
				goto out;
		/* 2. elements that go, sets that go, chains that go */
		for (i = 0; i < nx->nsets; i++) {
			const struct cset *ns = &nx->sets[i];
			const struct cset *os = cplan_set(cur, ns->name);

			if (os == NULL || strmap_gets(gone, ns->name) != NULL)
				continue;
			strmap_free(elems);
			if ((elems = strmap_new(ns->nelems)) == NULL)
				goto out;
			for (j = 0; j < ns->nelems; j += unit_len(ns, j)) {
				unit_key(ns, j, eb, sizeof(eb));
				if (strmap_puts(elems, eb, &mark) == -1)
					goto out;
			}
			free(ev);
			if ((ev = calloc(os->nelems + 1, sizeof(*ev))) == NULL)
				goto out;
			for (j = 0, m = 0; j < os->nelems; j += unit_len(os, j)) {
				unit_key(os, j, eb, sizeof(eb));
				if (strmap_gets(elems, eb) != NULL)
					continue;
				ev[m++] = &os->elems[j];
				if (unit_len(os, j) == 2)
					ev[m++] = &os->elems[j + 1];
			}
			n->stats.elems_deleted += m;
			if (m > 0 && emit_elems(n, b, ns, false, 0, ev, m,
			    true, NULL) == -1)
				goto out;
		}
		for (i = 0; i < cur->nsets; i++)
			if (strmap_gets(gone, cur->sets[i].name) != NULL &&
			    emit_delset(n, b, &cur->sets[i]) == -1)
				goto out;
		for (i = 0; i < cur->nchains; i++) {
			const struct cchain *c = cplan_chain(nx,
			    cur->chains[i].name);

			if ((c == NULL || !chain_same(c, &cur->chains[i])) &&
			    emit_chain(n, b, &cur->chains[i], true) == -1)
				goto out;
		}
	}
	/* 3. chains that come, sets that come, elements that come */
	for (i = 0; i < nx->nchains; i++)
		if (strmap_gets(chains_new, nx->chains[i].name) != NULL &&
		    emit_chain(n, b, &nx->chains[i], false) == -1)
			goto out;
	for (i = 0; i < nx->nsets; i++) {
		const struct cset *ns = &nx->sets[i];
		const struct cset *os = cplan_set(cur, ns->name);
		char what[FWCTL_NAME_MAX + 8];

		if (strmap_gets(gone, ns->name) != NULL) {
			snprintf(what, sizeof(what), "set %s", ns->name);
			n->stats.elems_added += ns->nelems;
			if (emit_set(n, b, ns, false, ++n->set_id, what,
			    ns->loc) == -1)
				goto out;
			continue;
		}
		strmap_free(elems);
		if ((elems = strmap_new(os->nelems)) == NULL)
			goto out;
		for (j = 0; j < os->nelems; j += unit_len(os, j)) {
			unit_key(os, j, eb, sizeof(eb));
			if (strmap_puts(elems, eb, &mark) == -1)
				goto out;
		}
		free(ev);
		if ((ev = calloc(ns->nelems + 1, sizeof(*ev))) == NULL)
			goto out;
		for (j = 0, m = 0; j < ns->nelems; j += unit_len(ns, j)) {
			unit_key(ns, j, eb, sizeof(eb));
			if (strmap_gets(elems, eb) != NULL)
				continue;
			ev[m++] = &ns->elems[j];
			if (unit_len(ns, j) == 2)
				ev[m++] = &ns->elems[j + 1];
		}
		n->stats.elems_added += m;
		if (m > 0 && emit_elems(n, b, ns, false, 0, ev, m, false,
		    ns->loc) == -1)
			goto out;
	}
	/* 4. rules that come, each before the next rule that stays */
	for (i = 0; i < nx->nrules; i++)
		if (!w->kept[i])
			nadd++;
	w->echo = nadd <= ECHO_MAX;
	/* the handle of the next kept rule of the same chain, found walking
	 * backwards; the rules are then sent in order */
	if ((before = calloc(nx->nrules + 1, sizeof(*before))) == NULL)
		goto out;
	for (i = nx->nrules; i > 0; i--) {
		before[i - 1] = nextkept[chainof[i - 1]];
		if (w->kept[i - 1])
			nextkept[chainof[i - 1]] = w->handles[i - 1];
	}
	for (i = 0; i < nx->nrules; i++)
		if (!w->kept[i] && emit_rule(n, b, &nx->rules[i], (ssize_t)i,
		    before[i], w->echo, w->seeds ? &w->seeds[i] : NULL) == -1)
			goto out;
	rc = b->err ? -1 : 0;
 out:
	free(before);
	free(sub);
	free(keep);
	free(chainof);
	free(start);
	free(nextkept);
	strmap_free(chainidx);
	free(k);
	free(ev);
	free(order);
	free(seqv);
	free(curkept);
	strmap_free(elems);
	strmap_free(curidx);
	strmap_free(gone);
	strmap_free(chains_new);
	return rc;
}

/* After a commit without echoes: handles by position in each chain. */
static int
learn_handles(struct nft *n, struct work *w)
{
	struct dump dp = { 0 };
	struct strmap *idx = NULL;
	size_t *pos = NULL, *cnt = NULL, *ord = NULL, i, ci;
	const struct crule *r;
	const struct dumped *k;
	int rc = -1;

	if (dump_rules(n, &dp) == -1)
		return -1;
	if ((idx = strmap_new(w->next.nchains)) == NULL ||
	    (pos = calloc(w->next.nchains + 2, sizeof(*pos))) == NULL ||
	    (cnt = calloc(w->next.nchains + 2, sizeof(*cnt))) == NULL ||
	    (ord = calloc(dp.n + 1, sizeof(*ord))) == NULL)
		goto out;
	for (i = 0; i < w->next.nchains; i++)
		if (strmap_puts(idx, w->next.chains[i].name,
		    (void *)(i + 1)) == -1)
			goto out;
	/* dumped rules bucketed by chain, in kernel order */
	for (i = 0; i < dp.n; i++) {
		if ((ci = (size_t)strmap_gets(idx, dp.v[i].chain)) == 0)
			goto out;	/* a chain we did not make */
		cnt[ci]++;
	}
	for (i = 1; i <= w->next.nchains; i++)
		cnt[i] += cnt[i - 1];
	memcpy(pos, cnt, (w->next.nchains + 1) * sizeof(*pos));
	for (i = 0; i < dp.n; i++)
		ord[pos[(size_t)strmap_gets(idx, dp.v[i].chain) - 1]++] = i;
	memcpy(pos, cnt, (w->next.nchains + 1) * sizeof(*pos));
	for (i = 0; i < w->next.nrules; i++) {
		r = &w->next.rules[i];
		ci = (size_t)strmap_gets(idx, r->chain) - 1;
		if (pos[ci] >= cnt[ci + 1])
			goto out;
		k = &dp.v[ord[pos[ci]++]];
		if ((r->comment == NULL) != (k->comment == NULL) ||
		    (k->comment != NULL && strcmp(k->comment, r->comment) != 0))
			goto out;
		w->handles[i] = k->handle;
	}
	rc = 0;
 out:
	free(pos);
	free(cnt);
	free(ord);
	strmap_free(idx);
	dump_free(&dp);
	return rc;
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

	if (dump_rules(n, &dp) == -1)
		return;
	if ((idx = strmap_new(dp.n)) == NULL ||
	    (nextcopy = calloc(dp.n + 1, sizeof(*nextcopy))) == NULL ||
	    (w->seeds = calloc(w->next.nrules + 1, sizeof(*w->seeds))) == NULL)
		goto out;
	/* backwards: idx ends at the first copy, nextcopy links the rest */
	for (i = dp.n; i > 0; i--) {
		if (dp.v[i - 1].comment == NULL)
			continue;
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

/* Whether plan is only set elements of sets we hold: then the change
 * needs neither a compile nor a diff. */
static bool
plan_elements_only(const struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan)
{
	size_t i;

	if (!n->have || prev == NULL || plan == NULL || plan->n == 0)
		return false;
	for (i = 0; i < plan->n; i++) {
		if (plan->v[i].kind != PLAN_ELEMENT ||
		    (plan->v[i].op != PLAN_ADD && plan->v[i].op != PLAN_REMOVE))
			return false;
		if (ruleset_find_set(plan->v[i].op == PLAN_ADD ? next : prev,
		    plan->v[i].name) == -1 ||
		    cplan_set(&n->cur, plan->v[i].name) == NULL)
			return false;
	}
	return true;
}

static struct cset *
cur_set(struct nft *n, const char *name)
{
	size_t i;

	for (i = 0; i < n->cur.nsets; i++)
		if (strcmp(n->cur.sets[i].name, name) == 0)
			return &n->cur.sets[i];
	return NULL;
}

/* Keeps our picture of a set in step after an element change. */
static int
cur_elems_update(struct cset *cs, const struct cset *tmp, bool add)
{
	char a[80], b[80];
	struct celem *e;
	size_t i, j;

	for (i = 0; i < tmp->nelems; i++) {
		elem_key(&tmp->elems[i], a, sizeof(a));
		for (j = 0; j < cs->nelems; j++) {
			elem_key(&cs->elems[j], b, sizeof(b));
			if (strcmp(a, b) == 0)
				break;
		}
		if (!add) {
			if (j < cs->nelems) {
				free(cs->elems[j].chain);
				memmove(&cs->elems[j], &cs->elems[j + 1],
				    (cs->nelems - j - 1) * sizeof(*e));
				cs->nelems--;
			}
			continue;
		}
		if (j < cs->nelems)
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
		cs->elems[cs->nelems++].chain = NULL;
	}
	return 0;
}

/* The plan's elements alone: one NEWSETELEM/DESTROYSETELEM each. */
static int
apply_elems(struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan, struct diags *d)
{
	struct batch b = { 0 };
	struct reply rp = { 0 };
	struct cset *tmp = NULL, *cs;
	const struct set *set;
	const struct celem **v = NULL;
	uint32_t genid;
	size_t i, j;
	int tries, rc = -1;
	bool add;

	if ((tmp = calloc(plan->n, sizeof(*tmp))) == NULL)
		goto nomem;
	for (i = 0; i < plan->n; i++) {
		const struct plan_item *it = &plan->v[i];

		add = it->op == PLAN_ADD;
		set = (add ? next : prev)->sets[ruleset_find_set(add ? next :
		    prev, it->name)];
		cs = cur_set(n, it->name);
		tmp[i].key_type = cs->key_type;
		tmp[i].key_len = cs->key_len;
		tmp[i].flags = cs->flags;
		if (compile_set_elem(set, &it->key, &tmp[i]) == -1)
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
		for (i = 0; i < plan->n; i++) {
			add = plan->v[i].op == PLAN_ADD;
			cs = cur_set(n, plan->v[i].name);
			free(v);
			if ((v = calloc(tmp[i].nelems + 1, sizeof(*v))) == NULL)
				goto nomem;
			for (j = 0; j < tmp[i].nelems; j++)
				v[j] = &tmp[i].elems[j];
			tmp[i].name = cs->name;	/* borrowed for messages */
			j = (size_t)ruleset_find_set(add ? next : prev,
			    plan->v[i].name);
			if (tmp[i].nelems > 0 && emit_elems(n, &b, &tmp[i],
			    false, 0, v, tmp[i].nelems, !add,
			    &(add ? next : prev)->sets[j]->loc) == -1)
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
	for (i = 0; i < plan->n; i++) {
		cs = cur_set(n, plan->v[i].name);
		if (cur_elems_update(cs, &tmp[i],
		    plan->v[i].op == PLAN_ADD) == -1) {
			state_clear(n);	/* the next apply rebuilds */
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

int
nft_apply(struct nft *n, const struct ruleset *prev,
    const struct ruleset *next, const struct plan *plan, struct diags *d)
{
	struct work w = { 0 };
	struct batch b = { 0 };
	struct reply rp = { 0 };
	uint32_t genid;
	size_t i;
	int present, tries, rc = -1;
	bool full, rebuilt = false;

	memset(&n->stats, 0, sizeof(n->stats));
	/* without a picture of the kernel (first apply, or the caller does
	 * not know), rebuild in one transaction */
	if (prev == NULL)
		state_clear(n);
	/* elements alone (fwctl block ...): no compile, no diff */
	if (plan_elements_only(n, prev, next, plan))
		return apply_elems(n, prev, next, plan, d);
	if (compile_ruleset(next, n->table, &w.next, d) == -1)
		return -1;
	if ((w.texts = calloc(w.next.nrules + 1, sizeof(char *))) == NULL)
		goto nomem;
	for (i = 0; i < w.next.nrules; i++)
		if ((w.texts[i] = cplan_rule_format(&w.next.rules[i])) == NULL)
			goto nomem;

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
		free(w.kept);
		free(w.handles);
		w.kept = NULL;
		w.handles = NULL;
		memset(&n->stats, 0, sizeof(n->stats));
		n->stats.full_rebuild = full;
		if (full && present == 1 && w.seeds == NULL)
			seed_counters(n, &w);
		if (batch_begin(n, &b, genid) == -1 ||
		    build(n, &w, &b, full, present == 1) == -1)
			goto nomem;
		if (!full && b.nobjs == 1) {
			/* nothing differs: no transaction at all */
			n->stats.msgs = 0;
			break;
		}
		if (batch_end(n, &b) == -1)
			goto nomem;
		n->stats.msgs = b.nobjs;
		n->stats.bytes = b.len;
		rp.handles = w.echo ? w.handles : NULL;
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
	/* committed: learn the handles of the new rules */
	if (!w.echo && learn_handles(n, &w) == -1) {
		/* the kernel has the change; we lost track of handles, so the
		 * next change rebuilds the table */
		state_clear(n);
		get_genid(n, &n->genid);
		rc = 0;
		goto out;
	}
	for (i = 0; i < w.next.nrules; i++) {
		if (w.handles[i] == 0) {
			state_clear(n);
			get_genid(n, &n->genid);
			rc = 0;
			goto out;
		}
		w.next.rules[i].loc = NULL;	/* the model may go away */
	}
	for (i = 0; i < w.next.nsets; i++)
		w.next.sets[i].loc = NULL;
	state_clear(n);
	n->cur = w.next;
	n->texts = w.texts;
	n->handles = w.handles;
	n->have = true;
	memset(&w.next, 0, sizeof(w.next));
	w.texts = NULL;
	w.handles = NULL;
	if (get_genid(n, &n->genid) == -1)
		n->genid = 0;
	rc = 0;
	goto out;
 nomem:
	diags_add(d, NULL, "nft: %s", strerror(errno ? errno : ENOMEM));
 out:
	batch_free(&b);
	work_free(&w);
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
	uint32_t genid;
	size_t i;
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
	if (dp.n != n->cur.nrules) {
		dump_free(&dp);
		return true;
	}
	if ((h = strmap_new(dp.n)) == NULL) {
		dump_free(&dp);
		return false;
	}
	for (i = 0; i < dp.n; i++) {
		snprintf(key, sizeof(key), "%" PRIu64, dp.v[i].handle);
		strmap_puts(h, key, (void *)1);
	}
	for (i = 0; i < n->cur.nrules && !drift; i++) {
		snprintf(key, sizeof(key), "%" PRIu64, n->handles[i]);
		if (strmap_gets(h, key) == NULL)
			drift = true;
	}
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
	get_genid(n, &n->genid);
	rc = 0;
 out:
	batch_free(&b);
	return rc;
}
