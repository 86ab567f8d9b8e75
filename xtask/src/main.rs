//! `cargo xtask`: the project's two README commands and the developer tasks.
//!
//! - `cargo xtask demo`  — installs what is missing, builds the wasm package, starts wa-sim and
//!   serves the demo page.
//! - `cargo xtask package` — only builds the npm package (web + bundler) and reports its size.
//! - `cargo xtask playwright [--no-build]` — only the Playwright run of the demo.
//! - `cargo xtask test`  — installs what is missing and runs every check and test suite.
//! - `cargo xtask bench` — runs the benchmarks.
//! - `cargo xtask fuzz [SECONDS]` — runs every fuzz target (nightly toolchain, installed on demand).
//! - `cargo xtask setup` — only installs what is missing.

mod bench;
mod demo;
mod fuzz;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("test") => test::run(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("package") => demo::package(&args[1..]),
        Some("playwright") => demo::playwright_task(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print_help();
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`; see `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "usage: cargo xtask <task>

tasks:
  demo [--port N] [--sim-port N] [--fresh]
                  install what is missing, build the npm package, start wa-sim, serve the demo
  package         build the npm package (web + bundler targets) and report its size
  playwright [--no-build]
                  run only the demo end to end in headless Chromium (part of `test`)
  test            install what is missing, run every check and test suite
  bench           run the benchmarks
  fuzz [SECONDS]  run every fuzz target for SECONDS each (default 300)
  setup           only install what is missing"
    );
}
