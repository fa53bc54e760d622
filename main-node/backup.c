/* SPDX-License-Identifier: ISC */
/*
 * backup.c -- copies of the live database without stopping anything:
 * `encore backup FILE` (the operator message `backup`) gets one streamed
 * over its connection, and --snapshot-interval keeps --snapshot-keep
 * rotating ones in STATE_DIR/snapshots.  A copy is made a few hundred
 * pages per step between loop passes (store-backup.c), never while the
 * pass's transaction is open, so it is a consistent committed state.
 *
 * The stream to an operator: `event` messages {topic "backup", offset,
 * data (base64, at most 48 KiB of file each)} answering the request, then
 * the `reply` {ok, size, sha256} (PROTOCOL.md, "backup").
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "main.h"

#define BACKUP_PAGES	256		/* pages copied per step */
#define BACKUP_CHUNK	(48 * 1024)	/* file bytes per event */
#define SNAPSHOT_PREFIX	"encore-"

/* One copy being made, then (for an operator) streamed. */
struct backup_job {
	struct server		*s;
	struct store_backup	*bk;
	struct event		*ev;
	char			*tmp;		/* the copy being written */
	char			*final;		/* snapshot: renamed to this */
	struct conn		*c;		/* operator, NULL once gone */
	char			*reply_to;
	int			 fd;
	int			 streaming;	/* owned by c's producer */
	int64_t			 size, sent;
	EVP_MD_CTX		*sha;
	TAILQ_ENTRY(backup_job)	 entry;
};
static TAILQ_HEAD(, backup_job) backup_jobs =
    TAILQ_HEAD_INITIALIZER(backup_jobs);
static struct event	*snapshot_ev;
static unsigned		 backup_serial;

static void	backup_step_cb(evutil_socket_t, short, void *);

/* STATE_DIR/snapshots, made if needed (0700); caller frees. */
static char *
backup_dir(struct server *s)
{
	char	*dir;

	xasprintf(&dir, "%s/snapshots", s->opt->state_dir);
	if (proto_mkdirs(dir, 0700) != 0)
		log_warn("event=snapshot_dir path=%s error=\"%s\"", dir,
		    strerror(errno));
	return (dir);
}

/* Free a job (its temp file is gone by then, or kept as a snapshot). */
static void
backup_job_free(struct backup_job *j)
{
	TAILQ_REMOVE(&backup_jobs, j, entry);
	store_backup_finish(j->bk);
	if (j->ev != NULL)
		event_free(j->ev);
	if (j->fd >= 0)
		close(j->fd);
	if (j->tmp != NULL)
		unlink(j->tmp);
	if (j->sha != NULL)
		EVP_MD_CTX_free(j->sha);
	free(j->tmp);
	free(j->final);
	free(j->reply_to);
	free(j);
}

/* Start a copy into a temp file of the snapshots dir. */
static struct backup_job *
backup_job_start(struct server *s, char **cause)
{
	struct backup_job	*j = xcalloc(1, sizeof *j);
	struct timeval		 tv = { 0, 0 };
	char			*dir = backup_dir(s);

	j->s = s;
	j->fd = -1;
	xasprintf(&j->tmp, "%s/.copy-%ld-%u.tmp", dir, (long)getpid(),
	    ++backup_serial);
	free(dir);
	TAILQ_INSERT_TAIL(&backup_jobs, j, entry);
	if ((j->bk = store_backup_start(s->store, j->tmp, cause)) == NULL) {
		backup_job_free(j);
		return (NULL);
	}
	j->ev = evtimer_new(s->base, backup_step_cb, j);
	evtimer_add(j->ev, &tv);
	return (j);
}

/* Keep the newest --snapshot-keep snapshots. */
static void
backup_rotate(struct server *s, const char *dir)
{
	struct dirent	**names;
	char		 *path;
	int		  n, i, kept = 0;

	if ((n = scandir(dir, &names, NULL, alphasort)) < 0)
		return;
	for (i = n - 1; i >= 0; i--) {
		/* encore-TIME.db only: a copy kept before an upgrade
		 * (encore-before-...) is not rotated away. */
		if (strncmp(names[i]->d_name, SNAPSHOT_PREFIX,
		    strlen(SNAPSHOT_PREFIX)) == 0 &&
		    isdigit((unsigned char)names[i]->d_name[
		    strlen(SNAPSHOT_PREFIX)]) &&
		    strstr(names[i]->d_name, ".db") != NULL &&
		    ++kept > s->opt->snapshot_keep) {
			xasprintf(&path, "%s/%s", dir, names[i]->d_name);
			if (unlink(path) == 0)
				log_info("event=snapshot_removed path=%s",
				    path);
			free(path);
		}
		free(names[i]);
	}
	free(names);
}

/* A snapshot's copy is complete: make it durable and give it its name. */
static void
backup_snapshot_done(struct backup_job *j)
{
	int	fd;
	char	*dir;

	if ((fd = open(j->tmp, O_RDONLY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	if (rename(j->tmp, j->final) != 0) {
		log_error("event=snapshot_failed path=%s error=\"%s\"",
		    j->final, strerror(errno));
		return;
	}
	free(j->tmp);
	j->tmp = NULL;
	log_info("event=snapshot_written path=%s", j->final);
	dir = backup_dir(j->s);
	backup_rotate(j->s, dir);
	free(dir);
}

/* Stream the next chunk of a finished copy to its operator. */
static int
backup_stream_fill(struct conn *c, void *arg)
{
	struct backup_job	*j = arg;
	struct json_object	*ev, *o;
	unsigned char		 buf[BACKUP_CHUNK], md[EVP_MAX_MD_SIZE];
	char			*b64, hex[EVP_MAX_MD_SIZE * 2 + 1];
	unsigned int		 mdlen, i;
	ssize_t			 n;

	n = read(j->fd, buf, sizeof buf);
	if (n < 0) {
		conn_reply_error(c, j->reply_to, PROTO_INTERNAL, "reading the "
		    "copy failed: %s; retry", strerror(errno));
		return (0);
	}
	if (n > 0) {
		EVP_DigestUpdate(j->sha, buf, (size_t)n);
		b64 = xmalloc(((size_t)n + 2) / 3 * 4 + 1);
		EVP_EncodeBlock((unsigned char *)b64, buf, (int)n);
		ev = json_object_new_object();
		json_object_object_add(ev, "topic",
		    json_object_new_string("backup"));
		json_object_object_add(ev, "offset",
		    json_object_new_int64(j->sent));
		json_object_object_add(ev, "size",
		    json_object_new_int64(j->size));
		json_object_object_add(ev, "data",
		    json_object_new_string(b64));
		free(b64);
		conn_send_json(c, MSG_EVENT, j->reply_to, ev);
		j->sent += n;
		return (1);
	}
	EVP_DigestFinal_ex(j->sha, md, &mdlen);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + i * 2, 3, "%02x", md[i]);
	o = view_ok("size", json_object_new_int64(j->sent));
	json_object_object_add(o, "sha256", json_object_new_string(hex));
	json_object_object_add(o, "schema_version",
	    json_object_new_int(store_schema_version()));
	conn_send_json(c, MSG_REPLY, j->reply_to, o);
	log_info("event=backup_sent addr=%s bytes=%lld", c->addr,
	    (long long)j->sent);
	return (0);
}

/* The stream ended or its connection went. */
static void
backup_stream_free(void *arg)
{
	backup_job_free(arg);
}

/* An operator's copy is complete: stream it. */
static void
backup_operator_done(struct backup_job *j)
{
	struct stat	st;
	struct conn	*c = j->c;

	if (c == NULL || c->closing) {
		backup_job_free(j);
		return;
	}
	if ((j->fd = open(j->tmp, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(j->fd, &st) != 0) {
		conn_reply_error(c, j->reply_to, PROTO_INTERNAL, "cannot read "
		    "the copy: %s", strerror(errno));
		backup_job_free(j);
		return;
	}
	/* The file stays open: unlinking it now frees its space once sent. */
	unlink(j->tmp);
	free(j->tmp);
	j->tmp = NULL;
	j->size = st.st_size;
	j->sha = EVP_MD_CTX_new();
	EVP_DigestInit_ex(j->sha, EVP_sha256(), NULL);
	j->c = NULL;	/* the connection owns the job from here */
	j->streaming = 1;
	conn_set_producer(c, backup_stream_fill, j, backup_stream_free);
}

/* Copy some pages; when done, finish as a snapshot or a stream. */
static void
backup_step_cb(evutil_socket_t fd, short events, void *arg)
{
	struct backup_job	*j = arg;
	struct timeval		 tv = { 0, 10000 };
	char			*cause = NULL;
	int			 rc;

	if (commit_is_open()) {
		evtimer_add(j->ev, &tv);	/* after the commit */
		return;
	}
	rc = store_backup_step(j->bk, BACKUP_PAGES, &cause);
	if (rc == 0) {
		evtimer_add(j->ev, &tv);
		return;
	}
	store_backup_finish(j->bk);
	j->bk = NULL;
	if (rc < 0) {
		log_error("event=backup_failed msg=\"%s\"", cause);
		if (j->c != NULL && !j->c->closing)
			conn_reply_error(j->c, j->reply_to, PROTO_INTERNAL,
			    "the copy failed: %s", cause);
		free(cause);
		backup_job_free(j);
		return;
	}
	if (j->final != NULL) {
		backup_snapshot_done(j);
		backup_job_free(j);
	} else
		backup_operator_done(j);
}

/* backup: copy the database, then stream it to the operator. */
void
handle_backup(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg		*m = rq->m;
	struct backup_job	*j;
	char			*cause = NULL;

	if ((j = backup_job_start(c->server, &cause)) == NULL) {
		request_fail(rq, PROTO_INTERNAL, "cannot "
		    "copy the database: %s", cause);
		free(cause);
		return;
	}
	j->c = c;
	j->reply_to = m->message_id != NULL ? xstrdup(m->message_id) : NULL;
	log_info("event=backup_started addr=%s", c->addr);
}

/* A connection is going: its copy in progress is not wanted. */
void
backup_forget(struct conn *c)
{
	struct backup_job	*j;

	TAILQ_FOREACH(j, &backup_jobs, entry) {
		if (j->c == c)
			j->c = NULL;
	}
}

/* Time for a snapshot. */
static void
snapshot_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server		*s = arg;
	struct backup_job	*j;
	struct timeval		 tv = { s->opt->snapshot_interval, 0 };
	char			*cause = NULL, *dir, stamp[32];
	time_t			 now = time(NULL);

	evtimer_add(snapshot_ev, &tv);
	if ((j = backup_job_start(s, &cause)) == NULL) {
		log_error("event=snapshot_failed msg=\"%s\"", cause);
		free(cause);
		return;
	}
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime(&now));
	dir = backup_dir(s);
	xasprintf(&j->final, "%s/" SNAPSHOT_PREFIX "%s.db", dir, stamp);
	free(dir);
}

/* Arm the snapshot timer (--snapshot-interval 0: none). */
void
backup_start(struct server *s)
{
	struct timeval	tv = { s->opt->snapshot_interval, 0 };

	if (s->opt->snapshot_interval <= 0)
		return;
	snapshot_ev = evtimer_new(s->base, snapshot_cb, s);
	evtimer_add(snapshot_ev, &tv);
}

/* Stop every copy (their temp files go); one being streamed goes with
 * its connection. */
void
backup_stop(struct server *s)
{
	struct backup_job	*j, *next;

	TAILQ_FOREACH_SAFE(j, &backup_jobs, entry, next) {
		if (!j->streaming)
			backup_job_free(j);
	}
	if (snapshot_ev != NULL)
		event_free(snapshot_ev);
	snapshot_ev = NULL;
}
