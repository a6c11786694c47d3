//! The HSS design space (paper section 5, docs/DESIGN.md 12): accelerators described by files,
//! any number of ranks up to four, each with its G:H patterns, SAF and level.

pub mod cost;
pub mod dataflow;
pub mod spec;

pub use cost::{Support, support};
pub use dataflow::{HssDataflow, RunRank, Side};
pub use spec::{HssArch, HssRank};
