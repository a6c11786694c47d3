// Shared prelude, compiled in front of every kernel (src/gpu/mod.rs, Gpu::pipeline): the counter
// indices, in the order of Counters::NAMES in src/counters.rs (a test checks it), the workgroup's
// counter row, and the int8 unpacking every kernel uses.

const C_GLB_READ_A = 0u;
const C_GLB_READ_A_META_BITS = 1u;
const C_GLB_READ_B = 2u;
const C_GLB_READ_B_META_BITS = 3u;
const C_GLB_WRITE_Z = 4u;
const C_PE_REG_WRITE = 5u;
const C_PE_REG_READ = 6u;
const C_VFMU_WRITE = 7u;
const C_VFMU_READ = 8u;
const C_RANK1_MUX = 9u;
const C_RANK0_MUX = 10u;
const C_SKIP_SELECT_MUX = 11u;
const C_MAC = 12u;
const C_MAC_GATED = 13u;
const C_ADDER = 14u;
const C_RF_READ = 15u;
const C_RF_WRITE = 16u;
const C_CYCLES = 17u;
const NUM_COUNTERS = 18u;

// 0x80 in each nonzero byte of a word of four int8 values, 0 in the others.
fn nonzero_bytes(word: u32) -> u32 {
    return (((word & 0x7f7f7f7fu) + 0x7f7f7f7fu) | word) & 0x80808080u;
}

// Byte `i % 4` of a little-endian word of four int8 values, sign-extended.
fn byte_of(word: u32, i: u32) -> i32 {
    return extractBits(bitcast<i32>(word), (i & 3u) * 8u, 8u);
}

// The workgroup's row in its kernel's `counters` buffer: NUM_COUNTERS counts, then the outer-loop
// steps (k-steps, k, K blocks) every invocation of the workgroup completed and counted. The host
// knows how many each workgroup must complete (src/gpu/selfcheck.rs): a short count is a workgroup
// cut short (Mesa's software driver ends a shader's loops after 65535 iterations in total and runs
// the code after them), a row of 0 one that never reported.
const ROW_WORDS = NUM_COUNTERS + 1u;

// The workgroup's counts: each invocation adds its own, then the kernel writes the row of
// ROW_WORDS words to its `counters` buffer, which the host sums in u64.
var<workgroup> wg_counts: array<atomic<u32>, NUM_COUNTERS>;
var<workgroup> wg_steps: atomic<u32>;

// Clears the workgroup's row; every invocation calls it before the kernel's first barrier.
fn start_workgroup(lid: u32) {
    if lid < NUM_COUNTERS {
        atomicStore(&wg_counts[lid], 0u);
    }
    if lid == 0u {
        atomicStore(&wg_steps, 0xffffffffu);
    }
}

// Adds one invocation's counts, and the outer-loop steps it completed, to the workgroup's; every
// invocation calls it between barriers. An invocation whose adding loop was cut short reports no
// steps, so that counts lost here show in the row too.
fn add_to_workgroup(count: ptr<function, array<u32, NUM_COUNTERS>>, steps: u32) {
    var c = 0u;
    for (; c < NUM_COUNTERS; c++) {
        if (*count)[c] != 0u {
            atomicAdd(&wg_counts[c], (*count)[c]);
        }
    }
    atomicMin(&wg_steps, select(0u, steps, c == NUM_COUNTERS));
}

// Word `i` of the workgroup's row: invocation i < ROW_WORDS writes it after the last barrier.
fn row_word(i: u32) -> u32 {
    if i < NUM_COUNTERS {
        return atomicLoad(&wg_counts[i]);
    }
    return atomicLoad(&wg_steps);
}
