/*
 * nameidx.c: a hash index from names to model objects (zones, rules, NAT
 * entries, sets: structs whose first member is their name). The keys are
 * the objects' own names, not copies, so an index of 50,000 rules costs a
 * table of pointers and nothing per rule.
 */
#ifndef FWCTL_NAMEIDX_H
#define FWCTL_NAMEIDX_H

#include <stddef.h>

struct nameidx;

struct nameidx	*nameidx_new(size_t hint);
void		 nameidx_free(struct nameidx *);
/* Adds obj, or replaces the object of the same name. -1 on ENOMEM. */
int		 nameidx_put(struct nameidx *, void *obj);
/* NULL when absent. */
void		*nameidx_get(const struct nameidx *, const char *name);
/* Removes the object of that name, if any. */
void		 nameidx_del(struct nameidx *, const char *name);
size_t		 nameidx_count(const struct nameidx *);

#endif
