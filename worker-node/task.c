/* SPDX-License-Identifier: ISC */
/*
 * task.c -- the life of an assigned task on this device: assigned ->
 * running (task_started, task_output chunks) -> exited -> result spooled
 * and sent.  A task is keyed by (task_id, attempt).  Cancel and timeout
 * take the kill path (SIGTERM to the group, SIGKILL 5 s later; `RUNTIME
 * kill` + `rm -f` for containers) and record cancelled or timed_out.
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

#include <event2/event.h>

#include "protocol.h"
#include "worker.h"

#define TASK_KILL_GRACE		5	/* s from SIGTERM to SIGKILL */
#define TASK_NAME_MAX		(PROTO_ID_MAX * 3 + 32)

/*
 * A task attempt on this device.  All pointers are owned.  job is NULL
 * only between creation and a successful start.  A task stays in the list
 * until its result is spooled (or it is abandoned at shutdown); it is then
 * freed from a deferred event, never inside the job's callback.
 */
struct task {
	char			*task_id;
	int			 attempt;
	enum proto_task_type	 type;
	char			 container[TASK_NAME_MAX];
	char			*workdir;
	struct job		*job;
	int64_t			 seq;		/* next task_output seq */
	int64_t			 dropped;	/* chunks lost offline */
	double			 started;	/* monotonic */
	int			 stopping;	/* kill path taken */
	int			 final;		/* -1, or the status the kill
						   path records */
	int			 abandoned;	/* shutdown: no result */
	struct event		*timeout_ev;
	struct event		*kill_ev;
	TAILQ_ENTRY(task)	 entry;
};

static TAILQ_HEAD(, task)	 task_list = TAILQ_HEAD_INITIALIZER(task_list);
static TAILQ_HEAD(, task)	 task_dead = TAILQ_HEAD_INITIALIZER(task_dead);
static struct event		*task_reap_ev;
static size_t			 task_n;
static struct proto_task_ref	*task_refs_buf;
static int			 task_paused;

/* Find a task attempt. */
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

/* Free a task and everything it owns. */
static void
task_free(struct task *t)
{
	if (t->job != NULL)
		job_free(t->job);
	if (t->workdir != NULL) {
		worker_rmtree(t->workdir);
		free(t->workdir);
	}
	if (t->timeout_ev != NULL)
		event_free(t->timeout_ev);
	if (t->kill_ev != NULL)
		event_free(t->kill_ev);
	free(t->task_id);
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
	if (t->timeout_ev != NULL)
		evtimer_del(t->timeout_ev);
	if (t->kill_ev != NULL)
		evtimer_del(t->kill_ev);
	TAILQ_INSERT_TAIL(&task_dead, t, entry);
	event_active(task_reap_ev, EV_TIMEOUT, 0);
}

/* Spool and send a result; the spool makes it survive everything. */
static void
task_send_result(const char *task_id, int attempt,
    enum proto_task_status status, int exit_code, double exec_time,
    const char *error, const struct rusage *ru)
{
	struct msg	 m;
	char		*line, text[PROTO_TEXT_MAX];
	size_t		 len;

	msg_init(&m, MSG_TASK_RESULT);
	m.sender_id = wconf.id;
	m.message_id = worker_next_id();
	m.u.result.task_id = (char *)task_id;
	m.u.result.attempt = attempt;
	m.u.result.status = status;
	m.u.result.exit_code = exit_code;
	m.u.result.execution_time = exec_time;
	if (error != NULL) {
		snprintf(text, sizeof text, "%s", error);
		m.u.result.error = text;
	}
	if (ru != NULL) {
		m.u.result.cpu_time = (double)ru->ru_utime.tv_sec +
		    ru->ru_utime.tv_usec / 1e6 + (double)ru->ru_stime.tv_sec +
		    ru->ru_stime.tv_usec / 1e6;
		m.u.result.memory_peak = (int64_t)ru->ru_maxrss * 1024;
	}
	log_info("event=task_result task=%s attempt=%d status=%s exit_code=%d",
	    task_id, attempt, proto_task_status_name(status), exit_code);
	if ((line = spool_put(&m, &len)) == NULL)
		return;
	spool_unmark(task_id, attempt);
	if (upstream_send_line(line, len) != 0)
		log_info("event=result_spooled task=%s attempt=%d msg=\"sent "
		    "when the main node is back\"", task_id, attempt);
	free(line);
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

/* The job is over: work out the status and report it. */
static void
task_job_done(struct job *job, void *arg)
{
	struct task	*t = arg;
	int		 ws = job_status(job), code = -1, sig;
	int		 status;
	char		*error = NULL, line[512];
	double		 elapsed = worker_now() - t->started;

	if (t->abandoned) {
		task_remove(t);
		return;
	}
	if (WIFEXITED(ws))
		code = WEXITSTATUS(ws);
	else if (WIFSIGNALED(ws))
		code = 128 + WTERMSIG(ws);

	if (t->final != -1)
		status = t->final;
	else if (WIFEXITED(ws) && code == 0)
		status = TASK_COMPLETED;
	else {
		status = TASK_FAILED;
		if (WIFSIGNALED(ws)) {
			sig = WTERMSIG(ws);
			xasprintf(&error, "killed by signal %d (%s)%s", sig,
			    strsignal(sig), sig == SIGXCPU ?
			    ": CPU time limit" : "");
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
	if (t->dropped > 0)
		log_warn("event=output_dropped task=%s attempt=%d chunks=%lld "
		    "msg=\"the main node was unreachable\"", t->task_id,
		    t->attempt, (long long)t->dropped);
	task_send_result(t->task_id, t->attempt, status, code, elapsed, error,
	    job_rusage(job));
	free(error);
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

/* A chunk of output: send it as task_output. */
static void
task_job_output(struct job *job, const char *stream, const char *data,
    size_t len, void *arg)
{
	struct task	*t = arg;
	struct msg	 m;

	if (t->abandoned)
		return;
	msg_init(&m, MSG_TASK_OUTPUT);
	m.u.output.task_id = t->task_id;
	m.u.output.attempt = t->attempt;
	m.u.output.stream = (char *)stream;
	m.u.output.seq = t->seq++;
	m.u.output.data = (char *)data;
	m.u.output.data_len = len;
	if (upstream_send(&m) != 0) {
		t->dropped++;
		return;
	}
	if (!upstream_can_write() && upstream_is_registered() && !task_paused)
		task_pause_all(1);
}

/* Upstream drained (or went away): read task output again. */
void
task_output_resume(void)
{
	if (task_paused)
		task_pause_all(0);
}

/* Second stage of the kill path: SIGKILL. */
static void
task_kill_cb(evutil_socket_t fd, short events, void *arg)
{
	struct task	*t = arg;

	log_info("event=task_kill task=%s attempt=%d signal=KILL", t->task_id,
	    t->attempt);
	if (t->job != NULL)
		job_kill(t->job, SIGKILL);
	if (t->type == TASK_TYPE_CONTAINER && wconf.runtime != NULL)
		exec_container_kill(wconf.runtime, t->container);
}

/* Take the kill path, recording final as the outcome. */
static void
task_terminate(struct task *t, int final)
{
	struct timeval	tv = { TASK_KILL_GRACE, 0 };

	if (t->stopping)
		return;
	t->stopping = 1;
	t->final = final;
	if (t->type == TASK_TYPE_CONTAINER && wconf.runtime != NULL)
		exec_container_kill(wconf.runtime, t->container);
	if (t->job != NULL)
		job_kill(t->job, SIGTERM);
	evtimer_add(t->kill_ev, &tv);
}

/* The task ran past its timeout: kill it, recorded as timed_out. */
static void
task_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct task	*t = arg;

	log_info("event=task_timeout task=%s attempt=%d", t->task_id,
	    t->attempt);
	task_terminate(t, TASK_TIMED_OUT);
}

/* Refuse an assignment with a failed result. */
static void
task_refuse(const struct proto_task *pt, const char *why)
{
	log_warn("event=task_refused task=%s attempt=%d reason=\"%s\"",
	    pt->task_id, pt->attempt, why);
	task_send_result(pt->task_id, pt->attempt, TASK_FAILED, -1, 0, why,
	    NULL);
}

/* Start an assigned task, or refuse it. */
void
task_assign(const struct proto_task *pt)
{
	struct task	*t;
	struct job_spec	 spec;
	struct msg	 m;
	struct timeval	 tv;
	char		*cause = NULL, *why;

	if (pt->task_id == NULL || pt->attempt < 1)
		return;
	if ((t = task_find(pt->task_id, pt->attempt)) != NULL) {
		log_debug("event=task_duplicate task=%s attempt=%d",
		    pt->task_id, pt->attempt);
		msg_init(&m, MSG_TASK_STARTED);
		m.u.ref.task_id = t->task_id;
		m.u.ref.attempt = t->attempt;
		upstream_send(&m);
		return;
	}
	if (spool_resend_one(pt->task_id, pt->attempt))
		return;
	if (worker_exiting) {
		task_refuse(pt, "no free slot: the worker is shutting down");
		return;
	}
	if (!sampler_is_accepting()) {
		task_refuse(pt, "no free slot: not accepting tasks now");
		return;
	}
	if (task_n >= (size_t)wconf.slots) {
		task_refuse(pt, "no free slot");
		return;
	}

	t = xcalloc(1, sizeof *t);
	t->task_id = xstrdup(pt->task_id);
	t->attempt = pt->attempt;
	t->type = pt->type;
	t->final = -1;
	t->workdir = spool_work_path(pt->task_id, pt->attempt);
	t->timeout_ev = evtimer_new(worker_base, task_timeout_cb, t);
	t->kill_ev = evtimer_new(worker_base, task_kill_cb, t);
	TAILQ_INSERT_TAIL(&task_list, t, entry);
	task_n++;

	worker_rmtree(t->workdir);
	if (mkdir(t->workdir, 0700) != 0) {
		xasprintf(&cause, "cannot create the work directory %s: %s",
		    t->workdir, strerror(errno));
		goto fail;
	}
	if (pt->type == TASK_TYPE_CONTAINER) {
		exec_container_name(pt->task_id, pt->attempt, t->container,
		    sizeof t->container);
		if (exec_container_spec(pt, t->workdir, t->container, &spec,
		    &cause) != 0)
			goto fail;
	} else if (exec_process_spec(pt, t->workdir, &spec, &cause) != 0)
		goto fail;

	t->started = worker_now();
	t->job = job_run(&spec, task_job_output, task_job_done, t, &cause);
	job_spec_free(&spec);
	if (t->job == NULL)
		goto fail;
	if (task_paused)
		job_pause(t->job, 1);
	spool_mark(t->task_id, t->attempt, job_pid(t->job),
	    t->type == TASK_TYPE_CONTAINER ? t->container : NULL);
	log_info("event=task_started task=%s attempt=%d type=%s pid=%ld "
	    "timeout=%d", t->task_id, t->attempt, proto_task_type_name(t->type),
	    (long)job_pid(t->job), pt->timeout);

	msg_init(&m, MSG_TASK_STARTED);
	m.u.ref.task_id = t->task_id;
	m.u.ref.attempt = t->attempt;
	upstream_send(&m);
	if (pt->timeout > 0) {
		tv.tv_sec = pt->timeout;
		tv.tv_usec = 0;
		evtimer_add(t->timeout_ev, &tv);
	}
	return;

fail:
	xasprintf(&why, "cannot start the task: %s", cause);
	log_warn("event=task_start_failed task=%s attempt=%d error=\"%s\"",
	    pt->task_id, pt->attempt, cause);
	task_send_result(pt->task_id, pt->attempt, TASK_FAILED, -1, 0, why,
	    NULL);
	free(why);
	free(cause);
	task_remove(t);
}

/* Cancel a running task: the kill path, recorded as cancelled. */
void
task_cancel(const char *task_id, int attempt)
{
	struct task	*t;

	if ((t = task_find(task_id, attempt)) == NULL) {
		log_debug("event=cancel_unknown task=%s attempt=%d", task_id,
		    attempt);
		spool_resend_one(task_id, attempt);
		return;
	}
	log_info("event=task_cancel task=%s attempt=%d", task_id, attempt);
	task_terminate(t, TASK_CANCELLED);
}

/* The running (task_id, attempt) pairs (borrowed). */
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
		if (t->abandoned)
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
	struct task	*t;

	TAILQ_FOREACH(t, &task_list, entry) {
		if (t->abandoned)
			continue;
		t->abandoned = 1;
		log_info("event=task_abandoned task=%s attempt=%d msg=\"killed "
		    "at shutdown\"", t->task_id, t->attempt);
		if (t->job != NULL)
			job_kill(t->job, SIGKILL);
		if (t->type == TASK_TYPE_CONTAINER && wconf.runtime != NULL)
			exec_container_remove_sync(wconf.runtime, t->container);
		spool_unmark(t->task_id, t->attempt);
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
		task_free(t);
	}
	task_reap_cb(-1, 0, NULL);
	if (task_reap_ev != NULL)
		event_free(task_reap_ev);
	task_reap_ev = NULL;
	free(task_refs_buf);
	task_refs_buf = NULL;
}
