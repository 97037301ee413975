/*
 * The plan as text (cplan_*_format: tests, drift and error messages name
 * objects with it) and the identity of a rule's content (cplan_rule_hash:
 * what the diff and the single-rule paths compare rules by).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_nat.h>

#include "compile.h"

/* --- text --------------------------------------------------------------- */

struct sbuf {
	char	*s;
	size_t	 len;
	size_t	 cap;
	int	 err;
};

static void sb_printf(struct sbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *ns;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL,
		    b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = 1;
			return;
		}
		if (b->s != NULL && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 64) * 2;
		if ((ns = realloc(b->s, b->cap)) == NULL) {
			b->err = 1;
			return;
		}
		b->s = ns;
	}
}

size_t
hex_text(char *dst, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = digits[p[i] >> 4];
		dst[2 * i + 1] = digits[p[i] & 15];
	}
	dst[2 * n] = '\0';
	return 2 * n;
}

static void
sb_hex(struct sbuf *b, const uint8_t *p, size_t n)
{
	char h[2 * 64 + 1];
	size_t k;

	while (n > 0) {
		k = n < 64 ? n : 64;
		hex_text(h, p, k);
		sb_printf(b, "%s", h);
		p += k;
		n -= k;
	}
}

static const char *
verdict_text(int v)
{
	switch (v) {
	case NF_ACCEPT:
		return "accept";
	case NF_DROP:
		return "drop";
	case NFT_JUMP:
		return "jump";
	case NFT_GOTO:
		return "goto";
	case NFT_RETURN:
		return "return";
	default:
		return "?";
	}
}

static void
ifname_text(char *buf, size_t len, const uint8_t *k, bool end)
{
	size_t i, o = 0;

	buf[o++] = '"';
	for (i = 0; i < 16 && k[i] != 0 && o + 3 < len; i++) {
		if (k[i] == 0xff) {
			buf[o++] = '*';
			break;
		}
		buf[o++] = k[i] >= 0x20 && k[i] < 0x7f ? (char)k[i] : '?';
	}
	buf[o++] = '"';
	buf[o] = '\0';
	(void)end;
}

/* One field of type t (not a concatenation) at p, as text into k. */
static void
key_field_text(uint32_t t, const uint8_t *p, bool end, char *k, size_t len)
{
	switch (t) {
	case CTYPE_IPV4:
		inet_ntop(AF_INET, p, k, (socklen_t)len);
		break;
	case CTYPE_IPV6:
		inet_ntop(AF_INET6, p, k, (socklen_t)len);
		break;
	case CTYPE_PORT:
		snprintf(k, len, "%u", p[0] << 8 | p[1]);
		break;
	case CTYPE_ICMP:
	case CTYPE_ICMPV6:
	case CTYPE_INETPROTO:
		snprintf(k, len, "%u", p[0]);
		break;
	case CTYPE_NFPROTO:
		snprintf(k, len, "%s", p[0] == NFPROTO_IPV4 ? "ipv4" :
		    p[0] == NFPROTO_IPV6 ? "ipv6" : "?");
		break;
	case CTYPE_IFNAME:
		ifname_text(k, len, p, end);
		break;
	default:
		snprintf(k, len, "?");
		break;
	}
}

static uint32_t
key_field_len(uint32_t t)
{
	switch (t) {
	case CTYPE_IPV4:
		return 4;
	case CTYPE_PORT:
		return 2;
	case CTYPE_IPV6:
	case CTYPE_IFNAME:
		return 16;
	default:
		return 1;
	}
}

/* A concatenation's key field by field ("10.64.0.0-10.64.0.255 . 22"),
 * each field padded to 4 bytes as the kernel keeps them; the last key's
 * field after '-' where an element of intervals spans several. */
static void
key_concat_text(const struct cset *s, const struct celem *e, char *k,
    size_t len)
{
	uint32_t sub[6], kt = s->key_type, flen, at = 0;
	size_t nsub = 0, i, o = 0;
	char fb[INET6_ADDRSTRLEN + 8];

	for (; kt != 0 && nsub < 6; kt >>= 6)
		sub[nsub++] = kt & 0x3f;
	k[0] = '\0';
	for (i = nsub; i-- > 0 && o < len;) {
		flen = key_field_len(sub[i]);
		if (at + flen > e->key_len)
			break;
		key_field_text(sub[i], e->key + at, false, fb, sizeof(fb));
		o += (size_t)snprintf(k + o, len - o, "%s%s", o ? " . " : "",
		    fb);
		if (e->ranged && o < len &&
		    memcmp(e->key + at, e->key_end + at, flen) != 0) {
			key_field_text(sub[i], e->key_end + at, false, fb,
			    sizeof(fb));
			o += (size_t)snprintf(k + o, len - o, "-%s", fb);
		}
		at += (flen + 3) / 4 * 4;
	}
}

char *
cplan_elem_format(const struct cset *s, const struct celem *e, char *buf,
    size_t len)
{
	char k[512];
	size_t o;

	if (s->key_type == (CTYPE_IFNAME << 6 | CTYPE_IFNAME)) {
		ifname_text(k, sizeof(k), e->key, false);
		o = strlen(k);
		k[o++] = '.';
		ifname_text(k + o, sizeof(k) - o, e->key + 16, false);
	} else if (s->key_type >= 1u << 6 && s->key_len <= sizeof(e->key))
		key_concat_text(s, e, k, sizeof(k));
	else if (s->key_type < 1u << 6 && s->key_type != 0)
		key_field_text(s->key_type, e->key, e->end, k, sizeof(k));
	else
		hex_text(k, e->key, e->key_len < sizeof(e->key) ?
		    e->key_len : sizeof(e->key));
	o = (size_t)snprintf(buf, len, "%s%s", e->end ? "end " : "", k);
	if (o < len && e->chain != NULL)
		o += (size_t)snprintf(buf + o, len - o, ": %s %s",
		    verdict_text(e->verdict), e->chain);
	else if (o < len && (s->flags & NFT_SET_MAP) && !e->end)
		o += (size_t)snprintf(buf + o, len - o, ": %s",
		    verdict_text(e->verdict));
	if (o < len && e->timeout_ms != 0)
		snprintf(buf + o, len - o, " timeout %" PRIu64, e->timeout_ms);
	return buf;
}

static const char *
set_type_one(uint32_t t)
{
	switch (t) {
	case CTYPE_IPV4:
		return "ipv4";
	case CTYPE_IPV6:
		return "ipv6";
	case CTYPE_PORT:
		return "port";
	case CTYPE_ICMP:
		return "icmp";
	case CTYPE_ICMPV6:
		return "icmpv6";
	case CTYPE_IFNAME:
		return "ifname";
	case CTYPE_NFPROTO:
		return "nfproto";
	case CTYPE_INETPROTO:
		return "l4proto";
	default:
		return "?";
	}
}

/* A key type as text: a concatenation's fields joined by '.'. */
static void
sb_set_type(struct sbuf *b, uint32_t t)
{
	if (t >= 1u << 6) {
		sb_set_type(b, t >> 6);
		sb_printf(b, ".");
	}
	sb_printf(b, "%s", set_type_one(t & 0x3f));
}

static void
sb_set_def(struct sbuf *b, const struct cset *s)
{
	sb_set_type(b, s->key_type);
	if (s->flags & NFT_SET_MAP)
		sb_printf(b, " map");
	if (s->flags & NFT_SET_INTERVAL)
		sb_printf(b, " interval");
	if (s->flags & NFT_SET_TIMEOUT)
		sb_printf(b, " timeout");
	if (s->timeout_ms != 0)
		sb_printf(b, " %" PRIu64, s->timeout_ms);
	if (s->limit_rate != 0)
		sb_printf(b, " limit %" PRIu64 "/%" PRIu64 "s burst %u",
		    s->limit_rate, s->limit_unit, s->limit_burst);
}

char *
cplan_set_format(const struct cset *s)
{
	struct sbuf b = { 0 };

	sb_set_def(&b, s);
	if (b.err) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static void
sb_anon(struct sbuf *b, const struct cset *s)
{
	char buf[128];
	size_t i;

	sb_printf(b, "{");
	for (i = 0; i < s->nelems; i++)
		sb_printf(b, "%s%s", i ? ", " : "",
		    cplan_elem_format(s, &s->elems[i], buf, sizeof(buf)));
	sb_printf(b, "}");
}

static const char *
meta_text(uint32_t k)
{
	switch (k) {
	case NFT_META_NFPROTO:
		return "nfproto";
	case NFT_META_L4PROTO:
		return "l4proto";
	case NFT_META_IIFNAME:
		return "iifname";
	case NFT_META_OIFNAME:
		return "oifname";
	default:
		return "?";
	}
}

static const char *
cmp_text(uint32_t op)
{
	static const char *ops[] = { "eq", "ne", "lt", "lte", "gt", "gte" };

	return op < 6 ? ops[op] : "?";
}

static void
sb_expr(struct sbuf *b, const struct crule *r, const struct cexpr *e)
{
	switch (e->type) {
	case CX_META:
		sb_printf(b, "meta %s", meta_text(e->key));
		break;
	case CX_PAYLOAD:
		sb_printf(b, "payload %s %u %u",
		    e->key == NFT_PAYLOAD_NETWORK_HEADER ? "nh" :
		    e->key == NFT_PAYLOAD_TRANSPORT_HEADER ? "th" : "ll",
		    e->offset, e->len);
		break;
	case CX_CT:
		sb_printf(b, "ct %s", e->key == NFT_CT_STATE ? "state" :
		    e->key == NFT_CT_STATUS ? "status" : "?");
		break;
	case CX_BITWISE:
		sb_printf(b, "and ");
		sb_hex(b, e->data, e->len);
		break;
	case CX_CMP:
		sb_printf(b, "cmp %s ", cmp_text(e->op));
		sb_hex(b, e->data, e->len);
		break;
	case CX_RANGE:
		sb_printf(b, "range ");
		sb_hex(b, e->data, e->len);
		sb_printf(b, "-");
		sb_hex(b, e->data2, e->len);
		break;
	case CX_LOOKUP:
		sb_printf(b, "%s%s ", e->set_anon > 0 &&
		    (size_t)e->set_anon <= r->nanon &&
		    (r->anon[e->set_anon - 1].flags & NFT_SET_MAP) ? "vmap" :
		    "lookup", e->invert ? " !" : "");
		if (e->set != NULL)
			sb_printf(b, "@%s", e->set);
		else if (e->set_anon > 0 && (size_t)e->set_anon <= r->nanon)
			sb_anon(b, &r->anon[e->set_anon - 1]);
		break;
	case CX_COUNTER:
		sb_printf(b, "counter");
		break;
	case CX_LIMIT:
		sb_printf(b, "limit %" PRIu64 "/%" PRIu64 " burst %u",
		    e->rate, e->unit, e->burst);
		break;
	case CX_DYNSET:
		sb_printf(b, "update @%s timeout %" PRIu64 " { limit %" PRIu64
		    "/%" PRIu64 " burst %u }", e->set, e->timeout_ms, e->rate,
		    e->unit, e->burst);
		break;
	case CX_LOG:
		sb_printf(b, "log");
		if (e->prefix != NULL)
			sb_printf(b, " \"%s\"", e->prefix);
		break;
	case CX_REJECT:
		if (e->reject_type == NFT_REJECT_TCP_RST)
			sb_printf(b, "reject tcp-reset");
		else
			sb_printf(b, "reject icmpx %u", e->reject_code);
		break;
	case CX_VERDICT:
		sb_printf(b, "%s", verdict_text(e->verdict));
		if (e->chain != NULL)
			sb_printf(b, " %s", e->chain);
		break;
	case CX_IMMEDIATE:
		sb_printf(b, "imm r%u ", e->dreg);
		sb_hex(b, e->data, e->len);
		break;
	case CX_NAT:
		sb_printf(b, "%s %s", e->nat_type == NFT_NAT_SNAT ? "snat" :
		    "dnat", e->nat_family == NFPROTO_IPV4 ? "ip" : "ip6");
		if (e->reg_addr)
			sb_printf(b, " addr r%u", e->reg_addr);
		if (e->reg_proto)
			sb_printf(b, " proto r%u", e->reg_proto);
		if (e->nat_flags)
			sb_printf(b, " flags %u", e->nat_flags);
		break;
	case CX_MASQ:
		sb_printf(b, "masquerade");
		break;
	case CX_FIB:
		sb_printf(b, "fib %s%s result %u", e->key & NFTA_FIB_F_SADDR ?
		    "saddr" : "daddr", e->key & NFTA_FIB_F_IIF ? " iif" : "",
		    e->op);
		break;
	}
	if (e->dreg != 0 && e->dreg != NFT_REG_1 && e->dreg != NFT_REG_VERDICT &&
	    e->type != CX_IMMEDIATE)
		sb_printf(b, " ->r%u", e->dreg);
}

char *
cplan_rule_format(const struct crule *r)
{
	struct sbuf b = { 0 };
	size_t i;

	for (i = 0; i < r->nexprs; i++) {
		if (i > 0)
			sb_printf(&b, "; ");
		sb_expr(&b, r, &r->exprs[i]);
	}
	if (r->nexprs == 0)
		sb_printf(&b, "%s", "");
	if (b.err) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/* --- identity of a rule's content ---------------------------------------- */

struct mix {
	uint64_t	 h;
};

static void
mix_u64(struct mix *f, uint64_t v)
{
	/* a multiply and a shift per word: the hash of 50,000 rules must
	 * not show in a profile */
	f->h = (f->h ^ v) * 0x9e3779b97f4a7c15ULL;
	f->h ^= f->h >> 29;
}

static void
mix_bytes(struct mix *f, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t v;

	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&v, b, 8);
		mix_u64(f, v);
	}
	if (n > 0) {
		v = 0;
		memcpy(&v, b, n);
		mix_u64(f, v ^ ((uint64_t)n << 56));
	}
}

/* Strings with their length, so that ("ab", "c") and ("a", "bc") differ;
 * NULL differs from "". */
static void
mix_str(struct mix *f, const char *s)
{
	if (s == NULL) {
		mix_u64(f, UINT64_MAX);
		return;
	}
	mix_u64(f, strlen(s));
	mix_bytes(f, s, strlen(s));
}

static void
mix_set(struct mix *f, const struct cset *s)
{
	size_t i;

	mix_u64(f, s->flags);
	mix_u64(f, s->key_type);
	mix_u64(f, s->key_len);
	mix_u64(f, s->data_type);
	mix_u64(f, s->data_len);
	mix_u64(f, s->key_host_order);
	mix_u64(f, s->timeout_ms);
	mix_u64(f, s->nfields);
	mix_bytes(f, s->field_len, s->nfields);
	mix_u64(f, s->nelems);
	for (i = 0; i < s->nelems; i++) {
		const struct celem *e = &s->elems[i];

		mix_u64(f, e->key_len);
		mix_bytes(f, e->key, e->key_len < sizeof(e->key) ?
		    e->key_len : sizeof(e->key));
		if (e->ranged)
			mix_bytes(f, e->key_end, e->key_len <
			    sizeof(e->key_end) ? e->key_len :
			    sizeof(e->key_end));
		mix_u64(f, e->end);
		mix_u64(f, (uint64_t)(int64_t)e->verdict);
		mix_str(f, e->chain);
		mix_u64(f, e->timeout_ms);
	}
}

uint64_t
cplan_rule_hash(const struct crule *r)
{
	struct mix f = { 0xcbf29ce484222325ULL };
	const struct cexpr *e;
	size_t i;

	/* the comment is part of what the kernel holds */
	mix_str(&f, r->comment);
	mix_u64(&f, r->nexprs);
	for (i = 0; i < r->nexprs; i++) {
		e = &r->exprs[i];
		mix_u64(&f, e->type);
		mix_u64(&f, e->key);
		mix_u64(&f, e->sreg);
		mix_u64(&f, e->dreg);
		mix_u64(&f, e->op);
		mix_u64(&f, e->offset);
		mix_u64(&f, e->len);
		mix_bytes(&f, e->data, sizeof(e->data));
		mix_bytes(&f, e->data2, sizeof(e->data2));
		mix_str(&f, e->set);
		mix_u64(&f, (uint64_t)(int64_t)e->set_anon);
		if (e->set_anon > 0 && (size_t)e->set_anon <= r->nanon)
			mix_set(&f, &r->anon[e->set_anon - 1]);
		mix_u64(&f, e->invert);
		mix_u64(&f, (uint64_t)(int64_t)e->verdict);
		mix_str(&f, e->chain);
		mix_u64(&f, e->rate);
		mix_u64(&f, e->unit);
		mix_u64(&f, e->burst);
		mix_u64(&f, e->timeout_ms);
		mix_str(&f, e->prefix);
		mix_u64(&f, e->reject_type);
		mix_u64(&f, e->reject_code);
		mix_u64(&f, e->nat_type);
		mix_u64(&f, e->nat_family);
		mix_u64(&f, e->reg_addr);
		mix_u64(&f, e->reg_proto);
		mix_u64(&f, e->nat_flags);
	}
	return f.h;
}
