/* SPDX-License-Identifier: ISC */
/*
 * watch.c -- events to operators who asked for them: `subscribe` topics
 * (devices, tasks) and `logs -f` followers of one task.  Device metrics
 * from heartbeats are coalesced: at most one event per device per tick.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "main.h"

/* Whether anyone listens to a topic. */
static int
watch_any(struct server *s, int devices)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &s->watchers, watch_entry) {
		if (devices ? c->sub_devices : c->sub_tasks)
			return (1);
	}
	return (0);
}

/* Send an event to every operator subscribed to a topic (takes ev). */
static void
watch_broadcast(struct server *s, int devices, struct json_object *ev)
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

/* Tell subscribers a device changed. */
void
watch_device(struct server *s, struct device *d)
{
	struct json_object	*ev;

	d->event_pending = 0;
	if (!watch_any(s, 1) && !http_events_wanted())
		return;		/* nobody listens: no view built */
	ev = json_object_new_object();
	json_object_object_add(ev, "topic", json_object_new_string("devices"));
	json_object_object_add(ev, "device", view_device(d));
	http_event("device", json_object_object_get(ev, "device"));
	if (watch_any(s, 1))
		watch_broadcast(s, 1, ev);
	else
		json_object_put(ev);
}

/* Tell subscribers a device was removed. */
void
watch_device_removed(struct server *s, const char *id)
{
	struct json_object	*ev;

	ev = json_object_new_object();
	json_object_object_add(ev, "topic", json_object_new_string("devices"));
	json_object_object_add(ev, "removed", json_object_new_string(id));
	http_event("device", ev);
	if (watch_any(s, 1))
		watch_broadcast(s, 1, ev);
	else
		json_object_put(ev);
}

/* 1 if a `logs -f` session follows this task (an element it asked for
 * before it was made is followed by its array and index). */
static int
watch_follows(const struct conn *c, int64_t id, int64_t array_id,
    int64_t index)
{
	if (c->follow_task != 0)
		return (c->follow_task == id);
	return (c->follow_array != 0 && c->follow_array == array_id &&
	    c->follow_index == index);
}

/* A task changed: tell subscribers, and its followers when it ended. */
void
watch_task(struct server *s, const struct task_row *r)
{
	struct conn		*c, *next;
	struct json_object	*ev;

	if (watch_any(s, 0) || http_events_wanted()) {
		ev = json_object_new_object();
		json_object_object_add(ev, "topic",
		    json_object_new_string("tasks"));
		json_object_object_add(ev, "task", view_task(r));
		http_event("task", json_object_object_get(ev, "task"));
		if (watch_any(s, 0))
			watch_broadcast(s, 0, ev);
		else
			json_object_put(ev);
	}
	if (!proto_task_status_is_final(r->state))
		return;
	TAILQ_FOREACH_SAFE(c, &s->watchers, watch_entry, next) {
		if (!watch_follows(c, r->id, r->array_id, r->array_index))
			continue;
		ev = json_object_new_object();
		json_object_object_add(ev, "topic",
		    json_object_new_string("task"));
		json_object_object_add(ev, "task", view_task(r));
		conn_send_json(c, MSG_EVENT, c->follow_reply, ev);
		c->follow_task = 0;
		c->follow_array = 0;
	}
}

/* Stream an output chunk to `logs -f` followers. */
void
watch_output(struct server *s, const struct task *t, const char *stream,
    const char *data, size_t len)
{
	struct conn		*c, *next;
	struct json_object	*ev;
	const char		*ids = t->ref;

	TAILQ_FOREACH_SAFE(c, &s->watchers, watch_entry, next) {
		if (!watch_follows(c, t->id, t->array_id, t->array_index))
			continue;
		if (c->follow_task == 0)
			c->follow_task = t->id;	/* made now */
		ev = json_object_new_object();
		json_object_object_add(ev, "topic",
		    json_object_new_string("output"));
		json_object_object_add(ev, "task_id",
		    json_object_new_string(ids));
		json_object_object_add(ev, "stream",
		    json_object_new_string(stream));
		json_object_object_add(ev, "data",
		    json_object_new_string_len(data, (int)len));
		conn_send_json(c, MSG_EVENT, c->follow_reply, ev);
	}
}

/* Once a tick: the metrics events held back from heartbeats. */
void
watch_tick(struct server *s)
{
	struct device	*d;

	TAILQ_FOREACH(d, registry_list(), entry) {
		if (d->event_pending)
			watch_device(s, d);
	}
}
