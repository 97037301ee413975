/*
 * lockout.c: warnings about rulesets that would cut the administrator off
 * (`fwctld -n`, before anything is deployed). Computed on the model, for
 * a new TCP connection to port 22 of this host from each zone: a rule
 * whose every match surely holds decides; one that holds only for some
 * (an address, a set, a limit) lets some through when it accepts and
 * lets the rest go on when it drops; else the pair's policy decides.
 */
#ifndef FWCTL_LOCKOUT_H
#define FWCTL_LOCKOUT_H

#include "diag.h"
#include "ruleset.h"

#define LOCKOUT_PORT	22	/* SSH: how administrators come in */

/* Adds a warning to d (NULL: only counts) for a ruleset without zones
 * (nothing filtered) and for one where no zone can reach SSH on this
 * host, located at file where (NULL: none); how many. */
int	 lockout_warnings(const struct ruleset *, const char *where,
	    struct diags *);

#endif
