//! AWS regions and their partitions: which region names a credential scope
//! may carry, which partition an ARN in that region names, and which
//! regions a frontend serves.

use std::fmt;

/// Longest region name accepted (AWS's longest today is 14 characters).
const MAX_REGION_LEN: usize = 32;

/// An AWS partition: the second field of every ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Partition {
    /// The commercial regions.
    Aws,
    /// The China regions (`cn-*`).
    AwsCn,
    /// AWS GovCloud (US) (`us-gov-*`).
    AwsUsGov,
}

impl Partition {
    /// The partition as ARNs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }

    /// The partition of a region name (`cn-*`: China, `us-gov-*`: GovCloud,
    /// any other: commercial).
    pub fn of(region: &str) -> Self {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }

    /// Parses an ARN's partition field.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "aws" => Partition::Aws,
            "aws-cn" => Partition::AwsCn,
            "aws-us-gov" => Partition::AwsUsGov,
            _ => return None,
        })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a region name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a region name (expected the shape of us-east-1, us-gov-west-1 or cn-north-1)"
)]
pub struct InvalidRegion(pub String);

/// A well-formed region name, such as `us-east-1`, `ap-southeast-2`,
/// `us-gov-west-1` or `cn-north-1`: a two-letter area, `gov` for GovCloud,
/// a direction word, and a number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

impl Region {
    /// Validates a region name.
    pub fn parse(name: &str) -> Result<Self, InvalidRegion> {
        if well_formed(name) {
            Ok(Self(name.to_owned()))
        } else {
            // Bounded: the name may come from a hostile request.
            let shown: String = name.chars().take(MAX_REGION_LEN + 1).collect();
            Err(InvalidRegion(shown))
        }
    }

    /// `us-east-1`: the region `strongroom serve` and the store default
    /// to when none is named (as AWS's own tools do).
    pub fn aws_default() -> Self {
        Self(strongroom_store::LEGACY_REGION.to_owned())
    }

    /// The region name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The partition its ARNs name.
    pub fn partition(&self) -> Partition {
        Partition::of(&self.0)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Region {
    type Err = InvalidRegion;

    fn from_str(s: &str) -> Result<Self, InvalidRegion> {
        Self::parse(s)
    }
}

/// `aa-[gov-]word-N`: lowercase letters, one optional `gov` part (only
/// after `us`), a number from 1 to 99 without a leading zero.
fn well_formed(name: &str) -> bool {
    if name.len() > MAX_REGION_LEN {
        return false;
    }
    let parts: Vec<&str> = name.split('-').collect();
    let (area, direction, number) = match parts.as_slice() {
        [area, direction, number] => (*area, *direction, *number),
        ["us", "gov", direction, number] => ("us", *direction, *number),
        _ => return false,
    };
    let letters = |s: &str, max: usize| {
        (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase())
    };
    area.len() == 2
        && letters(area, 2)
        && letters(direction, 16)
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
        && !number.starts_with('0')
}

/// Which regions a frontend serves for the KMS API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionSet {
    /// Every well-formed region (`strongroom dev` by default).
    Any,
    /// Only these (`--region`, repeatable); never empty.
    Listed(Vec<Region>),
}

impl RegionSet {
    /// Exactly `regions`; `None` if the list is empty.
    pub fn listed(mut regions: Vec<Region>) -> Option<Self> {
        regions.sort();
        regions.dedup();
        (!regions.is_empty()).then_some(RegionSet::Listed(regions))
    }

    /// The served region a credential scope names, or `None`.
    pub fn serves(&self, name: &str) -> Option<Region> {
        let region = Region::parse(name).ok()?;
        match self {
            RegionSet::Any => Some(region),
            RegionSet::Listed(list) => list.contains(&region).then_some(region),
        }
    }

    /// Whether a derived signing key may be cached before its signature
    /// verified: only when the regions are a short list, so made-up
    /// regions cannot flood the cache.
    pub fn bounded(&self) -> bool {
        matches!(self, RegionSet::Listed(_))
    }
}

impl fmt::Display for RegionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionSet::Any => f.write_str("every region"),
            RegionSet::Listed(list) => {
                let names: Vec<&str> = list.iter().map(Region::as_str).collect();
                f.write_str(&names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_region_names_parse_with_their_partition() {
        for (name, partition) in [
            ("us-east-1", Partition::Aws),
            ("eu-west-1", Partition::Aws),
            ("ap-southeast-2", Partition::Aws),
            ("il-central-1", Partition::Aws),
            ("ap-northeast-3", Partition::Aws),
            ("us-gov-west-1", Partition::AwsUsGov),
            ("us-gov-east-1", Partition::AwsUsGov),
            ("cn-north-1", Partition::AwsCn),
            ("cn-northwest-1", Partition::AwsCn),
        ] {
            let r = Region::parse(name).unwrap();
            assert_eq!(r.as_str(), name);
            assert_eq!(r.partition(), partition, "{name}");
            assert_eq!(Partition::parse(partition.as_str()), Some(partition));
        }
    }

    #[test]
    fn malformed_region_names_are_refused() {
        let long = format!("us-{}-1", "a".repeat(40));
        for bad in [
            "",
            "us",
            "us-east",
            "us-east-",
            "US-EAST-1",
            "us-east-01",
            "us-east-100",
            "us-east-1a",
            "usa-east-1",
            "u-east-1",
            "us--1",
            "eu-gov-west-1",
            "us-iso-east-1",
            "us-east-1-extra",
            "us_east_1",
            "us-east-1 ",
            "us-éast-1",
            "check",
            long.as_str(),
        ] {
            assert!(Region::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_default_region_is_well_formed() {
        let d = Region::aws_default();
        assert_eq!(Region::parse(d.as_str()), Ok(d));
    }

    #[test]
    fn refusal_message_is_bounded() {
        let huge = "x".repeat(10_000);
        let e = Region::parse(&huge).unwrap_err();
        assert!(e.to_string().len() < 200);
    }

    #[test]
    fn a_listed_set_serves_only_its_regions() {
        let set = RegionSet::listed(vec![
            Region::parse("eu-west-1").unwrap(),
            Region::parse("us-east-1").unwrap(),
            Region::parse("eu-west-1").unwrap(),
        ])
        .unwrap();
        assert_eq!(set.to_string(), "eu-west-1, us-east-1");
        assert!(set.serves("eu-west-1").is_some());
        assert!(set.serves("us-west-2").is_none());
        assert!(set.serves("not a region").is_none());
        assert!(RegionSet::listed(Vec::new()).is_none());
        assert!(RegionSet::Any.serves("cn-north-1").is_some());
        assert!(RegionSet::Any.serves("nowhere").is_none());
    }
}
