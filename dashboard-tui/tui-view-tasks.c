/* SPDX-License-Identifier: ISC */
/*
 * tui-view-tasks.c -- the tasks pane: a header row, running tasks, then
 * queued ones in dispatch order, with priority, age, device and name in
 * columns that fit the pane (tui_layout_task_columns: the name keeps room
 * before priority, age or device do); finished ones too when toggled with
 * `f`.  Scrolls to keep the selection visible.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "protocol.h"
#include "profiler.h"
#include "client.h"
#include "tui.h"

/* Age of a task: in its queue, since it started, or since it ended. */
static void
tasks_age(struct tui *tui, struct tui_task *t, char *buf, size_t size)
{
	time_t	since;

	if (tui_task_is_finished(t))
		since = t->finished_at;
	else if (t->started_at > 0)
		since = t->started_at;
	else
		since = t->submitted_at;
	if (since <= 0) {
		snprintf(buf, size, "-");
		return;
	}
	prof_format_duration((double)(tui->now > since ? tui->now - since :
	    0), buf, size);
}

/* Draw one cell of a task row: s clipped to its column, if shown. */
static void
tasks_cell(int y, int x, int w, const char *s)
{
	if (w > 0)
		tui_screen_put(y, x, w, s != NULL ? s : "-");
}

/* Draw the tasks pane: a header row, then one row per task. */
void
tui_view_tasks(struct tui *tui)
{
	struct tui_model	*m = tui->model;
	struct tui_rect		*r = &tui->layout.tasks;
	struct tui_task		*t;
	struct tui_task_cols	 c;
	char			 age[16], title[64], esc[256], name[256];
	int			 rows, i, idx, focus, idw = 2, dw = 1, attr;
	int			 y, x, w;
	size_t			 k;

	if (r->h < 4 || r->w < 10)
		return;
	focus = m->pane == TUI_PANE_TASKS;
	attrset(focus ? A_BOLD : 0);
	tui_screen_box(r->y, r->x, r->h, r->w);
	snprintf(title, sizeof title, " tasks%s%s%s ", m->show_finished ?
	    " (all)" : "", m->dropped_tasks ? " (not all shown)" : "",
	    focus ? " *" : "");
	tui_screen_put(r->y, r->x + 2, r->w - 4, title);
	attrset(A_NORMAL);

	x = r->x + 2;
	w = r->w - 4;
	if (m->n_tview == 0) {
		attrset(tui_screen_attr(TUI_C_DIM));
		tui_screen_put(r->y + 1, x, w, m->show_finished ?
		    "no tasks" : "no queued or running tasks (f: finished)");
		attrset(A_NORMAL);
		return;
	}
	/* Size the id and device columns to what is shown (escaped). */
	for (k = 0; k < m->n_tview; k++) {
		t = tui_model_view_task(m, k);
		display_escape_buf(t->id, esc, sizeof esc);
		if (display_width(esc) > idw)
			idw = display_width(esc);
		display_escape_buf(t->device != NULL ? t->device : "-", esc,
		    sizeof esc);
		if (display_width(esc) > dw)
			dw = display_width(esc);
	}
	tui_layout_task_columns(&c, w, idw, dw);

	y = r->y + 1;
	attrset(tui_screen_attr(TUI_C_DIM) | A_BOLD);
	tasks_cell(y, x + c.id_x, c.id_w, "ID");
	tasks_cell(y, x + c.state_x, c.state_w, "STATE");
	tasks_cell(y, x + c.prio_x, c.prio_w, "PRIO");
	tasks_cell(y, x + c.age_x, c.age_w, "  AGE");
	tasks_cell(y, x + c.dev_x, c.dev_w, c.dev_w >= 6 ? "DEVICE" : "DEV");
	tasks_cell(y, x + c.name_x, c.name_w, "NAME");
	attrset(A_NORMAL);

	rows = r->h - 3;
	tui->task_scroll = tui_layout_scroll((int)m->tsel, rows,
	    tui->task_scroll, (int)m->n_tview);
	for (i = 0; i < rows; i++) {
		idx = tui->task_scroll + i;
		if ((t = tui_model_view_task(m, (size_t)idx)) == NULL)
			break;
		y = r->y + 2 + i;
		tasks_age(tui, t, age, sizeof age);
		attr = (size_t)idx == m->tsel ? (focus ?
		    tui_screen_attr(TUI_C_SELECTED) | (int)A_BOLD : (int)A_BOLD) : 0;
		attrset(attr);
		if (attr != 0)
			mvhline(y, r->x + 1, ' ', r->w - 2);
		tasks_cell(y, x + c.id_x, c.id_w, t->id);
		tasks_cell(y, x + c.prio_x, c.prio_w, t->priority);
		tasks_cell(y, x + c.age_x + (c.age_w - (int)strlen(age) > 0 ?
		    c.age_w - (int)strlen(age) : 0), c.age_w, age);
		tasks_cell(y, x + c.dev_x, c.dev_w, t->device);
		if (t->array_size > 0) {
			snprintf(name, sizeof name, "%s%s[array of %lld]",
			    t->name != NULL ? t->name : "",
			    t->name != NULL ? " " : "",
			    (long long)t->array_size);
			tasks_cell(y, x + c.name_x, c.name_w, name);
		} else
			tasks_cell(y, x + c.name_x, c.name_w, t->name != NULL ?
			    t->name : "");
		if (attr == 0)
			attrset(tui_screen_attr(tui_screen_task_color(
			    t->state)));
		tasks_cell(y, x + c.state_x, c.state_w, t->state != NULL ?
		    t->state : "?");
		attrset(A_NORMAL);
	}
}
