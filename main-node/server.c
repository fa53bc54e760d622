/* SPDX-License-Identifier: ISC */
/*
 * server.c -- the listener, running out of descriptors gracefully, the
 * 1 s housekeeping tick and shutdown.
 *
 * Out of descriptors: the main node raises its open-files limit at start
 * and keeps one descriptor in reserve.  When accept() fails with EMFILE
 * it gives the reserve up, accepts the waiting peer, tells it the node is
 * busy and closes it, takes the reserve back, and pauses accepting for a
 * second, so a flood never locks everyone out silently nor spins.
 */
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "main.h"

/* Device last-seen times are written every this many ticks (seconds): a
 * restarted main node shows them at most this old. */
#define SERVER_FLUSH_TICKS	5
/* Finished tasks past --keep-finished are deleted this often, this many
 * at a time (seconds, rows). */
#define SERVER_PRUNE_TICKS	10
#define SERVER_PRUNE_MAX	500

/* A new connection arrived. */
static void
server_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct server	*s = arg;
	struct conn	*c;

	if (s->stopping) {
		evutil_closesocket(fd);
		return;
	}
	c = conn_create(s, fd, sa, salen);
	if (c == NULL)
		return;
	if (s->n_conns > s->opt->max_connections) {
		log_warn("event=conn_refused addr=%s reason=max_connections "
		    "limit=%d", c->addr, s->opt->max_connections);
		conn_send_error(c, NULL, PROTO_BUSY, "too many connections "
		    "(%d); try again later", s->opt->max_connections);
		conn_close(c, "max connections");
		return;
	}
	if (s->opt->max_conns_per_addr > 0 &&
	    conn_addr_count(c) > s->opt->max_conns_per_addr) {
		log_warn("event=conn_refused addr=%s reason=max_conns_per_addr "
		    "limit=%d", c->addr, s->opt->max_conns_per_addr);
		conn_send_error(c, NULL, PROTO_BUSY, "too many connections "
		    "from your address (%d); close some and try again",
		    s->opt->max_conns_per_addr);
		conn_close(c, "max connections per address");
	}
}

/* Re-enable accepting after an EMFILE pause. */
static void
server_accept_resume_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server	*s = arg;

	if (!s->stopping)
		evconnlistener_enable(s->listener);
}

/* Out of descriptors: refuse the waiting peer with the reserve one. */
static void
server_refuse_one(struct server *s)
{
	static const char busy[] = "{\"message_type\":\"error\",\"data\":"
	    "{\"code\":\"busy\",\"message\":\"the main node is out of file "
	    "descriptors; try again later\"}}\n";
	int	fd;

	if (s->reserve_fd < 0)
		return;
	close(s->reserve_fd);
	s->reserve_fd = -1;
	fd = accept4(evconnlistener_get_fd(s->listener), NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		(void)write(fd, busy, sizeof busy - 1);
		close(fd);
	}
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* accept() failed: out of descriptors refuses one peer and pauses
 * accepting for a second instead of spinning. */
static void
server_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server	*s = arg;
	struct timeval	 tv = { 1, 0 };
	int		 err = EVUTIL_SOCKET_ERROR();

	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		log_warn("event=accept_paused error=\"%s\" conns=%d msg=\"out "
		    "of descriptors: raise LimitNOFILE or lower "
		    "--max-connections\"", strerror(err), s->n_conns);
		server_refuse_one(s);
		evconnlistener_disable(l);
		evtimer_add(s->accept_ev, &tv);
		return;
	}
	log_warn("event=accept_error error=\"%s\"", strerror(err));
}

/*
 * Raise the open-files limit to what --max-connections needs (up to the
 * hard limit); if it cannot be had, lower --max-connections to fit and
 * say so.
 */
static void
server_raise_nofile(struct server *s)
{
	struct rlimit	rl;
	rlim_t		want = (rlim_t)s->opt->max_connections + 128;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >
		    want ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want && rl.rlim_cur > 256) {
		s->opt->max_connections = (int)(rl.rlim_cur - 128);
		log_warn("event=option_lowered option=max-connections value=%d "
		    "msg=\"the open-files limit is %llu; raise it "
		    "(LimitNOFILE=, ulimit -n) for more\"",
		    s->opt->max_connections, (unsigned long long)rl.rlim_cur);
	}
}

/* Housekeeping every second: liveness, deadlines, held-back events,
 * last-seen flush, retention. */
static void
server_tick_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server	*s = arg;
	static unsigned	 ticks;
	double		 now = now_mono();

	ticks++;
	liveness_tick(s, now);
	task_tick(s, now);
	watch_tick(s);
	http_tick();
	if (ticks % SERVER_FLUSH_TICKS == 0 && commit_open(s) == 0 &&
	    store_flush_dirty(s->store) != 0)
		log_error("event=store_flush_failed msg=\"device last-seen "
		    "times not saved; check the state dir's disk\"");
	if (ticks % SERVER_PRUNE_TICKS == 0)
		task_prune(s, SERVER_PRUNE_MAX);
	files_tick(s);
	/* A pass the database refused (busy, full) is tried again. */
	if (queue_is_dirty())
		commit_kick(s);
}

/* Bind and listen on opt->listen; -1 with *cause on failure. */
int
server_start(struct server *s, char **cause)
{
	struct addrinfo	 hints, *res = NULL;
	struct timeval	 tv = { 1, 0 };
	char		*host = NULL, *port = NULL;
	int		 rc;

	TAILQ_INIT(&s->conns);
	TAILQ_INIT(&s->watchers);
	server_raise_nofile(s);
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (proto_parse_hostport(s->opt->listen, "7070", &host, &port,
	    cause) != 0)
		return (-1);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(*host != '\0' ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		xasprintf(cause, "--listen %s: %s", s->opt->listen,
		    gai_strerror(rc));
		goto out;
	}
	s->listener = evconnlistener_new_bind(s->base, server_accept_cb, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    512, res->ai_addr, (int)res->ai_addrlen);
	if (s->listener == NULL) {
		xasprintf(cause, "cannot listen on %s: %s; is another "
		    "encore-main running? choose another --listen",
		    s->opt->listen, strerror(errno));
		rc = -1;
		goto out;
	}
	evconnlistener_set_error_cb(s->listener, server_accept_error_cb);
	s->accept_ev = evtimer_new(s->base, server_accept_resume_cb, s);
	s->tick_ev = event_new(s->base, -1, EV_PERSIST, server_tick_cb, s);
	evtimer_add(s->tick_ev, &tv);
	s->last_tick = now_mono();
	rc = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	free(host);
	free(port);
	return (rc == 0 ? 0 : -1);
}

/* Stop listening, say bye to every peer, write what is pending. */
void
server_shutdown(struct server *s)
{
	struct conn	*c;
	struct msg	 m;
	struct timeval	 tv = { 2, 0 };

	if (s->stopping)
		return;
	s->stopping = 1;
	log_info("event=shutdown conns=%d", s->n_conns);
	evconnlistener_disable(s->listener);
	if (commit_open(s) == 0 && store_flush_dirty(s->store) != 0)
		log_error("event=store_flush_failed");
	commit_flush(s);
	msg_init(&m, MSG_BYE);
	m.sender_id = (char *)"main";
	m.u.reason = (char *)"main node shutting down";
	TAILQ_FOREACH(c, &s->conns, entry) {
		if (c->role & (ROLE_WORKER | ROLE_PENDING | ROLE_OPERATOR))
			conn_send(c, &m);
		conn_close(c, "shutdown");
	}
	/* Give peers a moment to read their bye, then stop; the last
	 * connection's free ends the loop sooner. */
	if (TAILQ_EMPTY(&s->conns))
		event_base_loopbreak(s->base);
	else
		event_base_loopexit(s->base, &tv);
}

/* Free what server_start made. */
void
server_stop(struct server *s)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
		TAILQ_REMOVE(&s->conns, c, entry);
		if (c->watching)
			TAILQ_REMOVE(&s->watchers, c, watch_entry);
		if (c->device != NULL) {
			c->device->conn = NULL;
			c->device = NULL;
		}
		/* A download or upload still under way at exit. */
		files_conn_closed(c);
		conn_release(c);
	}
	if (s->listener != NULL)
		evconnlistener_free(s->listener);
	if (s->accept_ev != NULL)
		event_free(s->accept_ev);
	if (s->tick_ev != NULL)
		event_free(s->tick_ev);
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
}
