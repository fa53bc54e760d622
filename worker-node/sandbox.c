/* SPDX-License-Identifier: ISC */
/*
 * sandbox.c -- what holds a command task in, beyond its process group.
 *
 * Processes.  Where the worker may write its own cgroup v2 directory
 * (systemd Delegate=yes, or root with a writable cgroupfs, as in a
 * container), each command task runs alone in a cgroup, BASE/task-N, and
 * the whole cgroup is killed (cgroup.kill, else every pid in cgroup.procs)
 * when the task's main process ends, on cancel and on timeout: a daemon
 * the task started with setsid cannot escape.  Making and removing a
 * cgroup costs more than starting a small task, so a cgroup its task left
 * empty is kept, with its files open, for the next task; one that had to
 * be killed is removed instead (a child born with CLONE_INTO_CGROUP into
 * a cgroup killed before is itself killed at birth on some kernels: the
 * fork compares the kill count of the parent's cgroup with that of the
 * child's).  BASE is
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
 * and TMPDIR point there), in /tmp and /dev/shm, and read and execute
 * under the system paths below and in the directory of its program, so
 * the state directory (device.key, spool), which is none of these, is out
 * of reach.  /tmp is allowed because programs write there whatever
 * TMPDIR says and tasks use it to hand files to each other; a state
 * directory under /tmp is logged as unprotected.  The
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

/* Directories a task may also write: the shared temporary directory
 * (programs expect it, and tasks exchange files there) and POSIX shared
 * memory.  The state dir must not be beneath one (it is not by default:
 * sandbox_start() warns when it is). */
static const char *sandbox_rw_dirs[] = {
	"/tmp", "/dev/shm",
};

#define SANDBOX_SWEEP_MAX	4096	/* processes one sweep looks at */
#define SANDBOX_IDLE_MAX	(wconf.slots + 2)	/* empty cgroups kept */

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
} sb;

/*
 * Rulesets already built, by the working directory they name: working
 * directories are kept and renamed for later tasks (spooler.c), and a
 * rule names the directory itself, not its path, so a task in a kept
 * directory reuses its ruleset (landlock_restrict_self copies it) instead
 * of fifteen system calls to build one.  The ruleset holds the directory,
 * so its (dev, ino) cannot name another one meanwhile.  Only rulesets
 * with nothing of the task's program in them are kept; the oldest goes
 * when all slots are taken.
 */
#define SANDBOX_LL_CACHE 32
static struct sandbox_ll {
	dev_t	dev;
	ino_t	ino;
	int	fd;		/* 0: a free slot (ours are 3 and up) */
} sandbox_ll[SANDBOX_LL_CACHE];
static unsigned	sandbox_ll_next;	/* the next slot to take */

/*
 * A task cgroup, BASE/task-N, kept for the next task once it is empty.
 * path is owned; the descriptors are kept open so a task costs no open:
 * dir (the directory, for CLONE_INTO_CGROUP), procs (cgroup.procs,
 * written by the child without clone3), kill (cgroup.kill, -1 before
 * Linux 5.14), events (cgroup.events), cpu (cpu.stat), memev
 * (memory.events, -1 without the memory controller).
 */
struct sandbox_cg {
	char			*path;
	int			 dir_fd;
	int			 procs_fd;
	int			 kill_fd;
	int			 events_fd;
	int			 cpu_fd;
	int			 memev_fd;
	double			 cpu_base;	/* s used before this task */
	long			 oom_base;	/* oom kills before it */
	int			 killed;	/* cgroup.kill was written */
	TAILQ_ENTRY(sandbox_cg)	 entry;
};
TAILQ_HEAD(sandbox_cgs, sandbox_cg);

/* One task's confinement.  cg (NULL without cgroups) and workdir are
 * owned until sandbox_free() hands cg back to the pool. */
struct sandbox {
	struct sandbox_cg	*cg;
	char			*workdir;
	pid_t			 pgid;		/* -1 until spawned */
	int			 swept;		/* subreaper sweep done */
	int			 frozen;	/* cgroup.freeze is 1 */
};

static struct sandbox_cgs	 sandbox_idle = TAILQ_HEAD_INITIALIZER(
    sandbox_idle);			/* empty, ready */
static struct sandbox_cgs	 sandbox_doomed = TAILQ_HEAD_INITIALIZER(
    sandbox_doomed);			/* killed, removed once empty */
static int			 sandbox_n_idle;
static unsigned			 sandbox_next_cg;

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

/* 1 if path is dir or beneath it. */
static int
sandbox_beneath(const char *path, const char *dir)
{
	size_t	n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return (1);
	return (strncmp(path, dir, n) == 0 && (path[n] == '/' ||
	    path[n] == '\0'));
}

/* Open the read-only system paths that exist, once each: a path that
 * resolves beneath another (/bin -> /usr/bin with a merged /usr) needs
 * no rule of its own. */
static void
sandbox_landlock_ro_paths(void)
{
	char	*real[sizeof sandbox_ro_paths / sizeof *sandbox_ro_paths];
	size_t	 i, j, n = sizeof sandbox_ro_paths / sizeof *sandbox_ro_paths;

	for (i = 0; i < n; i++)
		real[i] = realpath(sandbox_ro_paths[i], NULL);
	for (i = 0; i < n; i++) {
		if (real[i] == NULL)
			continue;
		for (j = 0; j < n; j++) {
			if (j == i || real[j] == NULL)
				continue;
			if (sandbox_beneath(real[i], real[j]) &&
			    (strcmp(real[i], real[j]) != 0 || j < i))
				break;
		}
		if (j == n)
			sb.ro_fds[i] = open(real[i], O_PATH|O_CLOEXEC);
	}
	for (i = 0; i < n; i++)
		free(real[i]);
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
	sandbox_landlock_ro_paths();
	for (i = 0; i < sizeof sandbox_rw_files / sizeof *sandbox_rw_files;
	    i++)
		sb.rwf_fds[i] = open(sandbox_rw_files[i], O_PATH|O_CLOEXEC);
	for (i = 0; i < sizeof sandbox_rw_dirs / sizeof *sandbox_rw_dirs; i++)
		sb.rwd_fds[i] = open(sandbox_rw_dirs[i],
		    O_PATH|O_DIRECTORY|O_CLOEXEC);
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
	if (sb.ll_abi > 0) {
		log_info("event=sandbox files=landlock abi=%d", sb.ll_abi);
		for (i = 0; i < sizeof sandbox_rw_dirs /
		    sizeof sandbox_rw_dirs[0]; i++) {
			if (sandbox_beneath(wconf.state_dir, sandbox_rw_dirs[i]))
				log_warn("event=sandbox_weak state_dir=\"%s\" "
				    "msg=\"the state directory is under %s, "
				    "which command tasks may write: they can read "
				    "device.key; use a --state-dir outside it\"",
				    wconf.state_dir, sandbox_rw_dirs[i]);
		}
	} else
		log_warn("event=sandbox files=unrestricted msg=\"no Landlock "
		    "(Linux >= 5.13 with landlock in CONFIG_LSM, or it was "
		    "turned off): command tasks can read and write every file "
		    "the worker's user can, its device.key and spool "
		    "included\"");
	sandbox_purge_base();
}

/* Close a pooled cgroup's files and remove it (its tasks are over). */
static void
sandbox_cg_destroy(struct sandbox_cg *cg, int wait)
{
	if (cg->dir_fd != -1)
		close(cg->dir_fd);
	if (cg->procs_fd != -1)
		close(cg->procs_fd);
	if (cg->kill_fd != -1)
		close(cg->kill_fd);
	if (cg->events_fd != -1)
		close(cg->events_fd);
	if (cg->cpu_fd != -1)
		close(cg->cpu_fd);
	if (cg->memev_fd != -1)
		close(cg->memev_fd);
	if (wait)
		sandbox_cgroup_purge(cg->path);
	else if (rmdir(cg->path) != 0 && errno != ENOENT)
		log_debug("event=cgroup_not_removed dir=\"%s\" error=\"%s\"",
		    cg->path, strerror(errno));
	free(cg->path);
	free(cg);
}

/* Close what sandbox_start() opened; remove the pool and BASE. */
void
sandbox_stop(void)
{
	struct sandbox_cg	*cg;
	size_t			 i;

	while ((cg = TAILQ_FIRST(&sandbox_idle)) != NULL) {
		TAILQ_REMOVE(&sandbox_idle, cg, entry);
		sandbox_cg_destroy(cg, 0);
	}
	sandbox_n_idle = 0;
	while ((cg = TAILQ_FIRST(&sandbox_doomed)) != NULL) {
		TAILQ_REMOVE(&sandbox_doomed, cg, entry);
		sandbox_cg_destroy(cg, 1);
	}
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
	for (i = 0; i < SANDBOX_LL_CACHE; i++) {
		if (sandbox_ll[i].fd > 0)
			close(sandbox_ll[i].fd);
		sandbox_ll[i].fd = 0;
	}
}

/* 1 when limits.memory_mb becomes the cgroup's memory.max. */
int
sandbox_has_memory_cgroup(void)
{
	return (sb.cgroup && sb.memory);
}

/* Read a kept-open cgroup file from its start into buf; bytes or -1. */
static ssize_t
sandbox_pread(int fd, char *buf, size_t size)
{
	ssize_t	n;

	if (fd == -1 || (n = pread(fd, buf, size - 1, 0)) < 0)
		return (-1);
	buf[n] = '\0';
	return (n);
}

/* The value after "key " in a flat-keyed cgroup file; -1 if absent. */
static double
sandbox_key(int fd, const char *key)
{
	char	 buf[2048], *p;
	size_t	 n = strlen(key);

	if (sandbox_pread(fd, buf, sizeof buf) <= 0)
		return (-1);
	for (p = buf; p != NULL; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return (strtod(p + n + 1, NULL));
	}
	return (-1);
}

/* 1 while processes are left in a pooled cgroup. */
static int
sandbox_cg_populated(struct sandbox_cg *cg)
{
	return (sandbox_key(cg->events_fd, "populated") != 0);
}

/* Open a file of a cgroup directory, or -1. */
static int
sandbox_cg_open(const char *dir, const char *name, int flags)
{
	char	*file;
	int	 fd;

	xasprintf(&file, "%s/%s", dir, name);
	fd = open(file, flags|O_CLOEXEC);
	free(file);
	return (fd);
}

/* A new pooled cgroup, BASE/task-N; NULL with *cause. */
static struct sandbox_cg *
sandbox_cg_new(char **cause)
{
	struct sandbox_cg	*cg = xcalloc(1, sizeof *cg);

	xasprintf(&cg->path, "%s/task-%u", sb.base, sandbox_next_cg++);
	if (mkdir(cg->path, 0755) != 0 && errno == EEXIST)
		sandbox_cgroup_purge(cg->path);	/* not ours: an old run's */
	if (access(cg->path, F_OK) != 0 && mkdir(cg->path, 0755) != 0) {
		xasprintf(cause, "cannot create the task's cgroup %s: %s",
		    cg->path, strerror(errno));
		free(cg->path);
		free(cg);
		return (NULL);
	}
	cg->dir_fd = open(cg->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
	cg->procs_fd = sandbox_cg_open(cg->path, "cgroup.procs", O_WRONLY);
	cg->kill_fd = sandbox_cg_open(cg->path, "cgroup.kill", O_WRONLY);
	cg->events_fd = sandbox_cg_open(cg->path, "cgroup.events", O_RDONLY);
	cg->cpu_fd = sandbox_cg_open(cg->path, "cpu.stat", O_RDONLY);
	cg->memev_fd = sb.memory ? sandbox_cg_open(cg->path, "memory.events",
	    O_RDONLY) : -1;
	if (cg->dir_fd == -1 || cg->procs_fd == -1 || cg->events_fd == -1) {
		xasprintf(cause, "cannot open the files of the task's cgroup "
		    "%s: %s", cg->path, strerror(errno));
		sandbox_cg_destroy(cg, 0);
		return (NULL);
	}
	return (cg);
}

/* Remove the killed cgroups that are empty by now. */
static void
sandbox_cg_reap(void)
{
	struct sandbox_cg	*cg, *next;

	for (cg = TAILQ_FIRST(&sandbox_doomed); cg != NULL; cg = next) {
		next = TAILQ_NEXT(cg, entry);
		if (sandbox_cg_populated(cg)) {
			if (cg->kill_fd == -1)
				sandbox_cgroup_kill(cg->path);
			continue;
		}
		TAILQ_REMOVE(&sandbox_doomed, cg, entry);
		sandbox_cg_destroy(cg, 0);
	}
}

/* An empty cgroup for a task: a kept one, else a new one. */
static struct sandbox_cg *
sandbox_cg_get(char **cause)
{
	struct sandbox_cg	*cg;

	sandbox_cg_reap();
	if ((cg = TAILQ_FIRST(&sandbox_idle)) != NULL) {
		TAILQ_REMOVE(&sandbox_idle, cg, entry);
		sandbox_n_idle--;
		return (cg);
	}
	return (sandbox_cg_new(cause));
}

/* Set (or lift) a limit file of a cgroup for its next task. */
static int
sandbox_cg_limit(struct sandbox_cg *cg, const char *name, long long v,
    char **cause)
{
	char	*file, val[32];
	int	 r;

	if (v > 0)
		snprintf(val, sizeof val, "%lld", v);
	else
		snprintf(val, sizeof val, "max");
	xasprintf(&file, "%s/%s", cg->path, name);
	if ((r = sandbox_write(file, val)) != 0)
		xasprintf(cause, "cannot set %s: %s", file, strerror(errno));
	free(file);
	return (r);
}

/* Confinement of a new command task (its cgroup ready, with the limits),
 * or NULL with *cause. */
struct sandbox *
sandbox_new(const char *workdir, int memory_mb, int pids, char **cause)
{
	struct sandbox	*s;

	s = xcalloc(1, sizeof *s);
	s->pgid = -1;
	s->workdir = xstrdup(workdir);
	if (!sb.cgroup)
		return (s);
	if ((s->cg = sandbox_cg_get(cause)) == NULL)
		goto fail;
	if (sb.memory) {
		if (sandbox_cg_limit(s->cg, "memory.max",
		    (long long)memory_mb * 1024 * 1024, cause) != 0)
			goto fail;
		if (memory_mb > 0) {
			char *ignore = NULL;

			sandbox_cg_limit(s->cg, "memory.swap.max", 0, &ignore);
			free(ignore);
		} else {
			char *ignore = NULL;

			sandbox_cg_limit(s->cg, "memory.swap.max", -1, &ignore);
			free(ignore);
		}
		if (memory_mb > 0) {
			char *file;

			xasprintf(&file, "%s/memory.oom.group", s->cg->path);
			sandbox_write(file, "1");
			free(file);
		}
		s->cg->oom_base = (long)sandbox_key(s->cg->memev_fd,
		    "oom_kill");
	}
	if (sb.pids && sandbox_cg_limit(s->cg, "pids.max", pids, cause) != 0)
		goto fail;
	return (s);
fail:
	sandbox_free(s);
	return (NULL);
}

/* The task cgroup's directory, or NULL. */
const char *
sandbox_cgroup(struct sandbox *s)
{
	return (s->cg != NULL ? s->cg->path : NULL);
}

/* The task cgroup's cgroup.procs for the child to enter (borrowed: the
 * caller does not close it), or -1. */
int
sandbox_procs_fd(struct sandbox *s)
{
	return (s->cg != NULL ? s->cg->procs_fd : -1);
}

/* The task cgroup's directory, to be born in (borrowed), or -1. */
int
sandbox_dir_fd(struct sandbox *s)
{
	return (s->cg != NULL ? s->cg->dir_fd : -1);
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
 * The directory of exe when the task's ruleset must name it too: exe is
 * named outside the system paths (the operator chose it), but is not in
 * the state dir.  NULL if not (caller frees).
 */
static char *
sandbox_exe_dir(const char *exe)
{
	char	*dir, *slash;
	size_t	 i;

	if (exe == NULL || *exe != '/')
		return (NULL);
	dir = xstrdup(exe);
	slash = strrchr(dir, '/');
	*slash = '\0';
	for (i = 0; i < sizeof sandbox_ro_paths / sizeof *sandbox_ro_paths;
	    i++) {
		if (sandbox_beneath(dir, sandbox_ro_paths[i]))
			break;	/* a system path already */
	}
	if (*dir == '\0' || i < sizeof sandbox_ro_paths /
	    sizeof *sandbox_ro_paths || sandbox_beneath(dir, wconf.state_dir) ||
	    sandbox_beneath(wconf.state_dir, dir)) {
		free(dir);
		return (NULL);
	}
	return (dir);
}

/* A new ruleset: the worker's own rules, then one for wd_fd. */
static int
sandbox_ll_build(int wd_fd)
{
	struct ll_ruleset_attr	 attr;
	size_t			 i;
	int			 rs;

	attr.handled_access_fs = sb.ll_handled;
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (rs < 0)
		return (-1);
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
	if (sandbox_ll_rule(rs, wd_fd, sb.ll_handled) != 0)
		goto fail;
	return (rs);
fail:
	close(rs);
	return (-1);
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
	struct sandbox_ll	*c;
	struct stat		 st;
	char			*dir;
	size_t			 i;
	int			 rs, fd, wd;

	if (sb.ll_abi < 1)
		return (-1);
	dir = sandbox_exe_dir(exe);
	if (dir == NULL && stat(s->workdir, &st) == 0) {
		for (i = 0; i < SANDBOX_LL_CACHE; i++) {
			c = &sandbox_ll[i];
			if (c->fd > 0 && c->ino == st.st_ino &&
			    c->dev == st.st_dev &&
			    (rs = fcntl(c->fd, F_DUPFD_CLOEXEC, 3)) != -1)
				return (rs);
		}
	}
	if ((wd = open(s->workdir, O_PATH|O_DIRECTORY|O_CLOEXEC)) == -1 ||
	    (rs = sandbox_ll_build(wd)) == -1) {
		xasprintf(cause, "cannot build the Landlock ruleset: %s",
		    strerror(errno));
		if (wd != -1)
			close(wd);
		free(dir);
		return (-2);
	}
	if (dir != NULL) {
		if ((fd = open(dir, O_PATH|O_DIRECTORY|O_CLOEXEC)) != -1) {
			sandbox_ll_rule(rs, fd, LL_READ);
			close(fd);
		}
		free(dir);
	} else if (fstat(wd, &st) == 0) {
		c = &sandbox_ll[sandbox_ll_next++ % SANDBOX_LL_CACHE];
		if (c->fd > 0)
			close(c->fd);
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		if ((c->fd = fcntl(rs, F_DUPFD_CLOEXEC, 3)) == -1)
			c->fd = 0;
	}
	close(wd);
	return (rs);
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

/*
 * Freeze or thaw the task's cgroup (cgroup.freeze, Linux >= 5.2): every
 * process of the task stops where it is, those that left its session
 * too.  Returns -1 without a cgroup or its freeze file: the caller stops
 * the process group instead.
 */
int
sandbox_freeze(struct sandbox *s, int frozen)
{
	char	*file;
	int	 r;

	if (s->cg == NULL)
		return (-1);
	if (s->frozen == frozen)
		return (0);
	xasprintf(&file, "%s/cgroup.freeze", s->cg->path);
	r = sandbox_write(file, frozen ? "1" : "0");
	if (r != 0)
		log_debug("event=cgroup_freeze dir=\"%s\" frozen=%d "
		    "error=\"%s\"", s->cg->path, frozen, strerror(errno));
	free(file);
	if (r == 0)
		s->frozen = frozen;
	return (r);
}

/* utime + stime + cutime + cstime of a process, in s; -1 if unknown. */
static double
sandbox_proc_cpu(pid_t pid)
{
	static long	 hz;
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	long		 cut, cst;

	if (hz <= 0 && (hz = sysconf(_SC_CLK_TCK)) <= 0)
		hz = 100;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if (sandbox_read(path, buf, sizeof buf) <= 0 ||
	    (p = strrchr(buf, ')')) == NULL)
		return (-1);
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu "
	    "%lu %ld %ld", &ut, &st, &cut, &cst) != 4)
		return (-1);
	return ((double)(ut + st) / hz + (double)(cut + cst) / hz);
}

/* CPU s the task used so far: its cgroup's cpu.stat, else its main
 * process and the children that process waited for; -1: unknown. */
double
sandbox_cpu(struct sandbox *s)
{
	double	v;

	if (s->cg != NULL) {
		if ((v = sandbox_key(s->cg->cpu_fd, "usage_usec")) < 0)
			return (-1);
		return (v / 1e6 - s->cg->cpu_base);
	}
	if (s->pgid <= 1)
		return (-1);
	return (sandbox_proc_cpu(s->pgid));
}

/* Kill every process of the task (its main process included). */
void
sandbox_kill(struct sandbox *s)
{
	if (s->cg != NULL) {
		/* Nothing left (the common end): nothing to kill, and the
		 * cgroup can be kept for the next task. */
		if (!sandbox_cg_populated(s->cg)) {
			sandbox_freeze(s, 0);
			return;
		}
		s->cg->killed = 1;
		if (s->cg->kill_fd == -1 || pwrite(s->cg->kill_fd, "1", 1,
		    0) != 1)
			sandbox_cgroup_kill(s->cg->path);
	} else if (sb.subreaper) {
		sandbox_sweep(s);
		s->swept = 1;
	} else if (s->pgid > 1)
		kill(-s->pgid, SIGKILL);
}

/* CPU seconds of the task's cgroup (-1: unknown); oom set when the
 * kernel killed in it for memory.  Peak memory is not known (-1): a kept
 * cgroup's memory.peak covers earlier tasks too. */
void
sandbox_usage(struct sandbox *s, double *cpu, int64_t *peak, int *oom)
{
	double	v;

	*cpu = -1;
	*peak = -1;
	*oom = 0;
	if (s->cg == NULL)
		return;
	if ((v = sandbox_key(s->cg->cpu_fd, "usage_usec")) >= 0) {
		*cpu = v / 1e6 - s->cg->cpu_base;
		s->cg->cpu_base = v / 1e6;
	}
	if (s->cg->memev_fd != -1)
		*oom = (long)sandbox_key(s->cg->memev_fd, "oom_kill") >
		    s->cg->oom_base;
}

/* The task is over: kill what is left; its cgroup goes back to the pool
 * if it was never killed (else, or when the pool is full, it is
 * removed). */
void
sandbox_free(struct sandbox *s)
{
	struct sandbox_cg	*cg;

	if (s == NULL)
		return;
	if ((cg = s->cg) != NULL) {
		sandbox_kill(s);
		if (s->frozen && !cg->killed)
			sandbox_freeze(s, 0);
		if (cg->killed) {
			TAILQ_INSERT_TAIL(&sandbox_doomed, cg, entry);
			sandbox_cg_reap();
		} else if (sandbox_n_idle >= SANDBOX_IDLE_MAX)
			sandbox_cg_destroy(cg, 0);
		else {
			TAILQ_INSERT_TAIL(&sandbox_idle, cg, entry);
			sandbox_n_idle++;
		}
	} else if (!s->swept && s->pgid > 1)
		sandbox_kill(s);
	free(s->workdir);
	free(s);
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
