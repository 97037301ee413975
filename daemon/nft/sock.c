/*
 * nft/sock.c: The netlink socket: batches built message by message, sent,
 * and their replies read; small requests (generation, table present); open,
 * close, flush, drift by generation.
 */
#include "nft_int.h"

void
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

struct nlmsghdr *
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

void
batch_done(struct batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

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
int
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

int
get_genid(struct nft *n, uint32_t *genid)
{
	char buf[QUERY_BUF];

	return talk(n, query_gen(n, buf), gen_cb, genid);
}

int
nft_table_present(struct nft *n)
{
	char buf[QUERY_BUF];
	struct nlmsghdr *nlh;

	if ((nlh = query_table(n, buf)) == NULL)
		return -1;
	if (talk(n, nlh, NULL, NULL) == -1)
		return errno == ENOENT ? 0 : -1;
	return 1;
}

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

void
nft_close(struct nft *n)
{
	if (n == NULL)
		return;
	if (n->nl != NULL)
		mnl_socket_close(n->nl);
	state_clear(n);
	lists_reset(n);
	kept_free(n);
	adopt_free(n);
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

int
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

int
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

/* Sends the batch, its size counted in the stats: 0 committed, 1 the
 * ruleset moved under us between GETGEN and the commit (ERESTART, EINTR:
 * build the batch again), -1 refused (rp says why). */
int
batch_commit(struct nft *n, struct batch *b, struct reply *rp)
{
	n->stats.msgs = b->nobjs;
	n->stats.bytes = b->len;
	if (batch_send(n, b, rp) == 0)
		return 0;
	return rp->error == ERESTART || rp->error == EINTR ? 1 : -1;
}

/* After BATCH_TRIES batches that each found the ruleset moved on. */
void
batch_gave_up(struct diags *d)
{
	diags_add(d, NULL, "the ruleset kept changing under fwctl; nothing "
	    "was applied");
}

/* Sends the batch and reads every reply; the kernel has processed the
 * whole batch when sendmsg returns. 0 committed, -1 (rp->error set). */
int
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

void
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
