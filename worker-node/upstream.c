/* SPDX-License-Identifier: ISC */
/*
 * upstream.c -- the worker's link to the main node.  Connects (DNS names
 * too), registers with the join token or the device's own key, heartbeats,
 * hands task messages to task.c and reconnects after any failure with
 * exponential backoff and jitter: the n-th retry in a row waits a random
 * time between half and all of min(0.25 s x 2^(n-1), 10 s), so a main node
 * that restarts sees its workers again within a second or two, and never
 * more than 10 s after it is back.  One connection at a time.
 *
 * A main node is not trusted to behave: a line is at most PROTO_LINE_MAX
 * bytes, at most UP_IN_MAX bytes are read ahead, a register_ack must come
 * within UP_ACK_TIMEOUT of connecting, and a line once begun must end
 * within UP_LINE_STALL; otherwise the worker logs why, closes and
 * reconnects.  Its strings are sanitized before they reach the log.
 *
 * With a pin (a pinned join token, or STATE/ca.pin kept from one) the
 * link is TLS: once TCP connects, the socket's bufferevent goes under an
 * Mbed TLS filter, the handshake checks the main node's chain against the
 * pin (upstream-tls.c), and only then is register sent.  A main node that
 * fails the check gets nothing and is tried again after a minute, as a
 * refused join token is: a device moved to another network, or whose
 * main node's address now leads elsewhere, comes back by itself, and one
 * whose main node was made anew says in its log what to copy.
 *
 * After a file_data line come its raw bytes (PROTOCOL.md "Files"): the
 * read loop hands them to files.c as they arrive and reads the next line
 * only after the last of them; a frame's bytes must keep coming (no
 * UP_LINE_STALL without one).  File frames go out through
 * upstream_bulk_output() only while the output is below UP_OUT_LOW, and
 * the write callback asks files.c for more.  libevent 2.1 reads a socket
 * 4 KiB at a time, a quarter of a million reads a gigabyte; on a plain
 * TCP link the bytes of a frame are read straight from the socket in
 * bites of UP_RAW_READ once the buffer is empty (never under TLS, whose
 * bytes only the filter may read).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "protocol.h"
#include "worker.h"

#define UP_BACKOFF_MIN		250	/* ms, first retry (base) */
#define UP_BACKOFF_MAX		10000	/* ms, cap of the base */
#define UP_REJECTED_DELAY	60000	/* ms, after an unauthorized */
#define UP_CONNECT_TIMEOUT	10	/* s */
#define UP_ACK_TIMEOUT		10	/* s from connected to register_ack */
#define UP_LINE_STALL		15	/* s a begun line may take to end */
#define UP_IN_MAX		(4 * PROTO_LINE_MAX)	/* read ahead, bytes */
#define UP_WRITE_TIMEOUT	30	/* s without write progress */
#define UP_LINES_PER_READ	64	/* then yield to the loop */
#define UP_BAD_LINES_MAX	5	/* in a row, then reconnect */
#define UP_OUT_HIGH		(256 * 1024)	/* pause task output above */
#define UP_OUT_LOW		(64 * 1024)	/* resume it below */
#define UP_BYE_GRACE		3	/* s to flush bye */
#define UP_TLS_OUT_HIGH		(64 * 1024)	/* TLS records queued at
						   most on the socket */
#define UP_RAW_READ		(256 * 1024)	/* a read of frame bytes */
#define UP_RAW_PER_CB		(8 * 1024 * 1024)	/* then yield */

/* Where the link is.  Messages other than register flow from PENDING. */
enum up_state {
	UP_IDLE,	/* waiting for the retry timer */
	UP_CONNECTING,	/* resolving + connecting */
	UP_HANDSHAKE,	/* TLS handshake, checking the pin */
	UP_REGISTERING,	/* register sent, no ack yet */
	UP_PENDING,	/* acked, waiting for an operator */
	UP_APPROVED,	/* acked and approved: tasks may flow */
};

/*
 * The link.  bev and dns are owned; under TLS bev is the TLS filter,
 * which owns the socket's bufferevent and the session.  key is the
 * device key read from STATE/device.key (owned, NULL when there is none).
 */
static struct {
	enum up_state		 state;
	struct bufferevent	*bev;
	struct evdns_base	*dns;
	struct event		*retry_ev;
	struct event		*hb_ev;
	struct event		*more_ev;	/* continue reading lines */
	struct event		*bye_ev;	/* bye flush grace */
	struct event		*ack_ev;	/* register_ack deadline */
	struct event		*stall_ev;	/* a begun line's deadline */
	char			*key;
	int			 used_key;	/* last register used key */
	int			 tls;		/* bev is the TLS filter */
	char			 stored_pin[CRED_PIN_HEX + 1]; /* ca.pin */
	int			 key_rejected;	/* key refused: use token */
	int			 failures;	/* in a row, for the backoff */
	int			 hb_interval;	/* s */
	int			 bad_lines;
	int			 pending_logged;
	struct frame_reader	 fr;		/* raw bytes of a file frame */
	char			*raw_buf;	/* UP_RAW_READ, made on first
						   use (owned) */
	char			*last_reject;	/* logged once (owned) */
	void			(*bye_done)(void);
} up;

static void	upstream_connect(void);
static void	upstream_read_cb(struct bufferevent *, void *);
static void	upstream_watch_partial(void);
static void	upstream_event_cb(struct bufferevent *, short, void *);
static void	upstream_push(void);
static size_t	upstream_unsent(void);

/* Path of the device key file (static buffer). */
static const char *
upstream_key_path(void)
{
	static char	path[4096];

	snprintf(path, sizeof path, "%s/device.key", wconf.state_dir);
	return (path);
}

/* Load STATE/device.key into up.key (NULL if absent). */
static void
upstream_load_key(void)
{
	char	buf[PROTO_TOKEN_MAX + 2], *s, *e;
	int	fd;
	ssize_t	n;

	free(up.key);
	up.key = NULL;
	if ((fd = open(upstream_key_path(), O_RDONLY|O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("event=key_unreadable path=\"%s\" error=\"%s\"",
			    upstream_key_path(), strerror(errno));
		return;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (s = buf; *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'; s++)
		;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\t' ||
	    e[-1] == '\r'))
		*--e = '\0';
	if (*s != '\0')
		up.key = xstrdup(s);
}

/* Store a device key given by the main node (0600, atomically). */
static void
upstream_store_key(const char *key)
{
	char	*data;

	xasprintf(&data, "%s\n", key);
	if (worker_write_file(upstream_key_path(), data, strlen(data),
	    WF_SYNC) != 0)
		log_error("event=key_store_failed path=\"%s\" error=\"%s\" "
		    "msg=\"the device must be approved again after a restart\"",
		    upstream_key_path(), strerror(errno));
	else
		log_info("event=key_stored path=\"%s\"", upstream_key_path());
	free(data);
	free(up.key);
	up.key = xstrdup(key);
	up.key_rejected = 0;
}

/* Arm the retry timer after delay_ms. */
static void
upstream_schedule(int delay_ms)
{
	struct timeval	tv;

	if (worker_exiting)
		return;
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(up.retry_ev, &tv);
	log_debug("event=reconnect_scheduled delay_ms=%d", delay_ms);
}

/* A cheap pseudo-random number for jitter (xorshift, seeded once). */
static uint32_t
upstream_random(void)
{
	static uint32_t	x;

	if (x == 0)
		x = (uint32_t)getpid() ^ (uint32_t)(worker_now() * 1e6) ^
		    0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return (x);
}

/* The delay before the n-th retry in a row (n >= 1), given a random r:
 * between half and all of min(UP_BACKOFF_MIN x 2^(n-1), UP_BACKOFF_MAX). */
int
upstream_backoff_ms(int n, uint32_t r)
{
	int	base = UP_BACKOFF_MIN;

	while (--n > 0 && base < UP_BACKOFF_MAX)
		base *= 2;
	if (base > UP_BACKOFF_MAX)
		base = UP_BACKOFF_MAX;
	return (base / 2 + (int)(r % (uint32_t)(base / 2 + 1)));
}

/* The next backoff delay; counts the failure. */
static int
upstream_next_delay(void)
{
	if (up.failures < 64)
		up.failures++;
	return (upstream_backoff_ms(up.failures, upstream_random()));
}

/* Drop the connection; reconnect after delay_ms (< 0: backoff). */
static void
upstream_close(const char *why, int delay_ms)
{
	if (up.bev != NULL) {
		if (up.bye_done != NULL)
			log_info("event=disconnected main=%s:%s reason=\"%s\"",
			    wconf.main_host, wconf.main_port, why);
		else
			log_warn("event=disconnected main=%s:%s reason=\"%s\"",
			    wconf.main_host, wconf.main_port, why);
		bufferevent_free(up.bev);
		up.bev = NULL;
	}
	up.tls = 0;
	evtimer_del(up.hb_ev);
	evtimer_del(up.ack_ev);
	evtimer_del(up.stall_ev);
	event_del(up.more_ev);
	up.state = UP_IDLE;
	up.bad_lines = 0;
	frame_expect_raw(&up.fr, 0);
	files_offline();
	spool_offline();
	task_output_resume();
	if (up.bye_done != NULL) {
		void	(*done)(void) = up.bye_done;

		up.bye_done = NULL;
		evtimer_del(up.bye_ev);
		done();
		return;
	}
	upstream_schedule(delay_ms < 0 ? upstream_next_delay() : delay_ms);
}

/* Send a heartbeat now. */
static void
upstream_heartbeat(void)
{
	struct msg	m;

	msg_init(&m, MSG_HEARTBEAT);
	sampler_fill(&m.u.hb);
	m.u.hb.n_active = task_refs(&m.u.hb.active);
	upstream_send(&m);
}

/* Heartbeat timer.  Between file frames the read buffer goes back. */
static void
upstream_hb_cb(evutil_socket_t fd, short events, void *arg)
{
	if (up.fr.raw_left == 0) {
		free(up.raw_buf);
		up.raw_buf = NULL;
	}
	upstream_heartbeat();
}

/* (Re)arm the heartbeat timer at the current interval. */
static void
upstream_hb_arm(void)
{
	struct timeval	tv = { up.hb_interval, 0 };

	evtimer_del(up.hb_ev);
	evtimer_add(up.hb_ev, &tv);
}

/* Send register with the device key, or the join token. */
static void
upstream_register(void)
{
	struct msg	m;
	struct timeval	ack_tv = { UP_ACK_TIMEOUT, 0 };

	upstream_load_key();
	worker_fill_register(&m);
	if (up.key != NULL && (!up.key_rejected || wconf.token == NULL)) {
		m.u.reg.device_key = up.key;
		up.used_key = 1;
	} else {
		m.u.reg.token = wconf.token;
		m.u.reg.join_secret = wconf.join_secret;
		up.used_key = 0;
	}
	if (m.u.reg.device_key == NULL && m.u.reg.token == NULL) {
		/* device.key went away while we ran: nothing can register. */
		worker_stop(WORKER_EXIT_CONFIG, "event=no_credentials msg=\"no "
		    "device.key in %s and no join token: start the worker with "
		    "--token-file FILE (a copy of the main node's join.token) "
		    "or --token\"", wconf.state_dir);
		return;
	}
	if (msg_write(bufferevent_get_output(up.bev), &m) != 0) {
		upstream_close("cannot encode register", -1);
		return;
	}
	up.state = UP_REGISTERING;
	evtimer_add(up.ack_ev, &ack_tv);
	log_debug("event=register_sent credential=%s tls=%s running=%zu",
	    up.used_key ? "device_key" : "token", up.tls ? "yes" : "no",
	    m.u.reg.n_running);
}

/* Handle register_ack: store the key, note the state, start heartbeats. */
static void
upstream_on_ack(const struct msg_register_ack *ack)
{
	char	state[64];

	if (ack->device_key != NULL && *ack->device_key != '\0')
		upstream_store_key(ack->device_key);
	if (ack->heartbeat_interval > 0)
		up.hb_interval = ack->heartbeat_interval;
	evtimer_del(up.ack_ev);
	/* Read file frames in big bites: a 16 KiB read (libevent's default)
	 * costs more in system calls than in bytes. */
	bufferevent_set_max_single_read(up.bev, UP_IN_MAX);
	up.failures = 0;
	free(up.last_reject);
	up.last_reject = NULL;
	log_sanitize(ack->state, state, sizeof state);

	if (ack->state != NULL && strcmp(ack->state, "pending") == 0) {
		if (!up.pending_logged)
			log_info("event=pending msg=\"waiting for an operator: "
			    "encore approve %s\"", wconf.id);
		up.pending_logged = 1;
		up.state = UP_PENDING;
	} else {
		if (up.state != UP_APPROVED)
			log_info("event=registered main=%s:%s state=%s "
			    "heartbeat_interval=%d", wconf.main_host,
			    wconf.main_port, state, up.hb_interval);
		up.pending_logged = 0;
		up.state = UP_APPROVED;
	}
	upstream_hb_arm();
	/* Spooled output and results first: they may settle tasks the
	 * heartbeat no longer lists as active. */
	if (up.state == UP_APPROVED) {
		files_online();
		spool_replay();
	}
	upstream_heartbeat();
}

/* Handle an error message from the main node. */
static void
upstream_on_error(const struct msg_error *e)
{
	char	text[PROTO_TEXT_MAX];
	int	registering = (up.state == UP_REGISTERING);

	log_sanitize(e->message, text, sizeof text);
	if (!registering) {
		log_warn("event=main_error code=%s msg=\"%s\"",
		    proto_code_name(e->code), text);
		return;
	}
	if (e->code == PROTO_UNAUTHORIZED && up.used_key &&
	    wconf.token == NULL) {
		worker_stop(WORKER_EXIT_CONFIG, "event=rejected "
		    "credential=device_key reason=\"%s\" msg=\"the main node "
		    "no longer knows this device's key and there is no join "
		    "token: start the worker with --token-file FILE (a copy of "
		    "the main node's join.token) to join again\"", text);
		return;
	}
	if (e->code == PROTO_UNAUTHORIZED && up.used_key &&
	    wconf.token != NULL) {
		log_warn("event=rejected credential=device_key reason=\"%s\" "
		    "msg=\"retrying with the join token\"", text);
		up.key_rejected = 1;
		upstream_close("device key rejected", 0);
		return;
	}
	if (up.last_reject == NULL || strcmp(up.last_reject, text) != 0) {
		if (e->code == PROTO_UNAUTHORIZED)
			log_error("event=rejected reason=\"%s\" : check "
			    "--token/--token-file; the join token is in the "
			    "main node's state dir join.token", text);
		else
			log_error("event=rejected code=%s reason=\"%s\"",
			    proto_code_name(e->code), text);
		free(up.last_reject);
		up.last_reject = xstrdup(text);
	} else
		log_debug("event=rejected code=%s reason=\"%s\"",
		    proto_code_name(e->code), text);
	/* A wrong token, or plaintext refused (a remote device needs the
	 * pinned token): neither changes in a few seconds. */
	if (e->code == PROTO_UNAUTHORIZED || e->code == PROTO_FORBIDDEN)
		upstream_close("rejected", UP_REJECTED_DELAY);
	else
		upstream_close("rejected", -1);
}

/* Dispatch one decoded message. */
static void
upstream_dispatch(struct msg *m)
{
	char	reason[PROTO_TEXT_MAX];

	switch (m->type) {
	case MSG_REGISTER_ACK:
		upstream_on_ack(&m->u.ack);
		break;
	case MSG_TASK_ASSIGN:
		if (up.state != UP_APPROVED) {
			log_warn("event=task_ignored msg=\"task_assign before "
			    "approval\"");
			break;
		}
		task_assign(&m->u.task);
		break;
	case MSG_TASK_CANCEL:
		task_cancel(m->u.ref.task_id, m->u.ref.attempt);
		break;
	case MSG_RESULT_ACK:
		spool_ack(m->u.ref.task_id, m->u.ref.attempt);
		break;
	case MSG_FILE_DATA:
		/* Its raw bytes follow (the caller reads them). */
		files_on_data(&m->u.file);
		break;
	case MSG_FILE_ACK:
		files_on_ack(&m->u.file, m->reply_to);
		break;
	case MSG_ERROR:
		upstream_on_error(&m->u.error);
		break;
	case MSG_BYE:
		log_sanitize(m->u.reason, reason, sizeof reason);
		log_info("event=main_bye reason=\"%s\"", reason);
		up.failures = 0;
		upstream_close("main node said bye", -1);
		break;
	default:
		log_debug("event=ignored type=%s", msg_type_name(m->type));
		break;
	}
}

/* Read the rest of a frame's bytes straight from a plain socket, at most
 * UP_RAW_PER_CB at once.  -1 if the link closed or failed. */
static int
upstream_read_raw(void)
{
	evutil_socket_t	fd;
	size_t		want, total = 0;
	ssize_t		n;

	if (up.bev == NULL || bufferevent_get_underlying(up.bev) != NULL ||
	    (fd = bufferevent_getfd(up.bev)) == -1)
		return (0);
	if (up.raw_buf == NULL)
		up.raw_buf = xmalloc(UP_RAW_READ);
	while (up.fr.raw_left > 0 && total < UP_RAW_PER_CB) {
		want = UP_RAW_READ;
		if ((int64_t)want > up.fr.raw_left)
			want = (size_t)up.fr.raw_left;
		n = recv(fd, up.raw_buf, want, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			upstream_close(n == 0 ? "connection closed by the "
			    "main node" : strerror(errno), -1);
			return (-1);
		}
		files_raw_buf(up.raw_buf, (size_t)n);
		frame_raw_done(&up.fr, (size_t)n);
		total += (size_t)n;
		if (up.fr.raw_left == 0)
			files_raw_end();
	}
	if (total > 0)
		evtimer_del(up.stall_ev);	/* bytes came */
	return (0);
}

/* Read and handle complete lines and file frames' raw bytes, at most
 * UP_LINES_PER_READ at once. */
static void
upstream_read_lines(void)
{
	struct bufferevent	*bev = up.bev;
	struct evbuffer		*in;
	struct proto_err	 err;
	struct msg		 m;
	char			*line, text[PROTO_TEXT_MAX + 64];
	size_t			 len;
	int			 i;

	for (i = 0; i < UP_LINES_PER_READ; i++) {
		if (up.bev != bev || bev == NULL)
			return;
		in = bufferevent_get_input(bev);
		switch (frame_next(&up.fr, in, PROTO_LINE_MAX, &line, &len)) {
		case FRAME_K_AGAIN:
			if (up.fr.raw_left > 0) {
				if (upstream_read_raw() != 0 || up.bev != bev)
					return;
				if (up.fr.raw_left == 0)
					continue;	/* lines may follow */
			}
			upstream_watch_partial();
			return;
		case FRAME_K_TOO_LONG:
			upstream_close("line too long from the main node (over "
			    "64 KiB without a newline)", -1);
			return;
		case FRAME_K_RAW:
			files_raw(in, len);
			frame_raw_done(&up.fr, len);
			evtimer_del(up.stall_ev);	/* bytes came */
			if (up.fr.raw_left == 0)
				files_raw_end();
			continue;
		case FRAME_K_LINE:
			break;
		}
		if (msg_decode(line, len, &m, &err) != 0) {
			log_sanitize(err.message, text, sizeof text);
			log_warn("event=bad_line code=%s msg=\"%s\"",
			    proto_code_name(err.code), text);
			free(line);
			evtimer_del(up.stall_ev);	/* a line ended */
			if (err.type == MSG_FILE_DATA) {
				/* How many raw bytes follow is unknown. */
				upstream_close("a file_data line that cannot be "
				    "read from the main node", -1);
				return;
			}
			if (++up.bad_lines >= UP_BAD_LINES_MAX) {
				upstream_close("too many bad lines", -1);
				return;
			}
			continue;
		}
		free(line);
		up.bad_lines = 0;
		evtimer_del(up.stall_ev);	/* a line ended */
		upstream_dispatch(&m);
		if (m.type == MSG_FILE_DATA && up.bev == bev) {
			frame_expect_raw(&up.fr, m.u.file.len);
			if (m.u.file.len == 0)
				files_raw_end();
		}
		msg_free(&m);
	}
	if (up.bev == bev)
		event_active(up.more_ev, EV_TIMEOUT, 0);
}

/* A line has begun but not ended: it must end within UP_LINE_STALL.
 * Nothing buffered: no deadline. */
static void
upstream_watch_partial(void)
{
	struct timeval	tv = { UP_LINE_STALL, 0 };

	if (up.bev == NULL || (up.fr.raw_left == 0 &&
	    evbuffer_get_length(bufferevent_get_input(up.bev)) == 0))
		evtimer_del(up.stall_ev);
	else if (!evtimer_pending(up.stall_ev, NULL))
		evtimer_add(up.stall_ev, &tv);
}

/* A begun line did not end in time: a stuck or hostile main node. */
static void
upstream_stall_cb(evutil_socket_t fd, short events, void *arg)
{
	char	*why;

	xasprintf(&why, "the main node began a line and did not end it "
	    "within %d s", UP_LINE_STALL);
	upstream_close(why, -1);
	free(why);
}

/* No register_ack in time: not an encore main node, or a stuck one. */
static void
upstream_ack_cb(evutil_socket_t fd, short events, void *arg)
{
	char	*why;

	if (up.state == UP_HANDSHAKE)
		xasprintf(&why, "no TLS handshake within %d s of connecting "
		    "(is %s:%s an encore main node that speaks TLS?)",
		    UP_ACK_TIMEOUT, wconf.main_host, wconf.main_port);
	else
		xasprintf(&why, "no register_ack within %d s of connecting (is "
		    "%s:%s an encore main node?)", UP_ACK_TIMEOUT,
		    wconf.main_host, wconf.main_port);
	upstream_close(why, -1);
	free(why);
}

/* Continue with lines left after a yield. */
static void
upstream_more_cb(evutil_socket_t fd, short events, void *arg)
{
	upstream_read_lines();
}

/* Data from the main node. */
static void
upstream_read_cb(struct bufferevent *bev, void *arg)
{
	upstream_read_lines();
}

/* Output drained below the low mark: resume task output; finish bye. */
static void
upstream_write_cb(struct bufferevent *bev, void *arg)
{
	if (up.bye_done != NULL) {
		if (up.tls)
			upstream_push();
		if (upstream_unsent() == 0)
			upstream_close("bye", 0);
		return;
	}
	spool_pump();
	files_drained();
	task_output_resume();
}

/* Turn on TCP keepalive so a vanished main node is noticed, and send
 * each line at once (no Nagle delay on task_started and results). */
static void
upstream_keepalive(evutil_socket_t fd)
{
	int	on = 1, idle = 30, intvl = 10, cnt = 3;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
#ifdef TCP_KEEPIDLE
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
#endif
}

/* Where the pin came from, for messages. */
static const char *
upstream_pin_source(void)
{
	static char	buf[4200];

	if (wconf.pin_from_token)
		return ("the join token");
	snprintf(buf, sizeof buf, "%s/ca.pin (kept from the join token this "
	    "device joined with)", wconf.state_dir);
	return (buf);
}

/* Log a refusal of the main node's chain (once while it stays the same,
 * then at debug level), and try again in a minute. */
static void
upstream_tls_refused(const struct upstream_tls_check *r)
{
	char	*msg;

	if (r->result == UPSTREAM_TLS_NOT_SIGNED)
		xasprintf(&msg, "event=tls_refused main=%s:%s expected=%s "
		    "server_cert=%s msg=\"the main node presents the pinned "
		    "CA but a server certificate that CA did not sign; nothing "
		    "was sent.  Something between this device and the main "
		    "node is not what it claims: check --main; if the main "
		    "node's server.crt is damaged, run encore-main "
		    "--rotate-server-cert there.  Trying again in %d s\"",
		    wconf.main_host, wconf.main_port, r->want, r->leaf,
		    UP_REJECTED_DELAY / 1000);
	else
		xasprintf(&msg, "event=tls_pin_mismatch main=%s:%s expected=%s "
		    "got=%s msg=\"the main node at %s:%s is not the cluster "
		    "this device was given: %s pins CA %s, the main node "
		    "presents CA %s; nothing was sent.  If the main node was "
		    "reinstalled or its state dir made anew, copy join.token "
		    "again from its state dir and restart the worker with "
		    "--token-file FILE; otherwise check --main.  Trying again "
		    "in %d s\"", wconf.main_host, wconf.main_port, r->want,
		    r->got, wconf.main_host, wconf.main_port,
		    upstream_pin_source(), r->want, r->got,
		    UP_REJECTED_DELAY / 1000);
	if (up.last_reject == NULL || strcmp(up.last_reject, msg) != 0) {
		log_error("%s", msg);
		free(up.last_reject);
		up.last_reject = msg;
	} else {
		log_debug("%s", msg);
		free(msg);
	}
	upstream_close(r->result == UPSTREAM_TLS_NOT_SIGNED ?
	    "server certificate not signed by the pinned CA" :
	    "the main node's CA is not the pinned one", UP_REJECTED_DELAY);
}

/* The handshake is done and the chain checked: keep the pin if it came
 * with the token and is new here, then register. */
static void
upstream_tls_done(struct bufferevent *bev)
{
	char	session[128];

	log_info("event=tls main=%s:%s %s ca=%s", wconf.main_host,
	    wconf.main_port, upstream_tls_session(session, sizeof session),
	    wconf.pin);
	if (wconf.pin_from_token && strcmp(up.stored_pin, wconf.pin) != 0) {
		if (cred_pin_store(wconf.state_dir, wconf.pin) != 0)
			log_warn("event=pin_store_failed dir=\"%s\" error=\"%s\" "
			    "msg=\"without the join token this device would "
			    "not know the main node speaks TLS\"",
			    wconf.state_dir, strerror(errno));
		else {
			if (up.stored_pin[0] != '\0')
				log_warn("event=pin_changed old=%s new=%s "
				    "msg=\"the join token pins another CA than "
				    "the one this device knew: its main node was "
				    "made anew\"", up.stored_pin, wconf.pin);
			log_info("event=pin_stored path=\"%s/ca.pin\"",
			    wconf.state_dir);
			snprintf(up.stored_pin, sizeof up.stored_pin, "%s",
			    wconf.pin);
		}
	}
	upstream_register();
}

/*
 * TCP is up and the device holds a pin: put the socket under TLS.  The
 * filter owns the socket's bufferevent from now on; callbacks are
 * deferred to the loop so none runs inside a write of ours.
 */
static void
upstream_tls_start(void)
{
	struct bufferevent	*tb;
	struct timeval		 ack_tv = { UP_ACK_TIMEOUT, 0 };
	struct timeval		 wtv = { UP_WRITE_TIMEOUT, 0 };
	char			*cause;

	if ((tb = upstream_tls_wrap(up.bev, wconf.pin, &cause)) == NULL) {
		upstream_close(cause, -1);
		free(cause);
		return;
	}
	/* Records wait in the socket's buffer up to a bound; past it the
	 * lines wait in the filter's, where upstream_can_write sees them. */
	bufferevent_setwatermark(up.bev, EV_WRITE, UP_TLS_OUT_HIGH / 2,
	    UP_TLS_OUT_HIGH);
	up.bev = tb;
	up.tls = 1;
	up.state = UP_HANDSHAKE;
	bufferevent_setcb(tb, upstream_read_cb, upstream_write_cb,
	    upstream_event_cb, NULL);
	bufferevent_setwatermark(tb, EV_WRITE, UP_OUT_LOW, 0);
	bufferevent_setwatermark(tb, EV_READ, 0, UP_IN_MAX);
	bufferevent_set_timeouts(tb, NULL, &wtv);
	bufferevent_enable(tb, EV_READ|EV_WRITE);
	evtimer_add(up.ack_ev, &ack_tv);
	log_debug("event=tls_handshake main=%s:%s", wconf.main_host,
	    wconf.main_port);
}

/* Why a TLS connection failed (caller frees). */
static char *
upstream_tls_failed(short events)
{
	char	 err[256], *why;

	if (upstream_tls_why(err, sizeof err) == NULL) {
		if (events & BEV_EVENT_EOF)
			return (xstrdup("connection closed by the main node"));
		if (events & BEV_EVENT_TIMEOUT)
			return (xstrdup("write timed out"));
		return (xstrdup(evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR())));
	}
	if (up.state != UP_HANDSHAKE) {
		xasprintf(&why, "TLS error: %s", err);
		return (why);
	}
	xasprintf(&why, "TLS handshake failed: %s (is %s:%s an encore main "
	    "node that speaks TLS?  One from before TLS does not: upgrade it)",
	    err, wconf.main_host, wconf.main_port);
	return (why);
}

/* Connected (TCP, then TLS), or the connection failed or closed. */
static void
upstream_event_cb(struct bufferevent *bev, short events, void *arg)
{
	const struct upstream_tls_check	*r;
	struct timeval			 tv = { UP_WRITE_TIMEOUT, 0 };
	char				*why;
	int				 dnserr;

	if ((events & BEV_EVENT_CONNECTED) && up.state == UP_HANDSHAKE) {
		upstream_tls_done(bev);
		return;
	}
	if (events & BEV_EVENT_CONNECTED) {
		log_info("event=connected main=%s:%s", wconf.main_host,
		    wconf.main_port);
		upstream_keepalive(bufferevent_getfd(bev));
		bufferevent_set_timeouts(bev, NULL, &tv);
		if (wconf.pin[0] != '\0')
			upstream_tls_start();
		else
			upstream_register();
		return;
	}
	if (up.state == UP_HANDSHAKE) {
		r = upstream_tls_result();
		if (r->result == UPSTREAM_TLS_NO_CA ||
		    r->result == UPSTREAM_TLS_NOT_SIGNED) {
			upstream_tls_refused(r);
			return;
		}
	}
	if (up.tls)
		why = upstream_tls_failed(events);
	else if (events & BEV_EVENT_EOF)
		why = xstrdup("connection closed by the main node");
	else if (events & BEV_EVENT_TIMEOUT)
		why = xstrdup(up.state == UP_CONNECTING ? "connect timed out" :
		    "write timed out");
	else if ((dnserr = bufferevent_socket_get_dns_error(bev)) != 0)
		xasprintf(&why, "cannot resolve %s: %s", wconf.main_host,
		    evutil_gai_strerror(dnserr));
	else
		xasprintf(&why, "%s", evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
	if (up.state == UP_CONNECTING) {
		log_warn("event=connect_failed main=%s:%s reason=\"%s\"",
		    wconf.main_host, wconf.main_port, why);
		bufferevent_free(up.bev);
		up.bev = NULL;
		up.state = UP_IDLE;
		upstream_schedule(upstream_next_delay());
	} else
		upstream_close(why, -1);
	free(why);
}

/* Start connecting to the main node. */
static void
upstream_connect(void)
{
	struct timeval	tv = { UP_CONNECT_TIMEOUT, 0 };

	if (worker_exiting)
		return;
	up.bev = bufferevent_socket_new(worker_base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (up.bev == NULL)
		fatalx("cannot create a bufferevent");
	bufferevent_setcb(up.bev, upstream_read_cb, upstream_write_cb,
	    upstream_event_cb, NULL);
	bufferevent_setwatermark(up.bev, EV_WRITE, UP_OUT_LOW, 0);
	bufferevent_setwatermark(up.bev, EV_READ, 0, UP_IN_MAX);
	bufferevent_set_timeouts(up.bev, NULL, &tv);
	bufferevent_enable(up.bev, EV_READ|EV_WRITE);
	up.state = UP_CONNECTING;
	log_debug("event=connecting main=%s:%s", wconf.main_host,
	    wconf.main_port);
	if (bufferevent_socket_connect_hostname(up.bev, up.dns, AF_UNSPEC,
	    wconf.main_host, atoi(wconf.main_port)) != 0) {
		/* The event callback may already have run and freed it. */
		if (up.state == UP_CONNECTING && up.bev != NULL) {
			log_warn("event=connect_failed main=%s:%s reason=\"%s\"",
			    wconf.main_host, wconf.main_port, "cannot start "
			    "connecting");
			bufferevent_free(up.bev);
			up.bev = NULL;
			up.state = UP_IDLE;
			upstream_schedule(upstream_next_delay());
		}
	}
}

/* Backoff over: connect again. */
static void
upstream_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	upstream_connect();
}

/* The bye did not flush in time: give up on it. */
static void
upstream_bye_cb(evutil_socket_t fd, short events, void *arg)
{
	upstream_close("bye (not flushed)", 0);
}

/* Register our events and start connecting. */
void
upstream_start(void)
{
	up.dns = evdns_base_new(worker_base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS|
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (up.dns == NULL)
		up.dns = evdns_base_new(worker_base,
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	up.retry_ev = evtimer_new(worker_base, upstream_retry_cb, NULL);
	up.hb_ev = event_new(worker_base, -1, EV_PERSIST, upstream_hb_cb,
	    NULL);
	up.more_ev = event_new(worker_base, -1, 0, upstream_more_cb, NULL);
	up.bye_ev = evtimer_new(worker_base, upstream_bye_cb, NULL);
	up.ack_ev = evtimer_new(worker_base, upstream_ack_cb, NULL);
	up.stall_ev = evtimer_new(worker_base, upstream_stall_cb, NULL);
	up.failures = 0;
	up.hb_interval = 5;
	if (wconf.pin_from_token) {
		char	*cause = NULL;

		if (cred_pin_load(wconf.state_dir, up.stored_pin, &cause) < 0) {
			log_warn("event=pin_unreadable msg=\"%s\"", cause);
			free(cause);
		}
	}
	upstream_connect();
}

/* Remove our events and close the link. */
void
upstream_stop(void)
{
	if (up.bev != NULL) {
		bufferevent_free(up.bev);
		up.bev = NULL;
	}
	event_free(up.retry_ev);
	event_free(up.hb_ev);
	event_free(up.more_ev);
	event_free(up.bye_ev);
	event_free(up.ack_ev);
	event_free(up.stall_ev);
	if (up.dns != NULL)
		evdns_base_free(up.dns, 0);
	upstream_tls_stop();
	free(up.key);
	free(up.last_reject);
	free(up.raw_buf);
	up.key = up.last_reject = up.raw_buf = NULL;
}

/* 1 when acknowledged by the main node (approved or pending). */
int
upstream_is_registered(void)
{
	return (up.bev != NULL && (up.state == UP_PENDING ||
	    up.state == UP_APPROVED));
}

/* 1 when task output may be queued now. */
int
upstream_can_write(void)
{
	return (up.bev != NULL && up.state == UP_APPROVED &&
	    evbuffer_get_length(bufferevent_get_output(up.bev)) <
	    UP_OUT_HIGH);
}

/* Send one message (strings borrowed). */
int
upstream_send(struct msg *m)
{
	if (!upstream_is_registered())
		return (-1);
	if (m->type != MSG_HEARTBEAT && up.state != UP_APPROVED)
		return (-1);
	m->sender_id = wconf.id;
	m->message_id = worker_next_id();
	if (msg_write(bufferevent_get_output(up.bev), m) != 0) {
		log_error("event=encode_failed type=%s",
		    msg_type_name(m->type));
		return (-1);
	}
	return (0);
}

/* The output buffer, when a file frame may be queued now. */
struct evbuffer *
upstream_bulk_output(void)
{
	struct evbuffer	*out;

	if (up.bev == NULL || up.state != UP_APPROVED)
		return (NULL);
	out = bufferevent_get_output(up.bev);
	return (evbuffer_get_length(out) < UP_OUT_LOW ? out : NULL);
}

/* Send an encoded line. */
int
upstream_send_line(const char *line, size_t len)
{
	if (up.bev == NULL || up.state != UP_APPROVED)
		return (-1);
	return (evbuffer_add(bufferevent_get_output(up.bev), line, len));
}

/* Write the bytes queued for the socket now (under TLS: the records the
 * filter made of what was queued); a full socket leaves the rest to the
 * bufferevent. */
static void
upstream_push(void)
{
	struct bufferevent	*sock = up.bev;
	struct evbuffer		*out;

	if (up.tls)
		sock = bufferevent_get_underlying(up.bev);
	if (sock == NULL)
		return;
	out = bufferevent_get_output(sock);
	if (evbuffer_get_length(out) > 0)
		evbuffer_write(out, bufferevent_getfd(sock));
	/* The socket's bufferevent wrote nothing itself, so it will not
	 * tell the filter there is room: lines held back in the filter
	 * would wait for the next line queued. */
	if (up.tls && evbuffer_get_length(bufferevent_get_output(up.bev)) > 0)
		bufferevent_trigger(sock, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
}

/* Bytes not yet handed to the socket, TLS records included. */
static size_t
upstream_unsent(void)
{
	struct bufferevent	*sock;
	size_t			 n;

	if (up.bev == NULL)
		return (0);
	n = evbuffer_get_length(bufferevent_get_output(up.bev));
	if (up.tls && (sock = bufferevent_get_underlying(up.bev)) != NULL)
		n += evbuffer_get_length(bufferevent_get_output(sock));
	return (n);
}

/* Write what is queued now instead of on the loop's next pass: a
 * task_started or task_result the main node waits on goes out at once.
 * A full socket leaves the rest to the bufferevent, as usual. */
void
upstream_flush(void)
{
	if (up.bev == NULL || up.state != UP_APPROVED)
		return;
	upstream_push();
}

/* Say bye, then call done once flushed or after a short grace. */
void
upstream_bye(const char *reason, void (*done)(void))
{
	struct msg	m;
	struct timeval	tv = { UP_BYE_GRACE, 0 };

	evtimer_del(up.retry_ev);
	if (up.bev == NULL || up.state == UP_CONNECTING ||
	    up.state == UP_HANDSHAKE) {
		done();
		return;
	}
	msg_init(&m, MSG_BYE);
	m.sender_id = wconf.id;
	m.message_id = worker_next_id();
	m.u.reason = (char *)reason;
	up.bye_done = done;
	evtimer_add(up.bye_ev, &tv);
	if (msg_write(bufferevent_get_output(up.bev), &m) != 0) {
		upstream_close("bye", 0);
		return;
	}
	/* Under TLS nothing tells us when the socket has taken the
	 * records: hand them over now (a bye is small). */
	if (up.tls) {
		upstream_push();
		if (upstream_unsent() == 0)
			upstream_close("bye", 0);
	}
}
