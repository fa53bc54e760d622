/* SPDX-License-Identifier: ISC */
/*
 * prof-metrics.c -- how the device is doing right now (what heartbeat
 * carries): one raw sample of the counters that need two readings, and the
 * instantaneous values (memory, disk, load, uptime, temperature, battery).
 */
#include <sys/statvfs.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol.h"
#include "profiler.h"
#include "prof-parse.h"

/* Take one sample of CPU and network counters under root. */
void
prof_sample_read(const char *root, struct prof_sample *s)
{
	struct timespec	 ts;
	char		*buf;

	memset(s, 0, sizeof *s);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
		s->when = ts.tv_sec + ts.tv_nsec / 1e9;
	else
		s->when = NAN;
	if (prof_stat_read(root, &s->cpu_total, &s->cpu_idle) == 0)
		s->cpu_valid = 1;
	if ((buf = prof_read_file(root, "/proc/net/dev", NULL)) != NULL) {
		if (prof_parse_netdev(buf, &s->net_rx, &s->net_tx, NULL,
		    NULL) == 0)
			s->net_valid = 1;
		free(buf);
	}
}

/* Percent of the filesystem at path in use, as df counts it. */
static double
metrics_disk(const char *path)
{
	struct statvfs	sv;
	double		used, avail;

	if (path == NULL || statvfs(path, &sv) != 0 || sv.f_blocks == 0 ||
	    sv.f_bfree > sv.f_blocks)
		return (NAN);
	used = (double)(sv.f_blocks - sv.f_bfree);
	avail = (double)sv.f_bavail;
	if (used + avail <= 0)
		return (NAN);
	return (used * 100.0 / (used + avail));
}

/*
 * Hottest thermal zone in degrees C; NAN if none can be read.  Zones are in
 * millidegrees, but a few vendor drivers report whole degrees; a reading of
 * 0 or outside -40..150 C is a sensor that is not there.
 */
static double
metrics_temperature(const char *root)
{
	char		**names, *path, *buf;
	size_t		  n, i;
	long long	  v;
	double		  t, best = NAN;

	names = prof_list_dir(root, "/sys/class/thermal", "thermal_zone", &n);
	for (i = 0; i < n; i++) {
		xasprintf(&path, "/sys/class/thermal/%s/temp", names[i]);
		buf = prof_read_file(root, path, NULL);
		free(path);
		if (buf == NULL)
			continue;
		if (prof_parse_int(buf, &v) == 0 && v != 0) {
			t = (v > -200 && v < 200) ? (double)v : v / 1000.0;
			if (t > -40 && t <= 150 && (isnan(best) || t > best))
				best = t;
		}
		free(buf);
	}
	prof_list_free(names, n);
	return (best);
}

/* Read root/sys/class/power_supply/NAME/FILE as one cleaned line. */
static char *
metrics_supply_attr(const char *root, const char *name, const char *file)
{
	char	*path, *buf, *s;
	size_t	 len;

	xasprintf(&path, "/sys/class/power_supply/%s/%s", name, file);
	buf = prof_read_file(root, path, &len);
	free(path);
	if (buf == NULL)
		return (NULL);
	s = prof_clean_string(buf, strcspn(buf, "\n"));
	free(buf);
	return (s);
}

/*
 * Battery: the mean capacity of the system's batteries (type "Battery",
 * not scope "Device", which is a mouse or a headset), charging when any
 * reports "Charging" or "Full".  A status the kernel cannot tell
 * ("Unknown") falls back to whether external power is online.
 */
static void
metrics_battery(const char *root, struct proto_metrics *m)
{
	char		**names, *type, *scope, *cap, *status, *online;
	size_t		  n, i;
	long long	  v, sum = 0;
	int		  count = 0, charging = -1, mains = 0;

	names = prof_list_dir(root, "/sys/class/power_supply", "", &n);
	for (i = 0; i < n; i++) {
		if ((type = metrics_supply_attr(root, names[i],
		    "type")) == NULL)
			continue;
		if (strcmp(type, "Battery") != 0) {
			online = metrics_supply_attr(root, names[i], "online");
			if (online != NULL && strcmp(online, "1") == 0)
				mains = 1;
			free(online);
			free(type);
			continue;
		}
		free(type);
		scope = metrics_supply_attr(root, names[i], "scope");
		if (scope != NULL && strcmp(scope, "Device") == 0) {
			free(scope);
			continue;
		}
		free(scope);
		cap = metrics_supply_attr(root, names[i], "capacity");
		if (cap == NULL || prof_parse_int(cap, &v) != 0 || v < 0 ||
		    v > 100) {
			free(cap);
			continue;
		}
		free(cap);
		sum += v;
		count++;
		status = metrics_supply_attr(root, names[i], "status");
		if (status != NULL) {
			if (strcmp(status, "Charging") == 0 ||
			    strcmp(status, "Full") == 0)
				charging = 1;
			else if ((strcmp(status, "Discharging") == 0 ||
			    strcmp(status, "Not charging") == 0) &&
			    charging == -1)
				charging = 0;
		}
		free(status);
	}
	prof_list_free(names, n);
	if (count == 0) {
		m->battery_percent = -1;
		m->battery_charging = 0;
		return;
	}
	m->battery_percent = (int)((sum + count / 2) / count);
	m->battery_charging = charging == -1 ? mains : charging;
}

/* Fill m with the current metrics under root and the rates from samples. */
void
prof_metrics_read(const char *root, const char *disk_path,
    const struct prof_sample *prev, const struct prof_sample *cur,
    struct proto_metrics *m)
{
	struct prof_meminfo	mi;
	double			la[3];
	int			i;

	memset(m, 0, sizeof *m);
	m->cpu_usage = prof_delta_cpu_pct(prev, cur);
	m->net_rx = prof_delta_net_rate(prev, cur, 0);
	m->net_tx = prof_delta_net_rate(prev, cur, 1);

	m->memory_usage = NAN;
	if (prof_meminfo_read(root, &mi) == 0)
		m->memory_usage = prof_meminfo_used_pct(&mi);
	m->disk_usage = metrics_disk(disk_path);
	if (prof_loadavg_read(root, la) == 0) {
		for (i = 0; i < 3; i++)
			m->load_average[i] = la[i];
	} else {
		for (i = 0; i < 3; i++)
			m->load_average[i] = NAN;
	}
	if (prof_uptime_read(root, &m->uptime) != 0)
		m->uptime = NAN;
	m->temperature = metrics_temperature(root);
	metrics_battery(root, m);
}
