//! The designs (docs/DESIGN.md 6 and 7): their architecture data (from `assets/arch/`), which
//! operand patterns each runs, and the dataflow configuration it runs them with.

pub mod dstc;
pub mod highlight;
pub mod highlight_dsso;
pub mod s2ta;
pub mod stc;
pub mod tc;

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::format::TwoRankHss;
use crate::pattern::{Pattern, RuledRank};

/// A design the emulator can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Design {
    /// The dense tensor core.
    Tc,
    /// NVIDIA's sparse tensor core: 2:4 A, at most 2x.
    Stc,
    /// The dual-side sparse tensor core: outer product over bitmask-compressed A and B.
    Dstc,
    /// S2TA: time-unrolled G:8 B, G:8 A picked by an 8:1 mux.
    S2ta,
    /// HighLight: hierarchical skipping on A, gating on B.
    Highlight,
    /// HighLight with dual-side skipping: rank1 on B, rank0 on A.
    HighlightDsso,
}

impl Design {
    /// Every design, in the order reports list them.
    pub const ALL: [Design; 6] =
        [Design::Tc, Design::Stc, Design::Dstc, Design::S2ta, Design::Highlight, Design::HighlightDsso];

    /// The design's name on the command line and in results.
    pub fn id(self) -> &'static str {
        match self {
            Design::Tc => "tc",
            Design::Stc => "stc",
            Design::Dstc => "dstc",
            Design::S2ta => "s2ta",
            Design::Highlight => "highlight",
            Design::HighlightDsso => "highlight-dsso",
        }
    }

    /// The shipped architecture file of the design.
    fn default_arch(self) -> &'static str {
        match self {
            Design::Tc => include_str!("../../assets/arch/tc.toml"),
            Design::Stc => include_str!("../../assets/arch/stc.toml"),
            Design::Dstc => include_str!("../../assets/arch/dstc.toml"),
            Design::S2ta => include_str!("../../assets/arch/s2ta.toml"),
            Design::Highlight => include_str!("../../assets/arch/highlight.toml"),
            Design::HighlightDsso => include_str!("../../assets/arch/highlight-dsso.toml"),
        }
    }

    /// The design's default architecture (`assets/arch/<design>.toml`).
    pub fn arch(self) -> Arch {
        Arch::parse(self.default_arch(), &format!("assets/arch/{}.toml", self.id()))
            .expect("the shipped architecture files are valid")
    }

    /// How the design runs A x B, or why it cannot.
    pub fn machine(self, arch: &Arch, a: &Pattern, b: &Pattern) -> Result<Machine, DesignError> {
        match self {
            Design::Tc => Ok(Machine::TensorCore(tc::dataflow(arch))),
            Design::Stc => stc::dataflow(arch, a).map(Machine::TensorCore),
            Design::Dstc => Ok(Machine::Dstc(dstc::Dstc::new(arch))),
            Design::S2ta => s2ta::S2ta::new(arch, a, b).map(Machine::S2ta),
            Design::Highlight => highlight::dataflow(arch, a).map(Machine::TensorCore),
            Design::HighlightDsso => highlight_dsso::dataflow(arch, a, b).map(Machine::TensorCore),
        }
    }
}

/// The machine a design runs one operand pair on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// The tensor-core loop nest (TC, STC, HighLight, HighLight-DSSO).
    TensorCore(Dataflow),
    /// DSTC's outer product.
    Dstc(dstc::Dstc),
    /// S2TA's time-unrolled systolic array.
    S2ta(s2ta::S2ta),
}

/// The ruled ranks of a pattern that carry structure: dense `(H:H)` ranks above the first sparse
/// one dropped (`K1(4:4)->K0(2:4)` is `K0(2:4)`). `None` for unstructured or unconstrained
/// patterns.
pub fn structured(p: &Pattern) -> Option<&[RuledRank]> {
    match p {
        Pattern::Dense => Some(&[]),
        Pattern::Unstructured { .. } => None,
        Pattern::Hss { .. } if p.density().is_none() => None,
        Pattern::Hss { ruled, .. } => {
            let first_sparse = ruled.iter().position(|r| r.g < r.h).unwrap_or(ruled.len());
            Some(&ruled[first_sparse..])
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

/// Bandwidths in bytes per cycle (metadata bits count an eighth of a byte each), as the
/// Sparseloop artifact's `read_bandwidth` and `write_bandwidth` of its 8-bit-word DRAM and SMEM:
/// a run takes at least the cycles each level needs to move its traffic.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bandwidth {
    pub dram_read: f64,
    pub dram_write: f64,
    pub glb_read: f64,
    pub glb_write: f64,
}

impl Bandwidth {
    /// Every bandwidth a positive number, or what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let all = [self.dram_read, self.dram_write, self.glb_read, self.glb_write];
        if all.iter().all(|v| v.is_finite() && *v > 0.0) {
            Ok(())
        } else {
            Err("dram_read, dram_write, glb_read and glb_write must be positive numbers (bytes per cycle)"
                .into())
        }
    }
}

/// Storage sizes: the GLB's partitions bound the mapper's tiles.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageSizes {
    pub glb_data_bytes: u64,
    pub glb_meta_bytes: u64,
    pub rf_bytes_per_array: u64,
}

/// Largest count of one part of an architecture (arrays, rows, PEs, MACs, RF columns).
pub const MAX_ARCH_COUNT: usize = 1 << 16;
/// Largest product of those counts.
pub const MAX_ARCH_MACS: u64 = 1 << 32;

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
    /// Where outputs go and at what precision (docs/DESIGN.md 11).
    #[serde(default)]
    pub output: OutputPath,
    /// The DRAM's and GLB's bandwidths; without them, traffic never stalls the arrays.
    #[serde(default)]
    pub bandwidth: Option<Bandwidth>,
    /// How the formats the design reads are laid out.
    #[serde(default)]
    pub formats: FormatOptions,
}

/// Format layout options (`[formats]`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FormatOptions {
    /// `offsets` (default: one per block and one per column, Sparseloop's UOP) or `start-end`
    /// (two per block).
    #[serde(default)]
    pub blocked_csr_addresses: crate::format::CsrAddresses,
}

/// The outputs' path: requantised to `bits` and written from the RF to DRAM, or (`via_glb`)
/// through the GLB. The default follows the Sparseloop artifact: 8 bits, bypassing the GLB.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputPath {
    #[serde(default = "eight_bits")]
    pub bits: u32,
    #[serde(default)]
    pub via_glb: bool,
}

fn eight_bits() -> u32 {
    8
}

impl Default for OutputPath {
    fn default() -> Self {
        OutputPath { bits: eight_bits(), via_glb: false }
    }
}

impl OutputPath {
    /// Bytes of one output word.
    pub fn bytes(&self) -> u64 {
        u64::from(self.bits.div_ceil(8))
    }
}

#[derive(Debug, Error)]
pub enum DesignError {
    #[error("cannot read architecture file {path}: {source}")]
    ReadArch { path: String, source: std::io::Error },
    #[error("architecture file {path}: {message}")]
    BadArch { path: String, message: String },
    #[error("{design} cannot run {operand} = {pattern}: {design} runs {operand} = {supports}{hint}")]
    Unsupported { design: String, operand: &'static str, pattern: String, supports: String, hint: String },
}

impl Arch {
    /// Reads and checks an architecture file.
    pub fn load(path: &Path) -> Result<Arch, DesignError> {
        let text = crate::text::read_nested(path)
            .map_err(|source| DesignError::ReadArch { path: path.display().to_string(), source })?;
        Arch::parse(&text, &path.display().to_string())
    }

    /// Parses and checks architecture TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Arch, DesignError> {
        let arch: Arch = toml::from_str(text).map_err(|e| DesignError::BadArch {
            path: origin.to_string(),
            message: e.message().to_string(),
        })?;
        arch.check(origin)
    }

    /// Checks the counts, clock, output and SAF ranks of an architecture; `origin` names it.
    pub fn check(self, origin: &str) -> Result<Arch, DesignError> {
        let arch = self;
        let bad = |message: String| DesignError::BadArch { path: origin.to_string(), message };
        let counts = [arch.arrays, arch.rows_per_array, arch.pes_per_row, arch.macs_per_pe, arch.tile_n];
        if counts.contains(&0) {
            return Err(bad(
                "arrays, rows_per_array, pes_per_row, macs_per_pe and tile_n must be at least 1".into(),
            ));
        }
        // Every product of these counts (MACs, rows per group, counters per tile) must fit in the
        // u32 the GPU kernels and the u64 the counters use.
        let macs = counts.iter().try_fold(1u64, |p, &c| p.checked_mul(c as u64));
        if counts.iter().any(|&c| c > MAX_ARCH_COUNT) || macs.is_none_or(|m| m > MAX_ARCH_MACS) {
            return Err(bad(format!(
                "arrays, rows_per_array, pes_per_row, macs_per_pe and tile_n must each be at most {MAX_ARCH_COUNT}, and their product at most {MAX_ARCH_MACS}"
            )));
        }
        if !matches!(arch.output.bits, 8 | 16 | 32) {
            return Err(bad(format!("[output] bits = {}: accepted 8, 16 or 32", arch.output.bits)));
        }
        // Coordinates within a fiber are stored in 8 bits.
        if arch.pes_per_row > 255 || arch.macs_per_pe > 255 {
            return Err(bad(format!(
                "pes_per_row = {} and macs_per_pe = {} must be at most 255 (8-bit coordinates)",
                arch.pes_per_row, arch.macs_per_pe
            )));
        }
        if let Some(b) = arch.bandwidth {
            b.check().map_err(|m| bad(format!("[bandwidth] {m}")))?;
        }
        if !(arch.clock_hz.is_finite() && arch.clock_hz > 0.0) {
            return Err(bad(format!("clock_hz = {} must be a positive number", arch.clock_hz)));
        }
        for (name, rank) in [("rank1", arch.rank1), ("rank0", arch.rank0)] {
            if let Some(r) = rank
                && !(1 <= r.g && r.g <= r.h_min && r.h_min <= r.h_max && r.h_max <= 16)
            {
                return Err(bad(format!("[{name}] needs 1 <= g <= h_min <= h_max <= 16")));
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
        Ok(arch)
    }

    /// Rows of M the arrays work on together.
    pub fn rows_per_group(&self) -> usize {
        self.arrays * self.rows_per_array
    }
}

/// How the tensor-core loop nest of docs/DESIGN.md 6 runs one workload: the configuration shared
/// by the CPU reference and the GPU kernel. TC, STC, HighLight and HighLight-DSSO are
/// configurations of it.
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
    /// HighLight-DSSO's dual-side mode: B's K1 structure drives the rank1 SAF (`shape.g1` of
    /// B's H1 blocks per fiber), A's the rank0 SAF; A holds all H1 blocks of each fiber.
    pub b_drives_rank1: bool,
    /// The 2:1 mux per PE that picks which operand drives skipping is present (HighLight-DSSO).
    pub skip_select: bool,
    /// Zero operands are gated; without it every MAC slot is performed.
    pub gating: bool,
}

impl Dataflow {
    /// Rows of M the arrays work on together (arrays x rows per array).
    pub fn rows_per_group(&self) -> usize {
        self.arrays * self.rows_per_array
    }

    /// A's shape as stored: in dual-side mode every K1 block of a fiber, else the PEs' shape.
    pub fn a_shape(&self) -> TwoRankHss {
        let s = self.shape;
        if self.b_drives_rank1 { TwoRankHss { g1: s.h1, ..s } } else { s }
    }

    /// K1 fibers per row for a reduction of `k`.
    pub fn fibers(&self, k: usize) -> usize {
        k.div_ceil(self.shape.fiber_span())
    }

    /// k-steps per (row group, output column): ceil(Kpad / (fibers per step x H1 x H0)).
    pub fn k_steps(&self, k: usize) -> usize {
        self.fibers(k).div_ceil(self.fibers_per_step)
    }

    /// The arrays' cycles = ceil(M / rows per group) x N x k-steps (docs/DESIGN.md 6); pipeline
    /// fill is not modelled, bandwidth stalls are added by the run where the architecture sets
    /// them.
    pub fn cycles(&self, m: usize, k: usize, n: usize) -> u64 {
        (m.div_ceil(self.rows_per_group()) * n * self.k_steps(k)) as u64
    }
}
