//! Which services an operation is about: those `up SERVICE...` names with
//! what they depend on, what the one-off container of `compose run SERVICE`
//! needs, and which services the reconciler keeps up afterwards.

use std::collections::BTreeSet;

use super::desired::DesiredProject;
use super::planner::UpOptions;

/// The services the reconciler keeps up for a project: `None` for all of them.
pub type Kept = Option<BTreeSet<String>>;

/// `services` and, unless `no_deps`, everything they depend on.
pub fn with_dependencies(desired: &DesiredProject, services: &[String], no_deps: bool) -> BTreeSet<String> {
    let mut selected: BTreeSet<String> = services.iter().cloned().collect();
    let mut queue: Vec<String> = selected.iter().cloned().collect();
    while let Some(name) = queue.pop().filter(|_| !no_deps) {
        for dep in desired.service(&name).map(|s| s.depends_on.as_slice()).unwrap_or_default() {
            if selected.insert(dep.service.clone()) {
                queue.push(dep.service.clone());
            }
        }
    }
    selected
}

/// The services an `up` plans (`None`: all). For `compose run SERVICE`, its
/// dependencies (none with `--no-deps`), not the service itself.
pub fn selected(desired: &DesiredProject, options: &UpOptions) -> Option<BTreeSet<String>> {
    match &options.run {
        Some(run) => {
            let mut needed = with_dependencies(desired, std::slice::from_ref(run), options.no_deps);
            needed.remove(run);
            Some(needed)
        }
        None if options.services.is_empty() => None,
        None => Some(with_dependencies(desired, &options.services, options.no_deps)),
    }
}

/// What the reconciler keeps up after an `up`: what it kept before (`None`
/// when the project was not up) and what this `up` brought up. An `up` of
/// some services leaves the others down, also when something happens later.
pub fn kept_after(desired: &DesiredProject, before: Option<&Kept>, options: &UpOptions) -> Kept {
    let now = selected(desired, options)?;
    match before {
        None => Some(now),
        Some(None) => None,
        Some(Some(before)) => Some(before.union(&now).cloned().collect()),
    }
}

/// Leaves only the kept services in `desired`.
pub fn keep_only(desired: &mut DesiredProject, kept: &Kept) {
    if let Some(kept) = kept {
        desired.services.retain(|service| kept.contains(&service.name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::planner_tests::desired;

    const CHAIN: &str = "name: demo
services:
  db: {image: db}
  cache: {image: cache, depends_on: [db]}
  web: {image: web, depends_on: [cache]}
  job: {image: job}
";

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn up_selects_services_with_their_dependencies() {
        let d = desired(CHAIN);
        assert_eq!(selected(&d, &UpOptions::default()), None);
        let web = UpOptions { services: vec!["web".into()], ..Default::default() };
        assert_eq!(selected(&d, &web), Some(set(&["db", "cache", "web"])));
        let no_deps = UpOptions { no_deps: true, ..web };
        assert_eq!(selected(&d, &no_deps), Some(set(&["web"])));
    }

    #[test]
    fn run_selects_what_the_one_off_needs() {
        let d = desired(CHAIN);
        let run = UpOptions { run: Some("web".into()), ..Default::default() };
        assert_eq!(selected(&d, &run), Some(set(&["db", "cache"])));
        let no_deps = UpOptions { no_deps: true, ..run };
        assert_eq!(selected(&d, &no_deps), Some(set(&[])));
    }

    #[test]
    fn kept_services_grow_with_each_up_until_all() {
        let d = desired(CHAIN);
        let run = UpOptions { run: Some("cache".into()), ..Default::default() };
        let after_run = kept_after(&d, None, &run);
        assert_eq!(after_run, Some(set(&["db"])), "the one-off's service itself is not kept up");
        let job = UpOptions { services: vec!["job".into()], ..Default::default() };
        let after_job = kept_after(&d, Some(&after_run), &job);
        assert_eq!(after_job, Some(set(&["db", "job"])));
        assert_eq!(kept_after(&d, Some(&after_job), &UpOptions::default()), None);
        assert_eq!(kept_after(&d, Some(&None), &job), None, "all stay kept");

        let mut kept = d.clone();
        keep_only(&mut kept, &after_job);
        let names: Vec<&str> = kept.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["db", "job"]);
    }
}
