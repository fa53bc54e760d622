/* SPDX-License-Identifier: ISC */
/*
 * test-config.c -- options from argv and INI files (config/config.c) and
 * the option tables and example files (config/config-table.c, *.conf).
 *
 * Cases are tables: argv parsing, file loading, precedence.  Example files
 * are found under $ENCORE_SRC (the repository root), else ".".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol.h"
#include "config.h"

#define MAIN	0
#define WORKER	1

/* The case being run, for failure messages. */
static char	test_case[64];

/* One expected value after a case: name = value (NULL: unset). */
struct expect {
	const char	*name;
	const char	*value;
};

/* Prepare cfg for the table of program which. */
static void
init_for(struct cfg *cfg, int which)
{
	if (which == MAIN)
		cfg_init(cfg, cfg_main_options, cfg_main_options_n);
	else
		cfg_init(cfg, cfg_worker_options, cfg_worker_options_n);
}

/* Check the expectations (up to 4, ending at a NULL name). */
static void
check_values(const struct cfg *cfg, const struct expect *e, size_t n)
{
	const char	*got;
	size_t		 i;

	for (i = 0; i < n && e[i].name != NULL; i++) {
		got = cfg_get(cfg, e[i].name);
		if (e[i].value == NULL) {
			if (got != NULL)
				fail_msg("%s: %s: expected unset, got \"%s\"",
				    test_case, e[i].name, got);
		} else if (got == NULL || strcmp(got, e[i].value) != 0) {
			fail_msg("%s: %s: expected \"%s\", got %s%s%s",
			    test_case, e[i].name, e[i].value,
			    got != NULL ? "\"" : "", got != NULL ? got : "unset",
			    got != NULL ? "\"" : "");
		}
	}
}

/* Write text to a fresh temporary file; returns its path (caller frees and
 * unlinks). */
static char *
write_temp(const char *text, size_t len)
{
	char	*path;
	int	 fd;

	path = xstrdup("/tmp/test-config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return (path);
}

/* Path of a file under the source tree; caller frees. */
static char *
src_path(const char *rel)
{
	const char	*root = getenv("ENCORE_SRC");
	char		*p;

	xasprintf(&p, "%s/%s", root != NULL ? root : ".", rel);
	return (p);
}

/* Read a whole file; caller frees. */
static char *
read_all(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 len;

	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s (set ENCORE_SRC to the repository "
		    "root)", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc(len + 1);
	assert_int_equal(fread(buf, 1, len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	return (buf);
}

/* ---- argv ---- */

struct args_case {
	int		 which;
	const char	*argv[8];
	int		 rc;
	int		 first;	/* checked when rc == 0 */
	const char	*cause;		/* exact, or prefix when ending in '*' */
	struct expect	 expect[4];
};

static const struct args_case args_cases[] = {
	/* Every type, both spellings. */
	{ MAIN, { "--listen", "1.2.3.4:80" }, 0, 3, NULL,
	  { { "listen", "1.2.3.4:80" } } },
	{ MAIN, { "--listen=1.2.3.4:80" }, 0, 2, NULL,
	  { { "listen", "1.2.3.4:80" } } },
	{ MAIN, { "--listen=" }, -1, 0, "--listen: empty value", { { 0 } } },
	{ MAIN, { "--listen=a=b" }, 0, 2, NULL, { { "listen", "a=b" } } },
	{ MAIN, { "--heartbeat-interval", "10" }, 0, 3, NULL,
	  { { "heartbeat-interval", "10" } } },
	{ MAIN, { "--heartbeat-interval=+007" }, 0, 2, NULL,
	  { { "heartbeat-interval", "7" } } },
	{ MAIN, { "--approve", "auto" }, 0, 3, NULL,
	  { { "approve", "auto" } } },
	{ MAIN, { "--text-export=local", "--log-level", "debug" }, 0, 4, NULL,
	  { { "text-export", "local" }, { "log-level", "debug" } } },
	{ MAIN, { "--listen", "a:1", "--listen", "b:2" }, 0, 5, NULL,
	  { { "listen", "b:2" } } },
	{ WORKER, { "--profile" }, 0, 2, NULL, { { "profile", "true" } } },
	{ WORKER, { "--profile=no" }, 0, 2, NULL, { { "profile", "false" } } },
	{ WORKER, { "--help" }, 0, 2, NULL, { { "help", "true" } } },
	{ WORKER, { "-h" }, 0, 2, NULL, { { "help", "true" } } },
	{ WORKER, { "-hV" }, 0, 2, NULL,
	  { { "help", "true" }, { "version", "true" } } },
	{ WORKER, { "--label", "a=1", "--label=b=2" }, 0, 4, NULL,
	  { { "label", "b=2" } } },
	{ WORKER, { "--min-battery", "0", "--max-temp", "150" }, 0, 5, NULL,
	  { { "min-battery", "0" }, { "max-temp", "150" } } },
	/* Operands. */
	{ WORKER, { "--", "--slots", "3" }, 0, 2, NULL, { { "slots", NULL } } },
	{ WORKER, { "--slots", "3", "run", "--slots", "4" }, 0, 3, NULL,
	  { { "slots", "3" } } },
	{ WORKER, { "-", "--slots", "4" }, 0, 1, NULL, { { "slots", NULL } } },
	{ WORKER, { 0 }, 0, 1, NULL, { { "runtime", "auto" } } },
	/* Errors. */
	{ WORKER, { "--slots", "abc" }, -1, 0,
	  "--slots: \"abc\" is not a number (expected 1..1024)", { { 0 } } },
	{ WORKER, { "--slots=" }, -1, 0,
	  "--slots: \"\" is not a number (expected 1..1024)", { { 0 } } },
	{ WORKER, { "--slots", "1x" }, -1, 0,
	  "--slots: \"1x\" is not a number (expected 1..1024)", { { 0 } } },
	{ WORKER, { "--slots", "-" }, -1, 0,
	  "--slots: \"-\" is not a number (expected 1..1024)", { { 0 } } },
	{ WORKER, { "--slots", "0" }, -1, 0,
	  "--slots: 0 is out of range 1..1024", { { 0 } } },
	{ WORKER, { "--slots", "1025" }, -1, 0,
	  "--slots: 1025 is out of range 1..1024", { { 0 } } },
	{ WORKER, { "--slots", "99999999999999999999999" }, -1, 0,
	  "--slots: 99999999999999999999999 is out of range 1..1024",
	  { { 0 } } },
	{ WORKER, { "--min-battery", "-1" }, -1, 0,
	  "--min-battery: -1 is out of range 0..100", { { 0 } } },
	{ MAIN, { "--approve", "maybe" }, -1, 0,
	  "--approve: \"maybe\" is not one of auto, manual", { { 0 } } },
	{ WORKER, { "--profile=maybe" }, -1, 0,
	  "--profile: \"maybe\" is not a boolean*", { { 0 } } },
	{ MAIN, { "--foo" }, -1, 0, "unknown option --foo (see --help)",
	  { { 0 } } },
	{ MAIN, { "--foo=bar" }, -1, 0, "unknown option --foo (see --help)",
	  { { 0 } } },
	{ WORKER, { "--slot", "3" }, -1, 0,
	  "unknown option --slot (did you mean --slots?)", { { 0 } } },
	{ MAIN, { "-x" }, -1, 0, "unknown option -x (see --help)", { { 0 } } },
	{ MAIN, { "--listen" }, -1, 0, "--listen needs a value (HOST:PORT)",
	  { { 0 } } },
	{ WORKER, { "--slots", "2", "--slots" }, -1, 0,
	  "--slots needs a value (N)", { { 0 } } },
	{ WORKER, { "--token", "a\nb" }, -1, 0,
	  "--token: \"a\\x0ab\" contains a control character", { { 0 } } },
};

/* Compare a cause with an expected message (a trailing '*': prefix). */
static void
check_cause(const char *cause, const char *want)
{
	size_t	len = strlen(want);

	if (cause == NULL)
		fail_msg("%s: no cause, expected \"%s\"", test_case, want);
	if (len > 0 && want[len - 1] == '*') {
		if (strncmp(cause, want, len - 1) != 0)
			fail_msg("%s: cause \"%s\" does not start with "
			    "\"%.*s\"", test_case, cause, (int)len - 1, want);
	} else if (strcmp(cause, want) != 0)
		fail_msg("%s: cause \"%s\", expected \"%s\"", test_case,
		    cause, want);
}

/* Run every argv case. */
static void
test_args(void **state)
{
	const struct args_case	*c;
	struct cfg		 cfg;
	char			*argv[10], *cause;
	size_t			 i, j;
	int			 argc, first, rc;

	for (i = 0; i < sizeof args_cases / sizeof args_cases[0]; i++) {
		c = &args_cases[i];
		snprintf(test_case, sizeof test_case, "args case %zu (%s)", i,
		    c->argv[0] != NULL ? c->argv[0] : "no arguments");
		argv[0] = (char *)"prog";
		for (j = 0; c->argv[j] != NULL; j++)
			argv[j + 1] = (char *)c->argv[j];
		argc = (int)j + 1;
		argv[argc] = NULL;

		init_for(&cfg, c->which);
		cause = NULL;
		first = -1;
		rc = cfg_parse_args(&cfg, argc, argv, &first, &cause);
		if (rc != c->rc)
			fail_msg("%s: returned %d (%s)", test_case, rc,
			    cause != NULL ? cause : "no cause");
		if (rc == 0) {
			assert_null(cause);
			assert_int_equal(first, c->first);
			check_values(&cfg, c->expect, 4);
		} else
			check_cause(cause, c->cause);
		free(cause);
		cfg_free(&cfg);
	}
}

/* A repeated list flag collects every value in order. */
static void
test_args_list(void **state)
{
	struct cfg	 cfg;
	char		*argv[] = { (char *)"w", (char *)"--label",
			    (char *)"a=1", (char *)"--label=b=2", NULL };
	char		*cause = NULL;
	char * const	*list;
	size_t		 n;
	int		 first;

	init_for(&cfg, WORKER);
	list = cfg_get_list(&cfg, "label", &n);
	assert_int_equal(n, 0);
	assert_int_equal(cfg_parse_args(&cfg, 4, argv, &first, &cause), 0);
	list = cfg_get_list(&cfg, "label", &n);
	assert_int_equal(n, 2);
	assert_string_equal(list[0], "a=1");
	assert_string_equal(list[1], "b=2");
	cfg_free(&cfg);
}

/* Long values are refused, not truncated. */
static void
test_args_long_value(void **state)
{
	struct cfg	 cfg;
	char		 big[PROTO_TEXT_MAX + 2];
	char		*argv[] = { (char *)"m", (char *)"--join-token", big,
			    NULL };
	char		*cause = NULL;
	int		 first;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	init_for(&cfg, MAIN);
	assert_int_equal(cfg_parse_args(&cfg, 3, argv, &first, &cause), -1);
	check_cause(cause, "--join-token: value is too long*");
	free(cause);
	big[PROTO_TEXT_MAX] = '\0';
	assert_int_equal(cfg_parse_args(&cfg, 3, argv, &first, &cause), 0);
	assert_string_equal(cfg_get(&cfg, "join-token"), big);
	cfg_free(&cfg);
}

/* ---- files ---- */

struct file_case {
	int		 which;
	const char	*text;		/* the file */
	int		 rc;
	const char	*cause;		/* after the path; '*' as above */
	struct expect	 expect[4];
};

static const struct file_case file_cases[] = {
	{ MAIN, "# comment\n\n; another\n   \t\n[main]\nlisten = a:1\n", 0,
	  NULL, { { "listen", "a:1" } } },
	{ MAIN, "listen=a:1", 0, NULL, { { "listen", "a:1" } } },
	{ MAIN, "  listen\t=\t a:1  \r\n", 0, NULL, { { "listen", "a:1" } } },
	{ MAIN, "listen = a:1   # the port\n", 0, NULL,
	  { { "listen", "a:1" } } },
	{ MAIN, "join_token = ab#cd\n", 0, NULL,
	  { { "join-token", "ab#cd" } } },
	{ MAIN, "join_token = \"ab # cd\"  # comment\n", 0, NULL,
	  { { "join-token", "ab # cd" } } },
	{ MAIN, "join_token = 'x y'\n", 0, NULL, { { "join-token", "x y" } } },
	{ MAIN, "heartbeat_interval = 9\n", 0, NULL,
	  { { "heartbeat-interval", "9" } } },
	{ MAIN, "heartbeat-interval = 9\nheartbeat_interval = 10\n", 0, NULL,
	  { { "heartbeat-interval", "10" } } },
	{ MAIN, "approve = \"auto\"\n", 0, NULL, { { "approve", "auto" } } },
	{ MAIN, "", 0, NULL, { { "approve", "manual" } } },
	{ WORKER, "profile = yes\nhelp = 0\n", 0, NULL,
	  { { "profile", "true" }, { "help", "false" } } },
	{ WORKER, "profile = TRUE\n", 0, NULL, { { "profile", "true" } } },
	{ WORKER, "label = a=1\nlabel = b=2\n", 0, NULL,
	  { { "label", "b=2" } } },
	/* Errors. */
	{ MAIN, "\n\n\n\n\n\n\n\n\n\n\nheartbeat_intervall = 5\n", -1,
	  ":12: unknown key \"heartbeat_intervall\" (did you mean "
	  "\"heartbeat_interval\"?)", { { 0 } } },
	{ MAIN, "colour = blue\n", -1, ":1: unknown key \"colour\"",
	  { { 0 } } },
	{ MAIN, "# ok\n\njust some words\n", -1,
	  ":3: expected \"key = value\"", { { 0 } } },
	{ MAIN, "= 5\n", -1, ":1: expected \"key = value\" (the key is "
	  "missing)", { { 0 } } },
	{ MAIN, "[main\n", -1, ":1: expected \"[section]\"", { { 0 } } },
	{ MAIN, "listen =\n", -1, ":1: listen: missing value (remove the "
	  "line to use the default)", { { 0 } } },
	{ MAIN, "join_token = \"abc\n", -1, ":1: missing closing quote",
	  { { 0 } } },
	{ MAIN, "join_token = \"abc\" def\n", -1,
	  ":1: unexpected text after the closing quote", { { 0 } } },
	{ WORKER, "slots = abc\n", -1,
	  ":1: slots: \"abc\" is not a number (expected 1..1024)", { { 0 } } },
	{ WORKER, "max-temp = 200\n", -1,
	  ":1: max_temp: 200 is out of range 30..150", { { 0 } } },
	{ WORKER, "runtime = lxc\n", -1, ":1: runtime: \"lxc\" is not one of "
	  "auto, podman, docker, none", { { 0 } } },
	{ WORKER, "profile = maybe\n", -1,
	  ":1: profile: \"maybe\" is not a boolean*", { { 0 } } },
};

/* Load text from a temp file into a fresh cfg; returns rc, sets cause. */
static int
load_text(struct cfg *cfg, int which, const char *text, size_t len,
    char **path, char **cause)
{
	init_for(cfg, which);
	*path = write_temp(text, len);
	return (cfg_load_file(cfg, *path, cause));
}

/* Run every file case. */
static void
test_file(void **state)
{
	const struct file_case	*c;
	struct cfg		 cfg;
	char			*path, *cause, *want;
	size_t			 i;

	for (i = 0; i < sizeof file_cases / sizeof file_cases[0]; i++) {
		c = &file_cases[i];
		snprintf(test_case, sizeof test_case, "file case %zu", i);
		cause = NULL;
		if (load_text(&cfg, c->which, c->text, strlen(c->text), &path,
		    &cause) != c->rc)
			fail_msg("%s: wrong result (%s)", test_case,
			    cause != NULL ? cause : "no cause");
		if (c->rc == 0) {
			assert_null(cause);
			check_values(&cfg, c->expect, 4);
		} else {
			xasprintf(&want, "%s%s", path, c->cause);
			check_cause(cause, want);
			free(want);
		}
		free(cause);
		unlink(path);
		free(path);
		cfg_free(&cfg);
	}
}

/* Lines of 4096 bytes are fine; longer ones are an error, not a crash. */
static void
test_file_long_line(void **state)
{
	struct cfg	 cfg;
	char		*text, *path, *cause = NULL, *want;
	size_t		 len = 3 * 4096;

	text = xmalloc(len);
	memset(text, ' ', len);
	text[0] = '#';
	text[4096] = '\n';			/* line 1: 4096 bytes */
	text[4097] = '#';
	assert_int_equal(load_text(&cfg, MAIN, text, len, &path, &cause), -1);
	xasprintf(&want, "%s:2: line is too long (more than 4096 bytes)",
	    path);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	unlink(path);
	free(path);
	cfg_free(&cfg);

	text[len - 1] = '\n';			/* 4096 bytes plus CRLF */
	text[4097 + 4096] = '\r';
	text[4097 + 4097] = '\n';
	assert_int_equal(load_text(&cfg, MAIN, text, 4097 + 4098, &path,
	    &cause), 0);
	unlink(path);
	free(path);
	cfg_free(&cfg);
	free(text);
}

/* A NUL byte means this is not a text file. */
static void
test_file_nul(void **state)
{
	struct cfg	 cfg;
	char		*path, *cause = NULL;

	assert_int_equal(load_text(&cfg, MAIN, "listen = a\0b\n", 13, &path,
	    &cause), -1);
	assert_non_null(strstr(cause, ":1: line contains a NUL byte"));
	free(cause);
	unlink(path);
	free(path);
	cfg_free(&cfg);
}

/* A missing file says which and what to check. */
static void
test_file_missing(void **state)
{
	struct cfg	 cfg;
	char		*cause = NULL;

	init_for(&cfg, MAIN);
	assert_int_equal(cfg_load_file(&cfg, "/nonexistent/encore.conf",
	    &cause), -1);
	assert_string_equal(cause, "/nonexistent/encore.conf: No such file "
	    "or directory (check the --config path)");
	free(cause);
	cfg_free(&cfg);
}

/* cfg_load_buffer names the buffer in messages and needs no NUL. */
static void
test_buffer(void **state)
{
	struct cfg	 cfg;
	char		*cause = NULL;
	const char	 text[] = "slots = 4\nslots = 5";

	init_for(&cfg, WORKER);
	assert_int_equal(cfg_load_buffer(&cfg, "w.conf", text, 9, &cause), 0);
	assert_string_equal(cfg_get(&cfg, "slots"), "4");
	assert_int_equal(cfg_get_int(&cfg, "slots"), 4);
	assert_int_equal(cfg_load_buffer(&cfg, "w.conf", "bad\n", 4, &cause),
	    -1);
	assert_string_equal(cause, "w.conf:1: expected \"key = value\"");
	free(cause);
	cfg_free(&cfg);
}

/* ---- precedence: flag > file > default ---- */

/* Scalars: each source beats the one below it. */
static void
test_precedence(void **state)
{
	struct cfg	 cfg;
	char		*argv[] = { (char *)"m", (char *)"--heartbeat-interval",
			    (char *)"7", NULL };
	char		*cause = NULL;
	const char	 file[] = "heartbeat_interval = 9\napprove = auto\n";
	int		 first;

	/* Default. */
	init_for(&cfg, MAIN);
	assert_int_equal(cfg_get_int(&cfg, "heartbeat-interval"), 5);
	assert_string_equal(cfg_get(&cfg, "approve"), "manual");
	assert_null(cfg_get(&cfg, "offline-after"));
	assert_int_equal(cfg_get_int(&cfg, "offline-after"), 0);
	assert_int_equal(cfg_get_flag(&cfg, "help"), 0);

	/* File over default. */
	assert_int_equal(cfg_load_buffer(&cfg, "f", file, strlen(file),
	    &cause), 0);
	assert_int_equal(cfg_get_int(&cfg, "heartbeat-interval"), 9);
	assert_string_equal(cfg_get(&cfg, "approve"), "auto");
	cfg_free(&cfg);

	/* Flag over file, even though the file is loaded after. */
	init_for(&cfg, MAIN);
	assert_int_equal(cfg_parse_args(&cfg, 3, argv, &first, &cause), 0);
	assert_int_equal(cfg_load_buffer(&cfg, "f", file, strlen(file),
	    &cause), 0);
	assert_int_equal(cfg_get_int(&cfg, "heartbeat-interval"), 7);
	assert_string_equal(cfg_get(&cfg, "approve"), "auto");

	/* cfg_set acts like the file: validated, and a flag still wins. */
	assert_int_equal(cfg_set(&cfg, "heartbeat-interval", "8", &cause), 0);
	assert_int_equal(cfg_get_int(&cfg, "heartbeat-interval"), 7);
	assert_int_equal(cfg_set(&cfg, "offline-after", "21", &cause), 0);
	assert_int_equal(cfg_get_int(&cfg, "offline-after"), 21);
	assert_int_equal(cfg_set(&cfg, "offline-after", "0", &cause), -1);
	assert_string_equal(cause, "offline-after: 0 is out of range "
	    "1..86400");
	free(cause);
	assert_int_equal(cfg_get_int(&cfg, "offline-after"), 21);

	/* A bad file value is an error even when a flag overrides it. */
	assert_int_equal(cfg_load_buffer(&cfg, "f", "heartbeat_interval = x",
	    22, &cause), -1);
	free(cause);
	cfg_free(&cfg);
}

/* Lists: flag values replace the file's entirely; file lines append. */
static void
test_precedence_list(void **state)
{
	struct cfg	 cfg;
	char		*argv[] = { (char *)"w", (char *)"--label",
			    (char *)"a=1", NULL };
	char		*cause = NULL;
	const char	 file[] = "label = b=2\nlabel = c=3\n";
	char * const	*list;
	size_t		 n;
	int		 first;

	init_for(&cfg, WORKER);
	assert_int_equal(cfg_load_buffer(&cfg, "f", file, strlen(file),
	    &cause), 0);
	list = cfg_get_list(&cfg, "label", &n);
	assert_int_equal(n, 2);
	assert_string_equal(list[0], "b=2");
	assert_string_equal(list[1], "c=3");
	cfg_free(&cfg);

	init_for(&cfg, WORKER);
	assert_int_equal(cfg_parse_args(&cfg, 3, argv, &first, &cause), 0);
	assert_int_equal(cfg_load_buffer(&cfg, "f", file, strlen(file),
	    &cause), 0);
	list = cfg_get_list(&cfg, "label", &n);
	assert_int_equal(n, 1);
	assert_string_equal(list[0], "a=1");
	cfg_free(&cfg);

	/* A flag given after the file replaces the file's entries too. */
	init_for(&cfg, WORKER);
	assert_int_equal(cfg_load_buffer(&cfg, "f", file, strlen(file),
	    &cause), 0);
	assert_int_equal(cfg_parse_args(&cfg, 3, argv, &first, &cause), 0);
	list = cfg_get_list(&cfg, "label", &n);
	assert_int_equal(n, 1);
	assert_string_equal(list[0], "a=1");
	cfg_free(&cfg);
}

/* ---- tables, usage and example files ---- */

/* Every row is well formed and its default passes its own checks. */
static void
check_table(const struct cfg_option *t, size_t n)
{
	struct cfg	 cfg;
	size_t		 i, j;
	const char	*p;

	for (i = 0; i < n; i++) {
		assert_non_null(t[i].name);
		for (p = t[i].name; *p != '\0'; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '-');
		assert_non_null(t[i].help);
		assert_null(strchr(t[i].help, '\n'));
		if (t[i].type == CFG_INT)
			assert_true(t[i].min <= t[i].max);
		if (t[i].type == CFG_CHOICE) {
			assert_non_null(t[i].choices);
			assert_non_null(t[i].choices[0]);
		}
		for (j = 0; j < i; j++) {
			assert_string_not_equal(t[i].name, t[j].name);
			if (t[i].short_name != '\0')
				assert_true(t[i].short_name != t[j].short_name);
		}
	}
	cfg_init(&cfg, t, n);		/* dies on a bad default */
	cfg_free(&cfg);
}

/* The tables hold the options README and --help list. */
static void
test_tables(void **state)
{
	static const char *main_names[] = { "listen", "state-dir", "config",
	    "join-token", "operator-token", "approve", "heartbeat-interval",
	    "offline-after", "text-export", "log-level", "help", "version",
	    NULL };
	static const char *worker_names[] = { "main", "token", "token-file",
	    "id", "state-dir", "config", "slots", "runtime", "label",
	    "min-battery", "max-temp", "log-level", "profile", "help",
	    "version", NULL };
	struct cfg	 cfg;
	size_t		 i;

	check_table(cfg_main_options, cfg_main_options_n);
	check_table(cfg_worker_options, cfg_worker_options_n);

	init_for(&cfg, MAIN);
	for (i = 0; main_names[i] != NULL; i++)
		(void)cfg_get(&cfg, main_names[i]);	/* dies if missing */
	assert_string_equal(cfg_get(&cfg, "listen"), "0.0.0.0:7070");
	assert_string_equal(cfg_get(&cfg, "text-export"), "on");
	assert_int_equal(cfg_get_int(&cfg, "max-line"), 65536);
	cfg_free(&cfg);

	init_for(&cfg, WORKER);
	for (i = 0; worker_names[i] != NULL; i++)
		(void)cfg_get(&cfg, worker_names[i]);
	assert_int_equal(cfg_get_int(&cfg, "min-battery"), 20);
	assert_int_equal(cfg_get_int(&cfg, "max-temp"), 80);
	assert_null(cfg_get(&cfg, "main"));
	assert_null(cfg_get(&cfg, "slots"));
	cfg_free(&cfg);
}

/* --help output: usage line, one aligned line per option, defaults. */
static void
test_usage(void **state)
{
	struct cfg	 cfg;
	char		*out = NULL, *line, *save, *p;
	size_t		 len, i = 0;
	FILE		*f;
	long		 col = -1;

	init_for(&cfg, WORKER);
	f = open_memstream(&out, &len);
	cfg_usage(f, "encore-worker --main H:P [options]", &cfg);
	fclose(f);

	assert_true(strncmp(out, "Usage: encore-worker --main H:P [options]\n",
	    42) == 0);
	assert_non_null(strstr(out, "  -h, --help "));
	assert_non_null(strstr(out, "      --slots N "));
	assert_non_null(strstr(out, "--runtime auto|podman|docker|none "));
	assert_null(strstr(out, "(one of: auto, podman, docker, none)"));
	assert_non_null(strstr(out, "(default: 20)"));
	assert_non_null(strstr(out, "--label K=V "));
	assert_non_null(strstr(out, "(repeatable)"));
	assert_null(strstr(out, "(default: false)"));

	/* Each option's help starts in the same column. */
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "  ", 2) != 0)
			continue;
		p = strstr(line, cfg.table[i].help);
		assert_non_null(p);
		if (col == -1)
			col = p - line;
		assert_int_equal(p - line, col);
		i++;
	}
	assert_int_equal(i, cfg.n);
	free(out);
	cfg_free(&cfg);
}

/*
 * Check an example file: it loads cleanly and changes nothing (every key
 * is commented out); every key appears as "#key = VALUE", VALUE being the
 * default where there is one; and uncommenting those lines still loads and
 * gives the defaults.
 */
static void
check_example(const char *rel, int which)
{
	struct cfg		 cfg, ref;
	const struct cfg_option	*o;
	char			*path, *text, *cause = NULL, *want, *p, *q;
	char			*uncommented;
	size_t			 i, n = 0, k;

	path = src_path(rel);
	init_for(&cfg, which);
	init_for(&ref, which);
	if (cfg_load_file(&cfg, path, &cause) != 0)
		fail_msg("%s", cause);
	for (i = 0; i < cfg.n; i++) {
		if (cfg.values[i] == NULL || ref.values[i] == NULL)
			assert_ptr_equal(cfg.values[i], ref.values[i]);
		else
			assert_string_equal(cfg.values[i], ref.values[i]);
	}

	text = read_all(path);
	for (i = 0; i < cfg.n; i++) {
		o = &cfg.table[i];
		xasprintf(&want, "\n#%s = ", o->name);
		for (p = want; *p != '\0'; p++) {
			if (*p == '-')
				*p = '_';
		}
		if ((p = strstr(text, want)) == NULL)
			fail_msg("%s does not mention %s", rel, want + 1);
		if (o->def != NULL && o->type != CFG_FLAG) {
			p += strlen(want);
			if (strncmp(p, o->def, strlen(o->def)) != 0 ||
			    p[strlen(o->def)] != '\n')
				fail_msg("%s: %s is not the default %s", rel,
				    want + 1, o->def);
		}
		free(want);
	}

	/* Uncomment the lines showing a default and load them. */
	uncommented = xmalloc(strlen(text) + 1);
	for (p = text, q = uncommented; *p != '\0'; p++) {
		if (p[0] == '#' && (p == text || p[-1] == '\n') &&
		    p[1] >= 'a' && p[1] <= 'z') {
			k = strcspn(p + 1, " ");
			for (i = 0; i < ref.n; i++) {
				xasprintf(&want, "%.*s", (int)k, p + 1);
				for (char *c = want; *c != '\0'; c++)
					if (*c == '_')
						*c = '-';
				if (strcmp(want, ref.table[i].name) == 0 &&
				    (ref.table[i].def != NULL ||
				    ref.table[i].type == CFG_FLAG)) {
					n++;
					free(want);
					goto skip;
				}
				free(want);
			}
		}
		*q++ = *p;
		continue;
	skip:
		;
	}
	*q = '\0';
	assert_true(n > 0);
	cfg_free(&cfg);
	init_for(&cfg, which);
	if (cfg_load_buffer(&cfg, rel, uncommented, strlen(uncommented),
	    &cause) != 0)
		fail_msg("%s", cause);
	for (i = 0; i < cfg.n; i++) {
		if (ref.values[i] != NULL)
			assert_string_equal(cfg.values[i], ref.values[i]);
	}

	free(uncommented);
	free(text);
	free(path);
	cfg_free(&cfg);
	cfg_free(&ref);
}

/* config/main.conf matches cfg_main_options. */
static void
test_example_main(void **state)
{
	check_example("config/main.conf", MAIN);
}

/* config/worker.conf matches cfg_worker_options. */
static void
test_example_worker(void **state)
{
	check_example("config/worker.conf", WORKER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_args_list),
		cmocka_unit_test(test_args_long_value),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_long_line),
		cmocka_unit_test(test_file_nul),
		cmocka_unit_test(test_file_missing),
		cmocka_unit_test(test_buffer),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_precedence_list),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_example_main),
		cmocka_unit_test(test_example_worker),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
