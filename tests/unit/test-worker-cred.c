/* SPDX-License-Identifier: ISC */
/*
 * test-worker-cred.c -- the worker's credentials (worker-node/cred.c):
 * splitting a join token into pin and secret, reading STATE/ca.pin and
 * STATE/join.secret as a power cut or a hand may leave them, each as a
 * table; and the state dir files themselves (made once, 0600, kept).
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol.h"
#include "../../worker-node/worker.h"

#define PIN_A	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"
#define PIN_U	"0123456789ABCDEF0123456789ABCDEF" \
		"0123456789ABCDEF0123456789ABCDEF"

/* Token text -> result, pin, secret. */
struct token_case {
	const char	*name;
	const char	*token;
	int		 rc;
	const char	*pin;
	const char	*secret;
};

static const struct token_case token_cases[] = {
	{ "bare", "s3cr3t-join-token", 0, "", "s3cr3t-join-token" },
	{ "bare-with-colons", "a:b:c", 0, "", "a:b:c" },
	{ "pinned", "ENC1:" PIN_A ":secret", 1, PIN_A, "secret" },
	{ "pinned-upper-hex", "ENC1:" PIN_U ":secret", 1, PIN_A, "secret" },
	{ "pinned-secret-with-colon", "ENC1:" PIN_A ":a:b", 1, PIN_A, "a:b" },
	{ "lower-case-prefix-is-bare", "enc1:" PIN_A ":x", 0, "",
	    "enc1:" PIN_A ":x" },
	{ "short-pin", "ENC1:0123:secret", -1, "", NULL },
	{ "long-pin", "ENC1:" PIN_A "0:secret", -1, "", NULL },
	{ "not-hex", "ENC1:" "g123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef:secret", -1, "", NULL },
	{ "no-secret", "ENC1:" PIN_A ":", -1, "", NULL },
	{ "no-colon", "ENC1:" PIN_A, -1, "", NULL },
	{ "prefix-only", "ENC1:", -1, "", NULL },
};

static void
test_token_parse(void **state)
{
	char		 pin[CRED_PIN_HEX + 1];
	const char	*secret;
	char		*cause;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof token_cases / sizeof token_cases[0]; i++) {
		const struct token_case *c = &token_cases[i];

		cause = NULL;
		memset(pin, 'x', sizeof pin);
		rc = cred_token_parse(c->token, pin, &secret, &cause);
		if (rc != c->rc || strcmp(pin, c->pin) != 0)
			fail_msg("%s: rc %d pin '%s'", c->name, rc, pin);
		if (rc >= 0 && strcmp(secret, c->secret) != 0)
			fail_msg("%s: secret '%s'", c->name, secret);
		if (rc < 0) {
			assert_non_null(cause);
			assert_non_null(strstr(cause, "join.token"));
		} else
			assert_null(cause);
		free(cause);
	}
}

/* ca.pin text -> result and pin. */
struct pin_case {
	const char	*name;
	const char	*data;
	size_t		 len;
	int		 rc;
	const char	*pin;
};

static const struct pin_case pin_cases[] = {
	{ "plain", PIN_A, 64, 0, PIN_A },
	{ "newline", PIN_A "\n", 65, 0, PIN_A },
	{ "blanks", "  " PIN_U "\r\n", 68, 0, PIN_A },
	{ "empty", "", 0, -1, "" },
	{ "short", "0123\n", 5, -1, "" },
	{ "long", PIN_A "00\n", 67, -1, "" },
	{ "nul-inside", PIN_A "\0\n", 66, -1, "" },
	{ "not-hex", "z123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef", 64, -1, "" },
	{ "not-hex-inside", "01234z6789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef", 64, -1, "" },
	{ "two-lines", "0123456789abcdef0123456789abcdef\n"
	    "0123456789abcdef0123456789abcdef", 65, -1, "" },
};

static void
test_pin_parse(void **state)
{
	char	pin[CRED_PIN_HEX + 1];
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof pin_cases / sizeof pin_cases[0]; i++) {
		const struct pin_case *c = &pin_cases[i];

		rc = cred_pin_parse(c->data, c->len, pin);
		if (rc != c->rc || strcmp(pin, c->pin) != 0)
			fail_msg("%s: rc %d pin '%s'", c->name, rc, pin);
	}
}

/* join.secret text -> the secret or NULL. */
struct secret_case {
	const char	*name;
	const char	*data;
	const char	*secret;
};

static const struct secret_case secret_cases[] = {
	{ "hex", "00112233445566778899aabbccddeeff\n",
	    "00112233445566778899aabbccddeeff" },
	{ "sixteen", "0123456789abcdef", "0123456789abcdef" },
	{ "fifteen", "0123456789abcde\n", NULL },
	{ "inner-space", "0123456789 abcdef0123", NULL },
	{ "control", "0123456789\x01" "abcdef0123", NULL },
	{ "empty", "", NULL },
};

static void
test_secret_parse(void **state)
{
	char	*s, big[400];
	size_t	 i;

	for (i = 0; i < sizeof secret_cases / sizeof secret_cases[0]; i++) {
		const struct secret_case *c = &secret_cases[i];

		s = cred_secret_parse(c->data, strlen(c->data));
		if (c->secret == NULL && s != NULL)
			fail_msg("%s: got '%s'", c->name, s);
		if (c->secret != NULL && (s == NULL ||
		    strcmp(s, c->secret) != 0))
			fail_msg("%s: got '%s'", c->name, s ? s : "NULL");
		free(s);
	}
	memset(big, 'a', sizeof big);
	assert_non_null(s = cred_secret_parse(big, PROTO_TOKEN_MAX));
	free(s);
	assert_null(cred_secret_parse(big, PROTO_TOKEN_MAX + 1));
	assert_null(cred_secret_parse("0123456789abcdef\0x", 18));
}

/* A fresh temporary state dir (caller frees and removes). */
static char *
tmp_state(void)
{
	char	*dir;

	dir = strdup("/tmp/encore-test-cred.XXXXXX");
	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return (dir);
}

static void
test_secret_file(void **state)
{
	struct stat	 st;
	char		*dir, *path, *a, *b, *cause = NULL, other[80];
	FILE		*f;

	dir = tmp_state();
	assert_non_null(a = cred_secret_load(dir, &cause));
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	xasprintf(&path, "%s/join.secret", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Kept: the same on the next start. */
	assert_non_null(b = cred_secret_load(dir, &cause));
	assert_string_equal(a, b);
	free(b);
	/* Another state dir, another secret. */
	{
		char	*dir2 = tmp_state();

		assert_non_null(b = cred_secret_load(dir2, &cause));
		assert_string_not_equal(a, b);
		free(b);
		xasprintf(&b, "%s/join.secret", dir2);
		unlink(b);
		free(b);
		rmdir(dir2);
		free(dir2);
	}
	/* Damaged: said, not replaced. */
	assert_non_null(f = fopen(path, "w"));
	fputs("short\n", f);
	fclose(f);
	assert_null(cred_secret_load(dir, &cause));
	assert_non_null(cause);
	assert_non_null(strstr(cause, "damaged"));
	free(cause);
	cause = NULL;
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(other, sizeof other, f));
	fclose(f);
	assert_string_equal(other, "short\n");
	unlink(path);
	free(path);
	free(a);
	rmdir(dir);
	free(dir);
}

static void
test_pin_file(void **state)
{
	struct stat	 st;
	char		*dir, *path, *cause = NULL;
	char		 pin[CRED_PIN_HEX + 1];
	FILE		*f;

	dir = tmp_state();
	xasprintf(&path, "%s/ca.pin", dir);
	assert_int_equal(cred_pin_load(dir, pin, &cause), 0);
	assert_string_equal(pin, "");
	assert_int_equal(cred_pin_store(dir, PIN_A), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(cred_pin_load(dir, pin, &cause), 1);
	assert_string_equal(pin, PIN_A);
	/* Damaged: an error, never "no pin" (that would mean plaintext). */
	assert_non_null(f = fopen(path, "w"));
	fputs("garbage\n", f);
	fclose(f);
	assert_int_equal(cred_pin_load(dir, pin, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "join.token"));
	free(cause);
	unlink(path);
	free(path);
	rmdir(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_parse),
		cmocka_unit_test(test_pin_parse),
		cmocka_unit_test(test_secret_parse),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_pin_file),
	};

	log_init("test-worker-cred", LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
