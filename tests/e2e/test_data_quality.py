"""Quality suites, profiles and lineage end to end: a Great Expectations
suite file set with the CLI and run with `mops data validate` (exit status,
counts, failing lines, computed here independently); profiles of a larger
file compared with numpy (exact moments and extremes, quantiles within the
stated rank error, distinct counts within the HyperLogLog error); and the
lineage of data to models as text, JSON and Graphviz."""
import json
import os
import subprocess

import numpy as np

import mopstest

OCTET = "application/octet-stream"


class Quality(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.server()
        self.srv.team("risk")

    def path(self, name, data):
        p = os.path.join(self.tmp, name)
        with open(p, "w" if isinstance(data, str) else "wb") as f:
            f.write(data)
        return p

    def test_suite_and_validate(self):
        srv = self.srv
        rng = np.random.default_rng(3)
        n = 3000
        ages = rng.integers(18, 90, n).astype(object)
        ages[rng.random(n) < 0.02] = ""                    # missing
        ages[[10, 20]] = [150, -4]                          # out of range
        codes = np.array(["%s-%04d" % (c, i) for i, c in
                          enumerate(rng.choice(list("ABC"), n))], dtype=object)
        codes[[5, 6, 7]] = ["bad", "x-1", "A_0007"]
        ids = np.arange(n)
        ids[100] = ids[99]                                  # one duplicate pair
        countries = rng.choice(["FR", "DE", "NO", "XX"], n, p=[.5, .3, .19, .01])
        lines = ["id,age,code,country"]
        lines += ["%d,%s,%s,%s" % row for row in zip(ids, ages, codes, countries)]
        data = "\n".join(lines) + "\n"
        srv.cli("data", "register", "risk/applicants", self.path("a.csv", data), token=srv.admin)
        suite = {
            "expectation_suite_name": "applicants",
            "expectations": [
                {"expectation_type": "expect_column_to_exist", "kwargs": {"column": "age"}},
                {"expectation_type": "expect_column_values_to_not_be_null",
                 "kwargs": {"column": "age", "mostly": 0.95}},
                {"expectation_type": "expect_column_values_to_be_between",
                 "kwargs": {"column": "age", "min_value": 18, "max_value": 120}},
                {"expectation_type": "expect_column_values_to_be_in_set",
                 "kwargs": {"column": "country", "value_set": ["FR", "DE", "NO"],
                            "mostly": 0.95}},
                {"expectation_type": "expect_column_values_to_be_unique",
                 "kwargs": {"column": "id"}},
                {"expectation_type": "expect_column_values_to_match_regex",
                 "kwargs": {"column": "code", "regex": r"^[A-C]-\d{4}$"}},
                {"expectation_type": "expect_column_values_to_be_of_type",
                 "kwargs": {"column": "age", "type_": "int64"}},
                {"expectation_type": "expect_table_row_count_to_be_between",
                 "kwargs": {"min_value": 1000, "max_value": 10000}},
                {"expectation_type": "expect_column_mean_to_be_between",
                 "kwargs": {"column": "age", "min_value": 40, "max_value": 65}},
            ],
            "meta": {"great_expectations_version": "0.18.8"},
        }
        out = srv.cli_json("data", "suite", "risk/applicants", self.path("suite.json",
                                                                         json.dumps(suite)))
        self.assertEqual(out["revision"], 1)
        p = srv.cli("data", "validate", "risk/applicants", "1", token=srv.admin, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("did not pass its quality suite", p.stderr)
        self.assertIn("FAILED, 6 of 9 expectations met", p.stdout)
        self.assertIn("line 12: 150", p.stdout)            # row 10 is on line 12
        res = srv.ok("GET", "/api/v1/datasets/risk/applicants/versions/1/validations")["items"]
        full = srv.ok("GET", "/api/v1/datasets/risk/applicants/versions/1/validations/%d"
                      % res[0]["id"])
        r = [x["result"] for x in full["results"]]
        ok = [x["success"] for x in full["results"]]
        present = np.array([a != "" for a in ages])
        numeric = np.array([int(a) for a in ages[present]])
        self.assertEqual(ok, [True, True, False, True, False, False, True, True, True])
        self.assertEqual(r[1]["unexpected_count"], int((~present).sum()))
        self.assertEqual(r[2]["unexpected_count"], int(((numeric < 18) | (numeric > 120)).sum()))
        self.assertEqual(r[2]["missing_count"], int((~present).sum()))
        self.assertAlmostEqual(r[2]["unexpected_percent"], 100 * 2 / present.sum())
        self.assertEqual(r[2]["partial_unexpected_list"], ["150", "-4"])
        self.assertEqual(r[2]["partial_unexpected_index_list"], [10, 20])
        self.assertEqual(r[3]["unexpected_count"], int((countries == "XX").sum()))
        self.assertEqual(r[4]["unexpected_count"], 2)
        self.assertEqual(r[4]["partial_unexpected_lines"], [101, 102])
        self.assertEqual(r[5]["unexpected_count"], 3)
        self.assertEqual(r[5]["partial_unexpected_list"], ["bad", "x-1", "A_0007"])
        self.assertEqual(r[7]["observed_value"], n)
        self.assertAlmostEqual(r[8]["observed_value"], numeric.mean(), places=9)
        # a suite that passes: exit 0; the version shows its quality
        suite["expectations"] = suite["expectations"][:2]
        srv.cli("data", "suite", "risk/applicants", self.path("s2.json", json.dumps(suite)),
                token=srv.admin)
        p = srv.cli("data", "validate", "risk/applicants", "1", token=srv.admin)
        self.assertIn("PASSED", p.stdout)
        v = srv.ok("GET", "/api/v1/datasets/risk/applicants/versions/1")
        self.assertEqual((v["quality"]["success"], v["quality"]["current"]), (True, True))
        p = srv.cli("data", "results", "risk/applicants", "1", token=srv.admin)
        self.assertEqual(len(p.stdout.strip().splitlines()), 3)  # header and two results
        # a suite file that is not a suite is refused, naming what is wrong
        bad = dict(suite, expectations=[{"expectation_type": "expect_column_values_to_be_between",
                                         "kwargs": {"column": "age"}}])
        p = srv.cli("data", "suite", "risk/applicants", self.path("bad.json", json.dumps(bad)),
                    token=srv.admin, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("give min_value, max_value or both", p.stderr)

    def test_profile_matches_numpy(self):
        srv = self.srv
        rng = np.random.default_rng(11)
        n = 60000
        heights = np.round(rng.normal(170, 10, n), 3)
        incomes = np.round(np.exp(rng.normal(10.5, 0.8, n)), 2)
        ratings = rng.integers(1, 6, n)
        users = rng.integers(0, 20000, n)
        ts = 1700000000 + rng.integers(0, 86400 * 30, n)
        whens = np.array(["%s" % np.datetime_as_string(np.datetime64(int(t), "s"))
                          for t in ts])
        with open(os.path.join(self.tmp, "p.csv"), "w") as f:
            f.write("height,income,rating,user,when\n")
            for row in zip(heights, incomes, ratings, users, whens):
                f.write("%r,%r,%d,u%d,%s\n" % (float(row[0]), float(row[1]), row[2], row[3],
                                              row[4]))
        srv.cli("data", "register", "risk/people", os.path.join(self.tmp, "p.csv"),
                token=srv.admin)
        prof = {c["name"]: c for c in
                srv.ok("GET", "/api/v1/datasets/risk/people/versions/1/profile")["columns"]}
        for name, x in (("height", heights), ("income", incomes), ("rating", ratings)):
            c = prof[name]
            self.assertEqual(c["count"], n)
            self.assertEqual(c["min"], x.min())
            self.assertEqual(c["max"], x.max())
            self.assertAlmostEqual(c["mean"], x.mean(), delta=1e-9 * abs(x.mean()))
            self.assertAlmostEqual(c["std"], x.std(ddof=1), delta=1e-9 * x.std())
            eps = c["quantile_rank_error"]
            srt = np.sort(x)
            for key, q in (("p1", .01), ("p5", .05), ("p25", .25), ("p50", .5), ("p75", .75),
                           ("p95", .95), ("p99", .99)):
                v = c["quantiles"][key]
                lo = np.searchsorted(srt, v, "left") / n
                hi = np.searchsorted(srt, v, "right") / n
                err = 0 if lo <= q <= hi else min(abs(q - lo), abs(q - hi))
                self.assertLessEqual(err, eps, (name, key, v))
            counts = c["histogram"]["counts"]
            self.assertLessEqual(abs(sum(counts) - n), len(counts))
            edges = np.array(c["histogram"]["edges"], dtype=float)
            exact, _ = np.histogram(x, bins=edges)
            self.assertLessEqual(np.abs(np.array(counts) - exact).max(),
                                 c["histogram"]["count_error"])
        # distinct counts within four standard errors; exact when small
        se = prof["user"]["distinct"]["relative_standard_error"]
        truth = len(np.unique(users))
        self.assertLess(abs(prof["user"]["distinct"]["estimate"] - truth) / truth, 4 * se)
        self.assertEqual(prof["rating"]["distinct"]["estimate"], 5)
        top = {t["value"]: t["count"] for t in prof["user"]["top"]}
        for value, count in top.items():
            true_count = int((users == int(value[1:])).sum())
            self.assertLessEqual(count, true_count)
            self.assertLessEqual(true_count - count, prof["user"]["top_count_error"])
        self.assertEqual(prof["when"]["type"], "timestamp")
        self.assertEqual(prof["when"]["min"][:19], str(np.datetime64(int(ts.min()), "s")))

    def test_lineage(self):
        srv = self.srv
        srv.team("other")
        srv.cli("data", "register", "risk/loans", self.path("l.csv", "email,amount\n"
                                                                     "a@example.com,10\n"),
                token=srv.admin)
        srv.cli("data", "register", "risk/loans", self.path("l2.csv", "amount\n12\n"),
                token=srv.admin)
        srv.ok("POST", "/api/v1/models", {"team": "risk", "name": "pd", "risk_tier": "high"})
        srv.ok("POST", "/api/v1/models", {"team": "other", "name": "theirs", "risk_tier": "low"})
        srv.version("risk", "pd", dataset="dataset:risk/loans@1")
        srv.version("risk", "pd", data=b"v2", dataset="dataset:risk/loans@2")
        srv.version("other", "theirs", dataset="dataset:risk/loans@1")
        srv.cli("lineage", "link", "risk/pd@2", "dataset:risk/loans@1", token=srv.admin)
        member = srv.user("analyst", "risk", ["viewer"])
        p = srv.cli("lineage", "dataset", "risk/loans", "1", "--stage", "draft", token=member)
        self.assertIn("dataset:risk/loans@1 (1 rows; quality: not validated; PII: email)",
                      p.stdout)
        self.assertIn("-> trained-on model:risk/pd@1 [draft]", p.stdout)
        self.assertIn("-> validated-on model:risk/pd@2 [draft]", p.stdout)
        self.assertIn("and 1 model version in teams you cannot see", p.stdout)
        self.assertNotIn("theirs", p.stdout)
        g = json.loads(srv.cli("lineage", "dataset", "risk/loans", "1", "--json",
                               token=member).stdout)
        self.assertEqual(g["production"], [])  # nothing is in production
        self.assertEqual(g["hidden"]["model_versions"], 1)
        dot = srv.cli("lineage", "dataset", "risk/loans", "1", "--dot", token=member).stdout
        self.assertTrue(dot.startswith("digraph lineage {"))
        self.assertIn('"dataset:risk/loans@1" -> "model:risk/pd@1" [label="trained-on"];', dot)
        if os.path.exists("/usr/bin/dot"):
            subprocess.run(["/usr/bin/dot", "-Tsvg"], input=dot, text=True, check=True,
                           capture_output=True)
        p = srv.cli("lineage", "model", "risk/pd", "2", token=member)
        self.assertIn("<- trained-on dataset:risk/loans@2", p.stdout)
        self.assertIn("<- validated-on dataset:risk/loans@1", p.stdout)
        g = json.loads(srv.cli("lineage", "model", "risk/pd", "1", "--json", token=member).stdout)
        self.assertEqual([n["kind"] for n in g["nodes"]], ["model_version", "dataset_version"])
        # a viewer may not record links
        p = srv.cli("lineage", "link", "risk/pd@1", "dataset:risk/loans@2", token=member,
                    check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("version.write", p.stderr)
