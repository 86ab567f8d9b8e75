//! [`Inbox`]: a single-threaded, unbounded queue with an async receiver.
//!
//! Owns: carrying events from browser callbacks (socket, timer, lifecycle,
//! channel) to one driver loop that awaits them in order. Does not own any
//! browser API. Works because everything runs on the page's one thread.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

struct Shared<T> {
    items: VecDeque<T>,
    waker: Option<Waker>,
    senders: usize,
    receiver_alive: bool,
}

/// The receiving end: awaits items in the order they were pushed.
pub struct Inbox<T> {
    shared: Rc<RefCell<Shared<T>>>,
}

/// A sending end; clone it into every callback that feeds the inbox.
pub struct InboxSender<T> {
    shared: Rc<RefCell<Shared<T>>>,
}

impl<T> core::fmt::Debug for Inbox<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inbox")
            .field("queued", &self.len())
            .finish()
    }
}

impl<T> core::fmt::Debug for InboxSender<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InboxSender").finish_non_exhaustive()
    }
}

/// A new empty inbox and its first sender.
pub fn inbox<T>() -> (InboxSender<T>, Inbox<T>) {
    let shared = Rc::new(RefCell::new(Shared {
        items: VecDeque::new(),
        waker: None,
        senders: 1,
        receiver_alive: true,
    }));
    (
        InboxSender {
            shared: Rc::clone(&shared),
        },
        Inbox { shared },
    )
}

impl<T> Inbox<T> {
    /// The next item; `None` once every sender is gone and the queue is empty.
    pub async fn next(&mut self) -> Option<T> {
        poll_fn(|context| {
            let mut shared = self.shared.borrow_mut();
            if let Some(item) = shared.items.pop_front() {
                return Poll::Ready(Some(item));
            }
            if shared.senders == 0 {
                return Poll::Ready(None);
            }
            shared.waker = Some(context.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The next item if one is queued.
    pub fn try_next(&mut self) -> Option<T> {
        self.shared.borrow_mut().items.pop_front()
    }

    /// How many items are queued.
    pub fn len(&self) -> usize {
        self.shared.borrow().items.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new sender for this inbox.
    pub fn sender(&self) -> InboxSender<T> {
        self.shared.borrow_mut().senders += 1;
        InboxSender {
            shared: Rc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Inbox<T> {
    fn drop(&mut self) {
        let mut shared = self.shared.borrow_mut();
        shared.receiver_alive = false;
        shared.items.clear();
    }
}

impl<T> InboxSender<T> {
    /// Queues `item`; returns `false` (dropping it) if the inbox is gone.
    pub fn push(&self, item: T) -> bool {
        let waker = {
            let mut shared = self.shared.borrow_mut();
            if !shared.receiver_alive {
                return false;
            }
            shared.items.push_back(item);
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// Whether the inbox still exists.
    pub fn is_open(&self) -> bool {
        self.shared.borrow().receiver_alive
    }
}

impl<T> Clone for InboxSender<T> {
    fn clone(&self) -> Self {
        self.shared.borrow_mut().senders += 1;
        Self {
            shared: Rc::clone(&self.shared),
        }
    }
}

impl<T> Drop for InboxSender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut shared = self.shared.borrow_mut();
            shared.senders = shared.senders.saturating_sub(1);
            if shared.senders == 0 {
                shared.waker.take()
            } else {
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}
