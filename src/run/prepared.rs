//! A design ready to run: the operands in its formats, the CPU and GPU emulations, and the
//! hierarchy's traffic under a mapping.

use std::time::Instant;

use super::{GpuBackend, Operands, RunError, Workload};
use crate::counters::Counters;
use crate::design::dstc::Dstc;
use crate::design::s2ta::S2ta;
use crate::design::{Arch, Dataflow, Design, DesignError, Machine};
use crate::energy::Ert;
use crate::evaluator::Representation;
use crate::format::{
    BFormat, Bitmask, BlockedCsr, Format, HierarchicalCp, TwoRankHss, blocked_csr, coord_bits,
};
use crate::gpu::GpuError;
use crate::hierarchy::Stored;
use crate::mapper::Nest;
use crate::mapping::{Dim, Level, Mapping, MappingError};
use crate::matrix::Matrix;
use crate::reference;
use crate::search::{self, Candidate, Chosen, Formats, Place, Search};

/// The operands in the formats one machine reads.
pub enum Compressed {
    /// TC, STC, HighLight, HighLight-DSSO: A in hierarchical CP of the shape the PEs hold.
    TensorCore { dataflow: Dataflow, a: HierarchicalCp, b: BFormat },
    /// DSTC: A's columns and B's rows as bitmasks.
    Dstc { dstc: Dstc, a_columns: Bitmask, b_rows: Bitmask },
    /// S2TA: A's rows and B's columns in G:8 blocks.
    S2ta { s2ta: S2ta, a: HierarchicalCp, b_columns: HierarchicalCp },
}

/// A design ready to run a workload: its machine, the operands in its formats, and the formats
/// its hardware can store each operand in.
pub struct Prepared {
    pub design: Design,
    pub arch: Arch,
    pub compressed: Compressed,
    /// The formats the emulation reads (A's above the PEs is a storage choice only).
    pub formats: Formats,
    /// The formats each operand may be stored in, with the user's choice applied.
    allowed: [Vec<Format>; 2],
    /// B's nonzeros, for its compressed sizes.
    b_nonzeros: u64,
}

impl Prepared {
    /// Checks that `design` runs the workload's patterns, and the operands' `fixed` formats
    /// (`--a-format`, `--b-format`) where given, and compresses the operands for it: B in the
    /// fixed format, else in the design's default (the search may pick another,
    /// [`Prepared::set_formats`]).
    pub fn new(
        design: Design,
        arch: Arch,
        workload: &Workload,
        operands: &Operands,
        fixed: (Option<Format>, Option<Format>),
    ) -> Result<Prepared, RunError> {
        let machine = design.machine(&arch, &workload.a, &workload.b)?;
        let compressed = match machine {
            Machine::TensorCore(dataflow) => {
                let a = HierarchicalCp::compress(&operands.a, dataflow.a_shape())?;
                let b = if dataflow.b_drives_rank1 {
                    let s = dataflow.shape;
                    let b_shape = TwoRankHss { g1: s.g1, h1: s.h1, g0: s.h0, h0: s.h0 };
                    BFormat::Columns(HierarchicalCp::compress(&operands.b.transpose(), b_shape)?)
                } else {
                    BFormat::Dense(operands.b.clone())
                };
                Compressed::TensorCore { dataflow, a, b }
            }
            Machine::Dstc(dstc) => Compressed::Dstc {
                dstc,
                a_columns: Bitmask::compress(&operands.a.transpose()),
                b_rows: Bitmask::compress(&operands.b),
            },
            Machine::S2ta(s2ta) => {
                let blocks = |g| TwoRankHss { g1: 1, h1: 1, g0: g, h0: s2ta.block };
                Compressed::S2ta {
                    s2ta,
                    a: HierarchicalCp::compress(&operands.a, blocks(s2ta.g_a))?,
                    b_columns: HierarchicalCp::compress(&operands.b.transpose(), blocks(s2ta.g_b))?,
                }
            }
        };
        let mut allowed = formats_of(&machine);
        for (i, (operand, fixed)) in [("A", fixed.0), ("B", fixed.1)].into_iter().enumerate() {
            if let Some(f) = fixed {
                if !allowed[i].contains(&f) {
                    return Err(DesignError::Unsupported {
                        design: arch.name.clone(),
                        operand,
                        pattern: format!("stored as {f}"),
                        supports: format!("stored as {}", list(&allowed[i])),
                        hint: format!(
                            " (with {operand} = {})",
                            if i == 0 { &workload.a } else { &workload.b }
                        ),
                    }
                    .into());
                }
                allowed[i] = vec![f];
            }
        }
        // Compressed above as the first allowed format: the fixed one, or the design's default.
        let formats = Formats { a: allowed[0][0], b: allowed[1][0] };
        let b_nonzeros = operands.b.occupancy() as u64;
        let mut prepared = Prepared {
            design,
            arch,
            compressed,
            formats: Formats { b: Format::Uncompressed, ..formats },
            allowed,
            b_nonzeros,
        };
        prepared.set_formats(formats, operands);
        Ok(prepared)
    }

    /// The formats each operand may be stored in (A's, B's), the user's choice applied.
    pub fn allowed(&self) -> &[Vec<Format>; 2] {
        &self.allowed
    }

    /// Stores the operands as `formats`, recompressing B where the emulation reads it otherwise.
    pub fn set_formats(&mut self, formats: Formats, operands: &Operands) {
        if let Compressed::TensorCore { dataflow, b, .. } = &mut self.compressed
            && !dataflow.b_drives_rank1
            && formats.b != self.formats.b
        {
            *b = match formats.b {
                Format::BlockedCsr => BFormat::BlockedCsr(BlockedCsr::compress(
                    &operands.b,
                    dataflow.shape.h0 as usize,
                    self.arch.formats.blocked_csr_addresses,
                )),
                _ => BFormat::Dense(operands.b.clone()),
            };
        }
        self.formats = formats;
    }

    /// The operand patterns as the design runs them.
    pub fn runs_as(&self) -> String {
        match &self.compressed {
            Compressed::TensorCore { dataflow, .. } if dataflow.b_drives_rank1 => {
                let s = dataflow.shape;
                format!(
                    "dual-side: A K1({h1}:{h1})->K0({}:{h0}), B K1({}:{h1})->K0({h0}:{h0})",
                    s.g0,
                    s.g1,
                    h1 = s.h1,
                    h0 = s.h0
                )
            }
            Compressed::TensorCore { dataflow, .. } => {
                let s = dataflow.shape;
                format!("K1({}:{})->K0({}:{})", s.g1, s.h1, s.g0, s.h0)
            }
            Compressed::Dstc { .. } => "unstructured".to_string(),
            Compressed::S2ta { s2ta, .. } => {
                format!("K0({}:{b}), B K0({}:{b})", s2ta.g_a, s2ta.g_b, b = s2ta.block)
            }
        }
    }

    /// Runs the CPU reference emulator.
    pub fn run_cpu(&self, operands: &Operands) -> (Matrix<i32>, Counters) {
        match &self.compressed {
            Compressed::TensorCore { dataflow, a, b } => {
                reference::highlight::run(dataflow, a, &operands.b, b)
            }
            Compressed::Dstc { dstc, a_columns, b_rows } => reference::dstc::run(dstc, a_columns, b_rows),
            Compressed::S2ta { s2ta, a, b_columns } => reference::s2ta::run(s2ta, a, b_columns),
        }
    }

    /// Runs the CPU reference emulator, timed.
    pub fn emulate_cpu(&self, operands: &Operands) -> Emulation {
        let start = Instant::now();
        let (z, counters) = self.run_cpu(operands);
        Emulation { z, counters, wall_ms: start.elapsed().as_secs_f64() * 1e3, gpu_time_ms: None }
    }

    /// Runs the GPU emulation, timed (wall time includes uploads and readback).
    pub fn emulate_gpu(&self, gpu: &GpuBackend) -> Result<Emulation, GpuError> {
        let start = Instant::now();
        let run = match &self.compressed {
            Compressed::TensorCore { dataflow, a, b } => gpu.kernel.run(&gpu.gpu, dataflow, a, b)?,
            Compressed::Dstc { dstc, a_columns, b_rows } => {
                gpu.dstc.run(&gpu.gpu, dstc, a_columns, b_rows)?
            }
            Compressed::S2ta { s2ta, a, b_columns } => gpu.s2ta.run(&gpu.gpu, s2ta, a, b_columns)?,
        };
        Ok(Emulation {
            z: run.z,
            counters: run.counters,
            wall_ms: start.elapsed().as_secs_f64() * 1e3,
            gpu_time_ms: run.gpu_time_ms,
        })
    }
}

impl Prepared {
    /// Takes the machine's mapping-chosen loops from the mapping's PE-register (LRF) loops:
    /// DSTC's sub-tile (the rows and columns of Z each array covers per k-step), the tensor
    /// core's column tile (the output columns A stays in the PE registers for), which must fit
    /// the RF's `tile_n`. S2TA's loops are fixed by its architecture.
    pub fn take_machine_loops(&mut self, mapping: &Mapping) -> Result<(), MappingError> {
        let tile_n = self.arch.tile_n;
        match &mut self.compressed {
            Compressed::Dstc { dstc, .. } => {
                dstc.sub_rows = mapping.level_extent(Level::Pe, Dim::M) as usize;
                dstc.sub_cols = mapping.level_extent(Level::Pe, Dim::N) as usize;
            }
            Compressed::TensorCore { dataflow, .. } => {
                let n = mapping.level_extent(Level::Pe, Dim::N);
                if n > tile_n as u64 {
                    return Err(MappingError::Bad {
                        origin: "--mapping".into(),
                        message: format!(
                            "its LRF N loop of {n} columns exceeds the RF's tile of {tile_n} (the architecture's tile_n)"
                        ),
                    });
                }
                dataflow.tile_n = n as usize;
            }
            Compressed::S2ta { .. } => {}
        }
        Ok(())
    }

    /// The machines the hardware lets a mapping choose among (docs/DESIGN.md 11): the tensor
    /// core's column tile, each power of two from the RF's `tile_n` down to 16 columns (fewer
    /// tiles than N distinct); DSTC's sub-tile, 16, 32 or 64 rows and columns (at least its
    /// lanes) within the RF's `rows_per_array x tile_n` outputs, and the architecture's own
    /// (the artifact's maps use 32 x 64 and 64 x 32); S2TA's own. Never empty.
    pub fn machines(&self, n: usize) -> Vec<Machine> {
        match self.machine() {
            Machine::TensorCore(df) => {
                let mut tiles: Vec<usize> = std::iter::successors(Some(self.arch.tile_n), |t| Some(t / 2))
                    .take_while(|&t| t >= 16.min(self.arch.tile_n))
                    .collect();
                tiles.dedup_by_key(|t| n.div_ceil(*t));
                tiles.into_iter().map(|tile_n| Machine::TensorCore(Dataflow { tile_n, ..df })).collect()
            }
            Machine::Dstc(d) => {
                let outputs = self.arch.rows_per_array * self.arch.tile_n;
                let sides = [16, 32, 64];
                let mut machines: Vec<Machine> = sides
                    .iter()
                    .flat_map(|&r| sides.iter().map(move |&c| (r, c)))
                    .filter(|&(r, c)| r * c <= outputs && r >= d.lanes && c >= d.lanes)
                    .map(|(sub_rows, sub_cols)| Machine::Dstc(Dstc { sub_rows, sub_cols, ..d }))
                    .collect();
                if !machines.contains(&Machine::Dstc(d)) {
                    machines.push(Machine::Dstc(d));
                }
                machines
            }
            m @ Machine::S2ta(_) => vec![m],
        }
    }

    /// Runs `machine` from now on (one of [`Prepared::machines`]).
    pub fn set_machine(&mut self, machine: Machine) {
        match (&mut self.compressed, machine) {
            (Compressed::TensorCore { dataflow, .. }, Machine::TensorCore(df)) => *dataflow = df,
            (Compressed::Dstc { dstc, .. }, Machine::Dstc(d)) => *dstc = d,
            (Compressed::S2ta { s2ta, .. }, Machine::S2ta(s)) => *s2ta = s,
            _ => unreachable!("a machine of another design"),
        }
    }

    /// Whether the search can count a machine's counters without an emulation (DSTC's from its
    /// operands' occupancies); the others scale an emulation's.
    pub fn counts_without_emulation(&self) -> bool {
        matches!(self.compressed, Compressed::Dstc { .. })
    }

    /// `machine`'s counters: DSTC's counted from the operands ([`reference::dstc::counts`]), the
    /// tensor core's from an emulation of the current machine, whose A loads (the PE registers'
    /// writes and the GLB's reads of A) repeat per column tile and whose other counts do not
    /// depend on it (tests/search.rs holds both to the emulation of `machine`).
    pub fn counters_of(&self, machine: &Machine, emulated: Option<&Counters>, n: usize) -> Counters {
        match (&self.compressed, machine, emulated) {
            (Compressed::Dstc { a_columns, b_rows, .. }, Machine::Dstc(d), _) => {
                reference::dstc::counts(d, a_columns, b_rows)
            }
            (Compressed::TensorCore { dataflow, .. }, Machine::TensorCore(df), Some(c)) => {
                let (from, to) = (n.div_ceil(dataflow.tile_n) as u64, n.div_ceil(df.tile_n) as u64);
                let per_tile = |count: u64| count.checked_div(from).map_or(count, |per| per * to);
                Counters {
                    pe_reg_write: per_tile(c.pe_reg_write),
                    glb_read_a: per_tile(c.glb_read_a),
                    glb_read_a_meta_bits: per_tile(c.glb_read_a_meta_bits),
                    ..*c
                }
            }
            (_, _, Some(c)) => *c,
            (_, _, None) => unreachable!("the machine's counters need an emulation"),
        }
    }

    /// The machine the design runs.
    pub fn machine(&self) -> Machine {
        match &self.compressed {
            Compressed::TensorCore { dataflow, .. } => Machine::TensorCore(*dataflow),
            Compressed::Dstc { dstc, .. } => Machine::Dstc(*dstc),
            Compressed::S2ta { s2ta, .. } => Machine::S2ta(*s2ta),
        }
    }

    /// How A and B are stored above the PE array in `formats`: bytes and metadata bits per
    /// dense element.
    fn stored(&self, formats: Formats) -> (Stored, Stored) {
        match &self.compressed {
            Compressed::TensorCore { dataflow: df, b, .. } => {
                let s = df.a_shape();
                let a = if df.rank0_saf && formats.a == Format::Cp {
                    let values = f64::from(s.g1 * s.g0) / f64::from(s.h1 * s.h0);
                    let blocks = f64::from(s.g1) / f64::from(s.h1 * s.h0);
                    let k1_bits =
                        if df.rank1_saf && !df.b_drives_rank1 { coord_bits(s.h1 as usize) } else { 0 };
                    Stored {
                        bytes_per_element: values,
                        meta_bits_per_element: values * coord_bits(s.h0 as usize) as f64
                            + blocks * k1_bits as f64,
                    }
                } else {
                    Stored::DENSE
                };
                let b = match (b, formats.b) {
                    (BFormat::Columns(cp), _) => Stored::of(cp.storage(), cp.rows * cp.k),
                    (_, Format::BlockedCsr) => {
                        let (k, n) = (self.k(), b.n());
                        let block = df.shape.h0 as usize;
                        let addresses = self.arch.formats.blocked_csr_addresses;
                        Stored::of(blocked_csr::storage(k, n, self.b_nonzeros, block, addresses), k * n)
                    }
                    _ => Stored::DENSE,
                };
                (a, b)
            }
            Compressed::Dstc { a_columns, b_rows, .. } => {
                let bitmask = |f: Format, m: &Bitmask| match f {
                    Format::Bitmask => Stored::of(m.storage(), m.fibers * m.shape),
                    _ => Stored::DENSE,
                };
                (bitmask(formats.a, a_columns), bitmask(formats.b, b_rows))
            }
            Compressed::S2ta { a, b_columns, .. } => (
                Stored::of(a.storage(), a.rows * a.k),
                Stored::of(b_columns.storage(), b_columns.rows * b_columns.k),
            ),
        }
    }

    /// K of the workload.
    fn k(&self) -> usize {
        match &self.compressed {
            Compressed::TensorCore { a, .. } => a.k,
            Compressed::Dstc { a_columns, .. } => a_columns.fibers,
            Compressed::S2ta { a, .. } => a.k,
        }
    }

    /// What the evaluator charges for the operands stored as `formats`, on the current machine.
    pub fn representation(&self, formats: Formats, counters: &Counters) -> Representation {
        self.representation_on(&self.machine(), formats, counters)
    }

    fn representation_on(&self, machine: &Machine, formats: Formats, counters: &Counters) -> Representation {
        let (a, b) = self.stored(formats);
        Representation { a, b, pe_meta_read_bits: self.pe_meta_read_bits(machine, counters, formats.a) }
    }

    /// Coordinates read at the PE registers with the operands, as the Sparseloop artifact charges
    /// STC's: K0 bits per MAC slot and K1 bits per rank1 select where A's K1 coordinates drive it
    /// (STC, HighLight, HighLight-DSSO, with A stored in CP: an uncompressed dense A's
    /// coordinates are the slots' positions), each DSTC array's bitmask bits per k (made from the
    /// values where an operand is stored uncompressed), S2TA's block coordinate per MAC slot.
    fn pe_meta_read_bits(&self, machine: &Machine, counters: &Counters, a_format: Format) -> u64 {
        match (&self.compressed, machine) {
            (_, Machine::TensorCore(df)) if df.rank0_saf && a_format == Format::Cp => {
                let s = df.shape;
                let k1 = if df.rank1_saf && !df.b_drives_rank1 {
                    counters.rank1_mux * coord_bits(s.h1 as usize)
                } else {
                    0
                };
                counters.pe_reg_read * coord_bits(s.h0 as usize) + k1
            }
            // Each cycle of a k-step reads an A vector and a B vector with their bitmask bits:
            // every array reads its rows' bits of A's column once per vector of its columns, and
            // its columns' bits of B's row once per vector of its rows (the artifact's LRF).
            (Compressed::Dstc { a_columns, b_rows, .. }, Machine::Dstc(d)) => {
                let (m, k, n) = (a_columns.shape, a_columns.fibers, b_rows.shape);
                let spans = |len: usize, tile: usize, sub: usize| -> Vec<usize> {
                    (0..len.div_ceil(tile))
                        .flat_map(|t| {
                            (0..d.arrays_per_side)
                                .map(move |i| (t * tile + i * sub, t * tile + (i + 1) * sub))
                        })
                        .map(|(lo, hi)| hi.min(len).saturating_sub(lo.min(len)))
                        .filter(|&span| span > 0)
                        .collect()
                };
                let (rows, cols) = (spans(m, d.tile_rows(), d.sub_rows), spans(n, d.tile_cols(), d.sub_cols));
                let vectors = |spans: &[usize]| spans.iter().map(|s| s.div_ceil(d.lanes)).sum::<usize>();
                let (row_sum, col_sum) = (rows.iter().sum::<usize>(), cols.iter().sum::<usize>());
                (k * (row_sum * vectors(&cols) + col_sum * vectors(&rows))) as u64
            }
            // Each MAC slot takes A's value with its coordinate in the G:8 block.
            (_, Machine::S2ta(s2ta)) => (counters.mac + counters.mac_gated) * coord_bits(s2ta.block as usize),
            _ => 0,
        }
    }

    /// The best machine loops, mapping (or the given one, with its machine loops) and
    /// representation under `search`'s objective, from an emulation of the current machine
    /// (`emulated`; DSTC needs none, [`Prepared::counts_without_emulation`]). The counters the
    /// energy table charges do not depend on how B is stored, so the choice holds for an
    /// emulation in any of the allowed formats (tests/search.rs).
    pub fn search(
        &self,
        workload: &Workload,
        emulated: Option<&Counters>,
        search: &Search,
        ert: &Ert,
    ) -> Result<Chosen, RunError> {
        let (m, k, n) = (workload.m, workload.k, workload.n);
        let machines = match search.mapping {
            Some(_) => vec![self.machine()],
            None => self.machines(n),
        };
        let candidates: Vec<Candidate> = machines
            .into_iter()
            .map(|machine| {
                let counters = self.counters_of(&machine, emulated, n);
                let representations = self.allowed[0]
                    .iter()
                    .flat_map(|&a| self.allowed[1].iter().map(move |&b| Formats { a, b }))
                    .map(|f| (f, self.representation_on(&machine, f, &counters)))
                    .collect();
                let nest = Nest::of(&machine, &self.arch, m, k, n);
                Candidate { machine, nest, counters, representations }
            })
            .collect();
        let place = Place { shape: (m, k, n), arch: &self.arch, ert };
        Ok(search::best(&place, &candidates, search.objective, search.mapping.as_ref())?)
    }
}

/// The formats a machine's hardware can store each operand in, the first its default: the one
/// the first emulation reads (HighLight's B uncompressed, which the search chose at every fig13
/// point, so that a second emulation in blocked CSR is rare).
fn formats_of(machine: &Machine) -> [Vec<Format>; 2] {
    use Format::*;
    match machine {
        Machine::TensorCore(df) => {
            let s = df.a_shape();
            let a = match (df.rank0_saf, s.g1 == s.h1 && s.g0 == s.h0) {
                (false, _) => vec![Uncompressed],
                // A dense A's coordinates are its slots' positions.
                (true, true) => vec![Cp, Uncompressed],
                (true, false) => vec![Cp],
            };
            let b = match (df.b_drives_rank1, df.b_compressed) {
                (true, _) => vec![Cp],
                (false, true) => vec![Uncompressed, BlockedCsr],
                (false, false) => vec![Uncompressed],
            };
            [a, b]
        }
        Machine::Dstc(_) => [vec![Bitmask, Uncompressed], vec![Bitmask, Uncompressed]],
        Machine::S2ta(_) => [vec![Cp], vec![Cp]],
    }
}

fn list(formats: &[Format]) -> String {
    formats.iter().map(|f| f.id()).collect::<Vec<_>>().join(" or ")
}

/// Z and counters of one emulation, with its timing.
pub struct Emulation {
    pub z: Matrix<i32>,
    pub counters: Counters,
    pub wall_ms: f64,
    pub gpu_time_ms: Option<f64>,
}
