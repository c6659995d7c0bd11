#!/usr/bin/python3
"""make_data.py OUT.csv --mb N — the benchmark's CSV file: N megabytes of
transactions with numeric, boolean, timestamp and string columns (a few
quoted fields with commas), like an export a data team registers. Seeded,
so the same N gives the same bytes."""
import argparse
import random

CITIES = ["City%03d" % i for i in range(800)]
CATEGORIES = ["groceries", "fuel", "travel", "electronics", "books", "clothing", "health",
              "dining", "utilities", "gaming", "furniture", "garden"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mb", type=int, default=300)
    a = ap.parse_args()
    rng = random.Random(42)
    target = a.mb * 1000 * 1000
    size = 0
    i = 0
    with open(a.out, "w", newline="") as f:
        head = ("id,ts,amount,quantity,score,category,city,email,flag,note\n")
        f.write(head)
        size += len(head)
        lines = []
        while size < target:
            note = rng.choice(["", "ok", "refund requested", "\"late, but ok\"", "gift"])
            line = "%d,2024-%02d-%02dT%02d:%02d:%02dZ,%.2f,%d,%.6f,%s,%s,user%d@example.com,%s,%s\n" % (
                i, rng.randrange(1, 13), rng.randrange(1, 29), rng.randrange(24),
                rng.randrange(60), rng.randrange(60), rng.lognormvariate(3, 1),
                rng.randrange(1, 20), rng.gauss(0, 1), rng.choice(CATEGORIES),
                rng.choice(CITIES), rng.randrange(2000000), rng.choice(("true", "false")), note)
            lines.append(line)
            size += len(line)
            i += 1
            if len(lines) == 10000:
                f.write("".join(lines))
                lines = []
        f.write("".join(lines))
    print("%s: %d rows, %.1f MB" % (a.out, i, size / 1e6))


if __name__ == "__main__":
    main()
