/* SPDX-License-Identifier: ISC */
/*
 * fuzz-sniff.c -- libFuzzer target for the first-byte dispatch of the
 * cluster port (main-node/sniff.c): any bytes classify, and more bytes
 * never undo a decision already made.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "main.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum sniff_kind	k, first = SNIFF_MORE;
	size_t		n;

	for (n = 0; n <= size && n <= 64; n++) {
		k = sniff_classify(data, n);
		if ((int)k < SNIFF_MORE || (int)k > SNIFF_TLS)
			abort();
		if (first != SNIFF_MORE && k != first)
			abort();	/* a decision must stick */
		if (first == SNIFF_MORE && k != SNIFF_MORE)
			first = k;
		/* Eight bytes always decide, unless all are blanks. */
		if (n >= 8 && k == SNIFF_MORE) {
			size_t i;

			for (i = 0; i < n; i++) {
				if (data[i] != ' ' && data[i] != '\t' &&
				    data[i] != '\r' && data[i] != '\n')
					abort();
			}
		}
	}
	return (0);
}
