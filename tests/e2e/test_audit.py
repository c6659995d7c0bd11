"""The audit trail end to end: every change and every refusal is recorded
with who, when, action, target and request id; `mops audit verify` walks
the chain and names the first entry that was altered in the database file,
both offline (--data) and through the server."""
import json
import os
import sqlite3

import mopstest


class Audit(mopstest.TestCase):
    def _populate(self, srv):
        srv.team("t")
        alice = srv.user("alice", "t", ["data-scientist"])
        srv.ok("POST", "/api/v1/models", {"team": "t", "name": "m", "risk_tier": "low"},
               token=alice)
        srv.version("t", "m", token=alice)
        # A refusal is recorded too.
        st, _, _ = srv.http("POST", "/api/v1/teams", {"name": "x"}, token=alice)
        self.assertEqual(st, 403)
        return alice

    def test_entries_and_request_ids(self):
        srv = self.server()
        self._populate(srv)
        st, _, hdrs = srv.http("GET", "/api/v1/models/t/m", token=srv.admin)
        items = srv.ok("GET", "/api/v1/audit?limit=1000")["items"]
        by_action = {}
        for e in items:
            by_action.setdefault(e["action"], []).append(e)
            for key in ("seq", "time", "actor", "action", "target", "request_id", "outcome",
                        "hash", "prev_hash"):
                self.assertIn(key, e)
        created = by_action["model.create"][0]
        self.assertEqual((created["actor"], created["target"], created["team"]),
                         ("alice", "t/m", "t"))
        self.assertEqual(by_action["version.create"][0]["target"], "t/m@1")
        denied = by_action["team.create"]
        self.assertTrue(any(e["outcome"] == "denied" and e["actor"] == "alice" and
                            e["detail"]["status"] == 403 for e in denied))
        # Sequence numbers count down without gaps, each linked to the next.
        seqs = [e["seq"] for e in items]
        self.assertEqual(seqs, list(range(len(items), 0, -1)))
        for newer, older in zip(items, items[1:]):
            self.assertEqual(newer["prev_hash"], older["hash"])
        # The request id in the entry is the one the client saw.
        st, out, hdrs = srv.http("PATCH", "/api/v1/models/t/m", {"description": "d"},
                                 token=srv.admin)
        self.assertEqual(st, 200)
        top = srv.ok("GET", "/api/v1/audit?limit=1&action=model.update")["items"][0]
        self.assertEqual(top["request_id"], hdrs["X-Request-Id"])

    def test_refusals_are_audited_with_their_team(self):
        srv = self.server()
        self._populate(srv)  # team t, alice a data scientist in it, model t/m
        srv.team("other")
        risk = srv.user("rita", "t", ["risk-officer"])
        viewer = srv.user("vera", "t", ["viewer"])
        prober = srv.user("peter", "other", ["admin"])
        # A member without the role: 403, an entry of team t.
        st, out, h1 = srv.http("PATCH", "/api/v1/models/t/m", {"description": "x"}, token=viewer)
        self.assertEqual(st, 403)
        # An outsider probing team t's model: 404 like a missing one, but
        # audited as the refusal it is, under team t.
        st, out, h2 = srv.http("GET", "/api/v1/models/t/m", token=prober)
        self.assertEqual(st, 404)
        st, out, h3 = srv.http("GET", "/api/v1/models/nosuchteam/m", token=prober)
        self.assertEqual(st, 404)
        # t's risk officer sees both refusals in t's trail.
        seen = {e["request_id"]: e for e in srv.ok("GET", "/api/v1/audit?team=t&limit=1000",
                                                   token=risk)["items"]}
        e1, e2 = seen[h1["X-Request-Id"]], seen[h2["X-Request-Id"]]
        self.assertEqual((e1["outcome"], e1["actor"], e1["team"], e1["detail"]["status"]),
                         ("denied", "vera", "t", 403))
        self.assertEqual((e2["outcome"], e2["actor"], e2["team"], e2["detail"]["status"]),
                         ("denied", "peter", "t", 404))
        # A 404 for something that does not exist is not a refusal.
        everything = srv.ok("GET", "/api/v1/audit?limit=1000")["items"]
        self.assertNotIn(h3["X-Request-Id"], [e["request_id"] for e in everything])

    def test_tampered_row_is_named(self):
        srv = self.server()
        self._populate(srv)
        self.assertIn("intact", srv.cli("audit", "verify", token=srv.admin).stdout)
        srv.stop()
        self.servers.remove(srv)
        db = os.path.join(srv.data_dir, "mops.db")
        offline = srv.cli("audit", "verify", "--data", srv.data_dir)
        self.assertIn("intact", offline.stdout)

        # Someone with access to the file rewrites who created the model.
        con = sqlite3.connect(db)
        seq = con.execute("SELECT seq FROM audit_log WHERE action = 'model.create'").fetchone()[0]
        con.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (seq,))
        con.commit()
        con.close()

        p = srv.cli("audit", "verify", "--data", srv.data_dir, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("BROKEN at entry %d" % seq, p.stdout)
        self.assertIn("entry %d was altered" % seq, p.stdout)
        out = json.loads(srv.cli("audit", "verify", "--data", srv.data_dir, "--json",
                                 check=False).stdout)
        self.assertEqual((out["ok"], out["first_bad_seq"]), (False, seq))

        # The running server reports the same.
        again = self.server(data_dir=srv.data_dir)
        verdict = again.ok("GET", "/api/v1/audit/verify")
        self.assertEqual((verdict["ok"], verdict["first_bad_seq"]), (False, seq))
        p = again.cli("audit", "verify", token=again.admin, check=False)
        self.assertEqual(p.returncode, 1)

    def test_deleted_row_is_named(self):
        srv = self.server()
        self._populate(srv)
        srv.stop()
        self.servers.remove(srv)
        con = sqlite3.connect(os.path.join(srv.data_dir, "mops.db"))
        con.execute("DELETE FROM audit_log WHERE seq = 3")
        con.commit()
        con.close()
        p = srv.cli("audit", "verify", "--data", srv.data_dir, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("entry 3 is missing", p.stdout)
