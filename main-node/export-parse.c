/* SPDX-License-Identifier: ISC */
/*
 * export-parse.c -- the words of a text-export command, parsed without
 * touching the server: `devices`, `devices csv`, `tasks tsv`, `queue`,
 * `status`, `metrics`, `help`.  A pure function of the line, shared by
 * export-text.c and the fuzzer (tests/fuzz/fuzz-text-command.c).
 */
#include <string.h>

#include "main.h"

#define EXPORT_SPACE	" \t\r\n"
#define EXPORT_WORDS	3	/* more words than this is an unknown command */

/* The next word from *pp: its start and length; 0 at the end. */
static size_t
export_word(const char **pp, const char **start)
{
	const char	*p = *pp;
	size_t		 len;

	p += strspn(p, EXPORT_SPACE);
	*start = p;
	len = strcspn(p, EXPORT_SPACE);
	*pp = p + len;
	return (len);
}

/* Is word (len bytes) exactly s? */
static int
export_is(const char *word, size_t len, const char *s)
{
	return (len == strlen(s) && memcmp(word, s, len) == 0);
}

/*
 * Parse one command line (NUL-terminated).  Fills cmd: its verb, its
 * format and the first word (truncated, for the log).  Returns 0 for a
 * known command, -1 for an unknown one (cmd->verb is EXPORT_UNKNOWN).
 */
int
export_parse(const char *line, struct export_cmd *cmd)
{
	const char	*p = line, *w[EXPORT_WORDS];
	size_t		 l[EXPORT_WORDS], n, len;

	memset(cmd, 0, sizeof *cmd);
	cmd->verb = EXPORT_UNKNOWN;
	cmd->fmt = EXPORT_FMT_HUMAN;
	for (n = 0; n < EXPORT_WORDS; n++) {
		if ((l[n] = export_word(&p, &w[n])) == 0)
			break;
	}
	if (n > 0) {
		len = l[0] < sizeof cmd->word - 1 ? l[0] : sizeof cmd->word - 1;
		memcpy(cmd->word, w[0], len);
		cmd->word[len] = '\0';
	}
	if (n == 0 || export_is(w[0], l[0], "help")) {
		cmd->verb = EXPORT_HELP;
		return (0);
	}
	if (n >= 2) {
		if (n > 2)
			return (-1);
		if (export_is(w[1], l[1], "csv"))
			cmd->fmt = EXPORT_FMT_CSV;
		else if (export_is(w[1], l[1], "tsv"))
			cmd->fmt = EXPORT_FMT_TSV;
		else
			return (-1);
	}
	if (export_is(w[0], l[0], "devices"))
		cmd->verb = EXPORT_DEVICES;
	else if (export_is(w[0], l[0], "tasks"))
		cmd->verb = EXPORT_TASKS;
	else if (export_is(w[0], l[0], "queue"))
		cmd->verb = EXPORT_QUEUE;
	else if (n == 1 && export_is(w[0], l[0], "status"))
		cmd->verb = EXPORT_STATUS;
	else if (n == 1 && export_is(w[0], l[0], "metrics"))
		cmd->verb = EXPORT_METRICS;
	if (cmd->verb == EXPORT_UNKNOWN) {
		cmd->fmt = EXPORT_FMT_HUMAN;
		return (-1);
	}
	return (0);
}
