// GPU twin of src/reference/highlight.rs: the tensor-core loop nest of docs/DESIGN.md 6, which
// HighLight, TC and STC are configurations of (rank1_saf, rank0_saf, vfmu, gating).
//
// One workgroup emulates one PE array (up to 16 rows of M) on one RF tile of 128 output columns;
// invocation `n` of the workgroup is cycle n of the tile, i.e. output column n. Per k-step:
//   1. load A: the array's PE registers receive each PE's block slot (G0 values with their K0
//      coordinates, and the block's K1 coordinate) from the hierarchical CP buffers;
//   2. VFMU: each cycle fetches the k-step's window of B's column n (dense, or blocked CSR
//      re-expanded) once for all rows;
//   3. rank1 mux: each PE picks its K1 block of the window; rank0 mux: each MAC picks its B value
//      by its K0 coordinate; the MAC is gated when the A slot or the B value is zero;
//   4. the row's products are summed and accumulated into the RF partial sum of Z[m, n].
// Every invocation counts what it does; the workgroup's counts go to `counters`, one row of
// NUM_COUNTERS words per workgroup, summed on the host in u64. Counting conventions are the CPU
// reference's.

struct Params {
    rows: u32,              // rows of A and Z in this dispatch (a multiple of a row group, or the rest)
    k: u32,                 // K before padding
    n: u32,                 // columns of B and Z
    fibers: u32,            // K1 fibers per row
    g1: u32,
    h1: u32,
    g0: u32,
    h0: u32,
    fibers_per_step: u32,   // K1 fibers a row of PEs covers per k-step
    rank1_saf: u32,         // 1: K1 coordinates are read, rank1 muxes select blocks
    rank0_saf: u32,         // 1: A is read compressed with K0 coordinates, rank0 muxes select values
    vfmu: u32,              // 1: a VFMU buffers the B window
    gating: u32,            // 1: zero operands are gated; 0: every MAC slot is performed
    b_csr: u32,             // 1: B is blocked CSR; 0: dense
    b_blocks: u32,          // CSR blocks per column
    h1_bits: u32,           // K1 coordinate bits
    h0_bits: u32,           // K0 coordinate bits
    offset_bits: u32,       // CSR offset bits
    addr_bits: u32,         // CSR address bits
    rows_per_array: u32,
    arrays_per_group: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Counter indices: the order of Counters::NAMES in src/counters.rs (a test checks it).
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

const TILE_N = 128u;            // RF tile columns = invocations per workgroup
const MAX_ROWS = 16u;           // rows per PE array
const MAX_PES = 16u;            // PEs per row of one k-step
const MAX_SLOTS = 32u;          // MAC slots per row of one k-step
const MAX_WINDOW_WORDS = 32u;   // B window of one k-step: up to 128 int8 values, 4 per word

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a_k1: array<u32>;        // K1 coordinate per block slot
@group(0) @binding(2) var<storage, read> a_slot: array<u32>;      // value (8 bits) | K0 coordinate << 8
@group(0) @binding(3) var<storage, read> b_dense: array<u32>;     // B row-major, 4 int8 per word
@group(0) @binding(4) var<storage, read> b_block_start: array<u32>;
@group(0) @binding(5) var<storage, read> b_block_end: array<u32>;
@group(0) @binding(6) var<storage, read> b_nonzero: array<u32>;   // value (8 bits) | offset << 8
@group(0) @binding(7) var<storage, read_write> z: array<i32>;
@group(0) @binding(8) var<storage, read_write> counters: array<u32>;

// PE registers of the array: the stationary A slots of the current k-step.
var<workgroup> reg_value: array<i32, 512>;   // MAX_ROWS * MAX_SLOTS
var<workgroup> reg_k0: array<u32, 512>;
var<workgroup> reg_k1: array<u32, 256>;      // MAX_ROWS * MAX_PES
var<workgroup> wg_counts: array<atomic<u32>, NUM_COUNTERS>;

fn byte_of(word: u32, i: u32) -> i32 {
    return extractBits(bitcast<i32>(word), (i & 3u) * 8u, 8u);
}

@compute @workgroup_size(128)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    var count: array<u32, NUM_COUNTERS>;
    var acc: array<i32, MAX_ROWS>;
    var window: array<u32, MAX_WINDOW_WORDS>;

    let n = wg.x * TILE_N + lid;
    let cycle_active = n < p.n;
    let first_row = wg.y * p.rows_per_array;
    let rows_active = min(p.rows_per_array, p.rows - min(p.rows, first_row));
    // The B window is fetched once per cycle for every array of the group: array 0 counts it.
    let fetch_counter = (wg.y % p.arrays_per_group) == 0u;
    let span = p.h1 * p.h0;
    let slots_per_step = p.fibers_per_step * p.g1 * p.g0;

    if lid < NUM_COUNTERS {
        atomicStore(&wg_counts[lid], 0u);
    }

    for (var first_fiber = 0u; first_fiber < p.fibers; first_fiber += p.fibers_per_step) {
        let fibers_here = min(p.fibers_per_step, p.fibers - first_fiber);
        let pes = fibers_here * p.g1;
        let slots = pes * p.g0;

        // 1. Load A into the PE registers, all invocations together.
        workgroupBarrier();
        for (var i = lid; i < rows_active * slots_per_step; i += TILE_N) {
            let r = i / slots_per_step;
            let s = i % slots_per_step;
            let pe = s / p.g0;
            let fiber = first_fiber + pe / p.g1;
            if fiber < p.fibers {
                let block_slot = ((first_row + r) * p.fibers + fiber) * p.g1 + pe % p.g1;
                let word = a_slot[block_slot * p.g0 + s % p.g0];
                let k1 = a_k1[block_slot];
                let k0 = word >> 8u;
                reg_value[r * MAX_SLOTS + s] = byte_of(word, 0u);
                reg_k0[r * MAX_SLOTS + s] = k0;
                count[C_PE_REG_WRITE] += 1u;
                if p.rank0_saf == 1u {
                    count[C_GLB_READ_A] += 1u;
                    count[C_GLB_READ_A_META_BITS] += p.h0_bits;
                    if p.rank1_saf == 1u && s % p.g0 == 0u {
                        count[C_GLB_READ_A_META_BITS] += p.h1_bits;
                    }
                } else if fiber * span + k1 * p.h0 + k0 < p.k {
                    // Stored densely: only k < K is read.
                    count[C_GLB_READ_A] += 1u;
                }
                if s % p.g0 == 0u {
                    reg_k1[r * MAX_PES + pe] = k1;
                }
            }
        }
        workgroupBarrier();

        if cycle_active {
            // 2. VFMU: the k-step's window of column n, expanded to dense.
            let lo = first_fiber * span;
            let width = fibers_here * span;
            let hi = min(p.k, lo + width);
            for (var w = 0u; w < MAX_WINDOW_WORDS; w++) {
                window[w] = 0u;
            }
            if p.b_csr == 0u {
                for (var kk = lo; kk < hi; kk++) {
                    let idx = kk * p.n + n;
                    let v = bitcast<u32>(byte_of(b_dense[idx >> 2u], idx)) & 0xffu;
                    let kl = kk - lo;
                    window[kl >> 2u] |= v << ((kl & 3u) * 8u);
                }
                if fetch_counter {
                    count[C_GLB_READ_B] += hi - lo;
                }
            } else {
                let first_block = lo / p.h0;
                let end_block = (hi + p.h0 - 1u) / p.h0;
                let base = n * p.b_blocks;
                for (var blk = first_block; blk < end_block; blk++) {
                    for (var e = b_block_start[base + blk]; e < b_block_end[base + blk]; e++) {
                        let word = b_nonzero[e];
                        let kl = blk * p.h0 - lo + (word >> 8u);
                        window[kl >> 2u] |= (word & 0xffu) << ((kl & 3u) * 8u);
                    }
                }
                if fetch_counter {
                    let nonzeros = b_block_end[base + end_block - 1u] - b_block_start[base + first_block];
                    count[C_GLB_READ_B] += nonzeros;
                    count[C_GLB_READ_B_META_BITS] += nonzeros * p.offset_bits
                        + 2u * (end_block - first_block) * p.addr_bits;
                }
            }
            if fetch_counter {
                if p.vfmu == 1u {
                    count[C_VFMU_WRITE] += width;
                    count[C_VFMU_READ] += width;
                }
                count[C_CYCLES] += 1u;
            }

            // 3. and 4. Every row of the array in this cycle.
            for (var r = 0u; r < rows_active; r++) {
                var sum = 0i;
                for (var pe = 0u; pe < pes; pe++) {
                    // Rank1 mux: the PE's K1 block within its fiber of the window.
                    let block = (pe / p.g1) * p.h1 + reg_k1[r * MAX_PES + pe];
                    for (var j = 0u; j < p.g0; j++) {
                        let s = pe * p.g0 + j;
                        let a = reg_value[r * MAX_SLOTS + s];
                        // Rank0 mux: the MAC's B value within the block.
                        let kl = block * p.h0 + reg_k0[r * MAX_SLOTS + s];
                        let b = byte_of(window[kl >> 2u], kl);
                        if p.gating == 0u {
                            sum += a * b;
                            count[C_MAC] += 1u;
                        } else if a != 0i && b != 0i && lo + kl < p.k {
                            sum += a * b;
                            count[C_MAC] += 1u;
                        } else {
                            count[C_MAC_GATED] += 1u;
                        }
                    }
                }
                acc[r] += sum;
            }
            let rows_slots = rows_active * slots;
            if p.rank1_saf == 1u {
                count[C_RANK1_MUX] += rows_active * pes;
            }
            if p.rank0_saf == 1u {
                count[C_RANK0_MUX] += rows_slots;
            }
            count[C_PE_REG_READ] += rows_slots;
            count[C_ADDER] += rows_slots;
            count[C_RF_READ] += rows_active;
            count[C_RF_WRITE] += rows_active;
        }
    }

    if cycle_active {
        for (var r = 0u; r < rows_active; r++) {
            z[(first_row + r) * p.n + n] = acc[r];
        }
        count[C_GLB_WRITE_Z] += 4u * rows_active;
    }

    workgroupBarrier();
    for (var c = 0u; c < NUM_COUNTERS; c++) {
        if count[c] != 0u {
            atomicAdd(&wg_counts[c], count[c]);
        }
    }
    workgroupBarrier();
    if lid < NUM_COUNTERS {
        counters[(wg.y * groups.x + wg.x) * NUM_COUNTERS + lid] = atomicLoad(&wg_counts[lid]);
    }
}
