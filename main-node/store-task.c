/* SPDX-License-Identifier: ISC */
/*
 * store-task.c -- tasks, their attempts and their output in the database.
 * A task's row carries its placement inputs as columns, so the queue can
 * be indexed in memory (queue.c) without decoding stored JSON.  Listings
 * are read in pages by a cursor, so no reply or export holds a whole
 * table at once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "main.h"
#include "store.h"

#define TASK_COLUMNS \
	"id, name, state, priority, device, attempt, exit_code, error, " \
	"submitted_at, started_at, finished_at, retries_left, requeues, spec, " \
	"image, seq, last_attempt, start_fails, task_type, cpus, memory_mb, " \
	"req_arch, req_platform, req_device, req_labels, kind, array_id, " \
	"array_index, array_start, array_end, array_step, array_limit, " \
	"array_next, array_cancelled, reason, avoid, inputs"

/* Rows the range of final states covers (the schema's partial indexes
 * use the same expressions). */
#define SQL_FINAL	"state BETWEEN 3 AND 6"
#define SQL_OPEN	"state NOT BETWEEN 3 AND 6"

/* Prepare the task statements. */
int
store_task_prepare(struct store *st)
{
	if (store_prepare(st, &st->stmts.task_insert,
	    "INSERT INTO tasks (name, state, priority, spec, retries_left, "
	    "submitted_at, image, seq, task_type, cpus, memory_mb, req_arch, "
	    "req_platform, req_device, req_labels, kind, array_id, "
	    "array_index, array_start, array_end, array_step, array_limit, "
	    "array_next, array_cancelled, reason, avoid, inputs) VALUES (?1, "
	    "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
	    "?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)")
	    != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.task_get,
	    "SELECT " TASK_COLUMNS " FROM tasks WHERE id = ?1") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.task_update,
	    "UPDATE tasks SET state = ?2, device = ?3, attempt = ?4, "
	    "exit_code = ?5, error = ?6, started_at = ?7, finished_at = ?8, "
	    "retries_left = ?9, requeues = ?10, last_attempt = ?11, "
	    "start_fails = ?12, seq = ?13, array_next = ?14, "
	    "array_cancelled = ?15, reason = ?16, avoid = ?17 "
	    "WHERE id = ?1") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.attempt_upsert,
	    "INSERT INTO attempts (task_id, attempt, device, state, "
	    "exit_code, error, assigned_at, started_at, finished_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
	    "ON CONFLICT (task_id, attempt) DO UPDATE SET state = ?4, "
	    "device = coalesce(?3, device), exit_code = ?5, error = ?6, "
	    "started_at = coalesce(?8, started_at), finished_at = ?9") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.output_insert,
	    "INSERT INTO output (task_id, attempt, stream, data, seq, gap) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.output_trim,
	    "DELETE FROM output WHERE id = (SELECT id FROM output WHERE "
	    "task_id = ?1 ORDER BY id LIMIT 1) RETURNING length(data)") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.output_bytes,
	    "UPDATE tasks SET output_bytes = ?2 WHERE id = ?1") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.output_bytes_get,
	    "SELECT output_bytes FROM tasks WHERE id = ?1") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.output_seq,
	    "SELECT max(seq) FROM output WHERE task_id = ?1 AND "
	    "attempt = ?2") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.task_delete,
	    "DELETE FROM tasks WHERE id = ?1") != 0 ||
	    store_prepare(st, &st->stmts.attempts_delete,
	    "DELETE FROM attempts WHERE task_id = ?1") != 0 ||
	    store_prepare(st, &st->stmts.output_delete,
	    "DELETE FROM output WHERE task_id = ?1") != 0 ||
	    store_prepare(st, &st->stmts.deps_delete,
	    "DELETE FROM deps WHERE task_id = ?1") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.element_get,
	    "SELECT " TASK_COLUMNS " FROM tasks WHERE array_id = ?1 AND "
	    "array_index = ?2") != 0 ||
	    store_prepare(st, &st->stmts.dep_add,
	    "INSERT OR IGNORE INTO deps (task_id, dep_id, dep_index, kind) "
	    "VALUES (?1, ?2, ?3, ?4)") != 0 ||
	    store_prepare(st, &st->stmts.dependents,
	    "SELECT DISTINCT task_id FROM deps WHERE dep_id = ?1 AND "
	    "dep_index = ?2") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.count_state,
	    "SELECT state, count(*) FROM tasks WHERE kind = 0 GROUP BY state")
	    != 0)
		return (-1);
	return (0);
}

/* Free the strings of a row. */
void
task_row_free(struct task_row *r)
{
	free(r->name);
	free(r->device);
	free(r->error);
	free(r->image);
	free(r->spec);
	free(r->reason);
	free(r->avoid);
	free(r->inputs);
	placement_free(&r->place);
	memset(r, 0, sizeof *r);
}

static double
column_time(sqlite3_stmt *s, int i)
{
	return (sqlite3_column_type(s, i) == SQLITE_NULL ? 0 :
	    sqlite3_column_double(s, i));
}

/* Read the labels column (a JSON object, sorted by key when written). */
static void
column_labels(sqlite3_stmt *s, int i, struct placement *p)
{
	const char		*text = (const char *)sqlite3_column_text(s, i);
	struct json_object	*o;

	if (text == NULL || (o = json_tokener_parse(text)) == NULL)
		return;
	json_to_kv(o, &p->labels, &p->n_labels);
	json_object_put(o);
}

/* Fill a row from the TASK_COLUMNS of a statement. */
static void
task_row_read(sqlite3_stmt *s, struct task_row *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(s, 0);
	r->name = store_column_text(s, 1);
	r->state = (enum proto_task_status)sqlite3_column_int(s, 2);
	r->priority = (enum proto_priority)sqlite3_column_int(s, 3);
	r->device = store_column_text(s, 4);
	r->attempt = sqlite3_column_int(s, 5);
	r->exit_code = sqlite3_column_type(s, 6) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(s, 6);
	r->error = store_column_text(s, 7);
	r->submitted_at = column_time(s, 8);
	r->started_at = column_time(s, 9);
	r->finished_at = column_time(s, 10);
	r->retries_left = sqlite3_column_int(s, 11);
	r->requeues = sqlite3_column_int(s, 12);
	r->spec = store_column_text(s, 13);
	r->image = store_column_text(s, 14);
	r->seq = sqlite3_column_type(s, 15) == SQLITE_NULL ? r->id :
	    sqlite3_column_int64(s, 15);
	r->last_attempt = sqlite3_column_int(s, 16);
	if (r->last_attempt < r->attempt)
		r->last_attempt = r->attempt;
	r->start_fails = sqlite3_column_int(s, 17);
	r->place.type = (enum proto_task_type)sqlite3_column_int(s, 18);
	r->place.cpus = sqlite3_column_double(s, 19);
	r->place.memory_mb = sqlite3_column_int(s, 20);
	r->place.arch = store_column_text(s, 21);
	r->place.platform = store_column_text(s, 22);
	r->place.device = store_column_text(s, 23);
	column_labels(s, 24, &r->place);
	r->kind = sqlite3_column_int(s, 25);
	r->array_id = sqlite3_column_int64(s, 26);
	r->array_index = sqlite3_column_int64(s, 27);
	r->array_start = sqlite3_column_int64(s, 28);
	r->array_end = sqlite3_column_int64(s, 29);
	r->array_step = sqlite3_column_int64(s, 30);
	if (r->array_step < 1)
		r->array_step = 1;
	r->array_limit = sqlite3_column_int(s, 31);
	r->array_next = sqlite3_column_int64(s, 32);
	r->array_cancelled = sqlite3_column_int64(s, 33);
	r->reason = store_column_text(s, 34);
	r->avoid = store_column_text(s, 35);
	r->inputs = store_column_text(s, 36);
}

/* Step a bound statement for at most one row of TASK_COLUMNS: 0 found,
 * 1 not found, -1 error. */
static int
store_task_one(struct store *st, sqlite3_stmt *s, struct task_row *r)
{
	int	rc;

	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		task_row_read(s, r);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return (0);
	if (rc == SQLITE_DONE)
		return (1);
	log_error("event=store_read error=\"%s\"", sqlite3_errmsg(st->db));
	return (-1);
}

/* Store a new task from its row (id is set on return); -1 on error. */
int64_t
store_task_insert(struct store *st, struct task_row *r)
{
	sqlite3_stmt		*s = st->stmts.task_insert;
	struct json_object	*labels;

	store_bind_text(s, 1, r->name);
	sqlite3_bind_int(s, 2, r->state);
	sqlite3_bind_int(s, 3, r->priority);
	sqlite3_bind_text(s, 4, r->spec, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 5, r->retries_left);
	sqlite3_bind_double(s, 6, r->submitted_at);
	store_bind_text(s, 7, r->image);
	sqlite3_bind_int64(s, 8, r->seq);
	sqlite3_bind_int(s, 9, r->place.type);
	sqlite3_bind_double(s, 10, r->place.cpus);
	sqlite3_bind_int(s, 11, r->place.memory_mb);
	store_bind_text(s, 12, r->place.arch);
	store_bind_text(s, 13, r->place.platform);
	store_bind_text(s, 14, r->place.device);
	labels = json_from_kv(r->place.labels, r->place.n_labels);
	sqlite3_bind_text(s, 15, json_object_to_json_string_ext(labels,
	    JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
	json_object_put(labels);
	sqlite3_bind_int(s, 16, r->kind);
	store_bind_int_or_null(s, 17, r->array_id > 0 ? r->array_id : -1);
	if (r->array_id > 0)
		sqlite3_bind_int64(s, 18, r->array_index);
	else
		sqlite3_bind_null(s, 18);
	if (r->kind == TASK_KIND_ARRAY) {
		sqlite3_bind_int64(s, 19, r->array_start);
		sqlite3_bind_int64(s, 20, r->array_end);
		sqlite3_bind_int64(s, 21, r->array_step);
		sqlite3_bind_int(s, 22, r->array_limit);
		sqlite3_bind_int64(s, 23, r->array_next);
		sqlite3_bind_int64(s, 24, r->array_cancelled);
	}
	store_bind_text(s, 25, r->reason);
	store_bind_text(s, 26, r->avoid);
	store_bind_text(s, 27, r->inputs);
	if (store_step_done(st, s) != 0)
		return (-1);
	r->id = sqlite3_last_insert_rowid(st->db);
	return (r->id);
}

/* Read one task; 0 found, 1 not found, -1 error. */
int
store_task_get(struct store *st, int64_t id, struct task_row *r)
{
	sqlite3_stmt	*s = st->stmts.task_get;

	sqlite3_bind_int64(s, 1, id);
	return (store_task_one(st, s, r));
}

/* Write a task's mutable columns from a row. */
int
store_task_update(struct store *st, const struct task_row *r)
{
	sqlite3_stmt	*s = st->stmts.task_update;

	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_int(s, 2, r->state);
	store_bind_text(s, 3, r->device);
	sqlite3_bind_int(s, 4, r->attempt);
	store_bind_int_or_null(s, 5, r->exit_code);
	store_bind_text(s, 6, r->error);
	store_bind_double_or_null(s, 7, r->started_at > 0 ? r->started_at :
	    NAN);
	store_bind_double_or_null(s, 8, r->finished_at > 0 ?
	    r->finished_at : NAN);
	sqlite3_bind_int(s, 9, r->retries_left);
	sqlite3_bind_int(s, 10, r->requeues);
	sqlite3_bind_int(s, 11, r->last_attempt);
	sqlite3_bind_int(s, 12, r->start_fails);
	sqlite3_bind_int64(s, 13, r->seq);
	sqlite3_bind_int64(s, 14, r->array_next);
	sqlite3_bind_int64(s, 15, r->array_cancelled);
	store_bind_text(s, 16, r->reason);
	store_bind_text(s, 17, r->avoid);
	return (store_step_done(st, s));
}

/* Record an attempt's state (a NULL device or a 0 start keeps what the
 * record already has). */
int
store_attempt_put(struct store *st, int64_t id, int attempt,
    const char *device, int state, int exit_code, const char *error,
    double assigned_at, double started_at, double finished_at)
{
	sqlite3_stmt	*s = st->stmts.attempt_upsert;

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, attempt);
	store_bind_text(s, 3, device);
	sqlite3_bind_int(s, 4, state);
	store_bind_int_or_null(s, 5, exit_code);
	store_bind_text(s, 6, error);
	store_bind_double_or_null(s, 7, assigned_at > 0 ? assigned_at : NAN);
	store_bind_double_or_null(s, 8, started_at > 0 ? started_at : NAN);
	store_bind_double_or_null(s, 9, finished_at > 0 ? finished_at : NAN);
	return (store_step_done(st, s));
}

/* Run a prepared-on-the-fly query of TASK_COLUMNS rows through cb. */
static int
store_task_rows(struct store *st, sqlite3_stmt *s, task_row_cb cb,
    void *arg)
{
	struct task_row	r;
	int		rc, stop = 0;

	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		task_row_read(s, &r);
		stop = cb(&r, arg);
		task_row_free(&r);
	}
	if (stop)
		rc = SQLITE_DONE;
	if (rc != SQLITE_DONE)
		log_error("event=store_read error=\"%s\"",
		    sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* A page's walk: each row moves the cursor past it, then goes to cb. */
struct page_walk {
	struct task_cursor	*cur;
	task_row_cb		 cb;
	void			*arg;
};

static int
page_row(const struct task_row *r, void *arg)
{
	struct page_walk	*w = arg;

	w->cur->after = r->id;
	w->cur->prio = r->priority;
	w->cur->seq = r->seq;
	return (w->cb(r, w->arg));
}

/*
 * The next page of a listing after the cursor, at most limit rows, each
 * through cb; the cursor moves past them.  Pages are in id order (in
 * dispatch order for TASK_LIST_QUEUE).
 */
int
store_task_page(struct store *st, struct task_cursor *cur, int limit,
    task_row_cb cb, void *arg)
{
	sqlite3_stmt		*s;
	const char		*sql;
	struct page_walk	 w = { cur, cb, arg };

	switch (cur->mode) {
	case TASK_LIST_QUEUE:
		sql = "SELECT " TASK_COLUMNS " FROM tasks WHERE state = 0 AND "
		    "(priority < ?1 OR (priority = ?1 AND seq > ?2)) "
		    "ORDER BY priority DESC, seq LIMIT ?3";
		break;
	case TASK_LIST_OPEN:
		sql = cur->expand ? "SELECT " TASK_COLUMNS " FROM tasks WHERE "
		    SQL_OPEN " AND id > ?2 ORDER BY id LIMIT ?3" :
		    "SELECT " TASK_COLUMNS " FROM tasks WHERE " SQL_OPEN
		    " AND id > ?2 AND array_id IS NULL ORDER BY id LIMIT ?3";
		break;
	case TASK_LIST_RECENT:
		/* Open tasks and the last 1000 finished, by id. */
		sql = "SELECT " TASK_COLUMNS " FROM tasks WHERE id > ?2 AND "
		    "(" SQL_OPEN " OR id IN (SELECT id FROM tasks WHERE "
		    SQL_FINAL " ORDER BY finished_at DESC LIMIT 1000)) "
		    "ORDER BY id LIMIT ?3";
		break;
	default:
		sql = cur->expand ? "SELECT " TASK_COLUMNS " FROM tasks WHERE "
		    "id > ?2 ORDER BY id LIMIT ?3" : "SELECT " TASK_COLUMNS
		    " FROM tasks WHERE id > ?2 AND array_id IS NULL ORDER BY id "
		    "LIMIT ?3";
		break;
	}
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_error("event=store_read error=\"%s\"",
		    sqlite3_errmsg(st->db));
		return (-1);
	}
	if (!cur->started) {
		cur->started = 1;
		cur->prio = 1 << 30;
		cur->seq = -1;
	}
	sqlite3_bind_int(s, 1, cur->prio);
	sqlite3_bind_int64(s, 2, cur->mode == TASK_LIST_QUEUE ? cur->seq :
	    cur->after);
	sqlite3_bind_int(s, 3, limit);
	return (store_task_rows(st, s, page_row, &w));
}

/* Tasks assigned or running (to rebuild memory at startup). */
int
store_task_active(struct store *st, task_row_cb cb, void *arg)
{
	sqlite3_stmt	*s;

	if (sqlite3_prepare_v2(st->db, "SELECT " TASK_COLUMNS " FROM tasks "
	    "WHERE state IN (1, 2) AND kind = 0 ORDER BY id", -1, &s, NULL) !=
	    SQLITE_OK)
		return (-1);
	return (store_task_rows(st, s, cb, arg));
}

/* Tasks queued (to index the queue at startup). */
int
store_task_queued(struct store *st, task_row_cb cb, void *arg)
{
	sqlite3_stmt	*s;

	if (sqlite3_prepare_v2(st->db, "SELECT " TASK_COLUMNS " FROM tasks "
	    "WHERE state = 0 AND kind = 0", -1, &s, NULL) != SQLITE_OK)
		return (-1);
	return (store_task_rows(st, s, cb, arg));
}

/* Count tasks by state. */
int
store_task_counts(struct store *st, int64_t counts[TASK__COUNT])
{
	sqlite3_stmt	*s = st->stmts.count_state;
	int		 rc, state;

	memset(counts, 0, TASK__COUNT * sizeof counts[0]);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		state = sqlite3_column_int(s, 0);
		if (state >= 0 && state < TASK__COUNT)
			counts[state] = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* The highest dispatch order number given so far (0 for none). */
int64_t
store_task_max_seq(struct store *st)
{
	sqlite3_stmt	*s;
	int64_t		 v = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT coalesce(max(seq), 0) FROM "
	    "tasks", -1, &s, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return (v);
}

/* The attempts of a task, oldest first. */
int
store_attempt_list(struct store *st, int64_t id,
    void (*cb)(const struct attempt_row *, void *), void *arg)
{
	sqlite3_stmt		*s;
	struct attempt_row	 a;
	int			 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT attempt, device, state, "
	    "exit_code, error, started_at, finished_at FROM attempts "
	    "WHERE task_id = ?1 ORDER BY attempt", -1, &s, NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		a.attempt = sqlite3_column_int(s, 0);
		a.device = (const char *)sqlite3_column_text(s, 1);
		a.state = sqlite3_column_int(s, 2);
		a.exit_code = sqlite3_column_type(s, 3) == SQLITE_NULL ? -1 :
		    sqlite3_column_int(s, 3);
		a.error = (const char *)sqlite3_column_text(s, 4);
		a.started_at = column_time(s, 5);
		a.finished_at = column_time(s, 6);
		cb(&a, arg);
	}
	sqlite3_finalize(s);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* Insert one output row. */
static int
store_output_row(struct store *st, int64_t id, int attempt,
    const char *stream, const void *data, size_t len, int64_t seq,
    int64_t gap)
{
	sqlite3_stmt	*s = st->stmts.output_insert;

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, attempt);
	sqlite3_bind_text(s, 3, stream, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, data, (int)len, SQLITE_STATIC);
	store_bind_int_or_null(s, 5, seq);
	sqlite3_bind_int64(s, 6, gap);
	return (store_step_done(st, s));
}

/*
 * Store an output chunk numbered seq (after a mark for gap chunks lost
 * before it, when gap > 0) and drop the oldest ones past max bytes;
 * returns the task's new stored size, or -1.
 */
int64_t
store_output_add(struct store *st, int64_t id, int attempt,
    const char *stream, const char *data, size_t len, int64_t seq,
    int64_t gap, int64_t stored, size_t max)
{
	sqlite3_stmt	*s;
	int		 rc = 0;

	if (store_begin(st) != 0)
		return (store_end(st, -1));
	if (gap > 0)
		rc = store_output_row(st, id, attempt, "gap", "", 0, -1, gap);
	if (rc == 0)
		rc = store_output_row(st, id, attempt, stream, data, len, seq,
		    0);
	if (rc != 0)
		return (store_end(st, -1));
	stored += (int64_t)len;
	s = st->stmts.output_trim;
	while (stored > (int64_t)max) {
		sqlite3_bind_int64(s, 1, id);
		if (sqlite3_step(s) != SQLITE_ROW) {
			sqlite3_reset(s);
			break;
		}
		stored -= sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	s = st->stmts.output_bytes;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, stored);
	if (store_end(st, store_step_done(st, s)) != 0)
		return (-1);
	return (stored);
}

/* The stored output of one attempt, in order, with its stream (a gap row
 * comes with the number of chunks lost there). */
int
store_output_get(struct store *st, int64_t id, int attempt,
    void (*cb)(const char *, const void *, size_t, int64_t, void *),
    void *arg)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT stream, data, gap FROM output "
	    "WHERE task_id = ?1 AND attempt = ?2 ORDER BY id", -1, &s,
	    NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, attempt);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		cb((const char *)sqlite3_column_text(s, 0),
		    sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1),
		    sqlite3_column_int64(s, 2), arg);
	sqlite3_finalize(s);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* Stored output bytes of a task. */
int64_t
store_output_bytes(struct store *st, int64_t id)
{
	sqlite3_stmt	*s = st->stmts.output_bytes_get;
	int64_t		 n = 0;

	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return (n);
}

/* The seq the next output chunk of an attempt should carry. */
int64_t
store_output_next_seq(struct store *st, int64_t id, int attempt)
{
	sqlite3_stmt	*s = st->stmts.output_seq;
	int64_t		 n = 0;

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, attempt);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		n = sqlite3_column_int64(s, 0) + 1;
	sqlite3_reset(s);
	return (n);
}

/* Delete one task with its attempts and output. */
static int
store_task_delete_one(struct store *st, int64_t id)
{
	sqlite3_stmt	*stmts[5] = { st->stmts.output_delete,
			    st->stmts.attempts_delete, st->stmts.deps_delete,
			    st->stmts.files_delete, st->stmts.task_delete };
	int		 i;

	for (i = 0; i < 5; i++) {
		sqlite3_bind_int64(stmts[i], 1, id);
		if (store_step_done(st, stmts[i]) != 0)
			return (-1);
	}
	return (0);
}

/*
 * Delete up to max tasks that finished before `before`, with their
 * attempts, output and file records; removed[state] counts them.
 */
int
store_task_prune(struct store *st, double before, int max,
    int64_t removed[TASK__COUNT])
{
	sqlite3_stmt	*s;
	int64_t		 id;
	int		 rc, state;

	if (store_begin(st) != 0)
		return (store_end(st, -1));
	if (sqlite3_prepare_v2(st->db, "SELECT id, state, kind, "
	    "coalesce(array_cancelled, 0) FROM tasks WHERE " SQL_FINAL
	    " AND finished_at < ?1 ORDER BY finished_at LIMIT ?2", -1, &s,
	    NULL) != SQLITE_OK)
		return (store_end(st, -1));
	sqlite3_bind_double(s, 1, before);
	sqlite3_bind_int(s, 2, max);
	rc = 0;
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		state = sqlite3_column_int(s, 1);
		rc = store_task_delete_one(st, id);
		if (rc != 0)
			break;
		/* An array row is not counted itself; the elements it never
		 * made are, as cancelled. */
		if (sqlite3_column_int(s, 2) == TASK_KIND_ARRAY)
			removed[TASK_CANCELLED] += sqlite3_column_int64(s, 3);
		else if (state >= 0 && state < TASK__COUNT)
			removed[state]++;
	}
	sqlite3_finalize(s);
	if (store_end(st, rc) != 0) {
		memset(removed, 0, TASK__COUNT * sizeof removed[0]);
		return (-1);
	}
	return (0);
}

/* ---- arrays and dependencies ---- */

/* The element of an array at an index; 0 found, 1 not made, -1 error. */
int
store_element_get(struct store *st, int64_t array_id, int64_t index,
    struct task_row *r)
{
	sqlite3_stmt	*s = st->stmts.element_get;

	sqlite3_bind_int64(s, 1, array_id);
	sqlite3_bind_int64(s, 2, index);
	return (store_task_one(st, s, r));
}

/* Every array row, through cb. */
int
store_array_rows(struct store *st, task_row_cb cb, void *arg)
{
	sqlite3_stmt	*s;

	if (sqlite3_prepare_v2(st->db, "SELECT " TASK_COLUMNS " FROM tasks "
	    "WHERE kind = 1", -1, &s, NULL) != SQLITE_OK)
		return (-1);
	return (store_task_rows(st, s, cb, arg));
}

/* An array's elements made so far that are assigned or running, and that
 * have not ended. */
int
store_array_element_counts(struct store *st, int64_t array_id,
    int64_t *active, int64_t *open)
{
	sqlite3_stmt	*s;
	int		 rc;

	*active = *open = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT coalesce(sum(state IN (1, 2)), "
	    "0), count(*) FROM tasks WHERE array_id = ?1 AND " SQL_OPEN, -1,
	    &s, NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(s, 1, array_id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*active = sqlite3_column_int64(s, 0);
		*open = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return (rc == SQLITE_ROW ? 0 : -1);
}

/* An array's elements made so far, by state. */
int
store_array_state_counts(struct store *st, int64_t array_id,
    int64_t counts[TASK__COUNT])
{
	sqlite3_stmt	*s;
	int		 rc, state;

	memset(counts, 0, TASK__COUNT * sizeof counts[0]);
	if (sqlite3_prepare_v2(st->db, "SELECT state, count(*) FROM tasks "
	    "WHERE array_id = ?1 GROUP BY state", -1, &s, NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(s, 1, array_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		state = sqlite3_column_int(s, 0);
		if (state >= 0 && state < TASK__COUNT)
			counts[state] = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* Record that task_id depends on (dep_id, dep_index) in a way. */
int
store_dep_add(struct store *st, int64_t task_id, int64_t dep_id,
    int64_t dep_index, int kind)
{
	sqlite3_stmt	*s = st->stmts.dep_add;

	sqlite3_bind_int64(s, 1, task_id);
	sqlite3_bind_int64(s, 2, dep_id);
	sqlite3_bind_int64(s, 3, dep_index);
	sqlite3_bind_int(s, 4, kind);
	return (store_step_done(st, s));
}

/* The dependencies of a task. */
int
store_deps_of(struct store *st, int64_t task_id,
    void (*cb)(int64_t, int64_t, int, void *), void *arg)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT dep_id, dep_index, kind FROM "
	    "deps WHERE task_id = ?1 ORDER BY dep_id, dep_index", -1, &s,
	    NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(s, 1, task_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		cb(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
		    sqlite3_column_int(s, 2), arg);
	sqlite3_finalize(s);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* The tasks that depend on (dep_id, dep_index): asked at every end of a
 * task, so the statement is prepared once. */
int
store_dependents(struct store *st, int64_t dep_id, int64_t dep_index,
    void (*cb)(int64_t, void *), void *arg)
{
	sqlite3_stmt	*s = st->stmts.dependents;
	int64_t		*ids = NULL;
	size_t		 n = 0, cap = 0, i;
	int		 rc;

	sqlite3_bind_int64(s, 1, dep_id);
	sqlite3_bind_int64(s, 2, dep_index);
	/* Collected first: cb writes, and may end more tasks. */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ids = xreallocarray(ids, cap, sizeof *ids);
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);	/* before cb, which may ask again */
	for (i = 0; i < n; i++)
		cb(ids[i], arg);
	free(ids);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* How many rows a listing selects (for list_tasks' total). */
int64_t
store_task_count_listing(struct store *st, enum task_list_mode mode,
    int expand)
{
	sqlite3_stmt	*s;
	const char	*sql;
	int64_t		 n = -1;

	if (mode == TASK_LIST_OPEN)
		sql = expand ? "SELECT count(*) FROM tasks WHERE " SQL_OPEN :
		    "SELECT count(*) FROM tasks WHERE " SQL_OPEN
		    " AND array_id IS NULL";
	else
		sql = expand ? "SELECT count(*) FROM tasks" :
		    "SELECT count(*) FROM tasks WHERE array_id IS NULL";
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return (n);
}

/* The elements of an array made so far that have not ended. */
int
store_elements_open(struct store *st, int64_t array_id, task_row_cb cb,
    void *arg)
{
	sqlite3_stmt	*s;
	struct task_row	 r;
	int64_t		*ids = NULL;
	size_t		 n = 0, cap = 0, i;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT id FROM tasks WHERE "
	    "array_id = ?1 AND " SQL_OPEN, -1, &s, NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(s, 1, array_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ids = xreallocarray(ids, cap, sizeof *ids);
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	for (i = 0; i < n; i++) {
		if (store_task_get(st, ids[i], &r) == 0) {
			cb(&r, arg);
			task_row_free(&r);
		}
	}
	free(ids);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* Queued tasks ahead of (prio, seq) in dispatch order. */
int64_t
store_task_ahead(struct store *st, int prio, int64_t seq)
{
	sqlite3_stmt	*s;
	int64_t		 n = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM tasks WHERE "
	    "state = 0 AND (priority > ?1 OR (priority = ?1 AND seq < ?2))",
	    -1, &s, NULL) != SQLITE_OK)
		return (0);
	sqlite3_bind_int(s, 1, prio);
	sqlite3_bind_int64(s, 2, seq);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return (n);
}
