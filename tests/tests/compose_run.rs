//! `berth compose run` end to end: one-off containers with the service's
//! config, their exit code, `--rm`, `--service-ports`/`-p`, dependencies
//! brought up first (or not, with `--no-deps`), left alone by the reconciler
//! and removed by `down`. Root, real daemon.

use std::process::Command;
use std::time::Duration;

use berth_tests::stack::Stack;
use serde_json::Value;

const SLEEPER: &str = "[sh, -c, \"trap 'exit 0' TERM; sleep 1000 & wait\"]";

fn started_ms(stack: &Stack, container: &str) -> i64 {
    let at = stack.inspect(container)["State"]["StartedAt"].as_str().unwrap().to_string();
    chrono::DateTime::parse_from_rfc3339(&at).unwrap().timestamp_millis()
}

#[test]
fn run_rm_returns_the_exit_code_and_leaves_nothing() {
    let stack = Stack::new("crn1", 41);
    stack.write(
        "compose.yaml",
        &format!(
            "name: once\nservices:\n  app:\n    image: {}\n    command: {SLEEPER}\n    environment: {{GREETING: hello}}\n    restart: always\n",
            stack.image
        ),
    );
    let output = stack.berth(&[
        "compose",
        "run",
        "--rm",
        "-e",
        "EXTRA=there",
        "app",
        "sh",
        "-c",
        "echo $GREETING $EXTRA; exit 7",
    ]);
    assert_eq!(output.status.code(), Some(7), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "hello there", "{output:?}");
    // The one-off is gone, and the service itself was never started.
    stack
        .wait_until("the one-off to be removed", Duration::from_secs(5), || stack.ok(&["ps", "-aq"]).trim().is_empty());
    stack.root.assert_no_container_leftovers(&[]);
    // A service's own command runs too; the exit code is the container's.
    let output = stack.berth(&["compose", "run", "--rm", "-T", "--entrypoint", "sh -c", "app", "exit 0"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stack.ps().is_empty(), "{:#?}", stack.ps());
}

#[test]
fn service_ports_are_published_only_when_asked() {
    let stack = Stack::new("crn2", 42);
    stack.write("www/index.html", "hello from a one-off\n");
    stack.write(
        "compose.yaml",
        &format!(
            "name: ports\nservices:\n  web:\n    image: {}\n    command: [sh, -c, \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]\n    volumes: ['./www:/www:ro']\n    ports: ['127.0.0.1::8080']\n",
            stack.image
        ),
    );
    // The page, through the container's published port 8080 (once its httpd listens).
    let served = |container: &str| {
        let address = stack.ok(&["port", container, "8080"]).trim().to_string();
        assert!(address.starts_with("127.0.0.1:"), "{address}");
        stack.wait_until(&format!("{container} to serve"), Duration::from_secs(10), || {
            berth_tests::netns::http_get(address.parse().unwrap()).is_ok_and(|r| r.contains("hello from a one-off"))
        });
    };
    let id = stack.ok(&["compose", "run", "-d", "--service-ports", "--name", "with", "web"]).trim().to_string();
    assert_eq!(id.len(), 64, "run -d prints the container's ID: {id}");
    served("with");
    stack.ok(&["compose", "run", "-d", "--name", "without", "web"]);
    assert_eq!(stack.ok(&["port", "without"]), "", "the service's ports are not published by default");
    stack.ok(&["compose", "run", "-d", "-p", "127.0.0.1::8080", "--name", "published", "web"]);
    served("published");

    let both = stack.berth(&["compose", "run", "-d", "--service-ports", "-p", "9999:8080", "web"]);
    assert!(!both.status.success(), "{both:?}");
    // Labelled as compose labels one-offs.
    let labels = &stack.inspect("with")["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.oneoff"], "True", "{labels}");
    assert_eq!(labels["com.docker.compose.project"], "ports");
    assert_eq!(labels["com.docker.compose.service"], "web");
    assert_eq!(labels["com.docker.compose.slug"].as_str().unwrap().len(), 64, "{labels}");
}

#[test]
fn run_brings_up_dependencies_unless_no_deps() {
    let stack = Stack::new("crn3", 43);
    stack.write(
        "compose.yaml",
        &format!(
            "name: deps\nservices:\n  db:\n    image: {0}\n    command: [sh, -c, \"sleep 2; touch /tmp/ready; trap 'exit 0' TERM; sleep 1000 & wait\"]\n    healthcheck:\n      test: [CMD-SHELL, 'test -f /tmp/ready']\n      interval: 300ms\n      start_period: 10s\n      start_interval: 200ms\n  app:\n    image: {0}\n    command: {SLEEPER}\n    depends_on:\n      db: {{condition: service_healthy}}\n",
            stack.image
        ),
    );
    let output = stack.berth(&["compose", "run", "--rm", "--no-deps", "app", "true"]);
    assert!(output.status.success(), "{output:?}");
    assert!(stack.ps().is_empty(), "--no-deps starts nothing else: {:#?}", stack.ps());

    stack.ok(&["compose", "run", "-d", "--name", "probe", "app"]);
    let ps = stack.ps();
    let db = ps.iter().find(|c| c["Name"] == "deps-db-1").unwrap_or_else(|| panic!("db was started: {ps:#?}"));
    assert_eq!(db["Health"], "healthy", "{db}");
    assert!(
        started_ms(&stack, "probe") - started_ms(&stack, "deps-db-1") >= 2000,
        "the one-off starts once db is healthy"
    );
    assert!(!ps.iter().any(|c| c["Name"] == "deps-app-1"), "the service itself is not started: {ps:#?}");
    // Neither later: a one-off's exit makes the reconciler look at the project again.
    stack.ok(&["compose", "run", "--rm", "app", "true"]);
    stack.ok(&["kill", "-s", "TERM", "probe"]);
    stack
        .wait_until("probe to exit", Duration::from_secs(10), || stack.inspect("probe")["State"]["Status"] == "exited");
    std::thread::sleep(Duration::from_secs(3));
    assert!(!stack.ps().iter().any(|c| c["Name"] == "deps-app-1"), "{:#?}", stack.ps());
}

#[test]
fn one_offs_are_left_alone_by_the_reconciler_and_removed_by_down() {
    let stack = Stack::new("crn4", 44);
    stack.write(
        "compose.yaml",
        &format!(
            "name: keep\nservices:\n  web:\n    image: {}\n    command: {SLEEPER}\n    restart: always\n",
            stack.image
        ),
    );
    stack.ok(&["compose", "up", "-d"]);
    stack.ok(&["compose", "run", "-d", "--name", "crashed", "web", "sh", "-c", "exit 3"]);
    assert_eq!(stack.ok(&["wait", "crashed"]).trim(), "3");
    let crashed_at = stack.inspect("crashed")["State"]["StartedAt"].clone();
    stack.ok(&["compose", "run", "-d", "--name", "long", "web"]);

    // The reconciler restarts the service's container (`restart: always`) in a
    // pass that sees the exited one-off too, and leaves that one as it is.
    let before = stack.inspect("keep-web-1")["State"]["Pid"].as_i64().unwrap();
    assert!(Command::new("kill").args(["-KILL", &before.to_string()]).status().unwrap().success());
    stack.wait_until("keep-web-1 to come back", Duration::from_secs(10), || {
        let state = &stack.inspect("keep-web-1")["State"];
        state["Status"] == "running" && state["Pid"].as_i64() != Some(before)
    });
    let crashed = stack.inspect("crashed");
    assert_eq!(crashed["State"]["Status"], "exited", "{crashed}");
    assert_eq!(crashed["State"]["StartedAt"], crashed_at, "not restarted");

    // Not orphans, not recreated by another up; listed by `ps -a` only.
    let ids = |ps: &[Value]| ps.iter().map(|c| c["ID"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let all = stack.ps();
    assert_eq!(all.len(), 3, "{all:#?}");
    let up = stack.berth(&["compose", "up", "-d"]);
    assert!(up.status.success() && !String::from_utf8_lossy(&up.stderr).contains("orphan"), "{up:?}");
    assert_eq!(ids(&stack.ps()), ids(&all), "up changes no container");
    let running: Vec<Value> = serde_json::from_str(&stack.ok(&["compose", "ps", "--format", "json"])).unwrap();
    assert_eq!(running.len(), 1, "ps without -a: the service's containers: {running:#?}");

    stack.ok(&["compose", "down"]);
    stack.wait_until("nothing left", Duration::from_secs(5), || stack.ok(&["ps", "-aq"]).trim().is_empty());
    let networks = stack.ok(&["network", "ls"]);
    assert!(!networks.contains("keep_default"), "{networks}");
}
