//! Writes a kernel's SPIR-V as naga emits it for Vulkan (the prelude in front, override constants
//! applied, indices clamped into arrays), for counting instructions with `spirv-opt -O` and
//! `spirv-dis` (benches/spirv-loops.py, benches/RESULTS.md).
//!
//! `cargo run --release --example spirv -- shaders/highlight.wgsl G1=2,H1=4,... out.spv`

use highlight_emu::gpu::PRELUDE;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [shader, constants, out] = args.as_slice() else {
        return Err("usage: spirv SHADER.wgsl NAME=VALUE,... OUT.spv (constants may be empty: \"\")".into());
    };
    let source = std::fs::read_to_string(shader)?;
    let mut pipeline_constants = naga::back::PipelineConstants::default();
    for pair in constants.split(',').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').ok_or_else(|| format!("{pair}: expected NAME=VALUE"))?;
        pipeline_constants.insert(name.to_string(), value.parse()?);
    }
    let module = naga::front::wgsl::parse_str(&format!("{PRELUDE}\n{source}"))?;
    let info =
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&module)?;
    let stage = Some((naga::ShaderStage::Compute, "main"));
    let (module, info) =
        naga::back::pipeline_constants::process_overrides(&module, &info, stage, &pipeline_constants)?;
    let mut options = naga::back::spv::Options { lang_version: (1, 3), ..Default::default() };
    options.bounds_check_policies.index = naga::proc::BoundsCheckPolicy::Restrict;
    let entry = naga::back::spv::PipelineOptions {
        shader_stage: naga::ShaderStage::Compute,
        entry_point: "main".into(),
    };
    let words = naga::back::spv::write_vec(&module, &info, &options, Some(&entry))?;
    std::fs::write(out, bytemuck::cast_slice::<u32, u8>(&words))?;
    Ok(())
}
