//! The `highlight-emu` command line: one small function per subcommand.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use std::io::{ErrorKind, Write};

use highlight_emu::api;
use highlight_emu::design::Design;
use highlight_emu::operand::OperandRole;
use highlight_emu::search::Objective;
use highlight_emu::sweep::Shard;

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
    /// Run an ONNX model once, capture every Conv, Gemm and MatMul with its real weights and
    /// activation, and emulate each layer on every design at each weight sparsity: layers.csv,
    /// results.csv/json, the summary and figures in results/<model>/.
    Model(ModelArgs),
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
    /// one-rank design of the same flexibility (figure 6b); or, given an HSS accelerator file
    /// (or a shipped name: s, ss, sss, ss-gate, dsso, tc, stc), its degree table and mux cost by
    /// structure.
    Degrees {
        /// An HSS accelerator file (assets/arch/hss/*.toml) or a shipped HSS design's name.
        #[arg(required_unless_present = "design", conflicts_with_all = ["design", "arch"])]
        file: Option<String>,
        #[arg(long, value_enum)]
        design: Option<Design>,
        /// Architecture file instead of assets/arch/<design>.toml.
        #[arg(long)]
        arch: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The HSS design space (paper section 5): run any N-rank HSS accelerator from a file, and
    /// measure figure 6.
    Hss {
        #[command(subcommand)]
        command: commands::hss::HssCommand,
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
    /// Run Sparseloop's reference points (validation/sparseloop: the MICRO'22 artifact's fig15
    /// points) with their mappings and energy tables, and compare cycles, energy per component and
    /// DRAM and GLB counts; exit 1 when a figure is outside its tolerance.
    Validate {
        /// The folder of reference points.
        #[arg(long, default_value = "validation/sparseloop")]
        dir: PathBuf,
        #[command(flatten)]
        backend: BackendArgs,
        /// Print one JSON list of the points' comparisons.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct SweepArgs {
    /// Sweep file.
    #[arg(default_value = "workloads/fig13.toml")]
    file: PathBuf,
    /// Output folder (default: results/<name>/, or results/<name>-shards/shard-I-of-N/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Figure 15: a CSV of accuracy losses (design, weight_sparsity or pattern, accuracy_loss)
    /// to plot each design's whole-network EDP against, with the Pareto frontier (DNN layers).
    #[arg(long)]
    accuracy: Option<PathBuf>,
    /// Run only shard I of N (the points whose index is I modulo N), e.g. 0/4.
    #[arg(long)]
    shard: Option<Shard>,
    /// What each design's mapping and operand formats are chosen to minimise, the same for every
    /// design: edp (energy x delay), energy, or delay (cycles).
    #[arg(long, value_enum, default_value = "edp")]
    objective: Objective,
    #[command(flatten)]
    backend: BackendArgs,
    #[command(flatten)]
    energy: EnergyArgs,
}

#[derive(clap::Args)]
struct ModelArgs {
    /// The ONNX model (e.g. from torch.onnx.export).
    model: PathBuf,
    /// An input tensor as a .npy of the input's shape (float16/32/64, or int8 to int64 for token
    /// ids and masks): `x.npy`, or `NAME=x.npy` for one of several inputs; repeatable. Inputs
    /// not given are seeded (floats in [-1, 1), token ids within the vocabulary).
    #[arg(long, value_name = "[NAME=]FILE")]
    input: Vec<String>,
    /// The shape of a seeded input, `1x3x224x224` or `NAME=1x128`; repeatable. Needed where the
    /// model declares a symbolic axis (other than the batch, which defaults to 1) that no given
    /// input fixes.
    #[arg(long, value_name = "[NAME=]D1xD2x...")]
    input_shape: Vec<String>,
    /// An image (PNG or JPEG) as the input (`NAME=x.png` for one of several): resized to
    /// --size, normalised by --mean and --std.
    #[arg(long, value_name = "[NAME=]FILE")]
    image: Option<String>,
    /// The image's size as HxW, e.g. 224x224 (default: the model's input height and width).
    #[arg(long, requires = "image")]
    size: Option<String>,
    /// Per-channel mean (R,G,B) subtracted from the image's values in [0, 1]: `0.5,0.5,0.5` or
    /// `0.5 0.5 0.5`.
    #[arg(long, value_delimiter = ',', num_args = 1..=3, default_values_t = [0.485f32, 0.456, 0.406])]
    mean: Vec<f32>,
    /// Per-channel standard deviation (R,G,B) the image's values are divided by, as --mean.
    #[arg(long, value_delimiter = ',', num_args = 1..=3, default_values_t = [0.229f32, 0.224, 0.225])]
    std: Vec<f32>,
    /// Seed of the synthetic input.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also emulate activation x activation products (attention's Q K^T and P V): A is the
    /// right operand as measured, never pruned (default: listed in layers.csv with their
    /// shapes, not emulated).
    #[arg(long)]
    activations: bool,
    /// Weight sparsities, comma-separated; each design prunes to its own pattern at each.
    #[arg(long, value_delimiter = ',', default_values_t = [0.0, 0.5, 0.75])]
    weight_sparsity: Vec<f64>,
    /// Designs, comma-separated (default: all; TC always runs, as the baseline).
    #[arg(long, value_enum, value_delimiter = ',')]
    designs: Vec<Design>,
    /// Output folder (default: results/<model file stem>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write the captured shapes and measured densities as a sweep file.
    #[arg(long)]
    export_workload: Option<PathBuf>,
    /// Figure 15: a CSV of accuracy losses (design, weight_sparsity or pattern, accuracy_loss)
    /// to plot each design's whole-network EDP against, with the Pareto frontier.
    #[arg(long)]
    accuracy: Option<PathBuf>,
    /// Run only shard I of N of the points (layers x weight sparsities), e.g. 0/4; `merge`
    /// joins the shards.
    #[arg(long)]
    shard: Option<Shard>,
    /// Capture only: write layers.csv (and --export-workload), emulate nothing.
    #[arg(long)]
    capture_only: bool,
    /// What each design's mapping and operand formats are chosen to minimise, the same for every
    /// design: edp (energy x delay), energy, or delay (cycles).
    #[arg(long, value_enum, default_value = "edp")]
    objective: Objective,
    #[command(flatten)]
    backend: BackendArgs,
    #[command(flatten)]
    energy: EnergyArgs,
}

#[derive(clap::Args)]
struct CompareArgs {
    #[command(flatten)]
    shape: ShapeArgs,
    /// Operand A from a .npy file (int8 or float32), with --b-file: every design runs the sparsest
    /// of its patterns the data has, instead of the degree table's operands.
    #[arg(long, requires = "b_file")]
    a_file: Option<PathBuf>,
    /// Operand B from a .npy file (int8 or float32), with --a-file.
    #[arg(long, requires = "a_file")]
    b_file: Option<PathBuf>,
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
    search: SearchArgs,
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
    /// Pattern of A along K, e.g. "C1(2:4)->C0(2:4)" (default dense). With --a-file, the file
    /// must have it; without, the sparsest of the design's patterns the file has is run.
    #[arg(long)]
    a: Option<String>,
    /// Pattern of B along K, e.g. "dense" or "unstructured(0.5)" (default dense). With --b-file,
    /// the file must have it.
    #[arg(long)]
    b: Option<String>,
    /// Operand A from a .npy file (int8, or float32 quantised to int8), M x K.
    #[arg(long)]
    a_file: Option<PathBuf>,
    /// Operand B from a .npy file (int8, or float32 quantised to int8), K x N.
    #[arg(long)]
    b_file: Option<PathBuf>,
    /// Seed of the synthetic operands.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    search: SearchArgs,
    #[command(flatten)]
    backend: BackendArgs,
    /// Also try Z^T = B^T x A^T and keep the order better under --objective.
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
    /// Timeloop mapping YAML (Sparseloop's map.yaml form) for the DRAM and GLB traffic, instead
    /// of the search's best tiling under --objective; the report prints the mapping used.
    #[arg(long)]
    mapping: Option<PathBuf>,
    #[command(flatten)]
    energy: EnergyArgs,
}

fn main() -> ExitCode {
    env_logger::init();
    let cli = Cli::parse();
    let uses_gpu = matches!(
        cli.command,
        Command::Run(_)
            | Command::Compare(_)
            | Command::Sweep(_)
            | Command::Bench { .. }
            | Command::Devices
            | Command::Validate { .. }
            | Command::Model(_)
            | Command::Hss { .. }
    );
    // Kept until exit: the runtime folder Mesa probes for, when the session has none.
    let _runtime_dir = uses_gpu.then(private_runtime_dir).flatten();
    highlight_emu::output::clean_up_on_interrupt();
    let result = match cli.command {
        Command::Spec { pattern, json } => commands::spec(&pattern, json),
        Command::Gen { operand, rows, cols, pattern, seed, out } => {
            commands::gen_operand(operand, rows, cols, &pattern, seed, &out)
        }
        Command::Prune { pattern, input, out } => commands::prune(&pattern, &input, &out),
        Command::Run(args) => commands::run(&args),
        Command::Compare(args) => commands::compare(&args),
        Command::Sweep(args) => commands::sweep(&args),
        Command::Merge { dirs, out } => commands::merge(&dirs, out.as_deref()),
        Command::Model(args) => commands::model(&args),
        Command::Degrees { file: Some(file), json, .. } => commands::hss::degrees_of_file(&file, json),
        Command::Degrees { design, arch, json, .. } => match design {
            Some(design) => commands::degrees(design, arch.as_deref(), json),
            None => Err(anyhow::anyhow!("degrees needs --design NAME or an HSS design file")),
        },
        Command::Hss { command } => commands::hss::hss(&command),
        Command::Bench { sizes, designs, repeats, backend, json } => {
            commands::bench(&sizes, &designs, usize::from(repeats), &backend, json)
        }
        Command::Devices => commands::devices(),
        Command::Validate { dir, backend, json } => commands::validate(&dir, &backend, json),
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
            let _ = writeln!(std::io::stderr(), "error: {}", api::one_line(&err));
            if err.downcast_ref::<OutOfTolerance>().is_some() {
                ExitCode::from(1)
            } else if api::is_mismatch(&err) {
                ExitCode::from(3)
            } else {
                ExitCode::from(2)
            }
        }
    }
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
    highlight_emu::output::remove_on_interrupt(dir.path());
    Some(dir)
}

mod args;
mod commands;

use args::{BackendArgs, EnergyArgs, SearchArgs, ShapeArgs};
use commands::{OutOfTolerance, StdoutError};
