//! Logs to the browser console, one logger per session, and the panic hook.
//!
//! Owns: [`LogLevel`], the tiny `tracing` subscriber [`ConsoleLog`] that
//! writes every event to `console.error/warn/info/log/debug` with the session
//! name in front (`[wa:org-2] INFO wa_wasm::client: …`), and
//! [`install_panic_hook`]. Each `WaClient` runs its driver with its own
//! subscriber as the default one (see [`ConsoleLog::dispatch`]), so two
//! sessions in one page log at their own levels and are told apart. Does not
//! own what is logged.
//!
//! Written by hand rather than with a crate: it is a few dozen lines, and the
//! formatting crates would add far more to the wasm than they save.

use core::fmt::Write as _;
use std::sync::Once;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(text: &str);
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(text: &str);
    #[wasm_bindgen(js_namespace = console, js_name = info)]
    fn console_info(text: &str);
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(text: &str);
    #[wasm_bindgen(js_namespace = console, js_name = debug)]
    fn console_debug(text: &str);
}

/// How much a session logs (the `logLevel` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Errors only.
    Error,
    /// Errors and warnings (the default).
    Warn,
    /// Connection changes and other notable steps.
    Info,
    /// Details of every step.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// Parses the option's value (`"off"`, `"error"`, `"warn"`, `"info"`,
    /// `"debug"`, `"trace"`).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "off" => Self::Off,
            "error" => Self::Error,
            "warn" => Self::Warn,
            "info" => Self::Info,
            "debug" => Self::Debug,
            "trace" => Self::Trace,
            _ => return None,
        })
    }

    fn filter(self) -> LevelFilter {
        match self {
            Self::Off => LevelFilter::OFF,
            Self::Error => LevelFilter::ERROR,
            Self::Warn => LevelFilter::WARN,
            Self::Info => LevelFilter::INFO,
            Self::Debug => LevelFilter::DEBUG,
            Self::Trace => LevelFilter::TRACE,
        }
    }
}

/// A `tracing` subscriber writing one console line per event, tagged with a
/// session name. Spans are accepted and ignored.
#[derive(Debug)]
pub struct ConsoleLog {
    session: String,
    max: LevelFilter,
}

impl ConsoleLog {
    /// The dispatcher of a session's logger.
    pub fn dispatch(session: &str, level: LogLevel) -> Dispatch {
        Dispatch::new(Self {
            session: session.to_owned(),
            max: level.filter(),
        })
    }
}

/// Collects an event's fields as `message key=value …`.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // Through JS: Rust's float formatting would add ~15 KB to the wasm.
        let text: String = js_sys::Number::from(value)
            .to_string_with_radix(10)
            .map(String::from)
            .unwrap_or_default();
        self.record_str(field, &text);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn core::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for ConsoleLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        let metadata = event.metadata();
        let level = *metadata.level();
        let text = format!(
            "[wa:{}] {} {}: {}{}",
            self.session,
            level,
            metadata.target(),
            line.message,
            line.fields
        );
        match level {
            Level::ERROR => console_error(&text),
            Level::WARN => console_warn(&text),
            Level::INFO => console_info(&text),
            Level::DEBUG => console_log(&text),
            _ => console_debug(&text),
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Makes a Rust panic print its message to `console.error` (once per page).
/// A panic is a bug: the client never panics on bad input.
pub fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            console_error(&format!("wa-wasm panicked (this is a bug): {info}"));
        }));
    });
}
