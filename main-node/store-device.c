/* SPDX-License-Identifier: ISC */
/*
 * store-device.c -- devices in the database.  Registration, approval and
 * removal are written at once (durable before they are acknowledged);
 * last-seen times are batched by the tick (store_flush_dirty).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "main.h"
#include "store.h"

#define DEV_COLUMNS \
	"id, device_key, key_delivered, approved, drained, created_at, " \
	"last_seen, hostname, platform, arch, os, kernel, role, cores, " \
	"cpu_model, model, cpu_mhz, mem_total, disk_total, disk_free, " \
	"interfaces, gpus, capabilities, labels, slots, join_secret, " \
	"fail_streak, quarantined"

/* Prepare the device statements. */
int
store_device_prepare(struct store *st)
{
	if (store_prepare(st, &st->stmts.dev_save,
	    "INSERT OR REPLACE INTO devices (" DEV_COLUMNS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
	    "?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, "
	    "?28)") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.dev_touch,
	    "UPDATE devices SET last_seen = ?2 WHERE id = ?1") != 0)
		return (-1);
	if (store_prepare(st, &st->stmts.dev_delete,
	    "DELETE FROM devices WHERE id = ?1") != 0)
		return (-1);
	return (0);
}

/* Bind a json array/object built from the device as text. */
static void
bind_json(sqlite3_stmt *stmt, int i, struct json_object *o)
{
	sqlite3_bind_text(stmt, i, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
	json_object_put(o);
}

/* Write the whole device row. */
int
store_device_save(struct store *st, struct device *d)
{
	sqlite3_stmt	*s = st->stmts.dev_save;

	sqlite3_bind_text(s, 1, d->id, -1, SQLITE_TRANSIENT);
	store_bind_text(s, 2, d->key);
	sqlite3_bind_int(s, 3, d->key_delivered);
	sqlite3_bind_int(s, 4, d->approved);
	sqlite3_bind_int(s, 5, d->drained);
	sqlite3_bind_int64(s, 6, d->created_at);
	store_bind_int_or_null(s, 7, d->last_seen_wall > 0 ?
	    d->last_seen_wall : -1);
	store_bind_text(s, 8, d->info.hostname);
	store_bind_text(s, 9, d->info.platform);
	store_bind_text(s, 10, d->info.architecture);
	store_bind_text(s, 11, d->info.os);
	store_bind_text(s, 12, d->info.kernel);
	store_bind_text(s, 13, d->info.role);
	store_bind_int_or_null(s, 14, d->hw.cpu_cores);
	store_bind_text(s, 15, d->hw.cpu_model);
	store_bind_text(s, 16, d->hw.model);
	store_bind_double_or_null(s, 17, d->hw.cpu_mhz);
	store_bind_int_or_null(s, 18, d->hw.memory_total);
	store_bind_int_or_null(s, 19, d->hw.disk_space);
	store_bind_int_or_null(s, 20, d->hw.disk_free);
	bind_json(s, 21, json_from_strv(d->hw.network_interfaces,
	    d->hw.n_ifaces));
	bind_json(s, 22, json_from_strv(d->hw.gpus, d->hw.n_gpus));
	bind_json(s, 23, json_from_strv(d->caps, d->n_caps));
	bind_json(s, 24, json_from_kv(d->labels, d->n_labels));
	sqlite3_bind_int(s, 25, d->slots);
	store_bind_text(s, 26, d->join_hash);
	sqlite3_bind_int(s, 27, d->fail_streak);
	store_bind_text(s, 28, d->quarantined);
	d->dirty = 0;
	return (store_step_done(st, s));
}

/* Write only the last-seen time. */
int
store_device_touch(struct store *st, struct device *d)
{
	sqlite3_stmt	*s = st->stmts.dev_touch;

	sqlite3_bind_text(s, 1, d->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, d->last_seen_wall);
	d->dirty = 0;
	return (store_step_done(st, s));
}

/* Forget a device. */
int
store_device_delete(struct store *st, const char *id)
{
	sqlite3_stmt	*s = st->stmts.dev_delete;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	return (store_step_done(st, s));
}

/* Parse a JSON text column into a string vector. */
static void
column_strv(sqlite3_stmt *s, int i, char ***v, size_t *n)
{
	const char		*text = (const char *)sqlite3_column_text(s, i);
	struct json_object	*o;

	*v = NULL;
	*n = 0;
	if (text == NULL || (o = json_tokener_parse(text)) == NULL)
		return;
	json_to_strv(o, v, n);
	json_object_put(o);
}

/* Load every device into the registry (at startup). */
int
store_device_load_all(struct store *st)
{
	sqlite3_stmt		*s;
	struct device		*d;
	struct json_object	*o;
	const char		*text;
	int			 rc, n = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT " DEV_COLUMNS
	    " FROM devices ORDER BY id", -1, &s, NULL) != SQLITE_OK) {
		log_error("event=store_load error=\"%s\"",
		    sqlite3_errmsg(st->db));
		return (-1);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		d = registry_add((const char *)sqlite3_column_text(s, 0));
		d->key = store_column_text(s, 1);
		d->key_delivered = sqlite3_column_int(s, 2);
		device_set_approved(d, sqlite3_column_int(s, 3));
		d->drained = sqlite3_column_int(s, 4);
		d->created_at = sqlite3_column_int64(s, 5);
		d->last_seen_wall = sqlite3_column_int64(s, 6);
		d->info.hostname = store_column_text(s, 7);
		d->info.platform = store_column_text(s, 8);
		d->info.architecture = store_column_text(s, 9);
		d->info.os = store_column_text(s, 10);
		d->info.kernel = store_column_text(s, 11);
		d->info.role = store_column_text(s, 12);
		d->hw.cpu_cores = sqlite3_column_type(s, 13) == SQLITE_NULL ?
		    -1 : sqlite3_column_int(s, 13);
		d->hw.cpu_model = store_column_text(s, 14);
		d->hw.model = store_column_text(s, 15);
		d->hw.cpu_mhz = sqlite3_column_type(s, 16) == SQLITE_NULL ?
		    NAN : sqlite3_column_double(s, 16);
		d->hw.memory_total = sqlite3_column_type(s, 17) ==
		    SQLITE_NULL ? -1 : sqlite3_column_int64(s, 17);
		d->hw.disk_space = sqlite3_column_type(s, 18) == SQLITE_NULL ?
		    -1 : sqlite3_column_int64(s, 18);
		d->hw.disk_free = sqlite3_column_type(s, 19) == SQLITE_NULL ?
		    -1 : sqlite3_column_int64(s, 19);
		column_strv(s, 20, &d->hw.network_interfaces,
		    &d->hw.n_ifaces);
		column_strv(s, 21, &d->hw.gpus, &d->hw.n_gpus);
		column_strv(s, 22, &d->caps, &d->n_caps);
		text = (const char *)sqlite3_column_text(s, 23);
		if (text != NULL && (o = json_tokener_parse(text)) != NULL) {
			json_to_kv(o, &d->labels, &d->n_labels);
			json_object_put(o);
		}
		d->slots = sqlite3_column_int(s, 24);
		d->join_hash = store_column_text(s, 25);
		d->fail_streak = sqlite3_column_int(s, 26);
		d->quarantined = store_column_text(s, 27);
		n++;
	}
	if (rc != SQLITE_DONE)
		log_error("event=store_load error=\"%s\"",
		    sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	log_info("event=store_loaded devices=%d", n);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/*
 * After a failed commit: put back what the database says of each device's
 * admission (approved, drained, key); a device the failed commit would
 * have created is forgotten.
 */
int
store_device_reload(struct store *st)
{
	sqlite3_stmt	*s;
	struct device	*d, *next;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT device_key, key_delivered, "
	    "approved, drained, fail_streak, quarantined FROM devices WHERE "
	    "id = ?1", -1, &s, NULL) != SQLITE_OK)
		return (-1);
	TAILQ_FOREACH_SAFE(d, registry_list(), entry, next) {
		sqlite3_bind_text(s, 1, d->id, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			free(d->key);
			d->key = store_column_text(s, 0);
			d->key_delivered = sqlite3_column_int(s, 1);
			device_set_approved(d, sqlite3_column_int(s, 2));
			d->drained = sqlite3_column_int(s, 3);
			d->fail_streak = sqlite3_column_int(s, 4);
			free(d->quarantined);
			d->quarantined = store_column_text(s, 5);
			device_changed(d);
		} else if (rc == SQLITE_DONE && TAILQ_EMPTY(&d->tasks)) {
			if (d->conn != NULL)
				conn_close(d->conn, "registration not saved");
			registry_remove(d);
		}
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return (0);
}

/* Write every device whose last-seen changed, in one transaction. */
int
store_flush_dirty(struct store *st)
{
	struct device	*d;
	int		 n = 0, rc = 0;

	TAILQ_FOREACH(d, registry_list(), entry) {
		if (!d->dirty)
			continue;
		if (n++ == 0)
			rc = store_begin(st);
		if (rc != 0 || store_device_touch(st, d) != 0)
			rc = -1;
	}
	return (n > 0 ? store_end(st, rc) : 0);
}
