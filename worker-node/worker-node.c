/* SPDX-License-Identifier: ISC */
/*
 * worker-node.c -- encore-worker's main(): options, config file, state
 * directory, signals and the event loop.  Also the few helpers every worker
 * module shares (message ids, atomic file writes, the register payload).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "config.h"
#include "protocol.h"
#include "profiler.h"
#include "worker.h"

#define WORKER_SYNOPSIS \
	"encore-worker --main HOST:PORT [--token T | --token-file F] [options]\n" \
	"       encore-worker --profile"
#define WORKER_EXIT_USAGE	2
#define WORKER_BYE_GRACE	3	/* seconds to flush bye at exit */

struct worker_conf	 wconf;
struct event_base	*worker_base;
int			 worker_exiting;
static int		 worker_exit_code;

static struct event	*worker_sigterm_ev;
static struct event	*worker_sigint_ev;
static struct event	*worker_sighup_ev;

/* Print a usage error that says what to do, and exit 2. */
static void __attribute__((format(printf, 1, 2), noreturn))
worker_usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "encore-worker: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'encore-worker --help'.\n");
	exit(WORKER_EXIT_USAGE);
}

/* Capabilities this device offers (static list). */
static const char **
worker_capabilities(size_t *n)
{
	static const char	*caps[3];

	caps[0] = "command";
	*n = 1;
	if (wconf.runtime != NULL) {
		caps[1] = "container";
		caps[2] = wconf.runtime;
		*n = 3;
	}
	return (caps);
}

/*
 * The tasks this worker still holds, for register.running_tasks: those
 * running and those whose result is spooled but not yet acknowledged (it
 * follows right after the register_ack), so the main node does not
 * re-queue an attempt whose result is on its way.
 */
static size_t
worker_held_tasks(struct proto_task_ref **refs)
{
	static struct proto_task_ref	*buf;
	struct proto_task_ref		*run, *spooled;
	size_t				 nrun, nsp, n, i, j;

	nrun = task_refs(&run);
	nsp = spool_refs(&spooled);
	free(buf);
	buf = NULL;
	*refs = NULL;
	if (nrun + nsp == 0)
		return (0);
	buf = xcalloc(nrun + nsp, sizeof *buf);
	for (n = 0; n < nrun; n++)
		buf[n] = run[n];
	for (i = 0; i < nsp; i++) {
		for (j = 0; j < nrun; j++) {
			if (run[j].attempt == spooled[i].attempt &&
			    strcmp(run[j].task_id, spooled[i].task_id) == 0)
				break;
		}
		if (j == nrun)
			buf[n++] = spooled[i];
	}
	*refs = buf;
	return (n);
}

/* Build the register message of this device; all strings borrowed. */
void
worker_fill_register(struct msg *m)
{
	size_t	n;

	msg_init(m, MSG_REGISTER);
	m->sender_id = wconf.id;
	m->message_id = worker_next_id();
	m->protocol_version = PROTO_VERSION;
	m->u.reg.info = wconf.dev.info;
	m->u.reg.hw = wconf.dev.hw;
	m->u.reg.capabilities = (char **)worker_capabilities(&n);
	m->u.reg.n_capabilities = n;
	m->u.reg.labels = wconf.labels;
	m->u.reg.n_labels = wconf.n_labels;
	m->u.reg.slots = wconf.slots;
	m->u.reg.n_running = worker_held_tasks(&m->u.reg.running);
}

/* Print the register.data of this device, pretty, and exit 0. */
static void __attribute__((noreturn))
worker_print_profile(void)
{
	struct msg		 m;
	struct json_object	*root, *data;
	char			*line;
	size_t			 len;

	worker_fill_register(&m);
	if ((line = msg_encode(&m, &len)) == NULL)
		fatalx("cannot encode the device profile");
	root = json_tokener_parse(line);
	if (root == NULL || !json_object_object_get_ex(root, "data", &data))
		fatalx("cannot encode the device profile");
	printf("%s\n", json_object_to_json_string_ext(data,
	    JSON_C_TO_STRING_PRETTY|JSON_C_TO_STRING_SPACED|
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	free(line);
	exit(0);
}

/* Default state dir: /var/lib/encore/worker for root, else XDG state. */
static char *
worker_default_state_dir(void)
{
	const char	*xdg, *home;
	struct passwd	*pw;
	char		*s;

	if (geteuid() == 0)
		return (xstrdup("/var/lib/encore/worker"));
	if ((xdg = getenv("XDG_STATE_HOME")) != NULL && *xdg == '/') {
		xasprintf(&s, "%s/encore-worker", xdg);
		return (s);
	}
	home = getenv("HOME");
	if ((home == NULL || *home == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL || *home == '\0')
		home = "/tmp";
	xasprintf(&s, "%s/.local/state/encore-worker", home);
	return (s);
}

/* mkdir -p with mode for the last component; 0 or -1 with errno. */
static int
worker_mkdirs(const char *path, mode_t mode)
{
	char	*p, *s;
	int	 r = 0;

	p = xstrdup(path);
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			r = -1;
			break;
		}
		*s = '/';
	}
	if (r == 0 && mkdir(p, mode) != 0 && errno != EEXIST)
		r = -1;
	free(p);
	return (r);
}

/* Strip leading and trailing white space in place. */
static char *
worker_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return (s);
}

/* Read the join token from a file; exits 2 naming the file on error. */
static char *
worker_read_token_file(const char *path)
{
	FILE	*f;
	char	 buf[PROTO_TOKEN_MAX + 2], *t;
	size_t	 n;

	if ((f = fopen(path, "re")) == NULL)
		worker_usage_error("cannot read token file %s: %s (use the "
		    "main node's STATE-DIR/join.token, or --token)", path,
		    strerror(errno));
	n = fread(buf, 1, sizeof buf - 1, f);
	if (ferror(f)) {
		fclose(f);
		worker_usage_error("cannot read token file %s: %s", path,
		    strerror(errno));
	}
	fclose(f);
	buf[n] = '\0';
	if (n > PROTO_TOKEN_MAX)
		worker_usage_error("token file %s is too long (at most %d "
		    "bytes): is it the right file?", path, PROTO_TOKEN_MAX);
	t = worker_trim(buf);
	if (*t == '\0')
		worker_usage_error("token file %s is empty: copy the main "
		    "node's join.token into it", path);
	return (xstrdup(t));
}

/* 1 if the state dir holds a non-empty device.key we can read. */
static int
worker_has_key(void)
{
	char	*path, buf[8];
	int	 fd;
	ssize_t	 n;

	xasprintf(&path, "%s/device.key", wconf.state_dir);
	fd = open(path, O_RDONLY|O_CLOEXEC);
	free(path);
	if (fd == -1)
		return (0);
	n = read(fd, buf, sizeof buf);
	close(fd);
	return (n > 0);
}

/* Validate and split the --label K=V entries. */
static void
worker_parse_labels(const struct cfg *cfg)
{
	char * const	*list;
	const char	*eq, *p;
	size_t		 n, i, klen;

	list = cfg_get_list(cfg, "label", &n);
	if (n > PROTO_LIST_MAX)
		worker_usage_error("too many --label options (at most %d)",
		    PROTO_LIST_MAX);
	if (n == 0)
		return;
	wconf.labels = xcalloc(n, sizeof *wconf.labels);
	for (i = 0; i < n; i++) {
		eq = strchr(list[i], '=');
		klen = eq != NULL ? (size_t)(eq - list[i]) : 0;
		if (eq == NULL || klen == 0 || klen > PROTO_NAME_MAX ||
		    strlen(eq + 1) > PROTO_NAME_MAX)
			worker_usage_error("bad --label '%s': expected KEY=VALUE, "
			    "e.g. --label gpu=yes", list[i]);
		for (p = list[i]; p < eq; p++) {
			if (!isalnum((unsigned char)*p) && strchr("_.-/", *p) ==
			    NULL)
				worker_usage_error("bad --label '%s': keys may "
				    "use letters, digits and _ . - /", list[i]);
		}
		for (p = eq + 1; *p != '\0'; p++) {
			if (iscntrl((unsigned char)*p))
				worker_usage_error("bad --label '%s': control "
				    "character in the value", list[i]);
		}
		wconf.labels[i].key = xstrndup(list[i], klen);
		wconf.labels[i].value = xstrdup(eq + 1);
	}
	wconf.n_labels = n;
}

/* Check the device id: printable, no spaces, not too long. */
static void
worker_check_id(const char *id)
{
	const char	*p;

	if (*id == '\0' || strlen(id) > PROTO_ID_MAX)
		worker_usage_error("bad --id '%s': 1 to %d characters",
		    id, PROTO_ID_MAX);
	for (p = id; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("_.-:@", *p) == NULL)
			worker_usage_error("bad --id '%s': use letters, digits "
			    "and _ . - : @", id);
	}
}

/* The loop is over: free what we hold and exit. */
static void
worker_done(void)
{
	event_base_loopexit(worker_base, NULL);
}

/* A configuration error found while running: say what to do, stop the
 * tasks, leave the loop; main() exits with code. */
void
worker_stop(int code, const char *fmt, ...)
{
	char	msg[2048];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	if (worker_exiting)
		return;
	worker_exiting = 1;
	worker_exit_code = code;
	task_kill_all();
	event_base_loopexit(worker_base, NULL);
}

/* SIGTERM/SIGINT: stop tasks, say bye, flush, exit 0. */
static void
worker_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	if (worker_exiting) {
		log_warn("event=shutdown signal=%d msg=\"second signal, exiting "
		    "now\"", (int)sig);
		task_kill_all();
		exit(0);
	}
	worker_exiting = 1;
	log_info("event=shutdown signal=%d", (int)sig);
	task_kill_all();
	upstream_bye("shutdown", worker_done);
}

/* SIGHUP: nothing to reload yet; say so. */
static void
worker_sighup_cb(evutil_socket_t sig, short events, void *arg)
{
	log_info("event=sighup msg=\"ignored: restart the worker to apply a "
	    "new config\"");
}

/*
 * Settle TLS: a pinned token's pin, else the pin this device kept when it
 * joined with one (STATE/ca.pin), else none (plaintext, as before pinned
 * tokens).  wconf.token keeps only the secret.  Exits 2 on a malformed
 * token or a damaged ca.pin (never falls back to plaintext then).
 */
static void
worker_configure_tls(void)
{
	const char	*secret;
	char		*cause, *t;

	if (wconf.token != NULL) {
		switch (cred_token_parse(wconf.token, wconf.pin, &secret,
		    &cause)) {
		case -1:
			worker_usage_error("%s", cause);
		case 1:
			t = xstrdup(secret);
			free(wconf.token);
			wconf.token = t;
			wconf.pin_from_token = 1;
			return;
		}
	}
	if (cred_pin_load(wconf.state_dir, wconf.pin, &cause) < 0)
		worker_usage_error("%s", cause);
}

/* A directory option (--sysfs, --procfs) that must exist; owned copy. */
static char *
worker_dir_option(const struct cfg *cfg, const char *name)
{
	const char	*s = cfg_get(cfg, name);
	struct stat	 st;

	if (s == NULL || *s == '\0')
		worker_usage_error("--%s needs a directory", name);
	if (stat(s, &st) != 0)
		worker_usage_error("--%s %s: %s (give the directory where %s "
		    "is mounted)", name, s, strerror(errno), name);
	if (!S_ISDIR(st.st_mode))
		worker_usage_error("--%s %s: not a directory (give the "
		    "directory where %s is mounted)", name, s, name);
	return (xstrdup(s));
}

/* The device's policy: when it suspends its tasks (README, "Devices that
 * stay welcome"); exits 2 on a usage error. */
static void
worker_configure_policy(const struct cfg *cfg)
{
	struct policy_conf	*p = &wconf.policy;
	const char		*s, *cause;

	p->min_battery = (int)cfg_get_int(cfg, "min-battery");
	if (cfg_get(cfg, "resume-battery") != NULL) {
		p->resume_battery = (int)cfg_get_int(cfg, "resume-battery");
		if (p->resume_battery < p->min_battery)
			worker_usage_error("--resume-battery %d is below "
			    "--min-battery %d: give at least %d",
			    p->resume_battery, p->min_battery, p->min_battery);
	} else
		p->resume_battery = p->min_battery + 10 > 100 ? 100 :
		    p->min_battery + 10;
	p->max_temp = (int)cfg_get_int(cfg, "max-temp");
	if (cfg_get(cfg, "resume-temp") != NULL) {
		p->resume_temp = (int)cfg_get_int(cfg, "resume-temp");
		if (p->resume_temp > p->max_temp)
			worker_usage_error("--resume-temp %d is above --max-temp "
			    "%d: give at most %d", p->resume_temp, p->max_temp,
			    p->max_temp);
	} else
		p->resume_temp = p->max_temp - 10;
	p->max_load = -1;
	if ((s = cfg_get(cfg, "max-load")) != NULL && *s != '\0' &&
	    strcmp(s, "off") != 0 &&
	    policy_parse_load(s, &p->max_load, &cause) != 0)
		worker_usage_error("bad --max-load '%s': %s", s, cause);
	p->run_from = p->run_to = -1;
	if ((s = cfg_get(cfg, "run-hours")) != NULL && *s != '\0' &&
	    policy_parse_hours(s, &p->run_from, &p->run_to, &cause) != 0)
		worker_usage_error("bad --run-hours '%s': %s", s, cause);
	p->resume_after = (int)cfg_get_int(cfg, "resume-after");
	wconf.max_suspend = (int)cfg_get_int(cfg, "max-suspend");
	wconf.sysfs = worker_dir_option(cfg, "sysfs");
	wconf.procfs = worker_dir_option(cfg, "procfs");
	prof_set_mounts(wconf.sysfs, wconf.procfs);
}

/* Apply options to wconf; exits 2 on a usage error. */
static void
worker_configure(struct cfg *cfg)
{
	const char	*s, *tf;
	char		*cause, *dir;
	char		 host[256];
	int		 level;

	if ((s = cfg_get(cfg, "log-level")) != NULL) {
		if ((level = log_level_parse(s)) == -1)
			worker_usage_error("bad --log-level '%s'", s);
		log_level = level;
	}

	if ((s = cfg_get(cfg, "id")) != NULL)
		wconf.id = xstrdup(s);
	else {
		if (gethostname(host, sizeof host) != 0 || *host == '\0')
			snprintf(host, sizeof host, "worker");
		host[sizeof host - 1] = '\0';
		wconf.id = xstrdup(host);
	}
	worker_check_id(wconf.id);

	if ((s = cfg_get(cfg, "state-dir")) != NULL && *s != '\0')
		dir = xstrdup(s);
	else
		dir = worker_default_state_dir();
	if (*dir != '/') {
		char	cwd[PATH_MAX], *abs;

		if (getcwd(cwd, sizeof cwd) == NULL)
			fatal("getcwd");
		xasprintf(&abs, "%s/%s", cwd, dir);
		free(dir);
		dir = abs;
	}
	if (worker_mkdirs(dir, 0700) != 0)
		worker_usage_error("cannot create state directory %s: %s (pick "
		    "another with --state-dir)", dir, strerror(errno));
	if (access(dir, R_OK|W_OK|X_OK) != 0)
		worker_usage_error("state directory %s is not writable: %s "
		    "(pick another with --state-dir)", dir, strerror(errno));
	wconf.state_dir = dir;

	wconf.cache_max = (int64_t)cfg_get_int(cfg, "cache-mb") * 1024 * 1024;
	worker_configure_policy(cfg);
	worker_parse_labels(cfg);

	if ((s = cfg_get(cfg, "token")) != NULL && *s != '\0') {
		char	*t = xstrdup(s);

		wconf.token = xstrdup(worker_trim(t));
		free(t);
	} else if ((tf = cfg_get(cfg, "token-file")) != NULL && *tf != '\0')
		wconf.token = worker_read_token_file(tf);
	if (wconf.token != NULL && strlen(wconf.token) > PROTO_TOKEN_MAX)
		worker_usage_error("the token is too long (at most %d bytes)",
		    PROTO_TOKEN_MAX);
	worker_configure_tls();

	if (cfg_get_flag(cfg, "profile"))
		return;
	if ((s = cfg_get(cfg, "main")) == NULL || *s == '\0')
		worker_usage_error("--main HOST:PORT is required (the main "
		    "node's cluster port, e.g. --main 192.168.1.10:7070)");
	if (proto_parse_hostport(s, "7070", &wconf.main_host,
	    &wconf.main_port, &cause) != 0)
		worker_usage_error("bad --main '%s': %s", s, cause);
	if (wconf.token == NULL && !worker_has_key())
		worker_usage_error("no credentials: there is no device.key in "
		    "%s and no join token was given; pass --token-file FILE "
		    "(a copy of the main node's join.token, in its state "
		    "directory) or --token TOKEN", wconf.state_dir);
	if (wconf.token != NULL &&
	    (wconf.join_secret = cred_secret_load(wconf.state_dir,
	    &cause)) == NULL)
		worker_usage_error("%s", cause);
}

/* Settle what depends on the device: profile, slots, runtime. */
static void
worker_probe(struct cfg *cfg)
{
	const char	*want;
	long		 n;

	prof_device_read("/", wconf.state_dir, &wconf.dev);
	if (wconf.dev.info.role == NULL)
		wconf.dev.info.role = xstrdup("worker");
	if (wconf.dev.info.hostname == NULL) {
		char	host[256];

		if (gethostname(host, sizeof host) == 0) {
			host[sizeof host - 1] = '\0';
			wconf.dev.info.hostname = xstrdup(host);
		}
	}
	if (cfg_get(cfg, "slots") != NULL)
		wconf.slots = (int)cfg_get_int(cfg, "slots");
	else if (wconf.dev.hw.cpu_cores > 0)
		wconf.slots = wconf.dev.hw.cpu_cores;
	else if ((n = sysconf(_SC_NPROCESSORS_ONLN)) > 0)
		wconf.slots = (int)n;
	else
		wconf.slots = 1;

	want = cfg_get(cfg, "runtime");
	if (want == NULL)
		want = "auto";
	wconf.runtime = prof_runtime_detect(want);
	if (wconf.runtime == NULL && strcmp(want, "auto") != 0 &&
	    strcmp(want, "none") != 0)
		log_warn("event=runtime_unusable runtime=%s msg=\"%s is not "
		    "usable (is it installed and does '%s info' work?); "
		    "offering command tasks only\"", want, want, want);
}

/* Say when this device will suspend its tasks. */
static void
worker_log_policy(void)
{
	const struct policy_conf	*p = &wconf.policy;
	char				 hours[64], load[32];

	if (p->run_from >= 0)
		snprintf(hours, sizeof hours, "%02d:%02d-%02d:%02d",
		    p->run_from / 60, p->run_from % 60, p->run_to / 60,
		    p->run_to % 60);
	else
		snprintf(hours, sizeof hours, "always");
	if (p->max_load >= 0)
		snprintf(load, sizeof load, "%.2f", p->max_load);
	else
		snprintf(load, sizeof load, "off");
	log_info("event=policy min_battery=%d resume_battery=%d max_temp=%d "
	    "resume_temp=%d max_load=%s run_hours=%s resume_after=%d "
	    "max_suspend=%d sysfs=\"%s\" procfs=\"%s\"", p->min_battery,
	    p->resume_battery, p->max_temp, p->resume_temp, load, hours,
	    p->resume_after, wconf.max_suspend, wconf.sysfs, wconf.procfs);
}

/* Print --help: the option table plus where state lives. */
static void
worker_help(const struct cfg *cfg)
{
	cfg_usage(stdout, WORKER_SYNOPSIS, cfg);
	printf("\nThe state directory (device.key, ca.pin, join.secret, run/ "
	    "markers, spool/\nof unacknowledged results and output, work/ of "
	    "running tasks, cache/ of task\nfiles) defaults to "
	    "/var/lib/encore/worker for root, else\n"
	    "$XDG_STATE_HOME/encore-worker or ~/.local/state/encore-worker.\n"
	    "\nThe join token is in the main node's state directory, file "
	    "join.token:\nENC1:<SHA-256 of the cluster CA>:<secret>.  With it "
	    "the worker speaks TLS\nand checks the main node's certificate "
	    "chain against that CA before it\nsends anything; it keeps the pin "
	    "in ca.pin, so later starts with device.key\nalone still speak "
	    "TLS and check it.  A main node that presents another CA\nis "
	    "refused (both hashes are logged) and tried again every minute.  "
	    "A bare\nsecret (an older token) speaks plaintext, accepted only "
	    "from the main node's\nown host unless it runs with --plaintext on."
	    "\n"
	    "\nA task's files are in its working directory (/work in a "
	    "container); exit code 85\nmeans \"checkpoint taken\": its "
	    "checkpoint files are sent and it runs again.\n"
	    "\nWhile a limit above holds (battery, temperature, load, run hours)"
	    " the device\nsuspends its running tasks and takes no new ones; "
	    "README, \"Devices that stay\nwelcome\", and encore-worker(8) "
	    "say how.\n");
}

/* Descriptors 0-2 must be open, or a pipe or socket of ours could become
 * a task's stdin, stdout or stderr. */
static void
worker_fix_stdio(void)
{
	int	fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* Parse options, settle the device, run the loop until a signal. */
int
main(int argc, char **argv)
{
	struct cfg	 cfg;
	char		*cause;
	const char	*conffile;
	int		 first = 1;

	worker_fix_stdio();
	log_init("encore-worker", LOG_INFO);
	cfg_init(&cfg, cfg_worker_options, cfg_worker_options_n);
	if (cfg_parse_args(&cfg, argc, argv, &first, &cause) != 0)
		worker_usage_error("%s", cause);
	if (cfg_get_flag(&cfg, "help")) {
		worker_help(&cfg);
		exit(0);
	}
	if (cfg_get_flag(&cfg, "version")) {
		printf("encore-worker %s\n", ENCORE_VERSION);
		exit(0);
	}
	if (first < argc)
		worker_usage_error("unexpected argument '%s'", argv[first]);
	if ((conffile = cfg_get(&cfg, "config")) != NULL &&
	    cfg_load_file(&cfg, conffile, &cause) != 0)
		worker_usage_error("%s", cause);

	worker_configure(&cfg);
	worker_probe(&cfg);
	if (cfg_get_flag(&cfg, "profile"))
		worker_print_profile();
	cfg_free(&cfg);

	signal(SIGPIPE, SIG_IGN);
	if ((worker_base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");

	log_info("event=start version=%s id=%s main=%s:%s state_dir=\"%s\" "
	    "slots=%d runtime=%s tag=%s tls=%s", ENCORE_VERSION, wconf.id,
	    wconf.main_host, wconf.main_port, wconf.state_dir, wconf.slots,
	    wconf.runtime != NULL ? wconf.runtime : "none",
	    sandbox_worker_tag(), wconf.pin[0] == '\0' ? "off" :
	    wconf.pin_from_token ? "pinned-token" : "pinned-state");
	if (wconf.pin[0] == '\0' && wconf.token != NULL)
		log_info("event=plaintext msg=\"a bare join token: speaking "
		    "plaintext, which the main node accepts only from its own "
		    "host unless it runs with --plaintext on; give a remote "
		    "device the pinned token (ENC1:..., the main node's "
		    "join.token)\"");
	worker_log_policy();
	if (wconf.token == NULL)
		log_info("event=no_token msg=\"no --token/--token-file: joining "
		    "with device.key only\"");

	worker_sigterm_ev = evsignal_new(worker_base, SIGTERM,
	    worker_signal_cb, NULL);
	worker_sigint_ev = evsignal_new(worker_base, SIGINT, worker_signal_cb,
	    NULL);
	worker_sighup_ev = evsignal_new(worker_base, SIGHUP, worker_sighup_cb,
	    NULL);
	evsignal_add(worker_sigterm_ev, NULL);
	evsignal_add(worker_sigint_ev, NULL);
	evsignal_add(worker_sighup_ev, NULL);

	executor_start();
	sandbox_start();
	spool_start();
	spool_recover();
	cache_start();
	files_start();
	if (wconf.runtime != NULL)
		exec_container_cleanup(wconf.runtime);
	task_start();
	sampler_start();
	upstream_start();

	event_base_dispatch(worker_base);

	upstream_stop();
	sampler_stop();
	task_stop();
	spool_stop();
	files_stop();
	cache_stop();
	sandbox_stop();
	executor_stop();
	event_free(worker_sigterm_ev);
	event_free(worker_sigint_ev);
	event_free(worker_sighup_ev);
	event_base_free(worker_base);
	prof_device_free(&wconf.dev);
	prof_set_mounts(NULL, NULL);
	log_info("event=exit code=%d", worker_exit_code);
	return (worker_exit_code);
}
