"""Validation: the server scores a holdout CSV with the version's own model
and computes its metrics; every metric equals sklearn.metrics' on the same
predictions (mops predict's, which are the runtime's) within 1e-9 —
binary and multiclass classifiers from XGBoost and scikit-learn (ties in
ROC AUC included, a chosen positive class, text labels), regressors, per
group, and the fairness gaps. Bad files are refused with the line at
fault. Models are trained at test time."""
import json
import os

import numpy as np
from sklearn import metrics as skm

import mopstest
import runtime_common as rc

TOL = 1e-9


def close(a, b):
    return abs(a - b) <= TOL * max(1.0, abs(b))


class Validation(mopstest.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.server()
        self.srv.team("t")
        self.n = 0

    def register(self, path, fmt):
        """A new model with this file as version 1; returns its name."""
        self.n += 1
        name = "m%d" % self.n
        self.srv.ok("POST", "/api/v1/models", {"team": "t", "name": name, "risk_tier": "low"})
        self.srv.cli("version", "upload", "t/" + name, path, "--format", fmt,
                     token=self.srv.admin)
        return name

    def validate(self, name, csv, label="y", **query):
        args = ["validate", "t/" + name, "1", "--data", csv, "--label", label]
        for k, v in query.items():
            for item in (v if isinstance(v, list) else [v]):
                args += ["--" + k, item]
        return json.loads(self.srv.cli(*args, "--json", token=self.srv.admin).stdout)

    def predictions(self, model, csv, classes):
        """mops predict's label (as class indices) and value columns."""
        header, rows = rc.run_predict(model, csv, "--columns", "label,value")
        labels = np.array([classes.index(r[0]) for r in rows])
        values = np.array([[float(v) for v in r[1:]] for r in rows])
        return labels, values

    def assert_metric(self, ours, ref, what):
        self.assertIsNotNone(ours, what)
        self.assertTrue(close(ours, ref), "%s: mops %r, sklearn %r" % (what, ours, ref))

    def check_classifier(self, m, y, pred, values, n_classes, positive=1):
        """m (a metrics object) against sklearn on y, pred, values."""
        labels = list(range(n_classes))
        if n_classes == 2:
            avg = dict(average="binary", pos_label=positive, zero_division=0)
            score = values[:, 0] if values.shape[1] == 1 else values[:, positive]
            pos = (y == (1 if values.shape[1] == 1 else positive))
            auc = skm.roc_auc_score(pos, score)
            ll = skm.log_loss(y, values[:, 0] if values.shape[1] == 1 else values, labels=labels)
        else:
            avg = dict(average="macro", zero_division=0)
            auc = skm.roc_auc_score(y, values, multi_class="ovr", average="macro")
            ll = skm.log_loss(y, values, labels=labels)
        self.assertEqual(m["n"], len(y))
        self.assertEqual(m["average"], "binary" if n_classes == 2 else "macro")
        self.assert_metric(m["accuracy"], skm.accuracy_score(y, pred), "accuracy")
        self.assert_metric(m["precision"], skm.precision_score(y, pred, **avg), "precision")
        self.assert_metric(m["recall"], skm.recall_score(y, pred, **avg), "recall")
        self.assert_metric(m["f1"], skm.f1_score(y, pred, **avg), "f1")
        self.assert_metric(m["roc_auc"], auc, "roc_auc")
        self.assert_metric(m["log_loss"], ll, "log_loss")
        self.assertEqual(m["confusion_matrix"]["matrix"],
                         skm.confusion_matrix(y, pred, labels=labels).tolist())

    # -------------------------------------------------------------- classifiers

    def test_xgboost_binary_with_ties_groups_and_fairness(self):
        import xgboost as xgb
        X, y = rc.classification(n=1200, features=5, seed=11)
        names = ["a", "b", "c", "d", "e"]
        model = os.path.join(self.tmp, "xb.json")
        # Shallow and short: few distinct scores, so ROC AUC meets ties.
        xgb.train({"objective": "binary:logistic", "max_depth": 2},
                  xgb.DMatrix(X[:600], label=y[:600], feature_names=names),
                  num_boost_round=3).save_model(model)
        Xh, yh = X[600:], y[600:].astype(int)
        rng = np.random.default_rng(3)
        region = rng.choice(["north", "south", "east"], size=len(yh))
        tier = np.where(Xh[:, 0] > 0, "gold", "basic")  # correlated with the prediction
        csv = os.path.join(self.tmp, "h.csv")
        rc.write_csv(csv, Xh, names, extra={"y": [str(v) for v in yh], "region": list(region),
                                            "tier": list(tier)})
        name = self.register(model, "xgboost-json")
        out = self.validate(name, csv, group=["region", "tier"])
        pred, values = self.predictions(model, csv, ["0", "1"])
        self.assertEqual(values.shape[1], 1)
        self.assertLess(len(set(values[:, 0])), 40)  # ties, really
        self.check_classifier(out["metrics"], yh, pred, values, 2)
        self.assertEqual((out["kind"], out["classes"], out["data"]["rows"]),
                         ("classifier", ["0", "1"], 600))
        for col, col_values in (("region", region), ("tier", tier)):
            self.assertEqual(sorted(out["group_values"][col]), sorted(set(col_values)))
            fair = out["fairness"][col]
            rates, tprs = [], []
            for g in sorted(set(col_values)):
                rows = col_values == g
                self.check_classifier(out["by_group"][col][g], yh[rows], pred[rows],
                                      values[rows], 2)
                rate = float(np.mean(pred[rows] == 1))
                tpr = skm.recall_score(yh[rows], pred[rows], zero_division=0)
                self.assert_metric(fair["positive_rate"]["by_group"][g], rate, "rate " + g)
                self.assert_metric(fair["tpr"]["by_group"][g], tpr, "tpr " + g)
                self.assertEqual(fair["rows"][g], int(rows.sum()))
                rates.append(rate)
                tprs.append(tpr)
            self.assert_metric(fair["positive_rate"]["gap"], max(rates) - min(rates), col)
            self.assert_metric(fair["tpr"]["gap"], max(tprs) - min(tprs), col)
        # Stored with the version, listed, fetched alone.
        listed = self.srv.ok("GET", "/api/v1/models/t/%s/versions/1/validations" % name)
        self.assertEqual([v["id"] for v in listed["items"]], [out["id"]])
        one = self.srv.ok("GET", "/api/v1/models/t/%s/versions/1/validations/%d" %
                          (name, out["id"]))
        self.assertEqual(one["metrics"], out["metrics"])
        text = self.srv.cli("validate", "t/" + name, "1", "--list", token=self.srv.admin).stdout
        self.assertIn("roc_auc", text)
        self.assertIn("fairness by tier", text)

    def test_xgboost_multiclass(self):
        import xgboost as xgb
        X, y = rc.classification(n=900, features=6, classes=3, seed=12)
        names = ["f%d" % i for i in range(6)]
        model = os.path.join(self.tmp, "xm.json")
        xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3},
                  xgb.DMatrix(X[:500], label=y[:500], feature_names=names),
                  num_boost_round=8).save_model(model)
        Xh, yh = X[500:], y[500:].astype(int)
        csv = os.path.join(self.tmp, "h.csv")
        rc.write_csv(csv, Xh, names, extra={"y": [str(v) for v in yh]})
        out = self.validate(self.register(model, "xgboost-json"), csv)
        pred, values = self.predictions(model, csv, ["0", "1", "2"])
        self.assertEqual(values.shape[1], 3)
        self.check_classifier(out["metrics"], yh, pred, values, 3)
        self.assertIsNone(out["fairness"])  # binary classifiers only

    def test_sklearn_binary_text_labels_and_positive_class(self):
        from sklearn.ensemble import RandomForestClassifier
        import mops_sklearn
        X, y = rc.classification(n=1000, features=5, seed=13, nan_frac=0)
        text = np.where(y == 1, "yes", "no")
        names = ["p", "q", "r", "s", "u"]
        clf = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
        clf.fit(X[:500], text[:500])
        model = os.path.join(self.tmp, "rf.json")
        mops_sklearn.export(clf, model, feature_names=names)
        csv = os.path.join(self.tmp, "h.csv")
        rc.write_csv(csv, X[500:], names, extra={"label": list(text[500:])})
        name = self.register(model, "sklearn-json")
        yh = (text[500:] == "yes").astype(int)  # class 1 is "yes" (sorted)
        pred, values = self.predictions(model, csv, ["no", "yes"])
        self.assertEqual(values.shape[1], 2)
        out = self.validate(name, csv, label="label")
        self.assertEqual(out["metrics"]["positive_class"], "yes")
        self.check_classifier(out["metrics"], yh, pred, values, 2, positive=1)
        out = self.validate(name, csv, label="label", positive="no")
        self.assertEqual(out["metrics"]["positive_class"], "no")
        self.check_classifier(out["metrics"], yh, pred, values, 2, positive=0)

    def test_sklearn_multiclass_linear(self):
        from sklearn.linear_model import LogisticRegression
        import mops_sklearn
        X, y = rc.classification(n=900, features=4, classes=4, seed=14, nan_frac=0)
        names = ["w", "x", "y0", "z"]
        clf = LogisticRegression(max_iter=500).fit(X[:400], y[:400])
        model = os.path.join(self.tmp, "lr.json")
        mops_sklearn.export(clf, model, feature_names=names)
        csv = os.path.join(self.tmp, "h.csv")
        yh = y[400:].astype(int)
        rc.write_csv(csv, X[400:], names, extra={"target": [str(v) for v in yh]})
        out = self.validate(self.register(model, "sklearn-json"), csv, label="target")
        pred, values = self.predictions(model, csv, ["0", "1", "2", "3"])
        self.check_classifier(out["metrics"], yh, pred, values, 4)

    # -------------------------------------------------------------- regressors

    def check_regressor(self, m, y, p):
        self.assertEqual(m["n"], len(y))
        self.assert_metric(m["rmse"], skm.mean_squared_error(y, p, squared=False), "rmse")
        self.assert_metric(m["mae"], skm.mean_absolute_error(y, p), "mae")
        self.assert_metric(m["r2"], skm.r2_score(y, p), "r2")

    def test_regressors_xgboost_and_sklearn(self):
        import xgboost as xgb
        from sklearn.ensemble import GradientBoostingRegressor
        import mops_sklearn
        X, y = rc.regression(n=1000, features=5, seed=15, nan_frac=0)
        names = ["a", "b", "c", "d", "e"]
        xm = os.path.join(self.tmp, "xr.json")
        xgb.train({"objective": "reg:squarederror", "max_depth": 3},
                  xgb.DMatrix(X[:500], label=y[:500], feature_names=names),
                  num_boost_round=10).save_model(xm)
        sm = os.path.join(self.tmp, "gbr.json")
        mops_sklearn.export(GradientBoostingRegressor(n_estimators=10, random_state=0)
                            .fit(X[:500], y[:500]), sm, feature_names=names)
        Xh, yh = X[500:], y[500:]
        shop = np.array(["s%d" % (i % 4) for i in range(len(yh))])
        csv = os.path.join(self.tmp, "h.csv")
        rc.write_csv(csv, Xh, names, extra={"y": [repr(float(v)) for v in yh],
                                            "shop": list(shop)})
        for model, fmt in ((xm, "xgboost-json"), (sm, "sklearn-json")):
            out = self.validate(self.register(model, fmt), csv, group="shop")
            self.assertEqual(out["kind"], "regressor")
            _, p = rc.predict_columns(model, csv, "value")
            p = p[:, 0]
            self.check_regressor(out["metrics"], yh, p)
            for g in sorted(set(shop)):
                rows = shop == g
                self.check_regressor(out["by_group"]["shop"][g], yh[rows], p[rows])
            self.assertIsNone(out["fairness"])

    # -------------------------------------------------------------- bad input

    def test_bad_files_and_options(self):
        import xgboost as xgb
        X, y = rc.classification(n=200, features=3, seed=16)
        names = ["a", "b", "c"]
        model = os.path.join(self.tmp, "m.json")
        xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y, feature_names=names),
                  num_boost_round=2).save_model(model)
        name = self.register(model, "xgboost-json")
        path = "/api/v1/models/t/%s/versions/1/validations" % name
        srv = self.srv

        def post(body, query="?label=y", ct="text/csv"):
            return srv.request("POST", path + query, body=body, content_type=ct,
                               token=srv.admin)

        good = b"a,b,c,y\n1,2,3,1\n0.5,,1,0\n"
        cases = [
            (b"", "?label=y", 400, "empty"),
            (b"a,b,c,y\n", "?label=y", 400, "no rows"),
            (good, "", 400, "label is required"),
            (good, "?label=z", 400, "no column z"),
            (b"a,b,y\n1,2,1\n", "?label=y", 400, "no column c"),
            (b"a,b,c,y\n1,2,3,7\n", "?label=y", 400, "line 2: label \"7\" is not a class"),
            (b"a,b,c,y\n1,2,3,1\n1,x,3,0\n", "?label=y", 400, "line 3, column b"),
            (b"a,b,c,y\n1,2,3,1\n1,2\n", "?label=y", 400, "line 3 has 2 fields"),
            (b"a,b,c,y\n\"1,2,3,1\n", "?label=y", 400, "line 2: a quoted field is not closed"),
            (good, "?label=y&group=y", 400, "the label"),
            (good, "?label=y&group=a,,b", 400, "one is empty"),
            (good, "?label=y&name=..", 400, "validation name"),
            (good, "?label=y&positive=maybe", 400, "positive \"maybe\" is not a class"),
            (good, "?label=y&colour=red", 400, "unknown query parameter"),
        ]
        many = "a,b,c,y,g\n" + "".join("1,2,3,1,v%d\n" % i for i in range(101))
        cases.append((many.encode(), "?label=y&group=g", 400, "more than 100 distinct values"))
        before = srv.state()
        for body, query, status, says in cases:
            self.assertError(post(body, query), status, says=says)
        self.assertError(post(good, ct="application/octet-stream"), 415, says="text/csv")
        self.assertEqual(srv.state(), before)
        self.assertEqual(srv.ok("GET", path)["items"], [])
        # Formats mops stores but does not run cannot be validated.
        srv.version("t", name, data=b"onnx bytes", format="onnx")
        got = srv.request("POST", "/api/v1/models/t/%s/versions/2/validations?label=y" % name,
                          body=good, content_type="text/csv", token=srv.admin)
        self.assertError(got, 400, says="does not execute")
        # A viewer may read reports, not make them.
        viewer = srv.user("vi", "t", ["viewer"])
        self.assertError(srv.request("POST", path + "?label=y", body=good,
                                     content_type="text/csv", token=viewer), 403,
                         says="(validation.run)")
        self.assertEqual(len(srv.ok("GET", path, token=viewer)["items"]), 0)
        got = post(good)  # the good one, last
        self.assertEqual(got[0], 201, got[1])
        self.assertEqual(got[1]["data"]["rows"], 2)
