//! `hss explore`: picking an HSS design for a network (docs/DESIGN.md 12).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use highlight_emu::design_space::explore::{Bounds, Exploration, explore as explore_designs};
use highlight_emu::plot::Scatter;

use super::emit;
use super::hss::load_design;
use crate::{BackendArgs, EnergyArgs};

/// Designs an exploration may enumerate.
const MAX_ENUMERATED: u64 = 5000;

/// `hss explore`: checks the bounds, runs the search, writes its files.
#[allow(clippy::too_many_arguments)]
pub fn explore(
    workload: &Path,
    weight_sparsity: Option<&[f64]>,
    require: &[f64],
    (max_ranks, max_h, budget): (usize, u32, usize),
    base: &str,
    out: Option<&Path>,
    backend: &BackendArgs,
    energy: &EnergyArgs,
) -> Result<()> {
    if !(1..=highlight_emu::hss::spec::MAX_RANKS).contains(&max_ranks) {
        bail!("--max-ranks {max_ranks}: accepted 1 to {}", highlight_emu::hss::spec::MAX_RANKS);
    }
    if !(2..=highlight_emu::hss::spec::MAX_H).contains(&max_h) {
        bail!("--max-h {max_h}: accepted 2 to {}", highlight_emu::hss::spec::MAX_H);
    }
    // Each design's degree table is the product of its ranks' choices: keep the enumeration
    // (and so that work) bounded.
    let designs: u64 = (1..=max_ranks as u32).map(|n| u64::from(max_h - 1).pow(n)).sum();
    if designs > MAX_ENUMERATED {
        bail!(
            "--max-ranks {max_ranks} --max-h {max_h} would enumerate {designs} designs; at most {MAX_ENUMERATED}: lower --max-h or --max-ranks"
        );
    }
    if budget == 0 {
        bail!("--budget 0: evaluate at least one design");
    }
    let file = highlight_emu::sweep::SweepFile::load(workload)?;
    if file.layers.is_empty() {
        bail!("{}: no [[layers]]; explore ranks designs on a network's layers", workload.display());
    }
    let sparsities = weight_sparsity.map(<[f64]>::to_vec).unwrap_or_else(|| file.weight_sparsity.clone());
    if sparsities.is_empty() {
        bail!("no weight sparsities: give --weight-sparsity or weight_sparsity in {}", workload.display());
    }
    for (flag, list) in [("--weight-sparsity", &sparsities), ("--require", &require.to_vec())] {
        if let Some(bad) = list.iter().find(|s| !(0.0..1.0).contains(*s)) {
            bail!("{flag} {bad}: a sparsity degree is a number in [0, 1), e.g. 0.5,0.75");
        }
    }
    let base_name = base;
    let base = load_design(base)?;
    if base.macs_per_pe != 2 {
        bail!(
            "--base {base_name}: explore's designs take Rank0 with g = 2 in the PE, so the base needs macs_per_pe = 2 (it has {})",
            base.macs_per_pe
        );
    }
    let out =
        out.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(format!("results/explore-{}", file.name)));
    highlight_emu::output::check_output_dir(&out)?;
    let ert = energy.load()?;
    let gpu = backend.open()?;
    let bounds = Bounds { max_ranks, max_h, budget, required: require.to_vec(), weight_sparsity: sparsities };
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(file.layers.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let found = explore_designs(
        &base,
        &file.layers,
        bounds,
        file.seed,
        gpu.as_ref(),
        backend.check,
        &ert,
        |i, _, name| {
            bar.set_position(i as u64);
            bar.set_message(name.to_string());
        },
    )?;
    bar.finish_and_clear();
    if found.scores.is_empty() {
        bail!(
            "no design of up to {max_ranks} ranks with H_max <= {max_h} supports every required degree ({}); raise --max-ranks or --max-h, or require fewer",
            require.iter().map(|r| format!("{:.1} %", 100.0 * r)).collect::<Vec<_>>().join(", ")
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    highlight_emu::output::write_dir(&out, highlight_emu::output::Replace::Earlier, |tmp| {
        write_exploration(&found, &file.name, seconds, tmp).map_err(|e| e.to_string())
    })?;
    let mut text = explore_summary(&found, &file.name, seconds);
    text +=
        &format!("wrote {}/ (explore.csv, explore.json, pareto.png, best.toml, summary.md)\n", out.display());
    emit(&text, Ok(()))
}

fn write_exploration(found: &Exploration, workload: &str, seconds: f64, dir: &Path) -> Result<()> {
    let mut csv = String::from("rank,design,ranks,degrees,mux_cells,edp_geomean,pareto");
    for a in &found.scores[0].at {
        csv += &format!(",edp_at_{}", a.sparsity);
    }
    csv += "\n";
    for (i, s) in found.scores.iter().enumerate() {
        csv += &format!(
            "{},{},{},{},{},{},{}",
            i + 1,
            s.design,
            s.ranks,
            s.degrees,
            s.mux_cells,
            s.edp_geomean,
            s.pareto
        );
        for a in &s.at {
            csv += &format!(",{}", a.edp);
        }
        csv += "\n";
    }
    std::fs::write(dir.join("explore.csv"), csv).context("explore.csv")?;
    std::fs::write(dir.join("explore.json"), serde_json::to_string_pretty(found)?).context("explore.json")?;
    std::fs::write(dir.join("summary.md"), explore_summary(found, workload, seconds))
        .context("summary.md")?;
    let best = &found.scores[0].arch;
    std::fs::write(
        dir.join("best.toml"),
        format!(
            "# The best design hss explore found for {workload}: run it with `hss run best.toml`.\n{}",
            toml::to_string(best)?
        ),
    )
    .context("best.toml")?;
    let best_edp = found.scores[0].edp_geomean;
    Scatter {
        title: format!("HSS designs for {workload}: whole-network EDP against mux cells"),
        caption: format!(
            "{} designs (G = 2 per rank, <= {} ranks, H_max <= {}); EDP: geometric mean over weight sparsities, over the best's\nfilled and joined: the Pareto frontier",
            found.evaluated, found.bounds.max_ranks, found.bounds.max_h
        ),
        x_label: "two-input mux cells (thousands)".into(),
        y_label: "EDP / best EDP".into(),
        series: vec![(
            "designs".into(),
            found.scores.iter().map(|s| (s.mux_cells as f64 / 1000.0, s.edp_geomean / best_edp, s.pareto)).collect(),
        )],
        lines: false,
    }
    .write(&dir.join("pareto"))
    .map_err(anyhow::Error::msg)
}

fn explore_summary(found: &Exploration, workload: &str, seconds: f64) -> String {
    let b = &found.bounds;
    let mut t = format!(
        "# HSS designs for {workload}\n\n{} designs enumerated (up to {} ranks, H_max <= {}), {} support every required degree ({}), {} evaluated (the cheapest in mux cells); {} layers at weight sparsities {}; {} emulations in {seconds:.1} s.\n\n",
        found.enumerated,
        b.max_ranks,
        b.max_h,
        found.covering,
        b.required.iter().map(|r| format!("{:.1} %", 100.0 * r)).collect::<Vec<_>>().join(", "),
        found.evaluated,
        found.layers,
        b.weight_sparsity.iter().map(|r| format!("{:.1} %", 100.0 * r)).collect::<Vec<_>>().join(", "),
        found.emulations,
    );
    t += "| rank | design | ranks | degrees (0-87.5 %) | mux cells | EDP / best | Pareto |\n|---|---|---|---|---|---|---|\n";
    let best = found.scores[0].edp_geomean;
    for (i, s) in found.scores.iter().enumerate().filter(|(i, s)| *i < 10 || s.pareto) {
        t += &format!(
            "| {} | {} | {} | {} | {} | {:.4} | {} |\n",
            i + 1,
            s.design,
            s.ranks,
            s.degrees,
            s.mux_cells,
            s.edp_geomean / best,
            if s.pareto { "yes" } else { "" }
        );
    }
    t += "\nEDP is the geometric mean over the weight sparsities of whole-network energy x latency; each design runs the weights at its sparsest degree at or below each sparsity. Traffic: the emulator's GLB reads and each operand moved from DRAM once (docs/DESIGN.md 12).\n";
    t
}
