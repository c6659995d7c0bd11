#!/usr/bin/python3
"""mops_sklearn — write scikit-learn models in the mops JSON format.

scikit-learn models are Python pickles, which the mops runtime (written in
C) cannot read. This module turns a fitted estimator into the documented
"mops-sklearn" JSON format (docs/formats.md) that `mops predict` and the
mops server load, with the values scikit-learn itself uses, so mops gives
the same predict / predict_proba outputs.

Supported estimators (scikit-learn 1.0 and later):
  DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeClassifier,
  ExtraTreeRegressor, RandomForestClassifier, RandomForestRegressor,
  ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
  GradientBoostingRegressor, HistGradientBoostingClassifier,
  HistGradientBoostingRegressor, LogisticRegression(CV), LinearRegression,
  Ridge(CV), Lasso(CV), ElasticNet(CV).

Use it as a library:

    import mops_sklearn
    mops_sklearn.export(model, "model.json")              # write a file
    doc = mops_sklearn.to_dict(model)                     # or get the dict

or from the command line, on a pickle you trust (unpickling runs code):

    /usr/bin/python3 mops_sklearn.py model.pkl model.json

Only the Python standard library, numpy and scikit-learn are needed.
"""
import json
import pickle
import sys

import numpy as np

FORMAT = "mops-sklearn"
FORMAT_VERSION = 1

__all__ = ["to_dict", "export", "ExportError"]


class ExportError(ValueError):
    """The estimator cannot be written in the mops format (the message says why)."""


# --------------------------------------------------------------------- helpers

def _sklearn_version():
    import sklearn
    return sklearn.__version__


def _py(v):
    """A numpy scalar as the plain Python value json can write."""
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, (int, float, str)):
        return v
    return str(v)


def _floats(a):
    out = [float(x) for x in np.asarray(a, dtype=np.float64).ravel()]
    for x in out:
        if x != x or x in (float("inf"), float("-inf")):
            raise ExportError("the model holds a NaN or infinite value")
    return out


def _thresholds(a):
    """Split thresholds; +infinity (a split that sends every number left)
    is written as null, as JSON has no infinity."""
    out = []
    for x in np.asarray(a, dtype=np.float64).ravel():
        x = float(x)
        if x == float("inf"):
            out.append(None)
        elif x != x or x == float("-inf"):
            raise ExportError("the model holds a NaN or -infinite threshold")
        else:
            out.append(x)
    return out


def _feature_names(est, feature_names):
    if feature_names is not None:
        names = [str(n) for n in feature_names]
    else:
        fn = getattr(est, "feature_names_in_", None)
        names = [str(n) for n in fn] if fn is not None else None
    if names is not None and len(names) != est.n_features_in_:
        raise ExportError("%d feature names for %d features" % (len(names), est.n_features_in_))
    return names


def _base(est, estimator_name, task, feature_names):
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "producer": "scikit-learn " + _sklearn_version(),
        "estimator": estimator_name,
        "task": task,
        "n_features": int(est.n_features_in_),
    }
    names = _feature_names(est, feature_names)
    if names is not None:
        doc["feature_names"] = names
    if task == "classifier":
        doc["classes"] = [_py(c) for c in est.classes_]
    return doc


def _missing_left(tree, left, right):
    """Where a missing value goes at each node: scikit-learn >= 1.3 records
    it; older versions refuse NaN, and mops sends it to the child that saw
    more training samples (what newer versions do when training had none)."""
    mgl = getattr(tree, "missing_go_to_left", None)
    if mgl is not None:
        return [int(v) for v in np.asarray(mgl)]
    w = tree.weighted_n_node_samples
    out = []
    for i in range(tree.node_count):
        if left[i] == -1:
            out.append(0)
        else:
            out.append(1 if w[left[i]] >= w[right[i]] else 0)
    return out


def _cart_tree(tree, value_mode, n_classes=None, scale=None):
    """One sklearn.tree._tree.Tree. value_mode: 'proba' (classifier leaves,
    normalised as predict_proba does), 'regression' (first output), 'multi'
    (every output of a multi-output regressor), 'scaled' (value * scale as
    gradient boosting adds it)."""
    left = np.asarray(tree.children_left)
    right = np.asarray(tree.children_right)
    is_leaf = left == -1
    feature = np.where(is_leaf, -1, tree.feature)
    threshold = np.where(is_leaf, 0.0, tree.threshold)
    v = np.asarray(tree.value, dtype=np.float64)
    out = {
        "feature": [int(f) for f in feature],
        "threshold": _thresholds(threshold),
        "left": [int(i) for i in left],
        "right": [int(i) for i in right],
        "missing_left": _missing_left(tree, left, right),
    }
    if value_mode == "proba":
        # As DecisionTreeClassifier.predict_proba: rows of class weights
        # divided by their sum (a zero sum left alone).
        p = np.array(v.reshape(v.shape[0], -1)[:, :n_classes], dtype=np.float64, copy=True)
        normalizer = p.sum(axis=1)[:, np.newaxis]
        normalizer[normalizer == 0.0] = 1.0
        p /= normalizer
        out["value"] = [_floats(row) for row in p]
    elif value_mode == "multi":
        out["value"] = [_floats(v[i, :, 0]) for i in range(v.shape[0])]
    elif value_mode == "scaled":
        out["value"] = _floats(scale * v[:, 0, 0])
    else:
        out["value"] = _floats(v[:, 0, 0])
    return out


# ------------------------------------------------------------- tree ensembles

def _single_tree(est, name, feature_names):
    if est.n_outputs_ != 1 and hasattr(est, "classes_"):
        raise ExportError("multi-output classifiers are not supported")
    if hasattr(est, "classes_"):
        doc = _base(est, name, "classifier", feature_names)
        k = len(est.classes_)
        doc.update({"n_outputs": k, "init": [0.0] * k, "link": "identity",
                    "decision": "argmax_value"})
        trees = [_cart_tree(est.tree_, "proba", n_classes=k)]
    else:
        doc = _base(est, name, "regressor", feature_names)
        k = est.n_outputs_
        doc.update({"n_outputs": k, "init": [0.0] * k, "link": "identity", "decision": "value"})
        trees = [_cart_tree(est.tree_, "multi" if k > 1 else "regression")]
    doc["trees"] = {"input": "float32", "average": False, "list": trees}
    return doc


def _forest(est, name, feature_names):
    if est.n_outputs_ != 1 and hasattr(est, "classes_"):
        raise ExportError("multi-output classifiers are not supported")
    if hasattr(est, "classes_"):
        doc = _base(est, name, "classifier", feature_names)
        k = len(est.classes_)
        doc.update({"n_outputs": k, "init": [0.0] * k, "link": "identity",
                    "decision": "argmax_value"})
        trees = [_cart_tree(e.tree_, "proba", n_classes=k) for e in est.estimators_]
    else:
        doc = _base(est, name, "regressor", feature_names)
        k = est.n_outputs_
        doc.update({"n_outputs": k, "init": [0.0] * k, "link": "identity", "decision": "value"})
        trees = [_cart_tree(e.tree_, "multi" if k > 1 else "regression") for e in est.estimators_]
    # ForestClassifier.predict_proba sums the trees' probabilities in order
    # and divides by the number of trees; the regressor does the same.
    doc["trees"] = {"input": "float32", "average": True, "list": trees}
    return doc


def _gb_init(est):
    from sklearn.dummy import DummyClassifier, DummyRegressor
    init = est.init_
    if isinstance(init, str) and init == "zero":
        return None
    if not isinstance(init, (DummyClassifier, DummyRegressor)):
        raise ExportError("GradientBoosting with init=%s is not supported (only the default "
                          "and 'zero')" % type(init).__name__)
    x = np.zeros((1, est.n_features_in_), dtype=np.float32)
    return [float(v) for v in est._raw_predict_init(x)[0]]


def _gradient_boosting(est, name, feature_names):
    stages = est.estimators_  # (n_stages, K) DecisionTreeRegressor
    n_stages, K = stages.shape
    init = _gb_init(est)
    if init is None:
        init = [0.0] * K
    loss = getattr(est, "loss", None)
    if hasattr(est, "classes_"):
        doc = _base(est, name, "classifier", feature_names)
        if loss == "exponential":
            link, decision = "logistic_binary_2x", "margin_ge_0"
        elif K == 1:
            link, decision = "logistic_binary", "argmax_value"
        else:
            link, decision = "softmax_logsumexp", "argmax_value"
    else:
        doc = _base(est, name, "regressor", feature_names)
        link, decision = "identity", "value"
    lr = float(est.learning_rate)
    trees = []
    # predict_stages: for each stage, for each class k, out[:, k] +=
    # learning_rate * leaf value.
    for i in range(n_stages):
        for k in range(K):
            t = _cart_tree(stages[i, k].tree_, "scaled", scale=lr)
            t["output"] = k
            trees.append(t)
    doc.update({"n_outputs": K, "init": init, "link": link, "decision": decision,
                "trees": {"input": "float32", "average": False, "iterations": n_stages,
                          "list": trees}})
    return doc


def _hgb_link(est):
    link = type(est._loss.link).__name__
    return {"IdentityLink": "identity", "LogLink": "exp", "LogitLink": "logistic_binary",
            "MultinomialLogit": "softmax"}.get(link)


def _bits(words):
    out = []
    for w_i, w in enumerate(np.asarray(words, dtype=np.uint64)):
        w = int(w)
        for b in range(32):
            if (w >> b) & 1:
                out.append(w_i * 32 + b)
    return out


def _hist_gradient_boosting(est, name, feature_names):
    link = _hgb_link(est)
    if link is None:
        raise ExportError("HistGradientBoosting loss link %s is not supported"
                          % type(est._loss.link).__name__)
    K = est.n_trees_per_iteration_
    if hasattr(est, "classes_"):
        doc = _base(est, name, "classifier", feature_names)
        decision = "argmax_value"
        if K == 1 and link != "logistic_binary":
            raise ExportError("unexpected link %s for a binary classifier" % link)
    else:
        doc = _base(est, name, "regressor", feature_names)
        decision = "value"
    init = [float(v) for v in np.asarray(est._baseline_prediction, dtype=np.float64).ravel()]
    if len(init) != K:
        init = init * K if len(init) == 1 else init
    trees = []
    for predictors in est._predictors:
        for k, pred in enumerate(predictors):
            nodes = pred.nodes
            leaf = nodes["is_leaf"].astype(bool)
            t = {
                "output": k,
                "feature": [-1 if leaf[i] else int(f) for i, f in enumerate(nodes["feature_idx"])],
                "threshold": _thresholds(np.where(leaf | (nodes["is_categorical"] != 0), 0.0,
                                                  nodes["num_threshold"])),
                "left": [-1 if leaf[i] else int(v) for i, v in enumerate(nodes["left"])],
                "right": [-1 if leaf[i] else int(v) for i, v in enumerate(nodes["right"])],
                "missing_left": [int(v) for v in nodes["missing_go_to_left"]],
                "value": _floats(nodes["value"]),
            }
            cats = []
            for i in np.flatnonzero((nodes["is_categorical"] != 0) & ~leaf):
                bits = pred.raw_left_cat_bitsets[nodes["bitset_idx"][i]]
                cats.append({"node": int(i), "left": _bits(bits)})
            if cats:
                t["categorical"] = cats
            trees.append(t)
    tdoc = {"input": "float64", "average": False, "iterations": len(est._predictors),
            "list": trees}
    is_cat = getattr(est._bin_mapper, "is_categorical_", None)
    if is_cat is not None and np.any(is_cat):
        known, f_idx_map = est._bin_mapper.make_known_categories_bitsets()
        tdoc["known_categories"] = [
            {"feature": int(f), "categories": _bits(known[f_idx_map[f]])}
            for f in np.flatnonzero(is_cat)
        ]
    doc.update({"n_outputs": K, "init": init, "link": link, "decision": decision, "trees": tdoc})
    return doc


# ----------------------------------------------------------------- linear models

def _linear_classifier(est, name, feature_names):
    doc = _base(est, name, "classifier", feature_names)
    coef = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64))
    if intercept.size == 1 and coef.shape[0] > 1:
        intercept = np.repeat(intercept, coef.shape[0])
    n_classes = len(est.classes_)
    # LogisticRegression.predict_proba: one-vs-rest unless multinomial.
    multi_class = getattr(est, "multi_class", "auto")
    solver = getattr(est, "solver", "lbfgs")
    ovr = multi_class in ("ovr", "warn") or (
        multi_class in ("auto", "deprecated", None) and (n_classes <= 2 or solver == "liblinear"))
    if coef.shape[0] == 1:
        link = "logistic_binary" if ovr else "softmax_binary"
    else:
        link = "logistic_ovr" if ovr else "softmax"
    doc.update({"n_outputs": int(coef.shape[0]), "init": _floats(intercept), "link": link,
                "decision": "argmax_margin",
                "linear": {"coef": [_floats(r) for r in coef]}})
    return doc


def _linear_regressor(est, name, feature_names):
    doc = _base(est, name, "regressor", feature_names)
    coef = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64))
    if intercept.size == 1 and coef.shape[0] > 1:
        intercept = np.repeat(intercept, coef.shape[0])
    doc.update({"n_outputs": int(coef.shape[0]), "init": _floats(intercept), "link": "identity",
                "decision": "value", "linear": {"coef": [_floats(r) for r in coef]}})
    return doc


_EXPORTERS = {
    "DecisionTreeClassifier": _single_tree,
    "DecisionTreeRegressor": _single_tree,
    "ExtraTreeClassifier": _single_tree,
    "ExtraTreeRegressor": _single_tree,
    "RandomForestClassifier": _forest,
    "RandomForestRegressor": _forest,
    "ExtraTreesClassifier": _forest,
    "ExtraTreesRegressor": _forest,
    "GradientBoostingClassifier": _gradient_boosting,
    "GradientBoostingRegressor": _gradient_boosting,
    "HistGradientBoostingClassifier": _hist_gradient_boosting,
    "HistGradientBoostingRegressor": _hist_gradient_boosting,
    "LogisticRegression": _linear_classifier,
    "LogisticRegressionCV": _linear_classifier,
    "LinearRegression": _linear_regressor,
    "Ridge": _linear_regressor,
    "RidgeCV": _linear_regressor,
    "Lasso": _linear_regressor,
    "LassoCV": _linear_regressor,
    "ElasticNet": _linear_regressor,
    "ElasticNetCV": _linear_regressor,
}


# -------------------------------------------------------------------- public

def to_dict(estimator, feature_names=None):
    """The mops-sklearn document of a fitted estimator, as a dict.

    feature_names overrides the names the estimator learnt from a DataFrame
    (feature_names_in_); with neither, the model has no names and mops takes
    input columns by position. Raises ExportError for estimators or settings
    the format does not cover."""
    name = type(estimator).__name__
    fn = _EXPORTERS.get(name)
    if fn is None:
        raise ExportError("%s is not supported; supported: %s" % (name, ", ".join(sorted(_EXPORTERS))))
    if not hasattr(estimator, "n_features_in_"):
        raise ExportError("the %s is not fitted" % name)
    return fn(estimator, name, feature_names)


def export(estimator, path, feature_names=None):
    """Write the estimator to path in the mops-sklearn JSON format."""
    doc = to_dict(estimator, feature_names)
    with open(path, "w", encoding="utf-8") as f:
        # Python writes floats with repr, which reads back to the same double.
        json.dump(doc, f, allow_nan=False, separators=(",", ":"))
        f.write("\n")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        print("usage: mops_sklearn.py MODEL.pkl OUT.json\n\n"
              "Write a pickled, fitted scikit-learn estimator in the mops JSON format.\n"
              "Unpickling runs code: only use pickles you trust.", file=sys.stderr)
        return 2
    with open(argv[0], "rb") as f:
        est = pickle.load(f)
    try:
        export(est, argv[1])
    except ExportError as e:
        print("mops_sklearn: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
