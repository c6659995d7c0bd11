/*
 * fs.c — durable file writes and small-file reads.
 */
#include "core/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/mem.h"

int mops_mkdir_p(const char *path, mode_t mode, mops_err_t *err)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return mops_err_set(err, MOPS_EINVAL, "directory path '%s' is empty or too long", path);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, mode) != 0 && errno != EEXIST)
                return mops_err_set(err, MOPS_EIO, "cannot create directory '%s': %s", buf,
                                    strerror(errno));
            *p = c;
            if (c == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return mops_err_set(err, MOPS_EIO, "'%s' is not a directory", path);
    return 0;
}

int mops_fsync_dir(const char *path, mops_err_t *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return mops_err_set(err, MOPS_EIO, "cannot open directory '%s': %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return mops_err_set(err, MOPS_EIO, "cannot fsync directory '%s': %s", path, strerror(e));
    return 0;
}

void mops_dirname(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(buf, size, ".");
    } else if (slash == path) {
        snprintf(buf, size, "/");
    } else {
        snprintf(buf, size, "%.*s", (int)(slash - path), path);
    }
}

static int write_all_sync(int fd, const char *path, const void *data, size_t n, mops_err_t *err)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return mops_err_set(err, MOPS_EIO, "cannot write '%s': %s", path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    if (fsync(fd) != 0)
        return mops_err_set(err, MOPS_EIO, "cannot fsync '%s': %s", path, strerror(errno));
    return 0;
}

int mops_write_file_atomic(const char *path, const void *data, size_t n, mode_t mode,
                           mops_err_t *err)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 64], rnd[17];
    unsigned char r[8];
    mops_random_bytes(r, sizeof r);
    mops_hex_encode(r, sizeof r, rnd);
    mops_dirname(path, dir, sizeof dir);
    snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return mops_err_set(err, MOPS_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    int rc = write_all_sync(fd, tmp, data, n, err);
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = mops_err_set(err, MOPS_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
                          strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    return mops_fsync_dir(dir, err);
}

int mops_write_file_new(const char *path, const void *data, size_t n, mode_t mode,
                        mops_err_t *err)
{
    char dir[PATH_MAX];
    mops_dirname(path, dir, sizeof dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return mops_err_set(err, MOPS_ECONFLICT, "'%s' already exists", path);
        return mops_err_set(err, MOPS_EIO, "cannot create '%s': %s", path, strerror(errno));
    }
    int rc = write_all_sync(fd, path, data, n, err);
    close(fd);
    if (rc != 0) {
        unlink(path);
        return rc;
    }
    return mops_fsync_dir(dir, err);
}

int mops_read_file(const char *path, size_t max, char **out, size_t *len, mops_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return mops_err_set(err, MOPS_ENOTFOUND, "'%s' does not exist", path);
        return mops_err_set(err, MOPS_EIO, "cannot open '%s': %s", path, strerror(errno));
    }
    mops_buf_t b = MOPS_BUF_INIT;
    char chunk[8192];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            mops_buf_release(&b);
            return mops_err_set(err, MOPS_EIO, "cannot read '%s': %s", path, strerror(e));
        }
        if (r == 0)
            break;
        if (b.len + (size_t)r > max) {
            close(fd);
            mops_buf_release(&b);
            return mops_err_set(err, MOPS_ETOOBIG, "'%s' is larger than %zu bytes", path, max);
        }
        mops_buf_append(&b, chunk, (size_t)r);
    }
    close(fd);
    if (len)
        *len = b.len;
    *out = mops_buf_detach(&b);
    return 0;
}
