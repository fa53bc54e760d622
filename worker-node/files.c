/* SPDX-License-Identifier: ISC */
/*
 * files.c -- files between the worker and its main node (PROTOCOL.md
 * "Files"): inputs fetched into the cache, outputs and checkpoints sent
 * from it, on the session the tasks come on.
 *
 * A fetch asks for a file with file_get from the bytes already held:
 * STATE/cache/partial/SHA keeps what arrived, whether the connection
 * dropped or the worker was killed, and a fetch that starts with a
 * partial file hashes it again first (the hash covers every byte).  The
 * main node answers with file_data lines, each followed by raw bytes
 * that upstream.c hands here as they arrive (files_raw): they are hashed
 * and written at once, never held, so memory stays flat whatever the
 * size.  When all are there the SHA-256 is checked: a match is renamed
 * into the cache (cache.c); a mismatch is deleted and fetched again from
 * byte 0, once; a second one fails.  At most FILES_GETS_MAX file_gets are
 * outstanding; the main node answers them one after the other.  A fetch
 * nobody waits for any more stops if it was not asked for yet; one being
 * streamed goes on into the cache (there is no way to stop a file_get on
 * the wire but to close the session).
 *
 * An upload says file_stat first (a file the main node has whole is not
 * sent again; `have` says where a dropped one goes on), then sends
 * file_data frames from there, each only while the connection's output
 * is below its low mark, so heartbeats and results interleave with a big
 * file.  Uploads go one at a time.  The main node answers the last frame
 * (complete) or refuses one (file_ack with error): a refused upload is
 * tried FILES_UP_TRIES times, a second apart, from a fresh file_stat; the
 * answers to frames of an earlier try are told apart by their reply_to
 * (message ids grow).  A lost connection puts a transfer back in line,
 * from where it stood; after each reconnect what a result needs is
 * checked again (files_result_ready) before the result goes.
 */
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "protocol.h"
#include "worker.h"

#define FILES_GETS_MAX		4	/* file_gets outstanding at once */
#define FILES_FETCH_TRIES	2	/* downloads before a mismatch fails */
#define FILES_UP_TRIES		3	/* tries of a refused upload */
#define FILES_UP_RETRY_S	1
#define FILES_IOV		16

/* Where a fetch is. */
enum fetch_state {
	FS_OPEN,	/* hashing the bytes a partial file holds */
	FS_QUEUED,	/* to be asked for (from have) */
	FS_ASKED,	/* file_get sent; frames come */
	FS_DRAIN,	/* failed, but its frames still come: skipped */
};

/* Someone waiting for a fetch. */
struct fetch_wait {
	struct fetch		*f;
	void			(*cb)(void *, const char *);
	void			*arg;
	TAILQ_ENTRY(fetch_wait)	 entry;
};

/*
 * A file being fetched into STATE/cache/partial/SHA.  fd (the partial
 * file), h (the hash of its first have bytes) and job are owned; the
 * waiters are their owners'.
 */
struct fetch {
	char				 sha[PROTO_SHA256_HEX + 1];
	int64_t				 size;
	int64_t				 have;
	int				 fd;
	struct hash			*h;
	struct hash_job			*job;
	enum fetch_state		 state;
	int				 bad;	/* downloads that did not
						   verify */
	int				 werr;	/* errno of a failed write */
	unsigned long			 get_id;
	double				 asked_at;
	int64_t				 asked_from;
	TAILQ_HEAD(, fetch_wait)	 waiters;
	TAILQ_ENTRY(fetch)		 entry;
};

/* Where an upload is. */
enum upload_state {
	US_QUEUED,	/* to be started (file_stat) */
	US_STAT,	/* file_stat sent */
	US_SEND,	/* sending frames from off */
	US_WAIT,	/* all sent; waiting for the main node's answer */
	US_RETRY,	/* refused; tried again after a second */
};

struct upload_wait {
	struct upload		*u;
	void			(*cb)(void *, const char *);
	void			*arg;
	TAILQ_ENTRY(upload_wait) entry;
};

/* A cached file being sent.  e is pinned until it is done; fd owned. */
struct upload {
	char				 sha[PROTO_SHA256_HEX + 1];
	int64_t				 size;
	int64_t				 off;
	int64_t				 from;	/* where this try began */
	int				 fd;
	struct centry			*e;
	enum upload_state		 state;
	unsigned long			 gen;	/* first message id of this
						   try */
	int				 tries;
	TAILQ_HEAD(, upload_wait)	 waiters;
	TAILQ_ENTRY(upload)		 entry;
};

/* A result waiting for its outputs to be on the main node. */
struct result_file {
	struct result_up	*r;
	struct centry		*e;		/* pinned, or NULL: not here */
	struct upload_wait	*w;		/* in flight */
	char			*refused;	/* the main node's no */
};
struct result_up {
	char			*task_id;
	int			 attempt;
	struct result_file	*files;
	size_t			 n;
	size_t			 left;		/* uploads in flight */
	unsigned		 ok_session;	/* all there in this session */
	TAILQ_ENTRY(result_up)	 entry;
};

static struct {
	TAILQ_HEAD(, fetch)	 fetches;
	int			 asked;		/* fetches FS_ASKED or FS_DRAIN
						   with a stream open */
	struct fetch		*rx;		/* takes the frame's bytes */
	struct fetch		*rx_stream;	/* the frame's stream */
	int			 rx_last;	/* the frame ends its stream */
	TAILQ_HEAD(, upload)	 uploads;	/* the first is active */
	TAILQ_HEAD(, result_up)	 results;
	struct event		*pump_ev;
	struct event		*retry_ev;
	int			 online;
	unsigned		 session;
} files;

static void	files_pump(void);
static int	fetch_open(struct fetch *);
static void	files_write_error(int, char *, size_t);

/* Ask for a pump on the next turn of the loop (never re-entered). */
static void
files_kick(void)
{
	if (files.pump_ev != NULL)
		event_active(files.pump_ev, EV_TIMEOUT, 0);
}

/* A message id as a number (ours are decimal counters). */
static unsigned long
files_id(const char *id)
{
	return (id != NULL ? strtoul(id, NULL, 10) : 0);
}

/* ---- fetches ---- */

static struct fetch *
fetch_find(const char *sha)
{
	struct fetch	*f;

	TAILQ_FOREACH(f, &files.fetches, entry) {
		if (strcmp(f->sha, sha) == 0)
			return (f);
	}
	return (NULL);
}

/* Forget a fetch (its partial file stays unless removed before). */
static void
fetch_free(struct fetch *f)
{
	struct fetch_wait	*w;

	if (files.rx == f)
		files.rx = NULL;
	if (files.rx_stream == f)
		files.rx_stream = NULL;
	while ((w = TAILQ_FIRST(&f->waiters)) != NULL) {
		TAILQ_REMOVE(&f->waiters, w, entry);
		free(w);
	}
	hash_job_cancel(f->job);
	hash_free(f->h);
	if (f->fd != -1)
		close(f->fd);
	TAILQ_REMOVE(&files.fetches, f, entry);
	free(f);
}

/* Drop a fetch's partial bytes. */
static void
fetch_discard(struct fetch *f)
{
	char	path[PATH_MAX];

	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	if (unlink(cache_partial_path(f->sha, path, sizeof path)) == 0)
		cache_partial_add(-f->have);
	f->have = 0;
	hash_reset(f->h);
}

/* Tell every waiter of f its outcome (err NULL: the file is cached). */
static void
fetch_notify(struct fetch *f, const char *err)
{
	struct fetch_wait	*w;

	while ((w = TAILQ_FIRST(&f->waiters)) != NULL) {
		TAILQ_REMOVE(&f->waiters, w, entry);
		w->cb(w->arg, err);
		free(w);
	}
}

/* The bytes a partial file holds were hashed: ask for the rest. */
static void
fetch_rehashed(void *arg, int err, int64_t n)
{
	struct fetch	*f = arg;
	char		 why[PATH_MAX + 256];

	f->job = NULL;
	if (err != 0) {
		log_warn("event=fetch_partial_unreadable sha256=%.12s error=\"%s\" "
		    "msg=\"fetched again from 0\"", f->sha, strerror(err));
		fetch_discard(f);
		if (fetch_open(f) != 0) {
			files_write_error(errno, why, sizeof why);
			fetch_notify(f, why);
			fetch_free(f);
			return;
		}
	} else {
		f->have = n;
		f->state = FS_QUEUED;
		log_info("event=fetch_resume sha256=%.12s have=%lld size=%lld",
		    f->sha, (long long)n, (long long)f->size);
	}
	files_kick();
}

/* Open a fetch's partial file (made if there is none, cut if it is not
 * this file's); its bytes are hashed before the fetch goes on.  0, or -1
 * with errno. */
static int
fetch_open(struct fetch *f)
{
	struct stat	st;
	char		path[PATH_MAX];

	cache_partial_path(f->sha, path, sizeof path);
	f->fd = open(path, O_RDWR|O_CREAT|O_CLOEXEC|O_NOFOLLOW, 0600);
	if (f->fd == -1 || fstat(f->fd, &st) != 0)
		return (-1);
	f->have = 0;
	hash_reset(f->h);
	if (st.st_size > f->size) {
		if (ftruncate(f->fd, 0) != 0)
			return (-1);
		cache_partial_add(-st.st_size);
		st.st_size = 0;
	}
	if (st.st_size == 0) {
		f->state = FS_QUEUED;
		return (0);
	}
	f->state = FS_OPEN;
	f->job = hash_job_start(f->fd, 0, st.st_size, f->h, -1,
	    fetch_rehashed, f);
	return (0);
}

/* Why a write to the cache failed, in words that say what to do. */
static void
files_write_error(int err, char *buf, size_t size)
{
	if (err == ENOSPC || err == EDQUOT)
		snprintf(buf, size, "the device's disk is full (%s): free "
		    "space in the worker's state dir %s, or lower --cache-mb",
		    strerror(err), wconf.state_dir);
	else
		snprintf(buf, size, "cannot write the worker's file cache in "
		    "%s: %s", wconf.state_dir, strerror(err));
}

/* A fetch failed: its partial bytes go, its waiters hear why.  If its
 * frames still come it drains them, else it is freed. */
static void
fetch_fail(struct fetch *f, const char *why, int streaming)
{
	log_warn("event=fetch_failed sha256=%.12s msg=\"%s\"", f->sha, why);
	fetch_discard(f);
	f->state = streaming ? FS_DRAIN : FS_QUEUED;
	if (files.rx == f)
		files.rx = NULL;
	fetch_notify(f, why);
	if (!streaming && TAILQ_EMPTY(&f->waiters))
		fetch_free(f);
	else if (!streaming && fetch_open(f) != 0)
		fetch_free(f);	/* waiters came back at once: give up */
}

/* All bytes are in: check them, and keep the file if they match. */
static void
fetch_finish(struct fetch *f)
{
	char		 got[PROTO_SHA256_HEX + 1], from[PATH_MAX];
	char		 to[PATH_MAX], dir[PATH_MAX], why[PATH_MAX + 256];
	double		 ms;
	int		 err;

	hash_final(f->h, got);
	if (strcmp(got, f->sha) != 0) {
		f->bad++;
		log_warn("event=fetch_mismatch sha256=%.12s got=%.12s try=%d",
		    f->sha, got, f->bad);
		fetch_discard(f);
		if (f->bad >= FILES_FETCH_TRIES) {
			snprintf(why, sizeof why, "file %.12s... (%lld bytes) "
			    "did not match its SHA-256 in %d downloads (got "
			    "%.12s...): the main node's copy may be damaged; "
			    "upload it again", f->sha, (long long)f->size,
			    f->bad, got);
			fetch_notify(f, why);
			fetch_free(f);
			return;
		}
		if (fetch_open(f) != 0) {
			files_write_error(errno, why, sizeof why);
			fetch_notify(f, why);
			fetch_free(f);
		}
		return;
	}
	cache_partial_path(f->sha, from, sizeof from);
	cache_path(f->sha, to, sizeof to);
	snprintf(dir, sizeof dir, "%s", to);
	*strrchr(dir, '/') = '\0';
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
	    rename(from, to) != 0) {
		err = errno;
		fetch_discard(f);
		files_write_error(err, why, sizeof why);
		fetch_notify(f, why);
		fetch_free(f);
		return;
	}
	close(f->fd);
	f->fd = -1;
	cache_partial_add(-f->size);
	cache_add(f->sha, f->size);
	ms = (worker_now() - f->asked_at) * 1e3;
	log_info("event=file_fetched sha256=%.12s size=%lld from=%lld ms=%.0f "
	    "mb_per_s=%.1f", f->sha, (long long)f->size,
	    (long long)f->asked_from, ms, ms > 0 ? (double)(f->size -
	    f->asked_from) / 1048576 / (ms / 1e3) : 0.0);
	fetch_notify(f, NULL);
	fetch_free(f);
}

/* Send file_get for a queued fetch. */
static int
fetch_ask(struct fetch *f)
{
	struct msg	m;

	msg_init(&m, MSG_FILE_GET);
	m.u.file.sha256 = f->sha;
	m.u.file.offset = f->have;
	if (upstream_send(&m) != 0)
		return (-1);
	f->get_id = files_id(m.message_id);
	f->state = FS_ASKED;
	f->asked_at = worker_now();
	f->asked_from = f->have;
	files.asked++;
	log_debug("event=file_get sha256=%.12s offset=%lld size=%lld", f->sha,
	    (long long)f->have, (long long)f->size);
	return (0);
}

/*
 * Fetch a file into the cache; cb(arg, err) once it is there (err NULL)
 * or cannot be (err says why), always from the loop, never from in here.
 * Returns a handle for files_fetch_cancel, or NULL with *cause (caller
 * frees) when it cannot even start (no room on the disk).
 */
struct fetch_wait *
files_fetch(const char *sha, int64_t size, void (*cb)(void *, const char *),
    void *arg, char **cause)
{
	struct fetch		*f;
	struct fetch_wait	*w;
	struct stat		 st;
	char			 path[PATH_MAX], why[PATH_MAX + 256];
	int64_t			 held = 0;

	if ((f = fetch_find(sha)) != NULL && f->size != size) {
		xasprintf(cause, "file %.12s... is %lld bytes for one task and "
		    "%lld for another", sha, (long long)f->size,
		    (long long)size);
		return (NULL);
	}
	if (f == NULL) {
		if (stat(cache_partial_path(sha, path, sizeof path), &st) ==
		    0 && st.st_size <= size)
			held = st.st_size;
		if (cache_reserve(size - held, size - held, cause) != 0)
			return (NULL);
		f = xcalloc(1, sizeof *f);
		snprintf(f->sha, sizeof f->sha, "%s", sha);
		f->size = size;
		f->h = hash_new();
		TAILQ_INIT(&f->waiters);
		TAILQ_INSERT_TAIL(&files.fetches, f, entry);
		if (fetch_open(f) != 0) {
			files_write_error(errno, why, sizeof why);
			*cause = xstrdup(why);
			fetch_free(f);
			return (NULL);
		}
	}
	w = xcalloc(1, sizeof *w);
	w->f = f;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&f->waiters, w, entry);
	files_kick();
	return (w);
}

/* Stop waiting for a fetch.  One not asked for yet stops too. */
void
files_fetch_cancel(struct fetch_wait *w)
{
	struct fetch	*f;

	if (w == NULL)
		return;
	f = w->f;
	TAILQ_REMOVE(&f->waiters, w, entry);
	free(w);
	if (TAILQ_EMPTY(&f->waiters) && (f->state == FS_OPEN ||
	    f->state == FS_QUEUED))
		fetch_free(f);
}

/*
 * A file_data line came: route its raw bytes to the fetch that asked
 * for them, if they are the next it needs; any others are skipped.
 */
void
files_on_data(const struct msg_file *d)
{
	struct fetch	*f;

	files.rx = files.rx_stream = NULL;
	files.rx_last = (d->offset + d->len == d->size);
	if ((f = fetch_find(d->sha256)) == NULL ||
	    (f->state != FS_ASKED && f->state != FS_DRAIN)) {
		log_debug("event=file_data_unexpected sha256=%.12s offset=%lld",
		    d->sha256, (long long)d->offset);
		return;
	}
	files.rx_stream = f;
	if (f->state == FS_ASKED && d->size == f->size &&
	    d->offset == f->have && f->werr == 0)
		files.rx = f;
}

/* Hash and write nv pieces of the frame being received, at have. */
static void
files_take(struct fetch *f, struct iovec *iov, int nv)
{
	ssize_t	w;
	int	i;

	for (i = 0; i < nv; i++)
		hash_update(f->h, iov[i].iov_base, iov[i].iov_len);
	for (i = 0; i < nv; ) {
		w = pwritev(f->fd, iov + i, nv - i, f->have);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			f->werr = w < 0 ? errno : EIO;
			return;
		}
		f->have += w;
		cache_partial_add(w);
		while (i < nv && (size_t)w >= iov[i].iov_len) {
			w -= (ssize_t)iov[i].iov_len;
			i++;
		}
		if (i < nv) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
}

/* Raw bytes of the current frame (n of them at the front of in): hash
 * and write them, or skip them.  They are drained either way. */
void
files_raw(struct evbuffer *in, size_t n)
{
	struct fetch		*f = files.rx;
	struct iovec		 iov[FILES_IOV];
	size_t			 left = n, take;
	int			 nv;

	while (f != NULL && f->werr == 0 && left > 0) {
		nv = frame_peek(in, left, iov, FILES_IOV, &take);
		files_take(f, iov, nv);
		evbuffer_drain(in, take);
		left -= take;
	}
	if (left > 0)
		evbuffer_drain(in, left);
}

/* The same for n bytes read straight from the socket into buf. */
void
files_raw_buf(char *buf, size_t n)
{
	struct iovec	iov;

	if (files.rx == NULL || files.rx->werr != 0 || n == 0)
		return;
	iov.iov_base = buf;
	iov.iov_len = n;
	files_take(files.rx, &iov, 1);
}

/* The current frame's last byte came. */
void
files_raw_end(void)
{
	struct fetch	*f = files.rx_stream;
	char		 why[PATH_MAX + 256];
	int		 last = files.rx_last;

	files.rx = files.rx_stream = NULL;
	if (f == NULL)
		return;
	if (f->state == FS_ASKED && f->werr != 0) {
		files_write_error(f->werr, why, sizeof why);
		f->werr = 0;
		if (last)
			files.asked--;
		fetch_fail(f, why, !last);
		files_kick();
		return;
	}
	if (!last)
		return;
	files.asked--;
	if (f->state == FS_DRAIN) {
		/* Its stream is over: start again if someone wants it. */
		if (TAILQ_EMPTY(&f->waiters) || fetch_open(f) != 0)
			fetch_free(f);
	} else if (f->have == f->size)
		fetch_finish(f);
	else
		f->state = FS_QUEUED;	/* out of step: ask again */
	files_kick();
}

/* file_ack about a fetch: the main node cannot send the file. */
static int
fetch_on_ack(const struct msg_file *a, unsigned long reply)
{
	struct fetch	*f = fetch_find(a->sha256);
	char		 text[PROTO_TEXT_MAX], why[PROTO_TEXT_MAX + 64];

	if (f == NULL || f->state != FS_ASKED || f->get_id != reply ||
	    a->error == NULL)
		return (0);
	files.asked--;
	log_sanitize(a->error, text, sizeof text);
	snprintf(why, sizeof why, "the main node cannot send file %.12s...: "
	    "%s", f->sha, text);
	fetch_fail(f, why, 0);
	files_kick();
	return (1);
}

/* ---- uploads ---- */

static struct upload *
upload_find(const char *sha)
{
	struct upload	*u;

	TAILQ_FOREACH(u, &files.uploads, entry) {
		if (strcmp(u->sha, sha) == 0)
			return (u);
	}
	return (NULL);
}

/* An upload is over: tell its waiters, free it, go on with the next. */
static void
upload_done(struct upload *u, const char *err)
{
	struct upload_wait	*w;

	TAILQ_REMOVE(&files.uploads, u, entry);
	if (err == NULL)
		cache_set_confirmed(u->e, files.session);
	else
		log_warn("event=upload_failed sha256=%.12s msg=\"%s\"", u->sha,
		    err);
	while ((w = TAILQ_FIRST(&u->waiters)) != NULL) {
		TAILQ_REMOVE(&u->waiters, w, entry);
		w->cb(w->arg, err);
		free(w);
	}
	if (u->fd != -1)
		close(u->fd);
	cache_unpin(u->e);
	free(u);
	files_kick();
}

/*
 * Send a cached file to the main node; cb(arg, err) once it has it whole
 * (err NULL) or refused it for good (err is its reason), from the loop.
 * Returns a handle for files_upload_cancel, or NULL with *cause when the
 * file is not in the cache.
 */
struct upload_wait *
files_upload(const char *sha, void (*cb)(void *, const char *), void *arg,
    char **cause)
{
	struct upload		*u;
	struct upload_wait	*w;
	struct centry		*e;

	if ((u = upload_find(sha)) == NULL) {
		if ((e = cache_find(sha)) == NULL) {
			xasprintf(cause, "file %.12s... is no longer in the "
			    "worker's cache", sha);
			return (NULL);
		}
		u = xcalloc(1, sizeof *u);
		snprintf(u->sha, sizeof u->sha, "%s", sha);
		u->size = cache_entry_size(e);
		u->fd = -1;
		u->e = e;
		cache_pin(e);
		TAILQ_INIT(&u->waiters);
		TAILQ_INSERT_TAIL(&files.uploads, u, entry);
	}
	w = xcalloc(1, sizeof *w);
	w->u = u;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&u->waiters, w, entry);
	files_kick();
	return (w);
}

/* Stop waiting for an upload; one not started yet is dropped. */
void
files_upload_cancel(struct upload_wait *w)
{
	struct upload	*u;

	if (w == NULL)
		return;
	u = w->u;
	TAILQ_REMOVE(&u->waiters, w, entry);
	free(w);
	if (TAILQ_EMPTY(&u->waiters) && u->state == US_QUEUED) {
		TAILQ_REMOVE(&files.uploads, u, entry);
		if (u->fd != -1)
			close(u->fd);
		cache_unpin(u->e);
		free(u);
	}
}

/* Send frames of the active upload while the link takes them. */
static void
upload_send(struct upload *u)
{
	struct evbuffer	*out, *frame;
	struct msg	 m;
	char		 why[256];
	size_t		 n;

	while (u->state == US_SEND && (out = upstream_bulk_output()) != NULL) {
		n = (size_t)(u->size - u->off);
		if (n > PROTO_FILE_FRAME_MAX)
			n = PROTO_FILE_FRAME_MAX;
		if ((frame = frame_read_file(u->fd, u->off, n)) == NULL) {
			snprintf(why, sizeof why, "cannot read file %.12s... "
			    "of the worker's cache: %s", u->sha,
			    strerror(errno != 0 ? errno : EIO));
			upload_done(u, why);
			return;
		}
		msg_init(&m, MSG_FILE_DATA);
		m.u.file.sha256 = u->sha;
		m.u.file.size = u->size;
		m.u.file.offset = u->off;
		m.u.file.len = (int64_t)n;
		if (upstream_send(&m) != 0) {
			evbuffer_free(frame);
			return;
		}
		evbuffer_add_buffer(out, frame);
		evbuffer_free(frame);
		u->off += (int64_t)n;
		if (u->off == u->size)
			u->state = US_WAIT;
	}
}

/* Start or go on with the first upload. */
static void
upload_pump(void)
{
	struct upload	*u = TAILQ_FIRST(&files.uploads);
	struct msg	 m;
	char		 path[PATH_MAX], why[PATH_MAX + 64];

	if (u == NULL || !files.online)
		return;
	if (u->state == US_QUEUED) {
		if (cache_confirmed(u->e) == files.session) {
			upload_done(u, NULL);
			return;
		}
		if (u->fd == -1 && (u->fd = open(cache_path(u->sha, path,
		    sizeof path), O_RDONLY|O_CLOEXEC|O_NOFOLLOW)) == -1) {
			snprintf(why, sizeof why, "file %.12s... was lost from "
			    "the worker's cache: %s", u->sha, strerror(errno));
			upload_done(u, why);
			return;
		}
		msg_init(&m, MSG_FILE_STAT);
		m.u.file.sha256 = u->sha;
		if (upstream_send(&m) != 0)
			return;
		u->gen = files_id(m.message_id);
		u->state = US_STAT;
		log_debug("event=upload_stat sha256=%.12s size=%lld try=%d",
		    u->sha, (long long)u->size, u->tries + 1);
		return;
	}
	if (u->state == US_SEND)
		upload_send(u);
}

/* The retry timer of a refused upload. */
static void
upload_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	struct upload	*u = TAILQ_FIRST(&files.uploads);

	if (u != NULL && u->state == US_RETRY)
		u->state = US_QUEUED;
	files_kick();
}

/* file_ack about the active upload. */
static int
upload_on_ack(const struct msg_file *a, unsigned long reply)
{
	struct upload	*u = TAILQ_FIRST(&files.uploads);
	struct timeval	 tv = { FILES_UP_RETRY_S, 0 };
	char		 text[PROTO_TEXT_MAX];

	if (u == NULL || strcmp(u->sha, a->sha256) != 0 || reply < u->gen ||
	    u->state == US_QUEUED || u->state == US_RETRY)
		return (0);
	if (a->error != NULL) {
		log_sanitize(a->error, text, sizeof text);
		if (++u->tries >= FILES_UP_TRIES) {
			upload_done(u, text);
			return (1);
		}
		log_info("event=upload_refused sha256=%.12s try=%d msg=\"%s\"",
		    u->sha, u->tries, text);
		u->state = US_RETRY;
		evtimer_add(files.retry_ev, &tv);
		return (1);
	}
	if (a->complete) {
		log_info("event=file_sent sha256=%.12s size=%lld from=%lld",
		    u->sha, (long long)u->size, (long long)(u->state ==
		    US_STAT ? u->size : u->from));
		upload_done(u, NULL);
		return (1);
	}
	if (u->state == US_STAT) {
		u->off = a->have >= 0 && a->have <= u->size ? a->have : 0;
		u->from = u->off;
		u->state = US_SEND;
		if (u->off > 0)
			log_info("event=upload_resume sha256=%.12s have=%lld "
			    "size=%lld", u->sha, (long long)u->off,
			    (long long)u->size);
		upload_send(u);
	}
	return (1);
}

/* A file_ack from the main node. */
void
files_on_ack(const struct msg_file *a, const char *reply_to)
{
	unsigned long	reply = files_id(reply_to);

	if (upload_on_ack(a, reply) || fetch_on_ack(a, reply))
		return;
	log_debug("event=file_ack_stale sha256=%.12s", a->sha256);
}

/* ---- the pump ---- */

/* Start what can start: finished fetches, file_gets, the upload. */
static void
files_pump(void)
{
	struct fetch	*f, *next;

	for (f = TAILQ_FIRST(&files.fetches); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (f->state == FS_QUEUED && f->have == f->size) {
			f->asked_at = worker_now();
			f->asked_from = f->have;
			fetch_finish(f);
			next = TAILQ_FIRST(&files.fetches);	/* may be gone */
		}
	}
	if (!files.online)
		return;
	TAILQ_FOREACH(f, &files.fetches, entry) {
		if (files.asked >= FILES_GETS_MAX)
			break;
		if (f->state == FS_QUEUED && fetch_ask(f) != 0)
			break;
	}
	upload_pump();
}

static void
files_pump_cb(evutil_socket_t fd, short events, void *arg)
{
	files_pump();
}

/* The link drained below its low mark: more frames may go. */
void
files_drained(void)
{
	struct upload	*u = TAILQ_FIRST(&files.uploads);

	if (u != NULL && u->state == US_SEND && files.online)
		upload_send(u);
}

/* The link went away: every transfer goes back in line, where it stood. */
void
files_offline(void)
{
	struct fetch	*f, *next;
	struct upload	*u = TAILQ_FIRST(&files.uploads);

	files.online = 0;
	files.rx = files.rx_stream = NULL;
	files.asked = 0;
	for (f = TAILQ_FIRST(&files.fetches); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (f->state == FS_ASKED)
			f->state = FS_QUEUED;
		else if (f->state == FS_DRAIN &&
		    (TAILQ_EMPTY(&f->waiters) || fetch_open(f) != 0))
			fetch_free(f);
	}
	if (u != NULL && u->state != US_QUEUED) {
		evtimer_del(files.retry_ev);
		u->state = US_QUEUED;
	}
}

/* An approving register_ack: a new session; transfers go on. */
void
files_online(void)
{
	files.online = 1;
	files.session++;
	files_kick();
}

/* 1 when connected and approved (transfers can move). */
int
files_is_online(void)
{
	return (files.online);
}

/* ---- results that name outputs ---- */

static struct result_up *
result_find(const char *task_id, int attempt)
{
	struct result_up	*r;

	TAILQ_FOREACH(r, &files.results, entry) {
		if (r->attempt == attempt && strcmp(r->task_id, task_id) == 0)
			return (r);
	}
	return (NULL);
}

/* The record of a result's outputs, pinned in the cache. */
static struct result_up *
result_new(const struct msg_task_result *res)
{
	struct result_up	*r = xcalloc(1, sizeof *r);
	size_t			 i;

	r->task_id = xstrdup(res->task_id);
	r->attempt = res->attempt;
	r->n = res->n_outputs;
	r->files = xcalloc(r->n > 0 ? r->n : 1, sizeof *r->files);
	r->ok_session = files.session - 1;
	for (i = 0; i < r->n; i++) {
		r->files[i].r = r;
		if ((r->files[i].e = cache_find(res->outputs[i].sha256)) != NULL)
			cache_pin(r->files[i].e);
	}
	TAILQ_INSERT_TAIL(&files.results, r, entry);
	return (r);
}

/* A result that names outputs was spooled: they stay in the cache until
 * it is acknowledged. */
void
files_result_keep(const struct msg_task_result *res)
{
	if (res->n_outputs > 0 && result_find(res->task_id,
	    res->attempt) == NULL)
		result_new(res);
}

/* One output of a result is delivered, or refused. */
static void
result_file_done(void *arg, const char *err)
{
	struct result_file	*rf = arg;
	struct result_up	*r = rf->r;

	rf->w = NULL;
	if (err != NULL) {
		free(rf->refused);
		rf->refused = xstrdup(err);
	}
	if (--r->left > 0)
		return;
	r->ok_session = files.session;
	spool_resend_one(r->task_id, r->attempt);
}

/*
 * May a result be sent now?  Its outputs must be whole on the main node
 * in this session: 1 if so (send it as it is), 2 if some were refused
 * (res was changed: failed, with the main node's reason, without them:
 * send that), 0 if they are being sent now (spool_resend_one follows).
 * The outputs stay pinned in the cache until files_result_done.
 */
int
files_result_ready(struct msg_task_result *res)
{
	struct result_up	*r;
	struct result_file	*rf;
	char			*cause, *why;
	size_t			 i, j;
	int			 changed = 0;

	if (res->n_outputs == 0)
		return (1);
	if ((r = result_find(res->task_id, res->attempt)) == NULL)
		r = result_new(res);
	if (r->left > 0)
		return (0);
	if (r->ok_session != files.session) {
		if (!files.online)
			return (0);
		for (i = 0; i < r->n && i < res->n_outputs; i++) {
			rf = &r->files[i];
			if (rf->e == NULL || rf->refused != NULL)
				continue;	/* the main node will say */
			cause = NULL;
			rf->w = files_upload(res->outputs[i].sha256,
			    result_file_done, rf, &cause);
			if (rf->w == NULL) {
				rf->refused = cause;
				continue;
			}
			r->left++;
		}
		if (r->left > 0)
			return (0);
		r->ok_session = files.session;
	}
	/* Refused outputs: the task failed, with the main node's reason. */
	for (i = j = 0; i < res->n_outputs; i++) {
		rf = i < r->n ? &r->files[i] : NULL;
		if (rf != NULL && rf->refused != NULL) {
			if (!changed) {
				xasprintf(&why, "output %s was not taken by the "
				    "main node: %s", res->outputs[i].name,
				    rf->refused);
				free(res->error);
				res->error = why;
				res->status = TASK_FAILED;
			}
			changed = 1;
			free(res->outputs[i].name);
			free(res->outputs[i].sha256);
			continue;
		}
		res->outputs[j++] = res->outputs[i];
	}
	res->n_outputs = j;
	return (changed ? 2 : 1);
}

/* A result was acknowledged (or will never be sent): its outputs may
 * leave the cache like any file. */
void
files_result_done(const char *task_id, int attempt)
{
	struct result_up	*r = result_find(task_id, attempt);
	size_t			 i;

	if (r == NULL)
		return;
	TAILQ_REMOVE(&files.results, r, entry);
	for (i = 0; i < r->n; i++) {
		files_upload_cancel(r->files[i].w);
		cache_unpin(r->files[i].e);
		free(r->files[i].refused);
	}
	free(r->files);
	free(r->task_id);
	free(r);
}

/* ---- start and stop ---- */

void
files_start(void)
{
	memset(&files, 0, sizeof files);
	TAILQ_INIT(&files.fetches);
	TAILQ_INIT(&files.uploads);
	TAILQ_INIT(&files.results);
	files.pump_ev = event_new(worker_base, -1, 0, files_pump_cb, NULL);
	files.retry_ev = evtimer_new(worker_base, upload_retry_cb, NULL);
	files.session = 1;
}

/* Free every transfer (exit): partial files stay for the next run. */
void
files_stop(void)
{
	struct upload		*u;
	struct upload_wait	*w;
	struct result_up	*r;

	while ((r = TAILQ_FIRST(&files.results)) != NULL)
		files_result_done(r->task_id, r->attempt);
	while (TAILQ_FIRST(&files.fetches) != NULL)
		fetch_free(TAILQ_FIRST(&files.fetches));
	while ((u = TAILQ_FIRST(&files.uploads)) != NULL) {
		TAILQ_REMOVE(&files.uploads, u, entry);
		while ((w = TAILQ_FIRST(&u->waiters)) != NULL) {
			TAILQ_REMOVE(&u->waiters, w, entry);
			free(w);
		}
		if (u->fd != -1)
			close(u->fd);
		cache_unpin(u->e);
		free(u);
	}
	if (files.pump_ev != NULL)
		event_free(files.pump_ev);
	if (files.retry_ev != NULL)
		event_free(files.retry_ev);
	files.pump_ev = files.retry_ev = NULL;
}
