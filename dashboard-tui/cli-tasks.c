/* SPDX-License-Identifier: ISC */
/*
 * cli-tasks.c -- the CLI's task commands: submit (with --wait), ps, show,
 * logs, cancel.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

#define CLI_MAX_TIMEOUT		(7 * 86400)	/* seconds, as the wire allows */
#define CLI_MAX_IMAGE		255
#define CLI_MAX_RETRIES		100
#define CLI_MAX_CPUS		1024.0
#define CLI_MAX_MEMORY_MB	(16 * 1024 * 1024)

/* Parse a whole decimal integer in [min, max]. */
static int
cli_parse_long(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return (-1);
	*out = v;
	return (0);
}

/* Append "K=V" to a key-value list, checking its shape. */
static int
cli_parse_kv(const char *opt, const char *s, size_t vmax,
    struct proto_kv **list, size_t *n, char **cause)
{
	const char	*eq;
	size_t		 klen;

	if ((eq = strchr(s, '=')) == NULL || eq == s) {
		xasprintf(cause, "--%s '%s': expected KEY=VALUE", opt, s);
		return (-1);
	}
	klen = (size_t)(eq - s);
	if (strcmp(opt, "env") == 0 && (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_") != klen ||
	    (*s >= '0' && *s <= '9'))) {
		xasprintf(cause, "--env '%.*s': not a variable name (letters, "
		    "digits and _, not starting with a digit)", (int)klen, s);
		return (-1);
	}
	if (klen > PROTO_NAME_MAX || strlen(eq + 1) > vmax) {
		xasprintf(cause, "--%s '%.40s...': key at most %d, value at "
		    "most %zu bytes", opt, s, PROTO_NAME_MAX, vmax);
		return (-1);
	}
	if (*n >= PROTO_LIST_MAX) {
		xasprintf(cause, "--%s: at most %d of them", opt,
		    PROTO_LIST_MAX);
		return (-1);
	}
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	(*list)[*n].key = xstrndup(s, klen);
	(*list)[*n].value = xstrdup(eq + 1);
	(*n)++;
	return (0);
}

/* Replace a string field with a checked copy of an option's value. */
static int
cli_set_str(char **field, const char *opt, const char *s, size_t max,
    char **cause)
{
	if (*s == '\0' || strlen(s) > max) {
		xasprintf(cause, "--%s: expected 1 to %zu characters", opt,
		    max);
		return (-1);
	}
	free(*field);
	*field = xstrdup(s);
	return (0);
}

/* Parse submit's options and ARGV into a task. */
int
cli_submit_parse(int argc, char **argv, struct proto_task *t, int *wait,
    char **cause)
{
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "name", required_argument, NULL, 'n' },
		{ "priority", required_argument, NULL, 'p' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "retries", required_argument, NULL, 'r' },
		{ "arch", required_argument, NULL, 'A' },
		{ "platform", required_argument, NULL, 'P' },
		{ "label", required_argument, NULL, 'l' },
		{ "env", required_argument, NULL, 'e' },
		{ "device", required_argument, NULL, 'd' },
		{ "wait", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*opt;
	char		*end;
	double		 d;
	long		 v;
	int		 ch, prio, i;
	size_t		 n;

	*wait = 0;
	t->type = TASK_TYPE_COMMAND;
	t->priority = PRIO_NORMAL;
	optind = 0;
	opterr = 0;
	/* "+": stop at the first operand, so ARGV keeps its own options. */
	while ((ch = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		opt = argv[optind - 1] + strspn(argv[optind - 1], "-");
		opt = ch == '?' || ch == ':' ? opt : NULL;
		for (i = 0; opt == NULL && longopts[i].name != NULL; i++) {
			if (longopts[i].val == ch)
				opt = longopts[i].name;
		}
		switch (ch) {
		case 'i':
			if (cli_set_str(&t->image, opt, optarg, CLI_MAX_IMAGE,
			    cause) != 0)
				return (-1);
			t->type = TASK_TYPE_CONTAINER;
			break;
		case 'n':
			if (cli_set_str(&t->name, opt, optarg, PROTO_NAME_MAX,
			    cause) != 0)
				return (-1);
			break;
		case 'p':
			if ((prio = proto_priority_from_name(optarg)) == -1) {
				xasprintf(cause, "--priority '%s': expected "
				    "low, normal, high or urgent", optarg);
				return (-1);
			}
			t->priority = (enum proto_priority)prio;
			break;
		case 'c':
			errno = 0;
			d = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || errno != 0 ||
			    !isfinite(d) || d <= 0 || d > CLI_MAX_CPUS) {
				xasprintf(cause, "--cpus '%s': expected a "
				    "number of CPUs above 0, like 0.5 or 2",
				    optarg);
				return (-1);
			}
			t->cpus = d;
			break;
		case 'm':
			if (cli_parse_long(optarg, 1, CLI_MAX_MEMORY_MB,
			    &v) != 0) {
				xasprintf(cause, "--memory '%s': expected "
				    "megabytes, 1 to %d", optarg,
				    CLI_MAX_MEMORY_MB);
				return (-1);
			}
			t->memory_mb = (int)v;
			break;
		case 't':
			if (cli_parse_long(optarg, 0, CLI_MAX_TIMEOUT,
			    &v) != 0) {
				xasprintf(cause, "--timeout '%s': expected "
				    "seconds, 0 (none) to %d", optarg,
				    CLI_MAX_TIMEOUT);
				return (-1);
			}
			t->timeout = (int)v;
			break;
		case 'r':
			if (cli_parse_long(optarg, 0, CLI_MAX_RETRIES,
			    &v) != 0) {
				xasprintf(cause, "--retries '%s': expected 0 "
				    "to %d", optarg, CLI_MAX_RETRIES);
				return (-1);
			}
			t->retries = (int)v;
			break;
		case 'A':
			if (cli_set_str(&t->req_arch, opt, optarg,
			    PROTO_NAME_MAX, cause) != 0)
				return (-1);
			break;
		case 'P':
			if (cli_set_str(&t->req_platform, opt, optarg,
			    PROTO_NAME_MAX, cause) != 0)
				return (-1);
			break;
		case 'l':
			if (cli_parse_kv(opt, optarg, PROTO_NAME_MAX,
			    &t->req_labels, &t->n_req_labels, cause) != 0)
				return (-1);
			break;
		case 'e':
			if (cli_parse_kv(opt, optarg, PROTO_ARG_MAX, &t->env,
			    &t->n_env, cause) != 0)
				return (-1);
			break;
		case 'd':
			if (cli_set_str(&t->req_device, opt, optarg,
			    PROTO_ID_MAX, cause) != 0)
				return (-1);
			break;
		case 'w':
			*wait = 1;
			break;
		case 'h':
			return (1);
		case ':':
			xasprintf(cause, "%s needs a value", argv[optind - 1]);
			return (-1);
		default:
			if (optopt != 0)
				xasprintf(cause, "unknown option '-%c'",
				    optopt);
			else
				xasprintf(cause, "unknown option '%s'",
				    argv[optind - 1]);
			return (-1);
		}
	}

	if (optind >= argc) {
		xasprintf(cause, "missing ARGV: put the command to run after "
		    "--, e.g. encore submit -- echo hello");
		return (-1);
	}
	n = (size_t)(argc - optind);
	if (n > PROTO_LIST_MAX) {
		xasprintf(cause, "ARGV has %zu words; at most %d", n,
		    PROTO_LIST_MAX);
		return (-1);
	}
	for (i = optind; i < argc; i++) {
		if (strlen(argv[i]) > PROTO_ARG_MAX) {
			xasprintf(cause, "ARGV word %d is longer than %d "
			    "bytes", i - optind + 1, PROTO_ARG_MAX);
			return (-1);
		}
	}
	t->argv = xcalloc(n, sizeof *t->argv);
	for (i = optind; i < argc; i++)
		t->argv[t->argc++] = xstrdup(argv[i]);
	return (0);
}

/* Whether a task state is final. */
static int
cli_state_is_final(const char *state)
{
	return (state != NULL && (strcmp(state, "completed") == 0 ||
	    strcmp(state, "failed") == 0 || strcmp(state, "timed_out") == 0 ||
	    strcmp(state, "cancelled") == 0));
}

/* Exit code for a finished task. */
int
cli_task_exit_code(struct json_object *task)
{
	const char	*state = client_json_str(task, "state");
	int64_t		 code;
	int		 has;

	if (!cli_state_is_final(state))
		return (-1);
	has = client_json_int(task, "exit_code", &code) == 0;
	if (strcmp(state, "timed_out") == 0)
		return (CLI_EXIT_TIMED_OUT);
	if (strcmp(state, "cancelled") == 0)
		return (CLI_EXIT_NOT_RUN);
	if (strcmp(state, "completed") == 0 && (!has || code == 0))
		return (0);
	if (!has || code == 0)
		return (CLI_EXIT_NOT_RUN);
	if (code < 0)			/* killed by signal -code */
		code = 128 - code;
	if (code > 255)
		return (CLI_EXIT_NOT_RUN);
	return ((int)code);
}

/* Write a chunk of task output to stdout or stderr by its stream. */
static void
cli_write_output(const char *stream, struct json_object *data)
{
	FILE	*f;

	if (data == NULL || !json_object_is_type(data, json_type_string))
		return;
	f = stream != NULL && strcmp(stream, "stderr") == 0 ? stderr : stdout;
	fwrite(json_object_get_string(data), 1,
	    (size_t)json_object_get_string_len(data), f);
	fflush(f);
}

/*
 * Print the output events of task_id until the task reaches a final state;
 * *final then gets that TASK (caller puts).  Returns an exit code.
 */
static int
cli_follow(struct cli_ctx *ctx, const char *task_id,
    struct json_object **final)
{
	struct client_error	 err;
	struct json_object	*ev, *task, *data;
	struct msg		 m;
	enum client_result	 r;
	const char		*topic, *id;

	*final = NULL;
	for (;;) {
		r = client_next(&ctx->client, &m, -1, &err);
		if (r != CLIENT_OK)
			return (cli_fail(r, &err, CLI_ABOUT_TASK));
		if (m.type == MSG_ERROR) {
			r = client_reply_result(&m, &data, &err);
			msg_free(&m);
			return (cli_fail(r, &err, CLI_ABOUT_TASK));
		}
		if (m.type == MSG_BYE) {
			msg_free(&m);
			fprintf(stderr, "encore: the main node closed the "
			    "stream (shutting down); run 'encore logs -f %s' "
			    "when it is back\n", task_id);
			return (CLI_EXIT_UNREACHABLE);
		}
		if (m.type != MSG_EVENT) {
			msg_free(&m);
			continue;
		}
		ev = m.u.json;
		topic = client_json_str(ev, "topic");
		if (topic != NULL && strcmp(topic, "output") == 0) {
			id = client_json_str(ev, "task_id");
			if (id == NULL || strcmp(id, task_id) == 0)
				cli_write_output(client_json_str(ev, "stream"),
				    client_json_get(ev, "data"));
		} else if (topic != NULL && (strcmp(topic, "task") == 0 ||
		    strcmp(topic, "tasks") == 0)) {
			task = client_json_get(ev, "task");
			id = client_json_str(task, "id");
			if (id != NULL && strcmp(id, task_id) == 0 &&
			    cli_state_is_final(client_json_str(task,
			    "state"))) {
				*final = json_object_get(task);
				msg_free(&m);
				return (CLI_EXIT_OK);
			}
		}
		msg_free(&m);
	}
}

/* Fetch one task (get_task); *data gets the reply data. */
static int
cli_get_task(struct cli_ctx *ctx, const char *task_id,
    struct json_object **data)
{
	struct msg	m;
	int		rc;

	client_msg_init(&m, MSG_GET_TASK, &ctx->client.next_id);
	m.u.target.task_id = xstrdup(task_id);
	rc = cli_call(ctx, &m, data, CLI_ABOUT_TASK);
	msg_free(&m);
	return (rc);
}

/*
 * Send logs for task_id (following if asked) and print the stored output.
 * *state gets a copy of the task's state (caller frees).
 */
static int
cli_logs_start(struct cli_ctx *ctx, const char *task_id, int follow,
    char **state)
{
	struct json_object	*data, *chunks, *ch;
	struct msg		 m;
	const char		*s;
	size_t			 i;
	int			 rc;

	*state = NULL;
	client_msg_init(&m, MSG_LOGS, &ctx->client.next_id);
	m.u.target.task_id = xstrdup(task_id);
	m.u.target.follow = follow;
	rc = cli_call(ctx, &m, &data, CLI_ABOUT_TASK);
	msg_free(&m);
	if (rc != 0)
		return (rc);
	chunks = client_json_get(data, "chunks");
	if (chunks != NULL && json_object_is_type(chunks, json_type_array)) {
		/* Each stored chunk back to the stream it came from. */
		for (i = 0; i < json_object_array_length(chunks); i++) {
			ch = json_object_array_get_idx(chunks, i);
			cli_write_output(client_json_str(ch, "stream"),
			    client_json_get(ch, "data"));
		}
	} else
		cli_write_output("stdout", client_json_get(data, "output"));
	if ((s = client_json_str(data, "state")) != NULL)
		*state = xstrdup(s);
	json_object_put(data);
	return (CLI_EXIT_OK);
}

/* Stream a submitted task's output and return its exit code. */
static int
cli_submit_wait(struct cli_ctx *ctx, const char *task_id)
{
	struct json_object	*data = NULL, *task;
	char			*state;
	int			 rc;

	if ((rc = cli_logs_start(ctx, task_id, 1, &state)) != 0)
		return (rc);
	if (cli_state_is_final(state)) {
		/* Finished before we asked: its exit code is in get_task. */
		free(state);
		if ((rc = cli_get_task(ctx, task_id, &data)) != 0)
			return (rc);
		task = client_json_get(data, "task");
	} else {
		free(state);
		if ((rc = cli_follow(ctx, task_id, &data)) != 0)
			return (rc);
		task = data;
	}
	rc = cli_task_exit_code(task);
	if (rc == -1)
		rc = CLI_EXIT_NOT_RUN;
	if (rc != 0) {
		fprintf(stderr, "encore: task %s %s", task_id,
		    client_json_str(task, "state"));
		if (client_json_str(task, "exit_code") != NULL)
			fprintf(stderr, " (exit code %s)",
			    client_json_str(task, "exit_code"));
		fprintf(stderr, "; see 'encore show %s'\n", task_id);
	}
	json_object_put(data);
	return (rc);
}

/* encore submit [options] -- ARGV... */
int
cli_submit_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*data;
	struct msg		 m;
	const char		*id;
	char			*cause = NULL, *task_id;
	int			 wait, rc;

	msg_init(&m, MSG_SUBMIT);
	rc = cli_submit_parse(argc, argv, &m.u.task, &wait, &cause);
	if (rc != 0) {
		msg_free(&m);
		if (rc == 1) {
			cli_cmd_help(stdout, cmd);
			return (CLI_EXIT_OK);
		}
		rc = cli_usage_error(cmd, "%s", cause);
		free(cause);
		return (rc);
	}
	if ((rc = cli_session(ctx)) != 0) {
		msg_free(&m);
		return (rc);
	}
	client_msg_stamp(&m, &ctx->client.next_id);
	rc = cli_call(ctx, &m, &data, CLI_ABOUT_NONE);
	msg_free(&m);
	if (rc != 0)
		return (rc);
	if ((id = client_json_str(data, "task_id")) == NULL) {
		json_object_put(data);
		fprintf(stderr, "encore: the main node accepted the task but "
		    "sent no task_id; check 'encore ps'\n");
		return (CLI_EXIT_REMOTE);
	}
	task_id = xstrdup(id);
	json_object_put(data);

	if (!wait) {
		printf("%s\n", task_id);
		free(task_id);
		return (CLI_EXIT_OK);
	}
	/* stdout carries the task's output; say which task on stderr. */
	fprintf(stderr, "encore: submitted task %s\n", task_id);
	rc = cli_submit_wait(ctx, task_id);
	free(task_id);
	return (rc);
}

/* Print tasks as CSV (SPEC section 5 columns). */
void
cli_tasks_csv(FILE *f, struct json_object *tasks)
{
	static const char *cols[] = { "id", "name", "state", "priority",
	    "device", "attempt", "exit_code", "submitted_at", "started_at",
	    "finished_at", NULL };
	struct json_object	*task;
	size_t			 i, n, c;

	for (c = 0; cols[c] != NULL; c++)
		fprintf(f, "%s%s", c == 0 ? "" : ",", cols[c]);
	cli_csv_end(f);
	n = tasks != NULL ? json_object_array_length(tasks) : 0;
	for (i = 0; i < n; i++) {
		task = json_object_array_get_idx(tasks, i);
		for (c = 0; cols[c] != NULL; c++) {
			if (c != 0)
				fputc(',', f);
			cli_csv_field(f, client_json_str(task, cols[c]));
		}
		cli_csv_end(f);
	}
}

/* Print tasks as a table for people. */
static void
cli_tasks_table(FILE *f, struct json_object *tasks)
{
	static const char *head[] = { "ID", "NAME", "STATE", "PRIORITY",
	    "DEVICE", "ATTEMPT", "EXIT", "SUBMITTED", "FINISHED" };
	static const char *keys[] = { "id", "name", "state", "priority",
	    "device", "attempt", "exit_code", "submitted_at", "finished_at" };
	struct cli_table	 t;
	struct json_object	*task;
	const char		*row[9];
	size_t			 i, n, c;

	cli_table_init(&t, 9);
	cli_table_add(&t, head);
	n = tasks != NULL ? json_object_array_length(tasks) : 0;
	for (i = 0; i < n; i++) {
		task = json_object_array_get_idx(tasks, i);
		for (c = 0; c < 9; c++)
			row[c] = client_json_str(task, keys[c]);
		cli_table_add(&t, row);
	}
	cli_table_print(f, &t);
}

/* encore ps [--all] [--csv] */
int
cli_ps_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*data, *tasks;
	struct msg		 m;
	int			 flags, rc;

	if ((rc = cli_parse_flags(cmd, argc, argv, CLI_OPT_CSV | CLI_OPT_ALL,
	    &flags, 0, NULL)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	client_msg_init(&m, MSG_LIST_TASKS, &ctx->client.next_id);
	m.u.target.all = (flags & CLI_OPT_ALL) != 0;
	rc = cli_call(ctx, &m, &data, CLI_ABOUT_NONE);
	msg_free(&m);
	if (rc != 0)
		return (rc);
	tasks = client_json_get(data, "tasks");
	if (tasks != NULL && !json_object_is_type(tasks, json_type_array))
		tasks = NULL;
	if (flags & CLI_OPT_CSV)
		cli_tasks_csv(stdout, tasks);
	else
		cli_tasks_table(stdout, tasks);
	json_object_put(data);
	return (CLI_EXIT_OK);
}

/* Print one word of a command line, quoted for a POSIX shell if needed. */
static void
cli_print_word(FILE *f, const char *s)
{
	if (*s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == strlen(s)) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* Print "key: value" for a member, if present. */
static void
cli_show_field(struct json_object *o, const char *key, const char *label)
{
	const char	*s;

	if ((s = client_json_str(o, key)) != NULL)
		printf("%-16s%s\n", label, s);
}

/* Print an object's members as "K=V" joined by spaces; "" if none. */
static void
cli_show_kv(struct json_object *o, const char *label)
{
	struct json_object_iterator	 it, end;
	struct json_object		*v;
	int				 any = 0;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return;
	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	for (; !json_object_iter_equal(&it, &end);
	    json_object_iter_next(&it)) {
		v = json_object_iter_peek_value(&it);
		printf("%-16s%s=%s\n", any ? "" : label,
		    json_object_iter_peek_name(&it), v == NULL ? "" :
		    json_object_is_type(v, json_type_string) ?
		    json_object_get_string(v) :
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		any = 1;
	}
}

/* encore show ID */
int
cli_show_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*data, *task, *o, *a, *att;
	char			**ops, buf[64];
	size_t			 i, n;
	int			 flags, rc;

	if ((rc = cli_parse_flags(cmd, argc, argv, 0, &flags, 1, &ops)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	if ((rc = cli_check_id(cmd, "task ID", ops[0])) != 0)
		return (rc);
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	if ((rc = cli_get_task(ctx, ops[0], &data)) != 0)
		return (rc);
	task = client_json_get(data, "task");

	cli_show_field(task, "id", "id:");
	cli_show_field(task, "name", "name:");
	cli_show_field(task, "state", "state:");
	cli_show_field(task, "error", "error:");
	cli_show_field(task, "task_type", "type:");
	cli_show_field(task, "image", "image:");
	a = client_json_get(task, "command");
	if (a != NULL && json_object_is_type(a, json_type_array)) {
		printf("%-16s", "command:");
		n = json_object_array_length(a);
		for (i = 0; i < n; i++) {
			if (i > 0)
				putchar(' ');
			o = json_object_array_get_idx(a, i);
			cli_print_word(stdout, o != NULL ?
			    json_object_get_string(o) : "");
		}
		putchar('\n');
	}
	cli_show_kv(client_json_get(task, "env"), "env:");
	cli_show_field(task, "priority", "priority:");
	cli_show_field(task, "timeout", "timeout:");
	cli_show_field(task, "retries", "retries:");
	o = client_json_get(task, "limits");
	cli_show_field(o, "cpus", "limit cpus:");
	cli_show_field(o, "memory_mb", "limit memory MB:");
	o = client_json_get(task, "requirements");
	cli_show_field(o, "arch", "needs arch:");
	cli_show_field(o, "platform", "needs platform:");
	cli_show_kv(client_json_get(o, "labels"), "needs labels:");
	cli_show_field(o, "device", "pinned to:");
	cli_show_field(task, "device", "device:");
	cli_show_field(task, "attempt", "attempt:");
	cli_show_field(task, "exit_code", "exit code:");
	cli_show_field(task, "submitted_at", "submitted:");
	cli_show_field(task, "started_at", "started:");
	cli_show_field(task, "finished_at", "finished:");

	a = client_json_get(task, "attempts");
	n = a != NULL && json_object_is_type(a, json_type_array) ?
	    json_object_array_length(a) : 0;
	if (n > 0) {
		struct cli_table	 t;
		static const char	*head[] = { "ATTEMPT", "DEVICE",
		    "STATE", "EXIT", "STARTED", "FINISHED", "ERROR" };
		static const char	*keys[] = { "attempt", "device",
		    "state", "exit_code", "started_at", "finished_at",
		    "error" };
		const char		*row[7];
		size_t			 c;

		printf("attempts:\n");
		cli_table_init(&t, 7);
		cli_table_add(&t, head);
		for (i = 0; i < n; i++) {
			att = json_object_array_get_idx(a, i);
			for (c = 0; c < 7; c++)
				row[c] = client_json_str(att, keys[c]);
			cli_table_add(&t, row);
		}
		/* Indent the table under its heading. */
		for (i = 0; i < t.nrows; i++) {
			snprintf(buf, sizeof buf, "  %s", t.cells[i * 7]);
			free(t.cells[i * 7]);
			t.cells[i * 7] = xstrdup(buf);
		}
		cli_table_print(stdout, &t);
	} else
		printf("%-16s%s\n", "attempts:", "none yet");
	json_object_put(data);
	return (CLI_EXIT_OK);
}

/* encore logs [-f] ID */
int
cli_logs_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*final;
	char			**ops, *state;
	int			 flags, rc;

	if ((rc = cli_parse_flags(cmd, argc, argv, CLI_OPT_FOLLOW, &flags, 1,
	    &ops)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	if ((rc = cli_check_id(cmd, "task ID", ops[0])) != 0)
		return (rc);
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	if ((rc = cli_logs_start(ctx, ops[0], (flags & CLI_OPT_FOLLOW) != 0,
	    &state)) != 0)
		return (rc);
	if ((flags & CLI_OPT_FOLLOW) && !cli_state_is_final(state)) {
		rc = cli_follow(ctx, ops[0], &final);
		if (final != NULL)
			json_object_put(final);
	}
	free(state);
	return (rc);
}

/* encore cancel ID */
int
cli_cancel_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*data;
	struct msg		 m;
	const char		*state;
	char			**ops;
	int			 flags, rc;

	if ((rc = cli_parse_flags(cmd, argc, argv, 0, &flags, 1, &ops)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	if ((rc = cli_check_id(cmd, "task ID", ops[0])) != 0)
		return (rc);
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	client_msg_init(&m, MSG_CANCEL, &ctx->client.next_id);
	m.u.target.task_id = xstrdup(ops[0]);
	rc = cli_call(ctx, &m, &data, CLI_ABOUT_TASK);
	msg_free(&m);
	if (rc != 0)
		return (rc);
	state = client_json_str(client_json_get(data, "task"), "state");
	if (state == NULL || strcmp(state, "cancelled") == 0)
		printf("%s: cancelled\n", ops[0]);
	else
		printf("%s: cancelling (now %s)\n", ops[0], state);
	json_object_put(data);
	return (CLI_EXIT_OK);
}
