/* SPDX-License-Identifier: ISC */
/*
 * msg-table.h -- private to protocol/: the message table that drives
 * decode, validation, encode, init, free and comparison of struct msg.
 *
 * Each message type has one row (struct msg_entry) listing the fields of
 * its `data` object (struct msg_field).  A field is named by a dotted path
 * under data ("system_metrics.battery.percent"); parents are listed before
 * their children, so a child is only looked at when its parent object is
 * present.  Offsets point into struct msg (inside the union member for the
 * type), so one generic walker fills and frees every type.
 */
#ifndef MSG_TABLE_H
#define MSG_TABLE_H

#include <stddef.h>

#include "protocol.h"

struct json_object;

/* What a field holds on the wire and in C. */
enum msg_field_kind {
	MF_OBJECT,	/* a nested object; off: int presence (-1 = null)
			   or MF_NO_OFF when always present */
	MF_STRING,	/* char *; min..max bytes; names: allowed values */
	MF_BYTES,	/* char * + size_t length at n_off (may hold NUL) */
	MF_TASK_ID,	/* char *: non-empty string or integer >= 0 */
	MF_INT,		/* int in min..max */
	MF_INT64,	/* int64_t in min..max */
	MF_DOUBLE,	/* double in min..max, finite */
	MF_BOOL,	/* int 0/1 */
	MF_ENUM,	/* int: index into names, limited to min..max */
	MF_CODE,	/* enum proto_code from its name; unknown: internal */
	MF_STRLIST,	/* char ** + size_t count; min..max items of
			   strings of at most len bytes */
	MF_KVMAP,	/* struct proto_kv * + size_t count; object of
			   string values of at most len bytes */
	MF_REFLIST,	/* struct proto_task_ref * + size_t count */
	MF_FILELIST,	/* struct proto_file * + size_t count; max items */
	MF_LOAD3,	/* double[3], each in min..max or null */
	MF_TOPICS,	/* struct msg_subscribe from ["devices","tasks"] */
	MF_JSON,	/* struct json_object * (a reference): all of data */
};

#define MF_REQUIRED	0x1	/* must be present and not null */
#define MF_NULL		0x2	/* def is "unknown" and travels as null */
#define MF_ENVKEYS	0x4	/* map keys must match [A-Za-z_][A-Za-z0-9_]* */
#define MF_SECRET	0x8	/* a token or key: never echoed in an error */
#define MF_SHA256	0x10	/* a string of 64 lowercase hex digits */

#define MF_NO_OFF	((size_t)-1)

/* One field of a message's data. */
struct msg_field {
	const char		 *path;		/* dotted, under data */
	enum msg_field_kind	  kind;
	int			  flags;	/* MF_* */
	double			  min;		/* number range, string */
	double			  max;		/* length or item count */
	size_t			  len;		/* list items: max bytes */
	size_t			  off;		/* offset in struct msg */
	size_t			  n_off;	/* count or length offset */
	double			  def;		/* numbers: value if absent */
	const char *const	 *names;	/* NULL-terminated */
};

/* One message type. */
struct msg_entry {
	const char		 *name;		/* message_type on the wire */
	int			  flags;	/* MSG_F_* */
	const struct msg_field	 *fields;
	size_t			  nfields;
	/* Cross-field rules, run after every field decoded; 0 or -1. */
	int			(*check)(struct msg *, struct json_object *,
				    struct proto_err *);
};

/* msg-table.c */
const struct msg_entry	*msg_table_entry(enum msg_type);

/* util.c: value names, NULL-terminated, indexed by enum value. */
extern const char *const proto_priority_names[];
extern const char *const proto_task_status_names[];
extern const char *const proto_device_state_names[];
extern const char *const proto_task_type_names[];
extern const char *const proto_code_names[];

/* msg-validate.c */
/* The parent object of the last field looked up (msg_field_lookup_at). */
struct msg_parent {
	const char		*path;	/* its dotted path: len bytes */
	size_t			 len;
	struct json_object	*obj;	/* NULL: missing, null or not one */
};
struct json_object	*msg_field_lookup(struct json_object *,
			    const char *, int *);
struct json_object	*msg_field_lookup_at(struct json_object *,
			    const char *, struct msg_parent *, int *);
int			 msg_field_decode(const struct msg_field *,
			    struct json_object *, struct msg *,
			    struct proto_err *);
int			 msg_field_missing(const struct msg_field *,
			    struct json_object *, struct proto_err *);
void			 msg_field_default(const struct msg_field *,
			    struct msg *);
void			 msg_field_free(const struct msg_field *,
			    struct msg *);
int			 msg_field_equal(const struct msg_field *,
			    const struct msg *, const struct msg *);
char			*msg_describe(struct json_object *, char *, size_t);

/* msg-encode.c */
int			 msg_field_is_absent(const struct msg_field *,
			    const struct msg *);

#endif /* MSG_TABLE_H */
