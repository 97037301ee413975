/*
 * The state directory.  A change is acknowledged only once its ruleset is
 * here, so the write is atomic and durable: a temporary file is written and
 * fsync'd, linked into history/, renamed over state.json, and both
 * directories are fsync'd.  One data fsync per change.
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
#include "state.h"

#define STATE_FILE	"state.json"
#define STATE_TMP	".state.json.tmp"
#define STATE_HISTDIR	"history"
#define STATE_MAXSIZE	(256u << 20)

static void
state_err(struct diags *d, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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

int
state_save(const char *dir, uint64_t gen, const struct ruleset *rs,
    struct diags *d)
{
	char		 tmp[PATH_MAX], dst[PATH_MAX], hist[PATH_MAX];
	char		 hpath[PATH_MAX];
	json_t		*doc = NULL, *jrs;
	char		*text = NULL;
	uint64_t	*gens = NULL;
	size_t		 ngens, i;
	int		 fd = -1;

	snprintf(tmp, sizeof(tmp), "%s/%s", dir, STATE_TMP);
	snprintf(dst, sizeof(dst), "%s/%s", dir, STATE_FILE);
	snprintf(hist, sizeof(hist), "%s/%s", dir, STATE_HISTDIR);
	if (state_mkdir(dir) == -1 || state_mkdir(hist) == -1) {
		state_err(d, dir, "cannot create state directory: %s",
		    strerror(errno));
		return -1;
	}
	if ((jrs = codec_encode_ruleset(rs)) == NULL ||
	    (doc = json_pack("{s:I, s:o}", "generation", (json_int_t)gen,
	    "ruleset", jrs)) == NULL ||
	    (text = json_dumps(doc, JSON_INDENT(1))) == NULL) {
		if (doc == NULL)
			json_decref(jrs);
		state_err(d, dst, "%s", "cannot encode the ruleset");
		goto fail;
	}
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0640)) == -1 ||
	    state_write_all(fd, text, strlen(text)) == -1 ||
	    state_write_all(fd, "\n", 1) == -1 || fsync(fd) == -1) {
		state_err(d, tmp, "cannot write state: %s", strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	/* the history entry shares the data just synced */
	if (snprintf(hpath, sizeof(hpath), "%s/%" PRIu64 ".json", hist, gen)
	    >= (int)sizeof(hpath))
		hpath[0] = '\0';
	else {
		(void)unlink(hpath);
		if (link(tmp, hpath) == -1)
			hpath[0] = '\0';
	}
	if (rename(tmp, dst) == -1) {
		state_err(d, dst, "cannot replace state: %s", strerror(errno));
		if (hpath[0] != '\0')
			(void)unlink(hpath);
		goto fail;
	}
	if (state_fsync_dir(dir) == -1) {
		/* renamed but maybe not durable: still report it */
		state_err(d, dir, "cannot sync state directory: %s",
		    strerror(errno));
		goto fail;
	}
	ngens = state_history(dir, &gens);
	for (i = STATE_HISTORY; i < ngens; i++) {
		if (snprintf(hpath, sizeof(hpath), "%s/%" PRIu64 ".json", hist,
		    gens[i]) < (int)sizeof(hpath))
			(void)unlink(hpath);
	}
	(void)state_fsync_dir(hist);
	free(gens);
	free(text);
	json_decref(doc);
	return 0;
fail:
	if (fd != -1) {
		close(fd);
		(void)unlink(tmp);
	}
	free(text);
	json_decref(doc);
	return -1;
}

struct ruleset *
state_decode(const char *text, size_t len, const char *file, uint64_t *gen,
    struct diags *d)
{
	json_t		*doc, *jgen, *jrs;
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
	json_object_foreach(doc, key, v) {
		if (strcmp(key, "generation") != 0 &&
		    strcmp(key, "ruleset") != 0) {
			state_err(d, file, "unknown field \"%s\"", key);
			goto done;
		}
	}
	jgen = json_object_get(doc, "generation");
	jrs = json_object_get(doc, "ruleset");
	if (!json_is_integer(jgen) || json_integer_value(jgen) < 0) {
		state_err(d, file, "%s", "generation: expected an integer >= 0");
		goto done;
	}
	if (jrs == NULL) {
		state_err(d, file, "%s", "ruleset: missing");
		goto done;
	}
	if ((rs = codec_decode_ruleset(jrs, &sub)) == NULL ||
	    validate_ruleset(rs, &sub) > 0) {
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

static struct ruleset *
state_read(const char *path, uint64_t *gen, struct diags *d, bool *exists)
{
	struct stat	 st;
	struct ruleset	*rs = NULL;
	char		*buf = NULL;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	*exists = false;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT) {
			*exists = true;
			state_err(d, path, "cannot open: %s", strerror(errno));
		}
		return NULL;
	}
	*exists = true;
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
	rs = state_decode(buf, off, path, gen, d);
done:
	free(buf);
	close(fd);
	return rs;
}

int
state_load(const char *dir, uint64_t *gen, struct ruleset **rsp,
    struct diags *d)
{
	char		 path[PATH_MAX];
	struct ruleset	*rs;
	uint64_t	*gens = NULL, g = 0, maxgen = 0;
	size_t		 ngens, i;
	bool		 exists;

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
		if ((rs = state_read(path, &g, d, &exists)) != NULL)
			goto found;
	}
	free(gens);
	*gen = maxgen;
	return 0;
found:
	free(gens);
	*gen = g > maxgen ? g : maxgen;
	*rsp = rs;
	return 1;
}
