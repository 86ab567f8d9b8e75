//! `cargo xtask bench`: the criterion benchmarks (native: the core, the native
//! driver's link/reconnect against wa-sim, and the simulator's load bench with N
//! linked clients exchanging messages, sized by `WA_SIM_BENCH_CLIENTS`), then the
//! side-by-side run of this project compiled to wasm against Baileys and libsignal
//! in Node (`bench/run.mjs`), which prints a table and writes `target/bench/wasm.json`.
//!
//! `cargo xtask bench --quick` skips criterion; any other arguments are passed to
//! criterion (e.g. a benchmark name filter).

use std::process::Command;

use crate::setup;
use crate::util::{exec, root, step, tool_path};

pub fn run(args: &[String]) -> Result<(), String> {
    setup::run()?;
    let root = root();
    let quick = args.iter().any(|a| a == "--quick");
    let criterion_args: Vec<&String> = args.iter().filter(|a| *a != "--quick").collect();
    if !quick {
        // wa-sim's load bench uses its own profile so the wa-sim binary it spawns
        // keeps the benches' panic strategy.
        let runs: [(&str, &str, &[&str]); 3] = [
            ("criterion benchmarks (native core)", "wa-wasm", &[]),
            (
                "link and reconnect against wa-sim (native driver)",
                "wa-native",
                &[],
            ),
            (
                "simulator load (linked clients exchanging messages)",
                "wa-sim",
                &["--profile", "sim-bench"],
            ),
        ];
        for (title, package, extra) in runs {
            step(title);
            let mut cmd = Command::new("cargo");
            cmd.args(["bench", "-p", package])
                .args(extra)
                .current_dir(&root);
            if !criterion_args.is_empty() {
                cmd.arg("--").args(&criterion_args);
            }
            exec(&mut cmd)?;
        }
    }

    step("building the wasm workloads (release)");
    let pkg = root.join("target").join("bench-pkg");
    exec(
        Command::new("wasm-pack")
            .args([
                "build",
                "bench",
                "--release",
                "--target",
                "nodejs",
                "--out-dir",
            ])
            .arg(&pkg)
            .current_dir(&root)
            .env("PATH", tool_path()),
    )?;

    step("side by side with Baileys and libsignal (Node)");
    let out = root.join("target").join("bench").join("wasm.json");
    exec(
        Command::new("node")
            .arg("bench/run.mjs")
            .arg(&pkg)
            .arg(&out)
            .current_dir(&root),
    )
}
