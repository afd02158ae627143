//! Resource limits: cgroup limits (`--memory`, `--cpus`, `--cpu-shares`,
//! `--pids-limit`) and rlimits (`--ulimit`), parsed with Docker's syntax.

use serde::{Deserialize, Serialize};

use super::options::OptionError;

/// Docker refuses memory limits below this (a container cannot even start under it).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// The CFS period Docker uses for `--cpus`.
pub const CPU_PERIOD_US: u64 = 100_000;

/// cgroup limits. `None` leaves the resource unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resources {
    /// Bytes.
    pub memory: Option<u64>,
    /// Memory plus swap, bytes; `-1` unlimited swap. Docker's default is twice `memory`.
    pub memory_swap: Option<i64>,
    /// CPUs in billionths (`--cpus 1.5` = 1_500_000_000).
    pub nano_cpus: Option<u64>,
    /// Relative CPU weight (`--cpu-shares`, 1024 is the default weight).
    pub cpu_shares: Option<u64>,
    /// Maximum number of tasks; `None` or a value <= 0 is unlimited.
    pub pids_limit: Option<i64>,
}

impl Resources {
    /// Checks the values against each other and the machine, with Docker's messages.
    pub fn validate(&self, host_cpus: usize) -> Result<(), OptionError> {
        if let Some(memory) = self.memory {
            if memory < MIN_MEMORY {
                return Err(OptionError::new("--memory", memory.to_string(), "Minimum memory limit allowed is 6MB"));
            }
            if let Some(swap) = self.memory_swap
                && swap > 0
                && (swap as u64) < memory
            {
                return Err(OptionError::new(
                    "--memory-swap",
                    swap.to_string(),
                    "Minimum memoryswap limit should be larger than memory limit, see usage",
                ));
            }
        } else if self.memory_swap.is_some_and(|swap| swap > 0) {
            return Err(OptionError::new(
                "--memory-swap",
                self.memory_swap.unwrap_or_default().to_string(),
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ));
        }
        if let Some(nano) = self.nano_cpus {
            let max = host_cpus as u64 * 1_000_000_000;
            if nano < 10_000_000 || nano > max {
                return Err(OptionError::new(
                    "--cpus",
                    format!("{:.2}", nano as f64 / 1e9),
                    format!(
                        "Range of CPUs is from 0.01 to {host_cpus}.00, as there are only {host_cpus} CPUs available"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The CFS quota for `--cpus`, per [`CPU_PERIOD_US`].
    pub fn cpu_quota_us(&self) -> Option<i64> {
        self.nano_cpus.map(|nano| (nano as u128 * CPU_PERIOD_US as u128 / 1_000_000_000) as i64)
    }

    /// The pids limit to apply, if any (Docker: 0 and negative mean unlimited).
    pub fn effective_pids_limit(&self) -> Option<i64> {
        self.pids_limit.filter(|limit| *limit > 0)
    }

    /// The swap limit to apply: Docker's default is as much swap as memory.
    pub fn effective_memory_swap(&self) -> Option<i64> {
        match (self.memory, self.memory_swap) {
            (Some(_), Some(swap)) => Some(swap),
            (Some(memory), None) => Some(memory.saturating_mul(2) as i64),
            (None, _) => None,
        }
    }
}

/// Parses a size like Docker's `RAMInBytes`: `512`, `64k`, `1.5g`, `100MB` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let invalid = || format!("invalid size: '{text}'");
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let without_b = lower.strip_suffix('b').unwrap_or(&lower);
    let without_i = without_b.strip_suffix('i').unwrap_or(without_b);
    let (number, multiplier) = match without_i.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let power = match unit {
                'k' => 1,
                'm' => 2,
                'g' => 3,
                't' => 4,
                'p' => 5,
                _ => return Err(invalid()),
            };
            (without_i[..at].trim_end(), 1024u64.pow(power))
        }
        _ => (without_b, 1),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(invalid());
    }
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as u64)
}

/// Parses `--cpus` (a decimal number of CPUs) into billionths.
pub fn parse_cpus(text: &str) -> Result<u64, OptionError> {
    let value: f64 =
        text.trim().parse().map_err(|_| OptionError::new("--cpus", text, "want a decimal number such as 1.5"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(OptionError::new("--cpus", text, "must be a positive number"));
    }
    Ok((value * 1e9).round() as u64)
}

/// The rlimits `--ulimit` may set, by Docker's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UlimitName {
    Core,
    Cpu,
    Data,
    Fsize,
    Locks,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Rttime,
    Sigpending,
    Stack,
}

impl UlimitName {
    pub const ALL: [UlimitName; 15] = [
        UlimitName::Core,
        UlimitName::Cpu,
        UlimitName::Data,
        UlimitName::Fsize,
        UlimitName::Locks,
        UlimitName::Memlock,
        UlimitName::Msgqueue,
        UlimitName::Nice,
        UlimitName::Nofile,
        UlimitName::Nproc,
        UlimitName::Rss,
        UlimitName::Rtprio,
        UlimitName::Rttime,
        UlimitName::Sigpending,
        UlimitName::Stack,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UlimitName::Core => "core",
            UlimitName::Cpu => "cpu",
            UlimitName::Data => "data",
            UlimitName::Fsize => "fsize",
            UlimitName::Locks => "locks",
            UlimitName::Memlock => "memlock",
            UlimitName::Msgqueue => "msgqueue",
            UlimitName::Nice => "nice",
            UlimitName::Nofile => "nofile",
            UlimitName::Nproc => "nproc",
            UlimitName::Rss => "rss",
            UlimitName::Rtprio => "rtprio",
            UlimitName::Rttime => "rttime",
            UlimitName::Sigpending => "sigpending",
            UlimitName::Stack => "stack",
        }
    }
}

/// One `--ulimit name=soft[:hard]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    pub name: UlimitName,
    pub soft: u64,
    pub hard: u64,
}

impl std::str::FromStr for Ulimit {
    type Err = OptionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| OptionError::new("--ulimit", text, reason);
        let (name, limits) = text.split_once('=').ok_or_else(|| err("want name=soft[:hard]"))?;
        let name = UlimitName::ALL
            .into_iter()
            .find(|known| known.name() == name)
            .ok_or_else(|| err(&format!("unknown ulimit {name:?}")))?;
        let number = |value: &str| -> Result<u64, OptionError> {
            match value.parse::<i64>() {
                Ok(-1) => Ok(u64::MAX),
                Ok(value) if value >= 0 => Ok(value as u64),
                _ => Err(err("limits must be non-negative integers or -1 (unlimited)")),
            }
        };
        let (soft, hard) = match limits.split_once(':') {
            Some((soft, hard)) => (number(soft)?, number(hard)?),
            None => {
                let value = number(limits)?;
                (value, value)
            }
        };
        if soft > hard {
            return Err(err(&format!("soft limit {soft} is larger than hard limit {hard}")));
        }
        Ok(Ulimit { name, soft, hard })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("64k").unwrap(), 64 * 1024);
        assert_eq!(parse_size("32m").unwrap(), 32 << 20);
        assert_eq!(parse_size("32MB").unwrap(), 32 << 20);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("abc").unwrap_err(), "invalid size: 'abc'");
        assert!(parse_size("12x").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("-5m").is_err());
    }

    #[test]
    fn cpus_and_quota() {
        let resources = Resources { nano_cpus: Some(parse_cpus("1.5").unwrap()), ..Default::default() };
        assert_eq!(resources.cpu_quota_us(), Some(150_000));
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("many").is_err());
        assert!(resources.validate(2).is_ok());
        let too_many = Resources { nano_cpus: Some(parse_cpus("3").unwrap()), ..Default::default() };
        assert!(too_many.validate(2).unwrap_err().to_string().contains("Range of CPUs is from 0.01 to 2.00"));
    }

    #[test]
    fn memory_rules() {
        let small = Resources { memory: Some(1024), ..Default::default() };
        assert!(small.validate(1).unwrap_err().to_string().contains("Minimum memory limit allowed is 6MB"));
        let ok = Resources { memory: Some(32 << 20), ..Default::default() };
        assert_eq!(ok.effective_memory_swap(), Some(64 << 20));
        let swap_only = Resources { memory_swap: Some(64 << 20), ..Default::default() };
        assert!(swap_only.validate(1).is_err());
        let pids = Resources { pids_limit: Some(0), ..Default::default() };
        assert_eq!(pids.effective_pids_limit(), None);
    }

    #[test]
    fn ulimits_parse_like_docker() {
        let nofile: Ulimit = "nofile=1024:2048".parse().unwrap();
        assert_eq!(nofile, Ulimit { name: UlimitName::Nofile, soft: 1024, hard: 2048 });
        let core: Ulimit = "core=-1".parse().unwrap();
        assert_eq!((core.soft, core.hard), (u64::MAX, u64::MAX));
        assert!("nofile".parse::<Ulimit>().is_err());
        assert!("bogus=1".parse::<Ulimit>().unwrap_err().to_string().contains("unknown ulimit"));
        assert!("nofile=10:5".parse::<Ulimit>().unwrap_err().to_string().contains("larger than hard"));
    }
}
