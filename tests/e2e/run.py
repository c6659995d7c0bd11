#!/usr/bin/python3
"""Run the end-to-end tests: every tests/e2e/test_*.py, against the binary in
$MOPS_BIN. Test files run as separate processes, two at a time (the CI
machine has two cores); a file's output is printed when it finishes.

    MOPS_BIN=build/release/mops /usr/bin/python3 tests/e2e/run.py [PATTERN...]
"""
import concurrent.futures
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_one(path):
    start = time.time()
    p = subprocess.run([sys.executable, "-m", "unittest", "-v", os.path.basename(path)[:-3]],
                       cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return path, p.returncode, p.stdout, time.time() - start


def main():
    if not os.environ.get("MOPS_BIN"):
        sys.exit("run.py: set MOPS_BIN to the mops binary under test")
    os.environ["MOPS_BIN"] = os.path.abspath(os.environ["MOPS_BIN"])
    files = sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    if len(sys.argv) > 1:
        files = [f for f in files if any(a in os.path.basename(f) for a in sys.argv[1:])]
    jobs = int(os.environ.get("MOPS_TEST_JOBS", "2"))
    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for path, rc, out, secs in ex.map(run_one, files):
            name = os.path.basename(path)
            print(f"== {name} ({secs:.1f}s) {'ok' if rc == 0 else 'FAILED'}", flush=True)
            if rc != 0 or os.environ.get("MOPS_TEST_VERBOSE"):
                print(out, flush=True)
            if rc != 0:
                failed.append(name)
    if failed:
        print("e2e: FAILED: " + ", ".join(failed))
        sys.exit(1)
    print(f"e2e: {len(files)} files passed")


if __name__ == "__main__":
    main()
