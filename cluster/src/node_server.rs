//! Starting ractor_cluster's node server the way both sides use it.

use ractor::{Actor, ActorRef};
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{IncomingEncryptionMode, NodeEventSubscription, NodeServer, NodeServerMessage};
use tokio_rustls::TlsAcceptor;

use crate::ClusterError;

/// A node server named `name@host`, isolated (no connections to the peers of peers), whose session
/// events go to `events`. Its own listener, which it always opens, gets an ephemeral loopback port
/// that nobody is told about: the coordinator feeds it connections from its own listener, and a
/// worker only connects out. That listener still takes `tls` when the coordinator has it, so a
/// local process cannot use it to join without TLS (or without a client certificate).
pub async fn start(
    cookie: String,
    name: String,
    host: String,
    tls: Option<TlsAcceptor>,
    events: (&str, Box<dyn NodeEventSubscription>),
) -> Result<ActorRef<NodeServerMessage>, ClusterError> {
    let encryption = tls.map(IncomingEncryptionMode::Tls);
    let server = NodeServer::new(0, cookie, name, host, encryption, Some(NodeConnectionMode::Isolated))
        .with_listen_addr(std::net::Ipv4Addr::LOCALHOST.into());
    let (node_server, _) = Actor::spawn(None, server, ())
        .await
        .map_err(|e| ClusterError::Start(e.to_string()))?;
    let (id, subscription) = events;
    node_server
        .cast(NodeServerMessage::SubscribeToEvents {
            id: id.to_string(),
            subscription,
        })
        .map_err(|e| ClusterError::Start(e.to_string()))?;
    Ok(node_server)
}
