/* SPDX-License-Identifier: ISC */
/*
 * tls.c -- the main node's TLS: its own certificate authority and server
 * certificate, made on first start in the state dir, and the pin that
 * tokens carry (README, Security).
 *
 * ca.crt/ca.key: a P-256 key and a self-signed CA certificate (20 years).
 * server.crt/server.key: a P-256 key and a certificate the CA signed for
 * this host's name, localhost, 127.0.0.1, ::1 and the listen address.
 * Keys are written 0600.  The pin is the SHA-256 of ca.crt in DER, in hex:
 * tokens read "ENC1:<pin>:<secret>", and a client that holds one checks
 * the chain the main node presents against it before it sends a secret.
 * --rotate-server-cert makes a new server certificate under the same CA;
 * the pin, and so every token, stays valid.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "main.h"
#include "tls-pin.h"

#define TLS_CA_DAYS	(20 * 365)
#define TLS_SERVER_DAYS	(10 * 365)

static SSL_CTX	*tls_ctx;
static char	 tls_pin[2 * 32 + 1];

/* The OpenSSL error queue as one line, for a cause. */
static const char *
tls_errstr(void)
{
	static char	buf[256];
	unsigned long	e = ERR_get_error();

	if (e == 0)
		return ("unknown error");
	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return (buf);
}

/* A new P-256 key. */
static EVP_PKEY *
tls_keygen(void)
{
	return (EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
}

/* Add an extension to a certificate. */
static int
tls_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509_EXTENSION	*ex;
	X509V3_CTX	 ctx;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return (-1);
	X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return (0);
}

/* A certificate for key, signed by ca_key (self-signed when ca is NULL). */
static X509 *
tls_cert(EVP_PKEY *key, const char *cn, X509 *ca, EVP_PKEY *ca_key,
    int days, const char *san)
{
	X509		*cert = X509_new();
	ASN1_INTEGER	*serial;
	unsigned char	 rnd[16];
	BIGNUM		*bn;

	if (cert == NULL)
		return (NULL);
	X509_set_version(cert, 2);
	RAND_bytes(rnd, sizeof rnd);
	rnd[0] &= 0x7f;
	bn = BN_bin2bn(rnd, sizeof rnd, NULL);
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	X509_set_serialNumber(cert, serial);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "O",
	    MBSTRING_ASC, (const unsigned char *)"encore", -1, -1, 0);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(ca != NULL ? ca :
	    cert));
	if (ca == NULL) {
		if (tls_ext(cert, cert, NID_basic_constraints,
		    "critical,CA:TRUE,pathlen:0") != 0 ||
		    tls_ext(cert, cert, NID_key_usage,
		    "critical,keyCertSign,cRLSign") != 0 ||
		    tls_ext(cert, cert, NID_subject_key_identifier, "hash") != 0)
			goto fail;
	} else {
		if (tls_ext(cert, ca, NID_basic_constraints,
		    "critical,CA:FALSE") != 0 ||
		    tls_ext(cert, ca, NID_key_usage,
		    "critical,digitalSignature") != 0 ||
		    tls_ext(cert, ca, NID_ext_key_usage, "serverAuth") != 0 ||
		    tls_ext(cert, ca, NID_authority_key_identifier,
		    "keyid:always") != 0 ||
		    tls_ext(cert, ca, NID_subject_alt_name, san) != 0)
			goto fail;
	}
	if (X509_sign(cert, ca_key != NULL ? ca_key : key, EVP_sha256()) == 0)
		goto fail;
	return (cert);
fail:
	X509_free(cert);
	return (NULL);
}

/* Write a PEM file (mode 0600 for keys), atomically. */
static int
tls_write(const char *path, X509 *cert, EVP_PKEY *key, char **cause)
{
	char	*tmp;
	FILE	*f;
	int	 fd, ok;

	xasprintf(&tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    key != NULL ? 0600 : 0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		xasprintf(cause, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(tmp);
		return (-1);
	}
	ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
	    NULL) : PEM_write_X509(f, cert);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	fclose(f);
	if (!ok || rename(tmp, path) != 0) {
		xasprintf(cause, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return (-1);
	}
	free(tmp);
	return (0);
}

/* Read a PEM certificate or key; NULL if absent or unreadable. */
static X509 *
tls_read_cert(const char *path)
{
	FILE	*f = fopen(path, "re");
	X509	*c;

	if (f == NULL)
		return (NULL);
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return (c);
}

static EVP_PKEY *
tls_read_key(const char *path)
{
	FILE		*f = fopen(path, "re");
	EVP_PKEY	*k;

	if (f == NULL)
		return (NULL);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return (k);
}

/* The names the server certificate is for. */
static char *
tls_san(const char *listen)
{
	char		 host[256] = "localhost", *h = NULL, *p = NULL;
	char		*san, *cause = NULL;
	unsigned char	 a[16];

	gethostname(host, sizeof host);
	host[sizeof host - 1] = '\0';
	xasprintf(&san, "DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
	    strcmp(host, "localhost") != 0 && *host != '\0' ? ",DNS:" : "",
	    strcmp(host, "localhost") != 0 ? host : "");
	if (listen != NULL && proto_parse_hostport(listen, "7070", &h, &p,
	    &cause) == 0 && *h != '\0' && strcmp(h, "0.0.0.0") != 0 &&
	    strcmp(h, "::") != 0 && strcmp(h, "127.0.0.1") != 0 &&
	    strcmp(h, "localhost") != 0 && strcmp(h, "::1") != 0 &&
	    strcmp(h, host) != 0) {
		char	*t;
		int	 ip = inet_pton(AF_INET, h, a) == 1 ||
			    inet_pton(AF_INET6, h, a) == 1;

		xasprintf(&t, "%s,%s:%s", san, ip ? "IP" : "DNS", h);
		free(san);
		san = t;
	}
	free(h);
	free(p);
	free(cause);
	return (san);
}

/* Make a new server key and certificate signed by the CA. */
static int
tls_make_server(const char *dir, const char *listen, X509 *ca,
    EVP_PKEY *ca_key, char **cause)
{
	EVP_PKEY	*key;
	X509		*cert;
	char		*crt, *kp, *san, host[256] = "encore";
	int		 rc = -1;

	gethostname(host, sizeof host);
	host[sizeof host - 1] = '\0';
	if ((key = tls_keygen()) == NULL) {
		xasprintf(cause, "cannot make a key: %s", tls_errstr());
		return (-1);
	}
	san = tls_san(listen);
	cert = tls_cert(key, host, ca, ca_key, TLS_SERVER_DAYS, san);
	free(san);
	if (cert == NULL) {
		xasprintf(cause, "cannot make the server certificate: %s",
		    tls_errstr());
		EVP_PKEY_free(key);
		return (-1);
	}
	xasprintf(&crt, "%s/server.crt", dir);
	xasprintf(&kp, "%s/server.key", dir);
	if (tls_write(kp, NULL, key, cause) == 0 &&
	    tls_write(crt, cert, NULL, cause) == 0)
		rc = 0;
	free(crt);
	free(kp);
	X509_free(cert);
	EVP_PKEY_free(key);
	return (rc);
}

/*
 * Load the CA and server certificate from the state dir, making them if
 * they are not there (or rotate the server's when asked).  Returns 0, or
 * -1 with *cause.
 */
static int
tls_load(const char *dir, const char *listen, int rotate, char **cause)
{
	X509		*ca;
	EVP_PKEY	*ca_key;
	char		*cap, *cakp, *sp, *skp;
	int		 rc = -1, made = 0;

	xasprintf(&cap, "%s/ca.crt", dir);
	xasprintf(&cakp, "%s/ca.key", dir);
	xasprintf(&sp, "%s/server.crt", dir);
	xasprintf(&skp, "%s/server.key", dir);
	ca = tls_read_cert(cap);
	ca_key = tls_read_key(cakp);
	if (ca == NULL && ca_key == NULL && access(cap, F_OK) != 0) {
		/* First start: a new authority. */
		if ((ca_key = tls_keygen()) == NULL ||
		    (ca = tls_cert(ca_key, "encore cluster CA", NULL, NULL,
		    TLS_CA_DAYS, NULL)) == NULL) {
			xasprintf(cause, "cannot make the cluster CA: %s",
			    tls_errstr());
			goto out;
		}
		if (tls_write(cakp, NULL, ca_key, cause) != 0 ||
		    tls_write(cap, ca, NULL, cause) != 0)
			goto out;
		made = 1;
		log_info("event=tls_ca_created path=%s", cap);
	} else if (ca == NULL || ca_key == NULL ||
	    X509_check_private_key(ca, ca_key) != 1) {
		xasprintf(cause, "%s or %s is missing, unreadable or does not "
		    "match: restore both from a backup of the state dir (the "
		    "tokens pin this CA)", cap, cakp);
		goto out;
	}
	if (made || rotate || access(sp, F_OK) != 0 ||
	    access(skp, F_OK) != 0) {
		if (tls_make_server(dir, listen, ca, ca_key, cause) != 0)
			goto out;
		log_info("event=tls_server_cert path=%s%s", sp, rotate ?
		    " msg=\"rotated under the same CA; tokens stay valid\"" :
		    "");
	}
	if (pin_cert_hash(ca, tls_pin) != 0) {
		xasprintf(cause, "cannot read %s", cap);
		goto out;
	}
	rc = 0;
out:
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	free(cap);
	free(cakp);
	free(sp);
	free(skp);
	return (rc);
}

/* Set up the server side of TLS from the state dir.  0, or -1 with
 * *cause. */
int
tls_start(const char *dir, const char *listen, char **cause)
{
	char	*sp, *skp, *cap;
	X509	*ca = NULL;
	int	 rc = -1;

	if (tls_load(dir, listen, 0, cause) != 0)
		return (-1);
	xasprintf(&sp, "%s/server.crt", dir);
	xasprintf(&skp, "%s/server.key", dir);
	xasprintf(&cap, "%s/ca.crt", dir);
	if ((tls_ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(tls_ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* The chain is the server certificate and the CA, so a client can
	 * check the CA against its pin. */
	if ((ca = tls_read_cert(cap)) == NULL ||
	    SSL_CTX_use_certificate_file(tls_ctx, sp, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_add1_chain_cert(tls_ctx, ca) != 1 ||
	    SSL_CTX_use_PrivateKey_file(tls_ctx, skp, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(tls_ctx) != 1)
		goto fail;
	rc = 0;
	goto out;
fail:
	xasprintf(cause, "TLS from %s: %s; if the server certificate is "
	    "damaged, run encore-main --rotate-server-cert", dir, tls_errstr());
	if (tls_ctx != NULL)
		SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
out:
	X509_free(ca);
	free(sp);
	free(skp);
	free(cap);
	return (rc);
}

/* --rotate-server-cert: a new server certificate under the same CA. */
int
tls_rotate(const char *dir, const char *listen, char **cause)
{
	return (tls_load(dir, listen, 1, cause));
}

/* The CA pin (64 hex characters), once tls_start ran. */
const char *
tls_ca_pin(void)
{
	return (tls_pin);
}

/* A new server-side TLS session, or NULL. */
SSL *
tls_new_session(void)
{
	return (tls_ctx != NULL ? SSL_new(tls_ctx) : NULL);
}

/* Free the server context. */
void
tls_stop(void)
{
	if (tls_ctx != NULL)
		SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
}
