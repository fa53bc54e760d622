/* SPDX-License-Identifier: ISC */
/*
 * fuzz-cache-index.c -- libFuzzer target: the input as the worker's cache
 * index (STATE/cache/index, worker-node/cache-index.c), as a crash, a
 * power cut or another program may leave it.  Checks that every entry
 * parsed has a hash of 64 lowercase hex digits and no negative number,
 * that the boot id has no blank, and that writing the entries out and
 * reading them back gives the same entries.
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
	struct cache_rec	*v, *w;
	char			 boot[64], boot2[64], line[256], *text;
	size_t			 n, n2, i, len = 0;
	int			 k;

	v = cache_index_parse((const char *)data, size, boot, sizeof boot, &n);
	if (strlen(boot) >= sizeof boot || strpbrk(boot, " \t\r\n") != NULL)
		abort();
	text = malloc(128 + n * 128);
	if (text == NULL)
		abort();
	if ((k = cache_index_header(boot, text, 128)) < 0)
		abort();
	len = (size_t)k;
	for (i = 0; i < n; i++) {
		if (!proto_sha256_ok(v[i].sha) || v[i].size < 0 ||
		    v[i].mtime_ns < 0 || v[i].used < 0)
			abort();
		if ((k = cache_index_format(&v[i], line, sizeof line)) < 0)
			abort();
		memcpy(text + len, line, (size_t)k);
		len += (size_t)k;
	}
	w = cache_index_parse(text, len, boot2, sizeof boot2, &n2);
	if (n2 != n || (*boot != '\0' && strcmp(boot, boot2) != 0))
		abort();
	for (i = 0; i < n; i++) {
		if (strcmp(v[i].sha, w[i].sha) != 0 || v[i].size != w[i].size ||
		    v[i].mtime_ns != w[i].mtime_ns || v[i].used != w[i].used)
			abort();
	}
	free(w);
	free(text);
	free(v);
	return (0);
}
