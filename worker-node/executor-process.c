/* SPDX-License-Identifier: ISC */
/*
 * executor-process.c -- a `command` task as a plain sandboxed process: the
 * executable is found on PATH by the worker itself (no shell unless argv
 * names one), and runs in a fresh working directory, in its own session,
 * with the task's environment plus a few defaults (HOME and TMPDIR: the
 * work dir; ENCORE_TASK_ID, ENCORE_ATTEMPT, ENCORE_WORK_DIR), no core
 * dumps, and limits.memory_mb as RLIMIT_DATA where no cgroup takes it
 * (sandbox.c).  The timeout is wall time, kept by task.c; there is no
 * CPU-time rlimit, which would cut a multithreaded task short.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"
#include "worker.h"

#define EXEC_DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* 1 if path is an executable regular file. */
static int
exec_is_executable(const char *path)
{
	struct stat	st;

	return (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path, X_OK) == 0);
}

/* Search PATH for argv0 (see worker.h). */
char *
exec_resolve(const char *argv0, const char *pathenv, char **cause)
{
	const char	*p, *end;
	char		*cand;
	size_t		 len;

	if (argv0 == NULL || *argv0 == '\0') {
		*cause = xstrdup("empty command");
		return (NULL);
	}
	if (strchr(argv0, '/') != NULL) {
		if (*argv0 == '/' && !exec_is_executable(argv0)) {
			xasprintf(cause, "cannot run %s: %s", argv0,
			    access(argv0, F_OK) == 0 ? "not an executable file"
			    : strerror(errno));
			return (NULL);
		}
		return (xstrdup(argv0));	/* relative: from the work dir */
	}
	if (pathenv == NULL || *pathenv == '\0')
		pathenv = EXEC_DEFAULT_PATH;
	for (p = pathenv; *p != '\0'; p = *end == ':' ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		if (len == 0 || *p != '/')
			continue;	/* never search relative entries */
		xasprintf(&cand, "%.*s/%s", (int)len, p, argv0);
		if (exec_is_executable(cand))
			return (cand);
		free(cand);
	}
	xasprintf(cause, "command not found: %s (searched PATH=%s)", argv0,
	    pathenv);
	return (NULL);
}

/* Value of key in the task's env, or NULL. */
static const char *
exec_task_env(const struct proto_task *t, const char *key)
{
	size_t	i;

	for (i = 0; i < t->n_env; i++) {
		if (strcmp(t->env[i].key, key) == 0)
			return (t->env[i].value);
	}
	return (NULL);
}

/* Build the environment: the task's pairs, then defaults not given. */
static char **
exec_build_env(const struct proto_task *t, const char *workdir)
{
	char		**envp;
	const char	*path;
	size_t		  n = 0, i;

	envp = xcalloc(t->n_env + 8, sizeof *envp);
	for (i = 0; i < t->n_env; i++) {
		if (*t->env[i].key == '\0' || strchr(t->env[i].key, '=') !=
		    NULL || strcmp(t->env[i].key, "ENCORE_WORK_DIR") == 0)
			continue;
		xasprintf(&envp[n++], "%s=%s", t->env[i].key,
		    t->env[i].value != NULL ? t->env[i].value : "");
	}
	if (exec_task_env(t, "PATH") == NULL) {
		path = getenv("PATH");
		xasprintf(&envp[n++], "PATH=%s", path != NULL && *path != '\0' ?
		    path : EXEC_DEFAULT_PATH);
	}
	if (exec_task_env(t, "HOME") == NULL)
		xasprintf(&envp[n++], "HOME=%s", workdir);
	if (exec_task_env(t, "TMPDIR") == NULL)
		xasprintf(&envp[n++], "TMPDIR=%s", workdir);
	/* Always ours: it tells the task's processes apart (sandbox.c). */
	xasprintf(&envp[n++], "ENCORE_WORK_DIR=%s", workdir);
	if (exec_task_env(t, "LANG") == NULL)
		envp[n++] = xstrdup("LANG=C.UTF-8");
	if (exec_task_env(t, "ENCORE_TASK_ID") == NULL)
		xasprintf(&envp[n++], "ENCORE_TASK_ID=%s", t->task_id);
	if (exec_task_env(t, "ENCORE_ATTEMPT") == NULL)
		xasprintf(&envp[n++], "ENCORE_ATTEMPT=%d", t->attempt);
	envp[n] = NULL;
	return (envp);
}

/* Prepare the spec of a command task; the work dir must exist. */
int
exec_process_spec(const struct proto_task *t, const char *workdir,
    struct job_spec *spec, char **cause)
{
	const char	*pathenv;
	size_t		 i;

	job_spec_init(spec);
	if (t->argc == 0 || t->argv == NULL) {
		*cause = xstrdup("the task has no command");
		return (-1);
	}
	if ((pathenv = exec_task_env(t, "PATH")) == NULL)
		pathenv = getenv("PATH");
	if ((spec->path = exec_resolve(t->argv[0], pathenv, cause)) == NULL)
		return (-1);
	spec->argv = xcalloc(t->argc + 1, sizeof *spec->argv);
	for (i = 0; i < t->argc; i++)
		spec->argv[i] = xstrdup(t->argv[i]);
	spec->envp = exec_build_env(t, workdir);
	spec->cwd = xstrdup(workdir);
	spec->capture = 1;
	if (t->memory_mb > 0 && !sandbox_has_memory_cgroup())
		spec->rlimit_data = (rlim_t)t->memory_mb * 1024 * 1024;
	return (0);
}
