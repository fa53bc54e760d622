/* SPDX-License-Identifier: ISC */
/*
 * mbedtls-compat.h -- the few Mbed TLS calls whose names changed between
 * the 2.28 long-term branch (Debian 12) and 3.x (Termux, newer Debians),
 * so that upstream-tls.c reads the same under both.  Mbed TLS 4 moved
 * its crypto to PSA only and is not supported yet.
 */
#ifndef MBEDTLS_COMPAT_H
#define MBEDTLS_COMPAT_H

#include <mbedtls/version.h>

#if MBEDTLS_VERSION_NUMBER >= 0x04000000
#error "Mbed TLS 4 is not supported yet: build with Mbed TLS 2.28 or 3.x"
#endif

#if MBEDTLS_VERSION_NUMBER < 0x03020000
/* 2.28 to 3.1: the version bounds by major/minor. */
#define COMPAT_SET_TLS12_ONLY(conf) do {				\
	mbedtls_ssl_conf_min_version((conf), MBEDTLS_SSL_MAJOR_VERSION_3,	\
	    MBEDTLS_SSL_MINOR_VERSION_3);				\
	mbedtls_ssl_conf_max_version((conf), MBEDTLS_SSL_MAJOR_VERSION_3,	\
	    MBEDTLS_SSL_MINOR_VERSION_3);				\
} while (0)
#else
/* 3.2 on: TLS versions by number. */
#define COMPAT_SET_TLS12_ONLY(conf) do {				\
	mbedtls_ssl_conf_min_tls_version((conf), MBEDTLS_SSL_VERSION_TLS1_2); \
	mbedtls_ssl_conf_max_tls_version((conf), MBEDTLS_SSL_VERSION_TLS1_2); \
} while (0)
#endif

#endif
