//! The HTTP listener: accepts connections within the caps, gives each a head deadline (hyper's
//! `header_read_timeout`) and an idle deadline (`IdleTimeout`), and serves the poem application
//! on it. A connection over a cap is looked at briefly: a health check (`/healthz`, `/readyz`) is
//! served on it all the same, anything else gets a short 503 and is closed. Every connection
//! closes lingering (`Lingering`), so a refusal is read before the socket goes. On shutdown it
//! stops accepting, lets requests in progress finish for a grace period, then drops what is left.
//!
//! We drive hyper ourselves rather than through `poem::Server` because poem's only knob, an idle
//! timeout, restarts on every byte (a client sending headers at a byte a second stays for ever)
//! and offers neither a head deadline nor a connection cap.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint};
use sightline_actors::telemetry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::admission::{Admissions, Refusal, Ticket};
use super::health_probe::{self, Verdict};
use super::idle_timeout::IdleTimeout;
use super::lingering::Lingering;
use super::prefixed::Prefixed;

/// What poem's responses carry, as hyper sends them.
type ResponseBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// How long requests in progress may take to finish once shutdown is asked for.
const GRACE: Duration = Duration::from_secs(5);
/// Connections over a cap looked at (and answered) at once, in all and from one network; beyond
/// that a refused connection is just closed. The share per network keeps one client's sockets
/// from taking every look, so a health check from elsewhere still gets one.
const REFUSALS_IN_FLIGHT: usize = 64;
const REFUSALS_PER_NETWORK: usize = 16;
/// How long a health check served past the caps may take in all, its head included: it holds one
/// of the looks above meanwhile.
const PAST_CAPS_DEADLINE: Duration = Duration::from_secs(2);
/// How long a connection over a cap has to send its request line, to be told from a health
/// check, and how long that line may be.
const PROBE_WAIT: Duration = Duration::from_secs(1);
const PROBE_BYTES: usize = 1024;

/// The listener's limits (from the server's config).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub max_connections_per_network: usize,
    pub max_connections_per_client: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Serves `endpoint` on `listener` until `shutdown` resolves.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) where
    E: Endpoint + 'static,
{
    let endpoint = Arc::new(endpoint);
    let admissions = Admissions::new(
        limits.max_connections,
        limits.max_connections_per_network,
        limits.max_connections_per_client,
    );
    let refusals = Admissions::new(REFUSALS_IN_FLIGHT, REFUSALS_PER_NETWORK, REFUSALS_PER_NETWORK);
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let open = metrics::gauge!(telemetry::HTTP_CONNECTIONS);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {
                open.set(admissions.open() as f64);
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match admissions.admit(peer.ip()) {
                    Ok(ticket) => {
                        let local = stream.local_addr().unwrap_or(peer);
                        let conn = Connection { stream: Prefixed::new(Vec::new(), stream), local, peer, ticket: Some(ticket), limits };
                        connections.spawn(conn.serve(endpoint.clone(), stopped.clone()));
                        open.set(admissions.open() as f64);
                    }
                    Err(why) => refuse(stream, peer, why, limits, &refusals, endpoint.clone(), stopped.clone()),
                },
                Err(e) => {
                    // Out of descriptors, most likely: wait for some to close rather than spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(GRACE, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::info!(
            "{} connections still open after {GRACE:?}; closing them",
            connections.len()
        );
        connections.shutdown().await;
    }
    open.set(0.0);
}

struct Connection {
    /// With what the listener read of it already, for a health check served past the caps.
    stream: Prefixed<TcpStream>,
    local: SocketAddr,
    peer: SocketAddr,
    /// Holds this connection's slot until the connection ends; none for a health check served
    /// past the caps (one request, then closed).
    ticket: Option<Ticket>,
    limits: Limits,
}

impl Connection {
    async fn serve<E: Endpoint + 'static>(self, endpoint: Arc<E>, mut stopped: watch::Receiver<bool>) {
        let Connection {
            stream,
            local,
            peer,
            ticket,
            limits,
        } = self;
        let io = TokioIo::new(IdleTimeout::new(
            Lingering::new(stream),
            limits.idle_timeout,
            count_idle_cut,
        ));
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let endpoint = endpoint.clone();
            async move {
                let req = poem::Request::from((
                    req,
                    LocalAddr(Addr::SocketAddr(local)),
                    RemoteAddr(Addr::SocketAddr(peer)),
                    poem::http::uri::Scheme::HTTP,
                ));
                let resp = endpoint.get_response(req).await;
                Ok::<_, Infallible>(hyper::Response::<ResponseBody>::from(resp))
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(ticket.is_some());
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = stopped.changed() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
        drop(ticket);
    }
}

fn count_idle_cut() {
    metrics::counter!(telemetry::HTTP_CONNECTIONS_CUT_TOTAL, "reason" => "idle").increment(1);
}

/// Serves a health check past the caps, or tells a refused client why, briefly, then closes;
/// never holds up the accept loop.
fn refuse<E: Endpoint + 'static>(
    mut stream: TcpStream,
    peer: SocketAddr,
    why: Refusal,
    limits: Limits,
    refusals: &Arc<Admissions>,
    endpoint: Arc<E>,
    stopped: watch::Receiver<bool>,
) {
    let Ok(permit) = refusals.admit(peer.ip()) else {
        count_refusal(why);
        return;
    };
    tokio::spawn(async move {
        let head = read_request_line(&mut stream).await;
        if health_probe::judge(&head, PROBE_BYTES) == Verdict::Health {
            metrics::counter!(telemetry::HTTP_HEALTH_PAST_CAPS_TOTAL).increment(1);
            let local = stream.local_addr().unwrap_or(peer);
            let conn = Connection {
                stream: Prefixed::new(head, stream),
                local,
                peer,
                ticket: None,
                limits,
            };
            let _ = tokio::time::timeout(PAST_CAPS_DEADLINE, conn.serve(endpoint, stopped)).await;
        } else {
            count_refusal(why);
            let response = refusal_response(why, peer);
            // A client that sent nothing has nothing unread to cause a reset: no need to linger,
            // and the slot for looking at refused connections is free again at once.
            if head.is_empty() {
                write_refusal(&mut stream, &response).await;
            } else {
                let mut stream = Lingering::new(stream);
                write_refusal(&mut stream, &response).await;
                let _ = stream.shutdown().await;
            }
        }
        drop(permit);
    });
}

fn count_refusal(why: Refusal) {
    metrics::counter!(telemetry::HTTP_CONNECTIONS_REFUSED_TOTAL, "reason" => why.label()).increment(1);
}

async fn write_refusal(stream: &mut (impl AsyncWriteExt + Unpin), response: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(response.as_bytes())).await;
}

/// What a connection over a cap sends first: its request line, or as much as came within
/// [`PROBE_WAIT`].
async fn read_request_line(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    let _ = tokio::time::timeout(PROBE_WAIT, async {
        let mut buf = [0u8; 256];
        while health_probe::judge(&head, PROBE_BYTES) == Verdict::NeedMore {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    head
}

/// The 503 a refused connection gets.
fn refusal_response(why: Refusal, peer: SocketAddr) -> String {
    let message = match why {
        Refusal::Full => "the server has as many connections open as it takes; try again shortly".to_string(),
        Refusal::PerNetwork => format!(
            "the network of {} has as many connections open as one network may; close some",
            peer.ip()
        ),
        Refusal::PerClient => format!(
            "{} has as many connections open as one client may; close some",
            peer.ip()
        ),
    };
    let body = serde_json::json!({ "error": "unavailable", "message": message }).to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}
