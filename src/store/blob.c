/*
 * blob.c — streaming writes into the content-addressed file store,
 * durable placement under the hash, and verified reads.
 */
#include "store/blob.h"

#include <dirent.h>
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
#include "core/mem.h"

struct store_blob_writer {
    int fd;
    char dir[PATH_MAX - 80];
    char tmp[PATH_MAX];
    char what[48];
    mops_sha256_t *hash;
    int64_t size, max;
};

int store_blob_init(const char *dir, mops_err_t *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/sha256", dir);
    int rc = mops_mkdir_p(path, 0700, err);
    snprintf(path, sizeof path, "%s/tmp", dir);
    if (rc != 0 || (rc = mops_mkdir_p(path, 0700, err)) != 0)
        return rc;
    DIR *d = opendir(path);
    if (!d)
        return mops_err_set(err, MOPS_EIO, "cannot read '%s': %s", path, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "upload-", 7))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    return 0;
}

void store_blob_path(const char *dir, const char *sha, char *buf, size_t n)
{
    snprintf(buf, n, "%s/sha256/%.2s/%s", dir, sha, sha + 2);
}

int store_blob_writer_new(const char *dir, int64_t max, const char *what,
                          store_blob_writer_t **out, mops_err_t *err)
{
    store_blob_writer_t *w = mops_xcalloc(1, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    snprintf(w->what, sizeof w->what, "%s", what);
    snprintf(w->tmp, sizeof w->tmp, "%s/tmp/upload-XXXXXX", w->dir);
    w->fd = mkostemp(w->tmp, O_CLOEXEC);
    if (w->fd < 0) {
        int rc = mops_err_set(err, MOPS_EIO, "cannot create a temporary file in '%s/tmp': %s",
                              dir, strerror(errno));
        free(w);
        return rc;
    }
    w->hash = mops_sha256_new();
    w->max = max;
    *out = w;
    return 0;
}

int store_blob_write(store_blob_writer_t *w, const void *p, size_t n, mops_err_t *err)
{
    if (w->size + (int64_t)n > w->max)
        return mops_err_set(err, MOPS_ETOOBIG,
                            "%s is larger than the limit of %lld bytes (server option "
                            "--max-upload)",
                            w->what, (long long)w->max);
    const char *c = p;
    size_t left = n;
    while (left) {
        ssize_t wr = write(w->fd, c, left);
        if (wr < 0) {
            if (errno == EINTR)
                continue;
            return mops_err_set(err, MOPS_EIO, "cannot store %s: %s", w->what, strerror(errno));
        }
        c += wr;
        left -= (size_t)wr;
    }
    mops_sha256_update(w->hash, p, n);
    w->size += (int64_t)n;
    return 0;
}

int64_t store_blob_size(const store_blob_writer_t *w)
{
    return w->size;
}

void store_blob_abort(store_blob_writer_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    mops_sha256_free(w->hash);
    free(w);
}

/* Rename the temporary file under its hash, durably, unless those bytes
 * are already there (then the copy is dropped). */
static int place(store_blob_writer_t *w, const char *sha, int *existed, mops_err_t *err)
{
    char dir[PATH_MAX], path[PATH_MAX], parent[PATH_MAX - 8];
    snprintf(parent, sizeof parent, "%s/sha256", w->dir);
    snprintf(dir, sizeof dir, "%s/%.2s", parent, sha);
    store_blob_path(w->dir, sha, path, sizeof path);
    int rc = mops_mkdir_p(dir, 0700, err);
    if (rc != 0)
        return rc;
    struct stat st;
    *existed = stat(path, &st) == 0 && st.st_size == w->size;
    if (*existed) {
        unlink(w->tmp);
        return 0;
    }
    if (rename(w->tmp, path) != 0)
        return mops_err_set(err, MOPS_EIO, "cannot store blob %s: %s", sha, strerror(errno));
    if ((rc = mops_fsync_dir(dir, err)) != 0)
        return rc;
    return mops_fsync_dir(parent, err);
}

int store_blob_commit(store_blob_writer_t *w, char sha[STORE_BLOB_SHA_HEX], int64_t *size,
                      int *existed, mops_err_t *err)
{
    int rc = 0, had = 0;
    if (fsync(w->fd) != 0)
        rc = mops_err_set(err, MOPS_EIO, "cannot fsync %s: %s", w->what, strerror(errno));
    close(w->fd);
    w->fd = -1;
    char hex[MOPS_SHA256_HEX];
    mops_sha256_final(w->hash, hex);
    w->hash = NULL;
    if (rc == 0)
        rc = place(w, hex, &had, err);
    if (rc == 0) {
        memcpy(sha, hex, STORE_BLOB_SHA_HEX);
        *size = w->size;
        if (existed)
            *existed = had;
    }
    store_blob_abort(w); /* the temporary name is gone on success; this frees */
    return rc;
}

int store_blob_put_file(const char *dir, const char *path, char sha[STORE_BLOB_SHA_HEX],
                        int64_t *size, mops_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mops_err_set(err, MOPS_EIO, "cannot open '%s': %s", path, strerror(errno));
    store_blob_writer_t *w;
    int rc = store_blob_writer_new(dir, INT64_MAX, "the file", &w, err);
    static __thread char buf[1 << 16];
    for (ssize_t r; rc == 0 && (r = read(fd, buf, sizeof buf)) != 0;) {
        if (r < 0 && errno == EINTR)
            continue;
        rc = r < 0 ? mops_err_set(err, MOPS_EIO, "cannot read '%s': %s", path, strerror(errno))
                   : store_blob_write(w, buf, (size_t)r, err);
    }
    close(fd);
    if (rc != 0) {
        if (w)
            store_blob_abort(w);
        return rc;
    }
    return store_blob_commit(w, sha, size, NULL, err);
}

int store_blob_open(const char *dir, const char *sha, int64_t size, int *fd_out, mops_err_t *err)
{
    char path[PATH_MAX];
    store_blob_path(dir, sha, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mops_err_set(err, errno == ENOENT ? MOPS_ECORRUPT : MOPS_EIO,
                            "blob sha256:%s is missing from the store: %s", sha, strerror(errno));
    mops_sha256_t *h = mops_sha256_new();
    static __thread char buf[1 << 16];
    int64_t total = 0;
    for (;;) {
        ssize_t r = pread(fd, buf, sizeof buf, total);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            mops_sha256_free(h);
            close(fd);
            return mops_err_set(err, MOPS_EIO, "cannot read blob %s: %s", sha, strerror(e));
        }
        if (r == 0)
            break;
        mops_sha256_update(h, buf, (size_t)r);
        total += r;
    }
    char got[MOPS_SHA256_HEX];
    mops_sha256_final(h, got);
    if (total != size || strcmp(got, sha) != 0) {
        close(fd);
        return mops_err_set(err, MOPS_ECORRUPT,
                            "blob sha256:%s is damaged on disk (%lld bytes hashing to %s); "
                            "restore it from backup",
                            sha, (long long)total, got);
    }
    *fd_out = fd;
    return 0;
}
