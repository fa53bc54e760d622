/* SPDX-License-Identifier: ISC */
/*
 * prof-device.c -- the static facts of a device (what register carries):
 * names, architecture, OS, CPU, memory, disk, interfaces and GPUs.  Each
 * fact has its own fallbacks because old Pi kernels, Android under Termux
 * and laptops each hide a different part of /proc and /sys.
 */
#include <sys/statvfs.h>
#include <sys/utsname.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"
#include "profiler.h"
#include "prof-parse.h"

/* First non-empty, non-comment line of root + path, cleaned; or NULL. */
static char *
device_read_line(const char *root, const char *path)
{
	char	*buf, *line, *next, *s;

	if ((buf = prof_read_file(root, path, NULL)) == NULL)
		return (NULL);
	s = NULL;
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '#')
			continue;
		if ((s = prof_clean_string(line, strlen(line))) != NULL)
			break;
	}
	free(buf);
	return (s);
}

/* Does root + path exist? */
static int
device_exists(const char *root, const char *path)
{
	char	*full;
	int	 rc;

	full = prof_path(root, path);
	rc = access(full, F_OK) == 0;
	free(full);
	return (rc);
}

/* Hostname: gethostname() live, else /etc/hostname, else the sysctl. */
static char *
device_hostname(const char *root)
{
	char	 buf[256];
	char	*s;

	if (prof_is_live(root)) {
		if (gethostname(buf, sizeof buf) == 0) {
			buf[sizeof buf - 1] = '\0';
			if ((s = prof_clean_string(buf, strlen(buf))) != NULL)
				return (s);
		}
	}
	if ((s = device_read_line(root, "/etc/hostname")) != NULL)
		return (s);
	return (device_read_line(root, "/proc/sys/kernel/hostname"));
}

/* Android: a build.prop, or ANDROID_ROOT in our own environment. */
static int
device_is_android(const char *root)
{
	if (device_exists(root, "/system/build.prop"))
		return (1);
	return (prof_is_live(root) && getenv("ANDROID_ROOT") != NULL);
}

/* uname -m live; else the arch sysctl; else what cpuinfo implies. */
static char *
device_arch(const char *root, const struct prof_cpuinfo *ci)
{
	struct utsname	 u;
	const char	*a;
	char		*s;

	if (prof_is_live(root) && uname(&u) == 0 &&
	    (s = prof_clean_string(u.machine, strlen(u.machine))) != NULL)
		return (s);
	if ((s = device_read_line(root, "/proc/sys/kernel/arch")) != NULL)
		return (s);
	if ((a = prof_cpuinfo_arch(ci)) != NULL)
		return (xstrdup(a));
	return (NULL);
}

/* uname -r live; else the osrelease sysctl. */
static char *
device_kernel(const char *root)
{
	struct utsname	 u;
	char		*s;

	if (prof_is_live(root) && uname(&u) == 0 &&
	    (s = prof_clean_string(u.release, strlen(u.release))) != NULL)
		return (s);
	return (device_read_line(root, "/proc/sys/kernel/osrelease"));
}

/* "Android 11" from build.prop, else os-release's PRETTY_NAME. */
static char *
device_os(const char *root, int android)
{
	static const char	*files[] = {
		"/etc/os-release", "/usr/lib/os-release"
	};
	char			*buf, *v, *s;
	size_t			 i;

	if (android) {
		v = NULL;
		if ((buf = prof_read_file(root, "/system/build.prop",
		    NULL)) != NULL) {
			v = prof_parse_keyval(buf, "ro.build.version.release",
			    '=');
			free(buf);
		}
		if (v == NULL)
			return (xstrdup("Android"));
		xasprintf(&s, "Android %s", v);
		free(v);
		return (s);
	}
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		if ((buf = prof_read_file(root, files[i], NULL)) == NULL)
			continue;
		if ((v = prof_parse_keyval(buf, "PRETTY_NAME", '=')) == NULL)
			v = prof_parse_keyval(buf, "NAME", '=');
		free(buf);
		if (v != NULL)
			return (v);
	}
	return (NULL);
}

/*
 * Cores: "processor" entries of cpuinfo (a uniprocessor ARM kernel before
 * 3.8 prints none, only "Processor"), raised to the "present" CPU list
 * where that is larger: phones take idle cores offline, and an offline
 * core still counts.
 */
static int
device_cores(const char *root, const struct prof_cpuinfo *ci)
{
	char	*buf;
	long	 n;
	int	 cores = -1, present;

	if (ci->processors > 0)
		cores = ci->processors;
	else if (ci->processor != NULL)
		cores = 1;
	else if (prof_is_live(root) && (n = sysconf(_SC_NPROCESSORS_ONLN)) > 0 &&
	    n < INT_MAX)
		cores = (int)n;
	if ((buf = prof_read_file(root, "/sys/devices/system/cpu/present",
	    NULL)) != NULL) {
		present = prof_parse_cpulist(buf);
		free(buf);
		if (present > cores)
			cores = present;
	}
	return (cores);
}

/* "model name", else old ARM "Processor", else "Hardware". */
static char *
device_cpu_model(const struct prof_cpuinfo *ci)
{
	if (ci->model_name != NULL)
		return (xstrdup(ci->model_name));
	if (ci->processor != NULL)
		return (xstrdup(ci->processor));
	if (ci->hardware != NULL)
		return (xstrdup(ci->hardware));
	return (NULL);
}

/*
 * The board: device-tree model (NUL-terminated), else cpuinfo "Model" (Pi
 * kernels), else on Android the product model from build.prop.
 */
static char *
device_board(const char *root, const struct prof_cpuinfo *ci, int android)
{
	char	*buf, *s;
	size_t	 len;

	if ((buf = prof_read_file(root, "/proc/device-tree/model",
	    &len)) != NULL) {
		s = prof_clean_string(buf, len);
		free(buf);
		if (s != NULL)
			return (s);
	}
	if (ci->model != NULL)
		return (xstrdup(ci->model));
	if (android && (buf = prof_read_file(root, "/system/build.prop",
	    NULL)) != NULL) {
		if ((s = prof_parse_keyval(buf, "ro.product.model",
		    '=')) == NULL)
			s = prof_parse_keyval(buf, "ro.product.system.model",
			    '=');
		free(buf);
		return (s);
	}
	return (NULL);
}

/*
 * Clock: cpuinfo's "cpu MHz" (x86), else the highest cpufreq
 * cpuinfo_max_freq over all CPUs (big.LITTLE phones: the big cores), else
 * unknown.  BogoMIPS is not a clock and is never used.
 */
static double
device_mhz(const char *root, const struct prof_cpuinfo *ci)
{
	char		**names, *path, *buf;
	size_t		  n, i;
	long long	  khz, best = -1;

	if (!isnan(ci->mhz))
		return (ci->mhz);
	names = prof_list_dir(root, "/sys/devices/system/cpu", "cpu", &n);
	for (i = 0; i < n; i++) {
		if (strspn(names[i] + 3, "0123456789") == 0 ||
		    names[i][3 + strspn(names[i] + 3, "0123456789")] != '\0')
			continue;
		xasprintf(&path, "/sys/devices/system/cpu/%s/cpufreq/"
		    "cpuinfo_max_freq", names[i]);
		buf = prof_read_file(root, path, NULL);
		free(path);
		if (buf == NULL)
			continue;
		if (prof_parse_int(buf, &khz) == 0 && khz > 0 &&
		    khz < 100000000 && khz > best)
			best = khz;
		free(buf);
	}
	prof_list_free(names, n);
	return (best > 0 ? (double)best / 1000.0 : NAN);
}

/* Size and free space of the filesystem holding path. */
static void
device_disk(const char *path, int64_t *space, int64_t *avail)
{
	struct statvfs	sv;
	int64_t		a, b;

	*space = *avail = -1;
	if (path == NULL || statvfs(path, &sv) != 0 || sv.f_frsize == 0)
		return;
	if (!__builtin_mul_overflow(sv.f_blocks, sv.f_frsize, &a) &&
	    !__builtin_mul_overflow(sv.f_bavail, sv.f_frsize, &b)) {
		*space = a;
		*avail = b;
	}
}

/* Append s to a string list unless already there or full. */
static void
device_list_add(char ***list, size_t *n, char *s)
{
	size_t	i;

	for (i = 0; i < *n; i++) {
		if (strcmp((*list)[i], s) == 0)
			break;
	}
	if (i < *n || *n >= PROTO_LIST_MAX) {
		free(s);
		return;
	}
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	(*list)[(*n)++] = s;
}

/*
 * GPUs: the "Model:" of each NVIDIA proprietary driver GPU, then each DRM
 * card as "drm:cardN".  A DRM card whose PCI vendor is NVIDIA (0x10de) is
 * the same GPU as an entry already listed from the driver and is skipped.
 */
static void
device_gpus(const char *root, struct proto_hw_specs *hw)
{
	char		**names, *path, *buf, *s;
	size_t		  n, i, n_nvidia = 0;
	const char	 *num;

	names = prof_list_dir(root, "/proc/driver/nvidia/gpus", "", &n);
	for (i = 0; i < n; i++) {
		xasprintf(&path, "/proc/driver/nvidia/gpus/%s/information",
		    names[i]);
		buf = prof_read_file(root, path, NULL);
		free(path);
		if (buf == NULL)
			continue;
		s = prof_parse_keyval(buf, "Model", ':');
		free(buf);
		if (s != NULL) {
			device_list_add(&hw->gpus, &hw->n_gpus, s);
			n_nvidia++;
		}
	}
	prof_list_free(names, n);

	names = prof_list_dir(root, "/dev/dri", "card", &n);
	for (i = 0; i < n; i++) {
		num = names[i] + 4;
		if (*num == '\0' || num[strspn(num, "0123456789")] != '\0')
			continue;
		if (n_nvidia > 0) {
			xasprintf(&path, "/sys/class/drm/%s/device/vendor",
			    names[i]);
			buf = prof_read_file(root, path, NULL);
			free(path);
			if (buf != NULL && strncmp(buf, "0x10de", 6) == 0) {
				free(buf);
				continue;
			}
			free(buf);
		}
		xasprintf(&s, "drm:%s", names[i]);
		device_list_add(&hw->gpus, &hw->n_gpus, s);
	}
	prof_list_free(names, n);
}

/* Read the device profile under root; what cannot be read stays unknown. */
void
prof_device_read(const char *root, const char *disk_path,
    struct prof_device *dev)
{
	struct proto_device_info	*info = &dev->info;
	struct proto_hw_specs		*hw = &dev->hw;
	struct prof_cpuinfo		 ci;
	struct prof_meminfo		 mi;
	uint64_t			 rx, tx;
	char				*buf;
	int				 android;

	memset(dev, 0, sizeof *dev);
	hw->cpu_cores = -1;
	hw->cpu_mhz = NAN;
	hw->memory_total = hw->disk_space = hw->disk_free = -1;

	if ((buf = prof_read_file(root, "/proc/cpuinfo", NULL)) != NULL) {
		prof_parse_cpuinfo(buf, &ci);
		free(buf);
	} else
		prof_parse_cpuinfo("", &ci);

	android = device_is_android(root);
	info->hostname = device_hostname(root);
	info->platform = xstrdup(android ? "android" : "linux");
	info->architecture = device_arch(root, &ci);
	info->os = device_os(root, android);
	info->kernel = device_kernel(root);
	info->role = xstrdup("worker");

	hw->cpu_cores = device_cores(root, &ci);
	hw->cpu_model = device_cpu_model(&ci);
	hw->model = device_board(root, &ci, android);
	hw->cpu_mhz = device_mhz(root, &ci);
	if (prof_meminfo_read(root, &mi) == 0)
		hw->memory_total = mi.total * 1024;
	device_disk(disk_path, &hw->disk_space, &hw->disk_free);
	if ((buf = prof_read_file(root, "/proc/net/dev", NULL)) != NULL) {
		prof_parse_netdev(buf, &rx, &tx, &hw->network_interfaces,
		    &hw->n_ifaces);
		free(buf);
	}
	device_gpus(root, hw);
	prof_cpuinfo_free(&ci);
}

/* Free what prof_device_read() allocated. */
void
prof_device_free(struct prof_device *dev)
{
	size_t	i;

	free(dev->info.hostname);
	free(dev->info.platform);
	free(dev->info.architecture);
	free(dev->info.os);
	free(dev->info.kernel);
	free(dev->info.role);
	free(dev->hw.cpu_model);
	free(dev->hw.model);
	for (i = 0; i < dev->hw.n_ifaces; i++)
		free(dev->hw.network_interfaces[i]);
	free(dev->hw.network_interfaces);
	for (i = 0; i < dev->hw.n_gpus; i++)
		free(dev->hw.gpus[i]);
	free(dev->hw.gpus);
	memset(dev, 0, sizeof *dev);
}
