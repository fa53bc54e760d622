/* SPDX-License-Identifier: ISC */
/*
 * cli.h -- the `encore` operator CLI: one exec function per command
 * (cli-devices.c, cli-tasks.c) listed in cli.c's command table, plus the
 * helpers they share (cli-util.c).
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

#include "client.h"

struct json_object;

/* Exit codes (README, "Using it"). */
#define CLI_EXIT_OK		0
#define CLI_EXIT_REMOTE		1	/* error reported by the main node */
#define CLI_EXIT_USAGE		2
#define CLI_EXIT_UNREACHABLE	3
#define CLI_EXIT_TIMED_OUT	124	/* submit --wait: task timed out */
#define CLI_EXIT_NOT_RUN	125	/* cancelled or failed to start */
#define CLI_EXIT_DETACHED	130	/* submit --wait: left with Ctrl-C */

/* The global synopsis, for usage lines. */
#define CLI_SYNOPSIS	"encore [--main H:P] [--token-file F | --token T] " \
			"COMMAND [ARGS]"

/* submit --wait: a second Ctrl-C within this cancels the task. */
#define CLI_INTR_WINDOW_MS	3000

/* What an id names, for hints after not_found and conflict. */
enum cli_about {
	CLI_ABOUT_NONE,
	CLI_ABOUT_DEVICE,
	CLI_ABOUT_TASK,
};

/*
 * State of one run.  main_flag, token_flag and token_file_flag point into
 * argv (borrowed, NULL when not given).  client is open once cli_session()
 * succeeded.  timeout_ms bounds every request (--request-timeout).
 */
struct cli_ctx {
	const char	*main_flag;
	const char	*token_flag;
	const char	*token_file_flag;
	int		 timeout_ms;
	struct client	 client;
	int		 connected;
};

struct cli_cmd;
typedef int (*cli_exec_cb)(const struct cli_cmd *, struct cli_ctx *,
    int argc, char **argv);

/* One command: name, synopsis after "encore ", help lines, its code. */
struct cli_cmd {
	const char	*name;
	const char	*usage;		/* "devices [--csv]" */
	const char	*help;		/* one or more lines, each "\n"-ended */
	cli_exec_cb	 exec;		/* argv[0] is the command name */
};

/* cli.c: the command table. */
extern const struct cli_cmd	cli_cmds[];
extern const size_t		cli_cmds_n;

/* ---- cli-util.c ---- */
/* Print "encore: CMD: problem", the command's usage and a pointer to
 * --help on stderr; returns CLI_EXIT_USAGE. */
int	 cli_usage_error(const struct cli_cmd *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Print a command's usage and help on f. */
void	 cli_cmd_help(FILE *, const struct cli_cmd *);
/* Connect and authenticate; returns CLI_EXIT_OK or the exit code after
 * printing why not. */
int	 cli_session(struct cli_ctx *);
/* Close the session if open. */
void	 cli_session_close(struct cli_ctx *);
/* Print a failed call (escaped) with what to do next, unless the main
 * node's message says it already; id is what it was about (NULL if
 * nothing).  Returns the exit code. */
int	 cli_fail(enum client_result, const struct client_error *,
	    enum cli_about, const char *id);
/* Send a request and wait for its reply; on failure print it and return
 * the exit code, else CLI_EXIT_OK with *data (caller puts). */
int	 cli_call(struct cli_ctx *, struct msg *, struct json_object **data,
	    enum cli_about);

/* Flags a simple command may take (cli_parse_flags). */
#define CLI_OPT_CSV	0x1	/* --csv */
#define CLI_OPT_ALL	0x2	/* --all, -a */
#define CLI_OPT_FOLLOW	0x4	/* --follow, -f */
#define CLI_OPT_RAW	0x8	/* --raw */
#define CLI_OPT_EXPAND	0x10	/* --expand */
#define CLI_OPT_FORCE	0x20	/* --force */
#define CLI_OPT_REASON	0x40	/* --reason TEXT */
#define CLI_OPT_OPTARG	0x80	/* one more operand may follow (then
				   (*operands)[nargs], else NULL) */

/* The flags given to a simple command: set has the CLI_OPT_* bits;
 * reason is --reason's value (borrowed from argv), NULL if not given. */
struct cli_flags {
	int		 set;
	const char	*reason;
};

/*
 * Parse a command's flags (those in allowed; any order, GNU style) and
 * exactly nargs operands, which *operands then points to (inside argv).
 * *flags gets the flags given.  Returns 0; -1 after printing --help (exit
 * 0); or CLI_EXIT_USAGE after printing the usage error.
 */
int	 cli_parse_flags(const struct cli_cmd *, int argc, char **argv,
	    int allowed, struct cli_flags *flags, int nargs,
	    char ***operands);
/* The candidate closest to word if it looks like a typo of it (edit
 * distance up to a third of its length, at least 1, at most
 * CLI_SUGGEST_MAX), else NULL. */
#define CLI_SUGGEST_MAX	2
const char *cli_suggest(const char *word, const char * const *cands,
	    size_t n);
struct option;
/* "; did you mean '--NAME'?" into buf for an unknown "--option", else "". */
void	 cli_suggest_option(const char *arg, const struct option *longopts,
	    char *buf, size_t size);
/* Check an id operand; CLI_EXIT_USAGE after printing, else 0. */
int	 cli_check_id(const struct cli_cmd *, const char *what,
	    const char *id);

/*
 * Where task output goes: each stream raw to a pipe or a file; filtered
 * (display_filter_write) to a terminal unless raw was asked for.
 */
struct cli_output {
	int			filter[2];	/* stdout, stderr */
	struct display_filter	df[2];
};
void	 cli_output_init(struct cli_output *, int raw);
/* Write a chunk (a JSON string) to its stream ("stdout"/"stderr");
 * -1 if stdout's reader has gone away (then stop quietly, exit 0). */
int	 cli_output_write(struct cli_output *, const char *stream,
	    struct json_object *data);
/* Flush what the filters carry. */
void	 cli_output_end(struct cli_output *);
/* Whether stdout failed because its reader went away (EPIPE). */
int	 cli_stdout_gone(void);
/* Whether stdout is a terminal (then CSV is escaped like tables). */
extern int cli_stdout_tty;

/* Write one RFC 4180 field (quoted when needed); NULL is empty. */
void	 cli_csv_field(FILE *, const char *);
/* End a CSV record (CRLF, as RFC 4180 says). */
void	 cli_csv_end(FILE *);

/*
 * A table for people: rows of cells, columns padded to the widest cell by
 * display width.  Cells are escaped heap strings owned by the table; width
 * (owned) keeps each column's width across cli_table_print() calls.
 */
struct cli_table {
	size_t	  ncols;
	size_t	  nrows;
	char	**cells;	/* nrows * ncols (NULL past a row's span) */
	size_t	 *span;		/* nrows: where a row's last cell starts */
	int	 *width;	/* ncols */
	const char *indent;	/* before each row (static), or NULL */
};
void	 cli_table_init(struct cli_table *, size_t ncols);
/* Add a row of ncols strings (NULL shows as "-"); copies them escaped
 * (display_escape). */
void	 cli_table_add(struct cli_table *, const char * const *row);
/* Add a row whose columns from `from` on hold one text, row[from],
 * printed unpadded to the end of the line (an array's counts in ps). */
void	 cli_table_add_span(struct cli_table *, const char * const *row,
	    size_t from);
/* Print the rows added so far and free them (the widths stay). */
void	 cli_table_print(FILE *, struct cli_table *);
/* Free what the table still holds. */
void	 cli_table_free(struct cli_table *);

/* Format a JSON member: an integer ("" when absent). */
char	*cli_fmt_int(struct json_object *, const char *key, char *buf,
	    size_t size);
/* Format a JSON member: a double with prec decimals ("" when absent). */
char	*cli_fmt_double(struct json_object *, const char *key, int prec,
	    char *buf, size_t size);
/* Format a byte count for people: "512M", "3.8G". */
char	*cli_fmt_bytes(double bytes, char *buf, size_t size);

/* ---- cli-devices.c ---- */
int	 cli_devices_exec(const struct cli_cmd *, struct cli_ctx *, int,
	    char **);
int	 cli_device_admin_exec(const struct cli_cmd *, struct cli_ctx *, int,
	    char **);
int	 cli_status_exec(const struct cli_cmd *, struct cli_ctx *, int,
	    char **);
/* Print devices (list_devices reply data) as the SPEC's CSV. */
void	 cli_devices_csv(FILE *, struct json_object *devices);

/* ---- cli-tasks.c ---- */
/*
 * What submit was asked beyond the task itself: --wait, --fetch DIR
 * (borrowed from argv) and the --input values (borrowed; the array is
 * owned: cli_submit_opts_free()).
 */
struct cli_submit_opts {
	int		  wait;
	const char	 *fetch;
	const char	**inputs;
	size_t		  n_inputs;
};
/*
 * Parse submit's arguments (argv[0] is "submit") into t, which must come
 * from a msg_init(MSG_SUBMIT)'ed message (msg_free() frees what is set,
 * also on error), and o.  Returns 0, 1 for --help, or -1 with *cause
 * (caller frees).
 */
int	 cli_submit_parse(int argc, char **argv, struct proto_task *t,
	    struct cli_submit_opts *o, char **cause);
void	 cli_submit_opts_free(struct cli_submit_opts *);
/* Exit code of `submit --wait` for a task in a final state; -1 if the
 * task's state is not final. */
int	 cli_task_exit_code(struct json_object *task);
int	 cli_submit_exec(const struct cli_cmd *, struct cli_ctx *, int,
	    char **);
int	 cli_ps_exec(const struct cli_cmd *, struct cli_ctx *, int, char **);
int	 cli_show_exec(const struct cli_cmd *, struct cli_ctx *, int, char **);
int	 cli_logs_exec(const struct cli_cmd *, struct cli_ctx *, int, char **);
int	 cli_cancel_exec(const struct cli_cmd *, struct cli_ctx *, int,
	    char **);
/* Print tasks (list_tasks reply data) as the SPEC's CSV. */
void	 cli_tasks_csv(FILE *, struct json_object *tasks);
/* submit --wait: catch SIGINT into a self-pipe the session watches, and
 * take pending interrupts out of it. */
void	 cli_intr_start(struct cli_ctx *);
void	 cli_intr_drain(void);

/* Fetch one task (get_task); *data gets the reply data (caller puts).
 * Returns the exit code after printing a failure. */
int	 cli_get_task(struct cli_ctx *, const char *task_id,
	    struct json_object **data);

/* ---- cli-spec.c ---- */
/* Split an --input value PATH[:NAME] at its last ':' into *path and
 * *name (heap strings; *name NULL when not given, else a name
 * proto_file_name_ok() takes, trailing '/' dropped); -1 with *cause. */
int	 cli_input_split(const char *spec, char **path, char **name,
	    char **cause);
/* PATH's last component as a name (heap), or NULL if it has none that
 * proto_file_name_ok() takes ("/", ".", ".."). */
char	*cli_input_default_name(const char *path);

/* ---- cli-files.c ---- */
/* One input of a task: the local file and where it goes.  path and
 * name are owned. */
struct cli_input {
	char	*path;
	char	*name;
	int64_t	 size;
	int	 mode;			/* permission bits */
	char	 sha256[PROTO_SHA256_HEX + 1];	/* once hashed */
};
struct cli_inputs {
	struct cli_input	*v;	/* owned */
	size_t			 n;
	int64_t			 total;	/* bytes */
};
/*
 * Gather the files of submit's --input values (directories walked), each
 * checked readable.  Returns 0, or -1 with *cause (a usage error: nothing
 * was sent).  Notes on skipped links go to stderr.
 */
int	 cli_inputs_gather(const char * const *specs, size_t n,
	    struct cli_inputs *, char **cause);
void	 cli_inputs_free(struct cli_inputs *);
/* Whether the submit m, its inputs listed, fits in one line of the size
 * a main node takes by default; -1 with *cause (a usage error) if not. */
int	 cli_inputs_fit(const struct cli_inputs *, struct msg *m,
	    char **cause);
/*
 * Hash and upload every input the main node does not hold whole yet
 * (resuming where it has part of one), then add them to t's inputs.
 * Returns CLI_EXIT_OK or the exit code after printing why.
 */
int	 cli_inputs_send(struct cli_ctx *, struct cli_inputs *,
	    struct proto_task *t);
/*
 * Write the outputs of a task (get_task's TASK+DETAIL) into dir (made if
 * missing): each element's of an array under dir/INDEX/.  quiet: the
 * lines saying what was written go to stderr, not stdout.  Returns
 * CLI_EXIT_OK or the exit code after printing why.
 */
int	 cli_fetch_outputs(struct cli_ctx *, struct json_object *task,
	    const char *dir, int to_stderr);
/* encore fetch ID [DIR] */
int	 cli_fetch_exec(const struct cli_cmd *, struct cli_ctx *, int,
	    char **);
/* show: the task's inputs, outputs, checkpoint and patterns. */
void	 cli_show_files(struct json_object *task);

/* ---- cli-work.c ---- */
/* Parse an --array SPEC (N, A-B or A-B:STEP, then optionally %K) into
 * t's array fields; -1 with *cause (caller frees). */
int	 cli_array_parse(const char *spec, struct proto_task *t,
	    char **cause);
/* Append an --OPT value's comma-separated task ids to *list (*n of
 * them, heap strings); -1 with *cause. */
int	 cli_deps_parse(const char *opt, const char *value, char ***list,
	    size_t *n, char **cause);
/* get_task's array.counts as "3 running, 12 completed" into buf. */
char	*cli_array_counts(struct json_object *counts, char *buf,
	    size_t size);
/* "array of 50: 3 running, ..." for an array's TASK into buf. */
char	*cli_array_summary(struct json_object *task, char *buf,
	    size_t size);
/* get_task without reporting a failure: *task gets the TASK+DETAIL
 * (caller puts) or NULL; err is filled unless CLIENT_OK. */
enum client_result cli_task_detail(struct cli_ctx *, const char *id,
	    struct json_object **task, struct client_error *err);
/* submit --wait of an array: wait for it to end; the exit code. */
int	 cli_array_wait(struct cli_ctx *, const char *id);
int	 cli_hold_exec(const struct cli_cmd *, struct cli_ctx *, int,
	    char **);

/* ---- cli-backup.c ---- */
int	 cli_backup_exec(const struct cli_cmd *, struct cli_ctx *, int,
	    char **);

#endif /* CLI_H */
