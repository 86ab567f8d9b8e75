//! Running commands, finding the repository root, reading versions.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Prints a step banner.
pub fn step(title: &str) {
    println!("\n==> {title}");
}

/// Renders a command for messages.
pub fn show(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs a command with inherited stdio; fails on a non-zero exit.
pub fn exec(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", show(cmd)))
    }
}

/// Runs a command, streaming its output while collecting it; fails on a non-zero exit.
/// Returns the combined output lines.
pub fn exec_capture(cmd: &mut Command) -> Result<Vec<String>, String> {
    // stderr goes to the same pipe so the output keeps its order.
    let (reader, writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let writer_err = writer.try_clone().map_err(|e| format!("pipe: {e}"))?;
    cmd.stdout(writer).stderr(writer_err);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    // Drop our copies of the write end, or the read loop never ends.
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut lines = Vec::new();
    for line in BufReader::new(reader).lines() {
        let line = line.map_err(|e| format!("reading output: {e}"))?;
        println!("{line}");
        lines.push(line);
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{}`: {e}", show(cmd)))?;
    if status.success() {
        Ok(lines)
    } else {
        Err(format!("`{}` failed ({status})", show(cmd)))
    }
}

/// The first line of `program args…` stdout, if it runs successfully.
pub fn output_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout)
        .ok()?
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
}

/// The version of `package` recorded in Cargo.lock.
pub fn locked_version(package: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("reading Cargo.lock: {e}"))?;
    let needle = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() != needle {
            continue;
        }
        if let Some(version) = lines
            .next()
            .and_then(|l| l.trim().strip_prefix("version = "))
        {
            return Ok(version.trim_matches('"').to_owned());
        }
    }
    Err(format!("{package} not found in Cargo.lock"))
}

/// `PATH` with `node_modules/.bin` (wasm-opt from npm's binaryen) and cargo's bin first.
pub fn tool_path() -> String {
    let mut parts = vec![root().join("node_modules").join(".bin")];
    if let Some(home) = std::env::var_os("HOME") {
        parts.push(PathBuf::from(home).join(".cargo").join("bin"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(parts)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Sums `N passed` / `N failed` from test-runner summary lines
/// (`test result: ok. 3 passed; 0 failed; …` from cargo test and wasm-bindgen-test,
/// `# pass N` / `# fail N` from node's test runner).
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
}

impl Tally {
    pub fn add_output(&mut self, lines: &[String]) {
        for line in lines {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("test result:") {
                self.passed += count_before(rest, "passed");
                self.failed += count_before(rest, "failed");
            } else if let Some(n) = line.strip_prefix("# pass ") {
                self.passed += n.trim().parse::<u64>().unwrap_or(0);
            } else if let Some(n) = line.strip_prefix("# fail ") {
                self.failed += n.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
}

fn count_before(text: &str, word: &str) -> u64 {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
        .collect();
    words
        .windows(2)
        .find(|pair| pair[1] == word)
        .and_then(|pair| pair[0].parse().ok())
        .unwrap_or(0)
}
