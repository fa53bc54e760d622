/* SPDX-License-Identifier: ISC */
/*
 * main-node.c -- encore-main: options, state directory, tokens, the store,
 * signals and the event loop.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "main.h"

static const char *main_synopsis =
    "encore-main [--listen H:P] [--state-dir D] [--config F] "
    "[--join-token T]\n"
    "       [--operator-token T] [--approve auto|manual] "
    "[--heartbeat-interval S]\n"
    "       [--offline-after S] [--lost-after S] "
    "[--text-export on|off|local]\n"
    "       [--snapshot-interval S] [--snapshot-keep N] "
    "[--plaintext local|on|off]\n"
    "       [--log-level L] [options]\n"
    "       encore-main --state-dir D --rotate-server-cert\n\n"
    "The encore main node: devices join it, operators submit tasks to it.\n"
    "Workers, the CLI and encore-top speak JSON lines on the cluster port;\n"
    "`echo devices | nc HOST 7070` gets a plain-text view.\n\n"
    "State dir default: /var/lib/encore for root, else\n"
    "$XDG_STATE_HOME/encore or ~/.local/state/encore.  It holds encore.db,\n"
    "join.token and operator.token (0600, generated on first start, in the\n"
    "pinned form ENC1:<sha256 of ca.crt>:<secret>), the cluster's CA and\n"
    "server certificate (ca.crt, ca.key, server.crt, server.key) and\n"
    "snapshots/.";

/* The secret of a token text: after "ENC1:<pin>:", or all of it. */
static const char *
token_secret_of(const char *t)
{
	const char	*p;

	if (strncmp(t, "ENC1:", 5) == 0 && (p = strchr(t + 5, ':')) != NULL)
		return (p + 1);
	return (t);
}

/*
 * Load a token: from the flag if given, else from the file, else a new
 * one; the file is then (re)written in the pinned form
 * "ENC1:<pin>:<secret>" around the same secret, 0600, so a state dir
 * from before TLS keeps the secrets its devices hold.  Returns the
 * pinned text.  No part of a token is ever logged.
 */
static char *
load_token(const char *dir, const char *name, const char *given,
    const char *pin)
{
	char	*path, *old = NULL, *tok, *cause = NULL, *fresh;
	int	 fd;

	xasprintf(&path, "%s/%s.token", dir, name);
	if (given == NULL && access(path, F_OK) == 0 &&
	    (old = proto_read_secret(path, &cause)) == NULL)
		fatalx("%s; fix or delete it (a new one is made, and devices "
		    "must be given it)", cause);
	fresh = given == NULL && old == NULL ? token_generate() : NULL;
	xasprintf(&tok, "ENC1:%s:%s", pin, given != NULL ?
	    token_secret_of(given) : old != NULL ? token_secret_of(old) :
	    fresh);
	free(fresh);
	if (old == NULL || strcmp(old, tok) != 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
		if (fd < 0 || write(fd, tok, strlen(tok)) < 0 ||
		    write(fd, "\n", 1) != 1 || fsync(fd) != 0)
			fatal("cannot write %s", path);
		fchmod(fd, 0600);
		close(fd);
		log_info("event=token_%s file=%s", old == NULL && given == NULL ?
		    "created" : "written", path);
	}
	free(old);
	free(path);
	return (tok);
}

/* Read options from flags, then the config file. */
static void
parse_options(int argc, char **argv, struct options *opt)
{
	struct cfg	 cfg;
	char		*cause = NULL, *host = NULL, *port = NULL;
	const char	*v;
	int		 optind, level;
	size_t		 min_buffer;

	cfg_init(&cfg, cfg_main_options, cfg_main_options_n);
	if (cfg_parse_args(&cfg, argc, argv, &optind, &cause) != 0) {
		fprintf(stderr, "encore-main: %s\nTry 'encore-main --help'.\n",
		    cause);
		exit(2);
	}
	if (cfg_get_flag(&cfg, "help")) {
		cfg_usage(stdout, main_synopsis, &cfg);
		exit(0);
	}
	if (cfg_get_flag(&cfg, "version")) {
		printf("encore-main %s (protocol %d)\n", ENCORE_VERSION,
		    PROTO_VERSION);
		exit(0);
	}
	if (optind < argc) {
		fprintf(stderr, "encore-main: unexpected argument \"%s\"\n"
		    "Try 'encore-main --help'.\n", argv[optind]);
		exit(2);
	}
	if ((v = cfg_get(&cfg, "config")) != NULL &&
	    cfg_load_file(&cfg, v, &cause) != 0) {
		fprintf(stderr, "encore-main: %s\n", cause);
		exit(2);
	}
	level = log_level_parse(cfg_get(&cfg, "log-level"));
	log_init("encore-main", level < 0 ? LOG_INFO : level);

	opt->listen = xstrdup(cfg_get(&cfg, "listen"));
	if (proto_parse_hostport(opt->listen, "7070", &host, &port,
	    &cause) != 0 || *port == '\0' || strspn(port, "0123456789") !=
	    strlen(port) || atoi(port) < 1 || atoi(port) > 65535 ||
	    (*host != '\0' && strspn(host, "0123456789") == strlen(host))) {
		fprintf(stderr, "encore-main: --listen %s: expected HOST:PORT, "
		    "e.g. 0.0.0.0:7070 or 127.0.0.1:7070%s%s\n", opt->listen,
		    cause != NULL ? ": " : "", cause != NULL ? cause : "");
		exit(2);
	}
	free(host);
	free(port);
	v = cfg_get(&cfg, "state-dir");
	opt->state_dir = v != NULL ? xstrdup(v) :
	    proto_default_state_dir("encore", NULL);
	v = cfg_get(&cfg, "join-token");
	opt->join_token = v != NULL ? xstrdup(v) : NULL;
	v = cfg_get(&cfg, "operator-token");
	opt->operator_token = v != NULL ? xstrdup(v) : NULL;
	opt->approve_auto = strcmp(cfg_get(&cfg, "approve"), "auto") == 0;
	opt->heartbeat_interval = (int)cfg_get_int(&cfg, "heartbeat-interval");
	if (cfg_get(&cfg, "offline-after") != NULL)
		opt->offline_after = (int)cfg_get_int(&cfg, "offline-after");
	else
		opt->offline_after = 3 * opt->heartbeat_interval;
	if (cfg_get(&cfg, "lost-after") != NULL)
		opt->lost_after = (int)cfg_get_int(&cfg, "lost-after");
	else
		opt->lost_after = opt->offline_after;
	v = cfg_get(&cfg, "text-export");
	opt->text_export = strcmp(v, "off") == 0 ? TEXT_EXPORT_OFF :
	    strcmp(v, "local") == 0 ? TEXT_EXPORT_LOCAL : TEXT_EXPORT_ON;
	opt->max_line = (size_t)cfg_get_int(&cfg, "max-line");
	opt->max_connections = (int)cfg_get_int(&cfg, "max-connections");
	opt->auth_timeout = (int)cfg_get_int(&cfg, "auth-timeout");
	opt->max_conns_per_addr = (int)cfg_get_int(&cfg, "max-conns-per-addr");
	opt->max_msg_rate = (int)cfg_get_int(&cfg, "max-msg-rate");
	opt->max_conn_buffer =
	    (size_t)cfg_get_int(&cfg, "max-conn-buffer-kb") * 1024;
	opt->max_output = (size_t)cfg_get_int(&cfg, "max-output-kb") * 1024;
	/* A reader must be able to take one whole `logs` reply. */
	min_buffer = 4 * opt->max_output + 2 * opt->max_line;
	if (opt->max_conn_buffer < min_buffer) {
		log_info("event=option_raised option=max-conn-buffer-kb "
		    "value=%zu msg=\"room for one logs reply of "
		    "max-output-kb\"", min_buffer / 1024);
		opt->max_conn_buffer = min_buffer;
	}
	opt->max_queued = (int)cfg_get_int(&cfg, "max-queued");
	opt->max_pending = (int)cfg_get_int(&cfg, "max-pending");
	opt->keep_finished = cfg_get_int(&cfg, "keep-finished");
	opt->max_files = cfg_get_int(&cfg, "max-files-mb") * 1024 * 1024;
	opt->max_input = cfg_get_int(&cfg, "max-input-mb") * 1024 * 1024;
	opt->snapshot_interval = (int)cfg_get_int(&cfg, "snapshot-interval");
	opt->snapshot_keep = (int)cfg_get_int(&cfg, "snapshot-keep");
	v = cfg_get(&cfg, "plaintext");
	opt->plaintext = strcmp(v, "off") == 0 ? PLAINTEXT_OFF :
	    strcmp(v, "on") == 0 ? PLAINTEXT_ON : PLAINTEXT_LOCAL;
	opt->rotate_cert = cfg_get_flag(&cfg, "rotate-server-cert");
	cfg_free(&cfg);
}

/* On first start, say exactly how to join a device. */
static void
print_join_hint(struct options *opt, const char *jt_path)
{
	char	 host[256] = "THIS-HOST";
	char	*h = NULL, *p = NULL, *cause = NULL;

	if (proto_parse_hostport(opt->listen, "7070", &h, &p, &cause) != 0) {
		free(cause);
		return;
	}
	if (*h != '\0' && strcmp(h, "0.0.0.0") != 0 && strcmp(h, "::") != 0)
		snprintf(host, sizeof host, "%s", h);
	else
		gethostname(host, sizeof host);
	host[sizeof host - 1] = '\0';
	log_info("event=join_hint msg=\"to join a device, copy %s to it and "
	    "run: encore-worker --main %s:%s --token-file join.token\"",
	    jt_path, host, p);
	free(h);
	free(p);
}

/* SIGTERM/SIGINT: graceful shutdown. */
static void
main_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	struct server	*s = arg;

	log_info("event=signal signal=%d", (int)sig);
	server_shutdown(s);
}

/* The end of a loop pass, before its group commit: the scheduler places
 * what it can, inside the same transaction. */
static void
main_pass_end(struct server *s)
{
	if (queue_is_dirty())
		queue_pass(s);
}

int
main(int argc, char **argv)
{
	struct options	 opt;
	struct server	 s;
	char		*cause = NULL, *dbpath, *jt_path;
	int		 first_start, i;

	memset(&opt, 0, sizeof opt);
	memset(&s, 0, sizeof s);
	log_init("encore-main", LOG_INFO);
	parse_options(argc, argv, &opt);
	signal(SIGPIPE, SIG_IGN);
	umask(077);

	if (dispatch_check_table(&cause) != 0)
		fatalx("internal: %s", cause);
	if (proto_mkdirs(opt.state_dir, 0700) != 0)
		fatal("cannot create state dir %s (set --state-dir)",
		    opt.state_dir);
	xasprintf(&jt_path, "%s/join.token", opt.state_dir);
	first_start = access(jt_path, F_OK) != 0;
	if (opt.rotate_cert) {
		if (tls_rotate(opt.state_dir, opt.listen, &cause) != 0)
			fatalx("%s", cause);
		printf("encore-main: a new server certificate is in %s/"
		    "server.crt; restart encore-main to use it (tokens are "
		    "unchanged)\n", opt.state_dir);
		exit(0);
	}
	if (tls_start(opt.state_dir, opt.listen, &cause) != 0)
		fatalx("%s", cause);
	{
		char *jt = load_token(opt.state_dir, "join", opt.join_token,
		    tls_ca_pin());
		char *ot = load_token(opt.state_dir, "operator",
		    opt.operator_token, tls_ca_pin());

		free(opt.join_token);
		free(opt.operator_token);
		opt.join_token = jt;
		opt.operator_token = ot;
	}

	xasprintf(&dbpath, "%s/encore.db", opt.state_dir);
	if ((s.store = store_open(dbpath, &cause)) == NULL)
		fatalx("%s", cause);
	registry_init();
	if (store_device_load_all(s.store) != 0)
		fatalx("cannot load devices from %s", dbpath);

	s.base = event_base_new();
	if (s.base == NULL)
		fatalx("cannot create the event loop");
	s.opt = &opt;
	s.started = now_mono();
	s.started_wall = time(NULL);
	s.reserve_fd = -1;
	s.on_json_line = dispatch_line;
	s.on_text_line = export_text;
	s.on_closed = dispatch_closed;
	s.on_raw = files_raw;
	s.on_raw_end = files_raw_end;
	if (files_start(&s, &cause) != 0)
		fatalx("%s", cause);
	s.on_pass_end = main_pass_end;
	s.on_commit_failed = task_reload;
	s.on_task_change = watch_task;
	s.on_device_change = watch_device;
	commit_start(&s);
	queue_init();
	if (task_start(&s) != 0)
		fatalx("cannot load tasks from %s", dbpath);
	if (server_start(&s, &cause) != 0)
		fatalx("%s", cause);
	if (http_start(&s) != 0)
		fatalx("cannot start the HTTP service");
	backup_start(&s);
	s.sig_ev[0] = evsignal_new(s.base, SIGTERM, main_signal_cb, &s);
	s.sig_ev[1] = evsignal_new(s.base, SIGINT, main_signal_cb, &s);
	s.sig_ev[2] = evsignal_new(s.base, SIGHUP, main_signal_cb, &s);
	for (i = 0; i < 3; i++)
		evsignal_add(s.sig_ev[i], NULL);

	log_info("event=started version=%s listen=%s state_dir=%s "
	    "approve=%s heartbeat=%d offline_after=%d lost_after=%d "
	    "devices=%d queued=%lld schema=%d", ENCORE_VERSION, opt.listen,
	    opt.state_dir, opt.approve_auto ? "auto" : "manual",
	    opt.heartbeat_interval, opt.offline_after, opt.lost_after,
	    registry_count(), (long long)queue_count(),
	    store_schema_version());
	if (first_start)
		print_join_hint(&opt, jt_path);

	event_base_dispatch(s.base);

	commit_flush(&s);
	dispatch_stop();
	backup_stop(&s);
	http_stop(&s);
	server_stop(&s);
	tls_stop();
	task_stop(&s);
	files_stop();
	queue_pass_free();
	commit_stop(&s);
	scheduler_reset();
	for (i = 0; i < 3; i++)
		event_free(s.sig_ev[i]);
	store_close(s.store);
	registry_free();
	event_base_free(s.base);
	log_info("event=stopped");
	free(dbpath);
	free(jt_path);
	free(opt.listen);
	free(opt.state_dir);
	free(opt.join_token);
	free(opt.operator_token);
	return (0);
}
