/*
 * fwctld: loads the last accepted ruleset (or the rules directory), makes
 * the kernel agree, and serves the REST API until told to stop.  Stopping
 * leaves the table in the kernel: the host stays protected.
 */
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "api.h"
#include "checkmode.h"
#include "engine.h"
#include "front.h"
#include "privsep.h"
#include "log.h"
#include "rulesdir.h"
#include "state.h"
#include "trust.h"

#define DEF_SOCKET	"/run/fwctl/fwctld.sock"
#define DEF_STATE_DIR	"/var/lib/fwctl"
#define DEF_RULES_DIR	"/etc/fwctl/rules.d"
#define DEF_TABLE	"fwctl"
#define DEF_GROUP	"fwctl"

struct config {
	const char	*socket;
	const char	*state_dir;
	const char	*rules_dir;
	bool		 rules_explicit;
	const char	*table;
	const char	*group;
	bool		 foreground;
	int		 log_level;
	bool		 flush_on_exit;
	struct history_limits hist;
	bool		 drift_keep;	/* --on-drift keep */
};

static int
parse_count(const char *s, unsigned *out)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 ||
	    v > 1000000)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static __attribute__((noreturn)) void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: fwctld [--socket PATH] [--state-dir DIR] [--rules-dir DIR]\n"
	    "              [--table NAME] [--group NAME] [--foreground]\n"
	    "              [--log-level LEVEL] [--flush-on-exit]\n"
	    "              [--history-keep N] [--history-days D]\n"
	    "              [--on-drift repair|keep]\n"
	    "              [--listen ADDR:PORT --tls-cert FILE --tls-key FILE "
	    "--tokens FILE]\n"
	    "              [--cors-origin ORIGIN]... [--ui-dir DIR] [--user NAME]\n"
	    "       fwctld -n[v] [--warnings-fatal] [--rules-dir DIR]\n");
	exit(status);
}

static void
log_diags(const struct diags *d)
{
	char	*s;
	size_t	 i;

	for (i = 0; i < d->n; i++) {
		s = diag_format(&d->v[i]);
		log_warnx("%s", s ? s : "out of memory");
		free(s);
	}
}

/* The rules directory as a valid ruleset, or NULL with every error logged. */
static struct ruleset *
load_rules_dir(const char *dir)
{
	struct ruleset	*rs;
	struct diags	 d;

	diags_init(&d);
	if (rulesdir_load(dir, &rs, &d) == -1) {
		log_diags(&d);
		log_warnx("%s: %zu error%s", dir, d.n, d.n == 1 ? "" : "s");
	}
	diags_free(&d);
	return rs;
}

/*
 * The ruleset to start with: the last accepted state, unless the rules
 * directory was named on the command line or there is no state.  A rules
 * directory that does not load, or that the kernel refuses, falls back to
 * the state; with neither we refuse to start rather than run open.
 */
static void
startup(struct engine *e, const struct config *cf)
{
	struct ruleset	*srs = NULL, *rrs = NULL, *prs = NULL, *rs;
	struct diags	 d;
	uint64_t	 sgen = 0, pgen = 0, gen;
	int		 have_state, pending;
	bool		 save, reverted = false, fresh;
	char		 what[160];

	diags_init(&d);
	have_state = state_load(cf->state_dir, &sgen, &srs, &d);
	if (d.n > 0)
		log_diags(&d);
	/* a fall back to the history: a new generation, a fresh snapshot */
	fresh = have_state == 2;
	if (fresh)
		/* state_load went back to the newest history snapshot that
		 * loads, before the rules directory is considered */
		log_warnx("%s: damaged state passed over; the newest history "
		    "snapshot that loads, with the journal records after it, "
		    "becomes generation %" PRIu64 " (changes after it are "
		    "lost; the log above says what did not load)",
		    cf->state_dir, sgen);
	else if (d.n > 0)
		log_warnx("%s: damaged state ignored", cf->state_dir);
	diags_free(&d);
	/* a replace that was never confirmed is undone by a restart: the
	 * ruleset before it is the state, as the next generation */
	diags_init(&d);
	if ((pending = state_pending_load(cf->state_dir, &pgen, &prs,
	    &d)) == -1) {
		log_diags(&d);
		log_warnx("%s: pending.json does not load: a change that was "
		    "never confirmed may stay; the file is kept for a look",
		    cf->state_dir);
	}
	diags_free(&d);
	if (pending == 1 && have_state && pgen == sgen) {
		log_warnx("generation %" PRIu64 " was never confirmed: the "
		    "ruleset before it is back, as generation %" PRIu64, sgen,
		    sgen + 1);
		ruleset_free(srs);
		srs = prs;
		prs = NULL;
		sgen++;
		reverted = true;
	} else if (pending == 1)
		log_info("%s: pending.json (generation %" PRIu64 ") is not "
		    "current; ignored", cf->state_dir, pgen);
	ruleset_free(prs);
	gen = sgen;
	if (have_state && !cf->rules_explicit) {
		rs = srs;
		srs = NULL;
		save = reverted || fresh;
		log_info("loaded state generation %" PRIu64 " from %s", gen,
		    cf->state_dir);
	} else if ((rrs = load_rules_dir(cf->rules_dir)) != NULL &&
	    have_state && rrs->nzones == 0 && srs->nzones > 0) {
		/* as a reload would be refused: an empty directory is more
		 * likely an accident than a wish to stop filtering */
		log_warnx("%s declares no zone: the last good ruleset, "
		    "generation %" PRIu64 ", stays; to stop filtering, use "
		    "`fwctl reload --allow-unfiltered`", cf->rules_dir, gen);
		ruleset_free(rrs);
		rs = srs;
		srs = NULL;
		save = reverted || fresh;
	} else if (rrs != NULL) {
		if (have_state && ruleset_equal(srs, rrs)) {
			/* same ruleset: same generation */
			ruleset_free(rrs);
			rs = srs;
			srs = NULL;
			save = reverted || fresh;
		} else {
			/* srs stays, in case the kernel refuses rrs */
			rs = rrs;
			gen++;
			save = true;
		}
		log_info("loaded rules from %s (generation %" PRIu64 ")",
		    cf->rules_dir, gen);
	} else if (have_state) {
		rs = srs;
		srs = NULL;
		save = reverted || fresh;
		log_warnx("keeping the last good ruleset, generation %" PRIu64,
		    gen);
	} else
		fatalx("%s does not load and there is no saved state: "
		    "not starting", cf->rules_dir);

	snprintf(what, sizeof(what), "%s %s", reverted ? "start: reverted "
	    "an unconfirmed change;" : "start:", rs == rrs ?
	    "loaded the rules directory" : fresh ? "the state was damaged; "
	    "loaded the newest good history" : "loaded the saved state");
	diags_init(&d);
	if (engine_start(e, rs, gen, save, what, &d) == -1) {
		log_diags(&d);
		diags_free(&d);
		if (srs == NULL)
			fatalx("cannot apply the ruleset to table inet %s",
			    cf->table);
		log_warnx("%s cannot be applied: keeping the last good "
		    "ruleset, generation %" PRIu64, cf->rules_dir, sgen);
		diags_init(&d);
		if (engine_start(e, srs, sgen, reverted || fresh, "start: the "
		    "rules directory was refused; kept the saved state",
		    &d) == -1) {
			log_diags(&d);
			fatalx("cannot apply the ruleset to table inet %s",
			    cf->table);
		}
		srs = NULL;
	}
	ruleset_free(srs);
	diags_free(&d);
	/* started: what it said is settled now */
	if (pending == 1) {
		diags_init(&d);
		if (state_pending_clear(cf->state_dir, &d) == -1)
			log_diags(&d);
		diags_free(&d);
	}
}

static void
reload(struct engine *e, const struct config *cf)
{
	struct change		 c;
	struct change_result	 res;

	log_info("reloading %s", cf->rules_dir);
	memset(&c, 0, sizeof(c));
	c.who = "SIGHUP";
	engine_reload(e, &c, &res);
	if (res.status != ENGINE_OK && res.status != ENGINE_CREATED) {
		log_diags(&res.diags);
		log_warnx("reload refused (%s): the running ruleset stays",
		    engine_status_name(res.status));
	}
	engine_result_free(&res);
	engine_trim(e);
}

int
main(int argc, char *argv[])
{
	enum {
		OPT_SOCKET = 256, OPT_STATE, OPT_RULES, OPT_TABLE, OPT_GROUP,
		OPT_FG, OPT_LOGLEVEL, OPT_LISTEN, OPT_TLSCERT, OPT_TLSKEY,
		OPT_TOKENS, OPT_CORS, OPT_UIDIR, OPT_FLUSH, OPT_VERSION,
		OPT_HKEEP, OPT_HDAYS, OPT_DRIFT, OPT_WFATAL, OPT_USER,
	};
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "rules-dir", required_argument, NULL, OPT_RULES },
		{ "table", required_argument, NULL, OPT_TABLE },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "foreground", no_argument, NULL, OPT_FG },
		{ "log-level", required_argument, NULL, OPT_LOGLEVEL },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "tls-cert", required_argument, NULL, OPT_TLSCERT },
		{ "tls-key", required_argument, NULL, OPT_TLSKEY },
		{ "tokens", required_argument, NULL, OPT_TOKENS },
		{ "cors-origin", required_argument, NULL, OPT_CORS },
		{ "ui-dir", required_argument, NULL, OPT_UIDIR },
		{ "user", required_argument, NULL, OPT_USER },
		{ "flush-on-exit", no_argument, NULL, OPT_FLUSH },
		{ "history-keep", required_argument, NULL, OPT_HKEEP },
		{ "history-days", required_argument, NULL, OPT_HDAYS },
		{ "on-drift", required_argument, NULL, OPT_DRIFT },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "warnings-fatal", no_argument, NULL, OPT_WFATAL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config		 cf = {
		.socket = NULL,
		.state_dir = DEF_STATE_DIR,
		.rules_dir = DEF_RULES_DIR,
		.table = DEF_TABLE,
		.group = DEF_GROUP,
		.log_level = LOG_INFO,
		.hist = { HISTORY_KEEP, HISTORY_DAYS },
	};
	struct api_config	 ac;
	struct signalfd_siginfo	 si;
	struct pollfd		 pfd[3];
	struct engine		*e;
	struct api		*api;
	struct diags		 d;
	sigset_t		 sigs;
	const char		*listen_addr = NULL, *tls_cert = NULL;
	const char		*tls_key = NULL, *tokens = NULL;
	bool			 check = false, verbose = false, wfatal = false;
	int			 ch, sfd;
	ssize_t			 n;

	/*
	 * Fixed thresholds: left to itself, glibc raises them to twice the
	 * largest block freed (a whole ruleset's netlink batch), and then
	 * keeps up to 64 MB of freed memory after every full apply.  Large
	 * buffers get their own mappings, and free memory above 4 MB at the
	 * top of a heap goes back at once.
	 */
	memset(&ac, 0, sizeof(ac));
	(void)mallopt(M_MMAP_THRESHOLD, 256 << 10);
	(void)mallopt(M_TRIM_THRESHOLD, 4 << 20);
	/* one heap: the work is done by one thread at a time, and memory
	 * freed by one is not kept in another's arena */
	(void)mallopt(M_ARENA_MAX, 1);
	/* fwctld's HTTP front, started by fwctld itself (privsep.h) */
	if (argc == 2 && strcmp(argv[1], "--front") == 0)
		front_main();

	while ((ch = getopt_long(argc, argv, "nvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		case OPT_SOCKET:
			cf.socket = optarg;
			break;
		case OPT_STATE:
			cf.state_dir = optarg;
			break;
		case OPT_RULES:
			cf.rules_dir = optarg;
			cf.rules_explicit = true;
			break;
		case OPT_TABLE:
			cf.table = optarg;
			break;
		case OPT_GROUP:
			cf.group = optarg;
			break;
		case OPT_FG:
			cf.foreground = true;
			break;
		case OPT_LOGLEVEL:
			if ((cf.log_level = log_level_parse(optarg)) == -1) {
				fprintf(stderr, "fwctld: unknown log level %s "
				    "(debug, info, notice, warning, err)\n",
				    optarg);
				return 2;
			}
			break;
		case OPT_LISTEN:
			listen_addr = optarg;
			break;
		case OPT_TLSCERT:
			tls_cert = optarg;
			break;
		case OPT_TLSKEY:
			tls_key = optarg;
			break;
		case OPT_TOKENS:
			tokens = optarg;
			break;
		case OPT_CORS:
			if (ac.ncors == API_CORS_MAX) {
				fprintf(stderr, "fwctld: at most %d "
				    "--cors-origin\n", API_CORS_MAX);
				return 2;
			}
			ac.cors[ac.ncors++] = optarg;
			break;
		case OPT_UIDIR:
			ac.ui_dir = optarg;
			break;
		case OPT_USER:
			ac.front_user = optarg;
			break;
		case OPT_FLUSH:
			cf.flush_on_exit = true;
			break;
		case OPT_DRIFT:
			if (strcmp(optarg, "repair") != 0 &&
			    strcmp(optarg, "keep") != 0) {
				fprintf(stderr, "fwctld: --on-drift: expected "
				    "repair or keep, got %s\n", optarg);
				return 2;
			}
			cf.drift_keep = strcmp(optarg, "keep") == 0;
			break;
		case OPT_HKEEP:
		case OPT_HDAYS:
			if (parse_count(optarg, ch == OPT_HKEEP ?
			    &cf.hist.keep : &cf.hist.days) == -1) {
				fprintf(stderr, "fwctld: --%s: expected a "
				    "number, 0 for no bound, got %s\n", ch ==
				    OPT_HKEEP ? "history-keep" : "history-days",
				    optarg);
				return 2;
			}
			break;
		case OPT_VERSION:
			printf("fwctld %s\n", FWCTL_VERSION);
			return 0;
		case OPT_WFATAL:
			wfatal = true;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (check)
		return check_main(cf.rules_dir, verbose, wfatal, stdout,
		    stderr);
	if (verbose || wfatal)
		usage(2);
	if ((listen_addr != NULL) != (tls_cert != NULL) ||
	    (listen_addr != NULL) != (tls_key != NULL) ||
	    (listen_addr != NULL) != (tokens != NULL)) {
		fprintf(stderr, "fwctld: --listen, --tls-cert, --tls-key and "
		    "--tokens go together\n");
		return 2;
	}
	if (cf.socket == NULL && (cf.socket = getenv("FWCTL_SOCKET")) == NULL)
		cf.socket = DEF_SOCKET;
	if (!name_valid(cf.table)) {
		fprintf(stderr, "fwctld: invalid table name %s\n", cf.table);
		return 2;
	}

	/* start-up errors go to stderr whatever happens later */
	log_init("fwctld", true, cf.log_level);

	/* signals are read from a signalfd; no thread may take them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0)
		fatal("sigprocmask");
	signal(SIGPIPE, SIG_IGN);

	/* what root keeps its state in must be root's alone */
	diags_init(&d);
	if ((mkdir(cf.state_dir, 0750) == -1 && errno != EEXIST) ||
	    trust_dir(cf.state_dir, "state directory", &d) == -1) {
		if (d.n == 0)
			diags_add(&d, NULL, "%s: %s", cf.state_dir,
			    strerror(errno));
		log_diags(&d);
		fatalx("not starting: the state directory could be turned "
		    "against root");
	}
	diags_free(&d);

	ac.socket_path = cf.socket;
	ac.group = cf.group;
	ac.listen = listen_addr;
	ac.tls_cert = tls_cert;
	ac.tls_key = tls_key;
	ac.tokens = tokens;
	ac.log_level = cf.log_level;
	diags_init(&d);
	/* configuration errors stop us before the kernel is touched */
	if ((api = api_new(&ac, &d)) == NULL) {
		log_diags(&d);
		fatalx("cannot set up the API");
	}
	if ((e = engine_new(cf.table, cf.state_dir, &d)) == NULL) {
		log_diags(&d);
		fatalx("cannot open the netlink socket");
	}
	if (engine_set_rules_dir(e, cf.rules_dir) == -1)
		fatalx("out of memory");
	engine_set_history(e, &cf.hist);
	engine_set_drift_policy(e, cf.drift_keep);
	startup(e, &cf);

	if (!cf.foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("fwctld", false, cf.log_level);
	}
	if ((sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) == -1)
		fatal("signalfd");

	if (api_prepare(api, &d) == -1) {
		log_diags(&d);
		fatalx("cannot serve the API");
	}
	/* from here on: the kernel's table and our files, nothing else */
	if (privsep_drop(&d) == -1) {
		log_diags(&d);
		fatalx("cannot drop privileges");
	}
	if (api_serve(api, e, &d) == -1) {
		log_diags(&d);
		fatalx("cannot serve the API");
	}
	diags_free(&d);
	sd_notifyf(0, "READY=1\nSTATUS=serving generation %" PRIu64
	    " on %s\nMAINPID=%lu", engine_generation(e), cf.socket,
	    (unsigned long)getpid());

	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = engine_timer_fd(e);
	pfd[1].events = POLLIN;
	/* only its end: the starter of HTTP fronts is gone */
	pfd[2].fd = api_starter_fd(api);
	pfd[2].events = 0;
	for (;;) {
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[2].revents & (POLLHUP | POLLERR)) {
			/* without it no front can be started again, and
			 * fwctld cannot make another (it holds CAP_NET_ADMIN
			 * alone): out, to be started again whole */
			log_warnx("the starter of HTTP fronts is gone: exiting "
			    "to be started again; table inet %s stays in the "
			    "kernel", cf.table);
			sd_notify(0, "STOPPING=1");
			api_stop(api);
			engine_free(e, false);
			close(sfd);
			return 1;
		}
		if (pfd[1].revents & POLLIN) {
			/* a replace was not confirmed in time */
			engine_timer(e);
			sd_notifyf(0, "STATUS=serving generation %" PRIu64
			    " on %s", engine_generation(e), cf.socket);
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		n = read(sfd, &si, sizeof(si));
		if (n != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			sd_notify(0, "RELOADING=1");
			reload(e, &cf);
			sd_notifyf(0, "READY=1\nSTATUS=serving generation %"
			    PRIu64 " on %s", engine_generation(e), cf.socket);
			continue;
		}
		break;
	}
	log_info("exiting on signal %u; table inet %s %s", si.ssi_signo,
	    cf.table, cf.flush_on_exit ? "removed" : "stays in the kernel");
	sd_notify(0, "STOPPING=1");
	api_stop(api);
	engine_free(e, cf.flush_on_exit);
	close(sfd);
	return 0;
}
