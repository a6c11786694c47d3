// GPU twin of src/reference/dstc.rs: DSTC's outer product (docs/DESIGN.md 7).
//
// One workgroup emulates one array on its SUB_ROWS x SUB_COLS sub-tile of Z (each 16, 32 or 64); each
// of its 256 invocations owns SUB_ROWS x SUB_COLS / 256 outputs (the accumulation buffer). For
// each chunk of KCHUNK k's, the array's segments of A's columns and of B's rows are expanded from
// their bitmasks into workgroup memory, and every output accumulates its products (a zero operand
// adds nothing and is not counted): per k, the compressed outer product of a x b nonzeros, which
// takes ceil(a / lanes) x ceil(b / lanes) cycles. The host takes each Z tile's slowest array (the arrays sync per tile) and sums the rest
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

// The sub-tile, baked into each pipeline (src/gpu/dstc.rs keeps one per shape): 16, 32 or 64
// each; a 16-wide sub-tile takes half a mask word.
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

// KCHUNK k's of the array's segments of A's columns and B's rows, staged per barrier pair, four
// k's of a row (or column) to a word: one dot product per output and four k's.
const KCHUNK = 16u;
const KWORDS = 4u;                           // KCHUNK / 4
var<workgroup> a_seg: array<u32, 256>;       // KWORDS * MAX_SUB
var<workgroup> b_seg: array<u32, 256>;

// The int8 value (as a byte) at `bit` of mask word `w` of A's columns (`of_a`) or B's rows, 0
// where the bit is clear.
fn expand(of_a: bool, w: u32, bit: u32) -> u32 {
    var mask: u32;
    var index: u32;
    if of_a {
        mask = a_mask[w];
        index = a_word_start[w];
    } else {
        mask = b_mask[w];
        index = b_word_start[w];
    }
    if ((mask >> bit) & 1u) == 0u {
        return 0u;
    }
    index += countOneBits(mask & ((1u << bit) - 1u));
    var word: u32;
    if of_a {
        word = a_values[index >> 2u];
    } else {
        word = b_values[index >> 2u];
    }
    return (word >> ((index & 3u) * 8u)) & 0xffu;
}

// The set bits of one k's mask words (from word `base`) at rows or columns [lo, lo + len): a
// sub-tile's nonzeros, whether it spans whole words or part of one.
fn bits_in(of_a: bool, base: u32, lo: u32, len: u32) -> u32 {
    var total = 0u;
    for (var w = lo / WORD; w < (lo + len + WORD - 1u) / WORD; w++) {
        var word: u32;
        if of_a {
            word = a_mask[base + w];
        } else {
            word = b_mask[base + w];
        }
        let first = max(lo, w * WORD) - w * WORD;
        let end = min(lo + len, (w + 1u) * WORD) - w * WORD;
        let below_end = select((1u << end) - 1u, 0xffffffffu, end == WORD);
        total += countOneBits(word & below_end & ~((1u << first) - 1u));
    }
    return total;
}

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
    // Products of nonzero operands: each a MAC and a read-modify-write of the accumulation buffer.
    var effectual = 0u;

    start_workgroup(lid);
    var steps = 0u;
    for (var first_k = 0u; first_k < p.k; first_k += KCHUNK) {
        let here = min(KCHUNK, p.k - first_k);
        workgroupBarrier();
        // Expand the chunk's segments from their bitmasks (zeros past K and past the matrix).
        for (var i = lid; i < KWORDS * (SUB_ROWS + SUB_COLS); i += INVOCATIONS) {
            let kq = i / (SUB_ROWS + SUB_COLS);
            let e = i % (SUB_ROWS + SUB_COLS);
            var word = 0u;
            for (var t = 0u; t < 4u; t++) {
                let kl = kq * 4u + t;
                if kl < here {
                    let kk = first_k + kl;
                    var v: u32;
                    if e < SUB_ROWS {
                        let w = kk * p.a_words + (row0 + e) / WORD;
                        v = expand(true, w, (row0 + e) % WORD);
                    } else {
                        let c = col0 + e - SUB_ROWS;
                        let w = kk * p.b_words + c / WORD;
                        v = expand(false, w, c % WORD);
                    }
                    word |= v << (8u * t);
                }
            }
            if e < SUB_ROWS {
                a_seg[kq * MAX_SUB + e] = word;
            } else {
                b_seg[kq * MAX_SUB + e - SUB_ROWS] = word;
            }
        }
        workgroupBarrier();
        // Every output accumulates the chunk's products, four k's per dot product; a zero operand
        // adds nothing and is not counted.
        for (var i = 0u; i < outputs; i++) {
            let o = lid + i * INVOCATIONS;
            let r = o / SUB_COLS;
            let c = o % SUB_COLS;
            var sum = 0i;
            for (var kq = 0u; kq < KWORDS; kq++) {
                let a4 = a_seg[kq * MAX_SUB + r];
                let b4 = b_seg[kq * MAX_SUB + c];
                sum += dot4I8Packed(a4, b4);
                effectual += countOneBits(nonzero_bytes(a4) & nonzero_bytes(b4));
            }
            acc[i] += sum;
        }
        // The chunk's k-steps, one per invocation: the nonzeros, the vector pairs they take, and
        // the register and GLB traffic. Rows beyond M and columns beyond N have no bits set.
        if lid < here {
            let kk = first_k + lid;
            let a_nonzeros = bits_in(true, kk * p.a_words, row0, SUB_ROWS);
            let b_nonzeros = bits_in(false, kk * p.b_words, col0, SUB_COLS);
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
        steps += here;
    }
    count[C_MAC] += effectual;
    count[C_ADDER] += effectual;
    count[C_RF_READ] += effectual;
    count[C_RF_WRITE] += effectual;
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
