/* SPDX-License-Identifier: ISC */
/*
 * msg-decode.c -- one line of JSON into a validated struct msg.  The parse
 * is depth-limited, strict and UTF-8 checked; then the envelope is checked
 * and the type's table row drives the checks of data (msg-validate.c).
 * Handlers only ever see the struct.
 */
#include <json-c/json.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "msg-table.h"

#define TIMESTAMP_MAX	64
#define VERSION_MAX	65535

/* Say why json-c could not parse the line. */
static void
msg_decode_json_error(struct json_tokener *tok, const char *line, size_t len,
    struct proto_err *err)
{
	enum json_tokener_error	 jerr = json_tokener_get_error(tok);
	size_t			 at = json_tokener_get_parse_end(tok), i;

	for (i = 0; i < len && strchr(" \t\r", line[i]) != NULL; i++)
		;
	if (i < len && line[i] != '{') {
		proto_err_set(err, PROTO_BAD_JSON, "a line must be one JSON "
		    "object ({...}), this one starts with '%c'",
		    (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?');
		return;
	}
	switch (jerr) {
	case json_tokener_continue:
		proto_err_set(err, PROTO_BAD_JSON, "the JSON object is not "
		    "complete: the line ends after %zu bytes before its "
		    "closing '}'", len);
		break;
	case json_tokener_error_depth:
		proto_err_set(err, PROTO_BAD_JSON, "JSON nested deeper than "
		    "%d levels (at byte %zu)", PROTO_DEPTH_MAX, at);
		break;
	case json_tokener_error_parse_utf8_string:
		proto_err_set(err, PROTO_BAD_JSON, "the line is not valid "
		    "UTF-8 (at byte %zu)", at);
		break;
	default:
		proto_err_set(err, PROTO_BAD_JSON, "invalid JSON at byte %zu: "
		    "%s", at, json_tokener_error_desc(jerr));
		break;
	}
}

/*
 * Check s is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), which json-c alone does not fully enforce.
 * Returns the offset of the first bad byte, or len.
 */
static size_t
msg_decode_utf8(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n, k;
	uint32_t		 cp, min;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = p[i] & 0x1f;
			min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = p[i] & 0x0f;
			min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = p[i] & 0x07;
			min = 0x10000;
		} else
			return (i);
		if (len - i <= n)
			return (i);
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return (i);
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (i);
		i += n + 1;
	}
	return (len);
}

/* Parse a line into a JSON object, or fill err. */
static struct json_object *
msg_decode_parse(const char *line, size_t len, struct proto_err *err)
{
	static struct json_tokener	*tok;
	struct json_object		*root;
	size_t				 i;

	for (i = 0; i < len && strchr(" \t\r", line[i]) != NULL; i++)
		;
	if (i == len) {
		proto_err_set(err, PROTO_BAD_JSON, "empty line: expected a "
		    "JSON object");
		return (NULL);
	}
	if (memchr(line, '\0', len) != NULL) {
		proto_err_set(err, PROTO_BAD_JSON, "the line holds a NUL byte "
		    "at byte %zu", (size_t)((const char *)memchr(line, '\0',
		    len) - line));
		return (NULL);
	}
	if ((i = msg_decode_utf8(line, len)) != len) {
		proto_err_set(err, PROTO_BAD_JSON, "the line is not valid "
		    "UTF-8 (at byte %zu)", i);
		return (NULL);
	}
	if (len > INT_MAX) {
		proto_err_set(err, PROTO_BAD_JSON, "line too long to parse");
		return (NULL);
	}

	/* One tokener serves every line (the programs are single-threaded);
	 * UTF-8 was checked above, with a better message. */
	if (tok == NULL) {
		if ((tok = json_tokener_new_ex(PROTO_DEPTH_MAX)) == NULL)
			fatalx("json_tokener_new_ex failed");
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	}
	json_tokener_reset(tok);
	root = json_tokener_parse_ex(tok, line, (int)len);
	if (root == NULL) {
		msg_decode_json_error(tok, line, len, err);
		return (NULL);
	}
	if (json_tokener_get_parse_end(tok) < len) {
		proto_err_set(err, PROTO_BAD_JSON, "unexpected text after the "
		    "JSON object at byte %zu: send one object per line",
		    json_tokener_get_parse_end(tok));
		json_object_put(root);
		return (NULL);
	}
	if (!json_object_is_type(root, json_type_object)) {
		proto_err_set(err, PROTO_BAD_JSON, "a line must be one JSON "
		    "object ({...}), this one is a JSON %s",
		    json_type_to_name(json_object_get_type(root)));
		json_object_put(root);
		return (NULL);
	}
	return (root);
}

/*
 * Copy an optional envelope string (or, with int_ok, an integer as its
 * decimal text) into *dst.
 */
static int
msg_decode_envelope_string(struct json_object *root, const char *key,
    size_t max, int int_ok, char **dst, struct proto_err *err)
{
	struct json_object	*v;
	const char		*s;
	char			 got[48];
	int			 len;

	if (!json_object_object_get_ex(root, key, &v) || v == NULL)
		return (0);
	if (int_ok && json_object_is_type(v, json_type_int)) {
		*dst = xstrdup(json_object_to_json_string(v));
		return (0);
	}
	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		len = json_object_get_string_len(v);
		if (len >= 0 && (size_t)len <= max &&
		    memchr(s, '\0', len) == NULL) {
			*dst = xstrdup(s);
			return (0);
		}
	}
	proto_err_set(err, PROTO_BAD_FIELD, "%s: expected a string of at most "
	    "%zu bytes%s, got %s", key, max, int_ok ? " or an integer" : "",
	    msg_describe(v, got, sizeof got));
	return (-1);
}

/* Find and check message_type; MSG_UNKNOWN with err filled if bad. */
static enum msg_type
msg_decode_type(struct json_object *root, struct proto_err *err)
{
	struct json_object	*v;
	enum msg_type		 type;
	char			 got[48];

	if (!json_object_object_get_ex(root, "message_type", &v) ||
	    v == NULL) {
		proto_err_set(err, PROTO_BAD_FIELD, "message_type is "
		    "required: every line needs \"message_type\", e.g. "
		    "\"heartbeat\"");
		return (MSG_UNKNOWN);
	}
	if (!json_object_is_type(v, json_type_string)) {
		proto_err_set(err, PROTO_BAD_FIELD, "message_type: expected a "
		    "string, got %s", msg_describe(v, got, sizeof got));
		return (MSG_UNKNOWN);
	}
	type = msg_type_from_name(json_object_get_string(v));
	if (type == MSG_UNKNOWN) {
		proto_err_set(err, PROTO_UNKNOWN_TYPE, "message_type %s is not "
		    "a message this side knows (see PROTOCOL.md)",
		    msg_describe(v, got, sizeof got));
	}
	return (type);
}

/* Check and copy the envelope fields other than message_type. */
static int
msg_decode_envelope(struct json_object *root, struct msg *m,
    struct proto_err *err)
{
	struct json_object	*v;
	char			 got[48];
	int64_t			 ver;

	if (msg_decode_envelope_string(root, "sender_id", PROTO_ID_MAX, 0,
	    &m->sender_id, err) != 0 ||
	    msg_decode_envelope_string(root, "target_id", PROTO_ID_MAX, 0,
	    &m->target_id, err) != 0 ||
	    msg_decode_envelope_string(root, "message_id", PROTO_ID_MAX, 1,
	    &m->message_id, err) != 0 ||
	    msg_decode_envelope_string(root, "reply_to", PROTO_ID_MAX, 1,
	    &m->reply_to, err) != 0 ||
	    msg_decode_envelope_string(root, "timestamp", TIMESTAMP_MAX, 0,
	    &m->timestamp, err) != 0)
		return (-1);

	if (json_object_object_get_ex(root, "protocol_version", &v) &&
	    v != NULL) {
		ver = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || ver < 1 ||
		    ver > VERSION_MAX) {
			proto_err_set(err, PROTO_BAD_FIELD, "protocol_version: "
			    "expected an integer 1..%d, got %s", VERSION_MAX,
			    msg_describe(v, got, sizeof got));
			return (-1);
		}
		m->protocol_version = (int)ver;
	}
	return (0);
}

/* Check data against the type's table and fill m. */
static int
msg_decode_data(struct json_object *root, struct msg *m,
    struct proto_err *err)
{
	const struct msg_entry	*e = msg_table_entry(m->type);
	const struct msg_field	*f;
	struct json_object	*data = NULL, *v;
	struct msg_parent	 parent = { NULL, 0, NULL };
	char			 got[48];
	size_t			 i;
	int			 absent;

	if (json_object_object_get_ex(root, "data", &data) && data != NULL &&
	    !json_object_is_type(data, json_type_object)) {
		proto_err_set(err, PROTO_BAD_FIELD, "data: expected an "
		    "object, got %s", msg_describe(data, got, sizeof got));
		return (-1);
	}
	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		v = msg_field_lookup_at(data, f->path, &parent, &absent);
		if (absent)
			continue;
		if (v == NULL || json_object_is_type(v, json_type_null)) {
			if (f->flags & MF_REQUIRED)
				return (msg_field_missing(f, v, err));
			continue;
		}
		if (msg_field_decode(f, v, m, err) != 0)
			return (-1);
	}
	if (e->check != NULL && e->check(m, data, err) != 0)
		return (-1);
	return (0);
}

/* Decode one line into m; on error m is left zeroed and err says why. */
int
msg_decode(const char *line, size_t len, struct msg *m,
    struct proto_err *err)
{
	struct json_object	*root;
	enum msg_type		 type;

	memset(m, 0, sizeof *m);
	proto_err_set(err, PROTO_OK, "ok");
	if (err != NULL)
		err->type = MSG_UNKNOWN;
	if ((root = msg_decode_parse(line, len, err)) == NULL)
		return (-1);
	if ((type = msg_decode_type(root, err)) == MSG_UNKNOWN)
		goto fail;
	if (err != NULL)
		err->type = type;
	msg_init(m, type);
	if (msg_decode_envelope(root, m, err) != 0)
		goto fail;
	if (msg_decode_data(root, m, err) != 0)
		goto fail;
	json_object_put(root);
	return (0);

fail:
	msg_free(m);
	json_object_put(root);
	return (-1);
}
