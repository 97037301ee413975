/*
 * libFuzzer harness for the rule language: parse_buffer() on arbitrary
 * bytes (not NUL-terminated), then the validator on whatever parsed, and
 * the single-statement entry points the API feeds with request bodies.
 * See fuzz/README.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "parse.h"
#include "ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ruleset *rs;
	struct diags d;
	struct set_elem e;
	char *s;
	int n;

	if ((rs = ruleset_new()) == NULL)
		return 0;
	diags_init(&d);
	n = parse_buffer(rs, "fuzz.rules", (const char *)data, len, &d);
	if ((size_t)n != d.n)
		abort();
	if (n == 0)
		validate_ruleset(rs, &d);
	ruleset_free(rs);
	diags_free(&d);

	/* the CLI/API forms take C strings */
	if ((s = malloc(len + 1)) == NULL)
		return 0;
	memcpy(s, data, len);
	s[len] = '\0';
	rule_free(parse_rule(s, &d));
	zone_free(parse_zone(s, &d));
	nat_free(parse_nat(s, &d));
	policy_free(parse_policy(s, &d));
	set_free(parse_set(s, &d));
	parse_set_elem(SET_IPV6, s, &e, &d);
	diags_free(&d);
	free(s);
	return 0;
}
