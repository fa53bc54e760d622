/* SPDX-License-Identifier: ISC */
/*
 * sampler.c -- profiler samples turned into heartbeat metrics, and the
 * device's self-protection: on battery below --min-battery and not
 * charging, or above --max-temp, the worker declines new tasks.  Samples
 * are taken only when a heartbeat is due, so an idle worker does nothing
 * between heartbeats.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "protocol.h"
#include "profiler.h"
#include "worker.h"

/* The previous and current samples; accepting as of the last fill. */
static struct {
	struct prof_sample	 prev;
	struct prof_sample	 cur;
	int			 have_cur;
	int			 accepting;
	char			 reason[PROTO_TEXT_MAX];
} sampler;

/* Take the first sample so the first heartbeat has rates. */
void
sampler_start(void)
{
	prof_sample_read("/", &sampler.cur);
	sampler.have_cur = 1;
	sampler.accepting = 1;
}

/* Nothing registered; kept for symmetry with the other modules. */
void
sampler_stop(void)
{
	sampler.have_cur = 0;
}

/* Whether a device in state m should take tasks; fills reason when not. */
int
sampler_decide(const struct proto_metrics *m, int min_battery, int max_temp,
    char *reason, size_t size)
{
	reason[0] = '\0';
	if (m->battery_percent >= 0 && !m->battery_charging &&
	    m->battery_percent < min_battery) {
		snprintf(reason, size, "battery %d%% < %d%%", m->battery_percent,
		    min_battery);
		return (0);
	}
	if (!isnan(m->temperature) && m->temperature > (double)max_temp) {
		snprintf(reason, size, "temperature %.0fC > %dC",
		    m->temperature, max_temp);
		return (0);
	}
	return (1);
}

/* Fill a heartbeat's metrics, accepting and reason. */
void
sampler_fill(struct msg_heartbeat *hb)
{
	int	was = sampler.accepting;

	sampler.prev = sampler.cur;
	prof_sample_read("/", &sampler.cur);
	prof_metrics_read("/", wconf.state_dir,
	    sampler.have_cur ? &sampler.prev : NULL, &sampler.cur,
	    &hb->metrics);
	sampler.have_cur = 1;
	sampler.accepting = sampler_decide(&hb->metrics, wconf.min_battery,
	    wconf.max_temp, sampler.reason, sizeof sampler.reason);
	if (was && !sampler.accepting)
		log_warn("event=paused reason=\"%s\"", sampler.reason);
	else if (!was && sampler.accepting)
		log_info("event=resumed");
	hb->accepting = sampler.accepting;
	hb->reason = sampler.accepting ? NULL : sampler.reason;
}

/* 1 unless self-protection declined tasks at the last sample. */
int
sampler_is_accepting(void)
{
	return (sampler.accepting);
}
