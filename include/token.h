/*
 * token.c: the bearer tokens of the TCP listener (fwctld(8) --tokens).
 * The file holds "NAME [SCOPE] HASH" lines, HASH the token's crypt(3)
 * hash; the older "NAME TOKEN" line (the token in clear) is a write token.
 * A presented token is hashed again with each entry's setting and
 * compared in constant time; nothing here knows HTTP.
 */
#ifndef FWCTL_TOKEN_H
#define FWCTL_TOKEN_H

#include <stddef.h>

#include "diag.h"

#define TOKEN_MIN	16	/* characters of a token kept in clear */
#define TOKEN_MAX	256	/* of a presented token */

/* What a token may do: each scope holds the ones before it. */
enum token_scope {
	TOKEN_READ = 0,		/* GET: reads, metrics, events */
	TOKEN_ELEMENTS,		/* and set elements (fail2ban and the like) */
	TOKEN_WRITE,		/* everything */
};

struct tokens;

/* The file's text (path for messages): NULL with every bad line in diags
 * (path:line). *clear: how many tokens are kept in clear. */
struct tokens	*token_parse(const char *text, const char *path,
		    size_t *clear, struct diags *);
size_t		 token_count(const struct tokens *);
/* The name of the entry tok is the token of, with its scope; NULL when
 * none is. */
const char	*token_check(const struct tokens *, const char *tok,
		    enum token_scope *scope);
const char	*token_scope_name(enum token_scope);
void		 token_free(struct tokens *);

#endif
