/* The ruleset model: construction, copy, comparison and lookup. */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset.h"

/*
 * Reference counts. Readers release old rulesets on their own threads
 * while the engine shares objects into the next one, so the counts are
 * atomic. A count of 0 (an object not made by *_new) is one owner.
 */
#define OBJ_REF(o) do {							\
	if ((o) != NULL)						\
		__atomic_add_fetch(&(o)->refs, 1, __ATOMIC_RELAXED);	\
} while (0)

static bool
obj_unref(unsigned *refs)
{
	if (__atomic_load_n(refs, __ATOMIC_ACQUIRE) <= 1)
		return true;
	return __atomic_sub_fetch(refs, 1, __ATOMIC_ACQ_REL) == 0;
}

static bool
obj_shared(unsigned *refs)
{
	return __atomic_load_n(refs, __ATOMIC_ACQUIRE) > 1;
}

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* strdup that maps NULL to NULL and reports failure through *err. */
static char *
dupstr(const char *s, int *err)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*err = -1;
	return d;
}

static void *
dupmem(const void *p, size_t n, size_t size, int *err)
{
	void *d;

	if (p == NULL || n == 0)
		return NULL;
	if ((d = reallocarray(NULL, n, size)) == NULL) {
		*err = -1;
		return NULL;
	}
	memcpy(d, p, n * size);
	return d;
}

/* Grows a pointer array by one slot. */
static int
ptrs_reserve(void ***v, size_t n, size_t *cap)
{
	void **nv;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((nv = reallocarray(*v, ncap, sizeof(*nv))) == NULL)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

static int
ptrs_insert(void ***v, size_t *n, size_t *cap, size_t pos, void *p)
{
	if (pos > *n) {
		errno = EINVAL;
		return -1;
	}
	if (ptrs_reserve(v, *n, cap) == -1)
		return -1;
	memmove(&(*v)[pos + 1], &(*v)[pos], (*n - pos) * sizeof(**v));
	(*v)[pos] = p;
	(*n)++;
	return 0;
}

static void *
ptrs_remove(void **v, size_t *n, size_t i)
{
	void *p;

	if (i >= *n)
		return NULL;
	p = v[i];
	memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
	(*n)--;
	return p;
}

#define RS_INSERT(rs, arr, pos, obj) \
	ptrs_insert((void ***)&(rs)->arr, &(rs)->n##arr, &(rs)->arr##_cap, \
	    (pos), (obj))
#define RS_REMOVE(rs, arr, i) \
	ptrs_remove((void **)(rs)->arr, &(rs)->n##arr, (i))

/* addrmatch / portmatch */

void
addrmatch_clear(struct addrmatch *m)
{
	free(m->addrs);
	free(m->set);
	memset(m, 0, sizeof(*m));
}

int
addrmatch_copy(struct addrmatch *d, const struct addrmatch *s)
{
	int err = 0;

	d->addrs = dupmem(s->addrs, s->naddrs, sizeof(*s->addrs), &err);
	d->naddrs = d->addrs ? s->naddrs : 0;
	d->set = dupstr(s->set, &err);
	if (err) {
		addrmatch_clear(d);
		return -1;
	}
	return 0;
}

bool
addrmatch_equal(const struct addrmatch *a, const struct addrmatch *b)
{
	size_t i;

	if (!str_eq(a->set, b->set) || a->naddrs != b->naddrs)
		return false;
	for (i = 0; i < a->naddrs; i++)
		if (!addr_equal(&a->addrs[i], &b->addrs[i]))
			return false;
	return true;
}

void
portmatch_clear(struct portmatch *m)
{
	free(m->ranges);
	free(m->set);
	free(m->names);
	memset(m, 0, sizeof(*m));
}

int
portmatch_copy(struct portmatch *d, const struct portmatch *s)
{
	int err = 0;

	d->ranges = dupmem(s->ranges, s->nranges, sizeof(*s->ranges), &err);
	d->nranges = d->ranges ? s->nranges : 0;
	d->set = dupstr(s->set, &err);
	d->names = dupstr(s->names, &err);
	if (err) {
		portmatch_clear(d);
		return -1;
	}
	return 0;
}

/* names grows by field i: the i empty fields before it (i - 1 commas)
 * are written first when it was NULL. */
static int
portmatch_add_name(struct portmatch *m, size_t i, const char *name)
{
	size_t old = m->names ? strlen(m->names) : i > 0 ? i - 1 : 0, len;
	char *v;

	if (m->names == NULL && name == NULL)
		return 0;
	len = old + 1 + (name ? strlen(name) : 0);
	if ((v = realloc(m->names, len + 1)) == NULL)
		return -1;
	if (m->names == NULL)
		memset(v, ',', old);
	v[old] = '\0';
	if (i > 0)
		strcat(v, ",");
	if (name != NULL)
		strcat(v, name);
	m->names = v;
	return 0;
}

int
portmatch_add(struct portmatch *m, const struct portrange *r,
    const char *name)
{
	struct portrange *v;

	if ((v = reallocarray(m->ranges, m->nranges + 1, sizeof(*v))) == NULL)
		return -1;
	m->ranges = v;
	if (portmatch_add_name(m, m->nranges, name) == -1)
		return -1;
	v[m->nranges++] = *r;
	return 0;
}

const char *
portmatch_name(const struct portmatch *m, size_t i, char *buf, size_t len)
{
	const char *f = m->names, *end;
	size_t n;

	if (f == NULL || i >= m->nranges)
		return NULL;
	for (; i > 0 && f != NULL; i--)
		if ((f = strchr(f, ',')) != NULL)
			f++;
	if (f == NULL)
		return NULL;
	end = strchr(f, ',');
	n = end ? (size_t)(end - f) : strlen(f);
	if (n == 0 || n >= len)
		return NULL;
	memcpy(buf, f, n);
	buf[n] = '\0';
	return buf;
}

bool
portmatch_same_ports(const struct portmatch *a, const struct portmatch *b)
{
	size_t i;

	if (!str_eq(a->set, b->set) || a->nranges != b->nranges)
		return false;
	for (i = 0; i < a->nranges; i++)
		if (a->ranges[i].lo != b->ranges[i].lo ||
		    a->ranges[i].hi != b->ranges[i].hi)
			return false;
	return true;
}

bool
portmatch_equal(const struct portmatch *a, const struct portmatch *b)
{
	return portmatch_same_ports(a, b) && str_eq(a->names, b->names);
}

/* zones */

struct zone *
zone_new(void)
{
	struct zone *z;

	if ((z = calloc(1, sizeof(*z))) != NULL)
		z->refs = 1;
	return z;
}

struct zone *
zone_ref(struct zone *z)
{
	OBJ_REF(z);
	return z;
}

void
zone_free(struct zone *z)
{
	size_t i;

	if (z == NULL || !obj_unref(&z->refs))
		return;
	free(z->name);
	for (i = 0; i < z->nifaces; i++)
		free(z->ifaces[i]);
	free(z->ifaces);
	free(z->networks);
	srcloc_clear(&z->loc);
	free(z);
}

struct zone *
zone_dup(const struct zone *s)
{
	struct zone *z;
	size_t i;
	int err = 0;

	if ((z = zone_new()) == NULL)
		return NULL;
	z->name = dupstr(s->name, &err);
	z->flags = s->flags;
	if (s->nifaces) {
		if ((z->ifaces = calloc(s->nifaces, sizeof(char *))) == NULL)
			goto fail;
		for (i = 0; i < s->nifaces; i++) {
			z->ifaces[i] = dupstr(s->ifaces[i], &err);
			z->nifaces++;
		}
	}
	z->networks = dupmem(s->networks, s->nnetworks, sizeof(*s->networks),
	    &err);
	z->nnetworks = z->networks ? s->nnetworks : 0;
	memcpy(z->pos, s->pos, sizeof(z->pos));
	if (srcloc_copy(&z->loc, &s->loc) == -1 || err)
		goto fail;
	return z;
fail:
	zone_free(z);
	return NULL;
}

bool
zone_equal(const struct zone *a, const struct zone *b)
{
	size_t i;

	if (!str_eq(a->name, b->name) || a->flags != b->flags ||
	    a->nifaces != b->nifaces || a->nnetworks != b->nnetworks)
		return false;
	for (i = 0; i < a->nifaces; i++)
		if (!str_eq(a->ifaces[i], b->ifaces[i]))
			return false;
	for (i = 0; i < a->nnetworks; i++)
		if (!addr_equal(&a->networks[i], &b->networks[i]))
			return false;
	return true;
}

/* policies */

struct policy *
policy_new(void)
{
	struct policy *p;

	if ((p = calloc(1, sizeof(*p))) != NULL)
		p->refs = 1;
	return p;
}

struct policy *
policy_ref(struct policy *p)
{
	OBJ_REF(p);
	return p;
}

void
policy_free(struct policy *p)
{
	if (p == NULL || !obj_unref(&p->refs))
		return;
	free(p->from);
	free(p->to);
	free(p->log_prefix);
	srcloc_clear(&p->loc);
	free(p);
}

struct policy *
policy_dup(const struct policy *s)
{
	struct policy *p;
	int err = 0;

	if ((p = policy_new()) == NULL)
		return NULL;
	p->from = dupstr(s->from, &err);
	p->to = dupstr(s->to, &err);
	p->verdict = s->verdict;
	p->log = s->log;
	p->log_prefix = dupstr(s->log_prefix, &err);
	memcpy(p->pos, s->pos, sizeof(p->pos));
	if (srcloc_copy(&p->loc, &s->loc) == -1 || err) {
		policy_free(p);
		return NULL;
	}
	return p;
}

bool
policy_equal(const struct policy *a, const struct policy *b)
{
	return str_eq(a->from, b->from) && str_eq(a->to, b->to) &&
	    a->verdict == b->verdict && a->log == b->log &&
	    str_eq(a->log_prefix, b->log_prefix);
}

/* rules */

struct rule *
rule_new(void)
{
	struct rule *r;

	if ((r = calloc(1, sizeof(*r))) != NULL)
		r->refs = 1;
	return r;
}

struct rule *
rule_ref(struct rule *r)
{
	OBJ_REF(r);
	return r;
}

void
rule_free(struct rule *r)
{
	if (r == NULL || !obj_unref(&r->refs))
		return;
	if (r->packed) {
		free(r);
		return;
	}
	free(r->name);
	free(r->from);
	free(r->to);
	portmatch_clear(&r->sport);
	portmatch_clear(&r->dport);
	free(r->icmp_types);
	addrmatch_clear(&r->src);
	addrmatch_clear(&r->dst);
	free(r->log_prefix);
	free(r->comment);
	srcloc_clear(&r->loc);
	free(r);
}

struct rule *
rule_dup(const struct rule *s)
{
	struct rule *r;
	int err = 0;

	if ((r = rule_new()) == NULL)
		return NULL;
	r->name = dupstr(s->name, &err);
	r->from = dupstr(s->from, &err);
	r->to = dupstr(s->to, &err);
	r->proto = s->proto;
	if (portmatch_copy(&r->sport, &s->sport) == -1 ||
	    portmatch_copy(&r->dport, &s->dport) == -1)
		err = -1;
	r->icmp_types = dupmem(s->icmp_types, s->nicmp_types, 1, &err);
	r->nicmp_types = r->icmp_types ? s->nicmp_types : 0;
	if (addrmatch_copy(&r->src, &s->src) == -1 ||
	    addrmatch_copy(&r->dst, &s->dst) == -1)
		err = -1;
	r->state = s->state;
	r->limit = s->limit;
	r->log = s->log;
	r->log_prefix = dupstr(s->log_prefix, &err);
	r->comment = dupstr(s->comment, &err);
	r->verdict = s->verdict;
	memcpy(r->pos, s->pos, sizeof(r->pos));
	if (srcloc_copy(&r->loc, &s->loc) == -1 || err) {
		rule_free(r);
		return NULL;
	}
	return r;
}

/* Room for len bytes in a packed rule, kept 8-byte aligned. */
static size_t
pack_len(size_t len)
{
	return (len + 7) & ~(size_t)7;
}

/* A copy of src inside a packed rule; the cursor moves past it. */
static void *
pack_put(char **cur, const void *src, size_t len)
{
	void *p = *cur;

	if (src == NULL)
		return NULL;
	memcpy(p, src, len);
	*cur += pack_len(len);
	return p;
}

#define PACK_STR(s)	((s) ? pack_len(strlen(s) + 1) : 0)

struct rule *
rule_pack(const struct rule *s)
{
	struct rule *r;
	char *cur;
	size_t len;

	len = pack_len(sizeof(*r)) + PACK_STR(s->name) + PACK_STR(s->from) +
	    PACK_STR(s->to) + PACK_STR(s->sport.set) + PACK_STR(s->dport.set) +
	    PACK_STR(s->sport.names) + PACK_STR(s->dport.names) +
	    PACK_STR(s->src.set) + PACK_STR(s->dst.set) +
	    PACK_STR(s->log_prefix) + PACK_STR(s->comment) +
	    PACK_STR(s->loc.file) +
	    pack_len(s->sport.nranges * sizeof(*s->sport.ranges)) +
	    pack_len(s->dport.nranges * sizeof(*s->dport.ranges)) +
	    pack_len(s->nicmp_types) +
	    pack_len(s->src.naddrs * sizeof(*s->src.addrs)) +
	    pack_len(s->dst.naddrs * sizeof(*s->dst.addrs));
	if ((r = calloc(1, len)) == NULL)
		return NULL;
	*r = *s;
	r->refs = 1;
	r->packed = true;
	cur = (char *)r + pack_len(sizeof(*r));
#define PUT_STR(f)	r->f = pack_put(&cur, s->f, s->f ? strlen(s->f) + 1 : 0)
	PUT_STR(name);
	PUT_STR(from);
	PUT_STR(to);
	PUT_STR(sport.set);
	PUT_STR(dport.set);
	PUT_STR(sport.names);
	PUT_STR(dport.names);
	PUT_STR(src.set);
	PUT_STR(dst.set);
	PUT_STR(log_prefix);
	PUT_STR(comment);
	PUT_STR(loc.file);
#undef PUT_STR
	r->sport.ranges = s->sport.nranges ? pack_put(&cur, s->sport.ranges,
	    s->sport.nranges * sizeof(*s->sport.ranges)) : NULL;
	r->dport.ranges = s->dport.nranges ? pack_put(&cur, s->dport.ranges,
	    s->dport.nranges * sizeof(*s->dport.ranges)) : NULL;
	r->icmp_types = s->nicmp_types ? pack_put(&cur, s->icmp_types,
	    s->nicmp_types) : NULL;
	r->src.addrs = s->src.naddrs ? pack_put(&cur, s->src.addrs,
	    s->src.naddrs * sizeof(*s->src.addrs)) : NULL;
	r->dst.addrs = s->dst.naddrs ? pack_put(&cur, s->dst.addrs,
	    s->dst.naddrs * sizeof(*s->dst.addrs)) : NULL;
	return r;
}

int
ruleset_pack_rules(struct ruleset *rs)
{
	struct rule *r;
	size_t i;

	for (i = 0; i < rs->nrules; i++) {
		if (rs->rules[i]->packed || obj_shared(&rs->rules[i]->refs))
			continue;
		if ((r = rule_pack(rs->rules[i])) == NULL)
			return -1;
		ruleset_replace_rule(rs, i, r);
	}
	return 0;
}

bool
rule_equal(const struct rule *a, const struct rule *b)
{
	return rule_same_match(a, b) && str_eq(a->comment, b->comment) &&
	    str_eq(a->sport.names, b->sport.names) &&
	    str_eq(a->dport.names, b->dport.names);
}

bool
rule_same_match(const struct rule *a, const struct rule *b)
{
	return str_eq(a->name, b->name) && str_eq(a->from, b->from) &&
	    str_eq(a->to, b->to) && a->proto == b->proto &&
	    a->family == b->family &&
	    portmatch_same_ports(&a->sport, &b->sport) &&
	    portmatch_same_ports(&a->dport, &b->dport) &&
	    a->nicmp_types == b->nicmp_types &&
	    (a->nicmp_types == 0 ||
	    memcmp(a->icmp_types, b->icmp_types, a->nicmp_types) == 0) &&
	    addrmatch_equal(&a->src, &b->src) &&
	    addrmatch_equal(&a->dst, &b->dst) &&
	    a->state == b->state &&
	    a->limit.rate == b->limit.rate &&
	    (a->limit.rate == 0 || (a->limit.unit == b->limit.unit &&
	    a->limit.burst == b->limit.burst &&
	    a->limit.per_source == b->limit.per_source)) &&
	    a->log == b->log && str_eq(a->log_prefix, b->log_prefix) &&
	    a->verdict == b->verdict;
}

/* NAT entries */

struct nat *
nat_new(void)
{
	struct nat *n;

	if ((n = calloc(1, sizeof(*n))) != NULL)
		n->refs = 1;
	return n;
}

struct nat *
nat_ref(struct nat *n)
{
	OBJ_REF(n);
	return n;
}

void
nat_free(struct nat *n)
{
	if (n == NULL || !obj_unref(&n->refs))
		return;
	free(n->name);
	free(n->from);
	free(n->to);
	addrmatch_clear(&n->src);
	srcloc_clear(&n->loc);
	free(n);
}

struct nat *
nat_dup(const struct nat *s)
{
	struct nat *n;
	int err = 0;

	if ((n = nat_new()) == NULL)
		return NULL;
	n->name = dupstr(s->name, &err);
	n->kind = s->kind;
	n->from = dupstr(s->from, &err);
	n->to = dupstr(s->to, &err);
	n->snat_addr = s->snat_addr;
	n->proto = s->proto;
	n->dport = s->dport;
	n->target = s->target;
	n->target_port = s->target_port;
	memcpy(n->pos, s->pos, sizeof(n->pos));
	if (addrmatch_copy(&n->src, &s->src) == -1)
		err = -1;
	if (srcloc_copy(&n->loc, &s->loc) == -1 || err) {
		nat_free(n);
		return NULL;
	}
	return n;
}

bool
nat_equal(const struct nat *a, const struct nat *b)
{
	if (!str_eq(a->name, b->name) || a->kind != b->kind ||
	    !str_eq(a->from, b->from) || !str_eq(a->to, b->to) ||
	    !addrmatch_equal(&a->src, &b->src))
		return false;
	switch (a->kind) {
	case NAT_SNAT:
		return addr_equal(&a->snat_addr, &b->snat_addr);
	case NAT_FORWARD:
		return a->proto == b->proto && a->dport.lo == b->dport.lo &&
		    a->dport.hi == b->dport.hi &&
		    addr_equal(&a->target, &b->target) &&
		    a->target_port == b->target_port;
	default:
		return true;
	}
}

/* sets */

struct set *
set_new(void)
{
	struct set *s;

	if ((s = calloc(1, sizeof(*s))) != NULL)
		s->refs = 1;
	return s;
}

struct set *
set_ref(struct set *s)
{
	OBJ_REF(s);
	return s;
}

/*
 * A set's elements are copied on write: one element added to a set that
 * the current ruleset shares makes a new array for the next one, and the
 * old array goes once the change is published and no reader holds it.
 * For a blocklist of 100,000 elements that is 4.8 MB each way, and arrays
 * that big are mappings of their own (fwctld.c's M_MMAP_THRESHOLD): every
 * copy faulted in each page of a fresh mapping and unmapped the old one,
 * 1.8 ms of the 2.5 ms that one element took. The last big array freed is
 * kept for the next copy instead (one at a time: the copy and the current
 * set alternate between two arrays), with room to grow by an eighth, and
 * set_spare_drop() gives it back.
 */
#define ELEMS_SPARE_MIN	((256u << 10) / sizeof(struct set_elem))

static pthread_mutex_t	 spare_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct set_elem	*spare;
static size_t		 spare_cap;

/* An array for n elements (uninitialised), *cap what it holds. */
static struct set_elem *
elems_alloc(size_t n, size_t *cap)
{
	struct set_elem *v = NULL;
	size_t want = n;

	if (n >= ELEMS_SPARE_MIN) {
		pthread_mutex_lock(&spare_mtx);
		/* not one twice the size that would stay resident */
		if (spare != NULL && spare_cap >= n && spare_cap / 2 <= n) {
			v = spare;
			*cap = spare_cap;
			spare = NULL;
			spare_cap = 0;
		}
		pthread_mutex_unlock(&spare_mtx);
		if (v != NULL)
			return v;
		want = n + n / 8;	/* the next copies fit it too */
	}
	if ((v = reallocarray(NULL, want, sizeof(*v))) != NULL)
		*cap = want;
	return v;
}

/* v (cap elements) is no set's any more. */
static void
elems_release(struct set_elem *v, size_t cap)
{
	struct set_elem *old = v;

	if (v != NULL && cap >= ELEMS_SPARE_MIN) {
		pthread_mutex_lock(&spare_mtx);
		/* the bigger one stays: a growing set fits it longer */
		if (spare == NULL || cap > spare_cap) {
			old = spare;
			spare = v;
			spare_cap = cap;
		}
		pthread_mutex_unlock(&spare_mtx);
	}
	free(old);
}

void
set_spare_drop(void)
{
	struct set_elem *v;

	pthread_mutex_lock(&spare_mtx);
	v = spare;
	spare = NULL;
	spare_cap = 0;
	pthread_mutex_unlock(&spare_mtx);
	free(v);
}

void
set_free(struct set *s)
{
	if (s == NULL || !obj_unref(&s->refs))
		return;
	free(s->name);
	elems_release(s->elems, s->elems_cap);
	srcloc_clear(&s->loc);
	free(s);
}

/* A copy with room for extra more elements. */
static struct set *
set_copy(const struct set *o, size_t extra)
{
	struct set *s;
	int err = 0;

	if ((s = set_new()) == NULL)
		return NULL;
	s->name = dupstr(o->name, &err);
	s->type = o->type;
	s->timeout_ms = o->timeout_ms;
	/* extra SIZE_MAX: the caller fills the elements */
	if (extra != SIZE_MAX && o->nelems + extra > 0) {
		s->elems = elems_alloc(o->nelems + extra, &s->elems_cap);
		if (s->elems == NULL)
			err = -1;
		else {
			if (o->nelems)
				memcpy(s->elems, o->elems,
				    o->nelems * sizeof(*s->elems));
			s->nelems = o->nelems;
		}
	}
	s->unsorted = o->unsorted;
	s->expiry_hint = o->expiry_hint;
	if (srcloc_copy(&s->loc, &o->loc) == -1 || err) {
		set_free(s);
		return NULL;
	}
	return s;
}

struct set *
set_dup(const struct set *o)
{
	return set_copy(o, 0);
}

int
set_elem_cmp(enum set_type t, const struct set_elem *a,
    const struct set_elem *b)
{
	const struct addr *x, *y;
	int c;

	if (t == SET_PORT) {
		if (a->key.port.lo != b->key.port.lo)
			return a->key.port.lo < b->key.port.lo ? -1 : 1;
		if (a->key.port.hi != b->key.port.hi)
			return a->key.port.hi > b->key.port.hi ? -1 : 1;
		return 0;
	}
	x = &a->key.addr;
	y = &b->key.addr;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if ((c = memcmp(x->bytes, y->bytes, x->family == AF_INET ? 4 : 16))
	    != 0)
		return c;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return 0;
}

static bool
elem_key_equal(enum set_type t, const struct set_elem *a,
    const struct set_elem *b)
{
	if (t == SET_PORT)
		return a->key.port.lo == b->key.port.lo &&
		    a->key.port.hi == b->key.port.hi;
	return addr_equal(&a->key.addr, &b->key.addr);
}

static int
elem_qsort_cmp(const void *a, const void *b, void *arg)
{
	const struct set_elem *x = a, *y = b;
	int c;

	if ((c = set_elem_cmp(*(enum set_type *)arg, x, y)) != 0)
		return c;
	/* duplicates: a stable order, so that equal sets compare equal */
	if (x->timeout_ms != y->timeout_ms)
		return x->timeout_ms < y->timeout_ms ? -1 : 1;
	return 0;
}

void
set_elems_sort(enum set_type t, struct set_elem *v, size_t n)
{
	if (n < 2)
		return;
	qsort_r(v, n, sizeof(*v), elem_qsort_cmp, &t);
}

void
set_sort(struct set *s)
{
	if (!s->unsorted)
		return;
	set_elems_sort(s->type, s->elems, s->nelems);
	s->unsorted = false;
}

static bool
elems_same(enum set_type t, const struct set_elem *a,
    const struct set_elem *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!elem_key_equal(t, &a[i], &b[i]) ||
		    a[i].timeout_ms != b[i].timeout_ms)
			return false;
	return true;
}

bool
set_equal(const struct set *a, const struct set *b)
{
	struct set_elem *x = NULL, *y = NULL;
	bool eq;

	if (a == b)
		return true;
	if (!str_eq(a->name, b->name) || a->type != b->type ||
	    a->timeout_ms != b->timeout_ms || a->nelems != b->nelems)
		return false;
	if (!a->unsorted && !b->unsorted)
		return elems_same(a->type, a->elems, b->elems, a->nelems);
	/* an order given by hand: compare sorted copies */
	x = reallocarray(NULL, a->nelems, sizeof(*x));
	y = reallocarray(NULL, a->nelems, sizeof(*y));
	if (x == NULL || y == NULL) {
		eq = elems_same(a->type, a->elems, b->elems, a->nelems);
		goto out;
	}
	memcpy(x, a->elems, a->nelems * sizeof(*x));
	memcpy(y, b->elems, a->nelems * sizeof(*y));
	set_elems_sort(a->type, x, a->nelems);
	set_elems_sort(a->type, y, a->nelems);
	eq = elems_same(a->type, x, y, a->nelems);
out:
	free(x);
	free(y);
	return eq;
}

static int
set_reserve(struct set *s, size_t n)
{
	struct set_elem *v;
	size_t cap;

	if (n <= s->elems_cap)
		return 0;
	cap = s->elems_cap ? s->elems_cap : 16;
	while (cap < n)
		cap *= 2;
	if ((v = reallocarray(s->elems, cap, sizeof(*v))) == NULL)
		return -1;
	s->elems = v;
	s->elems_cap = cap;
	return 0;
}

static void
set_note_expiry(struct set *s, const struct set_elem *e)
{
	if (e->expires_ms != 0 && (s->expiry_hint == 0 ||
	    e->expires_ms < s->expiry_hint))
		s->expiry_hint = e->expires_ms;
}

int
set_add_elem(struct set *s, const struct set_elem *e)
{
	if (set_reserve(s, s->nelems + 1) == -1)
		return -1;
	if (s->nelems > 0 &&
	    set_elem_cmp(s->type, &s->elems[s->nelems - 1], e) > 0)
		s->unsorted = true;
	s->elems[s->nelems++] = *e;
	set_note_expiry(s, e);
	return 0;
}

/* Where e goes in s->elems[lo, nelems): a binary search. */
static size_t
set_lower_bound_from(const struct set *s, size_t lo,
    const struct set_elem *e)
{
	size_t hi = s->nelems, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (set_elem_cmp(s->type, &s->elems[mid], e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t
set_lower_bound(const struct set *s, const struct set_elem *e)
{
	return set_lower_bound_from(s, 0, e);
}

ssize_t
set_find_elem(const struct set *s, const struct set_elem *e)
{
	size_t i;

	if (!s->unsorted) {
		i = set_lower_bound(s, e);
		if (i < s->nelems && elem_key_equal(s->type, &s->elems[i], e))
			return (ssize_t)i;
		return -1;
	}
	for (i = 0; i < s->nelems; i++)
		if (elem_key_equal(s->type, &s->elems[i], e))
			return (ssize_t)i;
	return -1;
}

int
set_merge_elems(struct set *s, const struct set_elem *add, size_t n)
{
	size_t i, j, k, total;

	if (n == 0)
		return 0;
	total = s->nelems + n;
	if (set_reserve(s, total) == -1)
		return -1;
	if (n == 1) {
		/* the common case: one memmove */
		i = set_lower_bound(s, add);
		memmove(&s->elems[i + 1], &s->elems[i],
		    (s->nelems - i) * sizeof(*s->elems));
		s->elems[i] = add[0];
		s->nelems++;
		set_note_expiry(s, add);
		return 0;
	}
	/* merge from the back, in place */
	i = s->nelems;
	j = n;
	k = total;
	while (j > 0) {
		if (i > 0 && set_elem_cmp(s->type, &s->elems[i - 1],
		    &add[j - 1]) > 0)
			s->elems[--k] = s->elems[--i];
		else {
			s->elems[--k] = add[--j];
			set_note_expiry(s, &add[j]);
		}
	}
	s->nelems = total;
	return 0;
}

/* o->elems[i, end) into v at *k, without those marked in drop: whole
 * stretches at a time. Whether an element dropped had the hint's expiry. */
static bool
copy_kept(struct set_elem *v, size_t *k, const struct set *o, size_t i,
    size_t end, const unsigned char *drop)
{
	const unsigned char *d;
	size_t stop;
	bool hint = false;

	while (i < end) {
		stop = end;
		if (drop != NULL && (d = memchr(drop + i, 1, end - i)) != NULL)
			stop = (size_t)(d - drop);
		memcpy(&v[*k], &o->elems[i], (stop - i) * sizeof(*v));
		*k += stop - i;
		if (stop == end)
			break;
		hint |= o->elems[stop].expires_ms != 0 &&
		    o->elems[stop].expires_ms == o->expiry_hint;
		i = stop + 1;
	}
	return hint;
}

struct set *
set_merge_copy(const struct set *o, const struct set_elem *add, size_t n,
    const unsigned char *drop)
{
	struct set *s;
	struct set_elem *v;
	size_t i = 0, j, k = 0, at;
	bool rehint = false;

	if ((s = set_copy(o, SIZE_MAX)) == NULL)
		return NULL;
	if (o->nelems + n == 0)
		return s;
	if ((v = elems_alloc(o->nelems + n, &s->elems_cap)) == NULL) {
		set_free(s);
		return NULL;
	}
	s->elems = v;
	/* the old set's stretches between the new elements, each found by
	 * a binary search: a few elements into a big set copy it at the
	 * speed of memory */
	for (j = 0; j < n; j++) {
		at = set_lower_bound_from(o, i, &add[j]);
		rehint |= copy_kept(v, &k, o, i, at, drop);
		v[k++] = add[j];
		i = at;
		set_note_expiry(s, &add[j]);
	}
	rehint |= copy_kept(v, &k, o, i, o->nelems, drop);
	s->nelems = k;
	if (rehint) {
		/* the earliest expiry went: the next one, from all */
		s->expiry_hint = 0;
		for (i = 0; i < k; i++)
			set_note_expiry(s, &v[i]);
	}
	return s;
}

void
set_remove_marked(struct set *s, const unsigned char *drop)
{
	size_t i, n = 0;

	s->expiry_hint = 0;
	for (i = 0; i < s->nelems; i++) {
		if (drop[i])
			continue;
		s->elems[n++] = s->elems[i];
		set_note_expiry(s, &s->elems[i]);
	}
	s->nelems = n;
}

void
set_remove_elem(struct set *s, size_t i)
{
	if (i >= s->nelems)
		return;
	memmove(&s->elems[i], &s->elems[i + 1],
	    (s->nelems - i - 1) * sizeof(*s->elems));
	s->nelems--;
}

/* the ruleset */

struct ruleset *
ruleset_new(void)
{
	return calloc(1, sizeof(struct ruleset));
}

void
ruleset_free(struct ruleset *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->nzones; i++)
		zone_free(rs->zones[i]);
	for (i = 0; i < rs->npolicies; i++)
		policy_free(rs->policies[i]);
	for (i = 0; i < rs->nrules && !rs->rules_borrowed; i++)
		rule_free(rs->rules[i]);
	for (i = 0; i < rs->nnats; i++)
		nat_free(rs->nats[i]);
	for (i = 0; i < rs->nsets; i++)
		set_free(rs->sets[i]);
	free(rs->zones);
	free(rs->policies);
	free(rs->rules);
	free(rs->nats);
	free(rs->sets);
	free(rs);
}

/* Copies array arr of src into dst with dupfn/addfn; -1 on ENOMEM. */
#define RS_DUP_ARRAY(dst, src, arr, dupfn, addfn, freefn) do {		\
	size_t i_;							\
	for (i_ = 0; i_ < (src)->n##arr; i_++) {			\
		__typeof__((src)->arr[0]) o_ = dupfn((src)->arr[i_]);	\
		if (o_ == NULL)						\
			goto fail;					\
		if (addfn((dst), o_) == -1) {				\
			freefn(o_);					\
			goto fail;					\
		}							\
	}								\
} while (0)

struct ruleset *
ruleset_dup(const struct ruleset *src)
{
	struct ruleset *rs;

	if ((rs = ruleset_new()) == NULL)
		return NULL;
	RS_DUP_ARRAY(rs, src, zones, zone_dup, ruleset_add_zone, zone_free);
	RS_DUP_ARRAY(rs, src, policies, policy_dup, ruleset_add_policy,
	    policy_free);
	RS_DUP_ARRAY(rs, src, rules, rule_dup, ruleset_add_rule, rule_free);
	RS_DUP_ARRAY(rs, src, nats, nat_dup, ruleset_add_nat, nat_free);
	RS_DUP_ARRAY(rs, src, sets, set_dup, ruleset_add_set, set_free);
	return rs;
fail:
	ruleset_free(rs);
	return NULL;
}

/* A copy of one pointer array, with a reference on every object. */
static int
ptrs_share(void ***dv, size_t *dn, size_t *dcap, void *const *sv, size_t n,
    size_t refoff)
{
	size_t i, cap = n + 16;

	if ((*dv = reallocarray(NULL, cap, sizeof(**dv))) == NULL)
		return -1;
	if (n)
		memcpy(*dv, sv, n * sizeof(*sv));
	for (i = 0; i < n; i++)
		__atomic_add_fetch((unsigned *)(void *)((char *)sv[i] + refoff),
		    1, __ATOMIC_RELAXED);
	*dn = n;
	*dcap = cap;
	return 0;
}

#define RS_SHARE_ARRAY(dst, src, arr, type)				\
	ptrs_share((void ***)&(dst)->arr, &(dst)->n##arr,		\
	    &(dst)->arr##_cap, (void *const *)(src)->arr, (src)->n##arr,	\
	    offsetof(type, refs))

struct ruleset *
ruleset_share(const struct ruleset *src)
{
	struct ruleset *rs;

	if ((rs = ruleset_new()) == NULL)
		return NULL;
	if (RS_SHARE_ARRAY(rs, src, zones, struct zone) == -1 ||
	    RS_SHARE_ARRAY(rs, src, policies, struct policy) == -1 ||
	    RS_SHARE_ARRAY(rs, src, rules, struct rule) == -1 ||
	    RS_SHARE_ARRAY(rs, src, nats, struct nat) == -1 ||
	    RS_SHARE_ARRAY(rs, src, sets, struct set) == -1) {
		ruleset_free(rs);
		return NULL;
	}
	return rs;
}

struct ruleset *
ruleset_borrow(const struct ruleset *src)
{
	struct ruleset	*rs;

	if ((rs = ruleset_new()) == NULL)
		return NULL;
	rs->rules_borrowed = true;
	if (RS_SHARE_ARRAY(rs, src, zones, struct zone) == -1 ||
	    RS_SHARE_ARRAY(rs, src, policies, struct policy) == -1 ||
	    RS_SHARE_ARRAY(rs, src, nats, struct nat) == -1 ||
	    RS_SHARE_ARRAY(rs, src, sets, struct set) == -1 ||
	    (rs->rules = reallocarray(NULL, src->nrules + 16,
	    sizeof(*rs->rules))) == NULL) {
		ruleset_free(rs);
		return NULL;
	}
	/* a copy of the pointers, no pass over the rule objects */
	if (src->nrules)
		memcpy(rs->rules, src->rules, src->nrules *
		    sizeof(*rs->rules));
	rs->nrules = src->nrules;
	rs->rules_cap = src->nrules + 16;
	return rs;
}

void
ruleset_settle_rules(struct ruleset *rs, const struct rule *own)
{
	size_t i;

	if (!rs->rules_borrowed)
		return;
	for (i = 0; i < rs->nrules; i++)
		if (rs->rules[i] != own)
			OBJ_REF(rs->rules[i]);
	rs->rules_borrowed = false;
}

/* Objects shared by both rulesets are equal without a look inside. */
#define RS_EQUAL_ARRAY(a, b, arr, eqfn) do {				\
	size_t i_;							\
	if ((a)->n##arr != (b)->n##arr)					\
		return false;						\
	for (i_ = 0; i_ < (a)->n##arr; i_++)				\
		if ((a)->arr[i_] != (b)->arr[i_] &&			\
		    !eqfn((a)->arr[i_], (b)->arr[i_]))			\
			return false;					\
} while (0)

bool
ruleset_equal(const struct ruleset *a, const struct ruleset *b)
{
	RS_EQUAL_ARRAY(a, b, zones, zone_equal);
	RS_EQUAL_ARRAY(a, b, policies, policy_equal);
	RS_EQUAL_ARRAY(a, b, rules, rule_equal);
	RS_EQUAL_ARRAY(a, b, nats, nat_equal);
	RS_EQUAL_ARRAY(a, b, sets, set_equal);
	return true;
}

int
ruleset_add_zone(struct ruleset *rs, struct zone *z)
{
	return RS_INSERT(rs, zones, rs->nzones, z);
}

int
ruleset_add_policy(struct ruleset *rs, struct policy *p)
{
	return RS_INSERT(rs, policies, rs->npolicies, p);
}

int
ruleset_add_rule(struct ruleset *rs, struct rule *r)
{
	return RS_INSERT(rs, rules, rs->nrules, r);
}

int
ruleset_insert_rule(struct ruleset *rs, size_t pos, struct rule *r)
{
	return RS_INSERT(rs, rules, pos, r);
}

int
ruleset_add_nat(struct ruleset *rs, struct nat *n)
{
	return RS_INSERT(rs, nats, rs->nnats, n);
}

int
ruleset_add_set(struct ruleset *rs, struct set *s)
{
	return RS_INSERT(rs, sets, rs->nsets, s);
}

struct rule *
ruleset_remove_rule(struct ruleset *rs, size_t i)
{
	return RS_REMOVE(rs, rules, i);
}

struct zone *
ruleset_remove_zone(struct ruleset *rs, size_t i)
{
	return RS_REMOVE(rs, zones, i);
}

struct policy *
ruleset_remove_policy(struct ruleset *rs, size_t i)
{
	return RS_REMOVE(rs, policies, i);
}

struct nat *
ruleset_remove_nat(struct ruleset *rs, size_t i)
{
	return RS_REMOVE(rs, nats, i);
}

struct set *
ruleset_remove_set(struct ruleset *rs, size_t i)
{
	return RS_REMOVE(rs, sets, i);
}

void
ruleset_replace_rule(struct ruleset *rs, size_t i, struct rule *r)
{
	rule_free(rs->rules[i]);
	rs->rules[i] = r;
}

void
ruleset_replace_zone(struct ruleset *rs, size_t i, struct zone *z)
{
	zone_free(rs->zones[i]);
	rs->zones[i] = z;
}

void
ruleset_replace_policy(struct ruleset *rs, size_t i, struct policy *p)
{
	policy_free(rs->policies[i]);
	rs->policies[i] = p;
}

void
ruleset_replace_set(struct ruleset *rs, size_t i, struct set *s)
{
	set_free(rs->sets[i]);
	rs->sets[i] = s;
}

struct set *
ruleset_own_set(struct ruleset *rs, size_t i, size_t extra)
{
	struct set *s;

	if (!obj_shared(&rs->sets[i]->refs))
		return rs->sets[i];
	if ((s = set_copy(rs->sets[i], extra)) == NULL)
		return NULL;
	ruleset_replace_set(rs, i, s);
	return s;
}

int
ruleset_update_set(struct ruleset *rs, size_t i, const struct set_elem *add,
    size_t n, const unsigned char *drop)
{
	struct set *s = rs->sets[i];

	if (obj_shared(&s->refs)) {
		if ((s = set_merge_copy(s, add, n, drop)) == NULL)
			return -1;
		ruleset_replace_set(rs, i, s);
		return 0;
	}
	if (drop != NULL)
		set_remove_marked(s, drop);
	return set_merge_elems(s, add, n);
}

ssize_t
ruleset_rule_index(const struct ruleset *rs, const struct rule *r)
{
	size_t i;

	for (i = 0; i < rs->nrules; i++)
		if (rs->rules[i] == r)
			return (ssize_t)i;
	return -1;
}

#define RS_FIND(rs, arr, key) do {					\
	size_t i_;							\
	for (i_ = 0; i_ < (rs)->n##arr; i_++)				\
		if (str_eq((rs)->arr[i_]->name, (key)))			\
			return (ssize_t)i_;				\
	return -1;							\
} while (0)

/* Whether s is the three-letter word w: without a call, as the compile
 * asks zone_word_covers for every rule of every pair chain. */
static inline bool
word3(const char *s, const char *w)
{
	return s[0] == w[0] && s[1] == w[1] && s[2] == w[2] && s[3] == '\0';
}

bool
zone_word_covers(const char *word, const char *side)
{
	if (word[0] == side[0] && strcmp(word, side) == 0)
		return true;
	if (word[0] != ZONE_ANY[0] && word[0] != ZONE_ALL[0])
		return false;
	if (word3(word, ZONE_ALL))
		return true;
	return word3(word, ZONE_ANY) && strcmp(side, ZONE_SELF) != 0 &&
	    !word3(side, ZONE_ALL);
}

ssize_t
ruleset_find_zone(const struct ruleset *rs, const char *name)
{
	RS_FIND(rs, zones, name);
}

ssize_t
ruleset_find_rule(const struct ruleset *rs, const char *name)
{
	RS_FIND(rs, rules, name);
}

ssize_t
ruleset_find_nat(const struct ruleset *rs, const char *name)
{
	RS_FIND(rs, nats, name);
}

ssize_t
ruleset_find_set(const struct ruleset *rs, const char *name)
{
	RS_FIND(rs, sets, name);
}

ssize_t
ruleset_find_policy(const struct ruleset *rs, const char *from,
    const char *to)
{
	size_t i;

	for (i = 0; i < rs->npolicies; i++)
		if (str_eq(rs->policies[i]->from, from) &&
		    str_eq(rs->policies[i]->to, to))
			return (ssize_t)i;
	return -1;
}

/* On failure the objects not yet moved stay in src; none is in both. */
#define RS_MOVE_ARRAY(dst, src, arr, addfn) do {			\
	size_t i_, n_ = (src)->n##arr;					\
	for (i_ = 0; i_ < n_; i_++) {					\
		if (addfn((dst), (src)->arr[i_]) == -1) {		\
			memmove((src)->arr, (src)->arr + i_,		\
			    (n_ - i_) * sizeof(*(src)->arr));		\
			(src)->n##arr = n_ - i_;			\
			return -1;					\
		}							\
	}								\
	(src)->n##arr = 0;						\
} while (0)

int
ruleset_merge(struct ruleset *dst, struct ruleset *src)
{
	RS_MOVE_ARRAY(dst, src, zones, ruleset_add_zone);
	RS_MOVE_ARRAY(dst, src, policies, ruleset_add_policy);
	RS_MOVE_ARRAY(dst, src, rules, ruleset_add_rule);
	RS_MOVE_ARRAY(dst, src, nats, ruleset_add_nat);
	RS_MOVE_ARRAY(dst, src, sets, ruleset_add_set);
	return 0;
}
