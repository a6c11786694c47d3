#!/usr/bin/env bash
# Peak memory of a long sweep against a short one (issue 20's target: 16,000 points of small
# shapes within 1.2x of 100 points), on the CPU reference. Sweep files are generated into a
# temporary folder; outputs go there too and are removed at the end.
#
#   cargo build --release && bash benches/sweep-memory.sh [POINTS...]   (default: 100 16000)
set -euo pipefail
emu=${EMU:-target/release/highlight-emu}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
points=("${@:-100 16000}")
# shellcheck disable=SC2206
points=(${points[@]})
for p in "${points[@]}"; do
    # Five A degrees x B densities x grids of 16 x 32 x (16 + grid): p points in all.
    python3 - "$work/p$p.toml" "$p" <<'PY'
import sys
path, points = sys.argv[1], int(sys.argv[2])
grids = max(1, points // 1000)
per_grid = points // grids // 5
b = ", ".join(f"{i / (per_grid + 1):.6f}" for i in range(per_grid))
text = f'name = "p{points}"\n' + "".join(
    f"[[grid]]\nm = 16\nk = 32\nn = {16 + j}\na_sparsity = [0.0, 0.5, 0.625, 0.75, 0.875]\nb_sparsity = [{b}]\n"
    for j in range(grids))
open(path, "w").write(text)
PY
    /usr/bin/time -f "%M %e" -o "$work/time" "$emu" sweep "$work/p$p.toml" --backend cpu --out "$work/out$p" >/dev/null
    read -r kb seconds <"$work/time"
    echo "points $p: peak $((kb / 1024)) MB, $seconds s"
    echo "$kb" >>"$work/peaks"
done
python3 - "$work/peaks" <<'PY'
import sys
peaks = [int(l) for l in open(sys.argv[1])]
print(f"peak of the last sweep over the first's: {peaks[-1] / peaks[0]:.2f}x (target: at most 1.2x)")
PY
