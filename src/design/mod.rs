//! The designs (docs/DESIGN.md 6 and 7): their architecture data (from `assets/arch/`), which
//! operand patterns each runs, and the dataflow configuration it runs them with.

pub mod highlight;
pub mod tc;

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::format::TwoRankHss;
use crate::pattern::Pattern;

/// A design the emulator can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Design {
    /// The dense tensor core.
    Tc,
    /// HighLight: hierarchical skipping on A, gating on B.
    Highlight,
}

impl Design {
    /// The design's name on the command line and in results.
    pub fn id(self) -> &'static str {
        match self {
            Design::Tc => "tc",
            Design::Highlight => "highlight",
        }
    }

    /// The shipped architecture file of the design.
    fn default_arch(self) -> &'static str {
        match self {
            Design::Tc => include_str!("../../assets/arch/tc.toml"),
            Design::Highlight => include_str!("../../assets/arch/highlight.toml"),
        }
    }

    /// The design's default architecture (`assets/arch/<design>.toml`).
    pub fn arch(self) -> Arch {
        Arch::parse(
            self.default_arch(),
            &format!("assets/arch/{}.toml", self.id()),
        )
        .expect("the shipped architecture files are valid")
    }

    /// How the design runs A x B, or why it cannot.
    pub fn dataflow(self, arch: &Arch, a: &Pattern, _b: &Pattern) -> Result<Dataflow, DesignError> {
        match self {
            Design::Tc => Ok(tc::dataflow(arch)),
            Design::Highlight => highlight::dataflow(arch, a),
        }
    }
}

/// A SAF rank of HighLight: G slots per fiber, fiber shapes `h_min..=h_max`; the mux is sized
/// for `h_max`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SafRank {
    pub g: u32,
    pub h_min: u32,
    pub h_max: u32,
}

/// Storage sizes, kept for reference.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageSizes {
    pub glb_data_bytes: u64,
    pub glb_meta_bytes: u64,
    pub rf_bytes_per_array: u64,
}

/// A design's architecture (an `assets/arch/*.toml` file).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    pub name: String,
    pub clock_hz: f64,
    pub arrays: usize,
    pub rows_per_array: usize,
    pub pes_per_row: usize,
    pub macs_per_pe: usize,
    /// Output columns of the partial-sum tile each array's RF holds.
    pub tile_n: usize,
    #[serde(default)]
    pub rank1: Option<SafRank>,
    #[serde(default)]
    pub rank0: Option<SafRank>,
    pub storage: StorageSizes,
}

#[derive(Debug, Error)]
pub enum DesignError {
    #[error("cannot read architecture file {path}: {source}")]
    ReadArch {
        path: String,
        source: std::io::Error,
    },
    #[error("architecture file {path}: {message}")]
    BadArch { path: String, message: String },
    #[error("{design} cannot run A = {pattern}: {design} runs A = {supports}{hint}")]
    UnsupportedA {
        design: String,
        pattern: String,
        supports: String,
        hint: String,
    },
}

impl Arch {
    /// Reads and checks an architecture file.
    pub fn load(path: &Path) -> Result<Arch, DesignError> {
        let text = std::fs::read_to_string(path).map_err(|source| DesignError::ReadArch {
            path: path.display().to_string(),
            source,
        })?;
        Arch::parse(&text, &path.display().to_string())
    }

    /// Parses and checks architecture TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Arch, DesignError> {
        let bad = |message: String| DesignError::BadArch {
            path: origin.to_string(),
            message,
        };
        let arch: Arch = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        let counts = [
            arch.arrays,
            arch.rows_per_array,
            arch.pes_per_row,
            arch.macs_per_pe,
            arch.tile_n,
        ];
        if counts.contains(&0) {
            return Err(bad(
                "arrays, rows_per_array, pes_per_row, macs_per_pe and tile_n must be at least 1"
                    .into(),
            ));
        }
        if !(arch.clock_hz.is_finite() && arch.clock_hz > 0.0) {
            return Err(bad(format!(
                "clock_hz = {} must be a positive number",
                arch.clock_hz
            )));
        }
        for (name, rank) in [("rank1", arch.rank1), ("rank0", arch.rank0)] {
            if let Some(r) = rank
                && !(1 <= r.g && r.g <= r.h_min && r.h_min <= r.h_max && r.h_max <= 16)
            {
                return Err(bad(format!(
                    "[{name}] needs 1 <= g <= h_min <= h_max <= 16"
                )));
            }
        }
        if let Some(r1) = arch.rank1
            && !arch.pes_per_row.is_multiple_of(r1.g as usize)
        {
            return Err(bad(format!(
                "pes_per_row = {} is not a multiple of rank1 g = {}",
                arch.pes_per_row, r1.g
            )));
        }
        if let Some(r0) = arch.rank0
            && arch.macs_per_pe != r0.g as usize
        {
            return Err(bad(format!(
                "macs_per_pe = {} must equal rank0 g = {}",
                arch.macs_per_pe, r0.g
            )));
        }
        Ok(arch)
    }

    /// Rows of M the arrays work on together.
    pub fn rows_per_group(&self) -> usize {
        self.arrays * self.rows_per_array
    }
}

/// How the tensor-core loop nest of docs/DESIGN.md 6 runs one workload: the configuration shared
/// by the CPU reference and the GPU kernel. TC and HighLight are both configurations of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dataflow {
    /// A's structure as the PEs hold it: G1 block slots per K1 fiber, G0 MACs per PE.
    pub shape: TwoRankHss,
    /// K1 fibers one row of PEs covers per k-step: PEs per row / G1.
    pub fibers_per_step: usize,
    /// PE arrays working in lockstep on different rows of M.
    pub arrays: usize,
    /// Rows of PEs per array.
    pub rows_per_array: usize,
    /// Output columns of one RF tile.
    pub tile_n: usize,
    /// A rank1 SAF: K1 coordinates are read and each PE's rank1 mux selects its block.
    pub rank1_saf: bool,
    /// A rank0 SAF: A is read compressed with K0 coordinates and each MAC's mux selects its value.
    pub rank0_saf: bool,
    /// A VFMU buffers B's window for the muxes.
    pub vfmu: bool,
    /// B is read as blocked CSR when it is not dense.
    pub b_compressed: bool,
    /// Zero operands are gated; without it every MAC slot is performed.
    pub gating: bool,
}

impl Dataflow {
    /// Rows of M the arrays work on together (arrays x rows per array).
    pub fn rows_per_group(&self) -> usize {
        self.arrays * self.rows_per_array
    }

    /// K1 fibers per row for a reduction of `k`.
    pub fn fibers(&self, k: usize) -> usize {
        k.div_ceil(self.shape.fiber_span())
    }

    /// k-steps per (row group, output column): ceil(Kpad / (fibers per step x H1 x H0)).
    pub fn k_steps(&self, k: usize) -> usize {
        self.fibers(k).div_ceil(self.fibers_per_step)
    }

    /// Cycles = ceil(M / rows per group) x N x k-steps (docs/DESIGN.md 6); pipeline fill and
    /// bandwidth stalls are not modelled.
    pub fn cycles(&self, m: usize, k: usize, n: usize) -> u64 {
        (m.div_ceil(self.rows_per_group()) * n * self.k_steps(k)) as u64
    }
}
