/* SPDX-License-Identifier: ISC */
/*
 * store-task.c -- tasks, their attempts and their output in the database.
 * The queue is the partial index tasks_queue (priority DESC, id) over
 * queued rows, so the next task in dispatch order is one index step away
 * however many tasks are queued.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"
#include "store.h"

#define TASK_COLUMNS \
	"id, name, state, priority, device, attempt, exit_code, error, " \
	"submitted_at, started_at, finished_at, retries_left, requeues, spec, " \
	"image"

/* Prepare the task statements. */
int
store_task_prepare(struct store *st)
{
	if (store_prepare(st, &st->stmts.task_insert,
	    "INSERT INTO tasks (name, state, priority, spec, retries_left, "
	    "submitted_at, image) VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6)") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.task_get,
	    "SELECT " TASK_COLUMNS " FROM tasks WHERE id = ?1") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.task_next,
	    "SELECT " TASK_COLUMNS " FROM tasks WHERE state = 0 AND "
	    "(priority < ?1 OR (priority = ?1 AND id > ?2)) "
	    "ORDER BY priority DESC, id LIMIT ?3") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.task_update,
	    "UPDATE tasks SET state = ?2, device = ?3, attempt = ?4, "
	    "exit_code = ?5, error = ?6, started_at = ?7, finished_at = ?8, "
	    "retries_left = ?9, requeues = ?10 WHERE id = ?1") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.attempt_upsert,
	    "INSERT INTO attempts (task_id, attempt, device, state, "
	    "exit_code, error, assigned_at, started_at, finished_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
	    "ON CONFLICT (task_id, attempt) DO UPDATE SET state = ?4, "
	    "exit_code = ?5, error = ?6, started_at = ?8, "
	    "finished_at = ?9") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.output_insert,
	    "INSERT INTO output (task_id, attempt, stream, data) "
	    "VALUES (?1, ?2, ?3, ?4)") != 0)
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
	if (store_prepare(st, &st->stmts.count_state,
	    "SELECT state, count(*) FROM tasks GROUP BY state") != 0)
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
	memset(r, 0, sizeof *r);
}

static double
column_time(sqlite3_stmt *s, int i)
{
	return (sqlite3_column_type(s, i) == SQLITE_NULL ? 0 :
	    sqlite3_column_double(s, i));
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
}

/* Queue a new task; returns its id, or -1. */
int64_t
store_task_insert(struct store *st, const char *name, int priority,
    const char *spec, const char *image, int retries, double now)
{
	sqlite3_stmt	*s = st->stmts.task_insert;

	store_bind_text(s, 6, image);
	store_bind_text(s, 1, name);
	sqlite3_bind_int(s, 2, priority);
	sqlite3_bind_text(s, 3, spec, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 4, retries);
	sqlite3_bind_double(s, 5, now);
	if (store_step_done(st, s) != 0)
		return (-1);
	return (sqlite3_last_insert_rowid(st->db));
}

/* Read one task; 0 found, 1 not found, -1 error. */
int
store_task_get(struct store *st, int64_t id, struct task_row *r)
{
	sqlite3_stmt	*s = st->stmts.task_get;
	int		 rc;

	sqlite3_bind_int64(s, 1, id);
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
	return (store_step_done(st, s));
}

/* Record an attempt's state. */
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

/*
 * Walk queued tasks in dispatch order, calling cb until it returns non-zero
 * or the queue ends.  The first query reads batch rows (the caller's guess
 * of how many it needs), later ones up to 64.  cb may change the task it is
 * given (the cursor is the last (priority, id) seen).
 */
int
store_task_queue_walk(struct store *st, int batch,
    int (*cb)(struct task_row *, void *), void *arg)
{
	sqlite3_stmt	*s = st->stmts.task_next;
	struct task_row	 rows[64];
	int		 prio = 1 << 30, n, i, rc, stop = 0;
	int64_t		 last = 0;

	if (batch < 1 || batch > 64)
		batch = 64;
	while (!stop) {
		sqlite3_bind_int(s, 1, prio);
		sqlite3_bind_int64(s, 2, last);
		sqlite3_bind_int(s, 3, batch);
		n = 0;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			task_row_read(s, &rows[n++]);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			log_error("event=store_read error=\"%s\"",
			    sqlite3_errmsg(st->db));
			for (i = 0; i < n; i++)
				task_row_free(&rows[i]);
			return (-1);
		}
		if (n == 0)
			break;
		prio = rows[n - 1].priority;
		last = rows[n - 1].id;
		for (i = 0; i < n; i++) {
			if (!stop && cb(&rows[i], arg) != 0)
				stop = 1;
			task_row_free(&rows[i]);
		}
		if (n < batch)
			break;
		batch = 64;
	}
	return (0);
}

/* Call cb for each task in a listing. */
int
store_task_list(struct store *st, enum task_list_mode mode, task_row_cb cb,
    void *arg)
{
	sqlite3_stmt	*s;
	struct task_row	 r;
	const char	*sql;
	int		 rc;

	switch (mode) {
	case TASK_LIST_QUEUE:
		sql = "SELECT " TASK_COLUMNS " FROM tasks WHERE state = 0 "
		    "ORDER BY priority DESC, id";
		break;
	case TASK_LIST_ACTIVE:
		sql = "SELECT " TASK_COLUMNS " FROM tasks WHERE state < 3 "
		    "ORDER BY id";
		break;
	case TASK_LIST_RECENT:
		sql = "SELECT * FROM (SELECT " TASK_COLUMNS " FROM tasks "
		    "WHERE state < 3 UNION ALL SELECT * FROM (SELECT "
		    TASK_COLUMNS " FROM tasks WHERE state >= 3 "
		    "ORDER BY finished_at DESC LIMIT 1000)) ORDER BY id";
		break;
	default:
		sql = "SELECT " TASK_COLUMNS " FROM tasks ORDER BY id";
		break;
	}
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_error("event=store_read error=\"%s\"",
		    sqlite3_errmsg(st->db));
		return (-1);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		task_row_read(s, &r);
		cb(&r, arg);
		task_row_free(&r);
	}
	sqlite3_finalize(s);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* Tasks assigned or running (to rebuild memory at startup). */
int
store_task_active(struct store *st, task_row_cb cb, void *arg)
{
	sqlite3_stmt	*s;
	struct task_row	 r;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT " TASK_COLUMNS " FROM tasks "
	    "WHERE state IN (1, 2) ORDER BY id", -1, &s, NULL) != SQLITE_OK)
		return (-1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		task_row_read(s, &r);
		cb(&r, arg);
		task_row_free(&r);
	}
	sqlite3_finalize(s);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* Count tasks by state into counts[0..6]. */
int
store_task_counts(struct store *st, int64_t counts[7])
{
	sqlite3_stmt	*s = st->stmts.count_state;
	int		 rc, state;

	memset(counts, 0, 7 * sizeof counts[0]);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		state = sqlite3_column_int(s, 0);
		if (state >= 0 && state < 7)
			counts[state] = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return (rc == SQLITE_DONE ? 0 : -1);
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

/* Store an output chunk and drop the oldest ones past max bytes; returns
 * the task's new stored size, or -1. */
int64_t
store_output_add(struct store *st, int64_t id, int attempt,
    const char *stream, const char *data, size_t len, int64_t stored,
    size_t max)
{
	sqlite3_stmt	*s = st->stmts.output_insert;

	if (store_begin(st) != 0)
		return (store_end(st, -1));
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, attempt);
	sqlite3_bind_text(s, 3, stream, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, data, (int)len, SQLITE_STATIC);
	if (store_step_done(st, s) != 0)
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

/* The stored output of one attempt, in order, with its stream. */
int
store_output_get(struct store *st, int64_t id, int attempt,
    void (*cb)(const char *stream, const void *data, size_t len, void *),
    void *arg)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT stream, data FROM output "
	    "WHERE task_id = ?1 AND attempt = ?2 ORDER BY id", -1, &s,
	    NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, attempt);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		cb((const char *)sqlite3_column_text(s, 0),
		    sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1), arg);
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

/* Number of queued tasks. */
int64_t
store_task_queued(struct store *st)
{
	int64_t	c[7];

	if (store_task_counts(st, c) != 0)
		return (-1);
	return (c[TASK_QUEUED]);
}
