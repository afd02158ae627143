//! Compose networks with IPv6 (root, a real daemon, real containers):
//! `enable_ipv6`, IPv6 `ipam.config` and `ipv6_address` give services AAAA
//! answers by service and container name, as with Docker Compose.

use berth_tests::stack::Stack;

const SLEEP: &str = "[sh, -c, \"trap 'exit 0' TERM; sleep 1000 & wait\"]";

#[test]
fn enable_ipv6_gives_aaaa_answers_by_service_name() {
    let stack = Stack::new("cv6", 35);
    let image = &stack.image;
    stack.write(
        "compose.yaml",
        &format!(
            "name: six
services:
  web:
    image: {image}
    command: {SLEEP}
    networks:
      front: {{ipv6_address: 'fd91:195:1::10'}}
      back: {{}}
  client:
    image: {image}
    command: {SLEEP}
    networks: [front, back]
networks:
  front:
    enable_ipv6: true
    ipam:
      config:
        - subnet: 10.195.50.0/24
        - subnet: fd91:195:1::/64
          gateway: fd91:195:1::fe
  back:
    enable_ipv6: true
"
        ),
    );
    stack.ok(&["compose", "up", "-d"]);
    let aaaa = |name: &str| stack.ok(&["compose", "exec", "-T", "client", "nslookup", "-type=AAAA", name]);
    let by_service = aaaa("web");
    assert!(by_service.contains("fd91:195:1::10"), "the fixed address on front: {by_service}");
    // On back (no ipam): an address of the stack's IPv6 pool, fd91:195::/48.
    assert!(
        by_service.lines().any(|l| l.starts_with("Address: fd91:195:") && !l.contains("fd91:195:1::")),
        "{by_service}"
    );
    assert!(aaaa("six-web-1").contains("fd91:195:1::10"), "by container name too");
    let a = stack.ok(&["compose", "exec", "-T", "client", "nslookup", "-type=A", "web"]);
    assert!(a.contains("Address: 10.195.50."), "A answers stay IPv4: {a}");

    let front: serde_json::Value = serde_json::from_str(&stack.ok(&["network", "inspect", "six_front"])).unwrap();
    assert_eq!(front[0]["EnableIPv6"], true);
    assert_eq!(front[0]["IPAM"]["Config"][1]["Gateway"], "fd91:195:1::fe");
    let mode = stack.ok(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", "six-web-1"]);
    assert!(mode.trim().starts_with("six_"), "a network of the project: {mode}");

    stack.ok(&["compose", "down"]);
    let networks = stack.ok(&["network", "ls"]);
    assert!(!networks.contains("six_front") && !networks.contains("six_back"), "{networks}");
}
