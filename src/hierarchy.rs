//! The memory hierarchy's traffic (docs/DESIGN.md 11): DRAM reads and writes, GLB fills and
//! reads, from a [`Mapping`]'s tile loops and the operands' compressed sizes. These are closed
//! forms over the loops, computed once on the host for the CPU and GPU paths alike; what happens
//! below the GLB (PE registers, muxes, MACs, RF) is the emulators' count.
//!
//! The reuse rule is Timeloop's: a level refills its tile of a data space each time a loop above
//! it that indexes the data space moves, and each time any loop outside such a loop moves; loops
//! that do not index it and sit inside all that do, reuse the tile. A spatial loop that does not
//! index a data space multicasts it (one parent read feeds every child) or, for Z, reduces it.

use serde::{Deserialize, Serialize};

use crate::mapping::{Level, Loop, Mapping, Space};

/// Dense (algorithmic) accesses per level and data space, in elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accesses {
    /// Elements written into a level from its parent (its tile refills), over all instances.
    pub fills: [[u64; 3]; 4],
    /// Elements a level sends to its children (after multicast).
    pub reads: [[u64; 3]; 4],
    /// Output elements a level receives from below (after spatial reduction).
    pub updates: [[u64; 3]; 4],
    /// Partial sums a level sends back down to be accumulated further (Z refetches).
    pub z_refetches: [u64; 4],
}

/// Loops above `level` (innermost first): its parents' temporal loops, in order.
fn temporal_above(mapping: &Mapping, level: usize) -> impl Iterator<Item = &Loop> {
    mapping.levels[level + 1..].iter().flat_map(|l| l.temporal.iter())
}

fn spatial_product(loops: impl Iterator<Item = Loop>, keep: impl Fn(&Loop) -> bool) -> u64 {
    loops.filter(|l| keep(l)).map(|l| l.bound).product()
}

/// How many times a level's tile of `space` is (re)filled: the temporal loops above it, after the
/// innermost run of loops that do not index `space`.
fn refetches<'a>(loops: impl Iterator<Item = &'a Loop>, space: Space) -> u64 {
    let mut started = false;
    let mut count = 1u64;
    for l in loops {
        started |= space.indexed_by(l.dim);
        if started {
            count = count.saturating_mul(l.bound);
        }
    }
    count
}

impl Accesses {
    /// The reuse analysis of a mapping.
    pub fn of(mapping: &Mapping) -> Accesses {
        let mut a = Accesses::default();
        let lv = &mapping.levels;
        // Instances of a level: the spatial fan-out of every level above it.
        let instances = |level: usize| {
            spatial_product(lv[level + 1..].iter().flat_map(|l| l.spatial.iter().copied()), |_| true)
        };
        let tile = |level: usize, space: Space| {
            spatial_product(
                lv[..=level].iter().flat_map(|l| l.temporal.iter().chain(&l.spatial).copied()),
                |l| space.indexed_by(l.dim),
            )
        };
        // Spatial loops strictly above `child` and up to and including `parent` that do not
        // index `space`: one parent access serves that many children.
        let shared = |child: Option<usize>, parent: usize, space: Space| {
            let from = child.map_or(0, |c| c + 1);
            spatial_product(lv[from..=parent].iter().flat_map(|l| l.spatial.iter().copied()), |l| {
                !space.indexed_by(l.dim)
            })
        };
        let computes: u64 =
            lv.iter().flat_map(|l| l.temporal.iter().chain(&l.spatial)).map(|l| l.bound).product();
        for space in Space::ALL {
            let keepers: Vec<usize> = (0..4).filter(|&i| lv[i].keeps(space)).collect();
            // Fills of every keeping level but DRAM.
            for &level in keepers.iter().filter(|&&l| l != Level::Dram as usize) {
                a.fills[level][space as usize] =
                    tile(level, space) * refetches(temporal_above(mapping, level), space) * instances(level);
            }
            // Each keeping level serves the next keeping level below it, or the MACs.
            for (i, &parent) in keepers.iter().enumerate() {
                let child = i.checked_sub(1).map(|j| keepers[j]);
                let served = match child {
                    Some(c) => a.fills[c][space as usize],
                    // The MACs take one element of each operand per compute.
                    None => computes,
                };
                let per_access = shared(child, parent, space);
                match space {
                    Space::A | Space::B => a.reads[parent][space as usize] = served / per_access,
                    Space::Z => {
                        let written = served / per_access;
                        a.updates[parent][space as usize] = written;
                        // Outputs written up more often than there are outputs come back down
                        // as partial sums (K split above this level).
                        if child.is_some() {
                            let outputs = tile(Level::Dram as usize, Space::Z);
                            a.z_refetches[parent] = written.saturating_sub(outputs);
                        }
                    }
                }
            }
        }
        a
    }
}

/// How an operand is stored above the PE array: bytes and metadata bits per dense element, from
/// its compressed form (1 and 0 for a dense operand).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub bytes_per_element: f64,
    pub meta_bits_per_element: f64,
}

impl Stored {
    pub const DENSE: Stored = Stored { bytes_per_element: 1.0, meta_bits_per_element: 0.0 };

    /// From a format's storage for `elements` dense elements.
    pub fn of(storage: crate::format::Storage, elements: usize) -> Stored {
        let e = elements.max(1) as f64;
        Stored {
            bytes_per_element: storage.value_words as f64 / e,
            meta_bits_per_element: storage.metadata_bits as f64 / e,
        }
    }

    fn bytes(self, elements: u64) -> u64 {
        (elements as f64 * self.bytes_per_element).round() as u64
    }

    fn meta_bits(self, elements: u64) -> u64 {
        (elements as f64 * self.meta_bits_per_element).round() as u64
    }
}

crate::counters::named_counts! {
    /// The hierarchy's counts of one run (docs/DESIGN.md 8 and 11): bytes for data, bits for
    /// metadata. A name's `_a`, `_b` or `_z` part says which data space it counts.
    Hierarchy {
        dram_read_a,
        dram_read_a_meta_bits,
        dram_read_b,
        dram_read_b_meta_bits,
        /// Partial sums read back from DRAM (K split above the RF).
        dram_read_z,
        dram_write_z,
        glb_fill_a,
        glb_fill_a_meta_bits,
        glb_fill_b,
        glb_fill_b_meta_bits,
        glb_read_a,
        glb_read_a_meta_bits,
        glb_read_b,
        glb_read_b_meta_bits,
        /// Outputs written to the GLB (only when the mapping keeps Z there).
        glb_write_z,
        glb_read_z,
        /// Coordinates read at the PE registers with each stationary value (STC, HighLight).
        pe_meta_read_bits,
    }
}

impl Hierarchy {
    /// The data space a count belongs to, from its name (`None`: the PE registers' metadata).
    pub fn space_of(name: &str) -> Option<Space> {
        name.split('_').find_map(|part| match part {
            "a" => Some(Space::A),
            "b" => Some(Space::B),
            "z" => Some(Space::Z),
            _ => None,
        })
    }

    /// Bytes each side of the DRAM and the GLB moves (metadata bits rounded up to bytes): DRAM
    /// reads, DRAM writes, GLB reads, GLB writes (fills and outputs).
    pub fn traffic(&self) -> [u64; 4] {
        let bytes = |data: u64, meta_bits: u64| data + meta_bits.div_ceil(8);
        [
            bytes(
                self.dram_read_a + self.dram_read_b + self.dram_read_z,
                self.dram_read_a_meta_bits + self.dram_read_b_meta_bits,
            ),
            self.dram_write_z,
            bytes(
                self.glb_read_a + self.glb_read_b + self.glb_read_z,
                self.glb_read_a_meta_bits + self.glb_read_b_meta_bits,
            ),
            bytes(
                self.glb_fill_a + self.glb_fill_b + self.glb_write_z,
                self.glb_fill_a_meta_bits + self.glb_fill_b_meta_bits,
            ),
        ]
    }

    /// The traffic of `mapping` for operands stored as `a` and `b`, outputs of `z_bytes` each.
    pub fn from_mapping(mapping: &Mapping, a: Stored, b: Stored, z_bytes: u64) -> Hierarchy {
        let acc = Accesses::of(mapping);
        let (dram, glb) = (Level::Dram as usize, Level::Glb as usize);
        let (sa, sb, sz) = (Space::A as usize, Space::B as usize, Space::Z as usize);
        Hierarchy {
            dram_read_a: a.bytes(acc.reads[dram][sa]),
            dram_read_a_meta_bits: a.meta_bits(acc.reads[dram][sa]),
            dram_read_b: b.bytes(acc.reads[dram][sb]),
            dram_read_b_meta_bits: b.meta_bits(acc.reads[dram][sb]),
            dram_read_z: acc.z_refetches[dram] * z_bytes,
            dram_write_z: acc.updates[dram][sz] * z_bytes,
            glb_fill_a: a.bytes(acc.fills[glb][sa]),
            glb_fill_a_meta_bits: a.meta_bits(acc.fills[glb][sa]),
            glb_fill_b: b.bytes(acc.fills[glb][sb]),
            glb_fill_b_meta_bits: b.meta_bits(acc.fills[glb][sb]),
            glb_read_a: a.bytes(acc.reads[glb][sa]),
            glb_read_a_meta_bits: a.meta_bits(acc.reads[glb][sa]),
            glb_read_b: b.bytes(acc.reads[glb][sb]),
            glb_read_b_meta_bits: b.meta_bits(acc.reads[glb][sb]),
            glb_write_z: acc.updates[glb][sz] * z_bytes,
            glb_read_z: acc.z_refetches[glb] * z_bytes,
            pe_meta_read_bits: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Sparseloop artifact's TC mapping of M128 K1152 N1024, whose counts its stats list.
    const TC_MAP: &str = "mapping:
- {target: LRF, type: datatype, keep: [A], bypass: [B, Z]}
- {target: RF, type: datatype, keep: [Z], bypass: [A, B]}
- {target: SMEM, type: datatype, keep: [A, B], bypass: [Z]}
- {target: DRAM, type: datatype, keep: [A, B, Z], bypass: []}
- {target: LRF, type: temporal, factors: M1 N64 K1, permutation: NMK}
- {target: RF, type: spatial, factors: M16 N1 K16, permutation: KMN}
- {target: RF, type: temporal, factors: M1 N1 K72, permutation: KMN}
- {target: SMEM, type: spatial, factors: M4 N1 K1, permutation: MNK}
- {target: SMEM, type: temporal, factors: M2 N1 K1, permutation: MNK}
- {target: DRAM, type: temporal, factors: M1 N16 K1, permutation: NMK}
";

    #[test]
    fn the_artifacts_tc_counts() {
        let m = Mapping::parse(TC_MAP, "test").unwrap();
        m.check_covers((128, 1152, 1024), "test").unwrap();
        let a = Accesses::of(&m);
        let (pe, rf, glb, dram) = (0, 1, 2, 3);
        assert_eq!(a.fills[pe][0], 2304 * 1024);
        assert_eq!(a.fills[glb][0], 147456);
        assert_eq!(a.fills[glb][1], 1179648);
        assert_eq!(a.reads[glb][0], 2359296);
        assert_eq!(a.reads[glb][1], 2359296);
        assert_eq!(a.reads[dram][0], 147456);
        assert_eq!(a.reads[dram][1], 1179648);
        assert_eq!(a.updates[rf][2], 2359296 * 4);
        assert_eq!(a.fills[rf][2], 32768 * 4);
        assert_eq!(a.updates[dram][2], 131072);
        assert_eq!(a.z_refetches[dram], 0);
        // Round trip through the YAML it prints.
        assert_eq!(Mapping::parse(&m.to_yaml(), "again").unwrap(), m);
    }
}
