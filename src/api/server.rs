//! The HTTP/1.1 server loop: accepts connections and serves the router on each, with the limits a
//! server facing the internet needs, which `axum::serve` does not set:
//! - a **header timeout**: a client must send a request's headers (and an idle keep-alive
//!   connection its next request) within `header_timeout`, so slow-header clients cannot hold
//!   connections (slowloris);
//! - an **idle timeout**: a connection that neither reads nor writes a byte for `idle_timeout`
//!   is closed (a stalled upload body, a client that stopped reading a download); the time the
//!   server spends computing an answer (the request read whole, the response not yet begun: a
//!   transform waiting for its turn) is the server's, not idleness ([`Exchange`]);
//! - a cap on the request head's size: 431 beyond [`MAX_HEADER_BYTES`] ([`head_bytes`]);
//! - `TCP_NODELAY`, and the peer address in each request (for per-address rate limits).

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicU32, AtomicU8, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{body::Body, extract::Request, Router};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpListener,
    time::Sleep,
};
use tower::ServiceExt;

/// Largest request head (request line and headers) read.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long shutdown waits for requests in flight before closing their connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// The address a request's connection came from (an extension of every request).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// (up to [`DRAIN_TIMEOUT`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(MAX_HEADER_BYTES);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Without TCP_NODELAY a response written in several pieces (every streamed file) stalls on
        // Nagle's algorithm and delayed ACKs: about 40 ms per response.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let exchange = Arc::new(Exchange::default());
        let (router, exchanged) = (router.clone(), exchange.clone());
        let service = tower::service_fn(move |request: Request<Incoming>| {
            let (router, exchange) = (router.clone(), exchanged.clone());
            async move {
                exchange.set(Stage::Reading);
                if head_bytes(&request) > MAX_HEADER_BYTES {
                    exchange.set(Stage::Answering);
                    return Ok(head_too_large());
                }
                let (mut parts, body) = request.into_parts();
                parts.extensions.insert(PeerAddr(peer));
                let body = Body::new(ReadBody { inner: body, exchange: exchange.clone() });
                let response = router.oneshot(Request::from_parts(parts, body)).await;
                exchange.set(Stage::Answering);
                response
            }
        });
        let io = TokioIo::new(IdleTimeout::new(tcp, limits.idle_timeout, exchange));
        let connection = graceful.watch(http.serve_connection(io, TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; closing their connections");
    }
}

/// The size of a request's head as sent in the canonical form (`name: value` lines, CRLF
/// ends): hyper's `max_buf_size` bounds its read buffer, not the head, and lets heads of a few
/// hundred KiB through, so the documented cap is counted here from what hyper parsed.
fn head_bytes<B>(request: &Request<B>) -> usize {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(uri.path().len(), |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len() + uri.scheme_str().map_or(0, str::len) + 3);
    // "METHOD target HTTP/1.1\r\n", each "name: value\r\n", the closing "\r\n".
    let line = request.method().as_str().len() + 1 + target + 1 + "HTTP/1.1\r\n".len();
    let headers: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + 2 + value.len() + 2).sum();
    line + headers + 2
}

/// What hyper answers to a head over its own cap: 431, and the connection closed (the rest of
/// the request is not read).
fn head_too_large() -> axum::response::Response {
    let mut response = axum::response::Response::new(Body::empty());
    *response.status_mut() = axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    response.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    response
}

/// Where the current request of a connection is, shared by its I/O stream and its service.
/// HTTP/1.1 serves one request at a time per connection, so one stage describes it.
#[derive(Debug, Default)]
struct Exchange {
    stage: AtomicU8,
    /// Answers begun on this connection: the idle clock restarts with each.
    answers: AtomicU32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Stage {
    /// Reading a request (its head or body), or between requests.
    Reading = 0,
    /// The request is read (its body ended, or the handler dropped it) and the response has not
    /// begun: the server is computing. hyper keeps a read pending meanwhile (to notice a client
    /// that closes), which must not count as idle.
    Computing = 1,
    /// The response has begun; its writes count as usual.
    Answering = 2,
}

impl Exchange {
    fn set(&self, stage: Stage) {
        if stage == Stage::Answering {
            self.answers.fetch_add(1, Ordering::AcqRel);
        }
        self.stage.store(stage as u8, Ordering::Release);
    }

    /// The body is done with: computing starts, unless the answer already has (a handler that
    /// answered before it dropped the body).
    fn body_done(&self) {
        let _ = self.stage.compare_exchange(
            Stage::Reading as u8,
            Stage::Computing as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    fn computing(&self) -> bool {
        self.stage.load(Ordering::Acquire) == Stage::Computing as u8
    }

    fn answers(&self) -> u32 {
        self.answers.load(Ordering::Acquire)
    }
}

/// A request body that tells its connection's [`Exchange`] when it has ended or was dropped.
struct ReadBody {
    inner: Incoming,
    exchange: Arc<Exchange>,
}

impl HttpBody for ReadBody {
    type Data = <Incoming as HttpBody>::Data;
    type Error = <Incoming as HttpBody>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None))
            || (matches!(polled, Poll::Ready(Some(Ok(_)))) && self.inner.is_end_stream())
        {
            self.exchange.body_done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ReadBody {
    fn drop(&mut self) {
        self.exchange.body_done();
    }
}

/// An I/O stream that fails with `TimedOut` once it has been waiting for `timeout` without a
/// byte read or written, except while its [`Exchange`] is computing: then the clock stops, and
/// it starts again from the end of the computation.
struct IdleTimeout<T> {
    inner: T,
    timeout: Duration,
    last_progress: Instant,
    timer: Pin<Box<Sleep>>,
    exchange: Arc<Exchange>,
    /// The exchange's answer count when last looked at.
    answers_seen: u32,
}

impl<T> IdleTimeout<T> {
    fn new(inner: T, timeout: Duration, exchange: Arc<Exchange>) -> Self {
        IdleTimeout {
            inner,
            timeout,
            last_progress: Instant::now(),
            timer: Box::pin(tokio::time::sleep(timeout)),
            exchange,
            answers_seen: 0,
        }
    }

    /// Called when the inner stream is pending: `Ready(Err)` once idle for too long. The timer
    /// is re-armed lazily from the last progress, so progress itself costs no timer update.
    /// While computing, no timer is armed: the inner stream's waker, or the answer's first
    /// write, polls again.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.exchange.computing() {
            return Poll::Pending;
        }
        let answers = self.exchange.answers();
        if answers != self.answers_seen {
            self.answers_seen = answers;
            self.last_progress = Instant::now();
        }
        loop {
            let deadline = self.last_progress + self.timeout;
            if Instant::now() >= deadline {
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long"));
            }
            if self.timer.deadline().into_std() != deadline {
                self.timer.as_mut().reset(deadline.into());
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    fn pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        self.poll_idle(cx).map(Err)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.last_progress = Instant::now();
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                this.last_progress = Instant::now();
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, data) {
            Poll::Ready(result) => {
                this.last_progress = Instant::now();
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.pending(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_silent_peer_times_out_and_a_talking_one_does_not() {
        let timeout = Duration::from_millis(300);
        let (client, server) = tokio::io::duplex(64);
        let mut server = IdleTimeout::new(server, timeout, Arc::default());
        let mut client = client;
        let talker = tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                client.write_all(b"x").await.unwrap();
            }
            client
        });
        let mut byte = [0u8; 1];
        for _ in 0..5 {
            server.read_exact(&mut byte).await.expect("gaps under the timeout keep the stream alive");
        }
        let _client = talker.await.unwrap();
        let started = Instant::now();
        let error = server.read_exact(&mut byte).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(2), "{waited:?}");
    }

    #[tokio::test]
    async fn computing_an_answer_is_not_idle_but_an_unread_answer_is() {
        let timeout = Duration::from_millis(300);
        let (client, server) = tokio::io::duplex(16);
        let exchange = Arc::new(Exchange::default());
        let mut server = IdleTimeout::new(server, timeout, exchange.clone());
        exchange.set(Stage::Reading);
        exchange.body_done();
        // A read stays pending (hyper's, while the handler runs) three times the timeout.
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(timeout * 3, server.read_exact(&mut byte)).await;
        assert!(read.is_err(), "the read was still pending, not failed: {read:?}");
        // The answer begins; the client reads none of it: the writes fail after the timeout,
        // counted from the answer's start, not from the request.
        exchange.set(Stage::Answering);
        let started = Instant::now();
        let error = server.write_all(&[0u8; 64]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(2), "{waited:?}");
        // A body dropped after the answer began does not stop the clock again.
        exchange.body_done();
        assert!(!exchange.computing());
        drop(client);
    }
}
