/* SPDX-License-Identifier: ISC */
/*
 * tasks.c -- the task lifecycle on the main node.
 *
 *   queued -> assigned -> running -> completed | failed | timed_out |
 *   cancelled
 *
 * The queue lives in SQLite; memory holds only the tasks that are assigned
 * or running (struct task), which carry the resource accounting of their
 * device.  Every change is committed before anyone hears of it: the
 * task_assign after the assignment is durable, the result_ack after the
 * result is.  Results are keyed by (task_id, attempt): anything from an
 * attempt that is no longer current is acknowledged and dropped, so a task
 * is recorded as finished exactly once.
 *
 * Dispatch is event-driven: tasks_kick() (on submit, a freed slot, a
 * device joining or being approved/undrained) schedules one pass at the
 * end of the current loop iteration, however many kicks came.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "main.h"

#define TASK_REQUEUE_MAX	3	/* device-lost re-queues per task */

/* An assigned or running task.  dev is borrowed (NULL while its device is
 * unknown after a restart); device_id is owned. */
struct task {
	int64_t			 id;
	int			 attempt;
	char			*device_id;
	struct device		*dev;
	enum proto_task_status	 state;
	double			 cpus;
	int			 memory_mb;
	int			 cancel_requested;
	double			 orphan_deadline;	/* mono, 0 = none */
	double			 assigned_at;		/* unix */
	double			 started_at;
	int64_t			 output_bytes;	/* stored, all attempts */
	TAILQ_ENTRY(task)	 entry;
};
static TAILQ_HEAD(, task) tasks_active = TAILQ_HEAD_INITIALIZER(tasks_active);
static struct event	*tasks_sched_ev;

/* Tasks in state queued, counted at startup and kept in step with every
 * committed change into or out of it, so admission (--max-queued) does not
 * count the queue on each submit. */
static int64_t		 tasks_queued;

static void	tasks_sched_cb(evutil_socket_t, short, void *);

/* Wall-clock seconds with a fraction. */
static double
now_wall(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

/* "42" -> 42; -1 if not a task id. */
static int64_t
task_id_parse(const char *s)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return (-1);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return (-1);
	return (v);
}

/* Decode a stored submit line into m; -1 if it is damaged. */
static int
task_spec_decode(const char *spec, struct msg *m)
{
	struct proto_err	err;

	if (spec == NULL || msg_decode(spec, strlen(spec), m, &err) != 0) {
		log_error("event=task_spec_bad msg=\"%s\"",
		    spec == NULL ? "missing" : err.message);
		return (-1);
	}
	return (0);
}

/* Charge a task to its device. */
static void
task_account(struct task *t, struct device *d)
{
	t->dev = d;
	d->running++;
	d->cpus_used += t->cpus;
	d->mem_used_mb += t->memory_mb;
}

/* Release a task's resources on its device. */
static void
task_release(struct task *t)
{
	struct device	*d = t->dev;

	if (d == NULL)
		return;
	d->running--;
	d->cpus_used -= t->cpus;
	d->mem_used_mb -= t->memory_mb;
	if (d->running <= 0) {
		d->running = 0;
		d->cpus_used = 0;
		d->mem_used_mb = 0;
	}
	t->dev = NULL;
}

/* Forget an active task. */
static void
task_free(struct task *t)
{
	task_release(t);
	TAILQ_REMOVE(&tasks_active, t, entry);
	free(t->device_id);
	free(t);
}

/* The active task (id, attempt), or NULL. */
static struct task *
task_find(int64_t id, int attempt)
{
	struct task	*t;

	TAILQ_FOREACH(t, &tasks_active, entry) {
		if (t->id == id && (attempt == 0 || t->attempt == attempt))
			return (t);
	}
	return (NULL);
}

/* ISO time or null. */
static struct json_object *
jtime(double t)
{
	char	buf[32];

	if (t <= 0)
		return (NULL);
	return (json_object_new_string(proto_format_time((int64_t)t, buf,
	    sizeof buf)));
}

/* The TASK object of replies and events. */
static struct json_object *
task_json(const struct task_row *r)
{
	struct json_object	*o = json_object_new_object();
	char			 id[32];

	snprintf(id, sizeof id, "%lld", (long long)r->id);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "name", r->name != NULL ?
	    json_object_new_string(r->name) : NULL);
	json_object_object_add(o, "state",
	    json_object_new_string(proto_task_status_name(r->state)));
	json_object_object_add(o, "priority",
	    json_object_new_string(proto_priority_name(r->priority)));
	json_object_object_add(o, "device", r->device != NULL ?
	    json_object_new_string(r->device) : NULL);
	json_object_object_add(o, "attempt", json_object_new_int(r->attempt));
	json_object_object_add(o, "exit_code", r->exit_code >= 0 ?
	    json_object_new_int(r->exit_code) : NULL);
	json_object_object_add(o, "submitted_at", jtime(r->submitted_at));
	json_object_object_add(o, "started_at", jtime(r->started_at));
	json_object_object_add(o, "finished_at", jtime(r->finished_at));
	json_object_object_add(o, "task_type", json_object_new_string(
	    r->image != NULL ? "container" : "command"));
	json_object_object_add(o, "image", r->image != NULL ?
	    json_object_new_string(r->image) : NULL);
	json_object_object_add(o, "error", r->error != NULL ?
	    json_object_new_string(r->error) : NULL);
	return (o);
}

/* Is this a final state? */
static int
task_is_final(enum proto_task_status st)
{
	return (st >= TASK_COMPLETED);
}

/* After a change: tell subscribers, and followers when it ended. */
static void
task_changed(struct server *s, const struct task_row *r)
{
	struct conn		*c, *next;
	struct json_object	*ev;

	client_event_task(s, task_json(r));
	if (!task_is_final(r->state))
		return;
	TAILQ_FOREACH_SAFE(c, &s->watchers, watch_entry, next) {
		if (c->follow_task != r->id)
			continue;
		ev = json_object_new_object();
		json_object_object_add(ev, "topic",
		    json_object_new_string("task"));
		json_object_object_add(ev, "task", task_json(r));
		conn_send_json(c, MSG_EVENT, c->follow_reply, ev);
		c->follow_task = 0;
	}
}

/* Load a row, apply a change through cb, write it and the attempt. */
static int
task_finish_row(struct server *s, struct task_row *r,
    enum proto_task_status st, int exit_code, const char *error)
{
	double	now = now_wall();

	if (store_attempt_put(s->store, r->id, r->attempt, r->device, st,
	    exit_code, error, 0, r->started_at, now) != 0)
		return (-1);
	r->state = st;
	r->exit_code = exit_code;
	free(r->error);
	r->error = error != NULL ? xstrdup(error) : NULL;
	r->finished_at = now;
	return (store_task_update(s->store, r));
}

/*
 * Put an active task back in the queue as a new attempt (its device was
 * lost), or end it: cancelled if a cancel was asked for, failed once it
 * was re-queued TASK_REQUEUE_MAX times.
 */
static void
task_requeue(struct server *s, struct task *t, const char *why)
{
	struct task_row	r;
	int		rc;

	if (store_task_get(s->store, t->id, &r) != 0) {
		task_free(t);
		return;
	}
	if ((rc = store_begin(s->store)) != 0)
		goto done;
	if (t->cancel_requested)
		rc = task_finish_row(s, &r, TASK_CANCELLED, -1,
		    "cancelled while its device was lost");
	else if (r.requeues >= TASK_REQUEUE_MAX) {
		char *err;

		xasprintf(&err, "%s; gave up after %d re-queues", why,
		    TASK_REQUEUE_MAX);
		rc = task_finish_row(s, &r, TASK_FAILED, -1, err);
		free(err);
	} else {
		rc = store_attempt_put(s->store, r.id, r.attempt, r.device,
		    TASK_FAILED, -1, why, 0, r.started_at, now_wall());
		r.state = TASK_QUEUED;
		r.requeues++;
		free(r.device);
		r.device = NULL;
		r.started_at = 0;
		if (rc == 0)
			rc = store_task_update(s->store, &r);
	}
done:
	if (store_end(s->store, rc) != 0) {
		/* Keep it; the tick tries again while its device is away. */
		log_error("event=task_requeue_failed task=%lld msg=\"the "
		    "database refused the write; retrying\"",
		    (long long)t->id);
		task_release(t);
		t->orphan_deadline = now_mono();
		task_row_free(&r);
		return;
	}
	if (r.state == TASK_QUEUED)
		tasks_queued++;
	log_info("event=task_%s task=%lld attempt=%d device=%s reason=\"%s\"",
	    r.state == TASK_QUEUED ? "requeued" : "ended", (long long)t->id,
	    t->attempt, t->device_id, why);
	task_free(t);
	task_changed(s, &r);
	task_row_free(&r);
	tasks_kick(s);
}

/* Rebuild the active set from the database at startup. */
static void
tasks_load_cb(const struct task_row *r, void *arg)
{
	struct server	*s = arg;
	struct task	*t;
	struct msg	 m;
	struct device	*d;

	t = xcalloc(1, sizeof *t);
	t->id = r->id;
	t->attempt = r->attempt;
	t->state = r->state;
	t->device_id = xstrdup(r->device != NULL ? r->device : "");
	t->started_at = r->started_at;
	t->output_bytes = store_output_bytes(s->store, t->id);
	if (task_spec_decode(r->spec, &m) == 0) {
		t->cpus = m.u.task.cpus;
		t->memory_mb = m.u.task.memory_mb;
		msg_free(&m);
	}
	/* Its worker has offline-after seconds to come back and claim it. */
	t->orphan_deadline = now_mono() + s->opt->offline_after;
	TAILQ_INSERT_TAIL(&tasks_active, t, entry);
	if ((d = registry_find(t->device_id)) != NULL)
		task_account(t, d);
}

/* Load active tasks; set up the scheduler event. */
int
tasks_start(struct server *s)
{
	int	n = 0;
	struct task *t;

	tasks_sched_ev = event_new(s->base, -1, 0, tasks_sched_cb, s);
	if (store_task_active(s->store, tasks_load_cb, s) != 0 ||
	    (tasks_queued = store_task_queued(s->store)) < 0)
		return (-1);
	TAILQ_FOREACH(t, &tasks_active, entry)
		n++;
	if (n > 0)
		log_info("event=tasks_reconcile active=%d msg=\"waiting up to "
		    "%d s for their workers to come back\"", n,
		    s->opt->offline_after);
	tasks_kick(s);
	return (0);
}

/*
 * After a failed group commit (conn.c) memory is ahead of the database:
 * rebuild the active set from it, keeping what only memory knew (a cancel
 * asked for, orphan deadlines), and recount the queue.
 */
void
tasks_reload(struct server *s)
{
	TAILQ_HEAD(, task)	 old = TAILQ_HEAD_INITIALIZER(old);
	struct task		*t, *o;
	struct device		*d;
	int64_t			 queued;

	while ((t = TAILQ_FIRST(&tasks_active)) != NULL) {
		TAILQ_REMOVE(&tasks_active, t, entry);
		task_release(t);
		TAILQ_INSERT_TAIL(&old, t, entry);
	}
	if (store_task_active(s->store, tasks_load_cb, s) != 0 ||
	    (queued = store_task_queued(s->store)) < 0) {
		log_error("event=tasks_reload_failed msg=\"cannot read the "
		    "database; keeping the tasks in memory\"");
		while ((t = TAILQ_FIRST(&tasks_active)) != NULL)
			task_free(t);
		while ((o = TAILQ_FIRST(&old)) != NULL) {
			TAILQ_REMOVE(&old, o, entry);
			TAILQ_INSERT_TAIL(&tasks_active, o, entry);
			if ((d = registry_find(o->device_id)) != NULL)
				task_account(o, d);
		}
		return;
	}
	tasks_queued = queued;
	TAILQ_FOREACH(t, &tasks_active, entry) {
		TAILQ_FOREACH(o, &old, entry) {
			if (o->id == t->id && o->attempt == t->attempt) {
				t->cancel_requested = o->cancel_requested;
				t->orphan_deadline = o->orphan_deadline;
				t->assigned_at = o->assigned_at;
				break;
			}
		}
	}
	while ((o = TAILQ_FIRST(&old)) != NULL) {
		TAILQ_REMOVE(&old, o, entry);
		free(o->device_id);
		free(o);
	}
	log_info("event=tasks_reloaded queued=%lld", (long long)queued);
	tasks_kick(s);
}

/* Free the active set. */
void
tasks_stop(struct server *s)
{
	struct task	*t;

	while ((t = TAILQ_FIRST(&tasks_active)) != NULL) {
		t->dev = NULL;
		task_free(t);
	}
	if (tasks_sched_ev != NULL)
		event_free(tasks_sched_ev);
	tasks_sched_ev = NULL;
}

/* Ask for a scheduler pass at the end of this loop iteration. */
void
tasks_kick(struct server *s)
{
	if (tasks_sched_ev != NULL && !s->stopping &&
	    !event_pending(tasks_sched_ev, EV_TIMEOUT, NULL)) {
		s->sched_dirty = 1;
		event_active(tasks_sched_ev, EV_TIMEOUT, 1);
	}
}

/* Re-queue tasks whose device did not come back after a restart. */
void
tasks_tick(struct server *s)
{
	struct task	*t, *next;
	double		 now = now_mono();

	TAILQ_FOREACH_SAFE(t, &tasks_active, entry, next) {
		if (t->orphan_deadline > 0 && now > t->orphan_deadline &&
		    (t->dev == NULL || !t->dev->online))
			task_requeue(s, t, "device did not come back after "
			    "a main node restart");
	}
}

/* One placement decided in a pass, sent after the commit. */
struct assignment {
	struct task	*t;
	struct msg	 m;
};

/* State of one scheduler pass. */
struct sched_pass {
	struct server		*s;
	struct assignment	*a;
	size_t			 n, cap;
	int			 free_slots;
	int			 dequeued;	/* left state queued */
	int			 failed;
};

/* Free slots across devices that can take work now. */
static int
tasks_free_slots(void)
{
	struct device	*d;
	int		 n = 0;

	TAILQ_FOREACH(d, registry_list(), entry) {
		if (d->approved && d->online && d->conn != NULL &&
		    !d->drained && d->accepting && d->running < d->slots)
			n += d->slots - d->running;
	}
	return (n);
}

/* Try to place one queued task; non-zero stops the walk. */
static int
tasks_place_cb(struct task_row *r, void *arg)
{
	struct sched_pass	*p = arg;
	struct server		*s = p->s;
	struct device		*d;
	struct task		*t;
	struct assignment	*a;
	struct msg		 m;
	double			 now = now_wall();

	if (task_spec_decode(r->spec, &m) != 0) {
		if (task_finish_row(s, r, TASK_FAILED, -1, "stored task is "
		    "damaged") != 0)
			p->failed = 1;
		p->dequeued++;
		return (p->failed);
	}
	if ((d = scheduler_pick(registry_list(), &m.u.task)) == NULL) {
		msg_free(&m);
		return (0);
	}
	r->state = TASK_ASSIGNED;
	r->attempt++;
	free(r->device);
	r->device = xstrdup(d->id);
	r->started_at = 0;
	if (store_task_update(s->store, r) != 0 ||
	    store_attempt_put(s->store, r->id, r->attempt, d->id,
	    TASK_ASSIGNED, -1, NULL, now, 0, 0) != 0) {
		msg_free(&m);
		p->failed = 1;
		return (1);
	}
	p->dequeued++;
	t = xcalloc(1, sizeof *t);
	t->id = r->id;
	t->attempt = r->attempt;
	t->device_id = xstrdup(d->id);
	t->state = TASK_ASSIGNED;
	t->cpus = m.u.task.cpus;
	t->memory_mb = m.u.task.memory_mb;
	t->assigned_at = now;
	t->output_bytes = store_output_bytes(s->store, t->id);
	TAILQ_INSERT_TAIL(&tasks_active, t, entry);
	task_account(t, d);

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->a = xreallocarray(p->a, p->cap, sizeof *p->a);
	}
	a = &p->a[p->n++];
	a->t = t;
	a->m = m;
	xasprintf(&a->m.u.task.task_id, "%lld", (long long)r->id);
	a->m.u.task.attempt = r->attempt;
	a->m.type = MSG_TASK_ASSIGN;
	return (--p->free_slots <= 0);
}

/* A scheduler pass: place queued tasks in dispatch order on free slots. */
static void
tasks_sched_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server		*s = arg;
	struct sched_pass	 p;
	struct task_row		 r;
	size_t			 i;

	s->sched_dirty = 0;
	memset(&p, 0, sizeof p);
	p.s = s;
	if ((p.free_slots = tasks_free_slots()) == 0)
		return;
	if (store_begin(s->store) != 0 ||
	    store_task_queue_walk(s->store, p.free_slots, tasks_place_cb,
	    &p) != 0)
		p.failed = 1;
	if (store_end(s->store, p.failed ? -1 : 0) != 0) {
		/* Nothing was promised yet: undo the placements. */
		log_error("event=dispatch_failed assignments=%zu msg=\"the "
		    "database refused the write; retrying on the next tick\"",
		    p.n);
		p.failed = 1;
	}
	if (!p.failed)
		tasks_queued -= p.dequeued;
	for (i = 0; i < p.n; i++) {
		struct assignment *a = &p.a[i];

		if (p.failed) {
			task_free(a->t);
		} else {
			log_info("event=task_assigned task=%s attempt=%d "
			    "device=%s", a->m.u.task.task_id, a->t->attempt,
			    a->t->device_id);
			conn_send(a->t->dev->conn, &a->m);
			if (store_task_get(s->store, a->t->id, &r) == 0) {
				task_changed(s, &r);
				task_row_free(&r);
			}
		}
		msg_free(&a->m);
	}
	free(p.a);
	if (p.failed)
		s->sched_dirty = 1;
}

/* A device reconnected: keep the tasks it still runs, re-queue the
 * others it was given. */
void
tasks_device_registered(struct server *s, struct device *d,
    struct proto_task_ref *refs, size_t n)
{
	struct task	*t, *next;
	size_t		 i;
	int		 found;

	TAILQ_FOREACH_SAFE(t, &tasks_active, entry, next) {
		if (strcmp(t->device_id, d->id) != 0)
			continue;
		found = 0;
		for (i = 0; i < n; i++) {
			if (task_id_parse(refs[i].task_id) == t->id &&
			    refs[i].attempt == t->attempt)
				found = 1;
		}
		if (found) {
			t->orphan_deadline = 0;
			if (t->dev == NULL)
				task_account(t, d);
			log_info("event=task_reclaimed task=%lld attempt=%d "
			    "device=%s", (long long)t->id, t->attempt, d->id);
		} else
			task_requeue(s, t, "its device reconnected without "
			    "it");
	}
	tasks_kick(s);
}

/* A device is offline: its tasks go back to the queue. */
void
tasks_device_lost(struct server *s, struct device *d)
{
	struct task	*t, *next;

	TAILQ_FOREACH_SAFE(t, &tasks_active, entry, next) {
		if (t->dev == d || strcmp(t->device_id, d->id) == 0)
			task_requeue(s, t, "device lost");
	}
}

/* Send result_ack. */
static void
tasks_ack(struct conn *c, const char *task_id, int attempt)
{
	struct msg	m;

	msg_init(&m, MSG_RESULT_ACK);
	m.sender_id = (char *)"main";
	m.u.ref.task_id = (char *)task_id;
	m.u.ref.attempt = attempt;
	conn_send(c, &m);
}

/* Stream an output chunk to `logs -f` followers. */
static void
tasks_follow_output(struct server *s, int64_t id, const char *stream,
    const char *data, size_t len)
{
	struct conn		*c, *next;
	struct json_object	*ev;
	char			 ids[32];

	snprintf(ids, sizeof ids, "%lld", (long long)id);
	TAILQ_FOREACH_SAFE(c, &s->watchers, watch_entry, next) {
		if (c->follow_task != id)
			continue;
		ev = json_object_new_object();
		json_object_object_add(ev, "topic",
		    json_object_new_string("output"));
		json_object_object_add(ev, "task_id",
		    json_object_new_string(ids));
		json_object_object_add(ev, "stream",
		    json_object_new_string(stream));
		json_object_object_add(ev, "data",
		    json_object_new_string_len(data, (int)len));
		conn_send_json(c, MSG_EVENT, c->follow_reply, ev);
	}
}

/* task_result from the current attempt: record it, then acknowledge. */
static void
tasks_result(struct conn *c, struct task *t, struct msg_task_result *res)
{
	struct server	*s = c->server;
	struct task_row	 r;
	int		 rc, retry;

	if (store_task_get(s->store, t->id, &r) != 0)
		return;
	retry = res->status == TASK_FAILED && r.retries_left > 0 &&
	    !t->cancel_requested;
	rc = store_begin(s->store);
	if (rc == 0 && retry) {
		rc = store_attempt_put(s->store, r.id, r.attempt, r.device,
		    TASK_FAILED, res->exit_code, res->error, 0, r.started_at,
		    now_wall());
		r.state = TASK_QUEUED;
		r.retries_left--;
		r.exit_code = res->exit_code;
		free(r.device);
		r.device = NULL;
		if (rc == 0)
			rc = store_task_update(s->store, &r);
	} else if (rc == 0)
		rc = task_finish_row(s, &r, res->status, res->exit_code,
		    res->error);
	if (store_end(s->store, rc) != 0) {
		/* Not durable: no ack, the worker re-sends it later. */
		log_error("event=task_result_not_saved task=%lld",
		    (long long)t->id);
		task_row_free(&r);
		return;
	}
	if (retry)
		tasks_queued++;
	log_info("event=task_%s task=%lld attempt=%d device=%s exit=%d",
	    retry ? "retry" : proto_task_status_name(res->status),
	    (long long)t->id, t->attempt, t->device_id, res->exit_code);
	tasks_ack(c, res->task_id, res->attempt);
	task_free(t);
	task_changed(s, &r);
	task_row_free(&r);
	tasks_kick(s);
}

/* task_started, task_output, task_result from a worker. */
void
tasks_worker_message(struct conn *c, struct msg *m)
{
	struct server	*s = c->server;
	struct task	*t;
	struct task_row	 r;
	const char	*tid;
	int		 attempt;
	int64_t		 stored;

	switch (m->type) {
	case MSG_TASK_STARTED:
		tid = m->u.ref.task_id;
		attempt = m->u.ref.attempt;
		break;
	case MSG_TASK_OUTPUT:
		tid = m->u.output.task_id;
		attempt = m->u.output.attempt;
		break;
	default:
		tid = m->u.result.task_id;
		attempt = m->u.result.attempt;
		break;
	}
	t = task_find(task_id_parse(tid), attempt);
	if (t == NULL || t->dev != c->device) {
		/* Stale or unknown: acknowledged and dropped. */
		log_debug("event=task_stale type=%s task=%s attempt=%d "
		    "device=%s", msg_type_name(m->type), tid, attempt,
		    c->device->id);
		if (m->type == MSG_TASK_RESULT)
			tasks_ack(c, tid, attempt);
		return;
	}
	switch (m->type) {
	case MSG_TASK_STARTED:
		if (t->state != TASK_ASSIGNED ||
		    store_task_get(s->store, t->id, &r) != 0)
			break;
		t->state = TASK_RUNNING;
		t->started_at = now_wall();
		r.state = TASK_RUNNING;
		r.started_at = t->started_at;
		if (store_end(s->store, store_begin(s->store) ||
		    store_task_update(s->store, &r) ||
		    store_attempt_put(s->store, r.id, r.attempt, r.device,
		    TASK_RUNNING, -1, NULL, t->assigned_at, r.started_at,
		    0)) != 0)
			log_error("event=task_start_not_saved task=%lld",
			    (long long)t->id);
		task_changed(s, &r);
		task_row_free(&r);
		break;
	case MSG_TASK_OUTPUT:
		stored = store_output_add(s->store, t->id, t->attempt,
		    m->u.output.stream, m->u.output.data,
		    m->u.output.data_len, t->output_bytes,
		    s->opt->max_output);
		if (stored < 0)
			log_error("event=task_output_not_saved task=%lld",
			    (long long)t->id);
		else
			t->output_bytes = stored;
		tasks_follow_output(s, t->id, m->u.output.stream,
		    m->u.output.data, m->u.output.data_len);
		break;
	default:
		tasks_result(c, t, &m->u.result);
		break;
	}
}

/* ---- operator requests ---- */

/* {"ok": true, key: val} */
static struct json_object *
ok_reply(const char *key, struct json_object *val)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	if (key != NULL)
		json_object_object_add(o, key, val);
	return (o);
}

/* submit: validate, store, reply with the id, kick the scheduler. */
static void
tasks_submit(struct conn *c, struct msg *m)
{
	struct server		*s = c->server;
	struct proto_task	*t = &m->u.task;
	struct msg		 spec;
	struct device		*d;
	char			*line, ids[32];
	int64_t			 id;
	int			 runnable = 0;

	if (t->type == TASK_TYPE_CONTAINER && t->image == NULL) {
		conn_reply_error(c, m->message_id, PROTO_BAD_FIELD,
		    "a container task needs an image (--image)");
		return;
	}
	if (tasks_queued >= s->opt->max_queued) {
		conn_reply_error(c, m->message_id, PROTO_BUSY, "the queue is "
		    "full (%d tasks, --max-queued); wait for tasks to finish "
		    "or cancel some", s->opt->max_queued);
		return;
	}
	/* Store the task exactly as the wire carries it. */
	msg_init(&spec, MSG_SUBMIT);
	spec.u.task = *t;
	line = msg_encode(&spec, NULL);
	line[strcspn(line, "\n")] = '\0';
	if (store_begin(s->store) != 0)
		id = -1;
	else
		id = store_task_insert(s->store, t->name, t->priority, line,
		    t->image, t->retries, now_wall());
	free(line);
	if (store_end(s->store, id < 0 ? -1 : 0) != 0) {
		conn_reply_error(c, m->message_id, PROTO_INTERNAL, "cannot "
		    "save the task: the database is busy or the main node's "
		    "disk is full; retry later");
		return;
	}
	tasks_queued++;
	snprintf(ids, sizeof ids, "%lld", (long long)id);
	TAILQ_FOREACH(d, registry_list(), entry) {
		if (d->approved && scheduler_can_ever_run(d, t)) {
			runnable = 1;
			break;
		}
	}
	log_info("event=task_submitted task=%s priority=%s type=%s by=%s%s",
	    ids, proto_priority_name(t->priority),
	    proto_task_type_name(t->type), c->addr,
	    runnable ? "" : " note=no_device_matches_yet");
	conn_send_json(c, MSG_REPLY, m->message_id, ok_reply("task_id",
	    json_object_new_string(ids)));
	{
		struct task_row r;

		if (store_task_get(s->store, id, &r) == 0) {
			task_changed(s, &r);
			task_row_free(&r);
		}
	}
	tasks_kick(s);
}

/* Collect rows into a json array. */
static void
tasks_list_cb(const struct task_row *r, void *arg)
{
	json_object_array_add(arg, task_json(r));
}

/* Collect attempts into a json array. */
static void
tasks_attempt_cb(const struct attempt_row *a, void *arg)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "attempt", json_object_new_int(a->attempt));
	json_object_object_add(o, "device", a->device != NULL ?
	    json_object_new_string(a->device) : NULL);
	json_object_object_add(o, "state", json_object_new_string(
	    proto_task_status_name((enum proto_task_status)a->state)));
	json_object_object_add(o, "exit_code", a->exit_code >= 0 ?
	    json_object_new_int(a->exit_code) : NULL);
	json_object_object_add(o, "started_at", jtime(a->started_at));
	json_object_object_add(o, "finished_at", jtime(a->finished_at));
	json_object_object_add(o, "error", a->error != NULL ?
	    json_object_new_string(a->error) : NULL);
	json_object_array_add(arg, o);
}

/* The full TASK of get_task: spec fields and attempts. */
static struct json_object *
task_json_full(struct server *s, const struct task_row *r)
{
	struct json_object	*o = task_json(r), *a, *lim, *req;
	struct proto_task	*t;
	struct msg		 m;

	if (task_spec_decode(r->spec, &m) == 0) {
		t = &m.u.task;
		json_object_object_add(o, "command",
		    json_from_strv(t->argv, t->argc));
		json_object_object_add(o, "env", json_from_kv(t->env,
		    t->n_env));
		json_object_object_add(o, "timeout",
		    json_object_new_int(t->timeout));
		json_object_object_add(o, "retries",
		    json_object_new_int(t->retries));
		lim = json_object_new_object();
		json_object_object_add(lim, "cpus",
		    json_object_new_double(t->cpus));
		json_object_object_add(lim, "memory_mb",
		    json_object_new_int(t->memory_mb));
		json_object_object_add(lim, "pids",
		    json_object_new_int(t->pids));
		json_object_object_add(o, "limits", lim);
		req = json_object_new_object();
		if (t->req_arch != NULL)
			json_object_object_add(req, "arch",
			    json_object_new_string(t->req_arch));
		if (t->req_platform != NULL)
			json_object_object_add(req, "platform",
			    json_object_new_string(t->req_platform));
		if (t->req_device != NULL)
			json_object_object_add(req, "device",
			    json_object_new_string(t->req_device));
		json_object_object_add(req, "labels",
		    json_from_kv(t->req_labels, t->n_req_labels));
		json_object_object_add(o, "requirements", req);
		msg_free(&m);
	}
	a = json_object_new_array();
	store_attempt_list(s->store, r->id, tasks_attempt_cb, a);
	json_object_object_add(o, "attempts", a);
	return (o);
}

/* Stored output as one text plus its chunks with their streams. */
struct outbuf {
	char			*p;
	size_t			 len;
	struct json_object	*chunks;
};

/* Append stored output to a buffer (logs). */
static void
tasks_output_cb(const char *stream, const void *data, size_t len, void *arg)
{
	struct outbuf		*b = arg;
	struct json_object	*c = json_object_new_object();

	json_object_object_add(c, "stream", json_object_new_string(stream));
	json_object_object_add(c, "data", json_object_new_string_len(data,
	    (int)len));
	json_object_array_add(b->chunks, c);

	b->p = xrealloc(b->p, b->len + len + 1);
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

/* get_task, logs, cancel: look up the task or reply not_found. */
static int
tasks_lookup(struct conn *c, struct msg *m, struct task_row *r)
{
	int64_t	id = task_id_parse(m->u.target.task_id);

	if (id > 0 && store_task_get(c->server->store, id, r) == 0)
		return (0);
	conn_reply_error(c, m->message_id, PROTO_NOT_FOUND, "no task "
	    "\"%.64s\"; see `encore ps --all`", m->u.target.task_id);
	return (-1);
}

/* logs [-f] */
static void
tasks_logs(struct conn *c, struct msg *m)
{
	struct task_row		 r;
	struct json_object	*o;
	struct outbuf		 out = { NULL, 0, NULL };
	char			 ids[32];

	if (tasks_lookup(c, m, &r) != 0)
		return;
	out.chunks = json_object_new_array();
	store_output_get(c->server->store, r.id, r.attempt, tasks_output_cb,
	    &out);
	snprintf(ids, sizeof ids, "%lld", (long long)r.id);
	o = ok_reply("task_id", json_object_new_string(ids));
	json_object_object_add(o, "state",
	    json_object_new_string(proto_task_status_name(r.state)));
	json_object_object_add(o, "output", json_object_new_string_len(
	    out.p != NULL ? out.p : "", (int)out.len));
	json_object_object_add(o, "chunks", out.chunks);
	free(out.p);
	conn_send_json(c, MSG_REPLY, m->message_id, o);
	if (m->u.target.follow) {
		free(c->follow_reply);
		c->follow_reply = m->message_id != NULL ?
		    xstrdup(m->message_id) : NULL;
		c->follow_task = r.id;
		conn_watch(c);
		if (task_is_final(r.state)) {
			/* Already over: the end event comes at once. */
			o = json_object_new_object();
			json_object_object_add(o, "topic",
			    json_object_new_string("task"));
			json_object_object_add(o, "task", task_json(&r));
			conn_send_json(c, MSG_EVENT, c->follow_reply, o);
			c->follow_task = 0;
		}
	}
	task_row_free(&r);
}

/* cancel: a queued task ends now; a running one is told to stop and ends
 * when its worker reports (or its device is lost). */
static void
tasks_cancel(struct conn *c, struct msg *m)
{
	struct server	*s = c->server;
	struct task_row	 r;
	struct task	*t;
	struct msg	 cm;
	char		 ids[32];
	int		 was_queued;

	if (tasks_lookup(c, m, &r) != 0)
		return;
	if (task_is_final(r.state)) {
		conn_reply_error(c, m->message_id, PROTO_CONFLICT, "task %lld "
		    "already ended (%s)", (long long)r.id,
		    proto_task_status_name(r.state));
		task_row_free(&r);
		return;
	}
	t = task_find(r.id, 0);
	was_queued = r.state == TASK_QUEUED;
	if (was_queued || t == NULL || t->dev == NULL ||
	    t->dev->conn == NULL) {
		if (store_end(s->store, store_begin(s->store) ||
		    task_finish_row(s, &r, TASK_CANCELLED, -1,
		    "cancelled by an operator")) != 0) {
			conn_reply_error(c, m->message_id, PROTO_INTERNAL,
			    "cannot save the cancel; check the main node's "
			    "disk");
			task_row_free(&r);
			return;
		}
		if (t != NULL)
			task_free(t);
		if (was_queued)
			tasks_queued--;
		task_changed(s, &r);
		tasks_kick(s);
	} else {
		t->cancel_requested = 1;
		msg_init(&cm, MSG_TASK_CANCEL);
		cm.sender_id = (char *)"main";
		snprintf(ids, sizeof ids, "%lld", (long long)r.id);
		cm.u.ref.task_id = ids;
		cm.u.ref.attempt = t->attempt;
		conn_send(t->dev->conn, &cm);
	}
	log_info("event=task_cancel task=%lld state=%s by=%s",
	    (long long)r.id, proto_task_status_name(r.state), c->addr);
	conn_send_json(c, MSG_REPLY, m->message_id, ok_reply("task",
	    task_json(&r)));
	task_row_free(&r);
}

/* Operator task requests. */
void
tasks_client_message(struct conn *c, struct msg *m)
{
	struct task_row		 r;
	struct json_object	*a;

	switch (m->type) {
	case MSG_SUBMIT:
		tasks_submit(c, m);
		break;
	case MSG_LIST_TASKS:
		a = json_object_new_array();
		store_task_list(c->server->store, m->u.target.all ?
		    TASK_LIST_ALL : TASK_LIST_ACTIVE, tasks_list_cb, a);
		conn_send_json(c, MSG_REPLY, m->message_id, ok_reply("tasks",
		    a));
		break;
	case MSG_GET_TASK:
		if (tasks_lookup(c, m, &r) != 0)
			break;
		conn_send_json(c, MSG_REPLY, m->message_id, ok_reply("task",
		    task_json_full(c->server, &r)));
		task_row_free(&r);
		break;
	case MSG_LOGS:
		tasks_logs(c, m);
		break;
	case MSG_CANCEL:
		tasks_cancel(c, m);
		break;
	default:
		conn_reply_error(c, m->message_id, PROTO_FORBIDDEN,
		    "%s is not an operator request", msg_type_name(m->type));
		break;
	}
}

/* Counts by state, for status and metrics. */
void
tasks_status(struct server *s, int64_t counts[7])
{
	if (store_task_counts(s->store, counts) != 0)
		memset(counts, 0, 7 * sizeof counts[0]);
}
