//! `hss run`, `hss figure6` and `degrees FILE`: HSS accelerator files (docs/DESIGN.md 12).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use highlight_emu::design_space::figure6::{FLEXIBILITY_MAX, Figure6, figure6};
use highlight_emu::hss::{HssArch, Support, support};
use highlight_emu::plot::{BarChart, Scatter};
use highlight_emu::run::Workload;
use highlight_emu::run::hss::{HssPrepared, run_hss};
use serde_json::json;

use super::{Mismatch, StdoutError, emit, parse_pattern};
use crate::{BackendArgs, EnergyArgs};

#[derive(Subcommand)]
pub enum HssCommand {
    /// Emulate one HSS accelerator file (assets/arch/hss/*.toml, or a shipped name: s, ss, sss,
    /// ss-gate, dsso, tc, stc) on one product: Z checked against the dense product, counters per
    /// rank, cycles, energy, latency, EDP.
    Run {
        /// The design file, or a shipped design's name.
        design: String,
        #[arg(long, default_value_t = 256)]
        m: usize,
        #[arg(long, default_value_t = 256)]
        k: usize,
        #[arg(long, default_value_t = 256)]
        n: usize,
        /// A's pattern, e.g. "K1(2:4)->K0(2:3)" (quote it).
        #[arg(long, default_value = "dense")]
        a: String,
        /// B's pattern.
        #[arg(long, default_value = "dense")]
        b: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        energy: EnergyArgs,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Figure 6, measured: each design at every degree it supports and at every degree of the
    /// target list (the sparsest supported pattern A satisfies where it does not support one),
    /// normalised latency against sparsity (6a) and muxing overhead (6b), with CSV and JSON.
    Figure6 {
        /// Design files or shipped names (default: s ss, the paper's pair).
        designs: Vec<String>,
        /// Output folder (default: results/figure6).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 1024)]
        m: usize,
        #[arg(long, default_value_t = 1024)]
        k: usize,
        #[arg(long, default_value_t = 1024)]
        n: usize,
        /// B's pattern.
        #[arg(long, default_value = "dense")]
        b: String,
        /// Target sparsity degrees, comma-separated (default: every degree of every design).
        #[arg(long, value_delimiter = ',')]
        targets: Option<Vec<f64>>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        energy: EnergyArgs,
    },
    /// Pick a design for a network: enumerate HSS designs of up to --max-ranks skipping ranks
    /// (G = 2, H from 2 to each rank's H_max <= --max-h), keep those supporting every --require
    /// degree, rank the --budget cheapest (in mux cells) by whole-network EDP on the workload's
    /// layers at its weight sparsities, and plot EDP against mux cells with the Pareto frontier.
    Explore {
        /// A sweep file with [[layers]] (workloads/resnet50.toml, or model --export-workload's).
        workload: PathBuf,
        /// Weight sparsities, comma-separated (default: the workload's weight_sparsity).
        #[arg(long, value_delimiter = ',')]
        weight_sparsity: Option<Vec<f64>>,
        /// Degrees every design must support, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [0.0, 0.5, 0.75, 0.875])]
        require: Vec<f64>,
        /// Most skipping ranks (1 to 4).
        #[arg(long, default_value_t = 3)]
        max_ranks: usize,
        /// Largest H_max of a rank (2 to 16).
        #[arg(long, default_value_t = 8)]
        max_h: u32,
        /// Designs evaluated at most: the cheapest in mux cells of those that qualify.
        #[arg(long, default_value_t = 200)]
        budget: usize,
        /// The MAC organisation and memory to explore on: a design file or shipped name.
        #[arg(long, default_value = "ss")]
        base: String,
        /// Output folder (default: results/explore-<workload name>).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        energy: EnergyArgs,
    },
}

/// A design file, or a shipped design by name.
pub fn load_design(text: &str) -> Result<HssArch> {
    if let Some(hss) = HssArch::shipped(text) {
        return Ok(hss);
    }
    let path = Path::new(text);
    if !path.exists() {
        let names: Vec<&str> = highlight_emu::hss::spec::SHIPPED.iter().map(|(n, _)| *n).collect();
        bail!("no HSS design {text:?}: give a design file (.toml) or a shipped name: {}", names.join(", "));
    }
    Ok(HssArch::load(path)?)
}

pub fn hss(command: &HssCommand) -> Result<()> {
    match command {
        HssCommand::Run { design, m, k, n, a, b, seed, backend, energy, json } => {
            let hss = load_design(design)?;
            let w = Workload { m: *m, k: *k, n: *n, a: parse_pattern(a)?, b: parse_pattern(b)?, seed: *seed };
            w.check()?;
            let ert = energy.load()?;
            let operands = w.operands()?;
            let prepared = HssPrepared::new(&hss, &w, &operands)?;
            let gpu = backend.open()?;
            let (result, _) = run_hss(&prepared, &w, &operands, gpu.as_ref(), backend.check, &ert)?;
            let verdict = if !result.z_equals_dense {
                Err(Mismatch(format!("{}: Z differs from the dense product", hss.name)).into())
            } else if result.gpu_equals_cpu == Some(false) {
                Err(Mismatch(format!(
                    "{}: the GPU's Z or counters differ from the CPU reference's",
                    hss.name
                ))
                .into())
            } else {
                Ok(())
            };
            let text = if *json {
                format!("{}\n", serde_json::to_string(&result)?)
            } else {
                let mut t = format!(
                    "{} on {} x {} x {}, A = {}, B = {} ({})\nruns as {}\nZ equals the dense product: {}\n",
                    result.design,
                    result.m,
                    result.k,
                    result.n,
                    result.a,
                    result.b,
                    result.backend,
                    result.runs_as,
                    if result.z_equals_dense { "yes" } else { "NO" }
                );
                if let Some(same) = result.gpu_equals_cpu {
                    t += &format!("GPU equals the CPU reference: {}\n", if same { "yes" } else { "NO" });
                }
                t += &format!("cycles {}\n", result.cycles);
                for r in &result.ranks {
                    t += &format!(
                        "rank {} ({}, H_max {}): {} selects, {} coordinate bits, {} MACs gated here\n",
                        r.rank, r.runs, r.h_max, r.mux, r.meta_bits, r.gated
                    );
                }
                t += &format!(
                    "MACs {} performed, {} gated\nenergy {:.4e} pJ, latency {:.4e} s, EDP {:.4e} J s\n",
                    result.counters.mac,
                    result.counters.mac_gated,
                    result.energy_pj,
                    result.latency_s,
                    result.edp
                );
                t += "(traffic: the emulator's GLB reads and each operand moved from DRAM once; docs/DESIGN.md 12)\n";
                t
            };
            emit(&text, verdict)
        }
        HssCommand::Explore {
            workload,
            weight_sparsity,
            require,
            max_ranks,
            max_h,
            budget,
            base,
            out,
            backend,
            energy,
        } => super::explore::explore(
            workload,
            weight_sparsity.as_deref(),
            require,
            (*max_ranks, *max_h, *budget),
            base,
            out.as_deref(),
            backend,
            energy,
        ),
        HssCommand::Figure6 { designs, out, m, k, n, b, targets, seed, backend, energy } => {
            let names: Vec<String> =
                if designs.is_empty() { vec!["s".into(), "ss".into()] } else { designs.clone() };
            let designs: Vec<HssArch> = names.iter().map(|d| load_design(d)).collect::<Result<_>>()?;
            if let Some(t) = targets.as_deref()
                && let Some(bad) = t.iter().find(|s| !(0.0..1.0).contains(*s))
            {
                bail!("--targets {bad}: a sparsity degree is a number in [0, 1), e.g. 0.5,0.75");
            }
            if *m == 0 || *k == 0 || *n == 0 {
                bail!("M, K and N must be at least 1 (got M = {m}, K = {k}, N = {n})");
            }
            let out = out.clone().unwrap_or_else(|| PathBuf::from("results/figure6"));
            highlight_emu::output::check_output_dir(&out)?;
            let ert = energy.load()?;
            let b = parse_pattern(b)?;
            let gpu = backend.open()?;
            let bar = if std::io::stderr().is_terminal() {
                indicatif::ProgressBar::new_spinner()
            } else {
                indicatif::ProgressBar::hidden()
            };
            let fig = figure6(
                &designs,
                (*m, *k, *n),
                &b,
                *seed,
                targets.as_deref(),
                gpu.as_ref(),
                backend.check,
                &ert,
                |msg| {
                    bar.set_message(msg.to_string());
                    bar.tick();
                },
            )?;
            bar.finish_and_clear();
            highlight_emu::output::write_dir(&out, highlight_emu::output::Replace::Earlier, |tmp| {
                write_figure6(&fig, tmp).map_err(|e| e.to_string())
            })?;
            let mut text = summary(&fig);
            text += &format!(
                "wrote {}/ (figure6a.png, figure6b.png, figure6.csv, figure6.json, summary.md)\n",
                out.display()
            );
            emit(&text, Ok(()))
        }
    }
}

/// The figure's files: CSV of the points, JSON of everything, the two plots, the summary.
fn write_figure6(fig: &Figure6, dir: &Path) -> Result<()> {
    let mut csv = String::from(
        "design,target_sparsity,target_pattern,supported,ran,ran_sparsity,cycles,normalized_latency\n",
    );
    for p in &fig.points {
        csv += &format!(
            "{},{},{},{},{},{},{},{}\n",
            p.design,
            p.target_sparsity,
            p.target_pattern,
            p.supported,
            p.ran,
            p.ran_sparsity,
            p.cycles,
            p.normalized_latency
        );
    }
    std::fs::write(dir.join("figure6.csv"), csv).context("figure6.csv")?;
    std::fs::write(dir.join("figure6.json"), serde_json::to_string_pretty(fig)?).context("figure6.json")?;
    std::fs::write(dir.join("summary.md"), summary(fig)).context("summary.md")?;
    let caption = format!(
        "{} x {} x {}, B = {}, {} backend; latency over each design's own with dense A\nfilled, joined: degrees the design supports; hollow: other targets, run as the sparsest supported pattern A satisfies",
        fig.m, fig.k, fig.n, fig.b, fig.backend
    );
    let series = fig
        .designs
        .iter()
        .map(|d| {
            let pts = fig
                .points
                .iter()
                .filter(|p| p.design == d.design)
                .map(|p| (100.0 * p.target_sparsity, p.normalized_latency, p.supported))
                .collect();
            (d.design.clone(), pts)
        })
        .collect();
    Scatter {
        title: "Figure 6(a): normalised processing latency".into(),
        caption,
        x_label: "sparsity degree of A (%)".into(),
        y_label: "latency / dense latency".into(),
        series,
        lines: true,
    }
    .write(&dir.join("figure6a"))
    .map_err(anyhow::Error::msg)?;
    BarChart {
        title: "Figure 6(b): normalised muxing overhead".into(),
        caption: format!(
            "two-input mux cells of every rank's G x H_max-to-1 muxes, over {}'s (paper 5.2, figure 7)",
            fig.designs.first().map_or("", |d| d.design.as_str())
        ),
        y_label: "mux cells / first design's".into(),
        groups: vec!["muxing overhead".into()],
        series: fig
            .designs
            .iter()
            .map(|d| (d.design.clone(), vec![Some(d.normalized_mux_overhead)]))
            .collect(),
    }
    .write(&dir.join("figure6b"))
    .map_err(anyhow::Error::msg)
}

/// The figure as a table, with the paper's claims and whether they hold.
fn summary(fig: &Figure6) -> String {
    let mut t = format!(
        "# Figure 6, measured\n\n{} x {} x {}, B = {}, {} backend.\n\n| design | degrees | in 0-87.5 % | mux cells | normalised |\n|---|---|---|---|---|\n",
        fig.m, fig.k, fig.n, fig.b, fig.backend
    );
    for d in &fig.designs {
        t += &format!(
            "| {} | {} | {} | {} | {:.3} |\n",
            d.design, d.degrees, d.degrees_in_range, d.mux_cells, d.normalized_mux_overhead
        );
    }
    t += "\n| design | target | ran | normalised latency |\n|---|---|---|---|\n";
    for p in &fig.points {
        t += &format!(
            "| {} | {:.1} % {} | {} ({:.1} %) | {:.4} |\n",
            p.design,
            100.0 * p.target_sparsity,
            p.target_pattern,
            p.ran,
            100.0 * p.ran_sparsity,
            p.normalized_latency
        );
    }
    if !fig.claims.is_empty() {
        t += "\n| paper (section 5.3) | holds | measured |\n|---|---|---|\n";
        for c in &fig.claims {
            t += &format!("| {} | {} | {} |\n", c.claim, if c.holds { "yes" } else { "NO" }, c.measured);
        }
    }
    t
}

/// `degrees FILE`: an HSS design's degree table and mux cost.
pub fn degrees_of_file(text: &str, as_json: bool) -> Result<()> {
    let hss = load_design(text)?;
    let s: Support = support(&hss);
    if as_json {
        let out = json!({
            "design": s.design,
            "a_degrees": s.a_degrees,
            "b_degrees": s.b_degrees,
            "gate_ranks": s.gate_ranks,
            "mux_ranks": s.ranks,
            "skip_select_muxes": s.skip_select_muxes,
            "mux_cells": s.cells(),
            "mux_inputs_per_cycle": s.inputs_per_cycle(),
        });
        writeln!(std::io::stdout().lock(), "{out}").map_err(StdoutError)?;
        return Ok(());
    }
    let in_range = s.a_degrees.iter().filter(|d| d.sparsity <= FLEXIBILITY_MAX + 1e-9).count();
    let mut t =
        format!("{}: {} sparsity degrees of A ({in_range} from 0 to 87.5 %)\n", s.design, s.a_degrees.len());
    for d in &s.a_degrees {
        t += &format!("  {:>6.2} %  {}\n", 100.0 * d.sparsity, d.patterns.join(", "));
    }
    if !s.b_degrees.is_empty() {
        t += &format!("{} sparsity degrees of B where B drives the top rank\n", s.b_degrees.len());
        for d in &s.b_degrees {
            t += &format!("  {:>6.2} %  {}\n", 100.0 * d.sparsity, d.patterns.join(", "));
        }
    }
    for (rank, hs) in &s.gate_ranks {
        t += &format!("rank {rank} gates (energy only) fibers of H in {hs:?}\n");
    }
    for r in &s.ranks {
        t += &format!(
            "rank {} ({} level): {} muxes of {} inputs ({} two-input cells each; G = {})\n",
            r.rank,
            match r.level {
                highlight_emu::hss::spec::Level::Array => "PE-array",
                highlight_emu::hss::spec::Level::Pe => "PE",
            },
            r.muxes,
            r.h_max,
            r.h_max - 1,
            r.g
        );
    }
    if s.skip_select_muxes > 0 {
        t += &format!("skip select: {} 2:1 muxes (one per PE)\n", s.skip_select_muxes);
    }
    t += &format!(
        "mux cells: {} two-input cells; {} mux inputs switched per cycle at full occupancy (x mux_input pJ)\n",
        s.cells(),
        s.inputs_per_cycle()
    );
    emit(&t, Ok(()))
}
