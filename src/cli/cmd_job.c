/*
 * cmd_job.c — `mops job submit|list|show|wait|download|cancel`: batch
 * scoring of a CSV on the server, with a deployment's primary or a model
 * version. submit uploads the CSV (streamed, with a progress bar on a
 * terminal) and queues the job; wait follows its progress until it ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/time.h"

#define GROUP "job"

enum { OPT_DEPLOYMENT = 3100, OPT_MODEL, OPT_INPUT, OPT_OUTPUTS, OPT_KEEP, OPT_WAIT, OPT_TEAM,
       OPT_STATUS, OPT_TIMEOUT };

static void print_job(const json_t *j)
{
    const json_t *p = json_object_get(j, "progress"), *r = json_object_get(j, "result");
    printf("job:        %s (team %s)\n", cli_cell(json_object_get(j, "id"), 0),
           cli_cell(json_object_get(j, "team"), 1));
    printf("status:     %s%s\n", cli_cell(json_object_get(j, "status"), 0),
           json_is_true(json_object_get(j, "cancel_requested")) &&
                   !strcmp(json_string_value(json_object_get(j, "status")), "running")
               ? " (cancel requested)"
               : "");
    if (json_is_string(json_object_get(j, "deployment")))
        printf("scored by:  deployment %s: %s@%s\n", cli_cell(json_object_get(j, "deployment"), 0),
               cli_cell(json_object_get(j, "model"), 1), cli_cell(json_object_get(j, "version"), 2));
    else
        printf("scored by:  %s/%s@%s\n", cli_cell(json_object_get(j, "team"), 0),
               cli_cell(json_object_get(j, "model"), 1), cli_cell(json_object_get(j, "version"), 2));
    printf("input:      sha256:%s (%s bytes)\n",
           cli_cell(json_object_get(json_object_get(j, "input"), "sha256"), 0),
           cli_cell(json_object_get(json_object_get(j, "input"), "size"), 1));
    printf("outputs:    %s\n", cli_cell(json_object_get(j, "outputs"), 0));
    printf("progress:   %.0f%%, %s rows\n", json_number_value(json_object_get(p, "percent")),
           cli_cell(json_object_get(p, "rows"), 0));
    if (json_is_object(r))
        printf("result:     sha256:%s (%s bytes): mops job download %s -o FILE\n",
               cli_cell(json_object_get(r, "sha256"), 0), cli_cell(json_object_get(r, "size"), 1),
               cli_cell(json_object_get(j, "id"), 2));
    if (json_string_length(json_object_get(j, "error")))
        printf("error:      %s\n", cli_cell(json_object_get(j, "error"), 0));
    printf("attempts:   %s; cpu %.2f s\n", cli_cell(json_object_get(j, "attempts"), 0),
           json_number_value(json_object_get(j, "cpu_seconds")));
    printf("created:    %s by %s; started %s; finished %s\n",
           cli_time(json_object_get(j, "created_at"), 0), cli_cell(json_object_get(j, "created_by"), 1),
           cli_time(json_object_get(j, "started_at"), 2),
           cli_time(json_object_get(j, "finished_at"), 3));
}

static int job_id_arg(const char *arg, long long *id)
{
    if (mops_parse_i64(arg, id) != 0)
        return cli_usage_error("job id must be a number (see 'mops job list')");
    return 0;
}

/* Poll job id until it ends (or timeout seconds pass, 0: no limit), with
 * a progress bar on a terminal. *out: its last state. */
static int wait_job(const cli_client_t *c, long long id, double timeout, int quiet, json_t **out,
                    mops_err_t *err)
{
    char *path = mops_xasprintf("/api/v1/jobs/%lld", id);
    int64_t t0 = mops_mono_us();
    int bar = !quiet && isatty(2), drawn = 0, rc;
    json_t *j = NULL;
    for (;;) {
        json_decref(j);
        j = NULL;
        if ((rc = cli_request(c, "GET", path, NULL, &j, err)) != 0)
            break;
        const char *status = json_string_value(json_object_get(j, "status"));
        const json_t *p = json_object_get(j, "progress");
        if (bar) {
            double pct = json_number_value(json_object_get(p, "percent"));
            int fill = (int)(pct / 100 * 30);
            fprintf(stderr, "\rjob %lld %-9s [%.*s%*s] %3.0f%% %s rows ", id, status, fill,
                    "##############################", 30 - fill, "", pct,
                    cli_cell(json_object_get(p, "rows"), 0));
            drawn = 1;
        }
        if (strcmp(status, "queued") && strcmp(status, "running"))
            break;
        if (timeout > 0 && (double)(mops_mono_us() - t0) / 1e6 > timeout) {
            rc = mops_err_set(err, MOPS_EUNAVAIL, "job %lld is still %s after %.0f s", id, status,
                              timeout);
            break;
        }
        usleep(250 * 1000);
    }
    if (drawn)
        fputc('\n', stderr);
    free(path);
    if (rc != 0) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return 0;
}

/* After a wait: 0 when the job succeeded, else CLI_FAIL with why. */
static int job_outcome(const json_t *j)
{
    const char *status = json_string_value(json_object_get(j, "status"));
    if (!strcmp(status, "succeeded"))
        return CLI_OK;
    fprintf(stderr, "mops %s %s: job %s %s%s%s\n", cli_current_group, cli_current_sub->name,
            cli_cell(json_object_get(j, "id"), 0), status,
            json_string_length(json_object_get(j, "error")) ? ": " : "",
            json_string_value(json_object_get(j, "error")));
    return CLI_FAIL;
}

static int download(const cli_client_t *c, long long id, const char *file, mops_err_t *err)
{
    char *path = mops_xasprintf("/api/v1/jobs/%lld/result", id);
    char sha[65];
    int rc = cli_download(c, path, file, sha, err);
    free(path);
    if (rc == 0)
        fprintf(stderr, "wrote %s (sha256:%s)\n", file, sha);
    return rc;
}

static int job_submit(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"deployment", required_argument, NULL, OPT_DEPLOYMENT},
        {"model", required_argument, NULL, OPT_MODEL},
        {"input", required_argument, NULL, 'i'},
        {"outputs", required_argument, NULL, OPT_OUTPUTS},
        {"keep", required_argument, NULL, OPT_KEEP},
        {"wait", no_argument, NULL, OPT_WAIT},
        {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0}};
    const char *deployment = NULL, *model = NULL, *input = NULL, *outfile = NULL;
    json_t *body = json_object(), *keep = json_array(), *outs = NULL;
    int json = 0, wait = 0, ch, rc = 0;
    while (rc == 0 && (ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        switch (ch) {
        case OPT_DEPLOYMENT: deployment = optarg; break;
        case OPT_MODEL: model = optarg; break;
        case 'i': input = optarg; break;
        case 'o': outfile = optarg; break;
        case OPT_KEEP: json_array_append_new(keep, json_string(optarg)); break;
        case OPT_WAIT: wait = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_OUTPUTS: {
            json_decref(outs);
            outs = json_array();
            char *copy = mops_xstrdup(optarg);
            for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
                 t = strtok_r(NULL, ",", &save))
                json_array_append_new(outs, json_string(t));
            free(copy);
            break;
        }
        default: rc = CLI_USAGE;
        }
    }
    char *team = NULL, *mname = NULL;
    json_t *dep = NULL, *job = NULL, *up = NULL;
    mops_err_t err;
    if (rc == 0 && argc != optind)
        rc = cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (rc == 0 && (!input || (!deployment == !model)))
        rc = cli_usage_error("give --input FILE and one of --deployment NAME or --model "
                             "TEAM/MODEL[@VERSION]");
    if (rc == 0 && outfile && !wait)
        rc = cli_usage_error("--output needs --wait (or use mops job download)");
    if (rc != 0)
        goto done;
    if (deployment) {
        char *e = cli_escape(deployment);
        char *path = mops_xasprintf("/api/v1/deployments/%s", e);
        free(e);
        rc = cli_request(c, "GET", path, NULL, &dep, &err);
        free(path);
        if (rc == 0) {
            team = cli_escape(json_string_value(json_object_get(dep, "team")));
            json_object_set_new(body, "deployment", json_string(deployment));
        }
    } else {
        char *ref = mops_xstrdup(model), *at = strchr(ref, '@');
        if (at)
            *at++ = '\0';
        const char *slash = strchr(ref, '/');
        if (!slash || slash == ref || !slash[1]) {
            free(ref);
            rc = cli_usage_error("--model \"%s\" is not TEAM/MODEL[@VERSION]", model);
            goto done;
        }
        json_object_set_new(body, "team", json_stringn(ref, (size_t)(slash - ref)));
        json_object_set_new(body, "model", json_string(slash + 1));
        long long n;
        if (at)
            json_object_set_new(body, "version",
                                mops_parse_i64(at, &n) == 0 ? json_integer(n) : json_string(at));
        team = cli_escape(json_string_value(json_object_get(body, "team")));
        free(ref);
    }
    if (rc == 0) {
        char *path = mops_xasprintf("/api/v1/jobs/inputs/%s", team);
        rc = cli_upload(c, path, input, &up, &err);
        free(path);
    }
    if (rc == 0) {
        json_object_set_new(body, "input",
                            json_pack("{s:O}", "upload", json_object_get(up, "sha256")));
        if (outs)
            json_object_set(body, "outputs", outs);
        if (json_array_size(keep))
            json_object_set(body, "keep", keep);
        rc = cli_request(c, "POST", "/api/v1/jobs", body, &job, &err);
    }
    if (rc != 0) {
        rc = cli_fail(&err);
        goto done;
    }
    long long id = json_integer_value(json_object_get(job, "id"));
    if (!wait) {
        if (json)
            cli_print_json(job);
        else
            printf("job %lld queued: mops job wait %lld\n", id, id);
        goto done;
    }
    json_t *last = NULL;
    if ((rc = wait_job(c, id, 0, json, &last, &err)) != 0) {
        rc = cli_fail(&err);
        goto done;
    }
    if (json)
        cli_print_json(last);
    rc = job_outcome(last);
    if (!json && rc == CLI_OK && !outfile)
        printf("job %lld succeeded: mops job download %lld -o FILE\n", id, id);
    if (rc == CLI_OK && outfile && download(c, id, outfile, &err) != 0)
        rc = cli_fail(&err);
    json_decref(last);
done:
    free(team);
    free(mname);
    json_decref(dep);
    json_decref(job);
    json_decref(up);
    json_decref(body);
    json_decref(keep);
    json_decref(outs);
    return rc;
}

static int job_list(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"team", required_argument, NULL, OPT_TEAM},
                                         {"status", required_argument, NULL, OPT_STATUS},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *team = NULL, *status = NULL;
    int json = 0, ch;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == OPT_TEAM)
            team = optarg;
        else if (ch == OPT_STATUS)
            status = optarg;
        else if (ch == OPT_JSON)
            json = 1;
        else
            return CLI_USAGE;
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument '%s'", argv[optind]);
    mops_buf_t q = MOPS_BUF_INIT;
    mops_buf_puts(&q, "/api/v1/jobs?limit=100");
    char *e;
    if (team) {
        e = cli_escape(team);
        mops_buf_printf(&q, "&team=%s", e);
        free(e);
    }
    if (status) {
        e = cli_escape(status);
        mops_buf_printf(&q, "&status=%s", e);
        free(e);
    }
    json_t *items = NULL;
    int more;
    mops_err_t err;
    int rc = cli_get_pages(c, q.data, 0, &items, &more, &err);
    if (rc == 0 && json) {
        json_t *o = json_pack("{s:O}", "items", items);
        cli_print_json(o);
        json_decref(o);
    } else if (rc == 0) {
        cli_table_t *t = cli_table_new(7, "ID", "TEAM", "STATUS", "MODEL", "PROGRESS", "ROWS",
                                       "CREATED");
        size_t i;
        json_t *j;
        json_array_foreach(items, i, j) {
            char model[200], pct[16];
            snprintf(model, sizeof model, "%s@%s", cli_cell(json_object_get(j, "model"), 0),
                     cli_cell(json_object_get(j, "version"), 1));
            snprintf(pct, sizeof pct, "%.0f%%",
                     json_number_value(json_object_get(json_object_get(j, "progress"),
                                                       "percent")));
            cli_table_add(t, cli_cell(json_object_get(j, "id"), 2),
                          cli_cell(json_object_get(j, "team"), 3),
                          cli_cell(json_object_get(j, "status"), 4), model, pct,
                          cli_cell(json_object_get(json_object_get(j, "progress"), "rows"), 5),
                          cli_time(json_object_get(j, "created_at"), 6));
        }
        cli_table_print(t);
        if (more)
            printf("(the newest 100; use --status or --team to narrow)\n");
    }
    json_decref(items);
    mops_buf_release(&q);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int job_show(cli_client_t *c, int argc, char **argv)
{
    int json;
    long long id;
    if (cli_json_only(argc, argv, 1, 1, &json) || job_id_arg(argv[optind], &id))
        return CLI_USAGE;
    char *path = mops_xasprintf("/api/v1/jobs/%lld", id);
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "GET", path, NULL, &out, &err);
    if (rc == 0 && json)
        cli_print_json(out);
    else if (rc == 0)
        print_job(out);
    json_decref(out);
    free(path);
    return rc ? cli_fail(&err) : CLI_OK;
}

static int job_wait(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"timeout", required_argument, NULL, OPT_TIMEOUT},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {NULL, 0, NULL, 0}};
    int json = 0, ch;
    long long id, secs = 0;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == OPT_TIMEOUT) {
            if (mops_parse_i64(optarg, &secs) != 0)
                return cli_usage_error("--timeout takes seconds");
        } else if (ch == OPT_JSON) {
            json = 1;
        } else {
            return CLI_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("give one job ID");
    if (job_id_arg(argv[optind], &id))
        return CLI_USAGE;
    json_t *last = NULL;
    mops_err_t err;
    if (wait_job(c, id, (double)secs, json, &last, &err) != 0)
        return cli_fail(&err);
    if (json)
        cli_print_json(last);
    else
        print_job(last);
    int rc = job_outcome(last);
    json_decref(last);
    return rc;
}

static int job_download(cli_client_t *c, int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    const char *file = NULL;
    int ch;
    long long id;
    while ((ch = cli_getopt(argc, argv, opts, GROUP, cli_current_sub)) != -1) {
        if (ch == 'o')
            file = optarg;
        else
            return CLI_USAGE;
    }
    if (argc - optind != 1 || !file)
        return cli_usage_error("give one job ID and -o FILE");
    if (job_id_arg(argv[optind], &id))
        return CLI_USAGE;
    mops_err_t err;
    return download(c, id, file, &err) ? cli_fail(&err) : CLI_OK;
}

static int job_cancel(cli_client_t *c, int argc, char **argv)
{
    int json;
    long long id;
    if (cli_json_only(argc, argv, 1, 1, &json) || job_id_arg(argv[optind], &id))
        return CLI_USAGE;
    char *path = mops_xasprintf("/api/v1/jobs/%lld/cancel", id);
    json_t *out = NULL;
    mops_err_t err;
    int rc = cli_request(c, "POST", path, NULL, &out, &err);
    if (rc == 0 && json)
        cli_print_json(out);
    else if (rc == 0)
        printf("job %lld: %s\n", id,
               !strcmp(json_string_value(json_object_get(out, "status")), "canceled")
                   ? "canceled"
                   : "cancel requested; it stops within a batch");
    json_decref(out);
    free(path);
    return rc ? cli_fail(&err) : CLI_OK;
}

static const cli_sub_t subs[] = {
    {"submit",
     "(--deployment NAME | --model TEAM/MODEL[@VERSION]) --input FILE.csv [--outputs LIST] "
     "[--keep COLUMN]... [--wait [-o OUT.csv]] [--json]",
     "Upload a CSV and score it on the server into a result CSV.",
     "  --deployment NAME             score with the deployment's primary version\n"
     "  --model TEAM/MODEL[@VERSION]  or with a model version (default: latest)\n"
     "  -i, --input FILE.csv          the rows: a header row, then one row per line\n"
     "  --outputs LIST                label, value, margin (default: label,value for\n"
     "                                classifiers, value for regressors)\n"
     "  --keep COLUMN                 copy an input column into the result (repeatable)\n"
     "  --wait                        follow the job until it ends\n"
     "  -o, --output FILE             with --wait: download the result there\n"
     "  --json                        print JSON\n",
     job_submit},
    {"list", "[--team TEAM] [--status STATUS] [--json]",
     "List batch jobs, newest first (status: queued, running, succeeded, failed, canceled).",
     "  --team TEAM      only this team's\n  --status STATUS  only jobs in this state\n"
     "  --json           print JSON\n",
     job_list},
    {"show", "ID [--json]", "Show a job: status, progress, result, error.", NULL, job_show},
    {"wait", "ID [--timeout SECONDS] [--json]",
     "Wait for a job to end, with a progress bar on a terminal; exit 1 unless it succeeded.",
     "  --timeout SECONDS  give up after this long (exit 1)\n  --json             print "
     "JSON\n",
     job_wait},
    {"download", "ID -o FILE", "Download a finished job's result CSV (hash-checked).",
     "  -o, --output FILE  where to write it\n", job_download},
    {"cancel", "ID [--json]", "Cancel a queued or running job.", NULL, job_cancel},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_job(int argc, char **argv)
{
    return cli_group(GROUP, "Batch scoring jobs: score a CSV on the server with a deployment or "
                            "a model version.",
                     subs, argc, argv);
}
