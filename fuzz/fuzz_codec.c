/*
 * libFuzzer harness for the JSON decoder: the bytes are loaded the way the
 * daemon loads a request body (depth check, then json_loadb with
 * JSON_REJECT_DUPLICATES), then handed to codec_decode_ruleset and to every
 * single-object decoder.  Whatever decodes is encoded again and decoded a
 * second time; the two models must be equal (ruleset_equal), so the codec
 * can never write a state file or a reply it cannot read back.
 * See fuzz/README.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "codec.h"
#include "diag.h"
#include "ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Encodes rs, decodes the result, aborts unless the two are equal. */
static void
fuzz_roundtrip(const struct ruleset *rs)
{
	struct ruleset	*back;
	struct diags	 d;
	json_t		*j;

	if ((j = codec_encode_ruleset(rs)) == NULL)
		return;			/* ENOMEM */
	diags_init(&d);
	back = codec_decode_ruleset(j, &d);
	if (back == NULL || d.n != 0 || !ruleset_equal(rs, back)) {
		diags_print(&d, stderr);
		json_dumpf(j, stderr, JSON_INDENT(1));
		abort();
	}
	ruleset_free(back);
	diags_free(&d);
	json_decref(j);
}

/* A single decoded object becomes a ruleset of one for the round trip;
 * the ruleset takes ownership. */
#define FUZZ_ONE(type, dec, add, fr) do {				\
	struct type *o_;						\
	struct ruleset *rs_;						\
	size_t n_ = d.n;						\
									\
	o_ = dec(j, "x", &d);						\
	if ((o_ == NULL) != (d.n > n_))					\
		abort();	/* NULL exactly when diagnosed */	\
	if (o_ != NULL) {						\
		if ((rs_ = ruleset_new()) == NULL ||			\
		    add(rs_, o_) == -1) {				\
			fr(o_);						\
			ruleset_free(rs_);				\
		} else {						\
			fuzz_roundtrip(rs_);				\
			ruleset_free(rs_);				\
		}							\
	}								\
} while (0)

static void
fuzz_elem(enum set_type type, const json_t *j)
{
	struct set_elem	 e, e2;
	struct diags	 d;
	json_t		*enc;

	diags_init(&d);
	if (codec_decode_set_elem(type, j, "e", &e, &d) == -1) {
		if (d.n == 0)
			abort();	/* an error must say why */
		diags_free(&d);
		return;
	}
	if (d.n != 0)
		abort();
	if ((enc = codec_encode_set_elem(type, &e)) == NULL)
		goto done;
	if (codec_decode_set_elem(type, enc, "e", &e2, &d) == -1 ||
	    set_elem_cmp(type, &e, &e2) != 0 ||
	    e.timeout_ms != e2.timeout_ms) {
		diags_print(&d, stderr);
		json_dumpf(enc, stderr, 0);
		abort();
	}
	json_decref(enc);
done:
	diags_free(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ruleset	*rs;
	struct diags	 d;
	json_error_t	 err;
	json_t		*j;
	size_t		 n;

	/* as api_body_json() */
	if (len > API_BODY_MAX_BIG ||
	    api_json_depth((const char *)data, len) > API_JSON_DEPTH_MAX)
		return 0;
	if ((j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES,
	    &err)) == NULL)
		return 0;

	diags_init(&d);
	n = d.n;
	rs = codec_decode_ruleset(j, &d);
	if ((rs == NULL) != (d.n > n))
		abort();
	if (rs != NULL) {
		fuzz_roundtrip(rs);
		ruleset_free(rs);
	}

	FUZZ_ONE(zone, codec_decode_zone, ruleset_add_zone, zone_free);
	FUZZ_ONE(policy, codec_decode_policy, ruleset_add_policy,
	    policy_free);
	FUZZ_ONE(rule, codec_decode_rule, ruleset_add_rule, rule_free);
	FUZZ_ONE(nat, codec_decode_nat, ruleset_add_nat, nat_free);
	FUZZ_ONE(set, codec_decode_set, ruleset_add_set, set_free);
	diags_free(&d);

	fuzz_elem(SET_IPV4, j);
	fuzz_elem(SET_IPV6, j);
	fuzz_elem(SET_PORT, j);
	/* the element forms of the API are also objects' members */
	if (json_is_object(j) && json_object_get(j, "elements") != NULL) {
		const json_t *a = json_object_get(j, "elements"), *e;
		size_t i;

		json_array_foreach(a, i, e) {
			fuzz_elem(SET_IPV4, e);
			fuzz_elem(SET_PORT, e);
		}
	}
	json_decref(j);
	return 0;
}
