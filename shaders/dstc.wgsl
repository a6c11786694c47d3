// GPU twin of src/reference/dstc.rs: DSTC's outer product (docs/DESIGN.md 7).
//
// One workgroup emulates one array on its SUB_ROWS x SUB_COLS sub-tile of Z (each 32 or 64); each
// of its 256 invocations owns SUB_ROWS x SUB_COLS / 256 outputs (the accumulation buffer). For
// each k, the array's segment of A's column k and of B's row k are expanded from their bitmasks
// into workgroup memory, and every output accumulates its product when both operands are nonzero:
// the compressed outer product of a x b nonzeros, which takes ceil(a / lanes) x ceil(b / lanes)
// cycles. The host takes each Z tile's slowest array (the arrays sync per tile) and sums the rest
// of the counts in u64.

struct Params {
    m: u32,
    k: u32,
    n: u32,
    a_words: u32,             // bitmask words per A column (32 rows each)
    b_words: u32,             // bitmask words per B row (32 columns each)
    lanes: u32,               // the MAC array is lanes x lanes
    arrays_per_side: u32,
    _pad: u32,
}

// Counter indices (C_*, NUM_COUNTERS), the workgroup's row (ROW_WORDS, start_workgroup,
// add_to_workgroup, row_word) and byte_of come from shaders/counters.wgsl.

// The sub-tile, baked into each pipeline (src/gpu/dstc.rs keeps one per shape): 32 or 64 each.
override SUB_ROWS: u32;
override SUB_COLS: u32;
const WORD = 32u;             // rows or columns per mask word
const MAX_SUB = 64u;
const INVOCATIONS = 256u;
const MAX_OUTPUTS = 16u;      // MAX_SUB * MAX_SUB / INVOCATIONS

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a_mask: array<u32>;        // A's columns, 1 bit per row
@group(0) @binding(2) var<storage, read> a_word_start: array<u32>;  // index of each word's first nonzero
@group(0) @binding(3) var<storage, read> a_values: array<u32>;      // 4 int8 per word
@group(0) @binding(4) var<storage, read> b_mask: array<u32>;        // B's rows, 1 bit per column
@group(0) @binding(5) var<storage, read> b_word_start: array<u32>;
@group(0) @binding(6) var<storage, read> b_values: array<u32>;
@group(0) @binding(7) var<storage, read_write> z: array<i32>;
@group(0) @binding(8) var<storage, read_write> counters: array<u32>;

var<workgroup> a_seg: array<i32, MAX_SUB>;
var<workgroup> b_seg: array<i32, MAX_SUB>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    var count: array<u32, NUM_COUNTERS>;
    var acc: array<i32, MAX_OUTPUTS>;
    let outputs = SUB_ROWS * SUB_COLS / INVOCATIONS;
    let row0 = wg.y * SUB_ROWS;
    let col0 = wg.x * SUB_COLS;
    let rows = min(SUB_ROWS, p.m - row0);
    let cols = min(SUB_COLS, p.n - col0);
    // Arrays sharing a tile's rows (or columns) read them from the GLB once.
    let reads_a = (wg.x % p.arrays_per_side) == 0u;
    let reads_b = (wg.y % p.arrays_per_side) == 0u;
    let a_first_word = wg.y * (SUB_ROWS / WORD);
    let b_first_word = wg.x * (SUB_COLS / WORD);

    start_workgroup(lid);
    var steps = 0u;
    for (var kk = 0u; kk < p.k; kk++) {
        workgroupBarrier();
        if lid < SUB_ROWS {
            let w = kk * p.a_words + a_first_word + lid / WORD;
            let bit = lid % WORD;
            let word = a_mask[w];
            var v = 0i;
            if ((word >> bit) & 1u) == 1u {
                let index = a_word_start[w] + countOneBits(word & ((1u << bit) - 1u));
                v = byte_of(a_values[index >> 2u], index);
            }
            a_seg[lid] = v;
        } else if lid < SUB_ROWS + SUB_COLS {
            let c = lid - SUB_ROWS;
            let w = kk * p.b_words + b_first_word + c / WORD;
            let bit = c % WORD;
            let word = b_mask[w];
            var v = 0i;
            if ((word >> bit) & 1u) == 1u {
                let index = b_word_start[w] + countOneBits(word & ((1u << bit) - 1u));
                v = byte_of(b_values[index >> 2u], index);
            }
            b_seg[c] = v;
        }
        workgroupBarrier();
        for (var i = 0u; i < outputs; i++) {
            let o = lid + i * INVOCATIONS;
            let a = a_seg[o / SUB_COLS];
            let b = b_seg[o % SUB_COLS];
            if a != 0i && b != 0i {
                acc[i] += a * b;
                // A MAC, and a read-modify-write of the accumulation buffer.
                count[C_MAC] += 1u;
                count[C_ADDER] += 1u;
                count[C_RF_READ] += 1u;
                count[C_RF_WRITE] += 1u;
            }
        }
        if lid == 0u {
            // Rows beyond M and columns beyond N have no bits set.
            var a_nonzeros = 0u;
            for (var w = 0u; w < SUB_ROWS / WORD; w++) {
                a_nonzeros += countOneBits(a_mask[kk * p.a_words + a_first_word + w]);
            }
            var b_nonzeros = 0u;
            for (var w = 0u; w < SUB_COLS / WORD; w++) {
                b_nonzeros += countOneBits(b_mask[kk * p.b_words + b_first_word + w]);
            }
            let a_vectors = (a_nonzeros + p.lanes - 1u) / p.lanes;
            let b_vectors = (b_nonzeros + p.lanes - 1u) / p.lanes;
            count[C_CYCLES] += a_vectors * b_vectors;
            count[C_PE_REG_WRITE] += a_nonzeros + b_nonzeros;
            // Each cycle reads one A vector and one B vector, fanned out to the MAC array's rows
            // and columns: A's values once per B vector, B's once per A vector.
            count[C_PE_REG_READ] += a_nonzeros * b_vectors + b_nonzeros * a_vectors;
            if reads_a {
                count[C_GLB_READ_A] += a_nonzeros;
                count[C_GLB_READ_A_META_BITS] += rows;
            }
            if reads_b {
                count[C_GLB_READ_B] += b_nonzeros;
                count[C_GLB_READ_B_META_BITS] += cols;
            }
        }
        steps += 1u;
    }
    for (var i = 0u; i < outputs; i++) {
        let o = lid + i * INVOCATIONS;
        let r = o / SUB_COLS;
        let c = o % SUB_COLS;
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
