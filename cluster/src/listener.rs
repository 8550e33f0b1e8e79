//! The coordinator's cluster port. We accept connections ourselves and hand each to the node
//! server once it is ready, because ractor_cluster's own listener performs the TLS handshake inline
//! and without a deadline: one peer that opened a connection and sent nothing would keep every
//! other node from joining. Here each handshake runs on its own, within [`HANDSHAKE_LIMIT`], and at
//! most [`MAX_HANDSHAKES`] at a time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ractor::ActorRef;
use ractor_cluster::{NetworkStream, NodeServerMessage};
use sightline_actors::telemetry;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// How long a peer may take to finish the TLS handshake.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// TLS handshakes in progress at once; a connection beyond that is closed at once.
const MAX_HANDSHAKES: usize = 64;

/// Accepts connections on `listener` for `node_server` until the task is aborted.
pub async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, node_server: ActorRef<NodeServerMessage>) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, typically: wait rather than spin.
                tracing::warn!("cluster: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let local = match stream.local_addr() {
            Ok(local) => local,
            Err(e) => {
                tracing::warn!("cluster: the connection from {peer} has no local address: {e}");
                continue;
            }
        };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            tracing::warn!(
                "cluster: {MAX_HANDSHAKES} handshakes already in progress; closed the connection from {peer}"
            );
            continue;
        };
        let (tls, node_server) = (tls.clone(), node_server.clone());
        tokio::spawn(async move {
            let opened = open(stream, peer, local, tls).await;
            drop(permit);
            match opened {
                Ok(stream) => {
                    let _ = node_server.cast(NodeServerMessage::ConnectionOpened {
                        stream: Box::new(stream),
                        is_server: true,
                    });
                }
                Err(why) => {
                    metrics::counter!(telemetry::CLUSTER_EVENTS_TOTAL, "event" => "tls_failed").increment(1);
                    tracing::warn!("cluster: the connection from {peer} was refused: {why}");
                }
            }
        });
    }
}

/// The connection as the node server takes it: plain, or once its TLS handshake is done.
async fn open(
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    tls: Option<TlsAcceptor>,
) -> Result<NetworkStream, String> {
    // Requests are half a megabyte, answers a few hundred bytes: don't let Nagle hold answers.
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = tls else {
        return Ok(NetworkStream::Raw {
            peer_addr: peer,
            local_addr: local,
            stream,
        });
    };
    match tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Ok(NetworkStream::TlsServer {
            peer_addr: peer,
            local_addr: local,
            stream,
        }),
        Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
        Err(_) => Err(format!("no TLS handshake within {} s", HANDSHAKE_LIMIT.as_secs())),
    }
}
