//! `model`: an ONNX model's layers, captured with their real weights and activations, on every
//! design.

use anyhow::Result;
use highlight_emu::api::{self, ModelRequest};

use super::emit;
use super::sweeps::report;
use crate::ModelArgs;

pub fn model(args: &ModelArgs) -> Result<()> {
    let request = ModelRequest {
        model: args.model.clone(),
        input_files: args.input.clone(),
        input_arrays: Vec::new(),
        input_shapes: args.input_shape.clone(),
        image: args.image.clone(),
        size: args.size.clone(),
        mean: args.mean.clone(),
        std: args.std.clone(),
        seed: args.seed,
        activations: args.activations,
        weight_sparsity: args.weight_sparsity.clone(),
        designs: args.designs.clone(),
        out: Some(args.out.clone()),
        export_workload: args.export_workload.clone(),
        accuracy: args.accuracy.clone(),
        shard: args.shard,
        capture_only: args.capture_only,
        objective: args.objective,
        backend: args.backend.backend(),
        energy: args.energy.energy(),
    };
    let out = api::model_out(&request).expect("the CLI always writes");
    match api::model(&request)? {
        (Some(study), _, _) => report(&study.results, &out, &study.fig15_md),
        (None, captured, nodes) => emit(
            &format!("{captured} of {nodes} nodes captured; wrote {}/layers.csv\n", out.display()),
            Ok(()),
        ),
    }
}
