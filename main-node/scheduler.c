/* SPDX-License-Identifier: ISC */
/*
 * scheduler.c -- pure placement: which device, if any, should run a task,
 * and the index that answers that without looking at every device.
 * No I/O and no clock: it reads devices and a task's placement and
 * answers, so the rules are unit-tested on tables
 * (tests/unit/test-scheduler.c).
 *
 * A device qualifies when it is approved, connected, not draining, accepting
 * work, has a free slot, offers the task type, matches the requirements
 * (arch, platform, labels, pinned device) and has the cpus and memory left
 * (no oversubscription).  Among those the least loaded wins, then the
 * faster one (cores x MHz), then the id, so placement is deterministic.
 *
 * The index is a binary heap, in that order, of the devices that can take
 * work now (device_is_available); registry.c and task.c call
 * scheduler_update() whenever one of a device's inputs changes.  A pick
 * walks the heap best-first and stops at the first device the task fits:
 * on a cluster of like devices that is the root, so placing a task costs
 * O(log devices), not O(devices).
 *
 * A task with input files prefers, among devices as lightly loaded as the
 * best one, a device that fetched those files lately (it has them in its
 * cache), so they are not sent again.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"

/* Architecture names that mean the same thing. */
static const char *arch_aliases[][2] = {
	{ "amd64", "x86_64" },
	{ "arm64", "aarch64" },
	{ "armhf", "armv7l" },
	{ "armel", "armv6l" },
	{ "i386", "i686" },
};

/* The heap of available devices. */
static struct device	**sched_heap;
static int		  sched_n, sched_cap;

/* Canonical architecture name. */
const char *
scheduler_arch_canon(const char *a)
{
	size_t	i;

	for (i = 0; i < sizeof arch_aliases / sizeof arch_aliases[0]; i++) {
		if (strcmp(a, arch_aliases[i][0]) == 0)
			return (arch_aliases[i][1]);
	}
	return (a);
}

/* 1 if the device's profile meets the task's requirements, ignoring its
 * current load (so a task nobody could ever run can be told apart). */
int
scheduler_can_ever_run(const struct device *d, const struct placement *p)
{
	size_t		 i;
	const char	*v;

	if (p->type == TASK_TYPE_CONTAINER && !device_has_cap(d, "container"))
		return (0);
	if (p->type == TASK_TYPE_COMMAND && d->n_caps > 0 &&
	    !device_has_cap(d, "command"))
		return (0);
	if (p->device != NULL && strcmp(p->device, d->id) != 0)
		return (0);
	if (p->arch != NULL && (d->info.architecture == NULL ||
	    strcmp(scheduler_arch_canon(p->arch),
	    scheduler_arch_canon(d->info.architecture)) != 0))
		return (0);
	if (p->platform != NULL && (d->info.platform == NULL ||
	    strcmp(p->platform, d->info.platform) != 0))
		return (0);
	for (i = 0; i < p->n_labels; i++) {
		v = device_label(d, p->labels[i].key);
		if (v == NULL || strcmp(v, p->labels[i].value) != 0)
			return (0);
	}
	if (p->cpus > 0 && d->hw.cpu_cores > 0 && p->cpus > d->hw.cpu_cores)
		return (0);
	if (p->memory_mb > 0 && d->hw.memory_total > 0 &&
	    p->memory_mb > d->hw.memory_total / (1024 * 1024))
		return (0);
	return (1);
}

/* 1 if the device can take the task now. */
int
scheduler_fits(const struct device *d, const struct placement *p)
{
	if (!device_is_available(d))
		return (0);
	if (!scheduler_can_ever_run(d, p))
		return (0);
	if (p->cpus > 0 && d->hw.cpu_cores > 0 &&
	    d->cpus_used + p->cpus > d->hw.cpu_cores + 1e-9)
		return (0);
	if (p->memory_mb > 0 && d->hw.memory_total > 0 &&
	    d->mem_used_mb + p->memory_mb >
	    d->hw.memory_total / (1024 * 1024))
		return (0);
	return (1);
}

/* A device's speed: cores x MHz (1000 MHz when unknown). */
static double
scheduler_speed(const struct device *d)
{
	return ((isnan(d->hw.cpu_mhz) ? 1000 : d->hw.cpu_mhz) *
	    (d->hw.cpu_cores > 0 ? d->hw.cpu_cores : 1));
}

/* < 0 if a is the better choice than b (a strict order: ties go by id). */
int
scheduler_compare(const struct device *a, const struct device *b)
{
	double	la = (double)a->running / (a->slots > 0 ? a->slots : 1);
	double	lb = (double)b->running / (b->slots > 0 ? b->slots : 1);
	double	sa, sb;

	if (la != lb)
		return (la < lb ? -1 : 1);
	sa = scheduler_speed(a);
	sb = scheduler_speed(b);
	if (sa != sb)
		return (sa > sb ? -1 : 1);
	return (strcmp(a->id, b->id));
}

/* The best device for the task in a list, by looking at each: the
 * reference the index must agree with (and the unit tests' oracle). */
struct device *
scheduler_pick_list(struct device_list *devices, const struct placement *p)
{
	struct device	*d, *best = NULL;

	TAILQ_FOREACH(d, devices, entry) {
		if (d->running >= d->slots)
			continue;
		if (best != NULL && scheduler_compare(d, best) >= 0)
			continue;
		if (scheduler_fits(d, p))
			best = d;
	}
	return (best);
}

/* ---- the index ---- */

/* Put heap slot i's device there and record where it is. */
static void
sched_set(int i, struct device *d)
{
	sched_heap[i] = d;
	d->avail_idx = i;
}

/* Move slot i up while it beats its parent. */
static void
sched_up(int i)
{
	struct device	*d = sched_heap[i];
	int		 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (scheduler_compare(d, sched_heap[parent]) >= 0)
			break;
		sched_set(i, sched_heap[parent]);
		i = parent;
	}
	sched_set(i, d);
}

/* Move slot i down while a child beats it. */
static void
sched_down(int i)
{
	struct device	*d = sched_heap[i];
	int		 child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= sched_n)
			break;
		if (child + 1 < sched_n && scheduler_compare(
		    sched_heap[child + 1], sched_heap[child]) < 0)
			child++;
		if (scheduler_compare(sched_heap[child], d) >= 0)
			break;
		sched_set(i, sched_heap[child]);
		i = child;
	}
	sched_set(i, d);
}

/* Take slot i out of the heap. */
static void
sched_remove_at(int i)
{
	struct device	*gone = sched_heap[i];

	gone->avail_idx = -1;
	if (--sched_n == i)
		return;
	sched_set(i, sched_heap[sched_n]);
	sched_up(i);
	sched_down(sched_heap[i]->avail_idx);
}

/* A device's availability or load changed: put it where it belongs. */
void
scheduler_update(struct device *d)
{
	int	want = device_is_available(d);

	if (!want) {
		if (d->avail_idx >= 0)
			sched_remove_at(d->avail_idx);
		return;
	}
	if (d->avail_idx < 0) {
		if (sched_n == sched_cap) {
			sched_cap = sched_cap ? sched_cap * 2 : 64;
			sched_heap = xreallocarray(sched_heap,
			    (size_t)sched_cap, sizeof *sched_heap);
		}
		sched_set(sched_n, d);
		sched_n++;
		sched_up(d->avail_idx);
		return;
	}
	sched_up(d->avail_idx);
	sched_down(d->avail_idx);
}

/* Forget the index (the devices keep avail_idx -1). */
void
scheduler_reset(void)
{
	int	i;

	for (i = 0; i < sched_n; i++)
		sched_heap[i]->avail_idx = -1;
	free(sched_heap);
	sched_heap = NULL;
	sched_n = sched_cap = 0;
}

/* Devices that can take work now. */
int
scheduler_available(void)
{
	return (sched_n);
}

/*
 * The best device that fits, from the index: a best-first walk of the heap
 * (a small frontier heap of slots ordered the same way), stopping at the
 * first fit.  A pinned task looks at its device only.
 */
struct device *
scheduler_pick(const struct placement *p)
{
	return (scheduler_pick_avoiding(p, NULL));
}

/* 1 if a device's id is a line of the avoid list ("s:ID" or "a:ID"). */
int
scheduler_avoids(const char *avoid, const char *id)
{
	const char	*p;
	size_t		 n = strlen(id);

	for (p = avoid; p != NULL && *p != '\0'; ) {
		if (p[0] != '\0' && p[1] == ':' &&
		    strncmp(p + 2, id, n) == 0 &&
		    (p[2 + n] == '\n' || p[2 + n] == '\0'))
			return (1);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return (0);
}

/* A device's load: the share of its slots in use. */
static double
scheduler_load(const struct device *d)
{
	return ((double)d->running / (d->slots > 0 ? d->slots : 1));
}

/* What a walk of the index wants of the next device: take it, pass it
 * by, or stop looking. */
enum sched_want {
	WANT_SKIP,
	WANT_TAKE,
	WANT_STOP,
};
typedef enum sched_want (*sched_want_fn)(const struct device *, void *);

/*
 * Walk the index best-first (a small frontier heap of slots ordered the
 * same way) and return the first device that fits and that want() takes.
 */
static struct device *
sched_walk(const struct placement *p, sched_want_fn want, void *arg)
{
	struct device	*found = NULL;
	enum sched_want	 w;
	int		*front, nf = 0, capf = 64, i, best, j, tmp, k;

	if (sched_n == 0)
		return (NULL);
	front = xreallocarray(NULL, (size_t)capf, sizeof *front);
	front[nf++] = 0;
	while (nf > 0) {
		/* Pop the frontier's best slot (a min-heap of slots). */
		best = front[0];
		front[0] = front[--nf];
		for (i = 0;;) {
			j = 2 * i + 1;
			if (j >= nf)
				break;
			if (j + 1 < nf && scheduler_compare(
			    sched_heap[front[j + 1]], sched_heap[front[j]]) < 0)
				j++;
			if (scheduler_compare(sched_heap[front[j]],
			    sched_heap[front[i]]) >= 0)
				break;
			tmp = front[i];
			front[i] = front[j];
			front[j] = tmp;
			i = j;
		}
		w = want(sched_heap[best], arg);
		if (w == WANT_STOP)
			break;
		if (w == WANT_TAKE && scheduler_fits(sched_heap[best], p)) {
			found = sched_heap[best];
			break;
		}
		/* Its children are the next candidates. */
		for (k = 2 * best + 1; k <= 2 * best + 2 && k < sched_n; k++) {
			if (nf == capf) {
				capf *= 2;
				front = xreallocarray(front, (size_t)capf,
				    sizeof *front);
			}
			i = nf++;
			front[i] = k;
			while (i > 0 && scheduler_compare(
			    sched_heap[front[i]],
			    sched_heap[front[(i - 1) / 2]]) < 0) {
				tmp = front[i];
				front[i] = front[(i - 1) / 2];
				front[(i - 1) / 2] = tmp;
				i = (i - 1) / 2;
			}
		}
	}
	free(front);
	return (found);
}

/* Any device not on the avoid list. */
static enum sched_want
sched_want_not_avoided(const struct device *d, void *arg)
{
	const char	*avoid = arg;

	return (avoid == NULL || !scheduler_avoids(avoid, d->id) ?
	    WANT_TAKE : WANT_SKIP);
}

/* The best device that fits and is not on the avoid list (NULL: none is
 * avoided), from the index. */
struct device *
scheduler_pick_avoiding(const struct placement *p, const char *avoid)
{
	struct device	*d;

	if (p->device != NULL) {
		d = registry_find(p->device);
		return (d != NULL && scheduler_fits(d, p) ? d : NULL);
	}
	return (sched_walk(p, sched_want_not_avoided, (void *)avoid));
}

struct sched_holding {
	double		 load;		/* of the device picked first */
	const char	*hashes;
	const char	*avoid;
};

/* A device as lightly loaded as the one picked that holds the files. */
static enum sched_want
sched_want_holding(const struct device *d, void *arg)
{
	struct sched_holding	*h = arg;

	if (scheduler_load(d) > h->load)
		return (WANT_STOP);	/* the rest are busier still */
	if (h->avoid != NULL && scheduler_avoids(h->avoid, d->id))
		return (WANT_SKIP);
	return (device_holds(d, h->hashes) ? WANT_TAKE : WANT_SKIP);
}

/*
 * Among the devices as good as d (as lightly loaded), one that already
 * holds the task's input files (hashes, one a line), so they are not sent
 * again; d itself if it holds them or none does.
 */
struct device *
scheduler_prefer_holding(const struct placement *p, struct device *d,
    const char *hashes, const char *avoid)
{
	struct sched_holding	 h;
	struct device		*other;

	if (hashes == NULL || *hashes == '\0' || p->device != NULL ||
	    device_holds(d, hashes))
		return (d);
	h.load = scheduler_load(d);
	h.hashes = hashes;
	h.avoid = avoid;
	other = sched_walk(p, sched_want_holding, &h);
	return (other != NULL ? other : d);
}
