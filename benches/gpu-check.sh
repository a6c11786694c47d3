#!/usr/bin/env bash
# The GPU machine's check for the GPU emulation (issue 4): every supported HighLight pattern at
# 1024^3 with dense and 50 %-sparse B under --check, then one 4096^3 run under --check.
# Run on the GPU machine from the project root, with the release binary in .gl/bin/ (see
# shared/device/README.md); writes one JSON result per run and a summary under $OUT (default
# ./gpu-check).
set -uo pipefail
# SIZE and BIG shrink the shapes for a trial run elsewhere (HIGHLIGHT_ADAPTER=llvmpipe on lavapipe).
size=${SIZE:-1024}
big=${BIG:-4096}
bin=${BIN:-.gl/bin/highlight-emu}
out=${OUT:-gpu-check}
mkdir -p "$out"
"$bin" devices | tee "$out/devices.txt"
summary="$out/summary.tsv"
printf 'design\tm\tk\tn\ta\tb\tcpu_gpu_equal\tz_equals_dense\tgpu_time_ms\twall_ms\trc\n' > "$summary"
one() {
    local m=$1 k=$2 n=$3 a=$4 b=$5 name=$6
    "$bin" run --design highlight --backend gpu --check --json --m "$m" --k "$k" --n "$n" --a "$a" --b "$b" \
        > "$out/$name.json" 2> "$out/$name.err"
    local rc=$?
    python3 - "$out/$name.json" "$m" "$k" "$n" "$a" "$b" "$rc" >> "$summary" <<'PY'
import json, sys
path, m, k, n, a, b, rc = sys.argv[1:]
try:
    r = json.load(open(path))
    c = r.get("check", {})
    print("\t".join(map(str, ["highlight", m, k, n, a, b, c.get("cpu_gpu_equal"), c.get("z_equals_dense"),
                               r.get("gpu_time_ms"), round(r.get("wall_ms"), 2), rc])))
except Exception as e:
    print("\t".join(["highlight", m, k, n, a, b, "error", str(e), "", "", rc]))
PY
}
for h1 in 2 3 4 5 6 7 8; do
    for h0 in 2 3 4; do
        for b in dense 'unstructured(0.5)'; do
            one "$size" "$size" "$size" "K1(2:$h1)->K0(2:$h0)" "$b" "$size-h1$h1-h0$h0-$(echo "$b" | tr -cd 'a-z0-9')"
        done
    done
done
one "$big" "$big" "$big" 'K1(2:4)->K0(2:4)' dense "$big-h14-h04-dense"
column -t "$summary"
