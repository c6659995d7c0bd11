/*
 * deliver.c — the delivery thread: every pass it claims the deliveries
 * that are due, POSTs them all at once with libcurl's multi interface
 * (signed with the webhook's secret when it has one; a receiver that hangs
 * delays no other), logs each attempt, and either marks the delivery done,
 * schedules the next attempt (exponential backoff) or gives up.
 *
 * A claim moves the delivery's next attempt a minute ahead with a
 * compare-and-set on its old time, so two servers on one database never
 * send the same attempt; a server that dies mid-attempt leaves the
 * delivery to be retried when the claim lapses (at least once).
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "notify/notify_int.h"

#define PASS_INTERVAL_MS 200
#define CLAIM_MS 60000
#define ATTEMPT_TIMEOUT_S 10L
#define BACKOFF_MAX_MS 3600000
#define PASS_BATCH 16

struct notify {
    store_t *st;
    const mops_env_t *env;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int stop;
};

/* A due delivery, with what sending it needs. */
typedef struct due {
    int64_t id, attempts, next_at, max_attempts, backoff_ms, event_id, created_at;
    char *url, *secret, *event, *payload, *team;
    /* its attempt in flight */
    CURL *h;
    struct curl_slist *hdrs;
    char *body;
    int64_t at, t0_us;
} due_t;

static void due_release(due_t *d)
{
    curl_slist_free_all(d->hdrs);
    if (d->h)
        curl_easy_cleanup(d->h);
    free(d->body);
    free(d->url);
    if (d->secret)
        memset(d->secret, 0, strlen(d->secret));
    free(d->secret);
    free(d->event);
    free(d->payload);
    free(d->team);
}

/* --------------------------------------------------------------- HTTP */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* Abort a transfer in flight when the server stops. */
static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    const atomic_int *stop = arg;
    return stop && atomic_load(stop);
}

/* Prepare d's POST of d->body (its handle in d->h, NULL when libcurl
 * cannot make one). */
static void attempt_new(due_t *d, const atomic_int *stop)
{
    CURL *h = curl_easy_init();
    if (!h)
        return;
    const char *body = d->body;
    struct curl_slist *hdrs = NULL;
    char line[256];
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    snprintf(line, sizeof line, "X-Mops-Event: %s", d->event);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "X-Mops-Delivery: %lld", (long long)d->id);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "X-Mops-Attempt: %lld", (long long)d->attempts + 1);
    hdrs = curl_slist_append(hdrs, line);
    if (d->secret && *d->secret) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        HMAC(EVP_sha256(), d->secret, (int)strlen(d->secret), (const unsigned char *)body,
             strlen(body), mac, &len);
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        mops_hex_encode(mac, len, hex);
        snprintf(line, sizeof line, "X-Mops-Signature-256: sha256=%s", hex);
        hdrs = curl_slist_append(hdrs, line);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, d->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mops-webhook");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, ATTEMPT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)stop);
    curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)d);
    d->h = h;
    d->hdrs = hdrs;
}

/* How d's finished attempt went: *status the HTTP status (0: none), error
 * what went wrong ("" when delivered). */
static void attempt_result(const due_t *d, CURLcode cc, long *status, char *error, size_t esize)
{
    *status = 0;
    error[0] = '\0';
    if (!d->h) {
        snprintf(error, esize, "cannot initialise libcurl");
    } else if (cc == CURLE_OK) {
        curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, status);
        if (*status < 200 || *status > 299)
            snprintf(error, esize, "the receiver answered HTTP %ld", *status);
    } else {
        snprintf(error, esize, "%s", curl_easy_strerror(cc));
    }
}

/* --------------------------------------------------------------- passes */

/* Claim the due deliveries (at most PASS_BATCH). */
static int claim(store_conn_t *db, const unsigned char *key, due_t *out, size_t *n,
                 mops_err_t *err)
{
    int64_t now = mops_now_ms();
    store_stmt_t *s;
    int rc = store_query(db, &s, err,
                         "SELECT d.id, d.attempts, d.next_attempt_at, w.max_attempts, "
                         "w.backoff_ms, e.id, e.created_at, w.url, w.secret, e.event, e.payload, "
                         "t.name FROM notify_deliveries d "
                         "JOIN notify_webhooks w ON w.id = d.webhook_id "
                         "JOIN notify_events e ON e.id = d.event_id "
                         "JOIN teams t ON t.id = d.team_id "
                         "WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND "
                         "w.enabled = 1 AND w.deleted_at IS NULL "
                         "ORDER BY d.next_attempt_at, d.id LIMIT ?",
                         "ii", now, (int64_t)PASS_BATCH);
    if (rc != 0)
        return rc;
    size_t k = 0;
    while ((rc = store_step(s, err)) == STORE_ROW && k < PASS_BATCH) {
        due_t *d = &out[k++];
        memset(d, 0, sizeof *d);
        d->id = store_col_int(s, 0);
        d->attempts = store_col_int(s, 1);
        d->next_at = store_col_int(s, 2);
        d->max_attempts = store_col_int(s, 3);
        d->backoff_ms = store_col_int(s, 4);
        d->event_id = store_col_int(s, 5);
        d->created_at = store_col_int(s, 6);
        d->url = mops_xstrdup(store_col_text(s, 7));
        d->secret = mops_xstrdup(store_col_text(s, 8));
        d->event = mops_xstrdup(store_col_text(s, 9));
        d->payload = mops_xstrdup(store_col_text(s, 10));
        d->team = mops_xstrdup(store_col_text(s, 11));
    }
    store_finalize(s);
    if (rc < 0) {
        for (size_t i = 0; i < k; i++)
            due_release(&out[i]);
        return rc;
    }
    /* Take each with a compare-and-set; open its secret. */
    size_t kept = 0;
    for (size_t i = 0; i < k; i++) {
        int64_t changed = 0;
        int r = store_exec(db, &changed, err,
                           "UPDATE notify_deliveries SET next_attempt_at = ? WHERE id = ? AND "
                           "state = 'pending' AND next_attempt_at = ?",
                           "iii", now + CLAIM_MS, out[i].id, out[i].next_at);
        if (r == 0 && changed == 1 && *out[i].secret) {
            char *plain = NULL;
            mops_err_t serr;
            if (notify_secret_open(key, out[i].secret, &plain, &serr) != 0) {
                mops_warn("notify: delivery %lld: %s", (long long)out[i].id, serr.msg);
                changed = 0; /* unsigned bodies are never sent in a signed hook's name */
            }
            memset(out[i].secret, 0, strlen(out[i].secret));
            free(out[i].secret);
            out[i].secret = plain;
        }
        if (r == 0 && changed == 1)
            out[kept++] = out[i];
        else
            due_release(&out[i]);
    }
    *n = kept;
    return 0;
}

/* Record attempt and what follows from it, in one transaction. */
static int record(store_conn_t *db, const due_t *d, int64_t at, long status, const char *error,
                  int64_t ms, mops_err_t *err)
{
    int64_t attempt = d->attempts + 1, now = mops_now_ms();
    const char *state = "pending";
    int64_t next = 0;
    if (!*error) {
        state = "delivered";
    } else if (attempt >= d->max_attempts) {
        state = "failed";
    } else {
        int64_t wait = d->backoff_ms;
        for (int64_t i = 1; i < attempt && wait < BACKOFF_MAX_MS; i++)
            wait *= 2;
        next = now + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
    }
    char last_error[600];
    if (!strcmp(state, "failed"))
        snprintf(last_error, sizeof last_error, "gave up after %lld attempts: %s",
                 (long long)attempt, error);
    else
        snprintf(last_error, sizeof last_error, "%s", error);
    int rc = store_begin(db, err);
    if (rc == 0)
        rc = store_exec(db, NULL, err,
                        "INSERT INTO notify_attempts (delivery_id, attempt, at, status, error, "
                        "duration_ms) VALUES (?, ?, ?, ?, ?, ?)",
                        "iiiIti", d->id, attempt, at, (int64_t)status, error, ms);
    if (rc == 0)
        rc = store_exec(db, NULL, err,
                        "UPDATE notify_deliveries SET state = ?, attempts = ?, next_attempt_at = "
                        "?, last_status = ?, last_error = ?, finished_at = ? WHERE id = ?",
                        "tiiItIi", state, attempt, next ? next : now, (int64_t)status,
                        last_error, strcmp(state, "pending") ? now : (int64_t)0, d->id);
    if (rc == 0)
        rc = store_commit(db, err);
    store_rollback(db);
    return rc;
}

/* The body every attempt of a delivery sends (the same each time). */
static char *body_of(const due_t *d)
{
    char created[40];
    mops_time_format(d->created_at, created, sizeof created);
    json_t *data = json_loads(d->payload, 0, NULL);
    json_t *b = json_pack("{s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)d->event_id, "event",
                          d->event, "team", d->team, "created_at", created, "data",
                          data ? data : json_object());
    char *s = mops_json_dump(b);
    json_decref(b);
    return s;
}

/* Record how d's attempt went, or give the claim back when the server's
 * stop cut it short (not the receiver's failure: the next start sends it
 * at once). */
static int settle_attempt(store_conn_t *db, const due_t *d, CURLcode cc, const atomic_int *stop,
                          mops_err_t *err)
{
    long status;
    char error[512];
    attempt_result(d, cc, &status, error, sizeof error);
    if (stop && atomic_load(stop) && *error) {
        (void)store_exec(db, NULL, NULL,
                         "UPDATE notify_deliveries SET next_attempt_at = ? WHERE id = ? AND "
                         "state = 'pending'",
                         "ii", mops_now_ms(), d->id);
        return 0;
    }
    int64_t ms = (mops_mono_us() - d->t0_us) / 1000;
    int rc = record(db, d, d->at, status, error, ms, err);
    if (rc != 0)
        mops_warn("notify: cannot record delivery %lld: %s", (long long)d->id,
                  err ? err->msg : "?");
    return rc;
}

/* POST the n claimed deliveries concurrently; each is recorded as soon as
 * it finishes, so a receiver that hangs (up to ATTEMPT_TIMEOUT_S) holds
 * back no other's record. */
static int send_all(store_conn_t *db, due_t *due, size_t n, const atomic_int *stop,
                    mops_err_t *err)
{
    CURLM *m = curl_multi_init();
    if (!m)
        return mops_err_set(err, MOPS_EINTERNAL, "cannot initialise libcurl");
    int rc = 0, running = 0;
    for (size_t i = 0; i < n; i++) {
        due[i].body = body_of(&due[i]);
        due[i].at = mops_now_ms();
        due[i].t0_us = mops_mono_us();
        attempt_new(&due[i], stop);
        if (!due[i].h || curl_multi_add_handle(m, due[i].h) != CURLM_OK) {
            int r = settle_attempt(db, &due[i], CURLE_FAILED_INIT, stop, err);
            rc = rc ? rc : r;
            if (due[i].h) {
                curl_easy_cleanup(due[i].h);
                due[i].h = NULL;
            }
        }
    }
    do {
        CURLMcode mc = curl_multi_perform(m, &running);
        if (mc != CURLM_OK) {
            /* Unrecorded attempts are sent again once their claims lapse. */
            mops_warn("notify: %s", curl_multi_strerror(mc));
            break;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            due_t *d = (due_t *)priv;
            int r = settle_attempt(db, d, msg->data.result, stop, err);
            rc = rc ? rc : r;
            curl_multi_remove_handle(m, d->h);
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 200, NULL);
    } while (running);
    for (size_t i = 0; i < n; i++)
        if (due[i].h)
            curl_multi_remove_handle(m, due[i].h); /* harmless when removed already */
    curl_multi_cleanup(m);
    return rc;
}

static int pass(store_t *st, const mops_env_t *env, const atomic_int *stop, int *done,
                mops_err_t *err)
{
    unsigned char key[NOTIFY_KEY_LEN];
    int rc = notify_key_load(env, key, err);
    if (rc != 0)
        return rc;
    store_conn_t *db;
    if ((rc = store_conn_acquire(st, &db, err)) != 0) {
        memset(key, 0, sizeof key);
        return rc;
    }
    due_t due[PASS_BATCH];
    size_t n = 0;
    rc = claim(db, key, due, &n, err);
    memset(key, 0, sizeof key);
    if (rc == 0 && n)
        rc = send_all(db, due, n, stop, err);
    for (size_t i = 0; i < n; i++)
        due_release(&due[i]);
    store_conn_release(db);
    if (done)
        *done = (int)n;
    return rc;
}

int notify_run_once(store_t *st, const mops_env_t *env, int *done, mops_err_t *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) /* counted: pairs with cleanup */
        return mops_err_set(err, MOPS_EINTERNAL, "cannot initialise libcurl");
    int rc = pass(st, env, NULL, done, err);
    curl_global_cleanup();
    return rc;
}

static void *loop(void *arg)
{
    notify_t *n = arg;
    while (!atomic_load(&n->stop)) {
        mops_err_t err;
        mops_err_clear(&err);
        if (pass(n->st, n->env, &n->stop, NULL, &err) != 0)
            mops_warn("notify: delivery pass failed: %s", err.msg);
        pthread_mutex_lock(&n->mu);
        if (!atomic_load(&n->stop)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += PASS_INTERVAL_MS * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&n->cv, &n->mu, &ts);
        }
        pthread_mutex_unlock(&n->mu);
    }
    return NULL;
}

int notify_start(store_t *st, const mops_env_t *env, notify_t **out, mops_err_t *err)
{
    unsigned char key[NOTIFY_KEY_LEN];
    int rc = notify_key_load(env, key, err); /* created now, not by a first request */
    memset(key, 0, sizeof key);
    if (rc != 0)
        return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return mops_err_set(err, MOPS_EINTERNAL, "cannot initialise libcurl");
    notify_t *n = mops_xcalloc(1, sizeof *n);
    n->st = st;
    n->env = env;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    if (pthread_create(&n->thread, NULL, loop, n) != 0) {
        pthread_mutex_destroy(&n->mu);
        pthread_cond_destroy(&n->cv);
        free(n);
        curl_global_cleanup();
        return mops_err_set(err, MOPS_EINTERNAL, "cannot start the notification thread");
    }
    *out = n;
    return 0;
}

void notify_stop(notify_t *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    atomic_store(&n->stop, 1);
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n);
    curl_global_cleanup();
}
