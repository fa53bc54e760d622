/* SPDX-License-Identifier: ISC */
/*
 * prof-runtime.c -- finding a usable container runtime.  Being on PATH is
 * not enough (podman without its storage set up, docker without a
 * daemon), so the runtime is asked `info`; one that does not answer within
 * the time limit is killed and counts as unusable.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "profiler.h"
#include "prof-parse.h"

/* How long `RUNTIME info` may take. */
#define RUNTIME_TIMEOUT_MS	10000

/* Full path of an executable name found on PATH; NULL if none. */
static char *
runtime_which(const char *name)
{
	struct stat	 st;
	const char	*path, *p, *end;
	char		*full;
	size_t		 len;

	if ((path = getenv("PATH")) == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		len = end - p;
		if (len == 0)
			xasprintf(&full, "./%s", name);
		else
			xasprintf(&full, "%.*s/%s", (int)len, p, name);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(full, X_OK) == 0)
			return (full);
		free(full);
		if (*end == '\0')
			break;
	}
	return (NULL);
}

/* Milliseconds on the monotonic clock. */
static long long
runtime_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Run `path info` with all output to /dev/null, in its own process group
 * so a hung runtime and its helpers can all be killed.  1 if it exited 0
 * within timeout_ms.
 */
static int
runtime_probe(const char *path, int timeout_ms)
{
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	long long	 deadline;
	pid_t		 pid, r;
	int		 status, fd;

	switch (pid = fork()) {
	case -1:
		log_warn("event=runtime_probe path=%s error=\"fork: %s\"",
		    path, strerror(errno));
		return (0);
	case 0:
		setpgid(0, 0);
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
		execl(path, path, "info", (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);	/* either side may win the race */

	deadline = runtime_now_ms() + timeout_ms;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r == -1 && errno != EINTR) {
			/* Someone else reaped it (SIGCHLD ignored?). */
			log_warn("event=runtime_probe path=%s error=\"waitpid:"
			    " %s\"", path, strerror(errno));
			return (0);
		}
		if (runtime_now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 &&
			    errno == EINTR)
				;
			log_info("event=runtime_unusable path=%s "
			    "reason=timeout timeout_ms=%d", path, timeout_ms);
			return (0);
		}
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return (1);
	log_info("event=runtime_unusable path=%s reason=\"info failed\" "
	    "status=%d", path, WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status));
	return (0);
}

/* Is runtime name on PATH and answering `info` in time? */
static int
runtime_usable(const char *name, int timeout_ms)
{
	char	*path;
	int	 ok;

	if ((path = runtime_which(name)) == NULL) {
		log_debug("event=runtime_missing runtime=%s", name);
		return (0);
	}
	ok = runtime_probe(path, timeout_ms);
	free(path);
	return (ok);
}

/* prof_runtime_detect() with the probe time limit in milliseconds. */
const char *
prof_runtime_detect_timeout(const char *want, int timeout_ms)
{
	if (want == NULL || strcmp(want, "auto") == 0) {
		if (runtime_usable("podman", timeout_ms))
			return ("podman");
		if (runtime_usable("docker", timeout_ms))
			return ("docker");
		return (NULL);
	}
	if (strcmp(want, "none") == 0)
		return (NULL);
	if (strcmp(want, "podman") == 0)
		return (runtime_usable("podman", timeout_ms) ? "podman" : NULL);
	if (strcmp(want, "docker") == 0)
		return (runtime_usable("docker", timeout_ms) ? "docker" : NULL);
	log_warn("event=runtime_unknown runtime=%s", want);
	return (NULL);
}

/*
 * Find a usable container runtime: "podman", "docker" or NULL.  Call it
 * before installing a SIGCHLD handler that reaps every child.
 */
const char *
prof_runtime_detect(const char *want)
{
	return (prof_runtime_detect_timeout(want, RUNTIME_TIMEOUT_MS));
}
