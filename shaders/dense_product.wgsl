// The plain int8 x int8 -> int32 product Z = A x B, one invocation per Z element.
// Operands arrive widened to i32; int8 values make every sum exact in i32.

struct Dims {
    m: u32,
    k: u32,
    n: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> a: array<i32>;
@group(0) @binding(2) var<storage, read> b: array<i32>;
@group(0) @binding(3) var<storage, read_write> z: array<i32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let n = id.x;
    let m = id.y;
    if m >= dims.m || n >= dims.n {
        return;
    }
    var acc = 0i;
    for (var k = 0u; k < dims.k; k++) {
        acc += a[m * dims.k + k] * b[k * dims.n + n];
    }
    z[m * dims.n + n] = acc;
}
