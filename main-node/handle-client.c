/* SPDX-License-Identifier: ISC */
/*
 * handle-client.c -- operator sessions (the CLI and encore-top): auth,
 * device administration, cluster status and event subscriptions.  Task
 * requests go on to tasks.c.
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

static struct json_object *
jstr(const char *s)
{
	return (s != NULL ? json_object_new_string(s) : NULL);
}

/* The DEVICE object of replies and events (PROTOCOL.md). */
struct json_object *
client_device_json(struct device *d)
{
	struct json_object	*o = json_object_new_object(), *load;
	struct proto_metrics	*mt = &d->metrics;
	int			 live = d->online && d->have_metrics;
	int			 i;

	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object_object_add(o, "hostname", jstr(d->info.hostname));
	json_object_object_add(o, "state",
	    json_object_new_string(device_state_name(device_state(d))));
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
	json_object_object_add(o, "reason", jstr(d->reason));
	json_object_object_add(o, "gpus", json_from_strv(d->hw.gpus,
	    d->hw.n_gpus));
	json_object_object_add(o, "interfaces",
	    json_from_strv(d->hw.network_interfaces, d->hw.n_ifaces));
	return (o);
}

/* {"ok": true} plus one member. */
static struct json_object *
reply_ok(const char *key, struct json_object *val)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	if (key != NULL)
		json_object_object_add(o, key, val);
	return (o);
}

/* Send an event to every operator subscribed to a topic. */
static void
client_broadcast(struct server *s, int devices, struct json_object *ev)
{
	struct conn	*c, *next;

	TAILQ_FOREACH_SAFE(c, &s->watchers, watch_entry, next) {
		if (c->closing)
			continue;
		if (devices ? c->sub_devices : c->sub_tasks)
			conn_send_json(c, MSG_EVENT, NULL,
			    json_object_get(ev));
	}
	json_object_put(ev);
}

/* Whether anyone listens to device events. */
static int
client_any_subscriber(struct server *s, int devices)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &s->watchers, watch_entry) {
		if (devices ? c->sub_devices : c->sub_tasks)
			return (1);
	}
	return (0);
}

/* Tell subscribers a device changed. */
void
client_event_device(struct server *s, struct device *d)
{
	struct json_object	*ev;

	d->event_pending = 0;
	if (!client_any_subscriber(s, 1))
		return;
	ev = json_object_new_object();
	json_object_object_add(ev, "topic", json_object_new_string("devices"));
	json_object_object_add(ev, "device", client_device_json(d));
	client_broadcast(s, 1, ev);
}

/* Tell subscribers a device was removed. */
void
client_event_removed(struct server *s, const char *id)
{
	struct json_object	*ev;

	if (!client_any_subscriber(s, 1))
		return;
	ev = json_object_new_object();
	json_object_object_add(ev, "topic", json_object_new_string("devices"));
	json_object_object_add(ev, "removed", json_object_new_string(id));
	client_broadcast(s, 1, ev);
}

/* Tell subscribers a task changed (takes ownership of task). */
void
client_event_task(struct server *s, struct json_object *task)
{
	struct json_object	*ev;

	if (!client_any_subscriber(s, 0)) {
		json_object_put(task);
		return;
	}
	ev = json_object_new_object();
	json_object_object_add(ev, "topic", json_object_new_string("tasks"));
	json_object_object_add(ev, "task", task);
	client_broadcast(s, 0, ev);
}

/* auth: the operator token opens an operator session. */
static void
client_auth(struct conn *c, struct msg *m)
{
	if (m->protocol_version != 0 && m->protocol_version != PROTO_VERSION) {
		conn_reply_error(c, m->message_id, PROTO_BAD_VERSION,
		    "protocol_version %d is not spoken here (this main node "
		    "speaks %d); upgrade the older side", m->protocol_version,
		    PROTO_VERSION);
		conn_close(c, "bad version");
		return;
	}
	if (c->role == ROLE_OPERATOR) {
		conn_send_json(c, MSG_REPLY, m->message_id,
		    reply_ok("role", json_object_new_string("operator")));
		return;
	}
	if (!proto_token_equal(c->server->opt->operator_token, m->u.token)) {
		log_warn("event=auth_failed addr=%s", c->addr);
		conn_reply_error(c, m->message_id, PROTO_UNAUTHORIZED,
		    "wrong operator token: use the one in the main node's "
		    "state dir (operator.token), via --token or ENCORE_TOKEN");
		conn_close(c, "bad operator token");
		return;
	}
	c->role = ROLE_OPERATOR;
	log_info("event=operator_auth addr=%s", c->addr);
	conn_send_json(c, MSG_REPLY, m->message_id,
	    reply_ok("role", json_object_new_string("operator")));
}

/* list_devices */
static void
client_list_devices(struct conn *c, struct msg *m)
{
	struct json_object	*a = json_object_new_array();
	struct device		*d;

	TAILQ_FOREACH(d, registry_list(), entry)
		json_object_array_add(a, client_device_json(d));
	conn_send_json(c, MSG_REPLY, m->message_id, reply_ok("devices", a));
}

/* Cluster summary, shared with the text export. */
struct json_object *
client_status_json(struct server *s)
{
	struct json_object	*o = json_object_new_object();
	struct device		*d;
	int64_t			 n[6] = { 0 }, t[7] = { 0 };
	int			 total = 0, online = 0;
	size_t			 i;
	static const char	*dk[] = { NULL, "devices_busy",
	    "devices_paused", "devices_offline", "devices_pending",
	    "devices_draining" };
	static const char	*tk[] = { "tasks_queued", "tasks_assigned",
	    "tasks_running", "tasks_completed", "tasks_failed",
	    "tasks_timed_out", "tasks_cancelled" };

	TAILQ_FOREACH(d, registry_list(), entry) {
		enum device_state st = device_state(d);

		n[st]++;
		total++;
		if (st != DEV_OFFLINE && st != DEV_PENDING)
			online++;
	}
	tasks_status(s, t);
	json_object_object_add(o, "devices_total",
	    json_object_new_int(total));
	json_object_object_add(o, "devices_online",
	    json_object_new_int(online));
	for (i = 1; i < 6; i++)	/* [0] online-idle is in devices_online */
		json_object_object_add(o, dk[i], json_object_new_int64(n[i]));
	for (i = 0; i < 7; i++)
		json_object_object_add(o, tk[i], json_object_new_int64(t[i]));
	json_object_object_add(o, "connections",
	    json_object_new_int(s->n_conns));
	json_object_object_add(o, "uptime_s",
	    json_object_new_int64((int64_t)(now_mono() - s->started)));
	json_object_object_add(o, "version",
	    json_object_new_string(ENCORE_VERSION));
	return (o);
}

/* approve, reject, drain, undrain, remove */
static void
client_device_admin(struct conn *c, struct msg *m)
{
	struct server	*s = c->server;
	struct device	*d;
	const char	*id = m->u.target.device_id;
	char		*saved_id;

	if ((d = registry_find(id)) == NULL) {
		conn_reply_error(c, m->message_id, PROTO_NOT_FOUND,
		    "no device \"%.64s\"; see `encore devices`", id);
		return;
	}
	switch (m->type) {
	case MSG_APPROVE:
		if (d->approved) {
			conn_reply_error(c, m->message_id, PROTO_CONFLICT,
			    "device %s is already approved", id);
			return;
		}
		d->approved = 1;
		if (d->key == NULL)
			d->key = token_generate();
		d->key_delivered = 0;
		break;
	case MSG_DRAIN:
		d->drained = 1;
		break;
	case MSG_UNDRAIN:
		d->drained = 0;
		break;
	case MSG_REJECT:
		if (d->approved) {
			conn_reply_error(c, m->message_id, PROTO_CONFLICT,
			    "device %s is already approved; use `encore "
			    "remove %s` to take it out", id, id);
			return;
		}
		/* FALLTHROUGH */
	case MSG_REMOVE:
		if (store_device_delete(s->store, id) != 0) {
			conn_reply_error(c, m->message_id, PROTO_INTERNAL,
			    "cannot update the database; check the main "
			    "node's log and disk");
			return;
		}
		log_info("event=device_%s device=%s by=%s",
		    m->type == MSG_REJECT ? "rejected" : "removed", id,
		    c->addr);
		if (d->online)
			tasks_device_lost(s, d);
		if (d->conn != NULL) {
			conn_send_error(d->conn, NULL, PROTO_UNAUTHORIZED,
			    "this device was %s by an operator",
			    m->type == MSG_REJECT ? "rejected" : "removed");
			d->conn->role = ROLE_JSON;
			conn_close(d->conn, "removed");
		}
		saved_id = xstrdup(id);
		registry_remove(d);
		client_event_removed(s, saved_id);
		conn_send_json(c, MSG_REPLY, m->message_id, reply_ok("removed",
		    json_object_new_string(saved_id)));
		free(saved_id);
		return;
	default:
		return;
	}
	if (store_device_save(s->store, d) != 0) {
		conn_reply_error(c, m->message_id, PROTO_INTERNAL,
		    "cannot update the database; check the main node's log "
		    "and disk");
		return;
	}
	log_info("event=device_%s device=%s by=%s", msg_type_name(m->type),
	    d->id, c->addr);
	if (m->type == MSG_APPROVE)
		worker_send_ack(s, d, NULL);
	conn_send_json(c, MSG_REPLY, m->message_id,
	    reply_ok("device", client_device_json(d)));
	client_event_device(s, d);
	tasks_kick(s);
}

/* Handle a message in an operator session (or an auth). */
void
client_handle(struct conn *c, struct msg *m)
{
	switch (m->type) {
	case MSG_AUTH:
		client_auth(c, m);
		break;
	case MSG_LIST_DEVICES:
		client_list_devices(c, m);
		break;
	case MSG_STATUS:
		conn_send_json(c, MSG_REPLY, m->message_id,
		    reply_ok("status", client_status_json(c->server)));
		break;
	case MSG_APPROVE:
	case MSG_REJECT:
	case MSG_DRAIN:
	case MSG_UNDRAIN:
	case MSG_REMOVE:
		client_device_admin(c, m);
		break;
	case MSG_SUBSCRIBE:
		c->sub_devices = m->u.sub.devices;
		c->sub_tasks = m->u.sub.tasks;
		conn_watch(c);
		conn_send_json(c, MSG_REPLY, m->message_id, reply_ok(NULL,
		    NULL));
		break;
	default:
		tasks_client_message(c, m);
		break;
	}
}
