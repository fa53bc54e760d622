/* SPDX-License-Identifier: ISC */
/*
 * test-worker-executor.c -- the worker's executor on a real event loop:
 * helpers still running when the executor stops (their requests are
 * freed, so a worker stopping mid `podman rm` leaks nothing: run under
 * the sanitizer build, `make asan-unit`); and the spool's run journal,
 * which keeps only the tasks still open when it is compacted.
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

#include <cmocka.h>
#include <event2/event.h>

#include "protocol.h"
#include "../../worker-node/worker.h"

/* worker-node.c is not in libworker.a: its globals live here, and the
 * functions of it the linked modules refer to. */
struct worker_conf	 wconf;
struct event_base	*worker_base;
int			 worker_exiting;

void
worker_fill_register(struct msg *m)
{
	msg_init(m, MSG_REGISTER);
}

void
worker_stop(int code, const char *fmt, ...)
{
}

/* A temp script that sleeps, standing in for a slow container runtime. */
static char *
slow_runtime(void)
{
	char	*path = xstrdup("/tmp/encore-test-runtime.XXXXXX");
	FILE	*f;
	int	 fd;

	if ((fd = mkstemp(path)) == -1)
		fail_msg("mkstemp");
	if ((f = fdopen(fd, "w")) == NULL)
		fail_msg("fdopen");
	fprintf(f, "#!/bin/sh\nexec sleep 1\n");
	fclose(f);
	chmod(path, 0700);
	return (path);
}

static void
test_helper_pending_at_stop(void **state)
{
	char	*rt = slow_runtime();

	worker_base = event_base_new();
	executor_start();
	/* `RT kill NAME` is still running when the executor stops. */
	exec_container_kill(rt, "encore-test-x");
	executor_stop();
	event_base_free(worker_base);
	worker_base = NULL;
	unlink(rt);
	free(rt);
}

/* Lines of a file that start with prefix. */
static int
count_lines(const char *path, const char *prefix)
{
	FILE	*f;
	char	 line[8192];
	int	 n = 0;

	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL)
		n += strncmp(line, prefix, strlen(prefix)) == 0;
	fclose(f);
	return (n);
}

static void
test_journal_compacts(void **state)
{
	char	 dir[] = "/tmp/encore-test-spool.XXXXXX", *journal, id[32];
	struct stat st;
	int	 i;

	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp");
	wconf.state_dir = dir;
	wconf.id = (char *)"t";
	worker_base = event_base_new();
	spool_start();
	xasprintf(&journal, "%s/run/journal", dir);
	/* 20000 tasks start and end, three stay open: the journal passes
	 * its cap (1 MiB) and is rewritten with the three only. */
	for (i = 0; i < 20000; i++) {
		snprintf(id, sizeof id, "task-%d", i);
		spool_mark(id, 1, 100000 + i, NULL, "/sys/fs/cgroup/x",
		    "/var/lib/encore/worker/work/task-1");
		if (i != 7 && i != 2500 && i != 19999)
			spool_unmark(id, 1);
	}
	if (stat(journal, &st) != 0)
		fail_msg("no journal");
	assert_true(st.st_size < 1024 * 1024);
	/* Compacted (open ones first), then appended to. */
	assert_true(count_lines(journal, "+ task-7-1\t") == 1);
	assert_true(count_lines(journal, "+ task-2500-1\t") == 1);
	assert_true(count_lines(journal, "+ task-19999-1\t") == 1);
	assert_true(count_lines(journal, "+ task-10-1\t") == 0);
	spool_stop();
	worker_rmtree(dir);
	free(journal);
	event_base_free(worker_base);
	worker_base = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helper_pending_at_stop),
		cmocka_unit_test(test_journal_compacts),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
