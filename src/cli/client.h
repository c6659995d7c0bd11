/*
 * client.h — the CLI's connection to a mops server, over libcurl.
 *
 * Where and who: MOPS_URL and MOPS_TOKEN, else ~/.config/mops/credentials
 * ("url = ..." and "token = ..." lines, written by `mops login`), else
 * http://127.0.0.1:8080 and no token. A failed request returns an error
 * whose message is the server's, with the HTTP status in it.
 */
#ifndef MOPS_CLI_CLIENT_H
#define MOPS_CLI_CLIENT_H

#include <jansson.h>
#include <stdint.h>

#include "core/error.h"

typedef struct cli_client {
    char *url;   /* without trailing slash */
    char *token; /* may be NULL */
} cli_client_t;

/* Resolve url and token as above. */
int cli_client_init(cli_client_t *c, mops_err_t *err);
void cli_client_release(cli_client_t *c);

/* Path of the credentials file (heap string). */
char *cli_credentials_path(void);

/* method path [body] -> *out (may be NULL to discard; JSON null when the
 * response has no body). path is below the server root ("/api/v1/..."). */
int cli_request(const cli_client_t *c, const char *method, const char *path, const json_t *body,
                json_t **out, mops_err_t *err);

/* POST a file as application/octet-stream; progress on a terminal. */
int cli_upload(const cli_client_t *c, const char *path, const char *file, json_t **out,
               mops_err_t *err);
/* The same with another content type ("text/csv"). */
int cli_upload_as(const cli_client_t *c, const char *path, const char *file,
                  const char *content_type, json_t **out, mops_err_t *err);

/* GET a text document (a rendered page) into *text, a heap string. */
int cli_get_text(const cli_client_t *c, const char *path, char **text, mops_err_t *err);

/* GET path into file (via a temporary file renamed at the end), checking
 * the SHA-256 the server announces in X-Mops-Sha256. *sha (65 bytes) gets
 * the hash. */
int cli_download(const cli_client_t *c, const char *path, const char *file, char *sha,
                 mops_err_t *err);

/* Percent-encode one path segment into a new heap string. */
char *cli_escape(const char *segment);

#endif
