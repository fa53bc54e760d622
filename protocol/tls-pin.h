/* SPDX-License-Identifier: ISC */
/*
 * tls-pin.h -- checking a main node's certificate chain against the pin
 * of a token (README "Security"): the SHA-256 of the cluster CA in DER.
 * Used by the clients (encore, encore-top); the main node hashes its CA
 * with the same function to write its tokens.  The worker checks its
 * chain the same way with Mbed TLS (worker-node/upstream-tls.c).  Needs
 * OpenSSL (libcrypto), so it is a library of its own (libtlspin.a), not
 * part of libprotocol.
 */
#ifndef TLS_PIN_H
#define TLS_PIN_H

#include <openssl/x509.h>

#define PIN_HEX		64	/* hex digits of a pin */

enum pin_result {
	PIN_OK,
	PIN_NO_CA,		/* no CA in the chain hashes to the pin */
	PIN_NOT_SIGNED,		/* the pinned CA did not sign the leaf */
};

/* The SHA-256 of cert's DER in hex into buf[PIN_HEX + 1] ("unknown" on
 * failure); 0, or -1 on error. */
int		pin_cert_hash(X509 *cert, char *buf);
/* Whether leaf, with the other certificates the peer sent (chain, may be
 * NULL), verifies under the CA of the chain whose hash is pin.  got
 * (PIN_HEX + 1) receives the hash of the last CA the chain holds, or
 * "none"; on PIN_NOT_SIGNED leaf_hash (PIN_HEX + 1) the leaf's. */
enum pin_result	pin_check_chain(X509 *leaf, STACK_OF(X509) *chain,
		    const char *pin, char *got, char *leaf_hash);

#endif
