/* SPDX-License-Identifier: ISC */
/*
 * export-text.c -- the one-shot text export: `echo devices | nc MAIN 7070`.
 * Read-only and token-free by design; the reply is a table for people,
 * RFC 4180 CSV (CRLF lines), TSV, `key: value` lines or the Prometheus
 * text format.  Listings stream: rows are made a page at a time as the
 * reader takes them (conn.c's producer), so a reader that does not read
 * costs neither memory nor time, and 100,000 queued tasks are no more
 * work per loop pass than 256.  Names are sanitized (no control
 * characters reach a terminal).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "main.h"

enum table_fmt {
	FMT_HUMAN,
	FMT_CSV,
	FMT_TSV,
};

static const char *device_columns[] = {
	"id", "hostname", "state", "arch", "platform", "cores", "mem_mb",
	"cpu_pct", "mem_pct", "load1", "temp_c", "battery_pct", "running",
	"slots", "last_seen_s", "reason"
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

#define EXPORT_ROWS_PER_FILL	256	/* rows produced per refill */

/* A listing being streamed to one connection (conn.c's producer). */
struct export_stream {
	enum export_verb	 verb;
	enum table_fmt		 fmt;
	struct task_cursor	 cur;		/* tasks, queue */
	char			*last_id;	/* devices: last id written */
	size_t			 w[NCOLS(device_columns)]; /* device widths */
	int			 header_done;
	int			 failed;
};

/* Fixed widths of the human task table (it streams, so it cannot size
 * its columns on its rows); longer cells are cut with '~'. */
static const size_t task_widths[NCOLS(task_columns)] = {
	8, 20, 9, 8, 16, 7, 9, 20, 20, 0
};

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

/* Characters a UTF-8 string shows (one column each; bytes that continue
 * a character do not count). */
static size_t
text_columns(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return (n);
}

/* Append a cell for people, padded (or cut) to width; 0 = as is. */
static void
human_field(struct evbuffer *out, const char *cell, size_t width, int last)
{
	size_t	cols = text_columns(cell), i, bytes;

	if (*cell == '\0')
		cell = "-", cols = 1;
	if (width > 0 && cols > width) {
		/* Cut at a character boundary, mark with '~'. */
		for (bytes = 0, i = 0; cell[bytes] != '\0'; bytes++) {
			if (((unsigned char)cell[bytes] & 0xc0) != 0x80 &&
			    ++i == width)
				break;
		}
		evbuffer_add(out, cell, bytes);
		evbuffer_add(out, "~", 1);
		cols = width;
	} else
		evbuffer_add(out, cell, strlen(cell));
	if (!last) {
		for (i = cols; i < width; i++)
			evbuffer_add(out, " ", 1);
		evbuffer_add(out, "  ", 2);
	}
}

/* Write one row (cells sanitized here) in a format. */
static void
row_write(struct evbuffer *out, enum table_fmt fmt, const char **cells,
    size_t n, const size_t *widths, int header)
{
	char	safe[PROTO_TEXT_MAX * 4 + 8], up[64];
	size_t	j, k;

	for (j = 0; j < n; j++) {
		text_sanitize(cells[j], safe, sizeof safe);
		switch (fmt) {
		case FMT_HUMAN:
			if (header) {
				for (k = 0; safe[k] != '\0' &&
				    k < sizeof up - 1; k++)
					up[k] = (char)(safe[k] >= 'a' &&
					    safe[k] <= 'z' ? safe[k] - 32 :
					    safe[k]);
				up[k] = '\0';
				human_field(out, up, widths[j], j + 1 == n);
			} else
				human_field(out, safe, widths[j], j + 1 == n);
			break;
		case FMT_CSV:
			if (j > 0)
				evbuffer_add(out, ",", 1);
			csv_field(out, safe);
			break;
		case FMT_TSV:
			if (j > 0)
				evbuffer_add(out, "\t", 1);
			tsv_field(out, safe);
			break;
		}
	}
	evbuffer_add(out, fmt == FMT_CSV ? "\r\n" : "\n",
	    fmt == FMT_CSV ? 2 : 1);
}

/* Format a number with decimals, or "" when unknown. */
static void
fmt_num(char *buf, size_t size, double v, int decimals)
{
	if (isnan(v))
		*buf = '\0';
	else
		snprintf(buf, size, "%.*f", decimals, v);
}

/* Format an integer, or "" when unknown (< 0). */
static void
fmt_int(char *buf, size_t size, int64_t v)
{
	if (v < 0)
		*buf = '\0';
	else
		snprintf(buf, size, "%lld", (long long)v);
}

/* ISO 8601 UTC of a unix time, "" for none. */
static void
fmt_time(char *buf, size_t size, double t)
{
	if (t <= 0)
		*buf = '\0';
	else
		proto_format_time((int64_t)t, buf, size);
}

/* The cells of one device (into bufs). */
static void
device_cells(struct device *d, char bufs[][64], const char **cells)
{
	struct proto_metrics	*m = &d->metrics;
	int			 live = d->online && d->have_metrics, i;
	int64_t			 seen;

	if (d->last_seen > 0)
		seen = (int64_t)(now_mono() - d->last_seen);
	else if (d->last_seen_wall > 0)
		seen = time(NULL) - d->last_seen_wall;
	else
		seen = -1;
	for (i = 0; i < (int)NCOLS(device_columns); i++)
		cells[i] = bufs[i];
	cells[0] = d->id;
	cells[1] = d->info.hostname != NULL ? d->info.hostname : "";
	cells[2] = proto_device_state_name(device_state(d));
	cells[3] = d->info.architecture != NULL ? d->info.architecture : "";
	cells[4] = d->info.platform != NULL ? d->info.platform : "";
	fmt_int(bufs[5], 64, d->hw.cpu_cores);
	fmt_int(bufs[6], 64, d->hw.memory_total < 0 ? -1 :
	    d->hw.memory_total / (1024 * 1024));
	fmt_num(bufs[7], 64, live ? m->cpu_usage : NAN, 1);
	fmt_num(bufs[8], 64, live ? m->memory_usage : NAN, 1);
	fmt_num(bufs[9], 64, live ? m->load_average[0] : NAN, 2);
	fmt_num(bufs[10], 64, live ? m->temperature : NAN, 1);
	fmt_int(bufs[11], 64, live ? m->battery_percent : -1);
	fmt_int(bufs[12], 64, d->running);
	fmt_int(bufs[13], 64, d->slots);
	fmt_int(bufs[14], 64, seen);
	cells[15] = device_reason(d) != NULL ? device_reason(d) : "";
}

/* The first device after an id (the listing is sorted by id). */
static struct device *
device_after(const char *id)
{
	struct device	*d;

	TAILQ_FOREACH(d, registry_list(), entry) {
		if (id == NULL || strcmp(d->id, id) > 0)
			return (d);
	}
	return (NULL);
}

/* Size the human device table's columns. */
static void
devices_widths(struct export_stream *x)
{
	struct device	*d;
	char		 bufs[NCOLS(device_columns)][64];
	char		 safe[PROTO_TEXT_MAX * 4 + 8];
	const char	*cells[NCOLS(device_columns)];
	size_t		 j, n;

	for (j = 0; j < NCOLS(device_columns); j++)
		x->w[j] = strlen(device_columns[j]);
	TAILQ_FOREACH(d, registry_list(), entry) {
		device_cells(d, bufs, cells);
		for (j = 0; j < NCOLS(device_columns); j++) {
			n = text_columns(text_sanitize(cells[j], safe,
			    sizeof safe));
			if (n == 0)
				n = 1;
			if (n > x->w[j])
				x->w[j] = n;
		}
	}
}

/* Stream the next devices. */
static int
export_devices_fill(struct conn *c, struct export_stream *x)
{
	struct evbuffer	*out = conn_output(c);
	struct device	*d;
	char		 bufs[NCOLS(device_columns)][64];
	const char	*cells[NCOLS(device_columns)];
	int		 n = 0;

	if (!x->header_done) {
		x->header_done = 1;
		if (x->fmt == FMT_HUMAN)
			devices_widths(x);
		row_write(out, x->fmt, device_columns,
		    NCOLS(device_columns), x->w, 1);
	}
	for (d = device_after(x->last_id); d != NULL &&
	    n < EXPORT_ROWS_PER_FILL; d = TAILQ_NEXT(d, entry), n++) {
		device_cells(d, bufs, cells);
		row_write(out, x->fmt, cells, NCOLS(device_columns), x->w, 0);
		free(x->last_id);
		x->last_id = xstrdup(d->id);
	}
	return (d != NULL);
}

/* Where a page of task rows goes. */
struct task_rows {
	struct evbuffer	*out;
	enum table_fmt	 fmt;
};

/* Write one task row of the stream. */
static int
export_task_row(const struct task_row *r, void *arg)
{
	struct task_rows	*w = arg;
	char			 b[NCOLS(task_columns)][64];
	const char		*cells[NCOLS(task_columns)];
	size_t			 i;

	for (i = 0; i < NCOLS(task_columns); i++)
		cells[i] = b[i];
	task_ref_format(r, b[0], 64);
	cells[1] = r->name != NULL ? r->name : "";
	cells[2] = proto_task_status_name(r->state);
	cells[3] = proto_priority_name(r->priority);
	cells[4] = r->device != NULL ? r->device : "";
	fmt_int(b[5], 64, r->attempt > 0 ? r->attempt : -1);
	fmt_int(b[6], 64, r->exit_code);
	fmt_time(b[7], 64, r->submitted_at);
	fmt_time(b[8], 64, r->started_at);
	fmt_time(b[9], 64, r->finished_at);
	row_write(w->out, w->fmt, cells, NCOLS(task_columns), task_widths, 0);
	return (0);
}

/* Stream the next page of tasks. */
static int
export_tasks_fill(struct conn *c, struct export_stream *x)
{
	struct task_rows	w = { conn_output(c), x->fmt };
	int64_t			before;
	int			seq_before;

	if (!x->header_done) {
		x->header_done = 1;
		row_write(w.out, x->fmt, task_columns, NCOLS(task_columns),
		    task_widths, 1);
	}
	before = x->cur.after;
	seq_before = (int)x->cur.seq;
	if (store_task_page(c->server->store, &x->cur, EXPORT_ROWS_PER_FILL,
	    export_task_row, &w) != 0) {
		evbuffer_add_printf(w.out, "error: cannot read tasks from the "
		    "database; see the main node's log\n");
		return (0);
	}
	/* A short page, or no progress, is the end. */
	return (x->cur.after != before || (int)x->cur.seq != seq_before);
}

/* conn.c's producer: add the next rows of a listing. */
static int
export_fill(struct conn *c, void *arg)
{
	struct export_stream	*x = arg;

	if (x->verb == EXPORT_DEVICES)
		return (export_devices_fill(c, x));
	return (export_tasks_fill(c, x));
}

/* Free a stream. */
static void
export_stream_free(void *arg)
{
	struct export_stream	*x = arg;

	free(x->last_id);
	free(x);
}

/* Start streaming a listing. */
static void
export_stream(struct conn *c, enum export_verb verb, enum table_fmt fmt,
    enum task_list_mode mode)
{
	struct export_stream	*x = xcalloc(1, sizeof *x);

	x->verb = verb;
	x->fmt = fmt;
	x->cur.mode = mode;
	conn_set_producer(c, export_fill, x, export_stream_free);
}

/* status: key: value lines. */
static void
export_status(struct conn *c)
{
	struct json_object	*st = view_status(c->server);
	struct evbuffer		*out = conn_output(c);

	json_object_object_foreach(st, key, val) {
		evbuffer_add_printf(out, "%s: %s\n", key,
		    json_object_get_string(val));
	}
	json_object_put(st);
}

/* Run one text command. */
void
export_text(struct conn *c, const char *line)
{
	struct export_cmd	 cmd;
	char			 safe[128];
	enum table_fmt		 fmt;
	int64_t			 counts[TASK__COUNT];

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
		export_stream(c, EXPORT_DEVICES, fmt, TASK_LIST_ALL);
		break;
	case EXPORT_TASKS:
		export_stream(c, EXPORT_TASKS, fmt, TASK_LIST_RECENT);
		break;
	case EXPORT_QUEUE:
		export_stream(c, EXPORT_QUEUE, fmt, TASK_LIST_QUEUE);
		break;
	case EXPORT_STATUS:
		export_status(c);
		break;
	case EXPORT_METRICS:
		task_counts(counts);
		metrics_write(c->server, conn_output(c), counts);
		break;
	default:
		conn_puts(c, "error: unknown command; try `echo help | nc "
		    "HOST 7070`\n");
		conn_puts(c, export_help);
		break;
	}
}
