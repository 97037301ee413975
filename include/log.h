/* log.c: syslog, or stderr when running in the foreground. */
#ifndef FWCTL_LOG_H
#define FWCTL_LOG_H

#include <stdbool.h>

/* Levels are syslog's: LOG_ERR .. LOG_DEBUG. */
void	 log_init(const char *ident, bool foreground, int level);
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
