/* SPDX-License-Identifier: ISC */
/*
 * tls-pin.c -- a certificate chain checked against a pin (tls-pin.h).
 *
 * OpenSSL's own chain building is not used: the pin names the one CA to
 * trust, whatever the system's store holds, so the leaf is verified under
 * a store holding that CA alone (no time check: a Pi without a clock
 * after a power cut must still join; the pin, not the dates, is what
 * binds the main node).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls-pin.h"

int
pin_cert_hash(X509 *cert, char *buf)
{
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 len = 0, i;
	int		 n;

	snprintf(buf, PIN_HEX + 1, "unknown");
	if ((n = i2d_X509(cert, &der)) <= 0)
		return (-1);
	if (EVP_Digest(der, (size_t)n, md, &len, EVP_sha256(), NULL) != 1 ||
	    len != PIN_HEX / 2) {
		OPENSSL_free(der);
		return (-1);
	}
	OPENSSL_free(der);
	for (i = 0; i < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", md[i]);
	return (0);
}

/* 1 if leaf verifies under ca alone (chain: what else the peer sent). */
static int
pin_signed_by(X509 *leaf, STACK_OF(X509) *chain, X509 *ca)
{
	X509_STORE	*store;
	X509_STORE_CTX	*ctx;
	int		 ok = 0;

	if ((store = X509_STORE_new()) == NULL)
		return (0);
	if ((ctx = X509_STORE_CTX_new()) == NULL) {
		X509_STORE_free(store);
		return (0);
	}
	if (X509_STORE_add_cert(store, ca) == 1 &&
	    X509_STORE_CTX_init(ctx, store, leaf, chain) == 1) {
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
		ok = (X509_verify_cert(ctx) == 1);
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return (ok);
}

enum pin_result
pin_check_chain(X509 *leaf, STACK_OF(X509) *chain, const char *pin,
    char *got, char *leaf_hash)
{
	X509	*cert, *ca = NULL;
	char	 hash[PIN_HEX + 1];
	int	 i, n;

	snprintf(got, PIN_HEX + 1, "none");
	snprintf(leaf_hash, PIN_HEX + 1, "unknown");
	n = chain != NULL ? sk_X509_num(chain) : 0;
	for (i = 0; i < n; i++) {
		cert = sk_X509_value(chain, i);
		if (cert == leaf || X509_check_ca(cert) == 0 ||
		    pin_cert_hash(cert, hash) != 0)
			continue;
		snprintf(got, PIN_HEX + 1, "%s", hash);
		if (strcmp(hash, pin) == 0) {
			ca = cert;
			break;
		}
	}
	if (ca == NULL)
		return (PIN_NO_CA);
	if (!pin_signed_by(leaf, chain, ca)) {
		pin_cert_hash(leaf, leaf_hash);
		return (PIN_NOT_SIGNED);
	}
	return (PIN_OK);
}
