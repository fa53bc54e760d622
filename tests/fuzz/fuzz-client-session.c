/* SPDX-License-Identifier: ISC */
/*
 * fuzz-client-session.c -- libFuzzer target: a main node's bytes as the
 * clients' blocking session reads them (dashboard-tui/client.c): lines
 * framed and decoded by client_next(), and after each `file_data` line
 * its raw bytes, taken with client_raw() or, when the input's first byte
 * says so, left for the next read to skip.  The bytes come through a
 * socketpair, as from a socket.  Checks that a frame never yields more
 * bytes than its line announced, that the count of bytes due never goes
 * below zero, and that the session ends (EOF) without a crash or a leak.
 */
#include <sys/socket.h>

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "protocol.h"
#include "../../dashboard-tui/client.h"

#define FUZZ_SESSION_MAX	(48 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client		 c;
	struct client_error	 err;
	struct msg		 m;
	enum client_result	 r;
	unsigned char		 buf[4096];
	int			 sv[2], bufsz = 256 * 1024, take, rounds = 0;
	int64_t			 due;
	size_t			 n, got;

	if (size < 1)
		return (0);
	if (size > FUZZ_SESSION_MAX)
		size = FUZZ_SESSION_MAX;
	take = data[0] & 1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return (0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
	if (write(sv[0], data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	close(sv[0]);

	memset(&c, 0, sizeof c);
	c.fd = sv[1];
	c.intr_fd = -1;
	c.addr = xstrdup("fuzz");
	c.timeout_ms = 1000;
	c.next_id = 1;
	if ((c.in = evbuffer_new()) == NULL)
		abort();
	fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);

	while (rounds++ < 100000) {
		r = client_next(&c, &m, 1000, &err);
		if (r != CLIENT_OK && r != CLIENT_REMOTE)
			break;
		if (r == CLIENT_REMOTE)
			continue;	/* a line we cannot read: go on */
		if (m.type == MSG_FILE_DATA) {
			due = m.u.file.len;
			if (c.raw_left != due || due < 0 ||
			    due > PROTO_FILE_FRAME_MAX)
				abort();
			got = 0;
			while (take && c.raw_left > 0) {
				if (client_raw(&c, buf, sizeof buf, &n,
				    &err) != CLIENT_OK)
					break;
				if (n == 0 || n > sizeof buf)
					abort();
				got += n;
			}
			if ((int64_t)got > due || c.raw_left < 0 ||
			    (int64_t)got + c.raw_left != due)
				abort();
		}
		msg_free(&m);
	}
	client_close(&c);
	return (0);
}
