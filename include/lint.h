/*
 * lint.c: warnings about a ruleset that validates: rules shadowed by an
 * earlier rule or asking for a state that never reaches the rules,
 * forwards to addresses no internal or DMZ zone can hold. Each warning is
 * a diag at the statement or clause at fault, its message starting with
 * "warning: ".
 */
#ifndef FWCTL_LINT_H
#define FWCTL_LINT_H

#include "diag.h"
#include "ruleset.h"

/* Adds the warnings about rs (valid) to d; returns how many there are. */
int	lint_ruleset(const struct ruleset *, struct diags *);

#endif
