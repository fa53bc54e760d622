/* SPDX-License-Identifier: ISC */
/*
 * tui-view.c -- the frame around the panes: the header with cluster
 * totals, the status line (connection state, the main node's answer to the
 * last action, the filter and confirmation prompts), the help overlay, and
 * tui_view_draw() which draws one whole frame from the model.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "protocol.h"
#include "tui.h"

/* Draw the header line. */
void
tui_view_header(struct tui *tui)
{
	struct tui_totals	 t;
	struct tui_rect		*r = &tui->layout.header;
	char			 line[512], right[128], pending[32];
	int			 rw;

	tui_model_totals(tui->model, &t);
	pending[0] = '\0';
	if (t.pending > 0)
		snprintf(pending, sizeof pending, ", %zu pending", t.pending);
	snprintf(line, sizeof line, " encore-top | devices %zu/%zu online%s"
	    " | tasks %zu queued %zu running %zu failed", t.online, t.devices,
	    pending, t.queued, t.running, t.failed);
	attrset(tui_screen_attr(TUI_C_HEADER));
	mvhline(r->y, r->x, ' ', r->w);
	tui_screen_put(r->y, r->x, r->w, line);

	right[0] = '\0';
	if (tui->net.state != TUI_NET_UP)
		snprintf(right, sizeof right, " DISCONNECTED ");
	else if (tui->layout.total_rows > tui->layout.grid_rows &&
	    tui->layout.grid_rows > 0)
		snprintf(right, sizeof right, " rows %d-%d/%d ",
		    tui->layout.scroll + 1, tui->layout.scroll +
		    tui->layout.grid_rows, tui->layout.total_rows);
	rw = (int)strlen(right);
	if (rw > 0 && rw + 40 < r->w) {
		if (tui->net.state != TUI_NET_UP)
			attrset(tui_screen_attr(TUI_C_ERROR) | A_REVERSE);
		tui_screen_put(r->y, r->x + r->w - rw, rw, right);
	}
	attrset(A_NORMAL);
}

/* Draw the status line. */
void
tui_view_status(struct tui *tui)
{
	struct tui_rect	*r = &tui->layout.status;
	struct tui_task	*t;
	char		 line[1024], hint[128];
	int		 attr = 0, hw;

	hint[0] = '\0';
	switch (tui->mode) {
	case TUI_MODE_FILTER:
		snprintf(line, sizeof line, "filter: %s_", tui->filter_edit);
		snprintf(hint, sizeof hint, "Enter keep  Esc clear ");
		attr = A_BOLD;
		break;
	case TUI_MODE_CONFIRM:
		t = tui_model_find_task(tui->model, tui->confirm_task);
		snprintf(line, sizeof line, "cancel task %s%s%s? (y/n)",
		    tui->confirm_task, t != NULL && t->name != NULL ? " " : "",
		    t != NULL && t->name != NULL ? t->name : "");
		attr = tui_screen_attr(TUI_C_PAUSED) | A_BOLD;
		break;
	default:
		if (tui->net.state == TUI_NET_DOWN) {
			snprintf(line, sizeof line, "disconnected, retrying "
			    "in %llds: %s", (long long)(tui->net.retry_at >
			    tui->now ? tui->net.retry_at - tui->now : 0),
			    tui->net.error);
			attr = tui_screen_attr(TUI_C_ERROR);
		} else if (tui->net.state != TUI_NET_UP) {
			snprintf(line, sizeof line, "disconnected, retrying: "
			    "connecting to %s", tui->net.addr);
			attr = tui_screen_attr(TUI_C_PAUSED);
		} else if (tui->status[0] != '\0') {
			snprintf(line, sizeof line, "%s", tui->status);
			attr = tui->status_err ? tui_screen_attr(TUI_C_ERROR) :
			    0;
		} else
			snprintf(line, sizeof line, "connected to %s",
			    tui->net.addr);
		if (tui->model->filter[0] != '\0')
			snprintf(hint, sizeof hint, "[/%s] ? help  q quit ",
			    tui->model->filter);
		else
			snprintf(hint, sizeof hint, "Tab pane  f finished  "
			    "? help  q quit ");
		break;
	}
	mvhline(r->y, r->x, ' ', r->w);
	hw = (int)strlen(hint);
	/* Why we are disconnected matters more than the key hints. */
	if (hw + 20 > r->w || tui->net.state != TUI_NET_UP)
		hw = 0;
	attrset(attr);
	tui_screen_put(r->y, r->x, r->w - hw - 1, line);
	attrset(tui_screen_attr(TUI_C_DIM));
	if (hw > 0)
		tui_screen_put(r->y, r->x + r->w - hw, hw, hint);
	attrset(A_NORMAL);
}

/* Draw the help overlay over the middle of the screen. */
void
tui_view_help(struct tui *tui)
{
	static const char	*extra[] = {
		"",
		"States: online busy paused offline pending draining",
		"(colour is never the only signal: the word is shown)",
		"",
		"Press any key to close this help.",
	};
	size_t			 i, n = 0, k;
	int			 h, w = 58, y, x, row;
	char			 line[128];

	for (i = 0; i < tui_keys_n; i++)
		n += tui_keys[i].help != NULL;
	h = (int)(n + sizeof extra / sizeof extra[0]) + 3;
	if (w > tui_screen.cols)
		w = tui_screen.cols;
	if (h > tui_screen.lines)
		h = tui_screen.lines;
	y = (tui_screen.lines - h) / 2;
	x = (tui_screen.cols - w) / 2;
	for (row = 0; row < h; row++)
		mvhline(y + row, x, ' ', w);
	attrset(A_BOLD);
	tui_screen_box(y, x, h, w);
	tui_screen_put(y, x + 2, w - 4, " encore-top help ");
	attrset(A_NORMAL);
	row = y + 1;
	for (i = 0; i < tui_keys_n && row < y + h - 1; i++) {
		if (tui_keys[i].help == NULL)
			continue;
		snprintf(line, sizeof line, "%-14s %s", tui_keys[i].name,
		    tui_keys[i].help);
		tui_screen_put(row++, x + 2, w - 4, line);
	}
	for (k = 0; k < sizeof extra / sizeof extra[0] && row < y + h - 1;
	    k++)
		tui_screen_put(row++, x + 2, w - 4, extra[k]);
}

/* Draw one whole frame. */
void
tui_view_draw(struct tui *tui)
{
	struct tui_model	*m = tui->model;

	tui_model_refresh(m);
	tui_layout_compute(&tui->layout, tui_screen.cols, tui_screen.lines,
	    m->n_dview, m->dsel, tui->scroll, tui->zoom);
	tui->scroll = tui->layout.scroll;

	erase();
	tui_view_header(tui);
	tui_view_grid(tui);
	tui_view_tasks(tui);
	tui_view_detail(tui);
	tui_view_status(tui);
	if (tui->mode == TUI_MODE_HELP)
		tui_view_help(tui);
	wnoutrefresh(stdscr);
	doupdate();
	m->dirty = 0;
}
