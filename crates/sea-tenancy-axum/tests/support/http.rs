//! A minimal HTTP/1.1 client for the HTTP-level tests of `sea-tenancy-axum` and
//! `examples/axum-saas` (included by path), shaped like the few `reqwest` calls they make.
//!
//! Why not `reqwest`: as a dev-dependency it switched on features of crates the libraries
//! share with sea-orm (`futures-channel`, `smallvec`, `form_urlencoded`, via hyper's client), so
//! `cargo test` rebuilt sqlx, sea-orm and everything above them next to `cargo build`'s copies.
//! This client uses only what the crates already build: tokio's `net` and `io-util`, `http`
//! (through axum) and serde_json. One connection per request (`Connection: close`), which is
//! all the tests need.
#![allow(dead_code)]

use std::fmt::Display;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Makes requests; stateless, like a `reqwest::Client` without a pool.
#[derive(Clone, Copy, Debug, Default)]
pub struct Client;

impl Client {
    pub fn new() -> Self {
        Self
    }

    pub fn get(&self, url: impl Into<String>) -> RequestBuilder {
        RequestBuilder::new("GET", url.into())
    }

    pub fn post(&self, url: impl Into<String>) -> RequestBuilder {
        RequestBuilder::new("POST", url.into())
    }

    pub fn put(&self, url: impl Into<String>) -> RequestBuilder {
        RequestBuilder::new("PUT", url.into())
    }

    pub fn delete(&self, url: impl Into<String>) -> RequestBuilder {
        RequestBuilder::new("DELETE", url.into())
    }
}

/// One request being put together.
#[derive(Debug)]
pub struct RequestBuilder {
    method: &'static str,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RequestBuilder {
    fn new(method: &'static str, url: String) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header; a `host` header replaces the one derived from the URL.
    pub fn header(mut self, name: &str, value: impl Display) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn bearer_auth(self, token: impl Display) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = serde_json::to_vec(body).expect("a JSON value serializes");
        self.header("content-type", "application/json")
    }

    /// Sends the request and reads the whole response.
    pub async fn send(self) -> std::io::Result<Response> {
        let rest = self
            .url
            .strip_prefix("http://")
            .ok_or_else(|| invalid(format!("not an http:// URL: {}", self.url)))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let mut head = format!("{} {path} HTTP/1.1\r\n", self.method);
        if !self.headers.iter().any(|(name, _)| name == "host") {
            head.push_str(&format!("host: {authority}\r\n"));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut stream = TcpStream::connect(authority).await?;
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&self.body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Response::parse(&raw)
    }
}

/// A response read in full.
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub async fn json<T: serde::de::DeserializeOwned>(self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.body)
    }

    fn parse(raw: &[u8]) -> std::io::Result<Self> {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| invalid("the response has no end of headers".into()))?;
        let head = std::str::from_utf8(&raw[..split])
            .map_err(|_| invalid("the response head is not UTF-8".into()))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let code = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or_else(|| invalid(format!("bad status line: {status_line}")))?;
        let mut headers = HeaderMap::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid(format!("bad header line: {line}")))?;
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| invalid(format!("bad header name: {name}")))?;
            let value = HeaderValue::from_str(value.trim())
                .map_err(|_| invalid(format!("bad header value: {value}")))?;
            headers.append(name, value);
        }
        let body = &raw[split + 4..];
        let chunked = headers
            .get("transfer-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
        let body = if chunked {
            dechunk(body)?
        } else {
            body.to_vec()
        };
        Ok(Self {
            status: code,
            headers,
            body,
        })
    }
}

/// Decodes a `Transfer-Encoding: chunked` body (sizes in hex, each chunk followed by CRLF).
fn dechunk(mut body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("a chunk size line has no end".into()))?;
        let size_text = std::str::from_utf8(&body[..line_end]).unwrap_or_default();
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size: {size_text}")))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err(invalid("a chunk is cut short".into()));
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}
