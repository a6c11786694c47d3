//! The mapping space of a workload on a design (docs/DESIGN.md 11): the loops the machine itself
//! fixes (PE registers, RF, the arrays) and, above them, the GLB and DRAM tile loops
//! [`crate::search`] chooses among, with the fit of the compressed tiles in the GLB's data and
//! metadata partitions and the hierarchy's counts of a mapping.

use crate::design::{Arch, Machine};
use crate::hierarchy::{Hierarchy, Stored};
use crate::mapping::{Dim, Level, LevelMap, Loop, Mapping, MappingError, Space};

/// The machine's own loops and what is left for the mapper to tile.
#[derive(Clone, Debug)]
pub struct Nest {
    /// PE-register, RF and GLB levels with the machine's loops (the GLB's spatial fan-out only).
    levels: [LevelMap; 3],
    /// Which level accumulates Z over K: its temporal K loop takes the chunk the GLB holds.
    k_level: Level,
    /// Tiles left above the machine: row groups, column tiles, k-steps.
    m_out: u64,
    n_out: u64,
    k_steps: u64,
}

fn l(dim: Dim, bound: usize) -> Loop {
    Loop { dim, bound: bound.max(1) as u64 }
}

fn level(temporal: Vec<Loop>, spatial: Vec<Loop>, keep: &[Space]) -> LevelMap {
    let mut k = [false; 3];
    for s in keep {
        k[*s as usize] = true;
    }
    LevelMap {
        temporal: temporal.into_iter().filter(|l| l.bound > 1).collect(),
        spatial: spatial.into_iter().filter(|l| l.bound > 1).collect(),
        keep: k,
    }
}

impl Nest {
    /// The loop nest `machine` runs `m x k x n` with (docs/DESIGN.md 6 and 7).
    pub fn of(machine: &Machine, arch: &Arch, m: usize, k: usize, n: usize) -> Nest {
        let z_at_glb: &[Space] =
            if arch.output.via_glb { &[Space::A, Space::B, Space::Z] } else { &[Space::A, Space::B] };
        match machine {
            Machine::TensorCore(df) => {
                // A stationary in the PE registers over a tile of output columns; the rows of an
                // array and a k-step's span of K in space; the arrays take different row groups.
                let tile_n = df.tile_n.min(n);
                let span = df.fibers_per_step * df.shape.fiber_span();
                Nest {
                    levels: [
                        level(vec![l(Dim::N, tile_n)], vec![], &[Space::A]),
                        level(vec![], vec![l(Dim::M, df.rows_per_array), l(Dim::K, span)], &[Space::Z]),
                        level(vec![], vec![l(Dim::M, df.arrays)], z_at_glb),
                    ],
                    k_level: Level::Rf,
                    m_out: m.div_ceil(df.rows_per_group()) as u64,
                    n_out: n.div_ceil(tile_n) as u64,
                    k_steps: df.k_steps(k) as u64,
                }
            }
            Machine::Dstc(d) => Nest {
                // Each array's outer product: a column of A and a row of B in its registers,
                // its sub-tile of Z in the RF; the arrays tile Z in two dimensions.
                levels: [
                    level(vec![], vec![l(Dim::M, d.sub_rows), l(Dim::N, d.sub_cols)], &[Space::A, Space::B]),
                    level(
                        vec![],
                        vec![l(Dim::M, d.arrays_per_side), l(Dim::N, d.arrays_per_side)],
                        &[Space::Z],
                    ),
                    level(vec![], vec![], z_at_glb),
                ],
                k_level: Level::Rf,
                m_out: m.div_ceil(d.tile_rows()) as u64,
                n_out: n.div_ceil(d.tile_cols()) as u64,
                k_steps: k as u64,
            },
            Machine::S2ta(s) => Nest {
                // Output stationary: each PE accumulates its outputs over all of K.
                levels: [
                    level(vec![], vec![l(Dim::M, s.tile_rows), l(Dim::N, s.tile_cols)], &[Space::Z]),
                    level(vec![], vec![], &[]),
                    level(vec![], vec![], z_at_glb),
                ],
                k_level: Level::Pe,
                m_out: m.div_ceil(s.tile_rows) as u64,
                n_out: n.div_ceil(s.tile_cols) as u64,
                k_steps: k as u64,
            },
        }
    }

    /// The mapping with GLB and DRAM loops: `k_inner` k-steps at the accumulating level, K's
    /// `k_dram` chunks innermost at DRAM (partial sums go to DRAM and back between them), the
    /// rest of K innermost at the GLB, then M and N split between GLB and DRAM in the given
    /// orders (`true`: M inside N).
    fn mapping(
        &self,
        (k_inner, k_dram): (u64, u64),
        (mg, ng): (u64, u64),
        glb_m_inner: bool,
        dram_m_inner: bool,
    ) -> Mapping {
        let mut levels: [LevelMap; 4] = [
            self.levels[0].clone(),
            self.levels[1].clone(),
            self.levels[2].clone(),
            level(vec![], vec![], &[Space::A, Space::B, Space::Z]),
        ];
        let kl = &mut levels[self.k_level as usize].temporal;
        if k_inner > 1 {
            kl.push(Loop { dim: Dim::K, bound: k_inner });
        }
        let order = |m_inner: bool, mb: u64, nb: u64| {
            let (mm, nn) = (Loop { dim: Dim::M, bound: mb }, Loop { dim: Dim::N, bound: nb });
            let loops = if m_inner { [mm, nn] } else { [nn, mm] };
            loops.into_iter().filter(|l| l.bound > 1)
        };
        let glb = &mut levels[Level::Glb as usize].temporal;
        glb.extend(
            [Loop { dim: Dim::K, bound: self.k_steps / k_inner / k_dram }]
                .into_iter()
                .filter(|l| l.bound > 1),
        );
        glb.extend(order(glb_m_inner, mg, ng));
        let dram = &mut levels[Level::Dram as usize].temporal;
        dram.extend([Loop { dim: Dim::K, bound: k_dram }].into_iter().filter(|l| l.bound > 1));
        dram.extend(order(dram_m_inner, self.m_out / mg, self.n_out / ng));
        Mapping { levels }
    }

    /// The tilings the search tries: every split of K between the GLB and DRAM (partial sums go
    /// to DRAM and back between DRAM's K chunks), of M and N between the GLB and DRAM, and their
    /// orders at both. The k-steps below DRAM's chunks all go to the accumulating level: how they
    /// split between it and the GLB changes no count (the GLB's tile holds them either way, and
    /// nothing indexes Z between them; `k_split_below_dram_changes_no_count`).
    pub fn candidates(&self) -> impl Iterator<Item = Mapping> + '_ {
        divisors(self.k_steps).into_iter().flat_map(move |k_dram| {
            let k_inner = self.k_steps / k_dram;
            divisors(self.m_out).into_iter().flat_map(move |mg| {
                divisors(self.n_out).into_iter().flat_map(move |ng| {
                    [(true, true), (true, false), (false, true), (false, false)]
                        .into_iter()
                        // Orders of one loop or none are the same mapping.
                        .filter(move |&(glb_m, dram_m)| {
                            (glb_m || (mg > 1 && ng > 1))
                                && (dram_m || (self.m_out / mg > 1 && self.n_out / ng > 1))
                        })
                        .map(move |(glb_m, dram_m)| self.mapping((k_inner, k_dram), (mg, ng), glb_m, dram_m))
                })
            })
        })
    }

    /// The error where not even the smallest tiling, one k-step of a row group and a column
    /// tile, fits the GLB with the operands stored as `a` and `b`: what those tiles need.
    pub fn nothing_fits(&self, arch: &Arch, a: Stored, b: Stored) -> MappingError {
        MappingError::Bad {
            origin: "the mapper".into(),
            message: format!(
                "no tiling fits the GLB: the smallest tiles of the compressed operands {}",
                footprint(&self.mapping((1, self.k_steps), (1, 1), true, true), arch, a, b)
            ),
        }
    }
}

/// Bytes of data and of metadata the GLB's tiles of A and B (and Z, when the GLB keeps it) take.
fn glb_footprint(mapping: &Mapping, arch: &Arch, a: Stored, b: Stored) -> (f64, f64) {
    let glb = Level::Glb as usize;
    let tile = |space: Space| -> f64 {
        mapping.levels[..=glb]
            .iter()
            .flat_map(|l| l.temporal.iter().chain(&l.spatial))
            .filter(|l| space.indexed_by(l.dim))
            .map(|l| l.bound as f64)
            .product()
    };
    let (ta, tb) = (tile(Space::A), tile(Space::B));
    // Outputs kept at the GLB (`via_glb`) take their share of its data partition.
    let tz =
        if mapping.levels[glb].keeps(Space::Z) { tile(Space::Z) * arch.output.bytes() as f64 } else { 0.0 };
    let data = ta * a.bytes_per_element + tb * b.bytes_per_element + tz;
    let meta = (ta * a.meta_bits_per_element + tb * b.meta_bits_per_element) / 8.0;
    (data, meta)
}

/// Whether the GLB's tiles fit its data and metadata partitions.
pub fn fits(mapping: &Mapping, arch: &Arch, a: Stored, b: Stored) -> bool {
    let (data, meta) = glb_footprint(mapping, arch, a, b);
    data <= arch.storage.glb_data_bytes as f64 && meta <= arch.storage.glb_meta_bytes as f64
}

/// What the mapping's GLB tiles take beside what the GLB holds.
fn footprint(mapping: &Mapping, arch: &Arch, a: Stored, b: Stored) -> String {
    let (data, meta) = glb_footprint(mapping, arch, a, b);
    format!(
        "take {} bytes of data and {} of metadata; the architecture's GLB holds {} and {} ([storage] glb_data_bytes, glb_meta_bytes)",
        data.ceil(),
        meta.ceil(),
        arch.storage.glb_data_bytes,
        arch.storage.glb_meta_bytes
    )
}

/// An error where the mapping's GLB tiles do not fit, naming what they take and what the GLB
/// holds; `origin` names the mapping.
pub fn check_fits(
    mapping: &Mapping,
    arch: &Arch,
    a: Stored,
    b: Stored,
    origin: &str,
) -> Result<(), MappingError> {
    if fits(mapping, arch, a, b) {
        return Ok(());
    }
    let message = format!("its GLB tiles of the compressed operands {}", footprint(mapping, arch, a, b));
    Err(MappingError::Bad { origin: origin.to_string(), message })
}

/// Divisors of `n` (at least 1), ascending; a large prime `n` gives only 1 and itself.
fn divisors(n: u64) -> Vec<u64> {
    let n = n.max(1);
    let mut small = Vec::new();
    let mut large = Vec::new();
    let mut d = 1;
    while d * d <= n {
        if n.is_multiple_of(d) {
            small.push(d);
            if d * d != n {
                large.push(n / d);
            }
        }
        d += 1;
    }
    small.extend(large.into_iter().rev());
    small
}

/// The hierarchy's counts for `mapping` on an `m x k x n` workload: computed on the extents the
/// mapping covers, then scaled, per data space, by the fraction of its padded tiles that exists.
pub fn hierarchy(
    mapping: &Mapping,
    (m, k, n): (usize, usize, usize),
    a: Stored,
    b: Stored,
    z_bytes: u64,
) -> Hierarchy {
    let h = Hierarchy::from_mapping(mapping, a, b, z_bytes);
    let (mp, np, kp) =
        (mapping.extent(Dim::M) as f64, mapping.extent(Dim::N) as f64, mapping.extent(Dim::K) as f64);
    let (m, k, n) = (m as f64, k as f64, n as f64);
    let fa = (m * k / (mp * kp)).min(1.0);
    let fb = (k * n / (kp * np)).min(1.0);
    let fz = (m * n / (mp * np)).min(1.0);
    let values: Vec<u64> = h.iter().map(|(_, v)| v).collect();
    Hierarchy::from_fn(|i| {
        let fraction = match Hierarchy::space_of(Hierarchy::NAMES[i]) {
            Some(Space::A) => fa,
            Some(Space::B) => fb,
            Some(Space::Z) => fz,
            None => 1.0,
        };
        (values[i] as f64 * fraction).round() as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every split of the k-steps below DRAM between the accumulating level and the GLB gives the
    /// same hierarchy counts, for each machine and tiling: the search tries one.
    #[test]
    fn k_split_below_dram_changes_no_count() {
        use crate::design::Design;
        let stored = Stored { bytes_per_element: 0.5, meta_bits_per_element: 1.5 };
        for design in [Design::Tc, Design::Dstc, Design::S2ta] {
            let arch = design.arch();
            let a = crate::pattern::Pattern::parse(if design == Design::S2ta { "K0(2:8)" } else { "dense" });
            let machine = design.machine(&arch, &a.unwrap(), &crate::pattern::Pattern::Dense).unwrap();
            let (m, k, n) = (256, 96, 512);
            let nest = Nest::of(&machine, &arch, m, k, n);
            let mut compared = 0;
            for k_dram in divisors(nest.k_steps) {
                for (mg, ng) in divisors(nest.m_out)
                    .into_iter()
                    .flat_map(|x| divisors(nest.n_out).into_iter().map(move |y| (x, y)))
                {
                    for (glb_m, dram_m) in [(true, true), (false, false)] {
                        let all = nest.mapping((nest.k_steps / k_dram, k_dram), (mg, ng), glb_m, dram_m);
                        let counts = hierarchy(&all, (m, k, n), stored, stored, 1);
                        for k_inner in divisors(nest.k_steps / k_dram) {
                            let split = nest.mapping((k_inner, k_dram), (mg, ng), glb_m, dram_m);
                            assert_eq!(hierarchy(&split, (m, k, n), stored, stored, 1), counts, "{design:?}");
                            assert_eq!(
                                glb_footprint(&split, &arch, stored, stored),
                                glb_footprint(&all, &arch, stored, stored)
                            );
                            compared += 1;
                        }
                    }
                }
            }
            assert!(compared > 100, "{design:?}: {compared}");
        }
    }

    #[test]
    fn divisors_in_order() {
        assert_eq!(divisors(12), vec![1, 2, 3, 4, 6, 12]);
        assert_eq!(divisors(1), vec![1]);
        assert_eq!(divisors(16641), vec![1, 3, 9, 43, 129, 387, 1849, 5547, 16641]);
    }
}
