//! Answers that finish together leave in one write.
//!
//! hyper runs each HTTP/2 call as its own task and the connection as another. A call that
//! finishes wakes the connection, tokio runs the woken task next, and the connection
//! writes that one answer: under load, one `writev` per call, even when a dozen more
//! calls of the same connection are ready to finish (measured: 0.75 writes per call,
//! with 64 calls in flight). Each write is a system call here and a read at the peer.
//!
//! [`CoalescedWrites`] wraps a connection's stream and makes the first write after each
//! flush wait once: it asks to be polled again and returns `Pending`, which sends the
//! connection task to the back of the run queue. The calls already runnable finish first
//! and queue their answers, and the connection then writes them all together. Nothing is
//! held back by a timer and nothing is buffered here: when nothing else is runnable, the
//! connection runs again at once, so a lone call pays one more poll of its connection
//! (about 2.5k instructions by callgrind) and no delay.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A server's accepted connections (a tonic incoming stream), each wrapped.
pub fn each<S, IO, E>(
    incoming: S,
) -> impl tokio_stream::Stream<Item = Result<CoalescedWrites<IO>, E>>
where
    S: tokio_stream::Stream<Item = Result<IO, E>>,
{
    tokio_stream::StreamExt::map(incoming, |accepted| accepted.map(CoalescedWrites::new))
}

/// A server connection's stream whose writes wait once for the calls that are ready.
#[derive(Debug)]
pub struct CoalescedWrites<IO> {
    io: IO,
    /// The current batch has waited: write now, until the next flush begins another.
    waited: bool,
}

impl<IO> CoalescedWrites<IO> {
    pub fn new(io: IO) -> Self {
        Self { io, waited: false }
    }

    /// The first write of a batch: let the rest of the run queue go first.
    fn wait_once(&mut self, cx: &mut Context<'_>) -> bool {
        if self.waited {
            return false;
        }
        self.waited = true;
        cx.waker().wake_by_ref();
        true
    }
}

impl<IO: tonic::transport::server::Connected> tonic::transport::server::Connected
    for CoalescedWrites<IO>
{
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for CoalescedWrites<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for CoalescedWrites<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.wait_once(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.wait_once(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.io).poll_flush(cx);
        if flushed.is_ready() {
            self.waited = false;
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};

    use super::*;

    /// A duplex end that counts the writes that reach it.
    struct Counted {
        io: DuplexStream,
        writes: Arc<AtomicUsize>,
    }

    impl AsyncWrite for Counted {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let written = Pin::new(&mut self.io).poll_write(cx, buf);
            if matches!(written, Poll::Ready(Ok(_))) {
                self.writes.fetch_add(1, Ordering::SeqCst);
            }
            written
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.io).poll_shutdown(cx)
        }
    }

    /// As hyper serves a connection: its task reads five requests at once and spawns a
    /// task per call; each call queues its answer and wakes the connection, which takes
    /// what is queued into its buffer and writes it on each poll, then flushes. Returns
    /// the answers the peer got and the writes they took. (A runtime with one worker:
    /// tokio's multi-threaded scheduler runs a task woken by another next, as it does
    /// in the services.)
    async fn five_answers<W>(wrap: impl FnOnce(Counted) -> W + Send + 'static) -> (Vec<u8>, usize)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (near, mut far) = tokio::io::duplex(1 << 16);
        let writes = Arc::new(AtomicUsize::new(0));
        let counted = Counted {
            io: near,
            writes: writes.clone(),
        };
        let connection = tokio::spawn(async move {
            let mut conn = wrap(counted);
            let (answers, mut queued) = tokio::sync::mpsc::unbounded_channel::<u8>();
            for n in b'1'..=b'5' {
                let answers = answers.clone();
                tokio::spawn(async move { answers.send(n).expect("the connection is there") });
            }
            drop(answers);
            let mut buffer = Vec::new();
            while let Some(first) = queued.recv().await {
                buffer.push(first);
                std::future::poll_fn(|cx| {
                    while !buffer.is_empty() {
                        while let Ok(more) = queued.try_recv() {
                            buffer.push(more);
                        }
                        let n = std::task::ready!(Pin::new(&mut conn).poll_write(cx, &buffer))?;
                        buffer.drain(..n);
                    }
                    Poll::Ready(Ok::<_, io::Error>(()))
                })
                .await
                .expect("write");
                conn.flush().await.expect("flush");
            }
            conn.shutdown().await.expect("shutdown");
        });
        connection.await.expect("connection");
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.expect("read");
        got.sort_unstable();
        (got, writes.load(Ordering::SeqCst))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn answers_ready_together_leave_in_one_write() {
        let (got, writes) = five_answers(CoalescedWrites::new).await;
        assert_eq!(got, b"12345");
        assert_eq!(writes, 1, "one write for five answers");
        // The same calls straight onto the stream: each answer in a write of its own.
        let (got, writes) = five_answers(|io| io).await;
        assert_eq!(got, b"12345");
        assert_eq!(writes, 5);
    }

    /// Every byte arrives, in order, when the peer reads slowly and the inner stream
    /// pushes back (its writes pending and partial), and reads pass through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_is_lost_or_reordered_under_back_pressure() {
        let (near, far) = tokio::io::duplex(1024);
        let mut conn = CoalescedWrites::new(near);
        let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let expected = sent.clone();
        let (mut far_read, mut far_write) = tokio::io::split(far);
        let peer = tokio::spawn(async move {
            far_write.write_all(b"ping").await.expect("peer write");
            let mut got = Vec::new();
            let mut chunk = [0u8; 700];
            loop {
                let n = far_read.read(&mut chunk).await.expect("peer read");
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&chunk[..n]);
                tokio::task::yield_now().await;
            }
            got
        });
        for piece in sent.chunks(3000) {
            conn.write_all(piece).await.expect("write");
            conn.flush().await.expect("flush");
        }
        let mut ping = [0u8; 4];
        conn.read_exact(&mut ping).await.expect("read");
        assert_eq!(&ping, b"ping");
        conn.shutdown().await.expect("shutdown");
        assert_eq!(peer.await.expect("peer"), expected);
    }
}
