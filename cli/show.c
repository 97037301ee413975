/* show.c: the commands that only read: status, list, counters, export. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fwctl.h"

/* A list reply is {"rules":[...]}; a bare array is taken as well. */
static json_t *
show_array(json_t *j, const char *key)
{
	json_t	*a = json_is_object(j) ? json_object_get(j, key) : j;

	return json_is_array(a) ? a : NULL;
}

static const char *
show_str(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static uint64_t
show_uint(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ?
	    (uint64_t)json_integer_value(v) : 0;
}

static enum color
show_verdict_color(const char *v)
{
	if (strcmp(v, "accept") == 0)
		return C_GREEN;
	if (strcmp(v, "drop") == 0 || strcmp(v, "reject") == 0)
		return C_RED;
	return C_NONE;
}

static int
show_noargs(int argc, char **argv)
{
	int	 n = cmdopt_parse(argc, argv, NULL, 0);

	if (n < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 1)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[1]);
	return -1;
}

static void
show_count(json_t *counts, const char *key, const char *one,
    const char *many, const char *sep)
{
	uint64_t	 n = show_uint(counts, key);

	printf("%" PRIu64 " %s%s", n, n == 1 ? one : many, sep);
}

/* "3 zones: wan, lan, dmz, and this host" (static buffer). */
static const char *
status_zones(json_t *zones)
{
	static char	 buf[512];
	json_t		*z;
	size_t		 i, off;
	int		 w;

	off = (size_t)snprintf(buf, sizeof(buf), "%zu zone%s: ",
	    json_array_size(zones), json_array_size(zones) == 1 ? "" : "s");
	json_array_foreach(zones, i, z) {
		w = snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? ", " :
		    "", json_is_string(z) ? json_string_value(z) : "?");
		if (w < 0 || (size_t)w >= sizeof(buf) - off)
			return buf;
		off += (size_t)w;
	}
	snprintf(buf + off, sizeof(buf) - off, ", and this host");
	return buf;
}

int
cmd_status(int argc, char **argv)
{
	struct reply	 r;
	json_t		*j, *counts, *drift, *present, *pend, *filt, *live;
	json_t		*dstart;
	const char	*table;
	int		 ret;

	if ((ret = show_noargs(argc, argv)) >= 0)
		return ret;
	if ((ret = http_get_json(argv[0], "/v1/status", &r)) != 0)
		return ret;
	j = r.json;
	if (opt.json) {
		output_json(j, stdout);
		reply_free(&r);
		return EXIT_OK;
	}
	table = show_str(j, "table");
	present = json_object_get(j, "table_present");
	drift = json_object_get(j, "drift");
	counts = json_object_get(j, "counts");
	printf("%sfwctld %s%s, ruleset generation %" PRIu64 "\n",
	    output_color(C_BOLD), show_str(j, "version"), output_reset(),
	    show_uint(j, "generation"));
	printf("table:    inet %s, %s%s%s\n", *table ? table : "fwctl",
	    output_color(json_is_true(present) ? C_GREEN : C_RED),
	    json_is_true(present) ? "present in the kernel" :
	    "NOT in the kernel", output_reset());
	if (json_is_string(drift))
		printf("drift:    %s%s%s\n", output_color(C_YELLOW),
		    json_string_value(drift), output_reset());
	else
		printf("drift:    %s%s%s\n", output_color(json_is_true(drift) ?
		    C_YELLOW : C_NONE), json_is_true(drift) ?
		    "yes: the kernel table differs from the ruleset" : "none",
		    output_reset());
	if (json_is_string(json_object_get(j, "state_error")))
		printf("state:    %sREAD-ONLY: %s; changes are refused until "
		    "the state directory can be written%s\n",
		    output_color(C_RED), show_str(j, "state_error"),
		    output_reset());
	dstart = json_object_get(j, "drift_at_start");
	if (json_is_object(dstart)) {
		json_t	*o;
		size_t	 i;

		printf("%sat start: %zu change%s made by hand while fwctld was "
		    "stopped, %s:%s\n", output_color(C_YELLOW),
		    json_array_size(json_object_get(dstart, "objects")),
		    json_array_size(json_object_get(dstart, "objects")) == 1 ?
		    "" : "s", strcmp(show_str(dstart, "policy"), "kept") == 0 ?
		    "KEPT as found until the next change" : "repaired",
		    output_reset());
		json_array_foreach(json_object_get(dstart, "objects"), i, o)
			printf("          %s\n", json_is_string(o) ?
			    json_string_value(o) : "?");
	}
	filt = json_object_get(j, "filtering");
	if (json_is_object(filt))
		printf("filters:  %s%s%s\n", output_color(json_is_true(
		    json_object_get(filt, "active")) ? C_GREEN : C_RED),
		    json_is_true(json_object_get(filt, "active")) ?
		    status_zones(json_object_get(filt, "zones")) :
		    "NOTHING: no zone is declared and fwctld programs no table",
		    output_reset());
	live = json_object_get(j, "live_changes");
	if (json_is_integer(live))
		printf("live:     %s%" JSON_INTEGER_FORMAT " change%s not in "
		    "the rules directory%s%s\n", output_color(
		    json_integer_value(live) ? C_YELLOW : C_NONE),
		    json_integer_value(live), json_integer_value(live) == 1 ?
		    "" : "s", json_integer_value(live) ? " (fwctl diff; fwctl "
		    "save keeps them, a reload undoes them)" : "",
		    output_reset());
	else if (json_is_null(live))
		printf("live:     the rules directory does not load; fwctl "
		    "diff says why\n");
	pend = json_object_get(j, "pending");
	if (json_is_object(pend))
		printf("confirm:  %sgeneration %" PRIu64 " is reverted in %"
		    PRIu64 " s unless confirmed (fwctl confirm; fwctl revert "
		    "undoes it now)%s\n", output_color(C_YELLOW),
		    show_uint(pend, "generation"), show_uint(pend,
		    "seconds_left"), output_reset());
	printf("ruleset:  ");
	show_count(counts, "zones", "zone", "zones", ", ");
	show_count(counts, "policies", "policy", "policies", ", ");
	show_count(counts, "rules", "rule", "rules", ", ");
	show_count(counts, "nat", "nat entry", "nat entries", ", ");
	show_count(counts, "sets", "set", "sets", " (");
	show_count(counts, "elements", "element", "elements", ")\n");
	reply_free(&r);
	return EXIT_OK;
}

static void
show_counter_cells(json_t *c, char *pk, char *by, size_t len)
{
	if (!json_is_object(c)) {
		snprintf(pk, len, "-");
		snprintf(by, len, "-");
		return;
	}
	output_count(show_uint(c, "packets"), pk, len);
	output_bytes(show_uint(c, "bytes"), by, len);
}

static void
show_rules(json_t *a)
{
	static const char *const head[] = { "#", "NAME", "FROM", "TO",
	    "MATCH", "VERDICT", "PACKETS", "BYTES" };
	struct table	 t;
	json_t		*r;
	size_t		 i;

	table_init(&t, head, 8);
	t.rightalign = 1u << 0 | 1u << 6 | 1u << 7;
	t.ccol = 5;
	json_array_foreach(a, i, r) {
		char	 num[24], pk[32], by[32], *m = output_rule_match(r);
		const char *cells[8];
		json_t	*pos = json_object_get(r, "position");

		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_is_integer(pos) ? json_integer_value(pos) :
		    (json_int_t)i + 1);
		show_counter_cells(json_object_get(r, "counters"), pk, by,
		    sizeof(pk));
		cells[0] = num;
		cells[1] = show_str(r, "name");
		cells[2] = show_str(r, "from");
		cells[3] = show_str(r, "to");
		cells[4] = m;
		cells[5] = show_str(r, "verdict");
		cells[6] = pk;
		cells[7] = by;
		table_row(&t, cells);
		table_row_color(&t, show_verdict_color(cells[5]));
		free(m);
	}
	table_print(&t, stdout);
	table_free(&t);
}

static void
show_zones(json_t *a)
{
	static const char *const head[] = { "#", "NAME", "INTERFACES",
	    "NETWORKS", "KIND" };
	struct table	 t;
	json_t		*z;
	size_t		 i;

	table_init(&t, head, 5);
	t.rightalign = 1u << 0;
	json_array_foreach(a, i, z) {
		char	 num[24], *ifs, *nets;
		const char *cells[5];

		snprintf(num, sizeof(num), "%zu", i + 1);
		ifs = output_list(json_object_get(z, "interfaces"));
		nets = output_list(json_object_get(z, "networks"));
		cells[0] = num;
		cells[1] = show_str(z, "name");
		cells[2] = ifs ? ifs : "-";
		cells[3] = nets ? nets : "-";
		cells[4] = json_is_true(json_object_get(z, "dmz")) ? "dmz" :
		    json_is_true(json_object_get(z, "external")) ? "external" :
		    "internal";
		table_row(&t, cells);
		free(ifs);
		free(nets);
	}
	table_print(&t, stdout);
	table_free(&t);
}

static void
show_policies(json_t *a)
{
	static const char *const head[] = { "#", "FROM", "", "TO", "VERDICT",
	    "LOG" };
	struct table	 t;
	json_t		*p;
	size_t		 i;

	table_init(&t, head, 6);
	t.rightalign = 1u << 0;
	t.ccol = 4;
	json_array_foreach(a, i, p) {
		char	 num[24];
		const char *cells[6];

		snprintf(num, sizeof(num), "%zu", i + 1);
		cells[0] = num;
		cells[1] = show_str(p, "from");
		cells[2] = "->";
		cells[3] = show_str(p, "to");
		cells[4] = show_str(p, "verdict");
		/* the prefix when given, else whether it logs */
		cells[5] = *show_str(p, "log_prefix") ? show_str(p,
		    "log_prefix") : json_is_true(json_object_get(p, "log")) ?
		    "yes" : "";
		table_row(&t, cells);
		table_row_color(&t, show_verdict_color(cells[4]));
	}
	table_print(&t, stdout);
	table_free(&t);
}

/* NAT entries carry no counters in their listing: take them from
 * /v1/counters, when the daemon gives them. */
static json_t *
show_nat_counter(json_t *counters, const char *name)
{
	json_t	*c;
	size_t	 i;

	json_array_foreach(counters, i, c)
		if (strcmp(show_str(c, "kind"), "nat") == 0 &&
		    strcmp(show_str(c, "name"), name) == 0)
			return c;
	return NULL;
}

static void
show_nat(json_t *a)
{
	static const char *const head[] = { "#", "NAME", "KIND", "FROM", "TO",
	    "DETAIL", "PACKETS", "BYTES" };
	struct table	 t;
	struct request	 rq = { .method = "GET", .path = "/v1/counters" };
	struct reply	 cr;
	json_t		*n, *counters = NULL;
	size_t		 i;

	if (http_do(&rq, &cr) == 0 && cr.status == 200)
		counters = show_array(cr.json, "counters");
	table_init(&t, head, 8);
	t.rightalign = 1u << 0 | 1u << 6 | 1u << 7;
	json_array_foreach(a, i, n) {
		char	 num[24], pk[32], by[32], *d = output_nat_detail(n);
		const char *cells[8];
		json_t	*c = json_object_get(n, "counters");

		if (c == NULL)
			c = show_nat_counter(counters, show_str(n, "name"));
		snprintf(num, sizeof(num), "%zu", i + 1);
		show_counter_cells(c, pk, by, sizeof(pk));
		cells[0] = num;
		cells[1] = show_str(n, "name");
		cells[2] = show_str(n, "kind");
		cells[3] = show_str(n, "from");
		cells[4] = *show_str(n, "to") ? show_str(n, "to") : "-";
		cells[5] = d;
		cells[6] = pk;
		cells[7] = by;
		table_row(&t, cells);
		free(d);
	}
	table_print(&t, stdout);
	table_free(&t);
	reply_free(&cr);
}

static void
show_sets(json_t *a)
{
	static const char *const head[] = { "#", "NAME", "TYPE", "TIMEOUT",
	    "COUNT", "ELEMENTS" };
	struct table	 t;
	json_t		*s, *el;
	size_t		 i;

	table_init(&t, head, 6);
	t.rightalign = 1u << 0 | 1u << 4;
	json_array_foreach(a, i, s) {
		char	 num[24], cnt[24], *els;
		const char *cells[6];

		el = json_object_get(s, "elements");
		snprintf(num, sizeof(num), "%zu", i + 1);
		snprintf(cnt, sizeof(cnt), "%zu", json_array_size(el));
		els = json_array_size(el) ? output_list(el) : NULL;
		/* a long set is listed by `fwctl --json list sets` */
		if (els && strlen(els) > 60)
			strcpy(els + 56, " ...");
		cells[0] = num;
		cells[1] = show_str(s, "name");
		cells[2] = show_str(s, "type");
		cells[3] = *show_str(s, "timeout") ? show_str(s, "timeout") :
		    "-";
		cells[4] = cnt;
		cells[5] = els ? els : "";
		table_row(&t, cells);
		free(els);
	}
	table_print(&t, stdout);
	table_free(&t);
}

static const struct section {
	const char	*name;		/* argument, path and JSON key */
	const char	*title;
	void		(*show)(json_t *);
} sections[] = {
	{ "zones", "Zones", show_zones },
	{ "policies", "Policies", show_policies },
	{ "rules", "Rules", show_rules },
	{ "nat", "NAT", show_nat },
	{ "sets", "Sets", show_sets },
};
#define NSECTIONS	(sizeof(sections) / sizeof(sections[0]))

int
cmd_list(int argc, char **argv)
{
	struct reply	 r;
	json_t		*all = NULL, *a;
	char		 path[64];
	size_t		 i, first = 0, last = NSECTIONS;
	int		 n, ret = EXIT_OK;

	if ((n = cmdopt_parse(argc, argv, NULL, 0)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 2)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[2]);
	if (n == 2) {
		/* "rule" and "set" read as well as the plural */
		for (i = 0; i < NSECTIONS; i++)
			if (strcmp(argv[1], sections[i].name) == 0 ||
			    (strncmp(argv[1], sections[i].name,
			    strlen(argv[1])) == 0 && strlen(argv[1]) + 1 ==
			    strlen(sections[i].name)))
				break;
		if (i == NSECTIONS)
			return usage_error(argv[0], "unknown section '%s' "
			    "(rules, zones, policies, nat or sets)", argv[1]);
		first = i;
		last = i + 1;
	}
	if (opt.json && last - first > 1 && (all = json_object()) == NULL)
		return EXIT_REFUSED;
	for (i = first; i < last; i++) {
		snprintf(path, sizeof(path), "/v1/%s", sections[i].name);
		if ((ret = http_get_json(argv[0], path, &r)) != 0)
			break;
		a = show_array(r.json, sections[i].name);
		if (opt.json && all != NULL)
			json_object_set_new(all, sections[i].name,
			    a ? json_incref(a) : json_array());
		else if (opt.json)
			output_json(r.json, stdout);
		else {
			if (last - first > 1)
				printf("%s%s%s%s\n", i > first ? "\n" : "",
				    output_color(C_BOLD), sections[i].title,
				    output_reset());
			if (a == NULL || json_array_size(a) == 0)
				printf("  (none)\n");
			else
				sections[i].show(a);
		}
		reply_free(&r);
	}
	if (all != NULL && ret == EXIT_OK)
		output_json(all, stdout);
	json_decref(all);
	return ret;
}

int
cmd_counters(int argc, char **argv)
{
	static const char *const head[] = { "KIND", "NAME", "PACKETS",
	    "BYTES" };
	struct reply	 r;
	struct table	 t;
	json_t		*a, *c;
	size_t		 i;
	int		 ret;

	if ((ret = show_noargs(argc, argv)) >= 0)
		return ret;
	if ((ret = http_get_json(argv[0], "/v1/counters", &r)) != 0)
		return ret;
	if (opt.json) {
		output_json(r.json, stdout);
		reply_free(&r);
		return EXIT_OK;
	}
	a = show_array(r.json, "counters");
	table_init(&t, head, 4);
	t.rightalign = 1u << 2 | 1u << 3;
	json_array_foreach(a, i, c) {
		char	 pk[32], by[32];
		const char *cells[4];

		show_counter_cells(c, pk, by, sizeof(pk));
		cells[0] = show_str(c, "kind");
		cells[1] = show_str(c, "name");
		cells[2] = pk;
		cells[3] = by;
		table_row(&t, cells);
	}
	if (t.nrows == 0)
		printf("(no counters)\n");
	else
		table_print(&t, stdout);
	table_free(&t);
	reply_free(&r);
	return EXIT_OK;
}

int
cmd_export(int argc, char **argv)
{
	struct cmdopt	 o[] = { { "--with-elements", false, NULL } };
	int		 n;

	if ((n = cmdopt_parse(argc, argv, o, 1)) < 0)
		return n == -2 ? EXIT_OK : EXIT_USAGE;
	if (n > 1)
		return usage_error(argv[0], "unexpected argument '%s'",
		    argv[1]);
	return show_ruleset(argv[0], o[0].value != NULL ?
	    "/v1/ruleset?with_elements=1" : "/v1/ruleset");
}

int
show_ruleset(const char *cmd, const char *path)
{
	struct request	 rq = { .method = "GET", .path = path,
	    .accept = "text/plain" };
	struct reply	 r;
	int		 ret;

	if (opt.json)
		rq.accept = NULL;
	if ((ret = http_do(&rq, &r)) != 0)
		return ret;
	if ((ret = reply_check(cmd, &r, NULL, NULL)) == 0) {
		if (opt.json && r.json)
			output_json(r.json, stdout);
		else
			fwrite(r.body, 1, r.len, stdout);
	}
	reply_free(&r);
	return ret;
}
