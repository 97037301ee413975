/*
 * rulesdir.c: the rules directory, the declared ruleset (fwctl.rules(5)).
 *
 * The daemon reads it at a first start, on SIGHUP and `fwctl reload`, and
 * compares it with the live ruleset (`fwctl diff`, `status`); `fwctl
 * save` writes the live ruleset into it. Knows nothing of the kernel,
 * HTTP or JSON.
 */
#ifndef FWCTL_RULESDIR_H
#define FWCTL_RULESDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ruleset.h"

#define RULESDIR_SAVED		"fwctl.rules"	/* what `fwctl save` writes */
#define RULESDIR_BACKUPS	".backup"	/* the files it replaced */
#define RULESDIR_KEEP_BACKUPS	10

/* The directory as a valid ruleset: 0 with *rs set, or -1 with every
 * error in d (file:line:col). */
int	 rulesdir_load(const char *dir, struct ruleset **rs, struct diags *);
/* A text that changes whenever a *.rules file of dir is added, removed or
 * written (names, sizes, modification times); 0, or -1. */
int	 rulesdir_fingerprint(const char *dir, char *buf, size_t len);
/*
 * Writes rs into dir as one canonical file, RULESDIR_SAVED, and moves the
 * *.rules files it replaces into dir/.backup/<time>-g<gen>/ (the newest
 * RULESDIR_KEEP_BACKUPS are kept). The new file is durable before any old
 * one moves, so that a crash half-way leaves definitions twice (a reload
 * refuses them) rather than a ruleset with some files missing. *backup
 * gets the backup directory's path (malloc'd) or NULL when nothing moved.
 * 0, or -1 with the reason in d (nothing moved).
 */
int	 rulesdir_save(const char *dir, const struct ruleset *rs,
	    uint64_t gen, char **backup, struct diags *);

#endif
