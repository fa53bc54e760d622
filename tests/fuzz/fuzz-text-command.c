/* SPDX-License-Identifier: ISC */
/*
 * fuzz-text-command.c -- libFuzzer target: the input as the first line of
 * a text-export connection (`echo devices | nc MAIN 7070`), parsed by
 * export_parse() exactly as export_text() does.  Checks that the result
 * is always one of the known verbs and formats, that the logged word is
 * a bounded C string, and that parsing is deterministic.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"

#define FUZZ_LINE_MAX	(CONN_TEXT_LINE * 4)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct export_cmd	 a, b;
	char			*line;
	int			 ra, rb;

	if (size > FUZZ_LINE_MAX)
		size = FUZZ_LINE_MAX;
	line = malloc(size + 1);
	if (line == NULL)
		return (0);
	memcpy(line, data, size);
	line[size] = '\0';	/* the server hands over a C string */

	ra = export_parse(line, &a);
	if (a.verb < EXPORT_UNKNOWN || a.verb > EXPORT_METRICS)
		abort();
	if (a.fmt < EXPORT_FMT_HUMAN || a.fmt > EXPORT_FMT_TSV)
		abort();
	if ((ra == 0) != (a.verb != EXPORT_UNKNOWN))
		abort();
	if (memchr(a.word, '\0', sizeof a.word) == NULL)
		abort();
	if (strpbrk(a.word, " \t\r\n") != NULL)
		abort();
	/* Only the table commands take a format. */
	if (a.fmt != EXPORT_FMT_HUMAN && a.verb != EXPORT_DEVICES &&
	    a.verb != EXPORT_TASKS && a.verb != EXPORT_QUEUE)
		abort();

	rb = export_parse(line, &b);
	if (ra != rb || a.verb != b.verb || a.fmt != b.fmt ||
	    strcmp(a.word, b.word) != 0)
		abort();
	free(line);
	return (0);
}
