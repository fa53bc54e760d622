/* SPDX-License-Identifier: ISC */
/*
 * tui-view-detail.c -- the detail pane: the selected device's profile, or
 * the selected task with the tail of its output, which follows live while
 * the task runs.  Output is wrapped to the pane and control characters are
 * never sent to the terminal.
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "profiler.h"
#include "client.h"
#include "tui.h"

/* Where the next detail line goes. */
struct detail_pen {
	int	y;
	int	x;
	int	w;
	int	end;	/* first row not ours */
};

/* One "key value" line, skipped when value is NULL or empty. */
static void
detail_kv(struct detail_pen *p, const char *key, const char *value)
{
	int	kw;

	if (value == NULL || *value == '\0' || p->y >= p->end)
		return;
	attrset(A_BOLD);
	kw = tui_screen_put(p->y, p->x, p->w, key);
	attrset(A_NORMAL);
	tui_screen_put(p->y, p->x + kw + 1, p->w - kw - 1, value);
	p->y++;
}

/* Display columns of a UTF-8 byte (continuation bytes take none). */
static int
detail_cols(unsigned char ch)
{
	return ((ch & 0xc0) == 0x80 ? 0 : 1);
}

/* A "key value" line whose value wraps at spaces onto at most
 * DETAIL_WRAP_MAX lines under itself (why a task waits is long). */
#define DETAIL_WRAP_MAX	4
static void
detail_kv_wrap(struct detail_pen *p, const char *key, const char *value)
{
	const char	*v, *brk;
	char		 line[1024], *esc;
	size_t		 k, fit;
	int		 kw, w, cols, n;

	if (value == NULL || *value == '\0' || p->y >= p->end)
		return;
	/* Wrapped as it shows: escaped (escaping it again changes
	 * nothing). */
	v = esc = display_escape(value);
	attrset(A_BOLD);
	kw = tui_screen_put(p->y, p->x, p->w, key);
	attrset(A_NORMAL);
	if ((w = p->w - kw - 1) < 8) {
		tui_screen_put(p->y, p->x + kw + 1, w, esc);
		p->y++;
		free(esc);
		return;
	}
	for (n = 0; *v != '\0' && p->y < p->end; n++) {
		/* The bytes that fit in w columns. */
		for (k = 0, cols = 0; v[k] != '\0' && k < sizeof line - 1 &&
		    (cols < w || detail_cols((unsigned char)v[k]) == 0); k++)
			cols += detail_cols((unsigned char)v[k]);
		fit = k;
		if (v[k] != '\0' && n + 1 < DETAIL_WRAP_MAX) {
			/* Break at the last space, if there is one. */
			for (brk = v + k; brk > v && *brk != ' '; brk--)
				;
			if (brk > v)
				fit = (size_t)(brk - v);
		}
		memcpy(line, v, fit);
		line[fit] = '\0';
		tui_screen_put(p->y, p->x + kw + 1, w, line);
		p->y++;
		v += fit;
		while (*v == ' ')
			v++;
		if (n + 1 >= DETAIL_WRAP_MAX)
			break;
	}
	free(esc);
}

/* Format a number or "-" for unknown. */
static const char *
detail_num(char *buf, size_t size, int decimals, double v,
    const char *suffix)
{
	if (isnan(v))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.*f%s", decimals, v, suffix);
	return (buf);
}

/* The device profile. */
static void
detail_device(struct tui *tui, struct tui_device *d, struct detail_pen *p)
{
	char	buf[512], a[32], b[32], c[32];

	snprintf(buf, sizeof buf, "%s%s%s", d->state != NULL ? d->state : "?",
	    d->accepting ? "" : ", not accepting: ",
	    d->accepting ? "" : (d->reason != NULL ? d->reason : "-"));
	attrset(tui_screen_attr(tui_screen_state_color(d->state)));
	detail_kv(p, "state", buf);
	attrset(A_NORMAL);
	detail_kv(p, "host", d->hostname);
	snprintf(buf, sizeof buf, "%s %s", d->arch != NULL ? d->arch : "-",
	    d->platform != NULL ? d->platform : "");
	detail_kv(p, "arch", buf);
	detail_kv(p, "model", d->model);
	if (d->cores > 0)
		snprintf(buf, sizeof buf, "%d x %s%s%s", d->cores,
		    d->cpu_model != NULL ? d->cpu_model : "cpu",
		    isnan(d->cpu_mhz) ? "" : " @ ",
		    isnan(d->cpu_mhz) ? "" : detail_num(a, sizeof a,
		    0, d->cpu_mhz, " MHz"));
	else
		snprintf(buf, sizeof buf, "%s", d->cpu_model != NULL ?
		    d->cpu_model : "-");
	detail_kv(p, "cpu", buf);
	snprintf(buf, sizeof buf, "%s, disk %s free of %s",
	    prof_format_bytes(d->mem_total, a, sizeof a),
	    prof_format_bytes(d->disk_free, b, sizeof b),
	    prof_format_bytes(d->disk_total, c, sizeof c));
	detail_kv(p, "memory", buf);
	detail_kv(p, "os", d->os);
	detail_kv(p, "kernel", d->kernel);
	snprintf(buf, sizeof buf, "cpu %s  mem %s  disk %s",
	    detail_num(a, sizeof a, 0, d->cpu_pct, "%"),
	    detail_num(b, sizeof b, 0, d->mem_pct, "%"),
	    detail_num(c, sizeof c, 0, d->disk_pct, "%"));
	detail_kv(p, "usage", buf);
	snprintf(buf, sizeof buf, "%s %s %s",
	    detail_num(a, sizeof a, 2, d->load[0], ""),
	    detail_num(b, sizeof b, 2, d->load[1], ""),
	    detail_num(c, sizeof c, 2, d->load[2], ""));
	detail_kv(p, "load", buf);
	if (!isnan(d->temp_c)) {
		snprintf(buf, sizeof buf, "%.1f %s", d->temp_c,
		    tui_screen.utf8 ? "°C" : "C");
		detail_kv(p, "temp", buf);
	}
	if (d->battery_pct >= 0) {
		snprintf(buf, sizeof buf, "%d%%%s", d->battery_pct,
		    d->charging ? " charging" : " on battery");
		detail_kv(p, "battery", buf);
	}
	if (d->net_rx >= 0 || d->net_tx >= 0) {
		snprintf(buf, sizeof buf, "rx %s/s tx %s/s",
		    prof_format_bytes(d->net_rx, a, sizeof a),
		    prof_format_bytes(d->net_tx, b, sizeof b));
		detail_kv(p, "net", buf);
	}
	if (d->slots >= 0) {
		snprintf(buf, sizeof buf, "%d running of %d slots",
		    d->running < 0 ? 0 : d->running, d->slots);
		detail_kv(p, "tasks", buf);
	}
	if (!isnan(d->uptime))
		detail_kv(p, "uptime", prof_format_duration(d->uptime, a,
		    sizeof a));
	if (d->seen_at > 0) {
		snprintf(buf, sizeof buf, "%s ago", prof_format_duration(
		    (double)(tui->now > d->seen_at ? tui->now - d->seen_at :
		    0), a, sizeof a));
		detail_kv(p, "seen", buf);
	}
	detail_kv(p, "labels", d->labels);
	detail_kv(p, "caps", d->caps);
}

/* Time of a task event as "HH:MM:SS (5s ago)". */
static const char *
detail_when(struct tui *tui, time_t t, char *buf, size_t size)
{
	struct tm	tm;
	char		ago[16];

	if (t <= 0)
		return (NULL);
	localtime_r(&t, &tm);
	snprintf(buf, size, "%02d:%02d:%02d (%s ago)", tm.tm_hour, tm.tm_min,
	    tm.tm_sec, prof_format_duration((double)(tui->now > t ? tui->now -
	    t : 0), ago, sizeof ago));
	return (buf);
}

/*
 * Draw the tail of the output in rows rows from y, wrapped at w columns,
 * skipping back lines from the end.
 */
static void
detail_output(struct tui *tui, const char *out, size_t len, int y, int x,
    int w, int rows, int back)
{
	const char	 *start, *p, *e, *seg;
	char		**lines, *buf;
	size_t		  want, nl = 0, n = 0, cap, i, k;
	int		  cols;

	if (rows <= 0 || w <= 0 || len == 0)
		return;
	want = (size_t)rows + (size_t)(back > 0 ? back : 0);
	/* Logical lines needed are at most the display lines wanted. */
	for (start = out + len; start > out; start--) {
		if (start[-1] == '\n' && start != out + len && ++nl > want)
			break;
	}
	cap = want;
	lines = xcalloc(cap, sizeof *lines);
	buf = xmalloc((size_t)w * 4 + 1);
	for (p = start, e = out + len; p < e; ) {
		seg = p;
		k = 0;
		cols = 0;
		while (p < e && *p != '\n' && *p != '\r' &&
		    k < (size_t)w * 4 && (cols < w ||
		    detail_cols((unsigned char)*p) == 0)) {
			cols += detail_cols((unsigned char)*p);
			buf[k++] = *p == '\t' ? ' ' : *p;
			p++;
		}
		buf[k] = '\0';
		if (p + 1 < e && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else if (p < e && (*p == '\n' || *p == '\r'))
			p++;
		else if (p == e && k == 0 && seg == p)
			break;
		/* Keep the last cap display lines in a ring. */
		free(lines[n % cap]);
		lines[n % cap] = xstrdup(buf);
		n++;
	}
	/* Drop a final empty line left by a trailing newline. */
	if (n > 0 && len > 0 && out[len - 1] == '\n' &&
	    *lines[(n - 1) % cap] == '\0') {
		free(lines[(n - 1) % cap]);
		lines[(n - 1) % cap] = NULL;
		n--;
	}
	if (back > 0 && (size_t)back > (n > (size_t)rows ? n - (size_t)rows :
	    0))
		back = (int)(n > (size_t)rows ? n - (size_t)rows : 0);
	tui->detail_scroll = back;
	for (i = 0; i < (size_t)rows; i++) {
		size_t	from = n > (size_t)rows + (size_t)back ?
		    n - (size_t)rows - (size_t)back : 0;

		if (from + i >= n || from + i + cap < n)
			break;
		if (lines[(from + i) % cap] != NULL)
			tui_screen_put(y + (int)i, x, w,
			    lines[(from + i) % cap]);
	}
	for (i = 0; i < cap; i++)
		free(lines[i]);
	free(lines);
	free(buf);
}

/* The task with its output. */
static void
detail_task(struct tui *tui, struct tui_task *t, struct detail_pen *p)
{
	struct tui_model	*m = tui->model;
	char			 buf[512], w[64];
	const char		*how;

	snprintf(buf, sizeof buf, "%s  priority %s  attempt %d%s",
	    t->state != NULL ? t->state : "?",
	    t->priority != NULL ? t->priority : "-", t->attempt,
	    t->exit_code >= 0 ? "" : "");
	attrset(tui_screen_attr(tui_screen_task_color(t->state)));
	detail_kv(p, "state", buf);
	attrset(A_NORMAL);
	if (t->exit_code >= 0) {
		snprintf(buf, sizeof buf, "%d", t->exit_code);
		detail_kv(p, "exit", buf);
	}
	detail_kv(p, "device", t->device);
	detail_kv(p, "image", t->image);
	detail_kv(p, "queued", detail_when(tui, t->submitted_at, w,
	    sizeof w));
	detail_kv(p, "started", detail_when(tui, t->started_at, w,
	    sizeof w));
	detail_kv(p, "ended", detail_when(tui, t->finished_at, w, sizeof w));
	if (t->error != NULL) {
		attrset(tui_screen_attr(TUI_C_ERROR));
		detail_kv(p, "error", t->error);
		attrset(A_NORMAL);
	}
	if (t->reason != NULL && (t->error == NULL ||
	    strcmp(t->reason, t->error) != 0))
		detail_kv(p, "reason", t->reason);
	if (m->info.task != NULL && strcmp(m->info.task, t->id) == 0) {
		/* What get_task adds: why it does not run, and so on. */
		if (m->info.why != NULL && !tui_task_is_finished(t)) {
			attrset(tui_screen_attr(TUI_C_PAUSED));
			detail_kv_wrap(p, "why:", m->info.why);
			attrset(A_NORMAL);
		}
		detail_kv(p, "after", m->info.deps);
		detail_kv(p, "array", m->info.array);
		detail_kv(p, "elements", m->info.counts);
		if (m->info.inputs != NULL)
			detail_kv_wrap(p, "inputs:", m->info.inputs);
		if (m->info.outputs != NULL)
			detail_kv_wrap(p, "outputs:", m->info.outputs);
	} else if (t->array_size > 0) {
		snprintf(buf, sizeof buf, "%lld elements",
		    (long long)t->array_size);
		detail_kv(p, "array", buf);
	}
	if (p->y >= p->end)
		return;
	if (t->array_size > 0) {
		/* An array's output is its elements'. */
		attrset(tui_screen_attr(TUI_C_DIM));
		snprintf(buf, sizeof buf, "output: encore logs %s.INDEX; "
		    "elements: encore ps --expand", t->id);
		tui_screen_put(p->y, p->x, p->w, buf);
		attrset(A_NORMAL);
		return;
	}

	if (m->detail_task == NULL || strcmp(m->detail_task, t->id) != 0)
		how = "loading";
	else if (m->output_done)
		how = "complete";
	else if (tui->detail_scroll > 0)
		how = "scrolled, End: follow";
	else
		how = "following";
	attrset(tui_screen_attr(TUI_C_DIM));
	mvhline(p->y, p->x, ACS_HLINE, p->w);
	snprintf(buf, sizeof buf, " output (%s) ", how);
	tui_screen_put(p->y, p->x + 2, p->w - 2, buf);
	attrset(A_NORMAL);
	p->y++;
	if (m->detail_task != NULL && strcmp(m->detail_task, t->id) == 0)
		detail_output(tui, m->output != NULL ? m->output : "",
		    m->output_len, p->y, p->x, p->w, p->end - p->y,
		    tui->detail_scroll);
}

/* Draw the detail pane. */
void
tui_view_detail(struct tui *tui)
{
	struct tui_model	*m = tui->model;
	struct tui_rect		*r = &tui->layout.detail;
	struct tui_device	*d = NULL;
	struct tui_task		*t = NULL;
	struct detail_pen	 p;
	char			 title[128];

	if (r->h < 3 || r->w < 10)
		return;
	if (m->pane == TUI_PANE_TASKS) {
		if ((t = tui_model_selected_task(m)) == NULL)
			t = tui_model_find_task(m, m->detail_task);
	} else
		d = tui_model_selected_device(m);

	attrset(tui->zoom ? A_BOLD : 0);
	tui_screen_box(r->y, r->x, r->h, r->w);
	if (d != NULL)
		snprintf(title, sizeof title, " device %s ", d->id);
	else if (t != NULL)
		snprintf(title, sizeof title, " task %s%s%s ", t->id,
		    t->name != NULL ? " " : "", t->name != NULL ? t->name : "");
	else
		snprintf(title, sizeof title, " details ");
	tui_screen_put(r->y, r->x + 2, r->w - 4, title);
	attrset(A_NORMAL);

	p.y = r->y + 1;
	p.x = r->x + 2;
	p.w = r->w - 4;
	p.end = r->y + r->h - 1;
	if (d != NULL)
		detail_device(tui, d, &p);
	else if (t != NULL)
		detail_task(tui, t, &p);
	else {
		attrset(tui_screen_attr(TUI_C_DIM));
		tui_screen_put(p.y, p.x, p.w, m->pane == TUI_PANE_TASKS ?
		    "no task selected" : "no device selected");
		attrset(A_NORMAL);
	}
}
