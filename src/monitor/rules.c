/*
 * rules.c — alert rules per deployment and their evaluator (next commit).
 */
#include "monitor/monitor_int.h"

int mon_rules_evaluate(store_conn_t *db, const mops_env_t *env, mops_err_t *err)
{
    (void)db;
    (void)env;
    (void)err;
    return 0;
}
