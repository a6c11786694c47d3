//! Emulation: `run`, `compare`, `degrees`, `bench` and `devices`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use highlight_emu::compare::{Point, PointOperands};
use highlight_emu::degrees::DegreeTable;
use highlight_emu::design::{Arch, Design};
use highlight_emu::gpu;
use highlight_emu::inputs::{self, Operand};
use highlight_emu::mapping::Mapping;
use highlight_emu::matrix::Matrix;
use highlight_emu::operand::npy::{self};
use highlight_emu::operand::{self, OperandRole};
use highlight_emu::output::Replace;
use highlight_emu::pattern::{Pattern, readable};
use highlight_emu::run::{InputFile, Inputs, Operands, Workload, run_best_order};
use serde_json::json;

use super::{Mismatch, OutOfTolerance, StdoutError, emit, parse_pattern};
use crate::{BackendArgs, CompareArgs, RunArgs};

pub fn devices() -> Result<()> {
    let adapters = gpu::adapters();
    if adapters.is_empty() {
        outln!("no adapters (install a Vulkan driver; the software one is mesa-vulkan-drivers)");
    }
    for adapter in adapters {
        let info = adapter.get_info();
        let kind = if gpu::is_software(&info) { "software" } else { "hardware" };
        outln!("{} [{kind}]", gpu::describe(&info));
    }
    Ok(())
}

pub fn run(args: &RunArgs) -> Result<()> {
    let arch = match &args.arch {
        Some(path) => Arch::load(path)?,
        None => args.design.arch(),
    };
    let a_file = args.a_file.as_deref().map(inputs::load).transpose()?;
    let b_file = args.b_file.as_deref().map(inputs::load).transpose()?;
    let (m, k, n) = shape_of(&args.shape, a_file.as_ref(), b_file.as_ref())?;
    let a_fibers = a_file.as_ref().map(|f| f.matrix.clone());
    let b_fibers = b_file.as_ref().map(|f| f.matrix.transpose());
    let (a, a_satisfies) =
        pattern_for(args, args.a.as_deref(), a_fibers.as_ref(), a_file.as_ref(), Operand::A, &arch)?;
    let (b, b_satisfies) =
        pattern_for(args, args.b.as_deref(), b_fibers.as_ref(), b_file.as_ref(), Operand::B, &arch)?;
    let workload = Workload { m, k, n, a, b, seed: args.seed };
    workload.check_with_swap(args.swap)?;
    let ert = args.energy.load()?;
    let mapping = args.mapping.as_deref().map(Mapping::load).transpose()?;
    if mapping.is_some() && args.swap {
        bail!("--mapping names the loops of the order given; drop --swap, or the mapping");
    }
    if let Some(dir) = &args.save {
        highlight_emu::output::check_output_dir(dir).with_context(|| format!("--save {}", dir.display()))?;
        if dir.exists() {
            bail!("--save {}: already exists; name a new folder", dir.display());
        }
    }
    let gpu = args.backend.open()?;
    let input = |file: Option<inputs::Loaded>, satisfies: Vec<String>| {
        file.map(|f| (f.matrix, InputFile { satisfies, ..f.report }))
    };
    let (a_input, b_input) = (input(a_file, a_satisfies), input(b_file, b_satisfies));
    let report = (a_input.is_some() || b_input.is_some()).then(|| Inputs {
        a: a_input.as_ref().map(|(_, r)| r.clone()),
        b: b_input.as_ref().map(|(_, r)| r.clone()),
    });
    let a_matrix = match a_input {
        Some((matrix, _)) => matrix,
        None => operand::generate(&workload.a, OperandRole::A, m, k, args.seed)?,
    };
    let b_matrix = match b_input {
        Some((matrix, _)) => matrix,
        None => operand::generate(&workload.b, OperandRole::B, n, k, args.seed)?,
    };
    let operands = Operands::new(a_matrix, b_matrix);
    let (mut result, z) = run_best_order(
        args.design,
        &arch,
        &ert,
        &workload,
        &operands,
        gpu.as_ref(),
        args.backend.check,
        args.swap,
        &args.search.search(mapping),
    )?;
    result.inputs = report;
    if let Some(dir) = &args.save {
        save(dir, &operands, &z, &result)?;
    }
    let text = if args.json {
        serde_json::to_string_pretty(&result)? + "\n"
    } else {
        highlight_emu::report::run_text(&result)
    };
    emit(&text, run_verdict(&result, ""))
}

/// M, K and N from the operand files and the flags, which must agree.
fn shape_of(
    shape: &crate::ShapeArgs,
    a: Option<&inputs::Loaded>,
    b: Option<&inputs::Loaded>,
) -> Result<(usize, usize, usize)> {
    // Each dimension with what fixed it: its flag, or the file it was read from.
    let flag = |name: &str, v: Option<usize>| (v, name.to_string());
    let mut dims = [flag("--m", shape.m), flag("--k", shape.k), flag("--n", shape.n)];
    let from_files = [
        a.map(|f| (0, f.matrix.rows, &f.report.file, "rows")),
        a.map(|f| (1, f.matrix.cols, &f.report.file, "columns")),
        b.map(|f| (1, f.matrix.rows, &f.report.file, "rows")),
        b.map(|f| (2, f.matrix.cols, &f.report.file, "columns")),
    ];
    for (i, value, file, what) in from_files.into_iter().flatten() {
        match &dims[i] {
            (Some(given), source) if *given != value => {
                let dim = ["M", "K", "N"][i];
                bail!(
                    "{dim} is {given} from {source} but {value} from {file}'s {what} (A is M x K, B is K x N)"
                )
            }
            _ => dims[i] = (Some(value), format!("{file}'s {what}")),
        }
    }
    match dims {
        [(Some(m), _), (Some(k), _), (Some(n), _)] => Ok((m, k, n)),
        _ => bail!("give --m, --k and --n, or operand files that fix them (--a-file M x K, --b-file K x N)"),
    }
}

/// The pattern an operand runs as: declared (and checked against its file), detected from its
/// file (the sparsest of the design's patterns it satisfies, all of which are reported), or
/// dense.
fn pattern_for(
    args: &RunArgs,
    declared: Option<&str>,
    fibers: Option<&Matrix<i8>>,
    file: Option<&inputs::Loaded>,
    which: Operand,
    arch: &Arch,
) -> Result<(Pattern, Vec<String>)> {
    let name = || file.map_or(String::new(), |f| f.report.file.clone());
    match (declared, fibers) {
        (Some(text), Some(fibers)) => {
            let p = parse_pattern(text)?;
            inputs::check_declared(fibers, &p, which, &name())?;
            Ok((p, Vec::new()))
        }
        (Some(text), None) => Ok((parse_pattern(text)?, Vec::new())),
        (None, Some(fibers)) => Ok(inputs::detect(args.design, arch, fibers, which, &name())?),
        (None, None) => Ok((Pattern::Dense, Vec::new())),
    }
}

/// Exit 3 when the GPU and the CPU reference differ, or Z differs from the dense product.
pub fn run_verdict(result: &highlight_emu::run::RunResult, context: &str) -> Result<()> {
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

/// Writes the run as a new folder ([`highlight_emu::output::write_dir`]): a failed or
/// interrupted save leaves nothing behind.
fn save(
    dir: &Path,
    operands: &highlight_emu::run::Operands,
    z: &Matrix<i32>,
    result: &highlight_emu::run::RunResult,
) -> Result<()> {
    highlight_emu::output::write_dir(dir, Replace::Never, |tmp| {
        let npy = |name: &str, e: npy::NpyError| format!("{name}: {e}");
        npy::write_matrix(&tmp.join("a.npy"), &operands.a).map_err(|e| npy("a.npy", e))?;
        npy::write_matrix(&tmp.join("b.npy"), &operands.b).map_err(|e| npy("b.npy", e))?;
        npy::write_matrix(&tmp.join("z.npy"), z).map_err(|e| npy("z.npy", e))?;
        let json = serde_json::to_string_pretty(result).map_err(|e| e.to_string())?;
        std::fs::write(tmp.join("result.json"), json + "\n").map_err(|e| format!("result.json: {e}"))
    })
    .with_context(|| format!("--save {}", dir.display()))
}

pub fn compare(args: &CompareArgs) -> Result<()> {
    let table = DegreeTable::shipped();
    // The user's operands: every design runs the sparsest of its patterns the data has.
    let given = match (&args.a_file, &args.b_file) {
        (Some(a), Some(b)) => {
            let (a_file, b_file) = (inputs::load(a)?, inputs::load(b)?);
            let shape = shape_of(&args.shape, Some(&a_file), Some(&b_file))?;
            for (name, f) in [("A", &a_file), ("B", &b_file)] {
                if let Some(q) = f.report.quantization {
                    let _ = writeln!(
                        std::io::stderr(),
                        "note: {name} ({}) quantised to int8 with scale {:e}: density {} -> {}",
                        f.report.file,
                        q.scale,
                        readable(q.density_before),
                        readable(q.density_after)
                    );
                }
            }
            let files = PointOperands::Files { a: a_file.report.file.clone(), b: b_file.report.file.clone() };
            Some((shape, files, Operands::new(a_file.matrix, b_file.matrix)))
        }
        (None, None) => None,
        _ => bail!("compare takes both --a-file and --b-file, or neither"),
    };
    let ((m, k, n), operands) = match &given {
        Some((shape, files, _)) => (*shape, files.clone()),
        None => (
            args.shape.required()?,
            PointOperands::Degrees { a_sparsity: args.a_sparsity, b_sparsity: args.b_sparsity },
        ),
    };
    let point = Point { m, k, n, seed: args.seed, operands, layer: None };
    if given.is_none() {
        highlight_emu::compare::check_point(&point, &table)?;
    } else {
        Workload { m, k, n, a: Pattern::Dense, b: Pattern::Dense, seed: args.seed }.check_with_swap(true)?;
    }
    let ert = args.energy.load()?;
    let gpu = args.backend.open()?;
    let on_terminal = std::io::stderr().is_terminal();
    let status = |text: &str| {
        if on_terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[K{text}");
        }
    };
    let given_operands = given.as_ref().map(|(_, _, o)| o);
    let outcomes = highlight_emu::compare::compare(
        &point,
        &table,
        &ert,
        &args.search.search(None),
        gpu.as_ref(),
        args.backend.check,
        given_operands,
        |design| status(&format!("emulating {} ...", design.id())),
    )?;
    status("");
    let text = if args.json {
        serde_json::to_string_pretty(&json!({ "point": point, "designs": outcomes }))? + "\n"
    } else {
        highlight_emu::report::compare_text(&point, &outcomes)
    };
    let verdict = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().map(|r| run_verdict(r, &format!("{}: ", o.design.id()))))
        .collect::<Result<Vec<()>>>();
    emit(&text, verdict.map(|_| ()))
}

pub fn degrees(design: Design, arch: Option<&Path>, as_json: bool) -> Result<()> {
    let arch = match arch {
        Some(path) => Arch::load(path)?,
        None => design.arch(),
    };
    // An architecture of another design is refused as `run` refuses it.
    if let Err(e @ highlight_emu::design::DesignError::BadArch { .. }) =
        design.machine(&arch, &Pattern::Dense, &Pattern::Dense)
    {
        return Err(e.into());
    }
    let support = highlight_emu::degrees::supported(design, &arch);
    if as_json {
        let out = json!({
            "design": design,
            "any_degree": support.any,
            "degrees": support.degrees.iter().map(|(s, p)| json!({"sparsity": s, "patterns": p})).collect::<Vec<_>>(),
            "mux_ranks": support.mux_ranks,
            "mux_inputs": support.mux_inputs(),
            "one_rank_mux_inputs": support.one_rank_mux_inputs(),
        });
        outln!("{out}");
        return Ok(());
    }
    if support.any {
        outln!("{}: any sparsity degree (operands treated as unstructured)", arch.name);
    } else {
        outln!("{}: {} sparsity degrees", arch.name, support.degrees.len());
    }
    for (sparsity, patterns) in &support.degrees {
        outln!("  {:>6.2} %  {}", 100.0 * sparsity, patterns.join(", "));
    }
    if !support.mux_ranks.is_empty() {
        for r in &support.mux_ranks {
            outln!("rank {}: {} muxes of {} inputs", r.rank, r.g, r.h_max);
        }
        outln!(
            "mux inputs: {} (sum of G x H_max per rank); a one-rank design of the same flexibility: {} ({:.1}x)",
            support.mux_inputs(),
            support.one_rank_mux_inputs(),
            f64::from(support.one_rank_mux_inputs()) / f64::from(support.mux_inputs())
        );
    }
    Ok(())
}

pub fn bench(
    sizes: &[usize],
    designs: &[Design],
    repeats: usize,
    backend: &BackendArgs,
    as_json: bool,
) -> Result<()> {
    let gpu = backend.open()?;
    let designs = if designs.is_empty() { Design::ALL.to_vec() } else { designs.to_vec() };
    let mut rows = Vec::new();
    if !as_json {
        outln!(
            "{:<15} {:>6} {:>8} {:>11} {:>11} {:>14} {:>14} {:>12} {:>9}",
            "design",
            "size",
            "A",
            "GPU ms",
            "wall ms",
            "effectual/s",
            "dense-eq/s",
            "cycles/s",
            "/ plain"
        );
    }
    for &size in sizes {
        // The hardware's own limit on this backend: the plain int8 product of the same shape.
        let plain = highlight_emu::bench::plain_ms(size, gpu.as_ref(), repeats)?;
        if !as_json {
            outln!("{:<15} {size:>6} {:>8} {:>11.3}", "plain int8", "dense", plain);
        }
        for &design in &designs {
            for a_sparsity in [0.0, 0.75] {
                let Some(mut row) = highlight_emu::bench::measure_checked(
                    design,
                    size,
                    a_sparsity,
                    gpu.as_ref(),
                    repeats,
                    backend.check,
                )?
                else {
                    if !as_json {
                        outln!("{:<15} {size:>6} {:>7}% unsupported", design.id(), 100.0 * a_sparsity);
                    }
                    continue;
                };
                row.plain_ms = Some(plain);
                row.ratio_to_plain = Some(row.gpu_ms.unwrap_or(row.wall_ms) / plain);
                if !as_json {
                    let checked = match &row.check {
                        Some(c) if c.cpu_gpu_equal && c.z_equals_dense => "  GPU = CPU",
                        Some(_) => "  mismatch",
                        None => "",
                    };
                    outln!(
                        "{:<15} {size:>6} {:>7}% {:>11} {:>11.2} {:>14.3e} {:>14.3e} {:>12.3e} {:>8.1}x{checked}",
                        design.id(),
                        100.0 * a_sparsity,
                        row.gpu_ms.map_or("-".into(), |t| format!("{t:.3}")),
                        row.wall_ms,
                        row.effectual_macs_per_s,
                        row.dense_equivalent_macs_per_s,
                        row.cycles_per_s,
                        row.ratio_to_plain.unwrap_or(f64::NAN)
                    );
                }
                rows.push(row);
            }
        }
    }
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let on = gpu.as_ref().map_or("the CPU reference".to_string(), |g| gpu::describe(&g.gpu.info));
        outln!(
            "(on {on}; per-second figures use the GPU time where there is one, else the wall time; / plain: that time over the plain int8 product's of the same shape on the same backend)"
        );
        if backend.check {
            outln!(
                "(checked: each point's GPU run against the CPU reference, Z and every counter, and Z against the dense product)"
            );
        }
    }
    for row in &rows {
        let point = format!("{} {} A {} %", row.design.id(), row.size, 100.0 * row.a_sparsity);
        if let Some(check) = &row.check {
            if let Some(d) = &check.first_difference {
                return Err(Mismatch(format!("{point}: GPU and CPU differ: {d}")).into());
            }
            if !check.z_equals_dense {
                return Err(Mismatch(format!("{point}: Z differs from the dense product")).into());
            }
        }
    }
    Ok(())
}

pub fn validate(dir: &Path, backend: &BackendArgs, as_json: bool) -> Result<()> {
    let gpu = backend.open()?;
    let on_terminal = std::io::stderr().is_terminal();
    let reports = highlight_emu::validate::validate(dir, gpu.as_ref(), |point| {
        if on_terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[Kvalidating {point} ...");
        }
    })?;
    if on_terminal {
        let _ = write!(std::io::stderr(), "\r\x1b[K");
    }
    let text = if as_json {
        serde_json::to_string_pretty(&reports)? + "\n"
    } else {
        let figures: usize = reports.iter().map(|r| r.figures_checked()).sum();
        format!(
            "{}\nchecked {} points, {figures} figures held to a tolerance\n",
            highlight_emu::validate::table(&reports),
            reports.len()
        )
    };
    let failed: Vec<&str> = reports.iter().filter(|r| !r.ok).map(|r| r.point.as_str()).collect();
    let verdict = match failed.len() {
        0 => Ok(()),
        n => Err(OutOfTolerance(format!(
            "{n} of {} points outside tolerance: {}",
            reports.len(),
            failed.join(", ")
        ))
        .into()),
    };
    emit(&text, verdict)
}
