/* SPDX-License-Identifier: ISC */
/*
 * framing.c -- LF-delimited lines with a length cap, and the raw bytes of
 * file frames between them (PROTOCOL.md "Files").  A line may end in
 * CRLF (nc on some systems, telnet); the CR is dropped.  A peer that sends
 * more than the cap without a newline gets FRAME_TOO_LONG, so a connection
 * can never make us buffer without bound.
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "protocol.h"

/* 1 if the byte at pos in evb is a CR. */
static int
frame_is_cr(struct evbuffer *evb, size_t pos)
{
	struct evbuffer_ptr	ptr;
	char			c;

	if (evbuffer_ptr_set(evb, &ptr, pos, EVBUFFER_PTR_SET) != 0)
		return (0);
	if (evbuffer_copyout_from(evb, &ptr, &c, 1) != 1)
		return (0);
	return (c == '\r');
}

/*
 * Take one line from evb.  The cap applies to the line as returned (without
 * CR and LF), so a line of exactly max bytes followed by CRLF is accepted.
 */
enum frame_result
frame_read_line(struct evbuffer *evb, size_t max, char **line, size_t *len)
{
	struct evbuffer_ptr	 eol;
	size_t			 eol_len = 0, buffered, n, take;
	char			*buf;

	*line = NULL;
	*len = 0;
	buffered = evbuffer_get_length(evb);
	eol = evbuffer_search_eol(evb, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos == -1) {
		/* A partial line may still end in the CR of a CRLF. */
		if (buffered > max + 1)
			return (FRAME_TOO_LONG);
		if (buffered == max + 1 && !frame_is_cr(evb, buffered - 1))
			return (FRAME_TOO_LONG);
		return (FRAME_AGAIN);
	}

	take = (size_t)eol.pos;
	n = take;
	if (n > 0 && frame_is_cr(evb, n - 1))
		n--;
	if (n > max)
		return (FRAME_TOO_LONG);

	buf = xmalloc(take + 1);
	if (take > 0 && evbuffer_remove(evb, buf, take) != (int)take) {
		free(buf);
		return (FRAME_AGAIN);
	}
	evbuffer_drain(evb, eol_len);
	buf[n] = '\0';
	*line = buf;
	*len = n;
	return (FRAME_OK);
}

/*
 * The next item of a session: a line, or raw bytes of the file frame
 * being received.  While a frame has bytes left, nothing is read as a
 * line: the bytes at the buffer's front (at most raw_left) are the
 * frame's, and the caller drains them and calls frame_raw_done().
 */
enum frame_kind
frame_next(struct frame_reader *fr, struct evbuffer *evb, size_t max,
    char **line, size_t *len)
{
	size_t	n;

	*line = NULL;
	*len = 0;
	if (fr->raw_left > 0) {
		n = evbuffer_get_length(evb);
		if (n == 0)
			return (FRAME_K_AGAIN);
		if ((int64_t)n > fr->raw_left)
			n = (size_t)fr->raw_left;
		*len = n;
		return (FRAME_K_RAW);
	}
	switch (frame_read_line(evb, max, line, len)) {
	case FRAME_OK:
		return (FRAME_K_LINE);
	case FRAME_TOO_LONG:
		return (FRAME_K_TOO_LONG);
	default:
		return (FRAME_K_AGAIN);
	}
}

/* n raw bytes of the current frame were used. */
void
frame_raw_done(struct frame_reader *fr, size_t n)
{
	if ((int64_t)n >= fr->raw_left)
		fr->raw_left = 0;
	else
		fr->raw_left -= (int64_t)n;
}

/* A file_data line promised len raw bytes. */
void
frame_expect_raw(struct frame_reader *fr, int64_t len)
{
	fr->raw_left = len > 0 ? len : 0;
}

/* A frame's n bytes of file fd from off (protocol.h). */
struct evbuffer *
frame_read_file(int fd, int64_t off, size_t n)
{
	struct evbuffer		*b = evbuffer_new();
	struct evbuffer_iovec	 v[2];
	size_t			 got = 0, want;
	ssize_t			 r;
	int			 nv, i;

	if (n == 0)
		return (b);
	nv = evbuffer_reserve_space(b, (ev_ssize_t)n, v, 2);
	for (i = 0; i < nv && got < n; i++) {
		want = v[i].iov_len;
		if (want > n - got)
			want = n - got;
		v[i].iov_len = 0;
		while (v[i].iov_len < want) {
			r = pread(fd, (char *)v[i].iov_base + v[i].iov_len,
			    want - v[i].iov_len, off + (int64_t)got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				evbuffer_free(b);
				return (NULL);
			}
			v[i].iov_len += (size_t)r;
			got += (size_t)r;
		}
	}
	if (got != n || evbuffer_commit_space(b, v, i) != 0) {
		evbuffer_free(b);
		return (NULL);
	}
	return (b);
}

/* The first bytes of in as iovecs (protocol.h). */
int
frame_peek(struct evbuffer *in, size_t n, struct iovec *iov, int max,
    size_t *len)
{
	struct evbuffer_iovec	v[FRAME_IOV_MAX];
	size_t			take = 0;
	int			nv, i;

	if (max > FRAME_IOV_MAX)
		max = FRAME_IOV_MAX;
	nv = evbuffer_peek(in, (ev_ssize_t)n, NULL, v, max);
	if (nv > max)
		nv = max;
	for (i = 0; i < nv && take < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
		if (iov[i].iov_len > n - take)
			iov[i].iov_len = n - take;
		take += iov[i].iov_len;
	}
	*len = take;
	return (i);
}
