//! `cargo xtask bench`: the criterion benchmarks (native: the core, the native
//! driver's link/reconnect against wa-sim, and the simulator's load bench with N
//! linked clients exchanging messages, sized by `WA_SIM_BENCH_CLIENTS`), then the
//! side-by-side run of this project compiled to wasm against Baileys and libsignal
//! in Node (`bench/run.mjs`, writes `target/bench/wasm.json`), Baileys linking to
//! the `wa-sim` binary (`bench/link_baileys.mjs`), this client in headless Chromium
//! (`tests/bench_web`, release build, against the same binary) and the release wasm
//! size. It ends with one table (ours, theirs or the budget, ratio, target) and
//! writes it as `target/bench/report.json`.
//!
//! `cargo xtask bench --quick` skips criterion; any other arguments are passed to
//! criterion (e.g. a benchmark name filter).

use std::process::Command;

use serde_json::{Value, json};

use crate::setup::{self, CHROMEDRIVER};
use crate::test::{SimProcess, WASM_BUDGET_GZIP, WASM_BUDGET_RAW, release_wasm_size};
use crate::util::{exec, exec_capture, root, step, tool_path};

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
    let bench_dir = root.join("target").join("bench");
    let wasm_json = bench_dir.join("wasm.json");
    exec(
        Command::new("node")
            .arg("bench/run.mjs")
            .arg(&pkg)
            .arg(&wasm_json)
            .current_dir(&root),
    )?;

    step("Baileys: link and reconnect against the wa-sim binary (Node)");
    exec(
        Command::new("cargo")
            .args(["build", "--release", "-p", "wa-sim", "--bin", "wa-sim"])
            .current_dir(&root),
    )?;
    let sim_binary = root.join("target").join("release").join("wa-sim");
    let baileys_json = bench_dir.join("baileys-link.json");
    exec(
        Command::new("node")
            .arg("bench/link_baileys.mjs")
            .arg(&sim_binary)
            .arg(&baileys_json)
            .current_dir(&root),
    )?;

    step("this client in headless Chromium (release build, against the wa-sim binary)");
    let sim = SimProcess::start_binary(&sim_binary, &bench_dir.join("wa-sim-bench.log"))?;
    // One page per benchmark: wasm memory never shrinks, so the memory
    // figures need a page of their own.
    let mut lines = Vec::new();
    for bench in [
        "memory_per_session",
        "link_and_reconnect",
        "open_store_with_5000_sessions",
        "messaging",
    ] {
        lines.extend(exec_capture(
            Command::new("wasm-pack")
                .args([
                    "test",
                    "--release",
                    "--headless",
                    "--chrome",
                    "--test",
                    "bench_web",
                    "--",
                    "--nocapture",
                    "--exact",
                    bench,
                ])
                .current_dir(&root)
                .env("PATH", tool_path())
                .env("CHROMEDRIVER", CHROMEDRIVER)
                .env("WASM_BINDGEN_TEST_TIMEOUT", "600")
                .env("WA_SIM_WS", &sim.ws)
                .env("WA_SIM_ROOT", &sim.root)
                .env("WA_SIM_CONTROL", &sim.control),
        )?);
    }
    drop(sim);
    let browser = browser_results(&lines);

    step("release wasm size");
    let (raw, gzip) = release_wasm_size(&root, &tool_path())?;

    let wasm = read_json(&wasm_json)?;
    let baileys = read_json(&baileys_json)?;
    let report = Report::build(&wasm, &baileys, &browser, raw, gzip)?;
    report.print();
    let out = bench_dir.join("report.json");
    std::fs::write(&out, format!("{:#}\n", report.to_json()))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    println!("\nwritten {}", out.display());
    Ok(())
}

fn read_json(path: &std::path::Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The `BENCH {"name":…,"value":…}` lines the browser benches print, by name.
fn browser_results(lines: &[String]) -> serde_json::Map<String, Value> {
    let mut results = serde_json::Map::new();
    for line in lines {
        let Some(start) = line.find("BENCH {") else {
            continue;
        };
        let Some(text) = line.get(start + "BENCH ".len()..) else {
            continue;
        };
        if let Ok(Value::Object(mut entry)) = serde_json::from_str::<Value>(text.trim())
            && let (Some(Value::String(name)), Some(value)) =
                (entry.remove("name"), entry.remove("value"))
        {
            results.insert(name, value);
        }
    }
    results
}

/// How a row is judged.
enum Target {
    /// Ours must be at least this many times faster (their time ÷ ours).
    FasterBy(f64),
    /// Ours must be at most this (same unit as the row).
    AtMost(f64),
    /// A figure to record, with no target.
    Record,
}

struct Row {
    name: String,
    unit: &'static str,
    ours: f64,
    theirs: Option<f64>,
    target: Target,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        self.theirs.map(|theirs| theirs / self.ours)
    }

    fn met(&self) -> bool {
        match self.target {
            Target::FasterBy(min) => self.ratio().is_some_and(|ratio| ratio >= min),
            Target::AtMost(max) => self.ours <= max,
            Target::Record => true,
        }
    }
}

struct Report {
    rows: Vec<Row>,
}

fn number(value: &Value, pointer: &str, what: &str) -> Result<f64, String> {
    value
        .pointer(pointer)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("benchmark result missing: {what} ({pointer})"))
}

impl Report {
    fn build(
        wasm: &Value,
        baileys: &Value,
        browser: &serde_json::Map<String, Value>,
        raw: u64,
        gzip: u64,
    ) -> Result<Report, String> {
        let mut rows = Vec::new();
        let targets = [
            ("codec decode", 5.0),
            ("codec encode", 5.0),
            ("signal 1:1 encrypt+decrypt", 3.0),
            ("signal sender-key encrypt+decrypt", 3.0),
        ];
        let wasm_rows = wasm
            .get("rows")
            .and_then(Value::as_array)
            .ok_or("wasm.json has no rows")?;
        for (name, min) in targets {
            let row = wasm_rows
                .iter()
                .find(|row| row.get("name").and_then(Value::as_str) == Some(name))
                .ok_or_else(|| format!("wasm.json has no `{name}` row"))?;
            rows.push(Row {
                name: format!("{name} (wasm vs Baileys, Node)"),
                unit: "µs",
                ours: number(row, "/ours_us", name)?,
                theirs: Some(number(row, "/theirs_us", name)?),
                target: Target::FasterBy(min),
            });
        }
        let browser = Value::Object(browser.clone());
        rows.push(Row {
            name: "link: scan → open (Chromium vs Baileys)".to_owned(),
            unit: "ms",
            ours: number(&browser, "/link/scan_to_open_ms", "link in Chromium")?,
            theirs: Some(number(baileys, "/scan_to_open_ms", "Baileys link")?),
            target: Target::FasterBy(1.0),
        });
        rows.push(Row {
            name: "reconnect: stored creds → open (Chromium vs Baileys)".to_owned(),
            unit: "ms",
            ours: number(
                &browser,
                "/reconnect/reconnect_to_open_ms",
                "reconnect in Chromium",
            )?,
            theirs: Some(number(
                baileys,
                "/reconnect_to_open_ms",
                "Baileys reconnect",
            )?),
            target: Target::FasterBy(1.0),
        });
        let kib = |bytes: u64| bytes as f64 / 1024.0;
        rows.push(Row {
            name: "release wasm, raw".to_owned(),
            unit: "KiB",
            ours: kib(raw),
            theirs: None,
            target: Target::AtMost(kib(WASM_BUDGET_RAW)),
        });
        rows.push(Row {
            name: "release wasm, gzip -9".to_owned(),
            unit: "KiB",
            ours: kib(gzip),
            theirs: None,
            target: Target::AtMost(kib(WASM_BUDGET_GZIP)),
        });
        let mib = 1024.0 * 1024.0;
        rows.push(Row {
            name: "memory, first linked session (JS heap + wasm)".to_owned(),
            unit: "MiB",
            ours: number(&browser, "/memory/first_session_bytes", "memory")? / mib,
            theirs: None,
            target: Target::AtMost(8.0),
        });
        rows.push(Row {
            name: "memory, each extra session (of 10)".to_owned(),
            unit: "MiB",
            ours: number(&browser, "/memory/extra_session_bytes", "memory")? / mib,
            theirs: None,
            target: Target::AtMost(0.5),
        });
        rows.push(Row {
            name: "open an IndexedDB store of 5,000 sessions".to_owned(),
            unit: "ms",
            ours: number(&browser, "/idb_5000_sessions/open_ms", "IndexedDB open")?,
            theirs: None,
            target: Target::AtMost(250.0),
        });
        for devices in ["1", "10", "256"] {
            rows.push(Row {
                name: format!("sendText → server ack, contact with {devices} device(s) (Chromium)"),
                unit: "ms",
                ours: number(
                    &browser,
                    &format!("/send_fan_out/{devices}/median_ms"),
                    "send fan-out",
                )?,
                theirs: None,
                target: Target::Record,
            });
        }
        rows.push(Row {
            name: "receive: queued texts decrypted, stored and shown (Chromium)".to_owned(),
            unit: "msg/s",
            ours: number(&browser, "/receive/per_second", "receive throughput")?,
            theirs: None,
            target: Target::Record,
        });
        Ok(Report { rows })
    }

    fn print(&self) {
        let header = [
            "benchmark",
            "ours",
            "theirs / budget",
            "ratio",
            "target",
            "met",
        ];
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|row| {
                let (theirs, target) = match row.target {
                    Target::FasterBy(min) => (
                        row.theirs
                            .map(|t| format!("{t:.1} {}", row.unit))
                            .unwrap_or_default(),
                        format!("≥ {min}×"),
                    ),
                    Target::AtMost(max) => {
                        (format!("{max:.1} {}", row.unit), format!("≤ {max:.1}"))
                    }
                    Target::Record => (String::new(), "—".to_owned()),
                };
                [
                    row.name.clone(),
                    format!("{:.1} {}", row.ours, row.unit),
                    theirs,
                    row.ratio().map(|r| format!("{r:.2}×")).unwrap_or_default(),
                    target,
                    match (&row.target, row.met()) {
                        (Target::Record, _) => "—",
                        (_, true) => "yes",
                        (_, false) => "NO",
                    }
                    .to_owned(),
                ]
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|row| row[i].chars().count())
                    .chain([header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |row: &[String]| {
            let padded: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
                .collect();
            format!("| {} |", padded.join(" | "))
        };
        println!();
        println!("{}", line(&header.map(str::to_owned)));
        println!(
            "|{}|",
            widths
                .iter()
                .map(|w| "-".repeat(w + 2))
                .collect::<Vec<_>>()
                .join("|")
        );
        for row in &cells {
            println!("{}", line(row));
        }
    }

    fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let target = match row.target {
                    Target::FasterBy(min) => json!({ "faster_by": min }),
                    Target::AtMost(max) => json!({ "at_most": max }),
                    Target::Record => Value::Null,
                };
                json!({
                    "name": row.name,
                    "unit": row.unit,
                    "ours": row.ours,
                    "theirs": row.theirs,
                    "ratio": row.ratio(),
                    "target": target,
                    "met": row.met(),
                })
            })
            .collect();
        json!({ "rows": rows })
    }
}
