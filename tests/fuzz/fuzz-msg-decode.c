/* SPDX-License-Identifier: ISC */
/*
 * fuzz-msg-decode.c -- libFuzzer target for the wire front end: the input
 * is framed into lines on an evbuffer exactly as a connection's input is,
 * every line is decoded, every success is encoded, decoded again and
 * compared, and everything is freed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "protocol.h"

#define FUZZ_LINE_MAX	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Decode one line; on success check the encode/decode round trip. */
static void
fuzz_line(const char *line, size_t len)
{
	struct proto_err	 err;
	struct msg		 m, back;
	char			*out;
	size_t			 out_len;

	if (msg_decode(line, len, &m, &err) != 0) {
		if (err.code == PROTO_OK || err.message[0] == '\0')
			abort();
		return;
	}
	if (m.timestamp == NULL)
		m.timestamp = xstrdup("2026-11-22T10:31:00Z");
	out = msg_encode(&m, &out_len);
	if (out_len == 0 || out[out_len - 1] != '\n' ||
	    memchr(out, '\n', out_len - 1) != NULL)
		abort();
	if (msg_decode(out, out_len - 1, &back, &err) != 0)
		abort();	/* we wrote something we cannot read */
	if (!msg_equal(&m, &back))
		abort();
	msg_free(&back);
	msg_free(&m);
	free(out);
}

/* Frame the input into lines and check each one. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer		*evb;
	char			*line;
	size_t			 len;
	enum frame_result	 r;

	evb = evbuffer_new();
	evbuffer_add(evb, data, size);
	for (;;) {
		r = frame_read_line(evb, FUZZ_LINE_MAX, &line, &len);
		if (r == FRAME_OK) {
			fuzz_line(line, len);
			free(line);
			continue;
		}
		if (r == FRAME_TOO_LONG) {
			/* A connection would be closed; skip to the next LF. */
			struct evbuffer_ptr	p;

			p = evbuffer_search(evb, "\n", 1, NULL);
			if (p.pos == -1)
				break;
			evbuffer_drain(evb, (size_t)p.pos + 1);
			continue;
		}
		break;
	}
	/* What is left without a newline is decoded as a last line. */
	len = evbuffer_get_length(evb);
	if (len > 0 && len <= FUZZ_LINE_MAX) {
		line = xmalloc(len + 1);
		evbuffer_remove(evb, line, len);
		line[len] = '\0';
		fuzz_line(line, len);
		free(line);
	}
	evbuffer_free(evb);
	return (0);
}
