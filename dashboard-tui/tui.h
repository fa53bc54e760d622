/* SPDX-License-Identifier: ISC */
/*
 * tui.h -- encore-top, the ncurses operator dashboard.
 *
 * The pieces: a pure model (tui-model.c: devices and tasks keyed by id,
 * selection, filter, totals) and pure layout math (tui-layout.c), both
 * unit-tested; the screen (tui-screen.c: curses, colours, glyphs), the key
 * table (tui-keys.c), the views (tui-view-*.c) that draw from the model, and
 * the connection to the main node (tui-net.c).  dashboard.c ties them to one
 * libevent loop.
 */
#ifndef TUI_H
#define TUI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "protocol.h"
#include "client.h"

struct event;
struct event_base;
struct bufferevent;
struct json_object;

#define TUI_OUTPUT_MAX		(1024 * 1024)	/* detail output kept, bytes */
#define TUI_FINISHED_MAX	1000		/* finished tasks kept */
#define TUI_ACTIVE_MAX		20000		/* tasks not ended, kept */
#define TUI_DEVICES_MAX		20000		/* devices kept */
#define TUI_PAGE		1000		/* tasks asked for at once */
#define TUI_FILTER_MAX		64		/* filter text, bytes */
#define TUI_STATUS_MAX		256		/* status line text, bytes */

/* ---- tui-model.c ---- */

/*
 * One device as the main node last described it.  Every char * is a heap
 * string owned by the device (NULL when unknown).  Unknown numbers are NAN
 * (doubles) or -1 (integers).
 */
struct tui_device {
	char	*id;
	char	*hostname;
	char	*state;		/* online busy paused offline pending draining */
	char	*arch;
	char	*platform;
	char	*os;
	char	*kernel;
	char	*cpu_model;
	char	*model;
	char	*reason;	/* why it is not accepting */
	char	*labels;	/* "k=v k=v" */
	char	*caps;		/* "command container" */
	int	 cores;
	int	 slots;
	int	 running;
	int	 battery_pct;	/* -1: no battery or unknown */
	int	 charging;
	int	 accepting;
	double	 cpu_mhz;
	double	 cpu_pct;
	double	 mem_pct;
	double	 disk_pct;
	double	 load[3];
	double	 temp_c;
	double	 uptime;
	int64_t	 mem_total;
	int64_t	 disk_total;
	int64_t	 disk_free;
	int64_t	 net_rx;
	int64_t	 net_tx;
	time_t	 seen_at;	/* local time of the last heartbeat, 0 unknown */
};

/*
 * One task.  Strings owned by the task; times are 0 when unknown.  An
 * array is one task with array_size > 0; an element ("17.3") has its
 * array's id in array_id, and is kept only while it has not ended, out
 * of the task list (its array stands for it there).
 */
struct tui_task {
	char	*id;
	char	*name;
	char	*state;		/* queued waiting held assigned running ... */
	char	*priority;	/* low normal high urgent */
	char	*device;
	char	*image;
	char	*error;
	char	*reason;	/* why it is held or waits */
	char	*array_id;	/* an element's array, else NULL */
	int64_t	 array_size;	/* elements of an array, else 0 */
	int	 attempt;
	int	 exit_code;	/* -1 unknown */
	time_t	 submitted_at;
	time_t	 started_at;
	time_t	 finished_at;
};

/*
 * What get_task adds about the detail task (info_task, owned), as text
 * for the detail pane (each owned, NULL when there is none): why it is
 * not running, its dependencies, for an array its indexes and its
 * elements per state, its input and output files ("name size, ...").
 * info_stale asks for it again (the task changed).
 */
struct tui_info {
	char	*task;
	char	*why;
	char	*deps;
	char	*array;
	char	*counts;
	char	*inputs;
	char	*outputs;
	int	 stale;
};

/* Files listed by name in the detail pane; the rest are counted. */
#define TUI_INFO_FILES	8

enum tui_pane {
	TUI_PANE_GRID = 0,
	TUI_PANE_TASKS,
};

/* Cluster totals for the header. */
struct tui_totals {
	size_t	devices;
	size_t	online;		/* online, busy, paused or draining */
	size_t	offline;
	size_t	pending;
	size_t	queued;
	size_t	running;	/* assigned or running */
	size_t	failed;		/* failed or timed out */
	size_t	completed;
};

/*
 * The dashboard's state, with no curses and no I/O.  devices and tasks are
 * arrays of owned pointers sorted by id (bsearch).  dview and tview are the
 * filtered, ordered views (indices into those arrays), rebuilt by
 * tui_model_refresh() when stale.  Selection is kept by id (owned strings),
 * so it follows its object when the views are rebuilt.  The detail output
 * belongs to detail_task (owned) only.
 */
struct tui_model {
	struct tui_device	**devices;
	size_t			  n_devices;
	struct tui_task		**tasks;
	size_t			  n_tasks;
	size_t			  n_finished;	/* of them, ended */

	size_t			 *dview;
	size_t			  n_dview;
	size_t			 *tview;
	size_t			  n_tview;
	int			  stale;	/* views need a rebuild */

	char			  filter[TUI_FILTER_MAX];
	int			  show_finished;
	enum tui_pane		  pane;
	size_t			  dsel;		/* index in dview */
	size_t			  tsel;		/* index in tview */
	char			 *dsel_id;
	char			 *tsel_id;

	char			 *detail_task;	/* task whose output we hold */
	char			 *output;
	size_t			  output_len;
	int			  output_done;	/* the task has ended */
	struct tui_info		  info;		/* get_task of the detail */

	int			  dropped_tasks;	/* over TUI_ACTIVE_MAX */
	int			  dropped_devices; /* over TUI_DEVICES_MAX */
	int			  dirty;	/* something to redraw */
};

struct tui_model *tui_model_create(void);
void		 tui_model_free(struct tui_model *);
/* Add or update a device from a DEVICE object; -1 if it has no id or is
 * new while TUI_DEVICES_MAX are kept (dropped_devices is then set). */
int		 tui_model_apply_device(struct tui_model *,
		    struct json_object *, time_t now);
/* Forget a device; -1 if unknown. */
int		 tui_model_remove_device(struct tui_model *, const char *id);
/* Replace every device with the DEVICE array of a list_devices reply. */
void		 tui_model_set_devices(struct tui_model *, struct json_object *,
		    time_t now);
/* Add or update a task from a TASK object; -1 if it has no id or is new
 * and not ended while TUI_ACTIVE_MAX such are kept (dropped_tasks is then
 * set). */
int		 tui_model_apply_task(struct tui_model *, struct json_object *);
/* Replace every task not ended with the TASK array of a list_tasks reply
 * (its first page; later pages go through tui_model_apply_task). */
void		 tui_model_set_tasks(struct tui_model *, struct json_object *);
struct tui_device *tui_model_find_device(struct tui_model *, const char *);
struct tui_task	*tui_model_find_task(struct tui_model *, const char *);
/* Rebuild the views if stale and fix the selection up. */
void		 tui_model_refresh(struct tui_model *);
struct tui_device *tui_model_view_device(struct tui_model *, size_t);
struct tui_task	*tui_model_view_task(struct tui_model *, size_t);
/* The selected device / task (in the views), or NULL. */
struct tui_device *tui_model_selected_device(struct tui_model *);
struct tui_task	*tui_model_selected_task(struct tui_model *);
/* Move the selection of the current pane by dx (grid only) and dy rows;
 * per_row is the grid's tiles per row.  Clamps at the ends. */
void		 tui_model_move(struct tui_model *, int dx, int dy,
		    int per_row);
/* Select the first (where < 0) or last (where > 0) item of the pane. */
void		 tui_model_move_end(struct tui_model *, int where);
void		 tui_model_set_pane(struct tui_model *, enum tui_pane);
/* Filter both views by a case-insensitive substring ("" for none). */
void		 tui_model_set_filter(struct tui_model *, const char *);
void		 tui_model_toggle_finished(struct tui_model *);
void		 tui_model_totals(struct tui_model *, struct tui_totals *);
/* 1 if a task has ended for good (proto_task_state_name_is_final: a
 * state we do not know is not final). */
int		 tui_task_is_finished(const struct tui_task *);
/* The task the detail pane should follow: the selected one, else the one
 * already shown.  NULL if none.  Borrowed. */
const char	*tui_model_wanted_task(struct tui_model *);
/* Start holding output for task id (replacing any other). */
void		 tui_model_output_reset(struct tui_model *, const char *id,
		    const char *data, size_t len);
/* Append output for id; ignored if it is not the detail task. */
void		 tui_model_output_append(struct tui_model *, const char *id,
		    const char *data, size_t len);
/* The detail task ended: its output is complete. */
void		 tui_model_output_end(struct tui_model *, const char *id);
/* Keep get_task's TASK+DETAIL of task id as the detail's info (only if
 * id is still the task the detail pane wants). */
void		 tui_model_set_info(struct tui_model *, const char *id,
		    struct json_object *task);
/* Forget the info (another task is wanted). */
void		 tui_model_clear_info(struct tui_model *);
/* "2026-11-22T10:31:00Z" -> Unix time; 0 if unparseable. */
time_t		 tui_parse_time(const char *);

/* ---- tui-layout.c ---- */

#define TUI_TILE_W	26	/* minimum tile width, borders included */
#define TUI_TILE_H	6	/* tile height, borders included */
#define TUI_TILE_GAP	1	/* columns between tiles */
#define TUI_LOWER_MIN	8	/* rows kept for the tasks/detail panes */

/* A screen rectangle. */
struct tui_rect {
	int	y, x, h, w;
};

/*
 * Where everything goes for a screen of cols x lines.  The grid shows
 * grid_rows tile rows of per_row tiles each, starting at tile row scroll.
 * zoom gives the whole body to the detail pane.
 */
struct tui_layout {
	struct tui_rect	header;
	struct tui_rect	grid;
	struct tui_rect	tasks;
	struct tui_rect	detail;
	struct tui_rect	status;
	int		per_row;
	int		tile_w;
	int		grid_rows;	/* tile rows visible */
	int		total_rows;	/* tile rows needed */
	int		scroll;		/* first visible tile row */
};

/*
 * The columns of the tasks pane within its inner width: x offsets and
 * widths; a width of 0 hides the column.  ID and STATE always show and
 * NAME gets the rest; DEVICE, then AGE, then PRIO show only while NAME
 * keeps TUI_NAME_MIN columns.
 */
#define TUI_NAME_MIN	10
struct tui_task_cols {
	int	id_x, id_w;
	int	state_x, state_w;
	int	prio_x, prio_w;
	int	age_x, age_w;
	int	dev_x, dev_w;
	int	name_x, name_w;
};
/* Lay out the tasks pane's columns for ids and device names of at most
 * id_w and dev_w columns. */
void	tui_layout_task_columns(struct tui_task_cols *, int width, int id_w,
	    int dev_w);

/* Tiles that fit in width columns (at least 1). */
int	tui_layout_per_row(int width);
/* Width of each of per_row tiles stretched over width columns. */
int	tui_layout_tile_width(int width, int per_row);
/* Tile rows for n tiles. */
int	tui_layout_rows_for(size_t n, int per_row);
/* New first visible row so that row sel is visible in visible rows. */
int	tui_layout_scroll(int sel, int visible, int scroll, int total);
/* Compute the whole layout; scroll is the previous first tile row. */
void	tui_layout_compute(struct tui_layout *, int cols, int lines,
	    size_t n_tiles, size_t sel, int scroll, int zoom);

/* ---- tui-keys.c ---- */

enum tui_action {
	TUI_ACT_NONE = 0,
	TUI_ACT_LEFT,
	TUI_ACT_RIGHT,
	TUI_ACT_UP,
	TUI_ACT_DOWN,
	TUI_ACT_PAGE_UP,
	TUI_ACT_PAGE_DOWN,
	TUI_ACT_HOME,
	TUI_ACT_END,
	TUI_ACT_PANE,
	TUI_ACT_DETAIL,
	TUI_ACT_APPROVE,
	TUI_ACT_DRAIN,
	TUI_ACT_CANCEL,
	TUI_ACT_FILTER,
	TUI_ACT_FINISHED,
	TUI_ACT_HELP,
	TUI_ACT_REDRAW,
	TUI_ACT_ESCAPE,
	TUI_ACT_QUIT,
};

/* One binding: a key, its action, and the help text (NULL: not listed). */
struct tui_key {
	int		 key;
	enum tui_action	 action;
	const char	*name;	/* as shown in help */
	const char	*help;
};

extern const struct tui_key	tui_keys[];
extern const size_t		tui_keys_n;

/* The action bound to a curses key code. */
enum tui_action	tui_keys_lookup(int key);

/* ---- tui-screen.c ---- */

enum tui_color {
	TUI_C_NORMAL = 0,
	TUI_C_ONLINE,
	TUI_C_BUSY,
	TUI_C_PAUSED,
	TUI_C_OFFLINE,
	TUI_C_PENDING,
	TUI_C_DRAINING,
	TUI_C_HEADER,
	TUI_C_BAR,
	TUI_C_BAR_HIGH,
	TUI_C_ERROR,
	TUI_C_SELECTED,
	TUI_C_DIM,
	TUI_C__COUNT
};

/* Curses state: whether we use colour and UTF-8, the screen size. */
struct tui_screen {
	int	active;		/* initscr done, endwin not yet */
	int	color;
	int	utf8;
	int	cols;
	int	lines;
};

extern struct tui_screen tui_screen;

/* Start curses (colour unless NO_COLOR or unsupported, UTF-8 glyphs if
 * the locale is UTF-8). */
void	tui_screen_init(void);
/* Restore the terminal; safe to call more than once and from atexit. */
void	tui_screen_done(void);
/* Pick up a new terminal size after SIGWINCH. */
void	tui_screen_resize(void);
/* Curses attributes for a colour, with a mono fallback. */
int	tui_screen_attr(enum tui_color);
/* Colour for a device state word. */
enum tui_color tui_screen_state_color(const char *state);
/* Colour for a task state word. */
enum tui_color tui_screen_task_color(const char *state);
/* Draw a bar of width cells filled to pct (0..100, NAN: unknown). */
void	tui_screen_bar(int y, int x, int width, double pct);
/* Draw s at y,x clipped to width columns (UTF-8 aware); returns columns. */
int	tui_screen_put(int y, int x, int width, const char *s);
/* Draw a box outline. */
void	tui_screen_box(int y, int x, int h, int w);

/* ---- tui-net.c ---- */

enum tui_net_state {
	TUI_NET_DOWN = 0,	/* waiting to retry */
	TUI_NET_CONNECTING,
	TUI_NET_AUTH,		/* auth sent */
	TUI_NET_UP,
};

/* What a pending request was for, so its reply can be handled. */
enum tui_req_kind {
	TUI_REQ_AUTH,
	TUI_REQ_SUBSCRIBE,
	TUI_REQ_DEVICES,
	TUI_REQ_TASKS,		/* the first page of the task list */
	TUI_REQ_TASKS_MORE,	/* a later page */
	TUI_REQ_LOGS,
	TUI_REQ_INFO,		/* get_task of the detail task */
	TUI_REQ_ACTION,
	TUI_REQ_PROBE,		/* a status after a silence: still there? */
};

/* A request awaiting its reply.  id and what are owned.  sent_at is
 * client_now_ms() when it was sent; each must be answered within the
 * request timeout. */
struct tui_req {
	char			*id;
	enum tui_req_kind	 kind;
	char			*what;	/* "approve w1", or the logs task id */
	int64_t			 sent_at;
};

struct tui;

/*
 * The link to the main node.  addr and token are owned.  bev is the live
 * connection (NULL when down); scanned bytes of its input are known to
 * hold no newline; last_rx is when its last complete line came.  reqs
 * holds the requests sent on it.  follow is the task whose output we
 * follow (owned), follow_req the id of that logs request.
 */
struct tui_net {
	struct tui		*tui;
	struct event_base	*base;
	char			*addr;
	char			*token;		/* what auth sends: the secret */
	int			 pinned;	/* TLS, checked against pin */
	char			 pin[CLIENT_PIN_HEX + 1];
	int			 timeout_ms;	/* --request-timeout */
	struct bufferevent	*bev;
	size_t			 scanned;
	int64_t			 last_rx;
	enum tui_net_state	 state;
	unsigned long		 next_id;
	struct tui_req		*reqs;
	size_t			 n_reqs;
	struct event		*retry;
	struct event		*more;		/* lines left for next turn */
	int			 backoff_ms;
	time_t			 retry_at;
	char			*follow;
	char			*follow_req;
	char			 error[TUI_STATUS_MAX];	/* why it is down */
};

/* Start the link on the connection of c, already authenticated (over
 * TLS with a pinned token), which it takes over; token is the one the
 * session authenticated with, for reconnecting. */
void	tui_net_start(struct tui_net *, struct tui *, struct event_base *,
	    const char *addr, const char *token, int timeout_ms,
	    struct client *c);
/* Once a second: give up on a request not answered within the timeout
 * (and reconnect); after a silence, check the main node is still there. */
void	tui_net_tick(struct tui_net *);
/* Close the link and free everything it holds. */
void	tui_net_stop(struct tui_net *);
/* Send an action on a device (approve, drain, ...) or a task (cancel). */
int	tui_net_action(struct tui_net *, int type, const char *id);
/* Follow the output of task id (NULL: stop following). */
void	tui_net_follow(struct tui_net *, const char *id);

/* ---- dashboard.c ---- */

enum tui_mode {
	TUI_MODE_NORMAL = 0,
	TUI_MODE_FILTER,	/* typing a filter */
	TUI_MODE_CONFIRM,	/* y/n for a cancel */
	TUI_MODE_HELP,		/* help overlay shown */
};

/*
 * The running dashboard.  confirm_task is the task a y/n prompt is about
 * (owned).  status is the last answer to an action, status_err whether it
 * was an error.
 */
struct tui {
	struct event_base	*base;
	struct tui_model	*model;
	struct tui_net		 net;
	struct tui_layout	 layout;
	enum tui_mode		 mode;
	int			 zoom;		/* detail pane fills the body */
	int			 scroll;	/* grid's first tile row */
	int			 task_scroll;	/* tasks pane's first line */
	int			 detail_scroll;	/* output lines back from the end */
	char			 filter_edit[TUI_FILTER_MAX];
	char			*confirm_task;
	char			 status[TUI_STATUS_MAX];
	int			 status_err;
	time_t			 status_at;
	struct event		*redraw;
	int			 redraw_pending;
	int			 exit_code;
	char			 exit_msg[PROTO_TEXT_MAX + 256];
	const char		*addr;	/* borrowed from argv/env */
	time_t			 now;	/* cached once per redraw */
};

/* Schedule a redraw (coalesced). */
void	tui_changed(struct tui *);
/* Show an answer in the status line. */
void	tui_set_status(struct tui *, int is_error, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Leave the event loop with an exit code and a message for stderr. */
void	tui_exit(struct tui *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* ---- tui-view-*.c ---- */

/* Draw everything for the current model and layout. */
void	tui_view_draw(struct tui *);
void	tui_view_header(struct tui *);
void	tui_view_grid(struct tui *);
void	tui_view_tasks(struct tui *);
void	tui_view_detail(struct tui *);
void	tui_view_status(struct tui *);
void	tui_view_help(struct tui *);

#endif /* TUI_H */
