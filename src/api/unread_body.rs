//! Lingering close: a request answered before its body was read to the end gets the answer, not a
//! broken connection.
//!
//! Handlers may answer without reading all of a body: a JSON body over the limit (413
//! `REQUEST_ENTITY_TOO_LARGE`), a direct PUT over the size limit (413 `FILE_TOO_LARGE`, by its
//! Content-Length or once a chunked body passes the limit), a refused token or signature. hyper
//! then closes the connection while the client is still sending, and a client that sends its
//! whole body before reading (Node's fetch, most HTTP libraries) gets EPIPE or a reset instead
//! of the answer. As lingering-close servers do, [`drain_unread_body`] reads and discards what is
//! left of such a body, at most [`DRAIN_MAX_BYTES`] within [`DRAIN_MAX_TIME`], and only then lets
//! the answer go out, with `Connection: close`. Past either bound (or a declared length over
//! it) the connection closes as it did before: the client gets what hyper can give it.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::Request,
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};
use futures_util::StreamExt;
use hyper::body::{Frame, SizeHint};
use tokio::sync::oneshot;

/// Most bytes read and discarded after the answer is known: enough for the rest of a body a few
/// MiB over a limit (a 3 MB JSON body, a file a MiB or two over `ASSETD_MAX_UPLOAD_SIZE`), little
/// next to what a client may upload anyway.
const DRAIN_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Longest a drain waits for the rest of a body: a slow client gets its answer, and one that
/// trickles cannot hold the answer back for longer.
const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

/// Runs the request; if the handler left part of the body unread (and dropped it), discards the
/// rest within the bounds before answering, with `Connection: close`.
pub(super) async fn drain_unread_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let waits_for_continue = expects_continue(&parts.headers);
    let (give_back, mut left_unread) = oneshot::channel();
    let body = Body::new(Watched { inner: body, polled: false, ended: false, give_back: Some(give_back) });
    let mut response = next.run(Request::from_parts(parts, body)).await;
    // Nothing comes back when the body was read to its end (or is still held by a task).
    let Ok(Unread { body, polled }) = left_unread.try_recv() else { return response };
    // A client waiting for `100 Continue` sends its body only when asked; asking now would only
    // make it send what nobody reads.
    if (!waits_for_continue || polled) && !drain(body).await {
        tracing::debug!("closing a connection with more of the request body unread than the drain reads");
    }
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers.get(header::EXPECT).is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Reads and discards `body` to its end within the bounds; false when a bound (or an error of
/// the connection) stopped it first.
async fn drain(body: Body) -> bool {
    if body.size_hint().lower() > DRAIN_MAX_BYTES {
        return false;
    }
    let mut data = body.into_data_stream();
    let read_to_end = async {
        let mut read: u64 = 0;
        while let Some(chunk) = data.next().await {
            let Ok(chunk) = chunk else { return false };
            read += chunk.len() as u64;
            if read > DRAIN_MAX_BYTES {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_MAX_TIME, read_to_end).await.unwrap_or(false)
}

/// What a handler left of a request body.
struct Unread {
    body: Body,
    /// Whether anything asked for the body at all (a read sends `100 Continue`).
    polled: bool,
}

/// The request body as handlers see it; dropped before its end, it gives the rest back to
/// [`drain_unread_body`].
struct Watched {
    inner: Body,
    polled: bool,
    ended: bool,
    give_back: Option<oneshot::Sender<Unread>>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.polled = true;
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        // After an error the connection is broken: there is nothing left to drain either.
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if self.is_end_stream() {
            return;
        }
        if let Some(give_back) = self.give_back.take() {
            let body = std::mem::take(&mut self.inner);
            let _ = give_back.send(Unread { body, polled: self.polled });
        }
    }
}
