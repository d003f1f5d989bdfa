//! Audio cleaning tests.
