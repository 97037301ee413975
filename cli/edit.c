/* edit.c: the commands that add, replace and delete one object.  The
 * object travels as rule-language text; fwctld parses it and answers with
 * the same errors a rules file gets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fwctl.h"

/* After success: a line for people, the reply for scripts. */
static void
edit_done(const struct reply *r, const char *what, const char *name,
    const char *verb)
{
	json_t	*pos;

	if (opt.json) {
		if (r->json != NULL)
			output_json(r->json, stdout);
		else
			printf("{\"generation\": %s}\n", r->etag ? r->etag :
			    "null");
		return;
	}
	pos = json_object_get(r->json, "position");
	if (strcmp(verb, "deleted") == 0 &&
	    json_is_string(json_object_get(r->json, "name"))) {
		/* the daemon names the rule, also one given by position */
		printf("%s %s", what, json_string_value(json_object_get(r->json,
		    "name")));
		if (json_is_integer(pos))
			printf(" (position %" JSON_INTEGER_FORMAT ")",
			    json_integer_value(pos));
		printf(" %s", verb);
		pos = NULL;
	} else
		printf("%s %s %s", what, name, verb);
	if (json_is_integer(pos))
		printf(" at position %" JSON_INTEGER_FORMAT,
		    json_integer_value(pos));
	if (r->etag)
		printf(" (generation %s)", r->etag);
	putchar('\n');
}

/* Sends words as a text body; a line:col error is shown under them.
 * shown is what precedes the text on the user's command line. */
static int
edit_send_text(const char *cmd, const char *method, const char *path,
    const char *text, const char *if_match, struct reply *r)
{
	struct text	 t = { (char *)(uintptr_t)text, strlen(text) };
	struct request	 rq = { .method = method, .path = path,
	    .ctype = "text/plain", .body = text, .len = strlen(text),
	    .if_match = if_match };
	char		 shown[64];
	int		 ret;

	if ((ret = http_do(&rq, r)) != 0)
		return ret;
	snprintf(shown, sizeof(shown), "fwctl %s ", cmd);
	if ((ret = reply_check(cmd, r, &t, shown)) != 0)
		reply_free(r);
	return ret;
}

static int
edit_words(const char *cmd, const char *method, const char *path,
    char **words, size_t n, struct reply *r)
{
	struct text	 t;
	int		 ret;

	if (text_join(&t, words, n) == -1) {
		perror("fwctl");
		return EXIT_REFUSED;
	}
	ret = edit_send_text(cmd, method, path, t.s, NULL, r);
	text_free(&t);
	return ret;
}

/* "/v1/rules/" + escaped name; caller frees. */
static char *
edit_path(const char *base, const char *name)
{
	char	*e = http_escape(name), *p = NULL;

	if (e == NULL || asprintf(&p, "%s/%s", base, e) == -1)
		p = NULL;
	free(e);
	if (p == NULL)
		perror("fwctl");
	return p;
}

static int
edit_delete(const char *cmd, const char *path, const char *what,
    const char *name)
{
	struct request	 rq = { .method = "DELETE", .path = path };
	struct reply	 r;
	int		 ret;

	if ((ret = http_do(&rq, &r)) != 0)
		return ret;
	if ((ret = reply_check(cmd, &r, NULL, NULL)) == 0)
		edit_done(&r, what, name, "deleted");
	reply_free(&r);
	return ret;
}

/* Parses options; NAME and at least min more words must remain. */
static int
edit_args(int *argc, char **argv, struct cmdopt *o, size_t no, int min)
{
	int	 n = cmdopt_parse(*argc, argv, o, no);

	if (n < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n < 2)
		return usage_error(argv[0], "missing name");
	if (n < 2 + min)
		return usage_error(argv[0], "missing %s after the name",
		    min > 1 ? "arguments" : "definition");
	*argc = n;
	return -1;
}

int
cmd_add_rule(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--before", true, NULL },
	    { "--after", true, NULL }, { "--position", true, NULL } };
	const char	*key = NULL, *val = NULL;
	char		*e = NULL, *path = NULL;
	struct reply	 r;
	size_t		 i;
	int		 ret;

	if ((ret = edit_args(&argc, argv, o, 3, 1)) >= 0)
		return ret;
	for (i = 0; i < 3; i++) {
		if (o[i].value == NULL)
			continue;
		if (key != NULL)
			return usage_error(argv[0], "give one of --before, "
			    "--after and --position");
		key = o[i].name + 2;
		val = o[i].value;
	}
	if (key && strcmp(key, "position") == 0 &&
	    strspn(val, "0123456789") != strlen(val))
		return usage_error(argv[0], "--position takes a number, "
		    "1 for the first rule");
	if (key && ((e = http_escape(val)) == NULL ||
	    asprintf(&path, "/v1/rules?%s=%s", key, e) == -1)) {
		free(e);
		perror("fwctl");
		return EXIT_REFUSED;
	}
	free(e);
	ret = edit_words(argv[0], "POST", path ? path : "/v1/rules", argv + 1,
	    argc - 1, &r);
	free(path);
	if (ret == 0) {
		edit_done(&r, "rule", argv[1], "added");
		reply_free(&r);
	}
	return ret;
}

/* PUT base/NAME with the words after NAME: replaces, or adds (201). */
static int
edit_replace(int argc, char **argv, const char *base, const char *what,
    int min)
{
	struct reply	 r;
	char		*path;
	int		 ret;

	if ((ret = edit_args(&argc, argv, NULL, 0, min)) >= 0)
		return ret;
	if ((path = edit_path(base, argv[1])) == NULL)
		return EXIT_REFUSED;
	ret = edit_words(argv[0], "PUT", path, argv + 1, argc - 1, &r);
	free(path);
	if (ret == 0) {
		edit_done(&r, what, argv[1], r.status == 201 ? "added" :
		    "replaced");
		reply_free(&r);
	}
	return ret;
}

int
cmd_replace_rule(int argc, char **argv)
{
	return edit_replace(argc, argv, "/v1/rules", "rule", 1);
}

static int
edit_delete_named(int argc, char **argv, const char *base, const char *what)
{
	char	*path;
	int	 n, ret;

	if ((n = cmdopt_parse(argc, argv, NULL, 0)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n < 2)
		return usage_error(argv[0], "missing name");
	if (n > 2)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[2]);
	if ((path = edit_path(base, argv[1])) == NULL)
		return EXIT_REFUSED;
	ret = edit_delete(argv[0], path, what, argv[1]);
	free(path);
	return ret;
}

int
cmd_delete_rule(int argc, char **argv)
{
	return edit_delete_named(argc, argv, "/v1/rules", "rule");
}

/* add-zone and add-set must not overwrite: PUT creates or replaces, so
 * look first and make the PUT conditional on what we saw. */
static int
edit_add_new(const char *cmd, const char *base, const char *what,
    const char *name, const char *text)
{
	struct request	 rq = { .method = "GET" };
	struct reply	 r;
	char		*path, *gen = NULL;
	int		 ret;

	if ((path = edit_path(base, name)) == NULL)
		return EXIT_REFUSED;
	rq.path = path;
	if ((ret = http_do(&rq, &r)) != 0)
		goto done;
	if (r.status == 200) {
		fprintf(stderr, "fwctl: %s: %s %s already exists (see "
		    "replace-%s)\n", cmd, what, name, what);
		reply_free(&r);
		ret = EXIT_CONFLICT;
		goto done;
	}
	if (r.status != 404) {
		ret = reply_check(cmd, &r, NULL, NULL);
		reply_free(&r);
		goto done;
	}
	gen = r.etag;
	r.etag = NULL;
	reply_free(&r);
	if ((ret = edit_send_text(cmd, "PUT", path, text, gen, &r)) == 0) {
		edit_done(&r, what, name, "added");
		reply_free(&r);
	}
done:
	free(gen);
	free(path);
	return ret;
}

int
cmd_add_zone(int argc, char **argv)
{
	struct text	 t;
	int		 ret;

	if ((ret = edit_args(&argc, argv, NULL, 0, 0)) >= 0)
		return ret;
	if (text_join(&t, argv + 1, argc - 1) == -1)
		return EXIT_REFUSED;
	ret = edit_add_new(argv[0], "/v1/zones", "zone", argv[1], t.s);
	text_free(&t);
	return ret;
}

int
cmd_replace_zone(int argc, char **argv)
{
	return edit_replace(argc, argv, "/v1/zones", "zone", 0);
}

int
cmd_delete_zone(int argc, char **argv)
{
	return edit_delete_named(argc, argv, "/v1/zones", "zone");
}

/* FROM TO VERDICT, FROM -> TO VERDICT, 'FROM -> TO' VERDICT or
 * 'FROM->TO VERDICT': the arrow is optional because the shell takes an
 * unquoted > as a redirection.  Words are split in place. */
static int
edit_policy_words(int n, char **w, char **from, char **to, char **verdict,
    int want)
{
	char	*v[4], *arrow, *tok, *save;
	int	 i, k = 0;

	for (i = 0; i < n; i++) {
		while ((arrow = strstr(w[i], "->")) != NULL)
			memcpy(arrow, "  ", 2);
		for (tok = strtok_r(w[i], " \t", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t", &save)) {
			if (k < 4)
				v[k] = tok;
			k++;
		}
	}
	if (k != want)
		return -1;
	*from = v[0];
	*to = v[1];
	if (verdict)
		*verdict = v[2];
	return 0;
}

int
cmd_add_policy(int argc, char **argv)
{
	char		*from, *to, *verdict, *text = NULL;
	struct reply	 r;
	int		 n, ret;

	if ((n = cmdopt_parse(argc, argv, NULL, 0)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (edit_policy_words(n - 1, argv + 1, &from, &to, &verdict, 3) == -1)
		return usage_error(argv[0], "expected FROM TO VERDICT");
	if (asprintf(&text, "%s -> %s %s", from, to, verdict) == -1)
		return EXIT_REFUSED;
	if ((ret = edit_send_text(argv[0], "POST", "/v1/policies", text, NULL,
	    &r)) == 0) {
		if (opt.json)
			edit_done(&r, "", "", "");
		else
			printf("policy %s -> %s %s%s%s%s\n", from, to, verdict,
			    r.etag ? " (generation " : "", r.etag ? r.etag :
			    "", r.etag ? ")" : "");
		reply_free(&r);
	}
	free(text);
	return ret;
}

int
cmd_delete_policy(int argc, char **argv)
{
	char	*from, *to, *ef = NULL, *et = NULL, *path = NULL, *name = NULL;
	int	 n, ret = EXIT_REFUSED;

	if ((n = cmdopt_parse(argc, argv, NULL, 0)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (edit_policy_words(n - 1, argv + 1, &from, &to, NULL, 2) == -1)
		return usage_error(argv[0], "expected FROM TO");
	if ((ef = http_escape(from)) == NULL ||
	    (et = http_escape(to)) == NULL ||
	    asprintf(&path, "/v1/policies?from=%s&to=%s", ef, et) == -1 ||
	    asprintf(&name, "%s -> %s", from, to) == -1) {
		perror("fwctl");
		goto done;
	}
	ret = edit_delete(argv[0], path, "policy", name);
done:
	free(ef);
	free(et);
	free(path);
	free(name);
	return ret;
}

int
cmd_add_nat(int argc, char **argv)
{
	struct reply	 r;
	int		 ret;

	if ((ret = edit_args(&argc, argv, NULL, 0, 1)) >= 0)
		return ret;
	ret = edit_words(argv[0], "POST", "/v1/nat", argv + 1, argc - 1, &r);
	if (ret == 0) {
		edit_done(&r, "nat", argv[1], "added");
		reply_free(&r);
	}
	return ret;
}

/*
 * `delete-nat 3`: the third entry of `fwctl list nat`. NAT entries have no
 * position in the API, so the number is read from the list, and the
 * delete is made conditional on the generation of that list: an entry
 * moved by a change in between is not deleted by mistake.
 */
static int
edit_delete_nat_at(const char *cmd, const char *num)
{
	struct request	 rq = { .method = "DELETE" };
	struct reply	 r, d;
	json_t		*a, *n;
	char		*path = NULL, *end;
	unsigned long	 k;
	int		 ret;

	errno = 0;
	k = strtoul(num, &end, 10);
	if (*end != '\0' || errno != 0 || k == 0)
		return usage_error(cmd, "expected a name or a number >= 1, not "
		    "'%s'", num);
	if ((ret = http_get_json(cmd, "/v1/nat", &r)) != 0)
		return ret;
	a = json_object_get(r.json, "nat");
	if (!json_is_array(a) || k > json_array_size(a)) {
		fprintf(stderr, "fwctl: %s: no NAT entry number %lu (there "
		    "are %zu)\n", cmd, k, json_array_size(a));
		reply_free(&r);
		return EXIT_NOTFOUND;
	}
	n = json_object_get(json_array_get(a, k - 1), "name");
	if (!json_is_string(n) ||
	    (path = edit_path("/v1/nat", json_string_value(n))) == NULL) {
		reply_free(&r);
		return EXIT_REFUSED;
	}
	rq.path = path;
	rq.if_match = r.etag;
	if ((ret = http_do(&rq, &d)) == 0) {
		if ((ret = reply_check(cmd, &d, NULL, NULL)) == 0)
			edit_done(&d, "nat", json_string_value(n), "deleted");
		reply_free(&d);
	}
	free(path);
	reply_free(&r);
	return ret;
}

int
cmd_delete_nat(int argc, char **argv)
{
	int	n;

	if ((n = cmdopt_parse(argc, argv, NULL, 0)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n == 2 && argv[1][0] >= '0' && argv[1][0] <= '9')
		return edit_delete_nat_at(argv[0], argv[1]);
	return edit_delete_named(argc, argv, "/v1/nat", "nat");
}

/* `add-set admins ipv4 192.0.2.1 192.0.2.2` is read as
 * `admins ipv4 { 192.0.2.1, 192.0.2.2 }`, what a file would hold; words
 * that are already the language (`timeout 1h`, `{ ... }`) go as typed. */
int
cmd_add_set(int argc, char **argv)
{
	struct text	 t;
	char		*text = NULL, *p;
	size_t		 cap = 0, len, i;
	int		 ret;

	if ((ret = edit_args(&argc, argv, NULL, 0, 1)) >= 0)
		return ret;
	if (argc == 3 || strcmp(argv[3], "timeout") == 0 || argv[3][0] == '{') {
		if (text_join(&t, argv + 1, argc - 1) == -1)
			return EXIT_REFUSED;
		ret = edit_add_new(argv[0], "/v1/sets", "set", argv[1], t.s);
		text_free(&t);
		return ret;
	}
	for (i = 1; i < (size_t)argc; i++)
		cap += strlen(argv[i]) + 3;
	if ((text = malloc(cap + 8)) == NULL)
		return EXIT_REFUSED;
	len = (size_t)sprintf(text, "%s %s {", argv[1], argv[2]);
	for (i = 3; i < (size_t)argc; i++) {
		p = argv[i];
		len += (size_t)sprintf(text + len, " %s", p);
		if (i + 1 < (size_t)argc && p[0] && p[strlen(p) - 1] != ',' &&
		    argv[i + 1][0] != ',')
			text[len++] = ',';
	}
	strcpy(text + len, " }");
	ret = edit_add_new(argv[0], "/v1/sets", "set", argv[1], text);
	free(text);
	return ret;
}

int
cmd_delete_set(int argc, char **argv)
{
	return edit_delete_named(argc, argv, "/v1/sets", "set");
}
