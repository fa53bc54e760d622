/* SPDX-License-Identifier: ISC */
/*
 * worker.h -- private interfaces of encore-worker, the device agent.
 *
 * One event_base, one thread.  worker-node.c owns the options and the
 * base; upstream.c is the link to the main node; task.c runs assigned
 * tasks (a state machine, diagram there) through executor.c (spawning
 * without blocking the loop, reaping, output pipes) using
 * executor-process.c (plain command) or executor-container.c
 * (podman/docker), confined by sandbox.c (cgroup or subreaper, memory
 * limit, Landlock); spooler.c keeps results on disk until acknowledged and
 * the run markers that make a crash visible; sampler.c turns profiler
 * samples into heartbeat metrics and asks policy.c (a pure decision)
 * whether the device runs its tasks or suspends them (task.c stops and
 * resumes them, and vacates those suspended too long).  A task's files:
 * stage.c fetches and places its inputs, finds and keeps its outputs and
 * checkpoints; files.c moves them to and from the main node; cache.c
 * keeps them by SHA-256 (hash.c) in the state dir, indexed
 * (cache-index.c).
 */
#ifndef WORKER_H
#define WORKER_H

#include <sys/types.h>
#include <sys/resource.h>

#include "protocol.h"
#include "profiler.h"

struct event_base;

/* Hex digits of a pin: the SHA-256 of the cluster CA in DER (cred.c). */
#define CRED_PIN_HEX	64

/* policy.c: when the device runs tasks and when it suspends them (pure) */
/* The limits, settled from the options. */
struct policy_conf {
	int	 min_battery;	/* %: suspend on battery below */
	int	 resume_battery;	/* %: resume at or above (or charging) */
	int	 max_temp;	/* C: suspend above */
	int	 resume_temp;	/* C: resume at or below */
	double	 max_load;	/* CPUs used by other programs; < 0: off */
	int	 run_from;	/* run window, minute of the day; -1: always */
	int	 run_to;	/* minute it ends (exclusive; < from: wraps) */
	int	 resume_after;	/* s from suspending to resuming, at least */
};
/* What the sensors say now; a missing one never suspends. */
struct policy_input {
	double	 now;		/* monotonic s */
	int	 battery;	/* %, -1: no battery */
	int	 charging;
	double	 temperature;	/* C, NAN: no thermal zone */
	double	 load;		/* CPUs used by other programs, NAN: unknown */
	int	 minute;	/* local minute of the day, -1: unknown */
};
/* What the policy remembers between decisions; zeroed = running. */
struct policy_state {
	int	 suspended;
	double	 since;		/* when it suspended (monotonic s) */
	unsigned held;		/* causes that hold (bits, policy.c) */
	char	 reason[PROTO_TEXT_MAX];	/* while suspended */
};
/* 1 run, 0 suspended (st->reason says why and what it waits for). */
int	policy_decide(const struct policy_conf *, const struct policy_input *,
	    struct policy_state *st);
/* --run-hours "HH:MM-HH:MM" into minutes of the day; 0, or -1 with a
 * static *cause. */
int	policy_parse_hours(const char *s, int *from, int *to,
	    const char **cause);
/* --max-load L (CPUs, 0..1024); 0, or -1 with a static *cause. */
int	policy_parse_load(const char *s, double *load, const char **cause);

/*
 * Settled options, filled once by main() and read-only afterwards.  All
 * strings are owned here and live until exit.
 */
struct worker_conf {
	char			*id;		/* device id (sender_id) */
	char			*main_host;	/* --main, split */
	char			*main_port;
	char			*token;		/* join token or NULL: the
						   secret of a pinned one */
	char			 pin[CRED_PIN_HEX + 1]; /* CA pin, "" = none:
						   speak plaintext */
	int			 pin_from_token; /* else from STATE/ca.pin */
	char			*join_secret;	/* STATE/join.secret */
	char			*state_dir;	/* absolute, exists, 0700 */
	int			 slots;
	const char		*runtime;	/* "podman"/"docker"/NULL, static */
	struct proto_kv		*labels;
	size_t			 n_labels;
	int64_t			 cache_max;	/* --cache-mb, bytes */
	struct policy_conf	 policy;	/* when tasks are suspended */
	int			 max_suspend;	/* s suspended before a task
						   is vacated, 0 = never */
	char			*sysfs;		/* where the profiler reads /sys */
	char			*procfs;	/* and /proc */
	struct prof_device	 dev;		/* profile read at start */
};

/* worker-node.c (main: options, signals, the loop) */
extern struct worker_conf	 wconf;
extern struct event_base	*worker_base;
/* 1 once a shutdown has begun: no new tasks, no reconnects. */
extern int			 worker_exiting;
/* Exit status of a configuration error (systemd does not restart it). */
#define WORKER_EXIT_CONFIG	2
/* Log fmt as an error, kill the tasks and leave the loop; main() then
 * exits with code. */
void	worker_stop(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Build the register message of this device (strings borrowed). */
void	worker_fill_register(struct msg *m);
/* util.c: next message id (static buffer, valid until the next call) */
char	*worker_next_id(void);
/* Seconds from the monotonic clock. */
double	worker_now(void);
/* Remove a directory tree (best effort, no symlink following). */
void	worker_rmtree(const char *path);
/* Write data to path atomically (temp, rename), mode 0600; WF_SYNC also
 * fsyncs the file and its directory.  Returns 0, or -1 with errno set. */
#define WF_SYNC	0x1
int	worker_write_file(const char *path, const char *data, size_t len,
	    int flags);

/* upstream.c */
void	upstream_start(void);
/* The delay before the n-th reconnect in a row, for a random r (ms). */
int	upstream_backoff_ms(int n, uint32_t r);
void	upstream_stop(void);
/* 1 when connected and acknowledged (approved or pending). */
int	upstream_is_registered(void);
/* 1 when more output may be queued for the main node now. */
int	upstream_can_write(void);
/* Send one message (strings borrowed); 0, or -1 when not registered. */
int	upstream_send(struct msg *m);
/* Send an already encoded line ending in "\n"; 0 or -1. */
int	upstream_send_line(const char *line, size_t len);
/* Write what is queued now (a message the main node waits on). */
void	upstream_flush(void);
/* Say bye and call done when flushed (or after a short grace). */
void	upstream_bye(const char *reason, void (*done)(void));
/* The link's output buffer when a file frame may be queued now (approved
 * and below the low mark, so other messages interleave), else NULL. */
struct evbuffer *upstream_bulk_output(void);

/* cred.c: credentials in text (pure parsers, fuzzed) and in the state
 * dir */
/* A token's pin (into pin[CRED_PIN_HEX + 1]) and secret (into token): 1
 * pinned, 0 bare, -1 with *cause (caller frees). */
int	cred_token_parse(const char *token, char *pin, const char **secret,
	    char **cause);
/* A ca.pin file's text (len bytes) into pin: 0, or -1 if not a pin. */
int	cred_pin_parse(const char *data, size_t len, char *pin);
/* A join.secret file's text (len bytes): a new string, or NULL. */
char	*cred_secret_parse(const char *data, size_t len);
/* dir/ca.pin into pin: 1, 0 when absent, -1 with *cause if damaged. */
int	cred_pin_load(const char *dir, char *pin, char **cause);
/* Keep pin in dir/ca.pin: 0, or -1 with errno. */
int	cred_pin_store(const char *dir, const char *pin);
/* size random bytes from the kernel into buf: 0, or -1. */
int	cred_random(unsigned char *buf, size_t size);
/* This device's join secret (made on first use; caller frees), or NULL
 * with *cause. */
char	*cred_secret_load(const char *dir, char **cause);

/* upstream-tls.c: TLS on the link (Mbed TLS), checked against the pin */
struct bufferevent;
struct mbedtls_x509_crt;
enum upstream_tls_result {
	UPSTREAM_TLS_NONE,	/* no check ran (the handshake failed first) */
	UPSTREAM_TLS_OK,
	UPSTREAM_TLS_NO_CA,	/* no CA in the chain hashes to the pin */
	UPSTREAM_TLS_NOT_SIGNED, /* the pinned CA did not sign the server's */
};
struct upstream_tls_check {
	enum upstream_tls_result result;
	char	want[CRED_PIN_HEX + 1];	/* the pin */
	char	got[CRED_PIN_HEX + 1];	/* the CA presented, or "none" */
	char	leaf[CRED_PIN_HEX + 1];	/* the server certificate's hash */
};
/* The TCP connection sock under TLS checked against pin: the filter
 * bufferevent to use from now on (it owns sock), or NULL with *cause.
 * It reports BEV_EVENT_CONNECTED once the chain is checked. */
struct bufferevent *upstream_tls_wrap(struct bufferevent *sock,
	    const char *pin, char **cause);
/* Check a presented chain (peer: the server's certificate, then the
 * others) against pin into r; pure. */
enum upstream_tls_result upstream_tls_check_chain(
	    const struct mbedtls_x509_crt *peer, const char *pin,
	    struct upstream_tls_check *r);
/* What the last handshake's chain check found (borrowed). */
const struct upstream_tls_check *upstream_tls_result(void);
/* The last connection's TLS error as words into buf, or NULL if none. */
const char *upstream_tls_why(char *buf, size_t size);
/* "protocol=... cipher=..." of the current session into buf. */
const char *upstream_tls_session(char *buf, size_t size);
/* A Mbed TLS error code as words into buf. */
const char *upstream_tls_describe(int err, char *buf, size_t size);
/* Free the configuration (at exit). */
void	upstream_tls_stop(void);

/* sampler.c */
/* Take the first sample and apply the policy (tasks are suspended from
 * the start when it says so); then at each heartbeat, and at least every
 * SAMPLER_POLICY_MAX s without one. */
#define SAMPLER_POLICY_MAX	5
void	sampler_start(void);
void	sampler_stop(void);
/* Sample, apply the policy, fill hb->metrics, accepting and reason
 * (reason in a static buffer). */
void	sampler_fill(struct msg_heartbeat *hb);
/* 1 unless the policy has suspended the device. */
int	sampler_is_accepting(void);
/* Why the device is suspended ("" when it is not); static buffer. */
const char *sampler_reason(void);

/* task.c */
void	task_start(void);
void	task_stop(void);
/* Start an assigned task; one with files takes what pt owns (its fields
 * are left zeroed). */
void	task_assign(struct proto_task *);
void	task_cancel(const char *task_id, int attempt);
/* The running (task_id, attempt) pairs; *refs is a borrowed array valid
 * until the next call that changes the task list. */
size_t	task_refs(struct proto_task_ref **refs);
size_t	task_count(void);
/* Upstream drained its output buffer: resume reading task output. */
void	task_output_resume(void);
/* Kill every task now (shutdown): groups, containers, markers. */
void	task_kill_all(void);
struct task;
/*
 * For a task that was stopped by the device's policy (vacate: SIGTERM,
 * the grace, its process gone) and before its result: send its
 * checkpoint files if it declared checkpoint patterns (copied into the
 * cache, uploaded, then task_checkpoint); done(t, arg) runs from the loop
 * once that is over, sent or not.  t must stay alive until then.
 */
void	task_checkpoint_send(struct task *t,
	    void (*done)(struct task *, void *), void *arg);
/* The policy's verdict, at every sample: 1 suspends every task not yet
 * suspended (SIGSTOP to its group or a frozen cgroup; `pause` for a
 * container; its timeout clock stops), 0 resumes them.  A task suspended
 * longer than --max-suspend is vacated. */
void	task_policy(int suspended);
/* CPU seconds encore's tasks used since the last call (for the load of
 * the other programs). */
double	task_cpu_take(void);
/* Vacating a task (--max-suspend): SIGCONT (thaw, unpause), SIGTERM, at
 * most TASK_VACATE_GRACE s, SIGKILL; then its checkpoint files are sent
 * (task_checkpoint_send) before its failed result with vacated: true. */
#define TASK_VACATE_GRACE	10

/* spooler.c */
struct spool_rec;
void	spool_start(void);
/* Free what the spool holds in memory (its files stay). */
void	spool_stop(void);
/* A running attempt: its output is kept from now on (record borrowed,
 * valid until spool_result or spool_drop). */
struct spool_rec *spool_open(const char *task_id, int attempt);
/* Keep an encoded task_output line; 1 if it should be sent now. */
int	spool_output(struct spool_rec *, const char *line, size_t len);
/* Keep a task_result after its output and send it if the attempt is
 * live: 1 sent, 0 kept for the next replay, -1 not even encoded. */
int	spool_result(const struct msg *m);
/* Forget an attempt killed at shutdown (it will never report). */
void	spool_drop(struct spool_rec *);
/* Forget an attempt the main node acknowledged: result and output. */
void	spool_ack(const char *task_id, int attempt);
/* 1 if a result for (task_id, attempt) is spooled. */
int	spool_has(const char *task_id, int attempt);
/* Send a spooled result again (if any); 1 if there is one. */
int	spool_resend_one(const char *task_id, int attempt);
/* The (task_id, attempt) of every spooled result; borrowed, valid until
 * the next call. */
size_t	spool_refs(struct proto_task_ref **refs);
/* The link went away: nothing is live. */
void	spool_offline(void);
/* After an approving register_ack: replay each attempt's output, then
 * its result. */
void	spool_replay(void);
/* The link drained: continue the replay. */
void	spool_pump(void);
/* Record a started task (so a crash is noticed at the next start). */
void	spool_mark(const char *task_id, int attempt, pid_t pgid,
	    const char *container, const char *cgroup, const char *workdir);
void	spool_unmark(const char *task_id, int attempt);
/* Handle markers left by a previous run: kill leftovers; nothing is
 * reported for those attempts (the main node re-queues them).  Then load
 * the spool. */
void	spool_recover(void);
/* STATE/work/<task>-<attempt>, the task's working directory (caller
 * frees). */
char	*spool_work_path(const char *task_id, int attempt);
/* Make a task's (empty) working directory: 0, or -1 with errno. */
int	spool_work_make(const char *path);
/* A task is over: its working directory goes (or is kept, if empty, for
 * the next task under another name). */
void	spool_work_done(const char *path);

/* hash.c: SHA-256 (libcrypto's, static), and hashing a file from the loop */
struct hash;
struct hash_job;
struct hash	*hash_new(void);
void		 hash_reset(struct hash *);
void		 hash_update(struct hash *, const void *, size_t);
/* 64 lowercase hex digits (and a NUL) into hex; the hash is reset. */
void		 hash_final(struct hash *, char *hex);
void		 hash_free(struct hash *);
/* Hash len bytes of fd from off (-1: to its end) into h, a slice per
 * loop turn, copying them to out_fd unless -1; done(arg, errno or 0,
 * bytes) once, from the loop. */
struct hash_job	*hash_job_start(int fd, int64_t off, int64_t len,
		    struct hash *h, int out_fd,
		    void (*done)(void *, int, int64_t), void *arg);
void		 hash_job_cancel(struct hash_job *);

/* cache-index.c: the cache index's format (pure, fuzzed) */
struct cache_rec {
	char	 sha[PROTO_SHA256_HEX + 1];
	int64_t	 size;
	int64_t	 mtime_ns;	/* when last verified, 0: never */
	int64_t	 used;		/* unix seconds, last use */
};
/* The entries of an index's text; *n of them (caller frees), the boot
 * id of its header into boot. */
struct cache_rec *cache_index_parse(const char *data, size_t len,
	    char *boot, size_t bootsize, size_t *n);
/* One entry's line / the header line (with LF) into buf: its length, or
 * -1 if it does not fit. */
int	cache_index_format(const struct cache_rec *, char *buf, size_t size);
int	cache_index_header(const char *boot, char *buf, size_t size);

/* cache.c: the content-addressed cache, STATE/cache (--cache-mb) */
struct centry;
struct stat;
void	cache_start(void);
void	cache_stop(void);
/* The entry of a whole cached file, or NULL. */
struct centry *cache_find(const char *sha);
const char *cache_path(const char *sha, char *buf, size_t size);
const char *cache_partial_path(const char *sha, char *buf, size_t size);
const char *cache_tmp_path(char *buf, size_t size);
int64_t	cache_mtime_ns(const struct stat *);
/* Make room for need more bytes of the cache, disk of them new on the
 * disk: 0, or -1 with *cause (caller frees) if the disk is full. */
int	cache_reserve(int64_t need, int64_t disk, char **cause);
/* A verified file now at its cache path: its entry (made or
 * refreshed). */
struct centry *cache_add(const char *sha, int64_t size);
void	cache_partial_add(int64_t delta);
/* Pinned entries are never dropped. */
void	cache_pin(struct centry *);
void	cache_unpin(struct centry *);
/* It was used now (least recently used goes first). */
void	cache_use(struct centry *);
int64_t	cache_entry_size(const struct centry *);
const char *cache_entry_sha(const struct centry *);
unsigned cache_confirmed(const struct centry *);
void	cache_set_confirmed(struct centry *, unsigned session);
/* Still what its name says?  1 yes; 0: being hashed again, cb(arg, ok)
 * follows (a damaged file is gone by then); -1: it is gone (fetch it).
 * The caller holds a pin. */
int	cache_check(struct centry *, void (*cb)(void *, int), void *arg);
void	cache_check_cancel(struct centry *, void *arg);

/* files.c: transfers to and from the main node */
struct fetch_wait;
struct upload_wait;
struct msg_file;
void	files_start(void);
void	files_stop(void);
/* Fetch a file into the cache; cb(arg, err) from the loop once it is
 * there (err NULL) or cannot be.  NULL with *cause if it cannot start. */
struct fetch_wait *files_fetch(const char *sha, int64_t size,
	    void (*cb)(void *, const char *), void *arg, char **cause);
void	files_fetch_cancel(struct fetch_wait *);
/* Send a cached file; cb(arg, err) from the loop once the main node has
 * it whole (err NULL) or refused it for good.  NULL with *cause if it is
 * not in the cache. */
struct upload_wait *files_upload(const char *sha,
	    void (*cb)(void *, const char *), void *arg, char **cause);
void	files_upload_cancel(struct upload_wait *);
/* upstream.c hands these over: a file_data line (its raw bytes follow),
 * the raw bytes (n at the front of in, drained here), the frame's end,
 * a file_ack. */
void	files_on_data(const struct msg_file *);
void	files_raw(struct evbuffer *in, size_t n);
void	files_raw_buf(char *buf, size_t n);
void	files_raw_end(void);
void	files_on_ack(const struct msg_file *, const char *reply_to);
/* The link: went away, approved us (a new session), drained. */
void	files_offline(void);
void	files_online(void);
void	files_drained(void);
int	files_is_online(void);
/* A result naming outputs: pin them until files_result_done. */
void	files_result_keep(const struct msg_task_result *);
/* May it be sent now?  1 yes, 2 yes as changed (an output was refused:
 * failed, without it), 0 not yet (spool_resend_one follows). */
int	files_result_ready(struct msg_task_result *);
void	files_result_done(const char *task_id, int attempt);

/* stage.c: a task's files in its working directory */
struct stage;
struct ckpt_send;
/* Inputs and the checkpoint's files, fetched and placed; done(arg, err)
 * from the loop. */
struct stage *stage_in(const char *log_id, const char *workdir,
	    const struct proto_file *in, size_t nin,
	    const struct proto_file *ck, size_t nck,
	    void (*done)(void *, const char *), void *arg);
/* What output (checkpoint) patterns match, hashed and kept in the cache
 * (checkpoint files copied); done(arg, files, n, err) from the loop,
 * files borrowed for the call.  require: a pattern that matches nothing
 * is "missing output PATTERN". */
struct stage *stage_out(const char *log_id, const char *workdir,
	    char **patterns, size_t npat, int require,
	    void (*done)(void *, const struct proto_file *, size_t,
	    const char *), void *arg);
struct stage *stage_ckpt(const char *log_id, const char *workdir,
	    char **patterns, size_t npat,
	    void (*done)(void *, const struct proto_file *, size_t,
	    const char *), void *arg);
/* Stop a stage: it never reports. */
void	stage_cancel(struct stage *);
/* Upload a checkpoint's cached files, then task_checkpoint; done(arg,
 * err) from the loop. */
struct ckpt_send *stage_ckpt_send(const char *task_id, int attempt,
	    const char *log_id, const struct proto_file *files, size_t n,
	    void (*done)(void *, const char *), void *arg);
void	stage_ckpt_send_cancel(struct ckpt_send *);

/* journal.c: the run journal's format (pure, fuzzed) */
struct journal_entry {
	char	*key;		/* owned */
	char	*rec;		/* the whole "+" record, owned */
};
/* A value with '%', control bytes and DEL as %XX, into buf. */
const char *journal_enc(const char *v, char *buf, size_t size);
/* Decode a value in place. */
void	journal_dec(char *v);
/* The entries still open in a journal's text (len bytes); *n of them. */
struct journal_entry *journal_parse(const char *data, size_t len,
	    size_t *n);
void	journal_free(struct journal_entry *, size_t);

/* executor.c: children of the loop, with output pipes and reaping */
struct job;
/* What to start.  Strings are owned; the fds are borrowed (the caller
 * closes them after job_run). */
struct job_spec {
	char		*path;		/* resolved executable */
	char		**argv;		/* NULL-terminated */
	char		**envp;		/* NULL-terminated */
	char		*cwd;		/* chdir here, NULL = stay */
	int		 capture;	/* pipes for stdout/stderr, else
					   /dev/null */
	rlim_t		 rlimit_data;	/* bytes, 0 = none */
	int		 cgroup_fd;	/* cgroup.procs to enter, -1 = none */
	int		 cgroup_dirfd;	/* the same cgroup's directory */
	int		 landlock_fd;	/* ruleset to enforce, -1 = none */
};
/* A job's callbacks (a static table).  started: the exec status is known,
 * error is NULL (execve succeeded) or why the start failed; output: a
 * chunk (valid UTF-8, at most PROTO_OUTPUT_CHUNK bytes) of "stdout" or
 * "stderr"; exited (may be NULL): the main process was reaped, its group
 * killed; done: started, exited and the pipes drained.  Each runs once,
 * in that order (output any time before done). */
struct job_cb {
	void	(*started)(struct job *, const char *error, void *arg);
	void	(*output)(struct job *, const char *stream, const char *data,
		    size_t len, void *arg);
	void	(*exited)(struct job *, void *arg);
	void	(*done)(struct job *, void *arg);
};

void	executor_start(void);
void	executor_stop(void);
/* 1 if pid is a job or helper of ours (not an inherited orphan). */
int	executor_owns(pid_t);
/* Zero a spec (fds -1) / free its strings. */
void	job_spec_init(struct job_spec *);
void	job_spec_free(struct job_spec *);
/* Start spec in a new session; never waits for the child to exec.
 * Returns the job (the spec may be freed at once), or NULL with *cause
 * (caller frees). */
struct job *job_run(const struct job_spec *spec, const struct job_cb *,
	    void *arg, char **cause);
/* Signal the job's whole process group. */
void	job_kill(struct job *, int sig);
pid_t	job_pid(struct job *);
/* Wait status and resource usage, valid once exited. */
int	job_status(struct job *);
const struct rusage *job_rusage(struct job *);
/* Last bytes the job wrote to stderr (NUL-terminated). */
const char *job_stderr_tail(struct job *);
/* Pause or resume reading the job's output. */
void	job_pause(struct job *, int paused);
void	job_free(struct job *);
/* Run argv detached from the loop's concerns, output discarded; done (may
 * be NULL) is called with the wait status when it exits, or with
 * JOB_ABANDONED when the executor stops first (then it must only free
 * arg). */
#define JOB_ABANDONED	(-1)
void	job_spawn_helper(char **argv, void (*done)(int, void *), void *arg);
/* Run argv and wait for it (at most timeout s; startup and shutdown
 * only), its stdout into *out (caller frees) unless out is NULL.  The
 * wait status, or -1. */
int	job_run_sync(char **argv, int timeout, char **out);
/* Replace invalid UTF-8 and NULs with U+FFFD.  Consumes at most inlen
 * bytes of in and writes at most outmax bytes to out; a sequence cut at
 * the end is left unconsumed unless eof.  Returns the bytes written, and
 * the bytes consumed in *used. */
size_t	utf8_sanitize(const unsigned char *in, size_t inlen, int eof,
	    char *out, size_t outmax, size_t *used);

/* sandbox.c: cgroup per task (or subreaper), memory limit, Landlock */
struct sandbox;
void	sandbox_start(void);
void	sandbox_stop(void);
/* A short tag of this worker (device id + state dir hash), for names. */
const char *sandbox_worker_tag(void);
/* 1 when limits.memory_mb becomes the task cgroup's memory.max. */
int	sandbox_has_memory_cgroup(void);
/* Confinement of a new command task (its cgroup ready, with the
 * limits), or NULL with *cause. */
struct sandbox *sandbox_new(const char *workdir, int memory_mb, int pids,
	    char **cause);
/* The task's cgroup directory, or NULL. */
const char *sandbox_cgroup(struct sandbox *);
/* The cgroup.procs the child enters by, and the cgroup's directory (to
 * be born in it); both borrowed, -1: none. */
int	sandbox_procs_fd(struct sandbox *);
int	sandbox_dir_fd(struct sandbox *);
/* The task's Landlock ruleset fd (caller closes), -1 when not in use, -2
 * with *cause. */
int	sandbox_landlock_fd(struct sandbox *, const char *exe, char **cause);
void	sandbox_set_pgid(struct sandbox *, pid_t);
/* Kill every process of the task. */
void	sandbox_kill(struct sandbox *);
/* CPU s of the task's cgroup, peak memory (-1: unknown); oom set when
 * the kernel killed in it for memory. */
void	sandbox_usage(struct sandbox *, double *cpu, int64_t *peak,
	    int *oom);
/* Freeze (1) or thaw (0) the task's cgroup; 0, or -1 when the task has
 * no cgroup freezer (the caller stops its process group instead). */
int	sandbox_freeze(struct sandbox *, int frozen);
/* CPU s the task's processes used so far: its cgroup's, else those of
 * its main process and the children it waited for; -1: unknown. */
double	sandbox_cpu(struct sandbox *);
/* Kill what is left, give the cgroup back to the pool, free. */
void	sandbox_free(struct sandbox *);
/* Kill the processes roots and all their descendants. */
void	sandbox_kill_trees(const pid_t *roots, size_t n);
/* After a crash: kill a task's leftovers of the earlier run. */
void	sandbox_recover(const char *cgroup, const char *workdir, pid_t pgid,
	    unsigned long long start);

/* executor-process.c */
/* Search PATH (of the task's env, else ours) for argv0.  Returns a heap
 * path or NULL with *cause. */
char	*exec_resolve(const char *argv0, const char *pathenv, char **cause);
/* Prepare the spec of a command task (fresh work dir created). */
int	exec_process_spec(const struct proto_task *, const char *workdir,
	    struct job_spec *, char **cause);

/* executor-container.c */
/* The container name of a task attempt into buf. */
char	*exec_container_name(const char *task_id, int attempt, char *buf,
	    size_t size);
int	exec_container_spec(const struct proto_task *, const char *workdir,
	    const char *name, struct job_spec *, char **cause);
/* Stop a task's container: `kill` then `rm -f`, asynchronously. */
void	exec_container_kill(const char *runtime, const char *name);
/* `RUNTIME pause NAME` (pause 1) or `unpause`, asynchronously; done (may
 * be NULL) gets the wait status, or JOB_ABANDONED. */
void	exec_container_pause(const char *runtime, const char *name,
	    int pause, void (*done)(int, void *), void *arg);
/* Remove a container synchronously (startup and shutdown only). */
void	exec_container_remove_sync(const char *runtime, const char *name);
/* Startup: remove this worker's containers and conmons left by an earlier
 * run. */
void	exec_container_cleanup(const char *runtime);

#endif /* WORKER_H */
