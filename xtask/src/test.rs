//! `cargo xtask test`: every check and test suite, failing if any fails.
//!
//! Order: formatting, lints (native and wasm32), native tests (unit, integration,
//! interop with the npm peers), then browser tests in headless Chromium.

use std::process::Command;

use crate::setup::{self, CHROMEDRIVER};
use crate::util::{Tally, exec, exec_capture, root, step, tool_path};

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!(
            "`cargo xtask test` takes no arguments (got `{arg}`)"
        ));
    }
    setup::run()?;
    let root = root();
    let path = tool_path();
    let mut tally = Tally::default();
    let cargo = |args: &[&str]| {
        let mut cmd = Command::new("cargo");
        cmd.args(args).current_dir(&root).env("PATH", &path);
        cmd
    };

    step("format");
    exec(&mut cargo(&["fmt", "--all", "--check"]))?;

    step("lint (native)");
    exec(&mut cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;

    step("lint (wasm32)");
    exec(&mut cargo(&[
        "clippy",
        "-p",
        "wa-wasm",
        "--lib",
        "--test",
        "web",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;

    step("fuzz targets compile");
    exec(&mut cargo(&[
        "check",
        "--manifest-path",
        "fuzz/Cargo.toml",
        "--bins",
    ]))?;

    step("native tests");
    let native = exec_capture(&mut cargo(&["test", "--workspace"]));
    tally_or_fail(&mut tally, native)?;

    step("browser tests (headless Chromium)");
    let mut browser = Command::new("wasm-pack");
    browser
        .args(["test", "--headless", "--chrome", "--test", "web"])
        .current_dir(&root)
        .env("PATH", &path)
        .env("CHROMEDRIVER", CHROMEDRIVER)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120");
    tally_or_fail(&mut tally, exec_capture(&mut browser))?;

    println!("\nall checks passed");
    println!("tests: {} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

fn tally_or_fail(tally: &mut Tally, result: Result<Vec<String>, String>) -> Result<(), String> {
    let lines = result?;
    tally.add_output(&lines);
    if tally.failed > 0 {
        return Err(format!("{} tests failed", tally.failed));
    }
    Ok(())
}
