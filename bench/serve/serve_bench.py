#!/usr/bin/python3
"""Serving benchmarks (bench/run.sh serve): wrk on loopback against
single-row OIP inference of the 500-tree benchmark model, against nginx
answering a static JSON body of the same size, in one run; the prediction
log's cost (on vs off); and the load test (64 connections for 60 s while a
canary is promoted and rolled back twice: zero failed requests, resident
memory back within 10%).

    /usr/bin/python3 bench/serve/serve_bench.py speed MOPS MODEL_DIR
    /usr/bin/python3 bench/serve/serve_bench.py load MOPS MODEL_DIR MODEL2_JSON

MODEL_DIR is what bench/runtime/train_bench.py writes (model.json, rows.f32,
meta.txt). Environment: BENCH_SECONDS (10), BENCH_CONNECTIONS (16),
BENCH_REPEATS (5), BENCH_LOAD_SECONDS (60), BENCH_THREADS (mops' HTTP threads in
the speed test: one per core by default, as nginx's worker_processes auto).
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


class Mops:
    """A mops server on a free loopback port, set up through its API."""

    def __init__(self, binary, data, args=()):
        self.binary, self.data, self.args = binary, data, list(args)
        self.proc = None

    def start(self):
        self.log = open(os.path.join(os.path.dirname(self.data), "mops-stderr.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "server", "--data", self.data, "--listen",
                                      "127.0.0.1:0"] + self.args, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        for line in self.proc.stdout:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                break
        else:
            raise SystemExit("mops server did not start (see %s)" % self.log.name)
        with open(os.path.join(self.data, "admin-token")) as f:
            self.token = f.read().strip()
        return self

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
            self.proc.stdout.close()
            self.log.close()
            self.proc = None

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def call(self, method, path, body=None, raw=None, ctype=None, token=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": "Bearer " + (token or self.token),
            "Content-Type": ctype or "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            text = r.read()
        return json.loads(text) if text else None

    def promote(self, version_path):
        """Review, approve (by a second administrator: never the author) and
        move to production: deployments route to production versions."""
        if not getattr(self, "approver", None):
            self.call("POST", "/api/v1/users", {"name": "bench-approver", "admin": True})
            self.approver = self.call("POST", "/api/v1/tokens", {"name": "bench",
                                                                 "user": "bench-approver"})["token"]
        self.call("POST", version_path + "/reviews", {})
        self.call("POST", version_path + "/approvals", {}, token=self.approver)
        for stage in ("staging", "production"):
            self.call("POST", version_path + "/transitions", {"to": stage, "reason": "bench"})

    def setup(self, model_files):
        """Team bench, model bench/m with one version per file, deployment
        "bench" on version 1."""
        self.call("POST", "/api/v1/teams", {"name": "bench"})
        self.call("POST", "/api/v1/models", {"team": "bench", "name": "m", "risk_tier": "low"})
        for path in model_files:
            with open(path, "rb") as f:
                sha = self.call("POST", "/api/v1/models/bench/m/artifacts", raw=f.read(),
                                ctype="application/octet-stream")["sha256"]
            v = self.call("POST", "/api/v1/models/bench/m/versions",
                          {"artifact_sha256": sha, "format": "xgboost-json"})["version"]
            self.promote("/api/v1/models/bench/m/versions/%d" % v)
        self.call("POST", "/api/v1/deployments", {"name": "bench", "team": "bench",
                                                  "primary": {"model": "m", "version": 1}})


def request_body(model_dir):
    """One row of the benchmark's rows as an OIP request."""
    rows, features = open(os.path.join(model_dir, "meta.txt")).read().split()[:2]
    x = np.fromfile(os.path.join(model_dir, "rows.f32"), dtype=np.float32,
                    count=int(features))
    data = [None if v != v else float(v) for v in x]
    return json.dumps({"inputs": [{"name": "input-0", "shape": [1, len(data)],
                                   "datatype": "FP32", "data": data}]}).encode()


def cpu_seconds(pids):
    """User + system CPU time the processes have used."""
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url, body_path, token, seconds, connections, threads=2, pids=()):
    """Run wrk; with pids, also the server's CPU time per request."""
    env = dict(os.environ, BENCH_BODY=body_path, BENCH_TOKEN=token or "")
    cpu0 = cpu_seconds(pids)
    p = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds,
                        "--latency", "-s", os.path.join(HERE, "post.lua"), url],
                       capture_output=True, text=True, env=env, timeout=seconds + 120)
    m = re.search(r"^RESULT (\{.*\})$", p.stdout, re.M)
    if not m:
        raise SystemExit("wrk failed:\n" + p.stdout + p.stderr)
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["cpu_us"] = (cpu_seconds(pids) - cpu0) * 1e6 / max(1, r["requests"])
    return r


class Nginx:
    """nginx answering every POST with one static JSON body."""

    def __init__(self, tmp, body):
        self.dir = os.path.join(tmp, "nginx")
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        text = body.decode().replace("\\", "\\\\").replace("'", "\\'")
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""
worker_processes auto;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log;
events { worker_connections 4096; }
http {
    access_log %(d)s/logs/access.log;
    client_body_temp_path %(d)s/body;
    server {
        listen 127.0.0.1:%(p)d;
        location / {
            default_type application/json;
            return 200 '%(b)s';
        }
    }
}
""" % {"d": self.dir, "p": self.port, "b": text})
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", self.dir, "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = "http://127.0.0.1:%d/v2/models/bench/infer" % self.port
        for _ in range(100):
            try:
                urllib.request.urlopen(urllib.request.Request(self.url, data=b"{}",
                                                              method="POST"), timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("nginx did not start (see %s/logs/error.log)" % self.dir)

    def pids(self):
        """The master and its workers."""
        kids = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                              text=True).stdout.split()
        return [self.proc.pid] + [int(k) for k in kids]

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        self.proc.wait(timeout=30)


def cpu_line():
    name = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return "%s, %d cores" % (name, os.cpu_count())


def speed(binary, model_dir):
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    conns = int(os.environ.get("BENCH_CONNECTIONS", "16"))
    repeats = int(os.environ.get("BENCH_REPEATS", "5"))
    threads = int(os.environ.get("BENCH_THREADS", str(os.cpu_count())))
    tmp = tempfile.mkdtemp(prefix="mops-bench-serve-")
    try:
        data = os.path.join(tmp, "data")
        srv = Mops(binary, data).start()
        srv.setup([os.path.join(model_dir, "model.json")])
        body = request_body(model_dir)
        body_path = os.path.join(tmp, "request.json")
        with open(body_path, "wb") as f:
            f.write(body)
        req = urllib.request.Request(srv.url + "/v2/models/bench/infer", data=body, headers={
            "Authorization": "Bearer " + srv.token, "Content-Type": "application/json"})
        answer = urllib.request.urlopen(req).read()
        srv.stop()
        nginx = Nginx(tmp, answer)
        print("== serve: mops OIP infer vs nginx static JSON (%d bytes), wrk -c%d, %d s x %d;"
              " mops --threads %d, nginx worker_processes auto"
              % (len(answer), conns, seconds, repeats, threads))
        print("   CPU: " + cpu_line())
        results = {"nginx": [], "mops log on": [], "mops log off": []}
        order = list(results)
        for r in range(repeats):
            # Each round starts with the next contender, so none always
            # follows the same one.
            for label in order[r % 3:] + order[:r % 3]:
                # Let the writes of the run before reach the disk first: the
                # kernel's write-back would otherwise run during this one.
                os.sync()
                time.sleep(1)
                if label == "nginx":
                    results["nginx"].append(wrk(nginx.url, body_path, None, seconds, conns,
                                                pids=nginx.pids()))
                    continue
                args = [] if label == "mops log on" else ["--prediction-queue", "0"]
                srv = Mops(binary, data, args + ["--threads", str(threads)]).start()
                url = srv.url + "/v2/models/bench/infer"
                wrk(url, body_path, srv.token, 2, conns)  # warm up
                results[label].append(wrk(url, body_path, srv.token, seconds, conns,
                                          pids=[srv.proc.pid]))
                if label == "mops log on":
                    log = srv.call("GET", "/api/v1/deployments/bench/stats")["prediction_log"]
                srv.stop()
        nginx.stop()
        med = {k: statistics.median(r["rps"] for r in v) for k, v in results.items()}
        print("   %-14s %12s %9s %9s %9s %12s %8s" % ("", "requests/s", "p50", "p99", "max",
                                                     "server CPU", "failed"))
        for k, v in results.items():
            p99 = statistics.median(r["p99_us"] for r in v)
            print("   %-14s %12.0f %7.0fus %7.0fus %7.0fus %8.1fus/req %8d" % (
                k, med[k], statistics.median(r["p50_us"] for r in v), p99,
                max(r["max_us"] for r in v), statistics.median(r["cpu_us"] for r in v),
                sum(r["non_2xx"] + r["socket_errors"] for r in v)))
        print("   mops / nginx: %.0f%% (log on), %.0f%% (log off); the log costs %.1f%%"
              % (100 * med["mops log on"] / med["nginx"], 100 * med["mops log off"] /
                 med["nginx"], 100 * (1 - med["mops log on"] / med["mops log off"])))
        print("   the last run with the log on: %d predictions queued, %d written, %d sampled "
              "out, %d dropped" % (log["queued"], log["written"], log["sampled_out"],
                                   log["dropped"]))
        print("   runs: " + json.dumps({k: [round(r["rps"]) for r in v]
                                        for k, v in results.items()}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load(binary, model_dir, model2):
    seconds = int(os.environ.get("BENCH_LOAD_SECONDS", "60"))
    tmp = tempfile.mkdtemp(prefix="mops-bench-load-")
    try:
        srv = Mops(binary, os.path.join(tmp, "data")).start()
        srv.setup([os.path.join(model_dir, "model.json"), model2])
        body = request_body(model_dir)
        body_path = os.path.join(tmp, "request.json")
        with open(body_path, "wb") as f:
            f.write(body)
        url = srv.url + "/v2/models/bench/infer"
        wrk(url, body_path, srv.token, 3, 64)  # warm: threads, arenas, the model
        time.sleep(1)
        rss0 = srv.rss_kib()
        print("== serve load: wrk -c64 for %d s; canary promoted and rolled back twice"
              % seconds)
        out = {}
        t = threading.Thread(target=lambda: out.update(wrk(url, body_path, srv.token, seconds,
                                                           64)))
        t.start()
        steps = []
        step = seconds / 8.0
        for cycle in range(2):
            base = srv.call("GET", "/api/v1/deployments/bench")["revision"]
            time.sleep(step)
            srv.call("PATCH", "/api/v1/deployments/bench",
                     {"canaries": [{"model": "m", "version": 2, "weight": 20}]})
            steps.append("canary 2 at 20%")
            time.sleep(step)
            srv.call("PATCH", "/api/v1/deployments/bench", {"promote": {"model": "m",
                                                                         "version": 2}})
            steps.append("promote 2")
            time.sleep(step)
            srv.call("POST", "/api/v1/deployments/bench/rollback", {"revision": base})
            steps.append("roll back to revision %d" % base)
        peak = srv.rss_kib()
        t.join()
        time.sleep(2)
        rss1 = srv.rss_kib()
        stats = srv.call("GET", "/api/v1/deployments/bench/stats")
        srv.stop()
        failed = out["non_2xx"] + out["socket_errors"]
        print("   steps: " + ", ".join(steps))
        print("   %d requests (%.0f/s), p99 %.0f us, failed: %d" % (
            out["requests"], out["rps"], out["p99_us"], failed))
        print("   resident memory: %.1f MiB at start, %.1f MiB during, %.1f MiB after (%+.1f%%)"
              % (rss0 / 1024, peak / 1024, rss1 / 1024, 100.0 * (rss1 - rss0) / rss0))
        print("   prediction log: " + json.dumps(stats["prediction_log"]))
        # Back within 10% of the start: what matters is memory kept, so
        # ending below the start (windows of the warm-up written and given
        # back since) passes.
        ok = failed == 0 and rss1 - rss0 <= 0.10 * rss0
        print("   load test: %s" % ("PASS" if ok else "FAIL"))
        if not ok:
            sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "speed":
        speed(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 5 and sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
