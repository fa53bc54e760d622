/* SPDX-License-Identifier: ISC */
/*
 * util.c -- small helpers of the main node: random tokens and conversions
 * between json-c values and the protocol's string vectors.
 */
#include <sys/random.h>

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "main.h"

/* 32 random bytes as 64 hex characters. */
char *
token_generate(void)
{
	unsigned char	 raw[32];
	char		*hex;
	size_t		 i, got = 0;
	ssize_t		 n;

	while (got < sizeof raw) {
		n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0)
			fatal("getrandom");
		got += (size_t)n;
	}
	hex = xmalloc(sizeof raw * 2 + 1);
	for (i = 0; i < sizeof raw; i++)
		snprintf(hex + i * 2, 3, "%02x", raw[i]);
	return (hex);
}

/* SHA-256 of a string as 64 hex characters; caller frees. */
char *
sha256_hex(const char *s)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	len, i;
	char		*hex;

	EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
	hex = xmalloc(len * 2 + 1);
	for (i = 0; i < len; i++)
		snprintf(hex + i * 2, 3, "%02x", md[i]);
	return (hex);
}

/* The secret of a token: a pinned token "ENC1:<ca hash>:<secret>" carries
 * it after its second colon; a bare one is all secret. */
static const char *
token_secret(const char *t)
{
	const char	*p;

	if (strncmp(t, "ENC1:", 5) == 0 && (p = strchr(t + 5, ':')) != NULL)
		return (p + 1);
	return (t);
}

/* 1 if a presented token is the stored one: the whole pinned text or its
 * bare secret, in constant time. */
int
token_matches(const char *stored, const char *presented)
{
	if (stored == NULL || presented == NULL)
		return (0);
	return (proto_token_equal(token_secret(stored),
	    token_secret(presented)));
}

/* A json array of strings from a vector. */
struct json_object *
json_from_strv(char **v, size_t n)
{
	struct json_object	*a = json_object_new_array();
	size_t			 i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return (a);
}

/* A vector from a json array of strings (other members skipped). */
int
json_to_strv(struct json_object *a, char ***v, size_t *n)
{
	size_t	i, len;

	*v = NULL;
	*n = 0;
	if (!json_object_is_type(a, json_type_array))
		return (-1);
	len = json_object_array_length(a);
	if (len == 0)
		return (0);
	*v = xcalloc(len, sizeof **v);
	for (i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		if (json_object_is_type(e, json_type_string))
			(*v)[(*n)++] = xstrdup(json_object_get_string(e));
	}
	return (0);
}

/* A json object from key/value pairs. */
struct json_object *
json_from_kv(const struct proto_kv *kv, size_t n)
{
	struct json_object	*o = json_object_new_object();
	size_t			 i;

	for (i = 0; i < n; i++)
		json_object_object_add(o, kv[i].key,
		    json_object_new_string(kv[i].value));
	return (o);
}

/* Key/value pairs from a json object of strings. */
int
json_to_kv(struct json_object *o, struct proto_kv **kv, size_t *n)
{
	size_t	len;

	*kv = NULL;
	*n = 0;
	if (!json_object_is_type(o, json_type_object))
		return (-1);
	len = (size_t)json_object_object_length(o);
	if (len == 0)
		return (0);
	*kv = xcalloc(len, sizeof **kv);
	json_object_object_foreach(o, key, val) {
		if (!json_object_is_type(val, json_type_string))
			continue;
		(*kv)[*n].key = xstrdup(key);
		(*kv)[*n].value = xstrdup(json_object_get_string(val));
		(*n)++;
	}
	return (0);
}

/*
 * Copy a peer-supplied name into buf for a table or a log: control
 * characters (C0, DEL, C1) and bytes that are not UTF-8 become '?', so a
 * name cannot move a terminal's cursor or forge a log line.  Returns buf.
 */
char *
text_sanitize(const char *s, char *buf, size_t size)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 o = 0, n, i;
	unsigned int		 cp;

	if (size == 0)
		return (buf);
	while (*p != '\0' && o + 1 < size) {
		if (*p < 0x20 || *p == 0x7f) {
			buf[o++] = '?';
			p++;
			continue;
		}
		if (*p < 0x80) {
			buf[o++] = (char)*p++;
			continue;
		}
		n = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
		    (*p & 0xf8) == 0xf0 ? 4 : 0;
		cp = n == 2 ? *p & 0x1f : n == 3 ? *p & 0x0f : *p & 0x07;
		for (i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				break;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (n == 0 || i < n || (cp >= 0x80 && cp < 0xa0) ||
		    o + n >= size) {
			buf[o++] = '?';
			p++;
			continue;
		}
		memcpy(buf + o, p, n);
		o += n;
		p += n;
	}
	buf[o] = '\0';
	return (buf);
}
