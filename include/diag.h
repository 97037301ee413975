/* Diagnostics: every message a user sees names where (file:line:col). */
#ifndef FWCTL_DIAG_H
#define FWCTL_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Where a model object or a token came from. file may be NULL for objects
 * built from JSON or by the daemon; line/col are 1-based, 0 when unknown. */
struct srcloc {
	char	*file;
	int	 line;
	int	 col;
};

struct diag {
	char	*file;		/* NULL when not from a text source */
	int	 line;
	int	 col;
	char	*field;		/* JSON path or object name at fault, or NULL */
	char	*msg;
};

/* A growing list of problems; one pass reports all of them. */
struct diags {
	struct diag	*v;
	size_t		 n;
	size_t		 cap;
};

/* diag.c */
void	 srcloc_set(struct srcloc *, const char *file, int line, int col);
int	 srcloc_copy(struct srcloc *dst, const struct srcloc *src);
void	 srcloc_clear(struct srcloc *);

void	 diags_init(struct diags *);
void	 diags_free(struct diags *);
void	 diags_add(struct diags *, const struct srcloc *, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 diags_addv(struct diags *, const struct srcloc *, const char *fmt,
	    va_list) __attribute__((format(printf, 3, 0)));
void	 diags_add_field(struct diags *, const char *field, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void	 diags_append(struct diags *dst, const struct diags *src);
/* "file:line:col: msg" (or "line:col: msg", or "field: msg"); caller frees */
char	*diag_format(const struct diag *);
/* prints every diagnostic, one per line */
void	 diags_print(const struct diags *, FILE *);

#endif
