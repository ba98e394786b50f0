//! The harness lives in the library (`e2e_tests::stack`), shared with the soak test.

pub use e2e_tests::stack::*;
