/* SPDX-License-Identifier: ISC */
/*
 * runtime.c -- small helpers every program needs the same way: the
 * monotonic clock, creating a directory and its parents, reading a secret
 * from a file, and the default state directory.  One copy here, so the
 * main node, the worker and the clients agree (for example on what the
 * state dir is when HOME is unset).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"

/* Seconds on the monotonic clock (never jumps with the wall clock). */
double
proto_now_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Wall-clock seconds with a fraction. */
double
proto_now_wall(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/*
 * mkdir -p: parents get 0755, the last component gets mode (an existing
 * directory keeps its mode).  Returns 0, or -1 with errno set.
 */
int
proto_mkdirs(const char *path, mode_t mode)
{
	char	*p, *copy;
	int	 saved;

	if (path == NULL || *path == '\0') {
		errno = EINVAL;
		return (-1);
	}
	copy = xstrdup(path);
	for (p = copy + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
			saved = errno;
			free(copy);
			errno = saved;
			return (-1);
		}
		*p = '/';
	}
	free(copy);
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return (-1);
	return (0);
}

/*
 * Read a secret (a token or key) from the first line of a file: surrounding
 * blanks and the line end are dropped.  Returns a heap string, or NULL with
 * *cause (caller frees) naming the file and what is wrong.  The secret
 * itself never appears in *cause.
 */
char *
proto_read_secret(const char *path, char **cause)
{
	char	 buf[PROTO_TOKEN_MAX + 2], *s, *e;
	ssize_t	 n;
	size_t	 got = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		xasprintf(cause, "cannot read %s: %s", path, strerror(errno));
		return (NULL);
	}
	while (got < sizeof buf - 1) {
		n = read(fd, buf + got, sizeof buf - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			xasprintf(cause, "cannot read %s: %s", path,
			    strerror(errno));
			close(fd);
			return (NULL);
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	for (s = buf; *s == ' ' || *s == '\t'; s++)
		;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	if (*s == '\0') {
		xasprintf(cause, "%s is empty: it should hold one token", path);
		return (NULL);
	}
	if (strlen(s) > PROTO_TOKEN_MAX) {
		xasprintf(cause, "%s holds more than %d bytes on its first "
		    "line: is it the right file?", path, PROTO_TOKEN_MAX);
		return (NULL);
	}
	return (xstrdup(s));
}

/*
 * The default state directory of a program: /var/lib/NAME for root, else
 * $XDG_STATE_HOME/NAME, else ~/.local/state/NAME with ~ from $HOME or, when
 * HOME is unset, from the password database; "./.NAME" as a last resort.
 * root_dir overrides the path used for root (the worker keeps its state
 * under /var/lib/encore/worker).  Caller frees.
 */
char *
proto_default_state_dir(const char *name, const char *root_dir)
{
	const char	*xdg = getenv("XDG_STATE_HOME");
	const char	*home = getenv("HOME");
	struct passwd	*pw;
	char		*dir;

	if (geteuid() == 0) {
		if (root_dir != NULL)
			return (xstrdup(root_dir));
		xasprintf(&dir, "/var/lib/%s", name);
		return (dir);
	}
	if (xdg != NULL && *xdg == '/') {
		xasprintf(&dir, "%s/%s", xdg, name);
		return (dir);
	}
	if ((home == NULL || *home != '/') &&
	    (pw = getpwuid(geteuid())) != NULL && pw->pw_dir != NULL &&
	    *pw->pw_dir == '/')
		home = pw->pw_dir;
	if (home != NULL && *home == '/')
		xasprintf(&dir, "%s/.local/state/%s", home, name);
	else
		xasprintf(&dir, "./.%s", name);
	return (dir);
}
