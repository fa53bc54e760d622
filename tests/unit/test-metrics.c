/* SPDX-License-Identifier: ISC */
/*
 * test-metrics.c -- main-node/metrics.c: label values from peers are
 * escaped (and made UTF-8), the counters and the pass histogram add up,
 * and Prometheus's own promtool accepts the whole exposition.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "../../main-node/main.h"

static struct server	server;
/* The tasks by state the caller hands in (task_counts in the main node). */
static int64_t		tasks[TASK__COUNT] = {
	[TASK_QUEUED] = 3, [TASK_RUNNING] = 2
};

/* The exposition as a C string; the caller frees it. */
static char *
exposition(void)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 len;
	char		*s;

	metrics_write(&server, b, tasks);
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	assert_non_null(s);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	return (s);
}

/* Devices with the worst strings a peer may send as a hostname. */
static int
setup(void **state)
{
	struct device	*d;

	(void)state;
	registry_init();
	server.started = now_mono();
	d = registry_add("w1");
	d->approved = 1;
	d->online = 1;
	d->have_metrics = 1;
	d->slots = 2;
	d->running = 1;
	d->info.hostname = strdup("evil\"host\\\nname\x01\xff\xc3(");
	d->info.architecture = strdup("aarch64");
	d->info.platform = strdup("android");
	d->metrics.cpu_usage = 42.5;
	d->metrics.memory_usage = 10;
	d->metrics.disk_usage = NAN;
	d->metrics.temperature = 51.25;
	d->metrics.battery_percent = 80;
	d->metrics.load_average[0] = 0.5;
	d = registry_add("w2");		/* pending, never heard from */
	d->metrics.cpu_usage = NAN;
	d->metrics.battery_percent = -1;
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	registry_free();
	return (0);
}

static void
test_labels_escaped(void **state)
{
	char	*s;

	(void)state;
	s = exposition();
	assert_non_null(strstr(s, "encore_device_info{device=\"w1\","
	    "hostname=\"evil\\\"host\\\\\\nname\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd(\",arch=\"aarch64\",platform=\"android\"} 1\n"));
	assert_non_null(strstr(s, "encore_device_up{device=\"w1\"} 1\n"));
	assert_non_null(strstr(s, "encore_device_up{device=\"w2\"} 0\n"));
	assert_non_null(strstr(s, "encore_device_state{device=\"w2\","
	    "state=\"pending\"} 1\n"));
	assert_non_null(strstr(s, "encore_device_cpu_percent{device=\"w1\"}"
	    " 42.5\n"));
	assert_non_null(strstr(s, "encore_device_temperature_celsius"
	    "{device=\"w1\"} 51.25\n"));
	assert_non_null(strstr(s, "encore_device_battery_percent"
	    "{device=\"w1\"} 80\n"));
	/* Unknown values are left out, not written as NaN. */
	assert_null(strstr(s, "NaN"));
	assert_null(strstr(s, "encore_device_cpu_percent{device=\"w2\"}"));
	assert_null(strstr(s, "encore_device_disk_percent{device=\"w1\"}"));
	free(s);
}

static void
test_counters(void **state)
{
	char	*s;

	(void)state;
	metrics_task_finished(TASK_COMPLETED);
	metrics_task_finished(TASK_COMPLETED);
	metrics_task_finished(TASK_CANCELLED);
	metrics_task_finished((enum proto_task_status)99);
	metrics_pass_time(0.0003);
	metrics_pass_time(0.02);
	metrics_pass_time(5);
	metrics_file_bytes_sent(1000);
	metrics_file_bytes_received(7);
	s = exposition();
	assert_non_null(strstr(s, "# TYPE encore_tasks_finished_total "
	    "counter\n"));
	assert_non_null(strstr(s, "encore_tasks_finished_total"
	    "{state=\"completed\"} 2\n"));
	assert_non_null(strstr(s, "encore_tasks_finished_total"
	    "{state=\"cancelled\"} 1\n"));
	assert_non_null(strstr(s, "encore_tasks{state=\"held\"} 0\n"));
	assert_non_null(strstr(s, "encore_tasks{state=\"queued\"} 3\n"));
	assert_non_null(strstr(s, "encore_tasks{state=\"running\"} 2\n"));
	assert_non_null(strstr(s, "encore_scheduler_pass_seconds_bucket"
	    "{le=\"0.00025\"} 0\n"));
	assert_non_null(strstr(s, "encore_scheduler_pass_seconds_bucket"
	    "{le=\"0.0005\"} 1\n"));
	assert_non_null(strstr(s, "encore_scheduler_pass_seconds_bucket"
	    "{le=\"0.025\"} 2\n"));
	assert_non_null(strstr(s, "encore_scheduler_pass_seconds_bucket"
	    "{le=\"1\"} 2\n"));
	assert_non_null(strstr(s, "encore_scheduler_pass_seconds_bucket"
	    "{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(s, "encore_scheduler_pass_seconds_count 3\n"));
	assert_non_null(strstr(s, "encore_file_bytes_sent_total 1000\n"));
	assert_non_null(strstr(s, "encore_file_bytes_received_total 7\n"));
	assert_non_null(strstr(s, "encore_queue_depth{priority=\"low\"} 0\n"));
	free(s);
}

/* promtool (Debian's prometheus package) reads it without a complaint. */
static void
test_promtool(void **state)
{
	char	 path[] = "/tmp/encore-metrics-XXXXXX", cmd[256], out[4096];
	char	*s;
	FILE	*f, *p;
	size_t	 n;
	int	 fd, rc;

	(void)state;
	if (access("/usr/bin/promtool", X_OK) != 0) {
		print_message("skip: /usr/bin/promtool is not installed "
		    "(Debian's prometheus; make test installs it)\n");
		skip();
	}
	s = exposition();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
	free(s);
	snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s 2>&1",
	    path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	rc = pclose(p);
	unlink(path);
	if (rc != 0 || n != 0)
		print_error("promtool: %s\n", out);
	assert_int_equal(rc, 0);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels_escaped),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_promtool),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
