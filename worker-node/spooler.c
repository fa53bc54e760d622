/* SPDX-License-Identifier: ISC */
/*
 * spooler.c -- results that are never lost.  Each task_result is written
 * to STATE/spool/<task>-<attempt>.json (temp + rename) before it is sent
 * and deleted only on result_ack; everything spooled is sent again after
 * each register_ack.  STATE/run/<task>-<attempt> markers exist while a task
 * runs: one found at startup means the worker died under a task, so its
 * leftovers are killed (its cgroup, session, orphans and container) and
 * nothing is reported for it: the worker registers without it, and the
 * main node re-queues it as a new attempt, as for a lost device.
 *
 * Neither is fsync'ed (two fsyncs per task cost a third of a small
 * device's task rate).  A crash of the worker loses nothing: the kernel
 * has the files.  A power cut may lose a result not yet acknowledged, or
 * leave it empty (set aside as .bad); the worker then comes back without
 * that task in running_tasks and the main node re-queues it, as it does
 * for a task that was running at the cut.  Tasks run at least once.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"
#include "worker.h"

#define SPOOL_FILE_MAX	(PROTO_LINE_MAX + 1)

static char	*spool_dir;	/* STATE/spool (owned) */
static char	*spool_run_dir;	/* STATE/run (owned) */
static char	*spool_work_dir;	/* STATE/work (owned) */

/* File-name form of (task_id, attempt): unsafe bytes become %XX. */
static char *
spool_key(const char *task_id, int attempt, char *buf, size_t size)
{
	size_t		o = 0;
	unsigned char	c;

	for (; *task_id != '\0' && o + 4 < size - 16; task_id++) {
		c = (unsigned char)*task_id;
		if (isalnum(c) || c == '_' || (c == '-' && o > 0))
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "%%%02X", c);
	}
	snprintf(buf + o, size - o, "-%d", attempt);
	return (buf);
}

/* Decode a key's task id part back (in place into buf). */
static int
spool_unkey(const char *key, char *task_id, size_t size, int *attempt)
{
	const char	*dash;
	char		*end;
	size_t		 o = 0;
	unsigned int	 c;
	long		 a;

	if ((dash = strrchr(key, '-')) == NULL || dash == key)
		return (-1);
	a = strtol(dash + 1, &end, 10);
	if (*end != '\0' || a < 1 || a > 1000000)
		return (-1);
	for (; key < dash && o + 1 < size; key++) {
		if (*key == '%' && dash - key >= 3 &&
		    sscanf(key + 1, "%2X", &c) == 1) {
			task_id[o++] = (char)c;
			key += 2;
		} else
			task_id[o++] = *key;
	}
	task_id[o] = '\0';
	*attempt = (int)a;
	return (0);
}

/* Create the spool, run and work directories. */
void
spool_start(void)
{
	xasprintf(&spool_dir, "%s/spool", wconf.state_dir);
	xasprintf(&spool_run_dir, "%s/run", wconf.state_dir);
	xasprintf(&spool_work_dir, "%s/work", wconf.state_dir);
	if (mkdir(spool_dir, 0700) != 0 && errno != EEXIST)
		fatal("cannot create %s", spool_dir);
	if (mkdir(spool_run_dir, 0700) != 0 && errno != EEXIST)
		fatal("cannot create %s", spool_run_dir);
	if (mkdir(spool_work_dir, 0700) != 0 && errno != EEXIST)
		fatal("cannot create %s", spool_work_dir);
}

/* Path of a spooled result (static buffer). */
static const char *
spool_path(const char *task_id, int attempt)
{
	static char	path[4096];
	char		key[512];

	snprintf(path, sizeof path, "%s/%s.json", spool_dir,
	    spool_key(task_id, attempt, key, sizeof key));
	return (path);
}

/* Path of a run marker (static buffer). */
static const char *
spool_marker_path(const char *task_id, int attempt)
{
	static char	path[4096];
	char		key[512];

	snprintf(path, sizeof path, "%s/%s", spool_run_dir,
	    spool_key(task_id, attempt, key, sizeof key));
	return (path);
}

/* Write a result to the spool; returns its encoded line (caller frees). */
char *
spool_put(const struct msg *m, size_t *len)
{
	char	*line;

	if ((line = msg_encode(m, len)) == NULL) {
		log_error("event=spool_failed task=%s attempt=%d error=\"cannot "
		    "encode\"", m->u.result.task_id, m->u.result.attempt);
		return (NULL);
	}
	if (worker_write_file(spool_path(m->u.result.task_id,
	    m->u.result.attempt), line, *len, 0) != 0)
		log_error("event=spool_failed task=%s attempt=%d error=\"%s\" "
		    "msg=\"the result is sent but not kept\"",
		    m->u.result.task_id, m->u.result.attempt, strerror(errno));
	return (line);
}

/* Forget a result the main node acknowledged. */
void
spool_ack(const char *task_id, int attempt)
{
	if (unlink(spool_path(task_id, attempt)) == 0)
		log_debug("event=result_acked task=%s attempt=%d", task_id,
		    attempt);
}

/* 1 if a result for (task_id, attempt) is spooled. */
int
spool_has(const char *task_id, int attempt)
{
	return (access(spool_path(task_id, attempt), F_OK) == 0);
}

/* Read a whole small file into a heap string; NULL on error. */
static char *
spool_read(const char *path, size_t *len)
{
	char	*buf;
	int	 fd;
	ssize_t	 n;
	size_t	 off = 0;

	if ((fd = open(path, O_RDONLY|O_CLOEXEC|O_NOFOLLOW)) == -1)
		return (NULL);
	buf = xmalloc(SPOOL_FILE_MAX + 1);
	while (off < SPOOL_FILE_MAX) {
		n = read(fd, buf + off, SPOOL_FILE_MAX - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*len = off;
	return (buf);
}

/* Send one spool file's line; corrupt files are set aside. */
static int
spool_send_file(const char *path)
{
	struct msg		 m;
	struct proto_err	 err;
	char			*buf, *bad;
	size_t			 len;
	int			 ok;

	if ((buf = spool_read(path, &len)) == NULL)
		return (0);
	ok = len > 1 && buf[len - 1] == '\n' &&
	    msg_decode(buf, len - 1, &m, &err) == 0;
	if (ok) {
		ok = (m.type == MSG_TASK_RESULT);
		msg_free(&m);
	}
	if (!ok) {
		log_warn("event=spool_corrupt path=\"%s\" msg=\"set aside as "
		    ".bad\"", path);
		xasprintf(&bad, "%s.bad", path);
		rename(path, bad);
		free(bad);
		free(buf);
		return (0);
	}
	ok = (upstream_send_line(buf, len) == 0);
	free(buf);
	return (ok);
}

/* Send a spooled result again, if there is one. */
int
spool_resend_one(const char *task_id, int attempt)
{
	if (!spool_has(task_id, attempt))
		return (0);
	return (spool_send_file(spool_path(task_id, attempt)));
}

/* Send every spooled result (after a register_ack). */
void
spool_resend(void)
{
	DIR		*d;
	struct dirent	*de;
	char		*path;
	size_t		 n, sent = 0;

	if ((d = opendir(spool_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		xasprintf(&path, "%s/%s", spool_dir, de->d_name);
		sent += (size_t)spool_send_file(path);
		free(path);
	}
	closedir(d);
	if (sent > 0)
		log_info("event=spool_resent results=%zu", sent);
}

/* The (task_id, attempt) of every spooled result (borrowed array, valid
 * until the next call). */
size_t
spool_refs(struct proto_task_ref **refs)
{
	static struct proto_task_ref	*buf;
	static size_t			 n, cap;
	DIR				*d;
	struct dirent			*de;
	char				 key[512], id[PROTO_ID_MAX * 4];
	size_t				 i, len;
	int				 attempt;

	for (i = 0; i < n; i++)
		free(buf[i].task_id);
	n = 0;
	*refs = NULL;
	if (spool_dir == NULL || (d = opendir(spool_dir)) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 6 || len - 5 >= sizeof key ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		memcpy(key, de->d_name, len - 5);
		key[len - 5] = '\0';
		if (spool_unkey(key, id, sizeof id, &attempt) != 0)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			buf = xreallocarray(buf, cap, sizeof *buf);
		}
		buf[n].task_id = xstrdup(id);
		buf[n].attempt = attempt;
		n++;
	}
	closedir(d);
	*refs = buf;
	return (n);
}

/* This boot's id, so pids from an earlier boot are never killed. */
static void
spool_boot_id(char *buf, size_t size)
{
	FILE	*f;

	buf[0] = '\0';
	if ((f = fopen("/proc/sys/kernel/random/boot_id", "re")) == NULL)
		return;
	if (fgets(buf, (int)size, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* Session id and start time (clock ticks) of a process; -1 on error. */
static int
spool_proc_stat(pid_t pid, long *session, unsigned long long *start)
{
	char	 path[64], buf[1024], *p, *tok, *save;
	FILE	*f;
	size_t	 n;
	int	 i;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return (-1);
	/* Fields after the command: state is field 3. */
	for (i = 3, tok = strtok_r(p + 1, " ", &save); tok != NULL;
	    i++, tok = strtok_r(NULL, " ", &save)) {
		if (i == 6)
			*session = strtol(tok, NULL, 10);
		if (i == 22) {
			*start = strtoull(tok, NULL, 10);
			return (0);
		}
	}
	return (-1);
}

/* Record a started task: what a restart needs to find its leftovers. */
void
spool_mark(const char *task_id, int attempt, pid_t pgid,
    const char *container, const char *cgroup, const char *workdir)
{
	char			*data, boot[64];
	long			 session = -1;
	unsigned long long	 start = 0;

	spool_boot_id(boot, sizeof boot);
	spool_proc_stat(pgid, &session, &start);
	xasprintf(&data, "pgid=%ld\nstart=%llu\nboot_id=%s\nruntime=%s\n"
	    "container=%s\ncgroup=%s\nworkdir=%s\n", (long)pgid, start, boot,
	    container != NULL && wconf.runtime != NULL ? wconf.runtime : "",
	    container != NULL ? container : "", cgroup != NULL ? cgroup : "",
	    workdir != NULL ? workdir : "");
	if (worker_write_file(spool_marker_path(task_id, attempt), data,
	    strlen(data), 0) != 0)
		log_warn("event=marker_failed task=%s attempt=%d error=\"%s\"",
		    task_id, attempt, strerror(errno));
	free(data);
}

/* Forget a task's run marker (its result is spooled or it was killed). */
void
spool_unmark(const char *task_id, int attempt)
{
	unlink(spool_marker_path(task_id, attempt));
}

/* Handle one marker of an earlier run: kill its leftovers, report
 * nothing (the main node re-queues the attempt). */
static void
spool_recover_one(const char *key)
{
	char			*path, *data, *p, *nl;
	char			 task_id[PROTO_ID_MAX * 4], boot[64];
	char			 mboot[64] = "", runtime[32] = "", id[512];
	char			 container[256] = "", cgroup[4096] = "";
	char			 workdir[4096] = "";
	long			 pgid = -1;
	unsigned long long	 start = 0;
	size_t			 len;
	int			 attempt, same_boot;

	xasprintf(&path, "%s/%s", spool_run_dir, key);
	if (spool_unkey(key, task_id, sizeof task_id, &attempt) != 0) {
		log_warn("event=marker_bad path=\"%s\"", path);
		unlink(path);
		free(path);
		return;
	}
	if ((data = spool_read(path, &len)) != NULL) {
		for (p = data; p != NULL && *p != '\0'; p = nl) {
			if ((nl = strchr(p, '\n')) != NULL)
				*nl++ = '\0';
			if (strncmp(p, "pgid=", 5) == 0)
				pgid = strtol(p + 5, NULL, 10);
			else if (strncmp(p, "start=", 6) == 0)
				start = strtoull(p + 6, NULL, 10);
			else if (strncmp(p, "boot_id=", 8) == 0)
				snprintf(mboot, sizeof mboot, "%s", p + 8);
			else if (strncmp(p, "runtime=", 8) == 0)
				snprintf(runtime, sizeof runtime, "%s", p + 8);
			else if (strncmp(p, "container=", 10) == 0)
				snprintf(container, sizeof container, "%s",
				    p + 10);
			else if (strncmp(p, "cgroup=", 7) == 0)
				snprintf(cgroup, sizeof cgroup, "%s", p + 7);
			else if (strncmp(p, "workdir=", 8) == 0)
				snprintf(workdir, sizeof workdir, "%s", p + 8);
		}
		free(data);
	}
	spool_boot_id(boot, sizeof boot);
	same_boot = (*boot != '\0' && strcmp(boot, mboot) == 0);
	log_warn("event=task_lost task=%s attempt=%d pgid=%ld container=%s "
	    "msg=\"the worker stopped while it ran; its leftovers are killed "
	    "and the main node runs it again\"", log_sanitize(task_id, id,
	    sizeof id), attempt, pgid, *container != '\0' ? container : "-");
	if (same_boot)
		sandbox_recover(cgroup, workdir, pgid > 1 ? (pid_t)pgid : -1,
		    start);
	if (*container != '\0' && (strcmp(runtime, "podman") == 0 ||
	    strcmp(runtime, "docker") == 0))
		exec_container_remove_sync(runtime, container);
	unlink(path);
	free(path);
}

/* Handle markers left by a previous run; clear stale work dirs. */
void
spool_recover(void)
{
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(spool_run_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (strstr(de->d_name, ".tmp") != NULL) {
				unlinkat(dirfd(d), de->d_name, 0);
				continue;
			}
			spool_recover_one(de->d_name);
		}
		closedir(d);
	}
	worker_rmtree(spool_work_dir);
	if (mkdir(spool_work_dir, 0700) != 0 && errno != EEXIST)
		fatal("cannot create %s", spool_work_dir);
}

/* STATE/work/<key> for a task attempt (caller frees). */
char *
spool_work_path(const char *task_id, int attempt)
{
	char	*path, key[512];

	xasprintf(&path, "%s/%s", spool_work_dir,
	    spool_key(task_id, attempt, key, sizeof key));
	return (path);
}
