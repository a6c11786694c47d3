//! Studies of the HSS design space (paper section 5, docs/DESIGN.md 12): figure 6 measured, and
//! the search for a design that suits a network.

pub mod explore;
pub mod figure6;
