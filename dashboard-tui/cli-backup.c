/* SPDX-License-Identifier: ISC */
/*
 * cli-backup.c -- `encore backup FILE`: a consistent copy of the main
 * node's live database, written where encore runs.
 *
 * The main node streams the copy as `event`s {topic "backup", offset,
 * size, data (base64)} answering our `backup` request, then replies with
 * its size and SHA-256 (PROTOCOL.md, "backup").  We write the chunks in
 * order to FILE.tmp next to FILE (mode 0600: the database holds device
 * keys), check the size and the SHA-256, fsync, and only then rename it
 * to FILE, so FILE is either a whole, checked copy or not there at all.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "cli.h"

/* How often the progress line on a terminal is redrawn. */
#define CLI_BACKUP_PROGRESS_MS	200

/* A backup being received. */
struct cli_backup {
	const char	*file;		/* borrowed from argv */
	char		*tmp;		/* FILE.tmp, owned */
	int		 fd;		/* open on tmp, -1 when closed */
	int64_t		 written;
	int64_t		 size;		/* announced by the main node, -1 */
	EVP_MD_CTX	*sha;
	int		 progress;	/* stderr is a terminal */
	int64_t		 drawn_at;	/* when progress was last drawn */
};

/* Draw "bytes/total" on the terminal (last: end the line). */
static void
cli_backup_progress(struct cli_backup *b, int last)
{
	char	done[32], total[32];
	int64_t	now = client_now_ms();

	if (!b->progress || (!last && now - b->drawn_at <
	    CLI_BACKUP_PROGRESS_MS))
		return;
	b->drawn_at = now;
	cli_fmt_bytes((double)b->written, done, sizeof done);
	if (b->size > 0) {
		cli_fmt_bytes((double)b->size, total, sizeof total);
		fprintf(stderr, "\r\033[Kencore: backup: %s/%s (%lld%%)", done,
		    total, (long long)(b->written * 100 / b->size));
	} else
		fprintf(stderr, "\r\033[Kencore: backup: %s", done);
	if (last)
		fputc('\n', stderr);
}

/* Give up: remove FILE.tmp and say what happened and what to do. */
static int
cli_backup_fail(struct cli_backup *b, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
cli_backup_fail(struct cli_backup *b, int code, const char *fmt, ...)
{
	va_list	ap;

	if (b->progress && b->drawn_at != 0)
		fputc('\n', stderr);
	if (b->fd != -1)
		close(b->fd);
	b->fd = -1;
	if (b->tmp != NULL)
		unlink(b->tmp);
	fprintf(stderr, "encore: backup: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nencore: no backup was written to %s; run 'encore "
	    "backup %s' again\n", b->file, b->file);
	return (code);
}

/* Decode one chunk and write it at its offset; -1 after printing. */
static int
cli_backup_chunk(struct cli_backup *b, struct json_object *ev)
{
	struct json_object	*d = client_json_get(ev, "data");
	const char		*s;
	unsigned char		*buf;
	int64_t			 offset, size;
	size_t			 len, pad = 0, off;
	ssize_t			 n;
	int			 got;

	if (client_json_int(ev, "offset", &offset) != 0 || d == NULL ||
	    !json_object_is_type(d, json_type_string)) {
		cli_backup_fail(b, CLI_EXIT_REMOTE, "the main node sent a "
		    "chunk without an offset or data; use encore and "
		    "encore-main of the same version");
		return (-1);
	}
	if (offset != b->written) {
		cli_backup_fail(b, CLI_EXIT_REMOTE, "the stream broke: a chunk "
		    "at byte %lld came where byte %lld was due",
		    (long long)offset, (long long)b->written);
		return (-1);
	}
	if (client_json_int(ev, "size", &size) == 0 && size >= 0)
		b->size = size;
	s = json_object_get_string(d);
	len = (size_t)json_object_get_string_len(d);
	if (len % 4 != 0) {
		cli_backup_fail(b, CLI_EXIT_REMOTE, "the main node sent a "
		    "chunk that is not base64 (at byte %lld)",
		    (long long)offset);
		return (-1);
	}
	if (len == 0)
		return (0);
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	buf = xmalloc(len / 4 * 3 + 1);
	got = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
	if (got < 0 || (size_t)got < pad) {
		free(buf);
		cli_backup_fail(b, CLI_EXIT_REMOTE, "the main node sent a "
		    "chunk that is not base64 (at byte %lld)",
		    (long long)offset);
		return (-1);
	}
	len = (size_t)got - pad;	/* the padding decodes as zeros */
	EVP_DigestUpdate(b->sha, buf, len);
	for (off = 0; off < len; off += (size_t)n) {
		n = write(b->fd, buf + off, len - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n == -1) {
			free(buf);
			cli_backup_fail(b, CLI_EXIT_REMOTE, "writing %s: %s "
			    "(free some space, or back up somewhere else)",
			    b->tmp, strerror(errno));
			return (-1);
		}
	}
	free(buf);
	b->written += (int64_t)len;
	cli_backup_progress(b, 0);
	return (0);
}

/* The reply came: check the copy and put it in place. */
static int
cli_backup_finish(struct cli_backup *b, struct json_object *data,
    int force)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	char		 hex[EVP_MAX_MD_SIZE * 2 + 1], *dir, *e;
	const char	*want;
	unsigned int	 mdlen, i;
	int64_t		 size, schema;
	int		 dfd;

	cli_backup_progress(b, 1);
	b->drawn_at = 0;
	EVP_DigestFinal_ex(b->sha, md, &mdlen);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + i * 2, 3, "%02x", md[i]);
	want = client_json_str(data, "sha256");
	if (client_json_int(data, "size", &size) != 0 || want == NULL)
		return (cli_backup_fail(b, CLI_EXIT_REMOTE, "the main node's "
		    "answer has no size or sha256 to check the copy against; "
		    "use encore and encore-main of the same version"));
	if (size != b->written)
		return (cli_backup_fail(b, CLI_EXIT_REMOTE, "the copy has %lld "
		    "bytes, the main node says it sent %lld", (long long)
		    b->written, (long long)size));
	if (strcasecmp(want, hex) != 0) {
		e = display_escape(want);
		cli_backup_fail(b, CLI_EXIT_REMOTE, "the copy's SHA-256 is %s, "
		    "the main node's %s", hex, e);
		free(e);
		return (CLI_EXIT_REMOTE);
	}
	if (fsync(b->fd) != 0 || close(b->fd) != 0) {
		b->fd = -1;
		return (cli_backup_fail(b, CLI_EXIT_REMOTE, "saving %s: %s",
		    b->tmp, strerror(errno)));
	}
	b->fd = -1;
	/* Without --force, a FILE made meanwhile is not replaced. */
	if (!force && link(b->tmp, b->file) == 0)
		unlink(b->tmp);
	else if (!force && errno == EEXIST)
		return (cli_backup_fail(b, CLI_EXIT_USAGE, "%s appeared while "
		    "the copy was made; pass --force to replace it", b->file));
	else if (rename(b->tmp, b->file) != 0)
		return (cli_backup_fail(b, CLI_EXIT_REMOTE, "renaming %s to "
		    "%s: %s", b->tmp, b->file, strerror(errno)));
	/* The rename itself is durable once its directory is synced. */
	dir = xstrdup(b->file);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	free(dir);
	e = display_escape(b->file);
	printf("%s: %lld bytes, sha256 %s", e, (long long)b->written, hex);
	if (client_json_int(data, "schema_version", &schema) == 0)
		printf(", schema version %lld", (long long)schema);
	putchar('\n');
	free(e);
	return (CLI_EXIT_OK);
}

/*
 * Receive the stream answering request id until its reply.  The main
 * node must send something within the request timeout each time (the
 * copy itself is made a few hundred pages per loop pass).
 */
static int
cli_backup_receive(struct cli_ctx *ctx, struct cli_backup *b,
    const char *id, int force)
{
	struct client		*c = &ctx->client;
	struct client_error	 err;
	struct json_object	*data;
	struct msg		 m;
	enum client_result	 r;
	const char		*topic;
	int			 rc = -1;

	while (rc == -1) {
		r = client_next(c, &m, c->timeout_ms, &err);
		if (r == CLIENT_INTR)
			return (cli_backup_fail(b, CLI_EXIT_DETACHED,
			    "interrupted"));
		if (r == CLIENT_TIMEOUT)
			return (cli_backup_fail(b, CLI_EXIT_UNREACHABLE, "the "
			    "main node at %s sent nothing for %d s; check its "
			    "log, or raise --request-timeout", c->addr,
			    c->timeout_ms / 1000));
		if (r != CLIENT_OK)
			return (cli_backup_fail(b, CLI_EXIT_UNREACHABLE, "%s",
			    err.message));
		if (m.reply_to == NULL || strcmp(m.reply_to, id) != 0) {
			if (m.type == MSG_BYE)
				rc = cli_backup_fail(b, CLI_EXIT_UNREACHABLE,
				    "the main node is shutting down");
			msg_free(&m);
			continue;
		}
		switch (m.type) {
		case MSG_EVENT:
			topic = client_json_str(m.u.json, "topic");
			if (topic != NULL && strcmp(topic, "backup") == 0 &&
			    cli_backup_chunk(b, m.u.json) != 0)
				rc = CLI_EXIT_REMOTE;
			break;
		case MSG_REPLY:
		case MSG_ERROR:
			r = client_reply_result(&m, &data, &err);
			if (r != CLIENT_OK) {
				cli_fail(r, &err, CLI_ABOUT_NONE, NULL);
				rc = cli_backup_fail(b, CLI_EXIT_REMOTE,
				    "the main node could not make the copy");
			} else
				rc = cli_backup_finish(b, data, force);
			json_object_put(data);
			break;
		default:
			break;
		}
		msg_free(&m);
	}
	return (rc);
}

/* encore backup [--force] FILE */
int
cli_backup_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct client_error	 err;
	struct cli_flags	 flags;
	struct cli_backup	 b;
	struct stat		 st;
	struct msg		 m;
	char			**ops, *id;
	int			 rc, force;

	if ((rc = cli_parse_flags(cmd, argc, argv, CLI_OPT_FORCE, &flags, 1,
	    &ops)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	force = (flags.set & CLI_OPT_FORCE) != 0;
	if (*ops[0] == '\0')
		return (cli_usage_error(cmd, "FILE is empty"));
	if (lstat(ops[0], &st) == 0 && S_ISDIR(st.st_mode))
		return (cli_usage_error(cmd, "%s is a directory; name the "
		    "file to write, e.g. %s/encore.db", ops[0], ops[0]));
	if (lstat(ops[0], &st) == 0 && !force) {
		fprintf(stderr, "encore: backup: %s exists; pass --force to "
		    "replace it, or name another file\n", ops[0]);
		return (CLI_EXIT_USAGE);
	}

	if ((rc = cli_session(ctx)) != 0)
		return (rc);

	memset(&b, 0, sizeof b);
	b.file = ops[0];
	b.size = -1;
	b.progress = isatty(STDERR_FILENO);
	xasprintf(&b.tmp, "%s.tmp", b.file);
	b.fd = open(b.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (b.fd == -1) {
		fprintf(stderr, "encore: backup: cannot write %s: %s; name a "
		    "file in a directory you may write to\n", b.tmp,
		    strerror(errno));
		free(b.tmp);
		return (CLI_EXIT_REMOTE);
	}
	if ((b.sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(b.sha, EVP_sha256(), NULL) != 1)
		fatalx("cannot start a SHA-256");
	/* Ctrl-C removes what was written so far. */
	cli_intr_start(ctx);
	client_msg_init(&m, MSG_BACKUP, &ctx->client.next_id);
	id = xstrdup(m.message_id);
	if (client_send(&ctx->client, &m, &err) != CLIENT_OK)
		rc = cli_backup_fail(&b, CLI_EXIT_UNREACHABLE, "%s",
		    err.message);
	else
		rc = cli_backup_receive(ctx, &b, id, force);
	msg_free(&m);
	free(id);
	if (b.fd != -1)
		close(b.fd);
	EVP_MD_CTX_free(b.sha);
	free(b.tmp);
	return (rc);
}
