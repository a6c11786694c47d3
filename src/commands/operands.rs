//! Operands: `spec`, `gen` and `prune`.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use highlight_emu::matrix::Matrix;
use highlight_emu::operand::npy::{self, NpyMatrix};
use highlight_emu::operand::{self, OperandRole};
use highlight_emu::pattern::{Pattern, readable};

use super::{StdoutError, parse_pattern};

pub fn spec(text: &str, as_json: bool) -> Result<()> {
    if as_json {
        outln!("{}", highlight_emu::api::spec(text)?);
        return Ok(());
    }
    let pattern = parse_pattern(text)?;
    let density = pattern.density();
    outln!("canonical: {pattern}");
    match density {
        Some(d) => outln!("density:   {} (sparsity {})", readable(d), readable(1.0 - d)),
        None => outln!("density:   set by the data (an unconstrained rank)"),
    }
    let ruled = pattern.ruled_ranks();
    if ruled.is_empty() {
        outln!("ruled ranks: none");
    }
    for (i, rank) in ruled.iter().enumerate() {
        let n = ruled.len() - 1 - i;
        outln!("rank {n}: {}({}:{}) density {}", rank.name, rank.g, rank.h, readable(rank.density()));
    }
    Ok(())
}

fn check_shape(rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        bail!("--rows and --cols must be at least 1 (got {rows} x {cols})");
    }
    match rows.checked_mul(cols) {
        Some(size) if size as u64 <= npy::MAX_ELEMENTS => Ok(()),
        _ => bail!("{rows} x {cols} is too large: at most {} elements", npy::MAX_ELEMENTS),
    }
}

pub fn gen_operand(
    role: OperandRole,
    rows: usize,
    cols: usize,
    text: &str,
    seed: u64,
    out: &Path,
) -> Result<()> {
    check_shape(rows, cols)?;
    let pattern = parse_pattern(text)?;
    highlight_emu::output::check_file_target(out)?;
    let (fibers, k) = match role {
        OperandRole::A => (rows, cols),
        OperandRole::B => (cols, rows),
    };
    let what = || format!("gen {rows} x {cols} with K padded to {}'s blocks", pattern);
    highlight_emu::memory::check(what, highlight_emu::api::padded_bytes(fibers, k, &pattern, 3))?;
    let matrix = operand::generate(&pattern, role, fibers, k, seed)?;
    npy::write_matrix(out, &matrix)?;
    outln!(
        "wrote {}: int8 {rows} x {cols}, pattern {pattern}, density {} (target {}), seed {seed}",
        out.display(),
        readable(matrix.density()),
        pattern.density().map_or("set by the data".into(), readable)
    );
    Ok(())
}

pub fn prune(text: &str, input: &Path, out: &Path) -> Result<()> {
    let pattern = parse_pattern(text)?;
    highlight_emu::output::check_file_target(out)?;
    let label = input.display().to_string();
    let (density, shape) = match npy::read_matrix(input)? {
        NpyMatrix::I8(m) => write_pruned(&m, &pattern, &label, out)?,
        NpyMatrix::F32(m) => write_pruned(&m, &pattern, &label, out)?,
    };
    outln!(
        "achieved density {} (pattern {pattern}, target {}); wrote {} ({} x {})",
        readable(density),
        pattern.density().map_or("set by the data".into(), readable),
        out.display(),
        shape.0,
        shape.1
    );
    Ok(())
}

fn write_pruned<T>(m: &Matrix<T>, pattern: &Pattern, label: &str, out: &Path) -> Result<(f64, (usize, usize))>
where
    T: operand::prune::Magnitude + npyz::AutoSerialize,
{
    let pruned = highlight_emu::api::prune(m, pattern, label)?;
    npy::write_matrix(out, &pruned)?;
    Ok((pruned.density(), (pruned.rows, pruned.cols)))
}
