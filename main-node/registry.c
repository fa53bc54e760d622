/* SPDX-License-Identifier: ISC */
/*
 * registry.c -- devices in memory: a hash by id for lookups and a list
 * sorted by id for listings, and the state each device shows.  Liveness
 * (who is online) is liveness.c's; where tasks go is the scheduler's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"

#define REGISTRY_BUCKETS	4096	/* power of two */

static struct device	*registry_hash[REGISTRY_BUCKETS];
static struct device_list registry_devices;
static int		 registry_n;
static int		 registry_n_pending;

/* FNV-1a of an id. */
static unsigned
registry_bucket(const char *id)
{
	unsigned	h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return (h & (REGISTRY_BUCKETS - 1));
}

/* Start empty. */
void
registry_init(void)
{
	TAILQ_INIT(&registry_devices);
}

/* Free every device. */
void
registry_free(void)
{
	struct device	*d;

	while ((d = TAILQ_FIRST(&registry_devices)) != NULL)
		registry_remove(d);
}

/* Find a device by id. */
struct device *
registry_find(const char *id)
{
	struct device	*d;

	if (id == NULL)
		return (NULL);
	for (d = registry_hash[registry_bucket(id)]; d != NULL; d = d->hnext) {
		if (strcmp(d->id, id) == 0)
			return (d);
	}
	return (NULL);
}

/* Add a new device (the id must not exist), kept in id order. */
struct device *
registry_add(const char *id)
{
	struct device	*d, *after;
	unsigned	 b = registry_bucket(id);

	d = xcalloc(1, sizeof *d);
	d->id = xstrdup(id);
	d->hw.cpu_cores = -1;
	d->hw.cpu_mhz = NAN;
	d->hw.memory_total = d->hw.disk_space = d->hw.disk_free = -1;
	d->accepting = 1;
	d->avail_idx = -1;
	TAILQ_INIT(&d->tasks);
	d->hnext = registry_hash[b];
	registry_hash[b] = d;
	/* New ids mostly sort last (w001, w002...): search from the end. */
	TAILQ_FOREACH_REVERSE(after, &registry_devices, device_list, entry) {
		if (strcmp(after->id, id) < 0)
			break;
	}
	if (after == NULL)
		TAILQ_INSERT_HEAD(&registry_devices, d, entry);
	else
		TAILQ_INSERT_AFTER(&registry_devices, after, d, entry);
	registry_n++;
	registry_n_pending++;		/* not approved yet */
	return (d);
}

/* Unlink and free a device.  Its connection and tasks must already be
 * detached (device_detach, task_device_gone). */
void
registry_remove(struct device *d)
{
	struct device	**pp;

	for (pp = &registry_hash[registry_bucket(d->id)]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == d) {
			*pp = d->hnext;
			break;
		}
	}
	TAILQ_REMOVE(&registry_devices, d, entry);
	registry_n--;
	if (!d->approved)
		registry_n_pending--;
	if (d->conn != NULL) {
		d->conn->device = NULL;
		d->conn = NULL;
	}
	d->approved = 0;
	d->online = 0;
	scheduler_update(d);	/* out of the index */
	device_free(d);
}

/* Mark a device approved or not, keeping the pending count. */
void
device_set_approved(struct device *d, int approved)
{
	if (d->approved == approved)
		return;
	d->approved = approved;
	registry_n_pending += approved ? -1 : 1;
	device_changed(d);
}

/* All devices, sorted by id. */
struct device_list *
registry_list(void)
{
	return (&registry_devices);
}

/* Number of devices. */
int
registry_count(void)
{
	return (registry_n);
}

/* Number of devices waiting for approval. */
int
registry_count_pending(void)
{
	return (registry_n_pending);
}

/* The state shown to operators. */
enum proto_device_state
device_state(const struct device *d)
{
	if (!d->approved)
		return (DEVICE_PENDING);
	if (!d->online)
		return (DEVICE_OFFLINE);
	if (d->drained)
		return (DEVICE_DRAINING);
	if (!d->accepting)
		return (DEVICE_PAUSED);
	if (d->running > 0)
		return (DEVICE_BUSY);
	return (DEVICE_ONLINE);
}

/* Why a device is as it is, for people: quarantined, or why it does not
 * accept work; NULL for nothing to say. */
const char *
device_reason(const struct device *d)
{
	if (d->quarantined != NULL)
		return (d->quarantined);
	if (!d->accepting && d->online)
		return (d->reason);
	return (NULL);
}

/* 1 if the device may be given work now (resources aside). */
int
device_is_available(const struct device *d)
{
	return (d->approved && d->online && d->conn != NULL && !d->drained &&
	    d->accepting && d->running < d->slots);
}

/* Something the scheduler looks at changed: keep its index right. */
void
device_changed(struct device *d)
{
	scheduler_update(d);
}

static void
free_strv(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
free_kv(struct proto_kv *kv, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* Free the profile part of a device. */
static void
device_free_profile(struct device *d)
{
	free(d->info.hostname);
	free(d->info.platform);
	free(d->info.architecture);
	free(d->info.os);
	free(d->info.kernel);
	free(d->info.role);
	free(d->hw.cpu_model);
	free(d->hw.model);
	free_strv(d->hw.network_interfaces, d->hw.n_ifaces);
	free_strv(d->hw.gpus, d->hw.n_gpus);
	free_strv(d->caps, d->n_caps);
	free_kv(d->labels, d->n_labels);
}

/*
 * Take the profile out of a register message: the strings move to the
 * device and the message's fields are cleared so msg_free does not free
 * them.
 */
void
device_set_profile(struct device *d, struct msg_register *r)
{
	device_free_profile(d);
	d->info = r->info;
	d->hw = r->hw;
	d->caps = r->capabilities;
	d->n_caps = r->n_capabilities;
	d->labels = r->labels;
	d->n_labels = r->n_labels;
	memset(&r->info, 0, sizeof r->info);
	memset(&r->hw, 0, sizeof r->hw);
	r->capabilities = NULL;
	r->n_capabilities = 0;
	r->labels = NULL;
	r->n_labels = 0;
	if (r->slots > 0)
		d->slots = r->slots;
	else if (d->hw.cpu_cores > 0)
		d->slots = d->hw.cpu_cores;
	else
		d->slots = 1;
}

/* 1 if the device offers a capability. */
int
device_has_cap(const struct device *d, const char *cap)
{
	size_t	i;

	for (i = 0; i < d->n_caps; i++) {
		if (strcmp(d->caps[i], cap) == 0)
			return (1);
	}
	return (0);
}

/* The value of a label, or NULL. */
const char *
device_label(const struct device *d, const char *key)
{
	size_t	i;

	for (i = 0; i < d->n_labels; i++) {
		if (strcmp(d->labels[i].key, key) == 0)
			return (d->labels[i].value);
	}
	return (NULL);
}

/* Free a device (already unlinked). */
void
device_free(struct device *d)
{
	int	i;

	for (i = 0; d->held != NULL && i < DEVICE_HELD_MAX; i++)
		free(d->held[i]);
	free(d->held);
	device_free_profile(d);
	free(d->id);
	free(d->key);
	free(d->join_hash);
	free(d->quarantined);
	free(d->reason);
	free(d);
}

/* The device fetched or sent this file: it is likely in its cache. */
void
device_note_file(struct device *d, const char *sha256)
{
	int	i;

	/* Made on the first file: most devices of a big cluster never
	 * fetch one, and 256 pointers each would double the main node's
	 * memory per device. */
	if (d->held == NULL)
		d->held = xcalloc(DEVICE_HELD_MAX, sizeof *d->held);
	for (i = 0; i < DEVICE_HELD_MAX; i++) {
		if (d->held[i] != NULL && strcmp(d->held[i], sha256) == 0)
			return;
	}
	free(d->held[d->held_next]);
	d->held[d->held_next] = xstrdup(sha256);
	d->held_next = (d->held_next + 1) % DEVICE_HELD_MAX;
}

/* 1 if the device is thought to hold every file of a list of hashes
 * (one a line). */
int
device_holds(const struct device *d, const char *hashes)
{
	const char	*p, *e;
	size_t		 n;
	int		 i, found;

	if (d->held == NULL)
		return (hashes == NULL || *hashes == '\0');
	for (p = hashes; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		found = 0;
		for (i = 0; i < DEVICE_HELD_MAX && !found; i++) {
			found = d->held[i] != NULL &&
			    strlen(d->held[i]) == n &&
			    memcmp(d->held[i], p, n) == 0;
		}
		if (!found)
			return (0);
	}
	return (1);
}

/* The device says whether it takes work; the time it spends paused (its
 * owner's policy: battery, heat, hours) is added up.  0 while connected
 * only: a device that goes away stops counting. */
void
device_set_accepting(struct device *d, int accepting)
{
	double	now = now_mono();

	if (d->paused_since > 0 && (accepting || !d->online)) {
		d->suspended_total += now - d->paused_since;
		d->paused_since = 0;
	}
	if (!accepting && d->online && d->paused_since == 0)
		d->paused_since = now;
	d->accepting = accepting;
}

/* Seconds the device has spent paused since the main node started. */
double
device_suspended_seconds(const struct device *d)
{
	return (d->suspended_total + (d->paused_since > 0 ?
	    now_mono() - d->paused_since : 0));
}
