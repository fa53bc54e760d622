/* SPDX-License-Identifier: ISC */
/*
 * metrics.c -- the Prometheus text exposition format of the cluster, for
 * the `metrics` text command and GET /metrics: every metric with its
 * # HELP and # TYPE lines.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "main.h"

/* Prometheus label value escaping. */
static const char *
prom_escape(const char *s, char *buf, size_t size)
{
	size_t	o = 0;

	for (; *s != '\0' && o + 3 < size; s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else
			buf[o++] = *s;
	}
	buf[o] = '\0';
	return (buf);
}

/* Write every metric in the Prometheus text exposition format. */
void
metrics_write(struct server *s, struct evbuffer *out)
{
	struct device		*d;
	int64_t			 n[DEVICE__COUNT] = { 0 }, t[TASK__COUNT];
	char			 id[PROTO_ID_MAX * 2 + 1];
	int			 i;

	TAILQ_FOREACH(d, registry_list(), entry)
		n[device_state(d)]++;
	task_counts(t);
	evbuffer_add_printf(out, "# HELP encore_devices Devices by state.\n"
	    "# TYPE encore_devices gauge\n");
	for (i = 0; i < DEVICE__COUNT; i++)
		evbuffer_add_printf(out, "encore_devices{state=\"%s\"} %lld\n",
		    proto_device_state_name(i), (long long)n[i]);
	evbuffer_add_printf(out, "# HELP encore_tasks Tasks by state.\n"
	    "# TYPE encore_tasks gauge\n");
	for (i = 0; i < TASK__COUNT; i++)
		evbuffer_add_printf(out, "encore_tasks{state=\"%s\"} %lld\n",
		    proto_task_status_name((enum proto_task_status)i),
		    (long long)t[i]);
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
	    "# HELP encore_uptime_seconds Seconds since the main node "
	    "started.\n"
	    "# TYPE encore_uptime_seconds gauge\n"
	    "encore_uptime_seconds %.0f\n",
	    s->n_conns, (unsigned long long)s->conns_total,
	    (unsigned long long)s->msgs_in, (unsigned long long)s->msgs_bad,
	    now_mono() - s->started);
	evbuffer_add_printf(out, "# HELP encore_device_cpu_percent CPU use "
	    "of each online device.\n# TYPE encore_device_cpu_percent "
	    "gauge\n");
	TAILQ_FOREACH(d, registry_list(), entry) {
		if (d->online && d->have_metrics &&
		    !isnan(d->metrics.cpu_usage))
			evbuffer_add_printf(out, "encore_device_cpu_percent"
			    "{device=\"%s\"} %.1f\n", prom_escape(d->id, id,
			    sizeof id), d->metrics.cpu_usage);
	}
	evbuffer_add_printf(out, "# HELP encore_device_running_tasks Tasks "
	    "running on each device.\n# TYPE encore_device_running_tasks "
	    "gauge\n");
	TAILQ_FOREACH(d, registry_list(), entry)
		evbuffer_add_printf(out, "encore_device_running_tasks"
		    "{device=\"%s\"} %d\n", prom_escape(d->id, id, sizeof id),
		    d->running);
}

