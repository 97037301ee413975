/*
 * trust.c: the files fwctld reads and writes as root must not be turned
 * against it. A directory it keeps state in, reads rules from or binds its
 * socket in must be owned by root (or fwctld's own user) and writable by
 * its owner only, and so must every directory above it, unless that one
 * is sticky (/tmp): otherwise another user could put a link or a file of
 * their own where root will follow or read it.
 */
#ifndef FWCTL_TRUST_H
#define FWCTL_TRUST_H

#include "diag.h"

/* 0 when dir (what: "state directory") and the directories above it are
 * safe, -1 with a reason in d naming the one at fault. */
int	 trust_dir(const char *dir, const char *what, struct diags *);
/* 0 when the file name in dir (followed if a link) is a regular file
 * owned by root or fwctld's user and writable by its owner only, -1 with
 * a reason in d; its content is never read here. */
int	 trust_file(const char *dir, const char *name, struct diags *);

#endif
