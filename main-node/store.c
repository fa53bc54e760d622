/* SPDX-License-Identifier: ISC */
/*
 * store.c -- the main node's SQLite database: open, pragmas, migrations,
 * transactions.  This is the only connection to encore.db.  WAL mode with
 * synchronous=NORMAL: a commit survives a crash of the process (kill -9);
 * a power cut may lose the last commits but never corrupts the file.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <json-c/json.h>

#include "main.h"
#include "store.h"

/* How long a statement waits for another process's lock.  The whole loop
 * waits with it, so it is short; a transaction that cannot start is
 * refused at once for a while after (STORE_BUSY_BACKOFF) instead of
 * waiting again on every message. */
#define STORE_BUSY_MS		50
#define STORE_BUSY_BACKOFF	0.25

/*
 * The schema, one step per version: step i takes user_version i to i + 1
 * (SQL, then an optional C fill for what SQL cannot compute).  A database
 * of any older version is brought up to date in one transaction at start;
 * a newer one is refused.  Version 1 is the first release's.
 */
static int	store_fill_v2(struct store *);

/* The SQL below selects states by number; these are the numbers. */
_Static_assert(TASK_QUEUED == 0 && TASK_ASSIGNED == 1 &&
    TASK_RUNNING == 2 && TASK_FINAL_FIRST == 3 && TASK_FINAL_LAST == 6,
    "task state numbers used in the schema's SQL");

static const struct {
	const char	*sql;
	int		(*fill)(struct store *);
} store_migrations[] = {
	/* 0 -> 1: devices, tasks, attempts, output */
	{ "CREATE TABLE devices ("
	"  id TEXT PRIMARY KEY,"
	"  device_key TEXT,"
	"  key_delivered INTEGER NOT NULL DEFAULT 0,"
	"  approved INTEGER NOT NULL DEFAULT 0,"
	"  drained INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  last_seen INTEGER,"
	"  hostname TEXT, platform TEXT, arch TEXT, os TEXT, kernel TEXT,"
	"  role TEXT, cores INTEGER, cpu_model TEXT, model TEXT,"
	"  cpu_mhz REAL, mem_total INTEGER, disk_total INTEGER,"
	"  disk_free INTEGER, interfaces TEXT, gpus TEXT,"
	"  capabilities TEXT, labels TEXT, slots INTEGER"
	");"
	"CREATE UNIQUE INDEX devices_key ON devices(device_key);"
	"CREATE TABLE tasks ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT,"
	"  state INTEGER NOT NULL,"
	"  priority INTEGER NOT NULL,"
	"  spec TEXT NOT NULL,"
	"  image TEXT,"
	"  device TEXT,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  retries_left INTEGER NOT NULL DEFAULT 0,"
	"  requeues INTEGER NOT NULL DEFAULT 0,"
	"  exit_code INTEGER,"
	"  error TEXT,"
	"  submitted_at REAL NOT NULL,"
	"  started_at REAL,"
	"  finished_at REAL,"
	"  output_bytes INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX tasks_queue ON tasks(priority DESC, id) WHERE state = 0;"
	"CREATE INDEX tasks_active ON tasks(device) WHERE state IN (1, 2);"
	"CREATE INDEX tasks_finished ON tasks(finished_at) WHERE state >= 3;"
	"CREATE TABLE attempts ("
	"  task_id INTEGER NOT NULL,"
	"  attempt INTEGER NOT NULL,"
	"  device TEXT,"
	"  state INTEGER NOT NULL,"
	"  exit_code INTEGER,"
	"  error TEXT,"
	"  assigned_at REAL, started_at REAL, finished_at REAL,"
	"  PRIMARY KEY (task_id, attempt)"
	") WITHOUT ROWID;"
	"CREATE TABLE output ("
	"  id INTEGER PRIMARY KEY,"
	"  task_id INTEGER NOT NULL,"
	"  attempt INTEGER NOT NULL,"
	"  stream TEXT NOT NULL,"
	"  data BLOB NOT NULL"
	");"
	"CREATE INDEX output_task ON output(task_id, id);", NULL },
	/* 1 -> 2: placement inputs as columns (the queue is indexed in
	 * memory from them), dispatch order, attempts ever given, failed
	 * starts; output chunks keep their seq and mark gaps; states
	 * waiting (7) and held (8) are not final; the hash of the secret a
	 * worker joined with. */
	{ "ALTER TABLE devices ADD COLUMN join_secret TEXT;"
	"ALTER TABLE tasks ADD COLUMN seq INTEGER;"
	"ALTER TABLE tasks ADD COLUMN last_attempt INTEGER NOT NULL "
	"  DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN start_fails INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN task_type INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN cpus REAL NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN memory_mb INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN req_arch TEXT;"
	"ALTER TABLE tasks ADD COLUMN req_platform TEXT;"
	"ALTER TABLE tasks ADD COLUMN req_device TEXT;"
	"ALTER TABLE tasks ADD COLUMN req_labels TEXT;"
	"UPDATE tasks SET seq = id, last_attempt = attempt,"
	"  task_type = (image IS NOT NULL);"
	"DROP INDEX tasks_queue;"
	"DROP INDEX tasks_finished;"
	"CREATE INDEX tasks_queue ON tasks(priority DESC, seq) "
	"  WHERE state = 0;"
	"CREATE INDEX tasks_finished ON tasks(finished_at) "
	"  WHERE state BETWEEN 3 AND 6;"
	"CREATE INDEX tasks_open ON tasks(id) WHERE state NOT BETWEEN 3 AND 6;"
	"ALTER TABLE output ADD COLUMN seq INTEGER;"
	"ALTER TABLE output ADD COLUMN gap INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX output_seq ON output(task_id, attempt, seq);",
	  store_fill_v2 },
	/* 2 -> 3: arrays (a row of kind 1 stands for every element not yet
	 * made; an element is a row with array_id and array_index),
	 * dependencies, the reason a task is held or waits, the devices a
	 * task should avoid, and a device's failures in a row and
	 * quarantine. */
	{ "ALTER TABLE tasks ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN array_id INTEGER;"
	"ALTER TABLE tasks ADD COLUMN array_index INTEGER;"
	"ALTER TABLE tasks ADD COLUMN array_start INTEGER;"
	"ALTER TABLE tasks ADD COLUMN array_end INTEGER;"
	"ALTER TABLE tasks ADD COLUMN array_step INTEGER;"
	"ALTER TABLE tasks ADD COLUMN array_limit INTEGER;"
	"ALTER TABLE tasks ADD COLUMN array_next INTEGER;"
	"ALTER TABLE tasks ADD COLUMN array_cancelled INTEGER;"
	"ALTER TABLE tasks ADD COLUMN reason TEXT;"
	"ALTER TABLE tasks ADD COLUMN avoid TEXT;"
	"CREATE UNIQUE INDEX tasks_element ON tasks(array_id, array_index) "
	"  WHERE array_id IS NOT NULL;"
	"CREATE TABLE deps ("
	"  task_id INTEGER NOT NULL,"
	"  dep_id INTEGER NOT NULL,"
	"  dep_index INTEGER NOT NULL DEFAULT -1,"
	"  kind INTEGER NOT NULL,"
	"  PRIMARY KEY (task_id, dep_id, dep_index)"
	") WITHOUT ROWID;"
	"CREATE INDEX deps_on ON deps(dep_id, dep_index);"
	"ALTER TABLE devices ADD COLUMN fail_streak INTEGER NOT NULL "
	"  DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN quarantined TEXT;", NULL },
	/* 3 -> 4: a task's files (kind 0 inputs, 1 outputs, 2 its last
	 * checkpoint), by content hash; the file store keeps a file while
	 * a row names it.  tasks.inputs: the hashes of a task's largest
	 * inputs, so the scheduler can prefer a device that holds them. */
	{ "CREATE TABLE task_files ("
	"  task_id INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  mode INTEGER NOT NULL,"
	"  PRIMARY KEY (task_id, kind, name)"
	") WITHOUT ROWID;"
	"CREATE INDEX task_files_sha ON task_files(sha256);"
	"ALTER TABLE tasks ADD COLUMN inputs TEXT;", NULL },
};
#define STORE_VERSION \
	((int)(sizeof store_migrations / sizeof store_migrations[0]))

/* The schema version this binary writes. */
int
store_schema_version(void)
{
	return (STORE_VERSION);
}

/* Prepare one statement or return -1 with an error logged. */
int
store_prepare(struct store *st, sqlite3_stmt **stmt, const char *sql)
{
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    stmt, NULL) != SQLITE_OK) {
		log_error("event=store_prepare error=\"%s\" sql=\"%.60s\"",
		    sqlite3_errmsg(st->db), sql);
		return (-1);
	}
	return (0);
}

/* Run SQL without results; -1 with the error logged. */
int
store_exec(struct store *st, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("event=store_exec error=\"%s\" sql=\"%.60s\"",
		    err != NULL ? err : sqlite3_errmsg(st->db), sql);
		sqlite3_free(err);
		return (-1);
	}
	return (0);
}

/* Single-integer query helper; -1 on error. */
static int64_t
store_query_int(struct store *st, const char *sql)
{
	sqlite3_stmt	*stmt;
	int64_t		 v = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return (v);
}

/*
 * Version 2's fill: placement columns of the tasks that may still run,
 * from their stored submit lines.
 */
static int
store_fill_v2(struct store *st)
{
	sqlite3_stmt		*sel, *upd;
	struct msg		 m;
	struct placement	 p;
	struct json_object	*labels;
	int			 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT id, spec FROM tasks WHERE "
	    "state NOT BETWEEN 3 AND 6", -1, &sel, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_prepare_v2(st->db, "UPDATE tasks SET task_type = ?2, "
	    "cpus = ?3, memory_mb = ?4, req_arch = ?5, req_platform = ?6, "
	    "req_device = ?7, req_labels = ?8 WHERE id = ?1", -1, &upd,
	    NULL) != SQLITE_OK) {
		sqlite3_finalize(sel);
		return (-1);
	}
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		if (task_spec_decode((const char *)sqlite3_column_text(sel, 1),
		    &m) != 0)
			continue;	/* damaged: failed when dispatched */
		task_placement_from_spec(&m.u.task, &p);
		msg_free(&m);
		sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
		sqlite3_bind_int(upd, 2, p.type);
		sqlite3_bind_double(upd, 3, p.cpus);
		sqlite3_bind_int(upd, 4, p.memory_mb);
		store_bind_text(upd, 5, p.arch);
		store_bind_text(upd, 6, p.platform);
		store_bind_text(upd, 7, p.device);
		labels = json_from_kv(p.labels, p.n_labels);
		sqlite3_bind_text(upd, 8, json_object_to_json_string_ext(labels,
		    JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
		json_object_put(labels);
		placement_free(&p);
		if (store_step_done(st, upd) != 0) {
			rc = SQLITE_ERROR;
			break;
		}
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/*
 * Before an upgrade, keep a copy of the database as the older release left
 * it, in the state dir's snapshots/ (encore-before-vN-TIME.db): restoring
 * it and the older binary undoes the upgrade.
 */
static int
store_copy_before_upgrade(struct store *st, const char *path, int version,
    char **cause)
{
	struct store_backup	*bk;
	char			*dir, *copy, *slash, stamp[32];
	time_t			 now = time(NULL);
	int			 rc;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else {
		free(dir);
		dir = xstrdup(".");
	}
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime(&now));
	xasprintf(&copy, "%s/snapshots/encore-before-v%d-%s.db", dir,
	    STORE_VERSION, stamp);
	xasprintf(&slash, "%s/snapshots", dir);
	proto_mkdirs(slash, 0700);
	free(slash);
	free(dir);
	if ((bk = store_backup_start(st, copy, cause)) == NULL) {
		free(copy);
		return (-1);
	}
	rc = store_backup_step(bk, -1, cause);
	store_backup_finish(bk);
	if (rc != 1) {
		if (rc == 0)
			xasprintf(cause, "%s: could not copy the database "
			    "before upgrading it; nothing was changed", path);
		free(copy);
		return (-1);
	}
	log_info("event=store_copied_before_upgrade from=%d path=%s", version,
	    copy);
	free(copy);
	return (0);
}

/*
 * Check the database is ours (or empty) and bring it to STORE_VERSION, all
 * steps in one transaction: an upgrade that fails leaves the file as the
 * older release wrote it.
 */
static int
store_migrate(struct store *st, const char *path, char **cause)
{
	int64_t	version, tables, ours;
	int	i;
	char	*sql;

	version = store_query_int(st, "PRAGMA user_version");
	tables = store_query_int(st, "SELECT count(*) FROM sqlite_master");
	ours = store_query_int(st, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name = 'devices'");
	if (version < 0 || tables < 0) {
		xasprintf(cause, "%s: cannot read the database: %s; if it "
		    "is damaged, move it away and restart", path,
		    sqlite3_errmsg(st->db));
		return (-1);
	}
	if ((version == 0 && tables != 0) || (version > 0 && ours != 1)) {
		xasprintf(cause, "%s is not an encore database (it has other "
		    "tables); refusing to touch it: point --state-dir "
		    "elsewhere or move the file away", path);
		return (-1);
	}
	if (version > STORE_VERSION) {
		xasprintf(cause, "%s has schema version %lld, newer than this "
		    "encore-main (%d): upgrade encore-main, or restore a "
		    "snapshot this version wrote", path, (long long)version,
		    STORE_VERSION);
		return (-1);
	}
	if (version == STORE_VERSION)
		return (0);
	if (version > 0 && store_copy_before_upgrade(st, path, (int)version,
	    cause) != 0)
		return (-1);
	if (store_exec(st, "BEGIN IMMEDIATE") != 0)
		goto fail;
	for (i = (int)version; i < STORE_VERSION; i++) {
		if (store_exec(st, store_migrations[i].sql) != 0 ||
		    (store_migrations[i].fill != NULL &&
		    store_migrations[i].fill(st) != 0)) {
			store_exec(st, "ROLLBACK");
			goto fail;
		}
	}
	xasprintf(&sql, "PRAGMA user_version = %d", STORE_VERSION);
	if (store_exec(st, sql) != 0 || store_exec(st, "COMMIT") != 0) {
		free(sql);
		store_exec(st, "ROLLBACK");
		goto fail;
	}
	free(sql);
	if (version > 0)
		log_info("event=store_migrated path=%s from=%lld to=%d", path,
		    (long long)version, STORE_VERSION);
	return (0);
fail:
	xasprintf(cause, "%s: upgrade from schema version %lld to %d failed "
	    "(%s); the file is unchanged", path, (long long)version,
	    STORE_VERSION, sqlite3_errmsg(st->db));
	return (-1);
}

/* Open (creating if needed) the database at path. */
struct store *
store_open(const char *path, char **cause)
{
	struct store	*st;
	int		 rc;

	st = xcalloc(1, sizeof *st);
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		xasprintf(cause, "cannot open %s: %s", path,
		    st->db != NULL ? sqlite3_errmsg(st->db) :
		    sqlite3_errstr(rc));
		goto fail;
	}
	/* Opening and upgrading may wait for another process a while. */
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_extended_result_codes(st->db, 1);
	if (store_query_int(st, "SELECT count(*) FROM sqlite_master") < 0) {
		rc = sqlite3_errcode(st->db);
		if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
			xasprintf(cause, "%s is not a SQLite database or is "
			    "damaged (%s); refusing to overwrite it: point "
			    "--state-dir elsewhere or move the file away",
			    path, sqlite3_errmsg(st->db));
		else
			xasprintf(cause, "cannot read %s: %s; is the state "
			    "dir read-only, full or locked by another "
			    "encore-main?", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (store_exec(st, "PRAGMA journal_mode = WAL") != 0 ||
	    store_exec(st, "PRAGMA synchronous = NORMAL") != 0 ||
	    store_exec(st, "PRAGMA foreign_keys = ON") != 0) {
		xasprintf(cause, "%s: cannot set up the database: %s", path,
		    sqlite3_errmsg(st->db));
		goto fail;
	}
	if (store_migrate(st, path, cause) != 0)
		goto fail;
	if (store_prepare(st, &st->stmts.tx_begin, "BEGIN IMMEDIATE") != 0 ||
	    store_prepare(st, &st->stmts.tx_commit, "COMMIT") != 0 ||
	    store_prepare(st, &st->stmts.tx_rollback, "ROLLBACK") != 0 ||
	    store_prepare(st, &st->stmts.sp_begin, "SAVEPOINT s") != 0 ||
	    store_prepare(st, &st->stmts.sp_release, "RELEASE s") != 0 ||
	    store_prepare(st, &st->stmts.sp_rollback, "ROLLBACK TO s") != 0 ||
	    store_device_prepare(st) != 0 || store_task_prepare(st) != 0 ||
	    store_file_prepare(st) != 0) {
		xasprintf(cause, "%s: cannot prepare statements: %s", path,
		    sqlite3_errmsg(st->db));
		goto fail;
	}
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	return (st);
fail:
	store_close(st);
	return (NULL);
}

/* Finalize every statement and close the database. */
void
store_close(struct store *st)
{
	size_t		 i;
	sqlite3_stmt	**stmts;

	if (st == NULL)
		return;
	stmts = (sqlite3_stmt **)&st->stmts;
	for (i = 0; i < sizeof st->stmts / sizeof(sqlite3_stmt *); i++)
		sqlite3_finalize(stmts[i]);
	if (st->db != NULL && sqlite3_close(st->db) != SQLITE_OK)
		log_error("event=store_close error=\"%s\"",
		    sqlite3_errmsg(st->db));
	free(st);
}

/*
 * Transactions nest.  The outermost is BEGIN IMMEDIATE ... COMMIT; inner
 * ones are savepoints, so a failed inner one undoes only its own work.
 * Every store_begin, failed or not, is matched by one store_end (or
 * store_commit).  When SQLite gives up the whole transaction under an
 * inner statement (it may on a full disk or an I/O error) the store is
 * marked broken: every inner level fails from then on, and the outermost
 * end rolls back and fails.
 */
int
store_begin(struct store *st)
{
	double	now;

	if (st->depth++ == 0) {
		st->broken = 0;
		now = now_mono();
		if (now < st->busy_until) {
			st->depth = 0;
			return (-1);
		}
		if (store_step_done(st, st->stmts.tx_begin) != 0) {
			if ((sqlite3_errcode(st->db) & 0xff) == SQLITE_BUSY)
				st->busy_until = now + STORE_BUSY_BACKOFF;
			st->depth = 0;
			return (-1);
		}
		return (0);
	}
	if (st->broken || sqlite3_get_autocommit(st->db) ||
	    store_step_done(st, st->stmts.sp_begin) != 0) {
		st->broken = 1;
		return (-1);
	}
	return (0);
}

/*
 * Finish a transaction level: keep its work when rc is 0, else undo it.
 * Returns 0 only if the work is kept; for the outermost level that means
 * durable.
 */
int
store_end(struct store *st, int rc)
{
	if (st->depth == 0)
		return (-1);	/* its store_begin failed: nothing is open */
	if (--st->depth > 0) {
		if (st->broken || sqlite3_get_autocommit(st->db)) {
			st->broken = 1;
			return (-1);
		}
		if (rc == 0 && store_step_done(st, st->stmts.sp_release) == 0)
			return (0);
		if (rc == 0 ||
		    store_step_done(st, st->stmts.sp_rollback) != 0 ||
		    store_step_done(st, st->stmts.sp_release) != 0)
			st->broken = 1;
		return (-1);
	}
	if (rc == 0 && !st->broken && !sqlite3_get_autocommit(st->db) &&
	    store_step_done(st, st->stmts.tx_commit) == 0)
		return (0);
	if (!sqlite3_get_autocommit(st->db))
		store_step_done(st, st->stmts.tx_rollback);
	st->broken = 0;
	return (-1);
}

/* 1 while a transaction is open. */
int
store_in_transaction(struct store *st)
{
	return (st->depth > 0);
}

/* Bind text or NULL. */
void
store_bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(stmt, i);
	else
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
}

/* Bind an integer, or NULL when negative (unknown). */
void
store_bind_int_or_null(sqlite3_stmt *stmt, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(stmt, i);
	else
		sqlite3_bind_int64(stmt, i, v);
}

/* Bind a double, or NULL when NAN. */
void
store_bind_double_or_null(sqlite3_stmt *stmt, int i, double v)
{
	if (v != v)
		sqlite3_bind_null(stmt, i);
	else
		sqlite3_bind_double(stmt, i, v);
}

/* Copy a text column (NULL stays NULL). */
char *
store_column_text(sqlite3_stmt *stmt, int i)
{
	const unsigned char *s = sqlite3_column_text(stmt, i);

	return (s != NULL ? xstrdup((const char *)s) : NULL);
}

/* Step a write statement to completion and reset it; -1 on error. */
int
store_step_done(struct store *st, sqlite3_stmt *stmt)
{
	int	rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc != SQLITE_DONE) {
		log_error("event=store_write error=\"%s\"",
		    sqlite3_errmsg(st->db));
		return (-1);
	}
	return (0);
}
