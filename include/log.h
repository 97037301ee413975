/*
 * log.c: stderr in the foreground (the journal when stderr is the journal);
 * in the background syslog, else the journal, else the stderr fwctld was
 * started with, else the kernel log.  Never nowhere.
 */
#ifndef FWCTL_LOG_H
#define FWCTL_LOG_H

#include <stdbool.h>

/* Levels are syslog's: LOG_ERR .. LOG_DEBUG.  Call it again after
 * daemon(): the first call keeps a copy of stderr for the background. */
void	 log_init(const char *ident, bool foreground, int level);
/* Every line goes to sink(level, text) instead (the HTTP front sends
 * its lines to fwctld, which logs them); NULL: back to the destination. */
void	 log_set_sink(void (*sink)(int, const char *));
/* "debug", "info", "notice", "warning", "err"; -1 when unknown. */
int	 log_level_parse(const char *);
void	 log_setlevel(int);
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Appends ": strerror(errno)". */
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Start-up only: logs and exits 1. */
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
