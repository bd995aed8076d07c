//! Serving a router over TCP, on hyper's HTTP/1 connection directly rather
//! than `axum::serve`, for what that does not offer:
//!
//! - a header-read timeout: a connection that has not sent a whole request
//!   head in [`ServeOptions::header_read_timeout`] is closed, so slow or idle
//!   clients cannot hold connections open for as long as they like (the body
//!   has its own deadline, in [`crate::app`]);
//! - problem documents for the answers hyper gives by itself, before any
//!   service sees the request: a start line or header it cannot parse
//!   (`400`), headers past its buffer (`431`), a URI too long (`414`). Hyper
//!   writes those with an empty body; [`ProblemAnswers`] writes them as
//!   `application/problem+json` instead;
//! - the client's address in each request's extensions as axum's
//!   `ConnectInfo`, which the rate limit keys on;
//! - a graceful shutdown that stops accepting, then waits for the requests
//!   in flight.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::ConnectInfo;
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower::ServiceExt;
use users_api::Rejection;

/// The default of [`ServeOptions::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How long a connection may take to send a whole request head (its
    /// start line and headers), counted from its first byte; past it the
    /// connection is closed.
    pub header_read_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for
/// the connections' requests in flight to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a little rather than spin.
                    tracing::warn!(%err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service =
            router
                .clone()
                .map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(remote));
                    request
                });
        let connection = http.serve_connection(
            hyper_util::rt::TokioIo::new(ProblemAnswers::new(stream)),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, client = %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A connection's byte stream that turns the answers hyper writes by itself
/// (an error status with an empty body) into problem documents.
///
/// Such an answer is recognised by its shape: an error status whose head
/// carries no header but `content-length: 0`, `date` and `connection`.
/// Every answer the router gives that may have a body has one, with its
/// `content-type` (the app turns any empty error into a problem), so only
/// hyper's own answers have that shape. Hyper writes a head as one buffer
/// when the stream does not take vectored writes, as this one does not.
#[derive(Debug)]
pub struct ProblemAnswers<S> {
    inner: S,
    /// A rewritten answer, and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> ProblemAnswers<S> {
    /// Wraps a connection's stream.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> ProblemAnswers<S> {
    /// Writes what is left of a rewritten answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ProblemAnswers<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ProblemAnswers<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(answer) = problem_answer(buf) {
            self.pending = Some((answer, 0));
            // Taken whole: what hyper asked to write is replaced.
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// The problem answer that replaces `written`, when it is one of hyper's
/// own empty error answers.
fn problem_answer(written: &[u8]) -> Option<Vec<u8>> {
    let head = written.strip_suffix(b"\r\n\r\n")?;
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: StatusCode = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?
        .get(..3)?
        .parse()
        .ok()?;
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let mut date = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" if value == "0" => {}
            "connection" => {}
            "date" => date = Some(value),
            _ => return None,
        }
    }
    let (title, detail) = match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "The request's headers are too large",
            "the request's start line and headers are larger than the server reads",
        ),
        StatusCode::URI_TOO_LONG => (
            "The URI is too long",
            "the request's URI is longer than the server reads",
        ),
        _ => (
            "The request is malformed",
            "the request's start line or headers are not valid HTTP/1.1",
        ),
    };
    let (code, _) = crate::app::problem_of(status);
    let problem = Rejection::new(status, code, title, detail).problem();
    let body = serde_json::to_vec(&problem).ok()?;
    let mut answer = format!(
        "{status_line}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\
         x-content-type-options: nosniff\r\ncache-control: no-store\r\n",
        users_api::runtime::PROBLEM_JSON,
        body.len()
    );
    if let Some(date) = date {
        answer.push_str(&format!("date: {date}\r\n"));
    }
    answer.push_str("\r\n");
    let mut answer = answer.into_bytes();
    answer.extend(body);
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_own_error_answers_become_problems() {
        let answer = problem_answer(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\
              date: Sun, 06 Dec 2026 12:00:00 GMT\r\n\r\n",
        )
        .expect("rewritten");
        let text = String::from_utf8(answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(
            head.contains("date: Sun, 06 Dec 2026 12:00:00 GMT"),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 431);
        assert_eq!(problem["code"], "header-fields-too-large");
    }

    #[test]
    fn the_routers_answers_are_left_alone() {
        // A body, a content type, a success, a head cut short: none is
        // hyper's own empty error answer.
        for written in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"{\"a\":1}",
        ] {
            assert!(problem_answer(written).is_none(), "{}", String::from_utf8_lossy(written));
        }
    }

    #[tokio::test]
    async fn a_rewritten_answer_is_written_whole_before_anything_else() {
        use tokio::io::AsyncWriteExt;
        let (client, mut server) = tokio::io::duplex(16);
        let mut stream = ProblemAnswers::new(client);
        let hyper_wrote = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        let reader = tokio::spawn(async move {
            let mut read = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut server, &mut read)
                .await
                .unwrap();
            read
        });
        stream.write_all(hyper_wrote).await.unwrap();
        stream.shutdown().await.unwrap();
        drop(stream);
        let read = String::from_utf8(reader.await.unwrap()).unwrap();
        assert!(read.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{read}");
        assert!(read.ends_with('}'), "{read}");
        assert!(read.contains("\"code\":\"malformed-request\""), "{read}");
    }
}
