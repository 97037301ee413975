/*
 * `fwctld -n[v] --rules-dir DIR`: the rules directory through the same
 * parse and validate steps as a reload, without touching the kernel, and
 * the warnings of the lint and of lockout.c; with -v the canonical text (bgpd -nv). The golden
 * tests run through here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "checkmode.h"
#include "diag.h"
#include "lint.h"
#include "lockout.h"
#include "parse.h"
#include "print.h"
#include "ruleset.h"

/* A problem reading a file carries no line: parse errors always do. */
static bool
diags_unreadable(const struct diags *d)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		if (d->v[i].line == 0 && d->v[i].field == NULL)
			return true;
	return false;
}

int
check_main(const char *rules_dir, bool verbose, bool warnings_fatal,
    FILE *out, FILE *err)
{
	struct ruleset	*rs;
	struct diags	 d;
	int		 status = 0;

	diags_init(&d);
	if ((rs = ruleset_new()) == NULL) {
		fprintf(err, "%s: %s\n", rules_dir, strerror(errno));
		return 2;
	}
	if (parse_dir(rs, rules_dir, &d) != 0 || d.n > 0)
		status = diags_unreadable(&d) ? 2 : 1;
	else if (validate_ruleset(rs, &d) != 0)
		status = 1;
	else if (lint_ruleset(rs, &d) + lockout_warnings(rs, rules_dir,
	    &d) > 0 && warnings_fatal)
		status = 3;
	diags_print(&d, err);
	if (status == 0 && verbose && print_ruleset(out, rs) == -1) {
		fprintf(err, "%s: cannot print the ruleset: %s\n", rules_dir,
		    strerror(errno));
		status = 2;
	}
	fflush(out);
	fflush(err);
	diags_free(&d);
	ruleset_free(rs);
	return status;
}
