/* SPDX-License-Identifier: ISC */
/*
 * scheduler.c -- pure placement: which device, if any, should run a task.
 * No I/O and no clock: it reads devices and a task and answers, so the
 * rules are unit-tested on tables (tests/unit/test-scheduler.c).
 *
 * A device qualifies when it is approved, connected, not draining, accepting
 * work, has a free slot, offers the task type, matches the requirements
 * (arch, platform, labels, pinned device) and has the cpus and memory left
 * (no oversubscription).  Among those the least loaded wins, then the
 * faster one (cores x MHz), then the id, so placement is deterministic.
 */
#include <math.h>
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

/* Canonical architecture name. */
static const char *
arch_canon(const char *a)
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
scheduler_can_ever_run(const struct device *d, const struct proto_task *t)
{
	size_t		 i;
	const char	*v;

	if (t->type == TASK_TYPE_CONTAINER && !device_has_cap(d, "container"))
		return (0);
	if (t->type == TASK_TYPE_COMMAND && d->n_caps > 0 &&
	    !device_has_cap(d, "command"))
		return (0);
	if (t->req_device != NULL && strcmp(t->req_device, d->id) != 0)
		return (0);
	if (t->req_arch != NULL && (d->info.architecture == NULL ||
	    strcmp(arch_canon(t->req_arch),
	    arch_canon(d->info.architecture)) != 0))
		return (0);
	if (t->req_platform != NULL && (d->info.platform == NULL ||
	    strcmp(t->req_platform, d->info.platform) != 0))
		return (0);
	for (i = 0; i < t->n_req_labels; i++) {
		v = device_label(d, t->req_labels[i].key);
		if (v == NULL || strcmp(v, t->req_labels[i].value) != 0)
			return (0);
	}
	if (t->cpus > 0 && d->hw.cpu_cores > 0 && t->cpus > d->hw.cpu_cores)
		return (0);
	if (t->memory_mb > 0 && d->hw.memory_total > 0 &&
	    t->memory_mb > d->hw.memory_total / (1024 * 1024))
		return (0);
	return (1);
}

/* 1 if the device can take the task now. */
int
scheduler_fits(const struct device *d, const struct proto_task *t)
{
	if (!d->approved || !d->online || d->conn == NULL || d->drained ||
	    !d->accepting)
		return (0);
	if (d->running >= d->slots)
		return (0);
	if (!scheduler_can_ever_run(d, t))
		return (0);
	if (t->cpus > 0 && d->hw.cpu_cores > 0 &&
	    d->cpus_used + t->cpus > d->hw.cpu_cores + 1e-9)
		return (0);
	if (t->memory_mb > 0 && d->hw.memory_total > 0 &&
	    d->mem_used_mb + t->memory_mb >
	    d->hw.memory_total / (1024 * 1024))
		return (0);
	return (1);
}

/* < 0 if a is the better choice than b. */
static int
scheduler_compare(const struct device *a, const struct device *b)
{
	double	la = (double)a->running / a->slots;
	double	lb = (double)b->running / b->slots;
	double	sa, sb;

	if (la != lb)
		return (la < lb ? -1 : 1);
	sa = (isnan(a->hw.cpu_mhz) ? 1000 : a->hw.cpu_mhz) *
	    (a->hw.cpu_cores > 0 ? a->hw.cpu_cores : 1);
	sb = (isnan(b->hw.cpu_mhz) ? 1000 : b->hw.cpu_mhz) *
	    (b->hw.cpu_cores > 0 ? b->hw.cpu_cores : 1);
	if (sa != sb)
		return (sa > sb ? -1 : 1);
	return (strcmp(a->id, b->id));
}

/* The best device for the task among those in the list, or NULL.  A
 * device no better than the best so far cannot win, so the (cheaper)
 * comparison comes before the requirements check. */
struct device *
scheduler_pick(struct device_list *devices, const struct proto_task *t)
{
	struct device	*d, *best = NULL;

	TAILQ_FOREACH(d, devices, entry) {
		if (d->running >= d->slots)
			continue;
		if (best != NULL && scheduler_compare(d, best) >= 0)
			continue;
		if (scheduler_fits(d, t))
			best = d;
	}
	return (best);
}
