//! Healthchecks in compose stacks: `service_healthy` orders starts, a failing
//! check stops dependents and `up --wait`, health shows in `ps`, and
//! `x-berth.restart_on_unhealthy` restarts an unhealthy container. Root.

use std::time::Duration;

use berth_tests::stack::Stack;
use serde_json::Value;

fn inspect(stack: &Stack, container: &str) -> Value {
    let documents: Value = serde_json::from_str(&stack.ok(&["inspect", container])).unwrap();
    documents[0].clone()
}

/// db gets ready after `ready_after`; failures count after `start_period`.
fn stack_file(image: &str, ready_after: &str, start_period: &str) -> String {
    format!(
        "name: hc\nservices:\n  db:\n    image: {image}\n    command: [sh, -c, \"{ready_after}; trap 'exit 0' TERM; sleep 1000 & wait\"]\n    healthcheck:\n      test: [CMD-SHELL, 'test -f /tmp/ready']\n      interval: 300ms\n      start_period: {start_period}\n      start_interval: 200ms\n      retries: 2\n  web:\n    image: {image}\n    command: [sh, -c, \"trap 'exit 0' TERM; sleep 1000 & wait\"]\n    depends_on:\n      db: {{condition: service_healthy}}\n"
    )
}

#[test]
fn service_healthy_waits_for_the_dependency() {
    let stack = Stack::new("ch1", 21);
    stack.write("compose.yaml", &stack_file(&stack.image, "sleep 2; touch /tmp/ready", "10s"));
    stack.ok(&["compose", "up", "-d"]);
    let db_started = inspect(&stack, "hc-db-1")["State"]["StartedAt"].as_str().unwrap().to_string();
    let web_started = inspect(&stack, "hc-web-1")["State"]["StartedAt"].as_str().unwrap().to_string();
    let seconds = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis();
    assert!(
        seconds(&web_started) - seconds(&db_started) >= 2000,
        "web started {web_started}, db {db_started}: web must wait for db's check to pass"
    );
    let ps = stack.ps();
    let db = ps.iter().find(|c| c["Service"] == "db").unwrap();
    assert_eq!(db["Health"], "healthy", "{db}");
    assert!(db["Status"].as_str().unwrap().ends_with("(healthy)"), "{db}");
}

#[test]
fn a_failing_check_keeps_dependents_from_starting() {
    let stack = Stack::new("ch2", 22);
    stack.write("compose.yaml", &stack_file(&stack.image, "true", "0s"));
    let output = stack.berth(&["compose", "up", "-d"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("dependency failed to start: container hc-db-1 is unhealthy"), "{stderr}");
    assert!(stack.ps().iter().all(|c| c["Service"] != "web"), "web was not created");

    // `up --wait` on the unhealthy service alone fails too, and says why.
    let output = stack.berth(&["compose", "up", "-d", "--wait", "db"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("container hc-db-1 is unhealthy"), "{stderr}");
}

#[test]
fn an_unhealthy_container_is_restarted_when_asked() {
    let stack = Stack::new("ch3", 23);
    stack.write(
        "compose.yaml",
        &format!(
            "name: hc\nservices:\n  app:\n    image: {}\n    command: [sh, -c, \"touch /tmp/ok; trap 'exit 0' TERM; sleep 1000 & wait\"]\n    healthcheck:\n      test: [CMD-SHELL, 'test -f /tmp/ok']\n      interval: 300ms\n      retries: 1\n    x-berth:\n      restart_on_unhealthy: true\n",
            stack.image
        ),
    );
    stack.ok(&["compose", "up", "-d", "--wait"]);
    let pid = inspect(&stack, "hc-app-1")["State"]["Pid"].clone();
    stack.ok(&["exec", "hc-app-1", "rm", "/tmp/ok"]);
    stack.wait_until("the unhealthy container to be restarted", Duration::from_secs(15), || {
        let state = inspect(&stack, "hc-app-1")["State"].clone();
        state["Status"] == "running" && state["Pid"] != pid
    });
    stack.wait_until("it to be healthy again", Duration::from_secs(10), || {
        stack.ps().iter().any(|c| c["Health"] == "healthy")
    });
}
