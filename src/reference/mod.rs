//! CPU reference emulators: the twins of the GPU kernels, written to be read beside them. They
//! walk the dataflow over the compressed operands; Z comes out of the emulated datapath.

pub mod dstc;
pub mod highlight;
pub mod hss;
pub mod s2ta;
