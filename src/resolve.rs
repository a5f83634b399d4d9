//! Name resolution with hickory-resolver: [`resolve`], [`async_resolve`] and the
//! [`Resolver`] they use.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use crate::error::{Error, Result};
use crate::family::Family;
use crate::runtime::{block_on, current};

/// A DNS resolver: the system's configuration (`/etc/resolv.conf`) or name servers of
/// your choice, with the hosts file (`/etc/hosts`) consulted first. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> icmplib::Result<()> {
/// use icmplib::{Family, Resolver};
///
/// let resolver = Resolver::system()?;
/// let addresses = resolver.lookup("localhost", Some(Family::V6)).await?;
/// assert!(addresses.iter().all(|address| address.is_ipv6()));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

/// Options every resolver of ours uses: the hosts file first, A and AAAA asked together.
fn options(mut options: ResolverOpts) -> ResolverOpts {
    options.use_hosts_file = ResolveHosts::Always;
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    options
}

impl Resolver {
    /// The system's resolver configuration.
    ///
    /// # Errors
    /// [`Error::Socket`] when the configuration cannot be read.
    pub fn system() -> Result<Resolver> {
        let mut builder = TokioResolver::builder_tokio().map_err(std::io::Error::other)?;
        let opts = options(builder.options_mut().clone());
        *builder.options_mut() = opts;
        let inner = builder.build().map_err(std::io::Error::other)?;
        Ok(Resolver { inner })
    }

    /// A resolver asking these name servers (UDP, then TCP), with the hosts file first.
    ///
    /// # Errors
    /// [`Error::Socket`] when the resolver cannot be built.
    pub fn with_name_servers(servers: &[SocketAddr]) -> Result<Resolver> {
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
        let config = ResolverConfig::from_name_servers(servers);
        let inner = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options(ResolverOpts::default()))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Resolver { inner })
    }

    /// The addresses of `name`: IPv4 addresses first, then IPv6, or only those of
    /// `family`. An IP address is returned as is, without a lookup (if of `family`).
    ///
    /// # Errors
    /// [`Error::NameLookup`] when the name has no address of the family asked for.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the lookup.
    pub async fn lookup(&self, name: &str, family: Option<Family>) -> Result<Vec<IpAddr>> {
        let not_found = || Error::NameLookup {
            name: name.to_string(),
        };
        if let Some(address) = parse_literal(name) {
            return match family {
                Some(family) if Family::of(&address) != family => Err(not_found()),
                _ => Ok(vec![address]),
            };
        }
        current("Resolver::lookup")?;
        let lookup = self.inner.lookup_ip(name).await.map_err(|error| {
            tracing::debug!(%name, %error, "name lookup failed");
            not_found()
        })?;
        let mut addresses: Vec<IpAddr> = lookup
            .iter()
            .filter(|address| family.is_none_or(|family| Family::of(address) == family))
            .collect();
        // IPv4 first, keeping the resolver's order within each family.
        addresses.sort_by_key(IpAddr::is_ipv6);
        addresses.dedup();
        if addresses.is_empty() {
            return Err(not_found());
        }
        Ok(addresses)
    }

    /// The first address of `name` (see [`Resolver::lookup`]).
    pub(crate) async fn lookup_first(&self, name: &str, family: Option<Family>) -> Result<IpAddr> {
        let addresses = self.lookup(name, family).await?;
        addresses.first().copied().ok_or_else(|| Error::NameLookup {
            name: name.to_string(),
        })
    }
}

/// An IP address written as text, IPv6 optionally in brackets.
pub(crate) fn parse_literal(name: &str) -> Option<IpAddr> {
    let bare = name
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(name);
    bare.parse().ok()
}

/// Resolves `target` to one address: literals directly, names with a system resolver.
pub(crate) async fn resolve_target(
    target: &str,
    family: Option<Family>,
    resolver: Option<&Resolver>,
) -> Result<IpAddr> {
    if let Some(address) = parse_literal(target) {
        return check_literal(target, address, family);
    }
    match resolver {
        Some(resolver) => resolver.lookup_first(target, family).await,
        None => Resolver::system()?.lookup_first(target, family).await,
    }
}

/// An address written as `name`, if of `family`: a literal of the other family does not
/// resolve to one of this family.
pub(crate) fn check_literal(name: &str, address: IpAddr, family: Option<Family>) -> Result<IpAddr> {
    match family {
        Some(family) if Family::of(&address) != family => Err(Error::NameLookup {
            name: name.to_string(),
        }),
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
/// [`Error::NameLookup`] when nothing is found; [`Error::Runtime`] inside a tokio runtime
/// (use [`async_resolve`] there).
pub fn resolve(name: &str, family: Option<Family>) -> Result<Vec<IpAddr>> {
    block_on("resolve", async_resolve(name, family))
}

/// The async form of [`resolve`].
///
/// # Errors
/// [`Error::NameLookup`] when nothing is found.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the lookup.
pub async fn async_resolve(name: &str, family: Option<Family>) -> Result<Vec<IpAddr>> {
    if let Some(address) = parse_literal(name) {
        return check_literal(name, address, family).map(|address| vec![address]);
    }
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
        assert!(matches!(error, Error::NameLookup { name } if name == "2001:db8::1"));
    }
}
