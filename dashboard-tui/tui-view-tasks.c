/* SPDX-License-Identifier: ISC */
/*
 * tui-view-tasks.c -- the tasks pane: running tasks, then queued ones in
 * dispatch order, with priority, age and device; finished ones too when
 * toggled with `f`.  Scrolls to keep the selection visible.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "protocol.h"
#include "profiler.h"
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

/* Draw the tasks pane. */
void
tui_view_tasks(struct tui *tui)
{
	struct tui_model	*m = tui->model;
	struct tui_rect		*r = &tui->layout.tasks;
	struct tui_task		*t;
	char			 line[512], age[16], title[64];
	int			 rows, i, idx, focus, idw = 2, attr, dw;
	size_t			 k, len;

	if (r->h < 3 || r->w < 10)
		return;
	focus = m->pane == TUI_PANE_TASKS;
	attrset(focus ? A_BOLD : 0);
	tui_screen_box(r->y, r->x, r->h, r->w);
	snprintf(title, sizeof title, " tasks%s%s ", m->show_finished ?
	    " (all)" : "", focus ? " *" : "");
	tui_screen_put(r->y, r->x + 2, r->w - 4, title);
	attrset(A_NORMAL);

	rows = r->h - 2;
	if (m->n_tview == 0) {
		attrset(tui_screen_attr(TUI_C_DIM));
		tui_screen_put(r->y + 1, r->x + 2, r->w - 4, m->show_finished ?
		    "no tasks" : "no queued or running tasks (f: finished)");
		attrset(A_NORMAL);
		return;
	}
	/* Size the id and device columns to what is shown. */
	dw = 1;
	for (k = 0; k < m->n_tview; k++) {
		t = tui_model_view_task(m, k);
		if ((int)(len = strlen(t->id)) > idw)
			idw = (int)len;
		len = t->device != NULL ? strlen(t->device) : 1;
		if ((int)len > dw)
			dw = (int)len;
	}
	if (idw > 8)
		idw = 8;
	if (dw > 12)
		dw = 12;
	if (dw > r->w - 4 - (idw + 1 + 9 + 1 + 6 + 1 + 5 + 1))
		dw = r->w - 4 - (idw + 1 + 9 + 1 + 6 + 1 + 5 + 1);
	tui->task_scroll = tui_layout_scroll((int)m->tsel, rows,
	    tui->task_scroll, (int)m->n_tview);
	for (i = 0; i < rows; i++) {
		idx = tui->task_scroll + i;
		if ((t = tui_model_view_task(m, (size_t)idx)) == NULL)
			break;
		tasks_age(tui, t, age, sizeof age);
		snprintf(line, sizeof line, "%-*.*s %-9s %-6s %5s %-*.*s %s",
		    idw, idw, t->id, t->state != NULL ? t->state : "?",
		    t->priority != NULL ? t->priority : "",
		    age, dw > 0 ? dw : 0, dw > 0 ? dw : 0,
		    t->device != NULL ? t->device : "-",
		    t->name != NULL ? t->name : "");
		attr = (size_t)idx == m->tsel ? (focus ?
		    tui_screen_attr(TUI_C_SELECTED) | (int)A_BOLD : (int)A_BOLD) : 0;
		if (attr != 0) {
			attrset(attr);
			mvhline(r->y + 1 + i, r->x + 1, ' ', r->w - 2);
		}
		tui_screen_put(r->y + 1 + i, r->x + 2, r->w - 4, line);
		if (attr == 0) {
			attrset(tui_screen_attr(tui_screen_task_color(
			    t->state)));
			tui_screen_put(r->y + 1 + i, r->x + 2 + idw + 1, 9,
			    t->state != NULL ? t->state : "?");
		}
		attrset(A_NORMAL);
	}
}
