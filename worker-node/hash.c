/* SPDX-License-Identifier: ISC */
/*
 * hash.c -- SHA-256 of the worker's files, and hashing a file from the
 * loop a slice at a time.
 *
 * The digest is OpenSSL's (libcrypto): one well-known implementation,
 * whose assembly uses the CPU's SHA instructions where it has them (x86
 * SHA-NI, ARMv8 crypto extensions), 1.6 GB/s on one core of the machine
 * the README's figures come from, where Mbed TLS's C one, which the
 * worker has for its TLS, does 0.3.  It uses the SHA256_* functions
 * rather than EVP: they need no provider, so the worker links them from
 * libcrypto's static archive (the Makefile's WORKER_SHA) and gets those
 * few objects only, none of OpenSSL's start-up (README, Dependencies).
 * SHA256_* is deprecated in OpenSSL 3 but kept; should it go, Mbed
 * TLS's mbedtls_sha256 is the way that keeps the worker small.
 *
 * A file of gigabytes is hashed a slice (HASH_SLICE bytes, or HASH_SLICE_MS
 * of work) per turn of the loop, so heartbeats, transfers and other tasks
 * go on while a slow device hashes a big output; the same pass can copy
 * the bytes to another file (a checkpoint taken into the cache).
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/sha.h>

#include "protocol.h"
#include "worker.h"

#define HASH_BUF	(256 * 1024)	/* bytes read at once */
#define HASH_SLICE	(16 * 1024 * 1024)	/* bytes per loop turn, at most */
#define HASH_SLICE_MS	20		/* ms of work per loop turn, at most */

/* A running SHA-256. */
struct hash {
	SHA256_CTX	ctx;
};

/*
 * A file being hashed from the loop: bytes off.. of fd (to its end, or
 * left of them) into h, and copied to out_fd when it is not -1.  buf is
 * owned; fd, out_fd and h are the caller's.
 */
struct hash_job {
	int		 fd;
	int		 out_fd;
	int64_t		 off;
	int64_t		 out_off;
	int64_t		 left;		/* -1: to the end of the file */
	int64_t		 done_bytes;
	struct hash	*h;
	char		*buf;
	struct event	*ev;
	void		(*done)(void *, int, int64_t);
	void		*arg;
};

/* A new hash, ready for bytes. */
struct hash *
hash_new(void)
{
	struct hash	*h = xcalloc(1, sizeof *h);

	SHA256_Init(&h->ctx);
	return (h);
}

/* Start again from no bytes. */
void
hash_reset(struct hash *h)
{
	SHA256_Init(&h->ctx);
}

/* Add bytes. */
void
hash_update(struct hash *h, const void *data, size_t len)
{
	SHA256_Update(&h->ctx, data, len);
}

/* The digest so far as 64 lowercase hex digits into hex; h is then reset. */
void
hash_final(struct hash *h, char *hex)
{
	static const char	digits[] = "0123456789abcdef";
	unsigned char		md[SHA256_DIGEST_LENGTH];
	int			i;

	SHA256_Final(md, &h->ctx);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * SHA256_DIGEST_LENGTH] = '\0';
	SHA256_Init(&h->ctx);
}

void
hash_free(struct hash *h)
{
	free(h);
}

/* Write all of buf at off; 0 or an errno. */
static int
hash_pwrite_all(int fd, const char *buf, size_t len, int64_t off)
{
	ssize_t	n;

	while (len > 0) {
		n = pwrite(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (n < 0 ? errno : EIO);
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return (0);
}

/* Free a job and report its end. */
static void
hash_job_end(struct hash_job *j, int err)
{
	void	(*done)(void *, int, int64_t) = j->done;
	void	*arg = j->arg;
	int64_t	 n = j->done_bytes;

	hash_job_cancel(j);
	done(arg, err, n);
}

/* One slice of a job. */
static void
hash_job_cb(evutil_socket_t fd, short events, void *arg)
{
	struct hash_job	*j = arg;
	double		 start = worker_now();
	int64_t		 slice = 0;
	size_t		 want;
	ssize_t		 n;
	int		 err;

	while (slice < HASH_SLICE) {
		want = HASH_BUF;
		if (j->left >= 0 && (int64_t)want > j->left)
			want = (size_t)j->left;
		if (want == 0) {
			hash_job_end(j, 0);
			return;
		}
		n = pread(j->fd, j->buf, want, j->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			hash_job_end(j, errno);
			return;
		}
		if (n == 0) {
			/* The end of the file: short only if a length was
			 * promised. */
			hash_job_end(j, j->left > 0 ? EIO : 0);
			return;
		}
		hash_update(j->h, j->buf, (size_t)n);
		if (j->out_fd != -1 && (err = hash_pwrite_all(j->out_fd,
		    j->buf, (size_t)n, j->out_off)) != 0) {
			hash_job_end(j, err);
			return;
		}
		j->off += n;
		j->out_off += n;
		j->done_bytes += n;
		if (j->left > 0)
			j->left -= n;
		slice += n;
		if ((worker_now() - start) * 1000 > HASH_SLICE_MS)
			break;
	}
	event_active(j->ev, EV_TIMEOUT, 0);
}

/*
 * Hash fd from off: len bytes (-1: to its end) into h, copying them to
 * out_fd (from its offset 0) unless it is -1.  done(arg, err, bytes) is
 * called from the loop once, err 0 or an errno (EIO: the file was shorter
 * than len).  The job frees itself before done runs.
 */
struct hash_job *
hash_job_start(int fd, int64_t off, int64_t len, struct hash *h, int out_fd,
    void (*done)(void *, int, int64_t), void *arg)
{
	struct hash_job	*j = xcalloc(1, sizeof *j);

	j->fd = fd;
	j->out_fd = out_fd;
	j->off = off;
	j->left = len;
	j->h = h;
	j->buf = xmalloc(HASH_BUF);
	j->done = done;
	j->arg = arg;
	j->ev = event_new(worker_base, -1, 0, hash_job_cb, j);
	event_active(j->ev, EV_TIMEOUT, 0);
	return (j);
}

/* Stop a job; done is not called. */
void
hash_job_cancel(struct hash_job *j)
{
	if (j == NULL)
		return;
	event_free(j->ev);
	free(j->buf);
	free(j);
}
