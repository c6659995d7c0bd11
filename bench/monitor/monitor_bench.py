#!/usr/bin/python3
"""Monitoring benchmarks (bench/run.sh monitor), in one run:

1. Serving throughput with monitoring on and off: wrk on loopback against
   single-row OIP inference of the 500-tree, 50-feature benchmark model,
   the same server data started with `--monitoring on` and `--monitoring
   off` in turn (the prediction log on in both), BENCH_REPEATS times
   interleaved; the cost is 1 - on/off of the medians (target: <= 5%),
   and the server's CPU time per request on over off (steadier on a
   shared machine), each with its spread over the runs.
1b. The fold alone: bench_observe.c (built here against the release
   library) calls monitor_observe with the benchmark rows on 1 and 2
   threads and reports CPU ns per request.
2. A drift report over 1,000,000 rows x 50 features: 100 inference
   requests of 10,000 rows (the benchmark rows, features 0-4 shifted in
   half of them) folded into the hourly window, a reference profile from
   the 100,000 benchmark rows as CSV, then GET .../monitoring timed
   (median of 5; target < 1 s).

    /usr/bin/python3 bench/monitor/monitor_bench.py MOPS MODEL_DIR

Environment: BENCH_SECONDS (10), BENCH_CONNECTIONS (16), BENCH_REPEATS (3),
BENCH_THREADS (mops' HTTP threads; one per core by default).
"""
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "serve"))
from serve_bench import Mops, cpu_line, request_body, wrk  # noqa: E402


def throughput(binary, model_dir, tmp):
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    conns = int(os.environ.get("BENCH_CONNECTIONS", "16"))
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    threads = int(os.environ.get("BENCH_THREADS", str(os.cpu_count())))
    data = os.path.join(tmp, "speed")
    srv = Mops(binary, data).start()
    srv.setup([os.path.join(model_dir, "model.json")])
    srv.stop()
    body_path = os.path.join(tmp, "request.json")
    with open(body_path, "wb") as f:
        f.write(request_body(model_dir))
    print("== monitor: serving with monitoring on vs off, wrk -c%d, %d s x %d, mops --threads %d"
          % (conns, seconds, repeats, threads))
    print("   CPU: " + cpu_line())
    results = {"monitoring on": [], "monitoring off": []}
    for _ in range(repeats):
        for label in results:
            srv = Mops(binary, data, ["--threads", str(threads), "--monitoring",
                                      label.split()[1]]).start()
            url = srv.url + "/v2/models/bench/infer"
            wrk(url, body_path, srv.token, 2, conns)  # warm up
            results[label].append(wrk(url, body_path, srv.token, seconds, conns,
                                      pids=[srv.proc.pid]))
            srv.stop()
    med = {k: statistics.median(r["rps"] for r in v) for k, v in results.items()}
    print("   %-15s %12s %9s %9s %12s %8s" % ("", "requests/s", "p50", "p99", "server CPU",
                                              "failed"))
    for k, v in results.items():
        print("   %-15s %12.0f %7.0fus %7.0fus %8.1fus/req %8d" % (
            k, med[k], statistics.median(r["p50_us"] for r in v),
            statistics.median(r["p99_us"] for r in v),
            statistics.median(r["cpu_us"] for r in v),
            sum(r["non_2xx"] + r["socket_errors"] for r in v)))
    cpu = {k: statistics.median(r["cpu_us"] for r in v) for k, v in results.items()}
    print("   monitoring costs %.1f%% of serving throughput (target <= 5%%) and %+.1f%% server "
          "CPU per request"
          % (100 * (1 - med["monitoring on"] / med["monitoring off"]),
             100 * (cpu["monitoring on"] / cpu["monitoring off"] - 1)))
    for k, v in results.items():
        rps = sorted(r["rps"] for r in v)
        us = sorted(r["cpu_us"] for r in v)
        print("   %-15s requests/s %.0f-%.0f, CPU %.1f-%.1f us/req over %d runs" % (
            k, rps[0], rps[-1], us[0], us[-1], len(v)))
    print("   runs: " + json.dumps({k: [round(r["rps"]) for r in v] for k, v in results.items()}))


def fold(binary, model_dir, tmp):
    """The fold alone (bench_observe.c), against the release library."""
    root = os.path.dirname(os.path.dirname(HERE))
    lib = os.path.join(os.path.dirname(os.path.abspath(binary)), "libmops.a")
    exe = os.path.join(tmp, "bench_observe")

    def pc(*args):
        return subprocess.run(["pkg-config"] + list(args), capture_output=True, text=True,
                              check=True).stdout.split()

    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-I" + os.path.join(root, "src")] + pc("--cflags", "jansson", "libpq") +
                   ["-o", exe, os.path.join(HERE, "bench_observe.c"), lib] +
                   pc("--libs", "libmicrohttpd", "jansson", "sqlite3", "libpq", "libcrypto",
                      "libcurl", "yaml-0.1", "libpcre2-8", "libxxhash", "gsl") +
                   ["-lcsv", "-lpthread", "-lm"], check=True)
    rows, features = map(int, open(os.path.join(model_dir, "meta.txt")).read().split()[:2])
    print("== monitor: the fold alone (monitor_observe, no HTTP, no model)")
    sys.stdout.flush()
    subprocess.run([exe, os.path.join(model_dir, "rows.f32"), str(rows), str(features), "5",
                    "2"], check=True)


def post(srv, path, raw, ctype):
    req = urllib.request.Request(srv.url + path, data=raw, method="POST", headers={
        "Authorization": "Bearer " + srv.token, "Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def report(binary, model_dir, tmp):
    rows, features = map(int, open(os.path.join(model_dir, "meta.txt")).read().split()[:2])
    x = np.fromfile(os.path.join(model_dir, "rows.f32"), dtype=np.float32).reshape(rows, features)
    batch, total = 10000, 1000000
    srv = Mops(binary, os.path.join(tmp, "report"), ["--max-body", "64MiB"]).start()
    try:
        srv.setup([os.path.join(model_dir, "model.json")])
        buf = io.StringIO()
        buf.write(",".join("f%d" % i for i in range(features)) + "\n")
        np.savetxt(buf, x, delimiter=",", fmt="%.7g")
        t0 = time.time()
        post(srv, "/api/v1/models/bench/m/versions/1/reference", buf.getvalue().encode(),
             "text/csv")
        ref_s = time.time() - t0
        bodies = []
        for b in range(rows // batch):
            part = x[b * batch:(b + 1) * batch].astype(np.float64)
            if b % 2:
                part[:, :5] += 0.5
            data = [None if v != v else v for v in part.ravel().tolist()]
            bodies.append(json.dumps({"inputs": [{"name": "input-0", "shape": [batch, features],
                                                  "datatype": "FP64", "data": data}]}).encode())
        t0 = time.time()
        for i in range(total // batch):
            post(srv, "/v2/models/bench/infer", bodies[i % len(bodies)], "application/json")
        send_s = time.time() - t0
        times = []
        for _ in range(5):
            t0 = time.time()
            rep = srv.call("GET", "/api/v1/deployments/bench/monitoring")
            times.append(time.time() - t0)
        v = rep["versions"][0]
        assert v["service"]["rows"] == total, v["service"]
        ds = v["drift"]["dataset"]
        print("== monitor: drift report over %d rows x %d features (reference: %d rows)"
              % (total, features, rows))
        print("   reference profile from a %.0f MB CSV: %.2f s; %d requests of %d rows scored "
              "and folded: %.1f s" % (len(buf.getvalue()) / 1e6, ref_s, total // batch, batch,
                                      send_s))
        print("   GET /monitoring: %.0f ms median of 5 (first %.0f ms, writes the window out); "
              "%d of %d features drifted (target < 1 s)"
              % (1000 * statistics.median(times), 1000 * times[0], ds["drifted"],
                 ds["features"]))
    finally:
        srv.stop()


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    tmp = tempfile.mkdtemp(prefix="mops-bench-monitor-")
    try:
        throughput(sys.argv[1], sys.argv[2], tmp)
        fold(sys.argv[1], sys.argv[2], tmp)
        report(sys.argv[1], sys.argv[2], tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
