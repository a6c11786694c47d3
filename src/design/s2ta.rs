//! S2TA (HPCA'22) as docs/DESIGN.md 7 models it: A = `K0(G:8)` with G <= 4 (dense A is
//! unsupported), B = `K0(G:8)` or dense (as 8:8). B is time-unrolled, one nonzero of each 8-block
//! per cycle, so cycles = TC cycles x G_B / 8; A's structure saves storage and energy, not time.

use super::{Arch, DesignError, structured};
use crate::pattern::Pattern;

/// S2TA's output-stationary systolic array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S2ta {
    /// Rows of the Z tile (PEs).
    pub tile_rows: usize,
    /// Columns of the Z tile (MACs per PE).
    pub tile_cols: usize,
    /// K coordinates of one block (8).
    pub block: u32,
    /// A's stored values per block.
    pub g_a: u32,
    /// B's stored values per block: the cycles one block takes.
    pub g_b: u32,
}

impl S2ta {
    pub fn new(arch: &Arch, a: &Pattern, b: &Pattern) -> Result<S2ta, DesignError> {
        let Some(rank0) = arch.rank0 else {
            return Err(DesignError::BadArch {
                path: arch.name.clone(),
                message: "S2TA needs a [rank0] section".into(),
            });
        };
        let block = rank0.h_max;
        let unsupported =
            |operand: &'static str, pattern: &Pattern, supports: String| DesignError::Unsupported {
                design: arch.name.clone(),
                operand,
                pattern: pattern.to_string(),
                supports,
                hint: String::new(),
            };
        let g_a = match structured(a) {
            Some([r0]) if r0.h == block && r0.g <= rank0.g => r0.g,
            _ => {
                let hint = if *a == Pattern::Dense { " (S2TA cannot run dense A)" } else { "" };
                return Err(unsupported("A", a, format!("K0(G:{block}) with G <= {}{hint}", rank0.g)));
            }
        };
        let g_b = match structured(b) {
            Some([]) => block,
            Some([r0]) if r0.h == block => r0.g,
            _ => return Err(unsupported("B", b, format!("dense or K0(G:{block})"))),
        };
        Ok(S2ta { tile_rows: arch.rows_per_array, tile_cols: arch.tile_n, block, g_a, g_b })
    }
}
