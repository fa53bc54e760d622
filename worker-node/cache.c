/* SPDX-License-Identifier: ISC */
/*
 * cache.c -- the worker's content-addressed file cache.
 *
 * Every file a task takes in or gives back is kept here by its SHA-256,
 * STATE/cache/ab/abcd... (the first two hex digits are a directory), so
 * a second task with the same input on this device fetches nothing.
 * Bytes being fetched live in STATE/cache/partial/SHA and are renamed
 * into place only once they hash to SHA: a file under its name is whole
 * and was right when it was put there.
 *
 * A task can change a file after the worker put it in its working
 * directory (a hard link to the cached file, see stage.c), so the cache
 * remembers the size and modification time each file had when it was
 * last found to hash to its name, and hashes it again before it is used
 * if either differs; a file that no longer matches is deleted and fetched
 * again, never used.  The memory is the index (cache-index.c), written
 * every few seconds when it changed and at exit; after a reboot (a power
 * cut may have lost data the kernel had not written) or for a file it
 * does not list, every file is hashed before its first use.
 *
 * The cache is bounded by --cache-mb: making room for a file drops the
 * least recently used ones first, and also when the disk itself runs
 * short.  A file a task being started needs is pinned and never dropped,
 * nor an output or a checkpoint not yet delivered, so the cache may go
 * past its bound while they are; a file in use by a running task may be
 * dropped from the cache (its task keeps its own link to the bytes).
 */
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "protocol.h"
#include "worker.h"

#define CACHE_SAVE_S		5	/* s between index writes, at most */
#define CACHE_PARTIAL_KEEP	(7 * 24 * 3600)	/* s an idle partial is kept */
#define CACHE_DISK_SPARE	(16 * 1024 * 1024)	/* left free on the disk */
#define CACHE_BUCKETS_MIN	256

/* A check of a file's bytes that a caller waits on. */
struct cache_check {
	void			(*cb)(void *, int);
	void			*arg;
	TAILQ_ENTRY(cache_check) entry;
};
TAILQ_HEAD(cache_check_list, cache_check);

/*
 * A whole file of the cache.  On the hash table and, unless dead, on the
 * LRU list (least recently used first).  A dead entry (its file found
 * damaged, or dropped while pinned) is off both and freed at its last
 * unpin.  job, h and fd belong to a check in progress.
 */
struct centry {
	char			 sha[PROTO_SHA256_HEX + 1];
	int64_t			 size;
	int64_t			 mtime_ns;	/* when verified; 0: unknown */
	int64_t			 used;		/* unix s, last use */
	int			 pins;
	int			 dead;
	unsigned		 confirmed;	/* files_session when the main
						   node had it whole */
	struct hash_job		*job;
	struct hash		*h;
	int			 fd;
	struct cache_check_list	 checks;
	TAILQ_ENTRY(centry)	 lru;
	struct centry		*hnext;
};

static struct {
	char			*dir;		/* STATE/cache (owned) */
	char			*index_path;
	struct centry		**buckets;
	size_t			 nbuckets;
	size_t			 n;
	int64_t			 used;		/* bytes of whole files */
	int64_t			 partial;	/* bytes of partial files */
	int			 dirty;		/* index to write */
	char			 boot[64];
	struct event		*save_ev;
	struct event		*trim_ev;
	unsigned		 tmp_seq;
	TAILQ_HEAD(centry_lru, centry) lru;
} cache;

/* The bucket of a hash. */
static size_t
cache_bucket(const char *sha)
{
	unsigned long	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = v * 16 + (unsigned long)(sha[i] <= '9' ? sha[i] - '0' :
		    sha[i] - 'a' + 10);
	return (v % cache.nbuckets);
}

/* Double the hash table. */
static void
cache_grow(void)
{
	struct centry	**old = cache.buckets, *e, *next;
	size_t		  oldn = cache.nbuckets, i, b;

	cache.nbuckets = oldn * 2;
	cache.buckets = xcalloc(cache.nbuckets, sizeof *cache.buckets);
	for (i = 0; i < oldn; i++) {
		for (e = old[i]; e != NULL; e = next) {
			next = e->hnext;
			b = cache_bucket(e->sha);
			e->hnext = cache.buckets[b];
			cache.buckets[b] = e;
		}
	}
	free(old);
}

/* The live entry of a hash, or NULL. */
struct centry *
cache_find(const char *sha)
{
	struct centry	*e;

	if (!proto_sha256_ok(sha))
		return (NULL);
	for (e = cache.buckets[cache_bucket(sha)]; e != NULL; e = e->hnext) {
		if (strcmp(e->sha, sha) == 0)
			return (e);
	}
	return (NULL);
}

/* STATE/cache/ab/abcd... into buf. */
const char *
cache_path(const char *sha, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%.2s/%s", cache.dir, sha, sha);
	return (buf);
}

/* STATE/cache/partial/abcd... into buf. */
const char *
cache_partial_path(const char *sha, char *buf, size_t size)
{
	snprintf(buf, size, "%s/partial/%s", cache.dir, sha);
	return (buf);
}

/* A fresh temporary name in STATE/cache/partial into buf. */
const char *
cache_tmp_path(char *buf, size_t size)
{
	snprintf(buf, size, "%s/partial/tmp-%ld-%u", cache.dir,
	    (long)getpid(), cache.tmp_seq++);
	return (buf);
}

/* A stat's modification time in ns. */
int64_t
cache_mtime_ns(const struct stat *st)
{
	return ((int64_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec);
}

/* The index changed: write it soon. */
static void
cache_dirty(void)
{
	struct timeval	tv = { CACHE_SAVE_S, 0 };

	cache.dirty = 1;
	if (cache.save_ev != NULL && !evtimer_pending(cache.save_ev, NULL))
		evtimer_add(cache.save_ev, &tv);
}

/* Put an entry on the table and the LRU list (ordered by used). */
static struct centry *
cache_insert(const char *sha, int64_t size, int64_t mtime_ns, int64_t used)
{
	struct centry	*e, *at;
	size_t		 b;

	if (cache.n >= cache.nbuckets * 2)
		cache_grow();
	e = xcalloc(1, sizeof *e);
	snprintf(e->sha, sizeof e->sha, "%s", sha);
	e->size = size;
	e->mtime_ns = mtime_ns;
	e->used = used;
	e->fd = -1;
	TAILQ_INIT(&e->checks);
	b = cache_bucket(sha);
	e->hnext = cache.buckets[b];
	cache.buckets[b] = e;
	/* Usually the newest: walk from the tail. */
	TAILQ_FOREACH_REVERSE(at, &cache.lru, centry_lru, lru) {
		if (at->used <= used)
			break;
	}
	if (at == NULL)
		TAILQ_INSERT_HEAD(&cache.lru, e, lru);
	else
		TAILQ_INSERT_AFTER(&cache.lru, at, e, lru);
	cache.n++;
	cache.used += size;
	return (e);
}

/* Free an entry's memory (it is off the table and the list). */
static void
cache_entry_free(struct centry *e)
{
	hash_job_cancel(e->job);
	hash_free(e->h);
	if (e->fd != -1)
		close(e->fd);
	free(e);
}

/* Take an entry off the table and the list; its file is unlinked when
 * unlink_file.  Freed now, or at its last unpin. */
static void
cache_remove(struct centry *e, int unlink_file)
{
	struct centry	**pp;
	char		  path[PATH_MAX];

	for (pp = &cache.buckets[cache_bucket(e->sha)]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	TAILQ_REMOVE(&cache.lru, e, lru);
	cache.n--;
	cache.used -= e->size;
	if (unlink_file)
		unlink(cache_path(e->sha, path, sizeof path));
	e->dead = 1;
	cache_dirty();
	if (e->pins == 0 && TAILQ_EMPTY(&e->checks))
		cache_entry_free(e);
}

/* A task uses a file: pin it (never dropped while pinned). */
void
cache_pin(struct centry *e)
{
	e->pins++;
}

static int	cache_evict_one(void);

/* Release a pin; a dead entry goes with its last.  A cache that went
 * over its bound while files were pinned goes back within it. */
void
cache_unpin(struct centry *e)
{
	if (e == NULL || --e->pins > 0)
		return;
	if (e->dead) {
		if (TAILQ_EMPTY(&e->checks))
			cache_entry_free(e);
		return;
	}
	if (cache.used + cache.partial > wconf.cache_max &&
	    cache.trim_ev != NULL)
		event_active(cache.trim_ev, EV_TIMEOUT, 0);
}

/* Back within the bound, once every unpin of this turn is done (so
 * the least recently used go, not the first unpinned). */
static void
cache_trim_cb(evutil_socket_t fd, short events, void *arg)
{
	while (cache.used + cache.partial > wconf.cache_max &&
	    cache_evict_one() == 0)
		;
}

/* A file was used now: it goes to the end of the LRU list. */
void
cache_use(struct centry *e)
{
	if (e->dead)
		return;
	e->used = (int64_t)time(NULL);
	TAILQ_REMOVE(&cache.lru, e, lru);
	TAILQ_INSERT_TAIL(&cache.lru, e, lru);
	cache_dirty();
}

/* An entry's size and hash. */
int64_t
cache_entry_size(const struct centry *e)
{
	return (e->size);
}

const char *
cache_entry_sha(const struct centry *e)
{
	return (e->sha);
}

/* The files session in which the main node last had the file whole. */
unsigned
cache_confirmed(const struct centry *e)
{
	return (e->confirmed);
}

void
cache_set_confirmed(struct centry *e, unsigned session)
{
	e->confirmed = session;
}

/*
 * A file now in place at its cache path (renamed or linked there by the
 * caller, already verified): its entry, made or refreshed.
 */
struct centry *
cache_add(const char *sha, int64_t size)
{
	struct centry	*e;
	struct stat	 st;
	char		 path[PATH_MAX];
	int64_t		 mt = 0;

	if (stat(cache_path(sha, path, sizeof path), &st) == 0 &&
	    st.st_size == size)
		mt = cache_mtime_ns(&st);
	if ((e = cache_find(sha)) != NULL && e->size != size)
		cache_remove(e, 0);
	else if (e != NULL) {
		if (e->job == NULL)
			e->mtime_ns = mt;
		cache_use(e);
		return (e);
	}
	e = cache_insert(sha, size, mt, (int64_t)time(NULL));
	cache_dirty();
	return (e);
}

/* Bytes of partial files changed by delta. */
void
cache_partial_add(int64_t delta)
{
	cache.partial += delta;
	if (cache.partial < 0)
		cache.partial = 0;
}

/* Free bytes on the cache's file system, -1 if unknown. */
static int64_t
cache_disk_free(void)
{
	struct statvfs	sv;

	if (statvfs(cache.dir, &sv) != 0)
		return (-1);
	return ((int64_t)sv.f_bavail * (int64_t)sv.f_frsize);
}

/* Drop the least recently used unpinned file; 0, or -1 if none can go. */
static int
cache_evict_one(void)
{
	struct centry	*e;

	TAILQ_FOREACH(e, &cache.lru, lru) {
		if (e->pins == 0 && e->job == NULL) {
			log_info("event=cache_evict sha256=%.12s size=%lld",
			    e->sha, (long long)e->size);
			cache_remove(e, 1);
			return (0);
		}
	}
	return (-1);
}

/*
 * Make room for need more bytes of the cache, disk of them new on the
 * disk (a hard link takes none): drop least recently used files until
 * the cache is within --cache-mb with them and the disk has them to
 * spare.  0 (the cache may still be over its bound if what is left is
 * pinned), or -1 with *cause (caller frees) when the disk cannot hold
 * them.
 */
int
cache_reserve(int64_t need, int64_t disk, char **cause)
{
	int64_t	avail;

	while (cache.used + cache.partial + need > wconf.cache_max &&
	    cache_evict_one() == 0)
		;
	while ((avail = cache_disk_free()) >= 0 &&
	    avail < disk + CACHE_DISK_SPARE && cache_evict_one() == 0)
		;
	if (avail >= 0 && avail < disk + CACHE_DISK_SPARE) {
		xasprintf(cause, "the device's disk is full: %.1f MiB needed "
		    "in %s, %.1f MiB free (free space on the device, or give "
		    "the worker a state dir on a bigger disk)",
		    (double)disk / 1048576, cache.dir,
		    (double)(avail > 0 ? avail : 0) / 1048576);
		return (-1);
	}
	if (cache.used + cache.partial + need > wconf.cache_max)
		log_info("event=cache_over msg=\"files in use keep the cache "
		    "over --cache-mb\" used_mb=%lld need_mb=%lld max_mb=%lld",
		    (long long)((cache.used + cache.partial) >> 20),
		    (long long)(need >> 20), (long long)(wconf.cache_max >> 20));
	return (0);
}

/* Report a check's outcome to everyone waiting on it. */
static void
cache_check_end(struct centry *e, int ok)
{
	struct cache_check	*c;

	if (e->fd != -1)
		close(e->fd);
	e->fd = -1;
	hash_free(e->h);
	e->h = NULL;
	e->job = NULL;
	if (!ok && !e->dead)
		cache_remove(e, 1);
	cache_pin(e);		/* the callbacks may unpin it */
	while ((c = TAILQ_FIRST(&e->checks)) != NULL) {
		TAILQ_REMOVE(&e->checks, c, entry);
		c->cb(c->arg, ok);
		free(c);
	}
	cache_unpin(e);
}

/* A file's bytes were hashed again. */
static void
cache_check_done(void *arg, int err, int64_t n)
{
	struct centry	*e = arg;
	char		 got[PROTO_SHA256_HEX + 1];
	struct stat	 st;
	int		 ok;

	e->job = NULL;
	hash_final(e->h, got);
	ok = (err == 0 && n == e->size && strcmp(got, e->sha) == 0);
	if (ok && fstat(e->fd, &st) == 0) {
		e->mtime_ns = cache_mtime_ns(&st);
		cache_dirty();
	}
	if (!ok)
		log_warn("event=cache_damaged sha256=%.12s got=%.12s bytes=%lld "
		    "error=\"%s\" msg=\"deleted; fetched again\"", e->sha,
		    err == 0 ? got : "-", (long long)n,
		    err != 0 ? strerror(err) : "none");
	else
		log_info("event=cache_verified sha256=%.12s size=%lld", e->sha,
		    (long long)e->size);
	cache_check_end(e, ok);
}

/*
 * Is a file still what its name says?  1 at once when its size and time
 * are those it had when it was last verified; else 0, and cb(arg, ok) is
 * called once it was hashed again (a file that no longer matches is gone
 * by then).  The caller holds a pin across the wait.
 */
int
cache_check(struct centry *e, void (*cb)(void *, int), void *arg)
{
	struct cache_check	*c;
	struct stat		 st;
	char			 path[PATH_MAX];

	if (e->job == NULL) {
		cache_path(e->sha, path, sizeof path);
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
		    st.st_size != e->size) {
			log_warn("event=cache_damaged sha256=%.12s msg=\"gone "
			    "or of another size; fetched again\"", e->sha);
			if (!e->dead)
				cache_remove(e, 1);
			return (-1);
		}
		if (e->mtime_ns != 0 && cache_mtime_ns(&st) == e->mtime_ns)
			return (1);
		if ((e->fd = open(path, O_RDONLY|O_CLOEXEC|O_NOFOLLOW)) == -1) {
			if (!e->dead)
				cache_remove(e, 1);
			return (-1);
		}
		log_info("event=cache_check sha256=%.12s size=%lld msg=\"%s\"",
		    e->sha, (long long)e->size, e->mtime_ns == 0 ? "not "
		    "verified since it was kept" : "changed since it was "
		    "verified");
		e->h = hash_new();
		e->job = hash_job_start(e->fd, 0, -1, e->h, -1,
		    cache_check_done, e);
	}
	c = xcalloc(1, sizeof *c);
	c->cb = cb;
	c->arg = arg;
	TAILQ_INSERT_TAIL(&e->checks, c, entry);
	return (0);
}

/* Stop waiting on a check (the caller goes away). */
void
cache_check_cancel(struct centry *e, void *arg)
{
	struct cache_check	*c;

	TAILQ_FOREACH(c, &e->checks, entry) {
		if (c->arg == arg) {
			TAILQ_REMOVE(&e->checks, c, entry);
			free(c);
			break;
		}
	}
	if (TAILQ_EMPTY(&e->checks) && e->job != NULL) {
		hash_job_cancel(e->job);
		e->job = NULL;
		close(e->fd);
		e->fd = -1;
		hash_free(e->h);
		e->h = NULL;
	}
	if (e->dead && e->pins == 0 && TAILQ_EMPTY(&e->checks))
		cache_entry_free(e);
}

/* This boot's id into cache.boot ("" if unknown). */
static void
cache_boot_id(void)
{
	FILE	*f;

	cache.boot[0] = '\0';
	if ((f = fopen("/proc/sys/kernel/random/boot_id", "re")) == NULL)
		return;
	if (fgets(cache.boot, sizeof cache.boot, f) == NULL)
		cache.boot[0] = '\0';
	fclose(f);
	cache.boot[strcspn(cache.boot, "\n \t")] = '\0';
}

/* Write the index (atomically; not synced: a reboot rechecks all). */
static void
cache_save(void)
{
	struct centry	*e;
	struct cache_rec r;
	char		*buf, line[192];
	size_t		 len = 0, cap = 4096;
	int		 n;

	buf = xmalloc(cap);
	len = (size_t)cache_index_header(cache.boot, buf, cap);
	TAILQ_FOREACH(e, &cache.lru, lru) {
		memcpy(r.sha, e->sha, sizeof r.sha);
		r.size = e->size;
		r.mtime_ns = e->job != NULL ? 0 : e->mtime_ns;
		r.used = e->used;
		if ((n = cache_index_format(&r, line, sizeof line)) < 0)
			continue;
		if (len + (size_t)n > cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		memcpy(buf + len, line, (size_t)n);
		len += (size_t)n;
	}
	if (worker_write_file(cache.index_path, buf, len, 0) != 0)
		log_warn("event=cache_index_failed path=\"%s\" error=\"%s\"",
		    cache.index_path, strerror(errno));
	else
		cache.dirty = 0;
	free(buf);
}

/* The save timer. */
static void
cache_save_cb(evutil_socket_t fd, short events, void *arg)
{
	if (cache.dirty)
		cache_save();
}

/* Read the index: its entries by hash (caller frees), *n of them. */
static struct cache_rec *
cache_load_index(size_t *n, int *same_boot)
{
	struct cache_rec	*v;
	struct stat		 st;
	char			*data, boot[64];
	ssize_t			 r;
	size_t			 len;
	int			 fd;

	*n = 0;
	*same_boot = 0;
	if ((fd = open(cache.index_path, O_RDONLY|O_CLOEXEC|O_NOFOLLOW)) == -1)
		return (NULL);
	if (fstat(fd, &st) != 0 || st.st_size <= 0 ||
	    st.st_size > 256 * 1024 * 1024) {
		close(fd);
		return (NULL);
	}
	data = xmalloc((size_t)st.st_size);
	for (len = 0; len < (size_t)st.st_size; len += (size_t)r) {
		if ((r = read(fd, data + len, (size_t)st.st_size - len)) <= 0)
			break;
	}
	close(fd);
	v = cache_index_parse(data, len, boot, sizeof boot, n);
	free(data);
	*same_boot = (*cache.boot != '\0' && strcmp(boot, cache.boot) == 0);
	return (v);
}

/* Compare records by hash (for bsearch). */
static int
cache_rec_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct cache_rec *)a)->sha,
	    ((const struct cache_rec *)b)->sha));
}

/* Learn the whole files of one directory, with what the index says. */
static void
cache_scan_dir(const char *dir, struct cache_rec *v, size_t n, int same_boot)
{
	DIR			*d;
	struct dirent		*de;
	struct stat		 st;
	struct cache_rec	 key, *r;
	int64_t			 mt, used;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!proto_sha256_ok(de->d_name) || cache_find(de->d_name) !=
		    NULL || fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		memcpy(key.sha, de->d_name, sizeof key.sha);
		r = n > 0 ? bsearch(&key, v, n, sizeof *v, cache_rec_cmp) :
		    NULL;
		mt = 0;
		used = (int64_t)st.st_mtime;
		if (r != NULL && r->size == st.st_size) {
			used = r->used;
			if (same_boot)
				mt = r->mtime_ns;
		}
		cache_insert(de->d_name, st.st_size, mt, used);
	}
	closedir(d);
}

/* Count the partial files; drop old ones and leftover temporaries. */
static void
cache_scan_partial(void)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 path[PATH_MAX];
	time_t		 old = time(NULL) - CACHE_PARTIAL_KEEP;

	snprintf(path, sizeof path, "%s/partial", cache.dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (!proto_sha256_ok(de->d_name) || !S_ISREG(st.st_mode) ||
		    st.st_mtime < old) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		cache.partial += st.st_size;
	}
	closedir(d);
}

/* Open the cache (made on first start) and learn what it holds. */
void
cache_start(void)
{
	struct cache_rec	*v;
	char			 path[PATH_MAX], *cause = NULL;
	size_t			 n;
	int			 i, same_boot;

	memset(&cache, 0, sizeof cache);
	TAILQ_INIT(&cache.lru);
	cache.nbuckets = CACHE_BUCKETS_MIN;
	cache.buckets = xcalloc(cache.nbuckets, sizeof *cache.buckets);
	xasprintf(&cache.dir, "%s/cache", wconf.state_dir);
	xasprintf(&cache.index_path, "%s/index", cache.dir);
	snprintf(path, sizeof path, "%s/partial", cache.dir);
	if ((mkdir(cache.dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(path, 0700) != 0 && errno != EEXIST))
		fatal("cannot create %s", path);
	cache_boot_id();
	v = cache_load_index(&n, &same_boot);
	if (n > 0)
		qsort(v, n, sizeof *v, cache_rec_cmp);
	for (i = 0; i < 256; i++) {
		snprintf(path, sizeof path, "%s/%02x", cache.dir, i);
		cache_scan_dir(path, v, n, same_boot);
	}
	free(v);
	cache_scan_partial();
	cache.save_ev = evtimer_new(worker_base, cache_save_cb, NULL);
	cache.trim_ev = event_new(worker_base, -1, 0, cache_trim_cb, NULL);
	cache_dirty();
	log_info("event=cache_open dir=\"%s\" files=%zu mb=%lld partial_mb=%lld "
	    "max_mb=%lld", cache.dir, cache.n, (long long)(cache.used >> 20),
	    (long long)(cache.partial >> 20),
	    (long long)(wconf.cache_max >> 20));
	/* Over the bound (a lower --cache-mb): drop the oldest now. */
	if (cache_reserve(0, 0, &cause) != 0) {
		log_warn("event=cache_disk_low msg=\"%s\"", cause);
		free(cause);
	}
}

/* Write the index and free the cache's memory (its files stay). */
void
cache_stop(void)
{
	struct centry	*e;

	if (cache.dir == NULL)
		return;
	cache_save();
	while ((e = TAILQ_FIRST(&cache.lru)) != NULL) {
		TAILQ_REMOVE(&cache.lru, e, lru);
		cache_entry_free(e);
	}
	if (cache.save_ev != NULL)
		event_free(cache.save_ev);
	if (cache.trim_ev != NULL)
		event_free(cache.trim_ev);
	free(cache.buckets);
	free(cache.dir);
	free(cache.index_path);
	memset(&cache, 0, sizeof cache);
}
