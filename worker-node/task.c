/* SPDX-License-Identifier: ISC */
/*
 * task.c -- the life of an assigned task attempt on this device, keyed by
 * (task_id, attempt):
 *
 *   task_assign ─┬─ cannot start (no free slot, not accepting, another
 *                │  attempt of it runs here, no such program, no work
 *                │  dir, no cgroup): refused, a failed task_result with
 *                │  start_failed; no task is kept
 *                ├─ has input files ─▶ FETCHING ──placed──▶ (spawned)
 *                │                       └──fetch failed (start_failed)──▶ DONE
 *                └─ spawned ─▶ STARTING ──execve ok──▶ RUNNING ──exit──▶ DONE
 *                                │    └──start failed (start_failed)──▶ DONE
 *                                │             │   ▲     │
 *                                │     exit 85 │   │     └─declared outputs─▶ FINISHING ─▶ DONE
 *                                │             ▼   │
 *                                │        CHECKPOINT (files copied, sent
 *                                │         in the background; spawned again)
 *                                │                       │
 *                      cancel/timeout           cancel/timeout
 *                                ▼                       ▼
 *                             STOPPING ─────────exit──────────────────▶ DONE
 *   any state but DONE ──shutdown──▶ ABANDONED ──exit──▶ freed, no result
 *
 * A task's files (stage.c): the inputs and the last checkpoint are
 * fetched and placed before the task starts, which does not count
 * against its timeout (the timer starts with the first spawn and runs on
 * across checkpoint restarts); a cancel while fetching ends it at once.
 * Exit code 85 of a task that declares checkpoint patterns means it took
 * a checkpoint: its files are copied into the cache and the task is
 * spawned again at once in the same directory, as the same attempt, while
 * the files go to the main node and then task_checkpoint.  When a task
 * that declares outputs ends, they are found and kept before its result
 * is spooled; the result goes once the main node has them (files.c).
 *
 * Suspended is not a state but a flag of a STARTING or RUNNING task: the
 * device's policy (sampler.c, policy.c) stopped it, by freezing its cgroup
 * (cgroup.freeze, every process of the task) or, without one, SIGSTOP to
 * its process group; a container by `RUNTIME pause`.  Its timeout clock
 * stops meanwhile.  Resuming thaws it (SIGCONT, `unpause`).  A task
 * suspended longer than --max-suspend is vacated: resumed, then the kill
 * path with TASK_VACATE_GRACE s of grace (a container gets SIGTERM
 * through its runtime client before `kill`), its checkpoint files sent
 * (task_checkpoint_send), and a failed result with vacated: true.
 *
 * task_started goes out when execve succeeded; output and the result are
 * kept in the spool first and sent when the main node can have them (see
 * spooler.c); a DONE task is freed from a
 * deferred event, never inside the job's callback.  The kill path
 * (STOPPING) is SIGTERM to the group, then after 5 s SIGKILL to
 * everything of the task (its cgroup, or its inherited orphans: see
 * sandbox.c); for containers `RUNTIME kill` + `rm -f`.  A task's
 * container name carries this worker's tag, so two workers on one host
 * never touch each other's containers.
 */
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "protocol.h"
#include "worker.h"

#define TASK_KILL_GRACE		5	/* s from SIGTERM to SIGKILL */
#define TASK_NAME_MAX		(PROTO_ID_MAX * 3 + 64)

/* Where an attempt is (see the diagram above). */
enum task_state {
	TS_STARTING,	/* spawned; exec status not yet known */
	TS_RUNNING,	/* execve succeeded; task_started sent */
	TS_STOPPING,	/* kill path taken; outcome fixed in final */
	TS_ABANDONED,	/* shutdown: killed, no result will be sent */
	TS_DONE,	/* result spooled and sent; freed soon */
	TS_FETCHING,	/* its files being fetched and placed */
	TS_CHECKPOINT,	/* exited 85: its checkpoint being copied */
	TS_FINISHING,	/* exited: its outputs being kept */
};

static const char *task_state_names[] = {
	"starting", "running", "stopping", "abandoned", "done", "fetching",
	"checkpoint", "finishing",
};

/* What a result says besides status and exit code. */
struct task_outcome {
	double			 exec_time;	/* s, NAN: unknown */
	const char		*error;
	double			 cpu_time;	/* s, NAN: unknown */
	int64_t			 memory_peak;	/* bytes, -1: unknown */
	int			 start_failed;
	int			 vacated;
};

/*
 * A task attempt on this device.  All pointers are owned; log_id is the
 * task id made safe for the log.  job is set from a successful spawn
 * until the task is freed (old_job: the run before a checkpoint restart,
 * freed once out of its callbacks); sb only for command tasks.  pt is
 * the assignment, kept only by a task with files (to fetch them, to run
 * it again after a checkpoint, to find its outputs); stage is its files
 * being fetched or kept, ckpt its last checkpoint being sent.
 * While a vacated task's checkpoint is sent, its result waits in out,
 * out_status, out_code and out_error.
 */
struct task {
	char			*task_id;
	char			*log_id;
	int			 attempt;
	enum proto_task_type	 type;
	enum task_state		 state;
	enum proto_task_status	 final;		/* STOPPING: to record */
	char			 container[TASK_NAME_MAX];
	char			*workdir;
	struct job		*job;
	struct sandbox		*sb;
	struct spool_rec	*spool;		/* its output, borrowed */
	int			 memory_mb;
	struct proto_task	*pt;
	struct stage		*stage;
	struct ckpt_send	*ckpt;
	struct job		*old_job;
	int			 runs;		/* spawns so far */
	struct stage		*vstage;	/* task_checkpoint_send */
	struct ckpt_send	*vsend;
	void			(*vdone)(struct task *, void *);
	void			*varg;
	enum proto_task_status	 fin_status;	/* FINISHING: the outcome */
	int			 fin_code;
	char			*fin_error;
	double			 fin_exec;
	double			 fin_cpu;
	int64_t			 fin_peak;
	int64_t			 seq;		/* next task_output seq */
	double			 assigned;	/* monotonic */
	double			 started;	/* monotonic */
	double			 cpus;		/* its limit, 0 = none */
	double			 deadline;	/* of its timeout; 0 = none */
	double			 timeout_left;	/* s, while suspended */
	int			 suspended;	/* by the policy */
	double			 suspended_at;	/* monotonic */
	int			 sigstopped;	/* suspended by SIGSTOP */
	int			 paused;	/* container: its runtime paused
						   it (as far as we know) */
	int			 pause_busy;	/* a pause/unpause runs */
	double			 cpu_seen;	/* CPU s task_cpu_take counted */
	double			 cpu_est;	/* container: estimated CPU s */
	double			 cpu_mark;	/* container: estimate up to */
	int			 vacated;
	char			*vacate_error;
	int			 checkpointing;	/* the hook has not called back */
	struct task_outcome	 out;
	enum proto_task_status	 out_status;
	int			 out_code;
	char			*out_error;
	struct event		*timeout_ev;
	struct event		*kill_ev;
	struct event		*vacate_ev;
	TAILQ_ENTRY(task)	 entry;
};

static TAILQ_HEAD(, task)	 task_list = TAILQ_HEAD_INITIALIZER(task_list);
static TAILQ_HEAD(, task)	 task_dead = TAILQ_HEAD_INITIALIZER(task_dead);
static struct event		*task_reap_ev;
static size_t			 task_n;
static struct proto_task_ref	*task_refs_buf;
static int			 task_paused;
static double			 task_cpu_ended;	/* CPU s of ended tasks,
							   not yet taken */

static void	task_job_started(struct job *, const char *, void *);
static void	task_job_output(struct job *, const char *, const char *,
		    size_t, void *);
static void	task_job_exited(struct job *, void *);
static void	task_job_done(struct job *, void *);
static void	task_cpu_end(struct task *, double);

static const struct job_cb task_job_cb = {
	task_job_started, task_job_output, task_job_exited, task_job_done
};

/* Move a task to state, logged at debug level. */
static void
task_set_state(struct task *t, enum task_state state)
{
	log_debug("event=task_state task=%s attempt=%d from=%s to=%s",
	    t->log_id, t->attempt, task_state_names[t->state],
	    task_state_names[state]);
	t->state = state;
}

/* Find a task attempt still on the list. */
static struct task *
task_find(const char *task_id, int attempt)
{
	struct task	*t;

	TAILQ_FOREACH(t, &task_list, entry) {
		if (t->attempt == attempt && strcmp(t->task_id, task_id) == 0)
			return (t);
	}
	return (NULL);
}

/* Slots in use: tasks not over (a task whose start failed waits only for
 * its process to be reaped). */
static size_t
task_busy(void)
{
	struct task	*t;
	size_t		 n = 0;

	TAILQ_FOREACH(t, &task_list, entry) {
		if (t->state != TS_DONE)
			n++;
	}
	return (n);
}

/* Another attempt of task_id that is not over, or NULL. */
static struct task *
task_find_other(const char *task_id, int attempt)
{
	struct task	*t;

	TAILQ_FOREACH(t, &task_list, entry) {
		if (t->attempt != attempt && t->state != TS_ABANDONED &&
		    t->state != TS_DONE && strcmp(t->task_id, task_id) == 0)
			return (t);
	}
	return (NULL);
}

/* Free an assignment kept by a task. */
static void
task_pt_free(struct proto_task *pt)
{
	struct msg	m;

	if (pt == NULL)
		return;
	msg_init(&m, MSG_TASK_ASSIGN);
	m.u.task = *pt;
	msg_free(&m);
	free(pt);
}

/* Free a task and everything it owns. */
static void
task_free(struct task *t)
{
	stage_cancel(t->stage);
	stage_ckpt_send_cancel(t->ckpt);
	stage_cancel(t->vstage);
	stage_ckpt_send_cancel(t->vsend);
	task_pt_free(t->pt);
	free(t->fin_error);
	if (t->old_job != NULL)
		job_free(t->old_job);
	if (t->job != NULL)
		job_free(t->job);
	sandbox_free(t->sb);
	if (t->workdir != NULL) {
		spool_work_done(t->workdir);
		free(t->workdir);
	}
	if (t->timeout_ev != NULL)
		event_free(t->timeout_ev);
	if (t->kill_ev != NULL)
		event_free(t->kill_ev);
	if (t->vacate_ev != NULL)
		event_free(t->vacate_ev);
	free(t->vacate_error);
	free(t->out_error);
	free(t->task_id);
	free(t->log_id);
	free(t);
}

/* Free the tasks removed since the last run (a deferred event). */
static void
task_reap_cb(evutil_socket_t fd, short events, void *arg)
{
	struct task	*t;

	while ((t = TAILQ_FIRST(&task_dead)) != NULL) {
		TAILQ_REMOVE(&task_dead, t, entry);
		task_free(t);
	}
}

/* Take a task off the list and free it after this callback. */
static void
task_remove(struct task *t)
{
	TAILQ_REMOVE(&task_list, t, entry);
	task_n--;
	stage_cancel(t->stage);
	t->stage = NULL;
	stage_ckpt_send_cancel(t->ckpt);
	t->ckpt = NULL;
	if (t->timeout_ev != NULL)
		evtimer_del(t->timeout_ev);
	if (t->kill_ev != NULL)
		evtimer_del(t->kill_ev);
	if (t->vacate_ev != NULL)
		evtimer_del(t->vacate_ev);
	TAILQ_INSERT_TAIL(&task_dead, t, entry);
	event_active(task_reap_ev, EV_TIMEOUT, 0);
}

/*
 * Spool and send a result; the spool makes it survive everything.  Its
 * outputs (kept in the cache) are pinned there until it is acknowledged,
 * and it goes once the main node has them.
 */
static void
task_send_result(const char *task_id, int attempt,
    enum proto_task_status status, int exit_code,
    const struct task_outcome *o, const struct proto_file *outputs,
    size_t n_outputs)
{
	struct msg	 m;
	char		 text[PROTO_TEXT_MAX], id[PROTO_ID_MAX * 4 + 1];
	char		*line;
	size_t		 len;

	msg_init(&m, MSG_TASK_RESULT);
	m.sender_id = wconf.id;
	m.message_id = worker_next_id();
	m.u.result.task_id = (char *)task_id;
	m.u.result.attempt = attempt;
	m.u.result.status = status;
	m.u.result.exit_code = exit_code;
	m.u.result.execution_time = o->exec_time;
	m.u.result.start_failed = o->start_failed;
	m.u.result.vacated = o->vacated;
	if (o->error != NULL) {
		snprintf(text, sizeof text, "%s", o->error);
		m.u.result.error = text;
	}
	if (!isnan(o->cpu_time))
		m.u.result.cpu_time = o->cpu_time;
	if (o->memory_peak >= 0)
		m.u.result.memory_peak = o->memory_peak;
	m.u.result.outputs = (struct proto_file *)outputs;
	m.u.result.n_outputs = n_outputs;
	if (n_outputs > 0 && (line = msg_encode(&m, &len)) != NULL) {
		free(line);
		if (len > PROTO_LINE_MAX) {
			/* One line cannot list them all: the task failed. */
			snprintf(text, sizeof text, "its %zu output files are "
			    "too many to list in one result; pack them into "
			    "an archive", n_outputs);
			m.u.result.error = text;
			m.u.result.status = status = TASK_FAILED;
			m.u.result.outputs = NULL;
			m.u.result.n_outputs = n_outputs = 0;
		}
	}
	log_sanitize(task_id, id, sizeof id);
	log_info("event=task_result task=%s attempt=%d status=%s exit_code=%d"
	    "%s%s", id, attempt, proto_task_status_name(status), exit_code,
	    o->start_failed ? " start_failed=true" : "",
	    o->vacated ? " vacated=true" : "");
	spool_unmark(task_id, attempt);
	if (n_outputs > 0)
		files_result_keep(&m.u.result);
	if (spool_result(&m) == 0)
		log_info("event=result_spooled task=%s attempt=%d msg=\"sent "
		    "%s\"", id, attempt, n_outputs > 0 && files_is_online() ?
		    "once its outputs are on the main node" :
		    "when the main node is back");
}

/* An outcome with nothing known but the error. */
static void
task_outcome_init(struct task_outcome *o, const char *error)
{
	o->exec_time = NAN;
	o->error = error;
	o->cpu_time = NAN;
	o->memory_peak = -1;
	o->start_failed = 0;
	o->vacated = 0;
}

/* Answer an assignment that cannot start here: failed, start_failed. */
static void
task_refuse(const char *task_id, int attempt, const char *why)
{
	struct task_outcome	o;
	char			id[PROTO_ID_MAX * 4 + 1];

	log_warn("event=task_refused task=%s attempt=%d reason=\"%s\"",
	    log_sanitize(task_id, id, sizeof id), attempt, why);
	task_outcome_init(&o, why);
	o.start_failed = 1;
	task_send_result(task_id, attempt, TASK_FAILED, -1, &o, NULL, 0);
}

/* Last line of a runtime's stderr, for an error text (into buf). */
static const char *
task_tail_line(const char *tail, char *buf, size_t size)
{
	const char	*end, *start;

	end = tail + strlen(tail);
	while (end > tail && (end[-1] == '\n' || end[-1] == '\r' ||
	    end[-1] == ' '))
		end--;
	start = end;
	while (start > tail && start[-1] != '\n')
		start--;
	snprintf(buf, size, "%.*s", (int)(end - start), start);
	return (buf);
}

/* The job's exec status is known: task_started, or a failed start. */
static void
task_job_started(struct job *job, const char *error, void *arg)
{
	struct task		*t = arg;
	struct task_outcome	 o;
	struct msg		 m;
	char			*why;

	if (error != NULL) {
		log_warn("event=task_start_failed task=%s attempt=%d "
		    "error=\"%s\"", t->log_id, t->attempt, error);
		t->spool = NULL;	/* the result completes it */
		if (t->state == TS_STARTING) {
			xasprintf(&why, "cannot start the task%s: %s",
			    t->runs > 1 ? " again after its checkpoint" : "",
			    error);
			task_outcome_init(&o, why);
			o.start_failed = (t->runs == 1);
			task_send_result(t->task_id, t->attempt, TASK_FAILED,
			    -1, &o, NULL, 0);
			free(why);
			task_set_state(t, TS_DONE);
		} else if (t->state == TS_STOPPING) {
			task_outcome_init(&o, t->vacate_error);
			o.vacated = t->vacated;
			task_send_result(t->task_id, t->attempt, t->final, -1,
			    &o, NULL, 0);
			task_set_state(t, TS_DONE);
		}
		return;
	}
	if (t->state != TS_STARTING)
		return;
	task_set_state(t, TS_RUNNING);
	if (t->runs > 1) {
		/* Started again after a checkpoint: the main node knows. */
		log_info("event=task_restarted task=%s attempt=%d pid=%ld "
		    "runs=%d", t->log_id, t->attempt, (long)job_pid(job),
		    t->runs);
		return;
	}
	log_info("event=task_started task=%s attempt=%d type=%s pid=%ld "
	    "start_ms=%.3f%s%s", t->log_id, t->attempt,
	    proto_task_type_name(t->type), (long)job_pid(job),
	    (worker_now() - t->assigned) * 1e3, *t->container != '\0' ?
	    " container=" : "", t->container);
	msg_init(&m, MSG_TASK_STARTED);
	m.u.ref.task_id = t->task_id;
	m.u.ref.attempt = t->attempt;
	if (upstream_send(&m) == 0)
		upstream_flush();
}

/* The main process is gone: nothing it started may outlive it. */
static void
task_job_exited(struct job *job, void *arg)
{
	struct task	*t = arg;

	if (t->sb != NULL)
		sandbox_kill(t->sb);
}

/* Container tasks: did the runtime fail before the container ran?  Its
 * own errors exit 125 (126, 127: the command could not be run in it)
 * with an "Error: " (podman) or "docker: " line. */
static int
task_runtime_failed(struct task *t, int code, char *line, size_t size)
{
	if (t->type != TASK_TYPE_CONTAINER || code < 125 || code > 127 ||
	    *job_stderr_tail(t->job) == '\0')
		return (0);
	task_tail_line(job_stderr_tail(t->job), line, size);
	return (strncmp(line, "Error: ", 7) == 0 ||
	    strncmp(line, "docker: ", 8) == 0);
}

static void	task_checkpoint_exit(struct task *);
static void	task_outputs_kept(void *, const struct proto_file *, size_t,
		    const char *);
static void	task_ckpt_taken(void *, const struct proto_file *, size_t,
		    const char *);

/* A vacated task's checkpoint went to the main node (or could not):
 * the result that waited for it. */
static void
task_vacate_result(struct task *t, void *arg)
{
	(void)arg;
	if (!t->checkpointing || t->state != TS_STOPPING)
		return;
	t->checkpointing = 0;
	log_info("event=task_checkpoint_done task=%s attempt=%d", t->log_id,
	    t->attempt);
	task_send_result(t->task_id, t->attempt, t->out_status, t->out_code,
	    &t->out, NULL, 0);
	task_set_state(t, TS_DONE);
	task_remove(t);
}

/* Report a task that is over; a vacated one sends its checkpoint files
 * first (task_checkpoint_send), then its result. */
static void
task_finish(struct task *t, enum proto_task_status status, int code,
    const struct task_outcome *o)
{
	if (t->vacated) {
		t->out = *o;
		t->out_error = o->error != NULL ? xstrdup(o->error) : NULL;
		t->out.error = t->out_error;
		t->out_status = status;
		t->out_code = code;
		t->checkpointing = 1;
		log_info("event=task_checkpoint_send task=%s attempt=%d",
		    t->log_id, t->attempt);
		task_checkpoint_send(t, task_vacate_result, NULL);
		return;
	}
	task_send_result(t->task_id, t->attempt, status, code, o, NULL, 0);
	task_set_state(t, TS_DONE);
	task_remove(t);
}

/* The job is over: work out the status and report it. */
static void
task_job_done(struct job *job, void *arg)
{
	struct task		*t = arg;
	struct task_outcome	 o;
	enum proto_task_status	 status;
	int			 ws = job_status(job), code = -1, sig, oom;
	char			*error = NULL, line[512];
	const struct rusage	*ru = job_rusage(job);

	if (t->state == TS_ABANDONED || t->state == TS_DONE) {
		task_remove(t);
		return;
	}
	if (WIFEXITED(ws))
		code = WEXITSTATUS(ws);
	else if (WIFSIGNALED(ws))
		code = 128 + WTERMSIG(ws);
	if (t->state == TS_RUNNING && WIFEXITED(ws) &&
	    code == PROTO_CHECKPOINT_EXIT && t->pt != NULL &&
	    t->pt->n_checkpoints > 0) {
		task_checkpoint_exit(t);
		return;
	}

	task_outcome_init(&o, NULL);
	o.exec_time = worker_now() - t->started;
	o.cpu_time = (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
	    (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
	o.memory_peak = (int64_t)ru->ru_maxrss * 1024;
	oom = 0;
	if (t->sb != NULL) {
		double	cpu;
		int64_t	peak;

		sandbox_usage(t->sb, &cpu, &peak, &oom);
		if (cpu >= 0)
			o.cpu_time = cpu;
		if (peak >= 0)
			o.memory_peak = peak;
	}

	if (t->state == TS_STOPPING)
		status = t->final;
	else if (WIFEXITED(ws) && code == 0)
		status = TASK_COMPLETED;
	else {
		status = TASK_FAILED;
		if (oom)
			xasprintf(&error, "out of memory: the task went over "
			    "its limit of %d MB and was killed", t->memory_mb);
		else if (WIFSIGNALED(ws)) {
			sig = WTERMSIG(ws);
			xasprintf(&error, "killed by signal %d (%s)", sig,
			    strsignal(sig));
		} else if (task_runtime_failed(t, code, line, sizeof line)) {
			xasprintf(&error, "container runtime failed (exit %d): "
			    "%s", code, line);
			o.start_failed = 1;
		} else if (t->type == TASK_TYPE_CONTAINER && code >= 125 &&
		    code <= 127 && *job_stderr_tail(job) != '\0')
			xasprintf(&error, "container runtime failed (exit %d): "
			    "%s", code, task_tail_line(job_stderr_tail(job),
			    line, sizeof line));
		else if (t->type == TASK_TYPE_CONTAINER && code == 137)
			xasprintf(&error, "exit code 137 (killed: out of "
			    "memory or by a signal)");
		else
			xasprintf(&error, "exit code %d", code);
	}
	o.error = error;
	if (t->state == TS_STOPPING && t->vacated) {
		o.vacated = 1;
		o.error = t->vacate_error;
	}
	task_cpu_end(t, o.cpu_time);
	if (t->state != TS_STOPPING && WIFEXITED(ws) && !o.start_failed &&
	    t->pt != NULL && t->pt->n_outputs > 0) {
		/* Its outputs first: found, hashed and kept. */
		t->fin_status = status;
		t->fin_code = code;
		t->fin_error = error;
		t->fin_exec = o.exec_time;
		t->fin_cpu = o.cpu_time;
		t->fin_peak = o.memory_peak;
		task_set_state(t, TS_FINISHING);
		t->stage = stage_out(t->log_id, t->workdir, t->pt->outputs,
		    t->pt->n_outputs, status == TASK_COMPLETED,
		    task_outputs_kept, t);
		return;
	}
	t->spool = NULL;	/* the result completes it */
	task_finish(t, status, code, &o);
	free(error);
}

/* A finished task's outputs are kept (or could not be): its result. */
static void
task_outputs_kept(void *arg, const struct proto_file *files, size_t n,
    const char *err)
{
	struct task		*t = arg;
	struct task_outcome	 o;
	enum proto_task_status	 status = t->fin_status;

	t->stage = NULL;
	task_outcome_init(&o, t->fin_error);
	o.exec_time = t->fin_exec;
	o.cpu_time = t->fin_cpu;
	o.memory_peak = t->fin_peak;
	if (err != NULL) {
		log_warn("event=task_outputs_failed task=%s attempt=%d "
		    "msg=\"%s\"", t->log_id, t->attempt, err);
		if (status == TASK_COMPLETED) {
			status = TASK_FAILED;
			o.error = err;
		}
	}
	t->spool = NULL;
	task_send_result(t->task_id, t->attempt, status, t->fin_code, &o,
	    files, n);
	task_set_state(t, TS_DONE);
	task_remove(t);
}

/* Pause every job's output until upstream drains. */
static void
task_pause_all(int paused)
{
	struct task	*t;

	task_paused = paused;
	TAILQ_FOREACH(t, &task_list, entry) {
		if (t->job != NULL)
			job_pause(t->job, paused);
	}
}

/* A chunk of output: keep it in the spool, and send it as task_output
 * when the attempt is live. */
static void
task_job_output(struct job *job, const char *stream, const char *data,
    size_t len, void *arg)
{
	struct task	*t = arg;
	struct msg	 m;
	char		*line;
	size_t		 n;

	if (t->state == TS_ABANDONED || t->spool == NULL)
		return;
	msg_init(&m, MSG_TASK_OUTPUT);
	m.sender_id = wconf.id;
	m.message_id = worker_next_id();
	m.u.output.task_id = t->task_id;
	m.u.output.attempt = t->attempt;
	m.u.output.stream = (char *)stream;
	m.u.output.seq = t->seq++;
	m.u.output.data = (char *)data;
	m.u.output.data_len = len;
	if ((line = msg_encode(&m, &n)) == NULL) {
		log_error("event=encode_failed type=task_output task=%s",
		    t->log_id);
		return;
	}
	if (spool_output(t->spool, line, n) && upstream_send_line(line,
	    n) == 0 && !upstream_can_write() && !task_paused)
		task_pause_all(1);
	free(line);
}

/* Upstream drained (or went away): read task output again. */
void
task_output_resume(void)
{
	if (task_paused)
		task_pause_all(0);
}

/* CPU s a task used so far, -1: unknown.  A container's is an estimate
 * (its cgroup is the runtime's): its --cpus, one CPU without a limit,
 * for as long as it ran unsuspended. */
static double
task_cpu_now(struct task *t)
{
	double	now;

	if (t->type == TASK_TYPE_CONTAINER) {
		now = worker_now();
		if (!t->suspended && t->cpu_mark > 0)
			t->cpu_est += (now - t->cpu_mark) *
			    (t->cpus > 0 ? t->cpus : 1.0);
		t->cpu_mark = now;
		return (t->cpu_est);
	}
	if (t->sb != NULL)
		return (sandbox_cpu(t->sb));
	return (-1);
}

/* A task is over with cpu s used in all (NAN: unknown): count what
 * task_cpu_take has not seen of it yet. */
static void
task_cpu_end(struct task *t, double cpu)
{
	if (t->type == TASK_TYPE_CONTAINER)
		cpu = task_cpu_now(t);
	if (!isnan(cpu) && cpu > t->cpu_seen) {
		task_cpu_ended += cpu - t->cpu_seen;
		t->cpu_seen = cpu;
	}
}

/* CPU s encore's tasks used since the last call. */
double
task_cpu_take(void)
{
	struct task	*t;
	double		 sum = task_cpu_ended, v;

	task_cpu_ended = 0;
	TAILQ_FOREACH(t, &task_list, entry) {
		if (t->state == TS_ABANDONED || t->state == TS_DONE)
			continue;
		if ((v = task_cpu_now(t)) > t->cpu_seen) {
			sum += v - t->cpu_seen;
			t->cpu_seen = v;
		}
	}
	return (sum);
}

/* A pause or unpause of a task's container in flight: which attempt (it
 * may be gone when the runtime is done).  task_id is owned. */
struct task_pausing {
	char	*task_id;
	int	 attempt;
	int	 pause;
};

static void	task_container_sync(struct task *);

/* `RUNTIME pause/unpause` is done: note it; go on if the policy changed
 * its mind meanwhile.  A failure is tried again at the next sample. */
static void
task_pause_done(int status, void *arg)
{
	struct task_pausing	*p = arg;
	struct task		*t;

	if (status != JOB_ABANDONED &&
	    (t = task_find(p->task_id, p->attempt)) != NULL) {
		t->pause_busy = 0;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			t->paused = p->pause;
			if (t->state != TS_DONE && t->state != TS_ABANDONED)
				task_container_sync(t);
		} else
			log_warn("event=container_%s_failed task=%s attempt=%d "
			    "exit=%d msg=\"tried again at the next sample\"",
			    p->pause ? "pause" : "unpause", t->log_id,
			    t->attempt, WIFEXITED(status) ?
			    WEXITSTATUS(status) : -1);
	}
	free(p->task_id);
	free(p);
}

/* Bring a container's pause state to what the policy wants (one runtime
 * call at a time). */
static void
task_container_sync(struct task *t)
{
	struct task_pausing	*p;

	if (t->pause_busy || wconf.runtime == NULL ||
	    t->paused == t->suspended)
		return;
	p = xcalloc(1, sizeof *p);
	p->task_id = xstrdup(t->task_id);
	p->attempt = t->attempt;
	p->pause = t->suspended;
	t->pause_busy = 1;
	exec_container_pause(wconf.runtime, t->container, p->pause,
	    task_pause_done, p);
}

/* Stop a task where it is: its timeout clock stops, its vacate clock
 * starts. */
static void
task_suspend(struct task *t)
{
	struct timeval	 tv = { wconf.max_suspend, 0 };
	const char	*how;
	double		 now = worker_now();

	task_cpu_now(t);
	t->suspended = 1;
	t->suspended_at = now;
	if (t->type == TASK_TYPE_CONTAINER) {
		how = "pause";
		task_container_sync(t);
	} else if (t->sb != NULL && sandbox_freeze(t->sb, 1) == 0)
		how = "freeze";
	else {
		how = "sigstop";
		if (t->job != NULL)
			job_kill(t->job, SIGSTOP);
		t->sigstopped = 1;
	}
	if (t->deadline > 0) {
		t->timeout_left = t->deadline - now;
		if (t->timeout_left < 0)
			t->timeout_left = 0;
		evtimer_del(t->timeout_ev);
	}
	if (wconf.max_suspend > 0)
		evtimer_add(t->vacate_ev, &tv);
	log_info("event=task_suspended task=%s attempt=%d how=%s", t->log_id,
	    t->attempt, how);
}

/* Undo a suspension (the policy resumes, or the kill path): the task
 * runs again and so does its timeout clock. */
static void
task_thaw(struct task *t)
{
	struct timeval	tv;
	double		now = worker_now();

	if (!t->suspended)
		return;
	task_cpu_now(t);
	t->suspended = 0;
	if (t->type == TASK_TYPE_CONTAINER)
		task_container_sync(t);
	else if (t->sigstopped) {
		if (t->job != NULL)
			job_kill(t->job, SIGCONT);
		t->sigstopped = 0;
	} else if (t->sb != NULL)
		sandbox_freeze(t->sb, 0);
	evtimer_del(t->vacate_ev);
	if (t->deadline > 0) {
		t->deadline = now + t->timeout_left;
		tv.tv_sec = (time_t)t->timeout_left;
		tv.tv_usec = (suseconds_t)((t->timeout_left - tv.tv_sec) * 1e6);
		evtimer_add(t->timeout_ev, &tv);
	}
}

/* The policy resumes a task. */
static void
task_resume(struct task *t)
{
	double	was = worker_now() - t->suspended_at;

	task_thaw(t);
	log_info("event=task_resumed task=%s attempt=%d suspended_s=%.1f",
	    t->log_id, t->attempt, was);
}

/* The policy's verdict at a sample: suspend or resume every task that
 * runs (a container whose runtime call failed is tried again). */
void
task_policy(int suspended)
{
	struct task	*t;

	TAILQ_FOREACH(t, &task_list, entry) {
		if (t->state != TS_STARTING && t->state != TS_RUNNING)
			continue;
		if (suspended && !t->suspended)
			task_suspend(t);
		else if (!suspended && t->suspended)
			task_resume(t);
		else if (t->type == TASK_TYPE_CONTAINER)
			task_container_sync(t);
	}
}

/* Second stage of the kill path: SIGKILL to everything of the task. */
static void
task_kill_cb(evutil_socket_t fd, short events, void *arg)
{
	struct task	*t = arg;

	log_info("event=task_kill task=%s attempt=%d signal=KILL", t->log_id,
	    t->attempt);
	if (t->job != NULL)
		job_kill(t->job, SIGKILL);
	if (t->sb != NULL)
		sandbox_kill(t->sb);
	if (t->type == TASK_TYPE_CONTAINER && wconf.runtime != NULL)
		exec_container_kill(wconf.runtime, t->container);
}

/* Take the kill path, recording final as the outcome: a suspended task
 * is resumed first, then SIGTERM, and SIGKILL after grace s.  A container
 * is killed at once, unless it is being vacated (its runtime client
 * passes the SIGTERM on). */
static void
task_terminate(struct task *t, enum proto_task_status final, int grace)
{
	struct timeval		tv = { grace, 0 };
	struct task_outcome	o;

	if (t->state == TS_FETCHING || t->state == TS_CHECKPOINT) {
		/* No process: it ends at once. */
		log_info("event=task_stopped task=%s attempt=%d state=%s",
		    t->log_id, t->attempt, task_state_names[t->state]);
		task_outcome_init(&o, NULL);
		if (t->runs > 0)
			o.exec_time = worker_now() - t->started;
		t->spool = NULL;
		task_send_result(t->task_id, t->attempt, final, -1, &o, NULL,
		    0);
		task_set_state(t, TS_DONE);
		task_remove(t);
		return;
	}
	if (t->state != TS_STARTING && t->state != TS_RUNNING)
		return;
	task_set_state(t, TS_STOPPING);
	t->final = final;
	task_thaw(t);
	evtimer_del(t->timeout_ev);
	evtimer_del(t->vacate_ev);
	if (t->type == TASK_TYPE_CONTAINER && wconf.runtime != NULL &&
	    !t->vacated)
		exec_container_kill(wconf.runtime, t->container);
	if (t->job != NULL)
		job_kill(t->job, SIGTERM);
	evtimer_add(t->kill_ev, &tv);
}

/* A task suspended longer than --max-suspend: vacate it (the kill path
 * with a longer grace; the result says vacated). */
static void
task_vacate_cb(evutil_socket_t fd, short events, void *arg)
{
	struct task	*t = arg;

	if (!t->suspended || (t->state != TS_STARTING &&
	    t->state != TS_RUNNING))
		return;
	xasprintf(&t->vacate_error, "vacated after %d s suspended: %s",
	    wconf.max_suspend, *sampler_reason() != '\0' ? sampler_reason() :
	    "the device's policy");
	log_warn("event=task_vacate task=%s attempt=%d suspended_s=%.1f "
	    "grace_s=%d reason=\"%s\"", t->log_id, t->attempt,
	    worker_now() - t->suspended_at, TASK_VACATE_GRACE,
	    sampler_reason());
	t->vacated = 1;
	task_terminate(t, TASK_FAILED, TASK_VACATE_GRACE);
}

/* The task ran past its timeout: kill it, recorded as timed_out. */
static void
task_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct task	*t = arg;

	log_info("event=task_timeout task=%s attempt=%d", t->log_id,
	    t->attempt);
	task_terminate(t, TASK_TIMED_OUT, TASK_KILL_GRACE);
}

/* Prepare what a command task runs in: sandbox, spec, cgroup and
 * Landlock fds.  0, or -1 with *cause. */
static int
task_prepare_command(struct task *t, const struct proto_task *pt,
    struct job_spec *spec, char **cause)
{
	if (exec_process_spec(pt, t->workdir, spec, cause) != 0)
		return (-1);
	if ((t->sb = sandbox_new(t->workdir, pt->memory_mb, pt->pids,
	    cause)) == NULL)
		return (-1);
	spec->cgroup_fd = sandbox_procs_fd(t->sb);
	spec->cgroup_dirfd = sandbox_dir_fd(t->sb);
	if ((spec->landlock_fd = sandbox_landlock_fd(t->sb, spec->path,
	    cause)) == -2) {
		spec->landlock_fd = -1;
		return (-1);
	}
	return (0);
}

/*
 * Spawn a task (again, after a checkpoint): its spec, its sandbox, its
 * job; the timeout starts with the first spawn.  0, or -1 with *cause.
 */
static int
task_launch(struct task *t, const struct proto_task *pt, char **cause)
{
	struct job_spec	 spec;
	struct timeval	 tv;

	job_spec_init(&spec);
	if (pt->type == TASK_TYPE_CONTAINER) {
		exec_container_name(pt->task_id, pt->attempt, t->container,
		    sizeof t->container);
		if (exec_container_spec(pt, t->workdir, t->container, &spec,
		    cause) != 0)
			goto fail;
	} else if (task_prepare_command(t, pt, &spec, cause) != 0)
		goto fail;

	if (t->state != TS_STARTING)
		task_set_state(t, TS_STARTING);
	if (t->runs == 0)
		t->started = worker_now();
	t->cpu_mark = worker_now();
	t->job = job_run(&spec, &task_job_cb, t, cause);
	if (spec.landlock_fd != -1)
		close(spec.landlock_fd);
	job_spec_free(&spec);
	if (t->job == NULL)
		return (-1);
	if (t->sb != NULL)
		sandbox_set_pgid(t->sb, job_pid(t->job));
	if (t->spool == NULL)
		t->spool = spool_open(t->task_id, t->attempt);
	if (task_paused)
		job_pause(t->job, 1);
	spool_mark(t->task_id, t->attempt, job_pid(t->job),
	    *t->container != '\0' ? t->container : NULL,
	    t->sb != NULL ? sandbox_cgroup(t->sb) : NULL, t->workdir);
	log_debug("event=task_spawned task=%s attempt=%d pid=%ld timeout=%d "
	    "runs=%d", t->log_id, t->attempt, (long)job_pid(t->job),
	    pt->timeout, t->runs + 1);
	if (t->runs++ == 0 && pt->timeout > 0) {
		tv.tv_sec = pt->timeout;
		tv.tv_usec = 0;
		evtimer_add(t->timeout_ev, &tv);
		t->deadline = t->started + pt->timeout;
	}
	return (0);

fail:
	if (spec.landlock_fd != -1)
		close(spec.landlock_fd);
	job_spec_free(&spec);
	return (-1);
}

/* A task that could not start here: a failed start, and it goes. */
static void
task_start_failed(struct task *t, const char *what, const char *cause)
{
	char	*why;

	xasprintf(&why, "%s: %s", what, cause);
	task_refuse(t->task_id, t->attempt, why);
	free(why);
	task_set_state(t, TS_DONE);
	task_remove(t);
}

/* A task's files are in its working directory (or cannot be): start it. */
static void
task_fetched(void *arg, const char *err)
{
	struct task	*t = arg;
	char		*cause = NULL;

	t->stage = NULL;
	if (t->state != TS_FETCHING)
		return;
	if (err != NULL) {
		task_start_failed(t, "cannot get the task's files on this "
		    "device", err);
		return;
	}
	if (task_launch(t, t->pt, &cause) != 0) {
		task_start_failed(t, "cannot start the task", cause);
		free(cause);
	}
}

/* 1 if a task names files (it keeps its assignment then). */
static int
task_has_files(const struct proto_task *pt)
{
	return (pt->n_inputs > 0 || pt->n_checkpoint > 0 ||
	    pt->n_outputs > 0 || pt->n_checkpoints > 0);
}

/* Start an assigned task, or refuse it (see the diagram above).  A task
 * with files takes what pt owns (its fields are left zeroed). */
void
task_assign(struct proto_task *pt)
{
	struct task	*t, *other;
	struct msg	 m;
	char		*cause = NULL, *why, id[PROTO_ID_MAX * 4 + 1];

	if (pt->task_id == NULL || pt->attempt < 1)
		return;
	log_sanitize(pt->task_id, id, sizeof id);
	if ((t = task_find(pt->task_id, pt->attempt)) != NULL &&
	    t->state != TS_ABANDONED) {
		log_debug("event=task_duplicate task=%s attempt=%d state=%s",
		    id, pt->attempt, task_state_names[t->state]);
		if (t->state == TS_RUNNING) {
			msg_init(&m, MSG_TASK_STARTED);
			m.u.ref.task_id = t->task_id;
			m.u.ref.attempt = t->attempt;
			upstream_send(&m);
		}
		return;
	}
	if (spool_resend_one(pt->task_id, pt->attempt))
		return;
	if (worker_exiting) {
		task_refuse(pt->task_id, pt->attempt, "no free slot: the "
		    "worker is shutting down");
		return;
	}
	if ((other = task_find_other(pt->task_id, pt->attempt)) != NULL) {
		xasprintf(&why, "attempt %d of this task is still %s on this "
		    "device", other->attempt, other->state == TS_STOPPING ?
		    "stopping" : "running");
		task_refuse(pt->task_id, pt->attempt, why);
		free(why);
		return;
	}
	if (!sampler_is_accepting()) {
		xasprintf(&why, "no free slot: the device's policy suspended "
		    "it: %s", sampler_reason());
		task_refuse(pt->task_id, pt->attempt, why);
		free(why);
		return;
	}
	if (task_busy() >= (size_t)wconf.slots) {
		xasprintf(&why, "no free slot: all %d slots are busy",
		    wconf.slots);
		task_refuse(pt->task_id, pt->attempt, why);
		free(why);
		return;
	}

	t = xcalloc(1, sizeof *t);
	t->task_id = xstrdup(pt->task_id);
	t->log_id = xstrdup(id);
	t->attempt = pt->attempt;
	t->type = pt->type;
	t->state = TS_STARTING;
	t->assigned = worker_now();
	t->memory_mb = pt->memory_mb;
	t->cpus = pt->cpus;
	t->workdir = spool_work_path(pt->task_id, pt->attempt);
	t->timeout_ev = evtimer_new(worker_base, task_timeout_cb, t);
	t->kill_ev = evtimer_new(worker_base, task_kill_cb, t);
	t->vacate_ev = evtimer_new(worker_base, task_vacate_cb, t);
	TAILQ_INSERT_TAIL(&task_list, t, entry);
	task_n++;
	if (task_has_files(pt)) {
		t->pt = xmalloc(sizeof *t->pt);
		*t->pt = *pt;
		memset(pt, 0, sizeof *pt);
		pt = t->pt;
	}

	if (spool_work_make(t->workdir) != 0) {
		xasprintf(&cause, "cannot create the work directory %s: %s",
		    t->workdir, strerror(errno));
		goto fail;
	}
	if (pt->n_inputs > 0 || pt->n_checkpoint > 0) {
		task_set_state(t, TS_FETCHING);
		log_info("event=task_fetching task=%s attempt=%d inputs=%zu "
		    "checkpoint=%zu", t->log_id, t->attempt, pt->n_inputs,
		    pt->n_checkpoint);
		t->stage = stage_in(t->log_id, t->workdir, pt->inputs,
		    pt->n_inputs, pt->checkpoint, pt->n_checkpoint,
		    task_fetched, t);
		return;
	}
	if (task_launch(t, pt, &cause) == 0)
		return;

fail:
	task_start_failed(t, "cannot start the task", cause);
	free(cause);
}

/* Exit code 85: the task took a checkpoint.  Its files are copied into
 * the cache, then it runs again; they go to the main node meanwhile. */
static void
task_checkpoint_exit(struct task *t)
{
	log_info("event=task_checkpoint_exit task=%s attempt=%d runs=%d",
	    t->log_id, t->attempt, t->runs);
	spool_unmark(t->task_id, t->attempt);
	t->old_job = t->job;	/* freed out of its own callback */
	t->job = NULL;
	if (t->sb != NULL) {
		/* The next run has a new sandbox counting from 0. */
		task_cpu_end(t, sandbox_cpu(t->sb));
		t->cpu_seen = 0;
	}
	sandbox_free(t->sb);
	t->sb = NULL;
	task_set_state(t, TS_CHECKPOINT);
	t->stage = stage_ckpt(t->log_id, t->workdir, t->pt->checkpoints,
	    t->pt->n_checkpoints, task_ckpt_taken, t);
}

/* A checkpoint's files reached the main node and task_checkpoint went
 * (or not: the task goes on either way). */
static void
task_ckpt_sent(void *arg, const char *err)
{
	struct task	*t = arg;

	t->ckpt = NULL;
}

/* A checkpoint's files are in the cache: send them, run the task again. */
static void
task_ckpt_taken(void *arg, const struct proto_file *files, size_t n,
    const char *err)
{
	struct task	*t = arg;
	char		*cause = NULL;

	t->stage = NULL;
	if (t->old_job != NULL) {
		job_free(t->old_job);
		t->old_job = NULL;
	}
	if (t->state != TS_CHECKPOINT)
		return;
	if (err != NULL)
		log_warn("event=checkpoint_failed task=%s attempt=%d msg=\"%s\" "
		    "reason=\"the task goes on from its files here\"",
		    t->log_id, t->attempt, err);
	else if (n == 0)
		log_warn("event=checkpoint_empty task=%s attempt=%d msg=\"exit "
		    "code 85, but no file matches its checkpoint patterns\"",
		    t->log_id, t->attempt);
	else {
		/* Only the newest checkpoint is worth sending. */
		stage_ckpt_send_cancel(t->ckpt);
		t->ckpt = stage_ckpt_send(t->task_id, t->attempt, t->log_id,
		    files, n, task_ckpt_sent, t);
	}
	if (task_launch(t, t->pt, &cause) != 0) {
		struct task_outcome	o;
		char			*why;

		xasprintf(&why, "cannot start the task again after its "
		    "checkpoint: %s", cause);
		free(cause);
		task_outcome_init(&o, why);
		o.exec_time = worker_now() - t->started;
		t->spool = NULL;
		task_send_result(t->task_id, t->attempt, TASK_FAILED, -1, &o,
		    NULL, 0);
		free(why);
		task_set_state(t, TS_DONE);
		task_remove(t);
	}
}

/* A stopped task's checkpoint went (or not): tell the caller. */
static void
task_vacate_end(struct task *t)
{
	void	(*done)(struct task *, void *) = t->vdone;

	t->vstage = NULL;
	t->vsend = NULL;
	t->vdone = NULL;
	if (done != NULL)
		done(t, t->varg);
}

static void
task_vacate_sent(void *arg, const char *err)
{
	task_vacate_end(arg);
}

static void
task_vacate_taken(void *arg, const struct proto_file *files, size_t n,
    const char *err)
{
	struct task	*t = arg;

	t->vstage = NULL;
	if (err != NULL)
		log_warn("event=checkpoint_failed task=%s attempt=%d msg=\"%s\"",
		    t->log_id, t->attempt, err);
	if (err != NULL || n == 0) {
		task_vacate_end(t);
		return;
	}
	t->vsend = stage_ckpt_send(t->task_id, t->attempt, t->log_id, files,
	    n, task_vacate_sent, t);
}

/*
 * Send the checkpoint files of a task that was stopped (vacated: it had
 * its SIGTERM and its grace, and its process is gone), if it declared
 * checkpoint patterns: copied into the cache, uploaded, then
 * task_checkpoint.  done(t, arg) is called from the loop once that is
 * over, sent or not (at once when it declared none); then send its
 * result.  t stays alive until then; one at a time per task.
 */
void
task_checkpoint_send(struct task *t, void (*done)(struct task *, void *),
    void *arg)
{
	t->vdone = done;
	t->varg = arg;
	if (t->pt == NULL || t->pt->n_checkpoints == 0) {
		t->vsend = stage_ckpt_send(t->task_id, t->attempt, t->log_id,
		    NULL, 0, task_vacate_sent, t);
		return;
	}
	t->vstage = stage_ckpt(t->log_id, t->workdir, t->pt->checkpoints,
	    t->pt->n_checkpoints, task_vacate_taken, t);
}

/* Cancel a task attempt: the kill path, recorded as cancelled. */
void
task_cancel(const char *task_id, int attempt)
{
	struct task	*t;
	char		 id[PROTO_ID_MAX * 4 + 1];

	log_sanitize(task_id, id, sizeof id);
	if ((t = task_find(task_id, attempt)) == NULL ||
	    t->state == TS_ABANDONED || t->state == TS_DONE) {
		log_debug("event=cancel_unknown task=%s attempt=%d", id,
		    attempt);
		spool_resend_one(task_id, attempt);
		return;
	}
	log_info("event=task_cancel task=%s attempt=%d state=%s", id, attempt,
	    task_state_names[t->state]);
	task_terminate(t, TASK_CANCELLED, TASK_KILL_GRACE);
}

/* The (task_id, attempt) pairs not over (borrowed). */
size_t
task_refs(struct proto_task_ref **refs)
{
	struct task	*t;
	size_t		 n = 0;

	*refs = NULL;
	if (task_n == 0)
		return (0);
	task_refs_buf = xreallocarray(task_refs_buf, task_n,
	    sizeof *task_refs_buf);
	TAILQ_FOREACH(t, &task_list, entry) {
		if (t->state == TS_ABANDONED || t->state == TS_DONE)
			continue;
		task_refs_buf[n].task_id = t->task_id;
		task_refs_buf[n].attempt = t->attempt;
		n++;
	}
	*refs = task_refs_buf;
	return (n);
}

/* Tasks on this device, stopping ones included. */
size_t
task_count(void)
{
	return (task_n);
}

/* Kill every task now (shutdown); the main node re-queues them. */
void
task_kill_all(void)
{
	struct task	*t, *next;
	int		 running;

	for (t = TAILQ_FIRST(&task_list); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->state == TS_ABANDONED || t->state == TS_DONE)
			continue;
		/* Fetching, between runs or keeping outputs: no process. */
		running = t->state != TS_FETCHING &&
		    t->state != TS_CHECKPOINT && t->state != TS_FINISHING;
		task_set_state(t, TS_ABANDONED);
		log_info("event=task_abandoned task=%s attempt=%d msg=\"killed "
		    "at shutdown\"", t->log_id, t->attempt);
		if (t->job != NULL)
			job_kill(t->job, SIGKILL);
		if (t->sb != NULL)
			sandbox_kill(t->sb);
		if (running && t->type == TASK_TYPE_CONTAINER &&
		    wconf.runtime != NULL)
			exec_container_remove_sync(wconf.runtime, t->container);
		spool_unmark(t->task_id, t->attempt);
		spool_drop(t->spool);
		t->spool = NULL;
		if (!running)
			task_remove(t);
	}
}

/* Register the deferred reaper. */
void
task_start(void)
{
	task_paused = 0;
	task_reap_ev = event_new(worker_base, -1, 0, task_reap_cb, NULL);
}

/* Free every task left (they are killed). */
void
task_stop(void)
{
	struct task	*t;

	while ((t = TAILQ_FIRST(&task_list)) != NULL) {
		TAILQ_REMOVE(&task_list, t, entry);
		task_n--;
		spool_unmark(t->task_id, t->attempt);
		spool_drop(t->spool);
		t->spool = NULL;
		task_free(t);
	}
	task_reap_cb(-1, 0, NULL);
	if (task_reap_ev != NULL)
		event_free(task_reap_ev);
	task_reap_ev = NULL;
	free(task_refs_buf);
	task_refs_buf = NULL;
}
