/* SPDX-License-Identifier: ISC */
/*
 * fuzz-policy.c -- libFuzzer target: the worker's policy
 * (worker-node/policy.c).  The input's first line is parsed as
 * --run-hours and its second as --max-load; the rest drives policy_decide
 * with readings made of its bytes.  Checks that a parsed window lies
 * within the day and a parsed load within 0..1024, that an error always
 * has a cause, and that the decision agrees with its state: a reason
 * exactly while suspended, never resuming before --resume-after.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "../../worker-node/worker.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The next line of the input (at most 63 bytes) into buf. */
static void
next_line(const uint8_t **p, const uint8_t *end, char *buf, size_t size)
{
	size_t	n = 0;

	while (*p < end && **p != '\n') {
		if (n + 1 < size)
			buf[n++] = (char)**p;
		(*p)++;
	}
	if (*p < end)
		(*p)++;
	buf[n] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t		*p = data, *end = data + size;
	struct policy_conf	 c = { 20, 30, 80, 70, -1, -1, -1, 3 };
	struct policy_state	 st;
	struct policy_input	 in;
	const char		*cause;
	char			 line[64];
	int			 from, to, run, was;
	double			 since = 0;

	next_line(&p, end, line, sizeof line);
	if (policy_parse_hours(line, &from, &to, &cause) == 0) {
		if (from < 0 || from >= 1440 || to < 0 || to >= 1440 ||
		    cause != NULL)
			abort();
		c.run_from = from;
		c.run_to = to;
	} else if (cause == NULL || *cause == '\0')
		abort();
	next_line(&p, end, line, sizeof line);
	if (policy_parse_load(line, &c.max_load, &cause) == 0) {
		if (isnan(c.max_load) || c.max_load < 0 || c.max_load > 1024)
			abort();
	} else if (cause == NULL)
		abort();

	memset(&st, 0, sizeof st);
	memset(&in, 0, sizeof in);
	for (; end - p >= 5; p += 5) {
		was = st.suspended;
		in.now += p[0] / 16.0;
		in.battery = p[1] > 200 ? -1 : p[1] % 101;
		in.charging = p[2] & 1;
		in.temperature = p[2] > 250 ? NAN : p[2] / 2.0;
		in.load = p[3] > 250 ? NAN : p[3] / 50.0;
		in.minute = p[4] * 6 + (p[3] & 7) - 1;
		if (in.minute >= 1440)
			in.minute = -1;
		run = policy_decide(&c, &in, &st);
		if (run != !st.suspended)
			abort();
		if (memchr(st.reason, '\0', sizeof st.reason) == NULL)
			abort();
		if (st.suspended != (st.reason[0] != '\0'))
			abort();
		if (!was && st.suspended)
			since = in.now;
		if (was && !st.suspended && in.now - since < c.resume_after)
			abort();
	}
	return (0);
}
