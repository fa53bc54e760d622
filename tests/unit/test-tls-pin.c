/* SPDX-License-Identifier: ISC */
/*
 * test-tls-pin.c -- a main node's chain checked against a pin
 * (protocol/tls-pin.c), with certificates made here: the cluster's CA and
 * the server certificate it signed pass; a chain without the pinned CA,
 * and a server certificate signed by another key behind the pinned CA (a
 * man in the middle who copied the CA certificate but not its key), fail
 * with the hashes the error messages show.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls-pin.h"

/* A certificate for key, named cn, signed by signer (self if NULL). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *signer,
    int ca, long serial)
{
	X509		*x = X509_new();
	X509_NAME	*name;
	X509_EXTENSION	*ext;
	X509V3_CTX	 v3;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : name);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    ca ? "critical,CA:TRUE" : "CA:FALSE");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (ca) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
		    "critical,keyCertSign,cRLSign");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, signer != NULL ? signer : key,
	    EVP_sha256()) > 0);
	return (x);
}

static void
test_pin_check_chain(void **state)
{
	EVP_PKEY	*ca_key, *other_key, *srv_key;
	X509		*ca, *other_ca, *srv, *forged;
	STACK_OF(X509)	*chain;
	char		 pin[PIN_HEX + 1], other_pin[PIN_HEX + 1];
	char		 got[PIN_HEX + 1], leaf[PIN_HEX + 1];
	char		 forged_hash[PIN_HEX + 1];

	(void)state;
	ca_key = EVP_EC_gen("P-256");
	other_key = EVP_EC_gen("P-256");
	srv_key = EVP_EC_gen("P-256");
	assert_non_null(ca_key);
	assert_non_null(other_key);
	assert_non_null(srv_key);
	ca = make_cert(ca_key, "encore cluster CA", NULL, NULL, 1, 1);
	other_ca = make_cert(other_key, "another cluster CA", NULL, NULL, 1,
	    1);
	srv = make_cert(srv_key, "encore-main", ca, ca_key, 0, 2);
	/* Names the pinned CA as its issuer, signed by another key. */
	forged = make_cert(srv_key, "encore-main", ca, other_key, 0, 3);

	assert_int_equal(pin_cert_hash(ca, pin), 0);
	assert_int_equal(strlen(pin), PIN_HEX);
	assert_int_equal(pin_cert_hash(other_ca, other_pin), 0);
	assert_string_not_equal(pin, other_pin);
	assert_int_equal(pin_cert_hash(forged, forged_hash), 0);

	chain = sk_X509_new_null();
	sk_X509_push(chain, srv);
	sk_X509_push(chain, ca);
	/* The main node's own chain. */
	assert_int_equal(pin_check_chain(srv, chain, pin, got, leaf), PIN_OK);
	assert_string_equal(got, pin);
	/* A token pinned to another cluster: the CA presented is named. */
	assert_int_equal(pin_check_chain(srv, chain, other_pin, got, leaf),
	    PIN_NO_CA);
	assert_string_equal(got, pin);
	/* The leaf alone (no CA sent), or no chain at all. */
	sk_X509_free(chain);
	chain = sk_X509_new_null();
	sk_X509_push(chain, srv);
	assert_int_equal(pin_check_chain(srv, chain, pin, got, leaf),
	    PIN_NO_CA);
	assert_string_equal(got, "none");
	assert_int_equal(pin_check_chain(srv, NULL, pin, got, leaf),
	    PIN_NO_CA);
	/* The pinned CA copied, the server certificate not signed by it. */
	sk_X509_free(chain);
	chain = sk_X509_new_null();
	sk_X509_push(chain, forged);
	sk_X509_push(chain, ca);
	assert_int_equal(pin_check_chain(forged, chain, pin, got, leaf),
	    PIN_NOT_SIGNED);
	assert_string_equal(got, pin);
	assert_string_equal(leaf, forged_hash);
	/* A leaf that is itself the pinned CA does not count as the CA. */
	sk_X509_free(chain);
	chain = sk_X509_new_null();
	sk_X509_push(chain, ca);
	assert_int_equal(pin_check_chain(ca, chain, pin, got, leaf),
	    PIN_NO_CA);

	sk_X509_free(chain);
	X509_free(ca);
	X509_free(other_ca);
	X509_free(srv);
	X509_free(forged);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(srv_key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin_check_chain),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
