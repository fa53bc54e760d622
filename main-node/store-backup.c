/* SPDX-License-Identifier: ISC */
/*
 * store-backup.c -- a consistent copy of the live database with SQLite's
 * online backup API, a few pages at a time so the loop keeps serving
 * everyone meanwhile.  Changes made through our own connection during the
 * copy are carried into it by SQLite; the copy is a snapshot of the
 * moment the last step ran.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "main.h"
#include "store.h"

/* A copy in progress. */
struct store_backup {
	sqlite3		*dst;
	sqlite3_backup	*b;
	char		*path;
};

/* Start copying the database into path (created, or overwritten). */
struct store_backup *
store_backup_start(struct store *st, const char *path, char **cause)
{
	struct store_backup	*bk = xcalloc(1, sizeof *bk);

	unlink(path);
	if (sqlite3_open_v2(path, &bk->dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		xasprintf(cause, "cannot create %s: %s", path,
		    bk->dst != NULL ? sqlite3_errmsg(bk->dst) : "no memory");
		goto fail;
	}
	bk->b = sqlite3_backup_init(bk->dst, "main", st->db, "main");
	if (bk->b == NULL) {
		xasprintf(cause, "cannot start the backup: %s",
		    sqlite3_errmsg(bk->dst));
		goto fail;
	}
	bk->path = xstrdup(path);
	return (bk);
fail:
	sqlite3_close(bk->dst);
	free(bk);
	return (NULL);
}

/* Copy up to pages pages: 1 when the copy is complete, 0 for more to do,
 * -1 with *cause on an error (a full disk). */
int
store_backup_step(struct store_backup *bk, int pages, char **cause)
{
	int	rc = sqlite3_backup_step(bk->b, pages);

	if (rc == SQLITE_DONE)
		return (1);
	if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return (0);
	xasprintf(cause, "writing %s failed: %s (is its disk full?)",
	    bk->path, sqlite3_errstr(rc));
	return (-1);
}

/* Pages left and in all, for progress. */
int
store_backup_progress(struct store_backup *bk, int *remaining, int *total)
{
	*remaining = sqlite3_backup_remaining(bk->b);
	*total = sqlite3_backup_pagecount(bk->b);
	return (0);
}

/* End the copy and close its file. */
void
store_backup_finish(struct store_backup *bk)
{
	if (bk == NULL)
		return;
	sqlite3_backup_finish(bk->b);
	if (sqlite3_close(bk->dst) != SQLITE_OK)
		log_warn("event=backup_close path=%s", bk->path);
	free(bk->path);
	free(bk);
}
