/*
 * Logging that always lands somewhere a person can read it.
 *
 * In the foreground messages go to stderr, unless stderr is the journal
 * (systemd says so in $JOURNAL_STREAM): then to the journal natively, so
 * that each line keeps its priority.  In the background they go to
 * syslog when /dev/log takes them, else to the journal when journald
 * runs, else to the stderr fwctld was started with (kept open across
 * daemon()), else to the kernel log.  A message the journal refuses goes
 * to stderr instead.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_DEVLOG	"/dev/log"
#define LOG_JOURNAL	"/run/systemd/journal/socket"

enum log_dest {
	LOG_TO_STDERR,
	LOG_TO_JOURNAL,
	LOG_TO_SYSLOG,
	LOG_TO_KMSG,
};

static enum log_dest	 log_dest = LOG_TO_STDERR;
static int		 log_maxlevel = LOG_INFO;
static const char	*log_ident = "fwctld";
/* stderr as it was at the first log_init, before daemon() closes it */
static int		 log_errfd = -1;
/* One line per message even when API threads log at the same time. */
static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;

static const struct {
	const char	*name;
	int		 level;
} log_levels[] = {
	{ "debug", LOG_DEBUG },
	{ "info", LOG_INFO },
	{ "notice", LOG_NOTICE },
	{ "warning", LOG_WARNING },
	{ "warn", LOG_WARNING },
	{ "err", LOG_ERR },
	{ "error", LOG_ERR },
};

/* Whether fd is the stream systemd connected to the journal. */
static bool
log_fd_is_journal(int fd)
{
	const char		*env = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(fd, &st) == -1)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* Whether a datagram socket at path takes a connection: a reader is there. */
static bool
log_socket_answers(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd, rc;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
}

/* Whether fd is open on something other than /dev/null. */
static bool
log_fd_useful(int fd)
{
	struct stat	 st;

	if (fd == -1 || fstat(fd, &st) == -1)
		return false;
	return !(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
}

/* Where the background goes: the first place that is there. */
static enum log_dest
log_pick_background(void)
{
	if (log_socket_answers(LOG_DEVLOG))
		return LOG_TO_SYSLOG;
	if (log_socket_answers(LOG_JOURNAL))
		return LOG_TO_JOURNAL;
	if (log_fd_useful(log_errfd))
		return LOG_TO_STDERR;
	return LOG_TO_KMSG;
}

void
log_init(const char *ident, bool foreground, int level)
{
	log_ident = ident;
	log_maxlevel = level;
	/* a descriptor of our own: daemon() points fd 2 at /dev/null */
	if (log_errfd == -1)
		log_errfd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (foreground)
		log_dest = log_fd_is_journal(STDERR_FILENO) ? LOG_TO_JOURNAL :
		    LOG_TO_STDERR;
	else
		log_dest = log_pick_background();
	if (log_dest == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_level_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcmp(s, log_levels[i].name) == 0)
			return log_levels[i].level;
	return -1;
}

void
log_setlevel(int level)
{
	log_maxlevel = level;
}

/* "<level>ident[pid]: msg", the kernel log's own way of taking a priority. */
static bool
log_kmsg(int level, const char *msg)
{
	int	 fd;
	bool	 ok;

	if ((fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)) == -1)
		return false;
	ok = dprintf(fd, "<%d>%s[%ld]: %s\n", LOG_DAEMON | level, log_ident,
	    (long)getpid(), msg) > 0;
	close(fd);
	return ok;
}

static void
log_stderr(const char *msg)
{
	int	 fd = log_errfd != -1 ? log_errfd : STDERR_FILENO;

	pthread_mutex_lock(&log_mtx);
	(void)!dprintf(fd, "%s: %s\n", log_ident, msg);
	pthread_mutex_unlock(&log_mtx);
}

static void		(*log_sink)(int, const char *);

void
log_set_sink(void (*sink)(int, const char *))
{
	log_sink = sink;
}

static void
log_emit(int level, const char *msg)
{
	if (log_sink != NULL) {
		log_sink(level, msg);
		return;
	}
	switch (log_dest) {
	case LOG_TO_SYSLOG:
		syslog(level, "%s", msg);
		return;
	case LOG_TO_JOURNAL:
		if (sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level,
		    "SYSLOG_IDENTIFIER=%s", log_ident, NULL) >= 0)
			return;
		break;
	case LOG_TO_KMSG:
		if (log_kmsg(level, msg))
			return;
		break;
	case LOG_TO_STDERR:
		break;
	}
	log_stderr(msg);
}

static void
log_vwrite(int level, const char *fmt, va_list ap, int errnum)
{
	char	 buf[4096];
	int	 n;

	if (level > log_maxlevel)
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	if (errnum != 0 && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(errnum));
	log_emit(level, buf);
}

#define LOG_FN(fn, level)				\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list	 ap;					\
							\
	va_start(ap, fmt);				\
	log_vwrite(level, fmt, ap, 0);			\
	va_end(ap);					\
}

LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_notice, LOG_NOTICE)
LOG_FN(log_warnx, LOG_WARNING)

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, saved);
	va_end(ap);
	exit(1);
}
