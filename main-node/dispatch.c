/* SPDX-License-Identifier: ISC */
/*
 * dispatch.c -- where a message goes.  One row per message type: its
 * handler, which session roles may send it, whether it joins the pass's
 * group commit, and what it targets.  Every line runs the same steps:
 * decode and validate (the protocol library) -> row -> role check ->
 * commit -> target lookup (one generic not_found) -> handler.  Handlers
 * get a decoded struct and a looked-up target, never raw JSON.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "main.h"

/*
 * Lines a worker sent while the database could not take a write (another
 * process holds it locked): kept in order and handled once it can, so the
 * loop never waits on the lock and the worker stays connected.  Its
 * heartbeats go on being handled meanwhile.  Beyond DEFER_MAX lines the
 * worker is disconnected and re-sends what it has not had acknowledged.
 */
#define DEFER_MAX	4096
#define DEFER_RETRY_MS	100

struct deferred_line {
	char				*line;
	size_t				 len;
	TAILQ_ENTRY(deferred_line)	 entry;
};
struct deferred_list {
	TAILQ_HEAD(, deferred_line)	 lines;
	int				 n;
	struct conn			*c;
	TAILQ_ENTRY(deferred_list)	 entry;
};
static TAILQ_HEAD(, deferred_list) dispatch_deferred =
    TAILQ_HEAD_INITIALIZER(dispatch_deferred);
static struct event	*dispatch_retry_ev;

static void	dispatch_msg(struct conn *, struct msg *);

enum dispatch_target_kind {
	DT_NONE,
	DT_TASK,		/* data.task_id names a stored task */
	DT_DEVICE,		/* data.device_id names a known device */
};

#define D_COMMIT	0x01	/* writes: joins the pass's commit */

typedef void (*dispatch_fn)(struct request *);

/* One message type's row. */
struct dispatch_row {
	dispatch_fn			 fn;
	int				 roles;	/* ROLE_* that may send it */
	int				 flags;
	enum dispatch_target_kind	 target;
};

#define WORKERS		(ROLE_WORKER | ROLE_PENDING)
#define ANY_SESSION	(ROLE_JSON | ROLE_WORKER | ROLE_PENDING | ROLE_OPERATOR)

static const struct dispatch_row dispatch_table[MSG__COUNT] = {
	/* from workers */
	[MSG_REGISTER] =	{ handle_register, ROLE_JSON, D_COMMIT,
				  DT_NONE },
	[MSG_HEARTBEAT] =	{ handle_heartbeat, WORKERS, 0, DT_NONE },
	[MSG_TASK_STARTED] =	{ handle_task_started, ROLE_WORKER, D_COMMIT,
				  DT_NONE },
	[MSG_TASK_OUTPUT] =	{ handle_task_output, ROLE_WORKER, D_COMMIT,
				  DT_NONE },
	[MSG_TASK_RESULT] =	{ handle_task_result, ROLE_WORKER, D_COMMIT,
				  DT_NONE },
	[MSG_BYE] =		{ handle_bye, ANY_SESSION, 0, DT_NONE },
	/* from operators */
	[MSG_AUTH] =		{ handle_auth, ROLE_JSON | ROLE_OPERATOR, 0,
				  DT_NONE },
	[MSG_SUBMIT] =		{ handle_submit, ROLE_OPERATOR, D_COMMIT,
				  DT_NONE },
	[MSG_LIST_DEVICES] =	{ handle_list_devices, ROLE_OPERATOR, 0,
				  DT_NONE },
	[MSG_LIST_TASKS] =	{ handle_list_tasks, ROLE_OPERATOR, 0,
				  DT_NONE },
	[MSG_GET_TASK] =	{ handle_get_task, ROLE_OPERATOR, 0, DT_TASK },
	[MSG_LOGS] =		{ handle_logs, ROLE_OPERATOR, 0, DT_TASK },
	[MSG_CANCEL] =		{ handle_cancel, ROLE_OPERATOR, D_COMMIT,
				  DT_TASK },
	[MSG_APPROVE] =		{ handle_device_admin, ROLE_OPERATOR, D_COMMIT,
				  DT_DEVICE },
	[MSG_REJECT] =		{ handle_device_admin, ROLE_OPERATOR, D_COMMIT,
				  DT_DEVICE },
	[MSG_DRAIN] =		{ handle_device_admin, ROLE_OPERATOR, D_COMMIT,
				  DT_DEVICE },
	[MSG_UNDRAIN] =		{ handle_device_admin, ROLE_OPERATOR, D_COMMIT,
				  DT_DEVICE },
	[MSG_REMOVE] =		{ handle_device_admin, ROLE_OPERATOR, D_COMMIT,
				  DT_DEVICE },
	[MSG_SUBSCRIBE] =	{ handle_subscribe, ROLE_OPERATOR, 0, DT_NONE },
	[MSG_STATUS] =		{ handle_status, ROLE_OPERATOR, 0, DT_NONE },
	[MSG_BACKUP] =		{ handle_backup, ROLE_OPERATOR, 0, DT_NONE },
	[MSG_HOLD] =		{ handle_hold, ROLE_OPERATOR, D_COMMIT, DT_TASK },
	[MSG_RELEASE] =		{ handle_release, ROLE_OPERATOR, D_COMMIT,
				  DT_TASK },
	/* files, from either */
	[MSG_FILE_STAT] =	{ handle_file_stat, ROLE_WORKER | ROLE_OPERATOR,
				  0, DT_NONE },
	[MSG_FILE_DATA] =	{ handle_file_data, ROLE_WORKER | ROLE_OPERATOR,
				  0, DT_NONE },
	[MSG_FILE_GET] =	{ handle_file_get, ROLE_WORKER | ROLE_OPERATOR,
				  0, DT_NONE },
	[MSG_TASK_CHECKPOINT] =	{ handle_task_checkpoint, ROLE_WORKER,
				  D_COMMIT, DT_NONE },
};

/*
 * Check the table against the protocol's: every message a worker or an
 * operator may send has a handler, and nothing the main node only sends
 * has one.  Run at start (and by the unit tests).
 */
int
dispatch_check_table(char **cause)
{
	int	t, flags;

	for (t = MSG_UNKNOWN + 1; t < MSG__COUNT; t++) {
		flags = msg_type_flags(t);
		if ((flags & (MSG_F_FROM_WORKER | MSG_F_FROM_OPERATOR)) &&
		    dispatch_table[t].fn == NULL) {
			xasprintf(cause, "no handler for %s", msg_type_name(t));
			return (-1);
		}
		if (!(flags & (MSG_F_FROM_WORKER | MSG_F_FROM_OPERATOR)) &&
		    dispatch_table[t].fn != NULL) {
			xasprintf(cause, "%s has a handler but is never sent "
			    "to the main node", msg_type_name(t));
			return (-1);
		}
	}
	return (0);
}

/* Name of a session role, for errors. */
static const char *
dispatch_role_name(enum conn_role r)
{
	switch (r) {
	case ROLE_WORKER:
		return ("worker");
	case ROLE_PENDING:
		return ("pending worker");
	case ROLE_OPERATOR:
		return ("operator");
	default:
		return ("unregistered");
	}
}

/* Refuse a message this session may not send. */
static void
dispatch_refuse(struct conn *c, struct msg *m)
{
	const char	*name = msg_type_name(m->type);

	if (c->role == ROLE_JSON) {
		conn_send_error(c, m->message_id, PROTO_UNAUTHORIZED,
		    "send register (workers) or auth (operators) first");
	} else if (m->type == MSG_REGISTER) {
		conn_send_error(c, m->message_id, PROTO_FORBIDDEN,
		    "this connection is already registered as %s; open a "
		    "new connection to register another device",
		    c->device != NULL ? c->device->id : "a device");
	} else if (c->role == ROLE_PENDING &&
	    (dispatch_table[m->type].roles & ROLE_WORKER)) {
		conn_send_error(c, m->message_id, PROTO_FORBIDDEN,
		    "device %s is pending approval: until an operator runs "
		    "`encore approve %s` it may only send heartbeat and bye",
		    c->device->id, c->device->id);
	} else if (dispatch_table[m->type].fn == NULL) {
		conn_send_error(c, m->message_id, PROTO_FORBIDDEN,
		    "%s is sent by the main node, not to it", name);
	} else {
		conn_send_error(c, m->message_id, PROTO_FORBIDDEN,
		    "%s is not allowed in a%s %s session", name,
		    c->role == ROLE_OPERATOR ? "n" : "",
		    dispatch_role_name(c->role));
	}
	/* A refused frame's bytes follow all the same: drop them. */
	if (m->type == MSG_FILE_DATA)
		conn_expect_raw(c, m->u.file.len, 1);
	conn_line_result(c, 1);
}

/* Look up what the message targets; -1 (answered not_found) if absent. */
static int
dispatch_lookup(struct request *rq, enum dispatch_target_kind k)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct dispatch_target	*t = &rq->t;
	const char	*id;
	int		 rc;

	switch (k) {
	case DT_TASK:
		id = m->u.target.task_id;
		rc = task_ref_get(c->server->store, id, &t->task);
		if (rc == 0)
			return (0);
		(void)c;
		if (rc < 0)
			request_fail(rq, PROTO_INTERNAL, "cannot read task "
			    "%.64s from the database; see the main node's log",
			    id);
		else
			request_fail(rq, PROTO_NOT_FOUND, "no task \"%.64s\"; "
			    "see `encore ps --all`", id);
		return (-1);
	case DT_DEVICE:
		id = m->u.target.device_id;
		if ((t->device = registry_find(id)) != NULL)
			return (0);
		request_fail(rq, PROTO_NOT_FOUND, "no device \"%.64s\"; see "
		    "`encore devices`", id);
		return (-1);
	default:
		return (0);
	}
}

/* Forget a connection's deferred lines. */
static void
dispatch_defer_free(struct conn *c)
{
	struct deferred_list	*dl = c->deferred;
	struct deferred_line	*l;

	if (dl == NULL)
		return;
	while ((l = TAILQ_FIRST(&dl->lines)) != NULL) {
		TAILQ_REMOVE(&dl->lines, l, entry);
		free(l->line);
		free(l);
	}
	TAILQ_REMOVE(&dispatch_deferred, dl, entry);
	free(dl);
	c->deferred = NULL;
}

/* Handle the deferred lines of every connection while the database takes
 * writes again. */
static void
dispatch_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server		*s = arg;
	struct deferred_list	*dl, *next;
	struct deferred_line	*l;
	struct msg		 m;
	struct proto_err	 err;
	struct timeval		 tv = { 0, DEFER_RETRY_MS * 1000 };

	TAILQ_FOREACH_SAFE(dl, &dispatch_deferred, entry, next) {
		while ((l = TAILQ_FIRST(&dl->lines)) != NULL) {
			if (commit_open(s) != 0)
				goto later;
			TAILQ_REMOVE(&dl->lines, l, entry);
			dl->n--;
			if (msg_decode(l->line, l->len, &m, &err) == 0) {
				dispatch_msg(dl->c, &m);
				msg_free(&m);
			}
			free(l->line);
			free(l);
			if (dl->c->deferred != dl)
				break;	/* the connection went */
		}
		if (dl->c->deferred == dl && TAILQ_EMPTY(&dl->lines))
			dispatch_defer_free(dl->c);
	}
	return;
later:
	evtimer_add(dispatch_retry_ev, &tv);
}

/* Keep a worker's line until the database takes writes; -1 if too many
 * wait already (then the worker is disconnected). */
static int
dispatch_defer(struct conn *c, const char *line, size_t len)
{
	struct deferred_list	*dl = c->deferred;
	struct deferred_line	*l;
	struct timeval		 tv = { 0, DEFER_RETRY_MS * 1000 };

	if (dl == NULL) {
		dl = xcalloc(1, sizeof *dl);
		TAILQ_INIT(&dl->lines);
		dl->c = c;
		TAILQ_INSERT_TAIL(&dispatch_deferred, dl, entry);
		c->deferred = dl;
		log_warn("event=worker_deferred addr=%s msg=\"the database "
		    "takes no writes now (locked by another process?); its "
		    "reports wait\"", c->addr);
	}
	if (dl->n >= DEFER_MAX) {
		dispatch_defer_free(c);
		conn_send_error(c, NULL, PROTO_BUSY, "the main node cannot "
		    "save now; reconnect later and send it again");
		conn_close(c, "too many reports waiting for the database");
		return (-1);
	}
	l = xcalloc(1, sizeof *l);
	l->line = xstrndup(line, len);
	l->len = len;
	TAILQ_INSERT_TAIL(&dl->lines, l, entry);
	dl->n++;
	if (dispatch_retry_ev == NULL)
		dispatch_retry_ev = evtimer_new(c->server->base,
		    dispatch_retry_cb, c->server);
	if (!evtimer_pending(dispatch_retry_ev, NULL))
		evtimer_add(dispatch_retry_ev, &tv);
	return (0);
}

/* Free what dispatch keeps (at exit). */
void
dispatch_stop(void)
{
	while (!TAILQ_EMPTY(&dispatch_deferred))
		dispatch_defer_free(TAILQ_FIRST(&dispatch_deferred)->c);
	if (dispatch_retry_ev != NULL)
		event_free(dispatch_retry_ev);
	dispatch_retry_ev = NULL;
}

/*
 * Run an operator request that came over HTTP (or any request whose
 * session checks were done): commit, target, handler.  The answer is left
 * in rq.  Returns -1 if the message type has no handler.
 */
int
dispatch_request(struct request *rq)
{
	const struct dispatch_row	*row = &dispatch_table[rq->m->type];

	if (row->fn == NULL)
		return (-1);
	if ((row->flags & D_COMMIT) && commit_open(rq->s) != 0) {
		request_fail(rq, PROTO_BUSY, "the main node's database is busy "
		    "(another process holds it locked) or its disk is full; "
		    "retry in a moment");
		return (0);
	}
	if (row->flags & D_COMMIT)
		commit_note(rq->c, rq->http ? "http" : (rq->c->role ==
		    ROLE_OPERATOR ? rq->m->message_id : NULL));
	if (dispatch_lookup(rq, row->target) != 0)
		return (0);
	row->fn(rq);
	return (0);
}

/* Handle one decoded message of a JSON session. */
static void
dispatch_msg(struct conn *c, struct msg *m)
{
	const struct dispatch_row	*row = &dispatch_table[m->type];
	struct request			 rq;

	if (row->fn == NULL || !(row->roles & c->role)) {
		dispatch_refuse(c, m);
		return;
	}
	conn_line_result(c, 0);
	memset(&rq, 0, sizeof rq);
	rq.s = c->server;
	rq.c = c;
	rq.m = m;
	dispatch_request(&rq);
	request_flush(&rq);
	request_done(&rq);
}

/* One JSON line from a connection. */
void
dispatch_line(struct conn *c, const char *line, size_t len)
{
	struct msg		m;
	struct proto_err	err;

	if (msg_decode(line, len, &m, &err) != 0) {
		log_debug("event=bad_line addr=%s code=%s msg=\"%s\"", c->addr,
		    proto_code_name(err.code), err.message);
		conn_send_error(c, NULL, err.code, "%s", err.message);
		/* A file_data line we cannot read says nothing trustworthy
		 * about how many raw bytes follow it: the stream is lost. */
		if (err.type == MSG_FILE_DATA) {
			conn_close(c, "unreadable file_data");
			return;
		}
		conn_line_result(c, 1);
		return;
	}
	/* A worker's write the database cannot take now waits, in order
	 * with the ones before it. */
	if ((c->role & (ROLE_JSON | ROLE_WORKER | ROLE_PENDING)) &&
	    (dispatch_table[m.type].flags & D_COMMIT) &&
	    dispatch_table[m.type].fn != NULL &&
	    (dispatch_table[m.type].roles & c->role) &&
	    m.type != MSG_AUTH &&
	    (c->deferred != NULL || commit_open(c->server) != 0)) {
		conn_line_result(c, 0);
		dispatch_defer(c, line, len);
		msg_free(&m);
		return;
	}
	dispatch_msg(c, &m);
	msg_free(&m);
}

/* A connection is being freed. */
void
dispatch_closed(struct conn *c)
{
	commit_forget(c);
	backup_forget(c);
	files_conn_closed(c);
	dispatch_defer_free(c);
	if (c->role == ROLE_HTTP && c->server->on_http_closed != NULL)
		c->server->on_http_closed(c);
	if (c->device != NULL)
		device_conn_lost(c->server, c);
}
