/* SPDX-License-Identifier: ISC */
/*
 * files.c -- the main node's file store and the transfers in and out of
 * it (PROTOCOL.md "Files").
 *
 * A file is named by the SHA-256 of its bytes and kept once, however many
 * tasks use it: STATE/files/ab/abcd... (the first two hex digits are a
 * directory, so no directory grows past a few thousand entries).  Bytes
 * being received go to STATE/files/partial/SHA; only when all of them are
 * there and they hash to SHA is the file fsynced and renamed into place,
 * so a file in the store is always whole and right.  A dropped upload
 * keeps its partial file, and the next one goes on from its end.
 *
 * An upload is a run of file_data lines, each followed on the connection
 * by its raw bytes, which conn.c hands here (files_raw) as they arrive:
 * they are hashed and written, never buffered whole, so memory stays flat
 * whatever the size.  A download is a producer on the connection
 * (conn_set_producer): a frame of at most 1 MiB is read from the file
 * each time the connection's output runs low, so a 4 GB download never
 * holds more than a frame and other messages interleave between frames.
 *
 * The store is bounded by --max-files-mb: an upload that would not fit
 * is refused (busy).  A file no task names any more (task_files) is
 * deleted by a sweep that looks at one of the 256 directories a second,
 * once it has been unused for FILES_GRACE (so an upload whose task is
 * about to be submitted is not swept away); a partial file nobody went on
 * with for FILES_PARTIAL_KEEP is deleted too.
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "main.h"

#define FILES_GRACE		3600		/* s an unnamed file is kept */
#define FILES_PARTIAL_KEEP	(24 * 3600)	/* s a dropped upload is kept */
#define FILES_HASH_CHUNK	(256 * 1024)	/* re-hashing a partial file */
#define FILES_IOV		16

/* A file being received. */
struct upload {
	char		 sha[PROTO_SHA256_HEX + 1];
	int64_t		 size;
	int64_t		 have;		/* bytes written and hashed */
	int		 fd;
	EVP_MD_CTX	*md;		/* hash of bytes 0..have */
	struct conn	*owner;		/* sending it now, or NULL */
	int		 failed;	/* errno of a failed write, or 0 */
	double		 touched;	/* monotonic */
	struct upload	*next;
};

/* A file being sent. */
struct download {
	char			 sha[PROTO_SHA256_HEX + 1];
	int			 fd;
	int64_t			 offset;
	int64_t			 size;
	char			*reply_to;
	TAILQ_ENTRY(download)	 entry;
};
TAILQ_HEAD(download_list, download);

/* What a connection is doing with files. */
struct files_conn {
	struct upload		*up;		/* the frame being received */
	char			*frame_id;	/* its message_id */
	struct download_list	 downloads;	/* in order */
};

static struct {
	struct server	*s;
	char		*dir;		/* STATE/files */
	int64_t		 disk;		/* bytes on disk, whole and partial */
	int64_t		 reserved;	/* bytes uploads still expect */
	int64_t		 nfiles;	/* whole files */
	struct upload	*uploads;
	int		 sweep;		/* next directory to sweep, 0..255 */
} files;

static int	files_produce(struct conn *, void *);

/* STATE/files/ab/abcd... */
static void
files_path(const char *sha, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%.2s/%s", files.dir, sha, sha);
}

/* STATE/files/partial/abcd... */
static void
files_partial_path(const char *sha, char *buf, size_t size)
{
	snprintf(buf, size, "%s/partial/%s", files.dir, sha);
}

/* The file store's bytes in use (whole, partial and promised). */
int64_t
files_used(void)
{
	return (files.disk + files.reserved);
}

/* Whole files in the store. */
int64_t
files_count(void)
{
	return (files.nfiles);
}

/* 1 if the store is at or over --max-files-mb. */
int
files_full(void)
{
	return (files_used() >= files.s->opt->max_files);
}

/* 1 if the store holds the file whole (of this size, unless size < 0). */
int
files_complete(const char *sha, int64_t size)
{
	char		path[PATH_MAX];
	struct stat	st;

	if (!proto_sha256_ok(sha))
		return (0);
	files_path(sha, path, sizeof path);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return (0);
	return (size < 0 || st.st_size == size);
}

/* A file was asked for or named: it is in use, the sweep waits. */
void
files_touch(const char *sha)
{
	char	path[PATH_MAX];

	files_path(sha, path, sizeof path);
	utimensat(AT_FDCWD, path, NULL, 0);
}

/* Add up the bytes of one directory's regular files. */
static void
files_scan_dir(const char *dir, int count)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 path[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >=
		    (int)sizeof path)
			continue;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		files.disk += st.st_size;
		if (count)
			files.nfiles++;
	}
	closedir(d);
}

/* Open the store (made on first start) and count what it holds. */
int
files_start(struct server *s, char **cause)
{
	char	path[PATH_MAX];
	int	i;

	memset(&files, 0, sizeof files);
	files.s = s;
	xasprintf(&files.dir, "%s/files", s->opt->state_dir);
	snprintf(path, sizeof path, "%s/partial", files.dir);
	if (proto_mkdirs(path, 0700) != 0) {
		xasprintf(cause, "cannot make %s: %s", path, strerror(errno));
		return (-1);
	}
	for (i = 0; i < 256; i++) {
		snprintf(path, sizeof path, "%s/%02x", files.dir, i);
		files_scan_dir(path, 1);
	}
	snprintf(path, sizeof path, "%s/partial", files.dir);
	files_scan_dir(path, 0);
	log_info("event=files_open dir=%s files=%lld mb=%lld max_mb=%lld",
	    files.dir, (long long)files.nfiles,
	    (long long)(files.disk >> 20),
	    (long long)(s->opt->max_files >> 20));
	return (0);
}

/* ---- uploads ---- */

static struct upload *
upload_find(const char *sha)
{
	struct upload	*u;

	for (u = files.uploads; u != NULL; u = u->next) {
		if (strcmp(u->sha, sha) == 0)
			return (u);
	}
	return (NULL);
}

/* Forget an upload in memory (its partial file stays unless unlinked). */
static void
upload_free(struct upload *u)
{
	struct upload	**pp;

	for (pp = &files.uploads; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	}
	files.reserved -= u->size - u->have;
	if (u->fd != -1)
		close(u->fd);
	EVP_MD_CTX_free(u->md);
	free(u);
}

/* Drop an upload and its partial file. */
static void
upload_discard(struct upload *u)
{
	char	path[PATH_MAX];

	files_partial_path(u->sha, path, sizeof path);
	if (unlink(path) == 0)
		files.disk -= u->have;
	upload_free(u);
}

/*
 * Open (or go on with) the partial file of an upload.  The bytes it
 * holds already, from a connection that dropped or a main node that
 * restarted, are hashed again so the hash covers them.  NULL with errno.
 */
static struct upload *
upload_open(const char *sha, int64_t size)
{
	struct upload	*u;
	struct stat	 st;
	char		 path[PATH_MAX], *buf;
	ssize_t		 n;
	int64_t		 off = 0;

	files_partial_path(sha, path, sizeof path);
	u = xcalloc(1, sizeof *u);
	snprintf(u->sha, sizeof u->sha, "%s", sha);
	u->size = size;
	u->md = EVP_MD_CTX_new();
	if (u->md == NULL || EVP_DigestInit_ex(u->md, EVP_sha256(),
	    NULL) != 1) {
		EVP_MD_CTX_free(u->md);
		free(u);
		errno = ENOMEM;
		return (NULL);
	}
	u->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (u->fd == -1 || fstat(u->fd, &st) != 0) {
		if (u->fd != -1)
			close(u->fd);
		EVP_MD_CTX_free(u->md);
		free(u);
		return (NULL);
	}
	/* A partial file longer than the file is not this file's. */
	if (st.st_size > size) {
		if (ftruncate(u->fd, 0) == 0)
			files.disk -= st.st_size;
		st.st_size = 0;
	}
	if (st.st_size > 0) {
		buf = xmalloc(FILES_HASH_CHUNK);
		while (off < st.st_size &&
		    (n = pread(u->fd, buf, FILES_HASH_CHUNK, off)) > 0) {
			EVP_DigestUpdate(u->md, buf, (size_t)n);
			off += n;
		}
		free(buf);
		log_info("event=upload_resume sha256=%.12s have=%lld size=%lld",
		    sha, (long long)off, (long long)size);
	}
	u->have = off;
	if (lseek(u->fd, off, SEEK_SET) == -1) {
		close(u->fd);
		EVP_MD_CTX_free(u->md);
		free(u);
		return (NULL);
	}
	u->touched = now_mono();
	files.reserved += size - u->have;
	u->next = files.uploads;
	files.uploads = u;
	return (u);
}

/* Bytes of a partial file on disk (0 if none). */
static int64_t
files_partial_have(const char *sha)
{
	char		path[PATH_MAX];
	struct stat	st;

	files_partial_path(sha, path, sizeof path);
	if (stat(path, &st) != 0)
		return (0);
	return (st.st_size);
}

/* A connection's file state, made on first use. */
static struct files_conn *
files_conn(struct conn *c)
{
	struct files_conn	*fc = c->files;

	if (fc == NULL) {
		fc = xcalloc(1, sizeof *fc);
		TAILQ_INIT(&fc->downloads);
		c->files = fc;
	}
	return (fc);
}

/* Tell the sender how a file stands: a file_ack to a worker, a reply to
 * an operator. */
static void
files_answer(struct conn *c, const char *reply_to, const char *sha,
    int64_t size, int64_t have, int complete)
{
	struct json_object	*o;
	struct msg		 m;

	if (c->role == ROLE_OPERATOR) {
		o = json_object_new_object();
		json_object_object_add(o, "ok", json_object_new_boolean(1));
		json_object_object_add(o, "sha256",
		    json_object_new_string(sha));
		json_object_object_add(o, "size", size >= 0 ?
		    json_object_new_int64(size) : NULL);
		json_object_object_add(o, "have",
		    json_object_new_int64(have));
		json_object_object_add(o, "complete",
		    json_object_new_boolean(complete));
		conn_send_json(c, MSG_REPLY, reply_to, o);
		return;
	}
	msg_init(&m, MSG_FILE_ACK);
	m.sender_id = (char *)"main";
	m.reply_to = (char *)reply_to;
	m.u.file.sha256 = (char *)sha;
	m.u.file.size = size;
	m.u.file.have = have;
	m.u.file.complete = complete;
	conn_send(c, &m);
}

/* Tell the sender a transfer failed, and why. */
static void __attribute__((format(printf, 6, 7)))
files_fail(struct conn *c, const char *reply_to, const char *sha,
    int64_t have, enum proto_code code, const char *fmt, ...)
{
	struct msg	 m;
	va_list		 ap;
	char		 text[PROTO_TEXT_MAX];

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	log_info("event=file_refused addr=%s sha256=%.12s code=%s msg=\"%s\"",
	    c->addr, sha, proto_code_name(code), text);
	if (c->role == ROLE_OPERATOR) {
		conn_reply_error(c, reply_to, code, "%s", text);
		return;
	}
	msg_init(&m, MSG_FILE_ACK);
	m.sender_id = (char *)"main";
	m.reply_to = (char *)reply_to;
	m.u.file.sha256 = (char *)sha;
	m.u.file.size = -1;
	m.u.file.have = have;
	m.u.file.error = text;
	conn_send(c, &m);
}

/* file_stat: how much of a file is here. */
void
handle_file_stat(struct request *rq)
{
	const char	*sha = rq->m->u.file.sha256;
	struct upload	*u;
	char		 path[PATH_MAX];
	struct stat	 st;

	files_path(sha, path, sizeof path);
	if (stat(path, &st) == 0) {
		files_touch(sha);
		files_answer(rq->c, rq->m->message_id, sha, st.st_size,
		    st.st_size, 1);
		return;
	}
	if ((u = upload_find(sha)) != NULL)
		files_answer(rq->c, rq->m->message_id, sha, u->size, u->have,
		    0);
	else
		files_answer(rq->c, rq->m->message_id, sha, -1,
		    files_partial_have(sha), 0);
}

/* Why a write failed, in words that say what to do. */
static const char *
files_write_error(int err, char *buf, size_t size)
{
	if (err == ENOSPC || err == EDQUOT)
		snprintf(buf, size, "the main node's disk is full: free "
		    "space in its state dir, then send the file again");
	else
		snprintf(buf, size, "the main node cannot write the file "
		    "(%s); see its log", strerror(err));
	return (buf);
}

/*
 * file_data: a frame of an upload; its raw bytes follow on the connection
 * whatever we answer, so every path here either takes them (the frame is
 * the upload's next) or drops them.
 */
void
handle_file_data(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg_file		*f = &rq->m->u.file;
	const char		*id = rq->m->message_id;
	struct files_conn	*fc = files_conn(c);
	struct upload		*u;
	struct options		*opt = c->server->opt;
	int64_t			 have;
	char			 text[PATH_MAX];

	if (files_complete(f->sha256, -1)) {
		conn_expect_raw(c, f->len, 1);
		if (!files_complete(f->sha256, f->size)) {
			files_fail(c, id, f->sha256, 0, PROTO_BAD_FIELD,
			    "file %.12s... is here with another size than "
			    "%lld bytes: the size or the hash is wrong",
			    f->sha256, (long long)f->size);
			return;
		}
		files_touch(f->sha256);
		if (f->offset + f->len == f->size)
			files_answer(c, id, f->sha256, f->size, f->size, 1);
		return;
	}
	u = upload_find(f->sha256);
	/* Offset 0 starts the file again, whatever was received. */
	if (f->offset == 0 && u != NULL && u->have > 0 &&
	    (u->owner == NULL || u->owner == c)) {
		upload_discard(u);
		u = NULL;
	}
	if (u == NULL) {
		have = files_partial_have(f->sha256);
		if (have > f->size || f->offset == 0) {
			/* Not this file's, or started again. */
			files_partial_path(f->sha256, text, sizeof text);
			if (have > 0 && unlink(text) == 0)
				files.disk -= have;
			have = 0;
		}
		if (f->offset != have) {
			conn_expect_raw(c, f->len, 1);
			files_fail(c, id, f->sha256, have, PROTO_CONFLICT,
			    "upload of %.12s... goes on at byte %lld, not "
			    "%lld: send from there (file_stat says where)",
			    f->sha256, (long long)have, (long long)f->offset);
			return;
		}
		if (c->role == ROLE_OPERATOR && f->size > opt->max_input) {
			conn_expect_raw(c, f->len, 1);
			files_fail(c, id, f->sha256, have, PROTO_BAD_FIELD,
			    "a file of %.1f MiB is more than a task's inputs "
			    "may be (--max-input-mb %lld on the main node)",
			    (double)f->size / 1048576,
			    (long long)(opt->max_input >> 20));
			return;
		}
		if (files_used() + (f->size - have) > opt->max_files) {
			conn_expect_raw(c, f->len, 1);
			files_fail(c, id, f->sha256, have, PROTO_BUSY,
			    "the main node's file store is full (%lld of "
			    "--max-files-mb %lld MiB used; %lld MiB more "
			    "needed): wait until finished tasks are pruned "
			    "(--keep-finished), or raise --max-files-mb",
			    (long long)(files_used() >> 20),
			    (long long)(opt->max_files >> 20),
			    (long long)((f->size - have + 1048575) >> 20));
			return;
		}
		if ((u = upload_open(f->sha256, f->size)) == NULL) {
			conn_expect_raw(c, f->len, 1);
			files_fail(c, id, f->sha256, 0, errno == ENOSPC ?
			    PROTO_BUSY : PROTO_INTERNAL, "%s",
			    files_write_error(errno, text, sizeof text));
			return;
		}
	} else if (u->size != f->size) {
		conn_expect_raw(c, f->len, 1);
		files_fail(c, id, f->sha256, u->have, PROTO_BAD_FIELD,
		    "file %.12s... is being received as %lld bytes, not "
		    "%lld", f->sha256, (long long)u->size,
		    (long long)f->size);
		return;
	} else if (u->owner != NULL && u->owner != c) {
		conn_expect_raw(c, f->len, 1);
		files_fail(c, id, f->sha256, u->have, PROTO_BUSY,
		    "another connection is sending file %.12s... now; "
		    "retry in a moment", f->sha256);
		return;
	} else if (f->offset != u->have) {
		conn_expect_raw(c, f->len, 1);
		files_fail(c, id, f->sha256, u->have, PROTO_CONFLICT,
		    "upload of %.12s... goes on at byte %lld, not %lld: "
		    "send from there", f->sha256, (long long)u->have,
		    (long long)f->offset);
		return;
	}
	u->owner = c;
	u->touched = now_mono();
	fc->up = u;
	free(fc->frame_id);
	fc->frame_id = id != NULL ? xstrdup(id) : NULL;
	if (f->len == 0)
		files_raw_end(c);
	else
		conn_expect_raw(c, f->len, 0);
}

/* Raw bytes of the frame being received: hash and write them. */
void
files_raw(struct conn *c, struct evbuffer *in, size_t n)
{
	struct files_conn	*fc = c->files;
	struct upload		*u = fc != NULL ? fc->up : NULL;
	struct iovec		 iov[FILES_IOV];
	size_t			 left = n, take;
	ssize_t			 w;
	int			 nv, i;

	metrics_file_bytes_received(n);
	while (u != NULL && !u->failed && left > 0) {
		nv = frame_peek(in, left, iov, FILES_IOV, &take);
		for (i = 0; i < nv; i++)
			EVP_DigestUpdate(u->md, iov[i].iov_base,
			    iov[i].iov_len);
		/* Write them all (a short write goes on where it stopped). */
		for (i = 0; i < nv; ) {
			w = writev(u->fd, iov + i, nv - i);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				u->failed = w < 0 ? errno : EIO;
				break;
			}
			u->have += w;
			files.disk += w;
			files.reserved -= w;
			while (i < nv && (size_t)w >= iov[i].iov_len) {
				w -= (ssize_t)iov[i].iov_len;
				i++;
			}
			if (i < nv) {
				iov[i].iov_base = (char *)iov[i].iov_base + w;
				iov[i].iov_len -= (size_t)w;
			}
		}
		evbuffer_drain(in, take);
		left -= take;
	}
	if (left > 0)
		evbuffer_drain(in, left);
}

/* Lowercase hex of a digest. */
static void
files_hex(const unsigned char *d, unsigned int n, char *out)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned int		i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Move a whole, verified partial file into the store.  0 or -1 (errno). */
static int
files_commit(struct upload *u)
{
	char	from[PATH_MAX], to[PATH_MAX], dir[PATH_MAX];

	if (fdatasync(u->fd) != 0)
		return (-1);
	files_partial_path(u->sha, from, sizeof from);
	files_path(u->sha, to, sizeof to);
	snprintf(dir, sizeof dir, "%s/%.2s", files.dir, u->sha);
	if (proto_mkdirs(dir, 0700) != 0 || rename(from, to) != 0)
		return (-1);
	return (0);
}

/* The frame's last byte arrived: check and store a file now whole. */
void
files_raw_end(struct conn *c)
{
	struct files_conn	*fc = c->files;
	struct upload		*u = fc != NULL ? fc->up : NULL;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	char			 got[2 * EVP_MAX_MD_SIZE + 1], text[256];
	char			 sha[PROTO_SHA256_HEX + 1];
	int64_t			 size;
	int			 err;

	if (u == NULL)
		return;
	fc->up = NULL;
	snprintf(sha, sizeof sha, "%s", u->sha);
	size = u->size;
	if (u->failed) {
		err = u->failed;
		upload_discard(u);
		files_fail(c, fc->frame_id, sha, 0, err == ENOSPC ||
		    err == EDQUOT ? PROTO_BUSY : PROTO_INTERNAL, "%s",
		    files_write_error(err, text, sizeof text));
		log_warn("event=upload_failed sha256=%.12s error=\"%s\"", sha,
		    strerror(err));
		return;
	}
	if (u->have < u->size)
		return;		/* more frames to come */
	EVP_DigestFinal_ex(u->md, md, &mdlen);
	files_hex(md, mdlen, got);
	if (strcmp(got, u->sha) != 0) {
		upload_discard(u);
		files_fail(c, fc->frame_id, sha, 0, PROTO_BAD_FIELD,
		    "the %lld bytes received hash to %.12s..., not %.12s...: "
		    "the file changed while it was sent, or was damaged on "
		    "the way; send it again from the start", (long long)size,
		    got, sha);
		return;
	}
	if (files_commit(u) != 0) {
		err = errno;
		upload_discard(u);
		files_fail(c, fc->frame_id, sha, 0, err == ENOSPC ?
		    PROTO_BUSY : PROTO_INTERNAL, "%s",
		    files_write_error(err, text, sizeof text));
		return;
	}
	upload_free(u);
	files.nfiles++;
	if (c->device != NULL)
		device_note_file(c->device, sha);
	log_info("event=file_stored sha256=%.12s size=%lld from=%s", sha,
	    (long long)size, c->device != NULL ? c->device->id : c->addr);
	files_answer(c, fc->frame_id, sha, size, size, 1);
}

/* ---- downloads ---- */

static void
download_free(struct download *d)
{
	if (d->fd != -1)
		close(d->fd);
	free(d->reply_to);
	free(d);
}

/* file_get: send a file from an offset, a frame at a time. */
void
handle_file_get(struct request *rq)
{
	struct conn		*c = rq->c;
	struct msg_file		*f = &rq->m->u.file;
	struct files_conn	*fc;
	struct download		*d;
	struct stat		 st;
	char			 path[PATH_MAX];
	conn_producer_cb	 cur = conn_producer(c);
	int			 fd;

	if (cur != NULL && cur != files_produce) {
		files_fail(c, rq->m->message_id, f->sha256, 0, PROTO_BUSY,
		    "this connection is streaming something else; fetch "
		    "files on another connection");
		return;
	}
	files_path(f->sha256, path, sizeof path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) != 0) {
		if (fd != -1)
			close(fd);
		files_fail(c, rq->m->message_id, f->sha256, 0,
		    PROTO_NOT_FOUND, "no file %.12s... on the main node (it "
		    "was never uploaded whole, or its tasks were pruned)",
		    f->sha256);
		return;
	}
	if (f->offset > st.st_size) {
		close(fd);
		files_fail(c, rq->m->message_id, f->sha256, 0,
		    PROTO_BAD_FIELD, "offset %lld is past the end of file "
		    "%.12s... (%lld bytes)", (long long)f->offset, f->sha256,
		    (long long)st.st_size);
		return;
	}
	files_touch(f->sha256);
	fc = files_conn(c);
	d = xcalloc(1, sizeof *d);
	snprintf(d->sha, sizeof d->sha, "%s", f->sha256);
	d->fd = fd;
	d->offset = f->offset;
	d->size = st.st_size;
	d->reply_to = rq->m->message_id != NULL ?
	    xstrdup(rq->m->message_id) : NULL;
	TAILQ_INSERT_TAIL(&fc->downloads, d, entry);
	log_debug("event=file_send sha256=%.12s offset=%lld size=%lld to=%s",
	    d->sha, (long long)d->offset, (long long)d->size,
	    c->device != NULL ? c->device->id : c->addr);
	if (cur == NULL)
		conn_set_producer(c, files_produce, fc, NULL);
}

/* The connection's output ran low: add the next frame.  1 while there is
 * more to send. */
static int
files_produce(struct conn *c, void *arg)
{
	struct files_conn	*fc = arg;
	struct download		*d = TAILQ_FIRST(&fc->downloads);
	struct evbuffer		*frame;
	struct msg		 m;
	size_t			 n;

	if (d == NULL)
		return (0);
	n = (size_t)(d->size - d->offset);
	if (n > PROTO_FILE_FRAME_MAX)
		n = PROTO_FILE_FRAME_MAX;
	if ((frame = frame_read_file(d->fd, d->offset, n)) == NULL) {
		files_fail(c, d->reply_to, d->sha, d->offset, PROTO_INTERNAL,
		    "the main node cannot read file %.12s... at byte %lld; "
		    "see its log", d->sha, (long long)d->offset);
		log_error("event=file_read_failed sha256=%.12s offset=%lld",
		    d->sha, (long long)d->offset);
		TAILQ_REMOVE(&fc->downloads, d, entry);
		download_free(d);
		return (!TAILQ_EMPTY(&fc->downloads));
	}
	msg_init(&m, MSG_FILE_DATA);
	m.sender_id = (char *)"main";
	m.reply_to = d->reply_to;
	m.u.file.sha256 = d->sha;
	m.u.file.size = d->size;
	m.u.file.offset = d->offset;
	m.u.file.len = (int64_t)n;
	msg_write(conn_output(c), &m);
	evbuffer_add_buffer(conn_output(c), frame);
	evbuffer_free(frame);
	d->offset += (int64_t)n;
	metrics_file_bytes_sent(n);
	if (d->offset < d->size)
		return (1);
	if (c->role == ROLE_OPERATOR)
		files_answer(c, d->reply_to, d->sha, d->size, d->size, 1);
	if (c->device != NULL)
		device_note_file(c->device, d->sha);
	log_debug("event=file_sent sha256=%.12s size=%lld", d->sha,
	    (long long)d->size);
	TAILQ_REMOVE(&fc->downloads, d, entry);
	download_free(d);
	return (!TAILQ_EMPTY(&fc->downloads));
}

/* A connection goes: its uploads wait for the next one, its downloads
 * end. */
void
files_conn_closed(struct conn *c)
{
	struct files_conn	*fc = c->files;
	struct download		*d;
	struct upload		*u;

	for (u = files.uploads; u != NULL; u = u->next) {
		if (u->owner == c)
			u->owner = NULL;
	}
	if (fc == NULL)
		return;
	while ((d = TAILQ_FIRST(&fc->downloads)) != NULL) {
		TAILQ_REMOVE(&fc->downloads, d, entry);
		download_free(d);
	}
	free(fc->frame_id);
	free(fc);
	c->files = NULL;
}

/* ---- the sweep ---- */

/* Delete the files of one directory that no task names and nobody used
 * for FILES_GRACE. */
static void
files_sweep_dir(struct server *s, const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 path[PATH_MAX];
	time_t		 old = time(NULL) - FILES_GRACE;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!proto_sha256_ok(de->d_name))
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >=
		    (int)sizeof path)
			continue;
		if (stat(path, &st) != 0 || st.st_mtime > old)
			continue;
		if (store_file_used(s->store, de->d_name) != 0)
			continue;	/* named, or the database is busy */
		if (unlink(path) == 0) {
			files.disk -= st.st_size;
			files.nfiles--;
			log_info("event=file_deleted sha256=%.12s size=%lld "
			    "msg=\"no task needs it\"", de->d_name,
			    (long long)st.st_size);
		}
	}
	closedir(d);
}

/* Delete partial files nobody went on with. */
static void
files_sweep_partial(void)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 path[PATH_MAX];
	struct upload	*u, *next;
	time_t		 old = time(NULL) - FILES_PARTIAL_KEEP;
	double		 now = now_mono();

	for (u = files.uploads; u != NULL; u = next) {
		next = u->next;
		if (u->owner == NULL && now - u->touched > FILES_PARTIAL_KEEP)
			upload_discard(u);
	}
	snprintf(path, sizeof path, "%s/partial", files.dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!proto_sha256_ok(de->d_name) ||
		    upload_find(de->d_name) != NULL)
			continue;
		snprintf(path, sizeof path, "%s/partial/%s", files.dir,
		    de->d_name);
		if (stat(path, &st) == 0 && st.st_mtime < old &&
		    unlink(path) == 0)
			files.disk -= st.st_size;
	}
	closedir(d);
}

/* Once a second: sweep one of the 256 directories (all in ~4 minutes),
 * and the partial files once a round. */
void
files_tick(struct server *s)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%02x", files.dir, files.sweep);
	files_sweep_dir(s, path);
	if (++files.sweep == 256) {
		files.sweep = 0;
		files_sweep_partial();
	}
}

/* Close the store (at exit): partial files stay for the next start. */
void
files_stop(void)
{
	while (files.uploads != NULL)
		upload_free(files.uploads);
	free(files.dir);
	files.dir = NULL;
}
