/* SPDX-License-Identifier: ISC */
/*
 * commit.c -- group commit: every write of one pass of the event loop
 * shares one SQLite transaction.
 *
 * The first write of a pass opens the transaction (commit_open) and from
 * then on every connection's output is held (conn.c); each message's own
 * work is a savepoint inside it (store_begin/store_end), so a message that
 * fails undoes only itself.  At the end of the pass (pass_ev, activated
 * when the transaction opened, so it runs after every read callback of
 * this pass) the scheduler places what it can inside the same transaction,
 * then the transaction commits and the held output is released: no peer
 * hears of a change before it is durable, and a busy cluster pays one
 * commit per loop pass, not one per message.
 *
 * If the commit fails (a full disk, a database another process keeps
 * locked), the held output is dropped, memory is reloaded from the
 * database, every operator request of the pass is answered with an error
 * and every worker that wrote in it is disconnected, so it reconnects and
 * re-sends what it has not had acknowledged.
 */
#include <stdlib.h>
#include <string.h>

#include "main.h"

/* A peer that wrote in the open transaction. */
struct commit_note {
	struct conn	*c;		/* borrowed; forgotten when it goes */
	char		*message_id;	/* an operator request, or NULL */
};

static struct {
	int			 open;
	struct commit_note	*notes;
	size_t			 n, cap;
} commit;

/* Write everything of this pass, then release what was held. */
static void
commit_pass_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server	*s = arg;

	if (s->on_pass_end != NULL && !s->stopping)
		s->on_pass_end(s);
	commit_flush(s);
}

/* Create the end-of-pass event. */
void
commit_start(struct server *s)
{
	s->pass_ev = event_new(s->base, -1, 0, commit_pass_cb, s);
}

/* Commit what is open and free the event. */
void
commit_stop(struct server *s)
{
	commit_flush(s);
	if (s->pass_ev != NULL)
		event_free(s->pass_ev);
	s->pass_ev = NULL;
	free(commit.notes);
	commit.notes = NULL;
	commit.cap = 0;
}

/* Run the end-of-pass work (a scheduler pass, the commit) once the
 * current callbacks are done. */
void
commit_kick(struct server *s)
{
	if (s->pass_ev != NULL && !event_pending(s->pass_ev, EV_TIMEOUT, NULL))
		event_active(s->pass_ev, EV_TIMEOUT, 1);
}

/* Make sure this pass's transaction is open; -1 if the database cannot
 * start one (then nothing may be written). */
int
commit_open(struct server *s)
{
	if (commit.open)
		return (0);
	if (store_begin(s->store) != 0) {
		store_end(s->store, -1);
		return (-1);
	}
	commit.open = 1;
	conn_hold_start();
	commit_kick(s);
	return (0);
}

/* 1 while a transaction is open. */
int
commit_is_open(void)
{
	return (commit.open);
}

/* Remember that c wrote in the open transaction (with the request's id for
 * an operator), to answer or disconnect it if the commit fails. */
void
commit_note(struct conn *c, const char *message_id)
{
	struct commit_note	*n;
	size_t			 i;

	if (!commit.open)
		return;
	if (message_id == NULL) {
		for (i = 0; i < commit.n; i++) {
			if (commit.notes[i].c == c)
				return;
		}
	}
	if (commit.n == commit.cap) {
		commit.cap = commit.cap ? commit.cap * 2 : 64;
		commit.notes = xreallocarray(commit.notes, commit.cap,
		    sizeof *commit.notes);
	}
	n = &commit.notes[commit.n++];
	n->c = c;
	n->message_id = message_id != NULL ? xstrdup(message_id) : NULL;
}

/* A connection is going away: forget its notes. */
void
commit_forget(struct conn *c)
{
	size_t	i;

	for (i = 0; i < commit.n; i++) {
		if (commit.notes[i].c == c)
			commit.notes[i].c = NULL;
	}
}

/* The commit failed: tell everyone who wrote in it. */
static void
commit_failed(struct server *s)
{
	struct commit_note	*n;
	size_t			 i;

	s->commits_failed++;
	log_error("event=commit_failed writers=%zu msg=\"the database refused "
	    "the commit (is the main node's disk full, or another process "
	    "holding encore.db locked?); nothing of it was sent\"", commit.n);
	if (s->on_commit_failed != NULL)
		s->on_commit_failed(s);
	store_device_reload(s->store);
	for (i = 0; i < commit.n; i++) {
		n = &commit.notes[i];
		if (n->c == NULL || n->c->closing)
			continue;
		if (n->c->role == ROLE_HTTP)
			conn_close(n->c, "commit failed; nothing was sent");
		else if (n->message_id != NULL)
			conn_reply_error(n->c, n->message_id, PROTO_INTERNAL,
			    "cannot save: the main node's database is busy or "
			    "its disk is full; nothing was changed; retry "
			    "later");
		else if (n->c->role & (ROLE_WORKER | ROLE_PENDING))
			conn_close(n->c, "commit failed; the worker re-sends");
	}
}

/*
 * Commit the open transaction now.  Returns 0 if it is durable (or
 * nothing was open), -1 if it failed (and was handled).
 */
int
commit_flush(struct server *s)
{
	size_t	i;
	int	ok;

	if (!commit.open)
		return (0);
	commit.open = 0;
	ok = store_end(s->store, 0) == 0;
	conn_hold_end(ok);
	if (ok)
		s->commits++;
	else
		commit_failed(s);
	for (i = 0; i < commit.n; i++)
		free(commit.notes[i].message_id);
	commit.n = 0;
	return (ok ? 0 : -1);
}
