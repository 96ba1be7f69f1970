//! DCR_MAX_CONCURRENT_REQUESTS for the gRPC servers: calls in progress on the whole
//! server; more wait for a free place, first come first served as far as the waker
//! order goes.
//!
//! One shared counter rather than tower's `GlobalConcurrencyLimit`: its semaphore
//! clones an `Arc` to try for a permit and takes the waiters' mutex to give one back,
//! on every call, and on two cores those shared cache lines cost more than a warm
//! Check's own work (see docs/benchmarks.md). Here a call that finds a place pays one
//! compare-and-swap to take it and one subtraction to give it back; only calls that
//! find none touch the `Notify`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::sync::Notify;

/// The places of one server.
#[derive(Debug)]
struct Places {
    max: usize,
    taken: AtomicUsize,
    /// Calls waiting for a place: a place given back wakes one only when there are any.
    waiting: AtomicUsize,
    freed: Notify,
}

impl Places {
    fn try_take(&self) -> bool {
        self.taken
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |taken| {
                (taken < self.max).then_some(taken + 1)
            })
            .is_ok()
    }

    /// Waits for a place. The waiter counts itself before it looks, and a place is given
    /// back before the giver looks at the count, so one of the two always sees the
    /// other: no wake-up is lost.
    async fn take(self: Arc<Self>) -> Place {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.try_take() {
                break;
            }
            freed.await;
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        Place(self)
    }
}

/// A place held: given back when dropped (the call answered, failed or was cancelled).
#[derive(Debug)]
pub struct Place(Arc<Places>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::SeqCst);
        if self.0.waiting.load(Ordering::SeqCst) > 0 {
            self.0.freed.notify_one();
        }
    }
}

/// At most `max` calls in progress across every connection of the server it wraps.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitLayer {
    places: Arc<Places>,
}

impl ConcurrencyLimitLayer {
    pub fn new(max: usize) -> Self {
        Self {
            places: Arc::new(Places {
                max,
                taken: AtomicUsize::new(0),
                waiting: AtomicUsize::new(0),
                freed: Notify::new(),
            }),
        }
    }
}

impl<S> tower::Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit {
            inner,
            places: self.places.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    places: Arc<Places>,
}

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, Request> tower::Service<Request> for ConcurrencyLimit<S>
where
    S: tower::Service<Request> + Clone + Send + 'static,
    S::Future: Send,
    Request: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Limited<S::Future, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if self.places.try_take() {
            return Limited::Admitted {
                future: self.inner.call(request),
                place: Some(Place(self.places.clone())),
            };
        }
        // No place now: the call waits, with a clone of the service (the one that was
        // made ready stays here for the next call, as tower's Buffer does).
        let places = self.places.clone();
        let mut inner = self.inner.clone();
        std::mem::swap(&mut inner, &mut self.inner);
        Limited::Waiting {
            future: Box::pin(async move {
                let _place = places.take().await;
                inner.call(request).await
            }),
        }
    }
}

pin_project_lite::pin_project! {
    /// A call that got its place at once (no allocation), or one that waits for it.
    #[project = LimitedProjection]
    pub enum Limited<F, T> {
        Admitted { #[pin] future: F, place: Option<Place> },
        Waiting { future: Boxed<T> },
    }
}

impl<F, T> Future for Limited<F, T>
where
    F: Future<Output = T>,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.project() {
            LimitedProjection::Admitted { future, place } => {
                let output = std::task::ready!(future.poll(cx));
                // The place is free once the response is out, as with tower's limit.
                place.take();
                Poll::Ready(output)
            }
            LimitedProjection::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;
    use tower::{Service as _, ServiceExt as _};

    type Gate = tokio::sync::oneshot::Receiver<()>;

    /// A service whose calls finish when the test opens their gate.
    fn gated()
    -> impl tower::Service<Gate, Response = (), Error = std::convert::Infallible, Future: Send>
    + Clone
    + Send
    + 'static {
        tower::service_fn(|gate: Gate| async move {
            let _ = gate.await;
            Ok::<_, std::convert::Infallible>(())
        })
    }

    #[tokio::test]
    async fn calls_beyond_the_limit_wait_for_a_place_and_then_run() {
        let service = gated();
        let layer = ConcurrencyLimitLayer::new(2);
        let mut limited = tower::Layer::layer(&layer, service);

        let (finish_a, a) = tokio::sync::oneshot::channel();
        let (finish_b, b) = tokio::sync::oneshot::channel();
        let (finish_c, c) = tokio::sync::oneshot::channel();
        let a = tokio::spawn(limited.ready().await.expect("ready").call(a));
        let b = tokio::spawn(limited.ready().await.expect("ready").call(b));
        let third = limited.ready().await.expect("ready").call(c);
        assert!(matches!(third, Limited::Waiting { .. }), "no place left");
        let c = tokio::spawn(third);
        finish_c.send(()).expect("c waits for its gate");
        tokio::task::yield_now().await;
        assert_eq!(layer.places.taken.load(Ordering::SeqCst), 2);
        assert_eq!(layer.places.waiting.load(Ordering::SeqCst), 1);
        assert!(
            !c.is_finished(),
            "the third call waits while two are in progress"
        );

        finish_a.send(()).expect("a runs");
        a.await.expect("a").expect("a answered");
        c.await.expect("c").expect("c ran once a place was free");
        finish_b.send(()).expect("b runs");
        b.await.expect("b").expect("b answered");
        assert_eq!(
            layer.places.taken.load(Ordering::SeqCst),
            0,
            "every place back"
        );
        assert_eq!(layer.places.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_cancelled_call_gives_its_place_back() {
        let service = gated();
        let layer = ConcurrencyLimitLayer::new(1);
        let mut limited = tower::Layer::layer(&layer, service);
        let (_keep_open, first) = tokio::sync::oneshot::channel::<()>();
        let first = limited.ready().await.expect("ready").call(first);
        assert_eq!(layer.places.taken.load(Ordering::SeqCst), 1);
        drop(first);
        assert_eq!(layer.places.taken.load(Ordering::SeqCst), 0);
        let (finish, second) = tokio::sync::oneshot::channel();
        finish.send(()).expect("open");
        limited
            .ready()
            .await
            .expect("ready")
            .call(second)
            .await
            .expect("the next call runs");
    }
}
