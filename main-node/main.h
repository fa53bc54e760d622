/* SPDX-License-Identifier: ISC */
/*
 * main.h -- private interfaces of encore-main, grouped by file.
 *
 * One event_base, one thread.  Connections (conn.c) carry either a worker
 * session, an operator session or one text command.  Devices live in
 * memory (registry.c) and in SQLite (store*.c); tasks live in SQLite and
 * the in-memory scheduler only looks at the few it is placing.
 */
#ifndef MAIN_H
#define MAIN_H

#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "protocol.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

struct addr_slot;
struct bufferevent;
struct json_object;
struct store;

/* Options in force (from flags, the config file and defaults). */
struct options {
	char	*listen;		/* "0.0.0.0:7070" */
	char	*state_dir;
	char	*join_token;
	char	*operator_token;
	int	 approve_auto;
	int	 heartbeat_interval;	/* seconds */
	int	 offline_after;		/* seconds */
	int	 text_export;		/* TEXT_EXPORT_* */
	size_t	 max_line;
	int	 max_connections;
	int	 auth_timeout;		/* s to register/auth/send a command */
	int	 max_conns_per_addr;	/* 0 = no limit; loopback exempt */
	int	 max_msg_rate;		/* lines/s per connection, 0 = none */
	size_t	 max_conn_buffer;	/* unread output bytes per connection */
	size_t	 max_output;		/* bytes of output kept per task */
	int	 max_queued;
};
#define TEXT_EXPORT_OFF		0
#define TEXT_EXPORT_ON		1
#define TEXT_EXPORT_LOCAL	2

#define CONN_TEXT_LINE		1024	/* longest text command */

/* Derived device state, as shown in the export (SPEC section 5). */
enum device_state {
	DEV_ONLINE,
	DEV_BUSY,
	DEV_PAUSED,
	DEV_OFFLINE,
	DEV_PENDING,
	DEV_DRAINING,
};

/*
 * A device known to the cluster.  Owned by the registry; every pointer field
 * is owned by the device.  conn is a borrowed back-pointer, NULL while the
 * device is disconnected.
 */
struct device {
	char			*id;
	char			*key;		/* device_key, NULL until approved */
	int			 key_delivered;	/* the device has its key */
	int			 approved;
	int			 drained;
	int64_t			 created_at;	/* unix seconds */

	/* Profile from the last register (moved out of the message). */
	struct proto_device_info info;
	struct proto_hw_specs	 hw;
	char			**caps;
	size_t			 n_caps;
	struct proto_kv		*labels;
	size_t			 n_labels;
	int			 slots;

	/* Live state. */
	struct conn		*conn;
	struct proto_metrics	 metrics;
	int			 have_metrics;
	int			 accepting;
	char			*reason;	/* why not accepting */
	int			 running;	/* tasks assigned or running */
	double			 cpus_used;	/* sum of running tasks' cpus */
	int64_t			 mem_used_mb;	/* sum of their memory_mb */
	double			 last_seen;	/* monotonic seconds, 0 never */
	int64_t			 last_seen_wall; /* unix seconds, for the db */
	double			 lost_at;	/* connection closed (mono) */
	int			 online;	/* counts as connected/live */
	int			 dirty;		/* needs a store flush */
	int			 event_pending;	/* metrics changed, not sent */

	struct device		*hnext;		/* registry hash chain */
	TAILQ_ENTRY(device)	 entry;		/* registry list, by id */
};
TAILQ_HEAD(device_list, device);

/* Session kinds of a connection. */
enum conn_role {
	ROLE_NEW,		/* nothing received yet */
	ROLE_JSON,		/* JSON session, not yet registered/authed */
	ROLE_WORKER,
	ROLE_OPERATOR,
	ROLE_TEXT,		/* one text command, then close */
};

/*
 * One TCP connection.  Owned by the server's list; freed later, from an
 * event, never inside its own callback (conn_close).
 */
struct conn {
	struct server		*server;
	struct bufferevent	*bev;
	char			 addr[64];	/* "127.0.0.1:5555" for logs */
	int			 is_local;	/* from loopback */
	struct addr_slot	*addr_slot;	/* per-address count, NULL local */
	double			 rate_tokens;	/* --max-msg-rate bucket */
	double			 rate_last;	/* last refill (monotonic) */
	struct event		*rate_ev;	/* resumes reading when paused */
	enum conn_role		 role;
	struct device		*device;	/* ROLE_WORKER, borrowed */
	int			 bad_lines;	/* in a row */
	int			 closing;
	int			 sub_devices;	/* subscribe topics */
	int			 sub_tasks;
	int64_t			 follow_task;	/* logs -f, 0 = none */
	char			*follow_reply;	/* message_id of the logs */
	double			 created;	/* monotonic */
	struct event		*idle_ev;	/* unregistered timeout */
	int			 watching;	/* on the watchers list */
	struct evbuffer		*held;		/* output of an open batch */
	int			 holding;	/* on the held list */
	TAILQ_ENTRY(conn)	 entry;
	TAILQ_ENTRY(conn)	 watch_entry;
	TAILQ_ENTRY(conn)	 held_entry;
};
TAILQ_HEAD(conn_list, conn);

/* The main node. */
struct server {
	struct event_base	*base;
	struct options		*opt;
	struct store		*store;
	struct evconnlistener	*listener;
	struct event		*accept_ev;	/* EMFILE backoff timer */
	struct event		*tick_ev;	/* 1 s housekeeping */
	struct event		*sig_ev[3];
	struct conn_list	 conns;
	struct conn_list	 watchers;	/* subscribers and followers */
	int			 n_conns;
	int			 stopping;
	double			 started;	/* monotonic */
	int64_t			 started_wall;
	uint64_t		 msgs_in;	/* counters for `metrics` */
	uint64_t		 msgs_bad;
	uint64_t		 conns_total;
	int			 sched_dirty;	/* run the scheduler */
	struct event		*sched_ev;	/* deferred scheduler pass */
};

/* main-node.c */
double		 now_mono(void);

/* server.c */
int		 server_start(struct server *, char **cause);
void		 server_stop(struct server *);
void		 server_shutdown(struct server *);

/* conn.c */
struct conn	*conn_create(struct server *, evutil_socket_t,
		    const struct sockaddr *, int);
void		 conn_close(struct conn *, const char *why);
void		 conn_release(struct conn *);
int		 conn_addr_count(const struct conn *);
int		 conn_send(struct conn *, const struct msg *);
int		 conn_send_json(struct conn *, enum msg_type, const char *reply_to,
		    struct json_object *data);
int		 conn_send_error(struct conn *, const char *reply_to,
		    enum proto_code, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
int		 conn_reply_error(struct conn *, const char *reply_to,
		    enum proto_code, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
void		 conn_write_text(struct conn *, const char *, size_t);
void		 conn_puts(struct conn *, const char *);
void		 conn_watch(struct conn *);

/* handle-worker.c */
void		 worker_handle(struct conn *, struct msg *);
void		 worker_lost(struct conn *);
void		 worker_send_ack(struct server *, struct device *,
		    const char *);
void		 worker_offline(struct server *, struct device *, const char *);

/* handle-client.c */
void		 client_handle(struct conn *, struct msg *);
struct json_object *client_device_json(struct device *);
void		 client_event_device(struct server *, struct device *);
void		 client_event_removed(struct server *, const char *);
void		 client_event_task(struct server *, struct json_object *);
struct json_object *client_status_json(struct server *);

/* registry.c */
void		 registry_init(void);
void		 registry_free(void);
struct device	*registry_find(const char *id);
struct device	*registry_find_key(const char *key);
struct device	*registry_add(const char *id);
void		 registry_remove(struct device *);
struct device_list *registry_list(void);
enum device_state device_state(const struct device *);
const char	*device_state_name(enum device_state);
void		 device_set_profile(struct device *, struct msg_register *);
void		 device_free(struct device *);
int		 device_has_cap(const struct device *, const char *);
const char	*device_label(const struct device *, const char *);
void		 registry_tick(struct server *, double now);
int		 registry_count(void);

/* scheduler.c */
int		 scheduler_can_ever_run(const struct device *,
		    const struct proto_task *);
int		 scheduler_fits(const struct device *, const struct proto_task *);
struct device	*scheduler_pick(struct device_list *, const struct proto_task *);

/* store.c (only store*.c include sqlite3.h) */
struct store	*store_open(const char *path, char **cause);
void		 store_close(struct store *);
int		 store_begin(struct store *);
int		 store_commit(struct store *);
int		 store_end(struct store *, int);
int		 store_integrity_ok(struct store *);

/* store-device.c */
int		 store_device_save(struct store *, struct device *);
int		 store_device_touch(struct store *, struct device *);
int		 store_device_delete(struct store *, const char *id);
int		 store_device_load_all(struct store *);
int		 store_flush_dirty(struct store *);

/* tasks.c */
int		 tasks_start(struct server *);
void		 tasks_kick(struct server *);
void		 tasks_device_registered(struct server *, struct device *,
		    struct proto_task_ref *, size_t);
void		 tasks_device_lost(struct server *, struct device *);
void		 tasks_worker_message(struct conn *, struct msg *);
void		 tasks_client_message(struct conn *, struct msg *);
void		 tasks_status(struct server *, int64_t counts[7]);
void		 tasks_stop(struct server *);
void		 tasks_reload(struct server *);
void		 tasks_tick(struct server *);

/* A task as listed (the text export and list_tasks). */
struct task_row {
	int64_t			 id;
	char			*name;
	enum proto_task_status	 state;
	enum proto_priority	 priority;
	char			*device;
	int			 attempt;
	int			 exit_code;	/* -1 none */
	char			*error;
	char			*image;
	double			 submitted_at;	/* unix seconds, 0 none */
	double			 started_at;
	double			 finished_at;
	int			 retries_left;
	int			 requeues;	/* device-lost re-queues */
	char			*spec;		/* submit line (store) */
};
/* One attempt of a task (strings borrowed for the callback). */
struct attempt_row {
	int		 attempt;
	const char	*device;
	int		 state;
	int		 exit_code;
	const char	*error;
	double		 started_at;
	double		 finished_at;
};
/* Which tasks store_task_list returns. */
enum task_list_mode {
	TASK_LIST_ACTIVE,	/* queued + assigned + running */
	TASK_LIST_RECENT,	/* active + the last 1000 finished */
	TASK_LIST_QUEUE,	/* queued, in dispatch order */
	TASK_LIST_ALL,		/* everything */
};
typedef void (*task_row_cb)(const struct task_row *, void *);

/* store-task.c */
void		 task_row_free(struct task_row *);
int64_t		 store_task_insert(struct store *, const char *, int,
		    const char *, const char *, int, double);
int		 store_task_get(struct store *, int64_t, struct task_row *);
int		 store_task_update(struct store *, const struct task_row *);
int		 store_attempt_put(struct store *, int64_t, int, const char *,
		    int, int, const char *, double, double, double);
int		 store_task_queue_walk(struct store *, int,
		    int (*)(struct task_row *, void *), void *);
int		 store_task_list(struct store *, enum task_list_mode,
		    task_row_cb, void *);
int		 store_task_active(struct store *, task_row_cb, void *);
int		 store_task_counts(struct store *, int64_t counts[7]);
int		 store_attempt_list(struct store *, int64_t,
		    void (*)(const struct attempt_row *, void *), void *);
int64_t		 store_output_add(struct store *, int64_t, int, const char *,
		    const char *, size_t, int64_t, size_t);
int		 store_output_get(struct store *, int64_t, int,
		    void (*)(const char *, const void *, size_t, void *),
		    void *);
int64_t		 store_output_bytes(struct store *, int64_t);
int64_t		 store_task_queued(struct store *);

/* export-text.c */
void		 export_text(struct conn *, const char *line);

/* export-parse.c: a text command's words (pure; fuzzed). */
enum export_verb {
	EXPORT_UNKNOWN,
	EXPORT_HELP,
	EXPORT_DEVICES,
	EXPORT_TASKS,
	EXPORT_QUEUE,
	EXPORT_STATUS,
	EXPORT_METRICS,
};
enum export_fmt {
	EXPORT_FMT_HUMAN,
	EXPORT_FMT_CSV,
	EXPORT_FMT_TSV,
};
struct export_cmd {
	enum export_verb	 verb;
	enum export_fmt		 fmt;
	char			 word[64];	/* first word, for the log */
};
int		 export_parse(const char *line, struct export_cmd *);

/* util */
char		*token_generate(void);	/* 64 hex chars */
int		 json_to_strv(struct json_object *, char ***, size_t *);
struct json_object *json_from_strv(char **, size_t);
struct json_object *json_from_kv(const struct proto_kv *, size_t);
int		 json_to_kv(struct json_object *, struct proto_kv **, size_t *);

#endif /* MAIN_H */
