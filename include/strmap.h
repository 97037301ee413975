/* strmap.c: a small hash map from byte-string keys to pointers, for name
 * and element indexes (O(1) lookups where a ruleset has 100,000 objects). */
#ifndef FWCTL_STRMAP_H
#define FWCTL_STRMAP_H

#include <stddef.h>

struct strmap;

struct strmap	*strmap_new(size_t hint);
void		 strmap_free(struct strmap *);
/* Keys are copied. Replaces the value of an existing key. -1 on ENOMEM. */
int		 strmap_put(struct strmap *, const void *key, size_t len,
		    void *val);
int		 strmap_puts(struct strmap *, const char *key, void *val);
/* NULL when absent. */
void		*strmap_get(const struct strmap *, const void *key, size_t len);
void		*strmap_gets(const struct strmap *, const char *key);
/* Returns the removed value, or NULL when absent. */
void		*strmap_del(struct strmap *, const void *key, size_t len);
size_t		 strmap_count(const struct strmap *);

#endif
