/* SPDX-License-Identifier: ISC */
/*
 * test-policy.c -- the device's policy (worker-node/policy.c): when it
 * suspends its tasks and when it resumes them, as tables of readings over
 * time (thresholds, hysteresis, --resume-after, run hours that wrap
 * midnight, missing sensors), a battery that flaps at its threshold, and
 * the parsers of --run-hours and --max-load.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"
#include "../../worker-node/worker.h"

#define NONE	(-1)		/* no battery, no minute */
#define NOT	NAN		/* no thermal zone, load unknown */
#define END	(-1.0)		/* ends a case's steps */

/* The defaults: --min-battery 20 (resume 30), --max-temp 80 (resume 70),
 * no --max-load, no --run-hours, --resume-after 60. */
#define DEFAULTS	{ 20, 30, 80, 70, -1, -1, -1, 60 }

/* One reading and what the policy must say to it.  reason is a piece of
 * the reason expected ("" while running). */
struct step {
	double		 now;
	int		 battery;
	int		 charging;
	double		 temp;
	double		 load;
	int		 minute;
	int		 run;
	const char	*reason;
};

/* Readings in order, from a fresh (running) state. */
struct policy_case {
	const char		*name;
	struct policy_conf	 conf;
	struct step		 steps[10];
};

static const struct policy_case policy_cases[] = {
	{ "no sensors at all never suspend", DEFAULTS, {
		{ 0, NONE, 0, NOT, NOT, NONE, 1, "" },
		{ 100, NONE, 0, NOT, NOT, 600, 1, "" },
		{ .now = END } } },
	{ "battery below min on battery suspends", DEFAULTS, {
		{ 0, 50, 0, 40, NOT, 600, 1, "" },
		{ 5, 15, 0, 40, NOT, 600, 0,
		    "on battery at 15 % (resumes at 30 % or on charge)" },
		{ .now = END } } },
	{ "battery at min runs", DEFAULTS, {
		{ 0, 20, 0, NOT, NOT, NONE, 1, "" },
		{ .now = END } } },
	{ "low battery while charging runs", DEFAULTS, {
		{ 0, 5, 1, NOT, NOT, NONE, 1, "" },
		{ .now = END } } },
	{ "battery between min and resume holds, resumes at resume", DEFAULTS, {
		{ 0, 19, 0, NOT, NOT, NONE, 0, "on battery at 19 %" },
		{ 100, 21, 0, NOT, NOT, NONE, 0, "on battery at 21 %" },
		{ 200, 29, 0, NOT, NOT, NONE, 0, "resumes at 30 %" },
		{ 300, 30, 0, NOT, NOT, NONE, 1, "" },
		{ 301, 25, 0, NOT, NOT, NONE, 1, "" },
		{ 302, 19, 0, NOT, NOT, NONE, 0, "on battery at 19 %" },
		{ .now = END } } },
	{ "charging releases the battery at once, resume-after holds",
	    DEFAULTS, {
		{ 0, 15, 0, NOT, NOT, NONE, 0, "on battery at 15 %" },
		{ 10, 15, 1, NOT, NOT, NONE, 0,
		    "resumes in 50 s (--resume-after 60 s since it paused)" },
		{ 59.5, 16, 1, NOT, NOT, NONE, 0, "resumes in 1 s" },
		{ 60, 16, 1, NOT, NOT, NONE, 1, "" },
		{ .now = END } } },
	{ "a battery that goes away releases it", DEFAULTS, {
		{ 0, 15, 0, NOT, NOT, NONE, 0, "on battery" },
		{ 70, NONE, 0, NOT, NOT, NONE, 1, "" },
		{ .now = END } } },
	{ "--min-battery 0 never suspends", { 0, 10, 80, 70, -1, -1, -1, 60 },
	    {
		{ 0, 0, 0, NOT, NOT, NONE, 1, "" },
		{ .now = END } } },
	{ "hot suspends, holds down to resume-temp", DEFAULTS, {
		{ 0, NONE, 0, 80, NOT, NONE, 1, "" },
		{ 1, NONE, 0, 85, NOT, NONE, 0,
		    "too hot at 85 C, over 80 C (resumes at 70 C or cooler)" },
		{ 100, NONE, 0, 75, NOT, NONE, 0, "too hot at 75 C" },
		{ 200, NONE, 0, 70, NOT, NONE, 1, "" },
		{ 201, NONE, 0, 79, NOT, NONE, 1, "" },
		{ .now = END } } },
	{ "a thermal zone that goes away releases it", DEFAULTS, {
		{ 0, NONE, 0, 90, NOT, NONE, 0, "too hot" },
		{ 61, NONE, 0, NOT, NOT, NONE, 1, "" },
		{ .now = END } } },
	{ "other programs' load over --max-load suspends",
	    { 20, 30, 80, 70, 1.0, -1, -1, 5 }, {
		{ 0, NONE, 0, NOT, NOT, NONE, 1, "" },
		{ 1, NONE, 0, NOT, 0.5, NONE, 1, "" },
		{ 2, NONE, 0, NOT, 1.5, NONE, 0,
		    "the owner is busy: other programs use 1.5 CPUs, over 1.0 "
		    "(resumes at 1.0 or less)" },
		{ 3, NONE, 0, NOT, 1.0, NONE, 0, "resumes in 4 s" },
		{ 7, NONE, 0, NOT, 1.0, NONE, 1, "" },
		{ 8, NONE, 0, NOT, NOT, NONE, 1, "" },
		{ .now = END } } },
	{ "load is ignored without --max-load", DEFAULTS, {
		{ 0, NONE, 0, NOT, 64, NONE, 1, "" },
		{ .now = END } } },
	{ "run hours that wrap midnight", { 20, 30, 80, 70, -1, 22 * 60,
	    7 * 60, 0 }, {
		{ 0, NONE, 0, NOT, NOT, 23 * 60, 1, "" },
		{ 1, NONE, 0, NOT, NOT, 0, 1, "" },
		{ 2, NONE, 0, NOT, NOT, 7 * 60 - 1, 1, "" },
		{ 3, NONE, 0, NOT, NOT, 7 * 60, 0,
		    "outside run hours 22:00-07:00 (resumes at 22:00 local "
		    "time)" },
		{ 4, NONE, 0, NOT, NOT, 22 * 60 - 1, 0, "outside run hours" },
		{ 5, NONE, 0, NOT, NOT, 22 * 60, 1, "" },
		{ .now = END } } },
	{ "run hours within a day", { 20, 30, 80, 70, -1, 9 * 60, 17 * 60,
	    0 }, {
		{ 0, NONE, 0, NOT, NOT, 9 * 60 - 1, 0, "resumes at 09:00" },
		{ 1, NONE, 0, NOT, NOT, 9 * 60, 1, "" },
		{ 2, NONE, 0, NOT, NOT, 17 * 60 - 1, 1, "" },
		{ 3, NONE, 0, NOT, NOT, 17 * 60, 0, "09:00-17:00" },
		{ .now = END } } },
	{ "run hours with the time unknown never suspend", { 20, 30, 80, 70,
	    -1, 9 * 60, 17 * 60, 0 }, {
		{ 0, NONE, 0, NOT, NOT, NONE, 1, "" },
		{ .now = END } } },
	{ "every cause is named", DEFAULTS, {
		{ 0, 10, 0, 90, NOT, NONE, 0, "on battery at 10 % (resumes at "
		    "30 % or on charge); too hot at 90 C" },
		{ 100, 10, 1, 90, NOT, NONE, 0, "too hot at 90 C" },
		{ .now = END } } },
	{ "a new cause while waiting to resume holds", DEFAULTS, {
		{ 0, 15, 0, NOT, NOT, NONE, 0, "on battery" },
		{ 30, 15, 1, NOT, NOT, NONE, 0, "resumes in 30 s" },
		{ 50, 15, 1, 85, NOT, NONE, 0, "too hot at 85 C" },
		{ 61, 15, 1, 71, NOT, NONE, 0, "too hot at 71 C" },
		{ 62, 15, 1, 70, NOT, NONE, 1, "" },
		{ .now = END } } },
	{ "--resume-after 0 resumes at once", { 20, 30, 80, 70, -1, -1, -1,
	    0 }, {
		{ 0, 15, 0, NOT, NOT, NONE, 0, "on battery" },
		{ 0.5, 15, 1, NOT, NOT, NONE, 1, "" },
		{ .now = END } } },
};

/* Each case's steps, in order, from a zeroed state. */
static void
test_policy_table(void **state)
{
	const struct policy_case	*c;
	const struct step		*st;
	struct policy_state		 ps;
	struct policy_input		 in;
	size_t				 i, j;
	int				 run;

	for (i = 0; i < sizeof policy_cases / sizeof policy_cases[0]; i++) {
		c = &policy_cases[i];
		memset(&ps, 0, sizeof ps);
		for (j = 0; c->steps[j].now != END; j++) {
			st = &c->steps[j];
			in.now = st->now;
			in.battery = st->battery;
			in.charging = st->charging;
			in.temperature = st->temp;
			in.load = st->load;
			in.minute = st->minute;
			run = policy_decide(&c->conf, &in, &ps);
			if (run != st->run || run == ps.suspended)
				fail_msg("%s, step %zu: run %d, want %d "
				    "(reason '%s')", c->name, j, run, st->run,
				    ps.reason);
			if ((*st->reason == '\0' && *ps.reason != '\0') ||
			    strstr(ps.reason, st->reason) == NULL)
				fail_msg("%s, step %zu: reason '%s', want '%s'",
				    c->name, j, ps.reason, st->reason);
		}
	}
}

/* Count the pauses and resumes of a battery that alternates low/high
 * every second for 20 s. */
static void
flap(const struct policy_conf *conf, int low, int high, int *pauses,
    int *resumes)
{
	struct policy_state	ps;
	struct policy_input	in;
	int			t, was = 0;

	memset(&ps, 0, sizeof ps);
	*pauses = *resumes = 0;
	for (t = 0; t <= 20; t++) {
		in.now = t;
		in.battery = (t % 2) == 0 ? low : high;
		in.charging = 0;
		in.temperature = NAN;
		in.load = NAN;
		in.minute = -1;
		policy_decide(conf, &in, &ps);
		if (!was && ps.suspended)
			(*pauses)++;
		if (was && !ps.suspended)
			(*resumes)++;
		was = ps.suspended;
	}
}

/* A battery at the threshold does not flap: 19/21 % with --min-battery
 * 20 pauses once; even with --resume-battery 21 and --resume-after 5 it
 * changes at most once per --resume-after. */
static void
test_policy_flapping(void **state)
{
	struct policy_conf	conf = DEFAULTS;
	int			pauses, resumes;

	flap(&conf, 19, 21, &pauses, &resumes);
	assert_int_equal(pauses, 1);
	assert_int_equal(resumes, 0);

	conf.resume_battery = 21;
	conf.resume_after = 5;
	flap(&conf, 19, 21, &pauses, &resumes);
	assert_true(pauses <= 4);
	assert_true(resumes <= 3);

	conf.resume_after = 60;
	flap(&conf, 19, 21, &pauses, &resumes);
	assert_int_equal(pauses, 1);
	assert_int_equal(resumes, 0);
}

/* --run-hours text -> window (minutes), or an error. */
static void
test_policy_hours(void **state)
{
	static const struct {
		const char	*in;
		int		 ok, from, to;
	} cases[] = {
		{ "22:00-07:00", 1, 22 * 60, 7 * 60 },
		{ "9:00-17:30", 1, 9 * 60, 17 * 60 + 30 },
		{ "00:00-24:00", 1, 0, 0 },
		{ "23:59-00:01", 1, 23 * 60 + 59, 1 },
		{ "18:00-24:00", 1, 18 * 60, 0 },
		{ "24:00-07:00", 0, 0, 0 },
		{ "22:60-07:00", 0, 0, 0 },
		{ "25:00-07:00", 0, 0, 0 },
		{ "22:00-24:01", 0, 0, 0 },
		{ "2200-0700", 0, 0, 0 },
		{ "22:00-07:00x", 0, 0, 0 },
		{ "22:00 - 07:00", 0, 0, 0 },
		{ "22:00", 0, 0, 0 },
		{ "22:00-", 0, 0, 0 },
		{ "-1:00-02:00", 0, 0, 0 },
		{ "10:00-10:00", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ "always", 0, 0, 0 },
	};
	const char	*cause;
	size_t		 i;
	int		 from, to, r;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		from = to = -2;
		r = policy_parse_hours(cases[i].in, &from, &to, &cause);
		if (cases[i].ok) {
			if (r != 0 || from != cases[i].from ||
			    to != cases[i].to)
				fail_msg("'%s': %d %d-%d (%s)", cases[i].in, r,
				    from, to, cause != NULL ? cause : "");
		} else if (r != -1 || cause == NULL || *cause == '\0')
			fail_msg("'%s' accepted", cases[i].in);
	}
	assert_int_equal(policy_parse_hours("10:00-10:00", &from, &to,
	    &cause), -1);
	assert_non_null(strstr(cause, "leave --run-hours unset"));
}

/* --max-load text -> CPUs, or an error. */
static void
test_policy_load(void **state)
{
	static const struct {
		const char	*in;
		int		 ok;
		double		 v;
	} cases[] = {
		{ "0.5", 1, 0.5 }, { "2", 1, 2 }, { "0", 1, 0 },
		{ ".25", 1, 0.25 }, { "1024", 1, 1024 },
		{ "1025", 0, 0 }, { "-1", 0, 0 }, { "abc", 0, 0 },
		{ "nan", 0, 0 }, { "inf", 0, 0 }, { "", 0, 0 },
		{ " 1", 0, 0 }, { "1 ", 0, 0 }, { "1x", 0, 0 },
	};
	const char	*cause;
	double		 v;
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		v = -7;
		r = policy_parse_load(cases[i].in, &v, &cause);
		if (cases[i].ok) {
			if (r != 0 || v != cases[i].v)
				fail_msg("'%s': %d %g", cases[i].in, r, v);
		} else if (r != -1 || cause == NULL)
			fail_msg("'%s' accepted as %g", cases[i].in, v);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_table),
		cmocka_unit_test(test_policy_flapping),
		cmocka_unit_test(test_policy_hours),
		cmocka_unit_test(test_policy_load),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
