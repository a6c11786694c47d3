//! highlight-emu: emulates the HighLight sparse DNN accelerator (MICRO 2023) and the designs it is
//! compared with, on the GPU through wgpu compute shaders, cross-checked against CPU references.
//!
//! The model every part follows is `docs/DESIGN.md`:
//! patterns ([`pattern`]), operands ([`operand`]), compressed formats ([`format`]), the dense
//! reference product ([`matrix`]) and the GPU path ([`gpu`]).

pub mod accuracy;
pub mod api;
pub mod bench;
pub mod claims;
pub mod compare;
pub mod counters;
pub mod degrees;
pub mod design;
pub mod design_space;
pub mod energy;
pub mod evaluator;
pub mod format;
pub mod gpu;
pub mod hierarchy;
pub mod hss;
pub mod inputs;
pub mod mapper;
pub mod mapping;
pub mod matrix;
pub mod memory;
pub mod model;
pub mod operand;
pub mod output;
pub mod pattern;
pub mod plot;
pub mod reference;
pub mod report;
pub mod run;
pub mod search;
pub mod sweep;
pub mod text;
pub mod validate;
