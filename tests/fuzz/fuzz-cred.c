/* SPDX-License-Identifier: ISC */
/*
 * fuzz-cred.c -- libFuzzer target: the input as a join token (--token,
 * --token-file), as STATE/ca.pin and as STATE/join.secret
 * (worker-node/cred.c).  Checks that a pinned token's pin is 64 lower-case
 * hex digits and its secret a non-empty tail of the input, that a bare
 * token is all of it, that a pin read from a file is 64 lower-case hex
 * digits, and that a secret read from a file is 16..256 printable bytes
 * found in the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "../../worker-node/worker.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* 1 if s is CRED_PIN_HEX lower-case hex digits. */
static int
is_pin(const char *s)
{
	return (strlen(s) == CRED_PIN_HEX &&
	    strspn(s, "0123456789abcdef") == CRED_PIN_HEX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*text, *cause = NULL, *s;
	char		 pin[CRED_PIN_HEX + 1];
	const char	*secret;
	int		 rc;

	if ((text = malloc(size + 1)) == NULL)
		return (0);
	memcpy(text, data, size);
	text[size] = '\0';

	rc = cred_token_parse(text, pin, &secret, &cause);
	if (rc == 1 && (!is_pin(pin) || *secret == '\0' ||
	    secret < text || secret > text + strlen(text)))
		abort();
	if (rc == 0 && (pin[0] != '\0' || secret != text))
		abort();
	if (rc == -1 && (cause == NULL || pin[0] != '\0'))
		abort();
	if (rc != -1 && cause != NULL)
		abort();
	free(cause);

	if (cred_pin_parse((const char *)data, size, pin) == 0) {
		if (!is_pin(pin))
			abort();
	} else if (pin[0] != '\0')
		abort();

	if ((s = cred_secret_parse((const char *)data, size)) != NULL) {
		if (strlen(s) < 16 || strlen(s) > PROTO_TOKEN_MAX ||
		    memmem(data, size, s, strlen(s)) == NULL)
			abort();
		free(s);
	}
	free(text);
	return (0);
}
