//! The outcome ids of `outcomes.md` §5 and their names (§4.2): the one table that Kafka
//! outcome messages, their billing routing and `c:outcomes/<name>@none` buckets share.

/// The kind of an outcome, as its numeric id in outcome messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum OutcomeId {
    /// The data was stored (billing-critical).
    Accepted = 0,
    /// Dropped by an inbound filter or by sampling.
    Filtered = 1,
    /// Dropped by a quota or rate limit (billing-critical).
    RateLimited = 2,
    /// Malformed, too large, unauthorized or an internal error.
    Invalid = 3,
    /// Dropped as abuse.
    Abuse = 4,
    /// Discarded by an SDK and reported in a client report.
    ClientDiscard = 5,
    /// Dropped by a cardinality limit; only received in outcome buckets of downstream relays.
    CardinalityLimited = 6,
}

impl OutcomeId {
    /// Every outcome id, in id order.
    pub const ALL: [OutcomeId; 7] = [
        OutcomeId::Accepted,
        OutcomeId::Filtered,
        OutcomeId::RateLimited,
        OutcomeId::Invalid,
        OutcomeId::Abuse,
        OutcomeId::ClientDiscard,
        OutcomeId::CardinalityLimited,
    ];

    /// The numeric id.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The name used in `c:outcomes/<name>@none` bucket names.
    pub const fn name(self) -> &'static str {
        match self {
            OutcomeId::Accepted => "accepted",
            OutcomeId::Filtered => "filtered",
            OutcomeId::RateLimited => "rate_limited",
            OutcomeId::Invalid => "invalid",
            OutcomeId::Abuse => "abuse",
            OutcomeId::ClientDiscard => "client_discard",
            OutcomeId::CardinalityLimited => "cardinality_limited",
        }
    }

    /// The outcome id named `name`, if any.
    pub fn from_name(name: &str) -> Option<OutcomeId> {
        OutcomeId::ALL.into_iter().find(|id| id.name() == name)
    }

    /// The outcome id with the numeric id `id`, if any.
    pub fn from_u8(id: u8) -> Option<OutcomeId> {
        OutcomeId::ALL
            .into_iter()
            .find(|outcome| outcome.as_u8() == id)
    }

    /// Whether outcomes of this kind go to the `outcomes_billing` logical topic.
    pub const fn is_billing(self) -> bool {
        matches!(self, OutcomeId::Accepted | OutcomeId::RateLimited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_numbers_are_one_table() {
        for (index, id) in OutcomeId::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(id.as_u8()), index);
            assert_eq!(OutcomeId::from_name(id.name()), Some(id));
            assert_eq!(OutcomeId::from_u8(id.as_u8()), Some(id));
        }
        assert_eq!(OutcomeId::from_name("nonsense"), None);
        assert_eq!(OutcomeId::from_u8(7), None);
        let billing: Vec<OutcomeId> = OutcomeId::ALL
            .into_iter()
            .filter(|id| id.is_billing())
            .collect();
        assert_eq!(billing, [OutcomeId::Accepted, OutcomeId::RateLimited]);
    }
}
