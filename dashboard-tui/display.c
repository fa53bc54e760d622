/* SPDX-License-Identifier: ISC */
/*
 * display.c -- strings from the main node made safe for a terminal, and
 * measured in terminal columns, for the CLI and encore-top alike.
 *
 * Anything a peer sent (ids, names, states, reasons, error messages) may
 * hold control characters, escape sequences, bidirectional overrides,
 * invisible characters or invalid UTF-8.  display_escape() shows those as
 * visible escapes (\x1b, \u202e), so they can neither drive the terminal
 * nor disguise one name as another; display_width() counts the columns the
 * rest takes (wcwidth: most CJK characters take two, combining marks
 * none), so tables pad by what the eye sees, not by bytes.  Task output is
 * different: it is the task's own bytes, passed raw to a pipe or file; on a
 * terminal display_filter_write() keeps newlines, tabs, carriage returns
 * and colour (SGR) sequences and escapes everything else the same way.
 */
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "client.h"

/* Growing output of the escapers. */
struct display_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static int	display_utf8 = -1;	/* LC_CTYPE is UTF-8 (wcwidth works) */

/* Use a UTF-8 LC_CTYPE for wcwidth, whatever the user's locale. */
void
display_init(void)
{
	const char	*cs;

	setlocale(LC_CTYPE, "");
	cs = nl_langinfo(CODESET);
	if (cs == NULL || (strcasecmp(cs, "UTF-8") != 0 &&
	    strcasecmp(cs, "utf8") != 0))
		setlocale(LC_CTYPE, "C.UTF-8");
	display_utf8 = -1;
}

/* Whether wcwidth() knows Unicode here. */
static int
display_is_utf8(void)
{
	const char	*cs;

	if (display_utf8 == -1) {
		cs = nl_langinfo(CODESET);
		display_utf8 = cs != NULL && (strcasecmp(cs, "UTF-8") == 0 ||
		    strcasecmp(cs, "utf8") == 0);
	}
	return (display_utf8);
}

/*
 * Decode one UTF-8 sequence of at most len bytes.  Returns its length and
 * sets *cp; 0 if the bytes so far are the valid start of a longer
 * sequence (more are needed); -1 if s[0] does not start a valid one.
 */
static int
display_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t	c;
	int		n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return (1);
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else
		return (-1);
	for (i = 1; i < n; i++) {
		if ((size_t)i >= len)
			return (0);
		if ((s[i] & 0xc0) != 0x80)
			return (-1);
		/* No overlong forms, surrogates or values past U+10FFFF. */
		if (i == 1 && ((s[0] == 0xe0 && s[1] < 0xa0) ||
		    (s[0] == 0xed && s[1] > 0x9f) ||
		    (s[0] == 0xf0 && s[1] < 0x90) ||
		    (s[0] == 0xf4 && s[1] > 0x8f)))
			return (-1);
		c = (c << 6) | (s[i] & 0x3f);
	}
	*cp = c;
	return (n);
}

/* Whether a code point must not reach a terminal as itself. */
int
display_cp_unsafe(uint32_t cp)
{
	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
		return (1);			/* C0, DEL, C1 controls */
	if (cp == 0x061c || cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) ||
	    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 &&
	    cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb))
		return (1);			/* invisible, bidi controls */
	if ((cp & 0xfffe) == 0xfffe || (cp >= 0xfdd0 && cp <= 0xfdef) ||
	    (cp >= 0xe0000 && cp <= 0xe007f))
		return (1);			/* noncharacters, tags */
	if (cp >= 0x80 && display_is_utf8() && wcwidth((wchar_t)cp) < 0)
		return (1);			/* unassigned, or no glyph */
	return (0);
}

/* Columns a safe code point takes. */
static int
display_cp_width(uint32_t cp)
{
	int	w;

	if (cp < 0x80 || !display_is_utf8())
		return (1);
	w = wcwidth((wchar_t)cp);
	return (w < 0 ? 1 : w);
}

/* Append n bytes. */
static void
display_put(struct display_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Append the visible escape of a byte or a code point. */
static void
display_put_escape(struct display_buf *b, uint32_t cp, int is_byte)
{
	char	tmp[16];
	int	n;

	if (is_byte || cp < 0x80)
		n = snprintf(tmp, sizeof tmp, "\\x%02x", (unsigned)cp);
	else if (cp <= 0xffff)
		n = snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)cp);
	else
		n = snprintf(tmp, sizeof tmp, "\\U%08x", (unsigned)cp);
	display_put(b, tmp, (size_t)n);
}

/*
 * Escape len bytes of s into b.  With complete 0, a UTF-8 sequence cut
 * off at the end is left unconsumed; returns the bytes consumed.
 */
static size_t
display_escape_into(struct display_buf *b, const char *s, size_t len,
    int complete)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0;
	uint32_t		 cp;
	int			 n;

	while (i < len) {
		n = display_decode(p + i, len - i, &cp);
		if (n == 0 && !complete)
			break;
		if (n <= 0) {
			display_put_escape(b, p[i], 1);
			i++;
			continue;
		}
		if (display_cp_unsafe(cp))
			display_put_escape(b, cp, 0);
		else
			display_put(b, p + i, (size_t)n);
		i += (size_t)n;
	}
	return (i);
}

/* A copy of s safe for a terminal (caller frees); NULL for NULL. */
char *
display_escape(const char *s)
{
	struct display_buf	b = { NULL, 0, 0 };

	if (s == NULL)
		return (NULL);
	display_put(&b, "", 0);
	display_escape_into(&b, s, strlen(s), 1);
	return (b.p);
}

/* Escape s into buf of size bytes, cut at a character boundary. */
char *
display_escape_buf(const char *s, char *buf, size_t size)
{
	char	*e;
	size_t	 n;

	if (size == 0)
		return (buf);
	e = display_escape(s != NULL ? s : "");
	n = strlen(e);
	if (n >= size) {
		n = size - 1;
		/* Do not end inside a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)e[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf, e, n);
	buf[n] = '\0';
	free(e);
	return (buf);
}

/* Columns s takes on a terminal (s already escaped). */
int
display_width(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len = strlen(s), i = 0;
	uint32_t		 cp;
	int			 n, w = 0;

	while (i < len) {
		n = display_decode(p + i, len - i, &cp);
		if (n <= 0) {
			w++;
			i++;
			continue;
		}
		w += display_cp_width(cp);
		i += (size_t)n;
	}
	return (w);
}

/* Bytes of s (already escaped) that fit in cols columns; *used gets
 * the columns they take. */
size_t
display_fit(const char *s, int cols, int *used)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len = strlen(s), i = 0;
	uint32_t		 cp;
	int			 n, w = 0, cw;

	while (i < len) {
		n = display_decode(p + i, len - i, &cp);
		cw = n <= 0 ? 1 : display_cp_width(cp);
		if (n <= 0)
			n = 1;
		if (w + cw > cols)
			break;
		w += cw;
		i += (size_t)n;
	}
	if (used != NULL)
		*used = w;
	return (i);
}

/* Print s (already escaped) and pad it with spaces to width columns. */
void
display_pad(FILE *f, const char *s, int width)
{
	int	w = display_width(s);

	fputs(s, f);
	for (; w < width; w++)
		fputc(' ', f);
}

/* Length of a complete SGR sequence (ESC [ digits ; : m) at p, 0 if p
 * holds the start of one that is cut off, -1 if it is not one. */
static int
display_sgr(const unsigned char *p, size_t len)
{
	size_t	i;

	if (len < 2)
		return (0);
	if (p[1] != '[')
		return (-1);
	for (i = 2; i < len && i < DISPLAY_CARRY_MAX; i++) {
		if (p[i] == 'm')
			return ((int)i + 1);
		if ((p[i] < '0' || p[i] > '9') && p[i] != ';' && p[i] != ':')
			return (-1);
	}
	return (i < DISPLAY_CARRY_MAX ? 0 : -1);
}

/* Filter len bytes of task output (after what was carried) into b. */
static void
display_filter_into(struct display_filter *df, struct display_buf *b,
    const char *data, size_t len, int end)
{
	unsigned char	*p;
	size_t		 n, i = 0, start;
	int		 k;

	n = df->ncarry + len;
	p = xmalloc(n + 1);
	memcpy(p, df->carry, df->ncarry);
	if (len > 0)
		memcpy(p + df->ncarry, data, len);
	df->ncarry = 0;
	while (i < n) {
		if (p[i] == '\n' || p[i] == '\t' || p[i] == '\r') {
			display_put(b, p + i, 1);
			i++;
			continue;
		}
		if (p[i] == 0x1b) {
			k = display_sgr(p + i, n - i);
			if (k == 0 && !end) {
				memcpy(df->carry, p + i, n - i);
				df->ncarry = n - i;
				break;
			}
			if (k > 0) {
				display_put(b, p + i, (size_t)k);
				i += (size_t)k;
				continue;
			}
			display_put_escape(b, 0x1b, 1);
			i++;
			continue;
		}
		/* Everything else up to the next control byte as text. */
		start = i;
		while (i < n && p[i] != '\n' && p[i] != '\t' && p[i] != '\r' &&
		    p[i] != 0x1b)
			i++;
		k = (int)display_escape_into(b, (const char *)p + start,
		    i - start, end || i < n);
		if (start + (size_t)k < i) {
			/* A UTF-8 sequence cut off by the chunk's end. */
			memcpy(df->carry, p + start + k, i - start - (size_t)k);
			df->ncarry = i - start - (size_t)k;
			break;
		}
	}
	free(p);
}

/* Write task output to a terminal, filtered. */
void
display_filter_write(struct display_filter *df, FILE *f, const char *data,
    size_t len)
{
	struct display_buf	b = { NULL, 0, 0 };

	display_put(&b, "", 0);
	display_filter_into(df, &b, data, len, 0);
	fwrite(b.p, 1, b.len, f);
	free(b.p);
}

/* Flush what a filter still holds (a sequence cut off for good). */
void
display_filter_end(struct display_filter *df, FILE *f)
{
	struct display_buf	b = { NULL, 0, 0 };

	if (df->ncarry == 0)
		return;
	display_put(&b, "", 0);
	display_filter_into(df, &b, NULL, 0, 1);
	fwrite(b.p, 1, b.len, f);
	free(b.p);
}
