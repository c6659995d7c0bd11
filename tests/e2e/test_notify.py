"""Webhooks against real HTTP receivers on loopback: bodies are signed with
the webhook's secret (HMAC-SHA256), filtered by event, retried after a
failure and logged attempt by attempt, given up after max_attempts; the
secret is never shown again; a receiver that hangs delays no other; a
server stops promptly while a receiver hangs, and sends the interrupted
delivery after it restarts."""
import hashlib
import hmac
import json
import signal
import threading
import time

import governance_common as gc
import mopstest

H = "/api/v1/teams/t/webhooks"


class Notify(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.server()
        self.srv.team("t")

    def receiver(self, **kw):
        r = gc.Receiver(**kw)
        self.addCleanup(r.close)
        return r

    def test_signed_filtered_retried_and_logged(self):
        srv = self.srv
        rcv = self.receiver(fail_each=1)
        srv.cli("webhook", "create", "t", "ops", "--url", rcv.url, "--event", "ping", "--event",
                "review.", "--secret-file", "-", "--backoff-ms", "100", token=srv.admin,
                stdin="sesame\n")
        shown = srv.cli_json("webhook", "show", "t", "ops")
        self.assertEqual((shown["has_secret"], shown["events"]), (True, ["ping", "review."]))
        self.assertNotIn("sesame", json.dumps(shown))
        self.assertNotIn("sesame", json.dumps(srv.ok("GET", "/api/v1/audit?limit=1000")))
        out = srv.cli("webhook", "ping", "t", "ops", token=srv.admin).stdout
        self.assertIn("queued delivery", out)
        # An event the filter does not take is never queued.
        srv.ok("POST", "/api/v1/models", {"team": "t", "name": "m", "risk_tier": "low"})
        srv.version("t", "m")
        srv.ok("POST", "/api/v1/models/t/m/versions/1/transitions", {"to": "in_review",
                                                                     "reason": "r"})
        items = gc.settled(srv, "t")
        self.assertEqual(sorted(d["event"] for d in items), ["ping", "review.requested"])
        for d in items:
            self.assertEqual(d["state"], "delivered")
            self.assertEqual([a["status"] for a in d["attempt_log"]], [500, 200])
        # What arrived: the same body each attempt, signed, with its headers.
        hdrs, body = rcv.got[0]
        doc = json.loads(body)
        self.assertEqual(doc["team"], "t")
        want = "sha256=" + hmac.new(b"sesame", body, hashlib.sha256).hexdigest()
        self.assertEqual(hdrs["X-Mops-Signature-256"], want)
        rcv.verify("sesame")
        by_delivery = {}
        for h, b in rcv.got:
            by_delivery.setdefault(h["X-Mops-Delivery"], []).append((h["X-Mops-Attempt"], b))
        for attempts in by_delivery.values():
            self.assertEqual([a for a, _ in attempts], ["1", "2"])
            self.assertEqual(attempts[0][1], attempts[1][1])
        ping = [json.loads(b) for _, b in rcv.got if json.loads(b)["event"] == "ping"][0]
        self.assertEqual(ping["data"]["webhook"], "ops")
        # The log through the CLI; a new secret, then none.
        log = srv.cli("webhook", "deliveries", "t", "--state", "delivered",
                      token=srv.admin).stdout
        self.assertIn("review.requested", log)
        srv.cli("webhook", "update", "t", "ops", "--no-secret", token=srv.admin)
        self.assertFalse(srv.cli_json("webhook", "show", "t", "ops")["has_secret"])
        # Who may: ml-engineers read, only admins manage.
        mle = srv.user("eve", "t", ["ml-engineer"])
        srv.cli("webhook", "list", "t", token=mle)
        p = srv.cli("webhook", "ping", "t", "ops", token=mle, check=False)
        self.assertIn("(webhook.manage)", p.stderr)

    def test_gives_up_after_max_attempts(self):
        srv = self.srv
        rcv = self.receiver(fail_each=100, status=503)
        srv.ok("POST", H, {"name": "flaky", "url": rcv.url, "max_attempts": 2, "backoff_ms": 100})
        srv.ok("POST", H + "/flaky/ping")
        d = gc.settled(srv, "t")[0]
        self.assertEqual(d["state"], "failed")
        self.assertEqual([a["status"] for a in d["attempt_log"]], [503, 503])
        self.assertEqual(d["last_error"], "gave up after 2 attempts: the receiver answered "
                                          "HTTP 503")
        self.assertEqual(len(rcv.got), 2, (rcv.got, d, rcv.answered))
        self.assertEqual(srv.ok("GET", H + "/flaky")["failed"], 1)
        failed = srv.ok("GET", "/api/v1/teams/t/deliveries?state=failed")["items"]
        self.assertEqual([x["id"] for x in failed], [d["id"]])
        # Deleting the webhook: its name is free again; the log stays.
        srv.cli("webhook", "delete", "t", "flaky", token=srv.admin)
        self.assertEqual(srv.ok("GET", H)["items"], [])
        self.assertEqual(len(srv.ok("GET", "/api/v1/teams/t/deliveries")["items"]), 1)
        srv.ok("POST", H, {"name": "flaky", "url": rcv.url})

    def test_a_hanging_receiver_delays_no_other(self):
        # Deliveries go out together: the second webhook's is delivered
        # while the first's receiver still hangs (one at a time, it would
        # wait out the hanging attempt's 10 s first).
        srv = self.srv
        release = threading.Event()
        self.addCleanup(release.set)
        slow, fast = self.receiver(hang=release), self.receiver()
        srv.ok("POST", H, {"name": "slow", "url": slow.url})
        srv.ok("POST", H, {"name": "fast", "url": fast.url})
        srv.ok("POST", H + "/slow/ping")
        srv.ok("POST", H + "/fast/ping")
        gc.wait_for(lambda: fast.got and slow.got, "both receivers to get their delivery")
        deadline = time.time() + 30
        while True:
            by_hook = {d["webhook"]: d for d in
                       srv.ok("GET", "/api/v1/teams/t/deliveries")["items"]}
            if by_hook["fast"]["state"] == "delivered" or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(by_hook["fast"]["state"], "delivered", by_hook)
        self.assertEqual((by_hook["slow"]["state"], by_hook["slow"]["attempts"]),
                         ("pending", 0), by_hook)
        release.set()
        self.assertEqual([d["state"] for d in gc.settled(srv, "t")], ["delivered"] * 2)

    def test_stop_is_prompt_while_a_receiver_hangs(self):
        srv = self.srv
        release = threading.Event()
        rcv = self.receiver(hang=release)
        srv.ok("POST", H, {"name": "slow", "url": rcv.url})
        srv.ok("POST", H + "/slow/ping")
        gc.wait_for(lambda: rcv.got, "the receiver to get the delivery")
        t0 = time.time()
        srv.stop(signal.SIGTERM)
        self.assertLess(time.time() - t0, 5 * mopstest.SLOW)
        release.set()
        # Not the receiver's failure: after a restart it is sent at once,
        # as the first logged attempt.
        self.servers.remove(srv)
        srv2 = self.server(data_dir=srv.data_dir)
        d = gc.settled(srv2, "t")[0]
        self.assertEqual(d["state"], "delivered")
        self.assertEqual([a["status"] for a in d["attempt_log"]], [200])
        self.assertEqual(len(rcv.got), 2, (rcv.got, d, rcv.answered))
        self.assertEqual(rcv.got[0][1], rcv.got[1][1])
