/* SPDX-License-Identifier: ISC */
/*
 * handle-client.c -- operator sessions (the CLI and encore-top): auth,
 * device administration, cluster status and event subscriptions.  Task
 * requests are handle-task.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "main.h"

/* auth: the operator token opens an operator session. */
void
handle_auth(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;

	if (m->protocol_version != 0 && m->protocol_version != PROTO_VERSION) {
		request_fail(rq, PROTO_BAD_VERSION,
		    "protocol_version %d is not spoken here (this main node "
		    "speaks %d); upgrade the older side", m->protocol_version,
		    PROTO_VERSION);
		request_flush(rq);
		conn_close(c, "bad version");
		return;
	}
	if (c->role == ROLE_OPERATOR) {
		request_ok(rq, view_ok("role",
		    json_object_new_string("operator")));
		return;
	}
	if (!token_matches(c->server->opt->operator_token, m->u.token)) {
		log_warn("event=auth_failed addr=%s", c->addr);
		request_fail(rq, PROTO_UNAUTHORIZED,
		    "wrong operator token: use the one in the main node's "
		    "state dir (operator.token), via --token-file or "
		    "ENCORE_TOKEN");
		request_flush(rq);
		conn_close(c, "bad operator token");
		return;
	}
	c->role = ROLE_OPERATOR;
	log_info("event=operator_auth addr=%s", c->addr);
	request_ok(rq, view_ok("role", json_object_new_string("operator")));
}

/* list_devices */
void
handle_list_devices(struct request *rq)
{
	struct json_object	*a = json_object_new_array();
	struct device		*d;

	TAILQ_FOREACH(d, registry_list(), entry)
		json_object_array_add(a, view_device(d));
	request_ok(rq, view_ok("devices", a));
}

/* status */
void
handle_status(struct request *rq)
{
	request_ok(rq, view_ok("status", view_status(rq->s)));
}

/* subscribe */
void
handle_subscribe(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;

	c->sub_devices = m->u.sub.devices;
	c->sub_tasks = m->u.sub.tasks;
	conn_watch(c);
	request_ok(rq, view_ok(NULL, NULL));
}

/* reject, remove: forget the device, its connection and its claims. */
static void
client_device_forget(struct request *rq, struct device *d)
{
	struct conn	*c = rq->c;
	struct msg	*m = rq->m;
	struct server	*s = c->server;
	const char	*what = m->type == MSG_REJECT ? "rejected" : "removed";
	char		*id;
	int		 rc;

	if (m->type == MSG_REJECT && d->approved) {
		request_fail(rq, PROTO_CONFLICT, "device %s "
		    "is already approved; use `encore remove %s` to take it "
		    "out", d->id, d->id);
		return;
	}
	rc = store_begin(s->store);
	if (rc == 0)
		rc = store_device_delete(s->store, d->id);
	if (store_end(s->store, rc) != 0) {
		request_fail(rq, PROTO_INTERNAL, "cannot "
		    "update the database; check the main node's log and "
		    "disk");
		return;
	}
	id = xstrdup(d->id);
	log_info("event=device_%s device=%s by=%s", what, id, c->addr);
	task_device_gone(s, d);
	if (d->conn != NULL) {
		conn_send_error(d->conn, NULL, PROTO_UNAUTHORIZED,
		    "this device was %s by an operator", what);
		device_detach(s, d, what);
	}
	registry_remove(d);
	queue_devices_changed();
	watch_device_removed(s, id);
	request_ok(rq, view_ok("removed",
	    json_object_new_string(id)));
	free(id);
}

/*
 * approve, reject, drain, undrain, remove.  The database is written
 * first; memory keeps the change only if the write succeeded.
 */
void
handle_device_admin(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct dispatch_target	*tg = &rq->t;
	struct server	*s = c->server;
	struct device	*d = tg->device;
	char		*old_key = NULL, *old_quarantine = NULL;
	int		 old_drained = d->drained, old_delivered;
	int		 old_streak = d->fail_streak;
	int		 rc;

	if (m->type == MSG_REJECT || m->type == MSG_REMOVE) {
		client_device_forget(rq, d);
		return;
	}
	old_delivered = d->key_delivered;
	switch (m->type) {
	case MSG_APPROVE:
		if (d->approved) {
			request_fail(rq, PROTO_CONFLICT,
			    "device %s is already approved", d->id);
			return;
		}
		device_set_approved(d, 1);
		/* The key is made now: a connected device gets it in the
		 * ack, one that is away when it comes back with its join
		 * secret. */
		if (d->key == NULL) {
			d->key = token_generate();
			old_key = d->key;
			d->key_delivered = 0;
		}
		break;
	case MSG_DRAIN:
		d->drained = 1;
		break;
	case MSG_UNDRAIN:
		d->drained = 0;
		old_quarantine = d->quarantined;
		old_streak = d->fail_streak;
		d->quarantined = NULL;
		d->fail_streak = 0;
		break;
	default:
		return;
	}
	rc = store_begin(s->store);
	if (rc == 0)
		rc = store_device_save(s->store, d);
	if (store_end(s->store, rc) != 0) {
		/* Undo: the scheduler must not obey a change not saved. */
		if (m->type == MSG_APPROVE) {
			device_set_approved(d, 0);
			if (old_key != NULL) {
				free(d->key);
				d->key = NULL;
			}
			d->key_delivered = old_delivered;
		}
		d->drained = old_drained;
		if (old_quarantine != NULL) {
			d->quarantined = old_quarantine;
			old_quarantine = NULL;
		}
		d->fail_streak = old_streak;
		device_changed(d);
		request_fail(rq, PROTO_INTERNAL,
		    "cannot update the database; check the main node's log "
		    "and disk");
		return;
	}
	device_changed(d);
	free(old_quarantine);
	log_info("event=device_%s device=%s by=%s", msg_type_name(m->type),
	    d->id, c->addr);
	if (m->type == MSG_APPROVE && d->conn != NULL) {
		d->conn->role = ROLE_WORKER;
		worker_send_ack(s, d, NULL);
		queue_devices_changed();
	}
	request_ok(rq, view_ok("device", view_device(d)));
	watch_device(s, d);
	queue_kick(s);
}
