/* fwctl.c: main, global options and the table of commands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fwctl.h"

struct options opt;

static const struct cmd cmds[] = {
	{ "status", cmd_status, "",
	    "show the daemon, the ruleset generation and counts",
	    "Prints the daemon version, the ruleset generation, whether the\n"
	    "table is in the kernel, whether it drifted from the ruleset, and\n"
	    "how many objects of each kind the ruleset holds.\n" },
	{ "list", cmd_list, "[rules|zones|policies|nat|sets]",
	    "list the ruleset as numbered, aligned tables",
	    "Without an argument lists every section.  Rules show their\n"
	    "packet and byte counters.\n" },
	{ "counters", cmd_counters, "",
	    "packets and bytes per rule and NAT entry", "" },
	{ "explain", cmd_explain,
	    "[from ZONE|in IFACE] PROTO SRC[:PORT] ['->'] DST[:PORT] "
	    "[to ZONE|out IFACE]",
	    "what the ruleset does with one packet",
	    "Which zones it falls between, which NAT applies, which rule or\n"
	    "policy decides, and the chains it goes through, e.g.\n"
	    "  fwctl explain from wan tcp 203.0.113.5:40000 '->' 10.50.0.1:22\n"
	    "Also: type ICMP-TYPE, state STATE; an IPv6 address with a port\n"
	    "is written [fd00::1]:22.\n" },
	{ "add-rule", cmd_add_rule,
	    "NAME RULE... [--before NAME|--after NAME|--position N]",
	    "add a rule (appended unless placed)",
	    "RULE is the rule language of fwctl.rules(5) without the word\n"
	    "`rule`, e.g.\n"
	    "  fwctl add-rule ssh from lan to self tcp dport 22 accept\n"
	    "Quote what the shell would take: '{ 80, 443 }', \"log prefix\".\n" },
	{ "replace-rule", cmd_replace_rule, "NAME RULE...",
	    "replace a rule in place (or append it when new)", "" },
	{ "delete-rule", cmd_delete_rule, "NAME|N",
	    "delete a rule by name or by its number in `fwctl list rules`",
	    "" },
	{ "add-zone", cmd_add_zone, "NAME ZONE...",
	    "add a zone, e.g. `fwctl add-zone dmz interface eth2 dmz`",
	    "Fails with exit status 5 when the zone exists; see replace-zone.\n" },
	{ "replace-zone", cmd_replace_zone, "NAME ZONE...",
	    "replace a zone (or add it when new)", "" },
	{ "delete-zone", cmd_delete_zone, "NAME", "delete a zone", "" },
	{ "add-policy", cmd_add_policy, "FROM TO VERDICT",
	    "set the default verdict from one zone to another",
	    "Also written `fwctl add-policy 'lan -> wan' accept` (quote the\n"
	    "arrow: the shell reads > as a redirection).  Replaces the\n"
	    "pair's policy when there is one.\n" },
	{ "set-policy", cmd_add_policy, "FROM TO VERDICT",
	    "the same as add-policy", "" },
	{ "delete-policy", cmd_delete_policy, "FROM TO",
	    "delete the policy of a pair of zones", "" },
	{ "add-nat", cmd_add_nat, "NAME NAT...",
	    "add a NAT entry, e.g. `fwctl add-nat masq masquerade from lan "
	    "to wan`", "" },
	{ "delete-nat", cmd_delete_nat, "NAME|N",
	    "delete a NAT entry by name or by its number in `fwctl list nat`",
	    "" },
	{ "add-set", cmd_add_set, "NAME TYPE [{ ELEMENT, ... }|timeout T]",
	    "add a named set (TYPE ipv4, ipv6 or port)",
	    "  fwctl add-set blocklist ipv4 timeout 1h\n"
	    "  fwctl add-set admins ipv4 '{ 192.168.10.5, 192.168.10.6 }'\n" },
	{ "delete-set", cmd_delete_set, "NAME", "delete a named set", "" },
	{ "block", cmd_block,
	    "ADDR... [--set NAME] [--timeout T] [--kill-connections]",
	    "add addresses to a set (default: blocklist)",
	    "The set must exist (`fwctl add-set blocklist ipv4`); a rule\n"
	    "such as `rule blocked from wan to all src @blocklist drop`\n"
	    "gives it its meaning (`to all`: every zone and this host).\n"
	    "Rules see new connections only; --kill-connections also ends\n"
	    "the connections the addresses have open, as conntrack -D does.\n"
	    "Allowed while a change awaits confirmation: elements are data,\n"
	    "and a revert keeps them.\n" },
	{ "unblock", cmd_unblock, "ADDR... [--set NAME]",
	    "remove addresses from a set (default: blocklist)", "" },
	{ "add-element", cmd_add_element, "SET ELEMENT... [--timeout T]",
	    "add elements to a named set", "" },
	{ "delete-element", cmd_delete_element, "SET ELEMENT...",
	    "remove elements from a named set", "" },
	{ "apply", cmd_apply,
	    "FILE|DIR|- [--dry-run|--confirm SECONDS] [--allow-unfiltered]",
	    "replace the whole ruleset with rule files, showing the plan",
	    "A directory is read as its *.rules files in name order, - as\n"
	    "standard input.  Prints `+`, `-` and `~` lines for what is added,\n"
	    "removed and changed, then a summary.  --dry-run shows the plan\n"
	    "and changes nothing.  Errors name FILE:LINE:COL.\n"
	    "--confirm SECONDS: unless `fwctl confirm` follows in time, the\n"
	    "ruleset before it comes back by itself (and at the next start of\n"
	    "fwctld); until then other changes are refused (set elements are\n"
	    "not: they are data).  For changes made over the connection they\n"
	    "might cut.  A ruleset without zones filters nothing: refused\n"
	    "unless --allow-unfiltered.\n" },
	{ "confirm", cmd_confirm, "",
	    "keep the ruleset applied with apply --confirm", "" },
	{ "revert", cmd_revert, "[--to GEN [--dry-run]]",
	    "undo apply --confirm now, or go back to generation GEN",
	    "Without --to: the ruleset before an unconfirmed apply --confirm\n"
	    "comes back now.  With --to GEN: the ruleset of generation GEN\n"
	    "(see fwctl history) comes back as a new change, recorded like\n"
	    "any other; run-time set elements (blocked addresses) stay.\n" },
	{ "diff", cmd_diff, "",
	    "the live ruleset against the rules directory",
	    "Lists what live changes (add-rule, the API, dashboards) made\n"
	    "that the rules directory does not say: + only live, - only in\n"
	    "the files, ~ different.  `fwctl save` writes them into the\n"
	    "directory; `fwctl reload` goes back to the directory.\n" },
	{ "save", cmd_save, "[--with-elements]",
	    "write the live ruleset into the rules directory",
	    "Writes one canonical file, fwctl.rules, and moves the *.rules\n"
	    "files it replaces into .backup/ in the directory.  Nothing is\n"
	    "written when the directory already says the live ruleset.\n"
	    "Run-time set elements stay out unless --with-elements.\n" },
	{ "reload", cmd_reload,
	    "[--dry-run|--confirm SECONDS] [--allow-unfiltered]",
	    "apply the rules directory, showing the plan",
	    "What SIGHUP does: the rules directory replaces the live ruleset;\n"
	    "live changes not saved are undone (each is named in the plan\n"
	    "and the log).  Run-time set elements stay.  A directory that\n"
	    "declares no zone is refused unless --allow-unfiltered.\n" },
	{ "history", cmd_history, "[-n|--count N] [--before GEN]",
	    "who changed what, newest first", "" },
	{ "show", cmd_show, "--generation GEN [--with-elements]",
	    "print the ruleset as it was at generation GEN", "" },
	{ "export", cmd_export, "[--with-elements]",
	    "print the ruleset in the rule language (input for apply)",
	    "Run-time set elements (blocked addresses) are data, not the\n"
	    "declared ruleset: left out unless --with-elements.\n" },
	{ "flush", cmd_flush, "--yes",
	    "empty the ruleset and remove the table from the kernel",
	    "The host is then unprotected: --yes is required.\n" },
};

static const char exit_help[] =
    "exit status:\n"
    "  0  success\n"
    "  1  fwctld refused the request (its message says why)\n"
    "  2  usage error: unknown command or option, missing argument\n"
    "  3  fwctld is not running (no socket, connection refused)\n"
    "  4  permission denied (on the socket, or HTTP 401, 403)\n"
    "  5  conflict: the name exists, the ruleset changed, or a change\n"
    "     awaits confirmation (409, 412)\n"
    "  6  not found (404)\n";

static void
usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: fwctl [--socket PATH | --url URL --token-file FILE "
	    "[--cacert FILE]]\n"
	    "             [--json] [--no-color] [--if-match GEN]\n"
	    "             COMMAND [ARGS...]\n"
	    "       fwctl COMMAND --help | --help | --version\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-15s %s\n", cmds[i].name, cmds[i].brief);
	fprintf(f, "\noptions:\n"
	    "  --socket PATH   fwctld's socket (default $FWCTL_SOCKET, else "
	    FWCTL_DEFAULT_SOCKET ")\n"
	    "  --url URL       fwctld's TCP listener, https://HOST:PORT\n"
	    "                  (default $FWCTL_URL); instead of the socket\n"
	    "  --token-file F  the bearer token for --url (first line of F;\n"
	    "                  default $FWCTL_TOKEN, the token itself)\n"
	    "  --cacert FILE   CA certificates to check fwctld's with\n"
	    "                  (default $FWCTL_CACERT, else the system's)\n"
	    "  --json          print the API's JSON\n"
	    "  --no-color      never colour the output\n"
	    "  --if-match GEN  change the ruleset only if it is still at\n"
	    "                  generation GEN (see status); else exit 5\n\n%s"
	    "\nSee fwctl(8) and fwctl.rules(5).\n", exit_help);
}

static void
cmd_help(const struct cmd *c)
{
	printf("usage: fwctl %s%s%s\n\n%s.\n", c->name, *c->args ? " " : "",
	    c->args, c->brief);
	if (*c->help)
		printf("\n%s", c->help);
}

const struct cmd *
cmd_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

int
usage_error(const char *cmd, const char *fmt, ...)
{
	const struct cmd *c = cmd ? cmd_find(cmd) : NULL;
	va_list	 ap;

	fprintf(stderr, "fwctl: %s%s", cmd ? cmd : "", cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c != NULL)
		fprintf(stderr, "usage: fwctl %s %s\n", c->name, c->args);
	return EXIT_USAGE;
}

/* A generation as fwctld counts them: decimal digits, no sign, 64 bits. */
static bool
generation_valid(const char *s)
{
	char	*end;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	(void)strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* --socket, --url, --token-file and --cacert, as "--x V" or "--x=V". */
static int
global_value(int argc, char **argv, int i)
{
	static const struct {
		const char	*name;
		const char	**to;
	} v[] = {
		{ "--socket", &opt.socket },
		{ "--url", &opt.url },
		{ "--token-file", &opt.token_file },
		{ "--cacert", &opt.cacert },
	};
	size_t	 k, len;

	for (k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
		len = strlen(v[k].name);
		if (strcmp(argv[i], v[k].name) == 0) {
			if (i + 1 >= argc)
				return -1;
			*v[k].to = argv[i + 1];
			return 2;
		}
		if (strncmp(argv[i], v[k].name, len) == 0 &&
		    argv[i][len] == '=') {
			*v[k].to = argv[i] + len + 1;
			return 1;
		}
	}
	return 0;
}

/*
 * The TCP listener: an https URL (a token must not travel in clear) and
 * the token, from --token-file (its first line) or FWCTL_TOKEN. 0, or an
 * exit status after a message.
 */
static int
remote_setup(void)
{
	const char	*env;
	FILE		*f;
	char		 line[1024];
	size_t		 n;

	if (opt.url == NULL)
		return 0;
	if (strncmp(opt.url, "https://", 8) != 0 || opt.url[8] == '\0')
		return usage_error(NULL, "--url takes https://HOST:PORT (fwctld "
		    "--listen serves TLS only), not '%s'", opt.url);
	if (opt.token_file != NULL) {
		if ((f = fopen(opt.token_file, "r")) == NULL) {
			fprintf(stderr, "fwctl: --token-file %s: %s\n",
			    opt.token_file, strerror(errno));
			return EXIT_USAGE;
		}
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		opt.token = strdup(line);
		explicit_bzero(line, sizeof(line));
	} else if ((env = getenv("FWCTL_TOKEN")) != NULL)
		opt.token = strdup(env);
	if (opt.token == NULL || *opt.token == '\0') {
		fprintf(stderr, "fwctl: --url needs a token: --token-file FILE "
		    "or FWCTL_TOKEN\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* Global options may follow the command too (`fwctl list --json`).
 * Returns how many words it took, 0 when argv[i] is not one, -1 when its
 * value is missing, -2 when its value is wrong (after a message). */
static int
global_opt(int argc, char **argv, int i)
{
	const char	*v = NULL;
	int		 k = 0;

	if (strcmp(argv[i], "--if-match") == 0) {
		if (i + 1 >= argc)
			return -1;
		v = argv[i + 1];
		k = 2;
	} else if (strncmp(argv[i], "--if-match=", 11) == 0) {
		v = argv[i] + 11;
		k = 1;
	}
	if (k > 0) {
		if (!generation_valid(v)) {
			usage_error(NULL, "--if-match takes a generation "
			    "(a number, as `fwctl status` shows), not '%s'", v);
			return -2;
		}
		opt.if_match = v;
		return k;
	}
	if (strcmp(argv[i], "--json") == 0) {
		opt.json = true;
		return 1;
	}
	if (strcmp(argv[i], "--no-color") == 0) {
		opt.color = false;
		return 1;
	}
	return global_value(argc, argv, i);
}

int
cmdopt_parse(int argc, char **argv, struct cmdopt *opts, size_t nopts)
{
	int	 i, n = 1, k;
	size_t	 j;
	bool	 rest = false;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;
		size_t	 alen;

		/* rule text never starts with "--": "->" and "-1" are words */
		if (rest || strncmp(a, "--", 2) != 0) {
			argv[n++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			rest = true;
			continue;
		}
		if (strcmp(a, "--help") == 0) {
			cmd_help(cmd_find(argv[0]));
			return -2;
		}
		if ((k = global_opt(argc, argv, i)) > 0) {
			i += k - 1;
			continue;
		}
		if (k == -1)
			usage_error(argv[0], "option %s needs a value", a);
		if (k < 0)
			return -1;
		eq = strchr(a, '=');
		alen = eq ? (size_t)(eq - a) : strlen(a);
		for (j = 0; j < nopts; j++)
			if (strlen(opts[j].name) == alen &&
			    strncmp(opts[j].name, a, alen) == 0)
				break;
		if (j == nopts) {
			usage_error(argv[0], "unknown option %s", a);
			return -1;
		}
		if (!opts[j].has_arg) {
			if (eq) {
				usage_error(argv[0], "option %.*s takes no "
				    "value", (int)alen, a);
				return -1;
			}
			opts[j].value = "";
		} else if (eq)
			opts[j].value = eq + 1;
		else if (i + 1 < argc)
			opts[j].value = argv[++i];
		else {
			usage_error(argv[0], "option %s needs a value", a);
			return -1;
		}
	}
	argv[n] = NULL;
	return n;
}

static int
fwctl_main(int argc, char **argv)
{
	const struct cmd *c;
	const char	*env;
	int		 i = 1, k, ret;

	opt.socket = (env = getenv("FWCTL_SOCKET")) && *env ? env :
	    FWCTL_DEFAULT_SOCKET;
	if ((env = getenv("FWCTL_URL")) != NULL && *env)
		opt.url = env;
	if ((env = getenv("FWCTL_CACERT")) != NULL && *env)
		opt.cacert = env;
	env = getenv("NO_COLOR");
	opt.color = isatty(STDOUT_FILENO) && (env == NULL || *env == '\0');

	for (; i < argc && strncmp(argv[i], "-", 1) == 0; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "-V") == 0) {
			printf("fwctl %s\n", FWCTL_VERSION);
			return EXIT_OK;
		}
		if ((k = global_opt(argc, argv, i)) > 0) {
			i += k - 1;
			continue;
		}
		if (k == -2)
			return EXIT_USAGE;
		if (k < 0)
			return usage_error(NULL, "option %s needs a value",
			    argv[i]);
		return usage_error(NULL, "unknown option %s (see fwctl "
		    "--help)", argv[i]);
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 < argc && (c = cmd_find(argv[i + 1])) != NULL)
			cmd_help(c);
		else
			usage(stdout);
		return EXIT_OK;
	}
	if ((c = cmd_find(argv[i])) == NULL)
		return usage_error(NULL, "unknown command '%s' (see fwctl "
		    "--help)", argv[i]);
	if ((ret = remote_setup()) != 0)
		return ret;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "fwctl: cannot initialise libcurl\n");
		return EXIT_REFUSED;
	}
	ret = c->fn(argc - i, argv + i);
	curl_global_cleanup();
	if (opt.token != NULL)
		explicit_bzero(opt.token, strlen(opt.token));
	free(opt.token);
	return ret;
}

int
main(int argc, char **argv)
{
	int	 ret = fwctl_main(argc, argv);

	/* `fwctl export > full-disk.rules` must not look like success */
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "fwctl: writing the output: %s\n",
		    strerror(errno));
		if (ret == EXIT_OK)
			ret = EXIT_REFUSED;
	}
	return ret;
}
