//! One function per subcommand, and what they share: the exit-3 verdicts, and writing to stdout
//! without panicking when it is closed or full.

use std::io::Write;

use anyhow::Result;
pub use highlight_emu::api::{Mismatch, parse_pattern};

/// A validation figure outside its tolerance: exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OutOfTolerance(pub String);

/// Standard output could not be written (closed or full).
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output: {0}")]
pub struct StdoutError(pub std::io::Error);

/// `println!` that returns an error instead of panicking when stdout is closed or full.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(StdoutError)?
    };
}

/// Prints a command's report, then returns its verdict: a mismatch found before printing is
/// still reported by the exit code when stdout is closed.
pub fn emit(text: &str, verdict: Result<()>) -> Result<()> {
    let printed = write!(std::io::stdout().lock(), "{text}").and_then(|()| std::io::stdout().flush());
    verdict?;
    printed.map_err(|e| StdoutError(e).into())
}

mod emulate;
mod explore;
pub mod hss;
mod model;
mod operands;
mod sweeps;

pub use emulate::{bench, compare, degrees, devices, run, validate};
pub use model::model;
pub use operands::{gen_operand, prune, spec};
pub use sweeps::{merge, sweep};
