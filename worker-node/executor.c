/* SPDX-License-Identifier: ISC */
/*
 * executor.c -- children of the event loop (cf. tmux job.c).  job_run()
 * forks and execs a prepared spec in its own session and process group,
 * with stdout/stderr on pipes read by loop events and cut into valid UTF-8
 * chunks; SIGCHLD is a loop event that reaps with wait4() for the resource
 * usage.  A job is done when its process exited and its pipes are drained.
 * Helpers (runtime kill/rm) are fire-and-forget children reaped the same
 * way.
 */
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "protocol.h"
#include "worker.h"

#define JOB_READ_MAX	(64 * 1024)	/* bytes per read callback */
#define JOB_DRAIN_WAIT	5		/* s to wait for pipe EOF after exit */
#define JOB_TAIL_MAX	1024		/* stderr bytes kept for errors */

/* One output pipe of a job.  ev and buf are owned; fd closed on EOF. */
struct job_stream {
	struct job	*job;
	const char	*name;		/* "stdout"/"stderr", static */
	int		 fd;		/* -1 once closed */
	struct event	*ev;
	struct evbuffer	*buf;		/* read, not yet emitted */
};

/*
 * A running child.  Owned by its caller (task.c), which frees it with
 * job_free() outside the job's callbacks.  The pid stays valid as a
 * process group id until done: the group is killed when the leader exits.
 */
struct job {
	pid_t			 pid;
	int			 exited;
	int			 status;
	struct rusage		 ru;
	int			 paused;
	int			 done;		/* done callback ran */
	struct job_stream	 out;
	struct job_stream	 err;
	struct event		*drain_ev;	/* give up waiting for EOF */
	struct event		*done_ev;	/* deferred done callback */
	char			 tail[JOB_TAIL_MAX + 1];
	size_t			 tail_len;
	job_output_cb		 output;
	job_done_cb		 donecb;
	void			*arg;
	LIST_ENTRY(job)		 entry;
};

/* A helper child: only its exit matters. */
struct job_helper {
	pid_t			 pid;
	void			(*done)(int, void *);
	void			*arg;
	LIST_ENTRY(job_helper)	 entry;
};

static LIST_HEAD(, job)		 job_list = LIST_HEAD_INITIALIZER(job_list);
static LIST_HEAD(, job_helper)	 job_helpers =
    LIST_HEAD_INITIALIZER(job_helpers);
static struct event		*job_sigchld_ev;

static void	job_check_done(struct job *);

/* Free a spec's strings. */
void
job_spec_free(struct job_spec *spec)
{
	char	**p;

	free(spec->path);
	if (spec->argv != NULL) {
		for (p = spec->argv; *p != NULL; p++)
			free(*p);
		free(spec->argv);
	}
	if (spec->envp != NULL) {
		for (p = spec->envp; *p != NULL; p++)
			free(*p);
		free(spec->envp);
	}
	free(spec->cwd);
	memset(spec, 0, sizeof *spec);
}

/* Replace invalid UTF-8 and NULs with U+FFFD (see worker.h). */
size_t
utf8_sanitize(const unsigned char *in, size_t inlen, int eof, char *out,
    size_t outmax, size_t *used)
{
	static const char	 repl[] = "\xef\xbf\xbd";
	size_t			 i = 0, o = 0, n, k;
	unsigned char		 c, lo, hi;
	int			 bad;

	while (i < inlen) {
		c = in[i];
		lo = 0x80;
		hi = 0xbf;
		if (c != 0 && c < 0x80)
			n = 1;
		else if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			n = 0;	/* NUL or never valid */

		bad = (n == 0);
		for (k = 1; !bad && k < n; k++) {
			if (i + k >= inlen) {
				if (!eof) {
					*used = i;	/* wait for the rest */
					return (o);
				}
				bad = 1;
				break;
			}
			if (k == 1 ? (in[i + k] < lo || in[i + k] > hi) :
			    (in[i + k] < 0x80 || in[i + k] > 0xbf))
				bad = 1;
		}
		if (bad) {
			if (o + 3 > outmax)
				break;
			memcpy(out + o, repl, 3);
			o += 3;
			i++;
			continue;
		}
		if (o + n > outmax)
			break;
		memcpy(out + o, in + i, n);
		o += n;
		i += n;
	}
	*used = i;
	return (o);
}

/* Keep the last JOB_TAIL_MAX bytes of stderr. */
static void
job_tail_add(struct job *job, const char *data, size_t len)
{
	if (len >= JOB_TAIL_MAX) {
		memcpy(job->tail, data + len - JOB_TAIL_MAX, JOB_TAIL_MAX);
		job->tail_len = JOB_TAIL_MAX;
	} else {
		if (job->tail_len + len > JOB_TAIL_MAX) {
			size_t	drop = job->tail_len + len - JOB_TAIL_MAX;

			memmove(job->tail, job->tail + drop,
			    job->tail_len - drop);
			job->tail_len -= drop;
		}
		memcpy(job->tail + job->tail_len, data, len);
		job->tail_len += len;
	}
	job->tail[job->tail_len] = '\0';
}

/* Emit what is buffered as UTF-8 chunks; eof flushes partial bytes. */
static void
job_emit(struct job_stream *js, int eof)
{
	struct job	*job = js->job;
	char		 chunk[PROTO_OUTPUT_CHUNK];
	unsigned char	*p;
	size_t		 len, want, used, n;

	while (!job->paused && (len = evbuffer_get_length(js->buf)) > 0) {
		want = len < sizeof chunk ? len : sizeof chunk;
		p = evbuffer_pullup(js->buf, (ssize_t)want);
		n = utf8_sanitize(p, want, eof || want < len ? eof : 0, chunk,
		    sizeof chunk, &used);
		if (used == 0 && !eof)
			break;
		if (used == 0)
			used = want;	/* cannot happen; guarantees progress */
		evbuffer_drain(js->buf, used);
		if (js == &job->err)
			job_tail_add(job, chunk, n);
		if (n > 0 && job->output != NULL)
			job->output(job, js->name, chunk, n, job->arg);
	}
}

/* Close a stream's pipe. */
static void
job_stream_close(struct job_stream *js)
{
	if (js->ev != NULL) {
		event_free(js->ev);
		js->ev = NULL;
	}
	if (js->fd != -1) {
		close(js->fd);
		js->fd = -1;
	}
}

/* Output is readable: buffer it and emit whole chunks; EOF closes. */
static void
job_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct job_stream	*js = arg;
	struct job		*job = js->job;
	int			 n;

	n = evbuffer_read(js->buf, fd, JOB_READ_MAX);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		job_stream_close(js);
		job_emit(js, 1);
		job_check_done(job);
		return;
	}
	job_emit(js, 0);
}

/* Run the done callback (deferred from reaping or the last read). */
static void
job_done_cb_(evutil_socket_t fd, short events, void *arg)
{
	struct job	*job = arg;

	if (job->done)
		return;
	job->done = 1;
	evtimer_del(job->drain_ev);
	job->donecb(job, job->arg);
}

/* Done when exited and both pipes are closed and emptied. */
static void
job_check_done(struct job *job)
{
	if (!job->exited || job->done)
		return;
	if (job->out.fd != -1 || job->err.fd != -1)
		return;
	if (evbuffer_get_length(job->out.buf) > 0 ||
	    evbuffer_get_length(job->err.buf) > 0)
		return;
	event_active(job->done_ev, EV_TIMEOUT, 0);
}

/* The pipes did not close in time after exit: stop waiting. */
static void
job_drain_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct job	*job = arg;

	log_debug("event=job_drain_timeout pid=%ld", (long)job->pid);
	job->paused = 0;
	job_stream_close(&job->out);
	job_stream_close(&job->err);
	job_emit(&job->out, 1);
	job_emit(&job->err, 1);
	evbuffer_drain(job->out.buf, evbuffer_get_length(job->out.buf));
	evbuffer_drain(job->err.buf, evbuffer_get_length(job->err.buf));
	job_check_done(job);
}

/* Reap every exited child and dispatch it to its job or helper. */
static void
job_sigchld_cb(evutil_socket_t sig, short events, void *arg)
{
	struct job		*job;
	struct job_helper	*h;
	struct rusage		 ru;
	struct timeval		 tv = { JOB_DRAIN_WAIT, 0 };
	pid_t			 pid;
	int			 status;

	for (;;) {
		pid = wait4(-1, &status, WNOHANG, &ru);
		if (pid <= 0)
			break;
		LIST_FOREACH(job, &job_list, entry) {
			if (job->pid == pid && !job->exited)
				break;
		}
		if (job != NULL) {
			job->exited = 1;
			job->status = status;
			job->ru = ru;
			/* Nothing of the task may outlive it. */
			kill(-job->pid, SIGKILL);
			evtimer_add(job->drain_ev, &tv);
			job_check_done(job);
			continue;
		}
		LIST_FOREACH(h, &job_helpers, entry) {
			if (h->pid == pid)
				break;
		}
		if (h != NULL) {
			LIST_REMOVE(h, entry);
			if (h->done != NULL)
				h->done(status, h->arg);
			free(h);
		}
	}
}

/* Close every fd from 3 up except keep. */
static void
job_close_fds(int keep)
{
	long	max, fd;

#ifdef SYS_close_range
	if (keep > 3 && syscall(SYS_close_range, 3, keep - 1, 0) != 0)
		goto slow;
	if (syscall(SYS_close_range, keep + 1, ~0U, 0) == 0)
		return;
slow:
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++) {
		if (fd != keep)
			close((int)fd);
	}
}

/* The child side of job_run(): never returns. */
static void __attribute__((noreturn))
job_child(struct job_spec *spec, pid_t parent, int outfd, int errfd,
    int reportfd)
{
	struct rlimit	 rl;
	sigset_t	 set;
	int		 sig, nullfd, e;

	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (setsid() == -1)
		goto fail;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (spec->cwd != NULL && chdir(spec->cwd) != 0)
		goto fail;
	if ((nullfd = open("/dev/null", O_RDWR)) == -1)
		goto fail;
	if (dup2(nullfd, 0) == -1 ||
	    dup2(outfd != -1 ? outfd : nullfd, 1) == -1 ||
	    dup2(errfd != -1 ? errfd : nullfd, 2) == -1)
		goto fail;
	job_close_fds(reportfd);

	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
	if (spec->rlimit_as > 0) {
		rl.rlim_cur = rl.rlim_max = spec->rlimit_as;
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			goto fail;
	}
	if (spec->rlimit_cpu > 0) {
		rl.rlim_cur = spec->rlimit_cpu;
		rl.rlim_max = spec->rlimit_cpu + 5;
		if (setrlimit(RLIMIT_CPU, &rl) != 0)
			goto fail;
	}
	execve(spec->path, spec->argv, spec->envp);
fail:
	e = errno;
	if (write(reportfd, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

/* Fork and exec spec in a new session with output pipes. */
struct job *
job_run(struct job_spec *spec, job_output_cb output, job_done_cb done,
    void *arg, char **cause)
{
	struct job	*job;
	int		 outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int		 rep[2] = { -1, -1 }, e;
	pid_t		 pid, parent = getpid();
	ssize_t		 n;

	if (pipe2(rep, O_CLOEXEC) != 0 ||
	    (spec->capture && (pipe2(outp, O_CLOEXEC) != 0 ||
	    pipe2(errp, O_CLOEXEC) != 0))) {
		xasprintf(cause, "cannot create pipes: %s", strerror(errno));
		goto fail;
	}
	if ((pid = fork()) == -1) {
		xasprintf(cause, "cannot fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		job_child(spec, parent, outp[1], errp[1], rep[1]);

	close(rep[1]);
	rep[1] = -1;
	do
		n = read(rep[0], &e, sizeof e);
	while (n == -1 && errno == EINTR);
	close(rep[0]);
	rep[0] = -1;
	if (n == (ssize_t)sizeof e) {
		/* exec failed; the child exits at once, SIGCHLD reaps it. */
		xasprintf(cause, "cannot run %s: %s", spec->path, strerror(e));
		goto fail;
	}

	job = xcalloc(1, sizeof *job);
	job->pid = pid;
	job->output = output;
	job->donecb = done;
	job->arg = arg;
	job->out.job = job->err.job = job;
	job->out.name = "stdout";
	job->err.name = "stderr";
	job->out.fd = outp[0];
	job->err.fd = errp[0];
	job->out.buf = evbuffer_new();
	job->err.buf = evbuffer_new();
	if (spec->capture) {
		close(outp[1]);
		close(errp[1]);
		evutil_make_socket_nonblocking(job->out.fd);
		evutil_make_socket_nonblocking(job->err.fd);
		job->out.ev = event_new(worker_base, job->out.fd,
		    EV_READ|EV_PERSIST, job_read_cb, &job->out);
		job->err.ev = event_new(worker_base, job->err.fd,
		    EV_READ|EV_PERSIST, job_read_cb, &job->err);
		event_add(job->out.ev, NULL);
		event_add(job->err.ev, NULL);
	}
	job->drain_ev = evtimer_new(worker_base, job_drain_timeout_cb, job);
	job->done_ev = event_new(worker_base, -1, 0, job_done_cb_, job);
	LIST_INSERT_HEAD(&job_list, job, entry);
	return (job);

fail:
	if (rep[0] != -1)
		close(rep[0]);
	if (rep[1] != -1)
		close(rep[1]);
	if (outp[0] != -1) {
		close(outp[0]);
		close(outp[1]);
	}
	if (errp[0] != -1) {
		close(errp[0]);
		close(errp[1]);
	}
	return (NULL);
}

/* Signal the job's whole process group (until it is done). */
void
job_kill(struct job *job, int sig)
{
	if (job->done)
		return;
	if (kill(-job->pid, sig) != 0 && !job->exited)
		kill(job->pid, sig);
}

/* The job's pid, which is also its process group and session id. */
pid_t
job_pid(struct job *job)
{
	return (job->pid);
}

/* The wait status, valid once the job exited. */
int
job_status(struct job *job)
{
	return (job->status);
}

/* Resource usage of the reaped process. */
const struct rusage *
job_rusage(struct job *job)
{
	return (&job->ru);
}

/* The last bytes written to stderr, for error texts. */
const char *
job_stderr_tail(struct job *job)
{
	return (job->tail);
}

/* Pause or resume reading the job's output. */
void
job_pause(struct job *job, int paused)
{
	if (job->paused == paused)
		return;
	job->paused = paused;
	if (paused) {
		if (job->out.ev != NULL)
			event_del(job->out.ev);
		if (job->err.ev != NULL)
			event_del(job->err.ev);
		return;
	}
	job_emit(&job->out, job->out.fd == -1);
	job_emit(&job->err, job->err.fd == -1);
	if (job->paused)
		return;
	if (job->out.ev != NULL)
		event_add(job->out.ev, NULL);
	if (job->err.ev != NULL)
		event_add(job->err.ev, NULL);
	job_check_done(job);
}

/* Free a job (never from inside its own callbacks). */
void
job_free(struct job *job)
{
	LIST_REMOVE(job, entry);
	if (!job->exited) {
		/* Kill it and keep reaping it, as a helper. */
		struct job_helper	*h = xcalloc(1, sizeof *h);

		kill(-job->pid, SIGKILL);
		h->pid = job->pid;
		LIST_INSERT_HEAD(&job_helpers, h, entry);
	}
	job_stream_close(&job->out);
	job_stream_close(&job->err);
	evbuffer_free(job->out.buf);
	evbuffer_free(job->err.buf);
	event_free(job->drain_ev);
	event_free(job->done_ev);
	free(job);
}

/* Run a helper command, output discarded; done gets its wait status. */
void
job_spawn_helper(char **argv, void (*done)(int, void *), void *arg)
{
	struct job_spec		 spec;
	struct job_helper	*h;
	char			*cause, *path;
	int			 rep[2];
	pid_t			 pid, parent = getpid();
	static char		*empty_env[] = { NULL };
	extern char		**environ;

	if ((path = exec_resolve(argv[0], getenv("PATH"), &cause)) == NULL) {
		log_warn("event=helper_failed argv0=%s error=\"%s\"", argv[0],
		    cause);
		free(cause);
		if (done != NULL)
			done(127 << 8, arg);
		return;
	}
	memset(&spec, 0, sizeof spec);
	spec.path = path;
	spec.argv = argv;
	spec.envp = environ != NULL ? environ : empty_env;
	if (pipe2(rep, O_CLOEXEC) != 0 || (pid = fork()) == -1) {
		log_warn("event=helper_failed argv0=%s error=\"%s\"", argv[0],
		    strerror(errno));
		free(path);
		if (done != NULL)
			done(127 << 8, arg);
		return;
	}
	if (pid == 0)
		job_child(&spec, parent, -1, -1, rep[1]);
	close(rep[1]);
	close(rep[0]);
	free(path);
	h = xcalloc(1, sizeof *h);
	h->pid = pid;
	h->done = done;
	h->arg = arg;
	LIST_INSERT_HEAD(&job_helpers, h, entry);
}

/* Register the SIGCHLD event. */
void
executor_start(void)
{
	job_sigchld_ev = evsignal_new(worker_base, SIGCHLD, job_sigchld_cb,
	    NULL);
	evsignal_add(job_sigchld_ev, NULL);
}

/* Remove the SIGCHLD event. */
void
executor_stop(void)
{
	struct job_helper	*h;

	/* Helpers still running are left to finish alone; their callbacks
	 * get JOB_ABANDONED so they free what they hold. */
	while ((h = LIST_FIRST(&job_helpers)) != NULL) {
		LIST_REMOVE(h, entry);
		if (h->done != NULL)
			h->done(JOB_ABANDONED, h->arg);
		free(h);
	}
	if (job_sigchld_ev != NULL)
		event_free(job_sigchld_ev);
	job_sigchld_ev = NULL;
}
