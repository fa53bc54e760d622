/* SPDX-License-Identifier: ISC */
/*
 * test-worker-exec.c -- the worker's pure executor parts: cutting task
 * output into valid UTF-8 chunks (utf8_sanitize), the PATH search done
 * by the worker instead of a shell (exec_resolve), and the exact container
 * runtime command line of a task (exec_container_spec), each as a table;
 * and the reconnect schedule of upstream.c (upstream_backoff_ms).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"
#include "../../worker-node/worker.h"

/* worker-node.c is not in libworker.a: its globals live here, and the
 * functions the modules linked in for upstream_backoff_ms() refer to. */
struct worker_conf	 wconf;
struct event_base	*worker_base;
int			 worker_exiting;

/* Stand-ins for worker-node.c's functions (never called by these
 * tests). */
void
worker_fill_register(struct msg *m)
{
	msg_init(m, MSG_REGISTER);
}

void
worker_stop(int code, const char *fmt, ...)
{
}

#define FFFD	"\xef\xbf\xbd"

/* Input bytes -> sanitized output and bytes consumed. */
struct utf8_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	int		 eof;
	size_t		 outmax;
	const char	*out;
	size_t		 used;
};

static const struct utf8_case utf8_cases[] = {
	{ "ascii", "hello\n", 6, 0, 64, "hello\n", 6 },
	{ "two-byte", "\xc3\xa9t\xc3\xa9", 5, 0, 64, "\xc3\xa9t\xc3\xa9", 5 },
	{ "four-byte", "\xf0\x9f\x98\x80", 4, 0, 64, "\xf0\x9f\x98\x80", 4 },
	{ "invalid-ff", "a\xff" "b", 3, 0, 64, "a" FFFD "b", 3 },
	{ "nul", "a\0b", 3, 0, 64, "a" FFFD "b", 3 },
	{ "overlong", "\xc0\xaf", 2, 0, 64, FFFD FFFD, 2 },
	{ "surrogate", "\xed\xa0\x80", 3, 0, 64, FFFD FFFD FFFD, 3 },
	{ "above-max", "\xf4\x90\x80\x80", 4, 0, 64,
	    FFFD FFFD FFFD FFFD, 4 },
	{ "cut-waits", "ab\xe2\x82", 4, 0, 64, "ab", 2 },
	{ "cut-at-eof", "ab\xe2\x82", 4, 1, 64, "ab" FFFD FFFD, 4 },
	{ "lone-continuation", "\x80" "a", 2, 0, 64, FFFD "a", 2 },
	{ "outmax-whole-chars", "a\xc3\xa9\xc3\xa9", 5, 0, 4, "a\xc3\xa9", 3 },
	{ "outmax-replacement", "ab\xff", 3, 0, 4, "ab", 2 },
};

static void
test_utf8_sanitize(void **state)
{
	char	out[64];
	size_t	i, n, used;

	for (i = 0; i < sizeof utf8_cases / sizeof utf8_cases[0]; i++) {
		const struct utf8_case *c = &utf8_cases[i];

		n = utf8_sanitize((const unsigned char *)c->in, c->inlen,
		    c->eof, out, c->outmax, &used);
		if (n != strlen(c->out) || memcmp(out, c->out, n) != 0 ||
		    used != c->used)
			fail_msg("utf8 case %s: got %zu bytes, used %zu",
			    c->name, n, used);
	}
}

/* argv0 with PATH -> expected path (NULL: error containing cause). */
struct resolve_case {
	const char	*argv0;
	const char	*path;
	const char	*expect;
	const char	*cause;
};

static const struct resolve_case resolve_cases[] = {
	{ "sh", "/nonexistent:/bin", "/bin/sh", NULL },
	{ "/bin/sh", "/nonexistent", "/bin/sh", NULL },
	{ "./run.sh", "/bin", "./run.sh", NULL },	/* from the work dir */
	{ "sh", ".:bin", NULL, "command not found" },	/* relative: skipped */
	{ "no-such-command-encore", "/bin", NULL, "command not found" },
	{ "/nonexistent/x", "/bin", NULL, "cannot run" },
	{ "", "/bin", NULL, "empty" },
};

static void
test_exec_resolve(void **state)
{
	char	*p, *cause;
	size_t	 i;

	for (i = 0; i < sizeof resolve_cases / sizeof resolve_cases[0]; i++) {
		const struct resolve_case *c = &resolve_cases[i];

		cause = NULL;
		p = exec_resolve(c->argv0, c->path, &cause);
		if (c->expect != NULL) {
			if (p == NULL || strcmp(p, c->expect) != 0)
				fail_msg("resolve %s: got %s", c->argv0,
				    p != NULL ? p : cause);
		} else if (p != NULL || cause == NULL ||
		    strstr(cause, c->cause) == NULL)
			fail_msg("resolve %s: expected error '%s', got %s",
			    c->argv0, c->cause, p != NULL ? p : cause);
		free(p);
		free(cause);
	}
}

static void
test_container_argv(void **state)
{
	static const char *want[] = { "podman", "run", "--rm", "--name",
	    "encore-pi_1-3c535b-t_1-2", "--network=none", "--read-only", "--cap-drop=ALL",
	    "--security-opt=no-new-privileges", "--volume", "/tmp:/work:rw",
	    "--workdir", "/work", "--memory", "16m", "--cpus",
	    "0.5", "--pids-limit", "256", "--env", "A=1 2", "img:latest", "sh",
	    "-c", "echo hi", NULL };
	struct proto_task	 t;
	struct proto_kv		 env = { (char *)"A", (char *)"1 2" };
	struct job_spec		 spec;
	char			*argv[] = { (char *)"sh", (char *)"-c",
				    (char *)"echo hi" };
	char			 name[128], *cause = NULL;
	size_t			 i;

	memset(&t, 0, sizeof t);
	t.task_id = (char *)"t/1";
	t.attempt = 2;
	t.type = TASK_TYPE_CONTAINER;
	t.image = (char *)"img:latest";
	t.argv = argv;
	t.argc = 3;
	t.env = &env;
	t.n_env = 1;
	t.memory_mb = 16;
	t.cpus = 0.5;
	/* The name carries the device id and a hash of the state dir, so
	 * two workers on one host never share a container name. */
	wconf.id = (char *)"pi.1";
	wconf.state_dir = (char *)"/var/lib/encore/worker";
	exec_container_name(t.task_id, t.attempt, name, sizeof name);
	assert_string_equal(name, "encore-pi_1-3c535b-t_1-2");

	wconf.runtime = NULL;
	assert_int_equal(exec_container_spec(&t, "/tmp", name, &spec,
	    &cause), -1);
	assert_non_null(strstr(cause, "no container runtime"));
	free(cause);

	wconf.runtime = "podman";
	if (exec_container_spec(&t, "/tmp", name, &spec, &cause) != 0) {
		/* No podman on this machine: nothing more to check. */
		free(cause);
		skip();
	}
	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(spec.argv[i]);
		assert_string_equal(spec.argv[i], want[i]);
	}
	assert_null(spec.argv[i]);
	job_spec_free(&spec);

	/* No limits: --memory and --cpus go, --pids-limit stays. */
	t.memory_mb = 0;
	t.cpus = 0;
	t.pids = 10;
	t.n_env = 0;
	assert_int_equal(exec_container_spec(&t, "/tmp", name, &spec,
	    &cause), 0);
	for (i = 0; spec.argv[i] != NULL; i++) {
		assert_string_not_equal(spec.argv[i], "--memory");
		assert_string_not_equal(spec.argv[i], "--cpus");
		if (strcmp(spec.argv[i], "--pids-limit") == 0)
			assert_string_equal(spec.argv[i + 1], "10");
	}
	job_spec_free(&spec);

	/* An image that looks like an option is refused. */
	t.image = (char *)"--privileged";
	assert_int_equal(exec_container_spec(&t, "/tmp", name, &spec,
	    &cause), -1);
	free(cause);
}

/* The n-th reconnect in a row -> [min, max] ms, over many random r. */
static void
test_backoff(void **state)
{
	static const struct { int n, lo, hi; } cases[] = {
		{ 1, 125, 250 }, { 2, 250, 500 }, { 3, 500, 1000 },
		{ 4, 1000, 2000 }, { 5, 2000, 4000 }, { 6, 4000, 8000 },
		{ 7, 5000, 10000 }, { 8, 5000, 10000 }, { 64, 5000, 10000 },
	};
	size_t		i;
	uint32_t	r;
	int		d, seen_lo, seen_hi;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		seen_lo = 1 << 30;
		seen_hi = 0;
		for (r = 0; r < 20000; r += 7) {
			d = upstream_backoff_ms(cases[i].n, r * 2654435761u);
			if (d < seen_lo)
				seen_lo = d;
			if (d > seen_hi)
				seen_hi = d;
		}
		if (seen_lo < cases[i].lo || seen_hi > cases[i].hi)
			fail_msg("backoff n=%d: %d..%d, want within %d..%d",
			    cases[i].n, seen_lo, seen_hi, cases[i].lo,
			    cases[i].hi);
	}
	assert_int_equal(upstream_backoff_ms(7, 0), 5000);
	assert_int_equal(upstream_backoff_ms(7, 5000), 10000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_sanitize),
		cmocka_unit_test(test_exec_resolve),
		cmocka_unit_test(test_container_argv),
		cmocka_unit_test(test_backoff),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
