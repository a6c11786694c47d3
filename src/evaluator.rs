//! The one evaluator (docs/DESIGN.md 8 and 11): a run's counters, the operands' stored sizes and
//! a mapping become the hierarchy's counts, the run's cycles (the arrays', or a memory level's
//! at the architecture's bandwidth) and its energy, latency and EDP. The search scores every
//! candidate with it and the report prints its result for the chosen one, so what was optimised
//! is exactly what is printed.

use serde::{Deserialize, Serialize};

use crate::counters::Counters;
use crate::design::{Arch, Bandwidth};
use crate::energy::{EnergyError, Ert, Evaluation, counters_energy, evaluate as charge, hierarchy_energy};
use crate::hierarchy::{Hierarchy, Stored};
use crate::mapper;
use crate::mapping::Mapping;

/// What limits a run's cycles: the arrays, or one side of the DRAM or the GLB moving its traffic
/// at the architecture's bandwidth.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    #[default]
    Compute,
    DramRead,
    DramWrite,
    GlbRead,
    GlbWrite,
}

impl Bound {
    /// The bound's name in results (as serialised).
    pub fn id(self) -> &'static str {
        match self {
            Bound::Compute => "compute",
            Bound::DramRead => "dram-read",
            Bound::DramWrite => "dram-write",
            Bound::GlbRead => "glb-read",
            Bound::GlbWrite => "glb-write",
        }
    }

    /// The run's cycles: the arrays' (`compute`), or more where a level's `traffic` (bytes, in
    /// [`Hierarchy::traffic`]'s order) takes longer at its bandwidth.
    pub fn cycles(compute: u64, traffic: [u64; 4], bandwidth: Option<Bandwidth>) -> (u64, Bound) {
        let Some(bw) = bandwidth else { return (compute, Bound::Compute) };
        let sides = [
            (Bound::DramRead, bw.dram_read),
            (Bound::DramWrite, bw.dram_write),
            (Bound::GlbRead, bw.glb_read),
            (Bound::GlbWrite, bw.glb_write),
        ];
        sides.into_iter().zip(traffic).fold(
            (compute, Bound::Compute),
            |(best, bound), ((side, per_cycle), bytes)| {
                let cycles = (bytes as f64 / per_cycle).ceil() as u64;
                if cycles > best { (cycles, side) } else { (best, bound) }
            },
        )
    }
}

/// One evaluated (mapping, representation): the hierarchy's counts, cycles and energy.
#[derive(Clone, Debug)]
pub struct Evaluated {
    pub hierarchy: Hierarchy,
    pub cycles: u64,
    pub bound: Bound,
    pub evaluation: Evaluation,
}

/// What the evaluation of a run rests on besides the mapping: the emulated counters (and their
/// energy, the same for every mapping), the workload's shape, the design's architecture and the
/// energy table.
#[derive(Clone, Copy)]
pub struct Footing<'a> {
    counters: &'a Counters,
    counters_pj: f64,
    shape: (usize, usize, usize),
    arch: &'a Arch,
    ert: &'a Ert,
}

/// What the search ranks a candidate by: the arrays' and the hierarchy's energy together, and
/// the latency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    pub energy_pj: f64,
    pub latency_s: f64,
}

/// How the operands are stored, as the evaluator charges them: bytes and metadata per element
/// above the PE array, and the coordinate bits the PE registers read with them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Representation {
    pub a: Stored,
    pub b: Stored,
    pub pe_meta_read_bits: u64,
}

impl<'a> Footing<'a> {
    pub fn new(
        counters: &'a Counters,
        shape: (usize, usize, usize),
        arch: &'a Arch,
        ert: &'a Ert,
    ) -> Result<Footing<'a>, EnergyError> {
        Ok(Footing { counters, counters_pj: counters_energy(counters, arch, ert)?, shape, arch, ert })
    }

    /// The hierarchy's counts and the run's cycles under `mapping`.
    fn traffic(&self, mapping: &Mapping, rep: &Representation) -> (Hierarchy, u64, Bound) {
        let z_bytes = self.arch.output.bytes();
        let mut hierarchy = mapper::hierarchy(mapping, self.shape, rep.a, rep.b, z_bytes);
        hierarchy.pe_meta_read_bits = rep.pe_meta_read_bits;
        let (cycles, bound) = Bound::cycles(self.counters.cycles, hierarchy.traffic(), self.arch.bandwidth);
        (hierarchy, cycles, bound)
    }

    /// Cycles, counts and energy of `mapping` with operands stored as `rep`.
    pub fn evaluate(&self, mapping: &Mapping, rep: &Representation) -> Result<Evaluated, EnergyError> {
        let (hierarchy, cycles, bound) = self.traffic(mapping, rep);
        let evaluation = charge(self.counters, &hierarchy, cycles, self.arch, self.ert)?;
        Ok(Evaluated { hierarchy, cycles, bound, evaluation })
    }

    /// [`Footing::evaluate`]'s energy and latency without the breakdown, for the search: the same
    /// sums in the same order, so equal bit for bit (tests/search.rs).
    pub fn score(&self, mapping: &Mapping, rep: &Representation) -> Result<Score, EnergyError> {
        let (hierarchy, cycles, _) = self.traffic(mapping, rep);
        let energy_pj = hierarchy_energy(&hierarchy, self.arch, self.ert)? + self.counters_pj;
        Ok(Score { energy_pj, latency_s: cycles as f64 / self.arch.clock_hz })
    }
}
