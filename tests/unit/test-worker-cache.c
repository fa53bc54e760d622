/* SPDX-License-Identifier: ISC */
/*
 * test-worker-cache.c -- the worker's pure file parts: the cache index
 * format (cache_index_parse / _format / _header) as a table of texts a
 * crash or a hand may leave, and SHA-256 (hash.c) against the standard's
 * vectors, whole and in pieces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"
#include "../../worker-node/worker.h"

/* worker-node.c is not in libworker.a: its globals live here. */
struct worker_conf	 wconf;
struct event_base	*worker_base;
int			 worker_exiting;

#define A64	"abababababababababababababababababababababababababababababababab"
#define E64	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct index_case {
	const char	*name;
	const char	*text;
	const char	*boot;
	size_t		 n;		/* entries parsed */
	int64_t		 size0;		/* of the first */
};

static const struct index_case index_cases[] = {
	{ "two entries", "encore-cache 1 b00t\n" A64 " 5 17 99\n" E64
	    " 0 0 1\n", "b00t", 2, 5 },
	{ "no header", A64 " 5 17 99\n", "", 0, 0 },
	{ "other version", "encore-cache 2 b\n" A64 " 5 17 99\n", "", 0, 0 },
	{ "header only", "encore-cache 1 -\n", "-", 0, 0 },
	{ "cut last line", "encore-cache 1 b\n" A64 " 5 17 99\n" E64 " 0 0",
	    "b", 1, 5 },
	{ "upper case hash", "encore-cache 1 b\n"
	    "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB"
	    " 5 17 99\n", "b", 0, 0 },
	{ "short hash", "encore-cache 1 b\nabab 5 17 99\n", "b", 0, 0 },
	{ "negative size", "encore-cache 1 b\n" A64 " -5 17 99\n", "b", 0, 0 },
	{ "missing field", "encore-cache 1 b\n" A64 " 5 17\n", "b", 0, 0 },
	{ "extra field", "encore-cache 1 b\n" A64 " 5 17 99 1\n", "b", 0, 0 },
	{ "trailing blank", "encore-cache 1 b\n" A64 " 5 17 99 \n", "b", 0,
	    0 },
	{ "19 digits", "encore-cache 1 b\n" A64
	    " 5 9223372036854775807 99\n", "b", 1, 5 },
	{ "past INT64_MAX", "encore-cache 1 b\n" A64
	    " 5 9223372036854775808 99\n", "b", 0, 0 },
	{ "20 digits", "encore-cache 1 b\n" A64
	    " 5 00000000000000000001 99\n", "b", 0, 0 },
	{ "bad line kept out", "encore-cache 1 b\nnonsense\n" A64
	    " 7 1 2\n", "b", 1, 7 },
	{ "blank in boot id", "encore-cache 1 a b\n" A64 " 5 1 2\n", "", 1,
	    5 },
};

/* Each text parses to what it should. */
static void
test_index_parse(void **state)
{
	struct cache_rec	*v;
	char			 boot[64];
	size_t			 i, n;

	for (i = 0; i < sizeof index_cases / sizeof index_cases[0]; i++) {
		const struct index_case	*c = &index_cases[i];

		v = cache_index_parse(c->text, strlen(c->text), boot,
		    sizeof boot, &n);
		if (n != c->n || strcmp(boot, c->boot) != 0 ||
		    (n > 0 && v[0].size != c->size0))
			fail_msg("%s: %zu entries, boot \"%s\"; want %zu, "
			    "\"%s\"", c->name, n, boot, c->n, c->boot);
		free(v);
	}
}

/* Written out, read back: the same. */
static void
test_index_round_trip(void **state)
{
	struct cache_rec	 r, *v;
	char			 buf[512], boot[64];
	int			 k, l;
	size_t			 n;

	memset(&r, 0, sizeof r);
	memcpy(r.sha, E64, sizeof r.sha);
	r.size = 1073741824;
	r.mtime_ns = 1764540000123456789LL;
	r.used = 1764540000;
	k = cache_index_header("0e0c-boot", buf, sizeof buf);
	assert_true(k > 0);
	l = cache_index_format(&r, buf + k, sizeof buf - (size_t)k);
	assert_true(l > 0);
	v = cache_index_parse(buf, (size_t)(k + l), boot, sizeof boot, &n);
	assert_int_equal(n, 1);
	assert_string_equal(boot, "0e0c-boot");
	assert_string_equal(v[0].sha, E64);
	assert_true(v[0].size == r.size && v[0].mtime_ns == r.mtime_ns &&
	    v[0].used == r.used);
	free(v);
	/* No boot id: "-" keeps the header well formed. */
	k = cache_index_header("", buf, sizeof buf);
	assert_string_equal(buf, "encore-cache 1 -\n");
	/* A line that does not fit is refused, not cut. */
	assert_int_equal(cache_index_format(&r, buf, 20), -1);
}

/* SHA-256 of the FIPS 180-2 vectors, whole and fed in odd pieces. */
static void
test_hash_vectors(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;
	} v[] = {
		{ "", E64 },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff"
		    "61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd4"
		    "19db06c1" },
	};
	struct hash	*h = hash_new();
	char		 hex[PROTO_SHA256_HEX + 1];
	size_t		 i, j, len;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		hash_update(h, v[i].in, strlen(v[i].in));
		hash_final(h, hex);
		assert_string_equal(hex, v[i].want);
		/* Final resets: in pieces of 1, 2, 3 ... bytes. */
		len = strlen(v[i].in);
		for (j = 0; j < len; j += j % 7 + 1)
			hash_update(h, v[i].in + j, j + j % 7 + 1 > len ?
			    len - j : j % 7 + 1);
		hash_final(h, hex);
		assert_string_equal(hex, v[i].want);
	}
	hash_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_parse),
		cmocka_unit_test(test_index_round_trip),
		cmocka_unit_test(test_hash_vectors),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
