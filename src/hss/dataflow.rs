//! How an HSS design runs one operand pair (docs/DESIGN.md 12): each rank's running G:H, whether
//! its SAF is active, and the loop nest's shape, shared by the CPU reference and the GPU kernel.

use super::spec::{Driver, HssArch, HssRank, Level, Saf};
use crate::design::{DesignError, structured};
use crate::format::{TreeRank, nrank_cp};
use crate::pattern::{Pattern, RuledRank};

/// Which operand's structure a rank exploits in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// One rank as it runs: `w` children processed per fiber out of `h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunRank {
    /// Children processed per parent slot.
    pub w: usize,
    /// Children per fiber (the running pattern's H).
    pub h: usize,
    /// The SAF selects: coordinates are read and each slot's H_max-to-1 mux picks its child.
    pub skip: bool,
    /// Empty children gate their MACs.
    pub gate: bool,
    /// The operand whose coordinates drive the selection.
    pub side: Side,
    /// The mux size (the rank's largest H).
    pub h_max: u32,
    pub level: Level,
}

/// An HSS design's loop nest for one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HssDataflow {
    /// Outermost first; the last is Rank0.
    pub ranks: Vec<RunRank>,
    /// Top-rank fibers one row of PEs covers per k-step.
    pub fibers_per_step: usize,
    pub arrays: usize,
    pub rows_per_array: usize,
    pub tile_n: usize,
    /// MACs gate zero operands; else every slot is performed.
    pub gate_zeros: bool,
    /// A VFMU buffers B's window for an array-level SAF.
    pub vfmu: bool,
    /// A 2:1 mux per PE picks the operand driving skipping.
    pub skip_select: bool,
}

impl HssDataflow {
    /// A's fiber tree as stored: B-driven ranks keep every child.
    pub fn a_tree(&self) -> Vec<TreeRank> {
        let tree = |r: &RunRank| match r.side {
            Side::A => TreeRank { w: r.w, h: r.h, select: r.skip, gate: r.gate },
            Side::B => TreeRank { w: r.h, h: r.h, select: false, gate: false },
        };
        self.ranks.iter().map(tree).collect()
    }

    /// B's columns as stored where B drives a rank: its nonempty children there, every
    /// child elsewhere (with coordinates, as HighLight-DSSO's CP stores them).
    pub fn b_tree(&self) -> Option<Vec<TreeRank>> {
        self.ranks.iter().any(|r| r.side == Side::B).then(|| {
            let tree = |r: &RunRank| match r.side {
                Side::B => TreeRank { w: r.w, h: r.h, select: true, gate: false },
                Side::A => TreeRank { w: r.h, h: r.h, select: true, gate: false },
            };
            self.ranks.iter().map(tree).collect()
        })
    }

    /// The tree the PEs process: `w` of each rank.
    pub fn processed(&self) -> Vec<TreeRank> {
        self.ranks.iter().map(|r| TreeRank { w: r.w, h: r.h, select: r.skip, gate: r.gate }).collect()
    }

    /// K positions of one top-rank fiber.
    pub fn span(&self) -> usize {
        nrank_cp::span(&self.processed())
    }

    /// Processed slots of rank `i` per top-rank fiber.
    pub fn slots(&self, i: usize) -> usize {
        nrank_cp::slots(&self.processed(), i)
    }

    /// MAC slots per top-rank fiber.
    pub fn leaves(&self) -> usize {
        self.slots(self.ranks.len() - 1)
    }

    /// PEs per top-rank fiber: the array-level ranks' processed slots.
    pub fn pes_per_fiber(&self) -> usize {
        self.ranks.iter().filter(|r| r.level == Level::Array).map(|r| r.w).product()
    }

    /// Top-rank fibers per row for a reduction of `k`.
    pub fn fibers(&self, k: usize) -> usize {
        k.div_ceil(self.span())
    }

    /// Rows of M the arrays work on together.
    pub fn rows_per_group(&self) -> usize {
        self.arrays * self.rows_per_array
    }

    /// Cycles = ceil(M / rows per group) x N x ceil(fibers / fibers per step), as HighLight's.
    pub fn cycles(&self, m: usize, k: usize, n: usize) -> u64 {
        (m.div_ceil(self.rows_per_group()) * n * self.fibers(k).div_ceil(self.fibers_per_step)) as u64
    }

    /// Whether A is read compressed: some A-driven rank selects.
    pub fn a_compressed(&self) -> bool {
        self.ranks.iter().any(|r| r.skip && r.side == Side::A)
    }
}

/// For each rank of a design with `n` ranks, the pattern's ruled rank aligned to it (innermost
/// to innermost; dense top ranks dropped); `None` where the pattern is dense there. `None` for
/// unstructured patterns.
fn aligned(p: &Pattern, n: usize) -> Option<Vec<Option<RuledRank>>> {
    let ruled = structured(p)?;
    let mut out = vec![None; n];
    for (slot, rule) in out.iter_mut().rev().zip(ruled.iter().rev()) {
        *slot = Some(rule.clone());
    }
    Some(out)
}

impl HssArch {
    /// How the design runs A x B, or why it cannot.
    pub fn dataflow(&self, a: &Pattern, b: &Pattern) -> Result<HssDataflow, DesignError> {
        let n = self.ranks.len();
        let a_ranks = aligned(a, n);
        let b_ranks = aligned(b, n);
        let mut ranks = Vec::with_capacity(n);
        for (i, spec) in self.ranks.iter().enumerate() {
            let skip_outside = self.ranks[..i].iter().any(|r| r.saf == Saf::Skip);
            let a_rule = a_ranks.as_ref().and_then(|r| r[i].clone());
            let run = match spec.saf {
                Saf::Skip => {
                    let by_b =
                        if spec.operand == Driver::A { None } else { b_driven(spec, i, &b_ranks, &a_ranks) };
                    if let Some(run) = by_b {
                        run
                    } else if spec.operand == Driver::B {
                        return Err(DesignError::Unsupported {
                            design: self.name.clone(),
                            operand: "B",
                            pattern: b.to_string(),
                            supports: format!(
                                "K{}(G:H) with G <= {}, H in {:?}, dense at the other ranks with A's block sizes",
                                n - 1 - i,
                                spec.g.unwrap_or(1),
                                spec.h
                            ),
                            hint: String::new(),
                        });
                    } else if a_ranks.is_none() {
                        return Err(self.unsupported(a));
                    } else {
                        a_skip(spec, a_rule.as_ref()).ok_or_else(|| self.unsupported(a))?
                    }
                }
                Saf::Gate | Saf::None => {
                    let h = match a_rule {
                        Some(rule) if skip_outside => {
                            if !spec.h.contains(&rule.h) {
                                return Err(self.unsupported(a));
                            }
                            rule.h
                        }
                        _ => spec.h_max(),
                    };
                    RunRank {
                        w: h as usize,
                        h: h as usize,
                        skip: false,
                        gate: spec.saf == Saf::Gate,
                        side: Side::A,
                        h_max: spec.h_max(),
                        level: spec.level,
                    }
                }
            };
            ranks.push(run);
        }
        let pes_per_fiber: usize = ranks.iter().filter(|r| r.level == Level::Array).map(|r| r.w).product();
        Ok(HssDataflow {
            fibers_per_step: self.pes_per_row / pes_per_fiber,
            arrays: self.arrays,
            rows_per_array: self.rows_per_array,
            tile_n: self.tile_n,
            gate_zeros: self.b.gate_zeros,
            vfmu: self.ranks.iter().any(|r| r.saf == Saf::Skip && r.level == Level::Array),
            skip_select: self.ranks.iter().any(|r| r.operand == Driver::Either),
            ranks,
        })
    }

    fn unsupported(&self, a: &Pattern) -> DesignError {
        DesignError::Unsupported {
            design: self.name.clone(),
            operand: "A",
            pattern: a.to_string(),
            supports: self.forms(),
            hint: String::new(),
        }
    }

    /// The A patterns the design runs, as one line.
    pub fn forms(&self) -> String {
        let n = self.ranks.len();
        let ranks: Vec<String> = self
            .ranks
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let hs = r.h.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
                let name = format!("K{}", n - 1 - i);
                match (r.saf, r.g) {
                    (Saf::Skip, Some(g)) => format!("{name}(G:H) with G <= {g}, H in {{{hs}}}"),
                    _ => format!("{name}(G:H) with H in {{{hs}}}"),
                }
            })
            .collect();
        format!("dense or {} (outermost first; missing top ranks dense)", ranks.join(" -> "))
    }
}

/// An A-driven skip rank for A's rule there: G' <= G and H supported; dense A runs G:G, with the
/// SAF bypassed (as dense hardware) where G:G is not a supported pattern.
fn a_skip(spec: &HssRank, rule: Option<&RuledRank>) -> Option<RunRank> {
    let g = spec.g.unwrap_or(1);
    let run = |h: u32, skip: bool| RunRank {
        w: g as usize,
        h: h as usize,
        skip,
        gate: false,
        side: Side::A,
        h_max: spec.h_max(),
        level: spec.level,
    };
    match rule {
        None => Some(run(g, spec.h.contains(&g))),
        Some(r) if r.g == g && r.h == g => Some(run(g, spec.h.contains(&g))),
        Some(r) if r.g <= g && spec.h.contains(&r.h) => Some(run(r.h, true)),
        Some(_) => None,
    }
}

/// A rank driven by B (the outermost rank of a dual-side design): B is sparse there within the
/// SAF and dense at every other rank with A's block sizes; A is dense there.
fn b_driven(
    spec: &HssRank,
    i: usize,
    b_ranks: &Option<Vec<Option<RuledRank>>>,
    a_ranks: &Option<Vec<Option<RuledRank>>>,
) -> Option<RunRank> {
    let (b_ranks, a_ranks) = (b_ranks.as_ref()?, a_ranks.as_ref()?);
    let rule = b_ranks[i].as_ref()?;
    let g = spec.g.unwrap_or(1);
    let fits = rule.g < rule.h && rule.g <= g && spec.h.contains(&rule.h);
    let a_dense_here = a_ranks[i].as_ref().is_none_or(|r| r.g == r.h && r.h == rule.h);
    // Elsewhere B is dense with A's block sizes.
    let b_dense_elsewhere = b_ranks.iter().zip(a_ranks).enumerate().all(|(j, (b, a))| {
        j == i
            || match (b, a) {
                (None, _) => j < i,
                (Some(b), Some(a)) => b.g == b.h && b.h == a.h,
                (Some(_), None) => false,
            }
    });
    (fits && a_dense_here && b_dense_elsewhere).then(|| RunRank {
        w: g as usize,
        h: rule.h as usize,
        skip: true,
        gate: false,
        side: Side::B,
        h_max: spec.h_max(),
        level: spec.level,
    })
}
