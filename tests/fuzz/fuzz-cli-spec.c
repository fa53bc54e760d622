/* SPDX-License-Identifier: ISC */
/*
 * fuzz-cli-spec.c -- libFuzzer target: the input as the value of
 * `encore submit --array` and of `--after` (dashboard-tui/cli-spec.c).
 * Checks that an accepted array is one the main node accepts too (start
 * <= end, step >= 1, at most PROTO_ARRAY_MAX elements, indexes and limit
 * in range) and that a refused one always says why; that --after yields
 * only non-empty ids of the allowed characters; and that nothing leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dashboard-tui/cli.h"

#define FUZZ_SPEC_MAX	512

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_task	 t;
	char			*spec, *cause = NULL, **ids = NULL;
	size_t			 i, n = 0;
	int			 rc;

	if (size > FUZZ_SPEC_MAX)
		size = FUZZ_SPEC_MAX;
	spec = malloc(size + 1);
	if (spec == NULL)
		return (0);
	memcpy(spec, data, size);
	spec[size] = '\0';	/* argv hands over a C string */

	memset(&t, 0, sizeof t);
	t.array_end = -1;
	rc = cli_array_parse(spec, &t, &cause);
	if (rc == 0) {
		if (cause != NULL || t.array_start < 0 || t.array_step < 1 ||
		    t.array_start > t.array_end ||
		    t.array_end > PROTO_ARRAY_INDEX_MAX ||
		    (t.array_end - t.array_start) / t.array_step + 1 >
		    PROTO_ARRAY_MAX || t.array_limit < 0 ||
		    t.array_limit > PROTO_ARRAY_MAX)
			abort();
	} else if (rc != -1 || cause == NULL || *cause == '\0')
		abort();
	free(cause);
	cause = NULL;

	rc = cli_deps_parse("after", spec, &ids, &n, &cause);
	if (rc == 0 && cause != NULL)
		abort();
	if (rc != 0 && (cause == NULL || *cause == '\0'))
		abort();
	if (n > PROTO_LIST_MAX)
		abort();
	for (i = 0; i < n; i++) {
		if (*ids[i] == '\0' || strlen(ids[i]) > PROTO_ID_MAX ||
		    strspn(ids[i], "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		    strlen(ids[i]))
			abort();
		free(ids[i]);
	}
	free(ids);
	free(cause);
	free(spec);
	return (0);
}
