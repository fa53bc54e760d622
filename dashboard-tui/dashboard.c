/* SPDX-License-Identifier: ISC */
/*
 * dashboard.c -- `encore-top`, the operator dashboard: options, the first
 * (blocking) connection and auth, then one libevent loop driving stdin,
 * signals, a one-second clock tick, a coalescing redraw timer and the link
 * to the main node.  The terminal is restored on every way out: q, SIGTERM
 * and friends, a refused token, fatal() (atexit) and crashes.
 *
 * Exit codes: 0 ok, 1 error reported by the main node, 2 usage error, 3
 * cannot reach the main node.
 */
#include <errno.h>
#include <curses.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "protocol.h"
#include "client.h"
#include "tui.h"

#define TUI_EXIT_OK		0
#define TUI_EXIT_REMOTE		1
#define TUI_EXIT_USAGE		2
#define TUI_EXIT_UNREACHABLE	3

#define TUI_REDRAW_MS		15	/* coalesce bursts of events */
#define TUI_SYNOPSIS		"encore-top [--main H:P] [--token-file F | " \
				"--token T] [options]"
#define TUI_SPURIOUS_MAX	100	/* stdin readable but no key: gone */

static struct tui	 tui_main;
static int		 tui_spurious;

/* Print the help. */
static void
tui_usage(FILE *f)
{
	fprintf(f, "usage: %s\n\n"
	    "Watch and operate an encore cluster: a live grid of devices, the\n"
	    "tasks not yet ended and the selected task's output.\n\n"
	    "  --main H:P      the main node (default: $ENCORE_MAIN, else %s)\n"
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
	    "                  a request not answered within S seconds "
	    "(default %d,\n"
	    "                  or $ENCORE_REQUEST_TIMEOUT) means the main node "
	    "is gone:\n"
	    "                  reconnect (after a silence of S/2 it is asked)\n"
	    "  -h, --help      this help\n"
	    "  -V, --version   print the version\n\n"
	    "Keys: arrows/hjkl move, Tab pane, Enter details, a approve, "
	    "d drain/undrain,\nc cancel task, / filter, f finished tasks, "
	    "? help, q quit.\n"
	    "Without colour (NO_COLOR set, or TERM=vt100) states are still "
	    "shown as words.\nText from the main node is shown with control "
	    "characters escaped (\\x1b).\n\n"
	    "A pinned token (ENC1:<CA hash>:<secret>, as operator.token holds "
	    "it) makes\nencore-top speak only TLS, and check the main node's "
	    "CA against it before\nit sends the secret; a bare secret is sent "
	    "in plaintext.\n\n"
	    "Exit status: 0 ok, 1 error reported by the main node, 2 usage "
	    "error,\n3 cannot reach the main node (or it is not the one a "
	    "pinned token names).\n", TUI_SYNOPSIS,
	    CLIENT_DEFAULT_MAIN, CLIENT_TIMEOUT_MS / 1000);
}

/* A usage error: say what is wrong and how to get help. */
static int
tui_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int
tui_usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "encore-top: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\nrun 'encore-top --help' for "
	    "details\n", TUI_SYNOPSIS);
	return (TUI_EXIT_USAGE);
}

/* Schedule a redraw. */
void
tui_changed(struct tui *tui)
{
	struct timeval	tv = { 0, TUI_REDRAW_MS * 1000 };

	if (tui->redraw_pending || tui->redraw == NULL)
		return;
	tui->redraw_pending = 1;
	evtimer_add(tui->redraw, &tv);
}

/* Show an answer in the status line. */
void
tui_set_status(struct tui *tui, int is_error, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(tui->status, sizeof tui->status, fmt, ap);
	va_end(ap);
	tui->status_err = is_error;
	tui->status_at = time(NULL);
	tui_changed(tui);
}

/* Leave the loop with an exit code and a message. */
void
tui_exit(struct tui *tui, int code, const char *fmt, ...)
{
	va_list	ap;

	tui->exit_code = code;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(tui->exit_msg, sizeof tui->exit_msg, fmt, ap);
		va_end(ap);
	}
	event_base_loopexit(tui->base, NULL);
}

/* Redraw timer: one frame for everything that changed since. */
static void
tui_redraw_cb(evutil_socket_t fd, short events, void *arg)
{
	struct tui	*tui = arg;
	const char	*want;

	tui->redraw_pending = 0;
	tui->now = time(NULL);
	tui_model_refresh(tui->model);
	if ((want = tui_model_wanted_task(tui->model)) != NULL)
		tui_net_follow(&tui->net, want);
	tui_view_draw(tui);
}

/* Clock tick: ages and "last seen" move on; requests time out. */
static void
tui_tick_cb(evutil_socket_t fd, short events, void *arg)
{
	struct tui	*tui = arg;

	tui_net_tick(&tui->net);
	tui_changed(tui);
}

/* Signals: SIGWINCH resizes, the others end the program cleanly. */
static void
tui_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	struct tui	*tui = arg;

	if (sig == SIGWINCH) {
		tui_screen_resize();
		tui_changed(tui);
		return;
	}
	tui_exit(tui, TUI_EXIT_OK, NULL);
}

/* Act on a key in normal mode. */
static void
tui_key_normal(struct tui *tui, int key)
{
	struct tui_model	*m = tui->model;
	struct tui_device	*d;
	struct tui_task		*t;
	int			 page;

	switch (tui_keys_lookup(key)) {
	case TUI_ACT_LEFT:
		tui_model_move(m, -1, 0, tui->layout.per_row);
		break;
	case TUI_ACT_RIGHT:
		tui_model_move(m, 1, 0, tui->layout.per_row);
		break;
	case TUI_ACT_UP:
		if (tui->zoom && m->pane == TUI_PANE_TASKS)
			tui->detail_scroll++;
		else
			tui_model_move(m, 0, -1, tui->layout.per_row);
		break;
	case TUI_ACT_DOWN:
		if (tui->zoom && m->pane == TUI_PANE_TASKS) {
			if (tui->detail_scroll > 0)
				tui->detail_scroll--;
		} else
			tui_model_move(m, 0, 1, tui->layout.per_row);
		break;
	case TUI_ACT_PAGE_UP:
	case TUI_ACT_PAGE_DOWN:
		if (m->pane == TUI_PANE_GRID)
			page = tui->layout.grid_rows;
		else if (tui->zoom)
			page = tui->layout.detail.h - 2;
		else
			page = tui->layout.tasks.h - 2;
		if (page < 1)
			page = 1;
		if (tui_keys_lookup(key) == TUI_ACT_PAGE_UP)
			page = -page;
		if (tui->zoom && m->pane == TUI_PANE_TASKS) {
			tui->detail_scroll -= page;
			if (tui->detail_scroll < 0)
				tui->detail_scroll = 0;
		} else
			tui_model_move(m, 0, page, tui->layout.per_row);
		break;
	case TUI_ACT_HOME:
		tui_model_move_end(m, -1);
		break;
	case TUI_ACT_END:
		if (tui->zoom)
			tui->detail_scroll = 0;
		else
			tui_model_move_end(m, 1);
		break;
	case TUI_ACT_PANE:
		tui_model_set_pane(m, m->pane == TUI_PANE_GRID ?
		    TUI_PANE_TASKS : TUI_PANE_GRID);
		tui->detail_scroll = 0;
		break;
	case TUI_ACT_DETAIL:
		tui->zoom = !tui->zoom;
		tui->detail_scroll = 0;
		break;
	case TUI_ACT_APPROVE:
	case TUI_ACT_DRAIN:
		if (m->pane != TUI_PANE_GRID ||
		    (d = tui_model_selected_device(m)) == NULL) {
			tui_set_status(tui, 1, "select a device in the grid "
			    "first (Tab switches pane)");
			break;
		}
		if (tui_keys_lookup(key) == TUI_ACT_APPROVE)
			tui_net_action(&tui->net, MSG_APPROVE, d->id);
		else
			tui_net_action(&tui->net, d->state != NULL &&
			    strcmp(d->state, "draining") == 0 ? MSG_UNDRAIN :
			    MSG_DRAIN, d->id);
		break;
	case TUI_ACT_CANCEL:
		if (m->pane != TUI_PANE_TASKS ||
		    (t = tui_model_selected_task(m)) == NULL) {
			tui_set_status(tui, 1, "select a task in the tasks "
			    "pane first (Tab switches pane)");
			break;
		}
		free(tui->confirm_task);
		tui->confirm_task = xstrdup(t->id);
		tui->mode = TUI_MODE_CONFIRM;
		break;
	case TUI_ACT_FILTER:
		snprintf(tui->filter_edit, sizeof tui->filter_edit, "%s",
		    m->filter);
		tui->mode = TUI_MODE_FILTER;
		break;
	case TUI_ACT_FINISHED:
		tui_model_toggle_finished(m);
		break;
	case TUI_ACT_HELP:
		tui->mode = TUI_MODE_HELP;
		break;
	case TUI_ACT_REDRAW:
		clearok(curscr, TRUE);
		break;
	case TUI_ACT_ESCAPE:
		if (tui->zoom)
			tui->zoom = 0;
		else if (m->filter[0] != '\0')
			tui_model_set_filter(m, "");
		break;
	case TUI_ACT_QUIT:
		tui_exit(tui, TUI_EXIT_OK, NULL);
		break;
	case TUI_ACT_NONE:
		break;
	}
}

/* Act on a key while typing a filter. */
static void
tui_key_filter(struct tui *tui, int key)
{
	size_t	len = strlen(tui->filter_edit);

	if (key == 27) {
		tui->filter_edit[0] = '\0';
		tui->mode = TUI_MODE_NORMAL;
	} else if (key == '\n' || key == '\r' || key == KEY_ENTER)
		tui->mode = TUI_MODE_NORMAL;
	else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
		if (len > 0)
			tui->filter_edit[len - 1] = '\0';
	} else if (key >= 32 && key < 127 && len + 1 < sizeof
	    tui->filter_edit) {
		tui->filter_edit[len] = (char)key;
		tui->filter_edit[len + 1] = '\0';
	}
	tui_model_set_filter(tui->model, tui->filter_edit);
}

/* Keyboard input: read every key curses has. */
static void
tui_input_cb(evutil_socket_t fd, short events, void *arg)
{
	struct tui	*tui = arg;
	int		 key, got = 0;

	while ((key = getch()) != ERR) {
		got = 1;
		if (key == KEY_RESIZE) {
			/* curses has resized already (and queues this key
			 * when we call resizeterm): only take the size. */
			tui_screen.cols = COLS;
			tui_screen.lines = LINES;
			continue;
		}
		switch (tui->mode) {
		case TUI_MODE_HELP:
			tui->mode = TUI_MODE_NORMAL;
			break;
		case TUI_MODE_CONFIRM:
			tui->mode = TUI_MODE_NORMAL;
			if (key == 'y' || key == 'Y')
				tui_net_action(&tui->net, MSG_CANCEL,
				    tui->confirm_task);
			else
				tui_set_status(tui, 0, "cancel %s: not sent",
				    tui->confirm_task);
			free(tui->confirm_task);
			tui->confirm_task = NULL;
			break;
		case TUI_MODE_FILTER:
			tui_key_filter(tui, key);
			break;
		case TUI_MODE_NORMAL:
			tui_key_normal(tui, key);
			break;
		}
	}
	/* A terminal that went away stays readable and yields no keys. */
	if (!got && ++tui_spurious > TUI_SPURIOUS_MAX)
		tui_exit(tui, TUI_EXIT_OK, NULL);
	if (got)
		tui_spurious = 0;
	tui_changed(tui);
}

/* Restore the terminal, then die of the signal as we would have. */
static void
tui_crash(int sig)
{
	tui_screen_done();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* atexit: fatal() and friends leave the terminal usable too. */
static void
tui_atexit(void)
{
	tui_screen_done();
}

/* Connect and authenticate (over TLS with a pinned token) before taking
 * the screen; returns 0 with the session open in c, or -1 with the exit
 * code in *code after printing why. */
static int
tui_first_connect(const char *addr, const char *token, int timeout_ms,
    struct client *c, int *code)
{
	struct client_error	err;
	enum client_result	r;
	char			msg[PROTO_TEXT_MAX * 4], code_name[64];

	r = client_open(c, addr, timeout_ms, &err);
	if (r == CLIENT_OK)
		r = client_auth(c, token, &err);
	if (r != CLIENT_OK) {
		client_close(c);
		display_escape_buf(err.message, msg, sizeof msg);
		if (r != CLIENT_REMOTE) {
			fprintf(stderr, "encore-top: %s\n", msg);
			*code = TUI_EXIT_UNREACHABLE;
		} else {
			display_escape_buf(err.code_name, code_name,
			    sizeof code_name);
			fprintf(stderr, "encore-top: the main node refused us: "
			    "%s (%s)\nencore-top: %s\n", msg, code_name,
			    client_error_hint(err.code_name));
			*code = TUI_EXIT_REMOTE;
		}
		return (-1);
	}
	return (0);
}

/* Parse options, connect, and run the dashboard. */
int
main(int argc, char **argv)
{
	struct tui		*tui = &tui_main;
	struct event		*ev_in, *ev_tick, *ev_sig[5];
	struct timeval		 one = { 1, 0 };
	static const int	 sigs[5] = { SIGWINCH, SIGTERM, SIGINT, SIGHUP,
				    SIGQUIT };
	const char		*main_flag = NULL, *token_flag = NULL;
	const char		*token_file_flag = NULL, *timeout = NULL;
	struct client		 first;
	const char		*secret;
	char			*token, **dirs, *cause, *esc;
	char			 pin[CLIENT_PIN_HEX + 1];
	size_t			 n, k;
	int			 i, rc, code = TUI_EXIT_OK, timeout_ms;

	setlocale(LC_ALL, "");
	signal(SIGPIPE, SIG_IGN);
	log_init("encore-top", LOG_ERROR);

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			tui_usage(stdout);
			return (TUI_EXIT_OK);
		}
		if (strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "-V") == 0) {
			printf("encore-top %s\n", ENCORE_VERSION);
			return (TUI_EXIT_OK);
		}
		rc = client_option(argc, argv, &i, "--main", &main_flag);
		if (rc == 0)
			rc = client_option(argc, argv, &i, "--token", &token_flag);
		if (rc == 0)
			rc = client_option(argc, argv, &i, "--token-file",
			    &token_file_flag);
		if (rc == 0)
			rc = client_option(argc, argv, &i, "--request-timeout",
			    &timeout);
		if (rc == -1)
			return (tui_usage_error("%s needs a value", argv[i]));
		if (rc == 0)
			return (tui_usage_error("unknown %s '%s'",
			    argv[i][0] == '-' ? "option" : "argument",
			    argv[i]));
	}
	if (main_flag != NULL && *main_flag == '\0')
		return (tui_usage_error("--main needs H:P"));
	if (token_flag != NULL && token_file_flag != NULL)
		return (tui_usage_error("give --token or --token-file, not "
		    "both"));
	if (token_file_flag != NULL && *token_file_flag == '\0')
		return (tui_usage_error("--token-file needs a file"));
	if ((timeout_ms = client_timeout_parse(timeout)) == -1)
		return (tui_usage_error("--request-timeout '%s' (or "
		    "ENCORE_REQUEST_TIMEOUT): expected seconds, 1 to %d",
		    timeout != NULL ? timeout :
		    getenv("ENCORE_REQUEST_TIMEOUT"), CLIENT_TIMEOUT_MAX));

	token = client_find_token(token_flag, token_file_flag, &cause);
	if (token == NULL && cause != NULL) {
		fprintf(stderr, "encore-top: %s\n", cause);
		free(cause);
		return (TUI_EXIT_USAGE);
	}
	if (token == NULL) {
		fprintf(stderr, "encore-top: no operator token: pass "
		    "--token-file F or --token T, or set ENCORE_TOKEN_FILE or "
		    "ENCORE_TOKEN\nencore-top: on the main node's host it is "
		    "read from operator.token in the state dir (looked in:");
		dirs = client_token_dirs(&n);
		for (k = 0; k < n; k++)
			fprintf(stderr, " %s", dirs[k]);
		client_free_strings(dirs, n);
		fprintf(stderr, ")\n");
		return (TUI_EXIT_USAGE);
	}
	if (client_token_parse(token, pin, &secret, &cause) == -1) {
		fprintf(stderr, "encore-top: %s\n", cause);
		free(cause);
		free(token);
		return (TUI_EXIT_USAGE);
	}
	tui->addr = client_main_address(main_flag);
	if (tui_first_connect(tui->addr, token, timeout_ms, &first,
	    &code) == -1) {
		free(token);
		return (code);
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		client_close(&first);
		free(token);
		return (tui_usage_error("needs a terminal on stdin and stdout; "
		    "for scripts use 'encore devices' or 'encore ps'"));
	}

	if ((tui->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	tui->model = tui_model_create();
	tui->redraw = evtimer_new(tui->base, tui_redraw_cb, tui);

	atexit(tui_atexit);
	signal(SIGSEGV, tui_crash);
	signal(SIGBUS, tui_crash);
	signal(SIGABRT, tui_crash);
	signal(SIGFPE, tui_crash);
	tui_screen_init();

	ev_in = event_new(tui->base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    tui_input_cb, tui);
	event_add(ev_in, NULL);
	for (k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
		ev_sig[k] = evsignal_new(tui->base, sigs[k], tui_signal_cb,
		    tui);
		evsignal_add(ev_sig[k], NULL);
	}
	ev_tick = event_new(tui->base, -1, EV_PERSIST, tui_tick_cb, tui);
	evtimer_add(ev_tick, &one);

	tui_net_start(&tui->net, tui, tui->base, tui->addr, token, timeout_ms,
	    &first);
	explicit_bzero(token, strlen(token));
	free(token);
	tui_changed(tui);

	event_base_dispatch(tui->base);

	tui_screen_done();
	event_free(ev_in);
	event_free(ev_tick);
	for (k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
		event_free(ev_sig[k]);
	tui_net_stop(&tui->net);
	event_free(tui->redraw);
	tui->redraw = NULL;
	tui_model_free(tui->model);
	free(tui->confirm_task);
	event_base_free(tui->base);
	if (tui->exit_msg[0] != '\0') {
		esc = display_escape(tui->exit_msg);
		fprintf(stderr, "encore-top: %s\n", esc);
		free(esc);
	}
	return (tui->exit_code);
}
