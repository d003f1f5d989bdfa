//! Office cleaning tests.
