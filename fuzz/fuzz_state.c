/*
 * libFuzzer harness for the state file: state_decode() on arbitrary bytes,
 * as fwctld reads state.json and history/ at start-up.  See fuzz/README.
 */
#include <stdint.h>
#include <stdlib.h>

#include "diag.h"
#include "ruleset.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ruleset	*rs;
	struct diags	 d;
	uint64_t	 gen = 0;

	diags_init(&d);
	rs = state_decode((const char *)data, len, "fuzz.json", &gen, &d);
	if ((rs == NULL) == (d.n == 0))
		abort();	/* refused exactly when it says why */
	ruleset_free(rs);
	diags_free(&d);
	return 0;
}
