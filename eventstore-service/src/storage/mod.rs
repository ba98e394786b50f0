//! SQL, in small named query functions: stores, reads, and the row conversions they share.
//! (Appends are the writer's: `crate::writer::commit`.)

pub mod reads;
pub mod rows;
pub mod stores;
