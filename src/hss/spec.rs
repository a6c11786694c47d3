//! HSS accelerator files (`assets/arch/hss/*.toml`, docs/DESIGN.md 12): the design space of the
//! paper's section 5. A design is a MAC organisation plus the ranks of the K fiber tree, outermost
//! first, each with the G:H patterns its SAF supports, the SAF (skip, gate or none), the level
//! that implements it (the PE array or the PE) and the operand whose structure drives it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::design::{Arch, Bandwidth, DesignError, OutputPath, StorageSizes};

/// Most ranks a design may have.
pub const MAX_RANKS: usize = 4;
/// Largest H a rank may support (coordinates are 4 bits per rank).
pub const MAX_H: u32 = 16;

/// What a rank's SAF does with an empty child (paper 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Saf {
    /// Only the G nonempty children are processed, each picked by an H_max-to-1 mux: time and
    /// energy saved.
    Skip,
    /// Every child is processed; the MACs of an empty one are gated: energy saved.
    Gate,
    /// Every child is processed and computed, zeros too.
    None,
}

/// The architecture level whose hardware implements a rank's SAF (paper figure 6(c)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// The PE array: a rank's children are spread over the PEs of a row.
    Array,
    /// The PE: a rank's children are spread over the MACs of a PE.
    Pe,
}

/// The operand whose structure a rank exploits; the other is dense at that rank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Driver {
    #[default]
    A,
    B,
    /// B where B is structured at this rank, else A; a 2:1 mux per PE picks (paper 7.5).
    Either,
}

/// One rank of the K fiber tree.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HssRank {
    /// Nonempty children per fiber the SAF processes (skip); gate and none process all H.
    #[serde(default)]
    pub g: Option<u32>,
    /// The fiber shapes H supported, ascending.
    pub h: Vec<u32>,
    pub saf: Saf,
    pub level: Level,
    #[serde(default)]
    pub operand: Driver,
}

impl HssRank {
    /// Largest supported H: the size of the rank's muxes.
    pub fn h_max(&self) -> u32 {
        self.h.last().copied().unwrap_or(1)
    }

    /// Children per fiber the hardware has slots for: G when skipping, else H_max.
    pub fn width(&self) -> u32 {
        match self.saf {
            Saf::Skip => self.g.unwrap_or(1),
            Saf::Gate | Saf::None => self.h_max(),
        }
    }
}

/// How B is read and whether MACs gate on zero operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BOptions {
    /// MACs gate when either operand value is zero (HighLight); else every slot is performed.
    pub gate_zeros: bool,
    /// B is read from the GLB as blocked CSR when it is not dense; else uncompressed.
    pub compressed: bool,
}

/// An HSS accelerator file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HssArch {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub clock_hz: f64,
    pub arrays: usize,
    pub rows_per_array: usize,
    pub pes_per_row: usize,
    pub macs_per_pe: usize,
    pub tile_n: usize,
    pub storage: StorageSizes,
    #[serde(default)]
    pub output: OutputPath,
    #[serde(default)]
    pub bandwidth: Option<Bandwidth>,
    /// The ranks of K, outermost first; the last is Rank0.
    pub ranks: Vec<HssRank>,
    pub b: BOptions,
}

impl HssArch {
    /// Reads and checks an HSS accelerator file.
    pub fn load(path: &Path) -> Result<HssArch, DesignError> {
        let text = crate::text::read_nested(path)
            .map_err(|source| DesignError::ReadArch { path: path.display().to_string(), source })?;
        HssArch::parse(&text, &path.display().to_string())
    }

    /// Parses and checks HSS accelerator TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<HssArch, DesignError> {
        let bad = |message: String| DesignError::BadArch { path: origin.to_string(), message };
        let hss: HssArch = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        hss.arch().check(origin)?;
        hss.check_ranks().map_err(bad)?;
        Ok(hss)
    }

    /// The shipped design `name` (`assets/arch/hss/<name>.toml`), if there is one.
    pub fn shipped(name: &str) -> Option<HssArch> {
        let text = SHIPPED.iter().find(|(n, _)| *n == name)?.1;
        Some(
            HssArch::parse(text, &format!("assets/arch/hss/{name}.toml"))
                .expect("shipped HSS files are valid"),
        )
    }

    /// The MAC organisation and memory as a plain architecture (no SAF ranks): what the memory
    /// hierarchy and the energy model read.
    pub fn arch(&self) -> Arch {
        Arch {
            name: self.name.clone(),
            clock_hz: self.clock_hz,
            arrays: self.arrays,
            rows_per_array: self.rows_per_array,
            pes_per_row: self.pes_per_row,
            macs_per_pe: self.macs_per_pe,
            tile_n: self.tile_n,
            rank1: None,
            rank0: None,
            storage: self.storage,
            output: self.output,
            bandwidth: self.bandwidth,
            formats: Default::default(),
        }
    }

    /// Rank number of the rank at `index` (outermost first): Rank0 is the last.
    pub fn rank_number(&self, index: usize) -> usize {
        self.ranks.len() - 1 - index
    }

    fn check_ranks(&self) -> Result<(), String> {
        if self.bandwidth.is_some() {
            return Err(
                "[bandwidth] is not applied to HSS designs yet (their cycles are the arrays'); remove it"
                    .into(),
            );
        }
        let n = self.ranks.len();
        if !(1..=MAX_RANKS).contains(&n) {
            return Err(format!("needs 1 to {MAX_RANKS} [[ranks]], outermost first; it has {n}"));
        }
        for (i, r) in self.ranks.iter().enumerate() {
            let name = format!("rank {} ([[ranks]] entry {})", self.rank_number(i), i + 1);
            if r.h.is_empty() || r.h.windows(2).any(|w| w[0] >= w[1]) || r.h[0] < 1 || r.h_max() > MAX_H {
                return Err(format!(
                    "{name}: h must list supported H values in ascending order, each 1 to {MAX_H}"
                ));
            }
            match (r.saf, r.g) {
                (Saf::Skip, Some(g)) if g >= 1 && g <= r.h[0] => {}
                (Saf::Skip, _) => {
                    return Err(format!(
                        "{name}: a skip SAF needs g with 1 <= g <= the smallest h ({})",
                        r.h[0]
                    ));
                }
                (_, Some(_)) => {
                    return Err(format!("{name}: g applies to skip SAFs only (gate and none process all H)"));
                }
                (_, None) => {}
            }
            if r.operand != Driver::A && (i != 0 || r.saf != Saf::Skip || r.level != Level::Array) {
                return Err(format!(
                    "{name}: only the outermost rank may be driven by B (or either), and it must skip at the array level"
                ));
            }
        }
        if let Some(i) =
            self.ranks.windows(2).position(|w| w[0].level == Level::Pe && w[1].level == Level::Array)
        {
            return Err(format!(
                "rank {} is at the array level below rank {} at the PE level; PE ranks are the innermost",
                self.rank_number(i + 1),
                self.rank_number(i)
            ));
        }
        let product = |level| {
            self.ranks.iter().filter(|r| r.level == level).map(|r| r.width() as usize).product::<usize>()
        };
        let (pe, array) = (product(Level::Pe), product(Level::Array));
        if pe != self.macs_per_pe {
            return Err(format!(
                "macs_per_pe = {} must equal the PE-level ranks' slots per fiber ({pe}: G of a skip rank, H_max of a gate or none rank, multiplied)",
                self.macs_per_pe
            ));
        }
        if !self.pes_per_row.is_multiple_of(array) {
            return Err(format!(
                "pes_per_row = {} must be a multiple of the array-level ranks' slots per fiber ({array})",
                self.pes_per_row
            ));
        }
        Ok(())
    }
}

/// The shipped HSS accelerator files.
pub const SHIPPED: &[(&str, &str)] = &[
    ("s", include_str!("../../assets/arch/hss/s.toml")),
    ("ss", include_str!("../../assets/arch/hss/ss.toml")),
    ("sss", include_str!("../../assets/arch/hss/sss.toml")),
    ("ss-gate", include_str!("../../assets/arch/hss/ss-gate.toml")),
    ("dsso", include_str!("../../assets/arch/hss/dsso.toml")),
    ("tc", include_str!("../../assets/arch/hss/tc.toml")),
    ("stc", include_str!("../../assets/arch/hss/stc.toml")),
];
