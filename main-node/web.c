/* SPDX-License-Identifier: ISC */
/*
 * web.c -- the web dashboard's files, compiled into encore-main.  (The
 * dashboard itself is being written; until then `/` explains where the
 * API is.)
 */
#include <string.h>

#include "main.h"

static const char web_index[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>encore</title></head><body><h1>encore</h1>"
    "<p>The JSON API is under <a href=\"/api/v1/status\">/api/v1/</a>; "
    "Prometheus scrapes <a href=\"/metrics\">/metrics</a>.</p>"
    "</body></html>\n";

static const struct web_asset web_assets[] = {
	{ "/", "text/html; charset=utf-8", (const unsigned char *)web_index,
	  sizeof web_index - 1 },
};

/* The file served at path, or NULL. */
const struct web_asset *
web_asset_find(const char *path)
{
	size_t	i;

	for (i = 0; i < sizeof web_assets / sizeof web_assets[0]; i++) {
		if (strcmp(web_assets[i].path, path) == 0)
			return (&web_assets[i]);
	}
	return (NULL);
}
