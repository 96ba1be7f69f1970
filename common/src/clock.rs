//! Time is a parameter: code that compares against "now" takes a clock, so tests can
//! move time instead of sleeping.

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub type SharedClock = Arc<dyn Clock>;

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// Real time plus a shift that tests can move forward (or back): time runs as usual
/// between services, and expiry or lease logic is tested by jumping instead of sleeping.
#[derive(Debug, Default)]
pub struct ShiftedClock(std::sync::Mutex<chrono::Duration>);

impl ShiftedClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut shift) = self.0.lock() {
            *shift += by;
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0.lock().map(|shift| *shift).unwrap_or_default()
    }
}
