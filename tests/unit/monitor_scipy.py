#!/usr/bin/python3
"""Reference figures for tests/unit/test_monitor.c: draws two samples (seeded),
computes every drift statistic with SciPy/numpy as monitor.h defines them,
and prints the data and figures as JSON."""
import json
import sys

import numpy as np
from scipy import stats
from scipy.spatial import distance

rng = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
n, m = int(sys.argv[2]) if len(sys.argv) > 2 else 700, int(sys.argv[3]) if len(sys.argv) > 3 else 500
ref = rng.normal(0.0, 1.0, n)
cur = rng.normal(0.3, 1.2, m)
cur[:20] = np.round(cur[:20], 1)  # some ties
ks = stats.ks_2samp(ref, cur)
en = n * m / (n + m)
edges = np.quantile(ref, np.arange(1, 10) / 10)
rb = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=10) / n
cb = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=10) / m
r, c = np.where(rb == 0, 1e-4, rb), np.where(cb == 0, 1e-4, cb)
cat_ref = np.array([50, 30, 0, 20], float)
cat_cur = np.array([40, 45, 0, 15], float)
keep = (cat_ref + cat_cur) > 0
chi = stats.chi2_contingency(np.array([cat_ref[keep], cat_cur[keep]]))
cat2_ref, cat2_cur = np.array([30, 70], float), np.array([45, 55], float)
chi2 = stats.chi2_contingency(np.array([cat2_ref, cat2_cur]))
print(json.dumps({
    "ref": ref.tolist(), "cur": cur.tolist(),
    "ks": ks.statistic, "ks_p_asymp": stats.kstwobign.sf(ks.statistic * np.sqrt(en)),
    "ks_p_scipy": ks.pvalue,
    "wasserstein": stats.wasserstein_distance(ref, cur) / np.std(ref),
    "psi": float(np.sum((c - r) * np.log(c / r))),
    "js": float(distance.jensenshannon(rb, cb)),
    "cat_ref": cat_ref.tolist(), "cat_cur": cat_cur.tolist(), "chi2_p": chi.pvalue,
    "cat_js": float(distance.jensenshannon(cat_ref, cat_cur)),
    "cat2_ref": cat2_ref.tolist(), "cat2_cur": cat2_cur.tolist(), "chi2_p2": chi2.pvalue,
}))
