//! QR codes while waiting for the phone: which ref is shown, until when, and
//! the SVG (and terminal) renderings.
//!
//! The server sends a handful of refs in `pair-device`; the first code is
//! shown 60 s, each following one 20 s (facts §5.1 step 5). When none is left
//! the engine gives up ([`super::policy::CloseCause::QrRefsExhausted`]).

use std::collections::VecDeque;

use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

use super::config::QrTiming;

/// Why a QR code could not be rendered (the text is too long for a QR code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot render a QR code: {0}")]
pub struct QrRenderError(String);

fn qr_code(text: &str) -> Result<QrCode, QrRenderError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L)
        .map_err(|e| QrRenderError(e.to_string()))
}

/// Renders `text` as a small SVG document: one path, one unit per module, a
/// 4-module quiet zone, scaled by the page through its `viewBox`.
pub fn render_svg(text: &str) -> Result<String, QrRenderError> {
    Ok(qr_code(text)?
        .render::<svg::Color<'_>>()
        .module_dimensions(1, 1)
        .quiet_zone(true)
        .build())
}

/// Renders `text` for a terminal, two modules per character (Unicode half blocks).
pub fn render_terminal(text: &str) -> Result<String, QrRenderError> {
    Ok(qr_code(text)?
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// The refs of one `pair-device` and the one on show.
#[derive(Debug, Clone)]
pub(crate) struct QrRotation {
    timing: QrTiming,
    refs: VecDeque<String>,
    shown: u32,
    expires_at: Option<u64>,
}

impl QrRotation {
    /// Rotation over `refs`; nothing is shown yet.
    pub(crate) fn new(refs: Vec<String>, timing: QrTiming) -> Self {
        Self {
            timing,
            refs: refs.into(),
            shown: 0,
            expires_at: None,
        }
    }

    /// Takes the next ref to show at `now` (unix ms) and when it expires;
    /// `None` when every ref was shown.
    pub(crate) fn next(&mut self, now: u64) -> Option<(String, u64)> {
        let pairing_ref = self.refs.pop_front()?;
        let lifetime = if self.shown == 0 {
            self.timing.first
        } else {
            self.timing.next
        };
        let lifetime = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
        let expires_at = now.saturating_add(lifetime);
        self.shown = self.shown.saturating_add(1);
        self.expires_at = Some(expires_at);
        Some((pairing_ref, expires_at))
    }

    /// When the code on show expires.
    pub(crate) fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// Stops showing codes (a pairing code took over).
    pub(crate) fn stop(&mut self) {
        self.refs.clear();
        self.expires_at = None;
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::*;

    #[test]
    fn rotation_times_and_exhaustion() {
        let timing = QrTiming {
            first: Duration::from_secs(60),
            next: Duration::from_secs(20),
        };
        let mut qr = QrRotation::new(vec!["a".into(), "b".into(), "c".into()], timing);
        assert_eq!(qr.expires_at(), None);
        assert_eq!(qr.next(1_000), Some(("a".into(), 61_000)));
        assert_eq!(qr.expires_at(), Some(61_000));
        assert_eq!(qr.next(61_000), Some(("b".into(), 81_000)));
        assert_eq!(qr.next(81_000), Some(("c".into(), 101_000)));
        assert_eq!(qr.next(101_000), None);
        let mut stopped = QrRotation::new(vec!["a".into()], timing);
        stopped.stop();
        assert_eq!(stopped.next(0), None);
    }

    #[test]
    fn svg_is_one_small_path() {
        let text = "https://wa.me/settings/linked_devices#2@abc,AQEB,AgIC,AwMD,1";
        let svg = render_svg(text).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert_eq!(svg.matches("<path").count(), 1);
        assert!(svg.contains("viewBox=\"0 0 "));
        // One unit per module: a version-5 code (37 modules) plus 8 of quiet zone.
        let code = qr_code(text).unwrap();
        let side = code.width() + 8;
        assert!(svg.contains(&format!("width=\"{side}\" height=\"{side}\"")));
        assert!(svg.len() < 16 * 1024, "{} bytes", svg.len());
        let terminal = render_terminal(text).unwrap();
        assert_eq!(terminal.lines().count(), side.div_ceil(2));
    }
}
