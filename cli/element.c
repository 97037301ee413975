/* element.c: set elements at run time (block, unblock, add-element,
 * delete-element); JSON bodies, as an element list has no statement of
 * its own in the rule language. */
#include <stdlib.h>
#include <string.h>

#include "fwctl.h"

static int
element_send(const char *cmd, const char *method, const char *set,
    char **elems, size_t n, const char *timeout, const char *verb, bool kill)
{
	struct request	 rq = { .method = method, .ctype = "application/json" };
	struct reply	 r;
	json_t		*body, *a;
	json_t		*cnt;
	char		*e = NULL, *path = NULL, *s = NULL;
	size_t		 i;
	int		 ret = EXIT_REFUSED;

	if ((body = json_object()) == NULL || (a = json_array()) == NULL)
		goto oom;
	json_object_set_new(body, "elements", a);
	for (i = 0; i < n; i++) {
		if (timeout == NULL)
			json_array_append_new(a, json_string(elems[i]));
		else
			json_array_append_new(a, json_pack("{s:s, s:s}",
			    "key", elems[i], "timeout", timeout));
	}
	if ((s = json_dumps(body, JSON_COMPACT)) == NULL ||
	    (e = http_escape(set)) == NULL ||
	    asprintf(&path, "/v1/sets/%s/elements%s", e, kill ?
	    "?kill_connections=1" : "") == -1) {
		path = NULL;
		goto oom;
	}
	rq.path = path;
	rq.body = s;
	rq.len = strlen(s);
	if ((ret = http_do(&rq, &r)) != 0)
		goto done;
	if ((ret = reply_check(cmd, &r, NULL, NULL)) == 0) {
		if (opt.json && r.json)
			output_json(r.json, stdout);
		else {
			cnt = json_object_get(r.json, strcmp(method, "POST") ?
			    "removed" : "added");
			printf("%s: ", set);
			if (json_is_integer(cnt))
				printf("%" JSON_INTEGER_FORMAT " element%s %s",
				    json_integer_value(cnt),
				    json_integer_value(cnt) == 1 ? "" : "s",
				    verb);
			else
				printf("%zu element%s %s", n, n == 1 ? "" : "s",
				    verb);
			if (timeout)
				printf(", timeout %s", timeout);
			if (r.etag)
				printf(" (generation %s)", r.etag);
			cnt = json_object_get(r.json, "connections_ended");
			if (json_is_integer(cnt))
				printf("; %" JSON_INTEGER_FORMAT " open "
				    "connection%s ended", json_integer_value(cnt),
				    json_integer_value(cnt) == 1 ? "" : "s");
			putchar('\n');
			cnt = json_object_get(r.json, "connections_error");
			if (json_is_string(cnt))
				fprintf(stderr, "fwctl: %s: open connections "
				    "may remain: %s\n", cmd,
				    json_string_value(cnt));
		}
	}
	reply_free(&r);
	goto done;
oom:
	perror("fwctl");
done:
	json_decref(body);
	free(s);
	free(e);
	free(path);
	return ret;
}

int
cmd_block(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--set", true, NULL },
	    { "--timeout", true, NULL },
	    { "--kill-connections", false, NULL } };
	int		 n;

	if ((n = cmdopt_parse(argc, argv, o, 3)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n < 2)
		return usage_error(argv[0], "missing address");
	return element_send(argv[0], "POST", o[0].value ? o[0].value :
	    "blocklist", argv + 1, n - 1, o[1].value, "added",
	    o[2].value != NULL);
}

int
cmd_unblock(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--set", true, NULL } };
	int		 n;

	if ((n = cmdopt_parse(argc, argv, o, 1)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n < 2)
		return usage_error(argv[0], "missing address");
	return element_send(argv[0], "DELETE", o[0].value ? o[0].value :
	    "blocklist", argv + 1, n - 1, NULL, "removed", false);
}

int
cmd_add_element(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--timeout", true, NULL } };
	int		 n;

	if ((n = cmdopt_parse(argc, argv, o, 1)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n < 2)
		return usage_error(argv[0], "missing set name");
	if (n < 3)
		return usage_error(argv[0], "missing element");
	return element_send(argv[0], "POST", argv[1], argv + 2, n - 2,
	    o[0].value, "added", false);
}

int
cmd_delete_element(int argc, char **argv)
{
	int	 n;

	if ((n = cmdopt_parse(argc, argv, NULL, 0)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n < 2)
		return usage_error(argv[0], "missing set name");
	if (n < 3)
		return usage_error(argv[0], "missing element");
	return element_send(argv[0], "DELETE", argv[1], argv + 2, n - 2, NULL,
	    "removed", false);
}
