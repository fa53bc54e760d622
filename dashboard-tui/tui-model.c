/* SPDX-License-Identifier: ISC */
/*
 * tui-model.c -- what encore-top knows about the cluster: devices and tasks
 * keyed by id, applied from replies and events; the filtered views, the
 * selection, the totals and the detail task's output.  Pure: no curses, no
 * I/O, no clock (callers pass now), so it is unit-tested on its own.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "protocol.h"
#include "profiler.h"
#include "client.h"
#include "tui.h"

/* Replace *dst with a copy of member key as text (NULL if absent). */
static void
model_str(char **dst, struct json_object *o, const char *key)
{
	struct json_object	*v = client_json_get(o, key);

	free(*dst);
	*dst = NULL;
	if (v == NULL)
		return;
	if (json_object_is_type(v, json_type_string))
		*dst = xstrdup(json_object_get_string(v));
	else
		*dst = xstrdup(json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN));
}

/* Member as a number; NAN if absent or not numeric. */
static double
model_num(struct json_object *o, const char *key)
{
	struct json_object	*v = client_json_get(o, key);

	if (v == NULL || !(json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double)))
		return (NAN);
	return (json_object_get_double(v));
}

/* Member as an integer; def if absent or not numeric. */
static int64_t
model_int(struct json_object *o, const char *key, int64_t def)
{
	double	d = model_num(o, key);

	if (isnan(d) || !isfinite(d))
		return (def);
	return ((int64_t)llround(d));
}

/* Member as a boolean; def if absent. */
static int
model_bool(struct json_object *o, const char *key, int def)
{
	struct json_object	*v = client_json_get(o, key);

	if (v == NULL)
		return (def);
	return (json_object_get_boolean(v) ? 1 : 0);
}

/* Join an array of strings or an object of strings into "a b" / "k=v". */
static void
model_join(char **dst, struct json_object *o, const char *key)
{
	struct json_object	*v = client_json_get(o, key), *e;
	char			*s = NULL, *t;
	size_t			 i, n;

	free(*dst);
	*dst = NULL;
	if (v == NULL)
		return;
	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			e = json_object_array_get_idx(v, i);
			if (e == NULL || !json_object_is_type(e,
			    json_type_string))
				continue;
			xasprintf(&t, "%s%s%s", s != NULL ? s : "",
			    s != NULL ? " " : "", json_object_get_string(e));
			free(s);
			s = t;
		}
	} else if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, val) {
			xasprintf(&t, "%s%s%s=%s", s != NULL ? s : "",
			    s != NULL ? " " : "", k, val != NULL ?
			    json_object_get_string(val) : "");
			free(s);
			s = t;
		}
	}
	*dst = s;
}

/* "2026-11-22T10:31:00Z" -> Unix time; 0 if unparseable. */
time_t
tui_parse_time(const char *s)
{
	struct tm	tm;
	int		y, mo, d, h, mi, sec;

	if (s == NULL || sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi,
	    &sec) != 6)
		return (0);
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (timegm(&tm));
}

/* Free a device. */
static void
model_device_free(struct tui_device *d)
{
	free(d->id);
	free(d->hostname);
	free(d->state);
	free(d->arch);
	free(d->platform);
	free(d->os);
	free(d->kernel);
	free(d->cpu_model);
	free(d->model);
	free(d->reason);
	free(d->labels);
	free(d->caps);
	free(d);
}

/* Free a task. */
static void
model_task_free(struct tui_task *t)
{
	free(t->id);
	free(t->name);
	free(t->state);
	free(t->priority);
	free(t->device);
	free(t->image);
	free(t->error);
	free(t->reason);
	free(t->array_id);
	free(t);
}

/* Forget the detail's info. */
void
tui_model_clear_info(struct tui_model *m)
{
	free(m->info.task);
	free(m->info.why);
	free(m->info.deps);
	free(m->info.array);
	free(m->info.counts);
	free(m->info.inputs);
	free(m->info.outputs);
	memset(&m->info, 0, sizeof m->info);
	m->dirty = 1;
}

/* Create an empty model. */
struct tui_model *
tui_model_create(void)
{
	struct tui_model	*m;

	m = xcalloc(1, sizeof *m);
	m->stale = 1;
	m->dirty = 1;
	return (m);
}

/* Free the model and everything in it. */
void
tui_model_free(struct tui_model *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n_devices; i++)
		model_device_free(m->devices[i]);
	for (i = 0; i < m->n_tasks; i++)
		model_task_free(m->tasks[i]);
	free(m->devices);
	free(m->tasks);
	free(m->dview);
	free(m->tview);
	free(m->dsel_id);
	free(m->tsel_id);
	free(m->detail_task);
	free(m->output);
	tui_model_clear_info(m);
	free(m);
}

/* Compare one dot-separated part of two ids (la and lb bytes): numbers
 * by value and before any other text, other text bytewise. */
static int
model_partcmp(const char *a, size_t la, const char *b, size_t lb)
{
	static const char	*digits = "0123456789";
	int			 da, db, c;

	da = la > 0 && strspn(a, digits) >= la;
	db = lb > 0 && strspn(b, digits) >= lb;
	if (da != db)
		return (da ? -1 : 1);
	if (da && la != lb)
		return (la < lb ? -1 : 1);
	if ((c = memcmp(a, b, la < lb ? la : lb)) != 0)
		return (c);
	return (la == lb ? 0 : la < lb ? -1 : 1);
}

/*
 * Compare ids part by part ("17.3" is 17 then 3), a shorter id first
 * when one is the start of the other: "5" < "17" < "17.3" < "17.10" <
 * "18".  A total order, which the sorted arrays and their binary search
 * need (tasks, array elements and device names all mix here).
 */
static int
model_idcmp(const char *a, const char *b)
{
	size_t	la, lb;
	int	c;

	for (;;) {
		la = strcspn(a, ".");
		lb = strcspn(b, ".");
		if ((c = model_partcmp(a, la, b, lb)) != 0)
			return (c);
		a += la;
		b += lb;
		if (*a == '\0' || *b == '\0')
			return (*a == *b ? 0 : *a == '\0' ? -1 : 1);
		a++;
		b++;
	}
}

/* Binary search an id among n sorted owned objects whose first member is
 * the id; returns the index, or the insertion point with *found 0. */
static size_t
model_search(void **v, size_t n, const char *id, int *found)
{
	size_t	lo = 0, hi = n, mid;
	int	c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = model_idcmp(*(char **)v[mid], id);
		if (c == 0) {
			*found = 1;
			return (mid);
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* Find a device by id. */
struct tui_device *
tui_model_find_device(struct tui_model *m, const char *id)
{
	size_t	i;
	int	found;

	if (id == NULL)
		return (NULL);
	i = model_search((void **)m->devices, m->n_devices, id, &found);
	return (found ? m->devices[i] : NULL);
}

/* Find a task by id. */
struct tui_task *
tui_model_find_task(struct tui_model *m, const char *id)
{
	size_t	i;
	int	found;

	if (id == NULL)
		return (NULL);
	i = model_search((void **)m->tasks, m->n_tasks, id, &found);
	return (found ? m->tasks[i] : NULL);
}

/* Mark views stale and the screen dirty. */
static void
model_changed(struct tui_model *m)
{
	m->stale = 1;
	m->dirty = 1;
}

/* Add or update a device from a DEVICE object. */
int
tui_model_apply_device(struct tui_model *m, struct json_object *o,
    time_t now)
{
	struct tui_device	*d;
	struct json_object	*load, *e;
	const char		*id;
	size_t			 i;
	int			 found;
	int64_t			 seen;

	if ((e = client_json_get(o, "id")) == NULL ||
	    !json_object_is_type(e, json_type_string) ||
	    *(id = json_object_get_string(e)) == '\0')
		return (-1);
	i = model_search((void **)m->devices, m->n_devices, id, &found);
	if (found)
		d = m->devices[i];
	else if (m->n_devices >= TUI_DEVICES_MAX) {
		m->dropped_devices = 1;
		return (-1);
	} else {
		d = xcalloc(1, sizeof *d);
		d->id = xstrdup(id);
		m->devices = xreallocarray(m->devices, m->n_devices + 1,
		    sizeof *m->devices);
		memmove(m->devices + i + 1, m->devices + i,
		    (m->n_devices - i) * sizeof *m->devices);
		m->devices[i] = d;
		m->n_devices++;
	}
	model_str(&d->hostname, o, "hostname");
	model_str(&d->state, o, "state");
	model_str(&d->arch, o, "arch");
	model_str(&d->platform, o, "platform");
	model_str(&d->os, o, "os");
	model_str(&d->kernel, o, "kernel");
	model_str(&d->cpu_model, o, "cpu_model");
	model_str(&d->model, o, "model");
	model_str(&d->reason, o, "reason");
	model_join(&d->labels, o, "labels");
	model_join(&d->caps, o, "capabilities");
	d->cores = (int)model_int(o, "cores", -1);
	d->slots = (int)model_int(o, "slots", -1);
	d->running = (int)model_int(o, "running", -1);
	d->battery_pct = (int)model_int(o, "battery_pct", -1);
	d->charging = model_bool(o, "charging", 0);
	d->accepting = model_bool(o, "accepting", 1);
	d->cpu_mhz = model_num(o, "cpu_mhz");
	d->cpu_pct = model_num(o, "cpu_pct");
	d->mem_pct = model_num(o, "mem_pct");
	d->disk_pct = model_num(o, "disk_pct");
	d->temp_c = model_num(o, "temp_c");
	d->uptime = model_num(o, "uptime");
	d->mem_total = model_int(o, "mem_total", -1);
	d->disk_total = model_int(o, "disk_total", -1);
	d->disk_free = model_int(o, "disk_free", -1);
	d->net_rx = model_int(o, "net_rx", -1);
	d->net_tx = model_int(o, "net_tx", -1);
	for (i = 0; i < 3; i++)
		d->load[i] = NAN;
	load = client_json_get(o, "load");
	if (load != NULL && json_object_is_type(load, json_type_array)) {
		for (i = 0; i < 3 && i < json_object_array_length(load); i++) {
			e = json_object_array_get_idx(load, i);
			if (e != NULL && (json_object_is_type(e,
			    json_type_int) || json_object_is_type(e,
			    json_type_double)))
				d->load[i] = json_object_get_double(e);
		}
	}
	seen = model_int(o, "last_seen_s", -1);
	d->seen_at = seen >= 0 ? now - (time_t)seen : 0;
	model_changed(m);
	return (0);
}

/* Forget a device. */
int
tui_model_remove_device(struct tui_model *m, const char *id)
{
	size_t	i;
	int	found;

	i = model_search((void **)m->devices, m->n_devices, id, &found);
	if (!found)
		return (-1);
	model_device_free(m->devices[i]);
	memmove(m->devices + i, m->devices + i + 1,
	    (m->n_devices - i - 1) * sizeof *m->devices);
	m->n_devices--;
	model_changed(m);
	return (0);
}

/* Replace all devices with a list. */
void
tui_model_set_devices(struct tui_model *m, struct json_object *arr,
    time_t now)
{
	size_t	i, n;

	for (i = 0; i < m->n_devices; i++)
		model_device_free(m->devices[i]);
	m->n_devices = 0;
	m->dropped_devices = 0;
	if (arr != NULL && json_object_is_type(arr, json_type_array)) {
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++)
			tui_model_apply_device(m,
			    json_object_array_get_idx(arr, i), now);
	}
	model_changed(m);
}

/* Whether a task has ended. */
int
tui_task_is_finished(const struct tui_task *t)
{
	return (proto_task_state_name_is_final(t->state));
}

/* Drop the oldest finished tasks beyond TUI_FINISHED_MAX (the list is
 * sorted by id, which grows with submission); in batches, so a stream of
 * finished tasks does not cost a pass over all of them each. */
static void
model_prune_tasks(struct tui_model *m)
{
	size_t	i, j, drop;

	if (m->n_finished <= TUI_FINISHED_MAX + TUI_FINISHED_MAX / 10)
		return;
	drop = m->n_finished - TUI_FINISHED_MAX;
	for (i = j = 0; i < m->n_tasks; i++) {
		if (drop > 0 && tui_task_is_finished(m->tasks[i]) &&
		    (m->detail_task == NULL ||
		    strcmp(m->detail_task, m->tasks[i]->id) != 0)) {
			model_task_free(m->tasks[i]);
			m->n_finished--;
			drop--;
			continue;
		}
		m->tasks[j++] = m->tasks[i];
	}
	m->n_tasks = j;
}

/* Add or update a task from a TASK object. */
int
tui_model_apply_task(struct tui_model *m, struct json_object *o)
{
	struct tui_task		*t;
	struct json_object	*e;
	char			*id = NULL, *ts = NULL;
	size_t			 i;
	int			 found, was_final;

	if ((e = client_json_get(o, "id")) == NULL)
		return (-1);
	model_str(&id, o, "id");
	if (id == NULL || *id == '\0') {
		free(id);
		return (-1);
	}
	i = model_search((void **)m->tasks, m->n_tasks, id, &found);
	if ((e = client_json_get(o, "array_id")) != NULL) {
		/* An element: its array's counts in the detail change. */
		if (m->info.task != NULL && strcmp(m->info.task,
		    json_object_get_string(e)) == 0)
			m->info.stale = 1;
		if (proto_task_state_name_is_final(client_json_str(o,
		    "state"))) {
			/* Ended: its array stands for it from now on. */
			if (found && !tui_task_is_finished(m->tasks[i])) {
				model_task_free(m->tasks[i]);
				memmove(m->tasks + i, m->tasks + i + 1,
				    (m->n_tasks - i - 1) * sizeof *m->tasks);
				m->n_tasks--;
				model_changed(m);
			}
			free(id);
			return (0);
		}
	}
	if (m->info.task != NULL && strcmp(m->info.task, id) == 0)
		m->info.stale = 1;
	if (found) {
		t = m->tasks[i];
		free(id);
		was_final = tui_task_is_finished(t);
	} else if (m->n_tasks - m->n_finished >= TUI_ACTIVE_MAX &&
	    !proto_task_state_name_is_final(client_json_str(o, "state"))) {
		/* Full: a new task not ended is left out (finished ones
		 * push the oldest finished out instead). */
		m->dropped_tasks = 1;
		free(id);
		return (-1);
	} else {
		was_final = 0;
		t = xcalloc(1, sizeof *t);
		t->id = id;
		m->tasks = xreallocarray(m->tasks, m->n_tasks + 1,
		    sizeof *m->tasks);
		memmove(m->tasks + i + 1, m->tasks + i,
		    (m->n_tasks - i) * sizeof *m->tasks);
		m->tasks[i] = t;
		m->n_tasks++;
	}
	model_str(&t->name, o, "name");
	model_str(&t->state, o, "state");
	model_str(&t->priority, o, "priority");
	model_str(&t->device, o, "device");
	model_str(&t->image, o, "image");
	model_str(&t->error, o, "error");
	model_str(&t->reason, o, "reason");
	model_str(&t->array_id, o, "array_id");
	t->array_size = model_int(client_json_get(o, "array"), "size", 0);
	if (client_json_get(o, "array") != NULL && t->array_size < 1)
		t->array_size = 1;
	t->attempt = (int)model_int(o, "attempt", 0);
	t->exit_code = (int)model_int(o, "exit_code", -1);
	model_str(&ts, o, "submitted_at");
	t->submitted_at = tui_parse_time(ts);
	model_str(&ts, o, "started_at");
	t->started_at = tui_parse_time(ts);
	model_str(&ts, o, "finished_at");
	t->finished_at = tui_parse_time(ts);
	free(ts);
	if (tui_task_is_finished(t) != was_final) {
		if (was_final)
			m->n_finished--;
		else
			m->n_finished++;
	}
	if (m->detail_task != NULL && strcmp(m->detail_task, t->id) == 0 &&
	    tui_task_is_finished(t))
		m->output_done = 1;
	if (tui_task_is_finished(t) && !was_final)
		model_prune_tasks(m);
	model_changed(m);
	return (0);
}

/* Replace the tasks not ended with a list (finished ones stay). */
void
tui_model_set_tasks(struct tui_model *m, struct json_object *arr)
{
	size_t	i, j, n;

	for (i = j = 0; i < m->n_tasks; i++) {
		if (tui_task_is_finished(m->tasks[i]))
			m->tasks[j++] = m->tasks[i];
		else
			model_task_free(m->tasks[i]);
	}
	m->n_tasks = j;
	m->n_finished = j;
	m->dropped_tasks = 0;
	if (arr != NULL && json_object_is_type(arr, json_type_array)) {
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++)
			tui_model_apply_task(m, json_object_array_get_idx(arr,
			    i));
	}
	model_changed(m);
}

/* Case-insensitive substring test; an empty needle matches. */
static int
model_match(const char *hay, const char *needle)
{
	return (*needle == '\0' || (hay != NULL &&
	    strcasestr(hay, needle) != NULL));
}

/* Whether a device passes the filter. */
static int
model_device_visible(struct tui_model *m, const struct tui_device *d)
{
	const char	*f = m->filter;

	return (model_match(d->id, f) || model_match(d->hostname, f) ||
	    model_match(d->state, f) || model_match(d->arch, f) ||
	    model_match(d->platform, f) || model_match(d->labels, f));
}

/* Whether a task passes the finished toggle and the filter. */
static int
model_task_visible(struct tui_model *m, const struct tui_task *t)
{
	const char	*f = m->filter;

	if (!m->show_finished && tui_task_is_finished(t))
		return (0);
	if (t->array_id != NULL)
		return (0);	/* its array's line stands for it */
	return (model_match(t->id, f) || model_match(t->name, f) ||
	    model_match(t->state, f) || model_match(t->device, f) ||
	    model_match(t->priority, f));
}

/* Sort rank of a task: running first, then waiting to run (queued,
 * waiting, held, or a state we do not know), then finished. */
static int
model_task_rank(const struct tui_task *t)
{
	if (t->state != NULL && (strcmp(t->state, "running") == 0 ||
	    strcmp(t->state, "assigned") == 0))
		return (0);
	if (tui_task_is_finished(t))
		return (2);
	return (1);
}

/* Priority as a number (urgent highest). */
static int
model_prio(const struct tui_task *t)
{
	int	p = proto_priority_from_name(t->priority != NULL ?
	    t->priority : "");

	return (p < 0 ? PRIO_NORMAL : p);
}

/* Task view order: running, then queued in dispatch order (priority,
 * then submission), then finished, newest first. */
static int
model_task_order(const struct tui_task *a, const struct tui_task *b)
{
	int	ra = model_task_rank(a), rb = model_task_rank(b);

	if (ra != rb)
		return (ra - rb);
	if (ra == 1 && model_prio(a) != model_prio(b))
		return (model_prio(b) - model_prio(a));
	if (ra == 2)
		return (-model_idcmp(a->id, b->id));
	return (model_idcmp(a->id, b->id));
}

/* Insertion sort of the task view (nearly sorted between rebuilds). */
static void
model_sort_tview(struct tui_model *m)
{
	size_t	i, j, v;

	for (i = 1; i < m->n_tview; i++) {
		v = m->tview[i];
		for (j = i; j > 0 && model_task_order(m->tasks[m->tview[j - 1]],
		    m->tasks[v]) > 0; j--)
			m->tview[j] = m->tview[j - 1];
		m->tview[j] = v;
	}
}

/* Find a selection id in a view after a rebuild; keep the old index
 * (clamped) if it is gone. */
static void
model_reselect(void **objs, size_t *view, size_t n, char **sel_id,
    size_t *sel)
{
	size_t	i;

	if (*sel_id != NULL) {
		for (i = 0; i < n; i++) {
			if (strcmp(*(char **)objs[view[i]], *sel_id) == 0) {
				*sel = i;
				return;
			}
		}
	}
	if (n == 0) {
		*sel = 0;
		return;
	}
	if (*sel >= n)
		*sel = n - 1;
	free(*sel_id);
	*sel_id = xstrdup(*(char **)objs[view[*sel]]);
}

/* Rebuild the views if stale. */
void
tui_model_refresh(struct tui_model *m)
{
	size_t	i;

	if (!m->stale)
		return;
	m->dview = xreallocarray(m->dview, m->n_devices + 1, sizeof *m->dview);
	m->n_dview = 0;
	for (i = 0; i < m->n_devices; i++) {
		if (model_device_visible(m, m->devices[i]))
			m->dview[m->n_dview++] = i;
	}
	m->tview = xreallocarray(m->tview, m->n_tasks + 1, sizeof *m->tview);
	m->n_tview = 0;
	for (i = 0; i < m->n_tasks; i++) {
		if (model_task_visible(m, m->tasks[i]))
			m->tview[m->n_tview++] = i;
	}
	model_sort_tview(m);
	model_reselect((void **)m->devices, m->dview, m->n_dview, &m->dsel_id,
	    &m->dsel);
	model_reselect((void **)m->tasks, m->tview, m->n_tview, &m->tsel_id,
	    &m->tsel);
	m->stale = 0;
}

/* The i-th device of the view. */
struct tui_device *
tui_model_view_device(struct tui_model *m, size_t i)
{
	tui_model_refresh(m);
	return (i < m->n_dview ? m->devices[m->dview[i]] : NULL);
}

/* The i-th task of the view. */
struct tui_task *
tui_model_view_task(struct tui_model *m, size_t i)
{
	tui_model_refresh(m);
	return (i < m->n_tview ? m->tasks[m->tview[i]] : NULL);
}

/* The selected device. */
struct tui_device *
tui_model_selected_device(struct tui_model *m)
{
	tui_model_refresh(m);	/* before reading dsel: it may move */
	return (tui_model_view_device(m, m->dsel));
}

/* The selected task. */
struct tui_task *
tui_model_selected_task(struct tui_model *m)
{
	tui_model_refresh(m);	/* before reading tsel: it may move */
	return (tui_model_view_task(m, m->tsel));
}

/* Set the selection of the current pane to index i (clamped). */
static void
model_select(struct tui_model *m, long i)
{
	size_t	 n;
	size_t	*sel;
	char	**sel_id;

	tui_model_refresh(m);
	if (m->pane == TUI_PANE_GRID) {
		n = m->n_dview;
		sel = &m->dsel;
		sel_id = &m->dsel_id;
	} else {
		n = m->n_tview;
		sel = &m->tsel;
		sel_id = &m->tsel_id;
	}
	if (n == 0)
		return;
	if (i < 0)
		i = 0;
	if ((size_t)i >= n)
		i = (long)n - 1;
	*sel = (size_t)i;
	free(*sel_id);
	if (m->pane == TUI_PANE_GRID)
		*sel_id = xstrdup(m->devices[m->dview[i]]->id);
	else
		*sel_id = xstrdup(m->tasks[m->tview[i]]->id);
	m->dirty = 1;
}

/* Move the selection.  In the grid, dy moves by rows and stays in the
 * column, landing on the last tile when the last row is shorter. */
void
tui_model_move(struct tui_model *m, int dx, int dy, int per_row)
{
	long	cur, row, col, last_row, target;

	tui_model_refresh(m);
	if (per_row < 1)
		per_row = 1;
	if (m->pane != TUI_PANE_GRID) {
		model_select(m, (long)m->tsel + dy + dx);
		return;
	}
	if (m->n_dview == 0)
		return;
	cur = (long)m->dsel;
	if (dy == 0) {
		model_select(m, cur + dx);
		return;
	}
	row = cur / per_row;
	col = cur % per_row;
	last_row = ((long)m->n_dview - 1) / per_row;
	target = row + dy;
	if (target < 0)
		target = 0;
	if (target > last_row)
		target = last_row;
	target = target * per_row + col;
	if (target >= (long)m->n_dview)
		target = (long)m->n_dview - 1;
	model_select(m, target);
}

/* Select the first or last item. */
void
tui_model_move_end(struct tui_model *m, int where)
{
	model_select(m, where < 0 ? 0 : (long)(SIZE_MAX >> 2));
}

/* Switch the focused pane. */
void
tui_model_set_pane(struct tui_model *m, enum tui_pane pane)
{
	m->pane = pane;
	m->dirty = 1;
}

/* Set the filter. */
void
tui_model_set_filter(struct tui_model *m, const char *f)
{
	snprintf(m->filter, sizeof m->filter, "%s", f != NULL ? f : "");
	model_changed(m);
}

/* Show or hide finished tasks. */
void
tui_model_toggle_finished(struct tui_model *m)
{
	m->show_finished = !m->show_finished;
	model_changed(m);
}

/* Count the cluster. */
void
tui_model_totals(struct tui_model *m, struct tui_totals *tot)
{
	const char	*s;
	size_t		 i;

	memset(tot, 0, sizeof *tot);
	tot->devices = m->n_devices;
	for (i = 0; i < m->n_devices; i++) {
		s = m->devices[i]->state != NULL ? m->devices[i]->state : "";
		if (strcmp(s, "offline") == 0)
			tot->offline++;
		else if (strcmp(s, "pending") == 0)
			tot->pending++;
		else if (*s != '\0')
			tot->online++;
	}
	for (i = 0; i < m->n_tasks; i++) {
		s = m->tasks[i]->state != NULL ? m->tasks[i]->state : "";
		/* An array counts as one line of the list while it waits to
		 * run; once running, its elements count. */
		if (m->tasks[i]->array_size > 0 && strcmp(s, "queued") != 0)
			continue;
		if (strcmp(s, "queued") == 0)
			tot->queued++;
		else if (strcmp(s, "running") == 0 ||
		    strcmp(s, "assigned") == 0)
			tot->running++;
		else if (strcmp(s, "failed") == 0 ||
		    strcmp(s, "timed_out") == 0)
			tot->failed++;
		else if (strcmp(s, "completed") == 0)
			tot->completed++;
	}
}

/* A list of files as "name size, ..." (an array's outputs as
 * "INDEX/name"), the first TUI_INFO_FILES and how many more; NULL for
 * none. */
static char *
model_files(struct json_object *a)
{
	struct json_object	*f;
	const char		*name;
	char			*out = NULL, *t, sz[16], idx[24];
	size_t			 i, n, shown = 0;

	n = a != NULL && json_object_is_type(a, json_type_array) ?
	    json_object_array_length(a) : 0;
	for (i = 0; i < n && shown < TUI_INFO_FILES; i++) {
		f = json_object_array_get_idx(a, i);
		if ((name = client_json_str(f, "name")) == NULL)
			continue;
		prof_format_bytes(model_int(f, "size", -1), sz, sizeof sz);
		idx[0] = '\0';
		if (model_int(f, "index", -1) >= 0)
			snprintf(idx, sizeof idx, "%lld/",
			    (long long)model_int(f, "index", -1));
		xasprintf(&t, "%s%s%s%s %s", out != NULL ? out : "",
		    out != NULL ? ", " : "", idx, name, sz);
		free(out);
		out = t;
		shown++;
	}
	if (out != NULL && n > shown) {
		xasprintf(&t, "%s, +%zu more", out, n - shown);
		free(out);
		out = t;
	}
	return (out);
}

/* "k: v" members of an object joined as "v k, v k" (array counts: "3
 * running, 12 completed"), leaving out zeros; NULL if none. */
static char *
model_counts(struct json_object *counts)
{
	static const char	*order[] = { "running", "assigned", "queued",
	    "waiting", "held", "completed", "failed", "timed_out",
	    "cancelled", NULL };
	char			*s = NULL, *t;
	int64_t			 v;
	size_t			 i;

	for (i = 0; order[i] != NULL; i++) {
		if ((v = model_int(counts, order[i], 0)) <= 0)
			continue;
		xasprintf(&t, "%s%s%lld %s", s != NULL ? s : "",
		    s != NULL ? ", " : "", (long long)v, order[i]);
		free(s);
		s = t;
	}
	return (s);
}

/* Keep what get_task says about the detail task. */
void
tui_model_set_info(struct tui_model *m, const char *id,
    struct json_object *task)
{
	struct json_object	*a, *deps, *d;
	const char		*kind;
	char			*t, lim[48];
	size_t			 i, n;

	if (id == NULL || task == NULL)
		return;
	tui_model_clear_info(m);
	m->info.task = xstrdup(id);
	model_str(&m->info.why, task, "why");
	if ((a = client_json_get(task, "array")) != NULL) {
		lim[0] = '\0';
		if (model_int(a, "limit", 0) > 0)
			snprintf(lim, sizeof lim, ", at most %lld running",
			    (long long)model_int(a, "limit", 0));
		xasprintf(&m->info.array, "%lld elements, %lld-%lld step %lld%s",
		    (long long)model_int(a, "size", 0),
		    (long long)model_int(a, "start", 0),
		    (long long)model_int(a, "end", 0),
		    (long long)model_int(a, "step", 1), lim);
		m->info.counts = model_counts(client_json_get(a, "counts"));
		if (m->info.counts == NULL)
			m->info.counts = xstrdup("none");
	}
	deps = client_json_get(task, "dependencies");
	n = deps != NULL && json_object_is_type(deps, json_type_array) ?
	    json_object_array_length(deps) : 0;
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(deps, i);
		if (client_json_str(d, "task_id") == NULL)
			continue;
		kind = client_json_str(d, "kind");
		xasprintf(&t, "%s%s%s %s", m->info.deps != NULL ?
		    m->info.deps : "", m->info.deps != NULL ? ", " : "",
		    kind != NULL ? kind : "after", client_json_str(d,
		    "task_id"));
		free(m->info.deps);
		m->info.deps = t;
	}
	m->info.inputs = model_files(client_json_get(task, "inputs"));
	m->info.outputs = model_files(client_json_get(task, "outputs"));
	m->dirty = 1;
}

/* The task whose output the detail pane wants. */
const char *
tui_model_wanted_task(struct tui_model *m)
{
	struct tui_task	*t;

	if (m->pane == TUI_PANE_TASKS &&
	    (t = tui_model_selected_task(m)) != NULL)
		return (t->id);
	return (m->detail_task);
}

/* Start holding output for a task. */
void
tui_model_output_reset(struct tui_model *m, const char *id,
    const char *data, size_t len)
{
	struct tui_task	*t;

	if (m->detail_task == NULL || strcmp(m->detail_task, id) != 0) {
		free(m->detail_task);
		m->detail_task = xstrdup(id);
	}
	free(m->output);
	m->output = NULL;
	m->output_len = 0;
	t = tui_model_find_task(m, id);
	m->output_done = t != NULL && tui_task_is_finished(t);
	tui_model_output_append(m, id, data, len);
	m->dirty = 1;
}

/* Append output for the detail task, keeping the last TUI_OUTPUT_MAX. */
void
tui_model_output_append(struct tui_model *m, const char *id,
    const char *data, size_t len)
{
	size_t	keep;

	if (m->detail_task == NULL || id == NULL ||
	    strcmp(m->detail_task, id) != 0)
		return;
	if (len > TUI_OUTPUT_MAX) {
		data += len - TUI_OUTPUT_MAX;
		len = TUI_OUTPUT_MAX;
	}
	if (m->output_len + len > TUI_OUTPUT_MAX) {
		keep = TUI_OUTPUT_MAX - len;
		memmove(m->output, m->output + m->output_len - keep, keep);
		m->output_len = keep;
	}
	m->output = xrealloc(m->output, m->output_len + len + 1);
	if (len > 0)
		memcpy(m->output + m->output_len, data, len);
	m->output_len += len;
	m->output[m->output_len] = '\0';
	m->dirty = 1;
}

/* The detail task ended. */
void
tui_model_output_end(struct tui_model *m, const char *id)
{
	if (m->detail_task != NULL && id != NULL &&
	    strcmp(m->detail_task, id) == 0) {
		m->output_done = 1;
		m->dirty = 1;
	}
}
