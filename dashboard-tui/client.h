/* SPDX-License-Identifier: ISC */
/*
 * client.h -- the operator side of the cluster port, shared by the `encore`
 * CLI and the `encore-top` dashboard.
 *
 * The pieces are separable so an event-driven program can use only what it
 * needs: client_main_address() and client_find_token() resolve where to go
 * and with what; client_connect() returns a connected fd; client_msg_init()
 * and msg_encode() build request lines; client_reply_result() turns a
 * decoded `reply` or `error` into data or an error.  struct client adds a
 * blocking request/reply loop on top, which is what the CLI uses.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <stdint.h>
#include <stdio.h>

#include "protocol.h"

struct evbuffer;
struct json_object;
struct ssl_st;

#define CLIENT_DEFAULT_MAIN	"127.0.0.1:7070"
#define CLIENT_DEFAULT_PORT	"7070"
#define CLIENT_TOKEN_FILE	"operator.token"

/* A pinned token: "ENC1:<SHA-256 of the cluster CA in DER, hex>:<secret>"
 * (README, Security); client-tls.c. */
#define CLIENT_PIN_PREFIX	"ENC1:"
#define CLIENT_PIN_HEX		64

/*
 * What the clients accept from a main node (README, "Limits"): a reply
 * line of at most CLIENT_REPLY_MAX bytes holding at most
 * CLIENT_JSON_CONTAINERS objects and arrays and CLIENT_JSON_VALUES values
 * (a legitimate listing of 10,000 devices or 100,000 tasks fits; a line
 * of "{}" that would cost a thousand times its size in memory does not),
 * and at most CLIENT_KEEP_MAX events (CLIENT_KEEP_BYTES bytes) before the
 * reply to a request.  Every request is answered within the request
 * timeout, or the main node is taken for gone.
 */
#define CLIENT_REPLY_MAX	(64 * 1024 * 1024)
#define CLIENT_JSON_CONTAINERS	200000
#define CLIENT_JSON_VALUES	2000000
#define CLIENT_KEEP_MAX		10000
#define CLIENT_KEEP_BYTES	(8 * 1024 * 1024)
#define CLIENT_TIMEOUT_MS	30000	/* default request timeout */
#define CLIENT_TIMEOUT_MAX	86400	/* seconds, --request-timeout */

/* Outcome of a blocking client call. */
enum client_result {
	CLIENT_OK = 0,
	CLIENT_REMOTE,		/* the main node answered with an error */
	CLIENT_IO,		/* no connection, it was lost, or the main node
				   sent what we cannot accept */
	CLIENT_TIMEOUT,		/* no complete answer before the deadline */
	CLIENT_INTR,		/* the interrupt fd became readable */
};

/*
 * A blocking session with the main node.  addr is the "host:port" we were
 * given (owned).  fd is non-blocking: every wait is a poll() with a
 * deadline.  ssl (owned) is the TLS session over fd once a pinned token
 * started it, else NULL.  in buffers bytes read but not yet framed
 * (owned); scanned of them are known to hold no newline.  raw_left counts
 * the raw bytes of a file frame (after a `file_data` line) still to come:
 * client_raw() hands them out, and a read of the next message skips what
 * is left of them.  pending holds `event` messages that arrived while a
 * reply was awaited, in order (owned; those from head to n_pending are
 * still to be handed out, pending_cap is its size, pending_bytes the size
 * of their lines); client_next() hands them out first.  intr_fd, when not
 * -1, is watched while waiting: once readable, waits return CLIENT_INTR
 * (a signal handler's self-pipe).
 */
struct client {
	int		 fd;
	struct ssl_st	*ssl;
	char		*addr;
	struct evbuffer	*in;
	size_t		 scanned;
	size_t		 line_len;	/* length of the last line read */
	int64_t		 raw_left;
	unsigned long	 next_id;
	int		 timeout_ms;	/* request deadline */
	int		 intr_fd;
	struct msg	*pending;
	size_t		 head;
	size_t		 n_pending;
	size_t		 pending_cap;
	size_t		 pending_bytes;
};

/*
 * Error of a failed call: for CLIENT_REMOTE the main node's code and
 * message, for CLIENT_IO a message saying what went wrong and what to do.
 */
struct client_error {
	enum proto_code	 code;
	char		 code_name[32];	/* as sent, e.g. "unauthorized" */
	char		 message[PROTO_TEXT_MAX];
};

/* The main node address: flag, else $ENCORE_MAIN, else the default. */
const char	*client_main_address(const char *flag);

/*
 * The operator token: the --token flag, else the first line of the
 * --token-file flag's file, else $ENCORE_TOKEN, else the file named by
 * $ENCORE_TOKEN_FILE, else the first readable operator.token in the local
 * main node's state directories.  Returns a heap string (caller frees), or
 * NULL: with *cause (caller frees) when a named file cannot be used, with
 * *cause NULL when there is no token anywhere.
 */
char		*client_find_token(const char *flag, const char *file_flag,
		    char **cause);
/* Read a token file's first line; NULL with *cause if it cannot be used. */
char		*client_read_token_file(const char *path, char **cause);

/* State directories searched for operator.token, in order; *n gets the
 * count.  Heap strings in a heap array; free with client_free_strings(). */
char		**client_token_dirs(size_t *n);
void		 client_free_strings(char **, size_t);

/*
 * Connect to "host:port" (IPv4, IPv6 or a name) within timeout_ms.
 * Returns a connected, blocking fd, or -1 with *cause (caller frees) like
 * "Connection refused".
 */
int		 client_connect(const char *addr, int timeout_ms, char **cause);

/* Request timeout in ms from a --request-timeout value (NULL: from
 * $ENCORE_REQUEST_TIMEOUT, else the default); -1 if it is not 1..86400. */
int		 client_timeout_parse(const char *flag);

/*
 * Take one line from evb like frame_read_line(), but search only bytes not
 * searched before (*scanned, which the caller keeps per buffer and starts
 * at 0), so a line of many MiB arriving in small reads costs linear time.
 */
enum frame_result client_frame_read(struct evbuffer *evb, size_t max,
		    size_t *scanned, char **line, size_t *len);
/*
 * Check that a reply line would not cost far more memory than its size
 * once parsed: at most CLIENT_JSON_CONTAINERS objects and arrays and
 * CLIENT_JSON_VALUES values.  0 if fine, -1 if not.
 */
int		 client_json_budget(const char *line, size_t len);

/* Start an operator message: envelope (sender, message_id) and type.
 * *next_id supplies the message_id and is incremented. */
void		 client_msg_init(struct msg *, enum msg_type,
		    unsigned long *next_id);
/* Set only the envelope of an already msg_init'ed message. */
void		 client_msg_stamp(struct msg *, unsigned long *next_id);

/*
 * Interpret a decoded message that answers a request.  For a `reply` with
 * ok true, *data gets a new reference to reply.data (caller puts it) and
 * CLIENT_OK is returned.  For ok false or an `error` message, err is filled
 * and CLIENT_REMOTE returned.
 */
enum client_result client_reply_result(const struct msg *,
		    struct json_object **data, struct client_error *err);

/* What an operator should do about an error code from the main node. */
const char	*client_error_hint(const char *code_name);

/* ---- blocking session (the CLI) ---- */

/* Connect to addr within timeout_ms, which also becomes the session's
 * request timeout.  Returns CLIENT_OK, or CLIENT_IO or CLIENT_TIMEOUT with
 * err filled. */
enum client_result client_open(struct client *, const char *addr,
		    int timeout_ms, struct client_error *err);
/* Close the connection and free everything the session holds. */
void		 client_close(struct client *);

/*
 * Send an `auth` with token; CLIENT_OK once the main node accepted it.
 * A pinned token (ENC1:...) first turns the session into TLS and checks
 * the main node's chain against the pin (client_start_tls); only its
 * secret is sent, and only once the pin matched.  A bare token is sent
 * as it is, in plaintext.
 */
enum client_result client_auth(struct client *, const char *token,
		    struct client_error *err);
/*
 * Turn an open session into TLS: handshake within the session's timeout,
 * then check the chain against pin (64 lowercase hex).  CLIENT_OK, or
 * CLIENT_IO / CLIENT_TIMEOUT with err saying why (a pin mismatch names
 * both hashes).
 */
enum client_result client_start_tls(struct client *, const char *pin,
		    struct client_error *err);
/*
 * Hand the session's connection over (encore-top's event loop takes it):
 * *fd and *ssl (NULL for plaintext) become the caller's, bytes already
 * read go to leftover; then the session is closed without closing them.
 */
void		 client_detach(struct client *, int *fd, struct ssl_st **ssl,
		    struct evbuffer *leftover);

/*
 * The raw bytes of a file frame that client_next() just handed out as a
 * `file_data` message (c->raw_left of them): up to size bytes into buf,
 * waiting up to the request timeout for the first.  CLIENT_OK with *n > 0,
 * or an error.
 */
enum client_result client_raw(struct client *, void *buf, size_t size,
		    size_t *n, struct client_error *err);
/* Send a `file_data` line for m and then its len raw bytes from data. */
enum client_result client_send_frame(struct client *, const struct msg *m,
		    const void *data, size_t len, struct client_error *err);
/* 1 if something from the main node can be read now without waiting
 * (a kept event, a buffered line, bytes on the socket or inside TLS). */
int		 client_readable(struct client *);

/*
 * Send req (client_msg_init'ed; message_id set) and wait for the reply to
 * it, at most the session's request timeout in all.  On CLIENT_OK *data is
 * the reply's data (caller puts it).  Events arriving in between are kept
 * for client_next() (up to CLIENT_KEEP_MAX).  req is not freed.
 */
enum client_result client_request(struct client *, struct msg *req,
		    struct json_object **data, struct client_error *err);

/* Build a request of type with no payload, send it, wait for the reply. */
enum client_result client_simple(struct client *, enum msg_type,
		    struct json_object **data, struct client_error *err);

/* Encode and send one message without waiting for anything. */
enum client_result client_send(struct client *, const struct msg *,
		    struct client_error *err);

/*
 * Read the next message (kept events first), blocking up to timeout_ms
 * (-1: forever).  Returns CLIENT_OK with m filled (caller msg_free()s),
 * CLIENT_TIMEOUT, CLIENT_INTR, or CLIENT_IO on EOF or error (err says
 * which).
 */
enum client_result client_next(struct client *, struct msg *m,
		    int timeout_ms, struct client_error *err);

/* ---- client-tls.c ---- */

/*
 * Split a token: 1 if pinned (pin gets its 64 lowercase hex, *secret
 * points to the secret inside token), 0 if bare (*secret is token), -1
 * if it starts with ENC1: but is not a pinned token (*cause, caller
 * frees).  pin has room for CLIENT_PIN_HEX + 1 bytes.
 */
int		 client_token_parse(const char *token, char *pin,
		    const char **secret, char **cause);
/* A new client-side TLS session (1.2 or later, verification left to
 * client_tls_check), or NULL with *cause. */
struct ssl_st	*client_tls_new(char **cause);
/* After the handshake: 0 if the peer's chain is rooted in the CA whose
 * DER SHA-256 is pin, else -1 with *cause naming both hashes and what to
 * do.  addr is for the message. */
int		 client_tls_check(struct ssl_st *, const char *pin,
		    const char *addr, char **cause);
/* OpenSSL's last error as text into buf; the error queue is emptied. */
const char	*client_tls_error(char *buf, size_t size);

/* Monotonic milliseconds, for deadlines. */
int64_t		 client_now_ms(void);

/* ---- reading reply data ---- */

/* Member key of o as a string, NULL if absent or null.  Borrowed. */
const char	*client_json_str(struct json_object *o, const char *key);
/* Member key of o as an integer; 0 if present and numeric, else -1. */
int		 client_json_int(struct json_object *o, const char *key,
		    int64_t *out);
/* Member key of o as a double; NAN if absent, null or not numeric. */
double		 client_json_double(struct json_object *o, const char *key);
/* Member key of o as a boolean; def if absent or null. */
int		 client_json_bool(struct json_object *o, const char *key,
		    int def);
/* Member key of o if present and not null.  Borrowed. */
struct json_object *client_json_get(struct json_object *o, const char *key);

/* ---- display.c: peer strings on a terminal ---- */

#define DISPLAY_CARRY_MAX	32	/* bytes of a sequence cut by a chunk */

/* Task output filter state for one stream (zero it to start). */
struct display_filter {
	unsigned char	carry[DISPLAY_CARRY_MAX];
	size_t		ncarry;
};

/* Make wcwidth() work: LC_CTYPE from the environment, else C.UTF-8. */
void		 display_init(void);
/* Whether a code point must be escaped rather than shown. */
int		 display_cp_unsafe(uint32_t);
/* A copy of s with control, invisible and bidi characters and invalid
 * UTF-8 shown as \xNN or \uNNNN (caller frees); NULL for NULL. */
char		*display_escape(const char *s);
/* The same into buf (size bytes, cut at a character boundary). */
char		*display_escape_buf(const char *s, char *buf, size_t size);
/* Terminal columns of an escaped string. */
int		 display_width(const char *s);
/* Bytes of an escaped string that fit in cols columns (*used: columns). */
size_t		 display_fit(const char *s, int cols, int *used);
/* Print an escaped string padded with spaces to width columns. */
void		 display_pad(FILE *, const char *s, int width);
/* Write task output to a terminal: newlines, tabs, CR and colour (SGR)
 * pass, everything else is escaped; sequences cut by a chunk boundary are
 * carried to the next call. */
void		 display_filter_write(struct display_filter *, FILE *,
		    const char *data, size_t len);
/* Write out what the filter still carries. */
void		 display_filter_end(struct display_filter *, FILE *);

/* "--opt V" / "--opt=V" at argv[*i]: 1 taken, 0 other, -1 no value. */
int	 client_option(int, char **, int *, const char *, const char **);

#endif /* CLIENT_H */
