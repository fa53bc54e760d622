/* SPDX-License-Identifier: ISC */
/*
 * config-table.c -- the option tables of encore-main and encore-worker.
 *
 * One row per option drives argv and file parsing, validation, --help and
 * the example files config/main.conf and config/worker.conf (which the unit
 * tests check against these tables).  Options whose default depends on the
 * machine (state-dir, slots, offline-after...) have no default here: the
 * program computes it and says so in the help text.
 */
#include <stddef.h>

#include "config.h"

static const char *cfg_choices_approve[] = { "auto", "manual", NULL };
static const char *cfg_choices_text_export[] = { "on", "off", "local", NULL };
static const char *cfg_choices_log_level[] = {
	"error", "warn", "info", "debug", NULL
};
static const char *cfg_choices_runtime[] = {
	"auto", "podman", "docker", "none", NULL
};

/* encore-main. */
const struct cfg_option cfg_main_options[] = {
	{ .name = "listen",
	  .type = CFG_STRING,
	  .def = "0.0.0.0:7070",
	  .metavar = "HOST:PORT",
	  .help = "address for workers, operators and the text export"
	},
	{ .name = "state-dir",
	  .type = CFG_STRING,
	  .metavar = "DIR",
	  .help = "directory for encore.db and the tokens (default: "
	      "/var/lib/encore as root, else ~/.local/state/encore)"
	},
	{ .name = "config",
	  .type = CFG_STRING,
	  .metavar = "FILE",
	  .help = "read options from this INI file; flags override it"
	},
	{ .name = "join-token",
	  .type = CFG_STRING,
	  .metavar = "TOKEN",
	  .help = "token devices present to join (default: generated into "
	      "STATE-DIR/join.token)"
	},
	{ .name = "operator-token",
	  .type = CFG_STRING,
	  .metavar = "TOKEN",
	  .help = "token for the CLI and dashboard (default: generated into "
	      "STATE-DIR/operator.token)"
	},
	{ .name = "approve",
	  .type = CFG_CHOICE,
	  .choices = cfg_choices_approve,
	  .def = "manual",
	  .help = "admit joining devices at once (auto) or after "
	      "'encore approve ID' (manual)"
	},
	{ .name = "heartbeat-interval",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 3600,
	  .def = "5",
	  .metavar = "S",
	  .help = "seconds between worker heartbeats"
	},
	{ .name = "offline-after",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 86400,
	  .metavar = "S",
	  .help = "seconds of silence before a device is offline (default: "
	      "3 x heartbeat-interval)"
	},
	{ .name = "lost-after",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 604800,
	  .metavar = "S",
	  .help = "seconds after a device's last message before its running "
	      "tasks are re-queued elsewhere; back in time, it keeps them "
	      "(default: offline-after)"
	},
	{ .name = "text-export",
	  .type = CFG_CHOICE,
	  .choices = cfg_choices_text_export,
	  .def = "on",
	  .help = "plain-text commands for nc on the cluster port: on, off, "
	      "or from loopback only (local)"
	},
	{ .name = "plaintext",
	  .type = CFG_CHOICE,
	  .choices = cfg_choices_text_export,
	  .def = "local",
	  .help = "JSON sessions without TLS: from loopback only (local), "
	      "from anywhere (on) or never (off); the text export is always "
	      "plaintext"
	},
	{ .name = "rotate-server-cert",
	  .type = CFG_FLAG,
	  .help = "make a new server certificate under the same CA in the "
	      "state dir and exit; tokens stay valid"
	},
	{ .name = "log-level",
	  .type = CFG_CHOICE,
	  .choices = cfg_choices_log_level,
	  .def = "info",
	  .help = "log messages of this level and more severe"
	},
	{ .name = "max-line",
	  .type = CFG_INT,
	  .min = 1024,
	  .max = 16777216,
	  .def = "65536",
	  .metavar = "BYTES",
	  .help = "longest accepted protocol line, bytes"
	},
	{ .name = "max-connections",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 1000000,
	  .def = "16384",
	  .metavar = "N",
	  .help = "most connections open at once; more are refused (the "
	      "open-files limit is raised to fit)"
	},
	{ .name = "auth-timeout",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 3600,
	  .def = "10",
	  .metavar = "S",
	  .help = "seconds a new connection has to register, authenticate "
	      "or send its text command"
	},
	{ .name = "max-conns-per-addr",
	  .type = CFG_INT,
	  .min = 0,
	  .max = 1000000,
	  .def = "64",
	  .metavar = "N",
	  .help = "most connections from one IP address, 0 for no limit; "
	      "loopback peers are exempt"
	},
	{ .name = "max-msg-rate",
	  .type = CFG_INT,
	  .min = 0,
	  .max = 10000000,
	  .def = "2000",
	  .metavar = "N",
	  .help = "messages a second one connection may send, 0 for no "
	      "limit; a faster peer is read more slowly, not dropped"
	},
	{ .name = "max-conn-buffer-kb",
	  .type = CFG_INT,
	  .min = 64,
	  .max = 4194304,
	  .def = "8192",
	  .metavar = "KIB",
	  .help = "unread output queued for one connection, KiB; a peer that "
	      "does not read is disconnected beyond it"
	},
	{ .name = "max-output-kb",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 1048576,
	  .def = "1024",
	  .metavar = "KIB",
	  .help = "task output kept per task, KiB; output beyond it is "
	      "discarded"
	},
	{ .name = "max-queued",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 100000000,
	  .def = "100000",
	  .metavar = "N",
	  .help = "most tasks waiting in the queue; submit is refused beyond"
	},
	{ .name = "max-pending",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 1000000,
	  .def = "1000",
	  .metavar = "N",
	  .help = "most devices waiting for approval; joining is refused "
	      "beyond until some are approved or rejected"
	},
	{ .name = "keep-finished",
	  .type = CFG_INT,
	  .min = 0,
	  .max = 315360000,
	  .def = "604800",
	  .metavar = "S",
	  .help = "seconds a finished task and its output are kept, 0 for "
	      "ever (default: 7 days)"
	},
	{ .name = "max-files-mb",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 1073741824,
	  .def = "10240",
	  .metavar = "MIB",
	  .help = "room for task files (inputs, outputs, checkpoints) in "
	      "STATE-DIR/files, MiB; an upload beyond it is refused (busy)"
	},
	{ .name = "max-input-mb",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 1073741824,
	  .def = "4096",
	  .metavar = "MIB",
	  .help = "most input bytes of one task, all its files together, MiB"
	},
	{ .name = "snapshot-interval",
	  .type = CFG_INT,
	  .min = 0,
	  .max = 31536000,
	  .def = "43200",
	  .metavar = "S",
	  .help = "seconds between database snapshots in "
	      "STATE-DIR/snapshots, 0 for none"
	},
	{ .name = "snapshot-keep",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 10000,
	  .def = "5",
	  .metavar = "N",
	  .help = "snapshots kept; the oldest go first"
	},
	{ .name = "help",
	  .short_name = 'h',
	  .type = CFG_FLAG,
	  .help = "print this help and exit"
	},
	{ .name = "version",
	  .short_name = 'V',
	  .type = CFG_FLAG,
	  .help = "print the version and exit"
	},
};
const size_t cfg_main_options_n =
    sizeof cfg_main_options / sizeof cfg_main_options[0];

/* encore-worker. */
const struct cfg_option cfg_worker_options[] = {
	{ .name = "main",
	  .type = CFG_STRING,
	  .metavar = "HOST:PORT",
	  .help = "main node to connect to (required unless --profile)"
	},
	{ .name = "token",
	  .type = CFG_STRING,
	  .metavar = "TOKEN",
	  .help = "join token, from the main node's STATE-DIR/join.token; "
	      "a pinned one (ENC1:...) means TLS, checked against the pin"
	},
	{ .name = "token-file",
	  .type = CFG_STRING,
	  .metavar = "FILE",
	  .help = "read the join token from this file instead"
	},
	{ .name = "id",
	  .type = CFG_STRING,
	  .metavar = "ID",
	  .help = "device id shown in the cluster (default: the hostname)"
	},
	{ .name = "state-dir",
	  .type = CFG_STRING,
	  .metavar = "DIR",
	  .help = "directory for device.key and the result spool (default: "
	      "/var/lib/encore/worker as root, else "
	      "~/.local/state/encore-worker)"
	},
	{ .name = "config",
	  .type = CFG_STRING,
	  .metavar = "FILE",
	  .help = "read options from this INI file; flags override it"
	},
	{ .name = "slots",
	  .type = CFG_INT,
	  .min = 1,
	  .max = 1024,
	  .metavar = "N",
	  .help = "tasks run at once (default: the number of CPU cores)"
	},
	{ .name = "runtime",
	  .type = CFG_CHOICE,
	  .choices = cfg_choices_runtime,
	  .def = "auto",
	  .help = "container runtime; auto uses podman or docker if usable, "
	      "none runs plain commands only"
	},
	{ .name = "label",
	  .type = CFG_LIST,
	  .metavar = "K=V",
	  .help = "label tasks can require, e.g. gpu=yes"
	},
	{ .name = "cache-mb",
	  .type = CFG_INT,
	  .min = 0,
	  .max = 1073741824,
	  .def = "1024",
	  .metavar = "MIB",
	  .help = "room for task files kept in STATE-DIR/cache, MiB; the "
	      "least recently used go first (files in use are kept)"
	},
	{ .name = "min-battery",
	  .type = CFG_INT,
	  .min = 0,
	  .max = 100,
	  .def = "20",
	  .metavar = "PCT",
	  .help = "suspend tasks on battery below this charge, percent (0: "
	      "never)"
	},
	{ .name = "resume-battery",
	  .type = CFG_INT,
	  .min = 0,
	  .max = 100,
	  .metavar = "PCT",
	  .help = "after a low battery, resume at this charge or on charge "
	      "(default: min-battery + 10)"
	},
	{ .name = "max-temp",
	  .type = CFG_INT,
	  .min = 30,
	  .max = 150,
	  .def = "80",
	  .metavar = "C",
	  .help = "suspend tasks above this temperature, degrees Celsius"
	},
	{ .name = "resume-temp",
	  .type = CFG_INT,
	  .min = 20,
	  .max = 150,
	  .metavar = "C",
	  .help = "after overheating, resume at this temperature or cooler "
	      "(default: max-temp - 10)"
	},
	{ .name = "max-load",
	  .type = CFG_STRING,
	  .metavar = "L",
	  .help = "suspend tasks while programs other than encore's use more "
	      "than L CPUs, e.g. 0.5 (default: off)"
	},
	{ .name = "run-hours",
	  .type = CFG_STRING,
	  .metavar = "HH:MM-HH:MM",
	  .help = "run tasks only in this local time window, e.g. 22:00-07:00 "
	      "(default: always)"
	},
	{ .name = "resume-after",
	  .type = CFG_INT,
	  .min = 0,
	  .max = 86400,
	  .def = "60",
	  .metavar = "S",
	  .help = "resume no sooner than this many seconds after suspending"
	},
	{ .name = "max-suspend",
	  .type = CFG_INT,
	  .min = 0,
	  .max = 604800,
	  .def = "600",
	  .metavar = "S",
	  .help = "vacate a task suspended longer than this, seconds (0: "
	      "never)"
	},
	{ .name = "sysfs",
	  .type = CFG_STRING,
	  .def = "/sys",
	  .metavar = "DIR",
	  .help = "read battery and temperature from this sysfs mount"
	},
	{ .name = "procfs",
	  .type = CFG_STRING,
	  .def = "/proc",
	  .metavar = "DIR",
	  .help = "read load, CPU and memory from this procfs mount"
	},
	{ .name = "log-level",
	  .type = CFG_CHOICE,
	  .choices = cfg_choices_log_level,
	  .def = "info",
	  .help = "log messages of this level and more severe"
	},
	{ .name = "profile",
	  .type = CFG_FLAG,
	  .help = "print the device profile JSON and exit"
	},
	{ .name = "help",
	  .short_name = 'h',
	  .type = CFG_FLAG,
	  .help = "print this help and exit"
	},
	{ .name = "version",
	  .short_name = 'V',
	  .type = CFG_FLAG,
	  .help = "print the version and exit"
	},
};
const size_t cfg_worker_options_n =
    sizeof cfg_worker_options / sizeof cfg_worker_options[0];
