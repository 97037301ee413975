/*
 * Ownership and modes, checked before anything is opened. The checks
 * name the path and what is wrong, never what the file holds.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trust.h"

static bool
trust_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* A directory others cannot change: owned by us, or (above the one we
 * use, self false) sticky, where others cannot move what is ours. */
static int
trust_one(const char *path, const char *what, const char *dir, bool self,
    struct diags *d)
{
	struct stat	 st;
	bool		 sticky;

	if (stat(path, &st) == -1) {
		diags_add(d, NULL, "%s %s: %s: %s", what, dir, path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		diags_add(d, NULL, "%s %s: %s is not a directory", what, dir,
		    path);
		return -1;
	}
	sticky = !self && (st.st_mode & S_ISVTX);
	if (!trust_owner(st.st_uid) && !sticky) {
		diags_add(d, NULL, "%s %s: %s is owned by uid %u; expected "
		    "root", what, dir, path, (unsigned)st.st_uid);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky) {
		diags_add(d, NULL, "%s %s: %s is writable by %s; expected "
		    "writable by its owner only (chmod go-w)", what, dir, path,
		    st.st_mode & S_IWOTH ? "others" : "its group");
		return -1;
	}
	return 0;
}

int
trust_dir(const char *dir, const char *what, struct diags *d)
{
	char	 path[PATH_MAX], *slash;

	if (realpath(dir, path) == NULL) {
		diags_add(d, NULL, "%s %s: %s", what, dir, strerror(errno));
		return -1;
	}
	if (trust_one(path, what, dir, true, d) == -1)
		return -1;
	while ((slash = strrchr(path, '/')) != NULL && slash != path) {
		*slash = '\0';
		if (trust_one(path, what, dir, false, d) == -1)
			return -1;
	}
	return trust_one("/", what, dir, false, d);
}

int
trust_file(const char *dir, const char *name, struct diags *d)
{
	char		 path[PATH_MAX];
	struct stat	 lst, st;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path) || lstat(path, &lst) == -1 ||
	    stat(path, &st) == -1) {
		diags_add(d, NULL, "%s/%s: %s", dir, name, strerror(errno ?
		    errno : ENAMETOOLONG));
		return -1;
	}
	if (S_ISLNK(lst.st_mode) && !trust_owner(lst.st_uid)) {
		diags_add(d, NULL, "%s: not read: a link owned by uid %u; "
		    "expected root", path, (unsigned)lst.st_uid);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		diags_add(d, NULL, "%s: not read: not a regular file", path);
		return -1;
	}
	if (!trust_owner(st.st_uid)) {
		diags_add(d, NULL, "%s: not read: owned by uid %u; expected "
		    "root", path, (unsigned)st.st_uid);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		diags_add(d, NULL, "%s: not read: writable by %s; expected "
		    "writable by its owner only (chmod go-w)", path,
		    st.st_mode & S_IWOTH ? "others" : "its group");
		return -1;
	}
	return 0;
}
