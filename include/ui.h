/*
 * ui.c: the web dashboard's files (contrib/ui, installed in DATADIR/fwctl/
 * ui), read once at start so that serving them touches no disk.  api.c
 * serves them at /ui/ on the TCP listener.
 */
#ifndef FWCTL_UI_H
#define FWCTL_UI_H

#include <stddef.h>

#include "diag.h"

struct ui;

struct ui_file {
	const char	*name;		/* "fwctl.js" */
	const char	*ctype;
	char		*data;
	size_t		 len;
};

/* The files of dir; NULL with diags when one is missing or unreadable. */
struct ui	*ui_load(const char *dir, struct diags *);
/* The file a path under /ui/ names ("" is index.html), or NULL. */
const struct ui_file *ui_find(const struct ui *, const char *name);
void		 ui_free(struct ui *);

#endif
