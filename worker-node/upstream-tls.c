/* SPDX-License-Identifier: ISC */
/*
 * upstream-tls.c -- TLS on the worker's link to the main node (README,
 * Security), for a device that holds a pinned token or a pin kept from
 * one (STATE/ca.pin).
 *
 * The worker speaks TLS 1.2 or later and checks the main node's chain
 * during the handshake, before anything of its own crosses: the main
 * node sends its server certificate and the cluster CA (main-node/tls.c);
 * the CA whose DER hashes to the pin must be in that chain, and the
 * server certificate must verify under that CA alone.  The handshake
 * itself proves the main node holds the server certificate's key.
 *
 * Neither names nor dates are checked: the CA is the cluster's own and
 * signs only its main node, so a peer that proves it holds a key that CA
 * certified is the main node whatever address reached it (a DHCP address
 * that changed, a .local name); and a Pi without a real-time clock boots
 * in 1970, which must not lock it out.
 *
 * Footprint (a Pi 1): one context for the process, no session cache,
 * buffers released while idle (SSL_MODE_RELEASE_BUFFERS), records of at
 * most 4 KiB sent, and OpenSSL's error strings not loaded (some 400 KiB
 * of RSS): the few errors a worker meets are named from a table here,
 * any other by its code for `openssl errstr`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "protocol.h"
#include "tls-pin.h"
#include "worker.h"

#define UPSTREAM_TLS_SEND_FRAGMENT	4096	/* bytes per record sent */

/* The one context, and what the last handshake's check found (one
 * connection at a time). */
static SSL_CTX			*upstream_tls_ctx;
static struct upstream_tls_check upstream_tls_last;
static char			 upstream_tls_want[CRED_PIN_HEX + 1];

/* Names of the errors a handshake with the wrong peer meets. */
static const struct {
	int		 reason;
	const char	*text;
} upstream_tls_reasons[] = {
	{ SSL_R_WRONG_VERSION_NUMBER, "wrong version number (the peer does "
	    "not speak TLS)" },
	{ SSL_R_PACKET_LENGTH_TOO_LONG, "packet length too long (the peer "
	    "does not speak TLS)" },
	{ SSL_R_RECORD_LENGTH_MISMATCH, "record length mismatch" },
	{ SSL_R_BAD_RECORD_TYPE, "bad record type" },
	{ SSL_R_HTTP_REQUEST, "the peer speaks HTTP" },
	{ SSL_R_UNEXPECTED_EOF_WHILE_READING, "the peer closed the "
	    "connection during the handshake" },
	{ SSL_R_UNSUPPORTED_PROTOCOL, "unsupported protocol (the peer "
	    "offers no TLS 1.2 or later)" },
	{ SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, "the peer refused TLS 1.2 "
	    "and later" },
	{ SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, "the peer refused the "
	    "handshake" },
	{ SSL_R_TLSV1_ALERT_INTERNAL_ERROR, "the peer had an internal "
	    "error" },
	{ SSL_R_TLSV1_ALERT_DECODE_ERROR, "the peer could not decode our "
	    "handshake" },
	{ SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC, "a record failed its "
	    "integrity check" },
	{ SSL_R_CERTIFICATE_VERIFY_FAILED, "the main node's certificate "
	    "failed the check against the pin" },
	{ SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM, "no signature algorithm "
	    "in common" },
};

/* An OpenSSL error code as words into buf. */
const char *
upstream_tls_describe(unsigned long e, char *buf, size_t size)
{
	size_t	i;

	if (e == 0) {
		snprintf(buf, size, "no details from OpenSSL");
		return (buf);
	}
	if (ERR_GET_LIB(e) == ERR_LIB_SSL) {
		for (i = 0; i < sizeof upstream_tls_reasons /
		    sizeof upstream_tls_reasons[0]; i++) {
			if (upstream_tls_reasons[i].reason == ERR_GET_REASON(e)) {
				snprintf(buf, size, "%s",
				    upstream_tls_reasons[i].text);
				return (buf);
			}
		}
	}
	if (ERR_SYSTEM_ERROR(e))
		snprintf(buf, size, "%s", strerror(ERR_GET_REASON(e)));
	else
		snprintf(buf, size, "OpenSSL error %08lx (openssl errstr "
		    "%08lx says what it is)", e, e);
	return (buf);
}

/*
 * OpenSSL's certificate check, replaced: the chain must hold the pinned
 * CA and the server certificate must verify under it.  Returns 1 to go
 * on with the handshake, 0 to abort it (the reason in upstream_tls_last).
 */
static int
upstream_tls_verify_cb(X509_STORE_CTX *xctx, void *arg)
{
	struct upstream_tls_check	*r = &upstream_tls_last;
	X509				*leaf;

	memset(r, 0, sizeof *r);
	snprintf(r->want, sizeof r->want, "%s", upstream_tls_want);
	snprintf(r->got, sizeof r->got, "none");
	if ((leaf = X509_STORE_CTX_get0_cert(xctx)) == NULL) {
		r->result = UPSTREAM_TLS_NO_CA;
		X509_STORE_CTX_set_error(xctx, X509_V_ERR_UNSPECIFIED);
		return (0);
	}
	switch (pin_check_chain(leaf, X509_STORE_CTX_get0_untrusted(xctx),
	    upstream_tls_want, r->got, r->leaf)) {
	case PIN_OK:
		break;
	case PIN_NO_CA:
		r->result = UPSTREAM_TLS_NO_CA;
		X509_STORE_CTX_set_error(xctx,
		    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
		return (0);
	case PIN_NOT_SIGNED:
		r->result = UPSTREAM_TLS_NOT_SIGNED;
		X509_STORE_CTX_set_error(xctx,
		    X509_V_ERR_CERT_SIGNATURE_FAILURE);
		return (0);
	}
	r->result = UPSTREAM_TLS_OK;
	X509_STORE_CTX_set_error(xctx, X509_V_OK);
	return (1);
}

/* Set up the client context (once; the first connection that needs it).
 * 0, or -1 with *cause. */
static int
upstream_tls_init(char **cause)
{
	SSL_CTX	*ctx;
	char	 err[256];

	if (upstream_tls_ctx != NULL)
		return (0);
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS|
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		SSL_CTX_free(ctx);
		goto fail;
	}
	/* Our callback is the whole check; VERIFY_PEER makes its "no"
	 * abort the handshake. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, upstream_tls_verify_cb, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_max_send_fragment(ctx, UPSTREAM_TLS_SEND_FRAGMENT);
	upstream_tls_ctx = ctx;
	return (0);
fail:
	xasprintf(cause, "cannot set up TLS: %s",
	    upstream_tls_error(err, sizeof err));
	return (-1);
}

/* A new client session that will check the main node against pin, or
 * NULL with *cause (caller frees). */
SSL *
upstream_tls_new(const char *pin, char **cause)
{
	SSL	*ssl;
	char	 err[256];

	if (upstream_tls_init(cause) != 0)
		return (NULL);
	snprintf(upstream_tls_want, sizeof upstream_tls_want, "%s", pin);
	memset(&upstream_tls_last, 0, sizeof upstream_tls_last);
	if ((ssl = SSL_new(upstream_tls_ctx)) == NULL) {
		xasprintf(cause, "cannot set up TLS: %s",
		    upstream_tls_error(err, sizeof err));
		return (NULL);
	}
	return (ssl);
}

/* What the last handshake's chain check found (borrowed). */
const struct upstream_tls_check *
upstream_tls_result(void)
{
	return (&upstream_tls_last);
}

/* The most specific OpenSSL error queued, as words into buf (the
 * queue is emptied). */
const char *
upstream_tls_error(char *buf, size_t size)
{
	unsigned long	e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	return (upstream_tls_describe(last, buf, size));
}

/* Free the context (at exit). */
void
upstream_tls_stop(void)
{
	if (upstream_tls_ctx != NULL)
		SSL_CTX_free(upstream_tls_ctx);
	upstream_tls_ctx = NULL;
}
