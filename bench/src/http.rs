//! One keep-alive HTTP/1.1 connection per worker, so `--connections N` means
//! exactly N sockets to the server (a pooled client would open and close
//! sockets as it sees fit and blur that number).

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::{BenchError, Result};

/// Where an HTTP endpoint lives: `host:port` to dial and the `Host` header value.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub authority: String,
    pub base_path: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |reason: &str| BenchError::Endpoint {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// is supported"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let path = uri.path().trim_end_matches('/').to_string();
        Ok(Self {
            authority: format!("{}:{}", authority.host(), port),
            base_path: path,
        })
    }

    /// The path for `suffix` under the endpoint's own path (`/` for the root).
    pub fn path(&self, suffix: &str) -> String {
        let joined = format!("{}{}", self.base_path, suffix);
        if joined.is_empty() {
            "/".to_string()
        } else {
            joined
        }
    }
}

pub struct HttpConn {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl HttpConn {
    pub async fn connect(endpoint: &Endpoint) -> Result<Self> {
        let sender = open(&endpoint.authority).await?;
        Ok(Self {
            authority: endpoint.authority.clone(),
            sender: Some(sender),
        })
    }

    /// Sends one request and reads the whole answer. A broken connection is
    /// dropped and the next call dials a fresh one.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes)> {
        let mut sender = match self.sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => open(&self.authority).await?,
        };
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        // A server that answers `Connection: close` (moto's SNS door does) is about to hang
        // up; dial afresh next time instead of racing the close.
        let closing = resp
            .headers()
            .get(http::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = resp.into_body().collect().await?.to_bytes();
        if !closing {
            self.sender = Some(sender);
        }
        Ok((status, body))
    }
}

async fn open(authority: &str) -> Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|source| BenchError::Connect {
            addr: authority.to_string(),
            source,
        })?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // The connection task ends when the server closes or the sender drops.
        let _ = conn.await;
    });
    Ok(sender)
}
