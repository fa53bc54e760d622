/* SPDX-License-Identifier: ISC */
/*
 * cli-files.c -- files in and out of tasks (README, "Files in, files
 * out"; PROTOCOL.md "Files").
 *
 * In: submit's --input PATH[:NAME] values are gathered first (a directory
 * walked, every file opened once to prove it readable), so an input that
 * cannot be read is a usage error before anything is sent.  Each file is
 * then hashed (SHA-256, streaming) and uploaded unless the main node has
 * it whole: `file_stat` says how much it holds, `file_data` frames of at
 * most 1 MiB go from there, each line followed by its raw bytes.  A lost
 * connection is retried, resuming where the main node's partial file
 * ends.
 *
 * Out: `encore fetch` and submit --wait --fetch download a task's outputs
 * with `file_get`, hash them as they come, write them to a temporary file
 * in the destination directory and rename it into place only once it is
 * whole and its SHA-256 checks out, so a file in DIR is either a verified
 * output or was not touched.  Names come from the main node: each must
 * pass proto_file_name_ok(), and directories are walked with openat() and
 * O_NOFOLLOW, so no name or link can place a file outside DIR.
 *
 * Symlinks: one named on the command line is followed.  Inside a
 * directory, a link to a file inside that directory is sent as that file
 * (under the link's name); a link to a directory, or one that points
 * outside the directory or nowhere, is skipped with a note on stderr.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "cli.h"

#define CLI_FILES_PROGRESS_MS	200	/* progress line redraw */
#define CLI_FILES_RETRIES	3	/* reconnections per file */

/* Progress on a terminal: bytes of this file and of all of them. */
struct cli_progress {
	int		 on;		/* stderr is a terminal */
	const char	*verb;		/* "sending", "hashing", "fetching" */
	char		*name;		/* escaped, owned */
	int64_t		 done, size;
	int64_t		 all_done, all_size;
	int64_t		 sent;		/* bytes that went over the wire */
	int64_t		 drawn_at;
	int		 drawn;
};

/* Draw the progress line (last: end it). */
static void
cli_progress_draw(struct cli_progress *p, int last)
{
	char	a[32], b[32], c[32], d[32];
	int64_t	now;

	if (!p->on)
		return;
	now = client_now_ms();
	if (!last && now - p->drawn_at < CLI_FILES_PROGRESS_MS)
		return;
	p->drawn_at = now;
	cli_fmt_bytes((double)p->done, a, sizeof a);
	cli_fmt_bytes((double)p->size, b, sizeof b);
	cli_fmt_bytes((double)p->all_done, c, sizeof c);
	cli_fmt_bytes((double)p->all_size, d, sizeof d);
	fprintf(stderr, "\r\033[Kencore: %s %s: %s/%s, all %s/%s", p->verb,
	    p->name != NULL ? p->name : "", a, b, c, d);
	p->drawn = 1;
	if (last) {
		fputc('\n', stderr);
		p->drawn = 0;
	}
}

/* End a progress line before another message goes to stderr. */
static void
cli_progress_break(struct cli_progress *p)
{
	if (p->on && p->drawn)
		fputc('\n', stderr);
	p->drawn = 0;
}

/* Start showing a new file. */
static void
cli_progress_file(struct cli_progress *p, const char *verb, const char *name,
    int64_t size)
{
	free(p->name);
	p->name = display_escape(name);
	p->verb = verb;
	p->done = 0;
	p->size = size;
	p->drawn_at = 0;
}

/* Lowercase hex of a SHA-256 context's digest into out[65]. */
static void
cli_sha_hex(EVP_MD_CTX *md, char *out)
{
	unsigned char	d[EVP_MAX_MD_SIZE];
	unsigned int	n = 0, i;

	EVP_DigestFinal_ex(md, d, &n);
	for (i = 0; i < n && i < PROTO_SHA256_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	out[2 * i] = '\0';
}

/* A fresh SHA-256 context. */
static EVP_MD_CTX *
cli_sha_new(void)
{
	EVP_MD_CTX	*md;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		fatalx("cannot start a SHA-256");
	return (md);
}

/* ---- gathering inputs ---- */

/* Set *cause from a format; returns -1. */
static int
cli_files_cause(char **cause, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int
cli_files_cause(char **cause, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	return (-1);
}

/* What kind of file st is, in words, for a refusal. */
static const char *
cli_file_kind(const struct stat *st)
{
	if (S_ISFIFO(st->st_mode))
		return ("a fifo");
	if (S_ISSOCK(st->st_mode))
		return ("a socket");
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return ("a device");
	return ("not a regular file");
}

/* Add one regular file (st from stat()) as input name; checks it can be
 * read. */
static int
cli_inputs_add(struct cli_inputs *in, const char *path, const char *name,
    const struct stat *st, char **cause)
{
	struct cli_input	*f;
	const char		*why;
	size_t			 i;
	int			 fd;

	if (!proto_file_name_ok(name, &why))
		return (cli_files_cause(cause, "the input name '%.200s' (from "
		    "%.200s) %s; give it another with --input PATH:NAME", name,
		    path, why));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return (cli_files_cause(cause, "cannot read the input %s: %s",
		    path, strerror(errno)));
	close(fd);
	for (i = 0; i < in->n; i++) {
		if (strcmp(in->v[i].name, name) == 0)
			return (cli_files_cause(cause, "two inputs would be "
			    "named %.200s (%.200s and %.200s); give one "
			    "another name with --input PATH:NAME", name,
			    in->v[i].path, path));
	}
	if (in->n >= PROTO_INPUTS_MAX)
		return (cli_files_cause(cause, "more than %d input files; "
		    "pack them into one (tar cf in.tar DIR) and send that",
		    PROTO_INPUTS_MAX));
	in->v = xreallocarray(in->v, in->n + 1, sizeof *in->v);
	f = &in->v[in->n++];
	memset(f, 0, sizeof *f);
	f->path = xstrdup(path);
	f->name = xstrdup(name);
	f->size = st->st_size;
	f->mode = (int)(st->st_mode & 0777);
	in->total += st->st_size;
	return (0);
}

/* Whether path lies inside the directory root (both resolved). */
static int
cli_path_inside(const char *root, const char *path)
{
	size_t	len = strlen(root);

	if (strcmp(root, "/") == 0)
		return (1);
	return (strncmp(path, root, len) == 0 &&
	    (path[len] == '/' || path[len] == '\0'));
}

/* Walk a directory: its files become inputs named name/relative/path.
 * root is the top directory's resolved path, for links. */
static int
cli_inputs_walk(struct cli_inputs *in, const char *dir, const char *name,
    const char *root, int depth, char **cause)
{
	struct dirent	**ents = NULL;
	struct stat	  st;
	char		 *path, *sub, *real;
	int		  n, i, rc = 0;

	if (depth > 64)
		return (cli_files_cause(cause, "%s: directories nest more than "
		    "64 deep; pack it into one file (tar) and send that", dir));
	if ((n = scandir(dir, &ents, NULL, alphasort)) == -1)
		return (cli_files_cause(cause, "cannot read the input "
		    "directory %s: %s", dir, strerror(errno)));
	for (i = 0; i < n && rc == 0; i++) {
		if (strcmp(ents[i]->d_name, ".") == 0 ||
		    strcmp(ents[i]->d_name, "..") == 0)
			continue;
		xasprintf(&path, "%s/%s", dir, ents[i]->d_name);
		xasprintf(&sub, "%s/%s", name, ents[i]->d_name);
		if (lstat(path, &st) != 0) {
			rc = cli_files_cause(cause, "cannot read the input %s: "
			    "%s", path, strerror(errno));
		} else if (S_ISLNK(st.st_mode)) {
			real = realpath(path, NULL);
			if (real == NULL || !cli_path_inside(root, real))
				fprintf(stderr, "encore: skipping %s: a link "
				    "that points %s the input directory\n",
				    path, real == NULL ? "nowhere inside" :
				    "outside");
			else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
				fprintf(stderr, "encore: skipping %s: a link "
				    "to a directory (its files are sent under "
				    "their own names)\n", path);
			else if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
				rc = cli_inputs_add(in, path, sub, &st, cause);
			else
				fprintf(stderr, "encore: skipping %s: a link "
				    "to something that is not a file\n", path);
			free(real);
		} else if (S_ISDIR(st.st_mode))
			rc = cli_inputs_walk(in, path, sub, root, depth + 1,
			    cause);
		else if (S_ISREG(st.st_mode))
			rc = cli_inputs_add(in, path, sub, &st, cause);
		else
			rc = cli_files_cause(cause, "the input %s is %s; only "
			    "regular files and directories can be sent (remove "
			    "it, or name the files you mean)", path,
			    cli_file_kind(&st));
		free(path);
		free(sub);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return (rc);
}

/* Gather one --input value. */
static int
cli_inputs_one(struct cli_inputs *in, const char *spec, char **cause)
{
	struct stat	 st;
	char		*path = NULL, *name = NULL, *real = NULL;
	size_t		 before = in->n;
	int		 rc = -1;

	if (cli_input_split(spec, &path, &name, cause) != 0)
		return (-1);
	/* A PATH that itself holds ':' is taken whole when it exists and
	 * what is before its last ':' does not. */
	if (name != NULL && stat(path, &st) != 0 && stat(spec, &st) == 0) {
		free(path);
		free(name);
		path = xstrdup(spec);
		name = NULL;
	}
	if (stat(path, &st) != 0) {
		cli_files_cause(cause, "cannot read the input %s: %s%s", path,
		    strerror(errno), name != NULL ? " (PATH:NAME is split at "
		    "the last ':')" : "");
		goto out;
	}
	if (name == NULL && (name = cli_input_default_name(path)) == NULL) {
		/* ".", "..", "/": name it after the directory itself. */
		if ((real = realpath(path, NULL)) == NULL ||
		    (name = cli_input_default_name(real)) == NULL) {
			cli_files_cause(cause, "the input %s has no name of "
			    "its own; give it one with --input %s:NAME", path,
			    path);
			goto out;
		}
	}
	if (S_ISREG(st.st_mode))
		rc = cli_inputs_add(in, path, name, &st, cause);
	else if (S_ISDIR(st.st_mode)) {
		free(real);
		if ((real = realpath(path, NULL)) == NULL) {
			cli_files_cause(cause, "cannot read the input "
			    "directory %s: %s", path, strerror(errno));
			goto out;
		}
		rc = cli_inputs_walk(in, path, name, real, 0, cause);
		if (rc == 0 && in->n == before)
			fprintf(stderr, "encore: the input directory %s holds "
			    "no files; nothing of it is sent\n", path);
	} else
		cli_files_cause(cause, "the input %s is %s; only regular "
		    "files and directories can be sent", path,
		    cli_file_kind(&st));
out:
	free(path);
	free(name);
	free(real);
	return (rc);
}

/* Gather every --input. */
int
cli_inputs_gather(const char * const *specs, size_t n, struct cli_inputs *in,
    char **cause)
{
	size_t	i;

	memset(in, 0, sizeof *in);
	for (i = 0; i < n; i++) {
		if (cli_inputs_one(in, specs[i], cause) != 0)
			return (-1);
	}
	return (0);
}

/* Free gathered inputs. */
void
cli_inputs_free(struct cli_inputs *in)
{
	size_t	i;

	for (i = 0; i < in->n; i++) {
		free(in->v[i].path);
		free(in->v[i].name);
	}
	free(in->v);
	memset(in, 0, sizeof *in);
}

/* Whether submit m, once its inputs are listed, fits in a line a main
 * node takes by default.  0, or -1 with *cause. */
int
cli_inputs_fit(const struct cli_inputs *in, struct msg *m, char **cause)
{
	struct proto_task	*t = &m->u.task;
	char			*line, zero[PROTO_SHA256_HEX + 1];
	size_t			 i, len = 0;

	if (in->n == 0)
		return (0);
	memset(zero, '0', PROTO_SHA256_HEX);
	zero[PROTO_SHA256_HEX] = '\0';
	t->inputs = xcalloc(in->n, sizeof *t->inputs);
	for (i = 0; i < in->n; i++) {
		t->inputs[i].name = in->v[i].name;
		t->inputs[i].sha256 = zero;
		t->inputs[i].size = in->v[i].size;
		t->inputs[i].mode = in->v[i].mode;
	}
	t->n_inputs = in->n;
	client_msg_stamp(m, &(unsigned long){ 1 });
	if ((line = msg_encode(m, &len)) == NULL)
		len = SIZE_MAX;
	free(line);
	free(t->inputs);		/* the strings are borrowed */
	t->inputs = NULL;
	t->n_inputs = 0;
	if (len <= PROTO_LINE_MAX)
		return (0);
	return (cli_files_cause(cause, "%zu input files make the task %zu "
	    "bytes long, more than the %d a main node takes in one line; "
	    "pack them into one file (tar cf in.tar DIR) and send that",
	    in->n, len, PROTO_LINE_MAX));
}

/* ---- sending inputs ---- */

/* Hash one input: sets its sha256 and size.  Returns 0, or the exit code
 * after printing why. */
static int
cli_input_hash(struct cli_input *f, unsigned char *buf,
    struct cli_progress *p)
{
	EVP_MD_CTX	*md;
	struct stat	 st;
	int64_t		 total = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cli_progress_break(p);
		fprintf(stderr, "encore: cannot read the input %s: %s; nothing "
		    "was queued\n", f->path, fd == -1 || errno != 0 ?
		    strerror(errno) : "not a regular file");
		if (fd != -1)
			close(fd);
		return (CLI_EXIT_USAGE);
	}
	cli_progress_file(p, "hashing", f->name, st.st_size);
	md = cli_sha_new();
	for (;;) {
		n = read(fd, buf, PROTO_FILE_FRAME_MAX);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)n);
		total += n;
		p->done = total;
		p->all_done += n;
		cli_progress_draw(p, 0);
	}
	close(fd);
	if (n < 0) {
		EVP_MD_CTX_free(md);
		cli_progress_break(p);
		fprintf(stderr, "encore: reading the input %s: %s; nothing was "
		    "queued\n", f->path, strerror(errno));
		return (CLI_EXIT_USAGE);
	}
	cli_sha_hex(md, f->sha256);
	EVP_MD_CTX_free(md);
	p->all_size += total - f->size;
	f->size = total;
	return (CLI_EXIT_OK);
}

/* Ask how much of a file the main node holds: *have, *complete. */
static enum client_result
cli_file_stat(struct cli_ctx *ctx, const char *sha, int64_t *have,
    int *complete, struct client_error *err)
{
	struct json_object	*data;
	struct msg		 m;
	enum client_result	 r;

	client_msg_init(&m, MSG_FILE_STAT, &ctx->client.next_id);
	m.u.file.sha256 = xstrdup(sha);
	r = client_request(&ctx->client, &m, &data, err);
	msg_free(&m);
	if (r != CLIENT_OK)
		return (r);
	*complete = client_json_bool(data, "complete", 0);
	if (client_json_int(data, "have", have) != 0 || *have < 0)
		*have = 0;
	json_object_put(data);
	return (CLIENT_OK);
}

/* Whether a reply answers one of the frames numbered first..last. */
static int
cli_frame_answer(const struct msg *m, unsigned long first, unsigned long last)
{
	unsigned long	 id;
	char		*end;

	if (m->reply_to == NULL || (m->type != MSG_REPLY &&
	    m->type != MSG_ERROR))
		return (0);
	errno = 0;
	id = strtoul(m->reply_to, &end, 10);
	return (errno == 0 && *end == '\0' && end != m->reply_to &&
	    id >= first && id <= last);
}

/* How an upload of one file ended. */
enum cli_upload {
	CLI_UPLOAD_DONE,	/* the main node holds it whole */
	CLI_UPLOAD_AGAIN,	/* resume from file_stat (a conflict) */
	CLI_UPLOAD_LOST,	/* the connection broke: reconnect, resume */
	CLI_UPLOAD_FAILED,	/* printed; *code says how to exit */
};

/* Print the main node's refusal of an upload with what to do. */
static void
cli_upload_refused(const struct cli_input *f, enum client_result r,
    const struct client_error *err)
{
	char	msg[PROTO_TEXT_MAX * 4], *name = display_escape(f->name);

	display_escape_buf(err->message, msg, sizeof msg);
	fprintf(stderr, "encore: the main node refused the input %s: %s (%s)\n",
	    name, msg, err->code_name);
	if (strcmp(err->code_name, "busy") == 0)
		fprintf(stderr, "encore: its file store is full: wait until "
		    "finished tasks are pruned, or raise --max-files-mb on "
		    "the main node; nothing was queued\n");
	else if (strcmp(err->code_name, "bad_field") == 0)
		fprintf(stderr, "encore: too large for the main node's "
		    "--max-input-mb, or the file changed while it was sent; "
		    "send smaller inputs or raise --max-input-mb; nothing was "
		    "queued\n");
	else
		fprintf(stderr, "encore: %s; nothing was queued\n",
		    client_error_hint(err->code_name));
	(void)r;
	free(name);
}

/* Send one input from offset have, and wait for the main node's answer. */
static enum cli_upload
cli_upload_from(struct cli_ctx *ctx, struct cli_input *f, int64_t have,
    unsigned char *buf, struct cli_progress *p, int *code)
{
	struct client		*c = &ctx->client;
	struct client_error	 err;
	struct json_object	*data;
	struct msg		 m, ans;
	enum client_result	 r;
	unsigned long		 first = c->next_id, last = 0;
	int64_t			 off = have;
	ssize_t			 n;
	size_t			 len;
	int			 fd, sent_any = 0;

	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC)) == -1) {
		cli_progress_break(p);
		fprintf(stderr, "encore: cannot read the input %s: %s; nothing "
		    "was queued\n", f->path, strerror(errno));
		*code = CLI_EXIT_USAGE;
		return (CLI_UPLOAD_FAILED);
	}
	p->done = have;
	while (off < f->size || !sent_any) {
		len = f->size - off > PROTO_FILE_FRAME_MAX ?
		    PROTO_FILE_FRAME_MAX : (size_t)(f->size - off);
		n = len == 0 ? 0 : pread(fd, buf, len, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)len) {
			cli_progress_break(p);
			fprintf(stderr, "encore: reading the input %s: %s; it "
			    "changed while it was sent? nothing was queued\n",
			    f->path, n < 0 ? strerror(errno) : "shorter than "
			    "it was");
			close(fd);
			*code = CLI_EXIT_USAGE;
			return (CLI_UPLOAD_FAILED);
		}
		client_msg_init(&m, MSG_FILE_DATA, &c->next_id);
		m.u.file.sha256 = xstrdup(f->sha256);
		m.u.file.size = f->size;
		m.u.file.offset = off;
		m.u.file.len = (int64_t)len;
		last = c->next_id - 1;
		r = client_send_frame(c, &m, buf, len, &err);
		msg_free(&m);
		if (r != CLIENT_OK) {
			close(fd);
			return (CLI_UPLOAD_LOST);
		}
		sent_any = 1;
		off += (int64_t)len;
		p->done += (int64_t)len;
		p->all_done += (int64_t)len;
		p->sent += (int64_t)len;
		cli_progress_draw(p, 0);
		/* A refusal may come early (a full store): stop there. */
		if (off < f->size && client_readable(c)) {
			r = client_next(c, &ans, 0, &err);
			if (r == CLIENT_OK && cli_frame_answer(&ans, first,
			    last)) {
				close(fd);
				goto answer;
			}
			if (r == CLIENT_OK)
				msg_free(&ans);
			else if (r != CLIENT_TIMEOUT) {
				close(fd);
				return (CLI_UPLOAD_LOST);
			}
		}
	}
	close(fd);
	/* The main node answers once the file is whole (or refused). */
	for (;;) {
		r = client_next(c, &ans, c->timeout_ms, &err);
		if (r != CLIENT_OK) {
			if (r == CLIENT_INTR || r == CLIENT_REMOTE) {
				cli_progress_break(p);
				cli_fail(r, &err, CLI_ABOUT_NONE, NULL);
				*code = r == CLIENT_INTR ? CLI_EXIT_DETACHED :
				    CLI_EXIT_REMOTE;
				return (CLI_UPLOAD_FAILED);
			}
			return (CLI_UPLOAD_LOST);
		}
		if (cli_frame_answer(&ans, first, last))
			break;
		msg_free(&ans);
	}
answer:
	r = client_reply_result(&ans, &data, &err);
	msg_free(&ans);
	if (r == CLIENT_OK) {
		if (client_json_bool(data, "complete", 0)) {
			json_object_put(data);
			return (CLI_UPLOAD_DONE);
		}
		json_object_put(data);
		return (CLI_UPLOAD_AGAIN);
	}
	/* Out of place (another upload moved it on): stat and go on. */
	if (strcmp(err.code_name, "conflict") == 0)
		return (CLI_UPLOAD_AGAIN);
	cli_progress_break(p);
	cli_upload_refused(f, r, &err);
	*code = CLI_EXIT_REMOTE;
	return (CLI_UPLOAD_FAILED);
}

/* Reconnect after a lost connection, waiting a little longer each time.
 * Returns 0, or the exit code after printing why. */
static int
cli_files_reconnect(struct cli_ctx *ctx, int attempt, const char *what,
    struct cli_progress *p)
{
	struct timespec	ts;
	int		ms = 500 << attempt, intr = ctx->client.intr_fd, rc;

	cli_progress_break(p);
	fprintf(stderr, "encore: the connection to the main node broke while "
	    "%s; trying again in %d.%d s (%d of %d)\n", what, ms / 1000,
	    (ms % 1000) / 100, attempt + 1, CLI_FILES_RETRIES);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
	cli_session_close(ctx);
	if ((rc = cli_session(ctx)) == CLI_EXIT_OK)
		ctx->client.intr_fd = intr;	/* Ctrl-C is still ours */
	return (rc);
}

/* Upload one hashed input unless the main node holds it. */
static int
cli_input_send(struct cli_ctx *ctx, struct cli_input *f, unsigned char *buf,
    struct cli_progress *p)
{
	struct client_error	err;
	enum client_result	r;
	enum cli_upload		u;
	int64_t			have;
	int			complete, attempt = 0, again = 0, code, rc;

	for (;;) {
		r = cli_file_stat(ctx, f->sha256, &have, &complete, &err);
		if (r == CLIENT_OK && complete) {
			p->all_done += f->size;
			return (CLI_EXIT_OK);
		}
		if (r == CLIENT_REMOTE) {
			cli_progress_break(p);
			cli_upload_refused(f, r, &err);
			return (CLI_EXIT_REMOTE);
		}
		if (r == CLIENT_OK) {
			if (have > f->size)
				have = 0;
			cli_progress_file(p, "sending", f->name, f->size);
			p->all_done += have;
			u = cli_upload_from(ctx, f, have, buf, p, &code);
			if (u == CLI_UPLOAD_DONE)
				return (CLI_EXIT_OK);
			if (u == CLI_UPLOAD_FAILED)
				return (code);
			/* What went is counted again once stat says. */
			p->all_done -= p->done;
			if (u == CLI_UPLOAD_AGAIN && ++again <= 3)
				continue;
			if (u == CLI_UPLOAD_AGAIN) {
				cli_progress_break(p);
				fprintf(stderr, "encore: the main node does not "
				    "take the input %s where it says it stands; "
				    "another upload of the same file may be "
				    "running: retry once it is done\n", f->path);
				return (CLI_EXIT_REMOTE);
			}
		}
		if (attempt >= CLI_FILES_RETRIES) {
			cli_progress_break(p);
			fprintf(stderr, "encore: gave up sending %s after %d "
			    "reconnections; nothing was queued, and the next "
			    "try goes on where this one stopped\n", f->path,
			    CLI_FILES_RETRIES);
			return (CLI_EXIT_UNREACHABLE);
		}
		if ((rc = cli_files_reconnect(ctx, attempt++, "sending an "
		    "input", p)) != CLI_EXIT_OK)
			return (rc);
	}
}

/* Hash and send every input, then list them in t. */
int
cli_inputs_send(struct cli_ctx *ctx, struct cli_inputs *in,
    struct proto_task *t)
{
	struct cli_progress	 p;
	struct proto_file	*pf;
	unsigned char		*buf;
	char			 total[32], sent[32];
	size_t			 i;
	int			 rc = CLI_EXIT_OK;

	if (in->n == 0)
		return (CLI_EXIT_OK);
	memset(&p, 0, sizeof p);
	p.on = isatty(STDERR_FILENO);
	buf = xmalloc(PROTO_FILE_FRAME_MAX);
	p.all_size = in->total;
	for (i = 0; i < in->n && rc == CLI_EXIT_OK; i++)
		rc = cli_input_hash(&in->v[i], buf, &p);
	in->total = 0;
	for (i = 0; i < in->n; i++)
		in->total += in->v[i].size;
	p.all_size = in->total;
	p.all_done = 0;
	for (i = 0; i < in->n && rc == CLI_EXIT_OK; i++)
		rc = cli_input_send(ctx, &in->v[i], buf, &p);
	if (rc == CLI_EXIT_OK && p.on) {
		cli_fmt_bytes((double)in->total, total, sizeof total);
		cli_fmt_bytes((double)p.sent, sent, sizeof sent);
		if (p.sent < in->total)
			fprintf(stderr, "\r\033[Kencore: %zu input file%s, %s; "
			    "%s sent (the main node had the rest)\n", in->n,
			    in->n == 1 ? "" : "s", total, sent);
		else
			fprintf(stderr, "\r\033[Kencore: %zu input file%s, %s, "
			    "sent\n", in->n, in->n == 1 ? "" : "s", total);
		p.drawn = 0;
	}
	cli_progress_break(&p);
	free(p.name);
	free(buf);
	if (rc != CLI_EXIT_OK)
		return (rc);
	t->inputs = xcalloc(in->n, sizeof *t->inputs);
	for (i = 0; i < in->n; i++) {
		pf = &t->inputs[i];
		pf->name = xstrdup(in->v[i].name);
		pf->sha256 = xstrdup(in->v[i].sha256);
		pf->size = in->v[i].size;
		pf->mode = in->v[i].mode;
	}
	t->n_inputs = in->n;
	return (CLI_EXIT_OK);
}

/* ---- fetching outputs ---- */

/* One output to fetch, as the main node listed it (strings borrowed). */
struct cli_output_file {
	const char	*name;
	const char	*sha256;
	int64_t		 size;
	int		 mode;
	char		 rel[PROTO_FILE_NAME_MAX + 32];	/* [INDEX/]name */
};

/* A download in progress: a temporary file in the target directory. */
struct cli_download {
	int		 dfd;		/* the file's directory */
	char		 tmp[64];	/* its temporary name there */
	int		 fd;		/* open on tmp, -1 */
	int64_t		 written;
	EVP_MD_CTX	*md;
};

/* Open the directory of rel below dir (made as needed, no link
 * followed); *base gets rel's last component.  -1 with *cause. */
static int
cli_fetch_dir(int top, const char *rel, const char **base, char **cause)
{
	const char	*p = rel, *slash;
	char		 comp[NAME_MAX + 1];
	size_t		 len;
	int		 dfd, next;

	if ((dfd = dup(top)) == -1)
		return (cli_files_cause(cause, "%s", strerror(errno)));
	while ((slash = strchr(p, '/')) != NULL) {
		len = (size_t)(slash - p);
		if (len > NAME_MAX) {
			close(dfd);
			return (cli_files_cause(cause, "a directory name in "
			    "%.200s is too long", rel));
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (mkdirat(dfd, comp, 0777) != 0 && errno != EEXIST) {
			close(dfd);
			return (cli_files_cause(cause, "cannot make the "
			    "directory for %.200s: %s", rel, strerror(errno)));
		}
		next = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(dfd);
		if (next == -1)
			return (cli_files_cause(cause, "%.200s: %s is in the "
			    "way (%s); move it, or fetch into another "
			    "directory", rel, comp, errno == ELOOP ||
			    errno == ENOTDIR ? "not a directory, or a link" :
			    strerror(errno)));
		dfd = next;
		p = slash + 1;
	}
	if (strlen(p) > NAME_MAX) {
		close(dfd);
		return (cli_files_cause(cause, "the name of %.200s is too long "
		    "for this file system", rel));
	}
	*base = p;
	return (dfd);
}

/* Whether the file base in dfd is already this output (same size and
 * SHA-256). */
static int
cli_fetch_have(int dfd, const char *base, const struct cli_output_file *o,
    unsigned char *buf)
{
	struct stat	 st;
	EVP_MD_CTX	*md;
	char		 hex[PROTO_SHA256_HEX + 1];
	ssize_t		 n;
	int		 fd;

	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1)
		return (0);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != o->size) {
		close(fd);
		return (0);
	}
	md = cli_sha_new();
	while ((n = read(fd, buf, PROTO_FILE_FRAME_MAX)) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	close(fd);
	cli_sha_hex(md, hex);
	EVP_MD_CTX_free(md);
	return (n == 0 && strcmp(hex, o->sha256) == 0);
}

/* Drop a download's temporary file. */
static void
cli_download_abort(struct cli_download *d)
{
	if (d->fd != -1) {
		close(d->fd);
		unlinkat(d->dfd, d->tmp, 0);
	}
	d->fd = -1;
}

/* How a download ended. */
enum cli_dl {
	CLI_DL_DONE,
	CLI_DL_LOST,		/* the connection broke: resume */
	CLI_DL_FAILED,		/* printed; *code says how to exit */
};

/* Write bytes to the temporary file; -1 after printing. */
static int
cli_download_write(struct cli_download *d, const struct cli_output_file *o,
    const unsigned char *buf, size_t len, const char *dir)
{
	ssize_t	n;
	size_t	off = 0;

	while (off < len) {
		n = write(d->fd, buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "encore: writing %s/%s: %s%s; nothing "
			    "of it was kept\n", dir, o->rel, strerror(errno),
			    errno == ENOSPC || errno == EDQUOT ? " (the disk is "
			    "full: free some space, or fetch into another "
			    "directory)" : "");
			return (-1);
		}
		off += (size_t)n;
	}
	EVP_DigestUpdate(d->md, buf, len);
	d->written += (int64_t)len;
	return (0);
}

/* Receive one output from where the download stands. */
static enum cli_dl
cli_download_get(struct cli_ctx *ctx, struct cli_download *d,
    const struct cli_output_file *o, const char *dir, unsigned char *buf,
    struct cli_progress *p, int *code)
{
	struct client		*c = &ctx->client;
	struct client_error	 err;
	struct json_object	*data;
	struct msg		 m;
	enum client_result	 r;
	char			*id, msg[PROTO_TEXT_MAX * 4];
	size_t			 n;
	int64_t			 left;

	client_msg_init(&m, MSG_FILE_GET, &c->next_id);
	m.u.file.sha256 = xstrdup(o->sha256);
	m.u.file.offset = d->written;
	id = xstrdup(m.message_id);
	r = client_send(c, &m, &err);
	msg_free(&m);
	if (r != CLIENT_OK) {
		free(id);
		return (CLI_DL_LOST);
	}
	for (;;) {
		r = client_next(c, &m, c->timeout_ms, &err);
		if (r == CLIENT_INTR) {
			cli_progress_break(p);
			fprintf(stderr, "encore: interrupted; nothing of %s/%s "
			    "was kept\n", dir, o->rel);
			*code = CLI_EXIT_DETACHED;
			free(id);
			return (CLI_DL_FAILED);
		}
		if (r != CLIENT_OK) {
			free(id);
			return (CLI_DL_LOST);
		}
		if (m.reply_to == NULL || strcmp(m.reply_to, id) != 0) {
			msg_free(&m);
			continue;
		}
		if (m.type != MSG_FILE_DATA)
			break;
		/* A frame: it must be this file's, where we stand. */
		if (m.u.file.sha256 == NULL ||
		    strcmp(m.u.file.sha256, o->sha256) != 0 ||
		    m.u.file.offset != d->written ||
		    m.u.file.size != o->size) {
			cli_progress_break(p);
			fprintf(stderr, "encore: the main node sent bytes of "
			    "another file, or at another place, than %s asked "
			    "for; nothing of it was kept (use encore and "
			    "encore-main of the same version)\n", o->rel);
			msg_free(&m);
			free(id);
			*code = CLI_EXIT_REMOTE;
			return (CLI_DL_FAILED);
		}
		left = m.u.file.len;
		msg_free(&m);
		while (left > 0) {
			r = client_raw(c, buf, (size_t)left, &n, &err);
			if (r == CLIENT_INTR) {
				cli_progress_break(p);
				fprintf(stderr, "encore: interrupted; nothing "
				    "of %s/%s was kept\n", dir, o->rel);
				*code = CLI_EXIT_DETACHED;
				free(id);
				return (CLI_DL_FAILED);
			}
			if (r != CLIENT_OK) {
				free(id);
				return (CLI_DL_LOST);
			}
			if (cli_download_write(d, o, buf, n, dir) != 0) {
				free(id);
				*code = CLI_EXIT_REMOTE;
				return (CLI_DL_FAILED);
			}
			left -= (int64_t)n;
			p->done += (int64_t)n;
			p->all_done += (int64_t)n;
			cli_progress_draw(p, 0);
		}
	}
	free(id);
	r = client_reply_result(&m, &data, &err);
	msg_free(&m);
	json_object_put(data);
	if (r == CLIENT_OK)
		return (CLI_DL_DONE);
	cli_progress_break(p);
	display_escape_buf(err.message, msg, sizeof msg);
	fprintf(stderr, "encore: the main node cannot send %s: %s (%s)\n",
	    o->rel, msg, err.code_name);
	if (strcmp(err.code_name, "not_found") == 0)
		fprintf(stderr, "encore: the output was never received whole, "
		    "or its task was pruned (--keep-finished)\n");
	*code = CLI_EXIT_REMOTE;
	return (CLI_DL_FAILED);
}

/* Put a whole download in place if it checks out.  0, or -1 after
 * printing. */
static int
cli_download_finish(struct cli_download *d, const struct cli_output_file *o,
    const char *base, const char *dir)
{
	char	hex[PROTO_SHA256_HEX + 1];

	cli_sha_hex(d->md, hex);
	if (d->written != o->size || strcmp(hex, o->sha256) != 0) {
		fprintf(stderr, "encore: %s/%s did not check out: %lld bytes "
		    "with SHA-256 %s, the main node listed %lld bytes with %s; "
		    "nothing of it was kept, fetch it again\n", dir, o->rel,
		    (long long)d->written, hex, (long long)o->size,
		    o->sha256);
		return (-1);
	}
	if (fchmod(d->fd, (mode_t)(o->mode & 0777)) != 0 ||
	    fsync(d->fd) != 0 || close(d->fd) != 0) {
		d->fd = -1;
		unlinkat(d->dfd, d->tmp, 0);
		fprintf(stderr, "encore: saving %s/%s: %s; nothing of it was "
		    "kept\n", dir, o->rel, strerror(errno));
		return (-1);
	}
	d->fd = -1;
	if (renameat(d->dfd, d->tmp, d->dfd, base) != 0) {
		fprintf(stderr, "encore: putting %s/%s in place: %s; nothing "
		    "of it was kept\n", dir, o->rel, strerror(errno));
		unlinkat(d->dfd, d->tmp, 0);
		return (-1);
	}
	fsync(d->dfd);
	return (0);
}

/* Fetch one output into top (the directory dir).  Returns the exit
 * code after printing, or CLI_EXIT_OK; *kept is set when it was there. */
static int
cli_fetch_one(struct cli_ctx *ctx, int top, const char *dir,
    const struct cli_output_file *o, unsigned char *buf,
    struct cli_progress *p, int *kept)
{
	struct cli_download	 d;
	const char		*base = NULL;
	char			*cause = NULL;
	enum cli_dl		 dl;
	int			 attempt = 0, code = CLI_EXIT_REMOTE, i;

	*kept = 0;
	memset(&d, 0, sizeof d);
	d.fd = -1;
	if ((d.dfd = cli_fetch_dir(top, o->rel, &base, &cause)) == -1) {
		cli_progress_break(p);
		fprintf(stderr, "encore: %s/%s\n", dir, cause);
		free(cause);
		return (CLI_EXIT_REMOTE);
	}
	if (cli_fetch_have(d.dfd, base, o, buf)) {
		close(d.dfd);
		p->all_done += o->size;
		*kept = 1;
		return (CLI_EXIT_OK);
	}
	for (i = 0; i < 100 && d.fd == -1; i++) {
		snprintf(d.tmp, sizeof d.tmp, ".encore-fetch-%08x",
		    arc4random());
		d.fd = openat(d.dfd, d.tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (d.fd == -1 && errno != EEXIST)
			break;
	}
	if (d.fd == -1) {
		cli_progress_break(p);
		fprintf(stderr, "encore: cannot write in the directory of "
		    "%s/%s: %s\n", dir, o->rel, strerror(errno));
		close(d.dfd);
		return (CLI_EXIT_REMOTE);
	}
	d.md = cli_sha_new();
	cli_progress_file(p, "fetching", o->rel, o->size);
	for (;;) {
		dl = cli_download_get(ctx, &d, o, dir, buf, p, &code);
		if (dl == CLI_DL_DONE) {
			code = cli_download_finish(&d, o, base, dir) == 0 ?
			    CLI_EXIT_OK : CLI_EXIT_REMOTE;
			break;
		}
		if (dl == CLI_DL_FAILED)
			break;
		if (attempt >= CLI_FILES_RETRIES) {
			cli_progress_break(p);
			fprintf(stderr, "encore: gave up fetching %s after %d "
			    "reconnections; nothing of it was kept\n", o->rel,
			    CLI_FILES_RETRIES);
			code = CLI_EXIT_UNREACHABLE;
			break;
		}
		/* The bytes written so far stay; the rest comes from
		 * there. */
		if ((code = cli_files_reconnect(ctx, attempt++,
		    "fetching an output", p)) != CLI_EXIT_OK)
			break;
		code = CLI_EXIT_REMOTE;
	}
	cli_download_abort(&d);
	EVP_MD_CTX_free(d.md);
	close(d.dfd);
	return (code);
}

/* Read one entry of get_task's outputs; -1 after printing if the main
 * node sent something we will not write. */
static int
cli_output_read(struct json_object *e, int array,
    struct cli_output_file *o)
{
	const char	*why = NULL;
	char		*shown;
	int64_t		 v, index = -1;

	memset(o, 0, sizeof *o);
	o->name = client_json_str(e, "name");
	o->sha256 = client_json_str(e, "sha256");
	o->mode = 0644;
	if (client_json_int(e, "mode", &v) == 0 && v >= 0 && v <= 07777)
		o->mode = (int)v;
	if (o->name == NULL || !proto_file_name_ok(o->name, &why))
		why = why != NULL ? why : "is missing";
	else if (o->sha256 == NULL || !proto_sha256_ok(o->sha256))
		why = "comes without a valid SHA-256";
	else if (client_json_int(e, "size", &o->size) != 0 || o->size < 0)
		why = "comes without a valid size";
	else if (array && (client_json_int(e, "index", &index) != 0 ||
	    index < 0))
		why = "comes without the index of its element";
	if (why != NULL) {
		shown = display_escape(o->name != NULL ? o->name : "?");
		fprintf(stderr, "encore: refusing the output '%s' the main node "
		    "listed: its name %s (an output's name is a relative path "
		    "inside the task's directory); check that --main names an "
		    "encore main node\n", shown, why);
		free(shown);
		return (-1);
	}
	if (index >= 0)
		snprintf(o->rel, sizeof o->rel, "%lld/%s", (long long)index,
		    o->name);
	else
		snprintf(o->rel, sizeof o->rel, "%s", o->name);
	return (0);
}

/* Fetch a task's outputs into dir. */
int
cli_fetch_outputs(struct cli_ctx *ctx, struct json_object *task,
    const char *dir, int to_stderr)
{
	struct json_object	*outs, *e;
	struct cli_output_file	*v;
	struct cli_progress	 p;
	unsigned char		*buf;
	char			*id, sz[32], *shown;
	const char		*aindex;
	FILE			*f = to_stderr ? stderr : stdout;
	size_t			 i, n;
	int			 array, top, rc = CLI_EXIT_OK, kept;
	int			 element;

	id = display_escape(client_json_str(task, "id") != NULL ?
	    client_json_str(task, "id") : "?");
	outs = client_json_get(task, "outputs");
	n = outs != NULL && json_object_is_type(outs, json_type_array) ?
	    json_object_array_length(outs) : 0;
	array = client_json_get(task, "array") != NULL;
	/* An element's outputs go where its array's would. */
	aindex = client_json_str(task, "array_index");
	element = !array && aindex != NULL &&
	    strspn(aindex, "0123456789") == strlen(aindex) && *aindex != '\0';
	if (n == 0) {
		fprintf(stderr, "encore: task %s has no outputs%s\n", id,
		    proto_task_state_name_is_final(client_json_str(task,
		    "state")) ? "" : " yet (it has not ended)");
		free(id);
		return (CLI_EXIT_OK);
	}
	if (client_json_bool(task, "outputs_truncated", 0))
		fprintf(stderr, "encore: the main node lists only the first "
		    "%zu outputs of array %s; fetch its elements one by one "
		    "(encore fetch %s.INDEX DIR) for the rest\n", n, id, id);
	v = xcalloc(n, sizeof *v);
	memset(&p, 0, sizeof p);
	p.on = isatty(STDERR_FILENO);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(outs, i);
		if (cli_output_read(e, array, &v[i]) != 0) {
			free(v);
			free(id);
			return (CLI_EXIT_REMOTE);
		}
		if (element) {
			/* DIR/INDEX/name for an element fetched alone. */
			snprintf(v[i].rel, sizeof v[i].rel, "%s/%s", aindex,
			    v[i].name);
		}
		p.all_size += v[i].size;
	}
	if (proto_mkdirs(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "encore: cannot make the directory %s: %s\n",
		    dir, strerror(errno));
		free(v);
		free(id);
		return (CLI_EXIT_REMOTE);
	}
	if ((top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "encore: cannot open the directory %s: %s\n",
		    dir, strerror(errno));
		free(v);
		free(id);
		return (CLI_EXIT_REMOTE);
	}
	buf = xmalloc(PROTO_FILE_FRAME_MAX);
	for (i = 0; i < n && rc == CLI_EXIT_OK; i++) {
		rc = cli_fetch_one(ctx, top, dir, &v[i], buf, &p, &kept);
		if (rc != CLI_EXIT_OK)
			break;
		cli_progress_break(&p);
		shown = display_escape(v[i].rel);
		cli_fmt_bytes((double)v[i].size, sz, sizeof sz);
		fprintf(f, "%s/%s  %s  %s\n", dir, shown, sz, kept ?
		    "already there" : "fetched");
		free(shown);
	}
	cli_progress_break(&p);
	close(top);
	free(buf);
	free(p.name);
	free(v);
	free(id);
	return (rc);
}

/* encore fetch ID [DIR] */
int
cli_fetch_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*data;
	struct cli_flags	 flags;
	struct stat		 st;
	const char		*dir = ".";
	char			**ops;
	int			 rc;

	if ((rc = cli_parse_flags(cmd, argc, argv, CLI_OPT_OPTARG, &flags, 1,
	    &ops)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	if ((rc = cli_check_id(cmd, "task ID", ops[0])) != 0)
		return (rc);
	if (ops[1] != NULL)
		dir = ops[1];
	if (*dir == '\0')
		return (cli_usage_error(cmd, "DIR is empty"));
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
		return (cli_usage_error(cmd, "%s is not a directory", dir));
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	if ((rc = cli_get_task(ctx, ops[0], &data)) != 0)
		return (rc);
	/* Ctrl-C leaves no half file behind. */
	cli_intr_start(ctx);
	rc = cli_fetch_outputs(ctx, client_json_get(data, "task"), dir, 0);
	json_object_put(data);
	return (rc);
}

/* ---- show ---- */

/* Print a list of files as an indented table. */
static void
cli_show_file_list(const char *label, struct json_object *a, int indexed)
{
	static const char	*head[] = { "INDEX", "NAME", "SIZE", "MODE",
	    "SHA256" };
	struct json_object	*e;
	struct cli_table	 t;
	const char		*row[5];
	char			 size[32], mode[16], idx[24];
	int64_t			 v;
	size_t			 i, n;

	n = a != NULL && json_object_is_type(a, json_type_array) ?
	    json_object_array_length(a) : 0;
	if (n == 0)
		return;
	printf("%s\n", label);
	cli_table_init(&t, indexed ? 5 : 4);
	t.indent = "  ";
	cli_table_add(&t, indexed ? head : head + 1);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		size[0] = mode[0] = idx[0] = '\0';
		if (client_json_int(e, "size", &v) == 0)
			snprintf(size, sizeof size, "%lld", (long long)v);
		if (client_json_int(e, "mode", &v) == 0)
			snprintf(mode, sizeof mode, "%04llo", (long long)v);
		if (client_json_int(e, "index", &v) == 0)
			snprintf(idx, sizeof idx, "%lld", (long long)v);
		row[0] = idx;
		row[1] = client_json_str(e, "name");
		row[2] = size;
		row[3] = mode;
		row[4] = client_json_str(e, "sha256");
		cli_table_add(&t, indexed ? row : row + 1);
	}
	cli_table_print(stdout, &t);
	cli_table_free(&t);
}

/* A list of patterns on one line. */
static void
cli_show_patterns(const char *label, struct json_object *a)
{
	struct json_object	*e;
	char			*line = NULL, *t, *shown;
	size_t			 i, n;

	n = a != NULL && json_object_is_type(a, json_type_array) ?
	    json_object_array_length(a) : 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		shown = display_escape(e != NULL &&
		    json_object_is_type(e, json_type_string) ?
		    json_object_get_string(e) : "?");
		xasprintf(&t, "%s%s%s", line != NULL ? line : "",
		    line != NULL ? " " : "", shown);
		free(shown);
		free(line);
		line = t;
	}
	if (line != NULL)
		printf("%-16s%s\n", label, line);
	free(line);
}

/* The files of a task, for show. */
void
cli_show_files(struct json_object *task)
{
	int	array = client_json_get(task, "array") != NULL;

	cli_show_patterns("outputs from:", client_json_get(task,
	    "output_patterns"));
	cli_show_patterns("checkpoints:", client_json_get(task,
	    "checkpoint_patterns"));
	cli_show_file_list("inputs:", client_json_get(task, "inputs"), 0);
	cli_show_file_list("outputs:", client_json_get(task, "outputs"),
	    array);
	if (client_json_bool(task, "outputs_truncated", 0))
		printf("  ... more (only the first outputs are listed)\n");
	cli_show_file_list("last checkpoint:", client_json_get(task,
	    "checkpoint"), 0);
}
