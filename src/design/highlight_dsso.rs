//! HighLight-DSSO (paper 7.5, docs/DESIGN.md 7): HighLight with a 2:1 mux per PE that picks which
//! operand drives skipping. Dual-side mode: A = `K1(H1:H1)->K0(G:H0)`, B = `K1(G:H1)->K0(H0:H0)`;
//! rank1 skips on B's K1 structure, rank0 on A's, for a speedup of (H1 / 2) x (H0 / 2). Any other
//! operand pair runs as on HighLight, with A driving both ranks.

use super::highlight::{self, fits, saf_ranks};
use super::{Arch, Dataflow, DesignError, structured};
use crate::format::TwoRankHss;
use crate::pattern::Pattern;

pub fn dataflow(arch: &Arch, a: &Pattern, b: &Pattern) -> Result<Dataflow, DesignError> {
    let (rank1, rank0) = saf_ranks(arch)?;
    if let (Some([a0]), Some([b1, b0])) = (structured(a), structured(b))
        && fits(a0, rank0)
        && fits(b1, rank1)
        && b0.g == b0.h
        && b0.h == a0.h
    {
        let hl = highlight::dataflow(arch, &Pattern::Dense)?;
        return Ok(Dataflow {
            shape: TwoRankHss { g1: rank1.g, h1: b1.h, g0: rank0.g, h0: a0.h },
            b_drives_rank1: true,
            skip_select: true,
            ..hl
        });
    }
    match highlight::dataflow(arch, a) {
        Ok(hl) => Ok(Dataflow { skip_select: true, ..hl }),
        Err(DesignError::Unsupported { design, operand, pattern, supports, hint }) => {
            Err(DesignError::Unsupported {
                design,
                operand,
                pattern,
                supports: format!(
                    "{supports}, or, with B = K1({}:H1)->K0(H0:H0), A = K1(H1:H1)->K0({}:H0) (dual-side)",
                    rank1.g, rank0.g
                ),
                hint,
            })
        }
        Err(other) => Err(other),
    }
}
