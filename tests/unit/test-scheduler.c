/* SPDX-License-Identifier: ISC */
/*
 * test-scheduler.c -- placement rules of main-node/scheduler.c on tables
 * of devices and tasks.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../main-node/main.h"

/* A device row of a case table. */
struct dev_spec {
	const char	*id;
	const char	*arch;
	const char	*platform;
	int		 cores;
	int		 mem_mb;
	double		 mhz;
	int		 slots;
	int		 running;
	double		 cpus_used;
	int		 mem_used;
	int		 container;	/* offers container tasks */
	const char	*label;		/* "k=v" or NULL */
	const char	*flags;		/* "p"ending "o"ffline "d"rained
					   "x" not accepting */
};

static struct conn fake_conn;

/* Build the registry (and the scheduler's index) from a table. */
static void
build(const struct dev_spec *spec, size_t n)
{
	size_t	i;

	registry_init();
	for (i = 0; i < n; i++) {
		const struct dev_spec	*s = &spec[i];
		struct device		*d = registry_add(s->id);
		char			*eq;

		d->info.architecture = strdup(s->arch ? s->arch : "x86_64");
		d->info.platform = strdup(s->platform ? s->platform : "linux");
		d->hw.cpu_cores = s->cores ? s->cores : 4;
		d->hw.memory_total = (int64_t)(s->mem_mb ? s->mem_mb : 4096) <<
		    20;
		d->hw.cpu_mhz = s->mhz ? s->mhz : NAN;
		d->slots = s->slots ? s->slots : 4;
		d->running = s->running;
		d->cpus_used = s->cpus_used;
		d->mem_used_mb = s->mem_used;
		d->n_caps = s->container ? 2 : 1;
		d->caps = calloc(2, sizeof *d->caps);
		d->caps[0] = strdup("command");
		if (s->container)
			d->caps[1] = strdup("container");
		if (s->label != NULL) {
			d->labels = calloc(1, sizeof *d->labels);
			d->n_labels = 1;
			d->labels[0].key = strdup(s->label);
			eq = strchr(d->labels[0].key, '=');
			*eq = '\0';
			d->labels[0].value = strdup(eq + 1);
		}
		d->online = !(s->flags && strchr(s->flags, 'o'));
		d->conn = d->online ? &fake_conn : NULL;
		d->drained = s->flags && strchr(s->flags, 'd');
		d->accepting = !(s->flags && strchr(s->flags, 'x'));
		device_set_approved(d, !(s->flags && strchr(s->flags, 'p')));
		device_changed(d);
	}
}

static void
destroy(void)
{
	struct device	*d;

	TAILQ_FOREACH(d, registry_list(), entry)
		d->conn = NULL;
	registry_free();
	scheduler_reset();
}

/* A task for the table: fields as in proto_task. */
struct task_spec {
	const char	*name;
	int		 container;
	const char	*arch;
	const char	*platform;
	const char	*label;
	const char	*device;
	double		 cpus;
	int		 memory_mb;
	const char	*expect;	/* device id or NULL */
};

/*
 * Place one task on a table of devices, by the index and by looking at
 * every device: both must agree, and with the case's expectation.
 */
static void
run_case(const struct dev_spec *devs, size_t ndev, const struct task_spec *t)
{
	struct placement	 p;
	struct proto_kv		 kv;
	struct device		*got, *ref;
	char			 lbuf[64], *eq;

	memset(&p, 0, sizeof p);
	p.type = t->container ? TASK_TYPE_CONTAINER : TASK_TYPE_COMMAND;
	p.arch = (char *)t->arch;
	p.platform = (char *)t->platform;
	p.device = (char *)t->device;
	p.cpus = t->cpus;
	p.memory_mb = t->memory_mb;
	if (t->label != NULL) {
		snprintf(lbuf, sizeof lbuf, "%s", t->label);
		eq = strchr(lbuf, '=');
		*eq = '\0';
		kv.key = lbuf;
		kv.value = eq + 1;
		p.labels = &kv;
		p.n_labels = 1;
	}
	build(devs, ndev);
	got = scheduler_pick(&p);
	ref = scheduler_pick_list(registry_list(), &p);
	if (got != ref)
		fail_msg("%s: the index picked %s, a full look %s", t->name,
		    got != NULL ? got->id : "none",
		    ref != NULL ? ref->id : "none");
	if (t->expect == NULL) {
		if (got != NULL)
			fail_msg("%s: expected no device, got %s", t->name,
			    got->id);
	} else {
		if (got == NULL)
			fail_msg("%s: expected %s, got none", t->name,
			    t->expect);
		if (strcmp(got->id, t->expect) != 0)
			fail_msg("%s: expected %s, got %s", t->name,
			    t->expect, got->id);
	}
	destroy();
}

static const struct dev_spec cluster[] = {
	{ .id = "laptop", .arch = "x86_64", .cores = 4, .mem_mb = 8192,
	  .mhz = 2400, .container = 1, .running = 1 },
	{ .id = "pi4", .arch = "aarch64", .cores = 4, .mem_mb = 4096,
	  .mhz = 1500, .label = "room=kitchen" },
	{ .id = "pi1", .arch = "armv6l", .cores = 1, .mem_mb = 512,
	  .slots = 1 },
	{ .id = "phone", .arch = "aarch64", .platform = "android",
	  .cores = 8, .mem_mb = 6144, .mhz = 2800, .flags = "x" },
	{ .id = "nas", .arch = "x86_64", .cores = 2, .mem_mb = 2048,
	  .flags = "d" },
	{ .id = "new", .arch = "x86_64", .cores = 16, .flags = "p" },
	{ .id = "old", .arch = "x86_64", .cores = 16, .flags = "o" },
};

static const struct task_spec cases[] = {
	/* Least loaded first: laptop runs one task, pi4 and pi1 none; pi4
	 * is faster than pi1. */
	{ "least loaded, then faster", .expect = "pi4" },
	{ "container needs a runtime", .container = 1, .expect = "laptop" },
	{ "arch", .arch = "armv6l", .expect = "pi1" },
	{ "arch alias", .arch = "arm64", .expect = "pi4" },
	{ "amd64 alias", .arch = "amd64", .expect = "laptop" },
	{ "label", .label = "room=kitchen", .expect = "pi4" },
	{ "label mismatch", .label = "room=attic", .expect = NULL },
	{ "paused device skipped", .platform = "android", .expect = NULL },
	{ "draining device skipped", .device = "nas", .expect = NULL },
	{ "pending device skipped", .device = "new", .expect = NULL },
	{ "offline device skipped", .device = "old", .expect = NULL },
	{ "pinned", .device = "laptop", .expect = "laptop" },
	{ "memory", .memory_mb = 6000, .expect = "laptop" },
	{ "too much memory", .memory_mb = 100000, .expect = NULL },
	{ "cpus", .cpus = 3.5, .expect = "pi4" },
	{ "too many cpus", .cpus = 64, .expect = NULL },
};

static void
test_table(void **state)
{
	size_t	i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(cluster, sizeof cluster / sizeof cluster[0],
		    &cases[i]);
}

/* Slots and resources already taken are not given out again. */
static void
test_no_oversubscription(void **state)
{
	static const struct dev_spec full[] = {
		{ .id = "a", .slots = 2, .running = 2 },
		{ .id = "b", .cores = 4, .cpus_used = 3.5, .running = 1 },
		{ .id = "c", .mem_mb = 1024, .mem_used = 900, .running = 1 },
	};
	static const struct task_spec t1 = { "slots full", .device = "a",
	    .expect = NULL };
	static const struct task_spec t2 = { "cpus used", .cpus = 1,
	    .device = "b", .expect = NULL };
	static const struct task_spec t3 = { "cpus fit", .cpus = 0.5,
	    .device = "b", .expect = "b" };
	static const struct task_spec t4 = { "memory used", .memory_mb = 200,
	    .device = "c", .expect = NULL };
	static const struct task_spec t5 = { "memory fits", .memory_mb = 100,
	    .device = "c", .expect = "c" };

	run_case(full, 3, &t1);
	run_case(full, 3, &t2);
	run_case(full, 3, &t3);
	run_case(full, 3, &t4);
	run_case(full, 3, &t5);
}

/* Ties are broken by id, so placement is deterministic. */
static void
test_deterministic(void **state)
{
	static const struct dev_spec same[] = {
		{ .id = "b" }, { .id = "a" }, { .id = "c" },
	};
	static const struct task_spec t = { "tie", .expect = "a" };

	run_case(same, 3, &t);
}

/* A task nobody can ever run is told apart from a busy cluster. */
static void
test_can_ever_run(void **state)
{
	struct placement	 p;
	struct device		*d;
	static const struct dev_spec busy[] = {
		{ .id = "busy", .slots = 1, .running = 1 },
	};

	build(busy, 1);
	d = TAILQ_FIRST(registry_list());
	memset(&p, 0, sizeof p);
	assert_null(scheduler_pick(&p));
	assert_true(scheduler_can_ever_run(d, &p));
	p.arch = (char *)"riscv64";
	assert_false(scheduler_can_ever_run(d, &p));
	destroy();
}

/*
 * The index against a full look, on random clusters that change under it:
 * devices fill and empty, pause, drain and leave; every pick must be the
 * same device a look at every device would choose.
 */
static void
test_index_matches_full_look(void **state)
{
	struct dev_spec	 spec[64];
	char		 ids[64][8];
	struct placement p;
	struct device	*d, *got, *ref;
	unsigned	 seed = 12345;
	int		 round, i, n = 64, k;

	for (i = 0; i < n; i++) {
		memset(&spec[i], 0, sizeof spec[i]);
		snprintf(ids[i], sizeof ids[i], "d%02d", i);
		spec[i].id = ids[i];
		spec[i].cores = 1 + i % 8;
		spec[i].slots = 1 + i % 4;
		spec[i].mhz = 600 + 100 * (i % 5);
		spec[i].arch = i % 3 == 0 ? "aarch64" : "x86_64";
		spec[i].container = i % 2;
	}
	build(spec, (size_t)n);
	for (round = 0; round < 5000; round++) {
		seed = seed * 1103515245u + 12345u;
		k = (int)(seed >> 16) % n;
		i = 0;
		TAILQ_FOREACH(d, registry_list(), entry) {
			if (i++ == k)
				break;
		}
		switch ((seed >> 8) % 6) {
		case 0:
			if (d->running < d->slots)
				d->running++;
			break;
		case 1:
			if (d->running > 0)
				d->running--;
			break;
		case 2:
			d->accepting = !d->accepting;
			break;
		case 3:
			d->drained = !d->drained;
			break;
		case 4:
			d->online = !d->online;
			d->conn = d->online ? &fake_conn : NULL;
			break;
		default:
			d->cpus_used = (double)((seed >> 4) % 4);
			break;
		}
		device_changed(d);
		memset(&p, 0, sizeof p);
		p.type = (seed >> 3) % 2 ? TASK_TYPE_CONTAINER :
		    TASK_TYPE_COMMAND;
		p.arch = (seed >> 5) % 3 == 0 ? (char *)"arm64" : NULL;
		p.cpus = (double)((seed >> 7) % 3);
		got = scheduler_pick(&p);
		ref = scheduler_pick_list(registry_list(), &p);
		if (got != ref)
			fail_msg("round %d: the index picked %s, a full look %s",
			    round, got != NULL ? got->id : "none",
			    ref != NULL ? ref->id : "none");
	}
	destroy();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_no_oversubscription),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_can_ever_run),
		cmocka_unit_test(test_index_matches_full_look),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
