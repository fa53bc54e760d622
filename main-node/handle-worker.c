/* SPDX-License-Identifier: ISC */
/*
 * handle-worker.c -- messages from workers: register, heartbeat, bye and
 * the task_* reports.
 *
 * Admission (README, Security): a worker comes in with the join token or
 * its own device_key.  A key is bound to one device id and is made when
 * the device is approved; it travels in the register_ack of the device's
 * own connection.  Once an id has a key, the join token alone no longer
 * registers it (an operator `remove` frees the id): a device approved
 * while it was away comes back with the join token *and* the join secret
 * it generated and sent when it first joined, which the main node keeps
 * as a hash and no one else knows; it then gets its key.
 */
#include <ctype.h>
#include <fnmatch.h>
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
	    c->addr, log_sanitize(m->sender_id != NULL ? m->sender_id : "",
	    id, sizeof id), why);
	conn_send_error(c, m->message_id, code, "%s", text);
	conn_close(c, why);
}

/*
 * May a join-token registration take this known id?  Not once its key has
 * reached it; until then only with the secret it joined with (a worker
 * that sent none, from before join secrets, is let in only while the id
 * has no key).
 */
static int
worker_secret_matches(const struct device *d, const char *secret)
{
	char	*h;
	int	 ok;

	if (d->key != NULL && d->key_delivered)
		return (0);
	if (d->join_hash == NULL)
		return (d->key == NULL);
	if (secret == NULL)
		return (0);
	h = sha256_hex(secret);
	ok = proto_token_equal(h, d->join_hash);
	free(h);
	return (ok);
}

/* Check the credentials of a register; 0 and *by_key set if admitted. */
static int
worker_admit(struct conn *c, struct msg *m, const char *id,
    struct device *d, int *by_key)
{
	struct server		*s = c->server;
	struct msg_register	*r = &m->u.reg;

	*by_key = 0;
	if (r->device_key != NULL) {
		if (d == NULL || d->key == NULL ||
		    !proto_token_equal(d->key, r->device_key)) {
			worker_refuse(c, m, PROTO_UNAUTHORIZED, "bad_key",
			    "device key is not valid for %s: if the device "
			    "was removed, delete device.key in the worker's "
			    "state dir and join again with the join token",
			    id);
			return (-1);
		}
		*by_key = 1;
		return (0);
	}
	if (r->token == NULL ||
	    !token_matches(s->opt->join_token, r->token)) {
		worker_refuse(c, m, PROTO_UNAUTHORIZED, "bad_token",
		    "wrong join token: copy join.token from the main "
		    "node's state dir and pass it with --token-file");
		return (-1);
	}
	if (d != NULL && !worker_secret_matches(d, r->join_secret)) {
		worker_refuse(c, m, PROTO_CONFLICT, "id_taken",
		    "device id %s is taken: only its own device key (or, "
		    "until it has that, the join secret it first joined "
		    "with) registers it; use that device's state dir, "
		    "choose another --id, or `encore remove %s` first", id,
		    id);
		return (-1);
	}
	if (d != NULL && d->conn != NULL && d->conn != c) {
		worker_refuse(c, m, PROTO_CONFLICT, "id_connected",
		    "device id %s is connected from another place; choose "
		    "another --id", id);
		return (-1);
	}
	if (d == NULL && !s->opt->approve_auto &&
	    registry_count_pending() >= s->opt->max_pending) {
		worker_refuse(c, m, PROTO_BUSY, "max_pending",
		    "%d devices are already waiting for approval "
		    "(--max-pending); an operator must approve or reject "
		    "some first", s->opt->max_pending);
		return (-1);
	}
	return (0);
}

/* register: admit a worker, save it, acknowledge, reconcile its tasks. */
void
handle_register(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct server		*s = c->server;
	struct msg_register	*r = &m->u.reg;
	struct device		*d;
	const char		*id;
	char			*new_key = NULL;
	int			 by_key, created = 0, rc;

	if (m->protocol_version != 0 && m->protocol_version != PROTO_VERSION) {
		worker_refuse(c, m, PROTO_BAD_VERSION, "version",
		    "protocol_version %d is not spoken here (this main node "
		    "speaks %d); upgrade the older side", m->protocol_version,
		    PROTO_VERSION);
		return;
	}
	id = m->sender_id != NULL ? m->sender_id : r->info.hostname;
	if (!valid_device_id(id)) {
		char safe[PROTO_ID_MAX * 4 + 1];

		worker_refuse(c, m, PROTO_BAD_FIELD, "bad_id",
		    "sender_id \"%s\" is not a valid device id: use 1-64 "
		    "letters, digits, '.', '_' or '-' (worker --id)",
		    log_sanitize(id != NULL ? id : "", safe, sizeof safe));
		return;
	}
	d = registry_find(id);
	if (worker_admit(c, m, id, d, &by_key) != 0)
		return;
	if (d == NULL) {
		d = registry_add(id);
		d->created_at = time(NULL);
		if (s->opt->approve_auto)
			device_set_approved(d, 1);
		if (r->join_secret != NULL)
			d->join_hash = sha256_hex(r->join_secret);
		created = 1;
	}
	if (d->approved && d->key == NULL) {
		d->key = new_key = token_generate();
		d->key_delivered = 0;
	}
	if (by_key)
		d->key_delivered = 1;
	device_set_profile(d, r);
	device_set_accepting(d, 1);
	free(d->reason);
	d->reason = NULL;
	d->have_metrics = 0;
	d->last_seen_wall = time(NULL);

	/* Durable before acknowledged (the ack is held until the pass's
	 * commit). */
	rc = store_begin(s->store);
	if (rc == 0)
		rc = store_device_save(s->store, d);
	if (store_end(s->store, rc) != 0) {
		if (created)
			registry_remove(d);
		else if (new_key != NULL) {
			free(d->key);
			d->key = NULL;
		}
		conn_send_error(c, m->message_id, PROTO_INTERNAL,
		    "cannot save the device; the main node's disk may be "
		    "full; retry later");
		conn_close(c, "store failed");
		return;
	}
	device_attach(s, d, c);
	log_info("event=device_registered device=%s addr=%s auth=%s state=%s "
	    "arch=%s cores=%d slots=%d", d->id, c->addr,
	    by_key ? "key" : "token", proto_device_state_name(device_state(d)),
	    d->info.architecture != NULL ? d->info.architecture : "-",
	    d->hw.cpu_cores, d->slots);
	worker_send_ack(s, d, m->message_id);
	if (d->approved)
		task_device_registered(s, d, r->running, r->n_running);
	queue_devices_changed();
	queue_kick(s);
	watch_device(s, d);
}

/* heartbeat: live metrics and the accepting flag. */
void
handle_heartbeat(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct device		*d = c->device;
	struct msg_heartbeat	*hb = &m->u.hb;
	char			 why[PROTO_TEXT_MAX * 4 + 1];
	int			 changed;

	d->last_seen = now_mono();
	changed = d->accepting != hb->accepting || !d->have_metrics;
	d->metrics = hb->metrics;
	d->have_metrics = 1;
	device_set_accepting(d, hb->accepting);
	free(d->reason);
	d->reason = hb->reason;
	hb->reason = NULL;
	d->last_seen_wall = time(NULL);
	d->dirty = 1;
	if (d->approved && !d->key_delivered) {
		/* A heartbeat after the ack: the worker has its key. */
		d->key_delivered = 1;
		if (commit_open(c->server) == 0) {
			store_begin(c->server->store);
			store_end(c->server->store,
			    store_device_save(c->server->store, d));
		}
	}
	if (changed) {
		log_info("event=device_accepting device=%s accepting=%d "
		    "reason=\"%s\"", d->id, d->accepting,
		    log_sanitize(d->reason != NULL ? d->reason : "", why,
		    sizeof why));
		device_changed(d);
		if (d->accepting)
			queue_kick(c->server);
		watch_device(c->server, d);
	} else
		d->event_pending = 1;	/* metrics only: sent by the tick */
}

/* bye: a worker leaving takes its tasks along; an operator just goes. */
void
handle_bye(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct device	*d = c->device;
	char		 why[256];

	log_sanitize(m->u.reason != NULL ? m->u.reason : "", why, sizeof why);
	if (d == NULL) {
		log_debug("event=bye addr=%s reason=\"%s\"", c->addr, why);
		conn_close(c, "bye");
		return;
	}
	log_info("event=device_bye device=%s reason=\"%s\"", d->id, why);
	d->last_seen = now_mono();
	device_detach(c->server, d, "bye");
	device_offline(c->server, d, "bye");
	/* The worker stopped its tasks as it left: re-queue them now. */
	task_device_offline(c->server, d);
}

/* The active task a worker message is about, if it is the current
 * attempt and on this device. */
static struct task *
worker_task(struct conn *c, const char *task_id, int attempt,
    const char *what)
{
	struct task	*t;

	t = task_find_ref(task_id);
	if (t == NULL || t->attempt != attempt || t->dev != c->device) {
		char	safe[PROTO_ID_MAX * 4 + 1];

		log_debug("event=task_stale type=%s task=%s attempt=%d "
		    "device=%s", what, log_sanitize(task_id, safe,
		    sizeof safe), attempt, c->device->id);
		return (NULL);
	}
	return (t);
}

/* task_started */
void
handle_task_started(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct server		*s = c->server;
	struct task		*t;
	struct task_row		 r;

	struct task_change	 ch = { TASK_RUNNING, CAUSE_STARTED, NULL, -1,
				    NULL, 0 };

	t = worker_task(c, m->u.ref.task_id, m->u.ref.attempt,
	    "task_started");
	if (t == NULL || t->state != TASK_ASSIGNED ||
	    store_task_get(s->store, t->id, &r) != 0)
		return;
	ch.device = c->device;
	task_transition(s, &r, &ch);
	task_row_free(&r);
}

/* task_output: store the chunk (once, by seq) and stream it. */
void
handle_task_output(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct server		*s = c->server;
	struct msg_task_output	*o = &m->u.output;
	struct task		*t;
	int64_t			 stored;

	t = worker_task(c, o->task_id, o->attempt, "task_output");
	if (t == NULL)
		return;
	if (o->seq < t->next_seq) {
		/* Re-sent after a reconnect: already stored. */
		return;
	}
	stored = store_output_add(s->store, t->id, t->attempt, o->stream,
	    o->data, o->data_len, o->seq, o->seq - t->next_seq,
	    t->output_bytes, s->opt->max_output);
	if (stored < 0) {
		log_error("event=task_output_not_saved task=%lld",
		    (long long)t->id);
		return;
	}
	if (o->seq > t->next_seq)
		log_warn("event=task_output_gap task=%lld attempt=%d "
		    "lost_chunks=%lld", (long long)t->id, t->attempt,
		    (long long)(o->seq - t->next_seq));
	t->output_bytes = stored;
	t->next_seq = o->seq + 1;
	watch_output(s, t, o->stream, o->data, o->data_len);
}

/* Send result_ack. */
static void
worker_ack(struct conn *c, const char *task_id, int attempt)
{
	struct msg	m;

	msg_init(&m, MSG_RESULT_ACK);
	m.sender_id = (char *)"main";
	m.u.ref.task_id = (char *)task_id;
	m.u.ref.attempt = attempt;
	conn_send(c, &m);
}

/* Distinct devices on which a task failed to start. */
static int
worker_start_fails(const char *avoid)
{
	const char	*p;
	int		 n = 0;

	for (p = avoid; p != NULL && *p != '\0'; ) {
		n += p[0] == 's' && p[1] == ':';
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return (n);
}

/* 1 if an approved device that could run the task has not failed to
 * start it yet (it may be offline now: it may come back). */
static int
worker_start_elsewhere(const struct task_row *r)
{
	struct device	*d;
	const char	*p;
	size_t		 n;
	int		 failed;

	TAILQ_FOREACH(d, registry_list(), entry) {
		if (!d->approved || d->quarantined != NULL ||
		    !scheduler_can_ever_run(d, &r->place))
			continue;
		n = strlen(d->id);
		failed = 0;
		for (p = r->avoid; p != NULL && *p != '\0' && !failed; ) {
			failed = p[0] == 's' && p[1] == ':' &&
			    strncmp(p + 2, d->id, n) == 0 &&
			    (p[2 + n] == '\n' || p[2 + n] == '\0');
			if ((p = strchr(p, '\n')) != NULL)
				p++;
		}
		if (!failed)
			return (1);
	}
	return (0);
}

/* Remember that a task should rather not go back to a device:
 * kind 's' (it failed to start there) or 'a' (it failed or was vacated
 * there). */
static void
worker_avoid(struct task_row *r, char kind, const char *id)
{
	char	*p, *t;
	size_t	 n = strlen(id);

	for (p = r->avoid; p != NULL && *p != '\0'; ) {
		if (p[1] == ':' && strncmp(p + 2, id, n) == 0 &&
		    (p[2 + n] == '\n' || p[2 + n] == '\0')) {
			if (kind == 's')
				p[0] = 's';	/* now a failed start too */
			return;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	xasprintf(&t, "%s%s%c:%s", r->avoid != NULL ? r->avoid : "",
	    r->avoid != NULL && *r->avoid != '\0' ? "\n" : "", kind, id);
	free(r->avoid);
	r->avoid = t;
}

/*
 * What a result says of the devices: a failed start counts against this
 * one; a completion clears it, and counts against every device the task
 * failed on before.
 */
static void
worker_health(struct server *s, struct device *d, const struct task_row *r,
    const struct msg_task_result *res)
{
	struct device	*other;
	const char	*p, *nl;
	char		 id[PROTO_ID_MAX + 1], *why;
	size_t		 n;

	if (res->start_failed) {
		/* Counted against the device only when the task may start
		 * elsewhere: a task no device can start is its own fault. */
		if (r->state != TASK_FAILED)
			device_task_failed(s, d, res->error != NULL ?
			    res->error : "failed to start");
		return;
	}
	if (r->state != TASK_COMPLETED)
		return;
	device_task_succeeded(s, d);
	for (p = r->avoid; p != NULL && *p != '\0'; p = nl != NULL ?
	    nl + 1 : NULL) {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (n < 3 || p[0] != 'a' || p[1] != ':' || n - 2 > PROTO_ID_MAX)
			continue;
		memcpy(id, p + 2, n - 2);
		id[n - 2] = '\0';
		if (strcmp(id, d->id) == 0 || (other = registry_find(id)) == NULL)
			continue;
		xasprintf(&why, "task %s failed here and completed on %s",
		    res->task_id, d->id);
		device_task_failed(s, other, why);
		free(why);
	}
}

/* Decide what a result of the current attempt does to its task. */
static void
worker_result_change(struct task_row *r, const struct task *t,
    const struct msg_task_result *res, struct task_change *ch,
    const char *device, char **why)
{
	ch->to = res->status;
	ch->cause = CAUSE_RESULT;
	ch->why = res->error;
	ch->exit_code = res->exit_code;
	if (t != NULL && t->cancel_requested) {
		ch->to = TASK_CANCELLED;
		if (ch->why == NULL)
			ch->why = "cancelled by an operator";
		return;
	}
	if (res->start_failed && res->status != TASK_CANCELLED) {
		worker_avoid(r, 's', device);
		if (!worker_start_elsewhere(r)) {
			/* Every device that could run it failed to start it:
			 * the task is at fault (a missing program or image),
			 * not the devices.  It ends with their error. */
			ch->to = TASK_FAILED;
			xasprintf(why, "failed to start on every device that "
			    "could run it: %s", res->error != NULL ?
			    res->error : "no reason given");
			ch->why = *why;
			return;
		}
		ch->cause = CAUSE_START_FAILED;
		ch->to = TASK_QUEUED;
		if (worker_start_fails(r->avoid) >= TASK_START_FAILS_MAX) {
			ch->to = TASK_HELD;
			xasprintf(why, "failed to start on %d devices: %s",
			    TASK_START_FAILS_MAX, res->error != NULL ?
			    res->error : "no reason given");
			ch->why = *why;
		}
		return;
	}
	if (res->vacated && res->status != TASK_CANCELLED) {
		ch->cause = CAUSE_VACATED;
		ch->to = TASK_QUEUED;
		worker_avoid(r, 'v', device);
		return;
	}
	if (res->status == TASK_FAILED && r->retries_left > 0) {
		ch->cause = CAUSE_RETRY;
		ch->to = TASK_QUEUED;
		worker_avoid(r, 'a', device);
	}
}

/* A result for an attempt that is not the current active one: accepted if
 * that attempt's successor has not started yet, else acknowledged and
 * dropped.  Returns 0 if it was recorded. */
static int
worker_late_result(struct conn *c, const struct msg_task_result *res)
{
	struct server		*s = c->server;
	struct task_row		 r;
	struct task		*cur;
	struct task_change	 ch;
	int			 ok = -1;

	if (task_ref_get(s->store, res->task_id, &r) != 0)
		return (-1);
	if (r.id == 0) {
		task_row_free(&r);
		return (-1);
	}
	cur = task_find(r.id);
	memset(&ch, 0, sizeof ch);
	if (!res->start_failed && !res->vacated &&
	    res->status != TASK_FAILED &&
	    (((r.state == TASK_QUEUED || r.state == TASK_HELD) &&
	    r.attempt == res->attempt) ||
	    (r.state == TASK_ASSIGNED && cur != NULL &&
	    res->attempt < r.attempt))) {
		ch.to = res->status;
		ch.cause = CAUSE_RESULT;
		ch.why = res->error;
		ch.exit_code = res->exit_code;
		ch.device = c->device;
		ch.attempt = res->attempt;
		if (task_transition(s, &r, &ch) == 0) {
			log_info("event=task_late_result task=%s attempt=%d "
			    "device=%s msg=\"accepted: the next attempt had "
			    "not started\"", res->task_id, res->attempt,
			    c->device->id);
			ok = 0;
		}
	}
	task_row_free(&r);
	return (ok);
}

/* Set a result's outcome to failed with this error. */
static void
worker_result_fail(struct msg_task_result *res, const char *fmt, ...)
{
	va_list	ap;

	free(res->error);
	va_start(ap, fmt);
	xvasprintf(&res->error, fmt, ap);
	va_end(ap);
	res->status = TASK_FAILED;
}

/*
 * The files a result names: each must be whole in the file store, and
 * each output pattern the task declared must have matched one (the
 * worker checks that too).  Else the task failed.  The outputs are
 * recorded with the task either way.
 */
static int
worker_result_outputs(struct server *s, const struct task_row *r,
    struct msg_task_result *res)
{
	struct task_row	 arr;
	struct msg	 spec;
	const char	*text = r->spec;
	size_t		 i, j;
	int		 found;

	for (i = 0; i < res->n_outputs; i++) {
		if (!files_complete(res->outputs[i].sha256,
		    res->outputs[i].size)) {
			worker_result_fail(res, "output %s was not received "
			    "whole by the main node (disk full, or the worker "
			    "lost its connection while sending it)",
			    res->outputs[i].name);
			break;
		}
	}
	memset(&arr, 0, sizeof arr);
	if (res->status == TASK_COMPLETED && !res->start_failed &&
	    !res->vacated) {
		if (r->array_id > 0 && store_task_get(s->store, r->array_id,
		    &arr) == 0)
			text = arr.spec;
		if (text != NULL && strstr(text, "\"outputs\"") != NULL &&
		    task_spec_decode(text, &spec) == 0) {
			for (j = 0; j < spec.u.task.n_outputs; j++) {
				found = 0;
				for (i = 0; i < res->n_outputs && !found; i++)
					found = fnmatch(spec.u.task.outputs[j],
					    res->outputs[i].name,
					    FNM_PATHNAME | FNM_PERIOD) == 0;
				if (!found) {
					worker_result_fail(res, "missing output "
					    "%s", spec.u.task.outputs[j]);
					break;
				}
			}
			msg_free(&spec);
		}
		task_row_free(&arr);
	}
	if (res->n_outputs > 0 && store_files_put(s->store, r->id,
	    FILE_KIND_OUTPUT, res->outputs, res->n_outputs) != 0)
		return (-1);
	return (0);
}

/* task_result: record it, then acknowledge (after the commit). */
void
handle_task_result(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct server		*s = c->server;
	struct msg_task_result	*res = &m->u.result;
	struct task		*t;
	struct task_row		 r;
	struct task_change	 ch;
	char			*why = NULL;

	t = worker_task(c, res->task_id, res->attempt, "task_result");
	if (t == NULL) {
		/* Stale or late: acknowledged either way (kept or not). */
		worker_late_result(c, res);
		worker_ack(c, res->task_id, res->attempt);
		return;
	}
	if (store_task_get(s->store, t->id, &r) != 0)
		return;
	if (worker_result_outputs(s, &r, res) != 0) {
		task_row_free(&r);
		return;		/* not durable: no ack; it comes again */
	}
	memset(&ch, 0, sizeof ch);
	worker_result_change(&r, t, res, &ch, c->device->id, &why);
	ch.device = c->device;
	if (task_transition(s, &r, &ch) == 0) {
		worker_ack(c, res->task_id, res->attempt);
		worker_health(s, c->device, &r, res);
	}
	/* else not durable: no ack; the worker re-sends it. */
	free(why);
	task_row_free(&r);
}

/* task_checkpoint: the task's last checkpoint, for every later attempt. */
void
handle_task_checkpoint(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg_checkpoint	*ck = &rq->m->u.ckpt;
	struct task		*t;
	size_t			 i;

	t = worker_task(c, ck->task_id, ck->attempt, "task_checkpoint");
	if (t == NULL)
		return;
	for (i = 0; i < ck->n_files; i++) {
		if (!files_complete(ck->files[i].sha256, ck->files[i].size)) {
			log_warn("event=checkpoint_refused task=%s attempt=%d "
			    "device=%s msg=\"file %s is not here whole; the "
			    "last checkpoint stays\"", t->ref, ck->attempt,
			    c->device->id, ck->files[i].name);
			return;
		}
	}
	if (store_files_put(c->server->store, t->id, FILE_KIND_CHECKPOINT,
	    ck->files, ck->n_files) != 0)
		return;
	log_info("event=task_checkpoint task=%s attempt=%d device=%s "
	    "files=%zu", t->ref, ck->attempt, c->device->id, ck->n_files);
}
