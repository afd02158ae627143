//! The per-service config hash the reconciler compares to decide whether a
//! container must be recreated (DESIGN.md, "How data flows", step 2).

use sha2::{Digest, Sha256};

use super::model::Service;

/// Keys that do not change the container a service runs, as in Compose:
/// the build recipe (its result reaches the hash through the image digest),
/// the pull policy, scaling, ordering, profiles and `develop` (watch rules).
const NOT_HASHED: [&str; 6] = ["build", "pull_policy", "scale", "depends_on", "profiles", "develop"];

/// sha256 of the service's canonical JSON, hex-encoded.
pub fn service_hash(service: &Service) -> String {
    let mut json = serde_json::to_value(service).expect("the model serializes to JSON");
    if let Some(object) = json.as_object_mut() {
        for key in NOT_HASHED {
            object.remove(key);
        }
        if let Some(deploy) = object.get_mut("deploy").and_then(|d| d.as_object_mut()) {
            deploy.remove("replicas");
        }
    }
    let bytes = serde_json::to_vec(&json).expect("JSON values serialize");
    hex::encode(Sha256::digest(bytes))
}
