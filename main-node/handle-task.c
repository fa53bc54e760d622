/* SPDX-License-Identifier: ISC */
/*
 * handle-task.c -- operator task requests: submit, list_tasks (in pages),
 * get_task, logs (and `logs -f`), cancel, hold, release.  State changes
 * go through task.c (arrays and dependencies: array.c); what a task looks
 * like in a reply is view.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "main.h"

#define LIST_PAGE_DEFAULT	1000
#define LIST_PAGE_MAX		100000

/* One dependency named at submit. */
struct submit_dep {
	int64_t		 id;
	int64_t		 index;
	int		 kind;
};

/*
 * Resolve the ids of --after, --after-any, --after-notok (each entry may
 * hold several, comma separated).  Returns the count, or -1 with the
 * request answered (an unknown id).
 */
static int
submit_deps(struct request *rq, struct submit_dep **out)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct proto_task	*t = &m->u.task;
	char			**lists[3] = { t->after, t->after_any,
				    t->after_notok };
	size_t			 ns[3] = { t->n_after, t->n_after_any,
				    t->n_after_notok }, i, k;
	static const int	 kinds[3] = { DEP_AFTER, DEP_AFTER_ANY,
				    DEP_AFTER_NOTOK };
	struct submit_dep	*v = NULL;
	struct task_row		 r;
	char			*copy, *tok, *save;
	int			 n = 0, cap = 0, rc;

	for (k = 0; k < 3; k++) {
		for (i = 0; i < ns[k]; i++) {
			copy = xstrdup(lists[k][i]);
			for (tok = strtok_r(copy, ", ", &save); tok != NULL;
			    tok = strtok_r(NULL, ", ", &save)) {
				rc = task_ref_get(c->server->store, tok, &r);
				if (rc != 0) {
					request_fail(rq, rc < 0 ?
					    PROTO_INTERNAL : PROTO_NOT_FOUND,
					    "dependency \"%.64s\": no such "
					    "task or array; see `encore ps "
					    "--all`", tok);
					free(copy);
					free(v);
					return (-1);
				}
				if (n == cap) {
					cap = cap ? cap * 2 : 8;
					v = xreallocarray(v, (size_t)cap,
					    sizeof *v);
				}
				task_ref_parse(tok, &v[n].id, &v[n].index);
				v[n].kind = kinds[k];
				n++;
				task_row_free(&r);
			}
			free(copy);
		}
	}
	*out = v;
	return (n);
}

/*
 * A task's files at submit: every input whole in the file store (the
 * client uploads them first), within --max-input-mb together, and room
 * in the store for what the task will send back.  Returns -1 (answered)
 * if not.
 */
static int
submit_files_check(struct request *rq, const struct proto_task *t)
{
	struct options	*opt = rq->s->opt;
	int64_t		 total = 0;
	size_t		 i;

	for (i = 0; i < t->n_inputs; i++) {
		if (!files_complete(t->inputs[i].sha256, t->inputs[i].size)) {
			request_fail(rq, PROTO_BAD_FIELD, "input %s (%.12s..., "
			    "%lld bytes) is not on the main node: upload it "
			    "first (encore submit --input does)",
			    t->inputs[i].name, t->inputs[i].sha256,
			    (long long)t->inputs[i].size);
			return (-1);
		}
		total += t->inputs[i].size;
	}
	if (total > opt->max_input) {
		request_fail(rq, PROTO_BAD_FIELD, "the task's inputs come to "
		    "%lld MiB; a task may have at most %lld MiB "
		    "(--max-input-mb on the main node)", (long long)(total >> 20),
		    (long long)(opt->max_input >> 20));
		return (-1);
	}
	if ((t->n_inputs > 0 || t->n_outputs > 0 || t->n_checkpoints > 0) &&
	    files_full()) {
		request_fail(rq, PROTO_BUSY, "the main node's file store is "
		    "full (--max-files-mb %lld): wait until finished tasks are "
		    "pruned (--keep-finished), or raise --max-files-mb",
		    (long long)(opt->max_files >> 20));
		return (-1);
	}
	for (i = 0; i < t->n_inputs; i++)
		files_touch(t->inputs[i].sha256);
	return (0);
}

/* The hashes of a task's largest inputs, one a line (the scheduler
 * prefers a device that has them), or NULL. */
static char *
submit_input_hints(const struct proto_task *t)
{
	char	*out = NULL, *tmp;
	int	 used[TASK_INPUT_HINTS], n, k;
	size_t	 i, best;

	for (n = 0; n < TASK_INPUT_HINTS && (size_t)n < t->n_inputs; n++) {
		best = t->n_inputs;
		for (i = 0; i < t->n_inputs; i++) {
			for (k = 0; k < n && used[k] != (int)i; k++)
				;
			if (k < n)
				continue;
			if (best == t->n_inputs ||
			    t->inputs[i].size > t->inputs[best].size)
				best = i;
		}
		used[n] = (int)best;
		xasprintf(&tmp, "%s%s%s", out != NULL ? out : "",
		    out != NULL ? "\n" : "", t->inputs[best].sha256);
		free(out);
		out = tmp;
	}
	return (out);
}

/* submit: store the task (or array) as the wire carries it, reply with
 * its id. */
void
handle_submit(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct server		*s = c->server;
	struct proto_task	*t = &m->u.task;
	struct task_row		 r;
	struct msg		 spec;
	struct json_object	*reply;
	struct submit_dep	*deps = NULL;
	struct task_change	 ch;
	char			*line, ids[32], *why = NULL;
	int64_t			 open;
	int			 ndeps, rc, i;
	enum dep_status		 ds;

	open = task_count(TASK_QUEUED) + task_count(TASK_WAITING) +
	    task_count(TASK_HELD);
	if (open >= s->opt->max_queued) {
		request_fail(rq, PROTO_BUSY, "the queue is "
		    "full (%d tasks, --max-queued); wait for tasks to finish "
		    "or cancel some", s->opt->max_queued);
		return;
	}
	if (submit_files_check(rq, t) != 0)
		return;
	if ((ndeps = submit_deps(rq, &deps)) < 0)
		return;
	/* Only the task itself is stored as its spec. */
	msg_init(&spec, MSG_SUBMIT);
	spec.u.task = *t;
	spec.u.task.array_end = -1;
	spec.u.task.n_after = spec.u.task.n_after_any = 0;
	spec.u.task.n_after_notok = 0;
	spec.u.task.hold = 0;
	line = msg_encode(&spec, NULL);
	line[strcspn(line, "\n")] = '\0';

	memset(&r, 0, sizeof r);
	r.name = t->name != NULL ? xstrdup(t->name) : NULL;
	r.state = t->hold ? TASK_HELD : ndeps > 0 ? TASK_WAITING :
	    TASK_QUEUED;
	r.reason = t->hold ? xstrdup("at submit (--hold)") : ndeps > 0 ?
	    xstrdup("waiting for its dependencies") : NULL;
	r.priority = t->priority;
	r.spec = line;
	r.image = t->image != NULL ? xstrdup(t->image) : NULL;
	r.retries_left = t->retries;
	r.exit_code = -1;
	r.submitted_at = now_wall();
	r.seq = task_next_seq();
	task_placement_from_spec(t, &r.place);
	r.inputs = submit_input_hints(t);
	if (t->array_end >= 0) {
		r.kind = TASK_KIND_ARRAY;
		r.array_start = t->array_start;
		r.array_end = t->array_end;
		r.array_step = t->array_step;
		r.array_limit = t->array_limit;
	}

	rc = store_begin(s->store);
	if (rc == 0 && store_task_insert(s->store, &r) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ndeps; i++)
		rc = store_dep_add(s->store, r.id, deps[i].id, deps[i].index,
		    deps[i].kind);
	if (rc == 0 && t->n_inputs > 0)
		rc = store_files_put(s->store, r.id, FILE_KIND_INPUT,
		    t->inputs, t->n_inputs);
	free(deps);
	if (store_end(s->store, rc) != 0) {
		request_fail(rq, PROTO_INTERNAL, "cannot "
		    "save the task: the database is busy or the main node's "
		    "disk is full; retry later");
		task_row_free(&r);
		return;
	}
	task_submitted(s, &r, c->addr);
	/* Dependencies already met, or that never can be, decide now. */
	if (r.state == TASK_WAITING) {
		ds = deps_of(s->store, r.id, &why, NULL);
		memset(&ch, 0, sizeof ch);
		ch.exit_code = -1;
		if (ds == DEP_MET) {
			ch.to = TASK_QUEUED;
			ch.cause = CAUSE_RELEASE;
			task_transition(s, &r, &ch);
		} else if (ds == DEP_FAILED)
			task_cancel_one(s, &r, why);
		free(why);
	}
	snprintf(ids, sizeof ids, "%lld", (long long)r.id);
	reply = view_ok("task_id", json_object_new_string(ids));
	json_object_object_add(reply, "state",
	    json_object_new_string(proto_task_status_name(r.state)));
	if (r.kind == TASK_KIND_ARRAY)
		json_object_object_add(reply, "array_size",
		    json_object_new_int64(ARRAY_SIZE(&r)));
	if (!queue_anyone_could_run(&r.place)) {
		char *text = why_text(s, &r);

		json_object_object_add(reply, "warning",
		    json_object_new_string(text));
		free(text);
	}
	request_ok(rq, reply);
	task_row_free(&r);
}

/* A page of a listing being collected. */
struct list_page {
	struct server		*s;
	struct json_object	*tasks;
	int64_t			 last;		/* internal id of the last row */
	int64_t			 prev;		/* and of the one before */
	int			 n;
};

/* Collect one row of a page. */
static int
list_page_cb(const struct task_row *r, void *arg)
{
	struct list_page	*p = arg;
	struct json_object	*o = view_task(r);

	/* An array's line says how its elements stand. */
	if (r->kind == TASK_KIND_ARRAY)
		json_object_object_add(json_object_object_get(o, "array"),
		    "counts", view_array_counts(p->s, r));
	json_object_array_add(p->tasks, o);
	p->prev = p->last;
	p->last = r->id;
	p->n++;
	return (0);
}

/* list_tasks: one page, in id order, with the total and the next cursor. */
void
handle_list_tasks(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct task_cursor	 cur;
	struct list_page	 p;
	struct json_object	*reply;
	int64_t			 total;
	int			 limit = m->u.target.limit;
	char			 next[32];

	if (limit <= 0)
		limit = LIST_PAGE_DEFAULT;
	if (limit > LIST_PAGE_MAX)
		limit = LIST_PAGE_MAX;
	memset(&cur, 0, sizeof cur);
	cur.mode = m->u.target.all ? TASK_LIST_ALL : TASK_LIST_OPEN;
	cur.expand = m->u.target.expand;
	if (m->u.target.after != NULL &&
	    (cur.after = task_id_parse(m->u.target.after)) < 0) {
		request_fail(rq, PROTO_BAD_FIELD,
		    "data.after: expected a task id from a previous reply's "
		    "\"next\"");
		return;
	}
	memset(&p, 0, sizeof p);
	p.s = c->server;
	p.tasks = json_object_new_array();
	/* One more row than asked tells whether another page follows. */
	if (store_task_page(c->server->store, &cur, limit + 1, list_page_cb,
	    &p) != 0) {
		json_object_put(p.tasks);
		request_fail(rq, PROTO_INTERNAL, "cannot "
		    "read tasks from the database; see the main node's log");
		return;
	}
	if (p.n > limit) {
		json_object_array_del_idx(p.tasks, (size_t)limit, 1);
		p.last = p.prev;
	}
	total = store_task_count_listing(c->server->store, cur.mode,
	    cur.expand);
	reply = view_ok("tasks", p.tasks);
	json_object_object_add(reply, "total", json_object_new_int64(total));
	snprintf(next, sizeof next, "%lld", (long long)p.last);
	json_object_object_add(reply, "next", p.n > limit ?
	    json_object_new_string(next) : NULL);
	request_ok(rq, reply);
}

/* get_task */
void
handle_get_task(struct request *rq)
{
	struct conn		*c = rq->c;
	struct dispatch_target	*tg = &rq->t;

	request_ok(rq, view_ok("task",
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
handle_logs(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct dispatch_target	*tg = &rq->t;
	struct task_row		*r = &tg->task;
	struct json_object	*o;
	struct outbuf		 out;
	char			 ids[48];
	size_t			 len;

	out.chunks = json_object_new_array();
	out.text = evbuffer_new();
	if (r->id > 0)
		store_output_get(c->server->store, r->id, r->attempt,
		    logs_chunk_cb, &out);
	o = view_ok("task_id", json_object_new_string(task_ref_format(r, ids,
	    sizeof ids)));
	json_object_object_add(o, "state",
	    json_object_new_string(proto_task_status_name(r->state)));
	len = evbuffer_get_length(out.text);
	json_object_object_add(o, "output", json_object_new_string_len(
	    (const char *)evbuffer_pullup(out.text, -1), (int)len));
	json_object_object_add(o, "chunks", out.chunks);
	evbuffer_free(out.text);
	request_ok(rq, o);
	if (!m->u.target.follow || rq->http)
		return;
	request_flush(rq);	/* the reply goes before the events */
	free(c->follow_reply);
	c->follow_reply = m->message_id != NULL ? xstrdup(m->message_id) :
	    NULL;
	c->follow_task = r->id;
	c->follow_array = r->id == 0 ? r->array_id : 0;
	c->follow_index = r->array_index;
	conn_watch(c);
	if (proto_task_status_is_final(r->state)) {
		/* Already over: the end event comes at once. */
		o = json_object_new_object();
		json_object_object_add(o, "topic",
		    json_object_new_string("task"));
		json_object_object_add(o, "task", view_task(r));
		conn_send_json(c, MSG_EVENT, c->follow_reply, o);
		c->follow_task = 0;
		c->follow_array = 0;
	}
}

/* cancel: a task not placed ends now; a placed one is told to stop and
 * ends when its worker reports (or its device is lost); an array's
 * elements are all cancelled. */
void
handle_cancel(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct dispatch_target	*tg = &rq->t;
	struct server		*s = c->server;
	struct task_row		*r = &tg->task;
	enum proto_task_status	 was = r->state;
	char			 ref[48];

	if (proto_task_status_is_final(r->state)) {
		request_fail(rq, PROTO_CONFLICT, "task %s "
		    "already ended (%s)", m->u.target.task_id,
		    proto_task_status_name(r->state));
		return;
	}
	if (r->id == 0) {
		request_fail(rq, PROTO_CONFLICT, "element %s "
		    "has not started yet: cancel its array (encore cancel "
		    "%lld), or hold the array", m->u.target.task_id,
		    (long long)r->array_id);
		return;
	}
	if (task_cancel_one(s, r, "cancelled by an operator") != 0) {
		request_fail(rq, PROTO_INTERNAL,
		    "cannot save the cancel; check the main node's disk");
		return;
	}
	log_info("event=task_cancel task=%s state=%s by=%s",
	    task_ref_format(r, ref, sizeof ref), proto_task_status_name(was),
	    c->addr);
	request_ok(rq, view_ok("task",
	    view_task(r)));
}

/* hold: a queued or waiting task (or array) waits for `release`. */
void
handle_hold(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct dispatch_target	*tg = &rq->t;
	struct task_row		*r = &tg->task;

	struct task_change	 ch = { TASK_HELD, CAUSE_HOLD, NULL, -1, NULL,
				    0 };
	char			*why, ref[48];

	if (r->id == 0) {
		request_fail(rq, PROTO_CONFLICT, "element %s has not been "
		    "made yet: hold its array (encore hold %lld) to keep its "
		    "elements from starting", m->u.target.task_id,
		    (long long)r->array_id);
		return;
	}
	if (r->state != TASK_QUEUED && r->state != TASK_WAITING) {
		request_fail(rq, PROTO_CONFLICT, "task %s "
		    "is %s: only a queued or waiting task can be held",
		    m->u.target.task_id, proto_task_status_name(r->state));
		return;
	}
	xasprintf(&why, "by an operator%s%s",
	    m->u.target.reason != NULL ? ": " : "",
	    m->u.target.reason != NULL ? m->u.target.reason : "");
	ch.why = why;
	if (task_transition(c->server, r, &ch) != 0)
		request_fail(rq, PROTO_INTERNAL, "cannot "
		    "save the hold; check the main node's log and disk");
	else {
		log_info("event=task_hold task=%s by=%s",
		    task_ref_format(r, ref, sizeof ref), c->addr);
		request_ok(rq, view_ok("task",
		    view_task(r)));
	}
	free(why);
}

/* release: a held task goes back to the queue (or waits for what it
 * depends on, or ends if that can never be). */
void
handle_release(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct dispatch_target	*tg = &rq->t;
	struct server		*s = c->server;
	struct task_row		*r = &tg->task;

	struct task_change	 ch = { TASK_QUEUED, CAUSE_RELEASE, NULL, -1,
				    NULL, 0 };
	char			*why = NULL, ref[48];
	enum dep_status		 ds;
	int			 rc;

	if (r->id == 0 || r->state != TASK_HELD) {
		request_fail(rq, PROTO_CONFLICT, "task %s "
		    "is %s, not held", m->u.target.task_id,
		    proto_task_status_name(r->state));
		return;
	}
	ds = deps_of(s->store, r->id, &why, NULL);
	if (ds == DEP_PENDING) {
		ch.to = TASK_WAITING;
		ch.why = "waiting for its dependencies";
	}
	if (ds == DEP_FAILED)
		rc = task_cancel_one(s, r, why);
	else
		rc = task_transition(s, r, &ch);
	free(why);
	if (rc != 0) {
		request_fail(rq, PROTO_INTERNAL, "cannot "
		    "save the release; check the main node's log and disk");
		return;
	}
	log_info("event=task_release task=%s by=%s",
	    task_ref_format(r, ref, sizeof ref), c->addr);
	request_ok(rq, view_ok("task",
	    view_task(r)));
}
