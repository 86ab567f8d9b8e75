//! `cargo xtask fuzz [SECONDS]`: runs every cargo-fuzz target in `fuzz/` for
//! SECONDS each (default 300), installing the nightly toolchain and cargo-fuzz
//! when missing. Stops at the first crash.

use std::process::Command;

use crate::util::{exec, output_line, root, step};

pub fn run(args: &[String]) -> Result<(), String> {
    let seconds: u64 = match args.first() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("SECONDS must be a number, got `{s}`"))?,
        None => 300,
    };
    if output_line("rustup", &["run", "nightly", "rustc", "--version"]).is_none() {
        exec(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    if output_line("cargo", &["fuzz", "--version"]).is_none() {
        exec(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let fuzz_dir = root().join("fuzz");
    let list = Command::new("cargo")
        .args(["+nightly", "fuzz", "list"])
        .current_dir(&fuzz_dir)
        .output()
        .map_err(|e| format!("cargo fuzz list: {e}"))?;
    let targets: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    if targets.is_empty() {
        return Err("no fuzz targets found in fuzz/".into());
    }
    for target in &targets {
        step(&format!("fuzz {target} for {seconds} s"));
        exec(
            Command::new("cargo")
                .args(["+nightly", "fuzz", "run", target, "--"])
                .arg(format!("-max_total_time={seconds}"))
                .current_dir(&fuzz_dir),
        )?;
    }
    println!(
        "fuzz: {} targets ran {seconds} s each without a crash",
        targets.len()
    );
    Ok(())
}
