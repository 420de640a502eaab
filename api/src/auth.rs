//! Who is asking: JWT access tokens (logins and machine tokens), their keys, and roles.
//!
//! The algorithm is pinned by the configured key: a token with another algorithm (`none`
//! included) or another key is refused, as is one whose `exp`, `nbf`, `iss` or `aud` does not
//! hold, or whose user is gone or disabled, or whose machine token was revoked.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use chrono::Utc;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use service::ServiceError;
use service::accounts::{self, Role};
use service::sea_orm::DatabaseConnection;
use uuid::Uuid;

/// The shortest `LECTERN_JWT_SECRET` accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// The setting under which a generated secret is kept.
const GENERATED_SECRET: &str = "jwt_secret";

/// How tokens are signed and checked (see [`crate::configuration`]).
#[derive(Clone)]
pub struct AuthSettings {
    /// HS256 secret (`LECTERN_JWT_SECRET`).
    pub secret: Option<String>,
    /// PEM private key file, EdDSA or RS256 (`LECTERN_JWT_PRIVATE_KEY`).
    pub private_key: Option<String>,
    /// PEM public key file (`LECTERN_JWT_PUBLIC_KEY`): enough to verify tokens of another issuer.
    pub public_key: Option<String>,
    pub issuer: String,
    pub audience: String,
    /// Lifetime of the access tokens a login returns.
    pub access_ttl: Duration,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("secret", &self.secret.as_ref().map(|_| "*****"))
            .field("private_key", &self.private_key)
            .field("public_key", &self.public_key)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl)
            .finish()
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            secret: None,
            private_key: None,
            public_key: None,
            issuer: "lectern".into(),
            audience: "lectern".into(),
            access_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// A duration such as `90d`, `12h`, `15m` or `30s` (a bare number is seconds).
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90d, 12h, 15m or 30s"))?;
    let millis = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?}: the unit must be ms, s, m, h or d")),
    };
    match number.checked_mul(millis) {
        Some(0) | None => Err(format!("{text:?} is not a usable duration")),
        Some(total) => Ok(Duration::from_millis(total)),
    }
}

/// The keys cannot be set up; the server does not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No usable token: HTTP 401 with `WWW-Authenticate`, GraphQL `UNAUTHENTICATED`.
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid token without the role: HTTP 403, GraphQL `FORBIDDEN`.
    #[error("this needs the {} role", .0.as_str())]
    Forbidden(Role),
    /// Too many attempts: HTTP 429 with `Retry-After`, GraphQL `RATE_LIMITED`.
    #[error("too many login attempts; retry in {0} s")]
    RateLimited(u64),
    /// Only a public key is configured: tokens are verified here and issued elsewhere.
    #[error(
        "this server only verifies tokens (only LECTERN_JWT_PUBLIC_KEY is set); get a token from your identity provider"
    )]
    NotIssuer,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// The claims of every token Lectern issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// A user's id, or `token:<jti>` for a machine token.
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    /// Set by other identity providers; used to find the user when `sub` is not a user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    Anonymous,
    User { id: Uuid, role: Role },
    Machine { jti: Uuid, role: Role },
}

impl Viewer {
    pub fn role(&self) -> Option<Role> {
        match self {
            Self::Anonymous => None,
            Self::User { role, .. } | Self::Machine { role, .. } => Some(*role),
        }
    }

    /// Fails unless the viewer has `role` or a greater one.
    pub fn require(&self, role: Role) -> Result<(), AuthError> {
        match self.role() {
            None => Err(AuthError::Unauthenticated(
                "this needs a token: Authorization: Bearer <token>".into(),
            )),
            Some(own) if own >= role => Ok(()),
            Some(_) => Err(AuthError::Forbidden(role)),
        }
    }

    /// What this viewer may read ([`service::visibility`] decides what that holds).
    pub fn audience(&self) -> service::visibility::Audience {
        service::visibility::Audience::with_role(self.role().is_some())
    }

    /// How changes are recorded (`created_by`, `updated_by`).
    pub fn actor(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".into(),
            Self::User { id, .. } => id.to_string(),
            Self::Machine { jti, .. } => format!("token:{jti}"),
        }
    }
}

/// What a login returns.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Signs and verifies tokens, and limits login attempts.
pub struct Authority {
    algorithm: Algorithm,
    /// None when only a public key is configured: tokens are verified, never issued.
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    access_ttl: Duration,
    db: DatabaseConnection,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_email: DefaultKeyedRateLimiter<String>,
}

/// Login attempts allowed per client address, per minute.
const LOGINS_PER_ADDRESS: u32 = 10;
/// Login attempts allowed per email, per minute.
const LOGINS_PER_EMAIL: u32 = 5;

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Authority {
    /// Sets up the keys: a secret, PEM files, or else a secret generated once and kept in the
    /// database (with a warning), so that the CLI and the server agree without set-up.
    pub async fn new(settings: &AuthSettings, db: DatabaseConnection) -> Result<Self, SetupError> {
        let (algorithm, encoding, decoding) = match (
            &settings.secret,
            &settings.private_key,
            &settings.public_key,
        ) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(SetupError(
                    "set either LECTERN_JWT_SECRET or the LECTERN_JWT_*_KEY files, not both".into(),
                ));
            }
            (Some(secret), None, None) => {
                if secret.len() < MIN_SECRET_BYTES {
                    return Err(SetupError(format!(
                        "LECTERN_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long"
                    )));
                }
                hmac(secret.as_bytes())
            }
            (None, private, public) if private.is_some() || public.is_some() => {
                pem_keys(private.as_deref(), public.as_deref())?
            }
            _ => {
                let fresh = random_secret()?;
                let secret = accounts::setting_or_insert(&db, GENERATED_SECRET, || {
                    tracing::warn!(
                        "no LECTERN_JWT_SECRET or key files are set: generated a signing secret and stored it in the database"
                    );
                    fresh
                })
                .await
                .map_err(|e| SetupError(format!("cannot keep a generated signing secret: {e}")))?;
                hmac(secret.as_bytes())
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]);
        Ok(Self {
            algorithm,
            encoding,
            decoding,
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            access_ttl: settings.access_ttl,
            db,
            by_address: RateLimiter::keyed(per_minute(LOGINS_PER_ADDRESS)),
            by_email: RateLimiter::keyed(per_minute(LOGINS_PER_EMAIL)),
        })
    }

    /// Signs a token for `sub`.
    fn sign(&self, sub: String, role: Role, ttl: Duration, jti: Uuid) -> Result<String, AuthError> {
        let Some(key) = &self.encoding else {
            return Err(AuthError::NotIssuer);
        };
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub,
            role,
            iat: now,
            nbf: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: jti.to_string(),
            email: None,
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, key)
            .map_err(|e| ServiceError::Internal(format!("cannot sign a token: {e}")).into())
    }

    /// Checks the rate limits, then the email and password; returns an access token.
    pub async fn login(
        &self,
        client: Option<IpAddr>,
        email: &str,
        password: &str,
    ) -> Result<AccessToken, AuthError> {
        let user = self.check_credentials(client, email, password).await?;
        let token = self.sign(
            user.id.to_string(),
            user.role,
            self.access_ttl,
            Uuid::new_v4(),
        )?;
        Ok(AccessToken {
            access_token: token,
            token_type: "Bearer",
            expires_in: self.access_ttl.as_secs(),
        })
    }

    /// Checks the rate limits (per client address and per email), then the email and
    /// password: every sign-in, to the API or the Studio, goes through here.
    pub async fn check_credentials(
        &self,
        client: Option<IpAddr>,
        email: &str,
        password: &str,
    ) -> Result<entity::user::Model, AuthError> {
        if let Some(address) = client {
            self.check_limit(&self.by_address, &address)?;
        }
        self.check_limit(&self.by_email, &email.trim().to_lowercase())?;
        match accounts::authenticate(&self.db, email, password).await {
            Ok(user) => Ok(user),
            Err(ServiceError::BadCredentials) => {
                Err(AuthError::Unauthenticated("wrong email or password".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn check_limit<K>(&self, limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), AuthError>
    where
        K: Clone + Eq + std::hash::Hash,
    {
        if limiter.len() > 100_000 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AuthError::RateLimited(wait.as_secs().max(1))
        })
    }

    /// Issues and records a machine token.
    pub async fn issue_machine_token(
        &self,
        name: &str,
        role: Role,
        ttl: Duration,
    ) -> Result<(String, entity::machine_token::Model), AuthError> {
        let seconds = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let expires_at = Utc::now() + chrono::Duration::seconds(seconds.min(100 * 365 * 86_400));
        let record = accounts::record_token(&self.db, name, role, expires_at).await?;
        let token = self.sign(format!("token:{}", record.jti), role, ttl, record.jti)?;
        Ok((token, record))
    }

    /// Verifies a bearer token and finds who it stands for, as of now.
    pub async fn verify(&self, token: &str) -> Result<Viewer, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| AuthError::Unauthenticated(format!("invalid token: {}", describe(&e))))?;
        let claims = data.claims;
        if let Some(jti) = claims.sub.strip_prefix("token:") {
            let jti = Uuid::parse_str(jti)
                .map_err(|_| AuthError::Unauthenticated("invalid token: bad subject".into()))?;
            return match accounts::active_token(&self.db, jti).await? {
                Some(token) if token.jti.to_string() == claims.jti => Ok(Viewer::Machine {
                    jti,
                    role: token.role,
                }),
                _ => Err(AuthError::Unauthenticated(
                    "the token was revoked or is unknown".into(),
                )),
            };
        }
        let user = match Uuid::parse_str(&claims.sub) {
            Ok(id) => accounts::active_user(&self.db, id).await?,
            Err(_) => match &claims.email {
                Some(email) => accounts::find_user_by_email(&self.db, email)
                    .await?
                    .filter(|user| !user.disabled),
                None => None,
            },
        };
        match user {
            // The role is the account's as of now, not as the token says.
            Some(user) => Ok(Viewer::User {
                id: user.id,
                role: user.role,
            }),
            None => Err(AuthError::Unauthenticated(
                "the token's user is unknown or disabled".into(),
            )),
        }
    }
}

/// What a token check found wrong, in words that reveal nothing of the keys.
fn describe(error: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not valid yet",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::InvalidAlgorithm => "wrong algorithm",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        _ => "malformed",
    }
}

fn hmac(secret: &[u8]) -> (Algorithm, Option<EncodingKey>, DecodingKey) {
    (
        Algorithm::HS256,
        Some(EncodingKey::from_secret(secret)),
        DecodingKey::from_secret(secret),
    )
}

/// Keys from PEM files: EdDSA (Ed25519) or RS256, told apart by what parses.
fn pem_keys(
    private: Option<&str>,
    public: Option<&str>,
) -> Result<(Algorithm, Option<EncodingKey>, DecodingKey), SetupError> {
    let Some(public) = public else {
        return Err(SetupError(
            "LECTERN_JWT_PRIVATE_KEY needs LECTERN_JWT_PUBLIC_KEY too".into(),
        ));
    };
    let read = |path: &str, name: &str| {
        std::fs::read(path).map_err(|e| SetupError(format!("{name} ({path}): {e}")))
    };
    let public_pem = read(public, "LECTERN_JWT_PUBLIC_KEY")?;
    let (algorithm, decoding) = if let Ok(key) = DecodingKey::from_ed_pem(&public_pem) {
        (Algorithm::EdDSA, key)
    } else if let Ok(key) = DecodingKey::from_rsa_pem(&public_pem) {
        (Algorithm::RS256, key)
    } else {
        return Err(SetupError(format!(
            "LECTERN_JWT_PUBLIC_KEY ({public}) is not an Ed25519 or RSA public key in PEM"
        )));
    };
    let encoding = match private {
        None => None,
        Some(path) => {
            let pem = read(path, "LECTERN_JWT_PRIVATE_KEY")?;
            let key = match algorithm {
                Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
                _ => EncodingKey::from_rsa_pem(&pem),
            }
            .map_err(|_| {
                SetupError(format!(
                    "LECTERN_JWT_PRIVATE_KEY ({path}) is not a {algorithm:?} private key in PEM matching the public key"
                ))
            })?;
            Some(key)
        }
    };
    Ok((algorithm, encoding, decoding))
}

/// 32 random bytes from the system, hex-encoded.
fn random_secret() -> Result<String, SetupError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| SetupError(format!("no randomness for a signing secret: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
