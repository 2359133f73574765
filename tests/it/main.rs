//! Integration tests: one binary, shared helpers in `common` and `harness`.

mod bounds;
mod common;
mod forged;
mod harness;
mod lists;
mod outputs;
mod overload;
mod service;
mod update;
mod vectors;
