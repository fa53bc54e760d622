/* SPDX-License-Identifier: ISC */
/*
 * policy.c -- when a device runs its tasks and when it suspends them: one
 * pure decision (no I/O, no clock: the sampler passes the time and what
 * the sensors say) and the parsers of its two text options.
 *
 * Each cause latches: it starts at its limit and holds until its resume
 * value, so a reading that wanders around a limit does not flap.
 *
 *	battery	on battery (not charging) below min_battery; holds until
 *		resume_battery or until it charges
 *	heat	above max_temp; holds down to resume_temp
 *	load	other programs than encore's busier than max_load CPUs;
 *		holds until back at or below it
 *	hours	local time outside the run window [run_from, run_to), which
 *		may wrap midnight
 *
 * A missing sensor (no battery, no thermal zone, load not known yet) never
 * suspends and releases what it latched.  The device suspends as soon as
 * any cause holds and resumes once none holds and resume_after seconds
 * have passed since it suspended.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "worker.h"

/* The causes, as bits of policy_state.held. */
#define POLICY_BATTERY	0x1
#define POLICY_HEAT	0x2
#define POLICY_LOAD	0x4
#define POLICY_HOURS	0x8

/* Append a cause's text to buf, "; " between causes. */
static void
policy_add(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
policy_add(char *buf, size_t size, const char *fmt, ...)
{
	va_list	ap;
	size_t	len = strlen(buf);

	if (len + 3 >= size)
		return;
	if (len > 0) {
		memcpy(buf + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/* 1 if minute (of the day) is inside the run window of c. */
static int
policy_in_hours(const struct policy_conf *c, int minute)
{
	if (c->run_from < 0 || minute < 0)
		return (1);
	if (c->run_from < c->run_to)
		return (minute >= c->run_from && minute < c->run_to);
	return (minute >= c->run_from || minute < c->run_to);
}

/* The causes that hold now, given those that held before. */
static unsigned
policy_held(const struct policy_conf *c, const struct policy_input *in,
    unsigned before)
{
	unsigned	held = 0;

	if (in->battery >= 0 && !in->charging) {
		if (in->battery < c->min_battery)
			held |= POLICY_BATTERY;
		else if ((before & POLICY_BATTERY) &&
		    in->battery < c->resume_battery)
			held |= POLICY_BATTERY;
	}
	if (!isnan(in->temperature)) {
		if (in->temperature > (double)c->max_temp)
			held |= POLICY_HEAT;
		else if ((before & POLICY_HEAT) &&
		    in->temperature > (double)c->resume_temp)
			held |= POLICY_HEAT;
	}
	if (c->max_load >= 0 && !isnan(in->load) && in->load > c->max_load)
		held |= POLICY_LOAD;
	if (!policy_in_hours(c, in->minute))
		held |= POLICY_HOURS;
	return (held);
}

/* What the device waits for, into st->reason. */
static void
policy_reason(const struct policy_conf *c, const struct policy_input *in,
    struct policy_state *st)
{
	char	*r = st->reason;
	size_t	 size = sizeof st->reason;
	double	 left;

	*r = '\0';
	if (st->held & POLICY_BATTERY)
		policy_add(r, size, "on battery at %d %% (resumes at %d %% or "
		    "on charge)", in->battery, c->resume_battery);
	if (st->held & POLICY_HEAT)
		policy_add(r, size, "too hot at %.0f C, over %d C (resumes at "
		    "%d C or cooler)", in->temperature, c->max_temp,
		    c->resume_temp);
	if (st->held & POLICY_LOAD)
		policy_add(r, size, "the owner is busy: other programs use "
		    "%.1f CPUs, over %.1f (resumes at %.1f or less)", in->load,
		    c->max_load, c->max_load);
	if (st->held & POLICY_HOURS)
		policy_add(r, size, "outside run hours %02d:%02d-%02d:%02d "
		    "(resumes at %02d:%02d local time)", c->run_from / 60,
		    c->run_from % 60, c->run_to / 60, c->run_to % 60,
		    c->run_from / 60, c->run_from % 60);
	if (st->held == 0) {
		left = st->since + c->resume_after - in->now;
		if (left < 1)
			left = 1;
		policy_add(r, size, "resumes in %.0f s (--resume-after %d s "
		    "since it paused)", ceil(left), c->resume_after);
	}
}

/*
 * Decide whether the device runs (1) or is suspended (0), updating st; while
 * suspended st->reason says why and what it waits for.  A zeroed state is
 * a running device.
 */
int
policy_decide(const struct policy_conf *c, const struct policy_input *in,
    struct policy_state *st)
{
	st->held = policy_held(c, in, st->held);
	if (!st->suspended && st->held != 0) {
		st->suspended = 1;
		st->since = in->now;
	} else if (st->suspended && st->held == 0 &&
	    in->now - st->since >= (double)c->resume_after)
		st->suspended = 0;
	if (st->suspended)
		policy_reason(c, in, st);
	else
		st->reason[0] = '\0';
	return (!st->suspended);
}

/* Two decimal digits at s into *v; 0 or -1. */
static int
policy_two_digits(const char *s, int *v)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return (-1);
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return (0);
}

/* "HH:MM" at s (H may be one digit) into minutes; the end of it in *end.
 * 24:00 is allowed (the end of the day) when end_ok. */
static int
policy_clock(const char *s, int end_ok, int *minutes, const char **end)
{
	int	h, m;

	if (s[0] >= '0' && s[0] <= '9' && s[1] == ':') {
		h = s[0] - '0';
		s += 2;
	} else {
		if (policy_two_digits(s, &h) != 0 || s[2] != ':')
			return (-1);
		s += 3;
	}
	if (policy_two_digits(s, &m) != 0 || m > 59)
		return (-1);
	if (h > 24 || (h == 24 && (m != 0 || !end_ok)))
		return (-1);
	*minutes = h * 60 + m;
	*end = s + 2;
	return (0);
}

/*
 * Parse --run-hours "HH:MM-HH:MM" (local time; the window may wrap
 * midnight, "22:00-07:00"; "24:00" may end it).  Returns 0 with the
 * window in minutes of the day, or -1 with *cause (static text).
 */
int
policy_parse_hours(const char *s, int *from, int *to, const char **cause)
{
	const char	*p;

	*cause = "expected HH:MM-HH:MM in local time, e.g. 22:00-07:00 "
	    "(the window may wrap midnight)";
	if (s == NULL || policy_clock(s, 0, from, &p) != 0 || *p != '-' ||
	    policy_clock(p + 1, 1, to, &p) != 0 || *p != '\0')
		return (-1);
	if (*from == *to) {
		*cause = "the window is empty (start and end are the same): "
		    "leave --run-hours unset to run at any time";
		return (-1);
	}
	if (*to == 24 * 60)
		*to = 0;
	*cause = NULL;
	return (0);
}

/*
 * Parse --max-load L: CPUs' worth of work by other programs, a number from
 * 0 to 1024 ("0.5", "2").  Returns 0, or -1 with *cause (static text).
 */
int
policy_parse_load(const char *s, double *load, const char **cause)
{
	char	*end;
	double	 v;

	*cause = "expected a number of CPUs from 0 to 1024, e.g. 0.5 or 2";
	if (s == NULL || (!isdigit((unsigned char)*s) && *s != '.'))
		return (-1);
	v = strtod(s, &end);
	if (*end != '\0' || isnan(v) || v < 0 || v > 1024)
		return (-1);
	*load = v;
	*cause = NULL;
	return (0);
}
