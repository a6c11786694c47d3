//! GPU twin of [`crate::matrix::dense_product`] (`shaders/dense_product.wgsl`): the plain int8
//! product on the device, which proves the whole GPU path (adapter, pipeline, buffers, readback)
//! against the CPU.

use super::{Gpu, GpuError};
use crate::matrix::Matrix;

const SHADER: &str = include_str!("../../shaders/dense_product.wgsl");
/// The shader's `@workgroup_size(8, 8)`.
const TILE: usize = 8;

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
        assert_eq!(a.cols, b.rows, "inner dimensions of A and B differ");
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let groups = (n.div_ceil(TILE), m.div_ceil(TILE));
        let max_groups = gpu.device.limits().max_compute_workgroups_per_dimension as usize;
        if groups.0 > max_groups || groups.1 > max_groups {
            return Err(GpuError::TooLarge(format!(
                "dense product {m} x {k} x {n} needs more than {max_groups} workgroups per dimension"
            )));
        }
        // Each invocation loops once over K.
        gpu.check_loop_trips("dense_product", k as u64)?;
        let widen = |v: &[i8]| v.iter().map(|&x| i32::from(x)).collect::<Vec<i32>>();
        let dims = [m as u32, k as u32, n as u32, 0];
        let dims = gpu.uniform_buffer("dims", bytemuck::cast_slice(&dims));
        let a_buf = gpu.storage_buffer("a", bytemuck::cast_slice(&widen(&a.data)));
        let b_buf = gpu.storage_buffer("b", bytemuck::cast_slice(&widen(&b.data)));
        let z_buf = gpu.output_buffer("z", (m * n * 4).max(4) as u64);
        let (outputs, _) = gpu.dispatch(
            &self.pipeline,
            &[&dims, &a_buf, &b_buf, &z_buf],
            (groups.0 as u32, groups.1 as u32),
            &[&z_buf],
        )?;
        let bytes = &outputs[0];
        let z: Vec<i32> = bytemuck::pod_collect_to_vec(bytes);
        Ok(Matrix::from_vec(m, n, z[..m * n].to_vec()))
    }
}
