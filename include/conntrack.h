/*
 * conntrack.c: ends connections the kernel tracks, as `conntrack -D`
 * does (libnetfilter_conntrack). fwctl's rules see only new connections:
 * established ones pass before any rule. So blocking an address stops
 * what it starts next; ending its tracked connections makes the block
 * cut what it has open too: the next packet it sends is new again, and
 * the rules drop it.
 */
#ifndef FWCTL_CONNTRACK_H
#define FWCTL_CONNTRACK_H

#include <stddef.h>
#include <sys/types.h>

#include "diag.h"
#include "ruleset.h"

/* Deletes the tracked connections (both families) whose original source
 * is in one of the n addresses or networks: how many, or -1 with the
 * reason in d (some may be gone already). */
ssize_t	 conntrack_kill_src(const struct addr *v, size_t n, struct diags *);

#endif
