/* SPDX-License-Identifier: ISC */
/*
 * tui-net.c -- encore-top's link to the main node: one bufferevent speaking
 * the operator protocol, under OpenSSL (libevent's bufferevent_openssl)
 * with a pinned token, whose chain is checked against the pin
 * (client-tls.c) before the secret is sent.  After auth it subscribes to
 * devices and tasks,
 * then asks for both lists (subscribing first, on the same ordered
 * connection, so no change falls between the snapshot and the events; the
 * tasks not yet ended page by page), and follows the output of the task in
 * the detail pane with `logs`.  A lost connection is retried with
 * exponential backoff; nothing is polled.  The main node is trusted no
 * further than the CLI trusts it (client.h): lines of at most
 * CLIENT_REPLY_MAX, a JSON budget, every request answered within the
 * request timeout, and a `status` after a silence to tell a quiet main
 * node from a dead or stuck one.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "protocol.h"
#include "client.h"
#include "tui.h"

#define TUI_NET_BACKOFF_MIN	500			/* ms */
#define TUI_NET_LINES		500	/* lines per turn of the loop */
#define TUI_NET_UNREAD		(4 * 1024 * 1024)	/* input kept unread */
#define TUI_NET_BACKOFF_MAX	10000			/* ms */
#define TUI_NET_CONNECT_TIMEOUT	5			/* s */

static void	net_lost(struct tui_net *, const char *);
static void	net_send_tasks(struct tui_net *, const char *);
static void	net_read_cb(struct bufferevent *, void *);
static void	net_event_cb(struct bufferevent *, short, void *);

/* Forget every pending request. */
static void
net_reqs_clear(struct tui_net *n)
{
	size_t	i;

	for (i = 0; i < n->n_reqs; i++) {
		free(n->reqs[i].id);
		free(n->reqs[i].what);
	}
	free(n->reqs);
	n->reqs = NULL;
	n->n_reqs = 0;
}

/* Remove the request a reply answers into *out; -1 if none. */
static int
net_req_take(struct tui_net *n, const char *id, struct tui_req *out)
{
	size_t	i;

	if (id == NULL)
		return (-1);
	for (i = 0; i < n->n_reqs; i++) {
		if (strcmp(n->reqs[i].id, id) != 0)
			continue;
		*out = n->reqs[i];
		memmove(n->reqs + i, n->reqs + i + 1,
		    (n->n_reqs - i - 1) * sizeof *n->reqs);
		n->n_reqs--;
		return (0);
	}
	return (-1);
}

/* Send a request and remember what it was for.  Frees m. */
static void
net_send(struct tui_net *n, struct msg *m, enum tui_req_kind kind,
    const char *what)
{
	struct tui_req	*r;

	if (n->bev == NULL) {
		msg_free(m);
		return;
	}
	if (msg_write(bufferevent_get_output(n->bev), m) != 0) {
		tui_set_status(n->tui, 1, "cannot encode a request");
		msg_free(m);
		return;
	}
	n->reqs = xreallocarray(n->reqs, n->n_reqs + 1, sizeof *n->reqs);
	r = &n->reqs[n->n_reqs++];
	r->id = xstrdup(m->message_id);
	r->kind = kind;
	r->what = what != NULL ? xstrdup(what) : NULL;
	r->sent_at = client_now_ms();
	msg_free(m);
}

/* Whether a request of kind is waiting for its reply. */
static int
net_req_pending(struct tui_net *n, enum tui_req_kind kind)
{
	size_t	i;

	for (i = 0; i < n->n_reqs; i++) {
		if (n->reqs[i].kind == kind)
			return (1);
	}
	return (0);
}

/* Ask for get_task of n->follow: why it waits, its dependencies, an
 * array's counts. */
static void
net_send_info(struct tui_net *n)
{
	struct msg	m;

	if (n->follow == NULL || n->state != TUI_NET_UP)
		return;
	n->tui->model->info.stale = 0;
	client_msg_init(&m, MSG_GET_TASK, &n->next_id);
	m.u.target.task_id = xstrdup(n->follow);
	net_send(n, &m, TUI_REQ_INFO, n->follow);
}

/* Send a logs follow request for n->follow (not for an array: its
 * output is its elements'), and ask for its info. */
static void
net_send_follow(struct tui_net *n)
{
	struct tui_task	*t;
	struct msg	 m;

	free(n->follow_req);
	n->follow_req = NULL;
	if (n->follow == NULL || n->state != TUI_NET_UP)
		return;
	net_send_info(n);
	t = tui_model_find_task(n->tui->model, n->follow);
	if (t != NULL && t->array_size > 0)
		return;
	client_msg_init(&m, MSG_LOGS, &n->next_id);
	m.u.target.task_id = xstrdup(n->follow);
	m.u.target.follow = 1;
	n->follow_req = xstrdup(m.message_id);
	net_send(n, &m, TUI_REQ_LOGS, n->follow);
}

/* Authenticated: subscribe, then ask for the snapshot. */
static void
net_ready(struct tui_net *n)
{
	struct msg	m;

	n->state = TUI_NET_UP;
	n->backoff_ms = 0;
	n->error[0] = '\0';

	client_msg_init(&m, MSG_SUBSCRIBE, &n->next_id);
	m.u.sub.devices = 1;
	m.u.sub.tasks = 1;
	net_send(n, &m, TUI_REQ_SUBSCRIBE, NULL);
	client_msg_init(&m, MSG_LIST_DEVICES, &n->next_id);
	net_send(n, &m, TUI_REQ_DEVICES, NULL);
	net_send_tasks(n, NULL);
	net_send_follow(n);
	tui_changed(n->tui);
}

/* Ask for a page of the tasks not yet ended (after NULL: the first). */
static void
net_send_tasks(struct tui_net *n, const char *after)
{
	struct msg	m;

	client_msg_init(&m, MSG_LIST_TASKS, &n->next_id);
	m.u.target.limit = TUI_PAGE;
	/* Elements too (those made and not ended: about to run or
	 * running), which count as running though their arrays stand for
	 * them in the list. */
	m.u.target.expand = 1;
	m.u.target.after = after != NULL ? xstrdup(after) : NULL;
	net_send(n, &m, after == NULL ? TUI_REQ_TASKS : TUI_REQ_TASKS_MORE,
	    after);
}

/* Make the bufferevent for fd (or -1 to connect later), under TLS when
 * ssl is given (in state: BUFFEREVENT_SSL_OPEN or _CONNECTING), which it
 * then owns. */
static void
net_bev(struct tui_net *n, int fd, SSL *ssl, int state)
{
	if (ssl != NULL) {
		n->bev = bufferevent_openssl_socket_new(n->base, fd, ssl,
		    (enum bufferevent_ssl_state)state, BEV_OPT_CLOSE_ON_FREE);
		if (n->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(n->bev, 1);
	} else
		n->bev = bufferevent_socket_new(n->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (n->bev == NULL)
		fatalx("bufferevent_socket_new failed");
	n->scanned = 0;
	n->last_rx = client_now_ms();
	/* Big replies in few reads; a main node that sends faster than we
	 * keep up waits once TUI_NET_UNREAD is unread (net_read_cb). */
	bufferevent_set_max_single_read(n->bev, 256 * 1024);
	bufferevent_setwatermark(n->bev, EV_READ, 0, TUI_NET_UNREAD);
	bufferevent_setcb(n->bev, net_read_cb, NULL, net_event_cb, n);
	bufferevent_enable(n->bev, EV_READ | EV_WRITE);
}

/* Reconnect timer: resolve and start a non-blocking connect. */
static void
net_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	struct tui_net	*n = arg;
	struct addrinfo	 hints, *res;
	struct timeval	 tv = { TUI_NET_CONNECT_TIMEOUT, 0 };
	SSL		*ssl = NULL;
	char		*host = NULL, *port = NULL, *cause = NULL;
	int		 error;

	if (proto_parse_hostport(n->addr, CLIENT_DEFAULT_PORT, &host, &port,
	    &cause) != 0) {
		net_lost(n, cause);
		free(cause);
		return;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	error = getaddrinfo(host, port, &hints, &res);
	free(host);
	free(port);
	if (error != 0) {
		net_lost(n, gai_strerror(error));
		return;
	}
	if (n->pinned && (ssl = client_tls_new(&cause)) == NULL) {
		freeaddrinfo(res);
		net_lost(n, cause);
		free(cause);
		return;
	}
	net_bev(n, -1, ssl, BUFFEREVENT_SSL_CONNECTING);
	n->state = TUI_NET_CONNECTING;
	bufferevent_set_timeouts(n->bev, &tv, &tv);
	if (bufferevent_socket_connect(n->bev, res->ai_addr,
	    (int)res->ai_addrlen) != 0) {
		freeaddrinfo(res);
		net_lost(n, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
		return;
	}
	freeaddrinfo(res);
	tui_changed(n->tui);
}

/* The connection is gone: say so, and retry after a backoff. */
static void
net_lost(struct tui_net *n, const char *why)
{
	struct timeval	tv;
	int		ms;

	if (n->bev != NULL)
		bufferevent_free(n->bev);
	n->bev = NULL;
	net_reqs_clear(n);
	free(n->follow_req);
	n->follow_req = NULL;
	n->state = TUI_NET_DOWN;
	snprintf(n->error, sizeof n->error, "%s", why != NULL ? why :
	    "connection lost");

	if (n->backoff_ms == 0)
		n->backoff_ms = TUI_NET_BACKOFF_MIN;
	else if ((n->backoff_ms *= 2) > TUI_NET_BACKOFF_MAX)
		n->backoff_ms = TUI_NET_BACKOFF_MAX;
	ms = n->backoff_ms + (int)(arc4random_uniform(
	    (uint32_t)n->backoff_ms / 4 + 1));
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	n->retry_at = time(NULL) + (ms + 999) / 1000;
	evtimer_add(n->retry, &tv);
	tui_changed(n->tui);
}

/* Apply a page of tasks. */
static void
net_apply_tasks(struct tui_model *m, struct json_object *a)
{
	size_t	i, n;

	if (a == NULL || !json_object_is_type(a, json_type_array))
		return;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++)
		tui_model_apply_task(m, json_object_array_get_idx(a, i));
}

/* A reply (or error) to one of our requests. */
static void
net_reply(struct tui_net *n, struct msg *m)
{
	struct tui		*tui = n->tui;
	struct tui_req		 r;
	struct client_error	 err;
	struct json_object	*data = NULL, *o;
	enum client_result	 res;
	const char		*s;

	if (net_req_take(n, m->reply_to, &r) != 0) {
		if (m->type == MSG_ERROR)
			tui_set_status(tui, 1, "main node: %s",
			    m->u.error.message != NULL ? m->u.error.message :
			    "error");
		return;
	}
	res = client_reply_result(m, &data, &err);
	switch (r.kind) {
	case TUI_REQ_AUTH:
		if (res == CLIENT_OK)
			net_ready(n);
		else if (err.code == PROTO_UNAUTHORIZED ||
		    err.code == PROTO_BAD_VERSION)
			tui_exit(tui, 1, "the main node refused us: %s (%s); %s",
			    err.message, err.code_name,
			    client_error_hint(err.code_name));
		else
			net_lost(n, err.message);
		break;
	case TUI_REQ_SUBSCRIBE:
	case TUI_REQ_DEVICES:
	case TUI_REQ_TASKS:
	case TUI_REQ_TASKS_MORE:
		if (res != CLIENT_OK) {
			tui_set_status(tui, 1, "%s: %s",
			    r.kind == TUI_REQ_SUBSCRIBE ? "subscribe" :
			    r.kind == TUI_REQ_DEVICES ? "list_devices" :
			    "list_tasks", err.message);
			break;
		}
		if (r.kind == TUI_REQ_DEVICES)
			tui_model_set_devices(tui->model,
			    client_json_get(data, "devices"), time(NULL));
		else if (r.kind == TUI_REQ_TASKS)
			tui_model_set_tasks(tui->model,
			    client_json_get(data, "tasks"));
		else if (r.kind == TUI_REQ_TASKS_MORE)
			net_apply_tasks(tui->model, client_json_get(data,
			    "tasks"));
		if (r.kind == TUI_REQ_TASKS || r.kind == TUI_REQ_TASKS_MORE) {
			/* The next page, unless the model is full or the
			 * main node does not page (no "next"). */
			s = client_json_str(data, "next");
			if (s != NULL && !tui->model->dropped_tasks &&
			    (r.what == NULL || strcmp(r.what, s) != 0))
				net_send_tasks(n, s);
		}
		break;
	case TUI_REQ_PROBE:
		break;
	case TUI_REQ_LOGS:
		if (res != CLIENT_OK) {
			if (n->follow != NULL && strcmp(n->follow, r.what) == 0)
				tui_set_status(tui, 1, "logs %s: %s", r.what,
				    err.message);
			break;
		}
		if (n->follow == NULL || strcmp(n->follow, r.what) != 0)
			break;
		o = client_json_get(data, "output");
		s = o != NULL ? json_object_get_string(o) : "";
		tui_model_output_reset(tui->model, r.what, s,
		    o != NULL ? (size_t)json_object_get_string_len(o) : 0);
		break;
	case TUI_REQ_INFO:
		if (res == CLIENT_OK && n->follow != NULL &&
		    strcmp(n->follow, r.what) == 0)
			tui_model_set_info(tui->model, r.what,
			    client_json_get(data, "task"));
		break;
	case TUI_REQ_ACTION:
		if (res != CLIENT_OK) {
			tui_set_status(tui, 1, "%s: %s: %s", r.what,
			    err.code_name, err.message);
			break;
		}
		if ((o = client_json_get(data, "device")) != NULL)
			tui_model_apply_device(tui->model, o, time(NULL));
		if ((o = client_json_get(data, "task")) != NULL)
			tui_model_apply_task(tui->model, o);
		tui_set_status(tui, 0, "%s: ok", r.what);
		break;
	}
	if (data != NULL)
		json_object_put(data);
	free(r.id);
	free(r.what);
}

/* An event from a subscription or a follow. */
static void
net_event(struct tui_net *n, struct msg *m)
{
	struct tui_model	*model = n->tui->model;
	struct json_object	*d = m->u.json, *o;
	const char		*topic, *s;

	if ((topic = client_json_str(d, "topic")) == NULL)
		return;
	if (strcmp(topic, "devices") == 0) {
		/* Why a task waits may be about devices. */
		if (model->info.why != NULL)
			model->info.stale = 1;
		if ((o = client_json_get(d, "device")) != NULL)
			tui_model_apply_device(model, o, time(NULL));
		else if ((s = client_json_str(d, "removed")) != NULL)
			tui_model_remove_device(model, s);
	} else if (strcmp(topic, "tasks") == 0) {
		if ((o = client_json_get(d, "task")) != NULL)
			tui_model_apply_task(model, o);
	} else if (strcmp(topic, "output") == 0) {
		o = client_json_get(d, "data");
		if (o != NULL && json_object_is_type(o, json_type_string))
			tui_model_output_append(model,
			    client_json_str(d, "task_id"),
			    json_object_get_string(o),
			    (size_t)json_object_get_string_len(o));
	} else if (strcmp(topic, "task") == 0) {
		if ((o = client_json_get(d, "task")) != NULL) {
			tui_model_apply_task(model, o);
			tui_model_output_end(model, client_json_str(o, "id"));
		}
	}
}

/* Lines from the main node. */
static void
net_read_cb(struct bufferevent *bev, void *arg)
{
	struct tui_net		*n = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct proto_err	 perr;
	struct msg		 m;
	enum frame_result	 fr;
	char			*line, why[TUI_STATUS_MAX];
	size_t			 len, lines = 0;

	while (n->bev == bev) {
		if (++lines > TUI_NET_LINES) {
			/* Let keys, ticks and redraws in; go on next turn. */
			event_active(n->more, EV_TIMEOUT, 0);
			break;
		}
		fr = client_frame_read(in, CLIENT_REPLY_MAX, &n->scanned, &line,
		    &len);
		if (fr == FRAME_AGAIN) {
			/* Unread input is capped, except for one line (a
			 * reply) that needs more room, up to the most a
			 * reply may be. */
			bufferevent_setwatermark(bev, EV_READ, 0,
			    evbuffer_get_length(in) + 1 >= TUI_NET_UNREAD ?
			    CLIENT_REPLY_MAX + 2 : TUI_NET_UNREAD);
			break;
		}
		if (fr == FRAME_TOO_LONG) {
			snprintf(why, sizeof why, "a line longer than %d MiB "
			    "came (is --main an encore main node?)",
			    CLIENT_REPLY_MAX / (1024 * 1024));
			net_lost(n, why);
			break;
		}
		n->last_rx = client_now_ms();
		if (len > 0 && client_json_budget(line, len) != 0) {
			free(line);
			snprintf(why, sizeof why, "a reply of over %d objects "
			    "or %d values came (is --main an encore main node?)",
			    CLIENT_JSON_CONTAINERS, CLIENT_JSON_VALUES);
			net_lost(n, why);
			break;
		}
		if (len == 0 || msg_decode(line, len, &m, &perr) != 0) {
			free(line);
			continue;
		}
		free(line);
		switch (m.type) {
		case MSG_REPLY:
		case MSG_ERROR:
			net_reply(n, &m);
			break;
		case MSG_EVENT:
			net_event(n, &m);
			break;
		case MSG_BYE:
			net_lost(n, "the main node is shutting down");
			break;
		default:
			break;
		}
		msg_free(&m);
	}
	if (n->tui->model->dirty)
		tui_changed(n->tui);
}

/* Go on with lines left in the input by the last turn. */
static void
net_more_cb(evutil_socket_t fd, short events, void *arg)
{
	struct tui_net	*n = arg;

	if (n->bev != NULL)
		net_read_cb(n->bev, n);
}

/* Connected, closed or failed. */
static void
net_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tui_net	*n = arg;
	struct msg	 m;
	char		 why[TUI_STATUS_MAX];

	SSL		*ssl;
	unsigned long	 e;
	char		*cause = NULL;

	if (what & BEV_EVENT_CONNECTED) {
		bufferevent_set_timeouts(bev, NULL, NULL);
		/* Under TLS the handshake is done: the pin first, then the
		 * secret. */
		ssl = n->pinned ? bufferevent_openssl_get_ssl(bev) : NULL;
		if (n->pinned && (ssl == NULL ||
		    client_tls_check(ssl, n->pin, n->addr, &cause) != 0)) {
			tui_exit(n->tui, 3, "%s", cause != NULL ? cause :
			    "the TLS session went away");
			free(cause);
			net_lost(n, "the main node is not the pinned one");
			return;
		}
		n->state = TUI_NET_AUTH;
		client_msg_init(&m, MSG_AUTH, &n->next_id);
		m.protocol_version = PROTO_VERSION;
		m.u.token = xstrdup(n->token);
		net_send(n, &m, TUI_REQ_AUTH, NULL);
		tui_changed(n->tui);
		return;
	}
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof why, "the main node closed the "
		    "connection");
	else if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof why, "no answer within %d s",
		    TUI_NET_CONNECT_TIMEOUT);
	else if (n->pinned &&
	    (e = bufferevent_get_openssl_error(bev)) != 0) {
		snprintf(why, sizeof why, "TLS: ");
		ERR_error_string_n(e, why + 5, sizeof why - 5);
		while (bufferevent_get_openssl_error(bev) != 0)
			;
	} else
		snprintf(why, sizeof why, "%s", evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
	net_lost(n, why);
}

/* Give up on unanswered requests; check on a silent main node. */
void
tui_net_tick(struct tui_net *n)
{
	struct msg	 m;
	char		 why[TUI_STATUS_MAX];
	int64_t		 now = client_now_ms();
	size_t		 i;

	if (n->bev == NULL || n->state == TUI_NET_CONNECTING)
		return;
	for (i = 0; i < n->n_reqs; i++) {
		if (now - n->reqs[i].sent_at < n->timeout_ms)
			continue;
		snprintf(why, sizeof why, "no answer from the main node "
		    "within %d s%s", n->timeout_ms / 1000,
		    evbuffer_get_length(bufferevent_get_input(n->bev)) > 0 ?
		    " (only part of a line came)" : "");
		net_lost(n, why);
		return;
	}
	/* The detail task changed since its info came: ask again (at
	 * most once a tick, however fast its events come). */
	if (n->state == TUI_NET_UP && n->tui->model->info.stale &&
	    !net_req_pending(n, TUI_REQ_INFO))
		net_send_info(n);
	if (n->state == TUI_NET_UP && n->n_reqs == 0 &&
	    now - n->last_rx >= n->timeout_ms / 2) {
		client_msg_init(&m, MSG_STATUS, &n->next_id);
		net_send(n, &m, TUI_REQ_PROBE, NULL);
	}
}

/* Start on an authenticated session, taking its connection over. */
void
tui_net_start(struct tui_net *n, struct tui *tui, struct event_base *base,
    const char *addr, const char *token, int timeout_ms, struct client *c)
{
	struct evbuffer	*left;
	const char	*secret;
	char		*cause = NULL;
	SSL		*ssl;
	int		 fd;

	memset(n, 0, sizeof *n);
	n->tui = tui;
	n->base = base;
	n->addr = xstrdup(addr);
	/* The first session checked the token's form already. */
	n->pinned = client_token_parse(token, n->pin, &secret, &cause) == 1;
	free(cause);
	n->token = xstrdup(secret);
	n->timeout_ms = timeout_ms;
	n->more = event_new(base, -1, 0, net_more_cb, n);
	n->next_id = 1000;
	n->retry = evtimer_new(base, net_retry_cb, n);
	if ((left = evbuffer_new()) == NULL)
		fatalx("evbuffer_new failed");
	client_detach(c, &fd, &ssl, left);
	evutil_make_socket_nonblocking(fd);
	net_bev(n, fd, ssl, BUFFEREVENT_SSL_OPEN);
	evbuffer_add_buffer(bufferevent_get_input(n->bev), left);
	evbuffer_free(left);
	net_ready(n);
}

/* Close and free. */
void
tui_net_stop(struct tui_net *n)
{
	if (n->bev != NULL)
		bufferevent_free(n->bev);
	n->bev = NULL;
	if (n->retry != NULL)
		event_free(n->retry);
	n->retry = NULL;
	if (n->more != NULL)
		event_free(n->more);
	n->more = NULL;
	net_reqs_clear(n);
	free(n->addr);
	if (n->token != NULL)
		explicit_bzero(n->token, strlen(n->token));
	free(n->token);
	free(n->follow);
	free(n->follow_req);
	n->addr = n->token = n->follow = n->follow_req = NULL;
}

/* Send an action. */
int
tui_net_action(struct tui_net *n, int type, const char *id)
{
	struct msg	 m;
	char		*what;

	if (n->state != TUI_NET_UP) {
		tui_set_status(n->tui, 1, "%s %s: not connected to the main "
		    "node; try again when it is back", msg_type_name(type), id);
		return (-1);
	}
	client_msg_init(&m, type, &n->next_id);
	if (type == MSG_CANCEL)
		m.u.target.task_id = xstrdup(id);
	else
		m.u.target.device_id = xstrdup(id);
	xasprintf(&what, "%s %s", msg_type_name(type), id);
	net_send(n, &m, TUI_REQ_ACTION, what);
	tui_set_status(n->tui, 0, "%s: sent", what);
	free(what);
	return (0);
}

/* Follow a task's output. */
void
tui_net_follow(struct tui_net *n, const char *id)
{
	if (id == NULL)
		return;
	if (n->follow != NULL && strcmp(n->follow, id) == 0)
		return;
	free(n->follow);
	n->follow = xstrdup(id);
	tui_model_clear_info(n->tui->model);
	net_send_follow(n);
}
