//! `model`: an ONNX model's layers, captured with their real weights and activations, on every
//! design.

use std::io::IsTerminal;

use anyhow::{Result, bail};
use highlight_emu::design::Design;
use highlight_emu::model::emulate::{LayerStats, layers_csv, run, workload, workload_toml};
use highlight_emu::model::{Image, Inputs, capture};
use highlight_emu::search::Search;
use highlight_emu::sweep::{Provenance, Results, safe_name};

use super::emit;
use super::sweeps::finish;
use crate::ModelArgs;

/// The most pixels `--size` may ask an image to be resized to (2^26: 768 MB of float32 RGB).
const MAX_PIXELS: usize = 1 << 26;

pub fn model(args: &ModelArgs) -> Result<()> {
    // The model's name names the default output folder: its file stem, made a safe name.
    let stem: String = args
        .model
        .file_stem()
        .map(|s| {
            s.to_string_lossy()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
                .collect()
        })
        .unwrap_or_default();
    let stem = if safe_name(&stem) { stem } else { "model".to_string() };
    let known = highlight_emu::degrees::DegreeTable::shipped().a_sparsities();
    if let Some(bad) = args.weight_sparsity.iter().find(|s| !known.iter().any(|k| (*k - **s).abs() < 1e-9)) {
        bail!(
            "--weight-sparsity {bad}: accepted the degree table's sparsities {known:?} (assets/degrees.toml)"
        );
    }
    let out = args.out.clone().unwrap_or_else(|| match args.shard {
        Some(_) => highlight_emu::sweep::default_out(&format!("{stem}-shards"), args.shard),
        None => highlight_emu::sweep::default_out(&stem, None),
    });
    highlight_emu::output::check_output_dir(&out)?;
    if let Some(w) = &args.export_workload {
        // The run replaces its output folder: a file written inside it first would be lost.
        let out_canonical = out.canonicalize().unwrap_or_else(|_| out.clone());
        let parent_inside =
            w.parent().and_then(|p| p.canonicalize().ok()).is_some_and(|p| p.starts_with(&out_canonical));
        if w.starts_with(&out) || parent_inside {
            bail!(
                "--export-workload {}: inside the output folder {}, which the run replaces; write it elsewhere",
                w.display(),
                out.display()
            );
        }
        highlight_emu::output::check_file_target(w)?;
    }
    if let Some(a) = &args.accuracy {
        highlight_emu::accuracy::check_file(a)?;
    }
    let ert = args.energy.load()?;
    let size = match &args.size {
        Some(text) => {
            let parsed = text
                .split_once(['x', 'X'])
                .and_then(|(h, w)| Some((h.trim().parse::<usize>().ok()?, w.trim().parse::<usize>().ok()?)));
            match parsed {
                Some((h, w))
                    if h > 0 && w > 0 && h.checked_mul(w).is_some_and(|p: usize| p <= MAX_PIXELS) =>
                {
                    Some((h, w))
                }
                Some((h, w)) if h > 0 && w > 0 => bail!(
                    "--size {text}: {h} x {w} pixels is more than the {MAX_PIXELS} (2^26) an input image may have; accepted HxW, e.g. 224x224"
                ),
                _ => bail!("--size {text}: accepted HxW with positive sizes, e.g. 224x224"),
            }
        }
        None => None,
    };
    let channels = |v: &[f32], what: &str| -> Result<[f32; 3]> {
        match v {
            [a, b, c]
                if v.iter().all(|x| x.is_finite()) && (what != "--std" || v.iter().all(|x| *x > 0.0)) =>
            {
                Ok([*a, *b, *c])
            }
            _ => bail!(
                "{what}: accepted three finite numbers (R,G,B){}",
                if what == "--std" { ", each above 0" } else { "" }
            ),
        }
    };
    let (mean, std) = (channels(&args.mean, "--mean")?, channels(&args.std, "--std")?);
    let inputs = Inputs {
        files: args.input.clone(),
        shapes: args.input_shape.clone(),
        image: args.image.as_ref().map(|path| Image { path: path.clone(), size, mean, std }),
        seed: args.seed,
    };
    let layers = capture(&args.model, &inputs, args.activations)?;
    let stats: Vec<LayerStats> = layers.iter().map(LayerStats::of).collect();
    let csv = layers_csv(&stats)?;
    let source = args.model.display().to_string();
    let file = workload(&stem, &source, &stats, &args.weight_sparsity, false);
    // The provenance lists every emulated layer, activation products included, so that merge
    // can check each shard's rows against the points they stand for.
    let every_layer = workload(&stem, &source, &stats, &args.weight_sparsity, true);
    if let Some(w) = &args.export_workload {
        highlight_emu::output::write_bytes(w, workload_toml(&file)?.as_bytes())?;
    }
    let captured = stats.iter().filter(|s| s.skipped.is_empty()).count();
    let points = captured * args.weight_sparsity.len();
    if let Some(shard) = args.shard
        && shard.count > points
    {
        bail!(
            "--shard {}/{}: the model has {points} points (layers x weight sparsities), so at most {points} shards",
            shard.index,
            shard.count
        );
    }
    if args.capture_only {
        highlight_emu::output::write_dir(&out, highlight_emu::output::Replace::Earlier, |tmp| {
            std::fs::write(tmp.join("layers.csv"), &csv).map_err(|e| format!("layers.csv: {e}"))
        })?;
        let text =
            format!("{captured} of {} nodes captured; wrote {}/layers.csv\n", stats.len(), out.display());
        return emit(&text, Ok(()));
    }
    let gpu = args.backend.open()?;
    let designs = if args.designs.is_empty() { Design::ALL.to_vec() } else { args.designs.clone() };
    let taken = (0..points).filter(|&i| args.shard.is_none_or(|sh| sh.takes(i))).count();
    let runs = taken * designs.iter().filter(|d| **d != Design::Tc).count().max(1);
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(runs as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let rows = run(
        &layers,
        &stats,
        &args.weight_sparsity,
        &designs,
        &ert,
        &Search { objective: args.objective, ..Search::default() },
        gpu.as_ref(),
        args.backend.check,
        args.shard,
        |layer, design| {
            bar.set_message(format!("{layer}: {}", design.id()));
            if design != Design::Tc {
                bar.inc(1);
            }
        },
    )?;
    bar.finish_and_clear();
    let results = Results {
        sweep: stem,
        description: format!("ONNX model {source}, {captured} captured layers"),
        ert: ert.name.clone(),
        backend: gpu
            .as_ref()
            .map_or("cpu".to_string(), |g| format!("gpu ({})", highlight_emu::gpu::describe(&g.gpu.info))),
        checked: args.backend.check && gpu.is_some(),
        points,
        shard: args.shard,
        provenance: Some(Provenance::new(&every_layer, &ert, args.objective)),
        rows,
        spill: None,
        briefs: Default::default(),
        failed: Vec::new(),
    }
    .sealed();
    finish(&results, &out, args.accuracy.as_deref(), &|tmp| {
        std::fs::write(tmp.join("layers.csv"), &csv).map_err(|e| format!("layers.csv: {e}"))
    })
}
