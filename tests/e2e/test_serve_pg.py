"""Two servers on one PostgreSQL database (tests/with-pg.sh gives the
cluster): a deployment made or changed on one is served by the other — at
once when it has not seen it yet, within the poll interval when it has —
a delete is noticed, a token revoked on one stops working on the other
within the principal cache's TTL, and a batch job runs on exactly one."""
import json
import os
import shutil
import subprocess
import time
import unittest

import mopstest
import runtime_common as rc

NAMES = ["a", "b", "c", "d"]
ROW = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32",
                   "data": [0.5, -1.0, 2.0, 0.25]}]}


def pg_uri():
    uri = os.environ.get("MOPS_TEST_PG_URI")
    if not uri:
        if os.environ.get("MOPS_TEST_REQUIRE_PG"):
            raise AssertionError("MOPS_TEST_REQUIRE_PG is set but MOPS_TEST_PG_URI is not")
        raise unittest.SkipTest("no PostgreSQL (run under tests/with-pg.sh)")
    name = "serve_%d_%d" % (os.getpid(), int(time.time() * 1000) % 100000)
    subprocess.run(["psql", "-q", uri, "-c", "CREATE DATABASE " + name], check=True,
                   capture_output=True)
    base, _, query = uri.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


class TwoServers(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        uri = pg_uri()
        self.a = self.server(["--db", uri])
        # B shares A's database and artifact directory (as docs/operations.md
        # says servers sharing a database must), and A's administrator.
        b_data = os.path.join(self.tmp, "b")
        os.makedirs(b_data)
        os.symlink(os.path.join(self.a.data_dir, "artifacts"), os.path.join(b_data, "artifacts"))
        shutil.copy(os.path.join(self.a.data_dir, "admin-token"), b_data)
        self.b = self.server(["--db", uri], data_dir=b_data)
        a = self.a
        a.team("fraud")
        a.ok("POST", "/api/v1/models", {"team": "fraud", "name": "churn", "risk_tier": "low"})
        for seed in (1, 2):
            path = os.path.join(self.tmp, "m%d.json" % seed)
            rc.small_xgboost(path, names=NAMES, seed=seed, rounds=3 * seed)
            a.version("fraud", "churn", data=mopstest.read(path), format="xgboost-json", stage="production")

    def infer(self, srv, name, token=None):
        return srv.http("POST", "/v2/models/%s/infer" % name, ROW, token=token or self.a.admin)

    def eventually(self, what, cond, seconds=6):
        deadline = time.time() + seconds * mopstest.SLOW
        while not cond():
            self.assertLess(time.time(), deadline, "waited too long for " + what)
            time.sleep(0.05)

    def version_on(self, srv, name):
        st, out, _ = self.infer(srv, name)
        return out["model_version"] if st == 200 else st

    def test_changes_reach_the_other_server(self):
        a, b = self.a, self.b
        D = "/api/v1/deployments/dep"
        a.ok("POST", "/api/v1/deployments", {"name": "dep", "team": "fraud",
                                             "primary": {"model": "churn", "version": 1}})
        self.assertEqual(self.version_on(b, "dep"), "1")  # loaded on first use
        a.ok("PATCH", D, {"canaries": [{"model": "churn", "version": 2, "weight": 50}]})
        a.ok("PATCH", D, {"promote": {"model": "churn", "version": 2}})
        self.assertEqual(self.version_on(a, "dep"), "2")  # at once where it changed
        # B may answer "2" from the canary revision already: wait for the
        # promotion's revision itself
        self.eventually("the promotion on B",
                        lambda: b.ok("GET", D + "/stats")["stats"]["revision"] == 3)
        self.assertEqual(self.version_on(b, "dep"), "2")
        b.ok("POST", D + "/rollback", {"revision": 1})   # and the other way round
        self.eventually("the rollback on A", lambda: self.version_on(a, "dep") == "1")
        a.ok("DELETE", D)
        self.eventually("the delete on B", lambda: self.version_on(b, "dep") == 404)
        b.ok("POST", "/api/v1/deployments", {"name": "dep2", "team": "fraud",
                                             "primary": {"model": "churn", "version": 2}})
        self.assertEqual(self.version_on(a, "dep2"), "2")
        # the history is one, whichever server wrote it
        hist = a.ok("GET", "/api/v1/deployments/dep2/history")["items"]
        self.assertEqual([h["action"] for h in hist], ["create"])

    def test_revocation_and_jobs(self):
        a, b = self.a, self.b
        a.ok("POST", "/api/v1/deployments", {"name": "dep", "team": "fraud",
                                             "primary": {"model": "churn", "version": 1}})
        a.user("app", "fraud", ["ml-engineer"])
        tok = a.ok("POST", "/api/v1/tokens", {"name": "app", "user": "app",
                                              "infer_only": ["dep"]})
        unused = a.ok("POST", "/api/v1/tokens", {"name": "other", "user": "app"})
        self.assertEqual(self.infer(b, "dep", tok["token"])[0], 200)  # B caches it
        a.ok("DELETE", "/api/v1/tokens/%d" % tok["id"])
        a.ok("DELETE", "/api/v1/tokens/%d" % unused["id"])
        self.assertEqual(self.infer(a, "dep", tok["token"])[0], 401)  # at once on A
        self.assertEqual(self.infer(b, "dep", unused["token"])[0], 401)  # never cached on B
        started = time.time()
        self.eventually("the revocation on B", lambda: self.infer(b, "dep", tok["token"])[0]
                        == 401, seconds=10)
        self.assertLess(time.time() - started, 8 * mopstest.SLOW)  # within the 5 s TTL
        # a job submitted on one server is run once, by one of them
        sha = a.ok("POST", "/api/v1/jobs/inputs/fraud", raw=b"a,b,c,d\n1,2,3,4\n",
                   content_type="application/octet-stream")["sha256"]
        jobs = [srv.ok("POST", "/api/v1/jobs", {"deployment": "dep", "input": {"upload": sha}})
                ["id"] for srv in (a, b, a, b)]
        for jid in jobs:
            self.eventually("job %d" % jid, lambda: b.ok("GET", "/api/v1/jobs/%d" % jid)
                            ["status"] == "succeeded", seconds=30)
            j = a.ok("GET", "/api/v1/jobs/%d" % jid)
            self.assertEqual((j["attempts"], j["progress"]["rows"]), (1, 1))
        out = json.loads(json.dumps(a.ok("GET", "/api/v1/audit/verify")))
        self.assertTrue(out["ok"])
