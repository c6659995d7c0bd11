#!/usr/bin/python3
"""Train the demo's churn model (what `make run` registers) with Debian's
python3-xgboost, deterministically, and write it as XGBoost JSON with its
holdout rows. Re-run to regenerate: /usr/bin/python3 demo/train_churn.py"""
import csv
import os

import numpy as np
import xgboost as xgb

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract_months",
            "late_payments", "data_usage_gb"]


def synth(n, rng):
    tenure = rng.integers(1, 72, n)
    charges = rng.uniform(20, 120, n).round(2)
    calls = rng.poisson(1.5, n)
    contract = rng.choice([1, 12, 24], n, p=[0.5, 0.3, 0.2])
    late = rng.poisson(0.4, n)
    usage = rng.gamma(2.0, 8.0, n).round(1)
    logit = (-1.2 - 0.04 * tenure + 0.015 * charges + 0.45 * calls - 0.06 * contract
             + 0.7 * late - 0.01 * usage)
    churn = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    x = np.column_stack([tenure, charges, calls, contract, late, usage]).astype(float)
    # Some customers never filled in their usage: missing values.
    x[rng.uniform(size=n) < 0.05, 5] = np.nan
    return x, churn


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(42)
    x, y = synth(5000, rng)
    model = xgb.XGBClassifier(n_estimators=40, max_depth=4, learning_rate=0.2,
                              objective="binary:logistic", random_state=42, n_jobs=1)
    model.fit(x, y)
    booster = model.get_booster()
    booster.feature_names = FEATURES
    booster.save_model(os.path.join(here, "churn-xgboost.json"))
    xh, yh = synth(500, rng)
    with open(os.path.join(here, "churn-holdout.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FEATURES + ["churned"])
        for row, label in zip(xh, yh):
            w.writerow(["" if np.isnan(v) else ("%g" % v) for v in row] + [label])


if __name__ == "__main__":
    main()
