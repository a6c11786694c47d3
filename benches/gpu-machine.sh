#!/usr/bin/env bash
# Everything the GPU machine measures, in one run (see shared/device/README.md): the GPU check of
# every HighLight pattern (benches/gpu-check.sh), emulation throughput of every design at 1024^3
# and 4096^3 on the GPU and the CPU reference, a PyTorch fp32 matmul of the same shapes with TF32
# disabled (the cuBLAS limit for a plain SIMT product) and the ratios, the tensor-core kernel's
# alternatives (HIGHLIGHT_GATHER, HIGHLIGHT_K_SPLITS, HIGHLIGHT_DOUBLE_BUFFER, HIGHLIGHT_COLUMNS,
# HIGHLIGHT_ARRAYS_PER_WORKGROUP), and the fig13 sweep timed end to end with
# and without --check. Logs and JSON go to $OUT.
#
# Prepare here: ../shared/device/prepare.sh; cargo build --release;
#   mkdir -p .gl/bin && cp target/release/highlight-emu .gl/bin/
# Then on the device: carry [".gl"] and run  bash benches/gpu-machine.sh
set -uo pipefail
out=${OUT:-gpu-machine}
mkdir -p "$out"
if [ -d .gl ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
export XDG_RUNTIME_DIR=/tmp WGPU_BACKEND=vulkan
bin=${BIN:-.gl/bin/highlight-emu}
if ! "$bin" devices | grep -q hardware; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
"$bin" devices | tee "$out/devices.txt"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv > "$out/card.csv" 2>&1

echo "== GPU check of every HighLight pattern"
OUT="$out/gpu-check" BIN="$bin" bash benches/gpu-check.sh > "$out/gpu-check.log" 2>&1
tail -45 "$out/gpu-check.log"

echo "== emulation throughput, GPU"
"$bin" bench --sizes 1024,4096 --backend gpu --repeats 5 --json > "$out/bench-gpu.json" 2> "$out/bench-gpu.err"
echo "== emulation throughput, CPU reference ($(nproc) cores)"
"$bin" bench --sizes 1024,4096 --backend cpu --repeats 1 --json > "$out/bench-cpu.json" 2> "$out/bench-cpu.err"

echo "== cuBLAS fp32 (TF32 off)"
python3 - "$out" <<'PY'
import json, sys
import torch
out = sys.argv[1]
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
res = {}
for n in (1024, 4096):
    a = torch.randn(n, n, device="cuda"); b = torch.randn(n, n, device="cuda")
    for _ in range(5):
        a @ b
    torch.cuda.synchronize()
    times = []
    for _ in range(20):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); a @ b; e.record(); torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    res[n] = times[len(times) // 2]
json.dump({"device": torch.cuda.get_device_name(), "fp32_ms": res}, open(f"{out}/cublas.json", "w"))
bench = json.load(open(f"{out}/bench-gpu.json"))
cpu = json.load(open(f"{out}/bench-cpu.json"))
print(f"{'design':<15} {'size':>5} {'A':>4} {'GPU ms':>9} {'cuBLAS ms':>9} {'ratio':>7} {'dense-eq MAC/s':>15} {'CPU dense-eq/s':>15}")
for r in bench:
    c = next((x for x in cpu if x["design"] == r["design"] and x["size"] == r["size"] and x["a_sparsity"] == r["a_sparsity"]), None)
    g = r["gpu_ms"] if r["gpu_ms"] is not None else r["wall_ms"]
    print(f"{r['design']:<15} {r['size']:>5} {int(100*r['a_sparsity']):>3}% {g:>9.3f} {res[r['size']]:>9.3f} {g / res[r['size']]:>7.2f} "
          f"{r['dense_equivalent_macs_per_s']:>15.3e} {(c['dense_equivalent_macs_per_s'] if c else float('nan')):>15.3e}")
PY

echo "== the tensor-core kernel's alternatives on this card, HighLight and TC, GPU ms: the hardware"
echo "   default (window in workgroup memory, K split for small shapes, double-buffered A, 1 array"
echo "   per workgroup, 2 columns per invocation), then one setting changed at a time"
for alt in "default" "HIGHLIGHT_GATHER=private" "HIGHLIGHT_K_SPLITS=1" "HIGHLIGHT_DOUBLE_BUFFER=0" \
    "HIGHLIGHT_COLUMNS=1" "HIGHLIGHT_COLUMNS=4" "HIGHLIGHT_ARRAYS_PER_WORKGROUP=2" \
    "HIGHLIGHT_ARRAYS_PER_WORKGROUP=4 HIGHLIGHT_COLUMNS=1"; do
    name=$(echo "$alt" | tr ' =' '_-')
    env $([ "$alt" = default ] || echo "$alt") "$bin" bench --sizes 1024,4096 --designs tc,highlight \
        --backend gpu --repeats 5 --json > "$out/bench-alt-$name.json" 2>/dev/null
    python3 -c "import json,sys; print('$alt:', [(r['design'], r['size'], r['a_sparsity'], r['gpu_ms']) for r in json.load(open(sys.argv[1]))])" \
        "$out/bench-alt-$name.json"
done

echo "== fig13 sweep, end to end"
for check in "" "--check"; do
    start=$(date +%s.%N)
    "$bin" sweep workloads/fig13.toml --backend gpu $check --out "$out/fig13$check" > "$out/sweep$check.log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    echo "sweep $check: rc $rc, $(echo "$end - $start" | bc) s"
done
tail -20 "$out/sweep--check.log"
