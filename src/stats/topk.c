/*
 * topk.c — frequent values with the Misra–Gries summary: k counters; a
 * value already counted is incremented, a new one takes a free counter,
 * and when none is free every counter is decremented (the new value with
 * them). Each decrement round removes k + 1 from the total, so a count is
 * low by at most d = (n - sum of counters) / (k + 1) <= n / (k + 1) and
 * never high; every value occurring more than d times is present.
 *
 * Merging follows Agarwal et al., "Mergeable summaries" (PODS 2012): add
 * the counters, then subtract the (k+1)-th largest count from all and keep
 * the positive ones; the same bound d holds for the union.
 *
 * Values are identified by a 64-bit hash given by the caller (shared with
 * HyperLogLog); the first STATS_TOPK_TEXT_MAX bytes are kept for display,
 * cut at a UTF-8 character boundary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/text.h"
#include "stats/stats.h"
#include "stats/stats_int.h"

typedef struct slot {
    uint64_t hash;
    uint64_t count; /* 0: free */
    uint8_t len;
    uint8_t truncated;
    char text[STATS_TOPK_TEXT_MAX + 1];
} slot_t;

struct stats_topk {
    int k;
    uint64_t n;
    slot_t *slots; /* k */
    int used;
    int *free_ix;  /* stack of free slot numbers */
    int nfree;
    int *index;    /* open addressing over hashes: slot number or -1 */
    uint32_t mask;
};

static void index_rebuild(stats_topk_t *t)
{
    memset(t->index, 0xff, (t->mask + 1) * sizeof *t->index);
    t->nfree = 0;
    for (int i = t->k - 1; i >= 0; i--) {
        if (!t->slots[i].count) {
            t->free_ix[t->nfree++] = i;
            continue;
        }
        uint32_t pos = (uint32_t)t->slots[i].hash & t->mask;
        while (t->index[pos] >= 0)
            pos = (pos + 1) & t->mask;
        t->index[pos] = i;
    }
    t->used = t->k - t->nfree;
}

stats_topk_t *stats_topk_new(int k)
{
    if (k < 2)
        k = 2;
    if (k > 4096)
        k = 4096;
    stats_topk_t *t = mops_xcalloc(1, sizeof *t);
    t->k = k;
    t->slots = mops_xcalloc((size_t)k, sizeof *t->slots);
    t->free_ix = mops_xmalloc((size_t)k * sizeof *t->free_ix);
    uint32_t size = 4;
    while (size < (uint32_t)k * 2)
        size *= 2;
    t->mask = size - 1;
    t->index = mops_xmalloc(size * sizeof *t->index);
    index_rebuild(t);
    return t;
}

void stats_topk_free(stats_topk_t *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->free_ix);
    free(t->index);
    free(t);
}

/* Keep at most STATS_TOPK_TEXT_MAX bytes, ending on a character boundary. */
static void slot_set_text(slot_t *s, const char *text, size_t len)
{
    size_t keep = mops_utf8_prefix(text, len, STATS_TOPK_TEXT_MAX);
    memcpy(s->text, text, keep);
    s->text[keep] = '\0';
    s->len = (uint8_t)keep;
    s->truncated = keep < len;
}

static int lookup(const stats_topk_t *t, uint64_t hash)
{
    uint32_t pos = (uint32_t)hash & t->mask;
    for (;;) {
        int i = t->index[pos];
        if (i < 0 || t->slots[i].hash == hash)
            return i;
        pos = (pos + 1) & t->mask;
    }
}

/* Take a free counter for a new value; returns its slot number. */
static int insert(stats_topk_t *t, const char *text, size_t len, uint64_t hash, uint64_t count)
{
    int i = t->free_ix[--t->nfree];
    slot_t *s = &t->slots[i];
    s->hash = hash;
    s->count = count;
    slot_set_text(s, text, len);
    uint32_t pos = (uint32_t)hash & t->mask;
    while (t->index[pos] >= 0)
        pos = (pos + 1) & t->mask;
    t->index[pos] = i;
    t->used++;
    return i;
}

void stats_topk_add(stats_topk_t *t, const char *text, size_t len, uint64_t hash)
{
    t->n++;
    int i = lookup(t, hash);
    if (i >= 0) {
        t->slots[i].count++;
        return;
    }
    if (t->nfree) {
        insert(t, text, len, hash, 1);
        return;
    }
    for (int j = 0; j < t->k; j++)
        t->slots[j].count--;
    index_rebuild(t);
}

uint64_t stats_topk_n(const stats_topk_t *t)
{
    return t->n;
}

uint64_t stats_topk_error(const stats_topk_t *t)
{
    uint64_t sum = 0;
    for (int i = 0; i < t->k; i++)
        sum += t->slots[i].count;
    return (t->n - sum) / (uint64_t)(t->k + 1);
}

static int count_desc(const void *a, const void *b)
{
    const slot_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    int c = strcmp(x->text, y->text);
    return c ? c : (x->hash > y->hash) - (x->hash < y->hash);
}

int stats_topk_merge(stats_topk_t *t, const stats_topk_t *o, mops_err_t *err)
{
    if (t->k != o->k)
        return mops_err_set(err, MOPS_EINVAL,
                            "cannot merge top-k summaries of different sizes (k %d and %d)",
                            t->k, o->k);
    /* Every counter of both, equal values added together. */
    slot_t *all = mops_xmalloc((size_t)(t->k + o->k) * sizeof *all);
    int m = 0;
    for (int i = 0; i < t->k; i++)
        if (t->slots[i].count)
            all[m++] = t->slots[i];
    for (int i = 0; i < o->k; i++) {
        const slot_t *s = &o->slots[i];
        if (!s->count)
            continue;
        int j = lookup(t, s->hash);
        if (j >= 0) {
            for (int a = 0; a < m; a++)
                if (all[a].hash == s->hash) {
                    all[a].count += s->count;
                    break;
                }
        } else {
            all[m++] = *s;
        }
    }
    qsort(all, (size_t)m, sizeof *all, count_desc);
    uint64_t cut = m > t->k ? all[t->k].count : 0;
    memset(t->slots, 0, (size_t)t->k * sizeof *t->slots);
    int kept = 0;
    for (int i = 0; i < m && kept < t->k; i++)
        if (all[i].count > cut) {
            t->slots[kept] = all[i];
            t->slots[kept++].count -= cut;
        }
    free(all);
    t->n += o->n;
    index_rebuild(t);
    return 0;
}

size_t stats_topk_items(const stats_topk_t *t, stats_topk_item_t *out, size_t max)
{
    slot_t **order = mops_xmalloc((size_t)t->k * sizeof *order);
    size_t m = 0;
    for (int i = 0; i < t->k; i++)
        if (t->slots[i].count)
            order[m++] = &t->slots[i];
    /* a small selection sort: k is small and max smaller */
    size_t n = m < max ? m : max;
    for (size_t i = 0; i < n; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < m; j++)
            if (count_desc(order[j], order[best]) < 0)
                best = j;
        slot_t *tmp = order[i];
        order[i] = order[best];
        order[best] = tmp;
        out[i] = (stats_topk_item_t){order[i]->text, order[i]->len, order[i]->truncated,
                                     order[i]->count, order[i]->hash};
    }
    free(order);
    return n;
}

json_t *stats_topk_to_json(const stats_topk_t *t)
{
    stats_topk_item_t *items = mops_xmalloc((size_t)t->k * sizeof *items);
    size_t n = stats_topk_items(t, items, (size_t)t->k);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char h[17];
        snprintf(h, sizeof h, "%016llx", (unsigned long long)items[i].hash);
        json_array_append_new(
            arr, json_pack("{s:s, s:I, s:o, s:b}", "hash", h, "count", (json_int_t)items[i].count,
                           "text", stats_b64_bytes((const uint8_t *)items[i].text, items[i].len),
                           "truncated", items[i].truncated));
    }
    free(items);
    return json_pack("{s:s, s:i, s:I, s:o}", "type", "topk", "k", t->k, "n", (json_int_t)t->n,
                     "items", arr);
}

int stats_topk_from_json(const json_t *j, stats_topk_t **out, mops_err_t *err)
{
    uint64_t k = 0, n = 0;
    int rc;
    if ((rc = stats_json_type(j, "topk", err)) != 0 ||
        (rc = stats_json_u64(j, "k", "topk", &k, err)) != 0 ||
        (rc = stats_json_u64(j, "n", "topk", &n, err)) != 0)
        return rc;
    json_t *items = json_object_get(j, "items");
    if (k < 2 || k > 4096 || !json_is_array(items) || json_array_size(items) > k)
        return mops_err_set(err, MOPS_EINVAL, "topk: malformed summary");
    stats_topk_t *t = stats_topk_new((int)k);
    uint64_t sum = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *h = json_string_value(json_object_get(it, "hash"));
        unsigned long long hash;
        uint64_t count = 0;
        uint8_t *text = NULL;
        size_t len = 0;
        if (!h || strlen(h) != 16 || sscanf(h, "%16llx", &hash) != 1 ||
            (rc = stats_json_u64(it, "count", "topk", &count, err)) != 0 || count == 0 ||
            (rc = stats_unb64_bytes(json_object_get(it, "text"), "topk text", &text, &len,
                                    err)) != 0 ||
            len > STATS_TOPK_TEXT_MAX || lookup(t, hash) >= 0) {
            free(text);
            stats_topk_free(t);
            return rc ? rc : mops_err_set(err, MOPS_EINVAL, "topk: malformed item %zu", i);
        }
        int slot = insert(t, (const char *)text, len, hash, count);
        t->slots[slot].truncated = json_is_true(json_object_get(it, "truncated"));
        free(text);
        sum += count;
    }
    if (sum > n) {
        stats_topk_free(t);
        return mops_err_set(err, MOPS_EINVAL, "topk: counts exceed n");
    }
    t->n = n;
    *out = t;
    return 0;
}
