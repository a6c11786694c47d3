//! Sparsity degrees as each design sees them (`assets/degrees.toml`, docs/DESIGN.md 7): a sweep
//! is given degrees; each design gets the operand patterns it was built for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::design::{Arch, Design};
use crate::pattern::Pattern;

/// One A degree: the A patterns each design may get at it.
#[derive(Clone, Debug, Deserialize)]
struct ADegree {
    sparsity: f64,
    #[serde(flatten)]
    designs: BTreeMap<String, Vec<String>>,
}

/// The table of `assets/degrees.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegreeTable {
    a: Vec<ADegree>,
    b: BTreeMap<String, String>,
}

#[derive(Debug, Error, PartialEq)]
pub enum DegreeError {
    #[error("A sparsity {sparsity} is not in the degree table; it has: {have}")]
    UnknownA { sparsity: f64, have: String },
    #[error("the degree table has no {operand} entry for {design}")]
    NoEntry { operand: &'static str, design: String },
    #[error("B sparsity {0} must be in [0, 1)")]
    BadB(f64),
    #[error("{design} needs B = K0(G:8), so its B sparsity must be a multiple of 12.5 % (got {sparsity})")]
    NotEighths { design: String, sparsity: f64 },
    #[error("degree table pattern {text:?}: {message}")]
    BadPattern { text: String, message: String },
}

impl DegreeTable {
    /// The shipped table.
    pub fn shipped() -> DegreeTable {
        toml::from_str(include_str!("../assets/degrees.toml")).expect("the shipped degree table is valid")
    }

    /// The A sparsities the table knows.
    pub fn a_sparsities(&self) -> Vec<f64> {
        self.a.iter().map(|d| d.sparsity).collect()
    }

    /// The A patterns `design` may get at `sparsity`.
    pub fn a_patterns(&self, design: Design, sparsity: f64) -> Result<Vec<Pattern>, DegreeError> {
        let degree = self.a.iter().find(|d| (d.sparsity - sparsity).abs() < 1e-9).ok_or_else(|| {
            DegreeError::UnknownA {
                sparsity,
                have: self.a_sparsities().iter().map(f64::to_string).collect::<Vec<_>>().join(", "),
            }
        })?;
        let texts = degree
            .designs
            .get(design.id())
            .ok_or(DegreeError::NoEntry { operand: "A", design: design.id().to_string() })?;
        texts.iter().map(|t| parse(t)).collect()
    }

    /// The B pattern `design` gets at `sparsity`.
    pub fn b_pattern(&self, design: Design, sparsity: f64) -> Result<Pattern, DegreeError> {
        if !(0.0..1.0).contains(&sparsity) {
            return Err(DegreeError::BadB(sparsity));
        }
        if sparsity == 0.0 {
            return Ok(Pattern::Dense);
        }
        let template = self
            .b
            .get(design.id())
            .ok_or(DegreeError::NoEntry { operand: "B", design: design.id().to_string() })?;
        let density = 1.0 - sparsity;
        let eighths = density * 8.0;
        if template.contains("{g8}") && (eighths - eighths.round()).abs() > 1e-9 {
            return Err(DegreeError::NotEighths { design: design.id().to_string(), sparsity });
        }
        parse(
            &template
                .replace("{density}", &density.to_string())
                .replace("{g8}", &eighths.round().to_string()),
        )
    }
}

fn parse(text: &str) -> Result<Pattern, DegreeError> {
    Pattern::parse(text)
        .map_err(|e| DegreeError::BadPattern { text: text.to_string(), message: e.to_string() })
}

/// The sparsity degrees a design runs natively, and its muxing cost (paper figure 6).
#[derive(Clone, Debug, Serialize)]
pub struct DegreeSupport {
    pub design: Design,
    /// Runs any degree (treats operands as unstructured).
    pub any: bool,
    /// Each A sparsity the design exploits, with the patterns that give it.
    pub degrees: Vec<(f64, Vec<String>)>,
    /// Per SAF rank: G muxes of H_max inputs.
    pub mux_ranks: Vec<MuxRank>,
}

/// One rank's muxes: `g` muxes of `h_max` inputs.
#[derive(Clone, Debug, Serialize)]
pub struct MuxRank {
    pub rank: u32,
    pub g: u32,
    pub h_max: u32,
}

impl DegreeSupport {
    /// Mux inputs of the design: sum over ranks of G x H_max.
    pub fn mux_inputs(&self) -> u32 {
        self.mux_ranks.iter().map(|r| r.g * r.h_max).sum()
    }

    /// Mux inputs of a one-rank design of the same flexibility: prod G muxes of prod H_max inputs.
    pub fn one_rank_mux_inputs(&self) -> u32 {
        let g: u32 = self.mux_ranks.iter().map(|r| r.g).product();
        let h: u32 = self.mux_ranks.iter().map(|r| r.h_max).product();
        g * h
    }
}

/// The degrees `design` exploits with architecture `arch`: every G:H form its SAF ranks allow.
pub fn supported(design: Design, arch: &Arch) -> DegreeSupport {
    let mut degrees: BTreeMap<u64, (f64, Vec<String>)> = BTreeMap::new();
    let mut add = |density: f64, pattern: String| {
        let sparsity = 1.0 - density;
        degrees.entry((sparsity * 1e9).round() as u64).or_insert((sparsity, Vec::new())).1.push(pattern);
    };
    let mut mux_ranks = Vec::new();
    match design {
        Design::Tc => add(1.0, "dense".into()),
        Design::Dstc => {}
        Design::Stc | Design::S2ta => {
            add(1.0, "dense".into());
            if let Some(r0) = arch.rank0 {
                mux_ranks.push(MuxRank { rank: 0, g: r0.g, h_max: r0.h_max });
                for g in 1..=r0.g {
                    add(f64::from(g) / f64::from(r0.h_max), format!("K0({g}:{})", r0.h_max));
                }
                // Dense A runs on STC as on TC; S2TA cannot run it.
                if design == Design::S2ta {
                    degrees.remove(&0);
                }
            }
        }
        Design::Highlight | Design::HighlightDsso => {
            if let (Some(r1), Some(r0)) = (arch.rank1, arch.rank0) {
                mux_ranks.push(MuxRank { rank: 1, g: r1.g, h_max: r1.h_max });
                mux_ranks.push(MuxRank { rank: 0, g: r0.g, h_max: r0.h_max });
                for h1 in r1.h_min..=r1.h_max {
                    for h0 in r0.h_min..=r0.h_max {
                        let density = f64::from(r1.g * r0.g) / f64::from(h1 * h0);
                        add(density, format!("K1({}:{h1})->K0({}:{h0})", r1.g, r0.g));
                    }
                }
            }
        }
    }
    DegreeSupport { design, any: design == Design::Dstc, degrees: degrees.into_values().collect(), mux_ranks }
}
