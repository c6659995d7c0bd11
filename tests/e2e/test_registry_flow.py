"""The registry end to end: teams, users, tokens, models, versions,
content-addressed artifacts, aliases, lists with filters and pages,
archiving, download with hash check, through the CLI and raw HTTP."""
import hashlib
import json
import os

import mopstest


class RegistryFlow(mopstest.TestCase):
    def test_cli_flow(self):
        srv = self.server()
        cfg = srv.data_dir + "-cfg"
        # login writes a private credentials file the other commands read
        p = srv.cli("login", "--token-file", os.path.join(srv.data_dir, "admin-token"))
        self.assertIn("logged in", p.stdout)
        cred = os.path.join(cfg, "mops", "credentials")
        self.assertEqual(os.stat(cred).st_mode & 0o777, 0o600)
        self.assertEqual(json.loads(srv.cli("whoami", "--json").stdout)["name"], "admin")

        srv.cli("team", "create", "fraud", "--description", "Fraud detection")
        srv.cli("user", "create", "alice", "--email", "alice@example.com")
        srv.cli("team", "add-member", "fraud", "alice", "--role", "data-scientist")
        alice = srv.cli("token", "create", "--name", "laptop", "--user", "alice").stdout.strip()
        self.assertRegex(alice, r"^mops_[0-9a-f]{64}$")

        # alice registers and uploads, as herself
        srv.cli("model", "create", "fraud/churn", "--risk-tier", "high", "--purpose",
                "keep customers", "-t", "tabular", token=alice)
        # The demo's real XGBoost model: registering it loads it.
        art = os.path.join(os.path.dirname(__file__), "..", "..", "demo", "churn-xgboost.json")
        digest = hashlib.sha256(mopstest.read(art)).hexdigest()
        out = json.loads(srv.cli("version", "upload", "fraud/churn", art, "--format",
                                 "xgboost-json", "--framework", "xgboost", "--framework-version",
                                 "1.7.4", "-m", "auc=0.91", "-p", "max_depth=6", "-p",
                                 "objective=binary:logistic", "-e", "python=3.11",
                                 "--source-uri", "git@example.com:fraud/churn.git",
                                 "--source-commit", "abc123", "-D", "dataset:churn@3",
                                 "-t", "candidate", "--json", token=alice).stdout)
        self.assertEqual(out["version"], 1)
        self.assertEqual(out["artifact"]["sha256"], digest)
        self.assertEqual(out["artifact"]["size"], os.path.getsize(art))
        sig = out["signature"]
        self.assertEqual((sig["objective"], sig["kind"], sig["n_features"], sig["n_classes"],
                          sig["trees"]), ("binary:logistic", "classifier", 6, 2, 40))
        self.assertEqual(sig["feature_names"][:2], ["tenure_months", "monthly_charges"])
        self.assertEqual(sig["outputs"], {"value": 1, "margin": 1})
        self.assertEqual(out["params"], {"max_depth": 6, "objective": "binary:logistic"})
        self.assertEqual(out["metrics"], {"auc": 0.91})
        self.assertEqual(out["environment"], {"python": "3.11"})
        self.assertEqual(out["source"], {"uri": "git@example.com:fraud/churn.git",
                                         "commit": "abc123"})
        self.assertEqual(out["dataset"], "dataset:churn@3")
        self.assertEqual(out["stage"], "draft")
        self.assertEqual(out["created_by"], "alice")
        self.assertEqual(out["tags"], ["candidate"])

        # identical bytes are stored once; the second version shares them
        out2 = json.loads(srv.cli("version", "upload", "fraud/churn", art, "--format",
                                  "xgboost-json", "--json", token=alice).stdout)
        self.assertEqual(out2["version"], 2)
        blob = os.path.join(srv.data_dir, "artifacts", "sha256", digest[:2], digest[2:])
        self.assertTrue(os.path.isfile(blob))
        self.assertEqual(len(os.listdir(os.path.join(srv.data_dir, "artifacts", "sha256"))), 1)

        # aliases move atomically; a version can be addressed by alias or "latest"
        srv.cli("version", "alias", "fraud/churn", "champion", "1", token=alice)
        show = json.loads(srv.cli("version", "show", "fraud/churn", "champion", "--json").stdout)
        self.assertEqual(show["version"], 1)
        srv.cli("version", "alias", "fraud/churn", "champion", "2", token=alice)
        self.assertEqual(json.loads(srv.cli("version", "show", "fraud/churn", "champion",
                                            "--json").stdout)["version"], 2)
        self.assertEqual(json.loads(srv.cli("version", "show", "fraud/churn", "latest",
                                            "--json").stdout)["version"], 2)

        # download verifies the hash and writes the same bytes
        dl = os.path.join(self.tmp, "dl.bin")
        p = srv.cli("version", "download", "fraud/churn", "champion", "-o", dl, token=alice)
        self.assertIn("verified", p.stdout)
        self.assertEqual(mopstest.read(dl), mopstest.read(art))

        # tables for people, JSON for programs
        table = srv.cli("model", "list").stdout
        self.assertIn("fraud/churn", table)
        self.assertIn("alice", table)
        models = srv.cli_json("model", "list")["items"]
        self.assertEqual([m["name"] for m in models], ["churn"])
        self.assertEqual(models[0]["aliases"], {"champion": 2})
        versions = srv.cli_json("version", "list", "fraud/churn")["items"]
        self.assertEqual([v["version"] for v in versions], [2, 1])

        # update, archive; nothing is deleted
        srv.cli("model", "update", "fraud/churn", "-d", "Churn in 90 days", token=alice)
        srv.cli("version", "archive", "fraud/churn", "1", token=alice)
        self.assertEqual([v["version"] for v in srv.cli_json("version", "list",
                                                             "fraud/churn")["items"]], [2])
        archived = srv.cli_json("version", "list", "fraud/churn", "--archived")["items"]
        self.assertEqual([v["version"] for v in archived], [1])
        p = srv.cli("version", "archive", "fraud/churn", "2", token=alice, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('alias "champion"', p.stderr)
        srv.cli("model", "archive", "fraud/churn", token=alice)
        self.assertEqual(srv.cli_json("model", "list")["items"], [])
        self.assertEqual(len(srv.cli_json("model", "list", "--archived")["items"]), 1)
        p = srv.cli("version", "upload", "fraud/churn", art, "--format", "onnx", token=alice,
                    check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("archived", p.stderr)

        # every change is in an intact audit chain
        actions = [e["action"] for e in srv.cli_json("audit", "list")["items"]]
        for a in ("team.create", "user.create", "team.member.set", "token.create",
                  "model.create", "artifact.upload", "version.create", "alias.set",
                  "version.download", "model.update", "version.archive", "model.archive"):
            self.assertIn(a, actions)
        p = srv.cli("audit", "verify")
        self.assertIn("intact", p.stdout)

    def test_http_lists_filters_and_pages(self):
        srv = self.server()
        srv.team("a")
        srv.team("b")
        srv.ok("POST", "/api/v1/users", {"name": "owner2"})
        srv.ok("PUT", "/api/v1/teams/b/members/owner2", {"roles": ["viewer"]})
        for i in range(7):
            team = "a" if i % 2 == 0 else "b"
            srv.ok("POST", "/api/v1/models", {
                "team": team, "name": "m%d" % i, "risk_tier": "low",
                "tags": ["even"] if i % 2 == 0 else ["odd", "x"],
                "owner": "admin" if team == "a" else "owner2"})
        # version stages filter: give m0 a version
        srv.version("a", "m0")

        def names(q):
            return [m["name"] for m in srv.ok("GET", "/api/v1/models" + q)["items"]]

        self.assertEqual(names("?team=a"), ["m0", "m2", "m4", "m6"])
        self.assertEqual(names("?tag=odd"), ["m1", "m3", "m5"])
        self.assertEqual(names("?owner=owner2"), ["m1", "m3", "m5"])
        self.assertEqual(names("?prefix=m1"), ["m1"])
        self.assertEqual(names("?stage=draft"), ["m0"])
        self.assertEqual(names("?team=a&tag=odd"), [])
        # pages of 3 cover everything once, in order
        seen, token = [], None
        while True:
            q = "?limit=3" + ("&page_token=" + token if token else "")
            out = srv.ok("GET", "/api/v1/models" + q)
            seen += [m["name"] for m in out["items"]]
            self.assertLessEqual(len(out["items"]), 3)
            token = out["next_page_token"]
            if not token:
                break
        self.assertEqual(seen, ["m%d" % i for i in range(7)])
        # the model representation
        m = srv.ok("GET", "/api/v1/models/a/m0")
        for key in ("team", "name", "description", "owner", "purpose", "risk_tier", "tags",
                    "created_by", "created_at", "updated_at", "archived", "versions",
                    "latest_version", "aliases"):
            self.assertIn(key, m)
        self.assertEqual(m["versions"], 1)
        # version numbers are assigned in order, per model
        for n in range(2, 5):
            self.assertEqual(srv.version("a", "m0", data=b"v%d" % n)["version"], n)
        self.assertEqual(srv.version("a", "m2")["version"], 1)

    def test_request_id_and_access_log(self):
        srv = self.server()
        st, body, hdrs = srv.http("GET", "/healthz")
        self.assertEqual((st, body), (200, {"status": "ok"}))
        self.assertRegex(hdrs["X-Request-Id"], r"^[0-9a-f]{24}$")
        st, body, hdrs = srv.http("GET", "/api/v1/whoami", token=srv.admin,
                                  headers={"X-Request-Id": "client-chosen-42"})
        self.assertEqual(hdrs["X-Request-Id"], "client-chosen-42")
        st, body, hdrs = srv.http("GET", "/api/v1/nope", token=srv.admin)
        self.assertEqual(st, 404)
        self.assertIn("X-Request-Id", hdrs)
        srv.stop()
        self.servers.remove(srv)
        lines = [json.loads(l) for l in mopstest.read(os.path.join(srv.data_dir, "access.log"), "r").splitlines()]
        who = [l for l in lines if l["request_id"] == "client-chosen-42"]
        self.assertEqual(len(who), 1)
        for key in ("method", "path", "status", "bytes", "us", "user", "ts"):
            self.assertIn(key, who[0])
        self.assertEqual((who[0]["method"], who[0]["path"], who[0]["status"], who[0]["user"]),
                         ("GET", "/api/v1/whoami", 200, "admin"))
        self.assertGreater(who[0]["bytes"], 0)
        self.assertEqual(len(lines), 3)
