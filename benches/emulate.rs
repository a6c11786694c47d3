//! `cargo bench`: emulation throughput of every design at a size that suits the machine
//! (HIGHLIGHT_BENCH_SIZE, default 512), on the GPU when there is a hardware one and on the CPU
//! reference. `highlight-emu bench` measures the 1024^3 and 4096^3 points of benches/RESULTS.md.

use highlight_emu::bench::measure;
use highlight_emu::design::Design;
use highlight_emu::gpu::AdapterRequest;
use highlight_emu::run::GpuBackend;

fn main() {
    let size = std::env::var("HIGHLIGHT_BENCH_SIZE").ok().and_then(|s| s.parse().ok()).unwrap_or(512);
    let gpu = GpuBackend::open(&AdapterRequest::default()).ok();
    for (name, backend) in [("gpu", gpu.as_ref()), ("cpu", None)] {
        if name == "gpu" && backend.is_none() {
            println!("gpu: no hardware adapter, skipped");
            continue;
        }
        for design in Design::ALL {
            for a_sparsity in [0.0, 0.75] {
                match measure(design, size, a_sparsity, backend, 3) {
                    Ok(Some(r)) => println!(
                        "{name} {:<15} {size}^3 A {:>3}%: wall {:>9.2} ms, gpu {:>9} ms, {:.3e} dense-equivalent MAC/s",
                        design.id(),
                        100.0 * a_sparsity,
                        r.wall_ms,
                        r.gpu_ms.map_or("-".into(), |t| format!("{t:.3}")),
                        r.dense_equivalent_macs_per_s
                    ),
                    Ok(None) => println!(
                        "{name} {:<15} {size}^3 A {:>3}%: unsupported",
                        design.id(),
                        100.0 * a_sparsity
                    ),
                    Err(e) => println!("{name} {:<15}: {e}", design.id()),
                }
            }
        }
    }
}
