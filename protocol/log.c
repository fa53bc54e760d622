/* SPDX-License-Identifier: ISC */
/*
 * log.c -- one line per event, with a time, the program, its pid and a
 * level, to stderr (journald picks it up).  Events are written as
 * key=value pairs; peer-supplied strings go through log_sanitize().
 */
#include <errno.h>
#include <pthread.h>
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

#define LOG_MSG_MAX	2048		/* a message, with its NUL */

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

/* The pid, asked once (getpid() is a system call) and again in a child
 * made by fork(). */
static pid_t	 log_pid;

static void
log_forked(void)
{
	log_pid = getpid();
}

static pid_t
log_getpid(void)
{
	if (log_pid == 0) {
		log_pid = getpid();
		pthread_atfork(NULL, NULL, log_forked);
	}
	return (log_pid);
}

/*
 * Write one line with one write(2): the time (formatted once a second),
 * the program, the pid, the level, the message (at most LOG_MSG_MAX - 1
 * bytes, newlines made spaces) and an optional ": suffix".
 */
static void
log_vwrite(int level, const char *fmt, va_list ap, const char *suffix)
{
	static time_t	 tsec = -1;
	static char	 tbuf[32];
	char		 line[LOG_MSG_MAX + 256];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 len, msg, room;
	ssize_t		 n;
	int		 saved = errno, r;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != tsec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
		tsec = ts.tv_sec;
	}
	r = snprintf(line, sizeof line, "%s.%03ldZ %s[%ld] %s: ", tbuf,
	    ts.tv_nsec / 1000000, log_prog, (long)log_getpid(),
	    log_names[level < 0 ? 0 : level > LOG_DEBUG ? LOG_DEBUG : level]);
	len = r < 0 ? 0 : (size_t)r < sizeof line - LOG_MSG_MAX ?
	    (size_t)r : sizeof line - LOG_MSG_MAX - 1;
	r = vsnprintf(line + len, LOG_MSG_MAX, fmt, ap);
	msg = r < 0 ? 0 : (size_t)r < LOG_MSG_MAX ? (size_t)r : LOG_MSG_MAX - 1;
	/* One event, one line: never let a newline through. */
	for (char *p = line + len; p < line + len + msg; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	len += msg;
	room = sizeof line - len - 1;		/* keep one byte for \n */
	r = snprintf(line + len, room + 1, "%s%s",
	    suffix != NULL ? ": " : "", suffix != NULL ? suffix : "");
	len += r < 0 ? 0 : (size_t)r < room ? (size_t)r : room;
	line[len++] = '\n';
	for (size_t off = 0; off < len; off += (size_t)n) {
		n = write(STDERR_FILENO, line + off, len - off);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n <= 0)
			break;
	}
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
