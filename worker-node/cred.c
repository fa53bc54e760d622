/* SPDX-License-Identifier: ISC */
/*
 * cred.c -- the worker's credentials in text: the join token, bare or
 * pinned ("ENC1:<64 hex: SHA-256 of the cluster CA in DER>:<secret>",
 * README "Security"), the pin kept in STATE/ca.pin once the device has
 * joined a cluster that speaks TLS, and the join secret this device made
 * for itself (STATE/join.secret, protocol/PROTOCOL.md "register").
 *
 * The parsers are pure (libFuzzer target fuzz-cred); the state dir files
 * are written 0600, atomically.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"
#include "worker.h"

#define CRED_PIN_PREFIX		"ENC1:"
#define CRED_SECRET_BYTES	32	/* random bytes of a new join secret */
#define CRED_SECRET_MIN		16	/* protocol/PROTOCOL.md, register */

/*
 * Split a token into its pin (lower-case hex into pin[CRED_PIN_HEX + 1])
 * and its secret (a pointer into token).  Returns 1 for a pinned token, 0
 * for a bare one (pin empty, the secret is all of it), -1 with *cause
 * (caller frees) for text that starts like a pinned token but is not one.
 */
int
cred_token_parse(const char *token, char *pin, const char **secret,
    char **cause)
{
	const char	*p;
	size_t		 i, plen = strlen(CRED_PIN_PREFIX);

	*secret = token;
	pin[0] = '\0';
	if (strncmp(token, CRED_PIN_PREFIX, plen) != 0)
		return (0);
	p = token + plen;
	for (i = 0; i < CRED_PIN_HEX && isxdigit((unsigned char)p[i]); i++)
		pin[i] = (char)tolower((unsigned char)p[i]);
	pin[i] = '\0';
	if (i != CRED_PIN_HEX || p[i] != ':' || p[i + 1] == '\0') {
		pin[0] = '\0';
		xasprintf(cause, "the join token starts with %s but is not "
		    "%s<64 hex digits>:<secret>: copy join.token again from "
		    "the main node's state dir", CRED_PIN_PREFIX,
		    CRED_PIN_PREFIX);
		return (-1);
	}
	*secret = p + i + 1;
	return (1);
}

/* Strip white space at both ends of s (in place); returns the start. */
static char *
cred_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return (s);
}

/* The pin in a ca.pin file's text (len bytes, not NUL-terminated) into
 * pin[CRED_PIN_HEX + 1]: 0, or -1 when it is not 64 hex digits. */
int
cred_pin_parse(const char *data, size_t len, char *pin)
{
	char	buf[CRED_PIN_HEX + 8], *s;
	size_t	i;

	pin[0] = '\0';
	if (len >= sizeof buf)
		return (-1);
	memcpy(buf, data, len);
	buf[len] = '\0';
	if (strlen(buf) != len)
		return (-1);	/* a NUL inside */
	s = cred_trim(buf);
	if (strlen(s) != CRED_PIN_HEX)
		return (-1);
	for (i = 0; i < CRED_PIN_HEX; i++) {
		if (!isxdigit((unsigned char)s[i])) {
			pin[0] = '\0';
			return (-1);
		}
		pin[i] = (char)tolower((unsigned char)s[i]);
	}
	pin[i] = '\0';
	return (0);
}

/* The join secret in a join.secret file's text (len bytes) as a new
 * string, or NULL when it is not 16..256 printable characters. */
char *
cred_secret_parse(const char *data, size_t len)
{
	char	 buf[PROTO_TOKEN_MAX + 8], *s, *p;

	if (len >= sizeof buf)
		return (NULL);
	memcpy(buf, data, len);
	buf[len] = '\0';
	if (strlen(buf) != len)
		return (NULL);
	s = cred_trim(buf);
	if (strlen(s) < CRED_SECRET_MIN || strlen(s) > PROTO_TOKEN_MAX)
		return (NULL);
	for (p = s; *p != '\0'; p++) {
		if (!isgraph((unsigned char)*p))
			return (NULL);
	}
	return (xstrdup(s));
}

/* Read at most size - 1 bytes of path into buf; the length, or -1 with
 * errno (ENOENT: no such file). */
static ssize_t
cred_read(const char *path, char *buf, size_t size)
{
	ssize_t	n;
	int	fd, saved;

	if ((fd = open(path, O_RDONLY|O_CLOEXEC|O_NOFOLLOW)) == -1)
		return (-1);
	n = read(fd, buf, size - 1);
	saved = errno;
	close(fd);
	errno = saved;
	if (n >= 0)
		buf[n] = '\0';
	return (n);
}

/*
 * The pin kept in dir/ca.pin into pin[CRED_PIN_HEX + 1].  Returns 1 when
 * there is one, 0 when there is no file, -1 with *cause when the file is
 * there but unreadable or damaged (the worker must not fall back to
 * plaintext then).
 */
int
cred_pin_load(const char *dir, char *pin, char **cause)
{
	char	*path, buf[CRED_PIN_HEX + 64];
	ssize_t	 n;
	int	 rc = 1;

	pin[0] = '\0';
	xasprintf(&path, "%s/ca.pin", dir);
	if ((n = cred_read(path, buf, sizeof buf)) == -1) {
		if (errno == ENOENT)
			rc = 0;
		else {
			xasprintf(cause, "cannot read %s: %s", path,
			    strerror(errno));
			rc = -1;
		}
	} else if (cred_pin_parse(buf, (size_t)n, pin) != 0) {
		xasprintf(cause, "%s is damaged (it should hold the 64 hex "
		    "digits of the cluster CA's SHA-256): start the worker "
		    "with --token-file FILE, a fresh copy of the main node's "
		    "join.token, which writes it again", path);
		rc = -1;
	}
	free(path);
	return (rc);
}

/* Keep pin in dir/ca.pin (0600, atomically, synced); 0 or -1 with
 * errno. */
int
cred_pin_store(const char *dir, const char *pin)
{
	char	*path, *data;
	int	 rc;

	xasprintf(&path, "%s/ca.pin", dir);
	xasprintf(&data, "%s\n", pin);
	rc = worker_write_file(path, data, strlen(data), WF_SYNC);
	free(data);
	free(path);
	return (rc);
}

/*
 * Fill buf with size random bytes from the kernel: 0 or -1.  getrandom(2)
 * by its system call number, as Android's libc before API 28 has no
 * wrapper; /dev/urandom where the kernel has no such call.  Not OpenSSL's
 * RAND_bytes: setting up its generator costs a plaintext worker some
 * 2 MiB of RSS for 32 bytes.  Also Mbed TLS's generator
 * (upstream-tls.c).
 */
int
cred_random(unsigned char *buf, size_t size)
{
	size_t	off = 0;
	ssize_t	n;
	int	fd;

#ifdef SYS_getrandom
	while (off < size) {
		n = syscall(SYS_getrandom, buf + off, size - off, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off == size)
		return (0);
#endif
	if ((fd = open("/dev/urandom", O_RDONLY|O_CLOEXEC)) == -1)
		return (-1);
	while (off < size) {
		n = read(fd, buf + off, size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	return (off == size ? 0 : -1);
}

/*
 * This device's join secret, from dir/join.secret, made on first use (32
 * random bytes from the kernel in hex; 0600, created atomically).  Returns it (caller
 * frees), or NULL with *cause.
 */
char *
cred_secret_load(const char *dir, char **cause)
{
	unsigned char	 rnd[CRED_SECRET_BYTES];
	char		*path, *s, hex[2 * CRED_SECRET_BYTES + 2];
	char		 buf[PROTO_TOKEN_MAX + 64];
	ssize_t		 n;
	size_t		 i;

	xasprintf(&path, "%s/join.secret", dir);
	if ((n = cred_read(path, buf, sizeof buf)) >= 0) {
		if ((s = cred_secret_parse(buf, (size_t)n)) == NULL)
			xasprintf(cause, "%s is damaged (it should hold 16 to "
			    "256 printable characters): delete it and start "
			    "again; a device that has no device.key yet must "
			    "then be removed on the main node first (encore "
			    "remove ID)", path);
		free(path);
		return (s);
	}
	if (errno != ENOENT) {
		xasprintf(cause, "cannot read %s: %s", path, strerror(errno));
		free(path);
		return (NULL);
	}
	if (cred_random(rnd, sizeof rnd) != 0) {
		xasprintf(cause, "cannot make a join secret: no random bytes "
		    "from the kernel (is /dev/urandom readable?)");
		free(path);
		return (NULL);
	}
	for (i = 0; i < sizeof rnd; i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	explicit_bzero(rnd, sizeof rnd);
	hex[2 * CRED_SECRET_BYTES] = '\n';
	hex[2 * CRED_SECRET_BYTES + 1] = '\0';
	if (worker_write_file(path, hex, strlen(hex), WF_SYNC) != 0) {
		xasprintf(cause, "cannot write %s: %s", path, strerror(errno));
		free(path);
		explicit_bzero(hex, sizeof hex);
		return (NULL);
	}
	log_info("event=join_secret_created path=\"%s\"", path);
	free(path);
	hex[2 * CRED_SECRET_BYTES] = '\0';
	s = xstrdup(hex);
	explicit_bzero(hex, sizeof hex);
	return (s);
}
