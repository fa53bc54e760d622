/* SPDX-License-Identifier: ISC */
/*
 * protocol.h -- the encore wire protocol and the small runtime every binary
 * links: logging, allocation, line framing, message decode/encode.
 *
 * The wire format is one JSON object per line (see PROTOCOL.md).  Peers'
 * lines are decoded and validated against a table into struct msg; handlers
 * never see json-c objects, except for the free-form payload of `reply` and
 * `event` messages, which only travel from the main node to operators.
 */
#ifndef PROTOCOL_H
#define PROTOCOL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct evbuffer;
struct json_object;

#define ENCORE_VERSION		"0.1.0"
#define PROTO_VERSION		1		/* wire protocol version */
#define PROTO_LINE_MAX		(64 * 1024)	/* default line cap, bytes */
#define PROTO_DEPTH_MAX		16		/* JSON nesting limit */
#define PROTO_ID_MAX		64		/* device/task/message ids */
#define PROTO_NAME_MAX		128		/* names, models, labels */
#define PROTO_TEXT_MAX		1024		/* reasons, error messages */
#define PROTO_TOKEN_MAX		256
#define PROTO_LIST_MAX		64		/* argv, env, labels, ifaces */
#define PROTO_ARG_MAX		4096		/* one argv/env entry */
#define PROTO_OUTPUT_CHUNK	(16 * 1024)	/* task_output data, bytes */

/* Task limits, checked on the wire (msg-table.c) and by the CLI. */
#define PROTO_IMAGE_MAX		255		/* container image name */
#define PROTO_TIMEOUT_MAX	604800		/* --timeout, seconds (7 d) */
#define PROTO_RETRIES_MAX	100		/* --retries */
#define PROTO_CPUS_MAX		1024		/* --cpus */
#define PROTO_MEMORY_MB_MAX	16777216	/* --memory, MiB (16 TiB) */
#define PROTO_PIDS_MAX		1000000		/* limits.pids */

/* Files (PROTOCOL.md "Files"). */
#define PROTO_FILE_FRAME_MAX	(1024 * 1024)	/* raw bytes after file_data */
#define PROTO_FILE_NAME_MAX	1024		/* a file's relative path */
#define PROTO_INPUTS_MAX	4096		/* files of one task */
#define PROTO_GLOBS_MAX		64		/* outputs, checkpoints */
#define PROTO_SHA256_HEX	64
#define PROTO_CHECKPOINT_EXIT	85		/* "checkpoint taken" */

/* A worker that lost its main node retries at most this far apart, so a
 * restarted main node waits at least this long (plus a heartbeat) for its
 * devices before it re-queues their tasks. */
#define PROTO_RECONNECT_MAX_S	10

/* ---- xmalloc.c: allocation that dies loudly on failure ---- */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **, const char *, va_list);

/* ---- log.c: one line per event, with a level, to stderr ---- */
enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};
extern int log_level;

/* Set the program name shown on each line and the level.  Also hooks
 * libevent's own messages into our log. */
void	 log_init(const char *prog, int level);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int	 log_level_parse(const char *);
void	 log_msg(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Write a peer-supplied string into buf with control characters escaped, so
 * it can be logged safely; returns buf. */
char	*log_sanitize(const char *s, char *buf, size_t size);
/* Print message + strerror(errno) at error level and exit(1). */
void	 fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* Print message at error level and exit(1). */
void	 fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	do {						\
	if (log_level >= LOG_WARN) log_msg(LOG_WARN, __VA_ARGS__);	\
} while (0)
#define log_info(...)	do {						\
	if (log_level >= LOG_INFO) log_msg(LOG_INFO, __VA_ARGS__);	\
} while (0)
#define log_debug(...)	do {						\
	if (log_level >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__);	\
} while (0)

/* ---- framing.c: LF-delimited lines with a length cap ---- */
enum frame_result {
	FRAME_OK,	/* *line holds one line (no LF, no trailing CR) */
	FRAME_AGAIN,	/* no complete line buffered yet */
	FRAME_TOO_LONG,	/* more than max bytes without LF: a protocol error */
};
/* Take one line from evb.  On FRAME_OK, *line is NUL-terminated and the
 * caller frees it; *len is its length.  A complete line longer than max is
 * also FRAME_TOO_LONG (and is left in the buffer). */
enum frame_result frame_read_line(struct evbuffer *evb, size_t max,
	    char **line, size_t *len);

/* ---- framing.c: a session's stream of lines and raw file frames ----
 * After a file_data line, exactly its len raw bytes follow before the
 * next line.  The reader hands out lines, or runs of those bytes as they
 * arrive (never more than the frame has left). */
struct frame_reader {
	int64_t	 raw_left;		/* bytes of a frame still to come */
};
enum frame_kind {
	FRAME_K_LINE,			/* *line as frame_read_line */
	FRAME_K_RAW,			/* *raw_len bytes at the buffer's
					   front belong to the frame */
	FRAME_K_AGAIN,
	FRAME_K_TOO_LONG,
};
enum frame_kind	 frame_next(struct frame_reader *, struct evbuffer *,
		    size_t max, char **line, size_t *len);
/* The caller used (drained) n raw bytes of the frame. */
void		 frame_raw_done(struct frame_reader *, size_t n);
/* A file_data line was read: its len bytes come next. */
void		 frame_expect_raw(struct frame_reader *, int64_t len);
/* A frame's n bytes of file fd from off, read into a fresh buffer to
 * queue after its file_data line; NULL on a short read or an error. */
struct evbuffer	*frame_read_file(int fd, int64_t off, size_t n);
/* Point iov (at most max, at most FRAME_IOV_MAX) at the first bytes of
 * in, n at most in all, without copying; returns how many, their bytes in
 * *len (the caller drains them when done). */
#define FRAME_IOV_MAX	16
struct iovec;
int		 frame_peek(struct evbuffer *in, size_t n, struct iovec *iov,
		    int max, size_t *len);

/* ---- util.c ---- */
/* 1 if s is 64 lowercase hex digits. */
int	 proto_sha256_ok(const char *s);
/* 1 if name is a safe relative path for a task's file: not empty, at most
 * PROTO_FILE_NAME_MAX bytes, no leading '/', no "." or ".." or empty
 * component, no control characters.  *why (may be NULL) says what. */
int	 proto_file_name_ok(const char *name, const char **why);
/* Constant-time string comparison for tokens; 1 if equal. */
int	 proto_token_equal(const char *a, const char *b);
/* Current time as ISO 8601 UTC ("2026-11-22T10:31:00Z") into buf[32]. */
char	*proto_timestamp(char *buf, size_t size);
/* Unix seconds -> ISO 8601 UTC into buf; "" for 0. */
char	*proto_format_time(int64_t t, char *buf, size_t size);
/* Split "host:port", "[v6]:port" or "host" (default port).  Caller frees
 * *host and *port.  Returns -1 with *cause (caller frees) on bad input. */
int	 proto_parse_hostport(const char *s, const char *defport,
	    char **host, char **port, char **cause);

/* ---- runtime.c: helpers every program needs the same way ---- */
#include <sys/types.h>
double	 proto_now_mono(void);		/* monotonic seconds */
double	 proto_now_wall(void);		/* unix seconds with a fraction */
/* mkdir -p; the last component gets mode.  0, or -1 with errno. */
int	 proto_mkdirs(const char *path, mode_t mode);
/* The first line of a secret file, trimmed; NULL with *cause. */
char	*proto_read_secret(const char *path, char **cause);
/* /var/lib/NAME (root: root_dir if given), $XDG_STATE_HOME/NAME or
 * ~/.local/state/NAME.  Caller frees. */
char	*proto_default_state_dir(const char *name, const char *root_dir);

/* ---- message types ---- */
enum msg_type {
	MSG_UNKNOWN = 0,
	/* worker -> main */
	MSG_REGISTER,
	MSG_HEARTBEAT,
	MSG_TASK_STARTED,
	MSG_TASK_OUTPUT,
	MSG_TASK_RESULT,
	MSG_BYE,		/* also main -> anyone on shutdown */
	/* main -> worker */
	MSG_REGISTER_ACK,
	MSG_TASK_ASSIGN,
	MSG_TASK_CANCEL,
	MSG_RESULT_ACK,
	MSG_ERROR,		/* main -> anyone */
	/* operator -> main */
	MSG_AUTH,
	MSG_SUBMIT,
	MSG_LIST_DEVICES,
	MSG_LIST_TASKS,
	MSG_GET_TASK,
	MSG_LOGS,
	MSG_CANCEL,
	MSG_APPROVE,
	MSG_REJECT,
	MSG_DRAIN,
	MSG_UNDRAIN,
	MSG_REMOVE,
	MSG_SUBSCRIBE,
	MSG_STATUS,		/* cluster summary (the CLI's `status`) */
	MSG_BACKUP,		/* a consistent copy of the database */
	MSG_HOLD,		/* hold a queued or waiting task */
	MSG_RELEASE,		/* release a held task */
	MSG_FILE_STAT,		/* how much of a file the main node has */
	MSG_FILE_DATA,		/* a frame of a file: raw bytes follow */
	MSG_FILE_GET,		/* send me a file from an offset */
	MSG_FILE_ACK,		/* main -> worker: an upload's outcome */
	MSG_TASK_CHECKPOINT,	/* worker: a task took a checkpoint */
	/* main -> operator */
	MSG_REPLY,
	MSG_EVENT,
	MSG__COUNT
};

/* Who may send a message type (msg_type_from() / table flags). */
#define MSG_F_FROM_WORKER	0x1
#define MSG_F_FROM_OPERATOR	0x2
#define MSG_F_FROM_MAIN		0x4

/* "heartbeat" -> MSG_HEARTBEAT; MSG_UNKNOWN if not a type we know. */
enum msg_type	 msg_type_from_name(const char *);
const char	*msg_type_name(enum msg_type);
/* MSG_F_* flags of a type. */
int		 msg_type_flags(enum msg_type);

/* Error codes carried in `error` messages and in failed replies. */
enum proto_code {
	PROTO_OK = 0,
	PROTO_BAD_JSON,		/* line is not a JSON object */
	PROTO_BAD_FIELD,	/* missing/wrong type/out of range field */
	PROTO_UNKNOWN_TYPE,	/* message_type we do not know */
	PROTO_LINE_TOO_LONG,	/* line over the cap */
	PROTO_BAD_VERSION,	/* protocol_version we do not speak */
	PROTO_UNAUTHORIZED,	/* missing or wrong token / key */
	PROTO_FORBIDDEN,	/* message not allowed in this session */
	PROTO_NOT_FOUND,	/* no such device / task */
	PROTO_CONFLICT,		/* id in use, wrong state for the action */
	PROTO_BUSY,		/* server at a limit: retry later */
	PROTO_INTERNAL,		/* server fault */
	PROTO__COUNT
};
const char	*proto_code_name(enum proto_code);	/* "bad_json" */
enum proto_code	 proto_code_from_name(const char *);	/* PROTO_INTERNAL if unknown */

/* A decode or request error: a code plus a message a human can act on. */
struct proto_err {
	enum proto_code	 code;
	char		 message[PROTO_TEXT_MAX];
	enum msg_type	 type;		/* msg_decode: the line's type when
					   known, even if it failed */
};
void	 proto_err_set(struct proto_err *, enum proto_code, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));

/*
 * Payload structs.  All char * fields are heap strings owned by the
 * enclosing struct msg (freed by msg_free), NULL when absent.  Numbers a
 * device could not measure are NAN (doubles) or -1 (integers) and travel as
 * JSON null.
 */

/* A key=value pair (labels, env). */
struct proto_kv {
	char	*key;
	char	*value;
};

/* A file of a task: where it goes (a relative path), what it is. */
struct proto_file {
	char	*name;
	char	*sha256;		/* 64 lowercase hex */
	int64_t	 size;
	int	 mode;			/* permission bits, default 0644 */
};

void	 proto_files_free(struct proto_file *, size_t);
struct proto_file *proto_files_copy(const struct proto_file *, size_t);

/* A (task_id, attempt) reference. */
struct proto_task_ref {
	char	*task_id;
	int	 attempt;		/* >= 1 */
};

/* register.data.device_info */
struct proto_device_info {
	char	*hostname;
	char	*platform;		/* linux, android, ... */
	char	*architecture;		/* x86_64, aarch64, armv6l, ... */
	char	*os;			/* "Debian GNU/Linux 12 (bookworm)" */
	char	*kernel;		/* uname -r */
	char	*role;			/* "worker" */
};

/* register.data.hardware_specs */
struct proto_hw_specs {
	int	 cpu_cores;		/* -1 unknown */
	char	*cpu_model;
	char	*model;			/* board, e.g. "Raspberry Pi 4 ..." */
	double	 cpu_mhz;		/* NAN unknown */
	int64_t	 memory_total;		/* bytes, -1 unknown */
	int64_t	 disk_space;		/* bytes, -1 unknown */
	int64_t	 disk_free;		/* bytes, -1 unknown */
	char	**network_interfaces;	/* n_ifaces names */
	size_t	 n_ifaces;
	char	**gpus;			/* n_gpus descriptions */
	size_t	 n_gpus;
};

/* heartbeat.data.system_metrics */
struct proto_metrics {
	double	 cpu_usage;		/* percent, NAN unknown */
	double	 memory_usage;		/* percent */
	double	 disk_usage;		/* percent */
	double	 load_average[3];
	double	 uptime;		/* seconds */
	double	 temperature;		/* degrees C, NAN unknown */
	int	 battery_percent;	/* -1: no battery */
	int	 battery_charging;	/* 0/1, meaningful with a battery */
	int64_t	 net_rx;		/* bytes/s, -1 unknown */
	int64_t	 net_tx;
};

enum proto_task_type {
	TASK_TYPE_COMMAND = 0,
	TASK_TYPE_CONTAINER,
};
const char	*proto_task_type_name(enum proto_task_type);
int		 proto_task_type_from_name(const char *);	/* -1 if bad */

enum proto_priority {
	PRIO_LOW = 0,
	PRIO_NORMAL,
	PRIO_HIGH,
	PRIO_URGENT,
};
const char	*proto_priority_name(enum proto_priority);
int		 proto_priority_from_name(const char *);	/* -1 if bad */

/*
 * Task states.  The numbers are stored in the main node's database and
 * must never change: new states go at the end.  Final states are exactly
 * COMPLETED..CANCELLED (proto_task_status_is_final); SQL that selects
 * them by range relies on that (checked where it is written).
 */
enum proto_task_status {
	TASK_QUEUED = 0,
	TASK_ASSIGNED = 1,
	TASK_RUNNING = 2,
	TASK_COMPLETED = 3,
	TASK_FAILED = 4,
	TASK_TIMED_OUT = 5,
	TASK_CANCELLED = 6,
	TASK_WAITING = 7,	/* a dependency is not met yet */
	TASK_HELD = 8,		/* held by an operator or the main node */
	TASK__COUNT
};
#define TASK_FINAL_FIRST	TASK_COMPLETED
#define TASK_FINAL_LAST		TASK_CANCELLED
const char	*proto_task_status_name(enum proto_task_status);
int		 proto_task_status_from_name(const char *);	/* -1 if bad */
/* 1 if a task in this state has ended for good. */
int		 proto_task_status_is_final(enum proto_task_status);
/* The same by name; an unknown name is not final. */
int		 proto_task_state_name_is_final(const char *);

/* Device states as shown to operators, in the order of every listing. */
enum proto_device_state {
	DEVICE_ONLINE = 0,
	DEVICE_BUSY,
	DEVICE_PAUSED,
	DEVICE_OFFLINE,
	DEVICE_PENDING,
	DEVICE_DRAINING,
	DEVICE__COUNT
};
const char	*proto_device_state_name(enum proto_device_state);
int		 proto_device_state_from_name(const char *);	/* -1 if bad */

/*
 * A task as submitted (submit.data.task) and as assigned
 * (task_assign.data.task).  task_id/attempt are set only on assign.
 * Wire form: {task_id, attempt, name, task_type, image, command [argv],
 * env {}, priority, timeout, retries, limits {cpus, memory_mb, pids},
 * requirements {arch, platform, labels {}, device}}.
 */
struct proto_task {
	char			*task_id;
	int			 attempt;
	char			*name;
	enum proto_task_type	 type;		/* container iff image given */
	char			*image;
	char			**argv;		/* argc entries, argc >= 1 */
	size_t			 argc;
	struct proto_kv		*env;
	size_t			 n_env;
	enum proto_priority	 priority;
	int			 timeout;	/* seconds, 0 = none */
	int			 retries;	/* extra attempts on failure */
	double			 cpus;		/* 0 = no limit */
	int			 memory_mb;	/* 0 = no limit */
	int			 pids;		/* 0 = default */
	char			*req_arch;
	char			*req_platform;
	struct proto_kv		*req_labels;
	size_t			 n_req_labels;
	char			*req_device;

	/* submit only (data.array, data.after..., data.hold): */
	int64_t			 array_start;	/* first index */
	int64_t			 array_end;	/* last index; -1: no array */
	int64_t			 array_step;
	int			 array_limit;	/* most running at once, 0 any */
	char			**after;	/* ids that must complete OK */
	size_t			 n_after;
	char			**after_any;	/* ids that must end */
	size_t			 n_after_any;
	char			**after_notok;	/* ids that must end not OK */
	size_t			 n_after_notok;
	int			 hold;		/* queue it held */

	/* files (submit and assign; checkpoint only on assign): */
	struct proto_file	*inputs;
	size_t			 n_inputs;
	char			**outputs;	/* glob patterns */
	size_t			 n_outputs;
	char			**checkpoints;	/* glob patterns */
	size_t			 n_checkpoints;
	struct proto_file	*checkpoint;	/* the last one taken */
	size_t			 n_checkpoint;
};
#define PROTO_ARRAY_MAX		1000000		/* elements of one array */
#define PROTO_ARRAY_INDEX_MAX	1000000000	/* largest index */

struct msg_register {
	char			*token;		/* join token, or */
	char			*device_key;	/* the device's own key */
	char			*join_secret;	/* the worker's own, with token */
	struct proto_device_info info;
	struct proto_hw_specs	 hw;
	char			**capabilities;
	size_t			 n_capabilities;
	struct proto_kv		*labels;
	size_t			 n_labels;
	int			 slots;		/* -1 absent */
	struct proto_task_ref	*running;	/* running_tasks */
	size_t			 n_running;
};

struct msg_register_ack {
	char	*device_id;
	char	*state;			/* approved / pending */
	char	*device_key;		/* first approval only */
	int	 heartbeat_interval;	/* seconds */
};

struct msg_heartbeat {
	struct proto_metrics	 metrics;
	struct proto_task_ref	*active;	/* active_tasks */
	size_t			 n_active;
	int			 accepting;	/* default 1 */
	char			*reason;
};

struct msg_task_output {
	char	*task_id;
	int	 attempt;
	char	*stream;		/* stdout / stderr */
	int64_t	 seq;
	char	*data;
	size_t	 data_len;
};

struct msg_task_result {
	char			*task_id;
	int			 attempt;
	enum proto_task_status	 status;	/* completed..cancelled */
	int			 exit_code;	/* -1 absent */
	double			 execution_time; /* seconds, NAN absent */
	char			*error;
	double			 cpu_time;	/* NAN absent */
	int64_t			 memory_peak;	/* bytes, -1 absent */
	int			 start_failed;	/* never started on this device */
	int			 vacated;	/* stopped by the device's policy */
	struct proto_file	*outputs;	/* uploaded before the result */
	size_t			 n_outputs;
};

/* file_stat, file_data, file_get, file_ack */
struct msg_file {
	char	*sha256;
	int64_t	 size;			/* the whole file; -1 absent */
	int64_t	 offset;		/* file_data, file_get */
	int64_t	 len;			/* file_data: raw bytes that follow */
	int64_t	 have;			/* file_ack */
	int	 complete;		/* file_ack */
	char	*error;			/* file_ack: why it failed, or NULL */
};

/* task_checkpoint */
struct msg_checkpoint {
	char			*task_id;
	int			 attempt;
	struct proto_file	*files;
	size_t			 n_files;
};

struct msg_error {
	enum proto_code	 code;
	char		*message;
};

struct msg_submit {
	struct proto_task	 task;
};

/* Operator messages naming one object. */
struct msg_target {
	char	*task_id;	/* get_task, logs, cancel */
	char	*device_id;	/* approve, reject, drain, undrain, remove */
	int	 follow;	/* logs */
	int	 all;		/* list_tasks */
	int	 limit;		/* list_tasks: rows per page, 0 default */
	char	*after;		/* list_tasks: page after this task id */
	int	 expand;	/* list_tasks: array elements too */
	char	*reason;	/* hold */
};

struct msg_subscribe {
	int	 devices;	/* topics include "devices" */
	int	 tasks;		/* topics include "tasks" */
};

/* A decoded message: the envelope plus the payload for its type. */
struct msg {
	enum msg_type	 type;
	char		*sender_id;
	char		*target_id;
	char		*message_id;
	char		*reply_to;
	char		*timestamp;
	int		 protocol_version;	/* 0 when absent */
	union {
		struct msg_register	 reg;		/* register */
		struct msg_register_ack	 ack;		/* register_ack */
		struct msg_heartbeat	 hb;		/* heartbeat */
		struct proto_task_ref	 ref;		/* task_started,
							   task_cancel,
							   result_ack */
		struct msg_task_output	 output;	/* task_output */
		struct msg_task_result	 result;	/* task_result */
		char			*reason;	/* bye */
		struct msg_error	 error;		/* error */
		struct proto_task	 task;		/* task_assign, submit */
		char			*token;		/* auth */
		struct msg_target	 target;	/* get_task ... remove,
							   list_tasks */
		struct msg_subscribe	 sub;		/* subscribe */
		struct msg_file		 file;		/* file_* */
		struct msg_checkpoint	 ckpt;		/* task_checkpoint */
		struct json_object	*json;		/* reply, event: data,
							   owned (a ref) */
	} u;
};

/* Zero a message and set its type (numbers to their "absent" values). */
void	 msg_init(struct msg *, enum msg_type);
/* Free everything the message owns (not the struct itself). */
void	 msg_free(struct msg *);
/* 1 if two messages carry the same type, envelope and payload. */
int	 msg_equal(const struct msg *, const struct msg *);

/*
 * Decode one line (without its LF) into m.  Checks: valid UTF-8 JSON, a
 * top-level object, depth <= PROTO_DEPTH_MAX, a known message_type, and
 * every field of data against the type's table (required, type, range,
 * length).  Unknown fields are ignored.  Returns 0, or -1 with err filled
 * (m is then left freed and zeroed).
 */
int	 msg_decode(const char *line, size_t len, struct msg *m,
	    struct proto_err *err);

/*
 * Encode m as one line ending in "\n".  Returns a heap string the caller
 * frees; *len (if not NULL) gets its length.  Envelope fields that are NULL
 * are omitted, except timestamp, which is filled with the current time.
 */
char	*msg_encode(const struct msg *m, size_t *len);
/* Encode m and append the line to evb.  Returns 0, or -1 on failure. */
int	 msg_write(struct evbuffer *evb, const struct msg *m);

/* Append an `error` message line with the given code and text. */
int	 msg_write_error(struct evbuffer *evb, const char *reply_to,
	    enum proto_code code, const char *message);

/* Append {"ok": false, "error": {code, message}} `reply` to evb. */
int	 msg_write_reply_error(struct evbuffer *evb, const char *reply_to,
	    enum proto_code code, const char *message);

#endif /* PROTOCOL_H */
