/* SPDX-License-Identifier: ISC */
/*
 * liveness.c -- a device's connection and its life: a registered
 * connection is attached to its device and detached from it in one place
 * each; a device whose connection closed, or that fell silent, turns
 * offline; its tasks go back to the queue only once --lost-after has
 * passed since its last message, so a device that comes back in time
 * keeps them (same attempt, nothing run twice).
 *
 * Time the main node itself did not run (a suspended NAS, a paused VM)
 * does not count against devices: a late tick moves every device's clock
 * by the stall before anyone is judged, so the heartbeats that piled up
 * meanwhile are read first.
 */
#include <stdlib.h>

#include "main.h"

/* A registered connection now speaks for d (a device back after an
 * outage replaces its stale connection). */
void
device_attach(struct server *s, struct device *d, struct conn *c)
{
	if (d->conn != NULL && d->conn != c) {
		log_info("event=device_takeover device=%s old=%s new=%s",
		    d->id, d->conn->addr, c->addr);
		device_detach(s, d, "replaced by a new connection");
	}
	d->conn = c;
	c->device = d;
	c->role = d->approved ? ROLE_WORKER : ROLE_PENDING;
	d->online = 1;
	d->lost_at = 0;
	d->last_seen = now_mono();
	device_changed(d);
}

/* Cut the device's connection (closing it); the device is then
 * disconnected, as if the connection had dropped. */
void
device_detach(struct server *s, struct device *d, const char *why)
{
	struct conn	*c = d->conn;

	if (c == NULL)
		return;
	c->device = NULL;
	c->role = ROLE_JSON;
	d->conn = NULL;
	d->lost_at = now_mono();
	conn_close(c, why);
	device_changed(d);
}

/* A device's connection went away (freed by conn.c). */
void
device_conn_lost(struct server *s, struct conn *c)
{
	struct device	*d = c->device;

	c->device = NULL;
	if (d == NULL || d->conn != c)
		return;
	d->conn = NULL;
	d->lost_at = now_mono();
	device_changed(d);
	log_info("event=device_disconnected device=%s", d->id);
}

/* The device is offline: it takes no work; its tasks stay its own until
 * --lost-after has passed since its last message. */
void
device_offline(struct server *s, struct device *d, const char *why)
{
	if (!d->online)
		return;
	d->online = 0;
	device_set_accepting(d, d->accepting);	/* stop counting paused */
	d->have_metrics = 0;
	device_changed(d);
	log_info("event=device_offline device=%s reason=\"%s\" tasks=%d",
	    d->id, why, d->running);
	server_device_changed(s, d);
}

/* The main node did not run for a while: that time is nobody's fault. */
static void
liveness_stalled(struct server *s, double stall)
{
	struct device	*d;

	log_warn("event=main_stalled seconds=%.1f msg=\"the main node did "
	    "not run (suspended or starved); device clocks moved on by as "
	    "much\"", stall);
	TAILQ_FOREACH(d, registry_list(), entry) {
		if (d->last_seen > 0)
			d->last_seen += stall;
		if (d->lost_at > 0)
			d->lost_at += stall;
	}
	task_shift_deadlines(stall);
}

/*
 * Once a second: a connected device silent for offline-after seconds is
 * cut off; one whose connection closed is offline once a heartbeat
 * interval passed without it coming back; an offline device's tasks are
 * re-queued once lost-after has passed since its last message.
 */
void
liveness_tick(struct server *s, double now)
{
	struct device	*d, *next;
	struct options	*opt = s->opt;

	if (s->last_tick > 0 && now - s->last_tick > 2.5)
		liveness_stalled(s, now - s->last_tick - 1.0);
	s->last_tick = now;
	TAILQ_FOREACH_SAFE(d, registry_list(), entry, next) {
		if (d->online && d->conn != NULL &&
		    now - d->last_seen > opt->offline_after) {
			log_warn("event=device_silent device=%s silent_s=%.0f",
			    d->id, now - d->last_seen);
			device_detach(s, d, "silent");
			device_offline(s, d, "silent");
		} else if (d->online && d->conn == NULL &&
		    now - d->lost_at >= opt->heartbeat_interval)
			device_offline(s, d, "connection lost");
		if (!d->online && !TAILQ_EMPTY(&d->tasks) && d->last_seen > 0 &&
		    now - d->last_seen >= opt->lost_after)
			task_device_offline(s, d);
	}
}

/* Save a device's health (failures in a row, quarantine). */
static void
device_save_health(struct server *s, struct device *d)
{
	if (commit_open(s) != 0 || store_begin(s->store) != 0) {
		store_end(s->store, -1);
		return;
	}
	store_end(s->store, store_device_save(s->store, d));
}

/*
 * A task failed on this device in a way that says more about the device
 * than the task: it failed to start here, or it failed here and then
 * completed elsewhere.  DEVICE_FAILS_MAX of those in a row quarantine the
 * device: it takes no new work (it shows as draining, with the reason)
 * until an operator undrains it.
 */
void
device_task_failed(struct server *s, struct device *d, const char *why)
{
	char	safe[PROTO_TEXT_MAX * 4 + 1];

	if (d->quarantined != NULL)
		return;
	if (++d->fail_streak >= DEVICE_FAILS_MAX) {
		xasprintf(&d->quarantined, "quarantined: %d tasks in a row "
		    "failed to start here or failed here and ran elsewhere "
		    "(last: %s); `encore undrain %s` lets it back",
		    d->fail_streak, why != NULL ? why : "no reason given",
		    d->id);
		d->drained = 1;
		device_changed(d);
		log_warn("event=device_quarantined device=%s failures=%d "
		    "last=\"%s\"", d->id, d->fail_streak,
		    log_sanitize(why != NULL ? why : "", safe, sizeof safe));
		server_device_changed(s, d);
	}
	device_save_health(s, d);
}

/* A task completed on this device: its failures in a row are over. */
void
device_task_succeeded(struct server *s, struct device *d)
{
	if (d->fail_streak == 0)
		return;
	d->fail_streak = 0;
	device_save_health(s, d);
}
