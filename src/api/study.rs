//! Many points at once: a sweep file (`sweep`) and an ONNX model's layers (`model`), their
//! output folders, and their rows as a table.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde_json::{Map, Value};

use super::{Backend, Energy};
use crate::design::Design;
use crate::model::emulate::{LayerStats, layers_csv, workload, workload_toml};
use crate::model::{Image, Inputs, NamedArray, capture};
use crate::search::{Objective, Search};
use crate::sweep::{Provenance, Results, Shard, SweepFile, safe_name};

/// A progress bar on stderr when it is a terminal, else hidden.
fn bar(total: usize) -> indicatif::ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(total as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs, {elapsed} elapsed, ETA {eta}  {msg}",
        )
        .expect("the progress template is valid"),
    );
    bar
}

/// `sweep`: every point of a sweep file on every design.
#[derive(Clone, Debug)]
pub struct SweepRequest {
    pub file: PathBuf,
    /// The output folder: `Some(None)` for the default (results/<name>/), `None` to write
    /// nothing (the Python package, unless asked).
    pub out: Option<Option<PathBuf>>,
    /// Figure 15's accuracy losses (a CSV), drawn into the output folder.
    pub accuracy: Option<PathBuf>,
    pub shard: Option<Shard>,
    pub objective: Objective,
    pub backend: Backend,
    pub energy: Energy,
}

/// The folder a sweep writes: given, or results/<name>/ (results/<name>-shards/... for a shard).
pub fn sweep_out(name: &str, out: Option<&Path>, shard: Option<Shard>) -> PathBuf {
    out.map_or_else(
        || match shard {
            Some(_) => crate::sweep::default_out(&format!("{name}-shards"), shard),
            None => crate::sweep::default_out(name, None),
        },
        Path::to_path_buf,
    )
}

/// What a sweep or model run gives: its results, the folder written (if any) and the summary's
/// figure 15 part (empty without accuracy losses).
pub struct Study {
    pub results: Results,
    pub out: Option<PathBuf>,
    pub fig15_md: String,
}

pub fn sweep(req: &SweepRequest) -> Result<Study> {
    let file = SweepFile::load(&req.file)?;
    if let Some(a) = &req.accuracy {
        crate::accuracy::check_file(a)?;
        if req.out.is_none() {
            bail!("accuracy losses draw figure 15 into the output folder: give one");
        }
    }
    let ert = req.energy.load()?;
    let points = file.points().len();
    if let Some(shard) = req.shard
        && shard.count > points
    {
        bail!(
            "--shard {}/{}: the sweep has {points} points, so at most {points} shards",
            shard.index,
            shard.count
        );
    }
    let out = req.out.as_ref().map(|o| sweep_out(&file.name, o.as_deref(), req.shard));
    if let Some(out) = &out {
        crate::output::check_output_dir(out)?;
    }
    let gpu = req.backend.open()?;
    let bar = bar(crate::sweep::points_in(&file, req.shard) * Design::ALL.len());
    let results = crate::sweep::run(
        &file,
        req.shard,
        &ert,
        &Search { objective: req.objective, ..Search::default() },
        gpu.as_ref(),
        req.backend.check,
        |point, design| {
            bar.set_message(format!("{}: {}", point.label(), design.id()));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    let fig15_md = match &out {
        Some(out) => write_outputs(&results, out, req.accuracy.as_deref(), &|_| Ok(()))?,
        None => String::new(),
    };
    Ok(Study { results, out, fig15_md })
}

/// Writes a sweep's outputs (with what `extra` adds and, given accuracy losses, figure 15) and
/// returns the summary's figure 15 part.
pub fn write_outputs(
    results: &Results,
    out: &Path,
    accuracy: Option<&Path>,
    extra: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<String> {
    let fig15 = accuracy.map(|a| crate::accuracy::points(a, results)).transpose()?;
    let fig15_md = fig15.as_deref().map_or(String::new(), crate::accuracy::summary_md);
    crate::sweep::write_outputs(results, out, &|tmp| {
        extra(tmp)?;
        if let Some(points) = &fig15 {
            let summary = tmp.join("summary.md");
            let text = std::fs::read_to_string(&summary).unwrap_or_default() + &fig15_md;
            std::fs::write(&summary, text).map_err(|e| format!("summary.md: {e}"))?;
            crate::accuracy::figure(points, results)
                .write(&tmp.join("fig15_edp_accuracy"))
                .map_err(|e| format!("fig15_edp_accuracy: {e}"))?;
        }
        Ok(())
    })?;
    Ok(fig15_md)
}

/// Every row's verdict ([`super::verdict`]), the first mismatch named by its design and point.
pub fn verdict_of(results: &Results) -> Result<()> {
    for row in results.verdict_rows() {
        if let Some(r) = &row.outcome.result {
            super::verdict(r, &format!("{} at {}: ", row.outcome.design.id(), row.point.label()))?;
        }
    }
    Ok(())
}

/// The rows as `results.csv` has them, each cell typed by its column ([`crate::sweep::table`]).
pub fn table_rows(results: &Results) -> Result<Vec<Map<String, Value>>> {
    Ok(crate::sweep::table(crate::sweep::full_rows(results)?)?)
}

/// `model`: an ONNX model's layers with their real weights and activations, on every design at
/// each weight sparsity.
#[derive(Clone, Debug)]
pub struct ModelRequest {
    pub model: PathBuf,
    /// `[NAME=]x.npy` files.
    pub input_files: Vec<String>,
    pub input_arrays: Vec<NamedArray>,
    /// `[NAME=]D1xD2x...`: the shapes of seeded inputs.
    pub input_shapes: Vec<String>,
    /// `[NAME=]x.png`, its size as `HxW`, and the per-channel mean and standard deviation.
    pub image: Option<String>,
    pub size: Option<String>,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub seed: u64,
    pub activations: bool,
    pub weight_sparsity: Vec<f64>,
    /// Empty: every design.
    pub designs: Vec<Design>,
    /// As [`SweepRequest::out`].
    pub out: Option<Option<PathBuf>>,
    pub export_workload: Option<PathBuf>,
    pub accuracy: Option<PathBuf>,
    pub shard: Option<Shard>,
    pub capture_only: bool,
    pub objective: Objective,
    pub backend: Backend,
    pub energy: Energy,
}

impl ModelRequest {
    /// The model at `path` with every choice at the CLI's default.
    pub fn new(path: PathBuf) -> ModelRequest {
        ModelRequest {
            model: path,
            input_files: Vec::new(),
            input_arrays: Vec::new(),
            input_shapes: Vec::new(),
            image: None,
            size: None,
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
            seed: 1,
            activations: false,
            weight_sparsity: vec![0.0, 0.5, 0.75],
            designs: Vec::new(),
            out: Some(None),
            export_workload: None,
            accuracy: None,
            shard: None,
            capture_only: false,
            objective: Objective::Edp,
            backend: Backend::default(),
            energy: Energy::default(),
        }
    }
}

/// The most pixels `--size` may ask an image to be resized to (2^26: 768 MB of float32 RGB).
const MAX_PIXELS: usize = 1 << 26;

/// The model's name: its file stem, made a safe folder name.
fn model_stem(path: &Path) -> String {
    let stem: String = path
        .file_stem()
        .map(|s| {
            s.to_string_lossy()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
                .collect()
        })
        .unwrap_or_default();
    if safe_name(&stem) { stem } else { "model".to_string() }
}

/// The folder `model` writes: given, or results/<model file stem>/.
pub fn model_out(req: &ModelRequest) -> Option<PathBuf> {
    req.out.as_ref().map(|o| sweep_out(&model_stem(&req.model), o.as_deref(), req.shard))
}

/// `--size HxW`, bounded.
fn image_size(text: &str) -> Result<(usize, usize)> {
    let parsed = text
        .split_once(['x', 'X'])
        .and_then(|(h, w)| Some((h.trim().parse::<usize>().ok()?, w.trim().parse::<usize>().ok()?)));
    match parsed {
        Some((h, w)) if h > 0 && w > 0 && h.checked_mul(w).is_some_and(|p: usize| p <= MAX_PIXELS) => {
            Ok((h, w))
        }
        Some((h, w)) if h > 0 && w > 0 => bail!(
            "--size {text}: {h} x {w} pixels is more than the {MAX_PIXELS} (2^26) an input image may have; accepted HxW, e.g. 224x224"
        ),
        _ => bail!("--size {text}: accepted HxW with positive sizes, e.g. 224x224"),
    }
}

/// Three finite per-channel numbers (R,G,B); for `--std`, each above 0.
fn channels(v: &[f32], what: &str) -> Result<[f32; 3]> {
    match v {
        [a, b, c] if v.iter().all(|x| x.is_finite()) && (what != "--std" || v.iter().all(|x| *x > 0.0)) => {
            Ok([*a, *b, *c])
        }
        _ => bail!(
            "{what}: accepted three finite numbers (R,G,B){}",
            if what == "--std" { ", each above 0" } else { "" }
        ),
    }
}

/// Runs the model; with `capture_only`, writes only layers.csv and returns no results.
pub fn model(req: &ModelRequest) -> Result<(Option<Study>, usize, usize)> {
    let stem = model_stem(&req.model);
    let known = crate::degrees::DegreeTable::shipped().a_sparsities();
    if let Some(bad) = req.weight_sparsity.iter().find(|s| !known.iter().any(|k| (*k - **s).abs() < 1e-9)) {
        bail!(
            "--weight-sparsity {bad}: accepted the degree table's sparsities {known:?} (assets/degrees.toml)"
        );
    }
    let out = model_out(req);
    if let Some(out) = &out {
        crate::output::check_output_dir(out)?;
    }
    if let Some(w) = &req.export_workload {
        if let Some(out) = &out {
            // The run replaces its output folder: a file written inside it first would be lost.
            let out_canonical = out.canonicalize().unwrap_or_else(|_| out.clone());
            let parent_inside =
                w.parent().and_then(|p| p.canonicalize().ok()).is_some_and(|p| p.starts_with(&out_canonical));
            if w.starts_with(out) || parent_inside {
                bail!(
                    "--export-workload {}: inside the output folder {}, which the run replaces; write it elsewhere",
                    w.display(),
                    out.display()
                );
            }
        }
        crate::output::check_file_target(w)?;
    }
    if let Some(a) = &req.accuracy {
        crate::accuracy::check_file(a)?;
        if out.is_none() {
            bail!("accuracy losses draw figure 15 into the output folder: give one");
        }
    }
    if req.capture_only && out.is_none() {
        bail!("capture only writes layers.csv into the output folder: give one");
    }
    if req.weight_sparsity.is_empty() {
        bail!("--weight-sparsity: give at least one, e.g. 0,0.5,0.75");
    }
    if req.size.is_some() && req.image.is_none() {
        bail!("--size is the image's size: give --image too");
    }
    let ert = req.energy.load()?;
    let size = req.size.as_deref().map(image_size).transpose()?;
    let (mean, std) = (channels(&req.mean, "--mean")?, channels(&req.std, "--std")?);
    let inputs = Inputs {
        files: req.input_files.clone(),
        arrays: req.input_arrays.clone(),
        shapes: req.input_shapes.clone(),
        image: req.image.as_ref().map(|path| Image { path: path.clone(), size, mean, std }),
        seed: req.seed,
    };
    let layers = capture(&req.model, &inputs, req.activations)?;
    let stats: Vec<LayerStats> = layers.iter().map(LayerStats::of).collect();
    let csv = layers_csv(&stats)?;
    let source = req.model.display().to_string();
    let file = workload(&stem, &source, &stats, &req.weight_sparsity, false);
    // The provenance lists every emulated layer, activation products included, so that merge
    // can check each shard's rows against the points they stand for.
    let every_layer = workload(&stem, &source, &stats, &req.weight_sparsity, true);
    if let Some(w) = &req.export_workload {
        crate::output::write_bytes(w, workload_toml(&file)?.as_bytes())?;
    }
    let captured = stats.iter().filter(|s| s.skipped.is_empty()).count();
    let points = captured * req.weight_sparsity.len();
    if let Some(shard) = req.shard
        && shard.count > points
    {
        bail!(
            "--shard {}/{}: the model has {points} points (layers x weight sparsities), so at most {points} shards",
            shard.index,
            shard.count
        );
    }
    if req.capture_only {
        let out = out.expect("checked above");
        crate::output::write_dir(&out, crate::output::Replace::Earlier, |tmp| {
            std::fs::write(tmp.join("layers.csv"), &csv).map_err(|e| format!("layers.csv: {e}"))
        })?;
        return Ok((None, captured, stats.len()));
    }
    let gpu = req.backend.open()?;
    let designs = if req.designs.is_empty() { Design::ALL.to_vec() } else { req.designs.clone() };
    let taken = (0..points).filter(|&i| req.shard.is_none_or(|sh| sh.takes(i))).count();
    let bar = bar(taken * designs.iter().filter(|d| **d != Design::Tc).count().max(1));
    let rows = crate::model::emulate::run(
        &layers,
        &stats,
        &req.weight_sparsity,
        &designs,
        &ert,
        &Search { objective: req.objective, ..Search::default() },
        gpu.as_ref(),
        req.backend.check,
        req.shard,
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
            .map_or("cpu".to_string(), |g| format!("gpu ({})", crate::gpu::describe(&g.gpu.info))),
        checked: req.backend.check && gpu.is_some(),
        points,
        shard: req.shard,
        provenance: Some(Provenance::new(&every_layer, &ert, req.objective)),
        rows,
        spill: None,
        briefs: Default::default(),
        failed: Vec::new(),
    }
    .sealed();
    let fig15_md = match &out {
        Some(out) => write_outputs(&results, out, req.accuracy.as_deref(), &|tmp| {
            std::fs::write(tmp.join("layers.csv"), &csv).map_err(|e| format!("layers.csv: {e}"))
        })?,
        None => String::new(),
    };
    Ok((Some(Study { results, out, fig15_md }), captured, stats.len()))
}
