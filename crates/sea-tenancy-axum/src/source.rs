//! Where a request names its tenant: [`TenantSource`].

use http::request::Parts;
use http::{HeaderName, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::error::{ConfigError, TenantRejection};

/// Longest tenant identifier accepted from a request. Identifiers become cache keys and
/// resolver input; a bound keeps a hostile client from filling the cache with megabyte keys.
pub const MAX_ID_LEN: usize = 255;

/// The rule that reads a tenant identifier (a slug, an organization id) from a request.
///
/// The identifier is only a *name*: [`crate::TenantResolver`] maps it to a
/// [`sea_tenancy::Tenant`], and an identifier it does not know is a 404.
#[derive(Clone, Debug)]
pub enum TenantSource {
    /// A request header, e.g. `X-Tenant: acme`. Trust it only behind something that sets it
    /// (a gateway, an internal service): any client can send any header.
    Header(HeaderName),
    /// The first label of the host under a base domain: with base `example.com`,
    /// `acme.example.com` → `acme`. The bare base domain names no tenant (400); a deeper name
    /// (`a.b.example.com`) is malformed (400). Ports are ignored.
    Subdomain {
        /// The domain tenants are subdomains of, lower case, without a leading dot.
        base: String,
    },
    /// The path segment after a prefix: with prefix `/t`, `/t/acme/posts` → `acme`. Routes are
    /// declared with the prefix (`/t/{tenant}/posts`, or `Router::nest("/t/{tenant}", api)`);
    /// the path is not rewritten.
    PathPrefix {
        /// The prefix, starting with `/`, without a trailing `/`.
        prefix: String,
    },
    /// A claim of a verified JWT from `Authorization: Bearer <token>` (boxed: the key and
    /// validation rules are large next to the other variants).
    Jwt(Box<JwtConfig>),
    /// Several sources tried in order; see [`TenantSource::first_of`].
    FirstOf(Vec<TenantSource>),
}

impl TenantSource {
    /// Tenant from header `name` (case-insensitive), e.g. `"x-tenant"`.
    pub fn header(name: &str) -> Result<Self, ConfigError> {
        HeaderName::from_bytes(name.as_bytes())
            .map(Self::Header)
            .map_err(|_| ConfigError::HeaderName(name.to_owned()))
    }

    /// Tenant from the subdomain of `base` (`"example.com"`).
    pub fn subdomain(base: &str) -> Result<Self, ConfigError> {
        let base = base.trim_matches('.').to_ascii_lowercase();
        if base.is_empty() {
            return Err(ConfigError::Invalid(
                "the subdomain base is empty; give the domain tenants live under, e.g. `example.com`"
                    .into(),
            ));
        }
        Ok(Self::Subdomain { base })
    }

    /// Tenant from the path segment after `prefix` (`"/t"`).
    pub fn path_prefix(prefix: &str) -> Result<Self, ConfigError> {
        let prefix = format!("/{}", prefix.trim_matches('/'));
        if prefix == "/" {
            return Err(ConfigError::Invalid(
                "the path prefix is empty; give one such as `/t` (for `/t/<tenant>/...`)".into(),
            ));
        }
        Ok(Self::PathPrefix { prefix })
    }

    /// Tenant from a JWT claim; see [`JwtConfig`].
    pub fn jwt(config: JwtConfig) -> Self {
        Self::Jwt(Box::new(config))
    }

    /// Tries `sources` in order; the first that finds a tenant identifier in the request wins.
    ///
    /// A source falls through to the next only when the request does not carry what it reads
    /// at all: no header, a host that is not a subdomain of its base (or the bare base), a path
    /// outside its prefix, no `Authorization: Bearer` header. A source that *is* present but
    /// unusable stops the search with its own refusal: a malformed header, a host with several
    /// labels, an empty identifier, a forged, expired or claim-less token. Falling through
    /// there would let a client that fails one check be judged by a weaker one (an expired
    /// token quietly replaced by an `X-Tenant` header the client chose) and would hide mistakes
    /// behind another tenant's answer. A request that carries none of them gets one 400
    /// (`missing_tenant`) naming every way to name a tenant, which also lets an
    /// [optional](crate::TenantLayer::optional) layer through.
    ///
    /// ```
    /// use sea_tenancy_axum::{JwtConfig, TenantSource};
    ///
    /// # fn main() -> Result<(), sea_tenancy_axum::ConfigError> {
    /// // Internal services send a header, browsers come by subdomain, API clients with a token.
    /// let source = TenantSource::first_of([
    ///     TenantSource::header("X-Tenant")?,
    ///     TenantSource::subdomain("example.com")?,
    ///     TenantSource::jwt(JwtConfig::hs256(b"a secret of 32 bytes or more.....")?.claim("org")),
    /// ])?;
    /// # let _ = source; Ok(()) }
    /// ```
    ///
    /// Nested lists are flattened. An empty list is a [`ConfigError`].
    pub fn first_of(sources: impl IntoIterator<Item = TenantSource>) -> Result<Self, ConfigError> {
        let mut flat = Vec::new();
        for source in sources {
            match source {
                Self::FirstOf(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Err(ConfigError::Invalid(
                "`TenantSource::first_of` got no sources; give at least one".into(),
            )),
            1 => Ok(flat.pop().expect("one source")),
            _ => Ok(Self::FirstOf(flat)),
        }
    }

    /// Header `header` if the request has it, else the subdomain of `base`: the usual setup of
    /// an app served to browsers on `<tenant>.example.com` that internal callers reach through
    /// a gateway setting the header. See [`first_of`](Self::first_of) for what falls through.
    pub fn header_or_subdomain(header: &str, base: &str) -> Result<Self, ConfigError> {
        Self::first_of([Self::header(header)?, Self::subdomain(base)?])
    }

    /// Reads the identifier from `parts`, or says why it cannot.
    pub(crate) fn identify(&self, parts: &Parts) -> Result<String, TenantRejection> {
        let id = match self {
            Self::FirstOf(sources) => return first_identified(sources, parts),
            Self::Header(name) => {
                let value =
                    parts
                        .headers
                        .get(name)
                        .ok_or_else(|| TenantRejection::MissingTenant {
                            expected: format!("send header `{name}: <tenant id>`"),
                        })?;
                value
                    .to_str()
                    .map_err(|_| {
                        TenantRejection::MalformedTenant(format!(
                            "header `{name}` is not visible ASCII"
                        ))
                    })?
                    .trim()
                    .to_owned()
            }
            Self::Subdomain { base } => subdomain(parts, base)?,
            Self::PathPrefix { prefix } => {
                let expected = || TenantRejection::MissingTenant {
                    expected: format!("use a path of the form `{prefix}/<tenant id>/...`"),
                };
                let rest = parts
                    .uri
                    .path()
                    .strip_prefix(prefix.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
                    .ok_or_else(expected)?;
                let segment = rest.split('/').next().unwrap_or_default();
                if segment.is_empty() {
                    return Err(expected());
                }
                segment.to_owned()
            }
            Self::Jwt(config) => config.identify(parts)?,
        };
        if id.is_empty() {
            return Err(TenantRejection::MalformedTenant(
                "the tenant identifier is empty".into(),
            ));
        }
        if id.len() > MAX_ID_LEN {
            return Err(TenantRejection::MalformedTenant(format!(
                "the tenant identifier is {} bytes long; at most {MAX_ID_LEN} are accepted",
                id.len()
            )));
        }
        Ok(id)
    }
}

/// [`TenantSource::FirstOf`]: the first source whose input is present decides.
fn first_identified(sources: &[TenantSource], parts: &Parts) -> Result<String, TenantRejection> {
    let mut expected = Vec::with_capacity(sources.len());
    for source in sources {
        match source.identify(parts) {
            Err(TenantRejection::MissingTenant { expected: why }) => expected.push(why),
            Err(TenantRejection::MissingCredentials { claim }) => expected.push(format!(
                "send header `Authorization: Bearer <JWT>` whose claim `{claim}` names the tenant"
            )),
            found_or_refused => return found_or_refused,
        }
    }
    Err(TenantRejection::MissingTenant {
        expected: expected.join("; or "),
    })
}

/// The host of the request: the `Host` header (HTTP/1.1), else the URI's authority (HTTP/2).
fn host(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

fn subdomain(parts: &Parts, base: &str) -> Result<String, TenantRejection> {
    let missing = |why: String| TenantRejection::MissingTenant { expected: why };
    let host = host(parts).ok_or_else(|| {
        missing(format!(
            "send a `Host` header of the form `<tenant>.{base}`"
        ))
    })?;
    // Drop the port; hosts are case-insensitive (RFC 4343).
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if name == base {
        return Err(missing(format!(
            "the bare domain `{base}` names no tenant; use `<tenant>.{base}`"
        )));
    }
    let label = name
        .strip_suffix(base)
        .and_then(|rest| rest.strip_suffix('.'))
        .ok_or_else(|| missing(format!("host `{name}` is not a subdomain of `{base}`")))?;
    if label.contains('.') {
        return Err(TenantRejection::MalformedTenant(format!(
            "host `{name}` has several labels before `{base}`; a tenant is one label, as in `acme.{base}`"
        )));
    }
    Ok(label.to_owned())
}

/// How [`TenantSource::Jwt`] verifies a bearer token and which claim names the tenant.
///
/// The signature, the algorithm (exactly the configured one: a token signed with another, or
/// with `alg: none`, is refused) and `exp` (required, with a default leeway of 60 s for clock
/// skew) are always checked. The claim may be a string (`"acme"`) or a number (`42`).
#[derive(Clone)]
pub struct JwtConfig {
    key: DecodingKey,
    validation: Validation,
    claim: String,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("JwtConfig")
            .field("algorithms", &self.validation.algorithms)
            .field("claim", &self.claim)
            .finish_non_exhaustive()
    }
}

impl JwtConfig {
    /// HS256 with a shared secret. The claim defaults to `tenant`.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        if secret.is_empty() {
            return Err(ConfigError::EmptySecret);
        }
        Ok(Self::with_key(
            DecodingKey::from_secret(secret),
            Algorithm::HS256,
        ))
    }

    /// RS256 with the issuer's PEM-encoded RSA public key (PKCS#1 or SPKI). The claim defaults
    /// to `tenant`.
    pub fn rs256_pem(public_key_pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let key =
            DecodingKey::from_rsa_pem(public_key_pem.as_ref()).map_err(ConfigError::RsaKey)?;
        Ok(Self::with_key(key, Algorithm::RS256))
    }

    fn with_key(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            key,
            validation,
            claim: "tenant".to_owned(),
        }
    }

    /// The claim that names the tenant (e.g. `org`).
    pub fn claim(mut self, name: impl Into<String>) -> Self {
        self.claim = name.into();
        self
    }

    /// Seconds of clock skew tolerated on `exp`/`nbf` (default 60).
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.validation.leeway = seconds;
        self
    }

    /// Also require `aud` to be one of `audiences`.
    pub fn audience(mut self, audiences: &[&str]) -> Self {
        self.validation.set_audience(audiences);
        self
    }

    /// Also require `iss` to be one of `issuers`.
    pub fn issuer(mut self, issuers: &[&str]) -> Self {
        self.validation.set_issuer(issuers);
        self
    }

    /// The name of the claim that names the tenant.
    pub fn claim_name(&self) -> &str {
        &self.claim
    }

    fn identify(&self, parts: &Parts) -> Result<String, TenantRejection> {
        let missing = || TenantRejection::MissingCredentials {
            claim: self.claim.clone(),
        };
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(missing)?;
        let value = value
            .to_str()
            .map_err(|_| invalid("the Authorization header is not visible ASCII"))?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(missing());
        }
        let claims = jsonwebtoken::decode::<serde_json::Map<String, Value>>(
            token.trim(),
            &self.key,
            &self.validation,
        )
        .map_err(|e| invalid(describe(e.kind())))?
        .claims;
        match claims.get(&self.claim) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(_) => Err(invalid(&format!(
                "claim `{}` must be a string or a number",
                self.claim
            ))),
            None => Err(invalid(&format!(
                "the token has no `{}` claim naming the tenant",
                self.claim
            ))),
        }
    }
}

fn invalid(reason: &str) -> TenantRejection {
    TenantRejection::InvalidCredentials {
        reason: reason.to_owned(),
    }
}

/// A sentence for the client: enough to fix its request, nothing about our key.
fn describe(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired; request a new one",
        ErrorKind::ImmatureSignature => "the token is not valid yet (`nbf` is in the future)",
        ErrorKind::InvalidSignature => "the signature does not verify with this server's key",
        ErrorKind::InvalidAlgorithm => "the token is signed with an algorithm this server refuses",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (`exp`)",
        ErrorKind::InvalidAudience => "the token is for another audience (`aud`)",
        ErrorKind::InvalidIssuer => "the token is from an untrusted issuer (`iss`)",
        _ => "the token is not a well-formed JWT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(req: http::Request<()>) -> Parts {
        req.into_parts().0
    }

    #[test]
    fn subdomain_rules() {
        let source = TenantSource::subdomain("Example.com").unwrap();
        let get = |host: &str| {
            source.identify(&parts(
                http::Request::get("/")
                    .header("host", host)
                    .body(())
                    .unwrap(),
            ))
        };
        assert_eq!(get("acme.example.com").unwrap(), "acme");
        assert_eq!(get("ACME.example.com:8080").unwrap(), "acme");
        assert!(matches!(
            get("example.com"),
            Err(TenantRejection::MissingTenant { .. })
        ));
        assert!(matches!(
            get("acme.other.com"),
            Err(TenantRejection::MissingTenant { .. })
        ));
        assert!(matches!(
            get("a.b.example.com"),
            Err(TenantRejection::MalformedTenant(_))
        ));
        // A suffix match must be on a label boundary.
        assert!(matches!(
            get("evilexample.com"),
            Err(TenantRejection::MissingTenant { .. })
        ));
    }

    #[test]
    fn path_prefix_rules() {
        let source = TenantSource::path_prefix("/t/").unwrap();
        let get = |path: &str| source.identify(&parts(http::Request::get(path).body(()).unwrap()));
        assert_eq!(get("/t/acme/posts").unwrap(), "acme");
        assert_eq!(get("/t/acme").unwrap(), "acme");
        assert!(get("/t/").is_err());
        assert!(get("/tx/acme").is_err());
        assert!(get("/posts").is_err());
    }

    #[test]
    fn header_rules() {
        let source = TenantSource::header("X-Tenant").unwrap();
        let ok = http::Request::get("/")
            .header("x-tenant", " 42 ")
            .body(())
            .unwrap();
        assert_eq!(source.identify(&parts(ok)).unwrap(), "42");
        let long = http::Request::get("/")
            .header("x-tenant", "a".repeat(MAX_ID_LEN + 1))
            .body(())
            .unwrap();
        assert!(matches!(
            source.identify(&parts(long)),
            Err(TenantRejection::MalformedTenant(_))
        ));
        assert!(TenantSource::header("bad header").is_err());
    }

    #[test]
    fn first_of_flattens_and_refuses_an_empty_list() {
        let nested = TenantSource::first_of([
            TenantSource::header_or_subdomain("x-a", "example.com").unwrap(),
            TenantSource::header("x-b").unwrap(),
        ])
        .unwrap();
        assert!(matches!(&nested, TenantSource::FirstOf(s) if s.len() == 3));
        let single = TenantSource::first_of([TenantSource::header("x-a").unwrap()]).unwrap();
        assert!(matches!(single, TenantSource::Header(_)));
        assert!(TenantSource::first_of([]).is_err());
    }

    #[test]
    fn first_of_falls_through_only_when_absent() {
        let source = TenantSource::header_or_subdomain("X-Tenant", "example.com").unwrap();
        let get =
            |builder: http::request::Builder| source.identify(&parts(builder.body(()).unwrap()));
        let both = http::Request::get("/")
            .header("x-tenant", "hdr")
            .header("host", "sub.example.com");
        assert_eq!(get(both).unwrap(), "hdr");
        let host_only = http::Request::get("/").header("host", "sub.example.com");
        assert_eq!(get(host_only).unwrap(), "sub");
        // Present but empty: refused, not replaced by the subdomain.
        let empty = http::Request::get("/")
            .header("x-tenant", "")
            .header("host", "sub.example.com");
        assert!(matches!(
            get(empty),
            Err(TenantRejection::MalformedTenant(_))
        ));
        match get(http::Request::get("/").header("host", "example.com")) {
            Err(TenantRejection::MissingTenant { expected }) => {
                assert!(expected.contains("x-tenant"), "{expected}");
                assert!(expected.contains("example.com"), "{expected}");
            }
            other => panic!("expected missing_tenant, got {other:?}"),
        }
    }

    #[test]
    fn empty_secret_is_refused() {
        assert!(matches!(
            JwtConfig::hs256(b""),
            Err(ConfigError::EmptySecret)
        ));
    }
}
