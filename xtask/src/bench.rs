//! `cargo xtask bench`: runs the criterion benchmarks: the core's, then the simulator's
//! load bench (N linked clients exchanging messages; sizes from `WA_SIM_BENCH_CLIENTS`).

use std::process::Command;

use crate::util::{exec, root, step};

pub fn run(args: &[String]) -> Result<(), String> {
    step("criterion benchmarks (native)");
    let mut cmd = Command::new("cargo");
    cmd.arg("bench")
        .arg("-p")
        .arg("wa-wasm")
        .current_dir(root());
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    exec(&mut cmd)?;

    step("simulator load (linked clients exchanging messages)");
    let mut cmd = Command::new("cargo");
    // The sim-bench profile keeps the wa-sim binary on the benches' panic strategy.
    cmd.args(["bench", "-p", "wa-sim", "--profile", "sim-bench"])
        .current_dir(root());
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    exec(&mut cmd)
}
