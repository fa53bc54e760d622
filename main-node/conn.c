/* SPDX-License-Identifier: ISC */
/*
 * conn.c -- one TCP connection: a bufferevent, LF framing with a length
 * cap, and the first-byte sniff that makes it a JSON session or a one-shot
 * text command.  Sockets and buffers only: what a line means is decided
 * above, through the server's callbacks (on_json_line, on_text_line,
 * on_closed).
 *
 * A connection is never freed inside its own callback: conn_close() stops
 * reading, lets the output drain (a peer that half-closes after its
 * requests still gets every reply), and frees it from a later event.
 *
 * Limits enforced here: connections per remote address (loopback exempt),
 * a token bucket of lines per second (a faster peer is read more slowly,
 * never dropped), the unread output a peer may leave queued, and how long
 * output may sit without the peer reading any of it.
 *
 * The first bytes decide what a connection speaks (sniff.c): a JSON
 * session, a text command, or HTTP requests, which http.c parses and
 * answers on the same connection.
 *
 * Held output.  While commit.c has a transaction open, everything sent to
 * any connection goes to that connection's held buffer instead of the
 * socket; conn_hold_end() releases it all once the commit is durable, or
 * drops it when the commit failed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <json-c/json.h>
#include <openssl/ssl.h>

#include "main.h"

#define CONN_BAD_LINES_MAX	5	/* bad lines in a row before closing */
#define CONN_ADDR_BUCKETS	1024
#define CONN_WRITE_TIMEOUT	60	/* s without the peer reading a byte */
#define CONN_PRODUCE_LOW	(64 * 1024)	/* refill a stream below this */
#define CONN_TLS_OUT_HIGH	(256 * 1024)	/* TLS records queued on the
						   socket, at most */

/* Open connections from one remote IP address. */
struct addr_slot {
	char			 ip[INET6_ADDRSTRLEN];
	int			 n;
	struct addr_slot	*next;
};
static struct addr_slot	*conn_addrs[CONN_ADDR_BUCKETS];

/* Connections with held output, and whether output is held now. */
static struct conn_list	 held_conns = TAILQ_HEAD_INITIALIZER(held_conns);
static int		 conn_holding;

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_produce(struct conn *);
static void	conn_setup_bev(struct conn *);

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

/* Stop a connection's stream of output, freeing its state. */
static void
conn_producer_clear(struct conn *c)
{
	if (c->producer_free != NULL && c->producer_arg != NULL)
		c->producer_free(c->producer_arg);
	c->producer = NULL;
	c->producer_arg = NULL;
	c->producer_free = NULL;
}

/* Free a connection's memory; it must be off the server's lists. */
void
conn_release(struct conn *c)
{
	conn_producer_clear(c);
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
	struct conn		*c = arg;
	struct server		*s = c->server;
	struct bufferevent	*under;
	struct timeval		 tv = { 0, 10000 };

	/* Inside TLS the last bytes may still wait in the socket's own
	 * buffer: let them go first (for at most two seconds). */
	if (c->tls && c->free_waits++ < 200 &&
	    (under = bufferevent_get_underlying(c->bev)) != NULL &&
	    evbuffer_get_length(bufferevent_get_output(under)) > 0) {
		event_base_once(s->base, -1, EV_TIMEOUT, conn_free_cb, c, &tv);
		return;
	}
	if (s->on_closed != NULL)
		s->on_closed(c);
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

	c->closing = 1;
	/* A TLS filter keeps writing to its socket until freed. */
	bufferevent_disable(c->bev, c->tls ? EV_READ : EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	if (c->rate_ev != NULL)
		evtimer_del(c->rate_ev);
	if (c->idle_ev != NULL)
		evtimer_del(c->idle_ev);
	event_base_once(c->server->base, -1, EV_TIMEOUT, conn_free_cb, c, &tv);
}

/* An unregistered connection took too long. */
static void
conn_idle_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	if ((c->role & (ROLE_TEXT | ROLE_NEW | ROLE_JSON | ROLE_HTTP)) &&
	    !c->http_sse) {
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
	c->role = ROLE_NEW;
	c->created = now_mono();
	if (salen > 0 && (size_t)salen <= sizeof c->peer) {
		memcpy(&c->peer, sa, (size_t)salen);
		c->peer_len = salen;
	}
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
	conn_setup_bev(c);
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

/* Where output goes: the socket, or the held buffer while a commit is
 * open. */
struct evbuffer *
conn_output(struct conn *c)
{
	if (!conn_holding)
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

/* From now on hold every connection's output. */
void
conn_hold_start(void)
{
	conn_holding = 1;
}

/*
 * Send what a connection held: straight to its socket when nothing waits
 * before it, so that one message to each of many devices does not cost
 * each a write event of its own (two epoll_ctl calls and a turn of the
 * loop); what the socket does not take now, or all of it under TLS or
 * behind a producer, goes through the bufferevent as usual, which also
 * meets any error the socket has.
 */
static void
conn_write_held(struct conn *c)
{
	if (!c->tls && c->producer == NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		(void)evbuffer_write(c->held, bufferevent_getfd(c->bev));
	if (evbuffer_get_length(c->held) > 0)
		bufferevent_write_buffer(c->bev, c->held);
}

/* Release (or drop) what was held; send nothing more to a connection that
 * is closing and has nothing left to send. */
void
conn_hold_end(int release)
{
	struct conn	*c;

	conn_holding = 0;
	while ((c = TAILQ_FIRST(&held_conns)) != NULL) {
		TAILQ_REMOVE(&held_conns, c, held_entry);
		c->holding = 0;
		if (release) {
			conn_write_held(c);
			conn_check_output(c);
		} else
			evbuffer_drain(c->held, evbuffer_get_length(c->held));
		if (c->closing && c->producer == NULL &&
		    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_free_later(c);
	}
}

/* 1 if this connection has output held for the open commit. */
int
conn_is_holding(const struct conn *c)
{
	return (c->holding);
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
	if (c->rate_ev != NULL)
		evtimer_del(c->rate_ev);
	if (conn_out_len(c) == 0 && c->producer == NULL)
		conn_free_later(c);
	/* Otherwise conn_write_cb (or conn_hold_end) frees it once the
	 * output has drained. */
}

/* Queue a string. */
void
conn_puts(struct conn *c, const char *s)
{
	evbuffer_add(conn_output(c), s, strlen(s));
}

/*
 * Close a connection whose peer does not read what we send.  Returns -1
 * if it was closed.  A connection streaming a long reply is exempt: its
 * producer only adds output as the peer reads.
 */
int
conn_check_output(struct conn *c)
{
	size_t	len = conn_out_len(c);

	if (len > c->server->opt->max_conn_buffer) {
		log_warn("event=conn_slow_reader addr=%s queued=%zu "
		    "limit=%zu", c->addr, len, c->server->opt->max_conn_buffer);
		conn_producer_clear(c);
		if (c->holding) {
			TAILQ_REMOVE(&held_conns, c, held_entry);
			c->holding = 0;
		}
		if (c->held != NULL)
			evbuffer_drain(c->held, evbuffer_get_length(c->held));
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
	if (msg_write(conn_output(c), m) != 0)
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
	msg_write_error(conn_output(c), reply_to, code, text);
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
	msg_write_reply_error(conn_output(c), reply_to, code, text);
	return (conn_check_output(c));
}

/*
 * Stream a long reply: cb is called whenever the output runs low until it
 * returns 0; arg is freed with free_cb when the stream ends or the
 * connection goes.  A closing connection is freed only after the stream
 * ended and drained.
 */
void
conn_set_producer(struct conn *c, conn_producer_cb cb, void *arg,
    void (*free_cb)(void *))
{
	conn_producer_clear(c);
	c->producer = cb;
	c->producer_arg = arg;
	c->producer_free = free_cb;
	conn_produce(c);
}

/* Let the producer add output while there is room. */
static void
conn_produce(struct conn *c)
{
	int	more = 1;

	while (c->producer != NULL && more &&
	    conn_out_len(c) < CONN_PRODUCE_LOW)
		more = c->producer(c, c->producer_arg);
	if (!more)
		conn_producer_clear(c);
	if (c->closing && c->producer == NULL && conn_out_len(c) == 0)
		conn_free_later(c);
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

/* A file_data line was read: its len raw bytes come next, for the file
 * store (on_raw) or, with discard, for nobody. */
void
conn_expect_raw(struct conn *c, int64_t len, int discard)
{
	frame_expect_raw(&c->fr, len);
	c->raw_discard = discard;
}

/* The connection's stream of output, or NULL. */
conn_producer_cb
conn_producer(const struct conn *c)
{
	return (c->producer);
}

/* Note the outcome of one line (dispatch calls it): bad lines in a row
 * close the connection. */
void
conn_line_result(struct conn *c, int bad)
{
	if (bad)
		conn_bad_line(c);
	else
		c->bad_lines = 0;
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
		c->server->on_text_line(c, line);
	conn_close(c, "text command done");
}

/* Reading was paused by the rate limit: resume and handle what waits. */
static void
conn_rate_cb(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c = arg;

	if (c->closing)
		return;
	if (!c->eof)
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

/* 1 if a JSON session in plaintext is accepted from this peer. */
static int
conn_plaintext_ok(const struct conn *c)
{
	switch (c->server->opt->plaintext) {
	case PLAINTEXT_ON:
		return (1);
	case PLAINTEXT_LOCAL:
		return (c->tls || c->is_local);
	default:
		return (c->tls);
	}
}

/* Set a connection's buffer limits and callbacks on its bufferevent. */
static void
conn_setup_bev(struct conn *c)
{
	struct timeval	wtv = { CONN_WRITE_TIMEOUT, 0 };

	/* Never buffer more than one line past the cap. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    c->server->opt->max_line + 2);
	/* The write callback runs when output falls below this: a stream
	 * is refilled, a closing connection freed. */
	bufferevent_setwatermark(c->bev, EV_WRITE, CONN_PRODUCE_LOW, 0);
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/*
 * The peer starts a TLS handshake: the socket's bufferevent (which holds
 * the first bytes already) goes under a TLS filter, and the first bytes
 * inside TLS decide what the session speaks, as they do outside.
 */
static int
conn_tls_start(struct conn *c)
{
	struct bufferevent	*under = c->bev, *tb;
	SSL			*ssl;

	if ((ssl = tls_new_session()) == NULL)
		return (-1);
	tb = bufferevent_openssl_filter_new(c->server->base, under, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		return (-1);
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	/* The filter encrypts only while the socket's buffer is below its
	 * high mark: the rest waits in the filter's own output, where
	 * conn_out_len() sees it, so a stream (a file download) is
	 * produced as the peer reads, not as fast as OpenSSL encrypts. */
	bufferevent_setwatermark(under, EV_WRITE, CONN_PRODUCE_LOW,
	    CONN_TLS_OUT_HIGH);
	c->bev = tb;
	c->tls = 1;
	conn_setup_bev(c);
	/* The ClientHello is already in the socket's buffer: start. */
	bufferevent_trigger(under, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
	return (0);
}

/* Look at the first bytes and decide what the connection speaks.
 * Returns 0 once decided, -1 while it is not known yet. */
static int
conn_sniff(struct conn *c, struct evbuffer *in)
{
	size_t		 n = evbuffer_get_length(in);
	unsigned char	*p;

	if (n > 16)
		n = 16;
	p = evbuffer_pullup(in, (ev_ssize_t)n);
	switch (sniff_classify(p, n)) {
	case SNIFF_MORE:
		return (-1);
	case SNIFF_HTTP:
		c->role = ROLE_HTTP;
		return (0);
	case SNIFF_TLS:
		if (c->tls || conn_tls_start(c) != 0) {
			log_warn("event=tls_refused addr=%s", c->addr);
			conn_close(c, "cannot start tls");
		}
		return (-1);	/* the handshake, then the first bytes */
	case SNIFF_JSON:
		if (!conn_plaintext_ok(c)) {
			conn_send_error(c, NULL, PROTO_FORBIDDEN, "plaintext "
			    "sessions are not accepted from your address "
			    "(--plaintext %s): use the pinned token "
			    "(ENC1:...) from the main node's state dir, with "
			    "which clients speak TLS", c->server->opt->
			    plaintext == PLAINTEXT_OFF ? "off" : "local");
			conn_close(c, "plaintext refused");
			return (-1);
		}
		/* FALLTHROUGH */
	case SNIFF_TEXT:
		/* Blanks before the first byte are dropped. */
		while (evbuffer_get_length(in) > 0) {
			p = evbuffer_pullup(in, 1);
			if (*p != ' ' && *p != '\t' && *p != '\r' &&
			    *p != '\n')
				break;
			evbuffer_drain(in, 1);
		}
		c->role = (*p == '{') ? ROLE_JSON : ROLE_TEXT;
		return (0);
	}
	return (-1);
}

/* Read callback: frame lines and hand them up. */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	enum frame_result	 fr;
	enum frame_kind		 fk;
	char			*line;
	size_t			 len;

	if (c->closing)
		return;
	if (c->role == ROLE_NEW && conn_sniff(c, in) != 0)
		return;
	if (c->role == ROLE_HTTP) {
		c->server->on_http(c, in);
		return;
	}
	if (c->role == ROLE_TEXT) {
		fr = frame_read_line(in, CONN_TEXT_LINE, &line, &len);
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
		if (!c->eof && c->rate_ev != NULL &&
		    evtimer_pending(c->rate_ev, NULL))
			break;	/* paused; conn_rate_cb carries on */
		fk = frame_next(&c->fr, in, c->server->opt->max_line, &line,
		    &len);
		if (fk == FRAME_K_AGAIN)
			break;
		if (fk == FRAME_K_RAW) {
			/* Bytes of a file frame: to the file store. */
			if (c->raw_discard)
				evbuffer_drain(in, len);
			else
				c->server->on_raw(c, in, len);
			frame_raw_done(&c->fr, len);
			if (c->fr.raw_left == 0 && !c->raw_discard)
				c->server->on_raw_end(c);
			continue;
		}
		if (fk == FRAME_K_TOO_LONG) {
			c->server->msgs_bad++;
			conn_send_error(c, NULL, PROTO_LINE_TOO_LONG,
			    "line longer than %zu bytes; split task output "
			    "into chunks; closing", c->server->opt->max_line);
			conn_close(c, "line too long");
			break;
		}
		if (len > 0) {
			c->server->msgs_in++;
			c->server->on_json_line(c, line, len);
		}
		free(line);
		if (!c->eof && conn_rate_take(c) != 0)
			break;
	}
	if (c->eof && !c->closing)
		conn_close(c, "peer closed");
}

/* Write callback: output fell below the low mark; refill a stream or
 * finish a pending close. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->producer != NULL) {
		conn_produce(c);
		return;
	}
	if (c->closing && conn_out_len(c) == 0)
		conn_free_later(c);
}

/* EOF, error or a write that made no progress for too long. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line;
	size_t		 len;

	if (what & BEV_EVENT_TIMEOUT) {
		log_warn("event=conn_write_timeout addr=%s queued=%zu "
		    "msg=\"the peer read nothing for %d s\"", c->addr,
		    conn_out_len(c), CONN_WRITE_TIMEOUT);
		conn_free_later(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		log_debug("event=conn_error addr=%s", c->addr);
		conn_free_later(c);
		return;
	}
	if (!(what & BEV_EVENT_EOF))
		return;
	log_debug("event=conn_eof addr=%s", c->addr);
	c->eof = 1;
	if (c->closing)
		return;
	/* "printf devices | nc": a text command may end without LF. */
	if ((c->role == ROLE_TEXT || c->role == ROLE_NEW) &&
	    (len = evbuffer_get_length(in)) > 0 && len <= CONN_TEXT_LINE) {
		if (c->role == ROLE_NEW && conn_sniff(c, in) != 0) {
			conn_close(c, "peer closed");
			return;
		}
		if (c->role == ROLE_TEXT) {
			len = evbuffer_get_length(in);
			line = xcalloc(1, len + 1);
			evbuffer_remove(in, line, len);
			conn_text_line(c, line);
			free(line);
			return;
		}
	}
	/* An HTTP peer that half-closed: what it sent is still answered,
	 * then the connection closes. */
	if (c->role == ROLE_HTTP) {
		c->server->on_http(c, in);
		if (!c->closing)
			conn_close(c, "peer closed");
		return;
	}
	/* A JSON peer that half-closed: handle what it sent, answer it,
	 * then close once the answers are out. */
	if (c->role != ROLE_TEXT && c->role != ROLE_NEW)
		conn_read_cb(bev, c);
	if (!c->closing)
		conn_close(c, "peer closed");
}
