/*
 * check.c: `fwctld -n[v]`, check the rule files and print them
 * canonically. (Not named check.h: that is libcheck's header, and
 * -Iinclude would shadow it in every test.)
 */
#ifndef FWCTL_CHECKMODE_H
#define FWCTL_CHECKMODE_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Parses rules_dir (its *.rules files in name order), validates the
 * result and lints it. Every problem goes to err, one per line
 * (file:line:col: message; "warning: " before a warning's); with verbose
 * and a valid ruleset, the canonical text goes to out. Returns the exit
 * status: 0 valid, 1 invalid, 2 unreadable (the directory or one of its
 * files could not be read), 3 valid with warnings and warnings_fatal.
 */
int	check_main(const char *rules_dir, bool verbose, bool warnings_fatal,
	    FILE *out, FILE *err);

#endif
