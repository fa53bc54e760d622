/* SPDX-License-Identifier: ISC */
/*
 * prof-proc.c -- reading /proc and /sys under a root directory.  On the
 * live system meminfo, CPU ticks, loadavg and uptime come from libproc2;
 * libproc2 only knows the real /proc, so any other root (a fixture tree)
 * goes through the parsers of prof-parse.c instead.  Built with
 * ENCORE_NO_PROC2 (make NO_PROC2=1, for Termux, which packages no
 * libproc2) the prof_proc2_* readers fail and the parsers read the live
 * /proc too.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ENCORE_NO_PROC2
#include <libproc2/meminfo.h>
#include <libproc2/misc.h>
#include <libproc2/stat.h>
#endif

#include "protocol.h"
#include "profiler.h"
#include "prof-parse.h"

/* Where /sys and /proc are read from instead (owned), NULL: under root. */
static char	*prof_sysfs;
static char	*prof_procfs;

/* A mount point as given: NULL when it is the usual one (or unset). */
static char *
prof_mount(const char *dir, const char *usual)
{
	size_t	len;

	if (dir == NULL || *dir == '\0')
		return (NULL);
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == strlen(usual) && strncmp(dir, usual, len) == 0)
		return (NULL);
	return (xstrndup(dir, len));
}

/* Read /sys from sysfs and /proc from procfs from now on (NULL or the
 * usual paths: the live ones under each reader's root). */
void
prof_set_mounts(const char *sysfs, const char *procfs)
{
	free(prof_sysfs);
	free(prof_procfs);
	prof_sysfs = prof_mount(sysfs, "/sys");
	prof_procfs = prof_mount(procfs, "/proc");
}

/* 1 if root is the live system. */
int
prof_is_live(const char *root)
{
	return (root == NULL || *root == '\0' || strcmp(root, "/") == 0);
}

/* 1 if /proc under root is the live one (libproc2 may read it). */
static int
prof_proc_is_live(const char *root)
{
	return (prof_is_live(root) && prof_procfs == NULL);
}

/* path with its leading prefix ("/proc", "/sys") replaced by mnt, if it
 * has that prefix; else NULL. */
static char *
prof_remount(const char *mnt, const char *prefix, const char *path)
{
	size_t	len = strlen(prefix);
	char	*s;

	if (mnt == NULL || strncmp(path, prefix, len) != 0 ||
	    (path[len] != '/' && path[len] != '\0'))
		return (NULL);
	xasprintf(&s, "%s%s", mnt, path + len);
	return (s);
}

/* root + path (/proc and /sys where prof_set_mounts() put them); caller
 * frees. */
char *
prof_path(const char *root, const char *path)
{
	char	*s;
	size_t	 len;

	if ((s = prof_remount(prof_procfs, "/proc", path)) != NULL ||
	    (s = prof_remount(prof_sysfs, "/sys", path)) != NULL)
		return (s);
	if (prof_is_live(root))
		return (xstrdup(path));
	len = strlen(root);
	while (len > 1 && root[len - 1] == '/')
		len--;
	xasprintf(&s, "%.*s%s", (int)len, root, path);
	return (s);
}

/* Read a whole file at path, NUL-terminated; NULL if unreadable. */
char *
prof_read_path(const char *path, size_t *len)
{
	struct stat	 st;
	char		*buf;
	size_t		 size = 4096, used = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return (NULL);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return (NULL);
	}
	buf = xmalloc(size);
	for (;;) {
		if (used + 1 >= size) {
			if (size >= PROF_FILE_MAX)
				break;
			size *= 2;
			buf = xrealloc(buf, size);
		}
		n = read(fd, buf + used, size - used - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(buf);
			close(fd);
			return (NULL);
		}
		if (n == 0)
			break;
		used += n;
	}
	close(fd);
	buf[used] = '\0';
	if (len != NULL)
		*len = used;
	return (buf);
}

/* Read root + path; NULL if unreadable. */
char *
prof_read_file(const char *root, const char *path, size_t *len)
{
	char	*full, *buf;

	full = prof_path(root, path);
	buf = prof_read_path(full, len);
	free(full);
	return (buf);
}

/* Order names the way people count: card2 before card10. */
static int
prof_name_cmp(const void *a, const void *b)
{
	return (strverscmp(*(char *const *)a, *(char *const *)b));
}

/* Names in root + dir starting with prefix, in version order. */
char **
prof_list_dir(const char *root, const char *dir, const char *prefix,
    size_t *n)
{
	struct dirent	 *de;
	DIR		 *d;
	char		 *full, **names = NULL;
	size_t		  plen = strlen(prefix);

	*n = 0;
	full = prof_path(root, dir);
	d = opendir(full);
	free(full);
	if (d == NULL)
		return (NULL);
	while ((de = readdir(d)) != NULL && *n < PROF_DIR_MAX) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, prefix,
		    plen) != 0)
			continue;
		names = xreallocarray(names, *n + 1, sizeof *names);
		names[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(names, *n, sizeof *names, prof_name_cmp);
	return (names);
}

/* Free a list from prof_list_dir(). */
void
prof_list_free(char **names, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

#ifndef ENCORE_NO_PROC2
/* meminfo through libproc2 (live system only). */
int
prof_proc2_meminfo(struct prof_meminfo *mi)
{
	static const enum meminfo_item	 items[] = {
		MEMINFO_MEM_TOTAL, MEMINFO_MEM_FREE, MEMINFO_MEM_AVAILABLE,
		MEMINFO_MEM_BUFFERS, MEMINFO_MEM_CACHED
	};
	struct meminfo_info		*info = NULL;
	struct meminfo_result		*r;
	int64_t				*slots[5];
	size_t				 i;

	mi->total = mi->free = mi->available = -1;
	mi->buffers = mi->cached = -1;
	slots[0] = &mi->total;
	slots[1] = &mi->free;
	slots[2] = &mi->available;
	slots[3] = &mi->buffers;
	slots[4] = &mi->cached;
	if (procps_meminfo_new(&info) < 0)
		return (-1);
	for (i = 0; i < sizeof items / sizeof items[0]; i++) {
		r = procps_meminfo_get(info, items[i]);
		if (r != NULL && r->result.ul_int <= (unsigned long)INT64_MAX /
		    1024)
			*slots[i] = (int64_t)r->result.ul_int;
	}
	procps_meminfo_unref(&info);
	/*
	 * Before 3.14 the kernel had no MemAvailable and libproc2 stands in
	 * MemFree for it, which overstates use; leave it unknown so the
	 * free + buffers + cached estimate applies.
	 */
	if (procps_linux_version() < LINUX_VERSION(3, 14, 0))
		mi->available = -1;
	if (mi->total <= 0) {
		mi->total = -1;
		return (-1);
	}
	return (0);
}

/* Summary CPU ticks through libproc2 (live system only). */
int
prof_proc2_stat(uint64_t *total, uint64_t *idle)
{
	static const enum stat_item	 items[] = {
		STAT_TIC_USER, STAT_TIC_NICE, STAT_TIC_SYSTEM, STAT_TIC_IDLE,
		STAT_TIC_IOWAIT, STAT_TIC_IRQ, STAT_TIC_SOFTIRQ, STAT_TIC_STOLEN
	};
	struct stat_info		*info = NULL;
	struct stat_result		*r;
	uint64_t			 v[8];
	size_t				 i;

	if (procps_stat_new(&info) < 0)
		return (-1);
	for (i = 0; i < sizeof items / sizeof items[0]; i++) {
		if ((r = procps_stat_get(info, items[i])) == NULL) {
			procps_stat_unref(&info);
			return (-1);
		}
		v[i] = r->result.ull_int;
	}
	procps_stat_unref(&info);
	/* The same sum as prof_parse_stat(). */
	*total = 0;
	for (i = 0; i < 8; i++)
		*total += v[i];
	*idle = v[3] + v[4];
	return (0);
}

/* Load averages through libproc2 (live system only). */
int
prof_proc2_loadavg(double la[3])
{
	double	a, b, c;

	if (procps_loadavg(&a, &b, &c) < 0)
		return (-1);
	la[0] = a;
	la[1] = b;
	la[2] = c;
	return (0);
}

/* Uptime through libproc2 (live system only). */
int
prof_proc2_uptime(double *up)
{
	double	u, idle;

	if (procps_uptime(&u, &idle) < 0)
		return (-1);
	*up = u;
	return (0);
}
#else /* ENCORE_NO_PROC2: no libproc2; callers fall back to the parsers. */
int
prof_proc2_meminfo(struct prof_meminfo *mi)
{
	return (-1);
}

int
prof_proc2_stat(uint64_t *total, uint64_t *idle)
{
	return (-1);
}

int
prof_proc2_loadavg(double la[3])
{
	return (-1);
}

int
prof_proc2_uptime(double *up)
{
	return (-1);
}
#endif /* ENCORE_NO_PROC2 */

/* meminfo parsed from root/proc/meminfo. */
int
prof_file_meminfo(const char *root, struct prof_meminfo *mi)
{
	char	*buf;
	int	 rc;

	mi->total = mi->free = mi->available = -1;
	mi->buffers = mi->cached = -1;
	if ((buf = prof_read_file(root, "/proc/meminfo", NULL)) == NULL)
		return (-1);
	rc = prof_parse_meminfo(buf, mi);
	free(buf);
	return (rc);
}

/* CPU ticks parsed from root/proc/stat. */
int
prof_file_stat(const char *root, uint64_t *total, uint64_t *idle)
{
	char	*buf;
	int	 rc;

	if ((buf = prof_read_file(root, "/proc/stat", NULL)) == NULL)
		return (-1);
	rc = prof_parse_stat(buf, total, idle);
	free(buf);
	return (rc);
}

/* Load averages parsed from root/proc/loadavg. */
int
prof_file_loadavg(const char *root, double la[3])
{
	char	*buf;
	int	 rc;

	if ((buf = prof_read_file(root, "/proc/loadavg", NULL)) == NULL)
		return (-1);
	rc = prof_parse_loadavg(buf, la);
	free(buf);
	return (rc);
}

/* Uptime parsed from root/proc/uptime. */
int
prof_file_uptime(const char *root, double *up)
{
	char	*buf;
	int	 rc;

	if ((buf = prof_read_file(root, "/proc/uptime", NULL)) == NULL)
		return (-1);
	rc = prof_parse_uptime(buf, up);
	free(buf);
	return (rc);
}

/* meminfo under root: libproc2 live, the parser elsewhere. */
int
prof_meminfo_read(const char *root, struct prof_meminfo *mi)
{
	if (prof_proc_is_live(root) && prof_proc2_meminfo(mi) == 0)
		return (0);
	return (prof_file_meminfo(root, mi));
}

/* CPU ticks under root. */
int
prof_stat_read(const char *root, uint64_t *total, uint64_t *idle)
{
	if (prof_proc_is_live(root) && prof_proc2_stat(total, idle) == 0)
		return (0);
	return (prof_file_stat(root, total, idle));
}

/* Load averages under root. */
int
prof_loadavg_read(const char *root, double la[3])
{
	if (prof_proc_is_live(root) && prof_proc2_loadavg(la) == 0)
		return (0);
	return (prof_file_loadavg(root, la));
}

/* Uptime under root. */
int
prof_uptime_read(const char *root, double *up)
{
	if (prof_proc_is_live(root) && prof_proc2_uptime(up) == 0)
		return (0);
	return (prof_file_uptime(root, up));
}
