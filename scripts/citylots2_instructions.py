#!/usr/bin/env python3
"""Instructions per routed event on the citylots2 rule sets, counted by
valgrind (callgrind), so that router changes can be compared on a shared
machine whose wall-clock speed varies by 2x from one minute to the next.

Usage:
    cargo bench --bench citylots2 --no-run
    scripts/citylots2_instructions.py target/release/deps/citylots2-<hash> [SET ...]

Each set is routed once over the first 20,000 events (the benchmark's test
mode, which also checks the counts); the cost of loading the file is measured
with no set and subtracted. CITYLOTS2_VALIDATION=referenced in the
environment counts `Validation::Referenced` instead of full validation.
"""

import os
import re
import subprocess
import sys
import tempfile

EVENTS = 20_000
SETS = [
    "EXACT", "WILDCARD", "PREFIX", "PREFIX_EQUALS_IGNORE_CASE", "SUFFIX",
    "SUFFIX_EQUALS_IGNORE_CASE", "EQUALS_IGNORE_CASE", "NUMERIC", "ANYTHING_BUT",
    "ANYTHING_BUT_IGNORE_CASE", "ANYTHING_BUT_PREFIX", "ANYTHING_BUT_SUFFIX",
    "ANYTHING_BUT_WILDCARD", "COMPLEX_ARRAYS", "PARTIAL_COMBO", "COMBO",
]


def instructions(binary: str, sets: str) -> int:
    """Total instructions of one test-mode run limited to `sets`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary],
            env={**os.environ, "CITYLOTS2_SETS": sets},
            capture_output=True, text=True, check=False,
        )
        if run.returncode != 0:
            sys.exit(f"{binary} failed for {sets}:\n{run.stdout}\n{run.stderr}")
        found = re.search(r"refs:\s+([\d,]+)", run.stderr)
        if not found:
            sys.exit(f"no instruction count in valgrind's output for {sets}")
        return int(found.group(1).replace(",", ""))


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary, wanted = sys.argv[1], sys.argv[2:] or SETS
    base = instructions(binary, "NONE")
    print("| rule set | instructions per event |")
    print("|---|---|")
    for name in wanted:
        per_event = (instructions(binary, name) - base) / EVENTS
        print(f"| {name} | {per_event:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
