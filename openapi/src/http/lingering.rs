//! A connection closed without losing its last answer. When a server closes a socket that still
//! holds unread bytes from the client (a refused upload still being sent, a request pipelined
//! behind a refusal), the kernel sends a reset, and the client's side throws away the answer it
//! had not read yet: a 413, 503 or 507 reaches the client as "connection reset". So shutting
//! down first sends our end of the stream (FIN), then reads and discards what the client still
//! sends, for a bounded time and number of bytes, and only then lets the socket close.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a closing connection waits for the client to stop sending.
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// How much of what the client still sends is read and dropped at most.
pub const LINGER_BYTES: usize = 4 * 1024 * 1024;

enum Closing {
    Open,
    /// Our side is shut; draining theirs until the deadline.
    Draining {
        deadline: Pin<Box<Sleep>>,
        left: usize,
    },
    Done,
}

pub struct Lingering<T> {
    inner: T,
    closing: Closing,
}

impl<T> Lingering<T> {
    pub fn new(inner: T) -> Self {
        Lingering {
            inner,
            closing: Closing::Open,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Lingering<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
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

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.closing {
                Closing::Open => {
                    if let Err(e) = std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx)) {
                        this.closing = Closing::Done;
                        return Poll::Ready(Err(e));
                    }
                    this.closing = Closing::Draining {
                        deadline: Box::pin(tokio::time::sleep(LINGER_TIME)),
                        left: LINGER_BYTES,
                    };
                }
                Closing::Draining { deadline, left } => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.closing = Closing::Done;
                        continue;
                    }
                    let mut scratch = [0u8; 8192];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf)) {
                        Ok(()) if !buf.filled().is_empty() => {
                            *left = left.saturating_sub(buf.filled().len());
                            if *left == 0 {
                                this.closing = Closing::Done;
                            }
                        }
                        // The client closed its side (or the socket failed): nothing is unread.
                        _ => this.closing = Closing::Done,
                    }
                }
                Closing::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn shutting_down_reads_what_the_client_still_sends_then_ends() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut server = Lingering::new(server);
        let sender = tokio::spawn(async move {
            client
                .write_all(&[7u8; 10_000])
                .await
                .expect("the client's bytes are read, not refused");
            let mut answer = Vec::new();
            client.read_to_end(&mut answer).await.expect("answer");
            answer
        });
        server
            .write_all(b"HTTP/1.1 413 Payload Too Large\r\n\r\n")
            .await
            .expect("write");
        server.shutdown().await.expect("shutdown");
        drop(server);
        assert_eq!(sender.await.expect("client"), b"HTTP/1.1 413 Payload Too Large\r\n\r\n");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_stops_is_left_after_the_linger_time() {
        let (_client, server) = tokio::io::duplex(1024);
        let mut server = Lingering::new(server);
        let started = tokio::time::Instant::now();
        server.shutdown().await.expect("shutdown");
        assert!(started.elapsed() >= LINGER_TIME && started.elapsed() < LINGER_TIME * 2);
    }
}
