"""What the Python package adds to a run: hl.run on NumPy arrays against the CLI on the same
operands as .npy files, both on the CPU reference, in alternating rounds (these machines are
shared and noisy: compare medians measured in one run).

    target/python-venv/bin/python benches/python_overhead.py [SIZE] [ROUNDS]

Needs the package installed (tests/python.rs leaves it in target/python-venv) and the CLI built
(cargo build --release).
"""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import highlight_emu as hl

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "target" / "release" / "highlight-emu"


def main():
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rng = np.random.default_rng(0)
    a = hl.prune(rng.integers(-127, 128, size=(size, size), dtype=np.int8), "C1(2:4)->C0(2:4)")
    b = rng.integers(-127, 128, size=(size, size), dtype=np.int8)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "a.npy", a)
        np.save(Path(tmp) / "b.npy", b)
        cli = [str(BIN), "run", "--design", "highlight", "--a-file", f"{tmp}/a.npy", "--b-file",
               f"{tmp}/b.npy", "--backend", "cpu", "--json"]
        times = {"cli": [], "python": []}
        for _ in range(rounds):
            t = time.perf_counter()
            subprocess.run(cli, check=True, capture_output=True)
            times["cli"].append(time.perf_counter() - t)
            t = time.perf_counter()
            hl.run("highlight", a_array=a, b_array=b, backend="cpu")
            times["python"].append(time.perf_counter() - t)
    for name, ts in times.items():
        print(f"{name:>6}: " + ", ".join(f"{x:.2f}" for x in ts) + f" s (median {statistics.median(ts):.2f})")
    print(f"python / cli (medians): {statistics.median(times['python']) / statistics.median(times['cli']):.3f}")


if __name__ == "__main__":
    main()
