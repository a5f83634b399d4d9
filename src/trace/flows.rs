//! The flows of a trace: the one's complement sum each flow's probes keep (ICMP-Paris,
//! see [`Next::flow`](crate::scheduler::Next::flow)), and which flow a probe belonged to.

use crate::scheduler::Mark;

/// The flows a trace follows: each a sum its probes keep; none when the probes belong to
/// no flow (then there is one, flow 0, of any checksum).
#[derive(Debug, Clone)]
pub(crate) struct Flows {
    sums: Vec<u16>,
}

impl Flows {
    /// `flows` flows with sums drawn from `seed` when `stable`; otherwise probes of any
    /// checksum.
    pub(crate) fn new(stable: bool, flows: u16, seed: u16) -> Flows {
        Flows {
            sums: if stable {
                sums(seed, flows.max(1))
            } else {
                Vec::new()
            },
        }
    }

    /// Flows followed (one when the probes belong to none).
    pub(crate) fn count(&self) -> u16 {
        u16::try_from(self.sums.len()).unwrap_or(u16::MAX).max(1)
    }

    /// The probes belong to flows.
    pub(crate) fn stable(&self) -> bool {
        !self.sums.is_empty()
    }

    /// The sum the probes of `flow` keep; `None` for probes of no flow.
    pub(crate) fn sum(&self, flow: u16) -> Option<u16> {
        self.sums.get(usize::from(flow)).copied()
    }

    /// The flow the probe of `mark` belonged to.
    pub(crate) fn of(&self, mark: Mark) -> u16 {
        mark.flow
            .and_then(|sum| self.sums.iter().position(|s| *s == sum))
            .and_then(|flow| u16::try_from(flow).ok())
            .unwrap_or(0)
    }
}

/// The sums the probes of `flows` flows keep, from `seed`: distinct, each 1 to 0xfffe
/// (one's complement has two zeros), spread over the whole range so that a balancer's
/// hash sends neighbouring flows apart as likely as any.
fn sums(seed: u16, flows: u16) -> Vec<u16> {
    // 0x9e37 and 0xfffe are coprime: the first 0xfffe flows get distinct sums.
    (0..u32::from(flows))
        .map(|flow| {
            let spread = (u32::from(seed) + flow * 0x9e37) % 0xfffe;
            // Below 0xfffe, plus one: 1 to 0xfffe.
            u16::try_from(spread + 1).unwrap_or(1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TracerouteOptions;

    #[test]
    fn flow_sums_are_distinct_and_never_a_zero() {
        for seed in [0, 1, 0x7fff, 0xfffd, 0xfffe, 0xffff] {
            let mut all = sums(seed, TracerouteOptions::MAX_FLOWS);
            assert!(all.iter().all(|sum| (1..=0xfffe).contains(sum)));
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), usize::from(TracerouteOptions::MAX_FLOWS));
        }
    }

    #[test]
    fn a_probe_is_known_by_its_sum() {
        let flows = Flows::new(true, 3, 7);
        let mark = |flow| Mark {
            ttl: 1,
            flow,
            tag: 0,
        };
        assert_eq!((flows.count(), flows.stable()), (3, true));
        assert_eq!(flows.of(mark(flows.sum(2))), 2);
        assert_eq!(flows.of(mark(None)), 0);
        let none = Flows::new(false, 3, 7);
        assert_eq!((none.count(), none.stable(), none.sum(0)), (1, false, None));
    }
}
