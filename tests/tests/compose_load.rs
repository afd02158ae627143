//! The loader's rules end to end, each with its own test: several `-f` files,
//! `COMPOSE_FILE`, `.env` and `--env-file`, `extends` across files, `include`,
//! profiles, the project name, and the `berth compose config` command itself.

use std::collections::HashMap;
use std::path::Path;

use berth::compose::{LoadOptions, Loaded, load, render};
use berth_tests::berth::berth_bin;
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn options(dir: &Path, files: &[&str], env: &[(&str, &str)]) -> LoadOptions {
    LoadOptions {
        files: files.iter().map(Into::into).collect(),
        interpolate: true,
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<HashMap<_, _>>(),
        cwd: dir.to_path_buf(),
        ..Default::default()
    }
}

fn json_of(loaded: &Loaded) -> Value {
    render::to_json(loaded)
}

#[test]
fn override_files_merge_in_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: web:1\n    command: [serve, --port, '80']\n    ports: ['8080:80']\n    environment: {A: base, B: base}\n    volumes: ['./data:/data']\n",
    );
    write(
        dir.path(),
        "compose.override.yaml",
        "services:\n  web:\n    image: web:2\n    command: serve --debug\n    ports: ['9090:90']\n    environment: [B=override]\n    volumes: ['./other:/data:ro']\n",
    );
    let loaded = load(&options(dir.path(), &[], &[])).unwrap();
    let web = &json_of(&loaded)["services"]["web"];
    assert_eq!(web["image"], "web:2");
    assert_eq!(web["command"], json!(["serve", "--debug"]));
    assert_eq!(web["environment"], json!({"A": "base", "B": "override"}));
    assert_eq!(web["ports"].as_array().unwrap().len(), 2);
    let volumes = web["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 1, "merged by target: {volumes:?}");
    assert_eq!(volumes[0]["source"], json!(dir.path().join("other").display().to_string()));
    assert_eq!(volumes[0]["read_only"], json!(true));
}

#[test]
fn compose_file_variable_and_explicit_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", "services:\n  a:\n    image: a\n");
    write(dir.path(), "b.yaml", "services:\n  b:\n    image: b\n");
    let loaded = load(&options(dir.path(), &[], &[("COMPOSE_FILE", "a.yaml:b.yaml")])).unwrap();
    assert_eq!(loaded.project.services.keys().collect::<Vec<_>>(), ["a", "b"]);
    let loaded = load(&options(dir.path(), &["b.yaml"], &[("COMPOSE_FILE", "a.yaml")])).unwrap();
    assert_eq!(loaded.project.services.keys().collect::<Vec<_>>(), ["b"]);
}

#[test]
fn dot_env_env_files_and_the_process_environment() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: web:${TAG}\n    environment:\n      WHO: ${WHO:-nobody}\n      FROM_SHELL:\n",
    );
    write(dir.path(), ".env", "TAG=dotenv\nWHO=dotenv\n");
    write(dir.path(), "prod.env", "TAG=prod\n");
    let web = |loaded: &Loaded| json_of(loaded)["services"]["web"].clone();

    let loaded = load(&options(dir.path(), &[], &[])).unwrap();
    assert_eq!(web(&loaded)["image"], "web:dotenv");
    assert_eq!(web(&loaded)["environment"], json!({"WHO": "dotenv", "FROM_SHELL": null}));

    let loaded = load(&options(dir.path(), &[], &[("TAG", "shell"), ("FROM_SHELL", "yes")])).unwrap();
    assert_eq!(web(&loaded)["image"], "web:shell", "the process environment wins over .env");
    assert_eq!(web(&loaded)["environment"]["FROM_SHELL"], "yes");

    let mut with_env_file = options(dir.path(), &[], &[]);
    with_env_file.env_files = vec!["prod.env".into()];
    let loaded = load(&with_env_file).unwrap();
    assert_eq!(web(&loaded)["image"], "web:prod", "--env-file replaces .env");
    assert_eq!(web(&loaded)["environment"]["WHO"], "nobody");
}

#[test]
fn unset_variables_are_reported_and_become_empty() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: web:${MISSING}\n    labels: ['a=${MISSING}', 'b=${ALSO_MISSING}']\n",
    );
    let loaded = load(&options(dir.path(), &[], &[])).unwrap();
    assert_eq!(loaded.project.services["web"].image.as_deref(), Some("web:"));
    let names: Vec<&str> = loaded.unset.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["MISSING", "ALSO_MISSING"]);
}

#[test]
fn no_interpolate_keeps_variables() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "compose.yaml", "services:\n  web:\n    image: web:${TAG:-1}\n");
    let mut raw = options(dir.path(), &[], &[]);
    raw.interpolate = false;
    assert_eq!(load(&raw).unwrap().project.services["web"].image.as_deref(), Some("web:${TAG:-1}"));
}

#[test]
fn extends_from_another_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "common/base.yaml",
        "services:\n  base:\n    image: base\n    environment: {A: '1'}\n    command: [base]\n    volumes: ['./conf:/conf']\n",
    );
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    extends:\n      file: common/base.yaml\n      service: base\n    environment: {B: '2'}\n    command: [web]\n  worker:\n    extends: web\n",
    );
    let loaded = load(&options(dir.path(), &[], &[])).unwrap();
    let out = json_of(&loaded);
    let web = &out["services"]["web"];
    assert_eq!(web["image"], "base");
    assert_eq!(web["environment"], json!({"A": "1", "B": "2"}));
    assert_eq!(web["command"], json!(["web"]));
    // Paths in the extended file are relative to that file.
    assert_eq!(web["volumes"][0]["source"], json!(dir.path().join("common/conf").display().to_string()));
    assert_eq!(out["services"]["worker"]["command"], json!(["web"]));
}

#[test]
fn include_brings_in_another_project() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "db/compose.yaml", "services:\n  db:\n    image: db:${DB_TAG}\nvolumes:\n  data: {}\n");
    write(dir.path(), "db/.env", "DB_TAG=from-included-env\n");
    write(
        dir.path(),
        "compose.yaml",
        "include: [db/compose.yaml]\nservices:\n  web:\n    image: web\n    depends_on: [db]\n",
    );
    let loaded = load(&options(dir.path(), &[], &[])).unwrap();
    assert_eq!(loaded.project.services["db"].image.as_deref(), Some("db:from-included-env"));
    assert!(loaded.project.volumes.contains_key("data"));

    write(dir.path(), "compose.yaml", "include: [db/compose.yaml]\nservices:\n  db:\n    image: mine\n");
    let err = load(&options(dir.path(), &[], &[])).unwrap_err();
    assert!(err.to_string().contains("services.db is defined both here and in the included file"), "{err}");
}

#[test]
fn profiles_and_the_services_they_pull_in() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web: {image: web}\n  debug: {image: debug, profiles: [dev], depends_on: [tools]}\n  tools: {image: tools, profiles: [tools]}\n",
    );
    let names = |env: &[(&str, &str)], flags: &[&str]| {
        let mut o = options(dir.path(), &[], env);
        o.profiles = flags.iter().map(|s| s.to_string()).collect();
        load(&o).unwrap().project.services.keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(names(&[], &[]), ["web"]);
    assert_eq!(names(&[], &["dev"]), ["web", "debug", "tools"]);
    assert_eq!(names(&[("COMPOSE_PROFILES", "tools")], &[]), ["web", "tools"]);
}

#[test]
fn project_name_from_the_file_or_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("My_App.v2");
    write(&project, "compose.yaml", "services:\n  web: {image: web}\n");
    let loaded = load(&options(&project, &[], &[])).unwrap();
    assert_eq!(loaded.project.name, "my_appv2");
    assert_eq!(loaded.project.networks["default"].name.as_deref(), Some("my_appv2_default"));
    write(&project, "compose.yaml", "name: named\nservices:\n  web: {image: web}\n");
    assert_eq!(load(&options(&project, &[], &[])).unwrap().project.name, "named");
    assert_eq!(load(&options(&project, &[], &[("COMPOSE_PROJECT_NAME", "env")])).unwrap().project.name, "env");
}

#[test]
fn config_command_prints_the_normalised_model() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "name: demo\nservices:\n  web:\n    image: web\n    ports: ['127.0.0.1:8080:80/udp']\n    x-note: kept\n  db:\n    image: db\n    profiles: [storage]\nvolumes:\n  data:\n",
    );
    let berth = |args: &[&str]| {
        let output = std::process::Command::new(berth_bin())
            .args(["compose"])
            .args(args)
            .current_dir(dir.path())
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_PROFILES")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let json: Value = serde_json::from_str(&berth(&["config", "--format", "json"])).unwrap();
    assert_eq!(
        json["services"]["web"]["ports"],
        json!([{"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080", "protocol": "udp"}])
    );
    assert_eq!(json["services"]["web"]["x-note"], "kept");
    assert_eq!(json["volumes"]["data"]["name"], "demo_data");
    assert_eq!(berth(&["config", "--services"]), "web\n");
    assert_eq!(berth(&["--profile", "storage", "config", "--services"]), "web\ndb\n");
    assert_eq!(berth(&["config", "--profiles"]), "storage\n");
    assert_eq!(berth(&["config", "--volumes"]), "data\n");
    assert_eq!(berth(&["config", "--images"]), "web\n");
    assert_eq!(berth(&["config", "-q"]), "");
    // The YAML output is itself a valid compose file that loads to the same model.
    std::fs::write(dir.path().join("round.yaml"), berth(&["config"])).unwrap();
    let again: Value = serde_json::from_str(&berth(&["-f", "round.yaml", "config", "--format", "json"])).unwrap();
    assert_eq!(again, json);
}

#[test]
fn config_hash_changes_only_with_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let hashes = |tag: &str, replicas: u32| {
        write(
            dir.path(),
            "compose.yaml",
            &format!(
                "services:\n  web:\n    image: web:{tag}\n    deploy: {{replicas: {replicas}}}\n  db:\n    image: db\n"
            ),
        );
        let loaded = load(&options(dir.path(), &[], &[])).unwrap();
        let hash = |s: &str| berth::compose::hash::service_hash(&loaded.project.services[s]);
        (hash("web"), hash("db"))
    };
    let (web1, db1) = hashes("1", 1);
    let (web2, db2) = hashes("2", 1);
    let (web3, _) = hashes("2", 3);
    assert_ne!(web1, web2, "a changed image changes the hash");
    assert_eq!(db1, db2, "an unchanged service keeps its hash");
    assert_eq!(web2, web3, "scaling does not recreate");
}
