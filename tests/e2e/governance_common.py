"""Helpers shared by the governance end-to-end tests: a webhook receiver on
loopback (Python's http.server in a thread) that can fail its first
requests, models trained at test time, holdout CSVs, and polling."""
import hashlib
import hmac
import http.server
import json
import os
import threading
import time

import numpy as np

import mopstest
import runtime_common as rc


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST (headers, body)
    and answers `status` (500) to the first `fail_each` attempts of every
    delivery (by X-Mops-Delivery), 200 after."""

    def __init__(self, fail_each=0, status=500, hang=None):
        self.got = []
        self.hang = hang  # a threading.Event: answer only once it is set
        self.answered = []
        self.fail_each = fail_each
        self.status = status
        self.seen = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    d = self.headers.get("X-Mops-Delivery")
                    n = outer.seen.get(d, 0)
                    outer.seen[d] = n + 1
                    outer.got.append((dict(self.headers), body))
                    code = outer.status if n < outer.fail_each else 200
                    outer.answered.append(code)
                if outer.hang is not None:
                    outer.hang.wait(30)
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def events(self):
        """The bodies received with 200, parsed, in order."""
        with self.lock:
            return [json.loads(b) for (h, b), code in zip(self.got, self.answered) if code == 200]

    def verify(self, secret):
        """Every request carries a valid signature of its body."""
        with self.lock:
            for h, body in self.got:
                want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                if h.get("X-Mops-Signature-256") != want:
                    raise AssertionError("bad signature %r for %r" %
                                         (h.get("X-Mops-Signature-256"), body[:200]))
        return True


def wait_for(fn, what, timeout=20):
    """Poll fn until it returns something true; fail after timeout (x SLOW)."""
    deadline = time.time() + timeout * mopstest.SLOW
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def settled(srv, team, token=None):
    """Deliveries of the team once none is pending."""
    def done():
        items = srv.ok("GET", "/api/v1/teams/%s/deliveries?limit=1000" % team,
                       token=token)["items"]
        return items if items and not any(d["state"] == "pending" for d in items) else None
    return wait_for(done, "deliveries to settle")


def data(n=1400, seed=0):
    """One classification problem (6 features, 2 classes): train on a part,
    hold out the rest."""
    return rc.classification(n=n, features=6, seed=seed, nan_frac=0.02)


def train_binary(path, X, y, rounds=20):
    """An XGBoost binary:logistic model on features f0..f5."""
    import xgboost as xgb
    names = ["f%d" % i for i in range(6)]
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3},
                        xgb.DMatrix(X, label=y, feature_names=names), num_boost_round=rounds)
    booster.save_model(path)


def holdout(path, X, y, shuffle_labels=False, groups=None):
    """A holdout CSV for train_binary's model: features f0..f5, label y, and
    the given group columns (name -> function of (row index, X row))."""
    if shuffle_labels:
        y = np.random.default_rng(1).permutation(y)
    extra = {"y": [str(int(v)) for v in y]}
    for name, fn in (groups or {}).items():
        extra[name] = [fn(i, X[i]) for i in range(len(X))]
    rc.write_csv(path, X, ["f%d" % i for i in range(6)], extra=extra)
