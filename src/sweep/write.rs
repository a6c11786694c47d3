//! Writing a sweep's outputs: `results.json` and `results.csv` streamed row by row (from the
//! spill where the rows were streamed to disk), `summary.md`, and figures 13 and 14.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use super::brief::Brief;
use super::results::{Provenance, Results, Row};
use super::{Shard, SweepError};
use crate::claims;
use crate::compare::{Point, PointOperands};
use crate::counters::Counters;
use crate::design::Design;
use crate::hierarchy::Hierarchy;
use crate::output::Replace;
use crate::plot::BarChart;

/// `results.json` without its rows, which follow it as one JSON line each.
#[derive(Serialize)]
struct Header<'a> {
    sweep: &'a str,
    description: &'a str,
    ert: &'a str,
    backend: &'a str,
    checked: bool,
    points: usize,
    shard: Option<Shard>,
    provenance: &'a Option<Provenance>,
}

/// Writes `results.json`: the header's fields, then `rows`, one row per line, streamed.
fn write_json(results: &Results, path: &Path) -> std::io::Result<()> {
    let header = Header {
        sweep: &results.sweep,
        description: &results.description,
        ert: &results.ert,
        backend: &results.backend,
        checked: results.checked,
        points: results.points,
        shard: results.shard,
        provenance: &results.provenance,
    };
    let mut w = BufWriter::new(File::create(path)?);
    let serde_json::Value::Object(fields) = serde_json::to_value(&header)? else {
        return Err(std::io::Error::other("the header is not a JSON object"));
    };
    w.write_all(b"{\n")?;
    for (key, value) in &fields {
        let value = serde_json::to_string_pretty(value)?.replace('\n', "\n  ");
        writeln!(w, "  {}: {value},", serde_json::to_string(key)?)?;
    }
    w.write_all(b"  \"rows\": [")?;
    for (i, line) in results.row_lines()?.enumerate() {
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        w.write_all(line?.as_bytes())?;
    }
    w.write_all(b"\n  ]\n}\n")?;
    w.flush()
}

/// What a CSV column holds, for the typed rows of [`table`].
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Number,
    Text,
    Bool,
}

/// The CSV's columns, in order, with what each holds.
fn columns() -> Vec<(String, Kind)> {
    use Kind::{Bool, Number, Text};
    let fixed = |list: &[(&str, Kind)]| list.iter().map(|&(n, k)| (n.to_string(), k)).collect::<Vec<_>>();
    let mut columns = fixed(&[
        ("point", Number),
        ("layer", Text),
        ("count", Number),
        ("m", Number),
        ("k", Number),
        ("n", Number),
        ("a_sparsity", Number),
        ("b_sparsity", Number),
        ("design", Text),
        ("a", Text),
        ("b", Text),
        ("a_runs_as", Text),
        ("a_format", Text),
        ("b_format", Text),
        ("objective", Text),
        ("order", Text),
        ("backend", Text),
        ("supported", Bool),
        ("reason", Text),
    ]);
    columns.extend(Counters::NAMES.iter().map(|n| (n.to_string(), Number)));
    // The hierarchy's GLB counts share five names with the arrays' counters; a CSV column's name
    // is unique, so those are written as `hierarchy_<name>`.
    columns.extend(Hierarchy::NAMES.iter().map(|n| {
        let name = if Counters::NAMES.contains(n) { format!("hierarchy_{n}") } else { n.to_string() };
        (name, Number)
    }));
    columns.extend(fixed(&[
        ("run_cycles", Number),
        ("bound", Text),
        ("energy_pj", Number),
        ("latency_s", Number),
        ("edp", Number),
        ("speedup_over_tc", Number),
        ("cycles_vs_tc", Number),
        ("energy_vs_tc", Number),
        ("latency_vs_tc", Number),
        ("edp_vs_tc", Number),
        ("z_equals_dense", Bool),
        ("cpu_gpu_equal", Bool),
    ]));
    columns
}

/// The rows as the CSV has them: one object per row keyed by its columns, each cell typed by its
/// column (text, booleans, numbers; empty cells as null). The Python package's rows.
pub fn table(
    rows: impl Iterator<Item = std::io::Result<Row>>,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, csv::Error> {
    use serde_json::Value;
    let mut csv = Vec::new();
    write_csv(rows, &mut csv)?;
    let columns = columns();
    let cell = |kind: Kind, text: &str| -> Value {
        let number = || {
            text.parse::<i64>()
                .map(Value::from)
                .ok()
                .or_else(|| text.parse::<f64>().ok().filter(|v| v.is_finite()).map(Value::from))
        };
        match (kind, text) {
            (_, "") => Value::Null,
            (Kind::Text, _) => Value::String(text.to_string()),
            (Kind::Bool, "true") => Value::Bool(true),
            (Kind::Bool, "false") => Value::Bool(false),
            // A number that is not finite stays as written.
            _ => number().unwrap_or_else(|| Value::String(text.to_string())),
        }
    };
    csv::Reader::from_reader(csv.as_slice())
        .records()
        .map(|record| {
            Ok(columns.iter().zip(record?.iter()).map(|((h, k), v)| (h.clone(), cell(*k, v))).collect())
        })
        .collect()
}

/// The CSV: one row per point and design, every counter, and each figure normalised to TC.
pub fn write_csv<W: std::io::Write>(
    rows: impl Iterator<Item = std::io::Result<Row>>,
    out: W,
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    let header: Vec<String> = columns().into_iter().map(|(name, _)| name).collect();
    w.write_record(&header)?;
    for row in rows {
        let row = &row?;
        let p = &row.point;
        let (a_s, b_s) = match &p.operands {
            PointOperands::Degrees { a_sparsity, b_sparsity } => {
                (a_sparsity.to_string(), b_sparsity.to_string())
            }
            PointOperands::Patterns { .. } | PointOperands::Files { .. } => (String::new(), String::new()),
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
    w.flush()?;
    Ok(())
}

/// Every row in full, read back from wherever the rows are.
pub fn full_rows(results: &Results) -> std::io::Result<impl Iterator<Item = std::io::Result<Row>> + '_> {
    let rows = results.row_lines()?;
    Ok(rows.map(|line| line.and_then(|l| serde_json::from_str::<Row>(&l).map_err(std::io::Error::from))))
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
        write_json(results, &tmp.join("results.json")).map_err(|e| fail("results.json", &e))?;
        let csv = File::create(tmp.join("results.csv")).map_err(|e| fail("results.csv", &e))?;
        let rows = full_rows(results).map_err(|e| fail("results.csv", &e))?;
        write_csv(rows, BufWriter::new(csv)).map_err(|e| fail("results.csv", &e))?;
        if results.shard.is_none() {
            let mut summary = claims::summary_md(results);
            let synthetic: std::collections::BTreeSet<usize> =
                results.briefs().iter().filter(|r| r.point.is_synthetic()).map(|r| r.point_index).collect();
            summary += &fig13_left_out(synthetic.len()).unwrap_or_default();
            std::fs::write(tmp.join("summary.md"), summary).map_err(|e| fail("summary.md", &e))?;
            for chart in figures(results) {
                chart.1.write(&tmp.join(chart.0)).map_err(|e| fail(chart.0, &e))?;
            }
        }
        extra(tmp)
    })?;
    Ok(())
}

/// The most points figure 13 draws a bar group for: past this a chart is wider than any screen
/// (each group takes about 110 pixels) and its bitmap larger than the rows themselves.
pub const FIG13_MAX_POINTS: usize = 240;

/// Why figure 13 is not drawn for a sweep of `points` degree points, if it is not.
pub fn fig13_left_out(points: usize) -> Option<String> {
    (points > FIG13_MAX_POINTS).then(|| {
        format!(
            "\nFigure 13 (one bar group per point) is drawn for at most {FIG13_MAX_POINTS} points; this sweep has {points}, so it is left out. Every point is in results.csv; figure 14's geomeans cover them all.\n"
        )
    })
}

/// Figure 13 (per point, normalised EDP, energy and latency) and figure 14 (their geomeans).
fn figures(results: &Results) -> Vec<(&'static str, BarChart)> {
    let rows = results.briefs();
    let degree_points: Vec<&Point> = {
        let mut seen = std::collections::BTreeMap::new();
        for r in rows.iter().filter(|r| r.point.is_synthetic()) {
            seen.entry(r.point_index).or_insert(&*r.point);
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
    // Each point's row per design, found once.
    let by_point: std::collections::HashMap<(usize, Design), &Brief> =
        rows.iter().map(|r| ((r.point_index, r.outcome.design), r)).collect();
    let indices: Vec<usize> = {
        let mut seen = std::collections::BTreeSet::new();
        for r in rows.iter().filter(|r| r.point.is_synthetic()) {
            seen.insert(r.point_index);
        }
        seen.into_iter().collect()
    };
    let per_point = |title: &str, pick: claims::Pick| BarChart {
        title: format!("{}: {title} normalised to TC (figure 13)", results.sweep),
        caption: caption.clone(),
        y_label: format!("{title} / TC"),
        groups: degree_points.iter().map(|p| short(p)).collect(),
        series: Design::ALL
            .iter()
            .map(|&d| {
                let values = indices
                    .iter()
                    .map(|i| {
                        by_point.get(&(*i, d)).and_then(|r| r.outcome.normalised_to_tc.as_ref().map(pick))
                    })
                    .collect();
                (d.id().to_string(), values)
            })
            .collect(),
    };
    let picks = claims::FIGURES;
    let mut charts: Vec<(&'static str, BarChart)> = Vec::new();
    if fig13_left_out(degree_points.len()).is_none() {
        charts.push(("fig13_edp", per_point("EDP", picks[0].1)));
        charts.push(("fig13_energy", per_point("energy", picks[1].1)));
        charts.push(("fig13_latency", per_point("latency", picks[2].1)));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_column_name_appears_twice() {
        let columns = columns();
        let unique: std::collections::BTreeSet<&String> = columns.iter().map(|(n, _)| n).collect();
        assert_eq!(unique.len(), columns.len());
    }
}
