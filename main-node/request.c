/* SPDX-License-Identifier: ISC */
/*
 * request.c -- the answer to one operator request, whether it came in a
 * JSON session (sent as a `reply`) or over HTTP (http.c makes a response
 * of it).  Handlers fill it with request_ok or request_fail and never
 * write to the connection themselves, so every handler serves both.
 */
#include <stdarg.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "main.h"

/* Answer a request with this data (taken). */
void
request_ok(struct request *rq, struct json_object *data)
{
	json_object_put(rq->reply);
	rq->reply = data;
	rq->code = PROTO_OK;
}

/* Answer a request with a failure. */
void
request_fail(struct request *rq, enum proto_code code, const char *fmt, ...)
{
	va_list	ap;

	json_object_put(rq->reply);
	rq->reply = NULL;
	free(rq->error);
	va_start(ap, fmt);
	xvasprintf(&rq->error, fmt, ap);
	va_end(ap);
	rq->code = code;
}

/* Send a JSON session's answer now (a stream of events follows it). */
void
request_flush(struct request *rq)
{
	if (rq->http || rq->sent || rq->c == NULL)
		return;
	if (rq->code != PROTO_OK)
		conn_reply_error(rq->c, rq->m->message_id, rq->code, "%s",
		    rq->error);
	else if (rq->reply != NULL) {
		conn_send_json(rq->c, MSG_REPLY, rq->m->message_id, rq->reply);
		rq->reply = NULL;
	} else
		return;
	rq->sent = 1;
}

/* Free what a request holds. */
void
request_done(struct request *rq)
{
	json_object_put(rq->reply);
	free(rq->error);
	task_row_free(&rq->t.task);
	rq->reply = NULL;
	rq->error = NULL;
}
