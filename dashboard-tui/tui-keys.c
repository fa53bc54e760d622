/* SPDX-License-Identifier: ISC */
/*
 * tui-keys.c -- the key bindings of encore-top: one table mapping curses key
 * codes to actions, which also feeds the help overlay.
 */
#include <curses.h>

#include "tui.h"

#define CTRL(c)	((c) & 0x1f)

/* Bindings in help order; rows without help text are aliases. */
const struct tui_key tui_keys[] = {
	{ KEY_LEFT,	TUI_ACT_LEFT,	"arrows hjkl", "move the selection" },
	{ 'h',		TUI_ACT_LEFT,	NULL, NULL },
	{ KEY_RIGHT,	TUI_ACT_RIGHT,	NULL, NULL },
	{ 'l',		TUI_ACT_RIGHT,	NULL, NULL },
	{ KEY_UP,	TUI_ACT_UP,	NULL, NULL },
	{ 'k',		TUI_ACT_UP,	NULL, NULL },
	{ KEY_DOWN,	TUI_ACT_DOWN,	NULL, NULL },
	{ 'j',		TUI_ACT_DOWN,	NULL, NULL },
	{ KEY_PPAGE,	TUI_ACT_PAGE_UP, "PgUp PgDn", "scroll a page" },
	{ KEY_NPAGE,	TUI_ACT_PAGE_DOWN, NULL, NULL },
	{ KEY_HOME,	TUI_ACT_HOME,	"Home End g G", "first / last" },
	{ 'g',		TUI_ACT_HOME,	NULL, NULL },
	{ KEY_END,	TUI_ACT_END,	NULL, NULL },
	{ 'G',		TUI_ACT_END,	NULL, NULL },
	{ '\t',		TUI_ACT_PANE,	"Tab", "switch pane (devices / tasks)" },
	{ KEY_BTAB,	TUI_ACT_PANE,	NULL, NULL },
	{ '\n',		TUI_ACT_DETAIL,	"Enter", "details full size (again: back)" },
	{ '\r',		TUI_ACT_DETAIL,	NULL, NULL },
	{ KEY_ENTER,	TUI_ACT_DETAIL,	NULL, NULL },
	{ 'a',		TUI_ACT_APPROVE, "a", "approve the selected device" },
	{ 'd',		TUI_ACT_DRAIN,	"d", "drain / undrain the device" },
	{ 'c',		TUI_ACT_CANCEL,	"c", "cancel the selected task" },
	{ '/',		TUI_ACT_FILTER,	"/", "filter devices and tasks" },
	{ 'f',		TUI_ACT_FINISHED, "f", "show / hide finished tasks" },
	{ '?',		TUI_ACT_HELP,	"?", "this help" },
	{ KEY_F(1),	TUI_ACT_HELP,	NULL, NULL },
	{ CTRL('l'),	TUI_ACT_REDRAW,	"^L", "redraw the screen" },
	{ 27,		TUI_ACT_ESCAPE,	"Esc", "close details, clear filter" },
	{ 'q',		TUI_ACT_QUIT,	"q", "quit" },
	{ 'Q',		TUI_ACT_QUIT,	NULL, NULL },
};
const size_t tui_keys_n = sizeof tui_keys / sizeof tui_keys[0];

/* The action bound to a key. */
enum tui_action
tui_keys_lookup(int key)
{
	size_t	i;

	for (i = 0; i < tui_keys_n; i++) {
		if (tui_keys[i].key == key)
			return (tui_keys[i].action);
	}
	return (TUI_ACT_NONE);
}
