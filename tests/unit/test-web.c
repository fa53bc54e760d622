/* SPDX-License-Identifier: ISC */
/*
 * test-web.c -- the dashboard's files compiled into encore-main
 * (main-node/web.c and the table the Makefile generates): each is found
 * at its path with its content type, byte for byte as in main-node/web/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../main-node/main.h"

/* The file's bytes from the source tree ($ENCORE_SRC). */
static char *
slurp(const char *rel, size_t *len)
{
	const char	*src = getenv("ENCORE_SRC");
	char		 path[4096], *buf;
	FILE		*f;
	long		 n;

	snprintf(path, sizeof path, "%s/%s", src != NULL ? src : ".", rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return (buf);
}

static void
test_assets(void **state)
{
	static const struct {
		const char	*path;
		const char	*file;
		const char	*type;
	} cases[] = {
		{ "/", "main-node/web/index.html", "text/html" },
		{ "/index.html", "main-node/web/index.html", "text/html" },
		{ "/?x=1", "main-node/web/index.html", "text/html" },
		{ "/app.js", "main-node/web/app.js", "text/javascript" },
		{ "/app.css", "main-node/web/app.css", "text/css" },
		{ "/favicon.svg", "main-node/web/favicon.svg",
		    "image/svg+xml" },
	};
	const struct web_asset	*a;
	size_t			 i, len;
	char			*want;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		a = web_asset_find(cases[i].path);
		assert_non_null(a);
		assert_true(strncmp(a->type, cases[i].type,
		    strlen(cases[i].type)) == 0);
		want = slurp(cases[i].file, &len);
		assert_int_equal(a->len, len);
		assert_memory_equal(a->data, want, len);
		assert_int_equal(a->data[len], '\0');
		assert_non_null(a->etag);
		assert_int_equal(a->etag[0], '"');
		free(want);
	}
}

static void
test_not_found(void **state)
{
	static const char *paths[] = { "", "/nope", "/app.jsx", "/app.j",
	    "//", "/web/app.js", "/embed.sh", "/../main-node/web/app.js",
	    "/index.htm", "app.js" };
	size_t	i;

	(void)state;
	assert_null(web_asset_find(NULL));
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
		assert_null(web_asset_find(paths[i]));
}

/* The page has no inline script, style or event handler, so the
 * Content-Security-Policy it is served with can forbid them. */
static void
test_csp_clean(void **state)
{
	const struct web_asset	*a = web_asset_find("/");
	const char		*html = (const char *)a->data;
	const char *const	*h = web_headers();
	int			 csp = 0;

	(void)state;
	assert_null(strstr(html, "<script>"));
	assert_null(strstr(html, "<style"));
	assert_null(strstr(html, "style="));
	assert_null(strstr(html, " onclick"));
	assert_null(strstr(html, " onsubmit"));
	assert_null(strstr(html, "javascript:"));
	assert_non_null(strstr(html, "<input type=\"password\" name=\"token\""));
	assert_non_null(strstr((const char *)web_asset_find("/app.js")->data,
	    "\"use strict\";"));
	for (; *h != NULL; h += 2) {
		if (strcmp(h[0], "Content-Security-Policy") == 0) {
			csp = 1;
			assert_non_null(strstr(h[1], "script-src 'self'"));
			assert_null(strstr(h[1], "unsafe"));
		}
	}
	assert_true(csp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assets),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_csp_clean),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
