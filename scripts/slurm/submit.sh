#!/bin/bash
# Submits a sweep as a job array of SHARDS tasks and its merge as a job that runs once every task
# has succeeded; prints the two job ids. Run it from the folder the jobs should start in.
#   scripts/slurm/submit.sh SWEEP.toml OUT SHARDS [--gpu] [ARGS...]
# --gpu asks each task for one GPU (--gres=gpu:1) and runs the sweep on it; otherwise on the CPU
# reference. ARGS go to `sweep`.
set -euo pipefail
here=$(dirname "$(realpath "$0")")
sweep=${1:?usage: submit.sh SWEEP.toml OUT SHARDS [--gpu] [ARGS...]}
out=${2:?give the output folder}
shards=${3:?give the number of shards}
shift 3
gres=() backend=cpu
if [ "${1:-}" = "--gpu" ]; then
    gres=(--gres=gpu:1) backend=gpu
    shift
fi
case "$shards" in '' | *[!0-9]* | 0) echo "error: SHARDS $shards: give a whole number, at least 1" >&2; exit 2 ;; esac
array=$(sbatch --parsable "${gres[@]}" --array=0-$((shards - 1)) \
    "$here/sweep-array.sbatch" "$sweep" "$out" "$shards" "$backend" "$@")
merge=$(sbatch --parsable --dependency=afterok:"${array%%;*}" "$here/merge.sbatch" "$out" "$shards")
echo "${array%%;*} ${merge%%;*}"
