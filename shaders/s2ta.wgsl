// GPU twin of src/reference/s2ta.rs: S2TA as docs/DESIGN.md 7 models it.
//
// One workgroup emulates the output-stationary array on one 64 x 16 tile of Z; each of its 256
// invocations owns 4 outputs. For each 8-block of K, the rows' A blocks are expanded into an 8-wide
// weight table (what each PE's 8:1 mux chooses from) and the columns' B blocks are loaded; then
// one cycle per B slot j: every MAC multiplies B slot j of its column by the weight at that slot's
// coordinate, or is gated when either is zero.

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

var<workgroup> weights: array<i32, 512>;   // TILE_ROWS * BLOCK
var<workgroup> b_value: array<i32, 128>;   // TILE_COLS * BLOCK
var<workgroup> b_coord: array<u32, 128>;

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

    start_workgroup(lid);
    var steps = 0u;
    for (var blk = 0u; blk < p.blocks; blk++) {
        workgroupBarrier();
        // Each PE's weight table: its A block's stored values at their coordinates.
        for (var i = lid; i < TILE_ROWS * BLOCK; i += INVOCATIONS) {
            weights[i] = 0i;
        }
        workgroupBarrier();
        for (var i = lid; i < rows * p.g_a; i += INVOCATIONS) {
            let r = i / p.g_a;
            let word = a_slot[((row0 + r) * p.blocks + blk) * p.g_a + i % p.g_a];
            weights[r * BLOCK + (word >> 8u)] = byte_of(word, 0u);
        }
        for (var i = lid; i < cols * p.g_b; i += INVOCATIONS) {
            let c = i / p.g_b;
            let j = i % p.g_b;
            let word = b_slot[((col0 + c) * p.blocks + blk) * p.g_b + j];
            b_value[c * BLOCK + j] = byte_of(word, 0u);
            b_coord[c * BLOCK + j] = word >> 8u;
        }
        workgroupBarrier();
        for (var j = 0u; j < p.g_b; j++) {
            for (var i = 0u; i < OUTPUTS; i++) {
                let o = lid + i * INVOCATIONS;
                let r = o / TILE_COLS;
                let c = o % TILE_COLS;
                if r < rows && c < cols {
                    let b = b_value[c * BLOCK + j];
                    // The 8:1 mux: the weight at B's coordinate.
                    let a = weights[r * BLOCK + b_coord[c * BLOCK + j]];
                    if a != 0i && b != 0i {
                        acc[i] += a * b;
                        count[C_MAC] += 1u;
                    } else {
                        count[C_MAC_GATED] += 1u;
                    }
                    count[C_RANK0_MUX] += 1u;
                    count[C_ADDER] += 1u;
                    count[C_PE_REG_READ] += REG_BYTES_PER_SLOT;
                    count[C_PE_REG_WRITE] += REG_BYTES_PER_SLOT;
                }
            }
        }
        if lid == 0u {
            count[C_CYCLES] += p.g_b;
            count[C_GLB_READ_A] += rows * p.g_a;
            count[C_GLB_READ_A_META_BITS] += rows * p.g_a * p.coord_bits;
            count[C_GLB_READ_B] += cols * p.g_b;
            count[C_GLB_READ_B_META_BITS] += cols * p.g_b * p.b_coord_bits;
        }
        steps += 1u;
    }
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
