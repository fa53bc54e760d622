/* SPDX-License-Identifier: ISC */
/*
 * cli-devices.c -- the CLI's device commands: devices, approve, reject,
 * drain, undrain, remove, and the cluster summary (status).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

/* The device states the SPEC names; anything else shows as empty. */
static const char *cli_device_states[] = {
	"online", "busy", "paused", "offline", "pending", "draining", NULL
};

/* A device's state if it is one we know, else NULL. */
static const char *
cli_device_state(struct json_object *dev)
{
	const char	*s = client_json_str(dev, "state");
	size_t		 i;

	if (s == NULL)
		return (NULL);
	for (i = 0; cli_device_states[i] != NULL; i++) {
		if (strcmp(s, cli_device_states[i]) == 0)
			return (s);
	}
	return (NULL);
}

/* First element of a member array as a double (load1). */
static double
cli_first_double(struct json_object *o, const char *key)
{
	struct json_object	*a, *v;

	a = client_json_get(o, key);
	if (a == NULL || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) == 0)
		return (NAN);
	v = json_object_array_get_idx(a, 0);
	if (v == NULL || !(json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double)))
		return (NAN);
	return (json_object_get_double(v));
}

/* Print devices as CSV (the columns of the text export, protocol/PROTOCOL.md). */
void
cli_devices_csv(FILE *f, struct json_object *devices)
{
	struct json_object	*dev;
	size_t			 i, n;
	char			 buf[64];
	double			 mem, load1;

	fputs("id,hostname,state,arch,platform,cores,mem_mb,cpu_pct,mem_pct,"
	    "load1,temp_c,battery_pct,running,slots,last_seen_s", f);
	cli_csv_end(f);
	n = devices != NULL ? json_object_array_length(devices) : 0;
	for (i = 0; i < n; i++) {
		dev = json_object_array_get_idx(devices, i);
		cli_csv_field(f, client_json_str(dev, "id"));
		fputc(',', f);
		cli_csv_field(f, client_json_str(dev, "hostname"));
		fputc(',', f);
		cli_csv_field(f, cli_device_state(dev));
		fputc(',', f);
		cli_csv_field(f, client_json_str(dev, "arch"));
		fputc(',', f);
		cli_csv_field(f, client_json_str(dev, "platform"));
		fputc(',', f);
		cli_csv_field(f, cli_fmt_int(dev, "cores", buf, sizeof buf));
		fputc(',', f);
		mem = client_json_double(dev, "mem_total");
		if (isnan(mem) || mem < 0)
			buf[0] = '\0';
		else
			snprintf(buf, sizeof buf, "%.0f", floor(mem / 1048576));
		cli_csv_field(f, buf);
		fputc(',', f);
		cli_csv_field(f, cli_fmt_double(dev, "cpu_pct", 1, buf,
		    sizeof buf));
		fputc(',', f);
		cli_csv_field(f, cli_fmt_double(dev, "mem_pct", 1, buf,
		    sizeof buf));
		fputc(',', f);
		load1 = cli_first_double(dev, "load");
		if (isnan(load1))
			buf[0] = '\0';
		else
			snprintf(buf, sizeof buf, "%.2f", load1);
		cli_csv_field(f, buf);
		fputc(',', f);
		cli_csv_field(f, cli_fmt_double(dev, "temp_c", 1, buf,
		    sizeof buf));
		fputc(',', f);
		cli_csv_field(f, cli_fmt_int(dev, "battery_pct", buf,
		    sizeof buf));
		fputc(',', f);
		cli_csv_field(f, cli_fmt_int(dev, "running", buf, sizeof buf));
		fputc(',', f);
		cli_csv_field(f, cli_fmt_int(dev, "slots", buf, sizeof buf));
		fputc(',', f);
		cli_csv_field(f, cli_fmt_int(dev, "last_seen_s", buf,
		    sizeof buf));
		cli_csv_end(f);
	}
}

/* Print devices as a table for people. */
static void
cli_devices_table(FILE *f, struct json_object *devices)
{
	static const char *head[] = { "ID", "HOSTNAME", "STATE", "ARCH",
	    "PLATFORM", "CORES", "MEM", "CPU%", "MEM%", "LOAD", "TEMP", "BATT",
	    "TASKS", "SEEN" };
	struct cli_table	 t;
	struct json_object	*dev;
	size_t			 i, n;
	char			 cores[16], mem[16], cpu[16], memp[16];
	char			 load[16], temp[16], batt[16], tasks[40];
	char			 seen[32], run[16], slots[16], st[160];
	const char		*row[14], *state, *reason;
	double			 v;
	int64_t			 b;

	cli_table_init(&t, 14);
	cli_table_add(&t, head);
	n = devices != NULL ? json_object_array_length(devices) : 0;
	for (i = 0; i < n; i++) {
		dev = json_object_array_get_idx(devices, i);
		state = client_json_str(dev, "state");
		reason = client_json_str(dev, "reason");
		if (state != NULL && reason != NULL && *reason != '\0') {
			/* Why a device declines work: "paused (battery)". */
			snprintf(st, sizeof st, "%s (%.100s)", state, reason);
			state = st;
		}
		cli_fmt_int(dev, "cores", cores, sizeof cores);
		cli_fmt_bytes(client_json_double(dev, "mem_total"), mem,
		    sizeof mem);
		cli_fmt_double(dev, "cpu_pct", 0, cpu, sizeof cpu);
		cli_fmt_double(dev, "mem_pct", 0, memp, sizeof memp);
		v = cli_first_double(dev, "load");
		if (isnan(v))
			load[0] = '\0';
		else
			snprintf(load, sizeof load, "%.2f", v);
		v = client_json_double(dev, "temp_c");
		if (isnan(v))
			temp[0] = '\0';
		else
			snprintf(temp, sizeof temp, "%.0fC", v);
		if (client_json_int(dev, "battery_pct", &b) != 0)
			batt[0] = '\0';
		else {
			snprintf(batt, sizeof batt, "%lld%%%s", (long long)b,
			    client_json_bool(dev, "charging", 0) ? "+" : "");
		}
		cli_fmt_int(dev, "running", run, sizeof run);
		cli_fmt_int(dev, "slots", slots, sizeof slots);
		snprintf(tasks, sizeof tasks, "%s/%s", *run ? run : "0",
		    *slots ? slots : "?");
		if (client_json_int(dev, "last_seen_s", &b) != 0)
			seen[0] = '\0';
		else
			snprintf(seen, sizeof seen, "%llds ago", (long long)b);

		row[0] = client_json_str(dev, "id");
		row[1] = client_json_str(dev, "hostname");
		row[2] = state;
		row[3] = client_json_str(dev, "arch");
		row[4] = client_json_str(dev, "platform");
		row[5] = cores;
		row[6] = mem;
		row[7] = cpu;
		row[8] = memp;
		row[9] = load;
		row[10] = temp;
		row[11] = batt;
		row[12] = tasks;
		row[13] = seen;
		cli_table_add(&t, row);
	}
	cli_table_print(f, &t);
	cli_table_free(&t);
}

/* encore devices [--csv] */
int
cli_devices_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	struct json_object	*data, *devices;
	struct msg		 m;
	struct cli_flags	 flags;
	int			 rc;

	if ((rc = cli_parse_flags(cmd, argc, argv, CLI_OPT_CSV, &flags, 0,
	    NULL)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	client_msg_init(&m, MSG_LIST_DEVICES, &ctx->client.next_id);
	rc = cli_call(ctx, &m, &data, CLI_ABOUT_NONE);
	msg_free(&m);
	if (rc != 0)
		return (rc);
	devices = client_json_get(data, "devices");
	if (devices != NULL && !json_object_is_type(devices, json_type_array))
		devices = NULL;
	if (flags.set & CLI_OPT_CSV)
		cli_devices_csv(stdout, devices);
	else
		cli_devices_table(stdout, devices);
	json_object_put(data);
	return (CLI_EXIT_OK);
}

/* What each admin command did, for its confirmation line. */
static const char *
cli_admin_done(enum msg_type type)
{
	switch (type) {
	case MSG_APPROVE:
		return ("approved");
	case MSG_REJECT:
		return ("rejected");
	case MSG_DRAIN:
		return ("drain set");
	case MSG_UNDRAIN:
		return ("drain cleared");
	case MSG_REMOVE:
		return ("removed");
	default:
		return ("done");
	}
}

/* encore approve|reject|drain|undrain|remove ID */
int
cli_device_admin_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx,
    int argc, char **argv)
{
	struct json_object	*data, *dev;
	struct msg		 m;
	enum msg_type		 type;
	const char		*state, *id;
	char			**ops, *shown, *st;
	struct cli_flags	 flags;
	int			 rc;

	if ((rc = cli_parse_flags(cmd, argc, argv, 0, &flags, 1, &ops)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	id = ops[0];
	if ((rc = cli_check_id(cmd, "device ID", id)) != 0)
		return (rc);
	type = msg_type_from_name(cmd->name);
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	client_msg_init(&m, type, &ctx->client.next_id);
	m.u.target.device_id = xstrdup(id);
	rc = cli_call(ctx, &m, &data, CLI_ABOUT_DEVICE);
	msg_free(&m);
	if (rc != 0)
		return (rc);
	dev = client_json_get(data, "device");
	state = client_json_str(dev, "state");
	shown = display_escape(id);
	if (type == MSG_REMOVE || state == NULL)
		printf("%s: %s\n", shown, cli_admin_done(type));
	else {
		st = display_escape(state);
		printf("%s: %s (now %s)\n", shown, cli_admin_done(type), st);
		free(st);
	}
	free(shown);
	json_object_put(data);
	return (CLI_EXIT_OK);
}

/* Print one "key: value" line of status, escaped. */
static void
cli_status_line(const char *key, const char *value)
{
	char	*k = display_escape(key), *v = display_escape(value);

	printf("%s: %s\n", k, v);
	free(k);
	free(v);
}

/* encore status */
int
cli_status_exec(const struct cli_cmd *cmd, struct cli_ctx *ctx, int argc,
    char **argv)
{
	static const char *keys[] = { "devices_total", "devices_online",
	    "devices_busy", "devices_paused", "devices_pending",
	    "devices_offline", "devices_draining", "tasks_queued",
	    "tasks_running", "tasks_completed", "tasks_failed",
	    "tasks_cancelled", "tasks_timed_out", "uptime_s", "version",
	    NULL };
	struct json_object	*data, *st, *v;
	struct msg		 m;
	struct json_object_iterator it, end;
	const char		*key, *s;
	size_t			 i;
	struct cli_flags	 flags;
	int			 rc, known;

	if ((rc = cli_parse_flags(cmd, argc, argv, 0, &flags, 0, NULL)) != 0)
		return (rc < 0 ? CLI_EXIT_OK : rc);
	if ((rc = cli_session(ctx)) != 0)
		return (rc);
	client_msg_init(&m, MSG_STATUS, &ctx->client.next_id);
	rc = cli_call(ctx, &m, &data, CLI_ABOUT_NONE);
	msg_free(&m);
	if (rc != 0)
		return (rc);
	st = client_json_get(data, "status");
	if (st == NULL || !json_object_is_type(st, json_type_object)) {
		json_object_put(data);
		fprintf(stderr, "encore: the main node's status reply has no "
		    "status; use encore and encore-main of the same version\n");
		return (CLI_EXIT_REMOTE);
	}
	/* The documented keys in their order, then any others. */
	for (i = 0; keys[i] != NULL; i++) {
		if ((s = client_json_str(st, keys[i])) != NULL)
			cli_status_line(keys[i], s);
	}
	it = json_object_iter_begin(st);
	end = json_object_iter_end(st);
	for (; !json_object_iter_equal(&it, &end);
	    json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		v = json_object_iter_peek_value(&it);
		known = 0;
		for (i = 0; keys[i] != NULL; i++) {
			if (strcmp(keys[i], key) == 0)
				known = 1;
		}
		if (known || v == NULL)
			continue;
		cli_status_line(key, json_object_is_type(v,
		    json_type_string) ? json_object_get_string(v) :
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	}
	json_object_put(data);
	return (CLI_EXIT_OK);
}
