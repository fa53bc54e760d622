/* SPDX-License-Identifier: ISC */
/*
 * export-text.c -- the one-shot text export: `echo devices | nc MAIN 7070`.
 * Read-only and token-free by design; the reply is a table for people,
 * RFC 4180 CSV (CRLF lines), TSV, `key: value` lines or the Prometheus
 * text format.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <json-c/json.h>

#include "main.h"

enum table_fmt {
	FMT_HUMAN,
	FMT_CSV,
	FMT_TSV,
};

/* Rows of text cells; every cell is a heap string. */
struct table {
	size_t		  ncols;
	const char	**header;
	char		**cells;	/* nrows * ncols */
	size_t		  nrows;
	size_t		  cap;
};

static const char *device_columns[] = {
	"id", "hostname", "state", "arch", "platform", "cores", "mem_mb",
	"cpu_pct", "mem_pct", "load1", "temp_c", "battery_pct", "running",
	"slots", "last_seen_s"
};
static const char *task_columns[] = {
	"id", "name", "state", "priority", "device", "attempt", "exit_code",
	"submitted_at", "started_at", "finished_at"
};
#define NCOLS(a) (sizeof (a) / sizeof (a)[0])

static const char *export_help =
    "encore text export: one command per connection, e.g.\n"
    "  echo devices | nc HOST 7070\n"
    "commands:\n"
    "  devices            devices as a table\n"
    "  devices csv|tsv    devices as CSV (RFC 4180) or TSV\n"
    "  tasks [csv|tsv]    queued, running and the last 1000 finished "
    "tasks\n"
    "  queue              queued tasks in dispatch order\n"
    "  status             cluster summary, key: value\n"
    "  metrics            Prometheus text format\n"
    "  help               this text\n";

/* Start a row; fill it with table_cell. */
static void
table_add(struct table *t, char **row)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->cells = xreallocarray(t->cells, t->cap * t->ncols,
		    sizeof *t->cells);
	}
	memcpy(t->cells + t->nrows * t->ncols, row,
	    t->ncols * sizeof *row);
	t->nrows++;
}

/* Append one CSV field, quoted when it must be. */
static void
csv_field(struct evbuffer *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		evbuffer_add(out, s, strlen(s));
		return;
	}
	evbuffer_add(out, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			evbuffer_add(out, "\"", 1);
		evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/* Append one TSV field (tabs and newlines become spaces). */
static void
tsv_field(struct evbuffer *out, const char *s)
{
	for (; *s != '\0'; s++) {
		char ch = (*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : *s;

		evbuffer_add(out, &ch, 1);
	}
}

/* Write the table in a format and free it. */
static void
table_write(struct conn *c, struct table *t, enum table_fmt fmt)
{
	struct evbuffer	*out = evbuffer_new();
	size_t		 i, j, *w;
	const char	*cell;

	w = xcalloc(t->ncols, sizeof *w);
	for (j = 0; j < t->ncols; j++)
		w[j] = strlen(t->header[j]);
	for (i = 0; i < t->nrows; i++) {
		for (j = 0; j < t->ncols; j++) {
			size_t l = strlen(t->cells[i * t->ncols + j]);
			if (l > w[j])
				w[j] = l;
		}
	}
	for (i = 0; i <= t->nrows; i++) {
		for (j = 0; j < t->ncols; j++) {
			if (i == 0)
				cell = t->header[j];
			else
				cell = t->cells[(i - 1) * t->ncols + j];
			if (fmt == FMT_HUMAN && i == 0) {
				/* Upper-case header for people. */
				char	 up[64];
				size_t	 k;

				for (k = 0; cell[k] != '\0' &&
				    k < sizeof up - 1; k++)
					up[k] = (char)(cell[k] >= 'a' &&
					    cell[k] <= 'z' ? cell[k] - 32 :
					    cell[k]);
				up[k] = '\0';
				cell = up;
				evbuffer_add_printf(out, "%-*s%s",
				    j + 1 < t->ncols ? (int)w[j] : 0, cell,
				    j + 1 < t->ncols ? "  " : "");
				continue;
			}
			switch (fmt) {
			case FMT_HUMAN:
				evbuffer_add_printf(out, "%-*s%s",
				    j + 1 < t->ncols ? (int)w[j] : 0,
				    *cell != '\0' ? cell : "-",
				    j + 1 < t->ncols ? "  " : "");
				break;
			case FMT_CSV:
				if (j > 0)
					evbuffer_add(out, ",", 1);
				csv_field(out, cell);
				break;
			case FMT_TSV:
				if (j > 0)
					evbuffer_add(out, "\t", 1);
				tsv_field(out, cell);
				break;
			}
		}
		if (fmt == FMT_CSV)
			evbuffer_add(out, "\r\n", 2);
		else
			evbuffer_add(out, "\n", 1);
	}
	bufferevent_write_buffer(c->bev, out);
	evbuffer_free(out);
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
}

/* Format a number with one decimal, or "" when unknown. */
static char *
fmt_num(double v, int decimals)
{
	char	*s;

	if (isnan(v))
		return (xstrdup(""));
	xasprintf(&s, "%.*f", decimals, v);
	return (s);
}

static char *
fmt_int(int64_t v)
{
	char	*s;

	if (v < 0)
		return (xstrdup(""));
	xasprintf(&s, "%lld", (long long)v);
	return (s);
}

static char *
fmt_str(const char *s)
{
	return (xstrdup(s != NULL ? s : ""));
}

/* devices [csv|tsv] */
static void
export_devices(struct conn *c, enum table_fmt fmt)
{
	struct table		 t = { NCOLS(device_columns), device_columns,
				    NULL, 0, 0 };
	struct device		*d;
	char			*row[NCOLS(device_columns)];
	struct proto_metrics	*m;
	int			 live;
	int64_t			 seen;

	TAILQ_FOREACH(d, registry_list(), entry) {
		m = &d->metrics;
		live = d->online && d->have_metrics;
		if (d->last_seen > 0)
			seen = (int64_t)(now_mono() - d->last_seen);
		else if (d->last_seen_wall > 0)
			seen = time(NULL) - d->last_seen_wall;
		else
			seen = -1;
		row[0] = fmt_str(d->id);
		row[1] = fmt_str(d->info.hostname);
		row[2] = fmt_str(device_state_name(device_state(d)));
		row[3] = fmt_str(d->info.architecture);
		row[4] = fmt_str(d->info.platform);
		row[5] = fmt_int(d->hw.cpu_cores);
		row[6] = fmt_int(d->hw.memory_total < 0 ? -1 :
		    d->hw.memory_total / (1024 * 1024));
		row[7] = fmt_num(live ? m->cpu_usage : NAN, 1);
		row[8] = fmt_num(live ? m->memory_usage : NAN, 1);
		row[9] = fmt_num(live ? m->load_average[0] : NAN, 2);
		row[10] = fmt_num(live ? m->temperature : NAN, 1);
		row[11] = fmt_int(live ? m->battery_percent : -1);
		row[12] = fmt_int(d->running);
		row[13] = fmt_int(d->slots);
		row[14] = fmt_int(seen);
		table_add(&t, row);
	}
	table_write(c, &t, fmt);
}

/* ISO 8601 UTC of a unix time, "" for none. */
static char *
fmt_time(double t)
{
	char	buf[32];

	if (t <= 0)
		return (xstrdup(""));
	return (xstrdup(proto_format_time((int64_t)t, buf, sizeof buf)));
}

/* Collect task rows into a table. */
static void
export_task_row(const struct task_row *r, void *arg)
{
	struct table	*t = arg;
	char		*row[NCOLS(task_columns)];

	row[0] = fmt_int(r->id);
	row[1] = fmt_str(r->name);
	row[2] = fmt_str(proto_task_status_name(r->state));
	row[3] = fmt_str(proto_priority_name(r->priority));
	row[4] = fmt_str(r->device);
	row[5] = fmt_int(r->attempt > 0 ? r->attempt : -1);
	row[6] = r->exit_code >= 0 ? fmt_int(r->exit_code) : xstrdup("");
	row[7] = fmt_time(r->submitted_at);
	row[8] = fmt_time(r->started_at);
	row[9] = fmt_time(r->finished_at);
	table_add(t, row);
}

/* tasks [csv|tsv], queue */
static void
export_tasks(struct conn *c, enum task_list_mode mode, enum table_fmt fmt)
{
	struct table	t = { NCOLS(task_columns), task_columns, NULL, 0, 0 };

	if (store_task_list(c->server->store, mode, export_task_row,
	    &t) != 0) {
		table_write(c, &t, fmt);
		conn_puts(c, "error: cannot read tasks from the database; "
		    "see the main node's log\n");
		return;
	}
	table_write(c, &t, fmt);
}

/* status: key: value lines. */
static void
export_status(struct conn *c)
{
	struct json_object	*st = client_status_json(c->server);
	struct evbuffer		*out = evbuffer_new();

	json_object_object_foreach(st, key, val) {
		evbuffer_add_printf(out, "%s: %s\n", key,
		    json_object_get_string(val));
	}
	bufferevent_write_buffer(c->bev, out);
	evbuffer_free(out);
	json_object_put(st);
}

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

/* metrics: Prometheus text exposition format. */
static void
export_metrics(struct conn *c)
{
	struct server		*s = c->server;
	struct evbuffer		*out = evbuffer_new();
	struct device		*d;
	int64_t			 n[6] = { 0 }, t[7] = { 0 };
	char			 id[PROTO_ID_MAX * 2 + 1];
	int			 i;

	TAILQ_FOREACH(d, registry_list(), entry)
		n[device_state(d)]++;
	tasks_status(s, t);
	evbuffer_add_printf(out, "# HELP encore_devices Devices by state.\n"
	    "# TYPE encore_devices gauge\n");
	for (i = 0; i < 6; i++)
		evbuffer_add_printf(out, "encore_devices{state=\"%s\"} %lld\n",
		    device_state_name((enum device_state)i), (long long)n[i]);
	evbuffer_add_printf(out, "# HELP encore_tasks Tasks by state.\n"
	    "# TYPE encore_tasks gauge\n");
	for (i = 0; i < 7; i++)
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
	bufferevent_write_buffer(c->bev, out);
	evbuffer_free(out);
}

/* Run one text command. */
void
export_text(struct conn *c, const char *line)
{
	struct export_cmd	 cmd;
	char			 safe[128];
	enum table_fmt		 fmt;

	export_parse(line, &cmd);
	if (cmd.verb == EXPORT_HELP) {
		conn_puts(c, export_help);
		return;
	}
	fmt = cmd.fmt == EXPORT_FMT_CSV ? FMT_CSV :
	    cmd.fmt == EXPORT_FMT_TSV ? FMT_TSV : FMT_HUMAN;
	log_debug("event=text_command addr=%s command=\"%s\"", c->addr,
	    log_sanitize(cmd.word, safe, sizeof safe));
	switch (cmd.verb) {
	case EXPORT_DEVICES:
		export_devices(c, fmt);
		break;
	case EXPORT_TASKS:
		export_tasks(c, TASK_LIST_RECENT, fmt);
		break;
	case EXPORT_QUEUE:
		export_tasks(c, TASK_LIST_QUEUE, fmt);
		break;
	case EXPORT_STATUS:
		export_status(c);
		break;
	case EXPORT_METRICS:
		export_metrics(c);
		break;
	default:
		conn_puts(c, "error: unknown command; try `echo help | nc "
		    "HOST 7070`\n");
		conn_puts(c, export_help);
		break;
	}
}
