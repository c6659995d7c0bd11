"""Monitoring end to end: live requests folded into windows, a reference
profile from a CSV, drift per feature compared with SciPy on the same data,
ground truth joined by request id and scored as scikit-learn would, service
figures, the Prometheus page accepted by promtool, and the CLI."""
import json
import os
import shutil
import subprocess
import time

import numpy as np
from scipy import stats
from scipy.spatial import distance
from sklearn import metrics

import mopstest
import runtime_common as rc

NAMES = ("a", "b", "c", "d")


def oip(rows):
    return {"inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64",
                        "data": [x for r in rows for x in r]}]}


class Monitor(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        srv = self.srv = self.server()
        srv.team("fraud")
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "churn", "risk_tier": "low"})
        path = os.path.join(self.tmp, "m.json")
        self.X = rc.small_xgboost(path, names=NAMES, seed=1).astype(float)
        srv.version("fraud", "churn", data=mopstest.read(path), format="xgboost-json")
        srv.promote("fraud", "churn", 1)
        srv.ok("POST", "/api/v1/deployments", {"name": "churn-api", "team": "fraud",
                                               "primary": {"model": "churn", "version": 1}})

    def test_drift_performance_service_and_metrics(self):
        srv = self.srv
        # the reference: the training rows, features in the model's order
        ref_csv = os.path.join(self.tmp, "ref.csv")
        rc.write_csv(ref_csv, self.X, names=list(NAMES))
        out = srv.cli_json("monitor", "reference", "fraud/churn", "1", ref_csv)
        self.assertEqual(out["rows"], len(self.X))
        # live traffic: a shifted, b c d as trained
        rng = np.random.default_rng(3)
        live = self.X[rng.integers(0, len(self.X), 150)].copy()
        live[:, 0] += 2.5
        ids, preds = [], []
        for i in range(0, len(live), 3):
            st, body, hdrs = srv.http("POST", "/v2/models/churn-api/infer",
                                      oip(live[i:i + 3].tolist()), token=srv.admin)
            self.assertEqual(st, 200, body)
            ids.append(body["id"])
            proba = [o for o in body["outputs"] if o["name"] == "predict_proba"][0]
            preds.append(proba["data"])
        bad = srv.http("POST", "/v2/models/churn-api/infer",
                       {"inputs": [{"name": "input-0", "shape": [1, 3], "datatype": "FP64",
                                    "data": [1, 2, 3]}]}, token=srv.admin)
        self.assertEqual(bad[0], 400)
        rep = srv.ok("GET", "/api/v1/deployments/churn-api/monitoring")
        self.assertEqual(rep["service"]["requests"], 51)
        self.assertEqual(rep["service"]["errors"], 1)
        self.assertAlmostEqual(rep["service"]["availability"], 50 / 51)
        v = rep["versions"][0]
        self.assertEqual(v["version"], "churn@1")
        feats = {f["name"]: f for f in v["drift"]["features"]}
        self.assertEqual(set(feats), set(NAMES))
        # from sketches: within the KLL bound, each CDF off by at most
        # eps = 2.446 / k^0.9433 (k = 200) of the values (docs/monitoring.md)
        eps = 2.446 / 200 ** 0.9433
        for j, name in enumerate(NAMES):
            ks = stats.ks_2samp(self.X[:, j], live[:, j])
            self.assertLessEqual(abs(feats[name]["stats"]["ks"] - ks.statistic), 2 * eps)
            w = stats.wasserstein_distance(self.X[:, j], live[:, j]) / np.std(self.X[:, j])
            both = np.concatenate([self.X[:, j], live[:, j]])
            bound = 2 * eps * (both.max() - both.min()) / np.std(self.X[:, j])
            self.assertLessEqual(abs(feats[name]["stats"]["wasserstein"] - w), bound)
            self.assertEqual(feats[name]["count"], 150)
            self.assertEqual(feats[name]["method"], "ks")  # 200 reference rows: a test
        self.assertTrue(feats["a"]["drifted"])
        self.assertEqual(v["drift"]["dataset"]["features"], 4)
        self.assertGreaterEqual(v["drift"]["dataset"]["drifted"], 1)
        # ground truth by request id, first row of each request, via the CLI
        labels = [int(rng.integers(0, 2)) for _ in ids]
        lab_csv = os.path.join(self.tmp, "labels.csv")
        with open(lab_csv, "w") as f:
            f.write("request_id,label\n")
            for rid, y in zip(ids, labels):
                f.write("%s,%d\n" % (rid, y))
        self.assertEqual(srv.cli_json("labels", "upload", "churn-api", lab_csv)["accepted"],
                         len(ids))
        proba = np.array([p[0] for p in preds])
        deadline = time.time() + 15 * mopstest.SLOW
        while True:  # the prediction log is written in the background
            perf = srv.ok("GET", "/api/v1/deployments/churn-api/monitoring")["versions"][0][
                "performance"]
            if perf["labelled"] == len(ids) or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(perf["labelled"], len(ids))
        m = perf["metrics"]
        y_pred = (proba >= 0.5).astype(int)
        self.assertAlmostEqual(m["accuracy"], metrics.accuracy_score(labels, y_pred), places=9)
        self.assertAlmostEqual(m["f1"], metrics.f1_score(labels, y_pred), places=9)
        self.assertAlmostEqual(m["roc_auc"], metrics.roc_auc_score(labels, proba), places=9)
        self.assertAlmostEqual(m["log_loss"], metrics.log_loss(labels, proba), places=6)
        # the CLI's table says which features failed
        text = srv.cli("monitor", "report", "churn-api", token=srv.admin).stdout
        self.assertIn("FAIL", text)
        self.assertIn("51 requests", text)
        # Prometheus text that promtool accepts
        st, page, hdrs = srv.http("GET", "/metrics", token=srv.admin)
        self.assertEqual(st, 200)
        page = page if isinstance(page, str) else page.decode()
        self.assertIn('mops_requests_total{team="fraud",deployment="churn-api",'
                      'version="churn@1"} 51', page)
        self.assertIn("mops_request_duration_seconds_bucket", page)
        # drift per feature and statistic (the report's figures), queue drops
        line = [ln for ln in page.splitlines() if ln.startswith(
            'mops_feature_drift{team="fraud",deployment="churn-api",version="churn@1",'
            'feature="a",statistic="psi"} ')]
        self.assertEqual(len(line), 1, page)
        self.assertAlmostEqual(float(line[0].split()[-1]), feats["a"]["stats"]["psi"], places=9)
        self.assertIn('mops_dataset_drift_share{team="fraud",deployment="churn-api",'
                      'version="churn@1"} ', page)
        self.assertIn('mops_prediction_log_dropped_total{team="fraud",deployment="churn-api"} 0',
                      page)
        self.assertIn("mops_prediction_queue_dropped_total 0", page)
        promtool = shutil.which("promtool") or "/usr/bin/promtool"
        p = subprocess.run([promtool, "check", "metrics"], input=page.encode(),
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # windows survive a restart: the report reads them back
        srv.stop()
        srv.start()
        rep2 = srv.ok("GET", "/api/v1/deployments/churn-api/monitoring")
        self.assertEqual(rep2["service"]["requests"], 51)

    def test_categorical_drift(self):
        """A feature holding codes is categorical in the reference: its
        drift is chi-square (small reference) over the categories, as
        scipy.stats.chi2_contingency computes it on the same counts, with
        live values the reference never had in one more category."""
        srv = self.srv
        rng = np.random.default_rng(8)
        ref = self.X.copy()
        ref[:, 3] = rng.choice([0, 1, 2, 3], size=len(ref), p=[0.4, 0.3, 0.2, 0.1])
        live = self.X[rng.integers(0, len(self.X), 240)].copy()
        live[:, 3] = rng.choice([0, 1, 2, 3, 7], size=len(live), p=[0.1, 0.2, 0.3, 0.3, 0.1])
        ref_csv = os.path.join(self.tmp, "ref.csv")
        rc.write_csv(ref_csv, ref, names=list(NAMES))
        srv.cli_json("monitor", "reference", "fraud/churn", "1", ref_csv)
        cols = {c["name"]: c for c in srv.cli_json("monitor", "reference", "fraud/churn",
                                                   "1")["columns"]}
        self.assertEqual([cols[n]["categorical"] for n in NAMES], [False, False, False, True])
        for i in range(0, len(live), 8):
            st, body, _ = srv.http("POST", "/v2/models/churn-api/infer",
                                   oip(live[i:i + 8].tolist()), token=srv.admin)
            self.assertEqual(st, 200, body)
        rep = srv.ok("GET", "/api/v1/deployments/churn-api/monitoring")
        d = {f["name"]: f for f in rep["versions"][0]["drift"]["features"]}["d"]
        self.assertEqual((d["kind"], d["method"], d["drifted"]), ("categorical", "chi2", True))
        cats = {c["value"]: c for c in d["categories"]}
        self.assertEqual(set(cats), {"0", "1", "2", "3", None})
        r = [float(np.sum(ref[:, 3] == v)) for v in (0, 1, 2, 3)] + [0.0]
        c = [float(np.sum(live[:, 3] == v)) for v in (0, 1, 2, 3)] + \
            [float(np.sum(live[:, 3] == 7))]
        self.assertEqual([cats[k]["reference"] for k in ("0", "1", "2", "3", None)], r)
        self.assertEqual([cats[k]["current"] for k in ("0", "1", "2", "3", None)], c)
        self.assertEqual(d["stats"]["count_error"], 0)  # 5 values: every one counted
        p = stats.chi2_contingency(np.array([r, c])).pvalue
        self.assertLess(abs(d["stats"]["chi2_p_value"] - p), 1e-9 * max(1, p))
        self.assertAlmostEqual(d["score"], d["stats"]["chi2_p_value"])
        js = distance.jensenshannon(np.array(r) / sum(r), np.array(c) / sum(c))
        self.assertAlmostEqual(d["stats"]["jensen_shannon"], js, places=9)
        # a, b and c stay numeric
        self.assertEqual({f["kind"] for f in rep["versions"][0]["drift"]["features"]
                          if f["name"] != "d"}, {"numeric"})

    def test_reference_from_a_dataset_with_pii_masked(self):
        """The training data registered as a dataset (column a tagged PII,
        its use approved) gives version 2 its reference; the report and the
        reference measure a's drift but show none of its values."""
        srv = self.srv
        train = os.path.join(self.tmp, "train.csv")
        rc.write_csv(train, self.X, names=list(NAMES))
        tx = "/api/v1/datasets/fraud/tx"
        srv.ok("POST", "/api/v1/datasets", {"team": "fraud", "name": "tx"})
        sha = srv.ok("POST", tx + "/uploads", raw=mopstest.read(train),
                     content_type="application/octet-stream")["sha256"]
        srv.ok("POST", tx + "/versions", {"sha256": sha, "column_tags": {"a": ["pii:id"]}})
        srv.ok("PUT", tx + "/versions/1/column-tags", {"columns": {"a": ["pii:id"]},
                                                       "approve": True})
        v = srv.version("fraud", "churn", data=mopstest.read(os.path.join(self.tmp, "m.json")),
                        format="xgboost-json", dataset="dataset:fraud/tx@1")["version"]
        srv.promote("fraud", "churn", v)
        srv.ok("POST", "/api/v1/deployments", {"name": "tx-api", "team": "fraud",
                                               "primary": {"model": "churn", "version": v}})
        ref = "/api/v1/models/fraud/churn/versions/%d/reference" % v
        self.assertError(srv.http("PUT", ref, {"dataset": "fraud/tx"}, token=srv.admin), 400,
                         says="dataset:")
        self.assertError(srv.http("PUT", ref, {"dataset": "dataset:fraud/none@1"},
                                  token=srv.admin), 404)
        out = srv.ok("PUT", ref, {"dataset": "dataset:fraud/tx@1"})
        self.assertEqual((out["source"], out["rows"]), ("dataset:fraud/tx@1", len(self.X)))
        self.assertEqual([c["name"] for c in out["columns"]], list(NAMES))
        got = {c["name"]: c for c in srv.ok("GET", ref)["columns"]}
        self.assertEqual((got["a"]["pii"], got["a"]["mean"], got["a"]["std"]), (True, None, None))
        self.assertAlmostEqual(got["b"]["mean"], float(np.mean(self.X[:, 1])), places=4)
        self.assertNotIn("pii", got["b"])
        live = self.X[:60].copy()
        live[:, 0] += 3
        for i in range(0, len(live), 6):
            st, body, _ = srv.http("POST", "/v2/models/tx-api/infer", oip(live[i:i + 6].tolist()),
                                   token=srv.admin)
            self.assertEqual(st, 200, body)
        rep = srv.ok("GET", "/api/v1/deployments/tx-api/monitoring")
        feats = {f["name"]: f for f in rep["versions"][0]["drift"]["features"]}
        a = feats["a"]
        self.assertEqual((a["pii"], a["mean"], a["reference_mean"], a["drifted"]),
                         (True, None, None, True))
        ks = stats.ks_2samp(self.X[:, 0], live[:, 0]).statistic
        self.assertLessEqual(abs(a["stats"]["ks"] - ks), 2 * 2.446 / 200 ** 0.9433)
        self.assertIsNotNone(feats["b"]["mean"])
        self.assertNotIn("pii", feats["b"])

    def test_bad_input_and_visibility(self):
        srv = self.srv
        srv.team("other")
        tok = srv.user("olga", "other", ["admin"])
        self.assertError(srv.http("GET", "/api/v1/deployments/churn-api/monitoring", token=tok),
                         404, "not_found")
        self.assertError(srv.http("GET", "/api/v1/deployments/churn-api/monitoring?from=yesterday",
                                  token=srv.admin),
                         400, says="from")
        self.assertError(srv.http("POST", "/api/v1/deployments/churn-api/labels",
                                  {"labels": [{"request_id": "r", "label": "x"}]}, token=srv.admin), 400,
                         says="label")
        self.assertError(srv.http("POST", "/api/v1/deployments/churn-api/labels", {"labels": []},
                                  token=srv.admin), 400, says="1 to")
        # a report without a reference says how to get one
        rep = srv.ok("GET", "/api/v1/deployments/churn-api/monitoring")
        self.assertEqual(rep["versions"], [])
        self.assertError(srv.http("GET", "/api/v1/models/fraud/churn/versions/1/reference",
                                  token=srv.admin), 404)
        st, body, _ = srv.request("POST", "/api/v1/models/fraud/churn/versions/1/reference",
                                  body=b"a,b\n", content_type="text/csv", token=srv.admin)
        self.assertEqual(st, 400, body)
