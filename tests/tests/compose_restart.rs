//! The reconciler keeps stacks converged after `up`: restart policies with
//! backoff, `stop` respected, containers removed behind berth's back brought
//! back, a killed daemon's containers adopted, a "reboot" bringing `always`
//! services back in order; jobs gating their dependents. Root, real daemon.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_tests::stack::Stack;
use serde_json::Value;

const SLEEPER: &str = "[sh, -c, \"trap 'exit 0' TERM; sleep 1000 & wait\"]";

fn inspect(stack: &Stack, container: &str) -> Value {
    let documents: Value = serde_json::from_str(&stack.ok(&["inspect", container])).unwrap();
    documents[0].clone()
}

fn pid(stack: &Stack, container: &str) -> i64 {
    inspect(stack, container)["State"]["Pid"].as_i64().unwrap()
}

fn running(stack: &Stack, container: &str) -> bool {
    inspect(stack, container)["State"]["Status"] == "running"
}

fn kill9(pid: i64) {
    assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
}

#[test]
fn a_killed_process_is_restarted_and_a_stopped_one_stays_stopped() {
    let stack = Stack::new("cr1", 11);
    stack.write(
        "compose.yaml",
        &format!("name: rs\nservices:\n  always:\n    image: {0}\n    command: {SLEEPER}\n    restart: always\n  onfail:\n    image: {0}\n    command: {SLEEPER}\n    restart: on-failure\n  never:\n    image: {0}\n    command: {SLEEPER}\n", stack.image),
    );
    stack.ok(&["compose", "up", "-d"]);
    // A plan printed is not a plan carried out: the stack stays looked after.
    let plan = stack.ok(&["compose", "down", "--dry-run"]);
    assert!(plan.contains("remove rs-always-1"), "{plan}");
    for name in ["rs-always-1", "rs-onfail-1", "rs-never-1"] {
        let before = pid(&stack, name);
        kill9(before);
        if name == "rs-never-1" {
            stack.wait_until("never to exit", Duration::from_secs(10), || !running(&stack, name));
            std::thread::sleep(Duration::from_secs(1));
            assert!(!running(&stack, name), "restart: no leaves it down");
        } else {
            stack.wait_until(&format!("{name} to come back"), Duration::from_secs(10), || {
                running(&stack, name) && pid(&stack, name) != before
            });
        }
    }
    stack.ok(&["compose", "stop", "always"]);
    assert!(!running(&stack, "rs-always-1"));
    std::thread::sleep(Duration::from_secs(3));
    assert!(!running(&stack, "rs-always-1"), "a stopped container stays stopped");
    stack.ok(&["compose", "start", "always"]);
    assert!(running(&stack, "rs-always-1"));
}

#[test]
fn a_crash_loop_backs_off() {
    let stack = Stack::new("cr2", 12);
    stack.write(
        "compose.yaml",
        &format!("name: loop\nservices:\n  crash:\n    image: {}\n    command: [sh, -c, 'echo crash; exit 3']\n    restart: always\n", stack.image),
    );
    stack.ok(&["compose", "up", "-d"]);
    std::thread::sleep(Duration::from_secs(4));
    let logs = stack.ok(&["compose", "logs", "--no-color"]);
    let starts = logs.lines().filter(|l| l.contains("crash")).count();
    // Back to back without backoff, the loop would run hundreds of times in
    // 4 s; with 0, 100, 200, 400, 800, 1600 ms between tries it runs 6 or 7.
    assert!((3..=9).contains(&starts), "{starts} starts in 4 s:\n{logs}");
}

#[test]
fn a_killed_daemon_leaves_containers_running_and_the_next_one_adopts_them() {
    let stack = Stack::new("cr3", 13);
    stack.write(
        "compose.yaml",
        &format!(
            "name: adopt\nservices:\n  app:\n    image: {}\n    command: {SLEEPER}\n    restart: always\n",
            stack.image
        ),
    );
    stack.ok(&["compose", "up", "-d"]);
    let daemon = stack.daemon_pid().expect("a daemon runs");
    let app = pid(&stack, "adopt-app-1");
    stack.kill_daemon();
    assert!(!Path::new(&format!("/proc/{daemon}")).exists());
    assert!(Path::new(&format!("/proc/{app}")).exists(), "the container outlives the daemon");
    // The next command starts a new daemon, which watches the container again.
    let ps = stack.ps();
    assert_eq!(ps[0]["State"], "running");
    assert_ne!(stack.daemon_pid(), Some(daemon));
    kill9(app);
    stack.wait_until("the adopted container to be restarted", Duration::from_secs(10), || {
        running(&stack, "adopt-app-1") && pid(&stack, "adopt-app-1") != app
    });
}

#[test]
fn a_container_removed_behind_berths_back_comes_back() {
    let stack = Stack::new("cr4", 14);
    stack.write(
        "compose.yaml",
        &format!("name: drift\nservices:\n  app:\n    image: {}\n    command: {SLEEPER}\n", stack.image),
    );
    stack.ok(&["compose", "up", "-d"]);
    let first = inspect(&stack, "drift-app-1")["Id"].clone();
    stack.ok(&["rm", "-f", "drift-app-1"]);
    stack.wait_until("the container to be recreated", Duration::from_secs(15), || {
        stack.ps().first().is_some_and(|c| c["State"] == "running" && c["ID"] != first)
    });
}

#[test]
fn after_a_reboot_always_services_come_back_in_dependency_order() {
    let stack = Stack::new("cr5", 15);
    stack.write(
        "compose.yaml",
        &format!("name: boot\nservices:\n  db:\n    image: {0}\n    command: {SLEEPER}\n    restart: always\n  web:\n    image: {0}\n    command: {SLEEPER}\n    restart: unless-stopped\n    depends_on: [db]\n  tool:\n    image: {0}\n    command: {SLEEPER}\n", stack.image),
    );
    stack.ok(&["compose", "up", "-d"]);
    // A reboot: the daemon, every monitor and every container process die at once.
    stack.stop_daemon();
    for name in ["boot-db-1", "boot-web-1", "boot-tool-1"] {
        let state = inspect(&stack, name)["State"].clone();
        kill9(state["Pid"].as_i64().unwrap());
        if let Some(monitor) = state.get("MonitorPid").and_then(Value::as_i64).filter(|p| *p > 0) {
            let _ = Command::new("kill").args(["-KILL", &monitor.to_string()]).status();
        }
    }
    stack.wait_until("everything to be down", Duration::from_secs(10), || {
        ["boot-db-1", "boot-web-1", "boot-tool-1"].iter().all(|n| !running(&stack, n))
    });
    // The first command starts the daemon, which brings the stack back.
    assert_eq!(stack.ps().len(), 3);
    stack.wait_until("db and web to come back", Duration::from_secs(15), || {
        running(&stack, "boot-db-1") && running(&stack, "boot-web-1")
    });
    assert!(!running(&stack, "boot-tool-1"), "restart: no stays down");
    let started = |n: &str| inspect(&stack, n)["State"]["StartedAt"].as_str().unwrap().to_string();
    assert!(started("boot-db-1") <= started("boot-web-1"), "db starts before web");
}

#[test]
fn a_job_gates_its_dependents() {
    let stack = Stack::new("cr6", 16);
    let file = |code: u8| {
        format!(
            "name: job\nservices:\n  migrate:\n    image: {0}\n    command: [sh, -c, 'sleep 1; exit {code}']\n  app:\n    image: {0}\n    command: {SLEEPER}\n    depends_on:\n      migrate: {{condition: service_completed_successfully}}\n",
            stack.image
        )
    };
    stack.write("compose.yaml", &file(0));
    stack.ok(&["compose", "up", "-d"]);
    let finished = inspect(&stack, "job-migrate-1")["State"]["FinishedAt"].as_str().unwrap().to_string();
    let started = inspect(&stack, "job-app-1")["State"]["StartedAt"].as_str().unwrap().to_string();
    assert!(finished <= started, "app started ({started}) before the job finished ({finished})");
    stack.ok(&["compose", "down"]);

    stack.write("compose.yaml", &file(3));
    let output = stack.berth(&["compose", "up", "-d"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("service migrate didn't complete successfully: exit 3"), "{stderr}");
    assert!(stack.ps().iter().all(|c| c["Service"] != "app"), "app is not created");
}
