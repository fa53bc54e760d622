/* SPDX-License-Identifier: ISC */
/*
 * util.c -- the few helpers every worker module shares: message ids, the
 * monotonic clock, removing a tree, writing a file atomically.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "worker.h"

static unsigned long	 worker_msg_counter;

/* Next message id (static buffer, valid until the next call). */
char *
worker_next_id(void)
{
	static char	buf[32];

	snprintf(buf, sizeof buf, "%lu", ++worker_msg_counter);
	return (buf);
}

/* Seconds from the monotonic clock. */
double
worker_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Remove a directory tree (best effort, no symlink following). */
void
worker_rmtree(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		*sub;

	if (rmdir(path) == 0 || errno == ENOENT)
		return;		/* an empty directory, or nothing */
	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			xasprintf(&sub, "%s/%s", path, de->d_name);
			worker_rmtree(sub);
			free(sub);
		}
		closedir(d);
	}
	if (rmdir(path) != 0 && errno != ENOENT)
		log_debug("event=rmtree_failed path=\"%s\" error=\"%s\"", path,
		    strerror(errno));
}

/*
 * Write data to path atomically: temp file, rename.  With WF_SYNC the file
 * and its directory are fsync'ed too, so it survives a power cut; without,
 * it survives a crash of the worker (the kernel has it), which is all a
 * file that is useless after a reboot needs.
 */
int
worker_write_file(const char *path, const char *data, size_t len, int flags)
{
	char	*tmp, *dir, *slash;
	int	 fd, saved;
	ssize_t	 n;
	size_t	 off = 0;

	xasprintf(&tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC|O_NOFOLLOW, 0600);
	if (fd == -1)
		goto fail;
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail_fd;
		}
		off += (size_t)n;
	}
	if ((flags & WF_SYNC) && fsync(fd) != 0)
		goto fail_fd;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	free(tmp);
	if (!(flags & WF_SYNC))
		return (0);

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if ((fd = open(*dir == '\0' ? "/" : dir,
		    O_RDONLY|O_DIRECTORY|O_CLOEXEC)) != -1) {
			fsync(fd);
			close(fd);
		}
	}
	free(dir);
	return (0);

fail_fd:
	saved = errno;
	close(fd);
	errno = saved;
fail:
	saved = errno;
	unlink(tmp);
	free(tmp);
	errno = saved;
	return (-1);
}
