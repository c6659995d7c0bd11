"""The modules answering each other through the seams server.c connects,
on a real server: governance decides which stages serving may route to;
serving tells governance whether a version takes traffic (retirement) and
which deployments it has (reports); serving tells data lineage which
deployments a dataset's models feed; DataOps tells governance about a
version's training data (the data rule, the privacy check before traffic,
which follows trained-on lineage links too)
and serving which features to mask in the prediction log; FinOps reads
monitoring (availability, incidents, labelled outcomes), sends its
budget alerts through it, and tells governance how many predictions a
version made (metered, not sampled)."""
import math
import os
import sqlite3
import struct
import time

import mopstest
import runtime_common as rc

NAMES = ["a", "b", "c", "d"]
M = "/api/v1/models/fraud/churn"
ROW = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64",
                   "data": [0.5, -1.0, 2.0, 0.25]}]}


class Integration(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        srv = self.srv = self.server(["--monitor-interval", "100", "--meter-interval", "100"])
        srv.team("fraud")
        srv.ok("POST", "/api/v1/datasets", {"team": "fraud", "name": "tx"})
        sha = srv.ok("POST", "/api/v1/datasets/fraud/tx/uploads", raw=b"a,b,c,d\n1,2,3,4\n",
                     content_type="application/octet-stream")["sha256"]
        srv.ok("POST", "/api/v1/datasets/fraud/tx/versions", {"sha256": sha})
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "churn", "risk_tier": "low"})
        self.model = os.path.join(self.tmp, "m.json")
        rc.small_xgboost(self.model, names=NAMES)
        for _ in range(3):
            srv.version("fraud", "churn", data=mopstest.read(self.model), format="xgboost-json",
                        dataset="dataset:fraud/tx@1")

    def deploy(self, name, primary, **kw):
        body = {"name": name, "team": "fraud", "primary": {"model": "churn", "version": primary}}
        body.update(kw)
        return self.srv.http("POST", "/api/v1/deployments", body, token=self.srv.admin)

    def pii_dataset(self, tags):
        """fraud/tx@2, its columns tagged with tags; the dataset's path."""
        tx = "/api/v1/datasets/fraud/tx"
        sha = self.srv.ok("POST", tx + "/uploads", raw=b"a,b,c,d\n7,2,3,4\n8,3,4,5\n",
                          content_type="application/octet-stream")["sha256"]
        self.srv.ok("POST", tx + "/versions", {"sha256": sha, "column_tags": tags})
        return tx

    def approved(self, v):
        """Version v of fraud/churn reviewed and approved by a risk officer:
        its path and the risk officer's token."""
        path = M + "/versions/%d" % v
        rita = self.srv.user("rita", "fraud", ["risk-officer"])
        self.srv.ok("POST", path + "/reviews", {})
        self.srv.ok("POST", path + "/approvals", {}, token=rita)
        return path, rita

    def test_stages_decide_traffic(self):
        srv = self.srv
        # a draft takes no deployment traffic, but may be tried by name
        msg = self.assertError(self.deploy("d", 1), 409, "failed_precondition",
                               "fraud/churn@1 is in stage draft")
        self.assertIn("as a primary", msg)
        out = srv.ok("POST", "/v2/models/churn/versions/1/infer", ROW)
        self.assertEqual(out["parameters"]["role"], "direct")
        # staging: a canary, not a primary
        srv.promote("fraud", "churn", 1, to="staging")
        self.assertError(self.deploy("d", 1), 409, "failed_precondition", "stage staging")
        srv.promote("fraud", "churn", 2)
        dep = self.deploy("d", 2, canaries=[{"model": "churn", "version": 1, "weight": 50}])
        self.assertEqual(dep[0], 201, dep)
        self.assertError(srv.http("PATCH", "/api/v1/deployments/d",
                                  {"shadows": [{"model": "churn", "version": 3}]},
                                  token=srv.admin), 409, "failed_precondition", "stage draft")
        # the lifecycle says so too
        traffic = srv.ok("GET", "/api/v1/governance/lifecycle")["traffic"]
        self.assertEqual(traffic["staging"], ["canary", "shadow", "direct", "batch"])
        self.assertEqual(traffic["retired"], [])

    def test_retirement_waits_for_traffic_and_reports_show_deployments(self):
        srv = self.srv
        srv.promote("fraud", "churn", 1)
        self.assertEqual(self.deploy("live", 1)[0], 201)
        for _ in range(3):
            srv.ok("POST", "/v2/models/live/infer", ROW)
        # the prediction log is written off the request path
        deadline = time.time() + 20 * mopstest.SLOW
        while True:
            report = srv.ok("GET", M + "/report")
            v1 = [v for v in report["models"][0]["versions"] if v["registry"]["version"] == 1][0]
            if v1["operations"]["predictions"].get("predictions") == 3:
                break
            self.assertLess(time.time(), deadline, v1["operations"])
            time.sleep(0.1)
        self.assertEqual(v1["deployments"], [{"name": "live", "role": "primary", "weight": 100}])
        # deprecated, it keeps answering; retiring needs the traffic gone
        srv.ok("POST", M + "/versions/1/transitions", {"to": "deprecated", "reason": "old"})
        srv.ok("POST", "/v2/models/live/infer", ROW)
        got = srv.http("POST", M + "/versions/1/transitions", {"to": "retired", "reason": "gone"},
                       token=srv.admin)
        self.assertError(got, 409, "failed_precondition", "still receives traffic")
        srv.ok("DELETE", "/api/v1/deployments/live")
        srv.ok("POST", M + "/versions/1/transitions", {"to": "retired", "reason": "gone"})
        # a retired version takes nothing, not even a trial by name
        got = srv.http("POST", "/v2/models/churn/versions/1/infer", ROW, token=srv.admin)
        self.assertEqual(got[0], 409, got)

    def test_prediction_counts_are_metered_not_sampled(self):
        # Governance counts a version's predictions from FinOps' metering,
        # which sees every request: with the prediction log off (as good as
        # a log that samples under load) the report still has them all.
        srv = self.server(["--prediction-queue", "0", "--meter-interval", "100"])
        srv.team("fraud")
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "churn", "risk_tier": "low"})
        srv.version("fraud", "churn", data=mopstest.read(self.model), format="xgboost-json",
                    stage="production")
        srv.ok("POST", "/api/v1/deployments", {"name": "quiet", "team": "fraud",
                                               "primary": {"model": "churn", "version": 1}})
        two_rows = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64",
                                "data": [0.5, -1.0, 2.0, 0.25, 1, 2, 3, 4]}]}
        for _ in range(5):
            srv.ok("POST", "/v2/models/quiet/infer", two_rows)
        deadline = time.time() + 20 * mopstest.SLOW
        while True:
            v1 = srv.ok("GET", M + "/report")["models"][0]["versions"][0]
            got = v1["operations"]["predictions"]
            if got.get("predictions") == 10:
                break
            self.assertLess(time.time(), deadline, got)
            time.sleep(0.1)
        self.assertIn("FinOps", got["source"])
        self.assertEqual(srv.ok("GET", "/api/v1/deployments/quiet/stats")["prediction_log"]
                         ["enabled"], False)
        # lineage's deployments count them the same way
        g = srv.ok("GET", "/api/v1/lineage/models/fraud/churn/versions/1")
        deps = [n for n in g["nodes"] if n["kind"] == "deployment"]
        self.assertEqual([(d["name"], d["predictions"]) for d in deps], [("quiet", 10)], g)

    def test_lineage_reaches_deployments(self):
        srv = self.srv
        srv.promote("fraud", "churn", 2)
        self.assertEqual(self.deploy("scores", 2)[0], 201)
        srv.ok("POST", "/v2/models/scores/infer", ROW)
        path = "/api/v1/lineage/datasets/fraud/tx/versions/1"
        deadline = time.time() + 20 * mopstest.SLOW
        while True:
            g = srv.ok("GET", path)
            deps = [d for m in g["production"] for d in m.get("deployments", [])]
            if deps and deps[0]["predictions"] == 1:
                break
            self.assertLess(time.time(), deadline, g)
            time.sleep(0.1)
        self.assertEqual((deps[0]["name"], deps[0]["role"], deps[0]["status"]),
                         ("scores", "primary", "live"))

    def test_data_rule_reads_the_training_data(self):
        srv = self.srv
        srv.ok("POST", "/api/v1/policies", {"source": "name: data\nteam: fraud\nrules:\n"
                                                      "  - rule: data\n    stage: production\n"})
        check = srv.ok("GET", M + "/versions/1/policy-check?stage=production")
        rule = [r for r in check["rules"] if r["name"] == "data"][0]
        self.assertNotIn("not part of this server", rule["message"])
        self.assertIn("dataset:fraud/tx@1", str(rule["evidence"]))

    def test_pii_needs_a_privacy_approval_and_is_masked_in_the_log(self):
        srv = self.srv
        tx = self.pii_dataset({"a": ["pii:id"]})
        v = srv.version("fraud", "churn", data=mopstest.read(self.model), format="xgboost-json",
                        dataset="dataset:fraud/tx@2")["version"]
        path, rita = self.approved(v)
        # approved, but its training data's PII is not: no traffic yet
        got = srv.http("POST", path + "/transitions", {"to": "staging", "reason": "canary"},
                       token=srv.admin)
        msg = self.assertError(got, 409, "failed_precondition", "without a privacy approval")
        self.assertIn("dataset:fraud/tx@2", msg)
        # the risk officer approves the column's use; then it may serve
        srv.ok("PUT", tx + "/versions/2/column-tags",
               {"columns": {"a": ["pii:id"]}, "approve": True}, token=rita)
        for stage in ("staging", "production"):
            srv.ok("POST", path + "/transitions", {"to": stage, "reason": "approved"})
        self.assertEqual(self.deploy("pii", v)[0], 201)
        srv.ok("POST", "/v2/models/pii/infer", ROW)
        # the prediction log keeps every feature but the PII one
        db = os.path.join(srv.data_dir, "mops.db")
        deadline = time.time() + 20 * mopstest.SLOW
        while True:
            with sqlite3.connect(db, timeout=30) as c:
                row = c.execute("SELECT inputs FROM prediction_log p JOIN deployments d ON "
                                "d.id = p.deployment_id WHERE d.name = 'pii'").fetchone()
            if row:
                break
            self.assertLess(time.time(), deadline, "nothing logged")
            time.sleep(0.1)
        x = struct.unpack("<4d", row[0])
        self.assertTrue(math.isnan(x[0]), x)
        self.assertEqual(x[1:], (-1.0, 2.0, 0.25))

    def test_privacy_follows_trained_on_links(self):
        # No "dataset" field, but a trained-on lineage link to data with
        # PII: the privacy check reads the link and holds the version back.
        srv = self.srv
        tx = self.pii_dataset({"b": ["pii:email"]})
        v = srv.version("fraud", "churn", data=mopstest.read(self.model),
                        format="xgboost-json")["version"]
        srv.ok("POST", "/api/v1/lineage/links", {"model": "fraud/churn@%d" % v,
                                                 "dataset": "dataset:fraud/tx@2",
                                                 "relation": "trained-on"})
        path, rita = self.approved(v)
        got = srv.http("POST", path + "/transitions", {"to": "staging", "reason": "try"},
                       token=srv.admin)
        msg = self.assertError(got, 409, "failed_precondition", "without a privacy approval")
        self.assertIn("dataset:fraud/tx@2", msg)
        self.assertIn("b", msg)
        srv.ok("PUT", tx + "/versions/2/column-tags",
               {"columns": {"b": ["pii:email"]}, "approve": True}, token=rita)
        srv.ok("POST", path + "/transitions", {"to": "staging", "reason": "approved"})

    def test_finops_reads_monitoring(self):
        srv = self.srv
        srv.promote("fraud", "churn", 1)
        self.assertEqual(self.deploy("kpi", 1)[0], 201)
        srv.ok("PUT", M + "/value", {"per_positive": 5})
        rids = []
        for _ in range(3):
            st, _, hdrs = srv.http("POST", "/v2/models/kpi/infer", ROW, token=srv.admin)
            self.assertEqual(st, 200)
            rids.append(hdrs["X-Request-Id"])
        bad = srv.http("POST", "/v2/models/kpi/infer", {"inputs": []}, token=srv.admin)
        self.assertEqual(bad[0], 400, bad)
        # two of the three outcomes were positive, once the log has them
        deadline = time.time() + 20 * mopstest.SLOW
        while True:
            with sqlite3.connect(os.path.join(srv.data_dir, "mops.db"), timeout=30) as c:
                logged = c.execute("SELECT count(*) FROM prediction_log").fetchone()[0]
            if logged == 3:
                break
            self.assertLess(time.time(), deadline, "the prediction log")
            time.sleep(0.1)
        srv.ok("POST", "/api/v1/deployments/kpi/labels",
               {"labels": [{"request_id": rids[0], "label": 1},
                           {"request_id": rids[1], "label": 0},
                           {"request_id": rids[2], "label": 1}]})
        while True:
            k = srv.ok("GET", "/api/v1/kpis?team=fraud")["teams"][0]
            if k["availability"].get("requests") == 4:
                break
            self.assertLess(time.time(), deadline, k)
            time.sleep(0.1)
        self.assertEqual((k["availability"]["errors"], k["availability"]["availability"]),
                         (1, 0.75))
        self.assertEqual(k["incidents"]["total"], 0)
        self.assertEqual(k["value"]["total"], 10.0)  # 2 positives x 5
        # the same positives, counted for the version (governance's report)
        v1 = [v for v in srv.ok("GET", M + "/report")["models"][0]["versions"]
              if v["registry"]["version"] == 1][0]
        self.assertEqual(v1["operations"]["costs"]["value"], 10.0, v1["operations"])
