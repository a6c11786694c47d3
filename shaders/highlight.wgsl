// GPU twin of src/reference/hss.rs and src/reference/highlight.rs: the tensor-core loop nest of
// docs/DESIGN.md 6 and 12, for any HSS design of up to four ranks (TC, STC, HighLight and
// HighLight-DSSO among them). The ranks reach the kernel as a shape (src/gpu/highlight/shape.rs):
// leaves per top-rank fiber, each leaf's K offset within its fiber resolved on the host, and each
// rank's selects and coordinate bits per fiber.
//
// One workgroup emulates ARRAYS_PER_WORKGROUP PE arrays of a row group (up to 16 rows of M each)
// on one RF tile of 128 output columns and one split of K (wg.z; all of K unless the host splits
// it); each invocation is COLUMNS cycles of the tile, i.e. output columns lid, lid + 128 / COLUMNS,
// and so on. Per k-step:
//   1. load A: the arrays' PE registers receive each PE's leaves (values with their offsets in the
//      fiber, which the muxes of every rank select) from the N-rank CP buffer, four slots to a
//      word with the window offsets resolved here; in dual-side mode (B drives the top rank) every
//      top-rank child of each fiber, slot by slot. Double-buffered
//      (DOUBLE_BUFFER), the next k-step's are loaded while this one's are read, so a k-step
//      takes one barrier;
//   2. VFMU: each cycle fetches the k-step's window of B's column n (dense as words, blocked CSR,
//      or B's nonempty top-rank children in dual-side mode) once for all rows of all the
//      workgroup's arrays, expanded to dense;
//   3. the ranks' muxes: each MAC picks its B value at its leaf's offset (A's coordinates, or in
//      dual-side mode B's top-rank coordinate then A's below it): four MACs' bytes gathered into a
//      word and one dot4I8Packed (each word of A read once for all the invocation's columns); a
//      MAC is gated when its A slot or B value is zero (counted from the nonzero bytes), and a
//      leaf under an empty child of a gating rank is counted at that rank;
//   4. the row's products are summed and accumulated into the RF partial sum of Z[m, n], added
//      into Z at the end.
// The structural counts (muxes, registers, adders, RF) are added per row and cycle from the
// configuration; the workgroup's counts go to `counters`, one row of ROW_WORDS words per
// workgroup (the counts, then the k-steps completed), and its per-rank counts to `rank_counters`
// (RANK_WORDS per workgroup: selects, coordinate bits, gated MACs, for ranks 0 to 3), summed and
// checked on the host. Counting conventions are the CPU reference's.

struct Params {
    rows: u32,              // rows of A and Z in this dispatch (whole row groups, or the rest)
    k: u32,                 // K before padding
    n: u32,                 // columns of B and Z
    fibers: u32,            // top-rank fibers per row
    b_blocks: u32,          // CSR blocks per column, or (B dense) words per column
    addr_bits: u32,         // CSR address bits
    addr_per_block: u32,    // CSR addresses read per block of a fetch
    addr_first: u32,        // and once more where a fetch opens its column (block 0)
    a_tile: u32,            // the emulated column tile A stays stationary for (divides TILE_N)
    split_fibers: u32,      // fibers per split of K: workgroup z takes fibers
                            // [z * split_fibers, (z + 1) * split_fibers)
}

// The machine's configuration, baked into each pipeline (src/gpu/highlight.rs keeps one per
// configuration): loop bounds and modes are constants, so the compiler unrolls and folds them.
override LEAVES: u32;            // MAC slots per top-rank fiber the PEs process
override STORED: u32;            // A leaves per fiber as stored (every top child in dual-side mode)
override SPAN: u32;              // K positions of a fiber
override TOP_W: u32;             // top-rank children processed per fiber (dual-side mode)
override PER_CHILD: u32;         // A leaves stored per top-rank child (dual-side mode)
override PES_PER_FIBER: u32;     // PEs a fiber occupies (skip-select muxes)
override FIBERS_PER_STEP: u32;   // fibers a row of PEs covers per k-step
override MUX_0: u32;             // selects per fiber per cycle of rank 0 (0: it does not select)
override MUX_1: u32;
override MUX_2: u32;
override MUX_3: u32;
override META_0: u32;            // A coordinate bits per stored fiber of rank 0
override META_1: u32;
override META_2: u32;
override META_3: u32;
override A_COMPRESSED: u32;      // 1: A is read as stored (CP); 0: densely, only k < K
override IN_ORDER: u32;          // 1: leaf s of a fiber is at offset s (no rank selects)
override VFMU: u32;              // 1: a VFMU buffers the B window
override GATING: u32;            // 1: zero operands are gated; 0: every MAC slot is performed
override B_DRIVES: u32;          // 1: dual-side mode, B's top-rank coordinates pick A's children
override SKIP_SELECT: u32;       // 1: the 2:1 skip-select mux per PE is present and counted
override B_MODE: u32;            // 0: B dense; 1: blocked CSR; 2: B's columns in N-rank CP
override CSR_BLOCK: u32;         // blocked CSR's block
override B_LEAVES: u32;          // B leaves per fiber (dual-side mode)
override B_META: u32;            // B coordinate bits per fiber (dual-side mode)
override OFFSET_BITS: u32;       // CSR offset bits
override ROWS_PER_ARRAY: u32;
override ARRAYS_PER_GROUP: u32;
override WINDOW_SHARED: u32;     // 1: the muxes gather from a window in workgroup memory (hardware
                                 // GPUs); 0: from a private array (software adapters, faster there)
override ARRAYS_PER_WORKGROUP: u32; // arrays of a row group one workgroup emulates (divides it)
override COLUMNS: u32;           // RF tile columns (cycles) per invocation: 1, 2 or 4
override DOUBLE_BUFFER: u32;     // 1: the next k-step's A is loaded while this one's is read

// Counter indices (C_*, NUM_COUNTERS), the workgroup's row (ROW_WORDS, start_workgroup,
// add_to_workgroup, row_word) and byte_of come from shaders/counters.wgsl.

const TILE_N = 128u;            // RF tile columns
const MAX_SLOTS = 64u;          // A value slots a row holds per k-step
const MAX_WINDOW_WORDS = 64u;   // B window of one k-step: up to 256 int8 values, 4 per word
const MAX_COLUMNS = 4u;         // output columns per invocation
const MAX_ACC = 64u;            // RF partial sums an invocation holds: rows x columns

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> rank_counters: array<u32>; // RANK_WORDS per workgroup
// value (8 bits) | offset in the fiber << 8 | the gating rank above it (255: none) << 16
@group(0) @binding(2) var<storage, read> a_slot: array<u32>;
@group(0) @binding(3) var<storage, read> b_dense: array<u32>;     // B column by column, 4 int8 per word
@group(0) @binding(4) var<storage, read> b_index: array<u32>;     // CSR block start, or B's top coordinates
@group(0) @binding(5) var<storage, read> b_block_end: array<u32>; // CSR block end
@group(0) @binding(6) var<storage, read> b_value: array<u32>;     // value (8 bits) | offset << 8
// Z, zeroed by the host: each split of K adds its partial sums.
@group(0) @binding(7) var<storage, read_write> z: array<atomic<i32>>;
@group(0) @binding(8) var<storage, read_write> counters: array<u32>;

// Invocations per workgroup: the tile's columns, COLUMNS to an invocation.
override INVOCATIONS: u32 = TILE_N / COLUMNS;
// Rows of M one workgroup emulates: its arrays' rows.
override WG_ROWS: u32 = ROWS_PER_ARRAY * ARRAYS_PER_WORKGROUP;
// A slots a row's PEs hold per k-step, in words of four.
override WORDS_PER_ROW: u32 = (FIBERS_PER_STEP * STORED + 3u) / 4u;
// Words of a k-step's B window.
override WINDOW_WORDS: u32 = (FIBERS_PER_STEP * SPAN + 3u) / 4u;

// Per-rank counts: selects of ranks 0 to 3, then their coordinate bits, then their gated MACs.
const RANK_WORDS = 12u;
const R_MUX = 0u;
const R_META = 4u;
const R_GATED = 8u;
var<workgroup> wg_rank_counts: array<atomic<u32>, RANK_WORDS>;
// Words of one buffer of the PE registers (double-buffered: this k-step's and the next's).
override REG_WORDS: u32 = WG_ROWS * WORDS_PER_ROW;

// PE registers of the arrays: the stationary A slots of a k-step, in buffer (step % 2) when
// double-buffered. Where A's own K1 coordinates drive the rank1 muxes, four slots to a word:
// their int8 values, and the offsets in the k-step's B window their rank1 and rank0 muxes select
// (K1 and K0 coordinates resolved at load), so a row's four MACs are one dot product of gathered
// bytes.
var<workgroup> reg_a4: array<u32, (1u + DOUBLE_BUFFER) * REG_WORDS>;
var<workgroup> reg_offset4: array<u32, (1u + DOUBLE_BUFFER) * REG_WORDS>;
// In dual-side mode (B's K1 coordinates pick A's blocks per cycle), each slot alone: per buffer
// WG_ROWS * MAX_SLOTS words (value (8 bits) | K0 << 8) in dual-side mode, else one word in all.
var<workgroup> reg_slot: array<u32, B_DRIVES * (1u + DOUBLE_BUFFER) * WG_ROWS * MAX_SLOTS + 1u>;

// Where the muxes gather from the window by data, each cycle's window in workgroup memory, word
// w of the tile's column i at w * TILE_N + i: consecutive invocations read consecutive words,
// and no private array is indexed by data. Sized per configuration: one word where the window
// stays private.
var<workgroup> window_ws: array<u32, WINDOW_SHARED * WINDOW_WORDS * TILE_N + 1u>;

// Byte `kl` of column j's private window, unsigned.
fn private_byte(window: ptr<function, array<u32, MAX_COLUMNS * MAX_WINDOW_WORDS>>, j: u32, kl: u32) -> u32 {
    return ((*window)[j * MAX_WINDOW_WORDS + (kl >> 2u)] >> ((kl & 3u) * 8u)) & 0xffu;
}

// Byte `kl` of the window in workgroup memory of the tile's column `i`, unsigned.
fn window_byte(i: u32, kl: u32) -> u32 {
    return (window_ws[(kl >> 2u) * TILE_N + i] >> ((kl & 3u) * 8u)) & 0xffu;
}

// Loads the PE registers of the rows in [first_row, first_row + rows) for the k-step starting at
// `first_fiber` into buffer `buf`, all invocations together: a word of four slots each. Slots
// beyond the k-step's fibers, or beyond the split's, hold zeros. A leaf under an empty child of a
// gating rank is counted there once per cycle of the tile (`tile_cycles`).
fn load_a(
    lid: u32,
    first_row: u32,
    rows: u32,
    first_fiber: u32,
    split_end: u32,
    buf: u32,
    a_loads: u32,
    tile_cycles: u32,
    count: ptr<function, array<u32, NUM_COUNTERS>>,
    rank_count: ptr<function, array<u32, RANK_WORDS>>,
) {
    let stored_per_step = FIBERS_PER_STEP * STORED;
    for (var i = lid; i < rows * WORDS_PER_ROW; i += INVOCATIONS) {
        let r = i / WORDS_PER_ROW;
        let q = i % WORDS_PER_ROW;
        var a4 = 0u;
        var offset4 = 0u;
        for (var t = 0u; t < 4u; t++) {
            let s = q * 4u + t;
            let fiber_local = s / STORED;
            let fiber = first_fiber + fiber_local;
            if s < stored_per_step && fiber < split_end {
                let leaf = ((first_row + r) * p.fibers + fiber) * STORED + s % STORED;
                let word = a_slot[leaf];
                let offset = (word >> 8u) & 0xffu;
                a4 |= (word & 0xffu) << (8u * t);
                offset4 |= (fiber_local * SPAN + offset) << (8u * t);
                if B_DRIVES == 1u {
                    reg_slot[(buf * WG_ROWS + r) * MAX_SLOTS + s] = word;
                }
                // In dual-side mode B picks the children per cycle: counted as they are processed.
                let gated_by = word >> 16u;
                if B_DRIVES == 0u && gated_by != 255u {
                    (*rank_count)[R_GATED + gated_by] += tile_cycles;
                }
                // Loaded once here, counted once per emulated column tile in these columns.
                (*count)[C_PE_REG_WRITE] += a_loads;
                if A_COMPRESSED == 1u {
                    (*count)[C_GLB_READ_A] += a_loads;
                    if s % STORED == 0u {
                        (*rank_count)[R_META] += META_0 * a_loads;
                        (*rank_count)[R_META + 1u] += META_1 * a_loads;
                        (*rank_count)[R_META + 2u] += META_2 * a_loads;
                        (*rank_count)[R_META + 3u] += META_3 * a_loads;
                        (*count)[C_GLB_READ_A_META_BITS] += (META_0 + META_1 + META_2 + META_3) * a_loads;
                    }
                } else if fiber * SPAN + offset < p.k {
                    // Stored densely: only k < K is read.
                    (*count)[C_GLB_READ_A] += a_loads;
                }
            } else if B_DRIVES == 1u && s < stored_per_step {
                reg_slot[(buf * WG_ROWS + r) * MAX_SLOTS + s] = 255u << 16u;
            }
        }
        reg_a4[buf * REG_WORDS + r * WORDS_PER_ROW + q] = a4;
        reg_offset4[buf * REG_WORDS + r * WORDS_PER_ROW + q] = offset4;
    }
}

@compute @workgroup_size(INVOCATIONS)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    var count: array<u32, NUM_COUNTERS>;
    var rank_count: array<u32, RANK_WORDS>;
    var acc: array<i32, MAX_ACC>;                  // acc[j * WG_ROWS + r]: column j, row r
    var window: array<u32, MAX_COLUMNS * MAX_WINDOW_WORDS>;

    let first_n = wg.x * TILE_N + lid;
    // Columns past N emulate nothing: their windows stay zero, and nothing of theirs is counted.
    let columns_active = min(COLUMNS, (p.n - min(p.n, first_n) + INVOCATIONS - 1u) / INVOCATIONS);
    let first_row = wg.y * WG_ROWS;
    let rows_active = min(WG_ROWS, p.rows - min(p.rows, first_row));
    // The B window is fetched once per cycle for every array of the group: the workgroup with
    // the group's first array counts it.
    let fetch_counter = ((wg.y * ARRAYS_PER_WORKGROUP) % ARRAYS_PER_GROUP) == 0u;
    let span = SPAN;
    // The emulated machine reloads A per column tile of p.a_tile columns: as many as this
    // workgroup's columns hold.
    let tile_cycles = min(TILE_N, p.n - min(p.n, wg.x * TILE_N));
    let a_loads = (tile_cycles + p.a_tile - 1u) / p.a_tile;

    start_workgroup(lid);
    if lid < RANK_WORDS {
        atomicStore(&wg_rank_counts[lid], 0u);
    }
    var steps = 0u;

    let split_start = wg.z * p.split_fibers;
    let split_end = min(p.fibers, split_start + p.split_fibers);
    if DOUBLE_BUFFER == 1u {
        load_a(lid, first_row, rows_active, split_start, split_end, 0u, a_loads, tile_cycles, &count, &rank_count);
    }
    for (var first_fiber = split_start; first_fiber < split_end; first_fiber += FIBERS_PER_STEP) {
        let fibers_here = min(FIBERS_PER_STEP, split_end - first_fiber);
        let pes = fibers_here * PES_PER_FIBER;
        let slots = fibers_here * LEAVES;
        // 1. Double-buffered, this k-step's registers were loaded before the barrier and the next
        // k-step's go to the other buffer, which every invocation finished reading before it;
        // else this k-step's are loaded between two barriers.
        let buf = (steps % 2u) * DOUBLE_BUFFER;
        workgroupBarrier();
        if DOUBLE_BUFFER == 0u {
            load_a(lid, first_row, rows_active, first_fiber, split_end, 0u, a_loads, tile_cycles, &count, &rank_count);
            workgroupBarrier();
        } else if first_fiber + FIBERS_PER_STEP < split_end {
            load_a(lid, first_row, rows_active, first_fiber + FIBERS_PER_STEP, split_end, 1u - buf, a_loads, tile_cycles, &count, &rank_count);
        }

        if columns_active > 0u {
            // 2. VFMU: the k-step's window of each of the invocation's columns, expanded to dense.
            let lo = first_fiber * span;
            var width = fibers_here * span;
            let hi = min(p.k, lo + width);
            // Over the constant COLUMNS, so that the window's indices are constants once unrolled.
            for (var j = 0u; j < COLUMNS; j++) {
                if j < columns_active {
                    let n = first_n + j * INVOCATIONS;
                    let wj = j * MAX_WINDOW_WORDS;
                    if B_MODE != 0u {
                        for (var w = 0u; w < WINDOW_WORDS; w++) {
                            window[wj + w] = 0u;
                        }
                    }
                    if B_MODE == 0u {
                        // The window's words of column n, shifted into place where the window does
                        // not start on a word (its bytes past K are the column's zero padding).
                        let first = n * p.b_blocks + (lo >> 2u);
                        let shift = (lo & 3u) * 8u;
                        for (var w = 0u; w < WINDOW_WORDS; w++) {
                            var word = b_dense[first + w];
                            if shift != 0u {
                                word = (word >> shift) | (b_dense[first + w + 1u] << (32u - shift));
                            }
                            window[wj + w] = word;
                        }
                        if fetch_counter {
                            count[C_GLB_READ_B] += hi - lo;
                        }
                    } else if B_MODE == 1u {
                        let first_block = lo / CSR_BLOCK;
                        let end_block = (hi + CSR_BLOCK - 1u) / CSR_BLOCK;
                        let base = n * p.b_blocks;
                        for (var blk = first_block; blk < end_block; blk++) {
                            for (var e = b_index[base + blk]; e < b_block_end[base + blk]; e++) {
                                let word = b_value[e];
                                let kl = blk * CSR_BLOCK - lo + (word >> 8u);
                                window[wj + (kl >> 2u)] |= (word & 0xffu) << ((kl & 3u) * 8u);
                            }
                        }
                        if fetch_counter {
                            let nonzeros = b_block_end[base + end_block - 1u] - b_index[base + first_block];
                            count[C_GLB_READ_B] += nonzeros;
                            count[C_GLB_READ_B_META_BITS] += nonzeros * OFFSET_BITS
                                + (p.addr_per_block * (end_block - first_block)
                                   + select(0u, p.addr_first, first_block == 0u)) * p.addr_bits;
                        }
                    } else {
                        // B's nonempty top-rank children only: B_LEAVES values per fiber.
                        for (var f = 0u; f < fibers_here; f++) {
                            let first = (n * p.fibers + first_fiber + f) * B_LEAVES;
                            for (var e = 0u; e < B_LEAVES; e++) {
                                let word = b_value[first + e];
                                let kl = f * SPAN + (word >> 8u);
                                window[wj + (kl >> 2u)] |= (word & 0xffu) << ((kl & 3u) * 8u);
                            }
                        }
                        width = fibers_here * B_LEAVES;
                        if fetch_counter {
                            count[C_GLB_READ_B] += width;
                            count[C_GLB_READ_B_META_BITS] += fibers_here * B_META;
                        }
                    }
                    if B_DRIVES == 0u && IN_ORDER == 0u && WINDOW_SHARED == 1u {
                        for (var w = 0u; w < WINDOW_WORDS; w++) {
                            window_ws[w * TILE_N + lid + j * INVOCATIONS] = window[wj + w];
                        }
                    }
                }
            }
            if fetch_counter {
                if VFMU == 1u {
                    count[C_VFMU_WRITE] += width * columns_active;
                    count[C_VFMU_READ] += width * columns_active;
                }
                count[C_CYCLES] += columns_active;
            }

            // 3. and 4. Every row of the arrays in these cycles. A slot's product is added whether
            // or not it is effectual (a gated slot's operand is zero, and B is zero beyond K), so
            // the only per-slot decision is the count, taken from the operands' nonzero bytes.
            var macs = 0u;
            if B_DRIVES == 0u {
                // The muxes' choices were resolved at load: gather each word's four B bytes from
                // each column's window and take one dot product. Rows beyond the arrays' hold
                // zeros, as do the windows of columns past N.
                for (var r = 0u; r < WG_ROWS; r++) {
                    var sums: array<i32, MAX_COLUMNS>;
                    for (var q = 0u; q < WORDS_PER_ROW; q++) {
                        let a4 = reg_a4[buf * REG_WORDS + r * WORDS_PER_ROW + q];
                        let offset4 = reg_offset4[buf * REG_WORDS + r * WORDS_PER_ROW + q];
                        let a_nonzero = nonzero_bytes(a4);
                        for (var j = 0u; j < COLUMNS; j++) {
                            var b4: u32;
                            if IN_ORDER == 1u {
                                // Dense A in order: slot s selects window value s.
                                b4 = window[j * MAX_WINDOW_WORDS + q];
                            } else if WINDOW_SHARED == 1u {
                                let i = lid + j * INVOCATIONS;
                                b4 = window_byte(i, offset4 & 0xffu)
                                    | (window_byte(i, (offset4 >> 8u) & 0xffu) << 8u)
                                    | (window_byte(i, (offset4 >> 16u) & 0xffu) << 16u)
                                    | (window_byte(i, offset4 >> 24u) << 24u);
                            } else {
                                b4 = private_byte(&window, j, offset4 & 0xffu)
                                    | (private_byte(&window, j, (offset4 >> 8u) & 0xffu) << 8u)
                                    | (private_byte(&window, j, (offset4 >> 16u) & 0xffu) << 16u)
                                    | (private_byte(&window, j, offset4 >> 24u) << 24u);
                            }
                            sums[j] += dot4I8Packed(a4, b4);
                            macs += countOneBits(a_nonzero & nonzero_bytes(b4));
                        }
                    }
                    for (var j = 0u; j < COLUMNS; j++) {
                        acc[j * WG_ROWS + r] += sums[j];
                    }
                }
            } else {
                for (var j = 0u; j < columns_active; j++) {
                    let n = first_n + j * INVOCATIONS;
                    for (var r = 0u; r < rows_active; r++) {
                        var sum = 0i;
                        for (var top = 0u; top < fibers_here * TOP_W; top++) {
                            let fiber_local = top / TOP_W;
                            // The top rank's mux: B's coordinate picks A's child and its window.
                            let child = b_index[(n * p.fibers + first_fiber + fiber_local) * TOP_W + top % TOP_W];
                            let a_first = (buf * WG_ROWS + r) * MAX_SLOTS + fiber_local * STORED + child * PER_CHILD;
                            for (var e = 0u; e < PER_CHILD; e++) {
                                let slot = reg_slot[a_first + e];
                                let a = byte_of(slot, 0u);
                                let gated_by = slot >> 16u;
                                if gated_by != 255u {
                                    rank_count[R_GATED + gated_by] += 1u;
                                }
                                // The lower ranks' muxes: the MAC's B value at A's leaf offset.
                                let kl = fiber_local * SPAN + ((slot >> 8u) & 0xffu);
                                let b = byte_of(window[j * MAX_WINDOW_WORDS + (kl >> 2u)], kl);
                                sum += a * b;
                                macs += select(0u, 1u, a != 0i && b != 0i);
                            }
                        }
                        acc[j * WG_ROWS + r] += sum;
                    }
                }
            }
            let cycle_slots = rows_active * slots;
            let rows_slots = cycle_slots * columns_active;
            if GATING == 0u {
                macs = rows_slots;
            }
            count[C_MAC] += macs;
            count[C_MAC_GATED] += rows_slots - macs;
            let fiber_cycles = rows_active * fibers_here * columns_active;
            rank_count[R_MUX] += MUX_0 * fiber_cycles;
            rank_count[R_MUX + 1u] += MUX_1 * fiber_cycles;
            rank_count[R_MUX + 2u] += MUX_2 * fiber_cycles;
            rank_count[R_MUX + 3u] += MUX_3 * fiber_cycles;
            if SKIP_SELECT == 1u {
                count[C_SKIP_SELECT_MUX] += rows_active * pes * columns_active;
            }
            count[C_PE_REG_READ] += rows_slots;
            count[C_ADDER] += rows_slots;
            count[C_RF_READ] += rows_active * columns_active;
            count[C_RF_WRITE] += rows_active * columns_active;
        }
        steps += 1u;
    }

    for (var j = 0u; j < columns_active; j++) {
        let n = first_n + j * INVOCATIONS;
        for (var r = 0u; r < rows_active; r++) {
            atomicAdd(&z[(first_row + r) * p.n + n], acc[j * WG_ROWS + r]);
        }
        // Each output is written once, whatever the splits.
        if wg.z == 0u {
            count[C_GLB_WRITE_Z] += 4u * rows_active;
        }
    }

    workgroupBarrier();
    add_to_workgroup(&count, steps);
    for (var c = 0u; c < RANK_WORDS; c++) {
        if rank_count[c] != 0u {
            atomicAdd(&wg_rank_counts[c], rank_count[c]);
        }
    }
    workgroupBarrier();
    let row = (wg.z * groups.y + wg.y) * groups.x + wg.x;
    if lid < ROW_WORDS {
        counters[row * ROW_WORDS + lid] = row_word(lid);
    }
    if lid < RANK_WORDS {
        rank_counters[row * RANK_WORDS + lid] = atomicLoad(&wg_rank_counts[lid]);
    }
}
