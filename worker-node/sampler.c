/* SPDX-License-Identifier: ISC */
/*
 * sampler.c -- profiler samples turned into heartbeat metrics, and the
 * device's policy applied to them (policy.c decides, task.c suspends and
 * resumes the tasks).  A sample is taken when a heartbeat is due, and at
 * least every SAMPLER_POLICY_MAX s when none is (not connected, or a long
 * heartbeat interval), so the policy acts offline too; an idle worker
 * does nothing between samples.
 *
 * The load of the other programs (--max-load) is in CPUs: the CPU time the
 * whole system used between two samples (busy ticks of PROCFS/stat), less
 * what encore used meanwhile (its tasks, task_cpu_take(), and the worker
 * itself), over the time between the samples.  Unlike the load average
 * it follows the owner within a sample, and encore's own work never
 * counts, so a task that ends does not leave a minute of "load" behind.
 */
#include <sys/resource.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "protocol.h"
#include "profiler.h"
#include "worker.h"

#define SAMPLER_LOAD_MIN	1.0	/* s between two load readings */
#define SAMPLER_FRESH		0.5	/* s a sample is reused for */

/*
 * The previous and current samples, the baseline of the load reading,
 * and the policy's state (its reason is what heartbeats carry).  ev is
 * the timer that samples when no heartbeat has for a while (owned).
 */
static struct {
	struct prof_sample	 prev;
	struct prof_sample	 cur;
	int			 have_cur;
	struct proto_metrics	 last;		/* the last sample's metrics */
	double			 last_when;	/* monotonic s, 0: none */
	struct policy_state	 policy;
	double			 load;		/* other programs', NAN */
	int			 load_valid;	/* a baseline is set */
	double			 load_when;	/* monotonic s */
	uint64_t		 load_busy;	/* busy ticks then */
	double			 load_self;	/* our CPU s then */
	long			 hz;		/* clock ticks a second */
	struct event		*ev;
} sampler;

/* The worker's own CPU s so far. */
static double
sampler_self_cpu(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return (0);
	return ((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

/* Update the load of the other programs from the current sample. */
static void
sampler_load(void)
{
	struct prof_sample	*s = &sampler.cur;
	uint64_t		 busy;
	double			 self, ours, dt;

	if (wconf.policy.max_load < 0)
		return;
	if (!s->cpu_valid || isnan(s->when) || s->cpu_total < s->cpu_idle) {
		sampler.load = NAN;
		sampler.load_valid = 0;
		return;
	}
	busy = s->cpu_total - s->cpu_idle;
	dt = s->when - sampler.load_when;
	if (sampler.load_valid && dt < SAMPLER_LOAD_MIN)
		return;
	self = sampler_self_cpu();
	ours = task_cpu_take();
	if (sampler.load_valid && busy >= sampler.load_busy) {
		sampler.load = ((double)(busy - sampler.load_busy) /
		    sampler.hz - ours - (self - sampler.load_self)) / dt;
		if (sampler.load < 0)
			sampler.load = 0;
	} else
		sampler.load = NAN;
	sampler.load_valid = 1;
	sampler.load_when = s->when;
	sampler.load_busy = busy;
	sampler.load_self = self;
}

/* Local minute of the day, -1 if unknown. */
static int
sampler_minute(void)
{
	struct tm	tm;
	time_t		t = time(NULL);

	if (localtime_r(&t, &tm) == NULL)
		return (-1);
	return (tm.tm_hour * 60 + tm.tm_min);
}

/* Arm the timer that samples when no heartbeat does. */
static void
sampler_arm(void)
{
	struct timeval	tv = { SAMPLER_POLICY_MAX, 0 };

	if (sampler.ev != NULL)
		evtimer_add(sampler.ev, &tv);
}

/* Take a sample into m and apply the policy to it; a sample taken less
 * than SAMPLER_FRESH s ago (the timer just before a heartbeat) is reused
 * rather than measuring rates over a moment. */
static void
sampler_sample(struct proto_metrics *m)
{
	struct policy_input	in;
	int			was = sampler.policy.suspended;

	if (sampler.last_when > 0 &&
	    worker_now() - sampler.last_when < SAMPLER_FRESH) {
		*m = sampler.last;
		sampler_arm();
		return;
	}
	sampler.prev = sampler.cur;
	prof_sample_read("/", &sampler.cur);
	prof_metrics_read("/", wconf.state_dir,
	    sampler.have_cur ? &sampler.prev : NULL, &sampler.cur, m);
	sampler.have_cur = 1;
	sampler_load();

	in.now = worker_now();
	in.battery = m->battery_percent;
	in.charging = m->battery_charging;
	in.temperature = m->temperature;
	in.load = sampler.load;
	in.minute = sampler_minute();
	policy_decide(&wconf.policy, &in, &sampler.policy);
	if (!was && sampler.policy.suspended)
		log_warn("event=suspended reason=\"%s\" tasks=%zu",
		    sampler.policy.reason, task_count());
	else if (was && !sampler.policy.suspended)
		log_info("event=resumed suspended_s=%.1f tasks=%zu",
		    in.now - sampler.policy.since, task_count());
	task_policy(sampler.policy.suspended);
	sampler.last = *m;
	sampler.last_when = in.now;
	sampler_arm();
}

/* No heartbeat for a while: sample for the policy alone. */
static void
sampler_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct proto_metrics	m;

	sampler_sample(&m);
}

/* Take the first sample and apply the policy; start the timer. */
void
sampler_start(void)
{
	struct proto_metrics	m;

	if ((sampler.hz = sysconf(_SC_CLK_TCK)) <= 0)
		sampler.hz = 100;
	sampler.load = NAN;
	sampler.ev = evtimer_new(worker_base, sampler_timer_cb, NULL);
	sampler_sample(&m);
	sampler.last_when = 0;	/* the first heartbeat measures rates */
}

/* Remove the timer. */
void
sampler_stop(void)
{
	if (sampler.ev != NULL)
		event_free(sampler.ev);
	sampler.ev = NULL;
	sampler.have_cur = 0;
}

/* Sample, apply the policy, and fill a heartbeat's metrics, accepting and
 * reason. */
void
sampler_fill(struct msg_heartbeat *hb)
{
	sampler_sample(&hb->metrics);
	hb->accepting = !sampler.policy.suspended;
	hb->reason = sampler.policy.suspended ? sampler.policy.reason : NULL;
}

/* 1 unless the policy has suspended the device. */
int
sampler_is_accepting(void)
{
	return (!sampler.policy.suspended);
}

/* Why the device is suspended, "" when it is not. */
const char *
sampler_reason(void)
{
	return (sampler.policy.reason);
}
