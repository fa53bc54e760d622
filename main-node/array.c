/* SPDX-License-Identifier: ISC */
/*
 * array.c -- the work people really have: arrays of tasks, dependencies
 * between tasks, and the held state (its requests, hold and release, are
 * in handle-task.c).
 *
 * An array is one row (kind 1) however many elements it has.  Its
 * elements are made -- inserted as rows of their own, with array_id and
 * array_index -- only as they are about to run, one at a time by the
 * scheduler pass (late materialization), so a 1,000,000-element array
 * costs one row and one queue entry until it runs.  After each element is
 * made the array goes to the back of its priority (a fresh seq), so
 * elements interleave fairly with other work of the same priority.  At
 * most array_limit elements of an array are assigned or running at once:
 * while it is at its limit, the array leaves the queue index.  An
 * element is addressed as "ARRAY.INDEX" everywhere a task id is.
 *
 * The array row's state: queued while elements are left to make, waiting
 * or held like a task, running once all are made, then final when the
 * last element ended (completed if every one completed, cancelled if it
 * was cancelled, else failed).  Elements not yet made count in the
 * array's state (queued, waiting, held), or as cancelled once cancelled.
 *
 * Dependencies (--after, --after-any, --after-notok) are rows of `deps`.
 * A task whose dependencies are not all met waits; when one can never be
 * met the task is cancelled with "dependency ID failed" (or "completed"),
 * and so, in turn, are its own dependents.  Each end of a task or array
 * is a notice worked off iteratively (no recursion down long chains).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "main.h"

#define ARRAY_BUCKETS	1024		/* power of two */

/* An array that has not ended, in memory. */
struct array {
	int64_t			 id;
	int64_t			 size;
	int64_t			 next;		/* indexes made or skipped */
	int			 limit;		/* 0: no limit */
	int			 active;	/* elements assigned/running */
	int64_t			 open;		/* elements made, not ended */
	enum proto_task_status	 state;		/* of the array row */
	struct msg		 spec;		/* decoded submit, for assigns */
	int			 have_spec;
	struct array		*hnext;
};
static struct array	*array_hash[ARRAY_BUCKETS];

/* A task or array that ended, whose dependents are to be looked at. */
struct dep_notice {
	int64_t			 id;
	int64_t			 index;		/* an element, else -1 */
	TAILQ_ENTRY(dep_notice)	 entry;
};
static TAILQ_HEAD(, dep_notice) dep_notices =
    TAILQ_HEAD_INITIALIZER(dep_notices);
static int	dep_working;

static void	deps_work(struct server *);

/* ---- references: "17", "17.3" ---- */

/*
 * Parse a task reference: "ID" (a task or a whole array) or "ARRAY.INDEX"
 * (an element).  Returns 0 with *id, *index (-1 for none), or -1.
 */
int
task_ref_parse(const char *s, int64_t *id, int64_t *index)
{
	const char	*dot;
	char		*end, buf[32];
	long long	 v;
	size_t		 n;

	*index = -1;
	if (s == NULL)
		return (-1);
	if ((dot = strchr(s, '.')) == NULL) {
		*id = task_id_parse(s);
		return (*id > 0 ? 0 : -1);
	}
	n = (size_t)(dot - s);
	if (n == 0 || n >= sizeof buf)
		return (-1);
	memcpy(buf, s, n);
	buf[n] = '\0';
	if ((*id = task_id_parse(buf)) <= 0)
		return (-1);
	if (dot[1] < '0' || dot[1] > '9')
		return (-1);
	errno = 0;
	v = strtoll(dot + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return (-1);
	*index = v;
	return (0);
}

/* The text of a task's id: "17", or "17.3" for an element. */
char *
task_ref_format(const struct task_row *r, char *buf, size_t size)
{
	if (r->array_id > 0)
		snprintf(buf, size, "%lld.%lld", (long long)r->array_id,
		    (long long)r->array_index);
	else
		snprintf(buf, size, "%lld", (long long)r->id);
	return (buf);
}

/* 1 if index is one of the array's. */
static int
array_has_index(const struct task_row *a, int64_t index)
{
	return (index >= a->array_start && index <= a->array_end &&
	    (index - a->array_start) % a->array_step == 0);
}

/*
 * Read the row a reference names.  An element not made yet is given as a
 * row of its own that exists only in memory: id 0, its array's state and
 * placement.  Returns 0, 1 if there is no such task, -1 on error.
 */
int
task_ref_get(struct store *st, const char *ref, struct task_row *r)
{
	struct task_row	a;
	int64_t		id, index;
	int		rc;

	if (task_ref_parse(ref, &id, &index) != 0)
		return (1);
	if ((rc = store_task_get(st, id, r)) != 0)
		return (rc);
	if (index < 0) {
		/* An element is known by its array and index only. */
		if (r->array_id > 0) {
			task_row_free(r);
			return (1);
		}
		return (0);
	}
	a = *r;
	memset(r, 0, sizeof *r);
	if (a.kind != TASK_KIND_ARRAY || !array_has_index(&a, index)) {
		task_row_free(&a);
		return (1);
	}
	if ((rc = store_element_get(st, id, index, r)) == 1) {
		/* Not made yet: it is as its array says. */
		memset(r, 0, sizeof *r);
		r->array_id = id;
		r->array_index = index;
		r->name = a.name != NULL ? xstrdup(a.name) : NULL;
		r->priority = a.priority;
		r->exit_code = -1;
		r->submitted_at = a.submitted_at;
		r->image = a.image != NULL ? xstrdup(a.image) : NULL;
		r->place = a.place;
		memset(&a.place, 0, sizeof a.place);
		if (a.array_next >= ARRAY_SIZE(&a))
			r->state = TASK_CANCELLED;	/* never made */
		else if (a.state == TASK_WAITING || a.state == TASK_HELD)
			r->state = a.state;
		else
			r->state = TASK_QUEUED;
		rc = 0;
	}
	task_row_free(&a);
	return (rc);
}

/* ---- arrays in memory ---- */

static struct array **
array_bucket(int64_t id)
{
	return (&array_hash[(uint64_t)id * 0x9e3779b97f4a7c15ull >> 54 &
	    (ARRAY_BUCKETS - 1)]);
}

/* The array with this id that has not ended, or NULL. */
static struct array *
array_find(int64_t id)
{
	struct array	*a;

	for (a = *array_bucket(id); a != NULL; a = a->hnext) {
		if (a->id == id)
			return (a);
	}
	return (NULL);
}

/* Remember an array (from its row). */
static struct array *
array_add(const struct task_row *r)
{
	struct array	*a = xcalloc(1, sizeof *a), **b = array_bucket(r->id);

	a->id = r->id;
	a->size = ARRAY_SIZE(r);
	a->next = r->array_next;
	a->limit = r->array_limit;
	a->state = r->state;
	a->hnext = *b;
	*b = a;
	return (a);
}

/* Forget an array (it ended). */
static void
array_drop(struct array *a)
{
	struct array	**pp;

	for (pp = array_bucket(a->id); *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == a) {
			*pp = a->hnext;
			break;
		}
	}
	if (a->have_spec)
		msg_free(&a->spec);
	free(a);
}

/* Free every array (at exit or before a reload). */
void
array_free_all(void)
{
	int	i;

	for (i = 0; i < ARRAY_BUCKETS; i++) {
		while (array_hash[i] != NULL)
			array_drop(array_hash[i]);
	}
}

/* 1 if the array has its limit of elements running. */
int
array_at_limit(int64_t id)
{
	struct array	*a = array_find(id);

	return (a != NULL && a->limit > 0 && a->active >= a->limit);
}

/* Elements of an array not made yet (they count in its state). */
static int64_t
array_pending(const struct array *a)
{
	return (a->size - a->next);
}

/* The state an array's elements not made yet count in. */
static int
array_pending_state(enum proto_task_status st)
{
	if (st == TASK_WAITING || st == TASK_HELD)
		return (st);
	return (TASK_QUEUED);
}

/* Index an array's queue entry (when it may make an element). */
static void
array_enqueue(struct array *a, const struct task_row *r)
{
	struct queue_entry_spec	q;

	if (a->state != TASK_QUEUED || array_pending(a) <= 0 ||
	    (a->limit > 0 && a->active >= a->limit))
		return;
	q.id = r->id;
	q.priority = r->priority;
	q.seq = r->seq;
	q.place = r->place;
	q.is_array = 1;
	q.inputs = r->inputs;
	queue_add(&q);
}

/* Load the arrays that have not ended, with their elements' counts, and
 * count the elements not made yet in the counts by state. */
static int
array_load_cb(const struct task_row *r, void *arg)
{
	int64_t		*counts = arg;
	struct array	*a;

	a = array_add(r);
	if (!proto_task_status_is_final(r->state))
		counts[array_pending_state(r->state)] += array_pending(a);
	counts[TASK_CANCELLED] += r->array_cancelled;
	if (proto_task_status_is_final(r->state))
		array_drop(a);
	return (0);
}

/* At start: arrays, their element counts, their queue entries. */
int
array_load(struct store *st, int64_t counts[TASK__COUNT])
{
	struct array	*a;
	int64_t		 id, active, open;
	int		 i, rc;

	if (store_array_rows(st, array_load_cb, counts) != 0)
		return (-1);
	for (i = 0; i < ARRAY_BUCKETS; i++) {
		for (a = array_hash[i]; a != NULL; a = a->hnext) {
			rc = store_array_element_counts(st, a->id, &active,
			    &open);
			if (rc != 0)
				return (-1);
			a->active = (int)active;
			a->open = open;
			id = a->id;
			(void)id;
		}
	}
	return (0);
}

/* Put every queued array with room back in the queue index. */
int
array_enqueue_all(struct store *st)
{
	struct array	*a;
	struct task_row	 r;
	int		 i;

	for (i = 0; i < ARRAY_BUCKETS; i++) {
		for (a = array_hash[i]; a != NULL; a = a->hnext) {
			if (a->state != TASK_QUEUED)
				continue;
			if (store_task_get(st, a->id, &r) != 0)
				return (-1);
			array_enqueue(a, &r);
			task_row_free(&r);
		}
	}
	return (0);
}

/* A new array row was stored: remember, count and queue it. */
void
array_submitted(struct server *s, struct task_row *r)
{
	struct array	*a = array_add(r);

	task_count_move(-1, array_pending_state(r->state), a->size);
	array_enqueue(a, r);
}

/* ---- the array row's own changes ---- */

/*
 * The array row moved from one state to another (task_transition calls
 * this for arrays instead of its task bookkeeping): its elements not made
 * yet move with it.
 */
void
array_row_moved(struct server *s, struct task_row *r,
    enum proto_task_status from, enum proto_task_status to)
{
	struct array	*a = array_find(r->id);

	if (a == NULL)
		return;
	a->state = to;
	if (from == TASK_QUEUED)
		queue_remove(r->id);
	if (!proto_task_status_is_final(from) &&
	    !proto_task_status_is_final(to) && array_pending(a) > 0)
		task_count_move(array_pending_state(from),
		    array_pending_state(to), array_pending(a));
	if (to == TASK_QUEUED)
		array_enqueue(a, r);
	if (proto_task_status_is_final(to)) {
		array_drop(a);
		deps_notify(s, r->id, -1);
	}
}

/* If every element of the array ended, the array ends. */
static void
array_check_done(struct server *s, struct array *a)
{
	struct task_row		 r;
	struct task_change	 ch;
	int64_t			 n[TASK__COUNT];

	if (array_pending(a) > 0 || a->open > 0)
		return;
	if (store_task_get(s->store, a->id, &r) != 0)
		return;
	memset(&ch, 0, sizeof ch);
	ch.exit_code = -1;
	ch.cause = CAUSE_RESULT;
	if (store_array_state_counts(s->store, a->id, n) != 0) {
		task_row_free(&r);
		return;
	}
	n[TASK_CANCELLED] += r.array_cancelled;
	if (r.error != NULL && strncmp(r.error, "cancelled", 9) == 0) {
		ch.to = TASK_CANCELLED;
		ch.why = r.error;
	} else if (n[TASK_COMPLETED] == a->size) {
		ch.to = TASK_COMPLETED;
		ch.exit_code = 0;
	} else {
		ch.to = TASK_FAILED;
		ch.why = "some elements did not complete";
	}
	if (r.state == TASK_QUEUED || r.state == TASK_RUNNING ||
	    r.state == TASK_HELD || r.state == TASK_WAITING)
		task_transition(s, &r, &ch);
	task_row_free(&r);
}

/*
 * An element changed state (task_transition calls this): keep its
 * array's counts, give the array its queue entry back when it drops below
 * its limit, and end the array with its last element.
 */
void
array_element_moved(struct server *s, const struct task_row *el,
    enum proto_task_status from, enum proto_task_status to)
{
	struct array	*a = array_find(el->array_id);
	struct task_row	 r;
	int		 was_active, is_active, was_full;

	if (a == NULL)
		return;
	was_active = from == TASK_ASSIGNED || from == TASK_RUNNING;
	is_active = to == TASK_ASSIGNED || to == TASK_RUNNING;
	was_full = a->limit > 0 && a->active >= a->limit;
	a->active += is_active - was_active;
	if (proto_task_status_is_final(to) &&
	    !proto_task_status_is_final(from))
		a->open--;
	if (was_full && a->active < a->limit && a->state == TASK_QUEUED &&
	    array_pending(a) > 0 &&
	    store_task_get(s->store, a->id, &r) == 0) {
		array_enqueue(a, &r);
		task_row_free(&r);
		queue_kick(s);
	}
	if (proto_task_status_is_final(to))
		array_check_done(s, a);
}

/* ---- making elements ---- */

/*
 * Make the array's next element and place it on d (the scheduler pass
 * picked the array's queue entry).  Returns 0, or -1 if the database
 * refused.
 */
int
array_materialize(struct server *s, int64_t array_id, struct device *d)
{
	struct array		*a = array_find(array_id);
	struct task_row		 r, el;
	struct task_change	 ch = { TASK_ASSIGNED, CAUSE_DISPATCH, NULL, -1,
				    d, 0 };
	int64_t			 index;
	int			 rc;

	if (a == NULL || store_task_get(s->store, array_id, &r) != 0) {
		queue_remove(array_id);
		return (0);
	}
	queue_remove(array_id);
	if (commit_open(s) != 0 || store_begin(s->store) != 0) {
		store_end(s->store, -1);
		array_enqueue(a, &r);
		task_row_free(&r);
		return (-1);
	}
	/* The next index not made yet (one cancelled early is skipped). */
	memset(&el, 0, sizeof el);
	rc = 0;
	do {
		index = r.array_start + r.array_next * r.array_step;
		r.array_next++;
		rc = store_element_get(s->store, array_id, index, &el);
		if (rc == 0)
			task_row_free(&el);
	} while (rc == 0 && r.array_next < ARRAY_SIZE(&r));
	if (rc != 1) {
		/* Every index left was made already. */
		store_end(s->store, store_task_update(s->store, &r));
		a->next = r.array_next;
		task_row_free(&r);
		return (0);
	}
	memset(&el, 0, sizeof el);
	el.kind = TASK_KIND_TASK;
	el.array_id = array_id;
	el.array_index = index;
	el.name = r.name != NULL ? xstrdup(r.name) : NULL;
	el.state = TASK_QUEUED;
	el.priority = r.priority;
	el.image = r.image != NULL ? xstrdup(r.image) : NULL;
	el.retries_left = r.retries_left;
	el.exit_code = -1;
	el.submitted_at = r.submitted_at;
	el.seq = r.seq;
	el.spec = xstrdup("");		/* NOT NULL: its array's is used */
	el.place = r.place;		/* borrowed for the insert */
	el.inputs = r.inputs != NULL ? xstrdup(r.inputs) : NULL;
	/* The array goes to the back of its priority: fair to the rest. */
	r.seq = task_next_seq();
	rc = store_task_insert(s->store, &el) < 0 ||
	    store_task_update(s->store, &r) != 0;
	memset(&el.place, 0, sizeof el.place);
	if (store_end(s->store, rc ? -1 : 0) != 0) {
		task_row_free(&el);
		array_enqueue(a, &r);	/* as it was */
		task_row_free(&r);
		return (-1);
	}
	a->next = r.array_next;
	a->open++;
	/* The element is now a queued task of its own: one of the array's
	 * pending ones became it, so the queued count is unchanged. */
	el.place = r.place;
	memset(&r.place, 0, sizeof r.place);
	ch.device = d;
	if (task_transition(s, &el, &ch) != 0) {
		task_row_free(&el);
		task_row_free(&r);
		return (-1);
	}
	if (array_pending(a) <= 0) {
		struct task_change done = { TASK_RUNNING, CAUSE_NONE, NULL, -1,
		    NULL, 0 };

		r.place = el.place;
		memset(&el.place, 0, sizeof el.place);
		task_transition(s, &r, &done);	/* all made */
	} else {
		r.place = el.place;
		memset(&el.place, 0, sizeof el.place);
		array_enqueue(a, &r);
	}
	task_row_free(&el);
	task_row_free(&r);
	return (0);
}

/* Replace every "{index}" in s with the index; caller frees. */
static char *
array_subst(const char *s, int64_t index)
{
	char	*out = xstrdup(""), *t, num[32];
	const char *p;

	snprintf(num, sizeof num, "%lld", (long long)index);
	while ((p = strstr(s, "{index}")) != NULL) {
		xasprintf(&t, "%s%.*s%s", out, (int)(p - s), s, num);
		free(out);
		out = t;
		s = p + strlen("{index}");
	}
	xasprintf(&t, "%s%s", out, s);
	free(out);
	return (t);
}

/*
 * The task_assign of an element: its array's task with {index} replaced
 * in argv and env values, and ENCORE_ARRAY_ID / ENCORE_ARRAY_INDEX in its
 * environment.  Returns 0 with m filled (caller msg_free()s), or -1.
 */
int
array_element_spec(struct server *s, const struct task_row *el,
    struct msg *m)
{
	struct array		*a = array_find(el->array_id);
	struct task_row		 r;
	struct proto_task	*t;
	size_t			 i, n;
	char			 buf[32];

	memset(&r, 0, sizeof r);
	if (store_task_get(s->store, el->array_id, &r) != 0 ||
	    task_spec_decode(r.spec, m) != 0) {
		task_row_free(&r);
		return (-1);
	}
	(void)a;
	task_row_free(&r);
	t = &m->u.task;
	for (i = 0; i < t->argc; i++) {
		char *v = array_subst(t->argv[i], el->array_index);

		free(t->argv[i]);
		t->argv[i] = v;
	}
	for (i = 0; i < t->n_env; i++) {
		char *v = array_subst(t->env[i].value, el->array_index);

		free(t->env[i].value);
		t->env[i].value = v;
	}
	n = t->n_env;
	t->env = xreallocarray(t->env, n + 2, sizeof *t->env);
	t->env[n].key = xstrdup("ENCORE_ARRAY_ID");
	snprintf(buf, sizeof buf, "%lld", (long long)el->array_id);
	t->env[n].value = xstrdup(buf);
	t->env[n + 1].key = xstrdup("ENCORE_ARRAY_INDEX");
	snprintf(buf, sizeof buf, "%lld", (long long)el->array_index);
	t->env[n + 1].value = xstrdup(buf);
	t->n_env = n + 2;
	return (0);
}

/* ---- dependencies ---- */

/* What a dependency of a given kind makes of its target's end. */
static enum dep_status
dep_judge(int kind, enum proto_task_status st, int exit_code)
{
	int	ok;

	if (!proto_task_status_is_final(st))
		return (DEP_PENDING);
	ok = st == TASK_COMPLETED && exit_code <= 0;
	switch (kind) {
	case DEP_AFTER:
		return (ok ? DEP_MET : DEP_FAILED);
	case DEP_AFTER_NOTOK:
		return (ok ? DEP_FAILED : DEP_MET);
	default:
		return (DEP_MET);
	}
}

/* Where one dependency stands; *state gets its target's state. */
static enum dep_status
dep_status(struct store *st, int64_t id, int64_t index, int kind,
    enum proto_task_status *state)
{
	struct task_row	r;
	char		ref[48];
	enum dep_status	ds;

	if (index >= 0)
		snprintf(ref, sizeof ref, "%lld.%lld", (long long)id,
		    (long long)index);
	else
		snprintf(ref, sizeof ref, "%lld", (long long)id);
	if (task_ref_get(st, ref, &r) != 0) {
		*state = TASK_CANCELLED;	/* pruned long ago */
		return (kind == DEP_AFTER ? DEP_FAILED : DEP_MET);
	}
	*state = r.state;
	ds = dep_judge(kind, r.state, r.exit_code);
	task_row_free(&r);
	return (ds);
}

/* One dependency of a task, as read. */
struct dep_row {
	int64_t		 id;
	int64_t		 index;
	int		 kind;
};

/* Collect a task's dependencies. */
static void
dep_collect_cb(int64_t id, int64_t index, int kind, void *arg)
{
	struct {
		struct dep_row	*v;
		size_t		 n, cap;
	}		*c = arg;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->v = xreallocarray(c->v, c->cap, sizeof *c->v);
	}
	c->v[c->n].id = id;
	c->v[c->n].index = index;
	c->v[c->n].kind = kind;
	c->n++;
}

/*
 * Where all of a task's dependencies stand: met, pending or failed (then
 * *why names the one that failed; caller frees).  A text of the pending
 * ones goes to *waiting when asked for (caller frees).
 */
enum dep_status
deps_of(struct store *st, int64_t task_id, char **why, char **waiting)
{
	struct {
		struct dep_row	*v;
		size_t		 n, cap;
	}			 c = { NULL, 0, 0 };
	enum proto_task_status	 state;
	enum dep_status		 ds, all = DEP_MET;
	size_t			 i;
	char			 ref[48], *t;

	*why = NULL;
	if (waiting != NULL)
		*waiting = NULL;
	store_deps_of(st, task_id, dep_collect_cb, &c);
	for (i = 0; i < c.n; i++) {
		if (c.v[i].index >= 0)
			snprintf(ref, sizeof ref, "%lld.%lld",
			    (long long)c.v[i].id, (long long)c.v[i].index);
		else
			snprintf(ref, sizeof ref, "%lld", (long long)c.v[i].id);
		ds = dep_status(st, c.v[i].id, c.v[i].index, c.v[i].kind,
		    &state);
		if (ds == DEP_FAILED) {
			free(*why);
			xasprintf(why, "dependency %s %s", ref,
			    state == TASK_COMPLETED ? "completed" : "failed");
			all = DEP_FAILED;
			break;
		}
		if (ds == DEP_PENDING) {
			if (all == DEP_MET)
				all = DEP_PENDING;
			if (waiting != NULL) {
				xasprintf(&t, "%s%s%s (%s)", *waiting != NULL ?
				    *waiting : "", *waiting != NULL ? ", " : "",
				    ref, proto_task_status_name(state));
				free(*waiting);
				*waiting = t;
			}
		}
	}
	free(c.v);
	return (all);
}

/* A task or array ended: look at its dependents (soon, iteratively). */
void
deps_notify(struct server *s, int64_t id, int64_t index)
{
	struct dep_notice	*n = xcalloc(1, sizeof *n);

	n->id = id;
	n->index = index;
	TAILQ_INSERT_TAIL(&dep_notices, n, entry);
	deps_work(s);
}

/* Look at the dependents of one ended task. */
static void
deps_dependent_cb(int64_t task_id, void *arg)
{
	struct server		*s = arg;
	struct task_row		 r;
	struct task_change	 ch;
	char			*why = NULL;
	enum dep_status		 ds;

	if (store_task_get(s->store, task_id, &r) != 0)
		return;
	if (r.state != TASK_WAITING) {
		task_row_free(&r);
		return;		/* held: looked at again when released */
	}
	ds = deps_of(s->store, task_id, &why, NULL);
	memset(&ch, 0, sizeof ch);
	ch.exit_code = -1;
	if (ds == DEP_MET) {
		ch.to = TASK_QUEUED;
		ch.cause = CAUSE_RELEASE;
		task_transition(s, &r, &ch);
	} else if (ds == DEP_FAILED)
		task_cancel_one(s, &r, why);
	free(why);
	task_row_free(&r);
}

/* Work off the notices, in order; new ones from the cancels this makes
 * join the end of the list. */
static void
deps_work(struct server *s)
{
	struct dep_notice	*n;

	if (dep_working)
		return;
	dep_working = 1;
	while ((n = TAILQ_FIRST(&dep_notices)) != NULL) {
		TAILQ_REMOVE(&dep_notices, n, entry);
		store_dependents(s->store, n->id, n->index,
		    deps_dependent_cb, s);
		free(n);
	}
	dep_working = 0;
}

/* ---- cancelling and holding ---- */

/* Replace a row's string. */
static void
row_set_text(char **field, const char *v)
{
	char	*copy = v != NULL ? xstrdup(v) : NULL;

	free(*field);
	*field = copy;
}

/* Cancel one task that has not ended: now if it is not placed, else its
 * device is told and it ends when the device reports (or is lost). */
int
task_cancel_one(struct server *s, struct task_row *r, const char *why)
{
	struct task		*t = task_find(r->id);
	struct task_change	 ch = { TASK_CANCELLED, CAUSE_CANCEL, why, -1,
				    NULL, 0 };

	if (r->kind == TASK_KIND_ARRAY)
		return (array_cancel(s, r, why));
	if (t == NULL || t->dev == NULL || t->dev->conn == NULL)
		return (task_transition(s, r, &ch));
	t->cancel_requested = 1;
	task_send_cancel(t);
	return (0);
}

/* Cancel the elements of an array that were made and have not ended. */
static int
array_cancel_elements_cb(const struct task_row *el, void *arg)
{
	struct server	*s = arg;
	struct task_row	 r;

	if (store_task_get(s->store, el->id, &r) == 0) {
		if (!proto_task_status_is_final(r.state))
			task_cancel_one(s, &r, "its array was cancelled");
		task_row_free(&r);
	}
	return (0);
}

/*
 * Cancel an array: the elements not made yet end now (counted as
 * cancelled), the ones made are cancelled one by one, and the array ends,
 * cancelled, with the last of them.
 */
int
array_cancel(struct server *s, struct task_row *r, const char *why)
{
	struct array		*a = array_find(r->id);
	struct task_change	 ch = { TASK_CANCELLED, CAUSE_CANCEL, why, -1,
				    NULL, 0 };
	int64_t			 pending, old_next;
	int			 from, rc;

	if (a == NULL || proto_task_status_is_final(r->state))
		return (-1);
	pending = array_pending(a);
	from = array_pending_state(r->state);
	old_next = a->next;
	r->array_cancelled += pending;
	r->array_next = ARRAY_SIZE(r);
	a->next = a->size;		/* nothing left to make or move */
	if (a->open > 0 && r->state != TASK_WAITING)
		ch.to = TASK_RUNNING;	/* ends with its last element */
	if (ch.to == r->state) {
		row_set_text(&r->error, why);
		rc = commit_open(s) != 0 || store_begin(s->store) != 0 ?
		    store_end(s->store, -1) :
		    store_end(s->store, store_task_update(s->store, r));
	} else
		rc = task_transition(s, r, &ch);
	if (rc != 0) {
		a->next = old_next;
		return (-1);
	}
	task_count_move(from, TASK_CANCELLED, pending);
	if (ch.to == TASK_RUNNING)
		store_elements_open(s->store, r->id, array_cancel_elements_cb,
		    s);
	return (0);
}
