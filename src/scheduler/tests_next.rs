//! A name's next address on the fake transport, in paused time: the hand-over forgets the
//! probes in flight and the probe the old job had scheduled, the target ends at the last
//! address tried, and without the option only the first address is probed.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::*;
use crate::engine::fake::{Answer, FakeTransport};
use crate::options::ProbeOptions;
use crate::scheduler::fake::FakeEngines;

const DEAD: &str = "2001:db8::dead";
const LIVE: &str = "2001:db8::1";
const RTT: Duration = Duration::from_millis(30);

/// A job that sends a probe every 100 ms whatever the answers (as a watch does), five in
/// all, and is through with its address at its first loss.
#[derive(Debug, Default)]
struct Steady {
    sent: usize,
    lost: bool,
}

impl Job for Steady {
    type Output = (IpAddr, usize);
    type Event = Infallible;

    fn next(&mut self, _in_flight: usize, _now: Now) -> Option<Next> {
        (self.sent < 5).then(|| Next {
            ttl: 64,
            flow: None,
            tag: 0,
            after: if self.sent == 0 {
                Duration::ZERO
            } else {
                Duration::from_millis(100)
            },
            payload_size: None,
            last: false,
        })
    }

    fn sent(&mut self, _probe: Mark, _now: Now) {
        self.sent += 1;
    }

    fn failed(&mut self, _probe: Mark, _error: Error, _now: Now, _events: &mut Events<Infallible>) {
    }

    fn settle(
        &mut self,
        _probe: Mark,
        _sent_at: Instant,
        outcome: Result<IcmpReply>,
        _now: Now,
        _events: &mut Events<Infallible>,
    ) {
        self.lost |= outcome.is_err();
    }

    fn unanswered(&self) -> bool {
        self.lost
    }

    fn finish(self, address: IpAddr, _scope_id: u32) -> (IpAddr, usize) {
        (address, self.sent)
    }
}

/// The tests' names: `dead-first` is the dead address then the live one, `all-dead` the
/// dead one twice over two addresses.
fn names(name: &str) -> Result<Vec<IpAddr>> {
    let address = |text: &str| text.parse::<IpAddr>().unwrap();
    Ok(match name {
        "dead-first" => vec![address(DEAD), address(LIVE)],
        "all-dead" => vec![address(DEAD), address("2001:db8::beef")],
        _ => return Err(Error::name_not_found(name)),
    })
}

/// Runs `Steady` on `target` with a 150 ms timeout: the outcome, the fake transport (to
/// read what was sent) and the engine's requests left in flight.
async fn run(target: &'static str, next_address: bool) -> ((IpAddr, usize), FakeTransport, usize) {
    let fake = FakeTransport::raw_v6();
    fake.script(|request| {
        if request.destination() == LIVE.parse::<IpAddr>().unwrap() {
            vec![Answer::reply(request, RTT)]
        } else {
            Vec::new()
        }
    });
    let engine = fake.engine();
    let engines = Arc::new(FakeEngines {
        v4: None,
        v6: Some(engine.clone()),
    });
    let probe = ProbeOptions::default()
        .timeout(Duration::from_millis(150))
        .try_next_address(next_address);
    let settings = Settings::new(&probe, None, 1, None);
    let mut scheduler = Scheduler::new(engines, None, settings, std::iter::once(target), |_, _| {
        Steady::default()
    })
    .with_test_names(names);
    let finished = scheduler.next().await.unwrap();
    assert!(scheduler.next().await.is_none());
    let in_flight = engine.in_flight();
    (finished.result.unwrap(), fake, in_flight)
}

/// How many requests went to `address`.
fn sent_to(fake: &FakeTransport, address: &str) -> usize {
    let address: IpAddr = address.parse().unwrap();
    fake.sent()
        .iter()
        .filter(|sent| sent.request.destination() == address)
        .count()
}

#[tokio::test(start_paused = true)]
async fn the_next_address_takes_over_at_once_and_the_old_probes_are_forgotten() {
    let ((address, sent), fake, in_flight) = run("dead-first", true).await;
    // The dead address got its first probe (lost at 150 ms) and the one that left at
    // 100 ms, then nothing: the probe its job had scheduled for 200 ms found no target.
    assert_eq!(sent_to(&fake, DEAD), 2);
    assert_eq!((address, sent), (LIVE.parse().unwrap(), 5));
    assert_eq!(sent_to(&fake, LIVE), 5);
    assert_eq!(
        in_flight, 0,
        "the dead address's probe in flight was forgotten"
    );
}

#[tokio::test(start_paused = true)]
async fn after_the_last_address_the_target_ends_there() {
    let ((address, sent), fake, in_flight) = run("all-dead", true).await;
    assert_eq!(address, "2001:db8::beef".parse::<IpAddr>().unwrap());
    assert_eq!(
        sent, 2,
        "its first probe lost, the second in flight and forgotten"
    );
    assert_eq!(
        (sent_to(&fake, DEAD), sent_to(&fake, "2001:db8::beef")),
        (2, 2)
    );
    assert_eq!(in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn without_the_option_only_the_first_address_is_probed() {
    let ((address, sent), fake, _) = run("dead-first", false).await;
    assert_eq!((address, sent), (DEAD.parse().unwrap(), 5));
    assert_eq!(sent_to(&fake, LIVE), 0);
}
