/* SPDX-License-Identifier: ISC */
/*
 * conn.c -- one TCP connection: a bufferevent, LF framing with a length
 * cap, and the first-line sniff that makes it a JSON session or a one-shot
 * text command.  A connection is never freed inside its own callback:
 * conn_close() stops reading, lets the output drain, and frees it from a
 * later event.
 *
 * Limits enforced here: connections per remote address (loopback exempt),
 * a token bucket of lines per second (a faster peer is read more slowly,
 * never dropped), and the unread output a peer may leave queued.
 *
 * Group commit.  The frequent writes (task_started, task_output and
 * task_result from a worker, submit from an operator) that one read brings
 * are handled in one transaction, each message's work a savepoint in it;
 * any other message commits the batch before it is handled.  Everything
 * sent while a batch is open -- replies, acks, events to other peers -- is
 * held and released only once it commits, so no one hears of a change
 * before it is durable.  If the commit fails (a full disk), the held
 * output is dropped, the task state in memory is reloaded from the
 * database, the batch's requests are answered with an error, and a worker
 * is disconnected so that it re-sends its unacknowledged results.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <json-c/json.h>

#include "main.h"

#define CONN_BAD_LINES_MAX	5	/* bad lines in a row before closing */
#define CONN_TEXT_MAX		CONN_TEXT_LINE
#define CONN_ADDR_BUCKETS	1024

/* Open connections from one remote IP address. */
struct addr_slot {
	char			 ip[INET6_ADDRSTRLEN];
	int			 n;
	struct addr_slot	*next;
};
static struct addr_slot	*conn_addrs[CONN_ADDR_BUCKETS];

/* The open batch (one at a time: it never outlives a read callback). */
static struct {
	int		  open;
	int		  n;		/* messages in it */
	char		**ids;		/* message_id of each operator request */
	size_t		  n_ids, cap;
} batch;
static struct conn_list	held_conns = TAILQ_HEAD_INITIALIZER(held_conns);

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);

/* The bucket of an address string (FNV-1a). */
static struct addr_slot **
conn_addr_bucket(const char *ip)
{
	uint32_t	h = 2166136261u;

	for (; *ip != '\0'; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return (&conn_addrs[h % CONN_ADDR_BUCKETS]);
}

/* Count one more connection from ip. */
static struct addr_slot *
conn_addr_get(const char *ip)
{
	struct addr_slot	**b = conn_addr_bucket(ip), *a;

	for (a = *b; a != NULL; a = a->next) {
		if (strcmp(a->ip, ip) == 0)
			break;
	}
	if (a == NULL) {
		a = xcalloc(1, sizeof *a);
		snprintf(a->ip, sizeof a->ip, "%s", ip);
		a->next = *b;
		*b = a;
	}
	a->n++;
	return (a);
}

/* Count one connection less from a's address. */
static void
conn_addr_put(struct addr_slot *a)
{
	struct addr_slot	**b, **pp;

	if (a == NULL || --a->n > 0)
		return;
	b = conn_addr_bucket(a->ip);
	for (pp = b; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	free(a);
}

/* Connections open from this connection's address (itself included); 0
 * for loopback peers, which are not counted. */
int
conn_addr_count(const struct conn *c)
{
	return (c->addr_slot != NULL ? c->addr_slot->n : 0);
}

/* Free a connection's memory; it must be off every list. */
void
conn_release(struct conn *c)
{
	conn_addr_put(c->addr_slot);
	if (c->idle_ev != NULL)
		event_free(c->idle_ev);
	if (c->rate_ev != NULL)
		event_free(c->rate_ev);
	if (c->holding)
		TAILQ_REMOVE(&held_conns, c, held_entry);
	if (c->held != NULL)
		evbuffer_free(c->held);
	bufferevent_free(c->bev);
	free(c->follow_reply);
	free(c);
}

/* Free a connection (from an event, never from its own callback). */
static void
conn_free_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;
	struct server	*s = c->server;

	if (c->role == ROLE_WORKER)
		worker_lost(c);
	TAILQ_REMOVE(&s->conns, c, entry);
	if (c->watching)
		TAILQ_REMOVE(&s->watchers, c, watch_entry);
	s->n_conns--;
	conn_release(c);
	if (s->stopping && TAILQ_EMPTY(&s->conns))
		event_base_loopbreak(s->base);
}

/* Schedule the free of a connection. */
static void
conn_free_later(struct conn *c)
{
	struct timeval	tv = { 0, 0 };

	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	if (c->rate_ev != NULL)
		evtimer_del(c->rate_ev);
	event_base_once(c->server->base, -1, EV_TIMEOUT, conn_free_cb, c, &tv);
}

/* An unregistered connection took too long. */
static void
conn_idle_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	if (c->role == ROLE_TEXT || c->role == ROLE_NEW ||
	    c->role == ROLE_JSON) {
		if (c->role == ROLE_JSON)
			conn_send_error(c, NULL, PROTO_UNAUTHORIZED,
			    "no register or auth within %d s; closing",
			    c->server->opt->auth_timeout);
		conn_close(c, "auth timeout");
	}
}

/* Accept a new connection on fd. */
struct conn *
conn_create(struct server *s, evutil_socket_t fd, const struct sockaddr *sa,
    int salen)
{
	struct conn	*c;
	struct timeval	 tv = { s->opt->auth_timeout, 0 };
	char		 host[INET6_ADDRSTRLEN] = "?";
	int		 port = 0, one = 1;

	c = xcalloc(1, sizeof *c);
	c->server = s;
	c->created = now_mono();
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
		port = ntohs(sin->sin_port);
		c->is_local = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
		snprintf(c->addr, sizeof c->addr, "%s:%d", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
		port = ntohs(sin6->sin6_port);
		c->is_local = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		    sin6->sin6_addr.s6_addr[12] == 127);
		snprintf(c->addr, sizeof c->addr, "[%s]:%d", host, port);
	}
	if (!c->is_local && (sa->sa_family == AF_INET ||
	    sa->sa_family == AF_INET6))
		c->addr_slot = conn_addr_get(host);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	/* Replies are whole lines: send each at once (no Nagle delay). */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		conn_addr_put(c->addr_slot);
		free(c);
		return (NULL);
	}
	/* Never buffer more than one line past the cap. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, s->opt->max_line + 2);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->idle_ev = evtimer_new(s->base, conn_idle_cb, c);
	evtimer_add(c->idle_ev, &tv);
	c->rate_tokens = s->opt->max_msg_rate;
	c->rate_last = c->created;

	TAILQ_INSERT_TAIL(&s->conns, c, entry);
	s->n_conns++;
	s->conns_total++;
	log_debug("event=conn_open addr=%s", c->addr);
	return (c);
}

/* Put an operator connection on the list that gets events. */
void
conn_watch(struct conn *c)
{
	if (!c->watching) {
		c->watching = 1;
		TAILQ_INSERT_TAIL(&c->server->watchers, c, watch_entry);
	}
}

/* Where output goes: the socket, or the held buffer while a batch is
 * open. */
static struct evbuffer *
conn_out(struct conn *c)
{
	if (!batch.open)
		return (bufferevent_get_output(c->bev));
	if (c->held == NULL)
		c->held = evbuffer_new();
	if (!c->holding) {
		c->holding = 1;
		TAILQ_INSERT_TAIL(&held_conns, c, held_entry);
	}
	return (c->held);
}

/* Output queued and held. */
static size_t
conn_out_len(struct conn *c)
{
	return (evbuffer_get_length(bufferevent_get_output(c->bev)) +
	    (c->held != NULL ? evbuffer_get_length(c->held) : 0));
}

/* Stop reading, flush what is queued, then free.  Safe to call twice. */
void
conn_close(struct conn *c, const char *why)
{
	if (c->closing)
		return;
	c->closing = 1;
	log_debug("event=conn_close addr=%s reason=\"%s\"", c->addr, why);
	bufferevent_disable(c->bev, EV_READ);
	if (conn_out_len(c) == 0)
		conn_free_later(c);
	/* Otherwise conn_write_cb frees it once the output has drained. */
}

/* Queue raw text. */
void
conn_write_text(struct conn *c, const char *s, size_t len)
{
	bufferevent_write(c->bev, s, len);
}

/* Queue a string. */
void
conn_puts(struct conn *c, const char *s)
{
	bufferevent_write(c->bev, s, strlen(s));
}

/* Close a connection whose peer does not read what we send. */
static int
conn_check_output(struct conn *c)
{
	size_t	len = conn_out_len(c);

	if (len > c->server->opt->max_conn_buffer) {
		log_warn("event=conn_slow_reader addr=%s queued=%zu", c->addr,
		    len);
		c->closing = 1;
		conn_free_later(c);
		return (-1);
	}
	return (0);
}

/* Send a message; -1 if the connection is going away. */
int
conn_send(struct conn *c, const struct msg *m)
{
	if (c->closing && m->type != MSG_ERROR && m->type != MSG_BYE &&
	    m->type != MSG_REPLY)
		return (-1);
	if (msg_write(conn_out(c), m) != 0)
		return (-1);
	return (conn_check_output(c));
}

/* Send a message whose data is a json object (reply, event); takes
 * ownership of data. */
int
conn_send_json(struct conn *c, enum msg_type type, const char *reply_to,
    struct json_object *data)
{
	struct msg	m;
	int		rc;

	msg_init(&m, type);
	m.sender_id = (char *)"main";
	m.reply_to = (char *)reply_to;
	m.u.json = data;
	rc = conn_send(c, &m);
	json_object_put(data);
	return (rc);
}

/* Send an `error` message. */
int
conn_send_error(struct conn *c, const char *reply_to, enum proto_code code,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 text[PROTO_TEXT_MAX];

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	msg_write_error(conn_out(c), reply_to, code, text);
	return (conn_check_output(c));
}

/* Send a failed `reply`. */
int
conn_reply_error(struct conn *c, const char *reply_to, enum proto_code code,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 text[PROTO_TEXT_MAX];

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	msg_write_reply_error(conn_out(c), reply_to, code, text);
	return (conn_check_output(c));
}

/* Count a bad line; after too many in a row, close. */
static void
conn_bad_line(struct conn *c)
{
	c->server->msgs_bad++;
	if (++c->bad_lines >= CONN_BAD_LINES_MAX) {
		conn_send_error(c, NULL, PROTO_BAD_JSON,
		    "%d bad lines in a row; closing the connection",
		    CONN_BAD_LINES_MAX);
		conn_close(c, "too many bad lines");
	}
}

/* Is m one of the frequent writes that join a batch? */
static int
conn_batchable(const struct conn *c, const struct msg *m)
{
	if (c->role == ROLE_WORKER)
		return (m->type == MSG_TASK_STARTED ||
		    m->type == MSG_TASK_OUTPUT || m->type == MSG_TASK_RESULT);
	return (c->role == ROLE_OPERATOR && m->type == MSG_SUBMIT);
}

/* Add m to the batch, opening it if needed.  If the database cannot start
 * one, m is handled on its own (and its own write reports the error). */
static void
conn_batch_add(struct conn *c, const struct msg *m)
{
	if (!batch.open) {
		if (store_begin(c->server->store) != 0) {
			store_end(c->server->store, -1);
			return;
		}
		batch.open = 1;
		batch.n = 0;
	}
	batch.n++;
	if (c->role != ROLE_OPERATOR || m->message_id == NULL)
		return;
	if (batch.n_ids == batch.cap) {
		batch.cap = batch.cap ? batch.cap * 2 : 16;
		batch.ids = xreallocarray(batch.ids, batch.cap,
		    sizeof *batch.ids);
	}
	batch.ids[batch.n_ids++] = xstrdup(m->message_id);
}

/* Commit the batch of c's messages, then release or drop what it held. */
static void
conn_batch_end(struct conn *c)
{
	struct conn	*h;
	size_t		 i;
	int		 ok;

	if (!batch.open)
		return;
	batch.open = 0;
	ok = (store_end(c->server->store, 0) == 0);
	while ((h = TAILQ_FIRST(&held_conns)) != NULL) {
		TAILQ_REMOVE(&held_conns, h, held_entry);
		h->holding = 0;
		if (ok) {
			bufferevent_write_buffer(h->bev, h->held);
			conn_check_output(h);
		} else
			evbuffer_drain(h->held, evbuffer_get_length(h->held));
	}
	if (!ok) {
		log_error("event=batch_not_saved addr=%s messages=%d "
		    "msg=\"the database refused the commit; is the main "
		    "node's disk full? nothing of it was sent\"", c->addr,
		    batch.n);
		tasks_reload(c->server);
		for (i = 0; i < batch.n_ids; i++)
			conn_reply_error(c, batch.ids[i], PROTO_INTERNAL,
			    "cannot save: the database is busy or the main "
			    "node's disk is full; retry later");
		if (c->role == ROLE_WORKER)
			conn_close(c, "batch not saved; the worker re-sends");
	}
	for (i = 0; i < batch.n_ids; i++)
		free(batch.ids[i]);
	batch.n_ids = 0;
}

/* Route one decoded message by session role. */
static void
conn_dispatch(struct conn *c, struct msg *m)
{
	int	flags = msg_type_flags(m->type);

	if (conn_batchable(c, m))
		conn_batch_add(c, m);
	else
		conn_batch_end(c);

	if (c->role == ROLE_JSON) {
		if (m->type == MSG_REGISTER) {
			worker_handle(c, m);
			return;
		}
		if (m->type == MSG_AUTH) {
			client_handle(c, m);
			return;
		}
		conn_send_error(c, m->message_id, PROTO_UNAUTHORIZED,
		    "send register (workers) or auth (operators) first");
		conn_bad_line(c);
		return;
	}
	if (c->role == ROLE_WORKER && (flags & MSG_F_FROM_WORKER)) {
		worker_handle(c, m);
		return;
	}
	if (c->role == ROLE_OPERATOR && (flags & MSG_F_FROM_OPERATOR)) {
		client_handle(c, m);
		return;
	}
	conn_send_error(c, m->message_id, PROTO_FORBIDDEN,
	    "%s is not allowed in a %s session", msg_type_name(m->type),
	    c->role == ROLE_WORKER ? "worker" : "operator");
	conn_bad_line(c);
}

/* Decode and handle one JSON line. */
static void
conn_json_line(struct conn *c, const char *line, size_t len)
{
	struct msg		m;
	struct proto_err	err;

	if (len == 0)
		return;		/* blank lines are harmless */
	c->server->msgs_in++;
	if (msg_decode(line, len, &m, &err) != 0) {
		log_debug("event=bad_line addr=%s code=%s msg=\"%s\"", c->addr,
		    proto_code_name(err.code), err.message);
		conn_send_error(c, NULL, err.code, "%s", err.message);
		conn_bad_line(c);
		return;
	}
	c->bad_lines = 0;
	conn_dispatch(c, &m);
	msg_free(&m);
}

/* Run the one text command of a text connection. */
static void
conn_text_line(struct conn *c, const char *line)
{
	struct options	*opt = c->server->opt;

	if (opt->text_export == TEXT_EXPORT_OFF ||
	    (opt->text_export == TEXT_EXPORT_LOCAL && !c->is_local)) {
		conn_puts(c, "error: the text export is disabled on this "
		    "main node (--text-export)\n");
	} else
		export_text(c, line);
	conn_close(c, "text command done");
}

/* Reading was paused by the rate limit: resume and handle what waits. */
static void
conn_rate_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	if (c->closing)
		return;
	bufferevent_enable(c->bev, EV_READ);
	conn_read_cb(c->bev, c);
}

/*
 * Take a token for one line from the connection's bucket (refilled at
 * max-msg-rate a second, holding one second's worth).  When it runs dry,
 * stop reading and resume once a token is back: the peer's own socket
 * buffer fills and TCP slows it down.  Returns -1 if reading paused.
 */
static int
conn_rate_take(struct conn *c)
{
	double		 rate = c->server->opt->max_msg_rate, now, wait;
	struct timeval	 tv;

	if (rate <= 0 || c->closing)
		return (0);
	now = now_mono();
	c->rate_tokens += (now - c->rate_last) * rate;
	if (c->rate_tokens > rate)
		c->rate_tokens = rate;
	c->rate_last = now;
	c->rate_tokens -= 1;
	if (c->rate_tokens >= 0)
		return (0);
	wait = -c->rate_tokens / rate;
	if (wait < 0.001)
		wait = 0.001;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	if (c->rate_ev == NULL)
		c->rate_ev = evtimer_new(c->server->base, conn_rate_cb, c);
	bufferevent_disable(c->bev, EV_READ);
	evtimer_add(c->rate_ev, &tv);
	log_debug("event=conn_rate_paused addr=%s wait_ms=%d", c->addr,
	    (int)(wait * 1000));
	return (-1);
}

/* Read callback: frame lines and handle them. */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	enum frame_result	 fr;
	char			*line;
	size_t			 len;
	unsigned char		*p = NULL;

	if (c->role == ROLE_NEW) {
		/* Sniff the first non-blank byte. */
		while (evbuffer_get_length(in) > 0) {
			p = evbuffer_pullup(in, 1);
			if (*p != ' ' && *p != '\t' && *p != '\r' &&
			    *p != '\n')
				break;
			evbuffer_drain(in, 1);
		}
		if (evbuffer_get_length(in) == 0)
			return;
		c->role = (*p == '{') ? ROLE_JSON : ROLE_TEXT;
	}
	if (c->role == ROLE_TEXT) {
		fr = frame_read_line(in, CONN_TEXT_MAX, &line, &len);
		if (fr == FRAME_AGAIN)
			return;
		if (fr == FRAME_TOO_LONG) {
			conn_puts(c, "error: command too long; try "
			    "`echo help | nc HOST 7070`\n");
			conn_close(c, "text line too long");
			return;
		}
		conn_text_line(c, line);
		free(line);
		return;
	}
	while (!c->closing) {
		if (c->rate_ev != NULL && evtimer_pending(c->rate_ev, NULL))
			break;	/* paused; conn_rate_cb carries on */
		fr = frame_read_line(in, c->server->opt->max_line, &line,
		    &len);
		if (fr == FRAME_AGAIN)
			break;
		if (fr == FRAME_TOO_LONG) {
			c->server->msgs_bad++;
			conn_send_error(c, NULL, PROTO_LINE_TOO_LONG,
			    "line longer than %zu bytes; split task output "
			    "into chunks; closing", c->server->opt->max_line);
			conn_close(c, "line too long");
			break;
		}
		conn_json_line(c, line, len);
		free(line);
		if (conn_rate_take(c) != 0)
			break;
	}
	conn_batch_end(c);
}

/* Write callback: output drained; finish a pending close. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free_later(c);
}

/* EOF or error from the peer. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line;
	size_t		 len;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	/* "printf devices | nc": a text command may end without LF. */
	if ((what & BEV_EVENT_EOF) && !c->closing && c->role == ROLE_TEXT &&
	    (len = evbuffer_get_length(in)) > 0 && len <= CONN_TEXT_MAX) {
		line = xcalloc(1, len + 1);
		evbuffer_remove(in, line, len);
		conn_text_line(c, line);
		free(line);
		return;
	}
	log_debug("event=conn_eof addr=%s error=%d", c->addr,
	    (what & BEV_EVENT_ERROR) != 0);
	c->closing = 1;
	conn_free_later(c);
}
