/* SPDX-License-Identifier: ISC */
/*
 * tls-handshake.c -- `make bench`: the cost of the worker's TLS handshake
 * with a real main node.  Each round connects, runs the handshake with the
 * worker's own client session (worker-node/upstream-tls.c: its context,
 * and its check of the chain against the pin) and closes; the time from
 * connect() to a checked handshake is one sample.  Prints
 *
 *	bench: tls_handshake_ms_p50 X ms
 *	bench: tls_handshake_ms_p99 X ms
 *	bench: tls_handshake_cpu_ms X ms	(this process's CPU per round)
 *
 * Usage: encore-tls-handshake HOST:PORT TOKEN-FILE [ROUNDS]
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "protocol.h"
#include "../../worker-node/worker.h"

/* The worker's loop, which worker-node/hash.c names (its file jobs are
 * not used here). */
struct event_base	*worker_base;

/* Milliseconds from the monotonic clock. */
static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
}

/* CPU milliseconds this process used. */
static double
cpu_ms(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* A connected socket to host:port, or -1. */
static int
connect_to(const char *host, const char *port)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd = -1;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return (-1);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return (fd);
}

/* The handshake's end: checked (CONNECTED), or failed. */
static void
event_cb(struct bufferevent *bev, short events, void *arg)
{
	int	*ok = arg;
	char	 err[256];

	if (events & BEV_EVENT_CONNECTED)
		*ok = 1;
	else {
		if (upstream_tls_why(err, sizeof err) == NULL)
			snprintf(err, sizeof err, "connection closed");
		fprintf(stderr, "encore-tls-handshake: handshake failed: %s\n",
		    err);
		*ok = -1;
	}
	event_base_loopbreak(bufferevent_get_base(bev));
}

int
main(int argc, char **argv)
{
	char		*host, *port, *cause, buf[1024], pin[CRED_PIN_HEX + 1];
	const char	*secret;
	double		*ms, t0, c0;
	FILE		*f;
	struct event_base *base;
	struct bufferevent *sock, *tb;
	int		 rounds = 50, i, fd, ok;

	if (argc < 3) {
		fprintf(stderr, "usage: encore-tls-handshake HOST:PORT "
		    "TOKEN-FILE [ROUNDS]\n");
		return (2);
	}
	log_init("encore-tls-handshake", LOG_WARN);
	if (argc > 3)
		rounds = atoi(argv[3]);
	if (rounds < 1)
		rounds = 1;
	if (proto_parse_hostport(argv[1], "7070", &host, &port, &cause) != 0)
		fatalx("bad HOST:PORT: %s", cause);
	if ((f = fopen(argv[2], "r")) == NULL || fgets(buf, sizeof buf, f) ==
	    NULL)
		fatalx("cannot read %s", argv[2]);
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (cred_token_parse(buf, pin, &secret, &cause) != 1)
		fatalx("%s is not a pinned token", argv[2]);

	if ((base = worker_base = event_base_new()) == NULL)
		fatalx("cannot make an event base");
	ms = xcalloc((size_t)rounds, sizeof *ms);
	c0 = cpu_ms();
	for (i = 0; i < rounds; i++) {
		t0 = now_ms();
		if ((fd = connect_to(host, port)) == -1)
			fatalx("cannot connect to %s:%s", host, port);
		evutil_make_socket_nonblocking(fd);
		sock = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (sock == NULL)
			fatalx("cannot make a bufferevent");
		if ((tb = upstream_tls_wrap(sock, pin, &cause)) == NULL)
			fatalx("%s", cause);
		ok = 0;
		bufferevent_setcb(tb, NULL, NULL, event_cb, &ok);
		bufferevent_enable(tb, EV_READ|EV_WRITE);
		event_base_dispatch(base);
		if (ok != 1 || upstream_tls_result()->result != UPSTREAM_TLS_OK)
			fatalx("handshake %d failed", i);
		ms[i] = now_ms() - t0;
		bufferevent_free(tb);
	}
	printf("bench: tls_handshake_cpu_ms %.2f ms\n",
	    (cpu_ms() - c0) / rounds);
	qsort(ms, (size_t)rounds, sizeof *ms, cmp_double);
	printf("bench: tls_handshake_ms_p50 %.2f ms\n", ms[rounds / 2]);
	printf("bench: tls_handshake_ms_p99 %.2f ms\n",
	    ms[(rounds * 99) / 100 < rounds ? (rounds * 99) / 100 :
	    rounds - 1]);
	free(ms);
	free(host);
	free(port);
	upstream_tls_stop();
	event_base_free(base);
	return (0);
}
