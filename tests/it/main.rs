//! Integration tests: one binary, shared helpers in `common`.

mod common;
mod lists;
mod outputs;
mod update;
mod vectors;
