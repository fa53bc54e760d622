/* SPDX-License-Identifier: ISC */
/*
 * handle-worker.c -- messages from workers: register, heartbeat, bye and
 * the task_* reports.
 *
 * Admission (SPEC section 4): a worker comes in with the join token or its
 * own device_key.  A key is bound to one device id.  An id that has a key
 * which its device has used can only be taken with that key; a device that
 * is connected cannot be taken over by a token holder.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "main.h"

/* Device ids: 1..64 of [A-Za-z0-9._-], not starting with '-' or '.'. */
static int
valid_device_id(const char *id)
{
	size_t	n = 0;

	if (id == NULL || *id == '-' || *id == '.')
		return (0);
	for (; id[n] != '\0'; n++) {
		if (!isalnum((unsigned char)id[n]) && id[n] != '.' &&
		    id[n] != '_' && id[n] != '-')
			return (0);
	}
	return (n > 0 && n <= PROTO_ID_MAX);
}

/* Send register_ack; with the key when the device does not have it yet. */
void
worker_send_ack(struct server *s, struct device *d, const char *reply_to)
{
	struct msg	m;

	if (d->conn == NULL)
		return;
	msg_init(&m, MSG_REGISTER_ACK);
	m.sender_id = (char *)"main";
	m.reply_to = (char *)reply_to;
	m.u.ack.device_id = d->id;
	m.u.ack.state = (char *)(d->approved ? "approved" : "pending");
	if (d->approved && !d->key_delivered)
		m.u.ack.device_key = d->key;
	m.u.ack.heartbeat_interval = s->opt->heartbeat_interval;
	conn_send(d->conn, &m);
}

/* Refuse a register: error, then close. */
static void __attribute__((format(printf, 5, 6)))
worker_refuse(struct conn *c, struct msg *m, enum proto_code code,
    const char *why, const char *fmt, ...)
{
	char	id[PROTO_ID_MAX * 4 + 1], text[PROTO_TEXT_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	log_warn("event=register_refused addr=%s device=\"%s\" reason=%s",
	    c->addr, log_sanitize(m->sender_id, id, sizeof id), why);
	conn_send_error(c, m->message_id, code, "%s", text);
	conn_close(c, why);
}

/* Admit a worker. */
static void
worker_register(struct conn *c, struct msg *m)
{
	struct server		*s = c->server;
	struct msg_register	*r = &m->u.reg;
	struct device		*d;
	const char		*id;
	int			 by_key = 0;

	if (m->protocol_version != 0 && m->protocol_version != PROTO_VERSION) {
		worker_refuse(c, m, PROTO_BAD_VERSION, "version",
		    "protocol_version %d is not spoken here (this main node "
		    "speaks %d); upgrade the older side", m->protocol_version,
		    PROTO_VERSION);
		return;
	}
	id = m->sender_id != NULL ? m->sender_id : r->info.hostname;
	if (!valid_device_id(id)) {
		worker_refuse(c, m, PROTO_BAD_FIELD, "bad_id",
		    "sender_id \"%.64s\" is not a valid device id: use 1-64 "
		    "letters, digits, '.', '_' or '-' (worker --id)",
		    id != NULL ? id : "");
		return;
	}
	d = registry_find(id);
	if (r->device_key != NULL) {
		if (d == NULL || d->key == NULL ||
		    !proto_token_equal(d->key, r->device_key)) {
			worker_refuse(c, m, PROTO_UNAUTHORIZED, "bad_key",
			    "device key is not valid for %s: if the device "
			    "was removed, delete device.key in the worker's "
			    "state dir and join again with the join token",
			    id);
			return;
		}
		by_key = 1;
	} else if (r->token == NULL ||
	    !proto_token_equal(s->opt->join_token, r->token)) {
		worker_refuse(c, m, PROTO_UNAUTHORIZED, "bad_token",
		    "wrong join token: copy join.token from the main "
		    "node's state dir and pass it with --token-file");
		return;
	} else if (d != NULL && d->key != NULL && d->key_delivered) {
		worker_refuse(c, m, PROTO_CONFLICT, "id_taken",
		    "device id %s is already registered with its own key: "
		    "use that device's state dir, choose another --id, or "
		    "`encore remove` the old device first", id);
		return;
	}
	if (d != NULL && d->conn != NULL && d->conn != c) {
		if (!by_key) {
			worker_refuse(c, m, PROTO_CONFLICT, "id_connected",
			    "device id %s is connected from another place; "
			    "choose another --id", id);
			return;
		}
		/* The real device is back; its old connection is stale. */
		log_info("event=device_takeover device=%s old=%s new=%s", id,
		    d->conn->addr, c->addr);
		d->conn->device = NULL;
		d->conn->role = ROLE_JSON;
		conn_close(d->conn, "replaced by a new connection");
		d->conn = NULL;
	}
	if (d == NULL) {
		d = registry_add(id);
		d->created_at = time(NULL);
		d->approved = s->opt->approve_auto;
	}
	if (by_key)
		d->key_delivered = 1;
	if (d->approved && d->key == NULL)
		d->key = token_generate();
	device_set_profile(d, r);
	d->conn = c;
	d->online = 1;
	d->accepting = 1;
	free(d->reason);
	d->reason = NULL;
	d->have_metrics = 0;
	d->last_seen = now_mono();
	d->last_seen_wall = time(NULL);
	d->lost_at = 0;
	c->device = d;
	c->role = ROLE_WORKER;

	/* Durable before acknowledged. */
	if (store_device_save(s->store, d) != 0) {
		conn_send_error(c, m->message_id, PROTO_INTERNAL,
		    "cannot save the device; the main node's disk may be "
		    "full; retry later");
		conn_close(c, "store failed");
		return;
	}
	log_info("event=device_registered device=%s addr=%s auth=%s state=%s "
	    "arch=%s cores=%d slots=%d", d->id, c->addr,
	    by_key ? "key" : "token", device_state_name(device_state(d)),
	    d->info.architecture != NULL ? d->info.architecture : "-",
	    d->hw.cpu_cores, d->slots);
	worker_send_ack(s, d, m->message_id);
	tasks_device_registered(s, d, r->running, r->n_running);
	client_event_device(s, d);
}

/* Live metrics and the accepting flag. */
static void
worker_heartbeat(struct conn *c, struct msg *m)
{
	struct device		*d = c->device;
	struct msg_heartbeat	*hb = &m->u.hb;
	int			 changed;

	changed = d->accepting != hb->accepting || !d->have_metrics;
	d->metrics = hb->metrics;
	d->have_metrics = 1;
	d->accepting = hb->accepting;
	free(d->reason);
	d->reason = hb->reason;
	hb->reason = NULL;
	d->last_seen = now_mono();
	d->last_seen_wall = time(NULL);
	d->dirty = 1;
	if (d->approved && !d->key_delivered) {
		/* A heartbeat after the ack: the worker has its key. */
		d->key_delivered = 1;
		store_device_save(c->server->store, d);
	}
	if (changed) {
		log_info("event=device_accepting device=%s accepting=%d "
		    "reason=\"%s\"", d->id, d->accepting,
		    d->reason != NULL ? d->reason : "");
		if (d->accepting)
			tasks_kick(c->server);
		client_event_device(c->server, d);
	} else
		d->event_pending = 1;	/* metrics only: sent by the tick */
}

/* Handle a message from a worker connection (or a register). */
void
worker_handle(struct conn *c, struct msg *m)
{
	char	why[256];

	if (m->type == MSG_REGISTER) {
		worker_register(c, m);
		return;
	}
	if (c->device == NULL)
		return;		/* removed while connected */
	c->device->last_seen = now_mono();
	switch (m->type) {
	case MSG_HEARTBEAT:
		worker_heartbeat(c, m);
		break;
	case MSG_BYE:
		log_info("event=device_bye device=%s reason=\"%s\"",
		    c->device->id, log_sanitize(m->u.reason, why, sizeof why));
		worker_offline(c->server, c->device, "bye");
		c->device->conn = NULL;
		c->device = NULL;
		c->role = ROLE_JSON;
		conn_close(c, "bye");
		break;
	case MSG_TASK_STARTED:
	case MSG_TASK_OUTPUT:
	case MSG_TASK_RESULT:
		tasks_worker_message(c, m);
		break;
	default:
		break;
	}
}

/* A worker's connection is gone; it may come back within a heartbeat
 * interval before it counts as offline. */
void
worker_lost(struct conn *c)
{
	struct device	*d = c->device;

	if (d == NULL || d->conn != c)
		return;
	d->conn = NULL;
	d->lost_at = now_mono();
	c->device = NULL;
	log_info("event=device_disconnected device=%s", d->id);
}

/* Mark a device offline and give its tasks back to the queue. */
void
worker_offline(struct server *s, struct device *d, const char *why)
{
	if (!d->online)
		return;
	d->online = 0;
	d->have_metrics = 0;
	log_info("event=device_offline device=%s reason=\"%s\"", d->id, why);
	tasks_device_lost(s, d);
	client_event_device(s, d);
}
