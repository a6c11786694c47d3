//! The `highlight-emu` command line: one small function per subcommand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::io::{ErrorKind, IsTerminal, Write};

use highlight_emu::compare::{Point, PointOperands};
use highlight_emu::degrees::DegreeTable;
use highlight_emu::design::{Arch, Design};
use highlight_emu::energy::Ert;
use highlight_emu::gpu;
use highlight_emu::matrix::Matrix;
use highlight_emu::operand::npy::{self, NpyMatrix};
use highlight_emu::operand::{self, OperandRole};
use highlight_emu::output::Replace;
use highlight_emu::pattern::{Pattern, readable};
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
        /// Timed runs per point, after one warm-up run (1 to 10000).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=10000))]
        repeats: u16,
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
        // An empty name (`HIGHLIGHT_ADAPTER=""`) means none.
        let adapter = self.adapter.as_deref().filter(|a| !a.trim().is_empty());
        let (gpu, fallback) = open_backend(self.backend, adapter, self.check)?;
        if let Some(reason) = fallback {
            let _ = writeln!(std::io::stderr(), "note: using the CPU reference: {reason}");
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
    let uses_gpu = matches!(
        cli.command,
        Command::Run(_) | Command::Compare(_) | Command::Sweep(_) | Command::Bench { .. } | Command::Devices
    );
    // Kept until exit: the runtime folder Mesa probes for, when the session has none.
    let _runtime_dir = uses_gpu.then(private_runtime_dir).flatten();
    highlight_emu::output::clean_up_on_interrupt();
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
            bench(&sizes, &designs, usize::from(repeats), &backend, json)
        }
        Command::Devices => devices(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped reading (`| head`) is not an error of ours.
        Err(err)
            if err.downcast_ref::<StdoutError>().is_some_and(|e| e.0.kind() == ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: {}", one_line(&err));
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

/// The error and its causes on one line, each cause once: an OS error that a message already
/// quotes is not repeated.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

/// Mesa warns on stderr at every adapter probe when `XDG_RUNTIME_DIR` is unset; a private,
/// temporary one keeps that out of the user's output.
fn private_runtime_dir() -> Option<tempfile::TempDir> {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| !d.is_empty()) {
        return None;
    }
    let dir = tempfile::Builder::new().prefix("highlight-emu-runtime-").tempdir().ok()?;
    // SAFETY: called at the start of main, before any other thread exists.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir.path()) };
    Some(dir)
}

/// A result that disagrees with its reference: exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Mismatch(String);

/// Standard output could not be written (closed or full).
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output: {0}")]
struct StdoutError(std::io::Error);

/// `println!` that returns an error instead of panicking when stdout is closed or full.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(StdoutError)?
    };
}

/// Prints a command's report, then returns its verdict: a mismatch found before printing is
/// still reported by the exit code when stdout is closed.
fn emit(text: &str, verdict: Result<()>) -> Result<()> {
    let printed = write!(std::io::stdout().lock(), "{text}").and_then(|()| std::io::stdout().flush());
    verdict?;
    printed.map_err(|e| StdoutError(e).into())
}

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
        outln!("{out}");
        return Ok(());
    }
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

/// Bytes of `copies` int8 copies of `rows` fibers of `k` padded to the pattern's blocks.
fn padded_bytes(rows: usize, k: usize, pattern: &Pattern, copies: u64) -> Option<u64> {
    let block = pattern.block_shape() as u64;
    let k_pad = (k as u64).div_ceil(block).checked_mul(block)?;
    (rows as u64).checked_mul(k_pad)?.checked_mul(copies)
}

fn gen_operand(role: OperandRole, rows: usize, cols: usize, text: &str, seed: u64, out: &Path) -> Result<()> {
    check_shape(rows, cols)?;
    let pattern = parse_pattern(text)?;
    highlight_emu::output::check_file_target(out)?;
    let (fibers, k) = match role {
        OperandRole::A => (rows, cols),
        OperandRole::B => (cols, rows),
    };
    let what = || format!("gen {rows} x {cols} with K padded to {}'s blocks", pattern);
    highlight_emu::memory::check(what, padded_bytes(fibers, k, &pattern, 3))?;
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

fn prune(text: &str, input: &Path, out: &Path) -> Result<()> {
    let pattern = parse_pattern(text)?;
    highlight_emu::output::check_file_target(out)?;
    let (density, shape) = match npy::read_matrix(input)? {
        NpyMatrix::I8(m) => write_pruned(&m, &pattern, out)?,
        NpyMatrix::F32(m) => write_pruned(&m, &pattern, out)?,
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

fn write_pruned<T>(m: &Matrix<T>, pattern: &Pattern, out: &Path) -> Result<(f64, (usize, usize))>
where
    T: operand::prune::Magnitude + npyz::AutoSerialize,
{
    // The input, the kept flags and the output, plus one padded row of f64 magnitudes.
    let what = || format!("prune of a {} x {} array to {pattern}", m.rows, m.cols);
    let item = std::mem::size_of::<T>() as u64;
    let need = (m.data.len() as u64)
        .checked_mul(2 * item + 1)
        .and_then(|b| b.checked_add(padded_bytes(1, m.cols, pattern, 8)?));
    highlight_emu::memory::check(what, need)?;
    let pruned = operand::prune(m, pattern)?;
    npy::write_matrix(out, &pruned)?;
    Ok((pruned.density(), (pruned.rows, pruned.cols)))
}

fn devices() -> Result<()> {
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

fn run(args: &RunArgs) -> Result<()> {
    let workload = Workload {
        m: args.shape.m,
        k: args.shape.k,
        n: args.shape.n,
        a: parse_pattern(&args.a)?,
        b: parse_pattern(&args.b)?,
        seed: args.seed,
    };
    workload.check_with_swap(args.swap)?;
    let arch = match &args.arch {
        Some(path) => Arch::load(path)?,
        None => args.design.arch(),
    };
    let ert = args.energy.load()?;
    if let Some(dir) = &args.save {
        highlight_emu::output::check_output_dir(dir).with_context(|| format!("--save {}", dir.display()))?;
        if dir.exists() {
            bail!("--save {}: already exists; name a new folder", dir.display());
        }
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
    let text = if args.json {
        serde_json::to_string_pretty(&result)? + "\n"
    } else {
        highlight_emu::report::run_text(&result)
    };
    emit(&text, run_verdict(&result, ""))
}

/// Exit 3 when the GPU and the CPU reference differ, or Z differs from the dense product.
fn run_verdict(result: &highlight_emu::run::RunResult, context: &str) -> Result<()> {
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

fn compare(args: &CompareArgs) -> Result<()> {
    let point = Point {
        m: args.shape.m,
        k: args.shape.k,
        n: args.shape.n,
        seed: args.seed,
        operands: PointOperands::Degrees { a_sparsity: args.a_sparsity, b_sparsity: args.b_sparsity },
        layer: None,
    };
    let table = DegreeTable::shipped();
    highlight_emu::compare::check_point(&point, &table)?;
    let ert = args.energy.load()?;
    let gpu = args.backend.open()?;
    let on_terminal = std::io::stderr().is_terminal();
    let status = |text: &str| {
        if on_terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[K{text}");
        }
    };
    let outcomes =
        highlight_emu::compare::compare(&point, &table, &ert, gpu.as_ref(), args.backend.check, |design| {
            status(&format!("emulating {} ...", design.id()))
        })?;
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

fn sweep(args: &SweepArgs) -> Result<()> {
    let file = SweepFile::load(&args.file)?;
    let ert = args.energy.load()?;
    let points = file.points().len();
    if let Some(shard) = args.shard
        && shard.count > points
    {
        bail!(
            "--shard {}/{}: the sweep has {points} points, so at most {points} shards",
            shard.index,
            shard.count
        );
    }
    let out = args.out.clone().unwrap_or_else(|| match args.shard {
        Some(_) => highlight_emu::sweep::default_out(&format!("{}-shards", file.name), args.shard),
        None => highlight_emu::sweep::default_out(&file.name, None),
    });
    highlight_emu::output::check_output_dir(&out)?;
    let gpu = args.backend.open()?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(
            (highlight_emu::sweep::points_in(&file, args.shard) * Design::ALL.len()) as u64,
        )
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
    finish(&results, &out)
}

fn merge(dirs: &[PathBuf], out: Option<&Path>) -> Result<()> {
    let parts = dirs.iter().map(|d| Results::load(&d.join("results.json"))).collect::<Result<Vec<_>, _>>()?;
    let results = Results::merge(parts)?;
    let out = out.map_or_else(|| highlight_emu::sweep::default_out(&results.sweep, None), Path::to_path_buf);
    highlight_emu::output::check_output_dir(&out)?;
    // The output replaces its folder: it may not be, or hold, one of the shards it reads.
    if let Ok(out_canonical) = out.canonicalize() {
        for dir in dirs {
            if dir.canonicalize().is_ok_and(|d| d.starts_with(&out_canonical)) {
                bail!(
                    "--out {} is or holds the shard {}: merging would replace its input; name another folder",
                    out.display(),
                    dir.display()
                );
            }
        }
    }
    finish(&results, &out)
}

/// Writes a sweep's outputs, prints the claims summary of a full run, and fails on a mismatch.
fn finish(results: &Results, out: &Path) -> Result<()> {
    highlight_emu::sweep::write_outputs(results, out)?;
    let text = match results.shard {
        Some(s) => {
            format!("shard {}/{}: {} rows in {}\n", s.index, s.count, results.rows.len(), out.display())
        }
        None => {
            let mut files: Vec<String> = std::fs::read_dir(out)?
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .filter(|f| f != highlight_emu::output::MARKER)
                .collect();
            files.sort();
            format!(
                "{}\nwrote {}: {}\n",
                highlight_emu::claims::summary_md(results),
                out.display(),
                files.join(", ")
            )
        }
    };
    let verdict = results
        .rows
        .iter()
        .filter_map(|row| {
            let context = format!("{} at {}: ", row.outcome.design.id(), row.point.label());
            row.outcome.result.as_ref().map(|r| run_verdict(r, &context))
        })
        .collect::<Result<Vec<()>>>();
    emit(&text, verdict.map(|_| ()))
}

fn degrees(design: Design, arch: Option<&Path>, as_json: bool) -> Result<()> {
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
        outln!(
            "{:<15} {:>6} {:>8} {:>11} {:>11} {:>14} {:>14} {:>12}",
            "design",
            "size",
            "A",
            "GPU ms",
            "wall ms",
            "effectual/s",
            "dense-eq/s",
            "cycles/s"
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
                        outln!("{:<15} {size:>6} {:>7}% unsupported", design.id(), 100.0 * a_sparsity);
                    }
                    continue;
                };
                if !as_json {
                    let checked = match &row.check {
                        Some(c) if c.cpu_gpu_equal && c.z_equals_dense => "  GPU = CPU",
                        Some(_) => "  mismatch",
                        None => "",
                    };
                    outln!(
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
        outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let on = gpu.as_ref().map_or("the CPU reference".to_string(), |g| gpu::describe(&g.gpu.info));
        outln!("(on {on}; per-second figures use the GPU time where there is one, else the wall time)");
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
