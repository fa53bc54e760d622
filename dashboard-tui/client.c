/* SPDX-License-Identifier: ISC */
/*
 * client.c -- operator connections to the main node: where to connect, which
 * token to use, connecting, building requests, reading replies and events.
 * The blocking session (struct client) is the CLI's; the pieces under it
 * (client_connect, client_msg_init, client_reply_result) suit an event loop.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "client.h"

/* Bytes asked of the socket per read: big replies come in few reads. */
#define CLIENT_READ_CHUNK	(256 * 1024)

/* What client_io_read/_write return besides bytes, 0 (end) and -1. */
#define CLIENT_IO_WANT_READ	-2	/* wait until the socket is readable */
#define CLIENT_IO_WANT_WRITE	-3	/* wait until it is writable */

/* Resolve the main node address. */
const char *
client_main_address(const char *flag)
{
	const char	*env;

	if (flag != NULL && *flag != '\0')
		return (flag);
	env = getenv("ENCORE_MAIN");
	if (env != NULL && *env != '\0')
		return (env);
	return (CLIENT_DEFAULT_MAIN);
}

/* Free an array of strings. */
void
client_free_strings(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Directories where a main node on this host keeps operator.token. */
char **
client_token_dirs(size_t *n)
{
	char		**v;
	const char	 *xdg, *home;
	char		 *user = NULL;

	v = xcalloc(2, sizeof *v);
	xdg = getenv("XDG_STATE_HOME");
	home = getenv("HOME");
	if (xdg != NULL && *xdg == '/')
		xasprintf(&user, "%s/encore", xdg);
	else if (home != NULL && *home != '\0')
		xasprintf(&user, "%s/.local/state/encore", home);

	*n = 0;
	/* Our own kind of state directory first, then the other one. */
	if (geteuid() == 0) {
		v[(*n)++] = xstrdup("/var/lib/encore");
		if (user != NULL)
			v[(*n)++] = user;
	} else {
		if (user != NULL)
			v[(*n)++] = user;
		v[(*n)++] = xstrdup("/var/lib/encore");
	}
	return (v);
}

/* Read the first line of a token file; NULL if unreadable or empty. */
static char *
client_read_token(const char *path)
{
	char	*cause = NULL, *t;

	t = client_read_token_file(path, &cause);
	free(cause);
	return (t);
}

/* Read a token file's first line. */
char *
client_read_token_file(const char *path, char **cause)
{
	FILE	*f;
	char	 buf[PROTO_TOKEN_MAX + 2], *token;
	size_t	 len;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "cannot read the token file %s: %s", path,
		    strerror(errno));
		return (NULL);
	}
	if (fgets(buf, sizeof buf, f) == NULL) {
		fclose(f);
		xasprintf(cause, "the token file %s is empty", path);
		return (NULL);
	}
	fclose(f);
	if (strchr(buf, '\n') == NULL && strlen(buf) > PROTO_TOKEN_MAX) {
		xasprintf(cause, "the first line of the token file %s is "
		    "longer than a token (%d bytes)", path, PROTO_TOKEN_MAX);
		return (NULL);
	}
	len = strcspn(buf, "\r\n \t");
	buf[len] = '\0';
	if (len == 0) {
		xasprintf(cause, "the token file %s has no token on its first "
		    "line", path);
		return (NULL);
	}
	token = xstrdup(buf);
	explicit_bzero(buf, sizeof buf);
	return (token);
}

/* Find the operator token. */
char *
client_find_token(const char *flag, const char *file_flag, char **cause)
{
	const char	 *env;
	char		**dirs, *path, *token = NULL;
	size_t		  n, i;

	*cause = NULL;
	if (flag != NULL && *flag != '\0')
		return (xstrdup(flag));
	if (file_flag != NULL && *file_flag != '\0')
		return (client_read_token_file(file_flag, cause));
	env = getenv("ENCORE_TOKEN");
	if (env != NULL && *env != '\0')
		return (xstrdup(env));
	env = getenv("ENCORE_TOKEN_FILE");
	if (env != NULL && *env != '\0')
		return (client_read_token_file(env, cause));

	dirs = client_token_dirs(&n);
	for (i = 0; i < n && token == NULL; i++) {
		xasprintf(&path, "%s/%s", dirs[i], CLIENT_TOKEN_FILE);
		token = client_read_token(path);
		free(path);
	}
	client_free_strings(dirs, n);
	return (token);
}

/* Monotonic milliseconds. */
int64_t
client_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Request timeout from a flag or the environment. */
int
client_timeout_parse(const char *flag)
{
	const char	*s = flag;
	char		*end;
	long		 v;

	if (s == NULL && ((s = getenv("ENCORE_REQUEST_TIMEOUT")) == NULL ||
	    *s == '\0'))
		return (CLIENT_TIMEOUT_MS);
	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 1 ||
	    v > CLIENT_TIMEOUT_MAX)
		return (-1);
	return ((int)v * 1000);
}

/* Finish a non-blocking connect within timeout_ms; 0 or an errno. */
static int
client_connect_wait(int fd, int timeout_ms)
{
	struct pollfd	pfd;
	int64_t		deadline = client_now_ms() + timeout_ms, left;
	socklen_t	len;
	int		n, error;

	for (;;) {
		left = deadline - client_now_ms();
		if (left <= 0)
			return (ETIMEDOUT);
		pfd.fd = fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (errno);
		if (n == 0)
			return (ETIMEDOUT);
		break;
	}
	len = sizeof error;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		return (errno);
	return (error);
}

/* Connect to host:port; returns a blocking fd or -1 with *cause. */
int
client_connect(const char *addr, int timeout_ms, char **cause)
{
	struct addrinfo	 hints, *res, *ai;
	char		*host = NULL, *port = NULL;
	int		 fd = -1, error, saved = 0;

	if (proto_parse_hostport(addr, CLIENT_DEFAULT_PORT, &host, &port,
	    cause) != 0)
		return (-1);

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	error = getaddrinfo(host, port, &hints, &res);
	if (error != 0) {
		xasprintf(cause, "%s", gai_strerror(error));
		goto out;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			saved = 0;
		else if (errno == EINPROGRESS)
			saved = client_connect_wait(fd, timeout_ms);
		else
			saved = errno;
		if (saved == 0) {
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1 && saved == ETIMEDOUT)
		xasprintf(cause, "no answer within %d s", timeout_ms / 1000);
	else if (fd == -1)
		xasprintf(cause, "%s", strerror(saved != 0 ? saved : EINVAL));

out:
	free(host);
	free(port);
	return (fd);
}

/* Give a message our sender id and a fresh message_id. */
void
client_msg_stamp(struct msg *m, unsigned long *next_id)
{
	free(m->sender_id);
	free(m->message_id);
	m->sender_id = xstrdup("operator");
	xasprintf(&m->message_id, "%lu", (*next_id)++);
}

/* Start an operator message with a fresh message_id. */
void
client_msg_init(struct msg *m, enum msg_type type, unsigned long *next_id)
{
	msg_init(m, type);
	client_msg_stamp(m, next_id);
}

/* Fill err from a code name and message. */
static void
client_error_set(struct client_error *err, const char *code_name,
    const char *message)
{
	if (code_name == NULL || *code_name == '\0')
		code_name = "internal";
	err->code = proto_code_from_name(code_name);
	snprintf(err->code_name, sizeof err->code_name, "%s", code_name);
	snprintf(err->message, sizeof err->message, "%s",
	    message != NULL && *message != '\0' ? message : "unknown error");
}

/* Fill err for a local (connection) failure. */
static void
client_error_io(struct client_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
client_error_io(struct client_error *err, const char *fmt, ...)
{
	va_list	ap;

	err->code = PROTO_OK;
	err->code_name[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
}

/* Interpret a reply or error message. */
enum client_result
client_reply_result(const struct msg *m, struct json_object **data,
    struct client_error *err)
{
	struct json_object	*e;

	*data = NULL;
	if (m->type == MSG_ERROR) {
		client_error_set(err, proto_code_name(m->u.error.code),
		    m->u.error.message);
		return (CLIENT_REMOTE);
	}
	if (m->type != MSG_REPLY || m->u.json == NULL ||
	    !json_object_is_type(m->u.json, json_type_object)) {
		client_error_set(err, "internal",
		    "the main node sent something that is not a reply");
		return (CLIENT_REMOTE);
	}
	if (client_json_bool(m->u.json, "ok", 0)) {
		*data = json_object_get(m->u.json);
		return (CLIENT_OK);
	}
	e = client_json_get(m->u.json, "error");
	client_error_set(err, client_json_str(e, "code"),
	    client_json_str(e, "message"));
	return (CLIENT_REMOTE);
}

/* What to do next about an error code. */
const char *
client_error_hint(const char *code_name)
{
	static const struct {
		const char	*code;
		const char	*hint;
	} hints[] = {
		{ "unauthorized", "check --token / ENCORE_TOKEN; the operator "
		    "token is in the main node's state dir operator.token" },
		{ "forbidden", "this session may not do that; authenticate "
		    "with the operator token (--token / ENCORE_TOKEN)" },
		{ "not_found", "check the id with 'encore devices' or "
		    "'encore ps --all'" },
		{ "conflict", "check the current state with 'encore devices' "
		    "or 'encore show ID'" },
		{ "busy", "the main node is at a limit; retry in a moment" },
		{ "internal", "this is a fault in the main node; check its log "
		    "and retry" },
		{ "bad_version", "use encore and encore-main of the same "
		    "version (encore --version)" },
		{ "bad_json", "the main node did not understand us; use encore "
		    "and encore-main of the same version" },
		{ "bad_field", "check the command's arguments (encore --help); "
		    "encore and encore-main should be the same version" },
		{ "unknown_type", "use encore and encore-main of the same "
		    "version (encore --version)" },
		{ "line_too_long", "shorten the request (fewer or shorter "
		    "arguments and env values)" },
	};
	size_t	i;

	if (code_name == NULL)
		return ("check the main node's log");
	for (i = 0; i < sizeof hints / sizeof hints[0]; i++) {
		if (strcmp(hints[i].code, code_name) == 0)
			return (hints[i].hint);
	}
	return ("check the main node's log");
}

/* Connect a blocking session. */
enum client_result
client_open(struct client *c, const char *addr, int timeout_ms,
    struct client_error *err)
{
	char	*cause = NULL;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->intr_fd = -1;
	c->addr = xstrdup(addr);
	c->next_id = 1;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : CLIENT_TIMEOUT_MS;
	if ((c->in = evbuffer_new()) == NULL)
		fatalx("evbuffer_new failed");
	c->fd = client_connect(addr, c->timeout_ms, &cause);
	if (c->fd == -1) {
		client_error_io(err, "cannot reach the main node at %s: %s; "
		    "is encore-main running? set --main or ENCORE_MAIN",
		    addr, cause);
		free(cause);
		return (CLIENT_IO);
	}
	/* Every wait is a poll() with a deadline, TLS's included. */
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	return (CLIENT_OK);
}

/* Close and free a session. */
void
client_close(struct client *c)
{
	size_t	i;

	if (c->ssl != NULL) {
		/* One try at close_notify; the socket is not waited for. */
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	c->ssl = NULL;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	if (c->in != NULL)
		evbuffer_free(c->in);
	c->in = NULL;
	for (i = c->head; i < c->n_pending; i++)
		msg_free(&c->pending[i]);
	free(c->pending);
	c->pending = NULL;
	c->n_pending = c->pending_cap = c->head = 0;
	c->pending_bytes = 0;
	free(c->addr);
	c->addr = NULL;
}

/* Fill err for a connection that went away. */
static void
client_error_lost(struct client *c, struct client_error *err,
    const char *why)
{
	client_error_io(err, "lost the connection to the main node at %s: %s; "
	    "check that encore-main is running and retry", c->addr, why);
}

/* Read from the session (socket or TLS): bytes, 0 at the end of the
 * stream, -1 (why in buf) or CLIENT_IO_WANT_*. */
static ssize_t
client_io_read(struct client *c, void *buf, size_t len, char *why,
    size_t whysize)
{
	ssize_t	n;
	int	e;

	if (c->ssl == NULL) {
		n = read(c->fd, buf, len);
		if (n >= 0)
			return (n);
		if (errno == EINTR || errno == EAGAIN)
			return (CLIENT_IO_WANT_READ);
		snprintf(why, whysize, "%s", strerror(errno));
		return (-1);
	}
	ERR_clear_error();
	errno = 0;
	n = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (n > 0)
		return (n);
	switch ((e = SSL_get_error(c->ssl, (int)n))) {
	case SSL_ERROR_WANT_READ:
		return (CLIENT_IO_WANT_READ);
	case SSL_ERROR_WANT_WRITE:
		return (CLIENT_IO_WANT_WRITE);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	case SSL_ERROR_SYSCALL:
		if (errno == EINTR || errno == EAGAIN)
			return (CLIENT_IO_WANT_READ);
		if (errno == 0)
			return (0);
		snprintf(why, whysize, "%s", strerror(errno));
		return (-1);
	default:
		client_tls_error(why, whysize);
		return (-1);
	}
}

/* Write to the session: bytes taken, -1 (why in buf) or
 * CLIENT_IO_WANT_*. */
static ssize_t
client_io_write(struct client *c, const void *buf, size_t len, char *why,
    size_t whysize)
{
	ssize_t	n;

	if (c->ssl == NULL) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return (n);
		if (errno == EINTR || errno == EAGAIN)
			return (CLIENT_IO_WANT_WRITE);
		snprintf(why, whysize, "%s", strerror(errno));
		return (-1);
	}
	ERR_clear_error();
	errno = 0;
	n = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (n > 0)
		return (n);
	switch (SSL_get_error(c->ssl, (int)n)) {
	case SSL_ERROR_WANT_READ:
		return (CLIENT_IO_WANT_READ);
	case SSL_ERROR_WANT_WRITE:
		return (CLIENT_IO_WANT_WRITE);
	case SSL_ERROR_SYSCALL:
		if (errno == EINTR || errno == EAGAIN)
			return (CLIENT_IO_WANT_WRITE);
		snprintf(why, whysize, "%s", errno != 0 ? strerror(errno) :
		    "it closed the connection");
		return (-1);
	default:
		client_tls_error(why, whysize);
		return (-1);
	}
}

/*
 * Wait until the socket is ready for events (POLLIN or POLLOUT), or, with
 * intr, the interrupt fd is readable; until deadline (ms, monotonic; -1
 * none; 0 do not wait).  CLIENT_OK, CLIENT_TIMEOUT (err not filled),
 * CLIENT_INTR or CLIENT_IO.
 */
static enum client_result
client_wait(struct client *c, short events, int64_t deadline, int intr,
    struct client_error *err)
{
	struct pollfd	pfd[2];
	int64_t		left;
	int		n, nfd, timeout;

	for (;;) {
		timeout = -1;
		if (deadline == 0)
			timeout = 0;
		else if (deadline != -1) {
			left = deadline - client_now_ms();
			if (left <= 0)
				return (CLIENT_TIMEOUT);
			timeout = left > 1000000 ? 1000000 : (int)left;
		}
		pfd[0].fd = c->fd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		nfd = 1;
		if (intr && c->intr_fd != -1) {
			pfd[1].fd = c->intr_fd;
			pfd[1].events = POLLIN;
			pfd[1].revents = 0;
			nfd = 2;
		}
		n = poll(pfd, (nfds_t)nfd, timeout);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			client_error_lost(c, err, strerror(errno));
			return (CLIENT_IO);
		}
		if (nfd == 2 && pfd[1].revents != 0) {
			client_error_io(err, "interrupted");
			return (CLIENT_INTR);
		}
		if (n > 0)
			return (CLIENT_OK);
		if (deadline == 0)
			return (CLIENT_TIMEOUT);
	}
}

/* Write all of buf to the session; the main node must take some of it
 * within the request timeout each time. */
static enum client_result
client_write_all(struct client *c, const char *buf, size_t len,
    struct client_error *err)
{
	enum client_result	r;
	int64_t			deadline = client_now_ms() + c->timeout_ms;
	ssize_t			n;
	char			why[256];

	while (len > 0) {
		n = client_io_write(c, buf, len, why, sizeof why);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			deadline = client_now_ms() + c->timeout_ms;
			continue;
		}
		if (n == -1) {
			client_error_lost(c, err, why);
			return (CLIENT_IO);
		}
		r = client_wait(c, n == CLIENT_IO_WANT_READ ? POLLIN : POLLOUT,
		    deadline, 0, err);
		if (r == CLIENT_TIMEOUT) {
			client_error_io(err, "the main node at %s took nothing "
			    "we sent for %d s; check that it is running and "
			    "not overloaded (its log), or raise "
			    "--request-timeout", c->addr,
			    (c->timeout_ms + 999) / 1000);
			return (CLIENT_TIMEOUT);
		}
		if (r != CLIENT_OK)
			return (r);
	}
	return (CLIENT_OK);
}

/* Encode and send one message. */
enum client_result
client_send(struct client *c, const struct msg *m, struct client_error *err)
{
	enum client_result	 r;
	char			*line;
	size_t			 len;

	if ((line = msg_encode(m, &len)) == NULL) {
		client_error_set(err, "bad_field",
		    "this request cannot be encoded");
		return (CLIENT_REMOTE);
	}
	r = client_write_all(c, line, len, err);
	free(line);
	return (r);
}

/* Take one line, searching only what was not searched before. */
enum frame_result
client_frame_read(struct evbuffer *evb, size_t max, size_t *scanned,
    char **line, size_t *len)
{
	struct evbuffer_ptr	start, lf;
	size_t			buffered = evbuffer_get_length(evb);
	char			last;

	*line = NULL;
	*len = 0;
	if (*scanned > buffered)
		*scanned = 0;
	if (*scanned < buffered) {
		if (evbuffer_ptr_set(evb, &start, *scanned,
		    EVBUFFER_PTR_SET) != 0)
			return (FRAME_AGAIN);
		lf = evbuffer_search(evb, "\n", 1, &start);
		if (lf.pos != -1) {
			*scanned = 0;
			return (frame_read_line(evb, max, line, len));
		}
		*scanned = buffered;
	}
	/* No newline yet: too long already?  (A CR may still precede it,
	 * as frame_read_line() allows.) */
	if (buffered > max + 1)
		return (FRAME_TOO_LONG);
	if (buffered == max + 1) {
		if (evbuffer_ptr_set(evb, &start, buffered - 1,
		    EVBUFFER_PTR_SET) != 0 ||
		    evbuffer_copyout_from(evb, &start, &last, 1) != 1 ||
		    last != '\r')
			return (FRAME_TOO_LONG);
	}
	return (FRAME_AGAIN);
}

/* Count what parsing line would build; -1 if over the budget. */
int
client_json_budget(const char *line, size_t len)
{
	const char	*p = line, *end = line + len, *q;
	size_t		 containers = 0, values = 1;

	while (p < end) {
		switch (*p) {
		case '"':
			/* Skip the string, escapes included. */
			for (q = p + 1; q < end && *q != '"'; q++) {
				if (*q == '\\')
					q++;
			}
			p = q + 1;
			continue;
		case '{':
		case '[':
			if (++containers > CLIENT_JSON_CONTAINERS)
				return (-1);
			break;
		case ',':
			if (++values > CLIENT_JSON_VALUES)
				return (-1);
			break;
		}
		p++;
	}
	return (0);
}

/* Read more from the session into c->in, waiting until deadline (ms,
 * monotonic; -1 none; 0 only what can be read without waiting). */
static enum client_result
client_fill(struct client *c, int64_t deadline, struct client_error *err)
{
	struct evbuffer_iovec	v;
	enum client_result	r;
	ssize_t			n;
	short			events = POLLIN;
	char			partial[64], why[256];

	for (;;) {
		/* TLS may hold the rest of a record already read. */
		if (c->ssl == NULL || SSL_pending(c->ssl) == 0) {
			r = client_wait(c, events, deadline, 1, err);
			if (r == CLIENT_TIMEOUT && deadline != 0) {
				partial[0] = '\0';
				if (evbuffer_get_length(c->in) > 0)
					snprintf(partial, sizeof partial,
					    " (only %zu bytes of an unfinished "
					    "line came)",
					    evbuffer_get_length(c->in));
				client_error_io(err, "no complete answer from "
				    "the main node at %s within %d s%s; check "
				    "that it is running and not overloaded "
				    "(its log), or raise --request-timeout",
				    c->addr, (c->timeout_ms + 999) / 1000,
				    partial);
			} else if (r == CLIENT_TIMEOUT)
				client_error_io(err, "nothing yet");
			if (r != CLIENT_OK)
				return (r);
		}
		if (evbuffer_reserve_space(c->in, CLIENT_READ_CHUNK, &v,
		    1) < 1)
			fatalx("evbuffer_reserve_space failed");
		n = client_io_read(c, v.iov_base, v.iov_len, why, sizeof why);
		if (n <= 0)
			evbuffer_commit_space(c->in, NULL, 0);
		if (n == CLIENT_IO_WANT_READ || n == CLIENT_IO_WANT_WRITE) {
			events = n == CLIENT_IO_WANT_READ ? POLLIN : POLLOUT;
			continue;
		}
		if (n == -1) {
			client_error_lost(c, err, why);
			return (CLIENT_IO);
		}
		if (n == 0) {
			client_error_lost(c, err, "it closed the connection");
			return (CLIENT_IO);
		}
		v.iov_len = (size_t)n;
		evbuffer_commit_space(c->in, &v, 1);
		return (CLIENT_OK);
	}
}

/* Drop what is left of a file frame nobody took (client_raw). */
static enum client_result
client_skip_raw(struct client *c, int64_t deadline, struct client_error *err)
{
	enum client_result	r;
	size_t			n;

	while (c->raw_left > 0) {
		n = evbuffer_get_length(c->in);
		if ((int64_t)n > c->raw_left)
			n = (size_t)c->raw_left;
		if (n > 0) {
			evbuffer_drain(c->in, n);
			c->raw_left -= (int64_t)n;
			c->scanned = 0;
			continue;
		}
		if ((r = client_fill(c, deadline, err)) != CLIENT_OK)
			return (r);
	}
	return (CLIENT_OK);
}

/* Read and decode the next line from the socket (kept events not
 * included), waiting until deadline (ms, monotonic; -1 none). */
static enum client_result
client_read(struct client *c, struct msg *m, int64_t deadline,
    struct client_error *err)
{
	struct proto_err	 perr;
	enum frame_result	 fr;
	enum client_result	 r;
	char			*line;
	size_t			 len;
	int			 rc;

	for (;;) {
		if (c->raw_left > 0 &&
		    (r = client_skip_raw(c, deadline, err)) != CLIENT_OK)
			return (r);
		fr = client_frame_read(c->in, CLIENT_REPLY_MAX, &c->scanned,
		    &line, &len);
		if (fr == FRAME_TOO_LONG) {
			client_error_io(err, "the main node at %s sent a line "
			    "longer than %d MiB, the most a reply may be; "
			    "check that --main names an encore main node and "
			    "see its log", c->addr,
			    CLIENT_REPLY_MAX / (1024 * 1024));
			return (CLIENT_IO);
		}
		if (fr == FRAME_OK) {
			if (len == 0) {
				free(line);
				continue;
			}
			if (client_json_budget(line, len) != 0) {
				free(line);
				client_error_io(err, "the main node at %s "
				    "sent a reply of more than %d objects or "
				    "%d values, more than a client accepts; "
				    "check that --main names an encore main "
				    "node and see its log", c->addr,
				    CLIENT_JSON_CONTAINERS,
				    CLIENT_JSON_VALUES);
				return (CLIENT_IO);
			}
			c->line_len = len;
			rc = msg_decode(line, len, m, &perr);
			free(line);
			/* Its raw bytes come next, whoever takes them. */
			if (rc == 0 && m->type == MSG_FILE_DATA)
				c->raw_left = m->u.file.len;
			if (rc == 0)
				return (CLIENT_OK);
			client_error_set(err, proto_code_name(perr.code),
			    perr.message);
			snprintf(err->message, sizeof err->message,
			    "the main node sent a line we cannot read: %.900s",
			    perr.message);
			return (CLIENT_REMOTE);
		}
		if ((r = client_fill(c, deadline, err)) != CLIENT_OK)
			return (r);
	}
}

/* Keep an event for client_next(); takes over m's contents.  -1 when
 * that would pass the cap. */
static int
client_keep(struct client *c, struct msg *m)
{
	size_t	kept = c->n_pending - c->head;

	if (kept >= CLIENT_KEEP_MAX ||
	    c->pending_bytes + c->line_len > CLIENT_KEEP_BYTES)
		return (-1);
	if (c->n_pending == c->pending_cap && c->head > 0) {
		/* Room at the front: move what is left there. */
		memmove(c->pending, c->pending + c->head,
		    kept * sizeof *c->pending);
		c->n_pending = kept;
		c->head = 0;
	}
	if (c->n_pending == c->pending_cap) {
		c->pending_cap = c->pending_cap == 0 ? 16 :
		    c->pending_cap * 2;
		c->pending = xreallocarray(c->pending, c->pending_cap,
		    sizeof *c->pending);
	}
	c->pending[c->n_pending++] = *m;
	c->pending_bytes += c->line_len;
	memset(m, 0, sizeof *m);
	return (0);
}

/* Send a request and wait for its reply. */
enum client_result
client_request(struct client *c, struct msg *req, struct json_object **data,
    struct client_error *err)
{
	struct msg		m;
	enum client_result	r;
	const char		*id = req->message_id;
	int64_t			deadline;

	*data = NULL;
	if ((r = client_send(c, req, err)) != CLIENT_OK)
		return (r);
	deadline = client_now_ms() + c->timeout_ms;
	for (;;) {
		if ((r = client_read(c, &m, deadline, err)) != CLIENT_OK)
			return (r);
		switch (m.type) {
		case MSG_REPLY:
			if (m.reply_to == NULL || id == NULL ||
			    strcmp(m.reply_to, id) != 0)
				break;
			r = client_reply_result(&m, data, err);
			msg_free(&m);
			return (r);
		case MSG_ERROR:
			if (m.reply_to != NULL && id != NULL &&
			    strcmp(m.reply_to, id) != 0)
				break;
			r = client_reply_result(&m, data, err);
			msg_free(&m);
			return (r);
		case MSG_EVENT:
			if (client_keep(c, &m) == 0)
				continue;
			msg_free(&m);
			client_error_io(err, "the main node at %s sent more "
			    "than %d events (or %d MiB of them) without "
			    "answering our request; check that --main names "
			    "an encore main node and see its log", c->addr,
			    CLIENT_KEEP_MAX, CLIENT_KEEP_BYTES / (1024 * 1024));
			return (CLIENT_IO);
		case MSG_BYE:
			msg_free(&m);
			client_error_lost(c, err, "the main node is shutting "
			    "down");
			return (CLIENT_IO);
		default:
			break;
		}
		msg_free(&m);
	}
}

/* Send a payload-less request and wait for its reply. */
enum client_result
client_simple(struct client *c, enum msg_type type, struct json_object **data,
    struct client_error *err)
{
	struct msg		m;
	enum client_result	r;

	client_msg_init(&m, type, &c->next_id);
	r = client_request(c, &m, data, err);
	msg_free(&m);
	return (r);
}

/* Authenticate the session as an operator. */
enum client_result
client_auth(struct client *c, const char *token, struct client_error *err)
{
	struct msg		 m;
	struct json_object	*data;
	enum client_result	 r;
	const char		*secret;
	char			 pin[CLIENT_PIN_HEX + 1], *cause = NULL;

	switch (client_token_parse(token, pin, &secret, &cause)) {
	case -1:
		client_error_io(err, "%s", cause);
		free(cause);
		return (CLIENT_IO);
	case 1:
		if (c->ssl == NULL &&
		    (r = client_start_tls(c, pin, err)) != CLIENT_OK)
			return (r);
		break;
	}
	client_msg_init(&m, MSG_AUTH, &c->next_id);
	m.protocol_version = PROTO_VERSION;
	m.u.token = xstrdup(secret);
	r = client_request(c, &m, &data, err);
	explicit_bzero(m.u.token, strlen(m.u.token));
	msg_free(&m);
	if (data != NULL)
		json_object_put(data);
	return (r);
}

/* Next event or message, kept ones first. */
enum client_result
client_next(struct client *c, struct msg *m, int timeout_ms,
    struct client_error *err)
{
	if (c->head < c->n_pending) {
		*m = c->pending[c->head++];
		if (c->head == c->n_pending) {
			c->head = c->n_pending = 0;
			c->pending_bytes = 0;
		}
		return (CLIENT_OK);
	}
	return (client_read(c, m, timeout_ms < 0 ? -1 : timeout_ms == 0 ? 0 :
	    client_now_ms() + timeout_ms, err));
}

/* Whether a message could be read now. */
int
client_readable(struct client *c)
{
	struct pollfd	pfd;

	if (c->head < c->n_pending || evbuffer_get_length(c->in) > 0)
		return (1);
	if (c->ssl != NULL && SSL_pending(c->ssl) > 0)
		return (1);
	pfd.fd = c->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return (poll(&pfd, 1, 0) == 1);
}

/* Turn the session into TLS and check the pin. */
enum client_result
client_start_tls(struct client *c, const char *pin, struct client_error *err)
{
	enum client_result	r;
	int64_t			deadline = client_now_ms() + c->timeout_ms;
	char			*cause = NULL, why[256];
	int			rc, e;
	short			events;

	if ((c->ssl = client_tls_new(&cause)) == NULL) {
		client_error_io(err, "%s", cause);
		free(cause);
		return (CLIENT_IO);
	}
	if (SSL_set_fd(c->ssl, c->fd) != 1) {
		client_error_io(err, "cannot set up TLS: %s",
		    client_tls_error(why, sizeof why));
		return (CLIENT_IO);
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_connect(c->ssl)) == 1)
			break;
		e = SSL_get_error(c->ssl, rc);
		if (e == SSL_ERROR_WANT_READ)
			events = POLLIN;
		else if (e == SSL_ERROR_WANT_WRITE)
			events = POLLOUT;
		else {
			if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
				snprintf(why, sizeof why, "%s", errno != 0 ?
				    strerror(errno) : "it closed the "
				    "connection");
			else
				client_tls_error(why, sizeof why);
			client_error_io(err, "no TLS with the main node at "
			    "%s: %s; the token is pinned (ENC1:...), so we "
			    "speak only TLS: check that --main names an encore "
			    "main node with TLS (encore-main --version), or "
			    "give an older one its bare secret (the token's "
			    "part after its second ':')", c->addr, why);
			return (CLIENT_IO);
		}
		r = client_wait(c, events, deadline, 0, err);
		if (r == CLIENT_TIMEOUT) {
			client_error_io(err, "no TLS handshake with the main "
			    "node at %s within %d s; check that it is running "
			    "and not overloaded (its log), or raise "
			    "--request-timeout", c->addr,
			    (c->timeout_ms + 999) / 1000);
			return (CLIENT_TIMEOUT);
		}
		if (r != CLIENT_OK)
			return (r);
	}
	if (client_tls_check(c->ssl, pin, c->addr, &cause) != 0) {
		client_error_io(err, "%s", cause);
		free(cause);
		return (CLIENT_IO);
	}
	return (CLIENT_OK);
}

/* Give the connection away and close the rest of the session. */
void
client_detach(struct client *c, int *fd, struct ssl_st **ssl,
    struct evbuffer *leftover)
{
	*fd = c->fd;
	*ssl = c->ssl;
	if (leftover != NULL)
		evbuffer_add_buffer(leftover, c->in);
	c->fd = -1;
	c->ssl = NULL;
	client_close(c);
}

/* Raw bytes of the current file frame. */
enum client_result
client_raw(struct client *c, void *buf, size_t size, size_t *n,
    struct client_error *err)
{
	enum client_result	r;
	int64_t			deadline = client_now_ms() + c->timeout_ms;
	size_t			want = size;
	int			got;

	*n = 0;
	if (c->raw_left <= 0) {
		client_error_io(err, "no file bytes are due from the main node "
		    "at %s", c->addr);
		return (CLIENT_IO);
	}
	if ((int64_t)want > c->raw_left)
		want = (size_t)c->raw_left;
	while (evbuffer_get_length(c->in) == 0) {
		if ((r = client_fill(c, deadline, err)) != CLIENT_OK)
			return (r);
	}
	if ((got = evbuffer_remove(c->in, buf, want)) <= 0)
		fatalx("evbuffer_remove failed");
	c->raw_left -= got;
	c->scanned = 0;
	*n = (size_t)got;
	return (CLIENT_OK);
}

/* A file_data line and its raw bytes. */
enum client_result
client_send_frame(struct client *c, const struct msg *m, const void *data,
    size_t len, struct client_error *err)
{
	enum client_result	 r;

	if ((r = client_send(c, m, err)) != CLIENT_OK)
		return (r);
	if (len == 0)
		return (CLIENT_OK);
	return (client_write_all(c, data, len, err));
}

/* Member of o if present and not null. */
struct json_object *
client_json_get(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return (NULL);
	if (!json_object_object_get_ex(o, key, &v) || v == NULL ||
	    json_object_is_type(v, json_type_null))
		return (NULL);
	return (v);
}

/* Member as a string. */
const char *
client_json_str(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if ((v = client_json_get(o, key)) == NULL)
		return (NULL);
	if (!json_object_is_type(v, json_type_string))
		return (json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN));
	return (json_object_get_string(v));
}

/* Member as an integer. */
int
client_json_int(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object	*v;
	double			 d;

	if ((v = client_json_get(o, key)) == NULL)
		return (-1);
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return (0);
	}
	if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (!isfinite(d))
			return (-1);
		*out = (int64_t)llround(d);
		return (0);
	}
	return (-1);
}

/* Member as a double. */
double
client_json_double(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if ((v = client_json_get(o, key)) == NULL)
		return (NAN);
	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double))
		return (json_object_get_double(v));
	return (NAN);
}

/* Member as a boolean. */
int
client_json_bool(struct json_object *o, const char *key, int def)
{
	struct json_object	*v;

	if ((v = client_json_get(o, key)) == NULL)
		return (def);
	return (json_object_get_boolean(v) ? 1 : 0);
}

/* Take a global option's value, "--opt V" or "--opt=V", at argv[*i]:
 * 1 taken (*i moved past it), 0 not this option, -1 value missing. */
int
client_option(int argc, char **argv, int *i, const char *name,
    const char **value)
{
	size_t	len = strlen(name);

	if (strncmp(argv[*i], name, len) != 0)
		return (0);
	if (argv[*i][len] == '=') {
		*value = argv[*i] + len + 1;
		return (1);
	}
	if (argv[*i][len] != '\0')
		return (0);
	if (*i + 1 >= argc)
		return (-1);
	*value = argv[++(*i)];
	return (1);
}
