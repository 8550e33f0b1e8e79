//! The API token as the spec states it. The token itself is checked by the app's middleware
//! (`require_token`) on every request that changes something; this only documents it, so
//! generated clients know where it goes.

use poem_openapi::auth::Bearer;
use poem_openapi::SecurityScheme;

/// The server's `api_token`, as `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "apiToken")]
pub struct ApiToken(#[allow(dead_code)] Bearer);

/// A request that changes something: it needs the token when the server has one configured, and
/// nothing when it has none (a token sent anyway is ignored).
#[derive(SecurityScheme)]
pub enum TokenIfSet {
    Token(#[allow(dead_code)] ApiToken),
    #[oai(fallback)]
    Open,
}
