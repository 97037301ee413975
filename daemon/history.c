/*
 * The audit log of accepted changes.  One line per generation, appended
 * before the change's reply; a line cut short by a crash is skipped when
 * read.  Pruning rewrites the file (temporary file, rename) once it holds
 * a quarter more than it must keep, so that appends stay cheap.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "history.h"
#include "state.h"

#define HISTORY_FILE	"history/audit.jsonl"
#define HISTORY_TMP	"history/.audit.jsonl.tmp"
#define HISTORY_MAXREAD	(64u << 20)

static void
history_time(uint64_t ms, char *buf, size_t len)
{
	time_t		 s = (time_t)(ms / 1000);
	struct tm	 tm;

	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

int
history_add(const char *dir, uint64_t gen, uint64_t time_ms,
    const char *who, const char *op, const struct plan *p,
    char *const *notes, size_t nnotes)
{
	char		 path[PATH_MAX], when[64], *line, obj[600];
	const struct plan_item *it;
	json_t		*o, *a;
	size_t		 i, n, len;
	ssize_t		 w;
	int		 fd, rv = -1;

	history_time(time_ms, when, sizeof(when));
	if ((a = json_array()) == NULL)
		return -1;
	for (i = n = 0; p != NULL && i < p->n; i++) {
		if (n == HISTORY_OBJECTS)
			continue;
		it = &p->v[i];
		snprintf(obj, sizeof(obj), "%s%s %s%s%s",
		    it->op == PLAN_ADD ? "+" : it->op == PLAN_REMOVE ? "-" : "~",
		    plan_kind_name(it->kind), it->name, it->elem ? " " : "",
		    it->elem ? it->elem : "");
		json_array_append_new(a, json_string(obj));
		n++;
	}
	for (i = 0; i < nnotes; i++)
		if (n < HISTORY_OBJECTS) {
			json_array_append_new(a, json_string(notes[i]));
			n++;
		}
	o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:I}", "generation",
	    (json_int_t)gen, "time", when, "who", who ? who : "?", "op",
	    op ? op : "change", "objects", a,
	    "more", (json_int_t)((p != NULL ? p->n : 0) + nnotes - n));
	if (o == NULL)
		return -1;
	line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (line == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/history", dir);
	if (mkdir(path, 0750) == -1 && errno != EEXIST)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, HISTORY_FILE);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0640)) == -1)
		goto out;
	len = strlen(line);
	line[len++] = '\n';	/* json_dumps left room: its NUL */
	if ((w = write(fd, line, len)) == (ssize_t)len)
		rv = 0;
	else if (w >= 0)
		errno = ENOSPC;
	close(fd);
out:
	free(line);
	return rv;
}

/* The whole file, or NULL (missing, too big, unreadable). */
static char *
history_slurp(const char *dir, size_t *lenp)
{
	char		 path[PATH_MAX], *buf;
	struct stat	 st;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	snprintf(path, sizeof(path), "%s/%s", dir, HISTORY_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > HISTORY_MAXREAD ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (off < (size_t)st.st_size &&
	    (n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	buf[off] = '\0';
	*lenp = off;
	return buf;
}

/* Every whole line that decodes, oldest first. */
static json_t *
history_entries(const char *dir)
{
	char	*buf, *p, *nl;
	size_t	 len;
	json_t	*all, *e;

	if ((all = json_array()) == NULL)
		return NULL;
	if ((buf = history_slurp(dir, &len)) == NULL)
		return all;
	for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		e = json_loadb(p, (size_t)(nl - p), 0, NULL);
		if (json_is_integer(json_object_get(e, "generation")))
			json_array_append_new(all, e);
		else
			json_decref(e);
	}
	free(buf);
	return all;
}

static uint64_t
history_gen(const json_t *e)
{
	return (uint64_t)json_integer_value(json_object_get(e, "generation"));
}

json_t *
history_list(const char *dir, uint64_t before, size_t limit)
{
	json_t	*all, *out, *e;
	size_t	 i;

	if ((all = history_entries(dir)) == NULL ||
	    (out = json_array()) == NULL) {
		json_decref(all);
		return NULL;
	}
	for (i = json_array_size(all); i > 0 && json_array_size(out) < limit;
	    i--) {
		e = json_array_get(all, i - 1);
		if (before == 0 || history_gen(e) < before)
			json_array_append(out, e);
	}
	json_decref(all);
	return out;
}

/* The first generation whose entry is younger than cutoff (time text
 * compares in order: all are written alike), or UINT64_MAX. */
static uint64_t
history_young_from(json_t *all, const char *cutoff)
{
	json_t		*e;
	const char	*t;
	size_t		 i;

	json_array_foreach(all, i, e) {
		t = json_string_value(json_object_get(e, "time"));
		if (t != NULL && strcmp(t, cutoff) >= 0)
			return history_gen(e);
	}
	return UINT64_MAX;
}

/* Rewrites the file with the entries from generation from on. */
static void
history_rewrite(const char *dir, json_t *all, uint64_t from)
{
	char	 tmp[PATH_MAX], dst[PATH_MAX];
	json_t	*e;
	FILE	*f;
	size_t	 i;
	int	 bad = 0;

	snprintf(tmp, sizeof(tmp), "%s/%s", dir, HISTORY_TMP);
	snprintf(dst, sizeof(dst), "%s/%s", dir, HISTORY_FILE);
	if ((f = fopen(tmp, "wxe")) == NULL && (unlink(tmp) == -1 ||
	    (f = fopen(tmp, "wxe")) == NULL))
		return;
	json_array_foreach(all, i, e)
		if (history_gen(e) >= from)
			bad |= json_dumpf(e, f, JSON_COMPACT) == -1 ||
			    fputc('\n', f) == EOF;
	bad |= fflush(f) == EOF || fdatasync(fileno(f)) == -1;
	bad |= fclose(f) == EOF;
	if (bad || rename(tmp, dst) == -1)
		(void)unlink(tmp);
}

uint64_t
history_prune(const char *dir, uint64_t newest,
    const struct history_limits *lim)
{
	json_t		*all;
	uint64_t	 keep_from = 1, young, oldest;
	size_t		 n;
	time_t		 now = time(NULL);
	char		 cutoff[64];

	if (lim->keep != 0 && newest >= lim->keep)
		keep_from = newest - lim->keep + 1;
	if ((all = history_entries(dir)) == NULL)
		return 0;
	if (lim->days != 0) {
		history_time(((uint64_t)now - (uint64_t)lim->days * 86400) *
		    1000, cutoff, sizeof(cutoff));
		young = history_young_from(all, cutoff);
		if (young > keep_from)
			keep_from = young > newest ? newest : young;
	}
	oldest = state_history_prune(dir, keep_from);
	n = json_array_size(all);
	/* the entries that can no longer be shown go too, in batches */
	if (oldest > 1 && n > 0 && history_gen(json_array_get(all, 0)) <
	    oldest && (lim->keep == 0 || n > lim->keep + lim->keep / 4 ||
	    history_gen(json_array_get(all, n / 4)) < oldest))
		history_rewrite(dir, all, oldest);
	json_decref(all);
	return oldest;
}
