/* SPDX-License-Identifier: ISC */
/*
 * tui-layout.c -- where things go on the screen: how many device tiles fit
 * a row, how many tile rows fit above the task and detail panes, and which
 * tile row the grid scrolls to so that the selection stays visible, and
 * which columns of the tasks pane fit.  Pure arithmetic, unit-tested at
 * several terminal sizes.
 */
#include <stddef.h>
#include <string.h>

#include "tui.h"

/* Tiles that fit in width columns. */
int
tui_layout_per_row(int width)
{
	int	n;

	n = (width + TUI_TILE_GAP) / (TUI_TILE_W + TUI_TILE_GAP);
	return (n < 1 ? 1 : n);
}

/* Width of each tile when per_row of them share width columns. */
int
tui_layout_tile_width(int width, int per_row)
{
	int	w;

	if (per_row < 1)
		per_row = 1;
	w = (width - (per_row - 1) * TUI_TILE_GAP) / per_row;
	return (w < 1 ? 1 : w);
}

/* Tile rows for n tiles. */
int
tui_layout_rows_for(size_t n, int per_row)
{
	if (per_row < 1)
		per_row = 1;
	return ((int)((n + (size_t)per_row - 1) / (size_t)per_row));
}

/* First visible row keeping row sel inside visible rows of total. */
int
tui_layout_scroll(int sel, int visible, int scroll, int total)
{
	if (visible <= 0 || total <= visible)
		return (0);
	if (scroll > total - visible)
		scroll = total - visible;
	if (sel < scroll)
		scroll = sel;
	if (sel >= scroll + visible)
		scroll = sel - visible + 1;
	if (scroll < 0)
		scroll = 0;
	return (scroll);
}

/* Compute the layout of a cols x lines screen. */
void
tui_layout_compute(struct tui_layout *l, int cols, int lines,
    size_t n_tiles, size_t sel, int scroll, int zoom)
{
	int	body_y = 1, body_h, lower_y, lower_h, tasks_w, max_rows, need;

	if (cols < 1)
		cols = 1;
	if (lines < 3)
		lines = 3;
	body_h = lines - 2;

	l->header = (struct tui_rect){ 0, 0, 1, cols };
	l->status = (struct tui_rect){ lines - 1, 0, 1, cols };
	l->per_row = tui_layout_per_row(cols);
	l->tile_w = tui_layout_tile_width(cols, l->per_row);
	l->total_rows = tui_layout_rows_for(n_tiles, l->per_row);

	if (zoom) {
		l->grid = (struct tui_rect){ body_y, 0, 0, cols };
		l->tasks = (struct tui_rect){ body_y, 0, 0, 0 };
		l->detail = (struct tui_rect){ body_y, 0, body_h, cols };
		l->grid_rows = 0;
		l->scroll = tui_layout_scroll((int)(sel / (size_t)l->per_row),
		    1, scroll, l->total_rows);
		return;
	}

	max_rows = (body_h - TUI_LOWER_MIN) / TUI_TILE_H;
	if (max_rows < 1)
		max_rows = 1;
	need = l->total_rows > 0 ? l->total_rows : 1;
	l->grid_rows = need < max_rows ? need : max_rows;
	l->grid = (struct tui_rect){ body_y, 0, l->grid_rows * TUI_TILE_H,
	    cols };
	if (l->grid.h > body_h)
		l->grid.h = body_h;
	l->scroll = tui_layout_scroll((int)(sel / (size_t)l->per_row),
	    l->grid_rows, scroll, l->total_rows);

	lower_y = body_y + l->grid.h;
	lower_h = body_h - l->grid.h;
	tasks_w = cols * 45 / 100;
	if (tasks_w < 30)
		tasks_w = cols < 60 ? cols : 30;
	if (tasks_w > 64)
		tasks_w = 64;
	l->tasks = (struct tui_rect){ lower_y, 0, lower_h, tasks_w };
	l->detail = (struct tui_rect){ lower_y, tasks_w, lower_h,
	    cols - tasks_w };
}

/* Lay out the tasks pane's columns. */
void
tui_layout_task_columns(struct tui_task_cols *c, int width, int id_w,
    int dev_w)
{
	int	x, left;

	memset(c, 0, sizeof *c);
	if (id_w < 2)
		id_w = 2;
	if (id_w > 8)
		id_w = 8;
	if (dev_w < 3)
		dev_w = 3;
	if (dev_w > 12)
		dev_w = 12;
	c->id_w = id_w;
	c->state_w = 9;			/* "timed_out", "cancelled" */
	left = width - (c->id_w + 1 + c->state_w + 1);
	/* Optional columns while NAME keeps its minimum, in this order. */
	if (left - (dev_w + 1) >= TUI_NAME_MIN) {
		c->dev_w = dev_w;
		left -= dev_w + 1;
	}
	if (left - 6 >= TUI_NAME_MIN) {
		c->age_w = 5;
		left -= 6;
	}
	if (left - 7 >= TUI_NAME_MIN) {
		c->prio_w = 6;			/* "normal", "urgent" */
		left -= 7;
	}
	c->name_w = left > 0 ? left : 0;

	/* On screen: ID STATE PRIO AGE DEVICE NAME. */
	x = 0;
	c->id_x = x;
	x += c->id_w + 1;
	c->state_x = x;
	x += c->state_w + 1;
	c->prio_x = x;
	x += c->prio_w > 0 ? c->prio_w + 1 : 0;
	c->age_x = x;
	x += c->age_w > 0 ? c->age_w + 1 : 0;
	c->dev_x = x;
	x += c->dev_w > 0 ? c->dev_w + 1 : 0;
	c->name_x = x;
}
