/*
 * The rule language (SPEC §2): a hand-written lexer and a recursive-descent
 * parser into the model.
 *
 * One statement per line. Inside { } a newline separates items like ';'
 * does, so blocks and lists may span lines. Every error names
 * file:line:col of the offending token and what was expected; the parser
 * then skips to the next statement so that one run reports every error.
 * The lexer is lazy (two tokens of lookahead) and never reads past len.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>

#include "diag.h"
#include "parse.h"
#include "ruleset.h"

#define PARSE_FILE_MAX	(64u << 20)	/* a rules file larger is a mistake */
#define WORD_MAX	256		/* longest word we look at in place */
/* Errors reported per buffer; past that the rest is not read, so that a
 * large body of garbage cannot make a reply (and the daemon) grow without
 * bound.  A person fixes the first ones first anyway. */
#define PARSE_ERRORS_MAX 50

enum tok_type {
	T_EOF,
	T_NL,
	T_WORD,
	T_STRING,
	T_LBRACE,
	T_RBRACE,
	T_COMMA,
	T_SEMI,
	T_ARROW,
	T_ERROR,
};

struct token {
	enum tok_type	 type;
	const char	*p;	/* WORD: the text; STRING: between the quotes */
	size_t		 len;
	int		 line;
	int		 col;
	bool		 bol;	/* first token on its line */
	const char	*err;	/* T_ERROR: what is wrong */
};

struct parser {
	const char	*buf;
	size_t		 len;
	size_t		 pos;
	size_t		 linestart;
	int		 line;
	bool		 bol;
	char		*file;		/* for srclocs; NULL for bare text */
	struct diags	*diags;
	int		 nerr;
	struct token	 la[2];		/* lookahead */
	int		 nla;
	int		 depth;		/* open braces in this statement */
	int		 stmt_line;
};

/* lexer */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool
is_word(char c)
{
	unsigned char u = (unsigned char)c;

	if (u < 0x21 || u > 0x7e)
		return false;
	return strchr("{},;#\"", c) == NULL;
}

/*
 * The length of the well-formed UTF-8 sequence at str (2 to 4 bytes), or 0:
 * strings reach the kernel as comments and the state file as JSON, which
 * holds UTF-8 only.  Overlong forms, surrogates and code points past
 * U+10FFFF are not well-formed.
 */
static size_t
utf8_seqlen(const char *str, size_t left)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n, k;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	cp = s[0] & (0x7f >> n);
	for (k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void
lex_string(struct parser *p, struct token *t)
{
	const char *s = p->buf;
	size_t i = p->pos + 1, n;
	unsigned char c;

	/* on error t->p stays on the opening quote, inside the buffer */
	for (; i < p->len; i++) {
		c = (unsigned char)s[i];
		if (c == '"') {
			t->type = T_STRING;
			t->p = s + p->pos + 1;
			t->len = i - p->pos - 1;
			p->pos = i + 1;
			return;
		}
		if (c == '\n')
			break;
		if (c == '\\') {
			if (i + 1 < p->len && (s[i + 1] == '"' ||
			    s[i + 1] == '\\')) {
				i++;
				continue;
			}
			t->type = T_ERROR;
			t->col += (int)(i - p->pos);
			t->err = "unknown escape in string; expected \\\" or "
			    "\\\\";
			p->pos = i + 1;
			return;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			t->type = T_ERROR;
			t->col += (int)(i - p->pos);
			t->err = "control character in string";
			p->pos = i + 1;
			return;
		}
		if (c >= 0x80) {
			if ((n = utf8_seqlen(s + i, p->len - i)) == 0) {
				t->type = T_ERROR;
				t->col += (int)(i - p->pos);
				t->err = "invalid UTF-8 in string; strings are "
				    "UTF-8 text";
				p->pos = i + 1;
				return;
			}
			i += n - 1;
		}
	}
	t->type = T_ERROR;
	t->err = "unterminated string; expected a closing \" on the same "
	    "line";
	p->pos = i;	/* leave the newline for the statement's end */
}

static void
lex(struct parser *p, struct token *t)
{
	const char *s = p->buf;
	char c;

	while (p->pos < p->len && is_space(s[p->pos]))
		p->pos++;
	if (p->pos < p->len && s[p->pos] == '#')
		while (p->pos < p->len && s[p->pos] != '\n')
			p->pos++;
	memset(t, 0, sizeof(*t));
	t->line = p->line;
	t->col = (int)(p->pos - p->linestart) + 1;
	t->bol = p->bol;
	t->p = s + p->pos;
	if (p->pos >= p->len) {
		t->type = T_EOF;
		return;
	}
	p->bol = false;
	c = s[p->pos];
	t->len = 1;
	switch (c) {
	case '\n':
		t->type = T_NL;
		p->pos++;
		p->line++;
		p->linestart = p->pos;
		p->bol = true;
		return;
	case '{':
		t->type = T_LBRACE;
		p->pos++;
		return;
	case '}':
		t->type = T_RBRACE;
		p->pos++;
		return;
	case ',':
		t->type = T_COMMA;
		p->pos++;
		return;
	case ';':
		t->type = T_SEMI;
		p->pos++;
		return;
	case '"':
		lex_string(p, t);
		return;
	}
	if (c == '-' && p->pos + 1 < p->len && s[p->pos + 1] == '>') {
		t->type = T_ARROW;
		t->len = 2;
		p->pos += 2;
		return;
	}
	if (!is_word(c)) {
		t->type = T_ERROR;
		t->err = "unexpected character";
		p->pos++;
		return;
	}
	/* "lan->wan" is three tokens */
	while (p->pos < p->len && is_word(s[p->pos]) &&
	    !(s[p->pos] == '-' && p->pos + 1 < p->len && s[p->pos + 1] == '>'))
		p->pos++;
	t->type = T_WORD;
	t->len = (size_t)(s + p->pos - t->p);
}

static struct token *
peek(struct parser *p)
{
	if (p->nla == 0) {
		lex(p, &p->la[0]);
		p->nla = 1;
	}
	return &p->la[0];
}

static struct token *
peek2(struct parser *p)
{
	peek(p);
	if (p->nla == 1) {
		lex(p, &p->la[1]);
		p->nla = 2;
	}
	return &p->la[1];
}

static void
advance(struct parser *p)
{
	peek(p);
	if (p->la[0].type == T_LBRACE)
		p->depth++;
	else if (p->la[0].type == T_RBRACE && p->depth > 0)
		p->depth--;
	p->la[0] = p->la[1];
	p->nla--;
}

/* token helpers */

static bool
tok_is(const struct token *t, const char *w)
{
	return t->type == T_WORD && strlen(w) == t->len &&
	    memcmp(t->p, w, t->len) == 0;
}

static bool
tok_is_stmt(const struct token *t)
{
	return tok_is(t, "zone") || tok_is(t, "policy") || tok_is(t, "rule") ||
	    tok_is(t, "nat") || tok_is(t, "set");
}

/* The word as a C string in buf, or NULL when not a word or too long. */
static char *
tok_word(const struct token *t, char *buf, size_t size)
{
	if (t->type != T_WORD || t->len >= size)
		return NULL;
	memcpy(buf, t->p, t->len);
	buf[t->len] = '\0';
	return buf;
}

/* A malloc'd copy of a word, or of a string with its escapes undone. */
static char *
tok_dup(const struct token *t)
{
	char *s, *d;
	size_t i;

	if ((s = malloc(t->len + 1)) == NULL)
		return NULL;
	if (t->type != T_STRING) {
		memcpy(s, t->p, t->len);
		s[t->len] = '\0';
		return s;
	}
	for (i = 0, d = s; i < t->len; i++) {
		if (t->p[i] == '\\' && i + 1 < t->len)
			i++;
		*d++ = t->p[i];
	}
	*d = '\0';
	return s;
}

/* How a token reads in a message: "foo", end of line, ... */
static const char *
tok_desc(const struct token *t, char *buf, size_t size)
{
	switch (t->type) {
	case T_EOF:
		return "end of input";
	case T_NL:
		return "end of line";
	case T_STRING:
		if (t->len > 40)
			snprintf(buf, size, "string \"%.37s...\"", t->p);
		else
			snprintf(buf, size, "string \"%.*s\"", (int)t->len,
			    t->p);
		return buf;
	case T_ERROR:
		return "invalid input";
	default:
		if (t->len > 40)
			snprintf(buf, size, "\"%.37s...\"", t->p);
		else
			snprintf(buf, size, "\"%.*s\"", (int)t->len, t->p);
		return buf;
	}
}

/* errors */

static int __attribute__((format(printf, 4, 0)))
perr_atv(struct parser *p, int line, int col, const char *fmt, va_list ap)
{
	struct srcloc l;

	l.file = p->file;
	l.line = line;
	l.col = col;
	diags_addv(p->diags, &l, fmt, ap);
	p->nerr++;
	return -1;
}

/* Reports at column off (0-based) inside token t. Always returns -1. */
static int __attribute__((format(printf, 4, 5)))
perr_off(struct parser *p, const struct token *t, size_t off,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	perr_atv(p, t->line, t->col + (int)off, fmt, ap);
	va_end(ap);
	return -1;
}

static int lex_error(struct parser *, const struct token *);

/*
 * Reports at token t. A token the lexer refused carries its own, better
 * message, which replaces the parser's expectation.
 */
static int __attribute__((format(printf, 3, 4)))
perr(struct parser *p, const struct token *t, const char *fmt, ...)
{
	va_list ap;

	if (t->type == T_ERROR)
		return lex_error(p, t);
	va_start(ap, fmt);
	perr_atv(p, t->line, t->col, fmt, ap);
	va_end(ap);
	return -1;
}

static int
lex_error(struct parser *p, const struct token *t)
{
	unsigned char c;

	if (strcmp(t->err, "unexpected character") == 0) {
		c = (unsigned char)t->p[0];
		if (c >= 0x21 && c < 0x7f)
			return perr_off(p, t, 0, "unexpected character '%c'",
			    c);
		return perr_off(p, t, 0, "unexpected byte 0x%02x; the rule "
		    "language is ASCII outside quoted strings", c);
	}
	return perr_off(p, t, 0, "%s", t->err);
}

static int
oom(struct parser *p)
{
	return perr_off(p, peek(p), 0, "out of memory");
}

/* "expected WHAT, got TOKEN" at the next token */
static int
expected(struct parser *p, const char *what)
{
	char b[64];
	struct token *t = peek(p);

	return perr(p, t, "expected %s, got %s", what, tok_desc(t, b,
	    sizeof(b)));
}

static int
expect_kw(struct parser *p, const char *kw, const char *where)
{
	char b[64];
	struct token *t = peek(p);

	if (tok_is(t, kw)) {
		advance(p);
		return 0;
	}
	return perr(p, t, "expected \"%s\" %s, got %s", kw, where,
	    tok_desc(t, b, sizeof(b)));
}

static bool
at_eol(struct parser *p)
{
	struct token *t = peek(p);

	return t->type == T_NL || t->type == T_EOF;
}

/*
 * Skips the rest of a broken statement: to the end of its line, or of its
 * block when it opened one. A statement keyword at the start of a later
 * line ends the skip too, so that one missing '}' does not hide the rest
 * of the file.
 */
static void
recover(struct parser *p)
{
	struct token *t;

	for (;;) {
		t = peek(p);
		if (t->type == T_EOF)
			break;
		if (t->bol && t->line > p->stmt_line && tok_is_stmt(t))
			break;
		if (t->type == T_NL && p->depth == 0) {
			advance(p);
			break;
		}
		advance(p);
	}
	p->depth = 0;
}

/* numbers, names, addresses, ports */

/* Decimal digits only, at most max. */
static int
num_parse(const char *s, size_t n, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > max)
		return -1;
	*v = x;
	return 0;
}

static int
parse_name(struct parser *p, const char *what, char **out)
{
	char b[64];
	struct token *t = peek(p);

	if (t->type != T_WORD)
		return perr(p, t, "expected a %s name, got %s", what,
		    tok_desc(t, b, sizeof(b)));
	if ((*out = tok_dup(t)) == NULL)
		return oom(p);
	if (!name_valid(*out)) {
		free(*out);
		*out = NULL;
		return perr(p, t, "invalid %s name %s; expected a letter or "
		    "'_' then letters, digits, '_', '.' or '-', at most %d "
		    "characters", what, tok_desc(t, b, sizeof(b)),
		    FWCTL_NAME_MAX);
	}
	advance(p);
	return 0;
}

static int
parse_zoneref(struct parser *p, char **out)
{
	char b[64];
	struct token *t = peek(p);

	if (t->type != T_WORD)
		return perr(p, t, "expected a zone name, any, self or all, got %s",
		    tok_desc(t, b, sizeof(b)));
	return parse_name(p, "zone", out);
}

/* "@name" in t, into a malloc'd "name" */
static int
tok_setref(struct parser *p, const struct token *t, char **out)
{
	char b[64];

	if ((*out = malloc(t->len)) == NULL)
		return oom(p);
	memcpy(*out, t->p + 1, t->len - 1);
	(*out)[t->len - 1] = '\0';
	if (!name_valid(*out)) {
		free(*out);
		*out = NULL;
		return perr_off(p, t, 1, "expected a set name after '@', got %s",
		    tok_desc(t, b, sizeof(b)));
	}
	return 0;
}

static void
addr_mask(struct addr *a)
{
	int i, max = a->family == AF_INET ? 32 : 128;

	for (i = a->prefix; i < max; i++)
		a->bytes[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

/* An address or network in word t; what says what was expected. */
static int
tok_addr(struct parser *p, const struct token *t, struct addr *a,
    const char *what)
{
	char buf[WORD_MAX], b[64], net[64];
	const char *why;

	if (tok_word(t, buf, sizeof(buf)) == NULL)
		return perr(p, t, "expected %s, got %s", what,
		    tok_desc(t, b, sizeof(b)));
	if (addr_parse(buf, a, &why) == 0)
		return 0;
	if (a->family != 0) {
		/* addr_parse() keeps the address when only host bits are
		 * wrong: show the network the user probably meant */
		addr_mask(a);
		return perr(p, t, "expected %s, got %s (%s; did you mean %s?)",
		    what, tok_desc(t, b, sizeof(b)), why,
		    addr_format(a, net, sizeof(net)));
	}
	return perr(p, t, "expected %s, got %s (%s)", what,
	    tok_desc(t, b, sizeof(b)), why);
}

/* A port, or "lo-hi" when ranges are allowed. */
static int
tok_portrange(struct parser *p, const struct token *t, struct portrange *r,
    bool range)
{
	const char *dash;
	char b[64];
	uint64_t lo, hi;
	size_t n;

	if (t->type != T_WORD)
		return perr(p, t, "expected a port number (0-65535)%s, got %s",
		    range ? " or range lo-hi" : "", tok_desc(t, b, sizeof(b)));
	dash = memchr(t->p, '-', t->len);
	if (dash && !range)
		return perr(p, t, "expected a single port number (0-65535), "
		    "got %s", tok_desc(t, b, sizeof(b)));
	n = dash ? (size_t)(dash - t->p) : t->len;
	if (num_parse(t->p, n, 65535, &lo) == -1)
		return perr(p, t, "expected a port number (0-65535), got "
		    "\"%.*s\"", n ? (int)n : (int)t->len, t->p);
	hi = lo;
	if (dash) {
		n = t->len - (size_t)(dash + 1 - t->p);
		if (num_parse(dash + 1, n, 65535, &hi) == -1)
			return perr_off(p, t, (size_t)(dash + 1 - t->p),
			    "expected a port number (0-65535), got \"%.*s\"",
			    n ? (int)n : (int)t->len, n ? dash + 1 : t->p);
		if (lo > hi)
			return perr(p, t, "port range %s is reversed (%u > %u); "
			    "expected low-high", tok_desc(t, b, sizeof(b)),
			    (unsigned)lo, (unsigned)hi);
	}
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return 0;
}

static int
tok_duration(struct parser *p, const struct token *t, uint64_t *ms)
{
	char buf[64], b[64];

	if (tok_word(t, buf, sizeof(buf)) == NULL ||
	    duration_parse(buf, ms) == -1)
		return perr(p, t, "expected a duration such as 30s, 10m, 1h, "
		    "2d, 500ms or 1h30m (each unit once, the largest first), "
		    "got %s", tok_desc(t, b, sizeof(b)));
	if (*ms == 0)
		return perr(p, t, "expected a timeout greater than zero, got %s",
		    tok_desc(t, b, sizeof(b)));
	if (*ms > FWCTL_TIMEOUT_MAX_MS)
		return perr(p, t, "timeout %s is too long; at most "
		    FWCTL_TIMEOUT_MAX_TEXT " (100 years)",
		    tok_desc(t, b, sizeof(b)));
	return 0;
}

/* Appends one item to a malloc'd array. */
static int
array_push(void *arrp, size_t *n, size_t size, const void *item)
{
	void **arr = arrp;
	char *v;

	if ((v = reallocarray(*arr, *n + 1, size)) == NULL)
		return -1;
	memcpy(v + *n * size, item, size);
	*arr = v;
	(*n)++;
	return 0;
}

/*
 * A list: "{ a, b, c }" (newlines allowed inside, a trailing comma too),
 * or one item, or with commas "a, b" without braces. fn consumes one item.
 */
typedef int (*item_fn)(struct parser *, void *);

static int
parse_list(struct parser *p, const char *what, bool commas, item_fn fn,
    void *ctx)
{
	struct token open, *t;
	char b[64];
	size_t count = 0;

	if (peek(p)->type != T_LBRACE) {
		if (fn(p, ctx) == -1)
			return -1;
		while (commas && peek(p)->type == T_COMMA) {
			advance(p);
			while (p->depth > 0 && peek(p)->type == T_NL)
				advance(p);
			if (fn(p, ctx) == -1)
				return -1;
		}
		return 0;
	}
	open = *peek(p);
	advance(p);
	for (;;) {
		while (peek(p)->type == T_NL)
			advance(p);
		t = peek(p);
		if (t->type == T_RBRACE) {
			if (count == 0)
				return perr(p, t, "empty list; expected %s",
				    what);
			advance(p);
			return 0;
		}
		if (t->type == T_EOF || (t->bol && tok_is_stmt(t)))
			return perr(p, t, "expected } to close the list opened "
			    "at %d:%d, got %s", open.line, open.col,
			    tok_desc(t, b, sizeof(b)));
		if (fn(p, ctx) == -1)
			return -1;
		count++;
		while (peek(p)->type == T_NL)
			advance(p);
		t = peek(p);
		if (t->type == T_COMMA)
			advance(p);
		else if (t->type != T_RBRACE)
			return perr(p, t, "expected ',' or '}' in the list, got "
			    "%s", tok_desc(t, b, sizeof(b)));
	}
}

/* A port match being read, and the protocol its service names are of. */
struct portctx {
	struct portmatch	*m;
	int			 proto;
};

/* A service name ("ssh") in word t, as its port. */
static int
tok_service(struct parser *p, const struct token *t, int proto,
    struct portrange *r, char *name, size_t len)
{
	char b[64];

	if (tok_word(t, name, len) == NULL || !service_name_valid(name))
		return perr(p, t, "expected a port number (0-65535), a range "
		    "lo-hi or a service name, got %s", tok_desc(t, b,
		    sizeof(b)));
	if (service_parse(name, proto, &r->lo) == -1)
		return perr(p, t, "unknown service \"%s\": not in "
		    "/etc/services; expected a port number or a service name",
		    name);
	r->hi = r->lo;
	return 0;
}

static int
port_item(struct parser *p, void *ctx)
{
	struct portctx *c = ctx;
	struct token *t = peek(p);
	struct portrange r;
	char name[WORD_MAX];
	bool named = t->type == T_WORD && isalpha((unsigned char)t->p[0]);

	if ((named ? tok_service(p, t, c->proto, &r, name, sizeof(name)) :
	    tok_portrange(p, t, &r, true)) == -1)
		return -1;
	if (portmatch_add(c->m, &r, named ? name : NULL) == -1)
		return oom(p);
	advance(p);
	return 0;
}

/* A match: @set, or one item or a { list } of them, each parsed by item. */
static int
parse_match(struct parser *p, char **set, const char *what,
    item_fn item, void *ctx)
{
	struct token *t = peek(p);

	if (t->type == T_WORD && t->p[0] == '@') {
		if (tok_setref(p, t, set) == -1)
			return -1;
		advance(p);
		return 0;
	}
	return parse_list(p, what, false, item, ctx);
}

/* P: port, range, service name, { list } or @set */
static int
parse_portmatch(struct parser *p, struct portmatch *m, int proto)
{
	struct portctx c = { m, proto };

	return parse_match(p, &m->set, "a port, range or service name",
	    port_item, &c);
}

/* One address token appended to v (what: the message's expectation). */
static int
push_addr(struct parser *p, struct addr **v, size_t *n, const char *what)
{
	struct addr a;

	if (tok_addr(p, peek(p), &a, what) == -1)
		return -1;
	if (array_push(v, n, sizeof(a), &a) == -1)
		return oom(p);
	advance(p);
	return 0;
}

static int
addr_item(struct parser *p, void *ctx)
{
	struct addrmatch *m = ctx;

	return push_addr(p, &m->addrs, &m->naddrs, "an address or network");
}

/* A: address, network, { list } or @set */
static int
parse_addrmatch(struct parser *p, struct addrmatch *m)
{
	return parse_match(p, &m->set, "an address or network", addr_item,
	    m);
}

static int
state_item(struct parser *p, void *ctx)
{
	unsigned *state = ctx, bit;
	char buf[32], b[64];
	struct token *t = peek(p);

	if (tok_word(t, buf, sizeof(buf)) == NULL ||
	    (bit = ctstate_parse(buf)) == 0)
		return perr(p, t, "expected a connection state (new, "
		    "established, related or invalid), got %s",
		    tok_desc(t, b, sizeof(b)));
	*state |= bit;
	advance(p);
	return 0;
}

static int
icmp_item(struct parser *p, void *ctx)
{
	struct rule *r = ctx;
	char buf[64], b[64];
	struct token *t = peek(p);
	uint64_t v;
	uint8_t type;

	if (t->type == T_WORD && num_parse(t->p, t->len, 255, &v) == 0)
		type = (uint8_t)v;
	else if (tok_word(t, buf, sizeof(buf)) == NULL ||
	    icmp_type_parse(r->proto, buf, &type) == -1)
		return perr(p, t, "expected an %s type name (such as "
		    "echo-request) or a number 0-255, got %s",
		    proto_name(r->proto), tok_desc(t, b, sizeof(b)));
	if (array_push(&r->icmp_types, &r->nicmp_types, 1, &type) == -1)
		return oom(p);
	advance(p);
	return 0;
}

/* statements */

/*
 * Records that a clause starts at token t, relative to its statement at l,
 * for validate.c's messages. A position that does not fit a struct srcpos
 * stays unknown: the statement's location is right, a clamped one is not.
 */
static void
clause_at(struct srcpos *pos, const struct srcloc *l, const struct token *t)
{
	int dline = t->line - l->line;

	if (dline < 0 || dline > UINT16_MAX || t->col < 1 ||
	    t->col > UINT16_MAX)
		return;
	pos->dline = (uint16_t)dline;
	pos->col = (uint16_t)t->col;
}

static int
iface_item(struct parser *p, void *ctx)
{
	struct zone *z = ctx;
	char b[64], *s;
	struct token *t = peek(p);

	if (t->type != T_WORD && t->type != T_STRING)
		return perr(p, t, "expected an interface name, got %s",
		    tok_desc(t, b, sizeof(b)));
	if ((s = tok_dup(t)) == NULL)
		return oom(p);
	if (!ifname_valid(s)) {
		free(s);
		return perr(p, t, "expected an interface name (at most %d "
		    "characters of letters, digits, '_', '.', '@' or '-', "
		    "optionally ending in '*'), got %s", FWCTL_IFNAME_MAX,
		    tok_desc(t, b, sizeof(b)));
	}
	if (array_push(&z->ifaces, &z->nifaces, sizeof(s), &s) == -1) {
		free(s);
		return oom(p);
	}
	advance(p);
	return 0;
}

static int
network_item(struct parser *p, void *ctx)
{
	struct zone *z = ctx;

	return push_addr(p, &z->networks, &z->nnetworks,
	    "a network such as 192.0.2.0/24");
}

static int
zone_item(struct parser *p, struct zone *z)
{
	char b[64];
	struct token t = *peek(p);

	if (tok_is(&t, "interface") || tok_is(&t, "interfaces")) {
		advance(p);
		return parse_list(p, "an interface name", true, iface_item, z);
	}
	if (tok_is(&t, "network") || tok_is(&t, "networks")) {
		advance(p);
		return parse_list(p, "a network", true, network_item, z);
	}
	if (tok_is(&t, "external") || tok_is(&t, "dmz")) {
		unsigned flag = tok_is(&t, "dmz") ? ZONE_DMZ : ZONE_EXTERNAL;

		if (z->flags & flag)
			return perr(p, &t, "%s given twice",
			    flag == ZONE_DMZ ? "dmz" : "external");
		z->flags |= flag;
		clause_at(&z->pos[flag == ZONE_DMZ ? ZC_DMZ : ZC_EXTERNAL],
		    &z->loc, &t);
		advance(p);
		return 0;
	}
	return perr(p, &t, "expected a zone option (interface, network, "
	    "external or dmz), got %s", tok_desc(&t, b, sizeof(b)));
}

static int
zone_body(struct parser *p, const struct token *start, struct zone **out)
{
	struct token open, *t;
	struct zone *z;
	char b[64];

	if ((z = zone_new()) == NULL)
		return oom(p);
	srcloc_set(&z->loc, p->file, start->line, start->col);
	if (parse_name(p, "zone", &z->name) == -1)
		goto fail;
	if (peek(p)->type != T_LBRACE) {
		/* the flat form: "dmz interface eth2 dmz" */
		while (!at_eol(p)) {
			if (peek(p)->type == T_SEMI) {
				advance(p);
				continue;
			}
			if (zone_item(p, z) == -1)
				goto fail;
		}
		*out = z;
		return 0;
	}
	open = *peek(p);
	advance(p);
	for (;;) {
		t = peek(p);
		if (t->type == T_NL || t->type == T_SEMI) {
			advance(p);
			continue;
		}
		if (t->type == T_RBRACE) {
			advance(p);
			break;
		}
		if (t->type == T_EOF || (t->bol && tok_is_stmt(t))) {
			perr(p, t, "expected } to close the zone block opened at "
			    "%d:%d, got %s", open.line, open.col,
			    tok_desc(t, b, sizeof(b)));
			goto fail;
		}
		if (zone_item(p, z) == -1)
			goto fail;
		t = peek(p);
		if (t->type != T_NL && t->type != T_SEMI &&
		    t->type != T_RBRACE) {
			perr(p, t, "expected ';', end of line or '}' after a zone "
			    "option, got %s", tok_desc(t, b, sizeof(b)));
			goto fail;
		}
	}
	*out = z;
	return 0;
fail:
	zone_free(z);
	return -1;
}

static int
parse_verdict(struct parser *p, enum verdict *v)
{
	char buf[16];

	if (tok_word(peek(p), buf, sizeof(buf)) == NULL ||
	    verdict_parse(buf, v) == -1)
		return expected(p, "a verdict (accept, drop or reject)");
	advance(p);
	return 0;
}

static int	parse_quoted(struct parser *, const char *, size_t, char **);

static int
policy_body(struct parser *p, const struct token *start, struct policy **out)
{
	struct policy *pol;

	if ((pol = policy_new()) == NULL)
		return oom(p);
	srcloc_set(&pol->loc, p->file, start->line, start->col);
	clause_at(&pol->pos[PC_FROM], &pol->loc, peek(p));
	if (parse_zoneref(p, &pol->from) == -1)
		goto fail;
	if (peek(p)->type != T_ARROW) {
		expected(p, "\"->\" between the two zones");
		goto fail;
	}
	advance(p);
	clause_at(&pol->pos[PC_TO], &pol->loc, peek(p));
	if (parse_zoneref(p, &pol->to) == -1)
		goto fail;
	clause_at(&pol->pos[PC_VERDICT], &pol->loc, peek(p));
	if (parse_verdict(p, &pol->verdict) == -1)
		goto fail;
	if (tok_is(peek(p), "log")) {
		advance(p);
		pol->log = true;
		if (tok_is(peek(p), "prefix")) {
			clause_at(&pol->pos[PC_PREFIX], &pol->loc, peek(p));
			advance(p);
			if (parse_quoted(p, "log prefix", FWCTL_LOG_PREFIX_MAX,
			    &pol->log_prefix) == -1)
				goto fail;
		}
	}
	*out = pol;
	return 0;
fail:
	policy_free(pol);
	return -1;
}

/* "limit [rate] N/unit [burst N] [per source]" after the word limit */
static int
parse_limit(struct parser *p, struct limit *l)
{
	char buf[32], b[64];
	struct token t;
	const char *slash;
	uint64_t v;
	size_t n;

	if (tok_is(peek(p), "rate"))
		advance(p);
	t = *peek(p);
	if (t.type != T_WORD ||
	    (slash = memchr(t.p, '/', t.len)) == NULL)
		return perr(p, &t, "expected a rate such as 10/second "
		    "(per second, minute, hour or day), got %s",
		    tok_desc(&t, b, sizeof(b)));
	n = (size_t)(slash - t.p);
	if (num_parse(t.p, n, UINT64_MAX, &l->rate) == -1)
		return perr(p, &t, "expected a rate such as 10/second, got %s",
		    tok_desc(&t, b, sizeof(b)));
	if (l->rate == 0)
		return perr(p, &t, "limit rate must be at least 1, got %s",
		    tok_desc(&t, b, sizeof(b)));
	n = t.len - n - 1;
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, slash + 1, n);
	buf[n] = '\0';
	if (limit_unit_parse(buf, &l->unit) == -1)
		return perr_off(p, &t, (size_t)(slash + 1 - t.p), "expected a "
		    "rate unit (second, minute, hour or day), got \"%s\"", buf);
	advance(p);
	if (tok_is(peek(p), "burst")) {
		advance(p);
		t = *peek(p);
		if (t.type != T_WORD || num_parse(t.p, t.len, UINT32_MAX,
		    &v) == -1 || v == 0)
			return perr(p, &t, "expected a burst of 1 to %u "
			    "packets, got %s", UINT32_MAX,
			    tok_desc(&t, b, sizeof(b)));
		l->burst = (uint32_t)v;
		advance(p);
	}
	if (tok_is(peek(p), "per")) {
		advance(p);
		if (!tok_is(peek(p), "source"))
			return perr(p, peek(p), "expected source after per "
			    "(limit N/unit per source), got %s",
			    tok_desc(peek(p), b, sizeof(b)));
		l->per_source = true;
		advance(p);
	}
	/* at the burst when given, else at the rate */
	if (!limit_fits(l))
		return perr(p, &t, "limit %ju/%s burst %u is beyond the "
		    "kernel's range: (one %s in ns / rate) * burst must fit 64 "
		    "bits; use a higher rate or a smaller burst",
		    (uintmax_t)l->rate, limit_unit_name(l->unit), l->burst ?
		    l->burst : FWCTL_LIMIT_BURST_DEFAULT,
		    limit_unit_name(l->unit));
	return 0;
}

/* a quoted string of at most max bytes into *out */
static int
parse_quoted(struct parser *p, const char *what, size_t max, char **out)
{
	char b[64];
	struct token t = *peek(p);

	if (t.type != T_STRING)
		return perr(p, &t, "expected a quoted %s, got %s", what,
		    tok_desc(&t, b, sizeof(b)));
	if ((*out = tok_dup(&t)) == NULL)
		return oom(p);
	if (strlen(*out) > max) {
		perr(p, &t, "%s is %zu bytes long; at most %zu allowed", what,
		    strlen(*out), max);
		free(*out);
		*out = NULL;
		return -1;
	}
	advance(p);
	return 0;
}

static int
once(struct parser *p, const struct token *t, bool *seen)
{
	char b[64];

	if (*seen)
		return perr(p, t, "%s given twice in one rule",
		    tok_desc(t, b, sizeof(b)));
	*seen = true;
	return 0;
}

static bool
proto_has_ports(int proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    proto == IPPROTO_SCTP;
}

static int
rule_body(struct parser *p, const struct token *start, struct rule **out)
{
	bool sport = false, dport = false, type = false, src = false,
	    dst = false, state = false, limit = false, log = false,
	    comment = false, verdict = false;
	struct token t, vtok;
	struct rule *r;
	char buf[32], b[64];
	int proto;

	if ((r = rule_new()) == NULL)
		return oom(p);
	srcloc_set(&r->loc, p->file, start->line, start->col);
	if (parse_name(p, "rule", &r->name) == -1)
		goto fail;
	clause_at(&r->pos[RC_FROM], &r->loc, peek(p));
	if (expect_kw(p, "from", "after the rule name") == -1 ||
	    parse_zoneref(p, &r->from) == -1)
		goto fail;
	clause_at(&r->pos[RC_TO], &r->loc, peek(p));
	if (expect_kw(p, "to", "after the source zone") == -1 ||
	    parse_zoneref(p, &r->to) == -1)
		goto fail;
	memset(&vtok, 0, sizeof(vtok));	/* where the verdict was */
	while (!at_eol(p)) {
		t = *peek(p);
		if (tok_word(&t, buf, sizeof(buf)) == NULL)
			goto unknown;
		if (proto_parse(buf, &proto) == 0) {
			if (r->proto) {
				perr(p, &t, "a rule takes one protocol; already "
				    "have %s, got %s", proto_name(r->proto),
				    tok_desc(&t, b, sizeof(b)));
				goto fail;
			}
			r->proto = proto;
			clause_at(&r->pos[RC_PROTO], &r->loc, &t);
			advance(p);
		} else if (strcmp(buf, "ip4") == 0 || strcmp(buf, "ip6") == 0) {
			if (r->family != 0) {
				perr(p, &t, "a rule takes one IP version; already "
				    "have %s, got %s", r->family == AF_INET ?
				    "ip4" : "ip6", tok_desc(&t, b, sizeof(b)));
				goto fail;
			}
			r->family = buf[2] == '4' ? AF_INET : AF_INET6;
			clause_at(&r->pos[RC_FAMILY], &r->loc, &t);
			advance(p);
		} else if (strcmp(buf, "sport") == 0 ||
		    strcmp(buf, "dport") == 0) {
			bool is_s = buf[0] == 's';

			if (once(p, &t, is_s ? &sport : &dport) == -1)
				goto fail;
			if (!proto_has_ports(r->proto)) {
				perr(p, &t, "%s needs tcp, udp or sctp before it",
				    buf);
				goto fail;
			}
			clause_at(&r->pos[is_s ? RC_SPORT : RC_DPORT], &r->loc,
			    &t);
			advance(p);
			if (parse_portmatch(p, is_s ? &r->sport : &r->dport,
			    r->proto) == -1)
				goto fail;
		} else if (strcmp(buf, "type") == 0) {
			if (once(p, &t, &type) == -1)
				goto fail;
			if (r->proto != IPPROTO_ICMP &&
			    r->proto != IPPROTO_ICMPV6) {
				perr(p, &t, "type needs icmp or icmpv6 before "
				    "it");
				goto fail;
			}
			clause_at(&r->pos[RC_TYPE], &r->loc, &t);
			advance(p);
			if (parse_list(p, "an icmp type", false, icmp_item,
			    r) == -1)
				goto fail;
		} else if (strcmp(buf, "src") == 0 || strcmp(buf, "dst") == 0) {
			bool is_s = buf[0] == 's';

			if (once(p, &t, is_s ? &src : &dst) == -1)
				goto fail;
			clause_at(&r->pos[is_s ? RC_SRC : RC_DST], &r->loc, &t);
			advance(p);
			if (parse_addrmatch(p, is_s ? &r->src : &r->dst) == -1)
				goto fail;
		} else if (strcmp(buf, "state") == 0) {
			if (once(p, &t, &state) == -1)
				goto fail;
			clause_at(&r->pos[RC_STATE], &r->loc, &t);
			advance(p);
			if (parse_list(p, "a connection state", false,
			    state_item, &r->state) == -1)
				goto fail;
		} else if (verdict_parse(buf, &r->verdict) == 0) {
			if (verdict) {
				perr(p, &t, "a rule takes exactly one verdict; "
				    "already have %s at column %d, got %s",
				    tok_desc(&vtok, buf, sizeof(buf)), vtok.col,
				    tok_desc(&t, b, sizeof(b)));
				goto fail;
			}
			vtok = t;
			verdict = true;
			clause_at(&r->pos[RC_VERDICT], &r->loc, &t);
			advance(p);
		} else if (strcmp(buf, "limit") == 0) {
			if (once(p, &t, &limit) == -1)
				goto fail;
			clause_at(&r->pos[RC_LIMIT], &r->loc, &t);
			advance(p);
			if (parse_limit(p, &r->limit) == -1)
				goto fail;
		} else if (strcmp(buf, "log") == 0) {
			if (once(p, &t, &log) == -1)
				goto fail;
			advance(p);
			r->log = true;
			if (tok_is(peek(p), "prefix")) {
				clause_at(&r->pos[RC_PREFIX], &r->loc, peek(p));
				advance(p);
				if (parse_quoted(p, "log prefix",
				    FWCTL_LOG_PREFIX_MAX, &r->log_prefix) == -1)
					goto fail;
			}
		} else if (strcmp(buf, "comment") == 0) {
			if (once(p, &t, &comment) == -1)
				goto fail;
			clause_at(&r->pos[RC_COMMENT], &r->loc, &t);
			advance(p);
			if (parse_quoted(p, "comment", FWCTL_COMMENT_MAX,
			    &r->comment) == -1)
				goto fail;
		} else
			goto unknown;
	}
	if (!verdict) {
		perr(p, peek(p), "rule \"%s\" has no verdict; expected accept, "
		    "drop or reject", r->name);
		goto fail;
	}
	*out = r;
	return 0;
unknown:
	perr(p, &t, "expected a match (ip4, ip6, tcp, udp, sctp, icmp, icmpv6, "
	    "sport, dport, type, src, dst, state), a verdict (accept, drop, "
	    "reject) "
	    "or an option (limit, log, comment), got %s",
	    tok_desc(&t, b, sizeof(b)));
fail:
	rule_free(r);
	return -1;
}

/* ADDR[:PORT], [V6ADDR]:PORT or a bare IPv6 address */
static int
tok_target(struct parser *p, const struct token *t, struct nat *n)
{
	char buf[WORD_MAX], b[64], *host, *port = NULL, *c;
	const char *why;
	uint64_t v;

	if (tok_word(t, buf, sizeof(buf)) == NULL || buf[0] == '@')
		return perr(p, t, "expected a host address as the forward "
		    "target (ADDR, ADDR:PORT or [IPV6]:PORT), got %s",
		    tok_desc(t, b, sizeof(b)));
	host = buf;
	if (buf[0] == '[') {
		if ((c = strchr(buf, ']')) == NULL)
			return perr(p, t, "expected ']' after the IPv6 address "
			    "in %s", tok_desc(t, b, sizeof(b)));
		*c++ = '\0';
		host = buf + 1;
		if (*c == ':')
			port = c + 1;
		else if (*c != '\0')
			return perr_off(p, t, (size_t)(c - buf), "expected "
			    "':PORT' after ']', got %s", tok_desc(t, b,
			    sizeof(b)));
	} else if ((c = strchr(buf, ':')) != NULL && !strchr(c + 1, ':')) {
		*c = '\0';
		port = c + 1;
	}
	if (addr_parse(host, &n->target, &why) == -1)
		return perr(p, t, "expected a host address as the forward "
		    "target, got %s (%s)", tok_desc(t, b, sizeof(b)), why);
	if (!addr_is_host(&n->target))
		return perr(p, t, "expected a single host address as the "
		    "forward target, got the network %s", tok_desc(t, b,
		    sizeof(b)));
	if (port) {
		if (num_parse(port, strlen(port), 65535, &v) == -1 || v == 0)
			return perr_off(p, t, (size_t)(port - buf), "expected a "
			    "target port (1-65535), got \"%s\"", port);
		n->target_port = (uint16_t)v;
	}
	return 0;
}

static int
nat_body(struct parser *p, const struct token *start, struct nat **out)
{
	char buf[32], b[64];
	struct token t;
	struct nat *n;

	if ((n = nat_new()) == NULL)
		return oom(p);
	srcloc_set(&n->loc, p->file, start->line, start->col);
	if (parse_name(p, "nat", &n->name) == -1)
		goto fail;
	t = *peek(p);
	if (tok_is(&t, "masquerade"))
		n->kind = NAT_MASQUERADE;
	else if (tok_is(&t, "snat"))
		n->kind = NAT_SNAT;
	else if (tok_is(&t, "forward"))
		n->kind = NAT_FORWARD;
	else {
		expected(p, "a nat kind (masquerade, snat or forward)");
		goto fail;
	}
	advance(p);
	clause_at(&n->pos[NC_FROM], &n->loc, peek(p));
	if (expect_kw(p, "from", "after the nat kind") == -1 ||
	    parse_zoneref(p, &n->from) == -1)
		goto fail;
	if (n->kind != NAT_FORWARD) {
		clause_at(&n->pos[NC_TO], &n->loc, peek(p));
		if (expect_kw(p, "to", "after the source zone") == -1 ||
		    parse_zoneref(p, &n->to) == -1)
			goto fail;
		if (n->kind == NAT_SNAT) {
			clause_at(&n->pos[NC_AS], &n->loc, peek(p));
			if (expect_kw(p, "as", "and the address to translate "
			    "to") == -1)
				goto fail;
			t = *peek(p);
			if (tok_addr(p, &t, &n->snat_addr, "a host address") ==
			    -1)
				goto fail;
			if (!addr_is_host(&n->snat_addr)) {
				perr(p, &t, "expected a single host address "
				    "after as, got the network %s",
				    tok_desc(&t, b, sizeof(b)));
				goto fail;
			}
			advance(p);
		}
	} else {
		t = *peek(p);
		if (tok_word(&t, buf, sizeof(buf)) == NULL ||
		    proto_parse(buf, &n->proto) == -1 ||
		    !proto_has_ports(n->proto)) {
			expected(p, "the forwarded protocol (tcp, udp or sctp)");
			goto fail;
		}
		clause_at(&n->pos[NC_PROTO], &n->loc, &t);
		advance(p);
		clause_at(&n->pos[NC_DPORT], &n->loc, peek(p));
		if (expect_kw(p, "dport", "after the protocol") == -1 ||
		    tok_portrange(p, peek(p), &n->dport, true) == -1)
			goto fail;
		advance(p);
		clause_at(&n->pos[NC_TARGET], &n->loc, peek(p));
		if (expect_kw(p, "to", "before the forward target") == -1 ||
		    tok_target(p, peek(p), n) == -1)
			goto fail;
		advance(p);
	}
	while (!at_eol(p)) {
		t = *peek(p);
		if (!tok_is(&t, "src")) {
			expected(p, "src or end of line after the nat entry");
			goto fail;
		}
		if (n->src.naddrs || n->src.set) {
			perr(p, &t, "src given twice in one nat entry");
			goto fail;
		}
		clause_at(&n->pos[NC_SRC], &n->loc, &t);
		advance(p);
		if (parse_addrmatch(p, &n->src) == -1)
			goto fail;
	}
	*out = n;
	return 0;
fail:
	nat_free(n);
	return -1;
}

/* ELEM [timeout DUR] for a set of type type; the token is consumed */
static int
set_elem_parse(struct parser *p, enum set_type type, struct set_elem *e)
{
	struct token t = *peek(p);
	char b[64];

	memset(e, 0, sizeof(*e));
	if (type == SET_PORT) {
		if (tok_portrange(p, &t, &e->key.port, true) == -1)
			return -1;
	} else {
		if (tok_addr(p, &t, &e->key.addr, type == SET_IPV4 ?
		    "an IPv4 address or network" :
		    "an IPv6 address or network") == -1)
			return -1;
		if ((type == SET_IPV4) != (e->key.addr.family == AF_INET))
			return perr(p, &t, "expected an %s address or network "
			    "in a set of type %s, got %s",
			    type == SET_IPV4 ? "IPv4" : "IPv6",
			    set_type_name(type), tok_desc(&t, b, sizeof(b)));
	}
	advance(p);
	if (tok_is(peek(p), "timeout")) {
		advance(p);
		if (tok_duration(p, peek(p), &e->timeout_ms) == -1)
			return -1;
		advance(p);
	}
	return 0;
}

static int
set_body(struct parser *p, const struct token *start, struct set **out)
{
	struct token open, *t;
	struct set_elem e;
	struct set *s;
	char buf[16], b[64];
	bool timeout = false;

	if ((s = set_new()) == NULL)
		return oom(p);
	srcloc_set(&s->loc, p->file, start->line, start->col);
	if (parse_name(p, "set", &s->name) == -1)
		goto fail;
	if (tok_word(peek(p), buf, sizeof(buf)) == NULL ||
	    set_type_parse(buf, &s->type) == -1) {
		expected(p, "a set type (ipv4, ipv6 or port)");
		goto fail;
	}
	advance(p);
	if (tok_is(peek(p), "timeout")) {
		/* the flat form: "blocklist ipv4 timeout 1h" */
		advance(p);
		if (tok_duration(p, peek(p), &s->timeout_ms) == -1)
			goto fail;
		advance(p);
		timeout = true;
	}
	if (peek(p)->type != T_LBRACE)
		goto done;
	open = *peek(p);
	advance(p);
	for (;;) {
		t = peek(p);
		if (t->type == T_NL || t->type == T_SEMI) {
			advance(p);
			continue;
		}
		if (t->type == T_RBRACE) {
			advance(p);
			break;
		}
		if (t->type == T_EOF || (t->bol && tok_is_stmt(t))) {
			perr(p, t, "expected } to close the set block opened at "
			    "%d:%d, got %s", open.line, open.col,
			    tok_desc(t, b, sizeof(b)));
			goto fail;
		}
		if (tok_is(t, "timeout")) {
			if (timeout) {
				perr(p, t, "the set's timeout is given twice");
				goto fail;
			}
			timeout = true;
			advance(p);
			if (tok_duration(p, peek(p), &s->timeout_ms) == -1)
				goto fail;
			advance(p);
		} else {
			for (;;) {
				if (set_elem_parse(p, s->type, &e) == -1)
					goto fail;
				if (set_add_elem(s, &e) == -1) {
					oom(p);
					goto fail;
				}
				if (peek(p)->type != T_COMMA)
					break;
				advance(p);
				while (peek(p)->type == T_NL)
					advance(p);
				if (peek(p)->type == T_RBRACE)
					break;
			}
		}
		t = peek(p);
		if (t->type != T_NL && t->type != T_SEMI &&
		    t->type != T_RBRACE) {
			perr(p, t, "expected ',', ';', end of line or '}' in the "
			    "set, got %s", tok_desc(t, b, sizeof(b)));
			goto fail;
		}
	}
done:
	*out = s;
	return 0;
fail:
	set_free(s);
	return -1;
}

static int
expect_eol(struct parser *p, const char *what)
{
	char b[64];
	struct token *t = peek(p);

	if (t->type == T_EOF)
		return 0;
	if (t->type == T_NL) {
		advance(p);
		return 0;
	}
	return perr(p, t, "expected end of line after the %s, got %s", what,
	    tok_desc(t, b, sizeof(b)));
}

enum stmt {
	S_ZONE,
	S_POLICY,
	S_RULE,
	S_NAT,
	S_SET,
};

static const char *const stmt_words[] = { "zone", "policy", "rule", "nat",
	"set" };

static void
obj_free(enum stmt k, void *o)
{
	switch (k) {
	case S_ZONE:
		zone_free(o);
		break;
	case S_POLICY:
		policy_free(o);
		break;
	case S_RULE:
		rule_free(o);
		break;
	case S_NAT:
		nat_free(o);
		break;
	case S_SET:
		set_free(o);
		break;
	}
}

/* The statement after its keyword (or without one); start is its first
 * token. */
static void *
stmt_body(struct parser *p, enum stmt k, const struct token *start)
{
	void *o = NULL;
	int r = -1;

	switch (k) {
	case S_ZONE:
		r = zone_body(p, start, (struct zone **)&o);
		break;
	case S_POLICY:
		r = policy_body(p, start, (struct policy **)&o);
		break;
	case S_RULE:
		r = rule_body(p, start, (struct rule **)&o);
		break;
	case S_NAT:
		r = nat_body(p, start, (struct nat **)&o);
		break;
	case S_SET:
		r = set_body(p, start, (struct set **)&o);
		break;
	}
	if (r == -1)
		return NULL;
	if (expect_eol(p, stmt_words[k]) == -1) {
		obj_free(k, o);
		return NULL;
	}
	return o;
}

static int
rs_add(struct ruleset *rs, enum stmt k, void *o)
{
	switch (k) {
	case S_ZONE:
		return ruleset_add_zone(rs, o);
	case S_POLICY:
		return ruleset_add_policy(rs, o);
	case S_RULE:
		return ruleset_add_rule(rs, o);
	case S_NAT:
		return ruleset_add_nat(rs, o);
	case S_SET:
		return ruleset_add_set(rs, o);
	}
	return -1;
}

static int
parse_statement(struct parser *p, struct ruleset *rs)
{
	struct token start = *peek(p);
	char b[64];
	size_t k;
	void *o;

	for (k = 0; k < sizeof(stmt_words) / sizeof(stmt_words[0]); k++)
		if (tok_is(&start, stmt_words[k]))
			break;
	if (k == sizeof(stmt_words) / sizeof(stmt_words[0]))
		return perr(p, &start, "expected a statement (zone, policy, "
		    "rule, nat or set), got %s", tok_desc(&start, b,
		    sizeof(b)));
	advance(p);
	if ((o = stmt_body(p, (enum stmt)k, &start)) == NULL)
		return -1;
	if (rs_add(rs, (enum stmt)k, o) == -1) {
		obj_free((enum stmt)k, o);
		return oom(p);
	}
	return 0;
}

static int
parser_init(struct parser *p, const char *file, const char *text,
    size_t len, struct diags *d)
{
	memset(p, 0, sizeof(*p));
	p->buf = text;
	p->len = len;
	p->line = 1;
	p->bol = true;
	p->diags = d;
	if (file && (p->file = strdup(file)) == NULL) {
		diags_add(d, NULL, "out of memory");
		return -1;
	}
	return 0;
}

int
parse_buffer(struct ruleset *rs, const char *file, const char *text,
    size_t len, struct diags *d)
{
	struct parser p;
	struct token *t;

	if (len > INT_MAX) {
		struct srcloc l = { NULL, 0, 0 };

		diags_add(d, &l, "%s: input too large", file ? file : "input");
		return 1;
	}
	if (parser_init(&p, file, text, len, d) == -1)
		return 1;
	for (;;) {
		t = peek(&p);
		if (t->type == T_EOF)
			break;
		if (t->type == T_NL) {
			advance(&p);
			continue;
		}
		if (p.nerr >= PARSE_ERRORS_MAX) {
			perr(&p, t, "too many errors (%d); the rest of the "
			    "input is not checked", p.nerr);
			break;
		}
		p.depth = 0;
		p.stmt_line = t->line;
		if (parse_statement(&p, rs) == -1)
			recover(&p);
	}
	free(p.file);
	return p.nerr;
}

/*
 * One statement on its own. The keyword is optional; when the word after it
 * is what would follow a name, the keyword was the name ("rule from ..."
 * cannot be a rule named "from").
 */
static void *
parse_one(enum stmt k, const char *text, struct diags *d)
{
	struct parser p;
	struct token start, *t2;
	char b[64];
	void *o = NULL;
	bool kw;

	if (text == NULL)
		text = "";
	if (parser_init(&p, NULL, text, strlen(text), d) == -1)
		return NULL;
	while (peek(&p)->type == T_NL)
		advance(&p);
	start = *peek(&p);
	p.stmt_line = start.line;
	kw = tok_is(&start, stmt_words[k]);
	if (kw) {
		t2 = peek2(&p);
		switch (k) {
		case S_ZONE:
			kw = !(t2->type == T_LBRACE || t2->type == T_NL ||
			    t2->type == T_EOF || tok_is(t2, "interface") ||
			    tok_is(t2, "network"));
			break;
		case S_POLICY:
			kw = t2->type != T_ARROW;
			break;
		case S_RULE:
			kw = !tok_is(t2, "from");
			break;
		case S_NAT:
			kw = !(tok_is(t2, "masquerade") || tok_is(t2, "snat") ||
			    tok_is(t2, "forward"));
			break;
		case S_SET:
			kw = !(tok_is(t2, "ipv4") || tok_is(t2, "ipv6") ||
			    tok_is(t2, "port"));
			break;
		}
	}
	if (kw)
		advance(&p);
	if ((o = stmt_body(&p, k, &start)) == NULL)
		goto done;
	while (peek(&p)->type == T_NL)
		advance(&p);
	t2 = peek(&p);
	if (t2->type != T_EOF) {
		perr(&p, t2, "expected one %s statement only, got %s after it",
		    stmt_words[k], tok_desc(t2, b, sizeof(b)));
		obj_free(k, o);
		o = NULL;
	}
done:
	free(p.file);
	return o;
}

struct rule *
parse_rule(const char *text, struct diags *d)
{
	return parse_one(S_RULE, text, d);
}

struct zone *
parse_zone(const char *text, struct diags *d)
{
	return parse_one(S_ZONE, text, d);
}

struct nat *
parse_nat(const char *text, struct diags *d)
{
	return parse_one(S_NAT, text, d);
}

struct policy *
parse_policy(const char *text, struct diags *d)
{
	return parse_one(S_POLICY, text, d);
}

struct set *
parse_set(const char *text, struct diags *d)
{
	return parse_one(S_SET, text, d);
}

int
parse_set_elem(enum set_type type, const char *text, struct set_elem *e,
    struct diags *d)
{
	struct parser p;
	char b[64];
	int r = -1;

	if (text == NULL)
		text = "";
	if (set_type_name(type) == NULL) {
		diags_add(d, NULL, "unknown set type %d", (int)type);
		return -1;
	}
	if (parser_init(&p, NULL, text, strlen(text), d) == -1)
		return -1;
	if (set_elem_parse(&p, type, e) == 0) {
		if (peek(&p)->type == T_EOF)
			r = 0;
		else
			perr(&p, peek(&p), "expected one set element, got %s "
			    "after it", tok_desc(peek(&p), b, sizeof(b)));
	}
	free(p.file);
	return r;
}

/* files and directories */

static int
file_error(struct diags *d, const char *path, const char *what, int err)
{
	struct srcloc l = { NULL, 0, 0 };

	diags_add(d, &l, "%s: %s: %s", path, what, strerror(err));
	return 1;
}

int
parse_file(struct ruleset *rs, const char *path, struct diags *d)
{
	struct stat st;
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t r;
	int fd, n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return file_error(d, path, "cannot open", errno);
	if (fstat(fd, &st) == -1) {
		n = file_error(d, path, "cannot stat", errno);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		n = file_error(d, path, "cannot read", S_ISDIR(st.st_mode) ?
		    EISDIR : EINVAL);
		goto done;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= PARSE_FILE_MAX) {
				n = file_error(d, path, "cannot read", EFBIG);
				goto done;
			}
			cap = cap ? cap * 2 : 8192;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				n = file_error(d, path, "cannot read", ENOMEM);
				goto done;
			}
			buf = nbuf;
		}
		if ((r = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			n = file_error(d, path, "cannot read", errno);
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	n = parse_buffer(rs, path, buf ? buf : "", len, d);
done:
	free(buf);
	close(fd);
	return n;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
parse_dir(struct ruleset *rs, const char *dir, struct diags *d)
{
	struct dirent *de;
	struct stat st;
	char **names = NULL, *s, *path;
	size_t n = 0, i, len;
	DIR *dp;
	int nerr = 0;

	if ((dp = opendir(dir)) == NULL)
		return file_error(d, dir, "cannot open directory", errno);
	errno = 0;
	while ((de = readdir(dp)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 6 ||
		    strcmp(de->d_name + len - 6, ".rules") != 0)
			continue;
		if (fstatat(dirfd(dp), de->d_name, &st, 0) == -1) {
			if (asprintf(&path, "%s/%s", dir, de->d_name) == -1)
				path = NULL;
			nerr += file_error(d, path ? path : de->d_name,
			    "cannot stat", errno);
			free(path);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if ((s = strdup(de->d_name)) == NULL ||
		    array_push(&names, &n, sizeof(s), &s) == -1) {
			free(s);
			nerr += file_error(d, dir, "cannot read directory",
			    ENOMEM);
			goto done;
		}
		errno = 0;
	}
	if (errno != 0) {
		nerr += file_error(d, dir, "cannot read directory", errno);
		goto done;
	}
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		if (asprintf(&path, "%s/%s", dir, names[i]) == -1) {
			nerr += file_error(d, dir, "cannot read directory",
			    ENOMEM);
			goto done;
		}
		nerr += parse_file(rs, path, d);
		free(path);
	}
done:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dp);
	return nerr;
}
