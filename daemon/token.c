/*
 * Bearer tokens (token.h).  Hashes are libcrypt's: any method it can
 * check ("$y$" yescrypt, "$6$" SHA-512, ...); crypt_checksalt refuses the
 * rest when the file is read, not when a client knocks.
 */
#include <crypt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset.h"
#include "token.h"

struct token {
	char		*name;
	char		*secret;	/* a crypt(3) hash, or the token */
	size_t		 len;
	bool		 hashed;
	enum token_scope scope;
};

struct tokens {
	struct token	*v;
	size_t		 n;
};

/* Compares in time that depends on the lengths only. */
static bool
token_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char	 d = alen != blen;
	size_t		 i;

	for (i = 0; i < alen && i < blen; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* Whether tok is k's: its hash computed again with k's setting and
 * compared with k's, or (kept in clear) tok itself. */
static bool
token_match(const struct token *k, const char *tok, size_t len)
{
	struct crypt_data	*cd;
	const char		*h;
	bool			 ok;

	if (!k->hashed)
		return token_eq(tok, len, k->secret, k->len);
	/* 32 KiB of scratch: on the heap, not on a server thread's stack */
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return false;
	h = crypt_rn(tok, k->secret, cd, (int)sizeof(*cd));
	ok = h != NULL && h[0] != '*' &&
	    token_eq(h, strlen(h), k->secret, k->len);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

const char *
token_check(const struct tokens *t, const char *tok, enum token_scope *scope)
{
	size_t	 i, len = strlen(tok);

	if (len < 1 || len > TOKEN_MAX)
		return NULL;
	for (i = 0; i < t->n; i++)
		if (token_match(&t->v[i], tok, len)) {
			*scope = t->v[i].scope;
			return t->v[i].name;
		}
	return NULL;
}

const char *
token_scope_name(enum token_scope s)
{
	return s == TOKEN_READ ? "read" : s == TOKEN_ELEMENTS ? "elements" :
	    "write";
}

static int
token_scope_parse(const char *s, enum token_scope *out)
{
	if (strcmp(s, "read") == 0)
		*out = TOKEN_READ;
	else if (strcmp(s, "elements") == 0)
		*out = TOKEN_ELEMENTS;
	else if (strcmp(s, "write") == 0)
		*out = TOKEN_WRITE;
	else
		return -1;
	return 0;
}

/* One line's fields: 0, or -1 with what is wrong in *why. */
static int
token_fields(char *line, struct token *k, const char **why)
{
	char	*f[4], *sp;
	int	 n = 0;

	for (f[n] = strtok_r(line, " \t\r", &sp); f[n] != NULL && n < 3;
	    f[n] = strtok_r(NULL, " \t\r", &sp))
		n++;
	*why = "expected NAME [read|elements|write] TOKEN-HASH";
	if (n < 2 || (n == 3 && f[3] != NULL) || !name_valid(f[0]))
		return -1;
	k->scope = TOKEN_WRITE;
	if (n == 3 && token_scope_parse(f[1], &k->scope) == -1) {
		*why = "the scope must be read, elements or write";
		return -1;
	}
	k->name = f[0];
	k->secret = f[n - 1];
	k->len = strlen(k->secret);
	k->hashed = k->secret[0] == '$';
	if (k->hashed && crypt_checksalt(k->secret) != CRYPT_SALT_OK) {
		*why = "not a crypt(3) hash this system can check (make one "
		    "with: openssl passwd -6, or mkpasswd -m yescrypt)";
		return -1;
	}
	if (!k->hashed && (k->len < TOKEN_MIN || k->len > TOKEN_MAX)) {
		*why = "a token kept in clear must have 16 to 256 characters";
		return -1;
	}
	return 0;
}

static int
token_push(struct tokens *t, const struct token *k)
{
	struct token	*v;

	if ((v = reallocarray(t->v, t->n + 1, sizeof(*v))) == NULL)
		return -1;
	t->v = v;
	v += t->n;
	*v = *k;
	v->name = strdup(k->name);
	v->secret = strdup(k->secret);
	if (v->name == NULL || v->secret == NULL) {
		free(v->name);
		free(v->secret);
		return -1;
	}
	t->n++;
	return 0;
}

/* Reads one line (its end becomes NUL); the next, or NULL. */
static char *
token_line(char *s)
{
	char	*nl = strchr(s, '\n');

	if (nl == NULL)
		return NULL;
	*nl = '\0';
	return nl + 1;
}

struct tokens *
token_parse(const char *text, const char *path, size_t *clear,
    struct diags *d)
{
	struct tokens	*t;
	struct token	 k;
	struct srcloc	 l = { NULL, 0, 0 };
	char		*copy, *line, *next;
	const char	*why;
	int		 lineno = 0, errors = 0;

	*clear = 0;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (copy = strdup(text)) == NULL) {
		free(t);
		diags_add(d, NULL, "%s: out of memory", path);
		return NULL;
	}
	for (line = copy; line != NULL; line = next) {
		next = token_line(line);
		lineno++;
		line += strspn(line, " \t");
		if (*line == '#' || *line == '\0' || *line == '\r')
			continue;
		srcloc_set(&l, path, lineno, 1);
		memset(&k, 0, sizeof(k));
		if (token_fields(line, &k, &why) == -1) {
			diags_add(d, &l, "%s", why);
			errors++;
		} else if (token_push(t, &k) == -1) {
			diags_add(d, NULL, "%s: out of memory", path);
			errors++;
			break;
		} else
			*clear += !k.hashed;
	}
	srcloc_clear(&l);
	explicit_bzero(copy, strlen(text));
	free(copy);
	if (errors == 0 && t->n == 0) {
		diags_add(d, NULL, "%s: no tokens", path);
		errors++;
	}
	if (errors) {
		token_free(t);
		return NULL;
	}
	return t;
}

size_t
token_count(const struct tokens *t)
{
	return t ? t->n : 0;
}

void
token_free(struct tokens *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		explicit_bzero(t->v[i].secret, t->v[i].len);
		free(t->v[i].secret);
		free(t->v[i].name);
	}
	free(t->v);
	free(t);
}
