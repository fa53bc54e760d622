/* SPDX-License-Identifier: ISC */
/*
 * http.c -- HTTP/1.1 on the cluster port (protocol/HTTP.md): /metrics,
 * /healthz, the JSON API, Server-Sent Events and the web dashboard.
 *
 * conn.c recognises an HTTP request by its first bytes and hands the
 * connection's input here; http-parse.c reads each request head, and the
 * answer is written back on the same connection, so the connection
 * limits, timeouts and the commit hold apply to HTTP as to every peer.
 * Requests that act are built as the same messages a JSON session sends
 * and run by the same handlers (dispatch_request); their answer becomes
 * the response.  A response that follows a write goes out only once the
 * loop pass's commit is durable (conn.c holds it), and when the commit
 * fails the connection is closed instead.  An events stream is a
 * connection that, after its response head, gets one event per change.
 */
#include <sys/socket.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "main.h"

#define HTTP_PING_TICKS		15		/* `: ping` every 15 s */

/* A client of GET /api/v1/events. */
struct http_sse {
	struct conn		*c;		/* borrowed; removed when it goes */
	TAILQ_ENTRY(http_sse)	 entry;
};

/* A response being put together. */
struct http_resp {
	struct conn		*c;
	const struct http_req	*req;
	struct evbuffer		*headers;	/* extra header lines */
};

static struct {
	struct server		*s;
	TAILQ_HEAD(, http_sse)	 sse;
	unsigned		 ticks;
} http;

static void	http_read(struct conn *, struct evbuffer *);

/* Start serving HTTP. */
int
http_start(struct server *s)
{
	memset(&http, 0, sizeof http);
	http.s = s;
	TAILQ_INIT(&http.sse);
	s->on_http = http_read;
	s->on_http_closed = http_conn_closed;
	return (0);
}

/* Stop serving HTTP. */
void
http_stop(struct server *s)
{
	struct http_sse	*e;

	while ((e = TAILQ_FIRST(&http.sse)) != NULL) {
		TAILQ_REMOVE(&http.sse, e, entry);
		free(e);
	}
	s->on_http = NULL;
	s->on_http_closed = NULL;
}

/* A connection is going: forget its events stream. */
void
http_conn_closed(struct conn *c)
{
	struct http_sse	*e, *next;

	TAILQ_FOREACH_SAFE(e, &http.sse, entry, next) {
		if (e->c == c) {
			TAILQ_REMOVE(&http.sse, e, entry);
			free(e);
		}
	}
}

/* ---- responses ---- */

/* The HTTP status of a protocol code. */
static int
http_status(enum proto_code code)
{
	switch (code) {
	case PROTO_OK:
		return (200);
	case PROTO_BAD_JSON:
	case PROTO_BAD_FIELD:
	case PROTO_UNKNOWN_TYPE:
	case PROTO_BAD_VERSION:
		return (400);
	case PROTO_UNAUTHORIZED:
		return (401);
	case PROTO_FORBIDDEN:
		return (403);
	case PROTO_NOT_FOUND:
		return (404);
	case PROTO_CONFLICT:
		return (409);
	case PROTO_LINE_TOO_LONG:
		return (413);
	case PROTO_BUSY:
		return (503);
	default:
		return (500);
	}
}

/* Reason phrase of a status. */
static const char *
http_reason(int status)
{
	switch (status) {
	case 200:
		return ("OK");
	case 201:
		return ("Created");
	case 304:
		return ("Not Modified");
	case 400:
		return ("Bad Request");
	case 401:
		return ("Unauthorized");
	case 403:
		return ("Forbidden");
	case 404:
		return ("Not Found");
	case 405:
		return ("Method Not Allowed");
	case 409:
		return ("Conflict");
	case 411:
		return ("Length Required");
	case 413:
		return ("Payload Too Large");
	case 429:
		return ("Too Many Requests");
	case 431:
		return ("Request Header Fields Too Large");
	case 503:
		return ("Service Unavailable");
	default:
		return ("Internal Server Error");
	}
}

/* Add a header line to a response. */
static void
http_add_header(struct http_resp *rs, const char *name, const char *value)
{
	if (rs->headers == NULL)
		rs->headers = evbuffer_new();
	evbuffer_add_printf(rs->headers, "%s: %s\r\n", name, value);
}

/* Write a whole response; the connection stays open for the next
 * request unless the request or the status says otherwise. */
static void
http_send(struct http_resp *rs, int status, const char *type,
    const void *body, size_t len)
{
	struct evbuffer	*out = conn_output(rs->c);
	int		 keep = rs->req != NULL && rs->req->keep_alive &&
			    status < 500 && status != 400 && status != 413 &&
			    status != 431;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\nConnection: %s\r\n", status,
	    http_reason(status), type, len, keep ? "keep-alive" : "close");
	if (rs->headers != NULL)
		evbuffer_add_buffer(out, rs->headers);
	evbuffer_add(out, "\r\n", 2);
	if (rs->req == NULL || strcmp(rs->req->method, "HEAD") != 0)
		evbuffer_add(out, body, len);
	if (rs->headers != NULL) {
		evbuffer_free(rs->headers);
		rs->headers = NULL;
	}
	if (conn_check_output(rs->c) == 0 && !keep)
		conn_close(rs->c, "http response sent");
}

/* Send a JSON body (taken). */
static void
http_send_json(struct http_resp *rs, int status, struct json_object *o)
{
	const char	*text;
	char		*body;

	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	xasprintf(&body, "%s\n", text);
	json_object_put(o);
	http_send(rs, status, "application/json", body, strlen(body));
	free(body);
}

/* Send an error {"error": {"code", "message"}}. */
static void __attribute__((format(printf, 4, 5)))
http_error(struct http_resp *rs, int status, const char *code,
    const char *fmt, ...)
{
	struct json_object	*o = json_object_new_object(), *e;
	va_list			 ap;
	char			*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(o, "error", e);
	free(msg);
	http_send_json(rs, status, o);
}

/* Send plain text from a buffer. */
static void
http_send_buffer(struct http_resp *rs, const char *type, struct evbuffer *b)
{
	size_t	len = evbuffer_get_length(b);

	http_send(rs, 200, type, evbuffer_pullup(b, (ev_ssize_t)len), len);
}

/* ---- access ---- */

/* 1 if the peer may read what the text export shows. */
static int
http_may_read(struct conn *c)
{
	int	te = http.s->opt->text_export;

	return (te == TEXT_EXPORT_ON || (te == TEXT_EXPORT_LOCAL &&
	    c->is_local));
}

/* 1 if the request carries the operator token; else it is answered. */
static int
http_operator(struct http_resp *rs)
{
	const char	*h = http_header(rs->req, "Authorization");

	if (h != NULL && !rs->c->tls && !rs->c->is_local) {
		/* Never accept a secret that crossed the LAN in clear. */
		http_error(rs, 403, "forbidden", "the operator token may "
		    "travel in plain HTTP only from this host: use https:// "
		    "(the main node's ca.crt verifies it)");
		return (0);
	}
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		http_add_header(rs, "WWW-Authenticate", "Bearer");
		http_error(rs, 401, "unauthorized", "send the operator token "
		    "as Authorization: Bearer TOKEN");
		return (0);
	}
	for (h += 7; *h == ' '; h++)
		;
	if (!token_matches(http.s->opt->operator_token, h)) {
		log_warn("event=auth_failed addr=%s via=http", rs->c->addr);
		http_add_header(rs, "WWW-Authenticate", "Bearer");
		http_error(rs, 401, "unauthorized", "wrong operator token: "
		    "use the one in the main node's state dir "
		    "(operator.token)");
		return (0);
	}
	return (1);
}

/* ---- listings ---- */

/* A number or null. */
static struct json_object *
http_num(double v)
{
	return (v != v ? NULL : json_object_new_double(v));
}

/* A device as a row of the devices CSV. */
static struct json_object *
http_device_row(struct device *d)
{
	struct json_object	*o = json_object_new_object();
	struct proto_metrics	*m = &d->metrics;
	int			 live = d->online && d->have_metrics;
	int64_t			 seen;

	if (d->last_seen > 0)
		seen = (int64_t)(now_mono() - d->last_seen);
	else if (d->last_seen_wall > 0)
		seen = time(NULL) - d->last_seen_wall;
	else
		seen = -1;
	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object_object_add(o, "hostname", d->info.hostname != NULL ?
	    json_object_new_string(d->info.hostname) : NULL);
	json_object_object_add(o, "state", json_object_new_string(
	    proto_device_state_name(device_state(d))));
	json_object_object_add(o, "arch", d->info.architecture != NULL ?
	    json_object_new_string(d->info.architecture) : NULL);
	json_object_object_add(o, "platform", d->info.platform != NULL ?
	    json_object_new_string(d->info.platform) : NULL);
	json_object_object_add(o, "cores", d->hw.cpu_cores > 0 ?
	    json_object_new_int(d->hw.cpu_cores) : NULL);
	json_object_object_add(o, "mem_mb", d->hw.memory_total > 0 ?
	    json_object_new_int64(d->hw.memory_total / (1024 * 1024)) : NULL);
	json_object_object_add(o, "cpu_pct", live ? http_num(m->cpu_usage) :
	    NULL);
	json_object_object_add(o, "mem_pct", live ?
	    http_num(m->memory_usage) : NULL);
	json_object_object_add(o, "load1", live ?
	    http_num(m->load_average[0]) : NULL);
	json_object_object_add(o, "temp_c", live ?
	    http_num(m->temperature) : NULL);
	json_object_object_add(o, "battery_pct", live &&
	    m->battery_percent >= 0 ? json_object_new_int(m->battery_percent) :
	    NULL);
	json_object_object_add(o, "running", json_object_new_int(d->running));
	json_object_object_add(o, "slots", json_object_new_int(d->slots));
	json_object_object_add(o, "last_seen_s", seen >= 0 ?
	    json_object_new_int64(seen) : NULL);
	json_object_object_add(o, "reason", device_reason(d) != NULL ?
	    json_object_new_string(device_reason(d)) : NULL);
	return (o);
}

/* ISO time or null. */
static struct json_object *
http_time(double t)
{
	char	buf[32];

	return (t > 0 ? json_object_new_string(proto_format_time((int64_t)t,
	    buf, sizeof buf)) : NULL);
}

/* A task as a row of the tasks CSV. */
static struct json_object *
http_task_row(const struct task_row *r)
{
	struct json_object	*o = json_object_new_object();
	char			 id[48];

	json_object_object_add(o, "id", json_object_new_string(
	    task_ref_format(r, id, sizeof id)));
	json_object_object_add(o, "name", r->name != NULL ?
	    json_object_new_string(r->name) : NULL);
	json_object_object_add(o, "state", json_object_new_string(
	    proto_task_status_name(r->state)));
	json_object_object_add(o, "priority", json_object_new_string(
	    proto_priority_name(r->priority)));
	json_object_object_add(o, "device", r->device != NULL ?
	    json_object_new_string(r->device) : NULL);
	json_object_object_add(o, "attempt", r->attempt > 0 ?
	    json_object_new_int(r->attempt) : NULL);
	json_object_object_add(o, "exit_code", r->exit_code >= 0 ?
	    json_object_new_int(r->exit_code) : NULL);
	json_object_object_add(o, "submitted_at", http_time(r->submitted_at));
	json_object_object_add(o, "started_at", http_time(r->started_at));
	json_object_object_add(o, "finished_at", http_time(r->finished_at));
	return (o);
}

/* A page of GET /api/v1/tasks being collected. */
struct http_page {
	struct json_object	*rows;
	unsigned		 states;	/* bit per state; 0 any */
	int			 n, limit;
	int64_t			 last;
};

static int
http_task_cb(const struct task_row *r, void *arg)
{
	struct http_page	*p = arg;

	if (p->states != 0 && !(p->states & (1u << r->state)))
		return (0);
	json_object_array_add(p->rows, http_task_row(r));
	p->last = r->id;
	return (++p->n >= p->limit);
}

/* GET /api/v1/tasks[?all=1][&state=S...][&limit=N&after=ID] */
static void
http_list_tasks(struct http_resp *rs)
{
	const char		*q = rs->req->query;
	struct http_page	 p;
	struct task_cursor	 cur;
	char			*v, link[160];
	int			 st, i, rounds = 0;

	memset(&p, 0, sizeof p);
	memset(&cur, 0, sizeof cur);
	p.limit = 1000;
	v = http_query_get(q, "all", 0);
	cur.mode = v != NULL && strcmp(v, "0") != 0 ? TASK_LIST_ALL :
	    TASK_LIST_OPEN;
	free(v);
	for (i = 0; (v = http_query_get(q, "state", i)) != NULL; i++) {
		if ((st = proto_task_status_from_name(v)) < 0) {
			http_error(rs, 400, "bad_field", "state=%.64s is not a "
			    "task state", v);
			free(v);
			return;
		}
		free(v);
		p.states |= 1u << st;
		if (proto_task_status_is_final(st))
			cur.mode = TASK_LIST_ALL;
	}
	if ((v = http_query_get(q, "limit", 0)) != NULL) {
		p.limit = atoi(v);
		free(v);
		if (p.limit <= 0) {
			http_error(rs, 400, "bad_field", "limit: expected a "
			    "positive number");
			return;
		}
	}
	if (p.limit > 100000)
		p.limit = 100000;
	if ((v = http_query_get(q, "after", 0)) != NULL) {
		cur.after = task_id_parse(v);
		free(v);
		if (cur.after < 0) {
			http_error(rs, 400, "bad_field", "after: expected a "
			    "task id from a Link header");
			return;
		}
	}
	p.rows = json_object_new_array();
	/* Pages of the store, filtered, until the page is full; bounded. */
	do {
		int64_t	before = cur.after;

		if (store_task_page(http.s->store, &cur, 1000, http_task_cb,
		    &p) != 0 || cur.after == before)
			break;
	} while (p.n < p.limit && ++rounds < 200);
	if (p.n >= p.limit) {
		snprintf(link, sizeof link, "</api/v1/tasks?%slimit=%d&after="
		    "%lld>; rel=\"next\"", cur.mode == TASK_LIST_ALL ?
		    "all=1&" : "", p.limit, (long long)p.last);
		http_add_header(rs, "Link", link);
	}
	http_send_json(rs, 200, p.rows);
}

/* ---- operator requests ---- */

/* Run one operator message as a JSON session would; answer with its
 * reply's data (status ok_status on success). */
static void
http_run(struct http_resp *rs, struct msg *m, int ok_status)
{
	struct request		 rq;
	struct json_object	*reply;

	memset(&rq, 0, sizeof rq);
	rq.s = http.s;
	rq.c = rs->c;
	rq.m = m;
	rq.http = 1;
	if (dispatch_request(&rq) != 0)
		http_error(rs, 404, "not_found", "no such request");
	else if (rq.code != PROTO_OK)
		http_error(rs, http_status(rq.code), proto_code_name(rq.code),
		    "%s", rq.error != NULL ? rq.error : "failed");
	else if (m->type == MSG_SUBMIT) {
		/* {"ok", "task_id", ...} becomes {"id", ...} */
		reply = json_object_new_object();
		json_object_object_foreach(rq.reply, k, v) {
			if (strcmp(k, "ok") == 0)
				continue;
			json_object_object_add(reply, strcmp(k, "task_id") == 0 ?
			    "id" : k, json_object_get(v));
		}
		http_send_json(rs, ok_status, reply);
	} else if (m->type == MSG_GET_TASK || m->type == MSG_LOGS) {
		/* The task in full, or its output: without the "ok". */
		if (m->type == MSG_GET_TASK)
			reply = json_object_get(json_object_object_get(rq.reply,
			    "task"));
		else {
			json_object_object_del(rq.reply, "ok");
			reply = json_object_get(rq.reply);
		}
		http_send_json(rs, ok_status, reply);
	} else {
		http_send_json(rs, ok_status, rq.reply != NULL ? rq.reply :
		    view_ok(NULL, NULL));
		rq.reply = NULL;
	}
	request_done(&rq);
}

/* A message acting on a task or device by id. */
static void
http_target(struct http_resp *rs, enum msg_type type, const char *id,
    int is_task)
{
	struct msg	m;

	msg_init(&m, type);
	if (is_task)
		m.u.target.task_id = xstrdup(id);
	else
		m.u.target.device_id = xstrdup(id);
	http_run(rs, &m, 200);
	msg_free(&m);
}

/* POST /api/v1/tasks: the body is a task, or what submit's data holds. */
static void
http_submit(struct http_resp *rs, const char *body, size_t len)
{
	struct json_object	*o, *data, *line;
	struct json_tokener	*tok;
	struct proto_err	 err;
	struct msg		 m;
	const char		*text;

	tok = json_tokener_new_ex(PROTO_DEPTH_MAX);
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (o != NULL && json_tokener_get_parse_end(tok) < len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		http_error(rs, 400, "bad_json", "the body must be one JSON "
		    "object: a task ({\"command\": [...], ...}) or "
		    "{\"task\": {...}, \"array\": ...}");
		return;
	}
	if (json_object_object_get_ex(o, "task", NULL))
		data = o;
	else {
		data = json_object_new_object();
		json_object_object_add(data, "task", o);
	}
	line = json_object_new_object();
	json_object_object_add(line, "message_type",
	    json_object_new_string("submit"));
	json_object_object_add(line, "data", data);
	text = json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN);
	if (msg_decode(text, strlen(text), &m, &err) != 0) {
		json_object_put(line);
		http_error(rs, http_status(err.code),
		    proto_code_name(err.code), "%s", err.message);
		return;
	}
	json_object_put(line);
	http_run(rs, &m, 201);
	msg_free(&m);
}

/* ---- Server-Sent Events ---- */

/* GET /api/v1/events: the connection becomes a stream of events. */
static void
http_events(struct http_resp *rs)
{
	struct http_sse	*e = xcalloc(1, sizeof *e);
	struct evbuffer	*out = conn_output(rs->c);

	e->c = rs->c;
	rs->c->http_sse = 1;
	TAILQ_INSERT_TAIL(&http.sse, e, entry);
	evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Type: "
	    "text/event-stream\r\nCache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
	    ": encore events\n\n");
	conn_check_output(rs->c);
}

/* Send one event text to every events client (held like any output
 * while a commit is open; a client that does not read is cut off by
 * conn.c's output cap). */
static void
http_sse_send(const char *text)
{
	struct http_sse	*e, *next;

	TAILQ_FOREACH_SAFE(e, &http.sse, entry, next) {
		if (e->c->closing)
			continue;
		evbuffer_add(conn_output(e->c), text, strlen(text));
		conn_check_output(e->c);
	}
}

/* 1 if an events client is connected (watch.c builds no event else). */
int
http_events_wanted(void)
{
	return (!TAILQ_EMPTY(&http.sse));
}

/* watch.c's hook: an event for the events clients (o is borrowed). */
void
http_event(const char *name, struct json_object *o)
{
	char	*text;

	if (TAILQ_EMPTY(&http.sse))
		return;
	xasprintf(&text, "event: %s\ndata: %s\n\n", name,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	http_sse_send(text);
	free(text);
}

/* Once a second (server tick): keep events streams alive. */
void
http_tick(void)
{
	if (++http.ticks % HTTP_PING_TICKS == 0 && !TAILQ_EMPTY(&http.sse))
		http_sse_send(": ping\n\n");
}

/* ---- routing ---- */

/* Split "/api/v1/tasks/17/cancel" into the id and the rest. */
static int
http_split(const char *path, const char *prefix, char *id, size_t idsize,
    const char **rest)
{
	size_t		 n = strlen(prefix), k;
	const char	*p;

	if (strncmp(path, prefix, n) != 0 || path[n] == '\0')
		return (-1);
	p = path + n;
	k = strcspn(p, "/");
	if (k == 0 || k >= idsize)
		return (-1);
	memcpy(id, p, k);
	id[k] = '\0';
	*rest = p + k;
	return (0);
}

/* The type of an action word, or MSG_UNKNOWN. */
static enum msg_type
http_action(const char *rest, int task)
{
	static const struct {
		const char	*word;
		enum msg_type	 type;
		int		 task;
	} actions[] = {
		{ "/cancel", MSG_CANCEL, 1 }, { "/hold", MSG_HOLD, 1 },
		{ "/release", MSG_RELEASE, 1 },
		{ "/approve", MSG_APPROVE, 0 }, { "/reject", MSG_REJECT, 0 },
		{ "/drain", MSG_DRAIN, 0 }, { "/undrain", MSG_UNDRAIN, 0 },
		{ "/remove", MSG_REMOVE, 0 },
	};
	size_t	i;

	for (i = 0; i < sizeof actions / sizeof actions[0]; i++) {
		if (actions[i].task == task &&
		    strcmp(rest, actions[i].word) == 0)
			return (actions[i].type);
	}
	return (MSG_UNKNOWN);
}

/* Answer one complete request (its body, if any, is body/len). */
static void
http_route(struct http_resp *rs, const char *body, size_t len)
{
	struct server		*s = http.s;
	const struct http_req	*req = rs->req;
	const char		*path = req->path, *rest;
	const struct web_asset	*asset;
	struct evbuffer		*b;
	struct json_object	*a;
	struct device		*d;
	int64_t			 counts[TASK__COUNT];
	char			 id[PROTO_ID_MAX + 1];
	enum msg_type		 type;
	int			 get = strcmp(req->method, "GET") == 0 ||
				    strcmp(req->method, "HEAD") == 0;
	int			 post = strcmp(req->method, "POST") == 0;

	s->msgs_in++;
	if (strcmp(path, "/healthz") == 0 && get) {
		http_send(rs, 200, "text/plain; charset=utf-8", "ok\n", 3);
		return;
	}
	if ((strcmp(path, "/metrics") == 0 ||
	    strcmp(path, "/api/v1/status") == 0 ||
	    strcmp(path, "/api/v1/devices") == 0 ||
	    strcmp(path, "/api/v1/tasks") == 0) && get &&
	    !http_may_read(rs->c)) {
		http_error(rs, 403, "forbidden", "the text export (and so the "
		    "read-only API) is off for your address here "
		    "(--text-export)");
		return;
	}
	if (strcmp(path, "/metrics") == 0 && get) {
		b = evbuffer_new();
		task_counts(counts);
		metrics_write(s, b, counts);
		http_send_buffer(rs, "text/plain; version=0.0.4; "
		    "charset=utf-8", b);
		evbuffer_free(b);
	} else if (strcmp(path, "/api/v1/status") == 0 && get) {
		http_send_json(rs, 200, view_status(s));
	} else if (strcmp(path, "/api/v1/devices") == 0 && get) {
		a = json_object_new_array();
		TAILQ_FOREACH(d, registry_list(), entry)
			json_object_array_add(a, http_device_row(d));
		http_send_json(rs, 200, a);
	} else if (strcmp(path, "/api/v1/tasks") == 0 && get) {
		http_list_tasks(rs);
	} else if ((strcmp(path, "/api/v1/tasks") == 0 ||
	    strcmp(path, "/api/v1/events") == 0 ||
	    strcmp(path, "/api/v1/devices") == 0 ||
	    strcmp(path, "/api/v1/status") == 0 ||
	    strcmp(path, "/metrics") == 0) && !get && !(post &&
	    strcmp(path, "/api/v1/tasks") == 0)) {
		http_add_header(rs, "Allow", strcmp(path, "/api/v1/tasks") == 0 ?
		    "GET, HEAD, POST" : "GET, HEAD");
		http_error(rs, 405, "bad_field", "method %s is not served "
		    "at %s", req->method, path);
	} else if (strcmp(path, "/api/v1/tasks") == 0 && post) {
		if (http_operator(rs))
			http_submit(rs, body, len);
	} else if (strcmp(path, "/api/v1/events") == 0 && get) {
		if (http_operator(rs))
			http_events(rs);
	} else if (http_split(path, "/api/v1/tasks/", id, sizeof id,
	    &rest) == 0) {
		if (!http_operator(rs))
			return;
		if (*rest == '\0' || strcmp(rest, "/logs") == 0) {
			if (!get) {
				http_add_header(rs, "Allow", "GET, HEAD");
				http_error(rs, 405, "bad_field", "use GET");
			} else
				http_target(rs, *rest == '\0' ? MSG_GET_TASK :
				    MSG_LOGS, id, 1);
		} else if ((type = http_action(rest, 1)) == MSG_UNKNOWN)
			http_error(rs, 404, "not_found", "no such path; see "
			    "HTTP.md");
		else if (!post) {
			http_add_header(rs, "Allow", "POST");
			http_error(rs, 405, "bad_field", "use POST");
		} else
			http_target(rs, type, id, 1);
	} else if (http_split(path, "/api/v1/devices/", id, sizeof id,
	    &rest) == 0) {
		if (!http_operator(rs))
			return;
		if ((type = http_action(rest, 0)) == MSG_UNKNOWN)
			http_error(rs, 404, "not_found", "no such path; see "
			    "HTTP.md");
		else if (!post) {
			http_add_header(rs, "Allow", "POST");
			http_error(rs, 405, "bad_field", "use POST");
		} else
			http_target(rs, type, id, 0);
	} else if (get && (asset = web_asset_find(path)) != NULL) {
		const char *const	*h = web_headers();
		const char		*inm = http_header(req, "If-None-Match");

		for (; h != NULL && h[0] != NULL; h += 2)
			http_add_header(rs, h[0], h[1]);
		if (asset->etag != NULL) {
			http_add_header(rs, "ETag", asset->etag);
			if (inm != NULL && strcmp(inm, asset->etag) == 0) {
				http_send(rs, 304, asset->type, "", 0);
				return;
			}
		}
		http_send(rs, 200, asset->type, asset->data, asset->len);
	} else if (!get && !post) {
		http_add_header(rs, "Allow", "GET, HEAD, POST");
		http_error(rs, 405, "bad_field", "method %s is not served "
		    "here", req->method);
	} else
		http_error(rs, 404, "not_found", "no such path; see HTTP.md");
}

/* The status for a refused request head. */
static int
http_refusal_status(enum http_parse_result r)
{
	switch (r) {
	case HTTP_PARSE_TOO_BIG:
		return (431);
	case HTTP_PARSE_UNSUPPORTED:
		return (411);
	default:
		return (400);
	}
}

/*
 * conn.c's hook: bytes from an HTTP peer.  Each complete request (head
 * and body) is answered in turn; an events stream takes no more.
 */
static void
http_read(struct conn *c, struct evbuffer *in)
{
	struct http_req		 req;
	struct http_resp	 rs;
	enum http_parse_result	 pr;
	const char		*why, *buf;
	size_t			 len, used;

	/* Pipelined requests are answered in order; one that reads none of
	 * its answers is cut off by conn.c's output cap. */
	while (!c->closing && !c->http_sse) {
		len = evbuffer_get_length(in);
		if (len == 0)
			return;
		if (len > HTTP_HEAD_MAX + c->server->opt->max_line)
			len = HTTP_HEAD_MAX + c->server->opt->max_line;
		buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
		pr = http_parse_head(buf, len, &req, &used, &why);
		memset(&rs, 0, sizeof rs);
		rs.c = c;
		if (pr == HTTP_PARSE_MORE)
			return;		/* the idle timer bounds the wait */
		if (pr != HTTP_PARSE_OK) {
			c->server->msgs_bad++;
			http_error(&rs, http_refusal_status(pr), pr ==
			    HTTP_PARSE_TOO_BIG ? "line_too_long" : "bad_field",
			    "%s", why != NULL ? why : "request too large");
			conn_close(c, "bad http request");
			return;
		}
		rs.req = &req;
		if (req.content_length > (int64_t)c->server->opt->max_line) {
			http_error(&rs, 413, "line_too_long", "the body may be "
			    "at most %zu bytes (--max-line)",
			    c->server->opt->max_line);
			conn_close(c, "http body too large");
			http_req_free(&req);
			return;
		}
		if (req.content_length > 0 &&
		    used + (size_t)req.content_length > len) {
			http_req_free(&req);
			return;		/* the body is still on its way */
		}
		evtimer_del(c->idle_ev);
		http_route(&rs, buf + used, req.content_length > 0 ?
		    (size_t)req.content_length : 0);
		evbuffer_drain(in, used + (req.content_length > 0 ?
		    (size_t)req.content_length : 0));
		http_req_free(&req);
	}
	if (!c->closing && !c->http_sse) {
		/* Wait for the next request no longer than for the first. */
		struct timeval	tv = { c->server->opt->auth_timeout, 0 };

		evtimer_add(c->idle_ev, &tv);
	}
}
