/* SPDX-License-Identifier: ISC */
/*
 * cache-index.c -- the format of the worker's cache index
 * (STATE/cache/index), pure so it can be fuzzed:
 *
 *	encore-cache 1 BOOT_ID
 *	SHA SIZE MTIME_NS USED
 *	...
 *
 * one line per file of the cache: its SHA-256 (64 lowercase hex), its
 * size in bytes, the modification time (ns) it had when it was last
 * found to hash to SHA, and when a task last used it (unix seconds, for
 * least recently used first out).  BOOT_ID is the kernel's boot id when
 * the index was written.  The index is only a memory: a line that does
 * not parse is skipped, a file it does not list is hashed before its
 * first use, and one whose size or time changed since is hashed again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "worker.h"

#define CACHE_INDEX_MAGIC	"encore-cache 1 "

/* A decimal integer 0..INT64_MAX ending at a space or at end; *p moves
 * past it.  0, or -1 if there is none. */
static int
cache_index_num(const char **p, const char *end, int64_t *out)
{
	const char	*s = *p;
	int64_t		 v = 0;
	int		 digits = 0;

	while (s < end && *s >= '0' && *s <= '9') {
		if (++digits > 19 || v > (INT64_MAX - (*s - '0')) / 10)
			return (-1);
		v = v * 10 + (*s - '0');
		s++;
	}
	if (digits == 0 || (s < end && *s != ' '))
		return (-1);
	if (s < end)
		s++;
	*p = s;
	*out = v;
	return (0);
}

/* Parse one entry line (without its LF) into r; 0 or -1. */
static int
cache_index_entry(const char *p, const char *end, struct cache_rec *r)
{
	int	i;

	if (end - p < PROTO_SHA256_HEX + 1 || p[PROTO_SHA256_HEX] != ' ')
		return (-1);
	for (i = 0; i < PROTO_SHA256_HEX; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f')))
			return (-1);
	}
	memcpy(r->sha, p, PROTO_SHA256_HEX);
	r->sha[PROTO_SHA256_HEX] = '\0';
	p += PROTO_SHA256_HEX + 1;
	if (cache_index_num(&p, end, &r->size) != 0 ||
	    cache_index_num(&p, end, &r->mtime_ns) != 0 ||
	    cache_index_num(&p, end, &r->used) != 0 || p != end ||
	    end[-1] == ' ')
		return (-1);
	return (0);
}

/*
 * The entries of an index's text (len bytes): *n of them (caller frees
 * the array).  The boot id of its header goes into boot (bootsize bytes;
 * "" when there is none).  A text without the header has no entries; a
 * line that does not parse is skipped.
 */
struct cache_rec *
cache_index_parse(const char *data, size_t len, char *boot, size_t bootsize,
    size_t *n)
{
	struct cache_rec	*v = NULL;
	const char		*p, *nl, *end = data + len;
	size_t			 cap = 0, hlen, blen;

	*n = 0;
	if (bootsize > 0)
		boot[0] = '\0';
	hlen = strlen(CACHE_INDEX_MAGIC);
	if (len < hlen || memcmp(data, CACHE_INDEX_MAGIC, hlen) != 0 ||
	    (nl = memchr(data, '\n', len)) == NULL)
		return (NULL);
	blen = (size_t)(nl - data) - hlen;
	if (bootsize > 0) {
		if (blen >= bootsize)
			blen = bootsize - 1;
		memcpy(boot, data + hlen, blen);
		boot[blen] = '\0';
		if (strpbrk(boot, " \t\r") != NULL)
			boot[0] = '\0';
	}
	for (p = nl + 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;		/* a line cut by a crash */
		if (*n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof *v);
		}
		if (cache_index_entry(p, nl, &v[*n]) == 0)
			(*n)++;
	}
	return (v);
}

/* One entry's line (with its LF) into buf; its length, or -1 if it does
 * not fit. */
int
cache_index_format(const struct cache_rec *r, char *buf, size_t size)
{
	int	n;

	n = snprintf(buf, size, "%s %lld %lld %lld\n", r->sha,
	    (long long)r->size, (long long)r->mtime_ns, (long long)r->used);
	return (n < 0 || (size_t)n >= size ? -1 : n);
}

/* The header line (with its LF) into buf; its length, or -1. */
int
cache_index_header(const char *boot, char *buf, size_t size)
{
	int	n;

	n = snprintf(buf, size, "%s%s\n", CACHE_INDEX_MAGIC,
	    boot != NULL && *boot != '\0' ? boot : "-");
	return (n < 0 || (size_t)n >= size ? -1 : n);
}
