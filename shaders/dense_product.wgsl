// The plain int8 x int8 -> int32 product Z = A x B: the GPU twin of the dense product, and the
// limit `bench` measures each design against (the same shape, nothing emulated).
//
// Operands arrive packed, four int8 values to a word along K: A row by row, B column by column
// (the host transposes it), K zero-padded to whole words. A workgroup computes a 16 x 16 tile of
// Z; each step stages 16 words (64 values of K) of its 16 rows of A and 16 columns of B in
// workgroup memory, and every invocation takes four products per dot4I8Packed.

struct Dims {
    m: u32,
    n: u32,
    words: u32,   // words of K per row of A and column of B
    _pad: u32,
}

const TILE = 16u;
const STEP = 16u;  // words of K staged per step

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read_write> z: array<i32>;

var<workgroup> a_tile: array<array<u32, STEP>, TILE>;
var<workgroup> b_tile: array<array<u32, STEP>, TILE>;

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let n = wg.x * TILE + lid.x;
    let m = wg.y * TILE + lid.y;
    var acc = 0i;
    for (var w0 = 0u; w0 < dims.words; w0 += STEP) {
        // Invocation (x, y) stages word x of row y of A's tile and of column y of B's tile;
        // beyond the edges, zeros.
        let w = w0 + lid.x;
        let row = wg.y * TILE + lid.y;
        let col = wg.x * TILE + lid.y;
        var av = 0u;
        var bv = 0u;
        if w < dims.words && row < dims.m {
            av = a[row * dims.words + w];
        }
        if w < dims.words && col < dims.n {
            bv = b[col * dims.words + w];
        }
        a_tile[lid.y][lid.x] = av;
        b_tile[lid.y][lid.x] = bv;
        workgroupBarrier();
        for (var i = 0u; i < STEP; i++) {
            acc += dot4I8Packed(a_tile[lid.y][i], b_tile[lid.x][i]);
        }
        workgroupBarrier();
    }
    if m < dims.m && n < dims.n {
        z[m * dims.n + n] = acc;
    }
}
