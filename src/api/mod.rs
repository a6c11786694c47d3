//! What the command line and the Python package both call: each command's orchestration (the
//! user's inputs read and checked, the backend opened, the emulation run, the outputs written)
//! as functions of plain requests, so that neither front end holds logic of its own.
//!
//! Errors are [`anyhow::Error`]s whose [`one_line`] is the message the CLI prints; [`Mismatch`]
//! marks a result that disagrees with its reference (the CLI's exit 3).

mod operands;
mod run;
mod study;

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::energy::Ert;
use crate::pattern::Pattern;
use crate::run::{BackendChoice, GpuBackend, RunResult, open_backend};

pub use crate::model::NamedArray;
pub use crate::operand::npy::Array;
pub use operands::{padded_bytes, prune, prune_array, spec};
pub use run::{CompareRequest, Compared, OperandSource, RunOutput, RunRequest, compare, run};
pub use study::{
    ModelRequest, SweepRequest, model, model_out, sweep, sweep_out, table_rows, verdict_of, write_outputs,
};

/// A result that disagrees with its reference: Z with the dense product, or the GPU with the CPU.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Mismatch(pub String);

/// Where to emulate: `choice`, the adapter whose name contains `adapter`, and with `check` the
/// GPU compared with the CPU reference (Z and every counter).
#[derive(Clone, Debug)]
pub struct Backend {
    pub choice: BackendChoice,
    pub adapter: Option<String>,
    pub check: bool,
}

impl Default for Backend {
    fn default() -> Backend {
        Backend { choice: BackendChoice::Auto, adapter: None, check: false }
    }
}

impl Backend {
    /// Opens the backend asked for, saying on stderr when `auto` falls back to the CPU. Without
    /// an adapter named, `HIGHLIGHT_ADAPTER` names one (as the CLI's `--adapter` reads it).
    pub fn open(&self) -> Result<Option<GpuBackend>> {
        let adapter = self.adapter.clone().or_else(|| std::env::var("HIGHLIGHT_ADAPTER").ok());
        // An empty name (`HIGHLIGHT_ADAPTER=""`) means none.
        let adapter = adapter.as_deref().filter(|a| !a.trim().is_empty());
        let (gpu, fallback) = open_backend(self.choice, adapter, self.check)?;
        if let Some(reason) = fallback {
            note(&format!("using the CPU reference: {reason}"));
        }
        Ok(gpu)
    }
}

/// The energy table: the shipped 45 nm one, the emulator's TOML, or an Accelergy ERT mapped by
/// `ert_map` (default assets/ert/accelergy-map.toml).
#[derive(Clone, Debug, Default)]
pub struct Energy {
    pub ert: Option<PathBuf>,
    pub ert_map: Option<PathBuf>,
}

impl Energy {
    pub fn load(&self) -> Result<Ert> {
        Ok(match &self.ert {
            Some(path) => Ert::load_any(path, self.ert_map.as_deref())?,
            None => {
                if self.ert_map.is_some() {
                    anyhow::bail!("an ERT map applies to an Accelergy ERT: give the ERT (--ert) too");
                }
                Ert::default_45nm()
            }
        })
    }
}

/// A note on stderr; one that cannot be written is dropped, never a panic.
pub fn note(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "note: {text}");
}

pub fn parse_pattern(text: &str) -> Result<Pattern> {
    Pattern::parse(text).with_context(|| format!("bad pattern {text:?}"))
}

/// One of a closed set of names (a design, a backend, an objective, a format), as the CLI
/// accepts it; the error lists the accepted names.
pub fn parse_choice<T: clap::ValueEnum>(what: &str, text: &str) -> Result<T> {
    T::from_str(text, true).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        anyhow::anyhow!("{what} {text:?}: accepted {}", names.join(", "))
    })
}

/// A run's verdict: a [`Mismatch`] when the GPU and the CPU reference differ, or Z differs from
/// the dense product. `context` prefixes the message (e.g. the design and point).
pub fn verdict(result: &RunResult, context: &str) -> Result<()> {
    if let Some(difference) = result.check.as_ref().and_then(|c| c.first_difference.as_ref()) {
        return Err(Mismatch(format!("{context}GPU and CPU differ: {difference}")).into());
    }
    if let Some((m, n, z, d)) = result.z_mismatch {
        return Err(Mismatch(format!("{context}Z[{m}, {n}] = {z} differs from the dense product {d}")).into());
    }
    if !result.z_equals_dense {
        return Err(Mismatch(format!("{context}Z differs from the dense product")).into());
    }
    Ok(())
}

/// The error and its causes on one line, each cause once: an OS error that a message already
/// quotes is not repeated.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

/// Whether `err` says a result disagrees with its reference (the CLI's exit 3): a [`Mismatch`],
/// a GPU self-check that failed, or a Z that differs in a design-space run.
pub fn is_mismatch(err: &anyhow::Error) -> bool {
    use crate::gpu::GpuError;
    use crate::run::RunError;
    err.downcast_ref::<Mismatch>().is_some()
        || err.chain().any(|e| {
            matches!(e.downcast_ref(), Some(GpuError::SelfCheck(_)))
                || matches!(e.downcast_ref(), Some(RunError::Gpu(GpuError::SelfCheck(_))))
                || matches!(e.downcast_ref(), Some(RunError::Mismatch(_)))
        })
}
