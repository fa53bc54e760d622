/* SPDX-License-Identifier: ISC */
/*
 * why.c -- why a task is not running, in words: the `why:` line of
 * `encore show`, the `why` of get_task and the `warning:` of submit.
 *
 * For a queued task every device is looked at once and put in one group:
 * the first requirement it fails (type, arch, platform, a label, the
 * pinned device, its size), or why it cannot take work now (pending,
 * offline, draining, paused with its reason, no free slot, cpus or memory
 * in use).  Groups are told with their counts, and a requirement group
 * with the values the devices have, e.g.
 *   no device can run it: 2 devices excluded by arch=riscv64 (x86_64 2),
 *   1 device paused (battery 15% < 20%)
 * why_devices() is pure (devices and a placement in, text out), so it is
 * unit-tested on tables.
 */
#include <stdlib.h>
#include <string.h>

#include "main.h"

#define WHY_GROUPS	32
#define WHY_VALUES	4

/* One group of devices that share a reason. */
struct why_group {
	char	*text;			/* "excluded by arch=riscv64" */
	int	 n;
	int	 never;			/* could never run it */
	char	*values[WHY_VALUES];	/* what these devices have */
	int	 nvalues[WHY_VALUES];
	int	 more;			/* values beyond WHY_VALUES */
};

struct why {
	struct why_group g[WHY_GROUPS];
	int		 n;
	int		 can_now;	/* devices that fit right now */
	int		 could;		/* devices that could ever */
};

/* Count a device in the group of a reason (with the device's value). */
static void
why_count(struct why *w, const char *text, const char *value, int never)
{
	struct why_group	*g = NULL;
	int			 i;

	for (i = 0; i < w->n; i++) {
		if (strcmp(w->g[i].text, text) == 0) {
			g = &w->g[i];
			break;
		}
	}
	if (g == NULL) {
		if (w->n == WHY_GROUPS)
			g = &w->g[WHY_GROUPS - 1];	/* lumped in the last */
		else {
			g = &w->g[w->n++];
			g->text = xstrdup(text);
			g->never = never;
		}
	}
	g->n++;
	if (value == NULL)
		return;
	for (i = 0; i < WHY_VALUES && g->values[i] != NULL; i++) {
		if (strcmp(g->values[i], value) == 0) {
			g->nvalues[i]++;
			return;
		}
	}
	if (i < WHY_VALUES) {
		g->values[i] = xstrdup(value);
		g->nvalues[i] = 1;
	} else
		g->more++;
}

/* The first requirement a device fails, or NULL; *value gets what the
 * device has instead (a static buffer's worth in buf). */
static const char *
why_requirement(const struct device *d, const struct placement *p,
    char *text, size_t tsize, const char **value, char *buf, size_t bsize)
{
	size_t		 i;
	const char	*v;

	*value = NULL;
	if (p->type == TASK_TYPE_CONTAINER && !device_has_cap(d, "container")) {
		snprintf(text, tsize, "excluded by type=container (no "
		    "container runtime)");
		return (text);
	}
	if (p->type == TASK_TYPE_COMMAND && d->n_caps > 0 &&
	    !device_has_cap(d, "command")) {
		snprintf(text, tsize, "excluded by type=command");
		return (text);
	}
	if (p->device != NULL && strcmp(p->device, d->id) != 0) {
		snprintf(text, tsize, "excluded by device=%s (pinned)",
		    p->device);
		return (text);
	}
	if (p->arch != NULL && (d->info.architecture == NULL ||
	    strcmp(scheduler_arch_canon(p->arch),
	    scheduler_arch_canon(d->info.architecture)) != 0)) {
		snprintf(text, tsize, "excluded by arch=%s", p->arch);
		*value = d->info.architecture != NULL ?
		    d->info.architecture : "unknown";
		return (text);
	}
	if (p->platform != NULL && (d->info.platform == NULL ||
	    strcmp(p->platform, d->info.platform) != 0)) {
		snprintf(text, tsize, "excluded by platform=%s", p->platform);
		*value = d->info.platform != NULL ? d->info.platform :
		    "unknown";
		return (text);
	}
	for (i = 0; i < p->n_labels; i++) {
		v = device_label(d, p->labels[i].key);
		if (v == NULL || strcmp(v, p->labels[i].value) != 0) {
			snprintf(text, tsize, "excluded by label %s=%s",
			    p->labels[i].key, p->labels[i].value);
			*value = v != NULL ? v : "none";
			return (text);
		}
	}
	if (p->cpus > 0 && d->hw.cpu_cores > 0 && p->cpus > d->hw.cpu_cores) {
		snprintf(text, tsize, "too small for cpus=%g", p->cpus);
		snprintf(buf, bsize, "%d cores", d->hw.cpu_cores);
		*value = buf;
		return (text);
	}
	if (p->memory_mb > 0 && d->hw.memory_total > 0 &&
	    p->memory_mb > d->hw.memory_total / (1024 * 1024)) {
		snprintf(text, tsize, "too small for memory=%d MB",
		    p->memory_mb);
		snprintf(buf, bsize, "%lld MB",
		    (long long)(d->hw.memory_total / (1024 * 1024)));
		*value = buf;
		return (text);
	}
	return (NULL);
}

/* Put one device in its group. */
static void
why_device(struct why *w, const struct device *d, const struct placement *p)
{
	char		 text[PROTO_TEXT_MAX], buf[64];
	const char	*value;

	if (!d->approved) {
		why_count(w, "pending approval", NULL, 1);
		return;
	}
	if (why_requirement(d, p, text, sizeof text, &value, buf,
	    sizeof buf) != NULL) {
		why_count(w, text, value, 1);
		return;
	}
	w->could++;
	if (!d->online || d->conn == NULL)
		why_count(w, "offline", NULL, 0);
	else if (d->drained)
		why_count(w, "draining", NULL, 0);
	else if (!d->accepting) {
		snprintf(text, sizeof text, "paused (%s)", d->reason != NULL ?
		    d->reason : "not accepting work");
		why_count(w, text, NULL, 0);
	} else if (d->running >= d->slots)
		why_count(w, "with no free slot", NULL, 0);
	else if (p->cpus > 0 && d->hw.cpu_cores > 0 &&
	    d->cpus_used + p->cpus > d->hw.cpu_cores + 1e-9)
		why_count(w, "with its cpus in use", NULL, 0);
	else if (p->memory_mb > 0 && d->hw.memory_total > 0 &&
	    d->mem_used_mb + p->memory_mb > d->hw.memory_total / (1024 * 1024))
		why_count(w, "with its memory in use", NULL, 0);
	else
		w->can_now++;
}

/* Append one group's words. */
static void
why_group_text(char **out, const struct why_group *g)
{
	char	*t, *vals = xstrdup("");
	int	 i;

	for (i = 0; i < WHY_VALUES && g->values[i] != NULL; i++) {
		xasprintf(&t, "%s%s%s %d", vals, i > 0 ? ", " : "",
		    g->values[i], g->nvalues[i]);
		free(vals);
		vals = t;
	}
	if (g->more > 0) {
		xasprintf(&t, "%s, other %d", vals, g->more);
		free(vals);
		vals = t;
	}
	xasprintf(&t, "%s%s%d device%s %s%s%s%s", *out, **out != '\0' ? ", " :
	    "", g->n, g->n == 1 ? "" : "s", g->text, *vals != '\0' ? " (" : "",
	    vals, *vals != '\0' ? ")" : "");
	free(vals);
	free(*out);
	*out = t;
}

/*
 * Why no device runs a task of this placement now.  Returns a heap text,
 * or NULL if some device could take it right now.  *never is set when no
 * device known could ever run it.
 */
char *
why_devices(struct device_list *devices, const struct placement *p,
    int *never)
{
	struct why	 w;
	struct device	*d;
	char		*out = xstrdup(""), *t;
	int		 i, pass;

	memset(&w, 0, sizeof w);
	TAILQ_FOREACH(d, devices, entry)
		why_device(&w, d, p);
	*never = w.could == 0;
	if (w.can_now > 0) {
		free(out);
		out = NULL;
		goto done;
	}
	/* Requirements first, then the state of the devices that could. */
	for (pass = 1; pass >= 0; pass--) {
		for (i = 0; i < w.n; i++) {
			if (w.g[i].never == pass)
				why_group_text(&out, &w.g[i]);
		}
	}
	if (w.n == 0)
		xasprintf(&t, "no device can run it: no devices have joined");
	else if (w.could == 0)
		xasprintf(&t, "no device can run it: %s", out);
	else
		xasprintf(&t, "%d device%s can run it but none can take it now: "
		    "%s", w.could, w.could == 1 ? "" : "s", out);
	free(out);
	out = t;
done:
	for (i = 0; i < w.n; i++) {
		int	k;

		free(w.g[i].text);
		for (k = 0; k < WHY_VALUES; k++)
			free(w.g[i].values[k]);
	}
	return (out);
}

/*
 * The why of a task that is not running: held and waiting tasks say what
 * they wait for; a queued one what keeps it from a device, or its place
 * in the queue.  NULL for a task that runs or ended.  Caller frees.
 */
char *
why_text(struct server *s, const struct task_row *r)
{
	char		*text = NULL, *why = NULL, *waiting = NULL;
	int		 never;
	int64_t		 ahead;

	switch (r->state) {
	case TASK_HELD:
		xasprintf(&text, "held: %s", r->reason != NULL ? r->reason :
		    "by an operator");
		return (text);
	case TASK_WAITING:
		if (r->id > 0 && deps_of(s->store, r->id, &why, &waiting) ==
		    DEP_PENDING && waiting != NULL)
			xasprintf(&text, "waiting for %s", waiting);
		else if (r->id == 0)
			xasprintf(&text, "waiting: its array waits for its "
			    "dependencies");
		else
			text = xstrdup("waiting for its dependencies");
		free(why);
		free(waiting);
		return (text);
	case TASK_QUEUED:
		break;
	default:
		return (NULL);
	}
	if (r->kind == TASK_KIND_ARRAY && array_at_limit(r->id)) {
		xasprintf(&text, "the array has its limit of %d elements "
		    "running", r->array_limit);
		return (text);
	}
	if ((text = why_devices(registry_list(), &r->place, &never)) != NULL)
		return (text);
	ahead = r->id > 0 ? store_task_ahead(s->store, r->priority, r->seq) :
	    0;
	if (ahead > 0)
		xasprintf(&text, "queued behind %lld task%s of the same or "
		    "higher priority", (long long)ahead, ahead == 1 ? "" : "s");
	else
		text = xstrdup("a device can take it now: it goes on the "
		    "next scheduler pass");
	return (text);
}
