/*
 * finops_int.h — private to finops/: the price sheet as numbers, the cost
 * engine shared by the report, the export, budgets, KPIs and governance's
 * hooks, and the alert seam. Internal names carry the finops__ prefix.
 */
#ifndef MOPS_FINOPS_INT_H
#define MOPS_FINOPS_INT_H

#include "auth/auth.h"
#include "core/json.h"
#include "finops/finops.h"

#define FINOPS_HOUR_MS 3600000LL
#define FINOPS_MONTH_HOURS 730.0 /* OpenCost's (and the clouds') month */
#define FINOPS_GB 1073741824.0   /* 2^30 bytes */

/* ------------------------------------------------------------ prices */

typedef struct finops_prices {
    int64_t version, effective_from; /* effective_from: an hour's start */
    double cpu, ram, storage, gpu, egress, fixed;
    char currency[4];
} finops_prices_t;

/* Every version of the sheet, the built-in default first (version 0),
 * then by effective_from and version: a heap array (caller frees). */
int finops__prices_load(const mops_ctx_t *ctx, finops_prices_t **out, size_t *n,
                        mops_err_t *err);

/* The version in effect for the usage hour starting at hour_ms. */
const finops_prices_t *finops__prices_at(const finops_prices_t *p, size_t n, int64_t hour_ms);

/* ------------------------------------------------------------ costs */

/* What a group of usage rows adds up to. */
typedef enum {
    FC_CPU, FC_RAM, FC_GPU, FC_STORAGE, FC_EGRESS, FC_FIXED, FC_OVERHEAD, FC_IDLE, FC_COUNT
} finops_line_t;

extern const char *const finops__line_names[FC_COUNT];

typedef struct finops_sum {
    int64_t team_id, model_id, version_id, deployment_id; /* the group's key */
    int64_t requests, errors, predictions, shadow_rows, batch_jobs;
    int64_t cpu_ns, wall_us, bytes_in, bytes_out, deployed_ms;
    double mem_byte_ms, storage_byte_ms;
    double cost[FC_COUNT];
    double idle_deployment; /* ram + fixed in hours the deployment served nothing */
} finops_sum_t;

typedef enum { FG_TEAM, FG_MODEL, FG_VERSION, FG_DEPLOYMENT } finops_group_t;

/* Totals of the servers' own CPU over a period, in ns, and the money of
 * overhead and idle capacity in hours nobody metered CPU (not allocated). */
typedef struct finops_server_sum {
    int64_t process_ns, metered_ns, capacity_ns, overhead_ns, idle_ns;
    double unallocated;
} finops_server_sum_t;

/* Called for every usage row with its costs (one team, model, version,
 * deployment and hour: the key fields of row). */
typedef void (*finops_row_fn)(const finops_sum_t *row, int64_t hour, void *arg);

/* Costs of the usage hours in [from_ms, to_ms) of only_team (0: every
 * team; the caller filters what its reader may see), grouped by g, with
 * overhead and idle capacity allocated in each hour by metered CPU across
 * every team. *out: a heap array of *n sums (caller frees); *server (may
 * be NULL): the servers' totals; each (may be NULL) sees every row. */
int finops__compute(const mops_ctx_t *ctx, finops_group_t g, int64_t from_ms, int64_t to_ms,
                    int64_t only_team, finops_sum_t **out, size_t *n, finops_server_sum_t *server,
                    finops_row_fn each, void *arg, mops_err_t *err);

/* The sum's total cost (all lines). */
double finops__total(const finops_sum_t *s);

/* Realised and declared value of a model (version_id 0: every version)
 * in [from_ms, to_ms), given its predictions there. */
int finops__value(const mops_ctx_t *ctx, int64_t model_id, int64_t version_id,
                  int64_t predictions, int64_t from_ms, int64_t to_ms, double *value,
                  mops_err_t *err);

/* The name of a metered object (kind "team", "model", "version",
 * "deployment") as learnt when metering, in the arena; "#<id>" when
 * unknown. */
const char *finops__label(const mops_ctx_t *ctx, const char *kind, int64_t id);

/* Record a name for a metered object (inside a transaction). */
int finops__label_set(const mops_ctx_t *ctx, const char *kind, int64_t id, int64_t team_id,
                      int64_t parent_id, const char *name, mops_err_t *err);

/* Parse the from/to of a query ("" or NULL: defaults) as RFC 3339. */
int finops__period(const char *from, const char *to, int64_t dflt_from, int64_t *from_ms,
                   int64_t *to_ms, mops_err_t *err);

/* The start of the hour holding ms (before 1970 too). */
int64_t finops__hour_start(int64_t ms);
/* The start of the UTC month holding ms, and of the next one. */
int64_t finops__month_start(int64_t ms);
int64_t finops__month_next(int64_t month_start);

/* ------------------------------------------------------------ alerts */

/* The one place a FinOps alert leaves the module: monitoring's alert path
 * (monitor_alert_fire: stored with the team's other alerts, sent to its
 * webhooks as "alert.firing"). Inside the caller's transaction. */
int finops__alert_fire(const mops_ctx_t *ctx, int64_t team_id, int64_t model_id,
                       const char *key, const char *kind, const char *severity,
                       const char *message, double value, double threshold, json_t *detail,
                       mops_err_t *err);

#endif
