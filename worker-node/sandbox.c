/* SPDX-License-Identifier: ISC */
/*
 * sandbox.c -- what holds a command task in, beyond its process group.
 *
 * Processes.  Where the worker may write its own cgroup v2 directory
 * (systemd Delegate=yes, or root with a writable cgroupfs, as in a
 * container), each command task gets a cgroup, BASE/task-KEY, and the
 * whole cgroup is killed (cgroup.kill, else every pid in cgroup.procs)
 * when the task's main process ends, on cancel and on timeout: a daemon
 * the task started with setsid cannot escape.  BASE is
 * CGROUP/encore.TAG (TAG = the device id and a hash of the state dir, so
 * two workers on one host never share one); when the worker's own cgroup
 * is not the root of the hierarchy the worker first moves itself to
 * CGROUP/worker.TAG, so memory and pids can be delegated to BASE.  Without
 * a usable cgroup the worker is a child subreaper (PR_SET_CHILD_SUBREAPER):
 * what a task leaves behind is re-parented to the worker, and when the
 * task's main process ends every process of its session, every orphan
 * whose environment names the task's ENCORE_WORK_DIR, and their
 * descendants are killed.  That is best effort: a process that leaves the
 * session, clears its environment and forks away before the sweep
 * escapes it.
 *
 * Memory.  With the cgroup's memory controller, limits.memory_mb is
 * memory.max (swap off, memory.oom.group on): the kernel reclaims, then
 * kills the task alone.  Without it, RLIMIT_DATA per process: it counts
 * writable private memory a process maps, not address space it only
 * reserves (PROT_NONE), so a JVM or a Go program starts, unlike under
 * RLIMIT_AS; a process that maps more than the limit gets ENOMEM.
 *
 * Files.  Where the kernel has Landlock (Linux >= 5.13), a command task
 * may read, write and create files only in its working directory (HOME
 * and TMPDIR point there), and read and execute under the system paths
 * below and in the directory of its program; /tmp is not among them, as
 * it is shared with every user and may hold the worker's state directory,
 * so the state directory (device.key, spool) is out of reach.  The
 * worker builds each ruleset before the task is spawned; the child only
 * enforces it (no_new_privs, then landlock_restrict_self).
 */
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "protocol.h"
#include "worker.h"

/* Landlock's ABI, defined here so old kernel headers build too. */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset	444
#define SYS_landlock_add_rule		445
#define SYS_landlock_restrict_self	446
#endif
#define LL_CREATE_RULESET_VERSION	(1U << 0)
#define LL_RULE_PATH_BENEATH		1
#define LL_FS_EXECUTE			(1ULL << 0)
#define LL_FS_WRITE_FILE		(1ULL << 1)
#define LL_FS_READ_FILE			(1ULL << 2)
#define LL_FS_READ_DIR			(1ULL << 3)
#define LL_FS_REMOVE_DIR		(1ULL << 4)
#define LL_FS_REMOVE_FILE		(1ULL << 5)
#define LL_FS_MAKE_CHAR			(1ULL << 6)
#define LL_FS_MAKE_DIR			(1ULL << 7)
#define LL_FS_MAKE_REG			(1ULL << 8)
#define LL_FS_MAKE_SOCK			(1ULL << 9)
#define LL_FS_MAKE_FIFO			(1ULL << 10)
#define LL_FS_MAKE_BLOCK		(1ULL << 11)
#define LL_FS_MAKE_SYM			(1ULL << 12)
#define LL_FS_REFER			(1ULL << 13)	/* ABI 2 */
#define LL_FS_TRUNCATE			(1ULL << 14)	/* ABI 3 */

struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
};

struct ll_path_beneath_attr {
	uint64_t	allowed_access;
	int32_t		parent_fd;
} __attribute__((packed));

#define LL_READ		(LL_FS_EXECUTE|LL_FS_READ_FILE|LL_FS_READ_DIR)
#define LL_FILE_RW	(LL_FS_READ_FILE|LL_FS_WRITE_FILE|LL_FS_TRUNCATE)

/* Paths a command task may read and execute under (when they exist). */
static const char *sandbox_ro_paths[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
	"/etc", "/opt", "/run", "/proc", "/sys", "/dev", "/nix", "/snap",
	"/system", "/vendor", "/apex",		/* Android */
};

/* Device files a task may also write. */
static const char *sandbox_rw_files[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/tty",
};

/* Directories a task may also write: POSIX shared memory. */
static const char *sandbox_rw_dirs[] = {
	"/dev/shm",
};

#define SANDBOX_RMDIR_EVERY	50	/* ms between removal attempts */
#define SANDBOX_RMDIR_TRIES	200	/* then give up (10 s) */
#define SANDBOX_SWEEP_MAX	4096	/* processes one sweep looks at */

/*
 * What this worker may use, settled once by sandbox_start().  Paths and
 * fds are owned; ro_fds are O_PATH descriptors of the system paths, kept
 * open so each task's ruleset costs no lookups.
 */
static struct {
	int		 cgroup;	/* 1: a cgroup per task */
	char		*base;		/* BASE (owned) */
	int		 memory;	/* memory controller in BASE */
	int		 pids;		/* pids controller in BASE */
	int		 subreaper;	/* 1: PR_SET_CHILD_SUBREAPER set */
	int		 ll_abi;	/* Landlock ABI, 0 = none */
	uint64_t	 ll_handled;	/* access rights the rulesets handle */
	int		 ro_fds[sizeof sandbox_ro_paths /
			     sizeof sandbox_ro_paths[0]];
	int		 rwf_fds[sizeof sandbox_rw_files /
			     sizeof sandbox_rw_files[0]];
	int		 rwd_fds[sizeof sandbox_rw_dirs /
			     sizeof sandbox_rw_dirs[0]];
	struct event	*rmdir_ev;
} sb;

/*
 * One task's confinement.  path (its cgroup directory) and workdir are
 * owned; tries counts removal attempts once the task is over.
 */
struct sandbox {
	char			*path;		/* NULL: no cgroup */
	char			*workdir;
	pid_t			 pgid;		/* -1 until spawned */
	int			 tries;
	TAILQ_ENTRY(sandbox)	 entry;		/* pending removal */
};

static TAILQ_HEAD(, sandbox)	 sandbox_gone = TAILQ_HEAD_INITIALIZER(
    sandbox_gone);

/* Write a short string to a file; 0, or -1 with errno. */
static int
sandbox_write(const char *path, const char *s)
{
	ssize_t	n;
	int	fd, e;

	if ((fd = open(path, O_WRONLY|O_CLOEXEC)) == -1)
		return (-1);
	n = write(fd, s, strlen(s));
	e = errno;
	close(fd);
	errno = e;
	return (n == (ssize_t)strlen(s) ? 0 : -1);
}

/* Read a small file into buf (NUL-terminated); bytes read or -1. */
static ssize_t
sandbox_read(const char *path, char *buf, size_t size)
{
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY|O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return (-1);
	buf[n] = '\0';
	return (n);
}

/* The cgroup v2 directory of this process, or NULL (caller frees). */
static char *
sandbox_own_cgroup(char **mnt)
{
	FILE	*f;
	char	 line[4096], *rel = NULL, *p, *root, *point, *fstype;
	char	*path = NULL;

	*mnt = NULL;
	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return (NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			rel = xstrdup(line + 3);
			break;
		}
	}
	fclose(f);
	if (rel == NULL)
		return (NULL);
	if (strstr(rel, "(deleted)") != NULL || *rel != '/')
		goto out;

	/* mountinfo: ID PARENT MAJ:MIN ROOT POINT OPTS... - TYPE SRC OPTS */
	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		goto out;
	while (path == NULL && fgets(line, sizeof line, f) != NULL) {
		if ((p = strstr(line, " - ")) == NULL)
			continue;
		fstype = p + 3;
		if (strncmp(fstype, "cgroup2 ", 8) != 0)
			continue;
		strtok(line, " ");			/* ID */
		strtok(NULL, " ");			/* parent */
		strtok(NULL, " ");			/* major:minor */
		root = strtok(NULL, " ");
		point = strtok(NULL, " ");
		if (root == NULL || point == NULL || strchr(point, '\\'))
			continue;	/* escaped names: not ours to guess */
		if (strcmp(root, "/") == 0) {
			xasprintf(&path, "%s%s", point,
			    strcmp(rel, "/") == 0 ? "" : rel);
			*mnt = xstrdup(point);
		} else if (strncmp(rel, root, strlen(root)) == 0 &&
		    (rel[strlen(root)] == '/' || rel[strlen(root)] == '\0')) {
			xasprintf(&path, "%s%s", point, rel + strlen(root));
			*mnt = xstrdup(point);
		}
	}
	fclose(f);
out:
	free(rel);
	return (path);
}

/* Enable what cgroup.controllers of dir offers among memory and pids in
 * its cgroup.subtree_control (best effort). */
static void
sandbox_delegate(const char *dir)
{
	char	*file, buf[1024];

	xasprintf(&file, "%s/cgroup.controllers", dir);
	if (sandbox_read(file, buf, sizeof buf) < 0)
		buf[0] = '\0';
	free(file);
	xasprintf(&file, "%s/cgroup.subtree_control", dir);
	if (strstr(buf, "memory") != NULL &&
	    sandbox_write(file, "+memory") != 0)
		log_debug("event=cgroup_delegate dir=\"%s\" controller=memory "
		    "error=\"%s\"", dir, strerror(errno));
	if (strstr(buf, "pids") != NULL && sandbox_write(file, "+pids") != 0)
		log_debug("event=cgroup_delegate dir=\"%s\" controller=pids "
		    "error=\"%s\"", dir, strerror(errno));
	free(file);
}

/* TAG: the device id (safe characters only) and a hash of the state dir. */
static void
sandbox_tag(char *buf, size_t size)
{
	uint32_t	 h = 2166136261u;
	const char	*p;
	size_t		 o = 0;

	for (p = wconf.state_dir; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (p = wconf.id; *p != '\0' && o + 10 < size && o < 32; p++)
		buf[o++] = isalnum((unsigned char)*p) || *p == '-' ||
		    *p == '_' ? *p : '_';
	snprintf(buf + o, size - o, "-%06x", h & 0xffffff);
}

/* A short tag of this worker, for cgroup and container names. */
const char *
sandbox_worker_tag(void)
{
	static char	tag[64];

	if (*tag == '\0')
		sandbox_tag(tag, sizeof tag);
	return (tag);
}

/* Try to set up a cgroup per task; 1 if it works here. */
static int
sandbox_cgroup_setup(void)
{
	char	*own, *mnt, *leaf = NULL, *file, buf[1024];
	int	 at_root, ok = 0;

	if ((own = sandbox_own_cgroup(&mnt)) == NULL)
		return (0);
	at_root = (strcmp(own, mnt) == 0);
	xasprintf(&file, "%s/cgroup.procs", own);
	if (access(own, W_OK) != 0 || access(file, W_OK) != 0) {
		log_debug("event=cgroup_unusable dir=\"%s\" msg=\"not writable "
		    "(no Delegate=yes)\"", own);
		free(file);
		goto out;
	}
	free(file);
	if (!at_root) {
		/* Leave the delegated cgroup to our own leaf, so the
		 * controllers can be handed down to the task cgroups. */
		xasprintf(&leaf, "%s/worker.%s", own, sandbox_worker_tag());
		if (mkdir(leaf, 0755) != 0 && errno != EEXIST) {
			log_debug("event=cgroup_unusable dir=\"%s\" error=\"%s\"",
			    leaf, strerror(errno));
			goto out;
		}
		xasprintf(&file, "%s/cgroup.procs", leaf);
		if (sandbox_write(file, "0") != 0) {
			log_debug("event=cgroup_unusable dir=\"%s\" error=\"%s\"",
			    leaf, strerror(errno));
			free(file);
			rmdir(leaf);
			goto out;
		}
		free(file);
		sandbox_delegate(own);
	}
	xasprintf(&sb.base, "%s/encore.%s", own, sandbox_worker_tag());
	if (mkdir(sb.base, 0755) != 0 && errno != EEXIST) {
		log_debug("event=cgroup_unusable dir=\"%s\" error=\"%s\"",
		    sb.base, strerror(errno));
		free(sb.base);
		sb.base = NULL;
		goto out;
	}
	sandbox_delegate(sb.base);
	xasprintf(&file, "%s/cgroup.subtree_control", sb.base);
	if (sandbox_read(file, buf, sizeof buf) < 0)
		buf[0] = '\0';
	free(file);
	sb.memory = strstr(buf, "memory") != NULL;
	sb.pids = strstr(buf, "pids") != NULL;
	ok = 1;
out:
	free(leaf);
	free(own);
	free(mnt);
	return (ok);
}

/* Open the system paths' O_PATH descriptors for the rulesets. */
static void
sandbox_landlock_setup(void)
{
	struct ll_ruleset_attr	attr;
	size_t			i;
	long			abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	if (abi < 1)
		return;
	sb.ll_abi = (int)abi;
	sb.ll_handled = LL_FS_EXECUTE|LL_FS_WRITE_FILE|LL_FS_READ_FILE|
	    LL_FS_READ_DIR|LL_FS_REMOVE_DIR|LL_FS_REMOVE_FILE|LL_FS_MAKE_CHAR|
	    LL_FS_MAKE_DIR|LL_FS_MAKE_REG|LL_FS_MAKE_SOCK|LL_FS_MAKE_FIFO|
	    LL_FS_MAKE_BLOCK|LL_FS_MAKE_SYM;
	if (abi >= 2)
		sb.ll_handled |= LL_FS_REFER;
	if (abi >= 3)
		sb.ll_handled |= LL_FS_TRUNCATE;
	/* Check that a ruleset can be made at all (seccomp may refuse). */
	attr.handled_access_fs = sb.ll_handled;
	i = (size_t)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr,
	    0);
	if ((long)i < 0) {
		sb.ll_abi = 0;
		return;
	}
	close((int)i);
	for (i = 0; i < sizeof sandbox_ro_paths / sizeof *sandbox_ro_paths;
	    i++)
		sb.ro_fds[i] = open(sandbox_ro_paths[i], O_PATH|O_CLOEXEC);
	for (i = 0; i < sizeof sandbox_rw_files / sizeof *sandbox_rw_files;
	    i++)
		sb.rwf_fds[i] = open(sandbox_rw_files[i], O_PATH|O_CLOEXEC);
	for (i = 0; i < sizeof sandbox_rw_dirs / sizeof *sandbox_rw_dirs; i++)
		sb.rwd_fds[i] = open(sandbox_rw_dirs[i],
		    O_PATH|O_DIRECTORY|O_CLOEXEC);
}

/* Retry removing the cgroups of tasks that are over. */
static void
sandbox_rmdir_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sandbox	*s, *next;
	struct timeval	 tv = { 0, SANDBOX_RMDIR_EVERY * 1000 };

	for (s = TAILQ_FIRST(&sandbox_gone); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (rmdir(s->path) == 0 || errno == ENOENT ||
		    ++s->tries >= SANDBOX_RMDIR_TRIES) {
			if (s->tries >= SANDBOX_RMDIR_TRIES)
				log_warn("event=cgroup_not_removed dir=\"%s\" "
				    "error=\"%s\"", s->path, strerror(errno));
			TAILQ_REMOVE(&sandbox_gone, s, entry);
			free(s->path);
			free(s);
			continue;
		}
		sandbox_kill(s);
	}
	if (!TAILQ_EMPTY(&sandbox_gone))
		evtimer_add(sb.rmdir_ev, &tv);
}

/* Kill everything in a cgroup directory (cgroup.kill, else each pid). */
static void
sandbox_cgroup_kill(const char *dir)
{
	char	*file, buf[8192], *p, *end;
	long	 pid;
	int	 round;

	xasprintf(&file, "%s/cgroup.kill", dir);
	if (sandbox_write(file, "1") == 0) {
		free(file);
		return;
	}
	free(file);
	xasprintf(&file, "%s/cgroup.procs", dir);
	for (round = 0; round < 8; round++) {
		if (sandbox_read(file, buf, sizeof buf) <= 0)
			break;
		for (p = buf; *p != '\0'; p = end) {
			pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 1)
				kill((pid_t)pid, SIGKILL);
		}
	}
	free(file);
}

/* Kill a cgroup left by an earlier run and remove it (waits up to 1 s). */
static void
sandbox_cgroup_purge(const char *dir)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	int		i;

	for (i = 0; i < 100; i++) {
		sandbox_cgroup_kill(dir);
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		nanosleep(&ts, NULL);
	}
	log_warn("event=cgroup_not_removed dir=\"%s\" error=\"%s\"", dir,
	    strerror(errno));
}

/* Remove task cgroups an earlier run of this worker left in BASE. */
static void
sandbox_purge_base(void)
{
	DIR		*d;
	struct dirent	*de;
	char		*path;
	int		 n = 0;

	if (sb.base == NULL || (d = opendir(sb.base)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "task-", 5) != 0)
			continue;
		xasprintf(&path, "%s/%s", sb.base, de->d_name);
		sandbox_cgroup_purge(path);
		free(path);
		n++;
	}
	closedir(d);
	if (n > 0)
		log_info("event=leftovers_killed cgroups=%d", n);
}

/* Settle what confines tasks here, say so once in the log. */
void
sandbox_start(void)
{
	const char	*no_cg = getenv("ENCORE_WORKER_NO_CGROUP");
	const char	*no_ll = getenv("ENCORE_WORKER_NO_LANDLOCK");
	size_t		 i;

	for (i = 0; i < sizeof sb.ro_fds / sizeof sb.ro_fds[0]; i++)
		sb.ro_fds[i] = -1;
	for (i = 0; i < sizeof sb.rwf_fds / sizeof sb.rwf_fds[0]; i++)
		sb.rwf_fds[i] = -1;
	for (i = 0; i < sizeof sb.rwd_fds / sizeof sb.rwd_fds[0]; i++)
		sb.rwd_fds[i] = -1;
	sb.rmdir_ev = evtimer_new(worker_base, sandbox_rmdir_cb, NULL);

	if (no_cg == NULL || *no_cg == '\0' || strcmp(no_cg, "0") == 0)
		sb.cgroup = sandbox_cgroup_setup();
	if (!sb.cgroup) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) == 0)
			sb.subreaper = 1;
		else
			log_warn("event=subreaper_failed error=\"%s\" msg=\"a "
			    "daemon a task starts may outlive it\"",
			    strerror(errno));
	}
	if (no_ll == NULL || *no_ll == '\0' || strcmp(no_ll, "0") == 0)
		sandbox_landlock_setup();

	if (sb.cgroup)
		log_info("event=sandbox processes=cgroup cgroup=\"%s\" "
		    "memory=%s", sb.base, sb.memory ? "memory.max" :
		    "rlimit_data");
	else
		log_info("event=sandbox processes=%s memory=rlimit_data "
		    "msg=\"no writable cgroup v2 directory (run under systemd "
		    "with Delegate=yes for a cgroup per task)\"", sb.subreaper ?
		    "subreaper" : "process_group");
	if (sb.ll_abi > 0)
		log_info("event=sandbox files=landlock abi=%d", sb.ll_abi);
	else
		log_warn("event=sandbox files=unrestricted msg=\"no Landlock "
		    "(Linux >= 5.13 with landlock in CONFIG_LSM, or it was "
		    "turned off): command tasks can read and write every file "
		    "the worker's user can, its device.key and spool "
		    "included\"");
	sandbox_purge_base();
}

/* Close what sandbox_start() opened; remove BASE if it is empty. */
void
sandbox_stop(void)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	struct sandbox	*s;
	size_t		 i;
	int		 n;

	for (n = 0; n < 100 && !TAILQ_EMPTY(&sandbox_gone); n++) {
		sandbox_rmdir_cb(-1, 0, NULL);
		if (!TAILQ_EMPTY(&sandbox_gone))
			nanosleep(&ts, NULL);
	}
	while ((s = TAILQ_FIRST(&sandbox_gone)) != NULL) {
		TAILQ_REMOVE(&sandbox_gone, s, entry);
		free(s->path);
		free(s);
	}
	if (sb.rmdir_ev != NULL)
		event_free(sb.rmdir_ev);
	sb.rmdir_ev = NULL;
	if (sb.base != NULL)
		rmdir(sb.base);
	free(sb.base);
	sb.base = NULL;
	for (i = 0; i < sizeof sb.ro_fds / sizeof sb.ro_fds[0]; i++) {
		if (sb.ro_fds[i] != -1)
			close(sb.ro_fds[i]);
	}
	for (i = 0; i < sizeof sb.rwf_fds / sizeof sb.rwf_fds[0]; i++) {
		if (sb.rwf_fds[i] != -1)
			close(sb.rwf_fds[i]);
	}
	for (i = 0; i < sizeof sb.rwd_fds / sizeof sb.rwd_fds[0]; i++) {
		if (sb.rwd_fds[i] != -1)
			close(sb.rwd_fds[i]);
	}
}

/* 1 when limits.memory_mb becomes the cgroup's memory.max. */
int
sandbox_has_memory_cgroup(void)
{
	return (sb.cgroup && sb.memory);
}

/* Confinement of a new command task; key names its cgroup. */
struct sandbox *
sandbox_new(const char *key, const char *workdir, int memory_mb, int pids,
    char **cause)
{
	struct sandbox	*s;
	char		*file, val[64];

	s = xcalloc(1, sizeof *s);
	s->pgid = -1;
	s->workdir = xstrdup(workdir);
	if (!sb.cgroup)
		return (s);
	xasprintf(&s->path, "%s/task-%s", sb.base, key);
	if (mkdir(s->path, 0755) != 0) {
		if (errno != EEXIST) {
			xasprintf(cause, "cannot create the task's cgroup %s: %s",
			    s->path, strerror(errno));
			goto fail;
		}
		sandbox_cgroup_purge(s->path);	/* an old run's */
		if (mkdir(s->path, 0755) != 0) {
			xasprintf(cause, "cannot create the task's cgroup %s: "
			    "%s", s->path, strerror(errno));
			goto fail;
		}
	}
	if (sb.memory && memory_mb > 0) {
		xasprintf(&file, "%s/memory.max", s->path);
		snprintf(val, sizeof val, "%lld", (long long)memory_mb * 1024 *
		    1024);
		if (sandbox_write(file, val) != 0) {
			xasprintf(cause, "cannot set %s: %s", file,
			    strerror(errno));
			free(file);
			goto fail;
		}
		free(file);
		xasprintf(&file, "%s/memory.swap.max", s->path);
		sandbox_write(file, "0");
		free(file);
		xasprintf(&file, "%s/memory.oom.group", s->path);
		sandbox_write(file, "1");
		free(file);
	}
	if (sb.pids && pids > 0) {
		xasprintf(&file, "%s/pids.max", s->path);
		snprintf(val, sizeof val, "%d", pids);
		sandbox_write(file, val);
		free(file);
	}
	return (s);
fail:
	if (s->path != NULL)
		rmdir(s->path);
	free(s->path);
	free(s->workdir);
	free(s);
	return (NULL);
}

/* The task cgroup's directory, or NULL. */
const char *
sandbox_cgroup(struct sandbox *s)
{
	return (s->path);
}

/* Open the task cgroup's cgroup.procs for the child (-1: none). */
int
sandbox_procs_fd(struct sandbox *s, char **cause)
{
	char	*file;
	int	 fd;

	if (s->path == NULL)
		return (-1);
	xasprintf(&file, "%s/cgroup.procs", s->path);
	if ((fd = open(file, O_WRONLY|O_CLOEXEC)) == -1)
		xasprintf(cause, "cannot open %s: %s", file, strerror(errno));
	free(file);
	return (fd);
}

/* Add one path-beneath rule; -1 on error (errno set). */
static int
sandbox_ll_rule(int ruleset, int fd, uint64_t access)
{
	struct ll_path_beneath_attr	pb;

	pb.allowed_access = access & sb.ll_handled;
	pb.parent_fd = fd;
	return ((int)syscall(SYS_landlock_add_rule, ruleset,
	    LL_RULE_PATH_BENEATH, &pb, 0));
}

/*
 * The Landlock ruleset of a command task: all rights in its working
 * directory, read and execute under the system paths and in exe's
 * directory (unless that is inside the state dir), read and write on a few
 * device files.  Returns the ruleset fd (the caller closes it), -1 when
 * Landlock is not in use, or -2 with *cause.
 */
int
sandbox_landlock_fd(struct sandbox *s, const char *exe, char **cause)
{
	struct ll_ruleset_attr	 attr;
	char			*dir, *slash;
	size_t			 i, n;
	int			 rs, fd;

	if (sb.ll_abi < 1)
		return (-1);
	attr.handled_access_fs = sb.ll_handled;
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (rs < 0) {
		xasprintf(cause, "cannot create a Landlock ruleset: %s",
		    strerror(errno));
		return (-2);
	}
	for (i = 0; i < sizeof sb.ro_fds / sizeof sb.ro_fds[0]; i++) {
		if (sb.ro_fds[i] != -1 &&
		    sandbox_ll_rule(rs, sb.ro_fds[i], LL_READ) != 0)
			goto fail;
	}
	for (i = 0; i < sizeof sb.rwf_fds / sizeof sb.rwf_fds[0]; i++) {
		if (sb.rwf_fds[i] != -1 &&
		    sandbox_ll_rule(rs, sb.rwf_fds[i], LL_FILE_RW) != 0)
			goto fail;
	}
	for (i = 0; i < sizeof sb.rwd_fds / sizeof sb.rwd_fds[0]; i++) {
		if (sb.rwd_fds[i] != -1 &&
		    sandbox_ll_rule(rs, sb.rwd_fds[i], sb.ll_handled) != 0)
			goto fail;
	}
	if ((fd = open(s->workdir, O_PATH|O_DIRECTORY|O_CLOEXEC)) == -1)
		goto fail;
	if (sandbox_ll_rule(rs, fd, sb.ll_handled) != 0) {
		close(fd);
		goto fail;
	}
	close(fd);
	/* The directory of the program itself, if named outside the system
	 * paths (the operator chose it), but never the state dir. */
	if (exe != NULL && *exe == '/') {
		dir = xstrdup(exe);
		slash = strrchr(dir, '/');
		*slash = '\0';
		n = strlen(wconf.state_dir);
		if (*dir != '\0' && !(strncmp(dir, wconf.state_dir, n) == 0 &&
		    (dir[n] == '/' || dir[n] == '\0')) &&
		    strncmp(wconf.state_dir, dir, strlen(dir)) != 0 &&
		    (fd = open(dir, O_PATH|O_DIRECTORY|O_CLOEXEC)) != -1) {
			sandbox_ll_rule(rs, fd, LL_READ);
			close(fd);
		}
		free(dir);
	}
	return (rs);
fail:
	xasprintf(cause, "cannot build the Landlock ruleset: %s",
	    strerror(errno));
	close(rs);
	return (-2);
}

/* The task's main process is running as group pgid. */
void
sandbox_set_pgid(struct sandbox *s, pid_t pgid)
{
	s->pgid = pgid;
}

/* One process as a sweep sees it. */
struct sandbox_proc {
	pid_t	pid;
	pid_t	ppid;
	pid_t	sid;
	int	kill;
};

/* Parent and session of a process from /proc/PID/stat; -1 on error. */
static int
sandbox_stat(pid_t pid, pid_t *ppid, pid_t *sid, unsigned long long *start)
{
	char	 path[64], buf[1024], *p;
	long	 pp, s;
	unsigned long long st = 0;
	ssize_t	 n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((n = sandbox_read(path, buf, sizeof buf)) <= 0)
		return (-1);
	if ((p = strrchr(buf, ')')) == NULL)
		return (-1);
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice threads
	 * itrealvalue starttime */
	if (sscanf(p + 2, "%*c %ld %*d %ld %*d %*d %*u %*u %*u %*u %*u %*u "
	    "%*u %*d %*d %*d %*d %*d %*d %llu", &pp, &s, &st) != 3)
		return (-1);
	*ppid = (pid_t)pp;
	*sid = (pid_t)s;
	if (start != NULL)
		*start = st;
	return (0);
}

/* 1 if pid's environment holds the entry want. */
static int
sandbox_environ_has(pid_t pid, const char *want)
{
	char	 path[64], *buf, *p, *end;
	size_t	 len = strlen(want), cap = 256 * 1024, off = 0;
	ssize_t	 n;
	int	 fd, found = 0;

	snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
	if ((fd = open(path, O_RDONLY|O_CLOEXEC)) == -1)
		return (0);
	buf = xmalloc(cap + 1);
	while (off < cap && (n = read(fd, buf + off, cap - off)) > 0)
		off += (size_t)n;
	close(fd);
	buf[off] = '\0';
	end = buf + off;
	for (p = buf; p < end; p += strlen(p) + 1) {
		if (strlen(p) == len && memcmp(p, want, len) == 0) {
			found = 1;
			break;
		}
	}
	free(buf);
	return (found);
}

/* Read every process's parent and session (at most SANDBOX_SWEEP_MAX). */
static size_t
sandbox_procs(struct sandbox_proc **out)
{
	DIR			*d;
	struct dirent		*de;
	struct sandbox_proc	*v;
	size_t			 n = 0;
	pid_t			 pid, self = getpid();
	char			*end;

	*out = NULL;
	if ((d = opendir("/proc")) == NULL)
		return (0);
	v = xcalloc(SANDBOX_SWEEP_MAX, sizeof *v);
	while (n < SANDBOX_SWEEP_MAX && (de = readdir(d)) != NULL) {
		pid = (pid_t)strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 1 || pid == self)
			continue;
		if (sandbox_stat(pid, &v[n].ppid, &v[n].sid, NULL) != 0)
			continue;
		v[n].pid = pid;
		n++;
	}
	closedir(d);
	*out = v;
	return (n);
}

/* Mark the descendants of marked processes too, then kill them all. */
static int
sandbox_kill_marked(struct sandbox_proc *v, size_t n)
{
	size_t	i, j;
	int	more = 1, killed = 0;

	while (more) {
		more = 0;
		for (i = 0; i < n; i++) {
			if (v[i].kill)
				continue;
			for (j = 0; j < n; j++) {
				if (v[j].kill && v[j].pid == v[i].ppid) {
					v[i].kill = 1;
					more = 1;
					break;
				}
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (v[i].kill && kill(v[i].pid, SIGKILL) == 0)
			killed++;
	}
	return (killed);
}

/* Our direct children that are no job or helper of ours: orphans of
 * tasks, re-parented to us.  Returns how many (at most max). */
static size_t
sandbox_orphans(pid_t *out, size_t max)
{
	char	 path[64], buf[8192], *p, *end;
	long	 pid;
	size_t	 n = 0;

	snprintf(path, sizeof path, "/proc/self/task/%ld/children",
	    (long)getpid());
	if (sandbox_read(path, buf, sizeof buf) < 0)
		return ((size_t)-1);
	for (p = buf; n < max; p = end) {
		pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 1 && !executor_owns((pid_t)pid))
			out[n++] = (pid_t)pid;
	}
	return (n);
}

/* Kill the processes roots and all their descendants. */
void
sandbox_kill_trees(const pid_t *roots, size_t nroots)
{
	struct sandbox_proc	*v;
	size_t			 n, i, j;

	n = sandbox_procs(&v);
	for (i = 0; i < n; i++) {
		for (j = 0; j < nroots; j++) {
			if (v[i].pid == roots[j])
				v[i].kill = 1;
		}
	}
	sandbox_kill_marked(v, n);
	free(v);
}

/*
 * Subreaper mode: kill the task's process group; then, once its main
 * process is gone, every survivor of the task has been re-parented to us:
 * kill those of our orphans that belong to it (same session, or its
 * ENCORE_WORK_DIR in their environment) and all their descendants.
 */
static void
sandbox_sweep(struct sandbox *s)
{
	struct sandbox_proc	*v;
	pid_t			 orphans[256], sid, ppid;
	char			*want;
	size_t			 n, i, j, no;
	int			 killed, any = 0;

	if (s->pgid > 1)
		kill(-s->pgid, SIGKILL);
	xasprintf(&want, "ENCORE_WORK_DIR=%s", s->workdir);
	no = sandbox_orphans(orphans, sizeof orphans / sizeof orphans[0]);
	if (no != (size_t)-1) {
		for (i = j = 0; i < no; i++) {
			if ((sandbox_stat(orphans[i], &ppid, &sid, NULL) == 0 &&
			    s->pgid > 1 && sid == s->pgid) ||
			    sandbox_environ_has(orphans[i], want))
				orphans[j++] = orphans[i];
		}
		no = j;
		if (no == 0) {
			free(want);
			return;
		}
	}
	n = sandbox_procs(&v);
	for (i = 0; i < n; i++) {
		if (no == (size_t)-1) {
			/* No children file: judge every process. */
			if ((s->pgid > 1 && v[i].sid == s->pgid) ||
			    (v[i].ppid == getpid() &&
			    !executor_owns(v[i].pid) &&
			    sandbox_environ_has(v[i].pid, want)))
				v[i].kill = any = 1;
			continue;
		}
		for (j = 0; j < no; j++) {
			if (v[i].pid == orphans[j])
				v[i].kill = any = 1;
		}
	}
	killed = any ? sandbox_kill_marked(v, n) : 0;
	if (killed > 0)
		log_info("event=task_leftovers_killed workdir=\"%s\" "
		    "processes=%d", s->workdir, killed);
	free(v);
	free(want);
}

/* Kill every process of the task (its main process included). */
void
sandbox_kill(struct sandbox *s)
{
	if (s->path != NULL)
		sandbox_cgroup_kill(s->path);
	else if (sb.subreaper)
		sandbox_sweep(s);
	else if (s->pgid > 1)
		kill(-s->pgid, SIGKILL);
}

/* CPU seconds and peak memory of the task's cgroup; -1 when unknown. */
void
sandbox_usage(struct sandbox *s, double *cpu, int64_t *peak, int *oom)
{
	char	*file, buf[2048], *p;

	*cpu = -1;
	*peak = -1;
	*oom = 0;
	if (s->path == NULL)
		return;
	xasprintf(&file, "%s/cpu.stat", s->path);
	if (sandbox_read(file, buf, sizeof buf) > 0 &&
	    (p = strstr(buf, "usage_usec ")) != NULL)
		*cpu = strtod(p + 11, NULL) / 1e6;
	free(file);
	xasprintf(&file, "%s/memory.peak", s->path);
	if (sandbox_read(file, buf, sizeof buf) > 0)
		*peak = strtoll(buf, NULL, 10);
	free(file);
	xasprintf(&file, "%s/memory.events", s->path);
	if (sandbox_read(file, buf, sizeof buf) > 0 &&
	    (p = strstr(buf, "oom_kill ")) != NULL)
		*oom = atoi(p + 9) > 0;
	free(file);
}

/* The task is over: kill what is left and remove its cgroup. */
void
sandbox_free(struct sandbox *s)
{
	struct timeval	tv = { 0, SANDBOX_RMDIR_EVERY * 1000 };

	if (s == NULL)
		return;
	sandbox_kill(s);
	free(s->workdir);
	s->workdir = NULL;
	if (s->path == NULL || rmdir(s->path) == 0) {
		free(s->path);
		free(s);
		return;
	}
	/* Its processes are still dying: try again shortly. */
	TAILQ_INSERT_TAIL(&sandbox_gone, s, entry);
	if (sb.rmdir_ev != NULL && !evtimer_pending(sb.rmdir_ev, NULL))
		evtimer_add(sb.rmdir_ev, &tv);
}

/*
 * After a crash of the worker: kill what a task of the earlier run left,
 * by its cgroup if it had one, else by its session (pgid, for processes
 * started after start ticks) and by the ENCORE_WORK_DIR in the
 * environment of any process.
 */
void
sandbox_recover(const char *cgroup, const char *workdir, pid_t pgid,
    unsigned long long start)
{
	struct sandbox_proc	*v;
	unsigned long long	 st;
	pid_t			 pp, sid;
	char			*want;
	size_t			 n, i;
	int			 killed;

	if (cgroup != NULL && *cgroup != '\0' && sb.base != NULL &&
	    strncmp(cgroup, sb.base, strlen(sb.base)) == 0 &&
	    strstr(cgroup, "/..") == NULL)
		sandbox_cgroup_purge(cgroup);
	if (workdir == NULL || *workdir == '\0')
		return;
	xasprintf(&want, "ENCORE_WORK_DIR=%s", workdir);
	n = sandbox_procs(&v);
	for (i = 0; i < n; i++) {
		if (sandbox_stat(v[i].pid, &pp, &sid, &st) != 0 || st < start)
			continue;
		if ((pgid > 1 && v[i].sid == pgid) ||
		    sandbox_environ_has(v[i].pid, want))
			v[i].kill = 1;
	}
	killed = sandbox_kill_marked(v, n);
	if (killed > 0)
		log_info("event=leftovers_killed workdir=\"%s\" processes=%d",
		    workdir, killed);
	free(v);
	free(want);
}
