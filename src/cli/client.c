/*
 * client.c — HTTP requests for the CLI: JSON calls, streamed uploads and
 * downloads with a progress bar when stderr is a terminal.
 */
#include "cli/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/time.h"

#define DEFAULT_URL "http://127.0.0.1:8080"

char *cli_credentials_path(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg && *xdg)
        return mops_xasprintf("%s/mops/credentials", xdg);
    const char *home = getenv("HOME");
    return mops_xasprintf("%s/.config/mops/credentials", home ? home : ".");
}

/* Read "key = value" lines of the credentials file. */
static void read_credentials(char **url, char **token)
{
    char *path = cli_credentials_path(), *text;
    size_t len;
    if (mops_read_file(path, 64 * 1024, &text, &len, NULL) != 0) {
        free(path);
        return;
    }
    free(path);
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char key[16], value[1024];
        if (sscanf(l, " %15[a-z] = %1023s", key, value) != 2)
            continue;
        if (!strcmp(key, "url") && !*url)
            *url = mops_xstrdup(value);
        else if (!strcmp(key, "token") && !*token)
            *token = mops_xstrdup(value);
    }
    free(text);
}

int cli_client_init(cli_client_t *c, mops_err_t *err)
{
    (void)err;
    const char *eu = getenv("MOPS_URL"), *et = getenv("MOPS_TOKEN");
    c->url = eu && *eu ? mops_xstrdup(eu) : NULL;
    c->token = et && *et ? mops_xstrdup(et) : NULL;
    if (!c->url || !c->token)
        read_credentials(&c->url, &c->token);
    if (!c->url)
        c->url = mops_xstrdup(DEFAULT_URL);
    size_t n = strlen(c->url);
    while (n && c->url[n - 1] == '/')
        c->url[--n] = '\0';
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

void cli_client_release(cli_client_t *c)
{
    free(c->url);
    if (c->token)
        memset(c->token, 0, strlen(c->token));
    free(c->token);
    c->url = c->token = NULL;
    curl_global_cleanup();
}

char *cli_escape(const char *segment)
{
    mops_buf_t b = MOPS_BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)segment; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            mops_buf_putc(&b, (char)*p);
        else
            mops_buf_printf(&b, "%%%02X", *p);
    }
    return mops_buf_detach(&b);
}

/* ------------------------------------------------------------ progress */

typedef struct progress {
    const char *verb;
    int64_t t0;
    int shown;
} progress_t;

static void human_bytes(double v, char *buf, size_t n)
{
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    progress_t *pr = p;
    curl_off_t total = ultotal ? ultotal : dltotal, now = ultotal ? ulnow : dlnow;
    if (total <= 0)
        return 0;
    double secs = (double)(mops_mono_us() - pr->t0) / 1e6;
    if (secs < 0.3 && now < total)
        return 0; /* quick transfers need no bar */
    int width = 30, fill = (int)((double)now / (double)total * width);
    char done[32], all[32], rate[32];
    human_bytes((double)now, done, sizeof done);
    human_bytes((double)total, all, sizeof all);
    human_bytes(secs > 0 ? (double)now / secs : 0, rate, sizeof rate);
    fprintf(stderr, "\r%s %3d%% [%.*s%*s] %s / %s  %s/s ", pr->verb,
            (int)((double)now * 100 / (double)total), fill,
            "==============================", width - fill, "", done, all, rate);
    pr->shown = 1;
    return 0;
}

static void progress_attach(CURL *h, progress_t *pr, const char *verb)
{
    if (!isatty(2))
        return;
    pr->verb = verb;
    pr->t0 = mops_mono_us();
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, pr);
}

static void progress_end(progress_t *pr)
{
    if (pr->shown)
        fputc('\n', stderr);
}

/* ------------------------------------------------------------ requests */

static size_t to_buf(char *p, size_t size, size_t n, void *b)
{
    mops_buf_append(b, p, size * n);
    return size * n;
}

/* Common setup: URL, token, headers. *hdrs is freed by the caller. */
static CURL *handle_new(const cli_client_t *c, const char *path, const char *content_type,
                        struct curl_slist **hdrs)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    char *url = mops_xasprintf("%s%s", c->url, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    free(url);
    *hdrs = NULL;
    if (c->token) {
        char *a = mops_xasprintf("Authorization: Bearer %s", c->token);
        *hdrs = curl_slist_append(*hdrs, a);
        memset(a, 0, strlen(a));
        free(a);
    }
    if (content_type) {
        char *ct = mops_xasprintf("Content-Type: %s", content_type);
        *hdrs = curl_slist_append(*hdrs, ct);
        free(ct);
    }
    *hdrs = curl_slist_append(*hdrs, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mops-cli");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    return h;
}

/* Turn a finished transfer into 0 or an error carrying the server's
 * message. */
static int finish(const cli_client_t *c, CURL *h, CURLcode cc, const mops_buf_t *body,
                  json_t **out, mops_err_t *err)
{
    if (cc != CURLE_OK)
        return mops_err_set(err, MOPS_EUNAVAIL, "cannot reach the mops server at %s: %s "
                            "(is it running? set MOPS_URL or run 'mops login')",
                            c->url, curl_easy_strerror(cc));
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    json_t *j = NULL;
    if (body && body->len) {
        j = json_loadb(body->data, body->len, 0, NULL);
        if (!j && status < 300)
            return mops_err_set(err, MOPS_EINTERNAL, "the server answered HTTP %ld with a body "
                                "that is not JSON", status);
    }
    if (status >= 300) {
        json_t *e = json_object_get(j, "error");
        const char *msg = mops_json_str(e, "message", NULL);
        const char *code = mops_json_str(e, "code", "error");
        int rc;
        switch (status) {
        case 400: rc = MOPS_EINVAL; break;
        case 401: rc = MOPS_EUNAUTH; break;
        case 403: rc = MOPS_EFORBIDDEN; break;
        case 404: rc = MOPS_ENOTFOUND; break;
        case 409: rc = MOPS_ECONFLICT; break;
        case 413: rc = MOPS_ETOOBIG; break;
        default: rc = status >= 500 ? MOPS_EINTERNAL : MOPS_EINVAL;
        }
        if (msg)
            mops_err_set(err, rc, "%s (%s, HTTP %ld)", msg, code, status);
        else
            mops_err_set(err, rc, "the server answered HTTP %ld", status);
        if (status == 401 && !c->token && err)
            snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
                     "; no token: run 'mops login' or set MOPS_TOKEN");
        json_decref(j);
        return rc;
    }
    if (out)
        *out = j ? j : json_null();
    else
        json_decref(j);
    return 0;
}

int cli_request(const cli_client_t *c, const char *method, const char *path, const json_t *body,
                json_t **out, mops_err_t *err)
{
    struct curl_slist *hdrs;
    CURL *h = handle_new(c, path, body ? "application/json" : NULL, &hdrs);
    if (!h)
        return mops_err_set(err, MOPS_EINTERNAL, "cannot initialise libcurl");
    char *text = body ? mops_json_dump(body) : NULL;
    mops_buf_t resp = MOPS_BUF_INIT;
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (text) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    CURLcode cc = curl_easy_perform(h);
    int rc = finish(c, h, cc, &resp, out, err);
    mops_buf_release(&resp);
    free(text);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

int cli_upload(const cli_client_t *c, const char *path, const char *file, json_t **out,
               mops_err_t *err)
{
    return cli_upload_as(c, path, file, "application/octet-stream", out, err);
}

int cli_get_text(const cli_client_t *c, const char *path, char **text, mops_err_t *err)
{
    struct curl_slist *hdrs;
    CURL *h = handle_new(c, path, NULL, &hdrs);
    if (!h)
        return mops_err_set(err, MOPS_EINTERNAL, "cannot initialise libcurl");
    mops_buf_t resp = MOPS_BUF_INIT;
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    /* Errors come as JSON; a page only with success. */
    int rc = finish(c, h, cc, status < 300 ? NULL : &resp, NULL, err);
    if (rc == 0)
        *text = resp.data ? mops_buf_detach(&resp) : mops_xstrdup("");
    mops_buf_release(&resp);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

int cli_upload_as(const cli_client_t *c, const char *path, const char *file,
                  const char *content_type, json_t **out, mops_err_t *err)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return mops_err_set(err, MOPS_EIO, "cannot open '%s': %s", file, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return mops_err_set(err, MOPS_EINVAL, "'%s' is not a regular file", file);
    }
    struct curl_slist *hdrs;
    CURL *h = handle_new(c, path, content_type, &hdrs);
    if (!h) {
        fclose(f);
        return mops_err_set(err, MOPS_EINTERNAL, "cannot initialise libcurl");
    }
    mops_buf_t resp = MOPS_BUF_INIT;
    progress_t pr = {0};
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READDATA, f); /* libcurl's default reader is fread */
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    progress_attach(h, &pr, "uploading  ");
    CURLcode cc = curl_easy_perform(h);
    progress_end(&pr);
    int rc = finish(c, h, cc, &resp, out, err);
    mops_buf_release(&resp);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    fclose(f);
    return rc;
}

typedef struct download {
    FILE *f;
    mops_sha256_t *hash;
    mops_buf_t errbody; /* the body of an error answer */
    long status;
    CURL *h;
    char announced[65];
} download_t;

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    download_t *d = arg;
    size_t len = size * n;
    const char key[] = "x-mops-sha256:";
    if (len > sizeof key && !strncasecmp(p, key, sizeof key - 1)) {
        const char *v = p + sizeof key - 1;
        while (*v == ' ')
            v++;
        snprintf(d->announced, sizeof d->announced, "%.64s", v);
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    download_t *d = arg;
    if (!d->status)
        curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
    if (d->status >= 300) {
        mops_buf_append(&d->errbody, p, size * n);
        return size * n;
    }
    mops_sha256_update(d->hash, p, size * n);
    return fwrite(p, size, n, d->f) * size;
}

int cli_download(const cli_client_t *c, const char *path, const char *file, char *sha,
                 mops_err_t *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.part", file);
    download_t d = {.f = fopen(tmp, "wb"), .hash = mops_sha256_new()};
    if (!d.f) {
        mops_sha256_free(d.hash);
        return mops_err_set(err, MOPS_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    }
    struct curl_slist *hdrs;
    CURL *h = handle_new(c, path, NULL, &hdrs);
    d.h = h;
    progress_t pr = {0};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &d);
    progress_attach(h, &pr, "downloading");
    CURLcode cc = curl_easy_perform(h);
    progress_end(&pr);
    int closed = fclose(d.f);
    char got[MOPS_SHA256_HEX];
    mops_sha256_final(d.hash, got);
    int rc = finish(c, h, cc, &d.errbody, NULL, err);
    if (rc == 0 && closed != 0)
        rc = mops_err_set(err, MOPS_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    if (rc == 0 && strcmp(got, d.announced) != 0)
        rc = mops_err_set(err, MOPS_ECORRUPT,
                          "the download is damaged: it hashes to %s, the server announced %s",
                          got, d.announced[0] ? d.announced : "nothing");
    if (rc == 0 && rename(tmp, file) != 0)
        rc = mops_err_set(err, MOPS_EIO, "cannot rename '%s' to '%s': %s", tmp, file,
                          strerror(errno));
    if (rc != 0)
        unlink(tmp);
    else
        memcpy(sha, got, MOPS_SHA256_HEX);
    mops_buf_release(&d.errbody);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}
