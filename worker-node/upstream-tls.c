/* SPDX-License-Identifier: ISC */
/*
 * upstream-tls.c -- TLS on the worker's link to the main node (README,
 * Security), for a device that holds a pinned token or a pin kept from
 * one (STATE/ca.pin).
 *
 * The TLS is Mbed TLS's, not OpenSSL's: a worker must fit a Pi 1, and
 * OpenSSL's client costs an idle worker some 3 MiB of RSS (its provider
 * and method tables, built at the first context), Mbed TLS's about
 * 0.5 MiB (README, Performance).  The session sits in a libevent filter
 * over the socket's bufferevent: ciphertext in the socket's buffers,
 * plaintext lines in the filter's, so upstream.c reads and writes lines
 * as it does in plaintext.
 *
 * The worker speaks TLS 1.2 (ECDHE with ChaCha20-Poly1305 or AES-GCM,
 * the main node's key is P-256) and checks the main node's chain as soon
 * as the handshake is done, before anything of its own crosses: the main
 * node sends its server certificate and the cluster CA
 * (main-node/tls.c); the CA whose DER hashes to the pin must be in that
 * chain, and the server certificate must verify under that CA alone.
 * The handshake itself proves the main node holds the server
 * certificate's key.  A chain that fails gets a fatal alert and the
 * connection is dropped: no line of ours was ever encrypted for it.
 *
 * Neither names nor dates are checked: the CA is the cluster's own and
 * signs only its main node, so a peer that proves it holds a key that CA
 * certified is the main node whatever address reached it (a DHCP address
 * that changed, a .local name); and a Pi without a real-time clock boots
 * in 1970, which must not lock it out.
 *
 * One connection at a time: the configuration is made once, each
 * connection gets its own session, freed with the filter.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include "mbedtls-compat.h"
#include "protocol.h"
#include "worker.h"

#define UPSTREAM_TLS_CHUNK	4096	/* plaintext bytes per record sent */
#define UPSTREAM_TLS_READ	(16 * 1024) /* plaintext read at once */

/* One connection's session.  sock is the socket's bufferevent (owned by
 * the filter, which owns this too). */
struct upstream_tls_conn {
	mbedtls_ssl_context	 ssl;
	struct bufferevent	*sock;
	struct bufferevent	*filter;
	int			 done;		/* handshake done and checked */
	int			 failed;	/* fatal error: nothing more */
};

static mbedtls_ssl_config	upstream_tls_conf;
static int			upstream_tls_ready;
static struct upstream_tls_check upstream_tls_last;
static int			upstream_tls_err;	/* last error, 0 none */
static struct upstream_tls_conn	*upstream_tls_cur;	/* the connection's */
static char			upstream_tls_want[CRED_PIN_HEX + 1];

/*
 * The suites offered: ChaCha20-Poly1305, then AES-128-GCM for a main node
 * without it.  The main node picks by its own order (OpenSSL's ranks
 * ChaCha20 above AES-128-GCM), so ChaCha20 it is: Mbed TLS 2.28 runs it
 * faster than its AES-GCM even with AES-NI (440 against 270 MB/s on one
 * core of the README's machine), and a Pi's ARM core has no AES
 * instructions at all.  No AES-256-GCM: OpenSSL ranks it first.
 */
static int upstream_tls_suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	0
};

/* Names of the errors a handshake with the wrong peer meets. */
static const struct {
	int		 code;
	const char	*text;
} upstream_tls_errors[] = {
	{ MBEDTLS_ERR_SSL_INVALID_RECORD, "invalid record (the peer does not "
	    "speak TLS)" },
	{ MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE, "the peer refused the "
	    "handshake (a fatal alert)" },
	{ MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY, "the peer closed the session" },
	{ MBEDTLS_ERR_SSL_INVALID_MAC, "a record failed its integrity "
	    "check" },
#ifdef MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE
	{ MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE, "no cipher suite in "
	    "common" },
#endif
#ifdef MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION
	{ MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION, "the peer offers no "
	    "TLS 1.2" },
#endif
	{ MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, "the main node's certificate "
	    "failed the check against the pin" },
};

/* A Mbed TLS error code (negative) as words into buf. */
const char *
upstream_tls_describe(int err, char *buf, size_t size)
{
	char	text[160];
	size_t	i;

	if (err == 0) {
		snprintf(buf, size, "no details from Mbed TLS");
		return (buf);
	}
	for (i = 0; i < sizeof upstream_tls_errors /
	    sizeof upstream_tls_errors[0]; i++) {
		if (upstream_tls_errors[i].code == err) {
			snprintf(buf, size, "%s", upstream_tls_errors[i].text);
			return (buf);
		}
	}
	mbedtls_strerror(err, text, sizeof text);
	snprintf(buf, size, "%s (Mbed TLS error -0x%04x)", text,
	    (unsigned int)-err);
	return (buf);
}

/* The SHA-256 of a certificate's DER in hex into hex[CRED_PIN_HEX + 1]. */
static void
upstream_tls_hash(const mbedtls_x509_crt *crt, char *hex)
{
	struct hash	*h = hash_new();

	hash_update(h, crt->raw.p, crt->raw.len);
	hash_final(h, hex);
	hash_free(h);
}

/*
 * Check the chain a main node presented (peer: its certificate, then the
 * others it sent) against pin, into r.  Pure: the worker's unit test
 * runs it on forged chains.
 */
enum upstream_tls_result
upstream_tls_check_chain(const struct mbedtls_x509_crt *peer,
    const char *pin, struct upstream_tls_check *r)
{
	const mbedtls_x509_crt	*c, *pinned = NULL;
	mbedtls_x509_crt	 ca;
	uint32_t		 flags = 0;
	char			 hash[CRED_PIN_HEX + 1];
	int			 ret;

	memset(r, 0, sizeof *r);
	snprintf(r->want, sizeof r->want, "%s", pin);
	snprintf(r->got, sizeof r->got, "none");
	snprintf(r->leaf, sizeof r->leaf, "unknown");
	r->result = UPSTREAM_TLS_NO_CA;
	if (peer == NULL)
		return (r->result);
	for (c = peer->next; c != NULL && c->raw.len > 0; c = c->next) {
		upstream_tls_hash(c, hash);
		snprintf(r->got, sizeof r->got, "%s", hash);
		if (strcmp(hash, pin) == 0) {
			pinned = c;
			break;
		}
	}
	if (pinned == NULL)
		return (r->result);

	/* The leaf under the pinned CA alone (a copy: the chain's own
	 * entries are linked to each other), dates not looked at. */
	mbedtls_x509_crt_init(&ca);
	r->result = UPSTREAM_TLS_NOT_SIGNED;
	if (mbedtls_x509_crt_parse_der(&ca, pinned->raw.p,
	    pinned->raw.len) == 0) {
		ret = mbedtls_x509_crt_verify((mbedtls_x509_crt *)peer, &ca,
		    NULL, NULL, &flags, NULL, NULL);
		flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED |
		    MBEDTLS_X509_BADCERT_FUTURE);
		if ((ret == 0 || ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) &&
		    flags == 0 && mbedtls_x509_crt_check_extended_key_usage(
		    peer, MBEDTLS_OID_SERVER_AUTH,
		    MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) == 0)
			r->result = UPSTREAM_TLS_OK;
	}
	mbedtls_x509_crt_free(&ca);
	if (r->result != UPSTREAM_TLS_OK)
		upstream_tls_hash(peer, r->leaf);
	return (r->result);
}

/* Random bytes for Mbed TLS, from the kernel (cred.c). */
static int
upstream_tls_random(void *arg, unsigned char *out, size_t len)
{
	return (cred_random(out, len) == 0 ? 0 : -1);
}

/* Records to the socket: all of them, into its output buffer. */
static int
upstream_tls_send(void *arg, const unsigned char *buf, size_t len)
{
	struct upstream_tls_conn	*t = arg;

	if (evbuffer_add(bufferevent_get_output(t->sock), buf, len) != 0)
		return (MBEDTLS_ERR_SSL_ALLOC_FAILED);
	return ((int)len);
}

/* Records from the socket: what its input buffer holds. */
static int
upstream_tls_recv(void *arg, unsigned char *buf, size_t len)
{
	struct upstream_tls_conn	*t = arg;
	int				 n;

	n = evbuffer_remove(bufferevent_get_input(t->sock), buf, len);
	if (n <= 0)
		return (MBEDTLS_ERR_SSL_WANT_READ);
	return (n);
}

/* A fatal error on the connection: kept for upstream_tls_why, then an
 * error event (deferred, like every callback of the link). */
static enum bufferevent_filter_result
upstream_tls_fail(struct upstream_tls_conn *t, int err)
{
	t->failed = 1;
	upstream_tls_err = err;
	bufferevent_trigger_event(t->filter, err ==
	    MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? BEV_EVENT_EOF|
	    BEV_EVENT_READING : BEV_EVENT_ERROR|BEV_EVENT_READING, 0);
	return (BEV_ERROR);
}

/* The handshake went as far as it could; once done, check the chain. */
static enum bufferevent_filter_result
upstream_tls_handshake(struct upstream_tls_conn *t)
{
	const mbedtls_x509_crt	*peer;
	int			 ret;

	ret = mbedtls_ssl_handshake(&t->ssl);
	if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
	    ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return (BEV_OK);
	if (ret != 0)
		return (upstream_tls_fail(t, ret));
	peer = mbedtls_ssl_get_peer_cert(&t->ssl);
	if (upstream_tls_check_chain(peer, upstream_tls_want,
	    &upstream_tls_last) != UPSTREAM_TLS_OK) {
		mbedtls_ssl_send_alert_message(&t->ssl,
		    MBEDTLS_SSL_ALERT_LEVEL_FATAL,
		    MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
		return (upstream_tls_fail(t, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED));
	}
	t->done = 1;
	bufferevent_trigger_event(t->filter, BEV_EVENT_CONNECTED, 0);
	return (BEV_OK);
}

/* A bufferevent's high watermark for what (EV_READ or EV_WRITE), 0 if
 * none.  The filters stop at these rather than at libevent's limit
 * argument (room left, not a length), so that they stop exactly where
 * libevent's filter loop does, which calls again until they are reached. */
static size_t
upstream_tls_high(struct bufferevent *bev, short what)
{
	size_t	low, high = 0;

	if (bufferevent_getwatermark(bev, what, &low, &high) != 0)
		return (0);
	return (high);
}

/*
 * Ciphertext in, plaintext out.  A record's plaintext is taken whole once
 * begun; no new record is begun past the filter's read watermark (the
 * socket still holds it, and libevent calls again when the lines are
 * read).
 */
static enum bufferevent_filter_result
upstream_tls_in(struct evbuffer *src, struct evbuffer *dst,
    ev_ssize_t limit, enum bufferevent_flush_mode mode, void *arg)
{
	struct upstream_tls_conn	*t = arg;
	enum bufferevent_filter_result	 res;
	unsigned char			 buf[UPSTREAM_TLS_READ];
	size_t				 high;
	int				 ret;

	if (t->failed)
		return (BEV_ERROR);
	if (!t->done) {
		if ((res = upstream_tls_handshake(t)) != BEV_OK || !t->done)
			return (res);
	}
	high = upstream_tls_high(t->filter, EV_READ);
	for (;;) {
		if (mbedtls_ssl_get_bytes_avail(&t->ssl) == 0 && high > 0 &&
		    evbuffer_get_length(dst) >= high)
			return (BEV_OK);
		ret = mbedtls_ssl_read(&t->ssl, buf, sizeof buf);
		if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
		    ret == MBEDTLS_ERR_SSL_WANT_WRITE)
			return (BEV_OK);
		if (ret == 0)
			ret = MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY;
		if (ret < 0)
			return (upstream_tls_fail(t, ret));
		if (evbuffer_add(dst, buf, (size_t)ret) != 0)
			return (upstream_tls_fail(t, MBEDTLS_ERR_SSL_ALLOC_FAILED));
	}
}

/* Plaintext in, records out: no more past the socket's write watermark
 * (libevent calls again as it drains), and nothing before the chain is
 * checked (upstream.c writes nothing before BEV_EVENT_CONNECTED; "need
 * more", not "ok", so that libevent does not call again at once). */
static enum bufferevent_filter_result
upstream_tls_out(struct evbuffer *src, struct evbuffer *dst,
    ev_ssize_t limit, enum bufferevent_flush_mode mode, void *arg)
{
	struct upstream_tls_conn	*t = arg;
	unsigned char			*p;
	size_t				 n, high;
	int				 ret;

	if (t->failed)
		return (BEV_ERROR);
	if (!t->done)
		return (BEV_NEED_MORE);
	high = upstream_tls_high(t->sock, EV_WRITE);
	while ((n = evbuffer_get_length(src)) > 0) {
		if (high > 0 && evbuffer_get_length(dst) >= high)
			return (BEV_OK);
		if (n > UPSTREAM_TLS_CHUNK)
			n = UPSTREAM_TLS_CHUNK;
		if ((p = evbuffer_pullup(src, (ev_ssize_t)n)) == NULL)
			return (upstream_tls_fail(t, MBEDTLS_ERR_SSL_ALLOC_FAILED));
		ret = mbedtls_ssl_write(&t->ssl, p, n);
		if (ret == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    ret == MBEDTLS_ERR_SSL_WANT_READ)
			return (BEV_NEED_MORE);
		if (ret < 0)
			return (upstream_tls_fail(t, ret));
		evbuffer_drain(src, (size_t)ret);
	}
	return (BEV_OK);
}

/* Free a connection's session (with its filter). */
static void
upstream_tls_free(void *arg)
{
	struct upstream_tls_conn	*t = arg;

	if (upstream_tls_cur == t)
		upstream_tls_cur = NULL;
	mbedtls_ssl_free(&t->ssl);
	free(t);
}

/* Set up the client configuration (once; the first connection that
 * needs it).  0, or -1 with *cause. */
static int
upstream_tls_init(char **cause)
{
	char	err[256];
	int	ret;

	if (upstream_tls_ready)
		return (0);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
	if (psa_crypto_init() != PSA_SUCCESS) {
		xasprintf(cause, "cannot set up TLS: PSA crypto init failed");
		return (-1);
	}
#endif
	mbedtls_ssl_config_init(&upstream_tls_conf);
	if ((ret = mbedtls_ssl_config_defaults(&upstream_tls_conf,
	    MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
	    MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		mbedtls_ssl_config_free(&upstream_tls_conf);
		xasprintf(cause, "cannot set up TLS: %s",
		    upstream_tls_describe(ret, err, sizeof err));
		return (-1);
	}
	COMPAT_SET_TLS12_ONLY(&upstream_tls_conf);
	/* The chain is checked against the pin once the handshake is
	 * done (upstream_tls_check_chain), not against a CA store. */
	mbedtls_ssl_conf_authmode(&upstream_tls_conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_rng(&upstream_tls_conf, upstream_tls_random, NULL);
	mbedtls_ssl_conf_ciphersuites(&upstream_tls_conf, upstream_tls_suites);
#ifdef MBEDTLS_SSL_SESSION_TICKETS
	mbedtls_ssl_conf_session_tickets(&upstream_tls_conf,
	    MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
	upstream_tls_ready = 1;
	return (0);
}

/*
 * Put the TCP connection sock under TLS, checked against pin: the filter
 * bufferevent the link reads and writes from now on (it owns sock), or
 * NULL with *cause (sock is then still the caller's).  The handshake
 * starts at once; the filter reports BEV_EVENT_CONNECTED once the chain
 * is checked, an error event otherwise (upstream_tls_result says whether
 * the chain was refused, upstream_tls_why what else went wrong).
 */
struct bufferevent *
upstream_tls_wrap(struct bufferevent *sock, const char *pin, char **cause)
{
	struct upstream_tls_conn	*t;
	char				 err[256];
	int				 ret;

	if (upstream_tls_init(cause) != 0)
		return (NULL);
	snprintf(upstream_tls_want, sizeof upstream_tls_want, "%s", pin);
	memset(&upstream_tls_last, 0, sizeof upstream_tls_last);
	upstream_tls_err = 0;

	t = xcalloc(1, sizeof *t);
	t->sock = sock;
	mbedtls_ssl_init(&t->ssl);
	if ((ret = mbedtls_ssl_setup(&t->ssl, &upstream_tls_conf)) != 0) {
		mbedtls_ssl_free(&t->ssl);
		free(t);
		xasprintf(cause, "cannot set up TLS: %s",
		    upstream_tls_describe(ret, err, sizeof err));
		return (NULL);
	}
	mbedtls_ssl_set_bio(&t->ssl, t, upstream_tls_send, upstream_tls_recv,
	    NULL);
	t->filter = bufferevent_filter_new(sock, upstream_tls_in,
	    upstream_tls_out, BEV_OPT_CLOSE_ON_FREE|BEV_OPT_DEFER_CALLBACKS,
	    upstream_tls_free, t);
	if (t->filter == NULL) {
		upstream_tls_free(t);
		xasprintf(cause, "cannot create a TLS bufferevent");
		return (NULL);
	}
	upstream_tls_cur = t;
	/* The client hello, into the socket's buffer. */
	upstream_tls_handshake(t);
	return (t->filter);
}

/* What the last handshake's chain check found (borrowed). */
const struct upstream_tls_check *
upstream_tls_result(void)
{
	return (&upstream_tls_last);
}

/* The last connection's TLS error as words into buf, or NULL when it
 * had none (the socket's own error or EOF is then the reason). */
const char *
upstream_tls_why(char *buf, size_t size)
{
	if (upstream_tls_err == 0)
		return (NULL);
	return (upstream_tls_describe(upstream_tls_err, buf, size));
}

/* The current session's protocol and cipher suite, for the log, into
 * buf. */
const char *
upstream_tls_session(char *buf, size_t size)
{
	struct upstream_tls_conn	*t = upstream_tls_cur;

	if (t == NULL || !t->done)
		snprintf(buf, size, "protocol=none cipher=none");
	else
		snprintf(buf, size, "protocol=%s cipher=%s",
		    mbedtls_ssl_get_version(&t->ssl),
		    mbedtls_ssl_get_ciphersuite(&t->ssl));
	return (buf);
}

/* Free the configuration (at exit). */
void
upstream_tls_stop(void)
{
	if (upstream_tls_ready)
		mbedtls_ssl_config_free(&upstream_tls_conf);
	upstream_tls_ready = 0;
}
