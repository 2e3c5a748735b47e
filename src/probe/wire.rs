//! A line-based conversation with a mail server, bounded in every direction: line length,
//! total bytes and a deadline for the whole probe. It records the transcript as it goes,
//! with every secret replaced by `***` before the line is stored.
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Longest reply line accepted (RFC 5321 allows 512 octets, IMAP much more for CAPABILITY).
pub const MAX_LINE: usize = 64 * 1024;
/// Most lines in one reply (a multi-line EHLO or CAPA answer).
pub const MAX_REPLY_LINES: usize = 256;
/// Most bytes read from the server over the whole probe.
pub const MAX_TOTAL: usize = 1024 * 1024;

pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

#[derive(Debug)]
pub enum WireError {
    Timeout {
        waiting_for: &'static str,
    },
    Closed {
        waiting_for: &'static str,
    },
    LineTooLong,
    TooMuch,
    /// TLS bytes where text was expected: an implicit-TLS port spoken to in plain text.
    TlsOnPlainPort,
    Io(std::io::Error),
    Tls(String),
    /// The server sent bytes after STARTTLS's reply and before the handshake (RFC 3207 §5:
    /// a response-injection attempt); nothing is sent over such a connection.
    InjectedBeforeTls,
    Connect(String),
}

pub struct Wire {
    stream: Option<Box<dyn Stream>>,
    buf: Vec<u8>,
    total: usize,
    deadline: Instant,
    pub transcript: Vec<String>,
    secrets: Vec<String>,
    host: String,
    port: u16,
    /// Nothing read yet on this (plain) connection: the first byte tells TLS from text.
    fresh: bool,
    plain: bool,
}

impl Wire {
    /// Connect within the deadline; TLS from the first byte when `tls` is given.
    pub async fn connect(
        host: &str,
        port: u16,
        timeout: Duration,
        tls: Option<&tokio_rustls::TlsConnector>,
        secrets: Vec<String>,
    ) -> Result<Wire, WireError> {
        let deadline = Instant::now() + timeout;
        let tcp = tokio::time::timeout_at(deadline, TcpStream::connect((host, port)))
            .await
            .map_err(|_| WireError::Timeout {
                waiting_for: "the TCP connection",
            })?
            .map_err(|e| WireError::Connect(format!("cannot connect to {host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let mut w = Wire {
            stream: Some(Box::new(tcp)),
            buf: Vec::new(),
            total: 0,
            deadline,
            transcript: Vec::new(),
            secrets,
            host: host.to_owned(),
            port,
            fresh: true,
            plain: true,
        };
        if let Some(c) = tls {
            w.handshake(c).await?;
        }
        Ok(w)
    }

    async fn handshake(&mut self, c: &tokio_rustls::TlsConnector) -> Result<(), WireError> {
        let name = rustls_pki_types::ServerName::try_from(self.host.clone()).map_err(|e| {
            WireError::Tls(format!("{} is not a valid TLS server name: {e}", self.host))
        })?;
        let stream = self.stream.take().ok_or(WireError::Closed {
            waiting_for: "the TLS handshake",
        })?;
        let tls = tokio::time::timeout_at(self.deadline, c.connect(name, stream))
            .await
            .map_err(|_| WireError::Timeout {
                waiting_for: "the TLS handshake",
            })?
            .map_err(|e| WireError::Tls(super::tls::describe(&self.host, self.port, &e)))?;
        self.stream = Some(Box::new(tls));
        self.plain = false;
        self.fresh = false;
        Ok(())
    }

    /// Upgrade after the server's go-ahead to STARTTLS / STLS.
    pub async fn start_tls(&mut self, c: &tokio_rustls::TlsConnector) -> Result<(), WireError> {
        if !self.buf.is_empty() {
            return Err(WireError::InjectedBeforeTls);
        }
        self.transcript.push("-- TLS handshake".into());
        self.handshake(c).await
    }

    /// Every occurrence of a secret replaced by `***`.
    fn mask(&self, line: &str) -> String {
        let mut out = line.to_owned();
        for s in &self.secrets {
            if !s.is_empty() && out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    /// One line from the server (without CRLF), recorded as `S: …`.
    pub async fn read_line(&mut self, waiting_for: &'static str) -> Result<String, WireError> {
        loop {
            if self.fresh && self.plain && !self.buf.is_empty() {
                self.fresh = false;
                // A TLS record starts with 0x16 (handshake) or 0x15 (alert), never text.
                if matches!(self.buf[0], 0x15 | 0x16) {
                    return Err(WireError::TlsOnPlainPort);
                }
            }
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                if pos > MAX_LINE {
                    return Err(WireError::LineTooLong);
                }
                let raw: Vec<u8> = self.buf.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&raw);
                let line: String = text
                    .trim_end_matches(['\r', '\n'])
                    .chars()
                    .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                    .collect();
                let shown = self.mask(&line);
                self.transcript.push(format!("S: {shown}"));
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                self.transcript.push(format!(
                    "S: <a line longer than {} KiB, cut>",
                    MAX_LINE / 1024
                ));
                return Err(WireError::LineTooLong);
            }
            let stream = self
                .stream
                .as_mut()
                .ok_or(WireError::Closed { waiting_for })?;
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout_at(self.deadline, stream.read(&mut chunk))
                .await
                .map_err(|_| WireError::Timeout { waiting_for })?
                .map_err(WireError::Io)?;
            if n == 0 {
                return Err(WireError::Closed { waiting_for });
            }
            self.total += n;
            if self.total > MAX_TOTAL {
                return Err(WireError::TooMuch);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Send `line` + CRLF, recorded as `C: shown`.
    pub async fn send(&mut self, line: &str, shown: &str) -> Result<(), WireError> {
        self.transcript.push(format!("C: {}", self.mask(shown)));
        let stream = self.stream.as_mut().ok_or(WireError::Closed {
            waiting_for: "a chance to send",
        })?;
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        tokio::time::timeout_at(self.deadline, async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        })
        .await
        .map_err(|_| WireError::Timeout {
            waiting_for: "the server to take our command",
        })?
        .map_err(WireError::Io)
    }

    /// Send a whole block (a message, already CRLF-terminated lines) at once, recorded as
    /// one `C: shown` line.
    pub async fn send_block(&mut self, block: &str, shown: &str) -> Result<(), WireError> {
        self.transcript.push(format!("C: {}", self.mask(shown)));
        let stream = self.stream.as_mut().ok_or(WireError::Closed {
            waiting_for: "a chance to send",
        })?;
        tokio::time::timeout_at(self.deadline, async {
            stream.write_all(block.as_bytes()).await?;
            stream.flush().await
        })
        .await
        .map_err(|_| WireError::Timeout {
            waiting_for: "the server to take the message",
        })?
        .map_err(WireError::Io)
    }

    /// Say goodbye without caring about the answer, bounded by a short grace period.
    pub async fn close(&mut self, line: &str) {
        let grace = Instant::now() + Duration::from_secs(2);
        if grace < self.deadline {
            self.deadline = grace;
        }
        if self.send(line, line).await.is_ok() {
            let _ = self.read_line("the goodbye").await;
        }
        if let Some(mut s) = self.stream.take() {
            let _ = tokio::time::timeout_at(self.deadline, s.shutdown()).await;
        }
    }
}
