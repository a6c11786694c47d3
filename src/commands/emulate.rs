//! Emulation: `run`, `compare`, `degrees`, `bench` and `devices`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Result;
use highlight_emu::api::{self, CompareRequest, Mismatch, OperandSource, RunRequest};
use highlight_emu::design::{Arch, Design};
use highlight_emu::gpu;
use highlight_emu::pattern::Pattern;
use serde_json::json;

use super::{OutOfTolerance, StdoutError, emit};
use crate::{BackendArgs, CompareArgs, RunArgs};

pub fn devices() -> Result<()> {
    let adapters = gpu::adapters();
    if adapters.is_empty() {
        outln!("no adapters (install a Vulkan driver; the software one is mesa-vulkan-drivers)");
    }
    for adapter in adapters {
        let info = adapter.get_info();
        let kind = if gpu::is_software(&info) { "software" } else { "hardware" };
        outln!("{} [{kind}]", gpu::describe(&info));
    }
    Ok(())
}

pub fn run(args: &RunArgs) -> Result<()> {
    let file = |path: &Option<std::path::PathBuf>| path.clone().map(OperandSource::File);
    let request = RunRequest {
        design: args.design,
        m: args.shape.m,
        k: args.shape.k,
        n: args.shape.n,
        a: args.a.clone(),
        b: args.b.clone(),
        a_input: file(&args.a_file),
        b_input: file(&args.b_file),
        seed: args.seed,
        search: args.search.search(None),
        mapping: args.mapping.clone(),
        swap: args.swap,
        arch: args.arch.clone(),
        backend: args.backend.backend(),
        energy: args.energy.energy(),
        save: args.save.clone(),
    };
    let out = api::run(&request)?;
    let text = if args.json {
        serde_json::to_string_pretty(&out.result)? + "\n"
    } else {
        highlight_emu::report::run_text(&out.result)
    };
    emit(&text, api::verdict(&out.result, ""))
}

pub fn compare(args: &CompareArgs) -> Result<()> {
    let file = |path: &Option<std::path::PathBuf>| path.clone().map(OperandSource::File);
    let request = CompareRequest {
        m: args.shape.m,
        k: args.shape.k,
        n: args.shape.n,
        a_input: file(&args.a_file),
        b_input: file(&args.b_file),
        a_sparsity: args.a_sparsity,
        b_sparsity: args.b_sparsity,
        seed: args.seed,
        search: args.search.search(None),
        backend: args.backend.backend(),
        energy: args.energy.energy(),
    };
    let on_terminal = std::io::stderr().is_terminal();
    let status = |text: &str| {
        if on_terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[K{text}");
        }
    };
    let compared = api::compare(&request, |design| status(&format!("emulating {} ...", design.id())))?;
    status("");
    let text = if args.json {
        serde_json::to_string_pretty(&json!({ "point": compared.point, "designs": compared.outcomes }))?
            + "\n"
    } else {
        highlight_emu::report::compare_text(&compared.point, &compared.outcomes)
    };
    emit(&text, compared.verdict())
}

pub fn degrees(design: Design, arch: Option<&Path>, as_json: bool) -> Result<()> {
    let arch = match arch {
        Some(path) => Arch::load(path)?,
        None => design.arch(),
    };
    // An architecture of another design is refused as `run` refuses it.
    if let Err(e @ highlight_emu::design::DesignError::BadArch { .. }) =
        design.machine(&arch, &Pattern::Dense, &Pattern::Dense)
    {
        return Err(e.into());
    }
    let support = highlight_emu::degrees::supported(design, &arch);
    if as_json {
        let out = json!({
            "design": design,
            "any_degree": support.any,
            "degrees": support.degrees.iter().map(|(s, p)| json!({"sparsity": s, "patterns": p})).collect::<Vec<_>>(),
            "mux_ranks": support.mux_ranks,
            "mux_inputs": support.mux_inputs(),
            "one_rank_mux_inputs": support.one_rank_mux_inputs(),
        });
        outln!("{out}");
        return Ok(());
    }
    if support.any {
        outln!("{}: any sparsity degree (operands treated as unstructured)", arch.name);
    } else {
        outln!("{}: {} sparsity degrees", arch.name, support.degrees.len());
    }
    for (sparsity, patterns) in &support.degrees {
        outln!("  {:>6.2} %  {}", 100.0 * sparsity, patterns.join(", "));
    }
    if !support.mux_ranks.is_empty() {
        for r in &support.mux_ranks {
            outln!("rank {}: {} muxes of {} inputs", r.rank, r.g, r.h_max);
        }
        outln!(
            "mux inputs: {} (sum of G x H_max per rank); a one-rank design of the same flexibility: {} ({:.1}x)",
            support.mux_inputs(),
            support.one_rank_mux_inputs(),
            f64::from(support.one_rank_mux_inputs()) / f64::from(support.mux_inputs())
        );
    }
    Ok(())
}

pub fn bench(
    sizes: &[usize],
    designs: &[Design],
    repeats: usize,
    backend: &BackendArgs,
    as_json: bool,
) -> Result<()> {
    let gpu = backend.open()?;
    let designs = if designs.is_empty() { Design::ALL.to_vec() } else { designs.to_vec() };
    let mut rows = Vec::new();
    if !as_json {
        outln!(
            "{:<15} {:>6} {:>8} {:>11} {:>11} {:>14} {:>14} {:>12} {:>9}",
            "design",
            "size",
            "A",
            "GPU ms",
            "wall ms",
            "effectual/s",
            "dense-eq/s",
            "cycles/s",
            "/ plain"
        );
    }
    for &size in sizes {
        // The hardware's own limit on this backend: the plain int8 product of the same shape.
        let plain = highlight_emu::bench::plain_ms(size, gpu.as_ref(), repeats)?;
        if !as_json {
            outln!("{:<15} {size:>6} {:>8} {:>11.3}", "plain int8", "dense", plain);
        }
        for &design in &designs {
            for a_sparsity in [0.0, 0.75] {
                let Some(mut row) = highlight_emu::bench::measure_checked(
                    design,
                    size,
                    a_sparsity,
                    gpu.as_ref(),
                    repeats,
                    backend.check,
                )?
                else {
                    if !as_json {
                        outln!("{:<15} {size:>6} {:>7}% unsupported", design.id(), 100.0 * a_sparsity);
                    }
                    continue;
                };
                row.plain_ms = Some(plain);
                row.ratio_to_plain = Some(row.gpu_ms.unwrap_or(row.wall_ms) / plain);
                if !as_json {
                    let checked = match &row.check {
                        Some(c) if c.cpu_gpu_equal && c.z_equals_dense => "  GPU = CPU",
                        Some(_) => "  mismatch",
                        None => "",
                    };
                    outln!(
                        "{:<15} {size:>6} {:>7}% {:>11} {:>11.2} {:>14.3e} {:>14.3e} {:>12.3e} {:>8.1}x{checked}",
                        design.id(),
                        100.0 * a_sparsity,
                        row.gpu_ms.map_or("-".into(), |t| format!("{t:.3}")),
                        row.wall_ms,
                        row.effectual_macs_per_s,
                        row.dense_equivalent_macs_per_s,
                        row.cycles_per_s,
                        row.ratio_to_plain.unwrap_or(f64::NAN)
                    );
                }
                rows.push(row);
            }
        }
    }
    if as_json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let on = gpu.as_ref().map_or("the CPU reference".to_string(), |g| gpu::describe(&g.gpu.info));
        outln!(
            "(on {on}; per-second figures use the GPU time where there is one, else the wall time; / plain: that time over the plain int8 product's of the same shape on the same backend)"
        );
        if backend.check {
            outln!(
                "(checked: each point's GPU run against the CPU reference, Z and every counter, and Z against the dense product)"
            );
        }
    }
    for row in &rows {
        let point = format!("{} {} A {} %", row.design.id(), row.size, 100.0 * row.a_sparsity);
        if let Some(check) = &row.check {
            if let Some(d) = &check.first_difference {
                return Err(Mismatch(format!("{point}: GPU and CPU differ: {d}")).into());
            }
            if !check.z_equals_dense {
                return Err(Mismatch(format!("{point}: Z differs from the dense product")).into());
            }
        }
    }
    Ok(())
}

pub fn validate(dir: &Path, backend: &BackendArgs, as_json: bool) -> Result<()> {
    let gpu = backend.open()?;
    let on_terminal = std::io::stderr().is_terminal();
    let reports = highlight_emu::validate::validate(dir, gpu.as_ref(), |point| {
        if on_terminal {
            let _ = write!(std::io::stderr(), "\r\x1b[Kvalidating {point} ...");
        }
    })?;
    if on_terminal {
        let _ = write!(std::io::stderr(), "\r\x1b[K");
    }
    let text = if as_json {
        serde_json::to_string_pretty(&reports)? + "\n"
    } else {
        let figures: usize = reports.iter().map(|r| r.figures_checked()).sum();
        format!(
            "{}\nchecked {} points, {figures} figures held to a tolerance\n",
            highlight_emu::validate::table(&reports),
            reports.len()
        )
    };
    let failed: Vec<&str> = reports.iter().filter(|r| !r.ok).map(|r| r.point.as_str()).collect();
    let verdict = match failed.len() {
        0 => Ok(()),
        n => Err(OutOfTolerance(format!(
            "{n} of {} points outside tolerance: {}",
            reports.len(),
            failed.join(", ")
        ))
        .into()),
    };
    emit(&text, verdict)
}
