/* SPDX-License-Identifier: ISC */
/*
 * spawn-limit.c -- the physical limit a worker's task rate is judged
 * against: how many /bin/true processes this machine starts and reaps per
 * second, from as many threads as it has cores, each doing posix_spawn()
 * then waitpid() in a loop; and what one spawn costs on its own (one
 * thread, one at a time: the time posix_spawn() takes, which returns once
 * the child has exec'd).  Prints "bench: NAME VALUE UNIT" lines:
 *
 *   spawn_limit_per_s	processes started and reaped per second
 *   spawn_one_ms_p50	one posix_spawn() alone, median
 *   spawn_one_ms_p99
 *
 * Usage: encore-spawn-limit [SECONDS] (default 3) [PROGRAM] (/bin/true).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ONE_SAMPLES	300

extern char **environ;

static const char	*prog = "/bin/true";
static double		 seconds = 3;

/* Seconds from the monotonic clock. */
static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Spawn prog and reap it; 0 or -1. */
static int
spawn_once(double *spawn_s)
{
	char	*argv[] = { (char *)prog, NULL };
	pid_t	 pid;
	double	 t0 = now();
	int	 status, e;

	if ((e = posix_spawn(&pid, prog, NULL, NULL, argv, environ)) != 0) {
		fprintf(stderr, "spawn-limit: %s: %s\n", prog, strerror(e));
		return (-1);
	}
	if (spawn_s != NULL)
		*spawn_s = now() - t0;
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return (0);
}

/* One thread: spawn and reap until the deadline; the count in *arg. */
static void *
spawn_loop(void *arg)
{
	long	*count = arg;
	double	 end = now() + seconds;

	while (now() < end) {
		if (spawn_once(NULL) != 0)
			break;
		(*count)++;
	}
	return (NULL);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

int
main(int argc, char **argv)
{
	pthread_t	*th;
	long		*counts, total = 0;
	double		 t0, span, one[ONE_SAMPLES];
	long		 n, i;

	if (argc > 1 && (seconds = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: encore-spawn-limit [SECONDS] "
		    "[PROGRAM]\n");
		return (2);
	}
	if (argc > 2)
		prog = argv[2];
	if ((n = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		n = 1;

	/* One at a time, first: the cost of one spawn on its own. */
	for (i = 0; i < ONE_SAMPLES; i++) {
		if (spawn_once(&one[i]) != 0)
			return (1);
	}
	qsort(one, ONE_SAMPLES, sizeof one[0], cmp_double);

	th = calloc((size_t)n, sizeof *th);
	counts = calloc((size_t)n, sizeof *counts);
	if (th == NULL || counts == NULL)
		return (1);
	t0 = now();
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, spawn_loop, &counts[i]);
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		total += counts[i];
	}
	span = now() - t0;

	printf("# spawn-limit: %s from %ld threads for %.1f s\n", prog, n,
	    span);
	printf("bench: spawn_limit_per_s %.0f spawns/s\n", total / span);
	printf("bench: spawn_one_ms_p50 %.3f ms\n",
	    one[ONE_SAMPLES / 2] * 1e3);
	printf("bench: spawn_one_ms_p99 %.3f ms\n",
	    one[ONE_SAMPLES * 99 / 100] * 1e3);
	free(th);
	free(counts);
	return (0);
}
