/* SPDX-License-Identifier: ISC */
/*
 * test-cli.c -- the operator CLI's pure parts: `submit` argument parsing
 * into a task and its wire form (cli-tasks.c), --wait exit codes, CSV
 * output (cli-devices.c, cli-util.c), reply interpretation and the main
 * address / token lookup (client.c).
 *
 * Submit cases are tables: argv -> expected values at JSON paths of the
 * encoded `submit` line, or argv -> expected error text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <getopt.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "protocol.h"
#include "../../dashboard-tui/client.h"
#include "../../dashboard-tui/cli.h"

#define ARGS_MAX	40
#define EXPECT_MAX	8

/* One value expected at a dotted path of the encoded line ("" absent). */
struct expect {
	const char	*path;
	const char	*json;		/* plain JSON text, NULL: absent */
};

/* A submit invocation that must parse, and what it must encode to. */
struct submit_ok {
	const char	*name;
	const char	*argv[ARGS_MAX];	/* NULL-terminated */
	int		 wait;
	struct expect	 expect[EXPECT_MAX];
};

/* A submit invocation that must fail, with a piece of the message. */
struct submit_bad {
	const char	*name;
	const char	*argv[ARGS_MAX];
	const char	*cause;
};

static const struct submit_ok submit_ok_cases[] = {
	{ "plain argv after --", { "submit", "--", "echo", "hi", NULL }, 0, {
		{ "message_type", "\"submit\"" },
		{ "data.task.command", "[\"echo\",\"hi\"]" },
		{ "data.task.task_type", "\"command\"" },
		{ "data.task.priority", "\"normal\"" },
		{ "data.task.image", NULL },
		{ NULL, NULL } } },
	{ "argv without --, keeping its own options",
	  { "submit", "ls", "-l", "--wait", NULL }, 0, {
		{ "data.task.command", "[\"ls\",\"-l\",\"--wait\"]" },
		{ NULL, NULL } } },
	{ "every option",
	  { "submit", "--image", "busybox", "--name", "job 1", "--priority",
	    "urgent", "--cpus", "0.5", "--memory", "256", "--timeout", "30",
	    "--retries", "2", "--arch", "aarch64", "--platform", "linux",
	    "--label", "room=kitchen", "--env", "A=b=c", "--device", "pi4",
	    "--wait", "--", "sh", "-c", "exit 3", NULL }, 1, {
		{ "data.task.task_type", "\"container\"" },
		{ "data.task.image", "\"busybox\"" },
		{ "data.task.name", "\"job 1\"" },
		{ "data.task.priority", "\"urgent\"" },
		{ "data.task.limits", "{\"cpus\":0.5,\"memory_mb\":256,"
		    "\"pids\":0}" },
		{ "data.task.requirements", "{\"arch\":\"aarch64\","
		    "\"platform\":\"linux\",\"labels\":{\"room\":\"kitchen\"},"
		    "\"device\":\"pi4\"}" },
		{ "data.task.env", "{\"A\":\"b=c\"}" },
		{ "data.task.command", "[\"sh\",\"-c\",\"exit 3\"]" } } },
	{ "--opt=value and repeated labels",
	  { "submit", "--timeout=5", "--label=a=1", "--label", "b=2",
	    "--retries=0", "--", "true", NULL }, 0, {
		{ "data.task.timeout", "5" },
		{ "data.task.requirements.labels", "{\"a\":\"1\",\"b\":\"2\"}" },
		{ NULL, NULL } } },
	{ "last --priority wins", { "submit", "--priority", "low",
	    "--priority", "high", "--", "x", NULL }, 0, {
		{ "data.task.priority", "\"high\"" },
		{ NULL, NULL } } },
	{ "no array, no dependencies", { "submit", "--", "x", NULL }, 0, {
		{ "data.array", NULL },
		{ "data.after", NULL },
		{ "data.hold", "false" },
		{ NULL, NULL } } },
	{ "--array N with %K", { "submit", "--array", "50%3", "--", "echo",
	    "{index}", NULL }, 0, {
		{ "data.array.start", "0" },
		{ "data.array.end", "49" },
		{ "data.array.step", "1" },
		{ "data.array.limit", "3" },
		{ "data.task.command", "[\"echo\",\"{index}\"]" },
		{ NULL, NULL } } },
	{ "--array A-B:STEP", { "submit", "--array=10-1000000000:1000", "--",
	    "x", NULL }, 0, {
		{ "data.array.start", "10" },
		{ "data.array.end", "1000000000" },
		{ "data.array.step", "1000" },
		{ NULL, NULL } } },
	{ "--array A-B, one element", { "submit", "--array", "7-7", "--wait",
	    "--", "x", NULL }, 1, {
		{ "data.array.start", "7" },
		{ "data.array.end", "7" },
		{ NULL, NULL } } },
	{ "dependencies and --hold", { "submit", "--after", "3",
	    "--after", "4, 5.2", "--after-any", "7", "--after-notok=8,9",
	    "--hold", "--", "merge", NULL }, 0, {
		{ "data.after", "[\"3\",\"4\",\"5.2\"]" },
		{ "data.after_any", "[\"7\"]" },
		{ "data.after_notok", "[\"8\",\"9\"]" },
		{ "data.hold", "true" },
		{ "data.task.command", "[\"merge\"]" },
		{ NULL, NULL } } },
	{ "outputs and checkpoints", { "submit", "--output", "out/*.png",
	    "--output=log.txt", "--checkpoint", "state.bin", "--input",
	    "data.csv", "--wait", "--fetch", "res", "--", "render", NULL }, 1, {
		{ "data.task.outputs", "[\"out/*.png\",\"log.txt\"]" },
		{ "data.task.checkpoints", "[\"state.bin\"]" },
		/* Inputs go on the wire only once they are sent. */
		{ "data.task.inputs", NULL },
		{ "data.task.command", "[\"render\"]" },
		{ NULL, NULL } } },
};

static const struct submit_bad submit_bad_cases[] = {
	{ "no argv", { "submit", NULL }, "missing ARGV" },
	{ "only --", { "submit", "--", NULL }, "missing ARGV" },
	{ "options but no argv", { "submit", "--wait", NULL },
	  "missing ARGV" },
	{ "output outside the directory", { "submit", "--output", "../x",
	    "--", "x", NULL }, "\"..\" component" },
	{ "output absolute", { "submit", "--output", "/etc/passwd", "--",
	    "x", NULL }, "is absolute" },
	{ "checkpoint empty component", { "submit", "--checkpoint", "a//b",
	    "--", "x", NULL }, "--checkpoint 'a//b'" },
	{ "fetch without wait", { "submit", "--fetch", "out", "--", "x",
	    NULL }, "--fetch DIR needs --wait" },
	{ "input empty", { "submit", "--input=", "--", "x", NULL },
	  "--input needs PATH" },
	{ "bad priority", { "submit", "--priority", "asap", "--", "x", NULL },
	  "low, normal, high or urgent" },
	{ "cpus not a number", { "submit", "--cpus", "two", "--", "x", NULL },
	  "--cpus 'two'" },
	{ "cpus zero", { "submit", "--cpus", "0", "--", "x", NULL },
	  "--cpus" },
	{ "memory negative", { "submit", "--memory", "-5", "--", "x", NULL },
	  "--memory '-5'" },
	{ "timeout too big", { "submit", "--timeout", "99999999", "--", "x",
	    NULL }, "--timeout" },
	{ "retries junk", { "submit", "--retries", "3x", "--", "x", NULL },
	  "--retries '3x'" },
	{ "label without =", { "submit", "--label", "gpu", "--", "x", NULL },
	  "expected KEY=VALUE" },
	{ "label empty key", { "submit", "--label", "=1", "--", "x", NULL },
	  "expected KEY=VALUE" },
	{ "env bad name", { "submit", "--env", "1A=x", "--", "x", NULL },
	  "not a variable name" },
	{ "unknown option", { "submit", "--bogus", "--", "x", NULL },
	  "unknown option '--bogus'" },
	{ "option without its value", { "submit", "--image", NULL },
	  "needs a value" },
	{ "empty name", { "submit", "--name", "", "--", "x", NULL },
	  "--name" },
	{ "array of none", { "submit", "--array", "0", "--", "x", NULL },
	  "N elements must be 1 to 1000000" },
	{ "array not a number", { "submit", "--array", "ten", "--", "x",
	    NULL }, "expected N, A-B or A-B:STEP" },
	{ "array negative", { "submit", "--array", "-5", "--", "x", NULL },
	  "expected N, A-B or A-B:STEP" },
	{ "array backwards", { "submit", "--array", "5-3", "--", "x", NULL },
	  "the first index 5 is after the last 3" },
	{ "array step 0", { "submit", "--array", "1-5:0", "--", "x", NULL },
	  "expected N, A-B or A-B:STEP" },
	{ "array open range", { "submit", "--array", "1-", "--", "x", NULL },
	  "expected N, A-B or A-B:STEP" },
	{ "array limit 0", { "submit", "--array", "10%0", "--", "x", NULL },
	  "%K must be 1 to 1000000" },
	{ "array limit missing", { "submit", "--array", "10%", "--", "x",
	    NULL }, "%K must be 1 to 1000000" },
	{ "array too big", { "submit", "--array", "2000000", "--", "x",
	    NULL }, "N elements must be 1 to 1000000" },
	{ "array range too big", { "submit", "--array", "0-1999999", "--",
	    "x", NULL }, "2000000 elements; at most 1000000" },
	{ "array index too big", { "submit", "--array", "0-1000000001:1000",
	    "--", "x", NULL }, "expected N, A-B or A-B:STEP" },
	{ "array junk after", { "submit", "--array", "10x", "--", "x",
	    NULL }, "expected N, A-B or A-B:STEP" },
	{ "array with spaces", { "submit", "--array", " 10", "--", "x",
	    NULL }, "expected N, A-B or A-B:STEP" },
	{ "after empty", { "submit", "--after", "", "--", "x", NULL },
	  "--after '': an empty id" },
	{ "after empty in a list", { "submit", "--after-any", "1,,2", "--",
	    "x", NULL }, "--after-any '1,,2': an empty id" },
	{ "after not an id", { "submit", "--after-notok", "1,a b", "--",
	    "x", NULL }, "'a b' is not a task id" },
};

/* Count a NULL-terminated argv. */
static int
argv_count(const char * const *argv)
{
	int	n = 0;

	while (argv[n] != NULL)
		n++;
	return (n);
}

/* Copy a case's argv (getopt may permute it). */
static char **
argv_copy(const char * const *argv, int *argc)
{
	char	**v;
	int	  i;

	*argc = argv_count(argv);
	v = xcalloc((size_t)*argc + 1, sizeof *v);
	for (i = 0; i < *argc; i++)
		v[i] = xstrdup(argv[i]);
	return (v);
}

/* Free a copied argv. */
static void
argv_free(char **v, int argc)
{
	int	i;

	for (i = 0; i < argc; i++)
		free(v[i]);
	free(v);
}

/* Member at a dotted path, or NULL. */
static struct json_object *
json_path(struct json_object *o, const char *path)
{
	char	 buf[128], *p, *dot;

	snprintf(buf, sizeof buf, "%s", path);
	for (p = buf; o != NULL && p != NULL; p = dot) {
		if ((dot = strchr(p, '.')) != NULL)
			*dot++ = '\0';
		if (!json_object_object_get_ex(o, p, &o))
			return (NULL);
	}
	return (o);
}

/* Submit cases that parse: check the encoded line. */
static void
test_submit_ok(void **state)
{
	const struct submit_ok	*c;
	struct json_object	*root, *v;
	struct msg		 m;
	const char		*got;
	char			**argv, *cause, *line;
	size_t			 i, j;
	struct cli_submit_opts	 so;
	int			 argc, rc;

	for (i = 0; i < sizeof submit_ok_cases / sizeof *c; i++) {
		c = &submit_ok_cases[i];
		argv = argv_copy(c->argv, &argc);
		msg_init(&m, MSG_SUBMIT);
		cause = NULL;
		rc = cli_submit_parse(argc, argv, &m.u.task, &so, &cause);
		if (rc != 0)
			fail_msg("%s: parse failed: %s", c->name,
			    cause != NULL ? cause : "(no cause)");
		if (so.wait != c->wait)
			fail_msg("%s: wait %d, expected %d", c->name, so.wait,
			    c->wait);
		cli_submit_opts_free(&so);
		line = msg_encode(&m, NULL);
		assert_non_null(line);
		root = json_tokener_parse(line);
		assert_non_null(root);
		for (j = 0; j < EXPECT_MAX && c->expect[j].path != NULL; j++) {
			v = json_path(root, c->expect[j].path);
			got = v == NULL ? NULL : json_object_to_json_string_ext(
			    v, JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE);
			if (c->expect[j].json == NULL && got != NULL)
				fail_msg("%s: %s: expected absent, got %s",
				    c->name, c->expect[j].path, got);
			if (c->expect[j].json != NULL && (got == NULL ||
			    strcmp(got, c->expect[j].json) != 0))
				fail_msg("%s: %s: expected %s, got %s\n%s",
				    c->name, c->expect[j].path,
				    c->expect[j].json, got ? got : "absent",
				    line);
		}
		json_object_put(root);
		free(line);
		msg_free(&m);
		argv_free(argv, argc);
	}
}

/* Submit cases that must be refused with a helpful message. */
static void
test_submit_bad(void **state)
{
	const struct submit_bad	*c;
	struct msg		 m;
	char			**argv, *cause;
	struct cli_submit_opts	 so;
	size_t			 i;
	int			 argc, rc;

	for (i = 0; i < sizeof submit_bad_cases / sizeof *c; i++) {
		c = &submit_bad_cases[i];
		argv = argv_copy(c->argv, &argc);
		msg_init(&m, MSG_SUBMIT);
		cause = NULL;
		rc = cli_submit_parse(argc, argv, &m.u.task, &so, &cause);
		cli_submit_opts_free(&so);
		if (rc != -1)
			fail_msg("%s: expected an error, got %d", c->name, rc);
		if (cause == NULL || strstr(cause, c->cause) == NULL)
			fail_msg("%s: expected \"%s\" in \"%s\"", c->name,
			    c->cause, cause != NULL ? cause : "(null)");
		free(cause);
		msg_free(&m);
		argv_free(argv, argc);
	}
}

/* --input PATH[:NAME]: split at the last ':'; NAME checked. */
static void
test_input_split(void **state)
{
	static const struct {
		const char	*spec, *path, *name, *cause;
	} cases[] = {
		{ "data.csv", "data.csv", NULL, NULL },
		{ "data.csv:in/d.csv", "data.csv", "in/d.csv", NULL },
		{ "photos/:pics/", "photos/", "pics", NULL },
		{ "a:b:c", "a:b", "c", NULL },
		{ "x:", "x", NULL, NULL },
		{ ":name", NULL, NULL, "PATH before ':' is empty" },
		{ "x:../up", NULL, NULL, "component" },
		{ "x:/abs", NULL, NULL, "is absolute" },
		{ "", NULL, NULL, "--input needs PATH" },
	};
	char	*path, *name, *cause;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cause = NULL;
		rc = cli_input_split(cases[i].spec, &path, &name, &cause);
		if (cases[i].cause != NULL) {
			if (rc != -1 || cause == NULL ||
			    strstr(cause, cases[i].cause) == NULL)
				fail_msg("%s: expected \"%s\", got %s",
				    cases[i].spec, cases[i].cause,
				    cause != NULL ? cause : "no error");
			free(cause);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", cases[i].spec, cause);
		assert_string_equal(path, cases[i].path);
		if (cases[i].name == NULL)
			assert_null(name);
		else
			assert_string_equal(name, cases[i].name);
		free(path);
		free(name);
	}
	name = cli_input_default_name("/srv/in/photos/");
	assert_string_equal(name, "photos");
	free(name);
	assert_null(cli_input_default_name("/"));
	assert_null(cli_input_default_name("."));
	assert_null(cli_input_default_name("a/.."));
}

/* Tokens: pinned (ENC1:<64 hex>:<secret>) or bare. */
static void
test_token_parse(void **state)
{
	char		 pin[CLIENT_PIN_HEX + 1], *cause = NULL, tok[200];
	const char	*secret;

	assert_int_equal(client_token_parse("s3cret", pin, &secret, &cause),
	    0);
	assert_string_equal(secret, "s3cret");
	snprintf(tok, sizeof tok, "ENC1:%s:abc", "0123456789ABCDEF"
	    "0123456789abcdef0123456789abcdef0123456789abcdef");
	assert_int_equal(client_token_parse(tok, pin, &secret, &cause), 1);
	assert_string_equal(pin, "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef");
	assert_string_equal(secret, "abc");
	assert_int_equal(client_token_parse("ENC1:abcd:xyz", pin, &secret,
	    &cause), -1);
	assert_non_null(strstr(cause, "copy operator.token again"));
	free(cause);
	cause = NULL;
	tok[strlen(tok) - 3] = '\0';	/* no secret */
	assert_int_equal(client_token_parse(tok, pin, &secret, &cause), -1);
	free(cause);
}

/* --help inside submit is reported as 1, not an error. */
static void
test_submit_help(void **state)
{
	const char	*args[] = { "submit", "--help", NULL };
	struct msg	 m;
	char		**argv, *cause = NULL;
	struct cli_submit_opts so;
	int		 argc;

	argv = argv_copy(args, &argc);
	msg_init(&m, MSG_SUBMIT);
	assert_int_equal(cli_submit_parse(argc, argv, &m.u.task, &so,
	    &cause), 1);
	cli_submit_opts_free(&so);
	assert_null(cause);
	msg_free(&m);
	argv_free(argv, argc);
}

/* submit --wait exit codes for final task states. */
static void
test_exit_codes(void **state)
{
	static const struct {
		const char	*task;
		int		 code;
	} cases[] = {
		{ "{\"state\":\"completed\",\"exit_code\":0}", 0 },
		{ "{\"state\":\"completed\",\"exit_code\":null}", 0 },
		{ "{\"state\":\"failed\",\"exit_code\":3}", 3 },
		{ "{\"state\":\"failed\",\"exit_code\":null}", 125 },
		{ "{\"state\":\"failed\"}", 125 },
		{ "{\"state\":\"timed_out\",\"exit_code\":null}", 124 },
		{ "{\"state\":\"timed_out\",\"exit_code\":143}", 124 },
		{ "{\"state\":\"cancelled\",\"exit_code\":null}", 125 },
		{ "{\"state\":\"running\"}", -1 },
		{ "{\"state\":\"queued\"}", -1 },
		{ "{}", -1 },
	};
	struct json_object	*o;
	size_t			 i;
	int			 got;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		o = json_tokener_parse(cases[i].task);
		got = cli_task_exit_code(o);
		if (got != cases[i].code)
			fail_msg("%s: exit %d, expected %d", cases[i].task,
			    got, cases[i].code);
		json_object_put(o);
	}
}

/* Run f on a memory stream and return what it wrote (caller frees). */
static char *
capture_csv(void (*f)(FILE *, struct json_object *), const char *json)
{
	struct json_object	*o;
	char			*buf = NULL;
	size_t			 len = 0;
	FILE			*fp;

	o = json_tokener_parse(json);
	assert_non_null(o);
	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	f(fp, o);
	fclose(fp);
	json_object_put(o);
	return (buf);
}

/* devices --csv: SPEC columns, RFC 4180 quoting, unknowns empty. */
static void
test_devices_csv(void **state)
{
	char	*out;

	out = capture_csv(cli_devices_csv, "[{\"id\":\"pi,4\","
	    "\"hostname\":\"say \\\"hi\\\"\",\"state\":\"online\","
	    "\"arch\":\"aarch64\",\"platform\":\"linux\",\"cores\":4,"
	    "\"mem_total\":4294967296,\"cpu_pct\":12.34,\"mem_pct\":50,"
	    "\"load\":[0.5,0.25,0.1],\"temp_c\":null,\"battery_pct\":null,"
	    "\"running\":1,\"slots\":4,\"last_seen_s\":2},"
	    "{\"id\":\"x\",\"state\":\"weird\",\"load\":null}]");
	assert_string_equal(out,
	    "id,hostname,state,arch,platform,cores,mem_mb,cpu_pct,mem_pct,"
	    "load1,temp_c,battery_pct,running,slots,last_seen_s\r\n"
	    "\"pi,4\",\"say \"\"hi\"\"\",online,aarch64,linux,4,4096,12.3,"
	    "50.0,0.50,,,1,4,2\r\n"
	    "x,,,,,,,,,,,,,,\r\n");
	free(out);
}

/* ps --csv: SPEC columns in order, nulls empty. */
static void
test_tasks_csv(void **state)
{
	char	*out;

	out = capture_csv(cli_tasks_csv, "[{\"id\":\"7\",\"name\":\"a\\nb\","
	    "\"state\":\"completed\",\"priority\":\"high\",\"device\":\"pi\","
	    "\"attempt\":1,\"exit_code\":0,\"submitted_at\":"
	    "\"2026-11-22T10:31:00Z\",\"started_at\":null,\"finished_at\":"
	    "\"2026-11-22T10:32:00Z\"}]");
	assert_string_equal(out,
	    "id,name,state,priority,device,attempt,exit_code,submitted_at,"
	    "started_at,finished_at\r\n"
	    "7,\"a\nb\",completed,high,pi,1,0,2026-11-22T10:31:00Z,,"
	    "2026-11-22T10:32:00Z\r\n");
	free(out);
}

/* Build a decoded reply/error message from a line. */
static void
decode_line(const char *line, struct msg *m)
{
	struct proto_err	err;

	if (msg_decode(line, strlen(line), m, &err) != 0)
		fail_msg("decode %s: %s", line, err.message);
}

/* Replies: ok -> data; ok false and `error` -> code and message. */
static void
test_reply_result(void **state)
{
	struct client_error	 err;
	struct json_object	*data;
	struct msg		 m;

	decode_line("{\"message_type\":\"reply\",\"reply_to\":\"1\","
	    "\"data\":{\"ok\":true,\"role\":\"operator\"}}", &m);
	assert_int_equal(client_reply_result(&m, &data, &err), CLIENT_OK);
	assert_string_equal(client_json_str(data, "role"), "operator");
	json_object_put(data);
	msg_free(&m);

	decode_line("{\"message_type\":\"reply\",\"reply_to\":\"1\","
	    "\"data\":{\"ok\":false,\"error\":{\"code\":\"unauthorized\","
	    "\"message\":\"bad token\"}}}", &m);
	assert_int_equal(client_reply_result(&m, &data, &err), CLIENT_REMOTE);
	assert_null(data);
	assert_string_equal(err.code_name, "unauthorized");
	assert_int_equal(err.code, PROTO_UNAUTHORIZED);
	assert_string_equal(err.message, "bad token");
	assert_non_null(strstr(client_error_hint(err.code_name),
	    "ENCORE_TOKEN"));
	msg_free(&m);

	decode_line("{\"message_type\":\"error\",\"data\":{\"code\":"
	    "\"line_too_long\",\"message\":\"too long\"}}", &m);
	assert_int_equal(client_reply_result(&m, &data, &err), CLIENT_REMOTE);
	assert_string_equal(err.code_name, "line_too_long");
	msg_free(&m);
}

/* --main beats ENCORE_MAIN beats the default. */
static void
test_main_address(void **state)
{
	unsetenv("ENCORE_MAIN");
	assert_string_equal(client_main_address(NULL), "127.0.0.1:7070");
	setenv("ENCORE_MAIN", "10.0.0.2:7000", 1);
	assert_string_equal(client_main_address(NULL), "10.0.0.2:7000");
	assert_string_equal(client_main_address("h:1"), "h:1");
	setenv("ENCORE_MAIN", "", 1);
	assert_string_equal(client_main_address(NULL), "127.0.0.1:7070");
	unsetenv("ENCORE_MAIN");
}

/* Write text to path. */
static void
write_file(const char *path, const char *text)
{
	FILE	*f;

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* --token, --token-file, ENCORE_TOKEN, ENCORE_TOKEN_FILE, then
 * operator.token in the state dir, in that order. */
static void
test_find_token(void **state)
{
	char	 dir[] = "/tmp/test-cli-XXXXXX", path[256], tf[256];
	char	 empty[256], *t, *cause;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/encore", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/encore/operator.token", dir);
	write_file(path, "filetoken\n");
	snprintf(tf, sizeof tf, "%s/op.token", dir);
	write_file(tf, "  \n");
	write_file(tf, "from-token-file\r\nsecond line\n");
	snprintf(empty, sizeof empty, "%s/empty.token", dir);
	write_file(empty, "\n");

	setenv("XDG_STATE_HOME", dir, 1);
	setenv("HOME", dir, 1);
	unsetenv("ENCORE_TOKEN");
	unsetenv("ENCORE_TOKEN_FILE");
	t = client_find_token("flag", tf, &cause);
	assert_string_equal(t, "flag");
	free(t);
	t = client_find_token(NULL, tf, &cause);
	assert_string_equal(t, "from-token-file");
	free(t);
	setenv("ENCORE_TOKEN", "envtoken", 1);
	t = client_find_token(NULL, tf, &cause);
	assert_string_equal(t, "from-token-file");
	free(t);
	t = client_find_token(NULL, NULL, &cause);
	assert_string_equal(t, "envtoken");
	free(t);
	setenv("ENCORE_TOKEN_FILE", tf, 1);
	t = client_find_token(NULL, NULL, &cause);
	assert_string_equal(t, "envtoken");
	free(t);
	setenv("ENCORE_TOKEN", "", 1);
	t = client_find_token(NULL, NULL, &cause);
	assert_string_equal(t, "from-token-file");
	free(t);

	/* A named file that cannot be used is an error, not a fallback. */
	t = client_find_token(NULL, "/nonexistent/op.token", &cause);
	assert_null(t);
	assert_non_null(strstr(cause, "/nonexistent/op.token"));
	assert_non_null(strstr(cause, "No such file"));
	free(cause);
	t = client_find_token(NULL, empty, &cause);
	assert_null(t);
	assert_non_null(strstr(cause, "no token"));
	free(cause);
	setenv("ENCORE_TOKEN_FILE", "/nonexistent/env.token", 1);
	t = client_find_token(NULL, NULL, &cause);
	assert_null(t);
	assert_non_null(strstr(cause, "/nonexistent/env.token"));
	free(cause);

	unsetenv("ENCORE_TOKEN_FILE");
	t = client_find_token(NULL, NULL, &cause);
	assert_null(cause);
	/* As root /var/lib/encore comes first; it may hold a real token. */
	if (access("/var/lib/encore/operator.token", R_OK) != 0)
		assert_string_equal(t, "filetoken");
	free(t);

	unlink(path);
	unlink(tf);
	unlink(empty);
	snprintf(path, sizeof path, "%s/encore", dir);
	rmdir(path);
	rmdir(dir);
}

/* "Did you mean": typos of commands and options, nothing for the rest. */
static void
test_suggest(void **state)
{
	static const char *cmds[] = { "devices", "approve", "reject", "drain",
	    "undrain", "remove", "submit", "ps", "show", "logs", "cancel",
	    "status" };
	static const struct {
		const char	*word;
		const char	*want;
	} cases[] = {
		{ "sumbit", "submit" },		/* swapped letters */
		{ "submt", "submit" },		/* one left out */
		{ "devcies", "devices" },
		{ "lgos", "logs" },
		{ "sp", "ps" },
		{ "stauts", "status" },
		{ "cancle", "cancel" },
		{ "frobnicate", NULL },
		{ "bogus", NULL },		/* "logs" is 2 away: too far */
		{ "x", NULL },
		{ "", NULL },
	};
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "wait", no_argument, NULL, 'w' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*got;
	char		 buf[80];
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = cli_suggest(cases[i].word, cmds, 12);
		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got != NULL && strcmp(got, cases[i].want) != 0))
			fail_msg("%s: got %s, expected %s", cases[i].word,
			    got ? got : "nothing", cases[i].want ?
			    cases[i].want : "nothing");
	}
	cli_suggest_option("--imgae=busybox", opts, buf, sizeof buf);
	assert_string_equal(buf, "; did you mean '--image'?");
	cli_suggest_option("--alll", opts, buf, sizeof buf);
	assert_string_equal(buf, "; did you mean '--all'?");
	cli_suggest_option("--zzzzzz", opts, buf, sizeof buf);
	assert_string_equal(buf, "");
	cli_suggest_option("-x", opts, buf, sizeof buf);
	assert_string_equal(buf, "");
}

/* Tables pad by display width and escape what a terminal would obey. */
static void
test_table_width(void **state)
{
	static const char *rows[][3] = {
		{ "ID", "NAME", "STATE" },
		{ "1", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "queued" },
		{ "2", "caf\xc3\xa9", "running" },
		{ "3", "a\x1b[2Jb", "failed" },
		{ "4", NULL, "\xe2\x80\xae" "evil" },
	};
	struct cli_table	 t;
	char			*buf = NULL;
	size_t			 len = 0, i;
	FILE			*fp;

	display_init();
	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	cli_table_init(&t, 3);
	for (i = 0; i < 5; i++)
		cli_table_add(&t, rows[i]);
	cli_table_print(fp, &t);
	cli_table_free(&t);
	fclose(fp);
	/* The name column is 9 wide (a\x1b[2Jb escaped); 日本語 takes 6
	 * columns (9 bytes), café 4 (5 bytes): STATE lines up. */
	assert_string_equal(buf,
	    "ID  NAME       STATE\n"
	    "1   \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e     queued\n"
	    "2   caf\xc3\xa9       running\n"
	    "3   a\\x1b[2Jb  failed\n"
	    "4   -          \\u202eevil\n");
	free(buf);
}

/* A spanning row (an array in ps) is not measured past its span, and
 * its text runs to the end of the line. */
static void
test_table_span(void **state)
{
	static const char *rows[][4] = {
		{ "ID", "STATE", "DEVICE", "EXIT" },
		{ "1", "running", "w1", "-" },
		{ "17", "queued", "array of 50: 3 running, 47 queued", NULL },
		{ "2", "failed", "w2", "1" },
	};
	struct cli_table	 t;
	char			*buf = NULL;
	size_t			 len = 0;
	FILE			*fp;

	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	cli_table_init(&t, 4);
	cli_table_add(&t, rows[0]);
	cli_table_add(&t, rows[1]);
	cli_table_add_span(&t, rows[2], 2);
	cli_table_add(&t, rows[3]);
	cli_table_print(fp, &t);
	cli_table_free(&t);
	fclose(fp);
	assert_string_equal(buf,
	    "ID  STATE    DEVICE  EXIT\n"
	    "1   running  w1      -\n"
	    "17  queued   array of 50: 3 running, 47 queued\n"
	    "2   failed   w2      1\n");
	free(buf);
}

/* An array's counts in words: zeros left out, in a fixed order. */
static void
test_array_counts(void **state)
{
	struct json_object	*o;
	char			 buf[256];

	o = json_tokener_parse("{\"id\":\"17\",\"array\":{\"size\":50,"
	    "\"counts\":{\"queued\":35,\"assigned\":0,\"running\":3,"
	    "\"completed\":12,\"failed\":0,\"held\":0}}}");
	assert_non_null(o);
	assert_string_equal(cli_array_summary(o, buf, sizeof buf),
	    "array of 50: 3 running, 35 queued, 12 completed");
	json_object_put(o);
	o = json_tokener_parse("{\"array\":{\"size\":4}}");
	assert_string_equal(cli_array_summary(o, buf, sizeof buf),
	    "array of 4");
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit_ok),
		cmocka_unit_test(test_submit_bad),
		cmocka_unit_test(test_submit_help),
		cmocka_unit_test(test_input_split),
		cmocka_unit_test(test_token_parse),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_devices_csv),
		cmocka_unit_test(test_tasks_csv),
		cmocka_unit_test(test_reply_result),
		cmocka_unit_test(test_main_address),
		cmocka_unit_test(test_find_token),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_table_width),
		cmocka_unit_test(test_table_span),
		cmocka_unit_test(test_array_counts),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
