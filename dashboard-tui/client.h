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

#include "protocol.h"

struct evbuffer;
struct json_object;

#define CLIENT_DEFAULT_MAIN	"127.0.0.1:7070"
#define CLIENT_DEFAULT_PORT	"7070"
#define CLIENT_TOKEN_FILE	"operator.token"

#define CLIENT_TIMEOUT_MS	30000	/* default wait for a reply */

/* Outcome of a blocking client call. */
enum client_result {
	CLIENT_OK = 0,
	CLIENT_REMOTE,		/* the main node answered with an error */
	CLIENT_IO,		/* no connection, or it was lost */
};

/*
 * A blocking session with the main node.  addr is the "host:port" we were
 * given (owned).  in buffers bytes read but not yet framed (owned).
 * pending holds `event` messages that arrived while a reply was awaited, in
 * order (owned, n_pending of them); client_next() hands them out first.
 */
struct client {
	int		 fd;
	char		*addr;
	struct evbuffer	*in;
	unsigned long	 next_id;
	int		 timeout_ms;	/* reply wait, -1 forever */
	struct msg	*pending;
	size_t		 n_pending;
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
 * The operator token: flag, else $ENCORE_TOKEN, else the first readable
 * operator.token in the local main node's state directories.  Returns a
 * heap string (caller frees) or NULL if there is none.
 */
char		*client_find_token(const char *flag);

/* State directories searched for operator.token, in order; *n gets the
 * count.  Heap strings in a heap array; free with client_free_strings(). */
char		**client_token_dirs(size_t *n);
void		 client_free_strings(char **, size_t);

/*
 * Connect to "host:port" (IPv4, IPv6 or a name).  Returns a connected,
 * blocking fd, or -1 with *cause (caller frees) like
 * "Connection refused".
 */
int		 client_connect(const char *addr, char **cause);

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

/* Connect to addr.  Returns CLIENT_OK or CLIENT_IO with err filled. */
enum client_result client_open(struct client *, const char *addr,
		    struct client_error *err);
/* Close the connection and free everything the session holds. */
void		 client_close(struct client *);

/* Send an `auth` with token; CLIENT_OK once the main node accepted it. */
enum client_result client_auth(struct client *, const char *token,
		    struct client_error *err);

/*
 * Send req (client_msg_init'ed; message_id set) and wait for the reply to
 * it.  On CLIENT_OK *data is the reply's data (caller puts it).  Events
 * arriving in between are kept for client_next().  req is not freed.
 */
enum client_result client_request(struct client *, struct msg *req,
		    struct json_object **data, struct client_error *err);

/* Build a request of type with no payload, send it, wait for the reply. */
enum client_result client_simple(struct client *, enum msg_type,
		    struct json_object **data, struct client_error *err);

/*
 * Read the next message (kept events first), blocking up to timeout_ms
 * (-1: forever).  Returns CLIENT_OK with m filled (caller msg_free()s),
 * CLIENT_IO on EOF, error or timeout (err says which).
 */
enum client_result client_next(struct client *, struct msg *m,
		    int timeout_ms, struct client_error *err);

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

/* "--opt V" / "--opt=V" at argv[*i]: 1 taken, 0 other, -1 no value. */
int	 client_option(int, char **, int *, const char *, const char **);

#endif /* CLIENT_H */
