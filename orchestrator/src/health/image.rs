//! The image's HEALTHCHECK (and SHELL, which runs a `CMD-SHELL` check), read
//! from the raw config blob: `Healthcheck` is Docker's extension of the image
//! config, which oci-spec's `ImageConfiguration` does not keep.

use berth_runtime::image::{ContentStore, Digest, ImageStore};
use serde::Deserialize;

use super::error::HealthError;

/// `config.Healthcheck` as Docker writes it: durations in nanoseconds, zero
/// (or absent) meaning "not set".
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageHealthcheck {
    #[serde(default)]
    pub test: Option<Vec<String>>,
    #[serde(default)]
    pub interval: Option<i64>,
    #[serde(default)]
    pub timeout: Option<i64>,
    #[serde(default)]
    pub start_period: Option<i64>,
    #[serde(default)]
    pub start_interval: Option<i64>,
    #[serde(default)]
    pub retries: Option<i64>,
}

/// What an image says about health checking its containers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageHealth {
    pub healthcheck: Option<ImageHealthcheck>,
    /// `config.Shell`; empty when the image sets none (`/bin/sh -c` then).
    pub shell: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigBlob {
    #[serde(default)]
    config: Option<ContainerConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerConfig {
    #[serde(default)]
    healthcheck: Option<ImageHealthcheck>,
    #[serde(default)]
    shell: Option<Vec<String>>,
}

impl ImageHealth {
    /// Reads an image config blob (the JSON whose digest is the image ID).
    pub fn parse(config_blob: &[u8]) -> Result<ImageHealth, serde_json::Error> {
        let blob: ConfigBlob = serde_json::from_slice(config_blob)?;
        let config = blob.config.unwrap_or(ContainerConfig { healthcheck: None, shell: None });
        Ok(ImageHealth { healthcheck: config.healthcheck, shell: config.shell.unwrap_or_default() })
    }

    /// The health settings of the local image `image_id` (`sha256:...`, as a
    /// container record names its image), from its config blob, digest-checked.
    pub fn of_image(images: &ImageStore, image_id: &str) -> Result<ImageHealth, HealthError> {
        let digest: Digest = image_id.parse().map_err(berth_runtime::image::ImageError::from)?;
        let root = images.root();
        let bytes = ContentStore::new(root.content(), root.tmp()).read(&digest)?;
        ImageHealth::parse(&bytes)
            .map_err(|e| HealthError::ImageConfig { image: image_id.to_owned(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_healthcheck_and_shell_docker_writes() {
        let blob = br#"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],
            "Healthcheck":{"Test":["CMD-SHELL","curl -f localhost"],"Interval":2000000000,"Timeout":1000000000,
            "StartPeriod":5000000000,"StartInterval":100000000,"Retries":4},
            "Shell":["/bin/bash","-c"]},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let health = ImageHealth::parse(blob).unwrap();
        assert_eq!(
            health.healthcheck,
            Some(ImageHealthcheck {
                test: Some(vec!["CMD-SHELL".into(), "curl -f localhost".into()]),
                interval: Some(2_000_000_000),
                timeout: Some(1_000_000_000),
                start_period: Some(5_000_000_000),
                start_interval: Some(100_000_000),
                retries: Some(4),
            })
        );
        assert_eq!(health.shell, ["/bin/bash", "-c"]);
    }

    #[test]
    fn an_image_without_a_healthcheck_has_none() {
        for blob in [
            &br#"{"os":"linux","config":{"Cmd":["sh"]}}"#[..],
            br#"{"os":"linux"}"#,
            br#"{"os":"linux","config":null}"#,
            br#"{"os":"linux","config":{"Healthcheck":null,"Shell":null}}"#,
        ] {
            assert_eq!(ImageHealth::parse(blob).unwrap(), ImageHealth::default(), "{}", String::from_utf8_lossy(blob));
        }
        // Fields Go leaves out when zero are simply unset.
        let health = ImageHealth::parse(br#"{"config":{"Healthcheck":{"Test":["NONE"]}}}"#).unwrap();
        assert_eq!(health.healthcheck.unwrap().interval, None);
    }

    #[test]
    fn a_config_that_is_not_json_is_an_error() {
        assert!(ImageHealth::parse(b"not json").is_err());
        assert!(ImageHealth::parse(br#"{"config":{"Healthcheck":{"Interval":"30s"}}}"#).is_err());
    }
}
