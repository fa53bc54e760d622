/* SPDX-License-Identifier: ISC */
/*
 * store.h -- internals shared by store*.c, the only files that include
 * sqlite3.h.
 */
#ifndef STORE_H
#define STORE_H

#include <sqlite3.h>

/* The database connection and its statements, prepared once at open. */
struct store {
	sqlite3		*db;
	int		 depth;		/* store_begin nesting */
	int		 broken;	/* the open transaction is lost */
	double		 busy_until;	/* refuse writes until (monotonic) */
	struct {
		sqlite3_stmt	*tx_begin;
		sqlite3_stmt	*tx_commit;
		sqlite3_stmt	*tx_rollback;
		sqlite3_stmt	*sp_begin;
		sqlite3_stmt	*sp_release;
		sqlite3_stmt	*sp_rollback;
		sqlite3_stmt	*dev_save;
		sqlite3_stmt	*dev_touch;
		sqlite3_stmt	*dev_delete;
		sqlite3_stmt	*task_insert;
		sqlite3_stmt	*task_get;
		sqlite3_stmt	*task_update;
		sqlite3_stmt	*attempt_upsert;
		sqlite3_stmt	*output_insert;
		sqlite3_stmt	*output_trim;
		sqlite3_stmt	*output_bytes;
		sqlite3_stmt	*output_bytes_get;
		sqlite3_stmt	*output_seq;
		sqlite3_stmt	*task_delete;
		sqlite3_stmt	*attempts_delete;
		sqlite3_stmt	*output_delete;
		sqlite3_stmt	*deps_delete;
		sqlite3_stmt	*element_get;
		sqlite3_stmt	*dep_add;
		sqlite3_stmt	*dependents;
		sqlite3_stmt	*count_state;
		sqlite3_stmt	*files_clear;
		sqlite3_stmt	*files_put;
		sqlite3_stmt	*files_get;
		sqlite3_stmt	*files_delete;
		sqlite3_stmt	*file_used;
	} stmts;
};

int	 store_prepare(struct store *, sqlite3_stmt **, const char *);
int	 store_exec(struct store *, const char *);
int	 store_step_done(struct store *, sqlite3_stmt *);
void	 store_bind_text(sqlite3_stmt *, int, const char *);
void	 store_bind_int_or_null(sqlite3_stmt *, int, int64_t);
void	 store_bind_double_or_null(sqlite3_stmt *, int, double);
char	*store_column_text(sqlite3_stmt *, int);
int	 store_device_prepare(struct store *);
int	 store_task_prepare(struct store *);
int	 store_file_prepare(struct store *);

#endif /* STORE_H */
