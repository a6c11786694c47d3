//! What an HSS design supports and what its muxes cost (paper 5.2 and 5.3, figure 6; docs/DESIGN.md
//! 12): the sparsity degrees its skipping ranks compose, and its muxes counted by structure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::spec::{Driver, HssArch, Level, Saf};
use crate::pattern::Pattern;

/// One sparsity degree and the patterns that give it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Degree {
    pub sparsity: f64,
    pub patterns: Vec<String>,
}

/// The muxes of one skipping rank: `muxes` of `h_max` inputs, each built from `h_max - 1`
/// two-input cells (paper figure 7(b): an 8-to-1 mux is two 4-to-1s and a 2-to-1).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RankMux {
    pub rank: usize,
    pub level: Level,
    pub g: u32,
    pub h_max: u32,
    /// One per selection a cycle makes at full occupancy, over the whole design.
    pub muxes: u64,
    /// Two-input mux cells: the area proxy.
    pub cells: u64,
}

/// An HSS design's degrees and mux cost.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Support {
    pub design: String,
    /// Degrees of A that its skipping ranks turn into speedup.
    pub a_degrees: Vec<Degree>,
    /// Degrees of B, where B drives a rank.
    pub b_degrees: Vec<Degree>,
    /// Ranks that gate (energy only), with their H values.
    pub gate_ranks: Vec<(usize, Vec<u32>)>,
    pub ranks: Vec<RankMux>,
    /// HighLight-DSSO's 2:1 mux per PE picking the operand that drives skipping.
    pub skip_select_muxes: u64,
}

impl Support {
    /// Every A pattern with its sparsity, sparsest first, each degree's in table order.
    pub fn sparsest_first(&self) -> Vec<(f64, Pattern)> {
        let mut own: Vec<(f64, Pattern)> = self
            .a_degrees
            .iter()
            .flat_map(|d| {
                d.patterns.iter().filter_map(move |p| Pattern::parse(p).ok().map(|p| (d.sparsity, p)))
            })
            .collect();
        own.sort_by(|a, b| b.0.total_cmp(&a.0));
        own
    }

    /// Two-input mux cells of the whole design.
    pub fn cells(&self) -> u64 {
        self.ranks.iter().map(|r| r.cells).sum::<u64>() + self.skip_select_muxes
    }

    /// Mux inputs switched per cycle at full occupancy: the energy rule (a select of an
    /// H_max-to-1 mux costs H_max x `mux_input`).
    pub fn inputs_per_cycle(&self) -> u64 {
        self.ranks.iter().map(|r| r.muxes * u64::from(r.h_max)).sum::<u64>() + 2 * self.skip_select_muxes
    }

    /// Mux energy per cycle at full occupancy for `mux_input_pj` per input.
    pub fn pj_per_cycle(&self, mux_input_pj: f64) -> f64 {
        self.inputs_per_cycle() as f64 * mux_input_pj
    }
}

/// The degrees and mux cost of `hss`.
pub fn support(hss: &HssArch) -> Support {
    let n = hss.ranks.len();
    let rows = (hss.arrays * hss.rows_per_array) as u64;
    let per_fiber: usize =
        hss.ranks.iter().filter(|r| r.level == Level::Array).map(|r| r.width() as usize).product();
    let fibers = (hss.pes_per_row / per_fiber) as u64;
    let mut slots = fibers;
    let mut ranks = Vec::new();
    for (i, r) in hss.ranks.iter().enumerate() {
        slots *= u64::from(r.width());
        if r.saf == Saf::Skip {
            let muxes = rows * slots;
            ranks.push(RankMux {
                rank: n - 1 - i,
                level: r.level,
                g: r.width(),
                h_max: r.h_max(),
                muxes,
                cells: muxes * u64::from(r.h_max() - 1),
            });
        }
    }
    let either = hss.ranks.iter().any(|r| r.operand == Driver::Either);
    Support {
        design: hss.name.clone(),
        a_degrees: degrees(hss, |d| d != Driver::B),
        b_degrees: b_degrees(hss),
        gate_ranks: hss
            .ranks
            .iter()
            .enumerate()
            .filter(|(_, r)| r.saf == Saf::Gate)
            .map(|(i, r)| (n - 1 - i, r.h.clone()))
            .collect(),
        ranks,
        skip_select_muxes: if either { rows * hss.pes_per_row as u64 } else { 0 },
    }
}

/// Every product of the per-rank choices of the skip ranks `driven` selects: G/H for each H, or
/// dense where G:G is not a pattern (the SAF bypassed).
fn degrees(hss: &HssArch, driven: impl Fn(Driver) -> bool) -> Vec<Degree> {
    let n = hss.ranks.len();
    // Per rank: the (G, H) choices, None for a rank A is dense at.
    let mut combos: Vec<Vec<Option<(u32, u32)>>> = vec![Vec::new()];
    for r in &hss.ranks {
        let choices: Vec<Option<(u32, u32)>> = match (r.saf, r.g) {
            (Saf::Skip, Some(g)) if driven(r.operand) => {
                let mut c: Vec<_> = r.h.iter().map(|&h| Some((g, h))).collect();
                if !r.h.contains(&g) {
                    c.push(None);
                }
                c
            }
            _ => vec![None],
        };
        combos =
            combos.iter().flat_map(|c| choices.iter().map(move |x| [c.clone(), vec![*x]].concat())).collect();
    }
    let mut by_degree: BTreeMap<u64, Degree> = BTreeMap::new();
    for combo in combos {
        let density: f64 = combo.iter().flatten().map(|&(g, h)| f64::from(g) / f64::from(h)).product();
        let sparsity = 1.0 - density;
        let text = pattern_text(hss, &combo, n);
        let d = by_degree
            .entry((sparsity * 1e9).round() as u64)
            .or_insert(Degree { sparsity, patterns: Vec::new() });
        if !d.patterns.contains(&text) {
            d.patterns.push(text);
        }
    }
    by_degree.into_values().collect()
}

/// The pattern of one choice per rank: top dense ranks dropped, a dense rank inside a sparse one
/// written as its full block (G:G for skip, H_max:H_max for gate or none).
fn pattern_text(hss: &HssArch, combo: &[Option<(u32, u32)>], n: usize) -> String {
    let first = combo.iter().position(|c| c.is_some_and(|(g, h)| g < h));
    let Some(first) = first else { return "dense".into() };
    let ranks: Vec<String> = (first..n)
        .map(|i| {
            let (g, h) = combo[i].unwrap_or_else(|| {
                let r = &hss.ranks[i];
                match r.saf {
                    Saf::Skip => (r.width(), r.width()),
                    _ => (r.h_max(), r.h_max()),
                }
            });
            format!("K{}({g}:{h})", n - 1 - i)
        })
        .collect();
    ranks.join("->")
}

/// B's degrees where B drives the outermost rank: B = `K(G:H)->...(H0:H0)`, dense below.
fn b_degrees(hss: &HssArch) -> Vec<Degree> {
    let r = &hss.ranks[0];
    if r.operand == Driver::A {
        return Vec::new();
    }
    let g = r.width();
    let name = hss.ranks.len() - 1;
    r.h.iter()
        .filter(|&&h| h > g)
        .map(|&h| Degree {
            sparsity: 1.0 - f64::from(g) / f64::from(h),
            patterns: vec![format!("K{name}({g}:{h}), dense below")],
        })
        .collect()
}
