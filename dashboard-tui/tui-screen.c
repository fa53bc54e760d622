/* SPDX-License-Identifier: ISC */
/*
 * tui-screen.c -- curses setup and teardown for encore-top, colours with a
 * monochrome fallback (NO_COLOR, TERM=vt100), UTF-8 glyphs with an ASCII
 * fallback when the locale is not UTF-8, and the small drawing helpers the
 * views share.  tui_screen_done() restores the terminal and is safe to run
 * from every exit path.
 */
#include <sys/ioctl.h>

#include <curses.h>
#include <langinfo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "protocol.h"
#include "client.h"
#include "tui.h"

struct tui_screen	 tui_screen;
static SCREEN		*tui_screen_sp;

/* Colour pairs: foreground per tui_color (-1: terminal default). */
static const struct {
	short	fg;
	short	bg;
	int	attr;		/* added in colour mode */
	int	mono;		/* used without colour */
} tui_screen_colors[TUI_C__COUNT] = {
	[TUI_C_NORMAL] =	{ -1, -1, 0, 0 },
	[TUI_C_ONLINE] =	{ COLOR_GREEN, -1, A_BOLD, A_BOLD },
	[TUI_C_BUSY] =		{ COLOR_CYAN, -1, A_BOLD, A_BOLD },
	[TUI_C_PAUSED] =	{ COLOR_YELLOW, -1, A_BOLD, A_UNDERLINE },
	[TUI_C_OFFLINE] =	{ COLOR_RED, -1, A_BOLD, A_REVERSE },
	[TUI_C_PENDING] =	{ COLOR_MAGENTA, -1, A_BOLD, A_UNDERLINE },
	[TUI_C_DRAINING] =	{ COLOR_YELLOW, -1, 0, A_UNDERLINE },
	[TUI_C_HEADER] =	{ COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
	[TUI_C_BAR] =		{ COLOR_GREEN, -1, 0, 0 },
	[TUI_C_BAR_HIGH] =	{ COLOR_RED, -1, A_BOLD, A_BOLD },
	[TUI_C_ERROR] =		{ COLOR_RED, -1, A_BOLD, A_BOLD },
	[TUI_C_SELECTED] =	{ COLOR_BLACK, COLOR_YELLOW, 0, A_REVERSE },
	[TUI_C_DIM] =		{ COLOR_BLUE, -1, A_BOLD, A_DIM },
};

/* Start curses. */
void
tui_screen_init(void)
{
	const char	*nc, *cs;
	short		 i;

	cs = nl_langinfo(CODESET);
	tui_screen.utf8 = cs != NULL && (strcasecmp(cs, "UTF-8") == 0 ||
	    strcasecmp(cs, "utf8") == 0);

	tui_screen_sp = newterm(NULL, stdout, stdin);
	if (tui_screen_sp == NULL)
		fatalx("cannot use this terminal (TERM=%s); set TERM to a "
		    "known type such as xterm or vt100",
		    getenv("TERM") != NULL ? getenv("TERM") : "");
	set_term(tui_screen_sp);
	tui_screen.active = 1;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);

	nc = getenv("NO_COLOR");
	tui_screen.color = (nc == NULL || *nc == '\0') && has_colors();
	if (tui_screen.color) {
		start_color();
		use_default_colors();
		for (i = 1; i < TUI_C__COUNT; i++)
			init_pair(i, tui_screen_colors[i].fg,
			    tui_screen_colors[i].bg);
	}
	tui_screen.cols = COLS;
	tui_screen.lines = LINES;
}

/* Restore the terminal. */
void
tui_screen_done(void)
{
	if (!tui_screen.active)
		return;
	tui_screen.active = 0;
	curs_set(1);
	endwin();
	fflush(stdout);
	delscreen(tui_screen_sp);
	tui_screen_sp = NULL;
}

/* Take the terminal's new size. */
void
tui_screen_resize(void)
{
	struct winsize	ws;

	if (!tui_screen.active)
		return;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
	    ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	tui_screen.cols = COLS;
	tui_screen.lines = LINES;
	clearok(curscr, TRUE);
}

/* Attributes for a colour. */
int
tui_screen_attr(enum tui_color c)
{
	if (c <= TUI_C_NORMAL || c >= TUI_C__COUNT)
		return (A_NORMAL);
	if (tui_screen.color)
		return (COLOR_PAIR(c) | tui_screen_colors[c].attr);
	return (tui_screen_colors[c].mono);
}

/* Colour of a device state. */
enum tui_color
tui_screen_state_color(const char *s)
{
	static const struct {
		const char	*state;
		enum tui_color	 color;
	} map[] = {
		{ "online", TUI_C_ONLINE },
		{ "busy", TUI_C_BUSY },
		{ "paused", TUI_C_PAUSED },
		{ "offline", TUI_C_OFFLINE },
		{ "pending", TUI_C_PENDING },
		{ "draining", TUI_C_DRAINING },
	};
	size_t	i;

	for (i = 0; s != NULL && i < sizeof map / sizeof map[0]; i++) {
		if (strcmp(map[i].state, s) == 0)
			return (map[i].color);
	}
	return (TUI_C_NORMAL);
}

/* Colour of a task state. */
enum tui_color
tui_screen_task_color(const char *s)
{
	if (s == NULL)
		return (TUI_C_NORMAL);
	if (strcmp(s, "running") == 0 || strcmp(s, "assigned") == 0)
		return (TUI_C_BUSY);
	if (strcmp(s, "completed") == 0)
		return (TUI_C_ONLINE);
	if (strcmp(s, "failed") == 0 || strcmp(s, "timed_out") == 0)
		return (TUI_C_ERROR);
	if (strcmp(s, "cancelled") == 0 || strcmp(s, "waiting") == 0)
		return (TUI_C_DIM);
	if (strcmp(s, "held") == 0)
		return (TUI_C_PAUSED);
	return (TUI_C_NORMAL);
}

/* Draw a percentage bar. */
void
tui_screen_bar(int y, int x, int width, double pct)
{
	static const char	*eighths[] = { "", "▏", "▎", "▍", "▌", "▋",
				    "▊", "▉" };
	int			 cells, full, part, i, attr;

	if (width < 1)
		return;
	if (isnan(pct)) {
		attrset(tui_screen_attr(TUI_C_DIM));
		for (i = 0; i < width; i++)
			mvaddstr(y, x + i, tui_screen.utf8 ? "·" : ".");
		attrset(A_NORMAL);
		return;
	}
	if (pct < 0)
		pct = 0;
	if (pct > 100)
		pct = 100;
	cells = (int)lround(pct * width * 8 / 100.0);
	full = cells / 8;
	part = cells % 8;
	attr = tui_screen_attr(pct >= 85 ? TUI_C_BAR_HIGH : TUI_C_BAR);
	attrset(attr);
	move(y, x);
	for (i = 0; i < full; i++)
		addstr(tui_screen.utf8 ? "█" : "#");
	if (part > 0 && full < width) {
		if (tui_screen.utf8)
			addstr(eighths[part]);
		else
			addch(part >= 4 ? '#' : '|');
		i++;
	}
	attrset(tui_screen_attr(TUI_C_DIM));
	for (; i < width; i++)
		addstr(tui_screen.utf8 ? "·" : ".");
	attrset(A_NORMAL);
}

/* Draw s clipped to width columns, with whatever a terminal would obey
 * (control characters, escape sequences, bidi controls) shown escaped. */
int
tui_screen_put(int y, int x, int width, const char *str)
{
	wchar_t		 buf[512], wc;
	mbstate_t	 ps;
	size_t		 n = 0, r, left;
	int		 cols = 0, w;
	char		 esc[2048];
	const char	*s = esc;

	if (str == NULL || width <= 0)
		return (0);
	display_escape_buf(str, esc, sizeof esc);
	memset(&ps, 0, sizeof ps);
	left = strlen(s);
	while (left > 0 && n < sizeof buf / sizeof buf[0] - 1) {
		if (tui_screen.utf8) {
			r = mbrtowc(&wc, s, left, &ps);
			if (r == (size_t)-1 || r == (size_t)-2) {
				memset(&ps, 0, sizeof ps);
				wc = L'?';
				r = 1;
			} else if (r == 0)
				break;
		} else {
			wc = (unsigned char)*s;
			if (wc >= 0x80)
				wc = L'?';
			r = 1;
		}
		s += r;
		left -= r;
		if (!iswprint(wc))
			wc = L'?';
		w = wcwidth(wc);
		if (w < 0) {
			wc = L'?';
			w = 1;
		}
		if (cols + w > width)
			break;
		buf[n++] = wc;
		cols += w;
	}
	buf[n] = L'\0';
	if (n > 0)
		mvaddnwstr(y, x, buf, (int)n);
	return (cols);
}

/* Draw a box outline. */
void
tui_screen_box(int y, int x, int h, int w)
{
	if (h < 2 || w < 2)
		return;
	mvaddch(y, x, ACS_ULCORNER);
	mvhline(y, x + 1, ACS_HLINE, w - 2);
	mvaddch(y, x + w - 1, ACS_URCORNER);
	mvvline(y + 1, x, ACS_VLINE, h - 2);
	mvvline(y + 1, x + w - 1, ACS_VLINE, h - 2);
	mvaddch(y + h - 1, x, ACS_LLCORNER);
	mvhline(y + h - 1, x + 1, ACS_HLINE, w - 2);
	mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
}
