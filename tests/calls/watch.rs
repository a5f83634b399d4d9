//! `Pinger::watch` in the namespace lab: events for a live, a silent and a flapping host,
//! state transitions, targets added and removed while it runs, statistics.

use crate::support;

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use icmplib::{Error, Family, Pinger, WatchEvent, WatchOptions};
use support::{Lab, Netns};

support::harness::tests![
    Root a_live_a_silent_and_a_flapping_host,
    Root targets_added_and_removed_while_it_runs,
    IcmpSockets options_that_cannot_work_are_refused,
    Root a_duplicate_reply_is_an_event_and_a_count_not_a_second_answer,
    Root a_name_is_looked_up_again_and_followed_when_it_changes,
    Root a_rate_limit_holds_for_the_whole_watch,
    Root a_target_removed_and_added_again_is_probed_once,
    Root a_name_that_does_not_resolve_counts_as_lost,
    Root a_watched_name_moves_to_its_next_address_only_when_asked,
    IcmpSockets a_watch_with_nothing_to_do_and_no_handle_ends,
];

/// Drops echo requests to `host` inside `netns` (nftables table `table`), or with
/// `drop = false` lets them through again.
fn block(netns: &Netns, table: &str, host: IpAddr, drop: bool) {
    let rule = match host {
        IpAddr::V4(_) => format!("ip daddr {host} icmp type echo-request drop"),
        IpAddr::V6(_) => format!("ip6 daddr {host} icmpv6 type echo-request drop"),
    };
    netns.nft(&if drop {
        format!(
            "table inet {table} {{\n chain input {{\n type filter hook input priority -10;\n \
             {rule}\n }}\n}}\n"
        )
    } else {
        format!("delete table inet {table}\n")
    });
}

fn options() -> WatchOptions {
    WatchOptions::default()
        .period(Duration::from_millis(200))
        .timeout(Duration::from_millis(150))
        .down_after(3)
        .up_after(1)
}

/// The state events of `target`: (up, previous).
fn states(events: &[WatchEvent], target: &str) -> Vec<(bool, Option<bool>)> {
    events
        .iter()
        .filter_map(|event| match event {
            WatchEvent::State {
                target: t,
                up,
                previous,
            } if &**t == target => Some((*up, *previous)),
            _ => None,
        })
        .collect()
}

fn replies(events: &[WatchEvent], target: &str) -> usize {
    events
        .iter()
        .filter(|event| matches!(event, WatchEvent::Reply { target: t, .. } if &**t == target))
        .count()
}

fn timeouts(events: &[WatchEvent], target: &str) -> usize {
    events
        .iter()
        .filter(|event| matches!(event, WatchEvent::Timeout { target: t, .. } if &**t == target))
        .count()
}

fn a_live_a_silent_and_a_flapping_host() {
    if !support::require_root() {
        return;
    }
    let lab = Lab::new("watch");
    let live = Lab::host(Family::V4, 1);
    let silent = Lab::host(Family::V4, 2);
    let flapping = Lab::host(Family::V6, 3);
    let Lab { client, target } = lab;
    block(&target, "quiet", silent, true);
    let events = client.block_on_multi(move || async move {
        let targets = [live, silent, flapping].map(|address| address.to_string());
        let (handle, mut watch) = Pinger::new().watch(targets, &options()).unwrap();
        let start = Instant::now();
        let mut events = Vec::new();
        let mut blocked = false;
        let mut unblocked = false;
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), watch.next()).await
        {
            events.push(event);
            let elapsed = start.elapsed();
            if !blocked && elapsed > Duration::from_millis(1_500) {
                block(&target, "flap", flapping, true);
                blocked = true;
            }
            if !unblocked && elapsed > Duration::from_millis(3_500) {
                block(&target, "flap", flapping, false);
                unblocked = true;
            }
            if elapsed > Duration::from_secs(5) {
                break;
            }
        }
        let live_stats = handle.stats(live.to_string()).unwrap();
        assert!(live_stats.received() > 10, "{live_stats:?}");
        assert_eq!(live_stats.packet_loss(), 0.0, "{live_stats:?}");
        assert_eq!(handle.is_up(live.to_string()), Some(true));
        assert_eq!(handle.is_up(silent.to_string()), Some(false));
        assert_eq!(handle.is_up(flapping.to_string()), Some(true));
        handle.stop();
        // After stop, the stream ends.
        while let Some(event) = watch.next().await {
            events.push(event);
        }
        events
    });
    let (live, silent, flapping) = (live.to_string(), silent.to_string(), flapping.to_string());
    // The live host: every probe answered, one state, up.
    assert_eq!(states(&events, &live), [(true, None)]);
    assert_eq!(timeouts(&events, &live), 0);
    // About one probe per period for 5 s.
    let answered = replies(&events, &live);
    assert!((20..=27).contains(&answered), "{answered} replies");
    for event in &events {
        if let WatchEvent::Reply { target, ttl, .. } = event
            && **target == *live
        {
            assert_eq!(*ttl, Some(64));
        }
    }
    // The silent host: down once, never a reply.
    assert_eq!(states(&events, &silent), [(false, None)]);
    assert_eq!(replies(&events, &silent), 0);
    assert!(timeouts(&events, &silent) >= 20);
    // The flapping host: up, then exactly one down and one up.
    assert_eq!(
        states(&events, &flapping),
        [(true, None), (false, Some(true)), (true, Some(false))]
    );
}

fn targets_added_and_removed_while_it_runs() {
    if !support::require_root() {
        return;
    }
    let lab = Lab::new("watchadd");
    let first = Lab::host(Family::V4, 5).to_string();
    let second = Lab::host(Family::V6, 6).to_string();
    let (first_in, second_in) = (first.clone(), second.clone());
    let events = lab.client.block_on_multi(move || async move {
        let (handle, mut watch) = Pinger::new().watch([first_in.clone()], &options()).unwrap();
        let mut events = Vec::new();
        let start = Instant::now();
        let mut phase = 0;
        let mut removed_at = None;
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), watch.next()).await
        {
            events.push((start.elapsed(), event));
            if phase == 0 && start.elapsed() > Duration::from_secs(1) {
                handle.add(second_in.clone());
                phase = 1;
            }
            if phase == 1 && start.elapsed() > Duration::from_secs(2) {
                removed_at = Some(SystemTime::now());
                handle.remove(&first_in);
                assert!(handle.stats(&first_in).is_none());
                phase = 2;
            }
            if start.elapsed() > Duration::from_secs(3) {
                break;
            }
        }
        let stats = handle.stats(&second_in).unwrap();
        assert!(stats.received() >= 4, "{stats:?}");
        let mut targets = handle.targets();
        targets.sort();
        assert_eq!(targets, std::slice::from_ref(&second_in));
        handle.stop();
        (events, removed_at.unwrap())
    });
    let (events, removed_at) = events;
    let of = |target: &str| -> Vec<Duration> {
        events
            .iter()
            .filter(
                |(_, event)| matches!(event, WatchEvent::Reply { target: t, .. } if &**t == target),
            )
            .map(|(at, _)| *at)
            .collect()
    };
    let first_replies = of(&first);
    let second_replies = of(&second);
    // The second starts being probed once added, about 1 s in.
    assert!(second_replies.first().unwrap() >= &Duration::from_secs(1));
    assert!(second_replies.len() >= 8, "{}", second_replies.len());
    // The first stops: no probe leaves after its removal, so at most one reply (to the
    // probe already in flight or leaving) arrives after it. Counted by the replies' own
    // arrival times, not by when this task got to them, which a busy machine delays.
    assert!(first_replies.len() >= 8);
    let arrived_after: Vec<_> = events
        .iter()
        .filter_map(|(_, event)| match event {
            WatchEvent::Reply { target, at, .. } if **target == *first && *at > removed_at => {
                Some(at.duration_since(removed_at).unwrap())
            }
            _ => None,
        })
        .collect();
    assert!(
        arrived_after.len() <= 1,
        "replies of a removed target arrived {arrived_after:?} after its removal"
    );
}

#[tokio::main(flavor = "current_thread")]
async fn options_that_cannot_work_are_refused() {
    let pinger = Pinger::new();
    for options in [
        options().period(Duration::ZERO),
        options().down_after(0),
        options().window(0),
        options().resolve_every(Some(Duration::from_millis(10))),
        options().timeout(Duration::ZERO),
    ] {
        let error = pinger.watch(["127.0.0.1"], &options).unwrap_err();
        assert!(matches!(error, Error::InvalidOption { .. }), "{error:?}");
    }
}

fn a_duplicate_reply_is_an_event_and_a_count_not_a_second_answer() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("watchdup");
    let net = support::SimulatedNet::new(&netns);
    let host = support::SimulatedNet::host(Family::V4, 9);
    net.script(
        host,
        vec![
            support::Reply::good(),
            support::Reply::after(5, support::Craft::Good),
        ],
    );
    let target = host.to_string();
    let (events, stats) = netns.block_on_multi(move || async move {
        let (handle, mut watch) = Pinger::new().watch([target.clone()], &options()).unwrap();
        let mut events = Vec::new();
        let start = Instant::now();
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), watch.next()).await
        {
            events.push(event);
            if start.elapsed() > Duration::from_millis(1_300) {
                break;
            }
        }
        let stats = handle.stats(&target).unwrap();
        handle.stop();
        (events, stats)
    });
    let target = host.to_string();
    let answered = replies(&events, &target);
    let duplicates = events
        .iter()
        .filter(|event| matches!(event, WatchEvent::Duplicate { target: t, .. } if **t == *target))
        .count();
    assert_eq!(timeouts(&events, &target), 0);
    assert!(answered >= 5, "{answered} replies");
    // One duplicate per answered probe (the last one's may come after the end).
    assert!(
        duplicates + 1 >= answered && duplicates <= answered,
        "{duplicates} duplicates"
    );
    assert_eq!(stats.received(), answered);
    assert_eq!(stats.sent(), answered);
    assert_eq!(stats.duplicates(), duplicates);
}

fn a_name_is_looked_up_again_and_followed_when_it_changes() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("watchdns");
    let dns = std::sync::Arc::new(support::DnsResponder::start(
        &netns,
        &[("flip.test", &["127.0.0.1".parse().unwrap()])],
    ));
    dns.set_ttl(0);
    let server = dns.address();
    // The name's address changes 1 s in.
    let flipper = {
        let dns = std::sync::Arc::clone(&dns);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            dns.set_addresses("flip.test", &["127.0.0.2".parse().unwrap()]);
        })
    };
    let events = netns.block_on_multi(move || async move {
        let resolver = icmplib::Resolver::builder()
            .name_servers(&[server])
            .build()
            .unwrap();
        let pinger = Pinger::builder().resolver(resolver).build();
        let options = options().resolve_every(Some(Duration::from_millis(600)));
        let (handle, mut watch) = pinger.watch(["flip.test"], &options).unwrap();
        let mut events = Vec::new();
        let start = Instant::now();
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), watch.next()).await
        {
            events.push((start.elapsed(), event));
            if start.elapsed() > Duration::from_millis(2_600) {
                break;
            }
        }
        handle.stop();
        events
    });
    flipper.join().unwrap();
    let replies: Vec<(Duration, String)> = events
        .iter()
        .filter_map(|(at, event)| match event {
            WatchEvent::Reply { address, .. } => Some((*at, address.to_string())),
            _ => None,
        })
        .collect();
    // Probed all along, first at the old address, then, after a look-up past the change,
    // at the new one; never back.
    assert!(replies.len() >= 10, "{replies:?}");
    assert_eq!(replies[0].1, "127.0.0.1");
    assert_eq!(replies.last().unwrap().1, "127.0.0.2", "{replies:?}");
    let switched = replies.iter().position(|(_, a)| a == "127.0.0.2").unwrap();
    assert!(replies[switched..].iter().all(|(_, a)| a == "127.0.0.2"));
    assert!(replies[switched].0 >= Duration::from_secs(1));
    assert!(
        replies[switched].0 <= Duration::from_millis(2_000),
        "{replies:?}"
    );
    assert!(dns.queries("flip.test") >= 4);
}

fn a_rate_limit_holds_for_the_whole_watch() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("watchrate");
    let (replies, elapsed) = netns.block_on_multi(|| async {
        // 40 targets every 100 ms would be 400 probes a second: held to 100.
        let targets: Vec<String> = (1..=40).map(|n| format!("127.0.3.{n}")).collect();
        let options = options()
            .period(Duration::from_millis(100))
            .timeout(Duration::from_millis(90))
            .down_after(1_000)
            .rate_limit(100);
        let (handle, mut watch) = Pinger::new().watch(targets, &options).unwrap();
        let start = Instant::now();
        let mut replies = 0;
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), watch.next()).await
        {
            replies += usize::from(matches!(event, WatchEvent::Reply { .. }));
            if start.elapsed() > Duration::from_secs(2) {
                break;
            }
        }
        handle.stop();
        (replies, start.elapsed())
    });
    let most = (elapsed.as_secs_f64() * 100.0) as usize + 2;
    assert!(
        replies <= most && replies >= most / 2,
        "{replies} replies in {elapsed:?}"
    );
}

fn a_target_removed_and_added_again_is_probed_once() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("watchreadd");
    let replies = netns.block_on_multi(|| async {
        let target = "127.0.0.1".to_string();
        let (handle, mut watch) = Pinger::new().watch([target.clone()], &options()).unwrap();
        let start = Instant::now();
        let mut readded = false;
        let mut replies_after = 0;
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), watch.next()).await
        {
            let elapsed = start.elapsed();
            if !readded && elapsed > Duration::from_millis(900) {
                // As a config reload does: out and in again at once.
                handle.remove(&target);
                handle.add(target.clone());
                readded = true;
            }
            if readded
                && elapsed > Duration::from_millis(1_400)
                && matches!(event, WatchEvent::Reply { .. })
            {
                replies_after += 1;
            }
            if elapsed > Duration::from_millis(3_400) {
                break;
            }
        }
        assert_eq!(handle.targets(), [target]);
        handle.stop();
        replies_after
    });
    // 2 s at one probe every 200 ms: about 10, not twice that.
    assert!((8..=12).contains(&replies), "{replies} replies");
}

fn a_name_that_does_not_resolve_counts_as_lost() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("watchnx");
    let dns = support::DnsResponder::start(&netns, &[]);
    let server = dns.address();
    let events = netns.block_on_multi(move || async move {
        let resolver = icmplib::Resolver::builder()
            .name_servers(&[server])
            .build()
            .unwrap();
        let pinger = Pinger::builder().resolver(resolver).build();
        let (handle, mut watch) = pinger.watch(["missing.test"], &options()).unwrap();
        let mut events = Vec::new();
        let start = Instant::now();
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), watch.next()).await
        {
            events.push(event);
            if start.elapsed() > Duration::from_millis(1_200) {
                break;
            }
        }
        assert_eq!(handle.is_up("missing.test"), Some(false));
        handle.stop();
        events
    });
    assert_eq!(states(&events, "missing.test"), [(false, None)]);
    let errors = events
        .iter()
        .filter(|event| matches!(event, WatchEvent::Error { address: None, .. }))
        .count();
    assert!(errors >= 3, "{errors} errors");
}

#[tokio::main(flavor = "current_thread")]
async fn a_watch_with_nothing_to_do_and_no_handle_ends() {
    let (handle, mut watch) = Pinger::new()
        .watch(Vec::<String>::new(), &options())
        .unwrap();
    drop(handle);
    let end = tokio::time::timeout(Duration::from_secs(2), watch.next()).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
}

/// The addresses of `target`'s events that are replies (true) or timeouts (false), in
/// order.
fn outcomes(events: &[WatchEvent], target: &str) -> Vec<(IpAddr, bool)> {
    events
        .iter()
        .filter_map(|event| match event {
            WatchEvent::Reply {
                target: t, address, ..
            } if &**t == target => Some((*address, true)),
            WatchEvent::Timeout {
                target: t, address, ..
            } if &**t == target => Some((*address, false)),
            _ => None,
        })
        .collect()
}

/// A name whose first address is silent and second alive stays down by default; with
/// `try_next_address` it moves to the second at the first loss and stays there, up. A
/// name whose every address is silent goes round them, one probe a period, its name
/// looked up again after the last.
fn a_watched_name_moves_to_its_next_address_only_when_asked() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("watchnext");
    let [live, silent, silent2]: [IpAddr; 3] =
        ["127.0.0.1", "127.0.0.2", "127.0.0.3"].map(|a| a.parse().unwrap());
    block(&netns, "silent", silent, true);
    block(&netns, "silent2", silent2, true);
    let dns = support::DnsResponder::start(
        &netns,
        &[
            ("two.test", &[silent, live]),
            ("dead.test", &[silent, silent2]),
        ],
    );
    dns.set_ttl(0);
    let server = dns.address();
    let run = |try_next: bool| {
        netns.block_on_multi(move || async move {
            let resolver = icmplib::Resolver::builder()
                .name_servers(&[server])
                .build()
                .unwrap();
            let pinger = Pinger::builder().resolver(resolver).build();
            let options = options().try_next_address(try_next);
            let (handle, mut watch) = pinger.watch(["two.test", "dead.test"], &options).unwrap();
            let mut events = Vec::new();
            let start = Instant::now();
            while let Ok(Some(event)) =
                tokio::time::timeout(Duration::from_secs(2), watch.next()).await
            {
                events.push(event);
                if start.elapsed() > Duration::from_millis(2_000) {
                    break;
                }
            }
            let up = handle.is_up("two.test");
            handle.stop();
            (events, up, start.elapsed())
        })
    };
    let (events, up, _) = run(false);
    // Looked up once: the questions of one lookup.
    let one_lookup = dns.queries("dead.test");
    let first_only = outcomes(&events, "two.test");
    assert!(
        first_only.len() >= 6 && first_only.iter().all(|o| *o == (silent, false)),
        "{first_only:?}"
    );
    assert_eq!(up, Some(false));

    let queries_before = dns.queries("dead.test");
    let (events, up, elapsed) = run(true);
    let two = outcomes(&events, "two.test");
    // One loss at the silent address, then every probe answered at the live one.
    assert_eq!(two[0], (silent, false), "{two:?}");
    assert!(two.len() >= 6, "{two:?}");
    assert!(two[1..].iter().all(|o| *o == (live, true)), "{two:?}");
    assert_eq!(states(&events, "two.test"), [(true, None)]);
    assert_eq!(up, Some(true));
    // Round the dead name's addresses, one probe a period, never faster.
    let dead = outcomes(&events, "dead.test");
    let period = options().period;
    let most = usize::try_from(elapsed.as_millis() / period.as_millis()).unwrap() + 2;
    assert!(
        dead.len() >= 4 && dead.len() <= most,
        "{} probes: {dead:?}",
        dead.len()
    );
    for (i, outcome) in dead.iter().enumerate() {
        let expected = if i % 2 == 0 { silent } else { silent2 };
        assert_eq!(*outcome, (expected, false), "{dead:?}");
    }
    let lookups = (dns.queries("dead.test") - queries_before) / one_lookup;
    assert!(
        lookups >= 3,
        "looked up {lookups} times, not after each round"
    );
}
