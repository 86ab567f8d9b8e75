//! Time in the browser: the clock, one re-armable timeout, and `sleep`.
//!
//! Owns: reading the wall clock for the engine ([`now_unix_ms`]), the single
//! [`Timer`] a driver loop re-arms from the engine's next deadline, and a
//! [`sleep`] future. Uses the global `setTimeout`/`clearTimeout`, so it works
//! in windows and workers.
//!
//! Browsers delay timers in background tabs (to once a minute after a while)
//! and do not run them at all in frozen ones: a driver must also listen to
//! [`super::PageLifecycle`] and re-check its deadline on resume.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, delay_ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

/// Calls `function` once after `delay_ms` (for one-shot JS callbacks).
pub(crate) fn set_timeout_function(function: &Function, delay_ms: u32) {
    set_timeout(function, clamp_delay(u64::from(delay_ms)));
}

/// The longest delay `setTimeout` honours (longer ones fire at once).
pub const MAX_DELAY_MS: u64 = i32::MAX as u64;

fn clamp_delay(delay_ms: u64) -> i32 {
    i32::try_from(delay_ms.min(MAX_DELAY_MS)).unwrap_or(i32::MAX)
}

/// The wall clock, in unix milliseconds (the engine's `now`).
pub fn now_unix_ms() -> u64 {
    let now = js_sys::Date::now();
    if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    }
}

/// One timeout that can be re-armed: arming again replaces the pending one.
///
/// The callback runs from the browser's event loop, never from inside
/// [`Timer::arm`]. Dropping the timer cancels it.
pub struct Timer {
    handle: Rc<RefCell<Option<JsValue>>>,
    callback: Closure<dyn FnMut()>,
}

impl core::fmt::Debug for Timer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Timer")
            .field("armed", &self.is_armed())
            .finish()
    }
}

impl Timer {
    /// A disarmed timer that calls `on_fire` each time it fires.
    pub fn new(mut on_fire: impl FnMut() + 'static) -> Self {
        let handle: Rc<RefCell<Option<JsValue>>> = Rc::default();
        let fired = Rc::clone(&handle);
        let callback = Closure::<dyn FnMut()>::new(move || {
            fired.borrow_mut().take();
            on_fire();
        });
        Self { handle, callback }
    }

    /// Fires once after `delay_ms` (clamped to [`MAX_DELAY_MS`]), replacing
    /// any pending timeout.
    pub fn arm(&self, delay_ms: u64) {
        self.disarm();
        let handle = set_timeout(self.callback_function(), clamp_delay(delay_ms));
        *self.handle.borrow_mut() = Some(handle);
    }

    /// Fires at the unix-millisecond `deadline`, given the current time
    /// `now` (at once if it has passed).
    pub fn arm_at(&self, deadline: u64, now: u64) {
        self.arm(deadline.saturating_sub(now));
    }

    /// Cancels the pending timeout, if any.
    pub fn disarm(&self) {
        if let Some(handle) = self.handle.borrow_mut().take() {
            clear_timeout(&handle);
        }
    }

    /// Whether a timeout is pending.
    pub fn is_armed(&self) -> bool {
        self.handle.borrow().is_some()
    }

    fn callback_function(&self) -> &Function {
        wasm_bindgen::JsCast::unchecked_ref(self.callback.as_ref())
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// Resolves after `delay_ms` (clamped to [`MAX_DELAY_MS`]).
pub async fn sleep(delay_ms: u64) {
    let promise = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, clamp_delay(delay_ms));
    });
    // A timeout's promise never rejects.
    let _ = JsFuture::from(promise).await;
}
