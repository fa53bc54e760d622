/* SPDX-License-Identifier: ISC */
/*
 * executor-container.c -- a `container` task through podman or docker,
 * never through a shell: `RUNTIME run --rm --name NAME --network=none
 * --read-only --cap-drop=ALL --security-opt=no-new-privileges --volume
 * WORKDIR:/work:rw --workdir /work --memory Mm --cpus C --pids-limit P
 * [--env K=V]... IMAGE ARGV...` runs as a job like any command: the
 * task's working directory (its input files, its outputs) is /work, its
 * cwd and the one place it may write besides what the image makes
 * writable.  Stopping one is `RUNTIME kill NAME` then `RUNTIME rm -f
 * NAME`, run as helpers so the loop never waits; the device's policy
 * suspends one with `RUNTIME pause NAME` and resumes it with `unpause`.
 *
 * NAME is encore-TAG-TASK-ATTEMPT, TAG being this worker's (its device id
 * and a hash of its state dir, sandbox.c), so two workers on one host (two
 * clusters, two test runs) never share a name, and a worker that starts
 * removes the containers an earlier run of itself left, and only those:
 * each with `rm -f`, then any conmon still running for such a name, with
 * the processes under it (a `runc init` waiting for a start that never
 * comes), which `rm -f` does not reach when the runtime's own state was
 * lost with the killed `RUNTIME run`.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
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
#define EXEC_SYNC_WAIT		60	/* s per synchronous runtime call */

extern char **environ;

/* A kill-then-remove in flight: owned strings for the helper callback. */
struct exec_stop {
	char	*runtime;
	char	*name;
};

/* The name prefix of this worker's containers: encore-TAG- (static). */
static const char *
exec_container_prefix(void)
{
	static char	prefix[96];

	if (*prefix == '\0')
		snprintf(prefix, sizeof prefix, "encore-%s-",
		    sandbox_worker_tag());
	return (prefix);
}

/* The container name of a task attempt: encore-TAG-TASK_ID-ATTEMPT, with
 * characters a runtime refuses replaced by '_'. */
char *
exec_container_name(const char *task_id, int attempt, char *buf,
    size_t size)
{
	char	*p;

	snprintf(buf, size, "%s%s-%d", exec_container_prefix(), task_id,
	    attempt);
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

/* Free a NULL-terminated argv. */
static void
exec_free_argv(char **argv)
{
	size_t	i;

	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
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

	job_spec_init(spec);
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
	/* The working directory, with the task's files, is /work: read-write
	 * and the cwd, while the rest stays read-only. */
	if (strchr(workdir, ':') == NULL) {
		exec_push(&argv, &n, &cap, xstrdup("--volume"));
		xasprintf(&s, "%s:/work:rw", workdir);
	} else if (strchr(workdir, ',') == NULL) {
		exec_push(&argv, &n, &cap, xstrdup("--mount"));
		xasprintf(&s, "type=bind,source=%s,destination=/work", workdir);
	} else {
		exec_free_argv(argv);
		xasprintf(cause, "the working directory %s has both ':' and "
		    "',' in its path, which %s cannot mount: give the worker "
		    "another --state-dir", workdir, wconf.runtime);
		return (-1);
	}
	exec_push(&argv, &n, &cap, s);
	exec_push(&argv, &n, &cap, xstrdup("--workdir"));
	exec_push(&argv, &n, &cap, xstrdup("/work"));
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

/* `RUNTIME pause NAME` or `unpause`, asynchronously (the device's
 * policy suspends or resumes the task). */
void
exec_container_pause(const char *runtime, const char *name, int pause,
    void (*done)(int, void *), void *arg)
{
	char	*argv[4];

	argv[0] = (char *)runtime;
	argv[1] = (char *)(pause ? "pause" : "unpause");
	argv[2] = (char *)name;
	argv[3] = NULL;
	log_debug("event=container_%s name=%s", argv[1], name);
	job_spawn_helper(argv, done, arg);
}

/* Kill and remove a container, waiting (startup and shutdown only). */
void
exec_container_remove_sync(const char *runtime, const char *name)
{
	char	*argv[7];
	int	 n = 0;

	argv[n++] = (char *)runtime;
	argv[n++] = (char *)"rm";
	argv[n++] = (char *)"-f";
	if (strcmp(runtime, "podman") == 0) {
		argv[n++] = (char *)"-t";	/* no grace: kill at once */
		argv[n++] = (char *)"0";
	}
	argv[n++] = (char *)name;
	argv[n] = NULL;
	job_run_sync(argv, EXEC_SYNC_WAIT, NULL);
	log_info("event=container_removed name=%s", name);
}

/* The value of conmon's -n (container name) in a NUL-separated cmdline;
 * NULL when absent. */
static const char *
exec_conmon_name(const char *cmd, size_t len)
{
	const char	*p, *end = cmd + len;

	for (p = cmd; p < end; p += strlen(p) + 1) {
		if ((strcmp(p, "-n") == 0 || strcmp(p, "--name") == 0) &&
		    p + strlen(p) + 1 < end)
			return (p + strlen(p) + 1);
	}
	return (NULL);
}

/* Kill every conmon (and what runs under it) of a container named with
 * our prefix; returns how many conmons. */
static int
exec_conmon_kill(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[64], cmd[8192], comm[64];
	const char	*name, *prefix = exec_container_prefix();
	pid_t		 roots[64];
	size_t		 n = 0;
	ssize_t		 len;
	long		 pid;
	char		*end;
	int		 fd;

	if ((d = opendir("/proc")) == NULL)
		return (0);
	while (n < sizeof roots / sizeof roots[0] &&
	    (de = readdir(d)) != NULL) {
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 1)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/comm", pid);
		if ((fd = open(path, O_RDONLY|O_CLOEXEC)) == -1)
			continue;
		len = read(fd, comm, sizeof comm - 1);
		close(fd);
		if (len <= 0 || strncmp(comm, "conmon\n", 7) != 0)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
		if ((fd = open(path, O_RDONLY|O_CLOEXEC)) == -1)
			continue;
		len = read(fd, cmd, sizeof cmd - 1);
		close(fd);
		if (len <= 0)
			continue;
		cmd[len] = '\0';
		name = exec_conmon_name(cmd, (size_t)len);
		if (name != NULL && strncmp(name, prefix, strlen(prefix)) == 0)
			roots[n++] = (pid_t)pid;
	}
	closedir(d);
	if (n > 0)
		sandbox_kill_trees(roots, n);
	return ((int)n);
}

/*
 * Startup: remove every container an earlier run of this worker left
 * (named with its prefix), then any conmon still running for one.  The
 * markers name the containers of tasks that ran; this also catches one
 * created while the worker died.
 */
void
exec_container_cleanup(const char *runtime)
{
	char	*argv[9], *out = NULL, *line, *save, filter[160];
	int	 n = 0, conmons;

	snprintf(filter, sizeof filter, "name=^%s", exec_container_prefix());
	argv[n++] = (char *)runtime;
	argv[n++] = (char *)"ps";
	argv[n++] = (char *)"-a";
	argv[n++] = (char *)"--format";
	argv[n++] = (char *)"{{.Names}}";
	argv[n++] = (char *)"--filter";
	argv[n++] = filter;
	argv[n] = NULL;
	if (job_run_sync(argv, EXEC_SYNC_WAIT, &out) == 0 && out != NULL) {
		for (line = strtok_r(out, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, exec_container_prefix(),
			    strlen(exec_container_prefix())) == 0)
				exec_container_remove_sync(runtime, line);
		}
	}
	free(out);
	if ((conmons = exec_conmon_kill()) > 0)
		log_info("event=leftovers_killed conmon=%d msg=\"container "
		    "monitors of an earlier run\"", conmons);
}
