//! The named action counts every emulator reports (DESIGN.md 8). One struct for every design:
//! a part a design lacks stays zero. Counts are u64, summed on the host, so nothing wraps.

/// Declares a struct of named u64 counts with its field names listed once, in declaration
/// order (the order the GPU buffers use for [`Counters`]): `NAMES`, `from_fn`, `iter`, `+=`.
macro_rules! named_counts {
    ($(#[$tdoc:meta])* $ty:ident { $($(#[$doc:meta])* $name:ident),* $(,)? }) => {
        $(#[$tdoc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct $ty {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl $ty {
            /// Field names, in declaration order.
            pub const NAMES: &[&str] = &[$(stringify!($name)),*];

            /// Builds the counts from their values in declaration order.
            pub fn from_fn(mut value: impl FnMut(usize) -> u64) -> $ty {
                let mut i = 0;
                $ty {
                    $($name: {
                        i += 1;
                        value(i - 1)
                    },)*
                }
            }

            /// `(name, count)` pairs in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
                [$((stringify!($name), self.$name)),*].into_iter()
            }
        }

        impl std::ops::AddAssign for $ty {
            fn add_assign(&mut self, other: $ty) {
                $(self.$name += other.$name;)*
            }
        }
    };
}

pub(crate) use named_counts;

named_counts! {
    /// Action counts of one emulated run; units are in DESIGN.md 8 (bytes for GLB data, bits
    /// for metadata, words for the VFMU, one per select, MAC, add or access otherwise).
    Counters {
    /// Operand A values read from the GLB (bytes).
    glb_read_a,
    /// Operand A metadata read from the GLB (bits).
    glb_read_a_meta_bits,
    /// Operand B values read from the GLB (bytes, stored words only).
    glb_read_b,
    /// Operand B metadata read from the GLB (bits).
    glb_read_b_meta_bits,
    /// Output Z written to the GLB (bytes, 4 per int32).
    glb_write_z,
    /// Stationary operand words written into PE registers.
    pe_reg_write,
    /// Stationary operand words read, one per MAC slot per cycle.
    pe_reg_read,
    /// Words written into the VFMU buffer.
    vfmu_write,
    /// Words read out of the VFMU buffer (multicast: counted once).
    vfmu_read,
    /// Rank1 SAF selects, one per PE per cycle.
    rank1_mux,
    /// Rank0 SAF selects, one per MAC per cycle.
    rank0_mux,
    /// HighLight-DSSO only: the 2:1 mux per PE that picks which operand drives skipping, one
    /// select per PE per cycle.
    skip_select_mux,
    /// Multiplies performed (both operands nonzero, or performed regardless).
    mac,
    /// MAC slots gated because an operand is zero.
    mac_gated,
    /// Additions in the adder trees and accumulations.
    adder,
    /// Partial-sum reads from the RF.
    rf_read,
    /// Partial-sum writes to the RF.
    rf_write,
    /// Cycles of the PE arrays.
    cycles,
}}

impl std::iter::Sum for Counters {
    fn sum<I: Iterator<Item = Counters>>(iter: I) -> Counters {
        let mut total = Counters::default();
        for c in iter {
            total += c;
        }
        total
    }
}

/// Per-rank activity of a run, outermost rank first.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RankCounts {
    /// Selects of the rank's muxes.
    pub mux: u64,
    /// Coordinate bits of the rank read from the GLB.
    pub meta_bits: u64,
    /// MAC slots gated because their child at this rank is empty.
    pub gated: u64,
}

/// Counters of an HSS run: the shared ones (with `rank1_mux` and `rank0_mux` from ranks 1 and 0)
/// and each rank's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HssCounters {
    pub counters: Counters,
    pub ranks: Vec<RankCounts>,
}

impl HssCounters {
    /// Zero counts for `ranks` ranks.
    pub fn new(ranks: usize) -> HssCounters {
        HssCounters { counters: Counters::default(), ranks: vec![RankCounts::default(); ranks] }
    }

    /// Sums two runs' counts.
    pub fn plus(mut self, other: HssCounters) -> HssCounters {
        self.counters += other.counters;
        for (r, o) in self.ranks.iter_mut().zip(other.ranks) {
            r.mux += o.mux;
            r.meta_bits += o.meta_bits;
            r.gated += o.gated;
        }
        self
    }

    /// Sets the shared `rank1_mux` and `rank0_mux` from ranks 1 and 0 (the last two).
    pub fn share_rank_muxes(&mut self) {
        self.counters.rank1_mux = self.ranks.iter().rev().nth(1).map_or(0, |r| r.mux);
        self.counters.rank0_mux = self.ranks.last().map_or(0, |r| r.mux);
    }
}
