//! A connection that gives up on a peer that stops sending: a read that
//! waits longer than its deadline fails with `TimedOut`, which ends the
//! connection and frees its slot. The first bytes must come within
//! `first` (the header timeout), later ones within `idle` (a keep-alive
//! connection between requests, an HTTP/2 connection with nothing open).
//! hyper's own header timeout starts only once it has sniffed the protocol
//! version, so without this a silent socket would hold a slot for ever.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `S` with read deadlines.
pub struct ReadDeadline<S> {
    inner: S,
    first: Duration,
    idle: Duration,
    seen_bytes: bool,
    /// Armed while a read is pending.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<S> ReadDeadline<S> {
    /// Wraps `inner`: first bytes within `first`, then gaps of at most `idle`.
    pub fn new(inner: S, first: Duration, idle: Duration) -> Self {
        Self {
            inner,
            first,
            idle,
            seen_bytes: false,
            deadline: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                self.deadline = None;
                if buf.filled().len() > before {
                    self.seen_bytes = true;
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                let wait = if self.seen_bytes {
                    self.idle
                } else {
                    self.first
                };
                let deadline = self.deadline.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep_until(Instant::now() + wait))
                });
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the peer sent nothing before the read deadline",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_times_out_and_a_talking_one_does_not() {
        let (mut peer, ours) = tokio::io::duplex(64);
        let mut s = ReadDeadline::new(ours, Duration::from_secs(2), Duration::from_secs(5));
        let mut buf = [0u8; 8];
        // Bytes within the first deadline are read.
        peer.write_all(b"hi").await.unwrap();
        assert_eq!(s.read(&mut buf).await.unwrap(), 2);
        // Then silence: the idle deadline (5 s), not the first (2 s).
        let started = Instant::now();
        let e = s.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_at_all_fails_at_the_first_deadline() {
        let (_peer, ours) = tokio::io::duplex(64);
        let mut s = ReadDeadline::new(ours, Duration::from_secs(2), Duration::from_secs(60));
        let started = Instant::now();
        let e = s.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}
