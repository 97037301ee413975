/*
 * The state directory.  A change is acknowledged only once it is here.  A
 * snapshot is written atomically and durably: a temporary file is written
 * and fsync'd, linked into history/, renamed over state.json, and both
 * directories are fsync'd.  One change is a line appended to the journal
 * and fdatasync'd; a new snapshot empties the journal, only once the
 * snapshot is durable, so a crash anywhere between loses nothing
 * acknowledged (records the snapshot holds are skipped by generation).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "codec.h"
#include "log.h"
#include "parse.h"
#include "print.h"
#include "state.h"

#define STATE_FILE	"state.json"
#define STATE_TMP	".state.json.tmp"
#define STATE_OLD	".state.json.old"	/* to put back on a failure */
#define STATE_HISTDIR	"history"
#define STATE_MAXSIZE	(256u << 20)
#define STATE_JOURNAL	"journal"
#define STATE_FLUSHED	"flushed"
#define STATE_PENDING	"pending.json"
#define STATE_PENDING_TMP ".pending.json.tmp"
/* A snapshot is due when the journal outgrows the snapshot (replay then
 * costs about what reading the snapshot does), but not for tiny ones. */
#define STATE_JOURNAL_MINSIZE	((off_t)256 << 10)
#define STATE_JOURNAL_MAXSIZE	((off_t)64 << 20)

static void
state_err(struct diags *d, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int	state_journal_reset(const char *);

static void
state_err(struct diags *d, const char *file, const char *fmt, ...)
{
	struct srcloc	 l = { NULL, 0, 0 };
	va_list		 ap;

	srcloc_set(&l, file, 0, 0);
	va_start(ap, fmt);
	diags_addv(d, &l, fmt, ap);
	va_end(ap);
	srcloc_clear(&l);
}

/* o[key] = v (taken); false when v is NULL or on ENOMEM. */
static bool
state_set(json_t *o, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(o, key, v) == 0;
}

/* from copied to to, durably, replacing it at once: 0, or -1. */
static int
state_copy(const char *from, const char *to)
{
	char	 tmp[PATH_MAX], buf[65536];
	ssize_t	 n, w;
	int	 in, out = -1, rv = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", to) >= (int)sizeof(tmp) ||
	    (in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	(void)unlink(tmp);
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0640)) == -1)
		goto out;
	/* in the kernel where it can; by hand where it cannot */
	while ((n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) > 0)
		;
	if (n == -1 && (errno == EXDEV || errno == ENOSYS ||
	    errno == EINVAL || errno == EOPNOTSUPP)) {
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if ((w = write(out, buf, (size_t)n)) != n) {
				n = -1;
				break;
			}
	}
	if (n == 0 && fdatasync(out) == 0 && rename(tmp, to) == 0)
		rv = 0;
out:
	if (out != -1)
		close(out);
	if (rv == -1)
		(void)unlink(tmp);
	close(in);
	return rv;
}

static int
state_mkdir(const char *path)
{
	if (mkdir(path, 0750) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
state_fsync_dir(const char *path)
{
	int	 fd, rv;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rv = fsync(fd);
	close(fd);
	return rv;
}

/* state_fsync_dir with a reason in diags when it fails. */
static int
state_sync(const char *dir, struct diags *d)
{
	if (state_fsync_dir(dir) == 0)
		return 0;
	state_err(d, dir, "cannot sync: %s", strerror(errno));
	return -1;
}

static int
state_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Generation numbers of history/ entries, newest first. */
static size_t
state_history(const char *dir, uint64_t **out)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	uint64_t	*v = NULL, *nv, g, t;
	size_t		 n = 0, cap = 0, i, j;
	char		*end;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_HISTDIR);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		errno = 0;
		g = strtoull(de->d_name, &end, 10);
		if (errno != 0 || strcmp(end, ".json") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		v[n++] = g;
	}
	closedir(d);
	/* a handful of entries: insertion sort, newest first */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1] < v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	return n;
}

/* One line of text as a JSON string.  The text is UTF-8 already (the
 * parser and the codecs refuse anything else), so only quotes, backslashes
 * and control characters need escaping: no tree of 50,000 strings. */
static void
state_put_line(FILE *f, const char *p, size_t len)
{
	const char	*q, *end = p + len;
	unsigned char	 ch;

	fputc('"', f);
	for (q = p; q < end; q++) {
		ch = (unsigned char)*q;
		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		fwrite(p, 1, (size_t)(q - p), f);
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\t')
			fputs("\\t", f);
		else
			fprintf(f, "\\u%04x", ch);
		p = q + 1;
	}
	fwrite(p, 1, (size_t)(end - p), f);
	fputc('"', f);
}

/* The "expires" object: elements with an expiry, per set; NULL when no
 * element has one (*err on ENOMEM). */
static json_t *
state_expires(const struct ruleset *rs, bool *err)
{
	const struct set *s;
	json_t		*exp = NULL, *a;
	size_t		 i, j;

	*err = false;
	for (i = 0; i < rs->nsets; i++) {
		s = rs->sets[i];
		if (s->expiry_hint == 0)
			continue;
		a = NULL;
		for (j = 0; j < s->nelems; j++) {
			if (s->elems[j].expires_ms == 0)
				continue;
			if (exp == NULL && (exp = json_object()) == NULL)
				goto fail;
			if (a == NULL && !state_set(exp, s->name,
			    a = json_array()))
				goto fail;
			if (json_array_append_new(a, codec_encode_set_elem(
			    s->type, &s->elems[j])) == -1)
				goto fail;
		}
	}
	return exp;
fail:
	*err = true;
	json_decref(exp);
	return NULL;
}

/*
 * A snapshot holds the ruleset as canonical rule-language text, a JSON
 * string per line: printing and parsing it back cost a fraction of the
 * JSON form's encoding (a quarter of the time and of the bytes for 50,000
 * rules), and print/parse round-trip the model. What the text does not
 * say, the wall-clock expiry of elements, follows as JSON elements per
 * set: {"generation": N, "rules": [lines], "expires": {set: [elements]}}.
 * Streamed to f line by line, never a whole tree in memory.  0, or -1.
 */
static int
state_encode(FILE *f, uint64_t gen, const struct ruleset *rs)
{
	json_t		*exp;
	char		*text, *p, *nl;
	bool		 err;
	int		 rv = -1;

	if ((text = print_ruleset_str(rs)) == NULL)
		return -1;
	if ((exp = state_expires(rs, &err)) == NULL && err)
		goto done;
	fprintf(f, "{\n \"generation\": %" PRIu64 ",\n \"rules\": [", gen);
	for (p = text; *p != '\0'; p = *nl ? nl + 1 : nl) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		fputs(p == text ? "\n  " : ",\n  ", f);
		state_put_line(f, p, (size_t)(nl - p));
	}
	fputs(p == text ? "]" : "\n ]", f);
	if (exp != NULL) {
		fputs(",\n \"expires\": ", f);
		if (json_dumpf(exp, f, JSON_INDENT(1)) == -1)
			goto done;
	}
	fputs("\n}\n", f);
	rv = ferror(f) ? -1 : 0;
done:
	free(text);
	json_decref(exp);
	return rv;
}

/* The ruleset of a snapshot's "rules" and "expires"; NULL (reported). */
static struct ruleset *
state_decode_text(json_t *lines, json_t *exp, struct diags *d)
{
	struct ruleset	*rs;
	struct set	*s;
	struct set_elem	 e;
	const char	*name;
	json_t		*a, *v;
	char		*text = NULL, path[FWCTL_NAME_MAX + 32];
	size_t		 len = 0, i, before = d->n;
	ssize_t		 k;
	FILE		*f;

	if (!json_is_array(lines)) {
		diags_add(d, NULL, "%s", "rules: expected an array of lines");
		return NULL;
	}
	if ((rs = ruleset_new()) == NULL ||
	    (f = open_memstream(&text, &len)) == NULL) {
		ruleset_free(rs);
		return NULL;
	}
	json_array_foreach(lines, i, v) {
		if (!json_is_string(v) ||
		    memchr(json_string_value(v), '\n', json_string_length(v))) {
			diags_add(d, NULL, "rules[%zu]: expected one line", i);
			break;
		}
		fwrite(json_string_value(v), 1, json_string_length(v), f);
		fputc('\n', f);
	}
	if (fclose(f) != 0 || d->n > before ||
	    parse_buffer(rs, NULL, text, len, d) > 0)
		goto fail;
	/* lines of the snapshot mean nothing to a user later */
	for (i = 0; i < rs->nzones; i++)
		srcloc_clear(&rs->zones[i]->loc);
	for (i = 0; i < rs->npolicies; i++)
		srcloc_clear(&rs->policies[i]->loc);
	for (i = 0; i < rs->nrules; i++)
		srcloc_clear(&rs->rules[i]->loc);
	for (i = 0; i < rs->nnats; i++)
		srcloc_clear(&rs->nats[i]->loc);
	for (i = 0; i < rs->nsets; i++) {
		srcloc_clear(&rs->sets[i]->loc);
		set_sort(rs->sets[i]);
	}
	if (exp != NULL && !json_is_object(exp)) {
		diags_add(d, NULL, "%s", "expires: expected an object");
		goto fail;
	}
	json_object_foreach(exp, name, a) {
		if ((k = ruleset_find_set(rs, name)) < 0 || !json_is_array(a)) {
			diags_add(d, NULL, "expires.%s: no such set", name);
			goto fail;
		}
		s = rs->sets[k];
		json_array_foreach(a, i, v) {
			snprintf(path, sizeof(path), "expires.%s[%zu]", name, i);
			if (codec_decode_set_elem(s->type, v, path, &e, d) == -1)
				goto fail;
			if ((k = set_find_elem(s, &e)) < 0) {
				diags_add(d, NULL, "%s: not in the set", path);
				goto fail;
			}
			s->elems[k].expires_ms = e.expires_ms;
			if (e.expires_ms != 0 && (s->expiry_hint == 0 ||
			    e.expires_ms < s->expiry_hint))
				s->expiry_hint = e.expires_ms;
		}
	}
	free(text);
	return rs;
fail:
	free(text);
	ruleset_free(rs);
	return NULL;
}

/* Writes the state document of rs as generation gen into tmp (a new
 * file), synced. 0, or -1 with a reason in diags (tmp removed). */
static int
state_write_tmp(const char *tmp, uint64_t gen, const struct ruleset *rs,
    struct diags *d)
{
	FILE	*f = NULL;
	int	 fd, saved;

	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0640)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		state_err(d, tmp, "cannot write state: %s", strerror(errno));
		if (fd != -1) {
			close(fd);
			(void)unlink(tmp);
		}
		return -1;
	}
	(void)setvbuf(f, NULL, _IOFBF, 256 << 10);
	errno = 0;
	if (state_encode(f, gen, rs) == -1 || fflush(f) == EOF ||
	    fsync(fileno(f)) == -1) {
		saved = errno;
		state_err(d, tmp, "cannot write state: %s", saved ?
		    strerror(saved) : "cannot encode the ruleset");
		fclose(f);
		(void)unlink(tmp);
		return -1;
	}
	if (fclose(f) == EOF) {
		state_err(d, tmp, "cannot write state: %s", strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

int
state_save(const char *dir, uint64_t gen, const struct ruleset *rs,
    struct diags *d)
{
	char		 tmp[PATH_MAX], dst[PATH_MAX], hist[PATH_MAX];
	char		 hpath[PATH_MAX], old[PATH_MAX];
	bool		 had_old;
	int		 saved;

	snprintf(tmp, sizeof(tmp), "%s/%s", dir, STATE_TMP);
	snprintf(dst, sizeof(dst), "%s/%s", dir, STATE_FILE);
	snprintf(old, sizeof(old), "%s/%s", dir, STATE_OLD);
	snprintf(hist, sizeof(hist), "%s/%s", dir, STATE_HISTDIR);
	if (state_mkdir(dir) == -1 || state_mkdir(hist) == -1) {
		state_err(d, dir, "cannot create state directory: %s",
		    strerror(errno));
		return -1;
	}
	if (state_write_tmp(tmp, gen, rs, d) == -1)
		return -1;
	/* the history entry is a copy, not a second name: damage to
	 * state.json must not reach it */
	if (snprintf(hpath, sizeof(hpath), "%s/%" PRIu64 ".json", hist, gen)
	    >= (int)sizeof(hpath) || state_copy(tmp, hpath) == -1) {
		log_warn("%s: no history snapshot of generation %" PRIu64,
		    hist, gen);
		hpath[0] = '\0';
	}
	/* the state before, kept by a second name until the new one lasts */
	(void)unlink(old);
	had_old = link(dst, old) == 0;
	if (rename(tmp, dst) == -1) {
		state_err(d, dst, "cannot replace state: %s", strerror(errno));
		if (hpath[0] != '\0')
			(void)unlink(hpath);
		(void)unlink(tmp);
		if (had_old)
			(void)unlink(old);
		return -1;
	}
	if (state_fsync_dir(dir) == -1) {
		/* the caller keeps the ruleset before and tells its client
		 * the change failed: the disk must say the same, not hold a
		 * state that may or may not have lasted */
		saved = errno;
		if (had_old)
			(void)rename(old, dst);
		else
			(void)unlink(dst);
		(void)state_fsync_dir(dir);
		if (hpath[0] != '\0')
			(void)unlink(hpath);
		state_err(d, dir, "cannot sync state directory: %s",
		    strerror(saved));
		return -1;
	}
	if (had_old)
		(void)unlink(old);
	/* the snapshot holds the journal's records now; left there, they
	 * are at or below its generation and skipped at load, so a journal
	 * that cannot be emptied costs length, not the change */
	if (state_journal_reset(dir) == -1)
		log_warnx("%s: cannot empty the journal (%s); its records are "
		    "skipped at load", dir, strerror(errno));
	(void)state_fsync_dir(hist);
	return 0;
}

uint64_t
state_history_prune(const char *dir, uint64_t keep_from)
{
	char		 path[PATH_MAX];
	DIR		*dp;
	struct dirent	*de;
	uint64_t	*gens = NULL, oldest = 0, g;
	size_t		 ngens, i;
	char		*end;

	ngens = state_history(dir, &gens);
	/* the newest snapshot at or before keep_from: what is older goes */
	for (i = 0; i < ngens; i++)
		if (gens[i] <= keep_from) {
			oldest = gens[i];
			break;
		}
	if (oldest == 0) {
		/* every snapshot is newer: nothing to forget, and the oldest
		 * of them is where the history begins */
		oldest = ngens > 0 ? gens[ngens - 1] : 0;
		free(gens);
		return oldest;
	}
	free(gens);
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_HISTDIR);
	if ((dp = opendir(path)) == NULL)
		return oldest;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		errno = 0;
		g = strtoull(de->d_name, &end, 10);
		if (errno != 0 || !((strcmp(end, ".json") == 0 && g < oldest) ||
		    (strcmp(end, ".journal") == 0 && g <= oldest)))
			continue;
		(void)unlinkat(dirfd(dp), de->d_name, 0);
	}
	closedir(dp);
	(void)state_fsync_dir(path);
	return oldest;
}

struct ruleset *
state_decode(const char *text, size_t len, const char *file, uint64_t *gen,
    struct diags *d)
{
	json_t		*doc, *jgen, *jrs, *jtext;
	json_error_t	 jerr;
	struct ruleset	*rs = NULL;
	struct srcloc	 l = { NULL, 0, 0 };
	struct diags	 sub;
	const char	*key;
	json_t		*v;

	diags_init(&sub);
	if ((doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))
	    == NULL) {
		srcloc_set(&l, file, jerr.line, jerr.column);
		diags_add(d, &l, "bad JSON: %s", jerr.text);
		srcloc_clear(&l);
		return NULL;
	}
	if (!json_is_object(doc)) {
		state_err(d, file, "%s", "state is not a JSON object");
		goto done;
	}
	/* "rules" (text) is what state_save writes; "ruleset" (the JSON
	 * form) is what it wrote before, and still loads */
	json_object_foreach(doc, key, v) {
		if (strcmp(key, "generation") != 0 &&
		    strcmp(key, "ruleset") != 0 && strcmp(key, "rules") != 0 &&
		    strcmp(key, "expires") != 0) {
			state_err(d, file, "unknown field \"%s\"", key);
			goto done;
		}
	}
	jgen = json_object_get(doc, "generation");
	jrs = json_object_get(doc, "ruleset");
	jtext = json_object_get(doc, "rules");
	if (!json_is_integer(jgen) || json_integer_value(jgen) < 0) {
		state_err(d, file, "%s", "generation: expected an integer >= 0");
		goto done;
	}
	if ((jrs == NULL) == (jtext == NULL) ||
	    (jrs != NULL && json_object_get(doc, "expires") != NULL)) {
		state_err(d, file, "%s", "expected rules (and expires) or "
		    "ruleset");
		goto done;
	}
	if (jrs != NULL)
		rs = codec_decode_ruleset(jrs, &sub);
	else
		rs = state_decode_text(jtext, json_object_get(doc, "expires"),
		    &sub);
	if (rs == NULL || validate_ruleset(rs, &sub) > 0) {
		ruleset_free(rs);
		rs = NULL;
		if (sub.n == 0)
			state_err(d, file, "%s", "ruleset does not decode");
		else {
			state_err(d, file, "%s", "ruleset does not validate:");
			diags_append(d, &sub);
		}
		goto done;
	}
	*gen = (uint64_t)json_integer_value(jgen);
done:
	diags_free(&sub);
	json_decref(doc);
	return rs;
}

/* The whole file: 1, or 0 when it does not exist, or -1 (reported). */
static int
state_slurp(const char *path, char **bufp, size_t *lenp, struct diags *d)
{
	struct stat	 st;
	char		*buf = NULL;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd, rv = -1;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 0;
		state_err(d, path, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > STATE_MAXSIZE) {
		state_err(d, path, "%s", "not a regular file of sane size");
		goto done;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto done;
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			state_err(d, path, "read failed: %s",
			    n == 0 ? "short file" : strerror(errno));
			goto done;
		}
		off += (size_t)n;
	}
	*bufp = buf;
	*lenp = off;
	buf = NULL;
	rv = 1;
done:
	free(buf);
	close(fd);
	return rv;
}

static struct ruleset *
state_read(const char *path, uint64_t *gen, struct diags *d, bool *exists)
{
	struct ruleset	*rs = NULL;
	char		*buf;
	size_t		 len;
	int		 rv;

	rv = state_slurp(path, &buf, &len, d);
	*exists = rv != 0;
	if (rv == 1)
		rs = state_decode(buf, len, path, gen, d);
	free(buf);
	return rs;
}

int
state_pending_save(const char *dir, uint64_t gen, const struct ruleset *prev,
    struct diags *d)
{
	char	 tmp[PATH_MAX], dst[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s/%s", dir, STATE_PENDING_TMP);
	snprintf(dst, sizeof(dst), "%s/%s", dir, STATE_PENDING);
	if (state_write_tmp(tmp, gen, prev, d) == -1)
		return -1;
	if (rename(tmp, dst) == -1) {
		state_err(d, dst, "cannot write: %s", strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	if (state_sync(dir, d) == -1) {
		/* the caller takes it as not written: it must not stay */
		(void)unlink(dst);
		return -1;
	}
	return 0;
}

int
state_pending_load(const char *dir, uint64_t *gen, struct ruleset **prev,
    struct diags *d)
{
	char	 path[PATH_MAX];
	bool	 exists;

	snprintf(path, sizeof(path), "%s/%s", dir, STATE_PENDING);
	*prev = state_read(path, gen, d, &exists);
	if (*prev != NULL)
		return 1;
	return exists ? -1 : 0;
}

/* Removes DIR/name durably: 0 once it is gone (or was never there). */
static int
state_unlink(const char *dir, const char *name, struct diags *d)
{
	char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) == -1) {
		if (errno == ENOENT)
			return 0;
		state_err(d, path, "cannot remove: %s", strerror(errno));
		return -1;
	}
	if (state_sync(dir, d) == -1)
		return -1;
	return 0;
}

int
state_pending_clear(const char *dir, struct diags *d)
{
	return state_unlink(dir, STATE_PENDING, d);
}

/* ---- the journal ---- */

static const struct {
	enum change_op	 op;
	const char	*name;
} state_ops[] = {
	{ CHANGE_RULE_ADD,	"rule-add" },
	{ CHANGE_RULE_PUT,	"rule-put" },
	{ CHANGE_RULE_DELETE,	"rule-delete" },
	{ CHANGE_ZONE_PUT,	"zone-put" },
	{ CHANGE_ZONE_DELETE,	"zone-delete" },
	{ CHANGE_POLICY_PUT,	"policy-put" },
	{ CHANGE_POLICY_DELETE,	"policy-delete" },
	{ CHANGE_NAT_ADD,	"nat-add" },
	{ CHANGE_NAT_DELETE,	"nat-delete" },
	{ CHANGE_SET_PUT,	"set-put" },
	{ CHANGE_SET_DELETE,	"set-delete" },
	{ CHANGE_ELEMS_ADD,	"elements-add" },
	{ CHANGE_ELEMS_DELETE,	"elements-delete" },
};

static const char *
state_op_name(enum change_op op)
{
	size_t	 i;

	for (i = 0; i < sizeof(state_ops) / sizeof(state_ops[0]); i++)
		if (state_ops[i].op == op)
			return state_ops[i].name;
	return NULL;
}

static int
state_op_parse(const char *s, enum change_op *op)
{
	size_t	 i;

	for (i = 0; i < sizeof(state_ops) / sizeof(state_ops[0]); i++)
		if (strcmp(state_ops[i].name, s) == 0) {
			*op = state_ops[i].op;
			return 0;
		}
	return -1;
}

/* The record of one change: what it did, so that replaying it onto the
 * same ruleset does the same. */
static json_t *
state_record(uint64_t gen, const struct change *c,
    const struct edit_effect *eff, const struct change_result *res)
{
	const struct set *s = eff->obj;
	const char	*op = state_op_name(c->op);
	json_t		*o, *a;
	size_t		 i;
	bool		 ok;

	if (op == NULL || (o = json_pack("{s:I, s:s}", "generation",
	    (json_int_t)gen, "op", op)) == NULL)
		return NULL;
	switch (c->op) {
	case CHANGE_RULE_ADD:
		ok = state_set(o, "position",
		    json_integer((json_int_t)res->position)) &&
		    state_set(o, "rule", codec_encode_rule(eff->added));
		break;
	case CHANGE_RULE_PUT:
		ok = state_set(o, "rule", codec_encode_rule(eff->added));
		break;
	case CHANGE_ZONE_PUT:
		ok = state_set(o, "zone", codec_encode_zone(eff->obj));
		break;
	case CHANGE_POLICY_PUT:
		ok = state_set(o, "policy", codec_encode_policy(eff->obj));
		break;
	case CHANGE_POLICY_DELETE:
		ok = state_set(o, "from", json_string(c->from)) &&
		    state_set(o, "to", json_string(c->to));
		break;
	case CHANGE_NAT_ADD:
		ok = state_set(o, "nat", codec_encode_nat(eff->obj));
		break;
	case CHANGE_SET_PUT:
		ok = state_set(o, "set", codec_encode_set(eff->obj));
		break;
	case CHANGE_ELEMS_ADD:
	case CHANGE_ELEMS_DELETE:
		/* the elements the plan added or removed, with their expiry */
		ok = state_set(o, "name", json_string(c->name)) &&
		    s != NULL && state_set(o, "elements", json_array());
		a = json_object_get(o, "elements");
		for (i = 0; ok && i < res->plan.n; i++)
			if (res->plan.v[i].kind == PLAN_ELEMENT)
				ok = json_array_append_new(a,
				    codec_encode_set_elem(s->type,
				    &res->plan.v[i].key)) == 0;
		break;
	default:
		ok = state_set(o, "name", json_string(c->name));
		break;
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static off_t
state_file_size(const char *path)
{
	struct stat	 st;

	if (stat(path, &st) == -1)
		return 0;
	return st.st_size;
}

bool
state_needs_snapshot(const char *dir)
{
	char		 path[PATH_MAX];
	struct stat	 st;

	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
	if (stat(path, &st) == -1)
		return true;
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_JOURNAL);
	return state_file_size(path) > 0;
}

int
state_append(const char *dir, uint64_t gen, const struct change *c,
    const struct edit_effect *eff, const struct change_result *res,
    bool *compact, struct diags *d)
{
	char		 path[PATH_MAX], snap[PATH_MAX];
	struct stat	 st;
	json_t		*rec;
	char		*text = NULL;
	size_t		 len;
	bool		 created = false;
	int		 fd = -1, rv = -1;

	*compact = false;
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_JOURNAL);
	snprintf(snap, sizeof(snap), "%s/%s", dir, STATE_FILE);
	if ((rec = state_record(gen, c, eff, res)) == NULL ||
	    (text = json_dumps(rec, JSON_COMPACT)) == NULL) {
		state_err(d, path, "%s", "cannot encode the change");
		goto out;
	}
	/* one line, written at once: a crash leaves at most a torn tail */
	len = strlen(text);
	text[len++] = '\n';
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1 &&
	    errno == ENOENT) {
		if (state_mkdir(dir) == -1 || (fd = open(path, O_WRONLY |
		    O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640)) == -1)
			goto fail;
		created = true;
	}
	if (fd == -1 || fstat(fd, &st) == -1)
		goto fail;
	if (state_write_all(fd, text, len) == -1 || fdatasync(fd) == -1) {
		/* leave no partial record for the next one to follow */
		if (ftruncate(fd, st.st_size) == 0)
			(void)fdatasync(fd);
		goto fail;
	}
	if (created && state_fsync_dir(dir) == -1)
		goto fail;
	*compact = st.st_size + (off_t)len >= STATE_JOURNAL_MAXSIZE ||
	    (st.st_size + (off_t)len >= STATE_JOURNAL_MINSIZE &&
	    st.st_size + (off_t)len > state_file_size(snap));
	rv = 0;
	goto out;
fail:
	state_err(d, path, "cannot append to the journal: %s",
	    strerror(errno));
out:
	if (fd != -1)
		close(fd);
	free(text);
	json_decref(rec);
	return rv;
}

/* Empties the journal once the snapshot holding its records is durable. */
/* The generation of the journal's first record, or 0 (empty, unreadable):
 * records begin {"generation": N, so the first bytes say it. */
static uint64_t
state_journal_first(const char *path)
{
	char		 buf[64], *p, *end;
	ssize_t		 n;
	uint64_t	 g;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (strncmp(buf, "{\"generation\":", 14) != 0)
		return 0;
	for (p = buf + 14; *p == ' '; p++)
		;
	errno = 0;
	g = strtoull(p, &end, 10);
	if (errno != 0 || end == p || (*end != ',' && *end != '}'))
		return 0;
	return g;
}

/*
 * A new snapshot holds the journal's records: the journal goes into
 * history/ as <first generation>.journal, so that the generations between
 * two snapshots can still be shown and reverted to, and a new one begins.
 * Where it cannot be moved it is emptied.
 */
static int
state_journal_reset(const char *dir)
{
	char	 path[PATH_MAX], arch[PATH_MAX];
	uint64_t first;
	int	 fd, rv;
	bool	 created = false;

	snprintf(path, sizeof(path), "%s/%s", dir, STATE_JOURNAL);
	if ((first = state_journal_first(path)) != 0 &&
	    snprintf(arch, sizeof(arch), "%s/%s/%" PRIu64 ".journal", dir,
	    STATE_HISTDIR, first) < (int)sizeof(arch) &&
	    rename(path, arch) == 0) {
		snprintf(arch, sizeof(arch), "%s/%s", dir, STATE_HISTDIR);
		(void)state_fsync_dir(arch);
	}
	if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1 &&
	    errno == ENOENT) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0640);
		created = true;
	}
	if (fd == -1)
		return -1;
	rv = fdatasync(fd);
	close(fd);
	if (rv == 0 && created)
		rv = state_fsync_dir(dir);
	return rv;
}

/* An object of a record, decoded; NULL (reported) when absent or bad. */
static void *
state_rec_obj(json_t *rec, const char *key, void *(*dec)(const json_t *,
    const char *, struct diags *), struct diags *d)
{
	json_t	*v;

	if ((v = json_object_get(rec, key)) == NULL) {
		diags_add(d, NULL, "%s: missing", key);
		return NULL;
	}
	return dec(v, key, d);
}

static void *dec_rule(const json_t *j, const char *p, struct diags *d)
{ return codec_decode_rule(j, p, d); }
static void *dec_zone(const json_t *j, const char *p, struct diags *d)
{ return codec_decode_zone(j, p, d); }
static void *dec_policy(const json_t *j, const char *p, struct diags *d)
{ return codec_decode_policy(j, p, d); }
static void *dec_nat(const json_t *j, const char *p, struct diags *d)
{ return codec_decode_nat(j, p, d); }
static void *dec_set(const json_t *j, const char *p, struct diags *d)
{ return codec_decode_set(j, p, d); }

/* A record as the change it was; strings point into rec. */
static int
state_rec_change(json_t *rec, const struct ruleset *rs, struct change *c,
    struct diags *d)
{
	const struct set *s;
	json_t		*v, *a;
	ssize_t		 k;
	size_t		 i;
	size_t		 before = d->n;

	memset(c, 0, sizeof(*c));
	c->who = "journal";
	if (!json_is_string(v = json_object_get(rec, "op")) ||
	    state_op_parse(json_string_value(v), &c->op) == -1) {
		diags_add(d, NULL, "%s", "op: unknown");
		return -1;
	}
	c->name = json_string_value(json_object_get(rec, "name"));
	c->from = json_string_value(json_object_get(rec, "from"));
	c->to = json_string_value(json_object_get(rec, "to"));
	if ((v = json_object_get(rec, "position")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			diags_add(d, NULL, "%s", "position: expected >= 1");
			return -1;
		}
		c->position = (size_t)json_integer_value(v);
	}
	switch (c->op) {
	case CHANGE_RULE_ADD:
	case CHANGE_RULE_PUT:
		c->rule = state_rec_obj(rec, "rule", dec_rule, d);
		break;
	case CHANGE_ZONE_PUT:
		c->zone = state_rec_obj(rec, "zone", dec_zone, d);
		break;
	case CHANGE_POLICY_PUT:
		c->policy = state_rec_obj(rec, "policy", dec_policy, d);
		break;
	case CHANGE_NAT_ADD:
		c->nat = state_rec_obj(rec, "nat", dec_nat, d);
		break;
	case CHANGE_SET_PUT:
		c->set = state_rec_obj(rec, "set", dec_set, d);
		break;
	case CHANGE_ELEMS_ADD:
	case CHANGE_ELEMS_DELETE:
		a = json_object_get(rec, "elements");
		if (c->name == NULL || (k = ruleset_find_set(rs, c->name)) < 0 ||
		    !json_is_array(a)) {
			diags_add(d, NULL, "%s", "elements: no such set");
			return -1;
		}
		s = rs->sets[k];
		if ((c->elems = calloc(json_array_size(a) + 1,
		    sizeof(*c->elems))) == NULL)
			return -1;
		for (i = 0; i < json_array_size(a); i++)
			if (codec_decode_set_elem(s->type, json_array_get(a, i),
			    "elements", &c->elems[c->nelems++], d) == -1)
				break;
		break;
	default:
		break;
	}
	return d->n > before ? -1 : 0;
}

static void
state_change_free(struct change *c)
{
	rule_free(c->rule);
	zone_free(c->zone);
	policy_free(c->policy);
	nat_free(c->nat);
	set_free(c->set);
	free(c->elems);
}

/*
 * Replays one record onto rs (with its rule index ridx) through the
 * engine's own edit, in place: rs is the replay's own (it shares objects
 * with the snapshot, which the edit never changes). 0, or -1 with the
 * reason in d.
 */
static int
state_replay(json_t *rec, struct ruleset *rs, struct nameidx **ridx,
    struct diags *d)
{
	struct change	 c;
	struct change_result res;
	struct edit_effect eff;
	int		 rv = -1;

	memset(&res, 0, sizeof(res));
	memset(&eff, 0, sizeof(eff));
	plan_init(&res.plan);
	diags_init(&res.diags);
	if (state_rec_change(rec, rs, &c, d) == -1 ||
	    !edit_change_complete(&c)) {
		if (d->n == 0)
			diags_add(d, NULL, "%s", "incomplete change");
		goto out;
	}
	if (edit_apply(rs, &c, &res, *ridx, edit_now_ms(), &eff) == -1) {
		diags_append(d, &res.diags);
		goto out;
	}
	if (*ridx != NULL && edit_index_update(*ridx, &eff) == -1) {
		nameidx_free(*ridx);
		*ridx = NULL;
	}
	rv = 0;
out:
	rule_free(eff.removed);
	state_change_free(&c);
	plan_free(&res.plan);
	diags_free(&res.diags);
	return rv;
}

/*
 * The journal's records after generation *gen, onto *rsp. A last record
 * without its newline is a write the crash cut short: it was never
 * acknowledged, so it goes with a log line. Anything else that does not
 * replay ends the replay, reported in d; the records before it stand.
 */
static void
state_journal_load(const char *path, uint64_t limit, uint64_t *gen,
    uint64_t *maxgen, struct ruleset **rsp, struct diags *d)
{
	struct ruleset	*rs = NULL;
	struct nameidx	*ridx = NULL;
	struct diags	 sub;
	json_t		*rec, *jg;
	json_error_t	 jerr;
	char		*buf = NULL, *p, *nl, *end;
	size_t		 len, line = 0, n = 0;
	uint64_t	 g, at = *gen;
	bool		 broken = false;
	int		 rv;

	diags_init(&sub);
	if (state_slurp(path, &buf, &len, d) == -1 || len == 0)
		goto out;
	end = buf + len;
	for (p = buf; p < end; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			log_warnx("%s:%zu: a torn last record (the daemon "
			    "stopped while writing it) is ignored", path, line);
			break;
		}
		rec = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES,
		    &jerr);
		jg = json_object_get(rec, "generation");
		if (!json_is_integer(jg) || json_integer_value(jg) < 0) {
			if (!broken && rec == NULL)
				diags_add(&sub, NULL, "bad JSON: %s", jerr.text);
			else if (!broken)
				diags_add(&sub, NULL, "%s", "generation: "
				    "expected an integer >= 0");
			json_decref(rec);
			goto bad;
		}
		g = (uint64_t)json_integer_value(jg);
		/* numbering goes on past every record, applied or not */
		if (g > *maxgen)
			*maxgen = g;
		/* folded into the snapshot already (a crash came between the
		 * snapshot and emptying the journal) */
		if (broken || g <= at || g > limit) {
			json_decref(rec);
			continue;
		}
		if (g != at + 1) {
			json_decref(rec);
			diags_add(&sub, NULL, "generation %" PRIu64 " does not "
			    "follow %" PRIu64, g, at);
			goto bad;
		}
		if (rs == NULL && ((rs = ruleset_share(*rsp)) == NULL ||
		    (ridx = edit_index_build(rs)) == NULL)) {
			json_decref(rec);
			goto out;
		}
		rv = state_replay(rec, rs, &ridx, &sub);
		json_decref(rec);
		if (rv == -1)
			goto bad;
		at = g;
		n++;
		continue;
bad:
		if (!broken) {
			/* the records before it are as good as a snapshot;
			 * the order of those after it cannot be trusted */
			state_err(d, path, "record %zu does not replay; it and "
			    "the records after it are ignored:", line);
			diags_append(d, &sub);
			broken = true;
		}
	}
	if (n > 0) {
		diags_free(&sub);
		diags_init(&sub);
		if (validate_ruleset(rs, &sub) > 0) {
			state_err(d, path, "%s", "the journal's ruleset does "
			    "not validate; it is ignored:");
			diags_append(d, &sub);
		} else {
			ruleset_free(*rsp);
			*rsp = rs;
			rs = NULL;
			*gen = at;
		}
	}
out:
	ruleset_free(rs);
	nameidx_free(ridx);
	diags_free(&sub);
	free(buf);
}

int
state_load(const char *dir, uint64_t *gen, struct ruleset **rsp,
    struct diags *d)
{
	char		 path[PATH_MAX];
	struct ruleset	*rs;
	uint64_t	*gens = NULL, g = 0, maxgen = 0;
	size_t		 ngens, i;
	bool		 exists, fell_back = false;

	*rsp = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
	ngens = state_history(dir, &gens);
	if (ngens > 0)
		maxgen = gens[0];
	if ((rs = state_read(path, &g, d, &exists)) != NULL)
		goto found;
	for (i = 0; i < ngens; i++) {
		snprintf(path, sizeof(path), "%s/%s/%" PRIu64 ".json", dir,
		    STATE_HISTDIR, gens[i]);
		if ((rs = state_read(path, &g, d, &exists)) != NULL) {
			fell_back = true;
			goto found;
		}
	}
	free(gens);
	*gen = maxgen;
	return 0;
found:
	free(gens);
	if (fell_back) {
		/* the journal that followed that snapshot, if a newer one
		 * archived it, then the current one */
		snprintf(path, sizeof(path), "%s/%s/%" PRIu64 ".journal", dir,
		    STATE_HISTDIR, g + 1);
		if (access(path, F_OK) == 0)
			state_journal_load(path, UINT64_MAX, &g, &maxgen, &rs,
			    d);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_JOURNAL);
	state_journal_load(path, UINT64_MAX, &g, &maxgen, &rs, d);
	*rsp = rs;
	if (!fell_back) {
		*gen = g > maxgen ? g : maxgen;
		return 1;
	}
	/* what was lost may have had numbers: never reuse one */
	*gen = (g > maxgen ? g : maxgen) + 1;
	return 2;
}

int
state_ruleset_at(const char *dir, uint64_t want, struct ruleset **rsp,
    struct diags *d)
{
	char		 path[PATH_MAX];
	struct ruleset	*rs = NULL;
	uint64_t	*gens = NULL, g = 0, maxgen = 0, s = 0;
	size_t		 ngens, i, before = d->n;
	bool		 exists;

	*rsp = NULL;
	ngens = state_history(dir, &gens);
	for (i = 0; i < ngens; i++)
		if (gens[i] <= want) {
			s = gens[i];
			break;
		}
	free(gens);
	if (s == 0) {
		diags_add(d, NULL, "generation %" PRIu64 " is not in the "
		    "history", want);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s/%" PRIu64 ".json", dir,
	    STATE_HISTDIR, s);
	if ((rs = state_read(path, &g, d, &exists)) == NULL)
		return -1;
	/* the records after that snapshot: archived, then current */
	snprintf(path, sizeof(path), "%s/%s/%" PRIu64 ".journal", dir,
	    STATE_HISTDIR, g + 1);
	if (g < want && access(path, F_OK) == 0)
		state_journal_load(path, want, &g, &maxgen, &rs, d);
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_JOURNAL);
	if (g < want && d->n == before)
		state_journal_load(path, want, &g, &maxgen, &rs, d);
	if (g != want) {
		diags_add(d, NULL, "generation %" PRIu64 " cannot be rebuilt "
		    "from the history (its records end at %" PRIu64 ")", want,
		    g);
		ruleset_free(rs);
		return -1;
	}
	*rsp = rs;
	return 1;
}

int
state_set_flushed(const char *dir, bool flushed, struct diags *d)
{
	char	 path[PATH_MAX];
	int	 fd;

	if (!flushed)
		return state_unlink(dir, STATE_FLUSHED, d);
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FLUSHED);
	if (state_mkdir(dir) == -1 || (fd = open(path, O_WRONLY | O_CREAT |
	    O_CLOEXEC | O_NOFOLLOW, 0640)) == -1) {
		state_err(d, path, "cannot create: %s", strerror(errno));
		return -1;
	}
	if (fsync(fd) == -1) {
		state_err(d, path, "cannot sync: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (state_sync(dir, d) == -1)
		return -1;
	return 0;
}

bool
state_flushed(const char *dir)
{
	char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FLUSHED);
	return access(path, F_OK) == 0;
}
