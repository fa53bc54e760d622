/* SPDX-License-Identifier: ISC */
/*
 * cli-work.c -- the CLI's side of arrays, dependencies and held tasks:
 * an array's counts in words, `submit --wait` of an array, and the hold
 * and release commands (the parsers of --array and --after are in
 * cli-spec.c).
 *
 * An array is one task id; its elements are "ARRAY.INDEX" (README,
 * "Arrays and dependencies").  The main node makes the elements as they
 * are about to run and keeps the array's counts per state, which get_task
 * gives; list_tasks gives only the array's own state and size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"

/* How often `submit --wait` of an array asks for its counts. */
#define CLI_ARRAY_POLL_MS	2000

/* The states an array's counts are shown in, in this order. */
static const char *cli_count_states[] = { "running", "assigned", "queued",
    "waiting", "held", "completed", "failed", "timed_out", "cancelled",
    NULL };

/* An array's counts (get_task's array.counts) as "3 running, 12
 * completed"; states with none are left out; "" if there are none. */
char *
cli_array_counts(struct json_object *counts, char *buf, size_t size)
{
	size_t	i, len = 0;
	int64_t	v;

	buf[0] = '\0';
	for (i = 0; cli_count_states[i] != NULL && len < size; i++) {
		if (client_json_int(counts, cli_count_states[i], &v) != 0 ||
		    v <= 0)
			continue;
		len += (size_t)snprintf(buf + len, size - len, "%s%lld %s",
		    len > 0 ? ", " : "", (long long)v, cli_count_states[i]);
	}
	return (buf);
}

/* "array of 50: 3 running, 12 completed" for an array's TASK (with
 * counts when it is get_task's). */
char *
cli_array_summary(struct json_object *task, char *buf, size_t size)
{
	struct json_object	*a = client_json_get(task, "array");
	char			 counts[256];
	int64_t			 n;

	if (client_json_int(a, "size", &n) != 0)
		n = 0;
	cli_array_counts(client_json_get(a, "counts"), counts,
	    sizeof counts);
	snprintf(buf, size, "array of %lld%s%s", (long long)n,
	    counts[0] != '\0' ? ": " : "", counts);
	return (buf);
}

/* Ask for one task or array without reporting a failure. */
enum client_result
cli_task_detail(struct cli_ctx *ctx, const char *id, struct json_object **task,
    struct client_error *err)
{
	struct json_object	*data;
	struct msg		 m;
	enum client_result	 r;

	*task = NULL;
	client_msg_init(&m, MSG_GET_TASK, &ctx->client.next_id);
	m.u.target.task_id = xstrdup(id);
	r = client_request(&ctx->client, &m, &data, err);
	msg_free(&m);
	if (r != CLIENT_OK)
		return (r);
	*task = json_object_get(client_json_get(data, "task"));
	json_object_put(data);
	return (CLIENT_OK);
}

/* Print how an array ended; returns the exit code for it. */
static int
cli_array_ended(struct json_object *task, const char *shown)
{
	const char	*state = client_json_str(task, "state");
	char		 sum[256], *st;
	int		 ok = state != NULL && strcmp(state, "completed") == 0;
	int64_t		 n;

	if (client_json_int(client_json_get(task, "array"), "size", &n) != 0)
		n = 0;
	cli_array_counts(client_json_get(client_json_get(task, "array"),
	    "counts"), sum, sizeof sum);
	st = display_escape(state != NULL ? state : "ended");
	fprintf(stderr, "encore: array %s %s: %lld elements%s%s", shown, st,
	    (long long)n, sum[0] != '\0' ? ": " : "", sum);
	if (!ok)
		fprintf(stderr, "; see 'encore show %s' and 'encore ps --all "
		    "--expand'", shown);
	fputc('\n', stderr);
	free(st);
	return (ok ? CLI_EXIT_OK : CLI_EXIT_REMOTE);
}

/*
 * submit --wait of an array: wait until the array ends (subscribed to
 * task events, and asking for its counts every CLI_ARRAY_POLL_MS, shown
 * on stderr when it is a terminal).  Exit 0 if every element completed,
 * else 1; Ctrl-C detaches (130), a second one within CLI_INTR_WINDOW_MS
 * cancels the array.
 */
int
cli_array_wait(struct cli_ctx *ctx, const char *id)
{
	struct client		*c = &ctx->client;
	struct client_error	 err;
	struct json_object	*data, *task = NULL, *t;
	struct msg		 m;
	enum client_result	 r;
	const char		*s;
	char			*shown, sum[320];
	int64_t			 now, next_poll = 0, armed_until = 0, wait;
	int			 rc = -1, armed = 0, cancelling = 0, tty, progress;

	tty = isatty(STDERR_FILENO);
	shown = display_escape(id);
	client_msg_init(&m, MSG_SUBSCRIBE, &c->next_id);
	m.u.sub.tasks = 1;
	r = client_request(c, &m, &data, &err);
	msg_free(&m);
	json_object_put(data);
	if (r != CLIENT_OK) {
		free(shown);
		return (cli_fail(r, &err, CLI_ABOUT_TASK, id));
	}
	progress = 0;
	while (rc == -1) {
		now = client_now_ms();
		if (armed && now >= armed_until) {
			fprintf(stderr, "%sencore: detached from array %s, "
			    "which keeps running: 'encore show %s' shows it, "
			    "'encore cancel %s' cancels it\n", progress > 0 ?
			    "\n" : "", shown, shown, shown);
			rc = CLI_EXIT_DETACHED;
			break;
		}
		if (now >= next_poll) {
			/* The counts, and a check that the main node is
			 * there (and an end we may have missed). */
			r = cli_task_detail(ctx, id, &t, &err);
			if (r != CLIENT_OK) {
				if (progress > 0)
					fputc('\n', stderr);
				rc = cli_fail(r, &err, CLI_ABOUT_TASK, id);
				if (r != CLIENT_REMOTE)
					fprintf(stderr, "encore: the array may "
					    "still be running: 'encore show %s' "
					    "once the main node is back\n",
					    shown);
				break;
			}
			json_object_put(task);
			task = t;
			if (proto_task_state_name_is_final(client_json_str(task,
			    "state")))
				break;
			if (tty) {
				cli_array_summary(task, sum, sizeof sum);
				fprintf(stderr, "\r\033[Kencore: array %s: %s",
				    shown, sum);
				progress = 1;
			}
			next_poll = client_now_ms() + CLI_ARRAY_POLL_MS;
			continue;
		}
		wait = next_poll - now;
		if (armed && armed_until - now < wait)
			wait = armed_until - now;
		r = client_next(c, &m, (int)(wait > 0 ? wait : 0), &err);
		if (r == CLIENT_TIMEOUT)
			continue;
		if (r == CLIENT_INTR) {
			cli_intr_drain();
			if (progress > 0) {
				fputc('\n', stderr);
				progress = 0;
			}
			if (!armed && !cancelling) {
				armed = 1;
				armed_until = client_now_ms() +
				    CLI_INTR_WINDOW_MS;
				fprintf(stderr, "encore: array %s keeps running; "
				    "Ctrl-C again within %d s cancels it (later: "
				    "encore cancel %s)\n", shown,
				    CLI_INTR_WINDOW_MS / 1000, shown);
			} else if (armed) {
				armed = 0;
				cancelling = 1;
				client_msg_init(&m, MSG_CANCEL, &c->next_id);
				m.u.target.task_id = xstrdup(id);
				r = client_request(c, &m, &data, &err);
				msg_free(&m);
				json_object_put(data);
				if (r != CLIENT_OK) {
					rc = cli_fail(r, &err, CLI_ABOUT_TASK,
					    id);
					break;
				}
				fprintf(stderr, "encore: cancelling array %s: the "
				    "main node cancels every element not yet "
				    "ended (Ctrl-C again: stop waiting)\n",
				    shown);
				next_poll = 0;
			} else {
				fprintf(stderr, "encore: stopped waiting; array "
				    "%s is being cancelled ('encore show %s')\n",
				    shown, shown);
				rc = CLI_EXIT_DETACHED;
			}
			continue;
		}
		if (r != CLIENT_OK) {
			if (progress > 0)
				fputc('\n', stderr);
			rc = cli_fail(r, &err, CLI_ABOUT_TASK, id);
			fprintf(stderr, "encore: the array may still be running: "
			    "'encore show %s' once the main node is back\n",
			    shown);
			break;
		}
		if (m.type == MSG_EVENT) {
			t = client_json_get(m.u.json, "task");
			s = client_json_str(t, "id");
			/* The array's own end: get its final counts. */
			if (s != NULL && strcmp(s, id) == 0 &&
			    proto_task_state_name_is_final(client_json_str(t,
			    "state")))
				next_poll = 0;
		} else if (m.type == MSG_BYE) {
			if (progress > 0)
				fputc('\n', stderr);
			fprintf(stderr, "encore: the main node closed the "
			    "connection (shutting down); 'encore show %s' "
			    "once it is back\n", shown);
			rc = CLI_EXIT_UNREACHABLE;
		}
		msg_free(&m);
	}
	if (rc == -1) {
		if (progress > 0)
			fputc('\n', stderr);
		rc = cli_array_ended(task, shown);
	}
	json_object_put(task);
	free(shown);
	return (rc);
}

/* Print what hold or release left a task as: "17: held (reason)",
 * "17: released, now waiting (why)". */
static void
cli_work_print(const char *id, int hold, struct json_object *task)
{
	const char	*state = client_json_str(task, "state");
	const char	*why = client_json_str(task, "reason");
	char		*e;

	if (why == NULL)
		why = client_json_str(task, "error");
	e = display_escape(id);
	printf("%s: %s", e, hold ? "held" : "released");
	free(e);
	if (state != NULL && (!hold || strcmp(state, "held") != 0)) {
		e = display_escape(state);
		printf(", now %s", e);
		free(e);
	}
	if (why != NULL) {
		e = display_escape(why);
		printf(" (%s)", e);
		free(e);
	}
	putchar('\n');
}

/* encore hold ID [--reason TEXT], encore release ID */
int
cli_hold_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*data;
	struct cli_flags	 flags;
	struct msg		 m;
	char			**ops;
	int			 rc, hold = strcmp(cmd->name, "hold") == 0;

	if ((rc = cli_parse_flags(cmd, argc, argv, hold ? CLI_OPT_REASON : 0,
	    &flags, 1, &ops)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	if ((rc = cli_check_id(cmd, "task ID", ops[0])) != 0)
		return (rc);
	if (flags.reason != NULL && strlen(flags.reason) > PROTO_TEXT_MAX)
		return (cli_usage_error(cmd, "--reason: at most %d bytes",
		    PROTO_TEXT_MAX));
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	client_msg_init(&m, hold ? MSG_HOLD : MSG_RELEASE,
	    &ctx->client.next_id);
	m.u.target.task_id = xstrdup(ops[0]);
	if (flags.reason != NULL)
		m.u.target.reason = xstrdup(flags.reason);
	rc = cli_call(ctx, &m, &data, CLI_ABOUT_TASK);
	msg_free(&m);
	if (rc != 0)
		return (rc);
	cli_work_print(ops[0], hold, client_json_get(data, "task"));
	json_object_put(data);
	return (CLI_EXIT_OK);
}
