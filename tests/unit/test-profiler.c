/* SPDX-License-Identifier: ISC */
/*
 * test-profiler.c -- the device profiler against captured trees of a
 * Raspberry Pi 1 (3.18 and 3.6 kernels), a Pi 4, a laptop and an Android
 * phone under tests/fixtures/proc/: every field of the profile and the
 * metrics from two samples, exactly.  Then the parsers' corners, the live
 * system (libproc2 and the plain parsers must agree), container runtime
 * detection with stand-in runtimes, and the human formatting.
 */
#include <sys/stat.h>
#include <sys/utsname.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol.h"
#include "profiler.h"
#include "prof-parse.h"

#define NETHDR								\
	"Inter-|   Receive                                                |" \
	"  Transmit\n face |bytes    packets errs drop fifo frame "	\
	"compressed multicast|bytes    packets errs drop fifo colls "	\
	"carrier compressed\n"

/* What one fixture must read as. */
struct fixture {
	const char	*name;
	/* device info */
	const char	*hostname;
	const char	*platform;
	const char	*arch;
	const char	*os;
	const char	*kernel;
	/* hardware */
	int		 cores;
	const char	*cpu_model;
	const char	*model;
	double		 mhz;		/* NAN: unknown */
	int64_t		 mem_kib;
	const char	*ifaces[4];	/* NULL-terminated */
	const char	*gpus[4];
	/* metrics */
	int64_t		 mem_avail_kib;	/* MemTotal - this is in use */
	double		 load[3];
	double		 uptime;
	double		 temp;		/* NAN: none */
	int		 battery;
	int		 charging;
	/* the second sample, two seconds later */
	const char	*stat2;		/* NULL: no /proc/stat */
	const char	*netdev2;
	double		 cpu;		/* NAN: unknown */
	int64_t		 rx;
	int64_t		 tx;
};

static const struct fixture fixtures[] = {
	{ "pi1",
	  "pi-kitchen", "linux", "armv6l", "Raspbian GNU/Linux 7 (wheezy)",
	  "3.18.11+",
	  1, "ARMv6-compatible processor rev 7 (v6l)",
	  "Raspberry Pi Model B Rev 2", 700.0, 447780,
	  { "eth0", NULL }, { NULL },
	  386548, { 0.52, 0.31, 0.22 }, 35763.41, 48.692, -1, 0,
	  "cpu  81825 0 30961 3459980 2811 12 1052 0 0 0\n"
	  "cpu0 81825 0 30961 3459980 2811 12 1052 0 0 0\n",
	  NETHDR
	  "    lo:   19612     233    0    0    0     0          0         0"
	  "    19612     233    0    0    0     0       0          0\n"
	  "  eth0: 48926349   61307    0    0    0     0          0         0"
	  "  6459834   39122    0    0    0     0       0          0\n",
	  50.0, 100000, 20000 },
	{ "pi1-wheezy",
	  "raspberrypi", "linux", "armv6l", "Raspbian GNU/Linux 7 (wheezy)",
	  "3.6.11+",
	  1, "ARMv6-compatible processor rev 7 (v6l)", NULL, NAN, 448776,
	  { "eth0", NULL }, { NULL },
	  300112 + 17340 + 84528, { 0.08, 0.03, 0.05 }, 9997.42, 51.92, -1, 0,
	  "cpu  10342 31 5120 981533 3012 0 104 0 0 0\n",
	  NETHDR
	  "  eth0: 2206394    3320    0    0    0     0          0         0"
	  "   302220    2016    0    0    0     0       0          0\n",
	  25.0, 2500, 500 },
	{ "pi4",
	  "pi4-garage", "linux", "aarch64", "Debian GNU/Linux 12 (bookworm)",
	  "6.1.21-v8+",
	  4, "BCM2835", "Raspberry Pi 4 Model B Rev 1.4", 1500.0, 3884584,
	  { "eth0", "wlan0", NULL }, { "drm:card0", "drm:card1", NULL },
	  3312040, { 0.41, 0.37, 0.30 }, 22461.87, 52.582, -1, 0,
	  "cpu  120700 310 45310 8812945 4210 0 2210 0 0 0\n",
	  NETHDR
	  "    lo:  124512    1203    0    0    0     0          0         0"
	  "   124512    1203    0    0    0     0       0          0\n"
	  "  eth0: 915345678  704345    0    0    0     0          0      1203"
	  " 45323456  302234    0    0    0     0       0          0\n"
	  " wlan0:  3413345   21044    0    0    0     0          0         0"
	  "   812345    9012    0    0    0     0       0          0\n",
	  40.0, 1500500, 100000 },
	{ "laptop",
	  "thinkpad", "linux", "x86_64", "Debian GNU/Linux 12 (bookworm)",
	  "6.1.0-18-amd64",
	  4, "Intel(R) Core(TM) i5-7200U CPU @ 2.50GHz", NULL, 2700.112,
	  7972104,
	  { "enp0s31f6", "wlp2s0", NULL }, { "drm:card0", NULL },
	  5123456, { 1.23, 0.98, 0.77 }, 25893.10, 61.0, 57, 0,
	  "cpu  413140 1203 120545 9815145 12234 0 3401 0 0 0\n",
	  NETHDR
	  "    lo: 2412345   20123    0    0    0     0          0         0"
	  "  2412345   20123    0    0    0     0       0          0\n"
	  "enp0s31f6:       0       0    0    0    0     0          0        "
	  " 0        0       0    0    0    0     0       0          0\n"
	  "wlp2s0: 1838567890 1405345    0   12    0     0          0        "
	  " 0 123556789  612845    0    0    0     0       0          0\n",
	  25.0, 2000000, 50000 },
	{ "android",
	  "localhost", "android", "aarch64", "Android 11",
	  "4.14.190-g7d2c3a1b9e0f-ab7069271",
	  8, "Qualcomm Technologies, Inc SM8150", "Pixel 4", 2841.6, 5659492,
	  { "rmnet_data0", "wlan0", NULL }, { NULL },
	  2104512, { 3.45, 3.12, 2.98 }, 523411.22, NAN, 83, 1,
	  NULL,
	  NETHDR
	  "    lo:  812345    4012    0    0    0     0          0         0"
	  "   812345    4012    0    0    0     0       0          0\n"
	  "rmnet_data0:       0       0    0    0    0     0          0      "
	  "   0        0       0    0    0    0     0       0          0\n"
	  " wlan0: 735512345  613345    0    0    0     0          0         0"
	  " 51294567  301434    0    0    0     0       0          0\n",
	  NAN, 500000, 30000 },
};

/* Where the source tree is: $ENCORE_SRC, else the current directory. */
static char *
fixture_root(const char *name)
{
	const char	*src;
	char		*root;

	if ((src = getenv("ENCORE_SRC")) == NULL || *src == '\0')
		src = ".";
	xasprintf(&root, "%s/tests/fixtures/proc/%s", src, name);
	return (root);
}

/* Write a file, making its directories. */
static void
write_file(const char *dir, const char *rel, const char *text)
{
	char	*path, *p;
	FILE	*f;

	xasprintf(&path, "%s/%s", dir, rel);
	for (p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	free(path);
}

/* nftw callback removing one entry. */
static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

/* A fresh temporary directory. */
static char *
temp_dir(void)
{
	char	*dir;

	dir = xstrdup("/tmp/encore-prof-XXXXXX");
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	return (dir);
}

/* Remove a temporary tree. */
static void
temp_remove(char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* Compare strings where NULL means "unknown". */
static void
check_str(const char *fixture, const char *field, const char *got,
    const char *want)
{
	if (want == NULL && got == NULL)
		return;
	if (want == NULL || got == NULL || strcmp(want, got) != 0)
		fail_msg("%s: %s is \"%s\", want \"%s\"", fixture, field,
		    got ? got : "(null)", want ? want : "(null)");
}

/* Compare doubles where NAN means "unknown". */
static void
check_num(const char *fixture, const char *field, double got, double want)
{
	if (isnan(want) && isnan(got))
		return;
	if (isnan(want) || isnan(got) || fabs(got - want) > 1e-6)
		fail_msg("%s: %s is %f, want %f", fixture, field, got, want);
}

/* Compare a NULL-terminated list with a counted one. */
static void
check_list(const char *fixture, const char *field, char **got, size_t n,
    const char *const *want)
{
	size_t	i;

	for (i = 0; i < n && want[i] != NULL; i++)
		check_str(fixture, field, got[i], want[i]);
	if (i != n || want[i] != NULL)
		fail_msg("%s: %s has %zu entries, want more or fewer", fixture,
		    field, n);
}

/* Every field of each fixture's profile. */
static void
test_fixture_profiles(void **state)
{
	const struct fixture	*fx;
	struct prof_device	 dev;
	char			*root;
	size_t			 i;

	for (i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
		fx = &fixtures[i];
		root = fixture_root(fx->name);
		prof_device_read(root, NULL, &dev);
		check_str(fx->name, "hostname", dev.info.hostname,
		    fx->hostname);
		check_str(fx->name, "platform", dev.info.platform,
		    fx->platform);
		check_str(fx->name, "architecture", dev.info.architecture,
		    fx->arch);
		check_str(fx->name, "os", dev.info.os, fx->os);
		check_str(fx->name, "kernel", dev.info.kernel, fx->kernel);
		check_str(fx->name, "role", dev.info.role, "worker");
		if (dev.hw.cpu_cores != fx->cores)
			fail_msg("%s: cores %d, want %d", fx->name,
			    dev.hw.cpu_cores, fx->cores);
		check_str(fx->name, "cpu_model", dev.hw.cpu_model,
		    fx->cpu_model);
		check_str(fx->name, "model", dev.hw.model, fx->model);
		check_num(fx->name, "cpu_mhz", dev.hw.cpu_mhz, fx->mhz);
		assert_int_equal(dev.hw.memory_total, fx->mem_kib * 1024);
		assert_int_equal(dev.hw.disk_space, -1);
		assert_int_equal(dev.hw.disk_free, -1);
		check_list(fx->name, "network_interfaces",
		    dev.hw.network_interfaces, dev.hw.n_ifaces, fx->ifaces);
		check_list(fx->name, "gpus", dev.hw.gpus, dev.hw.n_gpus,
		    fx->gpus);
		prof_device_free(&dev);
		free(root);
	}
}

/* Each fixture's metrics, the rates from a second sample 2 s later. */
static void
test_fixture_metrics(void **state)
{
	const struct fixture	*fx;
	struct prof_sample	 a, b;
	struct proto_metrics	 m;
	char			*root, *tmp;
	size_t			 i;
	int			 j;
	double			 mem;

	for (i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
		fx = &fixtures[i];
		root = fixture_root(fx->name);
		tmp = temp_dir();
		if (fx->stat2 != NULL)
			write_file(tmp, "proc/stat", fx->stat2);
		write_file(tmp, "proc/net/dev", fx->netdev2);

		prof_sample_read(root, &a);
		assert_int_equal(a.cpu_valid, fx->stat2 != NULL);
		assert_int_equal(a.net_valid, 1);
		prof_sample_read(tmp, &b);
		b.when = a.when + 2.0;

		/* No previous sample: the rates are unknown. */
		prof_metrics_read(root, NULL, NULL, &a, &m);
		assert_true(isnan(m.cpu_usage));
		assert_int_equal(m.net_rx, -1);
		assert_int_equal(m.net_tx, -1);

		prof_metrics_read(root, NULL, &a, &b, &m);
		check_num(fx->name, "cpu_usage", m.cpu_usage, fx->cpu);
		assert_int_equal(m.net_rx, fx->rx);
		assert_int_equal(m.net_tx, fx->tx);
		mem = (double)(fx->mem_kib - fx->mem_avail_kib) * 100.0 /
		    (double)fx->mem_kib;
		check_num(fx->name, "memory_usage", m.memory_usage, mem);
		assert_true(isnan(m.disk_usage));
		for (j = 0; j < 3; j++)
			check_num(fx->name, "load_average", m.load_average[j],
			    fx->load[j]);
		check_num(fx->name, "uptime", m.uptime, fx->uptime);
		check_num(fx->name, "temperature", m.temperature, fx->temp);
		if (m.battery_percent != fx->battery ||
		    m.battery_charging != fx->charging)
			fail_msg("%s: battery %d/%d, want %d/%d", fx->name,
			    m.battery_percent, m.battery_charging,
			    fx->battery, fx->charging);

		temp_remove(tmp);
		free(root);
	}
}

/* A root with nothing in it: everything unknown, nothing made up. */
static void
test_empty_root(void **state)
{
	struct prof_device	 dev;
	struct prof_sample	 a, b;
	struct proto_metrics	 m;
	char			*tmp;

	tmp = temp_dir();
	prof_device_read(tmp, NULL, &dev);
	assert_null(dev.info.hostname);
	assert_string_equal(dev.info.platform, "linux");
	assert_null(dev.info.architecture);
	assert_null(dev.info.os);
	assert_null(dev.info.kernel);
	assert_string_equal(dev.info.role, "worker");
	assert_int_equal(dev.hw.cpu_cores, -1);
	assert_null(dev.hw.cpu_model);
	assert_null(dev.hw.model);
	assert_true(isnan(dev.hw.cpu_mhz));
	assert_int_equal(dev.hw.memory_total, -1);
	assert_int_equal(dev.hw.n_ifaces, 0);
	assert_int_equal(dev.hw.n_gpus, 0);
	prof_device_free(&dev);

	prof_sample_read(tmp, &a);
	prof_sample_read(tmp, &b);
	assert_int_equal(a.cpu_valid, 0);
	assert_int_equal(a.net_valid, 0);
	prof_metrics_read(tmp, "/nonexistent/dir", &a, &b, &m);
	assert_true(isnan(m.cpu_usage));
	assert_true(isnan(m.memory_usage));
	assert_true(isnan(m.disk_usage));
	assert_true(isnan(m.load_average[0]));
	assert_true(isnan(m.uptime));
	assert_true(isnan(m.temperature));
	assert_int_equal(m.battery_percent, -1);
	assert_int_equal(m.net_rx, -1);
	assert_int_equal(m.net_tx, -1);

	/* Garbage in every file is no better than no file. */
	write_file(tmp, "proc/meminfo", "MemTotal: lots\n");
	write_file(tmp, "proc/cpuinfo", "BogoMIPS\t: 697.95\n");
	write_file(tmp, "proc/loadavg", "nan inf -1\n");
	write_file(tmp, "proc/uptime", "-5 0\n");
	write_file(tmp, "proc/stat", "cpu  1 2\n");
	write_file(tmp, "sys/class/thermal/thermal_zone0/temp", "0\n");
	write_file(tmp, "sys/class/thermal/thermal_zone1/temp", "-273000\n");
	write_file(tmp, "sys/class/thermal/thermal_zone2/temp", "9999999\n");
	write_file(tmp, "sys/class/power_supply/BAT0/type", "Battery\n");
	write_file(tmp, "sys/class/power_supply/BAT0/capacity", "250\n");
	prof_device_read(tmp, NULL, &dev);
	assert_int_equal(dev.hw.cpu_cores, -1);
	assert_true(isnan(dev.hw.cpu_mhz));	/* BogoMIPS is not MHz */
	assert_int_equal(dev.hw.memory_total, -1);
	prof_device_free(&dev);
	prof_sample_read(tmp, &a);
	assert_int_equal(a.cpu_valid, 0);
	prof_metrics_read(tmp, NULL, NULL, NULL, &m);
	assert_true(isnan(m.memory_usage));
	assert_true(isnan(m.load_average[2]));
	assert_true(isnan(m.uptime));
	assert_true(isnan(m.temperature));
	assert_int_equal(m.battery_percent, -1);
	temp_remove(tmp);
}

/* disk_path is a real directory, measured with statvfs. */
static void
test_disk(void **state)
{
	struct prof_device	 dev;
	struct proto_metrics	 m;
	char			*tmp, *root;

	tmp = temp_dir();
	root = fixture_root("pi4");
	prof_device_read(root, tmp, &dev);
	assert_true(dev.hw.disk_space > 0);
	assert_true(dev.hw.disk_free >= 0);
	assert_true(dev.hw.disk_free <= dev.hw.disk_space);
	prof_device_free(&dev);
	prof_metrics_read(root, tmp, NULL, NULL, &m);
	assert_true(m.disk_usage >= 0 && m.disk_usage <= 100);
	free(root);
	temp_remove(tmp);
}

/* Parser corners not covered by a whole fixture. */
static void
test_parsers(void **state)
{
	struct prof_meminfo	 mi;
	struct prof_cpuinfo	 ci;
	uint64_t		 total, idle, rx, tx;
	double			 la[3], up;
	char			**names, *s;
	size_t			 n, i;
	long long		 v;
	char			 longname[300];

	/* A 3.x kernel without MemAvailable: free + buffers + cached. */
	assert_int_equal(prof_parse_meminfo("MemTotal: 1000 kB\n"
	    "MemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n", &mi), 0);
	assert_int_equal(mi.available, -1);
	assert_true(fabs(prof_meminfo_used_pct(&mi) - 60.0) < 1e-9);
	assert_int_equal(prof_parse_meminfo("MemFree: 1 kB\n", &mi), -1);
	assert_true(isnan(prof_meminfo_used_pct(&mi)));
	assert_int_equal(prof_parse_meminfo("MemTotal: 1000 kB\n", &mi), 0);
	assert_true(isnan(prof_meminfo_used_pct(&mi)));

	/* guest and guest_nice are already inside user and nice. */
	assert_int_equal(prof_parse_stat("cpu  100 0 0 100 0 0 0 0 50 0\n",
	    &total, &idle), 0);
	assert_int_equal(total, 200);
	assert_int_equal(idle, 100);
	/* 2.6.11-era four-field line. */
	assert_int_equal(prof_parse_stat("cpu0 1 1 1 1\ncpu 5 0 5 10\n",
	    &total, &idle), 0);
	assert_int_equal(total, 20);
	assert_int_equal(idle, 10);
	assert_int_equal(prof_parse_stat("intr 1 2 3\n", &total, &idle), -1);

	assert_int_equal(prof_parse_netdev("garbage\n", &rx, &tx, &names,
	    &n), -1);
	assert_int_equal(n, 0);
	assert_int_equal(prof_parse_netdev(NETHDR
	    "eth0:1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n"
	    "eth0:1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n"
	    "lo:5 0 0 0 0 0 0 0 5 0 0 0 0 0 0 0\n", &rx, &tx, &names, &n), 0);
	assert_int_equal(rx, 2);
	assert_int_equal(tx, 4);
	assert_int_equal(n, 1);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);

	assert_int_equal(prof_parse_loadavg("1.5 2 0.25 1/2 3\n", la), 0);
	assert_true(la[0] == 1.5 && la[1] == 2 && la[2] == 0.25);
	assert_int_equal(prof_parse_loadavg("1.5 2\n", la), -1);
	assert_int_equal(prof_parse_uptime("12.5 3\n", &up), 0);
	assert_true(up == 12.5);
	assert_int_equal(prof_parse_uptime("", &up), -1);

	/* A Pi 3 on a 32-bit kernel; a 32-bit-only x86. */
	prof_parse_cpuinfo("processor\t: 0\nmodel name\t: ARMv7 Processor "
	    "rev 4 (v7l)\nCPU architecture: 7\n", &ci);
	assert_string_equal(prof_cpuinfo_arch(&ci), "armv7l");
	prof_cpuinfo_free(&ci);
	prof_parse_cpuinfo("processor\t: 0\nCPU architecture: 8\n", &ci);
	assert_string_equal(prof_cpuinfo_arch(&ci), "aarch64");
	prof_cpuinfo_free(&ci);
	prof_parse_cpuinfo("processor\t: 0\nvendor_id\t: GenuineIntel\n"
	    "flags\t\t: fpu vme pae\n", &ci);
	assert_string_equal(prof_cpuinfo_arch(&ci), "i686");
	prof_cpuinfo_free(&ci);
	prof_parse_cpuinfo("vendor_id : AuthenticAMD\nflags : fpu lm\n", &ci);
	assert_string_equal(prof_cpuinfo_arch(&ci), "x86_64");
	prof_cpuinfo_free(&ci);
	prof_parse_cpuinfo("", &ci);
	assert_null(prof_cpuinfo_arch(&ci));
	assert_true(isnan(ci.mhz));
	prof_cpuinfo_free(&ci);

	s = prof_parse_keyval("# c\nNAME=x\nPRETTY_NAME=\"Foo \\\"Bar\\\" "
	    "1\"\n", "PRETTY_NAME", '=');
	assert_string_equal(s, "Foo \"Bar\" 1");
	free(s);
	s = prof_parse_keyval("PRETTY_NAME='Alpine Linux v3.19'\n",
	    "PRETTY_NAME", '=');
	assert_string_equal(s, "Alpine Linux v3.19");
	free(s);
	assert_null(prof_parse_keyval("PRETTY_NAME=\"\"\n", "PRETTY_NAME",
	    '='));
	s = prof_parse_keyval("Model: \t\t GeForce GTX 1050\nIRQ: 5\n",
	    "Model", ':');
	assert_string_equal(s, "GeForce GTX 1050");
	free(s);

	assert_int_equal(prof_parse_int("48692\n", &v), 0);
	assert_int_equal(v, 48692);
	assert_int_equal(prof_parse_int("-5\n", &v), 0);
	assert_int_equal(prof_parse_int("12abc\n", &v), -1);
	assert_int_equal(prof_parse_int("", &v), -1);
	assert_int_equal(prof_parse_cpulist("0-3,5\n"), 5);
	assert_int_equal(prof_parse_cpulist("0\n"), 1);
	assert_int_equal(prof_parse_cpulist(""), -1);
	assert_int_equal(prof_parse_cpulist("3-1"), -1);
	assert_int_equal(prof_parse_cpulist("0-99999999"), -1);

	/* Control bytes, bad UTF-8 and overlong strings are made safe. */
	s = prof_clean_string("  a\tb\x01" "c\xff" "d\xc3\xa9  ", 15);
	assert_string_equal(s, "a b c?d\xc3\xa9");
	free(s);
	assert_null(prof_clean_string(" \t\r\n", 4));
	memset(longname, 'x', sizeof longname);
	longname[125] = '\xc3';
	longname[126] = '\xa9';
	longname[sizeof longname - 1] = '\0';
	s = prof_clean_string(longname, strlen(longname));
	assert_int_equal(strlen(s), PROF_STRING_MAX);
	free(s);
	longname[126] = '\xc3';
	longname[127] = '\xa9';
	s = prof_clean_string(longname, strlen(longname));
	assert_int_equal(strlen(s), 126);	/* no half character */
	free(s);
}

/* Read MemTotal in KiB straight from /proc/meminfo, independently. */
static long long
live_memtotal(void)
{
	FILE		*f;
	char		 line[256];
	long long	 kib = -1;

	if ((f = fopen("/proc/meminfo", "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "MemTotal: %lld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return (kib);
}

/* The live system: cores, memory, architecture as the OS reports them. */
static void
test_live_device(void **state)
{
	struct prof_device	 dev;
	struct utsname		 u;
	char			 host[256];

	prof_device_read("/", "/", &dev);
	assert_int_equal(dev.hw.cpu_cores, sysconf(_SC_NPROCESSORS_ONLN));
	assert_int_equal(dev.hw.memory_total, live_memtotal() * 1024);
	assert_int_equal(uname(&u), 0);
	assert_string_equal(dev.info.architecture, u.machine);
	assert_string_equal(dev.info.kernel, u.release);
	assert_int_equal(gethostname(host, sizeof host), 0);
	assert_string_equal(dev.info.hostname, host);
	assert_string_equal(dev.info.role, "worker");
	assert_non_null(dev.info.platform);
	assert_true(dev.hw.disk_space > 0);
	assert_true(dev.hw.disk_free <= dev.hw.disk_space);
	prof_device_free(&dev);
}

/* Live metrics are in range; a busy loop shows as CPU use. */
static void
test_live_metrics(void **state)
{
	struct prof_sample	 a, b;
	struct proto_metrics	 m;
	struct timespec		 t0, t1;
	volatile uint64_t	 spins = 0;

	prof_sample_read("/", &a);
	assert_int_equal(a.cpu_valid, 1);
	assert_int_equal(a.net_valid, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		spins = spins + 1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000 < 300);
	prof_sample_read("/", &b);
	assert_true(spins > 0);
	assert_true(b.when > a.when);
	prof_metrics_read("/", "/", &a, &b, &m);
	assert_false(isnan(m.cpu_usage));
	assert_true(m.cpu_usage > 0 && m.cpu_usage <= 100);
	assert_true(m.memory_usage > 0 && m.memory_usage < 100);
	assert_true(m.disk_usage >= 0 && m.disk_usage <= 100);
	assert_true(m.load_average[0] >= 0);
	assert_true(m.uptime > 0);
	assert_true(m.net_rx >= 0 && m.net_tx >= 0);
	assert_true(isnan(m.temperature) ||
	    (m.temperature > -40 && m.temperature <= 150));
	assert_true(m.battery_percent >= -1 && m.battery_percent <= 100);
}

/* On the live system libproc2 and the plain parsers read the same. */
static void
test_live_proc2_agrees(void **state)
{
	struct prof_meminfo	 p2, file;
	uint64_t		 t1, i1, t2, i2, t3, i3;
	double			 la_p2[3], la_file[3], up_p2, up_file;
	int			 i;

	assert_int_equal(prof_proc2_meminfo(&p2), 0);
	assert_int_equal(prof_file_meminfo("/", &file), 0);
	assert_int_equal(p2.total, file.total);
	assert_true(p2.available >= 0 && file.available >= 0);
	assert_true(llabs(p2.available - file.available) < file.total / 10);

	/* Ticks only grow: file <= libproc2 <= file, read in that order. */
	assert_int_equal(prof_file_stat("/", &t1, &i1), 0);
	assert_int_equal(prof_proc2_stat(&t2, &i2), 0);
	assert_int_equal(prof_file_stat("/", &t3, &i3), 0);
	assert_true(t1 <= t2 && t2 <= t3);
	assert_true(i1 <= i2 && i2 <= i3);

	assert_int_equal(prof_proc2_loadavg(la_p2), 0);
	assert_int_equal(prof_file_loadavg("/", la_file), 0);
	for (i = 0; i < 3; i++)
		assert_true(fabs(la_p2[i] - la_file[i]) < 0.5);

	assert_int_equal(prof_proc2_uptime(&up_p2), 0);
	assert_int_equal(prof_file_uptime("/", &up_file), 0);
	assert_true(fabs(up_p2 - up_file) < 1.0);
}

/* Container runtimes: found on PATH, asked `info`, hung ones killed. */
static void
test_runtime_detect(void **state)
{
	char		*tmp, *path, *oldpath;
	const char	*ok = "#!/bin/sh\nexit 0\n";
	const char	*bad = "#!/bin/sh\nexit 1\n";
	const char	*hang = "#!/bin/sh\nexec /bin/sleep 30\n";
	struct timespec	 t0, t1;
	double		 secs;

	tmp = temp_dir();
	oldpath = getenv("PATH") ? xstrdup(getenv("PATH")) : NULL;
	xasprintf(&path, "/nonexistent:%s", tmp);
	setenv("PATH", path, 1);

	/* Nothing on PATH. */
	assert_null(prof_runtime_detect_timeout("auto", 2000));
	assert_null(prof_runtime_detect_timeout("podman", 2000));

	write_file(tmp, "podman", ok);
	write_file(tmp, "docker", ok);
	assert_null(prof_runtime_detect_timeout("docker", 2000)); /* not +x */
	free(path);
	xasprintf(&path, "%s/podman", tmp);
	chmod(path, 0755);
	free(path);
	xasprintf(&path, "%s/docker", tmp);
	chmod(path, 0755);

	assert_string_equal(prof_runtime_detect_timeout("auto", 2000),
	    "podman");
	assert_string_equal(prof_runtime_detect_timeout(NULL, 2000),
	    "podman");
	assert_string_equal(prof_runtime_detect_timeout("docker", 2000),
	    "docker");
	assert_null(prof_runtime_detect("none"));
	assert_null(prof_runtime_detect_timeout("lxc", 2000));

	/* podman whose `info` fails: auto falls back to docker. */
	write_file(tmp, "podman", bad);
	assert_string_equal(prof_runtime_detect_timeout("auto", 2000),
	    "docker");
	assert_null(prof_runtime_detect_timeout("podman", 2000));

	/* docker that never answers is killed at the limit. */
	write_file(tmp, "docker", hang);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_null(prof_runtime_detect_timeout("auto", 300));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs >= 0.3 && secs < 5.0);

	free(path);
	if (oldpath != NULL) {
		setenv("PATH", oldpath, 1);
		free(oldpath);
	} else
		unsetenv("PATH");
	temp_remove(tmp);
}

/* Human formatting shared with the TUI. */
static void
test_format(void **state)
{
	static const struct {
		int64_t		 bytes;
		const char	*want;
	} bytes[] = {
		{ -1, "-" }, { 0, "0B" }, { 512, "512B" }, { 1023, "1023B" },
		{ 1024, "1.0K" }, { 1536, "1.5K" }, { 1048575, "1.0M" },
		{ 3LL << 30, "3.0G" }, { 447780LL * 1024, "437.3M" },
		{ INT64_MAX, "8.0E" },
	};
	static const struct {
		double		 secs;
		const char	*want;
	} durs[] = {
		{ -1, "-" }, { NAN, "-" }, { 0, "0s" }, { 59, "59s" },
		{ 59.9, "59s" }, { 60, "1m0s" }, { 125, "2m5s" },
		{ 3700, "1h1m" }, { 93784, "1d2h" }, { 1e300, "11574074074d"
		"1h" },
	};
	char	buf[32];
	size_t	i;

	for (i = 0; i < sizeof bytes / sizeof bytes[0]; i++)
		assert_string_equal(prof_format_bytes(bytes[i].bytes, buf,
		    sizeof buf), bytes[i].want);
	for (i = 0; i < sizeof durs / sizeof durs[0]; i++)
		assert_string_equal(prof_format_duration(durs[i].secs, buf,
		    sizeof buf), durs[i].want);
	/* A short buffer is cut, not overrun. */
	assert_string_equal(prof_format_bytes(3LL << 30, buf, 3), "3.");
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_fixture_profiles),
		cmocka_unit_test(test_fixture_metrics),
		cmocka_unit_test(test_empty_root),
		cmocka_unit_test(test_disk),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_live_device),
		cmocka_unit_test(test_live_metrics),
		cmocka_unit_test(test_live_proc2_agrees),
		cmocka_unit_test(test_runtime_detect),
		cmocka_unit_test(test_format),
	};

	log_init("test-profiler", LOG_ERROR);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
