/* SPDX-License-Identifier: ISC */
/*
 * cli-util.c -- what the CLI's commands share: usage errors, the
 * authenticated session, error reporting with a next step, CSV fields and
 * aligned tables.
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Parse a simple command's flags and operands. */
int
cli_parse_flags(const struct cli_cmd *cmd, int argc, char **argv,
    int allowed, int *set, int nargs, char ***operands)
{
	static const struct option longopts[] = {
		{ "csv", no_argument, NULL, 'c' },
		{ "all", no_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch, flag;

	*set = 0;
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
		case 'h':
			cli_cmd_help(stdout, cmd);
			return (-1);
		default:
			flag = 0;
			break;
		}
		if ((flag & allowed) == 0) {
			if (optopt != 0 && ch == '?' &&
			    argv[optind - 1][1] != '-')
				return (cli_usage_error(cmd, "unknown option "
				    "'-%c'", optopt));
			return (cli_usage_error(cmd, "unknown option '%s'",
			    argv[optind - 1]));
		}
		*set |= flag;
	}
	if (argc - optind < nargs) {
		/* The operand is the usage's first upper-case word. */
		return (cli_usage_error(cmd, "missing %s", cmd->usage +
		    strcspn(cmd->usage, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")));
	}
	if (argc - optind > nargs) {
		return (cli_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind + nargs]));
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
	fprintf(f, "usage: encore [--main H:P] [--token T] %s\n\n%s",
	    cmd->usage, cmd->help);
}

/* Print where the operator token can come from. */
static void
cli_no_token(void)
{
	char	**dirs;
	size_t	  n, i;

	fprintf(stderr, "encore: no operator token: pass --token T or set "
	    "ENCORE_TOKEN\nencore: on the main node's host it is read from "
	    "operator.token in the state dir (looked in:");
	dirs = client_token_dirs(&n);
	for (i = 0; i < n; i++)
		fprintf(stderr, " %s", dirs[i]);
	client_free_strings(dirs, n);
	fprintf(stderr, ")\n");
}

/* Connect and authenticate. */
int
cli_session(struct cli_ctx *ctx)
{
	struct client_error	 err;
	enum client_result	 r;
	char			*token;

	if (ctx->connected)
		return (CLI_EXIT_OK);
	if ((token = client_find_token(ctx->token_flag)) == NULL) {
		cli_no_token();
		return (CLI_EXIT_USAGE);
	}
	r = client_open(&ctx->client, client_main_address(ctx->main_flag),
	    &err);
	ctx->connected = 1;	/* client_close() frees even a failed open */
	if (r == CLIENT_OK)
		r = client_auth(&ctx->client, token, &err);
	free(token);
	if (r != CLIENT_OK) {
		cli_session_close(ctx);
		return (cli_fail(r, &err, CLI_ABOUT_NONE));
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

/* Report a failed call. */
int
cli_fail(enum client_result r, const struct client_error *err,
    enum cli_about about)
{
	const char	*hint;

	if (r == CLIENT_IO) {
		fprintf(stderr, "encore: %s\n", err->message);
		return (CLI_EXIT_UNREACHABLE);
	}
	hint = client_error_hint(err->code_name);
	if (strcmp(err->code_name, "not_found") == 0) {
		if (about == CLI_ABOUT_DEVICE)
			hint = "list the devices and their ids with "
			    "'encore devices'";
		else if (about == CLI_ABOUT_TASK)
			hint = "list the tasks and their ids with "
			    "'encore ps --all'";
	} else if (strcmp(err->code_name, "conflict") == 0) {
		if (about == CLI_ABOUT_DEVICE)
			hint = "check the device's state with 'encore devices'";
		else if (about == CLI_ABOUT_TASK)
			hint = "check the task's state with 'encore show ID'";
	}
	fprintf(stderr, "encore: %s (%s)\nencore: %s\n", err->message,
	    err->code_name, hint);
	return (CLI_EXIT_REMOTE);
}

/* Send a request and wait for the reply, reporting failure. */
int
cli_call(struct cli_ctx *ctx, struct msg *m, struct json_object **data,
    enum cli_about about)
{
	struct client_error	err;
	enum client_result	r;

	r = client_request(&ctx->client, m, data, &err);
	if (r != CLIENT_OK)
		return (cli_fail(r, &err, about));
	return (CLI_EXIT_OK);
}

/* Write one CSV field. */
void
cli_csv_field(FILE *f, const char *s)
{
	if (s == NULL)
		return;
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
}

/* Add one row. */
void
cli_table_add(struct cli_table *t, const char * const *row)
{
	size_t	i;

	t->cells = xreallocarray(t->cells, (t->nrows + 1) * t->ncols,
	    sizeof *t->cells);
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = xstrdup(
		    row[i] != NULL && *row[i] != '\0' ? row[i] : "-");
	}
	t->nrows++;
}

/* Display width of a UTF-8 string (code points; good enough here). */
static size_t
cli_width(const char *s)
{
	size_t	w = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return (w);
}

/* Print and free a table. */
void
cli_table_print(FILE *f, struct cli_table *t)
{
	size_t	*width, r, i, w;
	char	*cell;

	width = xcalloc(t->ncols, sizeof *width);
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			w = cli_width(t->cells[r * t->ncols + i]);
			if (w > width[i])
				width[i] = w;
		}
	}
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			cell = t->cells[r * t->ncols + i];
			if (i + 1 == t->ncols)
				fprintf(f, "%s\n", cell);
			else {
				fprintf(f, "%s%*s", cell,
				    (int)(width[i] - cli_width(cell) + 2), "");
			}
			free(cell);
		}
	}
	free(width);
	free(t->cells);
	t->cells = NULL;
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
