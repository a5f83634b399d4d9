//! A name with several addresses: pinged at its first by default, at the next when one gets
//! no answer with `try_next_address` (ping and multiping here; a watch in `watch.rs`).

use crate::support;

use std::net::IpAddr;
use std::time::Duration;

use icmplib::{Family, MultipingOptions, Pinger, Resolver};
use support::{Chain, DnsResponder, Reject};

support::harness::tests![
    Root a_name_s_next_address_is_tried_only_when_asked,
];

/// Names whose first address is silent or unreachable and a later one alive: dead at
/// their first address by default (ping's behaviour), alive at the next with
/// `try_next_address`; a name whose every address is dead is reported at its last.
fn a_name_s_next_address_is_tried_only_when_asked() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(2);
    chain.warm_up();
    let live4 = chain.target(Family::V4);
    let live6 = chain.target(Family::V6);
    let silent4 = chain.silent(Family::V4);
    let silent6 = chain.silent(Family::V6);
    let unreachable4 = chain.rejected(Reject::HostUnreachable, Family::V4);
    let dns = DnsResponder::start(
        chain.client(),
        &[
            ("silent-first.test", &[silent4, live4]),
            ("unreachable-first.test", &[unreachable4, live6]),
            ("all-dead.test", &[silent4, silent6]),
            ("one.test", &[live4]),
        ],
    );
    let server = dns.address();
    let targets = [
        "silent-first.test",
        "unreachable-first.test",
        "all-dead.test",
        "one.test",
    ];
    let (first_only, every, pinged) = chain.client().block_on(move || async move {
        let pinger = Pinger::builder()
            .resolver(Resolver::with_name_servers(&[server]).unwrap())
            .build();
        let options = MultipingOptions::default()
            .count(2)
            .interval(Duration::from_millis(10))
            .timeout(Duration::from_millis(400));
        let first_only = pinger.multiping(&targets, &options).await.unwrap();
        let every = pinger
            .multiping(&targets, &options.clone().try_next_address(true))
            .await
            .unwrap();
        let ping = icmplib::PingOptions::default()
            .count(2)
            .interval(Duration::from_millis(10))
            .timeout(Duration::from_millis(400))
            .try_next_address(true);
        let pinged = pinger.ping("silent-first.test", &ping).await.unwrap();
        (first_only, every, pinged)
    });
    let summary = |hosts: &[icmplib::Host]| -> Vec<String> {
        hosts.iter().map(ToString::to_string).collect()
    };
    let ips = |hosts: &[icmplib::Host]| -> Vec<Option<IpAddr>> {
        hosts.iter().map(icmplib::Host::ip).collect()
    };
    let alive = |hosts: &[icmplib::Host]| -> Vec<bool> {
        hosts.iter().map(icmplib::Host::is_alive).collect()
    };
    // By default: the first address only.
    assert_eq!(
        ips(&first_only),
        [
            Some(silent4),
            Some(unreachable4),
            Some(silent4),
            Some(live4)
        ],
        "{:#?}",
        summary(&first_only)
    );
    assert_eq!(alive(&first_only), [false, false, false, true]);
    // Asked to: the next address when one gets no answer (an ICMP error is none).
    assert_eq!(
        ips(&every),
        [Some(live4), Some(live6), Some(silent6), Some(live4)],
        "{:#?}",
        summary(&every)
    );
    assert_eq!(alive(&every), [true, true, false, true]);
    for host in &every {
        // The host is that of the address it ends at: its own requests only.
        assert_eq!(host.packets_sent(), 2, "{host}");
        assert!(host.error().is_none(), "{host}");
    }
    assert_eq!(every[0].target(), "silent-first.test");
    assert_eq!(pinged.ip(), Some(live4), "{pinged}");
    assert!(pinged.is_alive(), "{pinged}");
}
