//! Name resolution with hickory-resolver: [`resolve`], [`async_resolve`] and the
//! [`Resolver`] they use.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::rr::RData;

use crate::error::{Error, LookupFailure, Result};
use crate::family::Family;
use crate::runtime::{block_on, current};
use crate::target::{check_name, split_address};

/// A DNS resolver: the system's configuration (`/etc/resolv.conf`) or name servers of
/// your choice, with the hosts file (`/etc/hosts`) consulted first. Cheap to clone.
///
/// A lookup waits at most [`ResolverBuilder::timeout`] (default 2 s) for each of
/// [`ResolverBuilder::attempts`] (default 2) tries, and fails with
/// [`LookupFailure::Timeout`] after that: a name server that never answers stalls a call
/// for about 4 s, not the 15 s of the system's usual settings.
///
/// ```no_run
/// # async fn run() -> icmplib::Result<()> {
/// use std::time::Duration;
/// use icmplib::{Family, Resolver};
///
/// let resolver = Resolver::system()?;
/// let addresses = resolver.lookup("localhost", Some(Family::V6)).await?;
/// assert!(addresses.iter().all(|address| address.is_ipv6()));
///
/// let impatient = Resolver::builder().timeout(Duration::from_millis(500)).attempts(1).build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
    /// The longest a lookup may take, whatever the servers do.
    deadline: Duration,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

/// Builds a [`Resolver`]: which name servers, how long to wait for each try, how many
/// tries.
#[derive(Debug, Clone)]
pub struct ResolverBuilder {
    servers: Option<Vec<SocketAddr>>,
    timeout: Duration,
    attempts: usize,
}

/// How long a lookup waits for each try by default.
const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// Tries of a lookup by default.
const DEFAULT_LOOKUP_ATTEMPTS: usize = 2;

impl ResolverBuilder {
    /// Asks these name servers (UDP, then TCP) instead of the system's.
    pub fn name_servers(mut self, servers: &[SocketAddr]) -> Self {
        self.servers = Some(servers.to_vec());
        self
    }

    /// How long each try of a lookup waits for the servers (default 2 s; at least 1 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many tries a lookup makes before it gives up (default 2; at least 1).
    pub fn attempts(mut self, attempts: usize) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The resolver.
    ///
    /// # Errors
    /// [`Error::Socket`] when the system's configuration cannot be read, or the resolver
    /// cannot be built.
    pub fn build(self) -> Result<Resolver> {
        let mut builder = match &self.servers {
            None => TokioResolver::builder_tokio().map_err(std::io::Error::other)?,
            Some(servers) => {
                let servers = servers
                    .iter()
                    .map(|server| {
                        let mut config = NameServerConfig::udp_and_tcp(server.ip());
                        for connection in &mut config.connections {
                            connection.port = server.port();
                        }
                        config
                    })
                    .collect();
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(servers),
                    TokioRuntimeProvider::default(),
                )
            }
        };
        let options = builder.options_mut();
        options.use_hosts_file = ResolveHosts::Always;
        options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        options.timeout = self.timeout;
        // hickory's attempts are the tries after the first.
        options.attempts = self.attempts - 1;
        let inner = builder.build().map_err(std::io::Error::other)?;
        // Each try may ask every server, over UDP and then TCP: the bound on a lookup
        // leaves room for that, and holds whatever the servers do.
        let tries = u32::try_from(self.attempts).unwrap_or(u32::MAX);
        let deadline = self.timeout.saturating_mul(tries).saturating_mul(2);
        Ok(Resolver { inner, deadline })
    }
}

impl Resolver {
    /// A builder for a resolver: the system's name servers, a 2 s timeout for each of 2
    /// tries, unless set otherwise.
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder {
            servers: None,
            timeout: DEFAULT_LOOKUP_TIMEOUT,
            attempts: DEFAULT_LOOKUP_ATTEMPTS,
        }
    }

    /// The system's resolver configuration, with the default timeout and attempts.
    ///
    /// # Errors
    /// [`Error::Socket`] when the configuration cannot be read.
    pub fn system() -> Result<Resolver> {
        Resolver::builder().build()
    }

    /// A resolver asking these name servers (UDP, then TCP), with the hosts file first
    /// and the default timeout and attempts.
    ///
    /// # Errors
    /// [`Error::Socket`] when the resolver cannot be built.
    pub fn with_name_servers(servers: &[SocketAddr]) -> Result<Resolver> {
        Resolver::builder().name_servers(servers).build()
    }

    /// The addresses of `name`: IPv4 addresses first, then IPv6, or only those of
    /// `family`. An IP address is returned as is, without a lookup (if of `family`).
    ///
    /// # Errors
    /// [`Error::NameLookup`] when the name has no address of the family asked for
    /// ([`LookupFailure::NotFound`]), the servers did not answer in time
    /// ([`LookupFailure::Timeout`]), one failed ([`LookupFailure::Server`]), or this
    /// machine did ([`LookupFailure::Local`]: no file descriptor left, ...);
    /// [`Error::InvalidOption`] for an IP address of the other family.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the lookup.
    pub async fn lookup(&self, name: &str, family: Option<Family>) -> Result<Vec<IpAddr>> {
        if let Some(address) = parse_literal(name) {
            return check_literal(name, address, family).map(|address| vec![address]);
        }
        check_name(name)?;
        current("Resolver::lookup")?;
        let lookup = tokio::time::timeout(self.deadline, self.inner.lookup_ip(name))
            .await
            .map_err(|_| Error::name_lookup(name, LookupFailure::Timeout, None))?
            .map_err(|error| {
                tracing::debug!(%name, %error, "name lookup failed");
                lookup_error(name, error)
            })?;
        let mut addresses: Vec<IpAddr> = lookup
            .iter()
            .filter(|address| family.is_none_or(|family| Family::of(address) == family))
            .collect();
        // IPv4 first, keeping the resolver's order within each family, each address once.
        addresses.sort_by_key(IpAddr::is_ipv6);
        let mut seen = std::collections::HashSet::new();
        addresses.retain(|address| seen.insert(*address));
        if addresses.is_empty() {
            return Err(Error::name_not_found(name));
        }
        Ok(addresses)
    }
}

impl Resolver {
    /// The name of `address` from its PTR record (reverse DNS), without the final dot;
    /// `Ok(None)` when the address has none. Waits as long as a lookup does.
    ///
    /// ```no_run
    /// # async fn run() -> icmplib::Result<()> {
    /// let resolver = icmplib::Resolver::system()?;
    /// let name = resolver.reverse("192.0.2.1".parse().unwrap()).await?;
    /// println!("{}", name.as_deref().unwrap_or("(no name)"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::NameLookup`] when the servers did not answer in time, one failed, or this
    /// machine could not ask; [`Error::Runtime`] outside a tokio runtime.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the lookup.
    pub async fn reverse(&self, address: IpAddr) -> Result<Option<String>> {
        current("Resolver::reverse")?;
        let text = address.to_string();
        let looked_up = tokio::time::timeout(self.deadline, self.inner.reverse_lookup(address))
            .await
            .map_err(|_| Error::name_lookup(&text, LookupFailure::Timeout, None))?;
        let lookup = match looked_up {
            Ok(lookup) => lookup,
            Err(NetError::Dns(DnsError::NoRecordsFound(_))) => return Ok(None),
            Err(error) => return Err(lookup_error(&text, error)),
        };
        Ok(lookup
            .answers()
            .iter()
            .find_map(|record| match &record.data {
                RData::PTR(name) => Some(name.to_string().trim_end_matches('.').to_owned()),
                _ => None,
            }))
    }
}

/// What a failed lookup of `name` says: the name does not exist, the servers did not
/// answer, one failed, or this machine did.
fn lookup_error(name: &str, error: NetError) -> Error {
    let failure = match &error {
        NetError::Dns(DnsError::NoRecordsFound(_)) => LookupFailure::NotFound,
        NetError::Timeout => LookupFailure::Timeout,
        NetError::Io(_) | NetError::Busy | NetError::NoConnections => LookupFailure::Local,
        _ => LookupFailure::Server,
    };
    let cause: Option<Arc<dyn std::error::Error + Send + Sync>> = match failure {
        LookupFailure::NotFound => None,
        _ => Some(Arc::new(error)),
    };
    Error::name_lookup(name, failure, cause)
}

/// An IP address written as text, IPv6 optionally in brackets and with a zone (ignored
/// here: a lookup returns addresses); an IPv4-mapped IPv6 address is the IPv4 address.
pub(crate) fn parse_literal(name: &str) -> Option<IpAddr> {
    split_address(name).map(|(address, _)| address)
}

/// An address written as `name`, if of `family`: a literal of the other family is a
/// contradiction in the call ([`Error::InvalidOption`]), not a name that does not resolve.
pub(crate) fn check_literal(name: &str, address: IpAddr, family: Option<Family>) -> Result<IpAddr> {
    match family {
        Some(family) if Family::of(&address) != family => Err(Error::invalid(format!(
            "{name} is an {} address, but {family} was asked for",
            Family::of(&address)
        ))),
        _ => Ok(address),
    }
}

/// Resolves `name` to its addresses, IPv4 first then IPv6, or only those of `family`,
/// with the system's configuration and hosts file. IP addresses come back as they are.
///
/// ```
/// use icmplib::{Family, resolve};
///
/// let addresses = resolve("192.0.2.7", None).unwrap();
/// assert_eq!(addresses, ["192.0.2.7".parse::<std::net::IpAddr>().unwrap()]);
/// assert!(resolve("192.0.2.7", Some(Family::V6)).is_err());
/// ```
///
/// # Errors
/// [`Error::NameLookup`] when nothing is found; [`Error::InvalidOption`] for an IP address
/// of the other family; [`Error::Runtime`] inside a tokio runtime (use [`async_resolve`]
/// there).
pub fn resolve(name: &str, family: Option<Family>) -> Result<Vec<IpAddr>> {
    block_on("resolve", async_resolve(name, family))
}

/// The async form of [`resolve`].
///
/// # Errors
/// [`Error::NameLookup`] when nothing is found; [`Error::InvalidOption`] for an IP address
/// of the other family.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the lookup.
pub async fn async_resolve(name: &str, family: Option<Family>) -> Result<Vec<IpAddr>> {
    if let Some(address) = parse_literal(name) {
        return check_literal(name, address, family).map(|address| vec![address]);
    }
    check_name(name)?;
    current("async_resolve")?;
    Resolver::system()?.lookup(name, family).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(parse_literal("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(
            parse_literal("127.0.0.1"),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(parse_literal("localhost"), None);
        assert_eq!(parse_literal("[127.0.0.1"), None);
    }

    #[tokio::test]
    async fn literals_need_no_lookup_and_respect_the_family() {
        let v6 = async_resolve("2001:db8::1", Some(Family::V6))
            .await
            .unwrap();
        assert_eq!(v6, ["2001:db8::1".parse::<IpAddr>().unwrap()]);
        let error = async_resolve("2001:db8::1", Some(Family::V4))
            .await
            .unwrap_err();
        let Error::InvalidOption { reason } = error else {
            panic!("{error:?}");
        };
        assert_eq!(
            reason,
            "2001:db8::1 is an IPv6 address, but IPv4 was asked for"
        );
    }

    /// Names that are not names never reach the name servers (here the discard port on
    /// loopback: a question sent there would go unanswered, a timeout after 1 ms tries),
    /// whichever way they are looked up.
    #[tokio::test]
    async fn names_that_are_not_names_are_refused_before_any_lookup() {
        let resolver = Resolver::builder()
            .name_servers(&["127.0.0.1:9".parse().unwrap()])
            .timeout(Duration::from_millis(1))
            .attempts(1)
            .build()
            .unwrap();
        for name in ["", "300.1.1.1", "127.1", "0x7f000001"] {
            let looked_up = resolver.lookup(name, None).await.unwrap_err();
            assert!(
                matches!(looked_up, Error::InvalidOption { .. }),
                "{name}: {looked_up}"
            );
            let resolved = async_resolve(name, None).await.unwrap_err();
            assert!(
                matches!(resolved, Error::InvalidOption { .. }),
                "{name}: {resolved}"
            );
        }
    }
}
