//! Test isolation helpers.
