//! Every shipped profile parses and resolves.

use fleetdeck::config::hosts::resolve_hosts;
use fleetdeck::config::Profile;

#[test]
fn every_shipped_profile_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let profile = Profile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let hosts = resolve_hosts(&profile).unwrap_or_else(|e| panic!("{e}"));
        assert!(!hosts.is_empty(), "{}", path.display());
        n += 1;
    }
    assert!(n >= 3, "example, compose-vps and microservices");
}

#[test]
fn microservices_profile_has_three_probes_per_service() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/microservices.toml");
    let p = Profile::load(&path).unwrap();
    let orders = p.services.iter().find(|s| s.name == "orders").unwrap();
    let names: Vec<_> = orders.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["health", "ready", "live"]);
    assert!(orders.container_name.as_ref().unwrap().is_match("orders-12"));
    let compose = Profile::load(&path.with_file_name("compose-vps.toml")).unwrap();
    let db = resolve_hosts(&compose).unwrap().into_iter().find(|h| h.name == "db-1").unwrap();
    let jump = db.target.jump.as_ref().expect("db-1 goes through app-1");
    assert_eq!((jump.user.as_str(), jump.host.as_str()), ("deploy", "app-1.shop.example.com"));
}
