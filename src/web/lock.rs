//! One tab per session: an exclusive Web Lock names the tab that owns a
//! session's socket.
//!
//! Owns: [`SessionLock`], an exclusive lock `wa-wasm:session:<name>` of the
//! Web Locks API, held by a promise that stays pending until the lock is
//! released (or the tab closes, when the browser releases it and hands it to
//! the next waiting tab). Other tabs wait in the browser's queue
//! ([`SessionLock::acquire`]), test it ([`SessionLock::try_acquire`]) or take
//! it over ([`SessionLock::steal`]); the owner learns it was taken with
//! [`SessionLock::lost`].
//!
//! Does not own what the owner does with its session (the `WaClient` shell
//! opens the socket once it holds the lock) nor how followers talk to the
//! owner ([`super::SessionChannel`]).
//!
//! The Web Locks API is partitioned per origin (and per storage partition):
//! two tabs of one origin, or two requesters in one page, contend for the same
//! lock; other origins do not see it.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortController;

use super::js::{Deferred, error_name_and_message, global_field, then_functions};

#[wasm_bindgen]
extern "C" {
    // web-sys gates `LockManager` behind its unstable APIs; these two calls
    // are all this module needs.
    #[wasm_bindgen(js_name = LockManager)]
    type Locks;

    #[wasm_bindgen(catch, method, js_name = request)]
    fn request(
        this: &Locks,
        name: &str,
        options: &Object,
        callback: &Function,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(catch, method, js_name = query)]
    fn query(this: &Locks) -> Result<Promise, JsValue>;
}

/// Why a lock could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// `navigator.locks` is missing (it needs a secure context: HTTPS or
    /// localhost).
    #[error(
        "the Web Locks API is not available (the page must be served over HTTPS or from localhost)"
    )]
    NotAvailable,
    /// The request failed.
    #[error("lock request failed: {name}: {message}")]
    Failed {
        /// The `DOMException` name.
        name: String,
        /// The browser's message.
        message: String,
    },
}

impl LockError {
    fn from_js(value: &JsValue) -> Self {
        let (name, message) = error_name_and_message(value);
        LockError::Failed { name, message }
    }
}

/// How a held lock ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEnd {
    /// This tab released it.
    Released,
    /// Another tab took it over with [`SessionLock::steal`].
    Stolen,
}

fn locks() -> Result<Locks, LockError> {
    let navigator = global_field("navigator").ok_or(LockError::NotAvailable)?;
    Reflect::get(&navigator, &JsValue::from_str("locks"))
        .ok()
        .filter(|locks| !locks.is_undefined() && !locks.is_null())
        .map(JsCast::unchecked_into)
        .ok_or(LockError::NotAvailable)
}

/// The Web Lock name of a session.
pub fn lock_name(session: &str) -> String {
    format!("wa-wasm:session:{session}")
}

/// Whether any tab of this origin holds the lock of `session`.
pub async fn is_locked(session: &str) -> Result<bool, LockError> {
    let snapshot = JsFuture::from(locks()?.query().map_err(|e| LockError::from_js(&e))?)
        .await
        .map_err(|error| LockError::from_js(&error))?;
    let held: js_sys::Array = Reflect::get(&snapshot, &JsValue::from_str("held"))
        .map_err(|error| LockError::from_js(&error))?
        .unchecked_into();
    let name = lock_name(session);
    Ok(held
        .iter()
        .any(|lock| super::js::string_field(&lock, "name").as_deref() == Some(name.as_str())))
}

enum Mode {
    Wait,
    IfAvailable,
    Steal,
}

/// A lock request in flight: the browser calls `grant` when it grants the
/// lock (or, with `ifAvailable`, with `null` when it cannot).
struct Request {
    granted: JsFuture,
    finished: Promise,
    release: Function,
    abort: AbortController,
    is_granted: Rc<Cell<bool>>,
    _grant: Closure<dyn FnMut(JsValue) -> JsValue>,
}

impl Request {
    fn start(session: &str, mode: Mode) -> Result<Self, LockError> {
        let locks = locks()?;
        let hold = Deferred::new();
        let granted = Deferred::new();
        let is_granted = Rc::new(Cell::new(false));
        let grant = {
            let resolve_granted = granted.resolve.clone();
            let hold = hold.promise.clone();
            let is_granted = Rc::clone(&is_granted);
            Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |lock: JsValue| {
                let _ = resolve_granted.call1(&JsValue::NULL, &lock);
                if lock.is_null() {
                    // `ifAvailable` and someone else holds it: nothing held.
                    JsValue::UNDEFINED
                } else {
                    is_granted.set(true);
                    hold.clone().into()
                }
            })
        };
        let abort = AbortController::new().map_err(|error| LockError::from_js(&error))?;
        let options = Object::new();
        let set = |key: &str, value: JsValue| {
            let _ = Reflect::set(&options, &JsValue::from_str(key), &value);
        };
        set("mode", JsValue::from_str("exclusive"));
        match mode {
            Mode::Wait => set("signal", abort.signal().into()),
            Mode::IfAvailable => set("ifAvailable", JsValue::TRUE),
            Mode::Steal => set("steal", JsValue::TRUE),
        }
        let finished = locks
            .request(
                &lock_name(session),
                &options,
                grant.as_ref().unchecked_ref(),
            )
            .map_err(|error| LockError::from_js(&error))?;
        // A request that fails before it is granted (aborted, refused) fails
        // the wait; once granted, this rejection is a no-op.
        let _ = then_functions(&finished, &JsValue::UNDEFINED, &granted.reject);
        Ok(Self {
            granted: JsFuture::from(granted.promise),
            finished,
            release: hold.resolve,
            abort,
            is_granted,
            _grant: grant,
        })
    }

    /// Waits for the grant; `None` if `ifAvailable` found it taken.
    async fn granted(mut self, session: &str) -> Result<Option<SessionLock>, LockError> {
        let lock = (&mut self.granted)
            .await
            .map_err(|error| LockError::from_js(&error))?;
        if lock.is_null() {
            return Ok(None);
        }
        let ended = Rc::new(Cell::new(None));
        let finished = {
            let ended = Rc::clone(&ended);
            let on_end = Closure::once_into_js(move |outcome: JsValue| {
                if ended.get().is_none() {
                    ended.set(Some(if outcome.is_undefined() {
                        LockEnd::Released
                    } else {
                        LockEnd::Stolen
                    }));
                }
            });
            // Resolved (undefined) on release, rejected (AbortError) on steal.
            then_functions(&self.finished, &on_end, &on_end)
        };
        let release = self.release.clone();
        // Disarm this request's Drop: the lock now belongs to the SessionLock.
        self.is_granted.set(false);
        Ok(Some(SessionLock {
            session: session.to_owned(),
            release,
            finished: JsFuture::from(finished),
            ended,
        }))
    }
}

impl Drop for Request {
    /// A wait given up (its future dropped) leaves the browser's queue; a
    /// grant that raced the drop is released at once.
    fn drop(&mut self) {
        if self.is_granted.get() {
            let _ = self.release.call0(&JsValue::NULL);
        } else {
            self.abort.abort();
        }
    }
}

/// Ownership of a session by this tab (an exclusive Web Lock).
///
/// Held until [`SessionLock::release`], drop, the tab closing, or another
/// tab's [`SessionLock::steal`].
pub struct SessionLock {
    session: String,
    release: Function,
    finished: JsFuture,
    ended: Rc<Cell<Option<LockEnd>>>,
}

impl core::fmt::Debug for SessionLock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionLock")
            .field("session", &self.session)
            .field("ended", &self.ended.get())
            .finish()
    }
}

impl SessionLock {
    /// Waits until this tab owns `session` (other tabs queue in the browser
    /// and take over, in order, when the owner releases it or closes).
    /// Dropping the future gives up the place in the queue.
    pub async fn acquire(session: &str) -> Result<SessionLock, LockError> {
        let request = Request::start(session, Mode::Wait)?;
        request
            .granted(session)
            .await?
            .ok_or_else(|| LockError::Failed {
                name: "NotGranted".to_owned(),
                message: "the browser granted no lock".to_owned(),
            })
    }

    /// Takes `session` if no tab owns it; `None` otherwise.
    pub async fn try_acquire(session: &str) -> Result<Option<SessionLock>, LockError> {
        Request::start(session, Mode::IfAvailable)?
            .granted(session)
            .await
    }

    /// Takes `session` even if another tab owns it (that tab's
    /// [`SessionLock::lost`] then reports [`LockEnd::Stolen`]). For a user's
    /// explicit "use here" action; the other tab must stop using the socket.
    pub async fn steal(session: &str) -> Result<SessionLock, LockError> {
        Request::start(session, Mode::Steal)?
            .granted(session)
            .await?
            .ok_or_else(|| LockError::Failed {
                name: "NotGranted".to_owned(),
                message: "the browser granted no lock".to_owned(),
            })
    }

    /// The session this lock owns.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Whether this tab still owns the session.
    pub fn is_held(&self) -> bool {
        self.ended.get().is_none()
    }

    /// Resolves when this tab no longer owns the session, saying why.
    pub async fn lost(&mut self) -> LockEnd {
        if let Some(end) = self.ended.get() {
            return end;
        }
        // The chained promise only resolves (both outcomes are handled).
        let _ = (&mut self.finished).await;
        self.ended.get().unwrap_or(LockEnd::Released)
    }

    /// Releases the session (the next waiting tab gets it).
    pub fn release(self) {
        // Drop releases.
    }
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::NULL);
    }
}
