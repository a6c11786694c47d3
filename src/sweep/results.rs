//! What a sweep produces: its rows, where they came from (so that only shards of one sweep
//! merge), the CSV, and the output folder with the summary and figures 13 and 14.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Shard, SweepError, SweepFile, safe_name};
use crate::claims;
use crate::compare::{Outcome, Point, PointOperands};
use crate::counters::Counters;
use crate::design::Design;
use crate::energy::Ert;
use crate::hierarchy::Hierarchy;
use crate::output::Replace;
use crate::plot::BarChart;

/// What makes results comparable: shards merge only when all of this is equal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// `highlight-emu` and its version.
    pub tool: String,
    /// The sweep file as parsed (its canonical form; the seed is in it).
    pub sweep_file: SweepFile,
    /// The energy table, every action.
    pub ert: Ert,
    /// The architecture of every design.
    pub archs: Vec<crate::design::Arch>,
    /// What every design's mapping and formats were chosen to minimise (absent before the
    /// search had objectives: EDP was not searched then, so such shards merge only alike).
    #[serde(default)]
    pub objective: Option<crate::search::Objective>,
    /// The rows as written: their count and digest, checked on merge so that a shard whose rows
    /// were removed, repeated or edited is refused (not compared between shards).
    #[serde(default)]
    pub rows: Option<RowsDigest>,
}

/// How many rows a results file holds, and the FNV-1a 64 digest of their JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RowsDigest {
    pub count: usize,
    pub fnv1a64: String,
}

impl RowsDigest {
    pub fn of(rows: &[Row]) -> RowsDigest {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for row in rows {
            // A row serialises (floats round-trip, maps keep their order) to the same bytes
            // after a load as when it was written.
            let bytes = serde_json::to_vec(row).unwrap_or_default();
            for b in bytes.iter().chain(b"\n") {
                hash = (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        RowsDigest { count: rows.len(), fnv1a64: format!("{hash:016x}") }
    }
}

impl Provenance {
    pub fn new(file: &SweepFile, ert: &Ert, objective: crate::search::Objective) -> Provenance {
        Provenance {
            tool: format!("highlight-emu {}", env!("CARGO_PKG_VERSION")),
            sweep_file: file.clone(),
            ert: ert.clone(),
            archs: Design::ALL.iter().map(|d| d.arch()).collect(),
            objective: Some(objective),
            rows: None,
        }
    }

    /// The first part in which two provenances differ.
    fn difference(&self, other: &Provenance) -> Option<&'static str> {
        if self.tool != other.tool {
            Some("tool version")
        } else if self.sweep_file != other.sweep_file {
            Some("sweep file (points, seed or name)")
        } else if self.ert != other.ert {
            Some("energy table")
        } else if self.archs != other.archs {
            Some("architectures")
        } else if self.objective != other.objective {
            Some("objective")
        } else {
            None
        }
    }
}

/// One point's outcome for one design.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub point_index: usize,
    pub point: Point,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What `results.json` holds: a full run, or one shard of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub sweep: String,
    pub description: String,
    pub ert: String,
    pub backend: String,
    pub checked: bool,
    /// Points in the whole sweep.
    pub points: usize,
    /// `None` for a full run.
    pub shard: Option<Shard>,
    /// What the results were computed from; `None` in files of older versions, which do not
    /// merge.
    #[serde(default)]
    pub provenance: Option<Provenance>,
    pub rows: Vec<Row>,
}

impl Results {
    /// Records the rows' digest in the provenance: the results are complete.
    pub fn sealed(mut self) -> Results {
        let digest = RowsDigest::of(&self.rows);
        if let Some(p) = &mut self.provenance {
            p.rows = Some(digest);
        }
        self
    }

    /// Reads a `results.json`.
    pub fn load(path: &Path) -> Result<Results, SweepError> {
        let bad = |message: String| SweepError::BadPartial { path: path.display().to_string(), message };
        // A results file of a large sweep may be far over a configuration file's bound: the
        // memory guard bounds it instead (the text and the parsed rows, about four times it).
        let size = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?.len();
        crate::memory::check(|| format!("reading {}", path.display()), size.checked_mul(4))
            .map_err(|e| bad(e.to_string()))?;
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))
    }

    /// Joins the shards of one sweep into the results of one full run. Shards must come from one
    /// sweep (same provenance), each once, none empty, together covering every point.
    pub fn merge(parts: Vec<Results>) -> Result<Results, SweepError> {
        let merge_err = |m: String| SweepError::Merge(m);
        let first = parts.first().ok_or_else(|| merge_err("nothing to merge".into()))?.clone();
        let Some(provenance) = &first.provenance else {
            return Err(merge_err(format!(
                "{}: no provenance (written by an older highlight-emu); rerun its shards",
                first.sweep
            )));
        };
        let count = first.shard.map_or(1, |s| s.count);
        if count == 0 || count > first.points {
            return Err(merge_err(format!("shard count {count}: the sweep has {} points", first.points)));
        }
        let mut seen = vec![false; count];
        // The points every shard's rows are checked against, and the designs every point ran.
        let expected = provenance.sweep_file.points();
        if expected.len() != first.points {
            return Err(merge_err(format!(
                "{} says {} points; its sweep file has {}",
                first.sweep,
                first.points,
                expected.len()
            )));
        }
        let mut designs: Option<Vec<Design>> = None;
        for p in &parts {
            if !safe_name(&p.sweep) {
                return Err(merge_err(format!("sweep name {:?} is not a safe folder name", p.sweep)));
            }
            let differs = match &p.provenance {
                None => Some("provenance (one was written by an older highlight-emu)"),
                Some(other) => provenance.difference(other),
            };
            if p.sweep != first.sweep || p.points != first.points || differs.is_some() {
                return Err(merge_err(format!(
                    "partials of different sweeps: {} ({} points) and {} ({} points) differ in {}",
                    first.sweep,
                    first.points,
                    p.sweep,
                    p.points,
                    differs.unwrap_or("name or points")
                )));
            }
            let shard = p.shard.ok_or_else(|| merge_err(format!("{} is already a full run", p.sweep)))?;
            if shard.count != count || shard.index >= count {
                return Err(merge_err(format!(
                    "shard {}/{} is not one of {count} shards",
                    shard.index, shard.count
                )));
            }
            if std::mem::replace(&mut seen[shard.index], true) {
                return Err(merge_err(format!("shard {}/{count} given twice", shard.index)));
            }
            check_rows(p, shard, &expected, &mut designs)
                .map_err(|m| merge_err(format!("shard {}/{count}: {m}; rerun that shard", shard.index)))?;
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(merge_err(format!("shard {missing}/{count} is missing")));
        }
        let mut rows: Vec<Row> = parts.iter().flat_map(|p| p.rows.iter().cloned()).collect();
        rows.sort_by_key(|r| (r.point_index, Design::ALL.iter().position(|&d| d == r.outcome.design)));
        Ok(Results { shard: None, checked: parts.iter().all(|p| p.checked), rows, ..first }.sealed())
    }

    /// The CSV: one row per point and design, every counter, and each figure normalised to TC.
    pub fn csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<&str> = vec![
            "point",
            "layer",
            "count",
            "m",
            "k",
            "n",
            "a_sparsity",
            "b_sparsity",
            "design",
            "a",
            "b",
            "a_runs_as",
            "a_format",
            "b_format",
            "objective",
            "order",
            "backend",
            "supported",
            "reason",
        ];
        header.extend(Counters::NAMES);
        header.extend(Hierarchy::NAMES);
        header.extend([
            "run_cycles",
            "bound",
            "energy_pj",
            "latency_s",
            "edp",
            "speedup_over_tc",
            "cycles_vs_tc",
            "energy_vs_tc",
            "latency_vs_tc",
            "edp_vs_tc",
            "z_equals_dense",
            "cpu_gpu_equal",
        ]);
        w.write_record(&header)?;
        for row in &self.rows {
            let p = &row.point;
            let (a_s, b_s) = match &p.operands {
                PointOperands::Degrees { a_sparsity, b_sparsity } => {
                    (a_sparsity.to_string(), b_sparsity.to_string())
                }
                PointOperands::Patterns { .. } | PointOperands::Files { .. } => {
                    (String::new(), String::new())
                }
            };
            let mut record = vec![
                row.point_index.to_string(),
                p.layer.as_ref().map_or(String::new(), |l| l.name.clone()),
                p.layer.as_ref().map_or(String::new(), |l| l.count.to_string()),
                p.m.to_string(),
                p.k.to_string(),
                p.n.to_string(),
                a_s,
                b_s,
                row.outcome.design.id().to_string(),
            ];
            match (&row.outcome.result, &row.outcome.normalised_to_tc) {
                (Some(r), Some(n)) => {
                    let order = serde_json::to_value(r.order).map(|v| v.as_str().unwrap_or("").to_string());
                    record.extend([
                        r.workload.a.clone(),
                        r.workload.b.clone(),
                        r.a_runs_as.clone(),
                        r.a_format.map_or(String::new(), |f| f.id().to_string()),
                        r.b_format.map_or(String::new(), |f| f.id().to_string()),
                        r.search.as_ref().map_or(String::new(), |s| s.objective.id().to_string()),
                        order.unwrap_or_default(),
                        r.backend.id().to_string(),
                        "true".into(),
                        String::new(),
                    ]);
                    record.extend(r.counters.iter().map(|(_, v)| v.to_string()));
                    record.extend(r.hierarchy.iter().map(|(_, v)| v.to_string()));
                    record.extend([
                        r.cycles.to_string(),
                        r.bound.id().to_string(),
                        r.energy_pj.to_string(),
                        r.latency_s.to_string(),
                        r.edp.to_string(),
                        n.speedup.to_string(),
                        n.cycles.to_string(),
                        n.energy.to_string(),
                        n.latency.to_string(),
                        n.edp.to_string(),
                        r.z_equals_dense.to_string(),
                        r.check.as_ref().map_or(String::new(), |c| c.cpu_gpu_equal.to_string()),
                    ]);
                }
                _ => {
                    record.extend(["", "", "", "", "", "", "", "", "false"].map(String::from));
                    record.push(row.outcome.unsupported.clone().unwrap_or_default());
                    record.extend(std::iter::repeat_n(String::new(), header.len() - record.len()));
                }
            }
            w.write_record(&record)?;
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }
}

/// A shard's rows against what its index owns: its digest, each owned point once with the
/// sweep's own point, every point with the same designs (`designs`: those of the first point
/// seen), each once. The error names the first row that differs.
fn check_rows(
    p: &Results,
    shard: Shard,
    expected: &[Point],
    designs: &mut Option<Vec<Design>>,
) -> Result<(), String> {
    match p.provenance.as_ref().and_then(|v| v.rows.as_ref()) {
        None => return Err("no digest of its rows (written by an older highlight-emu)".into()),
        Some(d) if *d != RowsDigest::of(&p.rows) => {
            return Err(format!(
                "its {} rows are not the {} it wrote (digest {}): rows were removed, repeated or edited",
                p.rows.len(),
                d.count,
                d.fnv1a64
            ));
        }
        Some(_) => {}
    }
    let mut by_point: std::collections::BTreeMap<usize, Vec<&Row>> = std::collections::BTreeMap::new();
    for r in &p.rows {
        if r.point_index >= expected.len() || !shard.takes(r.point_index) {
            return Err(format!("it holds point {}, which is not its own", r.point_index));
        }
        by_point.entry(r.point_index).or_default().push(r);
    }
    for index in (0..expected.len()).filter(|&i| shard.takes(i)) {
        let want = &expected[index];
        let Some(rows) = by_point.get(&index) else {
            return Err(format!("point {index} ({}) has no rows", want.label()));
        };
        let mut ran: Vec<Design> = Vec::with_capacity(rows.len());
        for r in rows {
            let same = r.point.m == want.m
                && r.point.k == want.k
                && r.point.n == want.n
                && r.point.operands == want.operands
                && r.point.layer.as_ref().map(|l| &l.name) == want.layer.as_ref().map(|l| &l.name);
            if !same {
                return Err(format!(
                    "the {} row of point {index} is {} x {} x {} ({}); the sweep's point {index} is {} x {} x {} ({})",
                    r.outcome.design.id(),
                    r.point.m,
                    r.point.k,
                    r.point.n,
                    r.point.label(),
                    want.m,
                    want.k,
                    want.n,
                    want.label()
                ));
            }
            if ran.contains(&r.outcome.design) {
                return Err(format!(
                    "point {index} ({}) has two {} rows",
                    want.label(),
                    r.outcome.design.id()
                ));
            }
            ran.push(r.outcome.design);
        }
        ran.sort_by_key(|d| Design::ALL.iter().position(|x| x == d));
        match designs {
            None => *designs = Some(ran),
            Some(all) if *all != ran => {
                let ids = |v: &[Design]| v.iter().map(|d| d.id()).collect::<Vec<_>>().join(", ");
                return Err(format!(
                    "point {index} ({}) ran {}; the other points ran {}",
                    want.label(),
                    ids(&ran),
                    ids(all)
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Writes `results.json` and `results.csv`, for a full run `summary.md` and the figures, then
/// whatever `extra` adds (a model's `layers.csv`, figure 15),
/// as one output folder that replaces an earlier one atomically ([`crate::output::write_dir`]).
pub fn write_outputs(
    results: &Results,
    dir: &Path,
    extra: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<(), SweepError> {
    crate::output::write_dir(dir, Replace::Earlier, |tmp| {
        let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
        let json = serde_json::to_string_pretty(results).map_err(|e| fail("results.json", &e))?;
        std::fs::write(tmp.join("results.json"), json + "\n").map_err(|e| fail("results.json", &e))?;
        let csv = results.csv().map_err(|e| fail("results.csv", &e))?;
        std::fs::write(tmp.join("results.csv"), csv).map_err(|e| fail("results.csv", &e))?;
        if results.shard.is_none() {
            std::fs::write(tmp.join("summary.md"), claims::summary_md(results))
                .map_err(|e| fail("summary.md", &e))?;
            for chart in figures(results) {
                chart.1.write(&tmp.join(chart.0)).map_err(|e| fail(chart.0, &e))?;
            }
        }
        extra(tmp)
    })?;
    Ok(())
}

/// Figure 13 (per point, normalised EDP, energy and latency) and figure 14 (their geomeans).
fn figures(results: &Results) -> Vec<(&'static str, BarChart)> {
    let degree_points: Vec<&Point> = {
        let mut seen = std::collections::BTreeMap::new();
        for r in results.rows.iter().filter(|r| r.point.is_synthetic()) {
            seen.entry(r.point_index).or_insert(&r.point);
        }
        seen.into_values().collect()
    };
    let assumptions = format!(
        "Energy table {}; backend {}; first-order model, no pipeline fill or bandwidth stalls; S2TA is the least certain.",
        results.ert, results.backend
    );
    let caption = format!(
        "Each bar: the design's figure / TC's on the same point (line at 1). No bar: the design cannot run the point.\n{assumptions}"
    );
    let geomean_caption = format!(
        "Each bar: the geomean, over the points the design ran, of its figure / TC's (line at 1).\n{assumptions}"
    );
    let short = |p: &Point| match &p.operands {
        PointOperands::Degrees { a_sparsity, b_sparsity } => {
            format!("A{}/B{}", 100.0 * a_sparsity, 100.0 * b_sparsity)
        }
        PointOperands::Patterns { .. } | PointOperands::Files { .. } => p.label(),
    };
    let per_point = |title: &str, pick: claims::Pick| BarChart {
        title: format!("{}: {title} normalised to TC (figure 13)", results.sweep),
        caption: caption.clone(),
        y_label: format!("{title} / TC"),
        groups: degree_points.iter().map(|p| short(p)).collect(),
        series: Design::ALL
            .iter()
            .map(|&d| {
                let values = degree_points
                    .iter()
                    .map(|p| {
                        results
                            .rows
                            .iter()
                            .find(|r| &r.point == *p && r.outcome.design == d)
                            .and_then(|r| r.outcome.normalised_to_tc.as_ref().map(pick))
                    })
                    .collect();
                (d.id().to_string(), values)
            })
            .collect(),
    };
    let picks = claims::FIGURES;
    let mut charts: Vec<(&'static str, BarChart)> = vec![
        ("fig13_edp", per_point("EDP", picks[0].1)),
        ("fig13_energy", per_point("energy", picks[1].1)),
        ("fig13_latency", per_point("latency", picks[2].1)),
    ];
    let geo: Vec<Vec<(Design, Option<f64>)>> =
        picks.iter().map(|(_, pick)| claims::geomeans(results, *pick)).collect();
    charts.push((
        "fig14_geomean",
        BarChart {
            title: format!("{}: geomean over the sweep, normalised to TC (figure 14)", results.sweep),
            caption: geomean_caption,
            y_label: "geomean / TC".into(),
            groups: picks.iter().map(|(name, _)| name.to_string()).collect(),
            series: Design::ALL
                .iter()
                .enumerate()
                .map(|(i, &d)| (d.id().to_string(), geo.iter().map(|g| g[i].1).collect()))
                .collect(),
        },
    ));
    if degree_points.is_empty() {
        charts.clear();
    }
    charts
}
