/* SPDX-License-Identifier: ISC */
/*
 * msg-validate.c -- table-driven field checks and conversion: one JSON
 * value against one struct msg_field (type, range, length, allowed values),
 * stored into struct msg at the field's offset.  Also the per-field
 * default, free and compare used by msg_init, msg_free and msg_equal.
 *
 * Every error names the field by its full path and says what was expected
 * and what came, so a person can fix the sender.
 */
#include <json-c/json.h>
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "msg-table.h"

#define FIELD(m, f, t)	((t *)(void *)((char *)(m) + (f)->off))
#define COUNT(m, f)	((size_t *)(void *)((char *)(m) + (f)->n_off))
#define CFIELD(m, f, t)	((t const *)(const void *)((const char *)(m) + \
			    (f)->off))
#define CCOUNT(m, f)	((const size_t *)(const void *)((const char *)(m) + \
			    (f)->n_off))

#define WIRE_INT_BIG	9007199254740992.0	/* shown as ">= min" */
#define DESCRIBE_MAX	48			/* bytes of a bad value shown */
#define KEY_SHOWN_MAX	32

/* Copy s, or its first size - 4 bytes cut at a UTF-8 boundary and "...". */
static char *
msg_clip(const char *s, size_t len, char *buf, size_t size)
{
	size_t	n;

	if (len < size) {
		memcpy(buf, s, len);
		buf[len] = '\0';
		return (buf);
	}
	n = size - 4;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(buf, s, n);
	memcpy(buf + n, "...", 4);
	return (buf);
}

/* Show a JSON value briefly, for "got ..." in an error. */
char *
msg_describe(struct json_object *v, char *buf, size_t size)
{
	const char	*s;

	if (v == NULL)
		return (msg_clip("nothing", 7, buf, size));
	s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	return (msg_clip(s, strlen(s), buf, size < DESCRIBE_MAX ? size :
	    DESCRIBE_MAX));
}

/* Append the allowed names of a field, quoted, to buf. */
static void
msg_expect_names(const char *const *names, int lo, int hi, char *buf,
    size_t size)
{
	size_t	used;
	int	i;

	snprintf(buf, size, "%s", "one of ");
	for (i = lo; i <= hi && names[i] != NULL; i++) {
		used = strlen(buf);
		snprintf(buf + used, size - used, "%s\"%s\"",
		    i == lo ? "" : ", ", names[i]);
	}
}

/* Say in words what a field accepts. */
static char *
msg_expect(const struct msg_field *f, char *buf, size_t size)
{
	int	n;

	switch (f->kind) {
	case MF_OBJECT:
	case MF_JSON:
		snprintf(buf, size, "%s", "an object");
		break;
	case MF_STRING:
		if (f->flags & MF_SHA256)
			snprintf(buf, size, "%s", "a SHA-256: 64 lowercase hex "
			    "digits");
		else if (f->names != NULL) {
			for (n = 0; f->names[n] != NULL; n++)
				;
			msg_expect_names(f->names, 0, n - 1, buf, size);
		} else
			snprintf(buf, size, "a %sstring of at most %.0f bytes",
			    f->min > 0 ? "non-empty " : "", f->max);
		break;
	case MF_BYTES:
		snprintf(buf, size, "a string of at most %.0f bytes", f->max);
		break;
	case MF_TASK_ID:
		snprintf(buf, size, "a task id (a non-empty string of at most "
		    "%.0f bytes, or an integer >= 0)", f->max);
		break;
	case MF_INT:
	case MF_INT64:
		if (f->max >= WIRE_INT_BIG)
			snprintf(buf, size, "an integer >= %.0f", f->min);
		else
			snprintf(buf, size, "an integer %.0f..%.0f", f->min,
			    f->max);
		break;
	case MF_DOUBLE:
		snprintf(buf, size, "a number %g..%g", f->min, f->max);
		break;
	case MF_BOOL:
		snprintf(buf, size, "%s", "true or false");
		break;
	case MF_ENUM:
		msg_expect_names(f->names, (int)f->min, (int)f->max, buf, size);
		break;
	case MF_CODE:
		snprintf(buf, size, "%s", "an error code name such as \"bad_field\"");
		break;
	case MF_STRLIST:
		snprintf(buf, size, "an array of %.0f..%.0f strings", f->min,
		    f->max);
		break;
	case MF_KVMAP:
		snprintf(buf, size, "an object of at most %.0f string values",
		    f->max);
		break;
	case MF_REFLIST:
		snprintf(buf, size, "an array of at most %.0f "
		    "{\"task_id\", \"attempt\"} objects", f->max);
		break;
	case MF_FILELIST:
		snprintf(buf, size, "an array of at most %.0f "
		    "{\"name\", \"sha256\", \"size\", \"mode\"} objects",
		    f->max);
		break;
	case MF_LOAD3:
		snprintf(buf, size, "an array of 3 numbers %g..%g (1, 5 and "
		    "15 minute load)", f->min, f->max);
		break;
	case MF_TOPICS:
		snprintf(buf, size, "an array of 1..%.0f topics, each "
		    "\"devices\" or \"tasks\"", f->max);
		break;
	}
	return (buf);
}

/* Fail with "PATH: expected WHAT, got VALUE". */
static int
msg_bad(struct proto_err *err, const char *path, const char *what,
    struct json_object *v)
{
	char	got[DESCRIBE_MAX];

	proto_err_set(err, PROTO_BAD_FIELD, "%s: expected %s, got %s", path,
	    what, msg_describe(v, got, sizeof got));
	return (-1);
}

/* The field's path as errors name it, "data.PATH", into buf.  Made only
 * when an error needs it: a line decodes a dozen fields. */
static const char *
msg_field_path(const struct msg_field *f, char *buf, size_t size)
{
	snprintf(buf, size, "data%s%s", *f->path != '\0' ? "." : "",
	    f->path);
	return (buf);
}

/* Fail with the field's own expectation.  A secret's value is never
 * shown, only its type and length (errors reach logs and peers). */
static int
msg_bad_field(struct proto_err *err, const struct msg_field *f,
    struct json_object *v)
{
	char	what[512], path[160];

	msg_field_path(f, path, sizeof path);

	if (f->flags & MF_SECRET) {
		msg_expect(f, what, sizeof what);
		if (json_object_is_type(v, json_type_string))
			proto_err_set(err, PROTO_BAD_FIELD, "%s: expected %s, "
			    "got a string of %d bytes (not shown)", path, what,
			    json_object_get_string_len(v));
		else
			proto_err_set(err, PROTO_BAD_FIELD, "%s: expected %s, "
			    "got a %s (not shown)", path, what,
			    json_type_to_name(json_object_get_type(v)));
		return (-1);
	}
	return (msg_bad(err, path, msg_expect(f, what, sizeof what), v));
}

/*
 * Find path (dotted) under data.  *absent is set when a parent object is
 * missing or null, so the field is not looked at at all.  With pc, the
 * parent found is kept there and used again by the next path under the
 * same one (a heartbeat's metrics are nine fields of one object).
 */
struct json_object *
msg_field_lookup_at(struct json_object *data, const char *path,
    struct msg_parent *pc, int *absent)
{
	struct json_object	*cur = data, *next;
	const char		*p = path, *dot, *last;
	char			 key[64];
	size_t			 n, plen;

	*absent = 0;
	if (*path == '\0')
		return (data);
	if (data == NULL)
		return (NULL);
	if ((last = strrchr(path, '.')) != NULL) {
		plen = (size_t)(last - path);
		if (pc != NULL && pc->path != NULL && pc->len == plen &&
		    memcmp(pc->path, path, plen) == 0)
			cur = pc->obj;
		else {
			while ((dot = strchr(p, '.')) != NULL) {
				n = (size_t)(dot - p);
				if (n >= sizeof key)
					n = sizeof key - 1;
				memcpy(key, p, n);
				key[n] = '\0';
				if (!json_object_object_get_ex(cur, key,
				    &next) || !json_object_is_type(next,
				    json_type_object)) {
					cur = NULL;
					break;
				}
				cur = next;
				p = dot + 1;
			}
			if (pc != NULL) {
				pc->path = path;
				pc->len = plen;
				pc->obj = cur;
			}
		}
		if (cur == NULL) {
			*absent = 1;
			return (NULL);
		}
		p = last + 1;
	}
	if (!json_object_is_type(cur, json_type_object))
		return (NULL);
	if (!json_object_object_get_ex(cur, p, &next))
		return (NULL);
	return (next);
}

/* The same without keeping the parent. */
struct json_object *
msg_field_lookup(struct json_object *data, const char *path, int *absent)
{
	return (msg_field_lookup_at(data, path, NULL, absent));
}

/* Check a string value: its length in lo..hi and no NUL unless allowed. */
static int
msg_string_ok(struct json_object *v, double lo, double hi, int nul_ok,
    const char **s, size_t *len)
{
	int	n;

	if (!json_object_is_type(v, json_type_string))
		return (0);
	n = json_object_get_string_len(v);
	*s = json_object_get_string(v);
	*len = n < 0 ? 0 : (size_t)n;
	if ((double)*len < lo || (double)*len > hi)
		return (0);
	if (!nul_ok && memchr(*s, '\0', *len) != NULL)
		return (0);
	return (1);
}

/* Check an integer value is in lo..hi. */
static int
msg_int_ok(struct json_object *v, double lo, double hi, int64_t *out)
{
	int64_t	i;

	if (!json_object_is_type(v, json_type_int))
		return (0);
	i = json_object_get_int64(v);
	if ((double)i < lo || (double)i > hi)
		return (0);
	/* Above INT64_MAX json-c saturates; such values are out of range. */
	if (i == INT64_MAX)
		return (0);
	*out = i;
	return (1);
}

/* Check a number (integer or not) is finite and in lo..hi. */
static int
msg_number_ok(struct json_object *v, double lo, double hi, double *out)
{
	double	d;

	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return (0);
	d = json_object_get_double(v);
	if (!isfinite(d) || d < lo || d > hi)
		return (0);
	*out = d;
	return (1);
}

/* Decode a task id: a non-empty string, or an integer >= 0 as text. */
static char *
msg_task_id(struct json_object *v)
{
	const char	*s;
	size_t		 len;
	int64_t		 i;

	if (msg_string_ok(v, 1, PROTO_ID_MAX, 0, &s, &len))
		return (xstrdup(s));
	if (msg_int_ok(v, 0, (double)INT64_MAX, &i)) {
		char	buf[32];

		snprintf(buf, sizeof buf, "%lld", (long long)i);
		return (xstrdup(buf));
	}
	return (NULL);
}

/* Check an env variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int
msg_env_key_ok(const char *k)
{
	if (!isalpha((unsigned char)*k) && *k != '_')
		return (0);
	for (k++; *k != '\0'; k++) {
		if (!isalnum((unsigned char)*k) && *k != '_')
			return (0);
	}
	return (1);
}

/*
 * The start every list field shares: v must be an array of min..max
 * items (*n); a non-empty one gets an array of as many items of size
 * bytes, zeroed, in the message's field (the caller reads it back with
 * the field's own type), with its count.  0, or -1 with err set.
 */
static int
msg_list_start(const struct msg_field *f, struct json_object *v,
    struct msg *m, size_t size, size_t *n, struct proto_err *err)
{
	void	*items;

	*n = 0;
	if (!json_object_is_type(v, json_type_array))
		return (msg_bad_field(err, f, v));
	*n = json_object_array_length(v);
	if ((double)*n < f->min || (double)*n > f->max)
		return (msg_bad_field(err, f, v));
	if (*n == 0)
		return (0);
	items = xcalloc(*n, size);
	memcpy(FIELD(m, f, char), &items, sizeof items);
	*COUNT(m, f) = *n;
	return (0);
}

/* Fail on item i of list field f (its member sub, if any). */
static int
msg_bad_item(struct proto_err *err, const struct msg_field *f, size_t i,
    const char *sub, const char *what, struct json_object *v)
{
	char	path[160], ipath[192];

	snprintf(ipath, sizeof ipath, "%s[%zu]%s%s",
	    msg_field_path(f, path, sizeof path), i, sub != NULL ? "." : "",
	    sub != NULL ? sub : "");
	return (msg_bad(err, ipath, what, v));
}

/* Decode an array of strings. */
static int
msg_decode_strlist(const struct msg_field *f, struct json_object *v,
    struct msg *m, struct proto_err *err)
{
	struct json_object	*item;
	char			**list, what[128];
	const char		 *s;
	size_t			  n, i, len;

	if (msg_list_start(f, v, m, sizeof *list, &n, err) != 0)
		return (-1);
	list = *FIELD(m, f, char **);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(v, i);
		if (!msg_string_ok(item, 0, f->len, 0, &s, &len)) {
			snprintf(what, sizeof what, "a string of at most %zu "
			    "bytes", f->len);
			return (msg_bad_item(err, f, i, NULL, what, item));
		}
		list[i] = xstrdup(s);
	}
	return (0);
}

/* What is wrong with one key and value of an object of strings. */
enum kv_bad { KV_OK, KV_BAD_KEY, KV_BAD_ENV_KEY, KV_BAD_VALUE };

/* Fail on key of object field f; its path is made only here. */
static int
msg_bad_kv(struct proto_err *err, const struct msg_field *f,
    const char *key, size_t klen, struct json_object *val, enum kv_bad bad)
{
	char	path[160], kpath[256], what[128];
	char	shown[KEY_SHOWN_MAX + 4];

	msg_clip(key, klen, shown, sizeof shown);
	snprintf(kpath, sizeof kpath, "%s.%s",
	    msg_field_path(f, path, sizeof path), shown);
	switch (bad) {
	case KV_BAD_KEY:
		proto_err_set(err, PROTO_BAD_FIELD, "%s: keys must be "
		    "1..%d bytes", kpath, PROTO_NAME_MAX);
		return (-1);
	case KV_BAD_ENV_KEY:
		proto_err_set(err, PROTO_BAD_FIELD, "%s: not a valid "
		    "variable name: use letters, digits and _, not "
		    "starting with a digit", kpath);
		return (-1);
	default:
		snprintf(what, sizeof what, "a string of at most %zu bytes",
		    f->len);
		return (msg_bad(err, kpath, what, val));
	}
}

/* Decode an object of string values. */
static int
msg_decode_kvmap(const struct msg_field *f, struct json_object *v,
    struct msg *m, struct proto_err *err)
{
	struct proto_kv	*kv;
	const char	*s;
	size_t		 n, i = 0, len, klen;
	enum kv_bad	 bad;

	if (!json_object_is_type(v, json_type_object))
		return (msg_bad_field(err, f, v));
	n = (size_t)json_object_object_length(v);
	if ((double)n > f->max)
		return (msg_bad_field(err, f, v));
	if (n == 0)
		return (0);
	kv = xcalloc(n, sizeof *kv);
	*FIELD(m, f, struct proto_kv *) = kv;
	*COUNT(m, f) = n;
	json_object_object_foreach(v, key, val) {
		klen = strlen(key);
		if (klen == 0 || klen > PROTO_NAME_MAX)
			bad = KV_BAD_KEY;
		else if ((f->flags & MF_ENVKEYS) && !msg_env_key_ok(key))
			bad = KV_BAD_ENV_KEY;
		else if (!msg_string_ok(val, 0, f->len, 0, &s, &len))
			bad = KV_BAD_VALUE;
		else
			bad = KV_OK;
		if (bad != KV_OK)
			return (msg_bad_kv(err, f, key, klen, val, bad));
		kv[i].key = xstrdup(key);
		kv[i].value = xstrdup(s);
		i++;
	}
	return (0);
}

/* Decode an array of {task_id, attempt}. */
static int
msg_decode_reflist(const struct msg_field *f, struct json_object *v,
    struct msg *m, struct proto_err *err)
{
	struct proto_task_ref	*refs;
	struct json_object	*item, *id, *at;
	char			 what[160];
	size_t			 n, i;
	int64_t			 a;

	if (msg_list_start(f, v, m, sizeof *refs, &n, err) != 0)
		return (-1);
	refs = *FIELD(m, f, struct proto_task_ref *);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(v, i);
		if (!json_object_is_type(item, json_type_object))
			return (msg_bad_item(err, f, i, NULL, "an object "
			    "with task_id and attempt", item));
		id = at = NULL;
		json_object_object_get_ex(item, "task_id", &id);
		json_object_object_get_ex(item, "attempt", &at);
		if ((refs[i].task_id = msg_task_id(id)) == NULL) {
			snprintf(what, sizeof what, "a task id (a non-empty "
			    "string of at most %d bytes, or an integer >= 0)",
			    PROTO_ID_MAX);
			return (msg_bad_item(err, f, i, "task_id", what,
			    id));
		}
		if (!msg_int_ok(at, 1, 1000000, &a))
			return (msg_bad_item(err, f, i, "attempt",
			    "an integer 1..1000000", at));
		refs[i].attempt = (int)a;
	}
	return (0);
}

/* Decode a list of files: [{name, sha256, size, mode}]. */
static int
msg_decode_filelist(const struct msg_field *f, struct json_object *v,
    struct msg *m, struct proto_err *err)
{
	struct proto_file	*files;
	struct json_object	*item, *name, *sha, *size, *mode;
	const char		*why;
	size_t			 n, i, j;
	int64_t			 x;

	if (msg_list_start(f, v, m, sizeof *files, &n, err) != 0)
		return (-1);
	files = *FIELD(m, f, struct proto_file *);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(v, i);
		if (!json_object_is_type(item, json_type_object))
			return (msg_bad_item(err, f, i, NULL, "an object "
			    "with name, sha256 and size", item));
		name = sha = size = mode = NULL;
		json_object_object_get_ex(item, "name", &name);
		json_object_object_get_ex(item, "sha256", &sha);
		json_object_object_get_ex(item, "size", &size);
		json_object_object_get_ex(item, "mode", &mode);
		if (!json_object_is_type(name, json_type_string))
			return (msg_bad_item(err, f, i, "name",
			    "a relative path", name));
		if (!proto_file_name_ok(json_object_get_string(name), &why)) {
			char	path[160], got[48];

			proto_err_set(err, PROTO_BAD_FIELD, "%s[%zu].name: the "
			    "name %s, got %s", msg_field_path(f, path,
			    sizeof path), i, why, msg_describe(name, got,
			    sizeof got));
			return (-1);
		}
		files[i].name = xstrdup(json_object_get_string(name));
		if (!json_object_is_type(sha, json_type_string) ||
		    !proto_sha256_ok(json_object_get_string(sha)))
			return (msg_bad_item(err, f, i, "sha256",
			    "64 lowercase hex digits", sha));
		files[i].sha256 = xstrdup(json_object_get_string(sha));
		if (!msg_int_ok(size, 0, WIRE_INT_BIG, &x))
			return (msg_bad_item(err, f, i, "size",
			    "an integer >= 0", size));
		files[i].size = x;
		files[i].mode = 0644;
		if (mode != NULL && !json_object_is_type(mode,
		    json_type_null)) {
			if (!msg_int_ok(mode, 0, 07777, &x))
				return (msg_bad_item(err, f, i, "mode",
				    "permission bits, an integer 0..4095 "
				    "(e.g. 420 for 0644)", mode));
			files[i].mode = (int)x;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(files[j].name, files[i].name) == 0)
				return (msg_bad_item(err, f, i, "name",
				    "a name not given twice", name));
		}
	}
	return (0);
}

/* Decode the three load averages; null entries are unknown. */
static int
msg_decode_load3(const struct msg_field *f, struct json_object *v,
    struct msg *m, struct proto_err *err)
{
	struct json_object	*item;
	double			*load = FIELD(m, f, double), d;
	size_t			 i;

	if (!json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) != 3)
		return (msg_bad_field(err, f, v));
	for (i = 0; i < 3; i++) {
		item = json_object_array_get_idx(v, i);
		if (item == NULL)
			load[i] = NAN;
		else if (msg_number_ok(item, f->min, f->max, &d))
			load[i] = d;
		else
			return (msg_bad_field(err, f, v));
	}
	return (0);
}

/* Decode subscription topics. */
static int
msg_decode_topics(const struct msg_field *f, struct json_object *v,
    struct msg *m, struct proto_err *err)
{
	struct msg_subscribe	*sub = FIELD(m, f, struct msg_subscribe);
	struct json_object	*item;
	const char		*s;
	size_t			 n, i;

	if (!json_object_is_type(v, json_type_array))
		return (msg_bad_field(err, f, v));
	n = json_object_array_length(v);
	if ((double)n < f->min || (double)n > f->max)
		return (msg_bad_field(err, f, v));
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(v, i);
		s = json_object_is_type(item, json_type_string) ?
		    json_object_get_string(item) : "";
		if (strcmp(s, "devices") == 0)
			sub->devices = 1;
		else if (strcmp(s, "tasks") == 0)
			sub->tasks = 1;
		else
			return (msg_bad_item(err, f, i, NULL, "a topic, "
			    "\"devices\" or \"tasks\"", item));
	}
	return (0);
}

/* Find a name in a field's list, within min..max for enums; -1 if not. */
static int
msg_name_index(const struct msg_field *f, const char *s)
{
	int	i;

	for (i = 0; f->names[i] != NULL; i++) {
		if (strcmp(f->names[i], s) != 0)
			continue;
		if (f->kind == MF_ENUM && (i < f->min || i > f->max))
			return (-1);
		return (i);
	}
	return (-1);
}

/*
 * Check one present, non-null value against its field and store it in m.
 * Returns 0, or -1 with err filled (m may hold partial data: msg_free).
 */
int
msg_field_decode(const struct msg_field *f, struct json_object *v,
    struct msg *m, struct proto_err *err)
{
	const char	*s;
	size_t		 len;
	int64_t		 i;
	double		 d;

	switch (f->kind) {
	case MF_OBJECT:
		if (!json_object_is_type(v, json_type_object))
			return (msg_bad_field(err, f, v));
		return (0);
	case MF_JSON:
		if (!json_object_is_type(v, json_type_object))
			return (msg_bad_field(err, f, v));
		*FIELD(m, f, struct json_object *) = json_object_get(v);
		return (0);
	case MF_STRING:
		if (!msg_string_ok(v, f->min, f->max, 0, &s, &len))
			return (msg_bad_field(err, f, v));
		if (f->names != NULL && msg_name_index(f, s) == -1)
			return (msg_bad_field(err, f, v));
		if ((f->flags & MF_SHA256) && !proto_sha256_ok(s))
			return (msg_bad_field(err, f, v));
		*FIELD(m, f, char *) = xstrdup(s);
		return (0);
	case MF_BYTES:
		if (!msg_string_ok(v, f->min, f->max, 1, &s, &len))
			return (msg_bad_field(err, f, v));
		*FIELD(m, f, char *) = xmalloc(len + 1);
		memcpy(*FIELD(m, f, char *), s, len);
		(*FIELD(m, f, char *))[len] = '\0';
		*COUNT(m, f) = len;
		return (0);
	case MF_TASK_ID:
		if ((*FIELD(m, f, char *) = msg_task_id(v)) == NULL)
			return (msg_bad_field(err, f, v));
		return (0);
	case MF_INT:
		if (!msg_int_ok(v, f->min, f->max, &i))
			return (msg_bad_field(err, f, v));
		*FIELD(m, f, int) = (int)i;
		return (0);
	case MF_INT64:
		if (!msg_int_ok(v, f->min, f->max, &i))
			return (msg_bad_field(err, f, v));
		*FIELD(m, f, int64_t) = i;
		return (0);
	case MF_DOUBLE:
		if (!msg_number_ok(v, f->min, f->max, &d))
			return (msg_bad_field(err, f, v));
		*FIELD(m, f, double) = d;
		return (0);
	case MF_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return (msg_bad_field(err, f, v));
		*FIELD(m, f, int) = json_object_get_boolean(v) ? 1 : 0;
		return (0);
	case MF_ENUM:
		if (!json_object_is_type(v, json_type_string) ||
		    (i = msg_name_index(f, json_object_get_string(v))) == -1)
			return (msg_bad_field(err, f, v));
		*FIELD(m, f, int) = (int)i;
		return (0);
	case MF_CODE:
		if (!msg_string_ok(v, f->min, f->max, 0, &s, &len))
			return (msg_bad_field(err, f, v));
		*FIELD(m, f, enum proto_code) = proto_code_from_name(s);
		return (0);
	case MF_STRLIST:
		return (msg_decode_strlist(f, v, m, err));
	case MF_KVMAP:
		return (msg_decode_kvmap(f, v, m, err));
	case MF_REFLIST:
		return (msg_decode_reflist(f, v, m, err));
	case MF_FILELIST:
		return (msg_decode_filelist(f, v, m, err));
	case MF_LOAD3:
		return (msg_decode_load3(f, v, m, err));
	case MF_TOPICS:
		return (msg_decode_topics(f, v, m, err));
	}
	return (msg_bad_field(err, f, v));
}

/* Say a required field is missing (or null). */
int
msg_field_missing(const struct msg_field *f, struct json_object *v,
    struct proto_err *err)
{
	char	what[512], got[DESCRIBE_MAX];

	msg_expect(f, what, sizeof what);
	if (v == NULL)
		proto_err_set(err, PROTO_BAD_FIELD, "data.%s is required: "
		    "expected %s", f->path, what);
	else
		proto_err_set(err, PROTO_BAD_FIELD, "data.%s is required: "
		    "expected %s, got %s", f->path, what,
		    msg_describe(v, got, sizeof got));
	return (-1);
}

/* Give a field its absent value. */
void
msg_field_default(const struct msg_field *f, struct msg *m)
{
	double	*load;

	switch (f->kind) {
	case MF_INT:
	case MF_BOOL:
	case MF_ENUM:
		*FIELD(m, f, int) = (int)f->def;
		break;
	case MF_INT64:
		*FIELD(m, f, int64_t) = (int64_t)f->def;
		break;
	case MF_DOUBLE:
		*FIELD(m, f, double) = f->def;
		break;
	case MF_LOAD3:
		load = FIELD(m, f, double);
		load[0] = load[1] = load[2] = f->def;
		break;
	default:
		break;
	}
}

/* Free what a field owns. */
void
msg_field_free(const struct msg_field *f, struct msg *m)
{
	struct proto_kv		*kv;
	struct proto_task_ref	*refs;
	struct proto_file	*files;
	char			**list;
	size_t			  i, n;

	switch (f->kind) {
	case MF_STRING:
	case MF_BYTES:
	case MF_TASK_ID:
		free(*FIELD(m, f, char *));
		*FIELD(m, f, char *) = NULL;
		break;
	case MF_STRLIST:
		list = *FIELD(m, f, char **);
		n = *COUNT(m, f);
		for (i = 0; list != NULL && i < n; i++)
			free(list[i]);
		free(list);
		*FIELD(m, f, char **) = NULL;
		*COUNT(m, f) = 0;
		break;
	case MF_KVMAP:
		kv = *FIELD(m, f, struct proto_kv *);
		n = *COUNT(m, f);
		for (i = 0; kv != NULL && i < n; i++) {
			free(kv[i].key);
			free(kv[i].value);
		}
		free(kv);
		*FIELD(m, f, struct proto_kv *) = NULL;
		*COUNT(m, f) = 0;
		break;
	case MF_REFLIST:
		refs = *FIELD(m, f, struct proto_task_ref *);
		n = *COUNT(m, f);
		for (i = 0; refs != NULL && i < n; i++)
			free(refs[i].task_id);
		free(refs);
		*FIELD(m, f, struct proto_task_ref *) = NULL;
		*COUNT(m, f) = 0;
		break;
	case MF_FILELIST:
		files = *FIELD(m, f, struct proto_file *);
		n = *COUNT(m, f);
		for (i = 0; files != NULL && i < n; i++) {
			free(files[i].name);
			free(files[i].sha256);
		}
		free(files);
		*FIELD(m, f, struct proto_file *) = NULL;
		*COUNT(m, f) = 0;
		break;
	case MF_JSON:
		json_object_put(*FIELD(m, f, struct json_object *));
		*FIELD(m, f, struct json_object *) = NULL;
		break;
	default:
		break;
	}
}

/* Compare two optional strings. */
static int
msg_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/* Compare two doubles, NAN equal to NAN. */
static int
msg_dbleq(double a, double b)
{
	if (isnan(a) || isnan(b))
		return (isnan(a) && isnan(b));
	return (a == b);
}

/* 1 if a field has the same value in both messages. */
int
msg_field_equal(const struct msg_field *f, const struct msg *a,
    const struct msg *b)
{
	const struct proto_kv		*ka, *kb;
	const struct proto_task_ref	*ra, *rb;
	const struct proto_file		*fa, *fb;
	char *const			*la, *const *lb;
	const double			*da, *db;
	size_t				 i, n;

	switch (f->kind) {
	case MF_OBJECT:
		return (1);
	case MF_STRING:
	case MF_TASK_ID:
		return (msg_streq(*CFIELD(a, f, char *), *CFIELD(b, f, char *)));
	case MF_BYTES:
		n = *CCOUNT(a, f);
		if (n != *CCOUNT(b, f))
			return (0);
		if (*CFIELD(a, f, char *) == NULL ||
		    *CFIELD(b, f, char *) == NULL)
			return (*CFIELD(a, f, char *) == *CFIELD(b, f, char *));
		return (memcmp(*CFIELD(a, f, char *), *CFIELD(b, f, char *),
		    n) == 0);
	case MF_INT:
	case MF_BOOL:
	case MF_ENUM:
		return (*CFIELD(a, f, int) == *CFIELD(b, f, int));
	case MF_CODE:
		return (*CFIELD(a, f, enum proto_code) ==
		    *CFIELD(b, f, enum proto_code));
	case MF_INT64:
		return (*CFIELD(a, f, int64_t) == *CFIELD(b, f, int64_t));
	case MF_DOUBLE:
		return (msg_dbleq(*CFIELD(a, f, double),
		    *CFIELD(b, f, double)));
	case MF_LOAD3:
		da = CFIELD(a, f, double);
		db = CFIELD(b, f, double);
		for (i = 0; i < 3; i++) {
			if (!msg_dbleq(da[i], db[i]))
				return (0);
		}
		return (1);
	case MF_TOPICS:
		return (CFIELD(a, f, struct msg_subscribe)->devices ==
		    CFIELD(b, f, struct msg_subscribe)->devices &&
		    CFIELD(a, f, struct msg_subscribe)->tasks ==
		    CFIELD(b, f, struct msg_subscribe)->tasks);
	case MF_JSON:
		if (*CFIELD(a, f, struct json_object *) == NULL ||
		    *CFIELD(b, f, struct json_object *) == NULL)
			return (*CFIELD(a, f, struct json_object *) ==
			    *CFIELD(b, f, struct json_object *));
		return (json_object_equal(
		    *CFIELD(a, f, struct json_object *),
		    *CFIELD(b, f, struct json_object *)));
	case MF_STRLIST:
		if ((n = *CCOUNT(a, f)) != *CCOUNT(b, f))
			return (0);
		la = *CFIELD(a, f, char **);
		lb = *CFIELD(b, f, char **);
		for (i = 0; i < n; i++) {
			if (!msg_streq(la[i], lb[i]))
				return (0);
		}
		return (1);
	case MF_KVMAP:
		if ((n = *CCOUNT(a, f)) != *CCOUNT(b, f))
			return (0);
		ka = *CFIELD(a, f, struct proto_kv *);
		kb = *CFIELD(b, f, struct proto_kv *);
		for (i = 0; i < n; i++) {
			if (!msg_streq(ka[i].key, kb[i].key) ||
			    !msg_streq(ka[i].value, kb[i].value))
				return (0);
		}
		return (1);
	case MF_REFLIST:
		if ((n = *CCOUNT(a, f)) != *CCOUNT(b, f))
			return (0);
		ra = *CFIELD(a, f, struct proto_task_ref *);
		rb = *CFIELD(b, f, struct proto_task_ref *);
		for (i = 0; i < n; i++) {
			if (!msg_streq(ra[i].task_id, rb[i].task_id) ||
			    ra[i].attempt != rb[i].attempt)
				return (0);
		}
		return (1);
	case MF_FILELIST:
		if ((n = *CCOUNT(a, f)) != *CCOUNT(b, f))
			return (0);
		fa = *CFIELD(a, f, struct proto_file *);
		fb = *CFIELD(b, f, struct proto_file *);
		for (i = 0; i < n; i++) {
			if (!msg_streq(fa[i].name, fb[i].name) ||
			    !msg_streq(fa[i].sha256, fb[i].sha256) ||
			    fa[i].size != fb[i].size ||
			    fa[i].mode != fb[i].mode)
				return (0);
		}
		return (1);
	}
	return (0);
}
