/* Open addressing with linear probing; deletion shifts entries back, so
 * there are no tombstones to clean up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nameidx.h"

struct nameidx {
	void	**v;		/* objects; NULL = empty slot */
	size_t	  cap;		/* power of two */
	size_t	  n;
};

static const char *
objname(const void *o)
{
	return *(char *const *)o;
}

/* FNV-1a, 64 bit */
static size_t
hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

struct nameidx *
nameidx_new(size_t hint)
{
	struct nameidx *x;
	size_t cap = 16;

	while (cap < hint * 2 && cap < ((size_t)1 << 40))
		cap <<= 1;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	if ((x->v = calloc(cap, sizeof(*x->v))) == NULL) {
		free(x);
		return NULL;
	}
	x->cap = cap;
	return x;
}

void
nameidx_free(struct nameidx *x)
{
	if (x == NULL)
		return;
	free(x->v);
	free(x);
}

/* The slot holding name, or the empty slot where it would go. */
static size_t
slot(const struct nameidx *x, const char *name)
{
	size_t i, mask = x->cap - 1;

	for (i = hash(name) & mask; x->v[i] != NULL; i = (i + 1) & mask)
		if (strcmp(objname(x->v[i]), name) == 0)
			break;
	return i;
}

static int
grow(struct nameidx *x)
{
	void **old = x->v;
	size_t i, j, oldcap = x->cap, cap = x->cap * 2;

	if ((x->v = calloc(cap, sizeof(*x->v))) == NULL) {
		x->v = old;
		return -1;
	}
	x->cap = cap;
	for (i = 0; i < oldcap; i++) {
		if (old[i] == NULL)
			continue;
		for (j = hash(objname(old[i])) & (cap - 1); x->v[j];
		    j = (j + 1) & (cap - 1))
			;
		x->v[j] = old[i];
	}
	free(old);
	return 0;
}

int
nameidx_put(struct nameidx *x, void *obj)
{
	size_t i;

	if ((x->n + 1) * 2 > x->cap && grow(x) == -1)
		return -1;
	i = slot(x, objname(obj));
	if (x->v[i] == NULL)
		x->n++;
	x->v[i] = obj;
	return 0;
}

void *
nameidx_get(const struct nameidx *x, const char *name)
{
	return x->v[slot(x, name)];
}

void
nameidx_del(struct nameidx *x, const char *name)
{
	size_t i, j, k, mask = x->cap - 1;

	i = slot(x, name);
	if (x->v[i] == NULL)
		return;
	x->v[i] = NULL;
	x->n--;
	/* move back the entries that probed past the hole */
	for (j = (i + 1) & mask; x->v[j] != NULL; j = (j + 1) & mask) {
		k = hash(objname(x->v[j])) & mask;
		/* k cyclically in (i, j]: the entry may stay */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		x->v[i] = x->v[j];
		x->v[j] = NULL;
		i = j;
	}
}

size_t
nameidx_count(const struct nameidx *x)
{
	return x->n;
}
