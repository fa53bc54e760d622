/* SPDX-License-Identifier: ISC */
/*
 * queue.c -- the queued tasks in memory, and the scheduler pass.
 *
 * The queue itself lives in SQLite (a task is queued when its row says
 * so); this is its index: a few dozen bytes per queued task, grouped by
 * shape.  Tasks of one shape have the same placement inputs (type, cpus,
 * memory, arch, platform, labels, pinned device), so if the first of a
 * shape fits no device now, none of the others does either.  Each shape
 * keeps its tasks in dispatch order (priority, then seq) in a heap.
 *
 * A pass merges the shapes' heads in dispatch order and places them one
 * by one on the best device (scheduler.c); a shape whose head does not fit
 * is left alone for the rest of the pass.  A shape no known device could
 * ever run is set aside until the devices change.  So a pass costs about
 * (tasks placed + shapes) x log, however long the queue: 20,000 tasks
 * waiting for an architecture no device has cost nothing.  A pass places
 * at most QUEUE_PASS_MAX tasks; if more could go, the next pass runs after
 * the loop has served its sockets.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "main.h"

#define QUEUE_PASS_MAX	512		/* placements per pass */
#define QUEUE_BUCKETS0	1024		/* initial id hash size */

struct shape;

/* One queued task. */
struct qent {
	int64_t			 id;
	int64_t			 seq;
	int			 prio;
	int			 idx;		/* in its shape's heap */
	int			 is_array;	/* makes an element when placed */
	char			*inputs;	/* input hashes, or NULL */
	struct shape		*shape;
	struct qent		*hnext;		/* id hash chain */
};

/* Tasks with the same placement inputs. */
struct shape {
	char			*key;
	struct placement	 place;		/* owned */
	struct qent		**heap;		/* dispatch order */
	int			 n, cap;
	int			 set_aside;	/* no known device could run it */
	uint64_t		 checked_gen;	/* devices looked at, by gen */
	int			 pass_idx;	/* in the pass heap, -1 */
	struct shape		*hnext;
	TAILQ_ENTRY(shape)	 entry;
};
TAILQ_HEAD(shape_list, shape);

static struct {
	struct qent		**hash;
	size_t			  nbuckets;
	int64_t			  n;
	struct shape_list	  shapes;
	int			  dirty;
	int			  in_pass;	/* keep emptied shapes */
	uint64_t		  device_gen;	/* bumped when devices change */
	double			  retry_at;	/* mono: no pass before, after
						   the database refused one */
	struct event		 *more_ev;	/* another pass after I/O */
} queue;

/* < 0 if a goes before b (higher priority, then lower seq). */
static int
qent_cmp(const struct qent *a, const struct qent *b)
{
	if (a->prio != b->prio)
		return (a->prio > b->prio ? -1 : 1);
	if (a->seq != b->seq)
		return (a->seq < b->seq ? -1 : 1);
	return (a->id < b->id ? -1 : a->id > b->id);
}

/* ---- a shape's heap ---- */

static void
shape_set(struct shape *sh, int i, struct qent *e)
{
	sh->heap[i] = e;
	e->idx = i;
}

static void
shape_up(struct shape *sh, int i)
{
	struct qent	*e = sh->heap[i];

	while (i > 0 && qent_cmp(e, sh->heap[(i - 1) / 2]) < 0) {
		shape_set(sh, i, sh->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	shape_set(sh, i, e);
}

static void
shape_down(struct shape *sh, int i)
{
	struct qent	*e = sh->heap[i];
	int		 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= sh->n)
			break;
		if (c + 1 < sh->n && qent_cmp(sh->heap[c + 1],
		    sh->heap[c]) < 0)
			c++;
		if (qent_cmp(sh->heap[c], e) >= 0)
			break;
		shape_set(sh, i, sh->heap[c]);
		i = c;
	}
	shape_set(sh, i, e);
}

/* The canonical text of a placement, which names its shape. */
static char *
shape_key(const struct placement *p)
{
	char	*k, *l = xstrdup(""), *t;
	size_t	 i;

	for (i = 0; i < p->n_labels; i++) {
		xasprintf(&t, "%s%s=%s\n", l, p->labels[i].key,
		    p->labels[i].value);
		free(l);
		l = t;
	}
	xasprintf(&k, "%d|%.6f|%d|%s|%s|%s|%s", (int)p->type, p->cpus,
	    p->memory_mb, p->arch != NULL ? p->arch : "",
	    p->platform != NULL ? p->platform : "",
	    p->device != NULL ? p->device : "", l);
	free(l);
	return (k);
}

/* Copy a placement. */
static void
placement_copy(struct placement *dst, const struct placement *src)
{
	size_t	i;

	memset(dst, 0, sizeof *dst);
	dst->type = src->type;
	dst->cpus = src->cpus;
	dst->memory_mb = src->memory_mb;
	dst->arch = src->arch != NULL ? xstrdup(src->arch) : NULL;
	dst->platform = src->platform != NULL ? xstrdup(src->platform) : NULL;
	dst->device = src->device != NULL ? xstrdup(src->device) : NULL;
	if (src->n_labels > 0) {
		dst->labels = xcalloc(src->n_labels, sizeof *dst->labels);
		for (i = 0; i < src->n_labels; i++) {
			dst->labels[i].key = xstrdup(src->labels[i].key);
			dst->labels[i].value = xstrdup(src->labels[i].value);
		}
		dst->n_labels = src->n_labels;
	}
}

/* The shape of a placement, made if new. */
static struct shape *
shape_get(const struct placement *p)
{
	struct shape	*sh;
	char		*key = shape_key(p);

	TAILQ_FOREACH(sh, &queue.shapes, entry) {
		if (strcmp(sh->key, key) == 0) {
			free(key);
			return (sh);
		}
	}
	sh = xcalloc(1, sizeof *sh);
	sh->key = key;
	sh->pass_idx = -1;
	placement_copy(&sh->place, p);
	TAILQ_INSERT_TAIL(&queue.shapes, sh, entry);
	return (sh);
}

/* Free an empty shape. */
static void
shape_free(struct shape *sh)
{
	TAILQ_REMOVE(&queue.shapes, sh, entry);
	placement_free(&sh->place);
	free(sh->heap);
	free(sh->key);
	free(sh);
}

/* ---- the id hash ---- */

static size_t
queue_bucket(int64_t id)
{
	return ((size_t)((uint64_t)id * 0x9e3779b97f4a7c15ull >> 20) &
	    (queue.nbuckets - 1));
}

/* Double the hash when it is full. */
static void
queue_grow(void)
{
	struct qent	**old = queue.hash, *e, *next;
	size_t		  oldn = queue.nbuckets, i, b;

	queue.nbuckets = oldn ? oldn * 2 : QUEUE_BUCKETS0;
	queue.hash = xcalloc(queue.nbuckets, sizeof *queue.hash);
	for (i = 0; i < oldn; i++) {
		for (e = old[i]; e != NULL; e = next) {
			next = e->hnext;
			b = queue_bucket(e->id);
			e->hnext = queue.hash[b];
			queue.hash[b] = e;
		}
	}
	free(old);
}

/* Start empty. */
void
queue_init(void)
{
	TAILQ_INIT(&queue.shapes);
	if (queue.device_gen == 0)
		queue.device_gen = 1;
	queue.n = 0;
	queue.nbuckets = 0;
	queue.hash = NULL;
	queue_grow();
}

/* Free the index (the database is untouched). */
void
queue_free(void)
{
	struct shape	*sh;
	int		 i;

	while ((sh = TAILQ_FIRST(&queue.shapes)) != NULL) {
		for (i = 0; i < sh->n; i++) {
			free(sh->heap[i]->inputs);
			free(sh->heap[i]);
		}
		shape_free(sh);
	}
	free(queue.hash);
	queue.hash = NULL;
	queue.nbuckets = 0;
	queue.n = 0;
}

/* Index a queued task. */
void
queue_add(const struct queue_entry_spec *q)
{
	struct qent	*e;
	struct shape	*sh;
	size_t		 b;

	if ((size_t)queue.n >= queue.nbuckets)
		queue_grow();
	sh = shape_get(&q->place);
	e = xcalloc(1, sizeof *e);
	e->id = q->id;
	e->seq = q->seq;
	e->prio = q->priority;
	e->is_array = q->is_array;
	e->inputs = q->inputs != NULL ? xstrdup(q->inputs) : NULL;
	e->shape = sh;
	b = queue_bucket(e->id);
	e->hnext = queue.hash[b];
	queue.hash[b] = e;
	if (sh->n == sh->cap) {
		sh->cap = sh->cap ? sh->cap * 2 : 8;
		sh->heap = xreallocarray(sh->heap, (size_t)sh->cap,
		    sizeof *sh->heap);
	}
	shape_set(sh, sh->n++, e);
	shape_up(sh, e->idx);
	queue.n++;
	if (!sh->set_aside)
		queue.dirty = 1;
}

/* Drop a task from the index; 0 if it was there. */
int
queue_remove(int64_t id)
{
	struct qent	**pp, *e;
	struct shape	*sh;
	int		  i;

	if (queue.hash == NULL)
		return (-1);
	for (pp = &queue.hash[queue_bucket(id)]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if ((*pp)->id == id)
			break;
	}
	if ((e = *pp) == NULL)
		return (-1);
	*pp = e->hnext;
	sh = e->shape;
	i = e->idx;
	if (--sh->n > i) {
		shape_set(sh, i, sh->heap[sh->n]);
		shape_up(sh, i);
		shape_down(sh, sh->heap[i]->idx);
	}
	free(e->inputs);
	free(e);
	queue.n--;
	if (sh->n == 0 && !queue.in_pass)
		shape_free(sh);
	return (0);
}

/* Tasks queued. */
int64_t
queue_count(void)
{
	return (queue.n);
}

/* Index one stored queued row (at start). */
static int
queue_load_cb(const struct task_row *r, void *arg)
{
	task_enqueue(r);
	return (0);
}

/* Index every queued task of the database. */
int
queue_load(struct store *st)
{
	if (queue.hash == NULL)
		queue_init();
	return (store_task_queued(st, queue_load_cb, NULL));
}

/* 1 if a pass is wanted. */
int
queue_is_dirty(void)
{
	return (queue.dirty);
}

/* Another pass once the loop has served its sockets. */
static void
queue_more_cb(evutil_socket_t fd, short events, void *arg)
{
	commit_kick(arg);
}

/* Ask for a pass at the end of this loop pass. */
void
queue_kick(struct server *s)
{
	queue.dirty = 1;
	commit_kick(s);
}

/* The devices changed (joined, left, were approved, changed profile):
 * shapes set aside get another look. */
void
queue_devices_changed(void)
{
	struct shape	*sh;

	queue.device_gen++;
	TAILQ_FOREACH(sh, &queue.shapes, entry) {
		if (sh->set_aside) {
			sh->set_aside = 0;
			queue.dirty = 1;
		}
	}
}

/* 1 if some approved device could ever run a task of this placement. */
int
queue_anyone_could_run(const struct placement *p)
{
	struct device	*d;

	TAILQ_FOREACH(d, registry_list(), entry) {
		if (d->approved && scheduler_can_ever_run(d, p))
			return (1);
	}
	return (0);
}

/* ---- the pass ---- */

/* The pass heap: shapes ordered by their head task. */
static struct shape	**pass_heap;
static int		  pass_n, pass_cap;

static int
pass_cmp(int a, int b)
{
	return (qent_cmp(pass_heap[a]->heap[0], pass_heap[b]->heap[0]));
}

static void
pass_swap(int a, int b)
{
	struct shape	*t = pass_heap[a];

	pass_heap[a] = pass_heap[b];
	pass_heap[b] = t;
	pass_heap[a]->pass_idx = a;
	pass_heap[b]->pass_idx = b;
}

static void
pass_push(struct shape *sh)
{
	int	i;

	if (pass_n == pass_cap) {
		pass_cap = pass_cap ? pass_cap * 2 : 16;
		pass_heap = xreallocarray(pass_heap, (size_t)pass_cap,
		    sizeof *pass_heap);
	}
	i = pass_n++;
	pass_heap[i] = sh;
	sh->pass_idx = i;
	while (i > 0 && pass_cmp(i, (i - 1) / 2) < 0) {
		pass_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static struct shape *
pass_pop(void)
{
	struct shape	*sh = pass_heap[0];
	int		 i = 0, c;

	sh->pass_idx = -1;
	if (--pass_n > 0) {
		pass_heap[0] = pass_heap[pass_n];
		pass_heap[0]->pass_idx = 0;
		for (;;) {
			c = 2 * i + 1;
			if (c >= pass_n)
				break;
			if (c + 1 < pass_n && pass_cmp(c + 1, c) < 0)
				c++;
			if (pass_cmp(c, i) >= 0)
				break;
			pass_swap(c, i);
			i = c;
		}
	}
	return (sh);
}

/* Place one task, the head of sh, on d; -1 if the database refused. */
static int
queue_place(struct server *s, struct shape *sh, struct device *d)
{
	struct task_row		 r;
	struct task_change	 ch = { TASK_ASSIGNED, CAUSE_DISPATCH, NULL, -1,
				    d, 0 };
	int64_t			 id = sh->heap[0]->id;
	struct device		*other;
	int			 rc;

	/* Where its input files are already, if that is as good. */
	d = scheduler_prefer_holding(&sh->place, d, sh->heap[0]->inputs,
	    NULL);
	ch.device = d;
	if (sh->heap[0]->is_array)
		return (array_materialize(s, id, d));
	if ((rc = store_task_get(s->store, id, &r)) != 0 ||
	    r.state != TASK_QUEUED) {
		/* The index disagrees with the database: trust the
		 * database. */
		log_warn("event=queue_stale task=%lld", (long long)id);
		if (rc == 0)
			task_row_free(&r);
		queue_remove(id);
		return (rc < 0 ? -1 : 0);
	}
	/* A task that failed on this device goes elsewhere when it can. */
	if (r.avoid != NULL && scheduler_avoids(r.avoid, d->id) &&
	    (other = scheduler_pick_avoiding(&sh->place, r.avoid)) != NULL)
		ch.device = other;
	if ((r.spec == NULL || *r.spec == '\0') && r.array_id == 0) {
		ch.to = TASK_FAILED;
		ch.cause = CAUSE_DAMAGED;
		ch.why = "stored task is damaged";
	}
	rc = task_transition(s, &r, &ch);
	task_row_free(&r);
	return (rc);
}

/*
 * One scheduler pass: place queued tasks in dispatch order on free slots.
 * Runs inside the pass's transaction (commit.c); the task_assign messages
 * go out when it commits.  Returns how many were placed.
 */
int
queue_pass(struct server *s)
{
	struct shape	*sh, *next;
	struct device	*d;
	double		 t0 = now_mono();
	int		 placed = 0, failed = 0;

	if (now_mono() < queue.retry_at)
		return (0);	/* stays dirty: the tick tries again */
	queue.dirty = 0;
	if (scheduler_available() == 0 || queue.n == 0)
		return (0);
	queue.in_pass = 1;
	TAILQ_FOREACH(sh, &queue.shapes, entry) {
		if (sh->n > 0 && !sh->set_aside)
			pass_push(sh);
	}
	while (pass_n > 0 && scheduler_available() > 0) {
		if (placed >= QUEUE_PASS_MAX) {
			queue.dirty = 1;
			break;
		}
		sh = pass_pop();
		if ((d = scheduler_pick(&sh->place)) == NULL) {
			if (sh->checked_gen == queue.device_gen)
				continue;
			sh->checked_gen = queue.device_gen;
			if (!queue_anyone_could_run(&sh->place)) {
				sh->set_aside = 1;
				log_info("event=queue_set_aside tasks=%d "
				    "msg=\"no known device could run them; "
				    "looked at again when devices change\"",
				    sh->n);
			}
			continue;
		}
		if (queue_place(s, sh, d) != 0) {
			failed = 1;
			break;
		}
		placed++;
		if (sh->n > 0)
			pass_push(sh);
	}
	while (pass_n > 0)
		pass_pop();
	queue.in_pass = 0;
	/* Shapes emptied during the pass were kept for it; free them. */
	TAILQ_FOREACH_SAFE(sh, &queue.shapes, entry, next) {
		if (sh->n == 0)
			shape_free(sh);
	}
	if (failed) {
		/* The database is busy or full: try again in a second, not
		 * at every message meanwhile. */
		queue.dirty = 1;
		queue.retry_at = now_mono() + 1;
		log_warn("event=dispatch_deferred placed=%d msg=\"the "
		    "database refused a write; trying again in a second\"",
		    placed);
	} else if (queue.dirty) {
		if (queue.more_ev == NULL)
			queue.more_ev = evtimer_new(s->base, queue_more_cb, s);
		if (!evtimer_pending(queue.more_ev, NULL)) {
			struct timeval	tv = { 0, 0 };

			evtimer_add(queue.more_ev, &tv);
		}
	}
	s->passes++;
	s->pass_seconds += now_mono() - t0;
	metrics_pass_time(now_mono() - t0);
	return (placed);
}

/* Free the pass's own memory (at exit). */
void
queue_pass_free(void)
{
	free(pass_heap);
	pass_heap = NULL;
	pass_cap = 0;
	if (queue.more_ev != NULL)
		event_free(queue.more_ev);
	queue.more_ev = NULL;
}
