//! Golden tests of the planner: a compose file, what exists, and the plan as text.

use std::collections::{BTreeMap, BTreeSet};

use super::desired::DesiredProject;
use super::observed::{Health, Observed, ObservedContainer, Status};
use super::planner::{DownOptions, Mode, UpOptions, backoff, plan, plan_down};
use crate::compose::validate::dependency_graph;
use crate::compose::{LoadOptions, load};

fn desired_with(yaml: &str, scale: &[(&str, u32)]) -> DesiredProject {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), yaml).unwrap();
    let options = LoadOptions { interpolate: true, cwd: dir.path().to_path_buf(), ..Default::default() };
    let loaded = load(&options).unwrap();
    let graph = dependency_graph(&loaded.tree).unwrap();
    let images: BTreeMap<String, String> =
        loaded.project.services.keys().map(|s| (s.clone(), format!("sha256:{s}image"))).collect();
    let scale = scale.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    DesiredProject::from_project(&loaded.project, &graph, &images, &scale)
}

pub(crate) fn desired(yaml: &str) -> DesiredProject {
    desired_with(yaml, &[])
}

const STACK: &str = "name: demo
services:
  db:
    image: db
    healthcheck: {test: [CMD, check]}
    restart: always
  web:
    image: web
    depends_on:
      db: {condition: service_healthy, restart: true}
    restart: on-failure:2
  job:
    image: job
";

/// A container of `service` matching the desired config, running and healthy.
fn running(desired: &DesiredProject, service: &str, number: u32) -> ObservedContainer {
    let spec = desired.service(service).unwrap();
    ObservedContainer {
        id: format!("{service}{number}id"),
        name: desired.container_name(spec, number),
        service: service.into(),
        number,
        config_hash: spec.config_hash.clone(),
        image_id: spec.image_id.clone().unwrap(),
        status: Status::Running,
        health: spec.has_healthcheck.then_some(Health::Healthy),
        stopped_by_user: false,
        restarts: 0,
        started_at: Some(1_000),
        finished_at: None,
        oneoff: false,
    }
}

/// A `compose run` container of `service`, exited with `code`, from an older config.
fn one_off(desired: &DesiredProject, service: &str, code: i32) -> ObservedContainer {
    ObservedContainer {
        id: format!("{service}runid"),
        name: format!("demo-{service}-run-0123456789ab"),
        number: 0,
        config_hash: "an-older-hash".into(),
        status: Status::Exited { code },
        health: None,
        finished_at: Some(2_000),
        oneoff: true,
        ..running(desired, service, 1)
    }
}

fn observed(desired: &DesiredProject, containers: Vec<ObservedContainer>) -> Observed {
    Observed {
        containers,
        networks: desired.networks.iter().cloned().collect(),
        volumes: desired.volumes.iter().cloned().collect::<BTreeSet<_>>(),
    }
}

fn all_running(desired: &DesiredProject) -> Observed {
    let containers = desired.services.iter().map(|s| running(desired, &s.name, 1)).collect();
    observed(desired, containers)
}

fn up() -> Mode {
    Mode::Up(UpOptions::default())
}

fn text(plan: super::plan::Plan) -> String {
    plan.to_string()
}

#[test]
fn first_up_creates_everything_in_dependency_order() {
    let d = desired(STACK);
    assert_eq!(
        text(plan(&d, &Observed::default(), &up())),
        "\
1. create network demo_default: missing
2. create container demo-db-1 (after 1): not created yet
3. start demo-db-1 (after 2): not created yet
4. wait for db to be healthy (after 3): a dependent waits for service_healthy
5. create container demo-web-1 (after 1, 4): not created yet
6. start demo-web-1 (after 4, 5): not created yet
7. create container demo-job-1 (after 1): not created yet
8. start demo-job-1 (after 7): not created yet
"
    );
}

#[test]
fn up_twice_is_a_no_op() {
    let d = desired(STACK);
    assert_eq!(text(plan(&d, &all_running(&d), &up())), "nothing to do\n");
}

#[test]
fn a_changed_service_is_recreated_with_its_restart_true_dependents() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    o.containers[0].config_hash = "0123456789abcdef".into();
    assert_eq!(
        text(plan(&d, &o, &up())),
        format!(
            "\
1. stop demo-db-1: config hash changed (0123456789ab -> {hash})
2. remove demo-db-1 (after 1): config hash changed (0123456789ab -> {hash})
3. create container demo-db-1 (after 2): config hash changed (0123456789ab -> {hash})
4. start demo-db-1 (after 2, 3): config hash changed (0123456789ab -> {hash})
5. wait for db to be healthy (after 4): a dependent waits for service_healthy
6. restart demo-web-1 (after 5): dependency db recreated (restart: true)
",
            hash = &d.service("db").unwrap().config_hash[..12]
        )
    );
}

#[test]
fn a_new_image_recreates_and_no_recreate_keeps() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    o.containers[2].image_id = "sha256:old".into();
    assert_eq!(
        text(plan(&d, &o, &up())),
        "\
1. stop demo-job-1: image changed (jobimage)
2. remove demo-job-1 (after 1): image changed (jobimage)
3. create container demo-job-1 (after 2): image changed (jobimage)
4. start demo-job-1 (after 2, 3): image changed (jobimage)
"
    );
    let no_recreate = Mode::Up(UpOptions { no_recreate: true, ..Default::default() });
    assert_eq!(text(plan(&d, &o, &no_recreate)), "nothing to do\n");
}

#[test]
fn force_recreate_and_selected_services() {
    let d = desired(STACK);
    let o = all_running(&d);
    let mode = Mode::Up(UpOptions { force_recreate: true, services: vec!["job".into()], ..Default::default() });
    assert_eq!(
        text(plan(&d, &o, &mode)),
        "\
1. stop demo-job-1: --force-recreate
2. remove demo-job-1 (after 1): --force-recreate
3. create container demo-job-1 (after 2): --force-recreate
4. start demo-job-1 (after 2, 3): --force-recreate
"
    );
}

#[test]
fn up_with_no_deps_leaves_dependencies_alone() {
    let d = desired(STACK);
    let mode = Mode::Up(UpOptions { services: vec!["web".into()], no_deps: true, ..Default::default() });
    let o = observed(&d, vec![]);
    assert_eq!(
        text(plan(&d, &o, &mode)),
        "\
1. create container demo-web-1: not created yet
2. start demo-web-1 (after 1): not created yet
"
    );
}

#[test]
fn scale_up_and_down() {
    let d = desired_with(STACK, &[("job", 3)]);
    assert_eq!(
        text(plan(&d, &all_running(&d), &up())),
        "\
1. create container demo-job-2: scale job up to 3
2. start demo-job-2 (after 1): scale job up to 3
3. create container demo-job-3: scale job up to 3
4. start demo-job-3 (after 3): scale job up to 3
"
    );
    let d1 = desired(STACK);
    let mut o = all_running(&d1);
    o.containers.push(running(&d, "job", 2));
    assert_eq!(
        text(plan(&d1, &o, &up())),
        "\
1. stop demo-job-2: scale job down to 1
2. remove demo-job-2 (after 1): scale job down to 1
"
    );
}

#[test]
fn up_starts_stopped_containers_and_waits_for_health() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    o.containers[0].status = Status::Exited { code: 137 };
    o.containers[0].health = None;
    assert_eq!(
        text(plan(&d, &o, &up())),
        "\
1. start demo-db-1: exited with code 137
2. wait for db to be healthy (after 1): a dependent waits for service_healthy
3. restart demo-web-1 (after 2): dependency db restarted (restart: true)
"
    );
}

#[test]
fn converge_restarts_by_policy_with_backoff() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    // web: on-failure:2, crashed for the first time at t=5000.
    o.containers[1].status = Status::Exited { code: 1 };
    o.containers[1].finished_at = Some(5_000);
    assert_eq!(
        text(plan(&d, &o, &Mode::Converge { now: 5_001, daemon_start: false })),
        "1. start demo-web-1: restart policy on-failure:2, exit code 1 (restart 1)\n"
    );
    // Crashed again right away: held back 100 ms.
    o.containers[1].restarts = 1;
    o.containers[1].started_at = Some(5_002);
    o.containers[1].finished_at = Some(5_010);
    assert_eq!(
        text(plan(&d, &o, &Mode::Converge { now: 5_050, daemon_start: false })),
        "nothing to do\nplan again at 5110\n"
    );
    assert_eq!(
        text(plan(&d, &o, &Mode::Converge { now: 5_110, daemon_start: false })),
        "1. start demo-web-1: restart policy on-failure:2, exit code 1 (restart 2)\n"
    );
    // on-failure:2 gives up after two restarts; a clean exit is not a failure.
    o.containers[1].restarts = 2;
    assert_eq!(text(plan(&d, &o, &Mode::Converge { now: 99_999, daemon_start: false })), "nothing to do\n");
    o.containers[1].restarts = 0;
    o.containers[1].status = Status::Exited { code: 0 };
    assert_eq!(text(plan(&d, &o, &Mode::Converge { now: 99_999, daemon_start: false })), "nothing to do\n");
}

#[test]
fn a_long_run_resets_the_backoff() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    o.containers[0].status = Status::Exited { code: 137 };
    o.containers[0].restarts = 9;
    o.containers[0].started_at = Some(0);
    o.containers[0].finished_at = Some(60_000);
    let plan = plan(&d, &o, &Mode::Converge { now: 60_000, daemon_start: false });
    assert!(
        plan.to_string().starts_with("1. start demo-db-1: restart policy always, exit code 137 (restart 1)\n"),
        "{plan}"
    );
}

#[test]
fn converge_leaves_user_stopped_and_restart_no_containers_alone() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    o.containers[0].status = Status::Exited { code: 0 };
    o.containers[0].stopped_by_user = true;
    o.containers[2].status = Status::Exited { code: 1 };
    assert_eq!(text(plan(&d, &o, &Mode::Converge { now: 1 << 40, daemon_start: false })), "nothing to do\n");
    // When the daemon starts, `always` brings back even a stopped container (db is
    // `always`), and its `restart: true` dependent follows once it is healthy again.
    assert_eq!(
        text(plan(&d, &o, &Mode::Converge { now: 1 << 40, daemon_start: true })),
        "1. start demo-db-1: restart policy always, exit code 0 (restart 1)
2. wait for db to be healthy (after 1): a dependent waits for service_healthy
3. restart demo-web-1 (after 2): dependency db restarted (restart: true)
"
    );
}

#[test]
fn converge_recreates_a_container_removed_behind_its_back() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    o.containers.remove(2);
    assert_eq!(
        text(plan(&d, &o, &Mode::Converge { now: 1, daemon_start: false })),
        "\
1. create container demo-job-1: missing: removed outside berth
2. start demo-job-1 (after 1): missing: removed outside berth
"
    );
}

#[test]
fn after_a_reboot_everything_comes_back_in_order() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    for c in &mut o.containers {
        c.status = Status::Exited { code: 255 };
        c.health = None;
        c.finished_at = Some(10);
    }
    // job has restart: no and stays down; web (on-failure) waits for db's health.
    assert_eq!(
        text(plan(&d, &o, &Mode::Converge { now: 20, daemon_start: false })),
        "\
1. start demo-db-1: restart policy always, exit code 255 (restart 1)
2. wait for db to be healthy (after 1): a dependent waits for service_healthy
3. start demo-web-1 (after 2): restart policy on-failure:2, exit code 255 (restart 1)
"
    );
}

#[test]
fn unhealthy_containers_restart_only_when_asked() {
    let yaml =
        STACK.replace("    restart: always\n", "    restart: always\n    x-berth: {restart_on_unhealthy: true}\n");
    let d = desired(&yaml);
    let mut o = all_running(&d);
    o.containers[0].health = Some(Health::Unhealthy);
    assert_eq!(
        text(plan(&d, &o, &Mode::Converge { now: 1, daemon_start: false })),
        "\
1. restart demo-db-1: unhealthy, and x-berth.restart_on_unhealthy is set
2. wait for db to be healthy (after 1): a dependent waits for service_healthy
3. restart demo-web-1 (after 2): dependency db restarted (restart: true)
"
    );
    let d = desired(STACK);
    assert!(!plan(&d, &o, &Mode::Converge { now: 1, daemon_start: false }).to_string().contains("restart demo-db-1"));
}

#[test]
fn service_completed_successfully_waits_for_the_job() {
    let d = desired(
        "name: demo\nservices:\n  migrate: {image: m}\n  app: {image: a, depends_on: {migrate: {condition: service_completed_successfully}}}\n",
    );
    assert_eq!(
        text(plan(&d, &Observed::default(), &up())),
        "\
1. create network demo_default: missing
2. create container demo-migrate-1 (after 1): not created yet
3. start demo-migrate-1 (after 2): not created yet
4. wait for migrate to complete successfully (after 3): a dependent waits for service_completed_successfully
5. create container demo-app-1 (after 1, 4): not created yet
6. start demo-app-1 (after 4, 5): not created yet
"
    );
}

#[test]
fn orphans_are_reported_or_removed() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    let mut old = running(&d, "job", 1);
    old.service = "old".into();
    old.name = "demo-old-1".into();
    o.containers.push(old);
    assert_eq!(
        text(plan(&d, &o, &up())),
        "nothing to do\nnote: orphan container demo-old-1 (service old is not in the compose file); --remove-orphans removes it\n"
    );
    let mode = Mode::Up(UpOptions { remove_orphans: true, ..Default::default() });
    assert_eq!(
        text(plan(&d, &o, &mode)),
        "\
1. stop demo-old-1: orphan: service old is not in the compose file
2. remove demo-old-1 (after 1): orphan: service old is not in the compose file
"
    );
}

#[test]
fn down_stops_dependents_first() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    o.containers[2].status = Status::Exited { code: 0 };
    assert_eq!(
        text(plan_down(&d, &o, &DownOptions::default())),
        "\
1. remove demo-job-1: down
2. stop demo-web-1: down
3. remove demo-web-1 (after 2): down
4. stop demo-db-1 (after 2): down
5. remove demo-db-1 (after 4): down
6. remove network demo_default (after 1, 3, 5): down
"
    );
}

#[test]
fn run_brings_up_the_dependencies_and_waits_for_their_conditions() {
    let d = desired(STACK);
    let run = |no_deps| Mode::Up(UpOptions { run: Some("web".into()), no_deps, ..Default::default() });
    assert_eq!(
        text(plan(&d, &Observed::default(), &run(false))),
        "\
1. create network demo_default: missing
2. create container demo-db-1 (after 1): not created yet
3. start demo-db-1 (after 2): not created yet
4. wait for db to be healthy (after 3): a dependent waits for service_healthy
"
    );
    // --no-deps: only what every container of the project needs.
    assert_eq!(text(plan(&d, &Observed::default(), &run(true))), "1. create network demo_default: missing\n");
    // Up and healthy already: nothing to do, nothing to wait for; web's own container is not touched.
    let mut o = all_running(&d);
    o.containers[1].status = Status::Exited { code: 1 };
    assert_eq!(text(plan(&d, &o, &run(false))), "nothing to do\n");
    o.containers[0].health = Some(Health::Starting);
    assert_eq!(
        text(plan(&d, &o, &run(false))),
        "1. wait for db to be healthy: a dependent waits for service_healthy\n"
    );
}

#[test]
fn one_offs_are_never_restarted_recreated_or_orphans() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    // A crashed one-off of `web` (on-failure) and one of a service the file no longer has.
    o.containers.push(one_off(&d, "web", 1));
    let mut gone = one_off(&d, "job", 0);
    gone.service = "old".into();
    gone.name = "demo-old-run-0123456789ab".into();
    o.containers.push(gone);
    for mode in [
        up(),
        Mode::Up(UpOptions { remove_orphans: true, ..Default::default() }),
        Mode::Up(UpOptions { force_recreate: true, services: vec!["job".into()], ..Default::default() }),
        Mode::Converge { now: 1 << 40, daemon_start: true },
    ] {
        let plan = text(plan(&d, &o, &mode));
        assert!(!plan.contains("-run-"), "{mode:?}:\n{plan}");
    }
    // They do not count as replicas either: the service's own container is still missing.
    o.containers.remove(1);
    assert_eq!(
        text(plan(&d, &o, &Mode::Converge { now: 1, daemon_start: false })),
        "\
1. create container demo-web-1: missing: removed outside berth
2. start demo-web-1 (after 1): missing: removed outside berth
"
    );
}

#[test]
fn down_removes_one_offs_with_their_service() {
    let d = desired(STACK);
    let mut o = all_running(&d);
    o.containers.truncate(1);
    let mut web = one_off(&d, "web", 0);
    web.status = Status::Running;
    o.containers.push(web);
    let mut gone = one_off(&d, "job", 0);
    gone.service = "old".into();
    gone.name = "demo-old-run-0123456789ab".into();
    o.containers.push(gone);
    assert_eq!(
        text(plan_down(&d, &o, &DownOptions::default())),
        "\
1. remove demo-old-run-0123456789ab: down: one-off container
2. stop demo-web-run-0123456789ab: down: one-off container
3. remove demo-web-run-0123456789ab (after 2): down: one-off container
4. stop demo-db-1 (after 2): down
5. remove demo-db-1 (after 4): down
6. remove network demo_default (after 1, 3, 5): down
"
    );
}

#[test]
fn a_paused_container_is_left_alone() {
    let yaml =
        STACK.replace("    restart: always\n", "    restart: always\n    x-berth: {restart_on_unhealthy: true}\n");
    let d = desired(&yaml);
    let mut o = all_running(&d);
    // Paused with its last check unhealthy: no restart by policy or by health, and up keeps it.
    o.containers[0].status = Status::Paused;
    o.containers[0].health = Some(Health::Unhealthy);
    assert_eq!(text(plan(&d, &o, &Mode::Converge { now: 1 << 40, daemon_start: false })), "nothing to do\n");
    assert_eq!(text(plan(&d, &o, &up())), "nothing to do\n");
    // A changed config recreates it (the stop thaws it first).
    o.containers[0].config_hash = "0123456789abcdef".into();
    assert!(text(plan(&d, &o, &up())).starts_with("1. stop demo-db-1: config hash changed"));
    // down stops it like a running one.
    assert!(text(plan_down(&d, &o, &DownOptions::default())).contains("stop demo-db-1"));
}

#[test]
fn down_rmi_removes_images_after_the_containers() {
    let d = desired(STACK);
    let o = all_running(&d);
    let options = DownOptions { images: vec!["db".into(), "web".into()], ..Default::default() };
    assert_eq!(
        text(plan_down(&d, &o, &options)),
        "\
1. stop demo-job-1: down
2. remove demo-job-1 (after 1): down
3. stop demo-web-1: down
4. remove demo-web-1 (after 3): down
5. stop demo-db-1 (after 3): down
6. remove demo-db-1 (after 5): down
7. remove network demo_default (after 2, 4, 6): down
8. remove image db (after 2, 4, 6): down --rmi
9. remove image web (after 2, 4, 6): down --rmi
"
    );
}

#[test]
fn backoff_doubles_to_a_cap() {
    let delays: Vec<u64> = (0..12).map(backoff).collect();
    assert_eq!(delays, [0, 100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 51_200, 60_000]);
}
