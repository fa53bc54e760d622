/* SPDX-License-Identifier: ISC */
/*
 * tui-view-grid.c -- the device grid: one boxed tile per device with its
 * id, its state in colour and in words, CPU and memory bars, load,
 * temperature, battery and running/slots.  Only the visible tile rows are
 * drawn, so 500 devices cost no more than a screenful.
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "protocol.h"
#include "profiler.h"
#include "tui.h"

/* "cpu [bar] 45%" on one tile line. */
static void
grid_meter(int y, int x, int cw, const char *label, double pct)
{
	char	num[8];
	int	bw;

	tui_screen_put(y, x, cw, label);
	bw = cw - 4 - 5;
	if (bw < 1)
		return;
	tui_screen_bar(y, x + 4, bw, pct);
	if (isnan(pct))
		snprintf(num, sizeof num, "   -");
	else
		snprintf(num, sizeof num, "%4.0f%%", pct);
	tui_screen_put(y, x + 4 + bw, 5, num);
}

/* The fourth tile line: what matters most for this state. */
static void
grid_info(struct tui *tui, struct tui_device *d, int y, int x, int cw)
{
	char	 line[256], part[64], age[16];
	size_t	 len = 0;
	const char *st = d->state != NULL ? d->state : "";

	line[0] = '\0';
	if (strcmp(st, "offline") == 0) {
		if (d->seen_at > 0)
			snprintf(line, sizeof line, "seen %s ago",
			    prof_format_duration((double)(tui->now -
			    d->seen_at), age, sizeof age));
		else
			snprintf(line, sizeof line, "never seen");
	} else if (strcmp(st, "pending") == 0) {
		snprintf(line, sizeof line, "waiting: press a");
	} else if (strcmp(st, "paused") == 0 && d->reason != NULL) {
		snprintf(line, sizeof line, "%s", d->reason);
	} else {
		if (!isnan(d->load[0]))
			len += (size_t)snprintf(line + len, sizeof line - len,
			    "ld %.2f", d->load[0]);
		if (!isnan(d->temp_c)) {
			snprintf(part, sizeof part, " %.0f%s", d->temp_c,
			    tui_screen.utf8 ? "°C" : "C");
			len += (size_t)snprintf(line + len, sizeof line - len,
			    "%s", part);
		}
		if (d->battery_pct >= 0)
			snprintf(line + len, sizeof line - len, " bat %d%%%s",
			    d->battery_pct, d->charging ? "+" : "");
	}
	tui_screen_put(y, x, cw, line);
}

/* Draw one tile. */
static void
grid_tile(struct tui *tui, struct tui_device *d, int y, int x, int w,
    int selected)
{
	char		 run[32];
	const char	*st = d->state != NULL ? d->state : "unknown";
	int		 cw = w - 4, cx = x + 2, battr, rl;

	battr = selected ? tui_screen_attr(TUI_C_SELECTED) | (int)A_BOLD :
	    (strcmp(st, "offline") == 0 ? tui_screen_attr(TUI_C_DIM) : 0);
	attrset(battr);
	tui_screen_box(y, x, TUI_TILE_H, w);
	if (selected && !tui_screen.color)
		mvaddch(y, x, '>');
	tui_screen_put(y, x + 1, 1, " ");
	rl = tui_screen_put(y, x + 2, w - 5, d->id);
	tui_screen_put(y, x + 2 + rl, 1, " ");
	attrset(A_NORMAL);
	if (cw < 4)
		return;

	attrset(tui_screen_attr(tui_screen_state_color(st)));
	tui_screen_put(y + 1, cx, cw, st);
	attrset(A_NORMAL);
	if (d->slots >= 0)
		snprintf(run, sizeof run, "run %d/%d", d->running < 0 ? 0 :
		    d->running, d->slots);
	else
		run[0] = '\0';
	if ((int)strlen(run) + (int)strlen(st) + 1 <= cw)
		tui_screen_put(y + 1, cx + cw - (int)strlen(run), cw, run);

	grid_meter(y + 2, cx, cw, "cpu", d->cpu_pct);
	grid_meter(y + 3, cx, cw, "mem", d->mem_pct);
	grid_info(tui, d, y + 4, cx, cw);
}

/* Draw the visible part of the grid. */
void
tui_view_grid(struct tui *tui)
{
	struct tui_model	*m = tui->model;
	struct tui_layout	*l = &tui->layout;
	struct tui_device	*d;
	size_t			 i, first, last;
	int			 row, col, y, x;

	if (l->grid.h <= 0)
		return;
	if (m->n_dview == 0) {
		attrset(tui_screen_attr(TUI_C_DIM));
		if (m->filter[0] != '\0')
			tui_screen_put(l->grid.y + 1, 2, l->grid.w - 4,
			    "no device matches the filter (Esc clears it)");
		else
			tui_screen_put(l->grid.y + 1, 2, l->grid.w - 4,
			    "no devices yet: start encore-worker --main "
			    "THIS_HOST:7070 on a device");
		attrset(A_NORMAL);
		return;
	}
	first = (size_t)l->scroll * (size_t)l->per_row;
	last = first + (size_t)l->grid_rows * (size_t)l->per_row;
	for (i = first; i < last && i < m->n_dview; i++) {
		d = tui_model_view_device(m, i);
		row = (int)((i - first) / (size_t)l->per_row);
		col = (int)((i - first) % (size_t)l->per_row);
		y = l->grid.y + row * TUI_TILE_H;
		x = col * (l->tile_w + TUI_TILE_GAP);
		if (y + TUI_TILE_H > l->grid.y + l->grid.h)
			break;
		grid_tile(tui, d, y, x, l->tile_w, i == m->dsel &&
		    m->pane == TUI_PANE_GRID);
	}
}
