/* plan.c: what a change does to the ruleset, object by object.
 *
 * The plan is the contract between the model and the kernel layer: the
 * engine either diffs two rulesets (plan_diff) or, for a single change,
 * builds the one-item plan directly, so that the cost of a small change
 * does not grow with the ruleset. dry_run returns it; the CLI prints it. */
#ifndef FWCTL_PLAN_H
#define FWCTL_PLAN_H

#include <stddef.h>

#include "ruleset.h"

enum plan_op {
	PLAN_ADD = 1,
	PLAN_REMOVE,
	PLAN_CHANGE,		/* same name, different content or position */
};

enum plan_kind {
	PLAN_ZONE = 1,
	PLAN_POLICY,		/* name is "from -> to" */
	PLAN_RULE,
	PLAN_NAT,
	PLAN_SET,		/* the set's definition (type, timeout) */
	PLAN_ELEMENT,		/* one set element; name is the set */
};

struct plan_item {
	enum plan_op	 op;
	enum plan_kind	 kind;
	char		*name;
	char		*elem;		/* PLAN_ELEMENT: the element as text */
	struct set_elem	 key;		/* PLAN_ELEMENT: the element itself */
	size_t		 pos;		/* PLAN_RULE added or changed: its
					 * 1-based position in the new
					 * ruleset when the engine knows it;
					 * removed: in the old one; 0 = look
					 * it up by name (a scan) */
};

struct plan {
	struct plan_item	*v;
	size_t			 n;
	size_t			 cap;
};

void		 plan_init(struct plan *);
void		 plan_free(struct plan *);
int		 plan_add(struct plan *, enum plan_op, enum plan_kind,
		    const char *name);
/* PLAN_ELEMENT item for set s (elem text made by print_set_elem). */
int		 plan_add_elem(struct plan *, enum plan_op, const struct set *s,
		    const struct set_elem *);
/* Every difference between old and new; O(n) with name indexes.
 * Rules present in both whose relative order changed are PLAN_CHANGE. */
int		 plan_diff(const struct ruleset *old, const struct ruleset *new,
		    struct plan *);
const char	*plan_op_name(enum plan_op);
const char	*plan_kind_name(enum plan_kind);

#endif
