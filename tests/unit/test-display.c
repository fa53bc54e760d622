/* SPDX-License-Identifier: ISC */
/*
 * test-display.c -- peer strings on a terminal (dashboard-tui/display.c):
 * what is escaped and how, display widths of UTF-8, fitting a string into
 * columns, and the task output filter (colour passes, other escape
 * sequences do not, sequences cut by a chunk boundary are carried over).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"
#include "../../dashboard-tui/client.h"

/* Escaping: input -> what a terminal gets. */
static void
test_escape(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "plain w1", "plain w1" },
		{ "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "caf\xc3\xa9 "
		    "\xe6\x97\xa5\xe6\x9c\xac" },
		{ "a\x1b]0;pwned\x07" "b", "a\\x1b]0;pwned\\x07b" },
		{ "line\nbreak\ttab\rcr", "line\\x0abreak\\x09tab\\x0dcr" },
		{ "del\x7f", "del\\x7f" },
		{ "c1\xc2\x9b" "2J", "c1\\u009b2J" },		/* CSI */
		{ "\xe2\x80\xae" "cba", "\\u202ecba" },	/* RTL override */
		{ "w\xe2\x80\x8b" "1", "w\\u200b1" },		/* zero width */
		{ "bom\xef\xbb\xbf", "bom\\ufeff" },
		{ "bad\xff\xfe", "bad\\xff\\xfe" },		/* not UTF-8 */
		{ "cut\xe6\x97", "cut\\xe6\\x97" },		/* cut off */
		{ "over\xc0\xaf", "over\\xc0\\xaf" },		/* overlong */
		{ "sur\xed\xa0\x80", "sur\\xed\\xa0\\x80" },	/* surrogate */
		{ "emoji \xf0\x9f\x98\x80", "emoji \xf0\x9f\x98\x80" },
		{ "", "" },
	};
	char	*got, buf[8];
	size_t	 i;

	display_init();
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = display_escape(cases[i].in);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("case %zu: got \"%s\", expected \"%s\"", i,
			    got, cases[i].out);
		free(got);
	}
	assert_null(display_escape(NULL));
	/* Into a small buffer: cut at a character boundary. */
	assert_string_equal(display_escape_buf("ab\xc3\xa9\xc3\xa9", buf,
	    sizeof buf), "ab\xc3\xa9\xc3\xa9");
	assert_string_equal(display_escape_buf("abcd\xc3\xa9\xc3\xa9", buf,
	    sizeof buf), "abcd\xc3\xa9");
}

/* Widths in terminal columns, and fitting into a number of them. */
static void
test_width(void **state)
{
	int	used;

	display_init();
	assert_int_equal(display_width("w1"), 2);
	assert_int_equal(display_width("caf\xc3\xa9"), 4);
	assert_int_equal(display_width("\xe6\x97\xa5\xe6\x9c\xac"), 4);
	assert_int_equal(display_width("e\xcc\x81"), 1);	/* combining */
	assert_int_equal(display_width("\\x1b"), 4);
	assert_int_equal(display_width(""), 0);

	assert_int_equal(display_fit("abcdef", 4, &used), 4);
	assert_int_equal(used, 4);
	/* A wide character that would straddle the edge stays out. */
	assert_int_equal(display_fit("a\xe6\x97\xa5\xe6\x9c\xac", 4, &used),
	    4);
	assert_int_equal(used, 3);
	assert_int_equal(display_fit("abc", 10, &used), 3);
	assert_int_equal(used, 3);
}

/* Run chunks through a filter; return what the terminal got. */
static char *
filter(const char * const *chunks)
{
	struct display_filter	 df;
	char			*buf = NULL;
	size_t			 len = 0;
	FILE			*fp;

	memset(&df, 0, sizeof df);
	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	for (; *chunks != NULL; chunks++)
		display_filter_write(&df, fp, *chunks, strlen(*chunks));
	display_filter_end(&df, fp);
	fclose(fp);
	return (buf);
}

/* The task output filter for terminals. */
static void
test_filter(void **state)
{
	static const struct {
		const char	*chunks[5];
		const char	*out;
	} cases[] = {
		{ { "hello\n", "world\r\n", NULL }, "hello\nworld\r\n" },
		{ { "\x1b[1;31mred\x1b[0m\ttab\n", NULL },
		  "\x1b[1;31mred\x1b[0m\ttab\n" },
		/* Colour split over chunks still passes. */
		{ { "a\x1b[3", "2mgreen\x1b", "[m\n", NULL },
		  "a\x1b[32mgreen\x1b[m\n" },
		/* Anything else is shown, not obeyed. */
		{ { "\x1b[2Jclear\x1b]0;title\x07\n", NULL },
		  "\\x1b[2Jclear\\x1b]0;title\\x07\n" },
		{ { "bell\x07 bs\x08\n", NULL }, "bell\\x07 bs\\x08\n" },
		/* UTF-8 split over chunks, and bad bytes. */
		{ { "caf\xc3", "\xa9 ok\xff\n", NULL }, "caf\xc3\xa9 ok\\xff\n" },
		{ { "\xe2\x80", "\xae" "x\n", NULL }, "\\u202ex\n" },
		/* A sequence still open at the end is shown as it is. */
		{ { "end\x1b[31", NULL }, "end\\x1b[31" },
		{ { "end\xe6\x97", NULL }, "end\\xe6\\x97" },
	};
	char	*got;
	size_t	 i;

	display_init();
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = filter(cases[i].chunks);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("case %zu: got \"%s\"", i, got);
		free(got);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_filter),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
