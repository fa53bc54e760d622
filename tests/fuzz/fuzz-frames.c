/* SPDX-License-Identifier: ISC */
/*
 * fuzz-frames.c -- libFuzzer target for a session's stream of lines and
 * file frames (protocol/framing.c frame_next): the input is fed to an
 * evbuffer in pieces of varying size, exactly as a connection reads it;
 * every line is decoded, and a file_data line makes the reader take its
 * len raw bytes next.  Checks: raw bytes are never handed out past the
 * frame, never read as a line, and every byte of the input is accounted
 * for exactly once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "protocol.h"

#define FUZZ_LINE_MAX	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer		*in = evbuffer_new();
	struct frame_reader	 fr = { 0 };
	struct proto_err	 err;
	struct msg		 m;
	enum frame_kind		 k;
	char			*line;
	size_t			 len, fed = 0, used = 0, piece, buffered;
	int64_t			 before;

	while (fed < size || evbuffer_get_length(in) > 0) {
		/* Feed a piece whose size the data itself picks. */
		if (fed < size) {
			piece = 1 + (data[fed] % 97);
			if (piece > size - fed)
				piece = size - fed;
			evbuffer_add(in, data + fed, piece);
			fed += piece;
		}
		for (;;) {
			buffered = evbuffer_get_length(in);
			before = fr.raw_left;
			k = frame_next(&fr, in, FUZZ_LINE_MAX, &line, &len);
			if (k == FRAME_K_AGAIN)
				break;
			if (k == FRAME_K_TOO_LONG) {
				/* The session would be closed: drop it all. */
				used += buffered;
				evbuffer_drain(in, buffered);
				fr.raw_left = 0;
				break;
			}
			if (k == FRAME_K_RAW) {
				if (before <= 0 || len == 0 ||
				    (int64_t)len > before || len > buffered)
					abort();
				evbuffer_drain(in, len);
				frame_raw_done(&fr, len);
				used += len;
				if (fr.raw_left != before - (int64_t)len)
					abort();
				continue;
			}
			if (before != 0 || line == NULL)
				abort();	/* a line inside a frame */
			used += buffered - evbuffer_get_length(in);
			if (msg_decode(line, len, &m, &err) == 0) {
				if (m.type == MSG_FILE_DATA) {
					if (m.u.file.len < 0 || m.u.file.len >
					    PROTO_FILE_FRAME_MAX ||
					    m.u.file.offset + m.u.file.len >
					    m.u.file.size)
						abort();
					frame_expect_raw(&fr, m.u.file.len);
				}
				msg_free(&m);
			} else if (err.type == MSG_FILE_DATA) {
				/* Unreadable frame header: the session is
				 * closed, nothing more is read. */
				free(line);
				used += evbuffer_get_length(in);
				evbuffer_drain(in, evbuffer_get_length(in));
				used += size - fed;
				fed = size;
				break;
			}
			free(line);
		}
		if (fed == size && evbuffer_get_length(in) > 0 &&
		    frame_next(&fr, in, FUZZ_LINE_MAX, &line, &len) ==
		    FRAME_K_AGAIN) {
			/* A partial line or frame left at EOF. */
			used += evbuffer_get_length(in);
			evbuffer_drain(in, evbuffer_get_length(in));
		}
	}
	if (used != size)
		abort();
	evbuffer_free(in);
	return (0);
}
