//! Energy, latency and EDP from action counts (docs/DESIGN.md 8): energy = sum of count x energy
//! per action from an energy reference table (ERT, `assets/ert/*.toml` or `--ert FILE`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::counters::Counters;
use crate::design::Arch;

/// One action's energy.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErtAction {
    pub pj: f64,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// An energy reference table.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ert {
    pub name: String,
    pub actions: BTreeMap<String, ErtAction>,
}

#[derive(Debug, Error)]
pub enum EnergyError {
    #[error("cannot read energy table {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("energy table {path}: {message}")]
    Bad { path: String, message: String },
    #[error("energy table {ert:?} has no action {action:?}, which counter {counter} needs; it has: {have}")]
    MissingAction { ert: String, action: String, counter: String, have: String },
}

/// How a counter's units turn into an ERT action's units.
#[derive(Clone, Copy)]
enum Per {
    /// One action per count.
    Count,
    /// The action is per byte, the counter counts bits.
    Bit,
    /// A select of the design's rank1 mux costs H_max inputs.
    Rank1Mux,
    /// A select of the design's rank0 mux costs H_max inputs.
    Rank0Mux,
    /// A select of a 2:1 mux costs two inputs.
    TwoToOne,
}

/// The ERT action each counter is charged to (`cycles` costs no energy by itself).
const CHARGES: &[(&str, &str, Per)] = &[
    ("glb_read_a", "glb_read", Per::Count),
    ("glb_read_a_meta_bits", "glb_meta_read", Per::Bit),
    ("glb_read_b", "glb_read", Per::Count),
    ("glb_read_b_meta_bits", "glb_meta_read", Per::Bit),
    ("glb_write_z", "glb_write", Per::Count),
    ("pe_reg_write", "pe_reg", Per::Count),
    ("pe_reg_read", "pe_reg", Per::Count),
    ("vfmu_write", "vfmu", Per::Count),
    ("vfmu_read", "vfmu", Per::Count),
    ("rank1_mux", "mux_input", Per::Rank1Mux),
    ("rank0_mux", "mux_input", Per::Rank0Mux),
    ("skip_select_mux", "mux_input", Per::TwoToOne),
    ("mac", "mac", Per::Count),
    ("mac_gated", "mac_gated", Per::Count),
    ("adder", "adder", Per::Count),
    ("rf_read", "rf_read", Per::Count),
    ("rf_write", "rf_write", Per::Count),
];

impl Ert {
    /// The shipped default, public 45 nm data (`assets/ert/default-45nm.toml`).
    pub fn default_45nm() -> Ert {
        Ert::parse(include_str!("../assets/ert/default-45nm.toml"), "assets/ert/default-45nm.toml")
            .expect("the shipped energy table is valid")
    }

    /// Reads an ERT file.
    pub fn load(path: &Path) -> Result<Ert, EnergyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| EnergyError::Read { path: path.display().to_string(), source })?;
        Ert::parse(&text, &path.display().to_string())
    }

    /// Parses ERT TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Ert, EnergyError> {
        let bad = |message: String| EnergyError::Bad { path: origin.to_string(), message };
        let ert: Ert = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        if let Some((name, _)) = ert.actions.iter().find(|(_, a)| !(a.pj.is_finite() && a.pj >= 0.0)) {
            return Err(bad(format!("action {name:?} needs a finite, non-negative pj")));
        }
        Ok(ert)
    }
}

/// Energy, latency and EDP of one run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Evaluation {
    pub energy_pj: f64,
    /// Energy per counter, in counter order; sums to `energy_pj`.
    pub breakdown_pj: Vec<(&'static str, f64)>,
    pub latency_s: f64,
    /// Energy x latency, in J x s.
    pub edp: f64,
}

/// Charges every counter to its ERT action and times the cycles at the design's clock.
pub fn evaluate(counters: &Counters, arch: &Arch, ert: &Ert) -> Result<Evaluation, EnergyError> {
    let mut breakdown = Vec::with_capacity(CHARGES.len());
    for (counter, count) in counters.iter() {
        let Some(&(_, action, per)) = CHARGES.iter().find(|(c, _, _)| *c == counter) else {
            continue;
        };
        if count == 0 {
            breakdown.push((counter, 0.0));
            continue;
        }
        let pj = ert.actions.get(action).map(|a| a.pj).ok_or_else(|| EnergyError::MissingAction {
            ert: ert.name.clone(),
            action: action.to_string(),
            counter: counter.to_string(),
            have: ert.actions.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        let scale = match per {
            Per::Count => 1.0,
            Per::Bit => 1.0 / 8.0,
            Per::Rank1Mux => arch.rank1.map_or(0.0, |r| f64::from(r.h_max)),
            Per::Rank0Mux => arch.rank0.map_or(0.0, |r| f64::from(r.h_max)),
            Per::TwoToOne => 2.0,
        };
        breakdown.push((counter, count as f64 * pj * scale));
    }
    let energy_pj = breakdown.iter().map(|(_, e)| e).sum::<f64>();
    let latency_s = counters.cycles as f64 / arch.clock_hz;
    Ok(Evaluation { energy_pj, breakdown_pj: breakdown, latency_s, edp: energy_pj * 1e-12 * latency_s })
}
