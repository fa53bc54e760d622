/* SPDX-License-Identifier: ISC */
/*
 * task.c -- a task's life on the main node: the one function that changes
 * a task's state, and the set of tasks that are assigned or running.
 *
 *                      submit
 *                        |
 *            +-----------+-----------+
 *            v           v           v
 *         waiting <-> held <----> queued ------------------+
 *            |          ^  \      |  ^ ^  \                 |
 *            |   (3 failed  \     |  | |   \ cancel,        |
 *            |    starts)    \    |  | |    \ damaged,      |
 *            |          |     \   |  | |     \ late result  |
 *            |          |      \  v  | |      v             |
 *            |          +---- assigned-+-+--> completed     |
 *            |          |         |    | |    failed        |
 *            |          |         v    | |    timed_out     |
 *            |          +----- running-+-+--> cancelled <---+
 *            |                         retry, lost,  ^
 *            +---------------------- start failed,   |
 *                dependency failed   vacated         |
 *                (cancelled) --------------------------+
 *
 * Edges into queued from assigned/running are re-queues: a retry of a
 * failure (uses up --retries), a lost device (counts toward the 3
 * re-queues), a failed start or a vacated task (neither).  A queued task
 * whose earlier attempt turns out to be alive goes straight back to
 * running (the device came back in time), or to its final state (its
 * late result arrived before the next attempt started).
 *
 * task_transition() is the target of every change: it checks the edge
 * against task_edges[], writes the row and the attempt (a savepoint in the
 * pass's transaction), then keeps memory in step -- the queue index, the
 * active set and its device's accounting, the counts by state -- logs one
 * line and tells watchers.  Memory changes only once the write succeeded.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"

#define TASK_BUCKETS	(1 << 16)	/* active set hash, power of two */
#define TASK_PRUNE_BATCH 500		/* finished tasks deleted per tick */

/* Legal edges: task_edges[from] has bit (1 << to). */
#define E(s)		(1u << (s))
#define FINAL_SET	(E(TASK_COMPLETED) | E(TASK_FAILED) | \
			 E(TASK_TIMED_OUT) | E(TASK_CANCELLED))
static const unsigned task_edges[TASK__COUNT] = {
	[TASK_QUEUED] =		E(TASK_ASSIGNED) | E(TASK_RUNNING) |
				E(TASK_HELD) | FINAL_SET,
	[TASK_WAITING] =	E(TASK_QUEUED) | E(TASK_HELD) |
				E(TASK_CANCELLED),
	[TASK_HELD] =		E(TASK_QUEUED) | E(TASK_WAITING) |
				E(TASK_RUNNING) | FINAL_SET,
	[TASK_ASSIGNED] =	E(TASK_RUNNING) | E(TASK_QUEUED) |
				E(TASK_HELD) | FINAL_SET,
	[TASK_RUNNING] =	E(TASK_QUEUED) | E(TASK_HELD) | FINAL_SET,
	[TASK_COMPLETED] =	0,
	[TASK_FAILED] =		0,
	[TASK_TIMED_OUT] =	0,
	[TASK_CANCELLED] =	0,
};

static const char *task_cause_names[] = {
	[CAUSE_NONE] = "none",
	[CAUSE_DISPATCH] = "dispatch",
	[CAUSE_STARTED] = "started",
	[CAUSE_RESULT] = "result",
	[CAUSE_RETRY] = "retry",
	[CAUSE_LOST] = "lost",
	[CAUSE_START_FAILED] = "start_failed",
	[CAUSE_VACATED] = "vacated",
	[CAUSE_CANCEL] = "cancel",
	[CAUSE_DAMAGED] = "damaged",
	[CAUSE_SUPERSEDED] = "superseded",
	[CAUSE_HOLD] = "hold",
	[CAUSE_RELEASE] = "release",
	[CAUSE_REINSTATE] = "reinstate",
};

static int	task_transition_array(struct server *, struct task_row *,
		    const struct task_change *);

static struct task	*task_hash[TASK_BUCKETS];
static struct task	*task_ehash[TASK_BUCKETS];	/* elements, by ref */
static struct task_list	 task_active = TAILQ_HEAD_INITIALIZER(task_active);
static int64_t		 task_n_state[TASK__COUNT];
static int64_t		 task_seq;	/* highest dispatch order given */

/* 1 if from -> to is an edge of the diagram. */
int
task_transition_is_legal(enum proto_task_status from,
    enum proto_task_status to)
{
	if ((int)from < 0 || from >= TASK__COUNT || (int)to < 0 ||
	    to >= TASK__COUNT)
		return (0);
	return ((task_edges[from] & E(to)) != 0);
}

/* "42" -> 42; -1 if not a task id. */
int64_t
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

/* ---- the active set ---- */

/* Hash bucket of a task id. */
static struct task **
task_bucket(int64_t id)
{
	return (&task_hash[(uint64_t)id * 0x9e3779b97f4a7c15ull >> 48 &
	    (TASK_BUCKETS - 1)]);
}

/* Hash bucket of an element (array, index). */
static struct task **
task_ebucket(int64_t array_id, int64_t index)
{
	return (&task_ehash[((uint64_t)array_id * 1000003u + (uint64_t)index) *
	    0x9e3779b97f4a7c15ull >> 48 & (TASK_BUCKETS - 1)]);
}

/* The active task a wire id ("17", "17.3") names, or NULL. */
struct task *
task_find_ref(const char *ref)
{
	struct task	*t;
	int64_t		 id, index;

	if (task_ref_parse(ref, &id, &index) != 0)
		return (NULL);
	if (index < 0) {
		t = task_find(id);
		return (t != NULL && t->array_id == 0 ? t : NULL);
	}
	for (t = *task_ebucket(id, index); t != NULL; t = t->enext) {
		if (t->array_id == id && t->array_index == index)
			return (t);
	}
	return (NULL);
}

/* The active task with this (internal) id, or NULL. */
struct task *
task_find(int64_t id)
{
	struct task	*t;

	for (t = *task_bucket(id); t != NULL; t = t->hnext) {
		if (t->id == id)
			return (t);
	}
	return (NULL);
}

/* The active task (id, attempt), or NULL. */
struct task *
task_find_attempt(int64_t id, int attempt)
{
	struct task	*t = task_find(id);

	return (t != NULL && t->attempt == attempt ? t : NULL);
}

/* Charge a task to its device. */
static void
task_account(struct task *t, struct device *d)
{
	t->dev = d;
	TAILQ_INSERT_TAIL(&d->tasks, t, dev_entry);
	d->running++;
	d->cpus_used += t->cpus;
	d->mem_used_mb += t->memory_mb;
	device_changed(d);
}

/* Release a task's resources on its device. */
static void
task_unaccount(struct task *t)
{
	struct device	*d = t->dev;

	if (d == NULL)
		return;
	TAILQ_REMOVE(&d->tasks, t, dev_entry);
	d->running--;
	d->cpus_used -= t->cpus;
	d->mem_used_mb -= t->memory_mb;
	if (d->running <= 0) {
		d->running = 0;
		d->cpus_used = 0;
		d->mem_used_mb = 0;
	}
	t->dev = NULL;
	device_changed(d);
}

/* Add an active task (assigned or running) from its row. */
static struct task *
task_activate(const struct task_row *r, struct device *d)
{
	struct task	*t, **b = task_bucket(r->id);

	t = xcalloc(1, sizeof *t);
	t->id = r->id;
	t->attempt = r->attempt;
	t->state = r->state;
	t->device_id = xstrdup(r->device != NULL ? r->device : "");
	t->cpus = r->place.cpus;
	t->memory_mb = r->place.memory_mb;
	t->started_at = r->started_at;
	t->array_id = r->array_id;
	t->array_index = r->array_index;
	task_ref_format(r, t->ref, sizeof t->ref);
	t->hnext = *b;
	*b = t;
	if (t->array_id > 0) {
		b = task_ebucket(t->array_id, t->array_index);
		t->enext = *b;
		*b = t;
	}
	TAILQ_INSERT_TAIL(&task_active, t, entry);
	if (d != NULL)
		task_account(t, d);
	return (t);
}

/* Forget an active task. */
static void
task_deactivate(struct task *t)
{
	struct task	**pp;

	task_unaccount(t);
	for (pp = task_bucket(t->id); *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			break;
		}
	}
	if (t->array_id > 0) {
		for (pp = task_ebucket(t->array_id, t->array_index);
		    *pp != NULL; pp = &(*pp)->enext) {
			if (*pp == t) {
				*pp = t->enext;
				break;
			}
		}
	}
	TAILQ_REMOVE(&task_active, t, entry);
	free(t->device_id);
	free(t);
}

/* Tell a task's device to stop the attempt. */
void
task_send_cancel(struct task *t)
{
	struct msg	m;

	if (t->dev == NULL || t->dev->conn == NULL)
		return;
	msg_init(&m, MSG_TASK_CANCEL);
	m.sender_id = (char *)"main";
	m.u.ref.task_id = t->ref;
	m.u.ref.attempt = t->attempt;
	conn_send(t->dev->conn, &m);
}

/* The queue entry of a queued row. */
void
task_enqueue(const struct task_row *r)
{
	struct queue_entry_spec	q;

	q.id = r->id;
	q.priority = r->priority;
	q.seq = r->seq;
	q.place = r->place;
	q.is_array = 0;
	q.inputs = r->inputs;
	queue_add(&q);
}

/* Send task_assign for an active task just placed. */
static void
task_send_assign(struct server *s, struct task *t, const struct task_row *r)
{
	struct msg	m;

	if (t->dev == NULL || t->dev->conn == NULL)
		return;
	if (r->array_id > 0 ? array_element_spec(s, r, &m) != 0 :
	    task_spec_decode(r->spec, &m) != 0)
		return;
	m.type = MSG_TASK_ASSIGN;
	m.u.task.task_id = xstrdup(t->ref);
	m.u.task.attempt = r->attempt;
	/* A new attempt starts from the task's last checkpoint. */
	if (m.u.task.n_checkpoints > 0) {
		m.u.task.checkpoint = store_files_get(s->store, r->id,
		    FILE_KIND_CHECKPOINT, &m.u.task.n_checkpoint);
		if (m.u.task.n_checkpoint == (size_t)-1)
			m.u.task.n_checkpoint = 0;
	}
	conn_send(t->dev->conn, &m);
	msg_free(&m);
}

/* Strings owned by a row: replace one. */
static void
row_set(char **field, const char *v)
{
	char	*copy = v != NULL ? xstrdup(v) : NULL;

	free(*field);
	*field = copy;
}

/*
 * Move a task to ch->to.  r is its current row (as read in this pass); on
 * success r holds the new row.  Its writes are one savepoint in the pass's
 * transaction.  Returns 0, or -1 (nothing changed in memory; r may be
 * partly changed and should be dropped).
 */
int
task_transition(struct server *s, struct task_row *r,
    const struct task_change *ch)
{
	enum proto_task_status	 from = r->state, to = ch->to, ast;
	struct task		*t = task_find(r->id);
	struct device		*dev = ch->device;
	double			 now = now_wall();
	int			 rc = 0, target, from_active, to_active;
	int			 superseded;
	char			 why[PROTO_TEXT_MAX * 2], ref[48];

	if (!task_transition_is_legal(from, to)) {
		log_error("event=task_bad_transition task=%lld from=%s to=%s "
		    "cause=%s", (long long)r->id, proto_task_status_name(from),
		    proto_task_status_name(to), task_cause_names[ch->cause]);
		return (-1);
	}
	if (r->kind == TASK_KIND_ARRAY)
		return (task_transition_array(s, r, ch));
	from_active = from == TASK_ASSIGNED || from == TASK_RUNNING;
	to_active = to == TASK_ASSIGNED || to == TASK_RUNNING;
	/* A late result or a reinstated attempt is about an earlier attempt
	 * than the current one, which it supersedes. */
	target = ch->attempt > 0 ? ch->attempt : r->attempt;
	superseded = from_active && target != r->attempt;
	if (commit_open(s) != 0 || store_begin(s->store) != 0) {
		store_end(s->store, -1);
		return (-1);
	}

	/* The current attempt ends, unless it goes on (assigned ->
	 * running). */
	if (from_active && (!to_active || superseded)) {
		if (superseded)
			ast = TASK_CANCELLED;
		else if (proto_task_status_is_final(to))
			ast = to;
		else
			ast = TASK_FAILED;
		rc = store_attempt_put(s->store, r->id, r->attempt, r->device,
		    ast, ast == to ? ch->exit_code : -1, superseded ?
		    "superseded by an earlier attempt that was still alive" :
		    ch->why, 0, r->started_at, now);
	}

	/* The row. */
	switch (to) {
	case TASK_ASSIGNED:
		r->attempt = r->last_attempt + 1;
		r->last_attempt = r->attempt;
		row_set(&r->device, dev->id);
		r->started_at = 0;
		row_set(&r->error, NULL);
		if (rc == 0)
			rc = store_attempt_put(s->store, r->id, r->attempt,
			    dev->id, TASK_ASSIGNED, -1, NULL, now, 0, 0);
		break;
	case TASK_RUNNING:
		if (ch->cause == CAUSE_REINSTATE) {
			r->attempt = target;
			row_set(&r->device, dev->id);
			row_set(&r->error, NULL);
			r->started_at = 0;
		}
		if (r->started_at <= 0)
			r->started_at = now;
		if (rc == 0)
			rc = store_attempt_put(s->store, r->id, r->attempt,
			    r->device, TASK_RUNNING, -1, NULL, 0,
			    r->started_at, 0);
		break;
	case TASK_QUEUED:
		if (from_active) {
			if (ch->cause == CAUSE_LOST)
				r->requeues++;
			else if (ch->cause == CAUSE_RETRY &&
			    r->retries_left > 0)
				r->retries_left--;
			else if (ch->cause == CAUSE_START_FAILED)
				r->start_fails++;
			if (ch->cause == CAUSE_RETRY)
				r->exit_code = ch->exit_code;
		}
		row_set(&r->device, NULL);
		r->started_at = 0;
		row_set(&r->error, from_active ? ch->why : NULL);
		row_set(&r->reason, NULL);
		break;
	case TASK_WAITING:
	case TASK_HELD:
		if (from_active && ch->cause == CAUSE_START_FAILED)
			r->start_fails++;
		row_set(&r->device, NULL);
		r->started_at = 0;
		row_set(&r->reason, ch->why);
		break;
	default:	/* final */
		if (ch->cause == CAUSE_RESULT && (superseded || !from_active)) {
			/* The late result of an earlier attempt. */
			r->attempt = target;
			row_set(&r->device, dev != NULL ? dev->id : NULL);
			if (rc == 0)
				rc = store_attempt_put(s->store, r->id, target,
				    r->device, to, ch->exit_code, ch->why, 0,
				    0, now);
		}
		r->exit_code = ch->exit_code;
		row_set(&r->error, ch->why);
		r->finished_at = now;
		break;
	}
	r->state = to;
	if (rc == 0)
		rc = store_task_update(s->store, r);
	if (store_end(s->store, rc) != 0) {
		log_error("event=task_transition_not_saved task=%lld from=%s "
		    "to=%s", (long long)r->id, proto_task_status_name(from),
		    proto_task_status_name(to));
		return (-1);
	}

	/* Memory follows the database. */
	task_n_state[from]--;
	task_n_state[to]++;
	if (from == TASK_QUEUED)
		queue_remove(r->id);
	if (t != NULL && (!to_active || superseded)) {
		if (superseded)
			task_send_cancel(t);
		task_deactivate(t);
		t = NULL;
	}
	if (to == TASK_QUEUED)
		task_enqueue(r);
	if (to_active && t == NULL) {
		t = task_activate(r, dev);
		t->assigned_at = now;
		t->output_bytes = store_output_bytes(s->store, r->id);
		t->next_seq = store_output_next_seq(s->store, r->id,
		    r->attempt);
		if (to == TASK_ASSIGNED)
			task_send_assign(s, t, r);
	} else if (to == TASK_RUNNING && t != NULL) {
		t->state = TASK_RUNNING;
		t->started_at = r->started_at;
	}

	log_info("event=task_%s task=%s attempt=%d device=%s cause=%s%s%s%s",
	    proto_task_status_name(to), task_ref_format(r, ref, sizeof ref),
	    r->attempt,
	    r->device != NULL ? r->device : (dev != NULL ? dev->id : "-"),
	    task_cause_names[ch->cause], ch->why != NULL ? " reason=\"" : "",
	    ch->why != NULL ? text_sanitize(ch->why, why, sizeof why) : "",
	    ch->why != NULL ? "\"" : "");
	server_task_changed(s, r);
	if (to == TASK_QUEUED || (from_active && !to_active))
		queue_kick(s);
	if (r->array_id > 0)
		array_element_moved(s, r, from, to);
	if (proto_task_status_is_final(to)) {
		metrics_task_finished(to);
		deps_notify(s, r->array_id > 0 ? r->array_id : r->id,
		    r->array_id > 0 ? r->array_index : -1);
	}
	return (0);
}

/*
 * An array row's change: only the row is written; its elements not made
 * yet move with it (array.c), and it has no attempts of its own.
 */
static int
task_transition_array(struct server *s, struct task_row *r,
    const struct task_change *ch)
{
	enum proto_task_status	 from = r->state, to = ch->to;
	char			 why[PROTO_TEXT_MAX * 2];
	int			 rc;

	if (commit_open(s) != 0 || store_begin(s->store) != 0) {
		store_end(s->store, -1);
		return (-1);
	}
	r->state = to;
	if (proto_task_status_is_final(to)) {
		r->finished_at = now_wall();
		r->exit_code = ch->exit_code;
	}
	if (to == TASK_HELD || to == TASK_WAITING || ch->cause == CAUSE_CANCEL)
		row_set(&r->reason, ch->why);
	else if (to == TASK_QUEUED)
		row_set(&r->reason, NULL);
	if (ch->cause == CAUSE_CANCEL)
		row_set(&r->error, ch->why);
	rc = store_task_update(s->store, r);
	if (store_end(s->store, rc) != 0)
		return (-1);
	log_info("event=array_%s array=%lld cause=%s%s%s%s",
	    proto_task_status_name(to), (long long)r->id,
	    task_cause_names[ch->cause], ch->why != NULL ? " reason=\"" : "",
	    ch->why != NULL ? text_sanitize(ch->why, why, sizeof why) : "",
	    ch->why != NULL ? "\"" : "");
	array_row_moved(s, r, from, to);
	server_task_changed(s, r);
	if (to == TASK_QUEUED)
		queue_kick(s);
	return (0);
}

/* ---- loading and reloading ---- */

/* How long a restarted main node waits for a device to come back and
 * claim its tasks: long enough for a worker's longest reconnect back-off
 * (PROTO_RECONNECT_MAX_S, with jitter) plus a heartbeat. */
static double
task_reconcile_window(const struct server *s)
{
	double	w = 2.0 * PROTO_RECONNECT_MAX_S + s->opt->heartbeat_interval;

	if (s->opt->lost_after > w)
		w = s->opt->lost_after;
	return (w);
}

/* Rebuild one active task at start: its worker has the reconciliation
 * window to come back and claim it. */
static int
task_load_cb(const struct task_row *r, void *arg)
{
	struct server	*s = arg;
	struct task	*t;

	t = task_activate(r, registry_find(r->device));
	t->output_bytes = store_output_bytes(s->store, r->id);
	t->next_seq = store_output_next_seq(s->store, r->id, r->attempt);
	t->deadline = now_mono() + task_reconcile_window(s);
	return (0);
}

/* Load active tasks, the queue and the counts. */
static int
task_load(struct server *s)
{
	if ((task_seq = store_task_max_seq(s->store)) < 0 ||
	    store_task_counts(s->store, task_n_state) != 0 ||
	    array_load(s->store, task_n_state) != 0 ||
	    store_task_active(s->store, task_load_cb, s) != 0 ||
	    queue_load(s->store) != 0 || array_enqueue_all(s->store) != 0)
		return (-1);
	return (0);
}

/* Load what the database holds at start. */
int
task_start(struct server *s)
{
	struct task	*t;
	int		 n = 0;

	if (task_load(s) != 0)
		return (-1);
	TAILQ_FOREACH(t, &task_active, entry)
		n++;
	if (n > 0)
		log_info("event=tasks_reconcile active=%d msg=\"waiting up to "
		    "%.0f s for their workers to come back\"", n,
		    task_reconcile_window(s));
	queue_kick(s);
	return (0);
}

/* Free the active set. */
void
task_stop(struct server *s)
{
	struct task	*t;

	while ((t = TAILQ_FIRST(&task_active)) != NULL)
		task_deactivate(t);
	queue_free();
	array_free_all();
}

/*
 * After a failed commit memory is ahead of the database: rebuild the
 * active set, the queue and the counts from it, keeping what only memory
 * knew (a cancel asked for, deadlines).
 */
void
task_reload(struct server *s)
{
	struct saved {
		int64_t	 id;
		int	 attempt, cancel;
		double	 deadline, assigned_at;
	}		*keep = NULL;
	size_t		 n = 0, cap = 0, i;
	struct task	*t;

	TAILQ_FOREACH(t, &task_active, entry) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			keep = xreallocarray(keep, cap, sizeof *keep);
		}
		keep[n].id = t->id;
		keep[n].attempt = t->attempt;
		keep[n].cancel = t->cancel_requested;
		keep[n].deadline = t->deadline;
		keep[n].assigned_at = t->assigned_at;
		n++;
	}
	while ((t = TAILQ_FIRST(&task_active)) != NULL)
		task_deactivate(t);
	queue_free();
	queue_init();
	array_free_all();
	memset(task_n_state, 0, sizeof task_n_state);
	if (task_load(s) != 0)
		log_error("event=tasks_reload_failed msg=\"cannot read the "
		    "database; the queue may be incomplete until restart\"");
	TAILQ_FOREACH(t, &task_active, entry) {
		t->deadline = 0;
		for (i = 0; i < n; i++) {
			if (keep[i].id == t->id &&
			    keep[i].attempt == t->attempt) {
				t->cancel_requested = keep[i].cancel;
				t->deadline = keep[i].deadline;
				t->assigned_at = keep[i].assigned_at;
				break;
			}
		}
	}
	free(keep);
	log_info("event=tasks_reloaded queued=%lld",
	    (long long)task_n_state[TASK_QUEUED]);
	queue_kick(s);
}

/* ---- devices and time ---- */

/* Re-queue (or end) an active task whose device is gone for good. */
static void
task_lost(struct server *s, struct task *t, const char *why)
{
	struct task_row		 r;
	struct task_change	 ch = { TASK_QUEUED, CAUSE_LOST, why, -1, NULL,
				    0 };
	char			*err = NULL;

	if (store_task_get(s->store, t->id, &r) != 0) {
		task_deactivate(t);
		return;
	}
	if (t->cancel_requested) {
		ch.to = TASK_CANCELLED;
		ch.cause = CAUSE_CANCEL;
		ch.why = "cancelled while its device was lost";
	} else if (r.requeues >= TASK_REQUEUE_MAX) {
		xasprintf(&err, "%s; gave up after %d re-queues", why,
		    TASK_REQUEUE_MAX);
		ch.to = TASK_FAILED;
		ch.why = err;
	}
	if (task_transition(s, &r, &ch) != 0) {
		/* Keep it; the tick tries again while its device is away. */
		task_unaccount(t);
		t->deadline = now_mono() + 1;
	}
	free(err);
	task_row_free(&r);
}

/* Re-queue every task of a device that is gone for good. */
void
task_device_offline(struct server *s, struct device *d)
{
	struct task	*t;

	while ((t = TAILQ_FIRST(&d->tasks)) != NULL) {
		task_lost(s, t, "device lost");
		if (TAILQ_FIRST(&d->tasks) == t)
			task_unaccount(t);	/* could not re-queue now */
	}
}

/* A device is being removed: its tasks go back to the queue and nothing
 * points at it any more. */
void
task_device_gone(struct server *s, struct device *d)
{
	struct task	*t;

	while ((t = TAILQ_FIRST(&d->tasks)) != NULL) {
		task_lost(s, t, "device removed by an operator");
		if (TAILQ_FIRST(&d->tasks) == t)
			task_unaccount(t);
	}
	TAILQ_FOREACH(t, &task_active, entry) {
		if (t->dev == d)
			task_unaccount(t);
	}
}

/*
 * A task reference a reconnecting device holds that is not its current
 * active task: an earlier attempt that is still alive.  If the task's
 * current attempt has not started anywhere, the earlier one is reinstated
 * (no duplicate run); otherwise the device is told to stop it.
 */
static void
task_reclaim_stale(struct server *s, struct device *d,
    const struct proto_task_ref *ref)
{
	struct task_row		 r;
	struct task		*cur;
	struct task_change	 ch = { TASK_RUNNING, CAUSE_REINSTATE,
				    "an earlier attempt is still running", -1,
				    d, 0 };
	struct task		 fake;

	if (task_ref_get(s->store, ref->task_id, &r) != 0)
		return;
	if (r.id == 0) {
		/* An element not made: nothing of it runs anywhere. */
		task_row_free(&r);
		return;
	}
	cur = task_find(r.id);
	if (ref->attempt > r.attempt || r.state == TASK_RUNNING ||
	    r.state == TASK_WAITING || proto_task_status_is_final(r.state) ||
	    (r.state == TASK_ASSIGNED && (cur == NULL ||
	    ref->attempt >= r.attempt)) ||
	    ((r.state == TASK_QUEUED || r.state == TASK_HELD) &&
	    ref->attempt != r.attempt)) {
		/* Over, superseded by a started attempt, or unknown. */
		memset(&fake, 0, sizeof fake);
		fake.id = r.id;
		fake.attempt = ref->attempt;
		fake.dev = d;
		snprintf(fake.ref, sizeof fake.ref, "%s", ref->task_id);
		task_send_cancel(&fake);
		task_row_free(&r);
		return;
	}
	/* Its successor, if placed, has not started: the transition stops
	 * it and makes this attempt current again. */
	ch.attempt = ref->attempt;
	if (task_transition(s, &r, &ch) == 0)
		log_info("event=task_reinstated task=%s attempt=%d device=%s",
		    ref->task_id, ref->attempt, d->id);
	task_row_free(&r);
}

/* A device (re)registered listing the tasks it still holds: keep those,
 * re-queue the others it was given, reinstate earlier attempts alive. */
void
task_device_registered(struct server *s, struct device *d,
    struct proto_task_ref *refs, size_t n)
{
	struct task	*t, *next;
	size_t		 i;
	int		 found;

	TAILQ_FOREACH_SAFE(t, &task_active, entry, next) {
		if (t->dev != d && strcmp(t->device_id, d->id) != 0)
			continue;
		found = 0;
		for (i = 0; i < n; i++) {
			if (strcmp(refs[i].task_id, t->ref) == 0 &&
			    refs[i].attempt == t->attempt)
				found = 1;
		}
		if (found) {
			t->deadline = 0;
			if (t->dev == NULL)
				task_account(t, d);
			log_info("event=task_reclaimed task=%lld attempt=%d "
			    "device=%s", (long long)t->id, t->attempt, d->id);
		} else
			task_lost(s, t, "its device reconnected without it");
	}
	for (i = 0; i < n; i++) {
		t = task_find_ref(refs[i].task_id);
		if (t != NULL && t->attempt == refs[i].attempt && t->dev == d)
			continue;
		task_reclaim_stale(s, d, &refs[i]);
	}
	queue_kick(s);
}

/* Move every deadline later by a stall of the main node itself. */
void
task_shift_deadlines(double by)
{
	struct task	*t;

	TAILQ_FOREACH(t, &task_active, entry) {
		if (t->deadline > 0)
			t->deadline += by;
	}
}

/* Re-queue tasks whose device did not come back after a restart. */
void
task_tick(struct server *s, double now)
{
	struct task	*t, *next;

	TAILQ_FOREACH_SAFE(t, &task_active, entry, next) {
		if (t->deadline > 0 && now > t->deadline &&
		    (t->dev == NULL || !t->dev->online))
			task_lost(s, t, "device did not come back after "
			    "a main node restart");
	}
}

/* Delete up to max finished tasks older than --keep-finished; returns how
 * many went. */
int
task_prune(struct server *s, int max)
{
	int64_t	removed[TASK__COUNT];
	int	i, n = 0;

	if (s->opt->keep_finished <= 0 || commit_open(s) != 0)
		return (0);
	memset(removed, 0, sizeof removed);
	if (store_task_prune(s->store, now_wall() -
	    (double)s->opt->keep_finished, max, removed) != 0)
		return (0);
	for (i = 0; i < TASK__COUNT; i++) {
		task_n_state[i] -= removed[i];
		n += (int)removed[i];
	}
	if (n > 0)
		log_info("event=tasks_pruned count=%d keep_finished_s=%lld", n,
		    (long long)s->opt->keep_finished);
	return (n);
}

/* Move n tasks from one state's count to another's (from -1: new). */
void
task_count_move(int from, int to, int64_t n)
{
	if (from >= 0 && from < TASK__COUNT)
		task_n_state[from] -= n;
	if (to >= 0 && to < TASK__COUNT)
		task_n_state[to] += n;
}

/* The dispatch order number of the next task submitted. */
int64_t
task_next_seq(void)
{
	return (++task_seq);
}

/* A task was just stored (submit): count it, queue it, tell watchers. */
void
task_submitted(struct server *s, struct task_row *r, const char *by)
{
	char	name[PROTO_NAME_MAX * 4 + 1];

	if (r->kind == TASK_KIND_ARRAY)
		array_submitted(s, r);
	else {
		task_n_state[r->state]++;
		if (r->state == TASK_QUEUED)
			task_enqueue(r);
	}
	log_info("event=task_submitted task=%lld name=\"%s\" priority=%s "
	    "type=%s state=%s by=%s", (long long)r->id,
	    text_sanitize(r->name != NULL ? r->name : "", name, sizeof name),
	    proto_priority_name(r->priority),
	    proto_task_type_name(r->place.type),
	    proto_task_status_name(r->state), by);
	server_task_changed(s, r);
	queue_kick(s);
}

/* Tasks in a state. */
int64_t
task_count(enum proto_task_status st)
{
	return (st < TASK__COUNT ? task_n_state[st] : 0);
}

/* Every count by state. */
void
task_counts(int64_t counts[TASK__COUNT])
{
	memcpy(counts, task_n_state, sizeof task_n_state);
}
