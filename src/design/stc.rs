//! STC, NVIDIA's sparse tensor core (docs/DESIGN.md 7): dense A runs as on TC; an A whose rank 0
//! is `(G:4)` with G <= 2, whatever lies above, runs as 2:4 (zero slots where sparser): each row's
//! MACs cover twice the K, each picking its B value with a 4:2 mux. No gating: at most 2x.

use super::{Arch, Dataflow, DesignError, structured, tc};
use crate::format::TwoRankHss;
use crate::pattern::Pattern;

pub fn dataflow(arch: &Arch, a: &Pattern) -> Result<Dataflow, DesignError> {
    let dense = tc::dataflow(arch);
    let Some(rank0) = arch.rank0 else {
        return Err(DesignError::BadArch {
            path: arch.name.clone(),
            message: "STC needs a [rank0] section".into(),
        });
    };
    let fits = |r: &crate::pattern::RuledRank| r.g <= rank0.g && (rank0.h_min..=rank0.h_max).contains(&r.h);
    match structured(a) {
        Some([]) => Ok(dense),
        Some([.., r0]) if fits(r0) => Ok(Dataflow {
            shape: TwoRankHss { g0: rank0.g, h0: r0.h, ..dense.shape },
            rank0_saf: true,
            ..dense
        }),
        _ => Err(DesignError::Unsupported {
            design: arch.name.clone(),
            operand: "A",
            pattern: a.to_string(),
            supports: format!(
                "dense, or any pattern whose rank 0 is K0(G:{}) with G <= {} (run as {}:{})",
                rank0.h_max, rank0.g, rank0.g, rank0.h_max
            ),
            hint: "; it runs this operand only as dense, computing its zeros".into(),
        }),
    }
}
