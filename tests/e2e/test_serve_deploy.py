"""Deployments end to end: create, list, show, update (weights, promotion,
shadows, stickiness), roll back, delete, history; weighted and sticky
routing; shadows that are logged and compared but never answer; the
prediction log (what each record holds, sampling and drops when the queue
is full, off); the traffic rule on lifecycle stages; and `mops deploy`."""
import json
import os
import sqlite3
import struct
import subprocess
import threading
import time

import numpy as np

import mopstest
import runtime_common as rc

NAMES = ["a", "b", "c", "d"]


def row(x=(0.5, -1.0, 2.0, 0.25)):
    return {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32",
                        "data": list(x)}]}


class Deploy(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.start()

    def start(self, args=()):
        srv = self.server(list(args))
        srv.team("fraud")
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "churn", "risk_tier": "low"})
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "alt", "risk_tier": "low"})
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "narrow", "risk_tier": "low"})
        for seed in (1, 2, 3):  # churn@1, @2, @3: three different models
            path = os.path.join(self.tmp, "m%d.json" % seed)
            rc.small_xgboost(path, names=NAMES, seed=seed, rounds=4 + seed)
            srv.version("fraud", "churn", data=mopstest.read(path), format="xgboost-json", stage="production")
        srv.version("fraud", "alt", data=mopstest.read(os.path.join(self.tmp, "m1.json")),
                    format="xgboost-json", stage="production")  # the same model as churn@1
        path = os.path.join(self.tmp, "narrow.json")
        rc.small_xgboost(path, names=["x", "y"], seed=4)
        srv.version("fraud", "narrow", data=mopstest.read(path), format="xgboost-json", stage="production")
        return srv

    def create(self, name, primary=1, **kw):
        body = {"name": name, "team": "fraud", "primary": {"model": "churn", "version": primary}}
        body.update(kw)
        return self.srv.ok("POST", "/api/v1/deployments", body)

    def infer(self, name, body=None, headers=None, srv=None):
        st, out, hdrs = (srv or self.srv).http("POST", "/v2/models/%s/infer" % name,
                                               body or row(), token=self.srv.admin,
                                               headers=headers)
        self.assertEqual(st, 200, out)
        return out

    def db(self, srv=None):
        return sqlite3.connect(os.path.join((srv or self.srv).data_dir, "mops.db"), timeout=30)

    def wait_for(self, what, cond, seconds=15):
        deadline = time.time() + seconds * mopstest.SLOW
        while True:
            got = cond()
            if got:
                return got
            self.assertLess(time.time(), deadline, "waited too long for " + what)
            time.sleep(0.05)

    # ---------------------------------------------------------- lifecycle

    def test_revisions_promotion_rollback_and_history(self):
        srv = self.srv
        d = self.create("churn-api", description="retention scores")
        self.assertEqual((d["revision"], d["live_revision"]), (1, 1))
        self.assertEqual(d["config"], {"primary": {"model": "churn", "version": 1, "weight": 100},
                                       "canaries": [], "shadows": [], "sticky": None})
        self.assertEqual(self.infer("churn-api")["model_version"], "1")
        D = "/api/v1/deployments/churn-api"
        d = srv.ok("PATCH", D, {"canaries": [{"model": "churn", "version": 2, "weight": 30}]})
        self.assertEqual((d["revision"], d["config"]["primary"]["weight"]), (2, 70))
        d = srv.ok("PATCH", D, {"promote": {"model": "churn", "version": 2}, "if_revision": 2})
        self.assertEqual((d["revision"], d["config"]["primary"]["version"],
                          d["config"]["canaries"]), (3, 2, []))
        self.assertEqual({self.infer("churn-api")["model_version"] for _ in range(10)}, {"2"})
        d = srv.ok("POST", D + "/rollback", {})  # to revision 2's configuration
        self.assertEqual((d["revision"], d["config"]["primary"]["version"]), (4, 1))
        self.assertEqual(d["config"]["canaries"][0]["version"], 2)
        d = srv.ok("POST", D + "/rollback", {"revision": 1})
        self.assertEqual((d["revision"], d["config"]["canaries"]), (5, []))
        self.assertEqual({self.infer("churn-api")["model_version"] for _ in range(10)}, {"1"})
        hist = srv.ok("GET", D + "/history")["items"]
        self.assertEqual([(h["revision"], h["action"]) for h in hist],
                         [(5, "rollback"), (4, "rollback"), (3, "promote"), (2, "update"),
                          (1, "create")])
        self.assertEqual(hist[-1]["by"], "admin")
        page = srv.ok("GET", D + "/history?limit=2")
        self.assertEqual([h["revision"] for h in page["items"]], [5, 4])
        page = srv.ok("GET", D + "/history?limit=2&page_token=" + page["next_page_token"])
        self.assertEqual([h["revision"] for h in page["items"]], [3, 2])
        # every change is in the audit trail
        acts = [e["action"] for e in srv.ok("GET", "/api/v1/audit?action=deployment.")["items"]]
        self.assertEqual(acts, ["deployment.rollback", "deployment.rollback", "deployment.promote",
                                "deployment.update", "deployment.create"])
        # a stale revision is refused; a deleted deployment keeps its history
        got = srv.http("PATCH", D, {"description": "x", "if_revision": 2}, token=srv.admin)
        self.assertError(got, 409, "conflict", "revision 5")
        srv.ok("DELETE", D)
        self.assertError(srv.http("GET", D, token=srv.admin), 404, "not_found")
        self.assertEqual(srv.http("POST", "/v2/models/churn-api/infer", row(),
                                  token=srv.admin)[0], 404)
        with self.db() as db:
            revs = db.execute("SELECT r.revision, r.action FROM deployment_revisions r JOIN "
                              "deployments d ON d.id = r.deployment_id WHERE d.name = "
                              "'churn-api' ORDER BY r.revision").fetchall()
        self.assertEqual(revs[-1], (6, "delete"))
        d = self.create("churn-api", primary=3)  # the name is free again
        self.assertEqual((d["revision"], self.infer("churn-api")["model_version"]), (1, "3"))

    def test_invalid_configurations(self):
        srv = self.srv
        self.create("live")
        srv.team("other")
        srv.ok("POST", "/api/v1/models", {"team": "other", "name": "theirs", "risk_tier": "low"})
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "opaque", "risk_tier": "low"})
        srv.version("fraud", "opaque", data=b"onnx", format="onnx", stage="production")
        srv.version("fraud", "churn", data=b"custom bytes", stage="production")  # churn@4: not executable
        srv.ok("POST", "/api/v1/models/fraud/churn/versions/3/archive")
        base = {"name": "x", "team": "fraud", "primary": {"model": "churn", "version": 1}}
        cases = [
            (dict(base, canaries=[{"model": "churn", "version": 2, "weight": 60},
                                  {"model": "alt", "weight": 50}]), 400, "add up to 110%"),
            (dict(base, canaries=[{"model": "churn", "version": 2, "weight": 101}]), 400,
             "percentage from 0 to 100"),
            (dict(base, canaries=[{"model": "churn", "version": 2}]), 400, '"weight" is required'),
            (dict(base, shadows=[{"model": "churn", "version": 1}]), 400,
             "both primary and shadow"),
            (dict(base, primary={"model": "theirs"}), 404, 'no model named "theirs"'),
            (dict(base, primary={"model": "churn", "version": 9}), 404, 'no version "9"'),
            (dict(base, primary={"model": "churn", "version": 3}), 409, "archived"),
            (dict(base, primary={"model": "opaque"}), 400, "format onnx"),
            (dict(base, primary={"model": "churn", "version": 4}), 400, "format custom"),
            (dict(base, primary={"model": "churn", "version": 0}), 400, '"version"'),
            (dict(base, sticky={"field": "a", "header": "b"}), 400, "one of"),
            (dict(base, sticky={"header": "X Bad"}), 400, "not a header name"),
            (dict(base, sticky="customer"), 400, "sticky"),
            (dict(base, name="live"), 409, "already exists"),
            (dict(base, name="a/b"), 400, "deployment name"),
            (dict(base, team="nope"), 404, 'no team named "nope"'),
        ]
        for body, status, says in cases:
            got = srv.http("POST", "/api/v1/deployments", body, token=srv.admin)
            self.assertError(got, status, None, says)
        D = "/api/v1/deployments/live"
        for body, status, says in (
                ({}, 400, "nothing to change"),
                ({"promote": {"model": "churn", "version": 2}}, 400, "not a canary"),
                ({"if_revision": 1}, 400, "nothing to change"),
                ({"canaries": [{"model": "churn", "version": 1, "weight": 5}]}, 400,
                 "both primary and canary")):
            self.assertError(srv.http("PATCH", D, body, token=srv.admin), status, None, says)
        self.assertError(srv.http("POST", D + "/rollback", {}, token=srv.admin), 409,
                         "failed_precondition", "no earlier revision")
        self.assertError(srv.http("POST", D + "/rollback", {"revision": 7}, token=srv.admin),
                         400, "invalid_argument", "revision must be from")
        self.assertEqual(srv.ok("GET", D)["revision"], 1)

    def test_stage_rule(self):
        srv = self.srv
        self.create("staged", canaries=[{"model": "churn", "version": 2, "weight": 10}])
        with self.db() as db:  # (the governance module will move stages; here by hand)
            db.execute("UPDATE versions SET stage = 'retired' WHERE number = 3 AND model_id = "
                       "(SELECT id FROM models WHERE name = 'churn')")
        got = srv.http("POST", "/api/v1/deployments", {"name": "r", "team": "fraud",
                                                       "primary": {"model": "churn",
                                                                   "version": 3}},
                       token=srv.admin)
        self.assertError(got, 409, "failed_precondition", "stage retired")
        got = srv.http("POST", "/v2/models/churn/versions/3/infer", row(), token=srv.admin)
        self.assertEqual(got[0], 409, got[1])
        self.assertIn("stage retired", got[1]["error"])
        # the deployment made before keeps serving; the rule applies to changes
        self.assertEqual(self.infer("staged")["parameters"]["deployment"], "staged")

    # ------------------------------------------------------------ routing

    def test_weighted_and_sticky_routing(self):
        srv = self.srv
        self.create("w", canaries=[{"model": "churn", "version": 2, "weight": 30}])
        seen = [self.infer("w")["model_version"] for _ in range(300)]
        canary = seen.count("2")
        self.assertTrue(45 < canary < 135, canary)  # 90 expected; 5 sigma either way
        self.assertEqual(set(seen), {"1", "2"})
        stats = srv.ok("GET", "/api/v1/deployments/w/stats")["stats"]
        self.assertEqual(stats["requests"], 300)
        self.assertEqual({v["version"]: v["requests"] for v in stats["versions"]},
                         {"fraud/churn@1": 300 - canary, "fraud/churn@2": canary})
        # sticky by header: one key, one version
        srv.ok("PATCH", "/api/v1/deployments/w", {"sticky": {"header": "X-Customer"}})
        by_key = {}
        for k in range(40):
            got = {self.infer("w", headers={"X-Customer": "c%d" % k})["model_version"]
                   for _ in range(3)}
            self.assertEqual(len(got), 1, k)
            by_key[k] = got.pop()
        self.assertEqual(set(by_key.values()), {"1", "2"})
        # unchanged weights keep each key where it was, across revisions
        srv.ok("PATCH", "/api/v1/deployments/w", {"description": "new revision"})
        self.assertEqual({k: self.infer("w", headers={"X-Customer": "c%d" % k})["model_version"]
                          for k in range(40)}, by_key)
        # sticky by field: a request parameter, or a record's field
        srv.ok("PATCH", "/api/v1/deployments/w", {"sticky": {"field": "customer"}})
        for k in range(10):
            body = dict(row(), parameters={"customer": "c%d" % k})
            self.assertEqual({self.infer("w", body)["model_version"] for _ in range(3)},
                             {by_key[k]})
            got = {srv.ok("POST", "/api/v1/deployments/w/predict",
                          {"instances": [{"a": 1, "customer": "c%d" % k}]})["version"]
                   for _ in range(3)}
            self.assertEqual(got, {int(by_key[k])})
        srv.ok("PATCH", "/api/v1/deployments/w", {"sticky": None})
        self.assertIsNone(srv.ok("GET", "/api/v1/deployments/w")["config"]["sticky"])

    def test_shadows(self):
        srv = self.srv
        self.create("s", shadows=[{"model": "alt"}, {"model": "churn", "version": 2},
                                  {"model": "narrow"}])
        n = 30
        for i in range(n):
            out = self.infer("s", row((i / 10.0, -1.0, 2.0 - i / 7.0, 0.25)))
            self.assertEqual((out["model_version"], out["parameters"]["role"]), ("1", "primary"))

        def done():
            st = srv.ok("GET", "/api/v1/deployments/s/stats")["stats"]
            return st if all(sh["requests"] == n for sh in st["shadows"]) else None
        st = self.wait_for("shadow runs", done)
        sh = {s["version"]: s for s in st["shadows"]}
        same, other, narrow = sh["fraud/alt@1"], sh["fraud/churn@2"], sh["fraud/narrow@1"]
        self.assertEqual((same["agree"], same["disagree"], same["agreement"]), (n, 0, 1.0))
        self.assertEqual(other["agree"] + other["disagree"], n)
        self.assertEqual((narrow["errors"], narrow["agree"]), (n, 0))  # 2 features, not 4
        self.assertEqual(st["requests"], n)
        self.assertEqual(st["errors"], 0)  # a failing shadow is not the caller's error

        def logged():
            with self.db() as db:
                rows = db.execute("SELECT role, agree, max_abs_diff, error FROM prediction_log "
                                  "WHERE role = 'shadow'").fetchall()
            return rows if len(rows) == 3 * n else None
        rows = self.wait_for("shadow records", logged)
        self.assertEqual(sum(1 for r in rows if r[3]), n)
        self.assertTrue(all("takes 2 features" in r[3] for r in rows if r[3]))
        self.assertEqual(sum(1 for r in rows if r[1] == 1), n + other["agree"])
        self.assertEqual(sum(1 for r in rows if r[1] == 1 and r[2] == 0.0), n)

    # ----------------------------------------------------- prediction log

    def test_prediction_log_records(self):
        srv = self.srv
        self.create("p")
        body = row((0.125, -3.5, 1e-3, 7.0))
        raw = json.dumps(body).encode()
        st, out, hdrs = srv.http("POST", "/v2/models/p/infer", raw=raw,
                                 content_type="application/json", token=srv.admin)
        self.assertEqual(st, 200)
        rid = hdrs["X-Request-Id"]

        def logged():
            with self.db() as db:
                return db.execute(
                    "SELECT l.request_id, l.role, l.n_rows, l.n_features, l.n_outputs, "
                    "l.inputs, l.outputs, l.cpu_ns, l.wall_us, l.bytes_in, l.bytes_out, "
                    "l.revision, d.name, l.agree FROM prediction_log l JOIN deployments d ON "
                    "d.id = l.deployment_id").fetchone()
        r = self.wait_for("the record", logged)
        self.assertEqual(r[:5], (rid, "primary", 1, 4, 1))
        self.assertEqual(struct.unpack("<4d", r[5]), tuple(float(np.float32(v))
                                                          for v in body["inputs"][0]["data"]))
        proba = [o for o in out["outputs"] if o["name"] == "predict_proba"][0]["data"]
        self.assertAlmostEqual(struct.unpack("<d", r[6])[0], proba[0], places=7)
        self.assertGreater(r[7], 0)          # thread CPU time, ns
        self.assertGreater(r[8], 0)          # wall time, us
        self.assertEqual(r[9], len(raw))     # bytes in
        self.assertEqual(r[10], int(hdrs["Content-Length"]))
        self.assertEqual((r[11], r[12], r[13]), (1, "p", None))
        # models addressed directly are logged too, with no deployment
        self.infer("churn")
        self.wait_for("direct record", lambda: self.db().execute(
            "SELECT count(*) FROM prediction_log WHERE role = 'direct' AND deployment_id IS "
            "NULL").fetchone()[0] == 1)
        log = srv.ok("GET", "/api/v1/deployments/p/stats")["prediction_log"]
        self.assertEqual((log["enabled"], log["dropped"], log["sampled_out"]), (True, 0, 0))

    def test_log_retention(self):
        srv = self.srv
        self.create("r")
        for _ in range(3):
            self.infer("r")
        count = "SELECT count(*) FROM prediction_log"
        self.wait_for("the records", lambda: self.db().execute(count).fetchone()[0] == 3)
        srv.stop()
        with self.db(srv) as db:  # two of them are three days old now
            db.execute("UPDATE prediction_log SET ts = ts - 3 * 86400000 WHERE id IN "
                       "(SELECT id FROM prediction_log ORDER BY id LIMIT 2)")
        srv = self.srv = self.server(["--log-retention-days", "2"], data_dir=srv.data_dir)
        self.infer("r")
        self.wait_for("the sweep", lambda: self.db().execute(count).fetchone()[0] == 2)
        with self.db(srv) as db:
            old = db.execute("SELECT count(*) FROM prediction_log WHERE ts < ?",
                             (int(time.time() * 1000) - 86400000,)).fetchone()[0]
        self.assertEqual(old, 0)
        log = srv.stderr()
        self.assertIn("deleted 2 prediction log rows older than 2 days", log)
        # 0 keeps everything; a bad value is refused, naming the option
        p = subprocess.run([mopstest.MOPS_BIN, "server", "--data", os.path.join(self.tmp, "x"),
                            "--log-retention-days", "-1"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("log_retention_days \"-1\"", p.stderr)

    def test_full_queue_samples_then_drops(self):
        srv = self.start(["--prediction-queue", "8KiB", "--log-sample", "2"])
        self.srv = srv
        self.create("q")
        n, errors = 400, []

        def client():
            for _ in range(n // 4):
                st, out, _ = srv.http("POST", "/v2/models/q/infer", row(), token=srv.admin)
                if st != 200:
                    errors.append(out)
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        st = srv.ok("GET", "/api/v1/deployments/q/stats")
        log, mine = st["prediction_log"], st["stats"]["prediction_log"]
        self.assertEqual(log["queued"] + log["dropped"] + log["sampled_out"], n)
        self.assertGreater(log["dropped"] + log["sampled_out"], 0)
        self.assertEqual((mine["dropped"], mine["sampled_out"]),
                         (log["dropped"], log["sampled_out"]))
        self.wait_for("the writer", lambda: srv.ok("GET", "/api/v1/deployments/q/stats")[
            "prediction_log"]["written"] == log["queued"])
        with self.db(srv) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM prediction_log").fetchone()[0],
                             log["queued"])
        shown = srv.cli("deploy", "show", "q", token=srv.admin).stdout
        self.assertIn("%d dropped, %d sampled out for this deployment" % (
            mine["dropped"], mine["sampled_out"]), shown)

    def test_log_off(self):
        srv = self.start(["--prediction-queue", "0"])
        self.srv = srv
        self.create("off")
        for _ in range(5):
            self.infer("off")
        log = srv.ok("GET", "/api/v1/deployments/off/stats")["prediction_log"]
        self.assertEqual((log["enabled"], log["queued"]), (False, 0))
        time.sleep(0.3)
        with self.db(srv) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM prediction_log").fetchone()[0], 0)

    # ---------------------------------------------------------------- CLI

    def test_cli(self):
        srv = self.srv
        t = srv.admin
        p = srv.cli("deploy", "create", "cli-api", "--team", "fraud", "--primary", "churn@1",
                    "--canary", "churn@2=25", "--shadow", "alt", "--sticky-header", "X-User",
                    "-d", "made by the CLI", token=t)
        self.assertIn("revision 1", p.stdout)
        self.assertRegex(p.stdout, r"primary\s+fraud/churn@1\s+75%")
        self.assertRegex(p.stdout, r"canary\s+fraud/churn@2\s+25%")
        self.assertRegex(p.stdout, r"shadow\s+fraud/alt@1")
        d = srv.cli_json("deploy", "show", "cli-api")
        self.assertEqual(d["config"]["sticky"], {"header": "X-User"})
        self.assertEqual([h["action"] for h in d["history"]], ["create"])
        lst = srv.cli("deploy", "list", token=t).stdout
        self.assertIn("cli-api", lst)
        self.assertIn("churn@2 (25%)", lst)
        self.assertEqual([x["name"] for x in srv.cli_json("deploy", "list")["items"]], ["cli-api"])
        srv.cli("deploy", "update", "cli-api", "--canary", "churn@2=40", "--add-shadow",
                "churn@3", "--remove-shadow", "alt", "--no-sticky", token=t)
        d = srv.ok("GET", "/api/v1/deployments/cli-api")
        self.assertEqual(d["config"]["canaries"], [{"model": "churn", "version": 2,
                                                    "weight": 40}])
        self.assertEqual(d["config"]["shadows"], [{"model": "churn", "version": 3}])
        self.assertIsNone(d["config"]["sticky"])
        srv.cli("deploy", "update", "cli-api", "--promote", "churn@2", token=t)
        self.assertEqual(srv.ok("GET", "/api/v1/deployments/cli-api")["config"]["primary"]
                         ["version"], 2)
        p = srv.cli("deploy", "rollback", "cli-api", token=t)
        self.assertIn("revision 4", p.stdout)
        srv.cli("deploy", "rollback", "cli-api", "--to", "1", token=t)
        self.infer("cli-api")
        shown = srv.cli("deploy", "show", "cli-api", token=t).stdout
        for part in ("requests", "latency:", "history:", "rollback", "prediction log",
                     "/v2/models/cli-api/infer"):
            self.assertIn(part, shown)
        p = srv.cli("deploy", "update", "cli-api", "--remove-canary", "churn@9", token=t,
                    check=False)
        self.assertEqual(p.returncode, 2)
        p = srv.cli("deploy", "create", "x", "--team", "fraud", token=t, check=False)
        self.assertEqual(p.returncode, 2)
        p = srv.cli("deploy", "create", "x", "--team", "fraud", "--primary", "nope@1", token=t,
                    check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('no model named "nope"', p.stderr)
        srv.cli("deploy", "delete", "cli-api", token=t)
        self.assertEqual(srv.cli_json("deploy", "list")["items"], [])
