//! GPU twin of [`crate::matrix::dense_product`] (`shaders/dense_product.wgsl`): the plain int8
//! product on the device (packed operands, dot4I8Packed, 16 x 16 tiles), which proves the whole GPU
//! path against the CPU and is the limit `bench` sets each design's time beside.

use super::{Gpu, GpuError};
use crate::matrix::Matrix;

const SHADER: &str = include_str!("../../shaders/dense_product.wgsl");
/// The shader's Z tile per workgroup (`@workgroup_size(16, 16)`) and words of K per step.
const TILE: usize = 16;
const STEP: usize = 16;

/// The dense-product pipeline, built once and reused.
pub struct DenseProduct {
    pipeline: wgpu::ComputePipeline,
}

impl DenseProduct {
    pub fn new(gpu: &Gpu) -> Self {
        DenseProduct { pipeline: gpu.pipeline("dense_product", SHADER) }
    }

    /// `Z = A x B` with int32 accumulation, computed on the device.
    pub fn run(&self, gpu: &Gpu, a: &Matrix<i8>, b: &Matrix<i8>) -> Result<Matrix<i32>, GpuError> {
        self.timed(gpu, a, b).map(|(z, _)| z)
    }

    /// [`DenseProduct::run`], with the dispatch's device time in ms where the adapter has
    /// timestamps.
    pub fn timed(
        &self,
        gpu: &Gpu,
        a: &Matrix<i8>,
        b: &Matrix<i8>,
    ) -> Result<(Matrix<i32>, Option<f64>), GpuError> {
        assert_eq!(a.cols, b.rows, "inner dimensions of A and B differ");
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let groups = (n.div_ceil(TILE), m.div_ceil(TILE));
        let max_groups = gpu.device.limits().max_compute_workgroups_per_dimension as usize;
        if groups.0 > max_groups || groups.1 > max_groups {
            return Err(GpuError::TooLarge(format!(
                "dense product {m} x {k} x {n} needs more than {max_groups} workgroups per dimension"
            )));
        }
        let words = k.div_ceil(4);
        // Each invocation loops over the steps and, in each, over its words.
        gpu.check_loop_trips("dense_product", (words.div_ceil(STEP) * (STEP + 1)) as u64)?;
        // Rows of A and columns of B, each K zero-padded to whole words.
        let pack = |rows: usize, value: &dyn Fn(usize, usize) -> i8| {
            let mut bytes = vec![0u8; (rows * words * 4).max(4)];
            for r in 0..rows {
                for kk in 0..k {
                    bytes[r * words * 4 + kk] = value(r, kk) as u8;
                }
            }
            bytes
        };
        let a_bytes = pack(m, &|r, kk| a.data[r * k + kk]);
        let b_bytes = pack(n, &|c, kk| b.data[kk * n + c]);
        let dims = [m as u32, n as u32, words as u32, 0];
        let dims = gpu.uniform_buffer("dims", bytemuck::cast_slice(&dims));
        let a_buf = gpu.storage_buffer("a", &a_bytes);
        let b_buf = gpu.storage_buffer("b", &b_bytes);
        let z_buf = gpu.output_buffer("z", (m * n * 4).max(4) as u64);
        let (outputs, ns) = gpu.dispatch(
            &self.pipeline,
            &[&dims, &a_buf, &b_buf, &z_buf],
            (groups.0 as u32, groups.1 as u32, 1),
            &[&z_buf],
        )?;
        let z: Vec<i32> = bytemuck::pod_collect_to_vec(&outputs[0]);
        Ok((Matrix::from_vec(m, n, z[..m * n].to_vec()), ns.map(|t| t * 1e-6)))
    }
}
