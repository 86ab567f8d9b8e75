//! Page lifecycle and connectivity events for the driver loop.
//!
//! Owns: [`PageLifecycle`], which listens to `online`/`offline` (on the
//! global object: window or worker) and `visibilitychange`, `freeze` and
//! `resume` (on the document, when there is one), and reports them as
//! [`PageEvent`]s to one callback; and snapshots of the current state
//! ([`is_online`], [`is_visible`]).
//!
//! Does not own the reaction. The driver loop reconnects promptly on
//! [`PageEvent::Online`] and [`PageEvent::Resumed`] (a frozen tab ran no
//! timers and its socket is probably dead), and re-checks its timer deadline
//! when the page becomes visible (background tabs run timers late).

use js_sys::Reflect;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Event, EventTarget, VisibilityState};

use super::js::global_field;

/// A lifecycle or connectivity change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEvent {
    /// The browser thinks the network is back.
    Online,
    /// The browser lost the network.
    Offline,
    /// The page became visible.
    Visible,
    /// The page was hidden (another tab, minimised); timers slow down.
    Hidden,
    /// The page is being frozen: no timers or callbacks run until resumed.
    Frozen,
    /// The page runs again after being frozen.
    Resumed,
}

/// Whether the browser believes it is online (`navigator.onLine`; `true`
/// when unknown).
pub fn is_online() -> bool {
    global_field("navigator")
        .and_then(|navigator| Reflect::get(&navigator, &JsValue::from_str("onLine")).ok())
        .and_then(|online| online.as_bool())
        .unwrap_or(true)
}

fn document() -> Option<Document> {
    global_field("document").and_then(|document| document.dyn_into().ok())
}

/// Whether the page is visible (`true` where there is no document, e.g. in a
/// worker).
pub fn is_visible() -> bool {
    document().is_none_or(|document| document.visibility_state() == VisibilityState::Visible)
}

struct Listener {
    target: EventTarget,
    kind: &'static str,
    callback: Closure<dyn FnMut(Event)>,
}

/// Listens to the page's lifecycle while it exists; dropping it removes the
/// listeners.
pub struct PageLifecycle {
    listeners: Vec<Listener>,
}

impl core::fmt::Debug for PageLifecycle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(self.listeners.iter().map(|listener| listener.kind))
            .finish()
    }
}

impl PageLifecycle {
    /// Starts listening; `on_event` receives every change.
    pub fn listen(on_event: impl FnMut(PageEvent) + 'static) -> Self {
        let on_event = std::rc::Rc::new(std::cell::RefCell::new(on_event));
        let mut listeners = Vec::new();
        let mut add =
            |target: &EventTarget, kind: &'static str, map: fn(&Event) -> Option<PageEvent>| {
                let on_event = std::rc::Rc::clone(&on_event);
                let callback = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
                    if let (Some(page_event), Ok(mut on_event)) =
                        (map(&event), on_event.try_borrow_mut())
                    {
                        on_event(page_event);
                    }
                });
                if target
                    .add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref())
                    .is_ok()
                {
                    listeners.push(Listener {
                        target: target.clone(),
                        kind,
                        callback,
                    });
                }
            };
        let global: EventTarget = js_sys::global().unchecked_into();
        add(&global, "online", |_| Some(PageEvent::Online));
        add(&global, "offline", |_| Some(PageEvent::Offline));
        if let Some(document) = document() {
            let document: EventTarget = document.into();
            add(&document, "visibilitychange", |_| {
                Some(if is_visible() {
                    PageEvent::Visible
                } else {
                    PageEvent::Hidden
                })
            });
            add(&document, "freeze", |_| Some(PageEvent::Frozen));
            add(&document, "resume", |_| Some(PageEvent::Resumed));
        }
        Self { listeners }
    }
}

impl Drop for PageLifecycle {
    fn drop(&mut self) {
        for listener in &self.listeners {
            let _ = listener.target.remove_event_listener_with_callback(
                listener.kind,
                listener.callback.as_ref().unchecked_ref(),
            );
        }
    }
}
