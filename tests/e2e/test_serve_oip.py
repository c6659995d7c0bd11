"""The Open Inference Protocol v2 REST API, end to end over loopback: health,
server and model metadata, readiness, inference on deployments and on
models addressed directly, every tensor datatype, flat and nested data,
one [rows, features] tensor or one tensor per feature, the record form
(/api/v1/deployments/{name}/predict) — with outputs compared to the
libraries that trained the models (XGBoost Booster.predict, scikit-learn
predict / predict_proba) within 1e-6 relative — and every kind of bad input
answered 400/404 with the protocol's {"error": "..."} body naming the
problem."""
import json
import os

import numpy as np

import mopstest
import runtime_common as rc
import mops_sklearn  # noqa: E402  (on the path runtime_common sets)

NAMES = ["age", "tenure", "charges", "calls", "score"]


def oip(X, datatype="FP32", name="input-0", nested=False):
    X = np.asarray(X, dtype=np.float64)
    data = [[None if v != v else float(v) for v in row] for row in X]
    if not nested:
        data = [v for row in data for v in row]
    return {"inputs": [{"name": name, "shape": list(X.shape), "datatype": datatype,
                        "data": data}]}


def outputs(body):
    return {o["name"]: o for o in body["outputs"]}


class OIP(mopstest.TestCase):
    @classmethod
    def setUpClass(cls):
        import xgboost as xgb
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="mops-oip-")
        X, y = rc.classification(n=400, features=5, seed=3, nan_frac=0.1)
        cls.X = X
        cls.binary = xgb.train({"objective": "binary:logistic", "max_depth": 4, "seed": 1},
                               xgb.DMatrix(X, label=y, feature_names=NAMES), 20)
        cls.binary.save_model(os.path.join(cls.dir, "binary.json"))
        X3, y3 = rc.classification(n=400, features=5, classes=3, seed=4)
        cls.multi = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3},
                              xgb.DMatrix(X3, label=y3, feature_names=NAMES), 10)
        cls.multi.save_model(os.path.join(cls.dir, "multi.json"))
        Xr, yr = rc.regression(n=300, features=5, seed=5)
        cls.reg = xgb.train({"objective": "reg:squarederror", "max_depth": 4},
                            xgb.DMatrix(Xr, label=yr, feature_names=NAMES), 15)
        cls.reg.save_model(os.path.join(cls.dir, "reg.json"))
        Xs, ys = rc.classification(n=300, features=5, seed=6, nan_frac=0)
        labels = np.where(ys == 1, "yes", "no")
        cls.forest = RandomForestClassifier(n_estimators=7, max_depth=5, random_state=0).fit(
            Xs.astype(np.float64), labels)
        mops_sklearn.export(cls.forest, os.path.join(cls.dir, "forest.json"), feature_names=NAMES)
        cls.logit = LogisticRegression(max_iter=500).fit(Xs.astype(np.float64), ys)
        mops_sklearn.export(cls.logit, os.path.join(cls.dir, "logit.json"), feature_names=NAMES)

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.srv = self.server(["--max-rows", "50"])
        self.srv.team("fraud")
        for model, files in (("churn", ["binary.json", "binary.json"]), ("tri", ["multi.json"]),
                             ("spend", ["reg.json"]), ("forest", ["forest.json"]),
                             ("logit", ["logit.json"])):
            self.srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": model,
                                                   "risk_tier": "low"})
            for f in files:
                fmt = "sklearn-json" if f in ("forest.json", "logit.json") else "xgboost-json"
                self.srv.version("fraud", model, data=mopstest.read(os.path.join(self.dir, f)),
                                 format=fmt, stage="production")
        for name, model in (("churn-api", "churn"), ("tri-api", "tri"), ("spend-api", "spend"),
                            ("forest-api", "forest"), ("logit-api", "logit")):
            self.srv.ok("POST", "/api/v1/deployments", {"name": name, "team": "fraud",
                                                        "primary": {"model": model,
                                                                    "version": 1}})

    def infer(self, name, body, status=200, version=None):
        path = "/v2/models/%s%s/infer" % (name, "/versions/%s" % version if version else "")
        st, out, hdrs = self.srv.http("POST", path, body, token=self.srv.admin)
        self.assertEqual(st, status, out)
        return out, hdrs

    def bad(self, name, body, status, *says, version=None, raw=None):
        path = "/v2/models/%s%s/infer" % (name, "/versions/%s" % version if version else "")
        if raw is not None:
            got = self.srv.http("POST", path, raw=raw, content_type="application/json",
                                token=self.srv.admin)
        else:
            got = self.srv.http("POST", path, body, token=self.srv.admin)
        st, out, _ = got
        self.assertEqual(st, status, out)
        self.assertEqual(list(out), ["error"], out)  # exactly the protocol's error body
        self.assertIsInstance(out["error"], str)
        for s in says:
            self.assertIn(s, out["error"])
        return out["error"]

    # ------------------------------------------------------------ health

    def test_health_and_metadata(self):
        srv = self.srv
        self.assertEqual(srv.http("GET", "/v2/health/live")[:2], (200, {"live": True}))
        st, body, _ = srv.http("GET", "/v2/health/ready")
        self.assertEqual((st, body), (200, {"ready": True}))
        meta = srv.ok("GET", "/v2")
        self.assertEqual((meta["name"], meta["extensions"]), ("mops", []))
        self.assertRegex(meta["version"], r"^\d+\.\d+\.\d+$")
        m = srv.ok("GET", "/v2/models/churn-api")
        self.assertEqual((m["name"], m["platform"], m["versions"]), ("churn-api", "xgboost_json",
                                                                    ["1"]))
        self.assertEqual([i["name"] for i in m["inputs"]], NAMES)
        self.assertEqual({i["datatype"] for i in m["inputs"]}, {"FP32"})
        self.assertEqual([i["shape"] for i in m["inputs"]], [[-1]] * 5)
        self.assertEqual({o["name"]: (o["datatype"], o["shape"]) for o in m["outputs"]},
                         {"predict": ("INT64", [-1]), "predict_proba": ("FP32", [-1, 1]),
                          "margin": ("FP32", [-1, 1])})
        f = srv.ok("GET", "/v2/models/forest")  # a model by name: its latest version
        self.assertEqual((f["platform"], f["outputs"][0]["datatype"]), ("sklearn_json", "BYTES"))
        self.assertEqual(f["parameters"]["role"], "direct")
        self.assertEqual(srv.ok("GET", "/v2/models/churn/versions/2")["versions"], ["2"])
        for path in ("/v2/models/churn-api/ready", "/v2/models/churn/versions/1/ready",
                     "/v2/models/fraud:churn/ready"):
            st, body, _ = srv.http("GET", path, token=srv.admin)
            self.assertEqual((st, body["ready"]), (200, True), path)
        # a version of a format mops does not run exists but is not ready
        srv.ok("POST", "/api/v1/models", {"team": "fraud", "name": "opaque", "risk_tier": "low"})
        srv.version("fraud", "opaque", data=b"onnx bytes", format="onnx")
        st, body, _ = srv.http("GET", "/v2/models/opaque/ready", token=srv.admin)
        self.assertEqual((st, body["ready"]), (400, False))
        self.assertIn("onnx", body["error"])
        for path in ("/v2/models/nope", "/v2/models/nope/ready", "/v2/models/churn/versions/9",
                     "/v2/models/churn-api/versions/7/ready"):
            st, body, _ = srv.http("GET", path, token=srv.admin)
            self.assertEqual(st, 404, (path, body))
            self.assertEqual(list(body), ["error"])

    # --------------------------------------------------------- inference

    def test_xgboost_outputs_match_the_library(self):
        import xgboost as xgb
        X = self.X[:20]
        ref = self.binary.predict(xgb.DMatrix(X, feature_names=NAMES))
        margin = self.binary.predict(xgb.DMatrix(X, feature_names=NAMES), output_margin=True)
        for nested in (False, True):
            body = oip(X, nested=nested)
            body["id"] = "req-%d" % nested
            body["outputs"] = [{"name": "predict_proba"}, {"name": "predict"},
                               {"name": "margin"}]
            out, hdrs = self.infer("churn-api", body)
            self.assertEqual((out["id"], out["model_name"], out["model_version"]),
                             ("req-%d" % nested, "churn-api", "1"))
            self.assertEqual(out["parameters"], {"model": "fraud/churn", "version": 1,
                                                 "deployment": "churn-api", "revision": 1,
                                                 "role": "primary"})
            o = outputs(out)
            self.assertEqual((o["predict_proba"]["datatype"], o["predict_proba"]["shape"]),
                             ("FP32", [20, 1]))
            rc.assert_close(self, np.array(o["predict_proba"]["data"]), ref, True, "proba")
            rc.assert_close(self, np.array(o["margin"]["data"]), margin, True, "margin")
            self.assertEqual(o["predict"]["data"], [int(p > 0.5) for p in ref])
        # no id: the request id, which the X-Request-Id header also carries
        out, hdrs = self.infer("churn-api", oip(X[:1]))
        self.assertEqual(out["id"], hdrs["X-Request-Id"])
        self.assertEqual(sorted(outputs(out)), ["predict", "predict_proba"])
        # FP64 data is rounded to float32 as XGBoost does
        out, _ = self.infer("churn-api", oip(X[:5], "FP64"))
        rc.assert_close(self, outputs(out)["predict_proba"]["data"], ref[:5], True, "fp64")

    def test_multiclass_regression_and_sklearn(self):
        import xgboost as xgb
        X = self.X[:10]
        out, _ = self.infer("tri-api", oip(X))
        o = outputs(out)
        ref = self.multi.predict(xgb.DMatrix(X, feature_names=NAMES))
        self.assertEqual(o["predict_proba"]["shape"], [10, 3])
        rc.assert_close(self, np.array(o["predict_proba"]["data"]).reshape(10, 3), ref, True,
                        "softprob")
        self.assertEqual(o["predict"]["data"], [int(v) for v in ref.argmax(axis=1)])
        out, _ = self.infer("spend-api", oip(X))
        o = outputs(out)
        self.assertEqual(sorted(o), ["predict"])
        self.assertEqual(o["predict"]["shape"], [10])
        rc.assert_close(self, o["predict"]["data"],
                        self.reg.predict(xgb.DMatrix(X, feature_names=NAMES)), True, "reg")
        Xs = np.nan_to_num(X).astype(np.float64)
        out, _ = self.infer("forest-api", oip(Xs, "FP64"))
        o = outputs(out)
        self.assertEqual(o["predict"]["datatype"], "BYTES")
        self.assertEqual(o["predict"]["data"], list(self.forest.predict(Xs)))
        rc.assert_close(self, np.array(o["predict_proba"]["data"]).reshape(10, 2),
                        self.forest.predict_proba(Xs), False, "forest")
        out, _ = self.infer("logit-api", oip(Xs, "FP64"))
        rc.assert_close(self, np.array(outputs(out)["predict_proba"]["data"]).reshape(10, 2),
                        self.logit.predict_proba(Xs), False, "logit")

    def test_one_tensor_per_feature_and_datatypes(self):
        import xgboost as xgb
        X = self.X[:6].copy()
        # Three features sent, two absent: absent ones are missing values.
        body = {"inputs": [{"name": n, "shape": [6], "datatype": "FP32",
                            "data": [None if v != v else float(v) for v in X[:, i]]}
                           for i, n in enumerate(NAMES) if n in ("age", "charges", "score")]}
        body["inputs"][1]["shape"] = [6, 1]  # [rows, 1] is a feature too
        out, _ = self.infer("churn-api", body)
        Xm = X.copy()
        Xm[:, [1, 3]] = np.nan
        rc.assert_close(self, outputs(out)["predict_proba"]["data"],
                        self.binary.predict(xgb.DMatrix(Xm, feature_names=NAMES)), True, "named")
        # integers and booleans of every width
        ints = np.array([[40, 2, 100, 1, 0], [25, 0, 50, 3, 1]], dtype=np.float64)
        want = self.binary.predict(xgb.DMatrix(ints, feature_names=NAMES))
        for dt in ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"):
            body = {"inputs": [{"name": "x", "shape": [2, 5], "datatype": dt,
                                "data": [int(v) for v in ints.ravel()]}]}
            out, _ = self.infer("churn-api", body)
            rc.assert_close(self, outputs(out)["predict_proba"]["data"], want, True, dt)
        bools = [[True, False, True, False, True]]
        out, _ = self.infer("churn-api", {"inputs": [{"name": "b", "shape": [1, 5],
                                                      "datatype": "BOOL", "data": bools}]})
        rc.assert_close(self, outputs(out)["predict_proba"]["data"],
                        self.binary.predict(xgb.DMatrix(np.array(bools, dtype=np.float64),
                                                        feature_names=NAMES)), True, "bool")
        # request, input and output parameters are taken (and ignored)
        body = oip(X[:1])
        body["parameters"] = {"content_type": "np", "n": 1, "flag": True}
        body["inputs"][0]["parameters"] = {"content_type": "np"}
        body["outputs"] = [{"name": "predict", "parameters": {"x": 1}}]
        out, _ = self.infer("churn-api", body)
        self.assertEqual(list(outputs(out)), ["predict"])

    def test_models_addressed_directly(self):
        import xgboost as xgb
        X = self.X[:3]
        ref = self.binary.predict(xgb.DMatrix(X, feature_names=NAMES))
        for name, version, answered in (("churn", "2", "2"), ("churn", None, "2"),
                                        ("fraud:churn", "1", "1"), ("churn", "latest", "2")):
            out, _ = self.infer(name, oip(X), version=version)
            self.assertEqual((out["model_name"], out["model_version"]), (name, answered))
            self.assertEqual(out["parameters"]["role"], "direct")
            rc.assert_close(self, outputs(out)["predict_proba"]["data"], ref, True, name)
        # a deployment's version picked in the path
        out, _ = self.infer("churn-api", oip(X), version="churn@1")
        self.assertEqual(out["model_version"], "1")
        self.bad("churn-api", oip(X), 404, "does not route to version \"2\"", version="2")
        # one name, two teams: ambiguous unless TEAM:MODEL (a name resolved
        # in the last 2 s keeps its answer: "tri" was not asked for yet)
        self.srv.team("other")
        self.srv.ok("POST", "/api/v1/models", {"team": "other", "name": "tri",
                                               "risk_tier": "low"})
        self.srv.version("other", "tri", format="xgboost-json",
                         data=mopstest.read(os.path.join(self.dir, "binary.json")))
        msg = self.bad("tri", oip(X), 400, "ambiguous", "fraud", "other", "TEAM:MODEL")
        self.assertIn("fraud:tri", msg)
        out, _ = self.infer("other:tri", oip(X))
        self.assertEqual(out["parameters"]["model"], "other/tri")
        # a deployment's name comes before a model's
        self.srv.ok("POST", "/api/v1/deployments", {"name": "churn", "team": "fraud",
                                                    "primary": {"model": "churn", "version": 1}})
        out, _ = self.infer("churn", oip(X))
        self.assertEqual(out["parameters"]["deployment"], "churn")

    def test_records(self):
        import xgboost as xgb
        X = self.X[:4]
        inst = [{n: (None if v != v else float(v)) for n, v in zip(NAMES, row)} for row in X]
        del inst[0]["tenure"]                   # absent: a missing value
        inst[1]["customer_id"] = "c-17"         # not a feature: left alone
        Xm = X.copy()
        Xm[0, 1] = np.nan
        st, out, _ = self.srv.http("POST", "/api/v1/deployments/churn-api/predict",
                                   {"instances": inst}, token=self.srv.admin)
        self.assertEqual(st, 200, out)
        self.assertEqual((out["deployment"], out["model"], out["version"], out["role"]),
                         ("churn-api", "fraud/churn", 1, "primary"))
        ref = self.binary.predict(xgb.DMatrix(Xm, feature_names=NAMES))
        rc.assert_close(self, [p["probability"] for p in out["predictions"]], ref, True, "rec")
        self.assertEqual([p["label"] for p in out["predictions"]], [int(v > 0.5) for v in ref])
        st, out, _ = self.srv.http("POST", "/api/v1/deployments/forest-api/predict",
                                   {"instances": [list(map(float, np.nan_to_num(X[0])))]},
                                   token=self.srv.admin)
        self.assertEqual(st, 200, out)
        p = out["predictions"][0]
        self.assertIn(p["label"], ("yes", "no"))
        self.assertEqual(sorted(p["probabilities"]), ["no", "yes"])
        # record bad input, in the API's usual error shape
        for body, says in (({"instances": []}, "instances is empty"),
                           ({"instances": [{"age": "old"}]}, 'feature "age" must be a number'),
                           ({"instances": [[1, 2]]}, "has 2 values but the model takes 5"),
                           ({"instances": [7]}, "must be an object of features"),
                           ({"instances": [{}] * 51}, "--max-rows"),
                           ({"rows": []}, 'unknown field "rows"')):
            got = self.srv.http("POST", "/api/v1/deployments/churn-api/predict", body,
                                token=self.srv.admin)
            self.assertError(got, 400, "invalid_argument", says)
        self.assertError(self.srv.http("POST", "/api/v1/deployments/churn/predict",
                                       {"instances": [{}]}, token=self.srv.admin), 404,
                         "not_found", "no deployment named")

    # ------------------------------------------------------- bad input

    def test_bad_input(self):
        X = self.X[:2]
        good = oip(X)
        cases = [
            # malformed JSON
            (None, b'{"inputs": [', 400, ["malformed JSON"]),
            (None, b'{"inputs": [], "inputs": []}', 400, ["duplicate", "inputs"]),
            (None, b'[1]', 400, ["must be a JSON object"]),
            # datatypes
            (dict(good, inputs=[dict(good["inputs"][0], datatype="FP16")]), None, 400,
             ['datatype "FP16"', "FP32 or FP64"]),
            (dict(good, inputs=[dict(good["inputs"][0], datatype="BYTES")]), None, 400,
             ['datatype "BYTES"']),
            (dict(good, inputs=[dict(good["inputs"][0], datatype="FP99")]), None, 400,
             ["not an OIP datatype"]),
            ({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "INT8",
                          "data": [1, 2, 300, 4, 5]}]}, None, 400, ["300 is out of range",
                                                                     "INT8", "element 2"]),
            ({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "INT32",
                          "data": [1, 2, 3.5, 4, 5]}]}, None, 400, ["not a INT32"]),
            ({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "BOOL",
                          "data": [1, 0, 1, 0, 1]}]}, None, 400, ["not a BOOL"]),
            ({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP32",
                          "data": [1, "2", 3, 4, 5]}]}, None, 400, ["a string is not a FP32"]),
            # shapes
            ({"inputs": [{"name": "x", "shape": [2, 5], "datatype": "FP32",
                          "data": [1, 2, 3]}]}, None, 400, ["3 elements", "holds 10"]),
            ({"inputs": [{"name": "x", "shape": [2, 5], "datatype": "FP32",
                          "data": [[1, 2, 3, 4, 5], [1, 2, 3, 4]]}]}, None, 400,
             ["disagrees with the shape", "dimension 1"]),
            ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32",
                          "data": [1, 2, 3]}]}, None, 400, ["shape [1, 3]", "takes 5 features"]),
            ({"inputs": [{"name": "x", "shape": [1, 2, 3], "datatype": "FP32",
                          "data": [1, 2, 3, 4, 5, 6]}]}, None, 400, ["1 or 2 dimensions"]),
            ({"inputs": [{"name": "x", "shape": [-1, 5], "datatype": "FP32",
                          "data": []}]}, None, 400, ["shape[0]"]),
            ({"inputs": [{"name": "age", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                         {"name": "calls", "shape": [3], "datatype": "FP32",
                          "data": [1, 2, 3]}]}, None, 400, ['"calls" has 3 rows']),
            ({"inputs": [{"name": "age", "shape": [1], "datatype": "FP32", "data": [1]},
                         {"name": "zip", "shape": [1], "datatype": "FP32", "data": [1]}]},
             None, 400, ['"zip" is not a feature', "age, tenure"]),
            # too many rows (--max-rows 50)
            (oip(np.zeros((51, 5))), None, 400, ["51 rows", "limit of 50", "--max-rows"]),
            # fields
            ({"inputs": good["inputs"], "output": []}, None, 400, ['unknown field "output"']),
            ({}, None, 400, ['"inputs" is required']),
            ({"inputs": []}, None, 400, ["inputs is empty"]),
            (dict(good, outputs=[{"name": "probability"}]), None, 400,
             ['unknown output "probability"', "predict_proba"]),
            (dict(good, id=7), None, 400, ['"id"', "must be a string"]),
            (dict(good, parameters={"a": [1]}), None, 400, ['parameter "a"']),
        ]
        for body, raw, status, says in cases:
            self.bad("churn-api", body, status, *says, raw=raw)
        # NaN where the model takes none: a linear model needs every feature
        Xs = np.nan_to_num(self.X[:2]).astype(np.float64)
        Xs[1, 2] = np.nan
        self.bad("logit-api", oip(Xs, "FP64"), 400, "row 1", "charges", "missing")
        # unknown names and versions
        self.bad("nope", good, 404, 'no deployment or model named "nope"')
        self.bad("churn", good, 404, 'has no version "9"', version="9")
        self.bad("fraud:nope", good, 404, "no model named")
        self.bad("zz:churn", good, 404, "no team named")
        # metadata and the server survive it all
        self.assertEqual(self.srv.http("GET", "/v2/health/live")[0], 200)

    def test_scoped_application_tokens(self):
        srv = self.srv
        srv.user("app", "fraud", ["ml-engineer"])
        tok = srv.ok("POST", "/api/v1/tokens", {"name": "churn app", "user": "app",
                                                "infer_only": ["churn-api", "tri-api"]})
        self.assertEqual(tok["infer_only"], ["churn-api", "tri-api"])
        t = tok["token"]
        X = self.X[:1]
        for name in ("churn-api", "tri-api"):
            st, out, _ = srv.http("POST", "/v2/models/%s/infer" % name, oip(X), token=t)
            self.assertEqual(st, 200, out)
        st, _, _ = srv.http("POST", "/api/v1/deployments/churn-api/predict",
                            {"instances": [{"age": 1}]}, token=t)
        self.assertEqual(st, 200)
        self.assertEqual(srv.http("GET", "/v2/models/churn-api", token=t)[0], 200)
        # anything else: 403, naming the limit
        for method, path, body in (("POST", "/v2/models/spend-api/infer", oip(X)),
                                   ("POST", "/v2/models/churn/infer", oip(X)),
                                   ("GET", "/api/v1/whoami", None),
                                   ("GET", "/api/v1/models", None),
                                   ("GET", "/api/v1/deployments/churn-api", None),
                                   ("POST", "/api/v1/tokens", {"name": "more"})):
            got = srv.http(method, path, body, token=t)
            self.assertError(got, 403, "forbidden", "may only run inference on the deployments "
                             "churn-api, tri-api")
        # the list shows the limit; the CLI makes such tokens
        listed = srv.ok("GET", "/api/v1/tokens?user=app")["items"]
        self.assertEqual([x["infer_only"] for x in listed], [None, ["churn-api", "tri-api"]])
        p = srv.cli("token", "create", "--name", "cli app", "--user", "app", "--infer-only",
                    "churn-api", "spend-api", token=srv.admin)
        t2 = p.stdout.strip()
        self.assertIn("inference only on", p.stderr)
        self.assertEqual(srv.http("POST", "/v2/models/spend-api/infer", oip(X), token=t2)[0], 200)
        self.assertEqual(srv.http("POST", "/v2/models/tri-api/infer", oip(X), token=t2)[0], 403)
        # revoking takes effect at once, although tokens are cached
        srv.ok("DELETE", "/api/v1/tokens/%d" % tok["id"])
        got = srv.http("POST", "/v2/models/churn-api/infer", oip(X), token=t)
        self.assertError(got, 401, "unauthenticated", "revoked")
        # names are checked
        got = srv.http("POST", "/api/v1/tokens", {"name": "x", "infer_only": []},
                       token=srv.admin)
        self.assertError(got, 400, "invalid_argument", "infer_only")
        got = srv.http("POST", "/api/v1/tokens", {"name": "x", "infer_only": ["a/b"]},
                       token=srv.admin)
        self.assertError(got, 400, "invalid_argument", "infer_only")

    def test_viewer_and_outsider(self):
        srv = self.srv
        viewer = srv.user("vi", "fraud", ["viewer"])
        srv.team("else")
        outsider = srv.user("ou", "else", ["admin"])
        X = self.X[:1]
        got = srv.http("POST", "/v2/models/churn-api/infer", oip(X), token=viewer)
        self.assertError(got, 403, "forbidden", "(deployment.infer)")
        self.assertEqual(srv.http("GET", "/v2/models/churn-api", token=viewer)[0], 200)
        for name in ("churn-api", "churn", "fraud:churn"):
            got = srv.http("POST", "/v2/models/%s/infer" % name, oip(X), token=outsider)
            self.assertEqual(got[0], 404, got[1])
        self.assertEqual(json.loads(json.dumps(srv.ok("GET", "/api/v1/audit/verify")))["ok"],
                         True)
