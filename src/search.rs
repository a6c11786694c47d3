//! The search (docs/DESIGN.md 11): each design at the best mapping and representation its
//! hardware allows, under the one objective the user compares. Every candidate, a machine's
//! mapping-chosen loops with a mapping of its [`Nest::candidates`] and a choice of operand
//! formats, is scored by [`Footing::evaluate`],
//! the evaluator the report prints from, so the figures printed are the ones optimised.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::counters::Counters;
use crate::design::{Arch, Machine};
use crate::energy::{EnergyError, Ert};
use crate::evaluator::{Footing, Representation, Score};
use crate::format::Format;
use crate::mapper::{self, Nest};
use crate::mapping::{Mapping, MappingError};

/// What the search minimises (`--objective`), the same for every design of a comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Energy x delay, as Timeloop users usually set it.
    #[default]
    Edp,
    /// Energy alone (cycles break ties).
    Energy,
    /// Cycles alone (energy breaks ties).
    Delay,
}

impl Objective {
    /// The objective's name on the command line and in results.
    pub fn id(self) -> &'static str {
        match self {
            Objective::Edp => "edp",
            Objective::Energy => "energy",
            Objective::Delay => "delay",
        }
    }

    /// The key to minimise for a run of `energy_pj` over `latency_s`: the objective, then the
    /// other figure to break ties.
    pub fn key(self, energy_pj: f64, latency_s: f64) -> (f64, f64) {
        match self {
            Objective::Edp => (energy_pj * latency_s, energy_pj),
            Objective::Energy => (energy_pj, latency_s),
            Objective::Delay => (latency_s, energy_pj),
        }
    }

    /// Whether `(energy, latency)` is better than `other` under the objective.
    pub fn better(self, (energy, latency): (f64, f64), (other_energy, other_latency): (f64, f64)) -> bool {
        let (x, y) = (self.key(energy, latency), self.key(other_energy, other_latency));
        x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)).is_lt()
    }
}

/// What a run may choose and what the user fixed: the objective, and optionally the mapping
/// (`--mapping`) and each operand's format (`--a-format`, `--b-format`).
#[derive(Clone, Debug, Default)]
pub struct Search {
    pub objective: Objective,
    pub mapping: Option<Mapping>,
    pub a_format: Option<Format>,
    pub b_format: Option<Format>,
}

impl Search {
    /// The search for the swapped order `Z^T = B^T x A^T`: the operands' formats trade places;
    /// a mapping names the loops of one order, so the swapped order gets its own.
    pub fn swapped(&self) -> Search {
        Search { objective: self.objective, mapping: None, a_format: self.b_format, b_format: self.a_format }
    }
}

/// The formats A and B are stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Formats {
    pub a: Format,
    pub b: Format,
}

/// How the choice was made, reported with every run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SearchReport {
    pub objective: Objective,
    /// (mapping, representation) pairs evaluated.
    pub candidates: u64,
    /// Wall time of the search.
    pub ms: f64,
    /// The mapping was the user's (`--mapping`); only representations were searched.
    pub mapping_given: bool,
}

/// One machine the hardware allows (its mapping-chosen loops), its counters, its mapping space
/// and the representations of its operands.
pub struct Candidate {
    pub machine: Machine,
    pub nest: Nest,
    pub counters: Counters,
    pub representations: Vec<(Formats, Representation)>,
}

/// Where every candidate runs: the workload's shape, the design's architecture, the energy table.
#[derive(Clone, Copy)]
pub struct Place<'a> {
    pub shape: (usize, usize, usize),
    pub arch: &'a Arch,
    pub ert: &'a Ert,
}

/// The best candidate: the run emulates its machine and formats and reports the evaluator's
/// figures for its mapping.
#[derive(Clone, Debug)]
pub struct Chosen {
    pub machine: Machine,
    pub formats: Formats,
    pub mapping: Mapping,
    pub report: SearchReport,
}

#[derive(Debug, Error)]
pub enum SearchError {
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Energy(#[from] EnergyError),
}

/// The best of every candidate machine with every mapping of its nest (or the `given` one) and
/// every representation, under `objective`. Mappings whose GLB tiles do not fit a representation
/// are not candidates for it.
pub fn best(
    place: &Place,
    candidates: &[Candidate],
    objective: Objective,
    given: Option<&Mapping>,
) -> Result<Chosen, SearchError> {
    let start = Instant::now();
    if let Some(m) = given {
        m.check_covers(place.shape, "--mapping")?;
    }
    let mut best: Option<(&Candidate, Formats, &Mapping, Score)> = None;
    let mut evaluated = 0u64;
    let mappings: Vec<Vec<Mapping>> = candidates
        .iter()
        .map(|c| match given {
            Some(m) => vec![m.clone()],
            None => c.nest.candidates().collect(),
        })
        .collect();
    for (candidate, mappings) in candidates.iter().zip(&mappings) {
        let footing = Footing::new(&candidate.counters, place.shape, place.arch, place.ert)?;
        for (formats, rep) in &candidate.representations {
            for mapping in mappings.iter().filter(|m| mapper::fits(m, place.arch, rep.a, rep.b)) {
                evaluated += 1;
                let s = footing.score(mapping, rep)?;
                if best.as_ref().is_none_or(|(_, _, _, b)| {
                    objective.better((s.energy_pj, s.latency_s), (b.energy_pj, b.latency_s))
                }) {
                    best = Some((candidate, *formats, mapping, s));
                }
            }
        }
    }
    let Some((candidate, formats, mapping, _)) = best else {
        // Nothing fits: say what the first representation's tiles need.
        let first = candidates.first().expect("every design has a machine");
        let (_, rep) = first.representations.first().expect("every design stores its operands somehow");
        let nothing = first.nest.nothing_fits(place.arch, rep.a, rep.b);
        return Err(match given {
            Some(m) => mapper::check_fits(m, place.arch, rep.a, rep.b, "--mapping").err().unwrap_or(nothing),
            None => nothing,
        }
        .into());
    };
    let report = SearchReport {
        objective,
        candidates: evaluated,
        ms: start.elapsed().as_secs_f64() * 1e3,
        mapping_given: given.is_some(),
    };
    Ok(Chosen { machine: candidate.machine, formats, mapping: mapping.clone(), report })
}
