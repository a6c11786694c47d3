//! Figure 15 (issue 12): each design's whole-network EDP, normalised to TC, against the accuracy
//! loss the user measured for it (accuracy needs training, which the emulator does not do), with
//! the Pareto frontier: the points no other point beats in both.
//!
//! The table (`--accuracy FILE.csv`): columns `design`, `weight_sparsity` (or `pattern`: the A
//! pattern the design ran), `accuracy_loss`. Every row must match an emulated whole network.

use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

use crate::claims::{Network, networks};
use crate::design::Design;
use crate::plot::Scatter;
use crate::sweep::Results;

#[derive(Debug, Error)]
pub enum AccuracyError {
    #[error(
        "--accuracy {path}: {message}; accepted: CSV with columns design, weight_sparsity (or pattern), accuracy_loss"
    )]
    Bad { path: String, message: String },
}

#[derive(Debug, Deserialize)]
struct Entry {
    design: String,
    #[serde(default)]
    weight_sparsity: Option<f64>,
    #[serde(default)]
    pattern: Option<String>,
    accuracy_loss: f64,
}

/// One design at one weight sparsity: its whole-network EDP over TC's and its accuracy loss.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub design: Design,
    pub weight_sparsity: f64,
    pub edp: f64,
    pub accuracy_loss: f64,
    /// No other point has both a lower (or equal) loss and a lower (or equal) EDP, one lower.
    pub on_frontier: bool,
}

/// Every row of the table, each checked on its own (design known, accuracy_loss finite,
/// weight_sparsity one of the degree table's, a pattern that parses), from a bounded read.
fn entries(path: &Path) -> Result<Vec<(Design, Entry)>, AccuracyError> {
    let bad = |message: String| AccuracyError::Bad { path: path.display().to_string(), message };
    let bytes = crate::text::read_bytes(path).map_err(|e| bad(e.to_string()))?;
    let known = crate::degrees::DegreeTable::shipped().a_sparsities();
    let mut out = Vec::new();
    for (i, row) in csv::Reader::from_reader(&bytes[..]).deserialize::<Entry>().enumerate() {
        let row: Entry = row.map_err(|e| bad(format!("row {}: {e}", i + 1)))?;
        let design = Design::ALL.into_iter().find(|d| d.id() == row.design).ok_or_else(|| {
            bad(format!(
                "row {}: design {:?} is none of tc, stc, dstc, s2ta, highlight, highlight-dsso",
                i + 1,
                row.design
            ))
        })?;
        if !row.accuracy_loss.is_finite() {
            return Err(bad(format!(
                "row {}: accuracy_loss {} must be a finite number",
                i + 1,
                row.accuracy_loss
            )));
        }
        match (row.weight_sparsity, &row.pattern) {
            (Some(s), _) if !known.iter().any(|k| (k - s).abs() < 1e-6) => {
                return Err(bad(format!(
                    "row {}: weight_sparsity {s} is none of the degree table's {known:?}",
                    i + 1
                )));
            }
            (None, Some(p)) => {
                crate::pattern::Pattern::parse(p)
                    .map_err(|e| bad(format!("row {}: pattern {p:?}: {e}", i + 1)))?;
            }
            (None, None) => return Err(bad(format!("row {}: give weight_sparsity or pattern", i + 1))),
            _ => {}
        }
        out.push((design, row));
    }
    if out.is_empty() {
        return Err(bad("no rows".into()));
    }
    Ok(out)
}

/// Reads the table without matching it, so that a bad file fails before any emulation.
pub fn check_file(path: &Path) -> Result<(), AccuracyError> {
    entries(path).map(|_| ())
}

/// Reads the table and matches every row with an emulated whole network.
pub fn points(path: &Path, results: &Results) -> Result<Vec<Point>, AccuracyError> {
    let bad = |message: String| AccuracyError::Bad { path: path.display().to_string(), message };
    let networks = networks(results);
    let mut out = Vec::new();
    for (i, (design, row)) in entries(path)?.into_iter().enumerate() {
        let sparsity = match (row.weight_sparsity, &row.pattern) {
            (Some(s), _) => s,
            (None, Some(p)) => pattern_sparsity(results, design, p)
                .ok_or_else(|| bad(format!("row {}: {} never ran A = {p}", i + 1, design.id())))?,
            (None, None) => return Err(bad(format!("row {}: give weight_sparsity or pattern", i + 1))),
        };
        let network: Option<&Network> =
            networks.iter().find(|n| n.design == design && (n.weight_sparsity - sparsity).abs() < 1e-6);
        let edp = network.and_then(|n| n.edp).ok_or_else(|| {
            bad(format!(
                "row {}: no emulated whole network of {} at weight sparsity {sparsity}",
                i + 1,
                design.id()
            ))
        })?;
        out.push(Point {
            design,
            weight_sparsity: sparsity,
            edp,
            accuracy_loss: row.accuracy_loss,
            on_frontier: false,
        });
    }
    let dominated = |p: &Point| {
        out.iter().any(|q| {
            q.accuracy_loss <= p.accuracy_loss
                && q.edp <= p.edp
                && (q.accuracy_loss < p.accuracy_loss || q.edp < p.edp)
        })
    };
    let frontier: Vec<bool> = out.iter().map(|p| !dominated(p)).collect();
    for (p, on) in out.iter_mut().zip(frontier) {
        p.on_frontier = on;
    }
    Ok(out)
}

/// The weight sparsity at which `design`'s layers ran A as `pattern`.
fn pattern_sparsity(results: &Results, design: Design, pattern: &str) -> Option<f64> {
    results.briefs().iter().find_map(|r| {
        let res = r.outcome.result.as_ref()?;
        match r.point.operands {
            crate::compare::PointOperands::Degrees { a_sparsity, .. }
                if r.outcome.design == design && &*res.workload.a == pattern =>
            {
                Some(a_sparsity)
            }
            _ => None,
        }
    })
}

/// The `summary.md` section: every point and which designs sit on the frontier.
pub fn summary_md(points: &[Point]) -> String {
    let mut out = String::from(
        "\n## EDP against accuracy (figure 15)\n\nWhole-network EDP normalised to TC against the accuracy loss given in --accuracy; the Pareto frontier holds the points no other point beats in both.\n\n| design | weight sparsity | accuracy loss | EDP / TC | on the frontier |\n|---|---|---|---|---|\n",
    );
    for p in points {
        let _ = writeln!(
            out,
            "| {} | {} % | {} | {:.3} | {} |",
            p.design.id(),
            p.weight_sparsity * 100.0,
            p.accuracy_loss,
            p.edp,
            if p.on_frontier { "yes" } else { "" }
        );
    }
    let on: Vec<&str> = Design::ALL
        .into_iter()
        .filter(|d| points.iter().any(|p| p.on_frontier && p.design == *d))
        .map(Design::id)
        .collect();
    let highlight = points.iter().any(|p| p.on_frontier && p.design == Design::Highlight);
    let _ = writeln!(
        out,
        "\nOn the frontier: {}. The paper's claim, HighLight sits on it: {}.",
        on.join(", "),
        if highlight { "yes" } else { "**no**" }
    );
    out
}

/// Figure 15 as a scatter.
pub fn figure(points: &[Point], results: &Results) -> Scatter {
    let series = Design::ALL
        .into_iter()
        .filter(|d| points.iter().any(|p| p.design == *d))
        .map(|d| {
            let pts = points
                .iter()
                .filter(|p| p.design == d)
                .map(|p| (p.accuracy_loss, p.edp, p.on_frontier))
                .collect();
            (d.id().to_string(), pts)
        })
        .collect();
    Scatter {
        title: format!("{}: EDP against accuracy loss (figure 15)", results.sweep),
        caption: format!(
            "Each point: a design at one weight sparsity, its whole-network EDP / TC's and the accuracy loss given; filled and joined: the Pareto frontier.\nEnergy table {}; backend {}.",
            results.ert, results.backend
        ),
        x_label: "accuracy loss".into(),
        y_label: "EDP / TC".into(),
        series,
        lines: false,
    }
}
