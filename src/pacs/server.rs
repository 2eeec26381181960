//! Server addresses as users type them.

use super::PacsError;

/// radlens' own AE title unless `RADLENS_AET` says otherwise.
pub const DEFAULT_AET: &str = "RADLENS";

/// HTTP authentication.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic { user: String, password: String },
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    // Never print a secret, not even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
            Self::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// A DICOM server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Server {
    /// `base` is the DICOMweb root without credentials, e.g. `http://host:8042/dicom-web`.
    DicomWeb { base: String, auth: Auth },
    Dimse {
        called_aet: String,
        host: String,
        port: u16,
        calling_aet: String,
    },
}

impl Server {
    /// `http(s)://[user:password@]host[:port]/path` (a bearer token comes from
    /// `RADLENS_PACS_TOKEN`), or `dimse://AET@host:port` (radlens' AE title from `RADLENS_AET`,
    /// default `RADLENS`).
    pub fn parse(text: &str) -> Result<Self, PacsError> {
        let bad = |reason: &str| PacsError::Address {
            reason: reason.to_owned(),
            text: redact(text),
        };
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("dimse://") {
            let (aet, address) = rest
                .split_once('@')
                .ok_or_else(|| bad("dimse://AET@host:port"))?;
            let (host, port) = address
                .rsplit_once(':')
                .ok_or_else(|| bad("a port is needed: dimse://AET@host:port"))?;
            let port: u16 = port
                .trim_end_matches('/')
                .parse()
                .map_err(|_| bad("the port is not a number"))?;
            if aet.is_empty() || aet.len() > 16 || host.is_empty() {
                return Err(bad(
                    "the AE title has 1 to 16 characters, the host is needed",
                ));
            }
            let calling_aet = std::env::var("RADLENS_AET")
                .ok()
                .filter(|a| !a.is_empty() && a.len() <= 16)
                .unwrap_or_else(|| DEFAULT_AET.to_owned());
            return Ok(Self::Dimse {
                called_aet: aet.to_owned(),
                host: host.to_owned(),
                port,
                calling_aet,
            });
        }
        let (scheme, rest) = text
            .split_once("://")
            .filter(|(s, _)| *s == "http" || *s == "https")
            .ok_or_else(|| bad("http(s)://host/…/dicom-web or dimse://AET@host:port"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, host) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let auth = match credentials {
            Some(c) => {
                let (user, password) = c.split_once(':').unwrap_or((c, ""));
                Auth::Basic {
                    user: percent_decode(user),
                    password: percent_decode(password),
                }
            }
            None => std::env::var("RADLENS_PACS_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .map_or(Auth::None, Auth::Bearer),
        };
        let path = path.trim_end_matches('/');
        let base = if path.is_empty() {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}/{path}")
        };
        Ok(Self::DicomWeb { base, auth })
    }

    /// How messages name the server: its URL without credentials, or `AET@host:port`.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Self::DicomWeb { base, .. } => base.clone(),
            Self::Dimse {
                called_aet,
                host,
                port,
                ..
            } => format!("{called_aet}@{host}:{port}"),
        }
    }
}

/// `text` with any `user:password@` replaced, for error messages.
fn redact(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme && !text.starts_with("dimse://") => {
            format!("{}***{}", &text[..scheme + 3], &text[at..])
        }
        _ => text.to_owned(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_never_show_the_password() {
        let s = Server::parse("http://radlens:se%40cret@127.0.0.1:8042/dicom-web/").unwrap();
        assert_eq!(
            s,
            Server::DicomWeb {
                base: "http://127.0.0.1:8042/dicom-web".into(),
                auth: Auth::Basic {
                    user: "radlens".into(),
                    password: "se@cret".into()
                }
            }
        );
        assert_eq!(s.name(), "http://127.0.0.1:8042/dicom-web");
        assert!(!format!("{s:?}").contains("se@cret"));
        let d = Server::parse("dimse://ORTHANC@localhost:4242").unwrap();
        assert_eq!(d.name(), "ORTHANC@localhost:4242");
        for bad in ["ftp://x", "dimse://host:4242", "dimse://A@host", "http://"] {
            assert!(Server::parse(bad).is_err(), "{bad}");
        }
        let e = Server::parse("gopher://u:topsecret@h")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("topsecret"), "{e}");
    }
}
