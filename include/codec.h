/* codec.c: the model as JSON (jansson), the form of the REST API and of
 * the state file. */
#ifndef FWCTL_CODEC_H
#define FWCTL_CODEC_H

#include <jansson.h>

#include "diag.h"
#include "ruleset.h"

/* Encoders return a new reference, NULL on ENOMEM. */
json_t		*codec_encode_ruleset(const struct ruleset *);
json_t		*codec_encode_zone(const struct zone *);
json_t		*codec_encode_policy(const struct policy *);
json_t		*codec_encode_rule(const struct rule *);
json_t		*codec_encode_nat(const struct nat *);
json_t		*codec_encode_set(const struct set *);
json_t		*codec_encode_set_elem(enum set_type, const struct set_elem *);
/* What the ruleset does with a packet (explain.h), for GET /v1/explain. */
struct explain;
json_t		*codec_encode_explain(const struct explain *);

/*
 * Decoders are strict: unknown fields, wrong types, out-of-range values
 * are errors that name the field by its JSON path ("rules[3].dport[0]").
 * Every error is added to diags; NULL (or -1) on any error. path is the
 * prefix for messages ("" or NULL at top level).
 */
struct ruleset	*codec_decode_ruleset(const json_t *, struct diags *);
struct zone	*codec_decode_zone(const json_t *, const char *path,
		    struct diags *);
struct policy	*codec_decode_policy(const json_t *, const char *path,
		    struct diags *);
struct rule	*codec_decode_rule(const json_t *, const char *path,
		    struct diags *);
struct nat	*codec_decode_nat(const json_t *, const char *path,
		    struct diags *);
struct set	*codec_decode_set(const json_t *, const char *path,
		    struct diags *);
int		 codec_decode_set_elem(enum set_type, const json_t *,
		    const char *path, struct set_elem *, struct diags *);

#endif
