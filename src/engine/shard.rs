//! Sharding: which of a run's clients this process drives (`--shard i/N`).
//!
//! Client `k` of shard `i` out of `N` is global client `i + k·N`, so the shards partition the clients
//! (and therefore the users: the credentials of global client `g` depend on `g` only) and each shard
//! gets a slice spread over the whole range rather than one contiguous block.

use std::fmt;
use std::str::FromStr;

/// This process's share of a run: shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// A `--shard` value that is not `i/N` with `0 <= i < N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid shard {given:?}: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/3")]
pub struct ShardError {
    pub given: String,
}

impl Shard {
    /// The shard `index/count`, if valid.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 || index >= count {
            return Err(ShardError {
                given: format!("{index}/{count}"),
            });
        }
        Ok(Shard { index, count })
    }

    /// Global indices of this shard's clients among `total`, in increasing order.
    pub fn clients(self, total: u32) -> impl Iterator<Item = u64> {
        (u64::from(self.index)..u64::from(total)).step_by(self.count as usize)
    }

    /// How many of `total` clients this shard drives.
    pub fn len(self, total: u32) -> u32 {
        if self.index >= total {
            0
        } else {
            (total - self.index).div_ceil(self.count)
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let err = || ShardError {
            given: s.to_string(),
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(err)?;
        let i = i.trim().parse().map_err(|_| err())?;
        let n = n.trim().parse().map_err(|_| err())?;
        Shard::new(i, n).map_err(|_| err())
    }
}

/// Global indices of the clients this process drives: all of them, or a shard's share.
pub fn local_clients(total: u32, shard: Option<Shard>) -> Vec<u64> {
    match shard {
        Some(s) => s.clients(total).collect(),
        None => (0..u64::from(total)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_every_client_exactly_once() {
        for total in [0u32, 1, 2, 7, 10, 101] {
            for count in 1..=5u32 {
                let mut seen = vec![0u32; total as usize];
                for index in 0..count {
                    let s = Shard::new(index, count).unwrap();
                    let mine = local_clients(total, Some(s));
                    assert_eq!(mine.len() as u32, s.len(total), "{s} of {total}");
                    for g in mine {
                        seen[g as usize] += 1;
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "total {total} count {count}");
            }
        }
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(" 0 / 1 ".parse::<Shard>().unwrap().to_string(), "0/1");
        for bad in ["3/3", "1", "a/b", "0/0", "-1/2", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(local_clients(3, None), vec![0, 1, 2]);
    }
}
