/*
 * libFuzzer harness for the CLI's handling of daemon replies: arbitrary
 * bytes as a reply body go through the formatters fwctl uses on them
 * (problem documents, plans, rule and NAT summaries, lists).  A broken or
 * hostile daemon must not crash the CLI.  See fuzz/README.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../cli/output.c"
#include "../cli/text.c"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct options opt;

static void
fuzz_loc(void *arg, FILE *f, const char *cmd, json_t *e)
{
	const struct srcmap		*m = arg;
	const struct srcmap_file	*sf;
	json_t				*l = json_object_get(e, "line");
	int				 fl;
	char				*t;

	if (!json_is_integer(l) ||
	    (sf = srcmap_find(m, (int)json_integer_value(l), &fl)) == NULL)
		return;
	if ((t = srcmap_line(m, sf, fl)) != NULL)
		output_caret(f, "", t, 3);
	free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct srcmap	 m;
	json_t		*j, *a;
	FILE		*f;
	size_t		 i;

	if ((j = json_loadb((const char *)data, len, 0, NULL)) == NULL)
		return 0;
	if ((f = fopen("/dev/null", "w")) == NULL)
		goto done;
	memset(&m, 0, sizeof(m));
	(void)srcmap_add(&m, "a.rules", (const char *)data, len);
	(void)srcmap_add(&m, "b.rules", "zone x\n", 7);
	output_problem("x", j, 400, NULL, NULL, f);
	output_problem("x", j, 400, fuzz_loc, &m, f);
	srcmap_free(&m);
	output_plan(json_object_get(j, "plan"), false, f);
	output_plan(j, true, f);
	free(output_rule_match(j));
	free(output_nat_detail(j));
	free(output_list(j));
	for (i = 0; i < json_array_size(j); i++) {
		a = json_array_get(j, i);
		free(output_rule_match(a));
		free(output_nat_detail(a));
		free(output_list(a));
	}
	output_json(j, f);
	fclose(f);
done:
	json_decref(j);
	return 0;
}
