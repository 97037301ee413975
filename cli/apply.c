/* apply.c: the whole ruleset at once (apply, flush).  Files are sent as
 * one text body, in name order, as fwctld reads its rules directory; the
 * lines of the body map back to FILE:LINE for errors. */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fwctl.h"

static int
apply_read(struct srcmap *m, const char *path, FILE *f)
{
	char	*data = NULL;
	size_t	 len = 0, cap = 0, n;
	int	 ret = -1;

	for (;;) {
		if (len + 4096 > cap) {
			char	*p;

			cap = cap ? cap * 2 : 8192;
			if ((p = realloc(data, cap)) == NULL)
				goto done;
			data = p;
		}
		if ((n = fread(data + len, 1, cap - len, f)) == 0)
			break;
		len += n;
	}
	if (ferror(f))
		goto done;
	ret = srcmap_add(m, path, data ? data : "", len);
done:
	free(data);
	return ret;
}

static int
apply_file(struct srcmap *m, const char *path)
{
	FILE	*f;
	int	 ret;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	ret = apply_read(m, path, f);
	fclose(f);
	return ret;
}

static int
apply_filter(const struct dirent *d)
{
	size_t	 n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 6 &&
	    strcmp(d->d_name + n - 6, ".rules") == 0;
}

/* Byte order, not the locale's: the daemon reads the directory so. */
static int
apply_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
apply_dir(struct srcmap *m, const char *dir, const char *cmd)
{
	struct dirent	**ents;
	char		*path;
	int		 n, i, ret = 0;

	if ((n = scandir(dir, &ents, apply_filter, apply_cmp)) == -1)
		return -1;
	if (n == 0) {
		free(ents);
		usage_error(cmd, "no *.rules files in %s", dir);
		errno = 0;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ret == 0) {
			if (asprintf(&path, "%s%s%s", dir,
			    dir[strlen(dir) - 1] == '/' ? "" : "/",
			    ents[i]->d_name) == -1)
				ret = -1;
			else {
				if ((ret = apply_file(m, path)) == -1)
					fprintf(stderr, "fwctl: %s: cannot read "
					    "%s: %s\n", cmd, path,
					    strerror(errno));
				free(path);
				errno = 0;
			}
		}
		free(ents[i]);
	}
	free(ents);
	return ret;
}

/* Only blank lines and comments?  Not parsing: a glance, so that an empty
 * or truncated file does not silently open the firewall. */
static bool
apply_empty(const char *s, size_t len)
{
	size_t	 i;
	bool	 comment = false;

	for (i = 0; i < len; i++) {
		if (s[i] == '\n')
			comment = false;
		else if (s[i] == '#')
			comment = true;
		else if (!comment && s[i] != ' ' && s[i] != '\t' &&
		    s[i] != '\r')
			return false;
	}
	return true;
}

/* Seconds for --confirm: 1 to 3600, digits only. */
static bool
apply_secs(const char *s)
{
	char		*end;
	unsigned long	 n;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	n = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && n >= 1 && n <= 3600;
}

/* The lint's warnings of a dry run, at the file and line they are about
 * (the body is the files one after the other). */
static void
apply_warnings(json_t *w, const struct srcmap *m, FILE *f)
{
	const struct srcmap_file *sf;
	json_t		*e;
	const char	*msg;
	size_t		 i;
	int		 line, col, fl;

	json_array_foreach(w, i, e) {
		msg = json_string_value(json_object_get(e, "message"));
		line = (int)json_integer_value(json_object_get(e, "line"));
		col = (int)json_integer_value(json_object_get(e, "column"));
		if (line > 0 && (sf = srcmap_find(m, line, &fl)) != NULL)
			fprintf(f, "%s:%d:%d: ", sf->path, fl, col);
		fprintf(f, "%swarning: %s%s\n", output_color(C_YELLOW),
		    msg ? msg : "?", output_reset());
	}
}

int
cmd_apply(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--dry-run", false, NULL },
	    { "--confirm", true, NULL },
	    { "--allow-unfiltered", false, NULL } };
	struct request	 rq = { .method = "PUT", .ctype = "text/plain" };
	struct srcmap	 m;
	struct reply	 r;
	struct stat	 st;
	json_t		*plan, *pend;
	char		 path[96];
	const char	*secs;
	bool		 dry;
	int		 n, ret, rd;

	if ((n = cmdopt_parse(argc, argv, o, 3)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n < 2)
		return usage_error(argv[0], "missing FILE or DIR");
	if (n > 2)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[2]);
	dry = o[0].value != NULL;
	if ((secs = o[1].value) != NULL && (dry || !apply_secs(secs)))
		return usage_error(argv[0], dry ? "--confirm and --dry-run "
		    "exclude each other" : "--confirm takes seconds, 1 to "
		    "3600");
	memset(&m, 0, sizeof(m));
	errno = 0;
	if (strcmp(argv[1], "-") == 0)
		rd = apply_read(&m, "<stdin>", stdin);
	else if (stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode))
		rd = apply_dir(&m, argv[1], argv[0]);
	else
		rd = apply_file(&m, argv[1]);
	if (rd == -1) {
		if (errno != 0)
			fprintf(stderr, "fwctl: %s: cannot read %s: %s\n",
			    argv[0], argv[1], strerror(errno));
		srcmap_free(&m);
		return EXIT_USAGE;
	}
	if (!dry && apply_empty(m.body ? m.body : "", m.len)) {
		srcmap_free(&m);
		return usage_error(argv[0], "%s holds no statements: applying "
		    "it would remove every rule (for that, fwctl flush --yes)",
		    argv[1]);
	}
	snprintf(path, sizeof(path), "/v1/ruleset?dry_run=%d%s%s%s", dry,
	    secs ? "&confirm=" : "", secs ? secs : "",
	    o[2].value ? "&allow_unfiltered=1" : "");
	rq.path = path;
	rq.body = m.body ? m.body : "";
	rq.len = m.len;
	if ((ret = http_do(&rq, &r)) != 0)
		goto done;
	if ((ret = reply_check_files(argv[0], &r, &m)) == 0) {
		plan = json_object_get(r.json, "plan");
		if (opt.json && r.json)
			output_json(r.json, stdout);
		else if (json_is_array(plan))
			output_plan(plan, !dry && json_is_true(
			    json_object_get(r.json, "applied")), stdout);
		else
			printf("applied%s%s%s\n", r.etag ? " (generation " :
			    "", r.etag ? r.etag : "", r.etag ? ")" : "");
		if (!opt.json && json_is_array(json_object_get(r.json,
		    "warnings")))
			apply_warnings(json_object_get(r.json, "warnings"), &m,
			    stderr);
		pend = json_object_get(r.json, "confirm");
		if (!opt.json && json_is_object(pend))
			printf("%sGeneration %" JSON_INTEGER_FORMAT " is "
			    "reverted in %" JSON_INTEGER_FORMAT " s unless "
			    "confirmed: fwctl confirm (or fwctl revert now).%s\n",
			    output_color(C_YELLOW), json_integer_value(
			    json_object_get(pend, "generation")),
			    json_integer_value(json_object_get(pend,
			    "seconds")), output_reset());
		else if (!opt.json && secs != NULL)
			printf("Nothing changed: nothing to confirm.\n");
	}
	reply_free(&r);
done:
	srcmap_free(&m);
	return ret;
}

/* POST /v1/confirm or /v1/revert: one word, no arguments. */
static int
apply_pending(int argc, char **argv, const char *path)
{
	struct request	 rq = { .method = "POST", .path = path };
	struct reply	 r;
	json_t		*rev;
	int		 n, ret;

	if ((n = cmdopt_parse(argc, argv, NULL, 0)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 1)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[1]);
	if ((ret = http_do(&rq, &r)) != 0)
		return ret;
	if ((ret = reply_check(argv[0], &r, NULL, NULL)) == 0) {
		rev = json_object_get(r.json, "reverted");
		if (opt.json && r.json)
			output_json(r.json, stdout);
		else if (json_is_integer(rev))
			printf("generation %" JSON_INTEGER_FORMAT " reverted: "
			    "the ruleset before it is back (generation %s)\n",
			    json_integer_value(rev), r.etag ? r.etag : "?");
		else
			printf("generation %s confirmed\n", r.etag ? r.etag :
			    "?");
	}
	reply_free(&r);
	return ret;
}

int
cmd_confirm(int argc, char **argv)
{
	return apply_pending(argc, argv, "/v1/confirm");
}

/* revert: what awaits confirmation goes now; revert --to G brings back
 * generation G as a new change. */
int
cmd_revert(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--to", true, NULL },
	    { "--dry-run", false, NULL },
	    { "--allow-unfiltered", false, NULL } };
	int		 n;

	if ((n = cmdopt_parse(argc, argv, o, 3)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 1)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[1]);
	if (o[0].value != NULL)
		return live_revert_to(argv[0], o[0].value, o[1].value != NULL,
		    o[2].value != NULL);
	if (o[1].value != NULL || o[2].value != NULL)
		return usage_error(argv[0], "--dry-run and --allow-unfiltered "
		    "go with --to");
	return apply_pending(n, argv, "/v1/revert");
}

int
cmd_flush(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--yes", false, NULL } };
	struct request	 rq = { .method = "DELETE", .path = "/v1/ruleset" };
	struct reply	 r;
	int		 n, ret;

	if ((n = cmdopt_parse(argc, argv, o, 1)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 1)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[1]);
	/* the host is unprotected afterwards: never by accident */
	if (o[0].value == NULL)
		return usage_error(argv[0], "this removes every rule and the "
		    "table, leaving the host unprotected; add --yes");
	if ((ret = http_do(&rq, &r)) != 0)
		return ret;
	if ((ret = reply_check(argv[0], &r, NULL, NULL)) == 0) {
		if (opt.json && r.json)
			output_json(r.json, stdout);
		else if (!opt.json)
			printf("ruleset flushed, table removed%s%s%s\n",
			    r.etag ? " (generation " : "", r.etag ? r.etag :
			    "", r.etag ? ")" : "");
		else
			printf("{\"generation\": %s}\n", r.etag ? r.etag :
			    "null");
	}
	reply_free(&r);
	return ret;
}
