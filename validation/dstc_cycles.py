"""DSTC's cycles two ways, from operands saved by `highlight-emu run --design dstc --save DIR`:
the machine's own count (one vector of 16 A nonzeros and one of 16 B nonzeros per cycle, summed
per k-step, the 2 x 2 arrays synced per Z tile) and Sparseloop's position-space formula (the
products over 1024 MACs at the mean lane utilisation of each operand). An independent check of
the emulator's count and the measurement docs/DESIGN.md 11 argues DSTC's cycle model from.

    python3 validation/dstc_cycles.py DIR SUB_ROWS SUB_COLS
"""
import sys

import numpy as np

LANES, SIDE = 16, 2


def cycles(a, b, sub_rows, sub_cols):
    m, k = a.shape
    n = b.shape[1]
    occ_a = np.add.reduceat(a != 0, np.arange(0, m, sub_rows), axis=0)  # spans x K
    occ_b = np.add.reduceat(b != 0, np.arange(0, n, sub_cols), axis=1)  # K x spans
    vec_a, vec_b = np.ceil(occ_a / LANES), np.ceil(occ_b / LANES)
    per_array = vec_a @ vec_b  # array (i, j): sum over k of ceil(a/16) ceil(b/16)
    rows, cols = per_array.shape
    per_step = sum(
        per_array[i:i + SIDE, j:j + SIDE].max() for i in range(0, rows, SIDE) for j in range(0, cols, SIDE)
    )
    u_a = (occ_a / (LANES * vec_a))[occ_a > 0].mean()
    u_b = (occ_b / (LANES * vec_b))[occ_b > 0].mean()
    products = int(((a != 0).sum(0).astype(np.int64) * (b != 0).sum(1)).sum())
    formula = products / (SIDE * SIDE * LANES * LANES * u_a * u_b)
    return int(per_step), formula, occ_a.mean(), (occ_a > LANES).mean()


if __name__ == "__main__":
    folder, sub_rows, sub_cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    a, b = np.load(f"{folder}/a.npy"), np.load(f"{folder}/b.npy")
    per_step, formula, mean_a, over = cycles(a, b, sub_rows, sub_cols)
    print(f"per step {per_step}, Sparseloop's formula {formula:.0f}, ratio {per_step / formula:.3f}; "
          f"A nonzeros per sub-tile and k: mean {mean_a:.2f}, {100 * over:.0f} % of steps over {LANES}")
