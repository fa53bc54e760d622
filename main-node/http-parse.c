/* SPDX-License-Identifier: ISC */
/*
 * http-parse.c -- the head of an HTTP/1.1 request: request line and
 * headers (RFC 9112), strictly and with every size bounded.  Pure: bytes
 * in, a struct or a refusal out (fuzzed by tests/fuzz/fuzz-http.c).
 *
 * Why not libevent's evhttp: the cluster port must read a connection's
 * first bytes to know it is HTTP at all (sniff.c), and libevent 2.1 has
 * no public way to hand evhttp a connection whose first bytes were
 * already read (evhttp_get_request is internal), nor one that speaks
 * through TLS we terminated ourselves.  A request head is a small
 * grammar; parsing it here keeps HTTP on the same connection, limits,
 * timeouts and commit hold as every other peer.
 *
 * Accepted: "METHOD SP target SP HTTP/1.x CRLF", header lines "name: value"
 * (LF alone is taken for CRLF), an empty line.  Refused: other versions,
 * obsolete line folding, control characters, a header name that is not a
 * token, several Content-Length values that differ, a chunked or
 * otherwise encoded request body.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"

#define HTTP_TARGET_MAX		4096

/* 1 if c may be in an HTTP token (a method, a header name). */
static int
http_tchar(unsigned char c)
{
	return (isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Free what a parsed request owns. */
void
http_req_free(struct http_req *r)
{
	size_t	i;

	free(r->target);
	free(r->path);
	free(r->query);
	for (i = 0; i < r->nheaders; i++) {
		free(r->headers[i].key);
		free(r->headers[i].value);
	}
	memset(r, 0, sizeof *r);
}

/* The value of a header (case-insensitive name), or NULL. */
const char *
http_header(const struct http_req *r, const char *name)
{
	size_t	i;

	for (i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].key, name) == 0)
			return (r->headers[i].value);
	}
	return (NULL);
}

/* Value of a hex digit, or -1. */
static int
http_hex(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Percent-decode len bytes ('+' stays, as in a path); NULL if it holds a
 * bad escape or decodes to a NUL or a control character. */
static char *
http_decode(const char *s, size_t len, int plus_is_space)
{
	char	*out = xmalloc(len + 1);
	size_t	 i, o = 0;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= len)
				goto bad;
			if ((hi = http_hex(s[i + 1])) < 0 ||
			    (lo = http_hex(s[i + 2])) < 0)
				goto bad;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space)
			c = ' ';
		if (c < 0x20 || c == 0x7f)
			goto bad;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (out);
bad:
	free(out);
	return (NULL);
}

/*
 * The nth (0 first) value of key in a query string "a=1&b=2", decoded;
 * NULL if absent or badly escaped.  Caller frees.
 */
char *
http_query_get(const char *query, const char *key, int nth)
{
	const char	*p, *amp, *eq;
	size_t		 klen = strlen(key), n;

	for (p = query; p != NULL && *p != '\0'; p = amp != NULL ?
	    amp + 1 : NULL) {
		amp = strchr(p, '&');
		n = amp != NULL ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', n);
		if ((eq != NULL ? (size_t)(eq - p) : n) != klen ||
		    strncmp(p, key, klen) != 0)
			continue;
		if (nth-- > 0)
			continue;
		if (eq == NULL)
			return (xstrdup(""));
		return (http_decode(eq + 1, n - (size_t)(eq + 1 - p), 1));
	}
	return (NULL);
}

/* Find the end of the head (an empty line): the offset just past it, or 0
 * if it is not in the first len bytes. */
static size_t
http_head_end(const char *buf, size_t len)
{
	size_t	i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return (i + 2);
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return (i + 3);
	}
	return (0);
}

/* Take one line (without its CRLF/LF) from *p; NULL at the end. */
static const char *
http_line(const char **p, const char *end, size_t *len)
{
	const char	*start = *p, *nl;

	if (start >= end)
		return (NULL);
	nl = memchr(start, '\n', (size_t)(end - start));
	if (nl == NULL)
		return (NULL);
	*len = (size_t)(nl - start);
	if (*len > 0 && start[*len - 1] == '\r')
		(*len)--;
	*p = nl + 1;
	return (start);
}

/* Parse the request line. */
static int
http_request_line(const char *l, size_t n, struct http_req *r,
    const char **why)
{
	size_t		 i = 0, m, t;
	const char	*target, *q;

	while (i < n && http_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i >= sizeof r->method || i >= n || l[i] != ' ') {
		*why = "bad request line: expected METHOD TARGET HTTP/1.1";
		return (-1);
	}
	memcpy(r->method, l, i);
	r->method[i] = '\0';
	m = ++i;
	while (i < n && l[i] != ' ')
		i++;
	t = i - m;
	if (t == 0 || t > HTTP_TARGET_MAX || i >= n) {
		*why = "bad request target";
		return (-1);
	}
	target = l + m;
	i++;
	if (n - i != 8 || strncmp(l + i, "HTTP/1.", 7) != 0 ||
	    (l[i + 7] != '0' && l[i + 7] != '1')) {
		*why = "only HTTP/1.0 and HTTP/1.1 are spoken here";
		return (-1);
	}
	r->minor = l[i + 7] - '0';
	for (i = 0; i < t; i++) {
		if ((unsigned char)target[i] <= 0x20 ||
		    (unsigned char)target[i] >= 0x7f) {
			*why = "bad character in the request target";
			return (-1);
		}
	}
	r->target = xstrndup(target, t);
	if (*target != '/' && !(t == 1 && *target == '*')) {
		*why = "the request target must be a path (origin form)";
		return (-1);
	}
	q = memchr(target, '?', t);
	r->path = http_decode(target, q != NULL ? (size_t)(q - target) : t, 0);
	if (r->path == NULL) {
		*why = "bad escape in the request path";
		return (-1);
	}
	if (q != NULL)
		r->query = xstrndup(q + 1, t - (size_t)(q + 1 - target));
	return (0);
}

/* Parse one header line. */
static int
http_header_line(const char *l, size_t n, struct http_req *r,
    const char **why)
{
	size_t	 i = 0, v, e;

	if (n > 0 && (l[0] == ' ' || l[0] == '\t')) {
		*why = "obsolete header line folding";
		return (-1);
	}
	while (i < n && http_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i >= n || l[i] != ':') {
		*why = "bad header line: expected NAME: VALUE";
		return (-1);
	}
	if (r->nheaders == HTTP_HEADERS_MAX) {
		*why = "too many header lines";
		return (-1);
	}
	v = i + 1;
	while (v < n && (l[v] == ' ' || l[v] == '\t'))
		v++;
	e = n;
	while (e > v && (l[e - 1] == ' ' || l[e - 1] == '\t'))
		e--;
	for (i = v; i < e; i++) {
		unsigned char c = (unsigned char)l[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*why = "control character in a header value";
			return (-1);
		}
	}
	r->headers[r->nheaders].key = xstrndup(l, (size_t)(strchr(l, ':') -
	    l));
	r->headers[r->nheaders].value = xstrndup(l + v, e - v);
	r->nheaders++;
	return (0);
}

/* Content-Length as a number (digits only), or -1. */
static int64_t
http_length(const char *v)
{
	int64_t	n = 0;

	if (*v == '\0')
		return (-1);
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10)
			return (-1);
		n = n * 10 + (*v - '0');
	}
	return (n);
}

/*
 * Parse a request head from the first len bytes of buf.  On HTTP_PARSE_OK
 * r is filled (caller frees with http_req_free) and *used is the head's
 * length; the body (content_length bytes) follows.  On a refusal *why
 * says what is wrong.
 */
enum http_parse_result
http_parse_head(const char *buf, size_t len, struct http_req *r,
    size_t *used, const char **why)
{
	const char	*p = buf, *end, *l, *v, *conn;
	size_t		 n, i;
	int64_t		 cl;

	memset(r, 0, sizeof *r);
	r->content_length = -1;
	*why = NULL;
	if ((*used = http_head_end(buf, len < HTTP_HEAD_MAX ? len :
	    HTTP_HEAD_MAX)) == 0)
		return (len >= HTTP_HEAD_MAX ? HTTP_PARSE_TOO_BIG :
		    HTTP_PARSE_MORE);
	end = buf + *used;
	if (memchr(buf, '\0', *used) != NULL) {
		*why = "NUL byte in the request head";
		return (HTTP_PARSE_BAD);
	}
	if ((l = http_line(&p, end, &n)) == NULL ||
	    http_request_line(l, n, r, why) != 0)
		goto bad;
	while ((l = http_line(&p, end, &n)) != NULL && n > 0) {
		if (http_header_line(l, n, r, why) != 0)
			goto bad;
	}
	for (i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].key, "Content-Length") != 0)
			continue;
		if ((cl = http_length(r->headers[i].value)) < 0 ||
		    (r->content_length >= 0 && cl != r->content_length)) {
			*why = "bad Content-Length";
			goto bad;
		}
		r->content_length = cl;
	}
	if ((v = http_header(r, "Transfer-Encoding")) != NULL) {
		*why = "request bodies must have a Content-Length (no "
		    "Transfer-Encoding)";
		http_req_free(r);
		return (HTTP_PARSE_UNSUPPORTED);
	}
	conn = http_header(r, "Connection");
	if (r->minor == 1)
		r->keep_alive = conn == NULL || strcasecmp(conn, "close") != 0;
	else
		r->keep_alive = conn != NULL &&
		    strcasecmp(conn, "keep-alive") == 0;
	return (HTTP_PARSE_OK);
bad:
	if (*why == NULL)
		*why = "bad request head";
	http_req_free(r);
	return (HTTP_PARSE_BAD);
}
