/* SPDX-License-Identifier: ISC */
/*
 * encore-swarm.c -- many simulated workers (and one operator) against a
 * real encore-main, over real TCP on loopback, to measure the main node
 * from the outside.
 *
 * Each simulated device registers with the join token and a plausible
 * profile, heartbeats, takes task_assign, "runs" each task for a set time,
 * then sends task_started, a little task_output and task_result, and
 * waits for result_ack, exactly as encore-worker does.  The operator
 * (optional) authenticates, submits M tasks and times each from submit to
 * task_started and to result_ack.  A failover mode makes the device that
 * runs a task vanish (connection dropped, or gone silent) and times how
 * long the main node takes to give the task to another device.
 *
 * Everything is bounded: a hard --duration, loopback only.  The summary is
 * printed as "bench: NAME VALUE UNIT" lines; progress goes to stderr.
 */
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "protocol.h"

#define SWARM_TICK_MS		10	/* ramp, pacing and phase timer */
#define SWARM_HB_BACKLOG	(64 * 1024) /* skip a heartbeat past this */
#define SWARM_HB_REBUILD	5.0	/* s between heartbeat line rebuilds */
#define SWARM_DURATION_MAX	600	/* s, hard cap on --duration */
#define SWARM_INGEST_SETTLE	3.0	/* s after the ramp before measuring */
#define SWARM_ERRORS_SHOWN	5	/* error messages echoed to stderr */

enum dev_state {
	SD_IDLE,		/* not yet connecting */
	SD_CONNECTING,		/* TCP connect in progress */
	SD_REGISTERING,		/* register sent, no ack yet */
	SD_ONLINE,		/* acknowledged */
	SD_GONE,		/* closed (by us or by the main node) */
};

enum failover_mode {
	FO_NONE,
	FO_DROP,		/* close the connection, never come back */
	FO_SILENT,		/* keep the connection, stop talking */
};

struct sim_dev;

/* A task a simulated device is running.  Owned by its device's list. */
struct sim_task {
	struct sim_dev		*dev;		/* borrowed back-pointer */
	char			*task_id;	/* owned */
	int			 attempt;
	int64_t			 seq;		/* our submit number, -1 */
	struct event		*run_ev;	/* owned, NULL for 0 ms */
	int			 reported;	/* task_result sent */
	TAILQ_ENTRY(sim_task)	 entry;
};
TAILQ_HEAD(sim_task_list, sim_task);

/* One simulated device.  bev and hb_ev are owned; hb_line is owned. */
struct sim_dev {
	struct swarm		*sw;
	int			 idx;
	char			 id[48];
	enum dev_state		 state;
	struct bufferevent	*bev;
	struct event		*hb_ev;
	struct sim_task_list	 tasks;
	int			 running;
	uint64_t		 msg_seq;
	char			*hb_line;
	size_t			 hb_len;
	double			 hb_built;
	int			 hb_dirty;
	int			 hb_n;		/* heartbeat lines in hb_line */
	double			 last_sent;	/* mono time of our last line */
	int			 silent;	/* failover: stopped talking */
};

/* What we know about one submitted task (index = seq). */
struct task_rec {
	double		 submit_t;	/* mono, 0 = not sent */
	double		 start_t;	/* first task_assign seen */
	double		 done_t;	/* result_ack received */
	int		 assigns;
	int		 acks;
	int		 replied;	/* submit reply */
	char		*task_id;	/* from the reply or the assign */
};

/* A one-shot text command (status, metrics); the reply is collected. */
struct text_query {
	struct swarm		*sw;
	struct bufferevent	*bev;
	struct evbuffer		*buf;
	void			(*cb)(struct swarm *, const char *);
};

/* Options. */
struct swarm_opt {
	char		*host;
	char		*port;
	char		*token;
	char		*op_token;
	char		*prefix;
	int		 n;
	int		 hb_ms;		/* 0 = the interval the main node sends */
	int		 hb_batch;	/* heartbeat lines per write (steady) */
	int		 slots;
	int		 task_ms;
	int		 ramp;		/* connects per second */
	int		 inflight;	/* connects/registers at once */
	double		 duration;	/* hard cap, s */
	double		 hold;		/* steady phase without tasks, s */
	int64_t		 tasks;
	double		 rate;		/* submits per s, 0 = window only */
	int		 window;	/* submits without reply */
	char		*command;	/* argv[0] of submitted tasks */
	int		 done_by_status; /* count completions via `status` */
	int		 watch_starts;	/* starts from `tasks` events */
	int		 array;		/* the M tasks are one array */
	int		 measure_ingest;
	enum failover_mode failover;
	int		 fo_rounds;
	int		 fo_after_ms;
	unsigned	 seed;
};

/* The whole simulation. */
struct swarm {
	struct event_base	*base;
	struct swarm_opt	 o;
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
	struct sim_dev		*devs;
	struct event		*tick_ev;
	struct event		*deadline_ev;
	double			 t0;
	int			 hb_interval;	/* s, from register_ack */
	uint64_t		 rng;

	/* ramp */
	int			 next_dev;
	int			 connecting;
	int			 online;
	int			 failed;
	double			 ramp_done_t;
	int			 steady;
	int			 finishing;
	int			 exit_code;

	/* heartbeats */
	uint64_t		 hb_sent;
	uint64_t		 hb_skipped;
	uint64_t		 hb_sent_w0;
	uint64_t		 bytes_out;	/* written on device links */
	uint64_t		 lines_out;
	double			 ingest_t1, ingest_t2;
	int64_t			 ingest_c1, ingest_c2;	/* bytes consumed */
	uint64_t		 ingest_b1, ingest_b2;	/* bytes written */
	uint64_t		 ingest_l1, ingest_l2;	/* lines written */
	int			 devices_online_main;

	/* operator */
	struct bufferevent	*op;
	int			 op_authed;
	uint64_t		 op_msgid;
	int64_t			 submitted;
	int64_t			 replies;
	int64_t			 rejected;
	int			 outstanding;
	double			 submit_t0;
	struct task_rec		*recs;
	int64_t			 done;
	double			 last_done_t;
	int64_t			 status_done;	/* --done-by-status */
	int			 status_pending;
	double			 status_last_t;

	/* failover */
	char			*fo_task;	/* task id being moved */
	int			 fo_attempt;
	double			 fo_lost_t;	/* 0 = nothing lost now */
	struct sim_dev		*fo_victim;
	struct event		*fo_ev;
	double			*fo_times;
	int			 fo_done;

	/* correctness counters */
	uint64_t		 errors;
	uint64_t		 dup_assigns;
	uint64_t		 dup_acks;
	uint64_t		 over_slots;
	uint64_t		 unexpected_close;
	uint64_t		 cancels;
	uint64_t		 stale_acks;
};

static void	dev_start(struct swarm *, struct sim_dev *);
static void	dev_close(struct sim_dev *, int expected);
static void	swarm_finish(struct swarm *, const char *why);
static void	text_query_start(struct swarm *, const char *,
		    void (*)(struct swarm *, const char *));

/* Monotonic seconds. */
static double
mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

/* xorshift64*: a small reproducible generator. */
static uint64_t
rnd(struct swarm *sw)
{
	sw->rng ^= sw->rng >> 12;
	sw->rng ^= sw->rng << 25;
	sw->rng ^= sw->rng >> 27;
	return (sw->rng * 2685821657736338717ULL);
}

/* A uniform double in [0, 1). */
static double
rnd01(struct swarm *sw)
{
	return ((double)(rnd(sw) >> 11) / 9007199254740992.0);
}

/* A timeval from seconds. */
static struct timeval
tv_from(double s)
{
	struct timeval	tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return (tv);
}

/* Read the first word of a token file. */
static char *
read_token(const char *path)
{
	FILE	*f;
	char	 buf[PROTO_TOKEN_MAX + 2];

	if ((f = fopen(path, "r")) == NULL)
		fatal("cannot read %s", path);
	if (fgets(buf, sizeof buf, f) == NULL)
		fatalx("%s is empty", path);
	fclose(f);
	buf[strcspn(buf, " \t\r\n")] = '\0';
	if (*buf == '\0')
		fatalx("%s is empty", path);
	return (xstrdup(buf));
}

/* Resolve --main, refusing anything but loopback. */
static void
swarm_resolve(struct swarm *sw)
{
	struct addrinfo	 hints, *res;
	int		 rc, local = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(sw->o.host, sw->o.port, &hints, &res)) != 0)
		fatalx("--main %s:%s: %s", sw->o.host, sw->o.port,
		    gai_strerror(rc));
	if (res->ai_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)res->ai_addr;

		local = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if (res->ai_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)res->ai_addr;

		local = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	}
	if (!local)
		fatalx("--main %s is not a loopback address; the swarm only "
		    "talks to a main node on this machine", sw->o.host);
	memcpy(&sw->sa, res->ai_addr, res->ai_addrlen);
	sw->salen = res->ai_addrlen;
	freeaddrinfo(res);
}

/* Raise the descriptor limit as far as the hard limit allows. */
static void
swarm_raise_nofile(int need)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)need > rl.rlim_cur)
		log_warn("swarm: %d devices need %d descriptors but the limit "
		    "is %llu; raise it with ulimit -n", need - 64, need,
		    (unsigned long long)rl.rlim_cur);
}

/*
 * Write bytes on a device's connection: straight to the socket when
 * nothing is queued (a bufferevent write costs two extra epoll_ctl calls
 * per line, which caps the swarm far below 100,000 lines/s), the rest
 * through the bufferevent, which keeps the order.
 */
static void
dev_write(struct sim_dev *d, const char *p, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(d->bev);
	ssize_t		 n = 0;
	const char	*q = p, *end = p + len;

	d->sw->bytes_out += len;
	while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		d->sw->lines_out++;
		q++;
	}

	if (evbuffer_get_length(out) == 0 && d->state >= SD_REGISTERING) {
		n = send(bufferevent_getfd(d->bev), p, len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			n = 0;	/* EAGAIN, or an error the bufferevent sees */
	}
	if ((size_t)n < len)
		bufferevent_write(d->bev, p + n, len - (size_t)n);
}

/* Write one message on a device's connection. */
static void
dev_send(struct sim_dev *d, struct msg *m)
{
	char	 mid[32], *line;
	size_t	 len;

	if (d->bev == NULL || d->silent)
		return;
	snprintf(mid, sizeof mid, "%llu", (unsigned long long)++d->msg_seq);
	m->sender_id = d->id;
	m->message_id = mid;
	if ((line = msg_encode(m, &len)) == NULL)
		log_warn("swarm: cannot encode %s", msg_type_name(m->type));
	else
		dev_write(d, line, len);
	free(line);
	m->sender_id = NULL;
	m->message_id = NULL;
	d->last_sent = mono();
}

/* The register message: a plausible, slightly varied profile. */
static void
dev_register(struct sim_dev *d)
{
	static const char *archs[] = { "x86_64", "aarch64", "armv7l" };
	static const char *cpus[] = { "Intel(R) Core(TM) i5-3320M",
	    "Cortex-A72", "Cortex-A53" };
	static const char *ifaces[] = { "eth0", "wlan0" };
	static const char *caps[] = { "command" };
	struct swarm	*sw = d->sw;
	struct msg	 m;
	struct proto_kv	 label;
	int		 k = d->idx % 3;

	msg_init(&m, MSG_REGISTER);
	m.protocol_version = PROTO_VERSION;
	m.u.reg.token = sw->o.token;
	m.u.reg.info.hostname = d->id;
	m.u.reg.info.platform = (char *)"linux";
	m.u.reg.info.architecture = (char *)archs[k];
	m.u.reg.info.os = (char *)"Debian GNU/Linux 12 (bookworm)";
	m.u.reg.info.kernel = (char *)"6.1.0-swarm";
	m.u.reg.info.role = (char *)"worker";
	m.u.reg.hw.cpu_cores = 4;
	m.u.reg.hw.cpu_model = (char *)cpus[k];
	m.u.reg.hw.model = (char *)"encore-swarm simulated device";
	m.u.reg.hw.cpu_mhz = 1200 + 100 * (d->idx % 13);
	m.u.reg.hw.memory_total = (int64_t)(2 + d->idx % 7) << 30;
	m.u.reg.hw.disk_space = (int64_t)32 << 30;
	m.u.reg.hw.disk_free = (int64_t)(8 + d->idx % 20) << 30;
	m.u.reg.hw.network_interfaces = (char **)ifaces;
	m.u.reg.hw.n_ifaces = 2;
	m.u.reg.capabilities = (char **)caps;
	m.u.reg.n_capabilities = 1;
	label.key = (char *)"swarm";
	label.value = sw->o.prefix;
	m.u.reg.labels = &label;
	m.u.reg.n_labels = 1;
	m.u.reg.slots = sw->o.slots;
	dev_send(d, &m);
	/* Every pointer above is borrowed: nothing to free. */
}

/* Rebuild the cached heartbeat line (metrics, active tasks). */
static void
dev_hb_build(struct sim_dev *d, double now)
{
	struct swarm		*sw = d->sw;
	struct msg		 m;
	struct proto_task_ref	*refs = NULL;
	struct sim_task		*t;
	char			 mid[32];
	size_t			 n = 0;

	if (d->running > 0)
		refs = xcalloc((size_t)d->running, sizeof *refs);
	TAILQ_FOREACH(t, &d->tasks, entry) {
		if (n < (size_t)d->running && !t->reported) {
			refs[n].task_id = t->task_id;
			refs[n].attempt = t->attempt;
			n++;
		}
	}
	msg_init(&m, MSG_HEARTBEAT);
	m.u.hb.metrics.cpu_usage = 5 + 60 * rnd01(sw);
	m.u.hb.metrics.memory_usage = 20 + 50 * rnd01(sw);
	m.u.hb.metrics.disk_usage = 40 + (d->idx % 30);
	m.u.hb.metrics.load_average[0] = 2 * rnd01(sw);
	m.u.hb.metrics.load_average[1] = 1.5 * rnd01(sw);
	m.u.hb.metrics.load_average[2] = rnd01(sw);
	m.u.hb.metrics.uptime = now - sw->t0 + 3600;
	m.u.hb.metrics.temperature = 40 + 20 * rnd01(sw);
	m.u.hb.metrics.battery_percent = -1;
	m.u.hb.metrics.net_rx = (int64_t)(rnd(sw) % 100000);
	m.u.hb.metrics.net_tx = (int64_t)(rnd(sw) % 50000);
	m.u.hb.active = refs;
	m.u.hb.n_active = n;
	m.u.hb.accepting = 1;
	snprintf(mid, sizeof mid, "%llu", (unsigned long long)++d->msg_seq);
	m.sender_id = d->id;
	m.message_id = mid;
	free(d->hb_line);
	d->hb_line = msg_encode(&m, &d->hb_len);
	free(refs);
	d->hb_n = 1;
	if (d->hb_line != NULL && sw->o.hb_batch > 1 && sw->steady) {
		/* --heartbeat-batch: K lines per write, K x the period. */
		char	*batch = xmalloc(d->hb_len * (size_t)sw->o.hb_batch);
		int	 i;

		d->hb_n = sw->o.hb_batch;
		for (i = 0; i < sw->o.hb_batch; i++)
			memcpy(batch + (size_t)i * d->hb_len, d->hb_line,
			    d->hb_len);
		free(d->hb_line);
		d->hb_line = batch;
		d->hb_len *= (size_t)sw->o.hb_batch;
	}
	d->hb_built = now;
	d->hb_dirty = 0;
}

/* The heartbeat period: the main node's interval while ramping up,
 * --heartbeat-ms once every device is in (so a fast rate measures
 * ingest, not a connect storm). */
static int
dev_hb_ms(struct swarm *sw)
{
	if (sw->o.hb_ms > 0 && sw->steady)
		return (sw->o.hb_ms * (sw->o.hb_batch > 1 ? sw->o.hb_batch :
		    1));
	return (1000 * sw->hb_interval);
}

/* Time for a heartbeat. */
static void
dev_hb_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sim_dev	*d = arg;
	struct swarm	*sw = d->sw;
	double		 now = mono();
	struct timeval	 tv;
	int		 ms = dev_hb_ms(sw);

	if (d->state != SD_ONLINE || d->silent || sw->finishing)
		return;		/* finishing: let the main node drain */
	if (evbuffer_get_length(bufferevent_get_output(d->bev)) >
	    SWARM_HB_BACKLOG)
		sw->hb_skipped++;	/* the main node is not reading */
	else {
		if (d->hb_line == NULL || d->hb_dirty ||
		    (sw->steady && d->hb_n != sw->o.hb_batch) ||
		    now - d->hb_built > SWARM_HB_REBUILD)
			dev_hb_build(d, now);
		if (d->hb_line != NULL) {
			dev_write(d, d->hb_line, d->hb_len);
			d->last_sent = now;
			sw->hb_sent += (uint64_t)d->hb_n;
		}
	}
	tv = tv_from(ms / 1000.0);
	evtimer_add(d->hb_ev, &tv);
}

/* Parse our own submit number out of a task name "PREFIX-t-SEQ". */
static int64_t
task_seq(struct swarm *sw, const char *name)
{
	size_t	n = strlen(sw->o.prefix);
	char	*end;
	long long v;

	if (name == NULL || strncmp(name, sw->o.prefix, n) != 0 ||
	    strncmp(name + n, "-t-", 3) != 0)
		return (-1);
	v = strtoll(name + n + 3, &end, 10);
	if (*end != '\0' || v < 0 || v >= sw->o.tasks)
		return (-1);
	return (v);
}

static void	bench(const char *, double, const char *);

/* With --array: our submit number is the element's index ("A.I"). */
static int64_t
array_seq(struct swarm *sw, const char *task_id)
{
	const char	*dot = strchr(task_id, '.');
	char		*end;
	long long	 v;

	if (dot == NULL)
		return (-1);
	v = strtoll(dot + 1, &end, 10);
	if (*end != '\0' || v < 0 || v >= sw->o.tasks)
		return (-1);
	return (v);
}

/* Report a task: a line of output, then the result. */
static void
dev_task_report(struct sim_task *t, enum proto_task_status status)
{
	struct sim_dev	*d = t->dev;
	struct msg	 m;
	char		 text[96];

	if (t->reported)
		return;
	t->reported = 1;
	d->hb_dirty = 1;
	if (status == TASK_COMPLETED) {
		msg_init(&m, MSG_TASK_OUTPUT);
		m.u.output.task_id = t->task_id;
		m.u.output.attempt = t->attempt;
		m.u.output.stream = (char *)"stdout";
		m.u.output.seq = 0;
		snprintf(text, sizeof text, "hello from %s\n", d->id);
		m.u.output.data = text;
		m.u.output.data_len = strlen(text);
		dev_send(d, &m);
	}
	msg_init(&m, MSG_TASK_RESULT);
	m.u.result.task_id = t->task_id;
	m.u.result.attempt = t->attempt;
	m.u.result.status = status;
	m.u.result.exit_code = status == TASK_COMPLETED ? 0 : 143;
	m.u.result.execution_time = d->sw->o.task_ms / 1000.0;
	m.u.result.cpu_time = d->sw->o.task_ms / 2000.0;
	m.u.result.memory_peak = 4 << 20;
	dev_send(d, &m);
}

/* A running task's time is up. */
static void
dev_task_done_cb(evutil_socket_t fd, short events, void *arg)
{
	dev_task_report(arg, TASK_COMPLETED);
}

/* Forget a task (after its result_ack, or when the device goes). */
static void
dev_task_free(struct sim_task *t)
{
	struct sim_dev	*d = t->dev;

	TAILQ_REMOVE(&d->tasks, t, entry);
	d->running--;
	d->hb_dirty = 1;
	if (t->run_ev != NULL)
		event_free(t->run_ev);
	free(t->task_id);
	free(t);
}

/* Find a device's task by (id, attempt). */
static struct sim_task *
dev_task_find(struct sim_dev *d, const char *id, int attempt)
{
	struct sim_task	*t;

	TAILQ_FOREACH(t, &d->tasks, entry) {
		if (strcmp(t->task_id, id) == 0 && t->attempt == attempt)
			return (t);
	}
	return (NULL);
}

/* Make a device vanish for the failover measurement. */
static void
fo_lose_cb(evutil_socket_t fd, short events, void *arg)
{
	struct swarm	*sw = arg;
	struct sim_dev	*d = sw->fo_victim;

	if (d == NULL || d->state != SD_ONLINE)
		return;
	if (sw->o.failover == FO_DROP) {
		sw->fo_lost_t = mono();
		log_info("swarm: failover round %d: dropping %s", sw->fo_done +
		    1, d->id);
		dev_close(d, 1);
	} else {
		/* Silence starts at the last line the main node got. */
		sw->fo_lost_t = d->last_sent;
		d->silent = 1;
		log_info("swarm: failover round %d: %s goes silent",
		    sw->fo_done + 1, d->id);
	}
	sw->fo_victim = NULL;
}

/* A task_assign reached a device: the failover clock may stop here. */
static void
fo_assigned(struct swarm *sw, struct sim_dev *d, const char *task_id,
    int attempt)
{
	struct timeval	tv;

	if (sw->fo_task == NULL) {
		sw->fo_task = xstrdup(task_id);
	} else if (strcmp(sw->fo_task, task_id) != 0)
		return;
	if (sw->fo_lost_t > 0) {
		sw->fo_times[sw->fo_done++] = mono() - sw->fo_lost_t;
		log_info("swarm: failover round %d: task %s attempt %d on %s "
		    "after %.3f s", sw->fo_done, task_id, attempt, d->id,
		    sw->fo_times[sw->fo_done - 1]);
		sw->fo_lost_t = 0;
		if (sw->fo_done >= sw->o.fo_rounds) {
			swarm_finish(sw, "failover rounds done");
			return;
		}
	}
	sw->fo_attempt = attempt;
	sw->fo_victim = d;
	tv = tv_from(sw->o.fo_after_ms / 1000.0);
	evtimer_add(sw->fo_ev, &tv);
}

/* task_assign: start the task (task_started at once). */
static void
dev_task_assign(struct sim_dev *d, struct msg *m)
{
	struct swarm	*sw = d->sw;
	struct sim_task	*t;
	struct msg	 sm;
	struct timeval	 tv;
	int64_t		 seq = sw->o.array ? array_seq(sw, m->u.task.task_id) :
			    task_seq(sw, m->u.task.name);
	double		 now = mono();

	if (dev_task_find(d, m->u.task.task_id, m->u.task.attempt) != NULL) {
		sw->dup_assigns++;
		return;
	}
	if (d->running >= sw->o.slots)
		sw->over_slots++;
	t = xcalloc(1, sizeof *t);
	t->dev = d;
	t->task_id = xstrdup(m->u.task.task_id);
	t->attempt = m->u.task.attempt;
	t->seq = seq;
	TAILQ_INSERT_TAIL(&d->tasks, t, entry);
	d->running++;
	d->hb_dirty = 1;
	if (seq >= 0) {
		struct task_rec *r = &sw->recs[seq];

		if (r->assigns++ == 0)
			r->start_t = now;
		else if (sw->o.failover == FO_NONE)
			sw->dup_assigns++;	/* re-run without a loss */
	}

	msg_init(&sm, MSG_TASK_STARTED);
	sm.u.ref.task_id = t->task_id;
	sm.u.ref.attempt = t->attempt;
	dev_send(d, &sm);

	if (sw->o.failover != FO_NONE) {
		fo_assigned(sw, d, t->task_id, t->attempt);
		return;		/* failover tasks run until the end */
	}
	if (sw->o.task_ms <= 0) {
		dev_task_report(t, TASK_COMPLETED);
		return;
	}
	t->run_ev = evtimer_new(sw->base, dev_task_done_cb, t);
	tv = tv_from(sw->o.task_ms / 1000.0);
	evtimer_add(t->run_ev, &tv);
}

/* result_ack: the result is stored. */
static void
dev_result_ack(struct sim_dev *d, struct msg *m)
{
	struct swarm	*sw = d->sw;
	struct sim_task	*t;
	struct task_rec	*r;

	t = dev_task_find(d, m->u.ref.task_id, m->u.ref.attempt);
	if (t == NULL || !t->reported) {
		sw->stale_acks++;
		return;
	}
	if (t->seq >= 0) {
		r = &sw->recs[t->seq];
		if (r->acks++ == 0) {
			r->done_t = mono();
			sw->done++;
			sw->last_done_t = r->done_t;
		} else
			sw->dup_acks++;
	}
	dev_task_free(t);
	if (!sw->o.done_by_status && sw->o.tasks > 0 &&
	    sw->done >= sw->o.tasks)
		swarm_finish(sw, "all tasks done");
}

/* task_cancel: stop it and report cancelled. */
static void
dev_task_cancel(struct sim_dev *d, struct msg *m)
{
	struct sim_task	*t;

	d->sw->cancels++;
	t = dev_task_find(d, m->u.ref.task_id, m->u.ref.attempt);
	if (t == NULL)
		return;
	if (t->run_ev != NULL)
		evtimer_del(t->run_ev);
	dev_task_report(t, TASK_CANCELLED);
}

/* Count and show an error message from the main node. */
static void
swarm_error(struct swarm *sw, const char *who, struct msg *m)
{
	if (sw->errors++ < SWARM_ERRORS_SHOWN)
		log_warn("swarm: %s got error %s: %s", who,
		    proto_code_name(m->u.error.code),
		    m->u.error.message != NULL ? m->u.error.message : "");
}

/* One message from the main node to a device. */
static void
dev_handle(struct sim_dev *d, struct msg *m)
{
	struct swarm	*sw = d->sw;
	struct timeval	 tv;
	int		 ms;

	switch (m->type) {
	case MSG_REGISTER_ACK:
		if (d->state != SD_REGISTERING)
			break;
		d->state = SD_ONLINE;
		sw->connecting--;
		sw->online++;
		sw->hb_interval = m->u.ack.heartbeat_interval;
		if (strcmp(m->u.ack.state, "approved") != 0)
			log_warn("swarm: %s is %s: run encore-main with "
			    "--approve auto", d->id, m->u.ack.state);
		/* The first heartbeat at a random point of the interval. */
		ms = dev_hb_ms(sw);
		tv = tv_from(ms * rnd01(sw) / 1000.0);
		evtimer_add(d->hb_ev, &tv);
		break;
	case MSG_TASK_ASSIGN:
		dev_task_assign(d, m);
		break;
	case MSG_RESULT_ACK:
		dev_result_ack(d, m);
		break;
	case MSG_TASK_CANCEL:
		dev_task_cancel(d, m);
		break;
	case MSG_ERROR:
		swarm_error(sw, d->id, m);
		break;
	case MSG_BYE:
		dev_close(d, sw->finishing);
		break;
	default:
		break;
	}
}

/* Read lines from the main node on a device connection. */
static void
dev_read_cb(struct bufferevent *bev, void *arg)
{
	struct sim_dev		*d = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct proto_err	 err;
	struct msg		 m;
	char			*line;
	size_t			 len;

	if (d->silent) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (d->state != SD_GONE &&
	    frame_read_line(in, PROTO_LINE_MAX, &line, &len) == FRAME_OK) {
		if (msg_decode(line, len, &m, &err) != 0) {
			log_warn("swarm: %s: bad line from main: %s", d->id,
			    err.message);
			d->sw->errors++;
		} else {
			dev_handle(d, &m);
			msg_free(&m);
		}
		free(line);
	}
}

/* Connected, closed or failed. */
static void
dev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sim_dev	*d = arg;
	struct swarm	*sw = d->sw;
	int		 fd, one = 1;

	if (what & BEV_EVENT_CONNECTED) {
		fd = bufferevent_getfd(bev);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		d->state = SD_REGISTERING;
		dev_register(d);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (!sw->finishing && !d->silent && d != sw->fo_victim &&
		    sw->unexpected_close < SWARM_ERRORS_SHOWN)
			log_warn("swarm: %s: connection %s (%s)", d->id,
			    (what & BEV_EVENT_EOF) ? "closed by main" :
			    "failed", strerror(EVUTIL_SOCKET_ERROR()));
		dev_close(d, sw->finishing || d->silent);
	}
}

/* Close a device for good. */
static void
dev_close(struct sim_dev *d, int expected)
{
	struct swarm	*sw = d->sw;
	struct sim_task	*t;

	if (d->state == SD_GONE || d->state == SD_IDLE)
		return;
	if (d->state == SD_ONLINE)
		sw->online--;
	else {
		sw->connecting--;
		sw->failed++;
	}
	if (!expected)
		sw->unexpected_close++;
	d->state = SD_GONE;
	while ((t = TAILQ_FIRST(&d->tasks)) != NULL)
		dev_task_free(t);
	if (d->hb_ev != NULL)
		evtimer_del(d->hb_ev);
	if (d->bev != NULL)
		bufferevent_free(d->bev);
	d->bev = NULL;
	free(d->hb_line);
	d->hb_line = NULL;
}

/* Start connecting one device. */
static void
dev_start(struct swarm *sw, struct sim_dev *d)
{
	d->bev = bufferevent_socket_new(sw->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (d->bev == NULL)
		fatalx("cannot create a bufferevent");
	bufferevent_setcb(d->bev, dev_read_cb, NULL, dev_event_cb, d);
	bufferevent_enable(d->bev, EV_READ | EV_WRITE);
	d->state = SD_CONNECTING;
	sw->connecting++;
	if (bufferevent_socket_connect(d->bev, (struct sockaddr *)&sw->sa,
	    (int)sw->salen) != 0) {
		log_warn("swarm: %s: connect failed: %s", d->id,
		    strerror(errno));
		dev_close(d, 0);
	}
}

/* ---- operator ---- */

/* Write one operator request. */
static void
op_send(struct swarm *sw, struct msg *m)
{
	char	mid[32];

	snprintf(mid, sizeof mid, "%llu", (unsigned long long)++sw->op_msgid);
	m->sender_id = (char *)"encore-swarm";
	m->message_id = mid;
	if (msg_write(bufferevent_get_output(sw->op), m) != 0)
		log_warn("swarm: cannot encode %s", msg_type_name(m->type));
	m->sender_id = NULL;
	m->message_id = NULL;
}

/* Submit the next task. */
static void
op_submit(struct swarm *sw)
{
	struct msg	 m;
	char		 name[96];
	char		*argv[2];
	int64_t		 seq = sw->submitted, i;

	snprintf(name, sizeof name, "%s-t-%lld", sw->o.prefix,
	    (long long)seq);
	argv[0] = sw->o.command;
	argv[1] = NULL;
	msg_init(&m, MSG_SUBMIT);
	m.u.task.name = name;
	m.u.task.type = TASK_TYPE_COMMAND;
	m.u.task.argv = argv;
	m.u.task.argc = 1;
	if (sw->submitted == 0)
		sw->submit_t0 = mono();
	if (sw->o.array) {
		/* One submit stands for all M: elements 0..M-1. */
		m.u.task.array_start = 0;
		m.u.task.array_end = sw->o.tasks - 1;
		m.u.task.array_step = 1;
		for (i = 0; i < sw->o.tasks; i++)
			sw->recs[i].submit_t = sw->submit_t0;
		op_send(sw, &m);
		sw->submitted = sw->o.tasks;
		sw->outstanding++;
		return;
	}
	sw->recs[seq].submit_t = mono();
	op_send(sw, &m);
	sw->submitted++;
	sw->outstanding++;
}

/* Submit as many as the window and the rate allow. */
static void
op_pump(struct swarm *sw)
{
	double	now = mono(), allowed;

	if (sw->op == NULL || !sw->op_authed || !sw->steady ||
	    sw->finishing)
		return;
	while (sw->submitted < sw->o.tasks &&
	    sw->outstanding < sw->o.window) {
		if (sw->o.rate > 0 && sw->submitted > 0) {
			allowed = (now - sw->submit_t0) * sw->o.rate + 1;
			if ((double)sw->submitted >= allowed)
				break;
		}
		op_submit(sw);
	}
}

/* --watch-starts: follow task state changes. */
static void
op_subscribe(struct swarm *sw)
{
	static const char line[] = "{\"message_type\":\"subscribe\","
	    "\"message_id\":\"sub\",\"data\":{\"topics\":[\"tasks\"]}}\n";

	bufferevent_write(sw->op, line, sizeof line - 1);
}

/* A `tasks` event: the first time one of ours is seen running (or past
 * it), it has started. */
static void
op_event(struct swarm *sw, struct msg *m)
{
	struct json_object	*task, *name, *state;
	const char		*st;
	int64_t			 seq;

	if (m->u.json == NULL ||
	    !json_object_object_get_ex(m->u.json, "task", &task) ||
	    !json_object_object_get_ex(task, "name", &name) ||
	    !json_object_object_get_ex(task, "state", &state))
		return;
	st = json_object_get_string(state);
	if (st == NULL || strcmp(st, "queued") == 0 ||
	    strcmp(st, "assigned") == 0 || strcmp(st, "waiting") == 0 ||
	    strcmp(st, "held") == 0)
		return;
	seq = task_seq(sw, json_object_get_string(name));
	if (seq >= 0 && sw->recs[seq].start_t == 0)
		sw->recs[seq].start_t = mono();
}

/* A reply to an operator request. */
static void
op_reply(struct swarm *sw, struct msg *m)
{
	struct json_object	*ok, *id, *e, *msgo;
	long long		 mid;

	if (m->u.json == NULL ||
	    !json_object_object_get_ex(m->u.json, "ok", &ok)) {
		sw->errors++;
		return;
	}
	if (m->reply_to != NULL && strcmp(m->reply_to, "sub") == 0)
		return;		/* --watch-starts: subscribed */
	mid = m->reply_to != NULL ? atoll(m->reply_to) : 0;
	if (mid == 1) {
		if (!json_object_get_boolean(ok))
			fatalx("operator auth refused: check "
			    "--operator-token-file");
		sw->op_authed = 1;
		if (sw->o.watch_starts)
			op_subscribe(sw);
		op_pump(sw);
		return;
	}
	/* Submits are message ids 2..M+1 (seq = id - 2). */
	sw->replies++;
	sw->outstanding--;
	if (!json_object_get_boolean(ok)) {
		sw->rejected++;
		if (json_object_object_get_ex(m->u.json, "error", &e) &&
		    json_object_object_get_ex(e, "message", &msgo) &&
		    sw->rejected <= SWARM_ERRORS_SHOWN)
			log_warn("swarm: submit refused: %s",
			    json_object_get_string(msgo));
	} else if (sw->o.array) {
		bench("array_submit_ms", (mono() - sw->submit_t0) * 1e3, "ms");
	} else if (mid >= 2 && mid - 2 < sw->o.tasks &&
	    json_object_object_get_ex(m->u.json, "task_id", &id)) {
		struct task_rec *r = &sw->recs[mid - 2];

		r->replied = 1;
		if (r->task_id == NULL)
			r->task_id = xstrdup(json_object_get_string(id));
	}
	if (sw->o.n == 0 && !sw->o.done_by_status &&
	    (sw->replies >= sw->o.tasks || sw->o.array))
		swarm_finish(sw, "all tasks queued");
	else
		op_pump(sw);
}

/* Lines on the operator connection. */
static void
op_read_cb(struct bufferevent *bev, void *arg)
{
	struct swarm		*sw = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct proto_err	 err;
	struct msg		 m;
	char			*line;
	size_t			 len;

	while (sw->op != NULL &&
	    frame_read_line(in, PROTO_LINE_MAX, &line, &len) == FRAME_OK) {
		if (msg_decode(line, len, &m, &err) != 0) {
			log_warn("swarm: operator: bad line: %s", err.message);
			sw->errors++;
		} else {
			if (m.type == MSG_REPLY)
				op_reply(sw, &m);
			else if (m.type == MSG_EVENT)
				op_event(sw, &m);
			else if (m.type == MSG_ERROR)
				swarm_error(sw, "operator", &m);
			msg_free(&m);
		}
		free(line);
	}
}

/* Operator connection events. */
static void
op_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct swarm	*sw = arg;
	struct msg	 m;
	int		 one = 1;

	if (what & BEV_EVENT_CONNECTED) {
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof one);
		msg_init(&m, MSG_AUTH);
		m.protocol_version = PROTO_VERSION;
		m.u.token = sw->o.op_token;
		op_send(sw, &m);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (!sw->finishing) {
			log_warn("swarm: operator connection lost");
			sw->unexpected_close++;
		}
		bufferevent_free(sw->op);
		sw->op = NULL;
		if (!sw->finishing)
			swarm_finish(sw, "operator connection lost");
	}
}

/* Open the operator connection. */
static void
op_start(struct swarm *sw)
{
	sw->op = bufferevent_socket_new(sw->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(sw->op, op_read_cb, NULL, op_event_cb, sw);
	bufferevent_enable(sw->op, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(sw->op, (struct sockaddr *)&sw->sa,
	    (int)sw->salen) != 0)
		fatal("operator connect");
}

/* ---- text queries (status, metrics) ---- */

/* Text reply read so far. */
static void
text_read_cb(struct bufferevent *bev, void *arg)
{
	struct text_query	*q = arg;

	evbuffer_add_buffer(q->buf, bufferevent_get_input(bev));
}

/* The main node closed: the reply is complete. */
static void
text_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct text_query	*q = arg;
	char			*text;
	size_t			 len;

	if (what & BEV_EVENT_CONNECTED)
		return;
	evbuffer_add_buffer(q->buf, bufferevent_get_input(bev));
	len = evbuffer_get_length(q->buf);
	text = xmalloc(len + 1);
	evbuffer_remove(q->buf, text, len);
	text[len] = '\0';
	bufferevent_free(q->bev);
	evbuffer_free(q->buf);
	q->cb(q->sw, text);
	free(text);
	free(q);
}

/* Send a text command on its own connection; cb gets the reply. */
static void
text_query_start(struct swarm *sw, const char *cmd,
    void (*cb)(struct swarm *, const char *))
{
	struct text_query	*q = xcalloc(1, sizeof *q);

	q->sw = sw;
	q->cb = cb;
	q->buf = evbuffer_new();
	q->bev = bufferevent_socket_new(sw->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(q->bev, text_read_cb, NULL, text_event_cb, q);
	bufferevent_enable(q->bev, EV_READ | EV_WRITE);
	bufferevent_write(q->bev, cmd, strlen(cmd));
	bufferevent_write(q->bev, "\n", 1);
	if (bufferevent_socket_connect(q->bev, (struct sockaddr *)&sw->sa,
	    (int)sw->salen) != 0)
		fatal("text query connect");
}

/* The value of "key: N" in a status reply, or -1. */
static int64_t
text_value(const char *text, const char *key)
{
	const char	*p = text;
	size_t		 n = strlen(key);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, n) == 0 && (p[n] == ':' || p[n] == ' '))
			return (strtoll(p + n + 1, NULL, 10));
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return (-1);
}

/* status during a --done-by-status run. */
static void
status_done_cb(struct swarm *sw, const char *text)
{
	static const char *final[] = { "tasks_completed", "tasks_failed",
	    "tasks_cancelled", "tasks_timed_out" };
	int64_t		   n = 0, v;
	size_t		   i;

	sw->status_pending = 0;
	for (i = 0; i < sizeof final / sizeof final[0]; i++) {
		if ((v = text_value(text, final[i])) > 0)
			n += v;
	}
	if (n > sw->status_done) {
		sw->status_done = n;
		sw->last_done_t = mono();
	}
	if (sw->status_done >= sw->o.tasks && sw->submitted >= sw->o.tasks) {
		sw->done = sw->status_done;
		swarm_finish(sw, "all tasks done (status)");
	}
}

/*
 * Bytes the main node has read from our device connections: what we
 * wrote, minus what still waits in our output buffers, in our sockets'
 * send queues and in the main node's receive queues.  Both ends are on
 * this machine, so /proc/net/tcp shows every queue; unlike a `metrics`
 * query this does not wait for a busy main node to answer.
 */
static int64_t
ingest_consumed(struct swarm *sw)
{
	const struct sockaddr_in *sin = (const void *)&sw->sa;
	FILE		*f;
	char		 line[512];
	unsigned	 lport, rport, st, port;
	unsigned long	 txq, rxq;
	int64_t		 queued = 0;
	int		 i;

	if (sw->sa.ss_family != AF_INET)
		return (-1);
	port = ntohs(sin->sin_port);
	for (i = 0; i < sw->o.n; i++) {
		if (sw->devs[i].bev != NULL)
			queued += (int64_t)evbuffer_get_length(
			    bufferevent_get_output(sw->devs[i].bev));
	}
	if ((f = fopen("/proc/net/tcp", "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, " %*d: %*x:%x %*x:%x %x %lx:%lx", &lport,
		    &rport, &st, &txq, &rxq) != 5 || st != 1)
			continue;	/* header, or not ESTABLISHED */
		if (lport == port)
			queued += (int64_t)rxq;		/* main node side */
		else if (rport == port)
			queued += (int64_t)txq;		/* our side */
	}
	fclose(f);
	return ((int64_t)sw->bytes_out - queued);
}

/* One end of the ingest window. */
static void
ingest_sample(struct swarm *sw, double *t, int64_t *c, uint64_t *b,
    uint64_t *l)
{
	*c = ingest_consumed(sw);
	*t = mono();
	*b = sw->bytes_out;
	*l = sw->lines_out;
}

/* ---- phases ---- */

/* The ramp is over: measure, start the operator. */
static void
swarm_steady(struct swarm *sw)
{
	sw->steady = 1;
	sw->ramp_done_t = mono();
	fprintf(stdout, "swarm: steady devices=%d failed=%d t=%.3f\n",
	    sw->online, sw->failed, sw->ramp_done_t - sw->t0);
	fflush(stdout);
	if (sw->o.tasks > 0)
		op_pump(sw);
}

/* Every SWARM_TICK_MS: ramp up, pace submits, watch the phases. */
static void
swarm_tick_cb(evutil_socket_t fd, short events, void *arg)
{
	struct swarm	*sw = arg;
	double		 now = mono(), want;

	if (sw->finishing)
		return;
	/* Ramp: connects per second, a bounded number in flight. */
	want = (now - sw->t0) * sw->o.ramp + 1;
	while (sw->next_dev < sw->o.n && sw->next_dev < want &&
	    sw->connecting < sw->o.inflight)
		dev_start(sw, &sw->devs[sw->next_dev++]);
	if (!sw->steady && sw->next_dev >= sw->o.n && sw->connecting == 0)
		swarm_steady(sw);
	if (!sw->steady)
		return;

	op_pump(sw);
	if (sw->o.measure_ingest && sw->ingest_t1 == 0 &&
	    now - sw->ramp_done_t >= SWARM_INGEST_SETTLE) {
		ingest_sample(sw, &sw->ingest_t1, &sw->ingest_c1,
		    &sw->ingest_b1, &sw->ingest_l1);
		sw->hb_sent_w0 = sw->hb_sent;
	}
	if (sw->o.done_by_status && !sw->status_pending &&
	    sw->submitted > 0 && now - sw->status_last_t >= 0.05) {
		sw->status_pending = 1;
		sw->status_last_t = now;
		text_query_start(sw, "status", status_done_cb);
	}
	if (sw->o.tasks == 0 && sw->o.failover == FO_NONE &&
	    now - sw->ramp_done_t >= sw->o.hold)
		swarm_finish(sw, "hold time over");
}

/* The hard deadline. */
static void
swarm_deadline_cb(evutil_socket_t fd, short events, void *arg)
{
	struct swarm	*sw = arg;

	if (!sw->finishing) {
		log_warn("swarm: --duration reached before the run was done");
		sw->exit_code = 1;
		swarm_finish(sw, "deadline");
		return;
	}
	event_base_loopbreak(sw->base);
}

/* Final status: devices online as the main node sees them. */
static void
final_status_cb(struct swarm *sw, const char *text)
{
	int64_t	a = text_value(text, "devices_online");
	int64_t	b = text_value(text, "devices_busy");

	sw->devices_online_main = (int)((a > 0 ? a : 0) + (b > 0 ? b : 0));
	event_base_loopbreak(sw->base);
}


/* Stop generating load and collect the last figures. */
static void
swarm_finish(struct swarm *sw, const char *why)
{
	struct timeval	tv = { 30, 0 };

	if (sw->finishing)
		return;
	sw->finishing = 1;
	log_info("swarm: finishing: %s", why);
	fprintf(stdout, "swarm: finish reason=\"%s\" t=%.3f\n", why,
	    mono() - sw->t0);
	fflush(stdout);
	/* The deadline now bounds the final queries. */
	evtimer_del(sw->deadline_ev);
	evtimer_add(sw->deadline_ev, &tv);
	if (sw->o.measure_ingest && sw->ingest_t1 > 0)
		ingest_sample(sw, &sw->ingest_t2, &sw->ingest_c2,
		    &sw->ingest_b2, &sw->ingest_l2);
	text_query_start(sw, "status", final_status_cb);
}

/* Percentile (nearest rank) of sorted values. */
static double
percentile(const double *v, size_t n, double p)
{
	size_t	i;

	if (n == 0)
		return (NAN);
	i = (size_t)ceil(p / 100.0 * (double)n);
	if (i > 0)
		i--;
	if (i >= n)
		i = n - 1;
	return (v[i]);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* One summary line. */
static void
bench(const char *name, double value, const char *unit)
{
	if (isnan(value))
		printf("bench: %s nan %s\n", name, unit);
	else if (value == floor(value) && fabs(value) < 1e15)
		printf("bench: %s %.0f %s\n", name, value, unit);
	else
		printf("bench: %s %.3f %s\n", name, value, unit);
}

/* Print every figure of the run. */
static void
swarm_report(struct swarm *sw)
{
	double	*lat = NULL, *e2e = NULL, span;
	size_t	 nl = 0, ne = 0, i;
	int64_t	 lost = 0;

	if (sw->o.n > 0) {
		bench("devices_connected", sw->devices_online_main, "devices");
		printf("swarm: devices_acked=%d failed=%d unexpected_close=%llu "
		    "ramp_s=%.3f\n", sw->online, sw->failed,
		    (unsigned long long)sw->unexpected_close,
		    sw->ramp_done_t > 0 ? sw->ramp_done_t - sw->t0 : -1.0);
		if (sw->ramp_done_t > 0)
			bench("ramp_s", sw->ramp_done_t - sw->t0, "s");
		printf("swarm: heartbeats_sent=%llu skipped=%llu\n",
		    (unsigned long long)sw->hb_sent,
		    (unsigned long long)sw->hb_skipped);
	}
	if (sw->o.measure_ingest && (sw->ingest_t1 <= 0 ||
	    sw->ingest_t2 <= sw->ingest_t1 || sw->ingest_c1 < 0 ||
	    sw->ingest_l2 <= sw->ingest_l1))
		printf("swarm: no ingest figure (the run ended before the "
		    "window, or /proc/net/tcp is unreadable)\n");
	else if (sw->o.measure_ingest) {
		double	avg = (double)(sw->ingest_b2 - sw->ingest_b1) /
			    (double)(sw->ingest_l2 - sw->ingest_l1);

		span = sw->ingest_t2 - sw->ingest_t1;
		bench("heartbeats_per_s", floor((double)(sw->ingest_c2 -
		    sw->ingest_c1) / avg / span), "msgs/s");
		bench("heartbeats_offered_per_s", floor((double)(sw->hb_sent -
		    sw->hb_sent_w0) / span), "msgs/s");
		printf("swarm: heartbeats_skipped=%llu (main node not "
		    "reading)\n", (unsigned long long)sw->hb_skipped);
	}
	if (sw->o.tasks > 0 && sw->o.failover == FO_NONE) {
		lat = xcalloc((size_t)sw->o.tasks, sizeof *lat);
		e2e = xcalloc((size_t)sw->o.tasks, sizeof *e2e);
		for (i = 0; i < (size_t)sw->o.tasks; i++) {
			struct task_rec *r = &sw->recs[i];

			if (r->submit_t > 0 && r->start_t > 0)
				lat[nl++] = (r->start_t - r->submit_t) * 1e3;
			if (r->submit_t > 0 && r->done_t > 0)
				e2e[ne++] = (r->done_t - r->submit_t) * 1e3;
			if (r->submit_t > 0 && r->acks == 0 && sw->o.n > 0 &&
			    !sw->o.done_by_status)
				lost++;
		}
		qsort(lat, nl, sizeof *lat, cmp_double);
		qsort(e2e, ne, sizeof *e2e, cmp_double);
		bench("tasks_submitted", (double)sw->submitted, "tasks");
		if (sw->rejected > 0)
			bench("tasks_rejected", (double)sw->rejected, "tasks");
		if (sw->o.n > 0 || sw->o.done_by_status)
			bench("tasks_done", (double)sw->done, "tasks");
		span = sw->last_done_t - sw->submit_t0;
		if (sw->done > 0 && span > 0)
			bench("tasks_per_s", floor((double)sw->done / span),
			    "tasks/s");
		if (sw->o.n == 0 && !sw->o.done_by_status &&
		    sw->replies > 0) {
			span = mono() - sw->submit_t0;
			bench("submits_per_s", floor((double)sw->replies /
			    span), "tasks/s");
		}
		if (nl > 0) {
			bench("submit_to_start_ms_p50",
			    percentile(lat, nl, 50), "ms");
			bench("submit_to_start_ms_p99",
			    percentile(lat, nl, 99), "ms");
			bench("submit_to_start_ms_max", lat[nl - 1], "ms");
		}
		if (ne > 0) {
			bench("submit_to_result_ms_p50",
			    percentile(e2e, ne, 50), "ms");
			bench("submit_to_result_ms_p99",
			    percentile(e2e, ne, 99), "ms");
		}
		if (sw->o.n > 0 && !sw->o.done_by_status)
			printf("swarm: check tasks_lost=%lld "
			    "duplicate_assigns=%llu duplicate_acks=%llu "
			    "over_slots=%llu stale_acks=%llu errors=%llu\n",
			    (long long)lost,
			    (unsigned long long)sw->dup_assigns,
			    (unsigned long long)sw->dup_acks,
			    (unsigned long long)sw->over_slots,
			    (unsigned long long)sw->stale_acks,
			    (unsigned long long)sw->errors);
		if (lost > 0 || sw->dup_assigns > 0 || sw->dup_acks > 0 ||
		    sw->over_slots > 0)
			sw->exit_code = 1;
		free(lat);
		free(e2e);
	}
	if (sw->o.failover != FO_NONE) {
		double	mx = 0, sum = 0;
		int	k;

		for (k = 0; k < sw->fo_done; k++) {
			sum += sw->fo_times[k];
			if (sw->fo_times[k] > mx)
				mx = sw->fo_times[k];
		}
		printf("swarm: failover rounds=%d/%d mean=%.3f max=%.3f\n",
		    sw->fo_done, sw->o.fo_rounds,
		    sw->fo_done > 0 ? sum / sw->fo_done : NAN, mx);
		bench(sw->o.failover == FO_DROP ? "failover_dropped_s" :
		    "failover_silent_s", sw->fo_done > 0 ? mx : NAN, "s");
		if (sw->fo_done < sw->o.fo_rounds)
			sw->exit_code = 1;
	}
	if (sw->errors > 0)
		printf("swarm: errors_from_main=%llu\n",
		    (unsigned long long)sw->errors);
	fflush(stdout);
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: encore-swarm --main H:P --token-file F [options]\n"
"Simulate N workers (and optionally an operator) against a real\n"
"encore-main on loopback; print \"bench: NAME VALUE UNIT\" lines.\n\n"
"  --main H:P               main node (loopback only; default 127.0.0.1:7070)\n"
"  --token-file F           join token file (the main node's join.token)\n"
"  --operator-token-file F  operator token file, for --tasks\n"
"  -n, --devices N          simulated devices (default 100)\n"
"  --heartbeat-ms MS        heartbeat interval once all devices are in\n"
"                           (default and while ramping: the main node's)\n"
"  --heartbeat-batch K      with --heartbeat-ms: K heartbeats per write, every\n"
"                           K x MS (pipelined, so the swarm can offer more)\n"
"  --slots N                slots per device (default 4)\n"
"  --task-ms MS             how long each task \"runs\" (default 0)\n"
"  --ramp N                 connects per second (default 2000)\n"
"  --inflight N             connects/registers at once (default 200)\n"
"  --duration S             hard limit on the whole run (default 60)\n"
"  --hold S                 steady time when no tasks are given (default 5)\n"
"  --tasks M                submit M tasks over one operator connection\n"
"  --rate R                 submits per second (default: no pacing)\n"
"  --window W               submits in flight without a reply (default 64)\n"
"  --command ARG0           argv of the submitted tasks (default /bin/true)\n"
"  --array                  submit the M tasks as one array of M elements\n"
"  --done-by-status         count completions from `status` (real workers)\n"
"  --watch-starts           time submit -> running from `tasks` events (real\n"
"                           workers: running is their task_started)\n"
"  --measure-ingest         messages/s the main node reads (socket queues)\n"
"  --failover drop|silent   lose the device running a task, time the move\n"
"  --failover-rounds N      how many moves to time (default 3)\n"
"  --failover-after-ms MS   how long a device runs it first (default 1500)\n"
"  --prefix P               device ids P-00001..., task names P-t-N\n"
"  --seed N                 random seed\n");
}

/* A bounded integer option. */
static long long
opt_int(const char *name, const char *v, long long min, long long max)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max) {
		fprintf(stderr, "encore-swarm: --%s: expected %lld..%lld, "
		    "got \"%s\"\n", name, min, max, v);
		exit(2);
	}
	return (n);
}

/* Parse the command line into sw->o. */
static void
swarm_options(struct swarm *sw, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "main", required_argument, NULL, 'm' },
		{ "token-file", required_argument, NULL, 't' },
		{ "operator-token-file", required_argument, NULL, 'o' },
		{ "devices", required_argument, NULL, 'n' },
		{ "heartbeat-ms", required_argument, NULL, 'b' },
		{ "heartbeat-batch", required_argument, NULL, 'B' },
		{ "slots", required_argument, NULL, 's' },
		{ "task-ms", required_argument, NULL, 'k' },
		{ "ramp", required_argument, NULL, 'r' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "hold", required_argument, NULL, 'H' },
		{ "tasks", required_argument, NULL, 'M' },
		{ "rate", required_argument, NULL, 'R' },
		{ "window", required_argument, NULL, 'w' },
		{ "command", required_argument, NULL, 'c' },
		{ "done-by-status", no_argument, NULL, 'S' },
		{ "watch-starts", no_argument, NULL, 'W' },
		{ "array", no_argument, NULL, 'y' },
		{ "measure-ingest", no_argument, NULL, 'I' },
		{ "failover", required_argument, NULL, 'f' },
		{ "failover-rounds", required_argument, NULL, 'F' },
		{ "failover-after-ms", required_argument, NULL, 'A' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct swarm_opt	*o = &sw->o;
	const char		*main_hp = "127.0.0.1:7070";
	const char		*tf = NULL, *otf = NULL;
	char			*cause = NULL;
	int			 ch;

	o->n = 100;
	o->hb_batch = 1;
	o->slots = 4;
	o->ramp = 2000;
	o->inflight = 200;
	o->duration = 60;
	o->hold = 5;
	o->window = 64;
	o->command = xstrdup("/bin/true");
	o->prefix = xstrdup("sw");
	o->fo_rounds = 3;
	o->fo_after_ms = 1500;
	o->seed = 1;
	while ((ch = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm': main_hp = optarg; break;
		case 't': tf = optarg; break;
		case 'o': otf = optarg; break;
		case 'n': o->n = (int)opt_int("devices", optarg, 0, 100000);
			break;
		case 'b': o->hb_ms = (int)opt_int("heartbeat-ms", optarg, 1,
			    3600000);
			break;
		case 'B': o->hb_batch = (int)opt_int("heartbeat-batch", optarg,
			    1, 64);
			break;
		case 's': o->slots = (int)opt_int("slots", optarg, 1, 1024);
			break;
		case 'k': o->task_ms = (int)opt_int("task-ms", optarg, 0,
			    3600000);
			break;
		case 'r': o->ramp = (int)opt_int("ramp", optarg, 1, 1000000);
			break;
		case 'i': o->inflight = (int)opt_int("inflight", optarg, 1,
			    100000);
			break;
		case 'd': o->duration = (double)opt_int("duration", optarg, 1,
			    SWARM_DURATION_MAX);
			break;
		case 'H': o->hold = (double)opt_int("hold", optarg, 0,
			    SWARM_DURATION_MAX);
			break;
		case 'M': o->tasks = opt_int("tasks", optarg, 0, 10000000);
			break;
		case 'R': o->rate = (double)opt_int("rate", optarg, 0,
			    10000000);
			break;
		case 'w': o->window = (int)opt_int("window", optarg, 1,
			    100000);
			break;
		case 'y': o->array = 1; break;
		case 'c': free(o->command); o->command = xstrdup(optarg);
			break;
		case 'S': o->done_by_status = 1; break;
		case 'W': o->watch_starts = 1; break;
		case 'I': o->measure_ingest = 1; break;
		case 'f':
			if (strcmp(optarg, "drop") == 0)
				o->failover = FO_DROP;
			else if (strcmp(optarg, "silent") == 0)
				o->failover = FO_SILENT;
			else {
				fprintf(stderr, "encore-swarm: --failover: "
				    "drop or silent\n");
				exit(2);
			}
			break;
		case 'F': o->fo_rounds = (int)opt_int("failover-rounds",
			    optarg, 1, 100);
			break;
		case 'A': o->fo_after_ms = (int)opt_int("failover-after-ms",
			    optarg, 0, 600000);
			break;
		case 'p': free(o->prefix); o->prefix = xstrdup(optarg); break;
		case 'x': o->seed = (unsigned)opt_int("seed", optarg, 0,
			    0xffffffffLL);
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		usage(stderr);
		exit(2);
	}
	if (proto_parse_hostport(main_hp, "7070", &o->host, &o->port,
	    &cause) != 0) {
		fprintf(stderr, "encore-swarm: --main: %s\n", cause);
		exit(2);
	}
	if (o->n > 0 || o->failover != FO_NONE) {
		if (tf == NULL) {
			fprintf(stderr, "encore-swarm: --token-file is "
			    "required for devices\n");
			exit(2);
		}
		o->token = read_token(tf);
	}
	if (o->failover != FO_NONE) {
		o->tasks = 1;
		if (o->n < o->fo_rounds + 1)
			o->n = o->fo_rounds + 1;
	}
	if (o->tasks > 0) {
		if (otf == NULL) {
			fprintf(stderr, "encore-swarm: --tasks needs "
			    "--operator-token-file\n");
			exit(2);
		}
		o->op_token = read_token(otf);
	}
}

int
main(int argc, char **argv)
{
	struct swarm	 sw;
	struct timeval	 tv;
	int		 i, rc;

	memset(&sw, 0, sizeof sw);
	log_init("encore-swarm", LOG_INFO);
	swarm_options(&sw, argc, argv);
	swarm_resolve(&sw);
	swarm_raise_nofile(sw.o.n + 64);
	signal(SIGPIPE, SIG_IGN);
	sw.rng = 0x9E3779B97F4A7C15ULL ^ sw.o.seed;
	sw.hb_interval = 5;

	if ((sw.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	sw.devs = xcalloc(sw.o.n > 0 ? (size_t)sw.o.n : 1, sizeof *sw.devs);
	for (i = 0; i < sw.o.n; i++) {
		struct sim_dev *d = &sw.devs[i];

		d->sw = &sw;
		d->idx = i;
		snprintf(d->id, sizeof d->id, "%s-%05d", sw.o.prefix, i + 1);
		TAILQ_INIT(&d->tasks);
		d->hb_ev = evtimer_new(sw.base, dev_hb_cb, d);
	}
	if (sw.o.tasks > 0)
		sw.recs = xcalloc((size_t)sw.o.tasks, sizeof *sw.recs);
	sw.fo_times = xcalloc((size_t)sw.o.fo_rounds, sizeof *sw.fo_times);
	sw.fo_ev = evtimer_new(sw.base, fo_lose_cb, &sw);

	sw.t0 = mono();
	sw.tick_ev = event_new(sw.base, -1, EV_PERSIST, swarm_tick_cb, &sw);
	tv = tv_from(SWARM_TICK_MS / 1000.0);
	evtimer_add(sw.tick_ev, &tv);
	sw.deadline_ev = evtimer_new(sw.base, swarm_deadline_cb, &sw);
	tv = tv_from(sw.o.duration);
	evtimer_add(sw.deadline_ev, &tv);
	if (sw.o.tasks > 0)
		op_start(&sw);
	if (sw.o.n == 0)
		swarm_steady(&sw);

	event_base_dispatch(sw.base);
	swarm_report(&sw);
	rc = sw.exit_code;

	for (i = 0; i < sw.o.n; i++) {
		dev_close(&sw.devs[i], 1);
		event_free(sw.devs[i].hb_ev);
	}
	if (sw.op != NULL)
		bufferevent_free(sw.op);
	for (i = 0; i < sw.o.tasks; i++)
		free(sw.recs[i].task_id);
	free(sw.recs);
	free(sw.devs);
	free(sw.fo_times);
	free(sw.fo_task);
	event_free(sw.fo_ev);
	event_free(sw.tick_ev);
	event_free(sw.deadline_ev);
	event_base_free(sw.base);
	free(sw.o.host);
	free(sw.o.port);
	free(sw.o.token);
	free(sw.o.op_token);
	free(sw.o.prefix);
	free(sw.o.command);
	return (rc);
}
