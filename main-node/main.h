/* SPDX-License-Identifier: ISC */
/*
 * main.h -- private interfaces of encore-main, grouped by file.
 *
 * Where a message goes: conn.c reads lines from a socket and hands each
 * JSON line to dispatch.c, which looks its type up in one table (who may
 * send it, whether it joins the group commit, what it targets) and calls
 * its handler in handle-worker.c, handle-client.c or handle-task.c (and
 * files.c and backup.c for theirs).  A handler answers through
 * request.c, the same for a JSON session and for HTTP (http.c).  File
 * bytes after a file_data line go from conn.c straight to files.c.
 *
 * Where a task changes state: only in task.c (task_transition), driven by
 * a table of legal transitions drawn in that file's header.  Queued tasks
 * are indexed in memory by queue.c, which runs the bounded scheduler pass;
 * scheduler.c is the pure placement rule and the index of devices that
 * can take work.
 *
 * When it is durable: every write of one loop pass shares one SQLite
 * transaction (commit.c), and everything sent while it is open is held
 * until it commits, so no peer hears of a change before it is on disk.
 *
 * Layers run one way: conn -> dispatch -> handle-* -> task state
 * (task.c, queue.c, array.c) -> devices (registry.c, scheduler.c) ->
 * store.  What a lower layer must tell the ones above goes through
 * callbacks in struct server that main-node.c sets at start: conn.c's
 * lines and closes, the end of a loop pass (the scheduler's turn before
 * the group commit), a failed commit, a task or a device that changed
 * (watch.c's events).  spec.c (a stored task decoded) and request.c sit
 * under all of them.
 */
#ifndef MAIN_H
#define MAIN_H

#include <sys/socket.h>

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
struct deferred_list;
struct dispatch_target;
struct request;
struct bufferevent;
struct evbuffer;
struct json_object;
struct store;
struct task;
struct task_row;

/* Options in force (from flags, the config file and defaults). */
struct options {
	char	*listen;		/* "0.0.0.0:7070" */
	char	*state_dir;
	char	*join_token;
	char	*operator_token;
	int	 approve_auto;
	int	 heartbeat_interval;	/* seconds */
	int	 offline_after;		/* seconds */
	int	 lost_after;		/* seconds before a lost device's
					   tasks are re-queued */
	int	 text_export;		/* TEXT_EXPORT_* */
	size_t	 max_line;
	int	 max_connections;
	int	 auth_timeout;		/* s to register/auth/send a command */
	int	 max_conns_per_addr;	/* 0 = no limit; loopback exempt */
	int	 max_msg_rate;		/* lines/s per connection, 0 = none */
	size_t	 max_conn_buffer;	/* unread output bytes per connection */
	size_t	 max_output;		/* bytes of output kept per task */
	int	 max_queued;
	int	 max_pending;		/* devices waiting for approval */
	int64_t	 keep_finished;		/* seconds a finished task is kept */
	int	 snapshot_interval;	/* seconds, 0 = none */
	int	 snapshot_keep;
	int64_t	 max_files;		/* bytes of STATE/files */
	int64_t	 max_input;		/* input bytes of one task */
	int	 plaintext;		/* PLAINTEXT_*: JSON sessions */
	int	 rotate_cert;		/* --rotate-server-cert, then exit */
};
#define PLAINTEXT_OFF		0
#define PLAINTEXT_ON		1
#define PLAINTEXT_LOCAL		2
#define TEXT_EXPORT_OFF		0
#define TEXT_EXPORT_ON		1
#define TEXT_EXPORT_LOCAL	2

#define CONN_TEXT_LINE		1024	/* longest text command */
#define TASK_REQUEUE_MAX	3	/* device-lost re-queues per task */
#define TASK_START_FAILS_MAX	3	/* failed starts before it is held */
#define DEVICE_FAILS_MAX	5	/* failures in a row: quarantine */
#define DEVICE_HELD_MAX		256	/* files remembered per device */
#define TASK_INPUT_HINTS	8	/* input hashes kept for placement */

/* What a task needs of a device (the scheduler's inputs), as stored in
 * the task's placement columns.  Strings are owned by whoever embeds it. */
struct placement {
	enum proto_task_type	 type;
	double			 cpus;
	int			 memory_mb;
	char			*arch;		/* NULL: any */
	char			*platform;
	char			*device;	/* pinned device id */
	struct proto_kv		*labels;	/* sorted by key */
	size_t			 n_labels;
};

/*
 * A device known to the cluster.  Owned by the registry; every pointer field
 * is owned by the device.  conn is a borrowed back-pointer, NULL while the
 * device is disconnected.  tasks lists the active tasks placed on it
 * (borrowed; task.c keeps it).
 */
struct device {
	char			*id;
	char			*key;		/* device_key, NULL until approved */
	int			 key_delivered;	/* the device has its key */
	char			*join_hash;	/* SHA-256 hex of the secret it
					   joined with, NULL if none */
	int			 approved;
	int			 drained;	/* by an operator or quarantine */
	int			 fail_streak;	/* tasks failed here in a row */
	char			*quarantined;	/* why, when quarantined */
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
	double			 paused_since;	/* mono, while not accepting */
	double			 suspended_total; /* s paused, this run */
	int			 running;	/* tasks assigned or running */
	double			 cpus_used;	/* sum of running tasks' cpus */
	int64_t			 mem_used_mb;	/* sum of their memory_mb */
	double			 last_seen;	/* monotonic seconds, 0 never */
	int64_t			 last_seen_wall; /* unix seconds, for the db */
	double			 lost_at;	/* connection closed (mono) */
	int			 online;	/* counts as connected/live */
	int			 dirty;		/* needs a store flush */
	int			 event_pending;	/* metrics changed, not sent */
	char			**held;		/* files it fetched or sent
						   lately (a ring of
						   DEVICE_HELD_MAX SHA-256
						   hex, made on the first),
						   for placing tasks where
						   inputs are */
	int			 held_next;

	TAILQ_HEAD(, task)	 tasks;		/* active tasks placed here */
	int			 avail_idx;	/* in the scheduler's index, -1 */
	struct device		*hnext;		/* registry hash chain */
	TAILQ_ENTRY(device)	 entry;		/* registry list, by id */
};
TAILQ_HEAD(device_list, device);

/* Session kinds of a connection (a bit each, for dispatch's table). */
enum conn_role {
	ROLE_NEW = 0x01,	/* nothing received yet */
	ROLE_JSON = 0x02,	/* JSON session, not yet registered/authed */
	ROLE_WORKER = 0x04,	/* an approved device */
	ROLE_PENDING = 0x08,	/* a device waiting for approval */
	ROLE_OPERATOR = 0x10,
	ROLE_TEXT = 0x20,	/* one text command, then close */
	ROLE_HTTP = 0x40,	/* HTTP requests (http.c) */
};

/* Fills more output when a connection's buffer runs low (a long text
 * export); returns 1 while there is more to come, 0 when done. */
typedef int (*conn_producer_cb)(struct conn *, void *);

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
	struct device		*device;	/* worker/pending, borrowed */
	int			 bad_lines;	/* in a row */
	int			 closing;
	int			 eof;		/* the peer stopped sending */
	int			 sub_devices;	/* subscribe topics */
	int			 sub_tasks;
	int64_t			 follow_task;	/* logs -f, 0 = none */
	int64_t			 follow_array;	/* logs -f of an element not
						   made yet: its array ... */
	int64_t			 follow_index;	/* ... and index */
	char			*follow_reply;	/* message_id of the logs */
	double			 created;	/* monotonic */
	struct event		*idle_ev;	/* unregistered timeout */
	struct sockaddr_storage	 peer;		/* the peer's address */
	int			 peer_len;
	int			 http_sse;	/* an events stream now */
	int			 tls;		/* inside TLS */
	int			 free_waits;	/* for its last TLS bytes */
	int			 watching;	/* on the watchers list */
	struct evbuffer		*held;		/* output held for a commit */
	int			 holding;	/* on the held list */
	struct deferred_list	*deferred;	/* dispatch's: lines waiting
						   for the database */
	struct frame_reader	 fr;		/* raw bytes of a file frame */
	int			 raw_discard;	/* that frame is dropped */
	void			*files;		/* files.c's state, or NULL */
	conn_producer_cb	 producer;	/* streams a long reply */
	void			*producer_arg;	/* owned by the producer */
	void			(*producer_free)(void *);
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
	struct event		*pass_ev;	/* end of a loop pass */
	struct event		*sig_ev[3];
	struct conn_list	 conns;
	struct conn_list	 watchers;	/* subscribers and followers */
	int			 n_conns;
	int			 stopping;
	int			 reserve_fd;	/* given up to refuse on EMFILE */
	double			 started;	/* monotonic */
	int64_t			 started_wall;
	double			 last_tick;	/* monotonic, for stall checks */
	uint64_t		 msgs_in;	/* counters for `metrics` */
	uint64_t		 msgs_bad;
	uint64_t		 conns_total;
	uint64_t		 commits;
	uint64_t		 commits_failed;
	double			 pass_seconds;	/* scheduler, total */
	uint64_t		 passes;

	/* conn.c's callbacks into the layers above it. */
	void	(*on_json_line)(struct conn *, const char *, size_t);
	void	(*on_text_line)(struct conn *, const char *);
	void	(*on_closed)(struct conn *);
	void	(*on_http)(struct conn *, struct evbuffer *);
	void	(*on_raw)(struct conn *, struct evbuffer *, size_t);
	void	(*on_raw_end)(struct conn *);

	/* The layers above, heard from below (set by main-node.c at start),
	 * so that the group commit, task and device state never call up:
	 * the end of a loop pass before its commit (the scheduler's turn),
	 * a failed commit (memory reloaded from the database), a task or a
	 * device that changed (events to whoever listens), an HTTP
	 * connection that goes. */
	void	(*on_pass_end)(struct server *);
	void	(*on_commit_failed)(struct server *);
	void	(*on_task_change)(struct server *, const struct task_row *);
	void	(*on_device_change)(struct server *, struct device *);
	void	(*on_http_closed)(struct conn *);
};

/* Tell the layers above that a task or a device changed. */
static inline void
server_task_changed(struct server *s, const struct task_row *r)
{
	if (s->on_task_change != NULL)
		s->on_task_change(s, r);
}
static inline void
server_device_changed(struct server *s, struct device *d)
{
	if (s->on_device_change != NULL)
		s->on_device_change(s, d);
}

/* ---- runtime shorthands ---- */
#define now_mono()	proto_now_mono()
#define now_wall()	proto_now_wall()

/* server.c */
int		 server_start(struct server *, char **cause);
void		 server_stop(struct server *);
void		 server_shutdown(struct server *);

/* conn.c: sockets and buffers only */
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
void		 conn_puts(struct conn *, const char *);
struct evbuffer	*conn_output(struct conn *);
int		 conn_check_output(struct conn *);
void		 conn_set_producer(struct conn *, conn_producer_cb, void *,
		    void (*)(void *));
void		 conn_watch(struct conn *);
void		 conn_hold_start(void);
void		 conn_hold_end(int release);
int		 conn_is_holding(const struct conn *);
void		 conn_line_result(struct conn *, int bad);
void		 conn_expect_raw(struct conn *, int64_t len, int discard);
conn_producer_cb conn_producer(const struct conn *);

/* commit.c: one transaction per loop pass */
void		 commit_start(struct server *);
void		 commit_stop(struct server *);
int		 commit_open(struct server *);
int		 commit_is_open(void);
void		 commit_note(struct conn *, const char *message_id);
void		 commit_forget(struct conn *);
int		 commit_flush(struct server *);
void		 commit_kick(struct server *);

/* dispatch.c */
void		 dispatch_line(struct conn *, const char *, size_t);
int		 dispatch_request(struct request *);
void		 dispatch_closed(struct conn *);
void		 dispatch_stop(void);
int		 dispatch_check_table(char **cause);

/* request.c: the answer to an operator request (JSON session or HTTP) */
void		 request_ok(struct request *, struct json_object *);
void		 request_fail(struct request *, enum proto_code,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
void		 request_flush(struct request *);
void		 request_done(struct request *);

/* handle-worker.c */
void		 handle_register(struct request *);
void		 handle_heartbeat(struct request *);
void		 handle_bye(struct request *);
void		 handle_task_started(struct request *);
void		 handle_task_output(struct request *);
void		 handle_task_result(struct request *);
void		 worker_send_ack(struct server *, struct device *,
		    const char *);

/* handle-client.c */
void		 handle_auth(struct request *);
void		 handle_list_devices(struct request *);
void		 handle_status(struct request *);
void		 handle_device_admin(struct request *);
void		 handle_subscribe(struct request *);

/* handle-task.c */
void		 handle_submit(struct request *);
void		 handle_list_tasks(struct request *);
void		 handle_get_task(struct request *);
void		 handle_logs(struct request *);
void		 handle_cancel(struct request *);
void		 handle_hold(struct request *);
void		 handle_release(struct request *);

/* files.c: the file store and file transfers (PROTOCOL.md "Files") */
int		 files_start(struct server *, char **cause);
void		 files_stop(void);
void		 files_tick(struct server *);
void		 files_conn_closed(struct conn *);
void		 files_raw(struct conn *, struct evbuffer *, size_t);
void		 files_raw_end(struct conn *);
int		 files_complete(const char *sha256, int64_t size);
void		 files_touch(const char *sha256);
int		 files_full(void);
int64_t		 files_used(void);
int64_t		 files_count(void);
void		 handle_file_stat(struct request *);
void		 handle_file_data(struct request *);
void		 handle_file_get(struct request *);
void		 handle_task_checkpoint(struct request *);

/* backup.c: `encore backup` and rotating snapshots */
void		 handle_backup(struct request *);
void		 backup_forget(struct conn *);
void		 backup_start(struct server *);
void		 backup_stop(struct server *);

/* registry.c: devices in memory */
void		 registry_init(void);
void		 registry_free(void);
struct device	*registry_find(const char *id);
struct device	*registry_add(const char *id);
void		 registry_remove(struct device *);
struct device_list *registry_list(void);
int		 registry_count(void);
int		 registry_count_pending(void);
enum proto_device_state device_state(const struct device *);
void		 device_set_profile(struct device *, struct msg_register *);
void		 device_free(struct device *);
int		 device_has_cap(const struct device *, const char *);
const char	*device_label(const struct device *, const char *);
int		 device_is_available(const struct device *);
void		 device_set_approved(struct device *, int);
const char	*device_reason(const struct device *);
void		 device_changed(struct device *);
void		 device_set_accepting(struct device *, int);
double		 device_suspended_seconds(const struct device *);
void		 device_note_file(struct device *, const char *sha256);
int		 device_holds(const struct device *, const char *hashes);

/* liveness.c: a device's connection and its life */
void		 device_attach(struct server *, struct device *, struct conn *);
void		 device_detach(struct server *, struct device *,
		    const char *why);
void		 device_conn_lost(struct server *, struct conn *);
void		 device_offline(struct server *, struct device *,
		    const char *why);
void		 liveness_tick(struct server *, double now);
void		 device_task_failed(struct server *, struct device *,
		    const char *);
void		 device_task_succeeded(struct server *, struct device *);

/* scheduler.c: pure placement and the index of devices with room */
int		 scheduler_can_ever_run(const struct device *,
		    const struct placement *);
int		 scheduler_fits(const struct device *, const struct placement *);
int		 scheduler_compare(const struct device *, const struct device *);
struct device	*scheduler_pick(const struct placement *);
struct device	*scheduler_pick_avoiding(const struct placement *,
		    const char *);
struct device	*scheduler_prefer_holding(const struct placement *,
		    struct device *, const char *hashes, const char *avoid);
int		 scheduler_avoids(const char *, const char *);
struct device	*scheduler_pick_list(struct device_list *,
		    const struct placement *);
void		 scheduler_update(struct device *);
void		 scheduler_reset(void);
int		 scheduler_available(void);
const char	*scheduler_arch_canon(const char *);

/* queue.c: queued tasks in memory, the scheduler pass */
struct queue_entry_spec {
	int64_t			 id;
	enum proto_priority	 priority;
	int64_t			 seq;
	struct placement	 place;		/* borrowed */
	int			 is_array;	/* an array's next element */
	const char		*inputs;	/* borrowed: task_row.inputs */
};
void		 queue_init(void);
void		 queue_free(void);
void		 queue_add(const struct queue_entry_spec *);
int		 queue_remove(int64_t id);
int64_t		 queue_count(void);
int		 queue_load(struct store *);
void		 queue_kick(struct server *);
int		 queue_pass(struct server *);
int		 queue_is_dirty(void);
void		 queue_devices_changed(void);
int		 queue_anyone_could_run(const struct placement *);
void		 queue_pass_free(void);

/* task.c: the state machine and the active set */
struct task {
	int64_t			 id;
	int			 attempt;
	char			*device_id;
	struct device		*dev;		/* borrowed, NULL while away */
	enum proto_task_status	 state;		/* assigned or running */
	double			 cpus;
	int			 memory_mb;
	int			 cancel_requested;
	double			 deadline;	/* mono: re-queue if its device
						   is still away, 0 none */
	double			 assigned_at;	/* unix */
	double			 started_at;
	int64_t			 output_bytes;	/* stored, all attempts */
	int64_t			 next_seq;	/* next output seq expected */
	int64_t			 array_id;	/* an element: its array */
	int64_t			 array_index;
	char			 ref[48];	/* its id on the wire */
	struct task		*hnext;
	struct task		*enext;		/* element hash chain */
	TAILQ_ENTRY(task)	 entry;		/* all active */
	TAILQ_ENTRY(task)	 dev_entry;	/* on its device */
};
TAILQ_HEAD(task_list, task);

/* A task as stored (the store's rows, task.c's transitions). */
struct task_row {
	int64_t			 id;
	char			*name;
	enum proto_task_status	 state;
	enum proto_priority	 priority;
	char			*device;
	int			 attempt;
	int			 last_attempt;	/* highest attempt ever given */
	int			 exit_code;	/* -1 none */
	char			*error;
	char			*image;
	double			 submitted_at;	/* unix seconds, 0 none */
	double			 started_at;
	double			 finished_at;
	int			 retries_left;
	int			 requeues;	/* device-lost re-queues */
	int			 start_fails;	/* failed starts, any device */
	char			*spec;		/* submit line (store); NULL for
						   an element: its array's */
	int64_t			 seq;		/* dispatch order in priority */
	struct placement	 place;
	int			 kind;		/* TASK_KIND_* */
	int64_t			 array_id;	/* element: its array, else 0 */
	int64_t			 array_index;	/* element: its index */
	int64_t			 array_start;	/* array: first index */
	int64_t			 array_end;	/* array: last index */
	int64_t			 array_step;
	int			 array_limit;	/* most running at once, 0 any */
	int64_t			 array_next;	/* indexes made or skipped */
	int64_t			 array_cancelled; /* ended before being made */
	char			*reason;	/* why held or waiting */
	char			*avoid;		/* devices it failed on */
	char			*inputs;	/* hashes of its largest inputs,
						   one a line (placement
						   preference), or NULL */
};
#define TASK_KIND_TASK		0
#define TASK_KIND_ARRAY		1
/* Elements of an array row. */
#define ARRAY_SIZE(r) \
	(((r)->array_end - (r)->array_start) / (r)->array_step + 1)

/* What a message acts on, looked up by dispatch before its handler runs. */
struct dispatch_target {
	struct task_row	 task;		/* a stored task (get_task, cancel) */
	struct device	*device;	/* a known device (approve ...) */
};

/*
 * One message being handled, from a JSON session or an HTTP request.  An
 * operator request's handler leaves its answer here (request_ok or
 * request_fail); dispatch sends it as a `reply`, http.c as a response.
 */
struct request {
	struct server		*s;
	struct conn		*c;		/* the session or HTTP connection */
	struct msg		*m;
	struct dispatch_target	 t;
	int			 http;		/* no streams: one answer */
	struct json_object	*reply;		/* data of the answer, owned */
	enum proto_code		 code;		/* PROTO_OK, or the failure */
	char			*error;		/* its message, owned */
	int			 sent;		/* already sent (request_flush) */
};

/* How a transition came about: its flavour of re-queue and the texts. */
enum task_cause {
	CAUSE_NONE = 0,
	CAUSE_DISPATCH,		/* queued -> assigned */
	CAUSE_STARTED,		/* assigned -> running */
	CAUSE_RESULT,		/* the worker's result */
	CAUSE_RETRY,		/* failed, --retries left */
	CAUSE_LOST,		/* device lost: a re-queue */
	CAUSE_START_FAILED,	/* never started on that device */
	CAUSE_VACATED,		/* the device's policy stopped it */
	CAUSE_CANCEL,		/* an operator */
	CAUSE_DAMAGED,		/* the stored task cannot be read */
	CAUSE_SUPERSEDED,	/* an earlier attempt's result won */
	CAUSE_HOLD,
	CAUSE_RELEASE,
	CAUSE_REINSTATE,	/* an earlier attempt is alive after all */
};
struct task_change {
	enum proto_task_status	 to;
	enum task_cause		 cause;
	const char		*why;		/* error/reason text, or NULL */
	int			 exit_code;	/* -1 none */
	struct device		*device;	/* ASSIGNED; the result's or the
						   reinstated attempt's device */
	int			 attempt;	/* RESULT/REINSTATE: the attempt
						   it is about; 0 = current */
};

int		 task_start(struct server *);
void		 task_stop(struct server *);
void		 task_reload(struct server *);
int		 task_transition(struct server *, struct task_row *,
		    const struct task_change *);
int		 task_transition_is_legal(enum proto_task_status,
		    enum proto_task_status);
struct task	*task_find(int64_t id);
struct task	*task_find_attempt(int64_t id, int attempt);
void		 task_device_registered(struct server *, struct device *,
		    struct proto_task_ref *, size_t);
void		 task_device_gone(struct server *, struct device *);
void		 task_device_offline(struct server *, struct device *);
void		 task_tick(struct server *, double now);
void		 task_shift_deadlines(double by);
int64_t		 task_count(enum proto_task_status);
void		 task_counts(int64_t counts[TASK__COUNT]);
int64_t		 task_id_parse(const char *);
int		 task_prune(struct server *, int max);
int64_t		 task_next_seq(void);
void		 task_count_move(int from, int to, int64_t n);
void		 task_enqueue(const struct task_row *);
struct task	*task_find_ref(const char *);
void		 task_submitted(struct server *, struct task_row *,
		    const char *by);
void		 task_send_cancel(struct task *);

/* spec.c: a stored task decoded, and its placement (pure) */
int		 task_spec_decode(const char *spec, struct msg *);
void		 task_placement_from_spec(const struct proto_task *,
		    struct placement *);
void		 placement_free(struct placement *);

/* array.c: arrays, dependencies, holding */
#define DEP_AFTER	0	/* --after: completed */
#define DEP_AFTER_ANY	1	/* --after-any: ended */
#define DEP_AFTER_NOTOK	2	/* --after-notok: ended, not completed */
int		 task_ref_parse(const char *, int64_t *id, int64_t *index);
char		*task_ref_format(const struct task_row *, char *, size_t);
int		 task_ref_get(struct store *, const char *, struct task_row *);
int		 array_load(struct store *, int64_t counts[TASK__COUNT]);
int		 array_enqueue_all(struct store *);
void		 array_free_all(void);
void		 array_submitted(struct server *, struct task_row *);
void		 array_row_moved(struct server *, struct task_row *,
		    enum proto_task_status, enum proto_task_status);
void		 array_element_moved(struct server *, const struct task_row *,
		    enum proto_task_status, enum proto_task_status);
int		 array_materialize(struct server *, int64_t, struct device *);
int		 array_element_spec(struct server *, const struct task_row *,
		    struct msg *);
enum dep_status {
	DEP_PENDING,
	DEP_MET,
	DEP_FAILED,		/* can never be met */
};
enum dep_status	 deps_of(struct store *, int64_t, char **why,
		    char **waiting);
void		 deps_notify(struct server *, int64_t id, int64_t index);
int		 task_cancel_one(struct server *, struct task_row *,
		    const char *);
int		 array_cancel(struct server *, struct task_row *, const char *);

int		 array_at_limit(int64_t);

/* why.c: why a task is not running */
char		*why_devices(struct device_list *, const struct placement *,
		    int *never);
char		*why_text(struct server *, const struct task_row *);

/* view.c: the JSON that replies, events and exports show */
struct json_object *view_task(const struct task_row *);
struct json_object *view_task_full(struct server *, const struct task_row *);
struct json_object *view_array_counts(struct server *,
		    const struct task_row *);
struct json_object *view_device(struct device *);
struct json_object *view_status(struct server *);
struct json_object *view_ok(const char *key, struct json_object *val);

/* watch.c: events to subscribers and `logs -f` followers */
void		 watch_device(struct server *, struct device *);
void		 watch_device_removed(struct server *, const char *);
void		 watch_task(struct server *, const struct task_row *);
void		 watch_output(struct server *, const struct task *,
		    const char *, const char *, size_t);
void		 watch_tick(struct server *);

/* store.c (only store*.c include sqlite3.h) */
struct store	*store_open(const char *path, char **cause);
void		 store_close(struct store *);
int		 store_begin(struct store *);
int		 store_end(struct store *, int);
int		 store_in_transaction(struct store *);
int		 store_schema_version(void);

/* store-file.c: which files tasks name */
#define FILE_KIND_INPUT		0
#define FILE_KIND_OUTPUT	1
#define FILE_KIND_CHECKPOINT	2
int		 store_files_put(struct store *, int64_t, int,
		    const struct proto_file *, size_t);
struct proto_file *store_files_get(struct store *, int64_t, int, size_t *);
int		 store_file_used(struct store *, const char *);
int		 store_array_outputs(struct store *, int64_t, int,
		    void (*)(int64_t, const struct proto_file *, void *),
		    void *);

/* store-backup.c */
struct store_backup;
struct store_backup *store_backup_start(struct store *, const char *path,
		    char **cause);
int		 store_backup_step(struct store_backup *, int pages,
		    char **cause);
void		 store_backup_finish(struct store_backup *);
int		 store_backup_progress(struct store_backup *, int *remaining,
		    int *total);

/* store-device.c */
int		 store_device_save(struct store *, struct device *);
int		 store_device_touch(struct store *, struct device *);
int		 store_device_delete(struct store *, const char *id);
int		 store_device_load_all(struct store *);
int		 store_device_reload(struct store *);
int		 store_flush_dirty(struct store *);

/* Which tasks a listing returns. */
enum task_list_mode {
	TASK_LIST_OPEN,		/* not yet ended */
	TASK_LIST_RECENT,	/* open + the last 1000 finished */
	TASK_LIST_QUEUE,	/* queued, in dispatch order */
	TASK_LIST_ALL,		/* everything */
};
typedef int (*task_row_cb)(const struct task_row *, void *);
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
/* A page cursor through a listing. */
struct task_cursor {
	enum task_list_mode	 mode;
	int			 prio;		/* TASK_LIST_QUEUE */
	int64_t			 seq;
	int64_t			 after;		/* last id seen */
	int			 started;
	int			 expand;	/* array elements too */
};

/* store-task.c */
void		 task_row_free(struct task_row *);
int64_t		 store_task_insert(struct store *, struct task_row *);
int		 store_task_get(struct store *, int64_t, struct task_row *);
int		 store_task_update(struct store *, const struct task_row *);
int		 store_attempt_put(struct store *, int64_t, int, const char *,
		    int, int, const char *, double, double, double);
int		 store_task_page(struct store *, struct task_cursor *, int limit,
		    task_row_cb, void *);
int		 store_task_active(struct store *, task_row_cb, void *);
int		 store_task_queued(struct store *, task_row_cb, void *);
int		 store_task_counts(struct store *, int64_t counts[TASK__COUNT]);
int		 store_attempt_list(struct store *, int64_t,
		    void (*)(const struct attempt_row *, void *), void *);
int64_t		 store_output_add(struct store *, int64_t, int, const char *,
		    const char *, size_t, int64_t seq, int64_t gap,
		    int64_t stored, size_t max);
int		 store_output_get(struct store *, int64_t, int,
		    void (*)(const char *, const void *, size_t, int64_t,
		    void *), void *);
int64_t		 store_output_bytes(struct store *, int64_t);
int64_t		 store_output_next_seq(struct store *, int64_t, int);
int		 store_task_prune(struct store *, double before, int max,
		    int64_t removed[TASK__COUNT]);
int64_t		 store_task_max_seq(struct store *);
int64_t		 store_task_ahead(struct store *, int prio, int64_t seq);
int64_t		 store_task_count_listing(struct store *, enum task_list_mode,
		    int);
int		 store_element_get(struct store *, int64_t, int64_t,
		    struct task_row *);
int		 store_array_rows(struct store *, task_row_cb, void *);
int		 store_array_element_counts(struct store *, int64_t,
		    int64_t *, int64_t *);
int		 store_array_state_counts(struct store *, int64_t,
		    int64_t counts[TASK__COUNT]);
int		 store_dep_add(struct store *, int64_t, int64_t, int64_t, int);
int		 store_elements_open(struct store *, int64_t, task_row_cb,
		    void *);
int		 store_deps_of(struct store *, int64_t,
		    void (*)(int64_t, int64_t, int, void *), void *);
int		 store_dependents(struct store *, int64_t, int64_t,
		    void (*)(int64_t, void *), void *);

/* tls.c: the cluster CA, the server certificate, the pin */
struct ssl_st;
int		 tls_start(const char *dir, const char *listen, char **);
int		 tls_rotate(const char *dir, const char *listen, char **);
const char	*tls_ca_pin(void);
struct ssl_st	*tls_new_session(void);
void		 tls_stop(void);

/* sniff.c: what a connection speaks, from its first bytes (pure) */
enum sniff_kind {
	SNIFF_MORE,		/* not yet known */
	SNIFF_JSON,
	SNIFF_TEXT,
	SNIFF_HTTP,
	SNIFF_TLS,
};
enum sniff_kind	 sniff_classify(const unsigned char *, size_t);

/* export-text.c */
void		 export_text(struct conn *, const char *line);

/* http.c: HTTP/1.1 on the cluster port (protocol/HTTP.md) */
int		 http_start(struct server *);
void		 http_stop(struct server *);
void		 http_conn_closed(struct conn *);
int		 http_events_wanted(void);
void		 http_event(const char *, struct json_object *);
void		 http_tick(void);

/* http-parse.c: an HTTP/1.1 request head (pure; fuzzed) */
#define HTTP_HEAD_MAX		(16 * 1024)
#define HTTP_HEADERS_MAX	64
struct http_req {
	char		 method[16];
	char		*target;		/* as sent; owned */
	char		*path;			/* decoded, no query; owned */
	char		*query;			/* raw, or NULL; owned */
	int		 minor;			/* HTTP/1.minor */
	struct proto_kv	 headers[HTTP_HEADERS_MAX];	/* owned */
	size_t		 nheaders;
	int64_t		 content_length;	/* -1: none */
	int		 keep_alive;
};
enum http_parse_result {
	HTTP_PARSE_MORE,	/* the head is not complete yet */
	HTTP_PARSE_OK,		/* *used bytes were the head */
	HTTP_PARSE_BAD,		/* not HTTP/1.x: 400 */
	HTTP_PARSE_TOO_BIG,	/* head over HTTP_HEAD_MAX: 431 */
	HTTP_PARSE_UNSUPPORTED,	/* e.g. a chunked body: 411/501 */
};
enum http_parse_result http_parse_head(const char *, size_t, struct http_req *,
		    size_t *used, const char **why);
void		 http_req_free(struct http_req *);
const char	*http_header(const struct http_req *, const char *);
char		*http_query_get(const char *query, const char *key,
		    int nth);

/* metrics.c: the Prometheus exposition and the counters behind it */
void		 metrics_write(struct server *, struct evbuffer *,
		     const int64_t tasks[TASK__COUNT]);
void		 metrics_task_finished(enum proto_task_status);
void		 metrics_pass_time(double seconds);
void		 metrics_file_bytes_sent(uint64_t);
void		 metrics_file_bytes_received(uint64_t);

/* web.c: the web dashboard's files, compiled in (main-node/web/) */
struct web_asset {
	const char		*path;		/* "/", "/app.js" */
	const char		*type;		/* Content-Type */
	const unsigned char	*data;		/* NUL after len bytes */
	size_t			 len;
	const char		*etag;		/* quoted, for If-None-Match */
};
/* The Content-Security-Policy the dashboard's files are served with. */
#define WEB_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self'; connect-src 'self'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"
extern const struct web_asset web_assets[];	/* generated; NULL path ends */
const struct web_asset *web_asset_find(const char *path);
const char *const *web_headers(void);

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

/* util.c */
char		*token_generate(void);	/* 64 hex chars */
char		*sha256_hex(const char *);	/* of a string; caller frees */
int		 token_matches(const char *, const char *);
int		 json_to_strv(struct json_object *, char ***, size_t *);
struct json_object *json_from_strv(char **, size_t);
struct json_object *json_from_kv(const struct proto_kv *, size_t);
int		 json_to_kv(struct json_object *, struct proto_kv **, size_t *);
char		*text_sanitize(const char *, char *, size_t);

#endif /* MAIN_H */
