"""Batch scoring jobs end to end: a CSV uploaded and scored on the server
with a model version or a deployment's primary, compared with the library;
kept columns; progress and a progress bar; cancellation; failures that name
the line; and jobs that survive the server: killed mid-run (kill -9) and
queued again at start-up, failed after too many interruptions, never lost.
`mops job submit|list|show|wait|download|cancel`."""
import csv
import os
import sqlite3
import time

import numpy as np

import mopstest
import runtime_common as rc

NAMES = ["a", "b", "c", "d"]


class Jobs(mopstest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        import xgboost as xgb
        cls.dir = tempfile.mkdtemp(prefix="mops-jobs-")
        cls.model = os.path.join(cls.dir, "m.json")
        rc.small_xgboost(cls.model, names=NAMES, seed=1, rounds=8)
        cls.booster = xgb.Booster(model_file=cls.model)
        # A slow one (many deep trees) for jobs that must still be running.
        X, y = rc.classification(n=300, features=4, seed=2, nan_frac=0)
        cls.big = os.path.join(cls.dir, "big.json")
        xgb.train({"objective": "binary:logistic", "max_depth": 8, "seed": 0},
                  xgb.DMatrix(X, label=y, feature_names=NAMES), 600).save_model(cls.big)
        rng = np.random.default_rng(0)
        cls.big_csv = os.path.join(cls.dir, "big.csv")
        np.savetxt(cls.big_csv, rng.normal(size=(250000, 4)).astype(np.float32), delimiter=",",
                   fmt="%.5g", header="a,b,c,d", comments="")

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.srv = self.start(self.server())

    def start(self, srv):
        srv.ok("POST", "/api/v1/teams", {"name": "fraud"}, status=(201, 409))
        if srv.http("GET", "/api/v1/models/fraud/churn", token=srv.admin)[0] == 404:
            srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "churn",
                                              "risk_tier": "low"})
            srv.version("fraud", "churn", data=mopstest.read(self.model), format="xgboost-json", stage="production")
            srv.version("fraud", "churn", data=mopstest.read(self.big), format="xgboost-json", stage="production")
            srv.ok("POST", "/api/v1/deployments", {"name": "dep", "team": "fraud",
                                                   "primary": {"model": "churn", "version": 1}})
        return srv

    def write_csv(self, name, X, extra=None, order=None):
        path = os.path.join(self.tmp, name)
        names = order or NAMES
        idx = [NAMES.index(n) for n in names]
        rc.write_csv(path, np.asarray(X)[:, idx], names=names, extra=extra)
        return path

    def job(self, id_):
        return self.srv.ok("GET", "/api/v1/jobs/%d" % id_)

    def wait(self, id_, until=("succeeded", "failed", "canceled"), seconds=60):
        deadline = time.time() + seconds * mopstest.SLOW
        while True:
            j = self.job(id_)
            if j["status"] in until:
                return j
            self.assertLess(time.time(), deadline, j)
            time.sleep(0.02)

    def submit(self, path, **spec):
        sha = self.srv.ok("POST", "/api/v1/jobs/inputs/fraud", raw=mopstest.read(path),
                          content_type="application/octet-stream")["sha256"]
        spec.setdefault("team", "fraud")
        spec.setdefault("model", "churn")
        spec.setdefault("version", 1)
        spec["input"] = {"upload": sha}
        return self.srv.ok("POST", "/api/v1/jobs", spec)

    # ------------------------------------------------------------ scoring

    def test_cli_scores_like_the_library(self):
        import xgboost as xgb
        srv = self.srv
        X, _ = rc.classification(n=500, features=4, seed=7, nan_frac=0.1)
        ids = ["c%d" % i for i in range(len(X))]
        path = self.write_csv("in.csv", X, extra={"id": ids}, order=["d", "b", "a", "c"])
        out = os.path.join(self.tmp, "out.csv")
        p = srv.cli("job", "submit", "--model", "fraud/churn@1", "--input", path, "--keep", "id",
                    "--wait", "-o", out, token=srv.admin)
        self.assertIn("wrote " + out, p.stderr)
        with open(out) as f:
            rows = list(csv.reader(f))
        self.assertEqual(rows[0], ["id", "label", "prob_1"])
        self.assertEqual([r[0] for r in rows[1:]], ids)
        ref = self.booster.predict(xgb.DMatrix(X, feature_names=NAMES))
        rc.assert_close(self, [float(r[2]) for r in rows[1:]], ref, True, "job")
        self.assertEqual([r[1] for r in rows[1:]], [str(int(v > 0.5)) for v in ref])
        # by deployment, in steps: submit, list, show, wait, download
        p = srv.cli("job", "submit", "--deployment", "dep", "--input", path, "--outputs",
                    "value,margin", token=srv.admin)
        jid = int(p.stdout.split()[1])
        self.assertIn("job %d queued" % jid, p.stdout)
        srv.cli("job", "wait", str(jid), token=srv.admin)
        j = srv.cli_json("job", "show", str(jid))
        self.assertEqual((j["status"], j["deployment"], j["model"], j["version"]),
                         ("succeeded", "dep", "churn", 1))
        self.assertEqual((j["progress"]["rows"], j["progress"]["percent"], j["attempts"]),
                         (500, 100.0, 1))
        self.assertEqual(j["outputs"], ["value", "margin"])
        self.assertEqual(j["input"]["size"], os.path.getsize(path))
        self.assertEqual(j["result"]["download"], "/api/v1/jobs/%d/result" % jid)
        out2 = os.path.join(self.tmp, "out2.csv")
        srv.cli("job", "download", str(jid), "-o", out2, token=srv.admin)
        with open(out2) as f:
            rows = list(csv.reader(f))
        self.assertEqual(rows[0], ["prob_1", "margin"])
        rc.assert_close(self, [float(r[0]) for r in rows[1:]], ref, True, "by deployment")
        listed = srv.cli("job", "list", token=srv.admin).stdout
        self.assertIn("succeeded", listed)
        self.assertEqual([x["id"] for x in srv.cli_json("job", "list")["items"]],
                         [jid, jid - 1])
        self.assertEqual(srv.ok("GET", "/api/v1/jobs?status=failed")["items"], [])
        # the audit trail has the uploads and submissions
        acts = {e["action"] for e in srv.ok("GET", "/api/v1/audit?action=job.")["items"]}
        self.assertEqual(acts, {"job.input.upload", "job.submit"})

    def test_progress_bar_on_a_terminal(self):
        srv = self.srv
        jid = self.submit(self.big_csv, version=2)["id"]
        e = dict(os.environ, MOPS_URL=srv.url, MOPS_TOKEN=srv.admin)
        rc_, text = mopstest.on_terminal([mopstest.MOPS_BIN, "job", "wait", str(jid)], e)
        self.assertEqual(rc_, 0)
        self.assertIn("job %d" % jid, text)
        self.assertIn("100%", text)
        self.assertIn("250000 rows", text)

    # ------------------------------------------------------- going wrong

    def test_failures_and_cancellation(self):
        srv = self.srv
        bad = os.path.join(self.tmp, "bad.csv")
        with open(bad, "w") as f:
            f.write("a,b,c,d\n1,2,3,4\n1,two,3,4\n")
        j = self.wait(self.submit(bad)["id"])
        self.assertEqual(j["status"], "failed")
        self.assertIn("line 3", j["error"])
        self.assertIn('"two" is not a number', j["error"])
        p = srv.cli("job", "wait", str(j["id"]), token=srv.admin, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed", p.stderr)
        got = srv.http("GET", "/api/v1/jobs/%d/result" % j["id"], token=srv.admin)
        self.assertError(got, 409, "failed_precondition", "no result")
        nofeat = os.path.join(self.tmp, "nofeat.csv")
        with open(nofeat, "w") as f:
            f.write("a,b,x\n1,2,3\n")
        j = self.wait(self.submit(nofeat)["id"])
        self.assertIn('no column "c"', j["error"])
        # refused at submission
        sha = srv.ok("POST", "/api/v1/jobs/inputs/fraud", raw=b"a\n1\n",
                     content_type="application/octet-stream")["sha256"]
        srv.team("beta")
        for body, status, says in (
                ({"team": "fraud", "model": "churn", "input": {"dataset": "d@1"}}, 400,
                 "DataOps"),
                ({"team": "fraud", "model": "churn", "input": {"upload": "0" * 64}}, 400,
                 "was not uploaded to team fraud"),
                ({"team": "fraud", "model": "churn", "input": {}}, 400, "one of"),
                ({"team": "fraud", "model": "churn", "input": {"upload": sha},
                  "outputs": ["probs"]}, 400, '"probs" is not one of'),
                ({"deployment": "dep", "model": "churn", "input": {"upload": sha}}, 400,
                 "not both"),
                ({"input": {"upload": sha}}, 400, "say what scores the input"),
                ({"deployment": "nope", "input": {"upload": sha}}, 404, "no deployment")):
            self.assertError(srv.http("POST", "/api/v1/jobs", body, token=srv.admin), status,
                             None, says)
        self.assertError(srv.http("POST", "/api/v1/jobs/inputs/fraud", raw=b"",
                                  content_type="application/octet-stream", token=srv.admin),
                         400, "invalid_argument", "empty")
        # cancel a running job: it stops within a batch
        jid = self.submit(self.big_csv, version=2)["id"]
        self.wait(jid, until=("running",))
        p = srv.cli("job", "cancel", str(jid), token=srv.admin)
        j = self.wait(jid)
        self.assertEqual(j["status"], "canceled", j)
        self.assertLess(j["progress"]["rows"], 250000)
        self.assertIsNone(j["result"])
        # cancelling again, or a finished job, changes nothing
        self.assertEqual(srv.ok("POST", "/api/v1/jobs/%d/cancel" % jid)["status"], "canceled")

    def test_jobs_survive_the_server(self):
        srv = self.srv
        # killed mid-run: queued again at the next start, and finished
        jid = self.submit(self.big_csv, version=2)["id"]
        self.wait(jid, until=("running",))
        srv.kill9()
        self.servers.remove(srv)
        srv2 = self.start(self.server(data_dir=srv.data_dir))
        self.srv = srv2
        j = self.wait(jid)
        self.assertEqual((j["status"], j["attempts"], j["progress"]["rows"]),
                         ("succeeded", 2, 250000))
        self.assertIn("queued again", srv2.stderr())
        # A job interrupted too often is failed with the reason, not lost.
        small = self.write_csv("s.csv", np.ones((3, 4)))
        jid2 = self.wait(self.submit(small)["id"])["id"]
        srv2.stop()
        self.servers.remove(srv2)
        with open(os.path.join(srv.data_dir, "server-id")) as f:
            me = f.read().strip()
        db = sqlite3.connect(os.path.join(srv.data_dir, "mops.db"))
        with db:
            db.execute("UPDATE jobs SET status = 'running', runner = ?, attempts = 3, "
                       "result_sha256 = NULL WHERE id = ?", (me, jid2))
        db.close()
        srv3 = self.start(self.server(data_dir=srv.data_dir))
        self.srv = srv3
        j = self.job(jid2)
        self.assertEqual(j["status"], "failed")
        self.assertIn("interrupted by a server restart too many times", j["error"])
        # a graceful stop does not count as an attempt
        jid3 = self.submit(self.big_csv, version=2)["id"]
        self.wait(jid3, until=("running",))
        srv3.stop()
        self.servers.remove(srv3)
        srv4 = self.start(self.server(data_dir=srv.data_dir))
        self.srv = srv4
        j = self.wait(jid3)
        self.assertEqual((j["status"], j["attempts"]), ("succeeded", 1))
