/* SPDX-License-Identifier: ISC */
/*
 * sniff.c -- what a new connection speaks, from its first bytes (pure;
 * fuzzed by tests/fuzz/fuzz-sniff.c).  The rule (PROTOCOL.md, "Sessions"):
 *
 *   0x16 0x03 ...          a TLS handshake
 *   "GET " "POST " ...     an HTTP request line (the method in capitals)
 *   "{" (after blanks)     a JSON session
 *   anything else          a one-shot text command ("devices", "help")
 *
 * At most 8 bytes decide; fewer may leave it open (SNIFF_MORE), and the
 * connection's auth timeout bounds how long it may stay so.
 */
#include <string.h>

#include "main.h"

static const char *sniff_methods[] = {
	"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ",
	NULL
};

/* What the first n bytes of a connection say it is. */
enum sniff_kind
sniff_classify(const unsigned char *p, size_t n)
{
	size_t	i, len, k;

	if (n == 0)
		return (SNIFF_MORE);
	if (p[0] == 0x16) {
		if (n < 2)
			return (SNIFF_MORE);
		return (p[1] == 0x03 ? SNIFF_TLS : SNIFF_TEXT);
	}
	if (p[0] >= 'A' && p[0] <= 'Z') {
		for (i = 0; sniff_methods[i] != NULL; i++) {
			len = strlen(sniff_methods[i]);
			k = n < len ? n : len;
			if (memcmp(p, sniff_methods[i], k) != 0)
				continue;
			return (n < len ? SNIFF_MORE : SNIFF_HTTP);
		}
		return (SNIFF_TEXT);
	}
	for (i = 0; i < n; i++) {
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return (p[i] == '{' ? SNIFF_JSON : SNIFF_TEXT);
	}
	return (SNIFF_MORE);	/* only blanks so far */
}
