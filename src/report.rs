//! Reports for people: the `run` result as readable text.

use std::fmt::Write;

use crate::compare::{Outcome, Point};
use crate::run::{Bound, RunResult};

/// Engineering notation with an SI prefix, e.g. `1.234 µJ`.
pub fn si(value: f64, unit: &str) -> String {
    const PREFIXES: &[(f64, &str)] = &[
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
        (1.0, ""),
        (1e-3, "m"),
        (1e-6, "µ"),
        (1e-9, "n"),
        (1e-12, "p"),
        (1e-15, "f"),
    ];
    let magnitude = value.abs();
    let &(scale, prefix) = PREFIXES.iter().find(|(s, _)| magnitude >= *s).unwrap_or(&(1e-15, "f"));
    format!("{:.4} {prefix}{unit}", value / scale)
}

/// The readable report of one run.
pub fn run_text(r: &RunResult) -> String {
    let w = &r.workload;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({} backend), Z[{} x {}] = A[{} x {}] x B[{} x {}], seed {}",
        r.arch,
        r.backend.id(),
        w.m,
        w.n,
        w.m,
        w.k,
        w.k,
        w.n,
        w.seed
    );
    let order = match r.order {
        crate::run::Order::AsGiven => "",
        crate::run::Order::Swapped => ", operands swapped: Z^T = B^T x A^T",
    };
    let _ = writeln!(out, "  A {} (density {:.4}, runs as {}{order})", w.a, w.a_density, r.a_runs_as);
    let _ = writeln!(out, "  B {} (density {:.4})", w.b, w.b_density);
    if let (Some(a), Some(b)) = (r.a_format, r.b_format) {
        let _ = write!(out, "  stored: A {a}, B {b}");
        if let Some(s) = &r.search {
            let mapping = if s.mapping_given { "the given mapping" } else { "mapping" };
            let _ = write!(
                out,
                "; {mapping} and formats chosen for the least {} ({} candidates, {:.1} ms)",
                s.objective.id(),
                s.candidates,
                s.ms
            );
        }
        let _ = writeln!(out);
    }
    for (name, input) in r.inputs.iter().flat_map(|i| [("A", &i.a), ("B", &i.b)]) {
        let Some(f) = input else { continue };
        let _ = write!(out, "  {name} from {} ({})", f.file, f.dtype);
        if let Some(q) = f.quantization {
            let _ = write!(
                out,
                ", quantised to int8 with scale {:e}: density {:.4} -> {:.4}",
                q.scale, q.density_before, q.density_after
            );
        }
        if !f.satisfies.is_empty() {
            let _ = write!(out, "; satisfies {}", f.satisfies.join(", "));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "cycles      {:>16}   speedup over TC {:.3}x (TC: {} cycles)",
        r.cycles, r.speedup_over_tc, r.tc_cycles
    );
    if r.bound != Bound::Compute {
        let side = r.bound.id();
        let _ =
            writeln!(out, "            bound by {side} bandwidth (the arrays: {} cycles)", r.counters.cycles);
    }
    let _ = writeln!(out, "latency     {:>16}", si(r.latency_s, "s"));
    let _ = writeln!(out, "energy      {:>16}   (energy table {})", si(r.energy_pj * 1e-12, "J"), r.ert);
    let _ = writeln!(out, "EDP         {:>16}", si(r.edp, "J·s"));
    let _ = writeln!(out, "energy breakdown:");
    for (name, pj) in &r.energy_breakdown_pj {
        let pj = pj.as_f64().unwrap_or(0.0);
        if pj > 0.0 {
            // The emulators' counters, then the hierarchy's counts (DRAM and GLB traffic).
            let count =
                r.counters.iter().chain(r.hierarchy.iter()).find(|(c, _)| c == name).map_or(0, |(_, v)| v);
            let share = 100.0 * pj / r.energy_pj;
            let _ = writeln!(out, "  {name:<22} {count:>16}  {:>14}  {share:5.1} %", si(pj * 1e-12, "J"));
        }
    }
    let verdict = match r.z_mismatch {
        None => "yes".to_string(),
        Some((m, n, z, d)) => format!("NO: Z[{m}, {n}] = {z}, dense product {d}"),
    };
    let _ = writeln!(out, "Z equals the dense product: {verdict}");
    if let Some(check) = &r.check {
        let verdict = match &check.first_difference {
            None => "yes, Z and every counter".to_string(),
            Some(d) => format!("NO: {d}"),
        };
        let _ = writeln!(out, "GPU equals the CPU reference: {verdict}");
    }
    let gpu_time = r.gpu_time_ms.map_or(String::new(), |t| format!(", GPU time {t:.3} ms"));
    let adapter = r.adapter.as_ref().map_or(String::new(), |a| format!(" on {a}"));
    let _ = writeln!(out, "emulation: wall {:.1} ms{gpu_time}{adapter}", r.wall_ms);
    if let Some(why) = &r.cpu_fallback {
        let _ = writeln!(out, "note: ran on the CPU reference: {why}");
    }
    let _ = writeln!(
        out,
        "(first-order model: pipeline fill is not modelled, bandwidth stalls only where the architecture sets [bandwidth])"
    );
    out
}

/// The readable table of `compare`: every design normalised to TC.
pub fn compare_text(p: &Point, outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Z[{} x {}] = A[{} x {}] x B[{} x {}], {}, seed {}",
        p.m,
        p.n,
        p.m,
        p.k,
        p.k,
        p.n,
        p.label(),
        p.seed
    );
    let _ = writeln!(
        out,
        "{:<15} {:<30} {:<20} {:<28} {:<8} {:>12} {:>8} {:>8} {:>8}",
        "design", "A runs as", "B", "stored A, B", "order", "cycles", "speedup", "energy", "EDP"
    );
    for o in outcomes {
        match (&o.result, &o.normalised_to_tc, &o.unsupported) {
            (Some(r), Some(n), _) => {
                let order = match r.order {
                    crate::run::Order::AsGiven => "A x B",
                    crate::run::Order::Swapped => "swapped",
                };
                let stored = match (r.a_format, r.b_format) {
                    (Some(a), Some(b)) => format!("{a}, {b}"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "{:<15} {:<30} {:<20} {:<28} {:<8} {:>12} {:>7.2}x {:>8.3} {:>8.3}",
                    o.design.id(),
                    r.a_runs_as,
                    r.workload.b,
                    stored,
                    order,
                    r.cycles,
                    n.speedup,
                    n.energy,
                    n.edp
                );
            }
            (_, _, Some(why)) => {
                let _ = writeln!(out, "{:<15} unsupported: {why}", o.design.id());
            }
            _ => {}
        }
    }
    let first = outcomes.iter().find_map(|o| o.result.as_ref());
    let _ = writeln!(
        out,
        "energy and EDP relative to TC; backend {}; energy table {}; every design at its best mapping and formats for the least {}",
        first.map_or("none", |r| r.backend.id()),
        first.map_or("", |r| r.ert.as_str()),
        first.and_then(|r| r.search.as_ref()).map_or("edp", |s| s.objective.id())
    );
    let _ = writeln!(
        out,
        "(first-order model: pipeline fill is not modelled, bandwidth stalls only where the architecture sets [bandwidth]; S2TA is the least certain)"
    );
    out
}
