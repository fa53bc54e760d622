/* SPDX-License-Identifier: ISC */
/*
 * cli.c -- `encore`, the operator CLI: global options, the command table and
 * --help.  Each command's code is in cli-devices.c or cli-tasks.c.
 *
 * Exit codes: 0 ok, 1 error reported by the main node (or a backup or a
 * fetched file that could not be written or did not check out), 2 usage
 * error (an --input that cannot be read too), 3 cannot reach the main
 * node (or it stopped answering, sent more than a client accepts, or is
 * not the one a pinned token names); `submit --wait` exits with the
 * task's code, 124 timed out, 125 cancelled or failed to start, 130 left
 * with Ctrl-C; of an array, 0 if every element completed, else 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const struct cli_cmd cli_cmds[] = {
	{ "devices", "devices [--csv]",
	  "List the devices: id, state, hardware, load and tasks.\n"
	  "  --csv   CSV (RFC 4180) with the columns id,hostname,state,arch,\n"
	  "          platform,cores,mem_mb,cpu_pct,mem_pct,load1,temp_c,\n"
	  "          battery_pct,running,slots,last_seen_s\n",
	  cli_devices_exec },
	{ "approve", "approve ID",
	  "Admit a pending device to the cluster.\n",
	  cli_device_admin_exec },
	{ "reject", "reject ID",
	  "Refuse a pending device.\n",
	  cli_device_admin_exec },
	{ "drain", "drain ID",
	  "Stop giving a device new tasks; running ones finish.\n",
	  cli_device_admin_exec },
	{ "undrain", "undrain ID",
	  "Let a drained device take tasks again.\n",
	  cli_device_admin_exec },
	{ "remove", "remove ID",
	  "Forget a device (it must register again to come back).\n",
	  cli_device_admin_exec },
	{ "submit", "submit [options] -- ARGV...",
	  "Queue a task running ARGV and print its id alone on stdout.\n"
	  "  --image IMG      run in a container from IMG (podman/docker);\n"
	  "                   without it ARGV runs as a plain command\n"
	  "  --name N         a name to show in ps\n"
	  "  --priority P     low, normal (default), high or urgent\n"
	  "  --cpus F         CPUs it may use, e.g. 0.5 or 2\n"
	  "  --memory MB      memory it may use, in megabytes\n"
	  "  --timeout S      kill it after S seconds (0: never)\n"
	  "  --retries N      re-queue it up to N times if it fails\n"
	  "  --arch A         only on this architecture (x86_64, aarch64)\n"
	  "  --platform P     only on this platform (linux, android)\n"
	  "  --label K=V      only on devices with this label (repeatable)\n"
	  "  --env K=V        set an environment variable (repeatable)\n"
	  "  --device ID      only on this device\n"
	  "  --array SPEC     an array of tasks, one per index: SPEC is N\n"
	  "                   (0..N-1), A-B or A-B:STEP, then optionally %K\n"
	  "                   (at most K running at once), e.g. 100%8;\n"
	  "                   {index} in ARGV and --env values becomes the\n"
	  "                   index, also in $ENCORE_ARRAY_INDEX; prints the\n"
	  "                   array's id (its elements are ID.INDEX)\n"
	  "  --after ID       start once ID completed (exit 0); an array:\n"
	  "                   every element (repeatable, or IDs comma\n"
	  "                   separated); if ID fails it is cancelled\n"
	  "  --after-any ID   start once ID ended, however\n"
	  "  --after-notok ID start once ID ended and did not complete\n"
	  "  --hold           queue it held until 'encore release ID'\n"
	  "  --input PATH[:NAME]\n"
	  "                   send a file or a directory (all of it) with\n"
	  "                   the task; it finds it in its working directory\n"
	  "                   as NAME (default: PATH's last part; a\n"
	  "                   directory's files as NAME/...), modes kept\n"
	  "                   (repeatable).  Hashed (SHA-256) and sent first,\n"
	  "                   only what the main node lacks; an input that\n"
	  "                   cannot be read stops everything (exit 2)\n"
	  "  --output GLOB    files the task makes that come back when it\n"
	  "                   ends, relative to its working directory, e.g.\n"
	  "                   'out/*.png' (repeatable); one that matches\n"
	  "                   nothing after exit 0 fails the task\n"
	  "  --checkpoint GLOB\n"
	  "                   checkpoint files: a task that exits 85 has\n"
	  "                   written them; they are kept and put back for\n"
	  "                   its next attempt (repeatable)\n"
	  "  --wait           stream its stdout and stderr, then exit with\n"
	  "                   its exit code: 124 timed out, 125 cancelled\n"
	  "                   or failed to start (the id goes to stderr).\n"
	  "                   Ctrl-C leaves the task running (exit 130);\n"
	  "                   a second Ctrl-C within 3 s cancels it.  For\n"
	  "                   an array: wait until it ends, its counts on\n"
	  "                   stderr; exit 0 if every element completed,\n"
	  "                   else 1\n"
	  "  --fetch DIR      with --wait: when it ends (however), fetch its\n"
	  "                   outputs into DIR as 'encore fetch' does; the\n"
	  "                   exit code stays the task's, unless it completed\n"
	  "                   and the fetch failed\n"
	  "A task no known device could ever run is queued all the same,\n"
	  "with 'warning: why' on stderr.\n",
	  cli_submit_exec },
	{ "ps", "ps [--all] [--expand] [--csv]",
	  "List the tasks not ended (queued, waiting, held, running): the\n"
	  "first 1000, and on stderr how many more there are.  An array is\n"
	  "one line, with its counts.\n"
	  "  -a, --all   every task, finished ones too, page by page\n"
	  "  --expand    the elements of arrays made so far too\n"
	  "              (ARRAY.INDEX)\n"
	  "  --csv       CSV (RFC 4180), every page, with the columns id,\n"
	  "              name,state,priority,device,attempt,exit_code,\n"
	  "              submitted_at,started_at,finished_at\n",
	  cli_ps_exec },
	{ "show", "show ID",
	  "Show one task in full: why it is not running yet (why:), its\n"
	  "dependencies and attempts, its input and output files (names,\n"
	  "sizes, SHA-256) and last checkpoint; for an array its indexes,\n"
	  "limit, elements per state and their outputs.  ID may be\n"
	  "ARRAY.INDEX.\n",
	  cli_show_exec },
	{ "fetch", "fetch ID [DIR]",
	  "Write a task's outputs into DIR (default: the current directory)\n"
	  "under their names, each checked against its SHA-256 and renamed\n"
	  "into place only when whole; a file already there with the same\n"
	  "SHA-256 is kept.  An array's outputs (and an element's) go to\n"
	  "DIR/INDEX/.  Progress on stderr when it is a terminal.\n",
	  cli_fetch_exec },
	{ "logs", "logs [-f] [--raw] ID",
	  "Print a task's stored output: its own bytes to a pipe or a file;\n"
	  "on a terminal colours pass and other control characters show as\n"
	  "\\x1b and the like.  ID may be ARRAY.INDEX.\n"
	  "  -f, --follow   keep printing new output until the task ends\n"
	  "  --raw          pass everything to the terminal too\n",
	  cli_logs_exec },
	{ "cancel", "cancel ID",
	  "Cancel a queued, waiting, held or running task; ARRAY cancels\n"
	  "every element of the array not yet ended, ARRAY.INDEX one.\n",
	  cli_cancel_exec },
	{ "hold", "hold ID [--reason TEXT]",
	  "Keep a queued or waiting task (or array) from starting until\n"
	  "'encore release ID'.\n"
	  "  --reason TEXT  why, shown by ps and show\n",
	  cli_hold_exec },
	{ "release", "release ID",
	  "Let a held task start: it is queued again (or waits for its\n"
	  "dependencies).\n",
	  cli_hold_exec },
	{ "backup", "backup [--force] FILE",
	  "Write a consistent copy of the main node's live database to FILE\n"
	  "(via FILE.tmp; checked against the main node's size and SHA-256,\n"
	  "then renamed).  Placed as encore.db in a state dir holding the\n"
	  "cluster's tokens, it is the whole cluster.  Progress on stderr\n"
	  "when it is a terminal.\n"
	  "  --force   replace FILE if it exists\n",
	  cli_backup_exec },
	{ "status", "status",
	  "Print a cluster summary as key: value lines.\n",
	  cli_status_exec },
};
const size_t cli_cmds_n = sizeof cli_cmds / sizeof cli_cmds[0];

/* Print the full help. */
static void
cli_help(FILE *f)
{
	size_t		 i;
	const char	*p, *nl;

	fprintf(f, "usage: %s\n\n"
	    "Operate an encore cluster through its main node.\n\n"
	    "Global options (before COMMAND):\n"
	    "  --main H:P      the main node (default: $ENCORE_MAIN, else "
	    "%s)\n"
	    "  --token-file F  read the operator token from the first line of "
	    "F\n"
	    "                  (default: $ENCORE_TOKEN_FILE); unlike --token "
	    "it does\n"
	    "                  not show in ps(1)\n"
	    "  --token T       the operator token (default: $ENCORE_TOKEN; "
	    "without\n"
	    "                  any of these, the local main node's "
	    "operator.token in\n"
	    "                  /var/lib/encore (root) or $XDG_STATE_HOME/"
	    "encore or\n"
	    "                  ~/.local/state/encore)\n"
	    "  --request-timeout S\n"
	    "                  give up on an answer after S seconds (default "
	    "%d, or\n"
	    "                  $ENCORE_REQUEST_TIMEOUT); logs -f and submit "
	    "--wait wait\n"
	    "                  as long as the task runs, but give up on a main "
	    "node\n"
	    "                  that does not answer a check within S\n"
	    "  -h, --help      this help; 'encore COMMAND --help' for one "
	    "command\n"
	    "  -V, --version   print the version\n\n"
	    "Commands:\n", CLI_SYNOPSIS, CLIENT_DEFAULT_MAIN,
	    CLIENT_TIMEOUT_MS / 1000);
	for (i = 0; i < cli_cmds_n; i++) {
		fprintf(f, "  %s\n", cli_cmds[i].usage);
		for (p = cli_cmds[i].help; *p != '\0'; p = nl + 1) {
			nl = strchr(p, '\n');
			if (nl == NULL)
				nl = p + strlen(p) - 1;
			fprintf(f, "      %.*s\n", (int)(nl - p), p);
		}
	}
	fprintf(f, "\nA pinned token (ENC1:<CA hash>:<secret>, as "
	    "operator.token holds it) makes\nencore speak only TLS, and check "
	    "the main node's CA against it before it\nsends the secret; a bare "
	    "secret is sent in plaintext.\n"
	    "\nText from the main node (names, states, errors) is "
	    "shown with control\ncharacters escaped (\\x1b, \\u202e); CSV "
	    "goes raw to a pipe or a file.\n"
	    "\nExit status: 0 ok, 1 error reported by the main node (backup, "
	    "fetch: a file\ncould not be written or did not check out), 2 "
	    "usage error (an --input\nthat cannot be read too), 3 cannot "
	    "reach the main node, or it stopped\nanswering, sent more than a "
	    "client accepts or is not the one a pinned\ntoken names; submit "
	    "--wait: the task's exit code, 124 timed out, 125\ncancelled or "
	    "failed to start, 130 left with Ctrl-C; of an array: 0 if every\n"
	    "element completed, else 1.\n");
}

/* Print the short usage after a global usage error. */
static int
cli_global_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int
cli_global_usage(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "encore: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\ncommands:", CLI_SYNOPSIS);
	for (size_t i = 0; i < cli_cmds_n; i++)
		fprintf(stderr, " %s", cli_cmds[i].name);
	fprintf(stderr, "\nrun 'encore --help' for details\n");
	return (CLI_EXIT_USAGE);
}

/* Parse the global options and run one command. */
int
main(int argc, char **argv)
{
	struct cli_ctx	 ctx;
	const char	*cmdname, *timeout = NULL;
	int		 i, rc;
	size_t		 c;

	signal(SIGPIPE, SIG_IGN);
	log_init("encore", LOG_WARN);
	display_init();
	cli_stdout_tty = isatty(STDOUT_FILENO);
	memset(&ctx, 0, sizeof ctx);

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			cli_help(stdout);
			return (CLI_EXIT_OK);
		}
		if (strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "-V") == 0) {
			printf("encore %s\n", ENCORE_VERSION);
			return (CLI_EXIT_OK);
		}
		rc = client_option(argc, argv, &i, "--main", &ctx.main_flag);
		if (rc == 0)
			rc = client_option(argc, argv, &i, "--token",
			    &ctx.token_flag);
		if (rc == 0)
			rc = client_option(argc, argv, &i, "--token-file",
			    &ctx.token_file_flag);
		if (rc == 0)
			rc = client_option(argc, argv, &i, "--request-timeout",
			    &timeout);
		if (rc == -1)
			return (cli_global_usage("%s needs a value", argv[i]));
		if (rc == 0)
			return (cli_global_usage("unknown option '%s'",
			    argv[i]));
	}
	if (ctx.main_flag != NULL && *ctx.main_flag == '\0')
		return (cli_global_usage("%s", "--main needs H:P"));
	if (ctx.token_flag != NULL && ctx.token_file_flag != NULL)
		return (cli_global_usage("%s", "give --token or --token-file, "
		    "not both"));
	if (ctx.token_file_flag != NULL && *ctx.token_file_flag == '\0')
		return (cli_global_usage("%s", "--token-file needs a file"));
	if ((ctx.timeout_ms = client_timeout_parse(timeout)) == -1)
		return (cli_global_usage("--request-timeout '%s' (or "
		    "ENCORE_REQUEST_TIMEOUT): expected seconds, 1 to %d",
		    timeout != NULL ? timeout :
		    getenv("ENCORE_REQUEST_TIMEOUT"), CLIENT_TIMEOUT_MAX));
	if (i >= argc)
		return (cli_global_usage("%s", "missing COMMAND"));
	cmdname = argv[i];
	if (strcmp(cmdname, "help") == 0) {
		cli_help(stdout);
		return (CLI_EXIT_OK);
	}
	if (strcmp(cmdname, "version") == 0) {
		printf("encore %s\n", ENCORE_VERSION);
		return (CLI_EXIT_OK);
	}
	for (c = 0; c < cli_cmds_n; c++) {
		if (strcmp(cli_cmds[c].name, cmdname) == 0)
			break;
	}
	if (c == cli_cmds_n) {
		const char	*names[32], *best;
		size_t		 k;

		for (k = 0; k < cli_cmds_n && k < 32; k++)
			names[k] = cli_cmds[k].name;
		if ((best = cli_suggest(cmdname, names, k)) != NULL)
			return (cli_global_usage("unknown command '%s'; did "
			    "you mean '%s'?", cmdname, best));
		return (cli_global_usage("unknown command '%s'", cmdname));
	}

	rc = cli_cmds[c].exec(&cli_cmds[c], &ctx, argc - i, argv + i);
	cli_session_close(&ctx);
	/* A reader that went away (encore ps | head -1) is no error. */
	if ((fflush(stdout) != 0 || ferror(stdout)) && !cli_stdout_gone() &&
	    rc == CLI_EXIT_OK) {
		fprintf(stderr, "encore: writing the output: %s\n",
		    strerror(errno));
		rc = CLI_EXIT_REMOTE;
	}
	return (rc);
}
