/* SPDX-License-Identifier: ISC */
/*
 * msg-table.c -- one row per message type: its wire name, who may send it,
 * and the spec of every field of its data (path, type, required, range,
 * length, offset in struct msg).  Decode, encode, init, free and compare
 * all walk these rows; adding a message is a row here plus its struct.
 */
#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "msg-table.h"

#define O(f)		offsetof(struct msg, u.f)
#define INT64_WIRE_MAX	9007199254740992.0	/* 2^53: exact in a double */
#define ATTEMPT_MAX	1000000
#define REFS_MAX	1024			/* running/active task refs */
#define HOSTNAME_MAX	255

/* Row builders, to keep the table readable. */
#define F_OBJ(p, fl, off) \
	{ p, MF_OBJECT, fl, 0, 0, 0, off, 0, 0, NULL }
#define F_STR(p, fl, lo, hi, f) \
	{ p, MF_STRING, fl, lo, hi, 0, O(f), 0, 0, NULL }
#define F_NAMES(p, fl, names, f) \
	{ p, MF_STRING, fl, 1, PROTO_NAME_MAX, 0, O(f), 0, 0, names }
#define F_TID(p, f) \
	{ p, MF_TASK_ID, MF_REQUIRED, 1, PROTO_ID_MAX, 0, O(f), 0, 0, NULL }
#define F_INT(p, fl, lo, hi, def, f) \
	{ p, MF_INT, fl, lo, hi, 0, O(f), 0, def, NULL }
#define F_I64(p, fl, lo, hi, def, f) \
	{ p, MF_INT64, fl, lo, hi, 0, O(f), 0, def, NULL }
#define F_DBL(p, fl, lo, hi, def, f) \
	{ p, MF_DOUBLE, fl, lo, hi, 0, O(f), 0, def, NULL }
#define F_BOOL(p, def, f) \
	{ p, MF_BOOL, 0, 0, 1, 0, O(f), 0, def, NULL }
#define F_ENUM(p, fl, names, lo, hi, def, f) \
	{ p, MF_ENUM, fl, lo, hi, 0, O(f), 0, def, names }
#define F_LIST(p, fl, lo, hi, len, f, n) \
	{ p, MF_STRLIST, fl, lo, hi, len, O(f), O(n), 0, NULL }
#define F_MAP(p, fl, len, f, n) \
	{ p, MF_KVMAP, fl, 0, PROTO_LIST_MAX, len, O(f), O(n), 0, NULL }
#define F_REFS(p, fl, f, n) \
	{ p, MF_REFLIST, fl, 0, REFS_MAX, 0, O(f), O(n), 0, NULL }
#define F_FILES(p, fl, max, f, n) \
	{ p, MF_FILELIST, fl, 0, max, 0, O(f), O(n), 0, NULL }
#define F_SHA(p, f) \
	{ p, MF_STRING, MF_REQUIRED | MF_SHA256, 64, 64, 0, O(f), 0, 0, NULL }
#define F_ATTEMPT(p, f) \
	F_INT(p, MF_REQUIRED, 1, ATTEMPT_MAX, 0, f)

#define ROW(name, flags, fields, check) \
	{ name, flags, fields, sizeof fields / sizeof fields[0], check }
#define ROW0(name, flags) \
	{ name, flags, NULL, 0, NULL }

static const char *const stream_names[] = { "stdout", "stderr", NULL };
static const char *const ack_state_names[] = { "approved", "pending", NULL };
static const char *const topic_names[] = { "devices", "tasks", NULL };

static int	msg_check_register(struct msg *, struct json_object *,
		    struct proto_err *);
static int	msg_check_task(struct msg *, struct json_object *,
		    struct proto_err *);
static int	msg_check_file_data(struct msg *, struct json_object *,
		    struct proto_err *);

static const struct msg_field register_fields[] = {
	F_STR("token", MF_SECRET, 1, PROTO_TOKEN_MAX, reg.token),
	F_STR("device_key", MF_SECRET, 1, PROTO_TOKEN_MAX,
	    reg.device_key),
	F_STR("join_secret", MF_SECRET, 16, PROTO_TOKEN_MAX,
	    reg.join_secret),
	F_OBJ("device_info", MF_REQUIRED, MF_NO_OFF),
	F_STR("device_info.hostname", MF_REQUIRED, 1, HOSTNAME_MAX,
	    reg.info.hostname),
	F_STR("device_info.platform", 0, 0, PROTO_NAME_MAX, reg.info.platform),
	F_STR("device_info.architecture", 0, 0, PROTO_NAME_MAX,
	    reg.info.architecture),
	F_STR("device_info.os", 0, 0, PROTO_NAME_MAX, reg.info.os),
	F_STR("device_info.kernel", 0, 0, PROTO_NAME_MAX, reg.info.kernel),
	F_STR("device_info.role", 0, 0, PROTO_NAME_MAX, reg.info.role),
	F_OBJ("hardware_specs", MF_REQUIRED, MF_NO_OFF),
	F_INT("hardware_specs.cpu_cores", MF_NULL, 1, 4096, -1,
	    reg.hw.cpu_cores),
	F_STR("hardware_specs.cpu_model", 0, 0, PROTO_NAME_MAX,
	    reg.hw.cpu_model),
	F_STR("hardware_specs.model", 0, 0, PROTO_NAME_MAX, reg.hw.model),
	F_DBL("hardware_specs.cpu_mhz", MF_NULL, 0, 1000000, NAN,
	    reg.hw.cpu_mhz),
	F_I64("hardware_specs.memory_total", MF_NULL, 0, INT64_WIRE_MAX, -1,
	    reg.hw.memory_total),
	F_I64("hardware_specs.disk_space", MF_NULL, 0, INT64_WIRE_MAX, -1,
	    reg.hw.disk_space),
	F_I64("hardware_specs.disk_free", MF_NULL, 0, INT64_WIRE_MAX, -1,
	    reg.hw.disk_free),
	F_LIST("hardware_specs.network_interfaces", 0, 0, PROTO_LIST_MAX,
	    PROTO_NAME_MAX, reg.hw.network_interfaces, reg.hw.n_ifaces),
	F_LIST("hardware_specs.gpus", 0, 0, PROTO_LIST_MAX, PROTO_NAME_MAX,
	    reg.hw.gpus, reg.hw.n_gpus),
	F_LIST("capabilities", MF_REQUIRED, 0, PROTO_LIST_MAX, PROTO_NAME_MAX,
	    reg.capabilities, reg.n_capabilities),
	F_MAP("labels", 0, PROTO_NAME_MAX, reg.labels, reg.n_labels),
	F_INT("slots", MF_NULL, 1, 1024, -1, reg.slots),
	F_REFS("running_tasks", 0, reg.running, reg.n_running),
};

static const struct msg_field heartbeat_fields[] = {
	F_OBJ("system_metrics", MF_REQUIRED, MF_NO_OFF),
	F_DBL("system_metrics.cpu_usage", MF_NULL, 0, 100, NAN,
	    hb.metrics.cpu_usage),
	F_DBL("system_metrics.memory_usage", MF_NULL, 0, 100, NAN,
	    hb.metrics.memory_usage),
	F_DBL("system_metrics.disk_usage", MF_NULL, 0, 100, NAN,
	    hb.metrics.disk_usage),
	{ "system_metrics.load_average", MF_LOAD3, MF_NULL, 0, 1000000, 0,
	    O(hb.metrics.load_average), 0, NAN, NULL },
	F_DBL("system_metrics.uptime", MF_NULL, 0, 1e10, NAN,
	    hb.metrics.uptime),
	F_DBL("system_metrics.temperature", MF_NULL, -100, 200, NAN,
	    hb.metrics.temperature),
	F_OBJ("system_metrics.battery", 0, O(hb.metrics.battery_percent)),
	F_INT("system_metrics.battery.percent", MF_REQUIRED, 0, 100, -1,
	    hb.metrics.battery_percent),
	F_BOOL("system_metrics.battery.charging", 0,
	    hb.metrics.battery_charging),
	F_I64("system_metrics.net_rx", MF_NULL, 0, INT64_WIRE_MAX, -1,
	    hb.metrics.net_rx),
	F_I64("system_metrics.net_tx", MF_NULL, 0, INT64_WIRE_MAX, -1,
	    hb.metrics.net_tx),
	F_REFS("active_tasks", MF_REQUIRED, hb.active, hb.n_active),
	F_BOOL("accepting", 1, hb.accepting),
	F_STR("reason", 0, 0, PROTO_TEXT_MAX, hb.reason),
};

static const struct msg_field ref_fields[] = {
	F_TID("task_id", ref.task_id),
	F_ATTEMPT("attempt", ref.attempt),
};

static const struct msg_field output_fields[] = {
	F_TID("task_id", output.task_id),
	F_ATTEMPT("attempt", output.attempt),
	F_NAMES("stream", MF_REQUIRED, stream_names, output.stream),
	F_I64("seq", MF_REQUIRED, 0, INT64_WIRE_MAX, 0, output.seq),
	{ "data", MF_BYTES, MF_REQUIRED, 0, PROTO_OUTPUT_CHUNK * 2, 0,
	    O(output.data), O(output.data_len), 0, NULL },
};

static const struct msg_field result_fields[] = {
	F_TID("task_id", result.task_id),
	F_ATTEMPT("attempt", result.attempt),
	F_ENUM("status", MF_REQUIRED, proto_task_status_names, TASK_COMPLETED,
	    TASK_CANCELLED, TASK_COMPLETED, result.status),
	F_INT("exit_code", MF_NULL, 0, 255, -1, result.exit_code),
	F_DBL("execution_time", MF_NULL, 0, 1e9, NAN, result.execution_time),
	F_STR("error", 0, 0, PROTO_TEXT_MAX, result.error),
	F_OBJ("metrics", 0, MF_NO_OFF),
	F_DBL("metrics.cpu_time", MF_NULL, 0, 1e9, NAN, result.cpu_time),
	F_I64("metrics.memory_peak", MF_NULL, 0, INT64_WIRE_MAX, -1,
	    result.memory_peak),
	F_BOOL("start_failed", 0, result.start_failed),
	F_BOOL("vacated", 0, result.vacated),
	F_FILES("outputs", 0, PROTO_INPUTS_MAX, result.outputs,
	    result.n_outputs),
};

static const struct msg_field bye_fields[] = {
	F_STR("reason", 0, 0, PROTO_TEXT_MAX, reason),
};

static const struct msg_field ack_fields[] = {
	F_STR("device_id", MF_REQUIRED, 1, PROTO_ID_MAX, ack.device_id),
	F_NAMES("state", MF_REQUIRED, ack_state_names, ack.state),
	F_STR("device_key", MF_SECRET, 1, PROTO_TOKEN_MAX,
	    ack.device_key),
	F_INT("heartbeat_interval", MF_REQUIRED, 1, 3600, 0,
	    ack.heartbeat_interval),
};

/* The task object shared by submit and task_assign. */
#define TASK_FIELDS							\
	F_STR("task.name", 0, 0, PROTO_NAME_MAX, task.name),		\
	F_ENUM("task.task_type", 0, proto_task_type_names,		\
	    TASK_TYPE_COMMAND, TASK_TYPE_CONTAINER, TASK_TYPE_COMMAND,	\
	    task.type),							\
	F_STR("task.image", 0, 1, PROTO_IMAGE_MAX, task.image),		\
	F_LIST("task.command", MF_REQUIRED, 1, PROTO_LIST_MAX,		\
	    PROTO_ARG_MAX, task.argv, task.argc),			\
	F_MAP("task.env", MF_ENVKEYS, PROTO_ARG_MAX, task.env,		\
	    task.n_env),						\
	F_ENUM("task.priority", 0, proto_priority_names, PRIO_LOW,	\
	    PRIO_URGENT, PRIO_NORMAL, task.priority),			\
	F_INT("task.timeout", 0, 0, PROTO_TIMEOUT_MAX, 0,		\
	    task.timeout),						\
	F_INT("task.retries", 0, 0, PROTO_RETRIES_MAX, 0,		\
	    task.retries),						\
	F_OBJ("task.limits", 0, MF_NO_OFF),				\
	F_DBL("task.limits.cpus", 0, 0, PROTO_CPUS_MAX, 0,		\
	    task.cpus),						\
	F_INT("task.limits.memory_mb", 0, 0, PROTO_MEMORY_MB_MAX, 0,	\
	    task.memory_mb),						\
	F_INT("task.limits.pids", 0, 0, PROTO_PIDS_MAX, 0,		\
	    task.pids),						\
	F_OBJ("task.requirements", 0, MF_NO_OFF),			\
	F_STR("task.requirements.arch", 0, 1, PROTO_NAME_MAX,		\
	    task.req_arch),						\
	F_STR("task.requirements.platform", 0, 1, PROTO_NAME_MAX,	\
	    task.req_platform),						\
	F_MAP("task.requirements.labels", 0, PROTO_NAME_MAX,		\
	    task.req_labels, task.n_req_labels),			\
	F_STR("task.requirements.device", 0, 1, PROTO_ID_MAX,		\
	    task.req_device),						\
	F_FILES("task.inputs", 0, PROTO_INPUTS_MAX, task.inputs,	\
	    task.n_inputs),						\
	F_LIST("task.outputs", 0, 0, PROTO_GLOBS_MAX,			\
	    PROTO_FILE_NAME_MAX, task.outputs, task.n_outputs),	\
	F_LIST("task.checkpoints", 0, 0, PROTO_GLOBS_MAX,		\
	    PROTO_FILE_NAME_MAX, task.checkpoints, task.n_checkpoints)

static const struct msg_field assign_fields[] = {
	F_OBJ("task", MF_REQUIRED, MF_NO_OFF),
	F_TID("task.task_id", task.task_id),
	F_ATTEMPT("task.attempt", task.attempt),
	TASK_FIELDS,
	F_FILES("task.checkpoint", 0, PROTO_INPUTS_MAX, task.checkpoint,
	    task.n_checkpoint),
};

static const struct msg_field submit_fields[] = {
	F_OBJ("task", MF_REQUIRED, MF_NO_OFF),
	TASK_FIELDS,
	F_OBJ("array", 0, O(task.array_end)),
	F_I64("array.start", 0, 0, PROTO_ARRAY_INDEX_MAX, 0,
	    task.array_start),
	F_I64("array.end", MF_REQUIRED, 0, PROTO_ARRAY_INDEX_MAX, -1,
	    task.array_end),
	F_I64("array.step", 0, 1, PROTO_ARRAY_INDEX_MAX, 1, task.array_step),
	F_INT("array.limit", 0, 0, PROTO_ARRAY_MAX, 0, task.array_limit),
	F_LIST("after", 0, 0, PROTO_LIST_MAX, PROTO_ID_MAX, task.after,
	    task.n_after),
	F_LIST("after_any", 0, 0, PROTO_LIST_MAX, PROTO_ID_MAX,
	    task.after_any, task.n_after_any),
	F_LIST("after_notok", 0, 0, PROTO_LIST_MAX, PROTO_ID_MAX,
	    task.after_notok, task.n_after_notok),
	F_BOOL("hold", 0, task.hold),
};

static const struct msg_field error_fields[] = {
	{ "code", MF_CODE, MF_REQUIRED, 1, 64, 0, O(error.code), 0, 0,
	    proto_code_names },
	F_STR("message", MF_REQUIRED, 0, PROTO_TEXT_MAX, error.message),
};

static const struct msg_field auth_fields[] = {
	F_STR("token", MF_REQUIRED | MF_SECRET, 1, PROTO_TOKEN_MAX,
	    token),
};

static const struct msg_field list_tasks_fields[] = {
	F_BOOL("all", 0, target.all),
	F_BOOL("expand", 0, target.expand),
	F_INT("limit", 0, 0, 100000, 0, target.limit),
	F_STR("after", 0, 1, PROTO_ID_MAX, target.after),
};

static const struct msg_field task_target_fields[] = {
	F_TID("task_id", target.task_id),
};

static const struct msg_field hold_fields[] = {
	F_TID("task_id", target.task_id),
	F_STR("reason", 0, 0, PROTO_TEXT_MAX, target.reason),
};

static const struct msg_field logs_fields[] = {
	F_TID("task_id", target.task_id),
	F_BOOL("follow", 0, target.follow),
};

static const struct msg_field device_target_fields[] = {
	F_STR("device_id", MF_REQUIRED, 1, PROTO_ID_MAX, target.device_id),
};

static const struct msg_field subscribe_fields[] = {
	{ "topics", MF_TOPICS, MF_REQUIRED, 1, PROTO_LIST_MAX, 0, O(sub), 0,
	    0, topic_names },
};

static const struct msg_field file_stat_fields[] = {
	F_SHA("sha256", file.sha256),
};

static const struct msg_field file_data_fields[] = {
	F_SHA("sha256", file.sha256),
	F_I64("size", MF_REQUIRED, 0, INT64_WIRE_MAX, -1, file.size),
	F_I64("offset", MF_REQUIRED, 0, INT64_WIRE_MAX, 0, file.offset),
	F_I64("len", MF_REQUIRED, 0, PROTO_FILE_FRAME_MAX, 0, file.len),
};

static const struct msg_field file_get_fields[] = {
	F_SHA("sha256", file.sha256),
	F_I64("offset", 0, 0, INT64_WIRE_MAX, 0, file.offset),
};

static const struct msg_field file_ack_fields[] = {
	F_SHA("sha256", file.sha256),
	F_I64("size", MF_NULL, 0, INT64_WIRE_MAX, -1, file.size),
	F_I64("have", MF_REQUIRED, 0, INT64_WIRE_MAX, 0, file.have),
	F_BOOL("complete", 0, file.complete),
	F_STR("error", 0, 0, PROTO_TEXT_MAX, file.error),
};

static const struct msg_field checkpoint_fields[] = {
	F_TID("task_id", ckpt.task_id),
	F_ATTEMPT("attempt", ckpt.attempt),
	F_FILES("files", MF_REQUIRED, PROTO_INPUTS_MAX, ckpt.files,
	    ckpt.n_files),
};

static const struct msg_field json_fields[] = {
	{ "", MF_JSON, 0, 0, 0, 0, O(json), 0, 0, NULL },
};

#define W	MSG_F_FROM_WORKER
#define OP	MSG_F_FROM_OPERATOR
#define M	MSG_F_FROM_MAIN

static const struct msg_entry msg_table[MSG__COUNT] = {
	[MSG_UNKNOWN] =		ROW0("unknown", 0),
	[MSG_REGISTER] =	ROW("register", W, register_fields,
				    msg_check_register),
	[MSG_HEARTBEAT] =	ROW("heartbeat", W, heartbeat_fields, NULL),
	[MSG_TASK_STARTED] =	ROW("task_started", W, ref_fields, NULL),
	[MSG_TASK_OUTPUT] =	ROW("task_output", W, output_fields, NULL),
	[MSG_TASK_RESULT] =	ROW("task_result", W, result_fields, NULL),
	[MSG_BYE] =		ROW("bye", W|OP|M, bye_fields, NULL),
	[MSG_REGISTER_ACK] =	ROW("register_ack", M, ack_fields, NULL),
	[MSG_TASK_ASSIGN] =	ROW("task_assign", M, assign_fields,
				    msg_check_task),
	[MSG_TASK_CANCEL] =	ROW("task_cancel", M, ref_fields, NULL),
	[MSG_RESULT_ACK] =	ROW("result_ack", M, ref_fields, NULL),
	[MSG_ERROR] =		ROW("error", M, error_fields, NULL),
	[MSG_AUTH] =		ROW("auth", OP, auth_fields, NULL),
	[MSG_SUBMIT] =		ROW("submit", OP, submit_fields,
				    msg_check_task),
	[MSG_LIST_DEVICES] =	ROW0("list_devices", OP),
	[MSG_LIST_TASKS] =	ROW("list_tasks", OP, list_tasks_fields, NULL),
	[MSG_GET_TASK] =	ROW("get_task", OP, task_target_fields, NULL),
	[MSG_LOGS] =		ROW("logs", OP, logs_fields, NULL),
	[MSG_CANCEL] =		ROW("cancel", OP, task_target_fields, NULL),
	[MSG_APPROVE] =		ROW("approve", OP, device_target_fields, NULL),
	[MSG_REJECT] =		ROW("reject", OP, device_target_fields, NULL),
	[MSG_DRAIN] =		ROW("drain", OP, device_target_fields, NULL),
	[MSG_UNDRAIN] =		ROW("undrain", OP, device_target_fields, NULL),
	[MSG_REMOVE] =		ROW("remove", OP, device_target_fields, NULL),
	[MSG_SUBSCRIBE] =	ROW("subscribe", OP, subscribe_fields, NULL),
	[MSG_STATUS] =		ROW0("status", OP),
	[MSG_BACKUP] =		ROW0("backup", OP),
	[MSG_HOLD] =		ROW("hold", OP, hold_fields, NULL),
	[MSG_RELEASE] =		ROW("release", OP, task_target_fields, NULL),
	[MSG_FILE_STAT] =	ROW("file_stat", W|OP, file_stat_fields, NULL),
	[MSG_FILE_DATA] =	ROW("file_data", W|OP|M, file_data_fields,
				    msg_check_file_data),
	[MSG_FILE_GET] =	ROW("file_get", W|OP, file_get_fields, NULL),
	[MSG_FILE_ACK] =	ROW("file_ack", M, file_ack_fields, NULL),
	[MSG_TASK_CHECKPOINT] =	ROW("task_checkpoint", W, checkpoint_fields,
				    NULL),
	[MSG_REPLY] =		ROW("reply", M, json_fields, NULL),
	[MSG_EVENT] =		ROW("event", M, json_fields, NULL),
};

/* A register needs the join token or the device's own key. */
static int
msg_check_register(struct msg *m, struct json_object *data,
    struct proto_err *err)
{
	if (m->u.reg.token == NULL && m->u.reg.device_key == NULL) {
		proto_err_set(err, PROTO_BAD_FIELD, "data.token or "
		    "data.device_key is required: send the join token on "
		    "first registration, the device key after that");
		return (-1);
	}
	return (0);
}

/* Output and checkpoint patterns name files inside the working
 * directory. */
static int
msg_check_globs(const char *path, char **globs, size_t n,
    struct proto_err *err)
{
	const char	*why;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (!proto_file_name_ok(globs[i], &why)) {
			proto_err_set(err, PROTO_BAD_FIELD, "data.%s[%zu]: the "
			    "pattern %s (patterns are relative to the task's "
			    "working directory, e.g. \"out/*.png\")", path, i,
			    why);
			return (-1);
		}
	}
	return (0);
}

/* A frame's bytes lie inside the file. */
static int
msg_check_file_data(struct msg *m, struct json_object *data,
    struct proto_err *err)
{
	struct msg_file	*f = &m->u.file;

	if (f->offset > f->size || f->len > f->size - f->offset) {
		proto_err_set(err, PROTO_BAD_FIELD, "data: offset %lld + len "
		    "%lld is past the end of a file of %lld bytes",
		    (long long)f->offset, (long long)f->len,
		    (long long)f->size);
		return (-1);
	}
	return (0);
}

/* Work out the task type and check a container task names its image. */
static int
msg_check_task(struct msg *m, struct json_object *data,
    struct proto_err *err)
{
	struct proto_task	*t = &m->u.task;
	struct json_object	*v;
	int			 absent;

	v = msg_field_lookup(data, "task.task_type", &absent);
	if (v == NULL || json_object_get_type(v) == json_type_null) {
		t->type = t->image != NULL ? TASK_TYPE_CONTAINER :
		    TASK_TYPE_COMMAND;
	}
	if (t->type == TASK_TYPE_CONTAINER && t->image == NULL) {
		proto_err_set(err, PROTO_BAD_FIELD, "data.task.image is "
		    "required for a container task: give an image, or "
		    "use task_type \"command\"");
		return (-1);
	}
	if (msg_check_globs("task.outputs", t->outputs, t->n_outputs,
	    err) != 0 || msg_check_globs("task.checkpoints", t->checkpoints,
	    t->n_checkpoints, err) != 0)
		return (-1);
	if (t->type == TASK_TYPE_COMMAND && t->image != NULL) {
		proto_err_set(err, PROTO_BAD_FIELD, "data.task.image is "
		    "only valid for a container task: drop it, or use "
		    "task_type \"container\"");
		return (-1);
	}
	if (m->type == MSG_SUBMIT && t->array_end >= 0 &&
	    t->array_step >= 1) {
		if (t->array_start > t->array_end) {
			proto_err_set(err, PROTO_BAD_FIELD, "data.array: start "
			    "%lld is after end %lld", (long long)t->array_start,
			    (long long)t->array_end);
			return (-1);
		}
		if ((t->array_end - t->array_start) / t->array_step + 1 >
		    PROTO_ARRAY_MAX) {
			proto_err_set(err, PROTO_BAD_FIELD, "data.array: more "
			    "than %d elements; split it into several arrays",
			    PROTO_ARRAY_MAX);
			return (-1);
		}
	}
	return (0);
}

/* The table row of a type; the MSG_UNKNOWN row if out of range. */
const struct msg_entry *
msg_table_entry(enum msg_type type)
{
	if ((int)type < 0 || type >= MSG__COUNT)
		return (&msg_table[MSG_UNKNOWN]);
	return (&msg_table[type]);
}

/* Look up a type by its wire name. */
enum msg_type
msg_type_from_name(const char *name)
{
	int	i;

	if (name == NULL)
		return (MSG_UNKNOWN);
	for (i = 1; i < MSG__COUNT; i++) {
		if (strcmp(msg_table[i].name, name) == 0)
			return ((enum msg_type)i);
	}
	return (MSG_UNKNOWN);
}

/* Wire name of a type. */
const char *
msg_type_name(enum msg_type type)
{
	return (msg_table_entry(type)->name);
}

/* Direction flags of a type. */
int
msg_type_flags(enum msg_type type)
{
	return (msg_table_entry(type)->flags);
}

/* Zero a message and give every field its absent value. */
void
msg_init(struct msg *m, enum msg_type type)
{
	const struct msg_entry	*e = msg_table_entry(type);
	size_t			 i;

	memset(m, 0, sizeof *m);
	m->type = type;
	for (i = 0; i < e->nfields; i++)
		msg_field_default(&e->fields[i], m);
}

/* Free what a message owns and zero it. */
void
msg_free(struct msg *m)
{
	const struct msg_entry	*e = msg_table_entry(m->type);
	size_t			 i;

	for (i = 0; i < e->nfields; i++)
		msg_field_free(&e->fields[i], m);
	free(m->sender_id);
	free(m->target_id);
	free(m->message_id);
	free(m->reply_to);
	free(m->timestamp);
	memset(m, 0, sizeof *m);
}

/* Compare two optional strings. */
static int
msg_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/* 1 if two messages are the same, field by field. */
int
msg_equal(const struct msg *a, const struct msg *b)
{
	const struct msg_entry	*e;
	size_t			 i;

	if (a->type != b->type || a->protocol_version != b->protocol_version)
		return (0);
	if (!msg_str_equal(a->sender_id, b->sender_id) ||
	    !msg_str_equal(a->target_id, b->target_id) ||
	    !msg_str_equal(a->message_id, b->message_id) ||
	    !msg_str_equal(a->reply_to, b->reply_to) ||
	    !msg_str_equal(a->timestamp, b->timestamp))
		return (0);
	e = msg_table_entry(a->type);
	for (i = 0; i < e->nfields; i++) {
		if (!msg_field_equal(&e->fields[i], a, b))
			return (0);
	}
	return (1);
}
