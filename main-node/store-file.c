/* SPDX-License-Identifier: ISC */
/*
 * store-file.c -- which files each task names: its inputs, its outputs,
 * its last checkpoint.  The bytes live in the file store (files.c); a
 * file no row names any more is the file store's to delete.
 */
#include <stdlib.h>
#include <string.h>

#include "main.h"
#include "store.h"

/* Prepare the file statements. */
int
store_file_prepare(struct store *st)
{
	if (store_prepare(st, &st->stmts.files_clear,
	    "DELETE FROM task_files WHERE task_id = ?1 AND kind = ?2") != 0 ||
	    store_prepare(st, &st->stmts.files_put,
	    "INSERT OR REPLACE INTO task_files (task_id, kind, name, sha256, "
	    "size, mode) VALUES (?1, ?2, ?3, ?4, ?5, ?6)") != 0 ||
	    store_prepare(st, &st->stmts.files_get,
	    "SELECT name, sha256, size, mode FROM task_files WHERE "
	    "task_id = ?1 AND kind = ?2 ORDER BY name") != 0 ||
	    store_prepare(st, &st->stmts.files_delete,
	    "DELETE FROM task_files WHERE task_id = ?1") != 0 ||
	    store_prepare(st, &st->stmts.file_used,
	    "SELECT 1 FROM task_files WHERE sha256 = ?1 LIMIT 1") != 0)
		return (-1);
	return (0);
}

/* Make a task's files of one kind exactly these. */
int
store_files_put(struct store *st, int64_t task_id, int kind,
    const struct proto_file *files, size_t n)
{
	sqlite3_stmt	*s = st->stmts.files_put;
	size_t		 i;

	if (store_begin(st) != 0)
		return (store_end(st, -1));
	sqlite3_bind_int64(st->stmts.files_clear, 1, task_id);
	sqlite3_bind_int(st->stmts.files_clear, 2, kind);
	if (store_step_done(st, st->stmts.files_clear) != 0)
		return (store_end(st, -1));
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(s, 1, task_id);
		sqlite3_bind_int(s, 2, kind);
		store_bind_text(s, 3, files[i].name);
		store_bind_text(s, 4, files[i].sha256);
		sqlite3_bind_int64(s, 5, files[i].size);
		sqlite3_bind_int(s, 6, files[i].mode);
		if (store_step_done(st, s) != 0)
			return (store_end(st, -1));
	}
	return (store_end(st, 0));
}

/* A task's files of one kind, in name order; *n gets their count.  NULL
 * with *n 0 if there are none; -1 in *n on a database error. */
struct proto_file *
store_files_get(struct store *st, int64_t task_id, int kind, size_t *n)
{
	sqlite3_stmt		*s = st->stmts.files_get;
	struct proto_file	*files = NULL;
	size_t			 cap = 0;
	int			 rc;

	*n = 0;
	sqlite3_bind_int64(s, 1, task_id);
	sqlite3_bind_int(s, 2, kind);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			files = xreallocarray(files, cap, sizeof *files);
		}
		files[*n].name = store_column_text(s, 0);
		files[*n].sha256 = store_column_text(s, 1);
		files[*n].size = sqlite3_column_int64(s, 2);
		files[*n].mode = sqlite3_column_int(s, 3);
		(*n)++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_error("event=store_read error=\"%s\"",
		    sqlite3_errmsg(st->db));
		proto_files_free(files, *n);
		*n = (size_t)-1;
		return (NULL);
	}
	return (files);
}

/* 1 if a task names the file, 0 if none does, -1 on error. */
int
store_file_used(struct store *st, const char *sha256)
{
	sqlite3_stmt	*s = st->stmts.file_used;
	int		 rc;

	store_bind_text(s, 1, sha256);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return (1);
	if (rc == SQLITE_DONE)
		return (0);
	return (-1);
}

/*
 * The outputs of an array's elements, element by element: cb gets each
 * file with its element's index.  At most max files; returns how many
 * were given, or -1.
 */
int
store_array_outputs(struct store *st, int64_t array_id, int max,
    void (*cb)(int64_t, const struct proto_file *, void *), void *arg)
{
	sqlite3_stmt		*s;
	struct proto_file	 f;
	int			 n = 0, rc;

	if (sqlite3_prepare_v2(st->db, "SELECT t.array_index, f.name, "
	    "f.sha256, f.size, f.mode FROM tasks t JOIN task_files f ON "
	    "f.task_id = t.id AND f.kind = 1 WHERE t.array_id = ?1 "
	    "ORDER BY t.array_index, f.name LIMIT ?2", -1, &s, NULL) !=
	    SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(s, 1, array_id);
	sqlite3_bind_int(s, 2, max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		f.name = (char *)sqlite3_column_text(s, 1);
		f.sha256 = (char *)sqlite3_column_text(s, 2);
		f.size = sqlite3_column_int64(s, 3);
		f.mode = sqlite3_column_int(s, 4);
		cb(sqlite3_column_int64(s, 0), &f, arg);
		n++;
	}
	sqlite3_finalize(s);
	return (rc == SQLITE_DONE ? n : -1);
}
