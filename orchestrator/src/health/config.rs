//! The healthcheck a container runs: the compose service's `healthcheck`
//! over the image's HEALTHCHECK, field by field (Docker's merge of a
//! container's config with its image's, which compose relies on), with
//! Docker's defaults and Docker's refusals.

use std::time::Duration;

use super::error::HealthError;
use super::image::{ImageHealth, ImageHealthcheck};
use crate::compose::model::Healthcheck;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_START_PERIOD: Duration = Duration::ZERO;
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_RETRIES: u32 = 3;
/// Docker refuses shorter durations (zero still means "the default").
const MIN_DURATION: Duration = Duration::from_millis(1);
/// The shell of a `CMD-SHELL` check when the image sets no SHELL.
const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// What a probe runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthTest {
    /// `["CMD", program, args...]`: run as it is.
    Cmd(Vec<String>),
    /// `["CMD-SHELL", command]`: run by the container's shell.
    Shell { shell: Vec<String>, command: String },
}

impl HealthTest {
    /// The probe's command line inside the container.
    pub fn argv(&self) -> Vec<String> {
        match self {
            HealthTest::Cmd(argv) => argv.clone(),
            HealthTest::Shell { shell, command } => shell.iter().cloned().chain([command.clone()]).collect(),
        }
    }
}

/// A container's healthcheck with every default filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    pub test: HealthTest,
    /// Between probes once the start period is over or the container was healthy once.
    pub interval: Duration,
    /// A probe running longer is killed and counts as a failure.
    pub timeout: Duration,
    /// Failures in this time after the start do not count, until the first success.
    pub start_period: Duration,
    /// Between probes during the start period, until the first success.
    pub start_interval: Duration,
    /// Consecutive failures that make the container unhealthy (at least 1).
    pub retries: u32,
}

/// One source's settings; `None` is "not set" (Docker's zero value).
#[derive(Default)]
struct Fields {
    test: Option<(Vec<String>, String)>,
    interval: Option<Duration>,
    timeout: Option<Duration>,
    start_period: Option<Duration>,
    start_interval: Option<Duration>,
    retries: Option<u32>,
}

impl Fields {
    /// `self` over `base`: each field set here wins.
    fn over(self, base: Fields) -> Fields {
        Fields {
            test: self.test.or(base.test),
            interval: self.interval.or(base.interval),
            timeout: self.timeout.or(base.timeout),
            start_period: self.start_period.or(base.start_period),
            start_interval: self.start_interval.or(base.start_interval),
            retries: self.retries.or(base.retries),
        }
    }
}

fn compose_duration(
    key: &str,
    value: Option<crate::compose::model::Duration>,
) -> Result<Option<Duration>, HealthError> {
    match value.map(|d| d.0) {
        None => Ok(None),
        Some(Duration::ZERO) => Ok(None),
        Some(d) if d < MIN_DURATION => Err(HealthError::invalid(
            format!("healthcheck.{key}"),
            format!("{} is shorter than the minimum of 1ms", crate::compose::model::Duration(d)),
        )),
        Some(d) => Ok(Some(d)),
    }
}

fn from_compose(check: &Healthcheck) -> Result<Fields, HealthError> {
    // compose turns `disable: true` into Docker's `["NONE"]`.
    let test = if check.disable == Some(true) { Some(vec!["NONE".to_owned()]) } else { check.test.clone() };
    Ok(Fields {
        test: test.filter(|t| !t.is_empty()).map(|t| (t, "healthcheck.test".to_owned())),
        interval: compose_duration("interval", check.interval)?,
        timeout: compose_duration("timeout", check.timeout)?,
        start_period: compose_duration("start_period", check.start_period)?,
        start_interval: compose_duration("start_interval", check.start_interval)?,
        retries: check.retries.filter(|&r| r > 0),
    })
}

fn image_key(field: &str) -> String {
    format!("the image's config.Healthcheck.{field}")
}

fn image_duration(field: &str, nanos: Option<i64>) -> Result<Option<Duration>, HealthError> {
    match nanos {
        None | Some(0) => Ok(None),
        Some(n) if n < 0 => Err(HealthError::invalid(image_key(field), format!("{n} is negative"))),
        Some(n) => {
            let d = Duration::from_nanos(n as u64);
            if d < MIN_DURATION {
                return Err(HealthError::invalid(
                    image_key(field),
                    format!("{n}ns is shorter than the minimum of 1ms"),
                ));
            }
            Ok(Some(d))
        }
    }
}

fn from_image(check: &ImageHealthcheck) -> Result<Fields, HealthError> {
    let retries = match check.retries {
        None | Some(0) => None,
        Some(n) => Some(
            u32::try_from(n)
                .map_err(|_| HealthError::invalid(image_key("Retries"), format!("{n} is not a number of retries")))?,
        ),
    };
    Ok(Fields {
        test: check.test.clone().filter(|t| !t.is_empty()).map(|t| (t, image_key("Test"))),
        interval: image_duration("Interval", check.interval)?,
        timeout: image_duration("Timeout", check.timeout)?,
        start_period: image_duration("StartPeriod", check.start_period)?,
        start_interval: image_duration("StartInterval", check.start_interval)?,
        retries,
    })
}

/// The healthcheck of a container of a service with `service`'s
/// `healthcheck` (if any) from an image with `image`'s settings. `None`:
/// no healthcheck (none anywhere, `disable: true`, or `test: [NONE]`).
pub fn resolve(service: Option<&Healthcheck>, image: &ImageHealth) -> Result<Option<HealthConfig>, HealthError> {
    let image_fields = image.healthcheck.as_ref().map(from_image).transpose()?.unwrap_or_default();
    let fields = match service {
        Some(check) => from_compose(check)?.over(image_fields),
        None => image_fields,
    };
    let Some((test, key)) = fields.test else { return Ok(None) };
    let test = match test.split_first() {
        Some((kind, _)) if kind == "NONE" => return Ok(None),
        Some((kind, argv)) if kind == "CMD" && !argv.is_empty() => HealthTest::Cmd(argv.to_vec()),
        Some((kind, [command])) if kind == "CMD-SHELL" => HealthTest::Shell {
            shell: if image.shell.is_empty() {
                DEFAULT_SHELL.iter().map(|s| (*s).to_owned()).collect()
            } else {
                image.shell.clone()
            },
            command: command.clone(),
        },
        Some((kind, _)) if kind == "CMD" => return Err(HealthError::invalid(key, "CMD needs a command to run")),
        Some((kind, _)) if kind == "CMD-SHELL" => {
            return Err(HealthError::invalid(key, "CMD-SHELL takes exactly one command string"));
        }
        _ => {
            return Err(HealthError::invalid(
                key,
                format!("{test:?} does not start with CMD, CMD-SHELL or NONE; write [\"CMD-SHELL\", \"command\"]"),
            ));
        }
    };
    Ok(Some(HealthConfig {
        test,
        interval: fields.interval.unwrap_or(DEFAULT_INTERVAL),
        timeout: fields.timeout.unwrap_or(DEFAULT_TIMEOUT),
        start_period: fields.start_period.unwrap_or(DEFAULT_START_PERIOD),
        start_interval: fields.start_interval.unwrap_or(DEFAULT_START_INTERVAL),
        retries: fields.retries.unwrap_or(DEFAULT_RETRIES),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::Duration as ComposeDuration;

    fn d(text: &str) -> Option<ComposeDuration> {
        Some(ComposeDuration::parse(text).unwrap())
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn image(check: ImageHealthcheck) -> ImageHealth {
        ImageHealth { healthcheck: Some(check), shell: Vec::new() }
    }

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn compose_alone_gets_dockers_defaults() {
        let check = Healthcheck { test: Some(strings(&["CMD", "pg_isready", "-q"])), ..Default::default() };
        let config = resolve(Some(&check), &ImageHealth::default()).unwrap().unwrap();
        assert_eq!(
            config,
            HealthConfig {
                test: HealthTest::Cmd(strings(&["pg_isready", "-q"])),
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(30),
                start_period: Duration::ZERO,
                start_interval: Duration::from_secs(5),
                retries: 3,
            }
        );
        assert_eq!(config.test.argv(), ["pg_isready", "-q"]);
    }

    #[test]
    fn cmd_shell_runs_in_the_images_shell_or_bin_sh() {
        let check = Healthcheck { test: Some(strings(&["CMD-SHELL", "curl -f x || exit 1"])), ..Default::default() };
        let config = resolve(Some(&check), &ImageHealth::default()).unwrap().unwrap();
        assert_eq!(config.test.argv(), ["/bin/sh", "-c", "curl -f x || exit 1"]);
        let bash = ImageHealth { healthcheck: None, shell: strings(&["/bin/bash", "-eu", "-c"]) };
        let config = resolve(Some(&check), &bash).unwrap().unwrap();
        assert_eq!(config.test.argv(), ["/bin/bash", "-eu", "-c", "curl -f x || exit 1"]);
    }

    #[test]
    fn compose_settings_are_taken_as_given() {
        let check = Healthcheck {
            test: Some(strings(&["CMD", "true"])),
            interval: d("1m30s"),
            timeout: d("10s"),
            start_period: d("40s"),
            start_interval: d("500ms"),
            retries: Some(7),
            disable: Some(false),
        };
        let config = resolve(Some(&check), &ImageHealth::default()).unwrap().unwrap();
        assert_eq!(config.interval, Duration::from_secs(90));
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.start_period, Duration::from_secs(40));
        assert_eq!(config.start_interval, Duration::from_millis(500));
        assert_eq!(config.retries, 7);
    }

    #[test]
    fn the_images_healthcheck_is_used_when_the_service_has_none() {
        let from_image = image(ImageHealthcheck {
            test: Some(strings(&["CMD-SHELL", "wget -q -O- localhost"])),
            interval: Some(2 * SECOND),
            timeout: Some(SECOND),
            start_period: Some(10 * SECOND),
            start_interval: Some(SECOND / 10),
            retries: Some(5),
        });
        let config = resolve(None, &from_image).unwrap().unwrap();
        assert_eq!(config.test.argv(), ["/bin/sh", "-c", "wget -q -O- localhost"]);
        assert_eq!(config.interval, Duration::from_secs(2));
        assert_eq!(config.timeout, Duration::from_secs(1));
        assert_eq!(config.start_period, Duration::from_secs(10));
        assert_eq!(config.start_interval, Duration::from_millis(100));
        assert_eq!(config.retries, 5);
        // An image without one: no healthcheck at all.
        assert_eq!(resolve(None, &ImageHealth::default()).unwrap(), None);
    }

    #[test]
    fn the_service_overrides_the_image_field_by_field() {
        let from_image = image(ImageHealthcheck {
            test: Some(strings(&["CMD", "check"])),
            interval: Some(2 * SECOND),
            timeout: Some(SECOND),
            retries: Some(5),
            ..Default::default()
        });
        // Only the interval and retries: the test and timeout stay the image's.
        let check = Healthcheck { interval: d("10s"), retries: Some(1), ..Default::default() };
        let config = resolve(Some(&check), &from_image).unwrap().unwrap();
        assert_eq!(config.test, HealthTest::Cmd(strings(&["check"])));
        assert_eq!(config.interval, Duration::from_secs(10));
        assert_eq!(config.timeout, Duration::from_secs(1));
        assert_eq!(config.retries, 1);
        assert_eq!(config.start_interval, DEFAULT_START_INTERVAL, "set nowhere: Docker's default");
        // Zero is "not set", as in Docker's merge: the image's value stays.
        let zeros = Healthcheck { interval: d("0s"), retries: Some(0), test: Some(vec![]), ..Default::default() };
        let config = resolve(Some(&zeros), &from_image).unwrap().unwrap();
        assert_eq!((config.interval, config.retries), (Duration::from_secs(2), 5));
        assert_eq!(config.test, HealthTest::Cmd(strings(&["check"])));
        // A test of the service replaces the image's.
        let test = Healthcheck { test: Some(strings(&["CMD-SHELL", "mine"])), ..Default::default() };
        assert_eq!(resolve(Some(&test), &from_image).unwrap().unwrap().test.argv(), ["/bin/sh", "-c", "mine"]);
    }

    #[test]
    fn disable_and_none_turn_the_check_off() {
        let from_image = image(ImageHealthcheck { test: Some(strings(&["CMD", "check"])), ..Default::default() });
        let disabled = Healthcheck { disable: Some(true), test: Some(strings(&["CMD", "x"])), ..Default::default() };
        assert_eq!(resolve(Some(&disabled), &from_image).unwrap(), None);
        let none = Healthcheck { test: Some(strings(&["NONE"])), ..Default::default() };
        assert_eq!(resolve(Some(&none), &from_image).unwrap(), None);
        let image_none = image(ImageHealthcheck { test: Some(strings(&["NONE"])), ..Default::default() });
        assert_eq!(resolve(None, &image_none).unwrap(), None);
        // Settings without a test anywhere: nothing to run.
        let no_test = Healthcheck { interval: d("5s"), ..Default::default() };
        assert_eq!(resolve(Some(&no_test), &ImageHealth::default()).unwrap(), None);
    }

    #[test]
    fn bad_settings_are_refused_naming_the_key() {
        let message = |check: Healthcheck, image: &ImageHealth| resolve(Some(&check), image).unwrap_err().to_string();
        let none = ImageHealth::default();
        let cmd = |items: &[&str]| Healthcheck { test: Some(strings(items)), ..Default::default() };
        assert_eq!(message(cmd(&["CMD"]), &none), "healthcheck.test: CMD needs a command to run");
        assert_eq!(
            message(cmd(&["CMD-SHELL", "a", "b"]), &none),
            "healthcheck.test: CMD-SHELL takes exactly one command string"
        );
        assert!(message(cmd(&["curl", "x"]), &none).starts_with("healthcheck.test: [\"curl\", \"x\"] does not start"));
        let short = Healthcheck { interval: d("500us"), ..cmd(&["CMD", "true"]) };
        assert_eq!(message(short, &none), "healthcheck.interval: 500µs is shorter than the minimum of 1ms");
        let short = Healthcheck { start_interval: d("10ns"), ..cmd(&["CMD", "true"]) };
        assert!(message(short, &none).starts_with("healthcheck.start_interval: "));

        let bad_image = |check: ImageHealthcheck| resolve(None, &image(check)).unwrap_err().to_string();
        let test = Some(strings(&["CMD", "true"]));
        assert_eq!(
            bad_image(ImageHealthcheck { test: test.clone(), timeout: Some(-1), ..Default::default() }),
            "the image's config.Healthcheck.Timeout: -1 is negative"
        );
        assert_eq!(
            bad_image(ImageHealthcheck { test: test.clone(), retries: Some(-2), ..Default::default() }),
            "the image's config.Healthcheck.Retries: -2 is not a number of retries"
        );
        assert_eq!(
            bad_image(ImageHealthcheck { test: test.clone(), interval: Some(999), ..Default::default() }),
            "the image's config.Healthcheck.Interval: 999ns is shorter than the minimum of 1ms"
        );
        assert!(
            bad_image(ImageHealthcheck { test: Some(strings(&["SHELL", "x"])), ..Default::default() })
                .starts_with("the image's config.Healthcheck.Test: ")
        );
    }
}
