"""The governance path end to end: a model walks from draft to production
and retirement under a policy that asks for a model card, two approvals
from risk-officers, a validation threshold (AUC on a holdout mops scores
itself) and a fairness rule; every blocked step names its reason; the
author cannot approve their own version; webhooks reach a real receiver
(which fails its first requests, so retries are proven) with signed
bodies; the audit chain holds every step and still verifies; the
compliance report (JSON and HTML) tells the whole story."""
import os
import random

import governance_common as gc
import mopstest

M = "/api/v1/models/fraud/churn"
V1 = M + "/versions/1"

POLICY = """\
# The fraud team's rules for high-risk models.
name: high-risk
team: fraud
risk_tier: high
description: what a high-risk fraud model needs before it serves
rules:
  - rule: model_card
    name: card
    stage: in_review
    fields: [intended_use, limitations]
  - rule: approvals
    name: two-risk-officers
    stage: [approved, production]
    count: 2
    roles: [risk-officer]
  - rule: validation
    name: auc
    stage: staging
    dataset: holdout
    threshold: "auc >= 0.80"
  - rule: fairness
    name: regions
    stage: production
    dataset: holdout
    group: region
    metric: positive_rate
    max_gap: 0.15
  - rule: freshness
    max_age_days: 30
"""


class GovernanceFlow(mopstest.TestCase):
    def blocked(self, got, *says):
        """A 409 whose message names each of says."""
        msg = self.assertError(got, 409, "failed_precondition")
        for s in says:
            self.assertIn(s, msg)
        return msg

    def test_draft_to_production_to_retirement(self):
        srv = self.server()
        hook = gc.Receiver(fail_each=2)
        self.addCleanup(hook.close)
        srv.team("fraud")
        dana = srv.user("dana", "fraud", ["data-scientist", "risk-officer"])  # the author
        eve = srv.user("eve", "fraud", ["ml-engineer"])
        rob = srv.user("rob", "fraud", ["risk-officer"])
        rita = srv.user("rita", "fraud", ["risk-officer"])
        srv.ok("PATCH", "/api/v1/users/rob", {"email": "rob@example.com"})
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "churn", "risk_tier": "high",
                                          "owner": "eve"})
        secret = "s3cret-for-the-receiver"
        secret_file = os.path.join(self.tmp, "secret")
        with open(secret_file, "w") as f:
            f.write(secret + "\n")
        srv.cli("webhook", "create", "fraud", "ops", "--url", hook.url, "--secret-file",
                secret_file, "--backoff-ms", "100", "--max-attempts", "5", token=srv.admin)

        # The policy, as code (YAML), from the CLI, by a risk officer.
        pfile = os.path.join(self.tmp, "high-risk.yaml")
        with open(pfile, "w") as f:
            f.write(POLICY)
        srv.cli("policy", "create", pfile, token=rob)
        shown = srv.cli_json("policy", "show", "fraud/high-risk")
        self.assertEqual([r["rule"] for r in shown["rules"]],
                         ["model_card", "approvals", "validation", "fairness", "freshness"])

        # Version 1, trained now, uploaded by its author.
        X, y = gc.data()
        model = os.path.join(self.tmp, "churn.json")
        gc.train_binary(model, X[:800], y[:800])
        srv.cli("version", "upload", "fraud/churn", model, "--format", "xgboost-json",
                "--dataset", "dataset:churn@1", token=dana)

        # draft -> in_review: blocked until the card says what it is for.
        got = srv.http("POST", V1 + "/reviews", {"comment": "first look"}, token=dana)
        self.blocked(got, "[fraud/high-risk#1 card]", "intended_use", "limitations")
        srv.cli("card", "edit", "fraud/churn", "1", "--intended-use", "Score churn risk monthly",
                "--limitations", "Trained on 2025 customers only", "--owner", "eve",
                token=dana)
        p = srv.cli("review", "request", "fraud/churn", "1", "--comment", "ready", token=dana)
        self.assertIn("in_review", p.stdout)

        # The author holds risk-officer but never reviews their own version.
        got = srv.http("POST", V1 + "/approvals", {"comment": "mine"}, token=dana)
        self.assertError(got, 403, "forbidden", "separation of duties")
        # One approval is not enough: the version stays in review, saying why.
        out = srv.ok("POST", V1 + "/approvals", {"comment": "looks fine"}, token=rob)
        self.assertEqual(out["stage"], "in_review")
        self.assertIn("needs 2 approvals from risk-officer, has 1 (rob)",
                      [r["message"] for r in out["evaluation"]["rules"]])
        got = srv.http("POST", V1 + "/transitions", {"to": "approved", "reason": "hurry"},
                       token=rob)
        self.blocked(got, "two-risk-officers", "has 1 (rob)")
        out = srv.ok("POST", V1 + "/approvals", {"comment": "agreed"}, token=rita)
        self.assertEqual(out["stage"], "approved")

        # approved -> staging: the validation threshold, on data mops scores.
        got = srv.http("POST", V1 + "/transitions", {"to": "staging", "reason": "canary"},
                       token=eve)
        self.blocked(got, "[fraud/high-risk#3 auc]", "no validation named holdout")
        noisy = os.path.join(self.tmp, "noisy.csv")
        gc.holdout(noisy, X[800:], y[800:], shuffle_labels=True)
        out = srv.cli_json("validate", "fraud/churn", "1", "--data", noisy, "--label", "y",
                           token=dana)
        self.assertLess(out["metrics"]["roc_auc"], 0.7)
        p = srv.cli("version", "promote", "fraud/churn", "1", token=eve, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("roc_auc = ", p.stderr)
        self.assertIn("needs >= 0.8", p.stderr)
        self.assertIn("FAIL  fraud/high-risk#3 auc", p.stderr)  # the rules, shown
        good = os.path.join(self.tmp, "holdout.csv")
        gc.holdout(good, X[800:], y[800:])
        out = srv.cli_json("validate", "fraud/churn", "1", "--data", good, "--label", "y",
                           token=dana)
        self.assertGreater(out["metrics"]["roc_auc"], 0.85)
        srv.cli("version", "promote", "fraud/churn", "1", "--reason", "canary first", token=eve)
        self.assertEqual(srv.ok("GET", V1)["stage"], "staging")

        # staging -> production: the fairness rule needs the breakdown by
        # region, then a gap within bounds.
        got = srv.http("POST", V1 + "/transitions", {"to": "production", "reason": "go"},
                       token=eve)
        self.blocked(got, "[fraud/high-risk#4 regions]", "no positive_rate breakdown by "
                                                         "column region")
        rnd = random.Random(5)
        gc.holdout(good, X[800:], y[800:], groups={"region": lambda i, x: rnd.choice(["north", "south"])})
        out = srv.cli_json("validate", "fraud/churn", "1", "--data", good, "--label", "y",
                           "--group", "region", token=dana)
        gap = out["fairness"]["region"]["positive_rate"]["gap"]
        self.assertLess(gap, 0.15)
        check = srv.cli_json("policy", "check", "fraud/churn", "1", "--stage", "production")
        self.assertTrue(check["passed"], check)
        self.assertEqual([(r["name"], r["status"]) for r in check["rules"]],
                         [("two-risk-officers", "pass"), ("regions", "pass"),
                          ("privacy", "pass")])
        srv.cli("version", "transition", "fraud/churn", "1", "production", "--reason",
                "fair and validated", token=eve)
        self.assertEqual(srv.ok("GET", V1)["stage"], "production")
        check = srv.cli_json("policy", "check", "fraud/churn", "1")
        fresh = [r for r in check["rules"] if r["rule"] == "freshness"][0]
        self.assertEqual(fresh["status"], "pass")
        self.assertIn("in production for 0.0 days", fresh["message"])

        # Retirement: not from production; deprecated first, with a
        # replacement, and a summary is kept.
        gc.train_binary(model, X[:800], y[:800], rounds=30)
        srv.cli("version", "upload", "fraud/churn", model, "--format", "xgboost-json", token=dana)
        got = srv.http("POST", V1 + "/transitions", {"to": "retired", "reason": "old",
                                                     "replacement": 2}, token=eve)
        self.assertError(got, 400, "invalid_argument", "cannot move to retired")
        srv.ok("POST", V1 + "/transitions", {"to": "deprecated", "reason": "v2 coming"},
               token=eve)
        srv.cli("version", "retire", "fraud/churn", "1", "--reason", "superseded",
                "--replacement", "2", token=eve)
        ret = srv.ok("GET", V1 + "/retirement", token=eve)
        self.assertEqual((ret["reason"], ret["replacement"], ret["retired_by"]),
                         ("superseded", 2, "eve"))
        summary = ret["summary"]
        self.assertIsNotNone(summary["served_from"])
        self.assertGreater(summary["days_in_production"], 0)
        self.assertEqual(summary["predictions"]["predictions"], 0)  # never deployed

        # The stage history: who, when, why, and the evaluation of each move.
        hist = srv.ok("GET", V1 + "/transitions")["items"]
        self.assertEqual([(h["from"], h["to"]) for h in hist],
                         [("draft", "in_review"), ("in_review", "approved"),
                          ("approved", "staging"), ("staging", "production"),
                          ("production", "deprecated"), ("deprecated", "retired")])
        self.assertEqual([h["actor"] for h in hist], ["dana", "rita", "eve", "eve", "eve", "eve"])
        self.assertEqual(hist[1]["reason"], "approved by rita: agreed")
        self.assertTrue(all(h["evaluation"]["passed"] for h in hist))
        self.assertEqual(hist[0]["evaluation"]["policies"],
                         [{"scope": "fraud", "name": "high-risk", "version": 1}])

        # The audit chain holds all of it, and verifies.
        entries = srv.ok("GET", "/api/v1/audit?limit=1000&team=fraud")["items"]
        actions = [e["action"] for e in reversed(entries) if e["outcome"] == "ok"]
        for a, n in (("policy.create", 1), ("card.update", 1), ("review.approve", 2), ("version.transition", 6),
                     ("version.transition.blocked", 5), ("validation.create", 3),
                     ("version.retire", 1), ("webhook.create", 1)):
            self.assertEqual(actions.count(a), n, (a, actions))
        denied = [e for e in entries if e["outcome"] == "denied"]
        self.assertEqual([(e["actor"], e["action"]) for e in denied], [("dana", "review.approve")])
        blocked = [e for e in entries if e["action"] == "version.transition.blocked"]
        self.assertEqual(sorted(e["detail"]["to"] for e in blocked),
                         ["approved", "in_review", "production", "staging", "staging"])
        self.assertTrue(srv.ok("GET", "/api/v1/audit/verify")["ok"])

        # Notifications reached the receiver despite its first failures,
        # signed; each delivery's attempts are in the log.
        deliveries = gc.settled(srv, "fraud")
        self.assertTrue(all(d["state"] == "delivered" for d in deliveries), deliveries)
        for d in deliveries:
            self.assertEqual([a["status"] for a in d["attempt_log"]], [500, 500, 200], d)
            self.assertIn("HTTP 500", d["attempt_log"][0]["error"])
        hook.verify(secret)
        events = hook.events()
        kinds = [e["event"] for e in events]
        for k in ("review.requested", "review.approved", "version.stage_changed",
                  "validation.completed", "version.retired"):
            self.assertIn(k, kinds)
        req = [e for e in events if e["event"] == "review.requested"][0]
        self.assertEqual(req["team"], "fraud")
        self.assertEqual(req["data"]["version"], 1)
        who = {(r["user"], r["why"]) for r in req["data"]["recipients"]}
        self.assertTrue({("eve", "owner"), ("dana", "author"), ("rob", "reviewer"),
                         ("rita", "reviewer")} <= who, who)
        rob_entry = [r for r in req["data"]["recipients"] if r["user"] == "rob"][0]
        self.assertEqual(rob_entry["email"], "rob@example.com")

        # The compliance report tells the story, as JSON and as a page.
        report = srv.ok("GET", M + "/report", token=rob)
        self.assertEqual(report["summary"]["blocked_transitions"], 5)
        self.assertEqual(report["summary"]["retired"], 1)
        v1 = report["models"][0]["versions"][0]
        self.assertEqual(v1["registry"]["version"], 1)
        self.assertEqual({d["user"] for d in v1["current_decisions"] if d["counts"]},
                         {"rob", "rita"})
        self.assertEqual(len(v1["validations"]), 3)
        self.assertEqual(v1["card"]["intended_use"], "Score churn risk monthly")
        self.assertEqual(v1["deployments"], [])
        self.assertEqual(len([e for e in v1["evaluations"] if e["outcome"] == "blocked"]), 5)
        self.assertTrue(any(e["action"] == "version.retire" for e in report["models"][0]["audit"]))
        page = os.path.join(self.tmp, "report.html")
        srv.cli("report", "fraud/churn", "--html", "-o", page, token=rob)
        html = mopstest.read(page, "r")
        self.assertIn("<h1>Compliance report: fraud/churn</h1>", html)
        self.assertIn("two-risk-officers", html)
        self.assertIn("<h4>Costs</h4>", html)
        self.assertNotIn("Not available", html)  # every module answers
        for external in ("<script", "src=\"http", "href=\"http", "@import", "url("):
            self.assertNotIn(external, html)
        gen = srv.ok("GET", "/api/v1/audit?action=report.generate")["items"]
        self.assertEqual(gen[0]["detail"]["kind"], "model")
        # A viewer may see the model but not the report.
        viewer = srv.user("val", "fraud", ["viewer"])
        self.assertError(srv.http("GET", M + "/report", token=viewer), 403, "forbidden",
                         "(report.read)")
