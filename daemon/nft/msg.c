/*
 * nft/msg.c: Messages, one kind of object at a time: sets, elements, rules
 * (written attribute by attribute), jumps, chains, the table; and the
 * queries that read rules back (dumps by chain, one rule by handle).
 */
#include "nft_int.h"

/* The limit of each element of group set cs. */
static struct nftnl_expr *
limit_obj(const struct cset *cs)
{
	struct nftnl_expr *x;

	if ((x = nftnl_expr_alloc("limit")) == NULL)
		return NULL;
	nftnl_expr_set_u64(x, NFTNL_EXPR_LIMIT_RATE, cs->limit_rate);
	nftnl_expr_set_u64(x, NFTNL_EXPR_LIMIT_UNIT, cs->limit_unit);
	nftnl_expr_set_u32(x, NFTNL_EXPR_LIMIT_BURST, cs->limit_burst);
	nftnl_expr_set_u32(x, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(x, NFTNL_EXPR_LIMIT_FLAGS, 0);
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
	if (cs->size != 0)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, cs->size);
	if (cs->nfields > 1)	/* a concatenation of intervals */
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, cs->field_len,
		    cs->nfields);
	if (cs->limit_rate != 0) {
		struct nftnl_expr *x;

		/* and a limit of its own, before the counter */
		if ((x = limit_obj(cs)) == NULL) {
			nftnl_set_free(s);
			return NULL;
		}
		nftnl_set_add_expr(s, x);
	}
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
size_t
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

/* seed: the counter values an element of group set cs starts with, or
 * NULL */
static struct nftnl_set_elem *
elem_obj(const struct cset *cs, const struct celem *ce,
    const struct seed *seed)
{
	struct nftnl_set_elem *e;
	struct nftnl_expr *x;

	if ((e = nftnl_set_elem_alloc()) == NULL)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, ce->key, ce->key_len);
	if (ce->ranged)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, ce->key_end,
		    ce->key_len);
	if (seed != NULL && seed->set) {
		/* the set's own expressions, all of them (its limit, full),
		 * the counter with its starting values */
		if (cs->limit_rate != 0) {
			if ((x = limit_obj(cs)) == NULL) {
				nftnl_set_elem_free(e);
				return NULL;
			}
			nftnl_set_elem_add_expr(e, x);
		}
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
int
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
			if ((e = elem_obj(cs, v[j], seed)) == NULL)
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

int
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

char *
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
void
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
		[CX_DYNSET] = "dynset",
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
	case CX_DYNSET:
		/* a meter: the element of the key holds a limit of its own */
		mnl_attr_put_strz(nlh, NFTA_DYNSET_SET_NAME, e->set);
		put_u32(nlh, NFTA_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
		put_u32(nlh, NFTA_DYNSET_SREG_KEY, e->sreg);
		put_u64(nlh, NFTA_DYNSET_TIMEOUT, e->timeout_ms);
		n1 = mnl_attr_nest_start(nlh, NFTA_DYNSET_EXPR);
		mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "limit");
		n2 = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
		put_u64(nlh, NFTA_LIMIT_RATE, e->rate);
		put_u64(nlh, NFTA_LIMIT_UNIT, e->unit);
		put_u32(nlh, NFTA_LIMIT_BURST, e->burst);
		put_u32(nlh, NFTA_LIMIT_TYPE, NFT_LIMIT_PKTS);
		put_u32(nlh, NFTA_LIMIT_FLAGS, 0);
		mnl_attr_nest_end(nlh, n2);
		mnl_attr_nest_end(nlh, n1);
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
int
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
int
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

int
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
int
emit_subchain(struct nft *n, struct batch *b, const char *name, bool del)
{
	struct cchain c;
	char buf[600];

	memset(&c, 0, sizeof(c));
	snprintf(buf, sizeof(buf), "%s", name);
	c.name = buf;
	return emit_chain(n, b, &c, del);
}

int
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

int
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

int
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

/* --- queries: one function per request --------------------------------- */

/*
 * Each writes its request into buf (QUERY_BUF bytes) with the next
 * sequence number and returns it for talk(); NULL when out of memory.
 * The dumps (chains, sets, elements, rules) answer in parts.
 */
struct nlmsghdr *
query_gen(struct nft *n, char *buf)
{
	return nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC,
	    NLM_F_ACK, n->seq++);
}

struct nlmsghdr *
query_table(struct nft *n, char *buf)
{
	struct nlmsghdr *nlh;
	struct nftnl_table *t;

	if ((t = nftnl_table_alloc()) == NULL)
		return NULL;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, n->table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET,
	    NLM_F_ACK, n->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return nlh;
}

struct nlmsghdr *
query_chains(struct nft *n, char *buf)
{
	struct nlmsghdr *nlh;
	struct nftnl_chain *c;

	if ((c = nftnl_chain_alloc()) == NULL)
		return NULL;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, n->table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_INET,
	    NLM_F_DUMP, n->seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return nlh;
}

struct nlmsghdr *
query_sets(struct nft *n, char *buf)
{
	struct nlmsghdr *nlh;
	struct nftnl_set *s;

	if ((s = nftnl_set_alloc()) == NULL)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, n->table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_INET,
	    NLM_F_DUMP, n->seq++);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nlh;
}

/* The elements of one set. */
struct nlmsghdr *
query_elems(struct nft *n, char *buf, const char *set)
{
	struct nlmsghdr *nlh;
	struct nftnl_set *s;

	if ((s = nftnl_set_alloc()) == NULL)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, n->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET,
	    NLM_F_DUMP, n->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nlh;
}

/* The rules of one chain (handle 0), or the one rule with that handle. */
struct nlmsghdr *
query_rules(struct nft *n, char *buf, const char *chain, uint64_t handle)
{
	struct nlmsghdr *nlh;
	struct nftnl_rule *r;

	if ((r = nftnl_rule_alloc()) == NULL)
		return NULL;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, n->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	if (handle != 0)
		nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET,
	    handle != 0 ? NLM_F_ACK : NLM_F_DUMP, n->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nlh;
}

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

void
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

/* Forgets the rules the drift check kept for an adoption. */
void
kept_free(struct nft *n)
{
	if (n->kept != NULL)
		dump_free(n->kept);
	free(n->kept);
	n->kept = NULL;
}

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
int
dump_one(struct nft *n, const char *chain, struct names *nm,
    struct dump *dp)
{
	char buf[QUERY_BUF];
	struct nlmsghdr *nlh;

	if (chain == NULL)
		return (nlh = query_chains(n, buf)) == NULL ? -1 :
		    talk(n, nlh, chain_name_cb, nm);
	if ((nlh = query_rules(n, buf, chain, 0)) == NULL)
		return -1;
	return talk(n, nlh, dump_cb, dp);
}

/*
 * Every rule of our table, chain by chain (chains == NULL), or of the
 * chains named in chains[0..nchains). One dump of the whole table
 * costs the kernel time quadratic in its size (each part of the dump
 * walks the table from the start), one dump per chain does not. Started
 * again when a commit happens meanwhile (EINTR, or a new generation).
 */
int
dump_rules_in(struct nft *n, char *const *chains, size_t nchains,
    struct dump *dp)
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
		rc = 0;
		if (chains == NULL && (rc = dump_one(n, NULL, &nm,
		    NULL)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (nm.err) {
			errno = nm.err;
			rc = -1;
			break;
		}
		if (chains == NULL) {
			chains = nm.v;
			nchains = nm.n;
		}
		for (i = 0; i < nchains && rc != -1; i++)
			rc = dump_one(n, chains[i], NULL, dp);
		if (chains == nm.v)
			chains = NULL;
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

int
dump_rules(struct nft *n, struct dump *dp)
{
	return dump_rules_in(n, NULL, 0, dp);
}

/* The rule with this handle in chain, into dp (counters too when
 * dp->counters): 1 when the kernel has it, 0 when not, -1 on error. */
int
get_rule(struct nft *n, const char *chain, uint64_t handle, struct dump *dp)
{
	char buf[QUERY_BUF];
	struct nlmsghdr *nlh;

	if ((nlh = query_rules(n, buf, chain, handle)) == NULL)
		return -1;
	if (talk(n, nlh, dump_cb, dp) == -1)
		return errno == ENOENT ? 0 : -1;
	return dp->n == 1 && dp->v[0].handle == handle;
}

/* Whether the rule with this handle is in chain and has this comment:
 * 1 yes, 0 no, -1 error. */
int
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
