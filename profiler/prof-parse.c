/* SPDX-License-Identifier: ISC */
/*
 * prof-parse.c -- parsers for the text of /proc and /sys files.  Pure: each
 * takes a NUL-terminated buffer and never reads past it, so the fuzzer can
 * drive them directly.  Anything that does not look right is "unknown".
 */
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "profiler.h"
#include "prof-parse.h"

/* Longest line looked at; longer lines are cut (cpuinfo "flags" fits). */
#define PARSE_LINE_MAX	4096

/* Copy the line at p into line (cut to size), return the next line. */
static const char *
parse_line(const char *p, char *line, size_t size)
{
	const char	*eol;
	size_t		 len;

	eol = strchrnul(p, '\n');
	len = eol - p;
	if (len >= size)
		len = size - 1;
	memcpy(line, p, len);
	line[len] = '\0';
	return (*eol == '\n' ? eol + 1 : eol);
}

/* Strip blanks at both ends, in place. */
static char *
parse_trim(char *s)
{
	size_t	len;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r' || s[len - 1] == '\n'))
		s[--len] = '\0';
	return (s);
}

/* Split "key<blanks>: value" in place; -1 without a colon. */
static int
parse_split(char *line, int sep, char **key, char **value)
{
	char	*colon;

	if ((colon = strchr(line, sep)) == NULL)
		return (-1);
	*colon = '\0';
	*key = parse_trim(line);
	*value = parse_trim(colon + 1);
	return (0);
}

/* A non-negative decimal integer at the start of s; -1 if none. */
static int
parse_u64(const char *s, const char **end, uint64_t *v)
{
	char	*ep;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	*v = strtoull(s, &ep, 10);
	if (errno != 0)
		return (-1);
	if (end != NULL)
		*end = ep;
	return (0);
}

/* A finite double at the start of s, in the C locale; -1 if none. */
static int
parse_double(const char *s, const char **end, double *v)
{
	static locale_t	 c_locale;
	char		*ep;

	if (c_locale == (locale_t)0)
		c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s) && *s != '-' && *s != '.')
		return (-1);
	errno = 0;
	if (c_locale != (locale_t)0)
		*v = strtod_l(s, &ep, c_locale);
	else
		*v = strtod(s, &ep);
	if (ep == s || errno != 0 || !isfinite(*v))
		return (-1);
	if (end != NULL)
		*end = ep;
	return (0);
}

/* Parse meminfo text; 0 if MemTotal was found, else -1. */
int
prof_parse_meminfo(const char *buf, struct prof_meminfo *mi)
{
	char		 line[PARSE_LINE_MAX], *key, *value;
	const char	*p;
	int64_t		*slot;
	uint64_t	 v;

	mi->total = mi->free = mi->available = -1;
	mi->buffers = mi->cached = -1;
	for (p = buf; *p != '\0';) {
		p = parse_line(p, line, sizeof line);
		if (parse_split(line, ':', &key, &value) != 0)
			continue;
		if (strcmp(key, "MemTotal") == 0)
			slot = &mi->total;
		else if (strcmp(key, "MemFree") == 0)
			slot = &mi->free;
		else if (strcmp(key, "MemAvailable") == 0)
			slot = &mi->available;
		else if (strcmp(key, "Buffers") == 0)
			slot = &mi->buffers;
		else if (strcmp(key, "Cached") == 0)
			slot = &mi->cached;
		else
			continue;
		/* KiB; keep room for the * 1024 the caller does. */
		if (*slot == -1 && parse_u64(value, NULL, &v) == 0 &&
		    v <= (uint64_t)INT64_MAX / 1024)
			*slot = (int64_t)v;
	}
	if (mi->total <= 0) {
		mi->total = -1;
		return (-1);
	}
	return (0);
}

/*
 * Memory in use as a percent of MemTotal.  Without MemAvailable (kernels
 * before 3.14) free + buffers + cached is what could be had back.
 */
double
prof_meminfo_used_pct(const struct prof_meminfo *mi)
{
	int64_t	avail;
	double	pct;

	if (mi->total <= 0)
		return (NAN);
	if (mi->available >= 0)
		avail = mi->available;
	else if (mi->free >= 0) {
		avail = mi->free;
		if (mi->buffers > 0)
			avail += mi->buffers;
		if (mi->cached > 0)
			avail += mi->cached;
	} else
		return (NAN);
	pct = (double)(mi->total - avail) * 100.0 / (double)mi->total;
	if (pct < 0)
		pct = 0;
	if (pct > 100)
		pct = 100;
	return (pct);
}

/*
 * First "cpu" line of /proc/stat.  total sums user, nice, system, idle,
 * iowait, irq, softirq and steal; guest and guest_nice are left out since
 * the kernel already counts them in user and nice.  idle is idle + iowait.
 */
int
prof_parse_stat(const char *buf, uint64_t *total, uint64_t *idle)
{
	char		 line[PARSE_LINE_MAX];
	const char	*p, *s;
	uint64_t	 f[10];
	int		 n, i;

	for (p = buf; *p != '\0';) {
		p = parse_line(p, line, sizeof line);
		if (strncmp(line, "cpu", 3) != 0 ||
		    (line[3] != ' ' && line[3] != '\t'))
			continue;
		s = line + 3;
		for (n = 0; n < 10; n++) {
			if (parse_u64(s, &s, &f[n]) != 0)
				break;
		}
		if (n < 4)
			return (-1);
		*total = 0;
		for (i = 0; i < n && i < 8; i++)
			*total += f[i];
		*idle = f[3] + (n > 4 ? f[4] : 0);
		return (0);
	}
	return (-1);
}

/* Sum rx/tx over non-lo interfaces of /proc/net/dev; collect names. */
int
prof_parse_netdev(const char *buf, uint64_t *rx, uint64_t *tx, char ***names,
    size_t *n)
{
	char		 line[PARSE_LINE_MAX], *name, *rest, *clean;
	const char	*p, *s;
	uint64_t	 f[16];
	size_t		 i;
	int		 nf, found = 0;

	*rx = *tx = 0;
	if (names != NULL) {
		*names = NULL;
		*n = 0;
	}
	for (p = buf; *p != '\0';) {
		p = parse_line(p, line, sizeof line);
		if (parse_split(line, ':', &name, &rest) != 0 || *name == '\0')
			continue;
		s = rest;
		for (nf = 0; nf < 16; nf++) {
			if (parse_u64(s, &s, &f[nf]) != 0)
				break;
		}
		if (nf < 9)
			continue;
		found = 1;
		/* Judge the name as it will be shown. */
		clean = prof_clean_string(name, strlen(name));
		if (clean == NULL || strcmp(clean, "lo") == 0) {
			free(clean);
			continue;
		}
		*rx += f[0];
		*tx += f[8];
		if (names == NULL || *n >= PROTO_LIST_MAX) {
			free(clean);
			continue;
		}
		for (i = 0; i < *n; i++) {
			if (strcmp((*names)[i], clean) == 0)
				break;
		}
		if (i < *n) {
			free(clean);
			continue;
		}
		*names = xreallocarray(*names, *n + 1, sizeof **names);
		(*names)[(*n)++] = clean;
	}
	return (found ? 0 : -1);
}

/* /proc/loadavg: "0.16 0.11 0.05 1/86 4236". */
int
prof_parse_loadavg(const char *buf, double la[3])
{
	const char	*s = buf;
	double		 v[3];
	int		 i;

	for (i = 0; i < 3; i++) {
		if (parse_double(s, &s, &v[i]) != 0 || v[i] < 0)
			return (-1);
	}
	for (i = 0; i < 3; i++)
		la[i] = v[i];
	return (0);
}

/* /proc/uptime: "8730.37 17363.46". */
int
prof_parse_uptime(const char *buf, double *up)
{
	double	v;

	if (parse_double(buf, NULL, &v) != 0 || v < 0)
		return (-1);
	*up = v;
	return (0);
}

/* Keep the first value seen for a cpuinfo key. */
static void
parse_cpuinfo_set(char **slot, const char *value)
{
	if (*slot == NULL)
		*slot = prof_clean_string(value, strlen(value));
}

/* Is word one of the blank-separated words of s? */
static int
parse_has_word(const char *s, const char *word)
{
	size_t		 len = strlen(word);
	const char	*p;

	for (p = s; (p = strstr(p, word)) != NULL; p += len) {
		if ((p == s || p[-1] == ' ' || p[-1] == '\t') &&
		    (p[len] == '\0' || p[len] == ' ' || p[len] == '\t'))
			return (1);
	}
	return (0);
}

/* Parse cpuinfo text into ci. */
void
prof_parse_cpuinfo(const char *buf, struct prof_cpuinfo *ci)
{
	char		 line[PARSE_LINE_MAX], *key, *value;
	const char	*p;
	double		 mhz;

	memset(ci, 0, sizeof *ci);
	ci->mhz = NAN;
	ci->lm = -1;
	for (p = buf; *p != '\0';) {
		p = parse_line(p, line, sizeof line);
		if (parse_split(line, ':', &key, &value) != 0)
			continue;
		if (strcmp(key, "processor") == 0)
			ci->processors++;
		else if (strcmp(key, "model name") == 0)
			parse_cpuinfo_set(&ci->model_name, value);
		else if (strcmp(key, "Processor") == 0)
			parse_cpuinfo_set(&ci->processor, value);
		else if (strcmp(key, "Hardware") == 0)
			parse_cpuinfo_set(&ci->hardware, value);
		else if (strcmp(key, "Model") == 0)
			parse_cpuinfo_set(&ci->model, value);
		else if (strcmp(key, "vendor_id") == 0)
			parse_cpuinfo_set(&ci->vendor_id, value);
		else if (strcmp(key, "CPU architecture") == 0)
			parse_cpuinfo_set(&ci->cpu_arch, value);
		else if (strcmp(key, "flags") == 0 && ci->lm == -1)
			ci->lm = parse_has_word(value, "lm");
		else if (strcmp(key, "cpu MHz") == 0 && isnan(ci->mhz)) {
			if (parse_double(value, NULL, &mhz) == 0 && mhz > 0 &&
			    mhz < 100000)
				ci->mhz = mhz;
		}
	}
}

/* Free what prof_parse_cpuinfo allocated. */
void
prof_cpuinfo_free(struct prof_cpuinfo *ci)
{
	free(ci->model_name);
	free(ci->processor);
	free(ci->hardware);
	free(ci->model);
	free(ci->vendor_id);
	free(ci->cpu_arch);
	memset(ci, 0, sizeof *ci);
	ci->mhz = NAN;
	ci->lm = -1;
}

/* Does s (may be NULL) contain any of the markers? */
static int
parse_has(const char *s, const char *m1, const char *m2)
{
	if (s == NULL)
		return (0);
	return (strstr(s, m1) != NULL || (m2 != NULL && strstr(s, m2) != NULL));
}

/*
 * Architecture implied by cpuinfo.  The name strings go first: an ARM1176
 * (Pi 1) reports "CPU architecture: 7" although it is an ARMv6.
 */
const char *
prof_cpuinfo_arch(const struct prof_cpuinfo *ci)
{
	const char	*names[2] = { ci->model_name, ci->processor };
	int		 i;

	for (i = 0; i < 2; i++) {
		if (parse_has(names[i], "ARMv6", "(v6l)"))
			return ("armv6l");
		if (parse_has(names[i], "ARMv7", "(v7l)"))
			return ("armv7l");
		if (parse_has(names[i], "AArch64", "(aarch64)"))
			return ("aarch64");
	}
	if (ci->cpu_arch != NULL) {
		if (strncmp(ci->cpu_arch, "8", 1) == 0 ||
		    strncmp(ci->cpu_arch, "AArch64", 7) == 0)
			return ("aarch64");
		if (strcmp(ci->cpu_arch, "7") == 0)
			return ("armv7l");
		if (strncmp(ci->cpu_arch, "6", 1) == 0)
			return ("armv6l");
	}
	if (ci->vendor_id != NULL)
		return (ci->lm == 0 ? "i686" : "x86_64");
	return (NULL);
}

/* Unquote a shell-style value in place (os-release allows "..." and '...'). */
static char *
parse_unquote(char *v)
{
	char	 q, *r, *w;

	if (*v != '"' && *v != '\'')
		return (v);
	q = *v++;
	for (r = w = v; *r != '\0' && *r != q; r++) {
		if (q == '"' && *r == '\\' && r[1] != '\0')
			r++;
		*w++ = *r;
	}
	*w = '\0';
	return (v);
}

/*
 * The value of key in a "key=value" file (sep '=', value unquoted) or a
 * "key: value" file (sep ':'); NULL if absent.
 */
char *
prof_parse_keyval(const char *buf, const char *key, int sep)
{
	char		 line[PARSE_LINE_MAX], *k, *v;
	const char	*p;

	for (p = buf; *p != '\0';) {
		p = parse_line(p, line, sizeof line);
		if (parse_split(line, sep, &k, &v) != 0 || *k == '#')
			continue;
		if (strcmp(k, key) == 0) {
			if (sep == '=')
				v = parse_unquote(v);
			return (prof_clean_string(v, strlen(v)));
		}
	}
	return (NULL);
}

/* A file holding one integer, e.g. "48692\n". */
int
prof_parse_int(const char *buf, long long *v)
{
	const char	*s = buf;
	char		*ep;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s) &&
	    !(*s == '-' && isdigit((unsigned char)s[1])))
		return (-1);
	errno = 0;
	*v = strtoll(s, &ep, 10);
	if (errno != 0)
		return (-1);
	while (*ep == ' ' || *ep == '\t' || *ep == '\r' || *ep == '\n')
		ep++;
	return (*ep == '\0' ? 0 : -1);
}

/* Count the CPUs in a list such as "0-3,5\n". */
int
prof_parse_cpulist(const char *buf)
{
	const char	*s = buf;
	uint64_t	 a, b;
	int		 count = 0;

	for (;;) {
		if (parse_u64(s, &s, &a) != 0)
			return (-1);
		b = a;
		if (*s == '-' && parse_u64(s + 1, &s, &b) != 0)
			return (-1);
		if (b < a || b - a >= 65536 || count + (b - a + 1) > 65536)
			return (-1);
		count += (int)(b - a + 1);
		if (*s != ',')
			break;
		s++;
	}
	while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
		s++;
	return (*s == '\0' ? count : -1);
}

/* Length of the valid UTF-8 sequence at s (n bytes left); 0 if invalid. */
static size_t
parse_utf8_len(const unsigned char *s, size_t n)
{
	size_t		need, i;
	unsigned char	lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;
		if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return (0);
	if (need >= n)
		return (0);
	for (i = 1; i <= need; i++) {
		if (s[i] < lo || s[i] > hi)
			return (0);
		lo = 0x80;
		hi = 0xbf;
	}
	return (need + 1);
}

/* Copy s as a safe profile string; NULL if nothing printable is left. */
char *
prof_clean_string(const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	char			*out;
	size_t			 i, o, n;

	out = xmalloc(PROF_STRING_MAX + 1);
	for (i = o = 0; i < len && u[i] != '\0';) {
		n = parse_utf8_len(u + i, len - i);
		if (n == 0) {
			n = 1;
			if (o + 1 > PROF_STRING_MAX)
				break;
			out[o++] = '?';
		} else if (n == 1) {
			if (o + 1 > PROF_STRING_MAX)
				break;
			out[o++] = (u[i] < 0x20 || u[i] == 0x7f) ? ' ' : u[i];
		} else {
			if (o + n > PROF_STRING_MAX)
				break;
			memcpy(out + o, u + i, n);
			o += n;
		}
		i += n;
	}
	out[o] = '\0';
	/* Trim the blanks (and former control bytes) at both ends. */
	while (o > 0 && out[o - 1] == ' ')
		out[--o] = '\0';
	for (i = 0; out[i] == ' '; i++)
		;
	if (out[i] == '\0') {
		free(out);
		return (NULL);
	}
	if (i > 0)
		memmove(out, out + i, o - i + 1);
	return (out);
}
