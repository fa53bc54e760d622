/* SPDX-License-Identifier: ISC */
/*
 * cli-tasks.c -- the CLI's task commands: submit (with --wait), ps, show,
 * logs, cancel.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

#define CLI_MAX_TIMEOUT		(7 * 86400)	/* seconds, as the wire allows */
#define CLI_MAX_IMAGE		255
#define CLI_MAX_RETRIES		100
#define CLI_MAX_CPUS		1024.0
#define CLI_MAX_MEMORY_MB	(16 * 1024 * 1024)
#define CLI_PAGE		1000	/* tasks asked for per list_tasks */

/* submit's long options that have no letter. */
enum {
	CLI_SUBMIT_ARRAY = 256,
	CLI_SUBMIT_AFTER,
	CLI_SUBMIT_AFTER_ANY,
	CLI_SUBMIT_AFTER_NOTOK,
	CLI_SUBMIT_HOLD,
	CLI_SUBMIT_INPUT,
	CLI_SUBMIT_OUTPUT,
	CLI_SUBMIT_CHECKPOINT,
	CLI_SUBMIT_FETCH,
};

/* Append an --output or --checkpoint pattern to a list. */
static int
cli_parse_glob(const char *opt, const char *s, char ***list, size_t *n,
    char **cause)
{
	const char	*why;

	if (!proto_file_name_ok(s, &why)) {
		xasprintf(cause, "--%s '%.80s': the pattern %s; patterns are "
		    "relative to the task's working directory, e.g. "
		    "'out/*.png'", opt, s, why);
		return (-1);
	}
	if (*n >= PROTO_GLOBS_MAX) {
		xasprintf(cause, "--%s: at most %d of them", opt,
		    PROTO_GLOBS_MAX);
		return (-1);
	}
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	(*list)[(*n)++] = xstrdup(s);
	return (0);
}

/* Free what submit's options hold. */
void
cli_submit_opts_free(struct cli_submit_opts *o)
{
	free(o->inputs);
	o->inputs = NULL;
	o->n_inputs = 0;
}

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
cli_submit_parse(int argc, char **argv, struct proto_task *t,
    struct cli_submit_opts *o, char **cause)
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
		{ "array", required_argument, NULL, CLI_SUBMIT_ARRAY },
		{ "after", required_argument, NULL, CLI_SUBMIT_AFTER },
		{ "after-any", required_argument, NULL, CLI_SUBMIT_AFTER_ANY },
		{ "after-notok", required_argument, NULL,
		    CLI_SUBMIT_AFTER_NOTOK },
		{ "hold", no_argument, NULL, CLI_SUBMIT_HOLD },
		{ "input", required_argument, NULL, CLI_SUBMIT_INPUT },
		{ "output", required_argument, NULL, CLI_SUBMIT_OUTPUT },
		{ "checkpoint", required_argument, NULL,
		    CLI_SUBMIT_CHECKPOINT },
		{ "fetch", required_argument, NULL, CLI_SUBMIT_FETCH },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*opt;
	char		*end, hint[80];
	double		 d;
	long		 v;
	int		 ch, prio, i;
	size_t		 n;

	memset(o, 0, sizeof *o);
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
			o->wait = 1;
			break;
		case CLI_SUBMIT_INPUT:
			if (*optarg == '\0') {
				xasprintf(cause, "--input needs PATH[:NAME]");
				return (-1);
			}
			if (o->n_inputs >= PROTO_INPUTS_MAX) {
				xasprintf(cause, "--input: at most %d of them",
				    PROTO_INPUTS_MAX);
				return (-1);
			}
			o->inputs = xreallocarray(o->inputs, o->n_inputs + 1,
			    sizeof *o->inputs);
			o->inputs[o->n_inputs++] = optarg;
			break;
		case CLI_SUBMIT_OUTPUT:
			if (cli_parse_glob(opt, optarg, &t->outputs,
			    &t->n_outputs, cause) != 0)
				return (-1);
			break;
		case CLI_SUBMIT_CHECKPOINT:
			if (cli_parse_glob(opt, optarg, &t->checkpoints,
			    &t->n_checkpoints, cause) != 0)
				return (-1);
			break;
		case CLI_SUBMIT_FETCH:
			if (*optarg == '\0') {
				xasprintf(cause, "--fetch needs a directory");
				return (-1);
			}
			o->fetch = optarg;
			break;
		case CLI_SUBMIT_ARRAY:
			if (cli_array_parse(optarg, t, cause) != 0)
				return (-1);
			break;
		case CLI_SUBMIT_AFTER:
			if (cli_deps_parse(opt, optarg, &t->after, &t->n_after,
			    cause) != 0)
				return (-1);
			break;
		case CLI_SUBMIT_AFTER_ANY:
			if (cli_deps_parse(opt, optarg, &t->after_any,
			    &t->n_after_any, cause) != 0)
				return (-1);
			break;
		case CLI_SUBMIT_AFTER_NOTOK:
			if (cli_deps_parse(opt, optarg, &t->after_notok,
			    &t->n_after_notok, cause) != 0)
				return (-1);
			break;
		case CLI_SUBMIT_HOLD:
			t->hold = 1;
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
			else {
				cli_suggest_option(argv[optind - 1], longopts,
				    hint, sizeof hint);
				xasprintf(cause, "unknown option '%s'%s",
				    argv[optind - 1], hint);
			}
			return (-1);
		}
	}

	if (o->fetch != NULL && !o->wait) {
		xasprintf(cause, "--fetch DIR needs --wait (or, later: encore "
		    "fetch ID DIR)");
		return (-1);
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

/* Exit code for a finished task. */
int
cli_task_exit_code(struct json_object *task)
{
	const char	*state = client_json_str(task, "state");
	int64_t		 code;
	int		 has;

	if (!proto_task_state_name_is_final(state))
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

/* Write the stored output of a logs reply. */
static int
cli_logs_print(struct cli_output *o, struct json_object *data)
{
	struct json_object	*chunks, *ch;
	size_t			 i;

	chunks = client_json_get(data, "chunks");
	if (chunks == NULL || !json_object_is_type(chunks, json_type_array))
		return (cli_output_write(o, "stdout",
		    client_json_get(data, "output")));
	/* Each stored chunk back to the stream it came from. */
	for (i = 0; i < json_object_array_length(chunks); i++) {
		ch = json_object_array_get_idx(chunks, i);
		if (cli_output_write(o, client_json_str(ch, "stream"),
		    client_json_get(ch, "data")) != 0)
			return (-1);
	}
	return (0);
}

/* Fetch one task (get_task); *data gets the reply data. */
int
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

/* Send a request naming task_id without waiting; returns its message id
 * (caller frees) or NULL after printing why not. */
static char *
cli_send_task(struct cli_ctx *ctx, enum msg_type type, const char *task_id,
    int follow)
{
	struct client_error	 err;
	struct msg		 m;
	char			*id;

	client_msg_init(&m, type, &ctx->client.next_id);
	m.u.target.task_id = xstrdup(task_id);
	m.u.target.follow = follow;
	if (client_send(&ctx->client, &m, &err) != CLIENT_OK) {
		msg_free(&m);
		cli_fail(CLIENT_IO, &err, CLI_ABOUT_TASK, task_id);
		return (NULL);
	}
	id = xstrdup(m.message_id);
	msg_free(&m);
	return (id);
}

/* The self-pipe SIGINT writes to while submit --wait follows. */
static int	cli_intr_pipe[2] = { -1, -1 };

/* SIGINT while following: wake the wait up. */
static void
cli_intr_handler(int sig)
{
	int	saved = errno;

	(void)sig;
	if (write(cli_intr_pipe[1], "i", 1) == -1) {
		/* Full pipe: an interrupt is pending anyway. */
	}
	errno = saved;
}

/* Catch SIGINT into the self-pipe, watched by the session. */
void
cli_intr_start(struct cli_ctx *ctx)
{
	struct sigaction	sa;

	if (pipe2(cli_intr_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return;			/* Ctrl-C then just ends us */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = cli_intr_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	ctx->client.intr_fd = cli_intr_pipe[0];
}

/* Take the pending interrupts out of the self-pipe. */
void
cli_intr_drain(void)
{
	char	buf[64];

	while (read(cli_intr_pipe[0], buf, sizeof buf) > 0)
		;
}

/* While a followed task has not started, the main node is asked about
 * it this often (ms). */
#define CLI_FOLLOW_START_MS	1000

/* Whether a task in this state has not started yet. */
static int
cli_state_unstarted(const char *state)
{
	return (strcmp(state, "queued") == 0 ||
	    strcmp(state, "waiting") == 0 || strcmp(state, "held") == 0);
}

/* What a follow is doing about Ctrl-C. */
enum cli_follow_phase {
	CLI_FOLLOWING,		/* no Ctrl-C yet */
	CLI_ARMED,		/* one Ctrl-C: a second one cancels */
	CLI_CANCELLING,		/* cancel sent, waiting for the end */
};

/* Print the line a failed follow ends with, after the error itself. */
static void
cli_follow_lost(const char *shown)
{
	fprintf(stderr, "encore: the task may still be running: 'encore logs "
	    "-f %s' follows it again once the main node is back\n", shown);
}

/*
 * Follow task_id's output (logs with follow) until the task ends.  With
 * submit set (submit --wait) return the task's exit code, else 0; Ctrl-C
 * then detaches (a second one within CLI_INTR_WINDOW_MS cancels).  A main
 * node silent for half the request timeout gets a get_task; one that does
 * not answer it within the request timeout is taken for gone.  *ended
 * (may be NULL) is set when the task was seen to end.
 */
static int
cli_follow(struct cli_ctx *ctx, const char *task_id, int submit,
    struct cli_output *o, int *ended)
{
	struct client		*c = &ctx->client;
	struct client_error	 err;
	struct json_object	*data, *ev, *task, *final = NULL;
	struct msg		 m;
	enum client_result	 r;
	enum cli_follow_phase	 phase = CLI_FOLLOWING;
	const char		*topic, *id, *state;
	char			*logs_id, *probe_id = NULL, *cancel_id = NULL;
	char			*shown;
	int64_t			 now, last, probe_at = 0, armed_until = 0;
	int64_t			 idle, wait, gap;
	int			 rc = -1, ours, unstarted = 0, heard = 0;

	shown = display_escape(task_id);
	idle = c->timeout_ms / 2 > 500 ? c->timeout_ms / 2 : 500;
	if ((logs_id = cli_send_task(ctx, MSG_LOGS, task_id, 1)) == NULL) {
		free(shown);
		return (CLI_EXIT_UNREACHABLE);
	}
	last = client_now_ms();
	while (rc == -1) {
		now = client_now_ms();
		if (phase == CLI_ARMED && now >= armed_until) {
			fprintf(stderr, "encore: detached from task %s, which "
			    "keeps running: 'encore logs -f %s' follows it, "
			    "'encore cancel %s' cancels it\n", shown, shown,
			    shown);
			rc = CLI_EXIT_DETACHED;
			break;
		}
		/* Not started yet: look more often, so a follow the main
		 * node could not attach (an element not made yet) is asked
		 * again as soon as it runs. */
		gap = unstarted ? CLI_FOLLOW_START_MS : idle;
		if (probe_id == NULL && now - last >= gap) {
			if ((probe_id = cli_send_task(ctx, MSG_GET_TASK,
			    task_id, 0)) == NULL) {
				cli_follow_lost(shown);
				rc = CLI_EXIT_UNREACHABLE;
				break;
			}
			probe_at = now;
		}
		if (probe_id != NULL && now - probe_at >= c->timeout_ms) {
			fprintf(stderr, "encore: the main node at %s stopped "
			    "answering (no reply to a check within %d s)\n",
			    c->addr, c->timeout_ms / 1000);
			cli_follow_lost(shown);
			rc = CLI_EXIT_UNREACHABLE;
			break;
		}
		wait = probe_id != NULL ? probe_at + c->timeout_ms - now :
		    last + gap - now;
		if (phase == CLI_ARMED && armed_until - now < wait)
			wait = armed_until - now;
		r = client_next(c, &m, (int)(wait > 0 ? wait : 0), &err);
		if (r == CLIENT_TIMEOUT)
			continue;
		if (r == CLIENT_INTR) {
			cli_intr_drain();
			if (phase == CLI_FOLLOWING) {
				phase = CLI_ARMED;
				armed_until = client_now_ms() +
				    CLI_INTR_WINDOW_MS;
				fprintf(stderr, "encore: task %s keeps running; "
				    "Ctrl-C again within %d s cancels it (later: "
				    "encore cancel %s)\n", shown,
				    CLI_INTR_WINDOW_MS / 1000, shown);
			} else if (phase == CLI_ARMED) {
				phase = CLI_CANCELLING;
				if ((cancel_id = cli_send_task(ctx, MSG_CANCEL,
				    task_id, 0)) == NULL) {
					rc = CLI_EXIT_UNREACHABLE;
					break;
				}
				fprintf(stderr, "encore: cancelling task %s; "
				    "waiting for it to stop (Ctrl-C again: stop "
				    "waiting)\n", shown);
			} else {
				fprintf(stderr, "encore: stopped waiting; task "
				    "%s is being cancelled ('encore show %s')\n",
				    shown, shown);
				rc = CLI_EXIT_DETACHED;
			}
			continue;
		}
		if (r != CLIENT_OK) {
			rc = cli_fail(r, &err, CLI_ABOUT_TASK, task_id);
			if (r != CLIENT_REMOTE)
				cli_follow_lost(shown);
			break;
		}
		last = client_now_ms();
		switch (m.type) {
		case MSG_REPLY:
		case MSG_ERROR:
			id = m.reply_to;
			if (id != NULL && probe_id != NULL &&
			    strcmp(id, probe_id) == 0) {
				free(probe_id);
				probe_id = NULL;
				r = client_reply_result(&m, &data, &err);
				state = client_json_str(client_json_get(data,
				    "task"), "state");
				if (r == CLIENT_OK && unstarted && !heard &&
				    state != NULL && !cli_state_unstarted(state)) {
					/* It started and we heard nothing: follow
					 * it again (nothing was printed). */
					free(logs_id);
					if ((logs_id = cli_send_task(ctx, MSG_LOGS,
					    task_id, 1)) == NULL) {
						json_object_put(data);
						rc = CLI_EXIT_UNREACHABLE;
						break;
					}
				}
				if (r == CLIENT_OK && state != NULL)
					unstarted = cli_state_unstarted(state);
				json_object_put(data);
				break;
			}
			r = client_reply_result(&m, &data, &err);
			if (id != NULL && cancel_id != NULL &&
			    strcmp(id, cancel_id) == 0) {
				if (r != CLIENT_OK)
					cli_fail(r, &err, CLI_ABOUT_TASK, task_id);
				json_object_put(data);
				break;
			}
			if (id != NULL && strcmp(id, logs_id) != 0) {
				json_object_put(data);
				break;	/* not ours */
			}
			if (r != CLIENT_OK) {
				rc = cli_fail(r, &err, CLI_ABOUT_TASK, task_id);
				break;
			}
			state = client_json_str(data, "state");
			unstarted = state != NULL && cli_state_unstarted(state);
			if (client_json_str(data, "output") != NULL &&
			    *client_json_str(data, "output") != '\0')
				heard = 1;
			if (cli_logs_print(o, data) != 0)
				rc = CLI_EXIT_OK;	/* reader gone */
			else if (proto_task_state_name_is_final(
			    client_json_str(data, "state"))) {
				/* Ended before we asked: the code is in
				 * get_task. */
				json_object_put(data);
				data = NULL;
				if ((rc = cli_get_task(ctx, task_id,
				    &data)) == 0) {
					final = json_object_get(
					    client_json_get(data, "task"));
					rc = CLI_EXIT_OK;
				}
			}
			json_object_put(data);
			break;
		case MSG_EVENT:
			ev = m.u.json;
			topic = client_json_str(ev, "topic");
			id = client_json_str(ev, "task_id");
			/* Ours by the request it answers (an element's
			 * output may name its row by another id), else by
			 * the task's id. */
			if (m.reply_to != NULL)
				ours = strcmp(m.reply_to, logs_id) == 0;
			else
				ours = id == NULL || strcmp(id, task_id) == 0;
			if (topic != NULL && strcmp(topic, "output") == 0 &&
			    ours) {
				heard = 1;
				if (cli_output_write(o, client_json_str(ev,
				    "stream"), client_json_get(ev, "data")) != 0)
					rc = CLI_EXIT_OK;	/* reader gone */
				break;
			}
			if (topic == NULL || (strcmp(topic, "task") != 0 &&
			    strcmp(topic, "tasks") != 0))
				break;
			task = client_json_get(ev, "task");
			id = client_json_str(task, "id");
			state = client_json_str(task, "state");
			if (((ours && strcmp(topic, "task") == 0) ||
			    (m.reply_to == NULL && id != NULL &&
			    strcmp(id, task_id) == 0)) &&
			    proto_task_state_name_is_final(state)) {
				final = json_object_get(task);
				rc = CLI_EXIT_OK;
			}
			break;
		case MSG_BYE:
			fprintf(stderr, "encore: the main node closed the stream "
			    "(shutting down)\n");
			cli_follow_lost(shown);
			rc = CLI_EXIT_UNREACHABLE;
			break;
		default:
			break;
		}
		msg_free(&m);
	}
	cli_output_end(o);
	if (ended != NULL)
		*ended = rc == CLI_EXIT_OK && final != NULL;
	if (rc == CLI_EXIT_OK && submit && final != NULL) {
		rc = cli_task_exit_code(final);
		if (rc == -1)
			rc = CLI_EXIT_NOT_RUN;
		if (rc != 0) {
			state = client_json_str(final, "state");
			fprintf(stderr, "encore: task %s %s", shown,
			    state != NULL ? state : "ended");
			if (client_json_str(final, "exit_code") != NULL)
				fprintf(stderr, " (exit code %s)",
				    client_json_str(final, "exit_code"));
			fprintf(stderr, "; see 'encore show %s'\n", shown);
		}
	}
	json_object_put(final);
	free(logs_id);
	free(probe_id);
	free(cancel_id);
	free(shown);
	return (rc);
}

/* submit --wait --fetch: the outputs of a task (or array) that ended
 * into dir.  The exit code stays the task's unless fetching failed where
 * the task itself succeeded. */
static int
cli_submit_fetch(struct cli_ctx *ctx, const char *task_id, const char *dir,
    int rc, int ended)
{
	struct json_object	*data, *task;
	int			 frc;

	if (!ended)
		return (rc);		/* it may still run: nothing to fetch */
	if ((frc = cli_get_task(ctx, task_id, &data)) == CLI_EXIT_OK) {
		task = client_json_get(data, "task");
		if (proto_task_state_name_is_final(client_json_str(task,
		    "state")))
			frc = cli_fetch_outputs(ctx, task, dir, 1);
		json_object_put(data);
	}
	return (rc == CLI_EXIT_OK ? frc : rc);
}

/* encore submit [options] -- ARGV... */
int
cli_submit_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*data;
	struct cli_submit_opts	 so;
	struct cli_inputs	 in;
	struct cli_output	 o;
	struct stat		 st;
	struct msg		 m;
	const char		*id, *warning;
	char			*cause = NULL, *task_id, *shown;
	int			 rc, array, ended = 0;

	msg_init(&m, MSG_SUBMIT);
	memset(&in, 0, sizeof in);
	rc = cli_submit_parse(argc, argv, &m.u.task, &so, &cause);
	if (rc == 0 && so.fetch != NULL && stat(so.fetch, &st) == 0 &&
	    !S_ISDIR(st.st_mode)) {
		xasprintf(&cause, "--fetch %s: not a directory", so.fetch);
		rc = -1;
	}
	/* Every input must be readable before anything is sent. */
	if (rc == 0 && (cli_inputs_gather(so.inputs, so.n_inputs, &in,
	    &cause) != 0 || cli_inputs_fit(&in, &m, &cause) != 0))
		rc = -1;
	if (rc != 0) {
		msg_free(&m);
		cli_submit_opts_free(&so);
		cli_inputs_free(&in);
		if (rc == 1) {
			cli_cmd_help(stdout, cmd);
			return (CLI_EXIT_OK);
		}
		rc = cli_usage_error(cmd, "%s", cause);
		free(cause);
		return (rc);
	}
	array = m.u.task.array_end >= 0;
	if ((rc = cli_session(ctx)) == 0)
		rc = cli_inputs_send(ctx, &in, &m.u.task);
	cli_inputs_free(&in);
	if (rc != 0) {
		msg_free(&m);
		cli_submit_opts_free(&so);
		return (rc);
	}
	client_msg_stamp(&m, &ctx->client.next_id);
	rc = cli_call(ctx, &m, &data, CLI_ABOUT_NONE);
	msg_free(&m);
	if (rc != 0) {
		cli_submit_opts_free(&so);
		return (rc);
	}
	if ((id = client_json_str(data, "task_id")) == NULL) {
		json_object_put(data);
		cli_submit_opts_free(&so);
		fprintf(stderr, "encore: the main node accepted the task but "
		    "sent no task_id; check 'encore ps'\n");
		return (CLI_EXIT_REMOTE);
	}
	task_id = xstrdup(id);
	shown = display_escape(task_id);
	/* Queued all the same: say why nothing may ever run it. */
	if ((warning = client_json_str(data, "warning")) != NULL) {
		cause = display_escape(warning);
		fprintf(stderr, "warning: %s\n", cause);
		free(cause);
	}
	json_object_put(data);

	if (!so.wait || array) {
		/* An array's id goes to stdout even with --wait: there is
		 * no one output to stream. */
		printf("%s\n", shown);
		free(shown);
		rc = CLI_EXIT_OK;
		if (so.wait) {
			fflush(stdout);
			cli_intr_start(ctx);
			rc = cli_array_wait(ctx, task_id);
			/* 0 or 1 once it ended; its state says for sure. */
			if (so.fetch != NULL)
				rc = cli_submit_fetch(ctx, task_id, so.fetch,
				    rc, rc == 0 || rc == CLI_EXIT_REMOTE);
		}
		free(task_id);
		cli_submit_opts_free(&so);
		return (rc);
	}
	/* stdout carries the task's output; say which task on stderr (once
	 * Ctrl-C is ours: the line tells a script it may send one). */
	cli_intr_start(ctx);
	fprintf(stderr, "encore: submitted task %s\n", shown);
	free(shown);
	cli_output_init(&o, 0);
	rc = cli_follow(ctx, task_id, 1, &o, &ended);
	if (so.fetch != NULL) {
		fflush(stdout);
		rc = cli_submit_fetch(ctx, task_id, so.fetch, rc, ended);
	}
	free(task_id);
	cli_submit_opts_free(&so);
	return (rc);
}

/* The tasks CSV columns (README, text export), in order. */
static const char *cli_task_cols[] = { "id", "name", "state", "priority",
    "device", "attempt", "exit_code", "submitted_at", "started_at",
    "finished_at", NULL };

/* Print the tasks CSV header. */
static void
cli_tasks_csv_header(FILE *f)
{
	size_t	c;

	for (c = 0; cli_task_cols[c] != NULL; c++)
		fprintf(f, "%s%s", c == 0 ? "" : ",", cli_task_cols[c]);
	cli_csv_end(f);
}

/* Print tasks as CSV rows. */
static void
cli_tasks_csv_rows(FILE *f, struct json_object *tasks)
{
	struct json_object	*task;
	size_t			 i, n, c;

	n = tasks != NULL ? json_object_array_length(tasks) : 0;
	for (i = 0; i < n; i++) {
		task = json_object_array_get_idx(tasks, i);
		for (c = 0; cli_task_cols[c] != NULL; c++) {
			if (c != 0)
				fputc(',', f);
			cli_csv_field(f, client_json_str(task,
			    cli_task_cols[c]));
		}
		cli_csv_end(f);
	}
}

/* Print tasks as CSV, header first. */
void
cli_tasks_csv(FILE *f, struct json_object *tasks)
{
	cli_tasks_csv_header(f);
	cli_tasks_csv_rows(f, tasks);
}

/* Columns of ps's table; an array's counts span those from DEVICE on. */
#define CLI_PS_COLS	9
#define CLI_PS_SPAN	4

/*
 * Add tasks to a table for people.  An array is one row: its id, name,
 * state and priority, then "array of N: counts" (a get_task each) in
 * place of the other columns.  Returns 0, or the exit code after a lost
 * connection.
 */
static int
cli_tasks_table_add(struct cli_ctx *ctx, struct cli_table *t,
    struct json_object *tasks)
{
	static const char *keys[] = { "id", "name", "state", "priority",
	    "device", "attempt", "exit_code", "submitted_at", "finished_at" };
	struct json_object	*task, *full;
	struct client_error	 err;
	enum client_result	 r;
	const char		*row[CLI_PS_COLS];
	char			 sum[320];
	size_t			 i, n, c;

	n = tasks != NULL ? json_object_array_length(tasks) : 0;
	for (i = 0; i < n; i++) {
		task = json_object_array_get_idx(tasks, i);
		for (c = 0; c < CLI_PS_COLS; c++)
			row[c] = client_json_str(task, keys[c]);
		if (client_json_get(task, "array") == NULL) {
			cli_table_add(t, row);
			continue;
		}
		/* Its counts come with get_task only. */
		r = cli_task_detail(ctx, client_json_str(task, "id"), &full,
		    &err);
		if (r != CLIENT_OK && r != CLIENT_REMOTE)
			return (cli_fail(r, &err, CLI_ABOUT_NONE, NULL));
		cli_array_summary(full != NULL ? full : task, sum, sizeof sum);
		json_object_put(full);
		row[CLI_PS_SPAN] = sum;
		cli_table_add_span(t, row, CLI_PS_SPAN);
	}
	return (0);
}

/* Ask for one page of tasks; *data gets the reply data. */
static int
cli_tasks_page(struct cli_ctx *ctx, int all, int expand, const char *after,
    struct json_object **data)
{
	struct msg	m;
	int		rc;

	client_msg_init(&m, MSG_LIST_TASKS, &ctx->client.next_id);
	m.u.target.all = all;
	m.u.target.expand = expand;
	m.u.target.limit = CLI_PAGE;
	m.u.target.after = after != NULL ? xstrdup(after) : NULL;
	rc = cli_call(ctx, &m, data, CLI_ABOUT_NONE);
	msg_free(&m);
	return (rc);
}

/*
 * encore ps [--all] [--expand] [--csv]: the first page of tasks and how
 * many more there are; with --all or --csv every page, each printed as it
 * comes.  A main node that does not page (no "next" in its reply) sends
 * one page.  An array is one entry; --expand lists its elements made so
 * far too.
 */
int
cli_ps_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	static const char *head[] = { "ID", "NAME", "STATE", "PRIORITY",
	    "DEVICE", "ATTEMPT", "EXIT", "SUBMITTED", "FINISHED" };
	struct json_object	*data, *tasks;
	struct cli_flags	 flags;
	struct cli_table	 t;
	const char		*next;
	char			*after = NULL, *shown;
	int64_t			 total, count = 0;
	size_t			 n;
	int			 rc, csv, every;

	if ((rc = cli_parse_flags(cmd, argc, argv, CLI_OPT_CSV | CLI_OPT_ALL |
	    CLI_OPT_EXPAND, &flags, 0, NULL)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	csv = (flags.set & CLI_OPT_CSV) != 0;
	every = csv || (flags.set & CLI_OPT_ALL);
	cli_table_init(&t, CLI_PS_COLS);
	if (csv)
		cli_tasks_csv_header(stdout);
	else
		cli_table_add(&t, head);
	for (;;) {
		if ((rc = cli_tasks_page(ctx, (flags.set & CLI_OPT_ALL) != 0,
		    (flags.set & CLI_OPT_EXPAND) != 0, after, &data)) != 0)
			break;
		tasks = client_json_get(data, "tasks");
		if (tasks != NULL && !json_object_is_type(tasks,
		    json_type_array))
			tasks = NULL;
		n = tasks != NULL ? json_object_array_length(tasks) : 0;
		count += (int64_t)n;
		if (csv)
			cli_tasks_csv_rows(stdout, tasks);
		else {
			rc = cli_tasks_table_add(ctx, &t, tasks);
			cli_table_print(stdout, &t);
			if (rc != 0) {
				json_object_put(data);
				break;
			}
		}
		next = client_json_str(data, "next");
		if (next == NULL || (fflush(stdout) != 0 &&
		    cli_stdout_gone())) {
			json_object_put(data);
			break;
		}
		if (!every) {
			if (client_json_int(data, "total", &total) == 0 &&
			    total > count)
				fprintf(stderr, "... and %lld more (encore ps "
				    "--all lists every task)\n",
				    (long long)(total - count));
			else
				fprintf(stderr, "... and more (encore ps --all "
				    "lists every task)\n");
			json_object_put(data);
			break;
		}
		if (n == 0 || (after != NULL && strcmp(after, next) == 0)) {
			shown = display_escape(next);
			fprintf(stderr, "encore: the main node's listing does "
			    "not move on (next page after %s again); check its "
			    "log, or use encore and encore-main of the same "
			    "version\n", shown);
			free(shown);
			json_object_put(data);
			rc = CLI_EXIT_REMOTE;
			break;
		}
		free(after);
		after = xstrdup(next);
		json_object_put(data);
	}
	cli_table_free(&t);
	free(after);
	return (rc);
}

/* Width of show's label column: the longest label and a space. */
#define CLI_SHOW_W	16

/* Print one word of a command line (escaped), quoted for a POSIX shell if
 * needed. */
static void
cli_print_word(FILE *f, const char *word)
{
	char		*e = display_escape(word), *s = e;

	if (*s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == strlen(s)) {
		fputs(s, f);
		free(e);
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
	free(e);
}

/* Print "label  value" with the value escaped. */
static void
cli_show_line(const char *label, const char *value)
{
	char	*e = display_escape(value);

	printf("%-*s%s\n", CLI_SHOW_W, label, e);
	free(e);
}

/* Print a member, if present. */
static void
cli_show_field(struct json_object *o, const char *key, const char *label)
{
	const char	*s;

	if ((s = client_json_str(o, key)) != NULL)
		cli_show_line(label, s);
}

/* Print a member that means "none" when 0, with a unit. */
static void
cli_show_limit(struct json_object *o, const char *key, const char *label,
    const char *unit)
{
	char	buf[64];
	double	v = client_json_double(o, key);

	if (isnan(v))
		return;
	if (v <= 0)
		cli_show_line(label, "none");
	else {
		snprintf(buf, sizeof buf, "%g%s", v, unit);
		cli_show_line(label, buf);
	}
}

/* Print an object's members as "K=V", one a line. */
static void
cli_show_kv(struct json_object *o, const char *label)
{
	struct json_object_iterator	 it, end;
	struct json_object		*v;
	char				*kv;
	int				 any = 0;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return;
	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	for (; !json_object_iter_equal(&it, &end);
	    json_object_iter_next(&it)) {
		v = json_object_iter_peek_value(&it);
		xasprintf(&kv, "%s=%s", json_object_iter_peek_name(&it),
		    v == NULL ? "" : json_object_is_type(v, json_type_string) ?
		    json_object_get_string(v) :
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		cli_show_line(any ? "" : label, kv);
		free(kv);
		any = 1;
	}
}

/* For an array: its indexes and limit, and its elements by state; for
 * an element: its array. */
static void
cli_show_array(struct json_object *task)
{
	struct json_object	*a = client_json_get(task, "array");
	const char		*aid = client_json_str(task, "array_id");
	const char		*idx = client_json_str(task, "array_index");
	char			 buf[320], lim[64];
	int64_t			 size, start, end, step, limit;

	if (aid != NULL) {
		snprintf(buf, sizeof buf, "%s, index %s", aid,
		    idx != NULL ? idx : "?");
		cli_show_line("array:", buf);
	}
	if (a == NULL)
		return;
	if (client_json_int(a, "size", &size) != 0)
		size = 0;
	if (client_json_int(a, "start", &start) != 0)
		start = 0;
	if (client_json_int(a, "end", &end) != 0)
		end = size > 0 ? size - 1 : 0;
	if (client_json_int(a, "step", &step) != 0)
		step = 1;
	if (client_json_int(a, "limit", &limit) != 0)
		limit = 0;
	lim[0] = '\0';
	if (limit > 0)
		snprintf(lim, sizeof lim, ", at most %lld running",
		    (long long)limit);
	snprintf(buf, sizeof buf, "%lld elements, indexes %lld-%lld step "
	    "%lld%s", (long long)size, (long long)start, (long long)end,
	    (long long)step, lim);
	cli_show_line("array:", buf);
	cli_array_counts(client_json_get(a, "counts"), buf, sizeof buf);
	cli_show_line("elements:", buf[0] != '\0' ? buf : "none");
}

/* The dependencies, one line per kind: "after:  12, 13". */
static void
cli_show_deps(struct json_object *deps)
{
	static const char	*kinds[] = { "after", "after_any",
	    "after_notok" };
	static const char	*labels[] = { "after:", "after-any:",
	    "after-notok:" };
	struct json_object	*d;
	const char		*kind, *id;
	char			*line, *t;
	size_t			 i, k, n;

	if (deps == NULL || !json_object_is_type(deps, json_type_array))
		return;
	n = json_object_array_length(deps);
	for (k = 0; k < 3; k++) {
		line = NULL;
		for (i = 0; i < n; i++) {
			d = json_object_array_get_idx(deps, i);
			kind = client_json_str(d, "kind");
			id = client_json_str(d, "task_id");
			if (id == NULL || strcmp(kind != NULL ? kind : "after",
			    kinds[k]) != 0)
				continue;
			xasprintf(&t, "%s%s%s", line != NULL ? line : "",
			    line != NULL ? ", " : "", id);
			free(line);
			line = t;
		}
		if (line != NULL)
			cli_show_line(labels[k], line);
		free(line);
	}
}

/* encore show ID */
int
cli_show_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	static const char	*head[] = { "ATTEMPT", "DEVICE", "STATE",
	    "EXIT", "STARTED", "FINISHED", "ERROR" };
	static const char	*keys[] = { "attempt", "device", "state",
	    "exit_code", "started_at", "finished_at", "error" };
	struct json_object	*data, *task, *o, *a, *att;
	struct cli_table	 t;
	const char		*row[7];
	char			**ops;
	size_t			 i, n, c;
	struct cli_flags	 flags;
	int			 rc;

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
	cli_show_field(task, "why", "why:");
	cli_show_field(task, "reason", "reason:");
	cli_show_field(task, "error", "error:");
	cli_show_array(task);
	cli_show_deps(client_json_get(task, "dependencies"));
	cli_show_field(task, "task_type", "type:");
	cli_show_field(task, "image", "image:");
	a = client_json_get(task, "command");
	if (a != NULL && json_object_is_type(a, json_type_array)) {
		printf("%-*s", CLI_SHOW_W, "command:");
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
	cli_show_limit(task, "timeout", "timeout:", " s");
	cli_show_field(task, "retries", "retries:");
	o = client_json_get(task, "limits");
	cli_show_limit(o, "cpus", "cpus:", "");
	cli_show_limit(o, "memory_mb", "memory:", " MB");
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
	cli_show_files(task);

	a = client_json_get(task, "attempts");
	n = a != NULL && json_object_is_type(a, json_type_array) ?
	    json_object_array_length(a) : 0;
	if (n == 0 && client_json_get(task, "array") != NULL) {
		/* An array runs as its elements. */
		json_object_put(data);
		return (CLI_EXIT_OK);
	}
	if (n == 0) {
		cli_show_line("attempts:", "none yet");
		json_object_put(data);
		return (CLI_EXIT_OK);
	}
	printf("attempts:\n");
	cli_table_init(&t, 7);
	t.indent = "  ";
	cli_table_add(&t, head);
	for (i = 0; i < n; i++) {
		att = json_object_array_get_idx(a, i);
		for (c = 0; c < 7; c++)
			row[c] = client_json_str(att, keys[c]);
		cli_table_add(&t, row);
	}
	cli_table_print(stdout, &t);
	cli_table_free(&t);
	json_object_put(data);
	return (CLI_EXIT_OK);
}

/* encore logs [-f] [--raw] ID */
int
cli_logs_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*data;
	struct cli_output	 o;
	struct msg		 m;
	struct cli_flags	 flags;
	char			**ops;
	int			 rc;

	if ((rc = cli_parse_flags(cmd, argc, argv, CLI_OPT_FOLLOW |
	    CLI_OPT_RAW, &flags, 1, &ops)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	if ((rc = cli_check_id(cmd, "task ID", ops[0])) != 0)
		return (rc);
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	cli_output_init(&o, (flags.set & CLI_OPT_RAW) != 0);
	if (flags.set & CLI_OPT_FOLLOW)
		return (cli_follow(ctx, ops[0], 0, &o, NULL));
	client_msg_init(&m, MSG_LOGS, &ctx->client.next_id);
	m.u.target.task_id = xstrdup(ops[0]);
	rc = cli_call(ctx, &m, &data, CLI_ABOUT_TASK);
	msg_free(&m);
	if (rc != 0)
		return (rc);
	cli_logs_print(&o, data);
	cli_output_end(&o);
	json_object_put(data);
	return (CLI_EXIT_OK);
}

/* encore cancel ID */
int
cli_cancel_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*data, *task;
	struct msg		 m;
	const char		*state;
	char			**ops, *shown, *st;
	struct cli_flags	 flags;
	int			 rc;

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
	task = client_json_get(data, "task");
	state = client_json_str(task, "state");
	shown = display_escape(ops[0]);
	if (client_json_get(task, "array") != NULL) {
		/* The main node cancels every element itself. */
		st = display_escape(state != NULL ? state : "?");
		printf("%s: cancelling the whole array: the main node cancels "
		    "every element not yet ended (array now %s; 'encore show "
		    "%s' counts them)\n", shown, st, shown);
		free(st);
	} else if (state == NULL || strcmp(state, "cancelled") == 0)
		printf("%s: cancelled\n", shown);
	else {
		st = display_escape(state);
		printf("%s: cancelling (now %s)\n", shown, st);
		free(st);
	}
	free(shown);
	json_object_put(data);
	return (CLI_EXIT_OK);
}
