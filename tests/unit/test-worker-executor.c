/* SPDX-License-Identifier: ISC */
/*
 * test-worker-executor.c -- the worker's executor on a real event loop:
 * helpers still running when the executor stops (their requests are
 * freed, so a worker stopping mid `podman rm` leaks nothing: run under
 * the sanitizer build, `make asan-unit`).
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

/* worker-node.c is not in libworker.a: its globals live here. */
struct worker_conf	 wconf;
struct event_base	*worker_base;
int			 worker_exiting;

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helper_pending_at_stop),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
