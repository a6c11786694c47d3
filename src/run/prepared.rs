//! A design ready to run: the operands in its formats, the CPU and GPU emulations, and the
//! hierarchy's traffic under a mapping.

use std::time::Instant;

use super::{GpuBackend, Operands, RunError, Workload};
use crate::counters::Counters;
use crate::design::dstc::Dstc;
use crate::design::s2ta::S2ta;
use crate::design::{Arch, Dataflow, Design, Machine};
use crate::energy::{Ert, hierarchy_energy};
use crate::format::{BFormat, Bitmask, BlockedCsr, HierarchicalCp, TwoRankHss, coord_bits};
use crate::gpu::GpuError;
use crate::hierarchy::{Hierarchy, Stored};
use crate::mapper::{self, Nest};
use crate::mapping::{Dim, Level, Mapping};
use crate::matrix::Matrix;
use crate::pattern::Pattern;
use crate::reference;

/// The operands in the formats one machine reads.
pub enum Compressed {
    /// TC, STC, HighLight, HighLight-DSSO: A in hierarchical CP of the shape the PEs hold.
    TensorCore { dataflow: Dataflow, a: HierarchicalCp, b: BFormat },
    /// DSTC: A's columns and B's rows as bitmasks.
    Dstc { dstc: Dstc, a_columns: Bitmask, b_rows: Bitmask },
    /// S2TA: A's rows and B's columns in G:8 blocks.
    S2ta { s2ta: S2ta, a: HierarchicalCp, b_columns: HierarchicalCp },
}

/// A design ready to run a workload: its machine and the operands in its formats.
pub struct Prepared {
    pub design: Design,
    pub arch: Arch,
    pub compressed: Compressed,
}

impl Prepared {
    /// Checks that `design` runs the workload's patterns and compresses the operands for it.
    pub fn new(
        design: Design,
        arch: Arch,
        workload: &Workload,
        operands: &Operands,
    ) -> Result<Prepared, RunError> {
        let compressed = match design.machine(&arch, &workload.a, &workload.b)? {
            Machine::TensorCore(dataflow) => {
                let a = HierarchicalCp::compress(&operands.a, dataflow.a_shape())?;
                let b = if dataflow.b_drives_rank1 {
                    let s = dataflow.shape;
                    let b_shape = TwoRankHss { g1: s.g1, h1: s.h1, g0: s.h0, h0: s.h0 };
                    BFormat::Columns(HierarchicalCp::compress(&operands.b.transpose(), b_shape)?)
                } else if dataflow.b_compressed && workload.b != Pattern::Dense {
                    BFormat::BlockedCsr(BlockedCsr::compress(&operands.b, dataflow.shape.h0 as usize))
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
        Ok(Prepared { design, arch, compressed })
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
            Compressed::Dstc { .. } => "unstructured (bitmask)".to_string(),
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
    /// Takes DSTC's sub-tile from the mapping's PE-register (LRF) loops: the rows and columns of
    /// Z each array covers per k-step. The other machines' inner loops are fixed by their
    /// architectures.
    pub fn take_sub_tile(&mut self, mapping: &Mapping) {
        if let Compressed::Dstc { dstc, .. } = &mut self.compressed {
            dstc.sub_rows = mapping.level_extent(Level::Pe, Dim::M) as usize;
            dstc.sub_cols = mapping.level_extent(Level::Pe, Dim::N) as usize;
        }
    }

    /// The machine the design runs.
    fn machine(&self) -> Machine {
        match &self.compressed {
            Compressed::TensorCore { dataflow, .. } => Machine::TensorCore(*dataflow),
            Compressed::Dstc { dstc, .. } => Machine::Dstc(*dstc),
            Compressed::S2ta { s2ta, .. } => Machine::S2ta(*s2ta),
        }
    }

    /// How A and B are stored above the PE array: bytes and metadata bits per dense element.
    fn stored(&self) -> (Stored, Stored) {
        match &self.compressed {
            Compressed::TensorCore { dataflow: df, b, .. } => {
                let s = df.a_shape();
                let a = if df.rank0_saf {
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
                let b = match b {
                    BFormat::Dense(_) => Stored::DENSE,
                    BFormat::BlockedCsr(c) => Stored::of(c.storage(), c.k * c.n),
                    BFormat::Columns(cp) => Stored::of(cp.storage(), cp.rows * cp.k),
                };
                (a, b)
            }
            Compressed::Dstc { a_columns, b_rows, .. } => (
                Stored::of(a_columns.storage(), a_columns.fibers * a_columns.shape),
                Stored::of(b_rows.storage(), b_rows.fibers * b_rows.shape),
            ),
            Compressed::S2ta { a, b_columns, .. } => (
                Stored::of(a.storage(), a.rows * a.k),
                Stored::of(b_columns.storage(), b_columns.rows * b_columns.k),
            ),
        }
    }

    /// Coordinates read at the PE registers with the operands, as the Sparseloop artifact charges
    /// STC's: K0 bits per MAC slot and K1 bits per rank1 select where A's K1 coordinates drive it
    /// (STC, HighLight, HighLight-DSSO), each DSTC array's bitmask bits per k, S2TA's block
    /// coordinate per MAC slot.
    fn pe_meta_read_bits(&self, counters: &Counters) -> u64 {
        match &self.compressed {
            Compressed::TensorCore { dataflow: df, .. } if df.rank0_saf => {
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
            Compressed::Dstc { dstc: d, a_columns, b_rows } => {
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
            Compressed::S2ta { s2ta, .. } => {
                (counters.mac + counters.mac_gated) * coord_bits(s2ta.block as usize)
            }
            _ => 0,
        }
    }

    /// The mapping (given, or the mapper's least-energy choice) and the hierarchy's counts.
    pub fn hierarchy(
        &self,
        workload: &Workload,
        counters: &Counters,
        given: Option<&Mapping>,
        ert: &Ert,
    ) -> Result<(Mapping, Hierarchy), RunError> {
        let (a, b) = self.stored();
        let z_bytes = self.arch.output.bytes();
        let shape = (workload.m, workload.k, workload.n);
        let mapping = match given {
            Some(m) => {
                m.check_covers(shape, "--mapping")?;
                mapper::check_fits(m, &self.arch, a, b, "--mapping")?;
                m.clone()
            }
            None => {
                let nest = Nest::of(&self.machine(), &self.arch, workload.m, workload.k, workload.n);
                let cost = |m: &Mapping| {
                    hierarchy_energy(&mapper::hierarchy(m, shape, a, b, z_bytes), &self.arch, ert)
                        .unwrap_or(f64::INFINITY)
                };
                nest.choose(&self.arch, a, b, cost)?
            }
        };
        let mut h = mapper::hierarchy(&mapping, shape, a, b, z_bytes);
        h.pe_meta_read_bits = self.pe_meta_read_bits(counters);
        Ok((mapping, h))
    }
}

/// Z and counters of one emulation, with its timing.
pub struct Emulation {
    pub z: Matrix<i32>,
    pub counters: Counters,
    pub wall_ms: f64,
    pub gpu_time_ms: Option<f64>,
}
