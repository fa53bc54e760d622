/* SPDX-License-Identifier: ISC */
/*
 * prof-format.c -- numbers for people: byte counts and durations in the
 * short forms the TUI and the text export show.
 */
#include <math.h>
#include <stdio.h>

#include "protocol.h"
#include "profiler.h"

/* 1536 -> "1.5K", 3 GiB -> "3.0G", 512 -> "512B"; "-" when < 0. */
char *
prof_format_bytes(int64_t bytes, char *buf, size_t size)
{
	static const char	 units[] = "KMGTPE";
	double			 v;
	size_t			 u;

	if (bytes < 0) {
		snprintf(buf, size, "-");
		return (buf);
	}
	if (bytes < 1024) {
		snprintf(buf, size, "%dB", (int)bytes);
		return (buf);
	}
	v = (double)bytes / 1024.0;
	/* Move up while the one-decimal rounding would print 1024.0. */
	for (u = 0; v >= 1023.95 && u + 1 < sizeof units - 1; u++)
		v /= 1024.0;
	snprintf(buf, size, "%.1f%c", v, units[u]);
	return (buf);
}

/* 93784 s -> "1d2h", 3700 -> "1h1m", 125 -> "2m5s", 59 -> "59s". */
char *
prof_format_duration(double seconds, char *buf, size_t size)
{
	long long	s;

	if (isnan(seconds) || seconds < 0) {
		snprintf(buf, size, "-");
		return (buf);
	}
	if (seconds > 1e15)
		seconds = 1e15;
	s = (long long)seconds;
	if (s >= 86400)
		snprintf(buf, size, "%lldd%lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%lldm%llds", s / 60, s % 60);
	else
		snprintf(buf, size, "%llds", s);
	return (buf);
}
