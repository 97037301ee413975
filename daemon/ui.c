/*
 * The dashboard's files (ui.h): a fixed list, so that no request can name
 * anything else on the disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"

#define UI_FILE_MAX	(1u << 20)

static const struct {
	const char	*name;
	const char	*ctype;
} ui_names[] = {
	{ "index.html", "text/html; charset=utf-8" },
	{ "fwctl.js", "text/javascript; charset=utf-8" },
	{ "fwctl.css", "text/css; charset=utf-8" },
};
#define UI_NFILES (sizeof(ui_names) / sizeof(ui_names[0]))

struct ui {
	struct ui_file	 f[UI_NFILES];
};

static int
ui_read(const char *dir, struct ui_file *f, struct diags *d)
{
	char	 path[4096], *data;
	FILE	*fp;
	size_t	 n;

	snprintf(path, sizeof(path), "%s/%s", dir, f->name);
	if ((fp = fopen(path, "re")) == NULL) {
		diags_add(d, NULL, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((f->data = malloc(UI_FILE_MAX)) == NULL) {
		fclose(fp);
		diags_add(d, NULL, "%s: out of memory", path);
		return -1;
	}
	n = fread(f->data, 1, UI_FILE_MAX, fp);
	if (ferror(fp) || n == UI_FILE_MAX) {
		fclose(fp);
		diags_add(d, NULL, "%s: unreadable, or larger than %u bytes",
		    path, UI_FILE_MAX);
		return -1;
	}
	fclose(fp);
	f->len = n;
	/* keep what the file holds, not the most it may */
	if ((data = realloc(f->data, n + 1)) != NULL)
		f->data = data;
	return 0;
}

struct ui *
ui_load(const char *dir, struct diags *d)
{
	struct ui	*ui;
	size_t		 i;

	if ((ui = calloc(1, sizeof(*ui))) == NULL)
		return NULL;
	for (i = 0; i < UI_NFILES; i++) {
		ui->f[i].name = ui_names[i].name;
		ui->f[i].ctype = ui_names[i].ctype;
		if (ui_read(dir, &ui->f[i], d) == -1) {
			ui_free(ui);
			return NULL;
		}
	}
	return ui;
}

const struct ui_file *
ui_find(const struct ui *ui, const char *name)
{
	size_t	 i;

	if (*name == '\0')
		name = "index.html";
	for (i = 0; i < UI_NFILES; i++)
		if (strcmp(ui->f[i].name, name) == 0)
			return &ui->f[i];
	return NULL;
}

void
ui_free(struct ui *ui)
{
	size_t	 i;

	if (ui == NULL)
		return;
	for (i = 0; i < UI_NFILES; i++)
		free(ui->f[i].data);
	free(ui);
}
