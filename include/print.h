/* print.c: the model back into canonical rule-language text. */
#ifndef FWCTL_PRINT_H
#define FWCTL_PRINT_H

#include <stdio.h>

#include "ruleset.h"

/*
 * Canonical form: zones, then sets, then policies, then rules, then NAT
 * entries, each in model order, one statement per line, with the keyword
 * first ("zone", "set", "policy", "rule", "nat"). Parsing the output gives
 * a ruleset equal (ruleset_equal) to the input.
 */
int	 print_ruleset(FILE *, const struct ruleset *);
/* Malloc'd strings; NULL on ENOMEM. */
char	*print_ruleset_str(const struct ruleset *);
char	*print_zone(const struct zone *);
char	*print_policy(const struct policy *);
char	*print_rule(const struct rule *);
char	*print_nat(const struct nat *);
char	*print_set(const struct set *);
char	*print_set_elem(enum set_type, const struct set_elem *);

#endif
