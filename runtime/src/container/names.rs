//! Names for containers created without `--name`: `adjective_noun`, as Docker
//! does, from berth's own harbour-themed words.

use std::io::Read;

const ADJECTIVES: &[&str] = &[
    "amber", "bold", "brave", "breezy", "bright", "calm", "clever", "cosy", "crisp", "daring", "deep", "eager", "fair",
    "fast", "gentle", "glad", "golden", "green", "happy", "hardy", "keen", "kind", "lively", "lucky", "mellow",
    "merry", "misty", "nimble", "noble", "patient", "proud", "quick", "quiet", "rapid", "salty", "serene", "sharp",
    "silver", "sleek", "snug", "steady", "stoic", "sunny", "swift", "tidy", "trusty", "vivid", "wise",
];

const NOUNS: &[&str] = &[
    "anchor",
    "atoll",
    "bay",
    "beacon",
    "bollard",
    "buoy",
    "cabin",
    "canal",
    "cape",
    "cargo",
    "clipper",
    "compass",
    "cove",
    "current",
    "dinghy",
    "dock",
    "ferry",
    "fjord",
    "galley",
    "gull",
    "harbor",
    "helm",
    "inlet",
    "island",
    "jetty",
    "keel",
    "lagoon",
    "lantern",
    "lighthouse",
    "mast",
    "marina",
    "mooring",
    "narrows",
    "oar",
    "pier",
    "pilot",
    "quay",
    "reef",
    "rudder",
    "sail",
    "schooner",
    "shoal",
    "skiff",
    "sloop",
    "tide",
    "tugboat",
    "wharf",
    "yacht",
];

fn random_index(len: usize) -> std::io::Result<usize> {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok((u64::from_le_bytes(bytes) % len as u64) as usize)
}

/// A random `adjective_noun`; after `attempt` collisions, a number is appended.
pub fn generate(attempt: u32) -> std::io::Result<String> {
    let name = format!("{}_{}", ADJECTIVES[random_index(ADJECTIVES.len())?], NOUNS[random_index(NOUNS.len())?]);
    Ok(if attempt > 3 { format!("{name}{}", random_index(1000)?) } else { name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_container_names() {
        for attempt in 0..10 {
            let name = generate(attempt).unwrap();
            assert!(crate::container::config::validate_name(&name).is_ok(), "{name}");
        }
    }
}
