/*
 * The rules directory.  Files are read through parse_dir (name order);
 * a save writes one canonical file with the printer, whose output parses
 * back to the same ruleset (check_print proves it).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"
#include "print.h"
#include "rulesdir.h"
#include "trust.h"

#define RULESDIR_TMP	".fwctl.rules.tmp"

static bool
rulesdir_is_rules(const char *name)
{
	size_t	 n = strlen(name);

	return name[0] != '.' && n > 6 && strcmp(name + n - 6, ".rules") == 0;
}

static ssize_t	rulesdir_names(const char *, char ***);
static void	rulesdir_names_free(char **, ssize_t);

/* Every *.rules file root will read: none of another user's making. */
static int
rulesdir_trust(const char *dir, struct diags *d)
{
	char	**v;
	ssize_t	 n, i;
	int	 rv = 0;

	if (trust_dir(dir, "rules directory", d) == -1)
		return -1;
	if ((n = rulesdir_names(dir, &v)) < 0)
		return 0;	/* parse_dir says why */
	for (i = 0; i < n; i++)
		if (trust_file(dir, v[i], d) == -1)
			rv = -1;
	rulesdir_names_free(v, n);
	return rv;
}

int
rulesdir_load(const char *dir, struct ruleset **rsp, struct diags *d)
{
	struct ruleset	*rs;

	*rsp = NULL;
	if (rulesdir_trust(dir, d) == -1)
		return -1;
	if ((rs = ruleset_new()) == NULL) {
		diags_add(d, NULL, "%s", "out of memory");
		return -1;
	}
	if (parse_dir(rs, dir, d) > 0 || d->n > 0 ||
	    validate_ruleset(rs, d) > 0) {
		ruleset_free(rs);
		return -1;
	}
	*rsp = rs;
	return 0;
}

static int
rulesdir_namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.rules names of dir, sorted; -1 when it cannot be read. */
static ssize_t
rulesdir_names(const char *dir, char ***out)
{
	DIR		*dp;
	struct dirent	*de;
	char		**v = NULL, **nv;
	size_t		 n = 0;

	*out = NULL;
	if ((dp = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL) {
		if (!rulesdir_is_rules(de->d_name))
			continue;
		if ((nv = reallocarray(v, n + 1, sizeof(*v))) == NULL)
			break;
		v = nv;
		if ((v[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(dp);
	if (n > 0)
		qsort(v, n, sizeof(*v), rulesdir_namecmp);
	*out = v;
	return (ssize_t)n;
}

static void
rulesdir_names_free(char **v, ssize_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

int
rulesdir_fingerprint(const char *dir, char *buf, size_t len)
{
	struct stat	 st;
	char		 path[PATH_MAX], **v;
	ssize_t		 n, i;
	uint64_t	 h = 1469598103934665603ULL;
	const char	*p;

	if ((n = rulesdir_names(dir, &v)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, v[i]);
		if (stat(path, &st) == -1)
			memset(&st, 0, sizeof(st));
		/* FNV-1a over name, size and time: a cache key, not a
		 * security boundary */
		for (p = v[i]; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		h = (h ^ (uint64_t)st.st_size) * 1099511628211ULL;
		h = (h ^ (uint64_t)st.st_mtim.tv_sec) * 1099511628211ULL;
		h = (h ^ (uint64_t)st.st_mtim.tv_nsec) * 1099511628211ULL;
		h = (h ^ (uint64_t)st.st_ino) * 1099511628211ULL;
	}
	rulesdir_names_free(v, n);
	snprintf(buf, len, "%zd:%016" PRIx64, n, h);
	return 0;
}

static int
rulesdir_write(const char *tmp, const struct ruleset *rs, uint64_t gen,
    struct diags *d)
{
	FILE	*f;
	int	 fd, bad;

	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		diags_add(d, NULL, "%s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	fprintf(f, "# The live ruleset of fwctld, generation %" PRIu64
	    ", written by `fwctl save`.\n# The files it replaced are in %s/."
	    "\n\n", gen, RULESDIR_BACKUPS);
	bad = print_ruleset(f, rs) == -1;
	bad |= fflush(f) == EOF || fsync(fileno(f)) == -1;
	bad |= fclose(f) == EOF;
	if (bad) {
		diags_add(d, NULL, "%s: %s", tmp, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/* Only the newest RULESDIR_KEEP_BACKUPS backups stay. */
static void
rulesdir_prune_backups(const char *bdir)
{
	char	 **v = NULL, **nv;
	DIR	*dp;
	struct dirent *de;
	size_t	 n = 0, i;
	int	 fd, pfd;

	if ((dp = opendir(bdir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.' ||
		    (nv = reallocarray(v, n + 1, sizeof(*v))) == NULL)
			continue;
		v = nv;
		if ((v[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(dp);
	qsort(v, n, sizeof(*v), rulesdir_namecmp);	/* oldest first */
	if ((pfd = open(bdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto out;
	for (i = 0; i + RULESDIR_KEEP_BACKUPS < n; i++) {
		if ((fd = openat(pfd, v[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC |
		    O_NOFOLLOW)) != -1 && (dp = fdopendir(fd)) != NULL) {
			while ((de = readdir(dp)) != NULL)
				if (de->d_name[0] != '.')
					(void)unlinkat(fd, de->d_name, 0);
			closedir(dp);
		} else if (fd != -1)
			close(fd);
		(void)unlinkat(pfd, v[i], AT_REMOVEDIR);
	}
	close(pfd);
out:
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
rulesdir_save(const char *dir, const struct ruleset *rs, uint64_t gen,
    char **backup, struct diags *d)
{
	char		 tmp[PATH_MAX], dst[PATH_MAX], bdir[PATH_MAX];
	char		 stamp[32], **v;
	struct stat	 st;
	struct tm	 tm;
	time_t		 now = time(NULL);
	ssize_t		 n, i;
	size_t		 moved = 0;
	int		 dfd = -1, bfd = -1;

	*backup = NULL;
	snprintf(tmp, sizeof(tmp), "%s/%s", dir, RULESDIR_TMP);
	snprintf(dst, sizeof(dst), "%s/%s", dir, RULESDIR_SAVED);
	if ((n = rulesdir_names(dir, &v)) < 0) {
		diags_add(d, NULL, "%s: %s", dir, strerror(errno));
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(bdir, sizeof(bdir), "%s/%s", dir, RULESDIR_BACKUPS);
	if ((mkdir(bdir, 0700) == -1 && errno != EEXIST) ||
	    lstat(bdir, &st) == -1) {
		diags_add(d, NULL, "%s: %s", bdir, strerror(errno));
		rulesdir_names_free(v, n);
		return -1;
	}
	/* a link or someone else's directory would take root's files */
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		diags_add(d, NULL, "%s: not a directory of fwctld's own; "
		    "remove it", bdir);
		rulesdir_names_free(v, n);
		return -1;
	}
	if (snprintf(bdir, sizeof(bdir), "%s/%s/%s-g%" PRIu64, dir,
	    RULESDIR_BACKUPS, stamp, gen) >= (int)sizeof(bdir) ||
	    (mkdir(bdir, 0700) == -1 && errno != EEXIST)) {
		diags_add(d, NULL, "%s: %s", bdir, strerror(errno));
		rulesdir_names_free(v, n);
		return -1;
	}
	if (rulesdir_write(tmp, rs, gen, d) == -1) {
		rulesdir_names_free(v, n);
		(void)rmdir(bdir);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (bfd = open(bdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1) {
		diags_add(d, NULL, "%s: %s", bdir, strerror(errno));
		goto fail;
	}
	/* the file it replaces, if there is one, goes to the backup too */
	for (i = 0; i < n; i++)
		if (strcmp(v[i], RULESDIR_SAVED) == 0 &&
		    linkat(dfd, v[i], bfd, v[i], 0) == 0)
			moved++;
	if (rename(tmp, dst) == -1 || fsync(dfd) == -1) {
		diags_add(d, NULL, "%s: %s", dst, strerror(errno));
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(v[i], RULESDIR_SAVED) == 0)
			continue;
		if (renameat(dfd, v[i], bfd, v[i]) == 0)
			moved++;
		else
			diags_add(d, NULL, "%s/%s: cannot move it to %s: %s; "
			    "remove it by hand", dir, v[i], bdir,
			    strerror(errno));
	}
	(void)fsync(bfd);
	(void)fsync(dfd);
	close(bfd);
	close(dfd);
	rulesdir_names_free(v, n);
	if (moved == 0)
		(void)rmdir(bdir);
	else if ((*backup = strdup(bdir)) == NULL)
		diags_add(d, NULL, "%s", "out of memory");
	snprintf(bdir, sizeof(bdir), "%s/%s", dir, RULESDIR_BACKUPS);
	rulesdir_prune_backups(bdir);
	return d->n > 0 ? -1 : 0;
fail:
	if (bfd != -1)
		close(bfd);
	if (dfd != -1)
		close(dfd);
	(void)unlink(tmp);
	(void)rmdir(bdir);
	rulesdir_names_free(v, n);
	return -1;
}
