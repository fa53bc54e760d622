/* SPDX-License-Identifier: ISC */
/*
 * executor-container.c -- a `container` task through podman or docker,
 * never through a shell: `RUNTIME run --rm --name NAME --network=none
 * --read-only --cap-drop=ALL --security-opt=no-new-privileges --memory Mm
 * --cpus C --pids-limit P [--env K=V]... IMAGE ARGV...` runs as a job like
 * any command.  Stopping one is `RUNTIME kill NAME` then `RUNTIME rm -f
 * NAME`, run as helpers so the loop never waits.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "worker.h"

#define EXEC_PIDS_DEFAULT	256
#define EXEC_SYNC_WAIT		20	/* s per synchronous runtime call */

extern char **environ;

/* A kill-then-remove in flight: owned strings for the helper callback. */
struct exec_stop {
	char	*runtime;
	char	*name;
};

/* The container name of a task attempt: encore-<task_id>-<attempt>, with
 * characters a runtime refuses replaced by '_'. */
char *
exec_container_name(const char *task_id, int attempt, char *buf,
    size_t size)
{
	char	*p;

	snprintf(buf, size, "encore-%s-%d", task_id, attempt);
	for (p = buf; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' &&
		    *p != '-')
			*p = '_';
	}
	return (buf);
}

/* Append one argument to a growing argv. */
static void
exec_push(char ***argv, size_t *n, size_t *cap, char *arg)
{
	if (*n + 2 > *cap) {
		*cap = *cap == 0 ? 32 : *cap * 2;
		*argv = xreallocarray(*argv, *cap, sizeof **argv);
	}
	(*argv)[(*n)++] = arg;
	(*argv)[*n] = NULL;
}

/* Copy our environment (the runtime needs HOME, XDG_RUNTIME_DIR...). */
static char **
exec_copy_environ(void)
{
	char	**envp;
	size_t	  n = 0, i;

	while (environ != NULL && environ[n] != NULL)
		n++;
	envp = xcalloc(n + 1, sizeof *envp);
	for (i = 0; i < n; i++)
		envp[i] = xstrdup(environ[i]);
	return (envp);
}

/* Prepare the spec of a container task. */
int
exec_container_spec(const struct proto_task *t, const char *workdir,
    const char *name, struct job_spec *spec, char **cause)
{
	char	**argv = NULL, *s;
	size_t	  n = 0, cap = 0, i;

	memset(spec, 0, sizeof *spec);
	if (wconf.runtime == NULL) {
		*cause = xstrdup("no container runtime on this device (start "
		    "the worker with --runtime podman or docker)");
		return (-1);
	}
	if (t->image == NULL || *t->image == '\0' || *t->image == '-') {
		*cause = xstrdup("bad image name");
		return (-1);
	}
	if ((spec->path = exec_resolve(wconf.runtime, getenv("PATH"),
	    cause)) == NULL)
		return (-1);
	exec_push(&argv, &n, &cap, xstrdup(wconf.runtime));
	exec_push(&argv, &n, &cap, xstrdup("run"));
	exec_push(&argv, &n, &cap, xstrdup("--rm"));
	exec_push(&argv, &n, &cap, xstrdup("--name"));
	exec_push(&argv, &n, &cap, xstrdup(name));
	exec_push(&argv, &n, &cap, xstrdup("--network=none"));
	exec_push(&argv, &n, &cap, xstrdup("--read-only"));
	exec_push(&argv, &n, &cap, xstrdup("--cap-drop=ALL"));
	exec_push(&argv, &n, &cap, xstrdup("--security-opt=no-new-privileges"));
	if (t->memory_mb > 0) {
		exec_push(&argv, &n, &cap, xstrdup("--memory"));
		xasprintf(&s, "%dm", t->memory_mb);
		exec_push(&argv, &n, &cap, s);
	}
	if (t->cpus > 0) {
		exec_push(&argv, &n, &cap, xstrdup("--cpus"));
		xasprintf(&s, "%g", t->cpus);
		exec_push(&argv, &n, &cap, s);
	}
	exec_push(&argv, &n, &cap, xstrdup("--pids-limit"));
	xasprintf(&s, "%d", t->pids > 0 ? t->pids : EXEC_PIDS_DEFAULT);
	exec_push(&argv, &n, &cap, s);
	for (i = 0; i < t->n_env; i++) {
		if (*t->env[i].key == '\0' || strchr(t->env[i].key, '=') !=
		    NULL)
			continue;
		exec_push(&argv, &n, &cap, xstrdup("--env"));
		xasprintf(&s, "%s=%s", t->env[i].key,
		    t->env[i].value != NULL ? t->env[i].value : "");
		exec_push(&argv, &n, &cap, s);
	}
	exec_push(&argv, &n, &cap, xstrdup(t->image));
	for (i = 0; i < t->argc; i++)
		exec_push(&argv, &n, &cap, xstrdup(t->argv[i]));
	spec->argv = argv;
	spec->envp = exec_copy_environ();
	spec->cwd = xstrdup(workdir);
	spec->capture = 1;
	return (0);
}

/* Free a kill-then-remove request. */
static void
exec_stop_free(struct exec_stop *st)
{
	free(st->runtime);
	free(st->name);
	free(st);
}

/* `rm -f` finished: free the request. */
static void
exec_stop_rm_done(int status, void *arg)
{
	struct exec_stop	*st = arg;

	if (status == JOB_ABANDONED) {
		exec_stop_free(st);
		return;
	}
	log_debug("event=container_removed name=%s status=%d", st->name,
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	exec_stop_free(st);
}

/* `kill` finished: now `rm -f`. */
static void
exec_stop_kill_done(int status, void *arg)
{
	struct exec_stop	*st = arg;
	char			*argv[] = { st->runtime, (char *)"rm",
				    (char *)"-f", st->name, NULL };

	if (status == JOB_ABANDONED) {
		exec_stop_free(st);
		return;
	}
	job_spawn_helper(argv, exec_stop_rm_done, st);
}

/* Stop a task's container: `kill` then `rm -f`, asynchronously. */
void
exec_container_kill(const char *runtime, const char *name)
{
	struct exec_stop	*st;
	char			*argv[5];

	st = xcalloc(1, sizeof *st);
	st->runtime = xstrdup(runtime);
	st->name = xstrdup(name);
	argv[0] = st->runtime;
	argv[1] = (char *)"kill";
	argv[2] = st->name;
	argv[3] = NULL;
	log_info("event=container_kill name=%s", name);
	job_spawn_helper(argv, exec_stop_kill_done, st);
}

/* Run argv and wait for it, at most EXEC_SYNC_WAIT seconds. */
static void
exec_run_sync(char **argv)
{
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	char		*path, *cause;
	pid_t		 pid, r;
	int		 status, i, fd;

	if ((path = exec_resolve(argv[0], getenv("PATH"), &cause)) == NULL) {
		log_warn("event=runtime_missing error=\"%s\"", cause);
		free(cause);
		return;
	}
	if ((pid = fork()) == -1) {
		free(path);
		return;
	}
	if (pid == 0) {
		setsid();
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		signal(SIGPIPE, SIG_DFL);
		execve(path, argv, environ);
		_exit(127);
	}
	free(path);
	for (i = 0; i < EXEC_SYNC_WAIT * 20; i++) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r == -1 && errno != EINTR))
			return;
		nanosleep(&ts, NULL);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* Kill and remove a container, waiting (startup and shutdown only). */
void
exec_container_remove_sync(const char *runtime, const char *name)
{
	char	*argv[5];

	argv[0] = (char *)runtime;
	argv[1] = (char *)"kill";
	argv[2] = (char *)name;
	argv[3] = NULL;
	exec_run_sync(argv);
	argv[1] = (char *)"rm";
	argv[2] = (char *)"-f";
	argv[3] = (char *)name;
	argv[4] = NULL;
	exec_run_sync(argv);
	log_info("event=container_removed name=%s", name);
}
