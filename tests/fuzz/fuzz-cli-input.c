/* SPDX-License-Identifier: ISC */
/*
 * fuzz-cli-input.c -- libFuzzer target: the input as the value of `encore
 * submit --input PATH[:NAME]` (cli_input_split) and as a PATH whose
 * default name is wanted (cli_input_default_name), both in
 * dashboard-tui/cli-spec.c.  Checks that an accepted value gives a
 * non-empty PATH and a NAME the main node takes (proto_file_name_ok), that
 * PATH[:NAME] is what came in (trailing '/' of NAME aside), that a refused
 * one always says why, that a default name is a safe one, and that
 * nothing leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dashboard-tui/cli.h"

#define FUZZ_INPUT_MAX	2048

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*spec, *path = NULL, *name = NULL, *cause = NULL, *dflt;
	size_t	 plen;
	int	 rc;

	if (size > FUZZ_INPUT_MAX)
		size = FUZZ_INPUT_MAX;
	spec = malloc(size + 1);
	if (spec == NULL)
		return (0);
	memcpy(spec, data, size);
	spec[size] = '\0';	/* argv hands over a C string */

	rc = cli_input_split(spec, &path, &name, &cause);
	if (rc == 0) {
		if (cause != NULL || path == NULL || *path == '\0')
			abort();
		plen = strlen(path);
		if (strncmp(spec, path, plen) != 0)
			abort();
		if (name != NULL) {
			if (!proto_file_name_ok(name, NULL))
				abort();
			if (spec[plen] != ':' || strncmp(spec + plen + 1, name,
			    strlen(name)) != 0 ||
			    strspn(spec + plen + 1 + strlen(name), "/") !=
			    strlen(spec + plen + 1 + strlen(name)))
				abort();
		} else if (spec[plen] != '\0' && strcmp(spec + plen, ":") != 0 &&
		    strspn(spec + plen + 1, "/") != strlen(spec + plen + 1))
			abort();
	} else if (rc != -1 || cause == NULL || *cause == '\0' ||
	    path != NULL || name != NULL)
		abort();
	free(path);
	free(name);
	free(cause);

	if ((dflt = cli_input_default_name(spec)) != NULL) {
		if (!proto_file_name_ok(dflt, NULL) || strchr(dflt, '/') != NULL)
			abort();
		free(dflt);
	}
	free(spec);
	return (0);
}
