/*
 * libFuzzer harness for the two views of the model: whatever rule text
 * parses (and validates) must print canonically, parse back to an equal
 * ruleset, print the same text again, and survive the JSON codec
 * unchanged.  This is the promise `fwctl export | fwctl apply` and the
 * state file rest on.  See fuzz/README.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "diag.h"
#include "parse.h"
#include "print.h"
#include "ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_fail(const char *what, const char *a, const char *b, struct diags *d)
{
	fprintf(stderr, "%s\n--- first\n%s\n--- second\n%s\n", what,
	    a ? a : "(null)", b ? b : "(null)");
	if (d != NULL)
		diags_print(d, stderr);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ruleset	*rs, *back = NULL, *dec = NULL;
	struct diags	 d;
	char		*t1 = NULL, *t2 = NULL;
	json_t		*j = NULL;

	if ((rs = ruleset_new()) == NULL)
		return 0;
	diags_init(&d);
	if (parse_buffer(rs, "in.rules", (const char *)data, len, &d) != 0 ||
	    validate_ruleset(rs, &d) != 0)
		goto done;
	if ((t1 = print_ruleset_str(rs)) == NULL)
		goto done;
	if ((back = ruleset_new()) == NULL)
		goto done;
	if (parse_buffer(back, "printed.rules", t1, strlen(t1), &d) != 0)
		fuzz_fail("printed text does not parse", t1, NULL, &d);
	if (!ruleset_equal(rs, back))
		fuzz_fail("printed text parses to another ruleset", t1, NULL,
		    NULL);
	if ((t2 = print_ruleset_str(back)) == NULL)
		goto done;
	if (strcmp(t1, t2) != 0)
		fuzz_fail("printing is not canonical", t1, t2, NULL);
	if ((j = codec_encode_ruleset(rs)) == NULL)
		goto done;
	if ((dec = codec_decode_ruleset(j, &d)) == NULL)
		fuzz_fail("the JSON form does not decode", t1, NULL, &d);
	if (!ruleset_equal(rs, dec))
		fuzz_fail("the JSON form decodes to another ruleset", t1, NULL,
		    NULL);
done:
	json_decref(j);
	ruleset_free(dec);
	ruleset_free(back);
	ruleset_free(rs);
	free(t1);
	free(t2);
	diags_free(&d);
	return 0;
}
