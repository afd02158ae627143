//! The loader's errors, one invalid file per rule, each with the exact message
//! a user sees: file, line and column, key path, what is wrong and, where it
//! helps, what to do. A file never makes the loader panic (see compose_fuzz.rs).

use std::collections::HashMap;

use berth::compose::{LoadOptions, load};

struct Case {
    name: &'static str,
    file: &'static str,
    /// `{dir}` stands for the case's directory.
    error: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "unknown-service-key",
        file: r#"services:
  web:
    image: nginx
    enviroment:
      A: 1
"#,
        error: r#"compose.yaml:4:5: services.web.enviroment: unknown key "enviroment" (did you mean "environment"?)"#,
    },
    Case {
        name: "unknown-top-level-key",
        file: r#"servics:
  web:
    image: nginx
"#,
        error: r#"compose.yaml:1:1: servics: unknown key "servics" (did you mean "services"?)"#,
    },
    Case {
        name: "unknown-nested-key",
        file: r#"services:
  web:
    image: nginx
    healthcheck:
      test: [CMD, true]
      intervl: 5s
"#,
        error: r#"compose.yaml:6:7: services.web.healthcheck.intervl: unknown key "intervl" (did you mean "interval"?)"#,
    },
    Case {
        name: "ports-not-a-list",
        file: r#"services:
  web:
    image: nginx
    ports: "80:80"
"#,
        error: r#"compose.yaml:4:12: services.web.ports: expected a list of ports, found a string"#,
    },
    Case {
        name: "environment-wrong-type",
        file: r#"services:
  web:
    image: nginx
    environment: 5
"#,
        error: r#"compose.yaml:4:18: services.web.environment: expected a mapping or a list of KEY=VALUE strings, found an integer"#,
    },
    Case {
        name: "port-not-a-number",
        file: r#"services:
  web:
    image: nginx
    ports:
      - "80:80"
      - "8080:http"
"#,
        error: r#"compose.yaml:6:9: services.web.ports[1]: invalid port "8080:http": container port: "http" is not a port number (0-65535)"#,
    },
    Case {
        name: "port-out-of-range",
        file: r#"services:
  web:
    image: nginx
    ports: ["70000:80"]
"#,
        error: r#"compose.yaml:4:13: services.web.ports[0]: invalid port "70000:80": host port: "70000" is not a port number (0-65535)"#,
    },
    Case {
        name: "port-range-mismatch",
        file: r#"services:
  web:
    image: nginx
    ports: ["8000-8002:80-81"]
"#,
        error: r#"compose.yaml:4:13: services.web.ports[0]: invalid port "8000-8002:80-81": the host range 8000-8002 and the container range 80-81 differ in length"#,
    },
    Case {
        name: "volume-relative-target",
        file: r#"services:
  web:
    image: nginx
    volumes: ["./data:data"]
"#,
        error: r#"compose.yaml:4:15: services.web.volumes[0]: invalid volume "./data:data": the container path "data" must be absolute"#,
    },
    Case {
        name: "volume-bad-option",
        file: r#"services:
  web:
    image: nginx
    volumes: ["./data:/data:rx"]
"#,
        error: r#"compose.yaml:4:15: services.web.volumes[0]: invalid volume "./data:/data:rx": unknown or misplaced volume option "rx" (for a bind)"#,
    },
    Case {
        name: "bad-duration",
        file: r#"services:
  web:
    image: nginx
    stop_grace_period: 10 seconds
"#,
        error: r#"compose.yaml:4:24: services.web.stop_grace_period: invalid duration "10 seconds": expected a number with a unit, like 10s, 1m30s or 500ms"#,
    },
    Case {
        name: "bad-size",
        file: r#"services:
  web:
    image: nginx
    mem_limit: 12x
"#,
        error: r#"compose.yaml:4:16: services.web.mem_limit: invalid size "12x": expected a number of bytes, or a number with a unit like 512m or 1g"#,
    },
    Case {
        name: "bad-restart",
        file: r#"services:
  web:
    image: nginx
    restart: sometimes
"#,
        error: r#"compose.yaml:4:14: services.web.restart: invalid restart policy "sometimes": expected no, always, on-failure, on-failure:<max> or unless-stopped"#,
    },
    Case {
        name: "bad-condition",
        file: r#"services:
  web:
    image: nginx
    depends_on:
      db:
        condition: service_ready
  db:
    image: db
"#,
        error: r#"compose.yaml:6:20: services.web.depends_on.db.condition: invalid value "service_ready": expected one of "service_started", "service_healthy", "service_completed_successfully""#,
    },
    Case {
        name: "depends-on-unknown",
        file: r#"services:
  web:
    image: nginx
    depends_on: [db]
"#,
        error: r#"compose.yaml:4:17: services.web.depends_on: service "web" depends on undefined service "db""#,
    },
    Case {
        name: "cycle",
        file: r#"services:
  a:
    image: x
    depends_on: [b]
  b:
    image: x
    depends_on: [c]
  c:
    image: x
    depends_on: [a]
"#,
        error: r#"compose.yaml:4:17: services.a.depends_on: dependency cycle: a -> b -> c -> a"#,
    },
    Case {
        name: "self-dependency",
        file: r#"services:
  a:
    image: x
    depends_on: [a]
"#,
        error: r#"compose.yaml:4:17: services.a.depends_on: service "a" depends on itself"#,
    },
    Case {
        name: "required-variable",
        file: r#"services:
  db:
    image: postgres
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD in .env}
"#,
        error: r#"compose.yaml:5:26: services.db.environment.POSTGRES_PASSWORD: required variable DB_PASSWORD is missing a value: set DB_PASSWORD in .env"#,
    },
    Case {
        name: "bad-interpolation",
        file: r#"services:
  web:
    image: nginx:${TAG
"#,
        error: r#"compose.yaml:3:12: services.web.image: invalid interpolation format in "nginx:${TAG": a ${ is never closed; use $$ for a literal $"#,
    },
    Case {
        name: "yaml-syntax",
        file: r#"services:
  web:
    image: "nginx
"#,
        error: r#"compose.yaml:3:12: YAML syntax error: while scanning a quoted scalar, found unexpected end of stream"#,
    },
    Case {
        name: "duplicate-key",
        file: r#"services:
  web:
    image: a
  web:
    image: b
"#,
        error: r#"compose.yaml:4:3: services: key "web" is defined twice in the same mapping"#,
    },
    Case {
        name: "no-image-no-build",
        file: r#"services:
  web:
    ports: ["80"]
"#,
        error: r#"compose.yaml:2:3: services.web: service "web" has neither an image nor a build context: set `image` or `build`"#,
    },
    Case {
        name: "undeclared-network",
        file: r#"services:
  web:
    image: nginx
    networks: [front]
"#,
        error: r#"compose.yaml:4:16: services.web.networks.front: network "front" is not declared in the top-level `networks`"#,
    },
    Case {
        name: "undeclared-volume",
        file: r#"services:
  web:
    image: nginx
    volumes: ["data:/data"]
"#,
        error: r#"compose.yaml:4:15: services.web.volumes[0].source: volume "data" is not declared in the top-level `volumes`"#,
    },
    Case {
        name: "undeclared-secret",
        file: r#"services:
  web:
    image: nginx
    secrets: [token]
"#,
        error: r#"compose.yaml:4:15: services.web.secrets[0].source: secret "token" is not declared in the top-level `secrets`"#,
    },
    Case {
        name: "extends-unknown",
        file: r#"services:
  web:
    extends: base
    image: nginx
"#,
        error: r#"compose.yaml:3:14: services.web.extends: extends service "base", which is not defined"#,
    },
    Case {
        name: "extends-cycle",
        file: r#"services:
  a:
    extends: b
    image: x
  b:
    extends: a
"#,
        error: r#"compose.yaml:3:14: services.a.extends: extends cycle: a -> b -> a"#,
    },
    Case {
        name: "empty-file",
        file: r#"# nothing here
"#,
        error: r#"compose.yaml:1:1: the compose file is empty"#,
    },
    Case {
        name: "top-level-list",
        file: r#"- services
"#,
        error: r#"compose.yaml:1:1: expected a mapping at the top of the file, found a sequence"#,
    },
    Case {
        name: "healthcheck-test",
        file: r#"services:
  web:
    image: nginx
    healthcheck:
      test: [curl, -f, localhost]
"#,
        error: r#"compose.yaml:5:13: services.web.healthcheck.test: a healthcheck test list starts with CMD, CMD-SHELL or NONE, not "curl""#,
    },
    Case {
        name: "env-file-missing",
        file: r#"services:
  web:
    image: nginx
    env_file: missing.env
"#,
        error: r#"compose.yaml:4:15: services.web.env_file[0]: cannot read {dir}/missing.env: No such file or directory (os error 2)"#,
    },
    Case {
        name: "unknown-tag",
        file: r#"services:
  web:
    image: !secret nginx
"#,
        error: r#"compose.yaml:3:20: YAML syntax error: unknown YAML tag !secret (compose knows !reset and !override)"#,
    },
    Case {
        name: "two-documents",
        file: r#"services:
  web:
    image: a
---
services: {}
"#,
        error: r#"compose.yaml:4:1: YAML syntax error: a compose file holds one YAML document; found a second `---`"#,
    },
    Case {
        name: "watch-action",
        file: r#"services:
  web:
    image: nginx
    develop:
      watch:
        - path: ./src
          action: copy
"#,
        error: r#"compose.yaml:7:19: services.web.develop.watch[0].action: invalid value "copy": expected one of "sync", "rebuild", "restart", "sync+restart", "sync+exec""#,
    },
    Case {
        name: "ulimit-soft-above-hard",
        file: r#"services:
  web:
    image: nginx
    ulimits:
      nofile: {soft: 2048, hard: 1024}
"#,
        error: r#"compose.yaml:5:16: services.web.ulimits.nofile: ulimit nofile: the soft limit 2048 is above the hard limit 1024"#,
    },
    Case {
        name: "pull-policy",
        file: r#"services:
  web:
    image: nginx
    pull_policy: sometimes
"#,
        error: r#"compose.yaml:4:18: services.web.pull_policy: invalid pull_policy "sometimes": expected always, never, missing, build, daily, weekly or every_<duration>"#,
    },
    Case {
        name: "command-unclosed-quote",
        file: r#"services:
  web:
    image: nginx
    command: echo "hello
"#,
        error: r#"compose.yaml:4:14: services.web.command: cannot split "echo \"hello" into words: a quote is not closed"#,
    },
    Case {
        name: "service-not-a-mapping",
        file: r#"services:
  web: nginx
"#,
        error: r#"compose.yaml:2:8: services.web: expected a mapping, found a string"#,
    },
];

#[test]
fn every_invalid_file_gets_its_exact_error() {
    assert!(CASES.len() >= 25);
    let mut failures = Vec::new();
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), case.file).unwrap();
        let options = LoadOptions {
            interpolate: true,
            env: HashMap::from([("HOME".to_string(), "/root".to_string())]),
            cwd: dir.path().to_path_buf(),
            ..Default::default()
        };
        let expected = case.error.replace("{dir}", &dir.path().display().to_string());
        match load(&options) {
            Ok(_) => failures.push(format!("{}: loaded, expected: {expected}", case.name)),
            Err(e) if e.to_string() != expected => {
                failures.push(format!("{}:\n  expected: {expected}\n  got:      {e}", case.name))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_invalid_project_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), "services:\n  web:\n    image: nginx\n").unwrap();
    let options = LoadOptions {
        project_name: Some("My Project".into()),
        interpolate: true,
        cwd: dir.path().to_path_buf(),
        ..Default::default()
    };
    let err = load(&options).unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"My Project\" is not a valid project name (from -p): use lowercase letters, digits, dashes and underscores, starting with a letter or digit"
    );
}
