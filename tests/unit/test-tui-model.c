/* SPDX-License-Identifier: ISC */
/*
 * test-tui-model.c -- encore-top's pure model: devices and tasks applied
 * from the main node's replies and events (DEVICE and TASK shapes of
 * PROTOCOL.md section 8), kept by id; removal; the filtered and ordered
 * views; selection that follows its object; grid moves; totals; the
 * finished toggle; and the detail output buffer.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "protocol.h"
#include "../../dashboard-tui/tui.h"

#define NOW	((time_t)1795000000)

/* Parse a JSON literal (the test's own, so it must parse). */
static struct json_object *
J(const char *s)
{
	struct json_object	*o = json_tokener_parse(s);

	assert_non_null(o);
	return (o);
}

/* Apply a DEVICE given as JSON text. */
static void
dev(struct tui_model *m, const char *s)
{
	struct json_object	*o = J(s);

	assert_int_equal(tui_model_apply_device(m, o, NOW), 0);
	json_object_put(o);
}

/* Apply a TASK given as JSON text. */
static void
task(struct tui_model *m, const char *s)
{
	struct json_object	*o = J(s);

	assert_int_equal(tui_model_apply_task(m, o), 0);
	json_object_put(o);
}

/* A full DEVICE as list_devices sends it. */
static void
test_device_fields(void **state)
{
	struct tui_model	*m = tui_model_create();
	struct tui_device	*d;

	dev(m, "{\"id\":\"pi-kitchen\",\"hostname\":\"pi\",\"state\":\"busy\","
	    "\"arch\":\"aarch64\",\"platform\":\"linux\",\"cores\":4,"
	    "\"cpu_mhz\":1800,\"mem_total\":3978645504,\"labels\":"
	    "{\"room\":\"kitchen\"},\"capabilities\":[\"command\","
	    "\"container\"],\"slots\":4,\"running\":1,\"cpu_pct\":12.5,"
	    "\"mem_pct\":40.1,\"load\":[0.5,0.42,null],\"temp_c\":48.3,"
	    "\"battery_pct\":87,\"charging\":true,\"last_seen_s\":3,"
	    "\"accepting\":false,\"reason\":\"battery low\"}");
	d = tui_model_find_device(m, "pi-kitchen");
	assert_non_null(d);
	assert_string_equal(d->state, "busy");
	assert_string_equal(d->hostname, "pi");
	assert_string_equal(d->labels, "room=kitchen");
	assert_string_equal(d->caps, "command container");
	assert_int_equal(d->cores, 4);
	assert_int_equal(d->slots, 4);
	assert_int_equal(d->running, 1);
	assert_int_equal(d->battery_pct, 87);
	assert_int_equal(d->charging, 1);
	assert_int_equal(d->accepting, 0);
	assert_string_equal(d->reason, "battery low");
	assert_true(d->cpu_pct == 12.5);
	assert_true(d->load[0] == 0.5);
	assert_true(isnan(d->load[2]));
	assert_true(d->mem_total == 3978645504LL);
	assert_true(d->seen_at == NOW - 3);
	tui_model_free(m);
}

/* Unknown values (null or absent) read as unknown, never as zero. */
static void
test_device_unknowns(void **state)
{
	struct tui_model	*m = tui_model_create();
	struct tui_device	*d;

	dev(m, "{\"id\":\"w1\",\"state\":\"offline\",\"cpu_pct\":null,"
	    "\"load\":null,\"temp_c\":null,\"battery_pct\":null}");
	d = tui_model_find_device(m, "w1");
	assert_true(isnan(d->cpu_pct));
	assert_true(isnan(d->mem_pct));
	assert_true(isnan(d->load[0]));
	assert_true(isnan(d->temp_c));
	assert_int_equal(d->battery_pct, -1);
	assert_int_equal(d->slots, -1);
	assert_int_equal(d->seen_at, 0);
	assert_null(d->hostname);
	tui_model_free(m);
}

/* Objects without a usable id are refused and change nothing. */
static void
test_bad_objects(void **state)
{
	static const char	*bad[] = { "{}", "{\"id\":null}", "{\"id\":\"\"}",
				    "{\"id\":5}", "[]", "\"x\"" };
	struct tui_model	*m = tui_model_create();
	struct json_object	*o;
	size_t			 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		o = J(bad[i]);
		assert_int_equal(tui_model_apply_device(m, o, NOW), -1);
		json_object_put(o);
	}
	assert_int_equal(m->n_devices, 0);
	o = J("{\"state\":\"queued\"}");
	assert_int_equal(tui_model_apply_task(m, o), -1);
	json_object_put(o);
	assert_int_equal(m->n_tasks, 0);
	assert_int_equal(tui_model_apply_device(m, NULL, NOW), -1);
	tui_model_free(m);
}

/* Events update by id; removal forgets; a list replaces everything. */
static void
test_keyed_updates(void **state)
{
	struct tui_model	*m = tui_model_create();
	struct json_object	*list;

	dev(m, "{\"id\":\"b\",\"state\":\"online\"}");
	dev(m, "{\"id\":\"a\",\"state\":\"online\"}");
	dev(m, "{\"id\":\"c\",\"state\":\"pending\"}");
	dev(m, "{\"id\":\"a\",\"state\":\"offline\"}");
	assert_int_equal(m->n_devices, 3);
	assert_string_equal(m->devices[0]->id, "a");
	assert_string_equal(m->devices[1]->id, "b");
	assert_string_equal(tui_model_find_device(m, "a")->state, "offline");
	assert_int_equal(tui_model_remove_device(m, "b"), 0);
	assert_int_equal(tui_model_remove_device(m, "b"), -1);
	assert_null(tui_model_find_device(m, "b"));
	assert_int_equal(m->n_devices, 2);

	list = J("[{\"id\":\"x\",\"state\":\"online\"},"
	    "{\"id\":\"y\",\"state\":\"busy\"}]");
	tui_model_set_devices(m, list, NOW);
	json_object_put(list);
	assert_int_equal(m->n_devices, 2);
	assert_null(tui_model_find_device(m, "a"));
	assert_non_null(tui_model_find_device(m, "y"));
	tui_model_free(m);
}

/* Task ids are numbers in text: "10" sorts after "9". */
static void
test_task_ids_numeric(void **state)
{
	struct tui_model	*m = tui_model_create();

	task(m, "{\"id\":\"10\",\"state\":\"queued\"}");
	task(m, "{\"id\":\"9\",\"state\":\"queued\"}");
	task(m, "{\"id\":\"100\",\"state\":\"queued\"}");
	assert_string_equal(m->tasks[0]->id, "9");
	assert_string_equal(m->tasks[1]->id, "10");
	assert_string_equal(m->tasks[2]->id, "100");
	assert_non_null(tui_model_find_task(m, "10"));
	assert_null(tui_model_find_task(m, "1"));
	tui_model_free(m);
}

/* Ids of arrays and elements ("40.3") mix with plain ones in one sorted
 * array: every id is found again whatever the order they came in. */
static void
test_task_ids_with_elements(void **state)
{
	struct tui_model	*m = tui_model_create();
	static const char	*in[] = { "40.1", "5", "41", "40", "40.10",
	    "40.9", "400", "4", "40.2", "39", "x", "40.x", "100" };
	static const char	*want[] = { "4", "5", "39", "40", "40.1",
	    "40.2", "40.9", "40.10", "40.x", "41", "100", "400", "x" };
	char			 buf[128];
	size_t			 i, n = sizeof in / sizeof in[0];

	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof buf, "{\"id\":\"%s\",\"state\":"
		    "\"running\"}", in[i]);
		task(m, buf);
	}
	assert_int_equal(m->n_tasks, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(m->tasks[i]->id, want[i]);
		assert_non_null(tui_model_find_task(m, in[i]));
	}
	/* An update finds its task instead of adding another. */
	task(m, "{\"id\":\"40\",\"state\":\"completed\"}");
	assert_int_equal(m->n_tasks, n);
	assert_string_equal(tui_model_find_task(m, "40")->state, "completed");
	tui_model_free(m);
}

/* An array is one line; its elements count while they run, stay out of
 * the list, and are forgotten once they end; get_task's counts and why
 * are kept for the detail pane. */
static void
test_arrays(void **state)
{
	struct tui_model	*m = tui_model_create();
	struct tui_totals	 t;
	struct json_object	*o;

	task(m, "{\"id\":\"17\",\"name\":\"sweep\",\"state\":\"queued\","
	    "\"array\":{\"size\":50,\"start\":0,\"end\":49,\"step\":1,"
	    "\"limit\":3}}");
	task(m, "{\"id\":\"17.0\",\"state\":\"running\",\"array_id\":\"17\","
	    "\"array_index\":0}");
	task(m, "{\"id\":\"17.1\",\"state\":\"assigned\",\"array_id\":\"17\","
	    "\"array_index\":1}");
	task(m, "{\"id\":\"18\",\"state\":\"waiting\"}");
	task(m, "{\"id\":\"19\",\"state\":\"held\",\"reason\":\"by an "
	    "operator\"}");
	tui_model_refresh(m);
	assert_int_equal(m->n_tview, 3);
	assert_string_equal(tui_model_view_task(m, 0)->id, "17");
	assert_int_equal(tui_model_find_task(m, "17")->array_size, 50);
	assert_string_equal(tui_model_find_task(m, "19")->reason,
	    "by an operator");
	tui_model_totals(m, &t);
	assert_int_equal(t.queued, 1);
	assert_int_equal(t.running, 2);
	/* An element that ended is gone (its array's counts say it). */
	task(m, "{\"id\":\"17.0\",\"state\":\"completed\",\"array_id\":"
	    "\"17\"}");
	assert_null(tui_model_find_task(m, "17.0"));
	task(m, "{\"id\":\"17.2\",\"state\":\"failed\",\"array_id\":"
	    "\"17\"}");
	assert_null(tui_model_find_task(m, "17.2"));
	assert_int_equal(m->n_finished, 0);
	/* The detail's info, and an element's change makes it stale. */
	o = J("{\"id\":\"17\",\"state\":\"queued\",\"why\":\"the array "
	    "has its limit of 3 elements running\",\"array\":{\"size\":50,"
	    "\"start\":0,\"end\":49,\"step\":1,\"limit\":3,\"counts\":"
	    "{\"queued\":47,\"running\":2,\"completed\":1,\"failed\":0}},"
	    "\"dependencies\":[{\"task_id\":\"12\",\"kind\":\"after\"}]}");
	tui_model_set_info(m, "17", o);
	json_object_put(o);
	assert_string_equal(m->info.why, "the array has its limit of 3 "
	    "elements running");
	assert_string_equal(m->info.counts, "2 running, 47 queued, 1 "
	    "completed");
	assert_string_equal(m->info.array, "50 elements, 0-49 step 1, at "
	    "most 3 running");
	assert_string_equal(m->info.deps, "after 12");
	assert_null(m->info.inputs);
	assert_int_equal(m->info.stale, 0);
	/* Files: names and sizes, an array's outputs with their index,
	 * the first TUI_INFO_FILES of them and a count of the rest. */
	o = J("{\"id\":\"17\",\"array\":{\"size\":50},\"inputs\":"
	    "[{\"name\":\"in/a.csv\",\"size\":1536},{\"name\":\"b\","
	    "\"size\":3}],\"outputs\":[{\"name\":\"o\",\"size\":1,"
	    "\"index\":0},{\"name\":\"o\",\"size\":2,\"index\":1},{\"name\":"
	    "\"o\",\"size\":3,\"index\":2},{\"name\":\"o\",\"size\":4,"
	    "\"index\":3},{\"name\":\"o\",\"size\":5,\"index\":4},{\"name\":"
	    "\"o\",\"size\":6,\"index\":5},{\"name\":\"o\",\"size\":7,"
	    "\"index\":6},{\"name\":\"o\",\"size\":8,\"index\":7},{\"name\":"
	    "\"o\",\"size\":9,\"index\":8}]}");
	tui_model_set_info(m, "17", o);
	json_object_put(o);
	assert_string_equal(m->info.inputs, "in/a.csv 1.5K, b 3B");
	assert_string_equal(m->info.outputs, "0/o 1B, 1/o 2B, 2/o 3B, 3/o 4B, "
	    "4/o 5B, 5/o 6B, 6/o 7B, 7/o 8B, +1 more");
	task(m, "{\"id\":\"17.1\",\"state\":\"running\",\"array_id\":"
	    "\"17\"}");
	assert_int_equal(m->info.stale, 1);
	tui_model_free(m);
}

/* View order: running, then queued by priority then id; finished only
 * with the toggle, newest first. */
static void
test_task_view_order(void **state)
{
	struct tui_model	*m = tui_model_create();
	static const char	*want[] = { "3", "5", "2", "4", "1" };
	static const char	*all[] = { "3", "5", "2", "4", "1", "7", "6" };
	size_t			 i;

	task(m, "{\"id\":\"1\",\"state\":\"queued\",\"priority\":\"low\"}");
	task(m, "{\"id\":\"2\",\"state\":\"queued\",\"priority\":\"normal\"}");
	task(m, "{\"id\":\"3\",\"state\":\"running\",\"priority\":\"low\"}");
	task(m, "{\"id\":\"4\",\"state\":\"queued\",\"priority\":\"normal\"}");
	task(m, "{\"id\":\"5\",\"state\":\"queued\",\"priority\":\"urgent\"}");
	task(m, "{\"id\":\"6\",\"state\":\"completed\"}");
	task(m, "{\"id\":\"7\",\"state\":\"failed\"}");
	tui_model_refresh(m);
	assert_int_equal(m->n_tview, 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(tui_model_view_task(m, i)->id, want[i]);
	tui_model_toggle_finished(m);
	tui_model_refresh(m);
	assert_int_equal(m->n_tview, 7);
	for (i = 0; i < 7; i++)
		assert_string_equal(tui_model_view_task(m, i)->id, all[i]);
	tui_model_free(m);
}

/* Totals for the header. */
static void
test_totals(void **state)
{
	struct tui_model	*m = tui_model_create();
	struct tui_totals	 t;

	dev(m, "{\"id\":\"a\",\"state\":\"online\"}");
	dev(m, "{\"id\":\"b\",\"state\":\"busy\"}");
	dev(m, "{\"id\":\"c\",\"state\":\"paused\"}");
	dev(m, "{\"id\":\"d\",\"state\":\"draining\"}");
	dev(m, "{\"id\":\"e\",\"state\":\"offline\"}");
	dev(m, "{\"id\":\"f\",\"state\":\"pending\"}");
	task(m, "{\"id\":\"1\",\"state\":\"queued\"}");
	task(m, "{\"id\":\"2\",\"state\":\"assigned\"}");
	task(m, "{\"id\":\"3\",\"state\":\"running\"}");
	task(m, "{\"id\":\"4\",\"state\":\"failed\"}");
	task(m, "{\"id\":\"5\",\"state\":\"timed_out\"}");
	task(m, "{\"id\":\"6\",\"state\":\"completed\"}");
	task(m, "{\"id\":\"7\",\"state\":\"cancelled\"}");
	tui_model_totals(m, &t);
	assert_int_equal(t.devices, 6);
	assert_int_equal(t.online, 4);
	assert_int_equal(t.offline, 1);
	assert_int_equal(t.pending, 1);
	assert_int_equal(t.queued, 1);
	assert_int_equal(t.running, 2);
	assert_int_equal(t.failed, 2);
	assert_int_equal(t.completed, 1);
	tui_model_free(m);
}

/* Selection is kept by id across updates, and clamps when it goes. */
static void
test_selection_follows_id(void **state)
{
	struct tui_model	*m = tui_model_create();

	dev(m, "{\"id\":\"b\",\"state\":\"online\"}");
	dev(m, "{\"id\":\"d\",\"state\":\"online\"}");
	tui_model_move(m, 1, 0, 3);
	assert_string_equal(tui_model_selected_device(m)->id, "d");
	dev(m, "{\"id\":\"a\",\"state\":\"online\"}");	/* shifts d right */
	assert_string_equal(tui_model_selected_device(m)->id, "d");
	assert_int_equal(m->dsel, 2);
	tui_model_remove_device(m, "d");
	assert_string_equal(tui_model_selected_device(m)->id, "b");
	tui_model_remove_device(m, "a");
	tui_model_remove_device(m, "b");
	assert_null(tui_model_selected_device(m));
	tui_model_move(m, 1, 1, 3);		/* nothing to move to */
	assert_null(tui_model_selected_device(m));
	tui_model_free(m);
}

/* Moves in a grid of 3 per row over 8 devices (rows 0-2, 3-5, 6-7). */
static void
test_grid_moves(void **state)
{
	static const struct {
		int	from, dx, dy, to;
	} cases[] = {
		{ 0, 1, 0, 1 }, { 0, -1, 0, 0 }, { 7, 1, 0, 7 },
		{ 1, 0, 1, 4 }, { 4, 0, 1, 7 }, { 5, 0, 1, 7 },
		{ 7, 0, 1, 7 }, { 7, 0, -1, 4 }, { 2, 0, -1, 2 },
		{ 2, 0, 10, 7 }, { 7, 0, -10, 1 }, { 2, 1, 0, 3 },
	};
	struct tui_model	*m = tui_model_create();
	char			 buf[64];
	size_t			 i;

	for (i = 0; i < 8; i++) {
		snprintf(buf, sizeof buf, "{\"id\":\"d%zu\"}", i);
		dev(m, buf);
	}
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tui_model_move_end(m, -1);
		tui_model_move(m, cases[i].from, 0, 3);
		assert_int_equal(m->dsel, cases[i].from);
		tui_model_move(m, cases[i].dx, cases[i].dy, 3);
		if ((int)m->dsel != cases[i].to)
			fail_msg("case %zu: from %d by (%d,%d): got %zu, want "
			    "%d", i, cases[i].from, cases[i].dx, cases[i].dy,
			    m->dsel, cases[i].to);
	}
	tui_model_move_end(m, 1);
	assert_int_equal(m->dsel, 7);
	tui_model_free(m);
}

/* The filter narrows both views, case-insensitively, over several
 * fields; the tasks pane moves its own selection. */
static void
test_filter(void **state)
{
	struct tui_model	*m = tui_model_create();

	dev(m, "{\"id\":\"pi-kitchen\",\"state\":\"online\",\"arch\":"
	    "\"aarch64\"}");
	dev(m, "{\"id\":\"laptop\",\"state\":\"offline\",\"labels\":"
	    "{\"room\":\"attic\"}}");
	task(m, "{\"id\":\"1\",\"name\":\"render\",\"state\":\"running\","
	    "\"device\":\"pi-kitchen\"}");
	task(m, "{\"id\":\"2\",\"name\":\"backup\",\"state\":\"queued\"}");

	tui_model_set_filter(m, "KITCHEN");
	tui_model_refresh(m);
	assert_int_equal(m->n_dview, 1);
	assert_int_equal(m->n_tview, 1);
	assert_string_equal(tui_model_view_task(m, 0)->id, "1");
	tui_model_set_filter(m, "attic");
	tui_model_refresh(m);
	assert_int_equal(m->n_dview, 1);
	assert_string_equal(tui_model_selected_device(m)->id, "laptop");
	tui_model_set_filter(m, "aarch");
	tui_model_refresh(m);
	assert_string_equal(tui_model_view_device(m, 0)->id, "pi-kitchen");
	tui_model_set_filter(m, "nothing-matches");
	tui_model_refresh(m);
	assert_int_equal(m->n_dview, 0);
	assert_null(tui_model_selected_device(m));
	tui_model_set_filter(m, "");
	tui_model_refresh(m);
	assert_int_equal(m->n_dview, 2);
	assert_int_equal(m->n_tview, 2);

	tui_model_set_pane(m, TUI_PANE_TASKS);
	tui_model_move(m, 0, 1, 3);
	assert_string_equal(tui_model_selected_task(m)->id, "2");
	assert_string_equal(tui_model_wanted_task(m), "2");
	/* "aarch" hid laptop, so the grid selection moved to pi-kitchen. */
	assert_string_equal(tui_model_selected_device(m)->id, "pi-kitchen");
	tui_model_free(m);
}

/* Output belongs to the detail task only, is capped, and ends with it. */
static void
test_output(void **state)
{
	struct tui_model	*m = tui_model_create();
	char			*big;

	task(m, "{\"id\":\"7\",\"state\":\"running\"}");
	tui_model_output_reset(m, "7", "hello\n", 6);
	assert_false(m->output_done);
	tui_model_output_append(m, "7", "world\n", 6);
	tui_model_output_append(m, "8", "other\n", 6);
	tui_model_output_append(m, NULL, "other\n", 6);
	assert_int_equal(m->output_len, 12);
	assert_string_equal(m->output, "hello\nworld\n");
	tui_model_output_end(m, "8");
	assert_false(m->output_done);
	task(m, "{\"id\":\"7\",\"state\":\"completed\"}");
	assert_true(m->output_done);

	big = malloc(TUI_OUTPUT_MAX);
	assert_non_null(big);
	memset(big, 'x', TUI_OUTPUT_MAX);
	big[TUI_OUTPUT_MAX - 1] = 'Z';
	tui_model_output_append(m, "7", big, TUI_OUTPUT_MAX);
	assert_int_equal(m->output_len, TUI_OUTPUT_MAX);
	assert_int_equal(m->output[TUI_OUTPUT_MAX - 1], 'Z');
	assert_int_equal(m->output[0], 'x');
	free(big);

	tui_model_output_reset(m, "9", "", 0);
	assert_string_equal(m->detail_task, "9");
	assert_int_equal(m->output_len, 0);
	assert_false(m->output_done);
	tui_model_output_end(m, "9");
	assert_true(m->output_done);
	tui_model_free(m);
}

/* Finished tasks are capped near TUI_FINISHED_MAX (pruned in batches of
 * a tenth); the oldest go first, tasks not ended stay. */
static void
test_finished_cap(void **state)
{
	struct tui_model	*m = tui_model_create();
	char			 buf[64];
	size_t			 i;

	task(m, "{\"id\":\"1\",\"state\":\"queued\"}");
	for (i = 2; i < 2 * TUI_FINISHED_MAX + 2; i++) {
		snprintf(buf, sizeof buf, "{\"id\":\"%zu\",\"state\":"
		    "\"completed\"}", i);
		task(m, buf);
		assert_true(m->n_finished <= TUI_FINISHED_MAX +
		    TUI_FINISHED_MAX / 10);
	}
	assert_int_equal(m->n_tasks, m->n_finished + 1);
	assert_true(m->n_finished >= TUI_FINISHED_MAX);
	assert_non_null(tui_model_find_task(m, "1"));
	assert_null(tui_model_find_task(m, "2"));
	snprintf(buf, sizeof buf, "%d", 2 * TUI_FINISHED_MAX + 1);
	assert_non_null(tui_model_find_task(m, buf));
	tui_model_free(m);
}

/* A state the model does not know is not final (the protocol library's
 * one definition): such tasks show with the queued ones, not as done. */
static void
test_unknown_states_not_final(void **state)
{
	struct tui_model	*m = tui_model_create();
	static const char	*want[] = { "5", "1", "2", "3", "4" };
	size_t			 i;

	task(m, "{\"id\":\"1\",\"state\":\"waiting\"}");
	task(m, "{\"id\":\"2\",\"state\":\"held\"}");
	task(m, "{\"id\":\"3\",\"state\":\"frobnicating\"}");
	task(m, "{\"id\":\"4\",\"state\":\"queued\"}");
	task(m, "{\"id\":\"5\",\"state\":\"running\"}");
	task(m, "{\"id\":\"6\",\"state\":\"completed\"}");
	for (i = 0; i < 5; i++)
		assert_false(tui_task_is_finished(tui_model_find_task(m,
		    want[i])));
	assert_true(tui_task_is_finished(tui_model_find_task(m, "6")));
	assert_int_equal(m->n_finished, 1);
	tui_model_refresh(m);
	assert_int_equal(m->n_tview, 5);	/* finished hidden */
	for (i = 0; i < 5; i++)
		assert_string_equal(tui_model_view_task(m, i)->id, want[i]);
	tui_model_free(m);
}

/* The model stops growing at its caps; known ids still update. */
static void
test_caps(void **state)
{
	struct tui_model	*m = tui_model_create();
	struct json_object	*o;
	char			 buf[96];
	int			 i;

	for (i = 0; i < TUI_ACTIVE_MAX; i++) {
		snprintf(buf, sizeof buf, "{\"id\":\"%d\",\"state\":"
		    "\"queued\"}", i);
		task(m, buf);
	}
	o = J("{\"id\":\"999999\",\"state\":\"queued\"}");
	assert_int_equal(tui_model_apply_task(m, o), -1);
	json_object_put(o);
	assert_true(m->dropped_tasks);
	assert_int_equal(m->n_tasks, TUI_ACTIVE_MAX);
	task(m, "{\"id\":\"7\",\"state\":\"running\"}");
	task(m, "{\"id\":\"999998\",\"state\":\"completed\"}");
	assert_int_equal(m->n_tasks, TUI_ACTIVE_MAX + 1);
	/* A new listing starts over; finished tasks stay. */
	o = J("[{\"id\":\"1\",\"state\":\"queued\"}]");
	tui_model_set_tasks(m, o);
	json_object_put(o);
	assert_false(m->dropped_tasks);
	assert_int_equal(m->n_tasks, 2);
	assert_non_null(tui_model_find_task(m, "999998"));

	for (i = 0; i < TUI_DEVICES_MAX; i++) {
		snprintf(buf, sizeof buf, "{\"id\":\"d%d\"}", i);
		dev(m, buf);
	}
	o = J("{\"id\":\"one-too-many\"}");
	assert_int_equal(tui_model_apply_device(m, o, NOW), -1);
	json_object_put(o);
	assert_true(m->dropped_devices);
	dev(m, "{\"id\":\"d7\",\"state\":\"busy\"}");
	assert_int_equal(m->n_devices, TUI_DEVICES_MAX);
	tui_model_free(m);
}

/* ISO 8601 times from the wire. */
static void
test_parse_time(void **state)
{
	assert_int_equal(tui_parse_time("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(tui_parse_time("2026-11-22T10:31:00Z"), 1795343460);
	assert_int_equal(tui_parse_time(NULL), 0);
	assert_int_equal(tui_parse_time("yesterday"), 0);
}

/* Run every case. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_fields),
		cmocka_unit_test(test_device_unknowns),
		cmocka_unit_test(test_bad_objects),
		cmocka_unit_test(test_keyed_updates),
		cmocka_unit_test(test_task_ids_numeric),
		cmocka_unit_test(test_task_ids_with_elements),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_task_view_order),
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_selection_follows_id),
		cmocka_unit_test(test_grid_moves),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_finished_cap),
		cmocka_unit_test(test_unknown_states_not_final),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_parse_time),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
