//! The paper's claims (docs/DESIGN.md 9), each beside the emulator's own figure from a sweep and
//! whether they agree. Nothing here tunes the model: a disagreement is reported as such.

use std::fmt::Write;

use crate::compare::{Normalised, PointOperands};
use crate::design::Design;
use crate::pattern::Pattern;
use crate::sweep::{Brief, BriefResult, Results};

/// One claim, checked.
pub struct Claim {
    pub claim: &'static str,
    pub paper: &'static str,
    pub emulator: String,
    /// `None`: the sweep holds no points that test it.
    pub agrees: Option<bool>,
}

/// The designs HighLight is compared with (HighLight-DSSO is its own variant).
const OTHERS: [Design; 4] = [Design::Tc, Design::Stc, Design::Dstc, Design::S2ta];

fn degree_rows(rows: &[Brief], a: f64, b: f64) -> impl Iterator<Item = &Brief> {
    rows.iter().filter(move |r| {
        r.point.is_synthetic()
            && matches!(r.point.operands, PointOperands::Degrees { a_sparsity, b_sparsity } if a_sparsity == a && b_sparsity == b)
    })
}

fn norm(row: &Brief) -> Option<&Normalised> {
    row.outcome.normalised_to_tc.as_ref()
}

/// Picks one normalised figure (EDP, energy or latency).
pub type Pick = fn(&Normalised) -> f64;

/// The figures of figures 13 and 14, by name.
pub const FIGURES: [(&str, Pick); 3] =
    [("EDP", |n| n.edp), ("energy", |n| n.energy), ("latency", |n| n.latency)];

/// Geometric mean of each design's normalised figure over the degree points it ran.
pub fn geomeans(results: &Results, pick: Pick) -> Vec<(Design, Option<f64>)> {
    let rows = results.briefs();
    Design::ALL
        .iter()
        .map(|&d| {
            let values: Vec<f64> = rows
                .iter()
                .filter(|r| r.outcome.design == d && r.point.is_synthetic())
                .filter_map(|r| norm(r).map(&pick))
                .collect();
            let g = (!values.is_empty())
                .then(|| (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp());
            (d, g)
        })
        .collect()
}

/// Every claim of docs/DESIGN.md 9 against `results`.
pub fn check(results: &Results) -> Vec<Claim> {
    let rows = results.briefs();
    let mut claims = Vec::new();
    let at = |d: Design, a: f64, b: f64| degree_rows(rows, a, b).find(|r| r.outcome.design == d);

    let parity = at(Design::Highlight, 0.0, 0.0).and_then(norm).map(|n| n.edp);
    claims.push(Claim {
        claim: "HighLight on dense x dense is at EDP parity with TC",
        paper: "at parity for dense layers",
        emulator: parity.map_or("no dense x dense point".into(), |e| format!("EDP {e:.3}x TC's")),
        agrees: parity.map(|e| (e - 1.0).abs() <= 0.1),
    });

    let balance: Vec<f64> = rows
        .iter()
        .filter(|r| r.outcome.design == Design::Highlight && r.point.is_synthetic())
        .filter_map(|r| {
            let result = r.outcome.result.as_ref()?;
            let density = Pattern::parse(&result.a_runs_as).ok()?.density()?;
            Some((norm(r)?.cycles - density).abs())
        })
        .collect();
    claims.push(Claim {
        claim: "HighLight's cycles are TC's times density(A) (perfect balance)",
        paper: "speedup is the product of the per-rank speedups",
        emulator: format!(
            "largest deviation {:.2e} over {} points",
            balance.iter().cloned().fold(0.0, f64::max),
            balance.len()
        ),
        agrees: (!balance.is_empty()).then(|| balance.iter().all(|&d| d < 1e-9)),
    });

    let stc: Vec<f64> = rows
        .iter()
        .filter(|r| r.outcome.design == Design::Stc)
        .filter_map(|r| norm(r).map(|n| n.speedup))
        .collect();
    let stc_max = stc.iter().cloned().fold(0.0, f64::max);
    claims.push(Claim {
        claim: "STC never gets more than 2x over TC",
        paper: "at most 2x",
        emulator: format!("largest STC speedup {stc_max:.3}x over {} points", stc.len()),
        agrees: (!stc.is_empty()).then_some(stc_max <= 2.0 + 1e-9),
    });

    let s2ta_dense = at(Design::S2ta, 0.0, 0.0);
    claims.push(Claim {
        claim: "S2TA cannot run dense A",
        paper: "cannot run dense layers",
        emulator: s2ta_dense.map_or("no dense x dense point".into(), |r| match &r.outcome.unsupported {
            Some(_) => "unsupported on dense x dense".into(),
            None => "ran dense x dense".into(),
        }),
        agrees: s2ta_dense.map(|r| r.outcome.unsupported.is_some()),
    });

    let dstc = at(Design::Dstc, 0.0, 0.0).and_then(norm).map(|n| n.energy);
    claims.push(Claim {
        claim: "DSTC spends more energy than TC on dense x dense (its sparsity tax)",
        paper: "sparsity tax on dense layers",
        emulator: dstc.map_or("no dense x dense point".into(), |e| format!("energy {e:.3}x TC's")),
        agrees: dstc.map(|e| e > 1.0),
    });

    let dsso: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.outcome.design == Design::HighlightDsso)
        .filter_map(|r| {
            let result = r.outcome.result.as_ref()?;
            if !result.a_runs_as.starts_with("dual-side") {
                return None;
            }
            let hl = rows
                .iter()
                .find(|h| h.point_index == r.point_index && h.outcome.design == Design::Highlight)?;
            let h1 = Pattern::parse(&result.workload.b).ok()?.ruled_ranks().first()?.h;
            Some((hl.outcome.result.as_ref()?.cycles as f64 / result.cycles as f64, f64::from(h1) / 2.0))
        })
        .collect();
    claims.push(Claim {
        claim: "HighLight-DSSO is H1/2 times faster than HighLight on the figure 17 workloads",
        paper: "2x at H1 = 4",
        emulator: if dsso.is_empty() {
            "no figure 17 points in this sweep".into()
        } else {
            dsso.iter().map(|(got, want)| format!("{got:.2}x (H1/2 = {want})")).collect::<Vec<_>>().join(", ")
        },
        agrees: (!dsso.is_empty()).then(|| dsso.iter().all(|(got, want)| (got - want).abs() < 1e-9)),
    });

    for (what, pick) in FIGURES {
        let g = geomeans(results, pick);
        let of = |d: Design| g.iter().find(|(x, _)| *x == d).and_then(|(_, v)| *v);
        let hl = of(Design::Highlight);
        let best_other =
            OTHERS.iter().filter_map(|&d| of(d).map(|v| (d, v))).min_by(|a, b| a.1.total_cmp(&b.1));
        let agrees = match (hl, best_other) {
            // "Comparable-to-best speed": latency within 10 % of the best other design's.
            (Some(h), Some((_, o))) if what == "latency" => Some(h <= o * 1.1),
            (Some(h), Some((_, o))) => Some(h <= o),
            _ => None,
        };
        claims.push(Claim {
            claim: match what {
                "EDP" => "HighLight has the best geomean EDP over the synthetic sweep (figures 13, 14)",
                "energy" => "HighLight has the best geomean energy over the synthetic sweep",
                _ => "HighLight's geomean latency is comparable to the best",
            },
            paper: "figure 14",
            emulator: match (hl, best_other) {
                (Some(h), Some((d, o))) => format!("HighLight {h:.3}x TC; best other {} {o:.3}x", d.id()),
                _ => "no degree points".into(),
            },
            agrees,
        });
    }

    let mut points = 0;
    let mut best = 0;
    for index in rows
        .iter()
        .filter(|r| r.point.is_synthetic())
        .map(|r| r.point_index)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let edp = |d: Design| {
            rows.iter()
                .find(|r| r.point_index == index && r.outcome.design == d)
                .and_then(norm)
                .map(|n| n.edp)
        };
        if let Some(h) = edp(Design::Highlight) {
            points += 1;
            best += usize::from(OTHERS.iter().all(|&d| edp(d).is_none_or(|o| h <= o)));
        }
    }
    claims.push(Claim {
        claim: "HighLight has the best EDP at every point of the synthetic sweep",
        paper: "best EDP at every point",
        emulator: format!("best at {best} of {points} points"),
        agrees: (points > 0).then_some(best == points),
    });
    let (dense, sparse) = dnn_gains(results);
    let describe = |g: &[f64]| {
        let geo = (g.iter().map(|v| v.ln()).sum::<f64>() / g.len() as f64).exp();
        (geo, g.iter().cloned().fold(0.0, f64::max))
    };
    claims.push(if dense.is_empty() {
        Claim {
            claim: "Geomean 6.4x (up to 20.4x) lower EDP than dense designs, 2.7x (up to 5.9x) than sparse ones, across DNN layers",
            paper: "6.4x / 2.7x",
            emulator: "no DNN layers in this sweep (see workloads/resnet50.toml and others)".into(),
            agrees: None,
        }
    } else {
        let ((gd, md), (gs, ms)) = (describe(&dense), describe(&sparse));
        let versus_sparse = if sparse.is_empty() {
            "no other sparse design ran".to_string()
        } else {
            format!("{gs:.2}x (up to {ms:.2}x) vs the best sparse design")
        };
        Claim {
            claim: "Geomean 6.4x (up to 20.4x) lower EDP than dense designs, 2.7x (up to 5.9x) than sparse ones, across DNN layers",
            paper: "6.4x / 2.7x",
            emulator: format!("{gd:.2}x (up to {md:.2}x) vs TC, {versus_sparse}, over {} layer points", dense.len()),
            // Agreement: the same direction and within a factor of 2 of the paper's geomeans.
            agrees: (!sparse.is_empty()).then_some(gd / 6.4 > 0.5 && gd / 6.4 < 2.0 && gs / 2.7 > 0.5 && gs / 2.7 < 2.0),
        }
    });
    claims
}

/// HighLight's EDP gain at every DNN layer point: over TC, and over the best sparse design
/// (STC, DSTC, S2TA) that ran the point.
fn dnn_gains(results: &Results) -> (Vec<f64>, Vec<f64>) {
    let rows = results.briefs();
    let indices: std::collections::BTreeSet<usize> =
        rows.iter().filter(|r| r.point.layer.is_some()).map(|r| r.point_index).collect();
    let mut dense = Vec::new();
    let mut sparse = Vec::new();
    for index in indices {
        let edp = |d: Design| {
            rows.iter()
                .find(|r| r.point_index == index && r.outcome.design == d)?
                .outcome
                .result
                .as_ref()
                .map(|r| r.edp)
        };
        let (Some(hl), Some(tc)) = (edp(Design::Highlight), edp(Design::Tc)) else { continue };
        dense.push(tc / hl);
        if let Some(best) =
            [Design::Stc, Design::Dstc, Design::S2ta].iter().filter_map(|&d| edp(d)).min_by(f64::total_cmp)
        {
            sparse.push(best / hl);
        }
    }
    (dense, sparse)
}

/// One design's whole network at one weight sparsity: energy and latency summed over the layers
/// (times their counts), each normalised to TC's, and EDP = energy x latency likewise.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub weight_sparsity: f64,
    pub design: Design,
    /// `None` when the design could not run every layer.
    pub energy: Option<f64>,
    pub latency: Option<f64>,
    pub edp: Option<f64>,
    pub layers_run: usize,
    pub layers: usize,
}

/// The whole-network figures of every design the results hold, per weight sparsity.
pub fn networks(results: &Results) -> Vec<Network> {
    let rows = results.briefs();
    let mut by_sparsity: std::collections::BTreeMap<u64, Vec<&Brief>> = std::collections::BTreeMap::new();
    for r in rows.iter().filter(|r| r.point.layer.is_some()) {
        if let PointOperands::Degrees { a_sparsity, .. } = r.point.operands {
            by_sparsity.entry((a_sparsity * 1e6).round() as u64).or_default().push(r);
        }
    }
    let mut out = Vec::new();
    for (key, at_sparsity) in &by_sparsity {
        let key = *key;
        let layers =
            at_sparsity.iter().map(|r| r.point_index).collect::<std::collections::BTreeSet<_>>().len();
        let total = |d: Design| {
            let ran: Vec<_> = at_sparsity
                .iter()
                .filter(|r| r.outcome.design == d)
                .filter_map(|r| Some((r.outcome.result.as_ref()?, r.point.layer.as_ref()?.count as f64)))
                .collect();
            let energy: f64 = ran.iter().map(|(r, c)| r.energy_pj * c).sum();
            let latency: f64 = ran.iter().map(|(r, c)| r.latency_s * c).sum();
            (energy, latency, ran.len())
        };
        let (tc_e, tc_l, _) = total(Design::Tc);
        // Only the designs the results hold (a model run may take a few).
        for d in Design::ALL.into_iter().filter(|&d| rows.iter().any(|r| r.outcome.design == d)) {
            let (e, l, n) = total(d);
            let whole = n == layers;
            out.push(Network {
                weight_sparsity: key as f64 / 1e6,
                design: d,
                energy: whole.then(|| e / tc_e),
                latency: whole.then(|| l / tc_l),
                edp: whole.then(|| e * l / (tc_e * tc_l)),
                layers_run: n,
                layers,
            });
        }
    }
    out
}

/// The whole-network table of `summary.md`.
fn networks_md(results: &Results) -> String {
    let networks = networks(results);
    if networks.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## Whole network\n\nEnergy and latency summed over the layers (each times its count), EDP = energy x latency, normalised to TC at the same weight sparsity. A design missing a layer is left out of that sparsity.\n\n| weight sparsity | design | energy | latency | EDP | layers run |\n|---|---|---|---|---|---|\n",
    );
    for n in networks {
        let percent = n.weight_sparsity * 100.0;
        let _ = match (n.energy, n.latency, n.edp) {
            (Some(e), Some(l), Some(edp)) => writeln!(
                out,
                "| {percent} % | {} | {e:.3} | {l:.3} | {edp:.3} | {} |",
                n.design.id(),
                n.layers_run
            ),
            _ => writeln!(
                out,
                "| {percent} % | {} | unsupported on {} of {} layers | | | {} |",
                n.design.id(),
                n.layers - n.layers_run,
                n.layers,
                n.layers_run
            ),
        };
    }
    out
}

/// The claims as Markdown.
pub fn summary_md(results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}: the paper's claims beside the emulator's figures\n", results.sweep);
    if !results.description.is_empty() {
        let _ = writeln!(out, "{}\n", results.description);
    }
    let _ = writeln!(
        out,
        "Energy table `{}`; backend {}{}. First-order model: pipeline fill is not modelled, and bandwidth stalls only where the architecture sets `[bandwidth]` (the shipped ones do not); S2TA is the least certain model. Geomeans are over the degree points each design ran.\n",
        results.ert,
        results.backend,
        if results.checked { ", every point cross-checked against the CPU reference" } else { "" }
    );
    let _ = writeln!(out, "| claim | paper | emulator | agrees |\n|---|---|---|---|");
    for c in check(results) {
        let agrees = match c.agrees {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not tested",
        };
        let _ = writeln!(out, "| {} | {} | {} | {agrees} |", c.claim, c.paper, c.emulator);
    }
    out + &footing_md(results) + &networks_md(results)
}

/// What every verdict stands on: per design, the objective its mapping and formats were chosen
/// for, and how often each format was chosen for A and B (docs/DESIGN.md 5 and 11).
fn footing_md(results: &Results) -> String {
    let rows = results.briefs();
    let mut out = String::from(
        "\n## The footing of each verdict\n\nEvery design ran at the best mapping, machine loops (column tile, DSTC's sub-tile) and operand formats its hardware allows, under one objective; formats as chosen, with how many runs chose each.\n\n| design | objective | A stored as | B stored as | runs |\n|---|---|---|---|---|\n",
    );
    for design in Design::ALL {
        let runs: Vec<&BriefResult> = rows
            .iter()
            .filter(|r| r.outcome.design == design)
            .filter_map(|r| r.outcome.result.as_ref())
            .collect();
        if runs.is_empty() {
            continue;
        }
        let tally = |format: fn(&BriefResult) -> Option<crate::format::Format>| {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for r in &runs {
                let name = format(r).map_or("not recorded".to_string(), |f| f.id().to_string());
                match counts.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((name, 1)),
                }
            }
            counts.iter().map(|(n, c)| format!("{n} ({c})")).collect::<Vec<_>>().join(", ")
        };
        let mut objectives: Vec<&str> =
            runs.iter().map(|r| r.objective.map_or("not recorded", |o| o.id())).collect();
        objectives.sort_unstable();
        objectives.dedup();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            design.id(),
            objectives.join(", "),
            tally(|r| r.a_format),
            tally(|r| r.b_format),
            runs.len()
        );
    }
    out
}
