/* SPDX-License-Identifier: ISC */
/*
 * fuzz-proc-parse.c -- libFuzzer target for the /proc and /sys parsers of
 * libprofiler (prof-parse.h).  The input is handed, as one NUL-terminated
 * file, to every parser in turn; each must stay inside the buffer and
 * produce only what the wire accepts (short, printable, valid UTF-8
 * strings; finite, in-range numbers or "unknown").
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "profiler.h"
#include "prof-parse.h"

/* Abort unless s is NULL or a clean profile string. */
static void
fuzz_check_string(const char *s)
{
	size_t	i, len;

	if (s == NULL)
		return;
	len = strlen(s);
	if (len == 0 || len > PROF_STRING_MAX || s[0] == ' ' ||
	    s[len - 1] == ' ')
		abort();
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
	}
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Run every parser over one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prof_meminfo	 mi;
	struct prof_cpuinfo	 ci;
	uint64_t		 total, idle, rx, tx;
	double			 la[3], up, pct;
	long long		 v;
	char			*buf, **names, *s;
	const char		*arch;
	size_t			 n, i;
	int			 count;

	if (size > PROF_FILE_MAX)
		return (0);
	buf = malloc(size + 1);
	if (buf == NULL)
		return (0);
	memcpy(buf, data, size);
	buf[size] = '\0';

	if (prof_parse_meminfo(buf, &mi) == 0 && mi.total <= 0)
		abort();
	pct = prof_meminfo_used_pct(&mi);
	if (!isnan(pct) && (pct < 0 || pct > 100))
		abort();

	prof_parse_stat(buf, &total, &idle);

	if (prof_parse_netdev(buf, &rx, &tx, &names, &n) != 0 && n != 0)
		abort();
	if (n > PROTO_LIST_MAX)
		abort();
	for (i = 0; i < n; i++) {
		fuzz_check_string(names[i]);
		if (names[i] == NULL || strcmp(names[i], "lo") == 0)
			abort();
		free(names[i]);
	}
	free(names);

	if (prof_parse_loadavg(buf, la) == 0) {
		for (i = 0; i < 3; i++)
			if (!isfinite(la[i]) || la[i] < 0)
				abort();
	}
	if (prof_parse_uptime(buf, &up) == 0 && (!isfinite(up) || up < 0))
		abort();

	prof_parse_cpuinfo(buf, &ci);
	fuzz_check_string(ci.model_name);
	fuzz_check_string(ci.processor);
	fuzz_check_string(ci.hardware);
	fuzz_check_string(ci.model);
	if (ci.processors < 0 || (!isnan(ci.mhz) && (ci.mhz <= 0 ||
	    ci.mhz >= 100000)))
		abort();
	arch = prof_cpuinfo_arch(&ci);
	if (arch != NULL && strlen(arch) > 8)
		abort();
	prof_cpuinfo_free(&ci);

	s = prof_parse_keyval(buf, "PRETTY_NAME", '=');
	fuzz_check_string(s);
	free(s);
	s = prof_parse_keyval(buf, "Model", ':');
	fuzz_check_string(s);
	free(s);

	prof_parse_int(buf, &v);
	count = prof_parse_cpulist(buf);
	if (count < -1 || count > 65536)
		abort();

	s = prof_clean_string(buf, size);
	fuzz_check_string(s);
	free(s);

	free(buf);
	return (0);
}
