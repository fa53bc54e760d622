/* SPDX-License-Identifier: ISC */
/*
 * executor.c -- children of the event loop (cf. tmux job.c).
 *
 * job_run() starts a prepared spec in its own session and process group,
 * with stdout/stderr on pipes read by loop events and cut into valid UTF-8
 * chunks, and returns at once: whether the program could be executed is
 * learnt from the exec-status pipe, a loop event like any other (a report
 * arriving on it means the start failed; EOF means execve succeeded).
 * A child that shares the worker's memory (below; x86-64 so far, where
 * that has been run) needs no pipe: it writes a failure into the worker's
 * memory before it exits, the worker resumes only after its exec or exit,
 * and the outcome goes through the loop as an activated event all the
 * same.
 * SIGCHLD is a loop event that reaps with wait4() for the resource usage.
 * A job is done when its exec status is known, its process exited and its
 * pipes are drained.  Helpers (runtime kill/rm) are fire-and-forget
 * children reaped the same way.
 *
 * How a child is made.  The old worker forked and then blocked reading
 * the exec-status pipe until the child had exec'd: on a busy device that
 * is a wait for the child to be scheduled, milliseconds per task during
 * which the loop served nothing.  Now that pipe is a loop event like
 * any other.  The child is made the way posix_spawn makes its own,
 * sharing the worker's memory on a stack of its own while the worker is
 * suspended (CLONE_VM|CLONE_VFORK), but with clone3(), so that a task
 * with a cgroup is born in it (CLONE_INTO_CGROUP): moving a running
 * process into a cgroup (writing cgroup.procs) waits for an RCU grace
 * period, about 10 ms here.  The worker is suspended only while the
 * child runs its own setup, a few dozen system calls, up to execve.  A
 * fork-style child (a copy-on-write image), as before, costs more: the
 * fork copies the page tables and every page either side writes
 * afterwards is copied again; measured at full load, that was a third of
 * the worker's CPU and tasks_per_s_real a fifth lower, and on an idle
 * worker an assignment took 1.43 ms to its task_started instead of 1.16
 * (see the README's Performance table).  The child runs only system calls
 * on data the parent prepared (nothing that allocates or takes a lock):
 * reset the signal handlers, new session, parent-death signal, work dir,
 * stdio, rlimits, no_new_privs and the Landlock ruleset the parent built,
 * close every other descriptor, execve.  clone3 with a stack of its own
 * needs a few lines of assembly (job_clone3_vm, x86-64 only so far); on
 * other machines the child is a fork-style clone3, and before Linux 5.3
 * (no clone3) glibc's clone() with CLONE_VM|CLONE_VFORK, entering its
 * cgroup by writing "0" to the cgroup.procs the parent opened.
 *
 * Why not posix_spawn: glibc's covers the session, signal mask and
 * dispositions, the work dir (addchdir_np), stdio and closing descriptors
 * (addclosefrom_np), but not rlimits, the parent-death signal or the
 * Landlock ruleset, and glibc 2.36 cannot spawn into a cgroup.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "protocol.h"
#include "worker.h"

#ifndef SYS_close_range
#define SYS_close_range			436
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self	446
#endif
#ifndef SYS_clone3
#define SYS_clone3			435
#endif
#define JOB_CLONE_INTO_CGROUP		0x200000000ULL

/* clone3's arguments (linux/sched.h, version 2), defined here so older
 * headers build too. */
struct job_clone_args {
	uint64_t	flags;
	uint64_t	pidfd;
	uint64_t	child_tid;
	uint64_t	parent_tid;
	uint64_t	exit_signal;
	uint64_t	stack;
	uint64_t	stack_size;
	uint64_t	tls;
	uint64_t	set_tid;
	uint64_t	set_tid_size;
	uint64_t	cgroup;
};

#define JOB_READ_MAX	(64 * 1024)	/* bytes per read callback */
#define JOB_DRAIN_WAIT	5		/* s to wait for pipe EOF after exit */
#define JOB_TAIL_MAX	1024		/* stderr bytes kept for errors */
#define JOB_STACK_SIZE	(128 * 1024)	/* the child's stack until exec */

/* Where a child failed before or at exec, as it reports it. */
enum job_stage {
	JOB_STAGE_SETUP,	/* session, parent-death signal */
	JOB_STAGE_CGROUP,
	JOB_STAGE_CHDIR,
	JOB_STAGE_STDIO,
	JOB_STAGE_RLIMIT,
	JOB_STAGE_LANDLOCK,
	JOB_STAGE_EXEC,
};

/* What a failed child writes on the exec-status pipe, or into the
 * parent's memory (failed set) when it shares it. */
struct job_report {
	int	stage;
	int	error;
	int	failed;
};

/* The child's arguments: all prepared by the parent (borrowed). */
struct job_child_args {
	const struct job_spec	*spec;
	int			 in, out, err;	/* become 0, 1, 2 */
	int			 reportfd;	/* exec-status pipe, or -1 */
	struct job_report	*report;	/* the parent's, if shared */
	int			 cgroup_fd;	/* cgroup.procs to enter, -1 */
	pid_t			 parent;
	const cpu_set_t		*cpus;		/* to put back before exec */
};

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
	int			 started;	/* exec status known */
	int			 exited;
	int			 status;
	struct rusage		 ru;
	int			 paused;
	int			 done;		/* done callback ran */
	int			 statusfd;	/* exec-status pipe, -1 */
	struct event		*status_ev;
	struct job_report	 early;		/* the outcome, if no pipe */
	struct job_stream	 out;
	struct job_stream	 err;
	struct event		*drain_ev;	/* give up waiting for EOF */
	struct event		*done_ev;	/* deferred done callback */
	char			 tail[JOB_TAIL_MAX + 1];
	size_t			 tail_len;
	char			*path;		/* for error texts (owned) */
	const struct job_cb	*cb;		/* static */
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
static char			*job_stack;	/* mmap'd, JOB_STACK_SIZE */
static int			 job_nullfd = -1;
static int			 job_clone3 = 1;	/* 0: no clone3 here */
static pid_t			 job_self;
static uint64_t			 job_sigs;	/* bit sig-1: not SIG_DFL */
static int			 job_sigs_known;

/*
 * The kernel's struct sigaction, for the C library's two internal signals
 * (32 and 33 with glibc), which its sigaction() refuses to touch.  A
 * process started by glibc's posix_spawn (make starts its recipes that
 * way) has them ignored, and an ignored signal stays ignored across
 * execve, so without this a task would inherit that too.  The layout is
 * the same on x86-64, arm64 and 32-bit arm.
 */
#if defined(__x86_64__) || defined(__aarch64__) || defined(__arm__)
#define JOB_RAW_SIGACTION
struct job_ksigaction {
	void		(*handler)(int);
	unsigned long	  flags;
	void		(*restorer)(void);
	unsigned long	  mask[64 / (8 * sizeof(long))];
};
#endif

static void	job_check_done(struct job *);

/* Zero a spec, with no cgroup and no ruleset. */
void
job_spec_init(struct job_spec *spec)
{
	memset(spec, 0, sizeof *spec);
	spec->cgroup_fd = spec->cgroup_dirfd = spec->landlock_fd = -1;
}

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
	job_spec_init(spec);
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
		if (n > 0 && job->cb->output != NULL)
			job->cb->output(job, js->name, chunk, n, job->arg);
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
	job->cb->done(job, job->arg);
}

/* Done when its start is settled, it exited and both pipes are closed
 * and emptied. */
static void
job_check_done(struct job *job)
{
	if (!job->exited || !job->started || job->done)
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
			if (job->cb->exited != NULL)
				job->cb->exited(job, job->arg);
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
		/* Else an orphan re-parented to us (subreaper): reaped. */
	}
}

/* 1 if pid is a job or helper of ours (not an inherited orphan). */
int
executor_owns(pid_t pid)
{
	struct job		*job;
	struct job_helper	*h;

	LIST_FOREACH(job, &job_list, entry) {
		if (job->pid == pid && !job->exited)
			return (1);
	}
	LIST_FOREACH(h, &job_helpers, entry) {
		if (h->pid == pid)
			return (1);
	}
	return (0);
}

/* Close every fd from 3 up except keep (in the child: system calls only). */
static void
job_close_fds(int keep)
{
	long	fd;

	if (keep < 3)
		keep = 2;	/* nothing to keep: from 3 on */
	if ((keep <= 3 || syscall(SYS_close_range, 3, keep - 1, 0) == 0) &&
	    syscall(SYS_close_range, keep + 1, ~0U, 0) == 0)
		return;
	/* Before Linux 5.9: every descriptor we might hold. */
	for (fd = 3; fd < 4096; fd++) {
		if (fd != keep)
			syscall(SYS_close, fd);
	}
}

/* Set signal sig to SIG_DFL past the C library (no-op where the
 * kernel's layout is not known here). */
static void __attribute__((no_sanitize_address))
job_raw_default(int sig)
{
#ifdef JOB_RAW_SIGACTION
	struct job_ksigaction	ka;

	memset(&ka, 0, sizeof ka);
	ka.handler = SIG_DFL;
	syscall(SYS_rt_sigaction, sig, &ka, NULL, sizeof ka.mask);
#else
	(void)sig;
#endif
}

/* 1 if signal sig's disposition is not SIG_DFL, asked past the C
 * library; 0 if it is or cannot be asked. */
static int
job_raw_changed(int sig)
{
#ifdef JOB_RAW_SIGACTION
	struct job_ksigaction	ka;

	memset(&ka, 0, sizeof ka);
	return (syscall(SYS_rt_sigaction, sig, NULL, &ka, sizeof ka.mask) ==
	    0 && ka.handler != SIG_DFL);
#else
	(void)sig;
	return (0);
#endif
}

/* Report a failed stage to the parent and exit (in the child). */
static int __attribute__((noreturn))
job_child_fail(const struct job_child_args *a, int stage)
{
	struct job_report	r;

	r.stage = stage;
	r.error = errno;
	r.failed = 1;
	if (a->report != NULL)
		*a->report = r;		/* the worker's own memory */
	if (a->reportfd != -1 && write(a->reportfd, &r, sizeof r) < 0)
		_exit(127);
	_exit(127);
}

/*
 * The child: on its own stack sharing the worker's memory while the
 * worker is suspended (CLONE_VFORK), or, where job_clone3_vm is missing,
 * a copy-on-write image of the worker.  Either way only system calls on
 * data the parent prepared, then execve.  Signal handlers are the child's
 * own (no CLONE_SIGHAND), so resetting them does not touch the parent's;
 * only those the worker changed are reset (job_sigs_note).
 */
static int __attribute__((no_sanitize_address))
job_child_main(void *arg)
{
	const struct job_child_args	*a = arg;
	const struct job_spec		*spec = a->spec;
	struct sigaction		 sa;
	struct rlimit			 rl;
	sigset_t			 none;
	int				 sig;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG && sig <= 64; sig++) {
		if (!(job_sigs & (UINT64_C(1) << (sig - 1))))
			continue;
		if (sigaction(sig, &sa, NULL) != 0)
			job_raw_default(sig);
	}
	if (setsid() == -1)
		job_child_fail(a, JOB_STAGE_SETUP);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != a->parent)
		_exit(127);
	if (a->cgroup_fd != -1 && write(a->cgroup_fd, "0", 1) != 1)
		job_child_fail(a, JOB_STAGE_CGROUP);
	if (spec->cwd != NULL && chdir(spec->cwd) != 0)
		job_child_fail(a, JOB_STAGE_CHDIR);
	if (dup2(a->in, 0) == -1 || dup2(a->out, 1) == -1 ||
	    dup2(a->err, 2) == -1)
		job_child_fail(a, JOB_STAGE_STDIO);
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
	if (spec->rlimit_data > 0) {
		rl.rlim_cur = rl.rlim_max = spec->rlimit_data;
		if (setrlimit(RLIMIT_DATA, &rl) != 0)
			job_child_fail(a, JOB_STAGE_RLIMIT);
	}
	if (spec->landlock_fd != -1 &&
	    (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_landlock_restrict_self, spec->landlock_fd, 0) != 0))
		job_child_fail(a, JOB_STAGE_LANDLOCK);
	job_close_fds(a->reportfd);
	if (a->cpus != NULL &&
	    sched_setaffinity(0, sizeof *a->cpus, a->cpus) != 0)
		job_child_fail(a, JOB_STAGE_SETUP);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(spec->path, spec->argv, spec->envp);
	job_child_fail(a, JOB_STAGE_EXEC);
}

#if defined(__x86_64__)
#define JOB_CLONE3_VM
/*
 * clone3(ca) with CLONE_VM|CLONE_VFORK on ca's stack: the child calls
 * job_child_main(a) there and never comes back; the parent resumes once
 * the child has exec'd or exited, with the child's pid or -1 and errno.
 * A raw system call in line: the child must not return through a C
 * frame, as glibc's own clone() and vfork() make sure in assembly.  Only
 * where it has been run: qemu-user (the cross tests) has no clone3, so
 * other machines keep the fork-style child until tried on the hardware.
 */
static pid_t
job_clone3_vm(struct job_clone_args *ca, struct job_child_args *a)
{
	register long	nr __asm__("rax") = SYS_clone3;
	register long	p1 __asm__("rdi") = (long)ca;
	register long	p2 __asm__("rsi") = (long)sizeof *ca;

	__asm__ volatile(
	    "syscall\n\t"
	    "test %%rax, %%rax\n\t"
	    "jnz 1f\n\t"
	    "xor %%ebp, %%ebp\n\t"
	    "mov %[arg], %%rdi\n\t"
	    "call *%[fn]\n\t"
	    "mov $127, %%edi\n\t"
	    "mov $60, %%eax\n\t"		/* exit */
	    "syscall\n"
	    "1:"
	    : "+r" (nr)
	    : "r" (p1), "r" (p2), [fn] "r" (job_child_main), [arg] "r" (a)
	    : "rcx", "r11", "memory");
	if (nr < 0 && nr > -4096) {
		errno = (int)-nr;
		return (-1);
	}
	return ((pid_t)nr);
}
#endif

/*
 * The signals whose disposition is not the default in the worker (its
 * handlers, libevent's, the sanitizers', SIGPIPE ignored): the ones a
 * child must reset before it unblocks signals, so that no handler of the
 * worker runs in it and the task starts with default dispositions.  Read
 * once, at the first start, when every handler is in place (all are set
 * at startup): resetting all 64 in every child was 62 system calls of its
 * start, now about six.
 */
static void
job_sigs_note(void)
{
	static const int	 ours[] = { SIGCHLD, SIGPIPE, SIGTERM, SIGINT,
	    SIGHUP };
	struct sigaction	 sa;
	size_t			 i;
	int			 sig;

	job_sigs = 0;
	for (i = 0; i < sizeof ours / sizeof ours[0]; i++)
		job_sigs |= UINT64_C(1) << (ours[i] - 1);
	for (sig = 1; sig < NSIG && sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &sa) == 0 ? sa.sa_handler != SIG_DFL :
		    job_raw_changed(sig))
			job_sigs |= UINT64_C(1) << (sig - 1);
	}
	job_sigs_known = 1;
}

/*
 * Keep the next child on the worker's own CPU until it execs: the worker
 * is suspended meanwhile (CLONE_VFORK), so that CPU is free for it.  Left
 * to the scheduler, a new process goes to the idlest CPU, and waking an
 * idle CPU (on a VM, an interrupt to another virtual CPU), then the
 * worker when the child has exec'd, took 0.65 ms of the 1.05 ms from an
 * assignment to its task_started on an idle 2-core VM.  The child puts
 * the worker's own set back before execve, so the task runs wherever it
 * may.  Returns that set (in *mine), or NULL if the worker is not pinned.
 */
static const cpu_set_t *
job_pin_here(cpu_set_t *mine)
{
	cpu_set_t	one;
	int		cpu;

	if (sched_getaffinity(0, sizeof *mine, mine) != 0 ||
	    (cpu = sched_getcpu()) < 0 || CPU_COUNT(mine) < 2)
		return (NULL);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof one, &one) != 0)
		return (NULL);
	return (mine);
}

/*
 * Start spec as a child with in/out/err as its stdio; returns its pid, or
 * -1 with errno.  *reportfd is the read end of its exec-status pipe, or
 * -1 when the child shared the worker's memory: then *report already says
 * how the start went (report->failed).
 */
static pid_t
job_spawn(const struct job_spec *spec, int in, int out, int err,
    int *reportfd, struct job_report *report)
{
	struct job_child_args	a;
	cpu_set_t		mine;
	sigset_t		all, old;
	int			rep[2] = { -1, -1 }, e, shared;
	pid_t			pid;

	if (job_stack == NULL) {
		job_stack = mmap(NULL, JOB_STACK_SIZE, PROT_READ|PROT_WRITE,
		    MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0);
		if (job_stack == MAP_FAILED) {
			job_stack = NULL;
			return (-1);
		}
	}
	if (job_nullfd == -1 &&
	    (job_nullfd = open("/dev/null", O_RDWR|O_CLOEXEC)) == -1)
		return (-1);
#ifdef JOB_CLONE3_VM
	shared = 1;	/* either way below, the child shares our memory */
#else
	/* Elsewhere, a pipe: the fork-style child does not share it, and
	 * qemu-user (the cross tests) makes glibc's vfork-style clone() a
	 * fork. */
	shared = 0;
#endif
	if (!shared && pipe2(rep, O_CLOEXEC) != 0)
		return (-1);
	memset(report, 0, sizeof *report);
	if (job_self == 0)
		job_self = getpid();
	if (!job_sigs_known)
		job_sigs_note();
	a.spec = spec;
	a.in = in != -1 ? in : job_nullfd;
	a.out = out != -1 ? out : job_nullfd;
	a.err = err != -1 ? err : job_nullfd;
	a.reportfd = rep[1];
	a.report = shared ? report : NULL;
	a.cgroup_fd = spec->cgroup_fd;
	a.parent = job_self;
	a.cpus = NULL;

	/* No signal handler of ours may run in the child before it has
	 * reset them: it inherits this mask and clears it before exec. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = -1;
	if (job_clone3) {
		struct job_clone_args	ca;

		memset(&ca, 0, sizeof ca);
		ca.exit_signal = SIGCHLD;
		if (spec->cgroup_dirfd != -1) {
			ca.flags = JOB_CLONE_INTO_CGROUP;
			ca.cgroup = (uint64_t)spec->cgroup_dirfd;
			a.cgroup_fd = -1;	/* born in it */
		}
#ifdef JOB_CLONE3_VM
		a.cpus = job_pin_here(&mine);
		ca.flags |= CLONE_VM|CLONE_VFORK;
		ca.stack = (uint64_t)(uintptr_t)job_stack;
		ca.stack_size = JOB_STACK_SIZE;
		pid = job_clone3_vm(&ca, &a);
#else
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
		if (pid == 0)
			job_child_main(&a);	/* a copy: never returns */
#endif
		if (pid == -1) {
			e = errno;
			if (e == ENOSYS || e == E2BIG) {
				job_clone3 = 0;
				log_info("event=clone3_unavailable error=\"%s\" "
				    "msg=\"tasks start the posix_spawn way\"",
				    strerror(e));
			} else if (e == EINVAL && spec->cgroup_dirfd != -1) {
				/* No CLONE_INTO_CGROUP (before 5.7). */
				job_clone3 = 0;
				log_info("event=clone3_unavailable error=\"%s\" "
				    "msg=\"tasks enter their cgroup after "
				    "starting\"", strerror(e));
			}
			a.cgroup_fd = spec->cgroup_fd;
		}
	}
	if (pid == -1) {
		if (a.cpus == NULL)
			a.cpus = job_pin_here(&mine);
		pid = clone(job_child_main, job_stack + JOB_STACK_SIZE,
		    CLONE_VM|CLONE_VFORK|SIGCHLD, &a);
	}
	e = errno;
	if (a.cpus != NULL && sched_setaffinity(0, sizeof mine, &mine) != 0)
		log_warn("event=affinity_failed error=\"%s\" msg=\"the worker "
		    "stays on one CPU\"", strerror(errno));
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (rep[1] != -1)
		close(rep[1]);
	if (pid == -1) {
		if (rep[0] != -1)
			close(rep[0]);
		errno = e;
		return (-1);
	}
	*reportfd = rep[0];
	return (pid);
}

/* The text of a child's report, for the start error (caller frees). */
static char *
job_report_text(const struct job *job, const struct job_report *r)
{
	char	*s;

	switch (r->stage) {
	case JOB_STAGE_CGROUP:
		xasprintf(&s, "cannot enter the task's cgroup: %s",
		    strerror(r->error));
		break;
	case JOB_STAGE_CHDIR:
		xasprintf(&s, "cannot enter the work directory: %s",
		    strerror(r->error));
		break;
	case JOB_STAGE_RLIMIT:
		xasprintf(&s, "cannot set the memory limit: %s",
		    strerror(r->error));
		break;
	case JOB_STAGE_LANDLOCK:
		xasprintf(&s, "cannot enforce the Landlock ruleset: %s",
		    strerror(r->error));
		break;
	case JOB_STAGE_EXEC:
		xasprintf(&s, "cannot run %s: %s", job->path,
		    strerror(r->error));
		break;
	default:
		xasprintf(&s, "cannot start the process: %s",
		    strerror(r->error));
		break;
	}
	return (s);
}

/* The exec-status pipe: a report is a failed start, EOF a started one.
 * Without a pipe, the report the child left in job->early. */
static void
job_status_cb(evutil_socket_t fd, short events, void *arg)
{
	struct job		*job = arg;
	struct job_report	 r;
	char			*error = NULL;
	ssize_t			 n;

	if (job->statusfd == -1) {
		r = job->early;
		n = r.failed ? (ssize_t)sizeof r : 0;
	} else if ((n = read(fd, &r, sizeof r)) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return;
	if (n == (ssize_t)sizeof r)
		error = job_report_text(job, &r);
	else if (n > 0) {
		r.stage = JOB_STAGE_SETUP;
		r.error = EIO;
		error = job_report_text(job, &r);
	}
	event_free(job->status_ev);
	job->status_ev = NULL;
	if (job->statusfd != -1)
		close(job->statusfd);
	job->statusfd = -1;
	job->started = 1;
	if (job->cb->started != NULL)
		job->cb->started(job, error, job->arg);
	free(error);
	job_check_done(job);
}

/* Start spec in a new session with output pipes; see worker.h. */
struct job *
job_run(const struct job_spec *spec, const struct job_cb *cb, void *arg,
    char **cause)
{
	struct job		*job;
	struct job_report	 early;
	int			 outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int			 repfd;
	pid_t			 pid;

	if (spec->capture && (pipe2(outp, O_CLOEXEC) != 0 ||
	    pipe2(errp, O_CLOEXEC) != 0)) {
		xasprintf(cause, "cannot create pipes: %s", strerror(errno));
		goto fail;
	}
	pid = job_spawn(spec, -1, outp[1], errp[1], &repfd, &early);
	if (pid == -1) {
		xasprintf(cause, "cannot start a process: %s",
		    strerror(errno));
		goto fail;
	}

	job = xcalloc(1, sizeof *job);
	job->pid = pid;
	job->cb = cb;
	job->arg = arg;
	job->path = xstrdup(spec->path);
	/* The pipes stay blocking: they are read only when readable. */
	job->statusfd = repfd;
	if (repfd != -1) {
		job->status_ev = event_new(worker_base, repfd,
		    EV_READ|EV_PERSIST, job_status_cb, job);
		event_add(job->status_ev, NULL);
	} else {
		/* Known already; told from the loop all the same. */
		job->early = early;
		job->status_ev = event_new(worker_base, -1, 0, job_status_cb,
		    job);
		event_active(job->status_ev, EV_READ, 1);
	}
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
	if (job->status_ev != NULL)
		event_free(job->status_ev);
	if (job->statusfd != -1)
		close(job->statusfd);
	job_stream_close(&job->out);
	job_stream_close(&job->err);
	evbuffer_free(job->out.buf);
	evbuffer_free(job->err.buf);
	event_free(job->drain_ev);
	event_free(job->done_ev);
	free(job->path);
	free(job);
}

/* Run a helper command, output discarded; done gets its wait status. */
void
job_spawn_helper(char **argv, void (*done)(int, void *), void *arg)
{
	struct job_spec		 spec;
	struct job_helper	*h;
	struct job_report	 r;
	char			*cause, *path;
	int			 repfd;
	pid_t			 pid;
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
	job_spec_init(&spec);
	spec.path = path;
	spec.argv = argv;
	spec.envp = environ != NULL ? environ : empty_env;
	if ((pid = job_spawn(&spec, -1, -1, -1, &repfd, &r)) == -1) {
		log_warn("event=helper_failed argv0=%s error=\"%s\"", argv[0],
		    strerror(errno));
		free(path);
		if (done != NULL)
			done(127 << 8, arg);
		return;
	}
	if (repfd != -1)
		close(repfd);	/* a failed exec shows as exit status 127 */
	free(path);
	h = xcalloc(1, sizeof *h);
	h->pid = pid;
	h->done = done;
	h->arg = arg;
	LIST_INSERT_HEAD(&job_helpers, h, entry);
}

/* Run argv and wait for it, at most timeout seconds (startup and
 * shutdown only: the loop does not run meanwhile).  Its stdout goes to
 * *out (caller frees; up to 1 MiB) when out is not NULL, else nowhere.
 * Returns the wait status, or -1 if it could not run or was killed. */
int
job_run_sync(char **argv, int timeout, char **out)
{
	struct timespec		 ts = { 0, 10 * 1000 * 1000 };
	struct job_spec		 spec;
	struct job_report	 rep;
	struct evbuffer		*buf = NULL;
	char			*path, *cause;
	pid_t			 pid, r;
	int			 status = -1, repfd, i, p[2] = { -1, -1 };
	int			 eof = 0;
	extern char		**environ;

	if (out != NULL)
		*out = NULL;
	if ((path = exec_resolve(argv[0], getenv("PATH"), &cause)) == NULL) {
		log_warn("event=helper_failed argv0=%s error=\"%s\"", argv[0],
		    cause);
		free(cause);
		return (-1);
	}
	job_spec_init(&spec);
	spec.path = path;
	spec.argv = argv;
	spec.envp = environ;
	if (out != NULL && pipe2(p, O_CLOEXEC) != 0) {
		free(path);
		return (-1);
	}
	if (p[0] != -1)
		evutil_make_socket_nonblocking(p[0]);	/* our end only */
	pid = job_spawn(&spec, -1, p[1], -1, &repfd, &rep);
	free(path);
	if (p[1] != -1)
		close(p[1]);
	if (pid == -1) {
		if (p[0] != -1)
			close(p[0]);
		return (-1);
	}
	if (repfd != -1)
		close(repfd);	/* a failed exec shows as exit status 127 */
	if (out != NULL)
		buf = evbuffer_new();
	for (i = 0; i < timeout * 100; i++) {
		while (buf != NULL && !eof &&
		    evbuffer_get_length(buf) < 1024 * 1024) {
			int n = evbuffer_read(buf, p[0], 65536);

			if (n == 0)
				eof = 1;
			if (n <= 0)
				break;
		}
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid && (buf == NULL || eof))
			goto done;
		if (r == pid) {
			/* Exited: take what is left in the pipe. */
			while (evbuffer_read(buf, p[0], 65536) > 0 &&
			    evbuffer_get_length(buf) < 1024 * 1024)
				;
			goto done;
		}
		if (r == -1 && errno != EINTR) {
			status = -1;
			goto done;
		}
		nanosleep(&ts, NULL);
	}
	log_warn("event=helper_timeout argv0=%s timeout_s=%d", argv[0],
	    timeout);
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
	status = -1;
done:
	if (buf != NULL) {
		if (out != NULL && status != -1) {
			evbuffer_add(buf, "", 1);
			*out = xstrdup((char *)evbuffer_pullup(buf, -1));
		}
		evbuffer_free(buf);
	}
	if (p[0] != -1)
		close(p[0]);
	return (status);
}

/* Register the SIGCHLD event. */
void
executor_start(void)
{
	job_sigchld_ev = evsignal_new(worker_base, SIGCHLD, job_sigchld_cb,
	    NULL);
	evsignal_add(job_sigchld_ev, NULL);
}

/* Remove the SIGCHLD event; free what helpers still hold. */
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
	if (job_stack != NULL)
		munmap(job_stack, JOB_STACK_SIZE);
	job_stack = NULL;
	if (job_nullfd != -1)
		close(job_nullfd);
	job_nullfd = -1;
}
