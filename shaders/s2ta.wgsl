// GPU twin of src/reference/s2ta.rs: S2TA as docs/DESIGN.md 7 models it.
//
// One workgroup emulates the output-stationary array on one 64 x 16 tile of Z; each of its 256
// invocations owns 4 outputs. For each 8-block of K (STAGE at a time), the rows' A blocks are
// expanded into an 8-wide weight table (what each PE's 8:1 mux chooses from) and the columns' B
// blocks are loaded; then one cycle per B slot j: every MAC multiplies B slot j of its column by
// the weight at that slot's coordinate, or is gated when either is zero. The per-slot structures
// (mux, adder, registers) are counted per block from the tile's shape.

struct Params {
    m: u32,
    n: u32,
    blocks: u32,        // 8-blocks of K
    g_a: u32,           // A values stored per block
    g_b: u32,           // B values per block: the cycles one block takes
    coord_bits: u32,    // bits of a coordinate in an 8-block
    b_coord_bits: u32,  // 0 for dense B (8:8)
    _pad: u32,
}

// Counter indices (C_*, NUM_COUNTERS), the workgroup's row (ROW_WORDS, start_workgroup,
// add_to_workgroup, row_word) and byte_of come from shaders/counters.wgsl.

const TILE_ROWS = 64u;
const TILE_COLS = 16u;
const BLOCK = 8u;
const INVOCATIONS = 256u;
const OUTPUTS = 4u;             // TILE_ROWS * TILE_COLS / INVOCATIONS
const REG_BYTES_PER_SLOT = 6u;  // two int8 operands passed on, an int32 accumulator

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a_slot: array<u32>;   // value (8 bits) | coordinate << 8
@group(0) @binding(2) var<storage, read> b_slot: array<u32>;   // B's columns, as a_slot
@group(0) @binding(3) var<storage, read_write> z: array<i32>;
@group(0) @binding(4) var<storage, read_write> counters: array<u32>;

// STAGE 8-blocks of K per barrier pair. Each PE's weight table (the 8 values its 8:1 mux chooses
// from) is two words of four int8; B's slots are laid out slot-major so that the invocations of a
// row read consecutive words.
const STAGE = 4u;
var<workgroup> weights: array<u32, 512>;   // STAGE * TILE_ROWS * 2
var<workgroup> b_slots: array<u32, 512>;   // STAGE * BLOCK * TILE_COLS: value (8 bits) | coordinate << 8

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    var count: array<u32, NUM_COUNTERS>;
    var acc: array<i32, OUTPUTS>;
    let row0 = wg.y * TILE_ROWS;
    let col0 = wg.x * TILE_COLS;
    let rows = min(TILE_ROWS, p.m - row0);
    let cols = min(TILE_COLS, p.n - col0);
    // MAC slots with both operands nonzero; the others are gated.
    var effectual = 0u;

    start_workgroup(lid);
    var steps = 0u;
    for (var first = 0u; first < p.blocks; first += STAGE) {
        let here = min(STAGE, p.blocks - first);
        workgroupBarrier();
        // One PE's weight table per invocation (STAGE x TILE_ROWS = INVOCATIONS): its A block's
        // stored values at their coordinates, zeros elsewhere and past the matrix.
        {
            let s = lid / TILE_ROWS;
            let r = lid % TILE_ROWS;
            var low = 0u;
            var high = 0u;
            if s < here && r < rows {
                for (var i = 0u; i < p.g_a; i++) {
                    let word = a_slot[((row0 + r) * p.blocks + first + s) * p.g_a + i];
                    let coord = word >> 8u;
                    let v = (word & 0xffu) << ((coord & 3u) * 8u);
                    if coord < 4u {
                        low |= v;
                    } else {
                        high |= v;
                    }
                }
            }
            weights[lid * 2u] = low;
            weights[lid * 2u + 1u] = high;
        }
        for (var i = lid; i < STAGE * BLOCK * TILE_COLS; i += INVOCATIONS) {
            let s = i / (BLOCK * TILE_COLS);
            let j = (i / TILE_COLS) % BLOCK;
            let c = i % TILE_COLS;
            var word = 0u;
            if s < here && c < cols && j < p.g_b {
                word = b_slot[((col0 + c) * p.blocks + first + s) * p.g_b + j];
            }
            b_slots[i] = word;
        }
        workgroupBarrier();
        // One cycle per B slot j: every MAC multiplies B slot j of its column by the weight its
        // 8:1 mux picks at that slot's coordinate; a zero operand adds nothing and is gated. An
        // invocation's outputs share a column (c) and take its rows r + 16 i: their weight tables
        // sit in registers, and each B slot is read once for all four.
        let c = lid % TILE_COLS;
        for (var s = 0u; s < here; s++) {
            var low: array<u32, OUTPUTS>;
            var high: array<u32, OUTPUTS>;
            for (var i = 0u; i < OUTPUTS; i++) {
                let r = (lid + i * INVOCATIONS) / TILE_COLS;
                low[i] = weights[(s * TILE_ROWS + r) * 2u];
                high[i] = weights[(s * TILE_ROWS + r) * 2u + 1u];
            }
            for (var j = 0u; j < p.g_b; j++) {
                let word = b_slots[(s * BLOCK + j) * TILE_COLS + c];
                let b = byte_of(word, 0u);
                let coord = word >> 8u;
                for (var i = 0u; i < OUTPUTS; i++) {
                    let a = byte_of(select(low[i], high[i], coord >= 4u), coord);
                    let product = a * b;
                    acc[i] += product;
                    effectual += select(0u, 1u, product != 0i);
                }
            }
        }
        // The staged blocks' cycles, GLB reads and per-slot structures, one block per invocation.
        if lid < here {
            let slots = rows * cols * p.g_b;
            count[C_CYCLES] += p.g_b;
            count[C_RANK0_MUX] += slots;
            count[C_ADDER] += slots;
            count[C_PE_REG_READ] += REG_BYTES_PER_SLOT * slots;
            count[C_PE_REG_WRITE] += REG_BYTES_PER_SLOT * slots;
            count[C_MAC_GATED] += slots;
            count[C_GLB_READ_A] += rows * p.g_a;
            count[C_GLB_READ_A_META_BITS] += rows * p.g_a * p.coord_bits;
            count[C_GLB_READ_B] += cols * p.g_b;
            count[C_GLB_READ_B_META_BITS] += cols * p.g_b * p.b_coord_bits;
        }
        steps += here;
    }
    // The slots were counted gated above; the effectual ones are MACs. (u32 arithmetic wraps, so
    // the workgroup's sum of these differences is exact.)
    count[C_MAC] += effectual;
    count[C_MAC_GATED] -= effectual;
    for (var i = 0u; i < OUTPUTS; i++) {
        let o = lid + i * INVOCATIONS;
        let r = o / TILE_COLS;
        let c = o % TILE_COLS;
        if r < rows && c < cols {
            z[(row0 + r) * p.n + col0 + c] = acc[i];
            count[C_GLB_WRITE_Z] += 4u;
        }
    }

    workgroupBarrier();
    add_to_workgroup(&count, steps);
    workgroupBarrier();
    if lid < ROW_WORDS {
        counters[(wg.y * groups.x + wg.x) * ROW_WORDS + lid] = row_word(lid);
    }
}
