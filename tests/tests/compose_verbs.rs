//! `berth compose top`, `pause`/`unpause` (and `berth pause`/`unpause`) and
//! `down --rmi` end to end. Root, real daemon, real freezer cgroup.

use std::process::Command;
use std::time::Duration;

use berth_tests::stack::Stack;
use serde_json::Value;

const SLEEPER: &str = "[sh, -c, \"trap 'exit 0' TERM; sleep 1000 & wait\"]";

fn entry(stack: &Stack, name: &str) -> Value {
    let ps = stack.ps();
    ps.iter().find(|c| c["Name"] == name).cloned().unwrap_or_else(|| panic!("no {name}: {ps:#?}"))
}

#[test]
fn top_lists_each_containers_processes() {
    let stack = Stack::new("cv1", 51);
    stack.write(
        "compose.yaml",
        &format!("name: topp\nservices:\n  web:\n    image: {0}\n    command: {SLEEPER}\n  db:\n    image: {0}\n    command: {SLEEPER}\n", stack.image),
    );
    stack.ok(&["compose", "up", "-d"]);
    // Each shell forks its sleep (a copy of the shell until it execs).
    let sleeps = |top: &str| top.lines().filter(|l| l.ends_with("   sleep 1000")).count();
    stack.wait_until("a sleep in each container", Duration::from_secs(10), || {
        sleeps(&stack.ok(&["compose", "top"])) == 2
    });
    let top = stack.ok(&["compose", "top"]);
    let lines: Vec<&str> = top.lines().collect();
    assert_eq!(lines[0], "topp-db-1", "{top}");
    assert!(lines[1].starts_with("UID") && lines[1].contains("PID") && lines[1].ends_with("CMD"), "{top}");
    assert!(top.contains("\ntopp-web-1\n"), "{top}");
    assert_eq!(top.lines().filter(|l| l.ends_with("; sleep 1000 & wait")).count(), 2, "{top}");
    let web = stack.ok(&["compose", "top", "web"]);
    assert!(web.starts_with("topp-web-1\n") && !web.contains("topp-db-1"), "{web}");
}

/// The counter the service writes every 100 ms into the project directory.
fn count(stack: &Stack) -> u64 {
    std::fs::read_to_string(stack.dir().join("data/count")).unwrap_or_default().trim().parse().unwrap_or(0)
}

#[test]
fn pause_freezes_the_processes_and_the_daemon_leaves_them_paused() {
    let stack = Stack::new("cv2", 52);
    std::fs::create_dir_all(stack.dir().join("data")).unwrap();
    stack.write(
        "compose.yaml",
        &format!(
            "name: frz\nservices:\n  counter:\n    image: {0}\n    command: [sh, -c, \"trap 'exit 0' TERM; (i=0; while true; do i=$$((i+1)); echo $$i > /data/count.new; mv /data/count.new /data/count; sleep 0.1; done) & wait\"]\n    volumes: ['./data:/data']\n    restart: always\n    healthcheck:\n      test: [CMD, test, -f, /data/count]\n      interval: 300ms\n      start_interval: 200ms\n  other:\n    image: {0}\n    command: {SLEEPER}\n    restart: always\n",
            stack.image
        ),
    );
    stack.ok(&["compose", "up", "-d", "--wait"]);
    stack.wait_until("the counter to count", Duration::from_secs(10), || count(&stack) > 2);
    let id = entry(&stack, "frz-counter-1")["ID"].as_str().unwrap().to_string();

    stack.ok(&["compose", "pause", "counter"]);
    let paused = entry(&stack, "frz-counter-1");
    assert_eq!(paused["State"], "paused", "{paused}");
    assert!(paused["Status"].as_str().unwrap().ends_with("(Paused)"), "{paused}");
    let state = &stack.inspect("frz-counter-1")["State"];
    assert_eq!((state["Paused"].as_bool(), state["Running"].as_bool()), (Some(true), Some(true)), "{state}");
    let frozen = count(&stack);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(count(&stack), frozen, "the counter does not advance while paused");

    let exec = stack.berth(&["exec", "frz-counter-1", "true"]);
    assert!(!exec.status.success());
    assert!(String::from_utf8_lossy(&exec.stderr).contains("is paused, unpause the container before exec"), "{exec:?}");

    // A reconcile pass (bringing `other` back after a crash) and a new daemon leave it paused.
    let other = stack.inspect("frz-other-1")["State"]["Pid"].as_i64().unwrap();
    assert!(Command::new("kill").args(["-KILL", &other.to_string()]).status().unwrap().success());
    stack.wait_until("frz-other-1 to come back", Duration::from_secs(10), || {
        let state = &stack.inspect("frz-other-1")["State"];
        state["Status"] == "running" && state["Pid"].as_i64() != Some(other)
    });
    stack.stop_daemon();
    let paused = entry(&stack, "frz-counter-1");
    assert_eq!((paused["ID"].as_str(), paused["State"].as_str()), (Some(id.as_str()), Some("paused")), "{paused}");
    assert_ne!(paused["Health"], "unhealthy", "{paused}");
    assert_eq!(count(&stack), frozen);

    assert_eq!(stack.ok(&["unpause", "frz-counter-1"]).trim(), "frz-counter-1");
    stack.wait_until("the counter to count again", Duration::from_secs(10), || count(&stack) > frozen);
    assert_eq!(entry(&stack, "frz-counter-1")["State"], "running");

    // berth pause, twice; compose unpause.
    stack.ok(&["pause", "frz-counter-1"]);
    let again = stack.berth(&["pause", "frz-counter-1"]);
    assert!(
        !again.status.success() && String::from_utf8_lossy(&again.stderr).contains("is already paused"),
        "{again:?}"
    );
    stack.ok(&["compose", "unpause"]);
    assert_eq!(entry(&stack, "frz-counter-1")["State"], "running");

    // A paused container stops as a running one does (its stop signal reaches it).
    stack.ok(&["compose", "pause"]);
    stack.ok(&["compose", "stop", "counter"]);
    let stopped = entry(&stack, "frz-counter-1");
    assert_eq!((stopped["State"].as_str(), stopped["ExitCode"].as_i64()), (Some("exited"), Some(0)), "{stopped}");
    assert_eq!(entry(&stack, "frz-other-1")["State"], "paused");
    stack.ok(&["compose", "down"]);
    stack.wait_until("nothing left", Duration::from_secs(5), || stack.ok(&["ps", "-aq"]).trim().is_empty());
}

#[test]
fn down_rmi_removes_the_services_images() {
    let stack = Stack::new("cv3", 53);
    stack.write(
        "compose.yaml",
        &format!(
            "name: rmi\nservices:\n  tagged:\n    image: {0}\n    command: {SLEEPER}\n  built:\n    build: .\n    command: {SLEEPER}\n",
            stack.image
        ),
    );
    let images = || stack.ok(&["images"]);
    let registry_repo = stack.image.rsplit_once(':').unwrap().0.to_string();
    let up = || {
        stack.ok(&["pull", &stack.image]);
        // What a build would have made: compose names it <project>-<service>.
        stack.ok(&["tag", &stack.image, "rmi-built"]);
        stack.ok(&["compose", "up", "-d"]);
    };

    up();
    stack.ok(&["compose", "down", "--rmi", "local"]);
    let listed = images();
    assert!(!listed.contains("rmi-built") && listed.contains(&registry_repo), "local keeps tagged images:\n{listed}");

    // An image another container uses is reported and kept; down goes on.
    up();
    stack.ok(&["create", "--name", "keeper", &stack.image]);
    let down = stack.berth(&["compose", "down", "--rmi", "all"]);
    assert!(down.status.success(), "{down:?}");
    assert!(String::from_utf8_lossy(&down.stderr).contains("Resource is still in use"), "{down:?}");
    // Of its two names, the one removed last was refused: the image stays for keeper.
    let listed = images();
    assert!(listed.contains("rmi-built") != listed.contains(&registry_repo), "{listed}");
    assert_eq!(stack.ok(&["ps", "-aq"]).lines().count(), 1, "only keeper is left");

    stack.ok(&["rm", "keeper"]);
    up();
    stack.ok(&["compose", "down", "--rmi", "all"]);
    let listed = images();
    assert!(!listed.contains("rmi-built") && !listed.contains(&registry_repo), "all: every service's image:\n{listed}");
}
