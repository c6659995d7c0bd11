/*
 * agg.c — placeholder for the serving aggregator (next commit).
 */
#include "monitor/monitor_int.h"

int mon_metrics_serving(const mops_ctx_t *ctx, mops_buf_t *b, mops_err_t *err)
{
    (void)ctx;
    (void)b;
    (void)err;
    return 0;
}
