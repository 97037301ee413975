/* Open-addressing hash map (linear probing, tombstones) keyed by bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

struct slot {
	void		*key;		/* NULL = empty; TOMB = deleted */
	size_t		 len;
	uint64_t	 hash;
	void		*val;
};

struct strmap {
	struct slot	*v;
	size_t		 cap;		/* power of two */
	size_t		 used;		/* live keys */
	size_t		 filled;	/* live keys + tombstones */
};

static char tomb;
#define TOMB	((void *)&tomb)

/* FNV-1a, 64 bit: keys are short names and addresses. */
static uint64_t
hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct strmap *
strmap_new(size_t hint)
{
	struct strmap *m;
	size_t cap = 16;

	while (cap < hint * 2 && cap < ((size_t)1 << 40))
		cap <<= 1;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if ((m->v = calloc(cap, sizeof(*m->v))) == NULL) {
		free(m);
		return NULL;
	}
	m->cap = cap;
	return m;
}

void
strmap_free(struct strmap *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->cap; i++)
		if (m->v[i].key && m->v[i].key != TOMB)
			free(m->v[i].key);
	free(m->v);
	free(m);
}

static struct slot *
lookup(const struct strmap *m, const void *key, size_t len, uint64_t h)
{
	size_t i, mask = m->cap - 1;
	struct slot *s;

	for (i = h & mask;; i = (i + 1) & mask) {
		s = &m->v[i];
		if (s->key == NULL)
			return NULL;
		if (s->key != TOMB && s->hash == h && s->len == len &&
		    memcmp(s->key, key, len) == 0)
			return s;
	}
}

static int
grow(struct strmap *m)
{
	struct slot *old = m->v, *s;
	size_t i, j, oldcap = m->cap, cap = m->cap;

	/* rehash in place of tombstones when they, not keys, fill the map */
	if (m->used * 2 >= m->cap)
		cap <<= 1;
	if ((m->v = calloc(cap, sizeof(*m->v))) == NULL) {
		m->v = old;
		return -1;
	}
	m->cap = cap;
	m->filled = m->used;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key == NULL || old[i].key == TOMB)
			continue;
		for (j = old[i].hash & (cap - 1); m->v[j].key;
		    j = (j + 1) & (cap - 1))
			;
		s = &m->v[j];
		*s = old[i];
	}
	free(old);
	return 0;
}

int
strmap_put(struct strmap *m, const void *key, size_t len, void *val)
{
	uint64_t h = hash_bytes(key, len);
	size_t i, mask;
	struct slot *s;
	void *k;

	if ((s = lookup(m, key, len, h)) != NULL) {
		s->val = val;
		return 0;
	}
	if ((m->filled + 1) * 4 >= m->cap * 3 && grow(m) == -1)
		return -1;
	mask = m->cap - 1;
	for (i = h & mask; m->v[i].key && m->v[i].key != TOMB;
	    i = (i + 1) & mask)
		;
	s = &m->v[i];
	if ((k = malloc(len ? len : 1)) == NULL)
		return -1;
	if (len)
		memcpy(k, key, len);
	if (s->key != TOMB)
		m->filled++;
	s->key = k;
	s->len = len;
	s->hash = h;
	s->val = val;
	m->used++;
	return 0;
}

int
strmap_puts(struct strmap *m, const char *key, void *val)
{
	return strmap_put(m, key, strlen(key), val);
}

void *
strmap_get(const struct strmap *m, const void *key, size_t len)
{
	struct slot *s = lookup(m, key, len, hash_bytes(key, len));

	return s ? s->val : NULL;
}

void *
strmap_gets(const struct strmap *m, const char *key)
{
	return strmap_get(m, key, strlen(key));
}

void *
strmap_del(struct strmap *m, const void *key, size_t len)
{
	struct slot *s = lookup(m, key, len, hash_bytes(key, len));
	void *val;

	if (s == NULL)
		return NULL;
	val = s->val;
	free(s->key);
	s->key = TOMB;
	s->val = NULL;
	m->used--;
	return val;
}

size_t
strmap_count(const struct strmap *m)
{
	return m->used;
}
