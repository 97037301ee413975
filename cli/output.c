/* output.c: what people read.  Aligned tables, colour only for a terminal,
 * human sizes, pretty JSON, the daemon's problems and plans.  Links only
 * jansson, so tests/check_cli_output.c compiles it in directly. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "fwctl.h"

static char *
output_strdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL) {
		perror("fwctl");
		exit(EXIT_REFUSED);
	}
	return p;
}

/* Allocating printf; out of memory ends the program, as in a tiny CLI
 * nothing useful remains to be done. */
static char * __attribute__((format(printf, 1, 2)))
output_fmt(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1) {
		perror("fwctl");
		exit(EXIT_REFUSED);
	}
	va_end(ap);
	return s;
}

const char *
output_color(enum color c)
{
	if (!opt.color)
		return "";
	switch (c) {
	case C_BOLD:	return "\033[1m";
	case C_RED:	return "\033[31m";
	case C_GREEN:	return "\033[32m";
	case C_YELLOW:	return "\033[33m";
	case C_DIM:	return "\033[2m";
	default:	return "";
	}
}

const char *
output_reset(void)
{
	return opt.color ? "\033[0m" : "";
}

void
table_init(struct table *t, const char *const *head, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->head = head;
	t->ncols = ncols;
}

void
table_row(struct table *t, const char *const *cells)
{
	size_t	 i;

	if (t->nrows == t->cap) {
		size_t	 cap = t->cap ? t->cap * 2 : 16;
		char	**c = reallocarray(t->cells, cap * t->ncols,
		    sizeof(*c));
		int	*rc = reallocarray(t->rcolor, cap, sizeof(*rc));

		if (c != NULL)
			t->cells = c;
		if (rc != NULL)
			t->rcolor = rc;
		if (c == NULL || rc == NULL) {
			perror("fwctl");
			exit(EXIT_REFUSED);
		}
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] =
		    output_strdup(cells[i] ? cells[i] : "");
	t->rcolor[t->nrows] = 0;
	t->nrows++;
}

/* Display width: count UTF-8 lead bytes so names with accents align. */
static size_t
output_width(const char *s)
{
	size_t	 w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
table_row_color(struct table *t, enum color c)
{
	if (t->nrows > 0)
		t->rcolor[t->nrows - 1] = c;
}

void
table_print(struct table *t, FILE *f)
{
	size_t	*w, r, c;

	if ((w = calloc(t->ncols, sizeof(*w))) == NULL) {
		perror("fwctl");
		exit(EXIT_REFUSED);
	}
	for (c = 0; c < t->ncols; c++)
		w[c] = output_width(t->head[c]);
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t	 cw = output_width(t->cells[r * t->ncols + c]);

			if (cw > w[c])
				w[c] = cw;
		}
	for (r = 0; r <= t->nrows; r++) {
		size_t	 ncols = t->ncols;

		/* no trailing blanks after empty last cells */
		while (r > 0 && ncols > 1 &&
		    t->cells[(r - 1) * t->ncols + ncols - 1][0] == '\0')
			ncols--;
		for (c = 0; c < ncols; c++) {
			const char *s = r == 0 ? t->head[c] :
			    t->cells[(r - 1) * t->ncols + c];
			size_t	 pad = w[c] - output_width(s);
			bool	 last = c + 1 == ncols;
			bool	 right = t->rightalign & (1u << c);

			bool	 col = r > 0 && c == t->ccol &&
			    t->rcolor[r - 1];

			if (r == 0)
				fputs(output_color(C_BOLD), f);
			else if (col)
				fputs(output_color(t->rcolor[r - 1]), f);
			if (right)
				fprintf(f, "%*s", (int)pad, "");
			fputs(s, f);
			if (r == 0 || col)
				fputs(output_reset(), f);
			/* no trailing blanks after the last column */
			if (!last)
				fprintf(f, "%*s", (int)(right ? 2 : pad + 2),
				    "");
		}
		fputc('\n', f);
	}
	free(w);
}

void
table_free(struct table *t)
{
	size_t	 i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->rcolor);
	memset(t, 0, sizeof(*t));
}

char *
output_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	double	 v = (double)n;
	size_t	 u = 0;

	if (n < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", n);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

char *
output_count(uint64_t n, char *buf, size_t len)
{
	static const char suffix[] = "KMGTPE";
	double	 v = (double)n;
	size_t	 u = 0;

	if (n < 100000) {
		snprintf(buf, len, "%" PRIu64, n);
		return buf;
	}
	v /= 1000;
	while (v >= 1000 && u + 1 < sizeof(suffix) - 1) {
		v /= 1000;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.1f%c" : "%.0f%c", v, suffix[u]);
	return buf;
}

void
output_json(json_t *j, FILE *f)
{
	char	*s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_ENCODE_ANY);

	if (s == NULL) {
		fputs("fwctl: cannot encode JSON\n", stderr);
		exit(EXIT_REFUSED);
	}
	fprintf(f, "%s\n", s);
	free(s);
}

/* A time left in its two largest units, rounded down: "1d2h", "59m58s". */
static char *
output_left(long long ms)
{
	static const struct { char u; long long s; } units[] = {
		{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 } };
	long long s = ms / 1000, n;
	char buf[64];
	size_t i, o = 0, used = 0;

	if (s <= 0)
		return output_strdup("expiring");
	for (i = 0; i < 4 && used < 2; i++) {
		if ((n = s / units[i].s) == 0 && used == 0)
			continue;
		s %= units[i].s;
		used++;
		if (n > 0)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%lld%c",
			    n, units[i].u);
	}
	return output_fmt("%s left", buf);
}

static char *output_scalar(json_t *);

char *
output_set_elem(json_t *v, long long now_ms)
{
	json_t	*k = json_object_get(v, "key");
	json_t	*t = json_object_get(v, "timeout");
	json_t	*x = json_object_get(v, "expires");
	char	*key, *left, *s;

	if (!json_is_object(v) || k == NULL)
		return output_scalar(v);
	key = output_scalar(k);
	if (json_is_integer(x)) {
		left = output_left(json_integer_value(x) - now_ms);
		s = output_fmt("%s (%s)", key, left);
		free(left);
	} else if (json_is_string(t))
		s = output_fmt("%s (timeout %s)", key, json_string_value(t));
	else
		return key;
	free(key);
	return s;
}

/* One scalar as text; strings bare, integers in decimal. */
static char *
output_scalar(json_t *v)
{
	if (json_is_string(v))
		return output_strdup(json_string_value(v));
	if (json_is_integer(v))
		return output_fmt("%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	if (json_is_true(v))
		return output_strdup("yes");
	if (json_is_false(v))
		return output_strdup("no");
	if (json_is_object(v)) {
		json_t	*k = json_object_get(v, "key");
		struct timespec ts;

		/* a set element with a timeout: the time it has left */
		if (k != NULL) {
			clock_gettime(CLOCK_REALTIME, &ts);
			return output_set_elem(v, (long long)ts.tv_sec * 1000 +
			    ts.tv_nsec / 1000000);
		}
		/* a port written as a service name */
		k = json_object_get(v, "service");
		if (json_is_string(k))
			return output_strdup(json_string_value(k));
	}
	return output_strdup("?");
}

char *
output_list(json_t *v)
{
	char	*s = NULL, *item, *n;
	size_t	 i;
	json_t	*e;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_array(v))
		return output_scalar(v);
	if (json_array_size(v) == 1)
		return output_scalar(json_array_get(v, 0));
	json_array_foreach(v, i, e) {
		item = output_scalar(e);
		n = output_fmt("%s%s%s", s ? s : "{ ", s ? ", " : "", item);
		free(item);
		free(s);
		s = n;
	}
	if (s == NULL)
		return output_strdup("{ }");
	n = output_fmt("%s }", s);
	free(s);
	return n;
}

/* Appends "word value" for a field that is present. */
static void
output_cat(char **acc, const char *word, json_t *v)
{
	char	*val, *n;

	if (v == NULL || json_is_null(v))
		return;
	val = output_list(v);
	if (word && *word)
		n = output_fmt("%s%s%s %s", *acc ? *acc : "", *acc ? " " : "",
		    word, val);
	else
		n = output_fmt("%s%s%s", *acc ? *acc : "", *acc ? " " : "",
		    val);
	free(val);
	free(*acc);
	*acc = n;
}

static void
output_cat_str(char **acc, const char *s)
{
	char	*n = output_fmt("%s%s%s", *acc ? *acc : "", *acc ? " " : "", s);

	free(*acc);
	*acc = n;
}

/* A string as the rule language writes it: quoted, \" and \\ escaped. */
static char *
output_quote(const char *v)
{
	char	*q = malloc(2 * strlen(v) + 3), *p = q;

	if (q == NULL) {
		perror("fwctl");
		exit(EXIT_REFUSED);
	}
	*p++ = '"';
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			*p++ = '\\';
		*p++ = *v;
	}
	*p++ = '"';
	*p = '\0';
	return q;
}

static void
output_cat_limit(char **acc, json_t *l)
{
	json_t	*rate, *per, *burst;
	char	*s;

	if (!json_is_object(l))
		return;
	rate = json_object_get(l, "rate");
	per = json_object_get(l, "per");
	burst = json_object_get(l, "burst");
	s = output_fmt("limit %" JSON_INTEGER_FORMAT "/%s",
	    json_integer_value(rate),
	    json_is_string(per) ? json_string_value(per) : "?");
	if (json_is_integer(burst)) {
		char	*b = output_fmt("%s burst %" JSON_INTEGER_FORMAT, s,
		    json_integer_value(burst));

		free(s);
		s = b;
	}
	if (json_is_true(json_object_get(l, "per_source"))) {
		char	*b = output_fmt("%s per source", s);

		free(s);
		s = b;
	}
	output_cat_str(acc, s);
	free(s);
}

char *
output_rule_match(json_t *r)
{
	char	*acc = NULL;
	json_t	*v;

	output_cat(&acc, NULL, json_object_get(r, "family"));
	output_cat(&acc, NULL, json_object_get(r, "proto"));
	output_cat(&acc, "sport", json_object_get(r, "sport"));
	output_cat(&acc, "dport", json_object_get(r, "dport"));
	output_cat(&acc, "type", json_object_get(r, "icmp_types"));
	output_cat(&acc, "src", json_object_get(r, "src"));
	output_cat(&acc, "dst", json_object_get(r, "dst"));
	output_cat(&acc, "state", json_object_get(r, "state"));
	output_cat_limit(&acc, json_object_get(r, "limit"));
	if (json_is_true(json_object_get(r, "log"))) {
		v = json_object_get(r, "log_prefix");
		if (json_is_string(v)) {
			char	*q = output_quote(json_string_value(v));
			char	*s = output_fmt("log prefix %s", q);

			free(q);

			output_cat_str(&acc, s);
			free(s);
		} else
			output_cat_str(&acc, "log");
	}
	if ((v = json_object_get(r, "comment")) != NULL &&
	    json_is_string(v)) {
		char	*q = output_quote(json_string_value(v));
		char	*s = output_fmt("comment %s", q);

		free(q);

		output_cat_str(&acc, s);
		free(s);
	}
	return acc ? acc : output_strdup("");
}

char *
output_nat_detail(json_t *n)
{
	char	*acc = NULL;
	json_t	*t, *tp;

	output_cat(&acc, NULL, json_object_get(n, "proto"));
	output_cat(&acc, "dport", json_object_get(n, "dport"));
	output_cat(&acc, "src", json_object_get(n, "src"));
	output_cat(&acc, "as", json_object_get(n, "as"));
	t = json_object_get(n, "target");
	tp = json_object_get(n, "target_port");
	if (json_is_string(t)) {
		const char *a = json_string_value(t);
		/* an IPv6 target with a port needs brackets */
		bool	 v6 = strchr(a, ':') != NULL;
		char	*s;

		if (json_is_integer(tp))
			s = output_fmt(v6 ? "to [%s]:%" JSON_INTEGER_FORMAT :
			    "to %s:%" JSON_INTEGER_FORMAT, a,
			    json_integer_value(tp));
		else
			s = output_fmt("to %s", a);
		output_cat_str(&acc, s);
		free(s);
	}
	return acc ? acc : output_strdup("");
}

void
output_caret(FILE *f, const char *prefix, const char *text, size_t col)
{
	size_t	 i, w = output_width(prefix);

	fprintf(f, "  %s%s\n  %*s", prefix, text, (int)w, "");
	/* tabs stay tabs so the caret lines up under them */
	for (i = 0; i + 1 < col && text[i]; i++)
		if (((unsigned char)text[i] & 0xc0) != 0x80)
			fputc(text[i] == '\t' ? '\t' : ' ', f);
	fprintf(f, "%s^%s\n", output_color(C_GREEN), output_reset());
}

static const char *
output_jstr(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

void
output_problem(const char *cmd, json_t *p, long status, output_loc_fn loc,
    void *arg, FILE *f)
{
	const char	*detail = output_jstr(p, "detail");
	json_t		*errs = json_object_get(p, "errors"), *e;
	size_t		 i, n = json_array_size(errs);
	bool		 located = false;

	if (detail == NULL)
		detail = output_jstr(p, "title");
	json_array_foreach(errs, i, e)
		if (json_object_get(e, "line") != NULL)
			located = true;
	if ((!located || loc == NULL) && n == 1 &&
	    output_jstr(json_array_get(errs, 0), "message") != NULL) {
		/* the error itself, without the location the detail has
		 * (it names a place in text we did not send) */
		const char *m = output_jstr(json_array_get(errs, 0), "message");
		const char *field = output_jstr(json_array_get(errs, 0),
		    "field");

		if (field != NULL && strcmp(field, "name") == 0)
			field = NULL;
		fprintf(f, "fwctl: %s: %s%s%s%s%s\n", cmd, output_color(C_RED),
		    field ? field : "", field ? ": " : "", m, output_reset());
		return;
	}
	if (!located || loc == NULL) {
		/* one line that says it all; more lines only for more
		 * errors than the detail names */
		fprintf(f, "fwctl: %s: %s%s", cmd, output_color(C_RED),
		    detail ? detail : "request refused");
		if (detail == NULL)
			fprintf(f, " (HTTP %ld)", status);
		fprintf(f, "%s\n", output_reset());
		if (n < 2)
			return;
	}
	/* like a compiler: one line per error, where it is, then what */
	json_array_foreach(errs, i, e) {
		const char *m = output_jstr(e, "message");
		const char *field = output_jstr(e, "field");

		if (loc != NULL && json_object_get(e, "line") != NULL) {
			loc(arg, f, cmd, e);
			continue;
		}
		if (!located || loc == NULL)
			fprintf(f, "  %s%s%s\n", field ? field : "",
			    field ? ": " : "", m ? m : "");
		else
			fprintf(f, "fwctl: %s: %s%s%s\n", cmd, field ? field :
			    "", field ? ": " : "", m ? m : "");
	}
}

size_t
output_plan(json_t *plan, bool applied, FILE *f)
{
	size_t	 i, nadd = 0, nchg = 0, nrem = 0;
	json_t	*it;

	json_array_foreach(plan, i, it) {
		const char *op = output_jstr(it, "op");
		const char *kind = output_jstr(it, "kind");
		const char *name = output_jstr(it, "name");
		const char *elem = output_jstr(it, "element");
		json_t *more = json_object_get(it, "more");
		/* "more": the elements of a set past those listed */
		size_t n = json_is_integer(more) &&
		    json_integer_value(more) > 0 ?
		    (size_t)json_integer_value(more) : 1;
		const char *sign = "?";
		enum color c = C_NONE;

		if (op == NULL)
			op = "";
		if (strcmp(op, "add") == 0) {
			sign = "+";
			c = C_GREEN;
			nadd += n;
		} else if (strcmp(op, "remove") == 0) {
			sign = "-";
			c = C_RED;
			nrem += n;
		} else if (strcmp(op, "change") == 0) {
			sign = "~";
			c = C_YELLOW;
			nchg += n;
		}
		if (json_is_integer(more))
			fprintf(f, "%s%s %s %s: %zu more%s\n", output_color(c),
			    sign, kind ? kind : "?", name ? name : "?", n,
			    output_reset());
		else
			fprintf(f, "%s%s %s %s%s%s%s\n", output_color(c), sign,
			    kind ? kind : "?", name ? name : "?", elem ? " " :
			    "", elem ? elem : "", output_reset());
	}
	if (nadd + nchg + nrem == 0) {
		fputs(applied ? "No changes. The ruleset was already up to "
		    "date.\n" : "No changes. The ruleset is up to date.\n", f);
		return 0;
	}
	if (i > 0)
		fputc('\n', f);
	if (applied)
		fprintf(f, "%sApplied: %zu added, %zu changed, %zu removed.%s\n",
		    output_color(C_BOLD), nadd, nchg, nrem, output_reset());
	else
		fprintf(f, "%sPlan: %zu to add, %zu to change, %zu to remove.%s\n",
		    output_color(C_BOLD), nadd, nchg, nrem, output_reset());
	return nadd + nchg + nrem;
}
