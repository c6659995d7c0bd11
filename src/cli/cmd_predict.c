/*
 * cmd_predict.c — `mops predict`: score a CSV file with a model file,
 * locally, without a server. Streams: reads a batch of rows, scores it on
 * N threads, writes it, and so on, in memory bounded by the batch.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd.h"
#include "core/csv.h"
#include "core/mem.h"
#include "core/time.h"
#include "runtime/runtime.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mops predict --model FILE --input ROWS.csv [--output OUT.csv] [options]\n"
            "\n"
            "Score every row of a CSV file with a model file, locally.\n"
            "\n"
            "  -m, --model FILE       XGBoost JSON (save_model(\"m.json\")) or mops scikit-learn\n"
            "                         JSON (clients/python/mops_sklearn.py)\n"
            "  -i, --input FILE       CSV with a header row; '-' for standard input\n"
            "  -o, --output FILE      where to write the scores (default: standard output)\n"
            "  -t, --threads N        scoring threads (default: the number of CPUs)\n"
            "      --columns LIST     what to write, comma-separated from label, value,\n"
            "                         margin (default: label,value for classifiers,\n"
            "                         value for regressors)\n"
            "      --iterations N     boosting rounds to use, or 'all' (default: the\n"
            "                         model's best_iteration + 1 when it has one, else all)\n"
            "      --by-position      take features from the input's columns in order,\n"
            "                         even when the model knows their names\n"
            "      --format FMT       xgboost-json or sklearn-json (default: detect)\n"
            "      --batch N          rows per batch (default: sized to ~32 MB)\n"
            "      --info             print what the model is and exit\n"
            "  -q, --quiet            no progress bar\n"
            "  -h, --help             this help\n"
            "\n"
            "Input: the header names the columns. When the model knows its features'\n"
            "names, each is taken from the column of that name and other columns are\n"
            "ignored; otherwise the input must have exactly one column per feature.\n"
            "Empty fields and NA, N/A, NaN, null, None are missing values.\n"
            "\n"
            "Output columns: label (the predicted class), value (classifiers: one\n"
            "probability column per class, or one for XGBoost binary models;\n"
            "regressors: the prediction), margin (the raw score before the link).\n"
            "Numbers are written so that they read back exactly (%%.9g for float32\n"
            "models, %%.17g otherwise).\n");
}

typedef struct predict_args {
    const char *model, *input, *output, *format, *columns, *iterations;
    int threads, quiet, info, by_position;
    size_t batch;
} predict_args_t;

enum { OPT_COLUMNS = 1000, OPT_ITER, OPT_FORMAT, OPT_BATCH, OPT_INFO, OPT_BYPOS };

static int parse_args(int argc, char **argv, predict_args_t *a)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, 't'},
        {"columns", required_argument, NULL, OPT_COLUMNS},
        {"iterations", required_argument, NULL, OPT_ITER},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"info", no_argument, NULL, OPT_INFO},
        {"by-position", no_argument, NULL, OPT_BYPOS},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    a->threads = cpus > 0 ? (int)cpus : 1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:i:o:t:qh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'i': a->input = optarg; break;
        case 'o': a->output = optarg; break;
        case 't': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 256) {
                fprintf(stderr, "mops predict: --threads must be 1..256, not '%s'\n", optarg);
                return CLI_USAGE;
            }
            a->threads = (int)v;
            break;
        }
        case OPT_COLUMNS: a->columns = optarg; break;
        case OPT_ITER: a->iterations = optarg; break;
        case OPT_FORMAT: a->format = optarg; break;
        case OPT_BATCH: {
            long long v = strtoll(optarg, &end, 10);
            if (*end || v < 1 || v > 10000000) {
                fprintf(stderr, "mops predict: --batch must be 1..10000000, not '%s'\n", optarg);
                return CLI_USAGE;
            }
            a->batch = (size_t)v;
            break;
        }
        case OPT_INFO: a->info = 1; break;
        case OPT_BYPOS: a->by_position = 1; break;
        case 'q': a->quiet = 1; break;
        case 'h': usage(stdout); return -1;
        case ':':
            fprintf(stderr, "mops predict: option '%s' needs a value\n", argv[optind - 1]);
            return CLI_USAGE;
        default:
            fprintf(stderr, "mops predict: unknown option '%s'; see 'mops predict --help'\n",
                    argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mops predict: unexpected argument '%s'; see 'mops predict --help'\n",
                argv[optind]);
        return CLI_USAGE;
    }
    if (!a->model) {
        fprintf(stderr, "mops predict: --model is required; see 'mops predict --help'\n");
        return CLI_USAGE;
    }
    if (!a->input && !a->info) {
        fprintf(stderr, "mops predict: --input is required; see 'mops predict --help'\n");
        return CLI_USAGE;
    }
    return 0;
}

static void print_info(const runtime_model_t *m)
{
    runtime_model_info_t in;
    runtime_model_info(m, &in);
    printf("format:        %s\n", in.format);
    printf("producer:      %s\n", in.producer[0] ? in.producer : "unknown");
    printf("objective:     %s\n", in.objective);
    printf("kind:          %s\n", in.kind);
    printf("features:      %zu", in.n_features);
    if (in.feature_names) {
        printf(" (");
        for (size_t i = 0; i < in.n_features && i < 20; i++)
            printf("%s%s", i ? ", " : "", in.feature_names[i]);
        printf("%s)", in.n_features > 20 ? ", ..." : "");
    }
    printf("\n");
    if (in.n_classes) {
        printf("classes:       %zu (", in.n_classes);
        for (size_t i = 0; i < in.n_classes && i < 20; i++)
            printf("%s%s", i ? ", " : "", in.class_labels[i]);
        printf("%s)\n", in.n_classes > 20 ? ", ..." : "");
    }
    printf("outputs:       value %zu, margin %zu per row\n", in.n_value, in.n_margin);
    if (in.n_trees) {
        printf("trees:         %zu, max depth %d\n", in.n_trees, in.max_depth);
        printf("rounds:        %zu (default %zu)\n", in.n_iterations, in.default_iterations);
    } else {
        printf("trees:         none (linear model)\n");
    }
    printf("memory:        %zu bytes\n", in.memory_bytes);
}

/* ------------------------------------------------------------ output */

enum { COL_LABEL = 1, COL_VALUE = 2, COL_MARGIN = 4 };

static int parse_columns(const char *s, int classifier, int *out)
{
    if (!s) {
        *out = classifier ? COL_LABEL | COL_VALUE : COL_VALUE;
        return 0;
    }
    int cols = 0;
    char *copy = mops_xstrdup(s);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "label"))
            cols |= COL_LABEL;
        else if (!strcmp(tok, "value"))
            cols |= COL_VALUE;
        else if (!strcmp(tok, "margin"))
            cols |= COL_MARGIN;
        else {
            fprintf(stderr, "mops predict: --columns: '%s' is not one of label, value, margin\n", tok);
            free(copy);
            return -1;
        }
    }
    free(copy);
    if (!cols) {
        fprintf(stderr, "mops predict: --columns is empty\n");
        return -1;
    }
    if ((cols & COL_LABEL) && !classifier) {
        /* A regressor's label is its value. */
        cols = (cols & ~COL_LABEL) | COL_VALUE;
    }
    *out = cols;
    return 0;
}

static void write_header(FILE *f, const runtime_model_info_t *in, int cols)
{
    int first = 1;
#define SEP() (first ? (first = 0, (void)0) : (void)fputc(',', f))
    if (cols & COL_LABEL) {
        SEP();
        fputs("label", f);
    }
    if (cols & COL_VALUE) {
        for (size_t k = 0; k < in->n_value; k++) {
            SEP();
            if (in->n_classes) {
                /* One column per class, or XGBoost's single P(class 1). */
                const char *lab = in->n_value == in->n_classes ? in->class_labels[k]
                                                                : in->class_labels[in->n_classes - 1];
                char *name = mops_xasprintf("prob_%s", lab);
                mops_csv_write_field(f, name, strlen(name));
                free(name);
            } else if (in->n_value == 1) {
                fputs("prediction", f);
            } else {
                fprintf(f, "prediction_%zu", k);
            }
        }
    }
    if (cols & COL_MARGIN) {
        for (size_t k = 0; k < in->n_margin; k++) {
            SEP();
            if (in->n_margin == 1)
                fputs("margin", f);
            else if (in->n_classes == in->n_margin)
                fprintf(f, "margin_%s", in->class_labels[k]);
            else
                fprintf(f, "margin_%zu", k);
        }
    }
#undef SEP
    fputc('\n', f);
}

static void write_number(FILE *f, double v, int f32)
{
    char buf[40];
    if (f32)
        snprintf(buf, sizeof buf, "%.9g", v);
    else
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, f);
}

/* ------------------------------------------------------------ progress */

typedef struct progress {
    int on;
    uint64_t total;      /* input bytes, 0 if unknown */
    int64_t start_us, last_us;
} progress_t;

static void progress_show(progress_t *p, uint64_t bytes, size_t rows, int final)
{
    if (!p->on)
        return;
    int64_t now = mops_mono_us();
    if (!final && now - p->last_us < 100000)
        return;
    p->last_us = now;
    double secs = (double)(now - p->start_us) / 1e6;
    double rate = secs > 0 ? (double)rows / secs : 0;
    if (p->total) {
        double frac = (double)bytes / (double)p->total;
        if (frac > 1)
            frac = 1;
        int width = 30, fill = (int)(frac * width);
        fprintf(stderr, "\r[%.*s%.*s] %3d%% %zu rows, %.0f rows/s ", fill,
                "##############################", width - fill, "                              ",
                (int)(frac * 100), rows, rate);
    } else {
        fprintf(stderr, "\r%zu rows, %.0f rows/s ", rows, rate);
    }
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

/* ---------------------------------------------------------------- main */

int cmd_predict(int argc, char **argv)
{
    predict_args_t a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0)
        return CLI_OK;
    if (rc > 0)
        return rc;

    mops_err_t err;
    mops_err_clear(&err);
    runtime_model_t *m;
    if (runtime_model_load_file(a.model, a.format, &m, &err) < 0) {
        fprintf(stderr, "mops predict: %s\n", err.msg);
        return CLI_FAIL;
    }
    if (a.info) {
        print_info(m);
        runtime_model_unref(m);
        return CLI_OK;
    }
    runtime_model_info_t in;
    runtime_model_info(m, &in);

    runtime_predict_opts_t opts = RUNTIME_PREDICT_OPTS_INIT;
    if (a.iterations) {
        if (!strcmp(a.iterations, "all")) {
            opts.iteration_end = RUNTIME_ITERATIONS_ALL;
        } else {
            char *end;
            long v = strtol(a.iterations, &end, 10);
            if (*end || v < 1 || (size_t)v > in.n_iterations) {
                fprintf(stderr, "mops predict: --iterations must be 1..%zu or 'all', not '%s'\n",
                        in.n_iterations, a.iterations);
                runtime_model_unref(m);
                return CLI_USAGE;
            }
            opts.iteration_end = (int)v;
        }
    }
    int cols;
    if (parse_columns(a.columns, in.n_classes > 0, &cols) < 0) {
        runtime_model_unref(m);
        return CLI_USAGE;
    }

    int status = CLI_FAIL;
    FILE *fin = NULL, *fout = NULL;
    mops_csv_t *csv = NULL;
    size_t *colmap = NULL;
    double *rows = NULL, *value = NULL, *label = NULL, *margin = NULL;
    progress_t prog = {0};

    int in_stdin = !strcmp(a.input, "-");
    fin = in_stdin ? stdin : fopen(a.input, "rb");
    if (!fin) {
        fprintf(stderr, "mops predict: cannot open input '%s': %s\n", a.input, strerror(errno));
        goto done;
    }
    struct stat st;
    if (!in_stdin && fstat(fileno(fin), &st) == 0 && S_ISREG(st.st_mode))
        prog.total = (uint64_t)st.st_size;
    csv = mops_csv_open(fin, in_stdin ? "standard input" : a.input);

    /* Header, and which input column feeds each feature. */
    mops_csv_record_t rec;
    rc = mops_csv_next(csv, &rec, &err);
    if (rc < 0) {
        fprintf(stderr, "mops predict: %s\n", err.msg);
        goto done;
    }
    if (rc == 0) {
        fprintf(stderr, "mops predict: %s is empty: it needs a header row\n", a.input);
        goto done;
    }
    size_t ncol = rec.n, F = in.n_features;
    colmap = mops_xcalloc(F, sizeof *colmap);
    if (in.feature_names && !a.by_position) {
        for (size_t f = 0; f < F; f++) {
            size_t found = SIZE_MAX;
            for (size_t c = 0; c < ncol; c++) {
                if (!strcmp(rec.fields[c], in.feature_names[f])) {
                    if (found != SIZE_MAX) {
                        fprintf(stderr, "mops predict: the header names feature '%s' twice (columns %zu and %zu)\n",
                                in.feature_names[f], found + 1, c + 1);
                        goto done;
                    }
                    found = c;
                }
            }
            if (found == SIZE_MAX) {
                fprintf(stderr,
                        "mops predict: the input has no column '%s', a feature of the model "
                        "(use --by-position to take features by column order)\n",
                        in.feature_names[f]);
                goto done;
            }
            colmap[f] = found;
        }
    } else {
        if (ncol != F) {
            fprintf(stderr,
                    "mops predict: the input has %zu columns but the model takes %zu features%s\n",
                    ncol, F,
                    in.feature_names ? "" : " (the model has no feature names to pick columns by)");
            goto done;
        }
        for (size_t f = 0; f < F; f++)
            colmap[f] = f;
    }
    /* Header names, for messages. */
    char **colname = mops_xcalloc(ncol, sizeof *colname);
    for (size_t c = 0; c < ncol; c++)
        colname[c] = mops_xstrdup(rec.fields[c]);

    if (!a.output || !strcmp(a.output, "-")) {
        fout = stdout;
    } else {
        fout = fopen(a.output, "w");
        if (!fout) {
            fprintf(stderr, "mops predict: cannot create output '%s': %s\n", a.output, strerror(errno));
            goto done_names;
        }
    }
    prog.on = !a.quiet && isatty(2);
    prog.start_us = mops_mono_us();

    size_t batch = a.batch;
    if (!batch) {
        /* About 32 MB of input rows, whatever the feature count. */
        batch = (size_t)(32u << 20) / (F * sizeof(double));
        if (batch < 1)
            batch = 1;
        if (batch > 65536)
            batch = 65536;
    }
    size_t wv = runtime_output_width(m, RUNTIME_OUTPUT_VALUE);
    size_t wm = runtime_output_width(m, RUNTIME_OUTPUT_MARGIN);
    rows = mops_xmalloc(batch * F * sizeof *rows);
    value = mops_xmalloc(batch * wv * sizeof *value);
    label = mops_xmalloc(batch * sizeof *label);
    margin = mops_xmalloc(batch * wm * sizeof *margin);
    size_t *lines = mops_xmalloc(batch * sizeof *lines);
    write_header(fout, &in, cols);

    size_t total = 0;
    int eof = 0;
    while (!eof) {
        size_t n = 0;
        while (n < batch) {
            rc = mops_csv_next(csv, &rec, &err);
            if (rc < 0) {
                fprintf(stderr, "mops predict: %s\n", err.msg);
                goto done_lines;
            }
            if (rc == 0) {
                eof = 1;
                break;
            }
            if (rec.n != ncol) {
                fprintf(stderr, "mops predict: %s, line %zu has %zu fields but the header has %zu\n",
                        a.input, rec.line, rec.n, ncol);
                goto done_lines;
            }
            double *row = rows + n * F;
            for (size_t f = 0; f < F; f++) {
                size_t c = colmap[f];
                if (mops_csv_number(rec.fields[c], rec.lens[c], &row[f]) < 0) {
                    char shown[64];
                    snprintf(shown, sizeof shown, "%s", rec.fields[c]);
                    fprintf(stderr, "mops predict: %s, line %zu, column %zu ('%s'): '%s%s' is not a number\n",
                            a.input, rec.line, c + 1, colname[c], shown,
                            rec.lens[c] >= sizeof shown ? "..." : "");
                    goto done_lines;
                }
            }
            lines[n] = rec.line;
            n++;
        }
        if (n == 0)
            break;
        runtime_predict_opts_t o = opts;
        if (cols & COL_VALUE) {
            o.output = RUNTIME_OUTPUT_VALUE;
            rc = runtime_predict_parallel(m, &o, rows, n, F, value, a.threads, &err);
        }
        if (rc >= 0 && (cols & COL_LABEL)) {
            o.output = RUNTIME_OUTPUT_LABEL;
            rc = runtime_predict_parallel(m, &o, rows, n, F, label, a.threads, &err);
        }
        if (rc >= 0 && (cols & COL_MARGIN)) {
            o.output = RUNTIME_OUTPUT_MARGIN;
            rc = runtime_predict_parallel(m, &o, rows, n, F, margin, a.threads, &err);
        }
        if (rc < 0) {
            /* Row-level messages count rows in the batch; say the line. */
            const char *msg = err.msg;
            unsigned long long r;
            if (sscanf(msg, "row %llu:", &r) == 1 && r < n) {
                const char *rest = strchr(msg, ':');
                fprintf(stderr, "mops predict: %s, line %zu%s\n", a.input, lines[r], rest);
            } else {
                fprintf(stderr, "mops predict: %s\n", msg);
            }
            goto done_lines;
        }
        for (size_t i = 0; i < n; i++) {
            int first = 1;
            if (cols & COL_LABEL) {
                first = 0;
                size_t k = (size_t)label[i];
                const char *lab = k < in.n_classes ? in.class_labels[k] : "";
                mops_csv_write_field(fout, lab, strlen(lab));
            }
            if (cols & COL_VALUE)
                for (size_t k = 0; k < wv; k++) {
                    if (!first)
                        fputc(',', fout);
                    first = 0;
                    write_number(fout, value[i * wv + k], in.output_float32);
                }
            if (cols & COL_MARGIN)
                for (size_t k = 0; k < wm; k++) {
                    if (!first)
                        fputc(',', fout);
                    first = 0;
                    write_number(fout, margin[i * wm + k], in.output_float32);
                }
            fputc('\n', fout);
        }
        total += n;
        progress_show(&prog, mops_csv_bytes(csv), total, 0);
    }
    if (fflush(fout) != 0 || ferror(fout)) {
        fprintf(stderr, "mops predict: cannot write output: %s\n", strerror(errno));
        goto done_lines;
    }
    progress_show(&prog, mops_csv_bytes(csv), total, 1);
    status = CLI_OK;

done_lines:
    free(lines);
done_names:
    for (size_t c = 0; c < ncol; c++)
        free(colname[c]);
    free(colname);
done:
    if (fout && fout != stdout) {
        if (fclose(fout) != 0 && status == CLI_OK) {
            fprintf(stderr, "mops predict: cannot write output: %s\n", strerror(errno));
            status = CLI_FAIL;
        }
        /* No half-written output file pretending to be a result. */
        if (status != CLI_OK)
            unlink(a.output);
    } else if (fout) {
        fflush(fout);
    }
    mops_csv_close(csv);
    if (fin && fin != stdin)
        fclose(fin);
    free(colmap);
    free(rows);
    free(value);
    free(label);
    free(margin);
    runtime_model_unref(m);
    return status;
}
