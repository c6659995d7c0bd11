"""End-to-end: scikit-learn models trained at test time with Debian's
python3-sklearn, written with clients/python/mops_sklearn.py, scored by the
real `mops predict`, compared with predict / predict_proba /
decision_function output by output (within 1e-6 relative).

Covers DecisionTree*, RandomForest*, ExtraTrees*, GradientBoosting*,
HistGradientBoosting* (with missing values and categorical features),
LogisticRegression (binary, one-vs-rest, multinomial), LinearRegression,
Ridge and Lasso; depth 1 and deep trees; 1 and 2,000 trees; string labels;
multi-output regression; feature names.
"""
import json
import unittest

import numpy as np
from sklearn import ensemble, linear_model, tree
from sklearn.datasets import make_classification, make_regression

from runtime_common import TempDirTest, assert_close, predict_columns, run_predict, write_csv
import mops_sklearn  # noqa: E402  (on the path runtime_common sets)


def cls_data(n=500, features=8, classes=2, seed=0):
    X, y = make_classification(n_samples=n, n_features=features, n_informative=min(5, features),
                               n_redundant=0, n_classes=classes, n_clusters_per_class=1,
                               random_state=seed)
    return X, y


def reg_data(n=500, features=8, seed=0, targets=1):
    X, y = make_regression(n_samples=n, n_features=features, n_informative=min(5, features),
                           n_targets=targets, noise=0.5, random_state=seed)
    return X, y


class SklearnCase(TempDirTest):

    def export(self, est, **kw):
        path = self.path("model.json")
        mops_sklearn.export(est, path, **kw)
        return path

    def classifier(self, est, X, y, margin=None):
        """Fit, export, and compare predict_proba, predict and (when the
        estimator has one) the raw margin."""
        est.fit(X, y)
        m = self.export(est)
        csv = self.path("rows.csv")
        write_csv(csv, X)
        header, value = predict_columns(m, csv, "value")
        self.assertEqual(header, ["prob_%s" % c for c in est.classes_])
        assert_close(self, value, est.predict_proba(X), False, "predict_proba")
        _, rows = run_predict(m, csv, "--columns", "label")
        self.assertEqual([r[0] for r in rows], [str(v) for v in est.predict(X)])
        if margin is not None:
            _, mg = predict_columns(m, csv, "margin")
            ref = margin(est, X)
            assert_close(self, mg, ref.reshape(mg.shape), False, "margin")
        return m

    def regressor(self, est, X, y):
        est.fit(X, y)
        m = self.export(est)
        csv = self.path("rows.csv")
        write_csv(csv, X)
        _, value = predict_columns(m, csv, "value")
        ref = est.predict(X)
        assert_close(self, value, ref.reshape(value.shape), False, "predict")
        return m


def decision(est, X):
    return est.decision_function(X)


def raw(est, X):
    return est._raw_predict(X)


class TestTrees(SklearnCase):

    def test_decision_tree_classifier(self):
        X, y = cls_data(seed=1)
        self.classifier(tree.DecisionTreeClassifier(max_depth=6, random_state=0), X, y)

    def test_decision_tree_deep_multiclass_string_labels(self):
        X, y = cls_data(n=1500, classes=3, seed=2)
        labels = np.array(["setosa", "versicolor", "virginica"])[y]
        m = self.classifier(tree.DecisionTreeClassifier(random_state=0), X, labels)
        with open(m) as f:
            doc = json.load(f)
        self.assertEqual(doc["classes"], ["setosa", "versicolor", "virginica"])

    def test_decision_tree_depth_1(self):
        X, y = cls_data(seed=3)
        self.classifier(tree.DecisionTreeClassifier(max_depth=1), X, y)
        X, y = reg_data(seed=3)
        self.regressor(tree.DecisionTreeRegressor(max_depth=1), X, y)

    def test_decision_tree_regressor_deep(self):
        X, y = reg_data(n=2000, seed=4)
        est = tree.DecisionTreeRegressor(random_state=0)
        self.regressor(est, X, y)
        self.assertGreaterEqual(est.get_depth(), 18)

    def test_multi_output_regressor(self):
        X, y = reg_data(n=400, seed=5, targets=3)
        m = self.regressor(tree.DecisionTreeRegressor(max_depth=8, random_state=0), X, y)
        header, _ = run_predict(m, self.path("rows.csv"))
        self.assertEqual(header, ["prediction_0", "prediction_1", "prediction_2"])
        self.regressor(ensemble.RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0),
                       X, y)

    def test_random_forest_classifier(self):
        X, y = cls_data(n=600, classes=3, seed=6)
        self.classifier(ensemble.RandomForestClassifier(n_estimators=40, random_state=0), X, y)

    def test_random_forest_regressor(self):
        X, y = reg_data(n=600, seed=7)
        self.regressor(ensemble.RandomForestRegressor(n_estimators=30, random_state=0), X, y)

    def test_extra_trees(self):
        X, y = cls_data(n=600, seed=8)
        self.classifier(ensemble.ExtraTreesClassifier(n_estimators=30, random_state=0), X, y)
        X, y = reg_data(n=600, seed=8)
        self.regressor(ensemble.ExtraTreesRegressor(n_estimators=30, random_state=0), X, y)

    def test_single_tree_forest(self):
        X, y = cls_data(n=300, seed=9)
        self.classifier(ensemble.RandomForestClassifier(n_estimators=1, random_state=0), X, y)


class TestGradientBoosting(SklearnCase):

    def test_binary(self):
        X, y = cls_data(n=600, seed=10)
        self.classifier(ensemble.GradientBoostingClassifier(n_estimators=50, max_depth=3,
                                                            random_state=0), X, y, margin=decision)

    def test_multiclass(self):
        X, y = cls_data(n=600, classes=4, seed=11)
        self.classifier(ensemble.GradientBoostingClassifier(n_estimators=30, max_depth=3,
                                                            random_state=0), X, y, margin=decision)

    def test_exponential_loss(self):
        X, y = cls_data(n=500, seed=12)
        self.classifier(ensemble.GradientBoostingClassifier(loss="exponential", n_estimators=30,
                                                            random_state=0), X, y, margin=decision)

    def test_zero_init(self):
        X, y = cls_data(n=400, seed=13)
        self.classifier(ensemble.GradientBoostingClassifier(init="zero", n_estimators=20,
                                                            random_state=0), X, y, margin=decision)

    def test_regressor_losses(self):
        X, y = reg_data(n=500, seed=14)
        for loss in ("squared_error", "absolute_error", "huber", "quantile"):
            self.regressor(ensemble.GradientBoostingRegressor(loss=loss, n_estimators=40,
                                                              random_state=0), X, y)

    def test_2000_stumps(self):
        X, y = cls_data(n=300, seed=15)
        self.classifier(ensemble.GradientBoostingClassifier(n_estimators=2000, max_depth=1,
                                                            learning_rate=0.05, random_state=0),
                        X, y, margin=decision)


class TestHistGradientBoosting(SklearnCase):

    def data(self, n=1200, seed=16, classes=2):
        X, y = cls_data(n=n, features=6, classes=classes, seed=seed)
        rng = np.random.default_rng(seed)
        X[:, 0] = np.floor(np.abs(X[:, 0]) * 3) % 7       # categorical codes 0..6
        X[rng.random(n) < 0.08, 0] = np.nan
        X[rng.random(n) < 0.05, 3] = np.nan
        y = (y + (X[:, 0] == 2)) % classes
        return X, y

    def test_binary_with_missing_and_categories(self):
        X, y = self.data()
        est = ensemble.HistGradientBoostingClassifier(max_iter=40, categorical_features=[0],
                                                      random_state=0)
        Xt = X.copy()
        Xt[:10, 0] = 11           # a category never seen
        Xt[10:15, 0] = -1         # negative: treated as missing
        est.fit(X, y)
        m = self.export(est)
        with open(m) as f:
            doc = json.load(f)
        self.assertTrue(any("categorical" in t for t in doc["trees"]["list"]))
        csv = self.path("rows.csv")
        write_csv(csv, Xt)
        _, value = predict_columns(m, csv, "value")
        assert_close(self, value, est.predict_proba(Xt), False, "predict_proba")
        _, mg = predict_columns(m, csv, "margin")
        assert_close(self, mg[:, 0], est.decision_function(Xt), False, "decision_function")

    def test_multiclass(self):
        X, y = self.data(seed=17, classes=3)
        self.classifier(ensemble.HistGradientBoostingClassifier(max_iter=25,
                                                                categorical_features=[0],
                                                                random_state=0),
                        X, y, margin=decision)

    def test_regressor(self):
        X, y = reg_data(n=800, features=6, seed=18)
        X[np.random.default_rng(0).random(X.shape) < 0.05] = np.nan
        self.regressor(ensemble.HistGradientBoostingRegressor(max_iter=50, random_state=0), X, y)
        self.regressor(ensemble.HistGradientBoostingRegressor(loss="poisson", max_iter=30,
                                                              random_state=0),
                       X, np.exp(y / (3 * y.std())))

    def test_early_stopping(self):
        X, y = self.data(n=2000, seed=19)
        est = ensemble.HistGradientBoostingClassifier(max_iter=300, early_stopping=True,
                                                      n_iter_no_change=3, random_state=0)
        self.classifier(est, X, y, margin=decision)
        self.assertLess(est.n_iter_, 300)


class TestLinear(SklearnCase):

    def test_logistic_binary(self):
        X, y = cls_data(seed=20)
        self.classifier(linear_model.LogisticRegression(), X, y, margin=decision)
        self.classifier(linear_model.LogisticRegression(multi_class="multinomial"), X, y,
                        margin=decision)

    def test_logistic_multiclass(self):
        X, y = cls_data(n=600, classes=3, seed=21)
        self.classifier(linear_model.LogisticRegression(max_iter=500), X, y, margin=decision)
        self.classifier(linear_model.LogisticRegression(multi_class="ovr", max_iter=500), X, y,
                        margin=decision)
        self.classifier(linear_model.LogisticRegression(solver="liblinear"), X, y, margin=decision)

    def test_regressors(self):
        X, y = reg_data(seed=22)
        self.regressor(linear_model.LinearRegression(), X, y)
        self.regressor(linear_model.Ridge(alpha=2.0), X, y)
        self.regressor(linear_model.Lasso(alpha=0.1), X, y)
        X, y = reg_data(seed=23, targets=2)
        self.regressor(linear_model.LinearRegression(), X, y)

    def test_missing_value_is_refused(self):
        X, y = cls_data(seed=24)
        est = linear_model.LogisticRegression().fit(X, y)
        m = self.export(est, feature_names=["a", "b", "c", "d", "e", "f", "g", "h"])
        X2 = X[:5].copy()
        X2[3, 2] = np.nan
        csv = self.path("rows.csv")
        write_csv(csv, X2, ["a", "b", "c", "d", "e", "f", "g", "h"])
        import subprocess
        from runtime_common import mops_bin
        p = subprocess.run([mops_bin(), "predict", "-m", m, "-i", csv, "-q"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("line 5", p.stderr)
        self.assertIn('feature 2 ("c") is missing', p.stderr)


class TestExporter(SklearnCase):

    def test_unsupported(self):
        from sklearn.svm import SVC
        X, y = cls_data(n=100, seed=25)
        with self.assertRaises(mops_sklearn.ExportError) as cm:
            mops_sklearn.to_dict(SVC().fit(X, y))
        self.assertIn("SVC is not supported", str(cm.exception))
        with self.assertRaises(mops_sklearn.ExportError):
            mops_sklearn.to_dict(tree.DecisionTreeClassifier())  # not fitted

    def test_feature_names(self):
        X, y = reg_data(n=200, features=3, seed=26)
        est = linear_model.Ridge().fit(X, y)
        m = self.export(est, feature_names=["x", "y", "z"])
        csv = self.path("rows.csv")
        write_csv(csv, X[:, [2, 0, 1]], ["z", "x", "y"])
        _, value = predict_columns(m, csv, "value")
        assert_close(self, value[:, 0], est.predict(X), False, "by name")

    def test_command_line(self):
        import pickle
        import subprocess
        import sys
        from runtime_common import ROOT
        X, y = cls_data(n=200, seed=27)
        est = tree.DecisionTreeClassifier(max_depth=3).fit(X, y)
        pkl = self.path("m.pkl")
        with open(pkl, "wb") as f:
            pickle.dump(est, f)
        out = self.path("m.json")
        p = subprocess.run([sys.executable, ROOT + "/clients/python/mops_sklearn.py", pkl, out],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            self.assertEqual(json.load(f)["estimator"], "DecisionTreeClassifier")


if __name__ == "__main__":
    unittest.main()
