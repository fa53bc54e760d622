/* SPDX-License-Identifier: ISC */
/*
 * log.c -- one line per event, with a time, the program, its pid and a
 * level, to stderr (journald picks it up).  Events are written as
 * key=value pairs; peer-supplied strings go through log_sanitize().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "protocol.h"

int		 log_level = LOG_INFO;
static const char *log_prog = "encore";

static const char *log_names[] = { "error", "warn", "info", "debug" };

/* Route libevent's own warnings into our log. */
static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("event=libevent msg=\"%s\"", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("event=libevent msg=\"%s\"", msg);
		break;
	case EVENT_LOG_WARN:
		log_warn("event=libevent msg=\"%s\"", msg);
		break;
	default:
		log_error("event=libevent msg=\"%s\"", msg);
		break;
	}
}

/* Set the program name and level; hook libevent's log. */
void
log_init(const char *prog, int level)
{
	log_prog = prog;
	log_level = level;
	event_set_log_callback(log_event_cb);
}

/* Parse a level name; -1 if unknown. */
int
log_level_parse(const char *s)
{
	size_t	i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcmp(s, log_names[i]) == 0)
			return ((int)i);
	}
	if (strcmp(s, "warning") == 0)
		return (LOG_WARN);
	return (-1);
}

static void
log_vwrite(int level, const char *fmt, va_list ap, const char *suffix)
{
	char		 tbuf[32], msg[2048];
	struct timespec	 ts;
	struct tm	 tm;
	int		 saved = errno;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* One event, one line: never let a newline through. */
	for (char *p = msg; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	fprintf(stderr, "%s.%03ldZ %s[%ld] %s: %s%s%s\n", tbuf,
	    ts.tv_nsec / 1000000, log_prog, (long)getpid(),
	    log_names[level < 0 ? 0 : level > LOG_DEBUG ? LOG_DEBUG : level],
	    msg, suffix != NULL ? ": " : "", suffix != NULL ? suffix : "");
	fflush(stderr);
	errno = saved;
}

/* Log one event at a level (the level check is in the macros). */
void
log_msg(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(level, fmt, ap, NULL);
	va_end(ap);
}

/* Escape control characters, quotes and backslashes of a peer string. */
char *
log_sanitize(const char *s, char *buf, size_t size)
{
	size_t	o = 0;

	if (size == 0)
		return (buf);
	if (s == NULL)
		s = "";
	for (; *s != '\0' && o + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
			o += snprintf(buf + o, size - o, "\\x%02x", c);
		} else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return (buf);
}

/* Log with strerror(errno) and exit. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERROR, fmt, ap, strerror(errno));
	va_end(ap);
	exit(1);
}

/* Log and exit. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERROR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
