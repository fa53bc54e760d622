/* SPDX-License-Identifier: ISC */
/*
 * test-tui-layout.c -- encore-top's layout arithmetic: how many tiles a
 * row holds at several terminal widths, how wide they stretch, how many
 * tile rows fit above the panes, and where the grid scrolls so that the
 * selected tile stays visible (500 devices included).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "protocol.h"
#include "../../dashboard-tui/tui.h"

/* Tiles per row and their width at several terminal widths. */
static void
test_reflow(void **state)
{
	static const struct {
		int	width, per_row, tile_w;
	} cases[] = {
		{ 10, 1, 10 },		/* narrower than a tile: one, squeezed */
		{ 26, 1, 26 },
		{ 52, 1, 52 },		/* two need 26 + 1 + 26 = 53 */
		{ 53, 2, 26 },
		{ 80, 3, 26 },
		{ 100, 3, 32 },
		{ 107, 4, 26 },
		{ 132, 4, 32 },
		{ 200, 7, 27 },
		{ 0, 1, 1 },
	};
	size_t	i;
	int	n, w;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		n = tui_layout_per_row(cases[i].width);
		w = tui_layout_tile_width(cases[i].width, n);
		if (n != cases[i].per_row || w != cases[i].tile_w)
			fail_msg("width %d: %d tiles of %d, want %d of %d",
			    cases[i].width, n, w, cases[i].per_row,
			    cases[i].tile_w);
		/* Never wider than the screen. */
		if (cases[i].width >= TUI_TILE_W)
			assert_true(n * w + (n - 1) * TUI_TILE_GAP <=
			    cases[i].width);
	}
}

/* Rows for n tiles. */
static void
test_rows_for(void **state)
{
	assert_int_equal(tui_layout_rows_for(0, 3), 0);
	assert_int_equal(tui_layout_rows_for(1, 3), 1);
	assert_int_equal(tui_layout_rows_for(3, 3), 1);
	assert_int_equal(tui_layout_rows_for(4, 3), 2);
	assert_int_equal(tui_layout_rows_for(500, 3), 167);
	assert_int_equal(tui_layout_rows_for(5, 0), 5);
}

/* Scrolling keeps the selected row visible and moves as little as it
 * can. */
static void
test_scroll(void **state)
{
	static const struct {
		int	sel, visible, scroll, total, want;
	} cases[] = {
		{ 0, 3, 0, 2, 0 },		/* all fit */
		{ 2, 3, 0, 10, 0 },		/* visible already */
		{ 3, 3, 0, 10, 1 },		/* one below: one down */
		{ 9, 3, 0, 10, 7 },		/* last row at the bottom */
		{ 5, 3, 7, 10, 5 },		/* above: to the top */
		{ 8, 3, 7, 10, 7 },
		{ 0, 3, 9, 10, 0 },
		{ 4, 3, 9, 10, 4 },		/* scroll past the end fixed */
		{ 9, 3, 9, 10, 7 },
		{ 166, 3, 0, 167, 164 },
		{ 3, 0, 2, 10, 0 },		/* nothing visible */
	};
	size_t	i;
	int	got;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = tui_layout_scroll(cases[i].sel, cases[i].visible,
		    cases[i].scroll, cases[i].total);
		if (got != cases[i].want)
			fail_msg("case %zu: got %d, want %d", i, got,
			    cases[i].want);
	}
}

/* The whole layout fills the screen without overlap. */
static void
test_compute(void **state)
{
	static const struct {
		int	cols, lines;
		size_t	n;
		int	per_row, grid_rows;
	} cases[] = {
		{ 80, 24, 2, 3, 1 },
		{ 80, 24, 9, 3, 2 },		/* 22 body rows: 2 tile rows */
		{ 100, 30, 2, 3, 1 },
		{ 100, 30, 500, 3, 3 },
		{ 132, 50, 500, 4, 6 },
		{ 80, 24, 0, 3, 1 },		/* room for "no devices" */
		{ 40, 12, 3, 1, 1 },
	};
	struct tui_layout	l;
	size_t			i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tui_layout_compute(&l, cases[i].cols, cases[i].lines,
		    cases[i].n, 0, 0, 0);
		if (l.per_row != cases[i].per_row ||
		    l.grid_rows != cases[i].grid_rows)
			fail_msg("%dx%d, %zu: %d per row, %d rows; want %d, "
			    "%d", cases[i].cols, cases[i].lines, cases[i].n,
			    l.per_row, l.grid_rows, cases[i].per_row,
			    cases[i].grid_rows);
		assert_int_equal(l.header.y, 0);
		assert_int_equal(l.status.y, cases[i].lines - 1);
		assert_int_equal(l.grid.y, 1);
		assert_int_equal(l.grid.h, l.grid_rows * TUI_TILE_H);
		assert_int_equal(l.tasks.y, l.grid.y + l.grid.h);
		assert_int_equal(l.tasks.y + l.tasks.h, cases[i].lines - 1);
		assert_int_equal(l.detail.y, l.tasks.y);
		assert_int_equal(l.detail.h, l.tasks.h);
		assert_int_equal(l.tasks.w + l.detail.w, cases[i].cols);
		if (cases[i].lines >= 24)
			assert_true(l.tasks.h >= TUI_LOWER_MIN);
	}

	/* Selecting the last of 500 scrolls to the last rows. */
	tui_layout_compute(&l, 100, 30, 500, 499, 0, 0);
	assert_int_equal(l.total_rows, 167);
	assert_int_equal(l.scroll, 164);
	/* And back at the top from there. */
	tui_layout_compute(&l, 100, 30, 500, 0, 164, 0);
	assert_int_equal(l.scroll, 0);

	/* Zoom gives the body to the detail pane. */
	tui_layout_compute(&l, 80, 24, 9, 0, 0, 1);
	assert_int_equal(l.grid.h, 0);
	assert_int_equal(l.tasks.h, 0);
	assert_int_equal(l.detail.y, 1);
	assert_int_equal(l.detail.h, 22);
	assert_int_equal(l.detail.w, 80);
}

/* Run every case. */
/* The tasks pane's columns: ID and STATE always, NAME keeps its room,
 * DEVICE, AGE and PRIO only while it does. */
static void
test_task_columns(void **state)
{
	struct tui_task_cols	c;

	/* 80x24: a 36-column pane, 32 inside. */
	tui_layout_task_columns(&c, 32, 2, 2);
	assert_int_equal(c.id_x, 0);
	assert_int_equal(c.id_w, 2);
	assert_int_equal(c.state_x, 3);
	assert_int_equal(c.state_w, 9);
	assert_int_equal(c.dev_w, 3);
	assert_int_equal(c.age_w, 0);
	assert_int_equal(c.prio_w, 0);
	assert_int_equal(c.dev_x, 13);
	assert_int_equal(c.name_x, 17);
	assert_int_equal(c.name_w, 15);
	assert_true(c.name_w >= TUI_NAME_MIN);

	/* 100 columns: 41 inside, everything fits. */
	tui_layout_task_columns(&c, 41, 1, 2);
	assert_int_equal(c.prio_w, 6);
	assert_int_equal(c.age_w, 5);
	assert_int_equal(c.dev_w, 3);
	assert_int_equal(c.prio_x, 13);
	assert_int_equal(c.age_x, 20);
	assert_int_equal(c.dev_x, 26);
	assert_int_equal(c.name_x, 30);
	assert_int_equal(c.name_x + c.name_w, 41);

	/* Long ids and device names are capped; a tiny pane keeps ID+STATE. */
	tui_layout_task_columns(&c, 60, 20, 40);
	assert_int_equal(c.id_w, 8);
	assert_int_equal(c.dev_w, 12);
	assert_true(c.name_w >= TUI_NAME_MIN);
	tui_layout_task_columns(&c, 14, 3, 3);
	assert_int_equal(c.dev_w + c.age_w + c.prio_w, 0);
	assert_int_equal(c.name_w, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reflow),
		cmocka_unit_test(test_rows_for),
		cmocka_unit_test(test_scroll),
		cmocka_unit_test(test_compute),
		cmocka_unit_test(test_task_columns),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
