/* SPDX-License-Identifier: ISC */
/*
 * util.c -- small helpers shared by every binary: token comparison, times,
 * host:port parsing, error codes and the names of enumerated values.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol.h"
#include "msg-table.h"

const char *const proto_code_names[] = {
	"ok", "bad_json", "bad_field", "unknown_type", "line_too_long",
	"bad_version", "unauthorized", "forbidden", "not_found", "conflict",
	"busy", "internal", NULL
};

const char *const proto_priority_names[] = {
	"low", "normal", "high", "urgent", NULL
};

const char *const proto_task_status_names[] = {
	"queued", "assigned", "running", "completed", "failed", "timed_out",
	"cancelled", "waiting", "held", NULL
};
_Static_assert(sizeof proto_task_status_names /
    sizeof proto_task_status_names[0] == TASK__COUNT + 1,
    "a name for every task state");

const char *const proto_device_state_names[] = {
	"online", "busy", "paused", "offline", "pending", "draining", NULL
};
_Static_assert(sizeof proto_device_state_names /
    sizeof proto_device_state_names[0] == DEVICE__COUNT + 1,
    "a name for every device state");

const char *const proto_task_type_names[] = {
	"command", "container", NULL
};

/* Find s in a NULL-terminated name list; -1 if absent. */
static int
util_find_name(const char *const *names, const char *s)
{
	int	i;

	if (s == NULL)
		return (-1);
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], s) == 0)
			return (i);
	}
	return (-1);
}

/*
 * Compare two tokens in time that depends only on their lengths: every byte
 * of the longer one is looked at, whatever differs first.
 */
int
proto_token_equal(const char *a, const char *b)
{
	size_t			la, lb, n, i;
	volatile unsigned int	diff;
	unsigned char		ca, cb;

	if (a == NULL || b == NULL)
		return (0);
	la = strlen(a);
	lb = strlen(b);
	n = la > lb ? la : lb;
	diff = (la != lb);
	for (i = 0; i < n; i++) {
		ca = (unsigned char)a[i < la ? i : 0];
		cb = (unsigned char)b[i < lb ? i : 0];
		diff |= ca ^ cb;
	}
	return (diff == 0);
}

/* Format the current time as ISO 8601 UTC. */
char *
proto_timestamp(char *buf, size_t size)
{
	return (proto_format_time((int64_t)time(NULL), buf, size));
}

/* Format Unix seconds as ISO 8601 UTC; "" for 0. */
char *
proto_format_time(int64_t t, char *buf, size_t size)
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (size == 0)
		return (buf);
	buf[0] = '\0';
	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		return (buf);
	if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
	return (buf);
}

/* Check a port is 1..65535 written in digits. */
static int
util_port_ok(const char *p)
{
	size_t	i, n = strlen(p);

	if (n == 0 || n > 5)
		return (0);
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return (0);
	}
	n = strtoul(p, NULL, 10);
	return (n >= 1 && n <= 65535);
}

/* Split "host:port", "[v6]:port", "[v6]", "v6" or "host". */
int
proto_parse_hostport(const char *s, const char *defport, char **host,
    char **port, char **cause)
{
	const char	*colon, *end, *p = NULL;
	char		*h = NULL;

	*host = *port = NULL;
	if (s == NULL || *s == '\0') {
		xasprintf(cause, "empty address: give HOST:PORT, e.g. "
		    "192.168.1.10:7070");
		return (-1);
	}
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL) {
			xasprintf(cause, "bad address \"%s\": missing ']' "
			    "after the IPv6 address", s);
			return (-1);
		}
		h = xstrndup(s + 1, end - s - 1);
		if (end[1] == ':')
			p = end + 2;
		else if (end[1] != '\0') {
			xasprintf(cause, "bad address \"%s\": expected "
			    "\"[ADDRESS]:PORT\"", s);
			goto fail;
		}
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		h = xstrndup(s, colon - s);
		p = colon + 1;
	} else
		h = xstrdup(s);	/* a name, or a bare IPv6 address */

	if (*h == '\0') {
		xasprintf(cause, "bad address \"%s\": the host is missing "
		    "(use 0.0.0.0:PORT for every address)", s);
		goto fail;
	}
	if (p == NULL)
		p = defport;
	if (p == NULL) {
		xasprintf(cause, "bad address \"%s\": the port is missing, "
		    "give HOST:PORT", s);
		goto fail;
	}
	if (!util_port_ok(p)) {
		xasprintf(cause, "bad address \"%s\": the port must be a "
		    "number from 1 to 65535", s);
		goto fail;
	}
	*host = h;
	*port = xstrdup(p);
	return (0);

fail:
	free(h);
	return (-1);
}

/* Fill an error with a code and a formatted message. */
void
proto_err_set(struct proto_err *err, enum proto_code code, const char *fmt,
    ...)
{
	va_list	ap;

	if (err == NULL)
		return;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
}

/* Name of an error code, "internal" if out of range. */
const char *
proto_code_name(enum proto_code code)
{
	if ((int)code < 0 || code >= PROTO__COUNT)
		return ("internal");
	return (proto_code_names[code]);
}

/* Error code from its name; PROTO_INTERNAL if unknown. */
enum proto_code
proto_code_from_name(const char *s)
{
	int	i = util_find_name(proto_code_names, s);

	return (i < 0 ? PROTO_INTERNAL : (enum proto_code)i);
}

/* Name of a task type. */
const char *
proto_task_type_name(enum proto_task_type t)
{
	if ((int)t < 0 || t > TASK_TYPE_CONTAINER)
		return ("command");
	return (proto_task_type_names[t]);
}

/* Task type from its name; -1 if bad. */
int
proto_task_type_from_name(const char *s)
{
	return (util_find_name(proto_task_type_names, s));
}

/* Name of a priority. */
const char *
proto_priority_name(enum proto_priority p)
{
	if ((int)p < 0 || p > PRIO_URGENT)
		return ("normal");
	return (proto_priority_names[p]);
}

/* Priority from its name; -1 if bad. */
int
proto_priority_from_name(const char *s)
{
	return (util_find_name(proto_priority_names, s));
}

/* Name of a task status. */
const char *
proto_task_status_name(enum proto_task_status st)
{
	if ((int)st < 0 || st >= TASK__COUNT)
		return ("unknown");
	return (proto_task_status_names[st]);
}

/* 1 if a task in this state has ended for good. */
int
proto_task_status_is_final(enum proto_task_status st)
{
	return (st >= TASK_FINAL_FIRST && st <= TASK_FINAL_LAST);
}

/* 1 if the named state is final; an unknown name is not. */
int
proto_task_state_name_is_final(const char *s)
{
	int	st = util_find_name(proto_task_status_names, s);

	return (st >= 0 && proto_task_status_is_final(st));
}

/* Name of a device state. */
const char *
proto_device_state_name(enum proto_device_state st)
{
	if ((int)st < 0 || st >= DEVICE__COUNT)
		return ("unknown");
	return (proto_device_state_names[st]);
}

/* Device state from its name; -1 if bad. */
int
proto_device_state_from_name(const char *s)
{
	return (util_find_name(proto_device_state_names, s));
}

/* Task status from its name; -1 if bad. */
int
proto_task_status_from_name(const char *s)
{
	return (util_find_name(proto_task_status_names, s));
}

/* 1 if s is a SHA-256 in 64 lowercase hex digits. */
int
proto_sha256_ok(const char *s)
{
	size_t	i;

	if (s == NULL)
		return (0);
	for (i = 0; i < PROTO_SHA256_HEX; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return (0);
	}
	return (s[i] == '\0');
}

/*
 * 1 if name can be a task's file: a relative path that stays inside the
 * working directory whatever it is joined to.
 */
int
proto_file_name_ok(const char *name, const char **why)
{
	const char	*p, *seg;
	size_t		 n;
	const char	*dummy;

	if (why == NULL)
		why = &dummy;
	if (name == NULL || *name == '\0') {
		*why = "is empty";
		return (0);
	}
	if (strlen(name) > PROTO_FILE_NAME_MAX) {
		*why = "is longer than 1024 bytes";
		return (0);
	}
	if (*name == '/') {
		*why = "is absolute (names are relative to the task's "
		    "working directory)";
		return (0);
	}
	for (p = name; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*why = "has a control character";
			return (0);
		}
	}
	for (seg = name; ; seg = p + 1) {
		p = strchr(seg, '/');
		n = p != NULL ? (size_t)(p - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.')) {
			*why = "has an empty, \".\" or \"..\" component";
			return (0);
		}
		if (p == NULL)
			break;
	}
	return (1);
}

/* Free a list of files. */
void
proto_files_free(struct proto_file *f, size_t n)
{
	size_t	i;

	for (i = 0; f != NULL && i < n; i++) {
		free(f[i].name);
		free(f[i].sha256);
	}
	free(f);
}

/* A deep copy of a list of files (NULL for none). */
struct proto_file *
proto_files_copy(const struct proto_file *f, size_t n)
{
	struct proto_file	*c;
	size_t			 i;

	if (n == 0)
		return (NULL);
	c = xcalloc(n, sizeof *c);
	for (i = 0; i < n; i++) {
		c[i].name = xstrdup(f[i].name);
		c[i].sha256 = xstrdup(f[i].sha256);
		c[i].size = f[i].size;
		c[i].mode = f[i].mode;
	}
	return (c);
}
