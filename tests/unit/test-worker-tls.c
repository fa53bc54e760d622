/* SPDX-License-Identifier: ISC */
/*
 * test-worker-tls.c -- the worker's check of a main node's chain against
 * the pin (upstream_tls_check_chain, worker-node/upstream-tls.c), on
 * certificates made here with OpenSSL and read back by Mbed TLS as the
 * handshake would hand them over (the server's certificate, then the
 * others it sent).  The cluster's own chain passes; a chain without the
 * pinned CA, a server certificate signed by another key behind a copy of
 * the pinned CA (a man in the middle), a certificate meant for clients
 * and a pinned certificate that is no CA fail, with the hashes the log
 * shows.  Dates are not checked: a Pi without a real-time clock boots in
 * 1970, so a certificate not yet valid, or no longer, still passes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mbedtls/x509_crt.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "protocol.h"
#include "../../worker-node/worker.h"

/* worker-node.c is not in libworker.a: its globals live here. */
struct worker_conf	 wconf;
struct event_base	*worker_base;
int			 worker_exiting;

#define DAY	86400L

/* A certificate to make: NULL extensions are left out. */
struct spec {
	const char	*cn;
	EVP_PKEY	*key;
	X509		*issuer;	/* NULL: self-issued */
	EVP_PKEY	*signer;	/* NULL: key (self-signed) */
	const char	*bc;		/* basicConstraints */
	const char	*ku;		/* keyUsage */
	const char	*eku;		/* extendedKeyUsage */
	long		 from, to;	/* validity, seconds from now */
	long		 serial;
};

/* The cluster's CA and another cluster's, made for each test. */
struct fixture {
	EVP_PKEY	*ca_key, *other_key, *srv_key;
	X509		*ca, *other_ca;
	char		 pin[CRED_PIN_HEX + 1], other_pin[CRED_PIN_HEX + 1];
};

#define CA_BC	"critical,CA:TRUE,pathlen:0"
#define CA_KU	"critical,keyCertSign,cRLSign"
#define SRV_BC	"critical,CA:FALSE"
#define SRV_KU	"critical,digitalSignature"

static void
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION	*ext;

	if (value == NULL)
		return;
	ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* An X509 v3 certificate as s says (as main-node/tls.c makes them). */
static X509 *
make_cert(const struct spec *s)
{
	X509		*x = X509_new();
	X509_NAME	*name;
	X509V3_CTX	 v3;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial);
	X509_gmtime_adj(X509_getm_notBefore(x), s->from);
	X509_gmtime_adj(X509_getm_notAfter(x), s->to);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"encore", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)s->cn, -1, -1, 0);
	X509_set_issuer_name(x, s->issuer != NULL ?
	    X509_get_subject_name(s->issuer) : name);
	X509_set_pubkey(x, s->key);
	X509V3_set_ctx(&v3, s->issuer != NULL ? s->issuer : x, x, NULL, NULL,
	    0);
	add_ext(x, &v3, NID_basic_constraints, s->bc);
	add_ext(x, &v3, NID_key_usage, s->ku);
	add_ext(x, &v3, NID_ext_key_usage, s->eku);
	assert_true(X509_sign(x, s->signer != NULL ? s->signer : s->key,
	    EVP_sha256()) > 0);
	return (x);
}

/* A CA for key, self-signed, valid from an hour ago for ten years. */
static X509 *
make_ca(EVP_PKEY *key, const char *cn)
{
	struct spec	s = { .cn = cn, .key = key, .bc = CA_BC, .ku = CA_KU,
			    .from = -3600, .to = 3650 * DAY, .serial = 1 };

	return (make_cert(&s));
}

/* A server certificate for key under issuer, signed by signer, with eku,
 * valid from..to. */
static X509 *
make_srv(EVP_PKEY *key, X509 *issuer, EVP_PKEY *signer, const char *eku,
    long from, long to)
{
	struct spec	s = { .cn = "encore-main", .key = key, .issuer = issuer,
			    .signer = signer, .bc = SRV_BC, .ku = SRV_KU,
			    .eku = eku, .from = from, .to = to, .serial = 2 };

	return (make_cert(&s));
}

/* The SHA-256 of x's DER in lowercase hex, as a pin. */
static void
cert_hash(X509 *x, char *hex)
{
	unsigned char	*der = NULL, md[SHA256_DIGEST_LENGTH];
	int		 len, i;

	len = i2d_X509(x, &der);
	assert_true(len > 0);
	SHA256(der, (size_t)len, md);
	OPENSSL_free(der);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Append x to a Mbed TLS chain, in DER. */
static void
chain_add(mbedtls_x509_crt *chain, X509 *x)
{
	unsigned char	*der = NULL;
	int		 len;

	len = i2d_X509(x, &der);
	assert_true(len > 0);
	assert_int_equal(mbedtls_x509_crt_parse_der(chain, der, (size_t)len),
	    0);
	OPENSSL_free(der);
}

/* Check the chain leaf, a, b (a and b may be NULL) against pin into r. */
static enum upstream_tls_result
check(X509 *leaf, X509 *a, X509 *b, const char *pin,
    struct upstream_tls_check *r)
{
	mbedtls_x509_crt		chain;
	enum upstream_tls_result	result;

	mbedtls_x509_crt_init(&chain);
	chain_add(&chain, leaf);
	if (a != NULL)
		chain_add(&chain, a);
	if (b != NULL)
		chain_add(&chain, b);
	result = upstream_tls_check_chain(&chain, pin, r);
	mbedtls_x509_crt_free(&chain);
	assert_int_equal(r->result, result);
	assert_string_equal(r->want, pin);
	return (result);
}

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof *f);

	assert_non_null(f);
	assert_non_null(f->ca_key = EVP_EC_gen("P-256"));
	assert_non_null(f->other_key = EVP_EC_gen("P-256"));
	assert_non_null(f->srv_key = EVP_EC_gen("P-256"));
	f->ca = make_ca(f->ca_key, "encore cluster CA");
	f->other_ca = make_ca(f->other_key, "another cluster CA");
	cert_hash(f->ca, f->pin);
	cert_hash(f->other_ca, f->other_pin);
	assert_int_equal(strlen(f->pin), CRED_PIN_HEX);
	assert_string_not_equal(f->pin, f->other_pin);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	X509_free(f->ca);
	X509_free(f->other_ca);
	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->other_key);
	EVP_PKEY_free(f->srv_key);
	free(f);
	return (0);
}

/* The main node's own chain passes, wherever the CA is in it. */
static void
test_tls_chain_ok(void **state)
{
	struct fixture			*f = *state;
	struct upstream_tls_check	 r;
	X509				*srv;

	srv = make_srv(f->srv_key, f->ca, f->ca_key, "serverAuth", -3600, DAY);
	assert_int_equal(check(srv, f->ca, NULL, f->pin, &r), UPSTREAM_TLS_OK);
	assert_string_equal(r.got, f->pin);
	assert_int_equal(check(srv, f->other_ca, f->ca, f->pin, &r),
	    UPSTREAM_TLS_OK);
	assert_string_equal(r.got, f->pin);
	X509_free(srv);
}

/* Another cluster's CA (a token for another cluster, or a main node
 * that made a new CA): the CA presented is named. */
static void
test_tls_chain_other_ca(void **state)
{
	struct fixture			*f = *state;
	struct upstream_tls_check	 r;
	X509				*srv;

	srv = make_srv(f->srv_key, f->other_ca, f->other_key, "serverAuth",
	    -3600, DAY);
	assert_int_equal(check(srv, f->other_ca, NULL, f->pin, &r),
	    UPSTREAM_TLS_NO_CA);
	assert_string_equal(r.got, f->other_pin);
	X509_free(srv);
}

/* No CA sent at all, the pinned CA as the leaf itself, or no peer. */
static void
test_tls_chain_no_ca(void **state)
{
	struct fixture			*f = *state;
	struct upstream_tls_check	 r;
	X509				*srv;

	srv = make_srv(f->srv_key, f->ca, f->ca_key, "serverAuth", -3600, DAY);
	assert_int_equal(check(srv, NULL, NULL, f->pin, &r),
	    UPSTREAM_TLS_NO_CA);
	assert_string_equal(r.got, "none");
	assert_int_equal(check(f->ca, NULL, NULL, f->pin, &r),
	    UPSTREAM_TLS_NO_CA);
	assert_string_equal(r.got, "none");
	assert_int_equal(upstream_tls_check_chain(NULL, f->pin, &r),
	    UPSTREAM_TLS_NO_CA);
	assert_int_equal(r.result, UPSTREAM_TLS_NO_CA);
	assert_string_equal(r.want, f->pin);
	assert_string_equal(r.got, "none");
	X509_free(srv);
}

/* The pinned CA copied, the server certificate naming it as issuer but
 * signed by another key: the forged leaf's hash is reported. */
static void
test_tls_chain_forged(void **state)
{
	struct fixture			*f = *state;
	struct upstream_tls_check	 r;
	X509				*forged;
	char				 hash[CRED_PIN_HEX + 1];

	forged = make_srv(f->srv_key, f->ca, f->other_key, "serverAuth",
	    -3600, DAY);
	cert_hash(forged, hash);
	assert_int_equal(check(forged, f->ca, NULL, f->pin, &r),
	    UPSTREAM_TLS_NOT_SIGNED);
	assert_string_equal(r.got, f->pin);
	assert_string_equal(r.leaf, hash);
	X509_free(forged);
}

/* Expired and not yet valid both pass: dates are not checked. */
static void
test_tls_chain_dates(void **state)
{
	struct fixture			*f = *state;
	struct upstream_tls_check	 r;
	X509				*past, *future;

	past = make_srv(f->srv_key, f->ca, f->ca_key, "serverAuth", -2 * DAY,
	    -DAY);
	future = make_srv(f->srv_key, f->ca, f->ca_key, "serverAuth", DAY,
	    2 * DAY);
	assert_int_equal(check(past, f->ca, NULL, f->pin, &r),
	    UPSTREAM_TLS_OK);
	assert_string_equal(r.got, f->pin);
	assert_int_equal(check(future, f->ca, NULL, f->pin, &r),
	    UPSTREAM_TLS_OK);
	assert_string_equal(r.got, f->pin);
	X509_free(past);
	X509_free(future);
}

/* A certificate the CA made for a client is not a server's. */
static void
test_tls_chain_eku(void **state)
{
	struct fixture			*f = *state;
	struct upstream_tls_check	 r;
	X509				*client, *server, *any;
	char				 hash[CRED_PIN_HEX + 1];

	client = make_srv(f->srv_key, f->ca, f->ca_key, "clientAuth", -3600,
	    DAY);
	server = make_srv(f->srv_key, f->ca, f->ca_key, "serverAuth", -3600,
	    DAY);
	any = make_srv(f->srv_key, f->ca, f->ca_key, NULL, -3600, DAY);
	cert_hash(client, hash);
	assert_int_equal(check(client, f->ca, NULL, f->pin, &r),
	    UPSTREAM_TLS_NOT_SIGNED);
	assert_string_equal(r.got, f->pin);
	assert_string_equal(r.leaf, hash);
	assert_int_equal(check(server, f->ca, NULL, f->pin, &r),
	    UPSTREAM_TLS_OK);
	/* No extendedKeyUsage at all: any use (RFC 5280). */
	assert_int_equal(check(any, f->ca, NULL, f->pin, &r),
	    UPSTREAM_TLS_OK);
	X509_free(client);
	X509_free(server);
	X509_free(any);
}

/* A pinned certificate that is no CA (v3, CA:FALSE, though it claims
 * keyCertSign) signs nothing the worker accepts. */
static void
test_tls_chain_not_a_ca(void **state)
{
	struct fixture			*f = *state;
	struct upstream_tls_check	 r;
	struct spec			 s = { .cn = "not a CA",
					    .key = f->ca_key, .bc = "CA:FALSE",
					    .ku = "critical,keyCertSign,"
					    "digitalSignature", .from = -3600,
					    .to = DAY, .serial = 7 };
	X509				*notca, *srv;
	char				 pin[CRED_PIN_HEX + 1];
	char				 hash[CRED_PIN_HEX + 1];

	notca = make_cert(&s);
	srv = make_srv(f->srv_key, notca, f->ca_key, "serverAuth", -3600, DAY);
	cert_hash(notca, pin);
	cert_hash(srv, hash);
	assert_int_equal(check(srv, notca, NULL, pin, &r),
	    UPSTREAM_TLS_NOT_SIGNED);
	assert_string_equal(r.got, pin);
	assert_string_equal(r.leaf, hash);
	X509_free(notca);
	X509_free(srv);

	/* The same with CA:TRUE passes: the CA bit alone made the
	 * difference. */
	s.bc = "critical,CA:TRUE";
	notca = make_cert(&s);
	srv = make_srv(f->srv_key, notca, f->ca_key, "serverAuth", -3600, DAY);
	cert_hash(notca, pin);
	assert_int_equal(check(srv, notca, NULL, pin, &r), UPSTREAM_TLS_OK);
	assert_string_equal(r.got, pin);
	X509_free(notca);
	X509_free(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls_chain_ok, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_chain_other_ca, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_chain_no_ca, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_chain_forged, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_chain_dates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_chain_eku, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls_chain_not_a_ca, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
