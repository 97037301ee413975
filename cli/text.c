/* text.c: command-line words to rule-language text, and files to one
 * request body with a map back from its lines to the files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fwctl.h"

/* The shell removed the quotes around `log prefix "wan-in: "`; put them
 * back, so that the daemon sees what a rules file would hold. */
static bool
text_needs_quotes(const char *prev, const char *w)
{
	if (prev == NULL || w[0] == '"')
		return false;
	return strcmp(prev, "prefix") == 0 || strcmp(prev, "comment") == 0;
}

int
text_join(struct text *t, char **words, size_t n)
{
	size_t	 i, cap = 1, len = 0;
	char	*s;
	const char *w;

	for (i = 0; i < n; i++)
		cap += 2 * strlen(words[i]) + 3 + 1;
	if ((s = malloc(cap)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		bool	 q = text_needs_quotes(i ? words[i - 1] : NULL,
		    words[i]);

		if (i > 0)
			s[len++] = ' ';
		if (q)
			s[len++] = '"';
		for (w = words[i]; *w; w++) {
			if (q && (*w == '"' || *w == '\\'))
				s[len++] = '\\';
			s[len++] = *w;
		}
		if (q)
			s[len++] = '"';
	}
	s[len] = '\0';
	t->s = s;
	t->len = len;
	return 0;
}

void
text_free(struct text *t)
{
	free(t->s);
	t->s = NULL;
	t->len = 0;
}

static int
srcmap_count_lines(const char *data, size_t len)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < len; i++)
		if (data[i] == '\n')
			n++;
	if (len > 0 && data[len - 1] != '\n')
		n++;
	return n;
}

int
srcmap_add(struct srcmap *m, const char *path, const char *data, size_t len)
{
	struct srcmap_file	*v;
	char			*body;
	bool			 nl = len > 0 && data[len - 1] != '\n';
	int			 first = 1;

	if (m->n > 0)
		first = m->v[m->n - 1].first + m->v[m->n - 1].nlines;
	if ((v = reallocarray(m->v, m->n + 1, sizeof(*v))) == NULL)
		return -1;
	m->v = v;
	/* a last line without its newline gets one: the next file must
	 * start on a line of its own */
	if ((body = realloc(m->body, m->len + len + nl + 1)) == NULL)
		return -1;
	m->body = body;
	memcpy(body + m->len, data, len);
	m->len += len;
	if (nl)
		body[m->len++] = '\n';
	body[m->len] = '\0';
	if ((v[m->n].path = strdup(path)) == NULL)
		return -1;
	v[m->n].first = first;
	v[m->n].nlines = srcmap_count_lines(data, len);
	m->n++;
	return 0;
}

const struct srcmap_file *
srcmap_find(const struct srcmap *m, int line, int *fileline)
{
	size_t	 i;

	for (i = 0; i < m->n; i++)
		if (line >= m->v[i].first &&
		    line < m->v[i].first + m->v[i].nlines) {
			*fileline = line - m->v[i].first + 1;
			return &m->v[i];
		}
	return NULL;
}

char *
srcmap_line(const struct srcmap *m, const struct srcmap_file *f,
    int fileline)
{
	const char	*p = m->body, *end = m->body + m->len, *nl;
	int		 line = f->first + fileline - 1, i;

	if (p == NULL)
		return NULL;
	for (i = 1; i < line; i++) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			return NULL;
		p = nl + 1;
	}
	if ((nl = memchr(p, '\n', end - p)) == NULL)
		nl = end;
	return strndup(p, nl - p);
}

void
srcmap_free(struct srcmap *m)
{
	size_t	 i;

	for (i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	free(m->body);
	memset(m, 0, sizeof(*m));
}
