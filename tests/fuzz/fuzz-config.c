/* SPDX-License-Identifier: ISC */
/*
 * fuzz-config.c -- libFuzzer target: the input as a config file, loaded
 * against both option tables, then as an argv (one argument a line).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "config.h"

#define FUZZ_ARGV_MAX	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Read every option back, as the programs would. */
static void
fuzz_read_back(const struct cfg *cfg)
{
	size_t	i, n;

	for (i = 0; i < cfg->n; i++) {
		switch (cfg->table[i].type) {
		case CFG_INT:
			(void)cfg_get_int(cfg, cfg->table[i].name);
			break;
		case CFG_FLAG:
			(void)cfg_get_flag(cfg, cfg->table[i].name);
			break;
		case CFG_LIST:
			(void)cfg_get_list(cfg, cfg->table[i].name, &n);
			break;
		default:
			break;
		}
		(void)cfg_get(cfg, cfg->table[i].name);
	}
}

/* Load data as a file into a fresh cfg for table, then as argv. */
static void
fuzz_one(const struct cfg_option *table, size_t n, const char *data,
    size_t size)
{
	struct cfg	 cfg;
	char		*cause = NULL, *copy, *argv[FUZZ_ARGV_MAX + 2], *p;
	int		 argc = 1, first;

	cfg_init(&cfg, table, n);
	cfg_load_buffer(&cfg, "fuzz.conf", data, size, &cause);
	free(cause);
	fuzz_read_back(&cfg);
	cfg_free(&cfg);

	copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[0] = (char *)"fuzz";
	for (p = copy; argc <= FUZZ_ARGV_MAX; argc++) {
		argv[argc] = strsep(&p, "\n");
		if (argv[argc] == NULL)
			break;
	}
	argv[argc] = NULL;
	cfg_init(&cfg, table, n);
	cause = NULL;
	cfg_parse_args(&cfg, argc, argv, &first, &cause);
	free(cause);
	fuzz_read_back(&cfg);
	cfg_free(&cfg);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(cfg_main_options, cfg_main_options_n, (const char *)data,
	    size);
	fuzz_one(cfg_worker_options, cfg_worker_options_n, (const char *)data,
	    size);
	return (0);
}
