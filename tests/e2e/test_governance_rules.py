"""Rules that fail for their reasons on real models and real validations:
a regression threshold (rmse) and one that passes (r2), a fairness gap
over its limit and one that is undefined (a group without positives); the
data, monitoring and cost rules fail as "not available" while their
modules are absent; `mops policy check` shows each rule with its evidence
and exits 1 on a failure; policy files with errors are refused naming the
line; versions of a policy are kept; model cards render."""
import json
import os

import governance_common as gc
import mopstest
import runtime_common as rc

M = "/api/v1/models/t/%s"


class GovernanceRules(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.server()
        self.srv.team("t")
        self.risk = self.srv.user("rob", "t", ["risk-officer"])

    def policy(self, text):
        path = os.path.join(self.tmp, "p%d.yaml" % len(os.listdir(self.tmp)))
        with open(path, "w") as f:
            f.write(text)
        return self.srv.cli("policy", "create", path, token=self.risk)

    def model(self, name, path, fmt="xgboost-json"):
        self.srv.ok("POST", "/api/v1/models", {"team": "t", "name": name, "risk_tier": "medium"})
        self.srv.cli("version", "upload", "t/" + name, path, "--format", fmt,
                     token=self.srv.admin)

    def check(self, name, stage):
        p = self.srv.cli("policy", "check", "t/" + name, "1", "--stage", stage,
                         token=self.srv.admin, check=False)
        out = json.loads(self.srv.cli("policy", "check", "t/" + name, "1", "--stage", stage,
                                      "--json", token=self.srv.admin, check=False).stdout)
        return p, {r["name"]: (r["status"], r["message"]) for r in out["rules"]}

    def test_validation_thresholds_on_a_regressor(self):
        import xgboost as xgb
        X, y = rc.regression(n=800, features=4, seed=21, nan_frac=0)
        names = ["a", "b", "c", "d"]
        model = os.path.join(self.tmp, "r.json")
        xgb.train({"objective": "reg:squarederror", "max_depth": 3},
                  xgb.DMatrix(X[:400], label=y[:400], feature_names=names),
                  num_boost_round=20).save_model(model)
        self.model("reg", model)
        csv = os.path.join(self.tmp, "h.csv")
        rc.write_csv(csv, X[400:], names, extra={"target": [repr(float(v)) for v in y[400:]]})
        self.policy("name: reg\nteam: t\nrules:\n"
                    "  - rule: validation\n    name: tight\n    stage: staging\n"
                    "    threshold: rmse <= 0.001\n"
                    "  - rule: validation\n    name: fit\n    stage: staging\n"
                    "    threshold: r2 >= 0.5\n"
                    "  - rule: validation\n    name: auc\n    stage: staging\n"
                    "    threshold: auc >= 0.8\n"
                    "  - rule: validation\n    name: other\n    stage: staging\n"
                    "    dataset: recent\n    threshold: mae < 100\n")
        p, rules = self.check("reg", "staging")
        self.assertEqual(p.returncode, 1)
        self.assertIn("4 rules fail", p.stderr)
        self.assertIn("no validation named holdout", rules["tight"][1])
        self.srv.cli("validate", "t/reg", "1", "--data", csv, "--label", "target",
                     token=self.srv.admin)
        p, rules = self.check("reg", "staging")
        self.assertEqual(rules["tight"][0], "fail")
        self.assertRegex(rules["tight"][1], r"^rmse = [0-9.]+ on holdout \(400 rows\), needs <= "
                                            r"0\.001$")
        self.assertEqual(rules["fit"][0], "pass")
        self.assertEqual(rules["auc"], ("fail", "validation holdout has no value for roc_auc"))
        self.assertIn("no validation named recent", rules["other"][1])
        self.assertIn("FAIL  t/reg#1 tight", p.stdout)
        self.assertIn("pass  t/reg#2 fit", p.stdout)
        self.assertIn('"metric":"r2"', p.stdout)  # the evidence, shown

    def test_fairness_gap_over_its_limit_and_undefined(self):
        X, y = gc.data(n=1200, seed=4)
        model = os.path.join(self.tmp, "c.json")
        gc.train_binary(model, X[:600], y[:600])
        self.model("clf", model)
        self.policy("name: fair\nteam: t\nrules:\n"
                    "  - rule: fairness\n    name: segment-rate\n    stage: production\n"
                    "    group: segment\n    metric: positive_rate\n    max_gap: 0.05\n"
                    "  - rule: fairness\n    name: segment-tpr\n    stage: production\n"
                    "    group: only\n    metric: tpr\n    max_gap: 0.5\n")
        Xh, yh = X[600:], y[600:]
        # segment follows the most telling feature, so positive rates differ
        # widely between its groups; "only" has one group: no gap at all.
        csv = os.path.join(self.tmp, "h.csv")
        gc.holdout(csv, Xh, yh, groups={"segment": lambda i, x: "hi" if x[1] > 0 else "lo",
                                        "only": lambda i, x: "all"})
        out = self.srv.cli_json("validate", "t/clf", "1", "--data", csv, "--label", "y",
                                "--group", "segment", "--group", "only")
        gap = out["fairness"]["segment"]["positive_rate"]["gap"]
        self.assertGreater(gap, 0.05)
        _, rules = self.check("clf", "production")
        self.assertEqual(rules["segment-rate"][0], "fail")
        self.assertIn("positive_rate gap between the groups of segment is", rules["segment-rate"][1])
        self.assertIn("over the limit of 0.05", rules["segment-rate"][1])
        self.assertEqual(rules["segment-tpr"][0], "fail")
        self.assertIn("undefined", rules["segment-tpr"][1])
        # The promotion names both.
        self.srv.ok("POST", M % "clf" + "/versions/1/transitions",
                    {"to": "in_review", "reason": "r"})
        rev = self.srv.user("rev", "t", ["risk-officer"])
        self.srv.ok("POST", M % "clf" + "/versions/1/approvals", {}, token=rev)
        self.srv.ok("POST", M % "clf" + "/versions/1/transitions", {"to": "staging", "reason": "s"})
        got = self.srv.http("POST", M % "clf" + "/versions/1/transitions",
                            {"to": "production", "reason": "p"}, token=self.srv.admin)
        msg = self.assertError(got, 409, "failed_precondition")
        self.assertIn("2 rules fail", msg)
        self.assertIn("[t/fair#1 segment-rate]", msg)
        self.assertIn("[t/fair#2 segment-tpr]", msg)

    def test_rules_of_absent_modules_fail_saying_so(self):
        """Monitoring and FinOps are not in this server yet; DataOps is."""
        self.srv.ok("POST", "/api/v1/models", {"team": "t", "name": "m", "risk_tier": "low"})
        self.srv.version("t", "m", dataset="dataset:x@1")
        self.policy("name: ops\nteam: t\nrules:\n"
                    "  - rule: data\n    stage: production\n"
                    "  - rule: monitoring\n    stage: production\n"
                    "  - rule: cost\n    stage: production\n    max_per_1k: 0.01\n")
        _, rules = self.check("m", "production")
        self.assertEqual(rules["data"][0], "fail")  # not a dataset the data module knows
        self.assertIn("the dataset dataset:x@1 cannot be checked", rules["data"][1])
        self.assertEqual(rules["monitoring"][0], "fail")
        self.assertIn("the monitor module", rules["monitoring"][1])
        # FinOps is in the server: a version that served nothing has no
        # measured cost per 1000 predictions, which fails the rule too.
        self.assertEqual(rules["cost"][0], "fail")
        self.assertIn("no projected cost per 1000 predictions", rules["cost"][1])

    def test_policy_files_versions_and_cards(self):
        srv = self.srv
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("name: x\nteam: t\nrules:\n  - rule: approvals\n    stage: production\n"
                    "    count: 2\n    roles: [viewer]\n")
        p = srv.cli("policy", "create", bad, token=self.risk, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("rule 1 (line 4): role viewer cannot approve", p.stderr)
        with open(bad, "w") as f:
            f.write("name: x\nteam: t\nrules:\n\t- rule: data\n")
        p = srv.cli("policy", "create", bad, token=self.risk, check=False)
        self.assertIn("malformed YAML at line 4", p.stderr)
        # JSON works as well; a new version keeps the old.
        doc = {"name": "j", "team": "t", "description": "first",
               "rules": [{"rule": "freshness", "max_age_days": 10}]}
        path = os.path.join(self.tmp, "j.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        srv.cli("policy", "create", path, token=self.risk)
        doc["description"] = "second"
        with open(path, "w") as f:
            json.dump(doc, f)
        p = srv.cli("policy", "update", "t/j", path, token=self.risk)
        self.assertIn("version 2", p.stdout)
        old = srv.cli_json("policy", "show", "t/j", "--version", "1")
        self.assertEqual((old["version"], old["description"], old["format"]), (1, "first", "json"))
        shown = srv.cli("policy", "show", "t/j", "--source", token=self.risk).stdout
        self.assertIn('"second"', shown)
        self.assertIn("version 2 of 2", shown)
        listed = srv.cli("policy", "list", "--team", "t", token=self.risk).stdout
        self.assertIn("t/j", listed)
        viewer = srv.user("vi", "t", ["viewer"])
        p = srv.cli("policy", "update", "t/j", path, token=viewer, check=False)
        self.assertIn("(policy.write)", p.stderr)
        srv.cli("policy", "archive", "t/j", token=self.risk)
        self.assertEqual(srv.cli_json("policy", "list")["items"], [])
        # Cards: edit through the CLI, render as Markdown and HTML.
        srv.ok("POST", "/api/v1/models", {"team": "t", "name": "m", "risk_tier": "low"})
        srv.version("t", "m")
        card = os.path.join(self.tmp, "card.json")
        with open(card, "w") as f:
            json.dump({"limitations": "Not for <minors>", "business_kpi": "churn -2%"}, f)
        srv.cli("card", "edit", "t/m", "1", "--file", card, "--intended-use", "retention",
                token=srv.admin)
        srv.cli("card", "edit", "t/m", "1", "--owner", "rob", token=srv.admin)
        fields = srv.cli_json("card", "show", "t/m", "1")["fields"]
        self.assertEqual((fields["intended_use"], fields["owner"], fields["business_kpi"]),
                         ("retention", "rob", "churn -2%"))
        md = srv.cli("card", "show", "t/m", "1", token=viewer).stdout
        self.assertIn("# Model card: t/m, version 1", md)
        self.assertIn("Not for &lt;minors&gt;", md)
        page = os.path.join(self.tmp, "card.html")
        srv.cli("card", "show", "t/m", "1", "--format", "html", "-o", page, token=viewer)
        html = mopstest.read(page, "r")
        self.assertIn("<h2>Limitations</h2>", html)
        self.assertNotIn("<minors>", html)
        _, body, hdrs = srv.http("GET", M % "m" + "/versions/1/card?format=markdown",
                                 token=viewer)
        self.assertTrue(hdrs["Content-Type"].startswith("text/markdown"))
        self.assertIsInstance(body, bytes)
        p = srv.cli("card", "edit", "t/m", "1", "--owner", "x", token=viewer, check=False)
        self.assertIn("(card.write)", p.stderr)
