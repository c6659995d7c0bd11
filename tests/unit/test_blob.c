/*
 * test_blob.c — the content-addressed blob store: streaming writes, one
 * copy per content, limits, aborts and crash leftovers, whole files, and
 * verified reads that catch damage.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "testutil.h"
#include "store/blob.h"

static int count(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void put(const char *dir, const char *data, char *sha, int *existed)
{
    store_blob_writer_t *w;
    int64_t size;
    TU_OK(store_blob_writer_new(dir, 1 << 20, "the test blob", &w, &tu_err_));
    TU_OK(store_blob_write(w, data, strlen(data) / 2, &tu_err_));
    TU_OK(store_blob_write(w, data + strlen(data) / 2, strlen(data) - strlen(data) / 2, &tu_err_));
    assert_int_equal(store_blob_size(w), (int64_t)strlen(data));
    TU_OK(store_blob_commit(w, sha, &size, existed, &tu_err_));
    assert_int_equal(size, (int64_t)strlen(data));
}

static void test_blob_store(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), tmp[600], path[700], sha[65], sha2[65], want[65];
    mops_err_t err;
    TU_OK(store_blob_init(dir, &tu_err_));
    int existed = -1;
    put(dir, "hello blobs", sha, &existed);
    mops_sha256_hex("hello blobs", 11, want);
    assert_string_equal(sha, want);
    assert_int_equal(existed, 0);
    put(dir, "hello blobs", sha2, &existed);
    assert_int_equal(existed, 1);
    store_blob_path(dir, sha, path, sizeof path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Limits leave nothing behind once aborted. */
    store_blob_writer_t *w;
    TU_OK(store_blob_writer_new(dir, 4, "the small blob", &w, &tu_err_));
    assert_int_equal(store_blob_write(w, "12345", 5, &err), MOPS_ETOOBIG);
    assert_non_null(strstr(err.msg, "the small blob is larger than the limit of 4 bytes"));
    store_blob_abort(w);
    snprintf(tmp, sizeof tmp, "%s/tmp", dir);
    assert_int_equal(count(tmp), 0);
    /* A crash's leftover is removed at the next start. */
    TU_OK(store_blob_writer_new(dir, 100, "x", &w, &tu_err_));
    TU_OK(store_blob_write(w, "partial", 7, &tu_err_));
    assert_int_equal(count(tmp), 1);
    TU_OK(store_blob_init(dir, &tu_err_));
    assert_int_equal(count(tmp), 0);
    store_blob_abort(w); /* its file is already gone */

    /* Whole files. */
    char src[600];
    snprintf(src, sizeof src, "%s/src.txt", dir);
    FILE *f = fopen(src, "w");
    fputs("hello blobs", f);
    fclose(f);
    int64_t size;
    TU_OK(store_blob_put_file(dir, src, sha2, &size, &tu_err_));
    assert_string_equal(sha2, sha);

    /* Verified reads. */
    int fd;
    TU_OK(store_blob_open(dir, sha, 11, &fd, &tu_err_));
    char buf[16] = "";
    assert_int_equal(read(fd, buf, sizeof buf), 11);
    close(fd);
    assert_int_equal(store_blob_open(dir, sha, 12, &fd, &err), MOPS_ECORRUPT);
    f = fopen(path, "r+");
    fputc('J', f);
    fclose(f);
    assert_int_equal(store_blob_open(dir, sha, 11, &fd, &err), MOPS_ECORRUPT);
    assert_non_null(strstr(err.msg, "damaged"));
    unlink(path);
    assert_int_equal(store_blob_open(dir, sha, 11, &fd, &err), MOPS_ECORRUPT);
    assert_non_null(strstr(err.msg, "missing"));
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_blob_store)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
