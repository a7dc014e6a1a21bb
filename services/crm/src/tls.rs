//! TLS on the served port (`tls.cert_file`, `tls.key_file`): rustls, offering both HTTP/2
//! (gRPC) and HTTP/1.1 (grpc-web, REST) by ALPN. tonic's own TLS offers only `h2`, which a
//! client speaking HTTP/1.1 alone cannot agree to. Handshakes run beside the accept loop, each
//! with a deadline, so a slow or silent client holds up no one.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How long a client has to finish its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The acceptor for the certificate chain and key in these PEM files.
pub(crate) fn acceptor(cert_file: &Path, key_file: &Path) -> anyhow::Result<TlsAcceptor> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .with_context(|| {
            format!(
                "cannot read the certificate file {} (tls.cert_file)",
                cert_file.display()
            )
        })?
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!(
                "{} (tls.cert_file) is not PEM certificates",
                cert_file.display()
            )
        })?;
    if chain.is_empty() {
        anyhow::bail!(
            "{} (tls.cert_file) holds no certificate",
            cert_file.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key_file).with_context(|| {
        format!(
            "cannot read a PEM private key from {} (tls.key_file)",
            key_file.display()
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS versions")?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .context("the certificate does not go with the key (tls.cert_file, tls.key_file)")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A connection of the served port (TLS) or of this process's own loopback port (plain), for
/// tonic's server (which asks each connection who is at the other end).
pub(crate) enum Connection {
    /// From outside, over TLS.
    Tls(Box<TlsStream<TcpStream>>),
    /// From this process's own clients (one context calling another), on 127.0.0.1.
    Loopback(TcpStream),
}

impl Connected for Connection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        match self {
            Connection::Tls(tls) => tls.get_ref().0.connect_info(),
            Connection::Loopback(tcp) => tcp.connect_info(),
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Tls(c) => Pin::new(c).poll_read(cx, buf),
            Connection::Loopback(c) => Pin::new(c).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Connection::Tls(c) => Pin::new(c).poll_write(cx, buf),
            Connection::Loopback(c) => Pin::new(c).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Tls(c) => Pin::new(c).poll_flush(cx),
            Connection::Loopback(c) => Pin::new(c).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Tls(c) => Pin::new(c).poll_shutdown(cx),
            Connection::Loopback(c) => Pin::new(c).poll_shutdown(cx),
        }
    }
}

/// The TLS connections of `listener`, handshaken beside the accept loop, and the plain ones of
/// `loopback` (this process's own port on 127.0.0.1, for one context calling another).
pub(crate) fn incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    loopback: TcpListener,
) -> tokio_stream::wrappers::ReceiverStream<io::Result<Connection>> {
    let (tx, rx) = tokio::sync::mpsc::channel(128);
    let plain = tx.clone();
    tokio::spawn(async move {
        loop {
            match loopback.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    if plain.send(Ok(Connection::Loopback(stream))).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a loopback connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
    tls_connections(listener, acceptor, tx);
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Accepts TLS connections of `listener` into `tx`, each handshake beside the accept loop.
fn tls_connections(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tx: tokio::sync::mpsc::Sender<io::Result<Connection>>,
) {
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // As on the plain port: small answers go out at once.
            let _ = stream.set_nodelay(true);
            let (acceptor, connections) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let _ = connections.send(Ok(Connection::Tls(Box::new(tls)))).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
            if tx.is_closed() {
                return;
            }
        }
    });
}
