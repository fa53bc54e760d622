/* SPDX-License-Identifier: ISC */
/*
 * stage.c -- a task's files on this device.
 *
 * In: before a task starts, its inputs and its last checkpoint are taken
 * from the cache (checked, cache.c) or fetched into it (files.c), pinned
 * so no other fetch drops them, then put in its working directory under
 * their names: directories made, the mode's permission bits applied
 * (never set-id bits), a hard link to the cached file when its mode is
 * the wanted one or can be made so, else a copy.  Every name is walked a
 * directory at a time with O_NOFOLLOW, so a symbolic link can never take
 * a file out of the working directory; a checkpoint's file replaces an
 * input of the same name.
 *
 * Out: when a task ends, the regular files its `outputs` patterns match
 * (glob(3) against the working directory: `*` does not cross `/` nor
 * match a leading `.`) are hashed a slice at a time and hard-linked into
 * the cache, where they stay, pinned, until the main node acknowledged
 * the result that names them.  Checkpoints are found the same way but
 * copied (hashed as they are copied), because the task runs again in the
 * same directory and may write the same files in place.  A name reached
 * through a symbolic link is not a match.
 *
 * Each operation reports once, from the loop (never from inside the call
 * that started it), and is freed after it reported; a cancel frees it
 * without a report.
 */
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "protocol.h"
#include "worker.h"

#define STAGE_COPY_BUF	(256 * 1024)

enum stage_kind {
	STAGE_IN,	/* fetch and place inputs */
	STAGE_OUT,	/* find, hash and link outputs */
	STAGE_CKPT,	/* find, copy and hash checkpoint files */
};

/* A distinct file an input stage needs.  e is pinned once ready. */
struct stage_need {
	struct stage		*st;
	char			 sha[PROTO_SHA256_HEX + 1];
	int64_t			 size;
	struct centry		*e;
	struct fetch_wait	*fw;
	int			 checking;
	int			 ready;
};

/*
 * One operation.  All pointers are owned; files holds the inputs then the
 * checkpoint's files (in), or what was found (out, ckpt: sha256 filled as
 * each is hashed, its cache entry pinned in pins[]).
 */
struct stage {
	enum stage_kind		 kind;
	char			*workdir;
	char			*log_id;
	struct proto_file	*files;
	size_t			 n;
	struct stage_need	*need;		/* in */
	size_t			 nneed;
	size_t			 left;
	struct centry		**pins;		/* out, ckpt: per file */
	size_t			 cur;		/* out, ckpt: being hashed */
	int			 fd;		/* its bytes */
	int			 pdfd;		/* its directory */
	int			 tmpfd;		/* the copy being made */
	const char		*base;		/* in: its name in pdfd */
	char			 tmp[PATH_MAX];	/* out, ckpt: in the cache */
	int			 tmp_made;
	struct hash		*h;
	struct hash_job		*job;
	char			*error;
	char			*missing;	/* out: "missing output P" */
	struct event		*ev;		/* the report, deferred */
	int			 ended;
	void			(*in_done)(void *, const char *);
	void			(*out_done)(void *, const struct proto_file *,
				    size_t, const char *);
	void			*arg;
};

static void	stage_next(struct stage *);

/* Free a stage and what it holds. */
static void
stage_free(struct stage *st)
{
	size_t	i;

	for (i = 0; i < st->nneed; i++) {
		files_fetch_cancel(st->need[i].fw);
		if (st->need[i].checking)
			cache_check_cancel(st->need[i].e, &st->need[i]);
		cache_unpin(st->need[i].e);
	}
	for (i = 0; st->pins != NULL && i < st->n; i++)
		cache_unpin(st->pins[i]);
	hash_job_cancel(st->job);
	hash_free(st->h);
	if (st->fd != -1)
		close(st->fd);
	if (st->tmpfd != -1) {
		close(st->tmpfd);
		if (st->kind == STAGE_IN)
			unlinkat(st->pdfd, st->base, 0);
	}
	if (st->pdfd != -1)
		close(st->pdfd);
	if (st->tmp_made)
		unlink(st->tmp);
	proto_files_free(st->files, st->n);
	free(st->need);
	free(st->pins);
	free(st->error);
	free(st->missing);
	free(st->workdir);
	free(st->log_id);
	if (st->ev != NULL)
		event_free(st->ev);
	free(st);
}

/* Report (deferred from stage_end), then free. */
static void
stage_report_cb(evutil_socket_t fd, short events, void *arg)
{
	struct stage	*st = arg;

	if (st->kind == STAGE_IN)
		st->in_done(st->arg, st->error);
	else if (st->error != NULL)
		st->out_done(st->arg, NULL, 0, st->error);
	else
		st->out_done(st->arg, st->files, st->n, st->missing);
	stage_free(st);
}

/* The stage is over (error NULL: it worked): report from the loop. */
static void
stage_end(struct stage *st, const char *error)
{
	size_t	i;

	if (st->ended)
		return;
	st->ended = 1;
	if (error != NULL && st->error == NULL)
		st->error = xstrdup(error);
	for (i = 0; i < st->nneed; i++) {
		files_fetch_cancel(st->need[i].fw);
		st->need[i].fw = NULL;
		if (st->need[i].checking)
			cache_check_cancel(st->need[i].e, &st->need[i]);
		st->need[i].checking = 0;
	}
	event_active(st->ev, EV_TIMEOUT, 0);
}

/* Stop a stage; it never reports. */
void
stage_cancel(struct stage *st)
{
	if (st != NULL)
		stage_free(st);
}

static struct stage *
stage_new(enum stage_kind kind, const char *log_id, const char *workdir)
{
	struct stage	*st = xcalloc(1, sizeof *st);

	st->kind = kind;
	st->workdir = xstrdup(workdir);
	st->log_id = xstrdup(log_id);
	st->fd = st->pdfd = st->tmpfd = -1;
	st->ev = event_new(worker_base, -1, 0, stage_report_cb, st);
	return (st);
}

/*
 * Walk name (a checked relative path) under the directory rootfd, one
 * directory at a time, never following a symbolic link; with mk the
 * missing directories are made.  The last directory's descriptor goes to
 * *pdfd (caller closes) and *base points at the last component.  0, or
 * -1 with errno (ELOOP or ENOTDIR: something not a directory is in the
 * way).
 */
static int
stage_walk(int rootfd, const char *name, int mk, int *pdfd, const char **base)
{
	char		 comp[PROTO_FILE_NAME_MAX + 1];
	const char	*p, *slash;
	int		 d, nd, saved;
	size_t		 len;

	if ((d = dup(rootfd)) == -1)
		return (-1);
	for (p = name; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		len = (size_t)(slash - p);
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (mk && mkdirat(d, comp, 0755) != 0 && errno != EEXIST)
			goto fail;
		nd = openat(d, comp, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
		if (nd == -1)
			goto fail;
		close(d);
		d = nd;
	}
	*pdfd = d;
	*base = p;
	return (0);
fail:
	saved = errno;
	close(d);
	errno = saved;
	return (-1);
}

/* The error text of a failed placement. */
static void
stage_place_error(const char *name, const char *what, int err, char *buf,
    size_t size)
{
	if (err == ENOSPC || err == EDQUOT)
		snprintf(buf, size, "cannot place input %s: the device's disk "
		    "is full (free space in the worker's state dir %s)", name,
		    wconf.state_dir);
	else if (err == ELOOP || err == ENOTDIR)
		snprintf(buf, size, "cannot place input %s: %s is not a "
		    "directory in the working directory (a file or a "
		    "symbolic link is in the way)", name, what);
	else
		snprintf(buf, size, "cannot place input %s: %s: %s", name, what,
		    strerror(err));
}

static void	stage_place(struct stage *);

/* A copy of a cached file into the working directory is done: it must
 * hash to its name (a cached file can change under us). */
static void
stage_copied(void *arg, int err, int64_t n)
{
	struct stage		*st = arg;
	struct proto_file	*f = &st->files[st->cur];
	char			 got[PROTO_SHA256_HEX + 1];
	char			 why[PROTO_FILE_NAME_MAX + 256];

	st->job = NULL;
	hash_final(st->h, got);
	if (err == 0 && (n != f->size || strcmp(got, f->sha256) != 0))
		err = EIO;
	if (err == 0 && fchmod(st->tmpfd, (mode_t)f->mode & 0777) != 0)
		err = errno;
	if (close(st->tmpfd) != 0 && err == 0)
		err = errno;
	st->tmpfd = -1;
	close(st->fd);
	st->fd = -1;
	if (err != 0)
		unlinkat(st->pdfd, st->base, 0);
	close(st->pdfd);
	st->pdfd = -1;
	if (err != 0) {
		stage_place_error(f->name, "copying it", err, why, sizeof why);
		stage_end(st, why);
		return;
	}
	st->cur++;
	stage_place(st);
}

/*
 * Put one cached file at its name under rootfd: 0 done, 1 a copy was
 * started (stage_copied goes on), -1 with why.
 */
static int
stage_place_one(struct stage *st, int rootfd, const struct proto_file *f,
    char *why, size_t size)
{
	char		 cpath[PATH_MAX];
	const char	*base;
	struct stat	 sb;
	mode_t		 want = (mode_t)f->mode & 0777;
	int		 d;

	if (stage_walk(rootfd, f->name, 1, &d, &base) != 0) {
		stage_place_error(f->name, "a directory of its path", errno,
		    why, size);
		return (-1);
	}
	if (unlinkat(d, base, 0) != 0 && errno != ENOENT) {
		stage_place_error(f->name, "the name is taken by a directory",
		    errno == EISDIR ? EEXIST : errno, why, size);
		close(d);
		return (-1);
	}
	cache_path(f->sha256, cpath, sizeof cpath);
	if (lstat(cpath, &sb) != 0) {
		stage_place_error(f->name, "its cached copy", errno, why, size);
		close(d);
		return (-1);
	}
	/* One inode, one mode: link when its mode is ours or can be made
	 * ours (nobody else links it now). */
	if ((sb.st_mode & 07777) != want && sb.st_nlink == 1 &&
	    chmod(cpath, want) == 0)
		sb.st_mode = (sb.st_mode & ~07777) | want;
	if ((sb.st_mode & 07777) == want &&
	    linkat(AT_FDCWD, cpath, d, base, 0) == 0) {
		close(d);
		return (0);
	}
	/* Else a copy, a slice per loop turn, checked as it goes. */
	st->fd = open(cpath, O_RDONLY|O_CLOEXEC|O_NOFOLLOW);
	if (st->fd != -1)
		st->tmpfd = openat(d, base, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|
		    O_CLOEXEC, 0600);
	if (st->fd == -1 || st->tmpfd == -1) {
		stage_place_error(f->name, "copying it", errno, why, size);
		if (st->fd != -1)
			close(st->fd);
		st->fd = -1;
		close(d);
		return (-1);
	}
	st->pdfd = d;
	st->base = base;
	log_debug("event=task_file_copy task=%s name=\"%s\" sha256=%.12s "
	    "mode=%o", st->log_id, f->name, f->sha256, (unsigned)want);
	if (st->h == NULL)
		st->h = hash_new();
	hash_reset(st->h);
	st->job = hash_job_start(st->fd, 0, -1, st->h, st->tmpfd,
	    stage_copied, st);
	return (1);
}

/* Every file needed is ready and pinned: put them in place, from
 * st->cur on. */
static void
stage_place(struct stage *st)
{
	char	why[PROTO_FILE_NAME_MAX + PATH_MAX + 256];
	int	rootfd, r;

	rootfd = open(st->workdir, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
	if (rootfd == -1) {
		snprintf(why, sizeof why, "cannot open the working directory "
		    "%s: %s", st->workdir, strerror(errno));
		stage_end(st, why);
		return;
	}
	for (; st->cur < st->n; st->cur++) {
		r = stage_place_one(st, rootfd, &st->files[st->cur], why,
		    sizeof why);
		if (r == 1) {
			close(rootfd);
			return;		/* a copy: stage_copied goes on */
		}
		if (r != 0) {
			close(rootfd);
			stage_end(st, why);
			return;
		}
	}
	close(rootfd);
	log_info("event=task_files_placed task=%s files=%zu", st->log_id,
	    st->n);
	stage_end(st, NULL);
}

/* A needed file is in the cache and pinned. */
static void
stage_need_ready(struct stage_need *nd)
{
	nd->ready = 1;
	cache_use(nd->e);
	if (--nd->st->left == 0 && !nd->st->ended)
		stage_place(nd->st);
}

static void	stage_need_fetch(struct stage_need *);

/* A fetch for a needed file ended. */
static void
stage_need_fetched(void *arg, const char *err)
{
	struct stage_need	*nd = arg;

	nd->fw = NULL;
	if (nd->st->ended)
		return;
	if (err != NULL) {
		stage_end(nd->st, err);
		return;
	}
	if ((nd->e = cache_find(nd->sha)) == NULL) {
		stage_end(nd->st, "a fetched file left the cache at once");
		return;
	}
	cache_pin(nd->e);
	stage_need_ready(nd);
}

/* Fetch a needed file. */
static void
stage_need_fetch(struct stage_need *nd)
{
	char	*cause = NULL;

	nd->fw = files_fetch(nd->sha, nd->size, stage_need_fetched, nd,
	    &cause);
	if (nd->fw == NULL) {
		stage_end(nd->st, cause);
		free(cause);
	}
}

/* A cached file was checked again. */
static void
stage_need_checked(void *arg, int ok)
{
	struct stage_need	*nd = arg;

	nd->checking = 0;
	if (nd->st->ended)
		return;
	if (ok) {
		stage_need_ready(nd);
		return;
	}
	cache_unpin(nd->e);
	nd->e = NULL;
	stage_need_fetch(nd);
}

/*
 * Fetch (or take from the cache) a task's inputs and its checkpoint's
 * files and put them in workdir; done(arg, err) from the loop once they
 * are there (err NULL) or cannot be (err says why).
 */
struct stage *
stage_in(const char *log_id, const char *workdir, const struct proto_file *in,
    size_t nin, const struct proto_file *ck, size_t nck,
    void (*done)(void *, const char *), void *arg)
{
	struct stage		*st = stage_new(STAGE_IN, log_id, workdir);
	struct stage_need	*nd;
	struct centry		*e;
	size_t			 i, j;
	int			 r;

	st->in_done = done;
	st->arg = arg;
	st->n = nin + nck;
	st->files = xcalloc(st->n > 0 ? st->n : 1, sizeof *st->files);
	for (i = 0; i < st->n; i++) {
		const struct proto_file *f = i < nin ? &in[i] : &ck[i - nin];

		st->files[i].name = xstrdup(f->name);
		st->files[i].sha256 = xstrdup(f->sha256);
		st->files[i].size = f->size;
		st->files[i].mode = f->mode;
	}
	st->need = xcalloc(st->n > 0 ? st->n : 1, sizeof *st->need);
	for (i = 0; i < st->n; i++) {
		for (j = 0; j < st->nneed; j++) {
			if (strcmp(st->need[j].sha, st->files[i].sha256) == 0)
				break;
		}
		if (j < st->nneed)
			continue;
		nd = &st->need[st->nneed++];
		nd->st = st;
		snprintf(nd->sha, sizeof nd->sha, "%s", st->files[i].sha256);
		nd->size = st->files[i].size;
	}
	st->left = st->nneed;
	if (st->nneed == 0) {
		stage_place(st);
		return (st);
	}
	/* Pin what the cache holds first: making room for the others must
	 * not drop it. */
	for (i = 0; i < st->nneed; i++) {
		nd = &st->need[i];
		if ((e = cache_find(nd->sha)) != NULL &&
		    cache_entry_size(e) == nd->size) {
			nd->e = e;
			cache_pin(e);
		}
	}
	for (i = 0; i < st->nneed && !st->ended; i++) {
		nd = &st->need[i];
		if ((e = nd->e) != NULL) {
			if ((r = cache_check(e, stage_need_checked, nd)) == 1) {
				stage_need_ready(nd);
				continue;
			}
			if (r == 0) {
				nd->checking = 1;
				continue;
			}
			cache_unpin(e);
			nd->e = NULL;
		}
		stage_need_fetch(nd);
	}
	return (st);
}

/* ---- outputs and checkpoints ---- */

/* s with glob's special characters escaped (caller frees). */
static char *
stage_glob_escape(const char *s)
{
	char	*out = xmalloc(strlen(s) * 2 + 1), *o = out;

	for (; *s != '\0'; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			*o++ = '\\';
		*o++ = *s;
	}
	*o = '\0';
	return (out);
}

/* 1 if name under rootfd is a regular file reached without a symbolic
 * link. */
static int
stage_is_regular(int rootfd, const char *name)
{
	const char	*base;
	struct stat	 st;
	int		 d, ok;

	if (stage_walk(rootfd, name, 0, &d, &base) != 0)
		return (0);
	ok = fstatat(d, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode);
	close(d);
	return (ok);
}

/* Add name to the stage's files unless it is there. */
static void
stage_add_found(struct stage *st, const char *name, size_t *cap)
{
	size_t	i;

	for (i = 0; i < st->n; i++) {
		if (strcmp(st->files[i].name, name) == 0)
			return;
	}
	if (st->n == *cap) {
		*cap = *cap == 0 ? 16 : *cap * 2;
		st->files = xreallocarray(st->files, *cap, sizeof *st->files);
	}
	memset(&st->files[st->n], 0, sizeof st->files[st->n]);
	st->files[st->n].name = xstrdup(name);
	st->n++;
}

/* 1 if a file found matches pattern (as the main node checks it). */
static int
stage_pattern_matched(struct stage *st, const char *pattern)
{
	size_t	i;

	for (i = 0; i < st->n; i++) {
		if (fnmatch(pattern, st->files[i].name,
		    FNM_PATHNAME|FNM_PERIOD) == 0)
			return (1);
	}
	return (0);
}

/*
 * The regular files the patterns match, into st->files.  With require,
 * the first pattern that matches none is noted ("missing output
 * PATTERN"; the others are kept all the same); 0, or -1 with the stage
 * ended.
 */
static int
stage_find(struct stage *st, char **patterns, size_t npat, int require)
{
	glob_t		 g;
	char		*esc, *pat, why[PROTO_FILE_NAME_MAX + 256];
	const char	*rel;
	size_t		 i, j, cap = 0, plen, before;
	int		 rootfd, r;

	rootfd = open(st->workdir, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
	if (rootfd == -1) {
		snprintf(why, sizeof why, "cannot open the working directory: "
		    "%s", strerror(errno));
		stage_end(st, why);
		return (-1);
	}
	esc = stage_glob_escape(st->workdir);
	plen = strlen(st->workdir) + 1;
	for (i = 0; i < npat; i++) {
		xasprintf(&pat, "%s/%s", esc, patterns[i]);
		memset(&g, 0, sizeof g);
		r = glob(pat, 0, NULL, &g);
		free(pat);
		before = st->n;
		for (j = 0; r == 0 && j < g.gl_pathc; j++) {
			if (strncmp(g.gl_pathv[j], st->workdir, plen - 1) != 0 ||
			    g.gl_pathv[j][plen - 1] != '/')
				continue;
			rel = g.gl_pathv[j] + plen;
			if (!proto_file_name_ok(rel, NULL) ||
			    !stage_is_regular(rootfd, rel))
				continue;
			if (st->n >= PROTO_INPUTS_MAX) {
				globfree(&g);
				close(rootfd);
				free(esc);
				snprintf(why, sizeof why, "more than %d files "
				    "match the %s patterns; pack them into "
				    "an archive", PROTO_INPUTS_MAX,
				    st->kind == STAGE_OUT ? "output" :
				    "checkpoint");
				stage_end(st, why);
				return (-1);
			}
			stage_add_found(st, rel, &cap);
		}
		if (r == 0)
			globfree(&g);
		if (require && st->missing == NULL && st->n == before &&
		    !stage_pattern_matched(st, patterns[i]))
			xasprintf(&st->missing, "missing output %s",
			    patterns[i]);
	}
	close(rootfd);
	free(esc);
	return (0);
}

/* The file being kept is done with: close it, drop its temporary. */
static void
stage_close_cur(struct stage *st)
{
	if (st->fd != -1)
		close(st->fd);
	if (st->pdfd != -1)
		close(st->pdfd);
	st->fd = st->pdfd = -1;
	if (st->tmpfd != -1)
		close(st->tmpfd);
	st->tmpfd = -1;
	if (st->tmp_made)
		unlink(st->tmp);
	st->tmp_made = 0;
}

/* Put the current file, now hashed, in the cache under its hash: its
 * temporary (a hard link of it, or the copy made while hashing) renamed
 * over whatever was there.  0, or -1 with why. */
static int
stage_keep(struct stage *st, char *why, size_t size)
{
	struct proto_file	*f = &st->files[st->cur];
	char			 cpath[PATH_MAX], dir[PATH_MAX];
	int			 err;

	cache_path(f->sha256, cpath, sizeof cpath);
	snprintf(dir, sizeof dir, "%s", cpath);
	*strrchr(dir, '/') = '\0';
	if (st->tmpfd != -1) {
		err = close(st->tmpfd) != 0 ? errno : 0;
		st->tmpfd = -1;
		if (err != 0)
			goto fail;
	}
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
	    rename(st->tmp, cpath) != 0) {
		err = errno;
		goto fail;
	}
	/* A link to the very inode in the cache is left by rename. */
	unlink(st->tmp);
	st->tmp_made = 0;
	return (0);
fail:
	if (err == ENOSPC || err == EDQUOT)
		snprintf(why, size, "cannot keep %s %s: the device's disk is "
		    "full (free space in the worker's state dir %s)",
		    st->kind == STAGE_OUT ? "output" : "checkpoint file",
		    f->name, wconf.state_dir);
	else
		snprintf(why, size, "cannot keep %s %s in the worker's cache: "
		    "%s", st->kind == STAGE_OUT ? "output" : "checkpoint file",
		    f->name, strerror(err));
	return (-1);
}

/* The current file was hashed (and copied). */
static void
stage_hashed(void *arg, int err, int64_t n)
{
	struct stage		*st = arg;
	struct proto_file	*f = &st->files[st->cur];
	struct centry		*e;
	char			 sha[PROTO_SHA256_HEX + 1];
	char			 why[PROTO_FILE_NAME_MAX + PATH_MAX + 128];

	st->job = NULL;
	if (err != 0) {
		if (err == ENOSPC || err == EDQUOT)
			snprintf(why, sizeof why, "cannot keep %s %s: the "
			    "device's disk is full (free space in the worker's "
			    "state dir %s)", st->kind == STAGE_OUT ? "output" :
			    "checkpoint file", f->name, wconf.state_dir);
		else
			snprintf(why, sizeof why, "cannot read %s %s: %s",
			    st->kind == STAGE_OUT ? "output" :
			    "checkpoint file", f->name, strerror(err));
		stage_end(st, why);
		return;
	}
	hash_final(st->h, sha);
	f->sha256 = xstrdup(sha);
	f->size = n;
	if (stage_keep(st, why, sizeof why) != 0) {
		stage_end(st, why);
		return;
	}
	e = cache_add(sha, n);
	cache_pin(e);
	st->pins[st->cur] = e;
	log_debug("event=task_file_kept task=%s name=\"%s\" sha256=%.12s "
	    "size=%lld", st->log_id, f->name, sha, (long long)n);
	stage_close_cur(st);
	st->cur++;
	stage_next(st);
}

/*
 * Open, hash and keep the next file found.  An output is hard-linked to
 * a temporary name in the cache first, then hashed (the task is over: it
 * no longer changes); a checkpoint file, or an output that cannot be
 * linked (another file system, not ours to link), is copied to one as it
 * is hashed.
 */
static void
stage_next(struct stage *st)
{
	struct proto_file	*f;
	struct stat		 sb;
	const char		*base;
	char			*cause = NULL, why[PROTO_FILE_NAME_MAX + 256];
	int			 rootfd, linked = 0;

	if (st->ended)
		return;
	if (st->cur == st->n) {
		stage_end(st, NULL);
		return;
	}
	f = &st->files[st->cur];
	errno = 0;
	rootfd = open(st->workdir, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
	if (rootfd == -1 || stage_walk(rootfd, f->name, 0, &st->pdfd,
	    &base) != 0 || (st->fd = openat(st->pdfd, base,
	    O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC)) == -1 ||
	    fstat(st->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(why, sizeof why, "cannot read %s %s: %s",
		    st->kind == STAGE_OUT ? "output" : "checkpoint file",
		    f->name, errno != 0 ? strerror(errno) :
		    "not a regular file");
		if (rootfd != -1)
			close(rootfd);
		stage_end(st, why);
		return;
	}
	close(rootfd);
	f->mode = (int)(sb.st_mode & 0777);
	cache_tmp_path(st->tmp, sizeof st->tmp);
	if (st->kind == STAGE_OUT &&
	    linkat(st->pdfd, base, AT_FDCWD, st->tmp, 0) == 0)
		linked = st->tmp_made = 1;
	if (cache_reserve(sb.st_size, linked ? 0 : sb.st_size, &cause) != 0) {
		stage_end(st, cause);
		free(cause);
		return;
	}
	if (!linked) {
		st->tmpfd = open(st->tmp, O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC,
		    0600);
		if (st->tmpfd == -1) {
			snprintf(why, sizeof why, "cannot copy %s %s into the "
			    "worker's cache: %s", st->kind == STAGE_OUT ?
			    "output" : "checkpoint file", f->name,
			    strerror(errno));
			stage_end(st, why);
			return;
		}
		st->tmp_made = 1;
		if (fchmod(st->tmpfd, (mode_t)f->mode) != 0)
			log_debug("event=chmod_failed path=\"%s\"", st->tmp);
	}
	if (st->h == NULL)
		st->h = hash_new();
	hash_reset(st->h);
	st->job = hash_job_start(st->fd, 0, -1, st->h, st->tmpfd, stage_hashed,
	    st);
}

/* The stage of outputs or checkpoint files: find them and start. */
static struct stage *
stage_collect(enum stage_kind kind, const char *log_id, const char *workdir,
    char **patterns, size_t npat, int require,
    void (*done)(void *, const struct proto_file *, size_t, const char *),
    void *arg)
{
	struct stage	*st = stage_new(kind, log_id, workdir);

	st->out_done = done;
	st->arg = arg;
	if (stage_find(st, patterns, npat, require) != 0)
		return (st);
	st->pins = xcalloc(st->n > 0 ? st->n : 1, sizeof *st->pins);
	stage_next(st);
	return (st);
}

/*
 * The regular files a task's output patterns match in workdir, hashed
 * and kept (pinned) in the cache until done(arg, files, n, err) returns
 * (files borrowed for the call).  With require, a pattern that matches
 * nothing makes err "missing output PATTERN", with the files that were
 * found; any other err comes without files.
 */
struct stage *
stage_out(const char *log_id, const char *workdir, char **patterns,
    size_t npat, int require,
    void (*done)(void *, const struct proto_file *, size_t, const char *),
    void *arg)
{
	return (stage_collect(STAGE_OUT, log_id, workdir, patterns, npat,
	    require, done, arg));
}

/* The same for a task's checkpoint files, copied into the cache (the task
 * may write them again as soon as done was called). */
struct stage *
stage_ckpt(const char *log_id, const char *workdir, char **patterns,
    size_t npat,
    void (*done)(void *, const struct proto_file *, size_t, const char *),
    void *arg)
{
	return (stage_collect(STAGE_CKPT, log_id, workdir, patterns, npat, 0,
	    done, arg));
}

/* ---- sending a checkpoint ---- */

struct ckpt_send;
/* One file of a checkpoint being sent. */
struct ckpt_file {
	struct ckpt_send	*cs;
	struct upload_wait	*w;
};

/* A checkpoint being sent: uploads, then task_checkpoint.  All owned. */
struct ckpt_send {
	char			*task_id;
	char			*log_id;
	int			 attempt;
	struct proto_file	*files;
	size_t			 n;
	struct ckpt_file	*up;
	size_t			 left;
	char			*error;
	void			(*done)(void *, const char *);
	void			*arg;
	struct event		*ev;
};

static void
ckpt_send_free(struct ckpt_send *cs)
{
	size_t	i;

	for (i = 0; i < cs->n; i++)
		files_upload_cancel(cs->up[i].w);
	proto_files_free(cs->files, cs->n);
	free(cs->up);
	free(cs->task_id);
	free(cs->log_id);
	free(cs->error);
	event_free(cs->ev);
	free(cs);
}

/* Report (from the loop) and free. */
static void
ckpt_send_report_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ckpt_send	*cs = arg;

	if (cs->done != NULL)
		cs->done(cs->arg, cs->error);
	ckpt_send_free(cs);
}

/* Every upload ended: send task_checkpoint if all went. */
static void
ckpt_send_uploaded(struct ckpt_send *cs)
{
	struct msg	m;

	if (cs->error == NULL && cs->n > 0) {
		msg_init(&m, MSG_TASK_CHECKPOINT);
		m.u.ckpt.task_id = cs->task_id;
		m.u.ckpt.attempt = cs->attempt;
		m.u.ckpt.files = cs->files;
		m.u.ckpt.n_files = cs->n;
		if (upstream_send(&m) != 0)
			cs->error = xstrdup("the main node went away");
		else {
			upstream_flush();
			log_info("event=checkpoint_sent task=%s attempt=%d "
			    "files=%zu", cs->log_id, cs->attempt, cs->n);
		}
	}
	if (cs->error != NULL)
		log_warn("event=checkpoint_not_sent task=%s attempt=%d "
		    "msg=\"%s\"", cs->log_id, cs->attempt, cs->error);
	event_active(cs->ev, EV_TIMEOUT, 0);
}

/* One file of a checkpoint is on the main node, or refused. */
static void
ckpt_send_file_done(void *arg, const char *err)
{
	struct ckpt_file	*cf = arg;
	struct ckpt_send	*cs = cf->cs;

	cf->w = NULL;
	if (err != NULL && cs->error == NULL)
		cs->error = xstrdup(err);
	if (--cs->left == 0)
		ckpt_send_uploaded(cs);
}

/*
 * Send a checkpoint taken into the cache (stage_ckpt's files): upload
 * them, then task_checkpoint {task_id, attempt, files}; done(arg, err)
 * from the loop when it went (err NULL) or could not.
 */
struct ckpt_send *
stage_ckpt_send(const char *task_id, int attempt, const char *log_id,
    const struct proto_file *files, size_t n,
    void (*done)(void *, const char *), void *arg)
{
	struct ckpt_send	*cs = xcalloc(1, sizeof *cs);
	char			*cause;
	size_t			 i;

	cs->task_id = xstrdup(task_id);
	cs->log_id = xstrdup(log_id);
	cs->attempt = attempt;
	cs->files = proto_files_copy(files, n);
	cs->n = n;
	cs->up = xcalloc(n > 0 ? n : 1, sizeof *cs->up);
	cs->done = done;
	cs->arg = arg;
	cs->ev = event_new(worker_base, -1, 0, ckpt_send_report_cb, cs);
	for (i = 0; i < n; i++) {
		cs->up[i].cs = cs;
		cause = NULL;
		cs->up[i].w = files_upload(files[i].sha256, ckpt_send_file_done,
		    &cs->up[i], &cause);
		if (cs->up[i].w == NULL) {
			if (cs->error == NULL)
				cs->error = cause;
			else
				free(cause);
			continue;
		}
		cs->left++;
	}
	if (cs->left == 0)
		ckpt_send_uploaded(cs);
	return (cs);
}

/* Stop sending a checkpoint (a newer one was taken); done is not
 * called. */
void
stage_ckpt_send_cancel(struct ckpt_send *cs)
{
	if (cs != NULL)
		ckpt_send_free(cs);
}
