"""Durability: kill -9 the server in the middle of a stream of
registrations. After a restart every acknowledged version is there with a
matching hash, nothing half-written is visible (every listed version's
artifact downloads and verifies, no temporary upload is left), version
numbers have no gaps, and the audit chain is intact."""
import hashlib
import os
import threading
import time

import mopstest


class Crash(mopstest.TestCase):
    def test_kill9_during_registrations(self):
        srv = self.server()
        srv.team("t")
        srv.ok("POST", "/api/v1/models", {"team": "t", "name": "m", "risk_tier": "low"})
        acked = {}          # version number -> sha256 of its bytes
        lock = threading.Lock()
        stop = threading.Event()

        def register(worker):
            i = 0
            while not stop.is_set():
                i += 1
                # Sizes from 1 KiB to ~600 KiB so kills land mid-upload too.
                data = os.urandom(1024 * (1 + (worker * 7919 + i * 104729) % 600))
                try:
                    v = srv.version("t", "m", data=data)
                except Exception:
                    return  # the server died under us: not acknowledged
                with lock:
                    acked[v["version"]] = hashlib.sha256(data).hexdigest()

        threads = [threading.Thread(target=register, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()
        deadline = time.time() + 30 * mopstest.SLOW
        while len(acked) < 25 and time.time() < deadline:
            time.sleep(0.05)
        srv.kill9()
        stop.set()
        for t in threads:
            t.join()
        self.assertGreaterEqual(len(acked), 25, "too few registrations before the kill")

        # Restart on the same data directory.
        self.servers.remove(srv)
        again = self.server(data_dir=srv.data_dir)
        self.assertEqual(os.listdir(os.path.join(srv.data_dir, "artifacts", "tmp")), [])

        listed = {}
        token = None
        while True:
            q = "?limit=100&archived=any" + ("&page_token=" + token if token else "")
            out = again.ok("GET", "/api/v1/models/t/m/versions" + q)
            for v in out["items"]:
                listed[v["version"]] = v["artifact"]["sha256"]
            token = out["next_page_token"]
            if not token:
                break
        # Every acknowledged version survived, with its hash.
        for number, sha in acked.items():
            self.assertIn(number, listed, "acknowledged version %d lost" % number)
            self.assertEqual(listed[number], sha)
        # Numbers are contiguous: nothing half-registered left a hole.
        self.assertEqual(sorted(listed), list(range(1, len(listed) + 1)))
        # Every visible version's bytes are whole (the server verifies the
        # hash before sending; compare too).
        for number, sha in listed.items():
            st, body, hdrs = again.http("GET", "/api/v1/models/t/m/versions/%d/artifact" % number,
                                        token=again.admin)
            self.assertEqual(st, 200, body)
            self.assertEqual(hashlib.sha256(body).hexdigest(), sha)
        verdict = again.ok("GET", "/api/v1/audit/verify")
        self.assertTrue(verdict["ok"], verdict)
        # Registrations go on where they stopped.
        self.assertEqual(again.version("t", "m", data=b"after")["version"], len(listed) + 1)
