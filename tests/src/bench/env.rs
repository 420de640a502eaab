//! Secrets (passwords, tokens) come from the environment only, never from an argument, so that
//! they do not show in `ps` or a shell's history.

use std::fmt;

/// A secret read from the environment; its `Debug` and `Display` never print it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The non-empty value of the environment variable `name`, or an error that names it and says
/// what it should hold (`what`, e.g. "an editor token").
pub fn secret(name: &str, what: &str) -> Result<Secret, String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(Secret(value)),
        Ok(_) | Err(std::env::VarError::NotPresent) => Err(format!("set {name} to {what}")),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_itself() {
        let secret = Secret("hunter2".into());
        assert_eq!(
            format!("{secret} {secret:?}"),
            "[redacted] Secret([redacted])"
        );
        assert_eq!(secret.expose(), "hunter2");
    }
}
