/*
 * notify.h — notifications by webhook, generic: any module tells a team
 * that something happened (an event type such as "review.requested" and a
 * JSON payload), and every webhook of that team whose event filter matches
 * receives it as an HTTP POST. Governance uses it for reviews and stage
 * changes; monitoring alerts and FinOps budget alerts reuse it.
 *
 * Delivery is durable and at least once: notify_enqueue writes the event
 * and one delivery per matching webhook inside the transaction of the
 * change that causes it (so a notification exists exactly when its change
 * does); a background thread (notify_start) POSTs due deliveries with
 * libcurl, retries failures with exponential backoff (the webhook's
 * backoff_ms doubled after each attempt, at most an hour apart) and gives
 * up after the webhook's max_attempts. Every attempt is logged and the log
 * is readable through the API. A body is signed when the webhook has a
 * secret: X-Mops-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>.
 * Secrets are kept encrypted (AES-256-GCM, key in DATA/notify.key) and
 * never shown again.
 *
 * The body of a delivery:
 *   {"id": event id, "event": type, "team": name, "created_at": time,
 *    "data": payload}
 * with headers X-Mops-Event, X-Mops-Delivery (the delivery id, the same on
 * every retry) and X-Mops-Attempt.
 */
#ifndef MOPS_NOTIFY_NOTIFY_H
#define MOPS_NOTIFY_NOTIFY_H

#include <jansson.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/error.h"
#include "store/store.h"

/* ------------------------------------------------------------ events */

/* Queue event (a dotted name: "review.requested") with payload data (may be
 * NULL: {}) for every enabled webhook of team_id that subscribes to it.
 * Must run inside the store transaction of the change it reports. */
int notify_enqueue(const mops_ctx_t *ctx, int64_t team_id, const char *event,
                   const json_t *data, mops_err_t *err);

/* True when a webhook's filter (a JSON array of event names, prefixes
 * ending in '.', or "*") selects event. */
int notify_filter_matches(const json_t *filter, const char *event);

/* ------------------------------------------------------------ webhooks */

/* spec: {"name", "url" (http or https), "events"?: ["review.", ...] (default
 * ["*"]), "secret"?, "max_attempts"? (1..20, default 8), "backoff_ms"?
 * (100..3600000, default 1000: the wait before the second attempt),
 * "enabled"? (default true)}. *out: the webhook (without its secret). */
int notify_webhook_create(const mops_ctx_t *ctx, const char *team, const json_t *spec,
                          json_t **out, mops_err_t *err);
int notify_webhook_list(const mops_ctx_t *ctx, const char *team, json_t **out, mops_err_t *err);
int notify_webhook_get(const mops_ctx_t *ctx, const char *team, const char *name, json_t **out,
                       mops_err_t *err);
/* spec: any of url, events, secret ("" removes it), max_attempts,
 * backoff_ms, enabled. */
int notify_webhook_update(const mops_ctx_t *ctx, const char *team, const char *name,
                          const json_t *spec, json_t **out, mops_err_t *err);
/* Delete a webhook: it receives nothing more; its delivery log stays. */
int notify_webhook_delete(const mops_ctx_t *ctx, const char *team, const char *name,
                          mops_err_t *err);
/* Queue a "ping" event for this webhook alone, to test it. *out: the
 * delivery. */
int notify_webhook_ping(const mops_ctx_t *ctx, const char *team, const char *name,
                        json_t **out, mops_err_t *err);

typedef struct notify_delivery_filter {
    const char *webhook; /* name, or NULL */
    const char *state;   /* "pending", "delivered", "failed", or NULL */
    const char *event;   /* exact, or a prefix ending in '.' */
    int64_t before_id;   /* page token */
    int limit;           /* 1..1000, default 50 */
} notify_delivery_filter_t;

/* The team's deliveries, newest first, each with its attempts:
 * {"items": [...], "next_page_token"}. */
int notify_delivery_list(const mops_ctx_t *ctx, const char *team,
                         const notify_delivery_filter_t *f, json_t **out, mops_err_t *err);

/* ------------------------------------------------------------ delivery */

typedef struct notify notify_t;

/* Start the delivery thread on store st (it takes connections of its own).
 * env->data_dir holds the key for secrets. Stop it with notify_stop before
 * the store closes. */
int notify_start(store_t *st, const mops_env_t *env, notify_t **out, mops_err_t *err);

/* Ask the thread to stop (an HTTP attempt in flight is cut short), wait
 * for it and free n. Deliveries not done stay queued for the next start.
 * NULL is a no-op. */
void notify_stop(notify_t *n);

/* Run one pass of deliveries that are due, on the calling thread: for
 * tests and tools. *done (may be NULL) gets how many were attempted. */
int notify_run_once(store_t *st, const mops_env_t *env, int *done, mops_err_t *err);

#endif
