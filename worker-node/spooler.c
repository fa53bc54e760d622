/* SPDX-License-Identifier: ISC */
/*
 * spooler.c -- results and output that are never lost.
 *
 * Each task_result is written to STATE/spool/KEY.json (temp + rename;
 * KEY is <task>-<attempt>, unsafe bytes as %XX) and each task_output line
 * of a running attempt is appended to STATE/spool/KEY.out.N, whether or
 * not the main node is there; both are deleted only when that attempt's
 * result_ack arrives.  Output is bounded per attempt: a segment holds at
 * most SPOOL_SEG_MAX bytes and only the last SPOOL_SEGS segments are kept,
 * so when an attempt writes more than that while it cannot be sent, the
 * oldest output is dropped first (and logged).  After each register_ack
 * every attempt is replayed: its output segments in order (the lines
 * carry their seq, so the main node drops what it already has), then its
 * result, paced by the link's write buffer; an attempt's new output is
 * sent as it comes only once its replay has caught up ("live").  While
 * the main node is away nothing is live and output only goes to disk.
 *
 * STATE/run/journal gets a line when a task starts and one when it ends
 * (appended: no file is made per task); a task the journal leaves open at
 * startup means the worker died under it, so its leftovers are killed
 * (its cgroup, session, orphans and container) and nothing is reported
 * for it: the worker registers without it, and the main node re-queues it
 * as a new attempt, as for a lost device.  The journal is rewritten with
 * its open entries once it passes SPOOL_JOURNAL_MAX.  Working directories
 * (STATE/work/KEY) left empty by their task are kept, renamed, for the
 * next one: making a directory costs a small device more than starting a
 * small task.  Likewise an acknowledged result file is not deleted but
 * renamed to STATE/run/.spare-N and written over for a later result:
 * creating and deleting a file per task cost the worker a sixth of its
 * CPU (the file system looks for a free inode each time).
 *
 * Nothing is fsync'ed (two fsyncs per task cost a third of a small
 * device's task rate).  A crash of the worker loses nothing: the kernel
 * has the files.  A power cut may lose a result not yet acknowledged, or
 * leave it empty (set aside as .bad), or cut an output line (cut off at
 * load); the worker then comes back without that task in running_tasks
 * and the main node re-queues it, as it does for a task that was running
 * at the cut.  Tasks run at least once.
 */
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "protocol.h"
#include "worker.h"

#define SPOOL_FILE_MAX	(PROTO_LINE_MAX + 1)
#define SPOOL_KEY_MAX	512
#define SPOOL_SEG_MAX	(512 * 1024)	/* bytes of output per segment */
#define SPOOL_SEGS	2		/* segments kept per attempt */
#define SPOOL_JOURNAL_MAX (1024 * 1024)	/* then compacted */
#define SPOOL_FREE_MAX	16		/* empty work dirs kept */
#define SPOOL_SPARE_MAX	32		/* acknowledged result files kept */
#define SPOOL_PUMP	(128 * 1024)	/* bytes replayed per step: more than
					   the longest line */

static char	*spool_dir;	/* STATE/spool (owned) */
static char	*spool_run_dir;	/* STATE/run (owned) */
static char	*spool_free[SPOOL_FREE_MAX];	/* kept empty work dirs */
static int	 spool_n_free;
static unsigned	 spool_free_seq;
static char	*spool_journal_path;	/* STATE/run/journal (owned) */
static int	 spool_jfd = -1;	/* the journal, for appending */
static size_t	 spool_jsize;		/* bytes appended since compacted */
static char	*spool_work_dir;	/* STATE/work (owned) */
static char	*spool_spare[SPOOL_SPARE_MAX];	/* STATE/run/.spare-N */
static int	 spool_n_spare;
static unsigned	 spool_spare_seq;

/* File-name form of (task_id, attempt): unsafe bytes become %XX. */
static char *
spool_key(const char *task_id, int attempt, char *buf, size_t size)
{
	size_t		o = 0;
	unsigned char	c;

	for (; *task_id != '\0' && o + 4 < size - 16; task_id++) {
		c = (unsigned char)*task_id;
		if (isalnum(c) || c == '_' || (c == '-' && o > 0))
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "%%%02X", c);
	}
	snprintf(buf + o, size - o, "-%d", attempt);
	return (buf);
}

/* Decode a key's task id part back (in place into buf). */
static int
spool_unkey(const char *key, char *task_id, size_t size, int *attempt)
{
	const char	*dash;
	char		*end;
	size_t		 o = 0;
	unsigned int	 c;
	long		 a;

	if ((dash = strrchr(key, '-')) == NULL || dash == key)
		return (-1);
	a = strtol(dash + 1, &end, 10);
	if (*end != '\0' || a < 1 || a > 1000000)
		return (-1);
	for (; key < dash && o + 1 < size; key++) {
		if (*key == '%' && dash - key >= 3 &&
		    sscanf(key + 1, "%2X", &c) == 1) {
			task_id[o++] = (char)c;
			key += 2;
		} else
			task_id[o++] = *key;
	}
	task_id[o] = '\0';
	*attempt = (int)a;
	return (0);
}

/* Create the spool, run and work directories. */
void
spool_start(void)
{
	xasprintf(&spool_dir, "%s/spool", wconf.state_dir);
	xasprintf(&spool_run_dir, "%s/run", wconf.state_dir);
	xasprintf(&spool_journal_path, "%s/journal", spool_run_dir);
	xasprintf(&spool_work_dir, "%s/work", wconf.state_dir);
	if (mkdir(spool_dir, 0700) != 0 && errno != EEXIST)
		fatal("cannot create %s", spool_dir);
	if (mkdir(spool_run_dir, 0700) != 0 && errno != EEXIST)
		fatal("cannot create %s", spool_run_dir);
	if (mkdir(spool_work_dir, 0700) != 0 && errno != EEXIST)
		fatal("cannot create %s", spool_work_dir);
}

/* Path of a spooled result (static buffer). */
static const char *
spool_path(const char *task_id, int attempt)
{
	static char	path[4096];
	char		key[512];

	snprintf(path, sizeof path, "%s/%s.json", spool_dir,
	    spool_key(task_id, attempt, key, sizeof key));
	return (path);
}

/*
 * What the spool holds for one attempt: output segments KEY.out.N for N
 * in seg_lo..seg_hi (none when nseg is 0) and, once it ended, its result
 * KEY.json.  Every attempt with something spooled or still running has
 * one, on spool_recs; one being replayed is also on spool_queue.
 * task_id is owned, wfd (segment seg_hi, for appending) and rfd (segment
 * rseg, being replayed) are owned descriptors or -1.
 */
struct spool_rec {
	char			*task_id;
	int			 attempt;
	char			 key[SPOOL_KEY_MAX];
	unsigned		 seg_lo;
	unsigned		 seg_hi;
	int			 nseg;
	int			 wfd;
	size_t			 wsize;		/* bytes in segment seg_hi */
	int			 running;	/* output may still come */
	int			 has_result;
	int			 live;		/* send lines as they come */
	int			 replaying;	/* on spool_queue */
	int			 rfd;
	unsigned		 rseg;
	off_t			 roff;		/* replayed so far in rseg */
	int			 trim_logged;
	TAILQ_ENTRY(spool_rec)	 entry;
	TAILQ_ENTRY(spool_rec)	 qentry;
};

static TAILQ_HEAD(, spool_rec)	 spool_recs = TAILQ_HEAD_INITIALIZER(
    spool_recs);
static TAILQ_HEAD(, spool_rec)	 spool_queue = TAILQ_HEAD_INITIALIZER(
    spool_queue);
static int			 spool_online;	/* approved link, replayed */

static void	spool_journal_compact(void);

/* Read a whole small file into a heap string; NULL on error. */
static char *
spool_read(const char *path, size_t *len)
{
	char	*buf;
	int	 fd;
	ssize_t	 n;
	size_t	 off = 0;

	if ((fd = open(path, O_RDONLY|O_CLOEXEC|O_NOFOLLOW)) == -1)
		return (NULL);
	buf = xmalloc(SPOOL_FILE_MAX + 1);
	while (off < SPOOL_FILE_MAX) {
		n = read(fd, buf + off, SPOOL_FILE_MAX - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*len = off;
	return (buf);
}

/* Path of output segment n of rec (static buffer). */
static const char *
spool_seg_path(const struct spool_rec *r, unsigned n)
{
	static char	path[4096];

	snprintf(path, sizeof path, "%s/%s.out.%u", spool_dir, r->key, n);
	return (path);
}

/* The record of an attempt, or NULL. */
static struct spool_rec *
spool_find(const char *task_id, int attempt)
{
	struct spool_rec	*r;

	TAILQ_FOREACH(r, &spool_recs, entry) {
		if (r->attempt == attempt && strcmp(r->task_id, task_id) == 0)
			return (r);
	}
	return (NULL);
}

/* The record of an attempt, made if there is none. */
static struct spool_rec *
spool_get(const char *task_id, int attempt)
{
	struct spool_rec	*r;

	if ((r = spool_find(task_id, attempt)) != NULL)
		return (r);
	r = xcalloc(1, sizeof *r);
	r->task_id = xstrdup(task_id);
	r->attempt = attempt;
	spool_key(task_id, attempt, r->key, sizeof r->key);
	r->wfd = r->rfd = -1;
	r->live = spool_online;
	TAILQ_INSERT_TAIL(&spool_recs, r, entry);
	return (r);
}

/* Stop replaying a record. */
static void
spool_unqueue(struct spool_rec *r)
{
	if (r->rfd != -1)
		close(r->rfd);
	r->rfd = -1;
	if (r->replaying)
		TAILQ_REMOVE(&spool_queue, r, qentry);
	r->replaying = 0;
}

/*
 * Keep path for reuse: renamed to DIR/.NAME-SEQ and pushed on pool (n of
 * max).  1 if kept, 0 if the pool is full or the rename failed (the
 * caller deletes it then).
 */
static int
spool_pool_put(char **pool, int *n, int max, unsigned *seq,
    const char *dir, const char *name, const char *path)
{
	char	*keep;

	if (*n >= max)
		return (0);
	xasprintf(&keep, "%s/.%s-%u", dir, name, (*seq)++);
	if (rename(path, keep) != 0) {
		free(keep);
		return (0);
	}
	pool[(*n)++] = keep;
	return (1);
}

/* An acknowledged result file: kept as a spare for a later result, or
 * deleted when there are enough. */
static void
spool_spare_keep(const char *path)
{
	if (!spool_pool_put(spool_spare, &spool_n_spare, SPOOL_SPARE_MAX,
	    &spool_spare_seq, spool_run_dir, "spare", path))
		unlink(path);
}

/*
 * Write a result line to path: over a spare file, renamed into place
 * once whole, else through a new temporary file.  0, or -1 with errno.
 */
static int
spool_write_result(const char *path, const char *line, size_t len)
{
	struct stat	 st;
	char		*spare;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd, ok;

	while (spool_n_spare > 0) {
		spare = spool_spare[--spool_n_spare];
		/* Not O_TRUNC: ext4 writes a file cut to nothing back to
		 * disk on close (its auto_da_alloc), which costs more than
		 * a new file.  Written over, then cut to the new length. */
		ok = (fd = open(spare, O_WRONLY|O_CLOEXEC|O_NOFOLLOW)) != -1 &&
		    fstat(fd, &st) == 0;
		while (ok && off < len) {
			if ((n = write(fd, line + off, len - off)) == -1 &&
			    errno == EINTR)
				continue;
			if (n <= 0)
				ok = 0;
			else
				off += (size_t)n;
		}
		if (ok && st.st_size > (off_t)len &&
		    ftruncate(fd, (off_t)len) != 0)
			ok = 0;
		if (fd != -1 && close(fd) != 0)
			ok = 0;
		if (ok && rename(spare, path) == 0) {
			free(spare);
			return (0);
		}
		/* A full disk fails the fallback too and says so. */
		unlink(spare);
		free(spare);
		off = 0;
	}
	return (worker_write_file(path, line, len, 0));
}

/* Delete a record's files and free it. */
static void
spool_drop_rec(struct spool_rec *r)
{
	unsigned	n;

	spool_unqueue(r);
	if (r->wfd != -1)
		close(r->wfd);
	for (n = r->seg_lo; r->nseg > 0 && n <= r->seg_hi; n++)
		unlink(spool_seg_path(r, n));
	if (r->has_result)
		spool_spare_keep(spool_path(r->task_id, r->attempt));
	files_result_done(r->task_id, r->attempt);
	TAILQ_REMOVE(&spool_recs, r, entry);
	free(r->task_id);
	free(r);
}

/* A running attempt: its output will be kept from now on. */
struct spool_rec *
spool_open(const char *task_id, int attempt)
{
	struct spool_rec	*r = spool_get(task_id, attempt);

	r->running = 1;
	return (r);
}

/* Start a new segment; the oldest goes when there are too many. */
static void
spool_rotate(struct spool_rec *r)
{
	char	id[PROTO_ID_MAX * 4 + 1];

	if (r->wfd != -1)
		close(r->wfd);
	r->wfd = -1;
	r->wsize = 0;
	if (r->nseg == 0) {
		r->seg_lo = r->seg_hi = 0;
		r->nseg = 1;
		return;
	}
	r->seg_hi++;
	r->nseg++;
	if (r->nseg <= SPOOL_SEGS)
		return;
	unlink(spool_seg_path(r, r->seg_lo));
	if (!r->live && !r->trim_logged) {
		log_warn("event=output_trimmed task=%s attempt=%d msg=\"more "
		    "than %d KiB of output while the main node was away: the "
		    "oldest is dropped\"", log_sanitize(r->task_id, id,
		    sizeof id), r->attempt, SPOOL_SEGS * SPOOL_SEG_MAX / 1024);
		r->trim_logged = 1;
	}
	r->seg_lo++;
	r->nseg--;
}

/*
 * Keep one encoded task_output line of a running attempt.  Returns 1 if
 * it should also be sent now (the attempt is live), 0 if the replay will
 * send it.
 */
int
spool_output(struct spool_rec *r, const char *line, size_t len)
{
	ssize_t	n;

	if (r->nseg == 0 || r->wsize + len > SPOOL_SEG_MAX)
		spool_rotate(r);
	if (r->wfd == -1) {
		r->wfd = open(spool_seg_path(r, r->seg_hi),
		    O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC|O_NOFOLLOW, 0600);
		if (r->wfd == -1) {
			log_error("event=spool_failed path=\"%s\" error=\"%s\"",
			    spool_seg_path(r, r->seg_hi), strerror(errno));
			return (r->live);
		}
	}
	n = write(r->wfd, line, len);
	if (n != (ssize_t)len) {
		log_error("event=spool_failed path=\"%s\" error=\"%s\" "
		    "msg=\"output not kept\"", spool_seg_path(r, r->seg_hi),
		    n < 0 ? strerror(errno) : "short write");
		if (n > 0 && ftruncate(r->wfd, (off_t)r->wsize) != 0)
			log_error("event=spool_failed error=\"cannot cut a "
			    "partial line\"");
		return (r->live);
	}
	r->wsize += len;
	return (r->live);
}

/*
 * Send a spooled result line again; 1 if one was sent.  A result that
 * names outputs goes only once the main node has them (files.c), else
 * it is sent when they are there; one an output of which the main node
 * refused is spooled and sent as failed.
 */
static int
spool_send_result(struct spool_rec *r)
{
	struct msg		 m;
	struct proto_err	 err;
	char			*buf, *bad, *line;
	const char		*path = spool_path(r->task_id, r->attempt);
	size_t			 len;
	int			 ok, ready = 1;

	if ((buf = spool_read(path, &len)) == NULL)
		return (0);
	ok = len > 1 && buf[len - 1] == '\n' &&
	    msg_decode(buf, len - 1, &m, &err) == 0;
	if (ok) {
		ok = (m.type == MSG_TASK_RESULT);
		if (ok && m.u.result.n_outputs > 0 &&
		    (ready = files_result_ready(&m.u.result)) == 2 &&
		    (line = msg_encode(&m, &len)) != NULL) {
			/* Failed now: kept as such. */
			if (worker_write_file(path, line, len, 0) != 0)
				log_error("event=spool_failed path=\"%s\" "
				    "error=\"%s\"", path, strerror(errno));
			free(buf);
			buf = line;
		}
		msg_free(&m);
	}
	if (ok && ready == 0) {
		free(buf);
		return (0);
	}
	if (!ok) {
		log_warn("event=spool_corrupt path=\"%s\" msg=\"set aside as "
		    ".bad\"", path);
		xasprintf(&bad, "%s.bad", path);
		rename(path, bad);
		free(bad);
		free(buf);
		r->has_result = 0;
		return (0);
	}
	ok = (upstream_send_line(buf, len) == 0);
	free(buf);
	return (ok);
}

/*
 * Keep a task_result (its attempt's output is complete) and send it now
 * if the attempt is live.  Returns 1 if sent, 0 if kept for the next
 * replay, -1 if it could not even be encoded.
 */
int
spool_result(const struct msg *m)
{
	struct spool_rec	*r;
	const char		*task_id = m->u.result.task_id;
	int			 attempt = m->u.result.attempt;
	char			*line, id[PROTO_ID_MAX * 4 + 1];
	size_t			 len;
	int			 sent = 0;

	log_sanitize(task_id, id, sizeof id);
	if ((line = msg_encode(m, &len)) == NULL) {
		log_error("event=spool_failed task=%s attempt=%d error=\"cannot "
		    "encode\"", id, attempt);
		return (-1);
	}
	r = spool_get(task_id, attempt);
	r->running = 0;
	if (r->wfd != -1)
		close(r->wfd);
	r->wfd = -1;
	if (spool_write_result(spool_path(task_id, attempt), line, len) != 0)
		log_error("event=spool_failed task=%s attempt=%d error=\"%s\" "
		    "msg=\"the result is sent but not kept\"", id, attempt,
		    strerror(errno));
	else
		r->has_result = 1;
	if (r->live && r->has_result && m->u.result.n_outputs > 0) {
		/* It waits for its outputs to be on the main node. */
		if ((sent = spool_send_result(r)) != 0)
			upstream_flush();
	} else if (r->live && (sent = (upstream_send_line(line, len) == 0)))
		upstream_flush();
	free(line);
	if (!r->has_result && !sent) {
		/* Neither kept nor sent: nothing is left to replay. */
		spool_drop_rec(r);
	}
	return (sent);
}

/* Forget an attempt the main node acknowledged: result and output. */
void
spool_ack(const char *task_id, int attempt)
{
	struct spool_rec	*r;
	char			 id[PROTO_ID_MAX * 4 + 1];

	if ((r = spool_find(task_id, attempt)) == NULL || r->running)
		return;
	log_debug("event=result_acked task=%s attempt=%d",
	    log_sanitize(task_id, id, sizeof id), attempt);
	spool_drop_rec(r);
}

/* Forget a running attempt that will never report (killed at shutdown). */
void
spool_drop(struct spool_rec *r)
{
	if (r != NULL)
		spool_drop_rec(r);
}

/* 1 if a result for (task_id, attempt) is spooled. */
int
spool_has(const char *task_id, int attempt)
{
	struct spool_rec	*r = spool_find(task_id, attempt);

	return (r != NULL && r->has_result);
}

/* The main node asks about an attempt that ended here: send its result
 * again (now if live, else the replay will).  1 if there is one. */
int
spool_resend_one(const char *task_id, int attempt)
{
	struct spool_rec	*r = spool_find(task_id, attempt);

	if (r == NULL || !r->has_result)
		return (0);
	if (r->live)
		spool_send_result(r);
	return (1);
}

/* The (task_id, attempt) of every spooled result; borrowed, valid until
 * the next call. */
size_t
spool_refs(struct proto_task_ref **refs)
{
	static struct proto_task_ref	*buf;
	static size_t			 cap;
	struct spool_rec		*r;
	size_t				 n = 0;

	TAILQ_FOREACH(r, &spool_recs, entry) {
		if (!r->has_result)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			buf = xreallocarray(buf, cap, sizeof *buf);
		}
		buf[n].task_id = r->task_id;
		buf[n].attempt = r->attempt;
		n++;
	}
	*refs = buf;
	return (n);
}

/* The link is gone: nothing is live, replays stop. */
void
spool_offline(void)
{
	struct spool_rec	*r;

	spool_online = 0;
	TAILQ_FOREACH(r, &spool_recs, entry) {
		r->live = 0;
		spool_unqueue(r);
	}
}

/* A register_ack approved us: replay every attempt, output then result. */
void
spool_replay(void)
{
	struct spool_rec	*r;
	size_t			 n = 0, results = 0;

	spool_online = 1;
	TAILQ_FOREACH(r, &spool_recs, entry) {
		spool_unqueue(r);
		r->live = 0;
		r->rseg = r->seg_lo;
		r->replaying = 1;
		TAILQ_INSERT_TAIL(&spool_queue, r, qentry);
		n++;
		results += (size_t)r->has_result;
	}
	if (n > 0)
		log_info("event=spool_resent results=%zu attempts=%zu", results,
		    n);
	spool_pump();
}

/* Send the next whole lines of r's segment rseg (at most SPOOL_PUMP
 * bytes); bytes sent, 0 at its end, -1 if the link went away. */
static ssize_t
spool_pump_lines(struct spool_rec *r, char *buf)
{
	ssize_t	n, k;

	n = pread(r->rfd, buf, SPOOL_PUMP, r->roff);
	if (n <= 0)
		return (0);
	for (k = n; k > 0 && buf[k - 1] != '\n'; k--)
		;
	if (k == 0)
		return (0);	/* no whole line left (a cut one at the end) */
	if (upstream_send_line(buf, (size_t)k) != 0)
		return (-1);
	r->roff += k;
	return (k);
}

/* Send more of the replay while the link takes it: only whole lines, so
 * nothing else is ever sent in the middle of one. */
void
spool_pump(void)
{
	struct spool_rec	*r;
	char			*buf = NULL;
	ssize_t			 n;

	while ((r = TAILQ_FIRST(&spool_queue)) != NULL && upstream_can_write()) {
		if (r->nseg > 0 && r->rseg <= r->seg_hi) {
			if (r->rfd == -1) {
				if (r->rseg < r->seg_lo)
					r->rseg = r->seg_lo;
				r->roff = 0;
				r->rfd = open(spool_seg_path(r, r->rseg),
				    O_RDONLY|O_CLOEXEC|O_NOFOLLOW);
				if (r->rfd == -1) {
					r->rseg++;	/* dropped meanwhile */
					continue;
				}
			}
			if (buf == NULL)
				buf = xmalloc(SPOOL_PUMP);
			if ((n = spool_pump_lines(r, buf)) > 0)
				continue;
			if (n < 0)
				break;	/* the link went away */
			close(r->rfd);
			r->rfd = -1;
			if (r->rseg < r->seg_hi) {
				r->rseg++;
				continue;
			}
		}
		/* All output sent: the result follows, then it is live. */
		spool_unqueue(r);
		if (r->has_result)
			spool_send_result(r);
		r->live = 1;
	}
	free(buf);
}

/* Cut a segment found at startup after its last whole line. */
static void
spool_repair(const char *path)
{
	struct stat	 st;
	char		 buf[4096];
	off_t		 end, pos;
	ssize_t		 n, i;
	int		 fd;

	if ((fd = open(path, O_RDWR|O_CLOEXEC|O_NOFOLLOW)) == -1)
		return;
	if (fstat(fd, &st) != 0 || st.st_size == 0) {
		close(fd);
		return;
	}
	for (end = st.st_size; end > 0; end = pos) {
		pos = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
		if ((n = pread(fd, buf, (size_t)(end - pos), pos)) <= 0)
			break;
		for (i = n - 1; i >= 0; i--) {
			if (buf[i] == '\n') {
				if (pos + i + 1 != st.st_size &&
				    ftruncate(fd, pos + i + 1) == 0)
					log_warn("event=spool_repaired path=\"%s\" "
					    "msg=\"a cut line removed\"", path);
				close(fd);
				return;
			}
		}
	}
	if (ftruncate(fd, 0) == 0)
		log_warn("event=spool_repaired path=\"%s\" msg=\"no whole line\"",
		    path);
	close(fd);
}

/*
 * Startup, after spool_recover(): a record for every attempt whose result
 * is spooled, with its output segments; output of an attempt with no
 * result (it died with an earlier run) is deleted.
 */
static void
spool_load(void)
{
	struct spool_rec	*r;
	DIR			*d;
	struct dirent		*de;
	char			 key[SPOOL_KEY_MAX], id[PROTO_ID_MAX * 4];
	char			*path, *dot, *end;
	size_t			 len;
	unsigned long		 seg;
	int			 attempt, pass;

	/* Pass 0: results; pass 1: output segments. */
	for (pass = 0; pass < 2; pass++) {
		if ((d = opendir(spool_dir)) == NULL)
			return;
		while ((de = readdir(d)) != NULL) {
			len = strlen(de->d_name);
			if (len >= sizeof key)
				continue;
			memcpy(key, de->d_name, len + 1);
			if (pass == 0 && len > 4 &&
			    strcmp(key + len - 4, ".tmp") == 0) {
				unlinkat(dirfd(d), de->d_name, 0);
				continue;
			}
			if (pass == 0) {
				if (len < 6 || strcmp(key + len - 5,
				    ".json") != 0)
					continue;
				key[len - 5] = '\0';
				if (spool_unkey(key, id, sizeof id,
				    &attempt) != 0)
					continue;
				spool_get(id, attempt)->has_result = 1;
				continue;
			}
			if ((dot = strstr(key, ".out.")) == NULL)
				continue;
			seg = strtoul(dot + 5, &end, 10);
			*dot = '\0';
			xasprintf(&path, "%s/%s", spool_dir, de->d_name);
			if (*end != '\0' || spool_unkey(key, id, sizeof id,
			    &attempt) != 0 || (r = spool_find(id,
			    attempt)) == NULL) {
				unlink(path);	/* lost with its attempt */
				free(path);
				continue;
			}
			spool_repair(path);
			free(path);
			if (r->nseg == 0) {
				r->seg_lo = r->seg_hi = (unsigned)seg;
				r->nseg = 1;
				continue;
			}
			if (seg < r->seg_lo)
				r->seg_lo = (unsigned)seg;
			if (seg > r->seg_hi)
				r->seg_hi = (unsigned)seg;
			r->nseg = (int)(r->seg_hi - r->seg_lo + 1);
		}
		closedir(d);
	}
	TAILQ_FOREACH(r, &spool_recs, entry) {
		if (r->nseg > 0)	/* a new segment for nothing more */
			r->wsize = SPOOL_SEG_MAX;
	}
}

/* Free every record (exit); the files stay. */
void
spool_stop(void)
{
	struct spool_rec	*r;

	while ((r = TAILQ_FIRST(&spool_recs)) != NULL) {
		spool_unqueue(r);
		if (r->wfd != -1)
			close(r->wfd);
		TAILQ_REMOVE(&spool_recs, r, entry);
		free(r->task_id);
		free(r);
	}
	free(spool_dir);
	while (spool_n_free > 0)
		free(spool_free[--spool_n_free]);
	while (spool_n_spare > 0)
		free(spool_spare[--spool_n_spare]);
	free(spool_run_dir);
	free(spool_journal_path);
	spool_journal_path = NULL;
	if (spool_jfd != -1)
		close(spool_jfd);
	spool_jfd = -1;
	free(spool_work_dir);
	spool_dir = spool_run_dir = spool_work_dir = NULL;
}

/* This boot's id, so pids from an earlier boot are never killed. */
static void
spool_boot_id(char *buf, size_t size)
{
	FILE	*f;

	buf[0] = '\0';
	if ((f = fopen("/proc/sys/kernel/random/boot_id", "re")) == NULL)
		return;
	if (fgets(buf, (int)size, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* The clock tick (since boot, as /proc/PID/stat counts a process's
 * start) just before now: a lower bound of a new child's start time. */
static unsigned long long
spool_ticks_now(void)
{
	static long		 hz;
	struct timespec		 ts;

	if (hz <= 0 && (hz = sysconf(_SC_CLK_TCK)) <= 0)
		hz = 100;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return (0);
	return ((unsigned long long)ts.tv_sec * (unsigned long long)hz +
	    (unsigned long long)ts.tv_nsec / (1000000000ULL / (unsigned long
	    long)hz)) - 1;
}

/* Append one record to the run journal. */
static void
spool_journal_add(const char *rec, size_t len)
{
	if (spool_jfd == -1) {
		spool_jfd = open(spool_journal_path, O_WRONLY|O_CREAT|O_APPEND|
		    O_CLOEXEC|O_NOFOLLOW, 0600);
		if (spool_jfd == -1) {
			log_warn("event=journal_failed path=\"%s\" error=\"%s\" "
			    "msg=\"a crash under a task would go unnoticed\"",
			    spool_journal_path, strerror(errno));
			return;
		}
	}
	if (write(spool_jfd, rec, len) != (ssize_t)len)
		log_warn("event=journal_failed path=\"%s\" error=\"%s\"",
		    spool_journal_path, strerror(errno));
	spool_jsize += len;
	if (spool_jsize > SPOOL_JOURNAL_MAX)
		spool_journal_compact();
}

/* Record a started task in the run journal: what a restart needs to find
 * its leftovers. */
void
spool_mark(const char *task_id, int attempt, pid_t pgid,
    const char *container, const char *cgroup, const char *workdir)
{
	static char	 boot[64];
	char		 key[SPOOL_KEY_MAX], e1[512], e2[4096], e3[4096];
	char		*rec;
	int		 len;

	if (*boot == '\0')
		spool_boot_id(boot, sizeof boot);
	len = xasprintf(&rec, "+ %s\tpgid=%ld\tstart=%llu\tboot_id=%s\t"
	    "runtime=%s\tcontainer=%s\tcgroup=%s\tworkdir=%s\n",
	    spool_key(task_id, attempt, key, sizeof key), (long)pgid,
	    spool_ticks_now(), boot,
	    container != NULL && wconf.runtime != NULL ? wconf.runtime : "",
	    journal_enc(container, e1, sizeof e1), journal_enc(cgroup, e2,
	    sizeof e2), journal_enc(workdir, e3, sizeof e3));
	spool_journal_add(rec, (size_t)len);
	free(rec);
}

/* Close a task's entry in the run journal (its result is spooled or it
 * was killed). */
void
spool_unmark(const char *task_id, int attempt)
{
	char	key[SPOOL_KEY_MAX], rec[SPOOL_KEY_MAX + 8];
	int	len;

	len = snprintf(rec, sizeof rec, "- %s\n", spool_key(task_id, attempt,
	    key, sizeof key));
	spool_journal_add(rec, (size_t)len);
}

/* The entries of the journal at path still open; *n of them (caller
 * frees with journal_free()). */
static struct journal_entry *
spool_journal_read(const char *path, size_t *n)
{
	struct journal_entry	*v;
	struct stat		 st;
	char			*data;
	size_t			 len;
	ssize_t			 r;
	int			 fd;

	*n = 0;
	if ((fd = open(path, O_RDONLY|O_CLOEXEC|O_NOFOLLOW)) == -1)
		return (NULL);
	if (fstat(fd, &st) != 0 || st.st_size <= 0 ||
	    st.st_size > 64 * SPOOL_JOURNAL_MAX) {
		close(fd);
		return (NULL);
	}
	data = xmalloc((size_t)st.st_size + 1);
	for (len = 0; len < (size_t)st.st_size; len += (size_t)r) {
		if ((r = read(fd, data + len, (size_t)st.st_size - len)) <= 0)
			break;
	}
	close(fd);
	v = journal_parse(data, len, n);
	free(data);
	return (v);
}

/* Rewrite the journal with its open entries only. */
static void
spool_journal_compact(void)
{
	struct journal_entry	*v;
	struct evbuffer		*b;
	size_t			 n, i;

	if (spool_jfd != -1)
		close(spool_jfd);
	spool_jfd = -1;
	v = spool_journal_read(spool_journal_path, &n);
	b = evbuffer_new();
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "%s\n", v[i].rec);
	journal_free(v, n);
	spool_jsize = evbuffer_get_length(b);
	if (worker_write_file(spool_journal_path, (const char *)
	    evbuffer_pullup(b, -1), spool_jsize, 0) != 0)
		log_warn("event=journal_failed path=\"%s\" error=\"%s\"",
		    spool_journal_path, strerror(errno));
	evbuffer_free(b);
}

/* Handle one task an earlier run left open: kill its leftovers, report
 * nothing (the main node re-queues the attempt).  rec is its journal
 * record, or a marker file's text (one key=value a line). */
static void
spool_recover_one(const char *key, char *rec)
{
	char			*p, *sep;
	char			 task_id[PROTO_ID_MAX * 4], boot[64];
	char			 mboot[64] = "", runtime[32] = "", id[512];
	char			 container[256] = "", cgroup[4096] = "";
	char			 workdir[4096] = "";
	long			 pgid = -1;
	unsigned long long	 start = 0;
	int			 attempt, same_boot;

	if (spool_unkey(key, task_id, sizeof task_id, &attempt) != 0) {
		log_warn("event=marker_bad key=\"%s\"", log_sanitize(key, id,
		    sizeof id));
		return;
	}
	for (p = rec; p != NULL && *p != '\0'; p = sep) {
		if ((sep = strpbrk(p, "\t\n")) != NULL)
			*sep++ = '\0';
		journal_dec(p);
		if (strncmp(p, "pgid=", 5) == 0)
			pgid = strtol(p + 5, NULL, 10);
		else if (strncmp(p, "start=", 6) == 0)
			start = strtoull(p + 6, NULL, 10);
		else if (strncmp(p, "boot_id=", 8) == 0)
			snprintf(mboot, sizeof mboot, "%s", p + 8);
		else if (strncmp(p, "runtime=", 8) == 0)
			snprintf(runtime, sizeof runtime, "%s", p + 8);
		else if (strncmp(p, "container=", 10) == 0)
			snprintf(container, sizeof container, "%s", p + 10);
		else if (strncmp(p, "cgroup=", 7) == 0)
			snprintf(cgroup, sizeof cgroup, "%s", p + 7);
		else if (strncmp(p, "workdir=", 8) == 0)
			snprintf(workdir, sizeof workdir, "%s", p + 8);
	}
	spool_boot_id(boot, sizeof boot);
	same_boot = (*boot != '\0' && strcmp(boot, mboot) == 0);
	log_warn("event=task_lost task=%s attempt=%d pgid=%ld container=%s "
	    "msg=\"the worker stopped while it ran; its leftovers are killed "
	    "and the main node runs it again\"", log_sanitize(task_id, id,
	    sizeof id), attempt, pgid, *container != '\0' ? container : "-");
	if (same_boot)
		sandbox_recover(cgroup, workdir, pgid > 1 ? (pid_t)pgid : -1,
		    start);
	if (*container != '\0' && (strcmp(runtime, "podman") == 0 ||
	    strcmp(runtime, "docker") == 0))
		exec_container_remove_sync(runtime, container);
}

/* Handle what an earlier run left open: tasks in the run journal (and
 * marker files of older versions); clear stale work dirs; load what the
 * spool holds. */
void
spool_recover(void)
{
	struct journal_entry	*v;
	DIR			*d;
	struct dirent		*de;
	char			*path, *data;
	size_t			 n, i, len;

	v = spool_journal_read(spool_journal_path, &n);
	for (i = 0; i < n; i++)
		spool_recover_one(v[i].key, v[i].rec);
	journal_free(v, n);
	unlink(spool_journal_path);
	spool_jsize = 0;

	if ((d = opendir(spool_run_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, ".spare-", 7) == 0)
				unlinkat(dirfd(d), de->d_name, 0);
			if (de->d_name[0] == '.' ||
			    strncmp(de->d_name, "journal", 7) == 0)
				continue;
			xasprintf(&path, "%s/%s", spool_run_dir, de->d_name);
			if (strstr(de->d_name, ".tmp") == NULL &&
			    (data = spool_read(path, &len)) != NULL) {
				spool_recover_one(de->d_name, data);
				free(data);
			}
			unlink(path);
			free(path);
		}
		closedir(d);
	}
	worker_rmtree(spool_work_dir);
	if (mkdir(spool_work_dir, 0700) != 0 && errno != EEXIST)
		fatal("cannot create %s", spool_work_dir);
	spool_load();
}

/* 1 if the directory at path holds nothing (checked without opendir's
 * buffer). */
static int
spool_dir_empty(const char *path)
{
	char		 buf[512];
	long		 n, off;
	int		 fd, names = 0;
	struct dirent64	*de;

	if ((fd = open(path, O_RDONLY|O_DIRECTORY|O_CLOEXEC|O_NOFOLLOW)) == -1)
		return (0);
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (off = 0; off < n; off += de->d_reclen) {
			de = (struct dirent64 *)(buf + off);
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				names++;
		}
		if (names > 0)
			break;
	}
	close(fd);
	return (n >= 0 && names == 0);
}

/* Make a task's working directory: a kept empty one renamed, else a new
 * one.  0, or -1 with errno. */
int
spool_work_make(const char *path)
{
	int	r;

	while (spool_n_free > 0) {
		if (rename(spool_free[--spool_n_free], path) == 0) {
			free(spool_free[spool_n_free]);
			return (0);
		}
		rmdir(spool_free[spool_n_free]);
		free(spool_free[spool_n_free]);
	}
	if ((r = mkdir(path, 0700)) != 0 && errno == EEXIST) {
		worker_rmtree(path);	/* an earlier run's */
		r = mkdir(path, 0700);
	}
	return (r);
}

/* A task is over: keep its working directory for the next one if it is
 * empty, else remove it. */
void
spool_work_done(const char *path)
{
	if (spool_n_free < SPOOL_FREE_MAX && spool_dir_empty(path) &&
	    spool_pool_put(spool_free, &spool_n_free, SPOOL_FREE_MAX,
	    &spool_free_seq, spool_work_dir, "free", path))
		return;
	worker_rmtree(path);
}

/* STATE/work/<key> for a task attempt (caller frees). */
char *
spool_work_path(const char *task_id, int attempt)
{
	char	*path, key[512];

	xasprintf(&path, "%s/%s", spool_work_dir,
	    spool_key(task_id, attempt, key, sizeof key));
	return (path);
}
