/* SPDX-License-Identifier: ISC */
/*
 * test-prof-delta.c -- the pure arithmetic of prof-delta.c: CPU busy
 * percent and network rates from two samples, including the corners (no
 * time passed, counters that went backwards, samples that were not taken)
 * that must come out as "unknown", never as a wrong number.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "protocol.h"
#include "profiler.h"

/* One case: two samples and what must come out. */
struct delta_case {
	const char		*name;
	struct prof_sample	 a;
	struct prof_sample	 b;
	double			 cpu;	/* NAN: must be NAN */
	int64_t			 rx;
	int64_t			 tx;
};

#define S(w, cv, ct, ci, nv, rx, tx)	{ w, cv, ct, ci, nv, rx, tx }

static const struct delta_case delta_cases[] = {
	{ "normal",
	  S(10.0, 1, 1000, 800, 1, 5000, 1000),
	  S(12.0, 1, 1400, 900, 1, 9000, 3000),	75.0, 2000, 1000 },
	{ "all idle",
	  S(10.0, 1, 1000, 800, 1, 0, 0),
	  S(11.0, 1, 1100, 900, 1, 0, 0),	0.0, 0, 0 },
	{ "all busy",
	  S(10.0, 1, 1000, 800, 1, 0, 0),
	  S(11.0, 1, 1100, 800, 1, 0, 0),	100.0, 0, 0 },
	{ "half a second, rounding",
	  S(10.0, 1, 0, 0, 1, 0, 0),
	  S(10.5, 1, 3, 1, 1, 1001, 1),		200.0 / 3, 2002, 2 },
	{ "no tick and no time passed",
	  S(10.0, 1, 1000, 800, 1, 5000, 1000),
	  S(10.0, 1, 1000, 800, 1, 5000, 1000),	NAN, -1, -1 },
	{ "time went backwards",
	  S(12.0, 1, 1000, 800, 1, 5000, 1000),
	  S(10.0, 1, 1100, 850, 1, 6000, 1100),	50.0, -1, -1 },
	{ "cpu counters went backwards (new boot)",
	  S(10.0, 1, 100000, 90000, 1, 5000, 1000),
	  S(12.0, 1, 500, 400, 1, 5000, 1000),	NAN, 0, 0 },
	{ "idle went backwards alone",
	  S(10.0, 1, 1000, 800, 1, 0, 0),
	  S(12.0, 1, 1100, 700, 1, 0, 0),	NAN, 0, 0 },
	{ "idle grew more than total",
	  S(10.0, 1, 1000, 800, 1, 0, 0),
	  S(12.0, 1, 1010, 900, 1, 0, 0),	NAN, 0, 0 },
	{ "rx counter reset (interface down/up)",
	  S(10.0, 1, 1000, 800, 1, 900000, 1000),
	  S(12.0, 1, 1100, 850, 1, 100, 3000),	50.0, -1, 1000 },
	{ "32-bit counter wrapped",
	  S(10.0, 1, 1000, 800, 1, 4294967000ULL, 4294967000ULL),
	  S(12.0, 1, 1100, 850, 1, 200, 4294967100ULL), 50.0, -1, 50 },
	{ "first sample has no /proc/stat (Android)",
	  S(10.0, 0, 0, 0, 1, 0, 0),
	  S(12.0, 0, 0, 0, 1, 400, 200),	NAN, 200, 100 },
	{ "second sample has no /proc/stat",
	  S(10.0, 1, 1000, 800, 1, 0, 0),
	  S(12.0, 0, 0, 0, 1, 0, 0),		NAN, 0, 0 },
	{ "no /proc/net/dev",
	  S(10.0, 1, 1000, 800, 0, 0, 0),
	  S(12.0, 1, 1100, 850, 0, 0, 0),	50.0, -1, -1 },
	{ "net valid only in one sample",
	  S(10.0, 1, 1000, 800, 1, 0, 0),
	  S(12.0, 1, 1100, 850, 0, 0, 0),	50.0, -1, -1 },
	{ "clock unknown",
	  S(NAN, 1, 1000, 800, 1, 0, 0),
	  S(12.0, 1, 1100, 850, 1, 10, 10),	50.0, -1, -1 },
	{ "huge counters",
	  S(10.0, 1, UINT64_MAX - 1000, UINT64_MAX - 2000, 1,
	    UINT64_MAX - 100, 0),
	  S(11.0, 1, UINT64_MAX, UINT64_MAX - 1500, 1, UINT64_MAX, 0),
	  50.0, 100, 0 },
};

/* Every row of the table. */
static void
test_delta_table(void **state)
{
	const struct delta_case	*c;
	size_t			 i;
	double			 cpu;

	for (i = 0; i < sizeof delta_cases / sizeof delta_cases[0]; i++) {
		c = &delta_cases[i];
		cpu = prof_delta_cpu_pct(&c->a, &c->b);
		if (isnan(c->cpu)) {
			if (!isnan(cpu))
				fail_msg("%s: cpu %f, want NAN", c->name, cpu);
		} else if (isnan(cpu) || fabs(cpu - c->cpu) > 1e-9)
			fail_msg("%s: cpu %f, want %f", c->name, cpu, c->cpu);
		if (prof_delta_net_rate(&c->a, &c->b, 0) != c->rx)
			fail_msg("%s: rx %lld, want %lld", c->name,
			    (long long)prof_delta_net_rate(&c->a, &c->b, 0),
			    (long long)c->rx);
		if (prof_delta_net_rate(&c->a, &c->b, 1) != c->tx)
			fail_msg("%s: tx %lld, want %lld", c->name,
			    (long long)prof_delta_net_rate(&c->a, &c->b, 1),
			    (long long)c->tx);
	}
}

/* Missing samples and a bad direction are unknown, not a crash. */
static void
test_delta_invalid(void **state)
{
	struct prof_sample	a = S(1.0, 1, 10, 5, 1, 10, 10);
	struct prof_sample	b = S(2.0, 1, 20, 6, 1, 20, 20);

	assert_true(isnan(prof_delta_cpu_pct(NULL, &b)));
	assert_true(isnan(prof_delta_cpu_pct(&a, NULL)));
	assert_true(isnan(prof_delta_cpu_pct(NULL, NULL)));
	assert_int_equal(prof_delta_net_rate(NULL, &b, 0), -1);
	assert_int_equal(prof_delta_net_rate(&a, NULL, 1), -1);
	assert_int_equal(prof_delta_net_rate(&a, &b, 2), -1);
	assert_int_equal(prof_delta_net_rate(&a, &b, -1), -1);
	assert_int_equal(prof_delta_net_rate(&a, &b, 0), 10);
	assert_true(fabs(prof_delta_cpu_pct(&a, &b) - 90.0) < 1e-9);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_delta_table),
		cmocka_unit_test(test_delta_invalid),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
