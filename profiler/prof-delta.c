/* SPDX-License-Identifier: ISC */
/*
 * prof-delta.c -- rates from two samples: CPU busy percent and network
 * bytes per second.  Pure arithmetic, no I/O, so every corner (no time
 * passed, counters reset, samples that could not be taken) is unit-tested.
 */
#include <math.h>
#include <stdint.h>

#include "protocol.h"
#include "profiler.h"

/* CPU busy percent between a and b; NAN if unknown or no tick passed. */
double
prof_delta_cpu_pct(const struct prof_sample *a, const struct prof_sample *b)
{
	uint64_t	dtotal, didle;

	if (a == NULL || b == NULL || !a->cpu_valid || !b->cpu_valid)
		return (NAN);
	if (b->cpu_total <= a->cpu_total || b->cpu_idle < a->cpu_idle)
		return (NAN);
	dtotal = b->cpu_total - a->cpu_total;
	didle = b->cpu_idle - a->cpu_idle;
	if (didle > dtotal)
		return (NAN);
	return ((double)(dtotal - didle) * 100.0 / (double)dtotal);
}

/*
 * Bytes per second received (which = 0) or sent (which = 1) between a and
 * b; -1 if unknown, if no time passed or if the counter went backwards.
 */
int64_t
prof_delta_net_rate(const struct prof_sample *a, const struct prof_sample *b,
    int which)
{
	uint64_t	va, vb;
	double		dt, rate;

	if (a == NULL || b == NULL || !a->net_valid || !b->net_valid)
		return (-1);
	if (which != 0 && which != 1)
		return (-1);
	dt = b->when - a->when;
	if (!isfinite(dt) || dt <= 0)
		return (-1);
	va = which == 0 ? a->net_rx : a->net_tx;
	vb = which == 0 ? b->net_rx : b->net_tx;
	if (vb < va)
		return (-1);
	rate = (double)(vb - va) / dt;
	if (!isfinite(rate) || rate >= 9.2e18)
		return (-1);
	/* Rounded to the nearest (rate >= 0 here): no libm for the worker. */
	return ((int64_t)(rate + 0.5));
}
