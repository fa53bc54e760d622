/* SPDX-License-Identifier: ISC */
/*
 * spec.c -- a task as stored: its submit line decoded again, and the
 * placement (what it needs of a device) taken from it.  Pure: the store's
 * migrations, the queue and the handlers all read tasks through it.
 */
#include <stdlib.h>
#include <string.h>

#include "main.h"

/* Decode a stored submit line into m; -1 if it is damaged. */
int
task_spec_decode(const char *spec, struct msg *m)
{
	struct proto_err	err;

	if (spec == NULL || msg_decode(spec, strlen(spec), m, &err) != 0) {
		log_error("event=task_spec_bad msg=\"%s\"",
		    spec == NULL ? "missing" : err.message);
		return (-1);
	}
	return (0);
}

/* Order labels by key (placement compares them as a set). */
static int
task_kv_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct proto_kv *)a)->key,
	    ((const struct proto_kv *)b)->key));
}

/* A placement (copies) from a task as submitted. */
void
task_placement_from_spec(const struct proto_task *t, struct placement *p)
{
	size_t	i;

	memset(p, 0, sizeof *p);
	p->type = t->type;
	p->cpus = t->cpus;
	p->memory_mb = t->memory_mb;
	p->arch = t->req_arch != NULL ? xstrdup(t->req_arch) : NULL;
	p->platform = t->req_platform != NULL ? xstrdup(t->req_platform) :
	    NULL;
	p->device = t->req_device != NULL ? xstrdup(t->req_device) : NULL;
	if (t->n_req_labels > 0) {
		p->labels = xcalloc(t->n_req_labels, sizeof *p->labels);
		for (i = 0; i < t->n_req_labels; i++) {
			p->labels[i].key = xstrdup(t->req_labels[i].key);
			p->labels[i].value = xstrdup(t->req_labels[i].value);
		}
		p->n_labels = t->n_req_labels;
		qsort(p->labels, p->n_labels, sizeof *p->labels, task_kv_cmp);
	}
}

/* Free a placement's strings. */
void
placement_free(struct placement *p)
{
	size_t	i;

	free(p->arch);
	free(p->platform);
	free(p->device);
	for (i = 0; i < p->n_labels; i++) {
		free(p->labels[i].key);
		free(p->labels[i].value);
	}
	free(p->labels);
	memset(p, 0, sizeof *p);
}
