/* SPDX-License-Identifier: ISC */
/*
 * metrics.c -- the Prometheus text exposition format of the cluster, for
 * the `metrics` text command and GET /metrics: every metric with its
 * # HELP and # TYPE lines, label values escaped (README, "Web dashboard
 * and Prometheus", lists them).
 *
 * Gauges are read from the registry, the task counts and the store when
 * asked; counters and the scheduler pass histogram are kept here, fed by
 * hooks that task.c, queue.c and the file transfers call.  They start
 * from zero when the main node starts, as Prometheus counters may.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "main.h"

/* Upper bounds (seconds) of the scheduler pass histogram's buckets. */
static const double metrics_pass_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1,
};
#define METRICS_PASS_BUCKETS \
	(sizeof metrics_pass_bounds / sizeof metrics_pass_bounds[0])

/* Counters since start. */
static struct {
	uint64_t	finished[TASK__COUNT];
	uint64_t	pass_buckets[METRICS_PASS_BUCKETS];	/* not cumulative */
	uint64_t	pass_count;
	double		pass_sum;
	uint64_t	file_sent;
	uint64_t	file_received;
} metrics;

/* Count a task that reached a final state (task.c calls it once per end). */
void
metrics_task_finished(enum proto_task_status st)
{
	if ((int)st >= 0 && st < TASK__COUNT)
		metrics.finished[st]++;
}

/* Count one scheduler pass that took seconds (queue.c). */
void
metrics_pass_time(double seconds)
{
	size_t	i;

	if (isnan(seconds) || seconds < 0)
		seconds = 0;
	for (i = 0; i < METRICS_PASS_BUCKETS; i++) {
		if (seconds <= metrics_pass_bounds[i]) {
			metrics.pass_buckets[i]++;
			break;
		}
	}
	metrics.pass_count++;
	metrics.pass_sum += seconds;
}

/* Count bytes of files sent to devices. */
void
metrics_file_bytes_sent(uint64_t n)
{
	metrics.file_sent += n;
}

/* Count bytes of files received from devices. */
void
metrics_file_bytes_received(uint64_t n)
{
	metrics.file_received += n;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t
metrics_utf8_len(const unsigned char *s)
{
	size_t		 n, i;
	uint32_t	 c;

	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else
		return (0);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 ||
	    c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
		return (0);
	return (n);
}

/*
 * Append s as a label value: backslash, double quote and newline escaped
 * as the format asks; other control characters and bytes that are not
 * UTF-8 become U+FFFD, so any peer's string makes a line every parser
 * reads.  NULL is the empty string.
 */
static void
metrics_label(struct evbuffer *out, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	if (p == NULL)
		return;
	while (*p != '\0') {
		if (*p == '\\' || *p == '"') {
			evbuffer_add_printf(out, "\\%c", *p);
			p++;
		} else if (*p == '\n') {
			evbuffer_add(out, "\\n", 2);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			evbuffer_add(out, "\xef\xbf\xbd", 3);
			p++;
		} else if ((n = metrics_utf8_len(p)) == 0) {
			evbuffer_add(out, "\xef\xbf\xbd", 3);
			p++;
		} else {
			evbuffer_add(out, p, n);
			p += n;
		}
	}
}

/* The # HELP and # TYPE lines of one metric. */
static void
metrics_head(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* name{device="ID"} value, for a value that is known. */
static void
metrics_device_value(struct evbuffer *out, const char *name,
    const struct device *d, double v)
{
	if (isnan(v))
		return;
	evbuffer_add_printf(out, "%s{device=\"", name);
	metrics_label(out, d->id);
	evbuffer_add_printf(out, "\"} %.6g\n", v);
}

/* What the last heartbeat of a device said, NAN when it is not live. */
enum metrics_dev_field {
	MD_CPU, MD_MEM, MD_DISK, MD_LOAD1, MD_TEMP, MD_BATTERY,
};
static double
metrics_device_field(const struct device *d, enum metrics_dev_field f)
{
	const struct proto_metrics	*m = &d->metrics;

	if (!d->online || !d->have_metrics)
		return (NAN);
	switch (f) {
	case MD_CPU:
		return (m->cpu_usage);
	case MD_MEM:
		return (m->memory_usage);
	case MD_DISK:
		return (m->disk_usage);
	case MD_LOAD1:
		return (m->load_average[0]);
	case MD_TEMP:
		return (m->temperature);
	case MD_BATTERY:
		return (m->battery_percent >= 0 ? m->battery_percent : NAN);
	}
	return (NAN);
}

/* The gauges of each device. */
static void
metrics_devices(struct evbuffer *out)
{
	static const struct {
		const char		*name;
		const char		*help;
		enum metrics_dev_field	 f;
	} live[] = {
		{ "encore_device_cpu_percent", "CPU use of each online "
		    "device, percent.", MD_CPU },
		{ "encore_device_memory_percent", "Memory use of each online "
		    "device, percent.", MD_MEM },
		{ "encore_device_disk_percent", "Disk use of each online "
		    "device, percent.", MD_DISK },
		{ "encore_device_load1", "One-minute load average of each "
		    "online device.", MD_LOAD1 },
		{ "encore_device_temperature_celsius", "Temperature of each "
		    "online device that reports one.", MD_TEMP },
		{ "encore_device_battery_percent", "Battery charge of each "
		    "online device that has a battery, percent.", MD_BATTERY },
	};
	struct device	*d;
	size_t		 i;
	int		 st;

	metrics_head(out, "encore_device_up", "gauge",
	    "1 if the device is connected and live, else 0.");
	TAILQ_FOREACH(d, registry_list(), entry)
		metrics_device_value(out, "encore_device_up", d,
		    d->online ? 1 : 0);
	metrics_head(out, "encore_device_info", "gauge",
	    "Always 1; labels describe each device.");
	TAILQ_FOREACH(d, registry_list(), entry) {
		evbuffer_add_printf(out, "encore_device_info{device=\"");
		metrics_label(out, d->id);
		evbuffer_add_printf(out, "\",hostname=\"");
		metrics_label(out, d->info.hostname);
		evbuffer_add_printf(out, "\",arch=\"");
		metrics_label(out, d->info.architecture);
		evbuffer_add_printf(out, "\",platform=\"");
		metrics_label(out, d->info.platform);
		evbuffer_add_printf(out, "\"} 1\n");
	}
	metrics_head(out, "encore_device_state", "gauge",
	    "1 for the state each device is in, 0 for the others.");
	TAILQ_FOREACH(d, registry_list(), entry) {
		for (st = 0; st < DEVICE__COUNT; st++) {
			evbuffer_add_printf(out, "encore_device_state"
			    "{device=\"");
			metrics_label(out, d->id);
			evbuffer_add_printf(out, "\",state=\"%s\"} %d\n",
			    proto_device_state_name(st),
			    device_state(d) == (enum proto_device_state)st);
		}
	}
	for (i = 0; i < sizeof live / sizeof live[0]; i++) {
		metrics_head(out, live[i].name, "gauge", live[i].help);
		TAILQ_FOREACH(d, registry_list(), entry)
			metrics_device_value(out, live[i].name, d,
			    metrics_device_field(d, live[i].f));
	}
	metrics_head(out, "encore_device_running_tasks", "gauge",
	    "Tasks assigned to or running on each device.");
	TAILQ_FOREACH(d, registry_list(), entry)
		metrics_device_value(out, "encore_device_running_tasks", d,
		    d->running);
	metrics_head(out, "encore_device_slots", "gauge",
	    "Tasks each device runs at once at most.");
	TAILQ_FOREACH(d, registry_list(), entry)
		metrics_device_value(out, "encore_device_slots", d, d->slots);
	metrics_head(out, "encore_device_suspended_seconds_total", "counter",
	    "Seconds each device spent paused by its own policy (battery, "
	    "heat, load, hours) since the main node started.");
	TAILQ_FOREACH(d, registry_list(), entry)
		metrics_device_value(out,
		    "encore_device_suspended_seconds_total", d,
		    device_suspended_seconds(d));
	metrics_head(out, "encore_device_last_seen_seconds", "gauge",
	    "Seconds since each device was last heard from.");
	TAILQ_FOREACH(d, registry_list(), entry) {
		if (d->last_seen > 0)
			metrics_device_value(out,
			    "encore_device_last_seen_seconds", d,
			    now_mono() - d->last_seen);
	}
}

/* Queued tasks by priority (array rows count once). */
static void
metrics_queue(struct server *s, struct evbuffer *out)
{
	int64_t	above = 0, n;
	int	p;

	metrics_head(out, "encore_queue_depth", "gauge",
	    "Tasks queued, by priority.");
	for (p = PRIO_URGENT; p >= PRIO_LOW; p--) {
		n = s->store != NULL ? store_task_ahead(s->store, p,
		    INT64_MAX) : 0;
		evbuffer_add_printf(out, "encore_queue_depth{priority=\"%s\"} "
		    "%lld\n", proto_priority_name(p),
		    (long long)(n > above ? n - above : 0));
		above = n > above ? n : above;
	}
}

/* The scheduler pass histogram. */
static void
metrics_passes(struct evbuffer *out)
{
	uint64_t	cum = 0;
	size_t		i;

	metrics_head(out, "encore_scheduler_pass_seconds", "histogram",
	    "Time each scheduler pass took.");
	for (i = 0; i < METRICS_PASS_BUCKETS; i++) {
		cum += metrics.pass_buckets[i];
		evbuffer_add_printf(out, "encore_scheduler_pass_seconds_bucket"
		    "{le=\"%g\"} %llu\n", metrics_pass_bounds[i],
		    (unsigned long long)cum);
	}
	evbuffer_add_printf(out, "encore_scheduler_pass_seconds_bucket"
	    "{le=\"+Inf\"} %llu\n"
	    "encore_scheduler_pass_seconds_sum %.9f\n"
	    "encore_scheduler_pass_seconds_count %llu\n",
	    (unsigned long long)metrics.pass_count, metrics.pass_sum,
	    (unsigned long long)metrics.pass_count);
}

/* Write every metric in the Prometheus text exposition format; t holds
 * the tasks by state (task_counts: the caller's, so that the counters
 * here stay below the task state that feeds them). */
void
metrics_write(struct server *s, struct evbuffer *out,
    const int64_t t[TASK__COUNT])
{
	struct device		*d;
	int64_t			 n[DEVICE__COUNT] = { 0 };
	int			 i;

	TAILQ_FOREACH(d, registry_list(), entry)
		n[device_state(d)]++;
	metrics_head(out, "encore_devices", "gauge", "Devices by state.");
	for (i = 0; i < DEVICE__COUNT; i++)
		evbuffer_add_printf(out, "encore_devices{state=\"%s\"} %lld\n",
		    proto_device_state_name(i), (long long)n[i]);
	metrics_head(out, "encore_tasks", "gauge", "Tasks by state.");
	for (i = 0; i < TASK__COUNT; i++)
		evbuffer_add_printf(out, "encore_tasks{state=\"%s\"} %lld\n",
		    proto_task_status_name((enum proto_task_status)i),
		    (long long)t[i]);
	metrics_head(out, "encore_tasks_finished_total", "counter",
	    "Tasks that ended since the main node started, by final state.");
	for (i = 0; i < TASK__COUNT; i++) {
		if (proto_task_status_is_final((enum proto_task_status)i))
			evbuffer_add_printf(out, "encore_tasks_finished_total"
			    "{state=\"%s\"} %llu\n",
			    proto_task_status_name((enum proto_task_status)i),
			    (unsigned long long)metrics.finished[i]);
	}
	metrics_queue(s, out);
	metrics_passes(out);
	metrics_head(out, "encore_file_bytes_sent_total", "counter",
	    "Bytes of files sent to devices.");
	evbuffer_add_printf(out, "encore_file_bytes_sent_total %llu\n",
	    (unsigned long long)metrics.file_sent);
	metrics_head(out, "encore_file_bytes_received_total", "counter",
	    "Bytes of files received from devices.");
	evbuffer_add_printf(out, "encore_file_bytes_received_total %llu\n",
	    (unsigned long long)metrics.file_received);
	evbuffer_add_printf(out,
	    "# HELP encore_connections Open connections.\n"
	    "# TYPE encore_connections gauge\n"
	    "encore_connections %d\n"
	    "# HELP encore_connections_total Connections accepted.\n"
	    "# TYPE encore_connections_total counter\n"
	    "encore_connections_total %llu\n"
	    "# HELP encore_messages_total Protocol lines received.\n"
	    "# TYPE encore_messages_total counter\n"
	    "encore_messages_total %llu\n"
	    "# HELP encore_messages_bad_total Lines rejected as bad.\n"
	    "# TYPE encore_messages_bad_total counter\n"
	    "encore_messages_bad_total %llu\n"
	    "# HELP encore_commits_total Database transactions committed.\n"
	    "# TYPE encore_commits_total counter\n"
	    "encore_commits_total %llu\n"
	    "# HELP encore_commits_failed_total Database transactions that "
	    "failed.\n"
	    "# TYPE encore_commits_failed_total counter\n"
	    "encore_commits_failed_total %llu\n"
	    "# HELP encore_uptime_seconds Seconds since the main node "
	    "started.\n"
	    "# TYPE encore_uptime_seconds gauge\n"
	    "encore_uptime_seconds %.0f\n",
	    s->n_conns, (unsigned long long)s->conns_total,
	    (unsigned long long)s->msgs_in, (unsigned long long)s->msgs_bad,
	    (unsigned long long)s->commits,
	    (unsigned long long)s->commits_failed,
	    now_mono() - s->started);
	metrics_devices(out);
}
