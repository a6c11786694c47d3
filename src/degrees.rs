//! Sparsity degrees as each design sees them (`assets/degrees.toml`, docs/DESIGN.md 7): a sweep
//! is given degrees; each design gets the operand patterns it was built for.

use std::collections::BTreeMap;

use serde::Deserialize;
use thiserror::Error;

use crate::design::Design;
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
