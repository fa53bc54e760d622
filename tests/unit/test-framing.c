/* SPDX-License-Identifier: ISC */
/*
 * test-framing.c -- frame_read_line(): LF and CRLF endings, partial lines,
 * empty lines, the length cap at exactly max and max + 1 bytes, and bytes
 * that arrive one at a time.
 */
#include <sys/uio.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "protocol.h"

/* Take a line that must be there and compare it. */
static void
expect_line(struct evbuffer *evb, size_t max, const char *want,
    size_t want_len)
{
	char	*line;
	size_t	 len;

	assert_int_equal(frame_read_line(evb, max, &line, &len), FRAME_OK);
	assert_non_null(line);
	assert_int_equal(len, want_len);
	assert_memory_equal(line, want, want_len);
	assert_int_equal(line[len], '\0');
	free(line);
}

/* Check there is no complete line. */
static void
expect_result(struct evbuffer *evb, size_t max, enum frame_result want)
{
	char	*line = (char *)1;
	size_t	 len = 1;

	assert_int_equal(frame_read_line(evb, max, &line, &len), want);
	assert_null(line);
	assert_int_equal(len, 0);
}

/* LF lines come out one at a time, without the LF. */
static void
test_lf_lines(void **state)
{
	struct evbuffer	*evb = evbuffer_new();

	evbuffer_add_printf(evb, "{\"a\":1}\n{\"b\":2}\nrest");
	expect_line(evb, 100, "{\"a\":1}", 7);
	expect_line(evb, 100, "{\"b\":2}", 7);
	expect_result(evb, 100, FRAME_AGAIN);
	assert_int_equal(evbuffer_get_length(evb), 4);
	evbuffer_add_printf(evb, "\n");
	expect_line(evb, 100, "rest", 4);
	expect_result(evb, 100, FRAME_AGAIN);
	assert_int_equal(evbuffer_get_length(evb), 0);
	evbuffer_free(evb);
}

/* CRLF loses its CR; a lone CR inside a line is kept. */
static void
test_crlf(void **state)
{
	struct evbuffer	*evb = evbuffer_new();

	evbuffer_add_printf(evb, "status\r\na\rb\n\r\n\r\r\n");
	expect_line(evb, 100, "status", 6);
	expect_line(evb, 100, "a\rb", 3);
	expect_line(evb, 100, "", 0);
	expect_line(evb, 100, "\r", 1);
	expect_result(evb, 100, FRAME_AGAIN);
	evbuffer_free(evb);
}

/* Empty lines are lines of length 0. */
static void
test_empty_lines(void **state)
{
	struct evbuffer	*evb = evbuffer_new();

	evbuffer_add(evb, "\n\nx\n", 4);
	expect_line(evb, 10, "", 0);
	expect_line(evb, 10, "", 0);
	expect_line(evb, 10, "x", 1);
	expect_result(evb, 10, FRAME_AGAIN);
	evbuffer_free(evb);
}

/* A line that trickles in a byte at a time. */
static void
test_partial(void **state)
{
	struct evbuffer	*evb = evbuffer_new();
	const char	*s = "{\"message_type\":\"bye\"}\r\n";
	size_t		 i, n = strlen(s);

	for (i = 0; i < n - 1; i++) {
		evbuffer_add(evb, s + i, 1);
		expect_result(evb, 64, FRAME_AGAIN);
	}
	evbuffer_add(evb, s + n - 1, 1);
	expect_line(evb, 64, s, n - 2);
	evbuffer_free(evb);
}

/* Exactly max bytes is fine, max + 1 is too long (with LF or CRLF). */
static void
test_limits(void **state)
{
	struct evbuffer	*evb = evbuffer_new();
	char		 buf[32];
	const size_t	 max = 16;

	memset(buf, 'x', sizeof buf);

	/* max bytes + LF */
	evbuffer_add(evb, buf, max);
	expect_result(evb, max, FRAME_AGAIN);
	evbuffer_add(evb, "\n", 1);
	expect_line(evb, max, buf, max);

	/* max bytes + CR, LF still to come: not yet too long */
	evbuffer_add(evb, buf, max);
	evbuffer_add(evb, "\r", 1);
	expect_result(evb, max, FRAME_AGAIN);
	evbuffer_add(evb, "\n", 1);
	expect_line(evb, max, buf, max);

	/* max + 1 bytes without LF: too long, left in place */
	evbuffer_add(evb, buf, max + 1);
	expect_result(evb, max, FRAME_TOO_LONG);
	assert_int_equal(evbuffer_get_length(evb), max + 1);
	evbuffer_drain(evb, max + 1);

	/* max + 1 bytes with LF: too long */
	evbuffer_add(evb, buf, max + 1);
	evbuffer_add(evb, "\n", 1);
	expect_result(evb, max, FRAME_TOO_LONG);
	assert_int_equal(evbuffer_get_length(evb), max + 2);
	evbuffer_drain(evb, max + 2);

	/* max + 1 bytes + CRLF: too long */
	evbuffer_add(evb, buf, max + 1);
	evbuffer_add(evb, "\r\n", 2);
	expect_result(evb, max, FRAME_TOO_LONG);
	evbuffer_drain(evb, evbuffer_get_length(evb));

	/* max + 2 bytes, the last a CR, no LF: too long */
	evbuffer_add(evb, buf, max + 1);
	evbuffer_add(evb, "\r", 1);
	expect_result(evb, max, FRAME_TOO_LONG);
	evbuffer_drain(evb, evbuffer_get_length(evb));

	/* A short line before a long tail still comes out first. */
	evbuffer_add(evb, "ok\n", 3);
	evbuffer_add(evb, buf, sizeof buf);
	expect_line(evb, max, "ok", 2);
	expect_result(evb, max, FRAME_TOO_LONG);
	evbuffer_free(evb);
}

/* The default cap works on a real-size line. */
static void
test_line_max(void **state)
{
	struct evbuffer	*evb = evbuffer_new();
	char		*big = xmalloc(PROTO_LINE_MAX + 1);

	memset(big, 'y', PROTO_LINE_MAX + 1);
	evbuffer_add(evb, big, PROTO_LINE_MAX);
	evbuffer_add(evb, "\n", 1);
	expect_line(evb, PROTO_LINE_MAX, big, PROTO_LINE_MAX);
	evbuffer_add(evb, big, PROTO_LINE_MAX + 1);
	expect_result(evb, PROTO_LINE_MAX, FRAME_TOO_LONG);
	free(big);
	evbuffer_free(evb);
}

/* NUL bytes pass through framing (decode refuses them). */
static void
test_embedded_nul(void **state)
{
	struct evbuffer	*evb = evbuffer_new();

	evbuffer_add(evb, "a\0b\n", 4);
	expect_line(evb, 10, "a\0b", 3);
	evbuffer_free(evb);
}

/* Run the framing tests. */
/* Lines and raw frame bytes interleave: a frame's bytes are never read
 * as a line, however they arrive. */
static void
test_raw_frames(void **state)
{
	struct evbuffer		*in = evbuffer_new();
	struct frame_reader	 fr = { 0 };
	char			*line;
	size_t			 len;

	evbuffer_add_printf(in, "head\nab\ncd");
	assert_int_equal(frame_next(&fr, in, 100, &line, &len), FRAME_K_LINE);
	assert_string_equal(line, "head");
	free(line);
	frame_expect_raw(&fr, 4);
	/* "ab\nc": four raw bytes, the LF inside is data. */
	assert_int_equal(frame_next(&fr, in, 100, &line, &len), FRAME_K_RAW);
	assert_int_equal(len, 4);
	evbuffer_drain(in, 3);
	frame_raw_done(&fr, 3);
	assert_int_equal(frame_next(&fr, in, 100, &line, &len), FRAME_K_RAW);
	assert_int_equal(len, 1);
	evbuffer_drain(in, 1);
	frame_raw_done(&fr, 1);
	/* "d" is the start of the next line. */
	assert_int_equal(frame_next(&fr, in, 100, &line, &len), FRAME_K_AGAIN);
	evbuffer_add_printf(in, "\n");
	assert_int_equal(frame_next(&fr, in, 100, &line, &len), FRAME_K_LINE);
	assert_string_equal(line, "d");
	free(line);
	/* A frame waits for its bytes; an empty frame takes none. */
	frame_expect_raw(&fr, 2);
	assert_int_equal(frame_next(&fr, in, 100, &line, &len), FRAME_K_AGAIN);
	frame_expect_raw(&fr, 0);
	assert_int_equal(frame_next(&fr, in, 100, &line, &len), FRAME_K_AGAIN);
	evbuffer_free(in);
}

/* Names of task files stay inside the working directory. */
static void
test_file_names(void **state)
{
	static const char *good[] = { "a", "data/in.csv", "a b/c", ".hidden",
	    "..x", "x..", "é/ü", NULL };
	static const char *bad[] = { "", "/etc/passwd", "..", "../x", "a/..",
	    "a/../b", "./a", "a//b", "a/", "a\nb", "a\tb", NULL };
	const char	*why;
	char		 long_name[PROTO_FILE_NAME_MAX + 2];
	int		 i;

	for (i = 0; good[i] != NULL; i++)
		assert_true(proto_file_name_ok(good[i], NULL));
	for (i = 0; bad[i] != NULL; i++) {
		why = NULL;
		assert_false(proto_file_name_ok(bad[i], &why));
		assert_non_null(why);
	}
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	assert_false(proto_file_name_ok(long_name, NULL));
	long_name[PROTO_FILE_NAME_MAX] = '\0';
	assert_true(proto_file_name_ok(long_name, NULL));
	assert_true(proto_sha256_ok("0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef"));
	assert_false(proto_sha256_ok("0123456789ABCDEF0123456789abcdef"
	    "0123456789abcdef0123456789abcdef"));
	assert_false(proto_sha256_ok("0123456789abcdef"));
	assert_false(proto_sha256_ok(NULL));
}

/* A frame's bytes in several chains: frame_peek points at n of them at
 * most, cuts the last iovec, copies nothing; frame_read_file reads a
 * frame back from a file, and fails on a short file. */
static void
test_frame_peek_and_read(void **state)
{
	struct evbuffer	*in = evbuffer_new(), *b;
	struct iovec	 iov[FRAME_IOV_MAX];
	char		 path[] = "/tmp/test-framing-XXXXXX", got[32];
	size_t		 len;
	int		 n, fd;

	(void)state;
	evbuffer_add_reference(in, "hello ", 6, NULL, NULL);
	evbuffer_add_reference(in, "frame ", 6, NULL, NULL);
	evbuffer_add_reference(in, "bytes", 5, NULL, NULL);
	n = frame_peek(in, 9, iov, FRAME_IOV_MAX, &len);
	assert_int_equal(n, 2);
	assert_int_equal(len, 9);
	assert_int_equal(iov[1].iov_len, 3);
	assert_memory_equal(iov[1].iov_base, "fra", 3);
	n = frame_peek(in, 100, iov, 2, &len);	/* at most 2 iovecs */
	assert_int_equal(n, 2);
	assert_int_equal(len, 12);
	n = frame_peek(in, 100, iov, FRAME_IOV_MAX, &len);
	assert_int_equal(n, 3);
	assert_int_equal(len, 17);
	assert_int_equal(evbuffer_get_length(in), 17);	/* nothing drained */
	evbuffer_free(in);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	b = frame_read_file(fd, 3, 5);
	assert_non_null(b);
	assert_int_equal(evbuffer_get_length(b), 5);
	evbuffer_remove(b, got, sizeof got);
	assert_memory_equal(got, "34567", 5);
	evbuffer_free(b);
	assert_null(frame_read_file(fd, 8, 5));		/* past the end */
	b = frame_read_file(fd, 0, 0);
	assert_int_equal(evbuffer_get_length(b), 0);
	evbuffer_free(b);
	close(fd);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lf_lines),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_empty_lines),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_line_max),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_raw_frames),
		cmocka_unit_test(test_frame_peek_and_read),
		cmocka_unit_test(test_file_names),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
