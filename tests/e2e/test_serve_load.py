"""A canary promoted and rolled back twice under load (a shortened run of
bench/serve's 60-second load test): 8 keep-alive connections send inference
requests for about 10 seconds while the deployment changes six times, and
not one request fails; every answer names a version the deployment routed
to at some point, and the counters account for every request."""
import http.client
import json
import os
import threading
import time
import urllib.parse

import mopstest
import runtime_common as rc

NAMES = ["a", "b", "c", "d"]
BODY = json.dumps({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32",
                               "data": [0.5, -1.0, 2.0, 0.25]}]}).encode()


class Load(mopstest.TestCase):
    def test_promote_and_roll_back_under_load(self):
        srv = self.server()
        srv.team("fraud")
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "churn", "risk_tier": "low"})
        for seed in (1, 2):
            path = os.path.join(self.tmp, "m%d.json" % seed)
            rc.small_xgboost(path, names=NAMES, seed=seed, rounds=20 * seed)
            srv.version("fraud", "churn", data=mopstest.read(path), format="xgboost-json", stage="production")
        srv.ok("POST", "/api/v1/deployments", {"name": "live", "team": "fraud",
                                               "primary": {"model": "churn", "version": 1}})
        u = urllib.parse.urlsplit(srv.url)
        stop = threading.Event()
        results = {"ok": 0, "versions": set(), "failures": []}
        lock = threading.Lock()

        def client():
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30 * mopstest.SLOW)
            headers = {"Authorization": "Bearer " + srv.admin,
                       "Content-Type": "application/json"}
            ok, versions, failures = 0, set(), []
            while not stop.is_set():
                try:
                    conn.request("POST", "/v2/models/live/infer", BODY, headers)
                    r = conn.getresponse()
                    data = r.read()
                    if r.status == 200:
                        ok += 1
                        versions.add(json.loads(data)["model_version"])
                    else:
                        failures.append((r.status, data[:200]))
                except (OSError, http.client.HTTPException) as e:
                    failures.append(repr(e))
                    conn.close()
                    conn = http.client.HTTPConnection(u.hostname, u.port,
                                                      timeout=30 * mopstest.SLOW)
            conn.close()
            with lock:
                results["ok"] += ok
                results["versions"] |= versions
                results["failures"] += failures

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        D = "/api/v1/deployments/live"
        steps = []
        try:
            for _ in range(2):
                base = srv.ok("GET", D)["revision"]
                time.sleep(1.5)
                srv.ok("PATCH", D, {"canaries": [{"model": "churn", "version": 2,
                                                  "weight": 20}]})
                time.sleep(1.5)
                srv.ok("PATCH", D, {"promote": {"model": "churn", "version": 2}})
                steps.append(srv.ok("GET", D)["config"]["primary"]["version"])
                time.sleep(1.5)
                srv.ok("POST", D + "/rollback", {"revision": base})
                steps.append(srv.ok("GET", D)["config"]["primary"]["version"])
            time.sleep(1)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(results["failures"], [])
        self.assertEqual(steps, [2, 1, 2, 1])
        self.assertEqual(results["versions"], {"1", "2"})
        self.assertGreater(results["ok"], 200)
        stats = srv.ok("GET", D + "/stats")["stats"]
        self.assertEqual((stats["requests"], stats["errors"], stats["revision"]),
                         (results["ok"], 0, 7))
        # After the last rollback only version 1 is loaded: the others were
        # freed with their last request.
        self.assertEqual(srv.ok("GET", D + "/stats")["models_loaded"]["count"], 1)
