/* SPDX-License-Identifier: ISC */
/*
 * fuzz-journal.c -- libFuzzer target: the input as the worker's run
 * journal (STATE/run/journal, worker-node/journal.c), as a crash or a
 * power cut may leave it.  Checks that every open entry has a non-empty
 * key without a tab or newline, that its record starts with "+ KEY", that
 * no key is open twice, and that decoding any record in place never
 * grows it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "../../worker-node/worker.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_entry	*v;
	size_t			 n, i, j, len;
	char			*copy, enc[512];

	v = journal_parse((const char *)data, size, &n);
	for (i = 0; i < n; i++) {
		len = strlen(v[i].key);
		if (len == 0 || strpbrk(v[i].key, "\t\n") != NULL)
			abort();
		if (strncmp(v[i].rec, "+ ", 2) != 0 ||
		    strncmp(v[i].rec + 2, v[i].key, len) != 0)
			abort();
		for (j = i + 1; j < n; j++) {
			if (strcmp(v[i].key, v[j].key) == 0)
				abort();
		}
		copy = strdup(v[i].rec);
		if (copy == NULL)
			abort();
		journal_dec(copy);
		if (strlen(copy) > strlen(v[i].rec))
			abort();
		/* Encoding leaves no byte the format gives a meaning to. */
		journal_enc(copy, enc, sizeof enc);
		if (strpbrk(enc, "\t\n") != NULL)
			abort();
		free(copy);
	}
	journal_free(v, n);
	return (0);
}
