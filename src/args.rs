//! Command-line arguments several subcommands share: the shape, the backend, the search's
//! objective and formats, and the energy table.

use std::path::PathBuf;

use anyhow::Result;
use highlight_emu::api::{Backend, Energy};
use highlight_emu::energy::Ert;
use highlight_emu::format::Format;
use highlight_emu::run::{BackendChoice, GpuBackend};
use highlight_emu::search::{Objective, Search};

/// The energy table, shared by the commands that emulate.
#[derive(clap::Args)]
pub struct EnergyArgs {
    /// Energy table instead of assets/ert/default-45nm.toml: the emulator's TOML, or an
    /// Accelergy ERT (.yaml), mapped onto the emulator's actions by --ert-map.
    #[arg(long)]
    pub ert: Option<PathBuf>,
    /// How an Accelergy ERT's components and actions become the emulator's (default:
    /// assets/ert/accelergy-map.toml).
    #[arg(long, requires = "ert")]
    pub ert_map: Option<PathBuf>,
}

impl EnergyArgs {
    pub fn energy(&self) -> Energy {
        Energy { ert: self.ert.clone(), ert_map: self.ert_map.clone() }
    }

    pub fn load(&self) -> Result<Ert> {
        self.energy().load()
    }
}

/// What the search minimises and which formats the user fixes, for `run` and `compare`.
#[derive(clap::Args)]
pub struct SearchArgs {
    /// What each design's mapping and operand formats are chosen to minimise, the same for every
    /// design: edp (energy x delay), energy, or delay (cycles).
    #[arg(long, value_enum, default_value = "edp")]
    pub objective: Objective,
    /// Store A in this format instead of the best one the design allows (uncompressed, cp,
    /// blocked-csr, bitmask); a design that cannot store A so is refused (compare: unsupported).
    #[arg(long, value_enum)]
    pub a_format: Option<Format>,
    /// Store B in this format instead of the best one the design allows.
    #[arg(long, value_enum)]
    pub b_format: Option<Format>,
}

impl SearchArgs {
    /// The search these flags ask for, with the given mapping.
    pub fn search(&self, mapping: Option<highlight_emu::mapping::Mapping>) -> Search {
        Search { objective: self.objective, mapping, a_format: self.a_format, b_format: self.b_format }
    }
}

/// Where to emulate, shared by the commands that emulate.
#[derive(clap::Args)]
pub struct BackendArgs {
    /// Where to emulate: auto takes a hardware GPU when there is one, else the CPU reference.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Use the GPU adapter whose name contains this text (see `devices`); naming a software
    /// adapter such as llvmpipe allows it.
    #[arg(long, env = "HIGHLIGHT_ADAPTER")]
    pub adapter: Option<String>,
    /// Run on the GPU and on the CPU reference and compare Z and every counter; exit 3 on a
    /// mismatch.
    #[arg(long)]
    pub check: bool,
}

impl BackendArgs {
    pub fn backend(&self) -> Backend {
        Backend { choice: self.backend, adapter: self.adapter.clone(), check: self.check }
    }

    /// Opens the backend asked for, saying on stderr when `auto` falls back to the CPU.
    pub fn open(&self) -> Result<Option<GpuBackend>> {
        self.backend().open()
    }
}

/// The product's shape, shared by the commands that emulate one.
#[derive(clap::Args)]
pub struct ShapeArgs {
    /// Rows of A and Z (from --a-file when given).
    #[arg(long)]
    pub m: Option<usize>,
    /// The reduction dimension, columns of A and rows of B (from the operand files when given).
    #[arg(long)]
    pub k: Option<usize>,
    /// Columns of B and Z (from --b-file when given).
    #[arg(long)]
    pub n: Option<usize>,
}
