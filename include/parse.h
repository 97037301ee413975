/* parse.c: the rule language (SPEC §2) into the model. */
#ifndef FWCTL_PARSE_H
#define FWCTL_PARSE_H

#include "diag.h"
#include "ruleset.h"

/*
 * Parses text (len bytes, need not be NUL-terminated) named file (used in
 * messages; may be NULL) into rs, appending objects. Every syntax error is
 * added to diags with file:line:col and what was expected; parsing goes on
 * at the next statement so that all errors are reported. Returns the number
 * of errors (0 = success). On error rs may hold the statements that parsed;
 * callers throw it away.
 */
int	parse_buffer(struct ruleset *rs, const char *file, const char *text,
	    size_t len, struct diags *);
int	parse_file(struct ruleset *rs, const char *path, struct diags *);
/* Reads the *.rules files of a directory in name order (strcmp of the
 * names) as one ruleset. */
int	parse_dir(struct ruleset *rs, const char *dir, struct diags *);

/*
 * One statement given on its own, as the CLI and the API send it, e.g.
 * "ssh from lan to self tcp dport 22 accept" for a rule (the leading
 * keyword "rule" is optional). Columns in messages count from 1 in text.
 * Returns NULL with diags filled on error.
 */
struct rule	*parse_rule(const char *text, struct diags *);
struct zone	*parse_zone(const char *text, struct diags *);
struct nat	*parse_nat(const char *text, struct diags *);
struct policy	*parse_policy(const char *text, struct diags *);
struct set	*parse_set(const char *text, struct diags *);
/* One set element as text ("192.0.2.7", "10.0.0.0/8", "22", "1000-2000",
 * optionally followed by "timeout 10m") for a set of the given type.
 * Returns 0, or -1 with diags filled. */
int		 parse_set_elem(enum set_type, const char *text,
		    struct set_elem *, struct diags *);

#endif
