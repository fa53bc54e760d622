/* SPDX-License-Identifier: ISC */
/*
 * web.c -- the web dashboard's files (main-node/web/), compiled into the
 * binary by the Makefile (main-node/web/embed.sh writes web_assets[]) and
 * served from memory at GET / by the HTTP side of the cluster port.
 */
#include <string.h>

#include "main.h"

/* The file served at path (its query string ignored), or NULL. */
const struct web_asset *
web_asset_find(const char *path)
{
	const struct web_asset	*a;
	size_t			 len;

	if (path == NULL)
		return (NULL);
	len = strcspn(path, "?#");
	if (len == sizeof "/index.html" - 1 &&
	    strncmp(path, "/index.html", len) == 0)
		len = 1;
	for (a = web_assets; a->path != NULL; a++) {
		if (strlen(a->path) == len && strncmp(a->path, path, len) == 0)
			return (a);
	}
	return (NULL);
}

/* The headers every dashboard file is served with (a NULL-ended list of
 * name, value pairs): a strict Content-Security-Policy (the page has no
 * inline script or style and talks only to its own origin) and no
 * framing or sniffing. */
const char *const *
web_headers(void)
{
	static const char *const headers[] = {
		"Content-Security-Policy", WEB_CSP,
		"X-Content-Type-Options", "nosniff",
		"X-Frame-Options", "DENY",
		"Referrer-Policy", "no-referrer",
		"Cache-Control", "no-cache",
		NULL
	};

	return (headers);
}
