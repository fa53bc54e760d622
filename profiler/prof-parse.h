/* SPDX-License-Identifier: ISC */
/*
 * prof-parse.h -- private to libprofiler, its unit tests and its fuzzer:
 * parsers that turn the text of one /proc or /sys file (already in memory,
 * NUL-terminated) into numbers, plus the root-aware file readers built on
 * them.  Nothing here is part of the interface in profiler.h.
 */
#ifndef PROF_PARSE_H
#define PROF_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/* Largest /proc or /sys file read (cpuinfo of a big machine fits). */
#define PROF_FILE_MAX		(1024 * 1024)
/* Longest string put into a profile (the wire caps names at 128). */
#define PROF_STRING_MAX		(PROTO_NAME_MAX - 1)

/* /proc/meminfo, in KiB; -1 where the line is missing. */
struct prof_meminfo {
	int64_t	 total;
	int64_t	 free;
	int64_t	 available;	/* MemAvailable: kernels >= 3.14 only */
	int64_t	 buffers;
	int64_t	 cached;
};

/* What /proc/cpuinfo says.  Strings are owned, NULL when absent. */
struct prof_cpuinfo {
	int	 processors;	/* "processor" lines (old UP ARM: none) */
	char	*model_name;	/* first "model name" */
	char	*processor;	/* old ARM "Processor" (capital P) */
	char	*hardware;	/* ARM "Hardware" */
	char	*model;		/* Raspberry Pi "Model" */
	char	*vendor_id;	/* x86 "vendor_id" */
	char	*cpu_arch;	/* ARM "CPU architecture" */
	double	 mhz;		/* first x86 "cpu MHz"; NAN when absent */
	int	 lm;		/* x86 "flags" has "lm" (64-bit); -1 unknown */
};

/* ---- prof-parse.c: pure parsers, no I/O ---- */
/* Parse meminfo text; 0 if MemTotal was found, else -1. */
int	 prof_parse_meminfo(const char *buf, struct prof_meminfo *mi);
/* Memory in use as a percent of MemTotal; NAN if unknown. */
double	 prof_meminfo_used_pct(const struct prof_meminfo *mi);
/* First "cpu" line of /proc/stat: total and idle(+iowait) jiffies. */
int	 prof_parse_stat(const char *buf, uint64_t *total, uint64_t *idle);
/*
 * /proc/net/dev: sum of rx/tx bytes over every interface but "lo".  When
 * names is not NULL, *names gets the interface names (caller frees each and
 * the array; NULL when none) and *n their count.  0, or -1 if no interface
 * line was found.
 */
int	 prof_parse_netdev(const char *buf, uint64_t *rx, uint64_t *tx,
	    char ***names, size_t *n);
/* /proc/loadavg: the three averages; 0 or -1. */
int	 prof_parse_loadavg(const char *buf, double la[3]);
/* /proc/uptime: seconds since boot; 0 or -1. */
int	 prof_parse_uptime(const char *buf, double *up);
/* Parse cpuinfo text into ci (always succeeds; free with the next). */
void	 prof_parse_cpuinfo(const char *buf, struct prof_cpuinfo *ci);
void	 prof_cpuinfo_free(struct prof_cpuinfo *ci);
/* Architecture name implied by cpuinfo ("armv6l", "aarch64", ...) or NULL. */
const char *prof_cpuinfo_arch(const struct prof_cpuinfo *ci);
/* "key=value" file (sep '=': os-release, build.prop; value unquoted) or
 * "key: value" file (sep ':'): the value of key, or NULL. */
char	*prof_parse_keyval(const char *buf, const char *key, int sep);
/* A file holding one integer (sysfs); 0 or -1. */
int	 prof_parse_int(const char *buf, long long *v);
/* A CPU list ("0-3,5"): how many CPUs; -1 if malformed. */
int	 prof_parse_cpulist(const char *buf);
/*
 * Copy at most len bytes of s as a profile string: trimmed, control bytes
 * and invalid UTF-8 replaced, at most PROF_STRING_MAX bytes.  NULL when
 * nothing is left.
 */
char	*prof_clean_string(const char *s, size_t len);

/* ---- prof-proc.c: reading files under a root ---- */
/* 1 if root is the live system ("/" or NULL). */
int	 prof_is_live(const char *root);
/* root + path ("/proc/meminfo"); caller frees. */
char	*prof_path(const char *root, const char *path);
/* Read a whole file (up to PROF_FILE_MAX), NUL-terminated; *len (if not
 * NULL) gets its length.  NULL if it cannot be read.  Caller frees. */
char	*prof_read_file(const char *root, const char *path, size_t *len);
/* Like prof_read_file on a full path. */
char	*prof_read_path(const char *path, size_t *len);
/* Entries of root + dir whose names start with prefix, sorted with
 * strverscmp (card2 < card10); NULL and *n = 0 if none.  At most
 * PROF_DIR_MAX.  Free with prof_list_free(). */
#define PROF_DIR_MAX		1024
char	**prof_list_dir(const char *root, const char *dir, const char *prefix,
	    size_t *n);
void	 prof_list_free(char **names, size_t n);

/* Readers: the live system goes through libproc2, any other root through
 * the parsers above.  Each returns 0 or -1 (unknown). */
int	 prof_meminfo_read(const char *root, struct prof_meminfo *mi);
int	 prof_stat_read(const char *root, uint64_t *total, uint64_t *idle);
int	 prof_loadavg_read(const char *root, double la[3]);
int	 prof_uptime_read(const char *root, double *up);
/* The libproc2 side alone (live system only), for the agreement test. */
int	 prof_proc2_meminfo(struct prof_meminfo *mi);
int	 prof_proc2_stat(uint64_t *total, uint64_t *idle);
int	 prof_proc2_loadavg(double la[3]);
int	 prof_proc2_uptime(double *up);
/* The file side alone, under any root (also "/"). */
int	 prof_file_meminfo(const char *root, struct prof_meminfo *mi);
int	 prof_file_stat(const char *root, uint64_t *total, uint64_t *idle);
int	 prof_file_loadavg(const char *root, double la[3]);
int	 prof_file_uptime(const char *root, double *up);

/* ---- prof-runtime.c ---- */
/* prof_runtime_detect() with the probe time limit in milliseconds. */
const char *prof_runtime_detect_timeout(const char *want, int timeout_ms);

#endif /* PROF_PARSE_H */
