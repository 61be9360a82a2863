//! The listening socket, with hyper's own error answers turned into JSON.
//!
//! hyper answers a request it cannot parse by itself, before any handler runs, with an empty
//! body: 400 (malformed request line or header), 414 (request target longer than hyper's fixed
//! 65 534 bytes) and 431 (more than 100 headers, or a head beyond hyper's buffer). hyper has no
//! hook for that answer and its URI limit is a constant, so each accepted connection is wrapped
//! in [`JsonErrors`]: when hyper writes such a head (a 4xx with `content-length: 0` and no
//! `content-type`; every answer of ours to a 4xx has a JSON body), it is replaced by the same
//! status with a `{"api_id","error"}` body. hyper closes the connection after it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A listener whose connections answer hyper's parse errors in JSON.
#[derive(Debug)]
pub(crate) struct JsonListener(pub(crate) TcpListener);

impl axum::serve::Listener for JsonListener {
    type Io = JsonErrors<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (JsonErrors { inner: io, pending: None }, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// An accepted connection; see the module documentation.
#[derive(Debug)]
pub(crate) struct JsonErrors<S> {
    inner: S,
    /// A replacement being written: its bytes, how many are written, and the length of the
    /// buffer hyper gave (reported as written once the replacement is out).
    pending: Option<(Vec<u8>, usize, usize)>,
}

/// The JSON answer replacing the head `buf`, when it is one of hyper's own error answers.
fn replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let code = std::str::from_utf8(buf.strip_prefix(b"HTTP/1.1 ")?.get(..3)?).ok()?;
    let (code, reason, error) = match code {
        "400" => (400, "Bad Request", "malformed HTTP request"),
        "414" => (414, "URI Too Long", "the request target is too long (at most 65534 bytes)"),
        "431" => (
            431,
            "Request Header Fields Too Large",
            "too many request headers (at most 100) or a request head that is too large",
        ),
        _ => return None,
    };
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != buf.len() {
        return None;
    }
    let head = std::str::from_utf8(buf.get(..end)?).ok()?.to_ascii_lowercase();
    if head.contains("\r\ncontent-type:") || !head.contains("\r\ncontent-length: 0") {
        return None;
    }
    let body = serde_json::json!({ "api_id": super::api::fallback_api_id(), "error": error }).to_string();
    let out = format!(
        "HTTP/1.1 {code} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}: {}\r\nconnection: close\r\n\r\n{body}",
        body.len(),
        super::VERSION_HEADER,
        super::VERSION
    );
    Some(out.into_bytes())
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonErrors<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonErrors<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none()
            && let Some(bytes) = replacement(buf)
        {
            this.pending = Some((bytes, 0, buf.len()));
        }
        let Some((bytes, written, reported)) = &mut this.pending else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        while let Some(left) = bytes.get(*written..).filter(|l| !l.is_empty()) {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, left))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let reported = *reported;
        this.pending = None;
        Poll::Ready(Ok(reported))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then writes each head as one flat buffer, which is what is checked.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::replacement;

    #[test]
    fn only_hyper_s_bodyless_error_heads_are_replaced() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(replacement(hyper).expect("replaced")).expect("utf-8");
        assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
        assert!(out.contains("content-type: application/json"));
        let body = out.split("\r\n\r\n").nth(1).expect("body");
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert!(v["api_id"].is_string() && v["error"].is_string());
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement(ours).is_none());
        assert!(replacement(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}").is_none());
    }
}
