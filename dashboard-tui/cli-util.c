/* SPDX-License-Identifier: ISC */
/*
 * cli-util.c -- what the CLI's commands share: usage errors, the
 * authenticated session, error reporting with a next step, CSV fields and
 * aligned tables.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

/* Print a usage error for a command. */
int
cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "encore: %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: encore %s\n", cmd->usage);
	fprintf(stderr, "run 'encore %s --help' for details\n", cmd->name);
	return (CLI_EXIT_USAGE);
}

/* Edit distance (insert, delete, substitute, swap neighbours) of a and
 * b; words of 32 bytes or more count as too far. */
static size_t
cli_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, d[32][32], v;

	if (la >= 32 || lb >= 32)
		return (SIZE_MAX);
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return (d[la][lb]);
}

/* The candidate closest to word, if close enough to be a typo of it. */
const char *
cli_suggest(const char *word, const char * const *cands, size_t n)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = SIZE_MAX, max;

	/* A third of the word may be wrong, at least 1, at most the max. */
	max = strlen(word) / 3;
	if (max < 1)
		max = 1;
	if (max > CLI_SUGGEST_MAX)
		max = CLI_SUGGEST_MAX;
	for (i = 0; i < n; i++) {
		if (cands[i] == NULL)
			continue;
		d = cli_distance(word, cands[i]);
		if (d <= max && d < bestd) {
			best = cands[i];
			bestd = d;
		}
	}
	return (best);
}

/* "; did you mean '--NAME'?" for an unknown long option, or "". */
void
cli_suggest_option(const char *arg, const struct option *longopts,
    char *buf, size_t size)
{
	const char	*cands[64], *best;
	char		 word[64];
	size_t		 n = 0;

	buf[0] = '\0';
	if (strncmp(arg, "--", 2) != 0)
		return;
	snprintf(word, sizeof word, "%.*s", (int)strcspn(arg + 2, "="),
	    arg + 2);
	for (; longopts->name != NULL && n < 64; longopts++)
		cands[n++] = longopts->name;
	if ((best = cli_suggest(word, cands, n)) != NULL)
		snprintf(buf, size, "; did you mean '--%s'?", best);
}

/* Parse a simple command's flags and operands. */
int
cli_parse_flags(const struct cli_cmd *cmd, int argc, char **argv,
    int allowed, struct cli_flags *flags, int nargs, char ***operands)
{
	static const struct option longopts[] = {
		{ "csv", no_argument, NULL, 'c' },
		{ "all", no_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ "raw", no_argument, NULL, 'r' },
		{ "expand", no_argument, NULL, 'e' },
		{ "force", no_argument, NULL, 'F' },
		{ "reason", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const int	 bits[] = { CLI_OPT_CSV, CLI_OPT_ALL,
	    CLI_OPT_FOLLOW, CLI_OPT_RAW, CLI_OPT_EXPAND, CLI_OPT_FORCE,
	    CLI_OPT_REASON, -1 };
	struct option		 mine[sizeof longopts / sizeof longopts[0]];
	char			 hint[80];
	size_t			 i, n = 0;
	int			 ch, flag;

	/* The options this command takes, for "did you mean". */
	for (i = 0; longopts[i].name != NULL; i++) {
		if (bits[i] == -1 || (bits[i] & allowed))
			mine[n++] = longopts[i];
	}
	memset(&mine[n], 0, sizeof mine[n]);

	flags->set = 0;
	flags->reason = NULL;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":afh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			flag = CLI_OPT_CSV;
			break;
		case 'a':
			flag = CLI_OPT_ALL;
			break;
		case 'f':
			flag = CLI_OPT_FOLLOW;
			break;
		case 'r':
			flag = CLI_OPT_RAW;
			break;
		case 'e':
			flag = CLI_OPT_EXPAND;
			break;
		case 'F':
			flag = CLI_OPT_FORCE;
			break;
		case 'R':
			flag = CLI_OPT_REASON;
			break;
		case 'h':
			cli_cmd_help(stdout, cmd);
			return (-1);
		case ':':
			if ((allowed & CLI_OPT_REASON) &&
			    strncmp(argv[optind - 1], "--reason", 8) == 0)
				return (cli_usage_error(cmd, "%s needs a "
				    "value", argv[optind - 1]));
			flag = 0;
			break;
		default:
			flag = 0;
			break;
		}
		if ((flag & allowed) == 0) {
			if (optopt != 0 && ch == '?' &&
			    argv[optind - 1][1] != '-')
				return (cli_usage_error(cmd, "unknown option "
				    "'-%c'", optopt));
			cli_suggest_option(argv[optind - 1], mine, hint,
			    sizeof hint);
			return (cli_usage_error(cmd, "unknown option '%s'%s",
			    argv[optind - 1], hint));
		}
		if (flag == CLI_OPT_REASON)
			flags->reason = optarg;
		flags->set |= flag;
	}
	if (argc - optind < nargs) {
		/* The operand is the usage's first upper-case word. */
		return (cli_usage_error(cmd, "missing %s", cmd->usage +
		    strcspn(cmd->usage, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")));
	}
	if (argc - optind > nargs + ((allowed & CLI_OPT_OPTARG) != 0)) {
		return (cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind + nargs +
		    ((allowed & CLI_OPT_OPTARG) != 0)]));
	}
	if (operands != NULL)
		*operands = argv + optind;
	return (0);
}

/* Check an id operand. */
int
cli_check_id(const struct cli_cmd *cmd, const char *what, const char *id)
{
	if (*id == '\0' || strlen(id) > PROTO_ID_MAX) {
		return (cli_usage_error(cmd, "'%s' is not a %s (1 to %d "
		    "characters)", id, what, PROTO_ID_MAX));
	}
	return (0);
}

/* Print a command's usage and help. */
void
cli_cmd_help(FILE *f, const struct cli_cmd *cmd)
{
	fprintf(f, "usage: encore [global options] %s\n\n%s\n"
	    "Global options: see 'encore --help'.\n", cmd->usage, cmd->help);
}

/* Print where the operator token can come from. */
static void
cli_no_token(void)
{
	char	**dirs;
	size_t	  n, i;

	fprintf(stderr, "encore: no operator token: pass --token-file F or "
	    "--token T, or set ENCORE_TOKEN_FILE or ENCORE_TOKEN\nencore: on "
	    "the main node's host it is read from operator.token in the state "
	    "dir (looked in:");
	dirs = client_token_dirs(&n);
	for (i = 0; i < n; i++)
		fprintf(stderr, " %s", dirs[i]);
	client_free_strings(dirs, n);
	fprintf(stderr, ")\n");
}

/* Connect and authenticate (over TLS with a pinned token). */
int
cli_session(struct cli_ctx *ctx)
{
	struct client_error	 err;
	enum client_result	 r;
	const char		*secret;
	char			*token, *cause, pin[CLIENT_PIN_HEX + 1];

	if (ctx->connected)
		return (CLI_EXIT_OK);
	token = client_find_token(ctx->token_flag, ctx->token_file_flag,
	    &cause);
	if (token == NULL && cause != NULL) {
		fprintf(stderr, "encore: %s\n", cause);
		free(cause);
		return (CLI_EXIT_USAGE);
	}
	if (token == NULL) {
		cli_no_token();
		return (CLI_EXIT_USAGE);
	}
	if (client_token_parse(token, pin, &secret, &cause) == -1) {
		fprintf(stderr, "encore: %s\n", cause);
		free(cause);
		explicit_bzero(token, strlen(token));
		free(token);
		return (CLI_EXIT_USAGE);
	}
	r = client_open(&ctx->client, client_main_address(ctx->main_flag),
	    ctx->timeout_ms, &err);
	ctx->connected = 1;	/* client_close() frees even a failed open */
	if (r == CLIENT_OK)
		r = client_auth(&ctx->client, token, &err);
	explicit_bzero(token, strlen(token));
	free(token);
	if (r != CLIENT_OK) {
		cli_session_close(ctx);
		return (cli_fail(r, &err, CLI_ABOUT_NONE, NULL));
	}
	return (CLI_EXIT_OK);
}

/* Close the session. */
void
cli_session_close(struct cli_ctx *ctx)
{
	if (ctx->connected)
		client_close(&ctx->client);
	ctx->connected = 0;
}

/* Whether a message from the main node already says what to do next
 * (names a command, a flag or a variable), so ours would repeat it. */
static int
cli_has_next_step(const char *message)
{
	return (strstr(message, "encore ") != NULL ||
	    strstr(message, "--") != NULL ||
	    strstr(message, "ENCORE_") != NULL);
}

/* Report a failed call. */
int
cli_fail(enum client_result r, const struct client_error *err,
    enum cli_about about, const char *id)
{
	const char	*hint;
	char		 msg[PROTO_TEXT_MAX * 4], code[64], *shown;

	display_escape_buf(err->message, msg, sizeof msg);
	if (r != CLIENT_REMOTE) {
		fprintf(stderr, "encore: %s\n", msg);
		return (CLI_EXIT_UNREACHABLE);
	}
	display_escape_buf(err->code_name, code, sizeof code);
	fprintf(stderr, "encore: %s (%s)\n", msg, code);
	if (cli_has_next_step(err->message))
		return (CLI_EXIT_REMOTE);
	hint = client_error_hint(err->code_name);
	shown = display_escape(id != NULL ? id : "ID");
	if (strcmp(err->code_name, "not_found") == 0 &&
	    about == CLI_ABOUT_DEVICE)
		fprintf(stderr, "encore: list the devices and their ids with "
		    "'encore devices'\n");
	else if (strcmp(err->code_name, "not_found") == 0 &&
	    about == CLI_ABOUT_TASK)
		fprintf(stderr, "encore: list the tasks and their ids with "
		    "'encore ps --all'\n");
	else if (strcmp(err->code_name, "conflict") == 0 &&
	    about == CLI_ABOUT_DEVICE)
		fprintf(stderr, "encore: check the device's state with "
		    "'encore devices'\n");
	else if (strcmp(err->code_name, "conflict") == 0 &&
	    about == CLI_ABOUT_TASK)
		fprintf(stderr, "encore: check the task's state with "
		    "'encore show %s'\n", shown);
	else
		fprintf(stderr, "encore: %s\n", hint);
	free(shown);
	return (CLI_EXIT_REMOTE);
}

/* Send a request and wait for the reply, reporting failure. */
int
cli_call(struct cli_ctx *ctx, struct msg *m, struct json_object **data,
    enum cli_about about)
{
	struct client_error	 err;
	enum client_result	 r;
	const char		*id = NULL;

	r = client_request(&ctx->client, m, data, &err);
	if (r == CLIENT_OK)
		return (CLI_EXIT_OK);
	/* Requests about a device or a task carry a msg_target. */
	if (about == CLI_ABOUT_TASK)
		id = m->u.target.task_id;
	else if (about == CLI_ABOUT_DEVICE)
		id = m->u.target.device_id;
	return (cli_fail(r, &err, about, id));
}

int	cli_stdout_tty;

static void	cli_csv_raw(FILE *, const char *);

/* Choose raw or filtered output per stream. */
void
cli_output_init(struct cli_output *o, int raw)
{
	memset(o, 0, sizeof *o);
	o->filter[0] = !raw && isatty(STDOUT_FILENO);
	o->filter[1] = !raw && isatty(STDERR_FILENO);
}

/* Write one chunk of task output. */
int
cli_output_write(struct cli_output *o, const char *stream,
    struct json_object *data)
{
	FILE	*f;
	int	 i;

	if (data == NULL || !json_object_is_type(data, json_type_string))
		return (0);
	i = stream != NULL && strcmp(stream, "stderr") == 0;
	f = i ? stderr : stdout;
	if (o->filter[i])
		display_filter_write(&o->df[i], f, json_object_get_string(data),
		    (size_t)json_object_get_string_len(data));
	else
		fwrite(json_object_get_string(data), 1,
		    (size_t)json_object_get_string_len(data), f);
	if (fflush(f) != 0 && f == stdout && cli_stdout_gone())
		return (-1);
	return (0);
}

/* Flush the filters. */
void
cli_output_end(struct cli_output *o)
{
	if (o->filter[0])
		display_filter_end(&o->df[0], stdout);
	if (o->filter[1])
		display_filter_end(&o->df[1], stderr);
	fflush(stdout);
	fflush(stderr);
}

/* Whether stdout's reader is gone. */
int
cli_stdout_gone(void)
{
	struct pollfd	pfd;

	if (!ferror(stdout))
		return (0);
	if (errno == EPIPE)
		return (1);
	/* The error came earlier: a pipe with no reader polls as POLLERR. */
	pfd.fd = STDOUT_FILENO;
	pfd.events = POLLOUT;
	pfd.revents = 0;
	return (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP)));
}

/* Write one CSV field. */
void
cli_csv_field(FILE *f, const char *s)
{
	char	*e = NULL;

	if (s == NULL)
		return;
	/* Data for programs: raw, except on a terminal. */
	if (cli_stdout_tty && f == stdout)
		s = e = display_escape(s);
	cli_csv_raw(f, s);
	free(e);
}

/* Write one CSV field as it is. */
static void
cli_csv_raw(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* End a CSV record. */
void
cli_csv_end(FILE *f)
{
	fputs("\r\n", f);
}

/* Start an empty table. */
void
cli_table_init(struct cli_table *t, size_t ncols)
{
	t->ncols = ncols;
	t->nrows = 0;
	t->cells = NULL;
	t->span = NULL;
	t->width = NULL;
	t->indent = NULL;
}

/* Add one row, escaped for the terminal. */
void
cli_table_add(struct cli_table *t, const char * const *row)
{
	cli_table_add_span(t, row, t->ncols);
}

/* Add one row whose cells from column from on are one text, row[from]. */
void
cli_table_add_span(struct cli_table *t, const char * const *row,
    size_t from)
{
	size_t	i;

	if (from > t->ncols)
		from = t->ncols;
	t->cells = xreallocarray(t->cells, (t->nrows + 1) * t->ncols,
	    sizeof *t->cells);
	t->span = xreallocarray(t->span, t->nrows + 1, sizeof *t->span);
	t->span[t->nrows] = from;
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = i > from ? NULL :
		    display_escape(row[i] != NULL && *row[i] != '\0' ?
		    row[i] : "-");
	}
	t->nrows++;
}

/* Print the rows so far and free them; column widths never shrink, so a
 * table printed page by page stays aligned unless a later page is wider.
 * A spanning row's text is not measured: it runs to the end of its line. */
void
cli_table_print(FILE *f, struct cli_table *t)
{
	size_t	r, i;
	int	w;
	char	*cell;

	if (t->width == NULL)
		t->width = xcalloc(t->ncols, sizeof *t->width);
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols && i < t->span[r]; i++) {
			w = display_width(t->cells[r * t->ncols + i]);
			if (w > t->width[i])
				t->width[i] = w;
		}
	}
	for (r = 0; r < t->nrows; r++) {
		if (t->indent != NULL)
			fputs(t->indent, f);
		for (i = 0; i < t->ncols; i++) {
			cell = t->cells[r * t->ncols + i];
			if (i + 1 == t->ncols || i == t->span[r]) {
				fprintf(f, "%s\n", cell);
				break;
			}
			display_pad(f, cell, t->width[i] + 2);
		}
		for (i = 0; i < t->ncols; i++)
			free(t->cells[r * t->ncols + i]);
	}
	free(t->cells);
	free(t->span);
	t->cells = NULL;
	t->span = NULL;
	t->nrows = 0;
}

/* Free a table's column widths. */
void
cli_table_free(struct cli_table *t)
{
	size_t	i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->span);
	free(t->width);
	t->cells = NULL;
	t->span = NULL;
	t->width = NULL;
	t->nrows = 0;
}

/* Format an integer member. */
char *
cli_fmt_int(struct json_object *o, const char *key, char *buf, size_t size)
{
	int64_t	v;

	if (client_json_int(o, key, &v) != 0)
		buf[0] = '\0';
	else
		snprintf(buf, size, "%lld", (long long)v);
	return (buf);
}

/* Format a double member. */
char *
cli_fmt_double(struct json_object *o, const char *key, int prec, char *buf,
    size_t size)
{
	double	v;

	v = client_json_double(o, key);
	if (isnan(v))
		buf[0] = '\0';
	else
		snprintf(buf, size, "%.*f", prec, v);
	return (buf);
}

/* Format bytes for people. */
char *
cli_fmt_bytes(double bytes, char *buf, size_t size)
{
	static const char	 units[] = "BKMGTP";
	size_t			 u = 0;

	if (isnan(bytes) || bytes < 0) {
		buf[0] = '\0';
		return (buf);
	}
	while (bytes >= 1024 && u + 1 < sizeof units - 1) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.0fB", bytes);
	else if (bytes < 10)
		snprintf(buf, size, "%.1f%c", bytes, units[u]);
	else
		snprintf(buf, size, "%.0f%c", bytes, units[u]);
	return (buf);
}
