/* SPDX-License-Identifier: ISC */
/*
 * view.c -- the JSON objects replies, events and exports show of tasks,
 * devices and the cluster (their shapes are in protocol/PROTOCOL.md,
 * "Shapes").  One definition each, so every listing agrees.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "main.h"

/* A double, or null when unknown. */
static struct json_object *
jnum(double v)
{
	return (isnan(v) ? NULL : json_object_new_double(v));
}

/* An integer, or null when unknown (< 0). */
static struct json_object *
jint(int64_t v)
{
	return (v < 0 ? NULL : json_object_new_int64(v));
}

/* A string, or null. */
static struct json_object *
jstr(const char *s)
{
	return (s != NULL ? json_object_new_string(s) : NULL);
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

/* {"ok": true} plus one member. */
struct json_object *
view_ok(const char *key, struct json_object *val)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	if (key != NULL)
		json_object_object_add(o, key, val);
	return (o);
}

/* The TASK object of replies and events. */
struct json_object *
view_task(const struct task_row *r)
{
	struct json_object	*o = json_object_new_object(), *a;
	char			 id[48];

	json_object_object_add(o, "id", json_object_new_string(
	    task_ref_format(r, id, sizeof id)));
	json_object_object_add(o, "name", jstr(r->name));
	json_object_object_add(o, "state",
	    json_object_new_string(proto_task_status_name(r->state)));
	json_object_object_add(o, "priority",
	    json_object_new_string(proto_priority_name(r->priority)));
	json_object_object_add(o, "device", jstr(r->device));
	json_object_object_add(o, "attempt", json_object_new_int(r->attempt));
	json_object_object_add(o, "exit_code", r->exit_code >= 0 ?
	    json_object_new_int(r->exit_code) : NULL);
	json_object_object_add(o, "submitted_at", jtime(r->submitted_at));
	json_object_object_add(o, "started_at", jtime(r->started_at));
	json_object_object_add(o, "finished_at", jtime(r->finished_at));
	json_object_object_add(o, "task_type", json_object_new_string(
	    proto_task_type_name(r->place.type)));
	json_object_object_add(o, "image", jstr(r->image));
	json_object_object_add(o, "error", jstr(r->error));
	if (r->reason != NULL)
		json_object_object_add(o, "reason", jstr(r->reason));
	if (r->array_id > 0) {
		snprintf(id, sizeof id, "%lld", (long long)r->array_id);
		json_object_object_add(o, "array_id",
		    json_object_new_string(id));
		json_object_object_add(o, "array_index",
		    json_object_new_int64(r->array_index));
	}
	if (r->kind == TASK_KIND_ARRAY) {
		a = json_object_new_object();
		json_object_object_add(a, "size",
		    json_object_new_int64(ARRAY_SIZE(r)));
		json_object_object_add(a, "start",
		    json_object_new_int64(r->array_start));
		json_object_object_add(a, "end",
		    json_object_new_int64(r->array_end));
		json_object_object_add(a, "step",
		    json_object_new_int64(r->array_step));
		json_object_object_add(a, "limit",
		    json_object_new_int(r->array_limit));
		json_object_object_add(o, "array", a);
	}
	return (o);
}

/* An array's elements by state: those made, by their rows; those not
 * made yet, in the array's state (or cancelled). */
struct json_object *
view_array_counts(struct server *s, const struct task_row *r)
{
	struct json_object	*o = json_object_new_object();
	int64_t			 n[TASK__COUNT], pending;
	int			 i;

	if (store_array_state_counts(s->store, r->id, n) != 0)
		memset(n, 0, sizeof n);
	pending = ARRAY_SIZE(r) - r->array_next;
	if (pending > 0 && !proto_task_status_is_final(r->state))
		n[r->state == TASK_WAITING || r->state == TASK_HELD ?
		    r->state : TASK_QUEUED] += pending;
	n[TASK_CANCELLED] += r->array_cancelled;
	for (i = 0; i < TASK__COUNT; i++)
		json_object_object_add(o, proto_task_status_name(i),
		    json_object_new_int64(n[i]));
	return (o);
}

/* Collect one dependency. */
static void
view_dep_cb(int64_t id, int64_t index, int kind, void *arg)
{
	static const char	*kinds[] = { "after", "after_any",
				    "after_notok" };
	struct json_object	*o = json_object_new_object();
	char			 ref[48];

	if (index >= 0)
		snprintf(ref, sizeof ref, "%lld.%lld", (long long)id,
		    (long long)index);
	else
		snprintf(ref, sizeof ref, "%lld", (long long)id);
	json_object_object_add(o, "task_id", json_object_new_string(ref));
	json_object_object_add(o, "kind", json_object_new_string(
	    kind >= 0 && kind <= 2 ? kinds[kind] : "after"));
	json_object_array_add(arg, o);
}

/* A task's dependencies. */
static struct json_object *
view_deps(struct server *s, int64_t id)
{
	struct json_object	*a = json_object_new_array();

	store_deps_of(s->store, id, view_dep_cb, a);
	return (a);
}

/* Collect attempts into a json array. */
static void
view_attempt_cb(const struct attempt_row *a, void *arg)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "attempt", json_object_new_int(a->attempt));
	json_object_object_add(o, "device", jstr(a->device));
	json_object_object_add(o, "state", json_object_new_string(
	    proto_task_status_name((enum proto_task_status)a->state)));
	json_object_object_add(o, "exit_code", a->exit_code >= 0 ?
	    json_object_new_int(a->exit_code) : NULL);
	json_object_object_add(o, "started_at", jtime(a->started_at));
	json_object_object_add(o, "finished_at", jtime(a->finished_at));
	json_object_object_add(o, "error", jstr(a->error));
	json_object_array_add(arg, o);
}

/* [{name, sha256, size, mode}] */
static struct json_object *
view_files(const struct proto_file *f, size_t n)
{
	struct json_object	*a = json_object_new_array(), *o;
	size_t			 i;

	for (i = 0; f != NULL && i < n && n != (size_t)-1; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "name",
		    json_object_new_string(f[i].name));
		json_object_object_add(o, "sha256",
		    json_object_new_string(f[i].sha256));
		json_object_object_add(o, "size",
		    json_object_new_int64(f[i].size));
		json_object_object_add(o, "mode",
		    json_object_new_int(f[i].mode));
		json_object_array_add(a, o);
	}
	return (a);
}

/* One output of an array's element, with its index. */
static void
view_array_output_cb(int64_t index, const struct proto_file *f, void *arg)
{
	struct json_object	*a = arg, *o = view_files(f, 1), *one;

	one = json_object_get(json_object_array_get_idx(o, 0));
	json_object_put(o);
	json_object_object_add(one, "index", json_object_new_int64(index));
	json_object_array_add(a, one);
}

/* A task's files: inputs as submitted, outputs sent back, the last
 * checkpoint; an array's outputs are its elements', each with its index
 * (at most VIEW_ARRAY_OUTPUTS of them). */
#define VIEW_ARRAY_OUTPUTS	100000
static void
view_task_files(struct server *s, const struct task_row *r,
    const struct proto_task *t, struct json_object *o)
{
	struct proto_file	*f;
	struct json_object	*a;
	size_t			 n;
	int			 got;

	json_object_object_add(o, "inputs", view_files(t->inputs,
	    t->n_inputs));
	json_object_object_add(o, "output_patterns",
	    json_from_strv(t->outputs, t->n_outputs));
	json_object_object_add(o, "checkpoint_patterns",
	    json_from_strv(t->checkpoints, t->n_checkpoints));
	if (r->kind == TASK_KIND_ARRAY) {
		a = json_object_new_array();
		got = store_array_outputs(s->store, r->id,
		    VIEW_ARRAY_OUTPUTS + 1, view_array_output_cb, a);
		if (got > VIEW_ARRAY_OUTPUTS) {
			json_object_array_del_idx(a, VIEW_ARRAY_OUTPUTS, 1);
			json_object_object_add(o, "outputs_truncated",
			    json_object_new_boolean(1));
		}
		json_object_object_add(o, "outputs", a);
		return;
	}
	f = store_files_get(s->store, r->id, FILE_KIND_OUTPUT, &n);
	json_object_object_add(o, "outputs", view_files(f, n));
	if (n != (size_t)-1)
		proto_files_free(f, n);
	f = store_files_get(s->store, r->id, FILE_KIND_CHECKPOINT, &n);
	json_object_object_add(o, "checkpoint", view_files(f, n));
	if (n != (size_t)-1)
		proto_files_free(f, n);
}

/* The full TASK of get_task: spec fields and attempts. */
struct json_object *
view_task_full(struct server *s, const struct task_row *r)
{
	struct json_object	*o = view_task(r), *a, *lim, *req;
	struct proto_task	*t;
	struct msg		 m;
	char			*why;
	int			 rc;

	if (r->array_id > 0)
		rc = array_element_spec(s, r, &m);
	else
		rc = task_spec_decode(r->spec, &m);
	if (rc == 0) {
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
		view_task_files(s, r, t, o);
		msg_free(&m);
	}
	json_object_object_add(o, "retries_left",
	    json_object_new_int(r->retries_left));
	json_object_object_add(o, "requeues",
	    json_object_new_int(r->requeues));
	a = json_object_new_array();
	if (r->id > 0)
		store_attempt_list(s->store, r->id, view_attempt_cb, a);
	json_object_object_add(o, "attempts", a);
	if (r->kind == TASK_KIND_ARRAY)
		json_object_object_add(json_object_object_get(o, "array"),
		    "counts", view_array_counts(s, r));
	if (r->id > 0)
		json_object_object_add(o, "dependencies", view_deps(s, r->id));
	why = why_text(s, r);
	json_object_object_add(o, "why", jstr(why));
	free(why);
	return (o);
}

/* The DEVICE object of replies and events. */
struct json_object *
view_device(struct device *d)
{
	struct json_object	*o = json_object_new_object(), *load;
	struct proto_metrics	*mt = &d->metrics;
	int			 live = d->online && d->have_metrics;
	int			 i;

	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object_object_add(o, "hostname", jstr(d->info.hostname));
	json_object_object_add(o, "state", json_object_new_string(
	    proto_device_state_name(device_state(d))));
	json_object_object_add(o, "arch", jstr(d->info.architecture));
	json_object_object_add(o, "platform", jstr(d->info.platform));
	json_object_object_add(o, "os", jstr(d->info.os));
	json_object_object_add(o, "kernel", jstr(d->info.kernel));
	json_object_object_add(o, "cores", jint(d->hw.cpu_cores));
	json_object_object_add(o, "cpu_model", jstr(d->hw.cpu_model));
	json_object_object_add(o, "model", jstr(d->hw.model));
	json_object_object_add(o, "cpu_mhz", jnum(d->hw.cpu_mhz));
	json_object_object_add(o, "mem_total", jint(d->hw.memory_total));
	json_object_object_add(o, "disk_total", jint(d->hw.disk_space));
	json_object_object_add(o, "disk_free", jint(d->hw.disk_free));
	json_object_object_add(o, "labels", json_from_kv(d->labels,
	    d->n_labels));
	json_object_object_add(o, "capabilities", json_from_strv(d->caps,
	    d->n_caps));
	json_object_object_add(o, "slots", json_object_new_int(d->slots));
	json_object_object_add(o, "running", json_object_new_int(d->running));
	json_object_object_add(o, "cpu_pct", live ? jnum(mt->cpu_usage) :
	    NULL);
	json_object_object_add(o, "mem_pct", live ? jnum(mt->memory_usage) :
	    NULL);
	json_object_object_add(o, "disk_pct", live ? jnum(mt->disk_usage) :
	    NULL);
	if (live) {
		load = json_object_new_array();
		for (i = 0; i < 3; i++)
			json_object_array_add(load,
			    jnum(mt->load_average[i]));
	} else
		load = NULL;
	json_object_object_add(o, "load", load);
	json_object_object_add(o, "temp_c", live ? jnum(mt->temperature) :
	    NULL);
	json_object_object_add(o, "battery_pct", live ?
	    jint(mt->battery_percent) : NULL);
	json_object_object_add(o, "charging", live &&
	    mt->battery_percent >= 0 ?
	    json_object_new_boolean(mt->battery_charging) : NULL);
	json_object_object_add(o, "net_rx", live ? jint(mt->net_rx) : NULL);
	json_object_object_add(o, "net_tx", live ? jint(mt->net_tx) : NULL);
	json_object_object_add(o, "uptime", live ? jnum(mt->uptime) : NULL);
	json_object_object_add(o, "last_seen_s", d->last_seen > 0 ?
	    json_object_new_int64((int64_t)(now_mono() - d->last_seen)) :
	    (d->last_seen_wall > 0 ? json_object_new_int64(time(NULL) -
	    d->last_seen_wall) : NULL));
	json_object_object_add(o, "accepting",
	    json_object_new_boolean(d->accepting));
	json_object_object_add(o, "reason", jstr(device_reason(d)));
	json_object_object_add(o, "quarantined",
	    json_object_new_boolean(d->quarantined != NULL));
	json_object_object_add(o, "gpus", json_from_strv(d->hw.gpus,
	    d->hw.n_gpus));
	json_object_object_add(o, "interfaces",
	    json_from_strv(d->hw.network_interfaces, d->hw.n_ifaces));
	return (o);
}

/* Cluster summary, shared by the status reply and the text export. */
struct json_object *
view_status(struct server *s)
{
	struct json_object	*o = json_object_new_object();
	struct device		*d;
	int64_t			 n[DEVICE__COUNT] = { 0 }, t[TASK__COUNT];
	int			 total = 0, online = 0, i;
	char			 key[64];

	TAILQ_FOREACH(d, registry_list(), entry) {
		enum proto_device_state st = device_state(d);

		n[st]++;
		total++;
		if (st != DEVICE_OFFLINE && st != DEVICE_PENDING)
			online++;
	}
	task_counts(t);
	json_object_object_add(o, "devices_total",
	    json_object_new_int(total));
	json_object_object_add(o, "devices_online",
	    json_object_new_int(online));
	for (i = 0; i < DEVICE__COUNT; i++) {
		if (i == DEVICE_ONLINE)	/* in devices_online */
			continue;
		snprintf(key, sizeof key, "devices_%s",
		    proto_device_state_name(i));
		json_object_object_add(o, key, json_object_new_int64(n[i]));
	}
	for (i = 0; i < TASK__COUNT; i++) {
		snprintf(key, sizeof key, "tasks_%s",
		    proto_task_status_name(i));
		json_object_object_add(o, key, json_object_new_int64(t[i]));
	}
	json_object_object_add(o, "connections",
	    json_object_new_int(s->n_conns));
	json_object_object_add(o, "uptime_s",
	    json_object_new_int64((int64_t)(now_mono() - s->started)));
	json_object_object_add(o, "version",
	    json_object_new_string(ENCORE_VERSION));
	return (o);
}
