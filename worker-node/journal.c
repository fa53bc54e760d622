/* SPDX-License-Identifier: ISC */
/*
 * journal.c -- the format of the worker's run journal (STATE/run/journal,
 * written by spooler.c), kept free of everything else so it can be
 * fuzzed alone.  One record a line:
 *
 *	+ KEY<TAB>pgid=N<TAB>start=N<TAB>boot_id=S<TAB>runtime=S<TAB>...
 *	- KEY
 *
 * "+" when a task starts, "-" when it ends; a KEY whose last record is a
 * "+" is a task still open.  Values have '%', control bytes and DEL as
 * %XX.  A line without its newline (cut by a crash) is ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "worker.h"

/* A journal value into buf: '%', control bytes and DEL as %XX. */
const char *
journal_enc(const char *v, char *buf, size_t size)
{
	size_t		o = 0;
	unsigned char	c;

	for (; v != NULL && *v != '\0' && o + 4 < size; v++) {
		c = (unsigned char)*v;
		if (c < 0x20 || c == '%' || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "%%%02X", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return (buf);
}

/* 1 if c is a hex digit. */
static int
journal_hex(char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F'));
}

/* Decode a journal value in place (a '%' not followed by two hex digits
 * stays as it is). */
void
journal_dec(char *v)
{
	char		*o = v;
	unsigned int	 c;

	for (; *v != '\0'; v++) {
		if (*v == '%' && journal_hex(v[1]) && journal_hex(v[2]) &&
		    sscanf(v + 1, "%2X", &c) == 1) {
			*o++ = (char)c;
			v += 2;
		} else
			*o++ = *v;
	}
	*o = '\0';
}

/* Drop entry i of v (the last takes its place). */
static void
journal_drop(struct journal_entry *v, size_t *n, size_t i)
{
	free(v[i].key);
	free(v[i].rec);
	v[i] = v[--(*n)];
}

/*
 * The entries of a journal's text (len bytes, NULs allowed) still open:
 * *n of them, each with its key and its whole "+" record (without the
 * newline).  The caller frees with journal_free().
 */
struct journal_entry *
journal_parse(const char *data, size_t len, size_t *n)
{
	struct journal_entry	*v = NULL;
	const char		*p, *nl, *end = data + len, *tab;
	size_t			 i, cap = 0, klen, llen;

	*n = 0;
	for (p = data; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;		/* a cut last line */
		llen = (size_t)(nl - p);
		if (llen < 3 || (p[0] != '+' && p[0] != '-') || p[1] != ' ' ||
		    memchr(p, '\0', llen) != NULL)
			continue;
		tab = memchr(p + 2, '\t', llen - 2);
		klen = (tab != NULL ? (size_t)(tab - p) : llen) - 2;
		if (klen == 0)
			continue;
		for (i = 0; i < *n; i++) {
			if (strlen(v[i].key) == klen &&
			    memcmp(v[i].key, p + 2, klen) == 0)
				break;
		}
		if (i < *n)
			journal_drop(v, n, i);	/* an earlier record */
		if (p[0] == '-')
			continue;
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			v = xreallocarray(v, cap, sizeof *v);
		}
		v[*n].key = xstrndup(p + 2, klen);
		v[*n].rec = xstrndup(p, llen);
		(*n)++;
	}
	return (v);
}

/* Free what journal_parse() returned. */
void
journal_free(struct journal_entry *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].rec);
	}
	free(v);
}
