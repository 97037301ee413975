/* fwctl: the control CLI.  A table of commands (fwctl.c), each a small
 * function that builds one request (http.c) and prints the reply through
 * the output helpers (output.c).  Nothing here knows the rule language:
 * rule arguments travel to fwctld as text and its errors come back. */
#ifndef FWCTL_CLI_H
#define FWCTL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit statuses; documented in fwctl(8) and `fwctl --help`. */
enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,	/* the daemon refused the request */
	EXIT_USAGE = 2,		/* unknown command/option, missing argument */
	EXIT_NODAEMON = 3,	/* socket missing, connection refused */
	EXIT_PERM = 4,		/* socket EACCES, HTTP 403 */
	EXIT_CONFLICT = 5,	/* HTTP 409, 412 */
	EXIT_NOTFOUND = 6,	/* HTTP 404 */
};

#define FWCTL_DEFAULT_SOCKET	"/run/fwctl/fwctld.sock"

/* Global options, set by main() before a command runs. */
struct options {
	const char	*socket;
	/* fwctld's TCP listener instead of the socket: "https://host:port",
	 * its CA, and the bearer token (from --token-file or FWCTL_TOKEN) */
	const char	*url;
	const char	*cacert;
	const char	*token_file;
	char		*token;
	const char	*if_match;	/* generation every change must find */
	bool		 json;
	bool		 color;		/* stdout is a tty, NO_COLOR unset */
};
extern struct options opt;

/* fwctl.c: the command table and argument helpers */
struct cmd {
	const char	*name;
	int		(*fn)(int argc, char **argv);
	const char	*args;		/* synopsis after the name */
	const char	*brief;		/* one line for `fwctl --help` */
	const char	*help;		/* more lines for `fwctl CMD --help` */
};

/* Options a command accepts; cmdopt_parse() moves them out of argv. */
struct cmdopt {
	const char	*name;		/* "--before" */
	bool		 has_arg;
	const char	*value;		/* set when seen ("" for a flag) */
};

/* Strips --help, global options and the given command options from argv
 * (argv[0] is the command name); returns the new argc, or -1 after a
 * usage message (the caller returns EXIT_USAGE).  A command's --help
 * prints its help and returns -2 (the caller returns EXIT_OK). */
int	 cmdopt_parse(int argc, char **argv, struct cmdopt *opts, size_t nopts);
int	 usage_error(const char *cmd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
const struct cmd *cmd_find(const char *);

/* text.c: command-line words to rule-language text, and back */
struct text {
	char	*s;		/* the joined text (NUL-terminated) */
	size_t	 len;
};
/* Joins words with single spaces, quoting the strings the shell unquoted
 * (the word after `prefix` or `comment`). */
int	 text_join(struct text *, char **words, size_t n);
void	 text_free(struct text *);

/* Where each line of a concatenated apply body came from. */
struct srcmap_file {
	char	*path;
	int	 first;		/* first line of the file in the body (1-based) */
	int	 nlines;
};
struct srcmap {
	struct srcmap_file	*v;
	size_t			 n;
	char			*body;
	size_t			 len;
};
int	 srcmap_add(struct srcmap *, const char *path, const char *data,
	    size_t len);
/* Maps body line to file and line; NULL when out of range. */
const struct srcmap_file *srcmap_find(const struct srcmap *, int line,
	    int *fileline);
/* The text of line `line` of file f (no newline), or NULL; caller frees. */
char	*srcmap_line(const struct srcmap *, const struct srcmap_file *,
	    int fileline);
void	 srcmap_free(struct srcmap *);

/* http.c: one request to fwctld over its UNIX socket */
struct reply {
	long	 status;	/* HTTP status */
	char	*body;
	size_t	 len;
	char	*ctype;		/* Content-Type, or NULL */
	char	*etag;		/* ETag without quotes, or NULL */
	json_t	*json;		/* body parsed, when it is JSON */
};

struct request {
	const char	*method;
	const char	*path;		/* "/v1/rules?before=ssh" (escaped) */
	const char	*ctype;		/* body type, NULL = no body */
	const char	*body;
	size_t		 len;
	const char	*accept;	/* NULL = application/json */
	const char	*if_match;	/* generation, or NULL */
};

/* Sends the request.  On a transport failure prints one line and returns
 * the exit status (EXIT_NODAEMON or EXIT_PERM); else 0 with *r filled
 * whatever the HTTP status.  reply_free() frees it. */
int	 http_do(const struct request *, struct reply *);
/* A GET returning JSON; on any failure prints and returns the exit status. */
int	 http_get_json(const char *cmd, const char *path, struct reply *);
/* Path segment or query value, percent-escaped; caller frees. */
char	*http_escape(const char *);
void	 reply_free(struct reply *);
/* Exit status for an HTTP status. */
int	 http_exit_status(long status);
/* 2xx: 0.  Otherwise prints the problem and returns the exit status;
 * the optional text lets line:col errors be shown with a caret. */
int	 reply_check(const char *cmd, const struct reply *,
	    const struct text *, const char *shown);
int	 reply_check_files(const char *cmd, const struct reply *,
	    const struct srcmap *);

/* output.c: tables, colours, sizes, JSON, problems and plans */
enum color {
	C_NONE = 0,
	C_BOLD,
	C_RED,
	C_GREEN,
	C_YELLOW,
	C_DIM,
};

struct table {
	size_t	 ncols;
	size_t	 nrows;
	size_t	 cap;
	char	**cells;	/* nrows * ncols, owned */
	int	*rcolor;	/* colour of each row's ccol cell, or 0 */
	size_t	 ccol;		/* the column that rows may colour */
	unsigned rightalign;	/* bit i: column i is right aligned */
	const char *const *head;
};

void	 table_init(struct table *, const char *const *head, size_t ncols);
/* Appends one row; the cells are copied. */
void	 table_row(struct table *, const char *const *cells);
void	 table_row_color(struct table *, enum color);
void	 table_print(struct table *, FILE *);
void	 table_free(struct table *);

const char *output_color(enum color);
const char *output_reset(void);
/* "0 B", "512 B", "1.5 KiB" ... */
char	*output_bytes(uint64_t, char *buf, size_t len);
/* "999", "1.2K", "34M" */
char	*output_count(uint64_t, char *buf, size_t len);
/* Pretty-printed, with a newline. */
void	 output_json(json_t *, FILE *);

/* A scalar or array of scalars as "a, b" (a single item bare, a list in
 * braces); NULL when the value is missing.  Caller frees. */
char	*output_list(json_t *);
/* A set element: its key, and the time it has left at now_ms (ms since
 * the epoch) when it expires: "192.0.2.7 (59m58s left)". */
char	*output_set_elem(json_t *elem, long long now_ms);
/* A human summary of a rule's or NAT entry's matches. */
char	*output_rule_match(json_t *rule);
char	*output_nat_detail(json_t *nat);

/* The problem detail of an error reply: "fwctl: cmd: detail", or one line
 * per error when they have locations: those go to a callback, so that the
 * caller maps them onto the command line or the files it sent. */
typedef void (*output_loc_fn)(void *arg, FILE *, const char *cmd,
	    json_t *err);
void	 output_problem(const char *cmd, json_t *problem, long status,
	    output_loc_fn, void *arg, FILE *);

/* "+ rule ssh" lines, then "Plan: ..." (or "Apply complete: ...").
 * Returns the number of items. */
size_t	 output_plan(json_t *plan, bool applied, FILE *);

/* Writes text with a caret under byte column col (1-based), indented. */
void	 output_caret(FILE *, const char *prefix, const char *text, size_t col);

/* Commands; one function each. */
int	 cmd_status(int, char **);
int	 cmd_list(int, char **);
int	 cmd_counters(int, char **);
int	 cmd_explain(int, char **);
int	 cmd_export(int, char **);
int	 cmd_add_rule(int, char **);
int	 cmd_replace_rule(int, char **);
int	 cmd_delete_rule(int, char **);
int	 cmd_add_zone(int, char **);
int	 cmd_replace_zone(int, char **);
int	 cmd_delete_zone(int, char **);
int	 cmd_add_policy(int, char **);
int	 cmd_delete_policy(int, char **);
int	 cmd_add_nat(int, char **);
int	 cmd_delete_nat(int, char **);
int	 cmd_add_set(int, char **);
int	 cmd_delete_set(int, char **);
int	 cmd_block(int, char **);
int	 cmd_unblock(int, char **);
int	 cmd_add_element(int, char **);
int	 cmd_delete_element(int, char **);
int	 cmd_apply(int, char **);
int	 cmd_confirm(int, char **);
int	 cmd_revert(int, char **);
int	 cmd_flush(int, char **);
int	 cmd_diff(int, char **);
int	 cmd_save(int, char **);
int	 cmd_reload(int, char **);
int	 cmd_history(int, char **);
int	 cmd_show(int, char **);
/* show.c: GET path, a ruleset, printed in the rule language (JSON with
 * --json); the exit status */
int	 show_ruleset(const char *cmd, const char *path);
/* live.c: revert --to GEN [--dry-run] */
int	 live_revert_to(const char *cmd, const char *gen, bool dry,
	    bool allow_unfiltered);

#endif
