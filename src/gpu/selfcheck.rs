//! A GPU run checks itself, on every run and without `--check`: what the host knows from the
//! shapes alone must hold in what comes back, else the run is an error (exit 3) naming the count.
//! An adapter that cuts loops short (Mesa's software driver, [`super::SOFTWARE_LOOP_LIMIT`]) or
//! loses work returns plausible numbers, such as cycles 0 beside a correct Z; these checks catch
//! that. Z against the dense product is checked by the caller ([`crate::run::run`]).

use super::highlight::KernelShape;
use super::{GpuError, ROW_WORDS};
use crate::counters::Counters;
use crate::design::s2ta::S2ta;
use crate::format::Bitmask;

/// What a complete run of one machine reports, known from the shapes before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// Outer-loop steps every workgroup completes (the last word of its row).
    pub steps: u32,
    /// Where K is split between workgroups: (rows of workgroups per split, steps per split);
    /// split s's workgroups complete what is left of the steps after s splits, at most that.
    pub split: Option<(usize, u32)>,
    /// What one step is, for messages.
    pub step: &'static str,
    /// Cycles, where the design has a closed form.
    pub cycles: Option<u64>,
    /// MAC slots the machine processes: `mac + mac_gated`.
    pub mac_slots: u64,
}

impl Expected {
    /// The tensor-core loop nest (TC, STC, HighLight, HighLight-DSSO, any HSS design): every
    /// workgroup does every k-step; cycles are [`KernelShape::cycles`]; each of the M x N outputs
    /// takes the processed leaves of every fiber, K padding included, as the CPU references count
    /// them.
    pub fn tensor_core(shape: &KernelShape, m: usize, k: usize, n: usize) -> Expected {
        Expected {
            steps: shape.k_steps(k) as u32,
            split: None,
            step: "k-steps",
            cycles: Some(shape.cycles(m, k, n)),
            mac_slots: (m * n * shape.fibers(k) * shape.leaves) as u64,
        }
    }

    /// S2TA (docs/DESIGN.md 7): every Z tile takes G_B cycles per 8-block of K, and each of its
    /// outputs one MAC slot per cycle.
    pub fn s2ta(s: &S2ta, m: usize, n: usize, blocks: usize) -> Expected {
        let per_output = blocks as u64 * u64::from(s.g_b);
        let tiles = (m.div_ceil(s.tile_rows) * n.div_ceil(s.tile_cols)) as u64;
        Expected {
            steps: blocks as u32,
            split: None,
            step: "K blocks",
            cycles: Some(tiles * per_output),
            mac_slots: (m * n) as u64 * per_output,
        }
    }

    /// DSTC: its cycles depend on where the nonzeros fall, so there is no closed form, but its
    /// arrays together perform exactly nnz(A column k) x nnz(B row k) products for every k, and
    /// gate none.
    pub fn dstc(a_columns: &Bitmask, b_rows: &Bitmask) -> Expected {
        let nonzeros = |bm: &Bitmask, f: usize| u64::from(bm.start[f + 1] - bm.start[f]);
        Expected {
            steps: a_columns.fibers as u32,
            split: None,
            step: "k",
            cycles: None,
            mac_slots: (0..a_columns.fibers).map(|k| nonzeros(a_columns, k) * nonzeros(b_rows, k)).sum(),
        }
    }

    /// Checks one dispatch's counter rows: every workgroup reported all its steps.
    pub fn check_rows(&self, words: &[u32]) -> Result<(), GpuError> {
        for (i, row) in words.chunks(ROW_WORDS).enumerate() {
            let done = row[ROW_WORDS - 1];
            let steps = match self.split {
                Some((rows, per_split)) => {
                    let before = (i / rows) as u32 * per_split;
                    self.steps.saturating_sub(before).min(per_split)
                }
                None => self.steps,
            };
            if done != steps {
                let never = if row.iter().all(|&w| w == 0) { " (a row of 0: it never reported)" } else { "" };
                return Err(GpuError::SelfCheck(format!(
                    "workgroup {i} of {} completed {done} of {steps} {}{never}",
                    words.len() / ROW_WORDS,
                    self.step
                )));
            }
        }
        Ok(())
    }

    /// Checks the whole run's summed counters.
    pub fn check_counters(&self, c: &Counters) -> Result<(), GpuError> {
        if let Some(cycles) = self.cycles
            && c.cycles != cycles
        {
            return Err(GpuError::SelfCheck(format!(
                "counter cycles is {}, and the design's closed form gives {cycles}",
                c.cycles
            )));
        }
        if c.mac + c.mac_gated != self.mac_slots {
            return Err(GpuError::SelfCheck(format!(
                "counters mac + mac_gated are {} + {}, and the machine processes {} MAC slots",
                c.mac, c.mac_gated, self.mac_slots
            )));
        }
        Ok(())
    }
}
