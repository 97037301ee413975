/* Diagnostics: a list of located messages, formatted the same way for
 * files, rule text from the API and the command line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

void
srcloc_set(struct srcloc *l, const char *file, int line, int col)
{
	free(l->file);
	l->file = file ? strdup(file) : NULL;
	l->line = line;
	l->col = col;
}

int
srcloc_copy(struct srcloc *dst, const struct srcloc *src)
{
	dst->file = NULL;
	dst->line = src->line;
	dst->col = src->col;
	if (src->file && (dst->file = strdup(src->file)) == NULL)
		return -1;
	return 0;
}

void
srcloc_clear(struct srcloc *l)
{
	free(l->file);
	memset(l, 0, sizeof(*l));
}

void
diags_init(struct diags *d)
{
	memset(d, 0, sizeof(*d));
}

void
diags_free(struct diags *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].field);
		free(d->v[i].msg);
	}
	free(d->v);
	diags_init(d);
}

static struct diag *
diags_grow(struct diags *d)
{
	struct diag *v;
	size_t cap;

	if (d->n == d->cap) {
		cap = d->cap ? d->cap * 2 : 8;
		if ((v = reallocarray(d->v, cap, sizeof(*v))) == NULL)
			return NULL;
		d->v = v;
		d->cap = cap;
	}
	memset(&d->v[d->n], 0, sizeof(d->v[0]));
	return &d->v[d->n];
}

/*
 * Out of memory while recording an error must still leave an error behind,
 * so callers that count diags never mistake it for success: the message is
 * dropped but the slot is kept when possible.
 */
void
diags_addv(struct diags *d, const struct srcloc *l, const char *fmt,
    va_list ap)
{
	struct diag *e;

	if ((e = diags_grow(d)) == NULL)
		return;
	if (vasprintf(&e->msg, fmt, ap) == -1)
		e->msg = NULL;
	if (l) {
		e->file = l->file ? strdup(l->file) : NULL;
		e->line = l->line;
		e->col = l->col;
	}
	d->n++;
}

void
diags_add(struct diags *d, const struct srcloc *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diags_addv(d, l, fmt, ap);
	va_end(ap);
}

void
diags_add_field(struct diags *d, const char *field, const char *fmt, ...)
{
	struct diag *e;
	va_list ap;

	if ((e = diags_grow(d)) == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&e->msg, fmt, ap) == -1)
		e->msg = NULL;
	va_end(ap);
	e->field = field && *field ? strdup(field) : NULL;
	d->n++;
}

void
diags_append(struct diags *dst, const struct diags *src)
{
	const struct diag *s;
	struct diag *e;
	size_t i;

	for (i = 0; i < src->n; i++) {
		s = &src->v[i];
		if ((e = diags_grow(dst)) == NULL)
			return;
		e->file = s->file ? strdup(s->file) : NULL;
		e->field = s->field ? strdup(s->field) : NULL;
		e->msg = s->msg ? strdup(s->msg) : NULL;
		e->line = s->line;
		e->col = s->col;
		dst->n++;
	}
}

char *
diag_format(const struct diag *e)
{
	const char *msg = e->msg ? e->msg : "out of memory";
	char *s = NULL;
	int r;

	if (e->file && e->line)
		r = asprintf(&s, "%s:%d:%d: %s", e->file, e->line, e->col, msg);
	else if (e->line)
		r = asprintf(&s, "%d:%d: %s", e->line, e->col, msg);
	else if (e->file)
		r = asprintf(&s, "%s: %s", e->file, msg);
	else if (e->field)
		r = asprintf(&s, "%s: %s", e->field, msg);
	else
		r = asprintf(&s, "%s", msg);
	return r == -1 ? NULL : s;
}

void
diags_print(const struct diags *d, FILE *fp)
{
	size_t i;
	char *s;

	for (i = 0; i < d->n; i++) {
		if ((s = diag_format(&d->v[i])) == NULL) {
			fprintf(fp, "%s\n", strerror(ENOMEM));
			continue;
		}
		fprintf(fp, "%s\n", s);
		free(s);
	}
}
