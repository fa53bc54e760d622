/* SPDX-License-Identifier: ISC */
/*
 * msg-encode.c -- struct msg to one JSON line.  The type's table row
 * drives which fields go where; unknown numbers (NAN, -1) travel as null,
 * absent strings and empty optional lists are left out.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "protocol.h"
#include "msg-table.h"

#define CFIELD(m, f, t)	((t const *)(const void *)((const char *)(m) + \
			    (f)->off))
#define CCOUNT(m, f)	((const size_t *)(const void *)((const char *)(m) + \
			    (f)->n_off))

/*
 * Find (creating objects on the way) the object that holds path's last
 * component; *key is set to that component.  NULL if a parent is null.
 */
static struct json_object *
msg_encode_parent(struct json_object *data, const char *path,
    const char **key)
{
	struct json_object	*cur = data, *next;
	const char		*p = path, *dot;
	char			 comp[64];
	size_t			 n;

	while ((dot = strchr(p, '.')) != NULL) {
		n = dot - p;
		if (n >= sizeof comp)
			n = sizeof comp - 1;
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (!json_object_object_get_ex(cur, comp, &next)) {
			next = json_object_new_object();
			json_object_object_add(cur, comp, next);
		}
		if (!json_object_is_type(next, json_type_object))
			return (NULL);
		cur = next;
		p = dot + 1;
	}
	*key = p;
	return (cur);
}

/* A number, or null when it is the field's unknown value or not finite. */
static struct json_object *
msg_encode_double(const struct msg_field *f, double d)
{
	if (!isfinite(d))
		return (NULL);
	if ((f->flags & MF_NULL) && d == f->def)
		return (NULL);
	return (json_object_new_double(d));
}

/* An integer, or null when it is the field's unknown value. */
static struct json_object *
msg_encode_int(const struct msg_field *f, int64_t i)
{
	if ((f->flags & MF_NULL) && (double)i == f->def)
		return (NULL);
	return (json_object_new_int64(i));
}

/* The JSON value of one field; *skip set when it is left out. */
static struct json_object *
msg_encode_field(const struct msg_field *f, const struct msg *m, int *skip)
{
	struct json_object		*v;
	const struct proto_kv		*kv;
	const struct proto_task_ref	*refs;
	const struct proto_file		*files;
	const struct msg_subscribe	*sub;
	char *const			*list;
	const char			*s;
	const double			*load;
	size_t				 i, n;
	int				 e;

	*skip = 0;
	switch (f->kind) {
	case MF_OBJECT:
		if (f->off != MF_NO_OFF && *CFIELD(m, f, int) == -1)
			return (NULL);
		return (json_object_new_object());
	case MF_STRING:
	case MF_TASK_ID:
		if ((s = *CFIELD(m, f, char *)) == NULL)
			break;
		return (json_object_new_string(s));
	case MF_BYTES:
		if ((s = *CFIELD(m, f, char *)) == NULL)
			break;
		return (json_object_new_string_len(s, (int)*CCOUNT(m, f)));
	case MF_INT:
	case MF_BOOL:
		if (f->kind == MF_BOOL)
			return (json_object_new_boolean(*CFIELD(m, f, int)));
		return (msg_encode_int(f, *CFIELD(m, f, int)));
	case MF_INT64:
		return (msg_encode_int(f, *CFIELD(m, f, int64_t)));
	case MF_DOUBLE:
		return (msg_encode_double(f, *CFIELD(m, f, double)));
	case MF_ENUM:
		e = *CFIELD(m, f, int);
		if (e < f->min || e > f->max)
			break;
		return (json_object_new_string(f->names[e]));
	case MF_CODE:
		return (json_object_new_string(proto_code_name(
		    *CFIELD(m, f, enum proto_code))));
	case MF_STRLIST:
		n = *CCOUNT(m, f);
		if (n == 0 && !(f->flags & MF_REQUIRED))
			break;
		list = *CFIELD(m, f, char **);
		v = json_object_new_array_ext(n > 0 ? (int)n : 1);
		for (i = 0; i < n; i++) {
			json_object_array_add(v, json_object_new_string(
			    list[i] != NULL ? list[i] : ""));
		}
		return (v);
	case MF_KVMAP:
		n = *CCOUNT(m, f);
		if (n == 0 && !(f->flags & MF_REQUIRED))
			break;
		kv = *CFIELD(m, f, struct proto_kv *);
		v = json_object_new_object();
		for (i = 0; i < n; i++) {
			if (kv[i].key == NULL)
				continue;
			json_object_object_add(v, kv[i].key,
			    json_object_new_string(kv[i].value != NULL ?
			    kv[i].value : ""));
		}
		return (v);
	case MF_REFLIST:
		n = *CCOUNT(m, f);
		if (n == 0 && !(f->flags & MF_REQUIRED))
			break;
		refs = *CFIELD(m, f, struct proto_task_ref *);
		v = json_object_new_array_ext(n > 0 ? (int)n : 1);
		for (i = 0; i < n; i++) {
			struct json_object	*o = json_object_new_object();

			json_object_object_add(o, "task_id",
			    json_object_new_string(refs[i].task_id != NULL ?
			    refs[i].task_id : ""));
			json_object_object_add(o, "attempt",
			    json_object_new_int(refs[i].attempt));
			json_object_array_add(v, o);
		}
		return (v);
	case MF_FILELIST:
		n = *CCOUNT(m, f);
		if (n == 0 && !(f->flags & MF_REQUIRED))
			break;
		files = *CFIELD(m, f, struct proto_file *);
		v = json_object_new_array_ext(n > 0 ? (int)n : 1);
		for (i = 0; i < n; i++) {
			struct json_object	*o = json_object_new_object();

			json_object_object_add(o, "name",
			    json_object_new_string(files[i].name != NULL ?
			    files[i].name : ""));
			json_object_object_add(o, "sha256",
			    json_object_new_string(files[i].sha256 != NULL ?
			    files[i].sha256 : ""));
			json_object_object_add(o, "size",
			    json_object_new_int64(files[i].size));
			json_object_object_add(o, "mode",
			    json_object_new_int(files[i].mode));
			json_object_array_add(v, o);
		}
		return (v);
	case MF_LOAD3:
		load = CFIELD(m, f, double);
		if (isnan(load[0]) && isnan(load[1]) && isnan(load[2]))
			return (NULL);
		v = json_object_new_array_ext(3);
		for (i = 0; i < 3; i++) {
			json_object_array_add(v, isfinite(load[i]) ?
			    json_object_new_double(load[i]) : NULL);
		}
		return (v);
	case MF_TOPICS:
		sub = CFIELD(m, f, struct msg_subscribe);
		v = json_object_new_array();
		if (sub->devices)
			json_object_array_add(v, json_object_new_string(
			    "devices"));
		if (sub->tasks)
			json_object_array_add(v, json_object_new_string(
			    "tasks"));
		return (v);
	case MF_JSON:
		break;
	}
	*skip = 1;
	return (NULL);
}

/* Build the data object of m, or NULL when it has nothing to say. */
static struct json_object *
msg_encode_data(const struct msg *m)
{
	const struct msg_entry	*e = msg_table_entry(m->type);
	const struct msg_field	*f;
	struct json_object	*data, *parent, *v, *old;
	const char		*key;
	size_t			 i;
	int			 skip;

	if (e->nfields == 1 && e->fields[0].kind == MF_JSON)
		return (json_object_get(*CFIELD(m, &e->fields[0],
		    struct json_object *)));
	data = json_object_new_object();
	for (i = 0; i < e->nfields; i++) {
		f = &e->fields[i];
		if ((parent = msg_encode_parent(data, f->path, &key)) == NULL)
			continue;	/* under a null object */
		if (f->kind == MF_OBJECT &&
		    json_object_object_get_ex(parent, key, &old))
			continue;
		v = msg_encode_field(f, m, &skip);
		if (!skip)
			json_object_object_add(parent, key, v);
	}
	if (json_object_object_length(data) == 0) {
		json_object_put(data);
		return (NULL);
	}
	return (data);
}

/* Add an envelope string if set. */
static void
msg_encode_envelope(struct json_object *root, const char *key,
    const char *value)
{
	if (value != NULL)
		json_object_object_add(root, key,
		    json_object_new_string(value));
}

/* Encode m as one line ending in "\n"; the caller frees it. */
char *
msg_encode(const struct msg *m, size_t *len)
{
	struct json_object	*root, *data;
	const char		*s;
	char			*line, now[32];
	size_t			 n;

	root = json_object_new_object();
	json_object_object_add(root, "message_type",
	    json_object_new_string(msg_type_name(m->type)));
	msg_encode_envelope(root, "sender_id", m->sender_id);
	msg_encode_envelope(root, "target_id", m->target_id);
	msg_encode_envelope(root, "message_id", m->message_id);
	msg_encode_envelope(root, "reply_to", m->reply_to);
	msg_encode_envelope(root, "timestamp", m->timestamp != NULL ?
	    m->timestamp : proto_timestamp(now, sizeof now));
	if (m->protocol_version != 0) {
		json_object_object_add(root, "protocol_version",
		    json_object_new_int(m->protocol_version));
	}
	if ((data = msg_encode_data(m)) != NULL)
		json_object_object_add(root, "data", data);

	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(s);
	line = xmalloc(n + 2);
	memcpy(line, s, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	json_object_put(root);
	if (len != NULL)
		*len = n + 1;
	return (line);
}

/* Encode m and append the line to evb. */
int
msg_write(struct evbuffer *evb, const struct msg *m)
{
	char	*line;
	size_t	 len;
	int	 r;

	line = msg_encode(m, &len);
	r = evbuffer_add(evb, line, len);
	free(line);
	return (r == 0 ? 0 : -1);
}

/* Append an `error` message. */
int
msg_write_error(struct evbuffer *evb, const char *reply_to,
    enum proto_code code, const char *message)
{
	struct msg	m;
	int		r;

	msg_init(&m, MSG_ERROR);
	if (reply_to != NULL)
		m.reply_to = xstrdup(reply_to);
	m.u.error.code = code;
	m.u.error.message = xstrdup(message != NULL ? message : "");
	r = msg_write(evb, &m);
	msg_free(&m);
	return (r);
}

/* Append a failed `reply`: {"ok": false, "error": {code, message}}. */
int
msg_write_reply_error(struct evbuffer *evb, const char *reply_to,
    enum proto_code code, const char *message)
{
	struct msg		 m;
	struct json_object	*error;
	int			 r;

	msg_init(&m, MSG_REPLY);
	if (reply_to != NULL)
		m.reply_to = xstrdup(reply_to);
	m.u.json = json_object_new_object();
	json_object_object_add(m.u.json, "ok", json_object_new_boolean(0));
	error = json_object_new_object();
	json_object_object_add(error, "code",
	    json_object_new_string(proto_code_name(code)));
	json_object_object_add(error, "message",
	    json_object_new_string(message != NULL ? message : ""));
	json_object_object_add(m.u.json, "error", error);
	r = msg_write(evb, &m);
	msg_free(&m);
	return (r);
}
