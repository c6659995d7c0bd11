/*
 * artifact.c — the content-addressed artifact store.
 *
 * An upload streams into artifacts/tmp/ while its SHA-256 is computed; on
 * finish the file is fsynced and renamed to artifacts/sha256/ab/cdef...
 * (the directory fsynced too), so a file under a hash is always whole, and
 * identical bytes are kept once. Only then is the artifact recorded in the
 * store, so a row never points at a missing or partial file. Files left in
 * tmp/ by a crash are removed at start-up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/fs.h"
#include "core/text.h"
#include "core/time.h"
#include "registry/registry_int.h"

struct registry_upload {
    int fd;
    char tmp[PATH_MAX];
    mops_sha256_t *hash;
    int64_t size, max;
    reg_model_t model;
    char team[MOPS_NAME_MAX + 1], name[MOPS_NAME_MAX + 1];
};

static void tmp_dir(const mops_env_t *env, char *buf, size_t n)
{
    snprintf(buf, n, "%s/tmp", env->artifact_dir);
}

int registry_artifacts_init(const mops_env_t *env, mops_err_t *err)
{
    char dir[PATH_MAX];
    tmp_dir(env, dir, sizeof dir);
    int rc = mops_mkdir_p(dir, 0700, err);
    if (rc != 0)
        return rc;
    snprintf(dir, sizeof dir, "%s/sha256", env->artifact_dir);
    if ((rc = mops_mkdir_p(dir, 0700, err)) != 0)
        return rc;
    tmp_dir(env, dir, sizeof dir);
    DIR *d = opendir(dir);
    if (!d)
        return mops_err_set(err, MOPS_EIO, "cannot read '%s': %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "upload-", 7))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    return 0;
}

void registry_artifact_path(const mops_env_t *env, const char *sha, char *buf, size_t n)
{
    snprintf(buf, n, "%s/sha256/%.2s/%s", env->artifact_dir, sha, sha + 2);
}

int registry_upload_begin(const mops_ctx_t *ctx, const char *team, const char *model,
                          int64_t max_bytes, registry_upload_t **out, mops_err_t *err)
{
    reg_model_t m;
    int rc = reg_model_resolve(ctx, team, model, AUTH_VERSION_WRITE, &m, err);
    if (rc != 0)
        return rc;
    if (m.archived)
        return mops_err_set(err, MOPS_EPRECOND, "model %s/%s is archived", team, model);
    registry_upload_t *u = mops_xcalloc(1, sizeof *u);
    tmp_dir(ctx->env, u->tmp, sizeof u->tmp);
    size_t len = strlen(u->tmp);
    snprintf(u->tmp + len, sizeof u->tmp - len, "/upload-XXXXXX");
    u->fd = mkostemp(u->tmp, O_CLOEXEC);
    if (u->fd < 0) {
        rc = mops_err_set(err, MOPS_EIO, "cannot create an upload file in '%s': %s",
                          ctx->env->artifact_dir, strerror(errno));
        free(u);
        return rc;
    }
    u->hash = mops_sha256_new();
    u->max = max_bytes;
    snprintf(u->team, sizeof u->team, "%s", team);
    snprintf(u->name, sizeof u->name, "%s", model);
    u->model = m;
    u->model.team = u->team;
    u->model.name = u->name;
    *out = u;
    return 0;
}

int registry_upload_write(registry_upload_t *u, const void *p, size_t n, mops_err_t *err)
{
    if (u->size + (int64_t)n > u->max)
        return mops_err_set(err, MOPS_ETOOBIG, "the artifact is larger than the limit of %lld "
                            "bytes (server option --max-upload)", (long long)u->max);
    const char *c = p;
    size_t left = n;
    while (left) {
        ssize_t w = write(u->fd, c, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return mops_err_set(err, MOPS_EIO, "cannot store the upload: %s", strerror(errno));
        }
        c += w;
        left -= (size_t)w;
    }
    mops_sha256_update(u->hash, p, n);
    u->size += (int64_t)n;
    return 0;
}

void registry_upload_abort(registry_upload_t *u)
{
    if (!u)
        return;
    if (u->fd >= 0)
        close(u->fd);
    unlink(u->tmp);
    mops_sha256_free(u->hash);
    free(u);
}

/* Move the finished temporary file under its hash, durably. *existed says
 * whether identical bytes were already stored (then the copy is dropped). */
static int place_file(const mops_env_t *env, registry_upload_t *u, const char *sha, int *existed,
                      mops_err_t *err)
{
    char dir[PATH_MAX], path[PATH_MAX], parent[PATH_MAX - 8];
    snprintf(parent, sizeof parent, "%s/sha256", env->artifact_dir);
    snprintf(dir, sizeof dir, "%s/%.2s", parent, sha);
    registry_artifact_path(env, sha, path, sizeof path);
    int rc = mops_mkdir_p(dir, 0700, err);
    if (rc != 0)
        return rc;
    struct stat st;
    *existed = stat(path, &st) == 0 && st.st_size == u->size;
    if (*existed) {
        unlink(u->tmp);
        return 0;
    }
    if (rename(u->tmp, path) != 0)
        return mops_err_set(err, MOPS_EIO, "cannot store artifact %s: %s", sha, strerror(errno));
    if ((rc = mops_fsync_dir(dir, err)) != 0)
        return rc;
    return mops_fsync_dir(parent, err);
}

int registry_upload_finish(const mops_ctx_t *ctx, registry_upload_t *u, json_t **out,
                           mops_err_t *err)
{
    char sha[MOPS_SHA256_HEX];
    int rc = 0, existed = 0;
    int64_t new_to_team = 0;
    if (fsync(u->fd) != 0)
        rc = mops_err_set(err, MOPS_EIO, "cannot fsync the upload: %s", strerror(errno));
    close(u->fd);
    u->fd = -1;
    mops_sha256_final(u->hash, sha);
    u->hash = NULL;
    if (rc == 0 && u->size == 0)
        rc = mops_err_set(err, MOPS_EINVAL, "the artifact is empty");
    if (rc == 0)
        rc = place_file(ctx->env, u, sha, &existed, err);
    if (rc != 0) {
        registry_upload_abort(u);
        return rc;
    }
    int64_t now = mops_now_ms(), by = ctx->who ? ctx->who->user_id : 0;
    if ((rc = store_begin(ctx->db, err)) == 0 &&
        (rc = store_exec(ctx->db, NULL, err,
                         "INSERT INTO artifacts (sha256, size, created_by, created_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                         "tiIi", sha, u->size, by, now)) == 0 &&
        (rc = store_exec(ctx->db, &new_to_team, err,
                         "INSERT INTO artifact_uploads (sha256, team_id, created_by, created_at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (sha256, team_id) DO NOTHING",
                         "tiIi", sha, u->model.team_id, by, now)) == 0) {
        json_t *detail = json_pack("{s:s, s:I}", "sha256", sha, "size", (json_int_t)u->size);
        rc = audit_record(ctx, "artifact.upload", reg_target(ctx, &u->model, 0),
                          u->model.team_id, detail, err);
        json_decref(detail);
    }
    rc = reg_tx_end(ctx, rc, err);
    /* "already stored" answers for the caller's team only: whether another
     * team holds the same bytes is that team's secret. */
    if (rc == 0)
        *out = json_pack("{s:s, s:I, s:b}", "sha256", sha, "size", (json_int_t)u->size,
                         "already_stored", new_to_team == 0);
    registry_upload_abort(u); /* the temporary name is gone; this frees */
    return rc;
}

/* Hash the file behind fd from its start and compare with sha. */
static int verify_file(int fd, const char *sha, int64_t size, mops_err_t *err)
{
    mops_sha256_t *h = mops_sha256_new();
    static __thread char buf[1 << 16];
    int64_t total = 0;
    for (;;) {
        ssize_t r = pread(fd, buf, sizeof buf, total);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            mops_sha256_free(h);
            return mops_err_set(err, MOPS_EIO, "cannot read artifact %s: %s", sha,
                                strerror(errno));
        }
        if (r == 0)
            break;
        mops_sha256_update(h, buf, (size_t)r);
        total += r;
    }
    char got[MOPS_SHA256_HEX];
    mops_sha256_final(h, got);
    if (total != size || strcmp(got, sha) != 0)
        return mops_err_set(err, MOPS_ECORRUPT,
                            "artifact sha256:%s is damaged on disk (%lld bytes hashing to %s); "
                            "restore it from backup",
                            sha, (long long)total, got);
    return 0;
}

int registry_artifact_open_verified(const mops_env_t *env, const char *sha, int64_t size,
                                    int *fd_out, mops_err_t *err)
{
    char path[PATH_MAX];
    registry_artifact_path(env, sha, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mops_err_set(err, errno == ENOENT ? MOPS_ECORRUPT : MOPS_EIO,
                            "artifact sha256:%s is missing from the artifact store: %s", sha,
                            strerror(errno));
    int rc = verify_file(fd, sha, size, err);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}
