/* SPDX-License-Identifier: ISC */
/*
 * test-msg.c -- message decode, validation and encode: every fixture line
 * under tests/fixtures/protocol/{valid,invalid}, a round trip of every
 * message type built in C, the exact wording of key errors, and util.c.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <json-c/json.h>

#include "protocol.h"

#define FIXED_TIME	"2026-11-22T10:31:00Z"

#define SHA_A	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

/* Where the fixtures are. */
static const char *
fixture_root(void)
{
	const char	*s = getenv("ENCORE_SRC");

	return (s != NULL && *s != '\0' ? s : ".");
}

/* Read a whole file; strip one trailing LF (and CR). */
static char *
read_line_file(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	fclose(f);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	*len = (size_t)n;
	return (buf);
}

/* 1 if every byte of m is zero. */
static int
msg_is_zero(const struct msg *m)
{
	static const struct msg	zero;

	return (memcmp(m, &zero, sizeof zero) == 0);
}

/* Encode m, decode the line, check it equals m; returns the line. */
static char *
round_trip(const struct msg *m)
{
	struct msg		 back;
	struct proto_err	 err;
	char			*line;
	size_t			 len;

	line = msg_encode(m, &len);
	assert_non_null(line);
	assert_int_equal(strlen(line), len);
	assert_true(len > 1 && line[len - 1] == '\n');
	assert_null(memchr(line, '\n', len - 1));
	if (msg_decode(line, len - 1, &back, &err) != 0)
		fail_msg("re-decode failed: %s\nline: %s", err.message, line);
	if (!msg_equal(m, &back))
		fail_msg("round trip differs: %s", line);
	msg_free(&back);
	return (line);
}

/* Every valid fixture decodes, and encodes to a line that decodes equal. */
static void
test_fixtures_valid(void **state)
{
	struct proto_err	 err;
	struct msg		 m;
	struct dirent		*de;
	DIR			*d;
	char			 dir[4096], path[8192], *line, *out, *out2;
	size_t			 len;
	int			 n = 0;
	int			 seen[MSG__COUNT] = { 0 }, i;

	snprintf(dir, sizeof dir, "%s/tests/fixtures/protocol/valid",
	    fixture_root());
	if ((d = opendir(dir)) == NULL)
		fail_msg("no fixture directory %s (set ENCORE_SRC)", dir);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".json") == NULL)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		line = read_line_file(path, &len);
		if (msg_decode(line, len, &m, &err) != 0)
			fail_msg("%s: %s: %s", de->d_name,
			    proto_code_name(err.code), err.message);
		assert_int_equal(err.code, PROTO_OK);
		seen[m.type] = 1;
		if (m.timestamp == NULL)
			m.timestamp = xstrdup(FIXED_TIME);
		out = round_trip(&m);
		/* Encoding is deterministic: the same struct, the same line. */
		out2 = msg_encode(&m, NULL);
		assert_string_equal(out, out2);
		free(out);
		free(out2);
		msg_free(&m);
		assert_true(msg_is_zero(&m));
		free(line);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
	for (i = 1; i < MSG__COUNT; i++) {
		if (!seen[i])
			fail_msg("no valid fixture for %s",
			    msg_type_name((enum msg_type)i));
	}
	print_message("    %d valid fixtures\n", n);
}

/* Every invalid fixture fails with the code its name starts with. */
static void
test_fixtures_invalid(void **state)
{
	struct proto_err	 err;
	struct msg		 m;
	struct dirent		*de;
	DIR			*d;
	char			 dir[4096], path[8192], code[64], *line;
	const char		*sep;
	size_t			 len;
	int			 n = 0;

	snprintf(dir, sizeof dir, "%s/tests/fixtures/protocol/invalid",
	    fixture_root());
	if ((d = opendir(dir)) == NULL)
		fail_msg("no fixture directory %s (set ENCORE_SRC)", dir);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".json") == NULL)
			continue;
		if ((sep = strstr(de->d_name, "--")) == NULL ||
		    (size_t)(sep - de->d_name) >= sizeof code)
			fail_msg("%s: name must be CODE--what.json",
			    de->d_name);
		memcpy(code, de->d_name, sep - de->d_name);
		code[sep - de->d_name] = '\0';
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		line = read_line_file(path, &len);
		memset(&m, 0xa5, sizeof m);
		if (msg_decode(line, len, &m, &err) == 0)
			fail_msg("%s: decoded but should fail", de->d_name);
		if (strcmp(proto_code_name(err.code), code) != 0)
			fail_msg("%s: got %s (%s)", de->d_name,
			    proto_code_name(err.code), err.message);
		assert_true(strlen(err.message) > 10);
		assert_true(msg_is_zero(&m));
		free(line);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
	print_message("    %d invalid fixtures\n", n);
}

/* A file list of n entries. */
static struct proto_file *
fill_files(size_t n)
{
	struct proto_file	*f = xcalloc(n, sizeof *f);
	size_t			 i;

	for (i = 0; i < n; i++) {
		xasprintf(&f[i].name, "dir/file-%zu", i);
		f[i].sha256 = xstrdup(SHA_A);
		f[i].size = (int64_t)i * 9007199254740991LL / 4;
		f[i].mode = i == 0 ? 0755 : 0600;
	}
	return (f);
}

/* A task with every field set. */
static void
fill_task(struct proto_task *t, int assign)
{
	if (assign) {
		t->task_id = xstrdup("t-17");
		t->attempt = 3;
	}
	t->name = xstrdup("resize photos");
	t->type = TASK_TYPE_CONTAINER;
	t->image = xstrdup("docker.io/library/alpine:3.19");
	t->argc = 3;
	t->argv = xcalloc(3, sizeof *t->argv);
	t->argv[0] = xstrdup("sh");
	t->argv[1] = xstrdup("-c");
	t->argv[2] = xstrdup("echo \"hi\" / ünïcode\t\\");
	t->n_env = 2;
	t->env = xcalloc(2, sizeof *t->env);
	t->env[0].key = xstrdup("LANG");
	t->env[0].value = xstrdup("C.UTF-8");
	t->env[1].key = xstrdup("_EMPTY");
	t->env[1].value = xstrdup("");
	t->priority = PRIO_URGENT;
	t->timeout = 604800;
	t->retries = 100;
	t->cpus = 0.25;
	t->memory_mb = 512;
	t->pids = 64;
	t->req_arch = xstrdup("aarch64");
	t->req_platform = xstrdup("linux");
	t->n_req_labels = 1;
	t->req_labels = xcalloc(1, sizeof *t->req_labels);
	t->req_labels[0].key = xstrdup("room");
	t->req_labels[0].value = xstrdup("kitchen");
	t->req_device = xstrdup("pi-kitchen");
	t->n_inputs = 2;
	t->inputs = fill_files(2);
	t->n_outputs = 1;
	t->outputs = xcalloc(1, sizeof *t->outputs);
	t->outputs[0] = xstrdup("frames/*.png");
	t->n_checkpoints = 1;
	t->checkpoints = xcalloc(1, sizeof *t->checkpoints);
	t->checkpoints[0] = xstrdup("state/*");
	if (assign) {
		t->n_checkpoint = 1;
		t->checkpoint = fill_files(1);
		return;
	}
	t->array_start = 10;
	t->array_end = 1000;
	t->array_step = 10;
	t->array_limit = 8;
	t->n_after = 2;
	t->after = xcalloc(2, sizeof *t->after);
	t->after[0] = xstrdup("12");
	t->after[1] = xstrdup("13.4");
	t->n_after_notok = 1;
	t->after_notok = xcalloc(1, sizeof *t->after_notok);
	t->after_notok[0] = xstrdup("14");
	t->hold = 1;
}

/* A reference list of n entries. */
static struct proto_task_ref *
fill_refs(size_t n)
{
	struct proto_task_ref	*r = xcalloc(n, sizeof *r);
	size_t			 i;

	for (i = 0; i < n; i++) {
		xasprintf(&r[i].task_id, "t-%zu", i);
		r[i].attempt = (int)i + 1;
	}
	return (r);
}

/* Build a message of a type with every field given a non-default value. */
static void
build_full(struct msg *m, enum msg_type type)
{
	msg_init(m, type);
	m->sender_id = xstrdup("pi-kitchen");
	m->target_id = xstrdup("main");
	m->message_id = xstrdup("17");
	m->reply_to = xstrdup("16");
	m->timestamp = xstrdup(FIXED_TIME);
	m->protocol_version = PROTO_VERSION;

	switch (type) {
	case MSG_REGISTER:
		m->u.reg.token = xstrdup("join-token");
		m->u.reg.device_key = xstrdup("dk-1");
		m->u.reg.info.hostname = xstrdup("pi-kitchen");
		m->u.reg.info.platform = xstrdup("linux");
		m->u.reg.info.architecture = xstrdup("aarch64");
		m->u.reg.info.os = xstrdup("Debian GNU/Linux 12 (bookworm)");
		m->u.reg.info.kernel = xstrdup("6.1.0");
		m->u.reg.info.role = xstrdup("worker");
		m->u.reg.hw.cpu_cores = 4;
		m->u.reg.hw.cpu_model = xstrdup("Cortex-A72");
		m->u.reg.hw.model = xstrdup("Raspberry Pi 4");
		m->u.reg.hw.cpu_mhz = 1800.5;
		m->u.reg.hw.memory_total = 4294967296LL;
		m->u.reg.hw.disk_space = 9007199254740991LL;
		m->u.reg.hw.disk_free = 0;
		m->u.reg.hw.n_ifaces = 2;
		m->u.reg.hw.network_interfaces = xcalloc(2, sizeof (char *));
		m->u.reg.hw.network_interfaces[0] = xstrdup("eth0");
		m->u.reg.hw.network_interfaces[1] = xstrdup("wlan0");
		m->u.reg.hw.n_gpus = 1;
		m->u.reg.hw.gpus = xcalloc(1, sizeof (char *));
		m->u.reg.hw.gpus[0] = xstrdup("VideoCore VI");
		m->u.reg.n_capabilities = 2;
		m->u.reg.capabilities = xcalloc(2, sizeof (char *));
		m->u.reg.capabilities[0] = xstrdup("command");
		m->u.reg.capabilities[1] = xstrdup("container");
		m->u.reg.n_labels = 1;
		m->u.reg.labels = xcalloc(1, sizeof *m->u.reg.labels);
		m->u.reg.labels[0].key = xstrdup("room");
		m->u.reg.labels[0].value = xstrdup("kitchen");
		m->u.reg.slots = 1024;
		m->u.reg.n_running = 3;
		m->u.reg.running = fill_refs(3);
		break;
	case MSG_HEARTBEAT:
		m->u.hb.metrics.cpu_usage = 100;
		m->u.hb.metrics.memory_usage = 0;
		m->u.hb.metrics.disk_usage = 33.333333333333336;
		m->u.hb.metrics.load_average[0] = 0.1;
		m->u.hb.metrics.load_average[1] = 1e-7;
		m->u.hb.metrics.load_average[2] = 12;
		m->u.hb.metrics.uptime = 123456.75;
		m->u.hb.metrics.temperature = -12.5;
		m->u.hb.metrics.battery_percent = 0;
		m->u.hb.metrics.battery_charging = 1;
		m->u.hb.metrics.net_rx = 1;
		m->u.hb.metrics.net_tx = 2;
		m->u.hb.n_active = 2;
		m->u.hb.active = fill_refs(2);
		m->u.hb.accepting = 0;
		m->u.hb.reason = xstrdup("too hot");
		break;
	case MSG_TASK_STARTED:
	case MSG_TASK_CANCEL:
	case MSG_RESULT_ACK:
		m->u.ref.task_id = xstrdup("t-17");
		m->u.ref.attempt = 1000000;
		break;
	case MSG_TASK_OUTPUT:
		m->u.output.task_id = xstrdup("42");
		m->u.output.attempt = 2;
		m->u.output.stream = xstrdup("stderr");
		m->u.output.seq = 99;
		m->u.output.data_len = 5;
		m->u.output.data = xmalloc(6);
		memcpy(m->u.output.data, "a\0b\n\x01", 6);
		break;
	case MSG_TASK_RESULT:
		m->u.result.task_id = xstrdup("t-17");
		m->u.result.attempt = 1;
		m->u.result.status = TASK_TIMED_OUT;
		m->u.result.exit_code = 137;
		m->u.result.execution_time = 3600.125;
		m->u.result.error = xstrdup("killed after 3600 s");
		m->u.result.cpu_time = 12.5;
		m->u.result.memory_peak = 1048576;
		m->u.result.n_outputs = 3;
		m->u.result.outputs = fill_files(3);
		break;
	case MSG_FILE_STAT:
	case MSG_FILE_GET:
	case MSG_FILE_DATA:
	case MSG_FILE_ACK:
		m->u.file.sha256 = xstrdup(SHA_A);
		m->u.file.size = 9007199254740992LL;
		m->u.file.offset = type == MSG_FILE_GET ||
		    type == MSG_FILE_DATA ? 9007199254740992LL - 1048576 : 0;
		m->u.file.len = type == MSG_FILE_DATA ? 1048576 : 0;
		m->u.file.have = type == MSG_FILE_ACK ? 77 : 0;
		m->u.file.complete = type == MSG_FILE_ACK;
		if (type == MSG_FILE_ACK)
			m->u.file.error = xstrdup("disk full");
		if (type == MSG_FILE_STAT || type == MSG_FILE_GET)
			m->u.file.size = -1;
		break;
	case MSG_TASK_CHECKPOINT:
		m->u.ckpt.task_id = xstrdup("5.7");
		m->u.ckpt.attempt = 3;
		m->u.ckpt.n_files = 2;
		m->u.ckpt.files = fill_files(2);
		break;
	case MSG_BYE:
		m->u.reason = xstrdup("shutting down");
		break;
	case MSG_REGISTER_ACK:
		m->u.ack.device_id = xstrdup("pi-kitchen");
		m->u.ack.state = xstrdup("approved");
		m->u.ack.device_key = xstrdup("dk-1");
		m->u.ack.heartbeat_interval = 3600;
		break;
	case MSG_TASK_ASSIGN:
		fill_task(&m->u.task, 1);
		break;
	case MSG_SUBMIT:
		fill_task(&m->u.task, 0);
		break;
	case MSG_ERROR:
		m->u.error.code = PROTO_LINE_TOO_LONG;
		m->u.error.message = xstrdup("line over 65536 bytes");
		break;
	case MSG_AUTH:
		m->u.token = xstrdup("operator-token");
		break;
	case MSG_LIST_TASKS:
		m->u.target.all = 1;
		m->u.target.expand = 1;
		m->u.target.limit = 500;
		m->u.target.after = xstrdup("1000");
		break;
	case MSG_GET_TASK:
	case MSG_CANCEL:
	case MSG_RELEASE:
		m->u.target.task_id = xstrdup("t-1");
		break;
	case MSG_HOLD:
		m->u.target.task_id = xstrdup("17.3");
		m->u.target.reason = xstrdup("wait for the new data");
		break;
	case MSG_LOGS:
		m->u.target.task_id = xstrdup("t-1");
		m->u.target.follow = 1;
		break;
	case MSG_APPROVE:
	case MSG_REJECT:
	case MSG_DRAIN:
	case MSG_UNDRAIN:
	case MSG_REMOVE:
		m->u.target.device_id = xstrdup("pi-kitchen");
		break;
	case MSG_SUBSCRIBE:
		m->u.sub.devices = 1;
		m->u.sub.tasks = 1;
		break;
	case MSG_REPLY:
	case MSG_EVENT:
		m->u.json = json_tokener_parse("{\"ok\":true,\"devices\":"
		    "[{\"id\":\"a\",\"temp_c\":null,\"load\":[1.5,2,3]}]}");
		break;
	default:
		break;
	}
}

/* Build a message with only the required fields set. */
static void
build_minimal(struct msg *m, enum msg_type type)
{
	msg_init(m, type);
	m->timestamp = xstrdup(FIXED_TIME);
	switch (type) {
	case MSG_REGISTER:
		m->u.reg.token = xstrdup("t");
		m->u.reg.info.hostname = xstrdup("h");
		break;
	case MSG_TASK_STARTED:
	case MSG_TASK_CANCEL:
	case MSG_RESULT_ACK:
		m->u.ref.task_id = xstrdup("0");
		m->u.ref.attempt = 1;
		break;
	case MSG_TASK_OUTPUT:
		m->u.output.task_id = xstrdup("t");
		m->u.output.attempt = 1;
		m->u.output.stream = xstrdup("stdout");
		m->u.output.data = xstrdup("");
		break;
	case MSG_TASK_RESULT:
		m->u.result.task_id = xstrdup("t");
		m->u.result.attempt = 1;
		m->u.result.status = TASK_COMPLETED;
		break;
	case MSG_REGISTER_ACK:
		m->u.ack.device_id = xstrdup("d");
		m->u.ack.state = xstrdup("pending");
		m->u.ack.heartbeat_interval = 1;
		break;
	case MSG_TASK_ASSIGN:
	case MSG_SUBMIT:
		if (type == MSG_TASK_ASSIGN) {
			m->u.task.task_id = xstrdup("t");
			m->u.task.attempt = 1;
		}
		m->u.task.argc = 1;
		m->u.task.argv = xcalloc(1, sizeof (char *));
		m->u.task.argv[0] = xstrdup("true");
		break;
	case MSG_ERROR:
		m->u.error.message = xstrdup("");
		break;
	case MSG_AUTH:
		m->u.token = xstrdup("x");
		break;
	case MSG_GET_TASK:
	case MSG_CANCEL:
	case MSG_LOGS:
	case MSG_HOLD:
	case MSG_RELEASE:
		m->u.target.task_id = xstrdup("t");
		break;
	case MSG_APPROVE:
	case MSG_REJECT:
	case MSG_DRAIN:
	case MSG_UNDRAIN:
	case MSG_REMOVE:
		m->u.target.device_id = xstrdup("d");
		break;
	case MSG_SUBSCRIBE:
		m->u.sub.tasks = 1;
		break;
	case MSG_FILE_STAT:
	case MSG_FILE_GET:
	case MSG_FILE_ACK:
		m->u.file.sha256 = xstrdup(SHA_A);
		break;
	case MSG_FILE_DATA:
		m->u.file.sha256 = xstrdup(SHA_A);
		m->u.file.size = 0;
		break;
	case MSG_TASK_CHECKPOINT:
		m->u.ckpt.task_id = xstrdup("1");
		m->u.ckpt.attempt = 1;
		m->u.ckpt.n_files = 1;
		m->u.ckpt.files = fill_files(1);
		break;
	default:
		break;
	}
}

/* Every type survives encode/decode with all fields, and with few. */
static void
test_round_trip_all_types(void **state)
{
	struct msg	 m;
	char		*line;
	int		 i;

	for (i = 1; i < MSG__COUNT; i++) {
		build_full(&m, (enum msg_type)i);
		line = round_trip(&m);
		free(line);
		msg_free(&m);
		assert_true(msg_is_zero(&m));

		build_minimal(&m, (enum msg_type)i);
		line = round_trip(&m);
		free(line);
		msg_free(&m);
	}
}

/* Unknown numbers travel as null and come back unknown. */
static void
test_unknown_numbers_are_null(void **state)
{
	struct msg	 m;
	char		*line;

	build_minimal(&m, MSG_HEARTBEAT);
	assert_true(isnan(m.u.hb.metrics.cpu_usage));
	assert_int_equal(m.u.hb.metrics.battery_percent, -1);
	assert_int_equal(m.u.hb.metrics.net_rx, -1);
	assert_int_equal(m.u.hb.accepting, 1);
	line = round_trip(&m);
	assert_non_null(strstr(line, "\"cpu_usage\":null"));
	assert_non_null(strstr(line, "\"temperature\":null"));
	assert_non_null(strstr(line, "\"battery\":null"));
	assert_non_null(strstr(line, "\"load_average\":null"));
	assert_non_null(strstr(line, "\"net_rx\":null"));
	assert_non_null(strstr(line, "\"active_tasks\":[]"));
	free(line);
	msg_free(&m);

	build_minimal(&m, MSG_REGISTER);
	assert_int_equal(m.u.reg.hw.cpu_cores, -1);
	assert_int_equal(m.u.reg.slots, -1);
	assert_true(isnan(m.u.reg.hw.cpu_mhz));
	line = round_trip(&m);
	assert_non_null(strstr(line, "\"cpu_cores\":null"));
	assert_non_null(strstr(line, "\"capabilities\":[]"));
	free(line);
	msg_free(&m);

	build_minimal(&m, MSG_TASK_RESULT);
	assert_int_equal(m.u.result.exit_code, -1);
	line = round_trip(&m);
	assert_non_null(strstr(line, "\"exit_code\":null"));
	free(line);
	msg_free(&m);
}

/* Decode a line that must succeed. */
static void
decode_ok(const char *line, struct msg *m)
{
	struct proto_err	err;

	if (msg_decode(line, strlen(line), m, &err) != 0)
		fail_msg("%s: %s", line, err.message);
}

/* Decode a line that must fail with code and exactly message. */
static void
decode_fails(const char *line, enum proto_code code, const char *message)
{
	struct proto_err	err;
	struct msg		m;

	assert_int_equal(msg_decode(line, strlen(line), &m, &err), -1);
	if (err.code != code || (message != NULL &&
	    strcmp(err.message, message) != 0))
		fail_msg("%s\n  got %s: %s", line, proto_code_name(err.code),
		    err.message);
	assert_true(msg_is_zero(&m));
}

/* A NUL byte inside a line is refused. */
static void
nul_line_fails(void)
{
	static const char	 line[] = "{\"message_type\":\"bye\"\0}";
	struct proto_err	 err;
	struct msg		 m;

	assert_int_equal(msg_decode(line, sizeof line - 1, &m, &err), -1);
	assert_int_equal(err.code, PROTO_BAD_JSON);
	assert_string_equal(err.message, "the line holds a NUL byte at byte "
	    "21");
}

/* Error messages name the field and say what to send. */
static void
test_error_messages(void **state)
{
	decode_fails("{\"message_type\":\"heartbeat\",\"data\":{"
	    "\"system_metrics\":{\"cpu_usage\":\"high\"},\"active_tasks\":[]}}",
	    PROTO_BAD_FIELD, "data.system_metrics.cpu_usage: expected a "
	    "number 0..100, got \"high\"");
	decode_fails("{\"message_type\":\"register\",\"data\":{"
	    "\"device_info\":{\"hostname\":\"h\"},\"hardware_specs\":{},"
	    "\"capabilities\":[]}}", PROTO_BAD_FIELD,
	    "data.token or data.device_key is required: send the join token "
	    "on first registration, the device key after that");
	decode_fails("{\"message_type\":\"heartbeat\",\"data\":{"
	    "\"system_metrics\":{}}}", PROTO_BAD_FIELD,
	    "data.active_tasks is required: expected an array of at most "
	    "1024 {\"task_id\", \"attempt\"} objects");
	decode_fails("{\"message_type\":\"task_result\",\"data\":{"
	    "\"task_id\":\"t\",\"attempt\":1,\"status\":\"running\"}}",
	    PROTO_BAD_FIELD, "data.status: expected one of \"completed\", "
	    "\"failed\", \"timed_out\", \"cancelled\", got \"running\"");
	decode_fails("{\"message_type\":\"submit\",\"data\":{\"task\":{"
	    "\"command\":[\"a\",5]}}}", PROTO_BAD_FIELD,
	    "data.task.command[1]: expected a string of at most 4096 bytes, "
	    "got 5");
	decode_fails("{\"message_type\":\"heartbeat\",\"data\":{"
	    "\"system_metrics\":{},\"active_tasks\":[{\"task_id\":\"x\"}]}}",
	    PROTO_BAD_FIELD, "data.active_tasks[0].attempt: expected an "
	    "integer 1..1000000, got nothing");
	decode_fails("{\"message_type\":\"heartbeat\",\"data\":{"
	    "\"system_metrics\":{},\"active_tasks\":[5]}}", PROTO_BAD_FIELD,
	    "data.active_tasks[0]: expected an object with task_id and "
	    "attempt, got 5");
	/* A list of files names the item and the member that is wrong. */
	decode_fails("{\"message_type\":\"submit\",\"data\":{\"task\":{"
	    "\"command\":[\"a\"],\"inputs\":[{\"name\":\"a\",\"sha256\":"
	    "\"" SHA_A "\",\"size\":1},{\"name\":\"b\",\"sha256\":\"x\","
	    "\"size\":1}]}}}", PROTO_BAD_FIELD, "data.task.inputs[1].sha256: "
	    "expected 64 lowercase hex digits, got \"x\"");
	decode_fails("{\"message_type\":\"submit\",\"data\":{\"task\":{"
	    "\"command\":[\"a\"],\"inputs\":[{\"name\":\"a\",\"sha256\":"
	    "\"" SHA_A "\",\"size\":1},{\"name\":\"a\",\"sha256\":\""
	    SHA_A "\",\"size\":2}]}}}", PROTO_BAD_FIELD,
	    "data.task.inputs[1].name: expected a name not given twice, got "
	    "\"a\"");
	decode_fails("{\"message_type\":\"submit\",\"data\":{\"task\":{"
	    "\"command\":[\"a\"],\"inputs\":[{\"name\":\"/etc/passwd\","
	    "\"sha256\":\"" SHA_A "\",\"size\":1}]}}}", PROTO_BAD_FIELD,
	    "data.task.inputs[0].name: the name is absolute (names are "
	    "relative to the task's working directory), got \"/etc/passwd\"");
	decode_fails("{\"message_type\":\"submit\",\"data\":{\"task\":{"
	    "\"command\":[\"a\"],\"inputs\":[{\"name\":\"a\",\"sha256\":"
	    "\"" SHA_A "\",\"size\":1,\"mode\":4096}]}}}", PROTO_BAD_FIELD,
	    "data.task.inputs[0].mode: expected permission bits, an integer "
	    "0..4095 (e.g. 420 for 0644), got 4096");
	/* An object of strings names the key that is wrong. */
	decode_fails("{\"message_type\":\"submit\",\"data\":{\"task\":{"
	    "\"command\":[\"a\"],\"env\":{\"LANG\":\"C\",\"1X\":\"y\"}}}}",
	    PROTO_BAD_FIELD, "data.task.env.1X: not a valid variable name: "
	    "use letters, digits and _, not starting with a digit");
	decode_fails("{\"message_type\":\"submit\",\"data\":{\"task\":{"
	    "\"command\":[\"a\"],\"env\":{\"\":\"y\"}}}}", PROTO_BAD_FIELD,
	    "data.task.env.: keys must be 1..128 bytes");
	decode_fails("{\"message_type\":\"submit\",\"data\":{\"task\":{"
	    "\"command\":[\"a\"],\"requirements\":{\"labels\":{\"room\":5}}"
	    "}}}", PROTO_BAD_FIELD, "data.task.requirements.labels.room: "
	    "expected a string of at most 128 bytes, got 5");
	decode_fails("{\"message_type\":\"frobnicate\"}", PROTO_UNKNOWN_TYPE,
	    "message_type \"frobnicate\" is not a message this side knows "
	    "(see PROTOCOL.md)");
	decode_fails("{\"message_type\":\"bye\"} x", PROTO_BAD_JSON, NULL);
	decode_fails("", PROTO_BAD_JSON, "empty line: expected a JSON object");
	nul_line_fails();
	/* A long bad value is clipped, at a UTF-8 boundary. */
	decode_fails("{\"message_type\":\"subscribe\",\"data\":{\"topics\":"
	    "[\"ééééééééééééééééééééééééééééééé\"]}}", PROTO_BAD_FIELD,
	    "data.topics[0]: expected a topic, \"devices\" or \"tasks\", got "
	    "\"ééééééééééééééééééééé...");
}

/* The depth limit sits at PROTO_DEPTH_MAX. */
static void
test_depth_limit(void **state)
{
	struct proto_err	 err;
	struct msg		 m;
	char			 line[1024];
	int			 depth, i, ok;
	size_t			 o;

	for (depth = 2; depth <= PROTO_DEPTH_MAX + 2; depth++) {
		/* root + data + (depth - 2) more objects */
		o = (size_t)snprintf(line, sizeof line,
		    "{\"message_type\":\"event\",\"data\":");
		for (i = 0; i < depth - 2; i++)
			o += snprintf(line + o, sizeof line - o, "{\"a\":");
		o += snprintf(line + o, sizeof line - o, "{}");
		for (i = 0; i < depth - 2; i++)
			o += snprintf(line + o, sizeof line - o, "}");
		o += snprintf(line + o, sizeof line - o, "}");
		ok = msg_decode(line, o, &m, &err) == 0;
		if (depth <= PROTO_DEPTH_MAX)
			assert_true(ok);
		else {
			assert_false(ok);
			assert_int_equal(err.code, PROTO_BAD_JSON);
		}
		msg_free(&m);
	}
}

/* Ids may arrive as integers and are kept as their text. */
static void
test_integer_ids(void **state)
{
	struct msg	m;

	decode_ok("{\"message_type\":\"task_started\",\"message_id\":42,"
	    "\"reply_to\":7,\"data\":{\"task_id\":123,\"attempt\":1}}", &m);
	assert_string_equal(m.message_id, "42");
	assert_string_equal(m.reply_to, "7");
	assert_string_equal(m.u.ref.task_id, "123");
	msg_free(&m);
}

/* task_type defaults from image; priority defaults to normal. */
static void
test_task_defaults(void **state)
{
	struct msg	m;

	decode_ok("{\"message_type\":\"submit\",\"data\":{\"task\":{"
	    "\"image\":\"alpine\",\"command\":[\"true\"]}}}", &m);
	assert_int_equal(m.u.task.type, TASK_TYPE_CONTAINER);
	assert_int_equal(m.u.task.priority, PRIO_NORMAL);
	assert_int_equal(m.u.task.timeout, 0);
	assert_null(m.u.task.task_id);
	msg_free(&m);

	decode_ok("{\"message_type\":\"submit\",\"data\":{\"task\":{"
	    "\"command\":[\"true\"],\"priority\":\"low\","
	    "\"env\":{\"A_1\":\"x=y\"}}}}", &m);
	assert_int_equal(m.u.task.type, TASK_TYPE_COMMAND);
	assert_int_equal(m.u.task.priority, PRIO_LOW);
	assert_int_equal(m.u.task.n_env, 1);
	assert_string_equal(m.u.task.env[0].key, "A_1");
	assert_string_equal(m.u.task.env[0].value, "x=y");
	msg_free(&m);

	decode_ok("{\"message_type\":\"list_devices\"}", &m);
	assert_int_equal(m.type, MSG_LIST_DEVICES);
	msg_free(&m);

	decode_ok("{\"message_type\":\"logs\",\"data\":{\"task_id\":\"t\"}}",
	    &m);
	assert_int_equal(m.u.target.follow, 0);
	msg_free(&m);
}

/* task_output data keeps embedded NULs and its length. */
static void
test_output_bytes(void **state)
{
	struct msg	m;

	decode_ok("{\"message_type\":\"task_output\",\"data\":{\"task_id\":"
	    "\"t\",\"attempt\":1,\"stream\":\"stdout\",\"seq\":0,"
	    "\"data\":\"a\\u0000b\"}}", &m);
	assert_int_equal(m.u.output.data_len, 3);
	assert_memory_equal(m.u.output.data, "a\0b", 4);
	msg_free(&m);
}

/* msg_write_error and msg_write_reply_error write decodable lines. */
static void
test_write_errors(void **state)
{
	struct evbuffer		*evb = evbuffer_new();
	struct json_object	*e, *v;
	struct msg		 m;
	char			*line;
	size_t			 len;

	assert_int_equal(msg_write_error(evb, "5", PROTO_LINE_TOO_LONG,
	    "line over 65536 bytes"), 0);
	line = evbuffer_readln(evb, &len, EVBUFFER_EOL_LF);
	assert_non_null(line);
	decode_ok(line, &m);
	assert_int_equal(m.type, MSG_ERROR);
	assert_string_equal(m.reply_to, "5");
	assert_int_equal(m.u.error.code, PROTO_LINE_TOO_LONG);
	assert_string_equal(m.u.error.message, "line over 65536 bytes");
	assert_non_null(strstr(line, "\"code\":\"line_too_long\""));
	msg_free(&m);
	free(line);

	assert_int_equal(msg_write_reply_error(evb, NULL, PROTO_NOT_FOUND,
	    "no task t-9"), 0);
	line = evbuffer_readln(evb, &len, EVBUFFER_EOL_LF);
	decode_ok(line, &m);
	assert_int_equal(m.type, MSG_REPLY);
	assert_null(m.reply_to);
	assert_true(json_object_object_get_ex(m.u.json, "ok", &v));
	assert_false(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(m.u.json, "error", &e));
	assert_true(json_object_object_get_ex(e, "code", &v));
	assert_string_equal(json_object_get_string(v), "not_found");
	assert_true(json_object_object_get_ex(e, "message", &v));
	assert_string_equal(json_object_get_string(v), "no task t-9");
	msg_free(&m);
	free(line);
	assert_int_equal(evbuffer_get_length(evb), 0);
	evbuffer_free(evb);
}

/* Type names and flags come from the table. */
static void
test_type_table(void **state)
{
	int	i;

	for (i = 1; i < MSG__COUNT; i++) {
		assert_int_equal(msg_type_from_name(
		    msg_type_name((enum msg_type)i)), i);
		assert_true(msg_type_flags((enum msg_type)i) != 0);
	}
	assert_int_equal(msg_type_from_name("nope"), MSG_UNKNOWN);
	assert_int_equal(msg_type_from_name(NULL), MSG_UNKNOWN);
	assert_int_equal(msg_type_flags(MSG_HEARTBEAT), MSG_F_FROM_WORKER);
	assert_int_equal(msg_type_flags(MSG_SUBMIT), MSG_F_FROM_OPERATOR);
	assert_int_equal(msg_type_flags(MSG_TASK_ASSIGN), MSG_F_FROM_MAIN);
}

/* Codes, priorities, statuses and task types round trip by name. */
static void
test_names(void **state)
{
	int	i;

	for (i = 0; i < PROTO__COUNT; i++) {
		assert_int_equal(proto_code_from_name(
		    proto_code_name((enum proto_code)i)), i);
	}
	assert_string_equal(proto_code_name(PROTO_BAD_FIELD), "bad_field");
	assert_int_equal(proto_code_from_name("what"), PROTO_INTERNAL);
	assert_int_equal(proto_code_from_name(NULL), PROTO_INTERNAL);
	for (i = PRIO_LOW; i <= PRIO_URGENT; i++) {
		assert_int_equal(proto_priority_from_name(
		    proto_priority_name((enum proto_priority)i)), i);
	}
	assert_int_equal(proto_priority_from_name("critical"), -1);
	for (i = TASK_QUEUED; i <= TASK_CANCELLED; i++) {
		assert_int_equal(proto_task_status_from_name(
		    proto_task_status_name((enum proto_task_status)i)), i);
	}
	assert_string_equal(proto_task_status_name(TASK_TIMED_OUT),
	    "timed_out");
	assert_int_equal(proto_task_status_from_name("done"), -1);
	assert_string_equal(proto_task_type_name(TASK_TYPE_CONTAINER),
	    "container");
	assert_int_equal(proto_task_type_from_name("command"),
	    TASK_TYPE_COMMAND);
	assert_int_equal(proto_task_type_from_name("vm"), -1);
}

/* Token comparison. */
static void
test_token_equal(void **state)
{
	assert_true(proto_token_equal("secret", "secret"));
	assert_true(proto_token_equal("", ""));
	assert_false(proto_token_equal("secret", "secreT"));
	assert_false(proto_token_equal("secret", "secret2"));
	assert_false(proto_token_equal("secret2", "secret"));
	assert_false(proto_token_equal("", "x"));
	assert_false(proto_token_equal(NULL, "x"));
	assert_false(proto_token_equal(NULL, NULL));
}

/* Times are ISO 8601 UTC. */
static void
test_times(void **state)
{
	char	buf[32];

	assert_string_equal(proto_format_time(0, buf, sizeof buf), "");
	assert_string_equal(proto_format_time(1795343460, buf, sizeof buf),
	    "2026-11-22T10:31:00Z");
	proto_timestamp(buf, sizeof buf);
	assert_int_equal(strlen(buf), 20);
	assert_int_equal(buf[19], 'Z');
}

/* One host:port case. */
static void
hostport(const char *s, const char *def, const char *host, const char *port)
{
	char	*h, *p, *cause = NULL;
	int	 r;

	r = proto_parse_hostport(s, def, &h, &p, &cause);
	if (host == NULL) {
		if (r != -1)
			fail_msg("%s: accepted", s);
		assert_non_null(cause);
		assert_null(h);
		assert_null(p);
		free(cause);
		return;
	}
	if (r != 0)
		fail_msg("%s: %s", s, cause);
	assert_string_equal(h, host);
	assert_string_equal(p, port);
	free(h);
	free(p);
}

/* host:port parsing. */
static void
test_hostport(void **state)
{
	hostport("pi.local:7070", "1", "pi.local", "7070");
	hostport("pi.local", "7070", "pi.local", "7070");
	hostport("10.0.0.1:1", NULL, "10.0.0.1", "1");
	hostport("[::1]:65535", NULL, "::1", "65535");
	hostport("[fe80::1%eth0]", "7070", "fe80::1%eth0", "7070");
	hostport("::1", "7070", "::1", "7070");
	hostport("host:0", NULL, NULL, NULL);
	hostport("host:65536", NULL, NULL, NULL);
	hostport("host:70a", NULL, NULL, NULL);
	hostport("host:", NULL, NULL, NULL);
	hostport("host:+80", NULL, NULL, NULL);
	hostport("host:000080", NULL, NULL, NULL);
	hostport("host", NULL, NULL, NULL);
	hostport(":7070", NULL, NULL, NULL);
	hostport("", "7070", NULL, NULL);
	hostport("[::1", "7070", NULL, NULL);
	hostport("[::1]x", "7070", NULL, NULL);
	hostport("[]:80", NULL, NULL, NULL);
}

/* proto_err_set formats and truncates safely. */
static void
test_err_set(void **state)
{
	struct proto_err	err;
	char			big[2 * PROTO_TEXT_MAX];

	proto_err_set(&err, PROTO_BUSY, "queue full (%d)", 5);
	assert_int_equal(err.code, PROTO_BUSY);
	assert_string_equal(err.message, "queue full (5)");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	proto_err_set(&err, PROTO_INTERNAL, "%s", big);
	assert_int_equal(strlen(err.message), PROTO_TEXT_MAX - 1);
	proto_err_set(NULL, PROTO_INTERNAL, "ignored");
}

/* Run the message tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_valid),
		cmocka_unit_test(test_fixtures_invalid),
		cmocka_unit_test(test_round_trip_all_types),
		cmocka_unit_test(test_unknown_numbers_are_null),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_integer_ids),
		cmocka_unit_test(test_task_defaults),
		cmocka_unit_test(test_output_bytes),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_type_table),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_token_equal),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_err_set),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
