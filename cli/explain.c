/* explain.c: `fwctl explain PACKET...`, what the ruleset does with one
 * packet (GET /v1/explain). The words travel as text; the daemon parses
 * them and points at the one at fault. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fwctl.h"

static const char *
explain_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void
explain_print(json_t *j)
{
	json_t	*n, *p;
	size_t	 i;

	printf("pair     %s -> %s (chain %s, hook %s)\n", explain_str(j, "from"),
	    explain_str(j, "to"), explain_str(j, "chain"),
	    explain_str(j, "hook"));
	if ((n = json_object_get(j, "dnat")) != NULL)
		printf("dnat     %s to %s%s\n", explain_str(n, "nat"),
		    explain_str(n, "to"), json_is_true(json_object_get(n,
		    "hairpin")) ? " (hairpin)" : "");
	printf("verdict  %s%s%s, by %s%s\n", output_color(
	    strcmp(explain_str(j, "verdict"), "accept") == 0 ? C_GREEN : C_RED),
	    explain_str(j, "verdict"), output_reset(),
	    explain_str(j, "decided"), json_is_true(json_object_get(j,
	    "policy_log")) ? " (logged)" : "");
	if ((n = json_object_get(j, "snat")) != NULL)
		printf("snat     %s %s%s\n", explain_str(n, "kind"),
		    explain_str(n, "nat"), json_is_true(json_object_get(n,
		    "hairpin")) ? " (hairpin)" : "");
	printf("path    ");
	json_array_foreach(json_object_get(j, "path"), i, p)
		printf("%s %s", i ? " >" : "", json_string_value(p));
	putchar('\n');
}

int
cmd_explain(int argc, char **argv)
{
	struct request	 rq = { .method = "GET" };
	struct reply	 r;
	struct text	 t;
	char		*e = NULL, *path = NULL, shown[64];
	int		 n, ret;

	if ((n = cmdopt_parse(argc, argv, NULL, 0)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n < 2)
		return usage_error(argv[0], "missing the packet, e.g. from wan "
		    "tcp 203.0.113.5:40000 -> 10.50.0.1:22");
	if (text_join(&t, argv + 1, (size_t)n - 1) == -1 ||
	    (e = http_escape(t.s)) == NULL ||
	    asprintf(&path, "/v1/explain?packet=%s", e) == -1) {
		perror("fwctl");
		free(e);
		return EXIT_REFUSED;
	}
	free(e);
	rq.path = path;
	if ((ret = http_do(&rq, &r)) == 0) {
		snprintf(shown, sizeof(shown), "fwctl %s ", argv[0]);
		if ((ret = reply_check(argv[0], &r, &t, shown)) == 0) {
			if (opt.json)
				output_json(r.json, stdout);
			else
				explain_print(r.json);
		}
		reply_free(&r);
	}
	free(path);
	text_free(&t);
	return ret;
}
