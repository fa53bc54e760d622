/* SPDX-License-Identifier: ISC */
/*
 * client-tls.c -- TLS for the operator clients (README, Security).
 *
 * A pinned token reads "ENC1:<pin>:<secret>", the pin being the SHA-256
 * of the cluster CA's certificate in DER (64 hex).  With one, the client
 * speaks only TLS (1.2 or later): it completes the handshake, finds in
 * the chain the main node sent (its server certificate and the CA, see
 * main-node/tls.c) the CA whose hash is the pin, checks that the server
 * certificate is signed by that CA, and only then sends the secret.
 *
 * No name is checked beyond the pin: the CA is the cluster's own and
 * signs only its main node's certificate, its key never leaves the main
 * node's state dir, so a server that proves it holds a key certified by
 * that CA is the main node whatever address reached it (an IP that
 * changed, a .local name, a NAT).  Nor are the certificates' dates: an
 * old device without a clock (a Pi without RTC boots in 1970) must not
 * be locked out, and the pin, not the date, is what anchors the trust.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "client.h"
#include "tls-pin.h"

/* Parse a token into its pin and secret. */
int
client_token_parse(const char *token, char *pin, const char **secret,
    char **cause)
{
	const char	*p;
	size_t		 i;

	*secret = token;
	pin[0] = '\0';
	if (strncmp(token, CLIENT_PIN_PREFIX, strlen(CLIENT_PIN_PREFIX)) != 0)
		return (0);
	p = token + strlen(CLIENT_PIN_PREFIX);
	for (i = 0; i < CLIENT_PIN_HEX; i++) {
		if (!isxdigit((unsigned char)p[i]))
			break;
		pin[i] = (char)tolower((unsigned char)p[i]);
	}
	pin[i] = '\0';
	if (i != CLIENT_PIN_HEX || p[i] != ':' || p[i + 1] == '\0') {
		pin[0] = '\0';
		xasprintf(cause, "the operator token starts with %s but is "
		    "not %s<64 hex digits>:<secret>; copy operator.token "
		    "again from the main node's state dir",
		    CLIENT_PIN_PREFIX, CLIENT_PIN_PREFIX);
		return (-1);
	}
	*secret = p + i + 1;
	return (1);
}

/* The OpenSSL error queue as one line into buf (and emptied). */
const char *
client_tls_error(char *buf, size_t size)
{
	unsigned long	e, last = 0;

	/* The last error is the most specific one. */
	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		snprintf(buf, size, "no details from OpenSSL");
	else
		ERR_error_string_n(last, buf, size);
	return (buf);
}

/* A new client-side TLS session: TLS 1.2 or later, no verification by
 * OpenSSL (client_tls_check does it against the pin). */
SSL *
client_tls_new(char **cause)
{
	SSL_CTX	*ctx;
	SSL	*ssl = NULL;
	char	 buf[256];

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* A main node that closes without close_notify has still said
	 * what it said; the lines themselves tell whether they are whole. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	ssl = SSL_new(ctx);
fail:
	if (ssl == NULL)
		xasprintf(cause, "cannot set up TLS: %s",
		    client_tls_error(buf, sizeof buf));
	SSL_CTX_free(ctx);	/* the session holds its own reference */
	return (ssl);
}

/* Check a completed handshake's chain against the pin. */
int
client_tls_check(SSL *ssl, const char *pin, const char *addr, char **cause)
{
	STACK_OF(X509)	*chain;
	X509		*leaf;
	char		 got[PIN_HEX + 1], hash[PIN_HEX + 1];

	chain = SSL_get_peer_cert_chain(ssl);
	leaf = SSL_get0_peer_certificate(ssl);
	if (chain == NULL || leaf == NULL) {
		xasprintf(cause, "the main node at %s sent no certificate; "
		    "check that --main names an encore main node", addr);
		return (-1);
	}
	switch (pin_check_chain(leaf, chain, pin, got, hash)) {
	case PIN_OK:
		return (0);
	case PIN_NO_CA:
		xasprintf(cause, "the main node at %s is not the one the token "
		    "was made for: the token pins the cluster CA %s, the main "
		    "node presents CA %s; nothing secret was sent.  Copy "
		    "operator.token again from the main node's state dir (its "
		    "CA changes only when the state dir is made anew, e.g. "
		    "a reinstall), and check that --main names that main node",
		    addr, pin, got);
		return (-1);
	case PIN_NOT_SIGNED:
		break;
	}
	xasprintf(cause, "the main node at %s presents the pinned CA %s but a "
	    "server certificate (SHA-256 %s) that this CA did not sign; "
	    "nothing secret was sent.  Something between us and the main "
	    "node is not what it claims: check --main, or run encore-main "
	    "--rotate-server-cert on the main node", addr, pin, hash);
	return (-1);
}
