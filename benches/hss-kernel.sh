#!/bin/bash
# The one tensor-core kernel for every HSS design against the kernel before it (issue 21's
# target: at most 1.1x on lavapipe at 256^3), on one machine in one run: OLD is a highlight-emu
# binary built from the commit before the change, NEW this one. Rounds alternate the two, since
# these machines are shared and noisy; compare medians.
#   bash benches/hss-kernel.sh /tmp/old/highlight-emu [target/release/highlight-emu] [rounds]
set -euo pipefail
old=${1:?give the old binary}
new=${2:-target/release/highlight-emu}
rounds=${3:-3}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
for round in $(seq "$rounds"); do
    for bin in "$old" "$new"; do
        "$bin" bench --sizes 256 --designs highlight,tc --repeats 9 --backend gpu --adapter llvmpipe \
            | awk -v who="$([ "$bin" = "$old" ] && echo old || echo new)" -v r="$round" \
                '$1 == "highlight" || $1 == "tc" { print r, who, $1, $3, $4 " ms" }'
    done
done
