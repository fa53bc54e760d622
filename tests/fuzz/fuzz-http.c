/* SPDX-License-Identifier: ISC */
/*
 * fuzz-http.c -- libFuzzer target for the HTTP request head parser
 * (main-node/http-parse.c) and its query reader: any bytes parse or are
 * refused, never read out of bounds, and what parses is consistent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req		 r;
	enum http_parse_result	 pr;
	const char		*why;
	char			*v;
	size_t			 used, i;

	pr = http_parse_head((const char *)data, size, &r, &used, &why);
	if (pr == HTTP_PARSE_OK) {
		if (used == 0 || used > size || r.path == NULL ||
		    r.path[0] == '\0' || r.nheaders > HTTP_HEADERS_MAX)
			abort();
		for (i = 0; i < r.nheaders; i++) {
			if (http_header(&r, r.headers[i].key) == NULL)
				abort();
		}
		if (r.query != NULL) {
			for (i = 0; i < 4; i++) {
				v = http_query_get(r.query, "state", (int)i);
				free(v);
			}
			free(http_query_get(r.query, "after", 0));
		}
		http_req_free(&r);
	} else if (pr != HTTP_PARSE_MORE && why == NULL &&
	    pr != HTTP_PARSE_TOO_BIG)
		abort();
	return (0);
}
