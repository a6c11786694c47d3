//! The GPU side: adapter and device set-up in one place, kernels built once, buffers and readback.

pub mod dense_product;
pub mod dstc;
pub mod highlight;
pub mod s2ta;
pub mod selfcheck;

use thiserror::Error;
use wgpu::util::DeviceExt;

use crate::counters::Counters;

/// `shaders/counters.wgsl`: the counter indices and helpers every kernel is compiled with.
pub const PRELUDE: &str = include_str!("../../shaders/counters.wgsl");

/// u32 words of one workgroup's row in a kernel's `counters` buffer (`ROW_WORDS` in
/// `shaders/counters.wgsl`): the counts in the order of `Counters::NAMES`, then the outer-loop
/// steps the workgroup completed, which [`selfcheck`] checks.
pub const ROW_WORDS: usize = Counters::NAMES.len() + 1;

/// Sums per-workgroup counter rows ([`ROW_WORDS`] words each) in u64, leaving out each row's
/// step count.
pub fn sum_partials(words: &[u32]) -> Counters {
    Counters::from_fn(|c| words.iter().skip(c).step_by(ROW_WORDS).map(|&w| u64::from(w)).sum())
}

/// u32 values as little-endian bytes, at least one word (a binding may not be empty).
pub fn pack_u32(values: impl Iterator<Item = u32>) -> Vec<u8> {
    let mut bytes: Vec<u8> = values.flat_map(u32::to_le_bytes).collect();
    bytes.resize(bytes.len().max(4), 0);
    bytes
}

/// int8 values packed four to a little-endian word, zero-padded to whole words.
pub fn pack_i8(values: &[i8]) -> Vec<u8> {
    let mut bytes: Vec<u8> = values.iter().map(|&v| v as u8).collect();
    bytes.resize(values.len().div_ceil(4).max(1) * 4, 0);
    bytes
}

/// Which adapter to open.
#[derive(Clone, Debug, Default)]
pub struct AdapterRequest {
    /// Take only an adapter whose name contains this text (case-insensitive). Naming an adapter
    /// also allows a software one (lavapipe, llvmpipe).
    pub name: Option<String>,
    /// Accept a software adapter when no hardware one is present.
    pub allow_software: bool,
}

#[derive(Debug, Error)]
pub enum GpuError {
    #[error(
        "no GPU adapter found{0}; install a Vulkan driver (on Debian: apt-get install mesa-vulkan-drivers for the software one)"
    )]
    NoAdapter(String),
    #[error("no GPU adapter matches {name:?}; available: {available}")]
    NoMatch { name: String, available: String },
    #[error("cannot open a device on {adapter}: {source}")]
    RequestDevice { adapter: String, source: wgpu::RequestDeviceError },
    #[error("readback failed: {0}")]
    Readback(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}; use --backend cpu")]
    Unsupported(String),
    /// A run whose counters or rows break what the host knows must hold ([`selfcheck`]).
    #[error("GPU self-check failed: {0}; the adapter cut the run short or lost work, so nothing is reported")]
    SelfCheck(String),
}

/// Loop iterations Mesa's software driver (llvmpipe, lavapipe) lets one shader invocation run in
/// total (`LP_MAX_TGSI_LOOP_ITERATIONS`): past it, every loop exits early and the shader runs on,
/// returning plausible, wrong results.
pub const SOFTWARE_LOOP_LIMIT: u64 = 65535;

/// An open device on one adapter.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// Loop iterations one invocation may run in total, where the adapter cuts loops short
    /// ([`SOFTWARE_LOOP_LIMIT`] on software adapters).
    pub loop_limit: Option<u64>,
}

/// Every adapter wgpu can see on the backends `WGPU_BACKEND` names (default: Vulkan, Metal, DX12).
pub fn adapters() -> Vec<wgpu::Adapter> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
    let instance = wgpu::Instance::new(desc);
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
}

/// Software rasterisers run shaders on the CPU: usable for tests, never picked unasked.
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    matches!(info.device_type, wgpu::DeviceType::Cpu | wgpu::DeviceType::Other)
}

/// One line per adapter: name, backend, device type.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
}

impl Gpu {
    /// Opens the best adapter the request allows: discrete before integrated before virtual
    /// before software.
    pub fn open(request: &AdapterRequest) -> Result<Gpu, GpuError> {
        let all = adapters();
        let available = || all.iter().map(|a| describe(&a.get_info())).collect::<Vec<_>>().join(", ");
        let mut candidates: Vec<&wgpu::Adapter> = match &request.name {
            Some(name) => {
                let wanted = name.to_lowercase();
                let found: Vec<_> =
                    all.iter().filter(|a| a.get_info().name.to_lowercase().contains(&wanted)).collect();
                if found.is_empty() {
                    let available = if all.is_empty() { "none".to_string() } else { available() };
                    return Err(GpuError::NoMatch { name: name.clone(), available });
                }
                found
            }
            None => all.iter().filter(|a| request.allow_software || !is_software(&a.get_info())).collect(),
        };
        candidates.sort_by_key(|a| match a.get_info().device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Cpu => 3,
            wgpu::DeviceType::Other => 4,
        });
        let Some(adapter) = candidates.first() else {
            let reason = if all.is_empty() {
                String::new()
            } else {
                format!(" other than software ones ({}); name one with --adapter to use it", available())
            };
            return Err(GpuError::NoAdapter(reason));
        };
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("highlight-emu"),
            // GPU time comes from timestamp queries where the adapter has them.
            required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|source| GpuError::RequestDevice { adapter: describe(&info), source })?;
        let loop_limit = is_software(&info).then_some(SOFTWARE_LOOP_LIMIT);
        Ok(Gpu { device, queue, info, loop_limit })
    }

    /// Refuses a dispatch whose invocations may loop `trips` times in total (an upper bound each
    /// kernel's host computes from its shader's loops) where the adapter would cut them short.
    pub fn check_loop_trips(&self, kernel: &str, trips: u64) -> Result<(), GpuError> {
        match self.loop_limit {
            Some(limit) if trips > limit => Err(GpuError::TooLarge(format!(
                "the {kernel} kernel may loop up to {trips} times per invocation on this shape, and {} \
                 stops a shader's loops after {limit} iterations in total (Mesa's \
                 LP_MAX_TGSI_LOOP_ITERATIONS), which would cut the run short; use --backend cpu or a \
                 hardware GPU",
                self.info.name
            ))),
            _ => Ok(()),
        }
    }

    /// A compute pipeline for `shader`'s `main`, compiled after the shared prelude
    /// ([`PRELUDE`]); its bind group layout comes from the shader, so bindings are described
    /// once, in WGSL.
    pub fn pipeline(&self, label: &str, shader: &str) -> wgpu::ComputePipeline {
        self.pipeline_with_constants(label, shader, &[])
    }

    /// [`Gpu::pipeline`] with the shader's override constants set.
    pub fn pipeline_with_constants(
        &self,
        label: &str,
        shader: &str,
        constants: &[(&str, f64)],
    ) -> wgpu::ComputePipeline {
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(format!("{PRELUDE}\n{shader}").into()),
        });
        self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions { constants, ..Default::default() },
            cache: None,
        })
    }

    /// A storage buffer holding `contents`.
    pub fn storage_buffer(&self, label: &str, contents: &[u8]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        })
    }

    /// A uniform buffer holding `contents`.
    pub fn uniform_buffer(&self, label: &str, contents: &[u8]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }

    /// A zeroed storage buffer of `size` bytes the shader writes.
    pub fn output_buffer(&self, label: &str, size: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    }

    /// Binds `buffers` to bindings 0, 1, ... of group 0 of `pipeline`.
    pub fn bind_group(&self, pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// Runs one dispatch of `pipeline` with `buffers` bound to 0, 1, ... and reads `outputs`
    /// back; also returns the dispatch's device time in ns where the adapter has timestamps.
    pub fn dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
        (x, y, z): (u32, u32, u32),
        outputs: &[&wgpu::Buffer],
    ) -> Result<(Vec<Vec<u8>>, Option<f64>), GpuError> {
        let bind_group = self.bind_group(pipeline, buffers);
        let timestamps = self.device.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        let query = timestamps.then(|| {
            self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("dispatch time"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            })
        });
        let resolved = query.as_ref().map(|_| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamps"),
                size: 16,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: query.as_ref().map(|query_set| wgpu::ComputePassTimestampWrites {
                    query_set,
                    beginning_of_pass_write_index: Some(0),
                    end_of_pass_write_index: Some(1),
                }),
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
        if let (Some(query_set), Some(resolved)) = (&query, &resolved) {
            encoder.resolve_query_set(query_set, 0..2, resolved, 0);
        }
        self.queue.submit([encoder.finish()]);
        let bytes = outputs.iter().map(|b| self.read_back(b)).collect::<Result<Vec<_>, _>>()?;
        let ns = match &resolved {
            Some(resolved) => {
                let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&self.read_back(resolved)?);
                Some(ticks[1].saturating_sub(ticks[0]) as f64 * f64::from(self.queue.get_timestamp_period()))
            }
            None => None,
        };
        Ok((bytes, ns))
    }

    /// Copies `buffer` back to the host after all submitted work is done.
    pub fn read_back(&self, buffer: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        let size = buffer.size();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        let slice = staging.slice(..);
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        slice.map_async(wgpu::MapMode::Read, move |result| sender.send(result).unwrap_or(()));
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        match pollster::block_on(receiver.receive()) {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(GpuError::Readback(e.to_string())),
            None => return Err(GpuError::Readback("the map callback never ran".into())),
        }
        let bytes = slice.get_mapped_range().map_err(|e| GpuError::Readback(e.to_string()))?.to_vec();
        staging.unmap();
        Ok(bytes)
    }
}
