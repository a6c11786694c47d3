//! The tensor-core kernel's settings: how it gathers, tiles and splits its work on a device,
//! chosen per adapter, overridden by environment variables to measure the alternatives, and set
//! by tests to exercise each on one device.

use super::tiling::columns_of;
use super::{HighlightKernel, MAX_COLUMNS, MAX_SLOTS_PER_DISPATCH};
use crate::gpu::Gpu;

impl HighlightKernel {
    /// The kernel for a device, its pipelines built per configuration on first use: on hardware
    /// GPUs the window in workgroup memory, K split for small shapes, double-buffered A and two
    /// columns per invocation; on software adapters a private window, no splits, single-buffered
    /// A and four columns (the fastest on lavapipe, benches/RESULTS.md); one array per workgroup
    /// on both. `HIGHLIGHT_GATHER=private|workgroup`, `HIGHLIGHT_K_SPLITS=N`,
    /// `HIGHLIGHT_DOUBLE_BUFFER=0|1`, `HIGHLIGHT_ARRAYS_PER_WORKGROUP=N` and
    /// `HIGHLIGHT_COLUMNS=1..4` override them, to measure the alternatives on one device.
    pub fn new(gpu: &Gpu) -> Self {
        let hardware = gpu.info.device_type != wgpu::DeviceType::Cpu;
        let window_shared = match std::env::var("HIGHLIGHT_GATHER").as_deref() {
            Ok("private") => false,
            Ok("workgroup") => true,
            _ => hardware,
        };
        let number =
            |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|&n: &usize| n >= 1);
        HighlightKernel {
            pipelines: Default::default(),
            binding_limit: None,
            max_slots_per_dispatch: MAX_SLOTS_PER_DISPATCH,
            k_splits: number("HIGHLIGHT_K_SPLITS"),
            window_shared,
            arrays_per_workgroup: number("HIGHLIGHT_ARRAYS_PER_WORKGROUP").unwrap_or(1),
            columns: columns_of(number("HIGHLIGHT_COLUMNS").unwrap_or(if hardware {
                2
            } else {
                MAX_COLUMNS
            })),
            double_buffer: match std::env::var("HIGHLIGHT_DOUBLE_BUFFER").as_deref() {
                Ok("1") => true,
                Ok("0") => false,
                _ => hardware,
            },
        }
    }

    /// Emulates at most `slots` MAC slots per dispatch (at least one row group): to exercise the
    /// watchdog's split on a small shape.
    pub fn with_max_slots_per_dispatch(mut self, slots: u64) -> Self {
        self.max_slots_per_dispatch = slots;
        self
    }

    /// Splits K between `splits` workgroups (at most one per k-step) that add their partial sums
    /// into Z, whatever the shape and adapter: to test splitting on one.
    pub fn with_k_splits(mut self, splits: usize) -> Self {
        self.k_splits = Some(splits.max(1));
        self
    }

    /// Gathers from the window in workgroup memory (`true`) or a private array, whatever the
    /// adapter: to test both on one.
    pub fn with_window_shared(mut self, shared: bool) -> Self {
        self.window_shared = shared;
        self
    }

    /// Emulates up to `arrays` PE arrays of a row group per workgroup: to test the tilings on one
    /// device.
    pub fn with_arrays_per_workgroup(mut self, arrays: usize) -> Self {
        self.arrays_per_workgroup = arrays.max(1);
        self
    }

    /// Loads the next k-step's A while this one's is read, or not: to test both on one device.
    pub fn with_double_buffer(mut self, double: bool) -> Self {
        self.double_buffer = double;
        self
    }

    /// Emulates up to `columns` output columns per invocation (1, 2 or 4; others round down):
    /// to test them on one device.
    pub fn with_columns(mut self, columns: usize) -> Self {
        self.columns = columns_of(columns);
        self
    }

    /// Binds at most `bytes` per buffer, splitting rows into more dispatches: to share a device,
    /// and to exercise the split on a small one.
    pub fn with_binding_limit(mut self, bytes: u64) -> Self {
        self.binding_limit = Some(bytes);
        self
    }
}
