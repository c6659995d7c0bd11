"""Alert rules end to end: a drift rule made with the CLI fires on shifted
live traffic, its alert is delivered to a real webhook receiver on
loopback and opens a retraining request for the model's owner; a new
reference profile (the model retrained on today's data) ends the drift and
the alert resolves, delivered too; the owner closes the request. Rule
CRUD, its refusals, and service rules (error rate) that fire and resolve
when the rule is disabled."""
import os

import numpy as np

import governance_common as gc
import mopstest
import runtime_common as rc
from test_monitor import NAMES, oip

D = "/api/v1/deployments/churn-api"


class Rules(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        srv = self.srv = self.server(["--monitor-interval", "100"])
        srv.team("fraud")
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "churn", "risk_tier": "low"})
        path = os.path.join(self.tmp, "m.json")
        self.X = rc.small_xgboost(path, names=NAMES, seed=2).astype(float)
        srv.version("fraud", "churn", data=mopstest.read(path), format="xgboost-json")
        srv.promote("fraud", "churn", 1)
        srv.ok("POST", "/api/v1/deployments", {"name": "churn-api", "team": "fraud",
                                               "primary": {"model": "churn", "version": 1}})

    def send(self, rows):
        for i in range(0, len(rows), 5):
            st, body, _ = self.srv.http("POST", "/v2/models/churn-api/infer",
                                        oip(rows[i:i + 5].tolist()), token=self.srv.admin)
            self.assertEqual(st, 200, body)

    def alerts(self, state):
        return self.srv.ok("GET", "/api/v1/alerts?deployment=churn-api&state=" + state)["items"]

    def test_drift_alert_fires_is_delivered_and_resolves(self):
        srv = self.srv
        rcv = gc.Receiver()
        self.addCleanup(rcv.close)
        srv.ok("POST", "/api/v1/teams/fraud/webhooks",
               {"name": "ops", "url": rcv.url, "events": ["alert.", "retraining."],
                "backoff_ms": 100})
        ref = os.path.join(self.tmp, "ref.csv")
        rc.write_csv(ref, self.X, names=list(NAMES))
        srv.cli_json("monitor", "reference", "fraud/churn", "1", ref)
        rule = srv.cli_json("monitor", "rule-create", "churn-api", "a-drift", "--metric", "psi",
                            "--feature", "a", "--threshold", "0.2", "--severity", "critical")
        self.assertEqual((rule["op"], rule["window"], rule["firing"]), (">", "1h", False))
        # live traffic with feature a shifted far from training
        live = self.X[np.random.default_rng(5).integers(0, len(self.X), 200)].copy()
        live[:, 0] += 3.0
        self.send(live)
        fired = gc.wait_for(lambda: self.alerts("firing"), "the drift alert")
        a = fired[0]
        self.assertEqual((a["kind"], a["severity"], a["source"], a["model"]),
                         ("drift", "critical", "monitor", "churn"))
        self.assertEqual(a["detail"]["feature"], "a")
        self.assertGreater(a["value"], 0.2)
        self.assertIn("psi of a", a["message"])
        self.assertEqual(len(fired), 1)  # evaluated many times, fired once
        # the rule says so; the owner sees a retraining request
        self.assertTrue(srv.cli_json("monitor", "rule-show", "churn-api", "a-drift")["firing"])
        self.assertIn("FIRING", srv.cli("monitor", "rules", "churn-api", token=srv.admin).stdout)
        page = srv.http("GET", "/metrics", token=srv.admin)[1]
        page = page if isinstance(page, str) else page.decode()
        self.assertIn('mops_alerts_firing{team="fraud",severity="critical",kind="drift",'
                      'source="monitor"} 1', page)
        reqs = srv.cli_json("monitor", "retraining", "--mine")["items"]
        self.assertEqual(len(reqs), 1)
        self.assertEqual((reqs[0]["model"], reqs[0]["alert"], reqs[0]["state"]),
                         ("churn", a["id"], "open"))
        # delivered to the webhook
        gc.wait_for(lambda: any(e["event"] == "alert.firing" for e in rcv.events()),
                    "alert.firing delivered")
        ev = [e for e in rcv.events() if e["event"] == "alert.firing"][0]
        self.assertEqual((ev["team"], ev["data"]["id"], ev["data"]["key"]),
                         ("fraud", a["id"], "rule:%d" % rule["id"]))
        self.assertTrue(any(e["event"] == "retraining.requested" for e in rcv.events()))
        # retrained on today's data: a new reference with the live rows ends the drift
        ref2 = os.path.join(self.tmp, "ref2.csv")
        rc.write_csv(ref2, live, names=list(NAMES))
        srv.cli_json("monitor", "reference", "fraud/churn", "1", ref2)
        gc.wait_for(lambda: not self.alerts("firing"), "the alert to resolve")
        resolved = self.alerts("resolved")
        self.assertEqual([r["id"] for r in resolved], [a["id"]])
        self.assertIsNotNone(resolved[0]["resolved_at"])
        gc.wait_for(lambda: any(e["event"] == "alert.resolved" for e in rcv.events()),
                    "alert.resolved delivered")
        ev = [e for e in rcv.events() if e["event"] == "alert.resolved"][0]
        self.assertEqual((ev["data"]["id"], ev["data"]["state"]), (a["id"], "resolved"))
        self.assertFalse(srv.cli_json("monitor", "rule-show", "churn-api", "a-drift")["firing"])
        # the owner closes the request
        out = srv.cli_json("monitor", "retraining-close", str(reqs[0]["id"]), "--note",
                           "retrained on May data")
        self.assertEqual((out["state"], out["note"]), ("closed", "retrained on May data"))
        self.assertEqual(srv.cli_json("monitor", "retraining", "--state", "open")["items"], [])
        for d in gc.settled(srv, "fraud"):
            self.assertEqual(d["state"], "delivered")
        actions = {e["action"] for e in srv.ok("GET", "/api/v1/audit?limit=1000")["items"]}
        self.assertTrue({"alert_rule.create", "alert.fire", "alert.resolve", "retraining.open",
                         "retraining.close"} <= actions)

    def test_service_rule_crud_and_refusals(self):
        srv = self.srv
        # every request fails (three features for a four-feature model)
        for _ in range(4):
            st, _, _ = srv.http("POST", "/v2/models/churn-api/infer",
                                {"inputs": [{"name": "input-0", "shape": [1, 3],
                                             "datatype": "FP64", "data": [1, 2, 3]}]},
                                token=srv.admin)
            self.assertEqual(st, 400)
        r = srv.ok("POST", D + "/alert-rules", {"name": "errors", "metric": "error_rate",
                                                "threshold": 0.5, "window": "15m"})
        self.assertEqual((r["op"], r["window"], r["severity"], r["feature"]),
                         (">", "15m", "warning", None))
        a = gc.wait_for(lambda: self.alerts("firing"), "the error-rate alert")[0]
        self.assertEqual((a["kind"], a["value"], a["model"]), ("errors", 1.0, "churn"))
        # errors are not drift: no retraining request
        self.assertEqual(srv.ok("GET", "/api/v1/retraining-requests")["items"], [])
        # disabling ends the alert at once
        r = srv.ok("PATCH", D + "/alert-rules/errors", {"enabled": False, "threshold": 0.9})
        self.assertEqual((r["enabled"], r["threshold"], r["firing"]), (False, 0.9, False))
        self.assertEqual(self.alerts("firing"), [])
        items = srv.ok("GET", D + "/alert-rules")["items"]
        self.assertEqual([i["name"] for i in items], ["errors"])
        # refusals name what is wrong
        for body, status, says in [
                ({"name": "x", "metric": "nope", "threshold": 1}, 400, "error_rate"),
                ({"name": "x", "metric": "error_rate", "threshold": 1, "feature": "a"}, 400,
                 "feature"),
                ({"name": "x", "metric": "psi", "threshold": 1, "window": "90s"}, 400,
                 "window"),
                ({"name": "x", "metric": "psi", "threshold": 1, "op": "=="}, 400, "op"),
                ({"name": "x", "metric": "psi", "threshold": 1, "severity": "dire"}, 400,
                 "severity"),
                ({"name": "x", "metric": "psi"}, 400, "threshold"),
                ({"name": "errors", "metric": "psi", "threshold": 1}, 409, "already")]:
            self.assertError(srv.http("POST", D + "/alert-rules", body, token=srv.admin),
                             status, says=says)
        self.assertError(srv.http("GET", D + "/alert-rules/none", token=srv.admin), 404)
        srv.team("other")
        tok = srv.user("olga", "other", ["admin"])
        self.assertError(srv.http("GET", D + "/alert-rules", token=tok), 404)
        viewer = srv.user("vic", "fraud", ["viewer"])
        self.assertError(srv.http("POST", D + "/alert-rules", {"name": "v", "metric": "psi",
                                                               "threshold": 1}, token=viewer),
                         403)
        self.assertEqual(len(srv.ok("GET", D + "/alert-rules", token=viewer)["items"]), 1)
        out = srv.cli("monitor", "rule-delete", "churn-api", "errors", token=srv.admin).stdout
        self.assertIn("deleted alert rule errors", out)
        self.assertEqual(srv.ok("GET", D + "/alert-rules")["items"], [])
