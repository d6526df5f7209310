//! Canonical writer.
