//! The lock threads of a process share data with (see [`crate::thread`]).
//!
//! A spin lock that gives the processor away while it waits: threads of a
//! process run at one priority, so `seL4_Yield` lets the holder go on.
//! Critical sections here are short and never wait on another process: a
//! holder never makes a call that may block while it holds a lock.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

pub struct Mutex<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out one reference at a time.
unsafe impl<T: Send> Sync for Mutex<T> {}
unsafe impl<T: Send> Send for Mutex<T> {}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Mutex { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// Waits for the lock.
    pub fn lock(&self) -> Guard<'_, T> {
        loop {
            if let Some(g) = self.try_lock() {
                return g;
            }
            relax();
        }
    }

    /// The value, the lock no longer needed.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    /// The lock if nobody holds it.
    pub fn try_lock(&self) -> Option<Guard<'_, T>> {
        self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).ok()?;
        Some(Guard { lock: self })
    }
}

pub struct Guard<'a, T> {
    lock: &'a Mutex<T>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard is the one holder.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard is the one holder.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(target_os = "none")]
fn relax() {
    crate::sel4::syscall::yield_now();
}

#[cfg(not(target_os = "none"))]
fn relax() {
    core::hint::spin_loop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let m = Mutex::new(1);
        let mut g = m.lock();
        assert!(m.try_lock().is_none());
        *g += 1;
        drop(g);
        assert_eq!(*m.try_lock().unwrap(), 2);
    }

    #[test]
    fn threads_add_without_losing_updates() {
        extern crate std;
        let m = std::sync::Arc::new(Mutex::new(0u64));
        let hands: std::vec::Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        hands.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*m.lock(), 40_000);
    }
}

/// A wake-up that one thread waits for and any thread gives: a
/// notification of the process's own (`Request::CreateNotification`). A
/// signal given before the wait is kept, so no wake-up is lost; and
/// waiting on a notification keeps the reply capability of a call the
/// thread is answering, which a receive on an endpoint would drop.
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug)]
pub struct Event(crate::sel4::Notification);

#[cfg(target_os = "none")]
impl Event {
    /// A new event in our CSpace's `slot`.
    pub fn create(slot: u64) -> Result<Event, crate::rpc::Errno> {
        crate::process::create_notification(slot)?;
        Ok(Event(crate::sel4::Notification(slot)))
    }

    /// Waits for a signal (or takes the one given since the last wait).
    pub fn wait(self) {
        self.0.wait();
    }

    pub fn signal(self) {
        self.0.signal();
    }
}
