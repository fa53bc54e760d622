/* SPDX-License-Identifier: ISC */
/*
 * profiler.h -- what a device is and how it is doing, read from /proc and
 * /sys.  Every reader takes a root directory ("/" on a live system, a
 * captured tree under tests/fixtures/proc/ in tests) and turns anything
 * missing or unreadable into "unknown" (NAN / -1 / NULL), never a crash or
 * a wrong zero.
 */
#ifndef PROFILER_H
#define PROFILER_H

#include <stdint.h>

#include "protocol.h"

/*
 * One raw sample of the counters that need two readings to mean anything.
 * Plain numbers, so prof-delta.c is pure.
 */
struct prof_sample {
	double		 when;		/* monotonic seconds */
	int		 cpu_valid;	/* /proc/stat was read */
	uint64_t	 cpu_total;	/* jiffies, all states */
	uint64_t	 cpu_idle;	/* idle + iowait */
	int		 net_valid;	/* /proc/net/dev was read */
	uint64_t	 net_rx;	/* bytes, summed over non-lo ifaces */
	uint64_t	 net_tx;
};

/* Static facts about the device. */
struct prof_device {
	struct proto_device_info info;	/* strings owned */
	struct proto_hw_specs	 hw;	/* strings owned */
};

/*
 * Read the device profile.  root is the filesystem root to read /proc, /sys
 * and /etc from ("/" for the live system); disk_path is the directory whose
 * filesystem's size is reported (the state dir).  Never fails: what cannot
 * be read stays unknown.  Free with prof_device_free().
 */
void	prof_device_read(const char *root, const char *disk_path,
	    struct prof_device *dev);
void	prof_device_free(struct prof_device *dev);

/*
 * Read /sys from sysfs and /proc from procfs instead of under each
 * reader's root (the worker's --sysfs and --procfs: a container with the
 * host's trees mounted elsewhere, or a test's fake tree).  NULL or the
 * usual path restores the default.  Where /proc is not the live one,
 * libproc2 (which reads only the real /proc) is not used.
 */
void	prof_set_mounts(const char *sysfs, const char *procfs);

/* Take one sample of CPU and network counters under root. */
void	prof_sample_read(const char *root, struct prof_sample *s);

/*
 * Fill m with the current metrics: instantaneous values read under root
 * (memory, load, uptime, temperature, battery, disk usage of disk_path) and
 * rates from the two samples (cpu_usage, net_rx/net_tx per second).  prev
 * may be NULL (rates unknown).
 */
void	prof_metrics_read(const char *root, const char *disk_path,
	    const struct prof_sample *prev, const struct prof_sample *cur,
	    struct proto_metrics *m);

/* ---- prof-delta.c: pure arithmetic on two samples ---- */
/* CPU busy percent between two samples; NAN if unknown or no time passed. */
double	prof_delta_cpu_pct(const struct prof_sample *a,
	    const struct prof_sample *b);
/* Bytes per second for rx (which = 0) or tx (which = 1); -1 if unknown.
 * A counter that went backwards (wrap, interface reset) gives -1. */
int64_t	prof_delta_net_rate(const struct prof_sample *a,
	    const struct prof_sample *b, int which);

/* ---- prof-runtime.c: container runtimes ---- */
/*
 * Find a usable container runtime.  want is "auto", "podman", "docker" or
 * "none".  A runtime is usable when it is on PATH and `RUNTIME info` exits
 * 0 within a few seconds.  Returns "podman", "docker" or NULL (static
 * strings).
 */
const char *prof_runtime_detect(const char *want);

/* ---- prof-format.c: human formatting, shared with the TUI ---- */
/* 1536 -> "1.5K", 3 GiB -> "3.0G" (powers of 1024); "-" when < 0. */
char	*prof_format_bytes(int64_t bytes, char *buf, size_t size);
/* 93784 s -> "1d2h", 3700 -> "1h1m", 59 -> "59s"; "-" when < 0. */
char	*prof_format_duration(double seconds, char *buf, size_t size);

#endif /* PROFILER_H */
