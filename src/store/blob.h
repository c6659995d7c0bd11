/*
 * blob.h — the content-addressed file store: immutable byte strings kept
 * once each under DIR/sha256/ab/cdef... (DIR is DATA/artifacts).
 *
 * A blob is streamed to DIR/tmp/, hashed as it comes, fsynced, and renamed
 * under its SHA-256 with the directory fsynced, so a file under a hash is
 * always whole and identical bytes are stored once. Temporary files a crash
 * left behind are removed by store_blob_init. Model artifacts, dataset
 * versions, job inputs and results all live here; who may read a blob is
 * recorded by the module that stored it, in its own tables.
 */
#ifndef MOPS_STORE_BLOB_H
#define MOPS_STORE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define STORE_BLOB_SHA_HEX 65 /* 64 hex digits + NUL */

typedef struct store_blob_writer store_blob_writer_t;

/* Create DIR/sha256 and DIR/tmp and empty DIR/tmp (call at start-up). */
int store_blob_init(const char *dir, mops_err_t *err);

/* Start a blob of at most max bytes; `what` names it in messages ("the
 * artifact", "the dataset"). Free *out with store_blob_commit or _abort. */
int store_blob_writer_new(const char *dir, int64_t max, const char *what,
                          store_blob_writer_t **out, mops_err_t *err);

/* Append bytes; MOPS_ETOOBIG past the limit (the writer stays usable only
 * for _abort), MOPS_EIO on a disk error. */
int store_blob_write(store_blob_writer_t *w, const void *p, size_t n, mops_err_t *err);

/* Bytes written so far. */
int64_t store_blob_size(const store_blob_writer_t *w);

/* Make the blob durable under its hash; sha gets the hex SHA-256, *size its
 * length, *existed (may be NULL) whether those bytes were already stored.
 * Frees w whatever the result. */
int store_blob_commit(store_blob_writer_t *w, char sha[STORE_BLOB_SHA_HEX], int64_t *size,
                      int *existed, mops_err_t *err);

/* Discard an unfinished blob and free w. NULL is a no-op. */
void store_blob_abort(store_blob_writer_t *w);

/* Store a whole existing file as a blob (streamed, not read into memory). */
int store_blob_put_file(const char *dir, const char *path, char sha[STORE_BLOB_SHA_HEX],
                        int64_t *size, mops_err_t *err);

/* Path of the blob with hash sha. */
void store_blob_path(const char *dir, const char *sha, char *buf, size_t n);

/* Open the blob for reading after checking it still has size bytes hashing
 * to sha: MOPS_ECORRUPT when damaged or missing. The caller owns *fd. */
int store_blob_open(const char *dir, const char *sha, int64_t size, int *fd, mops_err_t *err);

#endif
