//! `cargo xtask bench`: runs the criterion benchmarks.

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
    exec(&mut cmd)
}
