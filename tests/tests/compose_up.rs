//! `berth compose up`/`down` end to end: a real daemon, the real registry,
//! real containers and networks (root).

use std::time::Duration;

use berth_tests::stack::Stack;
use serde_json::Value;

fn ids(ps: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = ps.iter().map(|c| c["ID"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

fn two_services(image: &str, greeting: &str) -> String {
    format!(
        "name: upd\nservices:\n  db:\n    image: {image}\n    command: [sh, -c, \"trap 'exit 0' TERM; sleep 1000 & wait\"]\n  web:\n    image: {image}\n    command: [sh, -c, \"trap 'exit 0' TERM; sleep 1000 & wait\"]\n    environment: {{GREETING: '{greeting}'}}\n    depends_on: [db]\n"
    )
}

#[test]
fn up_twice_changes_nothing_and_down_removes_everything() {
    let stack = Stack::new("cu1", 1);
    stack.write("compose.yaml", &two_services(&stack.image, "hello"));
    stack.ok(&["compose", "up", "-d"]);
    let first = stack.ps();
    assert_eq!(first.len(), 2, "{first:#?}");
    assert!(first.iter().all(|c| c["State"] == "running"), "{first:#?}");

    stack.ok(&["compose", "up", "-d"]);
    assert_eq!(ids(&stack.ps()), ids(&first), "a second up recreates nothing");

    // Changing one service's environment recreates that service only.
    stack.write("compose.yaml", &two_services(&stack.image, "changed"));
    let plan = stack.ok(&["compose", "up", "-d", "--dry-run"]);
    assert!(plan.contains("upd-web-1") && plan.contains("config hash changed"), "{plan}");
    assert!(!plan.contains("upd-db-1"), "{plan}");
    stack.ok(&["compose", "up", "-d"]);
    let after = stack.ps();
    let db = |ps: &[Value]| ps.iter().find(|c| c["Service"] == "db").unwrap()["ID"].clone();
    let web = |ps: &[Value]| ps.iter().find(|c| c["Service"] == "web").unwrap()["ID"].clone();
    assert_eq!(db(&after), db(&first));
    assert_ne!(web(&after), web(&first));
    let web_entry = after.iter().find(|c| c["Service"] == "web").unwrap();
    assert!(web_entry["CreatedBecause"].as_str().unwrap().starts_with("config hash changed"), "{web_entry}");

    stack.ok(&["compose", "down"]);
    assert!(stack.ps().is_empty());
    let networks = stack.ok(&["network", "ls"]);
    assert!(!networks.contains("upd_default"), "{networks}");
    stack.wait_until("nothing left", Duration::from_secs(5), || stack.ok(&["ps", "-aq"]).trim().is_empty());
    let removed: Vec<String> = first.iter().chain(&after).map(|c| c["ID"].as_str().unwrap().to_owned()).collect();
    assert_nothing_left(&stack, &removed);
}

/// No link of the stack's (veth or bridge of its networks) is left, nor
/// anything of its containers.
fn assert_nothing_left(stack: &Stack, ids: &[String]) {
    let links = std::process::Command::new("ip").args(["-o", "link", "show"]).output().unwrap();
    let ours: Vec<String> = String::from_utf8_lossy(&links.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        // `<prefix>0` is the default `bridge` network's, which exists as Docker's docker0 does.
        .filter(|name| name.starts_with(stack.root.prefix()) && *name != format!("{}0", stack.root.prefix()))
        .map(str::to_owned)
        .collect();
    assert!(ours.is_empty(), "links left: {ours:?}");
    stack.root.assert_no_container_leftovers(ids);
}

#[test]
fn scale_up_and_down() {
    let stack = Stack::new("cu2", 2);
    stack.write("compose.yaml", &two_services(&stack.image, "x"));
    stack.ok(&["compose", "up", "-d", "--scale", "web=3"]);
    let web = |ps: &[Value]| ps.iter().filter(|c| c["Service"] == "web").count();
    assert_eq!(web(&stack.ps()), 3);
    stack.ok(&["compose", "up", "-d", "--scale", "web=1"]);
    let ps = stack.ps();
    assert_eq!(web(&ps), 1);
    assert!(ps.iter().any(|c| c["Name"] == "upd-web-1"), "the first replica stays: {ps:#?}");
}

#[test]
fn two_projects_side_by_side_and_down_v() {
    let stack = Stack::new("cu3", 3);
    let file = |name: &str| {
        format!(
            "name: {name}\nservices:\n  app:\n    image: {0}\n    command: [sh, -c, \"echo {name} > /data/who; trap 'exit 0' TERM; sleep 1000 & wait\"]\n    volumes: ['data:/data']\nvolumes:\n  data:\n",
            stack.image
        )
    };
    stack.write("a.yaml", &file("pa"));
    stack.write("b.yaml", &file("pb"));
    stack.ok(&["compose", "-f", "a.yaml", "up", "-d"]);
    stack.ok(&["compose", "-f", "b.yaml", "up", "-d"]);
    let volumes = stack.root.root().join("volumes");
    assert!(volumes.join("pa_data").exists() && volumes.join("pb_data").exists());

    stack.ok(&["compose", "-f", "a.yaml", "down"]);
    assert!(volumes.join("pa_data").exists(), "down keeps volumes");
    stack.ok(&["compose", "-f", "a.yaml", "up", "-d"]);
    stack.ok(&["compose", "-f", "a.yaml", "down", "-v"]);
    assert!(!volumes.join("pa_data").exists(), "down -v removes the project's volumes");
    assert!(volumes.join("pb_data").exists(), "and only them");
    let b = stack.ok(&["compose", "-f", "b.yaml", "ps", "--format", "json"]);
    assert!(b.contains("pb-app-1") && b.contains("running"), "{b}");
    let networks = stack.ok(&["network", "ls"]);
    assert!(networks.contains("pb_default") && !networks.contains("pa_default"), "{networks}");
    stack.ok(&["compose", "-f", "b.yaml", "down", "-v"]);
}

#[test]
fn events_stream_as_json_lines() {
    let stack = Stack::new("cu4", 4);
    stack.write("compose.yaml", &two_services(&stack.image, "x"));
    // Start the daemon first, so the subscription exists before the stack changes.
    assert!(stack.ps().is_empty());
    let events = stack.command(&["compose", "events", "--json"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stack.ok(&["compose", "up", "-d"]);
    stack.ok(&["compose", "down"]);
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::process::Command::new("kill").arg(events.id().to_string()).status();
    let output = events.wait_with_output().unwrap();
    let lines: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let seen = |kind: &str, action: &str, id: &str| {
        lines.iter().any(|e| e["type"] == kind && e["action"] == action && e["id"] == id)
    };
    assert!(seen("network", "create", "upd_default"), "{lines:#?}");
    assert!(seen("container", "create", "upd-web-1") && seen("container", "start", "upd-web-1"), "{lines:#?}");
    assert!(seen("container", "stop", "upd-db-1") && seen("container", "destroy", "upd-db-1"), "{lines:#?}");
    assert!(lines.iter().all(|e| e["project"] == "upd"));
}

#[test]
fn services_find_each_other_by_name_and_publish_ports() {
    let stack = Stack::new("cu5", 5);
    stack.write("www/index.html", "hello from web\n");
    stack.write(
        "compose.yaml",
        &format!(
            "name: net\nservices:\n  web:\n    image: {0}\n    command: [sh, -c, \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]\n    volumes: ['./www:/www:ro']\n    ports: ['127.0.0.1::8080']\n    networks:\n      default:\n        aliases: [site]\n  client:\n    image: {0}\n    command: [sh, -c, \"sleep 1; for host in web site net-web-1; do printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc -w 3 $$host 8080 | tail -n 1; done; trap 'exit 0' TERM; sleep 1000 & wait\"]\n    depends_on: [web]\n",
            stack.image
        ),
    );
    stack.ok(&["compose", "up", "-d"]);
    let address = stack.ok(&["compose", "port", "web", "8080"]).trim().to_string();
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    let response = berth_tests::netns::http_get(address.parse().unwrap()).unwrap();
    assert!(response.contains("hello from web"), "{response}");
    stack.wait_until("the client's three fetches", Duration::from_secs(15), || {
        stack.ok(&["compose", "logs", "--no-log-prefix", "client"]).matches("hello from web").count() == 3
    });
}

#[test]
fn exec_runs_in_a_service_container() {
    let stack = Stack::new("cu6", 6);
    stack.write("compose.yaml", &two_services(&stack.image, "hello"));
    stack.ok(&["compose", "up", "-d"]);
    let output =
        stack.berth(&["compose", "exec", "-T", "-e", "EXTRA=1", "web", "sh", "-c", "echo $GREETING $EXTRA; exit 3"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello 1\n");
    assert_eq!(stack.ok(&["compose", "exec", "-T", "db", "hostname"]).trim().len(), 12, "db's own hostname");
    stack.ok(&["compose", "stop", "web"]);
    let stopped = stack.berth(&["compose", "exec", "-T", "web", "true"]);
    assert!(!stopped.status.success());
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("is not running"), "{stopped:?}");
    let unknown = stack.berth(&["compose", "exec", "-T", "nosuch", "true"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("\"nosuch\" has no container"), "{unknown:?}");
}

#[test]
fn sigterm_stops_the_daemon_even_with_a_stream_open() {
    let stack = Stack::new("cu7", 7);
    stack.write("compose.yaml", &two_services(&stack.image, "x"));
    stack.ok(&["compose", "up", "-d"]);
    let pid = stack.daemon_pid().expect("the daemon runs");
    // `events` streams until the daemon goes away: it must not hold the daemon up.
    let mut events = stack.command(&["compose", "events"]).stdout(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    stack.wait_until("the daemon to exit after SIGTERM", Duration::from_secs(6), || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    let _ = events.kill();
    let _ = events.wait();
    // The containers outlive it, and the next command starts a daemon that adopts them.
    let ps = stack.ps();
    assert!(ps.iter().all(|c| c["State"] == "running") && ps.len() == 2, "{ps:#?}");
}
