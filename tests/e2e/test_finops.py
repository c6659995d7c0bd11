"""FinOps end to end: two teams and three deployments under load on a real
server. The cost report matches usage x price to the cent (egress is priced
so that every KiB is a dollar, and the test knows every byte it sent and
received), metered CPU sums back to the server's own and stays within the
process's CPU (read from /proc, as getrusage counts it), an unused
deployment shows idle cost, budget alerts fire at their threshold, value
and ROI follow the declared value, the FOCUS export carries the same
charges, and the KPIs match the timeline the test created."""
import csv
import io
import json
import os
import tempfile
import time

import mopstest
import runtime_common

FEATURES = ("a", "b", "c", "d")
KIB_PRICE = 1.0                      # dollars per KiB sent out
PRICES = {"cpu_core_hour": 360.0,    # 0.1 per CPU-second
          "egress_gb": KIB_PRICE * 1024 * 1024,
          "ram_gb_hour": 1000.0,
          "deployment_month": 730 * 36.0}


def proc_cpu_seconds(pid):
    """utime + stime of a process, as getrusage(RUSAGE_SELF) reports it."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def cents(x):
    return round(x * 100)


class FinOps(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.server(args=["--meter-interval", "200"])
        tmp = tempfile.mkdtemp(dir=self.tmp)
        path = os.path.join(tmp, "m.json")
        runtime_common.small_xgboost(path, names=FEATURES)
        self.model = mopstest.read(path)

    def deploy_model(self, team, model):
        srv = self.srv
        srv.ok("POST", "/api/v1/models", {"team": team, "name": model, "risk_tier": "low"})
        srv.version(team, model, data=self.model, format="xgboost-json")
        srv.promote(team, model, 1)

    def predict(self, deployment, i, rows):
        body = json.dumps({"instances": [{"a": i % 7, "b": 1.5, "c": -2, "d": r}
                                         for r in range(rows)]}).encode()
        st, out, hdrs = self.srv.request("POST", "/api/v1/deployments/%s/predict" % deployment,
                                         body=body, token=self.srv.admin,
                                         content_type="application/json", expect_continue=False)
        self.assertEqual(st, 200, out)
        return len(body), int(hdrs["Content-Length"])

    def test_costs_budgets_value_kpis(self):
        srv = self.srv
        for team in ("alpha", "beta"):
            srv.team(team)
        srv.ok("PUT", "/api/v1/prices", {"prices": PRICES, "note": "test prices"})
        # The timeline the KPIs must reproduce: a review requested, decided,
        # the version in production, then its first primary request.
        srv.ok("POST", "/api/v1/models", {"team": "alpha", "name": "m1", "risk_tier": "low"})
        srv.version("alpha", "m1", data=self.model, format="xgboost-json")
        t_request = time.time()
        srv.promote("alpha", "m1", 1)
        reviews = srv.ok("GET", "/api/v1/models/alpha/m1/versions/1/reviews")["items"]
        self.deploy_model("beta", "m2")
        for name, team, model in (("a-busy", "alpha", "m1"), ("a-idle", "alpha", "m1"),
                                  ("b-busy", "beta", "m2")):
            srv.ok("POST", "/api/v1/deployments", {"name": name, "team": team,
                                                   "primary": {"model": model, "version": 1}})
        time.sleep(1.0)
        t_first = time.time()
        usage = {"a-busy": [0, 0, 0, 0], "b-busy": [0, 0, 0, 0]}  # requests, rows, in, out
        for i in range(120):
            for dep, rows in (("a-busy", 3), ("b-busy", 1)):
                if dep == "b-busy" and i % 2:
                    continue
                bin_, bout = self.predict(dep, i, rows)
                u = usage[dep]
                u[0] += 1
                u[1] += rows
                u[2] += bin_
                u[3] += bout

        report = srv.ok("GET", "/api/v1/costs?group_by=deployment")
        cpu_proc = proc_cpu_seconds(srv.proc.pid)
        items = {(i["team"], i["deployment"]): i for i in report["items"]}
        for dep, team in (("a-busy", "alpha"), ("b-busy", "beta")):
            it = items[(team, dep)]
            u = it["usage"]
            want = usage[dep]
            # usage is exact: every request, row and byte
            self.assertEqual((u["requests"], u["predictions"], u["bytes_in"], u["bytes_out"]),
                             tuple(want), dep)
            c = it["cost"]
            # cost = usage x price, to the cent
            self.assertEqual(cents(c["egress"]), cents(want[3] / 1024 * KIB_PRICE), dep)
            self.assertEqual(cents(c["cpu"]), cents(u["cpu_seconds"] * 0.1), dep)
            self.assertEqual(cents(c["ram"]), cents(u["ram_gb_hours"] * PRICES["ram_gb_hour"]),
                             dep)
            self.assertEqual(cents(c["fixed"]), cents(u["deployment_hours"] * 36.0), dep)
            self.assertEqual(cents(c["total"]), cents(sum(v for k, v in c.items()
                                                          if k != "total")), dep)
            self.assertGreater(u["cpu_seconds"], 0)
            self.assertGreater(u["ram_gb_hours"], 0)
            self.assertEqual(cents(it["cost_per_1k"]), cents(c["total"] * 1000 / want[1]))
        # the unused deployment costs its memory and fixed fee, all idle
        idle = items[("alpha", "a-idle")]
        self.assertEqual(idle["usage"]["requests"], 0)
        self.assertGreater(idle["idle_deployment_cost"], 0)
        self.assertAlmostEqual(idle["idle_deployment_cost"],
                               idle["cost"]["ram"] + idle["cost"]["fixed"], places=6)
        # metered CPU sums back to what the server flushed, and stays within
        # the process's own CPU (getrusage), which the report accounts for
        # in full: metered + overhead = process
        server = report["server"]
        metered = sum(i["usage"]["cpu_seconds"] for i in report["items"])
        self.assertAlmostEqual(metered, server["metered_cpu_seconds"], places=6)
        self.assertLessEqual(server["metered_cpu_seconds"], server["process_cpu_seconds"])
        self.assertLess(abs(server["process_cpu_seconds"] - cpu_proc), 0.05 + 0.02 * cpu_proc,
                        (server, cpu_proc))
        self.assertAlmostEqual(server["metered_cpu_seconds"] + server["overhead_cpu_seconds"],
                               server["process_cpu_seconds"], delta=0.001)

        # teams: the same charges grouped differently, shared costs as lines
        teams = {i["team"]: i for i in srv.ok("GET", "/api/v1/costs?group_by=team")["items"]}
        self.assertEqual(set(teams), {"alpha", "beta"})
        self.assertGreater(teams["alpha"]["cost"]["overhead"], 0)
        self.assertGreater(teams["alpha"]["cost"]["idle_capacity"], 0)
        self.assertEqual(teams["alpha"]["usage"]["predictions"], usage["a-busy"][1])

        # value and ROI: 0.5 per prediction and a posted event
        srv.ok("PUT", "/api/v1/models/alpha/m1/value", {"per_prediction": 0.5})
        srv.ok("POST", "/api/v1/value-events", {"team": "alpha", "model": "m1", "version": 1,
                                                "amount": 100, "note": "a deal"})
        models = {(i["team"], i["model"]): i
                  for i in srv.ok("GET", "/api/v1/costs?group_by=model")["items"]}
        m1 = models[("alpha", "m1")]
        self.assertAlmostEqual(m1["value"], 0.5 * usage["a-busy"][1] + 100, places=6)
        cost = m1["cost"]["total"]
        self.assertAlmostEqual(m1["roi"], (m1["value"] - cost) / cost, places=6)

        # budgets: beta's is exceeded at once, alpha's is far away
        srv.ok("POST", "/api/v1/teams/beta/webhooks", {"name": "h", "url": "http://127.0.0.1:9/",
                                                       "events": ["alert."],
                                                       "max_attempts": 1})
        srv.ok("PUT", "/api/v1/budgets/alpha", {"amount": 1e9})
        srv.ok("PUT", "/api/v1/budgets/beta", {"amount": 0.01})
        deadline = time.time() + 10 * mopstest.SLOW
        while True:
            budgets = {b["team"]: b for b in srv.ok("GET", "/api/v1/budgets")["items"]}
            kinds = sorted(a["kind"] for a in budgets["beta"]["alerts"])
            if kinds == ["100", "80", "forecast"] or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(kinds, ["100", "80", "forecast"], budgets)
        self.assertEqual(budgets["alpha"]["alerts"], [])
        for a in budgets["beta"]["alerts"]:
            self.assertGreaterEqual(a["cost"], 0.8 * 0.01)
        events = [d["event"] for d in srv.ok("GET", "/api/v1/teams/beta/deliveries")["items"]]
        self.assertEqual(events.count("alert.firing"), 3, events)
        # they are monitoring's alerts too: one list, one webhook path
        alerts = srv.ok("GET", "/api/v1/alerts?team=beta&source=finops")["items"]
        self.assertEqual(sorted((a["kind"], a["severity"]) for a in alerts),
                         [("budget", "critical"), ("budget", "warning"),
                          ("budget_forecast", "warning")])
        self.assertEqual(srv.ok("GET", "/api/v1/alerts?team=alpha&source=finops")["items"], [])
        # raised far above the spend, beta's budget alerts resolve (webhooks say so)
        srv.ok("PUT", "/api/v1/budgets/beta", {"amount": 1e9})
        deadline = time.time() + 10 * mopstest.SLOW
        while True:
            alerts = srv.ok("GET", "/api/v1/alerts?team=beta&source=finops")["items"]
            if all(a["state"] == "resolved" for a in alerts) or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual([a["state"] for a in alerts], ["resolved"] * 3, alerts)
        beta = [b for b in srv.ok("GET", "/api/v1/budgets")["items"] if b["team"] == "beta"][0]
        self.assertTrue(all(a["resolved_at"] for a in beta["alerts"]), beta)
        events = [d["event"] for d in srv.ok("GET", "/api/v1/teams/beta/deliveries")["items"]]
        self.assertEqual(events.count("alert.resolved"), 3, events)

        # FOCUS: the same egress charges, with the FOCUS columns
        text = srv.cli("costs", "--focus", "-", token=srv.admin).stdout
        rows = list(csv.DictReader(io.StringIO(text)))
        for col in ("ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost",
                    "ListCost", "ConsumedQuantity", "ConsumedUnit", "ResourceId", "ResourceName",
                    "ServiceName", "ServiceCategory", "Tags"):
            self.assertIn(col, rows[0])
        egress = sum(float(r["BilledCost"]) for r in rows if r["ChargeDescription"] == "egress")
        self.assertEqual(cents(egress), cents((usage["a-busy"][3] + usage["b-busy"][3]) / 1024))
        self.assertTrue(all(json.loads(r["Tags"])["team"] in ("alpha", "beta") for r in rows))

        # KPIs: ready -> business and the review cycle as the test made them
        k = srv.cli_json("kpis", "--team", "alpha")
        alpha = k["teams"][0]
        self.assertEqual(alpha["team"], "alpha")
        ttb = alpha["time_to_business"]
        self.assertEqual(ttb["count"], 1)
        self.assertAlmostEqual(ttb["mean_seconds"], t_first - t_request, delta=1.0 * mopstest.SLOW)
        self.assertGreaterEqual(ttb["mean_seconds"], 1.0)
        self.assertEqual(alpha["governance_cycle"]["count"], 1)
        self.assertLess(alpha["governance_cycle"]["mean_seconds"], t_first - t_request)
        self.assertEqual(alpha["freshness"]["production_versions"], 1)
        self.assertEqual(alpha["models"], 1)
        self.assertEqual(len(reviews), 1)
        org = srv.cli_json("kpis")["org"]
        self.assertEqual(org["models"], 2)
        self.assertEqual(org["time_to_business"]["count"], 2)

    def test_prices_cli_and_errors(self):
        srv = self.srv
        base = srv.cli_json("prices", "show")
        self.assertEqual(base["version"], 0)
        self.assertAlmostEqual(base["prices"]["cpu_core_hour"], 0.031611)
        out = srv.cli_json("prices", "set", "cpu_core_hour=0.05", "--note", "new deal")
        self.assertEqual(out["version"], 1)
        self.assertAlmostEqual(out["prices"]["cpu_core_hour"], 0.05)
        self.assertAlmostEqual(out["prices"]["ram_gb_hour"], 0.004237)
        self.assertError(srv.http("PUT", "/api/v1/prices", {"prices": {"cpu": 1}},
                                  token=srv.admin), 400, "invalid_argument", "unknown price")
        self.assertError(srv.http("PUT", "/api/v1/prices", {"prices": {"gpu_hour": -1}},
                                  token=srv.admin), 400, "invalid_argument", "gpu_hour")
        self.assertError(srv.http("GET", "/api/v1/costs?group_by=planet", token=srv.admin), 400,
                         "invalid_argument", "group_by")
        self.assertError(srv.http("GET", "/api/v1/costs?from=yesterday", token=srv.admin), 400,
                         "invalid_argument", "from")
        self.assertError(srv.http("GET", "/api/v1/costs?team=nobody", token=srv.admin), 404)
        srv.team("gamma")
        srv.cli("budget", "set", "gamma", "50", token=srv.admin)
        listed = srv.cli_json("budget", "list")["items"]
        self.assertEqual([(b["team"], b["amount"]) for b in listed], [("gamma", 50.0)])
        srv.cli("budget", "delete", "gamma", token=srv.admin)
        self.assertEqual(srv.cli_json("budget", "list")["items"], [])
        self.assertError(srv.http("DELETE", "/api/v1/budgets/gamma", token=srv.admin), 404)
        # the audit trail has every change
        actions = [e["action"] for e in srv.ok("GET", "/api/v1/audit?limit=1000")["items"]]
        for a in ("prices.set", "budget.set", "budget.delete"):
            self.assertIn(a, actions)


if __name__ == "__main__":
    import unittest
    unittest.main()
