/*
 * fs.h — file-system helpers that keep the durability promise: a file is
 * written to a temporary name, fsynced, renamed into place and its directory
 * fsynced, so after a crash it is either whole or absent.
 */
#ifndef MOPS_CORE_FS_H
#define MOPS_CORE_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

/* mkdir -p with mode for each created component. */
int mops_mkdir_p(const char *path, mode_t mode, mops_err_t *err);

/* fsync the directory at path, so a rename or create in it is durable. */
int mops_fsync_dir(const char *path, mops_err_t *err);

/* Atomically replace path with n bytes of data, created with mode. */
int mops_write_file_atomic(const char *path, const void *data, size_t n, mode_t mode,
                           mops_err_t *err);

/* Create path with data and mode, failing with MOPS_ECONFLICT if it exists
 * (O_EXCL), durably. */
int mops_write_file_new(const char *path, const void *data, size_t n, mode_t mode,
                        mops_err_t *err);

/* Read a whole small file (up to max bytes) into a new NUL-terminated heap
 * buffer; *len gets its length. MOPS_ENOTFOUND when absent, MOPS_ETOOBIG
 * when over max. */
int mops_read_file(const char *path, size_t max, char **out, size_t *len, mops_err_t *err);

/* The directory part of path into buf ("." when none). */
void mops_dirname(const char *path, char *buf, size_t size);

#endif
