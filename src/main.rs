//! The `highlight-emu` command line: one small function per subcommand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::io::IsTerminal;

use highlight_emu::compare::{Point, PointOperands};
use highlight_emu::degrees::DegreeTable;
use highlight_emu::design::{Arch, Design};
use highlight_emu::energy::Ert;
use highlight_emu::gpu;
use highlight_emu::matrix::Matrix;
use highlight_emu::operand::npy::{self, NpyMatrix};
use highlight_emu::operand::{self, OperandRole};
use highlight_emu::pattern::Pattern;
use highlight_emu::run::{BackendChoice, GpuBackend, RunError, Workload, open_backend, run_best_order};
use highlight_emu::sweep::{Results, Shard, SweepFile};
use serde_json::json;

/// Emulate the HighLight sparse DNN accelerator (MICRO 2023) and the designs it is compared with.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Largest operand the tools make or read, in elements (4 GiB of int8).
const MAX_ELEMENTS: usize = 1 << 32;

#[derive(Subcommand)]
enum Command {
    /// Parse a sparsity pattern and print its canonical form, density and ruled ranks.
    ///
    /// Patterns: dense | unstructured(D) | [RANK->...]RANK(G:H)->...->RANK(G:H),
    /// e.g. C1(2:4)->C0(2:4), RS->C2->C1(3:4)->C0(2:4), K0(2:4), unstructured(0.25).
    Spec {
        /// The pattern, e.g. "C1(2:4)->C0(2:4)" (quote it: the shell treats '>' and '(' specially).
        pattern: String,
        /// Print one JSON object: canonical, density, sparsity, ranks [{name, g, h}].
        #[arg(long)]
        json: bool,
    },
    /// Generate a synthetic int8 operand with a pattern along K and write it as .npy.
    Gen {
        /// a: M x K, structure along each row; b: K x N, structure along each column.
        #[arg(long, value_enum)]
        operand: OperandRole,
        /// Rows of the file (M for a, K for b).
        #[arg(long)]
        rows: usize,
        /// Columns of the file (K for a, N for b).
        #[arg(long)]
        cols: usize,
        /// Sparsity pattern, e.g. "C1(2:4)->C0(2:4)", "unstructured(0.5)", "dense".
        #[arg(long)]
        pattern: String,
        /// Seed: the same seed gives the same file on every machine.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output .npy file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Prune a 2-D float32 or int8 .npy array (rows x K) to a pattern by the paper's rule.
    Prune {
        /// Sparsity pattern to prune to, e.g. "C1(2:4)->C0(2:4)".
        #[arg(long)]
        pattern: String,
        /// Input .npy file (float32 or int8, rows x K).
        #[arg(long = "in")]
        input: PathBuf,
        /// Output .npy file, same dtype and shape as the input.
        #[arg(long)]
        out: PathBuf,
    },
    /// Emulate Z = A x B on one design and report cycles, energy, latency and EDP.
    Run(RunArgs),
    /// Every design on one sparsity-degree point, normalised to TC.
    Compare(CompareArgs),
    /// Run a sweep (default workloads/fig13.toml) on every design: CSV, JSON, the paper-claims
    /// summary and figures in results/<name>/.
    Sweep(SweepArgs),
    /// Join the partial results of `sweep --shard` runs into the outputs of one full run.
    Merge {
        /// The shards' output folders (each with a results.json).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder (default: results/<name>/).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The sparsity degrees a design exploits (paper figure 6a) and its muxing cost against a
    /// one-rank design of the same flexibility (figure 6b).
    Degrees {
        #[arg(long, value_enum)]
        design: Design,
        /// Architecture file instead of assets/arch/<design>.toml.
        #[arg(long)]
        arch: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Emulation throughput per design: GPU time (median after a warm-up), wall time, MACs and
    /// emulated cycles per second, at M = K = N = each size, dense and 75 %-sparse A.
    Bench {
        /// Sizes (M = K = N), comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1024usize, 4096])]
        sizes: Vec<usize>,
        /// Designs, comma-separated (default: all).
        #[arg(long, value_enum, value_delimiter = ',')]
        designs: Vec<Design>,
        /// Timed runs per point, after one warm-up run.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        #[command(flatten)]
        backend: BackendArgs,
        /// Print one JSON list.
        #[arg(long)]
        json: bool,
    },
    /// List the GPU adapters wgpu sees, with backend and type.
    Devices,
}

#[derive(clap::Args)]
struct SweepArgs {
    /// Sweep file.
    #[arg(default_value = "workloads/fig13.toml")]
    file: PathBuf,
    /// Output folder (default: results/<name>/, or results/<name>-shards/shard-I-of-N/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run only shard I of N (the points whose index is I modulo N), e.g. 0/4.
    #[arg(long)]
    shard: Option<Shard>,
    #[command(flatten)]
    backend: BackendArgs,
    #[command(flatten)]
    energy: EnergyArgs,
}

/// The energy table, shared by the commands that emulate.
#[derive(clap::Args)]
struct EnergyArgs {
    /// Energy table instead of assets/ert/default-45nm.toml: the emulator's TOML, or an
    /// Accelergy ERT (.yaml), mapped onto the emulator's actions by --ert-map.
    #[arg(long)]
    ert: Option<PathBuf>,
    /// How an Accelergy ERT's components and actions become the emulator's (default:
    /// assets/ert/accelergy-map.toml).
    #[arg(long, requires = "ert")]
    ert_map: Option<PathBuf>,
}

impl EnergyArgs {
    fn load(&self) -> Result<Ert> {
        Ok(match &self.ert {
            Some(path) => Ert::load_any(path, self.ert_map.as_deref())?,
            None => Ert::default_45nm(),
        })
    }
}

/// Where to emulate, shared by the commands that emulate.
#[derive(clap::Args)]
struct BackendArgs {
    /// Where to emulate: auto takes a hardware GPU when there is one, else the CPU reference.
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    /// Use the GPU adapter whose name contains this text (see `devices`); naming a software
    /// adapter such as llvmpipe allows it.
    #[arg(long, env = "HIGHLIGHT_ADAPTER")]
    adapter: Option<String>,
    /// Run on the GPU and on the CPU reference and compare Z and every counter; exit 3 on a
    /// mismatch.
    #[arg(long)]
    check: bool,
}

impl BackendArgs {
    /// Opens the backend asked for, saying on stderr when `auto` falls back to the CPU.
    fn open(&self) -> Result<Option<GpuBackend>> {
        let (gpu, fallback) = open_backend(self.backend, self.adapter.as_deref(), self.check)?;
        if let Some(reason) = fallback {
            eprintln!("note: using the CPU reference: {reason}");
        }
        Ok(gpu)
    }
}

/// The product's shape, shared by the commands that emulate one.
#[derive(clap::Args)]
struct ShapeArgs {
    /// Rows of A and Z.
    #[arg(long)]
    m: usize,
    /// The reduction dimension (columns of A, rows of B).
    #[arg(long)]
    k: usize,
    /// Columns of B and Z.
    #[arg(long)]
    n: usize,
}

#[derive(clap::Args)]
struct CompareArgs {
    #[command(flatten)]
    shape: ShapeArgs,
    /// A's sparsity degree, as in assets/degrees.toml (0, 0.5, 0.625, 0.75, 0.875).
    #[arg(long, default_value_t = 0.0)]
    a_sparsity: f64,
    /// B's sparsity degree in [0, 1); S2TA needs a multiple of 0.125.
    #[arg(long, default_value_t = 0.0)]
    b_sparsity: f64,
    /// Seed of the synthetic operands.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    backend: BackendArgs,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    energy: EnergyArgs,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The design to emulate.
    #[arg(long, value_enum)]
    design: Design,
    #[command(flatten)]
    shape: ShapeArgs,
    /// Pattern of A along K, e.g. "C1(2:4)->C0(2:4)".
    #[arg(long, default_value = "dense")]
    a: String,
    /// Pattern of B along K, e.g. "dense" or "unstructured(0.5)".
    #[arg(long, default_value = "dense")]
    b: String,
    /// Seed of the synthetic operands.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    backend: BackendArgs,
    /// Also try Z^T = B^T x A^T and keep the order with the lower EDP.
    #[arg(long)]
    swap: bool,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
    /// Write a.npy, b.npy, z.npy and result.json into this new directory.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Architecture file instead of assets/arch/<design>.toml.
    #[arg(long)]
    arch: Option<PathBuf>,
    #[command(flatten)]
    energy: EnergyArgs,
}

fn main() -> ExitCode {
    env_logger::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Spec { pattern, json } => spec(&pattern, json),
        Command::Gen { operand, rows, cols, pattern, seed, out } => {
            gen_operand(operand, rows, cols, &pattern, seed, &out)
        }
        Command::Prune { pattern, input, out } => prune(&pattern, &input, &out),
        Command::Run(args) => run(&args),
        Command::Compare(args) => compare(&args),
        Command::Sweep(args) => sweep(&args),
        Command::Merge { dirs, out } => merge(&dirs, out.as_deref()),
        Command::Degrees { design, arch, json } => degrees(design, arch.as_deref(), json),
        Command::Bench { sizes, designs, repeats, backend, json } => {
            bench(&sizes, &designs, repeats, &backend, json)
        }
        Command::Devices => devices(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            // A GPU run that failed its self-check disagrees with what the host knows: as a mismatch.
            let self_check = err.chain().any(|e| {
                matches!(e.downcast_ref(), Some(gpu::GpuError::SelfCheck(_)))
                    || matches!(e.downcast_ref(), Some(RunError::Gpu(gpu::GpuError::SelfCheck(_))))
            });
            match err.downcast_ref::<Mismatch>() {
                Some(_) => ExitCode::from(3),
                None if self_check => ExitCode::from(3),
                None => ExitCode::from(2),
            }
        }
    }
}

/// A result that disagrees with its reference: exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Mismatch(String);

fn parse_pattern(text: &str) -> Result<Pattern> {
    Pattern::parse(text).with_context(|| format!("bad pattern {text:?}"))
}

fn spec(text: &str, as_json: bool) -> Result<()> {
    let pattern = parse_pattern(text)?;
    let density = pattern.density();
    if as_json {
        let out = json!({
            "canonical": pattern.to_string(),
            "density": density,
            "sparsity": density.map(|d| 1.0 - d),
            "ranks": pattern.ruled_ranks(),
        });
        println!("{out}");
        return Ok(());
    }
    println!("canonical: {pattern}");
    match density {
        Some(d) => println!("density:   {d} (sparsity {})", 1.0 - d),
        None => println!("density:   set by the data (an unconstrained rank)"),
    }
    let ruled = pattern.ruled_ranks();
    if ruled.is_empty() {
        println!("ruled ranks: none");
    }
    for (i, rank) in ruled.iter().enumerate() {
        let n = ruled.len() - 1 - i;
        println!("rank {n}: {}({}:{}) density {}", rank.name, rank.g, rank.h, rank.density());
    }
    Ok(())
}

fn check_shape(rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        bail!("--rows and --cols must be at least 1 (got {rows} x {cols})");
    }
    match rows.checked_mul(cols) {
        Some(size) if size <= MAX_ELEMENTS => Ok(()),
        _ => bail!("{rows} x {cols} is too large: at most {MAX_ELEMENTS} elements"),
    }
}

fn gen_operand(role: OperandRole, rows: usize, cols: usize, text: &str, seed: u64, out: &Path) -> Result<()> {
    check_shape(rows, cols)?;
    let pattern = parse_pattern(text)?;
    let matrix = match role {
        OperandRole::A => operand::generate(&pattern, role, rows, cols, seed)?,
        OperandRole::B => operand::generate(&pattern, role, cols, rows, seed)?,
    };
    npy::write_matrix(out, &matrix)?;
    println!(
        "wrote {}: int8 {rows} x {cols}, pattern {pattern}, density {} (target {}), seed {seed}",
        out.display(),
        matrix.density(),
        pattern.density().unwrap_or(f64::NAN)
    );
    Ok(())
}

fn prune(text: &str, input: &Path, out: &Path) -> Result<()> {
    let pattern = parse_pattern(text)?;
    let (density, shape) = match npy::read_matrix(input)? {
        NpyMatrix::I8(m) => write_pruned(&m, &pattern, out)?,
        NpyMatrix::F32(m) => write_pruned(&m, &pattern, out)?,
    };
    println!(
        "achieved density {density} (pattern {pattern}, target {}); wrote {} ({} x {})",
        pattern.density().unwrap_or(f64::NAN),
        out.display(),
        shape.0,
        shape.1
    );
    Ok(())
}

fn write_pruned<T>(m: &Matrix<T>, pattern: &Pattern, out: &Path) -> Result<(f64, (usize, usize))>
where
    T: operand::prune::Magnitude + npyz::AutoSerialize,
{
    let pruned = operand::prune(m, pattern)?;
    npy::write_matrix(out, &pruned)?;
    Ok((pruned.density(), (pruned.rows, pruned.cols)))
}

fn devices() -> Result<()> {
    let adapters = gpu::adapters();
    if adapters.is_empty() {
        println!("no adapters (install a Vulkan driver; the software one is mesa-vulkan-drivers)");
    }
    for adapter in adapters {
        let info = adapter.get_info();
        let kind = if gpu::is_software(&info) { "software" } else { "hardware" };
        println!("{} [{kind}]", gpu::describe(&info));
    }
    Ok(())
}

fn run(args: &RunArgs) -> Result<()> {
    let workload = Workload {
        m: args.shape.m,
        k: args.shape.k,
        n: args.shape.n,
        a: parse_pattern(&args.a)?,
        b: parse_pattern(&args.b)?,
        seed: args.seed,
    };
    workload.check()?;
    let arch = match &args.arch {
        Some(path) => Arch::load(path)?,
        None => args.design.arch(),
    };
    let ert = args.energy.load()?;
    if let Some(dir) = &args.save
        && dir.exists()
    {
        bail!("--save {}: already exists; name a new directory", dir.display());
    }
    let gpu = args.backend.open()?;
    let operands = workload.operands()?;
    let (result, z) = run_best_order(
        args.design,
        &arch,
        &ert,
        &workload,
        &operands,
        gpu.as_ref(),
        args.backend.check,
        args.swap,
    )?;
    if let Some(dir) = &args.save {
        save(dir, &operands, &z, &result)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", highlight_emu::report::run_text(&result));
    }
    if let Some(difference) = result.check.as_ref().and_then(|c| c.first_difference.as_ref()) {
        return Err(Mismatch(format!("GPU and CPU differ: {difference}")).into());
    }
    if let Some((m, n, z, d)) = result.z_mismatch {
        return Err(Mismatch(format!("Z[{m}, {n}] = {z} differs from the dense product {d}")).into());
    }
    Ok(())
}

/// Writes the run into a temporary sibling directory, then renames it to `dir`, so that a failed
/// save leaves nothing behind.
fn save(
    dir: &Path,
    operands: &highlight_emu::run::Operands,
    z: &Matrix<i32>,
    result: &highlight_emu::run::RunResult,
) -> Result<()> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let write = || -> Result<()> {
        std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        npy::write_matrix(&tmp.join("a.npy"), &operands.a)?;
        npy::write_matrix(&tmp.join("b.npy"), &operands.b)?;
        npy::write_matrix(&tmp.join("z.npy"), z)?;
        let json = serde_json::to_string_pretty(result)?;
        std::fs::write(tmp.join("result.json"), json + "\n").context("cannot write result.json")?;
        std::fs::rename(&tmp, dir).with_context(|| format!("cannot move the results to {}", dir.display()))
    };
    let outcome = write();
    if outcome.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    outcome.with_context(|| format!("--save {}", dir.display()))
}

fn compare(args: &CompareArgs) -> Result<()> {
    let point = Point {
        m: args.shape.m,
        k: args.shape.k,
        n: args.shape.n,
        seed: args.seed,
        operands: PointOperands::Degrees { a_sparsity: args.a_sparsity, b_sparsity: args.b_sparsity },
        layer: None,
    };
    Workload { m: point.m, k: point.k, n: point.n, a: Pattern::Dense, b: Pattern::Dense, seed: point.seed }
        .check()?;
    let ert = args.energy.load()?;
    let gpu = args.backend.open()?;
    let on_terminal = std::io::stderr().is_terminal();
    let outcomes = highlight_emu::compare::compare(
        &point,
        &DegreeTable::shipped(),
        &ert,
        gpu.as_ref(),
        args.backend.check,
        |design| {
            if on_terminal {
                eprint!("\r\x1b[Kemulating {} ...", design.id());
            }
        },
    )?;
    if on_terminal {
        eprint!("\r\x1b[K");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({ "point": point, "designs": outcomes }))?);
    } else {
        print!("{}", highlight_emu::report::compare_text(&point, &outcomes));
    }
    for o in &outcomes {
        if let Some(r) = &o.result {
            if let Some(d) = r.check.as_ref().and_then(|c| c.first_difference.as_ref()) {
                return Err(Mismatch(format!("{}: GPU and CPU differ: {d}", o.design.id())).into());
            }
            if let Some((m, n, z, d)) = r.z_mismatch {
                return Err(Mismatch(format!(
                    "{}: Z[{m}, {n}] = {z} differs from the dense product {d}",
                    o.design.id()
                ))
                .into());
            }
        }
    }
    Ok(())
}

fn sweep(args: &SweepArgs) -> Result<()> {
    let file = SweepFile::load(&args.file)?;
    let ert = args.energy.load()?;
    let gpu = args.backend.open()?;
    let points = highlight_emu::sweep::points_in(&file, args.shard);
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new((points * Design::ALL.len()) as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs, {elapsed} elapsed, ETA {eta}  {msg}",
        )
        .expect("the progress template is valid"),
    );
    let results = highlight_emu::sweep::run(
        &file,
        args.shard,
        &ert,
        gpu.as_ref(),
        args.backend.check,
        |point, design| {
            bar.set_message(format!("{}: {}", point.label(), design.id()));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    let out = args.out.clone().unwrap_or_else(|| match args.shard {
        Some(_) => highlight_emu::sweep::default_out(&format!("{}-shards", file.name), args.shard),
        None => highlight_emu::sweep::default_out(&file.name, None),
    });
    finish(&results, &out)
}

fn merge(dirs: &[PathBuf], out: Option<&Path>) -> Result<()> {
    let parts = dirs.iter().map(|d| Results::load(&d.join("results.json"))).collect::<Result<Vec<_>, _>>()?;
    let results = Results::merge(parts)?;
    let out = out.map_or_else(|| highlight_emu::sweep::default_out(&results.sweep, None), Path::to_path_buf);
    finish(&results, &out)
}

/// Writes a sweep's outputs, prints the claims summary of a full run, and fails on a mismatch.
fn finish(results: &Results, out: &Path) -> Result<()> {
    highlight_emu::sweep::write_outputs(results, out)?;
    match results.shard {
        Some(s) => {
            println!("shard {}/{}: {} rows in {}", s.index, s.count, results.rows.len(), out.display())
        }
        None => {
            print!("{}", highlight_emu::claims::summary_md(results));
            let mut files: Vec<String> = std::fs::read_dir(out)?
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
            files.sort();
            println!("\nwrote {}: {}", out.display(), files.join(", "));
        }
    }
    for row in &results.rows {
        if let Some(r) = &row.outcome.result {
            if let Some(d) = r.check.as_ref().and_then(|c| c.first_difference.as_ref()) {
                return Err(Mismatch(format!(
                    "{} at {}: GPU and CPU differ: {d}",
                    row.outcome.design.id(),
                    row.point.label()
                ))
                .into());
            }
            if !r.z_equals_dense {
                return Err(Mismatch(format!(
                    "{} at {}: Z differs from the dense product",
                    row.outcome.design.id(),
                    row.point.label()
                ))
                .into());
            }
        }
    }
    Ok(())
}

fn degrees(design: Design, arch: Option<&Path>, as_json: bool) -> Result<()> {
    let arch = match arch {
        Some(path) => Arch::load(path)?,
        None => design.arch(),
    };
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
        println!("{out}");
        return Ok(());
    }
    if support.any {
        println!("{}: any sparsity degree (operands treated as unstructured)", arch.name);
    } else {
        println!("{}: {} sparsity degrees", arch.name, support.degrees.len());
    }
    for (sparsity, patterns) in &support.degrees {
        println!("  {:>6.2} %  {}", 100.0 * sparsity, patterns.join(", "));
    }
    if !support.mux_ranks.is_empty() {
        for r in &support.mux_ranks {
            println!("rank {}: {} muxes of {} inputs", r.rank, r.g, r.h_max);
        }
        println!(
            "mux inputs: {} (sum of G x H_max per rank); a one-rank design of the same flexibility: {} ({:.1}x)",
            support.mux_inputs(),
            support.one_rank_mux_inputs(),
            f64::from(support.one_rank_mux_inputs()) / f64::from(support.mux_inputs())
        );
    }
    Ok(())
}

fn bench(
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
        println!(
            "{:<15} {:>6} {:>8} {:>11} {:>11} {:>14} {:>14} {:>12}",
            "design", "size", "A", "GPU ms", "wall ms", "effectual/s", "dense-eq/s", "cycles/s"
        );
    }
    for &size in sizes {
        for &design in &designs {
            for a_sparsity in [0.0, 0.75] {
                let Some(row) = highlight_emu::bench::measure_checked(
                    design,
                    size,
                    a_sparsity,
                    gpu.as_ref(),
                    repeats,
                    backend.check,
                )?
                else {
                    if !as_json {
                        println!("{:<15} {size:>6} {:>7}% unsupported", design.id(), 100.0 * a_sparsity);
                    }
                    continue;
                };
                if !as_json {
                    let checked = match &row.check {
                        Some(c) if c.cpu_gpu_equal && c.z_equals_dense => "  GPU = CPU",
                        Some(_) => "  mismatch",
                        None => "",
                    };
                    println!(
                        "{:<15} {size:>6} {:>7}% {:>11} {:>11.2} {:>14.3e} {:>14.3e} {:>12.3e}{checked}",
                        design.id(),
                        100.0 * a_sparsity,
                        row.gpu_ms.map_or("-".into(), |t| format!("{t:.3}")),
                        row.wall_ms,
                        row.effectual_macs_per_s,
                        row.dense_equivalent_macs_per_s,
                        row.cycles_per_s
                    );
                }
                rows.push(row);
            }
        }
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let on = gpu.as_ref().map_or("the CPU reference".to_string(), |g| gpu::describe(&g.gpu.info));
        println!("(on {on}; per-second figures use the GPU time where there is one, else the wall time)");
        if backend.check {
            println!(
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
