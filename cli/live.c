/* live.c: the live ruleset against the rules directory (diff, save,
 * reload) and against its past (history, show --generation, revert --to). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fwctl.h"

/* Generation numbers on the command line: digits, 1 or more. */
static bool
live_gen(const char *s)
{
	char		*end;
	unsigned long long n;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	n = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && n >= 1;
}

static const char *
live_str(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* "+rule a -rule b", and "+N more" when the entry names only some. */
static char *
live_objects(json_t *e)
{
	json_t		*ob;
	char		*s = NULL, *n;
	size_t		 k;
	json_int_t	 more = json_integer_value(json_object_get(e, "more"));

	json_array_foreach(json_object_get(e, "objects"), k, ob) {
		if (asprintf(&n, "%s%s%s", s ? s : "", s ? " " : "",
		    json_is_string(ob) ? json_string_value(ob) : "?") == -1)
			break;
		free(s);
		s = n;
	}
	if (more > 0 && asprintf(&n, "%s +%" JSON_INTEGER_FORMAT " more",
	    s ? s : "", more) != -1) {
		free(s);
		s = n;
	}
	return s;
}

/* Prints a plan reply (or its JSON); the plan's count, or -1. */
static int
live_plan(const struct reply *r, bool applied)
{
	json_t	*plan = json_object_get(r->json, "plan");

	if (opt.json) {
		output_json(r->json, stdout);
		return 0;
	}
	if (!json_is_array(plan))
		return -1;
	return output_plan(plan, applied, stdout);
}

int
cmd_diff(int argc, char **argv)
{
	struct reply	 r;
	json_t		*plan;
	int		 n, ret;

	if ((n = cmdopt_parse(argc, argv, NULL, 0)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 1)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[1]);
	if ((ret = http_get_json(argv[0], "/v1/diff", &r)) != 0)
		return ret;
	plan = json_object_get(r.json, "plan");
	if (opt.json)
		output_json(r.json, stdout);
	else if (json_array_size(plan) == 0)
		printf("The live ruleset is what the rules directory says.\n");
	else {
		printf("Live changes not in the rules directory (+ only live, "
		    "- only in the files,\n~ different): `fwctl save` keeps "
		    "them, `fwctl reload` undoes them.\n\n");
		output_plan(plan, false, stdout);
	}
	reply_free(&r);
	return EXIT_OK;
}

int
cmd_save(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--with-elements", false, NULL } };
	struct request	 rq = { .method = "POST" };
	struct reply	 r;
	json_t		*backup;
	int		 n, ret;

	if ((n = cmdopt_parse(argc, argv, o, 1)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 1)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[1]);
	rq.path = o[0].value ? "/v1/save?with_elements=1" : "/v1/save";
	if ((ret = http_do(&rq, &r)) != 0)
		return ret;
	if ((ret = reply_check(argv[0], &r, NULL, NULL)) == 0) {
		backup = json_object_get(r.json, "backup");
		if (opt.json)
			output_json(r.json, stdout);
		else if (!json_is_true(json_object_get(r.json, "saved")))
			printf("Nothing to save: the rules directory already "
			    "says generation %s.\n", r.etag ? r.etag : "?");
		else
			printf("Saved generation %s into the rules directory"
			    "%s%s%s.\n", r.etag ? r.etag : "?",
			    json_is_string(backup) ? "; the files it replaced "
			    "are in " : "", json_is_string(backup) ?
			    json_string_value(backup) : "", "");
	}
	reply_free(&r);
	return ret;
}

int
cmd_reload(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--dry-run", false, NULL },
	    { "--confirm", true, NULL },
	    { "--allow-unfiltered", false, NULL } };
	struct request	 rq = { .method = "POST" };
	struct reply	 r;
	json_t		*pend;
	char		 path[96];
	bool		 dry;
	int		 n, ret;

	if ((n = cmdopt_parse(argc, argv, o, 3)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 1)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[1]);
	dry = o[0].value != NULL;
	if (o[1].value != NULL && (dry || !live_gen(o[1].value) ||
	    atoi(o[1].value) > 3600))
		return usage_error(argv[0], dry ? "--confirm and --dry-run "
		    "exclude each other" : "--confirm takes seconds, 1 to "
		    "3600");
	snprintf(path, sizeof(path), "/v1/reload?dry_run=%d%s%s%s", dry,
	    o[1].value ? "&confirm=" : "", o[1].value ? o[1].value : "",
	    o[2].value ? "&allow_unfiltered=1" : "");
	rq.path = path;
	if ((ret = http_do(&rq, &r)) != 0)
		return ret;
	if ((ret = reply_check(argv[0], &r, NULL, NULL)) == 0) {
		live_plan(&r, !dry);
		pend = json_object_get(r.json, "confirm");
		if (!opt.json && json_is_object(pend))
			printf("%sGeneration %" JSON_INTEGER_FORMAT " is "
			    "reverted in %" JSON_INTEGER_FORMAT " s unless "
			    "confirmed: fwctl confirm (or fwctl revert now).%s\n",
			    output_color(C_YELLOW), json_integer_value(
			    json_object_get(pend, "generation")),
			    json_integer_value(json_object_get(pend,
			    "seconds")), output_reset());
	}
	reply_free(&r);
	return ret;
}

int
cmd_history(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--count", true, NULL },
	    { "--before", true, NULL } };
	struct reply	 r;
	struct table	 t;
	static const char *const head[] = { "GEN", "TIME", "WHO", "CHANGE",
	    "OBJECTS" };
	json_t		*e;
	char		 path[96], *list;
	const char	*cells[5];
	size_t		 i;
	int		 n, ret;

	/* -n N, as head(1) and git log say it */
	for (n = 1; n < argc; n++)
		if (strcmp(argv[n], "-n") == 0)
			argv[n] = "--count";
	if ((n = cmdopt_parse(argc, argv, o, 2)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 1)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[1]);
	if ((o[0].value && (!live_gen(o[0].value) ||
	    atoi(o[0].value) > 1000)) || (o[1].value &&
	    !live_gen(o[1].value)))
		return usage_error(argv[0], "-n (--count) takes 1 to 1000 and "
		    "--before a generation");
	snprintf(path, sizeof(path), "/v1/history?limit=%s%s%s",
	    o[0].value ? o[0].value : "20", o[1].value ? "&before=" : "",
	    o[1].value ? o[1].value : "");
	if ((ret = http_get_json(argv[0], path, &r)) != 0)
		return ret;
	if (opt.json) {
		output_json(r.json, stdout);
		reply_free(&r);
		return EXIT_OK;
	}
	table_init(&t, head, 5);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		char gen[24];

		snprintf(gen, sizeof(gen), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(json_object_get(e, "generation")));
		list = live_objects(e);
		cells[0] = gen;
		cells[1] = live_str(e, "time");
		cells[2] = live_str(e, "who");
		cells[3] = live_str(e, "op");
		cells[4] = list ? list : "-";
		table_row(&t, cells);
		free(list);
	}
	if (t.nrows == 0)
		printf("No history.\n");
	else
		table_print(&t, stdout);
	table_free(&t);
	reply_free(&r);
	return EXIT_OK;
}

/* show --generation G: the ruleset as it was then, in the rule language. */
int
cmd_show(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--generation", true, NULL },
	    { "--with-elements", false, NULL } };
	char		 path[96];
	int		 n;

	if ((n = cmdopt_parse(argc, argv, o, 2)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 1)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[1]);
	if (o[0].value == NULL || !live_gen(o[0].value))
		return usage_error(argv[0], "--generation takes a generation "
		    "(see fwctl history)");
	snprintf(path, sizeof(path), "/v1/ruleset?generation=%s%s",
	    o[0].value, o[1].value ? "&with_elements=1" : "");
	return show_ruleset(argv[0], path);
}

/* revert --to G [--dry-run]: G's ruleset as a new change. */
int
live_revert_to(const char *cmd, const char *gen, bool dry, bool unfiltered)
{
	struct request	 rq = { .method = "POST" };
	struct reply	 r;
	char		 path[96];
	int		 ret;

	if (!live_gen(gen))
		return usage_error(cmd, "--to takes a generation (see fwctl "
		    "history)");
	snprintf(path, sizeof(path), "/v1/revert?to=%s%s%s", gen,
	    dry ? "&dry_run=1" : "", unfiltered ? "&allow_unfiltered=1" : "");
	rq.path = path;
	if ((ret = http_do(&rq, &r)) != 0)
		return ret;
	if ((ret = reply_check(cmd, &r, NULL, NULL)) == 0) {
		live_plan(&r, !dry);
		if (!opt.json && !dry)
			printf("The ruleset of generation %s is back as "
			    "generation %s.\n", gen, r.etag ? r.etag : "?");
	}
	reply_free(&r);
	return ret;
}
