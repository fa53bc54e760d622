/* SPDX-License-Identifier: ISC */
/*
 * handle-task.c -- operator task requests: submit, list_tasks (in pages),
 * get_task, logs (and `logs -f`), cancel.  State changes go through
 * task.c; what a task looks like in a reply is view.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "main.h"

#define LIST_PAGE_DEFAULT	1000
#define LIST_PAGE_MAX		100000

/* submit: store the task as the wire carries it, reply with its id. */
void
handle_submit(struct conn *c, struct msg *m, struct dispatch_target *tg)
{
	struct server		*s = c->server;
	struct proto_task	*t = &m->u.task;
	struct task_row		 r;
	struct msg		 spec;
	struct json_object	*reply;
	char			*line, ids[32];
	int64_t			 open;
	int			 rc;

	open = task_count(TASK_QUEUED) + task_count(TASK_WAITING) +
	    task_count(TASK_HELD);
	if (open >= s->opt->max_queued) {
		conn_reply_error(c, m->message_id, PROTO_BUSY, "the queue is "
		    "full (%d tasks, --max-queued); wait for tasks to finish "
		    "or cancel some", s->opt->max_queued);
		return;
	}
	msg_init(&spec, MSG_SUBMIT);
	spec.u.task = *t;
	line = msg_encode(&spec, NULL);
	line[strcspn(line, "\n")] = '\0';

	memset(&r, 0, sizeof r);
	r.name = t->name != NULL ? xstrdup(t->name) : NULL;
	r.state = TASK_QUEUED;
	r.priority = t->priority;
	r.spec = line;
	r.image = t->image != NULL ? xstrdup(t->image) : NULL;
	r.retries_left = t->retries;
	r.exit_code = -1;
	r.submitted_at = now_wall();
	r.seq = task_next_seq();
	task_placement_from_spec(t, &r.place);

	rc = store_begin(s->store);
	if (rc == 0 && store_task_insert(s->store, &r) < 0)
		rc = -1;
	if (store_end(s->store, rc) != 0) {
		conn_reply_error(c, m->message_id, PROTO_INTERNAL, "cannot "
		    "save the task: the database is busy or the main node's "
		    "disk is full; retry later");
		task_row_free(&r);
		return;
	}
	task_submitted(s, &r, c->addr);
	snprintf(ids, sizeof ids, "%lld", (long long)r.id);
	reply = view_ok("task_id", json_object_new_string(ids));
	if (!queue_anyone_could_run(&r.place))
		json_object_object_add(reply, "warning",
		    json_object_new_string("no device known to the main node "
		    "could ever run this task (see `encore devices`); it "
		    "stays queued until one joins"));
	conn_send_json(c, MSG_REPLY, m->message_id, reply);
	task_row_free(&r);
}

/* A page of a listing being collected. */
struct list_page {
	struct json_object	*tasks;
	int64_t			 last;
	int			 n;
};

/* Collect one row of a page. */
static int
list_page_cb(const struct task_row *r, void *arg)
{
	struct list_page	*p = arg;

	json_object_array_add(p->tasks, view_task(r));
	p->last = r->id;
	p->n++;
	return (0);
}

/* list_tasks: one page, in id order, with the total and the next cursor. */
void
handle_list_tasks(struct conn *c, struct msg *m, struct dispatch_target *tg)
{
	struct task_cursor	 cur;
	struct list_page	 p;
	struct json_object	*reply;
	int64_t			 counts[TASK__COUNT], total = 0;
	int			 limit = m->u.target.limit, i;
	char			 next[32];

	if (limit <= 0)
		limit = LIST_PAGE_DEFAULT;
	if (limit > LIST_PAGE_MAX)
		limit = LIST_PAGE_MAX;
	memset(&cur, 0, sizeof cur);
	cur.mode = m->u.target.all ? TASK_LIST_ALL : TASK_LIST_OPEN;
	if (m->u.target.after != NULL &&
	    (cur.after = task_id_parse(m->u.target.after)) < 0) {
		conn_reply_error(c, m->message_id, PROTO_BAD_FIELD,
		    "data.after: expected a task id from a previous reply's "
		    "\"next\"");
		return;
	}
	memset(&p, 0, sizeof p);
	p.tasks = json_object_new_array();
	/* One more row than asked tells whether another page follows. */
	if (store_task_page(c->server->store, &cur, limit + 1, list_page_cb,
	    &p) != 0) {
		json_object_put(p.tasks);
		conn_reply_error(c, m->message_id, PROTO_INTERNAL, "cannot "
		    "read tasks from the database; see the main node's log");
		return;
	}
	if (p.n > limit) {
		json_object_array_del_idx(p.tasks, (size_t)limit, 1);
		p.last = task_id_parse(json_object_get_string(
		    json_object_object_get(json_object_array_get_idx(p.tasks,
		    (size_t)limit - 1), "id")));
	}
	task_counts(counts);
	for (i = 0; i < TASK__COUNT; i++) {
		if (cur.mode == TASK_LIST_ALL ||
		    !proto_task_status_is_final(i))
			total += counts[i];
	}
	reply = view_ok("tasks", p.tasks);
	json_object_object_add(reply, "total", json_object_new_int64(total));
	snprintf(next, sizeof next, "%lld", (long long)p.last);
	json_object_object_add(reply, "next", p.n > limit ?
	    json_object_new_string(next) : NULL);
	conn_send_json(c, MSG_REPLY, m->message_id, reply);
}

/* get_task */
void
handle_get_task(struct conn *c, struct msg *m, struct dispatch_target *tg)
{
	conn_send_json(c, MSG_REPLY, m->message_id, view_ok("task",
	    view_task_full(c->server, &tg->task)));
}

/* Stored output as one text plus its chunks with their streams. */
struct outbuf {
	struct evbuffer		*text;
	struct json_object	*chunks;
};

/* Append one stored chunk (a gap shows as a marked line on stderr). */
static void
logs_chunk_cb(const char *stream, const void *data, size_t len, int64_t gap,
    void *arg)
{
	struct outbuf		*b = arg;
	struct json_object	*c = json_object_new_object();
	char			*mark = NULL;

	if (gap > 0) {
		xasprintf(&mark, "\n[encore: %lld chunk%s of output lost here "
		    "while the main node could not store them]\n",
		    (long long)gap, gap == 1 ? "" : "s");
		stream = "stderr";
		data = mark;
		len = strlen(mark);
		json_object_object_add(c, "gap", json_object_new_boolean(1));
	}
	json_object_object_add(c, "stream", json_object_new_string(stream));
	json_object_object_add(c, "data", json_object_new_string_len(data,
	    (int)len));
	json_object_array_add(b->chunks, c);
	evbuffer_add(b->text, data, len);
	free(mark);
}

/* logs [-f] */
void
handle_logs(struct conn *c, struct msg *m, struct dispatch_target *tg)
{
	struct task_row		*r = &tg->task;
	struct json_object	*o;
	struct outbuf		 out;
	char			 ids[32];
	size_t			 len;

	out.chunks = json_object_new_array();
	out.text = evbuffer_new();
	store_output_get(c->server->store, r->id, r->attempt, logs_chunk_cb,
	    &out);
	snprintf(ids, sizeof ids, "%lld", (long long)r->id);
	o = view_ok("task_id", json_object_new_string(ids));
	json_object_object_add(o, "state",
	    json_object_new_string(proto_task_status_name(r->state)));
	len = evbuffer_get_length(out.text);
	json_object_object_add(o, "output", json_object_new_string_len(
	    (const char *)evbuffer_pullup(out.text, -1), (int)len));
	json_object_object_add(o, "chunks", out.chunks);
	evbuffer_free(out.text);
	conn_send_json(c, MSG_REPLY, m->message_id, o);
	if (!m->u.target.follow)
		return;
	free(c->follow_reply);
	c->follow_reply = m->message_id != NULL ? xstrdup(m->message_id) :
	    NULL;
	c->follow_task = r->id;
	conn_watch(c);
	if (proto_task_status_is_final(r->state)) {
		/* Already over: the end event comes at once. */
		o = json_object_new_object();
		json_object_object_add(o, "topic",
		    json_object_new_string("task"));
		json_object_object_add(o, "task", view_task(r));
		conn_send_json(c, MSG_EVENT, c->follow_reply, o);
		c->follow_task = 0;
	}
}

/* cancel: a task not placed ends now; a placed one is told to stop and
 * ends when its worker reports (or its device is lost). */
void
handle_cancel(struct conn *c, struct msg *m, struct dispatch_target *tg)
{
	struct server		*s = c->server;
	struct task_row		*r = &tg->task;
	struct task		*t;
	struct task_change	 ch = { TASK_CANCELLED, CAUSE_CANCEL,
				    "cancelled by an operator", -1, NULL, 0 };
	enum proto_task_status	 was = r->state;

	if (proto_task_status_is_final(r->state)) {
		conn_reply_error(c, m->message_id, PROTO_CONFLICT, "task %lld "
		    "already ended (%s)", (long long)r->id,
		    proto_task_status_name(r->state));
		return;
	}
	t = task_find(r->id);
	if (t == NULL || t->dev == NULL || t->dev->conn == NULL) {
		if (task_transition(s, r, &ch) != 0) {
			conn_reply_error(c, m->message_id, PROTO_INTERNAL,
			    "cannot save the cancel; check the main node's "
			    "disk");
			return;
		}
	} else {
		t->cancel_requested = 1;
		task_send_cancel(t);
	}
	log_info("event=task_cancel task=%lld state=%s by=%s",
	    (long long)r->id, proto_task_status_name(was), c->addr);
	conn_send_json(c, MSG_REPLY, m->message_id, view_ok("task",
	    view_task(r)));
}
