/* SPDX-License-Identifier: ISC */
/*
 * fuzz-client-display.c -- libFuzzer target for what the clients make of
 * a main node's bytes: display_escape() and display_width()/display_fit()
 * (peer strings on a terminal), the task output filter fed in two chunks
 * split at a point the input chooses, client_json_budget() (the memory
 * check before a reply is parsed) and client_frame_read() (lines found by
 * searching each byte once).  Checks that escaped text is valid UTF-8 with
 * no control character, that filtered output holds no ESC outside a
 * colour sequence, that widths agree with fitting, and that framing gives
 * the same lines as frame_read_line().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "protocol.h"
#include "../../dashboard-tui/client.h"

#define FUZZ_MAX	(64 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* No byte a terminal would act on may survive escaping. */
static void
check_escaped(const char *e)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)e; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			abort();
		/* C1 controls as UTF-8 (U+0080..U+009F) must be gone. */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			abort();
	}
}

/* Filtered output: ESC only to start "ESC [ digits;: m". */
static void
check_filtered(const char *out, size_t len)
{
	size_t	i, j;

	for (i = 0; i < len; i++) {
		if ((unsigned char)out[i] != 0x1b)
			continue;
		if (i + 1 >= len || out[i + 1] != '[')
			abort();
		for (j = i + 2; j < len && out[j] != 'm'; j++) {
			if ((out[j] < '0' || out[j] > '9') && out[j] != ';' &&
			    out[j] != ':')
				abort();
		}
		if (j >= len)
			abort();
	}
}

/* Lines from client_frame_read fed in two reads vs frame_read_line, with a
 * cap of 4096 the inputs can reach (so the CR-at-the-cap case is met). */
static void
check_framing(const char *s, size_t size, size_t cut)
{
	struct evbuffer	*a = evbuffer_new(), *b = evbuffer_new();
	enum frame_result ra, rb;
	char		*la, *lb;
	size_t		 na, nb, scanned = 0;

	if (a == NULL || b == NULL)
		abort();
	evbuffer_add(a, s, size);
	evbuffer_add(b, s, cut);
	for (;;) {
		rb = client_frame_read(b, 4096, &scanned, &lb, &nb);
		if (rb == FRAME_AGAIN && cut < size) {
			evbuffer_add(b, s + cut, size - cut);
			cut = size;
			continue;
		}
		ra = frame_read_line(a, 4096, &la, &na);
		if (ra != rb)
			abort();
		if (ra != FRAME_OK)
			break;
		if (na != nb || memcmp(la, lb, na) != 0)
			abort();
		free(la);
		free(lb);
	}
	evbuffer_free(a);
	evbuffer_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct display_filter	 df;
	char			*s, *e, *out = NULL;
	size_t			 cut, n, len = 0;
	int			 used, w;
	FILE			*f;
	static int		 init;

	if (!init) {
		display_init();
		init = 1;
	}
	if (size > FUZZ_MAX)
		size = FUZZ_MAX;
	cut = size > 0 ? data[0] % (size + 1) : 0;
	if ((s = malloc(size + 1)) == NULL)
		return (0);
	memcpy(s, data, size);
	s[size] = '\0';

	e = display_escape(s);
	check_escaped(e);
	w = display_width(e);
	n = display_fit(e, w, &used);
	if (n != strlen(e) || used != w)
		abort();
	n = display_fit(e, w / 2, &used);
	if (used > w / 2 || n > strlen(e))
		abort();
	free(e);

	memset(&df, 0, sizeof df);
	if ((f = open_memstream(&out, &len)) == NULL)
		abort();
	display_filter_write(&df, f, (const char *)data, cut);
	display_filter_write(&df, f, (const char *)data + cut, size - cut);
	display_filter_end(&df, f);
	fclose(f);
	check_filtered(out, len);
	free(out);

	(void)client_json_budget(s, size);
	check_framing((const char *)data, size, cut);
	free(s);
	return (0);
}
