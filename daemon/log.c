/*
 * Logging.  In the foreground (as under systemd) messages go to stderr,
 * which the journal collects; otherwise to syslog.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static bool	log_fg = true;
static int	log_maxlevel = LOG_INFO;
static const char *log_ident = "fwctld";
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

void
log_init(const char *ident, bool foreground, int level)
{
	log_ident = ident;
	log_fg = foreground;
	log_maxlevel = level;
	if (!foreground)
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
	if (log_fg) {
		pthread_mutex_lock(&log_mtx);
		fprintf(stderr, "%s: %s\n", log_ident, buf);
		fflush(stderr);
		pthread_mutex_unlock(&log_mtx);
	} else
		syslog(level, "%s", buf);
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
